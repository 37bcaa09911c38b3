"""
The chat on IRC's wire: what a server shares among its IRC connections
(L{IrcServer}: its name, MOTD, who is who), and the chat's events as IRC
lines (L{IrcEvents}), rendered once per message for every IRC connection
that negotiated the same capabilities.

Every user is C{nick!user@host}: an IRC user's C{user} is the one it gave
(C{USER}), with a C{~} (no ident is asked for); a line-protocol user's is
its nickname. Hosts are not shown: every user's is the server's name.

test-case-name: tests.frontends.irc.test_wire
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial

import attrs
from twisted.internet.interfaces import IReactorTime

from chatsvc.chat.events import (
    Action,
    BanListChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    Message,
    ModeChange,
    ModeChanged,
    NickChange,
    NoticeToAll,
    OperatorChanged,
    PrivateMessage,
    PrivateTagMessage,
    RankChanged,
    Removed,
    Sanctioned,
    TagMessage,
    TopicChanged,
    VoiceChanged,
)
from chatsvc.chat.model import fold
from chatsvc.chat.sanctions import SanctionKind
from chatsvc.frontends.irc.masks import LIST_MODES, irc_mask
from chatsvc.frontends.irc.message import MAX_LINE, line, write_tags
from chatsvc.frontends.line import wire as line_wire

USERLEN = 10
"""The longest C{user} part of a mask, C{~} included."""

SERVER_NAME = "chatsvc"
"""The server's name, and every user's host, unless told otherwise."""

FORMATTING = "\x02\x03\x0f\x11\x16\x1d\x1e\x1f"
"""The IRC formatting codes kept between IRC users; line users never see them."""


def _irc_unsafe() -> dict[int, str | None]:
    table = dict(line_wire.UNSAFE)
    for char in FORMATTING + "\x01":  # and CTCP's delimiter, for ACTION
        del table[ord(char)]
    return table


_IRC_UNSAFE = _irc_unsafe()


sanitise: Callable[[str], str] = partial(line_wire.sanitise, unsafe=_IRC_UNSAFE)
"""
What an IRC user said, safe for every wire but with its formatting (and CTCP)
kept: L{line_wire.sanitise} with IRC's table, called without a Python frame
of its own (each parameter of each message goes through it).
"""


_RANK_MODES = {"owner": "q", "operator": "o"}
"""The channel mode of each rank in a registered room."""


def channel(room: str) -> str:
    """The IRC channel of a room: C{dev} is C{#dev}."""
    return f"#{room}"


def server_time(when: float) -> str:
    """The IRCv3 C{server-time} of C{when}: C{2026-12-01T18:13:22.123Z}."""
    millis = int(when * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{millis:03d}Z"


def mode_params(changes: Iterable[ModeChange]) -> list[str]:
    """
    C{changes} as a C{MODE} line's parameters: one mode string, then the
    arguments in its order (C{["+kl-i", "beer", "20"]}).
    """
    written, sign = "", ""
    arguments: list[str] = []
    for mode, on, value in changes:
        if ("+" if on else "-") != sign:
            sign = "+" if on else "-"
            written += sign
        written += mode
        if value is not None:
            arguments.append(value)
    return [written, *arguments]


WHOWAS_MAX = 1000
"""The most nicknames L{IrcServer} remembers for C{WHOWAS}, the oldest forgotten first."""


@attrs.define(eq=False)
class User:
    """What an IRC user said of itself at registration."""

    user: str
    realname: str
    invisible: bool = False
    """User mode C{+i}: a C{WHO} by mask does not show it to those who share no channel with it."""
    bot: bool = False
    """User mode C{+B} (IRCv3 bot mode): what it says carries a C{bot} tag; C{WHOIS} says so."""


@attrs.frozen
class WasUser:
    """A nickname an IRC user had, and when it stopped having it (C{WHOWAS})."""

    nick: str
    user: User
    until: float


class IrcServer:
    """
    What the IRC connections of one chat share: the server's name, its
    network's, what it says of itself (C{description}: the network's name
    unless told), the MOTD (L{None}: none), when it started, who each IRC
    user says it is (by folded nickname), and the renderers of events.
    """

    def __init__(
        self,
        *,
        name: str = SERVER_NAME,
        network: str = SERVER_NAME,
        description: str | None = None,
        motd: list[str] | None = None,
        created: float | None = None,
        ping_interval: float = 120.0,
        msgid_prefix: str | None = None,
    ) -> None:
        self.name = name
        self.network = network
        self.description = network if description is None else description
        self.motd = motd
        self.created = time.time() if created is None else created
        self.ping_interval = ping_interval
        """Seconds of silence after which a client is pinged, and then dropped."""
        self.users: dict[str, User] = {}
        self.was: deque[WasUser] = deque(maxlen=WHOWAS_MAX)
        """The nicknames IRC users left (signing off or renaming), the latest last."""
        self._renderers: dict[tuple[bool, bool], IrcEvents] = {}
        prefix = secrets.token_hex(6) + "-" if msgid_prefix is None else msgid_prefix
        self._msgids = (f"{prefix}{number}" for number in itertools.count(1))
        self._identified: tuple[Event, str] | None = None

    def left(self, nick: str, user: User, when: float) -> None:
        """An IRC user no longer has C{nick}: remember it for C{WHOWAS}."""
        self.was.append(WasUser(nick, user, when))

    def whowas(self, nick: str, most: int) -> list[WasUser]:
        """Who had C{nick} (the latest first), at most C{most} (0: all)."""
        folded = fold(nick)
        found = [was for was in reversed(self.was) if fold(was.nick) == folded]
        return found[:most] if most > 0 else found

    def mask(self, nick: str) -> str:
        """C{nick!user@host} of a user, on IRC or not."""
        known = self.users.get(fold(nick))
        user = known.user if known is not None else nick[:USERLEN]
        return f"{nick}!{user}@{self.name}"

    def is_bot(self, nick: str) -> bool:
        """Whether C{nick} is an IRC user that set bot mode (C{+B})."""
        known = self.users.get(fold(nick))
        return known is not None and known.bot

    def user(self, nick: str) -> User:
        """What C{nick} said of itself, or, for a user not on IRC, its nickname."""
        known = self.users.get(fold(nick))
        return known if known is not None else User(nick[:USERLEN], nick)

    def events(self, clock: IReactorTime, *, timed: bool, tagged: bool = False) -> IrcEvents:
        """
        The renderer of events for connections with (or without) C{server-time}
        and C{message-tags}: one of four, so that a room's event is rendered at
        most four times for IRC, whoever is in it.
        """
        found = self._renderers.get((timed, tagged))
        if found is None:
            found = self._renderers[timed, tagged] = IrcEvents(self, clock, timed, tagged)
        return found

    def msgid(self, event: Event) -> str:
        """
        The C{msgid} of what was said in C{event}: the same for each of the
        renderers the event goes through one after the other as it is
        relayed (and for its echo to the sender, right after), a new one
        for the next event.
        """
        identified = self._identified
        if identified is not None and identified[0] is event:
            return identified[1]
        msgid = next(self._msgids)
        self._identified = (event, msgid)
        return msgid


def chunks(text: str, room: int) -> list[str]:
    """C{text} in pieces of at most C{room} bytes of UTF-8, cut at character boundaries."""
    data = text.encode()
    if len(data) <= room:
        return [text]
    pieces = []
    while data:
        cut = min(room, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        pieces.append(data[:cut].decode())
        data = data[cut:]
    return pieces


def split_text(head: str, text: str, before: str = "", after: str = "") -> list[str]:
    """
    C{head :before text after} as one line or more, each within L{MAX_LINE}
    bytes with its CR LF: C{text} is split at character boundaries.
    """
    whole = f"{head} :{before}{text}{after}"
    if len(whole) <= MAX_LINE - 2 and whole.isascii():  # most lines: no need to count bytes
        return [whole]
    room = MAX_LINE - 2 - len(f"{head} :{before}{after}".encode())
    return [f"{head} :{before}{piece}{after}" for piece in chunks(text, max(room, 16))]


def clip(text: str, size: int) -> str:
    """C{text} cut to at most C{size} bytes of UTF-8, at a character boundary."""
    data = text.encode()
    return text if len(data) <= size else data[:size].decode("utf-8", "ignore")


_CTCP_ACTION = re.compile("\x01ACTION (.*?)\x01?$", re.DOTALL)


def action_of(text: str) -> str | None:
    """The action of a CTCP ACTION (C{/me}), or L{None} for other text."""
    if not text.startswith("\x01ACTION "):  # most text: no expression to run
        return None
    found = _CTCP_ACTION.fullmatch(text)
    return None if found is None else found.group(1)


_SAID = (Message, Action, PrivateMessage, TagMessage, PrivateTagMessage)
_PRIVATE = (PrivateMessage, PrivateTagMessage)
"""What a user said (or its client sent): each with a C{msgid}, and with its client's tags."""

EVERYONE = "$*"
"""The target of a notice to everyone (C{/wall}): every user of every server."""


class IrcEvents:
    """
    The chat's events as IRC lines, for every connection of C{server} with
    the same capabilities: with a C{server-time} tag if C{timed}, and what
    is said with a C{msgid} tag and its sender's client-only tags if
    C{tagged} (C{message-tags}). A L{TagMessage} reaches only renderers that
    are C{tagged} (the chat gives it only to clients that take tags).
    """

    def __init__(
        self, server: IrcServer, clock: IReactorTime, timed: bool, tagged: bool = False
    ) -> None:
        self.server = server
        self.clock = clock
        self.timed = timed
        self.tagged = tagged

    def render(self, event: Event) -> bytes:
        lines = self.lines(event)
        if not (self.timed or self.tagged):  # most connections: no tags to make
            return ("\r\n".join(lines) + "\r\n").encode()
        tags = []
        if self.timed:
            tags.append(f"time={server_time(self.clock.seconds())}")
        if self.tagged and isinstance(event, _SAID):
            tags.append(f"msgid={self.server.msgid(event)}")
            if self.server.is_bot(event.sender if isinstance(event, _PRIVATE) else event.nick):
                tags.append("bot")
            if event.tags:
                tags.append(write_tags(event.tags))
        if not tags:
            return ("\r\n".join(lines) + "\r\n").encode()
        tag = f"@{';'.join(tags)} "
        return "".join(f"{tag}{one}\r\n" for one in lines).encode()

    def lines(self, event: Event) -> list[str]:
        """The lines of C{event}, without tags or line endings."""
        mask = self.server.mask
        match event:
            case Message(room=room, nick=nick, text=text, notice=notice):
                verb = "NOTICE" if notice else "PRIVMSG"
                return split_text(f":{mask(nick)} {verb} {channel(room)}", text)
            case Action(room=room, nick=nick, text=text):
                head = f":{mask(nick)} PRIVMSG {channel(room)}"
                return split_text(head, text, "\x01ACTION ", "\x01")
            case PrivateMessage(sender=sender, recipient=recipient, text=text, notice=notice):
                verb = "NOTICE" if notice else "PRIVMSG"
                return split_text(f":{mask(sender)} {verb} {recipient}", text)
            case TagMessage(room=room, nick=nick):
                return [line(mask(nick), "TAGMSG", channel(room))]
            case PrivateTagMessage(sender=sender, recipient=recipient):
                return [line(mask(sender), "TAGMSG", recipient)]
            case Joined(room=room, nick=nick):
                return [line(mask(nick), "JOIN", channel(room))]
            case Left(nick=nick, reason=reason, from_user=from_user, signed_off=True):
                why = "Quit" if reason is None else f"Quit: {reason}" if from_user else reason
                return [line(mask(nick), "QUIT", why)]
            case Left(room=room, nick=nick, reason=None):
                return [line(mask(nick), "PART", channel(room))]
            case Left(room=room, nick=nick, reason=str(reason)):
                return [line(mask(nick), "PART", channel(room), reason)]
            case NickChange(old=old, new=new):
                return [line(mask(old), "NICK", new)]
            case Invited(room=room, nick=nick, by=by):
                return [line(mask(by), "INVITE", nick, channel(room))]
            case OperatorChanged(room=room, nick=nick, by=by, given=given):
                return [line(mask(by), "MODE", channel(room), "+o" if given else "-o", nick)]
            case RankChanged(room=room, rank=rank, was=was, by=by, nicks=nicks):
                # Owners are +q, operators +o: what the account had goes, what it has comes.
                modes = ("-" + _RANK_MODES[was] if was else "") + (
                    "+" + _RANK_MODES[rank] if rank else ""
                )
                targets = len(modes.replace("-", "").replace("+", ""))
                return [
                    line(mask(by), "MODE", channel(room), modes, *[nick] * targets)
                    for nick in nicks
                ]
            case TopicChanged(room=room, nick=nick, text=text):
                return [line(mask(nick), "TOPIC", channel(room), text)]
            case Kicked(room=room, nick=nick, by=by, reason=reason):
                return [line(mask(by), "KICK", channel(room), nick, reason or by)]
            case NoticeToAll(by=by, text=text):
                # To every server's users ("$*"), as operators' global notices are written.
                return split_text(f":{mask(by)} NOTICE {EVERYONE}", text)
            case Removed(room=room, nick=nick, by=by, reason=reason):
                return [line(mask(by), "KICK", channel(room), nick, reason or by)]
            case ModeChanged(room=room, by=by, changes=changes):
                return [line(mask(by), "MODE", channel(room), *mode_params(changes))]
            case VoiceChanged(room=room, nick=nick, by=by, given=given):
                return [line(mask(by), "MODE", channel(room), "+v" if given else "-v", nick)]
            case BanListChanged(room=room, by=by, kind=kind, mask=banned, on=on, expired=expired):
                # A mute is the m: extban, listed with the bans, as MODE #room b lists it;
                # one that ran out is unset by the server, as timed bans are.
                written = irc_mask(SanctionKind(kind), banned)
                source = self.server.name if expired else mask(by)
                letter = LIST_MODES[SanctionKind(kind)]
                sign = "+" if on else "-"
                return [line(source, "MODE", channel(room), sign + letter, written)]
            case Sanctioned(nick=nick, text=text):
                return split_text(f":{self.server.name} NOTICE {nick}", text)
        raise TypeError(f"not an event: {event!r}")
