"""
What a signed-on user's line asks for: one small class per command, the table
of commands (which is also the C{/help} text), and L{parse}.

test-case-name: tests.chat.test_commands
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from chatsvc.chat.events import ClientTags, ModeChange
from chatsvc.chat.model import ROOM_MODES
from chatsvc.chat.sanctions import (
    REASON_MAX,
    Mask,
    SanctionKind,
    looks_like_duration,
    parse_duration,
)


@attrs.frozen
class Say:
    """A message to the current room, or to C{room} (one the user is in, on wires that name it)."""

    text: str
    room: str | None = None
    notice: bool = False
    tags: ClientTags = ()
    """What the user's client attached for other clients (IRC's client-only tags)."""


@attrs.frozen
class Me:
    """An action (C{/me}) in the current room, or in C{room}."""

    text: str
    room: str | None = None
    tags: ClientTags = ()


@attrs.frozen
class Msg:
    nick: str
    text: str
    notice: bool = False
    tags: ClientTags = ()


@attrs.frozen
class Tag:
    """Client tags alone (IRC's C{TAGMSG}) to C{room}, one the user is in."""

    tags: ClientTags
    room: str


@attrs.frozen
class TagMsg:
    """Client tags alone (IRC's C{TAGMSG}) to the user C{nick}."""

    nick: str
    tags: ClientTags


@attrs.frozen
class Nick:
    nick: str


@attrs.frozen
class Join:
    """Go to C{room}, with C{key} if it has one (C{+k})."""

    room: str
    key: str | None = None


@attrs.frozen
class Part:
    """Leave the current room for the lobby."""


@attrs.frozen
class Enter:
    """
    Join C{room} as well as the rooms one is in (IRC's C{JOIN}); the line
    protocol's L{Join} moves from one room to the next instead.
    """

    room: str
    key: str | None = None
    """The room's key, if it has one (C{+k})."""


@attrs.frozen
class Leave:
    """Leave C{room} alone, lobby or not, for C{reason} (IRC's C{PART})."""

    room: str
    reason: str | None = None


@attrs.frozen
class Who:
    room: str | None = None


@attrs.frozen
class Rooms:
    pass


@attrs.frozen
class Help:
    pass


@attrs.frozen
class Quit:
    reason: str | None = None


@attrs.frozen
class Topic:
    """
    Show the room's topic (or C{room}'s), or (with C{text}, operators only)
    set it; an empty C{text} clears it.
    """

    text: str | None = None
    room: str | None = None


@attrs.frozen
class Kick:
    """
    Put C{nick} out of the chat (server operators), or out of the current
    room, or C{room} (its operators).
    """

    nick: str
    reason: str | None = None
    room: str | None = None


@attrs.frozen
class Operator:
    """Make C{nick} an operator of C{room} (or, not C{given}, no longer one): its operators only."""

    nick: str
    room: str
    given: bool = True


@attrs.frozen
class Voice:
    """
    Give C{nick} a voice in the current room (or C{room}), to speak when it
    is moderated; or, not C{given}, take it. Its operators only.
    """

    nick: str
    room: str | None = None
    given: bool = True


@attrs.frozen
class Invite:
    """Ask C{nick} to join C{room} (by default the room one joined last), a room one is in."""

    nick: str
    room: str | None = None


@attrs.frozen
class Stats:
    """The server's statistics: users, rooms, connections by wire, load (operators only)."""


@attrs.frozen
class Wall:
    """A notice to everyone signed on (operators only)."""

    text: str


@attrs.frozen
class Away:
    """Mark oneself away from the keyboard, for C{reason}; without one, back."""

    reason: str | None = None


@attrs.frozen
class History:
    """
    The last C{lines} lines said in the current room. C{capped}: more were
    asked for, and C{lines} is the most C{/history} shows, which the user is
    told (L{HISTORY_CAPPED}).
    """

    lines: int
    capped: bool = False
    room: str | None = None
    """The room, if not the current one: any room, as IRC's C{CHATHISTORY} names it."""
    before: float | None = None
    """Only lines said before this time (seconds since the epoch), if given."""
    after: float | None = None
    """Only lines said after this time (seconds since the epoch), if given."""


@attrs.frozen
class Search:
    """The latest lines of the current room (or C{room}) that have every one of C{words}."""

    words: tuple[str, ...]
    room: str | None = None


@attrs.frozen
class Register:
    """Register the nickname one has as an account, with C{password}."""

    password: str = attrs.field(repr=False)


@attrs.frozen
class ChangePassword:
    """Change the password of the account one is logged in to."""

    old: str = attrs.field(repr=False)
    new: str = attrs.field(repr=False)


@attrs.frozen
class Unregister:
    """Delete the account one is logged in to: its nickname is free for anyone."""


@attrs.frozen
class GrantOperator:
    """Make the account C{name} a server operator (or, not C{given}, no longer): operators only."""

    name: str
    given: bool = True


@attrs.frozen
class RegisterRoom:
    """Register the current room (or C{room}): its operators only; one becomes its owner."""

    room: str | None = None


@attrs.frozen
class UnregisterRoom:
    room: str | None = None


@attrs.frozen
class RankInRoom:
    """Make the account C{account} an owner or operator of a registered room, or neither."""

    account: str
    rank: str | None
    room: str | None = None


@attrs.frozen
class RoomMode:
    """Set or clear modes of the current room (or C{room}): C{(ModeChange("i", True),)}."""

    changes: tuple[ModeChange, ...]
    room: str | None = None


@attrs.frozen
class Sanction:
    """
    Ban or mute whoever C{mask} names in the current room (or C{room}), or
    C{chat_wide}, for C{duration} seconds (L{None}: for good), for C{reason}.
    """

    kind: SanctionKind
    mask: Mask
    chat_wide: bool = False
    duration: float | None = None
    reason: str | None = None
    room: str | None = None


@attrs.frozen
class Lift:
    """Lift the ban or mute of C{mask} in the current room (or C{room}), or C{chat_wide}."""

    kind: SanctionKind
    mask: Mask
    chat_wide: bool = False
    room: str | None = None


@attrs.frozen
class ListSanctions:
    """The bans and mutes in the current room (or C{room}), or C{chat_wide}."""

    chat_wide: bool = False
    room: str | None = None


Command = (
    Say
    | Me
    | Msg
    | Tag
    | TagMsg
    | Nick
    | Join
    | Part
    | Enter
    | Leave
    | Who
    | Rooms
    | Help
    | Quit
    | Topic
    | Kick
    | Operator
    | Voice
    | Invite
    | Away
    | History
    | Search
    | Stats
    | Wall
    | Register
    | ChangePassword
    | Unregister
    | GrantOperator
    | RegisterRoom
    | UnregisterRoom
    | RankInRoom
    | RoomMode
    | Sanction
    | Lift
    | ListSanctions
)

HISTORY_LINES = 20
"""How many lines C{/history} shows when not told."""

HISTORY_MAX = 500
"""The most lines C{/history} shows, and the longest replay on joining a room."""

HISTORY_CAPPED = f"/history shows the last {HISTORY_MAX} lines at most"
"""The notice before the answer to C{/history N}, for N over L{HISTORY_MAX}."""

SEARCH_RESULTS = 20
"""The most lines C{/search} shows."""

AWAY_MAX = 200
"""The longest away message, in bytes of UTF-8 (IRC's C{AWAYLEN})."""


class CommandError(Exception):
    """A line that names no command, or a command with bad arguments."""


@attrs.frozen
class _Spec:
    usage: str
    summary: str
    parse: Callable[[str], Command]


def _no_arguments(make: Callable[[], Command]) -> Callable[[str], Command]:
    def parse(rest: str) -> Command:
        if rest:
            raise ValueError
        return make()

    return parse


def _one_word(make: Callable[[str], Command]) -> Callable[[str], Command]:
    def parse(rest: str) -> Command:
        if not rest or " " in rest:
            raise ValueError
        return make(rest)

    return parse


def _text(make: Callable[[str], Command]) -> Callable[[str], Command]:
    def parse(rest: str) -> Command:
        if not rest:
            raise ValueError
        return make(rest)

    return parse


def _word_and_text(make: Callable[[str, str], Command]) -> Callable[[str], Command]:
    def parse(rest: str) -> Command:
        word, _, text = rest.partition(" ")
        if not word or not text.strip():
            raise ValueError
        return make(word, text.lstrip())

    return parse


def _word_and_optional_text(
    make: Callable[[str, str | None], Command],
) -> Callable[[str], Command]:
    def parse(rest: str) -> Command:
        word, _, text = rest.partition(" ")
        if not word:
            raise ValueError
        return make(word, text.strip() or None)

    return parse


def _optional_word(make: Callable[[str | None], Command]) -> Callable[[str], Command]:
    def parse(rest: str) -> Command:
        if " " in rest:
            raise ValueError
        return make(rest or None)

    return parse


def _history(rest: str) -> Command:
    if not rest:
        return History(HISTORY_LINES)
    if not (rest.isascii() and rest.isdigit()):
        raise ValueError
    digits = rest.lstrip("0")
    # Compared by length first: int() refuses numbers of thousands of digits.
    if len(digits) > len(str(HISTORY_MAX)) or int(digits or "0") > HISTORY_MAX:
        return History(HISTORY_MAX, capped=True)
    if not digits:
        raise CommandError("/history shows 1 line or more")
    return History(int(digits))


def _away(rest: str) -> Command:
    size = len(rest.encode())
    if size > AWAY_MAX:
        raise CommandError(f"an away message is at most {AWAY_MAX} bytes ({size})")
    return Away(rest or None)


def _search(rest: str) -> Command:
    words = tuple(rest.split())
    if not words:
        raise ValueError
    return Search(words)


def _register(rest: str) -> Command:
    if not rest:
        raise ValueError
    return Register(rest)


def _password(rest: str) -> Command:
    old, _, new = rest.partition(" ")
    if not old or not new:
        raise ValueError
    return ChangePassword(old, new)


def _join(rest: str) -> Command:
    words = rest.split()
    if not 1 <= len(words) <= 2:
        raise ValueError
    return Join(words[0], words[1] if len(words) == 2 else None)


def _oper(rest: str) -> Command:
    verb, _, name = rest.partition(" ")
    if verb.lower() not in ("add", "del") or not name or " " in name:
        raise ValueError
    return GrantOperator(name, verb.lower() == "add")


_RANKS = {"owner": "owner", "op": "operator", "deop": None, "deowner": None}


def parse_modes(text: str) -> tuple[ModeChange, ...]:
    """
    C{+i}, C{-m+s}, C{+kl KEY 20}, C{-k}... as changes: modes, then the
    arguments of those that take one (C{+k KEY}, C{+l MOST}), in order;
    L{CommandError} for a mode there is not or a missing argument.
    """
    letters, *arguments = text.split()
    left = iter(arguments)
    changes: list[ModeChange] = []
    on: bool | None = None
    for char in letters:
        if char in "+-":
            on = char == "+"
        elif char in ROOM_MODES and on is not None:
            value = next(left, None) if on and char in "kl" else None
            if on and char in "kl" and value is None:
                raise CommandError(f"+{char} takes {'a key' if char == 'k' else 'a number'}")
            changes.append(ModeChange(char, on, value))
        else:
            raise CommandError(f"unknown room mode {letters[:10]!r}: {MODES_USAGE}")
    if not changes:
        raise CommandError(f"give the modes: {MODES_USAGE}")
    if next(left, None) is not None:
        raise CommandError(f"too many arguments: {MODES_USAGE}")
    return tuple(changes)


MODES_USAGE = "+i, +m, +s, +n, +t, +k KEY or +l MOST to set; -i, -m, -s, -n, -t, -k or -l to clear"


def _room(rest: str) -> Command:
    verb, _, argument = rest.partition(" ")
    verb = verb.lower()
    if verb == "register" and not argument:
        return RegisterRoom()
    if verb == "unregister" and not argument:
        return UnregisterRoom()
    if verb == "mode" and argument.strip():
        return RoomMode(parse_modes(argument))
    if verb in _RANKS and argument and " " not in argument:
        return RankInRoom(argument, _RANKS[verb])
    raise CommandError(ROOM_USAGE)


ROOM_USAGE = "usage: /room register | unregister | mode MODES [KEY] [MOST] | op|deop|owner ACCOUNT"


def _chat_wide(rest: str) -> tuple[bool, str]:
    """Whether C{rest} starts with C{-g} (chat-wide), and what follows."""
    first, _, after = rest.partition(" ")
    if first == "-g":
        return True, after.strip()
    return False, rest


def parse_mask(text: str) -> Mask:
    """L{Mask.parse}, with its complaint as a L{CommandError}."""
    try:
        return Mask.parse(text)
    except ValueError as e:
        raise CommandError(str(e)) from None


def parse_sanction(
    kind: SanctionKind, words: str, chat_wide: bool = False, room: str | None = None
) -> Sanction:
    """C{MASK [DURATION] [REASON]}: a ban or mute, or L{CommandError} saying what is wrong."""
    mask_text, _, rest = words.partition(" ")
    if not mask_text:
        raise ValueError
    mask = parse_mask(mask_text)
    rest = rest.strip()
    duration = None
    first, _, after = rest.partition(" ")
    if looks_like_duration(first):
        try:
            duration = parse_duration(first)
        except ValueError as e:
            raise CommandError(str(e)) from None
        rest = after.strip()
    if len(rest) > REASON_MAX:
        raise CommandError(f"a reason is at most {REASON_MAX} characters ({len(rest)})")
    return Sanction(kind, mask, chat_wide, duration, rest or None, room)


def _sanction(kind: SanctionKind) -> Callable[[str], Command]:
    def parse(rest: str) -> Command:
        chat_wide, rest = _chat_wide(rest)
        return parse_sanction(kind, rest, chat_wide)

    return parse


def _lift(kind: SanctionKind) -> Callable[[str], Command]:
    def parse(rest: str) -> Command:
        chat_wide, rest = _chat_wide(rest)
        if not rest or " " in rest:
            raise ValueError
        return Lift(kind, parse_mask(rest), chat_wide)

    return parse


def _bans(rest: str) -> Command:
    if rest not in ("", "-g"):
        raise ValueError
    return ListSanctions(rest == "-g")


BAN, MUTE = SanctionKind.BAN, SanctionKind.MUTE
EXCEPTION, INVITATION = SanctionKind.EXCEPTION, SanctionKind.INVITATION

COMMANDS: dict[str, _Spec] = {
    "help": _Spec("/help", "this list", _no_arguments(Help)),
    "nick": _Spec("/nick NEW", "change your nickname", _one_word(Nick)),
    "join": _Spec(
        "/join ROOM [KEY]", "go to ROOM, creating it if need be; KEY if it has one", _join
    ),
    "part": _Spec("/part", "leave your room for the lobby", _no_arguments(Part)),
    "rooms": _Spec("/rooms", "list the rooms and how many are in each", _no_arguments(Rooms)),
    "who": _Spec("/who [ROOM]", "list who is in your room, or in ROOM", _optional_word(Who)),
    "msg": _Spec("/msg NICK TEXT", "send TEXT to NICK alone", _word_and_text(Msg)),
    "invite": _Spec("/invite NICK", "ask NICK to join your room", _one_word(Invite)),
    "voice": _Spec(
        "/voice NICK", "operators: let NICK speak in your moderated room", _one_word(Voice)
    ),
    "devoice": _Spec(
        "/devoice NICK",
        "operators: take NICK's voice in your room",
        _one_word(lambda nick: Voice(nick, given=False)),
    ),
    "me": _Spec("/me ACTION", "tell your room what you are doing", _text(Me)),
    "away": _Spec("/away [REASON]", "say you are away, and why; without REASON: back", _away),
    "history": _Spec("/history [N]", "the last N lines said in your room (default 20)", _history),
    "search": _Spec("/search WORDS", "the latest lines said in your room with all WORDS", _search),
    "quit": _Spec("/quit [REASON]", "leave the chat", lambda rest: Quit(rest or None)),
    "topic": _Spec(
        "/topic [TEXT|-delete]",
        "show your room's topic; operators: set it, or clear it",
        lambda rest: Topic("" if rest.strip() == "-delete" else rest or None),
    ),
    "kick": _Spec(
        "/kick NICK [REASON]",
        "operators: put NICK out of your room (or of the chat)",
        _word_and_optional_text(Kick),
    ),
    "stats": _Spec("/stats", "operators: users, rooms, connections, load", _no_arguments(Stats)),
    "wall": _Spec("/wall TEXT", "operators: a notice to everyone", _text(Wall)),
    "register": _Spec("/register PASSWORD", "register your nickname as an account", _register),
    "password": _Spec("/password OLD NEW", "change your account's password", _password),
    "unregister": _Spec(
        "/unregister", "delete your account; its nickname is free", _no_arguments(Unregister)
    ),
    "room": _Spec(
        "/room WHAT",
        "register, unregister, mode MODES, op/deop/owner N",
        _room,
    ),
    "ban": _Spec(
        "/ban [-g] MASK [TIME] [WHY]",
        "operators: keep MASK (nick*, account:N, 10.0.0.0/8) out",
        _sanction(BAN),
    ),
    "unban": _Spec("/unban [-g] MASK", "operators: lift a ban", _lift(BAN)),
    "mute": _Spec(
        "/mute [-g] MASK [TIME] [WHY]",
        "operators: MASK may read, not speak; TIME: 30m, 2h, 7d",
        _sanction(MUTE),
    ),
    "unmute": _Spec("/unmute [-g] MASK", "operators: lift a mute", _lift(MUTE)),
    "except": _Spec(
        "/except MASK [TIME] [WHY]",
        "operators: let MASK past your room's bans and mutes",
        _sanction(EXCEPTION),
    ),
    "unexcept": _Spec("/unexcept MASK", "operators: lift an exception", _lift(EXCEPTION)),
    "invex": _Spec(
        "/invex MASK [TIME] [WHY]",
        "operators: let MASK into your invite-only room uninvited",
        _sanction(INVITATION),
    ),
    "uninvex": _Spec("/uninvex MASK", "operators: lift an invitation", _lift(INVITATION)),
    "bans": _Spec("/bans [-g]", "the bans, mutes, exceptions and invitations of your room", _bans),
    "oper": _Spec(
        "/oper add|del NAME", "operators: make account NAME a server operator, or not", _oper
    ),
}


def _help(usage: str, summary: str) -> list[str]:
    """One command's lines in C{/help}: a usage too long for its column has the summary below it."""
    if len(usage) <= _USAGE_WIDTH:
        return [f"{usage:<{_USAGE_WIDTH}} {summary}"]
    return [usage, " " * (_USAGE_WIDTH + 1) + summary]


_USAGE_WIDTH = 19

HELP = [
    *(line for spec in COMMANDS.values() for line in _help(spec.usage, spec.summary)),
    *_help("//TEXT", "send a message that starts with /"),
    *_help("-g", "with /ban /unban /mute /unmute /bans: chat-wide, not room"),
    *_help("MODES", "for /room mode: +i invite-only +m moderated +s secret"),
    *_help("", "+k KEY +l MOST-members +n only members speak"),
    *_help("", "+t only operators set the topic; - clears: -i -k ..."),
    *_help("anything else", "is said to your room"),
]
"""The lines of C{/help}."""


def parse(line: str) -> Command:
    """
    What C{line} (decoded, sanitised text) asks for. A line not starting with
    C{/} is said to the room, and so is one starting with C{//}, less its first
    C{/}. Raises L{CommandError} with a message for the user.
    """
    if not line.startswith("/"):
        return Say(line)
    if line.startswith("//"):
        return Say(line[1:])
    name, _, rest = line[1:].partition(" ")
    # Only ASCII is lower-cased: "\u212aick".lower() is "kick".
    spec = COMMANDS.get(name.lower()) if name.isascii() else None
    if spec is None:
        if not name:
            raise CommandError("no command after /; type // to start a message with /")
        raise CommandError(f"unknown command /{name} (try /help)")
    try:
        return spec.parse(rest.strip())
    except ValueError:
        raise CommandError(f"usage: {spec.usage}") from None
