import numpy as np

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
