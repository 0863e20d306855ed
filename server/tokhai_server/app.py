"""The gRPC server: services, the interceptor that authenticates and maps
errors, health, reflection, metrics, graceful shutdown."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import Counter, Histogram

from tokhai_engine import StoreInterruptedError

from tokhai.v1 import (
    care_pb2,
    care_pb2_grpc,
    checkins_pb2,
    checkins_pb2_grpc,
    reports_pb2,
    reports_pb2_grpc,
    tracing_pb2,
    tracing_pb2_grpc,
    venues_pb2,
    venues_pb2_grpc,
)

from . import auth, retention
from .config import Settings, SetupError
from .errors import Exhausted, status_of
from .services.care import CareServicer
from .services.checkins import CheckinServicer
from .services.reports import ReportServicer
from .services.context import set_principal
from .services.tracing import TracingServicer
from .services.venues import VenueServicer
from .state import State

log = logging.getLogger("tokhai")

SERVICES = (
    venues_pb2.DESCRIPTOR.services_by_name["VenueService"].full_name,
    checkins_pb2.DESCRIPTOR.services_by_name["CheckinService"].full_name,
    tracing_pb2.DESCRIPTOR.services_by_name["TracingService"].full_name,
    care_pb2.DESCRIPTOR.services_by_name["CareService"].full_name,
    reports_pb2.DESCRIPTOR.services_by_name["ReportService"].full_name,
)

#: Methods whose handlers refuse an answer too large before they audit it.
SIZED_BY_HANDLER = frozenset({"Trace", "ListLineList", "VenueLog", "ListExposures"})

CALLS = Counter("tokhai_calls_total", "Calls handled, by method and status code.", ["method", "code"])
# grpc refuses some calls before any handler runs (past the concurrency
# limit, a request over the message limit): received less handled counts them.
RECEIVED = Counter("tokhai_calls_received_total", "Calls received, by method, those grpc refused itself included.", ["method"])
LATENCY = Histogram(
    "tokhai_call_seconds", "Time to handle a call, by method.", ["method"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)
)


#: Streams one key may hold open at once (an app backend's ingest streams).
STREAMS_PER_KEY = 2
#: Streams not of the API (health's Watch, reflection) open at once: an
#: app backend's client-side health checking holds a Watch open.
OTHER_STREAMS = 2


class Guard(grpc.ServerInterceptor):
    """Authenticates every call, reflection's too, but health's `Check` (a
    load balancer's probe), checks its role may call the method, and turns
    whatever escapes a handler into a status: domain errors into their own
    codes, anything else into a generic INTERNAL. Streams get `streams` of
    the worker threads at most: a stream holds its thread while it waits for
    its client (an app backend's long-lived ingest stream, idle between
    batches, or a reflection client), and the rest must stay free for the
    other calls and the health checks. A key holds STREAMS_PER_KEY of them
    at most, so that no one key can keep the app backends' ingest streams
    out; and streams not of the API (health's Watch, reflection) share
    OTHER_STREAMS slots of their own, so that no few keys can either."""

    def __init__(self, keys: auth.Keys, streams: int, max_bytes: int, broken: Callable[[], None] = lambda: None) -> None:
        self.keys = keys
        #: Called when the stays' store takes no more changes until reopened.
        self.broken = broken
        self.max_bytes = max_bytes
        self.streams = streams
        self._stream_slots = threading.BoundedSemaphore(streams)
        self._other_stream_slots = threading.BoundedSemaphore(OTHER_STREAMS)
        self._streams_held: dict[int, int] = {}  # principal id -> streams open
        self._streams_lock = threading.Lock()
        # Guarded handlers and their count of calls received, by method,
        # made on the first call to each: grpc asks for a handler on every
        # call, those it then refuses itself included.
        self._handlers: dict[str, tuple[grpc.RpcMethodHandler, Counter]] = {}

    def streams_open(self) -> int:
        return self.streams - self._stream_slots._value  # noqa: SLF001 - a count, read only

    def intercept_service(self, continuation, details):  # noqa: ANN001
        method = details.method
        known = self._handlers.get(method)
        if known is None:
            handler = continuation(details)
            if handler is None or method in auth.OPEN:
                return handler
            known = self._handlers.setdefault(method, (self._guard(method, handler), RECEIVED.labels(method.rsplit("/", 1)[-1])))
        guarded, received = known
        received.inc()
        return guarded

    def _enter(self, method: str, context: grpc.ServicerContext) -> auth.Principal:
        metadata = dict(context.invocation_metadata())
        principal = self.keys.authenticate(metadata.get("authorization"))
        auth.allowed(principal, method)
        set_principal(principal)
        return principal

    def _hold_stream(self, principal: auth.Principal) -> None:
        with self._streams_lock:
            held = self._streams_held.get(principal.id, 0)
            if held >= STREAMS_PER_KEY:
                raise Exhausted(f"{principal.name} has {held} streams open, the most one key may: close one first")
            self._streams_held[principal.id] = held + 1

    def _let_go_stream(self, principal: auth.Principal) -> None:
        with self._streams_lock:
            held = self._streams_held.pop(principal.id) - 1
            if held:
                self._streams_held[principal.id] = held

    def _guard(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        name = method.rsplit("/", 1)[-1]
        latency = LATENCY.labels(name)

        def fail(error: Exception, context: grpc.ServicerContext) -> grpc.StatusCode:
            code, message = status_of(error)
            if isinstance(error, StoreInterruptedError):
                log.error("%s: the stays' store takes no change until the server restarts: %s", name, error)
                self.broken()
            if code is grpc.StatusCode.INTERNAL:
                log.exception("%s failed", name)
            elif code is grpc.StatusCode.UNAVAILABLE:
                log.warning("%s: %s", name, message, exc_info=error)  # an outage to see in the log
            CALLS.labels(name, code.name).inc()
            context.abort(code, message)

        def fail_hard(error: BaseException, context: grpc.ServicerContext) -> None:
            # The engine's panics (a bug) come as PanicException, outside
            # Exception: the change may be half applied, and the engine
            # takes no more until it is reopened.
            if type(error).__name__ != "PanicException":
                raise error
            log.critical("%s: the engine panicked; the stays' store takes no change until the server restarts", name, exc_info=error)
            self.broken()
            CALLS.labels(name, grpc.StatusCode.INTERNAL.name).inc()
            context.abort(grpc.StatusCode.INTERNAL, "internal error")

        def ended(context: grpc.ServicerContext) -> None:
            # A call whose client left or whose deadline passed answered
            # nobody (a handler that saw it returns an empty answer).
            CALLS.labels(name, "OK" if context.is_active() else "CANCELLED").inc()

        def unary(request, context):  # noqa: ANN001
            start = time.perf_counter()
            try:
                self._enter(method, context)
                response = handler.unary_unary(request, context)
                # An answer the transport would refuse: say what to do instead.
                # (Those that size theirs before auditing it are not sized twice.)
                if name not in SIZED_BY_HANDLER and (size := response.ByteSize()) > self.max_bytes:
                    raise Exhausted(f"the answer is {size:,} bytes, over the {self.max_bytes:,}-byte message limit: ask for less in each call")
            except Exception as error:  # noqa: BLE001 - every error ends as a status
                fail(error, context)
            except BaseException as error:
                fail_hard(error, context)
            finally:
                latency.observe(time.perf_counter() - start)
            ended(context)
            return response

        ours = method.startswith(f"/{auth.API}")
        slots, most = (self._stream_slots, self.streams) if ours else (self._other_stream_slots, OTHER_STREAMS)
        # A reflection client opens a stream a question, the next as soon as
        # it has its answer, a moment before the last one's slot is free.
        wait = 0.0 if ours else 1.0

        def stream(request, context):  # noqa: ANN001 - a request, or an iterator of them
            start = time.perf_counter()
            if not slots.acquire(timeout=wait):
                fail(Exhausted(f"{most} {'' if ours else 'health or reflection '}streams are open, the most this server runs at once; retry later"), context)
            holder = None  # the principal, once it holds its share
            try:
                principal = self._enter(method, context)
                self._hold_stream(principal)
                holder = principal
                yield from (handler.stream_stream or handler.unary_stream)(request, context)
            except grpc.RpcError:
                # Reading the stream failed (too large, cancelled): the
                # call already ended with grpc's own status.
                CALLS.labels(name, "CANCELLED").inc()
                return
            except GeneratorExit:  # the client went away between answers
                CALLS.labels(name, "CANCELLED").inc()
                raise
            except Exception as error:  # noqa: BLE001
                fail(error, context)
            except BaseException as error:
                fail_hard(error, context)
            finally:
                latency.observe(time.perf_counter() - start)
                if holder is not None:
                    self._let_go_stream(holder)
                slots.release()
            ended(context)

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary, handler.request_deserializer, handler.response_serializer)
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(stream, handler.request_deserializer, handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(stream, handler.request_deserializer, handler.response_serializer)
        raise TypeError(f"{method}: unsupported handler shape")


class Server:
    """A running service: `Server(settings, "127.0.0.1:0").port` is where."""

    def __init__(self, settings: Settings, listen: str, *, tls: tuple[bytes, bytes] | None = None) -> None:
        self.state = State(settings)
        # Two threads stay free of streams, for the other calls and the health checks.
        self.guard = Guard(self.state.keys, streams=max(1, settings.workers - 2 - OTHER_STREAMS), max_bytes=settings.max_message_bytes, broken=self._not_serving)
        self._workers = futures.ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="tokhai")
        self.grpc = grpc.server(
            self._workers,
            interceptors=[self.guard],
            options=[
                ("grpc.max_receive_message_length", settings.max_message_bytes),
                ("grpc.max_send_message_length", settings.max_message_bytes),
            ],
            maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        )
        venues_pb2_grpc.add_VenueServiceServicer_to_server(VenueServicer(self.state), self.grpc)
        checkins_pb2_grpc.add_CheckinServiceServicer_to_server(CheckinServicer(self.state), self.grpc)
        tracing_pb2_grpc.add_TracingServiceServicer_to_server(TracingServicer(self.state), self.grpc)
        care_pb2_grpc.add_CareServiceServicer_to_server(CareServicer(self.state), self.grpc)
        reports_pb2_grpc.add_ReportServiceServicer_to_server(ReportServicer(self.state), self.grpc)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        reflection.enable_server_reflection((*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), self.grpc)
        try:
            if tls is None:
                self.port = self.grpc.add_insecure_port(listen)
            else:
                key, cert = tls
                self.port = self.grpc.add_secure_port(listen, grpc.ssl_server_credentials([(key, cert)]))
        except RuntimeError as e:  # grpc's "Failed to bind"
            self.state.close()
            raise SetupError(f"cannot listen on {listen}: {e}") from None
        self._stopped = threading.Event()
        self._retention_thread: threading.Thread | None = None

    def start(self) -> Server:
        # What start-up built (modules, the database engine, caches) lives as
        # long as the server: out of the collector's sight, a full collection
        # walks only what calls create, and stalls a call for far less.
        gc.freeze()
        self.grpc.start()
        for name in ("", *SERVICES):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if self.state.settings.retention_every:
            self._retention_thread = threading.Thread(target=self._retention, name="tokhai-retention", daemon=True)
            self._retention_thread.start()
        return self

    def _retention(self) -> None:
        """Deletes expired data now and then every `retention_every` seconds."""
        while True:
            try:
                removed = retention.run(self.state)
                log.info("retention: deleted %s", removed)
            except Exception:  # noqa: BLE001 - the next run tries again
                log.exception("retention run failed")
            if self._stopped.wait(self.state.settings.retention_every):
                return

    def stop(self, grace: float = 10.0, drain: float = 0.0) -> None:
        """Health turns NOT_SERVING; for `drain` seconds calls are still
        served (while load balancers that probe health stop sending them
        here); then new calls are refused, calls in flight get `grace`
        seconds to finish, and the stores are closed, once no handler and no
        retention run is left to write to them (grpc's end of a call past
        the grace does not stop its thread)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        time.sleep(drain)
        self.grpc.stop(grace).wait()
        self._workers.shutdown(wait=True)
        if self._retention_thread is not None:
            self._retention_thread.join()
        self.state.close()

    def _not_serving(self) -> None:
        """Health turns NOT_SERVING, for an orchestrator to restart the server."""
        for name in ("", *SERVICES):
            self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    def wait(self) -> None:
        self.grpc.wait_for_termination()
