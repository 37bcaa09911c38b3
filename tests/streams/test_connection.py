"""
The stream connection layer's server side on its own: listeners of several
frontends served as one server, counted together.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.frontends.line.server import ChatServerProtocol, RefusedConnection
from chatsvc.service.frontends import FRONTENDS
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
