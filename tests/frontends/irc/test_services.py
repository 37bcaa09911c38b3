"""
The services' pseudo-users (L{chatsvc.frontends.irc.services}): what each
makes of what it is told, and what users see of it on the wire.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat import commands
from chatsvc.chat.sanctions import Mask, SanctionKind
from chatsvc.frontends.irc.services import CHANSERV, NICKSERV, OPERSERV, Identify, ServiceError
from tests.frontends.irc.test_moderation import RegisteringTestCase
from tests.frontends.irc.test_server import S

NS = ":NickServ!NickServ@chatsvc NOTICE"
CS = ":ChanServ!ChanServ@chatsvc NOTICE"
OS = ":OperServ!OperServ@chatsvc NOTICE"


class ParseTests(SynchronousTestCase):
    def test_nickserv(self) -> None:
        self.assertEqual(NICKSERV.command("register hunter22"), commands.Register("hunter22"))
        self.assertEqual(
            NICKSERV.command("REGISTER hunter22 a@example.org"), commands.Register("hunter22")
        )
        self.assertEqual(NICKSERV.command("IDENTIFY pw"), Identify(None, "pw"))
        self.assertEqual(NICKSERV.command("identify Alice pw"), Identify("Alice", "pw"))
        self.assertEqual(
            NICKSERV.command("SET PASSWORD old new"), commands.ChangePassword("old", "new")
        )
        self.assertEqual(
            NICKSERV.command("PASSWORD old new"), commands.ChangePassword("old", "new")
        )
        self.assertEqual(NICKSERV.command("drop"), commands.Unregister())
        self.assertIsNone(NICKSERV.command("HELP"))

    def test_chanserv(self) -> None:
        self.assertEqual(CHANSERV.command("REGISTER #dev"), commands.RegisterRoom("dev"))
        self.assertEqual(
            CHANSERV.command("op #dev bob"), commands.RankInRoom("bob", "operator", "dev")
        )
        self.assertEqual(
            CHANSERV.command("BAN #dev *!*@10.0.0.0/8 1h30m spam and more"),
            commands.Sanction(
                SanctionKind.BAN,
                Mask.parse("10.0.0.0/8"),
                duration=5400.0,
                reason="spam and more",
                room="dev",
            ),
        )
        self.assertEqual(
            CHANSERV.command("UNMUTE #dev bob"),
            commands.Lift(SanctionKind.MUTE, Mask.parse("bob"), room="dev"),
        )

    def test_operserv(self) -> None:
        self.assertEqual(OPERSERV.command("OPER add bob"), commands.GrantOperator("bob"))
        self.assertEqual(OPERSERV.command("oper DEL bob"), commands.GrantOperator("bob", False))
        self.assertEqual(
            OPERSERV.command("MUTE a:bob 7d"),
            commands.Sanction(SanctionKind.MUTE, Mask.parse("account:bob"), True, 7 * 86400.0),
        )

    def test_what_is_refused(self) -> None:
        refused = {
            "": "Say HELP for the commands of ChanServ",
            "FLAGS #dev": "Unknown command FLAGS; say HELP for a list",
            "REGISTER dev": "dev is not a channel: give #NAME",
            "REGISTER": "Syntax: REGISTER #CHANNEL",
            "OP #dev": "Syntax: OP #CHANNEL ACCOUNT",
            "BAN #dev": "Syntax: BAN #CHANNEL MASK [DURATION] [REASON]",
            "BAN #dev bob 0s": "a duration is at least 1s",
            "BAN #dev bob 99999d": "a duration is at most 3650d",
            "BAN #dev bob 5x": "'5x' is not a duration: use a number and s, m, h, d or w "
            "(as 30m or 1h30m)",
            "BAN #dev *!*@*": "* would match everyone",
            "BAN #dev bob 1h " + "x" * 301: "a reason is at most 300 characters (301)",
            "UNBAN #dev": "Syntax: UNBAN #CHANNEL MASK",
        }
        for text, why in refused.items():
            with self.subTest(text):
                with self.assertRaises(ServiceError) as raised:
                    CHANSERV.command(text)
                self.assertEqual(str(raised.exception), why)

    def test_help(self) -> None:
        self.assertEqual(
            NICKSERV.help("HELP identify"),
            [
                "Syntax: IDENTIFY [ACCOUNT] PASSWORD",
                "Log in to ACCOUNT (by default, your nickname's); better: PASS or SASL as you "
                "connect",
            ],
        )
        self.assertEqual(
            NICKSERV.help("HELP nothing"), ["No help for nothing: say HELP for a list"]
        )
        listing = CHANSERV.help("HELP")
        self.assertEqual(
            listing[0], "ChanServ: registered channels, their owners and operators, bans and mutes"
        )
        self.assertEqual(
            listing[1],
            "REGISTER  Register a channel you operate: you own it, and it stays when everyone "
            "leaves",
        )
        self.assertEqual(
            listing[-1], "Say HELP COMMAND for more; every command is /msg ChanServ COMMAND ..."
        )


class NickServTests(RegisteringTestCase):
    def test_register_change_and_drop(self) -> None:
        alice = self.registered("alice")
        alice.send(
            "PRIVMSG NickServ :REGISTER alicealice",
            "NS SET PASSWORD alicealice newpassword",
            "NICKSERV PASSWORD wrongwrong newpassword2",
            "PRIVMSG nickserv :DROP",
        )
        self.assertEqual(
            alice.lines(),
            [
                f"{S} 900 alice alice!~u@chatsvc alice :You are now logged in as alice",
                f"{NS} alice :You registered the account alice and are logged in to it; from now "
                "on, signing on as it asks for its password",
                f"{NS} alice :The password of alice is changed",
                f"{NS} alice :that is not your password; nothing changed",
                f"{S} 901 alice alice!~u@chatsvc :You are now logged out",
                f"{NS} alice :The account alice is deleted; you are a guest now",
            ],
        )
        self.assertIsNone(self.factory.chat.registered("alice"))

    def test_identify(self) -> None:
        self.account("alice").send("QUIT")
        client = self.registered("alice_")
        client.send("NS IDENTIFY alice wrongwrong")
        self.assertEqual(client.lines(), [])
        self.factory.clock.advance(self.factory.password_delay)  # type: ignore[attr-defined]
        self.assertEqual(client.lines(), [f"{NS} alice_ :Invalid password for alice"])
        client.send("PRIVMSG NickServ :IDENTIFY alice alicealicealicealice", "NS IDENTIFY x y")
        self.assertEqual(
            client.lines(),
            [
                f"{S} 900 alice_ alice_!~u@chatsvc alice :You are now logged in as alice",
                f"{NS} alice_ :You are now identified for alice",
                f"{NS} alice_ :You are logged in to alice already",
            ],
        )
        participant = self.factory.chat.find("alice_")
        assert participant is not None and participant.account is not None
        self.assertEqual(participant.account.name, "alice")

    def test_help_unknown_and_reserved(self) -> None:
        client = self.registered("alice")
        client.send("NS", "PRIVMSG NickServ :GHOST bob", "NS REGISTER", "NOTICE NickServ :HELP")
        self.assertEqual(
            client.lines(),
            [
                f"{NS} alice :Say HELP for the commands of NickServ",
                f"{NS} alice :Unknown command GHOST; say HELP for a list",
                f"{NS} alice :Syntax: REGISTER PASSWORD",
            ],
            "a NOTICE is never answered",
        )
        client.send("NICK nickserv", "NICK ChanServ")
        self.assertEqual(
            client.lines(),
            [
                f"{S} 432 alice nickserv :Reserved for a service",
                f"{S} 432 alice ChanServ :Reserved for a service",
            ],
        )
        client.send("NS HELP")
        self.assertEqual(len(client.lines()), 2 + len(NICKSERV.verbs))


class ChanServTests(RegisteringTestCase):
    def test_register_rank_and_ban(self) -> None:
        alice, bob = self.account("alice"), self.account("bob", 50002)
        alice.send("JOIN #dev")
        bob.send("JOIN #dev")
        alice.lines(), bob.lines()
        bob.send("CAP REQ server-time")
        bob.lines()
        alice.send(
            "CS REGISTER #dev",
            "CS OP #dev bob",
            "CS MUTE #dev spam* 30m flooding",
            "CS BANS #dev",
            "CS UNMUTE #dev spam*",
            "CS DROP #dev",
        )
        self.assertEqual(
            alice.lines(),
            [
                f"{CS} alice :You registered dev, and own it; it stays when everyone has left",
                ":alice!~u@chatsvc MODE #dev +o bob",
                f"{CS} alice :bob is an operator of dev now",
                ":alice!~u@chatsvc MODE #dev +b m:spam*!*@*",
                f"{CS} alice :Muted nick:spam* in dev, 30m left (until 1970-01-01 00:30 UTC): "
                "flooding",
                f"{CS} alice :Bans and mutes in dev (1):",
                f"{CS} alice :mute nick:spam* by alice, 30m left (until 1970-01-01 00:30 UTC): "
                "flooding",
                f"{CS} alice :End of list",
                ":alice!~u@chatsvc MODE #dev -b m:spam*!*@*",
                f"{CS} alice :Lifted the mute of nick:spam* in dev",
                f"{CS} alice :dev is no longer registered",
            ],
        )
        stamp = "@time=1970-01-01T00:00:00.000Z"
        self.assertEqual(
            bob.lines(),
            [
                f"{stamp} :alice!~u@chatsvc MODE #dev +o bob",
                f"{stamp} :alice!~u@chatsvc MODE #dev +b m:spam*!*@*",
                f"{stamp} :alice!~u@chatsvc MODE #dev -b m:spam*!*@*",
            ],
            "every IRC user in the channel sees its ban list change",
        )

    def test_refusals_come_from_chanserv(self) -> None:
        alice, bob = self.account("alice"), self.registered("bob")
        alice.send("JOIN #dev")
        bob.send("JOIN #dev")
        alice.lines(), bob.lines()
        bob.send("CS REGISTER #dev", "CS BAN #dev alice", "CS BAN #ops alice", "CS OWNER #dev bob")
        self.assertEqual(
            bob.lines(),
            [
                f"{CS} bob :only registered users may register a room: /register first",
                f"{CS} bob :only operators may ban in dev",
                f"{CS} bob :you are not in ops",
                f"{CS} bob :dev is not registered: /room register it first",
            ],
        )


class OperServTests(RegisteringTestCase):
    def test_oper_add_and_del(self) -> None:
        root, bob = self.root(), self.account("bob")
        bob.send("OS OPER ADD bob")
        self.assertEqual(
            bob.lines(), [f"{OS} bob :only operators may make others server operators"]
        )
        root.send("OS OPER ADD bob", "PRIVMSG OperServ :OPER DEL bob", "OS OPER DEL bob")
        self.assertEqual(
            root.lines(),
            [
                f"{OS} root :bob is now a server operator",
                f"{OS} root :bob is no longer a server operator",
                f"{OS} root :bob was not made an operator with /oper add",
            ],
        )
