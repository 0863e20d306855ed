"""`tokhai`: run the service and administer it."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from tokhai_engine import StoreError, StoreLockedError

from . import audit, auth, db
from .config import Settings, SetupError, prepare
from .errors import ServiceError

app = typer.Typer(help="Tokhai: national check-in and contact-tracing service.", no_args_is_help=True)
keys = typer.Typer(help="API keys of app backends, venue operators, tracers, analysts and admins.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log of reads of personal data.", no_args_is_help=True)
app.add_typer(keys, name="keys")
app.add_typer(audit_app, name="audit")
console = Console(stderr=True)

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Where the service keeps its data (serve and keys create set it up; other commands need it set up).")
]
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", envvar="TOKHAI_DATABASE_URL", help="SQLAlchemy URL; default: SQLite in the data directory.")
]


@contextlib.contextmanager
def _refused_setup() -> Iterator[None]:
    """A data directory, secrets, store or database that cannot be used:
    the reason, and exit 1 (not a traceback)."""
    try:
        yield
        return
    except SetupError as e:
        reason = str(e)
    except StoreLockedError as e:
        reason = f"{e}: a running server (or another command) has the store open; stop it first"
    except StoreError as e:
        reason = f"cannot open the stays' store: {e}"
    except sa.exc.ArgumentError as e:  # a malformed URL, an unknown database
        reason = f"--database-url is not a database URL this service can use: {e}"
    except sa.exc.DBAPIError as e:
        reason = f"cannot use the database: {e.orig}"
    # Printed as it is: paths, names and URLs may hold [brackets].
    console.print(reason, style="red", markup=False, soft_wrap=True)
    raise typer.Exit(1)


def _set_up(data_dir: Path, *, create: bool = False) -> None:
    """Commands that read or delete act on a data directory set up already:
    on a mistyped path they would make a new, empty one and report on it
    (`audit verify`: intact, 0 records). `serve` and `keys create` set one up."""
    with _refused_setup():
        prepare(data_dir, create=create)


def _database(data_dir: Path, database_url: str | None, *, create: bool = False):  # noqa: ANN202
    if database_url:
        return db.connect(database_url)  # keys and the audit log need nothing of the data directory
    _set_up(data_dir, create=create)
    return db.connect(db.default_url(data_dir))


def _this_command() -> str:
    """How this command was run, to repeat in hints: `.venv/bin/tokhai`, say."""
    if not sys.argv or sys.argv[0].endswith("__main__.py"):
        return f"{sys.executable} -m tokhai_server"
    return sys.argv[0]


@app.command()
def serve(
    data_dir: DataDir = Path("tokhai-data"),
    listen: Annotated[str, typer.Option(help="host:port to serve gRPC on.")] = "127.0.0.1:50051",
    database_url: DatabaseUrl = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus metrics over HTTP on this port.")] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate chain: serve TLS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    drain_seconds: Annotated[
        float, typer.Option(min=0, max=600, help="On SIGTERM, keep serving this long with health NOT_SERVING, for load balancers to stop sending calls here.")
    ] = 0.0,
) -> None:
    """Serve the gRPC API until SIGTERM or Ctrl-C, then shut down gracefully."""
    from .app import Server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("give both --tls-cert and --tls-key, or neither")
    with _refused_setup():
        tls = None if tls_cert is None else _tls(tls_key, tls_cert)
    settings = Settings(data_dir=data_dir, database_url=database_url)
    with _refused_setup():
        if metrics_port is not None:
            # Before the service, which then never runs without its metrics.
            from prometheus_client import start_http_server

            try:
                start_http_server(metrics_port, addr=listen.rsplit(":", 1)[0].strip("[]") or "0.0.0.0")
            except OSError as e:
                raise SetupError(f"cannot serve metrics on port {metrics_port}: {e}") from None
        server = Server(settings, listen, tls=tls).start()
    where = f"{listen.rsplit(':', 1)[0]}:{server.port}"
    # Paths may hold [brackets], which Rich would read as markup.
    console.print(f"[bold]tokhai[/] serving on {where} ({'TLS' if tls else 'plaintext'}), data in {escape(str(data_dir.resolve()))}, {len(server.state.engine):,} stays", soft_wrap=True)
    if server.state.first_start:
        console.print(
            f"First start: created {data_dir}. Create an admin key with:\n"
            f"  {_this_command()} keys create --data-dir {data_dir}{' --database-url <the same URL>' if database_url else ''} --role admin --name 'Your Name'",
            soft_wrap=True,  # a command to copy: never broken across lines
            markup=False,
        )
    done = threading.Event()

    def on_signal(*_: object) -> None:
        if done.is_set():
            # A call that never ends (a database gone quiet) holds up the
            # shutdown: a second signal ends it. Every check-in acknowledged
            # is in the stays' log already; the next start replays it.
            os.write(2, b"second signal: exiting now, without waiting for calls in flight\n")
            os._exit(1)
        done.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    done.wait()
    console.print(f"shutting down: {f'serving {drain_seconds:g} s more while health says NOT_SERVING, then ' if drain_seconds else ''}finishing calls in flight")
    server.stop(drain=drain_seconds)


def _tls(key_path: Path, cert_path: Path) -> tuple[bytes, bytes]:
    """(key, certificate chain) read and checked as gRPC needs them: gRPC
    itself says only that it failed to bind the address."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key_pem, cert_pem = key_path.read_bytes(), cert_path.read_bytes()
    except OSError as e:
        raise SetupError(f"cannot read the TLS files: {e}") from None
    try:
        certificates = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as e:
        raise SetupError(f"--tls-cert {cert_path} holds no PEM certificate: {e}") from None
    try:
        key = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as e:  # TypeError: a key that needs a password
        raise SetupError(f"--tls-key {key_path} holds no unencrypted PEM private key: {e}") from None
    if key.public_key() != certificates[0].public_key():
        raise SetupError(f"--tls-key {key_path} is not the key of the first certificate in --tls-cert {cert_path}")
    return key_pem, cert_pem


@keys.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(r.value for r in auth.Role)}.")],
    name: Annotated[str, typer.Option(help="Who holds the key (an app, a venue, a person).")],
    data_dir: DataDir = Path("tokhai-data"),
    province: Annotated[str | None, typer.Option(help="Two-digit province code: limits a tracer, analyst or operator to it; required for health staff.")] = None,
    app_id: Annotated[int | None, typer.Option("--app", help="Required for app backends: 1 Tờ khai y tế, 2 NCOVI, 3 Bluezone.")] = None,
    place: Annotated[str | None, typer.Option(help="Required for health staff: the facility name or ward code they look after.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a key; it is printed once, as the last line, and stored hashed."""
    try:
        with _refused_setup():
            key = auth.create_key(_database(data_dir, database_url, create=True), name=name, role=role, province=province, app=app_id, place=place)
    except ServiceError as e:
        raise typer.BadParameter(str(e)) from None
    console.print(f"Created {'an' if role[0] in 'aeiou' else 'a'} {role} key for {name}{f' (province {province})' if province else ''}. It is shown only now:", markup=False)
    print(key)


@keys.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The key, or its id (the part after tk_).")], data_dir: DataDir = Path("tokhai-data"), database_url: DatabaseUrl = None) -> None:
    """Revoke a key: calls with it fail within seconds."""
    key_id = key.split("_")[1] if key.startswith("tk_") else key
    with _refused_setup():
        revoked = auth.revoke_key(_database(data_dir, database_url), key_id)
    if not revoked:
        console.print(f"no live key {key_id}", markup=False)
        raise typer.Exit(1)
    console.print(f"revoked {key_id}", markup=False)


retention_app = typer.Typer(help="Deleting data older than the retention period.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")


@retention_app.command("run")
def retention_run(data_dir: DataDir = Path("tokhai-data"), database_url: DatabaseUrl = None) -> None:
    """Delete stays, declarations, reports and the rest older than the
    retention period, now. A running server does this every hour itself;
    this command is for a stopped one (the store admits one engine)."""
    from . import retention
    from .state import State

    _set_up(data_dir)
    with _refused_setup():
        state = State(Settings(data_dir=data_dir, database_url=database_url))
    try:
        removed = retention.run(state)
    except StoreError as e:
        # The database's deletions are done; the store's go on at the next run.
        console.print(f"the stays' store could not finish its deletions: {e}; the next run tries again", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        state.close()
    for kind, count in removed.items():
        console.print(f"{kind}: {count:,} deleted")


@app.command()
def demo(
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Run an embedded server on this directory (default: a fresh temporary one).")] = None,
    target: Annotated[str | None, typer.Option(help="host:port of a running server instead (give --key).")] = None,
    key: Annotated[str | None, typer.Option(envvar="TOKHAI_KEY", help="An admin key of the --target server.")] = None,
    out: Annotated[Path, typer.Option(help="Where the poster and a picture of this output go.")] = Path("tokhai-demo"),
    venues: int = 300,
    people: int = 3_000,
    days: int = 3,
    cases: int = 5,
    seed: int = 1,
) -> None:
    """Run the directive's whole workflow through the public API and show it."""
    import tempfile

    import grpc
    from rich.console import Console

    from . import demo as workflow

    screen = Console(record=True)
    if target is not None:
        if key is None:
            raise typer.BadParameter("--target needs --key (an admin key)")
        roles = ["admin", "operator", "tracer", "analyst", "app1", "app2", "app3"]
        with grpc.insecure_channel(target) as channel:
            workflow.run(channel, dict.fromkeys(roles, key), out, venues=venues, people=people, days=days, cases=cases, seed=seed, console=screen)
    else:
        from .app import Server

        folder = data_dir or Path(tempfile.mkdtemp(prefix="tokhai-demo-"))
        server = Server(Settings(data_dir=folder), "127.0.0.1:0").start()
        try:
            make = lambda role, name, **kw: auth.create_key(server.state.db, role=role, name=name, **kw)  # noqa: E731
            keys = {
                "admin": make("admin", "Ban chỉ đạo"),
                "operator": make("venue_operator", "Chủ địa điểm", province="79"),
                "tracer": make("tracer", "Sở Y tế TP.HCM", province="79"),
                "analyst": make("analyst", "Bộ Y tế"),
                **{f"app{a}": make("app_backend", workflow.APPS[a], app=a) for a in workflow.APPS},
            }
            screen.print(f"Embedded server on 127.0.0.1:{server.port}, data in {folder}", markup=False)
            with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                workflow.run(channel, keys, out, venues=venues, people=people, days=days, cases=cases, seed=seed, console=screen)
        finally:
            server.stop(grace=5)
            if data_dir is None:
                shutil.rmtree(folder, ignore_errors=True)  # a fresh temporary one: people's data, gone with the demo
    screen.save_svg(str(out / "demo.svg"), title="tokhai demo")
    console.print(f"the poster and a picture of this output are in {out}/", markup=False)


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = Path("tokhai-data"), database_url: DatabaseUrl = None) -> None:
    """Check the audit log's hash chain; exit 1 if any record was altered, removed or reordered, or its detail wiped before retention would."""
    # Details are wiped only past the retention period: one wiped inside it
    # was tampered with. (An hour's leeway for a clock behind the server's.)
    period = Settings(data_dir=data_dir).retention_days * 86_400
    with _refused_setup():
        engine = _database(data_dir, database_url)
        broken = list(audit.verify(engine, wiped_before=int(time.time()) - period + 3_600))
        records = audit.count(engine)
    for seq, what in broken:
        console.print(f"record {seq} {what}", style="red", markup=False)
    if broken:
        raise typer.Exit(1)
    console.print(f"audit log intact: {records:,} records")


def main() -> None:
    app()
