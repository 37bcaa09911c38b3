"""
The server side of the line protocol: framing and rendering, over the
session core (L{chatsvc.sessions.session}) and the stream connection layer
(L{chatsvc.streams.connection}).

A connection first answers the nickname prompt, and, for a registered
nickname (see L{chatsvc.accounts}), the password prompt, on a line of its
own::

    *** Choose a nickname:
    alice
    *** Password for alice:
    hunter2
    *** Hello alice! Type /help for the commands.

Once signed on, each line it sends is parsed into a command
(L{chatsvc.chat.commands}) for its session. What the session shows, and what
the chat tells the user, is rendered by L{chatsvc.frontends.line.wire}; a
room's line is rendered once for all of its members (L{ChatFactory.fan_out}).
Password lines are never echoed, relayed or logged.

test-case-name: tests.frontends.line.test_server, tests.frontends.line.test_login
"""

from __future__ import annotations

import types
from array import array
from collections import Counter
from collections.abc import Callable, Collection
from operator import attrgetter
from typing import ClassVar, Protocol, cast

from twisted.cred.portal import Portal
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from chatsvc.chat import commands
from chatsvc.chat.commands import CommandError
from chatsvc.chat.events import Action, Event, Kicked, Message, PrivateMessage
from chatsvc.chat.interfaces import IChatClient
from chatsvc.chat.model import Chat, ChatError, Members, Participant
from chatsvc.frontends.line import wire
from chatsvc.history import IHistory, NoHistory
from chatsvc.history.replay import reply_budget
from chatsvc.registry import IRegistry, MemoryRegistry
from chatsvc.sessions.registration import Registrar
from chatsvc.sessions.results import Result, Statistics
from chatsvc.sessions.session import PASSWORD_DELAY, Session, Stage
from chatsvc.streams.connection import (
    HANG_UP_GRACE,
    SHUTDOWN_GRACE,
    RefusedConnection,
    StreamConnection,
    StreamServerFactory,
    describe_address,
    peer_address,
    peer_host,
)
from chatsvc.streams.eagertcp import DIRECT, EagerServer, deliver_each, send_each
from chatsvc.streams.limits import Limits
from chatsvc.streams.traffic import resident_memory, wire_of

__all__ = [
    "ADDRESS_FULL",
    "HANG_UP_GRACE",
    "PASSWORD_DELAY",
    "SERVER_FULL",
    "ChatFactory",
    "ChatServerProtocol",
    "RefusedConnection",
    "describe_address",
    "peer_host",
]

SERVER_FULL = wire.notice("The server is full; try again later.")
ADDRESS_FULL = wire.notice("Too many connections from your address; try again later.")

REASON_ROOM = 100
"""Bytes of a line kept for what surrounds a leave or kick reason (names, room)."""


def password_of(line: bytes) -> bytes:
    """
    The password on a received line: exactly as typed, but for the C{\r} of
    a C{\r\n} line ending. Not decoded or sanitised: it is only compared.
    """
    return line[:-1] if line.endswith(b"\r") else line


class EventRenderer(Protocol):
    """How a wire shows the chat's events."""

    def render(self, event: Event) -> bytes:
        """The bytes of C{event} on this wire, the same for every recipient."""


_events_of = attrgetter("events")

_Wire = tuple["EventRenderer", list["FanOutMember"], "array[int]"]
"""
One wire's clients: its renderer, the clients it renders for, and each one's
descriptor (L{_fd_of}), for L{deliver_each}.
"""

_Wires = tuple[_Wire, ...]
"""Clients wire by wire: each renderer among them, with the clients it renders for."""


def _fd_of(member: FanOutMember) -> int:
    """The descriptor of C{member}'s socket if it is an L{EagerServer}'s, else -1."""
    transport = getattr(member, "transport", None)
    return transport.fd if isinstance(transport, EagerServer) else -1


def _wire(events: EventRenderer, members: list[FanOutMember]) -> _Wire:
    return (events, members, array("i", map(_fd_of, members)))


def _sorted_by_wire(clients: Collection[IChatClient]) -> _Wires:
    """
    C{clients} wire by wire (L{ChatFactory._by_wire}), in the order each wire
    first comes among them, each wire's clients in their own order.
    """
    members = list(cast("Collection[FanOutMember]", clients))
    counted = Counter(map(_events_of, members))
    if len(counted) <= 1:
        return tuple(_wire(events, members) for events in counted)
    wires: dict[EventRenderer, list[FanOutMember]] = {events: [] for events in counted}
    for member in members:
        wires[member.events].append(member)
    return tuple(_wire(events, each) for events, each in wires.items())


_Deliver = Callable[["ChatFactory", bytes, Collection["FanOutMember"], object], int]
"""L{ChatFactory._deliver}'s signature."""


def _copy_of(function: _Deliver) -> _Deliver:
    """
    A copy of C{function} with a code object of its own, for the members of
    one wire (L{ChatFactory.fan_out}). CPython (3.11 on) specialises each
    attribute read in a function's code for the one type it finds there,
    and undoes that once it keeps finding another: a room of two wires
    taken through the one loop, one wire after the other, made each change
    of wire undo what the loop had learnt of the last one's connections. A
    copy for each wire keeps each its own. Measured in process, a line said
    to a room of 50 line and 50 IRC members: 35 µs before, 30 µs after (an
    all-line room of 100: 23 µs).
    """
    code = function.__code__.replace()
    copy = types.FunctionType(code, function.__globals__, function.__name__)
    copy.__doc__ = function.__doc__
    return cast(_Deliver, copy)


class FanOutMember(Protocol):
    """
    What L{ChatFactory.fan_out} reads of a member's connection: its wire's
    C{events}, and how it is written to. A L{StreamConnection} has it all; a
    connection that is no byte stream (the web's WebSocket) has C{_direct}
    and C{_held} always L{None} and a C{_turn} never the fan-out's, and so
    gets what is said through its session or its own C{send}.

    L{deliver_each} reads C{_turn}, C{_held} and C{_backlogged} from where a
    type keeps them as slots (L{StreamConnection} and the web's connection
    do): a member that keeps them in its dict is left to L{ChatFactory._deliver}.
    """

    events: EventRenderer
    session: Session | None
    _turn: int
    _direct: EagerServer | None
    _held: list[bytes] | None
    _backlogged: bool
    _holding: bool

    def send(self, data: bytes) -> None:
        """Write C{data}, rendered by C{events}, after what was sent before it."""


@implementer(IChatClient)
class ChatServerProtocol(StreamConnection):
    """
    One line-protocol connection: its lines are parsed for its L{Session},
    whose frontend it is, and what the session shows is rendered as lines.
    It is the session's client in the chat: what the chat tells the user
    comes here.
    """

    factory: ChatFactory

    events: ClassVar[EventRenderer] = wire.LINE_EVENTS
    """
    How this wire shows the chat's events: the fan-out renders a room's event
    once with each wire's C{events} among its members, not once a member.
    """
    takes_tags: ClassVar[bool] = False
    """The line protocol carries no client tags: what carries them alone never comes here."""

    __slots__ = ("session",)

    def __init__(self) -> None:
        super().__init__()
        self.session: Session | None = None

    @property
    def participant(self) -> Participant | None:
        """The user in the chat, once signed on."""
        return None if self.session is None else self.session.participant

    # The stream connection's

    def connection_started(self) -> None:
        self.session = Session(self.factory, self, self, address=peer_address(self.transport))
        # Straight to the transport: the first line of a connection waits for
        # no turn, and a storm of connections schedules none.
        self.transport.write(wire.GREETING + wire.PROMPT)
        self.session.start()

    def connection_ended(self) -> None:
        assert self.session is not None
        self.session.lost()

    def dropping(self) -> None:
        assert self.session is not None
        self.session.dropped()

    def line_too_long(self) -> None:
        limit = self.factory.limits.max_line
        self._refuse(f"line too long (over {limit} bytes); it was discarded")

    def line_received(self, line: bytes) -> None:
        session = self.session
        assert session is not None
        stage = session.stage
        if stage is Stage.SIGNED_ON:
            self._perform(session, wire.decode(line))
        elif stage is Stage.PASSWORD:
            session.give_password(password_of(line))
        elif stage is Stage.NICKNAME:
            nick = wire.decode(line).strip()
            if nick.lower() == "/quit" or nick.lower().startswith("/quit "):
                session.quit()
            else:
                session.sign_on_as(nick)

    # The session's frontend

    def render(self, result: Result | Event) -> bytes:
        return self.factory.renderer.render(result)

    # IChatClient

    def deliver(self, event: Event) -> None:
        assert self.session is not None
        self.session.output(self.events.render(event))

    def kicked(self, event: Kicked) -> None:
        assert self.session is not None
        self.session.kicked(event)

    # Parsing what a signed-on user typed

    def _perform(self, session: Session, text: str) -> None:
        try:
            command = commands.parse(text)
        except CommandError as e:
            self._refuse(str(e))
            return
        me = session.participant
        assert me is not None
        limit = self.factory.limits.max_line
        try:
            match command:
                case commands.Say(text=said) if said.strip():
                    self._check_size(said, wire.room_overhead(me.nick))
                case commands.Me(text=action):
                    self._check_size(action, wire.room_overhead(me.nick))
                case commands.Msg(nick=nick, text=said):
                    self._check_size(said, wire.private_overhead(me.nick, nick))
                case commands.Wall(text=text):
                    self._check_size(text, len(wire.WALL_PREFIX.format(nick=me.nick)) + 1)
                case commands.Topic(text=str(new_topic)):
                    self._check_size(new_topic, wire.topic_overhead(me.room.name, me.nick))
                case commands.Quit(reason=str(reason)):
                    command = commands.Quit(wire.clip(reason, limit - REASON_ROOM))
                case commands.Kick(nick=nick, reason=str(reason)):
                    command = commands.Kick(nick, wire.clip(reason, limit - REASON_ROOM))
        except ChatError as e:
            self._refuse(str(e))
            return
        session.perform(command)

    def _check_size(self, text: str, overhead: int) -> None:
        """Refuse text that would make a relayed line longer than the line limit."""
        room = self.factory.limits.max_line - overhead
        size = len(text.encode())
        if size > room:
            raise ChatError(f"message too long ({size} bytes; at most {room} from you)")

    def _refuse(self, reason: str) -> None:
        assert self.session is not None
        self.session.output(wire.error(reason, self.factory.limits.max_line))


class ChatFactory(StreamServerFactory["ChatServerProtocol"]):
    """
    The chat server on the line protocol: the model, shared by every
    connection on every endpoint the service listens on; the portal that
    registered nicknames log in through, if the chat has accounts; the room
    history, and how many of its lines to show on entering a room; what the
    sessions of its connections share (L{chatsvc.sessions.session.SessionServer}).

    The factory takes over its chat's L{Chat.fan_out}: what is said to a room
    reaches the members' connections through L{fan_out}, so every member of
    the chat must be one of this factory's connections, or another
    L{FanOutMember} (a WebSocket of L{chatsvc.frontends.web}).
    """

    protocol = ChatServerProtocol  # type: ignore[assignment]

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
        registry: IRegistry | None = None,
        registrar: Registrar | None = None,
    ) -> None:
        super().__init__(limits=limits, clock=clock)
        self.registry: IRegistry = registry if registry is not None else MemoryRegistry()
        self.registrar = registrar
        self.chat = chat if chat is not None else Chat()
        self.chat.fan_out = self.fan_out
        self.reply_budget = reply_budget(self.limits.max_send_buffer)
        """The most bytes of one history answer (L{chatsvc.history.replay.reply_budget})."""
        self.renderer = wire.LineRenderer(self.limits.max_line, self.reply_budget)
        self.log_messages = log_messages
        self.portal = portal
        self.password_delay = password_delay
        self.history: IHistory = history if history is not None else NoHistory()
        self.replay = replay
        self.login_timeout = self.limits.login_timeout
        self.also_connected: list[Collection[object]] = []
        """The connections of frontends that are not this factory's (the web's WebSockets)."""
        self._deliverers: dict[EventRenderer, _Deliver] = {}
        """L{_deliver} for each wire: its own copy (see L{_copy_of})."""
        self.renderers_changed = 0
        """
        How many times a connection in the chat took another renderer (an IRC
        client asking for capabilities after signing on): what L{_by_wire}
        keeps holds until then.
        """

    def refusal(self, full: bool) -> bytes:
        return SERVER_FULL if full else ADDRESS_FULL

    # What sessions share

    def session_of(self, participant: Participant) -> Session:
        session = cast(ChatServerProtocol, participant.client).session
        assert session is not None
        return session

    def log_line(self, event: Message | Action | PrivateMessage) -> str:
        return wire.log_line(event)

    def statistics(self) -> Statistics:
        connected: Counter[str] = Counter({"line": 0, "irc": 0, "web": 0})
        for connections in [self.connections, *self.also_connected]:
            connected.update(wire_of(type(c)) for c in connections)
        users: Counter[str] = Counter({name: 0 for name in connected})
        users.update(wire_of(type(p.client)) for p in self.chat)
        now = self.clock.seconds()
        return Statistics(
            users=tuple(users.items()),
            connections=tuple(connected.items()),
            rooms=sum(1 for _ in self.chat.rooms()),
            per_second=self.traffic.rate(now),
            uptime=now - self.traffic.started,
            memory=resident_memory(),
        )

    # The fan-out

    def fan_out(
        self, event: Event, clients: Collection[IChatClient], exclude: IChatClient | None
    ) -> None:
        """
        The chat's L{chatsvc.chat.model.FanOut}: what is said to a room, to each of its
        members' connections but C{exclude}.

        The members are taken wire by wire (L{_by_wire}): the event is
        rendered once for each wire among them (its connections'
        C{events}), and the same bytes go to everyone on that wire
        (L{_deliver}). Where the package's extension was built,
        L{deliver_each} first serves in C each member that L{_deliver} would
        send to straight or add the line to what it holds (reading, for each,
        no more than the table of such members, L{DIRECT}, and its own turn,
        held writes and backlog), and hands the rest to L{_deliver}.
        """
        traffic = self.traffic
        traffic.fan_outs += 1
        for events, members, fds in self._by_wire(clients):
            if (
                len(members) == 1
                and exclude is not None
                and exclude in cast("Collection[object]", members)
            ):
                continue  # nobody but the one left out is on this wire: nothing to render
            data = events.render(event)
            deliver = self._deliverers.get(events)
            if deliver is None:
                deliver = self._deliverers[events] = _copy_of(ChatFactory._deliver)
            if deliver_each is None:
                delivered = deliver(self, data, members, exclude)
            else:
                skipped, rest, short = deliver_each(
                    DIRECT, members, fds, self.turn(), exclude, data
                )
                if short is not None:
                    for member, sent in short:
                        # As below: what the kernel did not take, or all of
                        # it where send failed, queued in the transport.
                        cast(EagerServer, member._direct).queue(data[sent:])
                if rest is not None:
                    deliver(self, data, rest, None)
                delivered = len(members) - skipped
            traffic.deliveries += delivered
            traffic.sent_bytes += len(data) * delivered

    def _deliver(self, data: bytes, members: Collection[FanOutMember], exclude: object) -> int:
        """
        C{data} to each of C{members} but C{exclude}, all of one wire: how many
        it went to.

        This is the server's hot path, so the common case takes the fewest
        steps Python allows: a connection not yet written to in this turn, with
        nothing of its own to go first (L{StreamConnection._update_direct})
        and nothing queued in its transport (L{EagerServer.send_now}), gets
        the line straight from its socket, all such sockets in one call
        after the loop (L{send_each}, from C where it was built: one Python
        call for them all, not one each). Whatever the kernel does not take
        is queued in the transport. One already written to in this
        turn, with more held for the turn's end and the same conditions
        (a burst), has the line added to what is held. Every other connection gets the
        line through its session (held behind a lookup, or not) and its usual
        write path (held until the end of the turn, counted against its
        backlog, or under TLS).
        """
        turn = self.turn()
        skipped = 0
        fds: list[int] = []
        direct: list[EagerServer] = []
        for protocol in members:
            if protocol is exclude:
                skipped = 1
                continue
            if protocol._turn != turn:
                transport = protocol._direct
                if transport is not None and transport.send_now is not None:
                    protocol._turn = turn
                    fds.append(transport.fd)
                    direct.append(transport)
                    continue
            else:
                # Written to in this turn already, and more is held for the
                # turn's end (a burst): one more line for that one write.
                held = protocol._held
                if held is not None and protocol._direct is not None and not protocol._backlogged:
                    held.append(data)
                    continue
            if protocol._holding:  # behind a lookup in flight: its session holds the line
                session = protocol.session
                if session is not None:
                    session.output(data)
            else:
                protocol.send(data)
        if fds:
            short = send_each(fds, data)
            if short is not None:
                for index, sent in short:
                    # What the kernel did not take, or all of it where send
                    # failed: queue() has a failure reported as usual.
                    direct[index].queue(data[sent:])
        return len(members) - skipped

    def _by_wire(self, clients: Collection[IChatClient]) -> _Wires:
        """
        C{clients} wire by wire: each renderer among them, with the clients
        it renders for. A room's members (L{Members}) are sorted again only
        when they changed (the model then drops their C{fanned}), or the
        renderer of one of the chat's connections did (L{renderers_changed}).
        Taking a
        room of several wires member by member, each one's bytes looked up
        when the wire changed from the last one's, cost a mixed room about a
        sixth of its CPU a delivery in a burst. Each wire's members are a
        list of their own, beside their descriptors, for L{deliver_each}.
        """
        if isinstance(clients, Members):
            known = cast("tuple[int, _Wires] | None", clients.fanned)
            if known is not None and known[0] == self.renderers_changed:
                return known[1]
            wires = _sorted_by_wire(clients)
            clients.fanned = (self.renderers_changed, wires)
            return wires
        return _sorted_by_wire(clients)

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
            connections=wire.counted(len(self.connections), "connection"),
        )
        for protocol in list(self.connections):
            session = protocol.session
            if session is not None:
                session.goodbye()
        self.chat.dissolve()
        return self.all_closed(grace)
