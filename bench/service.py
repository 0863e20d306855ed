"""The service under load, on loopback: `tokhai serve` in its own process,
clients in others, one run.

1. CheckIn: 32 concurrent clients (asyncio, in one process), each call a
   signed venue code and a citizen id, for D seconds: calls/s, p50 and p99
   latency; and the same clients against an empty gRPC server, the floor.
2. IngestCheckins: S streams of 10,000-row batches: check-ins/s.
3. Trace of one case over 14 days (F1: one hop, 15 minutes) with N stays loaded:
   p50 and p99 latency.

    python bench/service.py --stays 20000000 [--json out.json]

The N stays are synthetic and loaded into the store before the server
starts (as a restart would find them); their people are pseudonymised the
way the service does it, so traces by citizen id find them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import numpy as np

from tokhai.v1 import checkins_pb2 as C
from tokhai.v1 import checkins_pb2_grpc
from tokhai.v1 import common_pb2 as K
from tokhai.v1 import tracing_pb2 as T
from tokhai.v1 import tracing_pb2_grpc
from tokhai_engine import Engine, synth
from tokhai_server import auth, db
from tokhai_server.codes import Codes
from tokhai_server.config import prepare
from tokhai_server.people import Pseudonyms

NCOVI = K.SOURCE_APP_NCOVI


def load(data_dir: Path, stays: int) -> tuple[int, list[str], int, int]:
    """Venues in the database, stays in the store; returns (venues, a few
    venue codes, the start of the data, people)."""
    secrets, _ = prepare(data_dir)
    engine = db.connect(db.default_url(data_dir))
    now = int(time.time())
    data = synth.generate(stays, days=14, start=now - 15 * 86_400, seed=21)
    n_venues = int(data.venues.max()) + 1
    with engine.begin() as conn:
        conn.execute(
            db.venues.insert(),
            [
                {"name": f"Địa điểm {v}", "kind": 12, "province": "79", "district": "760", "ward": "26740", "street": "", "dwell_seconds": 3_600, "active": True, "created_at": now}
                for v in range(1, n_venues + 1)
            ],
        )
    people = Pseudonyms(secrets.pseudonym_key)
    distinct, where = np.unique(data.persons, return_inverse=True)
    ids = np.array(people.ids_of_refs([f"cccd:{int(p):012d}" for p in distinct]), dtype=np.uint64)
    with Engine.open(data_dir / "stays") as store:
        for lo in range(0, len(data), 5_000_000):
            sl = slice(lo, lo + 5_000_000)
            store.add_stays(ids[where[sl]], data.venues[sl] + 1, data.t_in[sl], data.t_out[sl])
    codes = Codes(engine, secrets.master_key)
    payloads = [codes.venue_code(v) for v in range(1, min(n_venues, 2_000) + 1)]
    engine.dispose()
    return n_venues, payloads, int(data.t_in.min()), int(data.persons.max()) + 1


def serve(data_dir: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokhai_server", "serve", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True
    )
    line = ""
    while "serving on" not in line:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError("the server did not start")
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
    return proc, int(line.split("serving on ")[1].split()[0].rsplit(":", 1)[1])


class _EmptyCheckins(checkins_pb2_grpc.CheckinServiceServicer):
    """The peer: a gRPC server in Python that does nothing per check-in."""

    def CheckIn(self, request, context):  # noqa: N802, ANN001
        return C.CheckInResponse(stay_id=1, venue_name="x")


def _serve_empty(port_out: mp.Queue) -> None:
    from concurrent import futures

    server = grpc.server(futures.ThreadPoolExecutor(32))
    checkins_pb2_grpc.add_CheckinServiceServicer_to_server(_EmptyCheckins(), server)
    port_out.put(server.add_insecure_port("127.0.0.1:0"))
    server.start()
    server.wait_for_termination()


def checkin_worker(port: int, key: str, payloads: list[str], seconds: float, concurrency: int, request_ids: bool, seed: int, out: mp.Queue) -> None:
    """`concurrency` clients as coroutines on one asyncio channel: the
    lightest load generator grpc's Python offers, so the server gets as much
    of the two cores as it can."""
    import asyncio

    async def main() -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = checkins_pb2_grpc.CheckinServiceStub(channel)
            md = [("authorization", f"Bearer {key}")]
            latencies: list[float] = []
            errors = [0]
            stop = time.monotonic() + seconds

            async def client(k: int) -> None:
                rng = random.Random(seed * 1000 + k)
                calls = 0
                while time.monotonic() < stop:
                    calls += 1
                    request = C.CheckInRequest(
                        request_id=f"{seed}-{k}-{calls}" if request_ids else "",
                        person=K.PersonRef(citizen_id=f"{rng.randrange(10**11, 10**12):012d}"),
                        venue_payload=rng.choice(payloads),
                        time=int(time.time()),
                        source=NCOVI,
                    )
                    t = time.perf_counter()
                    try:
                        await stub.CheckIn(request, metadata=md, timeout=10)
                    except grpc.RpcError:
                        errors[0] += 1
                        continue
                    latencies.append(time.perf_counter() - t)

            await asyncio.gather(*(client(k) for k in range(concurrency)))
            out.put((latencies, errors[0]))

    asyncio.run(main())


def in_processes(worker, arguments: list[tuple]) -> list:  # noqa: ANN001 - a worker function
    """Runs `worker(*args, out)` in one process per `args`, at once; returns
    what each put on `out`. The processes are spawned, not forked: a fork
    of a process whose engine has started its thread pool would find no
    threads in it."""
    spawn = mp.get_context("spawn")
    out = spawn.Queue()
    procs = [spawn.Process(target=worker, args=(*args, out)) for args in arguments]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return results


def warm(port: int, key: str, payloads: list[str]) -> None:
    """One check-in per venue code first: a server that has run for a while
    holds every venue and verified code in its caches, and so should the one
    measured."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = checkins_pb2_grpc.CheckinServiceStub(channel)
        md = [("authorization", f"Bearer {key}")]
        for i, payload in enumerate(payloads):
            request = C.CheckInRequest(person=K.PersonRef(citizen_id=f"{i:012d}"), venue_payload=payload, time=int(time.time()), source=NCOVI)
            stub.CheckIn(request, metadata=md, timeout=10)


def bench_checkins(port: int, key: str, payloads: list[str], seconds: float, processes: int, concurrency: int, request_ids: bool = False) -> dict:
    warm(port, key, payloads)
    results = in_processes(checkin_worker, [(port, key, payloads, seconds, concurrency, request_ids, i) for i in range(processes)])
    lat = np.array([x for r in results for x in r[0]])
    return {
        "clients": processes * concurrency,
        "calls": len(lat),
        "errors": sum(r[1] for r in results),
        "calls_per_s": len(lat) / seconds,
        "p50_ms": float(np.percentile(lat, 50) * 1e3),
        "p99_ms": float(np.percentile(lat, 99) * 1e3),
    }


def ingest_worker(port: int, key: str, n_venues: int, batches: int, rows: int, seed: int, out: mp.Queue) -> None:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 64 << 20)])
    stub = checkins_pb2_grpc.CheckinServiceStub(channel)
    rng = np.random.default_rng(seed)
    now = int(time.time())
    requests = []
    for b in range(batches):
        persons = rng.integers(10**11, 10**12, rows)
        t_in = now - rng.integers(60, 86_400, rows)
        t_out = t_in + rng.integers(60, 7_200, rows)
        requests.append(
            C.IngestBatch(
                batch_id=b,
                source=NCOVI,
                person_refs=[f"cccd:{p}" for p in persons.tolist()],
                venue_ids=rng.integers(1, n_venues + 1, rows).tolist(),
                t_in=t_in.tolist(),
                # Those still inside have no check-out yet (0), as an app backend sends them.
                t_out=np.where(t_out <= now, t_out, 0).tolist(),
            )
        )
    start = time.perf_counter()
    acks = list(stub.IngestCheckins(iter(requests), metadata=[("authorization", f"Bearer {key}")], timeout=600))
    out.put((sum(len(a.stay_ids) for a in acks), time.perf_counter() - start))


def bench_ingest(port: int, key: str, n_venues: int, streams: int, batches: int, rows: int) -> dict:
    results = in_processes(ingest_worker, [(port, key, n_venues, batches, rows, i) for i in range(streams)])
    rows_done = sum(r[0] for r in results)
    return {"streams": streams, "rows": rows_done, "checkins_per_s": rows_done / max(r[1] for r in results)}


@contextlib.contextmanager
def collector_paused():
    """Keeps the client's garbage collector out of timed calls, as timeit
    does: a full collection of the bench's own heap (20 to 40 ms) landing
    inside a call was counted as the server's latency."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def bench_trace(port: int, key: str, stays_start: int, calls: int, people: int) -> dict:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 256 << 20)])
    stub = tracing_pb2_grpc.TracingServiceStub(channel)
    md = [("authorization", f"Bearer {key}")]
    rng = random.Random(5)
    lat, found = [], []
    with collector_paused():
        for _ in range(calls):
            case = T.Case(person=K.PersonRef(citizen_id=f"{rng.randrange(people):012d}"), province_code="79", start=stays_start, end=stays_start + 14 * 86_400)
            t = time.perf_counter()
            response = stub.Trace(T.TraceRequest(cases=[case], hops=1, min_overlap_seconds=900, purpose="load test"), metadata=md, timeout=60)
            lat.append(time.perf_counter() - t)
            found.append(len(response.people.person_id))
    lat_ms = np.array(lat) * 1e3
    return {"calls": calls, "p50_ms": float(np.percentile(lat_ms, 50)), "p99_ms": float(np.percentile(lat_ms, 99)), "people_p50": float(np.median(found))}


def bench_reports(port: int, key: str, start: int, calls: int = 5) -> dict:
    """Check-ins per day over the 14 days: by province (national), by venue."""
    from tokhai.v1 import reports_pb2 as R
    from tokhai.v1 import reports_pb2_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 256 << 20)])
    stub = reports_pb2_grpc.ReportServiceStub(channel)
    md = [("authorization", f"Bearer {key}")]
    out = {}
    for name, level in (("by_province", R.LEVEL_PROVINCE), ("by_venue", R.LEVEL_VENUE)):
        times, rows = [], 0
        for _ in range(calls):
            t = time.perf_counter()
            response = stub.CheckinCounts(R.CountsRequest(by=level, start=start, end=start + 14 * 86_400), metadata=md, timeout=600)
            times.append(time.perf_counter() - t)
            rows = len(response.rows)
        out[name] = {"median_s": float(np.median(times)), "rows": rows, "checkins": sum(r.count for r in response.rows)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stays", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--processes", type=int, default=1, help="CheckIn client processes")
    ap.add_argument("--clients", type=int, default=32, help="concurrent CheckIn clients (coroutines) per process")
    ap.add_argument("--request-ids", action="store_true", help="also CheckIn with a request id on every call, as apps send them (each answer is kept: a database commit)")
    ap.add_argument("--streams", type=int, default=2, help="IngestCheckins streams, from one key (which holds 2 at most)")
    ap.add_argument("--batches", type=int, default=50, help="10,000-row batches per ingest stream")
    ap.add_argument("--traces", type=int, default=200)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    base = Path(tempfile.mkdtemp(prefix="tokhai-service-bench-"))
    data_dir = base / "data"
    try:
        t = time.perf_counter()
        n_venues, payloads, start, people = load(data_dir, args.stays)
        print(f"loaded {args.stays:,} stays at {n_venues:,} venues in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        proc, port = serve(data_dir)
        try:
            engine = db.connect(db.default_url(data_dir))
            app_key = auth.create_key(engine, name="bench app", role="app_backend", app=NCOVI)
            tracer_key = auth.create_key(engine, name="bench tracer", role="tracer")
            analyst_key = auth.create_key(engine, name="bench analyst", role="analyst")
            engine.dispose()
            rows = {"stays": args.stays}
            rows["trace"] = bench_trace(port, tracer_key, start, args.traces, people)
            rows["reports"] = bench_reports(port, analyst_key, start)
            rows["checkin"] = bench_checkins(port, app_key, payloads, args.seconds, args.processes, args.clients)
            if args.request_ids:
                rows["checkin_request_ids"] = bench_checkins(port, app_key, payloads, args.seconds, args.processes, args.clients, request_ids=True)
            ports: mp.Queue = mp.Queue()
            empty = mp.Process(target=_serve_empty, args=(ports,))
            empty.start()
            try:
                rows["checkin_empty_server"] = bench_checkins(ports.get(), app_key, payloads, args.seconds, args.processes, args.clients)
            finally:
                empty.kill()
                empty.join()
            rows["ingest"] = bench_ingest(port, app_key, n_venues, args.streams, args.batches, 10_000)
        finally:
            proc.terminate()
            proc.wait(timeout=120)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    c, e, i, tr = rows["checkin"], rows["checkin_empty_server"], rows["ingest"], rows["trace"]
    print(f"| service on loopback, {args.stays:,} stays loaded, {os.cpu_count()} cpus | |")
    print("|---|---|")
    print(f"| CheckIn, {c['clients']} concurrent clients | {c['calls_per_s']:,.0f} calls/s, p50 {c['p50_ms']:.1f} ms, p99 {c['p99_ms']:.1f} ms ({c['errors']} errors) |")
    if "checkin_request_ids" in rows:
        r = rows["checkin_request_ids"]
        print(f"| CheckIn with a request id on every call | {r['calls_per_s']:,.0f} calls/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms ({r['errors']} errors) |")
    print(f"| the same clients against an empty gRPC server (the floor) | {e['calls_per_s']:,.0f} calls/s, p50 {e['p50_ms']:.1f} ms, p99 {e['p99_ms']:.1f} ms |")
    print(f"| IngestCheckins, {i['streams']} streams of 10,000-row batches | {i['checkins_per_s']:,.0f} check-ins/s |")
    print(f"| Trace, 1 case, 14 days, F1 | p50 {tr['p50_ms']:.1f} ms, p99 {tr['p99_ms']:.1f} ms ({tr['people_p50']:.0f} people) |")
    for name, r in rows["reports"].items():
        print(f"| CheckinCounts {name.replace('_', ' ')}, 14 days (national analyst) | {r['median_s'] * 1e3:.0f} ms median, {r['rows']:,} rows, {r['checkins']:,} check-ins |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
