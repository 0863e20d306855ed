"""pytest-benchmark cases at a small size: each times one query and checks
its answer, so a run with ``--benchmark-enable`` measures something right.
Timing is off by default (``addopts``): ``make test`` runs each once, as
a test of its answer. ``make bench`` is the side-by-side run."""

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


# The national model at a small size, each query beside every peer that is
# installed: `pytest tests/test_bench.py --benchmark-enable` compares them per
# group. bench/national.py is the full-size run.

PEER_KEYS = ["duckdb", "ncls", "superintervals", "numpy"]


@pytest.fixture(scope="module")
def national():
    model = synth.National.scaled(200_000, days=7, seed=4)
    cols = next(model.chunks(10**9)).columns()
    engine = Engine()
    engine.add_stays(*cols)
    rng = np.random.default_rng(0)
    cases = np.sort(np.unique(cols[0][rng.integers(0, len(cols[0]), 300)])[:200])
    w = rng.integers(0, len(cols[0]), 2_000)
    windows = (cols[1][w], cols[2][w] - 3_600, cols[2][w] + 3_600)
    return model, cols, engine, cases, windows


def test_national_generation(benchmark):
    model = synth.National.scaled(1_000_000, days=7, seed=4)
    n = benchmark(lambda: sum(len(c) for c in model.chunks(250_000)))
    assert abs(n / model.expected_stays - 1) < 0.01


def _peer(key, cols):
    peers = pytest.importorskip("peers")
    pytest.importorskip({"numpy": "numpy"}.get(key, key))
    return peers.PEERS[key](cols)


@pytest.mark.benchmark(group="national windows")
@pytest.mark.parametrize("system", ["engine", *PEER_KEYS])
def test_national_windows(benchmark, national, system):
    _, cols, engine, _, windows = national
    want = engine.present_many(*windows)
    who = engine if system == "engine" else _peer(system, cols)
    got = benchmark(who.present_many, *windows)
    assert len(want) > 1_000
    for name, column in want.columns().items():
        np.testing.assert_array_equal(np.asarray(got.columns()[name], dtype=column.dtype), column)


@pytest.mark.benchmark(group="national F1")
@pytest.mark.parametrize("system", ["engine", *PEER_KEYS])
def test_national_f1(benchmark, national, system):
    model, cols, engine, cases, _ = national
    start, end = model.start, model.start + model.days * synth.DAY
    want = engine.contacts_many(cases, start, end, min_overlap=900)
    who = engine if system == "engine" else _peer(system, cols)
    got = benchmark(who.contacts_many, cases, start, end, min_overlap=900)
    assert len(want) > 1_000
    for name, column in want.columns().items():
        np.testing.assert_array_equal(np.asarray(got.columns()[name], dtype=column.dtype), column)
