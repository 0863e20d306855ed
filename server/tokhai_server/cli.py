"""`tokhai`: run the service and administer it."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from . import audit, auth, db
from .config import Settings, prepare
from .errors import ServiceError

app = typer.Typer(help="Tokhai: national check-in and contact-tracing service.", no_args_is_help=True)
keys = typer.Typer(help="API keys of app backends, venue operators, tracers, analysts and admins.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log of reads of personal data.", no_args_is_help=True)
app.add_typer(keys, name="keys")
app.add_typer(audit_app, name="audit")
console = Console(stderr=True)

DataDir = Annotated[Path, typer.Option("--data-dir", help="Where the service keeps its data (created on first use).")]
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", envvar="TOKHAI_DATABASE_URL", help="SQLAlchemy URL; default: SQLite in the data directory.")
]


def _database(data_dir: Path, database_url: str | None):  # noqa: ANN202
    prepare(data_dir)
    return db.connect(database_url or db.default_url(data_dir))


@app.command()
def serve(
    data_dir: DataDir = Path("tokhai-data"),
    listen: Annotated[str, typer.Option(help="host:port to serve gRPC on.")] = "127.0.0.1:50051",
    database_url: DatabaseUrl = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus metrics over HTTP on this port.")] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate chain: serve TLS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
) -> None:
    """Serve the gRPC API until SIGTERM or Ctrl-C, then shut down gracefully."""
    from .app import Server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("give both --tls-cert and --tls-key, or neither")
    tls = None if tls_cert is None else (tls_key.read_bytes(), tls_cert.read_bytes())
    settings = Settings(data_dir=data_dir, database_url=database_url)
    server = Server(settings, listen, tls=tls).start()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=listen.rsplit(":", 1)[0] or "0.0.0.0")
    where = f"{listen.rsplit(':', 1)[0]}:{server.port}"
    console.print(f"[bold]tokhai[/] serving on {where} ({'TLS' if tls else 'plaintext'}), data in {data_dir.resolve()}, {len(server.state.engine):,} stays")
    if server.state.first_start:
        console.print(
            f"First start: created {data_dir}. Create an admin key with:\n"
            f"  tokhai keys create --data-dir {data_dir} --role admin --name 'Your Name'"
        )
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    console.print("shutting down: finishing calls in flight")
    server.stop()


@keys.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(r.value for r in auth.Role)}.")],
    name: Annotated[str, typer.Option(help="Who holds the key (an app, a venue, a person).")],
    data_dir: DataDir = Path("tokhai-data"),
    province: Annotated[str | None, typer.Option(help="Two-digit province code: limits a tracer or operator to it.")] = None,
    app_id: Annotated[int | None, typer.Option("--app", help="App backends: 1 Tờ khai y tế, 2 NCOVI, 3 Bluezone.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a key; it is printed once, as the last line, and stored hashed."""
    try:
        key = auth.create_key(_database(data_dir, database_url), name=name, role=role, province=province, app=app_id)
    except ServiceError as e:
        raise typer.BadParameter(str(e)) from None
    console.print(f"Created a {role} key for {name}{f' (province {province})' if province else ''}. It is shown only now:")
    print(key)


@keys.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The key, or its id (the part after tk_).")], data_dir: DataDir = Path("tokhai-data"), database_url: DatabaseUrl = None) -> None:
    """Revoke a key: calls with it fail within seconds."""
    key_id = key.split("_")[1] if key.startswith("tk_") else key
    if not auth.revoke_key(_database(data_dir, database_url), key_id):
        console.print(f"no live key {key_id}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


retention_app = typer.Typer(help="Deleting data older than the retention period.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")


@retention_app.command("run")
def retention_run(data_dir: DataDir = Path("tokhai-data"), database_url: DatabaseUrl = None) -> None:
    """Delete stays, declarations, reports and the rest older than the
    retention period, now. A running server does this every hour itself;
    this command is for a stopped one (the store admits one engine)."""
    from . import retention
    from .state import State

    state = State(Settings(data_dir=data_dir, database_url=database_url))
    try:
        removed = retention.run(state)
    finally:
        state.close()
    for kind, count in removed.items():
        console.print(f"{kind}: {count:,} deleted")


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = Path("tokhai-data"), database_url: DatabaseUrl = None) -> None:
    """Check the audit log's hash chain; exit 1 if any record was altered, removed or reordered."""
    engine = _database(data_dir, database_url)
    broken = list(audit.verify(engine))
    for seq, what in broken:
        console.print(f"[red]record {seq}[/] {what}")
    if broken:
        raise typer.Exit(1)
    console.print(f"audit log intact: {audit.count(engine):,} records")


def main() -> None:
    app()
