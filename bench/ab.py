"""Two builds of the engine side by side in one process, taking turns, so
that the machine's swings (a shared two-core machine drifts by a third and
more) hit both alike. How a change to the engine is measured:

    .venv/bin/maturin develop --release && .venv/bin/python bench/ab.py stage old   # before the change
    .venv/bin/maturin develop --release && .venv/bin/python bench/ab.py stage new   # after it
    .venv/bin/python bench/ab.py build old new --per-day 10M --days 3    # in-memory build from 10M batches
    .venv/bin/python bench/ab.py build old new --region 20M              # in-memory build of one 20M batch
    .venv/bin/python bench/ab.py build old new --per-day 6666667 --days 6 --durable   # 40M into a new store, then closed
    .venv/bin/python bench/ab.py ingest old new --durable --writers 4    # 20M stays in batches of 10,000 into a durable store
    .venv/bin/python bench/ab.py f1 old new --size 100M                  # contacts_many of 1,000 cases
    .venv/bin/python bench/ab.py f1 old new --region 20M                 # the same on the region model
    .venv/bin/python bench/ab.py f1 old new --cases 16000 --hops 2       # trace of 16,000 cases, two hops
    .venv/bin/python bench/ab.py stall old new --size 20M                # how long an add waits during a trace
    .venv/bin/python bench/ab.py stall old new --cases 16000 --hops 0    # ... during contacts_many
    .venv/bin/python bench/ab.py add1 old new                            # one-row durable adds
    .venv/bin/python bench/ab.py generate old new --size 10M             # the national workload generator (--model-changed: new draws)
    .venv/bin/python bench/ab.py build old new --fresh --rounds 5        # each round in a new process: a first build's cost
    .venv/bin/python bench/ab.py f1 old new --size 30M --fresh --rounds 5   # a first query's, after loading

`stage` copies the installed package (python/tokhai_engine, with its built
extension) to target/ab/NAME as the module `tk_NAME`. Each measurement
prints the median of its rounds for each build, and their ratio.

In one process the builds share what the first round made the kernel give
(a build writes some 80 bytes a stay of fresh memory, whose first touch
costs more than the writes): later rounds run up to twice as fast as the
first. `--fresh` runs each round in a new process, loading the data
again, and times one build, or one query after loading, as a benchmark's
single run does.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import store
from national import parse_size
from tokhai_engine import synth

ROOT = Path(__file__).parents[1]
STAGE = ROOT / "target" / "ab"
CHUNK = 10_000_000


def stage(name: str) -> None:
    to = STAGE / name / f"tk_{name}"
    shutil.rmtree(to.parent, ignore_errors=True)
    shutil.copytree(ROOT / "python" / "tokhai_engine", to, ignore=shutil.ignore_patterns("__pycache__"))
    for f in [*to.glob("*.py"), *to.glob("*.pyi")]:
        f.write_text(re.sub(r"\btokhai_engine\b", f"tk_{name}", f.read_text()))
    print(f"staged {to}")


def load(name: str):  # noqa: ANN201 - a staged copy of tokhai_engine
    sys.path.insert(0, str(STAGE / name))
    return importlib.import_module(f"tk_{name}")


def in_turns(names: list[str], rounds: int, run) -> None:  # noqa: ANN001 - run(name) -> a figure
    """`run` for each build in turn, the order flipped every round."""
    got: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            got[name].append(run(name))
    medians = {n: float(np.median(v)) for n, v in got.items()}
    for n, v in got.items():
        print(f"{n}: median {medians[n]:.4g}  rounds {['%.4g' % x for x in v]}")
    a, b = names
    print(f"{b} / {a}: {medians[b] / medians[a]:.3f}")


def national(size: int, days: int) -> synth.National:
    return synth.National.scaled(size * (days + 1) // days, days=days + 1, seed=7)


def build(args, mods) -> None:  # noqa: ANN001
    if args.region:
        # One batch of the region model, as bench/compare.py builds it.
        chunks = [synth.generate(args.region, days=14, seed=0).columns()]
    else:
        chunks = [c.columns() for c in national(args.per_day * args.days, args.days).chunks(CHUNK, days=range(args.days))]
    n = sum(len(c[0]) for c in chunks)

    def run(name: str) -> float:
        with tempfile.TemporaryDirectory(dir=args.dir) as room:
            engine = mods[name].Engine.open(room) if args.durable else mods[name].Engine()
            t = time.perf_counter()
            for c in chunks:
                engine.add_stays(*c)
            engine.close()  # a durable build ends with its last checkpoint
            return n / (time.perf_counter() - t) / 1e6

    if args.once:
        print(run(args.once))
        return
    kind = "durable build (then close)" if args.durable else "build"
    print(f"{kind} of {n:,} stays from {len(chunks)} batches, M stays/s (higher is better)")
    in_turns(list(mods), args.rounds, run)


def query(args, engine, cases, start, end):  # noqa: ANN001, ANN201 - a Trace or ContactPairs
    """The trace of `args.hops` hops, or with none, contacts_many."""
    if args.hops:
        return engine.trace(cases, start, end, hops=args.hops, min_overlap=900)
    return engine.contacts_many(cases, start, end, min_overlap=900)


def f1(args, mods) -> None:  # noqa: ANN001
    engines, cases, start, end, size = loaded(args, mods)
    answers = {}

    if args.once:
        time.sleep(1)  # the load's aftermath (arrays freed, the kernel's page work) first
        t = time.perf_counter()
        query(args, engines[args.once], cases, start, end)
        print(time.perf_counter() - t)
        return

    def run(name: str) -> float:
        t = time.perf_counter()
        found = query(args, engines[name], cases, start, end)
        answers[name] = (len(found), int(found.exposure.sum()), int(found.exposed_at.sum())) if args.hops else len(found)
        return time.perf_counter() - t

    what = f"trace (hops={args.hops})" if args.hops else "F1"
    model = "region" if args.region else "national"
    print(f"{what} of {len(cases):,} cases over 14 days, {size:,} stays of the {model} model, s (lower is better)")
    in_turns(list(mods), args.rounds, run)
    print(f"{'people, exposure and exposed_at sums' if args.hops else 'pairs'}: {answers}")
    if len(set(answers.values())) != 1:
        raise SystemExit("the builds disagree")


def stall(args, mods) -> None:  # noqa: ANN001
    """How long a one-row add waits while a trace (or, with no hops,
    contacts_many) runs: the longest wait of adds made one a millisecond
    from another thread."""
    engines, cases, start, end, size = loaded(args, mods)
    at = [0]

    def timed(engine, took: list[float]) -> None:  # noqa: ANN001
        t = time.perf_counter()
        query(args, engine, cases, start, end)
        took.append(time.perf_counter() - t)

    def run(name: str) -> float:
        engine, done, waits, took = engines[name], threading.Event(), [], []
        tracing = threading.Thread(target=lambda: (timed(engine, took), done.set()))
        tracing.start()
        t0 = synth.DEFAULT_START + 3_600
        while not done.is_set():
            at[0] += 1
            t = time.perf_counter()
            engine.add_stays([2**60 + at[0]], [2**60], [t0 + at[0]], [t0 + at[0] + 600])  # a stranger, at a venue of its own
            waits.append(time.perf_counter() - t)
            time.sleep(0.001)
        tracing.join()
        w = np.array(waits) * 1e3
        print(f"  {name}: {len(w)} adds, waits p50 {np.median(w):.2f} ms, p99 {np.percentile(w, 99):.0f} ms, longest {w.max():.0f} ms; the query took {took[0]:.2f} s")
        return max(waits)

    during = f"a trace of {len(cases):,} cases and {args.hops} hops" if args.hops else f"contacts_many of {len(cases):,} cases"
    print(f"the longest wait of a one-row add during {during}, {size:,} stays, s (lower is better)")
    in_turns(list(mods), args.rounds, run)


def loaded(args, mods):  # noqa: ANN001, ANN201 - (engines, cases, start, end, size)
    """An engine of each build holding the same stays, and the cases."""
    days = 14
    engines = {name: mod.Engine() for name, mod in mods.items()}
    rng, picks = np.random.default_rng(1), []
    if args.region:
        # The region model's data and cases, as bench/compare.py has them.
        data = synth.generate(args.region, days=days, seed=0)
        for engine in engines.values():
            engine.add_stays(*data.columns())
        cases = np.sort(np.unique(rng.choice(data.persons, size=args.cases * 2))[: args.cases])
        start = np.full(len(cases), int(data.t_in.min()))
        end = np.full(len(cases), int(data.t_out.max()))
        size = args.region
    else:
        for chunk in national(args.size, days).chunks(CHUNK, days=range(days)):
            cols = chunk.columns()
            for engine in engines.values():
                engine.add_stays(*cols)
            if len(cols[0]):
                picks.append(cols[0][rng.integers(0, len(cols[0]), max(4_000, 2 * args.cases * len(cols[0]) // args.size))])
        cases = np.unique(np.concatenate(picks))
        rng.shuffle(cases)
        cases = cases[: args.cases]
        start = np.full(len(cases), synth.DEFAULT_START)
        end = start + days * synth.DAY
        size = args.size
    return engines, cases, start, end, size


def ingest(args, mods) -> None:  # noqa: ANN001
    # The region model in arrival (t_in) order, as bench/store.py feeds it.
    data = synth.generate(args.region, days=14, seed=0)
    order = np.argsort(data.t_in, kind="stable")
    work = store.batches([c[order] for c in data.columns()], args.batch)

    def run(name: str) -> float:
        with tempfile.TemporaryDirectory(dir=args.dir) as room:
            engine = mods[name].Engine.open(room) if args.durable else mods[name].Engine()
            t = time.perf_counter()
            store.ingest(engine, work, args.writers)
            rate = len(engine) / (time.perf_counter() - t) / 1e6
            engine.close()
        return rate

    kind = "durable" if args.durable else "in-memory"
    print(f"{kind} ingest of {len(data):,} stays in batches of {args.batch:,}, {args.writers} writers, M stays/s (higher is better)")
    in_turns(list(mods), args.rounds, run)


def add1(args, mods) -> None:  # noqa: ANN001
    now = int(time.time())
    data = synth.generate(2_000_000, days=14, start=now - 15 * synth.DAY, seed=21)
    room = tempfile.TemporaryDirectory(dir=args.dir)
    engines = {}
    for name, mod in mods.items():
        engines[name] = mod.Engine.open(Path(room.name) / name)
        engines[name].add_stays(*data.columns())
    at = [0]

    def run(name: str) -> float:
        engine, t = engines[name], time.perf_counter()
        for _ in range(2_000):
            at[0] += 1
            engine.add_stays([at[0]], [5], [now + at[0]], [now + at[0] + 600])
        return (time.perf_counter() - t) / 2_000 * 1e6

    print("one-row adds to a durable store holding 2M stays, us each (lower is better)")
    in_turns(list(mods), args.rounds, run)
    for engine in engines.values():
        engine.close()
    room.cleanup()


def generate(args, mods) -> None:  # noqa: ANN001
    days = 14
    model = {name: importlib.import_module(f"tk_{name}.synth").National for name in mods}
    models = {name: national.scaled(args.size * (days + 1) // days, days=days + 1, seed=7) for name, national in model.items()}
    made: dict[str, tuple[int, int]] = {}

    def run(name: str) -> float:
        n = total = 0
        t = time.perf_counter()
        for chunk in models[name].chunks(CHUNK, days=range(days)):
            cols = chunk.columns()
            n, total = n + len(cols[0]), total + int(cols[2][::1_000].sum())
        made[name] = (n, total)
        return n / (time.perf_counter() - t) / 1e6

    print(f"the national model's {args.size:,} stays in {CHUNK:,}-stay chunks, M stays/s (higher is better)")
    in_turns(list(mods), args.rounds, run)
    if len(set(made.values())) != 1:
        message = f"the builds generate different stays (count, sum of a sample of t_in): {made}"
        if not args.model_changed:
            raise SystemExit(message)
        print(message)


def fresh(args) -> None:  # noqa: ANN001
    """Each round of `build` or `f1` in a process of its own (`--once NAME`)."""
    argv = [a for a in sys.argv[1:] if a != "--fresh"]

    def run(name: str) -> float:
        done = subprocess.run([sys.executable, __file__, *argv, "--once", name], check=True, capture_output=True, text=True)
        return float(done.stdout.split()[-1])

    unit = "M stays/s (higher is better)" if args.what == "build" else "s (lower is better)"
    print(f"{args.what}, each round in a new process, {unit}")
    in_turns([args.a, args.b], args.rounds, run)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    sub.add_parser("stage").add_argument("name")
    for what in ("build", "ingest", "f1", "stall", "add1", "generate"):
        p = sub.add_parser(what)
        p.add_argument("a")
        p.add_argument("b")
        p.add_argument("--rounds", type=int, default=4 if what in ("build", "ingest") else 8)
        if what == "build":
            p.add_argument("--per-day", type=parse_size, default=parse_size("10M"))
            p.add_argument("--days", type=int, default=3)
            p.add_argument("--region", type=parse_size, help="instead, one batch of this many stays of the 14-day region model")
            p.add_argument("--durable", action="store_true", help="into a new store (Engine.open), closed at the end")
        if what in ("f1", "stall", "generate"):
            p.add_argument("--size", type=parse_size, default=parse_size("10M"))
            p.add_argument("--cases", type=int, default=1_000)
        if what in ("f1", "stall"):
            p.add_argument("--region", type=parse_size, help="instead of the national model, this many stays of the 14-day region model")
        if what == "f1":
            p.add_argument("--hops", type=int, default=0, help="trace with this many hops instead of contacts_many")
        if what == "stall":
            p.add_argument("--hops", type=int, default=2, help="the trace's hops; 0: contacts_many instead")
        if what == "generate":
            p.add_argument("--model-changed", action="store_true", help="the change means to change the stays generated: report a difference, do not fail on it")
        if what == "ingest":
            p.add_argument("--region", type=parse_size, default=parse_size("20M"), help="stays of the 14-day region model")
            p.add_argument("--batch", type=int, default=10_000)
            p.add_argument("--writers", type=int, default=1)
            p.add_argument("--durable", action="store_true", help="into a new store (Engine.open), every batch fsynced")
        if what in ("add1", "ingest", "build"):
            p.add_argument("--dir", default="/var/tmp")
        if what in ("build", "f1"):
            p.add_argument("--fresh", action="store_true", help="each round in a new process (the data loaded again): a first run's cost")
            p.add_argument("--once", metavar="NAME", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.what == "stage":
        stage(args.name)
        return
    if getattr(args, "fresh", False):
        fresh(args)
        return
    names = [args.once] if getattr(args, "once", None) else [args.a, args.b]
    mods = {name: load(name) for name in names}
    {"build": build, "ingest": ingest, "f1": f1, "stall": stall, "add1": add1, "generate": generate}[args.what](args, mods)


if __name__ == "__main__":
    main()
