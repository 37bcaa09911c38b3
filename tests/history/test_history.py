"""
The history seam: its record, the store that keeps nothing, and the fake (whose
searches L{tests.history.test_history_contract} holds to what SQLite's do).
"""

from __future__ import annotations

import random
import sqlite3
import string

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from chatsvc.chat.events import Action, Message
from chatsvc.history import NOT_KEPT, HistoryError, IHistory, Line, NoHistory
from chatsvc.testing import FakeHistory, tokens


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

    def test_search_takes_a_word_with_punctuation_as_a_phrase(self) -> None:
        self.history.record(Message("dev", "dan", "the deploy-friday plan"))
        found = self.successResultOf(self.history.search("dev", ["friday-deploy"], 5))
        self.assertEqual(found, [])
        found = self.successResultOf(self.history.search("dev", ["deploy-friday"], 5))
        self.assertEqual([line.event.text for line in found], ["the deploy-friday plan"])

    def test_lookups_are_refused_once_closed(self) -> None:
        self.successResultOf(self.history.close())
        self.assertTrue(self.history.closed)
        self.failureResultOf(self.history.recent("dev", 5), HistoryError)
        self.failureResultOf(self.history.search("dev", ["deploy"], 5), HistoryError)

    def test_lookups_wait_for_the_test(self) -> None:
        self.history.at_once = False
        d = self.history.recent("dev", 1)
        self.assertNoResult(d)
        self.history.answer()
        self.assertEqual(len(self.successResultOf(d)), 1)
        d = self.history.search("dev", ["deploys"], 1)
        self.history.fail(HistoryError("no"))
        self.failureResultOf(d, HistoryError)


def sqlite_tokens(texts: list[str]) -> list[list[str]]:
    """The words SQLite's full-text index makes of each of C{texts}, as the store's does."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute(
            "CREATE VIRTUAL TABLE t USING fts5 (text, tokenize='unicode61 remove_diacritics 2')"
        )
        db.execute("CREATE VIRTUAL TABLE words USING fts5vocab (t, 'instance')")
        found = []
        for text in texts:
            db.execute("DELETE FROM t")
            db.execute("INSERT INTO t (text) VALUES (?)", (text,))
            found.append([word for (word,) in db.execute("SELECT term FROM words ORDER BY offset")])
        return found
    finally:
        db.close()


class TokensTests(SynchronousTestCase):
    """The fake's words are SQLite's, on the scripts and punctuation chat is written in."""

    def test_examples(self) -> None:
        self.assertEqual(tokens("naïve Café, x_y z"), ["naive", "cafe", "x", "y", "z"])
        self.assertEqual(tokens("deploy-friday it's"), ["deploy", "friday", "it", "s"])
        self.assertEqual(tokens("cafe\u0301s STRAẞE Σίσυφος"), ["cafes", "straße", "σίσυφοσ"])
        self.assertEqual(tokens('* " ( ) 🎉'), [])

    def test_the_same_words_as_sqlite(self) -> None:
        letters = "".join(chr(c) for c in range(0xA0, 0x180))  # Latin-1, Latin Extended-A
        greek = "".join(chr(c) for c in range(0x386, 0x3CF))  # the modern alphabet, accented
        cyrillic = "".join(chr(c) for c in range(0x400, 0x460))  # Russian, Ukrainian, Serbian...
        cjk = "".join(chr(c) for c in [*range(0x3040, 0x3100), *range(0x4E00, 0x4E80)])
        texts = [*string.printable, *letters, *greek, *cyrillic, *cjk]
        choose = random.Random(12)
        for alphabet in [string.printable + letters, greek + cyrillic + " ,.", cjk + " 、。"]:
            texts += ["".join(choose.choices(alphabet, k=24)) for _ in range(200)]
        for text, words in zip(texts, sqlite_tokens(texts), strict=True):
            self.assertEqual(tokens(text), words, text)
