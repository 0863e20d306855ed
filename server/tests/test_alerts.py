"""The live alerts' index against a brute-force oracle: every alert ever
stored, less the retracted, the expired and those retention deleted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tokhai_server import db
from tokhai_server.alerts import LiveAlerts

VENUES = range(1, 5)
# (venue, start, end, expires_at): few venues and times, so that alerts share them.
alert = st.tuples(st.sampled_from(VENUES), st.integers(0, 20), st.integers(1, 20), st.integers(1, 30))
step = st.one_of(
    st.tuples(st.just("publish"), st.lists(alert, min_size=1, max_size=6)),
    st.tuples(st.just("retract"), st.integers(0, 40)),
    st.tuples(st.just("prune"), st.tuples(st.integers(0, 30), st.integers(0, 25))),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(step, max_size=25), st.integers(0, 30))
def test_the_index_holds_the_live_alerts(tmp_path_factory, steps, now):
    database = db.connect(f"sqlite:///{tmp_path_factory.mktemp('alerts')}/a.db")
    alerts, stored, retracted, published = LiveAlerts(database, 0), [], set(), []
    for kind, arg in steps:
        if kind == "publish":
            rows = [dict(venue_id=v, start=s, end=s + d, level=1, message="", published_by=1, published_at=0, expires_at=x) for v, s, d, x in arg]
            with database.begin() as conn:
                made = conn.execute(db.alerts.insert().returning(*db.alerts.c, sort_by_parameter_order=True), rows).all()
            alerts.published(made)
            stored.extend(made)
            published.extend(made)
        elif kind == "retract" and stored:
            row = stored[arg % len(stored)]
            with database.begin() as conn:
                conn.execute(db.alerts.update().where(db.alerts.c.id == row.id).values(retracted_at=1))
            alerts.retracted(row.venue_id, row.id)
            retracted.add(row.id)
        elif kind == "prune":
            # As retention does: the alerts whose window ended before the
            # period go from the database too.
            expired_by, before = arg
            with database.begin() as conn:
                gone = set(conn.execute(db.alerts.delete().where(db.alerts.c.end < before).returning(db.alerts.c.id)).scalars())
            # Gone from the oracle too (SQLite may give a later alert the id again).
            stored = [r for r in stored if r.id not in gone]
            retracted -= gone
            alerts.prune(expired_by, before)
            now = max(now, expired_by)  # pruned alerts are only those expired by then
    loaded = LiveAlerts(database, now)  # as a restart finds them
    for venue in VENUES:
        want = [(r.start, r.end, r.expires_at, r.id) for r in stored if r.venue_id == venue and r.id not in retracted and r.expires_at > now]
        assert alerts.at(venue, now) == want
        assert loaded.at(venue, now) == want
    assert alerts.any_live(now) or not any(r.id not in retracted and r.expires_at > now for r in stored), "never none while one is live"
    if all(r.expires_at <= now for r in published):
        assert not alerts.any_live(now), "none once the last has expired, pruned or not"
    database.dispose()

