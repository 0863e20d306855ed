"""The engine's peers, answering the same queries with the same exact rules
(docs/semantics.md), so their answers can be checked against the engine's and
their speed compared on the same data in the same run.

Each peer is built from the four columns of the stays and answers
``present_many(venues, starts, ends)`` (who was at each venue in each window,
as (window, person) pairs) and ``contacts_many(persons, starts, ends, *,
min_overlap, linger)`` (a ContactPairs); ``append`` adds more stays.

- DuckDB: the stays in a table, both queries in SQL, contacts with
  gaps-and-islands to unite presence intervals; by default and with
  ``prefer_range_joins``.
- PostgreSQL: the same SQL over a table with B-trees on (venue, t_in) and
  (person, t_in), the longest stay bounding each index range scan.
- ncls, superintervals: interval indexes in C and C++, with NumPy around
  them for presence and exposure.
- NumPy: a sorted index of its own, stays sorted by (venue, t_in) in a few
  tiers of duration, each answered by binary search.
"""

from __future__ import annotations

import abc
import struct

import numpy as np

from tokhai_engine.results import ContactPairs, Present

# Contacts of many cases, exactly as the engine defines them. `cases` is a
# table (case_id, s, e); presence intervals are united with gaps-and-islands.
# {bound} may narrow the scan of the (venue, t_in) index for the stays met.
_CONTACTS_SQL = """
pieces AS (
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
    FROM presence p JOIN stays o ON o.venue = p.venue AND o.t_in < p.b AND o.t_out > p.a {bound}
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

_PRESENT_SQL = """
SELECT DISTINCT w.window_id, st.person
FROM windows w JOIN stays st ON st.venue = w.venue AND st.t_in < w.e AND st.t_out > w.s {bound}
ORDER BY w.window_id, st.person
"""


def _cases(persons, starts, ends):
    persons = np.asarray(persons, np.uint64)
    return persons, *(np.broadcast_to(np.asarray(t, np.int64), persons.shape) for t in (starts, ends))


class DuckDBPeer:
    def __init__(self, persons, venues, t_in, t_out, *, prefer_range_joins: bool = False):
        import duckdb

        self.name = "DuckDB, prefer_range_joins" if prefer_range_joins else "DuckDB"
        self.db = duckdb.connect()
        if prefer_range_joins:
            self.db.execute("SET prefer_range_joins = true")
        self.db.execute("CREATE TABLE stays (person UBIGINT, venue UBIGINT, t_in BIGINT, t_out BIGINT)")
        self.append(persons, venues, t_in, t_out)

    def append(self, persons, venues, t_in, t_out) -> None:
        import pyarrow as pa

        self.db.register("source", pa.table({"person": persons, "venue": venues, "t_in": t_in, "t_out": t_out}))
        self.db.execute("INSERT INTO stays SELECT * FROM source")
        self.db.unregister("source")

    def memory_bytes(self) -> int:
        return int(self.db.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()[0][0])

    def interrupt(self) -> None:
        """Stops the query running, from another thread."""
        self.db.interrupt()

    def _query(self, sql, **tables):
        import pyarrow as pa

        for name, columns in tables.items():
            self.db.register(name, pa.table(columns))
        try:
            return list(self.db.execute(sql).fetchnumpy().values())
        finally:
            for name in tables:
                self.db.unregister(name)

    def present_many(self, venues, starts, ends) -> Present:
        venues, starts, ends = _cases(venues, starts, ends)
        windows = {"window_id": np.arange(len(venues), dtype=np.uint64), "venue": venues, "s": starts, "e": ends}
        return Present(*(np.asarray(c) for c in self._query(_PRESENT_SQL.format(bound=""), windows=windows)))

    def contacts_many(self, persons, starts, ends, *, min_overlap=0, linger=0) -> ContactPairs:
        persons, starts, ends = _cases(persons, starts, ends)
        sql = "WITH " + _CONTACTS_SQL.format(linger=int(linger), min_overlap=int(min_overlap), bound="")
        found = self._query(sql, cases={"case_id": persons, "s": starts, "e": ends})
        return ContactPairs(*(np.asarray(c) for c in found))


class PostgresPeer:
    """PostgreSQL as a health ministry's DBA would set it up: B-trees on
    (venue, t_in) and (person, t_in), and the longest stay held as a bound
    that turns each index scan into a range."""

    name = "PostgreSQL"

    def __init__(self, persons, venues, t_in, t_out, *, url: str, timeout_s: float | None = None):
        import psycopg

        self.db = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        self.db.execute("SET work_mem = '256MB'")
        if timeout_s:  # a query past it fails, and the benchmark says so
            self.db.execute(f"SET statement_timeout = {int(timeout_s * 1000)}")
        self.db.execute("DROP TABLE IF EXISTS bench_stays")
        self.db.execute("CREATE UNLOGGED TABLE bench_stays (person BIGINT, venue BIGINT, t_in BIGINT, t_out BIGINT)")
        self._copy(persons, venues, t_in, t_out)
        self.db.execute("CREATE INDEX ON bench_stays (venue, t_in)")
        self.db.execute("CREATE INDEX ON bench_stays (person, t_in)")
        self.db.execute("ANALYZE bench_stays")
        self.longest = int(self.db.execute("SELECT coalesce(max(t_out - t_in), 0) FROM bench_stays").fetchone()[0])

    def close(self) -> None:
        self.db.execute("DROP TABLE IF EXISTS bench_stays")
        self.db.close()

    def _copy(self, *columns, chunk: int = 1_000_000) -> None:
        # COPY's binary format straight from NumPy: per row a field count, and
        # per field a length and a big-endian value.
        row = np.dtype([("n", ">i2")] + [(f, x) for i in range(4) for f, x in ((f"l{i}", ">i4"), (f"v{i}", ">i8"))])
        with self.db.cursor().copy("COPY bench_stays FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
            for at in range(0, len(columns[0]), chunk):
                part = np.empty(min(chunk, len(columns[0]) - at), row)
                part["n"] = 4
                for i, column in enumerate(columns):
                    part[f"l{i}"] = 8
                    part[f"v{i}"] = column[at : at + len(part)].astype(np.int64)
                copy.write(part.tobytes())
            copy.write(struct.pack(">h", -1))

    def append(self, persons, venues, t_in, t_out) -> None:
        self._copy(persons, venues, t_in, t_out)
        self.db.execute("ANALYZE bench_stays")
        self.longest = max(self.longest, int((np.asarray(t_out) - np.asarray(t_in)).max(initial=0)))

    def memory_bytes(self) -> int:
        return int(self.db.execute("SELECT pg_total_relation_size('bench_stays')").fetchone()[0])

    def _query(self, sql, with_, params, n_columns):
        sql = sql.replace("stays", "bench_stays")
        out = self.db.execute(with_ + sql, params).fetchall()
        return [np.array([r[i] for r in out], dtype=np.int64) for i in range(n_columns)]

    def present_many(self, venues, starts, ends) -> Present:
        venues, starts, ends = _cases(venues, starts, ends)
        with_ = "WITH windows AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) WITH ORDINALITY AS w(venue, s, e, n))"
        sql = _PRESENT_SQL.format(bound=f"AND st.t_in > w.s - {self.longest}").replace("w.window_id", "w.n - 1")
        window, person = self._query(sql, with_, (venues.astype(np.int64).tolist(), starts.tolist(), ends.tolist()), 2)
        return Present(window.astype(np.uint64), person.astype(np.uint64))

    def contacts_many(self, persons, starts, ends, *, min_overlap=0, linger=0) -> ContactPairs:
        persons, starts, ends = _cases(persons, starts, ends)
        with_ = "WITH cases AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS c(case_id, s, e)), "
        sql = _CONTACTS_SQL.format(linger=int(linger), min_overlap=int(min_overlap), bound=f"AND o.t_in > p.a - {self.longest}")
        case, person, exposure, first = self._query(sql, with_, (persons.astype(np.int64).tolist(), starts.tolist(), ends.tolist()), 4)
        return ContactPairs(case.astype(np.uint64), person.astype(np.uint64), exposure, first)


class _ArrayPeer(abc.ABC):
    """Presence and exposure in NumPy around an interval index; a subclass
    indexes the stays by (venue code, time) and answers ``_meet``."""

    def __init__(self, persons, venues, t_in, t_out):
        # Copies, as the engine's index and the databases' tables are: the
        # columns are part of what the peer holds (and its memory figure).
        self._load(*(np.array(c, dtype) for c, dtype in ((persons, np.uint64), (venues, np.uint64), (t_in, np.int64), (t_out, np.int64))))

    def append(self, persons, venues, t_in, t_out) -> None:
        # An interval index is built once: more stays mean building it again.
        # The old index goes first, as in a build from scratch: both at once
        # passed 24 GiB at 100M stays.
        columns = [np.concatenate(pair) for pair in zip((self.persons, self.venues, self.t_in, self.t_out), (persons, venues, t_in, t_out))]
        self.__dict__.clear()
        self._load(*columns)

    def _load(self, persons, venues, t_in, t_out):
        self.persons, self.venues, self.t_in, self.t_out = persons, venues, t_in, t_out
        self.venue_ids, self.venue_code = np.unique(venues, return_inverse=True)
        self.by_person = np.argsort(persons, kind="stable")
        self.sorted_persons = persons[self.by_person]
        self._index()

    def _codes(self, venues):
        """Venue codes of the query's venues, and which of them are held."""
        venues = np.asarray(venues, np.uint64)
        code = np.minimum(np.searchsorted(self.venue_ids, venues), max(len(self.venue_ids) - 1, 0))
        held = (self.venue_ids[code] == venues) if len(self.venue_ids) else np.zeros(len(venues), bool)
        return code, held

    @abc.abstractmethod
    def _index(self):
        """Builds the interval index over the loaded columns."""

    @abc.abstractmethod
    def _meet(self, codes, a, b):
        """(query, row) for every stay at venue ``codes[query]`` meeting ``[a, b)``."""

    def present_many(self, venues, starts, ends) -> Present:
        venues, starts, ends = _cases(venues, starts, ends)
        code, held = self._codes(venues)
        asked = np.flatnonzero(held)
        q, rows = self._meet(code[asked], starts[asked], ends[asked])
        window, person = asked[q].astype(np.uint64), self.persons[rows]
        order = np.lexsort((person, window))
        window, person = window[order], person[order]
        keep = np.r_[True, (window[1:] != window[:-1]) | (person[1:] != person[:-1])] if len(order) else np.empty(0, bool)
        return Present(window[keep], person[keep])

    def contacts_many(self, persons, starts, ends, *, min_overlap=0, linger=0) -> ContactPairs:
        cases, starts, ends = _cases(persons, starts, ends)
        # The cases' stays, clipped to their windows, extended by linger.
        lo = np.searchsorted(self.sorted_persons, cases, "left")
        counts = np.searchsorted(self.sorted_persons, cases, "right") - lo
        which = np.repeat(np.arange(len(cases)), counts)
        rows = self.by_person[_expand(lo, counts)]
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
        q, hit = self._meet(p_venue, pa, pb)
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


class NclsPeer(_ArrayPeer):
    """ncls, a nested containment list in C, over venues laid end to end on one time axis."""

    name = "ncls"

    def _index(self):
        from ncls import NCLS

        self.t0 = _first(self.t_in) - 1
        self.span = _last(self.t_out) - self.t0 + 1
        keys = self.venue_code.astype(np.int64) * self.span
        self.index = NCLS(keys + (self.t_in - self.t0), keys + (self.t_out - self.t0), np.arange(len(self.t_in), dtype=np.int64))

    def _meet(self, codes, a, b):
        key = codes.astype(np.int64) * self.span
        a, b = np.clip(a, self.t0, self.t0 + self.span), np.clip(b, self.t0, self.t0 + self.span)
        return self.index.all_overlaps_both(key + (a - self.t0), key + (b - self.t0), np.arange(len(a), dtype=np.int64))


class SuperintervalsPeer(_ArrayPeer):
    """superintervals (C++), one map per venue. Its coordinates are int32 and
    its hits are positions in its own order by start, so each start is made
    unique within its venue: seconds times 1024 plus the stay's rank among
    the venue's check-ins of that second (overlaps are unchanged, as ranks
    stay below 1024)."""

    name = "superintervals"
    SCALE = 1024

    def _index(self):
        from superintervals import IntervalMap

        self.t0 = _first(self.t_in)
        if (_last(self.t_out) - self.t0 + 1) * self.SCALE >= 2**31:
            raise ValueError("superintervals' int32 coordinates hold at most 24 days of seconds")
        self.order = np.lexsort((self.t_in, self.venue_code))
        code, t_in = self.venue_code[self.order], self.t_in[self.order] - self.t0
        bounds = np.flatnonzero(np.r_[True, (code[1:] != code[:-1]) | (t_in[1:] != t_in[:-1]), True])
        rank = np.arange(len(code)) - np.repeat(bounds[:-1], np.diff(bounds))
        if len(rank) and rank.max() >= self.SCALE:
            raise ValueError(f"more than {self.SCALE} check-ins at one venue in one second")
        starts = (t_in * self.SCALE + rank).astype(np.int32)
        ends = ((self.t_out[self.order] - self.t0) * self.SCALE - 1).astype(np.int32)
        self.first = np.searchsorted(code, np.arange(len(self.venue_ids) + 1))
        self.maps = [IntervalMap.from_arrays(starts[lo:hi], ends[lo:hi]) for lo, hi in zip(self.first[:-1], self.first[1:])]

    def _meet(self, codes, a, b):
        qa = ((np.maximum(a, self.t0) - self.t0) * self.SCALE).clip(0, 2**31 - 1).astype(np.int32)
        qb = ((np.maximum(b, self.t0) - self.t0) * self.SCALE - 1).clip(-1, 2**31 - 1).astype(np.int32)
        by_venue = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.r_[True, codes[by_venue][1:] != codes[by_venue][:-1], True]) if len(codes) else [0]
        queries, rows = [], []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            group = by_venue[lo:hi]
            venue = int(codes[group[0]])
            found = self.maps[venue].search_idxs_batch(qa[group], qb[group])
            sizes = np.fromiter(map(len, found), np.int64, len(found))
            queries.append(np.repeat(group, sizes))
            rows.append(self.first[venue] + np.fromiter((i for hits in found for i in hits), np.int64, int(sizes.sum())))
        if not queries:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(queries), self.order[np.concatenate(rows)]


class NumpyPeer(_ArrayPeer):
    """A sorted index in NumPy alone: stays sorted by (venue, t_in) in tiers
    of duration, so that a window's candidates are one binary-searched range
    per tier, from its start less the tier's longest stay."""

    name = "NumPy sorted index"
    TIERS = (3_600, 4 * 3_600, 12 * 3_600)  # and the rest

    def _index(self):
        self.t0 = _first(self.t_in) - 1
        self.span = _last(self.t_out) - self.t0 + 1
        dwell = self.t_out - self.t_in
        tier = np.searchsorted(np.array(self.TIERS), dwell, side="left")
        self.tiers = []
        for k in range(len(self.TIERS) + 1):
            rows = np.flatnonzero(tier == k)
            keys = self.venue_code[rows].astype(np.int64) * self.span + (self.t_in[rows] - self.t0)
            order = np.argsort(keys, kind="stable")
            longest = int(dwell[rows].max(initial=0))
            self.tiers.append((keys[order], rows[order], longest))

    def _meet(self, codes, a, b):
        key = codes.astype(np.int64) * self.span
        a, b = np.clip(a, self.t0, self.t0 + self.span), np.clip(b, self.t0, self.t0 + self.span)
        queries, rows = [], []
        for keys, tier_rows, longest in self.tiers:
            lo = np.searchsorted(keys, key + np.maximum(a - self.t0 - longest, 0), side="right")
            hi = np.searchsorted(keys, key + (b - self.t0), side="left")
            counts = np.maximum(hi - lo, 0)
            q = np.repeat(np.arange(len(codes)), counts)
            r = tier_rows[_expand(lo, counts)]
            keep = self.t_out[r] > a[q]
            queries.append(q[keep])
            rows.append(r[keep])
        return np.concatenate(queries), np.concatenate(rows)


def _first(t):
    return int(t.min()) if len(t) else 0


def _last(t):
    return int(t.max()) if len(t) else 0


def _expand(lo, counts):
    """The positions ``lo[i] .. lo[i] + counts[i]``, all of them, in order."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts - lo, counts)


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


#: Peers' names by command-line name.
NAMES = {"duckdb": "DuckDB", "duckdb-range": "DuckDB, prefer_range_joins", "postgres": "PostgreSQL", "ncls": "ncls",
         "superintervals": "superintervals", "numpy": "NumPy sorted index"}  # fmt: skip

#: Peers by command-line name: how to build one from the columns.
PEERS = {
    "duckdb": lambda cols, **_: DuckDBPeer(*cols),
    "duckdb-range": lambda cols, **_: DuckDBPeer(*cols, prefer_range_joins=True),
    "postgres": lambda cols, postgres_url=None, timeout_s=None, **_: PostgresPeer(*cols, url=postgres_url, timeout_s=timeout_s),
    "ncls": lambda cols, **_: NclsPeer(*cols),
    "superintervals": lambda cols, **_: SuperintervalsPeer(*cols),
    "numpy": lambda cols, **_: NumpyPeer(*cols),
}
