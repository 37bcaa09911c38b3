"""
The registry in SQLite beyond the contract every registry keeps
(L{tests.registry.test_contract}): its tables beside the history's, a
damaged row, a file that cannot be opened; and what is kept given back to a
new chat by L{restore}.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import cast

import attrs
import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs
from zope.interface.verify import verifyObject

from chatsvc.accounts import hash_password
from chatsvc.accounts.registered import RegisteredAccounts
from chatsvc.chat.model import Account, BadKey, Barred, Chat, RoomFull, RoomModes, Topic
from chatsvc.chat.sanctions import Mask, Sanction, SanctionKind
from chatsvc.registry import (
    IRegistry,
    MemoryRegistry,
    RegistryUnavailable,
    RoomRecord,
    Snapshot,
    restore,
)
from chatsvc.registry.sqlite import SQLiteRegistry
from tests.chat.test_model import RecordingClient, Registered

HASH = hash_password(b"correct horse", n=2)


def opened(path: Path) -> tuple[SQLiteRegistry, Snapshot]:
    registry = SQLiteRegistry(str(path), run=lambda job: _run(registry, job))
    return registry, registry.open()


def _run(registry: SQLiteRegistry, job: Callable[[sqlite3.Connection], None]) -> Deferred[None]:
    assert registry._connection is not None
    job(registry._connection)
    return succeed(None)


BAN = Sanction(SanctionKind.BAN, Mask.parse("10.0.0.0/8"), "dev", "alice", 100.0, "spam", 500.0)
MUTE = Sanction(SanctionKind.MUTE, Mask.parse("account:bob"), None, "root", 200.0)
ROOM = RoomRecord(
    "Dev", ("alice",), ("bob", "carol"), Topic("work", "alice", 50.0), True, False, 1.0
)


def test_the_memory_registry_provides_the_interface() -> None:
    verifyObject(IRegistry, MemoryRegistry())


def test_a_damaged_mask_is_logged_and_left_out(tmp_path: Path) -> None:
    path = tmp_path / "chat.sqlite3"
    registry, _ = opened(path)
    registry.save_sanction(MUTE)
    registry.close()
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO sanctions VALUES ('ban', '', '*', 'x', 1, NULL, NULL)")
    with capturedLogs() as events:
        _, snapshot = opened(path)
    assert snapshot.sanctions == (MUTE,)
    assert len(events) == 1


def test_cannot_open(tmp_path: Path) -> None:
    with pytest.raises(RegistryUnavailable, match="cannot open the database"):
        SQLiteRegistry(str(tmp_path / "missing" / "chat.sqlite3")).open()


def test_shares_the_history_database(tmp_path: Path) -> None:
    path = tmp_path / "chat.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE lines (id INTEGER PRIMARY KEY)")
    registry, _ = opened(path)
    registry.save_account("alice", HASH)
    with sqlite3.connect(path) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    assert {"lines", "accounts", "rooms", "sanctions"} <= tables


def test_restore_gives_a_new_chat_its_rooms_and_sanctions() -> None:
    chat = Chat(accounts=Registered("alice", "bob", "carol"), clock=lambda: 300.0)
    restore(chat, Snapshot(operators=("carol",), rooms=(ROOM,), sanctions=(BAN, MUTE)))
    room = chat.room("dev")
    assert room.registration is not None
    assert room.registration.owners == {"alice": "alice"}
    assert room.registration.operators == {"bob": "bob", "carol": "carol"}
    assert (room.topic, room.modes()) == (Topic("work", "alice", 50.0), "+int")
    carol = chat.sign_on("carol", RecordingClient(), Account("carol"))
    assert carol.operator
    with pytest.raises(Barred):
        chat.say(chat.sign_on("bob", RecordingClient(), Account("bob")), "hi")
    guest = chat.sign_on("guest", RecordingClient(), address="10.1.2.3")
    with pytest.raises(Barred):
        chat.join(guest, "dev")


def test_restore_gives_a_room_its_key_limit_and_other_modes() -> None:
    chat = Chat(accounts=Registered("alice"), clock=lambda: 300.0)
    modes = RoomModes("sekrit", 1, secret=True, members_only=False, topic_locked=False)
    restore(chat, Snapshot(rooms=(attrs.evolve(ROOM, invite_only=False, modes=modes),)))
    room = chat.room("dev")
    assert (room.key, room.limit, room.secret) == ("sekrit", 1, True)
    assert (room.members_only, room.topic_locked) == (False, False)
    assert room.modes() == "+kls sekrit 1"
    guest = chat.sign_on("guest", RecordingClient())
    with pytest.raises(BadKey):
        chat.join(guest, "dev")
    chat.join(guest, "dev", key="sekrit")
    with pytest.raises(RoomFull):
        chat.join(chat.sign_on("other", RecordingClient()), "dev", key="sekrit")


OLD_ROOMS = """CREATE TABLE rooms (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    topic TEXT, topic_by TEXT, topic_at REAL,
    invite_only INTEGER NOT NULL, moderated INTEGER NOT NULL,
    created REAL
)"""
"""The table of registered rooms as chatsvc made it before rooms had +k, +l, +s, +n and +t."""


def test_a_database_made_before_the_new_modes_is_given_them(tmp_path: Path) -> None:
    path = tmp_path / "chat.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute(OLD_ROOMS)
        connection.execute("INSERT INTO rooms VALUES ('Dev', 'work', 'alice', 50.0, 1, 0, 1.0)")
    registry, snapshot = opened(path)
    kept = RoomRecord("Dev", (), (), Topic("work", "alice", 50.0), True, False, 1.0)
    assert snapshot.rooms == (kept,)  # as a room was before: -k -l -s +n +t
    modes = RoomModes("sekrit", 20, secret=True, members_only=False, topic_locked=False)
    registry.save_room(attrs.evolve(kept, owners=("alice",), modes=modes))
    registry.close()
    _, snapshot = opened(path)
    assert snapshot.rooms == (attrs.evolve(kept, owners=("alice",), modes=modes),)
    with sqlite3.connect(path) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(rooms)")]
    assert columns[7:] == ["join_key", "member_limit", "secret", "members_only", "topic_locked"]


def test_registered_accounts_check_their_hashes() -> None:
    accounts = RegisteredAccounts(
        [("Alice", HASH), ("broken", "nonsense")], run_in_thread=lambda f, a: succeed(f(a))
    )
    assert (accounts.account_for("ALICE"), accounts.account_for("broken")) == ("Alice", None)
    results: list[bool] = []
    accounts.check("alice", b"correct horse").addCallback(results.append)
    accounts.check("alice", b"wrong").addCallback(results.append)
    accounts.check("nobody", b"correct horse").addCallback(results.append)
    assert results == [True, False, False]
    accounts.remove("alice")
    assert accounts.account_for("alice") is None


def test_its_writer_runs_with_the_reactor(tmp_path: Path) -> None:
    """
    The writer thread starts when the reactor runs and stops with it: a
    service made and never run leaves no thread that would keep the process
    from exiting.
    """
    clock = MemoryReactorClock()
    registry = SQLiteRegistry(str(tmp_path / "chat.sqlite"), cast(IReactorFromThreads, clock))
    threads = threading.active_count()
    registry.open()
    registry.save_operator("alice")
    assert threading.active_count() == threads
    clock.run()  # the hooks run: the writer starts, and writes what was asked
    assert threading.active_count() == threads + 1
    [(stopping, args, kwargs)] = clock.triggers["during"]["shutdown"]
    stopping(*args, **kwargs)
    assert threading.active_count() == threads
    again = SQLiteRegistry(str(tmp_path / "chat.sqlite"), run=lambda job: succeed(None))
    assert again.open().operators == ("alice",)
