"""
IRC's clocks, on a fake one: the server pings a silent client and drops one
that does not answer, a connection that does not register in time is
closed, and a client over its rate is read more slowly, never cut short
(here, and over real sockets with Twisted's IRCClient).
"""

from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.frontends.irc.server import irc_frontend
from chatsvc.frontends.irc.wire import IrcServer
from chatsvc.frontends.line.server import ChatFactory
from chatsvc.sessions.session import LOOKUP_COST
from chatsvc.streams.limits import Limits
from chatsvc.testing import FakeHistory
from tests.frontends.irc.test_endtoend import irc_port, sign_on
from tests.frontends.irc.test_server import Irc, S
from tests.frontends.line.test_endtoend import TIMEOUT
from tests.support import Services, make_factory, signed_on

PING = 120.0


class IrcClockTestCase(SynchronousTestCase):
    limits = Limits(rate=0, login_timeout=0)

    def setUp(self) -> None:
        self.clock = Clock()
        self.factory = self.make_factory()
        self.kind = irc_frontend(IrcServer(created=0, ping_interval=PING))
        self.ports = iter(range(50000, 60000))

    def make_factory(self) -> ChatFactory:
        return make_factory(clock=self.clock, limits=self.limits)

    def connect(self) -> Irc:
        return Irc(self.factory, self.kind, next(self.ports))

    def registered(self, nick: str, *channels: str) -> Irc:
        client = self.connect()
        client.send(f"NICK {nick}", "USER u 0 * :Real Name", *(f"JOIN {c}" for c in channels))
        client.lines()
        return client


class PingTests(IrcClockTestCase):
    def test_a_silent_client_is_pinged_then_dropped(self) -> None:
        alice = self.registered("alice", "#dev")
        bob = self.registered("bob", "#dev")
        alice.lines()
        self.clock.advance(PING - 1)
        bob.send("PONG chatsvc")  # bob is not silent
        self.clock.advance(1)
        self.assertEqual(alice.lines(), ["PING chatsvc"])
        self.assertEqual(bob.lines(), [])
        self.clock.advance(PING - 1)
        self.assertEqual(alice.lines(), [], "the answer has until the next check")
        self.assertFalse(alice.transport.disconnecting)
        bob.send("PONG chatsvc")
        self.clock.advance(1)
        self.assertEqual(alice.lines(), ["ERROR :Closing Link: Ping timeout (120 seconds)"])
        self.assertTrue(alice.transport.disconnecting)
        bob.lines()
        alice.close()
        self.assertEqual(bob.lines(), [":alice!~u@chatsvc QUIT :ping timeout: 120 seconds"])
        self.assertIsNone(self.factory.chat.find("alice"))

    def test_an_answer_keeps_the_client(self) -> None:
        alice = self.registered("alice")
        self.clock.advance(PING)
        self.assertEqual(alice.lines(), ["PING chatsvc"])
        self.clock.advance(30)
        alice.send("PONG :chatsvc")
        self.clock.advance(PING - 30)
        self.assertEqual(alice.lines(), [])
        self.assertFalse(alice.transport.disconnecting)
        self.clock.advance(30)
        self.assertEqual(alice.lines(), ["PING chatsvc"], "pinged again once silent as long")

    def test_any_line_is_an_answer(self) -> None:
        alice = self.registered("alice")
        self.clock.advance(PING)
        alice.lines()
        alice.send("PRIVMSG alice :still here")
        self.clock.advance(PING * 0.9)
        self.assertFalse(alice.transport.disconnecting)
        alice.lines()

    def test_a_talking_client_is_never_pinged(self) -> None:
        alice = self.registered("alice")
        for _ in range(10):
            self.clock.advance(PING / 2)
            alice.send("PING :lag")
        self.assertEqual(alice.lines(), [f"{S} PONG chatsvc lag"] * 10)

    def test_an_unregistered_connection_is_pinged_too(self) -> None:
        client = self.connect()
        client.send("NICK alice")
        self.clock.advance(PING)
        self.assertEqual(client.lines(), ["PING chatsvc"])
        self.clock.advance(PING)
        self.assertEqual(client.lines(), ["ERROR :Closing Link: Ping timeout (120 seconds)"])
        self.assertTrue(client.transport.disconnecting)

    def test_no_timer_is_left_behind(self) -> None:
        alice = self.registered("alice")
        self.clock.advance(PING / 3)
        alice.send("QUIT")
        alice.close()
        self.clock.advance(0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_nor_after_a_drop(self) -> None:
        alice = self.registered("alice")
        self.clock.pump([PING, PING])
        self.assertTrue(alice.transport.disconnecting)
        alice.close()
        self.clock.advance(0)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class RegistrationTimeoutTests(IrcClockTestCase):
    limits = Limits(rate=0, login_timeout=30)

    def test_not_registered_in_time(self) -> None:
        client = self.connect()
        client.send("NICK alice")  # and no USER
        self.clock.advance(29)
        self.assertEqual(client.lines(), [])
        self.clock.advance(1)
        self.assertEqual(client.lines(), ["ERROR :Closing Link: Registration timeout"])
        self.assertTrue(client.transport.disconnecting)
        client.close()
        self.assertIsNone(self.factory.chat.find("alice"))

    def test_closed_after_a_nick_alone(self) -> None:
        """The old bug: a NICK without USER, then the connection's end, raised KeyError."""
        other = self.registered("bob")
        client = self.connect()
        client.send("NICK alice")
        client.close()
        self.assertIsNone(self.factory.chat.find("alice"))
        other.send("NICK alice")
        self.assertEqual(other.lines(), [":bob!~u@chatsvc NICK alice"], "the nickname is free")

    def test_capability_negotiation_that_never_ends(self) -> None:
        client = self.connect()
        client.send("CAP LS 302", "NICK alice", "USER u 0 * :A")
        client.lines()
        self.clock.advance(30)
        self.assertEqual(client.lines(), ["ERROR :Closing Link: Registration timeout"])

    def test_talking_does_not_extend_it(self) -> None:
        client = self.connect()
        for _ in range(3):
            self.clock.advance(10)
            client.send("PING x")
        self.assertEqual(client.lines()[-1], "ERROR :Closing Link: Registration timeout")

    def test_registered_in_time_it_is_over(self) -> None:
        client = self.connect()
        self.clock.advance(29)
        client.send("NICK alice", "USER u 0 * :A")
        client.lines()
        self.clock.advance(60)
        self.assertEqual(client.lines(), [])
        self.assertFalse(client.transport.disconnecting)


class FloodTests(IrcClockTestCase):
    limits = Limits(rate=10, burst=20, login_timeout=0)

    def setUp(self) -> None:
        super().setUp()
        self.alice = self.registered("alice", "#dev")
        self.bob = self.registered("bob", "#dev")
        self.clock.advance(10)  # both budgets are full again after registering
        self.alice.lines(), self.bob.lines()

    def test_a_burst_arrives_whole_and_in_order_only_later(self) -> None:
        burst = b"".join(b"PRIVMSG #dev :line %d\r\n" % i for i in range(30))
        self.bob.protocol.dataReceived(burst)
        said = [f":bob!~u@chatsvc PRIVMSG #dev :line {i}" for i in range(30)]
        self.assertEqual(self.alice.lines(), said[:20])
        self.assertEqual(self.bob.transport.producerState, "paused")
        self.clock.advance(0.1)
        self.assertEqual(self.alice.lines(), said[20:21])
        self.clock.advance(0.9)
        self.assertEqual(self.alice.lines(), said[21:])
        self.assertEqual(self.bob.transport.producerState, "producing")
        self.assertEqual(self.bob.lines(), [], "no error, no notice: the client just waited")
        self.assertFalse(self.bob.transport.disconnecting)

    def test_every_command_costs_the_same_as_a_message(self) -> None:
        self.bob.protocol.dataReceived(b"PING x\r\n" * 10 + b"PRIVMSG #dev :after\r\n" * 15)
        self.assertEqual(len(self.alice.lines()), 10)
        self.clock.advance(0.5)
        self.assertEqual(len(self.alice.lines()), 5)

    def test_tagmsg_costs_the_same_as_a_message(self) -> None:
        self.alice.send("CAP REQ message-tags")
        self.bob.send("CAP REQ message-tags")
        self.clock.advance(10)
        self.alice.lines(), self.bob.lines()
        self.bob.protocol.dataReceived(b"@+typing=active TAGMSG #dev\r\n" * 25)
        tagmsgs = len(self.alice.lines())
        self.assertEqual(self.bob.transport.producerState, "paused")
        self.clock.pump([0.1] * 10)
        self.assertEqual(tagmsgs + len(self.alice.lines()), 25, "the rest, later")
        self.clock.advance(10)
        self.bob.protocol.dataReceived(b"PRIVMSG #dev :x\r\n" * 25)
        self.assertEqual(len(self.alice.lines()), tagmsgs)
        self.assertEqual(self.bob.transport.producerState, "paused")

    def test_a_flood_holds_nobody_else_up(self) -> None:
        self.bob.protocol.dataReceived(b"PRIVMSG #dev :flood\r\n" * 100)
        self.alice.lines()
        self.alice.send("PRIVMSG #dev :meanwhile")
        self.assertEqual(self.bob.lines()[-1], ":alice!~u@chatsvc PRIVMSG #dev :meanwhile")


class LookupCostTests(IrcClockTestCase):
    limits = Limits(rate=10, burst=20, login_timeout=0)

    def make_factory(self) -> ChatFactory:
        return make_factory(clock=self.clock, limits=self.limits, history=FakeHistory(self.clock))

    def test_chathistory_costs_a_lookup(self) -> None:
        alice = self.registered("alice", "#dev")
        self.clock.advance(10)
        alice.lines()
        alice.protocol.dataReceived(b"CHATHISTORY LATEST #dev * 5\r\n" + b"PING x\r\n" * 20)
        pongs = [one for one in alice.lines() if "PONG" in one]
        self.assertEqual(len(pongs), 20 - LOOKUP_COST)


class LineUserTests(IrcClockTestCase):
    """What a line user sees of an IRC user dropped for not answering."""

    def test_the_line_user_is_told_why(self) -> None:
        carol = signed_on(self.factory, "carol")
        alice = self.registered("alice", "#lobby")
        carol.lines()
        self.clock.pump([PING, PING])
        alice.close()
        self.assertEqual(carol.lines(), ["*** alice left lobby (ping timeout: 120 seconds)"])


@pytest_twisted.ensureDeferred
async def test_a_burst_over_the_rate_arrives_whole_over_real_sockets(services: Services) -> None:
    """Twisted's IRCClient, unthrottled, sends 4 times the burst at once: every line comes."""
    service = services.start(
        "--port", "tcp:0:interface=127.0.0.1", "--irc", "tcp:0:interface=127.0.0.1",
        "--rate", "50", "--burst", "10",
    )  # fmt: skip
    port = irc_port(service, 1)
    alice, bob = await sign_on(port, "alice"), await sign_on(port, "bob")
    for bot in (alice, bob):
        bot.join("#dev")
        assert await bot.next() == ("joined", "#dev")
    assert await alice.next() == ("userJoined", "bob", "#dev")
    for i in range(40):
        bob.msg("#dev", f"line {i}")
    for i in range(40):
        assert await alice.next() == ("privmsg", "bob", "#dev", f"line {i}")
    assert not bob.lost.called
    bob.quit()
    await bob.lost.addTimeout(TIMEOUT, reactor)
    assert await alice.next() == ("userQuit", "bob", "Quit")
