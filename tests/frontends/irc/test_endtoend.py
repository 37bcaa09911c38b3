"""
IRC end to end, over real sockets on 127.0.0.1, with an IRC client nobody
here wrote: Twisted's own L{twisted.words.protocols.irc.IRCClient}, beside
line-protocol users in the same rooms.
"""

from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredQueue
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.words.protocols import irc

from tests.frontends.line.test_endtoend import TIMEOUT, LineClient, connect, tcp_endpoint
from tests.support import Services

RECORDED = {"REGISTER", "FAIL", "900", "901", "RPL_BANLIST", "RPL_ENDOFBANLIST"}
RECORDED |= {"ERR_BANNEDFROMCHAN", "ERR_INVITEONLYCHAN", "ERR_CANNOTSENDTOCHAN"}
RECORDED |= {"ERR_BADCHANNELKEY", "ERR_CHANNELISFULL"}
"""The numerics and commands L{Bot} queues that IRCClient itself does nothing with."""


class Bot(irc.IRCClient):
    """An IRC client that queues what it is told, as (kind, who, where, text)."""

    def __init__(self, nick: str, password: str | None = None) -> None:
        self.nickname = nick
        self.password = password  # type: ignore[assignment]
        self.events: DeferredQueue[tuple[str, ...]] = DeferredQueue()
        self.signed_on: Deferred[None] = Deferred()
        self.lost: Deferred[None] = Deferred()

    def signedOn(self) -> None:
        self.signed_on.callback(None)

    def joined(self, channel: str) -> None:
        self.events.put(("joined", channel))

    def privmsg(self, user: str, channel: str, message: str) -> None:
        self.events.put(("privmsg", user.split("!", maxsplit=1)[0], channel, message))

    def action(self, user: str, channel: str, data: str) -> None:
        self.events.put(("action", user.split("!", maxsplit=1)[0], channel, data))

    def userJoined(self, user: str, channel: str) -> None:
        self.events.put(("userJoined", user.split("!", maxsplit=1)[0], channel))

    def userLeft(self, user: str, channel: str) -> None:
        self.events.put(("userLeft", user.split("!", maxsplit=1)[0], channel))

    def userQuit(self, user: str, quitMessage: str) -> None:
        self.events.put(("userQuit", user.split("!", maxsplit=1)[0], quitMessage))

    def topicUpdated(self, user: str, channel: str, newTopic: str) -> None:
        self.events.put(("topic", user.split("!", maxsplit=1)[0], channel, newTopic))

    def userRenamed(self, oldname: str, newname: str) -> None:
        self.events.put(("renamed", oldname, newname))

    def noticed(self, user: str, channel: str, message: str) -> None:
        self.events.put(("notice", user.split("!", maxsplit=1)[0], channel, message))

    def modeChanged(
        self, user: str, channel: str, set: bool, modes: str, args: tuple[str | None, ...]
    ) -> None:
        sign = "+" if set else "-"
        nick = user.split("!", maxsplit=1)[0]
        self.events.put(("mode", nick, channel, sign + modes, *(arg or "" for arg in args)))

    def kickedFrom(self, channel: str, kicker: str, message: str) -> None:
        self.events.put(("kickedFrom", channel, kicker, message))

    def userKicked(self, kickee: str, channel: str, kicker: str, message: str) -> None:
        self.events.put(("userKicked", kickee, channel, kicker, message))

    def irc_unknown(self, prefix: str, command: str, params: list[str]) -> None:
        """What IRCClient has no handler of its own for, of L{RECORDED}: as it comes."""
        if command in RECORDED:
            own = command in ("REGISTER", "FAIL")  # not numerics: no nickname first
            self.events.put((command, *params) if own else (command, *params[1:]))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        super().connectionLost(reason)
        self.lost.callback(None)

    async def next(self) -> tuple[str, ...]:
        d = self.events.get()
        d.addTimeout(TIMEOUT, reactor)
        return await d


async def sign_on(port: int, nick: str, password: str | None = None) -> Bot:
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
    bot: Bot = await connectProtocol(endpoint, Bot(nick, password))
    await bot.signed_on.addTimeout(TIMEOUT, reactor)
    return bot


class TaggedIrc(LineClient):
    """
    A bare IRC client with C{message-tags} and C{echo-message} (IRCClient
    knows neither): it queues every line as the server wrote it.
    """

    def lineReceived(self, line: bytes) -> None:
        super().lineReceived(line.rstrip(b"\r"))

    async def until(self, command: str) -> str:
        """The next line of C{command} (a word after the source), those before it skipped."""
        while True:
            line = await self.next_line()
            if f" {command} " in f"{line} ":
                return line


async def tagged_sign_on(port: int, nick: str) -> TaggedIrc:
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
    client: TaggedIrc = await connectProtocol(endpoint, TaggedIrc())
    for line in ("CAP REQ :message-tags echo-message", f"NICK {nick}", "USER u 0 * :U", "CAP END"):
        client.say(line)
    await client.until("422")
    return client


def irc_port(service: object, index: int) -> int:
    return service.ports[index].getHost().port  # type: ignore[attr-defined, no-any-return]


@pytest_twisted.ensureDeferred
async def test_irc_clients_and_a_line_user_in_one_room(services: Services) -> None:
    service = services.start(
        "--port", "tcp:0:interface=127.0.0.1", "--irc", "tcp:0:interface=127.0.0.1"
    )
    port = irc_port(service, 1)
    alice = await sign_on(port, "alice")
    bob = await sign_on(port, "bob")
    alice.join("#dev")
    assert await alice.next() == ("joined", "#dev")
    bob.join("#dev")
    assert await bob.next() == ("joined", "#dev")
    assert await alice.next() == ("userJoined", "bob", "#dev")

    alice.msg("#dev", "hello bob")
    assert await bob.next() == ("privmsg", "alice", "#dev", "hello bob")
    bob.describe("#dev", "waves")
    assert await alice.next() == ("action", "bob", "#dev", "waves")
    bob.msg("alice", "psst")
    assert await alice.next() == ("privmsg", "bob", "alice", "psst")

    carol = await connect(tcp_endpoint(service), "carol")
    await carol.expect("*** You joined lobby (1 member):", "*** carol")
    carol.say("/join dev")
    await carol.expect(
        "*** You joined dev (3 members):",
        "*** alice, bob, carol",
        "*** Recent history of dev (2 lines, times in UTC):",
    )
    assert (await carol.next_line()).endswith("] <alice> hello bob")
    assert (await carol.next_line()).endswith("] * bob waves")
    await carol.expect("*** End of history")
    assert await alice.next() == ("userJoined", "carol", "#dev")
    assert await bob.next() == ("userJoined", "carol", "#dev")
    carol.say("hi IRC")
    assert await alice.next() == ("privmsg", "carol", "#dev", "hi IRC")
    assert await bob.next() == ("privmsg", "carol", "#dev", "hi IRC")
    alice.msg("#dev", "\x02hi\x02 carol")
    await carol.expect("<alice> hi carol")
    assert await bob.next() == ("privmsg", "alice", "#dev", "\x02hi\x02 carol")

    alice.setNick("alicia")
    assert await bob.next() == ("renamed", "alice", "alicia")
    await carol.expect("*** alice is now known as alicia")

    bob.quit("bye all")
    await bob.lost.addTimeout(TIMEOUT, reactor)
    assert await alice.next() == ("userQuit", "bob", "Quit: bye all")
    await carol.expect("*** bob left dev (quit: bye all)")
    alice.quit()
    await alice.lost.addTimeout(TIMEOUT, reactor)
    await carol.expect("*** alicia left dev")
    await service.stopService()


@pytest_twisted.ensureDeferred
async def test_client_tags_between_clients_that_take_them(services: Services) -> None:
    service = services.start(
        "--port", "tcp:0:interface=127.0.0.1", "--irc", "tcp:0:interface=127.0.0.1"
    )
    port = irc_port(service, 1)
    alice, bob = await tagged_sign_on(port, "alice"), await tagged_sign_on(port, "bob")
    carol = await sign_on(port, "carol")
    dave = await connect(tcp_endpoint(service), "dave")
    await dave.expect("*** You joined lobby (1 member):", "*** dave")
    for tagged in (alice, bob):
        tagged.say("JOIN #lobby")
        await tagged.until("366")
    carol.join("#lobby")
    assert await carol.next() == ("joined", "#lobby")
    await alice.until("JOIN")  # carol's

    alice.say("@+typing=active;+x=a\\sb TAGMSG #lobby")
    alice.say("@+draft/reply=m0 PRIVMSG #lobby :hi")
    for tagged in (alice, bob):  # alice's echo, and bob
        tagmsg = await tagged.until("TAGMSG")
        assert tagmsg.startswith("@msgid="), tagmsg
        assert tagmsg.endswith(";+typing=active;+x=a\\sb :alice!~u@chatsvc TAGMSG #lobby")
        said = await tagged.until("PRIVMSG")
        assert said.endswith(";+draft/reply=m0 :alice!~u@chatsvc PRIVMSG #lobby :hi"), said
    assert await carol.next() == ("privmsg", "alice", "#lobby", "hi"), "and no TAGMSG"
    await dave.expect("*** alice joined lobby", "*** bob joined lobby", "*** carol joined lobby")
    await dave.expect("<alice> hi")
    await service.stopService()


@pytest_twisted.ensureDeferred
async def test_history_on_joining(services: Services) -> None:
    service = services.start(
        "--port", "tcp:0:interface=127.0.0.1", "--irc", "tcp:0:interface=127.0.0.1"
    )
    carol = await connect(tcp_endpoint(service), "carol")
    await carol.expect("*** You joined lobby (1 member):", "*** carol")
    carol.say("said before alice came")
    alice = await sign_on(irc_port(service, 1), "alice")
    alice.join("#lobby")
    assert await alice.next() == ("joined", "#lobby")
    kind, who, where, text = await alice.next()
    assert (kind, who, where) == ("privmsg", "carol", "#lobby")
    assert text.endswith("] said before alice came"), "stamped: this client has no server-time"
    await service.stopService()


@pytest_twisted.ensureDeferred
async def test_the_server_name(services: Services) -> None:
    """C{--irc-name} names the server in its replies: C{001} comes from it."""
    service = services.start(
        "--port",
        "tcp:0:interface=127.0.0.1",
        "--irc",
        "tcp:0:interface=127.0.0.1",
        "--irc-name",
        "irc.example.org",
    )
    alice = await sign_on(irc_port(service, 1), "alice")
    assert alice.hostname == "irc.example.org"
    alice.quit()
    await alice.lost.addTimeout(TIMEOUT, reactor)


@pytest_twisted.ensureDeferred
async def test_accounts_and_bans(services: Services) -> None:
    """
    An IRC client registers (C{REGISTER}) and registers its channel with
    ChanServ; another, with NickServ. A C{+b} puts a guest out, keeps it
    out, and is listed; C{-b} lets it back.
    """
    service = services.start(
        "--port", "tcp:0:interface=127.0.0.1", "--irc", "tcp:0:interface=127.0.0.1"
    )
    port = irc_port(service, 1)
    alice = await sign_on(port, "alice")
    alice.sendLine("REGISTER * * alicealice")
    assert await alice.next() == ("REGISTER", "SUCCESS", "alice", "Account created")
    assert await alice.next() == (
        "900",
        "alice!~alice@chatsvc",
        "alice",
        "You are now logged in as alice",
    )
    alice.join("#dev")
    assert await alice.next() == ("joined", "#dev")
    alice.msg("ChanServ", "REGISTER #dev")
    assert await alice.next() == (
        "notice",
        "ChanServ",
        "alice",
        "You registered dev, and own it; it stays when everyone has left",
    )

    bob = await sign_on(port, "bob")
    bob.msg("NickServ", "REGISTER bobbobbob")
    assert await bob.next() == ("900", "bob!~bob@chatsvc", "bob", "You are now logged in as bob")
    kind, who, _, _ = await bob.next()
    assert (kind, who) == ("notice", "NickServ")
    guest = await sign_on(port, "guest")
    guest.join("#dev")
    assert await guest.next() == ("joined", "#dev")
    assert await alice.next() == ("userJoined", "guest", "#dev")

    alice.mode("#dev", True, "b", mask="guest")
    assert await guest.next() == ("notice", "chatsvc", "guest", "you are banned from dev for good")
    assert await guest.next() == ("kickedFrom", "#dev", "alice", "banned")
    assert await alice.next() == ("userKicked", "guest", "#dev", "alice", "banned")
    assert await alice.next() == ("mode", "alice", "#dev", "+b", "guest!*@*")
    guest.join("#dev")
    assert await guest.next() == (
        "ERR_BANNEDFROMCHAN",
        "#dev",
        "Cannot join channel (+b): you are banned from dev for good",
    )
    alice.sendLine("MODE #dev +b")
    kind, channel, mask, by, _ = await alice.next()
    assert (kind, channel, mask, by) == ("RPL_BANLIST", "#dev", "guest!*@*", "alice!~alice@chatsvc")
    assert await alice.next() == ("RPL_ENDOFBANLIST", "#dev", "End of channel ban list")
    alice.mode("#dev", False, "b", mask="guest!*@*")
    assert await alice.next() == ("mode", "alice", "#dev", "-b", "guest!*@*")
    guest.join("#dev")
    assert await guest.next() == ("joined", "#dev")
    for bot in (alice, bob, guest):
        bot.quit()
        await bot.lost.addTimeout(TIMEOUT, reactor)
    await service.stopService()


@pytest_twisted.ensureDeferred
async def test_keys_limits_and_voices(services: Services) -> None:
    """
    Twisted's IRCClient reads the channel modes with arguments as ISUPPORT
    tells them (C{CHANMODES}, C{PREFIX}); a key and a limit keep others out,
    a voice lets a member speak in a moderated channel.
    """
    service = services.start(
        "--port", "tcp:0:interface=127.0.0.1", "--irc", "tcp:0:interface=127.0.0.1"
    )
    port = irc_port(service, 1)
    alice, bob, carol = [await sign_on(port, nick) for nick in ("alice", "bob", "carol")]
    alice.join("#dev")
    assert await alice.next() == ("joined", "#dev")
    alice.sendLine("MODE #dev +kl beer 2")
    assert await alice.next() == ("mode", "alice", "#dev", "+kl", "beer", "2")
    bob.join("#dev")
    assert await bob.next() == ("ERR_BADCHANNELKEY", "#dev", "Cannot join channel (+k): wrong key")
    bob.join("#dev", "beer")
    assert await bob.next() == ("joined", "#dev")
    assert await alice.next() == ("userJoined", "bob", "#dev")
    carol.join("#dev", "beer")
    assert await carol.next() == ("ERR_CHANNELISFULL", "#dev", "Cannot join channel (+l)")
    alice.sendLine("MODE #dev +m")
    assert await bob.next() == ("mode", "alice", "#dev", "+m", "")
    bob.say("#dev", "may I?")
    assert await bob.next() == ("ERR_CANNOTSENDTOCHAN", "#dev", "Cannot send to channel (+m)")
    alice.mode("#dev", True, "v", user="bob")
    assert await bob.next() == ("mode", "alice", "#dev", "+v", "bob")
    bob.say("#dev", "thank you")
    assert await alice.next() == ("mode", "alice", "#dev", "+m", "")
    assert await alice.next() == ("mode", "alice", "#dev", "+v", "bob")
    assert await alice.next() == ("privmsg", "bob", "#dev", "thank you")
    for bot in (alice, bob, carol):
        bot.quit()
        await bot.lost.addTimeout(TIMEOUT, reactor)
    await service.stopService()
