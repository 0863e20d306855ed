"""Query results: named numpy columns (ids uint64, times and seconds int64)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import pyarrow


class _Columns:
    """Equal-length columns, one row per answer."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(getattr(self, dataclasses.fields(self)[0].name))  # type: ignore[arg-type]

    def columns(self) -> dict[str, np.ndarray]:
        """The columns by name, in order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def to_arrow(self) -> pyarrow.Table:
        """The result as a pyarrow table (needs the `arrow` extra); no copy."""
        import pyarrow as pa

        return pa.table(self.columns())


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Stays(_Columns):
    """Who was at a venue: maximal presence intervals, ordered by (person, t_in)."""

    person: NDArray[np.uint64]
    t_in: NDArray[np.int64]
    t_out: NDArray[np.int64]


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Contacts(_Columns):
    """Contacts of one case, ordered by person."""

    person: NDArray[np.uint64]
    exposure: NDArray[np.int64]
    first_contact: NDArray[np.int64]


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class ContactPairs(_Columns):
    """Contacts of many cases, ordered by (case, person)."""

    case: NDArray[np.uint64]
    person: NDArray[np.uint64]
    exposure: NDArray[np.int64]
    first_contact: NDArray[np.int64]


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Sites(_Columns):
    """Where and when each case was present, ordered by (case, venue, start)."""

    case: NDArray[np.uint64]
    venue: NDArray[np.uint64]
    start: NDArray[np.int64]
    end: NDArray[np.int64]


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Present(_Columns):
    """Who was present in each of many windows: ``window`` is the index of
    the window in the query's arguments; ordered by (window, person)."""

    window: NDArray[np.uint64]
    person: NDArray[np.uint64]


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Trace(_Columns):
    """Cases (hop 0) and everyone reached from them, ordered by (hop, person)."""

    person: NDArray[np.uint64]
    hop: NDArray[np.uint32]
    exposed_at: NDArray[np.int64]
    source: NDArray[np.uint64]
    exposure: NDArray[np.int64]


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Checkins(_Columns):
    """Stays as stored, with their ids: ordered by stay id (from
    ``stays_by_id``, in the order asked)."""

    stay_id: NDArray[np.uint64]
    person: NDArray[np.uint64]
    venue: NDArray[np.uint64]
    t_in: NDArray[np.int64]
    t_out: NDArray[np.int64]
