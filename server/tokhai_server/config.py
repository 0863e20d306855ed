"""Settings of a running service, and its data directory."""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path

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
    max_message_bytes: int = 16 << 20
    #: Calls in progress at once; more are refused with RESOURCE_EXHAUSTED.
    max_concurrent_rpcs: int = 1_000
    #: Threads that run calls. Python runs one at a time, so a few more than
    #: the cores keep the cores busy while some wait on disk or the engine;
    #: dozens only take turns (on 2 cores, 32 gave 10-20% fewer check-ins/s).
    #: Streams (bulk ingest, exports) may hold all but two of them.
    workers: int = 8
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


def prepare(data_dir: Path) -> tuple[Secrets, bool]:
    """Creates the data directory and its secrets on first use; returns the
    secrets and whether this was the first use."""
    # People's data lives here: readable by the service's user alone.
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = data_dir / "secrets"
    first = not folder.exists()
    folder.mkdir(mode=0o700, exist_ok=True)

    def key(name: str) -> bytes:
        path = folder / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
                f.flush()
                os.fsync(f.fileno())
        raw = path.read_bytes()
        if len(raw) != 32:
            raise ValueError(f"{path} should hold 32 bytes, holds {len(raw)}")
        return raw

    return Secrets(key("pseudonym.key"), key("master.key")), first
