"""The server protocol over StringTransport: exact lines on the wire."""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogEvent, capturedLogs, formatEvent
from twisted.protocols.basic import LineReceiver
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.commands import HELP
from chatsvc.chat.model import Chat
from chatsvc.frontends.line.server import ChatFactory, describe_address
from chatsvc.streams.limits import Limits
from tests.support import Connection, end_turn, make_factory, signed_on, with_accounts


class HandshakeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory = make_factory()

    def test_greeting_and_prompt(self) -> None:
        c = Connection(self.factory)
        self.assertEqual(c.lines(), ["*** Welcome to chatsvc!", "*** Choose a nickname:"])
        self.assertIn(c.protocol, self.factory.connections)

    def test_sign_on(self) -> None:
        c = Connection(self.factory)
        c.lines()
        c.send("alice")
        self.assertEqual(
            c.lines(),
            [
                "*** Hello alice! Type /help for the commands.",
                "*** You joined lobby (1 member):",
                "*** alice",
            ],
        )

    def test_sign_on_names_who_is_there_and_tells_them(self) -> None:
        bob = signed_on(self.factory, "bob")
        carol = signed_on(self.factory, "carol")
        bob.lines()
        c = Connection(self.factory)
        c.lines()
        c.send(" alice\r")
        self.assertEqual(
            c.lines(),
            [
                "*** Hello alice! Type /help for the commands.",
                "*** You joined lobby (3 members):",
                "*** alice, bob, carol",
            ],
        )
        self.assertEqual(bob.lines(), ["*** alice joined lobby"])
        self.assertEqual(carol.lines(), ["*** alice joined lobby"])

    def test_taken_nickname(self) -> None:
        signed_on(self.factory, "alice")
        c = Connection(self.factory)
        c.lines()
        c.send("ALICE")
        self.assertEqual(
            c.lines(), ["*** Error: the nickname ALICE is taken", "*** Choose a nickname:"]
        )
        c.send("alice2")
        self.assertEqual(c.lines()[0], "*** Hello alice2! Type /help for the commands.")

    def test_empty_line_asks_again(self) -> None:
        """An empty line at the prompt is no attempt at a nickname: the prompt again, no error."""
        c = Connection(self.factory)
        c.lines()
        for empty in ["", "   ", "\r"]:
            c.send(empty)
            self.assertEqual(c.lines(), ["*** Choose a nickname:"])
        c.send("alice")
        self.assertEqual(c.lines()[0], "*** Hello alice! Type /help for the commands.")

    def test_invalid_nickname(self) -> None:
        c = Connection(self.factory)
        c.lines()
        for bad in ["al ice", "x" * 33, "<bob>", "/join"]:
            c.send(bad)
            self.assertEqual(
                c.lines(),
                [
                    f"*** Error: {bad!r} is not a valid nickname: "
                    "use 1-32 letters, digits and _ - . [ ] { } ^ |",
                    "*** Choose a nickname:",
                ],
            )
        self.assertFalse(c.transport.disconnecting)
        self.assertEqual(len(self.factory.chat), 0)

    def test_quit_at_the_prompt(self) -> None:
        c = Connection(self.factory)
        c.lines()
        c.send("/quit")
        self.assertEqual(c.lines(), ["*** Bye!"])
        self.assertTrue(c.transport.disconnecting)

    def test_one_packet_many_lines(self) -> None:
        bob = signed_on(self.factory, "bob")
        c = Connection(self.factory)
        c.protocol.dataReceived(b"alice\r\nhello\r\n/me waves\n")
        self.assertEqual(bob.lines(), ["*** alice joined lobby", "<alice> hello", "* alice waves"])

    def test_split_lines(self) -> None:
        bob = signed_on(self.factory, "bob")
        c = Connection(self.factory)
        for byte in b"alice\nhel\xc3\xa9\n":
            c.protocol.dataReceived(bytes([byte]))
        self.assertEqual(bob.lines(), ["*** alice joined lobby", "<alice> helé"])


class RelayTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory = make_factory()
        self.alice = signed_on(self.factory, "alice")
        self.bob = signed_on(self.factory, "bob")
        self.carol = signed_on(self.factory, "carol")
        self.alice.lines()
        self.bob.lines()

    def test_message_to_everyone_else(self) -> None:
        self.alice.send("hello, world")
        self.assertEqual(self.alice.lines(), [])
        self.assertEqual(self.bob.lines(), ["<alice> hello, world"])
        self.assertEqual(self.carol.lines(), ["<alice> hello, world"])

    def test_blank_lines_are_ignored(self) -> None:
        self.alice.send("", "   ", "\r")
        self.assertEqual(self.alice.lines(), [])
        self.assertEqual(self.bob.lines(), [])

    def test_cannot_impersonate(self) -> None:
        self.alice.send("\r*** bob left lobby", "\x1b[2K\r<bob> I owe alice money")
        self.assertEqual(
            self.bob.lines(),
            ["<alice> *** bob left lobby", "<alice> [2K<bob> I owe alice money"],
        )

    def test_unicode_and_invalid_utf8(self) -> None:
        self.alice.send("grüße ✓ 🎉".encode(), b"bad \xff\xfe bytes")
        self.assertEqual(self.bob.lines(), ["<alice> grüße ✓ 🎉", "<alice> bad \ufffd\ufffd bytes"])

    def test_double_slash(self) -> None:
        self.alice.send("//join is a command")
        self.assertEqual(self.bob.lines(), ["<alice> /join is a command"])

    def test_me(self) -> None:
        self.alice.send("/me waves")
        self.assertEqual(self.bob.lines(), ["* alice waves"])
        self.assertEqual(self.alice.lines(), [])

    def test_msg(self) -> None:
        self.alice.send("/msg BOB psst, over here")
        self.assertEqual(self.bob.lines(), ["*alice* psst, over here"])
        self.assertEqual(self.alice.lines(), ["-> *bob* psst, over here"])
        self.assertEqual(self.carol.lines(), [])

    def test_msg_to_nobody(self) -> None:
        self.alice.send("/msg dave hi")
        self.assertEqual(self.alice.lines(), ["*** Error: there is no user named dave"])

    def test_msg_across_rooms(self) -> None:
        self.bob.send("/join dev")
        self.alice.send("/msg bob still here?")
        self.assertEqual(self.bob.lines()[-1], "*alice* still here?")

    def test_invite(self) -> None:
        self.bob.send("/join dev")
        self.bob.lines(), self.alice.lines(), self.carol.lines()
        self.bob.send("/invite ALICE", "/invite bob", "/invite dave", "/invite")
        self.assertEqual(
            self.bob.lines(),
            [
                "*** You invited alice to dev",
                "*** Error: bob is already in dev",
                "*** Error: there is no user named dave",
                "*** Error: usage: /invite NICK",
            ],
        )
        self.assertEqual(self.alice.lines(), ["*** bob invites you to dev (/join dev)"])
        self.assertEqual(self.carol.lines(), [])

    def test_relayed_line_is_formatted_once(self) -> None:
        """Every recipient gets the very same bytes object."""
        transports: list[StringTransport] = []
        for c in (self.bob, self.carol):
            c.transport.write = transports.append  # type: ignore[method-assign]
        self.alice.send("one line")
        self.assertEqual(transports[0], b"<alice> one line\n")
        self.assertIs(transports[0], transports[1])


class BigRoomTests(SynchronousTestCase):
    def test_joining_a_room_too_big_to_list(self) -> None:
        factory = make_factory(chat=Chat(announce_limit=2), limits=Limits(max_per_ip=0))
        alice, bob = signed_on(factory, "alice"), signed_on(factory, "bob")
        alice.lines()
        carol = Connection(factory)
        carol.lines()
        carol.send("carol")
        self.assertEqual(
            carol.lines(),
            [
                "*** Hello carol! Type /help for the commands.",
                "*** You joined lobby (3 members):",
                "*** Too many to list here; /who lobby lists them.",
            ],
        )
        self.assertEqual(alice.lines(), [])
        carol.send("/who")
        self.assertEqual(
            carol.lines(), ["*** Members of lobby (3 members):", "*** alice, bob, carol"]
        )
        bob.send("/join dev")
        self.assertEqual(bob.lines(), ["*** You joined dev (1 member):", "*** bob"])


class BatchTests(SynchronousTestCase):
    """The lines of one read are handled as a batch, and written out together."""

    def setUp(self) -> None:
        self.factory = make_factory(limits=Limits(rate=0))
        self.alice = signed_on(self.factory, "alice")
        self.bob = signed_on(self.factory, "bob", host="10.0.0.2")
        self.alice.lines()
        self.writes: list[bytes] = []
        self.bob.transport.write = self.writes.append  # type: ignore[method-assign]

    def test_one_line_one_write(self) -> None:
        for i in range(3):
            self.alice.send(f"line {i}")
            end_turn(self.factory)
        self.assertEqual(
            self.writes, [b"<alice> line 0\n", b"<alice> line 1\n", b"<alice> line 2\n"]
        )

    def test_a_burst_is_written_in_two_goes(self) -> None:
        """The first line at once, the rest together at the end of the batch."""
        self.alice.protocol.dataReceived(b"".join(b"line %d\n" % i for i in range(50)))
        self.assertEqual(len(self.writes), 1)
        end_turn(self.factory)
        self.assertEqual(len(self.writes), 2)
        self.assertEqual(self.writes[0], b"<alice> line 0\n")
        self.assertEqual(self.writes[1], b"".join(b"<alice> line %d\n" % i for i in range(1, 50)))

    def test_lines_read_in_one_turn_are_written_together(self) -> None:
        carol = signed_on(self.factory, "carol", host="10.0.0.3")
        self.alice.lines()
        del self.writes[:]
        self.alice.send("from alice")
        carol.send("from carol")
        self.alice.send("alice again")
        self.assertEqual(self.writes, [b"<alice> from alice\n"])
        end_turn(self.factory)
        self.assertEqual(
            self.writes,
            [b"<alice> from alice\n", b"<carol> from carol\n<alice> alice again\n"],
        )
        self.alice.send("next turn")
        self.assertEqual(self.writes[-1], b"<alice> next turn\n")

    def test_quitting_mid_batch_writes_what_was_held_first(self) -> None:
        self.bob.transport.write = StringTransport.write.__get__(self.bob.transport)  # type: ignore[method-assign]
        self.bob.protocol.dataReceived(b"/help\n/quit\n")
        lines = self.bob.lines()
        self.assertEqual(lines[0], "*** Commands:")
        self.assertEqual(lines[-1], "*** Bye!")
        self.assertEqual(len(lines), len(HELP) + 2)


class CommandTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory = make_factory()
        self.alice = signed_on(self.factory, "alice")
        self.bob = signed_on(self.factory, "bob")
        self.alice.lines()

    def test_help(self) -> None:
        self.alice.send("/help")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Commands:",
                "*** /help               this list",
                "*** /nick NEW           change your nickname",
                "*** /join ROOM [KEY]    go to ROOM, creating it if need be; KEY if it has one",
                "*** /part               leave your room for the lobby",
                "*** /rooms              list the rooms and how many are in each",
                "*** /who [ROOM]         list who is in your room, or in ROOM",
                "*** /msg NICK TEXT      send TEXT to NICK alone",
                "*** /invite NICK        ask NICK to join your room",
                "*** /voice NICK         operators: let NICK speak in your moderated room",
                "*** /devoice NICK       operators: take NICK's voice in your room",
                "*** /me ACTION          tell your room what you are doing",
                "*** /away [REASON]      say you are away, and why; without REASON: back",
                "*** /history [N]        the last N lines said in your room (default 20)",
                "*** /search WORDS       the latest lines said in your room with all WORDS",
                "*** /quit [REASON]      leave the chat",
                "*** /topic [TEXT|-delete]",
                "***                     show your room's topic; operators: set it, or clear it",
                "*** /kick NICK [REASON] operators: put NICK out of your room (or of the chat)",
                "*** /stats              operators: users, rooms, connections, load",
                "*** /wall TEXT          operators: a notice to everyone",
                "*** /register PASSWORD  register your nickname as an account",
                "*** /password OLD NEW   change your account's password",
                "*** /unregister         delete your account; its nickname is free",
                "*** /room WHAT          register, unregister, mode MODES, op/deop/owner N",
                "*** /ban [-g] MASK [TIME] [WHY]",
                "***                     operators: keep MASK (nick*, account:N, 10.0.0.0/8) out",
                "*** /unban [-g] MASK    operators: lift a ban",
                "*** /mute [-g] MASK [TIME] [WHY]",
                "***                     operators: MASK may read, not speak; TIME: 30m, 2h, 7d",
                "*** /unmute [-g] MASK   operators: lift a mute",
                "*** /except MASK [TIME] [WHY]",
                "***                     operators: let MASK past your room's bans and mutes",
                "*** /unexcept MASK      operators: lift an exception",
                "*** /invex MASK [TIME] [WHY]",
                "***                     operators: let MASK into your invite-only room uninvited",
                "*** /uninvex MASK       operators: lift an invitation",
                "*** /bans [-g]          the bans, mutes, exceptions and invitations of your room",
                "*** /oper add|del NAME  operators: make account NAME a server operator, or not",
                "*** //TEXT              send a message that starts with /",
                "*** -g                  with /ban /unban /mute /unmute /bans: chat-wide, not room",
                "*** MODES               for /room mode: +i invite-only +m moderated +s secret",
                "***                     +k KEY +l MOST-members +n only members speak",
                "***                     +t only operators set the topic; - clears: -i -k ...",
                "*** anything else       is said to your room",
            ],
        )

    def test_nick(self) -> None:
        self.alice.send("/nick alicia")
        self.assertEqual(self.alice.lines(), ["*** You are now known as alicia"])
        self.assertEqual(self.bob.lines(), ["*** alice is now known as alicia"])
        self.alice.send("hi")
        self.assertEqual(self.bob.lines(), ["<alicia> hi"])
        c = Connection(self.factory)
        c.send("alice")
        self.assertIn("*** Hello alice! Type /help for the commands.", c.lines())

    def test_nick_refused(self) -> None:
        self.alice.send("/nick BOB", "/nick b@d", "/nick alice", "/nick")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Error: the nickname BOB is taken",
                "*** Error: 'b@d' is not a valid nickname: "
                "use 1-32 letters, digits and _ - . [ ] { } ^ |",
                "*** Error: you are already called alice",
                "*** Error: usage: /nick NEW",
            ],
        )
        self.assertEqual(self.bob.lines(), [])

    def test_join(self) -> None:
        self.alice.send("/join dev")
        self.assertEqual(self.alice.lines(), ["*** You joined dev (1 member):", "*** alice"])
        self.assertEqual(self.bob.lines(), ["*** alice left lobby"])
        self.bob.send("/join DEV")
        self.assertEqual(self.bob.lines(), ["*** You joined dev (2 members):", "*** alice, bob"])
        self.assertEqual(self.alice.lines(), ["*** bob joined dev"])
        carol = signed_on(self.factory, "carol")
        carol.send("not heard in dev")
        self.assertEqual(self.alice.lines(), [])
        self.alice.send("only dev hears this")
        self.assertEqual(self.bob.lines(), ["<alice> only dev hears this"])
        self.assertEqual(carol.lines(), [])

    def test_part(self) -> None:
        """/part leaves the room for the lobby, which the room and the lobby are told."""
        self.alice.send("/join dev")
        self.bob.send("/join dev")
        self.alice.lines()
        self.bob.lines()
        self.alice.send("/part")
        self.assertEqual(self.alice.lines(), ["*** You joined lobby (1 member):", "*** alice"])
        self.assertEqual(self.bob.lines(), ["*** alice left dev"])
        self.alice.send("/part", "/part now")
        self.assertEqual(
            self.alice.lines(),
            ["*** Error: you are in lobby; /quit leaves the chat", "*** Error: usage: /part"],
        )
        self.bob.send("/part")
        self.assertEqual(self.alice.lines(), ["*** bob joined lobby"])
        self.assertNotIn("dev", [room.name for room in self.factory.chat.rooms()])

    def test_join_refused(self) -> None:
        self.alice.send("/join lobby", "/join no/such", "/join")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Error: you are already in lobby",
                "*** Error: 'no/such' is not a valid room name: "
                "use 1-32 letters, digits and _ - . [ ] { } ^ |",
                "*** Error: usage: /join ROOM [KEY]",
            ],
        )
        self.assertEqual(self.bob.lines(), [])

    def test_join_with_a_key(self) -> None:
        self.alice.send("/join dev", "/room mode +k beer")
        self.bob.lines()
        self.bob.send("/join dev", "/join dev bees", "/join dev beer")
        self.assertEqual(
            self.bob.lines()[:2],
            [
                "*** Error: dev has a key: join it with the right one (/join dev KEY)",
                "*** Error: dev has a key: join it with the right one (/join dev KEY)",
            ],
        )
        self.assertIn("*** bob joined dev", self.alice.lines())

    def test_rooms(self) -> None:
        """A room to a line, the most populous first, each with its topic."""
        carol = signed_on(self.factory, "carol")
        self.alice.send("/join dev", "/topic release on Friday")
        carol.send("/join dev")
        self.alice.lines()
        self.bob.lines()
        self.bob.send("/rooms")
        self.assertEqual(
            self.bob.lines(), ["*** 2 rooms:", "*** dev (2): release on Friday", "*** lobby (1)"]
        )
        self.bob.send("/join attic")
        self.alice.send("/join lobby")
        self.alice.lines()
        self.alice.send("/rooms")
        self.assertEqual(
            self.alice.lines(),
            ["*** 3 rooms:", "*** attic (1)", "*** dev (1): release on Friday", "*** lobby (1)"],
        )

    def test_who(self) -> None:
        self.alice.send("/who")
        self.assertEqual(
            self.alice.lines(), ["*** Members of lobby (2 members):", "*** alice, bob"]
        )
        self.bob.send("/join dev")
        self.alice.send("/who #DEV", "/who nowhere", "/who a b")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** bob left lobby",
                "*** Members of dev (1 member):",
                "*** bob",
                "*** Error: there is no room named nowhere",
                "*** Error: usage: /who [ROOM]",
            ],
        )

    def test_who_packs_many_names(self) -> None:
        for i in range(100):
            signed_on(self.factory, f"user-number-{i:03d}", host=f"10.0.1.{i}")
        self.alice.lines()
        self.alice.send("/who")
        lines = self.alice.lines()
        self.assertEqual(lines[0], "*** Members of lobby (102 members):")
        self.assertGreater(len(lines), 3)
        names: list[str] = []
        for line in lines[1:]:
            self.assertLessEqual(len(line) + 1, 480)
            names += line.removeprefix("*** ").split(", ")
        self.assertEqual(len(names), 102)
        self.assertEqual(names[:3], ["alice", "bob", "user-number-000"])

    def test_unknown_command(self) -> None:
        self.alice.send("/dance")
        self.assertEqual(self.alice.lines(), ["*** Error: unknown command /dance (try /help)"])
        self.assertFalse(self.alice.transport.disconnecting)

    def test_quit(self) -> None:
        self.alice.protocol.dataReceived(b"/quit\nnever sent\n")
        self.alice.send("nor this")
        self.assertEqual(self.alice.lines(), ["*** Bye!"])
        self.assertTrue(self.alice.transport.disconnecting)
        self.assertEqual(self.bob.lines(), ["*** alice left lobby"])
        self.alice.close()
        self.assertEqual(self.bob.lines(), [])
        self.assertIsNone(self.factory.chat.find("alice"))
        self.assertNotIn(self.alice.protocol, self.factory.connections)

    def test_quit_with_reason(self) -> None:
        self.alice.send("/quit gone \x1b[31mfishing")
        self.assertEqual(self.bob.lines(), ["*** alice left lobby (quit: gone [31mfishing)"])


class ModerationTests(SynchronousTestCase):
    """Topics and kicks over the wire; the rules themselves are the model's."""

    def setUp(self) -> None:
        self.factory = with_accounts(operators=["alice"])
        self.factory.clock.advance(1_795_000_000)  # type: ignore[attr-defined]
        self.alice = Connection(self.factory)
        self.alice.send("alice", "secret")
        self.bob = Connection(self.factory, host="10.0.0.2")
        self.bob.send("bob", "hunter2")
        self.carol = signed_on(self.factory, "carol", host="10.0.0.3")
        for c in (self.alice, self.bob):
            c.lines()

    def test_exceptions_and_invitations(self) -> None:
        self.alice.send("/join dev", "/except carol a friend", "/invex bob", "/bans")
        lines = self.alice.lines()
        self.assertIn("*** Excepted nick:carol in dev, for good: a friend", lines)
        self.assertIn(
            "*** alice let nick:carol past the bans and mutes of dev for good (a friend)", lines
        )
        self.assertIn("*** Invited nick:bob in dev, for good", lines)
        self.assertEqual(
            lines[-4:],
            [
                "*** Bans, mutes, exceptions and invitations in dev (2):",
                "*** exception nick:carol by alice, for good: a friend",
                "*** invitation nick:bob by alice, for good",
                "*** End of list",
            ],
        )
        self.alice.send("/except -g carol", "/unexcept carol")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Error: an exception is a room's, not the chat's: name the room",
                "*** alice lifted the exception of nick:carol in dev",
                "*** Lifted the exception of nick:carol in dev",
            ],
        )

    def test_no_topic(self) -> None:
        self.carol.send("/topic")
        self.assertEqual(self.carol.lines(), ["*** No topic for lobby"])

    def test_operator_sets_the_topic(self) -> None:
        self.alice.send("/topic  Release day: be nice ")
        for c in (self.alice, self.bob, self.carol):
            self.assertEqual(c.lines(), ["*** alice set the topic: Release day: be nice"])
        self.carol.send("/topic")
        self.assertEqual(
            self.carol.lines(),
            ["*** Topic for lobby: Release day: be nice (set by alice, 2026-11-18 11:06 UTC)"],
        )

    def test_operator_clears_the_topic(self) -> None:
        self.alice.send("/topic Release day")
        self.carol.lines()
        self.carol.send("/topic -delete")
        self.assertEqual(self.carol.lines(), ["*** Error: only operators may set the topic"])
        self.alice.send("/topic -delete")
        for c in (self.alice, self.bob, self.carol):
            self.assertEqual(c.lines()[-1:], ["*** alice cleared the topic"])
        self.carol.send("/topic")
        self.assertEqual(self.carol.lines(), ["*** No topic for lobby"])

    def test_joiners_see_the_topic(self) -> None:
        self.alice.send("/join dev", "/topic ship it")
        self.bob.send("/join dev")
        self.assertEqual(
            self.bob.lines()[-3:],
            [
                "*** You joined dev (2 members):",
                "*** alice, bob",
                "*** Topic for dev: ship it (set by alice, 2026-11-18 11:06 UTC)",
            ],
        )
        self.alice.send("/join lobby", "/topic welcome")
        dave = Connection(self.factory, host="10.0.0.4")
        dave.send("dave")
        self.assertEqual(
            dave.lines()[-2:],
            [
                "*** alice, carol, dave",
                "*** Topic for lobby: welcome (set by alice, 2026-11-18 11:06 UTC)",
            ],
        )
        self.bob.send("/who")
        self.assertNotIn("Topic", "\n".join(self.bob.lines()), "not on /who")

    def test_topic_refused(self) -> None:
        self.bob.send("/topic mine")
        self.carol.send("/topic mine")
        for c in (self.bob, self.carol):
            self.assertEqual(c.lines(), ["*** Error: only operators may set the topic"])
        self.assertEqual(self.alice.lines(), [])

    def test_topic_sanitised_and_bounded(self) -> None:
        self.alice.send("/topic \x1b[31mred\x07 alert")
        self.assertEqual(self.carol.lines(), ["*** alice set the topic: [31mred alert"])
        self.alice.lines()
        limit = self.factory.limits.max_line
        self.alice.send("/topic " + "x" * (limit - len("/topic ")))
        (refusal,) = self.alice.lines()
        self.assertTrue(refusal.startswith("*** Error: message too long (4089 bytes; at most "))
        room = int(refusal.split("at most ")[1].split()[0])
        self.alice.send("/topic " + "x" * room, "/topic")
        (changed, shown) = self.alice.lines()
        self.assertEqual(len(shown), limit)
        self.assertLessEqual(len(changed), limit)

    def test_wall_reaches_everyone_in_every_room(self) -> None:
        self.carol.send("/join attic")
        for c in (self.alice, self.bob, self.carol):
            c.lines()
        dave = Connection(self.factory, host="10.0.0.4")  # not signed on: not told
        fan_outs = self.factory.traffic.fan_outs
        with capturedLogs() as events:
            self.alice.send("/wall  Restarting at noon ")
        for c in (self.alice, self.bob, self.carol):
            self.assertEqual(c.lines(), ["*** Notice to everyone from alice: Restarting at noon"])
        self.assertEqual(dave.lines(), ["*** Welcome to chatsvc!", "*** Choose a nickname:"])
        self.assertIn("alice sent a notice to everyone", [formatEvent(e) for e in events])
        self.assertEqual(self.factory.traffic.fan_outs, fan_outs + 1)  # one, for every room

    def test_wall_refused_and_bounded(self) -> None:
        self.bob.send("/wall hello", "/wall")
        self.assertEqual(
            self.bob.lines(),
            [
                "*** Error: only operators may send a notice to everyone",
                "*** Error: usage: /wall TEXT",
            ],
        )
        self.assertEqual(self.carol.lines(), [])
        limit = self.factory.limits.max_line
        self.alice.send("/wall " + "x" * (limit - len("/wall ")))
        (refusal,) = self.alice.lines()
        self.assertTrue(refusal.startswith("*** Error: message too long"), refusal)

    def test_stats(self) -> None:
        self.factory.traffic.started = self.factory.clock.seconds()  # as if it started now
        self.factory.clock.advance(3 * 86400 + 3723.5)  # type: ignore[attr-defined]
        self.carol.send("hello", "/join attic")
        self.alice.send("/stats")
        lines = self.alice.lines()
        self.assertEqual(lines[-7:-1], [
            "*** Server statistics:",
            "*** users: 3 (line 3, irc 0, web 0)",
            "*** connections: 3 (line 3, irc 0, web 0)",
            "*** rooms: 2",
            f"*** messages: {1 / (3 * 86400 + 3723.5):.2f} a second (over the last minute)",
            "*** uptime: 3 days 01:02:03",
        ])  # fmt: skip
        self.assertRegex(lines[-1], r"^\*\*\* memory: \d+\.\d MiB$")
        self.bob.lines()
        self.bob.send("/stats")
        self.assertEqual(
            self.bob.lines(), ["*** Error: only operators may see the server's statistics"]
        )

    def test_kick(self) -> None:
        with capturedLogs() as events:
            self.alice.send("/kick CAROL  flooding the room ")
        self.assertEqual(self.carol.lines(), ["*** You were kicked by alice (flooding the room)"])
        self.assertTrue(self.carol.transport.disconnecting)
        for c in (self.alice, self.bob):
            self.assertEqual(c.lines(), ["*** carol was kicked by alice (flooding the room)"])
        self.assertIn(
            "alice kicked carol from lobby (flooding the room)", [formatEvent(e) for e in events]
        )
        self.carol.close()
        self.assertEqual(self.alice.lines(), [], "no leave notice after the kick")
        self.assertNotIn(self.carol.protocol, self.factory.connections)
        carol = Connection(self.factory, host="10.0.0.3")
        carol.send("carol")
        self.assertIn("*** Hello carol! Type /help for the commands.", carol.lines())

    def test_kick_in_another_room(self) -> None:
        self.carol.send("/join attic")
        self.alice.lines()
        self.bob.lines()
        self.alice.send("/kick carol")
        self.assertEqual(self.alice.lines(), ["*** carol was kicked by alice"])
        self.assertEqual(self.bob.lines(), [])
        self.assertEqual(self.carol.lines()[-1], "*** You were kicked by alice")

    def test_kick_refused(self) -> None:
        self.bob.send("/kick carol")
        self.carol.send("/kick bob")
        for c in (self.bob, self.carol):
            self.assertEqual(c.lines(), ["*** Error: only operators may kick"])
        self.alice.send("/kick nobody", "/kick Alice", "/kick")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** Error: there is no user named nobody",
                "*** Error: you cannot kick yourself",
                "*** Error: usage: /kick NICK [REASON]",
            ],
        )
        self.assertEqual(len(self.factory.chat), 3)

    def test_kick_reason_is_clipped(self) -> None:
        self.alice.send("/kick carol " + "why " * 1000)
        (line,) = self.bob.lines()
        self.assertTrue(line.startswith("*** carol was kicked by alice (why why"))
        self.assertLessEqual(len(line), self.factory.limits.max_line)
        self.assertLessEqual(len(self.carol.lines()[-1]), self.factory.limits.max_line)

    def test_without_accounts_nobody_moderates(self) -> None:
        factory = make_factory()
        alice = signed_on(factory, "alice")
        signed_on(factory, "bob", host="10.0.0.2")
        alice.lines()
        alice.send("/topic hi", "/kick bob")
        self.assertEqual(
            alice.lines(),
            ["*** Error: only operators may set the topic", "*** Error: only operators may kick"],
        )


class DisconnectTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory = make_factory()

    def test_disconnect_tells_the_room_and_frees_the_nickname(self) -> None:
        alice = signed_on(self.factory, "alice")
        bob = signed_on(self.factory, "bob")
        alice.send("/join dev")
        bob.send("/join dev")
        alice.lines()
        bob.close()
        self.assertEqual(alice.lines(), ["*** bob left dev"])
        self.assertIsNone(self.factory.chat.find("bob"))
        self.assertEqual(self.factory.connections, {alice.protocol})
        signed_on(self.factory, "bob")

    def test_disconnect_before_nickname(self) -> None:
        alice = signed_on(self.factory, "alice")
        c = Connection(self.factory)
        c.protocol.dataReceived(b"half a ni")
        c.close()
        self.assertEqual(alice.lines(), [])
        self.assertEqual(self.factory.connections, {alice.protocol})

    def test_disconnect_mid_line(self) -> None:
        alice = signed_on(self.factory, "alice")
        bob = signed_on(self.factory, "bob")
        alice.lines()
        bob.protocol.dataReceived(b"this line never ends")
        bob.close()
        self.assertEqual(alice.lines(), ["*** bob left lobby"])


class ShutdownTests(SynchronousTestCase):
    def test_goodbye_to_everyone(self) -> None:
        clock = Clock()
        factory = ChatFactory(clock=clock)
        alice = signed_on(factory, "alice")
        bob = signed_on(factory, "bob")
        anonymous = Connection(factory)
        alice.lines()
        anonymous.lines()
        done = factory.shut_down()
        for c in (alice, bob, anonymous):
            self.assertEqual(c.lines(), ["*** The server is shutting down. Goodbye!"])
            self.assertTrue(c.transport.disconnecting)
        self.assertNoResult(done)
        for c in (alice, bob, anonymous):
            c.close()
        self.successResultOf(done)
        self.assertEqual(len(factory.chat), 0)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_stragglers_are_aborted(self) -> None:
        clock = Clock()
        factory = ChatFactory(clock=clock)
        stuck = signed_on(factory, "stuck")
        gone = signed_on(factory, "gone", port=40001)
        aborted: list[bool] = []

        def abort() -> None:
            aborted.append(True)
            stuck.close()

        stuck.transport.abortConnection = abort  # type: ignore[method-assign]
        done = factory.shut_down(grace=5)
        gone.close()
        clock.advance(4.9)
        self.assertNoResult(done)
        self.assertEqual(aborted, [])
        clock.advance(0.1)
        self.successResultOf(done)
        self.assertEqual(aborted, [True])
        self.assertEqual(factory.connections, set())

    def test_nobody_connected(self) -> None:
        self.successResultOf(ChatFactory(clock=Clock()).shut_down())


class LoggingTests(SynchronousTestCase):
    def messages(self, events: Sequence[LogEvent]) -> list[str]:
        return [formatEvent(e) for e in events]

    def test_activity_without_message_text(self) -> None:
        factory = make_factory()
        with capturedLogs() as events:
            alice = signed_on(factory, "alice")
            bob = signed_on(factory, "bob", port=40001)
            alice.send("secret text", "/me secret action", "/msg bob secret whisper")
            alice.send("/join dev", "/nick alicia")
            alice.send("/quit bye")
            alice.close()
            bob.close()
        text = self.messages(events)
        self.assertEqual(
            text,
            [
                "10.0.0.1:40000 connected",
                "10.0.0.1:40000 is alice",
                "10.0.0.1:40001 connected",
                "10.0.0.1:40001 is bob",
                "alice left lobby for dev",
                "alice is now known as alicia",
                "alicia left dev (quit: bye)",
                "10.0.0.1:40000 disconnected: Connection was closed cleanly.",
                "bob left lobby",
                "10.0.0.1:40001 disconnected: Connection was closed cleanly.",
            ],
        )

    def test_log_messages(self) -> None:
        factory = make_factory(log_messages=True)
        alice = signed_on(factory, "alice")
        signed_on(factory, "bob")
        with capturedLogs() as events:
            alice.send("hello \x1b[31mred", "/me waves", "/msg bob psst")
        self.assertEqual(
            self.messages(events),
            ["[lobby] <alice> hello [31mred", "[lobby] * alice waves", "*alice* -> bob: psst"],
        )


class AddressTests(SynchronousTestCase):
    def test_describe(self) -> None:
        self.assertEqual(describe_address(IPv4Address("TCP", "1.2.3.4", 5)), "1.2.3.4:5")
        self.assertEqual(describe_address(IPv6Address("TCP", "::1", 5)), "[::1]:5")
        self.assertEqual(describe_address(UNIXAddress(b"/run/chat.sock")), "unix")
        self.assertEqual(describe_address(UNIXAddress(b""), 7), "unix#7")

    def test_unix_peers_are_told_apart(self) -> None:
        """UNIX-socket peers have no address: the log numbers their connections."""
        factory = make_factory()
        with capturedLogs() as events:
            for _ in range(2):
                transport = StringTransport(peerAddress=UNIXAddress(None))
                protocol = factory.buildProtocol(transport.getPeer())
                assert protocol is not None
                protocol.makeConnection(transport)
                protocol.dataReceived(b"/quit\n")
        self.assertEqual(
            [formatEvent(e) for e in events if "connected" in formatEvent(e)],
            ["unix#1 connected", "unix#2 connected"],
        )


class FactoryLogTests(SynchronousTestCase):
    def test_goodbye_counts_in_words(self) -> None:
        factory = make_factory()
        for i in range(2):
            signed_on(factory, f"user{i}", port=i)
        with capturedLogs() as events:
            factory.shut_down()
        self.assertIn("Saying goodbye to 2 connections", [formatEvent(e) for e in events])
        factory = make_factory()
        signed_on(factory, "alone")
        with capturedLogs() as events:
            factory.shut_down()
        self.assertIn("Saying goodbye to 1 connection", [formatEvent(e) for e in events])

    def test_starting_the_factory_is_not_logged(self) -> None:
        """The service says where it listens; Twisted's "Starting factory <...>" says nothing."""
        factory = make_factory()
        with capturedLogs() as events:
            factory.doStart()
            factory.doStop()
        self.assertEqual([formatEvent(e) for e in events], [])


class InMemoryPairTests(SynchronousTestCase):
    """Whole conversations through iosim's in-memory connections."""

    def test_three_clients(self) -> None:
        clock = Clock()
        factory = make_factory(clock=clock)

        class Peer(LineReceiver):
            delimiter = b"\n"

            def __init__(self) -> None:
                self.received: list[str] = []

            def lineReceived(self, line: bytes) -> None:
                self.received.append(line.decode())

        pairs = []
        for _ in range(3):
            client, _server, pump = iosim.connectedServerAndClient(
                lambda: factory.buildProtocol(None), Peer, clock=clock
            )
            pairs.append((client, pump))
        for (client, pump), nick in zip(pairs, ["alice", "bob", "carol"], strict=True):
            client.sendLine(nick.encode())
            pump.flush()
        alice, bob, carol = (client for client, _ in pairs)
        pumps = [pump for _, pump in pairs]
        alice.sendLine(b"hi all")
        for pump in pumps:
            pump.flush()
        self.assertEqual(bob.received[-1], "<alice> hi all")
        self.assertEqual(carol.received[-1], "<alice> hi all")
        self.assertNotIn("<alice> hi all", alice.received)
