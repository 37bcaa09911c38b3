"""
What a signed-on user's line asks for: one small class per command, the table
of commands (which is also the C{/help} text), and L{parse}.

test-case-name: tests.chat.test_commands
"""

from __future__ import annotations

from collections.abc import Callable

import attrs


@attrs.frozen
class Say:
    """A message to the current room, or to C{room} (one the user is in, on wires that name it)."""

    text: str
    room: str | None = None
    notice: bool = False


@attrs.frozen
class Me:
    """An action (C{/me}) in the current room, or in C{room}."""

    text: str
    room: str | None = None


@attrs.frozen
class Msg:
    nick: str
    text: str
    notice: bool = False


@attrs.frozen
class Nick:
    nick: str


@attrs.frozen
class Join:
    room: str


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
    """Show the room's topic (or C{room}'s), or (with C{text}, operators only) set it."""

    text: str | None = None
    room: str | None = None


@attrs.frozen
class Kick:
    """Put C{nick} out of the chat (operators only)."""

    nick: str
    reason: str | None = None


@attrs.frozen
class Operator:
    """Make C{nick} an operator of C{room} (or, not C{given}, no longer one): its operators only."""

    nick: str
    room: str
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


Command = (
    Say
    | Me
    | Msg
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
    | Invite
    | Away
    | History
    | Search
    | Stats
    | Wall
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


COMMANDS: dict[str, _Spec] = {
    "help": _Spec("/help", "this list", _no_arguments(Help)),
    "nick": _Spec("/nick NEW", "change your nickname", _one_word(Nick)),
    "join": _Spec("/join ROOM", "go to ROOM, creating it if need be", _one_word(Join)),
    "part": _Spec("/part", "leave your room for the lobby", _no_arguments(Part)),
    "rooms": _Spec("/rooms", "list the rooms and how many are in each", _no_arguments(Rooms)),
    "who": _Spec("/who [ROOM]", "list who is in your room, or in ROOM", _optional_word(Who)),
    "msg": _Spec("/msg NICK TEXT", "send TEXT to NICK alone", _word_and_text(Msg)),
    "invite": _Spec("/invite NICK", "ask NICK to join your room", _one_word(Invite)),
    "me": _Spec("/me ACTION", "tell your room what you are doing", _text(Me)),
    "away": _Spec("/away [REASON]", "say you are away, and why; without REASON: back", _away),
    "history": _Spec("/history [N]", "the last N lines said in your room (default 20)", _history),
    "search": _Spec("/search WORDS", "the latest lines said in your room with all WORDS", _search),
    "quit": _Spec("/quit [REASON]", "leave the chat", lambda rest: Quit(rest or None)),
    "topic": _Spec(
        "/topic [TEXT]",
        "show your room's topic; operators: set it",
        lambda rest: Topic(rest or None),
    ),
    "kick": _Spec(
        "/kick NICK [REASON]",
        "operators: disconnect NICK",
        _word_and_optional_text(Kick),
    ),
    "stats": _Spec("/stats", "operators: users, rooms, connections, load", _no_arguments(Stats)),
    "wall": _Spec("/wall TEXT", "operators: a notice to everyone", _text(Wall)),
}

HELP = [
    *(f"{spec.usage:<19} {spec.summary}" for spec in COMMANDS.values()),
    "//TEXT              send a message that starts with /",
    "anything else       is said to your room",
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
