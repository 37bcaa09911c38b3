"""The line format: decoding, sanitising, rendering."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.events import (
    Action,
    BanListChanged,
    Event,
    Joined,
    Kicked,
    Left,
    Message,
    ModeChange,
    ModeChanged,
    NickChange,
    PrivateMessage,
    RankChanged,
    Removed,
    TopicChanged,
    VoiceChanged,
)
from chatsvc.chat.model import Topic
from chatsvc.chat.sanctions import Mask
from chatsvc.frontends.line import wire
from chatsvc.history import Line
from chatsvc.sessions.results import HistoryFound, RoomList, RoomSummary


class DecodeTests(SynchronousTestCase):
    def test_trailing_carriage_return(self) -> None:
        self.assertEqual(wire.decode(b"hello\r"), "hello")
        self.assertEqual(wire.decode(b"hello"), "hello")

    def test_only_one_carriage_return_is_a_line_ending(self) -> None:
        self.assertEqual(wire.decode(b"a\rb\r\r"), "ab")

    def test_utf8(self) -> None:
        self.assertEqual(wire.decode("héllo wörld ✓ 🎉".encode()), "héllo wörld ✓ 🎉")

    def test_invalid_utf8_is_replaced(self) -> None:
        self.assertEqual(wire.decode(b"caf\xe9 \xff!"), "caf\ufffd \ufffd!")

    def test_control_characters_removed(self) -> None:
        self.assertEqual(wire.decode(b"\x1b[2J\x1b[31mred\x07\x00\x7f"), "[2J[31mred")
        self.assertEqual(wire.decode("a\u009b31mb\u0085c".encode()), "a31mbc")

    def test_tab_becomes_space(self) -> None:
        self.assertEqual(wire.decode(b"a\tb"), "a b")

    def test_bidi_overrides_removed(self) -> None:
        text = "".join(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
        self.assertEqual(wire.sanitise(f"x{text}y"), "xy")

    def test_line_separators_become_spaces(self) -> None:
        self.assertEqual(wire.sanitise("a\u2028b\u2029c"), "a b c")


class BlankRunTests(SynchronousTestCase):
    """
    Runs of more than four blanks become four spaces: a wide gap could push
    what follows to the start of the next row of a terminal.
    """

    def test_spaces(self) -> None:
        fake = "*** The server is shutting down. Goodbye!"
        self.assertEqual(wire.sanitise("hi" + " " * 200 + fake), f"hi    {fake}")
        self.assertEqual(wire.decode(b" " * 5 + b"x"), "    x")
        self.assertEqual(wire.decode(b"a\t\t \t\tb"), "a    b")

    def test_short_runs_are_kept(self) -> None:
        for text in ["a b", "a  b", "a   b", "a    b", "    ", "a\u3000\u00a0 \u2003b"]:
            self.assertEqual(wire.sanitise(text), text)

    def test_every_kind_of_blank(self) -> None:
        blanks = "\u00a0\u1680\u2000\u2007\u200a\u202f\u205f\u3000\u2800\u3164\uffa0\u115f"
        for blank in blanks:
            self.assertEqual(wire.sanitise(f"a{blank * 5}b"), "a    b", hex(ord(blank)))
        self.assertEqual(wire.sanitise(f"a{blanks}b"), "a    b")
        self.assertEqual(wire.sanitise("a\u2028\u2029\u2028\u2029\u2028b"), "a    b")

    def test_invisible_characters_do_not_split_a_run(self) -> None:
        self.assertEqual(wire.sanitise("a" + " \u200b" * 50 + " b"), "a    b")
        self.assertEqual(wire.sanitise("a \ufeff \u2060\u200d \u00ad \U000e0020\ufe0f b"), "a    b")
        self.assertEqual(wire.sanitise("a \u200b \u200b b"), "a \u200b \u200b b")

    def test_invisible_characters_alone_are_kept(self) -> None:
        flag = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
        self.assertEqual(wire.sanitise(f"go {flag} go"), f"go {flag} go")
        self.assertEqual(
            wire.sanitise("a\u200b\u200b\u200b\u200b\u200bb"), "a" + "\u200b" * 5 + "b"
        )


class RenderTests(SynchronousTestCase):
    def test_each_event(self) -> None:
        cases: list[tuple[Event, bytes]] = [
            (Message("lobby", "alice", "hi there"), b"<alice> hi there\n"),
            (Action("lobby", "alice", "waves"), b"* alice waves\n"),
            (PrivateMessage("alice", "bob", "psst"), b"*alice* psst\n"),
            (Joined("dev", "alice"), b"*** alice joined dev\n"),
            (Left("dev", "alice"), b"*** alice left dev\n"),
            (Left("dev", "alice", "not reading"), b"*** alice left dev (not reading)\n"),
            (Left("dev", "alice", "gone home", True), b"*** alice left dev (quit: gone home)\n"),
            (NickChange("dev", "alice", "alicia"), b"*** alice is now known as alicia\n"),
            (TopicChanged("dev", "alice", "ship it"), b"*** alice set the topic: ship it\n"),
            (Kicked("dev", "bob", "alice"), b"*** bob was kicked by alice\n"),
            (Kicked("dev", "bob", "alice", "spam"), b"*** bob was kicked by alice (spam)\n"),
            (
                ModeChanged("dev", "alice", (ModeChange("i", True),)),
                b"*** alice made dev invite-only\n",
            ),
            (
                ModeChanged("dev", "alice", (ModeChange("m", False),)),
                b"*** alice made dev no longer moderated\n",
            ),
            (
                ModeChanged(
                    "dev",
                    "alice",
                    (
                        ModeChange("k", True, "beer"),
                        ModeChange("l", True, "20"),
                        ModeChange("s", True),
                        ModeChange("n", False),
                        ModeChange("t", False),
                    ),
                ),
                b"*** alice made dev need the key beer to join, take 20 members at most, secret, "
                b"take messages from outside, let any member set its topic\n",
            ),
            (
                ModeChanged(
                    "dev",
                    "alice",
                    (
                        ModeChange("k", False),
                        ModeChange("l", False),
                        ModeChange("s", False),
                        ModeChange("n", True),
                        ModeChange("t", True),
                    ),
                ),
                b"*** alice made dev need no key to join, take any number of members, "
                b"no longer secret, take messages from its members only, "
                b"keep its topic to its operators\n",
            ),
            (VoiceChanged("dev", "bob", "alice"), b"*** alice gave bob a voice in dev\n"),
            (VoiceChanged("dev", "bob", "alice", False), b"*** alice took bob's voice in dev\n"),
            (
                Removed("dev", "bob", "alice", "enough"),
                b"*** bob was put out of dev by alice (enough)\n",
            ),
            (
                RankChanged("dev", "bob", "operator", None, "alice", ("bob",)),
                b"*** alice made bob an operator of dev\n",
            ),
            (
                RankChanged("dev", "bob", None, "owner", "alice"),
                b"*** alice made bob neither owner nor operator of dev\n",
            ),
            (
                BanListChanged("dev", "alice", "ban", Mask.parse("bob"), 7200.0, "spam"),
                b"*** alice banned nick:bob in dev until 1970-01-01 02:00 UTC (spam)\n",
            ),
            (
                BanListChanged("dev", "alice", "exception", Mask.parse("bob"), None, "a friend"),
                b"*** alice let nick:bob past the bans and mutes of dev for good (a friend)\n",
            ),
            (
                BanListChanged("dev", "alice", "invitation", Mask.parse("carol")),
                b"*** alice let nick:carol into dev uninvited for good\n",
            ),
            (
                BanListChanged("dev", "alice", "exception", Mask.parse("bob"), on=False),
                b"*** alice lifted the exception of nick:bob in dev\n",
            ),
            (
                BanListChanged("dev", "alice", "mute", Mask.parse("192.0.2.0/24")),
                b"*** alice muted 192.0.2.0/24 in dev for good\n",
            ),
            (
                BanListChanged("dev", "alice", "ban", Mask.parse("account:bob"), on=False),
                b"*** alice lifted the ban of account:bob in dev\n",
            ),
            (
                BanListChanged("dev", "alice", "mute", Mask.parse("bob"), None, "\x02loud\x02"),
                b"*** alice muted nick:bob in dev for good (loud)\n",
            ),
            (
                BanListChanged("dev", "alice", "ban", Mask.parse("bob"), on=False, expired=True),
                b"*** The ban of nick:bob in dev ran out\n",
            ),
        ]
        for event, line in cases:
            self.assertEqual(wire.render(event), line)

    def test_a_users_reason_is_not_the_servers(self) -> None:
        """C{/quit not reading} does not pass for the server dropping a slow reader."""
        servers = wire.render(Left("lobby", "bob", "not reading"))
        users = wire.render(Left("lobby", "bob", "not reading", from_user=True))
        self.assertEqual(users, b"*** bob left lobby (quit: not reading)\n")
        self.assertNotEqual(users, servers)

    def test_unicode(self) -> None:
        self.assertEqual(wire.render(Message("lobby", "a", "ü ✓")), "<a> ü ✓\n".encode())

    def test_not_an_event(self) -> None:
        self.assertRaises(TypeError, wire.render, "hello")


class NoticeTests(SynchronousTestCase):
    def test_notice_and_error(self) -> None:
        self.assertEqual(wire.notice("hi"), b"*** hi\n")
        self.assertEqual(wire.error("no"), b"*** Error: no\n")

    def test_own_private_message(self) -> None:
        sent = PrivateMessage("alice", "bob", "psst")
        self.assertEqual(wire.own_private_message(sent), b"-> *bob* psst\n")

    def test_kicked(self) -> None:
        self.assertEqual(
            wire.kicked(Kicked("dev", "bob", "alice")), b"*** You were kicked by alice\n"
        )
        self.assertEqual(
            wire.kicked(Kicked("dev", "bob", "alice", "spam")),
            b"*** You were kicked by alice (spam)\n",
        )

    def test_topic(self) -> None:
        self.assertEqual(wire.topic("dev", None), b"*** No topic for dev\n")
        self.assertEqual(
            wire.topic("dev", Topic("ship it", "alice", 1_795_000_000.0)),
            b"*** Topic for dev: ship it (set by alice, 2026-11-18 11:06 UTC)\n",
        )

    def test_topic_overhead(self) -> None:
        """The bytes both topic lines add to the text, the longer of the two."""
        overhead = wire.topic_overhead("dev", "alice")
        shown = wire.topic("dev", Topic("x", "alice", 0.0))
        self.assertEqual(overhead, len(shown) - len("x\n"))
        self.assertGreater(overhead, len(wire.render(TopicChanged("dev", "alice", "x"))) - 2)
        self.assertEqual(
            wire.topic_overhead("r", "bo"),
            len("*** Topic for r:  (set by bo, 1970-01-01 00:00 UTC)"),
        )

    def test_listing_packs_names(self) -> None:
        self.assertEqual(wire.listing(["a", "b", "c"]), [b"*** a, b, c\n"])
        self.assertEqual(wire.listing([]), [])

    def test_listing_wraps_at_width(self) -> None:
        names = [f"user{i:02d}" for i in range(30)]
        lines = wire.listing(names, width=40)
        for line in lines:
            self.assertLessEqual(len(line), 40)
            self.assertTrue(line.startswith(b"*** ") and line.endswith(b"\n"))
        self.assertEqual(lines[0], b"*** user00, user01, user02, user03\n")
        joined = b", ".join(line[4:-1] for line in lines).decode()
        self.assertEqual(joined.split(", "), names)

    def test_listing_exact_fit(self) -> None:
        # "*** " + "aaaa, bbbb" + "\n" is 15 bytes.
        self.assertEqual(wire.listing(["aaaa", "bbbb"], width=15), [b"*** aaaa, bbbb\n"])
        self.assertEqual(wire.listing(["aaaa", "bbbb"], width=14), [b"*** aaaa\n", b"*** bbbb\n"])

    def test_listing_long_item_alone(self) -> None:
        self.assertEqual(
            wire.listing(["x" * 50, "y"], width=20), [b"*** " + b"x" * 50 + b"\n", b"*** y\n"]
        )


class DatedTests(SynchronousTestCase):
    def test_stamped_with_the_minute_in_utc(self) -> None:
        when = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC
        self.assertEqual(
            wire.dated(Message("dev", "alice", "hi"), when), b"[2026-11-18 11:06] <alice> hi\n"
        )
        self.assertEqual(
            wire.dated(Action("dev", "bob", "waves"), when + 3600 * 24 * 44),
            b"[2027-01-01 11:06] * bob waves\n",
        )

    def test_cut_to_the_limit(self) -> None:
        line = wire.dated(Message("dev", "alice", "é" * 300), 0.0, 256)
        self.assertEqual(len(line), 257)
        self.assertTrue(line.startswith(b"[1970-01-01 00:00] <alice> \xc3\xa9"))
        self.assertTrue(line.endswith(b"...\n"))
        line.decode()

    def test_never_rendered_as_a_live_line(self) -> None:
        events: list[Event] = [Message("d", "a", "x"), Action("d", "a", "x")]
        self.assertNotIn(b"[", [wire.render(event)[:1] for event in events])


class ReplayRenderingTests(SynchronousTestCase):
    """
    A crowd joining a room is shown one tuple of its latest lines (the
    history cache's): the renderer renders it once, not once a user.
    """

    def setUp(self) -> None:
        self.renderer = wire.LineRenderer(1024, 4096)
        self.lines = (Line(1_795_000_000, Message("lobby", "bob", "hi")),)

    def render(self, lines: tuple[Line, ...], room: str = "lobby") -> bytes:
        return self.renderer.render(HistoryFound(room, lines, None, joining=True))

    def test_the_same_lines_are_rendered_once(self) -> None:
        first = self.render(self.lines)
        self.assertIs(self.render(self.lines), first)
        self.assertIn(b"<bob> hi", first)

    def test_new_lines_are_rendered_anew(self) -> None:
        first = self.render(self.lines)
        more = (*self.lines, Line(1_795_000_001, Message("lobby", "bob", "there")))
        again = self.render(more)
        self.assertIsNot(again, first)
        self.assertIn(b"<bob> there", again)
        # Equal lines in a new tuple are rendered again, and the same.
        self.assertEqual(self.render(tuple(more)), again)

    def test_rooms_and_kinds_are_apart(self) -> None:
        lobby = self.render(self.lines)
        self.assertIn(b"history of dev", self.render(self.lines, "dev"))
        asked = self.renderer.render(HistoryFound("lobby", self.lines, None, joining=False))
        self.assertEqual(asked, lobby)
        self.assertIs(self.render(self.lines), lobby)

    def test_what_is_kept_is_bounded(self) -> None:
        for n in range(wire.REPLAYS_KEPT * 3):
            self.render(self.lines, f"room{n}")
        self.assertLessEqual(len(self.renderer._replays), wire.REPLAYS_KEPT)


class RoomListRenderingTests(SynchronousTestCase):
    def test_a_room_to_a_line_with_its_topic(self) -> None:
        rooms = RoomList(
            (RoomSummary("dev", 3, Topic("release on Friday", "bob", 0.0)), RoomSummary("x", 1))
        )
        self.assertEqual(
            wire.LineRenderer(1024, 4096).render(rooms),
            b"*** 2 rooms:\n*** dev (3): release on Friday\n*** x (1)\n",
        )

    def test_bounded_as_the_lines_of_who(self) -> None:
        """A long topic is cut to the listing's width, or to the line limit if narrower."""
        topic = Topic("\u00e9" * 400, "bob", 0.0)
        rooms = RoomList((RoomSummary("dev", 3, topic),))
        for max_line, width in [(1024, wire.LIST_WIDTH), (100, 101)]:
            with self.subTest(max_line=max_line):
                shown = wire.LineRenderer(max_line, 4096).render(rooms).split(b"\n")
                self.assertIn(len(shown[1]) + 1, (width - 1, width))  # cut between characters
                self.assertTrue(shown[1].startswith(b"*** dev (3): \xc3\xa9"))
                self.assertTrue(shown[1].endswith(b"\xc3\xa9..."))


class SanitiseFastPathTests(SynchronousTestCase):
    """Printable ASCII without a long run of spaces comes back as it is; the rest is cleaned."""

    def slow(self, text: str) -> str:
        return wire._BLANK_RUN.sub(" " * wire.BLANK_RUN, text.translate(wire._UNSAFE))

    def test_the_same_as_the_full_cleaning(self) -> None:
        samples = [
            "plain text",
            "",
            "    four",
            "     five",
            "a" + " " * 5,
            "tab\there",
            "esc\x1b[31m",
            "del\x7f",
            "nul\x00",
            "~!@#$%^&*()_+{}|:<>?",
            "caf\u00e9     x",
            "\u00a0" * 6,
            "bidi\u202e",
            *(chr(c) * 3 for c in range(0x00, 0x80)),
        ]
        for text in samples:
            self.assertEqual(wire.sanitise(text), self.slow(text), repr(text))

    def test_printable_ascii_is_not_copied(self) -> None:
        text = "".join(["hello", " world"])
        self.assertIs(wire.sanitise(text), text)
