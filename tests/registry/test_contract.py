"""
What every registry keeps to (L{chatsvc.registry.IRegistry}), held to the
same tests: the SQLite registry in a file, and the PostgreSQL registry
against a real server (L{tests.servers}). Everything kept survives a
restart (a new registry on the same store), names are kept as spelt and
found in any case, and writes are made in the order asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import attrs
import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import DeferredList
from zope.interface.verify import verifyObject

from chatsvc.accounts import hash_password
from chatsvc.chat.model import KEY_MAX, LIMIT_MAX, RoomModes, Topic
from chatsvc.chat.sanctions import Mask, Sanction, SanctionKind
from chatsvc.registry import IRegistry, RoomRecord, Snapshot
from chatsvc.registry.postgresql import PostgreSQLRegistry
from chatsvc.registry.sqlite import SQLiteRegistry
from tests.history.test_history_contract import Place

HASH = hash_password(b"correct horse", n=2)

BAN = Sanction(SanctionKind.BAN, Mask.parse("10.0.0.0/8"), "dev", "alice", 100.0, "spam", 500.0)
MUTE = Sanction(SanctionKind.MUTE, Mask.parse("account:bob"), None, "root", 200.0)
ROOM = RoomRecord(
    "Dev", ("alice",), ("bob", "carol"), Topic("work", "alice", 50.0), True, False, 1.0
)


REGISTRIES: dict[str, Callable[[Place], IRegistry]] = {
    "sqlite": lambda place: SQLiteRegistry(
        str(place.directory / "chat.sqlite3"),
        reactor,  # type: ignore[arg-type]
    ),
    "postgresql": lambda place: PostgreSQLRegistry(place.postgresql()),
}


@attrs.define
class Store:
    """A registry under test, opened; L{reopen} closes it and opens a new one on the same store."""

    make: Callable[[], IRegistry]
    registry: IRegistry
    snapshot: Snapshot

    async def reopen(self) -> Snapshot:
        await self.registry.close()
        self.registry = self.make()
        self.snapshot = self.registry.open()
        return self.snapshot


@pytest_twisted.async_yield_fixture(params=sorted(REGISTRIES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    place = Place(tmp_path, request)

    def make() -> IRegistry:
        return REGISTRIES[request.param](place)

    registry = make()
    opened = Store(make, registry, registry.open())
    yield opened
    await opened.registry.close()


def test_provides_the_interface(store: Store) -> None:
    assert verifyObject(IRegistry, store.registry)


@pytest_twisted.ensureDeferred
async def test_everything_survives_a_restart(store: Store) -> None:
    assert store.snapshot == Snapshot()
    registry = store.registry
    registry.save_account("Alice", HASH)
    registry.save_account("bob", HASH)
    registry.save_operator("bob")
    registry.save_room(ROOM)
    registry.save_sanction(BAN)
    registry.save_sanction(MUTE)

    snapshot = await store.reopen()
    assert snapshot == Snapshot((("Alice", HASH), ("bob", HASH)), ("bob",), (ROOM,), (BAN, MUTE))
    registry = store.registry
    registry.delete_sanction(SanctionKind.MUTE, MUTE.mask, None)
    registry.delete_operator("BOB")
    registry.delete_account("bob")
    registry.save_room(RoomRecord("dev", ("carol",)))

    snapshot = await store.reopen()
    assert snapshot == Snapshot((("Alice", HASH),), (), (RoomRecord("dev", ("carol",)),), (BAN,))


MODES = [
    RoomModes(key="sekrit"),
    RoomModes(key="clé;ü~" + "k" * (KEY_MAX - 6)),
    RoomModes(limit=1),
    RoomModes(limit=LIMIT_MAX),
    RoomModes(secret=True),
    RoomModes(members_only=False),
    RoomModes(topic_locked=False),
    RoomModes("k", 20, secret=True, members_only=False, topic_locked=False),
]
"""Each mode a registered room keeps beside C{+i} and C{+m} set alone, then all at once."""


@pytest_twisted.ensureDeferred
async def test_every_room_mode_survives_a_restart_and_its_clearing_too(store: Store) -> None:
    rooms = tuple(
        RoomRecord(f"room{n}", ("alice",), invite_only=n % 2 == 0, moderated=True, modes=modes)
        for n, modes in enumerate(MODES)
    )
    for room in rooms:
        store.registry.save_room(room)
    assert (await store.reopen()).rooms == rooms
    cleared = tuple(attrs.evolve(room, modes=RoomModes()) for room in rooms)
    for room in cleared:
        store.registry.save_room(room)
    assert (await store.reopen()).rooms == cleared


@pytest_twisted.ensureDeferred
async def test_a_name_saved_again_in_another_case_replaces_it(store: Store) -> None:
    registry = store.registry
    other = hash_password(b"another one", n=2)
    registry.save_account("alice", HASH)
    registry.save_account("ALICE", other)
    registry.save_operator("carol")
    registry.save_operator("Carol")
    registry.save_sanction(BAN)
    registry.save_sanction(attrs.evolve(BAN, room="DEV", reason="flood"))
    snapshot = await store.reopen()
    assert snapshot.accounts == (("ALICE", other),)
    assert snapshot.operators == ("Carol",)
    assert snapshot.sanctions == (attrs.evolve(BAN, room="DEV", reason="flood"),)


@pytest_twisted.ensureDeferred
async def test_deleting_a_room_deletes_its_ranks_and_sanctions(store: Store) -> None:
    registry = store.registry
    registry.save_room(ROOM)
    registry.save_sanction(BAN)
    registry.save_sanction(MUTE)
    registry.delete_room("DEV")
    assert await store.reopen() == Snapshot(sanctions=(MUTE,))


@pytest_twisted.ensureDeferred
async def test_deleting_an_account_takes_its_ranks_and_operator(store: Store) -> None:
    registry = store.registry
    registry.save_account("bob", HASH)
    registry.save_operator("bob")
    registry.save_room(ROOM)
    registry.delete_account("BOB")
    snapshot = await store.reopen()
    assert snapshot == Snapshot(rooms=(attrs.evolve(ROOM, operators=("carol",)),))


@pytest_twisted.ensureDeferred
async def test_writes_are_made_in_the_order_asked(store: Store) -> None:
    registry = store.registry
    writes = [
        registry.save_account("alice", hash_password(str(n).encode(), n=2, salt=b"s"))
        for n in range(50)
    ]
    writes.append(registry.save_operator("alice"))
    await DeferredList(writes)
    snapshot = await store.reopen()
    assert snapshot.accounts == (("alice", hash_password(b"49", n=2, salt=b"s")),)
    assert snapshot.operators == ("alice",)


@pytest_twisted.ensureDeferred
async def test_close_finishes_the_writes_asked_for(store: Store) -> None:
    for n in range(20):
        store.registry.save_account(f"user{n}", HASH)
    snapshot = await store.reopen()  # closes without waiting for the writes first
    assert len(snapshot.accounts) == 20


@pytest_twisted.ensureDeferred
async def test_exceptions_and_invitations_are_kept_beside_the_bans(store: Store) -> None:
    """A room's C{+e} and C{+I} of one mask are kept apart from its ban of that mask."""
    registry = store.registry
    registry.save_room(ROOM)
    exception = attrs.evolve(BAN, kind=SanctionKind.EXCEPTION, reason="a friend")
    invitation = attrs.evolve(BAN, kind=SanctionKind.INVITATION, until=None)
    for sanction in (BAN, exception, invitation):
        registry.save_sanction(sanction)
    assert set((await store.reopen()).sanctions) == {BAN, exception, invitation}
    registry = store.registry
    registry.delete_sanction(SanctionKind.EXCEPTION, BAN.mask, "dev")
    assert set((await store.reopen()).sanctions) == {BAN, invitation}
