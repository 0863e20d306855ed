"""CareService: declarations, quarantine orders and daily reports, line
lists, exposure alerts; and the entry advice a check-in answers with."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import sqlalchemy as sa

from tokhai_engine import MAX_TIME, MIN_TIME

from tokhai.v1 import care_pb2 as pb
from tokhai.v1 import care_pb2_grpc, common_pb2

from .. import db, text
from ..auth import Principal, Role
from ..claims import first_unlinked
from ..errors import FailedPrecondition, Invalid, NotFound, PermissionDenied
from ..provinces import PROVINCES
from ..risk import Declared, reasons_of
from ..state import Keep, State
from .context import principal
from .tracing import LOCAL, purpose_of, refuse_if_too_large

DAY = 86_400
#: People in a page of ListLineList: some 200 bytes each.
LINE_LIST_PAGE = 10_000
#: Alerts in a page of ListVenueAlerts, and its bytes: under gRPC's
#: default limit on what a client receives (4 MiB).
ALERTS_PAGE = 10_000
ALERTS_PAGE_BYTES = 3 << 20
#: The longest quarantine order: the directive's are 14 to 21 days.
MAX_ORDER_DAYS = 90


def local_day(t: int) -> int:
    """Days since the Unix epoch, in Vietnam's time."""
    return (t + LOCAL) // DAY


def in_force_on(day: int) -> sa.ColumnElement[bool]:
    """Quarantine orders in force on a day (from `local_day`): begun by its
    end and not ended before it. Line lists and counts of a day cover their
    people."""
    o, day_end = db.quarantine_orders.c, (day + 1) * DAY - LOCAL
    return (o.start < day_end) & (o.active.is_(True) | (o.ended_at >= day_end))


def _symptoms(values) -> str:  # noqa: ANN001 - a repeated Symptom field
    if any(v not in pb.Symptom.values() or v == pb.SYMPTOM_UNSPECIFIED for v in values):
        raise Invalid(f"symptoms: {list(values)} holds a value that is not a symptom")
    return ",".join(str(v) for v in sorted(set(values)))


def advice(state: State, person_id: int, now: int, latest: Declared | None = None) -> pb.EntryAdvice:
    """ALLOW, or REFER_TO_SCREENING when the person's latest declaration
    (14 days) shows symptoms or exposure, when they are under an active
    quarantine order, or when an exposure alert names a venue they were at.
    `latest`: their latest declaration, where it is not yet committed."""
    reasons = state.risk.reasons(person_id, now, latest)
    if exposures(state, person_id, now):
        reasons.append("an exposure alert names a venue the person was at")
    return pb.EntryAdvice(advice=pb.ADVICE_REFER_TO_SCREENING if reasons else pb.ADVICE_ALLOW, reasons=reasons)


def audit_referral(state: State, who: Principal, action: str, purpose: str, person_id: int, answer: pb.EntryAdvice, **detail: object) -> None:
    """A referral tells the caller that the person has a reason (their
    health, an order, an exposure): a read of their data, audited each time
    it is answered (a retry's kept answer too: the record may have failed
    the first time). An ALLOW, everyone's default, holds nothing of theirs."""
    if answer.advice == pb.ADVICE_REFER_TO_SCREENING:
        state.audit.record(who, action, purpose, 1, {"person_id": person_id, **detail})


def answer_fits(items: int, bytes_each: int, limit: int, what: str) -> None:
    """Refuses, before anything is stored, a call whose answer (`items` of
    about `bytes_each` bytes at most) would not fit in a message."""
    if items * bytes_each > limit * 0.9:
        raise Invalid(f"the answer would hold {items:,} {what} of up to {bytes_each:,} bytes, over the message limit: send at most {int(limit * 0.9) // bytes_each:,} a call")


def exposures(state: State, person_id: int, now: int) -> list[tuple[int, int, int]]:
    """(alert id, start, end) for each live alert whose window meets one of
    the person's stays at its venue, by alert: the person's few sites are
    looked up among the alerts, not every alert among their sites."""
    if not state.live_alerts.any_live(now):
        return []
    # Alerts are held for the retention period at most: so far back.
    sites = state.engine.exposure_sites([person_id], now - state.settings.retention_days * DAY, now + 1)
    out = []
    for venue, s, e in zip(sites.venue.tolist(), sites.start.tolist(), sites.end.tolist(), strict=True):
        out.extend((alert_id, s, e) for start, end, _, alert_id in state.live_alerts.at(venue, now) if start < e and end > s)
    return sorted(out)


def _alert(row: sa.Row, state: State) -> pb.VenueAlert:
    return pb.VenueAlert(
        id=row.id,
        venue_id=row.venue_id,
        venue_name=state.venue(row.venue_id).name,
        start=row.start,
        end=row.end,
        level=row.level,
        message=row.message,
        published_at=row.published_at,
        expires_at=row.expires_at,
    )


def _order(row: sa.Row) -> pb.QuarantineOrder:
    out = pb.QuarantineOrder(
        id=row.id, kind=row.kind, province_code=row.province, place=row.place, start=row.start, planned_end=row.planned_end, active=row.active
    )
    out.person.id = row.person_id
    if row.ended_at is not None:
        out.ended_at, out.end_reason = row.ended_at, row.end_reason
    return out


class CareServicer(care_pb2_grpc.CareServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    # --- declarations and reports (app backends) ----------------------------

    def Declare(self, request, context):  # noqa: N802, ANN001
        who = principal()
        who.require_app(request.source)

        def declare(keep: Keep) -> pb.DeclareResponse:
            if not request.HasField("declaration"):
                # Stored, its absence would read as an all-clear nobody declared.
                raise Invalid("declaration is required (an empty one declares no symptoms, contact or travel)")
            self.state.check_time(request.time, "time")
            person_id, _ = self.state.people.of_ref(request.person)
            response = pb.DeclareResponse()

            def answer(conn: sa.Connection, declaration_id: int, latest: Declared) -> None:
                response.declaration_id = declaration_id
                response.advice.CopyFrom(advice(self.state, person_id, int(time.time()), latest))
                keep(conn, response)

            store_declaration(self.state, person_id, request.time, request.source, request.declaration, then=answer)
            audited(response)
            return response

        def audited(response: pb.DeclareResponse) -> None:
            person_id, _ = self.state.people.of_ref(request.person)
            audit_referral(self.state, who, "Declare", "entry advice for the person's app", person_id, response.advice)

        return self.state.once_stored(who, request, "Declare", pb.DeclareResponse, declare, replayed=audited)

    def ReportHealth(self, request, context):  # noqa: N802, ANN001
        who = principal()
        who.require_app(request.source)
        settings = self.state.settings

        def report(keep: Keep) -> pb.ReportHealthResponse:
            self.state.check_time(request.time, "time")
            if not 30 <= request.temperature_c <= 45:
                raise Invalid(f"temperature_c {request.temperature_c} is not a body temperature (30 to 45 °C)")
            if request.spo2_percent and not 50 <= request.spo2_percent <= 100:
                raise Invalid(f"spo2_percent {request.spo2_percent} is not a saturation (50 to 100, or 0 if not measured)")
            person_id, _ = self.state.people.of_ref(request.person)
            note = text.clean(request.note, "note", 2_000)
            symptoms = _symptoms(request.symptoms)
            o = db.quarantine_orders.c
            # The report, its audit record and the answer kept for retries,
            # together: a retry of a report stored without its answer would
            # answer `replaced`, or (its order ended since) not under quarantine.
            with self.state.lock("person", person_id), self.state.audit.transaction() as conn:
                active = conn.execute(sa.select(o.id).where(o.person_id == person_id, o.active.is_(True), o.start <= request.time).limit(1)).first()
                if active is None:
                    # Monitoring stops when an order ends: nothing to keep.
                    return pb.ReportHealthResponse(under_quarantine=False)
                warning = (
                    (0 < request.spo2_percent < settings.warning_spo2_below)
                    or request.temperature_c >= settings.warning_temperature_from
                    or request.breathing_difficulty
                    or pb.SYMPTOM_SHORTNESS_OF_BREATH in request.symptoms
                )
                values = {
                    "reported_at": request.time,
                    "temperature_c": request.temperature_c,
                    "spo2_percent": request.spo2_percent,
                    "symptoms": symptoms,
                    "breathing_difficulty": request.breathing_difficulty,
                    "note": note,
                    "warning": warning,
                }
                r = db.health_reports.c
                day = local_day(request.time)
                kept = conn.execute(sa.select(r.reported_at, r.warning).where(r.person_id == person_id, r.day == day)).first()
                # A report from earlier that day, arriving late (an app that
                # was offline), leaves the day's later report standing,
                # unless it has warning signs and that one has none; one
                # without signs never replaces one with them (from this app
                # or another): signs seen once that day stay on its line
                # list for the health staff, whatever came before or after.
                replaced = kept is not None and (warning, request.time) >= (bool(kept.warning), kept.reported_at)
                if kept is None:
                    conn.execute(db.health_reports.insert().values(person_id=person_id, day=day, **values))
                elif replaced:
                    conn.execute(db.health_reports.update().where(r.person_id == person_id, r.day == day).values(**values))
                response = pb.ReportHealthResponse(under_quarantine=True, replaced=replaced, warning=warning)
                audited(response, conn)
                keep(conn, response)
            return response

        def audited(response: pb.ReportHealthResponse, conn: sa.Connection | None = None) -> None:
            # The answer tells the caller that the person is under an order.
            if response.under_quarantine:
                person_id, _ = self.state.people.of_ref(request.person)
                self.state.audit.record(who, "ReportHealth", "daily health report under quarantine", 1, {"person_id": person_id}, conn=conn)

        return self.state.once_stored(who, request, "ReportHealth", pb.ReportHealthResponse, report, replayed=audited)

    # --- quarantine orders and line lists (tracers) -------------------------

    def OrderQuarantine(self, request, context):  # noqa: N802, ANN001
        who = principal()

        def order(keep: Keep) -> pb.OrderQuarantineResponse:
            purpose = purpose_of(request.purpose)
            _check_place(who, request.province_code, request.kind, request.place)
            now = int(time.time())
            self.state.check_time(request.start, "start", now)
            if not request.start < request.planned_end <= request.start + MAX_ORDER_DAYS * DAY:
                raise Invalid(f"planned_end must be after start, by at most {MAX_ORDER_DAYS} days")
            # Counted before any reference is hashed: a million would cost seconds first.
            if not 0 < len(request.people) + len(request.person_ids) <= 20_000:
                raise Invalid("give 1 to 20,000 people (more in more calls)")
            people = [self.state.people.of_ref(ref, f"people[{i}]")[0] for i, ref in enumerate(request.people)]
            people += [text.id_(p, f"person_ids[{i}]") for i, p in enumerate(request.person_ids)]
            # An order answers with its place and some 120 bytes of numbers.
            answer_fits(len(people), len(request.place.encode()) + 128, self.state.settings.max_message_bytes, "orders")
            if who.provincial:
                self._check_claims(who, purpose, people, len(request.people), now)
            rows = [
                {
                    "person_id": p,
                    "kind": request.kind,
                    "province": request.province_code,
                    "place": text.clean(request.place, "place", 300),
                    "start": request.start,
                    "planned_end": request.planned_end,
                    "active": True,
                    "created_by": who.id,
                }
                for p in dict.fromkeys(people)
            ]
            # The orders, their audit record and the answer kept for retries,
            # together or not at all.
            with self.state.audit.transaction() as conn:
                made = conn.execute(db.quarantine_orders.insert().returning(*db.quarantine_orders.c, sort_by_parameter_order=True), rows).all()
                detail = {"province": request.province_code, "place": rows[0]["place"], "at": now}
                self.state.audit.record(who, "OrderQuarantine", purpose, len(made), detail, conn=conn)
                response = pb.OrderQuarantineResponse(orders=[_order(r) for r in made])
                keep(conn, response)
            for row in made:
                self.state.risk.ordered(row.person_id, +1)
            return response

        return self.state.once_stored(who, request, "OrderQuarantine", pb.OrderQuarantineResponse, order)

    def _check_claims(self, who: Principal, purpose: str, people: list[int], refs: int, now: int) -> None:
        """A provincial tracer orders only people its province has a claim
        on from the retention period (the first `refs` of `people` came as
        references, the rest as ids). Ordering is no claim of its own: see
        claims.py."""
        days = self.state.settings.retention_days
        windows = dict.fromkeys(people, (now - days * DAY, now + 1))
        refused = first_unlinked(self.state, who.province, windows, by_orders=False)
        if refused is None:
            return
        k = people.index(list(windows)[refused])
        where = f"people[{k}]" if k < refs else f"person_ids[{k - refs}]"
        # The refusal tells of the people checked up to the refused one
        # whether each was linked to the province: a read, audited.
        self.state.audit.record(who, "OrderQuarantine", purpose, refused + 1, {"province": who.province, "refused": where, "person_id": people[k]})
        raise PermissionDenied(
            f"{where} was at no venue of province {who.province} in the last {days} days, and declared no residence or check-in there; "
            f"{who.name} orders for province {who.province} only"
        )

    def EndQuarantine(self, request, context):  # noqa: N802, ANN001
        who = principal()
        return self.state.once_stored(who, request, "EndQuarantine", pb.QuarantineOrder, lambda keep: self._end_quarantine(who, request, keep))

    def _end_quarantine(self, who: Principal, request: pb.EndQuarantineRequest, keep: Keep) -> pb.QuarantineOrder:
        reason = text.clean(request.reason, "reason", 500, required=True)
        o = db.quarantine_orders.c
        order_id = request.order_id
        if order_id >= 1 << 63:
            raise NotFound(f"no quarantine order {order_id}")
        # The order's end, its audit record and the answer kept for retries, together.
        with self.state.audit.transaction() as conn:
            row = conn.execute(sa.select(db.quarantine_orders).where(o.id == order_id)).first()
            # Another province's order is answered as one that does not
            # exist: a refusal naming its province would tell a provincial
            # caller where the order's person is quarantined.
            if row is None or (who.provincial and row.province != who.province):
                raise NotFound(f"no quarantine order {order_id}")
            # Ended now by default. An order not begun yet may be ended
            # (called off) whenever; one under way, not before it began.
            now = int(time.time())
            ended_at = request.time or now
            self.state.check_time(ended_at, "time", now)
            if ended_at < row.start <= now:
                raise Invalid(f"time {ended_at} is before the order's start {row.start}")
            # Only the call that flips it ends it: a retry finds it ended.
            ended = conn.execute(
                db.quarantine_orders.update().where(o.id == row.id, o.active.is_(True)).values(active=False, ended_at=ended_at, closed_at=now, end_reason=reason)
            ).rowcount
            if ended != 1:
                raise FailedPrecondition(f"order {row.id} already ended at {row.ended_at}")
            row = conn.execute(sa.select(db.quarantine_orders).where(o.id == row.id)).one()
            # The reason is often the person's health (tested negative,
            # moved to hospital): in the detail, which retention wipes, not
            # as the purpose, which the chain keeps for good.
            self.state.audit.record(who, "EndQuarantine", "release from a quarantine order", 1, {"order": row.id, "reason": reason}, conn=conn)
            response = _order(row)
            keep(conn, response)
        self.state.risk.ordered(row.person_id, -1)
        return response

    def ListLineList(self, request, context):  # noqa: N802, ANN001
        who = principal()
        purpose = purpose_of(request.purpose)
        if request.province_code not in PROVINCES:
            raise Invalid(f"province_code {request.province_code!r} is not an official province code")
        who.require_province(request.province_code, "the line list")
        place = text.clean(request.place, "place", 300)  # as orders store it
        if who.place is not None and place != who.place:
            raise PermissionDenied(f"{who.name} sees the line lists of {who.place!r} only: give it as place")
        if request.list not in (pb.LINE_LIST_NOT_REPORTED_TODAY, pb.LINE_LIST_WARNING_SIGNS):
            raise Invalid("list must be NOT_REPORTED_TODAY or WARNING_SIGNS")
        if request.day and not MIN_TIME <= request.day < MAX_TIME:
            raise Invalid(f"day {request.day} is not within 2000-01-01..2100-01-01")
        day = local_day(request.day or int(time.time()))
        o, r = db.quarantine_orders.c, db.health_reports.c
        query = (
            sa.select(db.quarantine_orders, r.temperature_c, r.spo2_percent, r.breathing_difficulty, r.warning)
            .select_from(db.quarantine_orders.outerjoin(db.health_reports, (r.person_id == o.person_id) & (r.day == day)))
            .where(o.province == request.province_code, in_force_on(day))
            .where(o.person_id > text.id_(request.after_person_id, "after_person_id"))
        )
        if place:
            query = query.where(o.place == place)
        if request.list == pb.LINE_LIST_NOT_REPORTED_TODAY:
            query = query.where(r.person_id.is_(None))
        else:
            query = query.where(r.warning.is_(True))
        size = min(request.page_size or LINE_LIST_PAGE, LINE_LIST_PAGE)
        with self.state.db.connect() as conn:
            # The page's people first, then their orders: one entry a person,
            # with their latest order, however many they are under.
            people = conn.execute(query.with_only_columns(o.person_id).distinct().order_by(o.person_id).limit(size + 1)).scalars().all()
            more = len(people) > size
            people = people[:size]
            latest = {row.person_id: row for row in conn.execute(query.where(o.person_id.in_(people)).order_by(o.person_id, o.id))} if people else {}
            rows = list(latest.values())
            c = db.contacts.c
            contacts = {
                row.person_id: common_pb2.ContactDetails(name=row.name, phone=row.phone)
                for row in conn.execute(sa.select(db.contacts).where(c.person_id.in_({x.person_id for x in rows})))
            } if rows else {}
        response = pb.LineListResponse(next_after_person_id=people[-1] if more else 0)
        for row in rows:
            entry = response.entries.add(order=_order(row))
            if row.temperature_c is not None:
                entry.temperature_c, entry.spo2_percent, entry.breathing_difficulty = row.temperature_c, row.spo2_percent, row.breathing_difficulty
            if row.person_id in contacts:
                entry.contact.CopyFrom(contacts[row.person_id])
        refuse_if_too_large(response, self.state.settings.max_message_bytes)
        self.state.audit.record(who, "ListLineList", purpose, len({r.person_id for r in rows}), {"list": pb.LineList.Name(request.list), "province": request.province_code, "place": place, "day": day})
        return response

    # --- alerts ----------------------------------------------------------------

    def PublishAlerts(self, request, context):  # noqa: N802, ANN001
        who = principal()

        def publish(keep: Keep) -> pb.PublishAlertsResponse:
            purpose_of(request.purpose)
            if not 0 < len(request.alerts) <= 5_000:
                raise Invalid("give 1 to 5,000 alerts (more in more calls)")
            now = int(time.time())
            rows = []
            for i, a in enumerate(request.alerts):
                try:
                    venue = self.state.venue(a.venue_id)
                except NotFound as e:
                    raise NotFound(f"alerts[{i}]: {e}") from None
                who.require_province(venue.province, f"alerts[{i}]: venue {venue.id}")
                if a.end <= a.start:
                    raise Invalid(f"alerts[{i}]: window [{a.start}, {a.end}) is empty")
                self.state.check_time(a.start, f"alerts[{i}].start", now)
                self.state.check_time(a.end, f"alerts[{i}].end", now)
                if a.level not in (pb.ALERT_LEVEL_MONITOR, pb.ALERT_LEVEL_GET_TESTED):
                    raise Invalid(f"alerts[{i}]: level must be MONITOR or GET_TESTED")
                expires = a.expires_at or now + self.state.settings.alert_days * DAY
                if expires <= now:
                    raise Invalid(f"alerts[{i}]: expires_at is in the past")
                if expires > now + self.state.settings.retention_days * DAY:
                    raise Invalid(f"alerts[{i}]: expires_at is past the {self.state.settings.retention_days}-day retention period")
                message = text.clean(a.message, f"alerts[{i}].message", 1_000)
                rows.append(
                    {"venue_id": venue.id, "start": a.start, "end": a.end, "level": a.level, "message": message, "published_by": who.id, "published_at": now, "expires_at": expires}
                )
            # An alert answers with its message, its venue's name and some 120 bytes of numbers.
            largest = max(len(r["message"].encode()) + len(self.state.venue(r["venue_id"]).name.encode()) for r in rows)
            answer_fits(len(rows), largest + 128, self.state.settings.max_message_bytes, "alerts")
            with self.state.live_alerts.changing():
                with self.state.db.begin() as conn:
                    made = conn.execute(db.alerts.insert().returning(*db.alerts.c, sort_by_parameter_order=True), rows).all()
                    response = pb.PublishAlertsResponse(alerts=[_alert(r, self.state) for r in made])
                    keep(conn, response)
                self.state.live_alerts.published(made)
            return response

        return self.state.once_stored(who, request, "PublishAlerts", pb.PublishAlertsResponse, publish)

    def RetractAlert(self, request, context):  # noqa: N802, ANN001
        who = principal()
        al = db.alerts.c
        if request.alert_id >= 1 << 63:
            raise NotFound(f"no alert {request.alert_id}")
        with self.state.live_alerts.changing():
            with self.state.db.begin() as conn:
                row = conn.execute(sa.select(db.alerts).where(al.id == request.alert_id)).first()
                if row is None:
                    raise NotFound(f"no alert {request.alert_id}")
                who.require_province(self.state.venue(row.venue_id).province, f"alert {row.id}")
                conn.execute(db.alerts.update().where(al.id == row.id, al.retracted_at.is_(None)).values(retracted_at=int(time.time())))
            self.state.live_alerts.retracted(row.venue_id, row.id)
        return _alert(row, self.state)

    def ListExposures(self, request, context):  # noqa: N802, ANN001
        person_id, pseudonym = self.state.people.of_ref(request.person)
        now = int(time.time())
        found = exposures(self.state, person_id, now)
        if found:
            al = db.alerts.c
            live = al.retracted_at.is_(None) & (al.expires_at > now)
            with self.state.db.connect() as conn:
                rows = {r.id: r for r in conn.execute(sa.select(db.alerts).where(al.id.in_(sorted({a for a, _, _ in found})), live))}
            # One retracted or deleted since the index was read is not listed.
            found = [(rows[a], s, e) for a, s, e in found if a in rows]
        response = pb.ListExposuresResponse(exposures=[pb.Exposure(alert=_alert(a, self.state), start=s, end=e) for a, s, e in found])
        # An answer with exposures tells where the person was: audited, as
        # every answer with a person's data, once it is sure to be sent.
        # (Most checks find none; those answers hold nothing of anyone's,
        # and apps check often.)
        if found:
            refuse_if_too_large(response, self.state.settings.max_message_bytes)
            if context is not None and not context.is_active():
                return pb.ListExposuresResponse()  # past its deadline: read by nobody
            self.state.audit.record(principal(), "ListExposures", "the person's own exposure check", 1, {"person": pseudonym, "exposures": len(found)})
        return response

    def ListVenueAlerts(self, request, context):  # noqa: N802, ANN001
        size, now = min(request.page_size or ALERTS_PAGE, ALERTS_PAGE), int(time.time())
        al = db.alerts.c
        # Ids past a BIGINT's reach name no alert.
        after_id = min(request.after_id, (1 << 63) - 1)
        live = al.retracted_at.is_(None) & (al.expires_at > now) & (al.published_at >= request.since)
        who = principal()
        if who.role is Role.VENUE_OPERATOR:
            # An operator sees the alerts at their own venues; app backends
            # see all, to match them against their users' stays.
            v = db.venues.c
            live &= al.venue_id.in_(sa.select(v.id).where(v.owner_id == who.id))
        # The page and one more, which tells whether there is a next page.
        query = sa.select(db.alerts).where(al.id > after_id, live).order_by(al.id).limit(size + 1)
        with self.state.db.connect() as conn:
            rows = conn.execute(query).all()
        response, budget = pb.ListVenueAlertsResponse(), ALERTS_PAGE_BYTES
        for row in rows:
            alert = _alert(row, self.state)
            budget -= alert.ByteSize() + 4
            if len(response.alerts) == size or (budget < 0 and response.alerts):
                response.next_after_id = response.alerts[-1].id
                break
            response.alerts.append(alert)
        return response


def checked_declaration(d: pb.Declaration) -> pb.Declaration:
    """`d`, if it can be stored; raises INVALID_ARGUMENT if not."""
    if d.province_code and (d.province_code not in PROVINCES or not re.fullmatch(r"[0-9]{3}", d.district_code) or not re.fullmatch(r"[0-9]{5}", d.ward_code)):
        raise Invalid("declaration: province_code (official), district_code (3 digits) and ward_code (5 digits) go together")
    if d.case_contact not in pb.CaseContact.values():
        raise Invalid(f"declaration.case_contact {d.case_contact} is not a case contact value")
    if d.vaccine_doses > 10:
        raise Invalid(f"declaration.vaccine_doses {d.vaccine_doses} is more than 10")
    _symptoms(d.symptoms)
    return d


def store_declaration(
    state: State,
    person_id: int,
    t: int,
    source: int,
    d: pb.Declaration,
    where: tuple[str, str, str] = ("", "", ""),
    then: Callable[[sa.Connection, int, Declared], None] | None = None,
) -> int:
    """Stores a declaration; `where` (province, district, ward) stands in for
    a residence the declaration does not give. `then(conn, declaration_id,
    latest)` runs in the transaction that stores it, `latest` being the
    person's latest declaration: so a call keeps its answer for a retry
    with the declaration, and a retry never stores it twice."""
    checked_declaration(d)
    if d.province_code:
        where = (d.province_code, d.district_code, d.ward_code)
    symptoms = _symptoms(d.symptoms)
    # Under the person's lock until the advice has it: two declarations at
    # once could otherwise leave the advice on the one that is not the latest.
    with state.lock("person", person_id):
        with state.db.begin() as conn:
            declaration_id = conn.execute(
                db.declarations.insert().values(
                    person_id=person_id,
                    at=t,
                    source=source,
                    symptoms=symptoms,
                    case_contact=d.case_contact,
                    travelled=d.travelled_through_case_areas,
                    underlying_conditions=d.underlying_conditions,
                    vaccine_doses=d.vaccine_doses,
                    province=where[0],
                    district=where[1],
                    ward=where[2],
                )
            ).inserted_primary_key[0]
            # The advice follows the person's latest declaration, which a late
            # one (an app that was offline) is not.
            dc = db.declarations.c
            row = conn.execute(
                sa.select(dc.at, dc.symptoms, dc.case_contact, dc.travelled).where(dc.person_id == person_id).order_by(dc.at.desc(), dc.id.desc()).limit(1)
            ).one()
            latest = (row.at, reasons_of(row.symptoms, row.case_contact, row.travelled))
            if then is not None:
                then(conn, declaration_id, latest)
        state.risk.declared(person_id, *latest)
    return declaration_id


def _check_place(who: Principal, province: str, kind: int, place: str) -> None:
    if province not in PROVINCES:
        raise Invalid(f"province_code {province!r} is not an official province code")
    who.require_province(province, "the order")
    if kind not in (pb.QUARANTINE_KIND_FACILITY, pb.QUARANTINE_KIND_HOME, pb.QUARANTINE_KIND_LOCKDOWN_ZONE):
        raise Invalid(f"kind {kind} is not a quarantine kind")
    if kind == pb.QUARANTINE_KIND_FACILITY and not place.strip():
        raise Invalid("a facility order needs the facility's name as place")
    if kind != pb.QUARANTINE_KIND_FACILITY and not re.fullmatch(r"[0-9]{5}", place):
        raise Invalid("home and lockdown orders need the ward code (5 digits) as place")
    text.clean(place, "place", 300)  # here, before the claims are read: see Trace

