"""
The stream connection layer's server side on its own: listeners of several
frontends served as one server, counted together; a turn's writes joined once
for the connections owed the same.
"""

from __future__ import annotations

from typing import cast

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.frontends.line.server import ChatFactory, ChatServerProtocol, RefusedConnection
from chatsvc.service.frontends import FRONTENDS
from chatsvc.streams.connection import JOINS_KEPT, StreamConnection
from chatsvc.streams.limits import Limits
from tests.support import make_factory


class OtherWire(ChatServerProtocol):
    """Another frontend's connections, for the test."""


class FrontendListenerTests(SynchronousTestCase):
    def test_its_own_frontend_is_the_factory_itself(self) -> None:
        factory = make_factory()
        self.assertIs(factory.for_frontend(ChatServerProtocol), factory)
        self.assertIs(FRONTENDS["line"], ChatServerProtocol)

    def test_another_frontend_is_served_and_counted_as_one_server(self) -> None:
        factory = make_factory(limits=Limits(max_clients=2, max_per_ip=0))
        other = factory.for_frontend(OtherWire)
        address = IPv4Address("TCP", "10.0.0.1", 1)
        line, theirs = factory.buildProtocol(address), other.buildProtocol(address)
        self.assertIsInstance(line, ChatServerProtocol)
        assert isinstance(theirs, OtherWire)
        self.assertIs(theirs.factory, factory, "served by the one server")
        self.assertEqual(factory.connections, {line, theirs})
        self.assertIsInstance(other.buildProtocol(address), RefusedConnection, "one count")
        theirs.makeConnection(StringTransport(peerAddress=address))
        theirs.dataReceived(b"carol\n")
        self.assertIsNotNone(factory.chat.find("carol"), "in the same chat")


class Owed:
    """A connection owed C{pieces} at the turn's end: its write is what L{joined} gives."""

    def __init__(self, factory: ChatFactory, *pieces: bytes) -> None:
        self.factory = factory
        self.pieces = list(pieces)
        self.written: bytes | None = None
        factory.hold(cast(StreamConnection, self))

    def flush(self) -> None:
        self.written = self.factory.joined(self.pieces)


class JoinedTests(SynchronousTestCase):
    """What a turn's end writes is joined once for the connections owed the same."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.factory = make_factory(clock=self.clock)
        self.factory.turn()

    def end_turn(self, *owed: Owed) -> list[bytes]:
        self.clock.advance(0)
        written = [each.written for each in owed]
        assert all(isinstance(each, bytes) for each in written)
        return cast("list[bytes]", written)

    def test_the_same_pieces_are_joined_once(self) -> None:
        one, two = b"<alice> one\n", b"<alice> two\n"
        owed = [Owed(self.factory, one, two) for _ in range(3)]
        # Equal pieces count as the same, whether or not they are the same objects.
        owed.append(Owed(self.factory, bytes(bytearray(one)), two))
        written = self.end_turn(*owed)
        self.assertEqual(written[0], one + two)
        for each in written[1:]:
            self.assertIs(each, written[0])

    def test_other_pieces_of_the_same_count_and_last_are_joined_for_themselves(self) -> None:
        last = b"<carol> last\n"
        first = Owed(self.factory, b"<alice> one\n", last)
        second = Owed(self.factory, b"<bob> one\n", last)
        shorter = Owed(self.factory, last)
        longer = Owed(self.factory, b"<alice> one\n", b"<alice> one\n", last)
        written = self.end_turn(first, second, shorter, longer)
        self.assertEqual(
            written,
            [
                b"<alice> one\n<carol> last\n",
                b"<bob> one\n<carol> last\n",
                b"<carol> last\n",
                b"<alice> one\n<alice> one\n<carol> last\n",
            ],
        )

    def test_only_the_last_few_are_kept_and_none_past_the_turns_end(self) -> None:
        distinct = [Owed(self.factory, b"x" * 100, b"%d\n" % i) for i in range(JOINS_KEPT + 1)]
        again = [Owed(self.factory, b"x" * 100, b"%d\n" % i) for i in range(JOINS_KEPT + 1)]
        written = self.end_turn(*distinct, *again)
        self.assertEqual(written[: JOINS_KEPT + 1], written[JOINS_KEPT + 1 :])
        self.assertIsNot(written[JOINS_KEPT + 1], written[0], "the oldest was let go")
        self.assertEqual(self.factory._joined, {})
        # Outside a turn's end (a connection closing), nothing is kept at all.
        pieces = [b"y" * 100, b"z\n"]
        self.assertIsNot(self.factory.joined(pieces), self.factory.joined(pieces))
        self.assertEqual(self.factory._joined, {})
