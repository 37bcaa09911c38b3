"""
The registry in PostgreSQL beyond the contract every registry keeps
(L{tests.registry.test_contract}), against a real server: a database nobody
serves, a damaged row, a connection cut under the registry, and nodes that
share one database.
"""

from __future__ import annotations

import attrs
import psycopg
import pytest
import pytest_twisted
from twisted.logger import capturedLogs

from chatsvc.chat.model import RoomModes, Topic
from chatsvc.chat.sanctions import Mask, Sanction, SanctionKind
from chatsvc.registry import RegistryUnavailable, RoomRecord, Snapshot
from chatsvc.registry.postgresql import PostgreSQLRegistry
from tests.registry.test_contract import HASH
from tests.servers import free_port

MUTE = Sanction(SanctionKind.MUTE, Mask.parse("account:bob"), None, "root", 200.0)


async def kept(url: str) -> Snapshot:
    """What a new registry on C{url} reads at start (closed again)."""
    registry = PostgreSQLRegistry(url)
    snapshot = registry.open()
    await registry.close()
    return snapshot


def test_a_database_nobody_serves_is_refused_in_one_line_without_its_password() -> None:
    port = free_port()
    registry = PostgreSQLRegistry(f"postgresql://chat:s3cret@127.0.0.1:{port}/chat")
    with pytest.raises(RegistryUnavailable) as raised:
        registry.open()
    message = str(raised.value)
    assert message.startswith(f"cannot use postgresql://127.0.0.1:{port}/chat: ")
    assert "\n" not in message and "s3cret" not in message


@pytest_twisted.ensureDeferred
async def test_a_damaged_mask_is_logged_and_left_out(postgresql: str) -> None:
    registry = PostgreSQLRegistry(postgresql)
    registry.open()
    await registry.save_sanction(MUTE)
    await registry.close()
    with psycopg.connect(postgresql) as connection:
        connection.execute(
            "INSERT INTO chatsvc_sanctions VALUES ('ban', '', NULL, '*', 'x', 1, NULL, NULL)"
        )
    with capturedLogs() as events:
        snapshot = await kept(postgresql)
    assert snapshot.sanctions == (MUTE,)
    assert len(events) == 1


@pytest_twisted.ensureDeferred
async def test_a_write_after_the_connection_was_cut_is_made_on_a_new_one(
    postgresql: str,
) -> None:
    registry = PostgreSQLRegistry(postgresql)
    registry.open()
    await registry.save_account("alice", HASH)
    with psycopg.connect(postgresql, autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    await registry.save_account("bob", HASH)
    await registry.close()
    snapshot = await kept(postgresql)
    assert [name for name, _ in snapshot.accounts] == ["alice", "bob"]


@pytest_twisted.ensureDeferred
async def test_nodes_share_one_database(postgresql: str) -> None:
    first, second = PostgreSQLRegistry(postgresql), PostgreSQLRegistry(postgresql)
    first.open()
    second.open()
    await first.save_account("alice", HASH)
    await second.save_operator("alice")
    await first.close()
    await second.close()
    snapshot = await kept(postgresql)
    assert (snapshot.accounts, snapshot.operators) == ((("alice", HASH),), ("alice",))


OLD_ROOMS = """CREATE TABLE chatsvc_rooms (
    key text PRIMARY KEY, name text NOT NULL,
    topic text, topic_by text, topic_at double precision,
    invite_only boolean NOT NULL, moderated boolean NOT NULL,
    created double precision
)"""
"""The table of registered rooms as chatsvc made it before rooms had +k, +l, +s, +n and +t."""


@pytest_twisted.ensureDeferred
async def test_a_database_made_before_the_new_modes_is_given_them(postgresql: str) -> None:
    with psycopg.connect(postgresql) as connection:
        connection.execute(OLD_ROOMS)
        connection.execute(
            "INSERT INTO chatsvc_rooms VALUES "
            "('dev', 'Dev', 'work', 'alice', 50.0, true, false, 1.0)"
        )
    before = RoomRecord("Dev", (), (), Topic("work", "alice", 50.0), True, False, 1.0)
    assert (await kept(postgresql)).rooms == (before,)  # as a room was before: -k -l -s +n +t
    modes = RoomModes("sekrit", 20, secret=True, members_only=False, topic_locked=False)
    registry = PostgreSQLRegistry(postgresql)
    registry.open()
    await registry.save_room(attrs.evolve(before, owners=("alice",), modes=modes))
    await registry.close()
    assert (await kept(postgresql)).rooms == (attrs.evolve(before, owners=("alice",), modes=modes),)
    with psycopg.connect(postgresql) as connection:
        columns = connection.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'chatsvc_rooms' ORDER BY ordinal_position"
        ).fetchall()
    assert [name for (name,) in columns][8:] == [
        "join_key",
        "member_limit",
        "secret",
        "members_only",
        "topic_locked",
    ]
