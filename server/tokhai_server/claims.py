"""Which people a provincial tracer may act on: those its province has a
claim on. A province may trace a case, or order someone into quarantine,
who was at one of its venues, or declared themselves there (a residence, or
a check-in at one of its venues carrying a declaration), in the window
that matters. For tracing, one of its quarantine orders is a claim too;
for ordering it is not, or a province could claim anyone by ordering
them. (A case's province_code is the caller's word; this is what the
server holds.)"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from tokhai_engine import Sites

from . import db
from .state import State


def first_unlinked(state: State, province: str, windows: dict[int, tuple[int, int]], sites: Sites | None = None, *, by_orders: bool) -> int | None:
    """The first person (by their place in `windows`, person id -> [start,
    end)) that `province` has no claim on, or None. `sites` are the
    people's exposure sites in their windows (without linger), when the
    caller has them already."""
    if sites is None:
        persons = list(windows)
        starts, ends = zip(*(windows[p] for p in persons), strict=True)
        sites = state.engine.exposure_sites(persons, starts, ends)
    venues = state.venues(sites.venue.tolist())  # held already, mostly
    mine = np.array([v for v, venue in venues.items() if venue.province == province], dtype=np.uint64)
    linked = set(sites.case[np.isin(sites.venue, mine)].tolist())
    rest = [p for p in windows if p not in linked]
    d, o = db.declarations.c, db.quarantine_orders.c
    with state.db.connect() as conn:
        for lo in range(0, len(rest), 1_000):
            some = rest[lo : lo + 1_000]
            declared = conn.execute(sa.select(d.person_id, d.at).where(d.person_id.in_(some), d.province == province))
            linked.update(p for p, at in declared if at < windows[p][1])
            if by_orders:
                ordered = conn.execute(sa.select(o.person_id, o.start, o.active, o.ended_at).where(o.person_id.in_(some), o.province == province))
                linked.update(p for p, start, active, ended in ordered if start < windows[p][1] and (active or ended > windows[p][0]))
    return next((i for i, p in enumerate(windows) if p not in linked), None)
