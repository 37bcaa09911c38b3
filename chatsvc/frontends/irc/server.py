"""
The server side of IRC (RFC 1459/2812 as the Modern IRC documents describe
it, and the IRCv3 capabilities in L{CAPABILITIES}), over the session core
(L{chatsvc.sessions.session}) and the stream connection layer
(L{chatsvc.streams.connection}): the same chat, limits, history, accounts
and operators as the line protocol.

Rooms are channels (room C{dev} is C{#dev}); chatsvc's operators are every
channel's operators (C{@}). A connection registers (C{CAP}, C{PASS},
C{NICK}, C{USER}, C{AUTHENTICATE}), and is then in no channel until it
joins one. Input is held to the server's rate by reading more slowly, never
by dropping (IRC's flood control). What IRC users say keeps its formatting
codes for other IRC users; other wires never see them.

test-case-name: tests.frontends.irc.test_server, tests.frontends.irc.test_endtoend
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from twisted.internet.interfaces import IDelayedCall
from zope.interface import implementer

from chatsvc import __version__
from chatsvc.chat import commands
from chatsvc.chat.commands import HISTORY_MAX
from chatsvc.chat.events import Action, ClientTags, Event, Kicked, Message
from chatsvc.chat.interfaces import IChatClient
from chatsvc.chat.model import (
    KEY_MAX,
    NAME_MAX,
    Account,
    ChatError,
    GuestsNotAllowed,
    NicknameInvalid,
    NicknameRegistered,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotAnOperator,
    NotInRoom,
    Participant,
    Room,
    RoomNameInvalid,
    TooManyRooms,
    canonical_room_name,
    fold,
    is_valid_name,
)
from chatsvc.frontends.irc import moderation
from chatsvc.frontends.irc import numerics as n
from chatsvc.frontends.irc.masks import EXTBAN
from chatsvc.frontends.irc.message import MAX_INPUT, MAX_LINE, TooLong, client_tags, line, parse
from chatsvc.frontends.irc.wire import (
    EVERYONE,
    USERLEN,
    IrcEvents,
    IrcServer,
    User,
    action_of,
    channel,
    clip,
    sanitise,
    server_time,
    split_text,
)
from chatsvc.frontends.line.server import ChatFactory
from chatsvc.history import Line
from chatsvc.sessions import results
from chatsvc.sessions.results import Farewell, Result
from chatsvc.sessions.session import Relayed, Session, Stage
from chatsvc.streams.connection import StreamConnection, peer_address

TOPICLEN = 390
"""The longest topic, in bytes; a longer one is cut."""

KICKLEN = 255
"""The longest kick reason, in bytes; a longer one is cut."""

AWAYLEN = 200
"""The longest away message, in bytes; a longer one is cut."""

QUITLEN = 255
"""The longest quit or part reason, in bytes; a longer one is cut."""

SASL_CHUNK = 400
"""Bytes of base64 in one C{AUTHENTICATE} line; a full one means more follows."""

SASL_MAX = 4096
"""The most bytes of base64 one SASL exchange may send."""

CAPABILITIES = (
    "batch",
    "cap-notify",
    "draft/chathistory",
    "echo-message",
    "message-tags",
    "multi-prefix",
    "sasl",
    "server-time",
    "userhost-in-names",
)
"""The IRCv3 capabilities served (C{sasl} only with accounts)."""

_FAREWELLS = {
    Farewell.QUIT: "Quit",
    Farewell.LOGIN_TIMEOUT: "Registration timeout",
    Farewell.PASSWORD_TIMEOUT: "Registration timeout",
    Farewell.TOO_MANY_PASSWORDS: "Too many wrong passwords",
    Farewell.CANNOT_CHECK: "Passwords cannot be checked now; try again later",
    Farewell.SHUTDOWN: "Server shutting down",
    Farewell.REPLACED: "Signed on from elsewhere",
    Farewell.OWNER_ARRIVED: "Nickname is registered, and its owner signed on",
    Farewell.NICKNAME_CLAIMED: "Nickname taken on another server of this network",
}


def irc_frontend(server: IrcServer) -> type[IrcConnection]:
    """The connection class of an IRC listener whose connections share C{server}."""
    return type("IrcConnection", (IrcConnection,), {"irc": server, "__slots__": ()})


@implementer(IChatClient)
class IrcConnection(StreamConnection):
    """
    One IRC connection: its messages are parsed for its L{Session}, whose
    frontend it is, and what the session shows is rendered as IRC. It is the
    session's client in the chat.
    """

    delimiter = b"\n"
    wire = "irc"
    max_input = MAX_INPUT
    factory: ChatFactory
    irc: ClassVar[IrcServer] = IrcServer()

    __slots__ = (
        "_account_pending",
        "_asked",
        "_barred",
        "_batches",
        "_cap_negotiating",
        "_caps",
        "_last_heard",
        "_nick",
        "_password",
        "_ping_sent",
        "_pinger",
        "_sasl",
        "_tags",
        "_user",
        "_user_modes",
        "events",
        "session",
    )

    def __init__(self) -> None:
        super().__init__()
        self.session: Session | None = None
        self.events: IrcEvents | None = None
        self._nick: str | None = None  # asked for, then had
        self._user: User | None = None
        self._password: bytes | None = None
        self._caps: set[str] = set()
        self._cap_negotiating = False
        self._sasl: str | None = None  # base64 received so far, while authenticating
        self._account_pending = False  # a SASL login is being checked
        self._batches = itertools.count(1)
        self._last_heard = 0.0
        self._ping_sent = False
        self._pinger: IDelayedCall | None = None
        self._user_modes: set[str] = set()
        self._asked: moderation.Asked | None = None  # what asked for the session's next answers
        self._barred: str | None = None  # why a chat-wide ban refused signing on
        self._tags: ClientTags = ()  # the client-only tags of the message being handled

    # The stream connection's

    def connection_started(self) -> None:
        self.session = Session(
            self.factory, self, self, lobby=False, address=peer_address(self.transport)
        )
        self.events = self.irc.events(self.factory.clock, timed=False)
        self._last_heard = self.factory.clock.seconds()
        self._pinger = self.factory.clock.callLater(self.irc.ping_interval, self._check_alive)
        self.session.start()

    def connection_ended(self) -> None:
        assert self.session is not None
        if self._pinger is not None and self._pinger.active():
            self._pinger.cancel()
        self._pinger = None
        self.session.lost()
        user = self._user
        if (
            self._nick is not None
            and user is not None
            and self.irc.users.get(fold(self._nick)) is user
        ):
            del self.irc.users[fold(self._nick)]
            self.irc.left(self._nick, user, self.factory.clock.seconds())

    def dropping(self) -> None:
        assert self.session is not None
        self.session.dropped()

    def line_too_long(self) -> None:
        self._numeric(n.ERR_INPUTTOOLONG, "Input line was too long")

    def line_received(self, data: bytes) -> None:
        session = self.session
        assert session is not None
        self._last_heard = self.factory.clock.seconds()
        self._ping_sent = False
        if data.endswith(b"\r"):
            data = data[:-1]
        text = data.decode("utf-8", "replace")
        try:
            message = parse(text, len(data))
        except TooLong:
            self._numeric(n.ERR_INPUTTOOLONG, "Input line was too long")
            return
        if message is None:
            return
        # Tags are taken only from a client that negotiated them, and relayed only if its own.
        self._tags = (
            client_tags(message.tags) if message.tags and "message-tags" in self._caps else ()
        )
        params = [sanitise(p) for p in message.params]
        handler = _HANDLERS.get(message.command)
        registered = session.stage is Stage.SIGNED_ON
        if handler is None:
            if registered:
                self._numeric(n.ERR_UNKNOWNCOMMAND, message.command, "Unknown command")
            elif message.command.isalpha():
                self._numeric(n.ERR_NOTREGISTERED, "You have not registered")
            return
        function, least, before = handler
        self._asked = None
        if not registered and not before:
            self._numeric(n.ERR_NOTREGISTERED, "You have not registered")
            return
        if len(params) < least:
            self._numeric(n.ERR_NEEDMOREPARAMS, message.command, "Not enough parameters")
            return
        function(self, params)

    # Keeping alive

    def _check_alive(self) -> None:
        """Ping a client silent for a while; drop one that did not answer the last ping."""
        clock, interval = self.factory.clock, self.irc.ping_interval
        silent = clock.seconds() - self._last_heard
        if silent >= interval:
            if self._ping_sent:
                assert self.session is not None
                self.session.leave_reason = f"ping timeout: {int(silent)} seconds"
                self.hang_up(
                    f"ERROR :Closing Link: Ping timeout ({int(silent)} seconds)\r\n".encode()
                )
                self._pinger = None
                return
            self._ping_sent = True
            self._last_heard = clock.seconds()
            self._send_lines([line(None, "PING", self.irc.name)])
        self._pinger = clock.callLater(interval - min(silent, interval - 1), self._check_alive)

    # Writing

    @property
    def nick(self) -> str:
        """The nickname to address numerics to: C{*} until one is had."""
        participant = None if self.session is None else self.session.participant
        if participant is not None:
            return participant.nick
        return "*"

    def _send_lines(self, lines: Iterable[str]) -> None:
        assert self.session is not None
        self.session.output(self._encode(lines))

    def _encode(self, lines: Iterable[str]) -> bytes:
        if "server-time" in self._caps:
            tag = f"@time={server_time(self.factory.clock.seconds())} "
            # History lines come with their own time.
            return "".join(
                f"{one}\r\n" if one.startswith("@") else f"{tag}{one}\r\n" for one in lines
            ).encode()
        return "".join(f"{one}\r\n" for one in lines).encode()

    def _reply(self, code: str, *params: str) -> str:
        return line(self.irc.name, code, self.nick, *params)

    def _numeric(self, code: str, *params: str) -> None:
        self._send_lines([self._reply(code, *params)])

    def _notice(self, text: str) -> None:
        self._send_lines(split_text(f":{self.irc.name} NOTICE {self.nick}", text))

    def _mask(self) -> str:
        return self.irc.mask(self.nick)

    def _ask(self, asked: moderation.Asked) -> None:
        """What asks for the session's answers from now on (see L{moderation.Asked})."""
        self._asked = asked

    # The session's frontend

    def render(self, result: Result | Event) -> bytes:
        return self._encode(self._render(result))

    def _render(self, result: Result | Event) -> list[str]:
        match result:
            case results.NicknamePrompt() | results.PasswordPrompt() | results.Help():
                return []
            case results.HistoryCapped():
                return []
            case results.PrivateSent(message=message, away=away):
                return [] if away is None else [self._reply(n.RPL_AWAY, message.recipient, away)]
            case results.InviteSent(invitation=invitation, away=away):
                lines = [self._reply(n.RPL_INVITING, invitation.nick, channel(invitation.room))]
                if away is not None:
                    lines.append(self._reply(n.RPL_AWAY, invitation.nick, away))
                return lines
            case results.Away(reason=reason):
                if reason is None:
                    return [self._reply(n.RPL_UNAWAY, "You are no longer marked as being away")]
                return [self._reply(n.RPL_NOWAWAY, "You have been marked as being away")]
            case results.Refused(reason=reason, error=error):
                said = moderation.refusal(self, reason, error)
                return self._refusal(reason, error) if said is None else said
            case results.Welcome(nick=nick):
                return self._welcome(nick)
            case results.Entered():
                return self._entered(result)
            case results.Members(room=room):
                return self._names(room)
            case results.RoomList(rooms=rooms):
                return self._list(rooms)
            case results.Renamed(nick=new):
                return [self._renamed(new)]
            case results.Parted(room=room, reason=reason):
                params = (channel(room),) if reason is None else (channel(room), reason)
                return [line(self._mask(), "PART", *params)]
            case results.TopicShown(room=room, topic=topic):
                return self._topic(room, topic)
            case results.HistoryFound():
                return self._history(result)
            case results.HistoryUnavailable(room=room):
                return [
                    line(
                        self.irc.name,
                        "FAIL",
                        "CHATHISTORY",
                        "MESSAGE_ERROR",
                        channel(room),
                        "The history is not available right now",
                    )
                ]
            case results.Goodbye(why=why):
                return [line(None, "ERROR", f"Closing Link: {_FAREWELLS[why]}")]
            case results.ServerNotice(text=text):
                return [line(self.irc.name, "NOTICE", self.nick, text)]
            case results.KickedOut(event=event):
                reason = event.reason or event.by
                return [
                    line(self.irc.mask(event.by), "KICK", channel(event.room), event.nick, reason),
                    line(None, "ERROR", f"Closing Link: Kicked by {event.by} ({reason})"),
                ]
            case results.Statistics():
                return [self._reply(n.RPL_STATSDEBUG, text) for text in result.lines()]
            case result if not isinstance(result, Event):
                rendered = moderation.render(self, result)
                assert rendered is not None, result
                return rendered
            case event:
                assert self.events is not None
                return self.events.lines(event)

    def _refusal(self, reason: str, error: ChatError | None) -> list[str]:
        name = getattr(error, "name", None) or "*"
        match error:
            case NicknameInvalid():
                return [self._reply(n.ERR_ERRONEUSNICKNAME, name, "Erroneous nickname")]
            case NicknameTaken():
                return [self._reply(n.ERR_NICKNAMEINUSE, name, "Nickname is already in use")]
            case NicknameRegistered():
                return [
                    self._reply(
                        n.ERR_NICKNAMEINUSE,
                        name,
                        "Nickname is registered; log in to its account with SASL or PASS",
                    )
                ]
            case GuestsNotAllowed():
                return [
                    self._reply(n.ERR_NICKNAMEINUSE, name, "Only registered users may sign on here")
                ]
            case NoSuchUser():
                return [self._reply(n.ERR_NOSUCHNICK, name, "No such nick/channel")]
            case NoSuchRoom() | RoomNameInvalid():
                return [self._reply(n.ERR_NOSUCHCHANNEL, channel(name), "No such channel")]
            case NotInRoom():
                return [
                    self._reply(n.ERR_NOTONCHANNEL, channel(name), "You're not on that channel")
                ]
            case TooManyRooms():
                return [line(self.irc.name, "NOTICE", self.nick, reason)]
            case NotAnOperator():
                return [line(self.irc.name, "NOTICE", self.nick, reason)]
        if self.nick == "*" and reason.startswith("wrong password"):
            return [self._reply(n.ERR_PASSWDMISMATCH, "Password incorrect")]
        return list(split_text(f":{self.irc.name} NOTICE {self.nick}", reason))

    # IChatClient

    @property
    def takes_tags(self) -> bool:
        """Whether it is shown client tags alone (C{TAGMSG}): with C{message-tags}."""
        return "message-tags" in self._caps

    def deliver(self, event: Event) -> None:
        assert self.session is not None and self.events is not None
        self.session.output(self.events.render(event))

    def kicked(self, event: Kicked) -> None:
        assert self.session is not None
        self.session.kicked(event)

    # Registration

    def _try_register(self) -> None:
        session = self.session
        assert session is not None
        if (
            self._nick is None
            or self._user is None
            or self._cap_negotiating
            or self._sasl is not None
            or self._account_pending
            or session.stage is not Stage.NICKNAME
        ):
            return
        nick = self._nick
        session.sign_on_as(nick)
        if self._barred is not None:
            self.hang_up(f"ERROR :Closing Link: You are {self._barred}\r\n".encode())
            return
        stage: Stage = session.stage
        if stage is Stage.PASSWORD:
            if self._password:
                session.give_password(self._password)
            else:
                self._send_lines(
                    [
                        self._reply(
                            n.ERR_NICKNAMEINUSE,
                            nick,
                            "Nickname is registered; log in to its account with SASL or PASS",
                        )
                    ]
                )
                session.give_password(b"")
        if session.stage is Stage.NICKNAME:
            self._nick = None

    def _welcome(self, nick: str) -> list[str]:
        assert self._user is not None
        self._nick = nick
        self.irc.users[fold(nick)] = self._user
        self._update_events()
        me = self.irc.mask(nick)
        server, version = self.irc.name, f"chatsvc-{__version__}"
        created = _created(self.irc)
        lines = [
            self._reply(n.RPL_WELCOME, f"Welcome to the {self.irc.network} IRC Network {me}"),
            self._reply(n.RPL_YOURHOST, f"Your host is {server}, running version {version}"),
            self._reply(n.RPL_CREATED, f"This server was created {created}"),
            self._reply(
                n.RPL_MYINFO,
                server,
                version,
                "Biow",
                moderation.CHANNEL_MODES,
                moderation.PARAMETER_MODES,
            ),
        ]
        lines += self._isupport()
        lines += self._lusers()
        lines += self._motd()
        account = self.session.account if self.session is not None else None
        if account is not None and account.operator:
            self._user_modes.add("o")
        return lines

    def _isupport(self) -> list[str]:
        chat = self.factory.chat
        tokens = [
            f"AWAYLEN={AWAYLEN}",
            "BOT=B",
            "CASEMAPPING=ascii",
            f"CHANLIMIT=#:{chat.max_rooms}",
            "CHANMODES=beI,k,l,imnst",
            f"CHANNELLEN={NAME_MAX + 1}",
            "CHANTYPES=#",
            f"CHATHISTORY={HISTORY_MAX}",
            "ELIST=",
            "EXCEPTS=e",
            f"EXTBAN={EXTBAN}",
            "INVEX=I",
            f"KEYLEN={KEY_MAX}",
            f"KICKLEN={KICKLEN}",
            f"LINELEN={MAX_LINE}",
            "MAXLIST=" + ",".join(f"{m}:{chat.sanctions.max_per_scope}" for m in "beI"),
            f"MODES={moderation.MODE_CHANGES_MAX}",
            f"NETWORK={self.irc.network}",
            f"NICKLEN={NAME_MAX}",
            "PREFIX=(qov)~@+",
            f"TOPICLEN={TOPICLEN}",
            f"USERLEN={USERLEN}",
        ]
        return [
            self._reply(n.RPL_ISUPPORT, *tokens[i : i + 12], "are supported by this server")
            for i in range(0, len(tokens), 12)
        ]

    def _lusers(self) -> list[str]:
        chat = self.factory.chat
        users, most = len(chat), chat.most
        operators = sum(1 for p in chat if p.operator)
        rooms = len(chat.rooms())
        return [
            self._reply(n.RPL_LUSERCLIENT, f"There are {users} users and 0 invisible on 1 servers"),
            self._reply(n.RPL_LUSEROP, str(operators), "operator(s) online"),
            self._reply(n.RPL_LUSERCHANNELS, str(rooms), "channels formed"),
            self._reply(n.RPL_LUSERME, f"I have {users} clients and 0 servers"),
            self._reply(
                n.RPL_LOCALUSERS,
                str(users),
                str(most),
                f"Current local users {users}, max {most}",
            ),
            self._reply(
                n.RPL_GLOBALUSERS,
                str(users),
                str(most),
                f"Current global users {users}, max {most}",
            ),
        ]

    def _motd(self) -> list[str]:
        motd = self.irc.motd
        if motd is None:
            return [self._reply(n.ERR_NOMOTD, "MOTD File is missing")]
        return [
            self._reply(n.RPL_MOTDSTART, f"- {self.irc.name} Message of the day - "),
            *(self._reply(n.RPL_MOTD, f"- {text}") for text in motd),
            self._reply(n.RPL_ENDOFMOTD, "End of /MOTD command."),
        ]

    def _update_events(self) -> None:
        self.events = self.irc.events(
            self.factory.clock,
            timed="server-time" in self._caps,
            tagged="message-tags" in self._caps,
        )
        self.factory.renderers_changed += 1  # its rooms' members by wire are to be counted again

    def _renamed(self, new: str) -> str:
        old = self._nick or new
        renamed = line(self.irc.mask(old), "NICK", new)
        if self._user is not None:
            if self.irc.users.get(fold(old)) is self._user:
                del self.irc.users[fold(old)]
                if fold(old) != fold(new):
                    self.irc.left(old, self._user, self.factory.clock.seconds())
            self.irc.users[fold(new)] = self._user
        self._nick = new
        return renamed

    # Channels

    def _prefixes(self, participant: Participant, room: Room) -> str:
        """C{participant}'s prefixes in C{room}: all (C{multi-prefix}) or the highest."""
        ranks = moderation.ranks(participant, room)
        return ranks if "multi-prefix" in self._caps else ranks[:1]

    def _prefixed(self, participant: Participant, room: Room) -> str:
        name = participant.nick
        if "userhost-in-names" in self._caps:
            name = self.irc.mask(name)
        return self._prefixes(participant, room) + name

    def _names(self, room_name: str) -> list[str]:
        chat = self.factory.chat
        try:
            room = chat.room(room_name)
        except ChatError:
            return [self._reply(n.RPL_ENDOFNAMES, channel(room_name), "End of /NAMES list")]
        if not room.visible_to(self._me()):  # a secret channel, seen from outside: none
            return [self._reply(n.RPL_ENDOFNAMES, channel(room_name), "End of /NAMES list")]
        members = sorted(room, key=lambda p: fold(p.nick))
        names = [self._prefixed(p, room) for p in members]
        kind = "@" if room.secret else "="
        head = f":{self.irc.name} {n.RPL_NAMREPLY} {self.nick} {kind} {channel(room.name)} :"
        room_left = MAX_LINE - 2 - len(head.encode())
        lines: list[str] = []
        current: list[str] = []
        size = 0
        for name in names:
            extra = len(name) + (1 if current else 0)
            if current and size + extra > room_left:
                lines.append(head + " ".join(current))
                current, size, extra = [], 0, len(name)
            current.append(name)
            size += extra
        if current:
            lines.append(head + " ".join(current))
        lines.append(self._reply(n.RPL_ENDOFNAMES, channel(room.name), "End of /NAMES list"))
        return lines

    def _topic(self, room: str, topic: object) -> list[str]:
        from chatsvc.chat.model import Topic

        if not isinstance(topic, Topic):
            return [self._reply(n.RPL_NOTOPIC, channel(room), "No topic is set")]
        return [
            self._reply(n.RPL_TOPIC, channel(room), topic.text),
            self._reply(
                n.RPL_TOPICWHOTIME,
                channel(room),
                self.irc.mask(topic.set_by),
                str(int(topic.set_at)),
            ),
        ]

    def _entered(self, entered: results.Entered) -> list[str]:
        lines = [line(self._mask(), "JOIN", channel(entered.room))]
        if entered.topic is not None:
            lines += self._topic(entered.room, entered.topic)
        return lines + self._names(entered.room)

    def _list(self, rooms: Iterable[results.RoomSummary]) -> list[str]:
        lines = [self._reply(n.RPL_LISTSTART, "Channel", "Users  Name")]
        for room in rooms:
            text = "" if room.topic is None else room.topic.text
            lines.append(self._reply(n.RPL_LIST, channel(room.name), str(room.count), text))
        lines.append(self._reply(n.RPL_LISTEND, "End of /LIST"))
        return lines

    def _history(self, found: results.HistoryFound) -> list[str]:
        if found.joining and not found.lines:
            return []
        target = channel(found.room)
        batched = "batch" in self._caps
        timed = "server-time" in self._caps
        out: list[str] = []
        reference = ""
        if batched:
            reference = str(next(self._batches))
            out.append(f"BATCH +{reference} chathistory {target}")
        renderer = self.irc.events(self.factory.clock, timed=False)
        for entry in found.lines:
            tags = []
            if timed:
                tags.append(f"time={server_time(entry.when)}")
            if batched:
                tags.append(f"batch={reference}")
            prefix = f"@{';'.join(tags)} " if tags else ""
            for one in renderer.lines(self._dated(entry, stamp=not timed)):
                out.append(prefix + one)
        if batched:
            out.append(f"BATCH -{reference}")
        return out

    @staticmethod
    def _dated(entry: Line, *, stamp: bool) -> Message | Action:
        """A history line, stamped with its time in its text for a client without C{server-time}."""
        if not stamp:
            return entry.event
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(entry.when))
        event = entry.event
        if isinstance(event, Message):
            return Message(event.room, event.nick, f"[{when}] {event.text}", event.notice)
        return Action(event.room, event.nick, f"{event.text} [{when}]")

    # What a user asks for

    def _perform(self, command: commands.Command) -> Relayed | None:
        assert self.session is not None
        return self.session.perform(command)

    def _echo(self, relayed: Event | None) -> None:
        if relayed is not None and "echo-message" in self._caps:
            assert self.session is not None and self.events is not None
            self.session.output(self.events.render(relayed))

    def _me(self) -> Participant:
        assert self.session is not None and self.session.participant is not None
        return self.session.participant

    def _channel_room(self, name: str) -> str | None:
        """The room of channel C{name}, or L{None} (after a 403) for a name no room has."""
        if not name.startswith("#") or not is_valid_name(name[1:]):
            self._numeric(n.ERR_NOSUCHCHANNEL, name, "No such channel")
            return None
        return name[1:]

    def _member_room(self, name: str) -> str | None:
        """The room of channel C{name} if the user is in it; else a 403 or a 442."""
        room = self._channel_room(name)
        if room is None:
            return None
        try:
            self.factory.chat.room(room)
        except ChatError:
            self._numeric(n.ERR_NOSUCHCHANNEL, name, "No such channel")
            return None
        try:
            return self.factory.chat.member_of(self._me(), room).name
        except ChatError:
            self._numeric(n.ERR_NOTONCHANNEL, name, "You're not on that channel")
            return None


def _cap(connection: IrcConnection, params: list[str]) -> None:
    sub = params[0].upper()
    registered = connection.session is not None and connection.session.stage is Stage.SIGNED_ON
    target = connection.nick
    if sub == "LS":
        if not registered:
            connection._cap_negotiating = True
        version = params[1] if len(params) > 1 else ""
        if version.isdigit() and int(version) >= 302:
            connection._caps.add("cap-notify")
        offered = [
            _cap_value(connection, cap, version.isdigit() and int(version) >= 302)
            for cap in _offered(connection)
        ]
        connection._send_lines([line(connection.irc.name, "CAP", target, "LS", " ".join(offered))])
    elif sub == "LIST":
        enabled = " ".join(sorted(connection._caps))
        connection._send_lines([line(connection.irc.name, "CAP", target, "LIST", enabled)])
    elif sub == "REQ":
        if not registered:
            connection._cap_negotiating = True
        asked = params[1].split() if len(params) > 1 else []
        known = set(_offered(connection))
        if not asked or any(cap.removeprefix("-") not in known for cap in asked):
            connection._send_lines(
                [line(connection.irc.name, "CAP", target, "NAK", " ".join(asked))]
            )
            return
        for cap in asked:
            if cap.startswith("-"):
                connection._caps.discard(cap[1:])
            else:
                connection._caps.add(cap)
        connection._update_events()
        connection._send_lines([line(connection.irc.name, "CAP", target, "ACK", " ".join(asked))])
    elif sub == "END":
        if not registered:
            connection._cap_negotiating = False
            connection._try_register()
    else:
        connection._numeric(n.ERR_INVALIDCAPCMD, params[0], "Invalid CAP command")


def _offered(connection: IrcConnection) -> list[str]:
    with_sasl = connection.factory.portal is not None
    registrar = connection.factory.registrar
    offered = [cap for cap in CAPABILITIES if cap != "sasl" or with_sasl]
    if registrar is not None and registrar.open:
        offered.append(moderation.REGISTRATION_CAP)
    return sorted(offered)


def _cap_value(connection: IrcConnection, cap: str, v302: bool) -> str:
    if v302 and cap == "sasl":
        return "sasl=PLAIN"
    return cap


def _nick(connection: IrcConnection, params: list[str]) -> None:
    session = connection.session
    assert session is not None
    nick = params[0] if params else ""
    if not nick:
        connection._numeric(n.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    if not is_valid_name(nick) or nick[0].isdigit() or nick[0] == "-":
        connection._numeric(n.ERR_ERRONEUSNICKNAME, nick, "Erroneous nickname")
        return
    if moderation.is_service(nick) is not None:
        connection._numeric(n.ERR_ERRONEUSNICKNAME, nick, "Reserved for a service")
        return
    chat = connection.factory.chat
    if session.stage is Stage.SIGNED_ON:
        me = connection._me()
        if nick == me.nick:
            return
        holder = chat.find(nick)
        if holder is not None and holder is not me:
            connection._numeric(n.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
            return
        connection._ask(moderation.Asked("NICK", nick))
        connection._perform(commands.Nick(nick))
        return
    holder = chat.find(nick)
    registered = chat.registered(nick)
    if holder is not None and registered is None:
        connection._numeric(n.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        return
    if session.stage is not Stage.NICKNAME:
        return
    connection._nick = nick
    connection._try_register()


def _user(connection: IrcConnection, params: list[str]) -> None:
    assert connection.session is not None
    if connection._user is not None or connection.session.stage is Stage.SIGNED_ON:
        connection._numeric(n.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    if not params[0] or not params[3]:
        connection._numeric(n.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
        return
    name = "".join(c for c in params[0] if c.isascii() and (c.isalnum() or c in "-_.")) or "user"
    connection._user = User(f"~{name}"[:USERLEN], params[3])
    connection._try_register()


def _pass(connection: IrcConnection, params: list[str]) -> None:
    assert connection.session is not None
    if connection.session.stage is Stage.SIGNED_ON:
        connection._numeric(n.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    connection._password = params[0].encode()


def _authenticate(connection: IrcConnection, params: list[str]) -> None:
    session = connection.session
    assert session is not None
    argument = params[0]
    if session.stage is Stage.SIGNED_ON or session.account is not None:
        connection._numeric(n.ERR_SASLALREADY, "You have already authenticated using SASL")
        return
    if connection.factory.portal is None:
        connection._numeric(n.ERR_SASLFAIL, "SASL authentication failed")
        return
    if argument == "*":
        if connection._sasl is not None:
            connection._sasl = None
            connection._numeric(n.ERR_SASLABORTED, "SASL authentication aborted")
            connection._try_register()
        else:
            connection._numeric(n.ERR_SASLFAIL, "SASL authentication failed")
        return
    if connection._sasl is None:
        if argument.upper() != "PLAIN":
            connection._numeric(n.RPL_SASLMECHS, "PLAIN", "are available SASL mechanisms")
            connection._numeric(n.ERR_SASLFAIL, "SASL authentication failed")
            return
        connection._sasl = ""
        connection._send_lines(["AUTHENTICATE +"])
        return
    if len(argument) > SASL_CHUNK:
        connection._sasl = None
        connection._numeric(n.ERR_SASLTOOLONG, "SASL message too long")
        return
    if argument != "+":
        connection._sasl += argument
    if len(connection._sasl) > SASL_MAX:
        connection._sasl = None
        connection._numeric(n.ERR_SASLTOOLONG, "SASL message too long")
        return
    if len(argument) == SASL_CHUNK:
        return  # more follows
    encoded, connection._sasl = connection._sasl, None
    try:
        authzid, authcid, password = base64.b64decode(encoded, validate=True).split(b"\0")
        name = authcid.decode()
        if authzid and fold(authzid.decode()) != fold(name):
            raise ValueError(authzid)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        connection._numeric(n.ERR_SASLFAIL, "SASL authentication failed")
        return
    connection._account_pending = True

    def checked(account: Account | None) -> None:
        connection._account_pending = False
        if account is None:
            connection._numeric(n.ERR_SASLFAIL, "SASL authentication failed")
        else:
            nick = connection._nick or "*"
            user = connection._user.user if connection._user is not None else "*"
            mask = f"{nick}!{user}@{connection.irc.name}"
            connection._send_lines(
                [
                    connection._reply(
                        n.RPL_LOGGEDIN,
                        mask,
                        account.name,
                        f"You are now logged in as {account.name}",
                    ),
                    connection._reply(n.RPL_SASLSUCCESS, "SASL authentication successful"),
                ]
            )
        connection._try_register()

    session.log_in(name, password).addCallback(checked)


def _ping(connection: IrcConnection, params: list[str]) -> None:
    if not params or not params[0]:
        connection._numeric(n.ERR_NOORIGIN, "No origin specified")
        return
    connection._send_lines([line(connection.irc.name, "PONG", connection.irc.name, params[0])])


def _pong(connection: IrcConnection, params: list[str]) -> None:
    pass  # hearing anything is enough (line_received)


def _quit(connection: IrcConnection, params: list[str]) -> None:
    assert connection.session is not None
    reason = clip(params[0], QUITLEN) if params and params[0].strip() else None
    connection.session.quit(reason)


def _join(connection: IrcConnection, params: list[str]) -> None:
    me = connection._me()
    if params[0] == "0":
        for room in list(me.rooms):
            connection._perform(commands.Leave(room.name))
        return
    keys = params[1].split(",") if len(params) > 1 else []
    for i, name in enumerate(params[0].split(",")):
        wanted = connection._channel_room(name)
        if wanted is None:
            continue
        if any(fold(r.name) == fold(wanted) for r in me.rooms):
            continue
        if len(me.rooms) >= connection.factory.chat.max_rooms:
            connection._numeric(n.ERR_TOOMANYCHANNELS, name, "You have joined too many channels")
            continue
        connection._perform(commands.Enter(wanted, keys[i] if i < len(keys) else None))


def _part(connection: IrcConnection, params: list[str]) -> None:
    reason = clip(params[1], QUITLEN) if len(params) > 1 and params[1].strip() else None
    for name in params[0].split(","):
        room = connection._member_room(name)
        if room is not None:
            connection._perform(commands.Leave(room, reason))


def _message(verb: str) -> Callable[[IrcConnection, list[str]], None]:
    """C{PRIVMSG}, C{NOTICE} or C{TAGMSG} (client-only tags alone) to channels and nicknames."""
    notice = verb == "NOTICE"
    tags_alone = verb == "TAGMSG"

    def handle(connection: IrcConnection, params: list[str]) -> None:
        # A NOTICE is never answered, not even with an error (RFC 2812 3.3.2):
        # so that two bots cannot answer each other's notices for ever.
        def fail(code: str, *rest: str) -> None:
            if not notice:
                connection._numeric(code, *rest)

        if not params or not params[0]:
            fail(n.ERR_NORECIPIENT, f"No recipient given ({verb})")
            return
        tags = connection._tags
        if tags_alone:
            if not tags:
                fail(n.ERR_NOTEXTTOSEND, "No tags to send")
                return
            text = ""
        elif len(params) < 2 or not params[1]:
            fail(n.ERR_NOTEXTTOSEND, "No text to send")
            return
        else:
            text = params[1]
        action = None if tags_alone else action_of(text)
        chat = connection.factory.chat
        # Most lines are short: only one that might not fit is measured as it would be relayed.
        short = MAX_LINE - 2 - _HEAD_MOST - len(connection.irc.name)
        measure = verb == "PRIVMSG" and (len(text) > short or not text.isascii())
        for target in params[0].split(","):
            if measure and _too_long_to_relay(connection, target, text):
                fail(n.ERR_INPUTTOOLONG, RELAYED_TOO_LONG)
                continue
            if target in (EVERYONE, "$$*"):  # an operator's notice to everyone: /wall
                if not tags_alone:
                    connection._perform(commands.Wall(text))
            elif target.startswith("#"):
                # Only a valid name names a room: but for a second "#", which
                # find_room would take off, a name that is not one finds none.
                found = chat.find_room(target[1:]) if target[1:2] != "#" else None
                if found is None:
                    fail(n.ERR_NOSUCHCHANNEL, target, "No such channel")
                    continue
                if found.members_only and found not in connection._me().rooms:
                    fail(n.ERR_CANNOTSENDTOCHAN, target, "Cannot send to channel")
                    continue
                room = found.name
                connection._ask(moderation.Asked(verb, channel(room)))
                command: commands.Command
                if tags_alone:
                    command = commands.Tag(tags, room)
                elif action is not None and not notice:
                    command = commands.Me(action or " ", room, tags)
                else:
                    command = commands.Say(text, room, notice, tags)
                connection._echo(connection._perform(command))
            elif (service := moderation.is_service(target)) is not None:
                if verb == "PRIVMSG":
                    moderation.to_service(connection, service, text)
            else:
                recipient = chat.find(target)
                if recipient is None:
                    fail(n.ERR_NOSUCHNICK, target, "No such nick/channel")
                    continue
                connection._ask(moderation.Asked(verb, recipient.nick))
                if tags_alone:
                    command = commands.TagMsg(target, tags)
                else:
                    command = commands.Msg(target, text, notice, tags)
                connection._echo(connection._perform(command))

    return handle


RELAYED_TOO_LONG = (
    f"Input line was too long: relayed with your nick!user@host before it, it would be "
    f"over {MAX_LINE} bytes; send it shorter, or in two"
)
"""The C{417} of a C{PRIVMSG} that does not fit one line to others (L{_too_long_to_relay})."""

_HEAD_MOST = len(":!~@ PRIVMSG # :") + 2 * NAME_MAX + USERLEN
"""The longest C{:nick!user@ PRIVMSG target :} before a relayed text, less the server's name."""


def _too_long_to_relay(connection: IrcConnection, target: str, text: str) -> bool:
    """
    Whether C{text} would not fit one line to another IRC user, after the
    sender's C{:nick!user@host PRIVMSG target :}: such a C{PRIVMSG} is
    refused (C{417}), as the Modern documents allow, rather than cut or split.
    """
    head = f":{connection._mask()} PRIVMSG {target} :"
    return len(head.encode()) + len(text.encode()) > MAX_LINE - 2


def _topic(connection: IrcConnection, params: list[str]) -> None:
    chat = connection.factory.chat
    room = connection._channel_room(params[0])
    if room is None:
        return
    try:
        found = chat.room(room)
    except ChatError:
        connection._numeric(n.ERR_NOSUCHCHANNEL, params[0], "No such channel")
        return
    if len(params) < 2:
        connection._send_lines(connection._topic(found.name, found.topic))
        return
    if not connection._me().in_room(found):
        connection._numeric(n.ERR_NOTONCHANNEL, params[0], "You're not on that channel")
        return
    if found.topic_locked and not found.is_operator(connection._me()):
        connection._numeric(n.ERR_CHANOPRIVSNEEDED, params[0], "You're not channel operator")
        return
    # An empty (or blank) topic clears it: "TOPIC #dev :".
    connection._perform(commands.Topic(clip(params[1], TOPICLEN), found.name))


def _kick(connection: IrcConnection, params: list[str]) -> None:
    chat = connection.factory.chat
    room = connection._member_room(params[0])
    if room is None:
        return
    me = connection._me()
    if not chat.room(room).is_operator(me):
        connection._numeric(n.ERR_CHANOPRIVSNEEDED, params[0], "You're not channel operator")
        return
    connection._ask(moderation.Asked("KICK", channel(room)))
    for nick in params[1].split(","):
        target = chat.find(nick)
        if target is None or not any(r.name == room for r in target.rooms):
            connection._numeric(
                n.ERR_USERNOTINCHANNEL, nick, params[0], "They aren't on that channel"
            )
            continue
        reason = clip(params[2], KICKLEN) if len(params) > 2 and params[2].strip() else None
        # A server operator's KICK puts the user out of the chat, as the line protocol's /kick.
        connection._perform(commands.Kick(target.nick, reason, None if me.operator else room))


def _invite(connection: IrcConnection, params: list[str]) -> None:
    chat = connection.factory.chat
    nick, name = params[0], params[1]
    target = chat.find(nick)
    if target is None:
        connection._numeric(n.ERR_NOSUCHNICK, nick, "No such nick/channel")
        return
    room = connection._member_room(name)
    if room is None:
        return
    if any(fold(r.name) == fold(room) for r in target.rooms):
        connection._numeric(n.ERR_USERONCHANNEL, target.nick, name, "is already on channel")
        return
    connection._ask(moderation.Asked("INVITE", channel(room)))
    connection._perform(commands.Invite(target.nick, room))


def _names(connection: IrcConnection, params: list[str]) -> None:
    if not params or not params[0]:
        connection._numeric(n.RPL_ENDOFNAMES, "*", "End of /NAMES list")
        return
    for name in params[0].split(","):
        room = canonical_room_name(name) if name.startswith("#") else None
        if room is None or not is_valid_name(room):
            connection._numeric(n.RPL_ENDOFNAMES, name, "End of /NAMES list")
        else:
            connection._send_lines(connection._names(room))


def _list(connection: IrcConnection, params: list[str]) -> None:
    me = connection._me()
    rooms = [room for room in connection.factory.chat.rooms() if len(room) and room.visible_to(me)]
    if params and params[0]:
        wanted = {fold(canonical_room_name(name)) for name in params[0].split(",")}
        rooms = [room for room in rooms if fold(room.name) in wanted]
    connection._send_lines(connection._list(results.room_list(rooms).rooms))


def _who_line(connection: IrcConnection, participant: Participant, room: Room | None) -> str:
    """A C{352} line for C{participant}, named in C{room} (L{None}: none, C{*})."""
    user = connection.irc.user(participant.nick)
    flags = "G" if participant.away else "H"
    if participant.operator:
        flags += "*"
    if connection.irc.is_bot(participant.nick):
        flags += "B"
    if room is not None:
        flags += connection._prefixes(participant, room)
    where = "*" if room is None else channel(room.name)
    return connection._reply(
        n.RPL_WHOREPLY,
        where,
        user.user,
        connection.irc.name,
        connection.irc.name,
        participant.nick,
        flags,
        f"0 {user.realname}",
    )


def _who(connection: IrcConnection, params: list[str]) -> None:
    chat = connection.factory.chat
    mask = params[0] if params and params[0] else "*"
    lines = []
    if mask.startswith("#"):
        try:
            room = chat.room(mask[1:])
        except ChatError:
            room = None
        if room is not None and room.visible_to(connection._me()):
            for participant in sorted(room, key=lambda p: fold(p.nick)):
                lines.append(_who_line(connection, participant, room))
    elif not any(c in mask for c in "*?") and mask != "0":
        found = chat.find(mask)
        if found is not None:
            lines.append(_who_line(connection, found, _where(found, connection._me())))
    else:
        me, matches = connection._me(), _mask_matcher("*" if mask == "0" else mask)
        for participant in sorted(chat, key=lambda p: fold(p.nick)):
            user = connection.irc.user(participant.nick)
            if not any(matches(fold(one)) for one in (participant.nick, user.user, user.realname)):
                continue
            shared = any(me.in_room(room) for room in participant.rooms)
            if user.invisible and participant is not me and not shared:
                continue
            lines.append(_who_line(connection, participant, _where(participant, me)))
    lines.append(connection._reply(n.RPL_ENDOFWHO, mask, "End of WHO list"))
    connection._send_lines(lines)


def _where(participant: Participant, viewer: Participant) -> Room | None:
    """The channel a C{WHO} reply names for a user: its first that C{viewer} may see, if any."""
    return next((room for room in participant.rooms if room.visible_to(viewer)), None)


def _mask_matcher(mask: str) -> Callable[[str], bool]:
    """Whether a (folded) name matches the IRC mask C{mask} (C{*}: any run, C{?}: any one)."""
    pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in fold(mask))
    compiled = re.compile(pattern, re.DOTALL)
    return lambda name: compiled.fullmatch(name) is not None


def _whois(connection: IrcConnection, params: list[str]) -> None:
    nick = params[-1] if params else ""
    if not nick:
        connection._numeric(n.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    chat = connection.factory.chat
    found = chat.find(nick)
    if found is None:
        connection._send_lines(
            [
                connection._reply(n.ERR_NOSUCHNICK, nick, "No such nick/channel"),
                connection._reply(n.RPL_ENDOFWHOIS, nick, "End of /WHOIS list"),
            ]
        )
        return
    irc, user = connection.irc, connection.irc.user(found.nick)
    lines = [
        connection._reply(n.RPL_WHOISUSER, found.nick, user.user, irc.name, "*", user.realname)
    ]
    me = connection._me()
    shown = [room for room in found.rooms if room.visible_to(me)]
    if shown:
        rooms = " ".join(connection._prefixes(found, room) + channel(room.name) for room in shown)
        lines.append(connection._reply(n.RPL_WHOISCHANNELS, found.nick, rooms))
    lines.append(connection._reply(n.RPL_WHOISSERVER, found.nick, irc.name, irc.description))
    if found.operator:
        lines.append(connection._reply(n.RPL_WHOISOPERATOR, found.nick, "is an IRC operator"))
    if irc.is_bot(found.nick):
        lines.append(connection._reply(n.RPL_WHOISBOT, found.nick, "is a bot"))
    if found.account is not None:
        lines.append(
            connection._reply(n.RPL_WHOISACCOUNT, found.nick, found.account.name, "is logged in as")
        )
    if found.away is not None:
        lines.append(connection._reply(n.RPL_AWAY, found.nick, found.away))
    lines.append(connection._reply(n.RPL_ENDOFWHOIS, found.nick, "End of /WHOIS list"))
    connection._send_lines(lines)


def _whowas(connection: IrcConnection, params: list[str]) -> None:
    nick, irc = params[0], connection.irc
    count = params[1] if len(params) > 1 else ""
    most = int(count) if count.lstrip("-").isdigit() and len(count) < 6 else 0
    lines = []
    for was in irc.whowas(nick, most):
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(was.until))
        lines += [
            connection._reply(
                n.RPL_WHOWASUSER, was.nick, was.user.user, irc.name, "*", was.user.realname
            ),
            connection._reply(n.RPL_WHOISSERVER, was.nick, irc.name, when),
        ]
    if not lines:
        lines.append(connection._reply(n.ERR_WASNOSUCHNICK, nick, "There was no such nickname"))
    lines.append(connection._reply(n.RPL_ENDOFWHOWAS, nick, "End of WHOWAS"))
    connection._send_lines(lines)


def _mode(connection: IrcConnection, params: list[str]) -> None:
    chat = connection.factory.chat
    target = params[0]
    me = connection._me()
    if target.startswith("#"):
        moderation.channel_mode(connection, params)
        return
    found = chat.find(target)
    if found is None:
        connection._numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        return
    if found is not me:
        connection._numeric(n.ERR_USERSDONTMATCH, "Cannot change mode for other users")
        return
    user_modes = connection._user_modes
    if len(params) == 1:
        connection._numeric(n.RPL_UMODEIS, "+" + "".join(sorted(user_modes)))
        return
    adding, changed = True, ""
    for char in params[1]:
        if char in "+-":
            adding = char == "+"
        elif char in "Biw":
            if adding != (char in user_modes):
                (user_modes.add if adding else user_modes.discard)(char)
                changed += ("+" if adding else "-") + char
                if char == "i" and connection._user is not None:
                    connection._user.invisible = adding
                if char == "B" and connection._user is not None:
                    connection._user.bot = adding
        elif char == "o":
            if not adding and "o" in user_modes:
                continue  # an account's operator rights are not given up by a mode
        else:
            connection._numeric(n.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
            return
    if changed:
        connection._send_lines([line(connection._mask(), "MODE", me.nick, changed)])


def _away(connection: IrcConnection, params: list[str]) -> None:
    reason = clip(params[0], AWAYLEN) if params and params[0].strip() else None
    connection._perform(commands.Away(reason))


def _userhost(connection: IrcConnection, params: list[str]) -> None:
    chat = connection.factory.chat
    replies = []
    for nick in params[:5]:
        found = chat.find(nick)
        if found is not None:
            op = "*" if found.operator else ""
            away = "-" if found.away else "+"
            user = connection.irc.user(found.nick).user
            replies.append(f"{found.nick}{op}={away}{user}@{connection.irc.name}")
    connection._numeric(n.RPL_USERHOST, " ".join(replies))


def _ison(connection: IrcConnection, params: list[str]) -> None:
    chat = connection.factory.chat
    present = []
    for param in params:
        for nick in param.split():
            found = chat.find(nick)
            if found is not None:
                present.append(found.nick)
    connection._numeric(n.RPL_ISON, " ".join(present))


def _motd(connection: IrcConnection, params: list[str]) -> None:
    connection._send_lines(connection._motd())


def _lusers(connection: IrcConnection, params: list[str]) -> None:
    connection._send_lines(connection._lusers())


def _version(connection: IrcConnection, params: list[str]) -> None:
    irc = connection.irc
    connection._send_lines(
        [
            connection._reply(n.RPL_VERSION, f"chatsvc-{__version__}", irc.name, ""),
            *connection._isupport(),
        ]
    )


def _time(connection: IrcConnection, params: list[str]) -> None:
    now = connection.factory.clock.seconds()
    connection._numeric(
        n.RPL_TIME,
        connection.irc.name,
        str(int(now)),
        "0",
        time.strftime("%A %B %d %Y -- %H:%M:%S +00:00", time.gmtime(now)),
    )


def _oper(connection: IrcConnection, params: list[str]) -> None:
    session = connection.session
    assert session is not None
    me = connection._me()
    if me.operator:
        connection._numeric(n.RPL_YOUREOPER, "You are now an IRC operator")
        return
    if connection.factory.portal is None:
        connection._numeric(n.ERR_NOOPERHOST, "No operators here")
        return
    if me.account is not None and fold(me.account.name) != fold(params[0]):
        connection._numeric(n.ERR_NOOPERHOST, f"You are logged in to {me.account.name}")
        return

    def checked(account: Account | None) -> None:
        if session.participant is not me:
            return
        if account is None:
            connection._numeric(n.ERR_PASSWDMISMATCH, "Password incorrect")
        elif not me.operator:
            connection._numeric(n.ERR_NOOPERHOST, f"{account.name} is not an operator")
        else:
            connection._user_modes.add("o")
            connection._send_lines(
                [
                    connection._reply(n.RPL_YOUREOPER, "You are now an IRC operator"),
                    line(connection._mask(), "MODE", me.nick, "+o"),
                ]
            )

    session.become_operator(params[0], params[1].encode()).addCallback(checked)


def _kill(connection: IrcConnection, params: list[str]) -> None:
    if not connection._me().operator:
        connection._numeric(n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    target = connection.factory.chat.find(params[0])
    if target is None:
        connection._numeric(n.ERR_NOSUCHNICK, params[0], "No such nick/channel")
        return
    reason = clip(params[1], KICKLEN) if len(params) > 1 and params[1].strip() else None
    connection._perform(commands.Kick(target.nick, reason))


def _wallops(connection: IrcConnection, params: list[str]) -> None:
    me = connection._me()
    if not me.operator:
        connection._numeric(n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    wallops = [line(connection._mask(), "WALLOPS", clip(params[0], TOPICLEN))]
    # To every IRC user with +w (the sender too, so that it sees it went out).
    for participant in connection.factory.chat:
        client = participant.client
        if isinstance(client, IrcConnection) and (
            "w" in client._user_modes or client is connection
        ):
            client._send_lines(wallops)


def _links(connection: IrcConnection, params: list[str]) -> None:
    irc = connection.irc
    mask = params[-1] if params and params[-1] else "*"
    lines = []
    if _mask_matcher(mask)(fold(irc.name)):
        lines.append(connection._reply(n.RPL_LINKS, irc.name, irc.name, f"0 {irc.description}"))
    lines.append(connection._reply(n.RPL_ENDOFLINKS, mask, "End of /LINKS list"))
    connection._send_lines(lines)


def _info(connection: IrcConnection, params: list[str]) -> None:
    connection._send_lines(
        [
            connection._reply(n.RPL_INFO, f"chatsvc-{__version__}: a Twisted chat server"),
            connection._reply(
                n.RPL_INFO, f"On {connection.irc.name} since {_created(connection.irc)}"
            ),
            connection._reply(n.RPL_ENDOFINFO, "End of /INFO list"),
        ]
    )


def _stats(connection: IrcConnection, params: list[str]) -> None:
    """
    C{STATS [QUERY]}, operators only: whatever the query, the server's
    statistics (users, rooms, connections by wire, load) as C{249} lines,
    its uptime as C{242}.
    """
    query = params[0][:1] if params and params[0] else "*"
    if not connection._me().operator:
        connection._numeric(n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    stats = connection.factory.statistics()
    heading, *lines = stats.lines()
    uptime = next(text for text in lines if text.startswith("uptime: "))
    connection._send_lines(
        [
            *(connection._reply(n.RPL_STATSDEBUG, text) for text in [heading, *lines]),
            connection._reply(n.RPL_STATSUPTIME, f"Server Up {uptime.removeprefix('uptime: ')}"),
            connection._reply(n.RPL_ENDOFSTATS, query, "End of /STATS report"),
        ]
    )


def _created(irc: IrcServer) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(irc.created))


def _chathistory(connection: IrcConnection, params: list[str]) -> None:
    sub = params[0].upper()

    def fail(code: str, *rest: str) -> None:
        connection._send_lines([line(connection.irc.name, "FAIL", "CHATHISTORY", code, *rest)])

    if sub not in ("LATEST", "BEFORE"):
        fail("INVALID_PARAMS", sub, "Only LATEST and BEFORE are supported")
        return
    if len(params) < 4:
        fail("INVALID_PARAMS", sub, "Not enough parameters")
        return
    target, reference, count = params[1], params[2], params[3]
    chat = connection.factory.chat
    try:
        room = (
            chat.member_of(connection._me(), canonical_room_name(target))
            if target.startswith("#")
            else None
        )
    except ChatError:
        room = None
    if room is None:
        fail("INVALID_TARGET", sub, target, "Only channels you are in have history here")
        return
    if not (count.isascii() and count.isdigit()) or not 0 < int(count[:6]) <= HISTORY_MAX:
        fail("INVALID_PARAMS", sub, count, f"The limit is 1 to {HISTORY_MAX}")
        return
    before = after = None
    if sub == "LATEST":
        if reference != "*":
            after = _timestamp(reference)  # the latest lines, of those after it
            if after is None:
                fail("INVALID_PARAMS", sub, reference, "Only * and timestamp= are understood")
                return
    else:
        before = _timestamp(reference)
        if before is None:
            fail("INVALID_PARAMS", sub, reference, "Only timestamp= is understood")
            return
    connection._perform(commands.History(int(count), room=room.name, before=before, after=after))


def _timestamp(reference: str) -> float | None:
    """The time of a C{timestamp=YYYY-MM-DDThh:mm:ss.sssZ} reference, or L{None}."""
    import calendar

    kind, _, value = reference.partition("=")
    if kind != "timestamp" or not value.endswith("Z"):
        return None
    whole, _, fraction = value[:-1].partition(".")
    try:
        parsed = time.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    millis = int(fraction[:3].ljust(3, "0")) if fraction.isdigit() else 0
    return calendar.timegm(parsed) + millis / 1000


_Handler = Callable[[IrcConnection, list[str]], None]

_HANDLERS: dict[str, tuple[_Handler, int, bool]] = {
    # command: (handler, least parameters, allowed before registration)
    "CAP": (_cap, 1, True),
    "NICK": (_nick, 0, True),
    "USER": (_user, 4, True),
    "PASS": (_pass, 1, True),
    "AUTHENTICATE": (_authenticate, 1, True),
    "PING": (_ping, 0, True),
    "PONG": (_pong, 0, True),
    "QUIT": (_quit, 0, True),
    "JOIN": (_join, 1, False),
    "PART": (_part, 1, False),
    "PRIVMSG": (_message("PRIVMSG"), 0, False),
    "NOTICE": (_message("NOTICE"), 0, False),
    "TAGMSG": (_message("TAGMSG"), 1, False),
    "TOPIC": (_topic, 1, False),
    "KICK": (_kick, 2, False),
    "INVITE": (_invite, 2, False),
    "NAMES": (_names, 0, False),
    "LIST": (_list, 0, False),
    "WHO": (_who, 0, False),
    "WHOIS": (_whois, 0, False),
    "WHOWAS": (_whowas, 1, False),
    "MODE": (_mode, 1, False),
    "AWAY": (_away, 0, False),
    "USERHOST": (_userhost, 1, False),
    "ISON": (_ison, 1, False),
    "MOTD": (_motd, 0, False),
    "LUSERS": (_lusers, 0, False),
    "VERSION": (_version, 0, False),
    "TIME": (_time, 0, False),
    "INFO": (_info, 0, False),
    "LINKS": (_links, 0, False),
    "WALLOPS": (_wallops, 1, False),
    "STATS": (_stats, 0, False),
    "OPER": (_oper, 2, False),
    "KILL": (_kill, 1, False),
    "CHATHISTORY": (_chathistory, 1, False),
    "REGISTER": (moderation.register, 3, True),
    "KLINE": (moderation.kline, 1, False),
    "UNKLINE": (moderation.unkline, 1, False),
    **{alias: (handle, 0, False) for alias, handle in moderation.ALIAS_HANDLERS.items()},
}
