"""The engine's peers, answering the same contact queries with the same exact
rules (docs/semantics.md), so their answers can be checked against the
engine's and their speed compared on the same data in the same run.

- DuckDB: the stays in a table, contacts as one SQL join with
  gaps-and-islands to unite presence intervals.
- ncls: a nested containment list (C) over (venue, time) as the index, with
  NumPy for everything around it.
"""

from __future__ import annotations

import numpy as np

from tokhai_engine.results import ContactPairs

# Contacts of many cases, exactly as the engine defines them. `cases` is a
# table (case_id, s, e); presence intervals are united with gaps-and-islands.
_CONTACTS_SQL = """
WITH pieces AS (
    SELECT c.case_id, st.venue, greatest(st.t_in, c.s) AS a, least(st.t_out, c.e) + {linger} AS b
    FROM cases c JOIN stays st ON st.person = c.case_id AND st.t_in < c.e AND st.t_out > c.s
),
p_marked AS (
    SELECT *, CASE WHEN a <= max(b) OVER (PARTITION BY case_id, venue ORDER BY a, b
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS fresh
    FROM pieces
),
p_grouped AS (
    SELECT *, sum(fresh) OVER (PARTITION BY case_id, venue ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS g
    FROM p_marked
),
presence AS (SELECT case_id, venue, min(a) AS a, max(b) AS b FROM p_grouped GROUP BY case_id, venue, g),
hits AS (
    SELECT DISTINCT p.case_id, o.person, o.venue, o.t_in AS a, o.t_out AS b
    FROM presence p JOIN stays o ON o.venue = p.venue AND o.t_in < p.b AND o.t_out > p.a
    WHERE o.person <> p.case_id
),
q_marked AS (
    SELECT *, CASE WHEN a <= max(b) OVER (PARTITION BY case_id, person, venue ORDER BY a, b
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS fresh
    FROM hits
),
q_grouped AS (
    SELECT *, sum(fresh) OVER (PARTITION BY case_id, person, venue ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS g
    FROM q_marked
),
theirs AS (SELECT case_id, person, venue, min(a) AS a, max(b) AS b FROM q_grouped GROUP BY case_id, person, venue, g)
SELECT t.case_id, t.person,
       sum(least(p.b, t.b) - greatest(p.a, t.a))::BIGINT AS exposure,
       min(greatest(p.a, t.a)) AS first_contact
FROM presence p JOIN theirs t ON t.case_id = p.case_id AND t.venue = p.venue AND t.a < p.b AND t.b > p.a
GROUP BY t.case_id, t.person
HAVING sum(least(p.b, t.b) - greatest(p.a, t.a)) >= greatest({min_overlap}, 1)
ORDER BY t.case_id, t.person
"""


class DuckDBPeer:
    name = "DuckDB"

    def __init__(self, persons, venues, t_in, t_out, *, prefer_range_joins: bool = False):
        import duckdb
        import pyarrow as pa

        self.db = duckdb.connect()
        if prefer_range_joins:
            self.db.execute("SET prefer_range_joins = true")
        arrow = pa.table({"person": persons, "venue": venues, "t_in": t_in, "t_out": t_out})
        self.db.register("source", arrow)
        self.db.execute("CREATE TABLE stays AS SELECT * FROM source")
        self.db.unregister("source")

    def memory_bytes(self) -> int:
        return int(self.db.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()[0][0])

    def contacts_many(self, persons, starts, ends, *, min_overlap=0, linger=0) -> ContactPairs:
        import pyarrow as pa

        persons = np.asarray(persons, np.uint64)
        starts, ends = (np.broadcast_to(np.asarray(t, np.int64), persons.shape) for t in (starts, ends))
        cases = pa.table({"case_id": persons, "s": starts, "e": ends})
        self.db.register("cases", cases)
        try:
            found = self.db.execute(_CONTACTS_SQL.format(linger=int(linger), min_overlap=int(min_overlap))).fetchnumpy()
        finally:
            self.db.unregister("cases")
        return ContactPairs(*(np.asarray(column) for column in found.values()))


class NclsPeer:
    """ncls as the (venue, time) index, NumPy for presence and exposure."""

    name = "ncls"

    def __init__(self, persons, venues, t_in, t_out):
        from ncls import NCLS

        self.persons, self.t_in, self.t_out = persons, t_in, t_out
        self.venue_ids, self.venue_code = np.unique(venues, return_inverse=True)
        self.t0 = int(t_in.min()) - 1
        self.span = int(t_out.max()) - self.t0 + 1  # venues laid end to end on one axis
        keys = self.venue_code.astype(np.int64) * self.span
        self.index = NCLS(keys + (t_in - self.t0), keys + (t_out - self.t0), np.arange(len(t_in), dtype=np.int64))
        self.by_person = np.argsort(persons, kind="stable")
        self.sorted_persons = persons[self.by_person]

    def contacts_many(self, persons, starts, ends, *, min_overlap=0, linger=0) -> ContactPairs:
        cases = np.asarray(persons, np.uint64)
        starts = np.broadcast_to(np.asarray(starts, np.int64), cases.shape)
        ends = np.broadcast_to(np.asarray(ends, np.int64), cases.shape)
        # The cases' stays, clipped to their windows, extended by linger.
        lo = np.searchsorted(self.sorted_persons, cases, "left")
        counts = np.searchsorted(self.sorted_persons, cases, "right") - lo
        which = np.repeat(np.arange(len(cases)), counts)
        rows = self.by_person[np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts - lo, counts)]
        a = np.maximum(self.t_in[rows], starts[which])
        b = np.minimum(self.t_out[rows], ends[which])
        keep = a < b
        which, venue, a, b = which[keep], self.venue_code[rows[keep]], a[keep], b[keep] + linger
        # Presence: united per (case, venue).
        order, group = _group_sort((which, venue), a, b)
        which, venue = which[order], venue[order]
        pa, pb, first = _unite(group, a[order], b[order])
        p_case, p_venue = which[first], venue[first]
        # Everyone's stays meeting the presence intervals, through the index.
        key = p_venue.astype(np.int64) * self.span
        q, hit = self.index.all_overlaps_both(key + (pa - self.t0), key + (pb - self.t0), np.arange(len(pa), dtype=np.int64))
        other = self.persons[hit]
        mine = other != cases[p_case[q]]
        q, hit, other = q[mine], hit[mine], other[mine]
        ca, cb = np.maximum(self.t_in[hit], pa[q]), np.minimum(self.t_out[hit], pb[q])
        # Exposure: within each presence interval, the union of each person's clipped stays.
        order, group = _group_sort((q, other), ca, cb)
        q, other = q[order], other[order]
        ua, ub, first = _unite(group, ca[order], cb[order])
        u_case, u_person = cases[p_case[q[first]]], other[first]
        order = np.lexsort((ua, u_person, u_case))
        u_case, u_person, ua, ub = u_case[order], u_person[order], ua[order], ub[order]
        pair_starts = np.flatnonzero(np.r_[True, (u_case[1:] != u_case[:-1]) | (u_person[1:] != u_person[:-1])]) if len(ua) else np.empty(0, np.intp)
        exposure = np.add.reduceat(ub - ua, pair_starts) if len(ua) else np.empty(0, np.int64)
        keep = exposure >= max(min_overlap, 1)
        return ContactPairs(u_case[pair_starts][keep], u_person[pair_starts][keep], exposure[keep], ua[pair_starts][keep])


def _group_sort(keys, a, b):
    """The order sorting rows by (*keys, a, b), and a dense group number per sorted row."""
    order = np.lexsort((b, a, *reversed(keys)))
    change = np.zeros(len(order), dtype=bool)
    change[:1] = True
    for k in keys:
        ks = k[order]
        change[1:] |= ks[1:] != ks[:-1]
    return order, np.cumsum(change) - 1


def _unite(group, a, b):
    """United intervals per group, rows sorted by (group, a): their starts,
    ends, and the row each begins at. Touching intervals merge."""
    if len(a) == 0:
        return a, b, np.empty(0, np.intp)
    base = int(a.min())
    width = int(b.max()) - base + 1  # lifts each group above the one before
    lifted = group.astype(np.int64) * width - base
    running = np.maximum.accumulate(b + lifted) - lifted  # latest end so far, within the group
    fresh = np.r_[True, (group[1:] != group[:-1]) | (a[1:] > running[:-1])]
    first = np.flatnonzero(fresh)
    last = np.r_[first[1:] - 1, len(a) - 1]
    return a[first], running[last], first
