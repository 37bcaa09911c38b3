"""
Away users as the line protocol shows them: C{/away}, the mark in member
lists, and the answer to a private message; the same whether the user away
is on the line protocol or on IRC.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.frontends.irc.server import irc_frontend
from chatsvc.frontends.irc.wire import IrcServer
from tests.frontends.irc.test_server import Irc, S
from tests.support import Connection, make_factory, signed_on


class AwayTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory = make_factory()
        self.alice = signed_on(self.factory, "alice")
        self.bob = signed_on(self.factory, "bob", port=40001)
        self.alice.lines()

    def test_away_and_back(self) -> None:
        self.bob.send("/away gone fishing")
        self.assertEqual(self.bob.lines(), ["*** You are marked as away: gone fishing"])
        self.bob.send("/away")
        self.assertEqual(self.bob.lines(), ["*** You are no longer marked as away"])
        self.assertEqual(self.alice.lines(), [])

    def test_who_marks_those_away(self) -> None:
        self.bob.send("/away lunch")
        self.alice.send("/who")
        self.assertEqual(
            self.alice.lines(), ["*** Members of lobby (2 members):", "*** alice, bob (away)"]
        )
        carol = signed_on(self.factory, "carol", port=40002)
        carol.send("/who lobby")
        self.assertEqual(carol.lines()[-1], "*** alice, bob (away), carol")

    def test_joining_marks_them_too(self) -> None:
        self.bob.send("/away lunch")
        dave = Connection(self.factory, port=40003)
        dave.send("dave")
        self.assertEqual(
            dave.lines()[-2:], ["*** You joined lobby (3 members):", "*** alice, bob (away), dave"]
        )

    def test_a_private_message_to_one_away(self) -> None:
        self.bob.send("/away lunch")
        self.bob.lines()
        self.alice.send("/msg bob are you there?")
        self.assertEqual(self.alice.lines(), ["-> *bob* are you there?", "*** bob is away: lunch"])
        self.assertEqual(self.bob.lines(), ["*alice* are you there?"])

    def test_an_away_message_too_long(self) -> None:
        self.bob.send("/away " + "x" * 201)
        self.assertEqual(
            self.bob.lines(), ["*** Error: an away message is at most 200 bytes (201)"]
        )


class AwayOnIrcTests(SynchronousTestCase):
    """An IRC user's AWAY shows on the line protocol; a line user's /away on IRC."""

    def setUp(self) -> None:
        self.factory = make_factory()
        self.kind = irc_frontend(IrcServer(created=0))
        self.carol = signed_on(self.factory, "carol")
        self.irc = Irc(self.factory, self.kind)
        self.irc.send("NICK alice", "USER u 0 * :A", "JOIN #lobby")
        self.irc.lines(), self.carol.lines()

    def test_an_irc_user_away(self) -> None:
        self.irc.send("AWAY :in a meeting")
        self.assertEqual(self.irc.lines(), [f"{S} 306 alice :You have been marked as being away"])
        self.carol.send("/who", "/msg alice hello")
        self.assertEqual(
            self.carol.lines(),
            [
                "*** Members of lobby (2 members):",
                "*** alice (away), carol",
                "-> *alice* hello",
                "*** alice is away: in a meeting",
            ],
        )
        self.irc.send("AWAY")
        self.assertEqual(
            self.irc.lines(),
            [
                ":carol!carol@chatsvc PRIVMSG alice :hello",
                f"{S} 305 alice :You are no longer marked as being away",
            ],
        )

    def test_a_line_user_away(self) -> None:
        self.carol.send("/away lunch")
        self.carol.lines()
        self.irc.send("PRIVMSG carol :hi", "NOTICE carol :psst", "WHO #lobby")
        self.assertEqual(
            self.irc.lines(),
            [
                f"{S} 301 alice carol lunch",
                f"{S} 352 alice #lobby ~u chatsvc chatsvc alice H :0 A",
                f"{S} 352 alice #lobby carol chatsvc chatsvc carol G :0 carol",
                f"{S} 315 alice #lobby :End of WHO list",
            ],
        )
        self.assertEqual(self.carol.lines(), ["*alice* hi", "*alice* psst"])
