"""The benchmark's peers answer exactly what the engine answers, so that the
speed ratios in docs/benchmarks.md compare like with like."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tokhai_engine import Engine, synth

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
peers = pytest.importorskip("peers")


@pytest.fixture(scope="module")
def data():
    # Few venues, so that people meet often; duplicates and long stays included.
    return synth.generate(40_000, days=3, venues=60, forgotten=0.05, duplicates=0.05, seed=11)


@pytest.mark.parametrize("make", [
    lambda d: peers.DuckDBPeer(*d.columns()),
    lambda d: peers.DuckDBPeer(*d.columns(), prefer_range_joins=True),
    lambda d: peers.NclsPeer(*d.columns()),
], ids=["duckdb", "duckdb-range-joins", "ncls"])
@pytest.mark.parametrize(("min_overlap", "linger"), [(0, 0), (900, 0), (300, 600)])
def test_peer_agrees_with_engine(data, make, min_overlap, linger):
    pytest.importorskip("duckdb")
    pytest.importorskip("ncls")
    engine = Engine()
    engine.add_stays(*data.columns())
    peer = make(data)
    cases = np.unique(data.persons[:40])
    rng = np.random.default_rng(1)
    starts = data.t_in.min() + rng.integers(0, 86_400, len(cases))
    ends = starts + rng.integers(3_600, 2 * 86_400, len(cases))
    want = engine.contacts_many(cases, starts, ends, min_overlap=min_overlap, linger=linger)
    got = peer.contacts_many(cases, starts, ends, min_overlap=min_overlap, linger=linger)
    assert len(want) > 100
    for name, column in want.columns().items():
        np.testing.assert_array_equal(np.asarray(got.columns()[name], dtype=column.dtype), column, err_msg=name)
