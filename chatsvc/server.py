"""
The server side of the line protocol: a thin adapter between a connection's
bytes and the chat model.

A connection first answers the nickname prompt; once it has a nickname it is
a L{Participant} in the model, and each line it sends is parsed into a
command (L{chatsvc.commands}) and carried out by the model. The model tells
participants what happened through L{ChatServerProtocol.deliver}.

Room messages and actions are kept in the factory's L{IHistory}; a user who
joins a room is shown its recent history first, and output that comes while a
lookup is in flight waits behind it (L{chatsvc.replay}).

Every connection is held to the server's L{Limits}: line length, input rate
(by pausing reads, so nothing is dropped), output queued for a peer that does
not read, time to choose a nickname, connections in all and per address.

test-case-name: tests.test_server
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import cast

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IDelayedCall,
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

from chatsvc import commands, replay, wire
from chatsvc.commands import SEARCH_RESULTS, CommandError
from chatsvc.history import IHistory, NoHistory
from chatsvc.interfaces import IChatClient
from chatsvc.limits import Limits, TokenBucket
from chatsvc.model import (
    Action,
    Chat,
    ChatError,
    Event,
    Message,
    Participant,
    PrivateMessage,
    Room,
)

GREETING = wire.notice("Welcome to chatsvc!")
PROMPT = wire.notice("Choose a nickname:")
SHUTDOWN = wire.notice("The server is shutting down. Goodbye!")
BYE = wire.notice("Bye!")
LOGIN_TIMEOUT = wire.notice("Timed out waiting for a nickname. Goodbye!")
SERVER_FULL = wire.notice("The server is full; try again later.")
ADDRESS_FULL = wire.notice("Too many connections from your address; try again later.")

SHUTDOWN_GRACE = 5.0
"""Seconds a stopping server waits for goodbyes to flush before it hangs up."""

REASON_ROOM = 100
"""Bytes of a line kept for what surrounds a leave reason (names, room)."""


def describe_address(address: IAddress) -> str:
    """C{host:port} for IPv4 peers, C{[host]:port} for IPv6, C{unix} for UNIX sockets."""
    if isinstance(address, IPv4Address | IPv6Address):
        host = f"[{address.host}]" if isinstance(address, IPv6Address) else address.host
        return f"{host}:{address.port}"
    if isinstance(address, UNIXAddress):
        return "unix"
    return str(address)


def peer_host(address: IAddress | None) -> str | None:
    """The IP address that C{--max-per-ip} counts, if the peer has one."""
    if isinstance(address, IPv4Address | IPv6Address):
        return address.host
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


@implementer(IChatClient)
class ChatServerProtocol(LineReceiver, TimeoutMixin):
    """One connection to the chat server."""

    delimiter = b"\n"
    factory: ChatFactory
    transport: ITCPTransport
    participant: Participant | None = None
    peer = "?"
    _lookups: replay.Lookups
    _log = Logger()

    def __init__(self) -> None:
        self._hung_up = False
        self._discarding = False  # inside an over-long line, until its end
        self._receiving = False
        self._throttled = False  # out of input budget: reads paused
        self._backlogged = False  # the peer is not reading: its reads paused too
        self._queued = 0  # bytes written while backlogged
        self._bucket: TokenBucket | None = None
        self._refill: IDelayedCall | None = None
        self._leave_reason: str | None = None
        self._held: list[bytes] = []  # written while the server is corked
        self._batch = 0  # the last batch this connection was written to in

    # Connection events

    def connectionMade(self) -> None:
        limits = self.factory.limits
        self.peer = describe_address(self.transport.getPeer())
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
            self.transport.setTcpKeepAlive(True)
        IConsumer(self.transport).registerProducer(_SendBacklog(self), True)
        self._lookups = replay.Lookups(self._send, self.factory.clock)
        self._bucket = TokenBucket(limits.rate, limits.burst, self.factory.clock.seconds())
        self.setTimeout(limits.login_timeout or None)
        self._log.info("{peer} connected", peer=self.peer)
        self.transport.write(GREETING + PROMPT)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.setTimeout(None)
        if self._refill is not None and self._refill.active():
            self._refill.cancel()
        self._lookups.stop()
        self._sign_off(self._leave_reason)
        self._log.info("{peer} disconnected: {why}", peer=self.peer, why=reason.getErrorMessage())
        self.factory.connection_lost(self)

    def callLater(self, period: float, func: Callable[[], object]) -> IDelayedCall:
        """TimeoutMixin's timer, on the factory's clock."""
        return self.factory.clock.callLater(period, func)

    def timeoutConnection(self) -> None:
        self._log.info("{peer} gave no nickname in time", peer=self.peer)
        self._hang_up(LOGIN_TIMEOUT)

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
        self.factory.cork()
        try:
            self._handle_lines()
        finally:
            self._receiving = False
            self.factory.uncork()

    def _handle_lines(self) -> None:
        limit = self.factory.limits.max_line
        buffer, start = self._buffer, 0
        while not self.paused and not self._hung_up:
            end = buffer.find(b"\n", start)
            if end == -1:
                break
            line = buffer[start:end]
            start = end + 1
            if self._discarding:
                self._discarding = False
            elif len(line) > limit + 1 or (len(line) > limit and not line.endswith(b"\r")):
                self._too_long()
            elif self._budget_spent():
                start -= len(line) + 1
                break
            else:
                self.lineReceived(line)
        rest = buffer[start:]
        if self._hung_up or self._discarding:
            rest = b""
        elif not self.paused and len(rest) > limit + 1:
            self._too_long()
            self._discarding = True
            rest = b""
        self._buffer = rest

    def _too_long(self) -> None:
        limit = self.factory.limits.max_line
        self._error(f"line too long (over {limit} bytes); it was discarded")

    def _budget_spent(self) -> bool:
        """Take a line's worth of budget; if there is none, pause reading until there is."""
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
        """Read from the peer unless it is over its rate or not reading us."""
        pause = self._throttled or self._backlogged
        if pause and not self.paused:
            self.pauseProducing()
        elif not pause and self.paused and not self._hung_up:
            self.resumeProducing()

    # Output: what is queued for a peer that does not read

    def peer_stopped_reading(self) -> None:
        # Transports say so again on every write while their buffer is full.
        if not self._backlogged:
            self._backlogged = True
            self._queued = 0
            self._update_reading()

    def peer_caught_up(self) -> None:
        self._backlogged = False
        self._update_reading()

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
            limit = self.factory.limits.max_send_buffer
            if limit and self._queued > limit and not self._hung_up:
                self._drop_slow_reader(limit)
                return
        factory = self.factory
        if factory.corked:
            # The first write of a batch goes out at once; later ones wait for
            # the end of the batch, to go out together.
            if self._held:
                self._held.append(data)
                return
            if self._batch == factory.batch:
                self._held.append(data)
                factory.hold(self)
                return
            self._batch = factory.batch
        self.transport.write(data)

    def flush(self) -> None:
        """Write what was held while the server was corked, in one go."""
        held, self._held = self._held, []
        if held and not self._hung_up:
            self.transport.write(held[0] if len(held) == 1 else b"".join(held))

    def _drop_slow_reader(self, limit: int) -> None:
        self._log.warn(
            "{peer} dropped: over {limit} bytes queued and it is not reading",
            peer=self.peer,
            limit=limit,
        )
        # Signed off when the connection is lost, not here: this runs while
        # the model is delivering an event to a room, member by member.
        self._hung_up = True
        self._leave_reason = "not reading"
        self.transport.abortConnection()

    def lineReceived(self, line: bytes) -> None:
        text = wire.decode(line)
        if self.participant is None:
            self._sign_on(text.strip())
        else:
            self._perform(self.participant, text)

    # IChatClient

    def deliver(self, event: Event) -> None:
        self._write(wire.render(event))

    # Signing on and off

    def _sign_on(self, nick: str) -> None:
        if nick.lower() == "/quit" or nick.lower().startswith("/quit "):
            self._quit(None)
            return
        try:
            self.participant = self.factory.chat.sign_on(nick, self)
        except ChatError as e:
            self._write(self._clipped_error(str(e)) + PROMPT)
            return
        self.setTimeout(None)
        self._log.info("{peer} is {nick}", peer=self.peer, nick=nick)
        self._notice(f"Hello {nick}! Type /help for the commands.")
        self._joined(self.participant.room)

    def _sign_off(self, reason: str | None) -> None:
        participant, self.participant = self.participant, None
        if participant is not None:
            if reason:
                reason = wire.clip(reason, self.factory.limits.max_line - REASON_ROOM)
            self._log.info(
                "{nick} left {room}{why}",
                nick=participant.nick,
                room=participant.room.name,
                why=f" ({reason})" if reason else "",
            )
            self.factory.chat.sign_off(participant, reason)

    def _quit(self, reason: str | None) -> None:
        self._sign_off(reason)
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
        self.setTimeout(None)
        # A transport with a producer registered does not close until it is gone.
        IConsumer(self.transport).unregisterProducer()
        self.transport.write(last_words)
        self.transport.loseConnection()

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
                    room = chat.join(me, name)
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
                case commands.History(lines=lines):
                    history = self.factory.history
                    self._look_up(partial(replay.recent, history, me.room.name, lines, limit))
                case commands.Search(words=words):
                    history, found = self.factory.history, SEARCH_RESULTS
                    self._look_up(
                        partial(replay.search, history, me.room.name, words, found, limit)
                    )
                case commands.Help():
                    self._notice("Commands:")
                    for line in commands.HELP:
                        self._notice(line)
                case commands.Quit(reason=reason):
                    self._quit(reason)
        except ChatError as e:
            self._error(str(e))

    def _relayed(self, event: Message | Action | PrivateMessage) -> None:
        """Keep room lines in the history; log every line, with C{--log-messages}."""
        if not isinstance(event, PrivateMessage):
            self.factory.history.record(event)
        if self.factory.log_messages:
            self._log.info("{line}", line=wire.log_line(event))

    def _joined(self, room: Room) -> None:
        """Tell the user who is in the room just joined, then what was said there lately."""
        self._show_members(room, "You joined")
        if self.factory.replay:
            limit = self.factory.limits.max_line
            history, lines = self.factory.history, self.factory.replay
            self._look_up(partial(replay.recent, history, room.name, lines, limit, joining=True))

    def _look_up(self, look_up: Callable[[], replay.Lookup]) -> None:
        """Write the answer to a lookup when it comes; what is written meanwhile waits for it."""
        if self._lookups.full:
            self._error("too many history lookups at once; wait for their answers")
        else:
            self._lookups.start(look_up())

    def _check_size(self, text: str, overhead: int) -> None:
        """Refuse text that would make a relayed line longer than the line limit."""
        room = self.factory.limits.max_line - overhead
        size = len(text.encode())
        if size > room:
            raise ChatError(f"message too long ({size} bytes; at most {room} from you)")

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
    """A connection over a limit: it is told why, and closed."""

    def __init__(self, notice: bytes) -> None:
        self.notice = notice

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.notice)
        self.transport.loseConnection()


class ChatFactory(ServerFactory):
    """
    The chat server: the model, shared by every connection on every endpoint
    the service listens on; the open connections; the limits they are held to;
    the room history, and how many of its lines to show on joining a room.
    """

    protocol = ChatServerProtocol  # type: ignore[assignment]
    _log = Logger()

    def __init__(
        self,
        chat: Chat | None = None,
        *,
        limits: Limits | None = None,
        log_messages: bool = False,
        clock: IReactorTime | None = None,
        history: IHistory | None = None,
        replay: int = 0,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor

            clock = cast(IReactorTime, reactor)
        self.chat = chat if chat is not None else Chat()
        self.limits = limits if limits is not None else Limits()
        self.log_messages = log_messages
        self.clock = clock
        self.history: IHistory = history if history is not None else NoHistory()
        self.replay = replay
        self.connections: set[ChatServerProtocol] = set()
        self.corked = 0
        self.batch = 0
        self._held: list[ChatServerProtocol] = []
        self._per_host: dict[str, int] = {}
        self._hosts: dict[ChatServerProtocol, str] = {}
        self._all_closed: list[Deferred[None]] = []

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        """A chat connection, or a refusal if the server or the address is full."""
        limits = self.limits
        host = peer_host(addr)
        if limits.max_clients and len(self.connections) >= limits.max_clients:
            self._log.warn(
                "Refused {peer}: {n} connections open", peer=addr, n=len(self.connections)
            )
            return RefusedConnection(SERVER_FULL)
        if (
            host is not None
            and limits.max_per_ip
            and self._per_host.get(host, 0) >= limits.max_per_ip
        ):
            self._log.warn(
                "Refused {host}: {n} connections from it", host=host, n=limits.max_per_ip
            )
            return RefusedConnection(ADDRESS_FULL)
        protocol = super().buildProtocol(addr)
        assert isinstance(protocol, ChatServerProtocol)
        if host is not None:
            self._hosts[protocol] = host
            self._per_host[host] = self._per_host.get(host, 0) + 1
        # Counted now, not at connectionMade, so that a burst of connections
        # accepted in one go is held to the limit too.
        self.connections.add(protocol)
        return protocol

    def cork(self) -> None:
        """
        Hold what connections write until L{uncork}: while one connection's
        lines are handled, each connection they make the server write to is
        written to once, however many lines it gets (a burst of messages costs
        one send per recipient, not one per message and recipient).
        """
        if not self.corked:
            self.batch += 1
        self.corked += 1

    def uncork(self) -> None:
        self.corked -= 1
        if not self.corked:
            held, self._held = self._held, []
            for protocol in held:
                protocol.flush()

    def hold(self, protocol: ChatServerProtocol) -> None:
        """C{protocol} has writes held until the server is uncorked."""
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
        self._log.info("Saying goodbye to {n} connections", n=len(self.connections))
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
