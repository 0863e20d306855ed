"""docs/benchmarks.md and its plots, from the rows of bench/national.py
(docs/bench-national.json) and of the gRPC load runs (docs/bench-load-*.json).

    python bench/report.py            # after a run, or to re-render
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

DOCS = Path(__file__).parents[1] / "docs"
IMAGES = DOCS / "images"
ENGINE, DURABLE = "tokhai engine", "tokhai engine (durable)"
INTERVAL_TREES = ("ncls", "superintervals")


def fmt_s(x: float) -> str:
    return f"{x:.3g}" if x < 100 else f"{x:,.0f}"


def size_name(n: int) -> str:
    return f"{n / 1e9:g}B" if n >= 10**9 else f"{n / 1e6:g}M"


class Rows:
    def __init__(self, rows: list[dict]):
        self.rows = rows
        self.at = {(r["workload"], r["size"], r["system"], r["query"], r["n"]): r for r in rows}

    def get(self, workload, size, system, query, n=None):
        if n is None:
            n = next((k[4] for k in self.at if k[:4] == (workload, size, system, query)), None)
        return self.at.get((workload, size, system, query, n))

    def systems(self, workload, size):
        seen = []
        for r in self.rows:
            if (r["workload"], r["size"]) == (workload, size) and r["system"] not in seen:
                seen.append(r["system"])
        return sorted(seen, key=lambda s: (s != ENGINE, s != DURABLE))

    def sizes(self, workload):
        return sorted({r["size"] for r in self.rows if r["workload"] == workload})

    def label(self, workload, size):
        return next(r for r in self.rows if (r["workload"], r["size"]) == (workload, size))


def cell(row, reference=None, key="seconds", unit=fmt_s) -> str:
    """A timing, its multiple of the reference's, and what its answer says."""
    if row is None:
        return ""
    if "skipped" in row:
        return "skipped¹"
    if "error" in row:
        return "error²"
    text = unit(row[key])
    if reference is not None and reference is not row and key in reference and reference[key] > 0:
        text += f" (x{row[key] / reference[key]:,.0f})" if row[key] / reference[key] >= 10 else f" (x{row[key] / reference[key]:.1f})"
    if row.get("agrees") is False:
        text += " DISAGREES"
    return text


def reference_system(rows: Rows, workload, size) -> str:
    return ENGINE if ENGINE in rows.systems(workload, size) else DURABLE


def side_by_side(rows: Rows, size: int, notes: list[str]) -> list[str]:
    w = "national"
    ref = reference_system(rows, w, size)
    systems = rows.systems(w, size)
    label = rows.label(w, size)
    cases = sorted({r["n"] for r in rows.rows if (r["workload"], r["size"], r["query"]) == (w, size, "f1")})
    runs = sorted({(r["run"], r["commit"]) for r in rows.rows if (r["workload"], r["size"]) == (w, size) and "run" in r})
    out = [
        f"### {size_name(size)} stays ({label['stays']:,} over {label['days']} days, "
        f"{label['people']:,} people, {label['venues']:,} venues; one more day of {label['append_stays']:,} appended)",
        "",
        *([f"Measured {'; '.join(f'{at} at {commit}' for at, commit in runs)}.", ""] if runs else []),
        "| system | build (stays/s) | resident bytes/stay | append a day (s) | 1 window p50 / p99 (ms) | 10,000 windows (s) |",
        "|---|---|---|---|---|---|",
    ]
    for s in systems:
        b = rows.get(w, size, s, "build")
        single = rows.get(w, size, s, "window_single")
        if b is None or "error" in b:
            out.append(f"| {s} | error² | | | | |")
            if b:
                notes.append(f"{s} at {size_name(size)}, build: {b['error']}")
            continue
        own = f" ({b['own_bytes_per_stay']:.1f} own)" if b.get("own_bytes_per_stay") else ""
        single_text = f"{single['p50_ms']:.3f} / {single['p99_ms']:.3f}" if single and "p50_ms" in single else cell(single)
        out.append(
            f"| {s} | {b['rate']:,.0f} | {b['resident_bytes_per_stay']:.1f}{own} | {cell(rows.get(w, size, s, 'append_day'))} | "
            f"{single_text} | {cell(rows.get(w, size, s, 'window_batch'), rows.get(w, size, ref, 'window_batch'))} |"
        )
    for query, title in (("f1", "F1: contacts of n cases over the whole period, 15 minutes or more (s)"),
                         ("f2", "F2: two hops, time-respecting (s)")):  # fmt: skip
        out += ["", f"{title}:", "", "| system | " + " | ".join(f"{n:,} case{'s' * (n != 1)}" for n in cases) + " |", "|---|" + "---|" * len(cases)]
        for s in systems:
            out.append(f"| {s} | " + " | ".join(cell(rows.get(w, size, s, query, n), rows.get(w, size, ref, query, n)) for n in cases) + " |")
        answers = []
        for n in cases:
            a = (rows.get(w, size, ref, query, n) or {}).get("answer")
            if a:
                answers.append(f"{n:,}: {a.get('rows', a.get('people')):,}" + (f" ({a['f1']:,} F1, {a['f2']:,} F2)" if "f1" in a else ""))
        if answers:
            out += ["", f"{'Pairs' if query == 'f1' else 'People traced'} by number of cases: " + "; ".join(answers) + "."]
    for r in rows.rows:
        if (r["workload"], r["size"]) == (w, size) and ("error" in r or "skipped" in r or r.get("agrees") is False):
            what = r.get("error") or r.get("skipped") or f"answer {r['answer']} where the engine's differs"
            what = re.sub(r"predicted inf s from ([\d,]+), .*", r"not run after it failed or was stopped at \1", what)
            notes.append(f"{r['system']} at {size_name(size)}, {r['query']} {r['n'] or ''}: {what}")
    return out


def durable_table(rows: Rows) -> list[str]:
    out = ["| size | ingest (stays/s) | close (s) | reopen (s) | reopen vs ingest | disk bytes/stay | append a day (s) |", "|---|---|---|---|---|---|---|"]
    for size in rows.sizes("national"):
        b = rows.get("national", size, DURABLE, "build")
        r = rows.get("national", size, DURABLE, "durable_reopen")
        c = rows.get("national", size, DURABLE, "durable_close")
        if not (b and r and c):
            continue
        out.append(f"| {size_name(size)} | {b['rate']:,.0f} | {c['seconds']:.2f} | {r['seconds']:.3f} | {r['reopen_vs_build']:,.0f}x faster |"
                   f" {r['disk_bytes_per_stay']:.1f} | {cell(rows.get('national', size, DURABLE, 'append_day'))} |")  # fmt: skip
    return out


def skew_table(rows: Rows) -> list[str]:
    workloads = sorted({r["workload"] for r in rows.rows if r["workload"].startswith("skew")})
    if not workloads:
        return []
    size = rows.label(workloads[0], rows.sizes(workloads[0])[0])["size"]
    out = [f"At {size_name(size)} stays; F1 of 1,000 cases and 10,000 windows in seconds, each system's multiple of the engine's in brackets.", "",
           "| workload | system | build (stays/s) | 10,000 windows (s) | F1, 1,000 cases (s) | pairs |", "|---|---|---|---|---|---|"]  # fmt: skip
    for w in workloads:
        for s in rows.systems(w, size):
            b = rows.get(w, size, s, "build")
            f1 = rows.get(w, size, s, "f1", 1000)
            pairs = f"{f1['answer']['rows']:,}" if f1 and "answer" in f1 else ""
            out.append(f"| {w.removeprefix('skew ')} | {s} | {b['rate']:,.0f} | {cell(rows.get(w, size, s, 'window_batch'), rows.get(w, size, ENGINE, 'window_batch'))} |"
                       f" {cell(f1, rows.get(w, size, ENGINE, 'f1', 1000))} | {pairs} |" if b and "rate" in b else f"| {w} | {s} | error² | | | |")  # fmt: skip
    return out


def targets(rows: Rows) -> list[str]:
    out = ["| target | measured | |", "|---|---|---|"]
    at = 100_000_000 if 100_000_000 in rows.sizes("national") else max(rows.sizes("national"), default=None)
    if at is None:
        return []
    w = "national"
    eng = rows.get(w, at, ENGINE, "f1", 1000) or rows.get(w, at, DURABLE, "f1", 1000)
    duck = [rows.get(w, at, s, "f1", 1000) for s in ("DuckDB", "DuckDB, prefer_range_joins")]
    duck = [d for d in duck if d and "seconds" in d]
    if eng and duck:
        best = min(duck, key=lambda d: d["seconds"])
        ratio = best["seconds"] / eng["seconds"]
        out.append(f"| F1 of 1,000 cases at {size_name(at)}: at least 50x faster than DuckDB | {ratio:,.0f}x (best DuckDB plan) | {'met' if ratio >= 50 else 'not met'} |")
    trees = [rows.get(w, at, s, "f1", 1000) for s in INTERVAL_TREES]
    trees = [t for t in trees if t and "seconds" in t]
    if eng and trees:
        best = min(trees, key=lambda d: d["seconds"])
        ratio = best["seconds"] / eng["seconds"]
        out.append(f"| the same, at least 5x faster than the best interval-tree peer | {ratio:.1f}x ({best['system']}) | {'met' if ratio >= 5 else 'not met'} |")
    f1 = rows.get(w, at, ENGINE, "f1", 16000)
    f2 = rows.get(w, at, ENGINE, "f2", 16000)
    if f1 and f2 and "seconds" in f1 and "seconds" in f2:
        total = f1["seconds"] + f2["seconds"]
        out.append(f"| 16,000 cases F1 + F2 at {size_name(at)} under 10 s | {f1['seconds']:.2f} s + {f2['seconds']:.2f} s = {total:.1f} s | {'met' if total < 10 else 'not met'} |")
    largest = max(rows.sizes(w))
    b = rows.get(w, largest, DURABLE, "build")
    r = rows.get(w, largest, DURABLE, "durable_reopen")
    if b and r:
        own = b.get("own_bytes_per_stay")
        out.append(f"| the largest size: goal 1 billion stays, at most ~20 bytes a stay, durable, reopened in seconds | {rows.label(w, largest)['stays']:,} stays, "
                   f"{own:.1f} bytes/stay in the index, {r['disk_bytes_per_stay']:.1f} on disk, reopened in {r['seconds']:.2f} s | "
                   f"{'met' if largest >= 10**9 and own <= 20.5 else 'partly met'} |")  # fmt: skip
    runs = load_runs()
    if runs:
        d = runs[-1]
        out.append(f"| a gRPC load run (ingest, and traces at a fixed rate meanwhile) at the largest size | {d['stays']:,} stays held; "
                   f"{d['ingest_rate']:,.0f} check-ins/s; Trace p50 {d['trace_p50_ms']:.0f} ms, p99 {d['trace_p99_ms']:.0f} ms | "
                   f"{'done' if d['stays'] >= 10**9 else 'not at the largest size'} |")  # fmt: skip
    gen = [rows.label(w, s) for s in rows.sizes(w)]
    best_gen = max(g["generate_rate"] for g in gen)
    out.append(f"| the workload generated at least 20M stays/s | {best_gen / 1e6:.1f}M/s (best size) | {'met' if best_gen >= 20e6 else 'not met'} |")
    return out


def plots(rows: Rows) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    IMAGES.mkdir(exist_ok=True)
    made = []
    w = "national"
    sizes = rows.sizes(w)
    systems = []
    for size in sizes:
        systems += [s for s in rows.systems(w, size) if s not in systems]

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (query, n, title) in zip(axes, (("f1", 1000, "F1 of 1,000 cases"), ("window_batch", 10_000, "10,000 windows"))):
        for s in systems:
            pts = [(size, rows.get(w, size, s, query, n)) for size in sizes]
            pts = [(size, r["seconds"]) for size, r in pts if r and "seconds" in r]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=s)
        ax.set(xscale="log", yscale="log", xlabel="stays", ylabel="seconds", title=title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(IMAGES / "bench-time-vs-size.png", dpi=110)
    plt.close(fig)
    made.append(("bench-time-vs-size.png", "Time against size, each system (log-log)"))

    at = 100_000_000 if 100_000_000 in sizes else sizes[-1]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, query in zip(axes, ("f1", "f2")):
        for s in rows.systems(w, at):
            pts = [(r["n"], r["seconds"]) for r in rows.rows if (r["workload"], r["size"], r["system"], r["query"]) == (w, at, s, query) and "seconds" in r]
            if pts:
                ax.plot(*zip(*sorted(pts)), marker="o", label=s)
        ax.set(xscale="log", yscale="log", xlabel="cases", ylabel="seconds", title=f"{query.upper()} at {size_name(at)} stays")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(IMAGES / "bench-cases.png", dpi=110)
    plt.close(fig)
    made.append(("bench-cases.png", f"Time against the number of cases at {size_name(at)} stays"))

    def distributions(name, title, series, ylabel="fraction"):
        """Latency distributions (ms), one line per label, on a log axis."""
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for label, values in series:
            lat = sorted(values)
            ax.plot(lat, [(i + 1) / len(lat) for i in range(len(lat))], label=label)
        ax.set(xscale="log", xlabel="ms", ylabel=ylabel, title=title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(IMAGES / name, dpi=110)
        plt.close(fig)

    singles = [(s, r["latencies_ms"]) for s in rows.systems(w, at) if (r := rows.get(w, at, s, "window_single")) and r.get("latencies_ms")]
    distributions("bench-window-latency.png", f"One 2-hour window at {size_name(at)} stays: latency", singles, "fraction of windows answered")
    made.append(("bench-window-latency.png", "Latency of one window query, distribution"))

    fig, ax = plt.subplots(figsize=(7, 4.2))
    names, values = [], []
    for s in rows.systems(w, at):
        b = rows.get(w, at, s, "build")
        if b and "resident_bytes_per_stay" in b:
            names.append(s)
            values.append(max(b["resident_bytes_per_stay"], b.get("own_bytes_per_stay") or 0))
    ax.barh(names, values)
    ax.axvline(20, color="k", ls="--", lw=1)
    ax.set(xlabel="bytes per stay (resident; the line: 20)", title=f"Memory at {size_name(at)} stays")
    fig.tight_layout()
    fig.savefig(IMAGES / "bench-bytes.png", dpi=110)
    plt.close(fig)
    made.append(("bench-bytes.png", "Bytes per stay"))

    runs = load_runs()
    if runs:
        data = runs[-1]
        series = [(label, data[key]) for key, label in (("ingest_ack_ms", "IngestCheckins batch acknowledgement"), ("trace_ms", "Trace during ingest"),
                                                        ("idle_trace_ms", "Trace, no ingest")) if data.get(key)]  # fmt: skip
        distributions("bench-load.png", f"gRPC load run, {data['stays']:,} stays held", series)
        made.append(("bench-load.png", "gRPC load run: latency distributions"))
    return [f"![{title}](images/{name})" for name, title in made]


def load_runs() -> list[dict]:
    """The gRPC load runs, smallest first."""
    return sorted((json.loads(p.read_text()) for p in DOCS.glob("bench-load-*.json")), key=lambda d: d["stays"])


def load_section() -> list[str]:
    runs = load_runs()
    if not runs:
        return ["Not run yet: `make bench-load`."]
    first = runs[0]

    def row(what: str, cell) -> str:  # noqa: ANN001 - a formatter of one run
        return f"| {what} | " + " | ".join(cell(d) for d in runs) + " |"

    return [
        f"`tokhai serve` on loopback holding the national model's stays (durable, {first['days']} days), while "
        f"{first['streams']} IngestCheckins streams send {first['batch']:,}-row batches of today's check-ins "
        f"and a tracer asks for one case's F1 every {1 / first['trace_rate']:.1f} s. One run per size.",
        "",
        "| | " + " | ".join(f"{size_name(round(d['stays'], -7))} stays" for d in runs) + " |",
        "|---|" + "---|" * len(runs),
        row("stays held", lambda d: f"{d['stays']:,}: {d['store']}"),
        row("sustained ingest", lambda d: f"{d['ingested']:,} check-ins in {d['seconds']:.0f} s: {d['ingest_rate']:,.0f} check-ins/s"),
        row("batch acknowledgement (durable)", lambda d: f"p50 {d['ingest_ack_p50_ms']:,.0f} ms, p99 {d['ingest_ack_p99_ms']:,.0f} ms"),
        row(f"Trace, 1 case, {first['days']} days, F1 with sites, during ingest",
            lambda d: f"{d['traces']} calls, p50 {d['trace_p50_ms']:.0f} ms, p99 {d['trace_p99_ms']:.0f} ms, {d['trace_people_p50']:.0f} people per answer (median)"),  # fmt: skip
        row("the same Trace with no ingest running", lambda d: f"p50 {d['idle_trace_p50_ms']:.0f} ms, p99 {d['idle_trace_p99_ms']:.0f} ms"),
        row("data directory built: pseudonyms, venues, stays", lambda d: f"{d['build_s']:,.0f} s"),
        row("server start on the store (reopen, then serving)", lambda d: f"{d['start_s']:.1f} s"),
        "",
        "At 1 billion stays the store's sealed days (20 GB) take most of the",
        "machine's 24 GB as page cache, and the server's start reads them all.",
        "The slow tails at 1B (a 7.4 s acknowledgement, a 321 ms idle Trace) were",
        "not looked into. The bulk load that built this data directory peaked at",
        "18.9 GB of anonymous memory (sampled every 10 s), in its checkpoints.",
        "Those merged each day by decoding and sorting its rows again; merges now",
        "walk the segments' sorted orders instead, with 30% less memory above the",
        "input at 60M stays ([storage.md](storage.md)). The 1B run has not been",
        "repeated since.",
    ]


def write(path: Path = DOCS / "bench-national.json") -> None:
    data = json.loads(path.read_text())
    rows = Rows(data["rows"])
    notes: list[str] = []
    sizes = rows.sizes("national")
    gen = [rows.label("national", s) for s in sizes]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by bench/report.py from docs/bench-national.json and docs/bench-load-*.json: edit those scripts, not this file. -->",
        "",
        "The engine beside its peers on a Vietnam-sized workload: same data, same",
        "queries, same machine, one run. Each peer's time is also given as a",
        "multiple of the engine's in the same run (`x20`: twenty times as long),",
        "because the machine is shared and absolute times drift by a third and more.",
        "",
        "## How to reproduce",
        "",
        "```sh",
        "make bench-national       # 10M and 100M stays, every peer, skew runs; then this file",
        "make bench-largest        # 1 billion stays, the durable engine alone",
        "make bench-load           # the gRPC load run, 100M stays held (BENCH_STAYS=1000000000: the largest size)",
        "make bench-report         # this file and its plots again, from the saved rows",
        "```",
        "",
        "At small sizes the same queries are pytest-benchmark cases, each beside",
        "every installed peer and checked against the engine; `make test` runs",
        "each once, as a test of its answers, and times them only when asked:",
        "`.venv/bin/python -m pytest tests/test_bench.py --benchmark-enable`.",
        "",
        f"Last run: {data['updated']} on {data['machine']}. Raw rows: `docs/bench-national.json`.",
        "",
        "## The workload",
        "",
        "`tokhai_engine.synth.National` (the `workload` crate): 63 provinces by their",
        "2019 census population; one venue per 100 people, of the directive's kinds",
        "(eateries, cafes and restaurants the most common; companies, schools, agencies,",
        "supermarkets, hotels, lodgings, hospitals, public transport), Zipf-like",
        "popularity inside each province (exponent 0.7) capped at 100 times the",
        "province's mean, its first ranks the province's mega-venues (markets,",
        "hospitals, bus stations, one per million residents); people check in in",
        "their own province, but on 3% of their days in one drawn by population (their own included); about 3 check-ins per",
        "active person a day, one after another, the first at a daily rhythm in",
        "Vietnam's time; dwell log-normal around each kind's median (25 minutes at",
        "a supermarket, 4 hours at a company or school, 8 at a hotel); 2% forgotten",
        "check-outs closed 12 to 24 hours later (which may overlap the next day's stays); 1% duplicate scans. The nation is",
        "100M people and 100M check-ins a day; a smaller size keeps one check-in a",
        "day per inhabitant (a region). The model is documented in",
        "`crates/workload/src/lib.rs`; every person-day has its own generator, so",
        "the data does not depend on the chunking.",
        "",
        "| size | stays | people | venues | generated (stays/s, both cores, 10M-stay chunks let go as made) |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {size_name(g['size'])} | {g['stays']:,} | {g['people']:,} | {g['venues']:,} | {g['generate_rate']:,.0f} |" for g in gen]
    lines += [
        "",
        "## What is measured",
        "",
        "- **build**: from the stays to a queryable index. The engine takes the stays",
        "  as a national feed arrives, in chunks of 10M in time order, through",
        "  `add_stays`; the peers get whole arrays, their fastest path. For DuckDB a",
        "  table; for PostgreSQL an unlogged table by binary COPY plus B-trees on",
        "  (venue, t_in) and (person, t_in); for ncls and superintervals their index",
        "  plus a person sort; for the NumPy peer its sorted tiers.",
        "- **resident bytes/stay**: growth of the process's resident memory over the",
        "  build (for PostgreSQL, which lives in another process, only the client's); in",
        "  brackets the system's own count (`memory_bytes()`, `duckdb_memory()`,",
        "  PostgreSQL's relation sizes).",
        "- **windows**: who was at a venue during a 2-hour window (`present`,",
        "  `present_many`), windows drawn at random check-ins; one at a time (the",
        "  engine 2,000 times, each peer 200 times, as a batch of one) and 10,000 in one batch.",
        "- **F1**: `contacts_many` of n random people over the whole period with",
        "  `min_overlap=900` (15 minutes). **F2**: two hops, time-respecting: the",
        "  engine's `trace(hops=2)`; the peers run one `contacts_many` per hop and",
        "  keep each person's earliest exposure (`bench/national.py: trace_with`).",
        "- **append a day**: one more day of the same model added to the built index",
        "  (interval-tree and NumPy peers must rebuild).",
        "- **durable**: the engine into `Engine.open(dir)`, every `add_stays` fsynced",
        "  before it returns, then closed, reopened (its files still in the page",
        "  cache: a warm reopen), and asked everything again.",
        "- **cores**: the engine and DuckDB use both cores; ncls, superintervals and",
        "  the NumPy peer one (they have no parallel query), PostgreSQL one a query.",
        "- **answers**: the number of rows, sums of exposure and person ids, and",
        "  a digest of every column (in runs from 2026-11-28 on) of every peer's",
        "  answer are compared with the engine's, and so are the durable engine's;",
        "  a disagreement is printed as DISAGREES, never dropped.",
        "- A peer skips a larger variant of a query when its smaller one predicts",
        "  more than 120 s (the engine: an hour; marked ¹), unless that one took",
        "  under 10 s and the peer can be stopped at the budget (DuckDB, in runs",
        "  from 2026-11-28 on); errors are marked ² and quoted below.",
        "",
        "## Side by side",
        "",
    ]
    for size in sizes:
        lines += side_by_side(rows, size, notes) + [""]
    lines += [
        "Reading the tables:",
        "",
        "- The national model is dense: over 14 days an active person shares 15",
        "  minutes with hundreds of others (colleagues, classmates, the same",
        "  market), so F1 of 1,000 cases is a sizeable part of a 10M-stay region",
        "  and two hops from 16,000 cases reach nearly everyone in it. F2 is",
        "  therefore the contacts of hundreds of thousands to millions of people.",
        "- The engine's F2 can be faster for 16,000 cases than for 1,000: a hop",
        "  whose people not yet reached are fewer than six times its frontier is",
        "  worked out from their side (each one's exposure to the first frontier",
        "  members they met) instead of from every frontier member's contacts.",
        "- The peers have no trace query: they run one `contacts_many` per hop, the",
        "  second over every F1 person, which is why their F2 passes the budget early.",
        "",
    ]
    if notes:
        lines += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    lines += ["## The durable store", ""] + durable_table(rows) + [""]
    skew = skew_table(rows)
    if skew:
        lines += ["## Skew: popularity and forgotten check-outs", ""] + skew + [""]
    lines += ["## The gRPC service under load", ""] + load_section() + [""]
    lines += ["## Against the targets", ""] + targets(rows) + [""]
    lines += ["## Plots", ""] + plots(rows) + [""]
    lines += [
        "## Other measurements",
        "",
        "- The durable store's ingest, reopen and crash recovery: [storage.md](storage.md#measured).",
        "- The service's CheckIn, IngestCheckins, Trace and reports on their own: [service.md](service.md#measured).",
        "- The engine beside its peers on the older region model, where anyone may meet anyone",
        "  (`synth.generate`, `bench/compare.py`): [benchmarks-region.md](benchmarks-region.md).",
        "",
    ]
    (DOCS / "benchmarks.md").write_text("\n".join(lines))


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS / "bench-national.json")
