"""The audit log: one record per call that reads personal data, chained by
hashes so that an edited, removed or reordered record breaks the chain.

    hash = SHA-256(prev_hash + canonical JSON of the record's fields)

The detail (which names pseudonyms, venues and places) is chained by its
own salted hash, `detail_hash = SHA-256(detail_salt + detail)`, not by its
text: retention wipes the details of records older than the retention
period, and their salts, and who read, what, when, why and how many people
stay in the chain. (Without the salt, the hash of a short detail, a venue
and a day, would give it away.) Records written before `detail_hash`
existed are chained by their detail, and keep it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator

import sqlalchemy as sa

from . import db
from .auth import Principal

GENESIS = "0" * 64
WIPED = db.WIPED
_FIELDS = ("at", "principal_id", "principal", "role", "action", "purpose", "people", "detail_hash")
_LEGACY_FIELDS = (*_FIELDS[:-1], "detail")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _digest(prev_hash: str, record: dict) -> str:
    fields = _FIELDS if record.get("detail_hash") is not None else _LEGACY_FIELDS
    body = json.dumps({k: record[k] for k in fields}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return _sha256(prev_hash + body)


class AuditLog:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        # The chain has one head: appends take turns (one server process).
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A transaction whose changes and audit record (`record(...,
        conn=conn)`) commit together or not at all. The chain's turn is
        taken first: a call holding a write transaction while it waits for
        the turn could wait on one that holds the turn and waits for the
        database."""
        with self._lock, self._engine.begin() as conn:
            yield conn

    def record(self, principal: Principal, action: str, purpose: str, people: int, detail: dict, conn: sa.Connection | None = None) -> None:
        """Appends a record; in `conn`, a connection of `transaction()`, if given."""
        row = {
            "at": int(time.time()),
            "principal_id": principal.id,
            "principal": principal.name,
            "role": principal.role.value,
            "action": action,
            "purpose": purpose,
            "people": people,
            "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True),
        }
        salt = secrets.token_hex(16)
        row["detail_hash"] = _sha256(salt + row["detail"])
        if conn is not None:
            self._append(conn, row, salt)
            return
        with self.transaction() as conn:
            self._append(conn, row, salt)

    @staticmethod
    def _append(conn: sa.Connection, row: dict, salt: str) -> None:
        last = conn.execute(sa.select(db.audit_log.c.hash).order_by(db.audit_log.c.seq.desc()).limit(1)).scalar()
        prev = last or GENESIS
        conn.execute(db.audit_log.insert().values(**row, detail_salt=salt, prev_hash=prev, hash=_digest(prev, row)))


def verify(engine: sa.Engine, wiped_before: int | None = None) -> Iterator[tuple[int, str]]:
    """The records that break the chain, as (seq, what is wrong); none if
    intact. With `wiped_before` (the retention period's start), a detail
    wiped on a later record is wrong too."""
    prev = GENESIS
    with engine.connect() as conn:
        rows = conn.execution_options(yield_per=10_000).execute(sa.select(db.audit_log).order_by(db.audit_log.c.seq))
        for row in rows:
            record = row._asdict()
            if record["prev_hash"] != prev:
                yield row.seq, "does not follow the record before it (one was removed or reordered)"
            elif _digest(prev, record) != record["hash"]:
                yield row.seq, "was altered (its hash does not match its fields)"
            elif record["detail_hash"] is not None and record["detail"] != WIPED and _sha256((record["detail_salt"] or "") + record["detail"]) != record["detail_hash"]:
                yield row.seq, "its detail was altered (it does not match its hash)"
            elif record["detail"] == WIPED and wiped_before is not None and record["at"] >= wiped_before:
                yield row.seq, "its detail was wiped inside the retention period"
            prev = record["hash"]


def wipe_details(engine: sa.Engine, before: int) -> int:
    """Wipes the details of the records made before `before`; returns how many."""
    wipe = db.audit_log.update().values(detail=WIPED, detail_salt=None)
    return db.in_batches(engine, wipe, db.AUDIT_UNWIPED & (db.audit_log.c.at < before))


def count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.audit_log)).scalar_one()
