"""
Operators' TOPIC and KICK, from IRC and from the line protocol, as both
wires' users see them in one room; and accounts and moderation on IRC
(L{chatsvc.frontends.irc.moderation}): C{REGISTER}, channel modes, bans and
mutes as C{+b}, room kicks, C{KLINE}, and the numerics of each refusal.
"""

from __future__ import annotations

from twisted.cred.portal import Portal
from twisted.internet.defer import succeed
from twisted.internet.task import Clock

from chatsvc.accounts import Accounts, ChatRealm
from chatsvc.accounts.registered import RegisteredAccounts
from chatsvc.chat.model import Chat
from chatsvc.chat.sanctions import MAX_PER_SCOPE, Mask, Sanction, SanctionKind
from chatsvc.frontends.irc.server import irc_frontend
from chatsvc.frontends.irc.wire import IrcServer
from chatsvc.frontends.line.server import ChatFactory
from chatsvc.registry import MemoryRegistry
from chatsvc.sessions.registration import Registrar
from chatsvc.streams.limits import Limits
from tests.frontends.irc.test_server import Irc, IrcTestCase, S, counting_renders
from tests.sessions.test_moderation import ROOT_HASH, quick_hash
from tests.support import Connection, make_factory, with_accounts

CS = ":ChanServ!ChanServ@chatsvc NOTICE"


def registering_factory(*, open: bool = True, per_address: int = 3) -> ChatFactory:
    """
    A chat whose users register accounts (kept in memory, hashed quickly);
    C{root} (password C{rootroot}) is a server operator. Clients may send
    100 lines at once.
    """
    clock = Clock()
    registry = MemoryRegistry()
    registered = RegisteredAccounts([("root", ROOT_HASH)], run_in_thread=lambda f, a: succeed(f(a)))
    accounts = Accounts([registered])
    registrar = Registrar(
        registered, registry, clock, open=open, per_address=per_address, hash=quick_hash
    )
    return make_factory(
        chat=Chat(accounts=accounts, clock=clock.seconds),
        portal=Portal(ChatRealm(["root"]), [accounts]),
        registry=registry,
        registrar=registrar,
        clock=clock,
        limits=Limits(burst=100),
    )


class RegisteringTestCase(IrcTestCase):
    def make_factory(self) -> ChatFactory:
        return registering_factory()

    def account(self, nick: str, port: int = 50000) -> Irc:
        """C{nick}, signed on and registered (password C{nick * 4})."""
        client = Irc(self.factory, self.kind, port)
        client.send(f"NICK {nick}", "USER u 0 * :Real Name", f"REGISTER * * {nick * 4}")
        client.lines()
        return client

    def root(self) -> Irc:
        client = Irc(self.factory, self.kind, 50001)
        client.send("PASS rootroot", "NICK root", "USER r 0 * :Root")
        client.lines()
        return client


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

    def test_an_irc_operator_clears_the_topic(self) -> None:
        self.root.send("TOPIC #lobby :Release on Friday", "TOPIC #lobby :")
        cleared = ":Root!~r@chatsvc TOPIC #lobby :"
        self.assertEqual(self.root.lines()[-1:], [cleared])
        self.assertEqual(self.carol.lines()[-1:], [cleared])
        self.assertEqual(self.dave.lines()[-1:], ["*** Root cleared the topic"])
        self.carol.send("TOPIC #lobby")
        self.assertEqual(self.carol.lines(), [f"{S} 331 carol #lobby :No topic is set"])
        self.carol.send("TOPIC #lobby :")
        self.assertEqual(self.carol.lines(), [f"{S} 482 carol #lobby :You're not channel operator"])

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

    def test_the_servers_description(self) -> None:
        """What C{--irc-description} says stands in C{LINKS} and C{WHOIS}."""
        self.kind = irc_frontend(IrcServer(created=0, description="test server, floor 2"))
        carol = self.registered("carol")
        carol.send("LINKS", "WHOIS carol")
        described = [one for one in carol.lines() if one.split()[1] in ("364", "312")]
        expected = [f"{S} 364 carol chatsvc chatsvc :0 test server, floor 2"]
        expected.append(f"{S} 312 carol carol chatsvc :test server, floor 2")
        self.assertEqual(described, expected)


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


class RegisterTests(RegisteringTestCase):
    """IRCv3 C{draft/account-registration}: C{REGISTER <account|*> <email|*> <password>}."""

    def test_advertised_and_registered(self) -> None:
        client = self.connect()
        client.send("CAP LS 302", "NICK alice", "USER u 0 * :Real Name", "REGISTER * * alicealice")
        lines = client.lines()
        self.assertIn("draft/account-registration", lines[0].split())
        self.assertEqual(
            lines[1],
            f"{S} FAIL REGISTER COMPLETE_CONNECTION_REQUIRED * :Register once you are connected",
        )
        client.send("CAP END")
        client.lines()
        client.send("REGISTER alice * alicealice", "WHOIS alice")
        self.assertEqual(
            client.lines(),
            [
                f"{S} REGISTER SUCCESS alice :Account created",
                f"{S} 900 alice alice!~u@chatsvc alice :You are now logged in as alice",
                f"{S} 311 alice alice ~u chatsvc * :Real Name",
                f"{S} 312 alice alice chatsvc chatsvc",
                f"{S} 330 alice alice alice :is logged in as",
                f"{S} 318 alice alice :End of /WHOIS list",
            ],
        )
        registry = self.factory.registry
        assert isinstance(registry, MemoryRegistry)
        self.assertEqual(list(registry.accounts), ["alice"], "kept")

    def test_refusals(self) -> None:
        client = self.registered("alice")
        client.send(
            "REGISTER bob * alicealice",
            "REGISTER * * short",
            "REGISTER",
            "REGISTER * * alicealice",
            "REGISTER * * alicealice",
        )
        self.assertEqual(
            client.lines(),
            [
                f"{S} FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK bob "
                ":Accounts are named after nicknames: give * or yours",
                f"{S} FAIL REGISTER WEAK_PASSWORD alice :a password is at least 8 characters",
                f"{S} 461 alice REGISTER :Not enough parameters",
                f"{S} REGISTER SUCCESS alice :Account created",
                f"{S} 900 alice alice!~u@chatsvc alice :You are now logged in as alice",
                f"{S} FAIL REGISTER ALREADY_AUTHENTICATED alice "
                ":you are logged in to the account alice already",
            ],
        )

    def test_too_many_from_one_address(self) -> None:
        self.factory = registering_factory(per_address=1)
        self.registered("alice").send("REGISTER * * alicealice")
        bob = self.registered("bob")
        bob.send("REGISTER * * bobbobbob")
        self.assertEqual(
            bob.lines(),
            [
                f"{S} FAIL REGISTER TEMPORARILY_UNAVAILABLE bob "
                ":too many accounts registered from your address; try again in 1h"
            ],
        )

    def test_closed(self) -> None:
        self.factory = registering_factory(open=False)
        client = self.connect()
        client.send("CAP LS 302", "NICK alice", "USER u 0 * :A", "CAP END")
        self.assertNotIn("draft/account-registration", client.lines()[0])
        client.send("REGISTER * * alicealice")
        self.assertEqual(
            client.lines(),
            [
                f"{S} FAIL REGISTER DISALLOWED alice "
                ":registration is closed on this server: ask its operators"
            ],
        )

    def test_a_guest_on_the_nickname_is_renamed(self) -> None:
        guest = self.registered("dave")
        guest.send("JOIN #dev", "CS HELP")  # what it asked last is not what tells it
        guest.lines()
        registrar = self.factory.registrar
        assert registrar is not None
        registrar.accounts.add("dave", ROOT_HASH)
        owner = self.connect()
        owner.send("PASS rootroot", "NICK dave", "USER d 0 * :D")
        self.assertEqual(
            owner.lines()[0], f"{S} 001 dave :Welcome to the chatsvc IRC Network dave!~d@chatsvc"
        )
        self.assertEqual(
            guest.lines(),
            [
                ":dave!~u@chatsvc NICK dave_1",
                f"{S} NOTICE dave_1 :The nickname dave is registered, and its owner signed on: "
                "you are dave_1 now",
            ],
        )
        guest.send("NAMES #dev")
        self.assertEqual(guest.lines()[0], f"{S} 353 dave_1 = #dev :@dave_1")


class ChannelTestCase(RegisteringTestCase):
    """In #dev: alice, who made it and has an account, and bob, a guest."""

    def setUp(self) -> None:
        super().setUp()
        self.alice = self.account("alice")
        self.alice.send("JOIN #dev")
        self.bob = self.registered("bob")
        self.bob.send("JOIN #dev")
        self.alice.lines(), self.bob.lines()


class ChannelModeTests(ChannelTestCase):
    """C{+i}, C{+m}, and what they refuse."""

    def test_invite_only(self) -> None:
        self.alice.send("MODE #dev +i", "MODE #dev")
        self.assertEqual(
            self.alice.lines(),
            [
                ":alice!~u@chatsvc MODE #dev +i",
                f"{S} 324 alice #dev +int",
                f"{S} 329 alice #dev 0",
            ],
        )
        self.assertEqual(self.bob.lines(), [":alice!~u@chatsvc MODE #dev +i"])
        self.bob.send("PART #dev", "JOIN #dev", "INVITE alice #dev")
        self.assertEqual(
            self.bob.lines(),
            [
                ":bob!~u@chatsvc PART #dev",
                f"{S} 473 bob #dev :Cannot join channel (+i): ask for /invite",
                f"{S} 442 bob #dev :You're not on that channel",
            ],
        )
        self.alice.lines()
        self.alice.send("INVITE bob #dev")
        self.bob.send("JOIN #dev")
        self.assertEqual(
            self.bob.lines(),
            [
                ":alice!~u@chatsvc INVITE bob #dev",
                ":bob!~u@chatsvc JOIN #dev",
                f"{S} 353 bob = #dev :@alice bob",
                f"{S} 366 bob #dev :End of /NAMES list",
            ],
        )

    def test_only_operators_invite_to_an_invite_only_channel(self) -> None:
        self.alice.send("MODE #dev +i")
        self.registered("carol")
        self.bob.lines()
        self.bob.send("INVITE carol #dev")
        self.assertEqual(self.bob.lines(), [f"{S} 482 bob #dev :You're not channel operator"])

    def test_moderated(self) -> None:
        self.alice.send("MODE #dev +m-i")
        self.assertEqual(self.bob.lines(), [":alice!~u@chatsvc MODE #dev +m"])
        self.bob.send("PRIVMSG #dev :hello?", "NOTICE #dev :hello?", "MODE #dev -m")
        self.assertEqual(
            self.bob.lines(),
            [
                f"{S} 404 bob #dev :Cannot send to channel (+m)",
                f"{S} 404 bob #dev :Cannot send to channel (+m)",
                f"{S} 482 bob #dev :You're not channel operator",
            ],
        )
        self.alice.lines()
        self.alice.send("PRIVMSG #dev :operators may", "MODE #dev -m")
        self.assertEqual(
            self.bob.lines(),
            [":alice!~u@chatsvc PRIVMSG #dev :operators may", ":alice!~u@chatsvc MODE #dev -m"],
        )

    def test_unknown_modes_and_missing_arguments(self) -> None:
        self.alice.send(
            "MODE #dev +x secret", "MODE #dev +o", "MODE #dev -b", "MODE #dev +bbbbb a b c d e"
        )
        lines = self.alice.lines()
        self.assertEqual(
            lines[:3],
            [
                f"{S} 472 alice x :is unknown mode char to me",
                f"{S} 461 alice MODE :Not enough parameters",
                f"{S} 461 alice MODE :Not enough parameters",
            ],
        )
        self.assertEqual(
            lines[3:],
            [f":alice!~u@chatsvc MODE #dev +b {nick}!*@*" for nick in "abcd"],
            "MODES=4: the fifth is not made",
        )


class KeyLimitSecretTests(ChannelTestCase):
    """C{+k}, C{+l}, C{+s}, C{-n}, C{-t} and C{+v}, as irctest and IRC clients expect them."""

    def test_key(self) -> None:
        self.alice.send("MODE #dev +k beer", "MODE #dev")
        self.assertEqual(
            self.alice.lines(),
            [
                ":alice!~u@chatsvc MODE #dev +k beer",
                f"{S} 324 alice #dev +knt beer",
                f"{S} 329 alice #dev 0",
            ],
        )
        self.bob.send("PART #dev", "MODE #dev")
        self.bob.lines()
        self.bob.send("MODE #dev", "JOIN #dev", "JOIN #dev bees", "JOIN #ops,#dev -,beer")
        self.assertEqual(
            self.bob.lines(),
            [
                f"{S} 324 bob #dev +knt",  # the key is its members'
                f"{S} 329 bob #dev 0",
                f"{S} 475 bob #dev :Cannot join channel (+k): wrong key",
                f"{S} 475 bob #dev :Cannot join channel (+k): wrong key",
                ":bob!~u@chatsvc JOIN #ops",
                f"{S} 353 bob = #ops :@bob",
                f"{S} 366 bob #ops :End of /NAMES list",
                ":bob!~u@chatsvc JOIN #dev",
                f"{S} 353 bob = #dev :@alice bob",
                f"{S} 366 bob #dev :End of /NAMES list",
            ],
        )
        self.alice.lines()
        self.alice.send("MODE #dev -k beer")  # IRC clients send the key: it is not needed
        self.assertEqual(self.bob.lines(), [":alice!~u@chatsvc MODE #dev -k"])

    def test_a_bad_key_is_696(self) -> None:
        for key in ["passphrase with spaces", "long" * 100, "", " ", "a,b"]:
            self.alice.send(f"MODE #dev +k :{key}")
            self.assertEqual(
                self.alice.lines()[:1],
                [
                    f"{S} 696 alice #dev k * :"
                    + (
                        "a room key is 23 characters at most"
                        if len(key) > 23
                        else "give the key: +k KEY"
                        if not key
                        else "a room key has no spaces, commas or control characters"
                    )
                ],
                key,
            )
        self.assertEqual(self.bob.lines(), [])
        self.alice.send("MODE #dev +k")
        self.assertEqual(self.alice.lines(), [f"{S} 461 alice MODE :Not enough parameters"])

    def test_limit(self) -> None:
        self.alice.send("MODE #dev +l 2")
        self.assertEqual(self.bob.lines(), [":alice!~u@chatsvc MODE #dev +l 2"])
        carol = self.registered("carol")
        carol.send("JOIN #dev")
        self.assertEqual(carol.lines(), [f"{S} 471 carol #dev :Cannot join channel (+l)"])
        self.alice.send("MODE #dev +l 3")
        self.assertEqual(self.bob.lines(), [":alice!~u@chatsvc MODE #dev +l 3"])
        carol.send("JOIN #dev")
        self.assertEqual(carol.lines()[0], ":carol!~u@chatsvc JOIN #dev")
        self.alice.lines()
        self.alice.send("MODE #dev +l 1", "PRIVMSG #dev :still here")
        self.assertEqual(
            carol.lines(),
            [":alice!~u@chatsvc MODE #dev +l 1", ":alice!~u@chatsvc PRIVMSG #dev :still here"],
        )
        self.alice.send("MODE #dev -l")
        self.assertEqual(self.bob.lines()[-1], ":alice!~u@chatsvc MODE #dev -l")

    def test_a_bad_limit_is_696(self) -> None:
        self.alice.send(
            "MODE #dev +l :0", "MODE #dev +l :-1", "MODE #dev +l :abc", "MODE #dev +l :"
        )
        self.assertEqual(
            self.alice.lines(),
            [
                f"{S} 696 alice #dev l 0 :the most members is from 1 to 1000000",
                f"{S} 696 alice #dev l -1 :give the most members as a whole number: +l 20",
                f"{S} 696 alice #dev l abc :give the most members as a whole number: +l 20",
                f"{S} 696 alice #dev l * :give the most members as a whole number: +l 20",
            ],
        )
        self.assertEqual(self.bob.lines(), [])

    def test_an_invitation_passes_the_limit(self) -> None:
        self.alice.send("MODE #dev +l 2")
        carol = self.registered("carol")
        self.alice.send("INVITE carol #dev")
        carol.lines()
        carol.send("JOIN #dev")
        self.assertEqual(carol.lines()[0], ":carol!~u@chatsvc JOIN #dev")

    def test_modes_at_once_are_one_line(self) -> None:
        self.alice.send("MODE #dev +int", "MODE #dev", "MODE #dev -int", "MODE #dev")
        self.assertEqual(
            self.alice.lines(),
            [
                ":alice!~u@chatsvc MODE #dev +i",  # n and t were set
                f"{S} 324 alice #dev +int",
                f"{S} 329 alice #dev 0",
                ":alice!~u@chatsvc MODE #dev -int",
                f"{S} 324 alice #dev +",
                f"{S} 329 alice #dev 0",
            ],
        )
        self.alice.send("MODE #dev +sk-l+l beer 5")
        # -l changed nothing: it is left out
        self.assertEqual(self.bob.lines()[-1:], [":alice!~u@chatsvc MODE #dev +skl beer 5"])

    def test_secret(self) -> None:
        self.alice.send("MODE #dev +s", "LIST", "NAMES #dev")
        self.assertEqual(
            self.alice.lines(),
            [
                ":alice!~u@chatsvc MODE #dev +s",
                f"{S} 321 alice Channel :Users  Name",
                f"{S} 322 alice #dev 2 :",
                f"{S} 323 alice :End of /LIST",
                f"{S} 353 alice @ #dev :@alice bob",
                f"{S} 366 alice #dev :End of /NAMES list",
            ],
        )
        carol = self.registered("carol")
        carol.send("LIST", "NAMES #dev", "WHO #dev", "WHOIS alice", "WHO alice")
        self.assertEqual(
            carol.lines(),
            [
                f"{S} 321 carol Channel :Users  Name",
                f"{S} 323 carol :End of /LIST",
                f"{S} 366 carol #dev :End of /NAMES list",
                f"{S} 315 carol #dev :End of WHO list",
                f"{S} 311 carol alice ~u chatsvc * :Real Name",
                f"{S} 312 carol alice chatsvc chatsvc",
                f"{S} 330 carol alice alice :is logged in as",
                f"{S} 318 carol alice :End of /WHOIS list",
                f"{S} 352 carol * ~u chatsvc chatsvc alice H :0 Real Name",
                f"{S} 315 carol alice :End of WHO list",
            ],
        )
        carol.send("JOIN #dev")  # a secret channel is hidden, not closed
        self.assertEqual(carol.lines()[1], f"{S} 353 carol @ #dev :@alice bob carol")

    def test_messages_from_outside(self) -> None:
        carol = self.registered("carol")
        carol.send("PRIVMSG #dev :hi from carol")
        self.assertEqual(carol.lines(), [f"{S} 404 carol #dev :Cannot send to channel"])
        self.assertEqual(self.alice.lines(), [])
        self.alice.send("MODE #dev -n")
        self.assertEqual(self.alice.lines(), [":alice!~u@chatsvc MODE #dev -n"])
        carol.send("PRIVMSG #dev :hi again from carol")
        self.assertEqual(
            self.alice.lines(), [":carol!~u@chatsvc PRIVMSG #dev :hi again from carol"]
        )
        self.assertEqual(
            self.bob.lines()[-1], ":carol!~u@chatsvc PRIVMSG #dev :hi again from carol"
        )
        self.assertEqual(carol.lines(), [])

    def test_topic_open_to_members(self) -> None:
        self.bob.send("TOPIC #dev :T0P1C")
        self.assertEqual(self.bob.lines(), [f"{S} 482 bob #dev :You're not channel operator"])
        self.alice.send("MODE #dev -t")
        self.bob.send("TOPIC #dev :T0P1C")
        self.assertEqual(
            self.alice.lines(),
            [":alice!~u@chatsvc MODE #dev -t", ":bob!~u@chatsvc TOPIC #dev T0P1C"],
        )

    def test_voice(self) -> None:
        self.alice.send("MODE #dev +m")
        self.bob.lines()
        self.bob.send("PRIVMSG #dev :hi from bob")
        self.assertEqual(self.bob.lines(), [f"{S} 404 bob #dev :Cannot send to channel (+m)"])
        self.alice.send("MODE #dev +v bob", "NAMES #dev", "WHO #dev")
        self.assertEqual(
            self.alice.lines(),
            [
                ":alice!~u@chatsvc MODE #dev +m",
                ":alice!~u@chatsvc MODE #dev +v bob",
                f"{S} 353 alice = #dev :@alice +bob",
                f"{S} 366 alice #dev :End of /NAMES list",
                f"{S} 352 alice #dev ~u chatsvc chatsvc alice H@ :0 Real Name",
                f"{S} 352 alice #dev ~u chatsvc chatsvc bob H+ :0 Real Name",
                f"{S} 315 alice #dev :End of WHO list",
            ],
        )
        self.bob.send("PRIVMSG #dev :hi again from bob", "TOPIC #dev :mine")
        self.assertEqual(self.alice.lines(), [":bob!~u@chatsvc PRIVMSG #dev :hi again from bob"])
        self.assertEqual(
            self.bob.lines(),
            [
                ":alice!~u@chatsvc MODE #dev +v bob",
                f"{S} 482 bob #dev :You're not channel operator",  # a voice sets no topic
            ],
        )
        self.bob.send("MODE #dev +v alice", "MODE #dev -v bob")
        self.assertEqual(
            self.bob.lines(),
            [
                f"{S} 482 bob #dev :You're not channel operator",
                f"{S} 482 bob #dev :You're not channel operator",
            ],
        )
        self.alice.send("MODE #dev +v nobody", "MODE #dev -v bob")
        self.assertEqual(
            self.alice.lines(),
            [f"{S} 401 alice nobody :No such nick/channel", ":alice!~u@chatsvc MODE #dev -v bob"],
        )

    def test_multi_prefix(self) -> None:
        client = self.connect()
        client.send("CAP LS 302", "CAP REQ :multi-prefix", "NICK foo", "USER u 0 * :R", "CAP END")
        client.send("JOIN #chan", "MODE #chan +v foo")
        client.lines()
        client.send("NAMES #chan", "WHO #chan")
        self.assertEqual(
            client.lines(),
            [
                f"{S} 353 foo = #chan :@+foo",
                f"{S} 366 foo #chan :End of /NAMES list",
                f"{S} 352 foo #chan ~u chatsvc chatsvc foo H@+ :0 R",
                f"{S} 315 foo #chan :End of WHO list",
            ],
        )


class ExceptionListTests(ChannelTestCase):
    """C{+e} (ban exceptions) and C{+I} (invite exceptions), listed with 348/349 and 346/347."""

    def test_a_ban_exception(self) -> None:
        self.alice.send("MODE #dev +b ba*!*@*")
        self.alice.lines()
        bar = self.registered("Bar")
        bar.send("JOIN #dev")
        self.assertEqual(bar.lines()[0].split()[1], "474")
        self.alice.send("MODE #dev +e *ar!*@*", "MODE #dev e", "MODE #dev b")
        lines = self.alice.lines()
        self.assertEqual(lines[0], ":alice!~u@chatsvc MODE #dev +e *ar!*@*")
        self.assertRegex(lines[1], rf"^{S} 348 alice #dev \*ar!\*@\* alice!~u@chatsvc \d+$")
        self.assertEqual(lines[2], f"{S} 349 alice #dev :End of channel exception list")
        self.assertEqual([one.split()[1] for one in lines[3:]], ["367", "368"])  # the ban alone
        bar.send("JOIN #dev")
        self.assertEqual(bar.lines()[0], ":Bar!~u@chatsvc JOIN #dev")
        self.alice.send("MODE #dev -e *ar!*@*", "MODE #dev +e m:x")
        self.assertEqual(
            self.alice.lines(),
            [
                ":Bar!~u@chatsvc JOIN #dev",
                ":alice!~u@chatsvc MODE #dev -e *ar!*@*",
                f"{S} 696 alice #dev e m:x :+e takes a mask, not m: (an exception passes mutes "
                "too)",
            ],
        )

    def test_an_invite_exception(self) -> None:
        self.alice.send("MODE #dev +i", "MODE #dev +I bar!*@*", "MODE #dev +I")
        lines = self.alice.lines()
        self.assertEqual(
            lines[:2], [":alice!~u@chatsvc MODE #dev +i", ":alice!~u@chatsvc MODE #dev +I bar!*@*"]
        )
        self.assertRegex(lines[2], rf"^{S} 346 alice #dev bar!\*@\* alice!~u@chatsvc \d+$")
        self.assertEqual(lines[3:], [f"{S} 347 alice #dev :End of channel invite list"])
        bar, baz = self.registered("bar"), self.registered("baz")
        bar.send("JOIN #dev")
        baz.send("JOIN #dev")
        self.assertEqual(bar.lines()[0], ":bar!~u@chatsvc JOIN #dev")
        self.assertEqual(baz.lines()[0].split()[1], "473")
        self.bob.lines()
        self.bob.send("MODE #dev +I baz!*@*", "MODE #dev I")
        self.assertEqual(
            self.bob.lines(),
            [
                f"{S} 482 bob #dev :You're not channel operator",
                f"{S} 346 bob #dev bar!*@* alice!~u@chatsvc 0",
                f"{S} 347 bob #dev :End of channel invite list",
            ],
        )


class BanTests(ChannelTestCase):
    """C{MODE #chan +b MASK}, the C{m:} extban for mutes, and the ban list."""

    def test_ban_by_nickname(self) -> None:
        self.alice.send("MODE #dev +b Bob", "MODE #dev b")
        self.assertEqual(
            self.alice.lines(),
            [
                ":alice!~u@chatsvc KICK #dev bob banned",
                ":alice!~u@chatsvc MODE #dev +b bob!*@*",
                f"{S} 367 alice #dev bob!*@* alice!~u@chatsvc 0",
                f"{S} 368 alice #dev :End of channel ban list",
            ],
        )
        self.assertEqual(
            self.bob.lines(),
            [
                f"{S} NOTICE bob :you are banned from dev for good",
                ":alice!~u@chatsvc KICK #dev bob banned",
            ],
        )
        self.bob.send("JOIN #dev")
        self.assertEqual(
            self.bob.lines(),
            [f"{S} 474 bob #dev :Cannot join channel (+b): you are banned from dev for good"],
        )
        self.alice.send("MODE #dev -b bob!*@*")
        self.assertEqual(self.alice.lines(), [":alice!~u@chatsvc MODE #dev -b bob!*@*"])
        self.bob.send("JOIN #dev")
        self.assertEqual(self.bob.lines()[0], ":bob!~u@chatsvc JOIN #dev")

    def test_a_timed_ban_says_how_long_is_left(self) -> None:
        self.alice.send("PRIVMSG ChanServ :BAN #dev bob 2h spam")
        self.assertEqual(
            self.alice.lines(),
            [
                ":alice!~u@chatsvc KICK #dev bob :banned: spam",
                ":alice!~u@chatsvc MODE #dev +b bob!*@*",
                ":ChanServ!ChanServ@chatsvc NOTICE alice :Banned nick:bob in dev, 2h left "
                "(until 1970-01-01 02:00 UTC): spam; it holds for bob",
            ],
        )
        self.bob.lines()
        self.factory.clock.advance(3600)  # type: ignore[attr-defined]
        self.bob.send("JOIN #dev")
        self.assertEqual(
            self.bob.lines(),
            [
                "PING chatsvc",
                f"{S} 474 bob #dev :Cannot join channel (+b): you are banned from dev "
                "for 1h (until 1970-01-01 02:00 UTC): spam",
            ],
        )

    def test_mute(self) -> None:
        self.alice.send("MODE #dev +b m:bob", "MODE #dev +b *!*@192.0.2.0/24", "MODE #dev +b")
        self.assertEqual(
            self.alice.lines(),
            [
                ":alice!~u@chatsvc MODE #dev +b m:bob!*@*",
                ":alice!~u@chatsvc MODE #dev +b *!*@192.0.2.0/24",
                f"{S} 367 alice #dev *!*@192.0.2.0/24 alice!~u@chatsvc 0",
                f"{S} 367 alice #dev m:bob!*@* alice!~u@chatsvc 0",
                f"{S} 368 alice #dev :End of channel ban list",
            ],
        )
        self.bob.send("PRIVMSG #dev :hello?")
        self.assertEqual(
            self.bob.lines(),
            [
                f"{S} NOTICE bob :you are muted in dev for good",
                ":alice!~u@chatsvc MODE #dev +b m:bob!*@*",
                ":alice!~u@chatsvc MODE #dev +b *!*@192.0.2.0/24",
                f"{S} 404 bob #dev :Cannot send to channel: you are muted in dev for good",
            ],
        )
        self.alice.send("MODE #dev -b m:bob!*@*")
        self.bob.send("PRIVMSG #dev :thanks")
        self.assertEqual(
            self.bob.lines(),
            [
                f"{S} NOTICE bob :you may speak in dev now",
                ":alice!~u@chatsvc MODE #dev -b m:bob!*@*",
            ],
        )
        self.assertEqual(
            self.alice.lines(),
            [":alice!~u@chatsvc MODE #dev -b m:bob!*@*", ":bob!~u@chatsvc PRIVMSG #dev :thanks"],
        )

    def test_a_line_users_bans_are_the_channels_mode_lines(self) -> None:
        carol = Connection(self.factory)
        carol.send("carol", "/join ops")  # carol makes ops: its operator
        self.alice.send("JOIN #ops")
        self.bob.send("CAP REQ server-time", "JOIN #ops")
        carol.lines(), self.alice.lines(), self.bob.lines()
        carol.send("/ban dave 2h spam", "/mute bob", "/unmute bob", "/unban dave")
        mode = ":carol!carol@chatsvc MODE #ops"
        self.assertEqual(
            self.alice.lines(),
            [
                f"{mode} +b dave!*@*",
                f"{mode} +b m:bob!*@*",
                f"{mode} -b m:bob!*@*",
                f"{mode} -b dave!*@*",
            ],
        )
        stamp = "@time=1970-01-01T00:00:00.000Z"
        self.assertEqual(
            self.bob.lines(),
            [
                f"{stamp} {mode} +b dave!*@*",
                f"{stamp} {S} NOTICE bob :you are muted in ops for good",
                f"{stamp} {mode} +b m:bob!*@*",
                f"{stamp} {S} NOTICE bob :you may speak in ops now",
                f"{stamp} {mode} -b m:bob!*@*",
                f"{stamp} {mode} -b dave!*@*",
            ],
        )
        self.assertEqual(
            carol.lines(),
            [
                "*** carol banned nick:dave in ops until 1970-01-01 02:00 UTC (spam)",
                "*** Banned nick:dave in ops, 2h left (until 1970-01-01 02:00 UTC): spam",
                "*** carol muted nick:bob in ops for good",
                "*** Muted nick:bob in ops, for good; it holds for bob",
                "*** carol lifted the mute of nick:bob in ops",
                "*** Lifted the mute of nick:bob in ops",
                "*** carol lifted the ban of nick:dave in ops",
                "*** Lifted the ban of nick:dave in ops",
            ],
        )

    def test_a_bans_mode_line_is_rendered_once_for_the_channel(self) -> None:
        more = [self.registered(f"user{i}") for i in range(3)]
        for client in more:
            client.send("JOIN #dev")
        for client in (*more, self.alice, self.bob):
            client.lines()
        self.assertIs(self.alice.protocol.events, more[0].protocol.events)
        rendered = counting_renders(self.alice)
        self.alice.send("MODE #dev +b dave")
        self.assertEqual(len(rendered), 1, "once, for the five connections in #dev")
        for client in (*more, self.alice, self.bob):
            self.assertEqual(client.lines(), [":alice!~u@chatsvc MODE #dev +b dave!*@*"])

    def test_by_account_and_by_address(self) -> None:
        carol = self.account("carol")
        carol.send("JOIN #dev")
        carol.lines()
        self.alice.lines()
        self.alice.send("MODE #dev +b a:carol", "MODE #dev +b *!*@10.0.0.2")
        self.assertEqual(
            self.alice.lines(),
            [
                ":alice!~u@chatsvc KICK #dev carol banned",
                ":alice!~u@chatsvc MODE #dev +b a:carol",
                f"{S} NOTICE alice :10.0.0.2/32 matches you",
            ],
        )

    def test_bad_masks(self) -> None:
        self.alice.send(
            "MODE #dev +b *!ident@*",
            "MODE #dev +b *!*@host.example",
            "MODE #dev +b *",
            "MODE #dev -b nobody",
        )
        self.assertEqual(
            self.alice.lines(),
            [
                f"{S} 696 alice #dev b *!ident@* "
                ":*!ident@*: idents are not checked here; use *!*@ADDRESS or a:ACCOUNT",
                f"{S} 696 alice #dev b *!*@host.example :*!*@host.example: hosts are hidden here; "
                "ban an address or network (*!*@192.0.2.0/24)",
                f"{S} 696 alice #dev b * :* would match everyone",
                f"{S} NOTICE alice :there is no ban on nick:nobody in dev",
            ],
        )

    def test_only_operators_ban(self) -> None:
        self.bob.send("MODE #dev +b alice", "MODE #dev b")
        self.assertEqual(
            self.bob.lines(),
            [
                f"{S} 482 bob #dev :You're not channel operator",
                f"{S} 368 bob #dev :End of channel ban list",
            ],
        )

    def test_a_full_ban_list(self) -> None:
        chat = self.factory.chat
        for i in range(MAX_PER_SCOPE):
            chat.sanctions.add(
                Sanction(SanctionKind.BAN, Mask.parse(f"spam{i}"), "dev", "alice", float(i))
            )
        self.alice.send("MODE #dev +b one-more", "MODE #dev +b spam7", "MODE #dev b")
        lines = self.alice.lines()
        self.assertEqual(
            lines[:2],
            [
                f"{S} 478 alice #dev b :Channel ban list is full",
                ":alice!~u@chatsvc MODE #dev +b spam7!*@*",
            ],
        )
        self.assertEqual(len(lines), 2 + MAX_PER_SCOPE + 1)
        self.assertEqual(lines[2], f"{S} 367 alice #dev spam0!*@* alice!~u@chatsvc 0")
        self.assertEqual(lines[-1], f"{S} 368 alice #dev :End of channel ban list")


class RoomKickTests(RegisteringTestCase):
    def test_a_room_operator_kicks_out_of_the_channel(self) -> None:
        alice, bob = self.account("alice"), self.registered("bob")
        alice.send("JOIN #dev,#ops")
        bob.send("JOIN #dev,#ops")
        alice.lines(), bob.lines()
        alice.send("KICK #dev bob :behave")
        kick = ":alice!~u@chatsvc KICK #dev bob behave"
        self.assertEqual(alice.lines(), [kick])
        self.assertEqual(bob.lines(), [kick])
        self.assertIsNotNone(self.factory.chat.find("bob"), "still signed on, in #ops")
        bob.send("KICK #ops alice")
        self.assertEqual(bob.lines(), [f"{S} 482 bob #ops :You're not channel operator"])


class OwnerTests(RegisteringTestCase):
    """A registered channel's owners (C{~}, C{+q}) and operators (C{@}, C{+o}) by account."""

    def test_prefixes(self) -> None:
        alice, bob = self.account("alice"), self.account("bob", 50002)
        alice.send("JOIN #dev", "PRIVMSG ChanServ :REGISTER #dev")
        bob.send("JOIN #dev")
        alice.lines(), bob.lines()
        alice.send(
            "MODE #dev +o bob", "NAMES #dev", "CAP REQ multi-prefix", "NAMES #dev", "WHO #dev"
        )
        self.assertEqual(
            alice.lines(),
            [
                ":alice!~u@chatsvc MODE #dev +o bob",
                f"{S} 353 alice = #dev :~alice @bob",
                f"{S} 366 alice #dev :End of /NAMES list",
                f"{S} CAP alice ACK multi-prefix",
                f"{S} 353 alice = #dev :~@alice @bob",
                f"{S} 366 alice #dev :End of /NAMES list",
                f"{S} 352 alice #dev ~u chatsvc chatsvc alice H~@ :0 Real Name",
                f"{S} 352 alice #dev ~u chatsvc chatsvc bob H@ :0 Real Name",
                f"{S} 315 alice #dev :End of WHO list",
            ],
        )
        room = self.factory.chat.room("dev")
        assert room.registration is not None
        self.assertEqual(room.registration.rank("bob"), "operator", "kept by account")
        bob.send("PART #dev", "JOIN #dev")
        self.assertEqual(bob.lines()[-2], f"{S} 353 bob = #dev :~alice @bob")
        alice.lines()
        alice.send("MODE #dev +q bob", "MODE #dev -o bob", "MODE #dev -q bob", "MODE #dev -o bob")
        self.assertEqual(
            alice.lines(),
            [
                # The rank changes as the channel sees them: what went, what came.
                ":alice!~u@chatsvc MODE #dev -o+q bob bob",
                f"{S} 696 alice #dev o bob :bob is an owner: -q first",
                ":alice!~u@chatsvc MODE #dev -q+o bob bob",
                ":alice!~u@chatsvc MODE #dev -o bob",
            ],
        )
        self.assertEqual(room.registration.rank("bob"), None)

    def test_owners_need_accounts(self) -> None:
        alice = self.account("alice")
        guest = self.registered("guest")
        alice.send("JOIN #dev")
        guest.send("JOIN #dev")
        alice.lines()
        alice.send("MODE #dev +q alice", "PRIVMSG ChanServ :REGISTER #dev", "MODE #dev +q guest")
        self.assertEqual(
            alice.lines(),
            [
                f"{S} 696 alice #dev q alice :#dev is not a registered channel: no owners",
                ":ChanServ!ChanServ@chatsvc NOTICE alice "
                ":You registered dev, and own it; it stays when everyone has left",
                f"{S} 696 alice #dev q guest :guest is not logged in: no owners",
            ],
        )


class KlineTests(RegisteringTestCase):
    """Chat-wide bans: C{KLINE [DURATION] MASK [REASON]}, C{UNKLINE MASK}."""

    def test_kline(self) -> None:
        root, bob = self.root(), self.registered("bob")
        root.send("KLINE 1h *!*@10.0.0.0/8 :spamming")
        self.assertEqual(
            root.lines(),
            [
                ":root!~r@chatsvc KICK #lobby bob :banned: spamming",
                f"{S} NOTICE root :Banned 10.0.0.0/8 chat-wide, 1h left "
                "(until 1970-01-01 01:00 UTC): spamming; it holds for bob",
            ],
        )
        self.assertEqual(
            bob.lines(),
            [
                f"{S} NOTICE bob :you are banned from the chat for 1h "
                "(until 1970-01-01 01:00 UTC): spamming",
                ":root!~r@chatsvc KICK #lobby bob :banned: spamming",
                "ERROR :Closing Link: Kicked by root (banned: spamming)",
            ],
        )
        again = self.connect()
        again.send("NICK bob", "USER u 0 * :B")
        self.assertEqual(
            again.lines(),
            [
                f"{S} 465 * :You are banned from the chat for 1h (until 1970-01-01 01:00 UTC): "
                "spamming",
                "ERROR :Closing Link: You are banned from the chat for 1h "
                "(until 1970-01-01 01:00 UTC): spamming",
            ],
        )
        self.assertTrue(again.transport.disconnecting)
        root.send("UNKLINE *!*@10.0.0.0/8", "KLINE m:a:bob", "OS BANS")
        self.assertEqual(
            root.lines(),
            [
                f"{S} NOTICE root :Lifted the ban of 10.0.0.0/8 chat-wide",
                f"{S} NOTICE root :Muted account:bob chat-wide, for good",
                ":OperServ!OperServ@chatsvc NOTICE root :Bans and mutes in the chat (1):",
                ":OperServ!OperServ@chatsvc NOTICE root :mute account:bob by root, for good",
                ":OperServ!OperServ@chatsvc NOTICE root :End of list",
            ],
        )

    def test_refusals(self) -> None:
        root, bob = self.root(), self.registered("bob")
        bob.send("KLINE *!*@10.0.0.0/8", "UNKLINE bob")
        self.assertEqual(
            bob.lines(),
            [f"{S} 481 bob :Permission Denied- You're not an IRC operator"] * 2,
        )
        root.send("KLINE 1h", "KLINE 99q bob", "KLINE *!*@host.example", "UNKLINE nobody", "KLINE")
        self.assertEqual(
            root.lines(),
            [
                f"{S} NOTICE root :Syntax: KLINE [DURATION] MASK [REASON] "
                "(MASK: *!*@ADDRESS, a:ACCOUNT)",
                f"{S} NOTICE root :'99q' is not a duration: use a number and s, m, h, d or w "
                "(as 30m or 1h30m)",
                f"{S} NOTICE root :*!*@host.example: hosts are hidden here; ban an address or "
                "network (*!*@192.0.2.0/24)",
                f"{S} NOTICE root :there is no ban on nick:nobody chat-wide",
                f"{S} 461 root KLINE :Not enough parameters",
            ],
        )

    def test_a_chat_wide_mute(self) -> None:
        root, bob = self.root(), self.registered("bob")
        self.registered("carol")
        root.send("JOIN #dev")
        bob.send("JOIN #dev")
        root.lines(), bob.lines()
        root.send("KLINE 10m m:bob!*@*")
        bob.send("PRIVMSG #dev :hello?", "PRIVMSG carol :hello?", "PRIVMSG root :operators hear")
        self.assertEqual(
            bob.lines(),
            [
                f"{S} NOTICE bob :you are muted in the chat for 10m (until 1970-01-01 00:10 UTC)",
                f"{S} 404 bob #dev :Cannot send to channel: you are muted in the chat for 10m "
                "(until 1970-01-01 00:10 UTC)",
                f"{S} 404 bob carol :Cannot send to channel: you are muted in the chat for 10m "
                "(until 1970-01-01 00:10 UTC)",
            ],
        )


class OwnerRefusalTests(RegisteringTestCase):
    def test_an_operator_who_is_no_owner(self) -> None:
        alice, bob, carol = self.account("alice"), self.account("bob"), self.account("carol")
        alice.send("JOIN #dev", "CS REGISTER #dev")
        bob.send("JOIN #dev")
        carol.send("JOIN #dev")
        alice.send("MODE #dev +o bob")
        alice.lines(), bob.lines(), carol.lines()
        bob.send("MODE #dev +q carol", "CS OWNER #dev carol", "CS DROP #dev", "MODE #dev +o carol")
        self.assertEqual(
            bob.lines(),
            [
                f"{S} 482 bob #dev :You're not a channel owner",
                f"{CS} bob :only the owners of dev may name its owners and operators",
                f"{CS} bob :only the owners of dev may unregister it",
                ":bob!~u@chatsvc MODE #dev +o carol",
            ],
        )


class BannedNicknameTests(RegisteringTestCase):
    """A chat-wide ban of a nickname pattern refuses the nickname (432: a Q-line), not its user."""

    def test_at_registration_and_after(self) -> None:
        root = self.root()
        root.send("KLINE spam* :no spam")
        root.lines()
        client = self.connect()
        client.send("NICK spammer", "USER u 0 * :S")
        refusal = "Erroneous nickname: spammer is banned from the chat for good: no spam"
        self.assertEqual(client.lines(), [f"{S} 432 * spammer :{refusal}"])
        self.assertFalse(client.transport.disconnecting)
        client.send("NICK ham")
        self.assertEqual(client.lines()[0].split()[1], "001")
        client.send("NICK spammer")
        self.assertEqual(client.lines(), [f"{S} 432 ham spammer :{refusal}"])
