"""What every handler shares: the stores, the keys, and the small caches
that keep a check-in off the database."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

import numpy as np
import sqlalchemy as sa
from google.protobuf.message import Message

from tokhai_engine import Engine, InvalidInputError

from . import db, text
from .alerts import LiveAlerts
from .audit import AuditLog
from .auth import Keys, Principal
from .codes import Codes
from .config import Settings, check_secrets, prepare
from .errors import Exhausted, Invalid, NotFound, ServiceError, Unavailable
from .people import Pseudonyms
from .risk import Risk

M = TypeVar("M", bound=Message)
#: Keeps a call's answer for its retries, in the given transaction (`State.once_stored`).
Keep = Callable[[sa.Connection, Message], None]


@dataclasses.dataclass(frozen=True, slots=True)
class FirstTry(Generic[M]):
    """What a call that stores in the engine knows of an earlier try of the
    same request (`State.once_durable`)."""

    #: An earlier try may have begun and never been answered: it may have
    #: stored its changes in the engine.
    retry: bool
    #: The answer that try noted before changing the engine, if it did.
    noted: M | None
    #: Notes `answer` before the engine is changed (committed at once, the
    #: request marked pending), for a retry to take up: what a call that
    #: cannot find its changes again (a check-out by person and venue) has
    #: to remember.
    note: Callable[[M], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Venue:
    id: int
    name: str
    kind: int
    province: str
    district: str
    ward: str
    dwell_seconds: int
    active: bool
    owner_id: int | None

    @classmethod
    def of(cls, row: sa.Row) -> Venue:
        """The venue of a row of `db.venues`."""
        return cls(row.id, row.name, row.kind, row.province, row.district, row.ward, row.dwell_seconds, row.active, row.owner_id)


@dataclasses.dataclass(slots=True)
class OpenStay:
    stay_id: int
    venue_id: int
    t_in: int
    until: int


#: Locks of each kind: calls take turns only when their keys share one.
LOCKS = 1024


def _person_slot(person_id: int) -> int:
    # A person id is a keyed hash already: its low bits are spread.
    return person_id % LOCKS


# Statements on every retried-call path, built once: building one costs
# more than running it.
_KEPT_ANSWER = sa.select(db.requests.c.method, db.requests.c.request_digest, db.requests.c.response, db.requests.c.pending).where(
    db.requests.c.principal_id == sa.bindparam("principal"), db.requests.c.request_id == sa.bindparam("request")
)
_KEEP_ANSWER = db.requests.insert()
_THE_REQUEST = (db.requests.c.principal_id == sa.bindparam("principal")) & (db.requests.c.request_id == sa.bindparam("request"))
_ANSWER_PENDING = db.requests.update().where(_THE_REQUEST).values(response=sa.bindparam("answer"), pending=None)
_NOTE_PENDING = db.requests.update().where(_THE_REQUEST).values(response=sa.bindparam("answer"))
_FORGET_PENDING = db.requests.delete().where(_THE_REQUEST & (db.requests.c.pending == sa.true()))
# What a Venue holds, not the whole row: a third of the time for a
# trace's sites.
_VENUES = sa.select(*(db.venues.c[f.name] for f in dataclasses.fields(Venue)))


def _replay(answer: M, replayed: Callable[[M], None] | None) -> M:
    """A kept answer, given again (after `replayed(answer)`)."""
    if replayed is not None:
        replayed(answer)
    return answer


def _insert_answer(conn: sa.Connection, principal: Principal, asked: Asked, method: str, response: bytes, *, pending: bool | None = None) -> None:
    """Keeps a request's answer (or, `pending`, its mark) for its retries."""
    conn.execute(
        _KEEP_ANSWER,
        {
            "principal_id": principal.id,
            "request_id": asked.id,
            "request_digest": asked.digest,
            "method": method,
            "response": response,
            "pending": pending,
            "created_at": int(time.time()),
        },
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Asked:
    """A request with a request id: the id, and a digest of the whole
    request, which a retry must match."""

    id: str
    digest: bytes
    #: The request as digested.
    asked: bytes

    def is_of(self, kept: bytes | None) -> bool:
        """Whether `kept`, the digest kept with an answer, is this
        request's. (None in rows kept before digests were; a plain BLAKE2b
        in those kept before they were keyed, for their two days.)"""
        return kept is None or kept == self.digest or kept == hashlib.blake2b(self.asked, digest_size=16).digest()

    @staticmethod
    def of(request: Message, key: bytes) -> Asked | None:
        """None for a request without an id (nothing kept). The digest is
        keyed: the request holds the person's phone or citizen id in clear,
        and everything else in it may be read back from the database, so
        that a plain hash would give the number away to a search of the
        numbers there are."""
        request_id = request.request_id  # type: ignore[attr-defined]
        if not request_id:
            return None
        if len(request_id) > 128:
            raise Invalid("request_id is longer than 128 characters")
        text.plain(request_id, "request_id")
        asked = request.SerializeToString(deterministic=True)
        return Asked(request_id, hashlib.blake2b(asked, digest_size=16, key=key).digest(), asked)


class State:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        secrets, self.first_start = prepare(settings.data_dir)
        self.db = db.connect(settings.url)
        try:
            check_secrets(self.db, secrets)
            self.engine = Engine.open(settings.data_dir / "stays", checkpoint_bytes=settings.checkpoint_bytes)
        except BaseException:
            self.db.dispose()  # a store in use, say: nothing left open
            raise
        self.keys = Keys(self.db)
        self.codes = Codes(self.db, secrets.master_key)
        self.people = Pseudonyms(secrets.pseudonym_key)
        #: Orders the parts of an area withheld beside its small counts
        #: (reports): secret, and the same after a restart.
        self.withhold_key = hmac.digest(secrets.pseudonym_key, b"tokhai reports: parts withheld", "sha256")
        #: Keys the digests of requests kept for their retries (`Asked`).
        self.request_key = hmac.digest(secrets.pseudonym_key, b"tokhai requests: digests", "sha256")
        self.audit = AuditLog(self.db)
        self._venues: dict[int, Venue] = {}
        self.live_alerts = LiveAlerts(self.db, int(time.time()))
        # One pool per kind of key: a call holds a request's lock while it
        # takes a person's, and one pool could hand it the same lock twice.
        self._locks = {kind: [threading.Lock() for _ in range(LOCKS)] for kind in ("request", "person", "venue")}
        self.open_stays = self._open_stays(int(time.time()))
        self.risk = Risk(self.db, int(time.time()))
        #: Database reads a call makes while it works on something else.
        self.lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tokhai-lookup")

    def close(self) -> None:
        self.lookups.shutdown()
        try:
            self.engine.close()
        finally:
            self.db.dispose()

    def lock(self, kind: str, *key: object) -> threading.Lock:
        """One of a fixed set of locks of `kind` ("request", "person" or
        "venue"), by key: calls about one person (one venue, one request id)
        take turns, others run side by side."""
        return self._locks[kind][self._slot(kind, key)]

    def _slot(self, kind: str, key: tuple) -> int:
        if kind == "person":
            return _person_slot(key[0])
        if kind == "venue":
            return key[0] % LOCKS
        return zlib.crc32(repr(key).encode()) % LOCKS

    # --- times -------------------------------------------------------------

    def check_time(self, t: int, what: str, now: int | None = None) -> None:
        now = int(time.time()) if now is None else now
        if t > now + self.settings.max_future_seconds:
            raise Invalid(f"{what} {t} is {t - now} s ahead of the server's clock (at most {self.settings.max_future_seconds} s)")
        oldest = now - self.settings.retention_days * 86_400
        if t < oldest:
            raise Invalid(f"{what} {t} is older than the {self.settings.retention_days}-day retention period")

    def check_times(self, t: np.ndarray, what: str) -> None:
        now = int(time.time())
        bad = (t > now + self.settings.max_future_seconds) | (t < now - self.settings.retention_days * 86_400)
        if bad.any():
            row = int(np.argmax(bad))
            try:
                self.check_time(int(t[row]), f"{what}[{row}]", now)
            except Invalid as e:
                raise Invalid(str(e)) from None

    # --- venues ------------------------------------------------------------

    def venue(self, venue_id: int) -> Venue:
        hit = self._venues.get(venue_id)
        return hit if hit is not None else self.venues([venue_id])[venue_id]

    def venues(self, venue_ids: list[int]) -> dict[int, Venue]:
        """``venue`` for many ids: those not held yet are read in a few queries, not one each."""
        missing = sorted({v for v in venue_ids if v not in self._venues and v < 1 << 63})
        for lo in range(0, len(missing), 1_000):  # well under any database's parameter limit
            with self.db.connect() as conn:
                for row in conn.execute(_VENUES.where(db.venues.c.id.in_(missing[lo : lo + 1_000]))):
                    self.cache_venue(row, read=True)
        try:
            return {v: self._venues[v] for v in venue_ids}
        except KeyError as e:
            raise NotFound(f"no venue {e.args[0]}") from None

    def cache_venue(self, row: sa.Row, *, read: bool = False) -> Venue:
        """Holds the venue of `row`: one just written, or (`read`) one just
        read, which never replaces what a write put here meanwhile (a read
        from before a deactivation must not bring the venue back)."""
        venue = Venue.of(row)
        if read:
            return self._venues.setdefault(venue.id, venue)
        self._venues[venue.id] = venue
        return venue

    # --- open stays --------------------------------------------------------

    def _open_stays(self, now: int) -> dict[int, OpenStay]:
        """Each person's latest stay that has not ended, rebuilt from the
        engine on start: a stay's provisional end is at most a day ahead."""
        stays = self.engine.stays_between(now - 86_400, now + self.settings.max_future_seconds + 1)
        open_: dict[int, OpenStay] = {}
        live = stays.t_out > now
        order = np.argsort(stays.t_in[live], kind="stable")
        for sid, p, v, a, b in zip(*(c[live][order].tolist() for c in (stays.stay_id, stays.person, stays.venue, stays.t_in, stays.t_out)), strict=True):
            open_[p] = OpenStay(sid, v, a, b)
        return open_

    def set_open(self, person_id: int, stay: OpenStay) -> None:
        """Call holding the person's lock."""
        self.open_stays[person_id] = stay

    def note_open(self, stays: tuple[np.ndarray, ...], now: int) -> None:
        """Stays just ingested, as columns (person, stay id, venue, t_in,
        t_out): each person's latest still open at `now` becomes their open
        stay where it began no earlier than the one held, as a restart
        rebuilds them from the store (`_open_stays`). Ingest closes nothing:
        app backends forward their check-outs."""
        person, stay_id, venue, t_in, t_out = (c[stays[4] > now] for c in stays)
        if not len(person):
            return
        # By person, then t_in, the later row last on ties: each person's last row.
        order = np.lexsort((t_in, person))
        last = order[np.r_[person[order][1:] != person[order][:-1], True]]
        picked = [c[last].tolist() for c in (person, stay_id, venue, t_in, t_out)]
        with self.people_locked(picked[0]):
            for p, s, v, a, b in zip(*picked, strict=True):
                held = self.open_stays.get(p)
                if held is None or held.until <= now or a >= held.t_in:
                    self.set_open(p, OpenStay(s, v, a, b))

    def forget_open(self, person_id: int, stay_id: int) -> None:
        """Call holding the person's lock: their open stay is no longer open
        if it is `stay_id` (checked out)."""
        open_ = self.open_stays.get(person_id)
        if open_ is not None and open_.stay_id == stay_id:
            del self.open_stays[person_id]

    def open_stay(self, person_id: int, now: int) -> OpenStay | None:
        """Call holding the person's lock: their stay still open at `now`
        (before its provisional end)."""
        open_ = self.open_stays.get(person_id)
        if open_ is not None and open_.until <= now:
            self.forget_open(person_id, open_.stay_id)
            return None
        return open_

    def forget_ended(self, now: int) -> int:
        """Forgets the open stays whose provisional end has passed; returns
        how many. Those held are the stays people are in now, not everyone's
        latest."""
        ended = [(p, o.stay_id) for p, o in list(self.open_stays.items()) if o.until <= now]
        for person_id, stay_id in ended:
            with self.lock("person", person_id):
                open_ = self.open_stays.get(person_id)
                if open_ is not None and open_.stay_id == stay_id and open_.until <= now:
                    self.forget_open(person_id, stay_id)
        return len(ended)

    @contextlib.contextmanager
    def people_locked(self, person_ids: Iterable[int]) -> Iterator[None]:
        """The locks of all of `person_ids`, taken in one order (that of the
        pool), so that two callers never wait for each other."""
        pool = self._locks["person"]
        with contextlib.ExitStack() as stack:
            for slot in sorted(set(map(_person_slot, person_ids))):
                stack.enter_context(pool[slot])
            yield

    # --- retries -----------------------------------------------------------

    def once(self, principal: Principal, request: Message, method: str, kind: type[M], compute: Callable[[], M], replayed: Callable[[M], None] | None = None) -> M:
        """`compute()`, or the answer it gave the first time this principal
        sent `request` with its request id (after `replayed(answer)`); the
        same id with another request is refused. For calls whose changes
        a second run repeats harmlessly, answering alike (a batch of
        check-outs sets the same times again); others
        take `once_stored`, or `once_durable` where they change the engine."""
        return self.once_stored(principal, request, method, kind, lambda keep: compute(), replayed)

    def once_stored(
        self, principal: Principal, request: Message, method: str, kind: type[M], compute: Callable[[Keep], M], replayed: Callable[[M], None] | None = None
    ) -> M:
        """`once` for calls whose changes are in the database: `compute(keep)`
        calls `keep(conn, answer)` in the transaction that stores them, so
        that they and the answer kept for retries commit together. (Kept
        apart, a failure between the two commits had a retry store it all
        again: a second quarantine order that nobody knew of.) An answer
        `compute` did not keep (it stored nothing) is kept after it.
        `replayed(answer)` is called before a kept answer is given again."""
        asked = Asked.of(request, self.request_key)
        if asked is None:
            return compute(lambda conn, response: None)
        with self.lock("request", principal.id, asked.id):
            row = self._kept(principal, asked, method)
            if row is not None and row.pending:
                # Marked by `once_durable` (a batch of check-ins), never answered.
                raise Invalid(f"request_id {asked.id!r} is that of a batch of check-ins not answered yet: send that batch again, or use another id")
            if row is not None:
                return _replay(kind.FromString(row.response), replayed)
            kept = False

            def keep(conn: sa.Connection, response: Message) -> None:
                nonlocal kept
                _insert_answer(conn, principal, asked, method, response.SerializeToString())
                kept = True

            response = compute(keep)
            if not kept:
                with self.db.begin() as conn:
                    keep(conn, response)
            return response

    def once_durable(
        self,
        principal: Principal,
        request: Message,
        method: str,
        kind: type[M],
        compute: Callable[[Keep, FirstTry[M]], M],
        replayed: Callable[[M], None] | None = None,
        *,
        mark: bool = False,
    ) -> M:
        """`once_stored` for calls that store in the engine, whose changes
        there cannot commit with their answer. A call with no answer kept
        may be the retry of a first try that stored its changes there before
        the rest was lost (a crash, a database that refused it): `compute` is
        told so in its `FirstTry`, and takes them up rather than store them
        again. A call that can look its changes up cheaply (a check-in, by
        person, venue and time) looks; one that cannot notes its answer
        before it changes the engine (`FirstTry.note`); with `mark`, the
        request is marked pending first, and only a retry that finds the
        mark looks (a batch of 10,000 check-ins: one commit, not 10,000
        lookups). A first try refused stored nothing: its mark or note is
        removed. (A retry refused keeps it: its first try may have stored
        something.)"""
        asked = Asked.of(request, self.request_key)
        if asked is None:
            return compute(lambda conn, response: None, FirstTry(retry=False, noted=None, note=lambda response: None))
        key = {"principal": principal.id, "request": asked.id}
        with self.lock("request", principal.id, asked.id):
            row = self._kept(principal, asked, method)
            if row is not None and not row.pending:
                return _replay(kind.FromString(row.response), replayed)
            pending = row is not None
            created = False

            def pend(response: bytes) -> None:
                nonlocal pending, created
                with self.db.begin() as conn:
                    if pending:
                        conn.execute(_NOTE_PENDING, {**key, "answer": response})
                    else:
                        _insert_answer(conn, principal, asked, method, response, pending=True)
                created = created or not pending
                pending = True

            if mark and not pending:
                pend(b"")
            kept = False

            def keep(conn: sa.Connection, response: Message) -> None:
                nonlocal kept
                answer = response.SerializeToString()
                if pending:
                    conn.execute(_ANSWER_PENDING, {**key, "answer": answer})
                else:
                    _insert_answer(conn, principal, asked, method, answer)
                kept = True

            noted = kind.FromString(row.response) if row is not None and row.response else None
            first = FirstTry(retry=row is not None or not mark, noted=noted, note=lambda response: pend(response.SerializeToString()))
            try:
                response = compute(keep, first)
            except (ServiceError, InvalidInputError) as e:
                # Refused before it changed anything: only a first try knows
                # that no earlier one stored something, and frees the id.
                if created and not isinstance(e, Unavailable | Exhausted):
                    with self.db.begin() as conn:
                        conn.execute(_FORGET_PENDING, key)
                raise
            if not kept:
                with self.db.begin() as conn:
                    keep(conn, response)
            return response

    def _kept(self, principal: Principal, asked: Asked, method: str) -> sa.Row | None:
        """What is kept for a request id (answer, or the mark of a call under
        way); a request id is for one request. (Reused for another, a kept
        answer went to it: a declaration of one person answered with the
        advice of another, unstored.)"""
        with self.db.connect() as conn:
            row = conn.execute(_KEPT_ANSWER, {"principal": principal.id, "request": asked.id}).first()
        if row is not None and row.method != method:
            raise Invalid(f"request_id {asked.id!r} was already used for {row.method}")
        if row is not None and not asked.is_of(row.request_digest):
            raise Invalid(f"request_id {asked.id!r} was already used for another {method} request: a new request needs a new id")
        return row
