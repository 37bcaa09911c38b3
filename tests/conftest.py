"""
Fixtures for every test module: what a test starts is stopped after it; and
the whole suite runs in a time zone far from UTC, so that a time shown in
local time where UTC is meant (history stamps, topics) fails a test even on a
machine that keeps UTC.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred

from tests import servers, system
from tests.support import Services

STOP_TIMEOUT = 30.0
"""Seconds the services of a test have to stop after it."""

FAR_FROM_UTC = "CHATSVC-13:45"
"""
A POSIX time zone 13 hours 45 minutes ahead of UTC (the sign is west of
Greenwich), with no daylight saving: no time zone database is needed, and
local times differ from UTC in the date, the hour and the minute.
"""


def pytest_sessionstart(session: pytest.Session) -> None:
    """Install the Debian packages of the programs some tests run (L{tests.system})."""
    session.config.stash[SYSTEM_PACKAGES] = system.install_missing()


SYSTEM_PACKAGES = pytest.StashKey[str | None]()


@pytest.fixture
def system_packages(request: pytest.FixtureRequest) -> str | None:
    """Why the programs of L{tests.system} are not all installed, or L{None} if they are."""
    return request.config.stash[SYSTEM_PACKAGES]


@pytest.fixture
def services() -> Iterator[Services]:
    """Starts services for the test, and stops those still running after it."""
    started = Services()
    yield started
    stopping = ensureDeferred(started.stop())
    pytest_twisted.blockon(stopping.addTimeout(STOP_TIMEOUT, reactor))


@pytest.fixture(autouse=True, scope="session")
def far_from_utc() -> Iterator[None]:
    """Set C{TZ} for the session (child processes inherit it), and put it back after."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = FAR_FROM_UTC
    time.tzset()
    assert time.localtime(0).tm_min == 45, "the time zone was not taken"
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture
def redis() -> Iterator[servers.RedisServer]:
    """A Redis server of the test's own (L{tests.servers}), empty."""
    with servers.redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[servers.PostgresServer]:
    """A PostgreSQL server for the session (L{tests.servers})."""
    with servers.postgres_server() as server:
        yield server


@pytest.fixture
def postgresql(postgres_server: servers.PostgresServer) -> str:
    """The URL of a new, empty PostgreSQL database of the test's own."""
    return postgres_server.new_database()
