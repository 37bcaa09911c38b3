"""
The IRC frontend line by line, over StringTransport on a fake clock: each
test sends what a client sends and checks every line the server writes.
"""

from __future__ import annotations

import base64

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.frontends.irc.server import RELAYED_TOO_LONG, IrcConnection, irc_frontend
from chatsvc.frontends.irc.wire import IrcServer
from chatsvc.frontends.line.server import ChatFactory
from chatsvc.sessions.session import Session
from chatsvc.testing import FakeHistory
from tests.support import Connection, end_turn, make_factory, with_accounts

S = ":chatsvc"


class Irc:
    """An IRC connection to C{factory} over a StringTransport."""

    def __init__(self, factory: ChatFactory, kind: type[IrcConnection], port: int = 50000) -> None:
        self.factory = factory
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", "10.0.0.2", port))
        protocol = factory.for_frontend(kind).buildProtocol(self.transport.getPeer())
        assert isinstance(protocol, IrcConnection)
        self.protocol: IrcConnection = protocol
        protocol.makeConnection(self.transport)

    def send(self, *lines: str) -> None:
        for one in lines:
            self.protocol.dataReceived(one.encode() + b"\r\n")

    def lines(self) -> list[str]:
        end_turn(self.factory)
        data: bytes = self.transport.value()
        self.transport.clear()
        assert data == b"" or data.endswith(b"\r\n"), data
        return data.decode().split("\r\n")[:-1]

    def close(self) -> None:
        self.transport.loseConnection()
        self.protocol.connectionLost(Failure(ConnectionDone()))


def counting_renders(client: Irc) -> list[object]:
    """
    The events that C{client}'s renderer (shared by the connections with its
    capabilities) renders from now on, each time it does.
    """
    renderer = client.protocol.events
    assert renderer is not None
    rendered: list[object] = []
    render = renderer.render

    def counted(event: object) -> bytes:
        rendered.append(event)
        return render(event)  # type: ignore[arg-type]

    renderer.render = counted  # type: ignore[method-assign]
    return rendered


def welcome(nick: str, user: str = "~u", users: int = 1, rooms: int = 1) -> list[str]:
    return [
        f"{S} 001 {nick} :Welcome to the chatsvc IRC Network {nick}!{user}@chatsvc",
        f"{S} 002 {nick} :Your host is chatsvc, running version chatsvc-0.1.0",
        f"{S} 003 {nick} :This server was created 1970-01-01 00:00:00 UTC",
        f"{S} 004 {nick} chatsvc chatsvc-0.1.0 Biow Ibeiklmnoqstv Ibekloqv",
        f"{S} 005 {nick} AWAYLEN=200 BOT=B CASEMAPPING=ascii CHANLIMIT=#:20 "
        "CHANMODES=beI,k,l,imnst CHANNELLEN=33 CHANTYPES=# CHATHISTORY=500 ELIST= EXCEPTS=e "
        "EXTBAN=,am INVEX=I :are supported by this server",
        f"{S} 005 {nick} KEYLEN=23 KICKLEN=255 LINELEN=512 MAXLIST=b:500,e:500,I:500 MODES=4 "
        "NETWORK=chatsvc NICKLEN=32 PREFIX=(qov)~@+ TOPICLEN=390 USERLEN=10 "
        ":are supported by this server",
        f"{S} 251 {nick} :There are {users} users and 0 invisible on 1 servers",
        f"{S} 252 {nick} 0 :operator(s) online",
        f"{S} 254 {nick} {rooms} :channels formed",
        f"{S} 255 {nick} :I have {users} clients and 0 servers",
        f"{S} 265 {nick} {users} {users} :Current local users {users}, max {users}",
        f"{S} 266 {nick} {users} {users} :Current global users {users}, max {users}",
        f"{S} 422 {nick} :MOTD File is missing",
    ]


class IrcTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory = self.make_factory()
        self.kind = irc_frontend(IrcServer(created=0))

    def make_factory(self) -> ChatFactory:
        return make_factory()

    def connect(self) -> Irc:
        return Irc(self.factory, self.kind)

    def registered(self, nick: str) -> Irc:
        client = self.connect()
        client.send(f"NICK {nick}", "USER u 0 * :Real Name")
        client.lines()
        return client


class RegistrationTests(IrcTestCase):
    def test_nick_and_user(self) -> None:
        client = self.connect()
        client.send("NICK alice", "USER u 0 * :Alice")
        self.assertEqual(client.lines(), welcome("alice"))
        participant = self.factory.chat.find("alice")
        assert participant is not None
        self.assertEqual(participant.rooms, (), "in no channel until it joins one")

    def test_motd(self) -> None:
        self.kind = irc_frontend(IrcServer(created=0, motd=["Be nice.", ""]))
        client = self.connect()
        client.send("USER u 0 * :Alice", "NICK alice")
        self.assertEqual(
            client.lines()[-4:],
            [
                f"{S} 375 alice :- chatsvc Message of the day - ",
                f"{S} 372 alice :- Be nice.",
                f"{S} 372 alice :- ",
                f"{S} 376 alice :End of /MOTD command.",
            ],
        )

    def test_user_needs_a_user_name_and_a_real_name(self) -> None:
        client = self.connect()
        client.send("NICK alice", "USER u 0 * :", "USER u 0 *")
        self.assertEqual(
            client.lines(),
            [
                f"{S} 461 * USER :Not enough parameters",
                f"{S} 461 * USER :Not enough parameters",
            ],
        )
        client.send("USER u 0 * :Alice")
        self.assertEqual(client.lines(), welcome("alice"))

    def test_userhost_in_names(self) -> None:
        bob = self.registered("bob")
        bob.send("JOIN #dev")
        Connection(self.factory).send("dave", "/join dev")
        alice = self.connect()
        alice.send("CAP REQ userhost-in-names", "NICK alice", "USER u 0 * :Alice", "CAP END")
        alice.lines()
        alice.send("JOIN #dev")
        self.assertEqual(
            alice.lines(),
            [
                ":alice!~u@chatsvc JOIN #dev",
                f"{S} 353 alice = #dev :alice!~u@chatsvc @bob!~u@chatsvc dave!dave@chatsvc",
                f"{S} 366 alice #dev :End of /NAMES list",
            ],
        )

    def test_cap_holds_registration_until_end(self) -> None:
        client = self.connect()
        client.send("CAP LS 302", "NICK alice", "USER u 0 * :Alice")
        self.assertEqual(
            client.lines(),
            [
                f"{S} CAP * LS :batch cap-notify draft/chathistory echo-message message-tags "
                "multi-prefix server-time userhost-in-names"
            ],
        )
        client.send("CAP REQ :echo-message multi-prefix")
        self.assertEqual(client.lines(), [f"{S} CAP * ACK :echo-message multi-prefix"])
        client.send("CAP REQ :echo-message bogus")
        self.assertEqual(client.lines(), [f"{S} CAP * NAK :echo-message bogus"])
        client.send("CAP LIST")
        self.assertEqual(client.lines(), [f"{S} CAP * LIST :cap-notify echo-message multi-prefix"])
        client.send("CAP END")
        self.assertEqual(client.lines(), welcome("alice"))

    def test_invalid_cap_subcommand(self) -> None:
        client = self.connect()
        client.send("CAP FOO")
        self.assertEqual(client.lines(), [f"{S} 410 * FOO :Invalid CAP command"])

    def test_commands_before_registration(self) -> None:
        client = self.connect()
        client.send("JOIN #dev", "PING x", "NICK", "USER u")
        self.assertEqual(
            client.lines(),
            [
                f"{S} 451 * :You have not registered",
                f"{S} PONG chatsvc x",
                f"{S} 431 * :No nickname given",
                f"{S} 461 * USER :Not enough parameters",
            ],
        )

    def test_bad_and_taken_nicknames(self) -> None:
        self.registered("alice")
        client = self.connect()
        client.send("NICK a!b", "NICK 9lives", "NICK ALICE")
        self.assertEqual(
            client.lines(),
            [
                f"{S} 432 * a!b :Erroneous nickname",
                f"{S} 432 * 9lives :Erroneous nickname",
                f"{S} 433 * ALICE :Nickname is already in use",
            ],
        )
        client.send("NICK bob", "USER u 0 * :Bob")
        self.assertEqual(client.lines()[0].split()[1:3], ["001", "bob"])

    def test_the_old_bug_cap_nick_user_are_not_nicknames(self) -> None:
        client = self.connect()
        client.send("CAP LS", "NICK alice", "USER alice 0 * :A", "CAP END")
        self.assertEqual(self.factory.chat.find("CAP"), None)
        self.assertEqual(self.factory.chat.find("QUIT"), None)
        self.assertIsNotNone(self.factory.chat.find("alice"))
        self.assertEqual(
            client.lines()[-13],
            f"{S} 001 alice :Welcome to the chatsvc IRC Network alice!~alice@chatsvc",
        )

    def test_reregistering(self) -> None:
        client = self.registered("alice")
        client.send("USER u 0 * :again", "PASS x")
        self.assertEqual(
            client.lines(),
            [f"{S} 462 alice :You may not reregister", f"{S} 462 alice :You may not reregister"],
        )

    def test_quit_before_registration(self) -> None:
        client = self.connect()
        client.send("QUIT")
        self.assertEqual(client.lines(), ["ERROR :Closing Link: Quit"])
        self.assertTrue(client.transport.disconnecting)

    def test_unknown_command(self) -> None:
        client = self.registered("alice")
        client.send("FROB x")
        self.assertEqual(client.lines(), [f"{S} 421 alice FROB :Unknown command"])

    def test_too_long(self) -> None:
        client = self.registered("alice")
        client.send("PRIVMSG bob :" + "x" * 600)
        self.assertEqual(client.lines(), [f"{S} 417 alice :Input line was too long"])


class AccountTests(IrcTestCase):
    def make_factory(self) -> ChatFactory:
        return with_accounts(operators=["Root"])

    def sasl(self, client: Irc, user: str, password: str) -> None:
        client.send("CAP REQ sasl", "AUTHENTICATE PLAIN")
        self.assertEqual(client.lines(), [f"{S} CAP * ACK sasl", "AUTHENTICATE +"])
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        client.send(f"AUTHENTICATE {token}")

    def test_sasl_plain(self) -> None:
        client = self.connect()
        client.send("CAP LS 302")
        self.assertIn("sasl=PLAIN", client.lines()[0])
        self.sasl(client, "alice", "secret")
        self.assertEqual(
            client.lines(),
            [
                f"{S} 900 * *!*@chatsvc alice :You are now logged in as alice",
                f"{S} 903 * :SASL authentication successful",
            ],
        )
        client.send("NICK alice", "USER u 0 * :A", "CAP END")
        self.assertEqual(client.lines()[0].split()[1:3], ["001", "alice"])
        participant = self.factory.chat.find("alice")
        assert participant is not None and participant.account is not None
        self.assertEqual(participant.account.name, "alice")

    def test_sasl_wrong_password_after_a_delay(self) -> None:
        client = self.connect()
        self.sasl(client, "alice", "wrong")
        self.assertEqual(client.lines(), [])
        assert isinstance(self.factory.clock, Clock)
        self.factory.clock.advance(3)
        self.assertEqual(client.lines(), [f"{S} 904 * :SASL authentication failed"])

    def test_sasl_other_mechanism_and_abort(self) -> None:
        client = self.connect()
        client.send("AUTHENTICATE EXTERNAL", "AUTHENTICATE PLAIN", "AUTHENTICATE *")
        self.assertEqual(
            client.lines(),
            [
                f"{S} 908 * PLAIN :are available SASL mechanisms",
                f"{S} 904 * :SASL authentication failed",
                "AUTHENTICATE +",
                f"{S} 906 * :SASL authentication aborted",
            ],
        )

    def test_registered_nickname_without_a_password(self) -> None:
        client = self.connect()
        client.send("NICK alice", "USER u 0 * :A")
        self.assertEqual(
            client.lines(),
            [f"{S} 433 * alice :Nickname is registered; log in to its account with SASL or PASS"],
        )
        client.send("NICK alice_")
        self.assertEqual(client.lines()[0].split()[1:3], ["001", "alice_"])

    def test_pass(self) -> None:
        client = self.connect()
        client.send("PASS secret", "NICK alice", "USER u 0 * :A")
        self.assertEqual(client.lines()[0].split()[1:3], ["001", "alice"])

    def test_wrong_pass(self) -> None:
        client = self.connect()
        client.send("PASS nope", "NICK alice", "USER u 0 * :A")
        self.assertEqual(client.lines(), [f"{S} 464 * :Password incorrect"])

    def test_operators_are_channel_operators(self) -> None:
        root = self.connect()
        root.send("PASS t00r", "NICK Root", "USER r 0 * :R", "JOIN #dev")
        self.assertEqual(
            root.lines()[-3:],
            [
                ":Root!~r@chatsvc JOIN #dev",
                f"{S} 353 Root = #dev :@Root",
                f"{S} 366 Root #dev :End of /NAMES list",
            ],
        )
        guest = self.registered("carol")
        guest.send("JOIN #dev", "TOPIC #dev :mine", "KICK #dev Root")
        self.assertEqual(
            guest.lines()[-2:],
            [
                f"{S} 482 carol #dev :You're not channel operator",
                f"{S} 482 carol #dev :You're not channel operator",
            ],
        )
        root.lines()
        root.send("TOPIC #dev :Welcome", "KICK #dev carol :bye")
        self.assertEqual(
            root.lines(),
            [
                ":Root!~r@chatsvc TOPIC #dev Welcome",
                ":Root!~r@chatsvc KICK #dev carol bye",
            ],
        )
        self.assertEqual(
            guest.lines(),
            [
                ":Root!~r@chatsvc TOPIC #dev Welcome",
                ":Root!~r@chatsvc KICK #dev carol bye",
                "ERROR :Closing Link: Kicked by Root (bye)",
            ],
        )


class ChannelTests(IrcTestCase):
    def test_join_names_privmsg_part(self) -> None:
        alice, bob = self.registered("alice"), self.registered("bob")
        alice.send("JOIN #dev")
        self.assertEqual(
            alice.lines(),
            [
                ":alice!~u@chatsvc JOIN #dev",
                f"{S} 353 alice = #dev :@alice",
                f"{S} 366 alice #dev :End of /NAMES list",
            ],
        )
        bob.send("JOIN #Dev")
        self.assertEqual(
            bob.lines(),
            [
                ":bob!~u@chatsvc JOIN #dev",
                f"{S} 353 bob = #dev :@alice bob",
                f"{S} 366 bob #dev :End of /NAMES list",
            ],
        )
        self.assertEqual(alice.lines(), [":bob!~u@chatsvc JOIN #dev"])
        bob.send("PRIVMSG #dev :hello \x02there\x02", "PRIVMSG #dev :\x01ACTION waves\x01")
        self.assertEqual(
            alice.lines(),
            [
                ":bob!~u@chatsvc PRIVMSG #dev :hello \x02there\x02",
                ":bob!~u@chatsvc PRIVMSG #dev :\x01ACTION waves\x01",
            ],
        )
        self.assertEqual(bob.lines(), [], "no echo without echo-message")
        bob.send("PART #dev :later")
        self.assertEqual(bob.lines(), [":bob!~u@chatsvc PART #dev later"])
        self.assertEqual(alice.lines(), [":bob!~u@chatsvc PART #dev later"])

    def test_privmsg_finds_the_channel_in_any_case_and_only_by_its_name(self) -> None:
        """
        C{#DEV} is C{#dev}; C{##dev} is no channel (though a room name may be
        written with one C{#} on other wires), nor is a name no room could have.
        """
        alice, bob = self.registered("alice"), self.registered("bob")
        alice.send("JOIN #dev")
        bob.send("JOIN #dev")
        alice.lines()
        bob.lines()
        alice.send("PRIVMSG #DEV :hi", "PRIVMSG ##dev :hi", "PRIVMSG #de!v :hi", "PRIVMSG # :hi")
        self.assertEqual(bob.lines(), [":alice!~u@chatsvc PRIVMSG #dev :hi"])
        self.assertEqual(
            alice.lines(),
            [
                f"{S} 403 alice ##dev :No such channel",
                f"{S} 403 alice #de!v :No such channel",
                f"{S} 403 alice # :No such channel",
            ],
        )

    def test_text_like_an_action_is_said_as_it_is(self) -> None:
        """Only C{\\x01ACTION text} is an action: other CTCP-like text is relayed as sent."""
        alice, bob = self.registered("alice"), self.registered("bob")
        alice.send("JOIN #dev")
        bob.send("JOIN #dev")
        alice.lines()
        bob.lines()
        alice.send("PRIVMSG #dev :\x01ACTIONS\x01", "PRIVMSG #dev :\x01ACTION  waves")
        self.assertEqual(
            bob.lines(),
            [
                ":alice!~u@chatsvc PRIVMSG #dev :\x01ACTIONS\x01",
                ":alice!~u@chatsvc PRIVMSG #dev :\x01ACTION  waves\x01",
            ],
        )

    def test_failures(self) -> None:
        alice = self.registered("alice")
        self.registered("bob").send("JOIN #dev")
        alice.send(
            "JOIN dev",
            "PART #nowhere",
            "PART #dev",
            "PRIVMSG #dev :hi",
            "PRIVMSG #nowhere :hi",
            "PRIVMSG nobody :hi",
            "PRIVMSG",
            "PRIVMSG bob",
            "TOPIC #nowhere",
            "KICK #dev bob",
            "JOIN",
        )
        self.assertEqual(
            alice.lines(),
            [
                f"{S} 403 alice dev :No such channel",
                f"{S} 403 alice #nowhere :No such channel",
                f"{S} 442 alice #dev :You're not on that channel",
                f"{S} 404 alice #dev :Cannot send to channel",
                f"{S} 403 alice #nowhere :No such channel",
                f"{S} 401 alice nobody :No such nick/channel",
                f"{S} 411 alice :No recipient given (PRIVMSG)",
                f"{S} 412 alice :No text to send",
                f"{S} 403 alice #nowhere :No such channel",
                f"{S} 442 alice #dev :You're not on that channel",
                f"{S} 461 alice JOIN :Not enough parameters",
            ],
        )

    def test_notices_are_never_answered(self) -> None:
        alice = self.registered("alice")
        self.registered("bob").send("JOIN #dev")
        alice.send(
            "NOTICE #nowhere :hi",
            "NOTICE #dev :hi",
            "NOTICE nobody :hi",
            "NOTICE",
            "NOTICE bob",
            "NOTICE bob :",
            "PRIVMSG bob :",
        )
        self.assertEqual(alice.lines(), [f"{S} 412 alice :No text to send"])

    def test_time(self) -> None:
        alice = self.registered("alice")
        self.factory.clock.advance(61)  # type: ignore[attr-defined]
        alice.send("TIME")
        self.assertEqual(
            alice.lines(),
            [f"{S} 391 alice chatsvc 61 0 :Thursday January 01 1970 -- 00:01:01 +00:00"],
        )

    def test_lusers_shows_the_most_users_at_once(self) -> None:
        alice, bob = self.registered("alice"), self.registered("bob")
        bob.close()
        alice.send("LUSERS")
        self.assertEqual(
            alice.lines()[-2:],
            [
                f"{S} 265 alice 1 2 :Current local users 1, max 2",
                f"{S} 266 alice 1 2 :Current global users 1, max 2",
            ],
        )

    def test_whowas(self) -> None:
        alice = self.registered("alice")
        bob = self.connect()
        bob.send("NICK bob", "USER b 0 * :Bob B")
        bob.send("NICK bobby")
        bob.close()
        self.factory.clock.advance(60)  # type: ignore[attr-defined]
        carol = self.connect()
        carol.send("NICK bob", "USER c 0 * :Carol")
        carol.close()
        alice.lines()
        alice.send("WHOWAS bob", "WHOWAS BOB 1", "WHOWAS bobby", "WHOWAS carol", "WHOWAS")
        self.assertEqual(
            alice.lines(),
            [
                f"{S} 314 alice bob ~c chatsvc * Carol",
                f"{S} 312 alice bob chatsvc :1970-01-01 00:01:00 UTC",
                f"{S} 314 alice bob ~b chatsvc * :Bob B",
                f"{S} 312 alice bob chatsvc :1970-01-01 00:00:00 UTC",
                f"{S} 369 alice bob :End of WHOWAS",
                f"{S} 314 alice bob ~c chatsvc * Carol",
                f"{S} 312 alice bob chatsvc :1970-01-01 00:01:00 UTC",
                f"{S} 369 alice BOB :End of WHOWAS",
                f"{S} 314 alice bobby ~b chatsvc * :Bob B",
                f"{S} 312 alice bobby chatsvc :1970-01-01 00:00:00 UTC",
                f"{S} 369 alice bobby :End of WHOWAS",
                f"{S} 406 alice carol :There was no such nickname",
                f"{S} 369 alice carol :End of WHOWAS",
                f"{S} 461 alice WHOWAS :Not enough parameters",
            ],
        )

    def test_private_messages_notices_and_away(self) -> None:
        alice, bob = self.registered("alice"), self.registered("bob")
        bob.send("AWAY :lunch")
        self.assertEqual(bob.lines(), [f"{S} 306 bob :You have been marked as being away"])
        alice.send("PRIVMSG bob :hi", "NOTICE bob :psst")
        self.assertEqual(alice.lines(), [f"{S} 301 alice bob lunch"])
        self.assertEqual(
            bob.lines(), [":alice!~u@chatsvc PRIVMSG bob :hi", ":alice!~u@chatsvc NOTICE bob :psst"]
        )
        bob.send("AWAY")
        self.assertEqual(bob.lines(), [f"{S} 305 bob :You are no longer marked as being away"])

    def test_echo_message_and_server_time(self) -> None:
        alice = self.connect()
        alice.send("CAP REQ :echo-message server-time", "NICK alice", "USER u 0 * :A", "CAP END")
        alice.lines()
        alice.send("JOIN #dev")
        alice.lines()
        assert isinstance(self.factory.clock, Clock)
        self.factory.clock.advance(1.5)
        alice.send("PRIVMSG #dev :hi")
        self.assertEqual(
            alice.lines(), ["@time=1970-01-01T00:00:01.500Z :alice!~u@chatsvc PRIVMSG #dev :hi"]
        )

    def test_msgid_is_the_same_for_every_recipient(self) -> None:
        self.kind = irc_frontend(IrcServer(created=0, msgid_prefix="m"))
        alice, bob, carol = self.connect(), self.connect(), self.connect()
        alice.send("CAP REQ :echo-message message-tags", "NICK alice", "USER u 0 * :A", "CAP END")
        bob.send("CAP REQ :message-tags server-time", "NICK bob", "USER u 0 * :B", "CAP END")
        carol.send("NICK carol", "USER u 0 * :C")
        for client in (alice, bob, carol):
            client.send("JOIN #dev")
        alice.lines(), bob.lines(), carol.lines()
        alice.send("PRIVMSG #dev :hi", "NOTICE #dev :hi again", "PRIVMSG bob :psst")
        self.assertEqual(
            alice.lines(),
            [
                "@msgid=m1 :alice!~u@chatsvc PRIVMSG #dev :hi",
                "@msgid=m2 :alice!~u@chatsvc NOTICE #dev :hi again",
                "@msgid=m3 :alice!~u@chatsvc PRIVMSG bob :psst",
            ],
        )
        self.assertEqual(
            bob.lines(),
            [
                "@time=1970-01-01T00:00:00.000Z;msgid=m1 :alice!~u@chatsvc PRIVMSG #dev :hi",
                "@time=1970-01-01T00:00:00.000Z;msgid=m2 :alice!~u@chatsvc NOTICE #dev :hi again",
                "@time=1970-01-01T00:00:00.000Z;msgid=m3 :alice!~u@chatsvc PRIVMSG bob :psst",
            ],
        )
        self.assertEqual(
            carol.lines(),
            [":alice!~u@chatsvc PRIVMSG #dev :hi", ":alice!~u@chatsvc NOTICE #dev :hi again"],
        )

    def test_nick_change_is_told_to_the_rooms(self) -> None:
        alice, bob = self.registered("alice"), self.registered("bob")
        alice.send("JOIN #dev")
        bob.send("JOIN #dev")
        alice.lines(), bob.lines()
        alice.send("NICK alicia", "NICK bob")
        self.assertEqual(
            alice.lines(),
            [":alice!~u@chatsvc NICK alicia", f"{S} 433 alicia bob :Nickname is already in use"],
        )
        self.assertEqual(bob.lines(), [":alice!~u@chatsvc NICK alicia"])

    def test_quit_is_told_once(self) -> None:
        alice, bob = self.registered("alice"), self.registered("bob")
        for room in ("#a", "#b"):
            alice.send(f"JOIN {room}")
            bob.send(f"JOIN {room}")
        alice.lines(), bob.lines()
        alice.send("QUIT :bye")
        self.assertEqual(alice.lines(), ["ERROR :Closing Link: Quit"])
        alice.close()
        self.assertEqual(bob.lines(), [":alice!~u@chatsvc QUIT :Quit: bye"])

    def test_join_zero_parts_everything(self) -> None:
        alice = self.registered("alice")
        alice.send("JOIN #a,#b")
        alice.lines()
        alice.send("JOIN 0")
        self.assertEqual(alice.lines(), [":alice!~u@chatsvc PART #a", ":alice!~u@chatsvc PART #b"])

    def test_who_by_mask(self) -> None:
        alice, bob = self.registered("alice"), self.registered("bob")
        self.registered("Bert")
        bob.send("MODE bob +i")
        bob.lines()
        alice.send("WHO *", "WHO b*", "WHO ?ERT", "WHO bob", "WHO *Real*")
        bert = f"{S} 352 alice * ~u chatsvc chatsvc Bert H :0 Real Name"
        me = f"{S} 352 alice * ~u chatsvc chatsvc alice H :0 Real Name"
        bob_line = f"{S} 352 alice * ~u chatsvc chatsvc bob H :0 Real Name"
        self.assertEqual(
            alice.lines(),
            [
                me,
                bert,
                f"{S} 315 alice * :End of WHO list",
                bert,
                f"{S} 315 alice b* :End of WHO list",
                bert,
                f"{S} 315 alice ?ERT :End of WHO list",
                bob_line,
                f"{S} 315 alice bob :End of WHO list",
                me,
                bert,
                f"{S} 315 alice *Real* :End of WHO list",
            ],
            "an invisible user is found by its nickname, not by a mask",
        )
        alice.send("JOIN #dev")
        bob.send("JOIN #dev")
        alice.lines()
        alice.send("WHO b*")
        self.assertEqual(
            alice.lines(),
            [
                bert,
                f"{S} 352 alice #dev ~u chatsvc chatsvc bob H :0 Real Name",
                f"{S} 315 alice b* :End of WHO list",
            ],
            "but it is by a mask to those it shares a channel with",
        )

    def test_queries(self) -> None:
        alice, bob = self.registered("alice"), self.registered("bob")
        alice.send("JOIN #dev")
        bob.send("AWAY :out")
        alice.lines(), bob.lines()
        alice.send(
            "NAMES #dev",
            "LIST",
            "WHO #dev",
            "WHOIS bob",
            "WHOIS nobody",
            "USERHOST alice bob",
            "ISON alice nobody bob",
            "MODE #dev",
            "MODE #dev b",
            "MODE alice",
            "MODE alice +i",
            "MODE bob",
            "MODE alice +x",
        )
        self.assertEqual(
            alice.lines(),
            [
                f"{S} 353 alice = #dev :@alice",
                f"{S} 366 alice #dev :End of /NAMES list",
                f"{S} 321 alice Channel :Users  Name",
                f"{S} 322 alice #dev 1 :",
                f"{S} 323 alice :End of /LIST",
                f"{S} 352 alice #dev ~u chatsvc chatsvc alice H@ :0 Real Name",
                f"{S} 315 alice #dev :End of WHO list",
                f"{S} 311 bob bob ~u chatsvc * :Real Name".replace("bob bob", "alice bob"),
                f"{S} 312 alice bob chatsvc chatsvc",
                f"{S} 301 alice bob out",
                f"{S} 318 alice bob :End of /WHOIS list",
                f"{S} 401 alice nobody :No such nick/channel",
                f"{S} 318 alice nobody :End of /WHOIS list",
                f"{S} 302 alice :alice=+~u@chatsvc bob=-~u@chatsvc",
                f"{S} 303 alice :alice bob",
                f"{S} 324 alice #dev +nt",
                f"{S} 329 alice #dev 0",
                f"{S} 368 alice #dev :End of channel ban list",
                f"{S} 221 alice +",
                ":alice!~u@chatsvc MODE alice +i",
                f"{S} 502 alice :Cannot change mode for other users",
                f"{S} 501 alice :Unknown MODE flag",
            ],
        )


class MixedRoomTests(IrcTestCase):
    def test_irc_and_line_users_share_a_room(self) -> None:
        line = Connection(self.factory)
        line.send("carol")
        line.lines()
        irc = self.registered("alice")
        irc.send("JOIN #lobby")
        self.assertEqual(
            irc.lines(),
            [
                ":alice!~u@chatsvc JOIN #lobby",
                f"{S} 353 alice = #lobby :alice carol",
                f"{S} 366 alice #lobby :End of /NAMES list",
            ],
        )
        self.assertEqual(line.lines(), ["*** alice joined lobby"])
        irc.send("PRIVMSG #lobby :\x02bold\x02 \x0304red\x03 plain", "PRIVMSG carol :psst")
        self.assertEqual(line.lines(), ["<alice> bold red plain", "*alice* psst"])
        line.send("hi alice", "/me waves", "/msg alice back", "/join dev")
        self.assertEqual(
            irc.lines(),
            [
                ":carol!carol@chatsvc PRIVMSG #lobby :hi alice",
                ":carol!carol@chatsvc PRIVMSG #lobby :\x01ACTION waves\x01",
                ":carol!carol@chatsvc PRIVMSG alice :back",
                ":carol!carol@chatsvc PART #lobby",
            ],
        )
        irc.send("QUIT :done")
        irc.close()
        line.lines()
        self.assertIsNone(self.factory.chat.find("alice"))

    def test_list_most_populous_first_with_topics(self) -> None:
        """LIST orders and shows rooms as the line protocol's /rooms does; empty ones left out."""
        line = Connection(self.factory)
        line.send("carol", "/join dev", "/topic release on Friday")
        alice, bob = self.registered("alice"), self.registered("bob")
        alice.send("JOIN #dev")
        bob.send("JOIN #attic")
        alice.lines(), bob.lines()
        bob.send("LIST", "LIST #attic,#lobby")
        self.assertEqual(
            bob.lines(),
            [
                f"{S} 321 bob Channel :Users  Name",
                f"{S} 322 bob #dev 2 :release on Friday",
                f"{S} 322 bob #attic 1 :",
                f"{S} 323 bob :End of /LIST",
                f"{S} 321 bob Channel :Users  Name",
                f"{S} 322 bob #attic 1 :",
                f"{S} 323 bob :End of /LIST",
            ],
        )

    def test_a_line_users_long_message_is_split(self) -> None:
        line = Connection(self.factory)
        line.send("carol")
        irc = self.registered("alice")
        irc.send("JOIN #lobby")
        irc.lines()
        line.send("é" * 1000)
        got = irc.lines()
        self.assertEqual(len(got), 5)
        self.assertTrue(all(len(one.encode()) + 2 <= 512 for one in got))
        self.assertEqual("".join(one.split(" :", 1)[1] for one in got), "é" * 1000)

    def test_an_irc_users_privmsg_too_long_to_relay_is_refused(self) -> None:
        """
        A PRIVMSG within 512 bytes, that with its sender's nick!user@host
        before it would not be, is 417 (irctest's buffering and tags tests
        allow it), never cut: its sender knows to send it shorter. A NOTICE,
        which is never answered, is split as a line user's long line is.
        """
        alice, bob = self.registered("alice"), self.registered("bob")
        alice.send("JOIN #lobby")
        bob.send("JOIN #lobby")
        alice.lines(), bob.lines()
        head = ":alice!~u@chatsvc PRIVMSG #lobby :"
        fits = "a" * (510 - len(head))
        alice.send(f"PRIVMSG #lobby :{fits}", f"PRIVMSG #lobby,bob :{fits}a")
        self.assertEqual(alice.lines(), [f"{S} 417 alice :{RELAYED_TOO_LONG}"])
        self.assertEqual(
            bob.lines(), [head + fits, f":alice!~u@chatsvc PRIVMSG bob :{fits}a"]
        )  # to bob alone, the target is shorter: it fits
        emoji = "😃" * ((510 - len(head)) // 4)
        alice.send(f"PRIVMSG #lobby :{emoji}", f"PRIVMSG #lobby :{emoji}a")
        self.assertEqual(alice.lines(), [f"{S} 417 alice :{RELAYED_TOO_LONG}"])
        self.assertEqual(bob.lines(), [head + emoji])
        alice.send(f"NOTICE #lobby :{fits}aa")  # NOTICE is one byte shorter than PRIVMSG
        self.assertEqual(alice.lines(), [])
        notice = ":alice!~u@chatsvc NOTICE #lobby :"
        self.assertEqual(bob.lines(), [f"{notice}{fits}a", f"{notice}a"])


class HistoryTests(IrcTestCase):
    def make_factory(self) -> ChatFactory:
        clock = Clock()
        self.history = FakeHistory(clock)
        return make_factory(clock=clock, history=self.history, replay=20)

    def test_history_on_join_as_a_batch(self) -> None:
        line = Connection(self.factory)
        line.send("carol", "earlier")
        client = self.connect()
        client.send(
            "CAP REQ :batch server-time draft/chathistory", "NICK alice", "USER u 0 * :A", "CAP END"
        )
        client.lines()
        client.send("JOIN #lobby")
        got = client.lines()
        self.assertEqual(
            [one.split(" ", 1)[1] for one in got[:3]],
            [
                ":alice!~u@chatsvc JOIN #lobby",
                f"{S} 353 alice = #lobby :alice carol",
                f"{S} 366 alice #lobby :End of /NAMES list",
            ],
        )
        self.assertEqual(got[3].split(" ", 1)[1], "BATCH +1 chathistory #lobby")
        self.assertRegex(
            got[4], r"^@time=[^;]+Z;batch=1 :carol!carol@chatsvc PRIVMSG #lobby :earlier$"
        )
        self.assertEqual(got[5].split(" ", 1)[1], "BATCH -1")
        client.send("CHATHISTORY LATEST #lobby * 10", "CHATHISTORY AROUND #lobby * 10")
        got = client.lines()
        self.assertEqual(len(got), 4)
        self.assertIn("FAIL CHATHISTORY INVALID_PARAMS AROUND", got[3])


class ServerNoticeTests(IrcTestCase):
    """What a node of a cluster tells its IRC users unasked, and its goodbye for a lost nickname."""

    def session(self, nick: str) -> Session:
        participant = self.factory.chat.find(nick)
        assert participant is not None
        return self.factory.session_of(participant)

    def test_a_server_notice(self) -> None:
        carol = self.registered("carol")
        self.session("carol").tell("the other servers of this chat are reachable again")
        self.assertEqual(
            carol.lines(),
            [f"{S} NOTICE carol :the other servers of this chat are reachable again"],
        )

    def test_a_nickname_taken_on_another_node(self) -> None:
        carol = self.registered("carol")
        self.session("carol").lose_nickname()
        self.assertEqual(
            carol.lines(), ["ERROR :Closing Link: Nickname taken on another server of this network"]
        )
        self.assertTrue(carol.transport.disconnecting)
