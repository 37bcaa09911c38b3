"""
What the chat keeps across restarts beside its history: accounts made with
C{/register}, registered rooms (topic, modes, owners and operators), bans and
mutes, and operators made at run time (C{/oper add}).

The seam is L{IRegistry}: the chat reads everything once, at start-up
(L{IRegistry.open}, the only call that may block), keeps it in memory where
the model's rules read it without waiting, and tells the registry each change
as it makes it; writes come back as L{Deferred}s and are made in the order
asked. L{chatsvc.registry.sqlite.SQLiteRegistry} keeps it in the chat's SQLite
database; a store shared by a cluster (PostgreSQL) implements the same
interface. L{MemoryRegistry} keeps it for the life of the process.

test-case-name: tests.registry.test_sqlite
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from zope.interface import Interface, implementer

from chatsvc.chat.model import Chat, Room, RoomModes, RoomRegistration, Topic, fold
from chatsvc.chat.sanctions import Mask, Sanction, SanctionKind


@attrs.frozen
class RoomRecord:
    """
    A registered room as kept: its name, owners and operators (accounts),
    topic and modes (C{+i} and C{+m}, and the others in C{modes}).
    """

    name: str
    owners: tuple[str, ...]
    operators: tuple[str, ...] = ()
    topic: Topic | None = None
    invite_only: bool = False
    moderated: bool = False
    created: float | None = None
    modes: RoomModes = attrs.field(factory=RoomModes)
    """Its key (C{+k}), most members (C{+l}), C{+s}, C{+n} and C{+t}."""

    @classmethod
    def of(cls, room: Room) -> RoomRecord:
        """What is kept of C{room}, which is registered."""
        registration = room.registration
        assert registration is not None, f"{room.name} is not registered"
        return cls(
            room.name,
            tuple(sorted(registration.owners.values(), key=fold)),
            tuple(sorted(registration.operators.values(), key=fold)),
            room.topic,
            room.invite_only,
            room.moderated,
            room.created,
            RoomModes.of(room),
        )


@attrs.frozen
class Snapshot:
    """Everything a registry keeps, as read at start-up."""

    accounts: tuple[tuple[str, str], ...] = ()
    """Each account's name and its password hash (C{scrypt$...})."""
    operators: tuple[str, ...] = ()
    rooms: tuple[RoomRecord, ...] = ()
    sanctions: tuple[Sanction, ...] = ()


class RegistryUnavailable(Exception):
    """The store cannot be opened; the message says why, in one line, for the operator."""


class IRegistry(Interface):
    """Where accounts, registered rooms, sanctions and run-time operators are kept."""

    def open() -> Snapshot:
        """
        Open the store (making what it needs) and read everything in it, before
        the server takes any connection: the only call that may block.
        L{RegistryUnavailable} if it cannot be opened.
        """

    def save_account(name: str, hashed: str) -> Deferred[None]:
        """Keep the account C{name} with the password hash C{hashed} (new, or a new password)."""

    def delete_account(name: str) -> Deferred[None]:
        """Forget the account C{name}."""

    def save_operator(name: str) -> Deferred[None]:
        """The account C{name} is a server operator from now on."""

    def delete_operator(name: str) -> Deferred[None]:
        """The account C{name} is a server operator no more."""

    def save_room(room: RoomRecord) -> Deferred[None]:
        """Keep the registered room C{room} as it is now (replacing what was kept of it)."""

    def delete_room(name: str) -> Deferred[None]:
        """The room C{name} is registered no more: forget it, and its sanctions."""

    def save_sanction(sanction: Sanction) -> Deferred[None]:
        """Keep C{sanction}, replacing the one of its kind on its mask, in its room."""

    def delete_sanction(kind: SanctionKind, mask: Mask, room: str | None) -> Deferred[None]:
        """Forget the C{kind} of C{mask} in C{room} (or chat-wide)."""

    def close() -> Deferred[None]:
        """Finish the writes asked for, then let go of the store."""


@implementer(IRegistry)
class MemoryRegistry:
    """An L{IRegistry} that keeps everything in memory, for the life of the process (and tests)."""

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        snapshot = snapshot or Snapshot()
        self.accounts = {fold(name): (name, hashed) for name, hashed in snapshot.accounts}
        self.operators = {fold(name): name for name in snapshot.operators}
        self.rooms = {fold(room.name): room for room in snapshot.rooms}
        self.sanctions = {_key(s.kind, s.mask, s.room): s for s in snapshot.sanctions}
        self.closed = False

    def open(self) -> Snapshot:
        return Snapshot(
            tuple(self.accounts.values()),
            tuple(self.operators.values()),
            tuple(self.rooms.values()),
            tuple(self.sanctions.values()),
        )

    def save_account(self, name: str, hashed: str) -> Deferred[None]:
        self.accounts[fold(name)] = (name, hashed)
        return succeed(None)

    def delete_account(self, name: str) -> Deferred[None]:
        self.accounts.pop(fold(name), None)
        return succeed(None)

    def save_operator(self, name: str) -> Deferred[None]:
        self.operators[fold(name)] = name
        return succeed(None)

    def delete_operator(self, name: str) -> Deferred[None]:
        self.operators.pop(fold(name), None)
        return succeed(None)

    def save_room(self, room: RoomRecord) -> Deferred[None]:
        self.rooms[fold(room.name)] = room
        return succeed(None)

    def delete_room(self, name: str) -> Deferred[None]:
        self.rooms.pop(fold(name), None)
        for key in [key for key in self.sanctions if key[2] == fold(name)]:
            del self.sanctions[key]
        return succeed(None)

    def save_sanction(self, sanction: Sanction) -> Deferred[None]:
        self.sanctions[_key(sanction.kind, sanction.mask, sanction.room)] = sanction
        return succeed(None)

    def delete_sanction(self, kind: SanctionKind, mask: Mask, room: str | None) -> Deferred[None]:
        self.sanctions.pop(_key(kind, mask, room), None)
        return succeed(None)

    def close(self) -> Deferred[None]:
        self.closed = True
        return succeed(None)


_log = Logger()

RoomRow = tuple[
    str,
    str | None,
    str | None,
    float | None,
    object,
    object,
    float | None,
    str | None,
    int | None,
    object,
    object,
    object,
]
"""
A registered room as stored: name, topic (text, by, at), invite-only,
moderated, created; key, most members, secret, members only, topic locked.
"""

ROOM_COLUMNS = (
    "name, topic, topic_by, topic_at, invite_only, moderated, created, "
    "join_key, member_limit, secret, members_only, topic_locked"
)
"""The columns of a store's table of rooms (each store's alike), in the order of L{RoomRow}."""

SanctionRow = tuple[str, str | None, str, str, float, str | None, float | None]
"""A sanction as a store's row: kind, room (or nothing), mask, by, set at, reason, until."""


def rooms_of(
    rows: Iterable[RoomRow], ranks: Iterable[tuple[str, str, str]]
) -> tuple[RoomRecord, ...]:
    """The registered rooms in C{rows}, with the C{ranks} (room, account, rank) in them."""
    held: dict[str, dict[str, list[str]]] = {}
    for room, account, rank in ranks:
        held.setdefault(fold(room), {}).setdefault(rank, []).append(account)
    rooms = []
    for row in rows:
        name, text, by, at, invite_only, moderated, created = row[:7]
        key, limit, secret, members_only, topic_locked = row[7:]
        ranked = held.get(fold(name), {})
        topic = None if text is None or by is None or at is None else Topic(text, by, at)
        rooms.append(
            RoomRecord(
                name,
                tuple(ranked.get("owner", ())),
                tuple(ranked.get("operator", ())),
                topic,
                bool(invite_only),
                bool(moderated),
                created,
                RoomModes(
                    key,
                    None if limit is None else int(limit),
                    bool(secret),
                    bool(members_only),
                    bool(topic_locked),
                ),
            )
        )
    return tuple(rooms)


def sanctions_of(rows: Iterable[SanctionRow]) -> tuple[Sanction, ...]:
    """The sanctions a store's C{rows} keep; one that is damaged is logged and left out."""
    sanctions = []
    for kind, scope, mask, by, set_at, reason, until in rows:
        try:
            sanctions.append(
                Sanction(
                    SanctionKind(kind), Mask.parse(mask), scope or None, by, set_at, reason, until
                )
            )
        except ValueError as e:
            _log.warn(
                "A kept {kind} of {mask!r} is not one ({why}); ignored", kind=kind, mask=mask, why=e
            )
    return tuple(sanctions)


def _key(kind: SanctionKind, mask: Mask, room: str | None) -> tuple[str, str, str]:
    return kind.value, str(mask), "" if room is None else fold(room)


def restore(chat: Chat, snapshot: Snapshot) -> None:
    """Give C{chat} back what a registry kept: its registered rooms, sanctions and operators."""
    for name in snapshot.operators:
        chat.operators[fold(name)] = name
    for record in snapshot.rooms:
        registration = RoomRegistration(
            {fold(name): name for name in record.owners},
            {fold(name): name for name in record.operators},
        )
        chat.restore_room(
            record.name,
            registration,
            topic=record.topic,
            invite_only=record.invite_only,
            moderated=record.moderated,
            created=record.created,
            modes=record.modes,
        )
    for sanction in snapshot.sanctions:
        if sanction.room is None or sanction.room.lower() in {
            record.name.lower() for record in snapshot.rooms
        }:
            with suppress(ValueError):  # a full list stays full: the newest past the bound go
                chat.sanctions.add(sanction)
