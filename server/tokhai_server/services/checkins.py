"""CheckinService: check-in, check-out, bulk ingest, personal codes."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator

import numpy as np
import sqlalchemy as sa

from tokhai_engine import InvalidInputError, UnknownStayError

from tokhai.v1 import checkins_pb2 as pb
from tokhai.v1 import checkins_pb2_grpc

from .. import codes, db, text
from ..auth import Principal, Role
from ..errors import FailedPrecondition, Invalid, NotFound, PermissionDenied
from ..risk import Declared
from ..state import FirstTry, Keep, OpenStay, State, Venue
from . import care
from .context import principal

MAX_BATCH = 100_000


def _contact(contact) -> tuple[str, str]:  # noqa: ANN001 - a ContactDetails
    return text.clean(contact.name, "contact.name", 200), text.clean(contact.phone, "contact.phone", 40, required=True)


class CheckinServicer(checkins_pb2_grpc.CheckinServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    def _check_in(self, person_id: int, venue_id: int, t: int, note: Callable[[pb.CheckInResponse], None]) -> pb.CheckInResponse:
        """Stores the check-in, closing the person's open stay elsewhere; a
        repeated scan during the open stay at the same venue is that stay,
        its answer given to `note` (`FirstTry.note`): it stores nothing a
        retry could find by its time, and the stay may be closed by then."""
        state = self.state
        venue = state.venue(venue_id)
        if not venue.active:
            raise FailedPrecondition(f"venue {venue_id} is deactivated: its codes are refused")
        with state.lock("person", person_id):
            # Open at the scan's time: a scan uploaded late still closes the stay it ended.
            open_ = state.open_stay(person_id, t)
            if open_ is not None and open_.t_in <= t < open_.until:
                if open_.venue_id == venue_id:
                    repeated = pb.CheckInResponse(
                        stay_id=open_.stay_id, venue_id=venue_id, venue_name=venue.name, t_in=open_.t_in, provisional_t_out=open_.until, repeated=True
                    )
                    note(repeated)
                    return repeated
                if t >= open_.t_in:
                    # A scan elsewhere in the same second leaves the shortest
                    # stay the store holds, not one open until its provisional end.
                    state.engine.set_checkout([open_.stay_id], max(t, open_.t_in + 1))
                    # Closed in the store, so no longer open here, whatever
                    # becomes of the new stay (a full disk, say).
                    state.forget_open(person_id, open_.stay_id)
            until = t + venue.dwell_seconds
            # A scan that arrives late (from an app that was offline) is an
            # earlier stay, over when the open one began; that one stays open.
            late = open_ is not None and t < open_.t_in
            if late:
                until = min(until, open_.t_in)
            stay_id = int(state.engine.add_stays([person_id], [venue_id], [t], [until])[0])
            if not late:
                state.set_open(person_id, OpenStay(stay_id, venue_id, t, until))
        return pb.CheckInResponse(stay_id=stay_id, venue_id=venue_id, venue_name=venue.name, t_in=t, provisional_t_out=until)

    def _stored(self, first: FirstTry, person_id: int, venue: Venue, t: int) -> pb.CheckInResponse | None:
        """The check-in a first try of a retried request stored, if it did:
        the person's stay at the venue from `t`; or the stay it answered a
        repeated scan with."""
        if first.noted is not None:
            return first.noted
        if not first.retry:
            return None
        engine = self.state.engine
        stay_id = int(engine.find_stays([person_id], [venue.id], [t])[0])
        if not stay_id:
            return None
        t_out = int(engine.stays_by_id([stay_id]).t_out[0])
        return pb.CheckInResponse(stay_id=stay_id, venue_id=venue.id, venue_name=venue.name, t_in=t, provisional_t_out=t_out)

    def CheckIn(self, request, context):  # noqa: N802, ANN001
        who = principal()
        who.require_app(request.source)

        def check_in(keep: Keep, first: FirstTry[pb.CheckInResponse]) -> pb.CheckInResponse:
            # Everything is checked before anything is stored (`_check_in`
            # refuses a deactivated venue before it stores the stay).
            self.state.check_time(request.time, "time")
            venue = self.state.venue(self.state.codes.verify_venue(request.venue_payload, revoked_ok=first.retry))
            person_id, _ = self.state.people.of_ref(request.person)
            contact = _contact(request.contact) if request.HasField("contact") else None
            declaration = care.checked_declaration(request.declaration) if request.HasField("declaration") else None
            # A retry takes up the stay of a first try that stored it (though
            # the venue was deactivated or its code's key revoked since: the
            # check-in was taken), and repeats the rest: the contact details
            # again change nothing, and a declaration is stored with the
            # answer, so not twice. (CheckIn marks no request pending, so any
            # request with an id may be a retry: one under a new id for a
            # stay held already, of this person, venue and second, takes it
            # up too. It stores no stay: a new one is checked in full.)
            response = self._stored(first, person_id, venue, request.time)
            if response is None:
                self.state.codes.verify_venue(request.venue_payload)  # a new check-in's code: not revoked
                response = self._check_in(person_id, venue.id, request.time, first.note)
            if contact is not None:
                self._keep_contact(person_id, contact, request.time)
            if declaration is None:
                response.advice.CopyFrom(care.advice(self.state, person_id, int(time.time())))
            else:

                def answer(conn: sa.Connection, _: int, latest: Declared) -> None:
                    response.advice.CopyFrom(care.advice(self.state, person_id, int(time.time()), latest))
                    keep(conn, response)

                where = (venue.province, venue.district, venue.ward)
                care.store_declaration(self.state, person_id, request.time, request.source, declaration, where, then=answer)
            audited(response)
            return response

        def audited(response: pb.CheckInResponse) -> None:
            person_id, _ = self.state.people.of_ref(request.person)
            care.audit_referral(self.state, who, "CheckIn", "entry advice for the person's app", person_id, response.advice, venue=response.venue_id)

        return self.state.once_durable(who, request, "CheckIn", pb.CheckInResponse, check_in, replayed=audited)

    def _keep_contact(self, person_id: int, contact: tuple[str, str], t: int) -> None:
        """Keeps the contact details sent with a check-in at `t`, unless those
        held came with a later one. They are kept as long as the latest
        check-in that carried them (retention goes by `updated_at`): those
        sent with a late check-in from an offline app go with that stay, not
        a full period after they arrived."""
        c = db.contacts.c
        name, phone = contact
        # Details that came with an older check-in than those held are
        # older too: they change nothing.
        newer = c.updated_at <= t
        # The person's lock makes update-or-insert safe on every database.
        with self.state.lock("person", person_id), self.state.db.begin() as conn:
            updated = db.contacts.update().where(c.person_id == person_id)
            updated = updated.values(name=sa.case((newer, name), else_=c.name), phone=sa.case((newer, phone), else_=c.phone), updated_at=sa.case((newer, t), else_=c.updated_at))
            if conn.execute(updated).rowcount == 0:
                conn.execute(db.contacts.insert().values(person_id=person_id, name=name, phone=phone, updated_at=t))

    def ScanPerson(self, request, context):  # noqa: N802, ANN001
        who = principal()

        def scan(keep: Keep, first: FirstTry[pb.CheckInResponse]) -> pb.CheckInResponse:
            venue = self.state.venue(request.venue_id)
            if who.role is Role.VENUE_OPERATOR and venue.owner_id != who.id:
                raise PermissionDenied(f"venue {venue.id} is not one of {who.name}'s venues")
            who.require_province(venue.province, f"venue {venue.id}")
            now = int(time.time())
            response = None
            if first.retry:
                # A first try that stored the scan checked the code's expiry,
                # its key and the scan's delay then: the clock since, or a
                # revocation, does not undo that.
                person_id = self.state.codes.verify_personal(request.person_payload, 0, revoked_ok=True)
                response = self._stored(first, person_id, venue, request.time)
            if response is None:
                self.state.check_time(request.time, "time", now)
                delay = self.state.settings.max_scan_delay_seconds
                if request.time < now - delay:
                    raise Invalid(f"time {request.time} is {now - request.time} s ago: a venue's scans arrive within {delay} s")
                person_id = self.state.codes.verify_personal(request.person_payload, now)
                response = self._check_in(person_id, venue.id, request.time, first.note)
            # Venue staff get the decision, not where the person is: a late
            # scan's end, cut at the start of the person's stay elsewhere,
            # would tell them when that began.
            if not response.repeated:
                response.provisional_t_out = max(response.provisional_t_out, request.time + venue.dwell_seconds)
            # Nor the person's health behind the decision.
            response.advice.advice = care.advice(self.state, person_id, int(time.time())).advice
            audited(person_id, response)
            return response

        def audited(person_id: int, response: pb.CheckInResponse) -> None:
            care.audit_referral(self.state, who, "ScanPerson", "entry control at the venue", person_id, response.advice, venue=response.venue_id)

        def replayed(response: pb.CheckInResponse) -> None:
            # The code was checked when first scanned (a kept answer is for
            # the same request): its expiry or its key's revocation since
            # does not undo that answer.
            audited(codes.person_of_verified(request.person_payload), response)

        # Marked pending first: only a retry skips the code's expiry and the
        # scan's delay, never a new request with an old code.
        return self.state.once_durable(who, request, "ScanPerson", pb.CheckInResponse, scan, replayed=replayed, mark=True)

    def CheckOut(self, request, context):  # noqa: N802, ANN001
        who = principal()

        def check_out(keep: Keep, first: FirstTry[pb.CheckOutResponse]) -> pb.CheckOutResponse:
            state = self.state
            if first.noted is not None:
                # A first try settled on this stay and may have checked it
                # out: it is checked out then, unless it ended earlier since
                # (a check-in elsewhere closed it), which a retry must not undo.
                stay_id = first.noted.stay_id
                person_id, _ = state.people.of_ref(request.person_at_venue.person)
                with state.lock("person", person_id):
                    t_out = min(first.noted.t_out, int(state.engine.stays_by_id([stay_id]).t_out[0]))
                    state.engine.set_checkout([stay_id], t_out)
                    state.forget_open(person_id, stay_id)
                return pb.CheckOutResponse(stay_id=stay_id, t_out=t_out)
            target = request.WhichOneof("target")
            if target is None:
                raise Invalid("give stay or person_at_venue")
            state.check_time(request.time, "time")
            if target == "stay":
                person_id, _ = state.people.of_ref(request.stay.person, "stay.person")
                stay_id = request.stay.stay_id
                if self._first_not_theirs([stay_id], [person_id]) is not None:
                    raise NotFound(f"no stay {stay_id} of the person given")
                # Under the person's lock until the stay, if open, is
                # forgotten: a check-in meanwhile must not close it again.
                with state.lock("person", person_id):
                    state.engine.set_checkout([stay_id], request.time)
                    state.forget_open(person_id, stay_id)
                return pb.CheckOutResponse(stay_id=stay_id, t_out=request.time)
            person_id, _ = state.people.of_ref(request.person_at_venue.person)
            venue_id = request.person_at_venue.venue_id
            with state.lock("person", person_id):
                open_ = state.open_stay(person_id, int(time.time()))
                # One answer whether the person is elsewhere or came in after
                # the time given: neither tells where they are, or since when.
                if open_ is None or open_.venue_id != venue_id or request.time <= open_.t_in:
                    raise NotFound(f"the person has no open stay at venue {venue_id} begun before {request.time}")
                # Once checked out the stay is open no more: a retry could not
                # find it again.
                response = pb.CheckOutResponse(stay_id=open_.stay_id, t_out=request.time)
                first.note(response)
                state.engine.set_checkout([open_.stay_id], request.time)
                state.forget_open(person_id, open_.stay_id)
            return response

        return self.state.once_durable(who, request, "CheckOut", pb.CheckOutResponse, check_out)

    def _first_not_theirs(self, stay_ids: list[int], person_ids: list[int]) -> int | None:
        """The first row whose stay is not held or not its person's, if any:
        an app backend changes only the stays of the people it names, as it
        checks in only those it names, and stay ids are easy to guess. The
        two are one answer, so that ids cannot be probed for being held."""
        held = self._held(stay_ids, "person")
        return next((k for k, (whose, p) in enumerate(zip(held, person_ids, strict=True)) if whose != p), None)

    def _held(self, stay_ids: list[int], column: str) -> Iterator[int | None]:
        """`column` of each stay (as `stays_by_id` names it), None for one not
        held: all at once, or, when one is not held (a refusal, an expiry),
        row by row as they are asked for."""
        engine = self.state.engine
        try:
            yield from getattr(engine.stays_by_id(np.array(stay_ids, dtype=np.uint64)), column).tolist()
            return
        except UnknownStayError:
            pass
        for stay_id in stay_ids:
            try:
                yield int(getattr(engine.stays_by_id([stay_id]), column)[0])
            except UnknownStayError:
                yield None

    def IngestCheckins(self, request_iterator, context):  # noqa: N802, ANN001
        # The key is checked again for each batch: a stream stays open for
        # hours, and a key revoked meanwhile must stop it (within the key
        # cache's seconds, as any call).
        authorization = dict(context.invocation_metadata()).get("authorization")
        for batch in request_iterator:
            if not context.is_active():
                return
            yield self._ingest(self.state.keys.authenticate(authorization), batch)

    def _ingest(self, who: Principal, batch: pb.IngestBatch) -> pb.IngestAck:
        who.require_app(batch.source)
        checkouts = bool(batch.checkout_stay_ids or batch.checkout_t_out or batch.checkout_person_refs)
        # A retry is the same batch, numbered as its stream numbers it; a
        # batch of check-ins is the same by its check-ins (as a retry finds
        # them stored), whatever check-out times an outbox has filled in
        # since: refused, a client would send it anew and store it twice.
        asked = batch
        if batch.request_id:
            asked = pb.IngestBatch()
            asked.CopyFrom(batch)
            asked.ClearField("batch_id")
            if not checkouts:
                asked.ClearField("t_out")
        if checkouts:
            # Setting the same check-outs again changes nothing.
            ack = self.state.once(who, asked, "IngestCheckins", pb.IngestAck, lambda: self._ingest_checkouts(batch))
        else:
            stored_now = False

            def check_ins(keep: Keep, first: FirstTry[pb.IngestAck]) -> pb.IngestAck:
                nonlocal stored_now
                if first.retry and (found := self._stored_already(batch)):
                    return found
                stored_now = True
                ack, dwell = self._ingest_checkins(batch)
                if batch.request_id:
                    # The dwell each provisional end was stored with, with
                    # the answer: a resending's check-outs are weighed
                    # against those ends, not against a dwell changed since.
                    # (Compressed: a venue's dwell repeats down a batch.)
                    with self.state.db.begin() as conn:
                        keep(conn, ack)
                        kept = (db.requests.c.principal_id == who.id) & (db.requests.c.request_id == batch.request_id)
                        conn.execute(db.requests.update().where(kept).values(dwell=zlib.compress(dwell.astype("<i4").tobytes())))
                return ack

            ack = self.state.once_durable(who, asked, "IngestCheckins", pb.IngestAck, check_ins, mark=True)
            if not stored_now:
                self._checked_out_since(who, batch, ack)
        ack.batch_id = batch.batch_id  # the batch's number in this stream, not in the first one
        return ack

    def _ingest_checkins(self, batch: pb.IngestBatch) -> tuple[pb.IngestAck, np.ndarray]:
        """The batch stored, and the dwell each row's provisional end was
        stored with (0 for a row that gave its check-out)."""
        n = len(batch.person_refs)
        if not 0 < n <= MAX_BATCH:
            raise Invalid(f"batch {batch.batch_id}: {n} rows; a batch has 1 to {MAX_BATCH:,}")
        if not len(batch.venue_ids) == len(batch.t_in) == len(batch.t_out) == n:
            raise Invalid(f"batch {batch.batch_id}: person_refs, venue_ids, t_in and t_out must have one value per row")
        try:
            persons = np.array(self.state.people.ids_of_refs(batch.person_refs), dtype=np.uint64)
            venues = np.array(batch.venue_ids, dtype=np.uint64)
            t_in = np.array(batch.t_in, dtype=np.int64)
            t_out = np.array(batch.t_out, dtype=np.int64)
            self.state.check_times(t_in, "t_in")
            # A check-out given is one that happened: not ahead of the clock.
            self.state.check_times(np.where(t_out == 0, t_in, t_out), "t_out")
            distinct, where = np.unique(venues, return_inverse=True)
            dwell = np.empty(len(distinct), dtype=np.int64)
            known = self.state.venues(distinct.tolist())  # those not held yet in a few queries, not one each
            for i, v in enumerate(distinct.tolist()):
                venue = known[v]
                if not venue.active:
                    raise FailedPrecondition(f"venue_ids: venue {v} is deactivated")
                dwell[i] = venue.dwell_seconds
            provisional = np.where(t_out == 0, dwell[where], 0)
            t_out = np.where(t_out == 0, t_in + provisional, t_out)
            ids = self.state.engine.add_stays(persons, venues, t_in, t_out)
            self.state.note_open((persons, ids, venues, t_in, t_out), int(time.time()))
        except (Invalid, InvalidInputError) as e:
            raise Invalid(f"batch {batch.batch_id}: {e}") from None
        except NotFound as e:
            raise NotFound(f"batch {batch.batch_id}: {e}") from None
        return pb.IngestAck(batch_id=batch.batch_id, stay_ids=ids), provisional

    def _stored_already(self, batch: pb.IngestBatch) -> pb.IngestAck | None:
        """The ack of a check-in batch that a first try stored, when the store
        holds a stay for each of its rows (by person, venue and check-in time:
        a check-out may have changed the end since)."""
        try:
            persons = np.array(self.state.people.ids_of_refs(batch.person_refs), dtype=np.uint64)
            ids = self.state.engine.find_stays(persons, np.array(batch.venue_ids, dtype=np.uint64), np.array(batch.t_in, dtype=np.int64))
        except (Invalid, InvalidInputError):
            return None  # not a batch that could have been stored
        if not len(ids) or not ids.all():
            return None
        return pb.IngestAck(batch_id=batch.batch_id, stay_ids=ids)

    def _checked_out_since(self, who: Principal, batch: pb.IngestBatch, ack: pb.IngestAck) -> None:
        """The check-out times a batch of check-ins sent again carries, filled
        in by the outbox since its first try stored it: check-outs of its
        stays. One is taken where it ends its stay earlier than it ends, or
        later than the provisional end the first try stored, which nothing
        has changed since (the dwell it was stored with is kept with the
        answer; where it is not, a first try whose answer was lost, it is
        taken to be the venue's as it is now; a check-out the first try gave
        is no provisional end); a stay a check-in elsewhere closed keeps that
        end, and one expired since is gone. A time no check-out could have is
        refused, saying that the check-ins are stored: the batch is to be
        sent again under its id, not under a new one, which would store them
        twice."""
        stored = f"batch {batch.batch_id} (its check-ins are stored: send it again under its request_id)"
        if len(batch.t_out) != len(ack.stay_ids):
            raise Invalid(f"{stored}: t_out must have one value per row ({len(ack.stay_ids):,}), as when it was first sent")
        rows = [k for k, t in enumerate(batch.t_out) if t]
        if not rows:
            return
        latest = int(time.time()) + self.state.settings.max_future_seconds
        for k in rows:
            if batch.t_out[k] <= batch.t_in[k]:
                raise Invalid(f"{stored}: t_out[{k}] {batch.t_out[k]} is not after t_in[{k}] {batch.t_in[k]}")
            if batch.t_out[k] > latest:
                raise Invalid(f"{stored}: t_out[{k}] {batch.t_out[k]} is ahead of the server's clock")
        person_ids = self.state.people.ids_of_refs([batch.person_refs[k] for k in rows])
        venues = self.state.venues(sorted({batch.venue_ids[k] for k in rows}))
        with self.state.db.connect() as conn:
            kept = (db.requests.c.principal_id == who.id) & (db.requests.c.request_id == batch.request_id)
            first = conn.execute(sa.select(db.requests.c.dwell).where(kept)).scalar()
        dwell = np.frombuffer(zlib.decompress(first), dtype="<i4") if first is not None else None
        if dwell is not None and len(dwell) != len(ack.stay_ids):
            dwell = None
        # Under their people's locks, as any check-out: a check-in elsewhere
        # must not close one between the read of its end and the change.
        with self.state.people_locked(person_ids):
            taken = []
            for k, person_id, end in zip(rows, person_ids, self._held([ack.stay_ids[k] for k in rows], "t_out"), strict=True):
                # The end the first try stored, if provisional (a dwell of 0: its own check-out).
                first_dwell = int(dwell[k]) if dwell is not None else venues[batch.venue_ids[k]].dwell_seconds
                provisional = batch.t_in[k] + first_dwell if first_dwell else None
                if end is not None and (batch.t_out[k] < end or (end == provisional and batch.t_out[k] != end)):
                    taken.append((ack.stay_ids[k], person_id, batch.t_out[k]))
            if taken:
                self.state.engine.set_checkout(np.array([t[0] for t in taken], dtype=np.uint64), np.array([t[2] for t in taken], dtype=np.int64))
                for stay_id, person_id, _ in taken:
                    self.state.forget_open(person_id, stay_id)

    def _ingest_checkouts(self, batch: pb.IngestBatch) -> pb.IngestAck:
        n = len(batch.checkout_stay_ids)
        if batch.person_refs or batch.venue_ids or batch.t_in or batch.t_out:
            raise Invalid(f"batch {batch.batch_id}: check-ins and check-outs go in separate batches")
        if not 0 < n <= MAX_BATCH or not len(batch.checkout_t_out) == len(batch.checkout_person_refs) == n:
            raise Invalid(f"batch {batch.batch_id}: checkout_stay_ids, checkout_person_refs and checkout_t_out must have one value per row, 1 to {MAX_BATCH:,}")
        t_out = np.array(batch.checkout_t_out, dtype=np.int64)
        try:
            self.state.check_times(t_out, "checkout_t_out")
            stay_ids = [int(s) for s in batch.checkout_stay_ids]
            person_ids = self.state.people.ids_of_refs(batch.checkout_person_refs, "checkout_person_refs")
            row = self._first_not_theirs(stay_ids, person_ids)
            if row is not None:
                raise NotFound(f"batch {batch.batch_id}: checkout_stay_ids[{row}]: no stay {stay_ids[row]} of the person in checkout_person_refs[{row}]")
            # Under their people's locks until those open are forgotten, as a
            # single check-out (a check-in meanwhile must not close them again).
            with self.state.people_locked(person_ids):
                self.state.engine.set_checkout(np.array(stay_ids, dtype=np.uint64), t_out)
                for stay_id, person_id in zip(stay_ids, person_ids, strict=True):
                    self.state.forget_open(person_id, stay_id)
        except UnknownStayError as e:  # before its base class, InvalidInputError
            raise NotFound(f"batch {batch.batch_id}: {e}") from None
        except (Invalid, InvalidInputError) as e:
            raise Invalid(f"batch {batch.batch_id}: {e}") from None
        return pb.IngestAck(batch_id=batch.batch_id, checked_out=n)

    def IssuePersonalCode(self, request, context):  # noqa: N802, ANN001
        valid = request.valid_seconds or 30 * 86_400
        if not 0 < valid <= 366 * 86_400:
            raise Invalid("valid_seconds must be from 1 second to 366 days")
        person_id, _ = self.state.people.of_ref(request.person)
        expires_at = int(time.time()) + valid
        payload = self.state.codes.personal_code(person_id, expires_at)
        return pb.PersonalCode(payload=payload, expires_at=expires_at, svg=codes.svg(payload), png=codes.png(payload))


