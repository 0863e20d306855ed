"""TracingService: tracing for health authorities, venue entry logs."""

from __future__ import annotations

import json
import time

import numpy as np
import sqlalchemy as sa
from google.protobuf.message import Message
from sqlalchemy.dialects import postgresql

from tokhai_engine import MAX_TIME, MIN_TIME, Cancel, QueryCancelledError, Sites, Trace

from tokhai.v1 import common_pb2, tracing_pb2 as pb
from tokhai.v1 import tracing_pb2_grpc

from .. import db, text
from ..auth import Role
from ..claims import first_unlinked
from ..errors import Exhausted, Invalid, PermissionDenied
from ..provinces import PROVINCES
from ..state import State
from .context import principal

MAX_CASES = 20_000
#: Exposure sites whose people present are gathered at a time: those of
#: thousands of cases at busy venues would be tens of millions of rows.
SITES_AT_ONCE = 512
#: Cases whose contacts are held at a time, to count those at their sites.
CASES_AT_ONCE = 256
LOCAL = 7 * 3_600  # Vietnam's days run on UTC+7


def purpose_of(value: str) -> str:
    value = text.clean(value, "purpose", 500)
    if len(value) < 3 or not text.readable(value):
        raise Invalid("purpose is required: say why personal data is read")
    # The audit log keeps purposes for good, past the retention period that
    # deletes the data they read.
    if text.holds_personal_number(value):
        raise Invalid("purpose holds a phone or citizen id number: the audit log keeps purposes for good, so name the outbreak or task, not a person")
    return value


def refuse_if_too_large(response: Message, limit: int) -> None:
    """Before an answer is audited: one the transport would refuse was read
    by nobody, and says so."""
    size = response.ByteSize()
    if size > limit:
        raise Exhausted(f"the answer is {size:,} bytes, over the {limit:,}-byte message limit: ask for less in each call")


def in_sorted(values: np.ndarray, ascending: np.ndarray) -> np.ndarray:
    """Which of `values` are in `ascending` (sorted, as a trace lists a
    hop's people): a binary search each, where `np.isin` would hash both."""
    if not len(ascending):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(ascending, values).clip(max=len(ascending) - 1)
    return ascending[at] == values


class TracingServicer(tracing_pb2_grpc.TracingServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    def _contacts(self, person_ids: list[int]) -> dict[int, common_pb2.ContactDetails]:
        """Contact details of those who have them, in one query: the ids go
        as one array parameter (an IN list of thousands costs more to build
        than to run)."""
        if not person_ids:
            return {}
        c = db.contacts.c
        if self.state.db.dialect.name == "postgresql":
            ids = sa.bindparam("ids", person_ids, type_=postgresql.ARRAY(sa.BigInteger))
            query = sa.select(c.person_id, c.name, c.phone).where(c.person_id == sa.func.any(ids))
        else:
            # A join, not IN (subquery): SQLite would sort the ids into a
            # temporary index first, which costs ten times the lookups.
            listed = sa.func.json_each(sa.bindparam("ids", json.dumps(person_ids))).table_valued("value")
            query = sa.select(c.person_id, c.name, c.phone).select_from(listed.join(db.contacts, c.person_id == listed.c.value))
        with self.state.db.connect() as conn:
            return {row.person_id: common_pb2.ContactDetails(name=row.name, phone=row.phone) for row in conn.execute(query)}

    def _exposed_at_sites(self, traced: Trace, sites: Sites, windows: dict[int, tuple[int, int]], request, gone) -> np.ndarray | None:  # noqa: ANN001
        """For each site, how many contacts of its case (exposure to that
        case of at least min_overlap; other cases left out) were at the
        venue while the case was. None when the call ended meanwhile.

        One case's contacts are the trace's first hop; several cases' are
        worked out again (the trace keeps only each person's earliest
        source), a few hundred cases at a time, so that their pairs are
        never all held at once."""
        state = self.state
        all_cases = np.array(sorted(windows), dtype=np.uint64)
        exposed = np.zeros(len(sites), dtype=np.int64)
        cases = np.unique(sites.case)  # those with sites, as sites are ordered
        for k in range(0, len(cases), CASES_AT_ONCE):
            some = cases[k : k + CASES_AT_ONCE]
            if len(windows) == 1:
                pair_person = traced.person[traced.hop == 1]  # sorted by id
                pair_case = np.full(len(pair_person), some[0], dtype=np.uint64)
            else:
                starts, ends = zip(*(windows[c] for c in some.tolist()), strict=True)
                pairs = state.engine.contacts_many(some, starts, ends, min_overlap=request.min_overlap_seconds, linger=request.linger_seconds)
                keep = ~in_sorted(pairs.person, all_cases)
                pair_case, pair_person = pairs.case[keep], pairs.person[keep]
            # (case, contact) as one sortable number: the case's rank, then the
            # contact's among all contacts (pairs come sorted by both).
            contacts = np.unique(pair_person)
            pair_key = np.searchsorted(some, pair_case).astype(np.int64) * len(contacts) + np.searchsorted(contacts, pair_person)
            first, last = int(np.searchsorted(sites.case, some[0])), int(np.searchsorted(sites.case, some[-1], side="right"))
            for lo in range(first, last, SITES_AT_ONCE):
                if gone():
                    return None
                hi = min(lo + SITES_AT_ONCE, last)
                present = state.engine.present_many(sites.venue[lo:hi], sites.start[lo:hi], sites.end[lo:hi])
                window = present.window.astype(np.intp)
                rank = np.searchsorted(contacts, present.person).clip(max=max(len(contacts) - 1, 0))
                key = np.searchsorted(some, sites.case[lo:hi][window]).astype(np.int64) * len(contacts) + rank
                met = in_sorted(present.person, contacts) & in_sorted(key, pair_key)
                exposed[lo:hi] = np.bincount(window[met], minlength=hi - lo)
        return exposed

    def Trace(self, request, context):  # noqa: N802, ANN001
        who, state = principal(), self.state
        purpose = purpose_of(request.purpose)
        if not 0 < len(request.cases) <= MAX_CASES:
            raise Invalid(f"give 1 to {MAX_CASES:,} cases")
        if not 1 <= request.hops <= 4:
            raise Invalid("hops must be 1 to 4")
        # Every check of the request before the first read: a refusal after
        # the province's (which reads where the cases were) would tell a
        # provincial tracer, unaudited, that a case was in its province.
        if not 0 <= request.min_overlap_seconds <= 28 * 86_400:
            raise Invalid("min_overlap_seconds must be 0 to 28 days")
        if not 0 <= request.linger_seconds <= 86_400 or not 0 <= request.latency_seconds <= 28 * 86_400:
            raise Invalid("linger_seconds must be 0 to a day, latency_seconds 0 to 28 days")
        if request.until and not MIN_TIME <= request.until <= MAX_TIME:
            raise Invalid(f"until {request.until} is not within 2000-01-01..2100-01-01 (0: the time of the call)")
        persons, pseudonyms, starts, ends = [], {}, [], []
        for i, case in enumerate(request.cases):
            if case.province_code not in PROVINCES:
                raise Invalid(f"cases[{i}].province_code {case.province_code!r} is not an official province code")
            who.require_province(case.province_code, f"cases[{i}]")
            if case.end <= case.start:
                raise Invalid(f"cases[{i}]: window [{case.start}, {case.end}) is empty")
            state.check_time(case.start, f"cases[{i}].start")
            state.check_time(case.end, f"cases[{i}].end")
            person_id, pseudonym = state.people.of_ref(case.person, f"cases[{i}].person")
            persons.append(person_id)
            pseudonyms[person_id] = pseudonym
            starts.append(case.start)
            ends.append(case.end)
        if len(set(persons)) != len(persons):
            raise Invalid("the same person is given as a case twice")

        def gone() -> bool:
            return context is not None and not context.is_active()

        # Database reads (the sites' venues, contact details) run while the
        # engine works; a call that ends early calls off those not begun.
        windows = dict(zip(persons, zip(starts, ends, strict=True), strict=True))
        sites = state.engine.exposure_sites(persons, starts, ends, linger=request.linger_seconds)
        if who.provincial and (refused := first_unlinked(state, who.province, windows, sites, by_orders=True)) is not None:
            # The refusal tells of the cases checked up to the refused one
            # whether each was linked to the province: a read, audited,
            # unless nobody gets it.
            if gone():
                return pb.TraceResponse()
            state.audit.record(who, "Trace", purpose, refused + 1, {"cases": sorted(pseudonyms.values()), "refused": f"cases[{refused}]"})
            raise PermissionDenied(
                f"cases[{refused}] was at no venue of province {who.province} in its window, and neither declared itself there nor was under one of its orders; "
                f"{who.name} acts for province {who.province} only"
            )
        venues_read = state.lookups.submit(state.venues, sites.venue.tolist())
        contacts_read = None
        try:
            # Each reached person's window runs until `until`, by default the
            # time of the call (or the latest case end, if later): the
            # engine's default, the latest case end, would make who is reached
            # depend on which cases share a call.
            until = request.until or max(int(time.time()), max(ends))
            # A trace of thousands of cases runs for seconds of both cores:
            # it stops once the call ends.
            cancel = Cancel()
            if context is not None and not context.add_callback(cancel.set):
                cancel.set()  # ended already
            try:
                traced = state.engine.trace(
                    persons,
                    starts,
                    ends,
                    hops=request.hops,
                    min_overlap=request.min_overlap_seconds,
                    linger=request.linger_seconds,
                    latency=request.latency_seconds,
                    until=until,
                    cancel=cancel,
                )
            except QueryCancelledError:
                traced = None
            # Cancelled or past its deadline: no more work, and nothing to audit.
            if traced is None or gone():
                return pb.TraceResponse()
            contacts_read = state.lookups.submit(self._contacts, traced.person.tolist())
            exposed = self._exposed_at_sites(traced, sites, windows, request, gone)
            if exposed is None:
                return pb.TraceResponse()
            response = pb.TraceResponse()
            people = response.people
            people.person_id.extend(traced.person.tolist())
            people.hop.extend(traced.hop.tolist())
            people.exposed_at.extend(traced.exposed_at.tolist())
            people.source_person_id.extend(traced.source.tolist())
            people.exposure_seconds.extend(traced.exposure.tolist())
            contacts, venues = contacts_read.result(), venues_read.result()
            for p in sorted(contacts):
                response.contacts.add(person_id=p, contact=contacts[p])
            for (case, venue_id, start, end), exposed_there in zip(zip(*(c.tolist() for c in sites.columns().values())), exposed.tolist(), strict=True):
                venue = venues[venue_id]
                response.sites.add(
                    venue_id=venue_id,
                    venue_name=venue.name,
                    province_code=venue.province,
                    start=start,
                    end=end,
                    case_person_id=case,
                    people_exposed=exposed_there,
                )
        finally:
            for read in (contacts_read, venues_read):
                if read is not None:
                    read.cancel()
        refuse_if_too_large(response, state.settings.max_message_bytes)
        if gone():
            return pb.TraceResponse()
        detail = {"cases": sorted(pseudonyms.values()), "hops": request.hops, "contact_details": len(contacts)}
        state.audit.record(who, "Trace", purpose, len(traced.person), detail)
        return response

    def VenueLog(self, request, context):  # noqa: N802, ANN001
        who, state = principal(), self.state
        purpose = purpose_of(request.purpose)
        venue = state.venue(request.venue_id)
        if who.role is Role.VENUE_OPERATOR and venue.owner_id != who.id:
            raise PermissionDenied(f"venue {venue.id} is not one of {who.name}'s venues")
        who.require_province(venue.province, f"venue {venue.id}")
        day_start = (request.day + LOCAL) // 86_400 * 86_400 - LOCAL
        now = int(time.time())
        if day_start + 86_400 <= now - state.settings.retention_days * 86_400:
            raise Invalid(f"day {request.day} is not within the {state.settings.retention_days}-day retention period (nor is any second of its day)")
        if day_start > now + state.settings.max_future_seconds:
            raise Invalid(f"day {request.day} has not begun (its midnight, UTC+7, is after the server's clock)")
        stays = state.engine.overlaps(venue.id, day_start, day_start + 86_400)
        rows = zip(stays.person.tolist(), stays.t_in.tolist(), stays.t_out.tolist(), strict=True)
        if who.role is Role.VENUE_OPERATOR:
            # Its own door's log: who came back, not who they are elsewhere or
            # on another day. Cut at the day's bounds, and a piece cut there
            # under an id of its own: a night's two halves meet at midnight,
            # and under the day's ids they would join the two days' entries.
            scope, day_end = f"{venue.id}:{day_start}", day_start + 86_400

            def local(person: int, a: int, b: int) -> int:
                cut = (a < day_start, b > day_end)
                return state.people.local(person, f"{scope}:{cut[0]:d}{cut[1]:d}" if any(cut) else scope)

            rows = sorted((local(p, a, b), max(a, day_start), min(b, day_end)) for p, a, b in rows)
        response = pb.VenueLogResponse()
        for p, a, b in rows:
            entry = response.entries.add(entered_at=a, left_at=b)
            entry.person.id = p
        refuse_if_too_large(response, state.settings.max_message_bytes)
        # Past its deadline or cancelled: nobody gets it, so nobody read it.
        if context is not None and not context.is_active():
            return pb.VenueLogResponse()
        people = len(set(stays.person.tolist()))
        state.audit.record(who, "VenueLog", purpose, people, {"venue": venue.id, "day": day_start})
        return response
