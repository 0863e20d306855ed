"""National-scale load runs: the engine beside its peers on the national
workload (tokhai_engine.synth.National), same data, same machine, one run.

For each size, each system is built from the same stays and asked:
1. windows: who was at a venue in a 2-hour window, one window at a time
   (p50/p99) and 10,000 windows in one batch;
2. F1: contacts_many of 1, 100, 1,000 and 16,000 cases over the whole
   period, 15 minutes or more;
3. F2: the same two hops deep, time-respecting (the engine's trace; peers
   run one contacts_many per hop);
5. build, append one more day, and for the engine a durable store: ingest,
   close, reopen, bytes on disk. Resident bytes per stay for everyone.
Skew (4.) reruns the build, windows and F1 of 1,000 cases at one size with
Zipf exponents 0.7 and 1.0 and forgotten check-outs at 0% and 5%.

Every peer's answers are compared with the engine's (pairs, exposure sums,
people traced); disagreements and errors are recorded, never dropped. A
peer skips a query its earlier, smaller ones predict would run past
--budget seconds, and says so.

    python bench/national.py --sizes 10M,100M --postgres-url URL
    python bench/national.py --sizes 1000M --peers none     # the largest size, engine only

Rows are merged into --json (by workload, size and system), and
docs/benchmarks.md is regenerated from it (bench/report.py).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import datetime
import gc
import hashlib
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import peers as peer_kinds  # noqa: E402
import report  # noqa: E402

from tokhai_engine import Engine, synth  # noqa: E402

MIN_OVERLAP = 900  # 15 minutes: the F1 rule used throughout
WINDOW = 7_200  # the 2-hour windows of query 1
CHUNK = 10_000_000
DURABLE = "tokhai engine (durable)"
PREDICT_FROM = 10.0  # seconds of a smaller run to predict from, for a system that can be stopped at the budget


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9}.get(text[-1:], 1)
    return int(float(text.rstrip("KMBG")) * scale)


_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))


def rss() -> int:
    """Resident bytes, once the heap's free pages are handed back: memory a
    system frees must not hide the memory the next one takes."""
    gc.collect()
    _LIBC.malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


class Workload:
    """The stays of one run: ``days`` days to build from, one more to append.

    Up to ``keep`` stays the chunks are kept for the peers; above it they
    are generated again for each pass and never held together. Cases and
    windows are drawn from the stays as they are first generated."""

    def __init__(self, size: int, days: int, seed: int, keep: int, **model):
        self.model = synth.National.scaled(size * (days + 1) // days, days=days + 1, seed=seed, **model)
        self.days, self.seed = days, seed
        self.checkpoint_bytes = 256 << 20
        self.start, self.end = synth.DEFAULT_START, synth.DEFAULT_START + days * synth.DAY
        self.kept = [] if size <= keep else None
        self.n = 0
        self.generate_s = self._time_generator()
        for _ in self.stream():  # draws the cases and windows, keeps the chunks if it may
            pass
        self._extra = None
        self.append_stays = round(self.model.expected_stays / (days + 1))

    @property
    def extra(self):
        """The day after, to append; generated when first asked for."""
        if self._extra is None:
            chunks = self.model.chunks(CHUNK, days=range(self.days, self.days + 1))
            self._extra = tuple(np.concatenate(c) for c in zip(*(chunk.columns() for chunk in chunks)))
        return self._extra

    def _time_generator(self) -> float:
        """Seconds to generate the first ``days`` days in chunks, each let go
        once the next is made: the generator's own speed. (The pass that
        keeps the chunks for the peers also pays for every page of the
        memory that holds them, touched for the first time.)"""
        t = time.perf_counter()
        for _ in self.model.chunks(CHUNK, days=range(self.days)):
            pass
        return time.perf_counter() - t

    def stream(self):
        """The chunks of the first ``days`` days, in order."""
        if self.kept:
            yield from self.kept
            return
        first = self.n == 0
        rng = np.random.default_rng(self.seed + 1)
        picks, windows = [], []
        chunks = self.model.chunks(CHUNK, days=range(self.days))
        while True:
            chunk = next(chunks, None)
            if chunk is None:
                break
            cols = chunk.columns()
            if first:
                self.n += len(cols[0])
                share = len(cols[0]) / self.model.expected_stays * (self.days + 1) / self.days
                picks.append(cols[0][rng.integers(0, len(cols[0]), int(np.ceil(20 * 16_000 * share)))])
                w = rng.integers(0, len(cols[0]), int(np.ceil(10_000 * share)))
                windows.append((cols[1][w], cols[2][w]))
                if self.kept is not None:
                    self.kept.append(cols)
            yield cols
        if first:
            cases = np.unique(np.concatenate(picks))
            rng.shuffle(cases)
            self.cases = cases  # the first n of them are the n cases
            venues, t_in = (np.concatenate(c)[:10_000] for c in zip(*windows))
            starts = t_in - rng.integers(0, WINDOW, len(t_in))
            self.windows = (venues, starts, starts + WINDOW)

    @property
    def base(self):
        """The first ``days`` days as four whole columns (for the peers)."""
        if self.kept is None:
            raise ValueError("stays above --keep are not held whole")
        if len(self.kept) > 1:
            self.kept = [tuple(np.concatenate(c) for c in zip(*self.kept))]
        return self.kept[0]

    def __len__(self) -> int:
        return self.n

    def describe(self) -> dict:
        m = self.model
        return {"stays": self.n, "append_stays": self.append_stays, "days": self.days, "people": m.people, "venues": m.venues,
                "zipf": m.zipf, "forgotten": m.forgotten, "generate_s": self.generate_s, "generate_rate": self.n / self.generate_s}  # fmt: skip


class EngineSystem:
    """The engine with the query names the peers answer to, built from the
    workload's chunks as a national feed would arrive: in memory, or into a
    durable store that is then closed and reopened."""

    def __init__(self, work: Workload, store: Path | None = None, rows: list | None = None):
        self.name = "tokhai engine (durable)" if store else "tokhai engine"
        self.engine = Engine.open(store, checkpoint_bytes=work.checkpoint_bytes) if store else Engine()
        self.seconds = 0.0
        for cols in work.stream():
            t = time.perf_counter()
            self.engine.add_stays(*cols)
            self.seconds += time.perf_counter() - t
        if store:
            _, close_s = timed(self.engine.close)
            disk = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
            self.engine, reopen_s = timed(Engine.open, store)
            rows.append({"query": "durable_close", "seconds": close_s})
            rows.append({"query": "durable_reopen", "seconds": reopen_s, "disk_bytes_per_stay": disk / len(work),
                         "reopen_vs_build": self.seconds / reopen_s})  # fmt: skip

    def append(self, *columns):
        self.engine.add_stays(*columns)

    def close(self):
        self.engine.close()

    def memory_bytes(self) -> int:
        return self.engine.memory_bytes()

    def present_one(self, venue, start, end):
        return self.engine.present(venue, start, end)

    def present_many(self, venues, starts, ends):
        return self.engine.present_many(venues, starts, ends)

    def contacts_many(self, persons, starts, ends, *, min_overlap=0, linger=0):
        return self.engine.contacts_many(persons, starts, ends, min_overlap=min_overlap, linger=linger)

    def trace(self, cases, start, end):
        t = self.engine.trace(cases, start, end, hops=2, min_overlap=MIN_OVERLAP)
        return summary_of_trace(t.hop, t.exposed_at, t.exposure)


def summary_of_trace(hop, exposed_at, exposure) -> dict:
    return {"people": int(len(hop)), "f1": int((hop == 1).sum()), "f2": int((hop == 2).sum()),
            "exposure_sum": int(np.sum(exposure, dtype=np.int64)), "exposed_at_sum": int(np.sum(exposed_at, dtype=np.int64))}  # fmt: skip


def trace_with(contacts_many, cases, start, end, hops=2) -> dict:
    """F1 then F2 by the engine's trace rules, one contacts_many per hop:
    how a system without a trace query answers it."""
    reached = np.sort(cases)
    hop, at, exposure = [np.zeros(len(cases), np.int64)], [np.full(len(cases), start)], [np.zeros(len(cases), np.int64)]
    frontier = (np.sort(cases), np.full(len(cases), start))
    for k in range(1, hops + 1):
        if len(frontier[0]) == 0:
            break
        pairs = contacts_many(frontier[0], frontier[1], np.full(len(frontier[0]), end), min_overlap=MIN_OVERLAP)
        person, first, source, expo = (np.asarray(c) for c in (pairs.person, pairs.first_contact, pairs.case, pairs.exposure))
        new = ~np.isin(person, reached)
        person, first, source, expo = person[new], first[new], source[new], expo[new]
        # Each person's earliest contact, the smallest source on a tie.
        order = np.lexsort((source, first, person))
        person, first, expo = person[order], first[order], expo[order]
        keep = np.r_[True, person[1:] != person[:-1]] if len(person) else np.empty(0, bool)
        person, first, expo = person[keep], first[keep], expo[keep]
        hop.append(np.full(len(person), k))
        at.append(first)
        exposure.append(expo)
        reached = np.union1d(reached, person)
        frontier = (person, first)
    return summary_of_trace(np.concatenate(hop), np.concatenate(at), np.concatenate(exposure))


def answer_of(found) -> dict:
    """What two systems' answers must share: sizes, sums, and a digest of
    every column in the order answered (the same for every peer: the
    queries define it)."""
    cols = found.columns()
    out = {"rows": len(found)}
    for name in ("exposure", "person"):
        if name in cols:
            out[f"{name}_sum"] = int(np.sum(np.asarray(cols[name]).astype(np.uint64), dtype=np.uint64) % (1 << 62))
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(cols):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(np.asarray(cols[name]).astype("<u8")).tobytes())
    out["digest"] = digest.hexdigest()
    return out


def same_answer(a: dict, b: dict) -> bool:
    """Whether two answers agree on everything both say (an answer saved
    before digests were has none)."""
    return all(a[k] == b[k] for k in a.keys() & b.keys())


class Run:
    """Rows of one system on one workload, with the budget rule."""

    def __init__(self, args, work: Workload, label: dict, reference: dict | None):
        self.args, self.work, self.label, self.reference, self.rows = args, work, label, reference, []
        self.system = None
        self.spent: dict[str, tuple[int, float]] = {}

    def row(self, query: str, n: int | None = None, **values):
        row = {**self.label, "query": query, "n": n, **values}
        key = f"{query}:{n}"
        if self.reference is not None and "answer" in values and key in self.reference:
            row["agrees"] = same_answer(values["answer"], self.reference[key])
        self.rows.append(row)
        shown = {k: v for k, v in row.items() if k in ("workload", "size", "system", "query", "n", "seconds", "rate", "p50_ms", "agrees", "error", "skipped")}
        print(json.dumps(shown), file=sys.stderr, flush=True)
        return row

    def attempt(self, query: str, n: int, fn, *a, **kw):
        """Runs a query unless the same query at a smaller n predicts it would
        take more than the budget; errors are recorded as the answer."""
        last = self.spent.get(query)
        budget = self.args.engine_budget if self.label["system"].startswith("tokhai") else self.args.budget
        # A run of a second or so is mostly fixed costs, which a straight
        # line from it multiplies (DuckDB's 1 case in 0.16 s, 100 in 1.0 s):
        # a system that can be stopped at the budget is tried instead.
        stoppable = hasattr(self.system, "interrupt") and last is not None and last[1] < PREDICT_FROM
        if last and last[1] * n / last[0] > budget and not stoppable:
            return self.row(query, n, skipped=f"predicted {last[1] * n / last[0]:.0f} s from {last[0]:,}, over the {budget:.0f} s budget")
        # A system that can stop a query is stopped at the budget.
        stop = threading.Timer(budget, self.system.interrupt) if hasattr(self.system, "interrupt") else None
        if stop:
            stop.start()
        try:
            found, seconds = timed(fn, *a, **kw)
        except Exception as e:  # noqa: BLE001 - a peer's failure is a result
            self.spent[query] = (n, float("inf"))
            if stop and not stop.is_alive():
                return self.row(query, n, skipped=f"stopped at the {budget:.0f} s budget")
            return self.row(query, n, error=f"{type(e).__name__}: {e}".splitlines()[0][:200])
        finally:
            if stop:
                stop.cancel()
        self.spent[query] = (n, seconds)
        return self.row(query, n, seconds=seconds, answer=found if isinstance(found, dict) else answer_of(found))


def measure(args, work: Workload, name: str, build, label: dict, reference: dict | None, full: bool = True) -> list[dict]:
    """Builds one system with ``build(work) -> (system, seconds)`` and asks it everything."""
    before = rss()
    run = Run(args, work, {**label, "system": name}, reference)
    try:
        system, seconds = build(work)
    except Exception as e:  # noqa: BLE001
        run.row("build", error=f"{type(e).__name__}: {e}".splitlines()[0][:200])
        return run.rows
    run.system = system
    resident = rss() - before
    memory = system.memory_bytes() if hasattr(system, "memory_bytes") else None
    run.row("build", len(work), seconds=seconds, rate=len(work) / seconds, resident_bytes_per_stay=resident / len(work),
            own_bytes_per_stay=memory / len(work) if memory else None)  # fmt: skip
    for extra in getattr(system, "extra_rows", []):
        run.row(extra.pop("query"), len(work), **extra)
    start, end = work.start, work.end
    venues, starts, ends = work.windows
    # 1. Windows, one at a time: the engine's own call; the peers' batch call with one window.
    single = getattr(system, "present_one", None) or (lambda v, s, e: system.present_many(np.array([v], np.uint64), np.array([s]), np.array([e])))
    k = args.singles if hasattr(system, "present_one") else args.peer_singles
    try:
        times = [timed(single, int(venues[i]), int(starts[i]), int(ends[i]))[1] for i in range(k)]
        run.row("window_single", k, p50_ms=1e3 * float(np.percentile(times, 50)), p99_ms=1e3 * float(np.percentile(times, 99)),
                latencies_ms=[1e3 * t for t in times])  # fmt: skip
    except Exception as e:  # noqa: BLE001
        run.row("window_single", k, error=f"{type(e).__name__}: {e}".splitlines()[0][:200])
    run.attempt("window_batch", len(venues), system.present_many, venues, starts, ends)
    # 2. and 3. F1 and F2 for growing numbers of cases over the whole
    # period, every F1 first, so that each system's F1 follows the same
    # work: interleaved, the engine's F1 of 1,000 cases followed its F2 of
    # 100 (13 s at 100M, gigabytes allocated and freed), the peers' their
    # F1 of 100 (their F2 stops at one case there).
    for n in args.cases if full else [1_000]:
        run.attempt("f1", n, system.contacts_many, np.sort(work.cases[:n]), start, end, min_overlap=MIN_OVERLAP)
    for n in args.cases if full else []:
        cases = np.sort(work.cases[:n])
        if args.f2_cases is not None and n not in args.f2_cases and not name.startswith("tokhai"):
            run.row("f2", n, skipped=f"F2 of the peers run for {', '.join(map(str, args.f2_cases))} cases only at this size, to bound the run")
        elif name == DURABLE and n > 100:
            run.row("f2", n, skipped="the durable engine runs the in-memory engine's code over mapped files: F2 up to 100 cases shows it")
        else:
            tracer = getattr(system, "trace", None) or (lambda c, s, e: trace_with(system.contacts_many, c, s, e))
            run.attempt("f2", n, tracer, cases, start, end)
    # 5. Append one day.
    if full:
        try:
            _, seconds = timed(system.append, *work.extra)
            run.row("append_day", len(work.extra[0]), seconds=seconds, rate=len(work.extra[0]) / seconds)
        except Exception as e:  # noqa: BLE001
            run.row("append_day", len(work.extra[0]), error=f"{type(e).__name__}: {e}".splitlines()[0][:200])
    if hasattr(system, "close"):
        system.close()
    del system
    gc.collect()
    return run.rows


def builders(args) -> list[tuple[str, object]]:
    keys = [] if args.peers == "none" else list(peer_kinds.PEERS) if args.peers == "all" else args.peers.split(",")
    return [(key, peer_kinds.PEERS[key]) for key in keys]


def run_size(args, size: int, label: dict, model: dict, full: bool) -> list[dict]:
    work = Workload(size, args.days, args.seed, args.keep, **model)
    work.checkpoint_bytes = args.checkpoint_mib << 20
    label = {**label, **work.describe()}
    print(f"{label}", file=sys.stderr, flush=True)
    rows, reference = [], None

    def engine(store=None):
        def build(work):
            extra = []
            system = EngineSystem(work, store, extra)
            system.extra_rows = extra
            return system, system.seconds

        return build

    if work.kept is not None and args.engine:
        rows += measure(args, work, "tokhai engine", engine(), label, None, full)
        merge(args.json, rows)
    if work.kept is not None:
        # The in-memory engine's answers, of this run or (with --no-engine) the last.
        saved = json.loads(args.json.read_text())["rows"] if args.json.exists() else []
        reference = {f"{r['query']}:{r['n']}": r["answer"] for r in saved
                     if (r["workload"], r["size"], r["system"]) == (label["workload"], size, "tokhai engine") and "answer" in r}  # fmt: skip
    if full and args.durable:
        root = Path(tempfile.mkdtemp(prefix="tokhai-national-", dir=args.dir))
        try:
            rows += measure(args, work, DURABLE, engine(root / "store"), label, reference, full)
            merge(args.json, rows)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    if work.kept is None:
        return rows
    for key, build in builders(args):
        if key == "postgres" and (not args.postgres_url or size > args.postgres_max):
            continue
        rows += measure(args, work, peer_kinds.NAMES[key], lambda w, b=build: timed(b, w.base, postgres_url=args.postgres_url, timeout_s=args.budget), label, reference, full)
        merge(args.json, rows)  # saved system by system: a long run can be resumed
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10M,100M", help="stays to build from (the appended day comes on top)")
    parser.add_argument("--days", type=int, default=14, help="days to build from; the size sets the check-ins a day")
    parser.add_argument("--peers", default="all", help=f"'all', 'none' or some of {','.join(peer_kinds.PEERS)}")
    parser.add_argument("--postgres-url", default=os.environ.get("TOKHAI_BENCH_DATABASE_URL"))
    parser.add_argument("--postgres-max", type=parse_size, default=10_000_000, help="largest size PostgreSQL is run at")
    parser.add_argument("--cases", default="1,100,1000,16000")
    parser.add_argument("--f2-cases", help="the case counts of the peers' F2 (default: all of --cases)")
    parser.add_argument("--singles", type=int, default=2_000, help="single windows timed for the engine")
    parser.add_argument("--peer-singles", type=int, default=200, help="single windows timed for each peer")
    parser.add_argument("--budget", type=float, default=120, help="seconds a query may be predicted to take before it is skipped")
    parser.add_argument("--engine-budget", type=float, default=3_600, help="the same for the engine, whose every answer the targets need")
    parser.add_argument("--skew-size", type=parse_size, default=10_000_000, help="size of the skew runs (0: none)")
    parser.add_argument("--keep", type=parse_size, default=200_000_000, help="largest size held whole in memory for the in-memory engine and the peers")
    parser.add_argument("--no-durable", dest="durable", action="store_false", help="skip the durable engine")
    parser.add_argument("--no-engine", dest="engine", action="store_false", help="skip the in-memory engine, checking against its saved answers (to finish a run)")
    parser.add_argument("--checkpoint-mib", type=int, default=256, help="the durable store's checkpoint interval, in MiB of log (its default: 256)")
    parser.add_argument("--dir", help="where the durable store is written (default: a temporary directory)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=Path(__file__).parents[1] / "docs" / "bench-national.json")
    parser.add_argument("--no-report", dest="report", action="store_false")
    args = parser.parse_args()
    args.cases = [int(x) for x in args.cases.split(",")]
    args.f2_cases = [int(x) for x in args.f2_cases.split(",")] if args.f2_cases else None
    # The peers' libraries loaded before any timer or memory reading: the
    # first peer built must not be charged with loading them.
    for library in ("duckdb", "pyarrow", "ncls", "superintervals", "psycopg"):
        with contextlib.suppress(ImportError):
            importlib.import_module(library)

    # Every row says which run and which code measured it: a size's rows
    # may come from runs hours apart (one system rerun on its own, say).
    run = {"run": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit()}
    for size in map(parse_size, filter(None, args.sizes.split(","))):
        run_size(args, size, {"workload": "national", "size": size, **run}, {}, full=True)
    if args.skew_size:
        for zipf in (0.7, 1.0):
            for forgotten in (0.0, 0.05):
                label = {"workload": f"skew zipf={zipf} forgotten={forgotten:.0%}", "size": args.skew_size, **run}
                run_size(args, args.skew_size, label, {"zipf": zipf, "forgotten": forgotten}, full=False)
    if args.report:
        report.write(args.json)


def commit() -> str:
    """The engine's commit, marked when the working tree differs from it."""
    def git(*args: str) -> str:
        root = Path(__file__).parents[1]
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{head}+changes" if git("status", "--porcelain", "--untracked-files=no") else head


def merge(path: Path, rows: list[dict]) -> None:
    """Keeps earlier rows of other (workload, size, system) runs: the
    largest size can be run on its own."""
    old = json.loads(path.read_text())["rows"] if path.exists() else []
    ran = {(r["workload"], r["size"], r["system"]) for r in rows}
    kept = [r for r in old if (r["workload"], r["size"], r["system"]) not in ran]
    meta = {"machine": f"{platform.platform()}, {os.cpu_count()} cpus, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB",
            "updated": datetime.date.today().isoformat()}  # fmt: skip
    path.write_text(json.dumps({**meta, "rows": kept + rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
