"""
The latest lines of rooms in memory (L{chatsvc.history.cache.RecentCache}):
one query per room for a crowd, answers as of when each asked, the same tuple
for everyone until the next line, and nothing kept that the store would not
show.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.events import Action, Message
from chatsvc.history import HistoryError, Line
from chatsvc.history.cache import RecentCache
from chatsvc.testing import FakeHistory


class CountingHistory(FakeHistory):
    """A fake store that counts the lookups it is asked, and may refuse to keep lines."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock, at_once=False)
        self.asked: list[tuple[str, int]] = []
        self.keeping = True

    def record(self, event: Message | Action) -> Line | None:
        return super().record(event) if self.keeping else None

    def recent(self, room: str, lines: int) -> Deferred[list[Line]]:
        self.asked.append((room, lines))
        return super().recent(room, lines)


def texts(lines: list[Line] | tuple[Line, ...] | None) -> list[str] | None:
    return None if lines is None else [line.event.text for line in lines]


class RecentCacheTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_795_000_000)
        self.store = CountingHistory(self.clock)
        self.cache = RecentCache(self.store, 3, clock=self.clock)

    def say(self, *texts: str, room: str = "lobby") -> None:
        for text in texts:
            self.cache.record(Message(room, "alice", text))

    def answer(self, d: Deferred[list[Line]]) -> list[str] | None:
        return texts(self.successResultOf(d))

    def test_a_crowd_asks_the_store_once(self) -> None:
        self.say("one", "two")
        asked = [self.cache.recent("lobby", 3) for _ in range(100)]
        self.assertEqual(self.store.asked, [("lobby", 3)])
        self.assertNoResult(asked[0])
        self.store.answer()
        for d in asked:
            self.assertEqual(self.answer(d), ["one", "two"])
        # From then on, from memory.
        self.assertEqual(self.answer(self.cache.recent("LOBBY", 2)), ["one", "two"])
        self.assertEqual(self.store.asked, [("lobby", 3)])

    def test_each_is_answered_as_of_when_it_asked(self) -> None:
        self.say("one")
        first = self.cache.recent("lobby", 3)
        self.say("two")
        second = self.cache.recent("lobby", 3)
        self.say("three", "four")
        self.store.answer()
        self.assertEqual(self.answer(first), ["one"])
        self.assertEqual(self.answer(second), ["one", "two"])
        self.assertEqual(texts(self.cache.cached("lobby", 3)), ["two", "three", "four"])

    def test_a_line_said_while_asked_is_kept_past_the_depth(self) -> None:
        asked = self.cache.recent("lobby", 3)
        self.say(*map(str, range(5)))
        late = self.cache.recent("lobby", 3)
        self.store.answer()
        self.assertEqual(self.answer(asked), [])
        self.assertEqual(self.answer(late), ["2", "3", "4"])

    def test_everyone_gets_one_tuple_until_the_next_line(self) -> None:
        self.say("one")
        self.cache.recent("lobby", 3)
        self.store.answer()
        kept = self.cache.cached("lobby", 3)
        self.assertIs(self.cache.cached("lobby", 3), kept)
        self.assertIs(self.cache.cached("lobby", 2), kept)  # no fewer than there are
        self.say("two")
        again = self.cache.cached("lobby", 3)
        self.assertIsNot(again, kept)
        self.assertEqual(texts(again), ["one", "two"])
        self.assertEqual(texts(self.cache.cached("lobby", 1)), ["two"])

    def test_the_depth_is_kept_as_lines_come(self) -> None:
        self.cache.recent("lobby", 3)
        self.store.answer()
        self.say(*map(str, range(10)))
        self.assertEqual(texts(self.cache.cached("lobby", 3)), ["7", "8", "9"])

    def test_rooms_are_apart(self) -> None:
        self.cache.recent("lobby", 3)
        self.store.answer()
        self.say("elsewhere", room="dev")
        self.say("here")
        self.assertEqual(texts(self.cache.cached("lobby", 3)), ["here"])
        self.assertIsNone(self.cache.cached("dev", 3))  # never asked: not kept

    def test_more_lines_than_kept_are_asked_of_the_store(self) -> None:
        self.cache.recent("lobby", 3)
        self.store.answer()
        self.assertIsNone(self.cache.cached("lobby", 4))
        d = self.cache.recent("lobby", 4)
        self.assertEqual(self.store.asked, [("lobby", 3), ("lobby", 4)])
        self.store.answer()
        self.assertEqual(self.answer(d), [])

    def test_searches_go_to_the_store(self) -> None:
        self.store.at_once = True
        self.say("deploy friday")
        self.assertEqual(
            texts(self.successResultOf(self.cache.search("lobby", ["friday"], 5))),
            ["deploy friday"],
        )

    def test_a_failed_answer_fails_everyone_and_is_asked_again(self) -> None:
        asked = [self.cache.recent("lobby", 3) for _ in range(3)]
        self.store.fail(HistoryError("busy"))
        for d in asked:
            self.assertEqual(self.failureResultOf(d, HistoryError).getErrorMessage(), "busy")
        self.assertIsNone(self.cache.cached("lobby", 3))
        self.cache.recent("lobby", 3)
        self.assertEqual(len(self.store.asked), 2)

    def test_a_line_the_store_does_not_keep_is_not_shown(self) -> None:
        self.cache.recent("lobby", 3)
        self.store.answer()
        self.store.keeping = False
        self.say("shed")
        self.assertEqual(self.cache.cached("lobby", 3), ())

    def test_the_least_recently_asked_room_goes_first(self) -> None:
        cache = RecentCache(self.store, 3, clock=self.clock, max_rooms=2)
        for room in ("a", "b"):
            cache.recent(room, 3)
        self.store.answer()
        cache.cached("a", 3)  # a is asked for again: b is the oldest
        cache.recent("c", 3)
        self.store.answer()
        self.assertIsNotNone(cache.cached("a", 3))
        self.assertIsNone(cache.cached("b", 3))
        self.assertIsNotNone(cache.cached("c", 3))

    def test_lines_past_their_age_are_not_shown(self) -> None:
        cache = RecentCache(self.store, 3, clock=self.clock, max_age=100)
        cache.recent("lobby", 3)
        self.store.answer()
        cache.record(Message("lobby", "alice", "old"))
        self.clock.advance(60)
        cache.record(Message("lobby", "alice", "new"))
        self.assertEqual(texts(cache.cached("lobby", 3)), ["old", "new"])
        self.clock.advance(41)
        self.assertEqual(texts(cache.cached("lobby", 3)), ["new"])

    def test_close_forgets_and_closes_the_store(self) -> None:
        self.cache.recent("lobby", 3)
        self.store.answer()
        self.successResultOf(self.cache.close())
        self.assertTrue(self.store.closed)
        self.assertIsNone(self.cache.cached("lobby", 3))

    def test_a_store_that_answers_at_once(self) -> None:
        self.store.at_once = True
        self.say("one")
        self.assertEqual(self.answer(self.cache.recent("lobby", 3)), ["one"])
        self.assertEqual(texts(self.cache.cached("lobby", 3)), ["one"])

    def test_a_store_that_fails_at_once(self) -> None:
        self.store.closed = True
        d = self.cache.recent("lobby", 3)
        self.assertEqual(
            self.failureResultOf(d, HistoryError).getErrorMessage(), "history is not available now"
        )
        self.assertIsNone(self.cache.cached("lobby", 3))

    def test_a_cache_keeps_something(self) -> None:
        with self.assertRaises(ValueError):
            RecentCache(self.store, 0, clock=self.clock)
