"""The engine's Python face: public signatures, input checks, typed results."""

from __future__ import annotations

import itertools
import os
from types import TracebackType
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _convert as convert
from . import _engine
from .results import Checkins, ContactPairs, Contacts, Present, Sites, Stays, Trace

#: Default log size that triggers a checkpoint (about 8M stays).
CHECKPOINT_BYTES = 256 << 20


class Engine:
    """An index of check-in stays answering contact-tracing queries.

    ``Engine()`` holds the stays in memory; ``Engine.open(path)`` keeps them
    durable in a directory, and answers the same queries with the same
    results. A stay is a person at a venue during ``[t_in, t_out)``, in
    seconds since the Unix epoch. Every call releases the GIL once it has
    read or copied its inputs (with the GIL held: reading a billion rows
    takes seconds; a batch another thread writes to meanwhile is stored
    as checked, or refused): queries may
    run from many threads while batches are added. See ``docs/semantics.md``
    for the exact meaning of each query and ``docs/storage.md`` for the store.
    """

    __slots__ = ("_core", "_path")

    def __init__(self) -> None:
        self._core: Any = _engine.Engine()
        self._path: str | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, checkpoint_bytes: int = CHECKPOINT_BYTES) -> Self:
        """Open the durable engine in directory ``path``, creating it if needed.

        Changes return only once they are on stable storage. Sealed
        partitions are memory-mapped, so reopening is quick; the log written
        since the last checkpoint (at most ``checkpoint_bytes``) is replayed.
        Raises ``StoreLockedError`` while another engine has ``path`` open,
        ``CorruptStoreError`` (naming the file and byte offset) for damaged
        files and ``UnknownFormatError`` for files of another format version.
        """
        checkpoint_bytes = convert.positive("checkpoint_bytes", checkpoint_bytes)
        engine = cls.__new__(cls)
        engine._core = _engine.Engine.open(os.fspath(path), checkpoint_bytes)
        engine._path = os.fspath(path)
        return engine

    @property
    def path(self) -> str | None:
        """The store's directory, or None for an in-memory engine."""
        return self._path

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return isinstance(self._core, _Closed)

    def checkpoint(self) -> None:
        """Seal the partitions changed since the last checkpoint into files and
        empty the log (it happens by itself as the log grows)."""
        self._core.checkpoint()

    def close(self) -> None:
        """Checkpoint a durable engine and release its directory. Any later
        call raises ``ClosedError``. Closing twice is harmless."""
        if not self.closed:
            core, self._core = self._core, _Closed()
            core.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __len__(self) -> int:
        """Number of stays held."""
        return len(self._core)

    def __repr__(self) -> str:
        if self.closed:
            return f"<tokhai_engine.Engine {self._path!r}: closed>"
        where = "in memory" if self._path is None else repr(self._path)
        return f"<tokhai_engine.Engine {where}: {len(self)} stays, {self.memory_bytes()} bytes>"

    def memory_bytes(self) -> int:
        """Bytes held by the index (both orders, all partitions)."""
        return self._core.memory_bytes()

    def add_stays(self, persons: ArrayLike, venues: ArrayLike, t_in: ArrayLike, t_out: ArrayLike) -> NDArray[np.uint64]:
        """Store a batch of stays; return their stay ids, one per row.

        A batch with any bad row (lengths differ, ``t_out <= t_in``, a time
        outside 2000..2100, a negative id) raises and stores nothing.
        """
        return self._add_columns({"persons": persons, "venues": venues, "t_in": t_in, "t_out": t_out})

    def _add_columns(self, given: dict[str, Any]) -> NDArray[np.uint64]:
        """``add_stays`` of the four columns (persons, venues, t_in, t_out,
        in that order), which its errors call by the names they are given."""
        kinds = dict(zip(given, (convert.ids, convert.ids, convert.times, convert.times), strict=True))
        columns, refused = [], []
        for name, values in given.items():
            try:
                columns.append(kinds[name](name, values))
            except (_engine.InvalidInputError, _engine.DtypeError) as e:
                refused.append(e)
        if not refused:
            return self._core.add_stays(*columns)
        # Columns of different lengths are the batch's first problem,
        # before any value in them.
        lengths = {name: _rows(values) for name, values in given.items()}
        first_name = next(iter(given))
        for name, length in lengths.items():
            if length and lengths[first_name] and length != lengths[first_name]:
                raise _engine.InvalidInputError(f"column {name} has {length[0]} values, expected {lengths[first_name][0]} (one per row)") from None
        # A column refused whole (its dtype, its shape) comes next; then the
        # first bad row, which may be before the first value refused here,
        # bad in a way only the engine checks (a time out of range, a
        # check-out not after its check-in, an expired check-in).
        whole = [e for e in refused if getattr(e, "row", None) is None]
        if whole:
            raise whole[0]
        first = min(refused, key=lambda e: e.row)
        self._core.check_stays(*(kinds[name](name, _head(values, first.row)) for name, values in given.items()))
        raise first

    def set_checkout(self, stay_ids: ArrayLike, t_out: ArrayLike | int) -> None:
        """Set the check-out time of stored stays (``t_out`` may be one time for all).

        All or nothing: an unknown id raises ``UnknownStayError`` and a time
        not after the stay's ``t_in`` raises ``InvalidInputError``.
        """
        stay_ids = convert.ids("stay_ids", stay_ids)
        self._core.set_checkout(stay_ids, convert.times("t_out", t_out, len(stay_ids)))

    def expire_before(self, t: int | np.datetime64) -> int:
        """Remove every stay with ``t_in < t``; return how many were removed.
        Stays beginning before ``t`` are refused from then on, so ``t`` may
        not lie past ``MAX_TIME``."""
        t = convert.time("t", t)
        if t > _engine.MAX_TIME:
            raise _engine.InvalidInputError(f"t {t} is after {_engine.MAX_TIME} (2100-01-01), the last time a stay may hold")
        return self._core.expire_before(t)

    def stays_between(self, start: int | np.datetime64, end: int | np.datetime64) -> Checkins:
        """Every stay held with ``t_in`` in ``[start, end)``, with its id, by stay id."""
        return Checkins(*self._core.stays_between(convert.time("start", start), convert.time("end", end)))

    def stays_by_id(self, stay_ids: ArrayLike) -> Checkins:
        """The stays of the given ids, in the order given, as
        ``stays_between`` has them: whose a stay is, before changing it. An
        id not held (never issued, or expired) raises ``UnknownStayError``."""
        return Checkins(*self._core.stays_by_id(convert.ids("stay_ids", stay_ids)))

    def find_stays(self, persons: ArrayLike, venues: ArrayLike, t_in: ArrayLike) -> NDArray[np.uint64]:
        """The id of a stay held for each row's person, venue and ``t_in``,
        or 0 (never an id) where none is; a stay answers one row at most,
        the earliest stored first. Whether a batch whose answer was lost was
        stored, and as what."""
        persons, venues = convert.ids("persons", persons), convert.ids("venues", venues)
        return self._core.find_stays(persons, venues, convert.times("t_in", t_in, len(persons)))

    def export_parquet(self, path: str | os.PathLike[str], start: int | np.datetime64, end: int | np.datetime64) -> int:
        """Write the stays with ``t_in`` in ``[start, end)`` to a Parquet file
        (columns of ``stays_between``), one row group per day (more for a day of
        over 64Mi stays, pyarrow's most); return how many
        were written. Needs the ``arrow`` extra (pyarrow)."""
        from ._parquet import export

        return export(self, path, convert.time("start", start), convert.time("end", end))

    def import_parquet(self, path: str | os.PathLike[str]) -> NDArray[np.uint64]:
        """Add the stays of a Parquet file with ``person``, ``venue``, ``t_in``
        and ``t_out`` columns (as ``export_parquet`` writes) as one batch: all
        or nothing. Return their stay ids, new ones, in file order (the file's
        ``stay_id`` column, if any, is not reused). Needs the ``arrow`` extra."""
        from ._parquet import import_

        return import_(self, path)

    def overlaps(self, venue: int, start: int | np.datetime64, end: int | np.datetime64) -> Stays:
        """Who was at ``venue`` during ``[start, end)``: each person's maximal
        presence intervals meeting the window (not clipped), by (person, t_in)."""
        return Stays(*self._core.overlaps(convert.id_("venue", venue), convert.time("start", start), convert.time("end", end)))

    def present(self, venue: int, start: int | np.datetime64, end: int | np.datetime64) -> NDArray[np.uint64]:
        """The people present at ``venue`` at some instant of ``[start, end)``,
        sorted, each once (the persons of ``overlaps``, found faster)."""
        return self._core.present(convert.id_("venue", venue), convert.time("start", start), convert.time("end", end))

    def present_many(self, venues: ArrayLike, starts: ArrayLike | int, ends: ArrayLike | int) -> Present:
        """``present`` for many (venue, window) pairs at once, using every
        core: the pairs (window, person), by (window, person)."""
        venues = convert.ids("venues", venues)
        return Present(*self._core.present_many(venues, convert.times("starts", starts, len(venues)), convert.times("ends", ends, len(venues))))

    def checkins_per_venue(self, start: int | np.datetime64, end: int | np.datetime64) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
        """``(venues, counts)``: how many stays began in ``[start, end)`` at
        each venue that had any, venues ascending; counted from the index
        without decoding a stay."""
        return self._core.checkins_per_venue(convert.time("start", start), convert.time("end", end))

    def contacts(
        self,
        person: int,
        start: int | np.datetime64,
        end: int | np.datetime64,
        *,
        min_overlap: int = 0,
        linger: int = 0,
    ) -> Contacts:
        """People who shared a venue with ``person`` during ``[start, end)``,
        with seconds of exposure and the first instant of contact, by person."""
        return Contacts(
            *self._core.contacts(
                convert.id_("person", person),
                convert.time("start", start),
                convert.time("end", end),
                convert.seconds("min_overlap", min_overlap),
                convert.seconds("linger", linger),
            )
        )

    def contacts_many(
        self,
        persons: ArrayLike,
        starts: ArrayLike | int,
        ends: ArrayLike | int,
        *,
        min_overlap: int = 0,
        linger: int = 0,
    ) -> ContactPairs:
        """``contacts`` for many cases at once, using every core; by (case, person)."""
        return ContactPairs(
            *self._core.contacts_many(*_cases(persons, starts, ends), convert.seconds("min_overlap", min_overlap), convert.seconds("linger", linger))
        )

    def exposure_sites(self, persons: ArrayLike, starts: ArrayLike | int, ends: ArrayLike | int, *, linger: int = 0) -> Sites:
        """Each case's presence intervals per venue, by (case, venue, start)."""
        return Sites(*self._core.exposure_sites(*_cases(persons, starts, ends), convert.seconds("linger", linger)))

    def trace(
        self,
        persons: ArrayLike,
        starts: ArrayLike | int,
        ends: ArrayLike | int,
        *,
        hops: int = 2,
        min_overlap: int = 900,
        linger: int = 0,
        latency: int = 0,
        until: int | np.datetime64 | None = None,
        cancel: _engine.Cancel | None = None,
    ) -> Trace:
        """The cases (hop 0), their contacts (hop 1), contacts of those after
        they were exposed (hop 2), ... up to ``hops``; by (hop, person).
        Raises ``QueryCancelledError`` soon after ``cancel.set()`` is called
        (from another thread: the caller went away), rather than run on."""
        hops = convert.seconds("hops", hops)
        if hops > 2**32 - 1:
            raise _engine.InvalidInputError(f"hops is {hops}, at most 2**32 - 1")
        return Trace(
            *self._core.trace(
                *_cases(persons, starts, ends),
                hops,
                convert.seconds("min_overlap", min_overlap),
                convert.seconds("linger", linger),
                convert.seconds("latency", latency),
                None if until is None else convert.time("until", until),
                cancel,
            )
        )


class _Closed:
    """Stands in for the native engine after ``close()``."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        raise _engine.ClosedError("the engine is closed")

    def __len__(self) -> int:
        raise _engine.ClosedError("the engine is closed")


def _cases(persons: ArrayLike, starts: Any, ends: Any) -> tuple[NDArray[np.uint64], NDArray[np.int64], NDArray[np.int64]]:
    persons = convert.ids("persons", persons)
    return persons, convert.times("starts", starts, len(persons)), convert.times("ends", ends, len(persons))


def _head(values: Any, n: int) -> Any:
    """The first `n` of `values`: a slice where they take one (an array is
    not copied), else a list (a deque, say)."""
    try:
        return values[:n]
    except TypeError:
        return list(itertools.islice(values, n))


def _rows(column: object) -> tuple[int, ...]:
    """(rows,) of a column given as a sequence or array; () of anything else."""
    if isinstance(column, str | bytes):
        return ()
    try:
        return (len(column),)  # type: ignore[arg-type]
    except TypeError:  # a scalar, a 0-d array, a generator
        return ()
