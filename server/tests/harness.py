"""A real service on a loopback port, and clients that call it with a key.

`Client` is the service's own (tokhai_server.client); tests import it from here.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import grpc

from tokhai.v1 import care_pb2 as H
from tokhai.v1 import common_pb2 as K
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

    def resident(self, *people: K.PersonRef, province: str = "79") -> None:
        """Gives each person a claim on `province`, as its tracers' orders
        need: a declaration of residence there (ward 26740), by an app, 20
        days ago (older than any a test makes, so never the latest)."""
        app = self._resident_app
        where = H.Declaration(province_code=province, district_code="760", ward_code="26740")
        for person in people:
            request = H.DeclareRequest(person=person, time=int(time.time()) - 20 * 86_400, source=K.SOURCE_APP_NCOVI, declaration=where)
            app.care.Declare(request, metadata=app.md, timeout=10)

    @functools.cached_property
    def _resident_app(self) -> Client:
        return self.client("app_backend", name="residents", app=K.SOURCE_APP_NCOVI)

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


class Slowed:
    """The server's engine, with `method` taking `seconds` longer: a call
    that is still working when its client gives up, or when others come.
    `calls` names the engine's methods the server looked up, in order."""

    def __init__(self, engine, method: str, seconds: float) -> None:  # noqa: ANN001 - an Engine
        self._engine, self._method, self._seconds = engine, method, seconds
        self.calls: list[str] = []

    def __getattr__(self, name: str):  # noqa: ANN204
        self.calls.append(name)
        found = getattr(self._engine, name)
        if name != self._method:
            return found

        def slowly(*args, **kw):  # noqa: ANN002, ANN003, ANN202
            time.sleep(self._seconds)
            return found(*args, **kw)

        return slowly
