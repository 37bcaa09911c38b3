"""
The server side of the line protocol: a thin adapter between a connection's
bytes and the chat model.

A connection first answers the nickname prompt; once it has a nickname it is
a L{Participant} in the model, and each line it sends is parsed into a
command (L{chatsvc.chat.commands}) and carried out by the model. The model tells
participants what happened through L{ChatServerProtocol.deliver}.

A registered nickname (see L{chatsvc.accounts}) is asked for its password
next, on a line of its own, and the login goes through the factory's
L{Portal}::

    *** Choose a nickname:
    alice
    *** Password for alice:
    hunter2
    *** Hello alice! Type /help for the commands.

A wrong password gets an error, then, after L{PASSWORD_DELAY} seconds in which
nothing more is read, the prompt again; the third wrong one, after the same
delay, a goodbye. An empty line goes back to the nickname prompt. Password
lines are never echoed, relayed or logged.

Room messages and actions are kept in the factory's L{IHistory}; a user who
joins a room is shown its recent history first, and output that comes while a
lookup is in flight waits behind it (L{chatsvc.history.replay}).

Every connection is held to the server's L{Limits}: line length, input rate
(by pausing reads, so nothing is dropped), output queued for a peer that does
not read, time to choose a nickname, connections in all and per address.

test-case-name: tests.frontends.line.test_server, tests.frontends.line.test_login
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import socket
from collections.abc import Callable, Collection, Iterable
from functools import partial
from typing import Any, cast

from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import Portal
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
from twisted.protocols.basic import LineReceiver
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from zope.interface import implementer

from chatsvc.chat import commands
from chatsvc.chat.commands import SEARCH_RESULTS, CommandError
from chatsvc.chat.events import Action, Event, Kicked, Message, PrivateMessage
from chatsvc.chat.interfaces import IAccount, IChatClient
from chatsvc.chat.model import Account, Chat, ChatError, Participant, Room, is_valid_name
from chatsvc.frontends.line import wire
from chatsvc.history import IHistory, NoHistory, replay
from chatsvc.history.replay import reply_budget
from chatsvc.streams.eagertcp import EagerServer
from chatsvc.streams.limits import Limits, TokenBucket

GREETING = wire.notice("Welcome to chatsvc!")
PROMPT = wire.notice("Choose a nickname:")
SHUTDOWN = wire.notice("The server is shutting down. Goodbye!")
BYE = wire.notice("Bye!")
LOGIN_TIMEOUT = wire.notice("Timed out waiting for a nickname. Goodbye!")
PASSWORD_TIMEOUT = wire.notice("Timed out waiting for a password. Goodbye!")
TOO_MANY_FAILURES = wire.notice("Too many wrong passwords. Goodbye!")
CANNOT_CHECK = wire.notice("Passwords cannot be checked now; try again later. Goodbye!")
SERVER_FULL = wire.notice("The server is full; try again later.")
ADDRESS_FULL = wire.notice("Too many connections from your address; try again later.")

SHUTDOWN_GRACE = 5.0
"""Seconds a stopping server waits for goodbyes to flush before it hangs up."""

HANG_UP_GRACE = 5.0
"""
Seconds a connection being closed has to take its last line: then it is
aborted, so that a peer that does not read (or a TLS handshake that never
ends) cannot keep its slot.
"""

REASON_ROOM = 100
"""Bytes of a line kept for what surrounds a leave or kick reason (names, room)."""

PASSWORD_DELAY = 3.0
"""Seconds between a wrong password and the next prompt (or the goodbye)."""

LOOKUP_COST = 5
"""
What a history lookup (the replay on joining, C{/history}, C{/search}) costs
against C{--rate}, in lines: the line that asked for it and four more. A
lookup costs the server far more than a line does.
"""

PASSWORD_ATTEMPTS = 3
"""Wrong passwords a connection may give before it is closed."""


def password_prompt(account: str) -> bytes:
    """The notice that asks for the password of C{account}."""
    return wire.notice(f"Password for {account}:")


def password_of(line: bytes) -> bytes:
    """
    The password on a received line: exactly as typed, but for the C{\r} of
    a C{\r\n} line ending. Not decoded or sanitised: it is only compared.
    """
    return line[:-1] if line.endswith(b"\r") else line


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


@implementer(IPushProducer)
class _SendBacklog:
    """
    Registered with a connection's transport as its producer, so the transport
    says when its buffer is full (C{pauseProducing}) and when it has drained
    (C{resumeProducing}); the protocol counts what it queues in between.
    """

    def __init__(self, protocol: ChatServerProtocol) -> None:
        self._protocol = protocol

    def pauseProducing(self) -> None:
        self._protocol.peer_stopped_reading()

    def resumeProducing(self) -> None:
        self._protocol.peer_caught_up()

    def stopProducing(self) -> None:
        pass


class _Stage(enum.Enum):
    """Where a connection is in signing on."""

    NICKNAME = "nickname"  # waiting for a nickname
    PASSWORD = "password"  # waiting for the password of a registered nickname
    CHECKING = "checking"  # the portal is checking it; reading is paused
    REFUSED = "refused"  # a wrong password: waiting out the delay, reading paused
    SIGNED_ON = "signed on"
    QUITTING = "quitting"  # signed off; the answers to lookups in flight come, then Bye


@implementer(IChatClient, IHandshakeListener)
class ChatServerProtocol(LineReceiver, TimeoutMixin):
    """
    One connection to the chat server, over TCP, TLS, or a UNIX socket.

    Under TLS the transport is a L{twisted.protocols.tls.TLSMemoryBIOProtocol}
    over the TCP connection: TCP options reach the socket through it, and so
    does the backlog of a peer that does not read. Until the handshake is
    done, TLS holds what is written and says so as if the peer were not
    reading; reading on then is what completes the handshake.
    """

    delimiter = b"\n"
    factory: ChatFactory
    transport: ITCPTransport
    participant: Participant | None
    _lookups: replay.Lookups
    _log = Logger()

    # Our own state in slots: with the attributes Twisted's classes add, a
    # dict would pass the size at which instances share their keys, and cost
    # each of thousands of idle connections a dict of its own (1.5 KiB).
    __slots__ = (
        "_backlogged",
        "_bucket",
        "_closing",
        "_delay",
        "_direct",
        "_discarding",
        "_failures",
        "_handshaking",
        "_held",
        "_hung_up",
        "_leave_reason",
        "_login",
        "_logout",
        "_lookups",
        "_lost",
        "_queued",
        "_receiving",
        "_refill",
        "_stage",
        "_stalled",
        "_throttled",
        "_turn",
        "_writing",
        "participant",
        "peer",
    )

    def __init__(self) -> None:
        self.participant = None
        self.peer = "?"
        self._hung_up = False
        self._discarding = False  # inside an over-long line, until its end
        self._receiving = False
        self._throttled = False  # out of input budget: reads paused
        self._backlogged = False  # the peer is not reading: its reads paused too
        self._handshaking = False  # TLS, before its handshake is done
        self._queued = 0  # bytes written while backlogged
        self._writing = 0  # bytes of the write being made, while it is made
        self._stalled: IDelayedCall | None = None  # --send-timeout, while backlogged
        self._closing: IDelayedCall | None = None  # the abort after HANG_UP_GRACE
        self._bucket: TokenBucket | None = None
        self._refill: IDelayedCall | None = None
        self._leave_reason: str | None = None
        self._held: list[bytes] = []  # written after the first write of this turn
        self._turn = 0  # the last reactor turn this connection was written to in
        # The transport, while room lines may go straight to its socket (fan_out).
        self._direct: EagerServer | None = None
        self._stage = _Stage.NICKNAME
        self._login: tuple[str, str] | None = None  # nickname and account asked for
        self._failures = 0  # wrong passwords given
        self._delay: IDelayedCall | None = None
        self._logout: Callable[[], object] | None = None
        self._lost = False

    # Connection events

    def connectionMade(self) -> None:
        limits = self.factory.limits
        if self.peer == "?":
            self.peer = describe_address(self.transport.getPeer())
        self._handshaking = INegotiated.providedBy(self.transport)
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
            self.transport.setTcpKeepAlive(True)
            if limits.send_timeout:
                _set_user_timeout(self.transport, limits.send_timeout)
        IConsumer(self.transport).registerProducer(_SendBacklog(self), True)
        self._lookups = replay.Lookups(self._send, self.factory.clock, idle=self._update_direct)
        self._update_direct()
        self._bucket = TokenBucket(limits.rate, limits.burst, self.factory.clock.seconds())
        self.setTimeout(limits.login_timeout or None)
        self._log.info("{peer} connected", peer=self.peer)
        self.transport.write(GREETING + PROMPT)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._lost = True
        self.setTimeout(None)
        for timer in (self._refill, self._delay, self._stalled, self._closing):
            if timer is not None and timer.active():
                timer.cancel()
        self._lookups.stop()
        self._sign_off(self._leave_reason)
        if self._logout is not None:
            logout, self._logout = self._logout, None
            logout()
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

    def callLater(self, period: float, func: Callable[[], object]) -> IDelayedCall:
        """TimeoutMixin's timer, on the factory's clock."""
        return self.factory.clock.callLater(period, func)

    def timeoutConnection(self) -> None:
        if self._stage is _Stage.NICKNAME:
            self._log.info("{peer} gave no nickname in time", peer=self.peer)
            self._hang_up(LOGIN_TIMEOUT)
        else:
            self._log.info("{peer} gave no password in time", peer=self.peer)
            self._hang_up(PASSWORD_TIMEOUT)

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
        limit = self.factory.limits.max_line
        buffer, start = self._buffer, 0
        while not self.paused and not self._hung_up:
            end = buffer.find(b"\n", start)
            if end == -1:
                break
            line = buffer[start:end]
            if self._discarding:
                # The end of a line already refused as too long: paid for then.
                self._discarding = False
            elif self._budget_spent():
                break
            elif len(line) > limit + 1 or (len(line) > limit and not line.endswith(b"\r")):
                self._too_long()
            else:
                self.lineReceived(line)
            start = end + 1
        rest = buffer[start:]
        if self._hung_up or self._discarding:
            rest = b""
        elif not self.paused and len(rest) > limit + 1 and not self._budget_spent():
            self._too_long()
            self._discarding = True
            rest = b""
        self._buffer = rest

    def _too_long(self) -> None:
        limit = self.factory.limits.max_line
        self._error(f"line too long (over {limit} bytes); it was discarded")

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
        self._update_reading()
        self._refill = self.factory.clock.callLater(self._bucket.wait(now), self._refilled)
        return True

    def _refilled(self) -> None:
        self._refill = None
        self._throttled = False
        self._update_reading()

    def _update_reading(self) -> None:
        """
        Read from the peer unless it is over its rate, not reading us, or
        waiting for the verdict on a password.
        """
        waiting = self._stage in (_Stage.CHECKING, _Stage.REFUSED, _Stage.QUITTING)
        backlogged = self._backlogged and not self._handshaking
        pause = self._throttled or backlogged or waiting
        if pause and not self.paused:
            self.pauseProducing()
        elif not pause and self.paused and not self._hung_up:
            self.resumeProducing()

    # Output: what is queued for a peer that does not read

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

    def _write(self, data: bytes) -> None:
        if self._lookups.busy:
            self._lookups.hold(data)
        else:
            self._send(data)

    def _send(self, data: bytes) -> None:
        if self._hung_up:
            return
        if self._backlogged:
            self._queued += len(data)
            if self._over_send_buffer():
                return
        # The first write of a reactor turn goes out at once; later ones wait
        # for the end of the turn, to go out together (ChatFactory.turn).
        factory = self.factory
        if self._turn == factory.turn_number:
            if not self._held:
                factory.hold(self)
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

    def _update_direct(self) -> None:
        """
        Let room lines go straight to the socket (L{ChatFactory.fan_out}) if
        the transport can take them so (plain TCP, L{EagerServer}) and nothing
        of ours must go first: no lookup's answer awaited, not hung up.
        """
        transport = self.transport
        ready = not self._hung_up and not self._lookups.busy
        self._direct = transport if isinstance(transport, EagerServer) and ready else None

    def flush(self) -> None:
        """Write what was held since the first write of this turn, in one go."""
        held, self._held = self._held, []
        if held and not self._hung_up and not self._lost:
            self._write_out(held[0] if len(held) == 1 else b"".join(held))

    def _drop(self, why: str, **fields: object) -> None:
        """Abort a connection that does not take what it is sent; its room is told."""
        self._log.warn(why, peer=self.peer, **fields)
        # Signed off when the connection is lost, not here: this runs while
        # the model is delivering an event to a room, member by member.
        self._hung_up = True
        self._update_direct()
        self._leave_reason = "not reading"
        self.transport.abortConnection()

    def lineReceived(self, line: bytes) -> None:
        if self.participant is not None:
            self._perform(self.participant, wire.decode(line))
        elif self._stage is _Stage.PASSWORD:
            self._check_password(password_of(line))
        elif self._stage is _Stage.NICKNAME:
            self._nickname(wire.decode(line).strip())

    # IChatClient

    def deliver(self, event: Event) -> None:
        self._write(wire.render(event))

    def kicked(self, event: Kicked) -> None:
        self.participant = None
        self._hang_up(wire.kicked(event))

    # Signing on and off

    def _nickname(self, nick: str) -> None:
        if nick.lower() == "/quit" or nick.lower().startswith("/quit "):
            self._quit(None)
            return
        if not nick:
            self._write(PROMPT)
            return
        chat = self.factory.chat
        # A registered nickname is asked for its password first, taken or
        # not: whoever knows it may have it (L{_take_over}), and nothing
        # typed after it is ever read as another nickname.
        account = chat.registered(nick) if is_valid_name(nick) else None
        if account is None:
            try:
                chat.check_nick(nick)
            except ChatError as e:
                self._write(self._clipped_error(str(e)) + PROMPT)
                return
            self._sign_on(nick, None)
        else:
            self._login = (nick, account)
            self._stage = _Stage.PASSWORD
            self._write(password_prompt(account))

    def _check_password(self, password: bytes) -> None:
        assert self._login is not None
        account = self._login[1]
        if not password:
            self._stage = _Stage.NICKNAME
            self._write(PROMPT)
            return
        portal = self.factory.portal
        assert portal is not None, "a chat with accounts needs a portal"
        self._stage = _Stage.CHECKING
        credentials = UsernamePassword(account.encode(), password)
        checked = portal.login(credentials, None, IAccount)
        checked.addCallbacks(self._logged_in, self._login_failed, errbackArgs=(account,))
        if self._stage is _Stage.CHECKING:
            self._update_reading()

    def _logged_in(self, login: tuple[Any, Account, Callable[[], object]]) -> None:
        _, account, logout = login
        if self._lost or self._hung_up:
            logout()
            return
        assert self._login is not None
        self._take_over(self._login[0])
        self._sign_on(self._login[0], account)
        if self.participant is None:
            logout()  # refused after all: back at the nickname prompt, logged in to nothing
        else:
            self._logout = logout
        self._update_reading()

    def _take_over(self, nick: str) -> None:
        """
        Whoever has C{nick} now leaves it to this connection, which has just
        logged in to its account: the same user signed on elsewhere (a bot's
        previous connection that lingers), or a guest who took it before it
        was registered.
        """
        holder = self.factory.chat.find(nick)
        if holder is None:
            return
        # Every member of the chat is one of the factory's connections.
        connection = cast(ChatServerProtocol, holder.client)
        if holder.account is None:
            farewell = (
                f"The nickname {holder.nick} is registered, and its owner signed on. Goodbye!"
            )
        else:
            farewell = "Signed on from elsewhere. Goodbye!"
        self._log.info(
            "{peer} takes {nick} over from {other}",
            peer=self.peer,
            nick=holder.nick,
            other=connection.peer,
        )
        connection._sign_off("signed on from elsewhere")
        connection._hang_up(wire.notice(farewell))

    def _login_failed(self, failure: Failure, account: str) -> None:
        if self._lost or self._hung_up:
            return
        if not failure.check(UnauthorizedLogin):
            self._log.failure("Cannot check the password of {account}", failure, account=account)
            self._hang_up(CANNOT_CHECK)
            return
        self._failures += 1
        self._log.info(
            "{peer} gave a wrong password for {account} ({n} of {most})",
            peer=self.peer,
            account=account,
            n=self._failures,
            most=PASSWORD_ATTEMPTS,
        )
        self._stage = _Stage.REFUSED
        self._error(f"wrong password for {account}")
        self._update_reading()
        self._delay = self.factory.clock.callLater(self.factory.password_delay, self._retry)

    def _retry(self) -> None:
        """The delay after a wrong password is over: ask again, or give up."""
        self._delay = None
        if self._failures >= PASSWORD_ATTEMPTS:
            self._log.info("{peer} gave too many wrong passwords", peer=self.peer)
            self._hang_up(TOO_MANY_FAILURES)
            return
        assert self._login is not None
        self._stage = _Stage.PASSWORD
        self._write(password_prompt(self._login[1]))
        self._update_reading()

    def _sign_on(self, nick: str, account: Account | None) -> None:
        try:
            self.participant = self.factory.chat.sign_on(nick, self, account)
        except ChatError as e:
            self._stage = _Stage.NICKNAME
            self._write(self._clipped_error(str(e)) + PROMPT)
            return
        self._stage = _Stage.SIGNED_ON
        self._login = None
        self.setTimeout(None)
        if account is None:
            self._log.info("{peer} is {nick}", peer=self.peer, nick=nick)
        else:
            self._log.info(
                "{peer} is {nick}, logged in to {account}{operator}",
                peer=self.peer,
                nick=nick,
                account=account.name,
                operator=" (operator)" if account.operator else "",
            )
        self._notice(f"Hello {nick}! Type /help for the commands.")
        self._joined(self.participant.room)

    def _sign_off(self, reason: str | None, *, from_user: bool = False) -> None:
        participant, self.participant = self.participant, None
        if participant is not None:
            if reason:
                reason = wire.clip(reason, self.factory.limits.max_line - REASON_ROOM)
            self._log.info(
                "{nick} left {room}{why}",
                nick=participant.nick,
                room=participant.room.name,
                why=(f" (quit: {reason})" if from_user else f" ({reason})") if reason else "",
            )
            self.factory.chat.sign_off(participant, reason, from_user=from_user)

    def _quit(self, reason: str | None) -> None:
        self._sign_off(reason, from_user=True)
        if self._lookups.busy:
            # What was asked before /quit is answered first (a script piping
            # "/history" then "/quit" wants the history); the lookups' own
            # timeout bounds the wait. Nothing more is read meanwhile.
            self._stage = _Stage.QUITTING
            self._update_reading()
            self._lookups.when_done().addCallback(lambda _: self._hang_up(BYE))
        else:
            self._hang_up(BYE)

    def goodbye(self, notice: bytes) -> None:
        """
        Tell the user C{notice} and hang up: the server is stopping, and its
        chat is dissolved at once (L{Chat.dissolve}), so nobody is told about
        anyone else leaving.
        """
        self.participant = None
        self._hang_up(notice)

    def _hang_up(self, last_words: bytes) -> None:
        waited = self._lookups.drain()
        if waited:
            self._send(waited)
        self.flush()
        self._hung_up = True
        self._update_direct()
        self.setTimeout(None)
        # A transport with a producer registered does not close until it is gone.
        IConsumer(self.transport).unregisterProducer()
        if self._handshaking:
            # TLS would wait for the handshake to end before it closed, and a
            # peer that sent nothing never ends it: there is nobody to tell.
            self.transport.abortConnection()
            return
        self.transport.write(last_words)
        self.transport.loseConnection()
        if self._closing is None:
            self._closing = self.factory.clock.callLater(HANG_UP_GRACE, self._abort)

    def _abort(self) -> None:
        self._closing = None
        self._log.info("{peer} did not take its last line in time", peer=self.peer)
        self.transport.abortConnection()

    # Commands

    def _perform(self, me: Participant, text: str) -> None:
        try:
            command = commands.parse(text)
        except CommandError as e:
            self._error(str(e))
            return
        chat = self.factory.chat
        limit = self.factory.limits.max_line
        try:
            match command:
                case commands.Say(text=said):
                    if said.strip():
                        self._check_size(said, wire.room_overhead(me.nick))
                        self._relayed(chat.say(me, said))
                case commands.Me(text=action):
                    self._check_size(action, wire.room_overhead(me.nick))
                    self._relayed(chat.act(me, action))
                case commands.Msg(nick=nick, text=said):
                    self._check_size(said, wire.private_overhead(me.nick, nick))
                    private = chat.whisper(me, nick, said)
                    self._write(wire.own_private_message(private))
                    self._relayed(private)
                case commands.Nick(nick=nick):
                    old = chat.rename(me, nick)
                    self._log.info("{old} is now known as {new}", old=old, new=nick)
                    self._notice(f"You are now known as {nick}")
                case commands.Join(room=name):
                    old_room = me.room.name
                    room = chat.move(me, name)
                    self._log.info(
                        "{nick} left {old} for {new}", nick=me.nick, old=old_room, new=room.name
                    )
                    self._joined(room)
                case commands.Part():
                    if me.room is chat.lobby:
                        raise ChatError(f"you are in {chat.lobby.name}; /quit leaves the chat")
                    old_room = me.room.name
                    room = chat.move(me, chat.lobby.name)
                    self._log.info(
                        "{nick} left {old} for {new}", nick=me.nick, old=old_room, new=room.name
                    )
                    self._joined(room)
                case commands.Who(room=name):
                    self._show_members(me.room if name is None else chat.room(name), "Members of")
                case commands.Rooms():
                    rooms = chat.rooms()
                    self._notice(f"{_count(len(rooms), 'room')}:")
                    self._list(f"{room.name} ({len(room)})" for room in rooms)
                case commands.History(lines=lines, capped=capped):
                    if capped:
                        self._notice(commands.HISTORY_CAPPED)
                    history = self.factory.history
                    self._look_up(
                        partial(
                            replay.recent,
                            history,
                            me.room.name,
                            lines,
                            limit,
                            budget=self.factory.reply_budget,
                        )
                    )
                case commands.Search(words=words):
                    history, found = self.factory.history, SEARCH_RESULTS
                    self._look_up(
                        partial(
                            replay.search,
                            history,
                            me.room.name,
                            words,
                            found,
                            limit,
                            budget=self.factory.reply_budget,
                        )
                    )
                case commands.Help():
                    self._notice("Commands:")
                    for line in commands.HELP:
                        self._notice(line)
                case commands.Quit(reason=reason):
                    self._quit(reason)
                case commands.Topic(text=None):
                    self._write(wire.topic(me.room.name, me.room.topic))
                case commands.Topic(text=str(new_topic)):
                    self._check_size(new_topic, wire.topic_overhead(me.room.name, me.nick))
                    chat.set_topic(me, new_topic, self.factory.clock.seconds())
                    self._log.info(
                        "{nick} set the topic of {room}", nick=me.nick, room=me.room.name
                    )
                case commands.Kick(nick=nick, reason=reason):
                    if reason:
                        reason = wire.clip(reason, self.factory.limits.max_line - REASON_ROOM)
                    kicked = chat.kick(me, nick, reason)
                    self._log.info(
                        "{by} kicked {nick} from {room}{why}",
                        by=me.nick,
                        nick=kicked.nick,
                        room=kicked.room,
                        why=f" ({kicked.reason})" if kicked.reason else "",
                    )
        except ChatError as e:
            self._error(str(e))

    def _relayed(self, event: Message | Action | PrivateMessage) -> None:
        """Keep room lines in the history; log every line, with C{--log-messages}."""
        if not isinstance(event, PrivateMessage):
            self.factory.history.record(event)
        if self.factory.log_messages:
            self._log.info("{line}", line=wire.log_line(event))

    def _look_up(self, look_up: Callable[[], replay.Lookup]) -> None:
        """Write the answer to a lookup when it comes; what is written meanwhile waits for it."""
        if self._lookups.full:
            self._error("too many history lookups at once; wait for their answers")
        else:
            assert self._bucket is not None
            self._bucket.charge(self.factory.clock.seconds(), LOOKUP_COST - 1)
            self._lookups.start(look_up())
            self._update_direct()

    def _check_size(self, text: str, overhead: int) -> None:
        """Refuse text that would make a relayed line longer than the line limit."""
        room = self.factory.limits.max_line - overhead
        size = len(text.encode())
        if size > room:
            raise ChatError(f"message too long ({size} bytes; at most {room} from you)")

    def _joined(self, room: Room) -> None:
        """
        What one is told on entering C{room}: who is there (unless there are
        too many to list), its topic if it has one, then what was said there
        lately.
        """
        limit = self.factory.chat.announce_limit
        if limit and len(room) > limit:
            self._notice(f"You joined {room.name} ({_count(len(room), 'member')}):")
            self._notice(f"Too many to list here; /who {room.name} lists them.")
        else:
            self._show_members(room, "You joined")
        if room.topic is not None:
            self._write(wire.topic(room.name, room.topic))
        if self.factory.replay:
            limit = self.factory.limits.max_line
            history, lines = self.factory.history, self.factory.replay
            self._look_up(
                partial(
                    replay.recent,
                    history,
                    room.name,
                    lines,
                    limit,
                    joining=True,
                    budget=self.factory.reply_budget,
                )
            )

    def _show_members(self, room: Room, heading: str) -> None:
        self._notice(f"{heading} {room.name} ({_count(len(room), 'member')}):")
        self._list(room.nicks())

    def _list(self, items: Iterable[str]) -> None:
        width = min(wire.LIST_WIDTH, self.factory.limits.max_line + 1)
        for line in wire.listing(items, width):
            self._write(line)

    def _notice(self, text: str) -> None:
        self._write(wire.notice(text, self.factory.limits.max_line))

    def _error(self, text: str) -> None:
        self._write(self._clipped_error(text))

    def _clipped_error(self, text: str) -> bytes:
        return wire.error(text, self.factory.limits.max_line)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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


class ChatFactory(ServerFactory):
    """
    The chat server: the model, shared by every connection on every endpoint
    the service listens on; the open connections; the limits they are held to;
    the portal that registered nicknames log in through, if the chat has
    accounts; the room history, and how many of its lines to show on joining
    a room.

    The factory takes over its chat's L{Chat.fan_out}: what is said to a room
    reaches the members' connections through L{fan_out}, so every member of
    the chat must be one of this factory's connections.
    """

    protocol = ChatServerProtocol  # type: ignore[assignment]
    noisy = False  # the service logs where it listens; "Starting factory <...>" says nothing
    _log = Logger()

    def __init__(
        self,
        chat: Chat | None = None,
        *,
        limits: Limits | None = None,
        log_messages: bool = False,
        clock: IReactorTime | None = None,
        portal: Portal | None = None,
        password_delay: float = PASSWORD_DELAY,
        history: IHistory | None = None,
        replay: int = 0,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor

            clock = cast(IReactorTime, reactor)
        self.chat = chat if chat is not None else Chat()
        self.chat.fan_out = self.fan_out
        self.limits = limits if limits is not None else Limits()
        self.reply_budget = reply_budget(self.limits.max_send_buffer)
        """The most bytes of one history answer (L{chatsvc.history.replay.reply_budget})."""
        self.log_messages = log_messages
        self.clock = clock
        self.portal = portal
        self.password_delay = password_delay
        self.history: IHistory = history if history is not None else NoHistory()
        self.replay = replay
        self.connections: set[ChatServerProtocol] = set()
        # Odd between turns, even during one; a connection remembers the even
        # number of the last turn it was written to in.
        self.turn_number = 1
        self._turn_open = False
        self._held: list[ChatServerProtocol] = []
        self._per_host: dict[str, int] = {}
        self._hosts: dict[ChatServerProtocol, str] = {}
        self._all_closed: list[Deferred[None]] = []
        self._serial = 0  # connections ever accepted, to tell UNIX-socket peers apart

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        """A chat connection, or a refusal if the server or the address is full."""
        limits = self.limits
        host = peer_host(addr, limits.ipv6_prefix)
        if limits.max_clients and len(self.connections) >= limits.max_clients:
            self._log.warn(
                "Refused {peer}: {n} connections open", peer=addr, n=len(self.connections)
            )
            return RefusedConnection(SERVER_FULL, self.clock)
        if (
            host is not None
            and limits.max_per_ip
            and self._per_host.get(host, 0) >= limits.max_per_ip
        ):
            self._log.warn(
                "Refused {host}: {n} connections from it", host=host, n=limits.max_per_ip
            )
            return RefusedConnection(ADDRESS_FULL, self.clock)
        protocol = super().buildProtocol(addr)
        assert isinstance(protocol, ChatServerProtocol)
        self._serial += 1
        if addr is not None:
            protocol.peer = describe_address(addr, self._serial)
        if host is not None:
            self._hosts[protocol] = host
            self._per_host[host] = self._per_host.get(host, 0) + 1
        # Counted now, not at connectionMade, so that a burst of connections
        # accepted in one go is held to the limit too.
        self.connections.add(protocol)
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
        for protocol in held:
            protocol.flush()

    def fan_out(
        self, event: Event, clients: Collection[IChatClient], exclude: IChatClient | None
    ) -> None:
        """
        The chat's L{chatsvc.chat.model.FanOut}: what is said to a room, to each of its members'
        connections but C{exclude}.

        The line is formatted once, and the same bytes go to everyone. This is
        the server's hot path, so the common case takes the fewest steps
        Python allows: a connection not yet written to in this turn, with
        nothing of its own to go first (L{ChatServerProtocol._update_direct})
        and nothing queued in its transport (L{EagerServer.send_now}), gets
        the line straight from its socket's C{send}. Whatever the kernel does
        not take is queued in the transport. Every other connection gets the
        line through its usual write path (held until the end of the turn,
        behind a lookup, counted against its backlog, or under TLS).
        """
        data = wire.render(event)
        size = len(data)
        turn = self.turn()
        for protocol in cast("Collection[ChatServerProtocol]", clients):
            if protocol is exclude:
                continue
            transport = protocol._direct
            if transport is not None and protocol._turn != turn:
                send = transport.send_now
                if send is not None:
                    protocol._turn = turn
                    try:
                        sent = send(data)
                    except OSError:
                        sent = 0  # queue() has a failure reported as usual
                    if sent != size:
                        transport.queue(data[sent:])
                    continue
            protocol._write(data)

    def hold(self, protocol: ChatServerProtocol) -> None:
        """C{protocol} has writes held until the end of the turn."""
        self._held.append(protocol)

    def connection_lost(self, protocol: ChatServerProtocol) -> None:
        self.connections.discard(protocol)
        host = self._hosts.pop(protocol, None)
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

    def shut_down(self, grace: float = SHUTDOWN_GRACE) -> Deferred[None]:
        """
        Say goodbye to every connection and hang up. The result fires once all
        are closed; connections that have not taken their goodbye within
        C{grace} seconds are aborted.
        """
        if not self.connections:
            return succeed(None)
        self._log.info(
            "Saying goodbye to {connections}",
            connections=_count(len(self.connections), "connection"),
        )
        for protocol in list(self.connections):
            protocol.goodbye(SHUTDOWN)
        self.chat.dissolve()
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


def _cancel_timer(result: None, timer: IDelayedCall) -> None:
    if timer.active():
        timer.cancel()
    return result
