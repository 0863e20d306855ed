"""What operators and other services rely on: the generated code matches the
protos, reflection, health and graceful shutdown, limits, the CLI."""

from __future__ import annotations

import filecmp
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import sqlalchemy as sa
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from prometheus_client import REGISTRY

from tokhai.v1 import checkins_pb2 as C
from tokhai.v1 import common_pb2 as K
from tokhai.v1 import tracing_pb2 as T
from tokhai.v1 import venues_pb2 as V
from tokhai_server import auth
from tokhai_server.app import Server
from tokhai_server.config import Settings
from tokhai_server.errors import PermissionDenied

ROOT = Path(__file__).resolve().parents[2]


def test_the_generated_code_is_what_the_protos_make(tmp_path):
    protoc = pytest.importorskip("grpc_tools.protoc")
    protos = sorted(str(p.relative_to(ROOT / "protos")) for p in (ROOT / "protos").rglob("*.proto"))
    args = ["protoc", f"-I{ROOT / 'protos'}", f"--python_out={tmp_path}", f"--grpc_python_out={tmp_path}", f"--pyi_out={tmp_path}", *protos]
    assert protoc.main(args) == 0
    fresh = sorted(p.name for p in (tmp_path / "tokhai" / "v1").iterdir())
    committed = sorted(p.name for p in (ROOT / "server" / "tokhai" / "v1").iterdir() if p.name != "__init__.py" and p.suffix in (".py", ".pyi"))
    assert fresh == committed, "run `make protos`"
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "tokhai" / "v1", ROOT / "server" / "tokhai" / "v1", fresh, shallow=False)
    assert not mismatch and not errors, f"stale generated code: {mismatch + errors}; run `make protos`"


def undocumented(proto: str) -> list[str]:
    """The services, methods, messages, fields, enums and enum values (but
    the UNSPECIFIED ones) of `proto` with no comment, before or after."""
    import grpc_tools
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        args = ["protoc", f"-I{ROOT / 'protos'}", f"-I{Path(grpc_tools.__file__).parent / '_proto'}", "--include_source_info", f"--descriptor_set_out={out}", proto]
        assert protoc.main(args) == 0
        (f,) = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    commented = {tuple(at.path) for at in f.source_code_info.location if (at.leading_comments + at.trailing_comments).strip()}
    missing = []

    def check(path: list[int], name: str) -> None:
        if tuple(path) not in commented:
            missing.append(name)

    def enum(e, path: list[int], name: str) -> None:  # noqa: ANN001 - an EnumDescriptorProto
        check(path, name)
        for i, value in enumerate(e.value):
            if not value.name.endswith("_UNSPECIFIED"):
                check([*path, 2, i], f"{name}.{value.name}")

    def message(m, path: list[int], name: str) -> None:  # noqa: ANN001 - a DescriptorProto
        check(path, name)
        for i, field in enumerate(m.field):
            check([*path, 2, i], f"{name}.{field.name}")
        for i, nested in enumerate(m.nested_type):
            message(nested, [*path, 3, i], f"{name}.{nested.name}")
        for i, e in enumerate(m.enum_type):
            enum(e, [*path, 4, i], f"{name}.{e.name}")

    # Paths of FileDescriptorProto: message_type 4, enum_type 5, service 6; a service's method 2.
    for i, m in enumerate(f.message_type):
        message(m, [4, i], m.name)
    for i, e in enumerate(f.enum_type):
        enum(e, [5, i], e.name)
    for i, service in enumerate(f.service):
        check([6, i], service.name)
        for j, method in enumerate(service.method):
            check([6, i, 2, j], f"{service.name}.{method.name}")
    return missing


@pytest.mark.parametrize("proto", sorted(str(p.relative_to(ROOT / "protos")) for p in (ROOT / "protos").rglob("*.proto")))
def test_every_part_of_the_api_is_documented(proto):
    """Other services work from the .proto files alone: every field says
    what it holds (and its unit, by the conventions in common.proto)."""
    pytest.importorskip("grpc_tools.protoc")
    assert undocumented(proto) == []


class _WithKey(grpc.StreamStreamClientInterceptor):
    """What a generic client's header option does (`grpcurl -H`): the key on every call."""

    def __init__(self, md: list[tuple[str, str]]) -> None:
        self.md = md

    def intercept_stream_stream(self, continuation, details, requests):  # noqa: ANN001
        return continuation(details._replace(metadata=[*(details.metadata or []), *self.md]), requests)


def test_a_generic_reflection_client_lists_and_calls_the_services(service):
    admin = service.client("admin")
    # Reflection needs a key, as every call but health checks: an open
    # reflection stream holds a worker thread.
    with pytest.raises(grpc.RpcError) as info:
        ProtoReflectionDescriptorDatabase(service.channel).get_services()
    assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
    database = ProtoReflectionDescriptorDatabase(grpc.intercept_channel(service.channel, _WithKey(admin.md)))
    names = set(database.get_services())
    services = {f"tokhai.v1.{s}Service" for s in ("Venue", "Checkin", "Tracing", "Care", "Report")}
    assert services | {"grpc.health.v1.Health"} <= names
    # Call a method knowing nothing but what reflection said.
    pool = descriptor_pool.DescriptorPool(database)
    method = pool.FindServiceByName("tokhai.v1.VenueService").FindMethodByName("ListSigningKeys")
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    call = service.channel.unary_unary(
        "/tokhai.v1.VenueService/ListSigningKeys", request_serializer=request_class.SerializeToString, response_deserializer=response_class.FromString
    )
    response = call(request_class(), metadata=admin.md, timeout=10)
    assert len(response.keys) == 1 and len(response.keys[0].public_key) == 32


def test_health_turns_not_serving_and_calls_in_flight_finish(tmp_path):
    server = Server(Settings(data_dir=tmp_path / "d", retention_every=0), "127.0.0.1:0").start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest(service="tokhai.v1.CheckinService"), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
    from tokhai_server import auth

    key = auth.create_key(server.state.db, name="monitor", role="analyst")
    watch = health.Watch(health_pb2.HealthCheckRequest(service=""), metadata=[("authorization", f"Bearer {key}")], timeout=10)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    import threading

    stopper = threading.Thread(target=server.stop, kwargs={"grace": 2})
    stopper.start()
    assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
    stopper.join()
    channel.close()


def test_a_drained_server_serves_on_while_health_says_not_serving(tmp_path):
    """Load balancers that probe health stop sending calls during the
    drain: those sent meanwhile are still answered, not refused."""
    import threading

    server = Server(Settings(data_dir=tmp_path / "d", retention_every=0), "127.0.0.1:0").start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    health = health_pb2_grpc.HealthStub(channel)
    stopper = threading.Thread(target=server.stop, kwargs={"grace": 1, "drain": 3})
    began = time.monotonic()
    stopper.start()
    while not server._stopped.is_set():  # noqa: SLF001 - the stop has begun
        time.sleep(0.01)
    assert health.Check(health_pb2.HealthCheckRequest(service="tokhai.v1.CheckinService"), timeout=5).status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert time.monotonic() - began < 2, "asked during the drain"
    stopper.join(timeout=30)
    assert time.monotonic() - began >= 3
    with pytest.raises(grpc.RpcError):
        health.Check(health_pb2.HealthCheckRequest(), timeout=5, wait_for_ready=False)
    channel.close()


def test_a_store_that_takes_no_change_until_reopened_turns_health_not_serving(service, now, monkeypatch):
    """After a change fails midway (a bug) the engine refuses changes until
    the store is reopened: the service says so, for an orchestrator to
    restart it, rather than answer "retry later" for ever."""
    from tokhai_engine import StoreInterruptedError

    state = service.server.state

    class Interrupted:
        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(engine, name)

        def add_stays(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            raise StoreInterruptedError("a change failed midway: reopen the store, which replays its log")

    engine = state.engine
    operator, app = service.client("venue_operator"), service.client("app_backend", app=1)
    _, payload = service.venue(operator)
    health = health_pb2_grpc.HealthStub(service.channel)
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
    monkeypatch.setattr(state, "engine", Interrupted())
    request = C.CheckInRequest(person=K.PersonRef(phone="0900000001"), venue_payload=payload, time=now - 60, source=1)
    with pytest.raises(grpc.RpcError) as info:
        app.checkins.CheckIn(request, metadata=app.md, timeout=10)
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    for name in ("", "tokhai.v1.CheckinService"):
        assert health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_an_engine_panic_ends_its_call_as_internal_and_turns_health_not_serving(service, now, monkeypatch):
    """The engine's panics (a bug) reach Python as PanicException, outside
    Exception: the call still ends with a status, and the service says it
    needs a restart."""

    class PanicException(BaseException):  # as pyo3 names it
        pass

    state = service.server.state
    engine = state.engine

    class Panicking:
        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(engine, name)

        def add_stays(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            raise PanicException("index out of bounds")

    operator, app = service.client("venue_operator"), service.client("app_backend", app=1)
    _, payload = service.venue(operator)
    monkeypatch.setattr(state, "engine", Panicking())
    request = C.CheckInRequest(person=K.PersonRef(phone="0900000001"), venue_payload=payload, time=now - 60, source=1)
    with pytest.raises(grpc.RpcError) as info:
        app.checkins.CheckIn(request, metadata=app.md, timeout=10)
    assert info.value.code() is grpc.StatusCode.INTERNAL and info.value.details() == "internal error"
    health = health_pb2_grpc.HealthStub(service.channel)
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_postgres_connections_time_out_and_keep_alive(database_url):
    if database_url is None:
        pytest.skip("PostgreSQL only")
    from tokhai_server import db

    for url, timeout in ((database_url, "10"), (f"{database_url}?connect_timeout=3", "3")):
        engine = db.connect(url)
        try:
            with engine.connect() as conn:
                held = conn.connection.dbapi_connection.info.get_parameters()
        finally:
            engine.dispose()
        assert held["connect_timeout"] == timeout and held["keepalives_idle"] == "30" and held["tcp_user_timeout"] == "40000", held


def test_postgres_statements_wait_for_a_lock_for_a_while_only(database_url, monkeypatch):
    """A session holding a lock (an operator's open transaction) fails the
    statements that wait for it after lock_timeout: 30 s, unless the URL
    (or the role, or PGOPTIONS) sets one."""
    if database_url is None:
        pytest.skip("PostgreSQL only")
    from tokhai_server import db

    quick_url = sa.engine.make_url(database_url).update_query_dict({"options": "-c lock_timeout=500ms"})
    engine, quick = db.connect(database_url), db.connect(quick_url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW lock_timeout")).scalar_one() == "30s"
        with engine.connect() as holder:
            holder.execute(sa.text("LOCK TABLE venues IN ACCESS EXCLUSIVE MODE"))
            began = time.monotonic()
            with pytest.raises(sa.exc.OperationalError), quick.connect() as conn:
                conn.execute(sa.select(db.venues.c.id).limit(1)).all()
            assert time.monotonic() - began < 10
            holder.rollback()
    finally:
        engine.dispose()
        quick.dispose()
    # One the operator set is kept, no limit too.
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=0")
    unlimited = db.connect(database_url)
    try:
        with unlimited.connect() as conn:
            assert conn.execute(sa.text("SHOW lock_timeout")).scalar_one() == "0"
    finally:
        unlimited.dispose()


def test_tls(tmp_path):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    server = Server(Settings(data_dir=tmp_path / "d", retention_every=0), "127.0.0.1:0", tls=(key_pem, cert_pem)).start()
    try:
        from harness import Client
        from tokhai_server import auth

        credentials = grpc.ssl_channel_credentials(root_certificates=cert_pem)
        channel = grpc.secure_channel(f"localhost:{server.port}", credentials)
        admin = Client(channel, auth.create_key(server.state.db, name="a", role="admin"))
        assert len(admin.venues.ListSigningKeys(V.ListSigningKeysRequest(), metadata=admin.md, timeout=10).keys) == 1
        plain = Client(grpc.insecure_channel(f"127.0.0.1:{server.port}"), admin.key)
        with pytest.raises(grpc.RpcError):
            plain.venues.ListSigningKeys(V.ListSigningKeysRequest(), metadata=plain.md, timeout=5)
        channel.close()
    finally:
        server.stop(grace=1)


def test_oversized_messages_are_refused(tmp_path, database_url):
    # No retention run: its audit record would land between the counts below.
    server = Server(Settings(data_dir=tmp_path / "d", database_url=database_url, max_message_bytes=64 << 10, retention_every=0), "127.0.0.1:0").start()
    try:
        from harness import Client
        from tokhai_server import auth

        channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
        app = Client(channel, auth.create_key(server.state.db, name="app", role="app_backend", app=2))
        huge = C.IngestBatch(batch_id=1, source=2, person_refs=["cccd:001099012345"] * 10_000)
        with pytest.raises(grpc.RpcError) as info:
            list(app.checkins.IngestCheckins(iter([huge]), metadata=app.md, timeout=10))
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        def check_ins() -> tuple[float, float]:  # received, and handled with any code
            samples = [x for m in REGISTRY.collect() for x in m.samples if x.labels.get("method") == "CheckIn"]
            return tuple(sum(x.value for x in samples if x.name == name) for name in ("tokhai_calls_received_total", "tokhai_calls_total"))

        before = check_ins()
        with pytest.raises(grpc.RpcError) as info:
            app.checkins.CheckIn(C.CheckInRequest(venue_payload="x" * 100_000), metadata=app.md, timeout=10)
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        # grpc refused it before the handler: received, never handled.
        assert check_ins() == (before[0] + 1, before[1])
        # An answer over the limit: refused with what to do, and not audited
        # (nobody received it).
        from tokhai.v1 import common_pb2 as K
        from tokhai.v1 import tracing_pb2 as T
        from tokhai_server import audit

        admin = Client(channel, auth.create_key(server.state.db, name="admin", role="admin"))
        address = V.Address(province_code="79", district_code="760", ward_code="26740")
        venue = admin.venues.RegisterVenue(V.RegisterVenueRequest(name="Chợ", kind=V.VENUE_KIND_SUPERMARKET, address=address), metadata=admin.md, timeout=10).id
        now = int(time.time())
        # 8,000 contacts of the case, at least 11 bytes each in the answer
        # (whatever the case's random pseudonym id): over the limit.
        n = 8_000
        server.state.engine.add_stays(np.arange(1, n + 1, dtype=np.uint64), np.full(n, venue, dtype=np.uint64), np.full(n, now - 3_600), np.full(n, now))
        tracer = Client(channel, auth.create_key(server.state.db, name="tracer", role="tracer"))
        case_id = server.state.people.of_ref(K.PersonRef(phone="0900000001"))[0]
        server.state.engine.add_stays([case_id], [venue], [now - 3_600], [now])
        before = audit.count(server.state.db)
        request = T.TraceRequest(cases=[T.Case(person=K.PersonRef(phone="0900000001"), province_code="79", start=now - 3_600, end=now)], hops=1, purpose="ổ dịch")
        with pytest.raises(grpc.RpcError) as info:
            tracer.tracing.Trace(request, metadata=tracer.md, timeout=30)
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED and "ask for less in each call" in info.value.details()
        with pytest.raises(grpc.RpcError) as info:
            tracer.tracing.VenueLog(T.VenueLogRequest(venue_id=venue, day=now, purpose="ổ dịch"), metadata=tracer.md, timeout=30)
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        from tokhai.v1 import care_pb2 as H

        alert = H.VenueAlert(venue_id=venue, start=now - 3_600, end=now, level=H.ALERT_LEVEL_MONITOR, message="Liên hệ trạm y tế phường. " * 38)
        for _ in range(2):  # 70 alerts of about a kilobyte, where the case was
            tracer.care.PublishAlerts(H.PublishAlertsRequest(alerts=[alert] * 35, purpose="ổ dịch"), metadata=tracer.md, timeout=30)
        with pytest.raises(grpc.RpcError) as info:
            app.care.ListExposures(H.ListExposuresRequest(person=K.PersonRef(phone="0900000001")), metadata=app.md, timeout=30)
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert audit.count(server.state.db) == before
        # Check-ins at each of 2,000 venues over 3 days, by venue: refused as
        # the answer grows past the limit, before it is all built.
        from tokhai.v1 import reports_pb2 as R
        from tokhai_server import db

        with server.state.db.begin() as conn:
            rows = [{"name": f"v{k}", "kind": 1, "province": "79", "district": "760", "ward": "26740", "dwell_seconds": 600, "created_at": now} for k in range(2_000)]
            conn.execute(db.venues.insert(), rows)
            ids = np.array(conn.execute(sa.select(db.venues.c.id)).scalars().all(), dtype=np.uint64)
        for day in range(3):
            t = now - day * 86_400 - 60
            server.state.engine.add_stays(np.arange(len(ids), dtype=np.uint64) + 10**6, ids, np.full(len(ids), t), np.full(len(ids), t + 30))
        by_venue = R.CountsRequest(province_code="79", by=R.LEVEL_VENUE, start=now - 3 * 86_400, end=now)
        with pytest.raises(grpc.RpcError) as info:
            tracer.reports.CheckinCounts(by_venue, metadata=tracer.md, timeout=30)
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED and "ask for fewer days" in info.value.details()
        by_province = R.CountsRequest(province_code="79", by=R.LEVEL_PROVINCE, start=now - 3 * 86_400, end=now)
        assert sum(r.count for r in tracer.reports.CheckinCounts(by_province, metadata=tracer.md, timeout=30).rows) >= 3 * len(ids)
        channel.close()
    finally:
        server.stop(grace=1)


def tokhai(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tokhai_server", *args], capture_output=True, text=True, timeout=60, **kw)


def test_the_cli_creates_keys_serves_and_shuts_down_on_sigterm(tmp_path):
    data = tmp_path / "tokhai[/]data"  # Rich markup, printed as it is
    made = tokhai("keys", "create", "--data-dir", str(data), "--role", "tracer", "--province", "79", "--name", "Sở Y tế TP.HCM")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("tk_")
    refused = tokhai("keys", "create", "--data-dir", str(data), "--role", "tracer", "--province", "99", "--name", "x")
    assert refused.returncode != 0 and "province" in refused.stderr

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        metrics_port = s.getsockname()[1]
    serve = subprocess.Popen(
        [sys.executable, "-m", "tokhai_server", "serve", "--data-dir", str(data), "--listen", "127.0.0.1:0", "--metrics-port", str(metrics_port), "--drain-seconds", "0.5"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        deadline = time.monotonic() + 60
        while "serving on" not in line and serve.poll() is None and time.monotonic() < deadline:
            line = serve.stderr.readline()
        assert "serving on" in line, f"the server did not start: {line}{serve.stderr.read() if serve.poll() is not None else ''}"
        assert f"data in {data.resolve()}," in line
        port = int(line.split("serving on ")[1].split()[0].rsplit(":", 1)[1])
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        from harness import Client

        tracer = Client(channel, key)
        assert len(tracer.venues.ListSigningKeys(V.ListSigningKeysRequest(), metadata=tracer.md, timeout=10).keys) == 1
        import urllib.request

        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
        assert 'tokhai_calls_total{code="OK",method="ListSigningKeys"} 1.0' in metrics
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
        assert "shutting down: serving 0.5 s more" in serve.stderr.read()
        channel.close()
    finally:
        if serve.poll() is None:
            serve.kill()
    verified = tokhai("audit", "verify", "--data-dir", str(data))
    assert verified.returncode == 0 and "intact" in verified.stderr
    # A mistyped directory is not taken for a new, empty service.
    for command in (("audit", "verify"), ("retention", "run"), ("keys", "revoke", key)):
        typo = tokhai(*command, "--data-dir", str(tmp_path / "dta"))
        assert typo.returncode == 1 and "is not a Tokhai data directory" in typo.stderr, typo.stderr
    assert not (tmp_path / "dta").exists()
    # Keys and the audit log need no data directory when the database is given.
    from tokhai_server import db

    elsewhere = tokhai("audit", "verify", "--data-dir", str(tmp_path / "none"), "--database-url", db.default_url(data))
    assert elsewhere.returncode == 0 and "intact" in elsewhere.stderr, elsewhere.stderr


def test_a_second_sigterm_ends_a_shutdown_held_up_by_a_call(tmp_path):
    data = tmp_path / "data"
    key = tokhai("keys", "create", "--data-dir", str(data), "--role", "app_backend", "--app", "2", "--name", "NCOVI").stdout.strip().splitlines()[-1]
    serve = subprocess.Popen([sys.executable, "-m", "tokhai_server", "serve", "--data-dir", str(data), "--listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
    release = threading.Event()
    try:
        line = ""
        while "serving on" not in line and serve.poll() is None:
            line = serve.stderr.readline()
        port = int(line.split("serving on ")[1].split()[0].rsplit(":", 1)[1])
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        from harness import Client

        app = Client(channel, key)

        def idle():
            release.wait(60)
            yield from ()

        # An ingest stream whose client sends nothing: in flight, for the
        # whole grace period (10 s) of a shutdown.
        held = app.checkins.IngestCheckins(idle(), metadata=app.md, timeout=60)
        time.sleep(1)
        serve.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert serve.poll() is None, "the first signal waits for the call"
        started = time.monotonic()
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=5) == 1 and time.monotonic() - started < 5
        assert "second signal" in serve.stderr.read()
        held.cancel()
        channel.close()
    finally:
        release.set()
        if serve.poll() is None:
            serve.kill()
    # Nothing was lost: the store opens.
    assert tokhai("audit", "verify", "--data-dir", str(data)).returncode == 0


def test_serve_refuses_ports_in_use_with_the_reason(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for where in (["--listen", f"127.0.0.1:{port}"], ["--listen", "127.0.0.1:0", "--metrics-port", str(port)]):
            refused = tokhai("serve", "--data-dir", str(tmp_path / "data"), *where)
            assert refused.returncode == 1 and f"{port}" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr


def test_the_cli_gives_reasons_not_tracebacks(tmp_path):
    from tokhai_engine import Engine

    data = tmp_path / "data"
    # A name with what the terminal's markup would take for tags, shown as given.
    made = tokhai("keys", "create", "--data-dir", str(data), "--role", "admin", "--name", "Ops [/] team [bold]x")
    assert made.returncode == 0 and "Ops [/] team [bold]x" in made.stderr, made.stderr
    with Engine.open(data / "stays"):  # as a running server holds it
        for command in (("retention", "run"), ("serve", "--listen", "127.0.0.1:0")):
            refused = tokhai(*command, "--data-dir", str(data))
            assert refused.returncode == 1 and "has the store open" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    for url, reason in [("nosuch://x", "not a database URL"), (f"sqlite:///{tmp_path}/no/such/folder/x.db", "cannot use the database")]:
        for command in (("keys", "create", "--role", "admin", "--name", "x"), ("keys", "revoke", "tk_0"), ("audit", "verify")):
            refused = tokhai(*command, "--data-dir", str(data), "--database-url", url)
            assert refused.returncode == 1 and reason in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    not_pem = tmp_path / "cert.pem"
    not_pem.write_text("not a certificate")
    refused = tokhai("serve", "--data-dir", str(data), "--listen", "127.0.0.1:0", "--tls-cert", str(not_pem), "--tls-key", str(not_pem))
    assert refused.returncode == 1 and "holds no PEM certificate" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr


def test_a_killed_server_loses_no_acknowledged_check_in(tmp_path):
    from harness import Client

    from tokhai.v1 import common_pb2 as K
    from tokhai_engine import Engine
    from tokhai_server import auth, db
    from tokhai_server.codes import Codes
    from tokhai_server.config import prepare

    data = tmp_path / "data"
    secrets, _ = prepare(data)
    database = db.connect(db.default_url(data))
    app_key = auth.create_key(database, name="app", role="app_backend", app=2)
    now = int(time.time())
    with database.begin() as conn:
        conn.execute(db.venues.insert().values(name="V", kind=12, province="79", district="760", ward="26740", street="", dwell_seconds=600, active=True, created_at=now))
    payload = Codes(database, secrets.master_key).venue_code(1)
    database.dispose()

    acknowledged: dict[int, int] = {}
    for round_ in range(2):
        serve = subprocess.Popen(
            [sys.executable, "-m", "tokhai_server", "serve", "--data-dir", str(data), "--listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True
        )
        line = ""
        while "serving on" not in line:
            line = serve.stderr.readline()
            assert line or serve.poll() is None, "server did not start"
        port = int(line.split("serving on ")[1].split()[0].rsplit(":", 1)[1])
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        app = Client(channel, app_key)
        stop = time.monotonic() + 1.0
        import threading

        def client(k: int) -> None:
            n = 0
            while True:
                person = round_ * 10**7 + k * 10**5 + n
                try:
                    r = app.checkins.CheckIn(
                        C.CheckInRequest(request_id=f"{person}", person=K.PersonRef(citizen_id=f"{person:012d}"), venue_payload=payload, time=now, source=2),
                        metadata=app.md,
                        timeout=5,
                    )
                except grpc.RpcError:
                    return  # the server is gone
                acknowledged[person] = r.stay_id
                n += 1
                if time.monotonic() > stop and serve.poll() is None:
                    serve.kill()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        if serve.poll() is None:  # the clients stopped before killing it
            serve.kill()
        serve.wait()
        channel.close()
        with Engine.open(data / "stays") as store:
            held = set(store.stays_between(now - 86_400, now + 86_400).stay_id.tolist())
        missing = set(acknowledged.values()) - held
        assert not missing, f"round {round_}: {len(missing)} acknowledged check-ins lost"
    assert len(acknowledged) > 20


def test_lost_or_mismatched_secrets_are_refused_not_made_again(tmp_path):
    """New secrets beside old data would file everyone under new pseudonyms
    and leave the signing keys unreadable: the service refuses to start."""
    from tokhai_server.config import SetupError
    from tokhai_server.state import State

    data = tmp_path / "data"
    State(Settings(data_dir=data, retention_every=0)).close()
    (data / "secrets" / "pseudonym.key").unlink()
    with pytest.raises(SetupError, match="pseudonym.key is missing: restore it"):
        State(Settings(data_dir=data, retention_every=0))
    for name in ("pseudonym.key", "master.key"):
        (data / "secrets" / name).unlink(missing_ok=True)
    (data / "secrets").rmdir()
    with pytest.raises(SetupError, match="holds data but no secrets/"):
        State(Settings(data_dir=data, retention_every=0))
    # A new data directory beside a database made with other secrets (a
    # database URL given, as for PostgreSQL).
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    State(Settings(data_dir=tmp_path / "first", database_url=shared, retention_every=0)).close()
    with pytest.raises(SetupError, match="not the one this database was made with"):
        State(Settings(data_dir=tmp_path / "second", database_url=shared, retention_every=0))
    # A database from before the fingerprints: its signing keys tell, and
    # nothing is recorded for secrets that are not its own.
    from tokhai_server import db

    engine = db.connect(shared)
    with engine.begin() as conn:
        conn.execute(db.meta.delete())
    with pytest.raises(SetupError, match="does not open this database's signing keys"):
        State(Settings(data_dir=tmp_path / "second", database_url=shared, retention_every=0))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.meta)).scalar_one() == 0
    State(Settings(data_dir=tmp_path / "first", database_url=shared, retention_every=0)).close()
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.meta)).scalar_one() == 2, "its own secrets: recorded"
    engine.dispose()
    # A setup cut short leaves no half-made secrets/ behind.
    (tmp_path / "cut" / "secrets.new").mkdir(parents=True)
    (tmp_path / "cut" / "secrets.new" / "pseudonym.key").write_bytes(b"x")
    State(Settings(data_dir=tmp_path / "cut", retention_every=0)).close()
    assert not (tmp_path / "cut" / "secrets.new").exists() and len((tmp_path / "cut" / "secrets" / "pseudonym.key").read_bytes()) == 32


def test_every_rpc_of_the_protos_has_a_handler():
    """The generated base classes answer UNIMPLEMENTED (NotImplementedError);
    none of our methods may fall through to them."""
    from tokhai.v1 import care_pb2, checkins_pb2, reports_pb2, tracing_pb2, venues_pb2
    from tokhai_server.services.care import CareServicer
    from tokhai_server.services.checkins import CheckinServicer
    from tokhai_server.services.reports import ReportServicer
    from tokhai_server.services.tracing import TracingServicer
    from tokhai_server.services.venues import VenueServicer

    servicers = {
        "VenueService": (venues_pb2, VenueServicer),
        "CheckinService": (checkins_pb2, CheckinServicer),
        "TracingService": (tracing_pb2, TracingServicer),
        "CareService": (care_pb2, CareServicer),
        "ReportService": (reports_pb2, ReportServicer),
    }
    for service, (module, servicer) in servicers.items():
        for method in module.DESCRIPTOR.services_by_name[service].methods:
            assert method.name in vars(servicer), f"{service}.{method.name} has no handler"
            # A method left out of the table would be for admins only.
            assert f"/tokhai.v1.{service}/{method.name}" in auth.PERMISSIONS, f"{service}.{method.name} says no role may call it"
    assert set(auth.PERMISSIONS) <= {f"/tokhai.v1.{service}/{m.name}" for service, (module, _) in servicers.items() for m in module.DESCRIPTOR.services_by_name[service].methods}
    tracer = auth.Principal(id=1, name="t", role=auth.Role.TRACER, province=None, app=None)
    with pytest.raises(PermissionDenied):
        auth.allowed(tracer, "/tokhai.v1.CareService/NotListed")
    auth.allowed(tracer, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")


def test_keys_are_made_as_calls_will_check_them_and_the_data_is_private(tmp_path):
    from tokhai_server import auth, db
    from tokhai_server.config import prepare
    from tokhai_server.errors import Invalid

    data_dir = tmp_path / "new" / "data"
    prepare(data_dir)
    assert data_dir.stat().st_mode & 0o077 == 0, "people's data is the service user's alone"
    made_before = tmp_path / "made-before"
    made_before.mkdir(mode=0o755)
    prepare(made_before)
    assert made_before.stat().st_mode & 0o077 == 0, "also in a directory made beforehand"
    engine = db.connect(db.default_url(data_dir))
    auth.create_key(engine, name="Trạm y tế", role="health_staff", province="79", place=" Phường 9 ")
    with engine.connect() as conn:
        assert conn.execute(db.principals.select()).one().place == "Phường 9"
    with pytest.raises(Invalid, match="--app"):
        auth.create_key(engine, name="x", role="app_backend", app=7)
    engine.dispose()


def test_names_keep_emoji_and_joined_letters_but_not_hidden_characters():
    from tokhai_server import text
    from tokhai_server.errors import Invalid

    for kept in ("Lan 👩\u200d⚕️", "Quán 🫨", "Cà phê Sài Gòn"):
        assert text.clean(kept, "name", 50) == kept
    for hidden in ("\u200b", "a\u202eb", "\ufeffx", "x\x00", "A\u061cB", "\u2061", "\u3164", "\u2800", "x\U000e0041", "\u034f"):
        with pytest.raises(Invalid, match="control or invisible"):
            text.clean(hidden, "name", 50, required=True)
    for nothing in ("", "  ", "\u0301"):  # a combining accent alone
        with pytest.raises(Invalid, match="name is required"):
            text.clean(nothing, "name", 50, required=True)
    assert text.clean("Cà phê ☕\ufe0f", "name", 50, required=True) == "Cà phê ☕\ufe0f"
    scotland = "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"
    assert text.clean(f"Pub {scotland}", "name", 50) == f"Pub {scotland}"
    # Other text in tags, after a black flag, shows as the flag alone.
    hidden = "\U0001F3F4" + "".join(chr(0xE0000 + ord(c)) for c in "call0912345678") + "\U000E007F"
    with pytest.raises(Invalid, match="control or invisible"):
        text.clean(f"Quán A {hidden}", "name", 50)


def test_columns_and_indexes_added_since_a_database_was_made_are_created(tmp_path):
    from tokhai_server import db

    url = f"sqlite:///{tmp_path}/t.db"
    db.connect(url).dispose()
    made = sa.create_engine(url)
    with made.begin() as conn:  # as a database made before the index and the column were
        conn.exec_driver_sql("DROP INDEX ix_alerts_expires_at")
        conn.exec_driver_sql("DROP INDEX ix_audit_log_unwiped")
        conn.exec_driver_sql("ALTER TABLE audit_log DROP COLUMN detail_hash")
        conn.exec_driver_sql("ALTER TABLE audit_log DROP COLUMN detail_salt")
    made.dispose()
    again = db.connect(url)
    assert "ix_alerts_expires_at" in {index["name"] for index in sa.inspect(again).get_indexes("alerts")}
    assert {"detail_hash", "detail_salt"} <= {column["name"] for column in sa.inspect(again).get_columns("audit_log")}
    assert "ix_audit_log_unwiped" in {index["name"] for index in sa.inspect(again).get_indexes("audit_log")}
    again.dispose()


def test_a_call_in_flight_at_shutdown_finishes_and_new_calls_are_refused(tmp_path, now):
    from harness import Client

    data_dir = tmp_path / "d"
    server = Server(Settings(data_dir=data_dir, retention_every=0), "127.0.0.1:0").start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    admin = Client(channel, auth.create_key(server.state.db, name="admin", role="admin"))
    app = Client(channel, auth.create_key(server.state.db, name="app", role="app_backend", app=K.SOURCE_APP_NCOVI))
    venue = admin.venues.RegisterVenue(
        V.RegisterVenueRequest(name="Chợ", kind=V.VENUE_KIND_SUPERMARKET, address=V.Address(province_code="79", district_code="760", ward_code="26740")),
        metadata=admin.md,
        timeout=10,
    )
    more = threading.Event()

    def batches():  # noqa: ANN202
        for n in (1, 2):
            yield C.IngestBatch(batch_id=n, source=K.SOURCE_APP_NCOVI, person_refs=[f"phone:09{n:08d}"], venue_ids=[venue.id], t_in=[now - 600], t_out=[0])
            more.wait(timeout=20)

    acks = app.checkins.IngestCheckins(batches(), metadata=app.md, timeout=30)
    assert next(acks).batch_id == 1
    stopper = threading.Thread(target=server.stop, kwargs={"grace": 20})
    stopper.start()
    while not server._stopped.is_set():  # noqa: SLF001 - the stop has begun
        time.sleep(0.01)
    time.sleep(0.2)
    # New calls are refused from the moment the server stops...
    late = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    with pytest.raises(grpc.RpcError) as info:
        health_pb2_grpc.HealthStub(late).Check(health_pb2.HealthCheckRequest(), timeout=5, wait_for_ready=False)
    # (UNAVAILABLE, or CANCELLED when it got in as grpc's stop began)
    assert info.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    # ...while the stream in flight goes on to its end, its batch stored.
    more.set()
    assert [a.batch_id for a in acks] == [2]
    stopper.join(timeout=30)
    assert not stopper.is_alive()
    channel.close()
    late.close()
    reopened = Server(Settings(data_dir=data_dir, retention_every=0), "127.0.0.1:0")
    try:
        assert len(reopened.state.engine) == 2
    finally:
        reopened.stop(grace=0)


def test_calls_past_the_concurrency_limit_are_refused(tmp_path, monkeypatch):
    from harness import Client, Slowed

    server = Server(Settings(data_dir=tmp_path / "d", retention_every=0, max_concurrent_rpcs=1), "127.0.0.1:0").start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    tracer = Client(channel, auth.create_key(server.state.db, name="tracer", role="tracer"))
    monkeypatch.setattr(server.state, "engine", Slowed(server.state.engine, "exposure_sites", 2))
    try:
        now = int(time.time())
        case = T.Case(person=K.PersonRef(phone="0900000001"), province_code="79", start=now - 3_600, end=now)
        slow = tracer.tracing.Trace.future(T.TraceRequest(cases=[case], hops=1, purpose="ổ dịch"), metadata=tracer.md, timeout=20)
        time.sleep(0.5)  # the slow one holds the only place
        def counts() -> tuple[float, float]:  # ListSigningKeys calls received, and handled
            received = REGISTRY.get_sample_value("tokhai_calls_received_total", {"method": "ListSigningKeys"})
            return received or 0, REGISTRY.get_sample_value("tokhai_calls_total", {"method": "ListSigningKeys", "code": "OK"}) or 0

        before = counts()
        with pytest.raises(grpc.RpcError) as info:
            tracer.venues.ListSigningKeys(V.ListSigningKeysRequest(), metadata=tracer.md, timeout=10)
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert len(slow.result().people.person_id) == 1  # the case alone
        assert len(tracer.venues.ListSigningKeys(V.ListSigningKeysRequest(), metadata=tracer.md, timeout=10).keys) == 1
        # The refused call is counted as received, never as handled.
        after = counts()
        assert (after[0] - before[0], after[1] - before[1]) == (2, 1)
    finally:
        monkeypatch.undo()
        channel.close()
        server.stop(grace=1)


def test_retention_run_says_why_the_store_could_not_finish(tmp_path, monkeypatch):
    """The reason and exit 1, not a traceback."""
    from typer.testing import CliRunner

    from tokhai_engine import Engine, StoreError
    from tokhai_server.cli import app

    data = tmp_path / "data"
    assert tokhai("keys", "create", "--data-dir", str(data), "--role", "admin", "--name", "a").returncode == 0

    def failing(engine, cutoff: int) -> int:  # noqa: ANN001
        raise StoreError("delete part-1.tkp: read-only file system")

    monkeypatch.setattr(Engine, "expire_before", failing)  # the class: its instances take no attributes
    run = CliRunner().invoke(app, ["retention", "run", "--data-dir", str(data)])
    assert run.exit_code == 1 and isinstance(run.exception, (SystemExit, type(None))), run.exception
    assert "could not finish its deletions: delete part-1.tkp: read-only file system" in run.output
