"""Everything but the stays, in a relational database through SQLAlchemy:
SQLite in the data directory by default, PostgreSQL when given its URL."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa

log = logging.getLogger("tokhai")
metadata = sa.MetaData()

# SQLite numbers rows only through INTEGER PRIMARY KEY; elsewhere ids are 64-bit.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

principals = sa.Table(
    "principals",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    # Tracers of one province, venue operators' home province; NULL: national.
    sa.Column("province", sa.String(2)),
    # App backends: the SourceApp number they ingest for.
    sa.Column("app", sa.Integer),
    # Health staff: the facility name or ward code they look after.
    sa.Column("place", sa.Text),
    # Public half of the API key, to find the row; the secret half only hashed.
    sa.Column("key_id", sa.String(32), nullable=False, unique=True),
    sa.Column("key_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger),
)

venues = sa.Table(
    "venues",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Integer, nullable=False),
    sa.Column("province", sa.String(2), nullable=False, index=True),
    sa.Column("district", sa.String(3), nullable=False),
    sa.Column("ward", sa.String(5), nullable=False),
    sa.Column("street", sa.Text, nullable=False, default=""),
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    sa.Column("dwell_seconds", sa.BigInteger, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("owner_id", sa.ForeignKey("principals.id")),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("public_key", sa.LargeBinary(32), nullable=False),
    # Encrypted (AES-GCM) with the data directory's master key.
    sa.Column("private_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger),
)

# Personal data: read only by tracers, and every read is audited.
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("person_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("phone", sa.Text, nullable=False),
    # Retention deletes by it.
    sa.Column("updated_at", sa.BigInteger, nullable=False, index=True),
)

# Answers to requests with a request id, so that retries get the same answer.
requests = sa.Table(
    "requests",
    metadata,
    sa.Column("principal_id", sa.ForeignKey("principals.id"), primary_key=True),
    sa.Column("request_id", sa.String(128), primary_key=True),
    sa.Column("method", sa.String(64), nullable=False),
    # A digest of the whole request: its id, sent with another, is refused.
    # (None in rows kept before digests were.)
    sa.Column("request_digest", sa.LargeBinary),
    sa.Column("response", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False, index=True),
    # Set while a call that stores in the engine is under way (no answer yet).
    sa.Column("pending", sa.Boolean),
    # A batch of check-ins: the dwell each row's provisional end was stored
    # with (int32s, 0 for a check-out given; zlib), so that a check-out its
    # resending fills in is told from a change since.
    sa.Column("dwell", sa.LargeBinary),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", Id, primary_key=True, autoincrement=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("principal_id", sa.BigInteger, nullable=False),
    sa.Column("principal", sa.Text, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("people", sa.BigInteger, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    # Chained in place of the detail, which retention wipes with its salt
    # (audit.py): without the salt, the hash of a short detail would give
    # it away.
    sa.Column("detail_hash", sa.String(64)),
    sa.Column("detail_salt", sa.String(32)),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
)
#: An audit record's detail once wiped.
WIPED = ""
#: The audit records whose detail retention is still to wipe, indexed so
#: that its hourly run does not read the whole log. (The empty string is
#: written out in queries: a bound value could not be matched to the index.)
AUDIT_UNWIPED = audit_log.c.detail_hash.is_not(None) & (audit_log.c.detail != sa.literal(WIPED, literal_execute=True))
sa.Index("ix_audit_log_unwiped", audit_log.c.at, sqlite_where=AUDIT_UNWIPED, postgresql_where=AUDIT_UNWIPED)


# Personal health data: declarations, orders, daily reports. Kept for the
# retention period, then deleted (see retention.py).
declarations = sa.Table(
    "declarations",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("at", sa.BigInteger, nullable=False, index=True),
    sa.Column("source", sa.Integer, nullable=False),
    # Symptom numbers, comma-separated ("" for none).
    sa.Column("symptoms", sa.Text, nullable=False),
    sa.Column("case_contact", sa.Integer, nullable=False),
    sa.Column("travelled", sa.Boolean, nullable=False),
    sa.Column("underlying_conditions", sa.Boolean, nullable=False),
    sa.Column("vaccine_doses", sa.Integer, nullable=False),
    # Where the person lives ("" when not given).
    sa.Column("province", sa.String(2), nullable=False, index=True),
    sa.Column("district", sa.String(3), nullable=False),
    sa.Column("ward", sa.String(5), nullable=False),
)

quarantine_orders = sa.Table(
    "quarantine_orders",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("kind", sa.Integer, nullable=False),
    sa.Column("province", sa.String(2), nullable=False, index=True),
    sa.Column("place", sa.Text, nullable=False),
    sa.Column("start", sa.BigInteger, nullable=False),
    # Retention ends orders left in force long past it.
    sa.Column("planned_end", sa.BigInteger, nullable=False, index=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("ended_at", sa.BigInteger, index=True),
    # When the end was recorded, by the server's clock. Retention deletes by
    # the later of the two: an end recorded weeks late, or backdated, keeps
    # the order its full period. (Empty for orders ended before it existed.)
    sa.Column("closed_at", sa.BigInteger),
    sa.Column("end_reason", sa.Text),
    sa.Column("created_by", sa.BigInteger, nullable=False),
    # A line list's page: a province's people from an id on, in order.
    sa.Index("ix_quarantine_orders_province_person", "province", "person_id"),
)

health_reports = sa.Table(
    "health_reports",
    metadata,
    sa.Column("person_id", sa.BigInteger, primary_key=True, autoincrement=False),
    # Days since the Unix epoch, in Vietnam's time (UTC+7).
    sa.Column("day", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("reported_at", sa.BigInteger, nullable=False, index=True),
    sa.Column("temperature_c", sa.Float, nullable=False),
    sa.Column("spo2_percent", sa.Float, nullable=False),
    sa.Column("symptoms", sa.Text, nullable=False),
    sa.Column("breathing_difficulty", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("warning", sa.Boolean, nullable=False),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("venue_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("start", sa.BigInteger, nullable=False),
    # Retention deletes by it, by the expiry and by the retraction.
    sa.Column("end", sa.BigInteger, nullable=False, index=True),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("published_by", sa.BigInteger, nullable=False),
    sa.Column("published_at", sa.BigInteger, nullable=False, index=True),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
    sa.Column("retracted_at", sa.BigInteger, index=True),
)


safety_assessments = sa.Table(
    "safety_assessments",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("venue_id", sa.BigInteger, nullable=False, index=True),
    # Checklist items met, as a bit set in SafetyChecklist field order.
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("assessed_at", sa.BigInteger, nullable=False),
)


#: Facts about the deployment itself: which secrets its people and keys were made with.
meta = sa.Table(
    "meta",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
)


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'tokhai.db'}"


#: libpq's: seconds to connect; a dead peer found after 30 s idle and 3
#: probes 10 s apart, or when data sent stays unacknowledged for 40 s.
_POSTGRES_TIMEOUTS = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3, "tcp_user_timeout": 40_000}

#: How long a statement waits for a lock on PostgreSQL, as long as SQLite
#: waits for its database: a session left holding one (an operator's open
#: transaction) fails the calls that need it, to be retried, rather than
#: take every worker thread for as long as it holds it.
LOCK_TIMEOUT = "30s"


def connect(url: str) -> sa.Engine:
    """An engine for `url`, with the schema created if missing. Statements'
    values stay out of its errors: they are people's names and phones, and
    errors reach the log."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # noqa: ANN001 - DB-API objects
            # WAL lets readers run beside the writer. Every commit is fsynced
            # (FULL, about 0.3 ms here): with NORMAL, a power cut rolled back
            # the last commits, the declarations and contact details of
            # check-ins already acknowledged, and venues whose ids (and
            # printed codes) the next registration would then reuse. A
            # check-in without them commits nothing here.
            cursor = conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted rows (expired personal data) are overwritten, not left in free pages.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()
    else:
        # A server gone quiet (a network cut, a host down) must fail a call,
        # not hold its thread for ever: a time limit on connecting, and TCP
        # keepalives on the connections held, unless the URL says otherwise.
        parsed = sa.engine.make_url(url)
        libpq = parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2")
        quiet = {k: v for k, v in _POSTGRES_TIMEOUTS.items() if k not in parsed.query} if libpq else {}
        engine = sa.create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True, hide_parameters=True, connect_args=quiet)
        if parsed.get_backend_name() == "postgresql":

            @sa.event.listens_for(engine, "connect")
            def _lock_timeout(conn, _record):  # noqa: ANN001 - DB-API objects
                # Unless the URL, PGOPTIONS, the role or the database set one
                # (0 too: no limit). Behind a pooler that shares server
                # connections between transactions, set it on the role.
                cursor = conn.cursor()
                try:
                    cursor.execute("SELECT source FROM pg_settings WHERE name = 'lock_timeout'")
                    if cursor.fetchone() == ("default",):
                        cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
                    conn.commit()  # a SET in a transaction rolled back is undone
                except Exception:  # noqa: BLE001 - a server without the setting: as it is
                    log.warning("lock_timeout could not be set on the database's connections", exc_info=True)
                    conn.rollback()
                finally:
                    cursor.close()
    metadata.create_all(engine)
    # Columns and indexes added since a database was made: create_all passes
    # over tables that exist. (Such columns may be empty: old rows have none.)
    quote = engine.dialect.identifier_preparer.quote
    for table in metadata.sorted_tables:
        held = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in held:
                continue
            if not column.nullable:
                raise RuntimeError(f"{table.name}.{column.name}: a column added to a table that exists must allow NULL")
            try:
                with engine.begin() as conn:
                    conn.execute(sa.text(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {column.type.compile(engine.dialect)}"))
            except sa.exc.DBAPIError:
                # Another process starting at the same time added it first.
                if column.name not in {c["name"] for c in sa.inspect(engine).get_columns(table.name)}:
                    raise
        for index in table.indexes:
            index.create(engine, checkfirst=True)
    return engine


#: Rows changed in one transaction on SQLite (`in_batches`).
BATCH = 10_000


def in_batches(database: sa.Engine, change: sa.Delete | sa.Update, condition: sa.ColumnElement[bool]) -> int:
    """`change` (a DELETE, or an UPDATE after which `condition` no longer
    holds) of the rows that meet `condition`; returns how many. On SQLite,
    whose writers take turns for the whole database, BATCH rows a
    transaction: an hour's expired rows are millions at national scale
    (kept answers, declarations), and in one transaction every check-in's
    write waited for them. PostgreSQL's writers do not wait for a change
    of other rows: one statement."""
    if database.dialect.name != "sqlite":
        with database.begin() as conn:
            return conn.execute(change.where(condition)).rowcount
    table, rowid = change.table, sa.literal_column("rowid")
    statement = change.where(rowid.in_(sa.select(rowid).select_from(table).where(condition).limit(BATCH)))
    done = 0
    while True:
        with database.begin() as conn:
            n = conn.execute(statement).rowcount
        done += n
        if n < BATCH:
            return done
