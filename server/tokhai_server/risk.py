"""Who a venue should send to screening, held in memory so that a check-in's
entry advice costs no database read. The database stays the record: this is
rebuilt from it on start and kept in step by every write."""

from __future__ import annotations

import threading
from collections import Counter

import sqlalchemy as sa

from . import db

#: A declaration counts for entry advice this long.
RECENT = 14 * 86_400


def reasons_of(symptoms: str, case_contact: int, travelled: bool) -> tuple[str, ...]:
    out = []
    if symptoms:
        out.append("declared symptoms")
    if case_contact:
        out.append("declared contact with a case")
    if travelled:
        out.append("declared travel through areas with cases")
    return tuple(out)


#: A person's latest declaration: its time, and the reasons it gives.
Declared = tuple[int, tuple[str, ...]]


class Risk:
    def __init__(self, engine: sa.Engine, now: int) -> None:
        self._lock = threading.Lock()
        # Person -> (time, reasons) of their latest declaration, kept only for
        # people who declared a risk in the last 14 days; a later clean
        # declaration replaces it with no reasons.
        self._declared: dict[int, Declared] = {}
        self._orders: Counter[int] = Counter()
        d, o = db.declarations.c, db.quarantine_orders.c
        since = now - RECENT
        risky = sa.select(d.person_id).where(d.at >= since, (d.symptoms != "") | (d.case_contact != 0) | d.travelled.is_(True))
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(d.person_id, d.at, d.symptoms, d.case_contact, d.travelled).where(d.at >= since, d.person_id.in_(risky)).order_by(d.at, d.id)
            )
            for row in rows:
                self.declared(row.person_id, row.at, reasons_of(row.symptoms, row.case_contact, row.travelled))
            for person, count in conn.execute(sa.select(o.person_id, sa.func.count()).where(o.active.is_(True)).group_by(o.person_id)):
                self._orders[person] = count

    def declared(self, person: int, at: int, reasons: tuple[str, ...]) -> None:
        with self._lock:
            latest = self._declared.get(person)
            if latest is None:
                if reasons:
                    self._declared[person] = (at, reasons)
            elif at >= latest[0]:
                self._declared[person] = (at, reasons)

    def ordered(self, person: int, change: int) -> None:
        """`change` active orders more (or fewer, when negative). An order's
        end may be counted before its start (the two calls, committed in
        that order, report here in the other): the count may dip below zero
        meanwhile, and comes back to the truth."""
        with self._lock:
            self._orders[person] += change
            if self._orders[person] == 0:
                del self._orders[person]

    def reasons(self, person: int, now: int, latest: Declared | None = None) -> list[str]:
        """Why `person` is sent to screening; `latest`, their latest
        declaration as a transaction not yet committed stores it, stands in
        for the one held."""
        with self._lock:
            if latest is None:
                latest = self._declared.get(person)
            out = list(latest[1]) if latest is not None and latest[0] >= now - RECENT else []
            if self._orders.get(person, 0) > 0:
                out.append("under an active quarantine order")
        return out

    def forget_before(self, t: int) -> None:
        with self._lock:
            self._declared = {p: v for p, v in self._declared.items() if v[0] >= t}
