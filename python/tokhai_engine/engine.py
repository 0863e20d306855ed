"""The engine's Python face: public signatures, input checks, typed results."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _convert as convert
from . import _engine
from .results import ContactPairs, Contacts, Sites, Stays, Trace


class Engine:
    """An in-memory index of check-in stays answering contact-tracing queries.

    A stay is a person at a venue during ``[t_in, t_out)``, in seconds since
    the Unix epoch. Every call releases the GIL: queries may run from many
    threads while batches are added. See ``docs/semantics.md`` for the exact
    meaning of each query.
    """

    __slots__ = ("_core",)

    def __init__(self) -> None:
        self._core = _engine.Engine()

    def __len__(self) -> int:
        """Number of stays held."""
        return len(self._core)

    def __repr__(self) -> str:
        return f"<tokhai_engine.Engine: {len(self)} stays, {self.memory_bytes()} bytes>"

    def memory_bytes(self) -> int:
        """Bytes held by the index (both orders, all partitions)."""
        return self._core.memory_bytes()

    def add_stays(self, persons: ArrayLike, venues: ArrayLike, t_in: ArrayLike, t_out: ArrayLike) -> NDArray[np.uint64]:
        """Store a batch of stays; return their stay ids, one per row.

        A batch with any bad row (lengths differ, ``t_out <= t_in``, a time
        outside 2000..2100, a negative id) raises and stores nothing.
        """
        return self._core.add_stays(
            convert.ids("persons", persons),
            convert.ids("venues", venues),
            convert.times("t_in", t_in),
            convert.times("t_out", t_out),
        )

    def set_checkout(self, stay_ids: ArrayLike, t_out: ArrayLike | int) -> None:
        """Set the check-out time of stored stays (``t_out`` may be one time for all).

        All or nothing: an unknown id raises ``UnknownStayError`` and a time
        not after the stay's ``t_in`` raises ``InvalidInputError``.
        """
        stay_ids = convert.ids("stay_ids", stay_ids)
        self._core.set_checkout(stay_ids, convert.times("t_out", t_out, len(stay_ids)))

    def expire_before(self, t: int | np.datetime64) -> int:
        """Remove every stay with ``t_in < t``; return how many were removed."""
        return self._core.expire_before(convert.time("t", t))

    def overlaps(self, venue: int, start: int | np.datetime64, end: int | np.datetime64) -> Stays:
        """Who was at ``venue`` during ``[start, end)``: each person's maximal
        presence intervals meeting the window (not clipped), by (person, t_in)."""
        return Stays(*self._core.overlaps(convert.id_("venue", venue), convert.time("start", start), convert.time("end", end)))

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
    ) -> Trace:
        """The cases (hop 0), their contacts (hop 1), contacts of those after
        they were exposed (hop 2), ... up to ``hops``; by (hop, person)."""
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
            )
        )


def _cases(persons: ArrayLike, starts: Any, ends: Any) -> tuple[NDArray[np.uint64], NDArray[np.int64], NDArray[np.int64]]:
    persons = convert.ids("persons", persons)
    return persons, convert.times("starts", starts, len(persons)), convert.times("ends", ends, len(persons))
