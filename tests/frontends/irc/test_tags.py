"""
IRCv3 C{message-tags} line by line: client-only tags relayed on C{PRIVMSG},
C{NOTICE} and C{TAGMSG} to the clients that negotiated them and to no
others, C{TAGMSG}'s refusals, and the limits on what a client may send.
"""

from __future__ import annotations

from chatsvc.frontends.irc.message import MAX_CLIENT_TAGS
from chatsvc.frontends.irc.server import RELAYED_TOO_LONG, irc_frontend
from chatsvc.frontends.irc.wire import IrcServer
from chatsvc.streams.limits import Limits
from tests.frontends.irc.test_server import Irc, IrcTestCase, S, counting_renders
from tests.support import make_factory, signed_on

T = "@time=1970-01-01T00:00:00.000Z"


class ClientTagsTestCase(IrcTestCase):
    """
    In C{#lobby}: alice (C{message-tags}, C{echo-message}), bob
    (C{message-tags}, C{server-time}), carol (neither), dave (C{server-time}
    alone) and erin, a line user.
    """

    def setUp(self) -> None:
        super().setUp()
        self.kind = irc_frontend(IrcServer(created=0, msgid_prefix="m"))
        self.alice = self.client("alice", "echo-message message-tags")
        self.bob = self.client("bob", "message-tags server-time")
        self.carol = self.client("carol")
        self.dave = self.client("dave", "server-time")
        self.erin = signed_on(self.factory, "erin")
        self.everyone = (self.alice, self.bob, self.carol, self.dave)
        for client in self.everyone:
            client.lines()
        self.erin.lines()

    def client(self, nick: str, caps: str = "") -> Irc:
        client = self.connect()
        if caps:
            client.send(f"CAP REQ :{caps}")
        client.send(f"NICK {nick}", "USER u 0 * :Real Name", "CAP END", "JOIN #lobby")
        return client

    def quiet(self) -> None:
        """Nobody was told anything."""
        for client in self.everyone:
            self.assertEqual(client.lines(), [])
        self.assertEqual(self.erin.lines(), [])


class RelayTests(ClientTagsTestCase):
    def test_client_tags_reach_only_those_with_message_tags(self) -> None:
        self.alice.send("@+draft/reply=m0;+example.com/flag;fizz=buzz PRIVMSG #lobby :hi")
        tags = "msgid=m1;+draft/reply=m0;+example.com/flag"
        said = ":alice!~u@chatsvc PRIVMSG #lobby :hi"
        self.assertEqual(self.alice.lines(), [f"@{tags} {said}"], "the echo, with the tags")
        self.assertEqual(self.bob.lines(), [f"{T};{tags} {said}"])
        self.assertEqual(self.carol.lines(), [said])
        self.assertEqual(self.dave.lines(), [f"{T} {said}"])
        self.assertEqual(self.erin.lines(), ["<alice> hi"])

    def test_notices_actions_and_private_messages_carry_them(self) -> None:
        self.alice.send(
            "@+a=1 NOTICE #lobby :note",
            "@+a=2 PRIVMSG #lobby :\x01ACTION waves\x01",
            "@+a=3 PRIVMSG bob :psst",
            "@+a=4 PRIVMSG carol :psst",
        )
        self.assertEqual(
            self.bob.lines(),
            [
                f"{T};msgid=m1;+a=1 :alice!~u@chatsvc NOTICE #lobby :note",
                f"{T};msgid=m2;+a=2 :alice!~u@chatsvc PRIVMSG #lobby :\x01ACTION waves\x01",
                f"{T};msgid=m3;+a=3 :alice!~u@chatsvc PRIVMSG bob :psst",
            ],
        )
        self.assertEqual(
            self.carol.lines(),
            [
                ":alice!~u@chatsvc NOTICE #lobby :note",
                ":alice!~u@chatsvc PRIVMSG #lobby :\x01ACTION waves\x01",
                ":alice!~u@chatsvc PRIVMSG carol :psst",
            ],
        )
        self.assertEqual(
            self.alice.lines()[-1], "@msgid=m4;+a=4 :alice!~u@chatsvc PRIVMSG carol :psst"
        )

    def test_a_client_starting_message_tags_later_gets_them(self) -> None:
        self.alice.send("@+a=1 PRIVMSG carol :one")
        self.assertEqual(self.carol.lines(), [":alice!~u@chatsvc PRIVMSG carol :one"])
        self.carol.send("CAP REQ message-tags")
        self.carol.lines()
        self.alice.send("@+a=2 PRIVMSG carol :two")
        self.assertEqual(
            self.carol.lines(), ["@msgid=m2;+a=2 :alice!~u@chatsvc PRIVMSG carol :two"]
        )

    def test_a_client_starting_message_tags_later_has_its_new_lines_counted(self) -> None:
        """The bytes a room is sent are counted by wire, after a change of capabilities too."""
        self.carol.send("CAP REQ message-tags")
        self.carol.lines()
        before = self.factory.traffic.sent_bytes
        self.erin.send("hi")
        told = [line for client in self.everyone for line in client.lines()]
        self.assertEqual(told[2], "@msgid=m1 :erin!erin@chatsvc PRIVMSG #lobby :hi", "carol's")
        self.assertEqual(
            self.factory.traffic.sent_bytes - before, sum(len(line) + 2 for line in told)
        )

    def test_tags_from_a_client_without_message_tags_are_ignored(self) -> None:
        self.dave.send("@+a=1 PRIVMSG #lobby :hi", "@+a=1 TAGMSG #lobby")
        self.assertEqual(self.alice.lines(), ["@msgid=m1 :dave!~u@chatsvc PRIVMSG #lobby :hi"])
        self.assertEqual(self.dave.lines(), [f"{T} {S} 412 dave :No tags to send"])

    def test_escapes_are_undone_and_done_again(self) -> None:
        self.alice.send(r"@+a=semi\:space\sback\\cr\rlf\n;+b=\q;+c=end\ TAGMSG #lobby")
        self.assertEqual(
            self.bob.lines(),
            [
                f"{T};msgid=m1;+a=semi\\:space\\sback\\\\cr\\rlf\\n;+b=q;+c=end :alice!~u@chatsvc "
                "TAGMSG #lobby"
            ],
        )

    def test_odd_keys_are_left_out_not_refused(self) -> None:
        self.alice.send("@+;+a_b=1;+ü=2;+x.y/ok=3;+=4;+ok=;+ok2=\x00v PRIVMSG #lobby :hi")
        self.assertEqual(
            self.bob.lines(),
            [f"{T};msgid=m1;+x.y/ok=3;+ok;+ok2=v :alice!~u@chatsvc PRIVMSG #lobby :hi"],
        )

    def test_the_last_of_a_key_counts(self) -> None:
        self.alice.send("@+a=1;+b=2;+a=3 TAGMSG #lobby")
        self.assertEqual(
            self.bob.lines(), [f"{T};msgid=m1;+a=3;+b=2 :alice!~u@chatsvc TAGMSG #lobby"]
        )

    def test_many_tags(self) -> None:
        many = ";".join(f"+t{i}" for i in range(700))  # 4089 bytes
        self.assertLessEqual(len(many), MAX_CLIENT_TAGS)
        self.alice.send(f"@{many} TAGMSG #lobby")
        self.assertEqual(self.bob.lines(), [f"{T};msgid=m1;{many} :alice!~u@chatsvc TAGMSG #lobby"])


class TagmsgTests(ClientTagsTestCase):
    def test_rendered_once_for_all_of_a_kind(self) -> None:
        more = [self.client(f"tagged{i}", "message-tags") for i in range(3)]
        for client in (*more, *self.everyone):
            client.lines()
        rendered = counting_renders(more[0])
        self.bob.send("@+typing=active TAGMSG #lobby", "@+a PRIVMSG #lobby :hi")
        self.assertEqual(
            len(rendered), 2, "once each, for the four connections of its kind (alice's too)"
        )
        for client in more:
            self.assertEqual(
                client.lines(),
                [
                    "@msgid=m1;+typing=active :bob!~u@chatsvc TAGMSG #lobby",
                    "@msgid=m2;+a :bob!~u@chatsvc PRIVMSG #lobby :hi",
                ],
            )

    def test_to_a_channel(self) -> None:
        self.alice.send(r"@+buzz=fizz\:buzz;cat=dog;+steel=wootz TAGMSG #lobby")
        tagmsg = r"msgid=m1;+buzz=fizz\:buzz;+steel=wootz :alice!~u@chatsvc TAGMSG #lobby"
        self.assertEqual(self.alice.lines(), [f"@{tagmsg}"], "echoed")
        self.assertEqual(self.bob.lines(), [f"{T};{tagmsg}"])
        self.quiet()  # carol and dave lack message-tags; erin's wire has no tags

    def test_to_a_nickname(self) -> None:
        self.alice.send("@+typing=active TAGMSG bob", "@+typing=active TAGMSG carol")
        self.assertEqual(
            self.bob.lines(), [f"{T};msgid=m1;+typing=active :alice!~u@chatsvc TAGMSG bob"]
        )
        self.assertEqual(
            self.alice.lines(),
            [
                "@msgid=m1;+typing=active :alice!~u@chatsvc TAGMSG bob",
                "@msgid=m2;+typing=active :alice!~u@chatsvc TAGMSG carol",
            ],
            "echoed, whether the recipient takes tags or not",
        )
        self.alice.send("@+typing=active TAGMSG erin")
        self.alice.lines()
        self.quiet()

    def test_without_echo_message_the_sender_sees_nothing(self) -> None:
        self.bob.send("@+typing=active TAGMSG #lobby")
        self.assertEqual(self.bob.lines(), [])
        self.assertEqual(
            self.alice.lines(), ["@msgid=m1;+typing=active :bob!~u@chatsvc TAGMSG #lobby"]
        )

    def test_refusals(self) -> None:
        self.alice.send(
            "TAGMSG",
            "@+a TAGMSG :",
            "TAGMSG #lobby",
            "@cat=dog TAGMSG #lobby",
            "@+a TAGMSG #nowhere",
            "@+a TAGMSG #a*b",
            "@+a TAGMSG nobody",
        )
        self.assertEqual(
            self.alice.lines(),
            [
                f"{S} 461 alice TAGMSG :Not enough parameters",
                f"{S} 411 alice :No recipient given (TAGMSG)",
                f"{S} 412 alice :No tags to send",
                f"{S} 412 alice :No tags to send",
                f"{S} 403 alice #nowhere :No such channel",
                f"{S} 403 alice #a*b :No such channel",
                f"{S} 401 alice nobody :No such nick/channel",
            ],
        )
        self.bob.send("JOIN #dev")
        self.bob.lines()
        self.alice.send("@+a TAGMSG #dev")
        self.assertEqual(self.alice.lines(), [f"{S} 404 alice #dev :Cannot send to channel"])
        self.quiet()

    def test_several_targets(self) -> None:
        self.alice.send("@+a TAGMSG #lobby,bob,nobody")
        self.assertEqual(
            self.alice.lines(),
            [
                "@msgid=m1;+a :alice!~u@chatsvc TAGMSG #lobby",
                "@msgid=m2;+a :alice!~u@chatsvc TAGMSG bob",
                f"{S} 401 alice nobody :No such nick/channel",
            ],
        )
        self.assertEqual(len(self.bob.lines()), 2)

    def test_services_and_everyone_are_not_sent_tags(self) -> None:
        self.alice.send("@+a TAGMSG NickServ", "@+a TAGMSG $*")
        self.quiet()

    def test_moderated(self) -> None:
        self.bob.send("JOIN #dev")  # bob makes it: its operator
        self.alice.send("JOIN #dev")
        self.bob.send("MODE #dev +m")
        self.alice.lines(), self.bob.lines()
        self.alice.send("@+a TAGMSG #dev")
        self.assertEqual(self.alice.lines(), [f"{S} 404 alice #dev :Cannot send to channel (+m)"])
        self.assertEqual(self.bob.lines(), [])
        self.bob.send("@+a TAGMSG #dev")
        self.assertEqual(self.alice.lines(), ["@msgid=m1;+a :bob!~u@chatsvc TAGMSG #dev"])

    def test_muted(self) -> None:
        self.bob.send("JOIN #dev")
        self.alice.send("JOIN #dev")
        self.bob.send("MODE #dev +b m:alice")
        self.alice.lines(), self.bob.lines()
        self.alice.send("@+a TAGMSG #dev")
        self.assertEqual(
            self.alice.lines(),
            [f"{S} 404 alice #dev :Cannot send to channel: you are muted in dev for good"],
        )
        self.assertEqual(self.bob.lines(), [])


class LengthTests(ClientTagsTestCase):
    def test_tag_data_up_to_the_limit(self) -> None:
        head = "@foo=bar;+baz="
        value = "a" * (MAX_CLIENT_TAGS - len(head) + 1)  # 4094 bytes between "@" and " "
        self.alice.send(f"{head}{value} TAGMSG #lobby")
        self.assertEqual(
            self.bob.lines(), [f"{T};msgid=m1;+baz={value} :alice!~u@chatsvc TAGMSG #lobby"]
        )
        self.alice.lines()
        self.alice.send(f"{head}{value}a TAGMSG #lobby")
        self.assertEqual(self.alice.lines(), [f"{S} 417 alice :Input line was too long"])
        self.quiet()

    def test_tag_data_and_a_full_line(self) -> None:
        head = "@foo=bar;+baz="
        value = "a" * (MAX_CLIENT_TAGS - len(head) + 1)
        text = "b" * (510 - len("PRIVMSG #lobby :"))
        self.alice.send(f"{head}{value} PRIVMSG #lobby :{text}")
        # A full line, relayed with alice's nick!user@host before it, would be over 512
        # bytes: refused, as irctest's testLengthLimits allows, not cut or split.
        self.assertEqual(self.alice.lines(), [f"{S} 417 alice :{RELAYED_TOO_LONG}"])
        self.assertEqual(self.bob.lines(), [])
        fits = text[: 510 - len(":alice!~alice@chatsvc PRIVMSG #lobby :")]
        self.alice.send(f"{head}{value} PRIVMSG #lobby :{fits}")
        (line,) = self.bob.lines()
        self.assertTrue(line.startswith(f"{T};msgid=m1;+baz={value} :alice"), line[:80])
        self.assertEqual(line.rpartition(" :")[2], fits)
        for client in (self.alice, self.carol, self.dave, self.erin):
            client.lines()
        self.alice.send(f"{head}{value} PRIVMSG #lobby :{text}b")
        self.assertEqual(self.alice.lines(), [f"{S} 417 alice :Input line was too long"])
        self.quiet()

    def test_the_servers_max_line_does_not_cut_irc_input_shorter(self) -> None:
        self.factory = make_factory(limits=Limits(max_line=256))
        alice = self.client("alice2", "message-tags echo-message")
        alice.lines()
        alice.send(f"@+a={'x' * 3000} PRIVMSG #lobby :{'y' * 400}")
        lines = alice.lines()
        self.assertTrue(lines[0].startswith(f"@msgid=m1;+a={'x' * 3000} :alice2"), lines)


class BotModeTests(ClientTagsTestCase):
    """IRCv3 bot mode: C{MODE nick +B}, the C{bot} tag, C{335} in C{WHOIS}, C{B} in C{WHO}."""

    def test_bot_mode(self) -> None:
        for client in self.everyone:
            client.lines()
        self.alice.send("MODE alice +B", "MODE alice")
        self.assertEqual(
            self.alice.lines(), [":alice!~u@chatsvc MODE alice +B", f"{S} 221 alice +B"]
        )
        self.alice.send("PRIVMSG #lobby :beep boop", "PRIVMSG bob :beep")
        said = ":alice!~u@chatsvc PRIVMSG"
        self.assertEqual(
            self.alice.lines(),
            [f"@msgid=m1;bot {said} #lobby :beep boop", f"@msgid=m2;bot {said} bob :beep"],
            "the echo, tagged too",
        )
        self.assertEqual(
            self.bob.lines(),
            [f"{T};msgid=m1;bot {said} #lobby :beep boop", f"{T};msgid=m2;bot {said} bob :beep"],
        )
        self.assertEqual(self.carol.lines(), [f"{said} #lobby :beep boop"])  # no tags: none
        self.assertEqual(self.erin.lines(), ["<alice> beep boop"])
        self.carol.send("WHOIS alice", "WHO alice")
        lines = self.carol.lines()
        self.assertIn(f"{S} 335 carol alice :is a bot", lines)
        self.assertIn(f"{S} 352 carol #lobby ~u chatsvc chatsvc alice HB :0 Real Name", lines)
        self.alice.send("MODE alice -B", "PRIVMSG #lobby :human again")
        self.assertEqual(
            self.bob.lines(), [f"{T};msgid=m3 :alice!~u@chatsvc PRIVMSG #lobby :human again"]
        )
