"""The audit log: one record per call that reads personal data, chained by
hashes so that an edited, removed or reordered record breaks the chain.

    hash = SHA-256(prev_hash + canonical JSON of the record's fields)
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator

import sqlalchemy as sa

from . import db
from .auth import Principal

GENESIS = "0" * 64
_FIELDS = ("at", "principal_id", "principal", "role", "action", "purpose", "people", "detail")


def _digest(prev_hash: str, record: dict) -> str:
    body = json.dumps({k: record[k] for k in _FIELDS}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


class AuditLog:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        # The chain has one head: appends take turns (one server process).
        self._lock = threading.Lock()

    def record(self, principal: Principal, action: str, purpose: str, people: int, detail: dict) -> None:
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
        with self._lock, self._engine.begin() as conn:
            last = conn.execute(sa.select(db.audit_log.c.hash).order_by(db.audit_log.c.seq.desc()).limit(1)).scalar()
            prev = last or GENESIS
            conn.execute(db.audit_log.insert().values(**row, prev_hash=prev, hash=_digest(prev, row)))


def verify(engine: sa.Engine) -> Iterator[tuple[int, str]]:
    """The records that break the chain, as (seq, what is wrong); none if intact."""
    prev = GENESIS
    with engine.connect() as conn:
        rows = conn.execution_options(yield_per=10_000).execute(sa.select(db.audit_log).order_by(db.audit_log.c.seq))
        for row in rows:
            record = row._asdict()
            if record["prev_hash"] != prev:
                yield row.seq, "does not follow the record before it (one was removed or reordered)"
            elif _digest(prev, record) != record["hash"]:
                yield row.seq, "was altered (its hash does not match its fields)"
            prev = record["hash"]


def count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.audit_log)).scalar_one()
