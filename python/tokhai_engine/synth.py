"""Synthetic check-ins for tests and benchmarks, deterministic by seed.

Two models:

- :class:`National`, the country: 63 provinces by population, venues of the
  directive's kinds, people's days of consecutive check-ins. Generated in Rust,
  in chunks, at over ten million stays a second, so a billion stays never
  need a billion-row array at once. Its model is documented on the class and
  in ``docs/benchmarks.md``.
- :func:`generate`, a small region in one array: anyone may meet anyone,
  which makes it the harder case for the queries and the one the tests use.

The model of :func:`generate` (all its parameters):

- ``people`` people and ``venues`` venues (by default one venue per 100
  people, and as many people as make about two check-ins per person per day);
- venue popularity is Zipf-like: the venue of popularity rank ``k`` is chosen
  with weight ``1 / k**zipf``, except that no venue draws more than ``mega``
  times the mean weight: the few mega-venues (markets, hospitals, bus
  stations) see tens of thousands of check-ins a day, not a share of the
  whole country's; ranks are shuffled over venue ids;
- check-in times follow a daily rhythm in Vietnam's local time (UTC+7): quiet
  nights, peaks at the morning commute, lunch and the evening;
- dwell times are log-normal around 30 minutes, from one minute to six hours;
- a fraction ``forgotten`` of stays never checked out and were closed by the
  system 12 to 24 hours later;
- a fraction ``duplicates`` of stays are repeated scans: the same person at the
  same venue a few seconds later, until the same check-out.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from . import _convert as convert
from ._engine import MAX_TIME, MIN_TIME, NationalModel

#: 2021-08-01 00:00 in Vietnam (UTC+7), in seconds since the Unix epoch.
DEFAULT_START = 1_627_750_800
DAY = 86_400

# Relative check-in rate by local hour, 00:00 to 23:00.
_HOURLY = np.array([1, 1, 1, 1, 2, 5, 12, 20, 18, 12, 12, 18, 20, 14, 10, 10, 12, 18, 20, 16, 12, 8, 4, 2], dtype=float)


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Checkins:
    """Four equal-length columns, the arguments of ``Engine.add_stays``."""

    persons: NDArray[np.uint64]
    venues: NDArray[np.uint64]
    t_in: NDArray[np.int64]
    t_out: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.persons)

    def columns(self) -> tuple[NDArray[np.uint64], NDArray[np.uint64], NDArray[np.int64], NDArray[np.int64]]:
        """``(persons, venues, t_in, t_out)``."""
        return self.persons, self.venues, self.t_in, self.t_out


def generate(
    n_stays: int,
    *,
    days: int = 14,
    people: int | None = None,
    venues: int | None = None,
    start: int = DEFAULT_START,
    zipf: float = 0.7,
    mega: float = 50.0,
    forgotten: float = 0.02,
    duplicates: float = 0.01,
    seed: int = 0,
) -> Checkins:
    """``n_stays`` synthetic stays over ``days`` days from ``start``: the
    stays in random order, then the duplicate scans of some of them (so a
    prefix holds none)."""
    n_stays, days, start, seed = (convert.integer(k, v) for k, v in (("n_stays", n_stays), ("days", days), ("start", start), ("seed", seed)))
    people = None if people is None else convert.integer("people", people)
    venues = None if venues is None else convert.integer("venues", venues)
    if n_stays < 0 or days < 1 or seed < 0:
        raise ValueError("n_stays and seed must be >= 0, days >= 1")
    if (people is not None and people < 1) or (venues is not None and venues < 1):
        raise ValueError("people and venues are counts of at least 1 (or None: sized from n_stays)")
    if not (MIN_TIME <= start and start + (days + 1) * DAY <= MAX_TIME):
        raise ValueError(f"the {days} days from start {start} must lie within 2000-01-01..2100-01-01")
    if not (0 <= forgotten <= 1 and 0 <= duplicates < 1 and zipf >= 0 and mega >= 1):
        raise ValueError("forgotten is a fraction, duplicates one below 1; zipf is >= 0; mega is >= 1")
    people = max(1, n_stays // (2 * days)) if people is None else people
    venues = max(1, people // 100) if venues is None else venues
    rng = np.random.default_rng(seed)

    n_dup = int(n_stays * duplicates)
    n = n_stays - n_dup
    weight = 1.0 / np.arange(1, venues + 1) ** zipf
    cap = np.inf
    for _ in range(100):  # the cap is `mega` times the mean of the capped weights: a fixed point
        cap = mega * np.minimum(weight, cap).mean()
    popularity = np.cumsum(np.minimum(weight, cap))
    rank = np.searchsorted(popularity, rng.random(n) * popularity[-1], side="right")
    venue_of_rank = rng.permutation(venues).astype(np.uint64) + 1
    venue = venue_of_rank[np.minimum(rank, venues - 1)]
    person = rng.integers(1, people + 1, size=n, dtype=np.uint64)

    hour = rng.choice(24, size=n, p=_HOURLY / _HOURLY.sum())
    t_in = start + rng.integers(0, days, size=n) * DAY + hour * 3600 + rng.integers(0, 3600, size=n)
    dwell = np.clip(rng.lognormal(np.log(1800), 0.9, size=n), 60, 6 * 3600).astype(np.int64)
    lost = rng.random(n) < forgotten
    dwell[lost] = rng.integers(12 * 3600, 24 * 3600, size=int(lost.sum()))
    t_out = t_in + dwell

    again = rng.integers(0, n, size=n_dup) if n else np.empty(0, dtype=np.int64)
    shift = np.minimum(rng.integers(1, 120, size=n_dup), dwell[again] - 1)
    return Checkins(
        persons=np.concatenate([person, person[again]]),
        venues=np.concatenate([venue, venue[again]]),
        t_in=np.concatenate([t_in, t_in[again] + shift]).astype(np.int64),
        t_out=np.concatenate([t_out, t_out[again]]).astype(np.int64),
    )


_NATIONAL_DUPLICATES = 0.01

#: The directive's venue kinds, numbered as ``VenueKind`` in the protos.
KINDS = ("agency", "hospital", "school", "company", "supermarket", "hotel", "lodging",
         "restaurant", "eatery", "cafe", "public transport", "other")  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class National:
    """Vietnam's check-in traffic, deterministic by seed; the defaults are the
    nation: 100M people, 100M check-ins a day.

    - People (ids ``1..people``) and venues (ids ``1..venues``, one per
      ``people_per_venue`` people) are spread over the 63 provinces by their
      2019 census population, each province a contiguous range of ids.
    - Inside a province, venue popularity is Zipf-like (exponent ``zipf``),
      capped at ``mega`` times the province's mean; the first ranks, one per
      million residents, are its mega-venues (markets, hospitals, bus
      stations). Other venues take the directive's kinds in fixed shares.
    - Each person is active on a day with the probability that makes
      ``checkins_per_day`` check-ins nationally; an active person makes about
      ``per_active`` check-ins one after another (the first at an hour of a
      daily rhythm in Vietnam's time, each next one after a gap), all in their
      own province, except a fraction ``travel`` of person-days spent in a
      province picked by population (their own included).
    - Dwell is log-normal around the median of the venue's kind (25 minutes
      at a supermarket to 8 hours at a hotel); a fraction ``forgotten`` of
      stays were never checked out and closed 12 to 24 hours later (such a
      stay may overlap the person's next day, which a service would have
      closed it at); a fraction ``duplicates`` are scanned twice.

    The data does not depend on how it is cut: every person-day draws from its
    own generator, seeded by (seed, day, person).
    """

    people: int = 100_000_000
    days: int = 14
    checkins_per_day: float = 100e6
    per_active: float = 3.0
    people_per_venue: float = 100.0
    zipf: float = 0.7
    mega: float = 100.0
    travel: float = 0.03
    forgotten: float = 0.02
    duplicates: float = _NATIONAL_DUPLICATES
    start: int = DEFAULT_START
    seed: int = 0
    _model: NationalModel = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        # The model's integers, each named when it is not one or out of reach.
        for name, low, top in (("people", 0, 2**64 - 1), ("days", 0, 2**32 - 1), ("seed", 0, 2**64 - 1), ("start", MIN_TIME, MAX_TIME)):
            fields[name] = convert.integer(name, fields[name])
            if not low <= fields[name] <= top:
                raise ValueError(f"national model: {name} must be from {low:,} to {top:,}, got {fields[name]}")
        object.__setattr__(self, "_model", NationalModel(**fields))

    @classmethod
    def scaled(cls, stays: int, days: int = 14, **overrides) -> National:
        """A region with about ``stays`` stays over ``days`` days, keeping the
        nation's ratio of one check-in a day per inhabitant."""
        if convert.integer("days", days) < 1:
            raise ValueError("days must be at least 1")
        if not 0 <= stays < math.inf:  # NaN too
            raise ValueError(f"stays must be a finite number, zero or more, got {stays}")
        duplicates = overrides.get("duplicates", _NATIONAL_DUPLICATES)
        if not 0 <= duplicates <= 1:  # checked here, before it divides
            raise ValueError(f"national model: duplicates must be a fraction, got {duplicates}")
        per_day = stays / days / (1 + duplicates)
        return cls(people=max(63, round(per_day)), days=days, checkins_per_day=per_day, **overrides)

    @property
    def venues(self) -> int:
        return self._model.venues

    @property
    def expected_stays(self) -> float:
        """The expected number of stays over all days, duplicates included."""
        return self._model.person_days * self._model.stays_per_person_day

    def chunks(self, size: int = 10_000_000, *, days: range | None = None) -> Iterator[Checkins]:
        """The stays of ``days`` (all by default), in chunks of about ``size``
        stays, day by day; each chunk is generated on every core."""
        days = range(self.days) if days is None else days
        if not isinstance(days, range):
            raise TypeError(f"days must be a range, got {type(days).__name__}")
        if days.step != 1 or not 0 <= days.start <= days.stop <= self.days:
            raise ValueError(f"days must be a contiguous range within 0..{self.days}")
        size = convert.positive("size", size)
        step = max(1, int(size / max(self._model.stays_per_person_day, 1e-9)))
        lo, hi = days.start * self.people, days.stop * self.people
        for at in range(lo, hi, step):
            yield Checkins(*self._model.generate(at, min(at + step, hi)))

    def venue_kinds(self) -> NDArray[np.uint8]:
        """Each venue's kind (1-based index into :data:`KINDS`), venue ``v`` at ``v - 1``."""
        return self._model.venue_table()[0]

    def venue_provinces(self) -> NDArray[np.uint8]:
        """Each venue's province (index into :func:`provinces`), venue ``v`` at ``v - 1``."""
        return self._model.venue_table()[1]

    @staticmethod
    def provinces() -> list[tuple[str, int]]:
        """The 63 provinces as ``(official code, 2019 population in thousands)``."""
        return NationalModel.provinces()
