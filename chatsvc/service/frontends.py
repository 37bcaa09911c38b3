"""
The frontends C{twistd chat} serves, by name: the one place a new wire is
registered, for L{chatsvc.service.tap.makeService} to give it listeners.

test-case-name: tests.service.test_tap
"""

from __future__ import annotations

from collections.abc import Mapping

from chatsvc.frontends.irc.server import IrcConnection
from chatsvc.frontends.line.server import ChatServerProtocol
from chatsvc.streams.connection import StreamConnection

FRONTENDS: Mapping[str, type[StreamConnection]] = {
    "line": ChatServerProtocol,  # --port and --listen
    "irc": IrcConnection,  # --irc
}
"""Each frontend's connection class: its framing and its renderer, over the session core."""
