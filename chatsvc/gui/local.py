"""
C{chatsvc-gui --local}: the whole chat in one process. The server is the one
C{twistd chat} makes (L{chatsvc.service.tap}'s options and C{makeService}),
with the line protocol, the web frontend and IRC on free ports of 127.0.0.1
and its history in the user's data directory; the window signs on to it
over its WebSocket, and shows how others join.

test-case-name: tests.gui.test_local
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
from twisted.internet.defer import Deferred

from chatsvc.gui.client import ServerAddress
from chatsvc.service.startup import StartupError
from chatsvc.service.tap import ChatService, Options, makeService

LOCAL = "tcp:0:interface=127.0.0.1"
"""Where each frontend listens: a free port of the loopback interface."""

HOST = "127.0.0.1"


@attrs.frozen
class LocalPorts:
    """The ports the local server listens on, one per frontend."""

    line: int
    irc: int
    web: int

    @property
    def address(self) -> ServerAddress:
        """Its WebSocket, for the window."""
        return ServerAddress(HOST, self.web)

    def how_to_join(self) -> list[str]:
        """What the window shows: how others join, on each wire."""
        return [
            f"Others join with: nc {HOST} {self.line}",
            f"in a browser: http://{HOST}:{self.web}/",
            f"over IRC: server {HOST}, port {self.irc}",
        ]


class LocalServer:
    """The chat server of C{--local}: started in this process, stopped with the window."""

    def __init__(self, reactor: Any, directory: Path) -> None:
        self.directory = directory
        self._reactor = reactor
        self.service: ChatService | None = None

    def options(self) -> Options:
        """The command line C{twistd chat} would be given for it."""
        options = Options()
        options.parseOptions(
            [
                *("--port", LOCAL, "--web", LOCAL, "--irc", LOCAL),
                *("--db", str(self.directory / "history.sqlite")),
                *("--files-dir", str(self.directory / "files")),
            ]
        )
        return options

    def start(self) -> LocalPorts:
        """
        Start it and say where it listens; L{chatsvc.service.startup.StartupError}
        (saying why) if it cannot start.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StartupError(f"{self.directory}: {e.strerror or e}") from None
        service = makeService(self.options(), self._reactor)
        assert isinstance(service, ChatService)
        try:
            service.privilegedStartService()
            service.startService()
        except StartupError:
            # Started as root, the history opens after the ports are bound: let them go.
            service.let_go()
            raise
        self.service = service
        # In the order makeService adds the listeners: line, IRC, then the web.
        line, irc, web = (port.getHost().port for port in service.ports)  # type: ignore[attr-defined]
        return LocalPorts(line, irc, web)

    def stop(self) -> Deferred[None]:
        """Say goodbye to everyone, stop listening, write out the history."""
        service, self.service = self.service, None
        if service is None or not service.running:
            done: Deferred[None] = Deferred()
            done.callback(None)
            return done
        stopped: Deferred[None] = service.stopService()
        return stopped
