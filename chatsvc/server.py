"""
The server side of the line protocol: a thin adapter between a connection's
bytes and the chat model.

A connection first answers the nickname prompt; once it has a nickname it is
a L{Participant} in the model, and each line it sends is parsed into a
command (L{chatsvc.commands}) and carried out by the model. The model tells
participants what happened through L{ChatServerProtocol.deliver}.

test-case-name: tests.test_server
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime, ITCPTransport
from twisted.internet.protocol import ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from chatsvc import commands, wire
from chatsvc.commands import CommandError
from chatsvc.interfaces import IChatClient
from chatsvc.model import Chat, ChatError, Event, Participant, Room

GREETING = wire.notice("Welcome to chatsvc!")
PROMPT = wire.notice("Choose a nickname:")
SHUTDOWN = wire.notice("The server is shutting down. Goodbye!")
BYE = wire.notice("Bye!")

SHUTDOWN_GRACE = 5.0
"""Seconds a stopping server waits for goodbyes to flush before it hangs up."""


def describe_address(address: IAddress) -> str:
    """C{host:port} for IPv4 peers, C{[host]:port} for IPv6, C{unix} for UNIX sockets."""
    if isinstance(address, IPv4Address | IPv6Address):
        host = f"[{address.host}]" if isinstance(address, IPv6Address) else address.host
        return f"{host}:{address.port}"
    if isinstance(address, UNIXAddress):
        return "unix"
    return str(address)


@implementer(IChatClient)
class ChatServerProtocol(LineReceiver):
    """One connection to the chat server."""

    delimiter = b"\n"
    factory: ChatFactory
    transport: ITCPTransport
    participant: Participant | None = None
    _hung_up = False
    peer = "?"
    _log = Logger()

    # Connection events

    def connectionMade(self) -> None:
        self.peer = describe_address(self.transport.getPeer())
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
        self.factory.connections.add(self)
        self._log.info("{peer} connected", peer=self.peer)
        self.transport.write(GREETING + PROMPT)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._sign_off(None)
        self._log.info("{peer} disconnected: {why}", peer=self.peer, why=reason.getErrorMessage())
        self.factory.connection_lost(self)

    def lineReceived(self, line: bytes) -> None:
        if self._hung_up:
            return
        text = wire.decode(line)
        if self.participant is None:
            self._sign_on(text.strip())
        else:
            self._perform(self.participant, text)

    # IChatClient

    def deliver(self, event: Event) -> None:
        self.transport.write(wire.render(event))

    # Signing on and off

    def _sign_on(self, nick: str) -> None:
        if nick.lower() == "/quit" or nick.lower().startswith("/quit "):
            self._quit(None)
            return
        try:
            self.participant = self.factory.chat.sign_on(nick, self)
        except ChatError as e:
            self.transport.write(wire.error(str(e)) + PROMPT)
            return
        self._log.info("{peer} is {nick}", peer=self.peer, nick=nick)
        self.transport.write(wire.notice(f"Hello {nick}! Type /help for the commands."))
        self._show_members(self.participant.room, "You joined")

    def _sign_off(self, reason: str | None) -> None:
        participant, self.participant = self.participant, None
        if participant is not None:
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
        self._hung_up = True
        self.transport.write(last_words)
        self.transport.loseConnection()

    # Commands

    def _perform(self, me: Participant, text: str) -> None:
        try:
            command = commands.parse(text)
        except CommandError as e:
            self.transport.write(wire.error(str(e)))
            return
        chat = self.factory.chat
        try:
            match command:
                case commands.Say(text=said):
                    if said.strip():
                        message = chat.say(me, said)
                        if self.factory.log_messages:
                            self._log.info(
                                "[{room}] <{nick}> {text}",
                                room=message.room,
                                nick=message.nick,
                                text=message.text,
                            )
                case commands.Me(text=action):
                    act = chat.act(me, action)
                    if self.factory.log_messages:
                        self._log.info(
                            "[{room}] * {nick} {text}", room=act.room, nick=act.nick, text=act.text
                        )
                case commands.Msg(nick=nick, text=said):
                    private = chat.whisper(me, nick, said)
                    self.transport.write(wire.own_private_message(private))
                    if self.factory.log_messages:
                        self._log.info(
                            "*{sender}* -> {recipient}: {text}",
                            sender=private.sender,
                            recipient=private.recipient,
                            text=private.text,
                        )
                case commands.Nick(nick=nick):
                    old = chat.rename(me, nick)
                    self._log.info("{old} is now known as {new}", old=old, new=nick)
                    self.transport.write(wire.notice(f"You are now known as {nick}"))
                case commands.Join(room=name):
                    old_room = me.room.name
                    room = chat.join(me, name)
                    self._log.info(
                        "{nick} left {old} for {new}", nick=me.nick, old=old_room, new=room.name
                    )
                    self._show_members(room, "You joined")
                case commands.Who(room=name):
                    self._show_members(me.room if name is None else chat.room(name), "Members of")
                case commands.Rooms():
                    rooms = chat.rooms()
                    self.transport.write(wire.notice(f"{_count(len(rooms), 'room')}:"))
                    self.transport.writeSequence(
                        wire.listing(f"{room.name} ({len(room)})" for room in rooms)
                    )
                case commands.Help():
                    self.transport.write(wire.notice("Commands:"))
                    self.transport.writeSequence([wire.notice(line) for line in commands.HELP])
                case commands.Quit(reason=reason):
                    self._quit(reason)
        except ChatError as e:
            self.transport.write(wire.error(str(e)))

    def _show_members(self, room: Room, heading: str) -> None:
        count = _count(len(room), "member")
        self.transport.write(wire.notice(f"{heading} {room.name} ({count}):"))
        self.transport.writeSequence(wire.listing(room.nicks()))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class ChatFactory(ServerFactory):
    """
    The chat server: the model, shared by every connection on every endpoint
    the service listens on, and the set of open connections.
    """

    protocol = ChatServerProtocol  # type: ignore[assignment]
    _log = Logger()

    def __init__(
        self,
        chat: Chat | None = None,
        *,
        log_messages: bool = False,
        clock: IReactorTime | None = None,
    ) -> None:
        self.chat = chat if chat is not None else Chat()
        self.log_messages = log_messages
        self.connections: set[ChatServerProtocol] = set()
        self._clock = clock
        self._all_closed: list[Deferred[None]] = []

    def connection_lost(self, protocol: ChatServerProtocol) -> None:
        self.connections.discard(protocol)
        if not self.connections:
            waiting, self._all_closed = self._all_closed, []
            for d in waiting:
                d.callback(None)

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
        if self._clock is not None:
            timer = self._clock.callLater(grace, self._abort_all)
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
