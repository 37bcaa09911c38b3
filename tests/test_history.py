"""The history seam: its record, the store that keeps nothing, and the fake."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from chatsvc.history import NOT_KEPT, HistoryError, IHistory, Line, NoHistory
from chatsvc.model import Action, Message
from chatsvc.testing import FakeHistory


class NoHistoryTests(SynchronousTestCase):
    def test_keeps_nothing_and_refuses_lookups(self) -> None:
        history = NoHistory()
        self.assertTrue(verifyObject(IHistory, history))
        history.open()
        history.record(Message("dev", "alice", "hello"))
        for lookup in [history.recent("dev", 5), history.search("dev", ["hello"], 5)]:
            self.assertEqual(str(self.failureResultOf(lookup, HistoryError).value), NOT_KEPT)
        self.successResultOf(history.close())


class FakeHistoryTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.history = FakeHistory(self.clock)
        self.history.record(Message("Dev", "alice", "Deploy on friday?"))
        self.clock.advance(1)
        self.history.record(Action("dev", "bob", "deploys"))
        self.history.record(Message("lobby", "carol", "friday deploy"))

    def test_provides_the_interface(self) -> None:
        self.assertTrue(verifyObject(IHistory, self.history))

    def test_recent(self) -> None:
        self.assertEqual(
            self.successResultOf(self.history.recent("DEV", 5)),
            [
                Line(0, Message("Dev", "alice", "Deploy on friday?")),
                Line(1, Action("dev", "bob", "deploys")),
            ],
        )
        self.assertEqual(len(self.successResultOf(self.history.recent("dev", 1))), 1)

    def test_search_matches_whole_words_in_any_case(self) -> None:
        found = self.successResultOf(self.history.search("dev", ["FRIDAY", "deploy"], 5))
        self.assertEqual([line.event.text for line in found], ["Deploy on friday?"])
        self.assertEqual(self.successResultOf(self.history.search("dev", ["depl"], 5)), [])
        self.assertEqual(self.successResultOf(self.history.search("dev", ["*"], 5)), [])

    def test_lookups_wait_for_the_test(self) -> None:
        self.history.at_once = False
        d = self.history.recent("dev", 1)
        self.assertNoResult(d)
        self.history.answer()
        self.assertEqual(len(self.successResultOf(d)), 1)
        d = self.history.search("dev", ["deploys"], 1)
        self.history.fail(HistoryError("no"))
        self.failureResultOf(d, HistoryError)
