"""A real service on a loopback port, and clients that call it with a key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import grpc

from tokhai.v1 import care_pb2_grpc, checkins_pb2_grpc, reports_pb2_grpc, tracing_pb2_grpc, venues_pb2 as V, venues_pb2_grpc
from tokhai_server import auth
from tokhai_server.app import Server
from tokhai_server.config import Settings


@dataclasses.dataclass
class Client:
    """Stubs that send one principal's API key."""

    channel: grpc.Channel
    key: str

    def __post_init__(self) -> None:
        self.venues = venues_pb2_grpc.VenueServiceStub(self.channel)
        self.checkins = checkins_pb2_grpc.CheckinServiceStub(self.channel)
        self.tracing = tracing_pb2_grpc.TracingServiceStub(self.channel)
        self.care = care_pb2_grpc.CareServiceStub(self.channel)
        self.reports = reports_pb2_grpc.ReportServiceStub(self.channel)

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
    # Retention runs when a test asks (tests/test_care.py), not on a timer.
    server = Server(Settings(data_dir=data_dir, database_url=database_url, retention_every=0), "127.0.0.1:0").start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    return Running(server, channel, data_dir)
