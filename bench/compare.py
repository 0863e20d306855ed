"""The engine, DuckDB and ncls side by side: same synthetic data, same
queries, same machine, one run. Prints a markdown table of timings and of
each peer's time as a multiple of the engine's, and checks that every peer's
answers equal the engine's.

    python bench/compare.py --stays 20000000 [--json results.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from peers import DuckDBPeer, NclsPeer  # noqa: E402

from tokhai_engine import Engine, synth  # noqa: E402

MIN_OVERLAP = 900  # 15 minutes: the F1 rule used throughout


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def same(a, b) -> bool:
    return all(np.array_equal(np.asarray(b.columns()[k], dtype=v.dtype), v) for k, v in a.columns().items())


def trace_with(contacts_many, cases, start, end, hops=2):
    """F1 then F2 by the engine's trace rules, each hop one contacts_many call:
    how a peer without a trace query answers it."""
    reached = set(cases.tolist())
    frontier = (cases, np.full(len(cases), start), np.full(len(cases), end))
    total = len(cases)
    for _ in range(hops):
        if len(frontier[0]) == 0:
            break
        pairs = contacts_many(*frontier, min_overlap=MIN_OVERLAP)
        new = ~np.isin(pairs.person, np.fromiter(reached, np.uint64, len(reached)))
        person, first, source = pairs.person[new], pairs.first_contact[new], pairs.case[new]
        order = np.lexsort((source, first, person))
        person, first = person[order], first[order]
        keep = np.r_[True, person[1:] != person[:-1]] if len(person) else np.empty(0, bool)
        person, first = person[keep], first[keep]
        reached.update(person.tolist())
        total += len(person)
        frontier = (person, first, np.full(len(person), end))
    return total


def measure(name, build, data, cases, singles, args, reference=None):
    """Times one system on every query; returns its row and its answers."""
    gc.collect()
    system, build_s = timed(build)
    row = {"system": name, "build_s": build_s, "build_rate": len(data) / build_s}
    if hasattr(system, "memory_bytes"):
        row["bytes_per_stay"] = system.memory_bytes() / len(data)
    start, end = int(data.t_in.min()), int(data.t_out.max())
    # One case through each system's own call for it: the engine has one.
    if isinstance(system, Engine):
        single = lambda p: system.contacts(p, start, end, min_overlap=MIN_OVERLAP)  # noqa: E731
    else:
        single = lambda p: system.contacts_many(np.array([p], np.uint64), start, end, min_overlap=MIN_OVERLAP)  # noqa: E731
    times = [timed(single, p)[1] for p in singles]
    row["single_p50_ms"] = 1e3 * float(np.percentile(times, 50))
    row["single_p99_ms"] = 1e3 * float(np.percentile(times, 99))
    # The best of a few runs: the machine is shared, and one slow run says little.
    runs = [timed(system.contacts_many, cases, start, end, min_overlap=MIN_OVERLAP) for _ in range(args.repeat)]
    many, row["many_s"] = runs[0][0], min(s for _, s in runs)
    row["many_pairs"] = len(many)
    trace_cases = cases[: args.trace_cases]
    if isinstance(system, Engine):
        traced, row["trace_s"] = timed(system.trace, trace_cases, start, end, hops=2, min_overlap=MIN_OVERLAP)
        row["traced"] = len(traced)
    else:
        row["traced"], row["trace_s"] = timed(trace_with, system.contacts_many, trace_cases, start, end)
    if reference is not None:
        row["agrees"] = same(reference, many) and row["traced"] == args.reference_traced
    del system
    gc.collect()
    return row, many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stays", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--cases", type=int, default=1_000, help="cases in the contacts_many query")
    parser.add_argument("--trace-cases", type=int, default=10, help="cases traced over two hops")
    parser.add_argument("--singles", type=int, default=200, help="single-case queries for the engine's p50/p99")
    parser.add_argument("--peer-singles", type=int, default=20, help="single-case queries for each peer")
    parser.add_argument("--peers", default="duckdb,duckdb-range,ncls")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the many-case query; the best counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()

    data, gen_s = timed(synth.generate, args.stays, days=args.days, seed=args.seed)
    print(f"{len(data):,} stays over {args.days} days generated in {gen_s:.1f} s", file=sys.stderr)
    rng = np.random.default_rng(args.seed + 1)
    cases = np.unique(rng.choice(data.persons, size=args.cases * 2))[: args.cases]
    rng.shuffle(cases)
    cases = np.sort(cases)
    singles = rng.choice(data.persons, size=args.singles)

    def build_engine():
        engine = Engine()
        engine.add_stays(*data.columns())
        return engine

    rows = []
    row, reference = measure("tokhai engine", build_engine, data, cases, singles, args)
    args.reference_traced = row["traced"]
    rows.append(row)
    print(row, file=sys.stderr)
    peers = {
        "duckdb": ("DuckDB", lambda: DuckDBPeer(*data.columns())),
        "duckdb-range": ("DuckDB, prefer_range_joins", lambda: DuckDBPeer(*data.columns(), prefer_range_joins=True)),
        "ncls": ("ncls + NumPy", lambda: NclsPeer(*data.columns())),
    }
    for key in filter(None, args.peers.split(",")):
        name, build = peers[key]
        row, _ = measure(name, build, data, cases, singles[: args.peer_singles], args, reference)
        rows.append(row)
        print(row, file=sys.stderr)

    print(report(rows, args))
    if args.json:
        args.json.write_text(json.dumps({"stays": len(data), "machine": platform.platform(), "rows": rows}, indent=2))


def report(rows, args) -> str:
    engine = rows[0]
    lines = [
        f"{args.stays:,} stays, {args.days} days; contacts with min_overlap={MIN_OVERLAP}; "
        f"{args.cases} cases in contacts_many (best of {args.repeat}); {args.trace_cases} cases traced 2 hops.",
        "",
        f"| system | build (stays/s) | bytes/stay | 1 case p50 (ms) | 1 case p99 (ms) | {args.cases:,} cases (s) | trace (s) | answers |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "" if r is engine else " (x{:.0f})"
        b = r.get("bytes_per_stay")
        lines.append(
            "| {} | {:,.0f} | {} | {:.2f}{} | {:.2f}{} | {:.3f}{} | {:.3f}{} | {} |".format(
                r["system"],
                r["build_rate"],
                f"{b:.1f}" if b else "n/a",
                r["single_p50_ms"], ratio.format(r["single_p50_ms"] / engine["single_p50_ms"]),
                r["single_p99_ms"], ratio.format(r["single_p99_ms"] / engine["single_p99_ms"]),
                r["many_s"], ratio.format(r["many_s"] / engine["many_s"]),
                r["trace_s"], ratio.format(r["trace_s"] / engine["trace_s"]),
                f"{r['many_pairs']:,} pairs, {r['traced']:,} traced" + ("" if r is engine else (", agree" if r["agrees"] else ", DISAGREE")),
            )
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
