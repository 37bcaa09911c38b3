"""
Operators' TOPIC and KICK, from IRC and from the line protocol, as both
wires' users see them in one room.
"""

from __future__ import annotations

from chatsvc.frontends.line.server import ChatFactory
from tests.frontends.irc.test_server import IrcTestCase, S
from tests.support import Connection, with_accounts


class ModerationTests(IrcTestCase):
    def make_factory(self) -> ChatFactory:
        return with_accounts(operators=["Root", "bob"])

    def setUp(self) -> None:
        super().setUp()
        self.root = self.connect()
        self.root.send("PASS t00r", "NICK Root", "USER r 0 * :R", "JOIN #lobby")
        self.carol = self.registered("carol")
        self.carol.send("JOIN #lobby")
        self.dave = Connection(self.factory)
        self.dave.send("dave")
        self.root.lines(), self.carol.lines(), self.dave.lines()

    def line_operator(self) -> Connection:
        bob = Connection(self.factory, port=40001)
        bob.send("bob", "hunter2")
        bob.lines()
        self.root.lines(), self.carol.lines(), self.dave.lines()
        return bob

    def test_an_irc_operator_sets_the_topic(self) -> None:
        self.root.send("TOPIC #lobby :Release on Friday")
        topic = ":Root!~r@chatsvc TOPIC #lobby :Release on Friday"
        self.assertEqual(self.root.lines(), [topic])
        self.assertEqual(self.carol.lines(), [topic])
        self.assertEqual(self.dave.lines(), ["*** Root set the topic: Release on Friday"])
        self.dave.send("/topic")
        self.assertEqual(
            self.dave.lines(),
            ["*** Topic for lobby: Release on Friday (set by Root, 1970-01-01 00:00 UTC)"],
        )
        self.carol.send("TOPIC #lobby")
        self.assertEqual(
            self.carol.lines(),
            [
                f"{S} 332 carol #lobby :Release on Friday",
                f"{S} 333 carol #lobby Root!~r@chatsvc 0",
            ],
        )

    def test_a_line_operator_sets_the_topic(self) -> None:
        bob = self.line_operator()
        bob.send("/topic Standup at ten")
        self.assertEqual(bob.lines(), ["*** bob set the topic: Standup at ten"])
        self.assertEqual(self.dave.lines(), ["*** bob set the topic: Standup at ten"])
        topic = ":bob!bob@chatsvc TOPIC #lobby :Standup at ten"
        self.assertEqual(self.root.lines(), [topic])
        self.assertEqual(self.carol.lines(), [topic])
        irc = self.registered("erin")
        irc.send("JOIN #lobby")
        self.assertEqual(
            irc.lines()[1:3],
            [
                f"{S} 332 erin #lobby :Standup at ten",
                f"{S} 333 erin #lobby bob!bob@chatsvc 0",
            ],
        )

    def test_an_irc_operator_kicks_a_line_user(self) -> None:
        self.root.send("KICK #lobby dave :flooding")
        kick = ":Root!~r@chatsvc KICK #lobby dave flooding"
        self.assertEqual(self.root.lines(), [kick])
        self.assertEqual(self.carol.lines(), [kick])
        self.assertEqual(self.dave.lines(), ["*** You were kicked by Root (flooding)"])
        self.assertTrue(self.dave.transport.disconnecting)
        self.assertIsNone(self.factory.chat.find("dave"))

    def test_an_irc_operator_kicks_an_irc_user_without_a_reason(self) -> None:
        self.root.send("KICK #lobby carol")
        kick = ":Root!~r@chatsvc KICK #lobby carol Root"
        self.assertEqual(self.root.lines(), [kick])
        self.assertEqual(self.carol.lines(), [kick, "ERROR :Closing Link: Kicked by Root (Root)"])
        self.assertTrue(self.carol.transport.disconnecting)
        self.assertEqual(self.dave.lines(), ["*** carol was kicked by Root"])

    def test_a_line_operator_kicks_an_irc_user(self) -> None:
        bob = self.line_operator()
        bob.send("/kick carol spam")
        self.assertEqual(bob.lines(), ["*** carol was kicked by bob (spam)"])
        kick = ":bob!bob@chatsvc KICK #lobby carol spam"
        self.assertEqual(self.root.lines(), [kick])
        self.assertEqual(self.carol.lines(), [kick, "ERROR :Closing Link: Kicked by bob (spam)"])
        self.assertEqual(self.dave.lines(), ["*** carol was kicked by bob (spam)"])
        self.carol.close()
        self.assertEqual(self.root.lines(), [], "no QUIT after the KICK")

    def test_a_kick_from_a_channel_the_target_is_not_in(self) -> None:
        self.root.send("JOIN #dev")
        self.root.lines()
        self.root.send("KICK #dev carol", "KICK #dev nobody")
        self.assertEqual(
            self.root.lines(),
            [
                f"{S} 441 Root carol #dev :They aren't on that channel",
                f"{S} 441 Root nobody #dev :They aren't on that channel",
            ],
        )
        self.assertEqual(self.carol.lines(), [])
        self.assertIsNotNone(self.factory.chat.find("carol"))

    def test_guests_may_do_neither(self) -> None:
        self.carol.send("TOPIC #lobby :mine", "KICK #lobby dave")
        self.assertEqual(
            self.carol.lines(),
            [
                f"{S} 482 carol #lobby :You're not channel operator",
                f"{S} 482 carol #lobby :You're not channel operator",
            ],
        )
        self.dave.send("/topic mine", "/kick carol")
        self.assertEqual(
            self.dave.lines(),
            ["*** Error: only operators may set the topic", "*** Error: only operators may kick"],
        )
        self.assertEqual(self.root.lines(), [])

    def test_a_notice_to_everyone_on_every_wire(self) -> None:
        bob = self.line_operator()
        self.root.send("NOTICE $* :Restarting at noon")
        notice = ":Root!~r@chatsvc NOTICE $* :Restarting at noon"
        self.assertEqual((self.root.lines(), self.carol.lines()), ([notice], [notice]))
        line = "*** Notice to everyone from Root: Restarting at noon"
        self.assertEqual((self.dave.lines(), bob.lines()), ([line], [line]))
        bob.send("/wall back at one")
        self.assertEqual(self.carol.lines(), [":bob!bob@chatsvc NOTICE $* :back at one"])
        self.assertEqual(self.dave.lines(), ["*** Notice to everyone from bob: back at one"])
        self.carol.send("PRIVMSG $* :me too")
        self.assertEqual(
            self.carol.lines(),
            [f"{S} NOTICE carol :only operators may send a notice to everyone"],
        )
        self.assertEqual(self.dave.lines(), [])

    def test_stats(self) -> None:
        self.root.send("STATS u")
        lines = self.root.lines()
        self.assertEqual(lines[:4], [
            f"{S} 249 Root :Server statistics:",
            f"{S} 249 Root :users: 3 (line 1, irc 2, web 0)",
            f"{S} 249 Root :connections: 3 (line 1, irc 2, web 0)",
            f"{S} 249 Root :rooms: 1",
        ])  # fmt: skip
        self.assertEqual(lines[5], f"{S} 249 Root :uptime: 0 days 00:00:00")
        self.assertEqual(lines[-2:], [
            f"{S} 242 Root :Server Up 0 days 00:00:00",
            f"{S} 219 Root u :End of /STATS report",
        ])  # fmt: skip
        self.carol.send("STATS")
        self.assertEqual(
            self.carol.lines(), [f"{S} 481 carol :Permission Denied- You're not an IRC operator"]
        )


class OperTests(IrcTestCase):
    """C{OPER} logs a signed-on user in to an operator's account; C{KILL} is a kick."""

    def make_factory(self) -> ChatFactory:
        return with_accounts(operators=["Root", "bob"])

    def test_oper(self) -> None:
        carol = self.registered("carol")
        carol.send("OPER bob hunter2")
        self.assertEqual(
            carol.lines(),
            [f"{S} 381 carol :You are now an IRC operator", ":carol!~u@chatsvc MODE carol +o"],
        )
        participant = self.factory.chat.find("carol")
        assert participant is not None and participant.account is not None
        self.assertEqual((participant.account.name, participant.operator), ("bob", True))
        carol.send("MODE carol", "OPER bob hunter2", "WHOIS carol")
        self.assertEqual(
            carol.lines(),
            [
                f"{S} 221 carol +o",
                f"{S} 381 carol :You are now an IRC operator",
                f"{S} 311 carol carol ~u chatsvc * :Real Name",
                f"{S} 312 carol carol chatsvc chatsvc",
                f"{S} 313 carol carol :is an IRC operator",
                f"{S} 330 carol carol bob :is logged in as",
                f"{S} 318 carol carol :End of /WHOIS list",
            ],
        )

    def test_oper_refused(self) -> None:
        carol = self.registered("carol")
        carol.send("OPER alice secret", "OPER bob")
        self.assertEqual(
            carol.lines(),
            [
                f"{S} 491 carol :alice is not an operator",
                f"{S} 461 carol OPER :Not enough parameters",
            ],
        )
        carol.send("OPER bob wrong", "PING x")
        self.assertEqual(carol.lines(), [], "nothing is read for 3 seconds")
        self.factory.clock.advance(3)  # type: ignore[attr-defined]
        self.assertEqual(
            carol.lines(), [f"{S} 464 carol :Password incorrect", f"{S} PONG chatsvc x"]
        )
        carol.send("OPER nobody x")
        self.factory.clock.advance(3)  # type: ignore[attr-defined]
        carol.send("OPER bob wrong")
        self.factory.clock.advance(3)  # type: ignore[attr-defined]
        self.assertEqual(
            carol.lines(),
            [f"{S} 464 carol :Password incorrect", "ERROR :Closing Link: Too many wrong passwords"],
        )
        self.assertTrue(carol.transport.disconnecting)

    def test_oper_logged_in_to_another_account(self) -> None:
        alice = self.connect()
        alice.send("PASS secret", "NICK alice", "USER u 0 * :A")
        alice.lines()
        alice.send("OPER bob hunter2", "OPER alice secret")
        self.assertEqual(
            alice.lines(),
            [
                f"{S} 491 alice :You are logged in to alice",
                f"{S} 491 alice :alice is not an operator",
            ],
        )

    def test_kill(self) -> None:
        carol, dave = self.registered("carol"), self.registered("dave")
        dave.send("KILL carol :go away", "KILL dave")
        refused = f"{S} 481 dave :Permission Denied- You're not an IRC operator"
        self.assertEqual(dave.lines(), [refused, refused])
        carol.send("OPER bob hunter2", "KILL nobody", "KILL dave :go away")
        self.assertEqual(
            carol.lines()[2:],
            [
                f"{S} 401 carol nobody :No such nick/channel",
                ":carol!~u@chatsvc KICK #lobby dave :go away",
            ],
        )
        self.assertEqual(
            dave.lines(),
            [
                ":carol!~u@chatsvc KICK #lobby dave :go away",
                "ERROR :Closing Link: Kicked by carol (go away)",
            ],
        )
        self.assertIsNone(self.factory.chat.find("dave"))

    def test_wallops(self) -> None:
        carol, dave, erin = (
            self.registered("carol"),
            self.registered("dave"),
            self.registered("erin"),
        )
        dave.send("MODE dave +w")
        dave.lines()
        erin.send("WALLOPS :hi")
        self.assertEqual(
            erin.lines(), [f"{S} 481 erin :Permission Denied- You're not an IRC operator"]
        )
        carol.send("OPER bob hunter2")
        carol.lines()
        carol.send("WALLOPS :restart at noon")
        wallops = ":carol!~u@chatsvc WALLOPS :restart at noon"
        self.assertEqual((carol.lines(), dave.lines(), erin.lines()), ([wallops], [wallops], []))

    def test_info(self) -> None:
        carol = self.registered("carol")
        carol.send("INFO")
        self.assertEqual(
            carol.lines(),
            [
                f"{S} 371 carol :chatsvc-0.1.0: a Twisted chat server",
                f"{S} 371 carol :On chatsvc since 1970-01-01 00:00:00 UTC",
                f"{S} 374 carol :End of /INFO list",
            ],
        )

    def test_links(self) -> None:
        carol = self.registered("carol")
        carol.send("LINKS", "LINKS *.org", "LINKS chat*")
        self.assertEqual(
            carol.lines(),
            [
                f"{S} 364 carol chatsvc chatsvc :0 chatsvc",
                f"{S} 365 carol * :End of /LINKS list",
                f"{S} 365 carol *.org :End of /LINKS list",
                f"{S} 364 carol chatsvc chatsvc :0 chatsvc",
                f"{S} 365 carol chat* :End of /LINKS list",
            ],
        )


class ChannelOperatorTests(IrcTestCase):
    """Whoever makes a channel is its operator (C{@}), and gives and takes C{+o}."""

    def setUp(self) -> None:
        super().setUp()
        self.alice, self.bob = self.registered("alice"), self.registered("bob")
        self.alice.send("JOIN #dev")
        self.bob.send("JOIN #dev")
        self.dave = Connection(self.factory)
        self.dave.send("dave", "/join dev")
        self.alice.lines(), self.bob.lines(), self.dave.lines()

    def test_the_maker_is_the_operator(self) -> None:
        self.bob.send("NAMES #dev", "WHOIS alice", "TOPIC #dev :mine")
        self.assertEqual(
            self.bob.lines(),
            [
                f"{S} 353 bob = #dev :@alice bob dave",
                f"{S} 366 bob #dev :End of /NAMES list",
                f"{S} 311 bob alice ~u chatsvc * :Real Name",
                f"{S} 319 bob alice @#dev",
                f"{S} 312 bob alice chatsvc chatsvc",
                f"{S} 318 bob alice :End of /WHOIS list",
                f"{S} 482 bob #dev :You're not channel operator",
            ],
        )
        self.alice.send("TOPIC #dev :ours")
        self.assertEqual(self.bob.lines(), [":alice!~u@chatsvc TOPIC #dev ours"])
        self.assertEqual(self.dave.lines(), ["*** alice set the topic: ours"])

    def test_creation_time(self) -> None:
        self.factory.clock.advance(60)  # type: ignore[attr-defined]
        self.bob.send("JOIN #ops", "MODE #ops", "MODE #dev")
        self.bob.lines()
        self.dave.send("/join attic")
        self.bob.send("MODE #ops", "MODE #attic")
        self.assertEqual(
            self.bob.lines(),
            [
                ":dave!dave@chatsvc PART #dev",
                f"{S} 324 bob #ops +nt",
                f"{S} 329 bob #ops 60",
                f"{S} 324 bob #attic +nt",
                f"{S} 329 bob #attic 60",
            ],
        )
        self.bob.send("MODE #lobby")
        self.assertEqual(self.bob.lines(), [f"{S} 324 bob #lobby +nt"], "made with the chat")

    def test_giving_and_taking(self) -> None:
        self.alice.send("MODE #dev +o bob")
        given = ":alice!~u@chatsvc MODE #dev +o bob"
        self.assertEqual(self.alice.lines(), [given])
        self.assertEqual(self.bob.lines(), [given])
        self.assertEqual(self.dave.lines(), ["*** alice made bob an operator of dev"])
        self.bob.send("MODE #dev -o+o alice dave", "WHO #dev")
        self.assertEqual(
            self.bob.lines(),
            [
                ":bob!~u@chatsvc MODE #dev -o alice",
                ":bob!~u@chatsvc MODE #dev +o dave",
                f"{S} 352 bob #dev ~u chatsvc chatsvc alice H :0 Real Name",
                f"{S} 352 bob #dev ~u chatsvc chatsvc bob H@ :0 Real Name",
                f"{S} 352 bob #dev dave chatsvc chatsvc dave H@ :0 dave",
                f"{S} 315 bob #dev :End of WHO list",
            ],
        )
        self.assertEqual(
            self.dave.lines(),
            ["*** bob took alice's operator rights in dev", "*** bob made dave an operator of dev"],
        )
        self.alice.lines()
        self.alice.send("MODE #dev +o alice")
        self.assertEqual(self.alice.lines(), [f"{S} 482 alice #dev :You're not channel operator"])

    def test_refusals(self) -> None:
        carol = self.registered("carol")
        carol.send("MODE #dev +o carol", "MODE #nowhere +o carol")
        self.alice.send("MODE #dev +o nobody", "MODE #dev +o carol", "MODE #dev +o alice")
        self.assertEqual(
            carol.lines(),
            [
                f"{S} 442 carol #dev :You're not on that channel",
                f"{S} 403 carol #nowhere :No such channel",
            ],
        )
        self.assertEqual(
            self.alice.lines(),
            [
                f"{S} 401 alice nobody :No such nick/channel",
                f"{S} 441 alice carol #dev :They aren't on that channel",
            ],
            "and nothing for a change that changes nothing",
        )
        self.assertEqual(self.bob.lines(), [])

    def test_invite(self) -> None:
        carol = self.registered("carol")
        carol.send("AWAY :lunch")
        carol.lines()
        self.alice.send("INVITE carol #dev", "INVITE dave #dev")
        self.assertEqual(
            self.alice.lines(),
            [
                f"{S} 341 alice carol #dev",
                f"{S} 301 alice carol lunch",
                f"{S} 443 alice dave #dev :is already on channel",
            ],
        )
        self.assertEqual(carol.lines(), [":alice!~u@chatsvc INVITE carol #dev"])
        self.assertEqual(self.bob.lines(), [], "only the one invited is told")
        self.dave.send("/join lobby")
        self.dave.lines(), self.bob.lines()
        self.bob.send("INVITE dave #dev")
        self.assertEqual(self.bob.lines(), [f"{S} 341 bob dave #dev"])
        self.assertEqual(self.dave.lines(), ["*** bob invites you to dev (/join dev)"])

    def test_invite_refused(self) -> None:
        carol = self.registered("carol")
        carol.send("INVITE bob #dev", "INVITE nobody #dev", "INVITE bob #nowhere", "INVITE bob")
        self.alice.send("INVITE bob #dev")
        self.assertEqual(
            carol.lines(),
            [
                f"{S} 442 carol #dev :You're not on that channel",
                f"{S} 401 carol nobody :No such nick/channel",
                f"{S} 403 carol #nowhere :No such channel",
                f"{S} 461 carol INVITE :Not enough parameters",
            ],
        )
        self.assertEqual(self.alice.lines(), [f"{S} 443 alice bob #dev :is already on channel"])
