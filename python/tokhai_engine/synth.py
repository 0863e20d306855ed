"""Synthetic check-ins for tests and benchmarks, deterministic by seed.

The model (all parameters of :func:`generate`):

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

import numpy as np
from numpy.typing import NDArray

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
    """``n_stays`` synthetic stays over ``days`` days from ``start``, in random order."""
    if n_stays < 0 or days < 1:
        raise ValueError("n_stays must be >= 0 and days >= 1")
    if not (0 <= forgotten <= 1 and 0 <= duplicates <= 1 and zipf >= 0 and mega >= 1):
        raise ValueError("forgotten and duplicates are fractions; zipf is >= 0; mega is >= 1")
    people = people or max(1, n_stays // (2 * days))
    venues = venues or max(1, people // 100)
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
