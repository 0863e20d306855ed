"""A real service on a loopback port, on SQLite and on PostgreSQL.

PostgreSQL runs when TOKHAI_TEST_DATABASE_URL names a database the tests may
wipe (`.ci/run` starts one); CI without it fails rather than skip.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from tokhai.v1 import checkins_pb2_grpc, tracing_pb2_grpc, venues_pb2 as V, venues_pb2_grpc
from tokhai_server import auth, db
from tokhai_server.app import Server
from tokhai_server.config import Settings

PG_URL = os.environ.get("TOKHAI_TEST_DATABASE_URL")


def _databases():
    if PG_URL:
        return ["sqlite", "postgresql"]
    if os.environ.get("CI"):
        raise RuntimeError("CI must test PostgreSQL too: set TOKHAI_TEST_DATABASE_URL")
    return ["sqlite", pytest.param("postgresql", marks=pytest.mark.skip(reason="TOKHAI_TEST_DATABASE_URL not set"))]


@pytest.fixture(params=_databases())
def database_url(request) -> str | None:
    if request.param == "sqlite":
        return None
    engine = sa.create_engine(PG_URL)
    db.metadata.drop_all(engine)  # a clean database for every test
    engine.dispose()
    return PG_URL


@dataclasses.dataclass
class Client:
    """Stubs that send one principal's API key."""

    channel: grpc.Channel
    key: str

    def __post_init__(self) -> None:
        self.venues = venues_pb2_grpc.VenueServiceStub(self.channel)
        self.checkins = checkins_pb2_grpc.CheckinServiceStub(self.channel)
        self.tracing = tracing_pb2_grpc.TracingServiceStub(self.channel)

    @property
    def md(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.key}")]


@dataclasses.dataclass
class Running:
    server: Server
    channel: grpc.Channel
    data_dir: Path

    def client(self, role: str, name: str | None = None, **kw) -> Client:
        key = auth.create_key(self.server.state.db, name=name or role, role=role, **kw)
        return Client(self.channel, key)

    def venue(self, owner: Client, name: str = "Chợ Bến Thành", province: str = "79", kind: int = V.VENUE_KIND_SUPERMARKET) -> tuple[V.Venue, str]:
        venue = owner.venues.RegisterVenue(
            V.RegisterVenueRequest(name=name, kind=kind, address=V.Address(province_code=province, district_code="760", ward_code="26740")),
            metadata=owner.md,
            timeout=10,
        )
        code = owner.venues.IssueVenueCode(V.IssueVenueCodeRequest(venue_id=venue.id), metadata=owner.md, timeout=10)
        return venue, code.payload


def start(data_dir: Path, database_url: str | None) -> Running:
    server = Server(Settings(data_dir=data_dir, database_url=database_url), "127.0.0.1:0").start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    return Running(server, channel, data_dir)


@pytest.fixture
def service(tmp_path, database_url):
    running = start(tmp_path / "data", database_url)
    yield running
    running.channel.close()
    running.server.stop(grace=1)


@pytest.fixture
def now() -> int:
    return int(time.time())
