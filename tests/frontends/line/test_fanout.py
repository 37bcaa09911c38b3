"""
The server's fan-out: a room's line formatted once and written straight to
each member's socket when nothing is queued for it, and through the usual
write path otherwise.

The connections here are real loopback TCP sockets under L{EagerServer}
transports, registered with a L{MemoryReactor}: what is sent reaches the
kernel at once, and nothing else happens until the test says (the end of a
reactor turn is C{clock.advance(0)}, sending what a transport queued is
C{doWrite()}).
"""

from __future__ import annotations

import contextlib
import socket
import struct
from array import array
from collections.abc import Callable
from typing import Any, cast
from unittest import mock

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.events import Event
from chatsvc.frontends.line import server, wire
from chatsvc.frontends.line.server import ChatFactory, ChatServerProtocol
from chatsvc.streams import eagertcp
from chatsvc.streams.eagertcp import SentShort
from chatsvc.streams.limits import Limits
from chatsvc.testing import FakeHistory
from tests.support import Connection, drain, eager_loopback, make_factory, signed_on


class SocketConnection:
    """A connection to C{factory} over a loopback TCP socket, the peer's end kept here."""

    def __init__(self, case: SynchronousTestCase, factory: ChatFactory, nick: str) -> None:
        def build(address: IPv4Address) -> ChatServerProtocol:
            protocol = factory.buildProtocol(address)
            assert isinstance(protocol, ChatServerProtocol)
            return protocol

        self.case = case
        self.transport, self.peer, self.reactor = eager_loopback(build, case.addCleanup)
        self.protocol = cast(ChatServerProtocol, self.transport.protocol)
        self.say(nick)
        self.clock = factory.clock
        assert isinstance(self.clock, Clock)
        self.clock.advance(0)
        self.received()

    def say(self, *lines: str) -> None:
        """The peer sends C{lines}, in one piece."""
        self.protocol.dataReceived(b"".join(line.encode() + b"\n" for line in lines))

    def received(self) -> bytes:
        """What reached the peer's socket since the last call."""
        return drain(self.peer)

    @property
    def queued(self) -> bool:
        """Whether the transport holds output for the reactor to send."""
        return self.transport in self.reactor.getWriters()

    def count_sends(self) -> list[bytes]:
        """
        Record what goes straight to the socket from now on, in order: the
        fan-out's sends (L{send_each}) and the transport's own (C{send_now}).
        """
        sent: list[bytes] = []
        send = self.transport.socket.send

        def counting(data: bytes) -> int:
            sent.append(data)
            return send(data)

        self.transport.send_now = counting
        _direct_sends(self.case)[self.transport.fd] = sent
        return sent


def _direct_sends(case: SynchronousTestCase) -> dict[int, list[bytes]]:
    """
    What the fan-out's L{send_each} is given in C{case}, by descriptor, for
    the descriptors put in: made, and C{send_each} wrapped, at the first call.
    """
    recorded: dict[int, list[bytes]] | None = getattr(case, "direct_sends", None)
    if recorded is None:
        recorded = {}
        setattr(case, "direct_sends", recorded)  # noqa: B010 - not a declared attribute
        send_each = eagertcp.send_each

        def recording(fds: list[int], data: bytes) -> SentShort | None:
            for fd in fds:
                if fd in recorded:
                    recorded[fd].append(data)
            return send_each(fds, data)

        case.patch(server, "send_each", recording)
        deliver_each = eagertcp.deliver_each
        if deliver_each is not None and getattr(server, "deliver_each") is deliver_each:  # noqa: B009
            case.patch(server, "deliver_each", _recording_deliveries(deliver_each, recorded))
    return recorded


def _recording_deliveries(
    deliver_each: eagertcp.DeliverEach, recorded: dict[int, list[bytes]]
) -> eagertcp.DeliverEach:
    """
    C{deliver_each}, its sends to the descriptors in C{recorded} recorded
    there: a member it sends to is one whose turn it marks.
    """

    def recording(  # noqa: PLR0917 - deliver_each's own arguments
        direct: list[object],
        members: list[Any],
        fds: array[int],
        turn: int,
        exclude: object,
        data: bytes,
    ) -> tuple[int, list[Any] | None, list[tuple[Any, int]] | None]:
        before = [member._turn for member in members]
        result = deliver_each(direct, members, fds, turn, exclude, data)
        for member, fd, last in zip(members, fds, before, strict=True):
            if fd in recorded and last != turn and member._turn == turn:
                recorded[fd].append(data)
        return result

    return recording


class FanOutTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.factory = make_factory(clock=self.clock, limits=Limits(rate=0, max_per_ip=0))
        self.alice = self.connect("alice")
        self.bob = self.connect("bob")
        self.carol = self.connect("carol")
        for each in (self.alice, self.bob, self.carol):
            each.received()

    def connect(self, nick: str) -> SocketConnection:
        return SocketConnection(self, self.factory, nick)

    def test_a_line_reaches_every_other_socket_at_once(self) -> None:
        self.alice.say("hello")
        # Before the turn ends, and with nothing left to the reactor.
        for other in (self.bob, self.carol):
            self.assertEqual(other.received(), b"<alice> hello\n")
            self.assertFalse(other.queued)
        self.clock.advance(0)
        self.assertEqual(self.alice.received(), b"")
        self.assertEqual(self.bob.received(), b"")

    def test_formatted_once_for_the_whole_room(self) -> None:
        more = [self.connect(f"user{i}") for i in range(10)]
        for each in [self.carol, *more]:
            each.received()
        with mock.patch.object(wire, "_format", wraps=wire._format) as formatted:
            self.alice.say("one")
            self.bob.say("/me two")
        self.assertEqual(formatted.call_count, 2)
        self.clock.advance(0)
        for each in [self.carol, *more]:
            self.assertEqual(each.received(), b"<alice> one\n* bob two\n")

    def test_later_lines_in_the_same_turn_go_out_together_at_its_end(self) -> None:
        sends = self.bob.count_sends()
        self.alice.say("one", "two", "three")
        self.carol.say("four")
        self.assertEqual(self.bob.received(), b"<alice> one\n")
        self.clock.advance(0)
        self.assertEqual(self.bob.received(), b"<alice> two\n<alice> three\n<carol> four\n")
        self.assertEqual(sends, [b"<alice> one\n", b"<alice> two\n<alice> three\n<carol> four\n"])
        self.alice.say("five")
        self.assertEqual(self.bob.received(), b"<alice> five\n")

    def test_a_turns_end_makes_one_write_for_every_reader_owed_the_same(self) -> None:
        more = [self.connect(f"user{i}") for i in range(3)]
        readers = [self.bob, *more]
        for each in [self.alice, self.bob, self.carol, *more]:
            each.received()
        sends = [reader.count_sends() for reader in readers]
        carol_sends = self.carol.count_sends()
        self.alice.say("one", "two", "three")
        self.carol.say("four")
        self.clock.advance(0)
        owed = b"<alice> two\n<alice> three\n<carol> four\n"
        for reader in readers:
            self.assertEqual(reader.received(), b"<alice> one\n" + owed)
        writes = [sent[1] for sent in sends]
        self.assertEqual(writes, [owed] * len(readers))
        for write in writes[1:]:
            self.assertIs(write, writes[0], "joined once for all of them")
        # Carol, who said one of them, is owed another write, made for her.
        self.assertEqual(carol_sends, [b"<alice> one\n", b"<alice> two\n<alice> three\n"])
        self.assertEqual(self.carol.received(), b"<alice> one\n<alice> two\n<alice> three\n")

    def test_writes_owed_in_another_turn_are_made_again(self) -> None:
        sends = self.bob.count_sends()
        for text in ("one", "two"):
            self.alice.say(f"{text} a", f"{text} b", f"{text} c")
            self.clock.advance(0)
        expected = [b"<alice> one a\n", b"<alice> one b\n<alice> one c\n"]
        expected += [b"<alice> two a\n", b"<alice> two b\n<alice> two c\n"]
        self.assertEqual(sends, expected)
        self.assertEqual(self.factory._joined, {}, "nothing kept past the turn's end")

    def test_what_the_kernel_does_not_take_waits_and_keeps_its_place(self) -> None:
        # Small buffers at both ends of bob's connection, and bob not reading.
        self.bob.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        self.bob.peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lines = [f"{i:04} " + "x" * 400 for i in range(200)]
        turn = 0
        while not self.bob.queued:
            self.alice.say(lines[turn])
            self.clock.advance(0)
            self.carol.received()
            turn += 1
            self.assertLess(turn, len(lines), "the kernel never refused a line")
        self.assertIsNone(self.bob.transport.send_now)
        # Carol still gets each line at once; bob's wait behind what is queued.
        for line in lines[turn:]:
            self.alice.say(line)
            self.assertEqual(self.carol.received(), f"<alice> {line}\n".encode())
            self.clock.advance(0)
        data = b""
        while self.bob.queued or len(data) < sum(len(f"<alice> {line}\n") for line in lines):
            data += self.bob.received()
            if self.bob.queued:
                self.bob.transport.doWrite()
        self.assertEqual(data.decode().splitlines(), [f"<alice> {line}" for line in lines])
        self.assertIsNotNone(self.bob.transport.send_now)
        self.alice.say("after")
        self.assertEqual(self.bob.received(), b"<alice> after\n")

    def test_a_send_the_kernel_refuses_leaves_the_line_to_the_queue(self) -> None:
        # Bob's socket filled to the brim behind his transport's back: the
        # transport has nothing queued, so the fan-out still sends straight.
        sock = self.bob.transport.socket
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        self.bob.peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        filled = 0
        for size in (4096, 1):
            with contextlib.suppress(BlockingIOError):
                while True:
                    filled += sock.send(b"x" * size)
        sends = self.bob.count_sends()
        self.alice.say("hello")
        self.assertEqual(self.carol.received(), b"<alice> hello\n")
        self.assertEqual(sends, [b"<alice> hello\n"], "tried once")
        self.assertTrue(self.bob.queued, "then queued")
        self.assertIsNone(self.bob.transport.send_now)
        data = b""
        while len(data) < filled + len(b"<alice> hello\n"):
            data += self.bob.received()
            if self.bob.queued:
                self.bob.transport.doWrite()
        self.assertEqual(data[filled:], b"<alice> hello\n")
        self.assertIsNotNone(self.bob.transport.send_now)

    def test_a_send_that_fails_costs_the_others_nothing(self) -> None:
        # Bob's end resets the connection; the server has not yet noticed.
        more = self.connect("dave")
        self.carol.received()
        self.bob.peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.bob.peer.close()
        self.alice.say("hello")
        for other in (self.carol, more):
            self.assertEqual(other.received(), b"<alice> hello\n")
        # Bob's line waits in his transport, whose next write reports the failure.
        self.assertTrue(self.bob.queued)
        self.assertIsInstance(self.bob.transport.doWrite(), ConnectionLost)

    def test_a_connection_hung_up_is_skipped(self) -> None:
        self.bob.say("/quit")
        self.assertEqual(self.bob.received(), b"*** Bye!\n")
        self.alice.say("hello")
        self.clock.advance(0)
        self.assertEqual(self.bob.received(), b"")
        self.assertEqual(self.carol.received(), b"*** bob left lobby\n<alice> hello\n")

    def test_direct_names_the_protocol_while_lines_may_go_straight(self) -> None:
        """
        L{eagertcp.DIRECT}, what the pick in C reads in place of each member's
        transport, follows the transport: named while nothing is queued,
        cleared while something is, named again once it has drained.
        """
        bob = self.bob
        fd = bob.transport.fd
        self.assertIs(eagertcp.DIRECT[fd], bob.protocol)
        bob.transport.queue(b"queued\n")
        self.assertIsNone(eagertcp.DIRECT[fd])
        self.alice.say("while queued")
        bob.transport.doWrite()
        self.assertEqual(bob.received(), b"queued\n<alice> while queued\n")
        self.assertIs(eagertcp.DIRECT[fd], bob.protocol)
        bob.protocol.holding(True)
        self.assertIsNone(eagertcp.DIRECT[fd], "held output goes first")
        bob.protocol.holding(False)
        self.assertIs(eagertcp.DIRECT[fd], bob.protocol)

    def test_a_closed_transport_writes_its_entry_no_more(self) -> None:
        """
        Once closed, a transport leaves its descriptor's entry alone: the
        number may already be another connection's.
        """
        bob = self.bob
        fd = bob.transport.fd
        bob.say("/quit")
        self.clock.advance(0)
        self.assertIsNone(eagertcp.DIRECT[fd])
        taken = object()
        eagertcp.DIRECT[fd] = taken  # as if a new connection had the number now
        bob.protocol.holding(False)
        bob.transport.loseConnection()
        bob.transport.queue(b"late\n")
        bob.transport.connectionLost(Failure(ConnectionDone()))
        self.assertIs(eagertcp.DIRECT[fd], taken)
        eagertcp.DIRECT[fd] = None
        self.alice.say("hello")
        self.assertEqual(self.carol.received(), b"*** bob left lobby\n<alice> hello\n")


class FanOutAndLookupsTests(SynchronousTestCase):
    """A connection waiting for a history lookup gets room lines after the answer."""

    def test_lines_wait_behind_a_lookup_then_go_straight_again(self) -> None:
        clock = Clock()
        history = FakeHistory(clock, at_once=False)
        factory = make_factory(clock=clock, history=history, replay=0, limits=Limits(rate=0))
        alice = SocketConnection(self, factory, "alice")
        history.answer()
        bob = SocketConnection(self, factory, "bob")
        history.answer()
        clock.advance(0)
        alice.received()
        bob.received()
        bob.say("/history")
        alice.say("during")
        clock.advance(0)
        self.assertEqual(bob.received(), b"")
        history.answer()
        clock.advance(0)
        self.assertEqual(
            bob.received().decode().splitlines(),
            ["*** No history of lobby", "<alice> during"],
        )
        sends = bob.count_sends()
        alice.say("after")
        self.assertEqual(bob.received(), b"<alice> after\n")
        self.assertEqual(sends, [b"<alice> after\n"])


class OtherTransportsTests(SynchronousTestCase):
    """Connections whose transport cannot take lines straight get them the usual way."""

    def test_string_transport(self) -> None:
        from tests.support import signed_on

        factory = make_factory()
        alice = signed_on(factory, "alice")
        bob = signed_on(factory, "bob", port=40001)
        writes: list[bytes] = []
        write: Callable[[bytes], None] = bob.transport.write
        bob.transport.write = lambda data: (writes.append(data), write(data))  # type: ignore[method-assign,func-returns-value]
        alice.send("hello")
        self.assertEqual(writes, [b"<alice> hello\n"])
        self.assertEqual(bob.lines(), ["<alice> hello"])


class Shouting:
    """A second wire, for the test: the chat's events in capitals."""

    def __init__(self) -> None:
        self.rendered = 0

    def render(self, event: Event) -> bytes:
        self.rendered += 1
        return wire.render(event).upper()


class Doubled:
    """A wire whose lines are the line protocol's, C{times} over."""

    def __init__(self, times: int = 2) -> None:
        self.times = times

    def render(self, event: Event) -> bytes:
        return wire.render(event) * self.times


def in_turns(shouting: Shouting, each: int) -> tuple[list[Connection], list[Connection]]:
    """
    C{each} line members and C{each} of C{shouting}'s wire, in the lobby in
    turns (line0, loud0, line1, loud1, ...), with what they were told cleared.
    """

    class ShoutingProtocol(ChatServerProtocol):
        events = shouting

    factory = make_factory(limits=Limits(rate=0, max_per_ip=0))
    line, loud = [], []
    for i in range(each):
        factory.protocol = ChatServerProtocol
        line.append(signed_on(factory, f"line{i}", port=i))
        factory.protocol = ShoutingProtocol
        loud.append(signed_on(factory, f"loud{i}", port=10 + i))
    for connection in [*line, *loud]:
        connection.lines()
    return line, loud


class SeveralWiresTests(SynchronousTestCase):
    """A room with members on several wires renders each event once per wire."""

    def test_once_per_wire_not_once_per_member(self) -> None:
        shouting = Shouting()
        line, loud = in_turns(shouting, 3)
        shouting.rendered = 0
        with mock.patch.object(wire, "_format", wraps=wire._format) as formatted:
            line[0].send("hello")
            loud[0].send("/me waves")
        self.assertEqual(formatted.call_count, 4, "each event once for each of the two wires")
        self.assertEqual(shouting.rendered, 2)
        self.assertEqual(line[1].lines(), ["<line0> hello", "* loud0 waves"])
        self.assertEqual(loud[1].lines(), ["<LINE0> HELLO", "* LOUD0 WAVES"])
        self.assertEqual(loud[0].lines(), ["<LINE0> HELLO"])

    def test_taken_wire_by_wire_each_in_its_order(self) -> None:
        """
        Members who joined in turns, one wire then the other, are written to
        wire by wire, each wire's in the order they joined; and a wire whose
        only member is the speaker renders nothing.
        """
        shouting = Shouting()
        line, loud = in_turns(shouting, 2)
        written: list[str] = []

        def recorded(nick: str, write: Callable[[bytes], None]) -> Callable[[bytes], None]:
            def recording(data: bytes) -> None:
                written.append(nick)
                write(data)

            return recording

        for i, each in enumerate(line):
            each.transport.write = recorded(f"line{i}", each.transport.write)  # type: ignore[method-assign]
        for i, each in enumerate(loud):
            each.transport.write = recorded(f"loud{i}", each.transport.write)  # type: ignore[method-assign]
        line[0].send("hello")
        self.assertEqual(written, ["line1", "loud0", "loud1"])
        loud[1].send("/quit")
        written.clear()
        for each in [*line, *loud[:1]]:
            each.lines()
        written.clear()
        shouting.rendered = 0
        loud[0].send("alone on my wire")
        self.assertEqual(written, ["line0", "line1"])
        self.assertEqual(shouting.rendered, 0, "nobody but the speaker on its wire")
        self.assertEqual(line[1].lines(), ["<loud0> alone on my wire"])

    def test_each_wire_delivered_by_its_own_copy_of_the_loop(self) -> None:
        """
        Each wire's members are written to by a copy of L{ChatFactory._deliver}
        with a code object of its own (what CPython learns of the connections
        it reads is kept in the code), made once for the wire, and the same
        in what it does.
        """
        shouting = Shouting()
        line, loud = in_turns(shouting, 2)
        factory = line[0].protocol.factory
        line[0].send("hello")
        line[1].send("again")
        deliverers = factory._deliverers
        self.assertEqual(set(deliverers), {wire.LINE_EVENTS, shouting})
        codes = {id(deliver.__code__) for deliver in deliverers.values()}
        codes.add(id(server.ChatFactory._deliver.__code__))
        self.assertEqual(len(codes), 3, "a code object for each wire, and the original's")
        self.assertEqual(line[1].lines(), ["<line0> hello"])
        self.assertEqual(loud[0].lines(), ["<LINE0> HELLO", "<LINE1> AGAIN"])

    def test_bytes_counted_by_wire(self) -> None:
        class LoudProtocol(ChatServerProtocol):
            events = Doubled()

        factory = make_factory(limits=Limits(rate=0, max_per_ip=0))
        line = [signed_on(factory, f"line{i}", port=i) for i in range(2)]
        factory.protocol = LoudProtocol
        loud = [signed_on(factory, f"loud{i}", port=10 + i) for i in range(3)]
        for each in [*line, *loud]:
            each.lines()
        before = factory.traffic.sent_bytes
        loud[0].send("hi")  # to the two line members and two loud ones, not to itself
        said = len(b"<loud0> hi\n")
        self.assertEqual(factory.traffic.sent_bytes - before, 2 * said + 2 * 2 * said)
        before = factory.traffic.sent_bytes
        line[0].send("/me waves")  # to one line member and three loud ones
        waved = len(b"* line0 waves\n")
        self.assertEqual(factory.traffic.sent_bytes - before, waved + 3 * 2 * waved)

    def _loud_room(
        self, renderer: object
    ) -> tuple[ChatFactory, list[Connection], list[Connection]]:
        """Two line members and two of a wire whose renderer is C{renderer}, in the lobby."""

        class OtherProtocol(ChatServerProtocol):
            pass

        OtherProtocol.events = renderer  # type: ignore[assignment]
        factory = make_factory(limits=Limits(rate=0, max_per_ip=0))
        line = [signed_on(factory, f"line{i}", port=i) for i in range(2)]
        factory.protocol = OtherProtocol
        other = [signed_on(factory, f"other{i}", port=10 + i) for i in range(2)]
        factory.protocol = ChatServerProtocol
        for each in [*line, *other]:
            each.lines()
        return factory, line, other

    def test_members_by_wire_counted_once_until_they_change(self) -> None:
        """
        A mixed room's members are counted by wire once, not at each line:
        again once someone comes or goes, and the bytes stay right.
        """
        factory, line, other = self._loud_room(Doubled())
        said = len(b"<line0> hi\n")
        with mock.patch.object(server, "_events_of", wraps=server._events_of) as looked_at:
            for n in range(3):
                before = factory.traffic.sent_bytes
                line[0].send("hi")  # to one line member and two doubled ones
                self.assertEqual(factory.traffic.sent_bytes - before, said + 2 * 2 * said, n)
            self.assertEqual(looked_at.call_count, 0, "counted when the last one came in")
            factory.protocol = type(other[0].protocol)
            late = signed_on(factory, "other2", port=20)  # into the lobby: a third doubled member
            factory.protocol = ChatServerProtocol
            for _ in range(3):
                before = factory.traffic.sent_bytes
                line[0].send("hi")
                self.assertEqual(factory.traffic.sent_bytes - before, said + 3 * 2 * said)
            self.assertEqual(looked_at.call_count, 5, "the five of them, counted once")
            late.send("/quit")
            other[1].send("/quit")
            before = factory.traffic.sent_bytes
            line[0].send("hi")  # to line1 and other0 only
            self.assertEqual(factory.traffic.sent_bytes - before, said + 2 * said)

    def test_members_by_wire_counted_again_when_a_renderer_changes(self) -> None:
        """
        A connection that takes another renderer while signed on (IRC's
        capabilities) says so (C{renderers_changed}), and its bytes are then
        counted as the new renderer's.
        """
        doubled, tripled = Doubled(), Doubled(3)
        factory, line, other = self._loud_room(doubled)
        said = len(b"<line0> hi\n")
        line[0].send("hi")
        before = factory.traffic.sent_bytes
        other[1].protocol.events = tripled  # type: ignore[misc]
        factory.renderers_changed += 1
        line[0].send("hi")  # to line1, other0 (doubled) and other1 (tripled)
        self.assertEqual(factory.traffic.sent_bytes - before, said + 2 * said + 3 * said)


class FanOutInPythonTests(FanOutTests):
    """
    L{FanOutTests} where the package's extension was not built: every member
    picked by L{ChatFactory._deliver}, in Python (where it is built, only
    those that L{eagertcp.deliver_each} leaves to it).
    """

    def setUp(self) -> None:
        self.patch(server, "deliver_each", None)
        super().setUp()


class SeveralWiresInPythonTests(SeveralWiresTests):
    """L{SeveralWiresTests} where the package's extension was not built."""

    def setUp(self) -> None:
        self.patch(server, "deliver_each", None)
