"""
The SQLite history store, on real database files: batching on a fake clock,
lookups through the worker thread, pruning, failures, and start-up checks.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import pytest
import pytest_twisted
from twisted.internet import reactor as global_reactor
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.task import Clock, deferLater
from twisted.logger import LogEvent, capturedLogs, formatEvent
from zope.interface.verify import verifyObject

from chatsvc import sqlitestore
from chatsvc.history import HistoryUnavailable, IHistory, Line
from chatsvc.model import Action, Message
from chatsvc.sqlitestore import (
    BATCH_SIZE,
    BATCH_WINDOW,
    CLOSE_ATTEMPTS,
    DAY,
    PRUNE_INTERVAL,
    RETRY_FIRST,
    SQLiteHistory,
    fts_query,
)

TIMEOUT = 10.0
reactor = cast(IReactorFromThreads, global_reactor)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait, bounded, for C{condition} to hold; it is polled every 5 ms."""
    for _ in range(int(TIMEOUT * 200)):
        if condition():
            return
        await deferLater(global_reactor, 0.005)
    raise AssertionError(f"timed out waiting for {what}")


async def pause(seconds: float = 0.05) -> None:
    """Let the worker thread run for a while, in real time."""
    await deferLater(global_reactor, seconds)


def stored(path: Path) -> list[tuple[str, str, int, str]]:
    """What the database file holds, read by a connection of its own."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT room, nick, action, text FROM lines ORDER BY id").fetchall()
    db.close()
    return rows


def said(n: int, room: str = "dev", nick: str = "alice") -> list[Message]:
    return [Message(room, nick, f"line {i}") for i in range(n)]


class Counting(SQLiteHistory):
    """A store that notes the size of every transaction it writes."""

    batches: list[int]

    def _insert(self, batch: list[Line]) -> None:
        self.batches.append(len(batch))
        super()._insert(batch)


def opened(path: Path | str, clock: Clock | None = None, **kwargs: float) -> SQLiteHistory:
    store = SQLiteHistory(str(path), reactor=reactor, clock=clock or Clock(), **kwargs)
    store.open()
    return store


@contextmanager
def logged() -> Iterator[list[str]]:
    events: Sequence[LogEvent]
    texts: list[str] = []
    with capturedLogs() as events:
        yield texts
        texts.extend(formatEvent(event) for event in events)


@contextmanager
def write_locked(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process (here, another connection) holding the database's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def test_fts_query_quotes_every_word() -> None:
    assert fts_query(["hello"]) == '"hello"'
    assert fts_query(["a", 'say "hi"', "x*", "NEAR(a"]) == '"a" "say ""hi""" "x*" "NEAR(a"'


@pytest_twisted.ensureDeferred
async def test_provides_the_interface_and_uses_wal(tmp_path: Path) -> None:
    store = opened(tmp_path / "h.sqlite")
    try:
        assert verifyObject(IHistory, store)
        with sqlite3.connect(tmp_path / "h.sqlite") as other:
            assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        other.close()
    finally:
        await store.close()


# Batching


@pytest_twisted.ensureDeferred
async def test_a_line_waits_for_the_batch_window(tmp_path: Path) -> None:
    clock = Clock()
    store = opened(tmp_path / "h.sqlite", clock)
    try:
        store.record(Message("dev", "alice", "hello"))
        clock.advance(BATCH_WINDOW * 0.99)
        await pause()
        assert store.unsaved == 1
        assert stored(tmp_path / "h.sqlite") == []
        clock.advance(BATCH_WINDOW * 0.01)
        await until(lambda: store.unsaved == 0, "the write")
        assert stored(tmp_path / "h.sqlite") == [("dev", "alice", 0, "hello")]
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_at_most_a_thousand_lines_to_a_transaction(tmp_path: Path) -> None:
    clock = Clock()
    store = Counting(str(tmp_path / "h.sqlite"), reactor=reactor, clock=clock)
    store.batches = []
    store.open()
    try:
        for message in said(2 * BATCH_SIZE + 500):
            store.record(message)
        # A full batch goes at once, without waiting for the window.
        await until(lambda: store.batches == [1000, 1000], "two full batches")
        await until(lambda: store.unsaved == 500, "them to be written")
        await pause()
        assert store.batches == [1000, 1000]
        clock.advance(BATCH_WINDOW)
        await until(lambda: store.unsaved == 0, "the rest")
        assert store.batches == [1000, 1000, 500]
        assert [text for *_, text in stored(tmp_path / "h.sqlite")] == [m.text for m in said(2500)]
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_close_writes_every_line(tmp_path: Path) -> None:
    store = opened(tmp_path / "h.sqlite")
    for message in said(2500):
        store.record(message)
    await store.close()
    assert len(stored(tmp_path / "h.sqlite")) == 2500
    # The WAL is checkpointed and removed on closing.
    assert not (tmp_path / "h.sqlite-wal").exists()


# Lookups


@pytest_twisted.ensureDeferred
async def test_recent_lines_survive_reopening(tmp_path: Path) -> None:
    clock = Clock()
    clock.advance(1_795_000_000.25)
    store = opened(tmp_path / "h.sqlite", clock)
    store.record(Message("Dev", "alice", "hello"))
    clock.advance(61)
    store.record(Action("Dev", "bob", "waves"))
    store.record(Message("lobby", "carol", "elsewhere"))
    await store.close()
    store = opened(tmp_path / "h.sqlite", clock)
    try:
        assert await store.recent("dev", 20) == [
            Line(1_795_000_000.25, Message("Dev", "alice", "hello")),
            Line(1_795_000_061.25, Action("Dev", "bob", "waves")),
        ]
        assert await store.recent("DEV", 1) == [
            Line(1_795_000_061.25, Action("Dev", "bob", "waves"))
        ]
        assert await store.recent("attic", 20) == []
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_text_is_kept_exactly(tmp_path: Path) -> None:
    texts = [
        'quotes " and \\ backslashes \\u0041 and [1, "json"]',
        "accents é ü, CJK 漢字, emoji 🎉👍🏽, and U+FFFD \ufffd",
        "x" * 4000,
    ]
    store = opened(tmp_path / "h.sqlite")
    for text in texts:
        store.record(Message("dev", "alice", text))
    store.record(Action("dev", "bob", "🎉"))
    await store.close()
    assert stored(tmp_path / "h.sqlite") == [
        *(("dev", "alice", 0, text) for text in texts),
        ("dev", "bob", 1, "🎉"),
    ]


@pytest_twisted.ensureDeferred
async def test_recent_includes_lines_not_yet_written(tmp_path: Path) -> None:
    clock = Clock()
    store = opened(tmp_path / "h.sqlite", clock)
    try:
        for message in said(3):
            store.record(message)
        clock.advance(BATCH_WINDOW)
        await until(lambda: store.unsaved == 0, "the first lines written")
        store.record(Message("dev", "bob", "just now"))
        store.record(Message("lobby", "bob", "not in dev"))
        found = await store.recent("dev", 3)
        assert [line.event.text for line in found] == ["line 1", "line 2", "just now"]
        assert store.unsaved == 2
        # Asked while a write is in flight, and answered after it: nothing twice.
        clock.advance(BATCH_WINDOW)
        found = await store.recent("dev", 10)
        assert [line.event.text for line in found] == ["line 0", "line 1", "line 2", "just now"]
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_search(tmp_path: Path) -> None:
    store = opened(tmp_path / "h.sqlite")
    try:
        for i in range(30):
            store.record(Message("dev", "alice", f"deploy number {i} on Friday"))
        store.record(Message("dev", "bob", "friday is fine"))
        store.record(Message("lobby", "bob", "deploy friday elsewhere"))
        store.record(Action("dev", "carol", "fears a Friday deploy"))
        # Not waiting for the window: a search sees every line recorded before it.
        found = await store.search("DEV", ["deploy", "FRIDAY"], 20)
        assert len(found) == 20
        assert found[-1] == Line(0.0, Action("dev", "carol", "fears a Friday deploy"))
        assert [line.event.text for line in found[:-1]] == [
            f"deploy number {i} on Friday" for i in range(11, 30)
        ]
        assert [line.event.text for line in await store.search("dev", ["fine"], 20)] == [
            "friday is fine"
        ]
        assert await store.search("dev", ["fin"], 20) == []
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_search_words_are_never_query_syntax(tmp_path: Path) -> None:
    store = opened(tmp_path / "h.sqlite")
    texts = ["hello world", 'she said "hi" (twice)', "NEAR the OR gate", "x* AND y", "naïve café"]
    try:
        for text in texts:
            store.record(Message("dev", "alice", text))
        for words in [
            ['"'], ["*"], ["("], [")"], ["hello*"], ["NEAR(hello"], ["text:hello"],
            ["^hello"], ["-hello"], ["+"], ["{x}"], ["'"], [":"], ["AND"], ["NOT", "x"],
            ["\\"], ['""'], ["hello", '"', "world"],
        ]:  # fmt: skip
            await store.search("dev", words, 20)  # no FTS5 syntax error
        matches = {
            ("hello", "OR", "zzz"): [],  # OR is a word, not an operator
            ("NEAR",): ["NEAR the OR gate"],
            ("OR", "gate"): ["NEAR the OR gate"],
            ('"hi"',): ['she said "hi" (twice)'],
            ("(twice)",): ['she said "hi" (twice)'],
            ("x*",): ["x* AND y"],
            ("hello*",): ["hello world"],  # a word, not a prefix
            ("hell*",): [],
            ("*",): [],
            ("gate",): ["NEAR the OR gate"],
            ("CAFE", "naive"): ["naïve café"],  # accents ignored
            ("gated",): [],
            ("SAID", "Twice"): ['she said "hi" (twice)'],
            ("hello",): ["hello world"],
        }
        for query, expected in matches.items():
            found = await store.search("dev", query, 20)
            assert [line.event.text for line in found] == expected, query
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_memory_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = opened(":memory:")
    try:
        store.record(Message("dev", "alice", "kept in memory"))
        assert [line.event.text for line in await store.recent("dev", 5)] == ["kept in memory"]
        assert len(await store.search("dev", ["memory"], 5)) == 1
    finally:
        await store.close()
    assert list(tmp_path.iterdir()) == []


# Pruning


@pytest_twisted.ensureDeferred
async def test_lines_past_the_retention_period_are_pruned_hourly(tmp_path: Path) -> None:
    clock = Clock()
    store = opened(tmp_path / "h.sqlite", clock, retention_days=1)
    try:
        store.record(Message("dev", "alice", "old"))
        clock.advance(DAY / 2)
        store.record(Message("dev", "alice", "newer"))
        clock.advance(BATCH_WINDOW)
        # Jobs run in order, so the answer comes after the first pruning's.
        assert len(await store.recent("dev", 5)) == 2
        clock.advance(DAY / 2 - PRUNE_INTERVAL)
        assert len(await store.recent("dev", 5)) == 2
        clock.advance(PRUNE_INTERVAL)
        found = await store.recent("dev", 5)
        assert [line.event.text for line in found] == ["newer"]
        assert await store.search("dev", ["old"], 5) == []
    finally:
        await store.close()


class Pruning(SQLiteHistory):
    """A store that notes how many lines each pruning transaction deletes."""

    chunks: list[int]

    def _delete_before(self, cutoff: float) -> int:
        deleted = super()._delete_before(cutoff)
        self.chunks.append(deleted)
        return deleted


@pytest_twisted.ensureDeferred
async def test_pruning_goes_a_chunk_at_a_time(tmp_path: Path) -> None:
    clock = Clock()
    store = Pruning(str(tmp_path / "h.sqlite"), reactor=reactor, clock=clock, retention_days=2)
    store.chunks = []
    store.open()
    try:
        for message in said(2500):
            store.record(message)
        clock.advance(BATCH_WINDOW)
        await until(lambda: store.unsaved == 0, "the lines written")
        assert store.chunks == [0]  # on opening
        with logged() as log:
            clock.advance(3 * DAY)
            await until(lambda: len(store.chunks) == 4, "the pruning")
            await store.recent("dev", 1)  # answered after the pruning's last chunk
        assert store.chunks == [0, 1000, 1000, 500]
        assert stored(tmp_path / "h.sqlite") == []
        assert log == ["Pruned 2500 history lines older than 2 days"]
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_no_retention_keeps_everything(tmp_path: Path) -> None:
    clock = Clock()
    store = opened(tmp_path / "h.sqlite", clock, retention_days=0)
    try:
        store.record(Message("dev", "alice", "forever"))
        clock.advance(BATCH_WINDOW)
        await until(lambda: store.unsaved == 0, "the write")
        assert clock.getDelayedCalls() == []
        clock.advance(1000 * DAY)
        assert len(await store.recent("dev", 5)) == 1
    finally:
        await store.close()


# Failures at run time


@pytest_twisted.ensureDeferred
async def test_a_failed_write_is_logged_and_retried_with_backoff(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    clock = Clock()
    store = opened(path, clock, busy_timeout=0.02, retention_days=0)
    try:
        with logged() as log, write_locked(path):
            store.record(Message("dev", "alice", "one"))
            clock.advance(BATCH_WINDOW)
            await until(lambda: store.unsaved == 1 and clock.getDelayedCalls() != [], "a retry")
            store.record(Message("dev", "alice", "two"))  # chat goes on
            assert [line.event.text for line in await store.recent("dev", 5)] == ["one", "two"]
            assert await store.search("dev", ["one"], 5) == []  # does not wait
            clock.advance(RETRY_FIRST)
            second = BATCH_WINDOW + RETRY_FIRST + 2 * RETRY_FIRST
            await until(
                lambda: (
                    [call.getTime() for call in clock.getDelayedCalls()] == [pytest.approx(second)]
                ),
                "a second retry",
            )
        assert log[0] == (
            "Could not write 1 history lines (database is locked); 1 are waiting; "
            "trying again in 0.25 seconds"
        )
        assert log[1] == (
            "Could not write 2 history lines (database is locked); 2 are waiting; "
            "trying again in 0.5 seconds"
        )
        with logged() as log:
            clock.advance(2 * RETRY_FIRST)
            await until(lambda: store.unsaved == 0, "the retry")
        assert log == [
            "History database writes work again, after 2 failed tries; "
            "0 lines were not kept meanwhile"
        ]
        assert stored(path) == [("dev", "alice", 0, "one"), ("dev", "alice", 0, "two")]
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_lines_past_the_bound_are_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlitestore, "MAX_UNSAVED", 5)
    store = opened(tmp_path / "h.sqlite")
    try:
        with logged() as log:
            for message in said(8):
                store.record(message)
        assert store.unsaved == 5
        assert log == [
            "5 history lines wait for the database; no more are kept until it takes them"
        ]
    finally:
        await store.close()
    assert len(stored(tmp_path / "h.sqlite")) == 5


@pytest_twisted.ensureDeferred
async def test_close_gives_up_on_a_database_that_keeps_failing(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    clock = Clock()
    store = opened(path, clock, busy_timeout=0.02, retention_days=0)
    with logged() as log, write_locked(path):
        store.record(Message("dev", "alice", "doomed"))
        closed = store.close()
        for _ in range(CLOSE_ATTEMPTS):
            await until(lambda: clock.getDelayedCalls() != [] or closed.called, "a try")
            clock.advance(RETRY_FIRST)
        await until(lambda: closed.called, "the close")
    assert log[-1] == (
        "Could not write 1 history lines before closing (database is locked); they are lost"
    )
    assert len(log) == CLOSE_ATTEMPTS
    assert stored(path) == []


# Failures at start-up


def test_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "h.sqlite"
    with pytest.raises(HistoryUnavailable) as caught:
        opened(path)
    assert str(caught.value) == (
        f"cannot open history database {path}: no such directory {tmp_path / 'missing'}"
    )


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"this is not a database\n" * 100)
    with pytest.raises(HistoryUnavailable) as caught:
        opened(path)
    assert str(caught.value) == f"cannot open history database {path}: file is not a database"


def test_corrupt_database(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE filler (x TEXT)")
        db.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 200)
    db.close()
    with path.open("r+b") as f:
        f.seek(4096 * 3)
        f.write(os.urandom(4096 * 4))
    with pytest.raises(HistoryUnavailable) as caught:
        opened(path)
    assert str(caught.value).startswith(f"cannot open history database {path}: ")


def test_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
    db.close()
    with write_locked(path), pytest.raises(HistoryUnavailable) as caught:
        opened(path, busy_timeout=0.05)
    assert str(caught.value) == (
        f"cannot open history database {path}: database is locked (another process is using it)"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any file")
def test_read_only_database(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    sqlite3.connect(path).close()
    path.chmod(0o444)
    with pytest.raises(HistoryUnavailable) as caught:
        opened(path)
    assert "readonly" in str(caught.value)


def test_database_from_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=2")
    db.close()
    with pytest.raises(HistoryUnavailable) as caught:
        opened(path)
    assert str(caught.value) == (
        f"cannot open history database {path}: it was made by a newer chatsvc "
        "(schema 2, this one knows 1)"
    )


def test_sqlite_without_json_functions() -> None:
    error = sqlite3.OperationalError("no such table: json_each")
    assert sqlitestore._reason("h.sqlite", error) == (
        f"this SQLite ({sqlite3.sqlite_version}) has no JSON functions"
    )


def test_sqlite_without_full_text_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = [s.replace("USING fts5", "USING fts_missing") for s in sqlitestore._SCHEMA]
    monkeypatch.setattr(sqlitestore, "_SCHEMA", schema)
    path = tmp_path / "h.sqlite"
    with pytest.raises(HistoryUnavailable) as caught:
        opened(path)
    assert str(caught.value) == (
        f"cannot open history database {path}: this SQLite ({sqlite3.sqlite_version}) "
        "has no full-text search (FTS5)"
    )
