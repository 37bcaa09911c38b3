"""The X server the window tests run on (one for the session), and Tk on it for each test."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Iterator

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred

from tests.gui.desktop import Desktops, Xvfb, tk_root
from tests.support import Services


@pytest.fixture(scope="session")
def x_server() -> Iterator[Xvfb]:
    server = Xvfb()
    yield server
    server.stop()


@pytest.fixture
def display(x_server: Xvfb, monkeypatch: pytest.MonkeyPatch) -> str:
    """The X display of the session, as C{DISPLAY} for the test."""
    monkeypatch.setenv("DISPLAY", x_server.display)
    return x_server.display


@pytest.fixture
def root(display: str) -> Iterator[tk.Tk]:
    yield from tk_root(display)


@pytest.fixture
def desktops(root: tk.Tk, services: Services) -> Iterator[Desktops]:
    """Desktop clients for the test; they exit before its servers stop."""
    started = Desktops(root)
    yield started
    pytest_twisted.blockon(ensureDeferred(started.exit()).addTimeout(30, reactor))
