"""
The chat model: participants, nicknames and rooms, and the rules between them.

Threading: there is none. Every object here is created, read and changed only
from the reactor thread (protocol callbacks and timed calls), so nothing is
locked and each method runs to completion before any other event is seen. No
method does I/O; the model tells participants what happened through
L{IChatClient.deliver}, and the frontends decide how that looks on their wire.
What is said to a whole room goes through the chat's L{Chat.fan_out} (by
default L{deliver_each}), which a frontend may replace with one that formats
the event once and writes it to every member in one pass.

Registered nicknames and operators: the model is told which nicknames are
registered by an L{IAccountNames} (a password file, behind an interface), and
who has logged in by the L{Account} a participant signs on with (the avatar of
a L{twisted.cred} login). The rules that follow from them are here: a
registered nickname is its account's alone, and only operators set topics or
kick.

Moderation (the rules only; what is kept across restarts is the store's,
L{chatsvc.registry}): registered rooms (L{RoomRegistration}) outlive their
members and keep their topic, modes, owners and operators (by account);
bans and mutes (L{chatsvc.chat.sanctions}) per room or chat-wide, which expire
by the chat's injected C{clock}; invite-only (C{+i}) and moderated (C{+m})
rooms. Server operators are above every sanction and run every room; a
room's operators are above its own.

test-case-name: tests.chat.test_model, tests.chat.test_moderation
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Collection, Iterator, Sequence

import attrs
from zope.interface import implementer

from chatsvc.chat.events import (
    Action,
    BanListChanged,
    ClientTags,
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
from chatsvc.chat.interfaces import IAccount, IAccountNames, IChatClient
from chatsvc.chat.sanctions import Identity, Mask, Sanction, SanctionKind, Sanctions

MAX_INVITATIONS = 100
"""Invitations a room keeps (the oldest go first): each lets one nickname in once."""

NAME_MAX = 32
"""The longest nickname or room name, in characters."""

NAME_CHARS = "letters, digits and _ - . [ ] { } ^ |"
"""What a nickname or room name may be made of, as told to users."""

_NAME = re.compile(rf"[A-Za-z0-9_\-.\[\]{{}}^|]{{1,{NAME_MAX}}}")

LOBBY = "lobby"
"""The room everyone enters on signing on. It exists even when empty."""

_VERBS = {
    SanctionKind.BAN: "ban",
    SanctionKind.MUTE: "mute",
    SanctionKind.EXCEPTION: "set exceptions",
    SanctionKind.INVITATION: "set invitations",
}
"""What one does in setting a sanction of each kind, as a refusal says it."""


def _rooms_only(kind: SanctionKind) -> ChatError:
    """The refusal of a chat-wide exception or invitation: they are a room's alone."""
    return ChatError(f"an {kind.value} is a room's, not the chat's: name the room")


ROOM_MODES = "iklmnst"
"""
A room's modes, as IRC names them: C{i} invite-only, C{k} a key to join,
C{l} a most members, C{m} moderated, C{n} no words from outside, C{s}
secret, C{t} only operators set the topic. Who has a voice (C{v}) or is an
operator (C{o}) is a member's, not the room's.
"""

FLAG_MODES = {
    "i": "invite_only",
    "m": "moderated",
    "n": "members_only",
    "s": "secret",
    "t": "topic_locked",
}
"""The modes that are on or off, and the L{Room} attribute of each (a client's too)."""

KEY_MAX = 23
"""The longest room key (C{+k}), in characters."""

LIMIT_MAX = 1_000_000
"""The largest member limit (C{+l}) one may set."""


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold(name: str) -> str:
    """
    The key under which a nickname or room name is unique: its ASCII letters
    lower-cased, and nothing else changed.

    Names are ASCII only (see L{_NAME}), but C{fold} is also given what users
    type to look names up, and what other checkers register. C{str.lower}
    would make the Kelvin sign U+212A a C{k} (and C{casefold} would make
    U+017F a C{s}), so a name nobody may take could reach someone else's. Here
    a non-ASCII name never folds to an ASCII one, as in SQLite's C{NOCASE}.
    """
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)


def is_valid_name(name: str) -> bool:
    """Whether C{name} may be a nickname or a room name."""
    return _NAME.fullmatch(name) is not None


@implementer(IAccount)
@attrs.frozen
class Account:
    """A registered user who logged in: what L{chatsvc.accounts.ChatRealm} hands out."""

    name: str
    operator: bool = False


@attrs.frozen
class Topic:
    """What a room is about, who said so, and when (seconds since the epoch)."""

    text: str
    set_by: str
    set_at: float


class ChatError(Exception):
    """
    A request broke a chat rule. The message is meant for the user who made
    it; nothing in the model changed. Errors about a name keep it as
    C{name}, for wires that answer with the name apart from the message.
    """

    name: str | None = None


class NicknameInvalid(ChatError):
    def __init__(self, nick: str) -> None:
        self.name = nick
        super().__init__(f"{nick!r} is not a valid nickname: use 1-{NAME_MAX} {NAME_CHARS}")


class NicknameTaken(ChatError):
    def __init__(self, nick: str) -> None:
        self.name = nick
        super().__init__(f"the nickname {nick} is taken")


class RoomNameInvalid(ChatError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"{name!r} is not a valid room name: use 1-{NAME_MAX} {NAME_CHARS}")


class NoSuchRoom(ChatError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"there is no room named {name}")


class NoSuchUser(ChatError):
    def __init__(self, nick: str) -> None:
        self.name = nick
        super().__init__(f"there is no user named {nick}")


class NicknameRegistered(ChatError):
    def __init__(self, nick: str) -> None:
        self.name = nick
        super().__init__(f"the nickname {nick} is registered")


class GuestsNotAllowed(ChatError):
    def __init__(self, nick: str) -> None:
        self.name = nick
        super().__init__(f"{nick} is not registered, and only registered users may sign on here")


class NotAnOperator(ChatError):
    def __init__(self, what: str) -> None:
        super().__init__(f"only operators may {what}")


class NotInRoom(ChatError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"you are not in {name}")


class NotAMember(ChatError):
    def __init__(self, nick: str, room: str) -> None:
        self.name, self.room = nick, room
        super().__init__(f"{nick} is not in {room}")


class AlreadyInRoom(ChatError):
    def __init__(self, nick: str, room: str) -> None:
        self.name, self.room = nick, room
        super().__init__(f"{nick} is already in {room}")


class Barred(ChatError):
    """A ban or mute holds: C{sanction} says which, and the message for how long and why."""

    def __init__(self, sanction: Sanction, now: float) -> None:
        self.name, self.sanction = sanction.room, sanction
        super().__init__(f"you are {sanction.describe(now)}")


class InviteOnly(ChatError):
    def __init__(self, room: str) -> None:
        self.name = room
        super().__init__(f"{room} is invite-only: an operator of it must /invite you")


class Moderated(ChatError):
    def __init__(self, room: str) -> None:
        self.name = room
        super().__init__(f"{room} is moderated: only its operators and voiced members may speak")


class UnknownMode(ChatError):
    def __init__(self, mode: str) -> None:
        self.name = mode
        shown = "".join(f"+{m} -{m} " for m in ROOM_MODES).strip()
        super().__init__(f"unknown room mode {mode[:10]!r}: use {shown}")


class BadModeValue(ChatError):
    """A key or a member limit that cannot be: C{mode} says which, the message why."""

    def __init__(self, mode: str, why: str) -> None:
        self.name = mode
        super().__init__(why)


class BadKey(ChatError):
    def __init__(self, room: str) -> None:
        self.name = room
        super().__init__(f"{room} has a key: join it with the right one (/join {room} KEY)")


class RoomFull(ChatError):
    def __init__(self, room: str, limit: int) -> None:
        self.name = room
        super().__init__(f"{room} is full: it takes {limit} members at most")


class NotAnOwner(ChatError):
    def __init__(self, room: str, what: str) -> None:
        self.name = room
        super().__init__(f"only the owners of {room} may {what}")


class TooManyRooms(ChatError):
    def __init__(self, most: int) -> None:
        super().__init__(f"you are in {most} rooms already, the most one may be in; part one first")


def check_key(key: str | None) -> str:
    """
    C{key} as a room's key (C{+k}): 1-L{KEY_MAX} printable characters, no
    spaces or commas (IRC separates keys with them); L{BadModeValue} else.
    """
    if not key:
        raise BadModeValue("k", "give the key: +k KEY")
    if len(key) > KEY_MAX:
        raise BadModeValue("k", f"a room key is {KEY_MAX} characters at most")
    if not key.isprintable() or any(c in key for c in " ,"):
        raise BadModeValue("k", "a room key has no spaces, commas or control characters")
    return key


def check_limit(limit: str | int | None) -> int:
    """C{limit} as a room's most members (C{+l}): a whole number from 1; L{BadModeValue} else."""
    text = str(limit).strip() if limit is not None else ""
    if not text.isdigit() or not text.isascii():
        raise BadModeValue("l", "give the most members as a whole number: +l 20")
    value = int(text)
    if not 1 <= value <= LIMIT_MAX:
        raise BadModeValue("l", f"the most members is from 1 to {LIMIT_MAX}")
    return value


def checked_mode(change: ModeChange) -> ModeChange:
    """
    C{change} as it is made: a known mode (L{UnknownMode} else), a set key or
    limit checked (L{check_key}, L{check_limit}), and no value on any other.
    """
    mode, on, value = change
    if len(mode) != 1 or mode not in ROOM_MODES:
        raise UnknownMode(mode)
    if on and mode == "k":
        return ModeChange(mode, on, check_key(value))
    if on and mode == "l":
        return ModeChange(mode, on, str(check_limit(value)))
    return change if value is None else ModeChange(mode, on)


@attrs.frozen
class RoomModes:
    """
    A room's modes beyond C{+i} and C{+m}, as a registered room's store
    keeps them (the defaults are a new room's).
    """

    key: str | None = None
    limit: int | None = None
    secret: bool = False
    members_only: bool = True
    topic_locked: bool = True

    @classmethod
    def of(cls, room: Room) -> RoomModes:
        return cls(room.key, room.limit, room.secret, room.members_only, room.topic_locked)

    def apply(self, room: Room) -> None:
        room.key, room.limit, room.secret = self.key, self.limit, self.secret
        room.members_only, room.topic_locked = self.members_only, self.topic_locked


@attrs.define(eq=False)
class Participant:
    """
    A signed-on user: a unique nickname, the rooms it is in (in the order it
    joined them), a client to tell, and the account it logged in to (L{None}
    for a guest).

    The rooms are a tuple, made anew on each join and part: those are rare,
    and a tuple of one costs an idle connection a fifth of what a dict does.
    """

    nick: str
    client: IChatClient
    rooms: tuple[Room, ...]
    account: Account | None = None
    away: str | None = None
    """Why it is away from the keyboard (C{/away}), or L{None} while it is here."""
    address: str | None = None
    """The IP address it connects from, if it has one: what address masks match."""
    homeless: bool = False
    """Whether it may be in no room (IRC); else, put out of its last, it goes to the lobby."""

    @property
    def identity(self) -> Identity:
        """Who it is, as a sanction's mask sees it."""
        account = None if self.account is None else self.account.name
        return Identity(self.nick, account, self.address)

    @property
    def room(self) -> Room:
        """
        The room it joined last: the one room of a wire that shows one at a
        time (the line protocol moves from room to room, and is always in one).
        """
        return self.rooms[-1]

    @property
    def operator(self) -> bool:
        """Whether this participant may set topics and kick."""
        return self.account is not None and self.account.operator

    def in_room(self, room: Room) -> bool:
        """Whether it is a member of C{room}."""
        return room in self.rooms

    def __repr__(self) -> str:
        return f"<Participant {self.nick} in {', '.join(r.name for r in self.rooms)}>"


class Members(Collection["IChatClient"]):
    """
    A room's members' clients, in the order they joined: a live view. What a
    fan-out works out about them (which wire each is on) it keeps in
    C{fanned}, which is dropped whenever a member comes or goes.
    """

    __slots__ = ("_clients", "fanned")

    def __init__(self, members: dict[Participant, IChatClient]) -> None:
        self._clients = members.values()
        self.fanned: object = None
        """What the fan-out worked out about these members, until they change (or L{None})."""

    def changed(self) -> None:
        """A member came or went: what was worked out about them no longer holds."""
        self.fanned = None

    def __iter__(self) -> Iterator[IChatClient]:
        return iter(self._clients)

    def __len__(self) -> int:
        return len(self._clients)

    def __contains__(self, client: object) -> bool:
        return client in self._clients


@attrs.define(eq=False)
class Room:
    """
    A named set of participants, kept in the order they joined: a dict from
    each member to its client, so that a room's clients are there to hand
    over (L{clients}) without a lookup per member.
    """

    name: str
    _members: dict[Participant, IChatClient] = attrs.field(factory=dict, repr=False)
    topic: Topic | None = None
    _operators: set[Participant] = attrs.field(factory=set, repr=False)
    """Its own operators: whoever made it (joined it empty), and those they made so."""
    created: float | None = None
    """When it was made (seconds since the epoch), if its maker said (L{Chat.join})."""
    registration: RoomRegistration | None = None
    """Its owners and operators, by account, if it is registered (C{/room register})."""
    invite_only: bool = False
    """C{+i}: only its operators, and those they invited, may join."""
    moderated: bool = False
    """C{+m}: only its operators and voiced members may speak."""
    key: str | None = None
    """C{+k}: joining it takes this key (its operators and those invited need none)."""
    limit: int | None = None
    """C{+l}: it takes this many members at most (its operators and those invited may go over)."""
    secret: bool = False
    """C{+s}: it is not listed, nor its members shown, to those outside it."""
    members_only: bool = True
    """C{+n}: only its members may speak in it; cleared (C{-n}), anyone may who could in it."""
    topic_locked: bool = True
    """C{+t}: only its operators set its topic; cleared (C{-t}), any member may."""
    _invited: dict[str, None] = attrs.field(factory=dict, repr=False)
    """The folded nicknames invited to an invite-only room, oldest first; each enters once."""
    _voiced: set[Participant] = attrs.field(factory=set, repr=False)
    """Members given a voice (C{+v}): they speak when it is moderated, for as long as they stay."""
    _clients: Members = attrs.field(init=False, repr=False)

    @_clients.default
    def _members_view(self) -> Members:
        return Members(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[Participant]:
        return iter(self._members)

    def __contains__(self, participant: object) -> bool:
        return participant in self._members

    def nicks(self) -> list[str]:
        """The members' nicknames, sorted without regard to case."""
        return sorted((p.nick for p in self._members), key=fold)

    def clients(self) -> Members:
        """The members' clients, in the order they joined (a live view)."""
        return self._clients

    def _add(self, participant: Participant) -> None:
        self._members[participant] = participant.client
        self._clients.changed()

    def _remove(self, participant: Participant) -> None:
        del self._members[participant]
        self._operators.discard(participant)
        self._voiced.discard(participant)
        self._clients.changed()

    def _empty(self) -> None:
        self._members.clear()
        self._clients.changed()

    def is_operator(self, participant: Participant) -> bool:
        """
        Whether C{participant} may set this room's topic and make others its
        operators: a chatsvc operator (of every room), or one of the room's own.
        """
        if participant.operator or participant in self._operators:
            return True
        registration, account = self.registration, participant.account
        return (
            registration is not None
            and account is not None
            and registration.rank(account.name) is not None
        )

    def is_owner(self, participant: Participant) -> bool:
        """Whether C{participant} may name its operators: an owner, or a server operator."""
        if participant.operator:
            return True
        registration, account = self.registration, participant.account
        return (
            registration is not None
            and account is not None
            and registration.rank(account.name) == "owner"
        )

    def is_voiced(self, participant: Participant) -> bool:
        """Whether C{participant} was given a voice in this room (C{+v})."""
        return participant in self._voiced

    def visible_to(self, participant: Participant | None) -> bool:
        """
        Whether C{participant} may see this room listed and who is in it: it
        is not secret, or C{participant} is in it or a server operator.
        """
        return not self.secret or (
            participant is not None and (participant.operator or participant in self._members)
        )

    def apply_mode(self, change: ModeChange) -> bool:
        """
        Make C{change} (checked: L{checked_mode}) to this room's modes, telling
        nobody; whether it changed anything.
        """
        mode, on, value = change
        if mode == "k":
            if self.key == value:
                return False
            self.key = value
        elif mode == "l":
            limit = None if value is None else int(value)
            if self.limit == limit:
                return False
            self.limit = limit
        elif mode in FLAG_MODES:
            attribute = FLAG_MODES[mode]
            if getattr(self, attribute) == on:
                return False
            setattr(self, attribute, on)
        else:
            raise UnknownMode(mode)
        return True

    def flags(self) -> dict[str, bool]:
        """Its modes that are on or off (C{i m n s t}), by letter."""
        return {mode: getattr(self, attribute) for mode, attribute in FLAG_MODES.items()}

    def modes(self, *, arguments: bool = True) -> str:
        """
        Its modes as IRC writes them, letters in order then their arguments
        (C{+iklmnt KEY 20}); without C{arguments}, the letters alone.
        """
        letters = [mode for mode, on in self.flags().items() if on]
        shown: list[str] = []
        if self.key is not None:
            letters.append("k")
            shown.append(self.key)
        if self.limit is not None:
            letters.append("l")
            shown.append(str(self.limit))
        written = "+" + "".join(sorted(letters))
        return " ".join([written, *shown]) if arguments and shown else written


@attrs.define(eq=False)
class RoomRegistration:
    """
    A registered room's owners and operators: account names, by their
    folded form (each spelled as given). Whoever registers a room owns it;
    owners name other owners and operators.
    """

    owners: dict[str, str] = attrs.field(factory=dict)
    operators: dict[str, str] = attrs.field(factory=dict)

    def rank(self, account: str) -> str | None:
        """C{"owner"}, C{"operator"}, or L{None}: what C{account} is in the room."""
        key = fold(account)
        if key in self.owners:
            return "owner"
        return "operator" if key in self.operators else None


FanOut = Callable[["Event", Collection[IChatClient], "IChatClient | None"], None]
"""
How an event reaches a room: C{fan_out(event, clients, exclude)} delivers
C{event} to each of C{clients} but C{exclude} (if given), in their order. Like
L{IChatClient.deliver}, it must not call back into the model.
"""


def deliver_each(
    event: Event, clients: Collection[IChatClient], exclude: IChatClient | None
) -> None:
    """The plain L{FanOut}: C{client.deliver(event)} for each client but C{exclude}."""
    for client in clients:
        if client is not exclude:
            client.deliver(event)


class Chat:
    """
    Everyone signed on, and every room.

    Nicknames and room names are unique without regard to case, and keep the
    spelling they were given. A participant is in any number of rooms, up to
    C{max_rooms}; it signs on into the lobby. A room other than the lobby is
    made by the first to join it and goes away with its last member, and its
    topic with it. What concerns all of a participant's rooms (a change of
    nickname, leaving the chat, a kick) is told to each of them, and once to
    a member who shares several: in the first room they share.

    With C{accounts}, the nicknames they name are registered: only a
    participant signed on with that account may use one (in any case). Without
    C{guests}, only registered users may sign on at all.
    """

    def __init__(
        self,
        lobby: str = LOBBY,
        *,
        announce_limit: int = 0,
        accounts: IAccountNames | None = None,
        guests: bool = True,
        max_rooms: int = 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        """The time now, in seconds since the epoch: when sanctions expire (C{reactor.seconds})."""
        self.sanctions = Sanctions()
        """Every ban and mute in force, in rooms and chat-wide."""
        self.operators: dict[str, str] = {}
        """Accounts made operators at run time (C{/oper add}), by folded name."""
        self.max_rooms = max_rooms
        """The most rooms one participant may be in at once."""
        self.announce_limit = announce_limit
        """
        Rooms with more members than this are not told who comes, goes or
        changes name (C{0}: every room is): in a room of thousands those
        notices would drown the conversation, and cost a message to every
        member for every arrival.
        """
        self._participants: dict[str, Participant] = {}
        self.most = 0
        """The most participants signed on at once so far (IRC's C{LUSERS} shows it)."""
        self._rooms: dict[str, Room] = {}
        self.lobby = self._room(lobby)
        self.accounts = accounts
        self.guests = guests
        self.fan_out: FanOut = deliver_each
        """How events said to a room reach its members (see L{FanOut})."""

    # Looking things up

    def __len__(self) -> int:
        return len(self._participants)

    def __iter__(self) -> Iterator[Participant]:
        return iter(self._participants.values())

    def find(self, nick: str) -> Participant | None:
        """The participant called C{nick}, in any case, if signed on."""
        return self._participants.get(fold(nick))

    def rooms(self) -> list[Room]:
        """Every room, sorted by name without regard to case."""
        return sorted(self._rooms.values(), key=lambda room: fold(room.name))

    def room(self, name: str) -> Room:
        """The room called C{name}, in any case; L{NoSuchRoom} if there is none."""
        room = self._rooms.get(fold(canonical_room_name(name)))
        if room is None:
            raise NoSuchRoom(name)
        return room

    def find_room(self, name: str) -> Room | None:
        """The room called C{name}, in any case, if there is one (as L{find} is for nicknames)."""
        return self._rooms.get(fold(canonical_room_name(name)))

    def registered(self, nick: str) -> str | None:
        """The account C{nick} is registered to, if it is."""
        return None if self.accounts is None else self.accounts.account_for(nick)

    # Coming and going

    def check_nick(self, nick: str) -> str | None:
        """
        Whether C{nick} may sign on now: raises L{ChatError} if not. Returns
        the account it is registered to, which it must log in to first, or
        L{None} if it may sign on as a guest.
        """
        self._check_nick_free(nick)
        account = self.registered(nick)
        if account is None and not self.guests:
            raise GuestsNotAllowed(nick)
        return account

    def sign_on(
        self,
        nick: str,
        client: IChatClient,
        account: Account | None = None,
        *,
        lobby: bool = True,
        address: str | None = None,
    ) -> Participant:
        """
        Register C{nick} for C{client}, logged in to C{account} if given, and
        put it in the lobby (unless not C{lobby}: on wires like IRC, users
        join the rooms they ask for, and are in none until then); the lobby's
        other members are told.
        """
        self._check_nick_free(nick)
        self._check_nick_yours(nick, account)
        if account is None and not self.guests:
            raise GuestsNotAllowed(nick)
        if account is not None and not account.operator and fold(account.name) in self.operators:
            account = attrs.evolve(account, operator=True)
        rooms = (self.lobby,) if lobby else ()
        participant = Participant(nick, client, rooms, account, address=address, homeless=not lobby)
        if not participant.operator:
            banned = self.sanctions.matching(
                SanctionKind.BAN, None, participant.identity, self.clock()
            )
            if banned is not None:
                raise Barred(banned, self.clock())
        self._participants[fold(nick)] = participant
        self.most = max(self.most, len(self._participants))
        if lobby:
            self.lobby._add(participant)
            self._announce(self.lobby, Joined(self.lobby.name, nick), participant)
        return participant

    def sign_off(
        self, participant: Participant, reason: str | None = None, *, from_user: bool = False
    ) -> None:
        """
        Remove C{participant} from its rooms and free its nickname; the rooms
        are told, with C{reason} if there is one: the user's own words if
        C{from_user}, else the server's. Signing off twice is harmless.
        """
        if self._participants.get(fold(participant.nick)) is not participant:
            return
        del self._participants[fold(participant.nick)]
        rooms, participant.rooms = participant.rooms, ()
        nick, reason = participant.nick, reason or None
        from_user = from_user and reason is not None
        for room in rooms:
            room._remove(participant)
        self._tell_rooms(
            rooms,
            lambda room: Left(room.name, nick, reason, from_user, signed_off=True),
            announce=True,
        )
        for room in rooms:
            self._dispose_if_empty(room)

    def dissolve(self) -> None:
        """
        Everyone leaves at once and nobody is told (the server is stopping): the
        rooms but the lobby go, and every nickname is free.
        """
        for room in self._rooms.values():
            room._empty()
        self._rooms = {fold(self.lobby.name): self.lobby}
        self._participants.clear()

    def rename(self, participant: Participant, nick: str) -> str:
        """
        Call C{participant} C{nick} from now on, and tell its room. A change of
        case alone is allowed, and is validated as any other new nickname.
        Returns the old nickname.
        """
        old = participant.nick
        if nick == old:
            raise ChatError(f"you are already called {nick}")
        if not is_valid_name(nick):
            raise NicknameInvalid(nick)
        if fold(nick) != fold(old):
            self._check_nick_free(nick)
        self._check_nick_yours(nick, participant.account)
        if not participant.operator:
            who = attrs.evolve(participant.identity, nick=nick)
            banned = self.sanctions.matching(SanctionKind.BAN, None, who, self.clock())
            if banned is not None:
                raise Barred(banned, self.clock())
        del self._participants[fold(old)]
        participant.nick = nick
        self._participants[fold(nick)] = participant
        self._tell_rooms(
            participant.rooms,
            lambda room: NickChange(room.name, old, nick),
            announce=True,
            exclude=participant,
        )
        return old

    def join(
        self,
        participant: Participant,
        name: str,
        now: float | None = None,
        key: str | None = None,
    ) -> Room:
        """
        Put C{participant} in the room C{name} too, making it if need be (as
        of C{now}, if given), with C{key} if it has one; the room is told.
        """
        name = self._joinable(participant, name)
        if len(participant.rooms) >= self.max_rooms:
            raise TooManyRooms(self.max_rooms)
        return self._enter(participant, name, now, key)

    def part(self, participant: Participant, name: str, reason: str | None = None) -> Room:
        """C{participant} leaves the room C{name}, which is told; it stays in its others."""
        room = self.member_of(participant, name)
        self._leave(participant, room, reason or None)
        return room

    def move(
        self,
        participant: Participant,
        name: str,
        room: Room | None = None,
        now: float | None = None,
        key: str | None = None,
    ) -> Room:
        """
        C{participant} leaves C{room} (by default the one it joined last) for
        the room C{name} (made as of C{now} if need be; with C{key} if it has
        one), as one-room wires do: C{room} is told it left, then the new
        room that it joined.
        """
        name = self._joinable(participant, name)
        room = self._speaking_in(participant, room)
        existing = self._rooms.get(fold(name))
        if existing is not None:  # refused there, it stays where it is
            self._check_entry(participant, existing, key, consume=False)
        self._leave(participant, room, None)
        return self._enter(participant, name, now, key)

    def set_away(self, participant: Participant, reason: str | None) -> None:
        """Mark C{participant} away for C{reason}, or (L{None}, or blank) back."""
        participant.away = reason if reason and reason.strip() else None

    # Talking

    def say(
        self,
        participant: Participant,
        text: str,
        room: Room | None = None,
        *,
        notice: bool = False,
        tags: ClientTags = (),
    ) -> Message:
        """
        Relay C{text} to the rest of C{room} (by default the one it joined
        last), as a C{notice} if so, with its client's C{tags}.
        """
        room = self._voiced_in(participant, room)
        message = Message(room.name, participant.nick, _nonempty(text), notice, tags)
        self._broadcast(room, message, exclude=participant)
        return message

    def act(
        self,
        participant: Participant,
        text: str,
        room: Room | None = None,
        *,
        tags: ClientTags = (),
    ) -> Action:
        """Relay the action C{text} to the rest of C{room} (by default the one it joined last)."""
        room = self._voiced_in(participant, room)
        action = Action(room.name, participant.nick, _nonempty(text), tags)
        self._broadcast(room, action, exclude=participant)
        return action

    def whisper(
        self,
        sender: Participant,
        nick: str,
        text: str,
        *,
        notice: bool = False,
        tags: ClientTags = (),
    ) -> PrivateMessage:
        """Send C{text} to the participant called C{nick} alone, as a C{notice} if so."""
        recipient = self._whispered_to(sender, nick)
        message = PrivateMessage(sender.nick, recipient.nick, _nonempty(text), notice, tags)
        recipient.client.deliver(message)
        return message

    def send_tags(
        self, participant: Participant, tags: ClientTags, room: Room | None = None
    ) -> TagMessage:
        """
        Relay C{tags} alone to the rest of C{room} whose clients take tags,
        under the rules of what is said there (a mute, C{+m}).
        """
        room = self._voiced_in(participant, room)
        if not tags:
            raise ChatError("there are no tags to send")
        sent = TagMessage(room.name, participant.nick, tags)
        takers = [client for client in room.clients() if client.takes_tags]
        if takers:
            self.fan_out(sent, takers, participant.client)
        return sent

    def whisper_tags(self, sender: Participant, nick: str, tags: ClientTags) -> PrivateTagMessage:
        """Send C{tags} alone to the participant called C{nick}, if its client takes tags."""
        recipient = self._whispered_to(sender, nick)
        if not tags:
            raise ChatError("there are no tags to send")
        sent = PrivateTagMessage(sender.nick, recipient.nick, tags)
        if recipient.client.takes_tags:
            recipient.client.deliver(sent)
        return sent

    def _whispered_to(self, sender: Participant, nick: str) -> Participant:
        """The participant C{nick}, to whom C{sender} may speak alone (not muted chat-wide)."""
        recipient = self.find(nick)
        if recipient is None:
            raise NoSuchUser(nick)
        if self.sanctions.muting and not (sender.operator or recipient.operator):
            self._check_unmuted(sender, None)
        return recipient

    # Moderation

    def set_topic(
        self, participant: Participant, text: str, now: float, room: Room | None = None
    ) -> TopicChanged:
        """
        Make C{text} the topic of C{room} (operators only; by default the room
        it joined last), as of C{now}, or with no text (blank) clear it; the
        whole room is told (a cleared topic's event has the text C{""}).
        """
        room = self._speaking_in(participant, room)
        if room.topic_locked and not room.is_operator(participant):
            raise NotAnOperator("set the topic")
        if text.strip():
            room.topic = Topic(text, participant.nick, now)
        else:
            room.topic, text = None, ""
        changed = TopicChanged(room.name, participant.nick, text)
        self._broadcast(room, changed)
        return changed

    def set_operator(
        self, by: Participant, room: Room, nick: str, given: bool = True
    ) -> OperatorChanged | None:
        """
        Make C{nick} an operator of C{room} (or, not C{given}, no longer one):
        only the room's operators may, and only for a member of it. The whole
        room is told; L{None} if nothing changed. A chatsvc operator stays an
        operator of every room whatever its rooms say.
        """
        target = self._member_for(by, room, nick, "make others operators of a room")
        if (target in room._operators) == given:
            return None
        (room._operators.add if given else room._operators.discard)(target)
        changed = OperatorChanged(room.name, target.nick, by.nick, given)
        self._broadcast(room, changed)
        return changed

    def set_voice(
        self, by: Participant, room: Room, nick: str, given: bool = True
    ) -> VoiceChanged | None:
        """
        Give C{nick} a voice in C{room} (or, not C{given}, take it): a voiced
        member speaks when the room is moderated. Only the room's operators
        may, and only for a member of it; the whole room is told, and
        L{None} is returned if nothing changed.
        """
        target = self._member_for(by, room, nick, "give members a voice")
        return self._set_voice(room, target, by.nick, given)

    def _member_for(self, by: Participant, room: Room, nick: str, what: str) -> Participant:
        """
        The member C{nick} of C{room}, for one of its operators (C{by}, in it)
        to do C{what} to; refused (L{NotInRoom}, L{NotAnOperator}, L{NoSuchUser},
        L{NotAMember}) otherwise.
        """
        if not by.in_room(room):
            raise NotInRoom(room.name)
        if not room.is_operator(by):
            raise NotAnOperator(what)
        target = self.find(nick)
        if target is None:
            raise NoSuchUser(nick)
        if not target.in_room(room):
            raise NotAMember(target.nick, room.name)
        return target

    def _set_voice(
        self, room: Room, target: Participant, by: str, given: bool
    ) -> VoiceChanged | None:
        """C{by} gave C{target} a voice in C{room}, or took it, as L{set_voice} allows."""
        if (target in room._voiced) == given:
            return None
        (room._voiced.add if given else room._voiced.discard)(target)
        changed = VoiceChanged(room.name, target.nick, by, given)
        self._broadcast(room, changed)
        return changed

    def invite(self, by: Participant, room: Room, nick: str) -> Invited:
        """
        Ask C{nick} to join C{room}, which C{by} is in and C{nick} is not; C{nick}
        alone is told. Joining an open room is open to all, and the
        invitation is only news; an operator's invitation lets C{nick} in
        once past the room's C{+i}, C{+k} and C{+l}.
        """
        if not by.in_room(room):
            raise NotInRoom(room.name)
        target = self.find(nick)
        if target is None:
            raise NoSuchUser(nick)
        if target.in_room(room):
            raise AlreadyInRoom(target.nick, room.name)
        if room.invite_only and not room.is_operator(by):
            raise NotAnOperator(f"invite others to {room.name}, which is invite-only")
        if room.is_operator(by):
            room._invited.pop(fold(target.nick), None)
            room._invited[fold(target.nick)] = None
            while len(room._invited) > MAX_INVITATIONS:
                del room._invited[next(iter(room._invited))]
        invited = Invited(room.name, target.nick, by.nick)
        target.client.deliver(invited)
        return invited

    def wall(self, operator: Participant, text: str) -> NoticeToAll:
        """
        Tell everyone signed on C{text}, from C{operator} (operators only):
        one fan-out, to every participant, the operator too.
        """
        if not operator.operator:
            raise NotAnOperator("send a notice to everyone")
        event = NoticeToAll(operator.nick, text)
        self.fan_out(event, [p.client for p in self._participants.values()], None)
        return event

    def kick(self, operator: Participant, nick: str, reason: str | None = None) -> Kicked:
        """
        Put the participant called C{nick} out of the chat, in whatever rooms
        it is (operators only; operators are server-wide). Its rooms are told,
        and so is the operator if in none of them; then the participant
        itself, through L{IChatClient.kicked}. Kicking is not banning: it may
        sign on again.
        """
        if not operator.operator:
            raise NotAnOperator("kick")
        target = self.find(nick)
        if target is None:
            raise NoSuchUser(nick)
        if target is operator:
            raise ChatError("you cannot kick yourself")
        return self._kick(target, operator.nick, reason, operator)

    def _kick(
        self,
        target: Participant,
        by: str,
        reason: str | None,
        operator: Participant | None = None,
    ) -> Kicked:
        """
        C{by} put C{target} out of the chat; C{operator}, C{by} if signed on
        here, is told if it is in none of C{target}'s rooms.
        """
        rooms, target.rooms = target.rooms, ()
        name, why = target.nick, reason or None
        kicked = Kicked(rooms[0].name if rooms else self.lobby.name, name, by, why)
        del self._participants[fold(target.nick)]
        for room in rooms:
            room._remove(target)
        self._tell_rooms(rooms, lambda room: Kicked(room.name, name, by, why))
        if operator is not None and not any(operator.in_room(room) for room in rooms):
            operator.client.deliver(kicked)
        for room in rooms:
            self._dispose_if_empty(room)
        target.client.kicked(kicked)
        return kicked

    def remove(self, by: Participant, room: Room, nick: str, reason: str | None = None) -> Removed:
        """
        Put C{nick} out of C{room} alone (its operators only): the room is
        told, C{nick} included. As on IRC, a room's operators may put one
        another out (as they may take one another's rank away); never a
        server operator, nor an owner of a registered room but by an owner.
        """
        if not room.is_operator(by):
            raise NotAnOperator("kick")
        target = self.find(nick)
        if target is None:
            raise NoSuchUser(nick)
        if not target.in_room(room):
            raise NotAMember(target.nick, room.name)
        if target is by:
            raise ChatError("you cannot put yourself out; leave instead")
        if target.operator:
            raise ChatError(f"{target.nick} is a server operator")
        if room.is_owner(target) and not room.is_owner(by):
            raise ChatError(f"{target.nick} is an owner of {room.name}")
        return self._put_out(target, room, by.nick, reason or None)

    # Registered rooms and modes

    def register_room(self, by: Participant, room: Room) -> RoomRegistration:
        """
        Register C{room}, which C{by} runs, to C{by}'s account, its first
        owner: it, its topic and modes outlive its members from now on.
        """
        if by.account is None:
            raise ChatError("only registered users may register a room: /register first")
        if room is self.lobby:
            raise ChatError(f"{room.name} belongs to the server")
        if room.registration is not None:
            raise ChatError(f"{room.name} is registered already")
        if not by.in_room(room):
            raise NotInRoom(room.name)
        if not room.is_operator(by):
            raise NotAnOperator(f"register {room.name}")
        room.registration = RoomRegistration({fold(by.account.name): by.account.name})
        return room.registration

    def unregister_room(self, by: Participant, room: Room) -> list[Sanction]:
        """
        C{room} is registered no more (its owners or server operators only):
        it goes with its last member, and its bans and mutes with it at once;
        those are returned.
        """
        if room.registration is None:
            raise ChatError(f"{room.name} is not registered")
        if not room.is_owner(by):
            raise NotAnOwner(room.name, "unregister it")
        room.registration = None
        lifted = self.sanctions.forget_room(room.name)
        self._dispose_if_empty(room)
        return lifted

    def rank_in_room(
        self, by: Participant, room: Room, account: str, rank: str | None
    ) -> str | None:
        """
        Make the account C{account} an C{"owner"} or C{"operator"} of the
        registered C{room}, or (L{None}) neither: its owners only, and an owner
        may not leave the room without one. The room is told (L{RankChanged}).
        Returns the account's name as written (as the accounts know it), or
        L{None} if nothing changed.
        """
        registration = room.registration
        if registration is None:
            raise ChatError(f"{room.name} is not registered: /room register it first")
        if not room.is_owner(by):
            raise NotAnOwner(room.name, "name its owners and operators")
        name = self.registered(account) or self.operators.get(fold(account))
        if name is None:
            raise ChatError(f"there is no account named {account}")
        was = registration.rank(name)
        if was == rank:
            return None
        if was == "owner" and len(registration.owners) == 1:
            raise ChatError(f"{name} is the last owner of {room.name}; name another first")
        self._rank(room, name, rank, by.nick)
        return name

    def _rank(self, room: Room, name: str, rank: str | None, by: str) -> RankChanged | None:
        """
        C{by} made the account C{name} an C{"owner"} or C{"operator"} of the
        registered C{room}, or neither (its right to was checked where it did
        it): the room is told, unless nothing changed.
        """
        registration = room.registration
        if registration is None:
            raise ChatError(f"{room.name} is not registered")
        key = fold(name)
        was = registration.rank(name)
        if was == rank:
            return None
        registration.owners.pop(key, None)
        registration.operators.pop(key, None)
        if rank == "owner":
            registration.owners[key] = name
        elif rank == "operator":
            registration.operators[key] = name
        nicks = tuple(
            member.nick
            for member in room
            if member.account is not None and fold(member.account.name) == key
        )
        changed = RankChanged(room.name, name, rank, was, by, nicks)
        self._broadcast(room, changed)
        return changed

    def set_mode(
        self, by: Participant, room: Room, mode: str, on: bool, value: str | None = None
    ) -> ModeChanged | None:
        """One change of L{set_modes}."""
        return self.set_modes(by, room, (ModeChange(mode, on, value),))

    def set_modes(
        self, by: Participant, room: Room, changes: Sequence[ModeChange]
    ) -> ModeChanged | None:
        """
        Set or clear C{room}'s modes (L{ROOM_MODES}), in order: C{k} and C{l}
        are set to their C{value} (a key, L{check_key}; a number of members,
        L{check_limit}). Its operators only; every change is checked before
        any is made. The room is told of those that changed something, at
        once; L{None} is returned if none did.
        """
        if not room.is_operator(by):
            raise NotAnOperator(f"set the modes of {room.name}")
        if room is self.lobby and not by.operator:
            raise NotAnOperator(f"set the modes of {room.name}")
        return self._set_modes(room, [checked_mode(change) for change in changes], by.nick)

    def _set_modes(self, room: Room, changes: Sequence[ModeChange], by: str) -> ModeChanged | None:
        """
        C{by} set or cleared C{room}'s modes (checked: L{checked_mode}), as
        L{set_modes} allows it to.
        """
        made = [change for change in changes if room.apply_mode(change)]
        if not made:
            return None
        if not (room.invite_only or room.key is not None or room.limit is not None):
            room._invited.clear()
        changed = ModeChanged(room.name, by, tuple(made))
        self._broadcast(room, changed)
        return changed

    # Bans and mutes

    def sanction(
        self,
        by: Participant,
        kind: SanctionKind,
        mask: Mask,
        room: Room | None,
        *,
        duration: float | None = None,
        reason: str | None = None,
    ) -> tuple[Sanction, list[str]]:
        """
        Ban or mute whoever C{mask} matches in C{room} (its operators only),
        or chat-wide (L{None}: server operators only), for C{duration}
        seconds (L{None}: for good). Whoever it holds for now is told; a room
        ban puts them out of the room, a chat-wide ban out of the chat; then
        a room is told its ban list changed (L{BanListChanged}).
        Returns the sanction and the nicknames it holds for now. Setting a
        mask again replaces its reason and expiry.
        """
        if room is None:
            if kind.exempts:
                raise _rooms_only(kind)
            if not by.operator:
                raise NotAnOperator(f"{kind.value} chat-wide")
        elif not room.is_operator(by):
            raise NotAnOperator(f"{_VERBS[kind]} in {room.name}")
        now = self.clock()
        sanction = Sanction(
            kind,
            mask,
            None if room is None else room.name,
            by.nick,
            now,
            reason or None,
            None if duration is None else now + duration,
        )
        if not kind.exempts and mask.matches(by.identity) and not by.operator:
            raise ChatError(f"{mask} matches you")
        return sanction, self._impose(sanction, by)

    def _impose(self, sanction: Sanction, setter: Participant | None = None) -> list[str]:
        """
        Put C{sanction} in force as it was set, by C{sanction.by} (C{setter},
        if signed on here), whose right to set it was checked where it set
        it: whoever it holds for now is told; a room ban puts them out of
        the room, a chat-wide ban out of the chat; then a room is told
        (L{BanListChanged}), its members of every node by their own node.
        Returns their nicknames.
        """
        room = None if sanction.room is None else self.room(sanction.room)
        try:
            self.sanctions.add(sanction)
        except ValueError as e:
            raise ChatError(str(e)) from None
        now = self.clock()
        if not sanction.active(now):
            return []
        held = (
            []  # an exception or an invitation holds nobody back
            if sanction.kind.exempts
            else [p for p in (self if room is None else room) if self._holds(sanction, p)]
        )
        text = sanction.describe(now)
        kind = sanction.kind
        for target in held:
            target.client.deliver(
                Sanctioned(
                    target.nick,
                    kind.value,
                    sanction.room,
                    sanction.by,
                    sanction.reason,
                    sanction.until,
                    f"you are {text}",
                )
            )
        if kind is SanctionKind.BAN:
            why = f"banned: {sanction.reason}" if sanction.reason else "banned"
            for target in held:
                if room is None:
                    self._kick(target, sanction.by, why, setter)
                else:
                    self._put_out(target, room, sanction.by, why)
        if room is not None:
            changed = BanListChanged(
                room.name, sanction.by, kind.value, sanction.mask, sanction.until, sanction.reason
            )
            self._broadcast(room, changed)
        return [target.nick for target in held]

    def lift(self, by: Participant, kind: SanctionKind, mask: Mask, room: Room | None) -> Sanction:
        """
        Lift the C{kind} of C{mask} in C{room} (or chat-wide); who may set it
        may. Whom a mute held is told, then the room (L{BanListChanged}).
        """
        if room is None:
            if kind.exempts:
                raise _rooms_only(kind)
            if not by.operator:
                raise NotAnOperator(f"lift chat-wide {kind.value}s")
        elif not room.is_operator(by):
            raise NotAnOperator(f"lift {kind.value}s in {room.name}")
        lifted = self._lift(kind, mask, None if room is None else room.name, by.nick)
        if lifted is None:
            where = "chat-wide" if room is None else f"in {room.name}"
            raise ChatError(f"there is no {kind.value} on {mask} {where}")
        return lifted

    def _lift(self, kind: SanctionKind, mask: Mask, name: str | None, by: str) -> Sanction | None:
        """
        C{by} lifted the C{kind} of C{mask} in the room C{name} (or chat-wide),
        as L{lift} allows it to: whom a mute held is told, then the room. The
        sanction lifted, or L{None} if none was in force.
        """
        lifted = self.sanctions.remove(kind, mask, name)
        if lifted is None or not lifted.active(self.clock()):
            return None
        self._lifted(lifted, by)
        return lifted

    def expire(self, now: float) -> list[Sanction]:
        """
        Forget the bans and mutes that ran out by C{now} (or were found to
        have, in passing), as if lifted: whom a mute held is told it may
        speak, and a room that its ban list changed (L{BanListChanged},
        C{expired}). Those forgotten. Each node of a cluster does so for its
        own users.
        """
        expired = self.sanctions.expire(now)
        for sanction in expired:
            self._lifted(sanction, sanction.by, expired=True)
        return expired

    def _lifted(self, lifted: Sanction, by: str, *, expired: bool = False) -> None:
        kind, name = lifted.kind, lifted.room
        room = None if name is None else self._rooms.get(fold(name))
        if kind is SanctionKind.MUTE and (name is None or room is not None):
            for target in self if room is None else room:
                if lifted.mask.matches(target.identity):
                    target.client.deliver(
                        Sanctioned(
                            target.nick,
                            kind.value,
                            lifted.room,
                            by,
                            None,
                            None,
                            f"you may speak {'again' if room is None else 'in ' + room.name} now",
                            given=False,
                        )
                    )
        if room is not None:
            changed = BanListChanged(
                room.name, by, kind.value, lifted.mask, on=False, expired=expired
            )
            self._broadcast(room, changed)

    def sanctions_in(self, by: Participant, room: Room | None) -> list[Sanction]:
        """The bans and mutes in force in C{room}, or chat-wide (server operators only)."""
        if room is None and not by.operator:
            raise NotAnOperator("list chat-wide bans")
        return self.sanctions.listed(None if room is None else room.name, self.clock())

    def grant_operator(self, by: Participant, account: str) -> str:
        """
        Make the account C{account} a server operator from now on (operators
        only): those logged in to it are at once. Returns its name as written.
        """
        if not by.operator:
            raise NotAnOperator("make others server operators")
        name = self.registered(account)
        if name is None:
            raise ChatError(f"there is no account named {account}")
        self.operators[fold(name)] = name
        for participant in self:
            held = participant.account
            if held is not None and fold(held.name) == fold(name) and not held.operator:
                participant.account = attrs.evolve(held, operator=True)
        return name

    def revoke_operator(self, by: Participant, account: str) -> str:
        """No longer a server operator, if made one at run time (C{/oper del}); returns its name."""
        if not by.operator:
            raise NotAnOperator("take server operators' rights")
        name = self.operators.pop(fold(account), None)
        if name is None:
            raise ChatError(f"{account} was not made an operator with /oper add")
        for participant in self:
            held = participant.account
            if held is not None and fold(held.name) == fold(name) and held.operator:
                participant.account = attrs.evolve(held, operator=False)
        return name

    def restore_room(
        self,
        name: str,
        registration: RoomRegistration,
        *,
        topic: Topic | None = None,
        invite_only: bool = False,
        moderated: bool = False,
        created: float | None = None,
        modes: RoomModes | None = None,
    ) -> Room:
        """
        A registered room as the store kept it, back at start-up (with nobody
        in it): its C{+i} and C{+m}, and its other modes (C{modes}).
        """
        room = self._room(name)
        room.registration, room.topic, room.created = registration, topic, created
        room.invite_only, room.moderated = invite_only, moderated
        (modes or RoomModes()).apply(room)
        return room

    # Internals

    def _holds(self, sanction: Sanction, participant: Participant) -> bool:
        """
        Whether the ban or mute C{sanction} holds for C{participant}:
        operators are above it, and a room's exceptions let past its own.
        """
        if participant.operator:
            return False
        if sanction.room is not None and self.room(sanction.room).is_operator(participant):
            return False
        return sanction.mask.matches(participant.identity) and not (
            sanction.room is not None
            and self._listed_in(SanctionKind.EXCEPTION, sanction.room, participant)
        )

    def _listed_in(self, kind: SanctionKind, room: str, participant: Participant) -> bool:
        """
        Whether the room C{room}'s list of C{kind} (its exceptions, C{+e}, or
        invitations, C{+I}) matches C{participant} now.
        """
        return self.sanctions.any(kind, room) and (
            self.sanctions.matching(kind, room, participant.identity, self.clock()) is not None
        )

    def _check_unbanned(self, participant: Participant, room: Room) -> None:
        """Refuse C{participant} C{room} if a ban of it holds: its exceptions let past."""
        banned = self.sanctions.matching(
            SanctionKind.BAN, room.name, participant.identity, self.clock()
        )
        if banned is not None and not self._listed_in(
            SanctionKind.EXCEPTION, room.name, participant
        ):
            raise Barred(banned, self.clock())

    def _check_entry(
        self,
        participant: Participant,
        room: Room,
        key: str | None = None,
        *,
        consume: bool = True,
    ) -> None:
        """
        Refuse C{participant} entry to C{room} if it is banned; or, not
        invited by an operator, if the room is invite-only, C{key} is not its
        key, or it is full. An invitation it needed is used up (if C{consume}).
        """
        if participant.operator or room.is_operator(participant):
            return
        self._check_unbanned(participant, room)
        if not room.invite_only and room.key is None and room.limit is None:
            return
        invited = fold(participant.nick) in room._invited
        if not invited:
            if room.invite_only and not self._listed_in(
                SanctionKind.INVITATION, room.name, participant
            ):
                raise InviteOnly(room.name)
            if room.key is not None and key != room.key:
                raise BadKey(room.name)
            if room.limit is not None and len(room) >= room.limit:
                raise RoomFull(room.name, room.limit)
        elif consume:
            del room._invited[fold(participant.nick)]

    def _check_unmuted(self, participant: Participant, room: Room | None) -> None:
        name = None if room is None else room.name
        if not self.sanctions.any(SanctionKind.MUTE, name):
            return  # every line said asks: no identity or time to make when none could hold
        muted = self.sanctions.matching(SanctionKind.MUTE, name, participant.identity, self.clock())
        if muted is not None and not (
            name is not None and self._listed_in(SanctionKind.EXCEPTION, name, participant)
        ):
            raise Barred(muted, self.clock())

    def _check_voice(self, participant: Participant, room: Room) -> None:
        """
        Refuse C{participant} a word in C{room}: muted there or chat-wide, or
        the room is +m and it has no voice there.
        """
        if participant.operator:
            return
        self._check_unmuted(participant, None)
        if room.is_operator(participant):
            return
        self._check_unmuted(participant, room)
        if room.moderated and participant not in room._voiced:
            raise Moderated(room.name)

    def _put_out(self, target: Participant, room: Room, by: str, reason: str | None) -> Removed:
        """C{target} leaves C{room} by another's will; the room is told, then C{target}."""
        removed = Removed(room.name, target.nick, by, reason)
        self._broadcast(room, removed, exclude=target)
        target.rooms = tuple(r for r in target.rooms if r is not room)
        room._remove(target)
        to = None
        if not target.rooms and not target.homeless:
            to = self.lobby.name
            self.lobby._add(target)
            target.rooms = (self.lobby,)
            self._announce(self.lobby, Joined(self.lobby.name, target.nick), target)
        target.client.deliver(attrs.evolve(removed, to=to))
        self._dispose_if_empty(room)
        return removed

    def _broadcast(self, room: Room, event: Event, exclude: Participant | None = None) -> None:
        """Deliver C{event} to every member of C{room} but C{exclude}."""
        self.fan_out(event, room.clients(), None if exclude is None else exclude.client)

    def _announce(self, room: Room, event: Event, exclude: Participant | None) -> None:
        """Tell C{room} of a coming, going or change of name, unless it is too big to."""
        limit = self.announce_limit
        if not limit or len(room) <= limit:
            self._broadcast(room, event, exclude)

    def _tell_rooms(
        self,
        rooms: tuple[Room, ...],
        event_in: Callable[[Room], Event],
        *,
        announce: bool = False,
        exclude: Participant | None = None,
    ) -> None:
        """
        Tell each of C{rooms} the event C{event_in} makes for it, and each
        member once: in the first of the rooms it shares. With C{announce},
        rooms too big to be told of comings and goings are not told.
        """
        limit = self.announce_limit if announce else 0
        if len(rooms) == 1:  # nobody to tell twice: the room's own clients, as they are
            (room,) = rooms
            if not limit or len(room) <= limit:
                self._broadcast(room, event_in(room), exclude)
            return
        told: set[IChatClient] = set() if exclude is None else {exclude.client}
        for room in rooms:
            if limit and len(room) > limit:
                continue
            clients = [client for client in room.clients() if client not in told]
            if clients:
                self.fan_out(event_in(room), clients, None)
                told.update(clients)

    def _joinable(self, participant: Participant, name: str) -> str:
        """C{name} as a room name C{participant} may join: valid, and not one it is in."""
        name = canonical_room_name(name)
        if not is_valid_name(name):
            raise RoomNameInvalid(name)
        for room in participant.rooms:
            if fold(room.name) == fold(name):
                raise ChatError(f"you are already in {room.name}")
        return name

    def _enter(
        self,
        participant: Participant,
        name: str,
        now: float | None = None,
        key: str | None = None,
    ) -> Room:
        existing = self._rooms.get(fold(name))
        if existing is not None:
            self._check_entry(participant, existing, key)
        room = self._room(name)
        if not room and room is not self.lobby and room.registration is None:
            room._operators.add(participant)  # whoever makes a room runs it
            room.created = now
        room._add(participant)
        participant.rooms = (*participant.rooms, room)
        self._announce(room, Joined(room.name, participant.nick), participant)
        return room

    def member_of(self, participant: Participant, name: str) -> Room:
        """The room called C{name} that C{participant} is in; L{NotInRoom} if none."""
        room = self._rooms.get(fold(canonical_room_name(name)))
        if room is not None and room in participant.rooms:
            return room  # asked for every line said to a room: one lookup, not a fold a room
        raise NotInRoom(canonical_room_name(name))

    def _speaking_in(self, participant: Participant, room: Room | None) -> Room:
        if room is None:
            return participant.room
        if not participant.in_room(room):
            raise NotInRoom(room.name)
        return room

    def _voiced_in(self, participant: Participant, room: Room | None) -> Room:
        """
        C{room} (by default the one it joined last), if C{participant} may
        speak in it: as a member, or from outside a room that allows it
        (C{-n}) and has not banned it.
        """
        if room is None:
            room = participant.room
        elif not participant.in_room(room):
            if room.members_only:
                raise NotInRoom(room.name)
            if not participant.operator:
                self._check_unbanned(participant, room)
        if room.moderated or self.sanctions.muting:  # else nothing could refuse it a word
            self._check_voice(participant, room)
        return room

    def addressed(self, participant: Participant, name: str) -> Room:
        """
        The room called C{name} that C{participant} may say something to: one
        it is in, or one that takes words from outside (C{-n}); L{NotInRoom}
        for any other.
        """
        room = self.find_room(name)
        if room is not None and (room in participant.rooms or not room.members_only):
            return room
        raise NotInRoom(canonical_room_name(name))

    def _check_nick_free(self, nick: str) -> None:
        if not is_valid_name(nick):
            raise NicknameInvalid(nick)
        if fold(nick) in self._participants:
            raise NicknameTaken(nick)

    def _check_nick_yours(self, nick: str, account: Account | None) -> None:
        """Refuse C{nick} if it is registered to another account than C{account}."""
        owner = self.registered(nick)
        if owner is not None and (account is None or fold(owner) != fold(account.name)):
            raise NicknameRegistered(nick)

    def _room(self, name: str) -> Room:
        room = self._rooms.get(fold(name))
        if room is None:
            room = self._rooms[fold(name)] = Room(name)
        return room

    def _leave(self, participant: Participant, room: Room, reason: str | None) -> None:
        """C{participant} leaves C{room} alone of its rooms, and the room is told."""
        participant.rooms = tuple(r for r in participant.rooms if r is not room)
        room._remove(participant)
        self._announce(room, Left(room.name, participant.nick, reason), None)
        self._dispose_if_empty(room)

    def _dispose_if_empty(self, room: Room) -> None:
        if not room and room is not self.lobby and room.registration is None:
            del self._rooms[fold(room.name)]
            self.sanctions.forget_room(room.name)


def canonical_room_name(name: str) -> str:
    """Room names may be written with one leading C{#}, as on IRC."""
    return name[1:] if name.startswith("#") else name


def _nonempty(text: str) -> str:
    if not text.strip():
        raise ChatError("there is nothing to send")
    return text
