"""
What the PostgreSQL store does beyond the contract every store keeps
(L{tests.history.test_history_contract}), against a real server: nodes that
share a database, a connection cut under the store, retention, and a
database that cannot be used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import Clock, deferLater

from chatsvc.chat.events import Message
from chatsvc.history import HistoryUnavailable, Line
from chatsvc.history.batches import DAY, RETRY_MAX
from chatsvc.history.postgresql import PostgreSQLHistory, is_postgresql, shown
from tests.servers import free_port

NOW = 1_795_000_000.0


def texts(found: list[Line]) -> list[str]:
    return [line.event.text for line in found]


@pytest_twisted.async_yield_fixture
async def node(postgresql: str) -> AsyncIterator[PostgreSQLHistory]:
    clock = Clock()
    clock.advance(NOW)
    history = PostgreSQLHistory(postgresql, clock=clock)
    history.open()
    yield history
    await history.close()


def test_db_urls_that_name_postgresql() -> None:
    assert is_postgresql("postgresql://chat@db.example.org/chat")
    assert is_postgresql("postgres://db/chat")
    assert not is_postgresql("chatsvc.sqlite")
    assert not is_postgresql(":memory:")


def test_what_the_log_shows_of_a_url_has_no_password() -> None:
    shown_url = shown("postgresql://chat:s3cret@db.example.org:5433/history")
    assert shown_url == "postgresql://db.example.org:5433/history"


def test_a_database_nobody_serves_is_refused_in_one_line() -> None:
    port = free_port()
    history = PostgreSQLHistory(f"postgresql://chat@127.0.0.1:{port}/chat", clock=Clock())
    with pytest.raises(HistoryUnavailable) as raised:
        history.open()
    message = str(raised.value)
    assert message.startswith(f"cannot use postgresql://127.0.0.1:{port}/chat: ")
    assert "\n" not in message and "refused" in message


@pytest_twisted.ensureDeferred
async def test_nodes_sharing_a_database_see_each_others_lines(
    node: PostgreSQLHistory, postgresql: str
) -> None:
    other = PostgreSQLHistory(postgresql, clock=Clock())
    other.open()  # a second node opening the same database: the schema is there already
    try:
        node.record(Message("dev", "alice", "from the first node"))
        other.record(Message("Dev", "bob", "from the second node"))
        await node.recent("dev", 5)  # written
        await other.recent("dev", 5)
        assert texts(await node.recent("dev", 5)) == [
            "from the first node",
            "from the second node",
        ]
        assert texts(await other.search("DEV", ["node"], 5)) == [
            "from the first node",
            "from the second node",
        ]
    finally:
        await other.close()


@pytest_twisted.ensureDeferred
async def test_a_connection_cut_under_the_store_is_made_again(postgresql: str) -> None:
    clock = Clock()
    history = PostgreSQLHistory(postgresql, clock=clock)
    history.open()
    try:
        history.record(Message("dev", "alice", "before"))
        assert texts(await history.recent("dev", 5)) == ["before"]
        with psycopg.connect(postgresql, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        history.record(Message("dev", "alice", "after"))
        # The write on the cut connection fails, and is tried again, on a new one;
        # the replay finds its connection cut too, and asks again on a new one.
        for _ in range(100):
            clock.advance(RETRY_MAX)
            if history.unsaved == 0:
                break
            await deferLater(reactor, 0.05, lambda: None)
        assert history.unsaved == 0
        assert texts(await history.recent("dev", 5)) == ["before", "after"]
    finally:
        await history.close()


@pytest_twisted.ensureDeferred
async def test_old_lines_are_pruned_every_hour(postgresql: str) -> None:
    clock = Clock()
    clock.advance(NOW)
    history = PostgreSQLHistory(postgresql, clock=clock, retention_days=2)
    history.open()
    try:
        history.record(Message("dev", "alice", "old"))
        clock.advance(DAY)
        history.record(Message("dev", "alice", "newer"))
        await history.recent("dev", 5)
        clock.advance(1.5 * DAY)  # the hourly pruning deletes the old line
        assert await history.prune() == 0  # written after that pruning's delete: none left
        assert texts(await history.recent("dev", 5)) == ["newer"]
    finally:
        await history.close()
