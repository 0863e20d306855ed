"""The rules of docs/semantics.md read literally, in plain Python: the judge
the engine's answers are checked against. Slow and obviously right."""

from __future__ import annotations

from collections import defaultdict


def unite(intervals):
    out = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [tuple(i) for i in out]


class Oracle:
    def __init__(self):
        self.stays = {}  # stay id -> [person, venue, t_in, t_out]

    def add(self, ids, persons, venues, t_in, t_out):
        for row in zip(ids, persons, venues, t_in, t_out):
            self.stays[int(row[0])] = [int(x) for x in row[1:]]

    def set_checkout(self, ids, t_out):
        for i, t in zip(ids, t_out):
            self.stays[int(i)][3] = int(t)

    def expire_before(self, t):
        gone = [i for i, s in self.stays.items() if s[2] < t]
        for i in gone:
            del self.stays[i]
        return len(gone)

    def presence(self):
        by = defaultdict(list)
        for p, v, a, b in self.stays.values():
            by[p, v].append((a, b))
        return {k: unite(v) for k, v in by.items()}

    def overlaps(self, venue, start, end):
        return sorted((p, a, b) for (p, v), ivs in self.presence().items() if v == venue for a, b in ivs if a < end and b > start)

    def case_presence(self, case, start, end, linger):
        pieces = defaultdict(list)
        for p, v, a, b in self.stays.values():
            if p == case and max(a, start) < min(b, end):
                pieces[v].append((max(a, start), min(b, end) + linger))
        return {v: unite(ivs) for v, ivs in pieces.items()}

    def contacts(self, case, start, end, min_overlap=0, linger=0):
        mine = self.case_presence(case, start, end, linger)
        exposure, first = defaultdict(int), {}
        for (o, v), theirs in self.presence().items():
            if o == case or v not in mine:
                continue
            for a, b in mine[v]:
                for c, d in theirs:
                    lo, hi = max(a, c), min(b, d)
                    if lo < hi:
                        exposure[o] += hi - lo
                        first[o] = min(first.get(o, lo), lo)
        return [(o, exposure[o], first[o]) for o in sorted(exposure) if exposure[o] >= max(min_overlap, 1)]

    def sites(self, cases, linger):
        return [(c, v, a, b) for c, s, e in sorted(cases) for v, ivs in sorted(self.case_presence(c, s, e, linger).items()) for a, b in ivs]

    def trace(self, cases, hops, min_overlap, linger, latency, until):
        until = max(e for _, _, e in cases) if until is None else until
        reached = {c: 0 for c, _, _ in cases}
        rows = [(0, c, s, c, 0) for c, s, _ in sorted(cases)]
        frontier = sorted(cases)
        for hop in range(1, hops + 1):
            best = {}
            for q, s, e in frontier:
                if s >= e:
                    continue
                for o, x, f in self.contacts(q, s, e, min_overlap, linger):
                    if o not in reached and (o not in best or (f, q) < best[o][:2]):
                        best[o] = (f, q, x)
            frontier = []
            for o in sorted(best):
                f, q, x = best[o]
                reached[o] = hop
                rows.append((hop, o, f, q, x))
                frontier.append((o, f + latency, until))
        return rows
