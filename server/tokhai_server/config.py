"""Settings of a running service, and its data directory."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import secrets
import shutil
from pathlib import Path

import sqlalchemy as sa

from . import db


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path
    #: SQLAlchemy URL; SQLite in the data directory when None.
    database_url: str | None = None
    #: Days stays are kept and accepted: older check-ins are refused.
    retention_days: int = 28
    #: Days a call's answer is kept for retries of its request id. Retries
    #: come within minutes or hours, and an answer can be large (a bulk
    #: batch's holds every stay id) and is personal data.
    answers_kept_days: int = 2
    #: How far ahead of the server's clock a check-in time may be.
    max_future_seconds: int = 300
    #: How late a venue device's scan of a personal code may arrive. An app
    #: offline for days still uploads its check-ins (within the retention
    #: period), but a venue is not to place someone at its door weeks ago
    #: with a code it once scanned.
    max_scan_delay_seconds: int = 86_400
    max_message_bytes: int = 16 << 20
    #: Calls in progress at once, most of them waiting for a thread; more
    #: are refused with RESOURCE_EXHAUSTED. A queue of this many check-ins
    #: is a fifth of a second's work: a deeper one would only delay the
    #: refusal a client under a deadline needs, and the health checks.
    max_concurrent_rpcs: int = 256
    #: Threads that run calls. Python runs one at a time, so a few more than
    #: the cores keep the cores busy while some wait on disk or the engine;
    #: more only take turns, and handing the interpreter between them costs
    #: (on 2 cores, CheckIn: 6 threads about a fifth more calls/s than 8,
    #: 32 fewer still; docs/service.md). Streams may hold all but two of
    #: them: the API's (bulk ingest, exports) three, health's Watch and
    #: reflection two.
    workers: int = 7
    #: Checkpoint the stays' log at this size (see docs/storage.md).
    checkpoint_bytes: int = 256 << 20
    #: Warning signs in a daily report: SpO2 below, temperature at or above.
    warning_spo2_below: float = 96.0
    warning_temperature_from: float = 38.5
    #: Days an exposure alert is listed unless given an expiry.
    alert_days: int = 14
    #: Seconds between runs of the retention job inside the server (0: never).
    retention_every: int = 3_600

    @property
    def url(self) -> str:
        return self.database_url or db.default_url(self.data_dir)


@dataclasses.dataclass(frozen=True)
class Secrets:
    #: Keys the HMAC that turns citizen ids and phones into pseudonyms.
    pseudonym_key: bytes
    #: Encrypts the QR signing keys at rest.
    master_key: bytes


class SetupError(RuntimeError):
    """The data directory or its secrets cannot be used: the message says why
    and what to do."""


def prepare(data_dir: Path, *, create: bool = True) -> tuple[Secrets, bool]:
    """The data directory's secrets, and whether this is its first use. With
    `create`, a directory not set up yet is (its secrets made); without, it
    must be set up already (admin commands: a mistyped path must not give a
    new, empty service). Secrets are never made again beside data: new keys
    would make everyone recorded a stranger."""
    folder = data_dir / "secrets"
    first = not folder.exists()
    if first and not create:
        raise SetupError(f"{data_dir} is not a Tokhai data directory (it has no secrets/): `tokhai serve --data-dir {data_dir}` sets one up")
    if first and ((data_dir / "tokhai.db").exists() or (data_dir / "stays").exists()):
        raise SetupError(f"{data_dir} holds data but no secrets/: restore secrets/ from its backup")
    if create:
        # People's data lives here: readable by the service's user alone,
        # also when the user made the directory beforehand.
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if data_dir.stat().st_uid == os.getuid():
            os.chmod(data_dir, 0o700)
    if first:
        # Made whole or not at all: both keys in a folder of their own,
        # which then takes the name (one left by a setup cut short goes).
        making = data_dir / "secrets.new"
        shutil.rmtree(making, ignore_errors=True)
        making.mkdir(mode=0o700)
        for name in ("pseudonym.key", "master.key"):
            fd = os.open(making / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
                f.flush()
                os.fsync(f.fileno())
        making.rename(folder)
        fd = os.open(data_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def key(name: str) -> bytes:
        path = folder / name
        if not path.exists():
            raise SetupError(f"{path} is missing: restore it from the backup of {folder}")
        raw = path.read_bytes()
        if len(raw) != 32:
            raise SetupError(f"{path} should hold 32 bytes, holds {len(raw)}")
        return raw

    return Secrets(key("pseudonym.key"), key("master.key")), first


def check_secrets(engine: sa.Engine, keys: Secrets) -> None:
    """Records in the database which secrets its people and signing keys
    were made with (a keyed fingerprint, not the keys), and refuses others:
    a data directory that lost its secrets, or one new beside a database of
    old, would file everyone under new pseudonyms."""
    fingerprints = {
        "pseudonym_key": hmac.new(keys.pseudonym_key, b"tokhai: pseudonym key", hashlib.sha256).hexdigest(),
        "master_key": hmac.new(keys.master_key, b"tokhai: master key", hashlib.sha256).hexdigest(),
    }
    from .codes import opens  # the sealing of signing keys is decided there

    restore = "restore the data directory's secrets/ from its backup"
    with engine.begin() as conn:
        held = {row.name: row.value for row in conn.execute(sa.select(db.meta).where(db.meta.c.name.in_(list(fingerprints))))}
        for name, value in fingerprints.items():
            if name in held and held[name] != value:
                raise SetupError(f"secrets/{name.replace('_', '.')} is not the one this database was made with: {restore}")
        if len(held) < len(fingerprints):
            # A database from before the fingerprints: its signing keys say
            # whether these secrets are its own before they are recorded.
            sealed = conn.execute(sa.select(db.signing_keys.c.id, db.signing_keys.c.private_key).order_by(db.signing_keys.c.id.desc()).limit(1)).first()
            if sealed is not None and not opens(keys.master_key, sealed.id, sealed.private_key):
                raise SetupError(f"secrets/master.key does not open this database's signing keys: {restore}")
            conn.execute(db.meta.insert(), [{"name": n, "value": v} for n, v in fingerprints.items() if n not in held])
