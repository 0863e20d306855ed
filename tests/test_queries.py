"""Every query against the brute-force oracle, on hypothesis-generated data
rich in edge cases: duplicate scans, touching and overlapping stays of one
person, midnight, one-second and day-long stays, check-out changes, expiry,
batches in any time order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import Oracle

from tokhai_engine import MAX_TIME, MIN_TIME, Engine, UnknownStayError

MIDNIGHT = 1_627_776_000  # 2021-08-01T00:00:00Z, a partition boundary
DAY = 86_400

durations = st.one_of(
    st.integers(1, 3),
    st.integers(60, 7_200),
    st.integers(32_000, 34_000),  # around the packed-duration limit
    st.integers(43_200, 90_000),  # forgotten check-outs
)
stays = st.tuples(
    st.integers(0, 5),  # person
    st.integers(0, 3),  # venue
    st.integers(-100_000, 100_000).map(lambda a: MIDNIGHT + a // 600 * 600),
    durations,
).map(lambda s: (s[0], s[1], s[2], s[2] + s[3]))
batches = st.lists(st.lists(stays, max_size=20), min_size=1, max_size=5)
windows = st.tuples(st.integers(-120_000, 120_000), st.integers(1, 150_000)).map(
    lambda w: (MIDNIGHT + w[0] // 300 * 300, MIDNIGHT + w[0] // 300 * 300 + w[1])
)
cases = st.dictionaries(st.integers(0, 5), windows, min_size=1, max_size=3).map(lambda d: [(p, s, e) for p, (s, e) in d.items()])
seconds = st.one_of(st.just(0), st.integers(1, 4_000))


def load(data, batches, checkouts, expire):
    engine, oracle = Engine(), Oracle()
    for batch in batches:
        cols = [np.array(c, dtype=np.int64) for c in zip(*batch)] if batch else [np.array([], dtype=np.int64)] * 4
        ids = engine.add_stays(*cols)
        oracle.add(ids, *cols)
    if oracle.stays and checkouts:
        known = sorted(oracle.stays)
        picks = [known[data.draw(st.integers(0, len(known) - 1))] for _ in range(checkouts)]
        t_out = [oracle.stays[i][2] + data.draw(st.integers(1, 90_000)) for i in picks]
        engine.set_checkout(np.array(picks, dtype=np.uint64), np.array(t_out))
        oracle.set_checkout(picks, t_out)
    if expire is not None:
        assert engine.expire_before(MIDNIGHT + expire) == oracle.expire_before(MIDNIGHT + expire)
    assert len(engine) == len(oracle.stays)
    return engine, oracle


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    batches=batches,
    checkouts=st.integers(0, 4),
    expire=st.one_of(st.none(), st.integers(-110_000, 30_000)),
    venue=st.integers(0, 3),
    window=windows,
    case=st.integers(0, 5),
    case_window=windows,
    many=cases,
    min_overlap=seconds,
    linger=seconds,
    latency=seconds,
    hops=st.integers(0, 3),
    until=st.one_of(st.none(), windows.map(lambda w: w[1])),
)
def test_queries_match_oracle(data, batches, checkouts, expire, venue, window, case, case_window, many, min_overlap, linger, latency, hops, until):
    engine, oracle = load(data, batches, checkouts, expire)

    got = engine.overlaps(venue, *window)
    assert list(zip(*(c.tolist() for c in got.columns().values()))) == oracle.overlaps(venue, *window)
    assert engine.present(venue, *window).tolist() == sorted({p for p, _, _ in oracle.overlaps(venue, *window)})
    # Many windows at once, repeats and all: the same people, window by window.
    asked = [(venue, *window), (0, *case_window), (venue, *window), (3, *case_window)]
    got = engine.present_many(*(np.array(c) for c in zip(*asked)))
    assert list(zip(got.window.tolist(), got.person.tolist())) == [
        (i, p) for i, (v, s, e) in enumerate(asked) for p in sorted({p for p, _, _ in oracle.overlaps(v, s, e)})
    ]
    stays = engine.stays_between(*window)
    venues, counts = np.unique(stays.venue, return_counts=True)
    got_v, got_c = engine.checkins_per_venue(*window)
    assert (got_v.tolist(), got_c.tolist()) == (venues.tolist(), counts.tolist())

    got = engine.contacts(case, *case_window, min_overlap=min_overlap, linger=linger)
    assert list(zip(got.person.tolist(), got.exposure.tolist(), got.first_contact.tolist())) == oracle.contacts(case, *case_window, min_overlap, linger)

    persons, starts, ends = (np.array(c) for c in zip(*many))
    got = engine.contacts_many(persons, starts, ends, min_overlap=min_overlap, linger=linger)
    want = [(c, *row) for c, s, e in sorted(many) for row in oracle.contacts(c, s, e, min_overlap, linger)]
    assert list(zip(*(c.tolist() for c in got.columns().values()))) == want

    got = engine.exposure_sites(persons, starts, ends, linger=linger)
    assert list(zip(*(c.tolist() for c in got.columns().values()))) == oracle.sites(many, linger)

    got = engine.trace(persons, starts, ends, hops=hops, min_overlap=min_overlap, linger=linger, latency=latency, until=until)
    rows = list(zip(got.hop.tolist(), got.person.tolist(), got.exposed_at.tolist(), got.source.tolist(), got.exposure.tolist()))
    assert rows == oracle.trace(many, hops, min_overlap, linger, latency, until)


# Crowds, extreme ids and times, and changes in any order. Forty people, so
# that a trace's hops push from their frontier as well as pull to the
# people not yet reached (it pulls when those are fewer than six a member).
ID_BASES = (0, 2**63 - 20, 2**64 - 41)
TIME_BASES = (MIDNIGHT, MIN_TIME + 2 * DAY, MAX_TIME - 3 * DAY)  # all midnights
crowd_stays = st.tuples(
    st.integers(0, 39),
    st.integers(0, 3),
    st.integers(-100_000, 100_000).map(lambda a: a // 300 * 300),
    durations,
)
crowd = st.lists(crowd_stays, min_size=30, max_size=80)
operations = st.tuples(
    crowd,
    st.lists(
        st.one_of(
            st.tuples(st.just("add"), crowd),
            st.tuples(st.just("checkout"), st.integers(1, 4)),
            st.tuples(st.just("expire"), st.sampled_from(["midnight", "t_in", "t_in+1"])),
        ),
        max_size=5,
    ),
).map(lambda o: [("add", o[0]), *o[1]])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), ops=operations, id_base=st.sampled_from(ID_BASES), base=st.sampled_from(TIME_BASES), linger=seconds, latency=seconds, hops=st.integers(1, 3))
def test_queries_match_oracle_over_crowds_extremes_and_changes(data, ops, id_base, base, linger, latency, hops):
    engine, oracle = Engine(), Oracle()
    expired = MIN_TIME  # stays beginning before it are refused from then on
    for op, arg in ops:
        if op == "add":
            rows = [(id_base + p, id_base + v, base + a, base + a + d) for p, v, a, d in arg if base + a >= expired]
            cols = [np.array(c, dtype=np.uint64 if k < 2 else np.int64) for k, c in enumerate(zip(*rows))] if rows else [np.array([], dtype=np.int64)] * 4
            oracle.add(engine.add_stays(*cols), *cols)
        elif op == "checkout" and oracle.stays:
            known = sorted(oracle.stays)
            picks = [known[data.draw(st.integers(0, len(known) - 1))] for _ in range(arg)]
            t_out = [oracle.stays[i][2] + data.draw(durations) for i in picks]
            engine.set_checkout(np.array(picks, dtype=np.uint64), np.array(t_out))
            oracle.set_checkout(picks, t_out)
        elif op == "expire":
            # On a partition boundary, or on a stay's check-in or just after.
            t_ins = sorted(s[2] for s in oracle.stays.values()) or [base]
            t = data.draw(st.sampled_from(t_ins))
            t = t // DAY * DAY if arg == "midnight" else t + (arg == "t_in+1")
            assert engine.expire_before(t) == oracle.expire_before(t)
            expired = max(expired, t)
        assert len(engine) == len(oracle.stays)
        venue = id_base + data.draw(st.integers(0, 5))
        start = base + data.draw(st.integers(-120_000, 120_000))
        got = engine.overlaps(venue, start, start + 7_200)
        assert list(zip(*(c.tolist() for c in got.columns().values()))) == oracle.overlaps(venue, start, start + 7_200)

    # Stays found by person, venue and check-in: each row its own stay, the
    # earliest stored first; a row held nowhere, 0.
    if oracle.stays:
        picks = data.draw(st.lists(st.sampled_from(sorted(oracle.stays)), max_size=6))
        rows = [oracle.stays[i][:3] for i in picks] + [[id_base, id_base, base + 1]]
        want, taken = [], set()
        for row in rows:
            match = [i for i in sorted(oracle.stays) if oracle.stays[i][:3] == row and i not in taken]
            want.append(match[0] if match else 0)
            taken.update(match[:1])
        persons, venues, t_in = (np.array(c, dtype=np.uint64 if k < 2 else np.int64) for k, c in enumerate(zip(*rows)))
        assert engine.find_stays(persons, venues, t_in).tolist() == want
        # And the other way: stays by id, in the order asked, twice over.
        got = engine.stays_by_id(np.array(picks + picks, dtype=np.uint64))
        assert list(zip(*(c.tolist() for c in got.columns().values()))) == [(i, *oracle.stays[i]) for i in picks + picks]
        with pytest.raises(UnknownStayError, match=f"row {len(picks)}: unknown stay id"):
            engine.stays_by_id(np.array([*picks, max(oracle.stays) + 1], dtype=np.uint64))

    window = (base - 120_000, base + 200_000)
    got = engine.stays_between(*window)
    want = sorted((i, *s) for i, s in oracle.stays.items() if s[2] < window[1] and s[3] > window[0])
    assert sorted(zip(*(c.tolist() for c in got.columns().values()))) == want
    people = sorted({s[0] for s in oracle.stays.values()}) or [id_base]
    many = [(p, base - 100_000, base + 150_000) for p in data.draw(st.lists(st.sampled_from(people), min_size=1, max_size=3, unique=True))]
    # A threshold equal to an exposure found: the contact is kept, exactly.
    exposures = sorted({x for c, s, e in many for _, x, _ in oracle.contacts(c, s, e, 0, linger)})
    min_overlap = data.draw(st.sampled_from([0, *exposures]))
    persons = np.array([c for c, _, _ in many], dtype=np.uint64)  # not through floats: ids pass 2**63
    starts, ends = (np.array(c) for c in list(zip(*many))[1:])
    got = engine.contacts_many(persons, starts, ends, min_overlap=min_overlap, linger=linger)
    want = [(c, *row) for c, s, e in sorted(many) for row in oracle.contacts(c, s, e, min_overlap, linger)]
    assert list(zip(*(c.tolist() for c in got.columns().values()))) == want
    got = engine.exposure_sites(persons, starts, ends, linger=linger)
    assert list(zip(*(c.tolist() for c in got.columns().values()))) == oracle.sites(many, linger)
    got = engine.trace(persons, starts, ends, hops=hops, min_overlap=min_overlap, linger=linger, latency=latency)
    rows = list(zip(got.hop.tolist(), got.person.tolist(), got.exposed_at.tolist(), got.source.tolist(), got.exposure.tolist()))
    assert rows == oracle.trace(many, hops, min_overlap, linger, latency, None)


def test_a_cancelled_trace_raises_rather_than_answer_in_part():
    from tokhai_engine import Cancel, QueryCancelledError

    engine = Engine()
    t = 1_627_779_600
    engine.add_stays([1, 2, 3], [7, 7, 7], [t] * 3, [t + 900] * 3)
    cancel = Cancel()
    assert engine.trace([1], t, t + 900, cancel=cancel).person.tolist() == [1, 2, 3]
    cancel.set()
    assert cancel.is_set()
    with pytest.raises(QueryCancelledError):
        engine.trace([1], t, t + 900, cancel=cancel)
    # A trace that takes no hop has nothing to give up.
    assert engine.trace([1], t, t + 900, hops=0, cancel=cancel).person.tolist() == [1]


@pytest.mark.parametrize(("start", "end"), [(-(2**63), 2**63 - 1), (-(2**63), MIDNIGHT + DAY), (MIDNIGHT, 2**63 - 1), (MIDNIGHT - DAY, MIDNIGHT + 2 * DAY)])
def test_many_cases_at_once_match_oracle_to_the_ends_of_time(start, end):
    """Enough cases for the paths taken only by many at once (stays gathered
    for all, a table of their venues), windows as wide as 64 bits go, stays
    of days and years; one case with a window of its own."""
    import random

    rnd = random.Random(start % 1_000 + end % 1_000)
    rows = []
    for person in range(100):
        for _ in range(5):
            t = MIDNIGHT + rnd.randrange(-DAY, 3 * DAY)
            rows.append((person, rnd.randrange(3), t, t + rnd.choice([rnd.randint(60, 7_200), rnd.randint(DAY, 3 * DAY), 400 * DAY])))
    engine, oracle = Engine(), Oracle()
    cols = [np.array(c, dtype=np.int64) for c in zip(*rows)]
    oracle.add(engine.add_stays(*cols), *cols)
    cases = [(p, start, end) for p in range(70)]
    cases[5] = (5, MIDNIGHT, MIDNIGHT + DAY)
    persons, starts, ends = (np.array(c) for c in zip(*cases))
    got = engine.contacts_many(persons.astype(np.uint64), starts, ends, min_overlap=600, linger=300)
    want = [(c, *r) for c, s, e in sorted(cases) for r in oracle.contacts(c, s, e, 600, 300)]
    assert list(zip(*(got.columns()[k].tolist() for k in ("case", "person", "exposure", "first_contact")))) == want
    sites = engine.exposure_sites(persons.astype(np.uint64), starts, ends, linger=300)
    assert list(zip(*(sites.columns()[k].tolist() for k in ("case", "venue", "start", "end")))) == oracle.sites(cases, 300)
    traced = engine.trace(persons.astype(np.uint64), starts, ends, hops=2, min_overlap=600, linger=300, latency=60, until=MIDNIGHT + 5 * DAY)
    got = list(zip(traced.hop.tolist(), traced.person.tolist(), traced.exposed_at.tolist(), traced.source.tolist(), traced.exposure.tolist()))
    assert got == oracle.trace(cases, 2, 600, 300, 60, MIDNIGHT + 5 * DAY)
