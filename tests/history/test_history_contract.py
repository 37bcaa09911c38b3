"""
What every L{IHistory} store must do, run against each of them: the fake the
server's tests use, SQLite on disk and in memory, and PostgreSQL (a real
server, L{tests.servers}). A new store joins with one line in L{STORES}.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import cast

import attrs
import pytest
import pytest_twisted
from twisted.internet import reactor as global_reactor
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from chatsvc.chat.events import Action, Message
from chatsvc.history import HistoryError, IHistory, Line
from chatsvc.history.cache import RecentCache
from chatsvc.history.postgresql import PostgreSQLHistory
from chatsvc.history.sqlite import SQLiteHistory
from chatsvc.testing import FakeHistory

reactor = cast(IReactorFromThreads, global_reactor)


@attrs.frozen
class Place:
    """Where a store keeps its lines: a directory for files, or a database of the test's own."""

    directory: Path
    request: pytest.FixtureRequest

    def postgresql(self) -> str:
        """The URL of the test's PostgreSQL database (the same one each time)."""
        url: str = self.request.getfixturevalue("postgresql")
        return url


StoreFactory = Callable[[Place, Clock], IHistory]
"""A store, not yet opened, kept in the place given, on the clock given."""


STORES: dict[str, StoreFactory] = {
    "fake": lambda place, clock: FakeHistory(clock),
    "sqlite": lambda place, clock: SQLiteHistory(
        str(place.directory / "history.sqlite"), reactor=reactor, clock=clock
    ),
    "sqlite-memory": lambda place, clock: SQLiteHistory(":memory:", reactor=reactor, clock=clock),
    "postgresql": lambda place, clock: PostgreSQLHistory(place.postgresql(), clock=clock),
    # The cache in front of a store (what twistd chat runs) is held to the same contract.
    "cached-sqlite": lambda place, clock: RecentCache(
        SQLiteHistory(str(place.directory / "history.sqlite"), reactor=reactor, clock=clock),
        3,
        clock=clock,
    ),
    "cached-postgresql": lambda place, clock: RecentCache(
        PostgreSQLHistory(place.postgresql(), clock=clock), 3, clock=clock
    ),
}


@attrs.define
class Store:
    """A store under test, opened, and the clock that stamps its lines."""

    history: IHistory
    clock: Clock

    def record(self, *events: Message | Action) -> None:
        for event in events:
            self.history.record(event)

    async def texts(self, room: str, lines: int = 20) -> list[str]:
        return [line.event.text for line in await self.history.recent(room, lines)]

    async def found(self, room: str, words: Sequence[str], lines: int = 20) -> list[str]:
        return [line.event.text for line in await self.history.search(room, words, lines)]


@pytest_twisted.async_yield_fixture(params=sorted(STORES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    clock = Clock()
    clock.advance(1_795_000_000)
    history = STORES[request.param](Place(tmp_path, request), clock)
    history.open()
    yield Store(history, clock)
    await history.close()


# Recording and recent lines


def test_provides_the_interface(store: Store) -> None:
    assert verifyObject(IHistory, store.history)


@pytest_twisted.ensureDeferred
async def test_recent_lines_are_the_last_ones_oldest_first(store: Store) -> None:
    store.record(Message("dev", "alice", "one"))
    store.clock.advance(61.5)
    store.record(Action("dev", "bob", "waves"), Message("dev", "alice", "three"))
    assert await store.history.recent("dev", 2) == [
        Line(1_795_000_061.5, Action("dev", "bob", "waves")),
        Line(1_795_000_061.5, Message("dev", "alice", "three")),
    ]
    assert await store.texts("dev", 1) == ["three"]
    assert await store.texts("dev", 500) == ["one", "waves", "three"]


@pytest_twisted.ensureDeferred
async def test_recent_lines_include_those_recorded_a_moment_ago(store: Store) -> None:
    store.record(Message("dev", "alice", "before"))
    assert await store.texts("dev") == ["before"]
    store.record(Message("dev", "alice", "just now"))  # no time passes
    assert await store.texts("dev") == ["before", "just now"]


def test_record_gives_the_line_as_kept(store: Store) -> None:
    event = Message("dev", "alice", "one")
    store.clock.advance(0.25)
    assert store.history.record(event) == Line(1_795_000_000.25, event)


@pytest_twisted.ensureDeferred
async def test_recent_lines_are_as_of_when_asked(store: Store) -> None:
    store.record(Message("dev", "alice", "before"))
    asked = store.history.recent("dev", 20)
    store.record(Message("dev", "alice", "after"))
    assert [line.event.text for line in await asked] == ["before"]
    assert await store.texts("dev") == ["before", "after"]


@pytest_twisted.ensureDeferred
async def test_what_is_cached_is_what_recent_answers(store: Store) -> None:
    store.record(*(Message("dev", "alice", str(n)) for n in range(5)))
    for lines in (1, 3, 500):
        recent = await store.history.recent("dev", lines)
        cached = store.history.cached("dev", lines)
        assert cached is None or list(cached) == recent


@pytest_twisted.ensureDeferred
async def test_rooms_are_apart_and_named_in_any_case(store: Store) -> None:
    store.record(Message("Dev", "alice", "in Dev"), Message("lobby", "bob", "in lobby"))
    store.record(Message("dev", "carol", "in dev"))
    assert await store.texts("DEV") == ["in Dev", "in dev"]
    assert await store.texts("Lobby") == ["in lobby"]
    assert await store.texts("attic") == []
    found = await store.history.recent("dev", 1)
    assert found == [Line(1_795_000_000, Message("dev", "carol", "in dev"))]


@pytest_twisted.ensureDeferred
async def test_text_comes_back_exactly(store: Store) -> None:
    texts = ['quotes " and \\ backslashes', "accents é ü, CJK 漢字, emoji 🎉👍🏽, U+FFFD \ufffd"]
    store.record(*(Message("dev", "alice", text) for text in texts))
    assert await store.texts("dev") == texts


# Searching


TEXTS = [
    "Deploy on friday?",
    "we deployed it",
    "naïve café",
    "x_y z",
    "friday deploy",
    "the deploy-friday plan",
    'she said "hi" (twice)',
    "NEAR the OR gate",
    "x* AND y",
    "ÉLAN Über STRAßE",
    "Σίσυφος and Москва",
    "it's 10:30, ok",
]


async def searched(store: Store, *words: str) -> list[str]:
    store.record(*(Message("dev", "alice", text) for text in TEXTS))
    store.record(*(Message("lobby", "bob", text) for text in TEXTS))
    return await store.found("dev", words)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        # Whole words, in any case, all of them.
        (("deploy",), ["Deploy on friday?", "friday deploy", "the deploy-friday plan"]),
        (("DEPLOY", "Friday"), ["Deploy on friday?", "friday deploy", "the deploy-friday plan"]),
        (("deployed",), ["we deployed it"]),
        (("depl",), []),
        (("deploy", "nowhere"), []),
        # Diacritics ignored, either way; letters folded.
        (("cafe",), ["naïve café"]),
        (("NAIVE", "Café"), ["naïve café"]),
        (("elan", "uber"), ["ÉLAN Über STRAßE"]),
        (("straße",), ["ÉLAN Über STRAßE"]),
        (("ΣΊΣΥΦΟΣ",), ["Σίσυφος and Москва"]),
        (("москва",), ["Σίσυφος and Москва"]),
        # Punctuation separates words.
        (("x",), ["x_y z", "x* AND y"]),
        (("y", "z"), ["x_y z"]),
        (("it", "s"), ["it's 10:30, ok"]),
        (("30",), ["it's 10:30, ok"]),
        (("friday?",), ["Deploy on friday?", "friday deploy", "the deploy-friday plan"]),
        # A word with punctuation inside is a phrase.
        (("deploy-friday",), ["the deploy-friday plan"]),
        (("friday-deploy",), ["friday deploy"]),
        (("x_y",), ["x_y z"]),
        (("10:30",), ["it's 10:30, ok"]),
        # Query syntax is only words.
        (("hello", "OR", "gate"), []),
        (("NEAR",), ["NEAR the OR gate"]),
        (("OR", "gate"), ["NEAR the OR gate"]),
        (('"hi"',), ['she said "hi" (twice)']),
        (("(twice)",), ['she said "hi" (twice)']),
        (("x*",), ["x_y z", "x* AND y"]),
        (("dep*",), []),
        (("NOT", "y"), []),
        (("AND",), ["x* AND y", "Σίσυφος and Москва"]),
        (("text:gate",), []),
        (("^gate",), ["NEAR the OR gate"]),
        # Words with no letters or digits: alone, nothing; beside a word, ignored.
        (("*",), []),
        (('"',), []),
        (("(", ")", "-", "+", ":", "'", "\\", "{x}"), ["x_y z", "x* AND y"]),
        (("gate", '"', "*"), ["NEAR the OR gate"]),
    ],
)
@pytest_twisted.ensureDeferred
async def test_search(store: Store, words: tuple[str, ...], expected: list[str]) -> None:
    assert await searched(store, *words) == expected


@pytest_twisted.ensureDeferred
async def test_search_finds_the_latest_lines_oldest_first(store: Store) -> None:
    for i in range(30):
        store.record(Message("dev", "alice", f"deploy number {i}"))
        store.record(Message("lobby", "alice", f"deploy number {i} elsewhere"))
    store.record(Action("Dev", "bob", "fears a deploy"))
    found = await store.history.search("DEV", ["deploy"], 5)
    assert [line.event.text for line in found] == [
        *(f"deploy number {i}" for i in range(26, 30)),
        "fears a deploy",
    ]
    assert found[-1] == Line(1_795_000_000, Action("Dev", "bob", "fears a deploy"))
    assert len(await store.found("dev", ["deploy"], 500)) == 31
    assert await store.found("attic", ["deploy"]) == []


@pytest_twisted.ensureDeferred
async def test_search_finds_lines_recorded_a_moment_ago(store: Store) -> None:
    store.record(Message("dev", "alice", "the backup finished"))
    assert await store.found("dev", ["backup"]) == ["the backup finished"]


# Closing


@pytest_twisted.ensureDeferred
async def test_close_keeps_everything_then_refuses_lookups(store: Store) -> None:
    store.record(Message("dev", "alice", "kept"))
    await store.history.close()
    for lookup in [store.history.recent("dev", 5), store.history.search("dev", ["kept"], 5)]:
        with pytest.raises(HistoryError):
            await lookup
    await store.history.close()  # twice is harmless


@pytest.mark.parametrize("kind", sorted(k for k in STORES if k not in ("fake", "sqlite-memory")))
@pytest_twisted.ensureDeferred
async def test_a_store_on_disk_keeps_everything_across_a_close(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    clock = Clock()
    place = Place(tmp_path, request)
    history = STORES[kind](place, clock)
    history.open()
    for i in range(1500):
        history.record(Message("dev", "alice", f"line {i}"))
    await history.close()
    history = STORES[kind](place, clock)
    history.open()
    try:
        assert len(await history.recent("dev", 500)) == 500
        found = await history.search("dev", ["1499"], 5)
        assert [line.event.text for line in found] == ["line 1499"]
    finally:
        await history.close()
