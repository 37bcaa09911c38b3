"""Fixtures for every test module: what a test starts is stopped after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred

from tests.support import Services

STOP_TIMEOUT = 30.0
"""Seconds the services of a test have to stop after it."""


@pytest.fixture
def services() -> Iterator[Services]:
    """Starts services for the test, and stops those still running after it."""
    started = Services()
    yield started
    stopping = ensureDeferred(started.stop())
    pytest_twisted.blockon(stopping.addTimeout(STOP_TIMEOUT, reactor))
