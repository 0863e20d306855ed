import numpy as np
import pytest

from tokhai_engine import synth


def test_same_seed_same_data_and_shape_of_the_model():
    a, b = synth.generate(50_000, seed=3), synth.generate(50_000, seed=3)
    for x, y in zip(a.columns(), b.columns()):
        np.testing.assert_array_equal(x, y)
    assert len(a) == 50_000
    assert not np.array_equal(a.persons, synth.generate(50_000, seed=4).persons)
    dwell = a.t_out - a.t_in
    assert (dwell > 0).all()
    long = (dwell >= 12 * 3600).mean()
    assert 0.01 < long < 0.03  # about 2% forgotten check-outs
    assert a.t_in.min() >= synth.DEFAULT_START and a.t_in.max() < synth.DEFAULT_START + 14 * synth.DAY
    # Duplicate scans: some (person, venue) pairs within two minutes.
    order = np.lexsort((a.t_in, a.venues, a.persons))
    same = (np.diff(a.persons[order]) == 0) & (np.diff(a.venues[order]) == 0) & (np.diff(a.t_in[order]) < 120)
    assert same.sum() >= 0.005 * len(a)


def test_popularity_is_zipf_like_with_a_few_capped_mega_venues():
    a = synth.generate(400_000, venues=4_000, zipf=1.0, mega=20, duplicates=0, seed=1)
    visits = np.sort(np.bincount(a.venues.astype(np.int64), minlength=4_001)[1:])[::-1]
    assert visits.mean() == 100
    # The busiest venues sit at the cap, 20 times the mean, give or take noise ...
    assert 17 * 100 < visits[0] < 23 * 100 and visits[10] > 17 * 100
    # ... and below them popularity falls off like 1/rank.
    assert 0.35 < visits[1_000] / visits[500] < 0.65
    assert np.median(visits) < 0.5 * visits.mean()


def test_national_model_is_deterministic_however_chunked():
    model = synth.National.scaled(300_000, days=3, seed=9)
    whole = list(model.chunks(10**9))
    assert len(whole) == 1
    pieces = list(model.chunks(7_777))
    assert len(pieces) > 10
    for k in range(4):
        np.testing.assert_array_equal(whole[0].columns()[k], np.concatenate([p.columns()[k] for p in pieces]))
    # The same seed gives the same stays; another seed other stays.
    again = next(synth.National.scaled(300_000, days=3, seed=9).chunks(10**9))
    np.testing.assert_array_equal(again.persons, whole[0].persons)
    other = next(synth.National.scaled(300_000, days=3, seed=10).chunks(10**9))
    assert not np.array_equal(other.persons[:1000], whole[0].persons[:1000])
    # Days cut from the whole are the whole's stays of those days, in order.
    day1 = np.concatenate([c.persons for c in model.chunks(50_000, days=range(1, 2))])
    first_day = np.concatenate([c.persons for c in model.chunks(50_000, days=range(0, 1))])
    np.testing.assert_array_equal(whole[0].persons[len(first_day) : len(first_day) + len(day1)], day1)


def test_national_model_matches_its_description():
    model = synth.National.scaled(600_000, days=4, forgotten=0.05, seed=2)
    a = next(model.chunks(10**9))
    assert abs(len(a) / model.expected_stays - 1) < 0.01
    assert abs(len(a) / 600_000 - 1) < 0.03
    dwell = a.t_out - a.t_in
    # A duplicate scan repeats the stay before it up to 2 minutes later.
    duplicate = np.r_[False, (a.persons[1:] == a.persons[:-1]) & (a.venues[1:] == a.venues[:-1]) & (a.t_out[1:] == a.t_out[:-1])]
    assert 0.008 < duplicate.mean() < 0.012
    assert (dwell[~duplicate] >= 60).all() and (dwell > 0).all() and (dwell < 24 * 3600).all()
    assert 0.045 < (dwell > 12 * 3600).mean() < 0.055, "a fraction `forgotten` of stays"
    # Check-ins start inside the days asked for, at a daily rhythm: mornings
    # are busy and 03:00 local time is quiet.
    assert a.t_in.min() >= synth.DEFAULT_START and a.t_in.max() < synth.DEFAULT_START + 4 * synth.DAY + 120  # a duplicate scan may cross midnight
    hour = (a.t_in - synth.DEFAULT_START) % synth.DAY // 3600
    counts = np.bincount(hour, minlength=24)
    assert counts[8] > 8 * counts[3]
    # People mostly check in in their own province.
    bounds = np.cumsum([0] + [round(p * 1000) for _, p in synth.National.provinces()])
    person_province = np.searchsorted(bounds / bounds[-1] * model.people, a.persons, side="left") - 1
    venue_province = model.venue_provinces()[a.venues.astype(np.int64) - 1]
    assert 0.9 < (np.abs(person_province - venue_province) <= 1).mean()
    # Venues of every kind, eateries the most common, and busy ones.
    kinds = np.bincount(model.venue_kinds(), minlength=13)[1:]
    assert (kinds > 0).all() and kinds.argmax() == synth.KINDS.index("eatery")
    visits = np.bincount(a.venues.astype(np.int64))
    assert visits.max() > 8 * visits[1:].mean()


def test_national_model_refuses_bad_parameters():
    bad_ones = (
        dict(travel=2.0), dict(days=0), dict(people=10), dict(checkins_per_day=1e9, people=1000), dict(seed=-1),
        dict(start=0), dict(days=40_000), dict(per_active=float("inf")), dict(people=2**39, people_per_venue=1.0),
    )  # fmt: skip
    for bad in bad_ones:
        with pytest.raises(ValueError):
            synth.National(**{"people": 1000, "checkins_per_day": 100.0, **bad})
    for stays, bad in ((1000, dict(days=0)), (float("inf"), {}), (float("nan"), {}), (1000, dict(duplicates=-1.0))):
        with pytest.raises(ValueError):
            synth.National.scaled(stays, **bad)
    for bad in (dict(start=0), dict(days=40_000), dict(people=-5), dict(venues=0), dict(duplicates=1.0)):
        with pytest.raises(ValueError):
            synth.generate(1000, **bad)
    with pytest.raises(ValueError, match="contiguous"):
        next(synth.National(people=1000, checkins_per_day=100.0, days=3).chunks(days=range(2, 5)))
    # Each named, as the error it should be.
    small = synth.National(people=1000, checkins_per_day=100.0, days=3)
    for call, error, message in (
        (lambda: synth.generate(1000, days=1.5), TypeError, "days must be an integer, got float"),
        (lambda: synth.generate(1000, people=10.7), TypeError, "people must be an integer, got float"),
        (lambda: synth.generate(1000, seed=-1), ValueError, "seed must be >= 0"),
        (lambda: synth.National(days=-1), ValueError, "days must be from 0"),
        (lambda: synth.National(start=2**63), ValueError, "start must be from"),
        (lambda: synth.National(people=1.5), TypeError, "people must be an integer"),
        (lambda: next(small.chunks(days=[0, 1])), TypeError, "days must be a range, got list"),
        (lambda: next(small.chunks(size=float("nan"))), TypeError, "size must be an integer"),
        (lambda: synth.National.scaled(float("nan")), ValueError, "stays must be a finite number, zero or more"),
    ):
        with pytest.raises(error, match=message):
            call()
