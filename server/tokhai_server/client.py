"""A client of every Tokhai service that sends one principal's API key:
`Client(channel, key).checkins.CheckIn(request, metadata=client.md)`."""

from __future__ import annotations

import dataclasses

import grpc

from tokhai.v1 import care_pb2_grpc, checkins_pb2_grpc, reports_pb2_grpc, tracing_pb2_grpc, venues_pb2_grpc


@dataclasses.dataclass
class Client:
    channel: grpc.Channel
    key: str

    def __post_init__(self) -> None:
        self.venues = venues_pb2_grpc.VenueServiceStub(self.channel)
        self.checkins = checkins_pb2_grpc.CheckinServiceStub(self.channel)
        self.tracing = tracing_pb2_grpc.TracingServiceStub(self.channel)
        self.care = care_pb2_grpc.CareServiceStub(self.channel)
        self.reports = reports_pb2_grpc.ReportServiceStub(self.channel)
        #: The call metadata that carries the key.
        self.md = [("authorization", f"Bearer {self.key}")]
