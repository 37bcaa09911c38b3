"""
What real IRC clients send after joining a channel, and what each waits for
before it shows the channel as ready: irssi's C{MODE #chan}, C{WHO #chan},
C{MODE #chan b}; and the other list modes some clients ask for. Each
answer must end with the numeric the client waits for, or it waits for a
timeout of its own.
"""

from __future__ import annotations

from tests.frontends.irc.test_server import IrcTestCase, S


class JoinQueryTests(IrcTestCase):
    def test_irssis_queries_each_get_their_end(self) -> None:
        alice = self.registered("alice")
        alice.send("JOIN #dev")
        alice.lines()
        alice.send("MODE #dev", "WHO #dev", "MODE #dev b")
        self.assertEqual(
            alice.lines(),
            [
                f"{S} 324 alice #dev +nt",
                f"{S} 329 alice #dev 0",
                f"{S} 352 alice #dev ~u chatsvc chatsvc alice H@ :0 Real Name",
                f"{S} 315 alice #dev :End of WHO list",
                f"{S} 368 alice #dev :End of channel ban list",
            ],
        )

    def test_exception_and_invite_lists(self) -> None:
        """
        ISUPPORT says C{CHANMODES=beI,k,l,imnst}, C{EXCEPTS=e} and
        C{INVEX=I}: a client asking for the exception or invite list on
        joining gets it, ended with 349 or 347 (never 368, which a client
        waiting for them does not take as their end).
        """
        alice = self.registered("alice")
        alice.send("JOIN #dev")
        alice.lines()
        alice.send("MODE #dev e", "MODE #dev +I", "MODE #dev q")  # q: owners, by PREFIX
        self.assertEqual(
            alice.lines(),
            [
                f"{S} 349 alice #dev :End of channel exception list",
                f"{S} 347 alice #dev :End of channel invite list",
                f"{S} 461 alice MODE :Not enough parameters",
            ],
        )

    def test_isupport_advertises_exception_and_invite_lists(self) -> None:
        client = self.connect()
        client.send("NICK alice", "USER u 0 * :A")
        isupport = " ".join(one for one in client.lines() if " 005 " in one)
        tokens = (
            "CHANMODES=beI,k,l,imnst ",
            "EXCEPTS=e ",
            "INVEX=I ",
            "MAXLIST=b:500,e:500,I:500 ",
        )
        for token in tokens:
            self.assertIn(token, isupport)

    def test_the_ban_list_of_a_channel_one_is_not_in(self) -> None:
        self.registered("bob").send("JOIN #dev")
        alice = self.registered("alice")
        alice.send("MODE #dev b", "MODE #nowhere b")
        self.assertEqual(
            alice.lines(),
            [
                f"{S} 368 alice #dev :End of channel ban list",
                f"{S} 403 alice #nowhere :No such channel",
            ],
        )

    def test_a_known_mode_changed_by_a_non_operator(self) -> None:
        self.registered("carol").send("JOIN #dev")  # who made #dev, and is its operator
        alice = self.registered("alice")
        alice.send("JOIN #dev")
        alice.lines()
        alice.send("MODE #dev +t", "MODE #dev -n+x")
        self.assertEqual(
            alice.lines(),
            [
                f"{S} 482 alice #dev :You're not channel operator",
                f"{S} 472 alice x :is unknown mode char to me",
            ],
        )
