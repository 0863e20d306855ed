"""Who is calling, and what they may do.

Every call carries an API key ("Bearer tk_<key id>_<secret>"). A key belongs
to a principal with one role; the table below says which methods each role
may call, and handlers check the rest (own venue, own province, own app).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import secrets
import threading
import time

import sqlalchemy as sa

from . import db, text
from .errors import Invalid, PermissionDenied, Unauthenticated
from .provinces import PROVINCES


class Role(enum.StrEnum):
    ADMIN = "admin"
    APP_BACKEND = "app_backend"
    VENUE_OPERATOR = "venue_operator"
    TRACER = "tracer"
    #: Staff of a quarantine facility or a ward: line lists of their place.
    HEALTH_STAFF = "health_staff"
    ANALYST = "analyst"


#: SourceApp numbers of the three apps (protos/tokhai/v1/common.proto).
APPS = (1, 2, 3)


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    id: int
    name: str
    role: Role
    province: str | None
    app: int | None
    #: Health staff: the facility name or ward code they look after.
    place: str | None = None

    def require_app(self, source: int) -> None:
        """App backends act for their own app only."""
        if source not in APPS:
            raise Invalid(f"source {source} is not an app (1 Tờ khai y tế, 2 NCOVI, 3 Bluezone)")
        if self.role is Role.APP_BACKEND and self.app != source:
            raise PermissionDenied(f"{self.name} acts for app {self.app} only, not for app {source}")

    @property
    def provincial(self) -> bool:
        """Whether the principal acts for one province only."""
        return self.role is not Role.ADMIN and self.province is not None

    def require_province(self, province: str, what: str) -> None:
        """Provincial principals act only on their own province."""
        if self.provincial and self.province != province:
            raise PermissionDenied(f"{what} is in province {province}; {self.name} acts for province {self.province} only")


#: The package of the API's services: methods named "/tokhai.v1.<Service>/<Method>".
API = "tokhai.v1."
# Which roles may call which methods; admins may call everything.
PERMISSIONS: dict[str, frozenset[Role]] = {
    f"/{API}VenueService/RegisterVenue": frozenset({Role.VENUE_OPERATOR}),
    f"/{API}VenueService/UpdateVenue": frozenset({Role.VENUE_OPERATOR}),
    f"/{API}VenueService/GetVenue": frozenset(Role),
    f"/{API}VenueService/DeactivateVenue": frozenset({Role.VENUE_OPERATOR}),
    f"/{API}VenueService/IssueVenueCode": frozenset({Role.VENUE_OPERATOR}),
    f"/{API}VenueService/ListSigningKeys": frozenset(Role),
    f"/{API}VenueService/RotateSigningKey": frozenset(),
    f"/{API}VenueService/RevokeSigningKey": frozenset(),
    f"/{API}VenueService/SubmitSafetyAssessment": frozenset({Role.VENUE_OPERATOR}),
    f"/{API}VenueService/SafetyHistory": frozenset({Role.VENUE_OPERATOR, Role.TRACER, Role.ANALYST}),
    f"/{API}VenueService/ListVenueSafety": frozenset({Role.TRACER, Role.ANALYST}),
    f"/{API}CheckinService/CheckIn": frozenset({Role.APP_BACKEND}),
    f"/{API}CheckinService/ScanPerson": frozenset({Role.VENUE_OPERATOR}),
    f"/{API}CheckinService/CheckOut": frozenset({Role.APP_BACKEND}),
    f"/{API}CheckinService/IngestCheckins": frozenset({Role.APP_BACKEND}),
    f"/{API}CheckinService/IssuePersonalCode": frozenset({Role.APP_BACKEND}),
    f"/{API}TracingService/Trace": frozenset({Role.TRACER}),
    f"/{API}ReportService/CheckinCounts": frozenset({Role.ANALYST, Role.TRACER}),
    f"/{API}ReportService/SymptomCounts": frozenset({Role.ANALYST, Role.TRACER}),
    f"/{API}ReportService/VenueCounts": frozenset({Role.ANALYST, Role.TRACER}),
    f"/{API}ReportService/QuarantineCounts": frozenset({Role.ANALYST, Role.TRACER}),
    f"/{API}ReportService/Export": frozenset({Role.ANALYST, Role.TRACER}),
    f"/{API}CareService/Declare": frozenset({Role.APP_BACKEND}),
    f"/{API}CareService/ReportHealth": frozenset({Role.APP_BACKEND}),
    f"/{API}CareService/OrderQuarantine": frozenset({Role.TRACER}),
    f"/{API}CareService/EndQuarantine": frozenset({Role.TRACER}),
    f"/{API}CareService/ListLineList": frozenset({Role.TRACER, Role.HEALTH_STAFF}),
    f"/{API}CareService/PublishAlerts": frozenset({Role.TRACER}),
    f"/{API}CareService/RetractAlert": frozenset({Role.TRACER}),
    f"/{API}CareService/ListExposures": frozenset({Role.APP_BACKEND}),
    f"/{API}CareService/ListVenueAlerts": frozenset({Role.APP_BACKEND, Role.VENUE_OPERATOR}),
    f"/{API}TracingService/VenueLog": frozenset({Role.TRACER, Role.VENUE_OPERATOR}),
}


#: Calls that need no key: a load balancer's or orchestrator's health checks.
OPEN = frozenset({"/grpc.health.v1.Health/Check"})


def allowed(principal: Principal, method: str) -> None:
    roles = PERMISSIONS.get(method)
    if roles is None:
        if not method.startswith(f"/{API}"):
            return  # not ours (reflection, health's Watch): any key
        roles = frozenset()  # ours but not listed: admins only, never everyone
    if principal.role is not Role.ADMIN and principal.role not in roles:
        raise PermissionDenied(f"role {principal.role} may not call {method.rsplit('/', 1)[-1]}")


def _hash(secret: str) -> bytes:
    # Keys are 192-bit random secrets: one SHA-256 suffices, no slow KDF needed.
    return hashlib.sha256(secret.encode()).digest()


def create_key(
    engine: sa.Engine, *, name: str, role: str, province: str | None = None, app: int | None = None, place: str | None = None
) -> str:
    """Creates a principal and returns its API key (shown once, stored hashed)."""
    try:
        role = Role(role)
    except ValueError:
        raise Invalid(f"role {role!r} is not one of {', '.join(r.value for r in Role)}") from None
    if province is not None and province not in PROVINCES:
        raise Invalid(f"province {province!r} is not an official two-digit province code")
    if role is Role.HEALTH_STAFF and (province is None or not place):
        raise Invalid("a health staff key needs --province and --place (the facility name or ward code)")
    if role is Role.APP_BACKEND and app not in (1, 2, 3):
        raise Invalid("an app backend key needs --app (1 Tờ khai y tế, 2 NCOVI, 3 Bluezone)")
    if place is not None:
        place = text.clean(place, "place", 300, required=True)  # as calls give it
    # Shown in errors, logs and the audit log, as a venue's name is.
    name = text.clean(name, "name", 200, required=True)
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(24)
    with engine.begin() as conn:
        conn.execute(
            db.principals.insert().values(
                name=name,
                role=role.value,
                province=province,
                app=app,
                place=place,
                key_id=key_id,
                key_hash=_hash(secret),
                created_at=int(time.time()),
            )
        )
    return f"tk_{key_id}_{secret}"


def revoke_key(engine: sa.Engine, key_id: str) -> bool:
    with engine.begin() as conn:
        done = conn.execute(
            db.principals.update().where(db.principals.c.key_id == key_id, db.principals.c.revoked_at.is_(None)).values(revoked_at=int(time.time()))
        )
    return done.rowcount == 1


class Keys:
    """Authenticates API keys, with a short cache so that a check-in does not
    cost a database read; a revoked key stops working within `ttl` seconds."""

    def __init__(self, engine: sa.Engine, ttl: float = 10.0) -> None:
        self._engine, self._ttl = engine, ttl
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated("no API key: send 'authorization: Bearer <key>'")
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.startswith("tk_"):
            raise Unauthenticated("malformed authorization: expected 'Bearer tk_...'")
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        _, key_id, secret = (key.split("_", 2) + ["", ""])[:3]
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(db.principals).where(db.principals.c.key_id == key_id)).first()
        if row is None or not hmac.compare_digest(row.key_hash, _hash(secret)):
            raise Unauthenticated("unknown API key")
        if row.revoked_at is not None:
            raise Unauthenticated("API key revoked")
        principal = Principal(row.id, row.name, Role(row.role), row.province, row.app, row.place)
        with self._lock:
            self._cache[key] = (now, principal)
        return principal
