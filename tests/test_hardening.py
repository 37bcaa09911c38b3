"""Each limit at and just past its bound, through StringTransport and task.Clock."""

from __future__ import annotations

from twisted.internet.address import IPv4Address, UNIXAddress
from twisted.internet.error import ConnectionAborted
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.limits import Limits
from chatsvc.server import ChatServerProtocol, RefusedConnection
from tests.support import Connection, make_factory, signed_on


class LineLengthTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory = make_factory(limits=Limits(max_line=300, rate=0))
        self.alice = signed_on(self.factory, "alice")
        self.bob = signed_on(self.factory, "bob", host="10.0.0.2")
        self.alice.lines()

    def test_at_the_limit(self) -> None:
        text = "x" * (300 - len("<bob> "))
        self.bob.send(text)
        self.assertEqual(self.alice.lines(), [f"<bob> {text}"])
        self.assertEqual(self.bob.lines(), [])

    def test_carriage_return_is_not_counted(self) -> None:
        line = "/msg alice " + "y" * 289
        self.assertEqual(len(line), 300)
        self.bob.send(line + "\r")
        self.assertEqual(self.bob.lines(), ["-> *alice* " + "y" * 289])
        self.bob.send(line + "y\r")
        self.assertEqual(
            self.bob.lines(), ["*** Error: line too long (over 300 bytes); it was discarded"]
        )

    def test_just_past_the_limit(self) -> None:
        self.bob.protocol.dataReceived(b"z" * 301 + b"\nafter\n")
        self.assertEqual(
            self.bob.lines(), ["*** Error: line too long (over 300 bytes); it was discarded"]
        )
        self.assertEqual(self.alice.lines(), ["<bob> after"])
        self.assertFalse(self.bob.transport.disconnecting)

    def test_long_line_in_pieces(self) -> None:
        """The error comes once, as soon as the limit is passed; the rest is discarded."""
        for _ in range(10):
            self.bob.protocol.dataReceived(b"z" * 100)
        self.assertEqual(
            self.bob.lines(), ["*** Error: line too long (over 300 bytes); it was discarded"]
        )
        self.bob.protocol.dataReceived(b"zzz\nnext one\n")
        self.assertEqual(self.alice.lines(), ["<bob> next one"])
        self.assertEqual(self.bob.lines(), [])

    def test_relayed_line_must_fit(self) -> None:
        text = "x" * (300 - len("<bob> ") + 1)
        self.bob.send(text)
        self.assertEqual(
            self.bob.lines(), ["*** Error: message too long (295 bytes; at most 294 from you)"]
        )
        self.assertEqual(self.alice.lines(), [])

    def test_private_message_must_fit_both_lines(self) -> None:
        long_nick = signed_on(self.factory, "n" * 30, host="10.0.0.3")
        al = signed_on(self.factory, "al", host="10.0.0.4")
        long_nick.lines()
        # What al would get, "*nnn...n* " + text, is 25 bytes longer than what was sent.
        long_nick.send("/msg al " + "y" * 268)
        self.assertEqual(
            long_nick.lines(), ["*** Error: message too long (268 bytes; at most 267 from you)"]
        )
        self.assertEqual(al.lines(), [])
        long_nick.send("/msg al " + "y" * 267)
        self.assertEqual(long_nick.lines(), ["-> *al* " + "y" * 267])
        self.assertEqual(al.lines(), ["*" + "n" * 30 + "* " + "y" * 267])

    def test_notices_are_clipped(self) -> None:
        self.bob.send("/" + "w" * 290)
        (line,) = self.bob.lines()
        self.assertEqual(len(line.encode()), 300)
        self.assertTrue(line.startswith("*** Error: unknown command /www"))
        self.assertTrue(line.endswith("..."))

    def test_long_quit_reason_is_clipped(self) -> None:
        self.bob.send("/quit " + "r" * 290)
        (line,) = self.alice.lines()
        self.assertLessEqual(len(line.encode()), 300)
        self.assertTrue(line.startswith("*** bob left lobby (quit: rrr"))
        self.assertTrue(line.endswith("...)"))


class ConnectionLimitTests(SynchronousTestCase):
    def test_max_clients(self) -> None:
        factory = make_factory(limits=Limits(max_clients=3, max_per_ip=0))
        connections = [Connection(factory, port=i) for i in range(3)]
        refused = factory.buildProtocol(IPv4Address("TCP", "10.0.0.9", 1))
        self.assertIsInstance(refused, RefusedConnection)
        assert refused is not None
        transport = StringTransport()
        refused.makeConnection(transport)
        self.assertEqual(transport.value(), b"*** The server is full; try again later.\n")
        self.assertTrue(transport.disconnecting)
        self.assertEqual(len(factory.connections), 3)
        connections[0].close()
        self.assertIsInstance(Connection(factory).protocol, ChatServerProtocol)

    def test_max_per_ip(self) -> None:
        factory = make_factory(limits=Limits(max_per_ip=2))
        first, _ = Connection(factory, 1, "10.0.0.1"), Connection(factory, 2, "10.0.0.1")
        refused = factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", 3))
        assert isinstance(refused, RefusedConnection)
        self.assertEqual(
            refused.notice, b"*** Too many connections from your address; try again later.\n"
        )
        self.assertIsInstance(
            factory.buildProtocol(IPv4Address("TCP", "10.0.0.2", 1)), ChatServerProtocol
        )
        self.assertIsInstance(factory.buildProtocol(UNIXAddress(None)), ChatServerProtocol)
        self.assertEqual(factory.connections_from("10.0.0.1"), 2)
        first.close()
        self.assertEqual(factory.connections_from("10.0.0.1"), 1)
        self.assertIsInstance(Connection(factory, 4, "10.0.0.1").protocol, ChatServerProtocol)

    def test_unlimited(self) -> None:
        factory = make_factory(limits=Limits(max_clients=0, max_per_ip=0))
        for i in range(50):
            Connection(factory, i)
        self.assertEqual(len(factory.connections), 50)


class LoginTimeoutTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.factory = make_factory(clock=self.clock, limits=Limits(login_timeout=60))

    def test_no_nickname_in_time(self) -> None:
        c = Connection(self.factory)
        c.lines()
        c.send("bad nick")
        self.clock.advance(59.9)
        self.assertFalse(c.transport.disconnecting)
        c.lines()
        self.clock.advance(0.1)
        self.assertEqual(c.lines(), ["*** Timed out waiting for a nickname. Goodbye!"])
        self.assertTrue(c.transport.disconnecting)
        c.close()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_nickname_in_time(self) -> None:
        c = Connection(self.factory)
        self.clock.advance(59.9)
        c.send("alice")
        self.clock.advance(3600)
        self.assertFalse(c.transport.disconnecting)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_disabled(self) -> None:
        factory = make_factory(clock=self.clock, limits=Limits(login_timeout=0))
        c = Connection(factory)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(10**6)
        self.assertFalse(c.transport.disconnecting)


class RateTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.factory = make_factory(clock=self.clock, limits=Limits(rate=10, burst=20))
        self.alice = signed_on(self.factory, "alice")
        self.bob = signed_on(self.factory, "bob", host="10.0.0.2")
        self.alice.lines()
        self.clock.advance(10)  # bob's budget is full again after signing on

    def test_burst_at_once_then_paced_with_nothing_lost(self) -> None:
        self.bob.protocol.dataReceived(b"".join(b"line %d\n" % i for i in range(25)))
        self.assertEqual(self.alice.lines(), [f"<bob> line {i}" for i in range(20)])
        self.assertEqual(self.bob.transport.producerState, "paused")
        self.clock.advance(0.1)
        self.assertEqual(self.alice.lines(), ["<bob> line 20"])
        self.assertEqual(self.bob.transport.producerState, "paused")
        self.clock.advance(0.4)
        self.assertEqual(self.alice.lines(), [f"<bob> line {i}" for i in range(21, 25)])
        self.assertEqual(self.bob.transport.producerState, "producing")
        self.assertEqual(self.bob.lines(), [])

    def test_at_the_burst(self) -> None:
        self.bob.protocol.dataReceived(b"".join(b"%d\n" % i for i in range(20)))
        self.assertEqual(len(self.alice.lines()), 20)
        self.assertEqual(self.bob.transport.producerState, "producing")
        self.bob.send("one more")
        self.assertEqual(self.alice.lines(), [])
        self.assertEqual(self.bob.transport.producerState, "paused")
        self.clock.advance(0.1)
        self.assertEqual(self.alice.lines(), ["<bob> one more"])

    def test_others_are_not_held_up(self) -> None:
        carol = signed_on(self.factory, "carol", host="10.0.0.3")
        self.alice.lines()
        self.bob.protocol.dataReceived(b"flood\n" * 100)
        carol.send("meanwhile")
        self.assertEqual(self.alice.lines()[-1], "<carol> meanwhile")

    def test_unlimited(self) -> None:
        factory = make_factory(clock=self.clock, limits=Limits(rate=0))
        a, b = signed_on(factory, "a"), signed_on(factory, "b", host="10.0.0.2")
        a.lines()
        b.protocol.dataReceived(b"x\n" * 1000)
        self.assertEqual(len(a.lines()), 1000)

    def test_disconnect_while_throttled(self) -> None:
        self.bob.protocol.dataReceived(b"x\n" * 30)
        self.bob.close()
        self.clock.advance(0)  # the end of the reactor turn
        self.assertEqual(self.clock.getDelayedCalls(), [])


class SendBufferTests(SynchronousTestCase):
    """A peer that stops reading, as its transport reports it through the producer API."""

    def setUp(self) -> None:
        self.factory = make_factory(limits=Limits(max_send_buffer=1000, rate=0))
        self.alice = signed_on(self.factory, "alice")
        self.slow = signed_on(self.factory, "slow", host="10.0.0.2")
        self.alice.lines()

    def test_dropped_past_the_bound_and_nobody_else_loses_anything(self) -> None:
        carol = signed_on(self.factory, "carol", host="10.0.0.3")
        self.alice.lines()
        self.slow.lines()
        self.slow.producer.pauseProducing()
        self.assertEqual(self.slow.transport.producerState, "paused", "its reads are paused too")
        line = "m" * 92  # "<alice> " + 92 + "\n" = 101 bytes
        for i in range(9):
            self.alice.send(f"{i}{line[1:]}")
            self.slow.producer.pauseProducing()  # as transports do on each write
        self.assertEqual(len(self.slow.lines()), 9)
        self.assertFalse(self.slow.transport.disconnecting)
        self.alice.send("9" + line[1:])
        self.assertTrue(self.slow.transport.disconnecting)
        self.assertEqual(self.slow.lines(), [])
        self.alice.send("after")
        self.assertEqual(
            carol.lines(), [f"<alice> {i}{line[1:]}" for i in range(10)] + ["<alice> after"]
        )
        self.slow.protocol.connectionLost(Failure(ConnectionAborted()))
        self.assertEqual(carol.lines(), ["*** slow left lobby (not reading)"])
        self.assertIsNone(self.factory.chat.find("slow"))

    def test_catching_up_resets_the_count(self) -> None:
        producer = self.slow.producer
        for _ in range(5):
            producer.pauseProducing()
            for _ in range(9):
                self.alice.send("m" * 92)
            producer.resumeProducing()
        self.assertFalse(self.slow.transport.disconnecting)
        self.assertEqual(self.slow.transport.producerState, "producing")
        self.assertEqual(len(self.slow.lines()), 45)

    def test_unlimited(self) -> None:
        factory = make_factory(limits=Limits(max_send_buffer=0, rate=0))
        alice, slow = signed_on(factory, "alice"), signed_on(factory, "slow", host="10.0.0.2")
        slow.producer.pauseProducing()
        for _ in range(1000):
            alice.send("m" * 100)
        self.assertFalse(slow.transport.disconnecting)

    def test_quit_unregisters_the_producer(self) -> None:
        """A transport with a producer does not close: quitting removes it first."""
        self.slow.send("/quit")
        self.assertIsNone(self.slow.transport.producer)
        self.assertTrue(self.slow.transport.disconnecting)
