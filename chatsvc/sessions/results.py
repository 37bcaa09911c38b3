"""
What a session shows its user: one small frozen class per kind of answer,
which each frontend renders on its own wire. The chat's own events
(L{chatsvc.chat.events}) are shown as they are.

test-case-name: tests.sessions.test_session
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from chatsvc.chat.events import Invited, Kicked, PrivateMessage
from chatsvc.chat.model import ChatError, Room, Topic, fold
from chatsvc.chat.sanctions import Sanction
from chatsvc.history import Line


@attrs.frozen
class NicknamePrompt:
    """A nickname is asked for (again)."""


@attrs.frozen
class PasswordPrompt:
    """The password of C{account}, the registered nickname asked for, is asked for."""

    account: str


@attrs.frozen
class Refused:
    """
    What the user asked for was refused, for C{reason} (meant for the user);
    nothing changed. C{error} is the chat rule broken, if one was, for wires
    that answer each with a code of its own (IRC's numerics).
    """

    reason: str
    error: ChatError | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class Welcome:
    """Signed on as C{nick}."""

    nick: str


@attrs.frozen
class Entered:
    """
    The user entered C{room}, with C{count} members: their nicknames, sorted,
    or L{None} if there are too many to list; and its C{topic}.
    """

    room: str
    count: int
    members: tuple[str, ...] | None
    topic: Topic | None
    away: tuple[str, ...] = ()
    """Those of C{members} who are away."""


@attrs.frozen
class Members:
    """Who is in C{room} (C{/who}), sorted, and which of them are C{away}."""

    room: str
    members: tuple[str, ...]
    away: tuple[str, ...] = ()


@attrs.frozen
class RoomSummary:
    """A room as C{/rooms} lists it: its name, how many are in it, and its topic."""

    name: str
    count: int
    topic: Topic | None = None


@attrs.frozen
class RoomList:
    """
    Rooms (C{/rooms}), the most populous first and those of a size by name
    (L{room_list}): where people are is what someone looking for company
    wants to see first.
    """

    rooms: tuple[RoomSummary, ...]


def room_list(rooms: Iterable[Room]) -> RoomList:
    """C{rooms} summed up and ordered as L{RoomList} says."""
    ordered = sorted(rooms, key=lambda room: (-len(room), fold(room.name)))
    return RoomList(tuple(RoomSummary(room.name, len(room), room.topic) for room in ordered))


@attrs.frozen
class Renamed:
    """The user is called C{nick} from now on."""

    nick: str


@attrs.frozen
class Parted:
    """The user left C{room} alone of its rooms (IRC's C{PART}), for C{reason}."""

    room: str
    reason: str | None = None


@attrs.frozen
class PrivateSent:
    """
    The user's own copy of a private message it sent; and, if its recipient
    is away, why (never for a notice: nothing answers one by itself).
    """

    message: PrivateMessage
    away: str | None = None


@attrs.frozen
class InviteSent:
    """The user invited someone to a room; and, if that one is away, why."""

    invitation: Invited
    away: str | None = None


@attrs.frozen
class Away:
    """The user is marked away for C{reason}, or (L{None}) no longer."""

    reason: str | None


@attrs.frozen
class TopicShown:
    """The topic of C{room}, or that it has none."""

    room: str
    topic: Topic | None


@attrs.frozen
class Help:
    """The list of commands."""


@attrs.frozen
class HistoryCapped:
    """More lines of history were asked for than are shown: C{most} are."""

    most: int


@attrs.frozen
class HistoryFound:
    """
    Lines from the history of C{room}: its latest (C{words} is L{None}), or
    the latest with all of C{words}. On C{joining} the room, none is shown as
    nothing at all.
    """

    room: str
    lines: tuple[Line, ...]
    words: tuple[str, ...] | None = None
    joining: bool = False


@attrs.frozen
class HistoryUnavailable:
    """The history of C{room} did not answer in time, or failed."""

    room: str


class Farewell(enum.Enum):
    """Why the session ends, as the user is told last."""

    QUIT = "quit"  # the user asked to
    LOGIN_TIMEOUT = "login timeout"  # no nickname in time
    PASSWORD_TIMEOUT = "password timeout"  # no password in time
    TOO_MANY_PASSWORDS = "too many passwords"  # too many wrong ones
    CANNOT_CHECK = "cannot check"  # the password could not be checked at all
    SHUTDOWN = "shutdown"  # the server is stopping
    REPLACED = "replaced"  # the same account signed on with this nickname elsewhere
    OWNER_ARRIVED = "owner arrived"  # a guest's nickname: its registered owner signed on
    NICKNAME_CLAIMED = "nickname claimed"  # another node of the cluster holds the nickname


@attrs.frozen
class KickedOut:
    """The user was kicked out of the chat (C{event}), and is told last."""

    event: Kicked


@attrs.frozen
class ServerNotice:
    """What the server tells its users unasked: the other nodes are out of reach, or back."""

    text: str


@attrs.frozen
class Goodbye:
    """The last thing the user is told: why the session ends (and C{nick}, the name it had)."""

    why: Farewell
    nick: str | None = None


@attrs.frozen
class Statistics:
    """
    The server now (C{/stats}, operators only): who is signed on and
    connected, by wire; its rooms; the lines relayed a second over the last
    minute; how long it has run, in seconds; its resident memory, in bytes.
    """

    users: tuple[tuple[str, int], ...]
    connections: tuple[tuple[str, int], ...]
    rooms: int
    per_second: float
    uptime: float
    memory: int | None

    @property
    def total_users(self) -> int:
        return sum(n for _, n in self.users)

    @property
    def total_connections(self) -> int:
        return sum(n for _, n in self.connections)

    def lines(self) -> list[str]:
        """The statistics as lines of text, for the wires that show text."""

        def by_wire(counts: tuple[tuple[str, int], ...]) -> str:
            return ", ".join(f"{wire} {n}" for wire, n in counts)

        days, rest = divmod(int(self.uptime), 86400)
        hours, rest = divmod(rest, 3600)
        minutes, seconds = divmod(rest, 60)
        uptime = f"{days} days {hours:02}:{minutes:02}:{seconds:02}"
        memory = "unknown" if self.memory is None else f"{self.memory / 2**20:.1f} MiB"
        return [
            "Server statistics:",
            f"users: {self.total_users} ({by_wire(self.users)})",
            f"connections: {self.total_connections} ({by_wire(self.connections)})",
            f"rooms: {self.rooms}",
            f"messages: {self.per_second:.2f} a second (over the last minute)",
            f"uptime: {uptime}",
            f"memory: {memory}",
        ]


@attrs.frozen
class AccountRegistered:
    """The user's nickname is now the account C{account}, and the user is logged in to it."""

    account: str


@attrs.frozen
class PasswordChanged:
    account: str


@attrs.frozen
class AccountDeleted:
    """The account C{account} is no more; the user is a guest."""

    account: str


@attrs.frozen
class OperatorGranted:
    """The account C{account} is a server operator now (or, not C{given}, no longer)."""

    account: str
    given: bool = True


@attrs.frozen
class RoomRegistered:
    """C{room} is registered, the user its owner (or, not C{registered}, no longer registered)."""

    room: str
    registered: bool = True


@attrs.frozen
class RoomRanked:
    """
    The account C{account} is an C{"owner"} or C{"operator"} of C{room}, or
    (L{None}) neither: C{changed} now (the room, the user too, was told with
    a L{chatsvc.chat.events.RankChanged}), or so already.
    """

    room: str
    account: str
    rank: str | None
    changed: bool = False


@attrs.frozen
class SanctionSet:
    """
    The user set C{sanction}, which holds now for C{held} (put out of the
    room or chat for a ban); C{now} is when, for its time left.
    """

    sanction: Sanction
    held: tuple[str, ...]
    now: float


@attrs.frozen
class SanctionLifted:
    sanction: Sanction


@attrs.frozen
class SanctionList:
    """The bans and mutes in force in C{room} (L{None}: chat-wide), oldest first, as of C{now}."""

    room: str | None
    sanctions: tuple[Sanction, ...]
    now: float


@attrs.frozen
class NickReleased:
    """The user, a guest, had C{old}, which its owner took: it is C{new} from now on."""

    old: str
    new: str


Result = (
    NicknamePrompt
    | PasswordPrompt
    | Refused
    | Welcome
    | Entered
    | Members
    | RoomList
    | Renamed
    | Parted
    | PrivateSent
    | InviteSent
    | Away
    | TopicShown
    | Help
    | HistoryCapped
    | HistoryFound
    | HistoryUnavailable
    | Goodbye
    | KickedOut
    | ServerNotice
    | Statistics
    | AccountRegistered
    | PasswordChanged
    | AccountDeleted
    | OperatorGranted
    | RoomRegistered
    | RoomRanked
    | SanctionSet
    | SanctionLifted
    | SanctionList
    | NickReleased
)
"""Everything a session shows its user but the chat's events."""
