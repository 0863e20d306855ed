"""The Python face: input checks, atomicity, zero-copy inputs, threads, results."""

from __future__ import annotations

import ast
import threading
from collections import deque
from pathlib import Path

import numpy as np
import pytest

import tokhai_engine
from tokhai_engine import DtypeError, Engine, InvalidInputError, UnknownStayError, _convert, _engine, synth

T = 1_630_000_000  # 2021-08-26T17:46:40Z


def two_stays():
    engine = Engine()
    ids = engine.add_stays([1, 2], [10, 10], [T, T + 1800], [T + 3600, T + 7200])
    return engine, ids


def test_contact_and_overlap_of_two_people():
    engine, ids = two_stays()
    assert ids.dtype == np.uint64 and len(set(ids.tolist())) == 2
    c = engine.contacts(1, T, T + 86_400)
    assert (c.person.tolist(), c.exposure.tolist(), c.first_contact.tolist()) == ([2], [1800], [T + 1800])
    assert c.person.dtype == np.uint64 and c.exposure.dtype == np.int64
    assert len(engine.contacts(1, T, T + 86_400, min_overlap=1801)) == 0
    assert engine.contacts(1, T, T + 86_400, linger=600).exposure.tolist() == [2400]
    s = engine.overlaps(10, T + 3600, T + 3601)
    assert (s.person.tolist(), s.t_in.tolist(), s.t_out.tolist()) == ([2], [T + 1800], [T + 7200])


def test_checkout_changes_answers_and_expiry_forgets():
    engine, ids = two_stays()
    engine.set_checkout(ids[:1], T + 900)  # one time for all ids
    assert engine.contacts(1, T, T + 86_400).person.tolist() == []
    assert engine.expire_before(T + 1) == 1
    assert len(engine) == 1
    with pytest.raises(UnknownStayError, match="unknown stay id"):
        engine.set_checkout(ids[:1], T + 999)
    # A batch's first bad row is named, whichever check finds it.
    with pytest.raises(InvalidInputError, match="row 0: t_in .* before"):
        engine.add_stays([1, 2], [1, 1], [T - 10, T + 5], [T + 10, T + 5])
    with pytest.raises(InvalidInputError, match="row 0: t_in .* before"):
        engine.add_stays([1, -2], [1, 1], [T - 10, T + 5], [T + 10, T + 9])  # before a value refused in Python


@pytest.mark.parametrize(
    ("columns", "error", "message"),
    [
        (([1, 2], [1], [T, T], [T + 1, T + 1]), InvalidInputError, "column venues has 1 values, expected 2"),
        (([1, 2], [1, -5, 3], [T, T], [T + 10, T + 10]), InvalidInputError, "column venues has 3 values, expected 2"),
        (([1, 2], [1, 1], [T, T], [T + 1, T]), InvalidInputError, r"row 1: t_out \d+ is not after t_in"),
        (([1], [1], [T], [T + 100 * 365 * 86_400]), InvalidInputError, "row 0: t_out .* is outside 2000-01-01..2100-01-01"),
        (([1], [1], [900_000_000], [T]), InvalidInputError, "row 0: t_in 900000000 is outside"),
        (([1, -3], [1, 1], [T, T], [T + 1, T + 1]), InvalidInputError, "row 1: persons is -3, ids are never negative"),
        (([1.5], [1], [T], [T + 1]), DtypeError, "row 0: persons must hold integers, got float 1.5"),
        (([1], [1], [float(T)], [T + 1]), DtypeError, "row 0: t_in must hold integers, got float"),
        (np.array([[1], [1], [T], [T + 1]], dtype=np.float64), DtypeError, "persons must hold integers, got dtype float64"),
        (([1, "x"], [1, 1], [T, T], [T + 1, T + 1]), DtypeError, "row 1: persons must hold integers, got str 'x'"),
        (([True], [1], [T], [T + 1]), DtypeError, "dtype bool"),
        (([True, 7], [1, 1], [T, T], [T + 1, T + 1]), DtypeError, "persons must hold integers, got a boolean"),
        (([1, 2], [1, 1], (T, np.True_), [T + 1, T + 1]), DtypeError, "t_in must hold integers, got a boolean"),
        (([[1]], [1], [T], [T + 1]), InvalidInputError, "persons must be one-dimensional"),
        (([[1], [2, 3]], [1, 1], [T, T], [T + 1, T + 1]), InvalidInputError, "persons must be a one-dimensional sequence of integers, got nested sequences"),
        ((None, [1], [T], [T + 1]), DtypeError, "persons must be an array or sequence of integers, got NoneType"),
        (([1], (v for v in [1]), [T], [T + 1]), DtypeError, "venues must be an array or sequence of integers, got generator"),
        (([1], [1], "abc", [T + 1]), DtypeError, "t_in must be an array or sequence of integers, got str"),
        ((np.array([1], dtype=np.uint64), [1], np.array([2**63], dtype=np.uint64), [T]), InvalidInputError, "row 0: t_in is 9223372036854775808"),
        # The first bad row, whichever column and whichever check finds it.
        (([1, -1], [1, 1], [900_000_000, T], [T, T + 1]), InvalidInputError, "row 0: t_in 900000000 is outside"),
        (([1, -1], [-2, 1], [T, T], [T + 1, T + 1]), InvalidInputError, "row 0: venues is -2"),
        (([1, -1], [1, 1], np.array([2**63, T], dtype=np.uint64), [T, T + 1]), InvalidInputError, "row 0: t_in is 9223372036854775808"),
        (([1, 2], [1, -1], [T, T], [T, T + 1]), InvalidInputError, "row 0: t_out .* not after"),
        (([1, 2, 3], [1, 1, 1], [T, T, T], [T + 1, T + 1, -1]), InvalidInputError, "row 2: t_out"),
        (([1, 2], [1, 1], [900_000_000, T], [T, True]), InvalidInputError, "row 0: t_in 900000000 is outside"),
        # Sequences that take no slice: the rows before the first refused are checked all the same.
        ((deque([1, -1]), deque([1, 1]), deque([900_000_000, T]), deque([T, T + 1])), InvalidInputError, "row 0: t_in 900000000 is outside"),
        ((deque([1, -1]), deque([1, 1]), deque([T, T]), deque([T + 1, T + 1])), InvalidInputError, "row 1: persons is -1"),
        ((deque([True, 2]), [1, 1], [T, T], [T + 1, T + 1]), DtypeError, "row 0: persons must hold integers, got a boolean"),
    ],
)
def test_bad_batches_raise_and_store_nothing(columns, error, message):
    engine, _ = two_stays()
    with pytest.raises(error, match=message):
        engine.add_stays(*columns)
    assert len(engine) == 2


def test_missing_values_of_arrow_columns_are_named():
    pa = pytest.importorskip("pyarrow")
    engine, _ = two_stays()
    with pytest.raises(InvalidInputError, match="row 1: persons is missing"):
        engine.add_stays(pa.array([1, None]), [1, 1], [T, T], [T + 1, T + 1])
    with pytest.raises(InvalidInputError, match="row 0: t_out .* not after"):
        engine.add_stays(pa.chunked_array([[1], [2, None]]), [1, 1, 1], [T, T, T], [T, T + 1, T + 1])
    assert len(engine) == 2
    engine.add_stays(pa.array([5, 6]), pa.array([1, 1], pa.uint64()), [T, T], [T + 1, T + 1])
    assert len(engine) == 4


def test_errors_subclass_the_standard_ones():
    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(UnknownStayError, InvalidInputError)
    assert issubclass(DtypeError, TypeError)


def test_refused_checkout_changes_nothing():
    engine, ids = two_stays()
    with pytest.raises(UnknownStayError, match=f"row 1: unknown stay id {ids[1] + 1000}"):
        engine.set_checkout([ids[0], ids[1] + 1000], [T + 10, T + 10])
    with pytest.raises(InvalidInputError, match="row 1: t_out"):
        engine.set_checkout(ids, [T + 10, T])
    with pytest.raises(InvalidInputError, match="column t_out has 3 values, expected 2"):
        engine.set_checkout(ids, [T + 10, T + 10, T + 10])
    assert engine.overlaps(10, T, T + 1).t_out.tolist() == [T + 3600]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda e: e.contacts(1, T, T), InvalidInputError, "window .* is empty"),
        (lambda e: e.contacts(1, T, T + 1, min_overlap=-1), InvalidInputError, "min_overlap must be zero or positive"),
        (lambda e: e.contacts(1.0, T, T + 1), DtypeError, "person must be an integer, got float"),
        (lambda e: e.contacts(-1, T, T + 1), InvalidInputError, "person is -1"),
        (lambda e: e.overlaps(2**64, T, T + 1), InvalidInputError, "venue is 18446744073709551616"),
        (lambda e: e.contacts_many([1, 1], T, T + 1), InvalidInputError, "row 1: case 1 appears more than once"),
        (lambda e: e.trace([5, 3, 5, 3], T, T + 1), InvalidInputError, "row 2: case 5 appears more than once"),
        (lambda e: e.contacts_many([5, 3, 5, 3], T, [T + 1, T, T + 1, T + 1]), InvalidInputError, r"row 1: window \[\d+, \d+\) is empty"),
        (lambda e: e.contacts_many([1, 2], [T, T], [T + 1, T]), InvalidInputError, r"row 1: window \[\d+, \d+\) is empty"),
        (lambda e: e.trace([1], T, T + 1, hops=-1), InvalidInputError, "hops must be zero or positive"),
        (lambda e: e.trace([1], T, T + 1, latency=-5), InvalidInputError, "latency must be zero or positive"),
        (lambda e: e.exposure_sites([1, 2], [T], T + 1), InvalidInputError, "column starts has 1 values, expected 2"),
        (lambda e: e.present_many([10, 10], [T, T], [T + 1, T - 5]), InvalidInputError, r"row 1: window \[\d+, \d+\) is empty"),
        (lambda e: e.present_many([10, 10], [T], T + 1), InvalidInputError, "column starts has 1 values, expected 2"),
        (lambda e: e.present_many([10.5], T, T + 1), DtypeError, "venues"),
        (lambda e: e.exposure_sites([1, 2], [[T], [T, T]], T + 1), InvalidInputError, "starts must be a one-dimensional sequence of integers, got nested"),
    ],
)
def test_bad_queries_say_what_is_wrong(call, error, message):
    engine, _ = two_stays()
    with pytest.raises(error, match=message):
        call(engine)


def test_times_may_be_datetime64():
    engine = Engine()
    t = np.array(["2021-08-26T10:00:00", "2021-08-26T10:30:00"], dtype="datetime64[s]")
    engine.add_stays([1, 2], [5, 5], t, t + np.timedelta64(1, "h"))
    c = engine.contacts(1, np.datetime64("2021-08-26"), np.datetime64("2021-08-27"))
    assert c.exposure.tolist() == [1800]


def test_inputs_of_the_engine_dtype_are_not_copied():
    persons = np.arange(5, dtype=np.uint64)
    assert np.shares_memory(_convert.ids("persons", persons), persons)
    signed = np.arange(5, dtype=np.int64)
    assert np.shares_memory(_convert.ids("persons", signed), signed)  # reinterpreted, not copied
    t = np.arange(5, dtype=np.int64)
    assert np.shares_memory(_convert.times("t_in", t), t)


def test_results_convert_to_arrow():
    pa = pytest.importorskip("pyarrow")
    engine, _ = two_stays()
    table = engine.trace([1], T, T + 86_400, min_overlap=0).to_arrow()
    assert table.column_names == ["person", "hop", "exposed_at", "source", "exposure"]
    assert table.schema.field("person").type == pa.uint64()
    assert table.column("hop").to_pylist() == [0, 1]


def test_queries_run_while_batches_are_added():
    data = synth.generate(60_000, days=3, seed=5)
    engine = Engine()
    half = len(data) // 2
    engine.add_stays(*(c[:half] for c in data.columns()))
    cases = np.unique(data.persons[:50])
    start, end = int(data.t_in.min()), int(data.t_out.max())
    before = engine.contacts_many(cases, start, end, min_overlap=600)
    errors = []

    def add_rest():
        for chunk in np.array_split(np.arange(half, len(data)), 20):
            engine.add_stays(*(c[chunk] for c in data.columns()))

    def query():
        try:
            for _ in range(10):
                got = engine.contacts_many(cases, start, end, min_overlap=600)
                # Contacts only accrue as stays arrive; they never go away.
                assert len(got) >= len(before)
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=add_rest)] + [threading.Thread(target=query) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(engine) == len(data)
    whole = Engine()
    whole.add_stays(*data.columns())
    a, b = engine.contacts_many(cases, start, end, min_overlap=600), whole.contacts_many(cases, start, end, min_overlap=600)
    for name, column in a.columns().items():
        np.testing.assert_array_equal(column, b.columns()[name])


def test_a_large_batch_is_stored_as_given():
    # Over a million rows: read on threads of their own while the GIL is
    # held, not copied, and days indexed at once.
    data = synth.generate(1_100_000, days=3, seed=8)
    engine = Engine()
    ids = engine.add_stays(*data.columns())
    held = engine.stays_between(int(data.t_in.min()), int(data.t_in.max()) + 1)
    assert len(held) == len(data) == len(engine)
    order = np.argsort(ids)
    np.testing.assert_array_equal(held.stay_id, ids[order])
    for got, given in zip((held.person, held.venue, held.t_in, held.t_out), data.columns()):
        np.testing.assert_array_equal(got, given[order])


def test_a_large_bad_batch_names_its_first_problem_and_stores_nothing():
    # Read without a copy, on threads (from 65,536 rows): the first bad row
    # is found all the same, and an expired row before it comes first.
    n = 100_000
    persons, venues = np.arange(n, dtype=np.uint64), np.full(n, 3, dtype=np.uint64)
    t_in = T + np.arange(n, dtype=np.int64) * 5
    t_out = t_in + 600
    t_out[n - 7] = t_in[n - 7]
    engine, _ = two_stays()
    with pytest.raises(InvalidInputError, match=f"row {n - 7}: t_out .* not after"):
        engine.add_stays(persons, venues, t_in, t_out)
    engine.expire_before(T + 50_000)
    with pytest.raises(InvalidInputError, match="row 0: t_in .* before"):
        engine.add_stays(persons, venues, t_in, t_out)
    t_out[n - 7] += 1
    with pytest.raises(InvalidInputError, match="row 0: t_in .* before"):
        engine.add_stays(persons, venues, t_in, t_out)
    assert len(engine) == 0
    later = t_in >= T + 50_000
    ids = engine.add_stays(persons[later], venues[later], t_in[later], t_out[later])
    assert len(engine) == len(ids) == later.sum()


def test_memory_stays_under_twenty_bytes_per_stay():
    engine = Engine()
    engine.add_stays(*synth.generate(200_000, days=2, seed=2).columns())
    assert engine.memory_bytes() / len(engine) < 20


def test_stub_names_match_the_native_module():
    stub = ast.parse(Path(_engine.__file__).with_name("_engine.pyi").read_text())
    names = {n.name for n in stub.body if isinstance(n, ast.ClassDef | ast.FunctionDef)}
    names |= {t.id for n in stub.body if isinstance(n, ast.AnnAssign) for t in [n.target]}
    public = {n for n in dir(_engine) if not n.startswith("_")}
    assert public == names - {"_U64", "_I64"}
    engine_stub = next(n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == "Engine")
    methods = {f.name for f in engine_stub.body if isinstance(f, ast.FunctionDef)}
    assert methods - {"__init__", "__len__"} == {m for m in dir(_engine.Engine) if not m.startswith("_")}


def test_public_names():
    assert set(tokhai_engine.__all__) <= set(dir(tokhai_engine))


def test_the_examples_of_the_semantics_doc():
    h = 3600
    nine = 1_630_054_800  # 2021-08-27T09:00:00Z
    engine = Engine()
    # The contacts diagram: case 1 at venue 7 09:00-10:00, lingering 30 minutes;
    # person 2 there 08:30-09:30 and 09:50-10:50.
    engine.add_stays([1, 2, 2], [7, 7, 7], [nine, nine - h // 2, nine + 50 * 60], [nine + h, nine + h // 2, nine + 110 * 60])
    c = engine.contacts(1, nine, nine + 86_400, linger=h // 2)
    assert (c.person.tolist(), c.exposure.tolist(), c.first_contact.tolist()) == ([2], [4200], [nine])
    # The presence diagram: a duplicate scan and a touching stay make one interval.
    engine.add_stays([3, 3, 3, 3], [8, 8, 8, 8], [nine, nine + h // 2, nine + h, nine + 2 * h + 1800], [nine + h, nine + h, nine + 2 * h, nine + 3 * h])
    s = engine.overlaps(8, nine, nine + 3 * h)
    assert list(zip(s.t_in.tolist(), s.t_out.tolist())) == [(nine, nine + 2 * h), (nine + 2 * h + 1800, nine + 3 * h)]


def test_awkward_inputs_are_taken_exactly_or_refused():
    engine, ids = two_stays()
    stored = len(engine)
    refused = [
        (lambda: engine.add_stays([1], [1], np.array(["NaT"], "datetime64[s]"), [T + 1]), "row 0: t_in is NaT"),
        (lambda: engine.add_stays([1], [1], np.array([T * 1000 + 999], "datetime64[ms]"), [T + 10]), "row 0: t_in .* not a whole second"),
        (lambda: engine.add_stays([1], [1], np.array([2 * 10**17], "datetime64[D]"), [T + 10]), "row 0: t_in .* beyond any representable time"),
        (lambda: engine.add_stays([1], [1], np.array([2**60], "datetime64[m]"), [T + 10]), "row 0: t_in .* beyond any representable time"),
        (lambda: engine.add_stays(np.ma.masked_array([7, 8], mask=[False, True]), [1, 1], [T, T], [T + 5, T + 5]), "persons has masked"),
        (lambda: engine.add_stays([1, 2**64], [1, 1], [T, T], [T + 5, T + 5]), "row 1: persons is 18446744073709551616"),
        (lambda: engine.overlaps(10, np.datetime64("NaT"), T + 10), "^start is NaT"),  # one value: no row
        (lambda: engine.expire_before(2**62), "is after 4102444800"),
    ]
    for call, message in refused:
        with pytest.raises(InvalidInputError, match=message):
            call()
    with pytest.raises(DtypeError, match="venue must be an integer, got a datetime64"):
        engine.overlaps(np.datetime64(10, "s"), T, T + 10)
    for flag in (np.True_, np.array(True)):  # (an index to NumPy before 2.3)
        with pytest.raises(DtypeError, match="venue must be an integer, got a bool"):
            engine.overlaps(flag, T, T + 10)
    # A 0-d array is the value it holds, a datetime64 as an integer.
    assert engine.present(np.array(10), np.array(np.datetime64(T, "s")), T + 1).tolist() == [1]
    assert len(engine) == stored
    with pytest.raises(InvalidInputError, match="too fine a unit"):
        engine.overlaps(10, np.datetime64(0, "as"), np.datetime64(1, "as"))
    with pytest.raises(InvalidInputError, match="row 0: persons is -1, negative beside"):
        engine.add_stays([-1, 2**63], [1, 1], [T, T], [T + 5, T + 5])
    # NumPy and Python integers mixed (a float64 array to NumPy), ids on
    # both sides of 2**63, and an array not aligned on 8 bytes, are taken as
    # the integers they hold.
    engine.add_stays([5, 2**64 - 1], [10, 10], [T + 40, T + 40], [T + 41, T + 41])
    engine.set_checkout([ids[1], int(ids[1])], T + 6000)
    misaligned = np.frombuffer(b"\0" + np.array([T + 50], np.int64).tobytes(), np.int64, offset=1)
    assert not misaligned.flags.aligned
    engine.add_stays([7], [10], misaligned, [T + 60])
    assert engine.present(10, T + 50, T + 51).tolist() == [1, 7]
    assert engine.present(10, T + 40, T + 41).tolist() == [1, 5, 2**64 - 1]


def test_a_long_chain_of_touching_stays_is_one_presence_found_quickly():
    """`overlaps` grows a presence to its maximal interval: the stays it
    looks at reach twice as far each time (a day of one-second stays took
    a minute when they grew one stay at a time)."""
    day = T // 86_400 * 86_400
    engine = Engine()
    t = day + np.arange(20_000)
    engine.add_stays(np.ones(20_000, np.uint64), np.ones(20_000, np.uint64), t, t + 1)
    got = engine.overlaps(1, day + 10_000, day + 10_001)
    assert (got.person.tolist(), got.t_in.tolist(), got.t_out.tolist()) == ([1], [day], [day + 20_000])


def test_windows_and_lingers_past_any_time_mean_all_time():
    engine, _ = two_stays()
    whole = (_engine.MIN_TIME, _engine.MAX_TIME)
    for start, end in [(-(2**63), 2**63 - 1), (-(2**63), T + 10**5), (0, 2**63 - 1)]:
        assert engine.present(10, start, end).tolist() == engine.present(10, *whole).tolist()
        assert engine.overlaps(10, start, end).person.tolist() == engine.overlaps(10, *whole).person.tolist()
        assert engine.checkins_per_venue(start, end)[1].tolist() == engine.checkins_per_venue(*whole)[1].tolist()
        assert engine.contacts(1, start, end).person.tolist() == [2]
    endless = engine.contacts(1, T, T + 1000, linger=2**63 - 1)
    assert endless.person.tolist() == engine.contacts(1, T, T + 1000, linger=_engine.MAX_TIME).person.tolist() == [2]
    assert engine.exposure_sites([1], T, T + 1000, linger=2**63 - 1).end.tolist() == [2**63 - 1]
    assert engine.trace([1], T, T + 1000, linger=2**63 - 1, min_overlap=0).person.tolist() == [1, 2]


def test_errors_cross_processes():
    """Errors pickle (a worker process can raise them to its parent): their
    module is the one that defines them."""
    import pickle

    with pytest.raises(InvalidInputError) as info:
        Engine().add_stays([1], [1], [T], [T - 1])
    back = pickle.loads(pickle.dumps(info.value))
    assert type(back) is InvalidInputError and str(back) == str(info.value)
