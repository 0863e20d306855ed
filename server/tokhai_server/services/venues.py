"""VenueService: venues, their QR codes, the signing keys."""

from __future__ import annotations

import math
import re
import time
from types import SimpleNamespace

import sqlalchemy as sa

from tokhai.v1 import venues_pb2 as pb
from tokhai.v1 import venues_pb2_grpc

from .. import codes, db, text
from ..auth import Principal, Role
from ..errors import FailedPrecondition, Invalid, PermissionDenied
from ..provinces import PROVINCES
from ..state import Keep, State, Venue
from .context import principal

#: Provisional stay length by kind, in seconds, until a check-out arrives.
DEFAULT_DWELL = {
    pb.VENUE_KIND_AGENCY: 3_600,
    pb.VENUE_KIND_HOSPITAL: 7_200,
    pb.VENUE_KIND_SCHOOL: 21_600,
    pb.VENUE_KIND_COMPANY: 28_800,
    pb.VENUE_KIND_SUPERMARKET: 3_600,
    pb.VENUE_KIND_HOTEL: 43_200,
    pb.VENUE_KIND_LODGING: 43_200,
    pb.VENUE_KIND_RESTAURANT: 5_400,
    pb.VENUE_KIND_EATERY: 2_700,
    pb.VENUE_KIND_CAFE: 3_600,
    pb.VENUE_KIND_PUBLIC_TRANSPORT: 3_600,
    pb.VENUE_KIND_OTHER: 3_600,
}


def to_message(v: Venue, row: sa.Row | None = None) -> pb.Venue:
    out = pb.Venue(
        id=v.id,
        name=v.name,
        kind=v.kind,
        address=pb.Address(province_code=v.province, district_code=v.district, ward_code=v.ward),
        dwell_seconds=v.dwell_seconds,
        active=v.active,
    )
    if row is not None:
        out.address.street = row.street
        out.created_at = row.created_at
        if row.latitude is not None:
            out.latitude, out.longitude = row.latitude, row.longitude
    return out


def _fields(request, partial: bool) -> dict:  # noqa: ANN001 - Register or Update request
    """Checked column values from a request; absent fields are left out when `partial`."""
    out: dict = {}
    if not partial or request.HasField("name"):
        out["name"] = text.clean(request.name, "name", 300, required=True)
    if not partial or request.kind:
        if request.kind not in DEFAULT_DWELL:
            raise Invalid(f"kind {request.kind} is not a venue kind of the directive")
        out["kind"] = request.kind
    if not partial or request.HasField("address"):
        a = request.address
        if a.province_code not in PROVINCES:
            raise Invalid(f"province_code {a.province_code!r} is not an official two-digit province code")
        if not re.fullmatch(r"[0-9]{3}", a.district_code) or not re.fullmatch(r"[0-9]{5}", a.ward_code):
            raise Invalid("district_code must be 3 digits and ward_code 5 digits")
        out |= {"province": a.province_code, "district": a.district_code, "ward": a.ward_code, "street": text.clean(a.street, "street", 500)}
    if request.HasField("latitude") != request.HasField("longitude"):
        raise Invalid("give both latitude and longitude, or neither")
    if request.HasField("latitude"):
        lat, lon = request.latitude, request.longitude
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise Invalid(f"coordinates ({lat}, {lon}) are not on Earth")
        out |= {"latitude": lat, "longitude": lon}
    if request.HasField("dwell_seconds"):
        if not 60 <= request.dwell_seconds <= 86_400:
            raise Invalid("dwell_seconds must be 60 to 86,400")
        out["dwell_seconds"] = request.dwell_seconds
    return out


#: Venues in a page of ListVenueSafety: about 1 MB.
SAFETY_PAGE = 10_000

#: Points of each checklist item (out of 100): what stops spread weighs most.
SAFETY_POINTS = {
    "masks": 20,
    "distancing": 15,
    "disinfection": 10,
    "ventilation": 15,
    "qr_checkin_at_entrance": 15,
    "staff_vaccinated_or_tested": 15,
    "health_declarations": 5,
    "isolation_area": 5,
}


def safety_level(score: int) -> int:
    if score >= 90:
        return pb.SAFETY_LEVEL_SAFE
    if score >= 70:
        return pb.SAFETY_LEVEL_LOW_RISK
    if score >= 50:
        return pb.SAFETY_LEVEL_RISK
    return pb.SAFETY_LEVEL_HIGH_RISK


def _assessment(row: sa.Row | SimpleNamespace) -> pb.SafetyAssessment:
    checklist = pb.SafetyChecklist(**{name: bool(row.items >> i & 1) for i, name in enumerate(SAFETY_POINTS)})
    return pb.SafetyAssessment(venue_id=row.venue_id, checklist=checklist, score=row.score, level=row.level, assessed_at=row.assessed_at)


class VenueServicer(venues_pb2_grpc.VenueServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    def _row(self, venue_id: int) -> sa.Row:
        self.state.venue(venue_id)  # NOT_FOUND
        with self.state.db.connect() as conn:
            return conn.execute(sa.select(db.venues).where(db.venues.c.id == venue_id)).one()

    def _owned(self, who: Principal, venue_id: int) -> Venue:
        """The venue, if `who` may act on it: an operator on its own, and a
        provincial key on its province's (still, once an admin has moved
        the venue elsewhere)."""
        venue = self.state.venue(venue_id)
        if who.role is Role.VENUE_OPERATOR and venue.owner_id != who.id:
            raise PermissionDenied(f"venue {venue_id} is not one of {who.name}'s venues")
        who.require_province(venue.province, f"venue {venue_id}")
        return venue

    def RegisterVenue(self, request, context):  # noqa: N802, ANN001
        who = principal()

        def register(keep: Keep) -> pb.Venue:
            values = _fields(request, partial=False)
            who.require_province(values["province"], "the venue")
            values.setdefault("dwell_seconds", DEFAULT_DWELL[values["kind"]])
            values |= {"active": True, "owner_id": who.id if who.role is Role.VENUE_OPERATOR else None, "created_at": int(time.time())}
            with self.state.db.begin() as conn:
                venue_id = conn.execute(db.venues.insert().values(**values)).inserted_primary_key[0]
                row = conn.execute(sa.select(db.venues).where(db.venues.c.id == venue_id)).one()
                response = to_message(Venue.of(row), row)
                keep(conn, response)
            # Once it is stored, as read: a change a call made meanwhile
            # (its id is known as soon as it commits) is not cached over.
            self.state.cache_venue(row, read=True)
            return response

        return self.state.once_stored(who, request, "RegisterVenue", pb.Venue, register)

    def UpdateVenue(self, request, context):  # noqa: N802, ANN001
        who = principal()
        self._owned(who, request.venue_id)
        values = _fields(request, partial=True)
        if "province" in values:
            who.require_province(values["province"], "the venue")
        # The venue's lock until the cache has the change, once committed: a
        # deactivation committed meanwhile must not be cached over by this
        # older row.
        with self.state.lock("venue", request.venue_id):
            with self.state.db.begin() as conn:
                if "kind" in values and "dwell_seconds" not in values:
                    # A new kind brings its default dwell, unless the venue's was set apart from its kind's.
                    old = conn.execute(sa.select(db.venues.c.kind, db.venues.c.dwell_seconds).where(db.venues.c.id == request.venue_id)).one()
                    if old.dwell_seconds == DEFAULT_DWELL.get(old.kind):
                        values["dwell_seconds"] = DEFAULT_DWELL[values["kind"]]
                if values:
                    conn.execute(db.venues.update().where(db.venues.c.id == request.venue_id).values(**values))
                row = conn.execute(sa.select(db.venues).where(db.venues.c.id == request.venue_id)).one()
            venue = self.state.cache_venue(row)
        return to_message(venue, row)

    def GetVenue(self, request, context):  # noqa: N802, ANN001
        row = self._row(request.venue_id)
        return to_message(self.state.venue(request.venue_id), row)

    def DeactivateVenue(self, request, context):  # noqa: N802, ANN001
        self._owned(principal(), request.venue_id)
        with self.state.lock("venue", request.venue_id):
            with self.state.db.begin() as conn:
                conn.execute(db.venues.update().where(db.venues.c.id == request.venue_id).values(active=False))
                row = conn.execute(sa.select(db.venues).where(db.venues.c.id == request.venue_id)).one()
            venue = self.state.cache_venue(row)
        return to_message(venue, row)

    def IssueVenueCode(self, request, context):  # noqa: N802, ANN001
        venue = self._owned(principal(), request.venue_id)
        if not venue.active:
            raise FailedPrecondition(f"venue {venue.id} is deactivated")
        payload = self.state.codes.venue_code(venue.id)
        place = PROVINCES[venue.province]
        return pb.VenueCode(
            payload=payload,
            key_id=int(payload.split(".")[2]),
            svg=codes.svg(payload),
            png=codes.png(payload),
            poster_png=codes.poster(payload, venue.name, place),
        )

    def SubmitSafetyAssessment(self, request, context):  # noqa: N802, ANN001
        venue = self._owned(principal(), request.venue_id)
        met = [getattr(request.checklist, name) for name in SAFETY_POINTS]
        score = sum(points for points, ok in zip(SAFETY_POINTS.values(), met, strict=True) if ok)
        values = {
            "venue_id": venue.id,
            "items": sum(1 << i for i, ok in enumerate(met) if ok),
            "score": score,
            "level": safety_level(score),
            "assessed_at": int(time.time()),
        }
        with self.state.db.begin() as conn:
            conn.execute(db.safety_assessments.insert().values(**values))
        return _assessment(SimpleNamespace(**values))

    def SafetyHistory(self, request, context):  # noqa: N802, ANN001
        who = principal()
        venue = self._owned(who, request.venue_id)
        s = db.safety_assessments.c
        with self.state.db.connect() as conn:
            rows = conn.execute(sa.select(db.safety_assessments).where(s.venue_id == venue.id).order_by(s.id)).all()
        return pb.SafetyHistoryResponse(assessments=[_assessment(r) for r in rows])

    def ListVenueSafety(self, request, context):  # noqa: N802, ANN001
        who = principal()
        if request.province_code not in PROVINCES:
            raise Invalid(f"province_code {request.province_code!r} is not an official province code")
        who.require_province(request.province_code, "the list")
        v, s = db.venues.c, db.safety_assessments.c
        after = text.id_(request.after_venue_id, "after_venue_id")
        size = min(request.page_size or SAFETY_PAGE, SAFETY_PAGE)
        # The latest assessment of each of the province's venues past the
        # page's start: grouping every venue's, nationally, read the whole
        # table on every call.
        theirs = sa.select(v.id).where(v.province == request.province_code, v.id > after)
        latest = sa.select(s.venue_id, sa.func.max(s.id).label("id")).where(s.venue_id.in_(theirs)).group_by(s.venue_id).subquery()
        query = (
            sa.select(v.id, v.name, v.ward, db.safety_assessments)
            .select_from(db.venues.join(latest, latest.c.venue_id == v.id).join(db.safety_assessments, s.id == latest.c.id))
            .where(v.province == request.province_code, v.active.is_(True), v.id > after)
            .order_by(v.id)
            .limit(size + 1)  # the page and one more, which tells whether there is a next page
        )
        if request.ward_code:
            if not re.fullmatch(r"[0-9]{5}", request.ward_code):
                raise Invalid(f"ward_code {request.ward_code!r} is not 5 digits")
            query = query.where(v.ward == request.ward_code)
        if request.level:
            if request.level not in pb.SafetyLevel.values():
                raise Invalid(f"level {request.level} is not a safety level")
            query = query.where(s.level == request.level)
        with self.state.db.connect() as conn:
            rows = conn.execute(query).all()
        more = len(rows) > size
        rows = rows[:size]
        now = int(time.time())
        alerts = self.state.live_alerts
        return pb.ListVenueSafetyResponse(
            venues=[
                pb.VenueSafety(venue_id=r.id, venue_name=r.name, ward_code=r.ward, assessment=_assessment(r), under_alert=bool(alerts.at(r.id, now)))
                for r in rows
            ],
            next_after_venue_id=rows[-1].id if more else 0,
        )

    def ListSigningKeys(self, request, context):  # noqa: N802, ANN001
        return pb.ListSigningKeysResponse(keys=[_key(k) for k in self.state.codes.keys])

    def RotateSigningKey(self, request, context):  # noqa: N802, ANN001
        return _key(self.state.codes.rotate())

    def RevokeSigningKey(self, request, context):  # noqa: N802, ANN001
        return _key(self.state.codes.revoke(request.key_id))


def _key(k: codes.SigningKey) -> pb.SigningKey:
    return pb.SigningKey(key_id=k.id, public_key=k.public_raw, created_at=k.created_at, revoked_at=k.revoked_at or 0)
