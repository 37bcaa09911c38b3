"""Shared test doubles: a server connection over StringTransport, and a chat with accounts."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from twisted.cred.checkers import ICredentialsChecker, InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import Portal
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.accounts import Accounts, ChatRealm
from chatsvc.model import Chat
from chatsvc.server import ChatFactory, ChatServerProtocol

PASSWORDS = {"alice": b"secret", "Root": b"t00r", "bob": b"hunter2"}
"""The accounts of L{with_accounts}, and their passwords."""


def scratch_directory(case: SynchronousTestCase) -> Path:
    """A new empty directory, removed after the test (trial's mktemp writes into the cwd)."""
    path = Path(tempfile.mkdtemp(prefix="chatsvc-test-"))
    case.addCleanup(shutil.rmtree, path, ignore_errors=True)
    return path


def make_factory(**kwargs: Any) -> ChatFactory:
    """A chat factory on a fake clock (unless one is given), with default limits."""
    kwargs.setdefault("clock", Clock())
    return ChatFactory(**kwargs)


def with_accounts(
    *,
    guests: bool = True,
    operators: Iterable[str] = (),
    checker: ICredentialsChecker | None = None,
    **kwargs: Any,
) -> ChatFactory:
    """
    A chat factory whose chat has the accounts in L{PASSWORDS} (or those of
    C{checker}), logged in to through a portal, as C{twistd chat --auth} makes.
    """
    if checker is None:
        checker = InMemoryUsernamePasswordDatabaseDontUse(**PASSWORDS)
    accounts = Accounts([checker])
    chat = Chat(accounts=accounts, guests=guests)
    portal = Portal(ChatRealm(operators), [accounts])
    return make_factory(chat=chat, portal=portal, **kwargs)


class Connection:
    """A connection to a L{ChatFactory} over a L{StringTransport}."""

    def __init__(self, factory: ChatFactory, port: int = 40000, host: str = "10.0.0.1") -> None:
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", host, port))
        protocol = factory.buildProtocol(self.transport.getPeer())
        assert isinstance(protocol, ChatServerProtocol)
        self.protocol: ChatServerProtocol = protocol
        protocol.makeConnection(self.transport)

    @property
    def producer(self) -> IPushProducer:
        """What the server registered with its transport, to hear of backlog."""
        producer: IPushProducer | None = self.transport.producer
        assert producer is not None
        return producer

    def send(self, *lines: str | bytes) -> None:
        """Send each line, with a C{\\n}."""
        for line in lines:
            data = line if isinstance(line, bytes) else line.encode()
            self.protocol.dataReceived(data + b"\n")

    def lines(self) -> list[str]:
        """What the server wrote since the last call, one string per line."""
        data: bytes = self.transport.value()
        self.transport.clear()
        assert data == b"" or data.endswith(b"\n"), data
        return data.decode().splitlines()

    def close(self) -> None:
        """The peer goes away."""
        self.transport.loseConnection()
        self.protocol.connectionLost(Failure(ConnectionDone()))


def signed_on(
    factory: ChatFactory, nick: str, port: int = 40000, host: str = "10.0.0.1"
) -> Connection:
    """A connection that has chosen C{nick}, with what it was told so far cleared."""
    connection = Connection(factory, port, host)
    connection.send(nick)
    connection.lines()
    return connection
