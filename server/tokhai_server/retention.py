"""Forgetting on schedule: stays, declarations, daily reports and the rest
of people's data older than the retention period are deleted, from the
engine's files and from the database, and the audit log records each run."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa

from tokhai_engine import StoreError

from . import audit, db
from .auth import Principal, Role
from .risk import RECENT as RISK_DAYS
from .state import State

JOB = Principal(0, "retention job", Role.ADMIN, None, None)

log = logging.getLogger("tokhai")


#: Why retention ended an order (`end_forgotten_orders`).
FORGOTTEN = "never ended: a retention period past its planned end"


def end_forgotten_orders(state: State, cutoff: int, now: int) -> int:
    """Ends the orders still in force a retention period past their planned
    end: their release was never recorded (an order is in force until a
    call ends it). Left alone, they stayed on line lists, in the counts and
    in memory, and their data was kept, for good; ended now, they are
    deleted a period later like any ended order. Returns how many."""
    o = db.quarantine_orders.c
    forgotten = o.active.is_(True) & (o.planned_end < cutoff)
    ended = 0
    while True:
        with state.db.begin() as conn:
            ids = conn.execute(sa.select(o.id).where(forgotten).limit(db.BATCH)).scalars().all()
            if not ids:
                return ended
            # An EndQuarantine meanwhile has flipped its order already: not counted twice.
            end = db.quarantine_orders.update().where(o.id.in_(ids), o.active.is_(True))
            people = conn.execute(end.values(active=False, ended_at=now, closed_at=now, end_reason=FORGOTTEN).returning(o.person_id)).scalars().all()
        for person in people:
            state.risk.ordered(person, -1)
        ended += len(people)


def run(state: State, now: int | None = None) -> dict[str, int]:
    """Deletes what is older than the retention period; returns counts by kind."""
    now = int(time.time()) if now is None else now
    cutoff = now - state.settings.retention_days * 86_400
    # The database's deletions go on if the store's cannot finish (a file
    # that cannot be deleted yet): the run raises at its end.
    try:
        removed, store_failed = {"stays": state.engine.expire_before(cutoff)}, None
    except StoreError as e:
        # It may have expired stays before it failed (a file it could not
        # delete yet): how many is unknown, and the record says so.
        removed, store_failed = {}, e
    o, a = db.quarantine_orders.c, db.alerts.c
    deletions = [
        ("declarations", db.declarations, db.declarations.c.at < cutoff),
        ("health_reports", db.health_reports, db.health_reports.c.reported_at < cutoff),
        ("quarantine_orders", db.quarantine_orders, o.active.is_(False) & (o.ended_at < cutoff) & (sa.func.coalesce(o.closed_at, o.ended_at) < cutoff)),
        ("contacts", db.contacts, db.contacts.c.updated_at < cutoff),
        # Alerts once nobody is shown them (expired; retracted, after the
        # days a retried retraction is answered), and any whose window is
        # past the period, as the stays it met are. One condition a
        # deletion, each on its own index.
        ("alerts", db.alerts, a.expires_at <= now),
        ("alerts", db.alerts, a.retracted_at < now - state.settings.answers_kept_days * 86_400),
        ("alerts", db.alerts, a.end < cutoff),
        ("kept_answers", db.requests, db.requests.c.created_at < now - state.settings.answers_kept_days * 86_400),
    ]
    ended = end_forgotten_orders(state, cutoff, now)
    if ended:
        log.info("retention: ended %d quarantine orders never released, %d days past their planned end", ended, state.settings.retention_days)
    for kind, table, condition in deletions:
        removed[kind] = removed.get(kind, 0) + db.in_batches(state.db, table.delete(), condition)
    state.live_alerts.prune(now, cutoff)
    state.risk.forget_before(now - RISK_DAYS)
    state.forget_ended(now)
    # The audit log keeps who read what and why; the details (pseudonyms,
    # places) go with the data they were about.
    wiped = audit.wipe_details(state.db, cutoff)
    if state.db.dialect.name == "postgresql":
        # Deleted rows linger as dead tuples until a vacuum reclaims them.
        with state.db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("declarations", "health_reports", "quarantine_orders", "contacts", "alerts", "requests", "audit_log"):
                conn.execute(sa.text(f"VACUUM {table}"))
    failed = {} if store_failed is None else {"stays": f"unknown: {store_failed}"}
    state.audit.record(
        JOB,
        "Retention",
        f"retention period of {state.settings.retention_days} days",
        sum(removed.values()),
        removed | failed | {"orders_ended": ended, "audit_details_wiped": wiped, "before": cutoff},
    )
    if state.db.dialect.name == "sqlite":
        # The write-ahead log still holds the pages as they were before the
        # deletes: copy it into the database (where secure_delete zeroed the
        # rows) and empty it.
        with state.db.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()[0]
        if busy:
            log.warning("retention: the database was busy; its write-ahead log is emptied at the next run")
    if store_failed is not None:
        raise store_failed
    return removed
