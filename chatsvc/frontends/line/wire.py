"""
The line format: bytes in, text out, and events and notices back to bytes.

Every line the server sends ends with C{\\n}. A line is one of::

    *** notice text          server notices: greeting, prompts, errors, output
    <alice> text             a room message
    * alice text             an action (/me)
    *alice* text             a private message
    -> *bob* text            the sender's copy of a private message
    [2026-11-21 14:03] ...   a room message or action from the history

Users cannot forge any of these: the prefixes and nicknames are the server's,
and what users type is stripped of control characters first, so a line of
theirs can never start over on the terminal, or come out in another order.
Long runs of blanks are collapsed too (L{BLANK_RUN}): a wide gap could push
what follows to the start of the next row of a terminal, where it would look
like a line of its own. A user's reason for leaving is shown as theirs,
C{(quit: ...)}, never in the words the server uses for its own reasons.

test-case-name: tests.frontends.line.test_wire
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence

import attrs

from chatsvc.chat.commands import HELP, HISTORY_CAPPED
from chatsvc.chat.events import (
    Action,
    BanListChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    Message,
    ModeChanged,
    NickChange,
    NoticeToAll,
    OperatorChanged,
    PrivateMessage,
    RankChanged,
    Removed,
    Sanctioned,
    TopicChanged,
    VoiceChanged,
)
from chatsvc.chat.model import Topic
from chatsvc.chat.sanctions import (
    SET_AS,
    Sanction,
    SanctionKind,
    describe_duration,
    describe_time,
)
from chatsvc.history import Line
from chatsvc.sessions import results
from chatsvc.sessions.results import (
    Away,
    Entered,
    Farewell,
    Goodbye,
    Help,
    HistoryCapped,
    HistoryFound,
    HistoryUnavailable,
    InviteSent,
    KickedOut,
    Members,
    NicknamePrompt,
    Parted,
    PasswordPrompt,
    PrivateSent,
    Refused,
    Renamed,
    Result,
    RoomList,
    RoomSummary,
    ServerNotice,
    Statistics,
    TopicShown,
    Welcome,
)

WALL_PREFIX = "*** Notice to everyone from {nick}: "
"""What stands before an operator's C{/wall} text."""

LIST_WIDTH = 480
"""The longest line, in bytes, that L{listing} packs names into."""


def _unsafe_characters() -> dict[int, str | None]:
    table: dict[int, str | None] = dict.fromkeys(range(0x00, 0x20))
    table[ord("\t")] = " "
    table[0x7F] = None
    table.update(dict.fromkeys(range(0x80, 0xA0)))  # C1, CSI (U+009B) among them
    table.update(dict.fromkeys(range(0x202A, 0x202F)))  # bidi embeddings, overrides
    table.update(dict.fromkeys(range(0x2066, 0x206A)))  # bidi isolates
    table[0x2028] = " "  # line and paragraph separators break lines in
    table[0x2029] = " "  # some terminals and most browsers
    return table


_UNSAFE = _unsafe_characters()

BLANK_RUN = 4
"""
The most blank characters in a row that user text keeps; a longer run becomes
this many spaces. Too few to reach the edge of any terminal from a line's
prefix, so only visible text, which shows whose it is, can wrap a line.
"""

_BLANKS = (
    r"\s"  # every Unicode space: NBSP, the en and em spaces, U+3000, ...
    r"\u115f\u1160\u2800\u3164\uffa0"  # Hangul fillers and the Braille blank
)
_INVISIBLE = (
    r"\u00ad\u034f\u061c\u180e\u200b-\u200f\u2060-\u2064"  # zero width: ZWSP, ZWJ, LRM, ...
    r"\ufe00-\ufe0f\ufeff\U000e0000-\U000e007f"  # variation selectors, BOM, tags
)
_BLANK_RUN = re.compile(rf"[{_BLANKS}](?:[{_INVISIBLE}]*[{_BLANKS}]){{{BLANK_RUN},}}")
"""
More than L{BLANK_RUN} blanks, with whatever invisible characters are between
them (they take no room, and would otherwise split one gap into short runs).
"""


def sanitise(text: str, unsafe: dict[int, str | None] = _UNSAFE) -> str:
    """
    Remove what could make text display as something else: C0 and C1 control
    characters (so ESC, and with it every ANSI/VT sequence), DEL, and the
    Unicode bidi overrides. TAB becomes a space, and a run of more than
    L{BLANK_RUN} blanks becomes L{BLANK_RUN} spaces.
    """
    if text.isascii() and text.isprintable() and _ASCII_RUN not in text:
        # Most lines: nothing to remove (every table removes only what is not
        # printable), and this is checked in C.
        return text
    return _BLANK_RUN.sub(" " * BLANK_RUN, text.translate(unsafe))


UNSAFE = _UNSAFE
"""What L{sanitise} removes (or turns into spaces), for wires that keep some of it."""


_ASCII_RUN = " " * (BLANK_RUN + 1)
"""In printable ASCII the only blank is the space: a run too long has this in it."""


def decode(line: bytes) -> str:
    """
    A received line (without its C{\\n}) as safe text: one trailing C{\\r}
    dropped, invalid UTF-8 replaced by U+FFFD, then L{sanitise}d.
    """
    if line.endswith(b"\r"):
        line = line[:-1]
    return sanitise(line.decode("utf-8", "replace"))


FORMATTING = "\x02\x03\x0f\x11\x16\x1d\x1e\x1f"
"""
The IRC formatting codes (bold, colour, reset, monospace, reverse, italics,
strikethrough, underline): kept in what IRC users say, for one another, and
taken out here, as the control characters they are.
"""

_COLOUR = re.compile(r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|[\x01\x02\x0f\x11\x16\x1d\x1e\x1f]")


def unformatted(text: str) -> str:
    """C{text} without IRC formatting codes (a colour code's numbers with it)."""
    return _COLOUR.sub("", text)


def _format(event: Event) -> str:
    if (
        isinstance(event, Message | Action | PrivateMessage | NoticeToAll)
        and not event.text.isprintable()
    ):
        # Only IRC's formatting codes get this far (line input is sanitised).
        event = attrs.evolve(event, text=unformatted(event.text))
    match event:
        case Message(nick=nick, text=text):
            return f"<{nick}> {text}\n"
        case Action(nick=nick, text=text):
            return f"* {nick} {text}\n"
        case PrivateMessage(sender=sender, text=text):
            return f"*{sender}* {text}\n"
        case Joined(room=room, nick=nick):
            return f"*** {nick} joined {room}\n"
        case Left(room=room, nick=nick, reason=None):
            return f"*** {nick} left {room}\n"
        case Left(room=room, nick=nick, reason=reason, from_user=True):
            return f"*** {nick} left {room} (quit: {reason})\n"
        case Left(room=room, nick=nick, reason=reason):
            return f"*** {nick} left {room} ({reason})\n"
        case NickChange(old=old, new=new):
            return f"*** {old} is now known as {new}\n"
        case TopicChanged(nick=nick, text=""):
            return f"*** {nick} cleared the topic\n"
        case TopicChanged(nick=nick, text=text):
            return f"*** {nick} set the topic: {text}\n"
        case Invited(room=room, by=by):
            return f"*** {by} invites you to {room} (/join {room})\n"
        case OperatorChanged(room=room, nick=nick, by=by, given=True):
            return f"*** {by} made {nick} an operator of {room}\n"
        case OperatorChanged(room=room, nick=nick, by=by):
            return f"*** {by} took {nick}'s operator rights in {room}\n"
        case Removed(room=room, by=by, reason=reason, to=str(to)):
            why = "" if reason is None else f" ({reason})"
            return f"*** You were put out of {room} by {by}{why}; you are in {to}\n"
        case Removed(room=room, nick=nick, by=by, reason=reason):
            why = "" if reason is None else f" ({reason})"
            return f"*** {nick} was put out of {room} by {by}{why}\n"
        case Sanctioned(text=text):
            return f"*** {text[:1].upper()}{text[1:]}\n"
        case RankChanged(room=room, account=account, rank=rank, by=by):
            return f"*** {by} made {account} {_RANKS[rank]} {room}\n"
        case ModeChanged(room=room, by=by, changes=changes):
            return f"*** {by} made {room} {', '.join(c.described() for c in changes)}\n"
        case VoiceChanged(room=room, nick=nick, by=by, given=True):
            return f"*** {by} gave {nick} a voice in {room}\n"
        case VoiceChanged(room=room, nick=nick, by=by):
            return f"*** {by} took {nick}'s voice in {room}\n"
        case BanListChanged(room=room, kind=kind, mask=mask, expired=True):
            return f"*** The {kind} of {mask} in {room} ran out\n"
        case BanListChanged(room=room, by=by, kind=kind, mask=mask, on=False):
            return f"*** {by} lifted the {kind} of {mask} in {room}\n"
        case BanListChanged(room=room, by=by, kind=kind, mask=mask, until=until, reason=reason):
            did = SET_AS[SanctionKind(kind)].format(mask=mask, room=room)
            how_long = "for good" if until is None else f"until {describe_time(until)}"
            why = "" if reason is None else f" ({unformatted(reason)})"
            return f"*** {by} {did} {how_long}{why}\n"
        case Kicked(nick=nick, by=by, reason=None):
            return f"*** {nick} was kicked by {by}\n"
        case Kicked(nick=nick, by=by, reason=reason):
            return f"*** {nick} was kicked by {by} ({reason})\n"
        case NoticeToAll(by=by, text=text):
            return f"{WALL_PREFIX.format(nick=by)}{text}\n"
    raise TypeError(f"not an event: {event!r}")


def render(event: Event) -> bytes:
    """
    The wire line for C{event}, with its C{\\n}. A room's events are rendered
    once for all of its members (L{chatsvc.frontends.line.server.ChatFactory.fan_out}).
    """
    return _format(event).encode("utf-8")


def clip(text: str, size: int) -> str:
    """C{text} cut to at most C{size} bytes of UTF-8, at a character boundary."""
    data = text.encode()
    if len(data) <= size:
        return text
    return data[: max(0, size - 3)].decode("utf-8", "ignore") + "..."


def log_line(event: Message | Action | PrivateMessage) -> str:
    """How the server log shows a relayed message (C{--log-messages})."""
    if isinstance(event, PrivateMessage):
        return f"*{event.sender}* -> {event.recipient}: {event.text}"
    return f"[{event.room}] {_format(event)[:-1]}"


def dated(event: Message | Action, when: float, limit: int | None = None) -> bytes:
    """
    A room message or action from the history, stamped with the minute it was
    said, in UTC: C{[2026-11-21 14:03] <alice> text}. No live line starts with
    C{[}, so history cannot pass for live chat. Cut to C{limit} bytes before
    its C{\\n} if given: the stamp may push a line said at the limit over it.
    """
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(when))
    line = f"[{stamp}] {_format(event)[:-1]}"
    if limit is not None:
        line = clip(line, limit)
    return f"{line}\n".encode()


def notice(text: str, limit: int | None = None) -> bytes:
    """A server notice line, cut to C{limit} bytes before its C{\\n} if given."""
    line = f"*** {text}"
    if limit is not None:
        line = clip(line, limit)
    return f"{line}\n".encode()


def error(text: str, limit: int | None = None) -> bytes:
    """A server notice that something the user asked for was refused."""
    return notice(f"Error: {text}", limit)


SANCTIONS_SHOWN = 100
"""The most bans and mutes one answer to C{/bans} lists, the newest; it says how many more."""

_RANKS = {
    "owner": "an owner of",
    "operator": "an operator of",
    None: "neither owner nor operator of",
}


_SET = {
    SanctionKind.BAN: "Banned",
    SanctionKind.MUTE: "Muted",
    SanctionKind.EXCEPTION: "Excepted",
    SanctionKind.INVITATION: "Invited",
}


def describe_sanction(sanction: Sanction, now: float) -> str:
    """One ban or mute as a list shows it: C{ban nick:bob by alice, 1h left (until ...): spam}."""
    if sanction.until is None:
        how_long = "for good"
    else:
        left = describe_duration(sanction.until - now)
        how_long = f"{left} left (until {describe_time(sanction.until)})"
    why = f": {sanction.reason}" if sanction.reason else ""
    return f"{sanction.kind.value} {sanction.mask} by {sanction.by}, {how_long}{why}"


def moderation_text(result: Result) -> list[str] | None:
    """
    What the results of accounts and moderation say, in words (the line
    protocol's notices, IRC's where no numeric says it); L{None} for others.
    """
    match result:
        case results.AccountRegistered(account=account):
            return [
                f"You registered the account {account} and are logged in to it; "
                "from now on, signing on as it asks for its password"
            ]
        case results.PasswordChanged(account=account):
            return [f"The password of {account} is changed"]
        case results.AccountDeleted(account=account):
            return [f"The account {account} is deleted; you are a guest now"]
        case results.OperatorGranted(account=account, given=given):
            return [f"{account} is {'now' if given else 'no longer'} a server operator"]
        case results.RoomRegistered(room=room, registered=True):
            return [f"You registered {room}, and own it; it stays when everyone has left"]
        case results.RoomRegistered(room=room):
            return [f"{room} is no longer registered"]
        case results.RoomRanked(room=room, account=account, rank=rank, changed=True):
            return [f"{account} is {_RANKS[rank]} {room} now"]
        case results.RoomRanked(room=room, account=account, rank=rank):
            return [f"{account} is {_RANKS[rank]} {room} already"]
        case results.SanctionSet(sanction=sanction, held=held, now=now):
            did = _SET[sanction.kind]
            where = f"in {sanction.room}" if sanction.room else "chat-wide"
            text = describe_sanction(sanction, now).partition(", ")[2]
            holds = f"; it holds for {', '.join(held)}" if held else ""
            return [f"{did} {sanction.mask} {where}, {text}{holds}"]
        case results.SanctionLifted(sanction=sanction):
            where = f"in {sanction.room}" if sanction.room else "chat-wide"
            return [f"Lifted the {sanction.kind.value} of {sanction.mask} {where}"]
        case results.SanctionList(room=room, sanctions=sanctions, now=now):
            where = room or "the chat"
            if not sanctions:
                return [f"No bans or mutes in {where}"]
            shown = sanctions[-SANCTIONS_SHOWN:]
            more = len(sanctions) - len(shown)
            kinds = "Bans and mutes"
            if any(s.kind.exempts for s in sanctions):
                kinds = "Bans, mutes, exceptions and invitations"
            heading = f"{kinds} in {where} ({len(sanctions)})"
            if more:
                heading += f"; the newest {len(shown)} of them"
            return [f"{heading}:", *(describe_sanction(s, now) for s in shown), "End of list"]
        case results.NickReleased(old=old, new=new):
            return [f"The nickname {old} is registered, and its owner signed on: you are {new} now"]
    return None


def kicked(event: Kicked) -> bytes:
    """What the user who was kicked is told, last."""
    why = "" if event.reason is None else f" ({event.reason})"
    return notice(f"You were kicked by {event.by}{why}")


_WHEN = "%Y-%m-%d %H:%M UTC"


def topic(room: str, current: Topic | None) -> bytes:
    """The topic of C{room}, as C{/topic} and joining show it, or that it has none."""
    if current is None:
        return notice(f"No topic for {room}")
    when = time.strftime(_WHEN, time.gmtime(current.set_at))
    return notice(f"Topic for {room}: {current.text} (set by {current.set_by}, {when})")


def topic_overhead(room: str, nick: str) -> int:
    """Bytes the topic lines add to its text, when C{nick} sets it in C{room}."""
    shown = len(topic(room, Topic("", nick, 0.0))) - 1
    changed = len(f"*** {nick} set the topic: ")
    return max(shown, changed)


def room_overhead(nick: str) -> int:
    """Bytes a room message or action adds to its text: C{<nick> } or C{* nick }."""
    return len(nick) + 3


def private_overhead(sender: str, recipient: str) -> int:
    """Bytes added to a private message's text in the longer of its two lines."""
    return max(len(sender) + 3, len(recipient) + 6)


def own_private_message(message: PrivateMessage) -> bytes:
    """The sender's copy of a private message."""
    return f"-> *{message.recipient}* {message.text}\n".encode()


def listing(items: Iterable[str], width: int = LIST_WIDTH) -> list[bytes]:
    """
    Notice lines holding C{items} separated by commas, as many to a line as
    fit in C{width} bytes (an item longer than that gets a line of its own).
    """
    lines: list[bytes] = []
    current: list[str] = []
    size = len("*** \n")
    for item in items:
        extra = len(item.encode()) + (2 if current else 0)
        if current and size + extra > width:
            lines.append(notice(", ".join(current)))
            current, size, extra = [], len("*** \n"), len(item.encode())
        current.append(item)
        size += extra
    if current:
        lines.append(notice(", ".join(current)))
    return lines


class LineEvents:
    """The chat's events as lines (L{render}): what the fan-out renders once per wire."""

    def render(self, event: Event) -> bytes:
        return render(event)


LINE_EVENTS = LineEvents()


# What sessions show, as lines

GREETING = notice("Welcome to chatsvc!")
PROMPT = notice("Choose a nickname:")

_FAREWELLS = {
    Farewell.QUIT: notice("Bye!"),
    Farewell.LOGIN_TIMEOUT: notice("Timed out waiting for a nickname. Goodbye!"),
    Farewell.PASSWORD_TIMEOUT: notice("Timed out waiting for a password. Goodbye!"),
    Farewell.TOO_MANY_PASSWORDS: notice("Too many wrong passwords. Goodbye!"),
    Farewell.CANNOT_CHECK: notice("Passwords cannot be checked now; try again later. Goodbye!"),
    Farewell.SHUTDOWN: notice("The server is shutting down. Goodbye!"),
    Farewell.REPLACED: notice("Signed on from elsewhere. Goodbye!"),
    Farewell.NICKNAME_CLAIMED: notice(
        "Your nickname was taken on another server of this chat meanwhile. Goodbye!"
    ),
}

ECHOED = 100
"""Bytes of a search's words echoed in its heading, so that the heading keeps its count."""


def password_prompt(account: str) -> bytes:
    """The notice that asks for the password of C{account}."""
    return notice(f"Password for {account}:")


def counted(n: int, noun: str) -> str:
    """C{1 line}, C{2 lines}: C{n} of C{noun}, in words."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


REPLAYS_KEPT = 256
"""Rooms whose latest replay a renderer keeps rendered (L{LineRenderer})."""


@attrs.frozen
class LineRenderer:
    """
    What a session shows, and the chat's events, as lines of at most
    C{max_line} bytes; one history reply in at most C{budget} bytes.
    """

    max_line: int
    budget: int
    _replays: dict[tuple[str, bool], tuple[tuple[Line, ...], bytes]] = attrs.field(
        factory=dict, init=False, eq=False, repr=False
    )
    """Each room's latest replay, by the tuple of lines it shows."""

    def render(self, result: Result | Event) -> bytes:
        """The lines for C{result}; empty for a result that shows nothing."""
        limit = self.max_line
        match result:
            case NicknamePrompt():
                return PROMPT
            case PasswordPrompt(account=account):
                return password_prompt(account)
            case Refused(reason=reason):
                return error(reason, limit)
            case Welcome(nick=nick):
                return notice(f"Hello {nick}! Type /help for the commands.", limit)
            case Entered():
                return self._entered(result)
            case Members(room=room, members=members, away=away):
                return self._members("Members of", room, members, away)
            case RoomList(rooms=rooms):
                return self._rooms(rooms)
            case Renamed(nick=nick):
                return notice(f"You are now known as {nick}", limit)
            case Parted(room=room):
                return notice(f"You left {room}", limit)
            case PrivateSent(message=message, away=away):
                own = own_private_message(message)
                if away is None:
                    return own
                return own + notice(f"{message.recipient} is away: {away}", limit)
            case InviteSent(invitation=invitation, away=away):
                told = notice(f"You invited {invitation.nick} to {invitation.room}", limit)
                if away is None:
                    return told
                return told + notice(f"{invitation.nick} is away: {away}", limit)
            case Away(reason=reason):
                if reason is None:
                    return notice("You are no longer marked as away", limit)
                return notice(f"You are marked as away: {reason}", limit)
            case TopicShown(room=room, topic=current):
                return topic(room, current)
            case Help():
                return b"".join(notice(line, limit) for line in ["Commands:", *HELP])
            case HistoryCapped():
                return notice(HISTORY_CAPPED, limit)
            case HistoryFound():
                return self._history(result)
            case HistoryUnavailable(room=room):
                return error(f"the history of {room} is not available right now", limit)
            case Goodbye(why=Farewell.OWNER_ARRIVED, nick=nick):
                return notice(
                    f"The nickname {nick} is registered, and its owner signed on. Goodbye!"
                )
            case Goodbye(why=why):
                return _FAREWELLS[why]
            case ServerNotice(text=text):
                return notice(text, limit)
            case KickedOut(event=event):
                return kicked(event)
            case Statistics():
                return b"".join(notice(text, limit) for text in result.lines())
            case results.RoomRanked(changed=True):
                return b""  # the room's RankChanged told the user as well
            case event if not isinstance(event, Event):
                said = moderation_text(event)
                assert said is not None, event
                return b"".join(notice(text, limit) for text in said)
            case event:
                return render(event)

    def _entered(self, entered: Entered) -> bytes:
        room, limit = entered.room, self.max_line
        if entered.members is None:
            count = counted(entered.count, "member")
            shown = notice(f"You joined {room} ({count}):", limit) + notice(
                f"Too many to list here; /who {room} lists them.", limit
            )
        else:
            shown = self._members("You joined", room, entered.members, entered.away)
        return shown if entered.topic is None else shown + topic(room, entered.topic)

    def _members(
        self, heading: str, room: str, members: tuple[str, ...], away: tuple[str, ...]
    ) -> bytes:
        count = counted(len(members), "member")
        if away:
            marked = set(away)
            members = tuple(f"{nick} (away)" if nick in marked else nick for nick in members)
        return notice(f"{heading} {room} ({count}):", self.max_line) + self._list(members)

    def _rooms(self, rooms: Sequence[RoomSummary]) -> bytes:
        """
        A room to a line, its topic beside its count: C{*** dev (3): release on
        Friday}; cut, as the lines of C{/who} are, to the width of a listing.
        """
        width = min(LIST_WIDTH, self.max_line + 1) - 1
        lines = [notice(f"{counted(len(rooms), 'room')}:", self.max_line)]
        for room in rooms:
            about = "" if room.topic is None else f": {room.topic.text}"
            lines.append(notice(f"{room.name} ({room.count}){about}", width))
        return b"".join(lines)

    def _list(self, items: Iterable[str]) -> bytes:
        return b"".join(listing(items, min(LIST_WIDTH, self.max_line + 1)))

    def _history(self, found: HistoryFound) -> bytes:
        room, limit = found.room, self.max_line
        if found.words is None:
            if not found.lines:
                return b"" if found.joining else notice(f"No history of {room}", limit)
            # A room's latest lines from memory are one tuple until its next
            # line (chatsvc.history.cache): a crowd joining gets one rendering.
            key = (room, found.joining)
            last = self._replays.get(key)
            if last is not None and last[0] is found.lines:
                return last[1]
            shown = self._framed(f"Recent history of {room}", found.lines, "End of history")
            if len(self._replays) >= REPLAYS_KEPT:
                self._replays.clear()
            self._replays[key] = (found.lines, shown)
            return shown
        wanted = clip(" ".join(found.words), ECHOED)
        if not found.lines:
            return notice(f"Nothing in {room} matches {wanted}", limit)
        return self._framed(
            f"Search results in {room} for {wanted}", found.lines, "End of search results"
        )

    def _framed(self, heading: str, lines: Sequence[Line], end: str) -> bytes:
        """
        C{lines} between a heading and an end notice; the oldest are left out
        (and the heading says how many) if all of them would take over the budget.
        """
        limit = self.max_line
        shown = [dated(line.event, line.when, limit) for line in lines]
        size = sum(map(len, shown))
        first = 0
        while first < len(shown) and size > self.budget:
            size -= len(shown[first])
            first += 1
        count = f"{counted(len(shown) - first, 'line')}, times in UTC"
        if first:
            count += f"; {counted(first, 'earlier line')} left out, too long for one reply"
        return b"".join(
            [notice(f"{heading} ({count}):", limit), *shown[first:], notice(end, limit)]
        )
