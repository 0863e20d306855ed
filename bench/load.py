"""The national service under load, on loopback: `tokhai serve` holding the
national workload's stays, app backends streaming today's check-ins into it,
and a health authority tracing at a fixed rate meanwhile.

1. Builds a data directory: the national model's venues in the database
   (kinds and provinces as the model has them) and its stays in the durable
   store, every person under the pseudonym the service gives their citizen id.
2. Starts `tokhai serve` on it (the reopen is part of the start).
3. Traces one case at a time with nothing else running: the idle latency.
4. For --seconds: --streams IngestCheckins streams (one process each) send
   10,000-row batches of today's check-ins, at most --in-flight batches
   unacknowledged per stream, while one F1 Trace is sent every
   1/--trace-rate seconds. Records each batch's acknowledgement latency
   (it comes once the batch is durable) and each trace's.

    python bench/load.py --stays 1000000000 --days 10 --dir /var/tmp

Writes docs/bench-load-<size>.json; bench/report.py puts it in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hmac
import json
import multiprocessing as mp
import shutil
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from national import parse_size  # noqa: E402
from report import DOCS, size_name  # noqa: E402
from service import collector_paused, in_processes, serve  # noqa: E402

from tokhai.v1 import checkins_pb2 as C  # noqa: E402
from tokhai.v1 import checkins_pb2_grpc  # noqa: E402
from tokhai.v1 import common_pb2 as K  # noqa: E402
from tokhai.v1 import tracing_pb2 as T  # noqa: E402
from tokhai.v1 import tracing_pb2_grpc  # noqa: E402
from tokhai_engine import Engine, synth  # noqa: E402
from tokhai_server import auth, db  # noqa: E402
from tokhai_server.config import prepare  # noqa: E402
from tokhai_server.people import Pseudonyms, normalize  # noqa: E402

NCOVI = K.SOURCE_APP_NCOVI
BATCH = 10_000
CHUNK = 10_000_000


def citizen_id(person: int) -> str:
    return f"{person:012d}"


def model_for(args) -> synth.National:
    """The nation's last ``days`` days and today, ending now."""
    today = (int(time.time()) + 7 * 3_600) // synth.DAY * synth.DAY - 7 * 3_600  # midnight in Vietnam
    return synth.National.scaled(args.stays * (args.days + 1) // args.days, days=args.days + 1, start=today - args.days * synth.DAY, seed=args.seed)


def _pseudonyms(key: bytes, lo: int, hi: int, out: mp.Queue) -> None:
    # The service's pseudonym of each citizen id, by the same HMAC, in its
    # one-shot form (checked against the service's own code below).
    ids = np.fromiter((int.from_bytes(hmac.digest(key, f"cccd:{p:012d}".encode(), "sha256")[:8], "big") >> 1 for p in range(lo, hi)), np.uint64, hi - lo)
    out.put((lo, ids))


def build(data_dir: Path, model: synth.National, days: int) -> tuple[int, np.ndarray, float]:
    """Venues and stays into a fresh data directory; returns (stays, some
    people with stays, seconds spent)."""
    t = time.perf_counter()
    secrets, _ = prepare(data_dir)
    people = Pseudonyms(secrets.pseudonym_key)
    assert people.of(normalize("cccd", citizen_id(7)))[0] == int.from_bytes(hmac.digest(secrets.pseudonym_key, b"cccd:000000000007", "sha256")[:8], "big") >> 1
    halves = [(secrets.pseudonym_key, lo, min(lo + model.people // 2 + 1, model.people + 1)) for lo in (1, model.people // 2 + 2)]
    ids = np.zeros(model.people + 1, np.uint64)
    for lo, part in in_processes(_pseudonyms, halves):
        ids[lo : lo + len(part)] = part
    print(f"pseudonyms of {model.people:,} people in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)

    kinds, provinces = model.venue_kinds(), model.venue_provinces()
    codes = [code for code, _ in synth.National.provinces()]
    engine = db.connect(db.default_url(data_dir))
    now = int(time.time())
    with engine.begin() as conn:
        for lo in range(0, model.venues, 100_000):
            conn.execute(db.venues.insert(), [
                {"name": f"Địa điểm {v + 1}", "kind": int(kinds[v]), "province": codes[provinces[v]], "district": "000", "ward": "00000",
                 "street": "", "dwell_seconds": 3_600, "active": True, "created_at": now}
                for v in range(lo, min(lo + 100_000, model.venues))
            ])  # fmt: skip
    engine.dispose()
    print(f"{model.venues:,} venues in the database", file=sys.stderr, flush=True)

    n, sample = 0, []
    with Engine.open(data_dir / "stays", checkpoint_bytes=8 << 30) as store:  # a bulk load: few, large checkpoints
        for chunk in model.chunks(CHUNK, days=range(days)):
            store.add_stays(ids[chunk.persons.astype(np.int64)], chunk.venues, chunk.t_in, chunk.t_out)
            n += len(chunk)
            sample.append(chunk.persons[:: max(1, len(chunk) // 2_000)])
            print(f"{n:,} stays stored", file=sys.stderr, flush=True)
    return n, np.unique(np.concatenate(sample)), time.perf_counter() - t


def ingest_stream(port: int, key: str, model_args: dict, stream: int, streams: int, seconds: float, in_flight: int, out: mp.Queue) -> None:
    """One app backend: today's check-ins in 10,000-row batches, as fast as
    the acknowledgements allow."""
    model = synth.National(**model_args)
    today = range(model.days - 1, model.days)
    chunk = next(model.chunks(BATCH * 400 * streams, days=today))
    rows = slice(stream, None, streams)  # this stream's share of the day's first check-ins
    persons, venues, dwell = chunk.persons[rows], chunk.venues[rows], (chunk.t_out - chunk.t_in)[rows]
    rng = np.random.default_rng(stream)
    sent: dict[int, float] = {}
    acked = threading.Semaphore(in_flight)
    stop = time.perf_counter() + seconds

    def batches():
        b = 0
        while time.perf_counter() < stop:
            acked.acquire()
            lo = (b * BATCH) % max(len(persons) - BATCH, 1)
            now = int(time.time())
            t_in = now - rng.integers(60, 3_600, BATCH)
            t_out = t_in + dwell[lo : lo + BATCH]
            t_out[t_out > now] = 0  # still inside: no check-out yet, as an app backend sends them
            sent[b] = time.perf_counter()
            yield C.IngestBatch(batch_id=b, source=NCOVI, person_refs=[f"cccd:{citizen_id(p)}" for p in persons[lo : lo + BATCH].tolist()],
                                venue_ids=venues[lo : lo + BATCH].tolist(), t_in=t_in.tolist(), t_out=t_out.tolist())  # fmt: skip
            b += 1

    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 64 << 20)])
    stub = checkins_pb2_grpc.CheckinServiceStub(channel)
    latencies, rows_done = [], 0
    start = time.perf_counter()
    for ack in stub.IngestCheckins(batches(), metadata=[("authorization", f"Bearer {key}")], timeout=seconds + 600):
        latencies.append(time.perf_counter() - sent.pop(ack.batch_id))
        rows_done += len(ack.stay_ids)
        acked.release()
    out.put((rows_done, time.perf_counter() - start, latencies))


def tracer(port: int, key: str, cases: np.ndarray, start: int, end: int, rate: float, seconds: float, calls: int | None = None) -> tuple[list, list]:
    """F1 traces of one case each, one every 1/rate seconds (or back to back
    for ``calls`` calls when rate is 0)."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 256 << 20)])
    stub = tracing_pb2_grpc.TracingServiceStub(channel)
    md = [("authorization", f"Bearer {key}")]
    latencies, found = [], []
    with collector_paused():
        t0 = time.perf_counter()
        for k in range(calls or 10**9):
            if rate:
                due = t0 + k / rate
                if due > t0 + seconds:
                    break
                time.sleep(max(0.0, due - time.perf_counter()))
            case = T.Case(person=K.PersonRef(citizen_id=citizen_id(int(cases[k % len(cases)]))), province_code="79", start=start, end=end)
            t = time.perf_counter()
            response = stub.Trace(T.TraceRequest(cases=[case], hops=1, min_overlap_seconds=900, purpose="national load run"), metadata=md, timeout=120)
            latencies.append(time.perf_counter() - t)
            found.append(len(response.people.person_id))
    return latencies, found


def ms(values, q) -> float:
    return float(np.percentile(np.array(values) * 1e3, q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stays", type=parse_size, default=parse_size("100M"))
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--streams", type=int, default=2, help="IngestCheckins streams, from one key (which holds 2 at most)")
    ap.add_argument("--in-flight", type=int, default=2, help="unacknowledged batches per stream")
    ap.add_argument("--trace-rate", type=float, default=1.0, help="traces a second during ingest")
    ap.add_argument("--idle-traces", type=int, default=50)
    ap.add_argument("--dir", type=Path, default=Path("/var/tmp"))
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="default: docs/bench-load-<size>.json")
    args = ap.parse_args()

    model = model_for(args)
    data_dir = args.dir / f"tokhai-load-{args.stays}"
    shutil.rmtree(data_dir, ignore_errors=True)
    try:
        stays, cases, build_s = build(data_dir, model, args.days)
        t = time.perf_counter()
        proc, port = serve(data_dir)
        start_s = time.perf_counter() - t
        try:
            engine = db.connect(db.default_url(data_dir))
            app_key = auth.create_key(engine, name="load app", role="app_backend", app=NCOVI)
            tracer_key = auth.create_key(engine, name="load tracer", role="tracer")
            engine.dispose()
            rng = np.random.default_rng(args.seed)
            rng.shuffle(cases)
            window = (model.start, model.start + args.days * synth.DAY)
            idle, _ = tracer(port, tracer_key, cases, *window, rate=0, seconds=0, calls=args.idle_traces)
            model_args = {f: getattr(model, f) for f in ("people", "days", "checkins_per_day", "start", "seed")}
            result: dict = {}
            ingest = threading.Thread(target=lambda: result.update(streams=in_processes(
                ingest_stream, [(port, app_key, model_args, i, args.streams, args.seconds, args.in_flight) for i in range(args.streams)])))  # fmt: skip
            ingest.start()
            time.sleep(2)  # the streams are under way
            traces, people = tracer(port, tracer_key, cases[args.idle_traces :], *window, rate=args.trace_rate, seconds=args.seconds - 4)
            ingest.join()
        finally:
            proc.terminate()
            proc.wait(timeout=300)
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    acks = [x for r in result["streams"] for x in r[2]]
    ingested = sum(r[0] for r in result["streams"])
    elapsed = max(r[1] for r in result["streams"])
    out = {
        "stays": stays, "days": args.days, "store": f"national model, {model.people:,} people, {model.venues:,} venues, durable",
        "build_s": build_s, "start_s": start_s, "streams": args.streams, "batch": BATCH, "in_flight": args.in_flight,
        "seconds": elapsed, "ingested": ingested, "ingest_rate": ingested / elapsed,
        "ingest_ack_p50_ms": ms(acks, 50), "ingest_ack_p99_ms": ms(acks, 99),
        "trace_rate": args.trace_rate, "traces": len(traces), "trace_p50_ms": ms(traces, 50), "trace_p99_ms": ms(traces, 99),
        "trace_people_p50": float(np.median(people)), "idle_trace_p50_ms": ms(idle, 50), "idle_trace_p99_ms": ms(idle, 99),
        "ingest_ack_ms": [1e3 * x for x in acks], "trace_ms": [1e3 * x for x in traces], "idle_trace_ms": [1e3 * x for x in idle],
    }  # fmt: skip
    (args.json or DOCS / f"bench-load-{size_name(args.stays)}.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in out.items() if not k.endswith("_ms")}, indent=1))


if __name__ == "__main__":
    main()
