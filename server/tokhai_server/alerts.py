"""The live exposure alerts' windows, by venue: every check-in's entry
advice asks whether one meets the person's stays."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import sqlalchemy as sa

from . import db

#: An alert as the index holds it: (start, end, expires_at, id).
Window = tuple[int, int, int, int]


class LiveAlerts:
    """Each venue's alerts neither retracted nor expired, in memory.

    Alerts change only through this server (PublishAlerts, RetractAlert,
    and retention, which deletes those expired or retracted, and those whose
    window is past the retention period), and it keeps the index up
    to date as it changes them: the database is read once, at start. A
    reload every few seconds, as before, took 5.4 s at a million alerts,
    and a national day of cases publishes hundreds of thousands.

    Readers take a venue's tuple, which is replaced, never changed, so they
    need no lock. Writers take turns, each holding `changing()` from its
    change in the database to the index's."""

    def __init__(self, database: sa.Engine, now: int) -> None:
        a = db.alerts.c
        live = a.retracted_at.is_(None) & (a.expires_at > now)
        by_venue: dict[int, list[Window]] = {}
        with database.connect() as conn:
            for venue, *window in conn.execute(sa.select(a.venue_id, a.start, a.end, a.expires_at, a.id).where(live).order_by(a.id)):
                by_venue.setdefault(venue, []).append(tuple(window))
        self._at: dict[int, tuple[Window, ...]] = {venue: tuple(windows) for venue, windows in by_venue.items()}
        # The latest expiry held: once it has passed, no alert is live,
        # whether or not retention has pruned them yet.
        self._last_expiry = max((w[2] for windows in by_venue.values() for w in windows), default=0)
        # Reentrant: a writer holds it across its transaction and the
        # index's change, which takes it again.
        self._writing = threading.RLock()

    def any_live(self, now: int) -> bool:
        """Whether an alert may be live at `now` (a check-in with none to
        meet need not look up the person's sites)."""
        return bool(self._at) and self._last_expiry > now

    def at(self, venue: int, now: int) -> list[Window]:
        """The venue's alerts live at `now`, by id."""
        return [w for w in self._at.get(venue, ()) if w[2] > now]

    def changing(self) -> threading.RLock:
        """Held from a change in the database to the index's: a retraction
        of an alert still being published would find it not yet here, and
        the publish then add it back."""
        return self._writing

    def published(self, rows: Iterable[sa.Row]) -> None:
        """Adds alerts just stored (rows of `db.alerts`, by id)."""
        by_venue: dict[int, list[Window]] = {}
        for r in rows:
            by_venue.setdefault(r.venue_id, []).append((r.start, r.end, r.expires_at, r.id))
        with self._writing:
            for venue, windows in by_venue.items():
                self._at[venue] = (*self._at.get(venue, ()), *windows)
                self._last_expiry = max(self._last_expiry, *(w[2] for w in windows))

    def retracted(self, venue: int, alert_id: int) -> None:
        with self._writing:
            self._keep(venue, lambda w: w[3] != alert_id)

    def prune(self, now: int, before: int) -> None:
        """Lets go of the alerts expired by `now`, and of those whose
        window ended before `before` (retention deletes them)."""
        with self._writing:
            for venue in list(self._at):
                self._keep(venue, lambda w: w[2] > now and w[1] >= before)

    def _keep(self, venue: int, keep) -> None:  # noqa: ANN001 - a test of a Window
        windows = self._at.get(venue, ())
        kept = tuple(w for w in windows if keep(w))
        if not kept:
            self._at.pop(venue, None)
        elif len(kept) < len(windows):
            self._at[venue] = kept
