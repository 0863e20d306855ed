"""A real service on a loopback port, and clients that call it with a key.

`Client` is the service's own (tokhai_server.client); tests import it from here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import grpc

from tokhai.v1 import venues_pb2 as V
from tokhai_server import auth
from tokhai_server.app import Server
from tokhai_server.client import Client
from tokhai_server.config import Settings


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
