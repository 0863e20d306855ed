"""Fixtures: a real service on a loopback port, on SQLite and on PostgreSQL.

PostgreSQL runs when TOKHAI_TEST_DATABASE_URL names a database the tests may
wipe (`.ci/run` starts one); CI without it fails rather than skip.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from harness import start  # noqa: E402

from tokhai_server import db  # noqa: E402

PG_URL = os.environ.get("TOKHAI_TEST_DATABASE_URL")


def _databases():
    if PG_URL:
        return ["sqlite", "postgresql"]
    if os.environ.get("CI"):
        raise RuntimeError("CI must test PostgreSQL too: set TOKHAI_TEST_DATABASE_URL")
    return ["sqlite", pytest.param("postgresql", marks=pytest.mark.skip(reason="TOKHAI_TEST_DATABASE_URL not set"))]


@pytest.fixture(params=_databases())
def database_url(request) -> str | None:
    if request.param == "sqlite":
        return None
    engine = sa.create_engine(PG_URL)
    db.metadata.drop_all(engine)  # a clean database for every test
    engine.dispose()
    return PG_URL


@pytest.fixture
def service(tmp_path, database_url):
    running = start(tmp_path / "data", database_url)
    yield running
    running.channel.close()
    running.server.stop(grace=1)


@pytest.fixture
def now() -> int:
    """The time, away from the end of Vietnam's day (UTC+7): a test that
    lists "today" must not see the day turn while it runs."""
    t = int(time.time())
    left = 86_400 - (t + 7 * 3_600) % 86_400
    if left < 300:
        time.sleep(left + 1)
        t = int(time.time())
    return t
