"""The durable store beside the in-memory engine: same data, one run.

Measures, for N synthetic stays in arrival (t_in) order:
- in-memory build from whole arrays, and in-memory ingest in 10,000-stay batches;
- durable ingest in 10,000-stay batches from W writer threads (every call
  returns only once fsynced; writers share fsyncs), and from one thread;
- close (the final checkpoint), reopen (maps and checks the sealed files),
  reopen after a crash (replays the log), bytes on disk per stay.
Answers of the reopened store are checked against the in-memory engine's.

    python bench/store.py --stays 20000000 [--writers 4] [--dir /path] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from tokhai_engine import Engine, synth

BATCH = 10_000


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def batches(cols, size=BATCH):
    return [[c[lo : lo + size] for c in cols] for lo in range(0, len(cols[0]), size)]


def ingest(engine: Engine, work: list, writers: int) -> None:
    """Add every batch from `writers` threads, each taking the next batch."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for b in work:
        todo.put(b)
    errors: list[BaseException] = []

    def writer():
        try:
            while True:
                try:
                    b = todo.get_nowait()
                except queue.Empty:
                    return
                engine.add_stays(*b)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir())


def check(engine: Engine, reference: Engine, data) -> None:
    start = int(data.t_in.min())
    cases = np.unique(data.persons[:: max(1, len(data) // 50)])[:50]
    assert len(engine) == len(reference)
    a = engine.contacts_many(cases, start, start + 14 * 86_400, min_overlap=900)
    b = reference.contacts_many(cases, start, start + 14 * 86_400, min_overlap=900)
    assert all(np.array_equal(a.columns()[k], b.columns()[k]) for k in a.columns()), "reopened store answers differ"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stays", type=int, default=2_000_000)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--dir", type=Path, default=None, help="where to put the stores (default: a temporary directory)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    data = synth.generate(args.stays, days=args.days, seed=11)
    order = np.argsort(data.t_in, kind="stable")
    cols = [c[order] for c in data.columns()]
    work = batches(cols)
    n = len(data)
    rows: dict[str, float] = {"stays": n, "days": args.days, "batch": BATCH, "writers": args.writers}

    memory, rows["memory_build_s"] = timed(lambda: (e := Engine(), e.add_stays(*cols))[0])
    rows["memory_bytes_per_stay"] = memory.memory_bytes() / n
    batched = Engine()
    _, rows["memory_batches_s"] = timed(ingest, batched, work, 1)
    del batched

    base = Path(tempfile.mkdtemp(prefix="tokhai-bench-", dir=args.dir))
    try:
        store = base / "store"
        durable = Engine.open(store)
        _, rows["durable_batches_s"] = timed(ingest, durable, work, args.writers)
        _, rows["close_s"] = timed(durable.close)
        rows["disk_bytes_per_stay"] = disk_bytes(store) / n

        reopened, rows["reopen_s"] = timed(Engine.open, store)
        check(reopened, memory, data)
        reopened.close()

        # One writer: no one to share an fsync with.
        single_n = min(n, 2_000_000)
        single = Engine.open(base / "single")
        _, t = timed(ingest, single, work[: single_n // BATCH], 1)
        rows["durable_one_writer_rate"] = single_n / t
        single.close()
        shutil.rmtree(base / "single")

        # A crash: the log since the last checkpoint is replayed on open.
        crashed = Engine.open(store, checkpoint_bytes=1 << 40)
        crashed.add_stays(*[c[: min(n, 5_000_000)] for c in cols])
        logged = min(n, 5_000_000)
        del crashed
        again, rows["reopen_replay_s"] = timed(Engine.open, store)
        rows["replayed_stays"] = logged
        again.close()
    finally:
        shutil.rmtree(base)

    rows["memory_build_rate"] = n / rows["memory_build_s"]
    rows["memory_batches_rate"] = n / rows["memory_batches_s"]
    rows["durable_batches_rate"] = n / rows["durable_batches_s"]
    rows["reopen_vs_build"] = rows["memory_build_s"] / rows["reopen_s"]
    rows["machine"] = f"{platform.node()} {os.cpu_count()} cpus"

    def m(x):
        return f"{x / 1e6:.2f}M/s"

    print(f"| {n:,} stays, {args.days} days, batches of {BATCH:,} | |")
    print("|---|---|")
    print(f"| in-memory build, whole arrays | {rows['memory_build_s']:.2f} s ({m(rows['memory_build_rate'])}) |")
    print(f"| in-memory ingest, batches | {rows['memory_batches_s']:.2f} s ({m(rows['memory_batches_rate'])}) |")
    print(f"| durable ingest, {args.writers} writers, fsync per call | {rows['durable_batches_s']:.2f} s ({m(rows['durable_batches_rate'])}) |")
    print(f"| durable ingest, 1 writer, first {single_n:,} stays into a new store | {m(rows['durable_one_writer_rate'])} |")
    print(f"| close (final checkpoint) | {rows['close_s']:.2f} s |")
    print(f"| reopen | {rows['reopen_s']:.3f} s ({rows['reopen_vs_build']:.0f}x faster than the build) |")
    print(f"| reopen replaying {rows['replayed_stays']:,} logged stays | {rows['reopen_replay_s']:.2f} s |")
    print(f"| bytes per stay: memory / disk | {rows['memory_bytes_per_stay']:.1f} / {rows['disk_bytes_per_stay']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
