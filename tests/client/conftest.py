"""The fixture of the tests that run the real client against a real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_twisted
from twisted.internet.defer import ensureDeferred

from tests.client.test_client_process import Server


@pytest.fixture
def server() -> Iterator[Server]:
    """A chat server on 127.0.0.1, stopped after the test."""
    server = Server()
    server.start()
    yield server
    pytest_twisted.blockon(ensureDeferred(server.stop()))
