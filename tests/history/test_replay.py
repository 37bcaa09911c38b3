"""
History on the wire, through StringTransport: what is recorded, the replay on
joining, /history and /search, and live output held while they are looked up.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.events import Action, Message
from chatsvc.frontends.line.server import ChatFactory
from chatsvc.history import HistoryError, Line, NoHistory
from chatsvc.history.cache import RecentCache
from chatsvc.history.replay import (
    HOLD_LIMIT,
    LOOKUP_TIMEOUT,
    REPLY_LIMIT,
    Lookup,
    Lookups,
    reply_budget,
)
from chatsvc.streams.limits import Limits
from chatsvc.testing import FakeHistory
from tests.support import Connection, make_factory, signed_on

NOW = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC


def history_factory(
    *, at_once: bool = True, replay: int = 20, **kwargs: Any
) -> tuple[ChatFactory, FakeHistory, Clock]:
    clock = Clock()
    clock.advance(NOW)
    history = FakeHistory(clock, at_once=at_once)
    return make_factory(clock=clock, history=history, replay=replay, **kwargs), history, clock


class RecordingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory, self.history, self.clock = history_factory()
        self.alice = signed_on(self.factory, "alice")
        self.bob = signed_on(self.factory, "bob")

    def test_room_messages_and_actions_are_kept_as_relayed(self) -> None:
        self.alice.send("hello \x1b[31mred\x1b[0m\tworld")
        self.clock.advance(60)
        self.alice.send("/me waves")
        self.alice.send("//slash")
        self.assertEqual(
            self.history.lines,
            [
                Line(NOW, Message("lobby", "alice", "hello [31mred[0m world")),
                Line(NOW + 60, Action("lobby", "alice", "waves")),
                Line(NOW + 60, Message("lobby", "alice", "/slash")),
            ],
        )

    def test_private_messages_and_refusals_are_not_kept(self) -> None:
        self.alice.send("/msg bob secret")
        self.alice.send("/me ")
        self.alice.send("x" * 5000)
        self.alice.send("   ")
        self.assertEqual(self.history.lines, [])

    def test_lines_said_alone_are_kept_in_the_room_as_named(self) -> None:
        self.alice.send("/join Dev")
        self.alice.send("anyone?")
        self.assertEqual(self.history.lines, [Line(NOW, Message("Dev", "alice", "anyone?"))])


class ReplayTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory, self.history, self.clock = history_factory()
        self.history.record(Message("lobby", "bob", "hi all"))
        self.clock.advance(5 * 3600 + 123)
        self.history.record(Action("lobby", "bob", "waves"))
        self.history.record(Message("dev", "carol", "in dev"))

    def test_on_signing_on(self) -> None:
        c = Connection(self.factory)
        c.lines()
        c.send("alice")
        self.assertEqual(
            c.lines(),
            [
                "*** Hello alice! Type /help for the commands.",
                "*** You joined lobby (1 member):",
                "*** alice",
                "*** Recent history of lobby (2 lines, times in UTC):",
                "[2026-11-18 11:06] <bob> hi all",
                "[2026-11-18 16:08] * bob waves",
                "*** End of history",
            ],
        )

    def test_on_joining(self) -> None:
        alice = signed_on(self.factory, "alice")
        alice.send("/join DEV")
        self.assertEqual(
            alice.lines(),
            [
                "*** You joined DEV (1 member):",
                "*** alice",
                "*** Recent history of DEV (1 line, times in UTC):",
                "[2026-11-18 16:08] <carol> in dev",
                "*** End of history",
            ],
        )

    def test_a_room_without_history_shows_none(self) -> None:
        alice = signed_on(self.factory, "alice")
        alice.send("/join attic")
        self.assertEqual(alice.lines(), ["*** You joined attic (1 member):", "*** alice"])

    def test_only_the_last_lines(self) -> None:
        self.factory.replay = 1
        alice = signed_on(self.factory, "alice")
        alice.send("/join lobby2")
        alice.send("/join lobby")
        self.assertEqual(
            alice.lines()[-4:],
            [
                "*** alice",
                "*** Recent history of lobby (1 line, times in UTC):",
                "[2026-11-18 16:08] * bob waves",
                "*** End of history",
            ],
        )

    def test_no_replay(self) -> None:
        self.factory.replay = 0
        self.history.at_once = False
        alice = signed_on(self.factory, "alice")
        alice.send("/join dev")
        self.assertEqual(alice.lines(), ["*** You joined dev (1 member):", "*** alice"])
        self.assertEqual(self.history.waiting, [])

    def test_history_lines_fit_the_line_limit(self) -> None:
        factory, _, _ = history_factory(limits=Limits(max_line=256))
        bob = signed_on(factory, "bob")
        longest = "x" * (256 - len("<bob> "))
        bob.send(longest)
        alice = Connection(factory)
        alice.send("alice")
        line = alice.lines()[-2]
        self.assertEqual(line, f"[2026-11-18 11:06] <bob> {longest}"[:253] + "...")
        self.assertEqual(len(line.encode()), 256)


class CachedReplayTests(SynchronousTestCase):
    """
    The replay on joining, with the room's latest lines in memory
    (L{chatsvc.history.cache.RecentCache}, as C{twistd chat} runs): a crowd
    signing on costs one lookup, and once the lines are known nothing waits.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.store = FakeHistory(self.clock, at_once=False)
        self.store.record(Message("lobby", "bob", "hi all"))
        self.cache = RecentCache(self.store, 20, clock=self.clock)
        self.factory = make_factory(clock=self.clock, history=self.cache, replay=20)

    def test_a_crowd_signing_on_asks_once(self) -> None:
        crowd = [Connection(self.factory, host=f"10.0.1.{n}") for n in range(50)]
        for n, c in enumerate(crowd):
            c.send(f"user{n}")
        self.assertEqual(len(self.store.waiting), 1)
        self.store.answer()
        for n, c in enumerate(crowd):
            lines = c.lines()
            at = lines.index("*** Recent history of lobby (1 line, times in UTC):")
            # The replay, then who joined after, held behind it meanwhile.
            self.assertEqual(
                lines[at:],
                [
                    "*** Recent history of lobby (1 line, times in UTC):",
                    "[2026-11-18 11:06] <bob> hi all",
                    "*** End of history",
                    *(f"*** user{later} joined lobby" for later in range(n + 1, 50)),
                ],
            )

    def test_from_memory_nothing_is_held(self) -> None:
        first = Connection(self.factory)
        first.send("first")
        self.store.answer()
        alice = Connection(self.factory)
        alice.send("alice")
        self.assertEqual(self.store.waiting, [])  # no lookup: the lines were in memory
        self.assertFalse(alice.protocol._holding)
        first.send("said after")
        self.assertEqual(
            alice.lines()[-4:],
            [
                "*** Recent history of lobby (1 line, times in UTC):",
                "[2026-11-18 11:06] <bob> hi all",
                "*** End of history",
                "<first> said after",
            ],
        )

    def test_a_replay_from_memory_shows_lines_said_a_moment_ago(self) -> None:
        first = Connection(self.factory)
        first.send("first")
        self.store.answer()
        first.send("just now")
        alice = Connection(self.factory)
        alice.send("alice")
        self.assertEqual(
            alice.lines()[-2:], ["[2026-11-18 11:06] <first> just now", "*** End of history"]
        )

    def test_a_replay_from_memory_costs_as_much_as_a_lookup(self) -> None:
        factory = make_factory(
            clock=self.clock, history=self.cache, replay=20, limits=Limits(rate=1, burst=10)
        )
        first = Connection(factory, host="10.0.0.2")
        first.send("first")
        self.store.answer()
        alice = signed_on(factory, "alice")  # the nickname and its replay: 5 of the 10
        alice.send("/join dev", "/join lobby")  # dev is asked of the store: 5 more
        self.store.answer()
        alice.send("/join lobby")  # in memory, and as dear: it waits
        participant = factory.chat.find("alice")
        assert participant is not None
        self.assertEqual(participant.room.name, "dev")
        self.clock.advance(1)
        self.assertEqual(participant.room.name, "lobby")


class HeldOutputTests(SynchronousTestCase):
    """While a lookup is in flight, everything else for that connection waits behind it."""

    def setUp(self) -> None:
        self.factory, self.history, self.clock = history_factory(
            at_once=False, limits=Limits(rate=0)
        )
        self.history.record(Message("lobby", "carol", "earlier"))
        self.bob = signed_on(self.factory, "bob")
        self.history.answer()
        self.bob.lines()
        self.alice = Connection(self.factory)
        self.alice.lines()
        self.alice.send("alice")
        self.bob.lines()

    def test_live_lines_and_replies_come_after_the_history(self) -> None:
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Hello alice! Type /help for the commands.",
                "*** You joined lobby (2 members):",
                "*** alice, bob",
            ],
        )
        self.bob.send("said during the lookup")
        self.alice.send("/who")
        self.bob.send("/me also")
        self.assertEqual(self.alice.lines(), [])
        self.history.answer()
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Recent history of lobby (1 line, times in UTC):",
                "[2026-11-18 11:06] <carol> earlier",
                "*** End of history",
                "<bob> said during the lookup",
                "*** Members of lobby (2 members):",
                "*** alice, bob",
                "* bob also",
            ],
        )
        self.bob.send("live again")
        self.assertEqual(self.alice.lines(), ["<bob> live again"])

    def test_the_answer_and_what_waited_go_out_in_one_write(self) -> None:
        writes: list[bytes] = []
        self.alice.transport.write = writes.append  # type: ignore[method-assign]
        self.bob.send("one", "two")
        self.history.answer()
        self.assertEqual(len(writes), 1)
        self.assertTrue(writes[0].endswith(b"*** End of history\n<bob> one\n<bob> two\n"))

    def test_lookups_answer_in_the_order_they_were_asked(self) -> None:
        self.alice.send("/history 1", "/search earlier")
        self.history.answer()
        self.assertEqual(
            self.alice.lines()[3:],
            [
                "*** Recent history of lobby (1 line, times in UTC):",
                "[2026-11-18 11:06] <carol> earlier",
                "*** End of history",
                "*** Recent history of lobby (1 line, times in UTC):",
                "[2026-11-18 11:06] <carol> earlier",
                "*** End of history",
                "*** Search results in lobby for earlier (1 line, times in UTC):",
                "[2026-11-18 11:06] <carol> earlier",
                "*** End of search results",
            ],
        )

    def test_at_most_four_lookups_in_flight(self) -> None:
        self.alice.lines()
        self.alice.send("/history 1", "/history 1", "/search x", "/history 1", "/join dev")
        self.assertEqual(len(self.history.waiting), 4)
        self.history.answer()
        lines = self.alice.lines()
        self.assertEqual(
            lines[-3:],
            [
                "*** You joined dev (1 member):",
                "*** alice",
                "*** Error: too many history lookups at once; wait for their answers",
            ],
        )
        self.assertEqual(lines.count("*** End of history"), 3)
        self.alice.send("/history 1")
        self.history.answer()
        self.assertEqual(self.alice.lines(), ["*** No history of dev"])

    def test_a_slow_lookup_is_given_up(self) -> None:
        self.alice.lines()
        self.bob.send("waiting")
        self.clock.advance(LOOKUP_TIMEOUT)
        self.assertEqual(
            self.alice.lines(),
            ["*** Error: the history of lobby is not available right now", "<bob> waiting"],
        )
        self.history.answer()
        self.bob.send("next")
        self.assertEqual(self.alice.lines(), ["<bob> next"])

    def test_too_much_held_gives_the_lookup_up(self) -> None:
        self.alice.lines()
        text = "y" * 4000
        held = 0
        sent = 0
        while held + len(f"<bob> {text}\n") <= HOLD_LIMIT:
            self.bob.send(text)
            held += len(f"<bob> {text}\n")
            sent += 1
        self.assertEqual(self.alice.lines(), [])
        self.bob.send(text)
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Error: the history of lobby is not available right now",
                *[f"<bob> {text}"] * (sent + 1),
            ],
        )

    def test_a_failed_lookup_is_an_error(self) -> None:
        self.alice.lines()
        self.bob.send("after")
        self.history.fail(HistoryError("the store says no"))
        self.assertEqual(self.alice.lines(), ["*** Error: the store says no", "<bob> after"])

    def test_an_unexpected_failure_is_logged(self) -> None:
        self.alice.lines()
        with capturedLogs() as events:
            self.history.fail(RuntimeError("disk on fire"))
        self.assertEqual(
            self.alice.lines(), ["*** Error: the history of lobby is not available right now"]
        )
        self.assertEqual([e["log_format"] for e in events], ["History lookup failed"])
        self.flushLoggedErrors(RuntimeError)

    def test_quitting_waits_for_the_answer_then_says_goodbye(self) -> None:
        """A script that pipes /history then /quit gets the history before the goodbye."""
        self.alice.lines()
        self.bob.send("before you go")
        self.alice.send("/quit", "not read: alice is leaving")
        self.assertEqual(self.alice.lines(), [])
        self.assertFalse(self.alice.transport.disconnecting)
        self.assertEqual(self.bob.lines(), ["*** alice left lobby"], "signed off at once")
        self.history.answer()
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Recent history of lobby (1 line, times in UTC):",
                "[2026-11-18 11:06] <carol> earlier",
                "*** End of history",
                "<bob> before you go",
                "*** Bye!",
            ],
        )
        self.assertTrue(self.alice.transport.disconnecting)
        self.assertEqual(self.bob.lines(), [])
        self.alice.close()
        self.clock.advance(0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_quitting_waits_no_longer_than_the_lookup_timeout(self) -> None:
        self.alice.lines()
        self.alice.send("/quit")
        self.clock.advance(LOOKUP_TIMEOUT)
        lines = self.alice.lines()
        self.assertEqual(lines[-1], "*** Bye!")
        self.assertTrue(self.alice.transport.disconnecting)

    def test_server_shutdown_while_looking_up(self) -> None:
        self.alice.lines()
        self.bob.send("last words")
        self.factory.shut_down()
        self.assertEqual(
            self.alice.lines(), ["<bob> last words", "*** The server is shutting down. Goodbye!"]
        )

    def test_disconnecting_forgets_the_lookup(self) -> None:
        self.alice.lines()
        self.alice.close()
        self.history.answer()
        self.assertEqual(self.alice.lines(), [])
        self.assertEqual([call for call in self.clock.getDelayedCalls() if call.active()], [])


class HistoryCommandTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory, self.history, self.clock = history_factory(replay=0, limits=Limits(rate=0))
        self.alice = signed_on(self.factory, "alice")
        self.bob = signed_on(self.factory, "bob")
        for i in range(25):
            self.bob.send(f"line {i} of the day")
        self.alice.lines()

    def test_history(self) -> None:
        self.alice.send("/history 2")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Recent history of lobby (2 lines, times in UTC):",
                "[2026-11-18 11:06] <bob> line 23 of the day",
                "[2026-11-18 11:06] <bob> line 24 of the day",
                "*** End of history",
            ],
        )

    def test_twenty_lines_unless_told(self) -> None:
        self.alice.send("/history")
        lines = self.alice.lines()
        self.assertEqual(lines[0], "*** Recent history of lobby (20 lines, times in UTC):")
        self.assertEqual(lines[1], "[2026-11-18 11:06] <bob> line 5 of the day")
        self.assertEqual(len(lines), 22)

    def test_at_most_500(self) -> None:
        self.alice.send("/history 500")
        self.assertEqual(len(self.alice.lines()), 25 + 2)
        self.alice.send("/history 0", "/history -1", "/history x", "/history 1 2")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Error: /history shows 1 line or more",
                "*** Error: usage: /history [N]",
                "*** Error: usage: /history [N]",
                "*** Error: usage: /history [N]",
            ],
        )

    def test_more_than_500_is_500(self) -> None:
        """The most /history shows, and a notice saying so before the frame."""
        for i in range(25, 600):
            self.bob.send(f"line {i} of the day")
        self.alice.lines()
        self.alice.send("/history 9999")
        lines = self.alice.lines()
        self.assertEqual(
            lines[:3],
            [
                "*** /history shows the last 500 lines at most",
                "*** Recent history of lobby (500 lines, times in UTC):",
                "[2026-11-18 11:06] <bob> line 100 of the day",
            ],
        )
        self.assertEqual(
            lines[-2:], ["[2026-11-18 11:06] <bob> line 599 of the day", "*** End of history"]
        )
        self.assertEqual(len(lines), 1 + 500 + 2)
        self.alice.send("/join attic", "/history 501")
        self.assertEqual(
            self.alice.lines()[-2:],
            ["*** /history shows the last 500 lines at most", "*** No history of attic"],
        )

    def test_an_empty_room(self) -> None:
        self.alice.send("/join attic", "/history")
        self.assertEqual(self.alice.lines()[-1], "*** No history of attic")

    def test_search(self) -> None:
        self.alice.send("/search LINE 7")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Search results in lobby for LINE 7 (1 line, times in UTC):",
                "[2026-11-18 11:06] <bob> line 7 of the day",
                "*** End of search results",
            ],
        )

    def test_search_shows_the_latest_twenty(self) -> None:
        self.alice.send("/search day")
        lines = self.alice.lines()
        self.assertEqual(lines[0], "*** Search results in lobby for day (20 lines, times in UTC):")
        self.assertEqual(lines[1], "[2026-11-18 11:06] <bob> line 5 of the day")
        self.assertEqual(lines[-2], "[2026-11-18 11:06] <bob> line 24 of the day")

    def test_search_errors(self) -> None:
        self.alice.send("/search nothing-like-it", "/search", "/search   ")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Nothing in lobby matches nothing-like-it",
                "*** Error: usage: /search WORDS",
                "*** Error: usage: /search WORDS",
            ],
        )

    def test_long_searches_are_echoed_in_part(self) -> None:
        self.alice.send("/search " + "day " * 100)
        self.assertEqual(
            self.alice.lines()[0],
            f"*** Search results in lobby for {'day ' * 24}d... (20 lines, times in UTC):",
        )

    def test_search_only_in_the_current_room(self) -> None:
        self.alice.send("/join dev", "/search line")
        self.assertEqual(self.alice.lines()[-1], "*** Nothing in dev matches line")


class NoHistoryTests(SynchronousTestCase):
    def test_lookups_are_refused(self) -> None:
        factory = make_factory(history=NoHistory(), replay=0)
        alice = signed_on(factory, "alice")
        alice.send("hello", "/history", "/search hello")
        self.assertEqual(
            alice.lines(),
            [
                "*** Error: no history is kept on this server",
                "*** Error: no history is kept on this server",
            ],
        )

    def test_the_default(self) -> None:
        factory = make_factory()
        self.assertIsInstance(factory.history, NoHistory)
        self.assertEqual(factory.replay, 0)


class LookupsTests(SynchronousTestCase):
    """The ordering and bounds of held output, alone."""

    def setUp(self) -> None:
        self.sent: list[bytes] = []
        self.clock = Clock()
        self.lookups = Lookups(self.sent.append, self.clock, limit=10, timeout=2)

    def test_answers_that_come_out_of_order_go_out_in_order(self) -> None:
        first: Deferred[bytes] = Deferred()
        second: Deferred[bytes] = Deferred()
        self.lookups.start(Lookup(first, b"late1\n"))
        self.lookups.hold(b"a\n")
        self.lookups.start(Lookup(second, b"late2\n"))
        self.lookups.hold(b"b\n")
        second.callback(b"two\n")
        self.assertEqual(self.sent, [])
        self.assertTrue(self.lookups.busy)
        first.callback(b"one\n")
        self.assertEqual(self.sent, [b"one\na\ntwo\nb\n"])
        self.assertFalse(self.lookups.busy)
        self.assertEqual(self.lookups.held, 0)

    def test_the_bound_gives_up_the_oldest_first(self) -> None:
        first: Deferred[bytes] = Deferred()
        second: Deferred[bytes] = Deferred()
        self.lookups.start(Lookup(first, b"late1\n"))
        self.lookups.hold(b"12345\n")
        self.lookups.start(Lookup(second, b"late2\n"))
        self.lookups.hold(b"67890\n")
        self.assertEqual(self.sent, [b"late1\n12345\n"])
        self.assertEqual(self.lookups.held, 6)
        first.callback(b"ignored\n")
        second.callback(b"two\n")
        self.assertEqual(self.sent, [b"late1\n12345\n", b"two\n67890\n"])

    def test_timeout(self) -> None:
        answer: Deferred[bytes] = Deferred()
        self.lookups.start(Lookup(answer, b"late\n"))
        self.lookups.hold(b"x\n")
        self.clock.advance(2)
        self.assertEqual(self.sent, [b"late\nx\n"])
        answer.callback(b"too late\n")
        self.assertEqual(self.sent, [b"late\nx\n"])

    def test_an_answer_at_once_goes_out_at_once(self) -> None:
        answer: Deferred[bytes] = Deferred()
        answer.callback(b"now\n")
        self.lookups.start(Lookup(answer, b"late\n"))
        self.assertEqual(self.sent, [b"now\n"])
        self.assertFalse(self.lookups.busy)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_drain(self) -> None:
        first: Deferred[bytes] = Deferred()
        second: Deferred[bytes] = Deferred()
        self.lookups.start(Lookup(first, b"late1\n"))
        self.lookups.hold(b"a\n")
        self.lookups.start(Lookup(second, b"late2\n"))
        self.lookups.hold(b"b\n")
        second.callback(b"two\n")
        self.assertEqual(self.lookups.drain(), b"a\ntwo\nb\n")
        self.assertFalse(self.lookups.busy)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        first.callback(b"one\n")
        self.assertEqual(self.sent, [])


class ReplyBudgetTests(SynchronousTestCase):
    """One answer never owes a connection more than a quarter of its send buffer."""

    def test_budget(self) -> None:
        self.assertEqual(reply_budget(1 << 20), 256 * 1024)
        self.assertEqual(reply_budget(40_000), 10_000)
        self.assertEqual(reply_budget(64 << 20), REPLY_LIMIT)
        self.assertEqual(reply_budget(0), REPLY_LIMIT)

    def test_oldest_lines_are_left_out_and_the_heading_says_so(self) -> None:
        factory, _, _ = history_factory(replay=0, limits=Limits(rate=0, max_send_buffer=40_000))
        alice, bob = signed_on(factory, "alice"), signed_on(factory, "bob")
        for i in range(30):
            bob.send(f"{i:02} " + "x" * 997)  # 1,022 bytes with the stamp and the name
        alice.lines()
        alice.send("/history 30")
        lines = alice.lines()
        shown = lines[1:-1]
        self.assertEqual(
            lines[0],
            f"*** Recent history of lobby ({len(shown)} lines, times in UTC; "
            f"{30 - len(shown)} earlier lines left out, too long for one reply):",
        )
        self.assertEqual(len(shown), 9, "9 of 1,022 bytes fit in 10,000; 10 would not")
        self.assertEqual([line[25:27] for line in shown], [str(i) for i in range(21, 30)])
        self.assertEqual(lines[-1], "*** End of history")
        alice.send("/search xxx" + "x" * 994)
        lines = alice.lines()
        self.assertIn("(9 lines, times in UTC; 11 earlier lines left out", lines[0])
        self.assertEqual(len(lines), 11)


class LookupRateTests(SynchronousTestCase):
    """A lookup costs five lines against --rate: the line that asks, and four more."""

    def test_lookups_are_paced_by_the_rate(self) -> None:
        factory, _, clock = history_factory(replay=0, limits=Limits(rate=1, burst=11))
        alice = signed_on(factory, "alice")  # 1 of the 11
        bob = signed_on(factory, "bob", host="10.0.0.2")
        alice.lines()
        alice.send("/history", "/history", "/history", "hello")  # 5 + 5: the third waits
        self.assertEqual(alice.lines(), ["*** No history of lobby"] * 2)
        clock.advance(1)
        self.assertEqual(alice.lines(), ["*** No history of lobby"])
        bob.lines()
        clock.advance(4)
        self.assertEqual(bob.lines(), [], "the third's four more are owed first")
        clock.advance(1)
        self.assertEqual(bob.lines(), ["<alice> hello"])

    def test_the_replay_on_joining_costs_as_much(self) -> None:
        factory, _, clock = history_factory(replay=20, limits=Limits(rate=1, burst=10))
        alice = signed_on(factory, "alice")  # the nickname and its replay: 5 of the 10
        alice.send("/join dev", "/join ops")  # 5 more for the first: the second waits
        participant = factory.chat.find("alice")
        assert participant is not None
        self.assertEqual(participant.room.name, "dev")
        clock.advance(1)
        self.assertEqual(participant.room.name, "ops")
