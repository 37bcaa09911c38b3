"""
The SQLite history store, on real database files: batching on a fake clock,
lookups through the worker thread, pruning, failures, and start-up checks.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import attrs
import pytest
import pytest_twisted
from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.task import Clock, deferLater
from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from zope.interface.verify import verifyObject

from chatsvc.chat.events import Action, Message
from chatsvc.history import (
    MIN_UNSAVED_BYTES,
    HistoryError,
    HistoryUnavailable,
    IHistory,
    Line,
    batches,
)
from chatsvc.history import sqlite as sqlitestore
from chatsvc.history.batches import (
    BATCH_SIZE,
    BATCH_WINDOW,
    CLOSE_ATTEMPTS,
    DAY,
    PRUNE_INTERVAL,
    RETRY_FIRST,
    RETRY_MAX,
)
from chatsvc.history.sqlite import SQLiteHistory, fts_query

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


@contextmanager
def counting_batches(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The size of every transaction of lines the store writes."""
    batches: list[int] = []
    insert = sqlitestore._insert

    def counting(connection: sqlite3.Connection, batch: list[Line], written: int) -> None:
        batches.append(len(batch))
        insert(connection, batch, written)

    monkeypatch.setattr(sqlitestore, "_insert", counting)
    yield batches


def opened(path: Path | str, clock: Clock | None = None, **kwargs: Any) -> SQLiteHistory:
    store = SQLiteHistory(str(path), reactor=reactor, clock=clock or Clock(), **kwargs)
    store.open()
    return store


@contextmanager
def logged() -> Iterator[list[str]]:
    """Every line logged meanwhile, as it is logged."""
    texts: list[str] = []

    def observe(event: LogEvent) -> None:
        texts.append(formatEvent(event))

    observer = cast(ILogObserver, observe)
    globalLogPublisher.addObserver(observer)
    try:
        yield texts
    finally:
        globalLogPublisher.removeObserver(observer)


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
async def test_at_most_a_thousand_lines_to_a_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    with counting_batches(monkeypatch) as batches:
        store = opened(tmp_path / "h.sqlite", clock)
    try:
        for message in said(2 * BATCH_SIZE + 500):
            store.record(message)
        # A full batch goes at once, without waiting for the window.
        await until(lambda: batches == [1000, 1000], "two full batches")
        await until(lambda: store.unsaved == 500, "them to be written")
        await pause()
        assert batches == [1000, 1000]
        clock.advance(BATCH_WINDOW)
        await until(lambda: store.unsaved == 0, "the rest")
        assert batches == [1000, 1000, 500]
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


# Readers and the writer


@attrs.define
class Gate:
    """Where a worker thread is held until the test opens it."""

    opened: threading.Event = attrs.Factory(threading.Event)
    reached: threading.Event = attrs.Factory(threading.Event)

    def open(self) -> None:
        self.opened.set()


@contextmanager
def held(monkeypatch: pytest.MonkeyPatch, name: str, owner: object = sqlitestore) -> Iterator[Gate]:
    """C{owner}'s function C{name} (a module's, or a class's method), held at a L{Gate}."""
    gate = Gate()
    original = getattr(owner, name)

    def waiting(*args: Any) -> Any:
        gate.reached.set()
        gate.opened.wait(TIMEOUT)
        return original(*args)

    monkeypatch.setattr(owner, name, waiting)
    try:
        yield gate
    finally:
        gate.open()


@pytest_twisted.ensureDeferred
async def test_a_write_does_not_wait_for_a_read_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    store = opened(tmp_path / "h.sqlite", clock)
    try:
        with held(monkeypatch, "_select_recent") as gate:
            replay = store.recent("dev", 5)
            await until(gate.reached.is_set, "the read")
            for message in said(3):
                store.record(message)
            clock.advance(BATCH_WINDOW)
            await until(lambda: store.unsaved == 0, "the write, while the read is held")
            assert len(stored(tmp_path / "h.sqlite")) == 3
            assert not replay.called
            gate.open()
            assert await replay == []  # its snapshot was taken before the write
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_a_replay_does_not_wait_for_a_search_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = opened(tmp_path / "h.sqlite")
    try:
        store.record(Message("dev", "alice", "hello"))
        with held(monkeypatch, "_select_matching") as gate:
            search = store.search("dev", ["hello"], 5)
            await until(gate.reached.is_set, "the search")
            assert [line.event.text for line in await store.recent("dev", 5)] == ["hello"]
            assert not search.called
            gate.open()
            assert [line.event.text for line in await search] == ["hello"]
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_a_crowd_signing_on_at_once_gets_its_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Replays are many where searches are few: a thousand users signing on at
    once (after a restart) each get theirs, however few searches may run.
    """
    store = opened(tmp_path / "h.sqlite", max_lookups=1)
    try:
        store.record(Message("lobby", "alice", "hello"))
        with held(monkeypatch, "_select_recent") as replays:
            asked = [store.recent("lobby", 5) for _ in range(1000)]
            await until(replays.reached.is_set, "the first replay")
            assert not any(d.called for d in asked), "none refused"
            replays.open()
            assert [len(await d) for d in asked] == [1] * 1000
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_lookups_past_the_cap_are_refused_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = opened(tmp_path / "h.sqlite", max_lookups=2, max_replays=2)
    try:
        store.record(Message("dev", "alice", "hello"))
        with (
            held(monkeypatch, "_select_recent") as replays,
            held(monkeypatch, "_select_matching") as searches,
        ):
            asked = [store.recent("dev", 5), store.recent("lobby", 5)]
            found = [store.search("dev", ["hello"], 5), store.search("dev", ["x"], 5)]
            refused = [store.recent("dev", 5), store.search("dev", ["hello"], 5)]
            errors = [await_failure(d) for d in refused]
            assert errors == [
                "the server is busy with too many history replays at once; try again in a moment",
                "the server is busy with too many history searches at once; try again in a moment",
            ]
            searches.open()
            assert [len(await d) for d in found] == [1, 0]
            # The searches are done: a search may be asked again, a replay not yet.
            assert len(await store.search("dev", ["hello"], 5)) == 1
            assert await_failure(store.recent("attic", 5)).startswith("the server is busy")
            replays.open()
            assert [len(await d) for d in asked] == [1, 0]
        assert len(await store.recent("dev", 5)) == 1
    finally:
        await store.close()


def await_failure(d: Deferred[Any]) -> str:
    """The message of the L{HistoryError} that C{d} has already failed with."""
    failures: list[Failure] = []
    d.addErrback(failures.append)
    assert len(failures) == 1, "the lookup did not fail at once"
    failures[0].trap(HistoryError)
    return failures[0].getErrorMessage()


@pytest_twisted.ensureDeferred
async def test_a_query_past_its_time_is_ended_with_a_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlitestore, "PROGRESS_STEPS", 1)
    late = threading.Event()

    def timer() -> float:
        # On the readers' threads, once late is set, every query is past its time.
        return 100.0 if late.is_set() and threading.current_thread() is not main else 0.0

    main = threading.current_thread()
    store = opened(tmp_path / "h.sqlite", timer=timer, query_timeout=1.0)
    try:
        store.record(Message("dev", "alice", "hello"))
        assert len(await store.search("dev", ["hello"], 5)) == 1
        late.set()
        with pytest.raises(HistoryError) as caught:
            await store.search("dev", ["hello"], 5)
        assert str(caught.value) == "the search in dev took too long; try rarer words"
        with pytest.raises(HistoryError) as caught:
            await store.recent("dev", 5)
        assert str(caught.value) == (
            "the history of dev took too long to look up; try again in a moment"
        )
        late.clear()
        assert len(await store.search("dev", ["hello"], 5)) == 1
        assert len(await store.recent("dev", 5)) == 1
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_a_search_matches_within_the_room_inside_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A common word in a busy room costs a search in a quiet room nothing:
    counted in SQLite virtual machine steps (the progress handler's calls).
    """
    monkeypatch.setattr(sqlitestore, "PROGRESS_STEPS", 100)
    steps = [0]

    def timer() -> float:
        steps[0] += 1
        return 0.0

    store = opened(tmp_path / "h.sqlite", timer=timer)
    try:
        for i in range(5000):
            store.record(Message("lobby", "alice", f"the lobby line {i}"))
        store.record(Message("dev", "bob", "the dev line"))
        assert [line.event.text for line in await store.search("dev", ["the"], 20)] == [
            "the dev line"
        ]
        steps[0] = 0
        assert len(await store.search("dev", ["the"], 20)) == 1
        assert steps[0] < 20
        assert len(await store.search("lobby", ["the"], 20)) == 20
    finally:
        await store.close()


# What a replay shows, whichever of the read and the write finishes first


async def written(store: SQLiteHistory, clock: Clock) -> None:
    clock.advance(BATCH_WINDOW)
    await until(lambda: store.unsaved == 0, "the write")


@pytest_twisted.ensureDeferred
async def test_a_replay_leaves_out_lines_recorded_after_it_was_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They reach the user live, after the replay: shown in it too, they would be shown twice."""
    clock = Clock()
    store = opened(tmp_path / "h.sqlite", clock)
    try:
        store.record(Message("dev", "alice", "before"))
        await written(store, clock)
        with held(monkeypatch, "_read", SQLiteHistory) as gate:
            replay = store.recent("dev", 10)
            await until(gate.reached.is_set, "the read, before its snapshot")
            store.record(Message("dev", "bob", "after"))
            await written(store, clock)  # so the read's snapshot has it
            gate.open()
            assert [line.event.text for line in await replay] == ["before"]
        assert [line.event.text for line in await store.recent("dev", 10)] == ["before", "after"]
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_a_replay_keeps_lines_written_after_its_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    store = opened(tmp_path / "h.sqlite", clock)
    try:
        store.record(Message("dev", "alice", "unsaved when asked"))
        with held(monkeypatch, "_select_recent") as gate:
            replay = store.recent("dev", 10)
            await until(gate.reached.is_set, "the read, after its snapshot")
            await written(store, clock)  # heard of before the read's answer
            gate.open()
            assert [line.event.text for line in await replay] == ["unsaved when asked"]
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_a_replay_shows_a_line_being_written_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    store = opened(tmp_path / "h.sqlite", clock)
    try:
        store.record(Message("dev", "alice", "being written"))
        with (
            held(monkeypatch, "_insert") as write,
            held(monkeypatch, "_read", SQLiteHistory) as read,
        ):
            clock.advance(BATCH_WINDOW)
            await until(write.reached.is_set, "the write to begin")
            replay = store.recent("dev", 10)  # while the line is being written
            await until(read.reached.is_set, "the read, before its snapshot")
            write.open()
            await until(lambda: store.unsaved == 0, "the write")
            read.open()  # its snapshot has the line; memory has it too
            assert [line.event.text for line in await replay] == ["being written"]
    finally:
        await store.close()


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
        await until(lambda: store.unsaved == 0, "the write")
        clock.advance(DAY / 2 - PRUNE_INTERVAL)
        await pause()
        assert len(stored(tmp_path / "h.sqlite")) == 2
        clock.advance(PRUNE_INTERVAL)
        await until(lambda: len(stored(tmp_path / "h.sqlite")) == 1, "the pruning")
        found = await store.recent("dev", 5)
        assert [line.event.text for line in found] == ["newer"]
        assert await store.search("dev", ["old"], 5) == []
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_pruning_goes_a_chunk_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks: list[int] = []
    delete_before = sqlitestore._delete_before

    def counting(connection: sqlite3.Connection, cutoff: float) -> int:
        chunks.append(delete_before(connection, cutoff))
        return chunks[-1]

    monkeypatch.setattr(sqlitestore, "_delete_before", counting)
    clock = Clock()
    store = opened(tmp_path / "h.sqlite", clock, retention_days=2)
    try:
        for message in said(2500):
            store.record(message)
        clock.advance(BATCH_WINDOW)
        await until(lambda: store.unsaved == 0, "the lines written")
        assert chunks == [0]  # on opening
        with logged() as log:
            clock.advance(3 * DAY)
            await until(lambda: len(chunks) == 4, "the pruning")
            await until(lambda: bool(log), "the pruning's end")
        assert chunks == [0, 1000, 1000, 500]
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
        assert log == ["History database writes work again, after 2 failed tries"]
        assert stored(path) == [("dev", "alice", 0, "one"), ("dev", "alice", 0, "two")]
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_retries_wait_twice_as_long_each_time_up_to_ten_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[float] = []
    clock = Clock()

    def failing(connection: sqlite3.Connection, batch: list[Line], written: int) -> None:
        tries.append(clock.seconds())
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sqlitestore, "_insert", failing)
    store = opened(tmp_path / "h.sqlite", clock, retention_days=0)
    delays: list[float] = []
    with logged() as log:
        store.record(Message("dev", "alice", "waiting"))
        clock.advance(BATCH_WINDOW)
        for _ in range(9):
            await until(lambda: clock.getDelayedCalls() != [], "a retry")
            (retry,) = clock.getDelayedCalls()
            delays.append(retry.getTime() - clock.seconds())
            clock.advance(delays[-1])
        await until(lambda: len(tries) == 10, "the last try")
    assert delays == pytest.approx([0.25, 0.5, 1, 2, 4, 8, 10, 10, 10])
    assert [b - a for a, b in itertools.pairwise(tries)] == pytest.approx(delays)
    assert log[-1] == (
        "Could not write 1 history lines (disk I/O error); 1 are waiting; "
        "trying again in 10.0 seconds"
    )
    monkeypatch.undo()
    await until(lambda: clock.getDelayedCalls() != [], "a retry")
    clock.advance(RETRY_MAX)
    await until(lambda: store.unsaved == 0, "the write, once the disk works")
    await store.close()
    assert stored(tmp_path / "h.sqlite") == [("dev", "alice", 0, "waiting")]


@pytest_twisted.ensureDeferred
async def test_lines_past_the_bound_are_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches, "MAX_UNSAVED", 5)
    store = opened(tmp_path / "h.sqlite")
    try:
        with logged() as log:
            for message in said(8):
                store.record(message)
        assert store.unsaved == 5
        assert log == [
            "5 history lines (70 bytes) wait for the database; no more are kept until it takes them"
        ]
    finally:
        await store.close()
    assert len(stored(tmp_path / "h.sqlite")) == 5


@pytest_twisted.ensureDeferred
async def test_a_backlog_that_keeps_refilling_is_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Lines come faster than the database takes them, and writes succeed: the
    spell of lines not kept is logged when it starts and once the backlog is
    down to half, not once for every batch written in between.
    """
    monkeypatch.setattr(batches, "MAX_UNSAVED", 8)
    monkeypatch.setattr(batches, "BATCH_SIZE", 2)
    permits = threading.Semaphore(0)
    insert = sqlitestore._insert

    def one_batch_a_permit(*args: Any) -> None:
        permits.acquire(timeout=TIMEOUT)
        insert(*args)

    monkeypatch.setattr(sqlitestore, "_insert", one_batch_a_permit)
    store = opened(tmp_path / "h.sqlite", retention_days=0)
    lines = iter(said(100))
    try:
        with logged() as log:
            for _ in range(10):  # 8 kept, 2 not
                store.record(next(lines))
            for _ in range(2):  # a batch of 2 written, then 3 lines more said: 2 kept, 1 not
                permits.release()
                await until(lambda: store.unsaved == 6, "a batch written")
                for _ in range(3):
                    store.record(next(lines))
            assert log == [
                "8 history lines (112 bytes) wait for the database; "
                "no more are kept until it takes them"
            ]
            for left in (6, 4):
                permits.release()
                await until(lambda left=left: store.unsaved == left, "a batch written")  # type: ignore[misc]
        assert log[1:] == ["4 history lines were not kept, while the database did not take them"]
        assert store.unsaved == 4
    finally:
        for _ in range(10):
            permits.release()
        await store.close()


@pytest_twisted.ensureDeferred
async def test_unsaved_lines_are_bounded_in_bytes_and_the_loss_is_logged(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    clock = Clock()
    store = opened(
        path, clock, busy_timeout=0.02, retention_days=0, max_unsaved_bytes=MIN_UNSAVED_BYTES
    )
    long = Message("dev", "alice", "x" * 4000)  # 4008 bytes, with its room and nickname
    try:
        with logged() as log, write_locked(path):
            for _ in range(20):
                store.record(long)
            assert (store.unsaved, store.unsaved_bytes) == (16, 16 * 4008)
            clock.advance(BATCH_WINDOW)
            await until(lambda: clock.getDelayedCalls() != [], "a retry")
            store.record(long)
        assert log == [
            "16 history lines (64128 bytes) wait for the database; "
            "no more are kept until it takes them",
            "Could not write 16 history lines (database is locked); 16 are waiting; "
            "trying again in 0.25 seconds",
        ]
        with logged() as log:
            clock.advance(RETRY_FIRST)
            await until(lambda: store.unsaved == 0, "the retry")
        assert log == [
            "History database writes work again, after 1 failed tries",
            "5 history lines were not kept, while the database did not take them",
        ]
        assert store.unsaved_bytes == 0
        store.record(long)  # kept again
        assert store.unsaved == 1
    finally:
        await store.close()
    assert len(stored(path)) == 17


@pytest_twisted.ensureDeferred
async def test_lines_not_kept_are_counted_in_the_log_at_close(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    clock = Clock()
    store = opened(
        path, clock, busy_timeout=0.02, retention_days=0, max_unsaved_bytes=MIN_UNSAVED_BYTES
    )
    with write_locked(path):
        for _ in range(20):
            store.record(Message("dev", "alice", "x" * 4000))
        with logged() as log:
            closed = store.close()
            for _ in range(CLOSE_ATTEMPTS):
                await until(lambda: clock.getDelayedCalls() != [] or closed.called, "a try")
                clock.advance(RETRY_FIRST)
            await until(lambda: closed.called, "the close")
    assert log[-2:] == [
        "Could not write 16 history lines before closing (database is locked); they are lost",
        "4 history lines were not kept, while the database did not take them",
    ]
    assert stored(path) == []


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


# Damaged databases


def damage_the_index(path: Path) -> None:
    """Lose most of the full-text index's blocks, as a bad disk or a careless hand would."""
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM lines_text_data WHERE id > 10")
    db.close()


@pytest_twisted.ensureDeferred
async def test_text_that_is_not_utf8_is_read_with_replacements(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store = opened(path)
    store.record(Message("dev", "alice", "hello"))
    await store.close()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO lines (room, at, nick, action, text) "
            "VALUES ('dev', 0, CAST(x'6d616cff' AS TEXT), 0, CAST(x'68656c6c6fff2021' AS TEXT))"
        )
    db.close()
    store = opened(path)
    try:
        expected = [
            Line(0.0, Message("dev", "alice", "hello")),
            Line(0.0, Message("dev", "mal\ufffd", "hello\ufffd !")),
        ]
        assert await store.recent("dev", 5) == expected
        assert await store.search("dev", ["hello"], 5) == expected
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_a_damaged_index_is_rebuilt_at_open(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store = opened(path)
    for message in said(300):
        store.record(message)
    await store.close()
    damage_the_index(path)
    with logged() as log:
        store = opened(path)
    try:
        assert log == [
            f"The full-text index of the history database {path} is damaged "
            "(database disk image is malformed); rebuilding it"
        ]
        found = await store.search("dev", ["line", "299"], 5)
        assert [line.event.text for line in found] == ["line 299"]
        assert len(await store.search("dev", ["line"], 500)) == 300
    finally:
        await store.close()


@pytest_twisted.ensureDeferred
async def test_a_lookup_that_fails_is_one_log_line_and_an_error(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store = opened(path)
    try:
        for message in said(300):
            store.record(message)
        assert len(await store.search("dev", ["line"], 5)) == 5
        damage_the_index(path)
        with logged() as log, pytest.raises(HistoryError) as caught:
            await store.search("dev", ["line"], 5)
        assert str(caught.value) == "the history of dev is not available right now"
        assert log == ["Could not look up the history of dev (database disk image is malformed)"]
        assert len(await store.recent("dev", 5)) == 5  # what does not need the index still works
    finally:
        await store.close()


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


@pytest_twisted.ensureDeferred
async def test_read_only_database(tmp_path: Path) -> None:
    """
    A database that nobody may write, root included (CI runs as root, whom
    file permissions do not bind): SQLite writes no file whose header says
    it is of a format newer than it can write (byte 18, the write version,
    above 2), though it may read it.
    """
    path = tmp_path / "h.sqlite"
    store = opened(path)
    store.record(Message("dev", "alice", "kept"))
    await store.close()
    with path.open("r+b") as f:
        f.seek(18)
        assert f.read(2) == b"\x02\x02"  # WAL
        f.seek(18)
        f.write(b"\x03")
    with pytest.raises(HistoryUnavailable) as caught:
        opened(path)
    assert str(caught.value) == (
        f"cannot open history database {path}: attempt to write a readonly database"
    )


_VERSION_1 = [
    """CREATE TABLE lines (
        id INTEGER PRIMARY KEY,
        room TEXT NOT NULL COLLATE NOCASE,
        at REAL NOT NULL,
        nick TEXT NOT NULL,
        action INTEGER NOT NULL,
        text TEXT NOT NULL
    )""",
    "CREATE INDEX lines_by_room ON lines (room, id)",
    "CREATE INDEX lines_by_time ON lines (at)",
    "CREATE VIRTUAL TABLE lines_text USING fts5 (text, content='lines', content_rowid='id')",
    """CREATE TRIGGER lines_text_insert AFTER INSERT ON lines BEGIN
        INSERT INTO lines_text (rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER lines_text_delete AFTER DELETE ON lines BEGIN
        INSERT INTO lines_text (lines_text, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    "PRAGMA user_version=1",
]
"""The schema of chatsvc's history databases of version 1, as it made them."""


@pytest_twisted.ensureDeferred
async def test_a_version_1_database_is_upgraded_at_open(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with sqlite3.connect(path) as db:
        for statement in _VERSION_1:
            db.execute(statement)
        db.executemany(
            "INSERT INTO lines (room, at, nick, action, text) VALUES (?, 0, 'alice', 0, ?)",
            [("dev", "deploy on friday"), ("Lobby", "deploy elsewhere"), ("dev", "later")],
        )
    db.close()
    with logged() as log:
        store = opened(path, retention_days=0)
    try:
        assert log == [
            f"Upgrading the history database {path} to schema 2: rebuilding its full-text index"
        ]
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (2,)
            assert db.execute(
                "SELECT rowid FROM lines_text WHERE lines_text MATCH ?",
                (sqlitestore.fts_match("LOBBY", ["deploy"]),),
            ).fetchall() == [(2,)]
        db.close()
        found = await store.search("dev", ["deploy"], 5)
        assert [line.event.text for line in found] == ["deploy on friday"]
        store.record(Message("dev", "bob", "deploy again"))
        found = await store.search("dev", ["deploy"], 5)
        assert [line.event.text for line in found] == ["deploy on friday", "deploy again"]
        assert [line.event.text for line in await store.recent("dev", 5)] == [
            "deploy on friday",
            "later",
            "deploy again",
        ]
    finally:
        await store.close()
    with logged() as log:
        store = opened(path, retention_days=0)  # once only
    await store.close()
    assert log == []


def test_database_from_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=3")
    db.close()
    with pytest.raises(HistoryUnavailable) as caught:
        opened(path)
    assert str(caught.value) == (
        f"cannot open history database {path}: it was made by a newer chatsvc "
        "(schema 3, this one knows 2)"
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
