"""pytest-benchmark cases at a small size: each times one query and checks
its answer, so a run with ``--benchmark-enable`` measures something right.
Disabled by default (``addopts``); ``make bench`` is the side-by-side run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tokhai_engine import Engine, synth

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))


@pytest.fixture(scope="module")
def data():
    return synth.generate(300_000, days=7, seed=21)


@pytest.fixture(scope="module")
def loaded(data):
    engine = Engine()
    engine.add_stays(*data.columns())
    cases = np.unique(data.persons[:150])[:100]
    return data, engine, cases, int(data.t_in.min()), int(data.t_out.max())


def test_build(benchmark, data):
    def build():
        engine = Engine()
        engine.add_stays(*data.columns())
        return engine

    assert len(benchmark(build)) == len(data)


def test_contacts_many_against_ncls(benchmark, loaded):
    peers = pytest.importorskip("peers")
    pytest.importorskip("ncls")
    data, engine, cases, start, end = loaded
    got = benchmark(engine.contacts_many, cases, start, end, min_overlap=900)
    want = peers.NclsPeer(*data.columns()).contacts_many(cases, start, end, min_overlap=900)
    assert len(got) > 0
    for name, column in got.columns().items():
        np.testing.assert_array_equal(want.columns()[name].astype(column.dtype), column, err_msg=name)


def test_trace_two_hops(benchmark, loaded):
    _, engine, cases, start, end = loaded
    traced = benchmark(engine.trace, cases[:5], start, end, hops=2, min_overlap=900)
    assert set(traced.hop.tolist()) == {0, 1, 2}
    assert (np.diff(traced.hop.astype(np.int64)) >= 0).all()
