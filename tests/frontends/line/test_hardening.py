"""Each limit at and just past its bound, through StringTransport and task.Clock."""

from __future__ import annotations

import socket

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.error import ConnectionAborted
from twisted.internet.interfaces import INegotiated
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import alsoProvides

from chatsvc.frontends.line.server import (
    ADDRESS_FULL,
    HANG_UP_GRACE,
    ChatFactory,
    ChatServerProtocol,
    RefusedConnection,
)
from chatsvc.streams.limits import Limits
from tests.support import (
    Connection,
    OutputMeter,
    drain,
    eager_loopback,
    end_turn,
    make_factory,
    signed_on,
)


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


class IPv6NetworkTests(SynchronousTestCase):
    """C{--max-per-ip} counts an IPv6 peer by its network: one host may hold a whole /64."""

    def build(self, factory: ChatFactory, host: str) -> object:
        return factory.buildProtocol(IPv6Address("TCP", host, 1))

    def test_one_network_shares_the_limit(self) -> None:
        factory = make_factory(limits=Limits(max_per_ip=2))
        self.assertIsInstance(self.build(factory, "2001:db8:1:2::1"), ChatServerProtocol)
        self.assertIsInstance(self.build(factory, "2001:db8:1:2:ab::2"), ChatServerProtocol)
        refused = self.build(factory, "2001:db8:1:2:ffff:ffff:ffff:ffff")
        assert isinstance(refused, RefusedConnection)
        self.assertEqual(refused.notice, ADDRESS_FULL)
        self.assertIsInstance(self.build(factory, "2001:db8:1:3::1"), ChatServerProtocol)
        self.assertEqual(factory.connections_from("2001:db8:1:2::/64"), 2)

    def test_prefix_is_an_option(self) -> None:
        factory = make_factory(limits=Limits(max_per_ip=1, ipv6_prefix=128))
        self.assertIsInstance(self.build(factory, "2001:db8::1"), ChatServerProtocol)
        self.assertIsInstance(self.build(factory, "2001:db8::2"), ChatServerProtocol)
        self.assertIsInstance(self.build(factory, "2001:db8::2"), RefusedConnection)

    def test_mapped_ipv4_counts_as_ipv4(self) -> None:
        factory = make_factory(limits=Limits(max_per_ip=1))
        Connection(factory, host="10.0.0.1")
        self.assertIsInstance(self.build(factory, "::ffff:10.0.0.1"), RefusedConnection)

    def test_bounds(self) -> None:
        for bad in (0, 129):
            with self.assertRaises(ValueError):
                Limits(ipv6_prefix=bad)


class TLSBeforeHandshake(StringTransport):
    """A TLS transport whose peer never starts the handshake: nothing written reaches it."""

    negotiatedProtocol = None

    def __init__(self, peer: IPv4Address | None = None) -> None:
        super().__init__(peerAddress=peer)
        alsoProvides(self, INegotiated)

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass

    def setTcpKeepAlive(self, enabled: bool) -> None:
        pass


class HangUpTests(SynchronousTestCase):
    """No connection outlives its hang-up, whether or not the peer takes its last line."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.factory = make_factory(clock=self.clock, limits=Limits(login_timeout=5))

    def test_tls_without_a_handshake_is_aborted_at_the_login_timeout(self) -> None:
        transport = TLSBeforeHandshake(IPv4Address("TCP", "10.0.0.1", 1))
        protocol = self.factory.buildProtocol(transport.getPeer())
        assert protocol is not None
        protocol.makeConnection(transport)
        self.clock.advance(5)
        self.assertTrue(transport.disconnected, "aborted: TLS would wait for the handshake")

    def test_a_peer_that_does_not_take_its_goodbye_is_aborted(self) -> None:
        alice = signed_on(self.factory, "alice")
        alice.send("/quit")
        self.assertTrue(alice.transport.disconnecting)
        self.clock.advance(HANG_UP_GRACE - 0.1)
        self.assertFalse(alice.transport.disconnected)
        self.clock.advance(0.1)
        self.assertTrue(alice.transport.disconnected)

    def test_nothing_is_left_once_closed(self) -> None:
        alice = signed_on(self.factory, "alice")
        alice.send("/quit")
        alice.close()
        self.clock.advance(0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_refused_connections_are_aborted_too(self) -> None:
        factory = make_factory(clock=self.clock, limits=Limits(max_clients=1, login_timeout=0))
        Connection(factory)
        refused = factory.buildProtocol(IPv4Address("TCP", "10.0.0.2", 1))
        assert isinstance(refused, RefusedConnection)
        transport = TLSBeforeHandshake()
        refused.makeConnection(transport)
        self.assertTrue(transport.disconnecting)
        self.assertFalse(transport.disconnected)
        self.clock.advance(HANG_UP_GRACE)
        self.assertTrue(transport.disconnected)
        refused.connectionLost(Failure(ConnectionAborted()))
        self.assertEqual(self.clock.getDelayedCalls(), [])


class FillingTransport(StringTransport):
    """A transport whose buffer is full from the first write of over C{size} bytes on."""

    def __init__(self, size: int) -> None:
        super().__init__(peerAddress=IPv4Address("TCP", "10.0.0.7", 1))
        self.size = size

    def write(self, data: bytes) -> None:
        super().write(data)
        if len(self.value()) > self.size and self.producer is not None:
            self.producer.pauseProducing()


class SendTimeoutTests(SynchronousTestCase):
    """Output that does not drain for C{--send-timeout} seconds drops the connection."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.factory = make_factory(
            clock=self.clock, limits=Limits(rate=0, send_timeout=30, max_send_buffer=10_000)
        )
        self.alice = signed_on(self.factory, "alice")
        self.slow = signed_on(self.factory, "slow", host="10.0.0.2")
        self.alice.lines()

    def test_dropped_when_output_does_not_drain(self) -> None:
        self.slow.producer.pauseProducing()
        self.clock.advance(29.9)
        self.assertFalse(self.slow.transport.disconnecting)
        with capturedLogs() as events:
            self.clock.advance(0.1)
        self.assertTrue(self.slow.transport.disconnected)
        self.assertIn(
            "10.0.0.2:40000 dropped: its output has not drained for 30 seconds",
            [formatEvent(e) for e in events],
        )
        self.slow.protocol.connectionLost(Failure(ConnectionAborted()))
        self.assertEqual(self.alice.lines(), ["*** slow left lobby (not reading)"])

    def test_draining_in_time_stops_the_clock(self) -> None:
        for _ in range(3):
            self.slow.producer.pauseProducing()
            self.clock.advance(29)
            self.slow.producer.resumeProducing()
        self.clock.advance(60)
        self.assertFalse(self.slow.transport.disconnecting)

    def test_zero_is_forever(self) -> None:
        factory = make_factory(clock=self.clock, limits=Limits(send_timeout=0))
        slow = signed_on(factory, "slow")
        slow.producer.pauseProducing()
        self.clock.advance(10_000)
        self.assertFalse(slow.transport.disconnecting)

    def test_the_write_that_fills_the_buffer_counts(self) -> None:
        """
        A reply big enough to fill the transport's buffer on its own counts
        towards C{--max-send-buffer}, so that later lines in a quiet room
        are not the first to be counted.
        """
        factory = make_factory(clock=self.clock, limits=Limits(rate=0, max_send_buffer=1000))
        alice = signed_on(factory, "alice")
        transport = FillingTransport(300)
        slow = factory.buildProtocol(transport.getPeer())
        assert isinstance(slow, ChatServerProtocol)
        slow.makeConnection(transport)
        slow.dataReceived(b"slow\n")
        self.assertFalse(transport.disconnecting, "the greeting and hello fit")
        self.clock.advance(0)
        alice.send("x" * 900)
        self.clock.advance(0)
        self.assertFalse(transport.disconnecting, "908 bytes filled it")
        alice.send("y" * 100)
        self.clock.advance(0)
        self.assertTrue(transport.disconnected, "and 108 more are over 1000")


class OverLongLineRateTests(SynchronousTestCase):
    """A line refused as too long costs a token like any other."""

    def test_over_long_lines_are_paced(self) -> None:
        clock = Clock()
        factory = make_factory(clock=clock, limits=Limits(max_line=256, rate=1, burst=2))
        alice = signed_on(factory, "alice")
        alice.protocol.dataReceived((b"x" * 300 + b"\n") * 5)
        error = "*** Error: line too long (over 256 bytes); it was discarded"
        self.assertEqual(alice.lines(), [error], "the nickname took one of the two tokens")
        clock.advance(1)
        self.assertEqual(alice.lines(), [error])
        clock.advance(3)
        self.assertEqual(alice.lines(), [error] * 2, "a burst of two at most")
        clock.advance(1)
        self.assertEqual(alice.lines(), [error])

    def test_an_unfinished_over_long_line_is_paced_too(self) -> None:
        clock = Clock()
        factory = make_factory(clock=clock, limits=Limits(max_line=256, rate=1, burst=1))
        alice = signed_on(factory, "alice")
        alice.protocol.dataReceived(b"y" * 300)
        self.assertEqual(alice.lines(), [], "no token left: not read on until there is")
        clock.advance(1)
        self.assertEqual(
            alice.lines(), ["*** Error: line too long (over 256 bytes); it was discarded"]
        )
        alice.protocol.dataReceived(b"yyy\nhello\n")
        clock.advance(1)
        self.assertEqual(alice.lines(), [])


class HeldForAReaderThatStopsTests(SynchronousTestCase):
    """
    What the server holds in memory for a peer that stops reading, on a real
    socket that nobody reads: however much its room says, at most
    C{--max-send-buffer} bytes beyond what fills the transport's own buffer
    (64 KiB), and the line that crosses the bound; then the peer is dropped.
    Counted, not timed: the bytes its transport was given to queue, less
    those it sent (L{OutputMeter}). Each line is said in a turn of the
    reactor of its own.
    """

    LIMIT = 16384
    LINE = "m" * 1000

    def test_bounded_then_dropped(self) -> None:
        clock = Clock()
        factory = make_factory(clock=clock, limits=Limits(rate=0, max_send_buffer=self.LIMIT))

        def build(address: IPv4Address) -> ChatServerProtocol:
            protocol = factory.buildProtocol(address)
            assert isinstance(protocol, ChatServerProtocol)
            return protocol

        reactor = MemoryReactorClock()
        transport, peer, _ = eager_loopback(build, self.addCleanup, reactor)
        # Small kernel buffers, so that the server's own soon fills.
        transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        transport.protocol.dataReceived(b"slow\n")
        end_turn(factory)
        drain(peer)
        meter = OutputMeter(transport)
        alice = signed_on(factory, "alice", host="10.0.0.2")
        carol = signed_on(factory, "carol", host="10.0.0.3")
        alice.lines()

        bound = transport.bufferSize + self.LIMIT
        longest = len(f"<alice> {10_000} {self.LINE}\n")
        said = 0
        while factory.chat.find("slow") is not None:
            assert said < 10_000, "the reader that stopped was never dropped"
            alice.send(f"{said} {self.LINE}")
            said += 1
            end_turn(factory)
            transport.doWrite()  # the kernel takes nothing more: nobody reads
            reactor.advance(0)  # an abort's connectionLost
            assert meter.held <= bound + longest, f"{meter.held} bytes held after {said} lines"
        assert meter.most > bound - longest, f"dropped with only {meter.most} bytes held"
        assert carol.lines() == [f"<alice> {i} {self.LINE}" for i in range(said)] + [
            "*** slow left lobby (not reading)"
        ]
