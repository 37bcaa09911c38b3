"""
The stream connection layer that every TCP-based frontend reuses: lines in,
held to their length and to an input rate; output out, batched per reactor
turn, sent straight to the socket where it can be, counted while the peer
does not read and dropped past the bounds; TLS handshakes, keepalive, and
closing that never waits for ever; and the server side that counts
connections in all and per address.

A frontend subclasses L{StreamConnection} for its framing and its renderer
(L{chatsvc.frontends.line.server}), and L{StreamServerFactory} for what its
connections share.

test-case-name: tests.frontends.line.test_hardening, tests.frontends.line.test_tls
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from typing import Any, ClassVar, Generic, TypeVar, cast

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IDelayedCall,
    IHandshakeListener,
    INegotiated,
    IPushProducer,
    IReactorTime,
    ITCPTransport,
)
from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from chatsvc.streams.eagertcp import EagerServer, set_direct
from chatsvc.streams.limits import Limits, TokenBucket
from chatsvc.streams.traffic import Traffic

SHUTDOWN_GRACE = 5.0
"""Seconds a stopping server waits for goodbyes to flush before it hangs up."""

JOINS_KEPT = 4
"""
Writes a turn's end keeps for connections owed the same (L{StreamServerFactory.joined}):
one for each wire of a busy room, so that what is kept stays a few writes' size.
"""

HANG_UP_GRACE = 5.0
"""
Seconds a connection being closed has to take its last line: then it is
aborted, so that a peer that does not read (or a TLS handshake that never
ends) cannot keep its slot.
"""


def describe_address(address: IAddress, serial: int | None = None) -> str:
    """
    C{host:port} for IPv4 peers, C{[host]:port} for IPv6, C{unix#N} for UNIX
    sockets: their peers have no address of their own, so the log tells them
    apart by the connection's C{serial} number.
    """
    if isinstance(address, IPv4Address | IPv6Address):
        host = f"[{address.host}]" if isinstance(address, IPv6Address) else address.host
        return f"{host}:{address.port}"
    if isinstance(address, UNIXAddress):
        return "unix" if serial is None else f"unix#{serial}"
    return str(address)


def peer_host(address: IAddress | None, ipv6_prefix: int = 128) -> str | None:
    """
    What C{--max-per-ip} counts the peer under: its IPv4 address, or its IPv6
    network of C{ipv6_prefix} bits (one host may have a whole /64), or
    L{None} for a peer without an IP address. An IPv4 address mapped into
    IPv6 counts as the IPv4 address.
    """
    if isinstance(address, IPv4Address):
        return address.host
    if isinstance(address, IPv6Address):
        ip = ipaddress.IPv6Address(address.host.partition("%")[0])
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return None


def peer_address(transport: object) -> str | None:
    """
    The IP address of C{transport}'s peer (an IPv4 address mapped into IPv6
    as IPv4), what a ban's network matches; L{None} without one.
    """
    get_peer = getattr(transport, "getPeer", None)
    if get_peer is None:
        return None
    address = get_peer()
    if isinstance(address, IPv4Address):
        return str(address.host)
    if isinstance(address, IPv6Address):
        ip = ipaddress.IPv6Address(address.host.partition("%")[0])
        return str(ip.ipv4_mapped or ip)
    return None


def _set_user_timeout(transport: ITCPTransport, seconds: float) -> None:
    """
    Have the kernel abort the connection once data it sent has gone
    unacknowledged for C{seconds}, a closed window included (C{TCP_USER_TIMEOUT},
    Linux): what a peer that never reads pins in the kernel's send buffer is
    not ours to count, but this bounds how long it stays.
    """
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    handle = _socket_of(transport)
    if option is None or handle is None:
        return
    with contextlib.suppress(OSError):  # not a TCP socket after all: nothing to bound
        handle.setsockopt(socket.IPPROTO_TCP, option, int(seconds * 1000))


def _socket_of(transport: object) -> socket.socket | None:
    """The socket under a TCP transport, or under TLS over one; None for others."""
    for layer in (transport, getattr(transport, "transport", None)):
        get_handle = getattr(layer, "getHandle", None)
        handle = None if get_handle is None else get_handle()
        if isinstance(handle, socket.socket):
            return handle
    return None


@implementer(IHandshakeListener, IPushProducer)
class StreamConnection(Protocol):
    """
    One connection, over TCP, TLS, or a UNIX socket, held to its server's
    L{Limits}. A subclass frames its wire: it gets each line that fits
    (L{line_received}), having paid a token of the input budget for it (an
    over-long line costs one too, and is refused with L{line_too_long}), and
    writes with L{send}, ending with L{hang_up}.

    Under TLS the transport is a L{twisted.protocols.tls.TLSMemoryBIOProtocol}
    over the TCP connection: TCP options reach the socket through it, and so
    does the backlog of a peer that does not read. Until the handshake is
    done, TLS holds what is written and says so as if the peer were not
    reading; reading on then is what completes the handshake.
    """

    delimiter: ClassVar[bytes] = b"\n"
    wire: ClassVar[str] = "line"
    """The name of its frontend's wire, in statistics and metrics."""
    max_input: ClassVar[int | None] = None
    """The longest line read, if the wire sets its own (IRC's); else the server's C{max_line}."""
    factory: StreamServerFactory[Any]
    transport: ITCPTransport
    _log = Logger()

    # Our own state in slots: with the attributes Twisted's classes add, a
    # dict would pass the size at which instances share their keys, and cost
    # each of thousands of idle connections a dict of its own (1.5 KiB).
    __slots__ = (
        "_backlogged",
        "_bucket",
        "_buffer",
        "_closing",
        "_direct",
        "_discarding",
        "_handshaking",
        "_held",
        "_holding",
        "_host",
        "_hung_up",
        "_lost",
        "_peer",
        "_queued",
        "_receiving",
        "_refill",
        "_stalled",
        "_throttled",
        "_turn",
        "_waiting",
        "_writing",
        "paused",
    )

    def __init__(self) -> None:
        self._peer: str | None = None  # who is at the other end, if not the transport's peer
        self.paused = False  # reading from the peer is paused
        self._buffer = b""
        self._hung_up = False
        self._lost = False
        self._discarding = False  # inside an over-long line, until its end
        self._receiving = False
        self._throttled = False  # out of input budget: reads paused
        self._backlogged = False  # the peer is not reading: its reads paused too
        self._waiting = False  # the frontend waits (a verdict, a delay): reads paused
        self._handshaking = False  # TLS, before its handshake is done
        self._holding = False  # output is held by the frontend: none may go straight
        self._queued = 0  # bytes written while backlogged
        self._writing = 0  # bytes of the write being made, while it is made
        self._stalled: IDelayedCall | None = None  # --send-timeout, while backlogged
        self._closing: IDelayedCall | None = None  # the abort after HANG_UP_GRACE
        self._bucket: TokenBucket | None = None
        self._refill: IDelayedCall | None = None
        # Written after the first write of this turn; None, not an empty list,
        # the rest of the time: 56 bytes an idle connection does not need.
        self._held: list[bytes] | None = None
        self._turn = 0  # the last reactor turn this connection was written to in
        # The transport, while lines may go straight to its socket (the fan-out).
        self._direct: EagerServer | None = None
        self._host: str | None = None  # what the factory counts it under (peer_host)

    @property
    def peer(self) -> str:
        """
        Who is at the other end, for the log: made when asked, from the
        transport, not kept (64 bytes for each of thousands of idle connections).
        """
        if self._peer is not None:
            return self._peer
        transport = self.transport
        return "?" if transport is None else describe_address(transport.getPeer())

    @peer.setter
    def peer(self, peer: str) -> None:
        self._peer = peer

    # For the frontend

    def connection_started(self) -> None:
        """The connection is made and set up: the frontend's turn to greet."""

    def connection_ended(self) -> None:
        """The connection is gone: the frontend's turn to let go."""

    def line_received(self, line: bytes) -> None:
        """A line that fits, without its delimiter (a C{\\r} before it is still there)."""

    def line_too_long(self) -> None:
        """A line over the limit was received, and is being discarded to its end."""

    def dropping(self) -> None:
        """The connection is about to be aborted for not taking its output."""

    # Connection events

    def connectionMade(self) -> None:
        limits = self.factory.limits
        self._handshaking = INegotiated.providedBy(self.transport)
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
            self.transport.setTcpKeepAlive(True)
            if limits.send_timeout:
                _set_user_timeout(self.transport, limits.send_timeout)
        # Its own producer (not an object of its own: that costs each idle
        # connection 40 bytes): the transport says when its buffer is full
        # and when it has drained, and the connection counts what it queues between.
        IConsumer(self.transport).registerProducer(self, True)
        self._update_direct()
        self._bucket = TokenBucket(limits.rate, limits.burst, self.factory.clock.seconds())
        self._log.info("{peer} connected", peer=self.peer)
        self.connection_started()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._lost = True
        for timer in (self._refill, self._stalled, self._closing):
            if timer is not None and timer.active():
                timer.cancel()
        self.connection_ended()
        self._log.info("{peer} disconnected: {why}", peer=self.peer, why=reason.getErrorMessage())
        self.factory.connection_lost(self)

    def handshakeCompleted(self) -> None:
        """
        TLS is set up. Writes held until now are sent next, and the backlog
        they counted as cleared then (not here, so reading does not stop and
        start again in between).
        """
        self._handshaking = False
        if self._backlogged:
            self._start_send_timer()

    # Input: lines, their length, their rate

    def dataReceived(self, data: bytes) -> None:
        """
        Split C{data} into lines and handle each, as LineReceiver does; written
        here because LineReceiver, given an over-long line, drops everything
        received after it as well, and copies its buffer once per line.
        """
        self._buffer += data
        if self._receiving:
            return
        self._receiving = True
        try:
            self._handle_lines()
        finally:
            self._receiving = False

    def _handle_lines(self) -> None:
        limit = self.max_input or self.factory.limits.max_line
        delimiter = self.delimiter
        buffer, start = self._buffer, 0
        while not self.paused and not self._hung_up:
            end = buffer.find(delimiter, start)
            if end == -1:
                break
            line = buffer[start:end]
            if self._discarding:
                # The end of a line already refused as too long: paid for then.
                self._discarding = False
            elif self._budget_spent():
                break
            elif len(line) > limit + 1 or (len(line) > limit and not line.endswith(b"\r")):
                self.line_too_long()
            else:
                self.line_received(line)
            start = end + len(delimiter)
        rest = buffer[start:]
        if self._hung_up or self._discarding:
            rest = b""
        elif not self.paused and len(rest) > limit + 1 and not self._budget_spent():
            self.line_too_long()
            self._discarding = True
            rest = b""
        self._buffer = rest

    def _budget_spent(self) -> bool:
        """
        Take a line's worth of budget; if there is none, pause reading until
        there is. Every line costs the same, a refused one (too long) too.
        """
        assert self._bucket is not None
        now = self.factory.clock.seconds()
        if self._bucket.take(now):
            return False
        self._throttled = True
        self.factory.traffic.throttled += 1
        self._update_reading()
        self._refill = self.factory.clock.callLater(self._bucket.wait(now), self._refilled)
        return True

    def charge(self, lines: int) -> None:
        """Count C{lines} more against the input rate: a request dearer than a line."""
        assert self._bucket is not None
        self._bucket.charge(self.factory.clock.seconds(), lines)

    def _refilled(self) -> None:
        self._refill = None
        self._throttled = False
        self._update_reading()

    def wait(self, waiting: bool) -> None:
        """Read nothing from the peer while C{waiting}: its frontend waits for something."""
        self._waiting = waiting
        self._update_reading()

    def _update_reading(self) -> None:
        """Read from the peer unless it is over its rate, not reading us, or waited for."""
        backlogged = self._backlogged and not self._handshaking
        pause = self._throttled or backlogged or self._waiting
        if pause and not self.paused:
            self.paused = True
            IPushProducer(self.transport).pauseProducing()
        elif not pause and self.paused and not self._hung_up:
            self.paused = False
            IPushProducer(self.transport).resumeProducing()
            self.dataReceived(b"")

    # Output: what is queued for a peer that does not read

    def pauseProducing(self) -> None:
        """The transport's buffer is full (IPushProducer): the peer does not read."""
        self.peer_stopped_reading()

    def resumeProducing(self) -> None:
        """The transport's buffer has drained (IPushProducer)."""
        self.peer_caught_up()

    def stopProducing(self) -> None:
        """The transport is gone (IPushProducer): connectionLost does the rest."""

    def peer_stopped_reading(self) -> None:
        # Transports say so again on every write while their buffer is full.
        if not self._backlogged:
            self._backlogged = True
            # The write that filled the buffer counts: it may be a large reply.
            self._queued = self._writing
            if not self._handshaking:
                self._start_send_timer()
            self._update_reading()

    def peer_caught_up(self) -> None:
        self._backlogged = False
        if self._stalled is not None:
            if self._stalled.active():
                self._stalled.cancel()
            self._stalled = None
        self._update_reading()

    def _start_send_timer(self) -> None:
        """Drop the connection if what it is owed is not taken within C{--send-timeout}."""
        timeout = self.factory.limits.send_timeout
        if timeout and self._stalled is None and not self._hung_up:
            self._stalled = self.factory.clock.callLater(timeout, self._send_timed_out)

    def _send_timed_out(self) -> None:
        self._stalled = None
        timeout = self.factory.limits.send_timeout
        self._drop(
            "{peer} dropped: its output has not drained for {timeout} seconds", timeout=timeout
        )

    def send(self, data: bytes) -> None:
        """Write C{data}: at once if it is the first this turn, else at the turn's end."""
        if self._hung_up:
            return
        if self._backlogged:
            self._queued += len(data)
            if self._over_send_buffer():
                return
        # The first write of a reactor turn goes out at once; later ones wait
        # for the end of the turn, to go out together (StreamServerFactory.turn).
        factory = self.factory
        if self._turn == factory.turn_number:
            if self._held is None:
                factory.hold(self)
                self._held = [data]
            else:
                self._held.append(data)
            return
        self._turn = factory.turn()
        self._write_out(data)

    def _write_out(self, data: bytes) -> None:
        """
        Give C{data} to the transport. If that fills its buffer, the transport
        pauses us (L{peer_stopped_reading}) before it returns, and the bytes of
        this write are the first counted against C{--max-send-buffer}.
        """
        self._writing = len(data)
        self.transport.write(data)
        self._writing = 0
        if self._backlogged:
            self._over_send_buffer()

    def _over_send_buffer(self) -> bool:
        """Drop the connection if more is queued for it than C{--max-send-buffer}."""
        limit = self.factory.limits.max_send_buffer
        if limit and self._queued > limit and not self._hung_up:
            self._drop(
                "{peer} dropped: over {limit} bytes queued and it is not reading", limit=limit
            )
            return True
        return False

    def holding(self, holding: bool) -> None:
        """The frontend holds output (or no longer does): nothing of it may go past."""
        self._holding = holding
        self._update_direct()

    def _update_direct(self) -> None:
        """
        Let lines go straight to the socket (the fan-out) if the transport can
        take them so (plain TCP, L{EagerServer}) and nothing of the frontend's
        must go first: no output held, not hung up.
        """
        set_direct(self, not self._hung_up and not self._holding)

    def flush(self) -> None:
        """Write what was held since the first write of this turn, in one go."""
        held, self._held = self._held, None
        if held and not self._hung_up and not self._lost:
            self._write_out(self.factory.joined(held))

    def _drop(self, why: str, **fields: object) -> None:
        """Abort a connection that does not take what it is sent."""
        self._log.warn(why, peer=self.peer, **fields)
        self.factory.traffic.dropped += 1
        # The frontend signs off when the connection is lost, not here: this
        # may run while the model is delivering an event to a room, member by member.
        self.dropping()
        self._hung_up = True
        self._update_direct()
        self.transport.abortConnection()

    def hang_up(self, last: bytes) -> None:
        """Write what was held this turn, then C{last}, and close."""
        self.flush()
        self._hung_up = True
        self._update_direct()
        # A transport with a producer registered does not close until it is gone.
        IConsumer(self.transport).unregisterProducer()
        if self._handshaking:
            # TLS would wait for the handshake to end before it closed, and a
            # peer that sent nothing never ends it: there is nobody to tell.
            self.transport.abortConnection()
            return
        self.transport.write(last)
        self.transport.loseConnection()
        if self._closing is None:
            self._closing = self.factory.clock.callLater(HANG_UP_GRACE, self._abort)

    def _abort(self) -> None:
        self._closing = None
        self._log.info("{peer} did not take its last line in time", peer=self.peer)
        self.transport.abortConnection()


class RefusedConnection(Protocol):
    """
    A connection over a limit: it is told why, and closed; aborted if it has
    not taken that within L{HANG_UP_GRACE} seconds (a TLS peer that never
    does its handshake would otherwise keep the socket open).
    """

    def __init__(self, notice: bytes, clock: IReactorTime) -> None:
        self.notice = notice
        self.clock = clock
        self._abort: IDelayedCall | None = None

    def connectionMade(self) -> None:
        transport = cast(ITCPTransport, self.transport)
        transport.write(self.notice)
        transport.loseConnection()
        self._abort = self.clock.callLater(HANG_UP_GRACE, transport.abortConnection)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._abort is not None and self._abort.active():
            self._abort.cancel()


Connection = TypeVar("Connection", bound=StreamConnection)


class StreamServerFactory(ServerFactory, Generic[Connection]):
    """
    What a server's stream connections share: the limits they are held to, the
    clock, the connections open (in all and per address), and the reactor
    turn their writes are batched in. A frontend's factory says what a
    connection over a limit is told (L{refusal}).
    """

    noisy = False  # the service logs where it listens; "Starting factory <...>" says nothing
    _log = Logger()

    def __init__(self, *, limits: Limits | None = None, clock: IReactorTime | None = None) -> None:
        if clock is None:
            from twisted.internet import reactor

            clock = cast(IReactorTime, reactor)
        self.limits = limits if limits is not None else Limits()
        self.clock = clock
        self.connections: set[Connection] = set()
        # Odd between turns, even during one; a connection remembers the even
        # number of the last turn it was written to in.
        self.turn_number = 1
        self._turn_open = False
        self._held: list[StreamConnection] = []
        # The last writes made at this turn's end, by their pieces (see joined).
        self._joined: dict[tuple[int, int], tuple[list[bytes], bytes]] = {}
        self._ending = False
        self._per_host: dict[str, int] = {}
        self._all_closed: list[Deferred[None]] = []
        self._serial = 0  # connections ever accepted, to tell UNIX-socket peers apart
        self.traffic = Traffic(clock.seconds())

    def refusal(self, full: bool) -> bytes:
        """What a connection refused is told: the server is C{full}, or its address is."""
        raise NotImplementedError

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        """A connection of this factory's own C{protocol}, or a refusal (L{build})."""
        return self.build(addr, cast("type[StreamConnection]", self.protocol))

    def for_frontend(self, protocol: type[StreamConnection]) -> ServerFactory:
        """
        The factory for a listener whose connections are C{protocol}'s (another
        frontend's), counted and served with this factory's own: itself, for
        its own C{protocol}.
        """
        if protocol is cast(object, self.protocol):
            return self
        return _FrontendFactory(self, protocol)

    def build(self, addr: IAddress | None, kind: type[Protocol]) -> Protocol | None:
        """A connection of C{kind}, or a refusal if the server or the address is full."""
        limits = self.limits
        host = peer_host(addr, limits.ipv6_prefix)
        if limits.max_clients and len(self.connections) >= limits.max_clients:
            self._log.warn(
                "Refused {peer}: {n} connections open", peer=addr, n=len(self.connections)
            )
            return RefusedConnection(self.refusal(True), self.clock)
        if (
            host is not None
            and limits.max_per_ip
            and self._per_host.get(host, 0) >= limits.max_per_ip
        ):
            self._log.warn(
                "Refused {host}: {n} connections from it", host=host, n=limits.max_per_ip
            )
            return RefusedConnection(self.refusal(False), self.clock)
        protocol = cast(Connection, kind())
        protocol.factory = self
        assert isinstance(protocol, StreamConnection)
        self._serial += 1
        if addr is not None and not isinstance(addr, IPv4Address | IPv6Address):
            # Told apart by number (describe_address); an IP peer, by its address.
            protocol.peer = describe_address(addr, self._serial)
        if host is not None:
            protocol._host = host
            self._per_host[host] = self._per_host.get(host, 0) + 1
        # Counted now, not at connectionMade, so that a burst of connections
        # accepted in one go is held to the limit too.
        self.connections.add(protocol)
        self.traffic.accepted[kind] += 1
        return protocol

    def turn(self) -> int:
        """
        The number of this turn of the reactor, for a connection about to be
        written to.

        A connection's first write in a turn goes straight to its transport
        (with L{chatsvc.streams.eagertcp}, straight to the kernel); what else it is
        given in the same turn is held (L{hold}) and written in one go when
        the turn ends: a busy server sends each connection one write per turn,
        however many lines it got, and an idle one delays nothing.
        """
        if not self._turn_open:
            self._turn_open = True
            self.turn_number += 1
            self.clock.callLater(0, self._end_turn)
        return self.turn_number

    def _end_turn(self) -> None:
        self._turn_open = False
        self.turn_number += 1  # so that no connection still counts as written to
        held, self._held = self._held, []
        self._ending = True
        try:
            for protocol in held:
                protocol.flush()
        finally:
            self._ending = False
            self._joined.clear()

    def joined(self, pieces: list[bytes]) -> bytes:
        """
        C{pieces} as one write (a single piece as it is). At the end of a
        turn, connections are often owed the same pieces (in a burst, every
        reader of a room gets every line said in it but the first, which
        went out at once): their write is made once for all of them, as a
        room's line is rendered once, rather than once for each, and the
        readers' sends then copy from the one buffer. The last few writes of
        the turn's end are kept until it is over, each found again by its
        number of pieces and its last (whose bytes tell wires and rooms
        apart), then compared piece by piece.
        """
        if len(pieces) == 1:
            return pieces[0]
        key = (len(pieces), id(pieces[-1]))
        known = self._joined.get(key)
        if known is not None and known[0] == pieces:
            return known[1]
        data = b"".join(pieces)
        if self._ending:
            kept = self._joined
            if len(kept) >= JOINS_KEPT and key not in kept:
                del kept[next(iter(kept))]  # the oldest
            kept[key] = (pieces, data)
        return data

    def hold(self, protocol: StreamConnection) -> None:
        """C{protocol} has writes held until the end of the turn."""
        self._held.append(protocol)

    def connection_lost(self, protocol: Connection) -> None:
        self.connections.discard(protocol)
        host, protocol._host = protocol._host, None
        if host is not None:
            self._per_host[host] -= 1
            if not self._per_host[host]:
                del self._per_host[host]
        if not self.connections:
            waiting, self._all_closed = self._all_closed, []
            for d in waiting:
                d.callback(None)

    def connections_from(self, host: str) -> int:
        """How many connections are open from C{host}."""
        return self._per_host.get(host, 0)

    def all_closed(self, grace: float) -> Deferred[None]:
        """
        Fires once every connection is closed; those still open after C{grace}
        seconds are aborted.
        """
        if not self.connections:
            return succeed(None)
        done: Deferred[None] = Deferred()
        self._all_closed.append(done)
        timer = self.clock.callLater(grace, self._abort_all)
        done.addBoth(_cancel_timer, timer)
        return done

    def _abort_all(self) -> None:
        for protocol in list(self.connections):
            self._log.warn("{peer} did not take its goodbye in time", peer=protocol.peer)
            protocol.transport.abortConnection()


class _FrontendFactory(ServerFactory):
    """A listener's factory for another frontend's connections, served by C{server}."""

    noisy = False

    def __init__(self, server: StreamServerFactory[Any], kind: type[StreamConnection]) -> None:
        self.server = server
        self.kind = kind

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        return self.server.build(addr, self.kind)


def _cancel_timer(result: None, timer: IDelayedCall) -> None:
    if timer.active():
        timer.cancel()
    return result
