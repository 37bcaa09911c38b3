"""The X server the window tests run on (one for the session), and Tk on it for each test."""

from __future__ import annotations

import gc
import tkinter as tk
from collections.abc import Generator, Iterator

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred

from tests.gui.desktop import Desktops, Xvfb, tk_root
from tests.support import Services


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    """
    Once a test here is over and pytest has let go of its fixtures, free its
    windows' Tk variables now, in the main thread: left to a later
    collection, one may run in a history store's thread, where Tk refuses
    to be called ("main thread is not in main loop").
    """
    yield
    gc.collect()


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
