"""
Three nodes of one chat, in this process, over a real Redis and a real
PostgreSQL (L{tests.servers}): users on different nodes and wires chatting,
a node that dies, Redis stopped and paused, and what each node publishes
checked by its sequence numbers.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import psycopg
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.task import deferLater
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher

from chatsvc.chat.model import Room
from chatsvc.cluster.redis import RedisLink
from chatsvc.service.tap import ChatService
from tests.frontends.irc.test_endtoend import Bot, irc_port, tagged_sign_on
from tests.frontends.irc.test_endtoend import sign_on as irc_sign_on
from tests.frontends.line.test_endtoend import TIMEOUT, LineClient, connect, tcp_endpoint
from tests.frontends.web.test_endtoend import sign_on as web_sign_on
from tests.frontends.web.test_endtoend import web_port
from tests.servers import RedisServer, free_port
from tests.service.test_twistd import TWISTD
from tests.support import Services

LEASE = "3"
"""A short lease, so that a dead node is noticed within the test's time."""


async def until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await deferLater(reactor, 0.02, lambda: None)
    raise AssertionError(f"not {what} after {timeout} s")


def nicks_at(node: ChatService, name: str) -> list[str]:
    """Who is in room C{name} as C{node} knows it: none while it has not heard of the room yet."""
    room = node.factory.chat.find_room(name)
    return [] if room is None else room.nicks()


def registered_at(node: ChatService, name: str) -> bool:
    """Whether C{node} knows of room C{name} and of its registration."""
    room = node.factory.chat.find_room(name)
    return room is not None and room.registration is not None


async def lines_until(user: LineClient, last: str) -> list[str]:
    """What C{user} is told, up to C{last} (the order of notices about the cluster may vary)."""
    lines = []
    while (line := await user.next_line()) != last:
        lines.append(line)
    return lines


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def link(service: ChatService) -> RedisLink:
    cluster = service.cluster
    assert isinstance(cluster, RedisLink)
    return cluster


async def start_nodes(
    services: Services, redis: RedisServer, postgresql: str, *names: str, extra: Sequence[str] = ()
) -> list[ChatService]:
    """A node of the cluster for each of C{names}, with C{extra} options, once all are in it."""
    nodes = [
        services.start(
            *("--port", "tcp:0:interface=127.0.0.1", "--irc", "tcp:0:interface=127.0.0.1"),
            *extra,
            *("--cluster", redis.url, "--node-name", name, "--cluster-lease", LEASE),
            *("--db", postgresql),
        )
        for name in names
    ]
    await until(lambda: all(link(node).up for node in nodes), "all in the cluster")
    return nodes


async def with_password(node: ChatService, nick: str, password: str) -> LineClient:
    """A line user at C{node} that gave C{nick} and, asked for it, C{password}."""
    user = await connect(tcp_endpoint(node))
    user.say(nick)
    await lines_until(user, f"*** Password for {nick}:")
    user.say(password)
    return user


async def line_user(node: ChatService, nick: str, *everywhere: ChatService) -> LineClient:
    """A line user signed on at C{node}, once C{everywhere} knows it is."""
    user = await connect(tcp_endpoint(node), nick)
    assert (await user.next_line()).startswith("*** You joined lobby (")
    await user.next_line()
    await until(lambda: all(n.factory.chat.find(nick) for n in everywhere), f"{nick} everywhere")
    return user


async def runner(node: ChatService, nick: str, room: str, *everywhere: ChatService) -> LineClient:
    """
    A line user signed on at C{node}, once C{everywhere} knows it is, who
    then made C{room} (joined it empty) and so runs it.
    """
    user = await line_user(node, nick, *everywhere)
    user.say(f"/join {room}")
    await lines_until(user, f"*** {nick}")
    return user


@pytest_twisted.ensureDeferred
async def test_users_on_three_nodes_and_two_wires_are_one_chat(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b, c = await start_nodes(services, redis, postgresql, "a", "b", "c")
    alice = await line_user(a, "alice", a, b, c)
    bob = await line_user(b, "bob", a, b, c)
    await alice.expect("*** bob joined lobby")
    carol = await irc_sign_on(irc_port(c, 1), "carol")
    await until(lambda: a.factory.chat.find("carol") is not None, "carol at a")

    # Nicknames are the cluster's: taken on one node, taken on every one.
    taken = await connect(tcp_endpoint(c))
    taken.say("ALICE")
    await taken.expect("*** Error: the nickname ALICE is taken", "*** Choose a nickname:")

    carol.join("#lobby")
    assert await carol.next() == ("joined", "#lobby")
    await alice.expect("*** carol joined lobby")
    await bob.expect("*** carol joined lobby")
    alice.say("/who")
    await alice.expect("*** Members of lobby (3 members):", "*** alice, bob, carol")

    alice.say("hello from a")
    await bob.expect("<alice> hello from a")
    assert await carol.next() == ("privmsg", "alice", "#lobby", "hello from a")
    carol.msg("#lobby", "hello from c")
    await alice.expect("<carol> hello from c")
    await bob.expect("<carol> hello from c")
    bob.say("/me waves")
    await alice.expect("* bob waves")
    assert await carol.next() == ("action", "bob", "#lobby", "waves")

    # Private messages reach the node of their recipient only.
    alice.say("/msg carol psst")
    await alice.expect("-> *carol* psst")
    assert await carol.next() == ("privmsg", "alice", "carol", "psst")

    # Rooms, their members and their names.
    bob.say("/join dev")
    await bob.expect("*** You joined dev (1 member):", "*** bob")
    await alice.expect("*** bob left lobby")
    alice.say("/rooms")
    await alice.expect("*** 2 rooms:", "*** lobby (2)", "*** dev (1)")
    alice.say("/join dev")
    await alice.expect("*** You joined dev (2 members):", "*** alice, bob")
    await bob.expect("*** alice joined dev")
    alice.say("/nick alicia")
    await alice.expect("*** You are now known as alicia")
    await bob.expect("*** alice is now known as alicia")
    bob.say("hi alicia")
    await alice.expect("<bob> hi alicia")

    # Leaving: the other nodes are told.
    bob.say("/quit gone fishing")
    await bob.expect("*** Bye!")
    await alice.expect("*** bob left dev (quit: gone fishing)")
    await until(lambda: a.factory.chat.find("bob") is None, "bob gone from a")
    await until(lambda: c.factory.chat.find("bob") is None, "bob gone from c")


@pytest_twisted.ensureDeferred
async def test_client_tags_reach_irc_users_of_another_node_that_take_them(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b")
    alice = await tagged_sign_on(irc_port(a, 1), "alice")
    bob = await tagged_sign_on(irc_port(b, 1), "bob")
    carol = await irc_sign_on(irc_port(b, 1), "carol")
    for tagged in (alice, bob):
        tagged.say("JOIN #lobby")
        await tagged.until("366")
    # carol joins once b knows alice is in: else alice's join may reach her after her own.
    await until(lambda: len(b.factory.chat.lobby) == 2, "alice and bob in the lobby at b")
    carol.join("#lobby")
    assert await carol.next() == ("joined", "#lobby")
    await until(lambda: len(a.factory.chat.lobby) == 3, "everyone in the lobby at a")

    # Its user is known only at its node: elsewhere it is alice!alice@chatsvc.
    alice.say("@+typing=active TAGMSG #lobby")
    alice.say("@+typing=active TAGMSG bob")
    alice.say("@+draft/reply=x PRIVMSG #lobby :hi")
    tagmsg = await bob.until("TAGMSG")
    assert tagmsg.endswith(";+typing=active :alice!alice@chatsvc TAGMSG #lobby"), tagmsg
    tagmsg = await bob.until("TAGMSG")
    assert tagmsg.endswith(";+typing=active :alice!alice@chatsvc TAGMSG bob"), tagmsg
    said = await bob.until("PRIVMSG")
    assert said.endswith(";+draft/reply=x :alice!alice@chatsvc PRIVMSG #lobby :hi"), said
    assert await carol.next() == ("privmsg", "alice", "#lobby", "hi"), "and no TAGMSG"


@pytest_twisted.ensureDeferred
async def test_each_node_publishes_each_line_once_in_order(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b")
    alice = await line_user(a, "alice", a, b)
    bob = await line_user(b, "bob", a, b)
    await alice.expect("*** bob joined lobby")
    before = link(a).seq
    for n in range(50):
        alice.say(f"line {n}")
    for n in range(50):
        await bob.expect(f"<alice> line {n}")
    assert link(a).seq == before + 50  # one publish per line, not per recipient
    assert link(b)._last["a"] == link(a).seq


@pytest_twisted.ensureDeferred
async def test_a_node_says_it_is_in_the_cluster_once_it_knows_the_others_users(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    (a,) = await start_nodes(services, redis, postgresql, "a")
    await line_user(a, "alice", a)
    known: list[bool] = []
    nodes: list[ChatService] = []

    def observe(event: LogEvent) -> None:
        if event.get("log_format") == "In the cluster as {node}" and event.get("node") == "b":
            known.append(nodes[0].factory.chat.find("alice") is not None)

    observer = cast(ILogObserver, observe)
    globalLogPublisher.addObserver(observer)
    try:
        nodes.append(
            services.start(
                *("--port", "tcp:0:interface=127.0.0.1", "--cluster", redis.url),
                *("--node-name", "b", "--cluster-lease", LEASE, "--db", postgresql),
            )
        )
        await until(lambda: bool(known), "b in the cluster")
    finally:
        globalLogPublisher.removeObserver(observer)
    assert known == [True]  # a user signing on at b from then on sees alice


@pytest_twisted.ensureDeferred
async def test_a_node_killed_loses_its_users_and_claims_within_the_lease(
    services: Services, redis: RedisServer, postgresql: str, tmp_path: Path
) -> None:
    (a,) = await start_nodes(services, redis, postgresql, "a")
    alice = await line_user(a, "alice", a)
    port = free_port()
    log = (tmp_path / "k.log").open("w")
    killed = subprocess.Popen(
        [
            *TWISTD, "-n", "--pidfile=", "chat", "--port", f"tcp:{port}:interface=127.0.0.1",
            "--cluster", redis.url, "--node-name", "k", "--cluster-lease", LEASE,
            "--db", postgresql,
        ],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        await until(lambda: port_open(port), "k listening", 20)
        await until(lambda: b"In the cluster as k" in (tmp_path / "k.log").read_bytes(), "k in")
        dave = await connect(TCP4ClientEndpoint(reactor, "127.0.0.1", port), "dave")
        await dave.expect("*** You joined lobby (2 members):", "*** alice, dave")
        await alice.expect("*** dave joined lobby")
        dave.say("/join dev")
        await dave.expect("*** You joined dev (1 member):", "*** dave")
        await alice.expect("*** dave left lobby")
        killed.send_signal(signal.SIGKILL)
        killed.wait(TIMEOUT)
        alice.say("/who dev")
        await alice.expect("*** Members of dev (1 member):", "*** dave")
        # Gone once the lease runs out unrenewed (a bound, not a measurement:
        # on a busy machine the moment varies; the lease is short for the test).
        await until(lambda: a.factory.chat.find("dave") is None, "dave gone", 3 * float(LEASE))
        # Its nickname is free again, everywhere.
        await line_user(a, "dave", a)
        await alice.expect("*** dave joined lobby")
    finally:
        if killed.poll() is None:
            killed.kill()
        killed.wait(TIMEOUT)
        log.close()


@pytest_twisted.ensureDeferred
async def test_a_node_stopped_cleanly_moves_nobody_else(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b")
    alice = await line_user(a, "alice", a, b)
    bob = await line_user(b, "bob", a, b)
    await alice.expect("*** bob joined lobby")
    await b.stopService()
    await bob.expect("*** The server is shutting down. Goodbye!")
    await alice.expect("*** bob left lobby (its server stopped)")
    # bob may come back at once, on the node still running.
    bob = await line_user(a, "bob", a)
    await alice.expect("*** bob joined lobby")


@pytest_twisted.ensureDeferred
async def test_redis_restarted(services: Services, redis: RedisServer, postgresql: str) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b")
    alice = await line_user(a, "alice", a, b)
    bob = await line_user(b, "bob", a, b)
    await alice.expect("*** bob joined lobby")
    redis.stop()
    gone = (
        "*** the other servers of this chat cannot be reached: only users of this server "
        "see what you say, until they can"
    )
    await alice.expect(gone)
    await bob.expect(gone)
    alice.say("is anyone there?")  # reaches nobody on b: Redis is gone
    # Meanwhile both nodes give out the same nickname; one keeps it afterwards.
    eve_a = await line_user(a, "eve", a)
    await alice.expect("*** eve joined lobby")
    eve_b = await line_user(b, "eve", b)
    await bob.expect("*** eve joined lobby")
    redis.start()
    back = "*** the other servers of this chat are reachable again"
    left = "*** eve left lobby (its nickname is taken on another server)"
    told = {"a": await lines_until(alice, back), "b": await lines_until(bob, back)}
    await until(lambda: link(a).up and link(b).up, "both back")
    # eve keeps the nickname on the node that claimed it first; the other eve goes.
    lost = "*** Your nickname was taken on another server of this chat meanwhile. Goodbye!"
    losers = [name for name, lines in told.items() if left in lines]
    assert len(losers) == 1, told
    loser = eve_a if losers == ["a"] else eve_b
    await lines_until(loser, lost)
    await loser.expect_closed()
    await until(lambda: all(n.factory.chat.find("eve") is not None for n in (a, b)), "eve on both")
    bob.say("back again")
    await alice.expect("<bob> back again")
    alice.say("/who")
    await alice.expect("*** Members of lobby (3 members):", "*** alice, bob, eve")


@pytest_twisted.ensureDeferred
async def test_redis_paused_is_a_partition(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b")
    alice = await line_user(a, "alice", a, b)
    bob = await line_user(b, "bob", a, b)
    await alice.expect("*** bob joined lobby")
    redis.pause()
    try:
        await until(lambda: not link(a).up and not link(b).up, "both cut off")
    finally:
        redis.resume()
    # Both told they are back (a node is up as it starts to join again, and
    # says so once it has: a line said in between may reach it first).
    for user in (alice, bob):
        await user.expect(
            "*** the other servers of this chat cannot be reached: only users of this server "
            "see what you say, until they can",
            "*** the other servers of this chat are reachable again",
        )
    alice.say("after the partition")
    await bob.expect("<alice> after the partition")


@pytest_twisted.ensureDeferred
async def test_topics_operators_and_kicks_across_nodes(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    accounts = ("--auth", "memory:root:t00r", "--op", "root")
    a, b = await start_nodes(services, redis, postgresql, "a", "b", extra=accounts)
    root = await with_password(a, "root", "t00r")
    await lines_until(root, "*** root")
    await until(lambda: b.factory.chat.find("root") is not None, "root at b")
    bob = await line_user(b, "bob", a, b)
    await root.expect("*** bob joined lobby")
    root.say("/topic all systems go")
    await root.expect("*** root set the topic: all systems go")
    await bob.expect("*** root set the topic: all systems go")
    bob.say("/topic")
    shown = await bob.next_line()
    assert shown.startswith("*** Topic for lobby: all systems go (set by root, "), shown
    root.say("/topic -delete")
    await root.expect("*** root cleared the topic")
    await bob.expect("*** root cleared the topic")
    bob.say("/topic")
    await bob.expect("*** No topic for lobby")
    root.say("/kick bob spamming")
    await bob.expect("*** You were kicked by root (spamming)")
    await root.expect("*** bob was kicked by root (spamming)")
    await bob.expect_closed()
    await until(lambda: b.factory.chat.find("bob") is None, "bob gone from b")
    await until(lambda: a.factory.chat.find("bob") is None, "bob gone from a")


@pytest_twisted.ensureDeferred
async def test_a_node_stops_while_redis_is_away(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    (a,) = await start_nodes(services, redis, postgresql, "a")
    alice = await line_user(a, "alice", a)
    redis.stop()
    await until(lambda: not link(a).up, "a cut off")
    stopped = a.stopService()
    stopped.addTimeout(TIMEOUT, reactor)
    await stopped
    await alice.expect(
        "*** the other servers of this chat cannot be reached: only users of this server "
        "see what you say, until they can",
        "*** The server is shutting down. Goodbye!",
    )


@pytest_twisted.ensureDeferred
async def test_history_is_the_clusters(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b")
    alice = await line_user(a, "alice", a, b)
    alice.say("said on a")
    await deferLater(reactor, 0.5, lambda: None)  # written to the shared database
    bob = await line_user(b, "bob", a, b)  # b's replay reads the database
    await alice.expect("*** bob joined lobby")
    assert (await bob.next_line()).startswith("*** Recent history of lobby (1 line")
    assert (await bob.next_line()).endswith("] <alice> said on a")
    await bob.expect("*** End of history")
    alice.say("said on a again")
    await bob.expect("<alice> said on a again")
    carol = await line_user(b, "carol", a, b)  # from b's memory, which has a's new line
    assert (await carol.next_line()).startswith("*** Recent history of lobby (2 lines")
    assert (await carol.next_line()).endswith("] <alice> said on a")
    assert (await carol.next_line()).endswith("] <alice> said on a again")
    await carol.expect("*** End of history")
    await bob.expect("*** carol joined lobby")
    await deferLater(reactor, 0.5, lambda: None)  # a's line written: searches read the database
    bob.say("/search again")
    await bob.expect("*** Search results in lobby for again (1 line, times in UTC):")
    assert (await bob.next_line()).endswith("] <alice> said on a again")


@pytest_twisted.ensureDeferred
async def test_an_account_signed_on_at_another_node_keeps_its_nickname_there(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    accounts = ("--auth", "memory:root:t00r")
    a, b = await start_nodes(services, redis, postgresql, "a", "b", extra=accounts)
    first = await with_password(a, "root", "t00r")
    await lines_until(first, "*** root")
    await until(lambda: b.factory.chat.find("root") is not None, "root at b")
    # On one node, the same account signing on again takes the nickname over;
    # across nodes it cannot (the session is on the other node): it is taken.
    second = await with_password(b, "root", "t00r")
    await second.expect("*** Error: the nickname root is taken", "*** Choose a nickname:")
    first.say("/who")
    await first.expect("*** Members of lobby (1 member):", "*** root")


@pytest_twisted.ensureDeferred
async def test_metrics_say_whether_redis_answers_and_time_each_publish(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    from tests.service.test_metrics import scrape

    metrics = ("--metrics", "tcp:0:interface=127.0.0.1")
    (node,) = await start_nodes(services, redis, postgresql, "m", extra=metrics)
    before = await scrape(node)
    assert before["chatsvc_cluster_redis_up"] == 1
    alice = await line_user(node, "alice", node)
    alice.say("hello")  # its sign-on and its line: published in one turn or two
    await until(lambda: link(node).published > before["chatsvc_cluster_publishes_total"], "out")
    after = await scrape(node)
    published = after["chatsvc_cluster_publishes_total"]
    assert published > before["chatsvc_cluster_publishes_total"]
    assert after["chatsvc_cluster_publish_seconds_count"] == published
    redis.stop()
    await until(lambda: not link(node).up, "Redis gone")
    assert (await scrape(node))["chatsvc_cluster_redis_up"] == 0


# What the registry keeps, shared: accounts, operators, registered rooms, bans and mutes

OPERATOR = ("--auth", "memory:root:t00r", "--op", "root")
"""A server operator, root, on every node."""


async def refusal(user: LineClient) -> str:
    """The next error C{user} is shown (notices of others coming and going may come first)."""
    while not (line := await user.next_line()).startswith("*** Error: "):
        pass
    return line


async def operator(node: ChatService, *everywhere: ChatService) -> LineClient:
    """root, signed on at C{node}, once C{everywhere} knows it is."""
    root = await with_password(node, "root", "t00r")
    await lines_until(root, "*** root")
    await until(lambda: all(n.factory.chat.find("root") for n in everywhere), "root everywhere")
    return root


@pytest_twisted.ensureDeferred
async def test_an_account_registered_at_one_node_logs_in_at_another(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b")
    alice = await line_user(a, "alice", a, b)
    alice.say("/register wonderland")
    await alice.expect(
        "*** You registered the account alice and are logged in to it; "
        "from now on, signing on as it asks for its password"
    )
    await until(lambda: b.factory.chat.registered("alice") == "alice", "alice registered at b")
    at_b = b.factory.chat.find("alice")
    assert at_b is not None and at_b.account is not None  # logged in, as b sees it
    alice.say("/quit")
    await alice.expect_closed()
    await until(lambda: b.factory.chat.find("alice") is None, "alice gone from b")
    # Protected at b: a guest there may not take it.
    guest = await line_user(b, "guest", a, b)
    guest.say("/nick alice")
    await guest.expect("*** Error: the nickname alice is registered")
    again = await with_password(b, "alice", "wonderland")
    await again.expect("*** Hello alice! Type /help for the commands.")
    await until(lambda: a.factory.chat.find("alice") is not None, "alice back at a")
    await lines_until(again, "*** alice, guest")
    again.say("/password wonderland looking-glass")
    await again.expect("*** The password of alice is changed")
    # a checks the new password (its hash came from b), not the old one.
    registrar = a.factory.registrar
    assert registrar is not None
    for _ in range(int(TIMEOUT / 0.02)):
        if await registrar.accounts.check("alice", b"looking-glass"):
            break
        await deferLater(reactor, 0.02, lambda: None)
    assert not await registrar.accounts.check("alice", b"wonderland")


@pytest_twisted.ensureDeferred
async def test_an_operator_made_at_one_node_is_one_at_another(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b", extra=OPERATOR)
    root = await operator(a, a, b)
    dave = await line_user(b, "dave", a, b)
    dave.say("/register dave-pass")
    await lines_until(
        dave,
        "*** You registered the account dave and are logged in to it; "
        "from now on, signing on as it asks for its password",
    )
    await until(lambda: a.factory.chat.registered("dave") == "dave", "dave registered at a")
    root.say("/oper add dave")
    await lines_until(root, "*** dave is now a server operator")
    await until(lambda: bool(b.factory.chat.operators), "dave an operator at b")
    dave.say("/bans -g")
    await dave.expect("*** No bans or mutes in the chat")
    root.say("/oper del dave")
    await root.expect("*** dave is no longer a server operator")
    await until(lambda: not b.factory.chat.operators, "dave no operator at b")
    dave.say("/bans -g")
    await dave.expect("*** Error: only operators may list chat-wide bans")


@pytest_twisted.ensureDeferred
async def test_a_ban_set_at_one_node_holds_at_another(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b", extra=OPERATOR)
    root = await operator(a, a, b)
    bob = await line_user(b, "bob", a, b)
    carol = await line_user(b, "carol", a, b)
    root.say("/join dev")
    await lines_until(root, "*** You joined dev (1 member):")
    await until(lambda: "dev" in [r.name for r in b.factory.chat.rooms()], "dev at b")
    bob.say("/join dev")
    await lines_until(bob, "*** bob, root")
    carol.say("/join dev")
    await lines_until(carol, "*** bob, carol, root")
    await lines_until(bob, "*** carol joined dev")
    await lines_until(root, "*** carol joined dev")
    # By address: a does not know bob's; b puts him out, with why and for how long.
    root.say("/ban 127.0.0.1 10m spam")
    banned = await bob.next_line()
    assert banned.startswith("*** You are banned from dev for 10m (until "), banned
    assert banned.endswith("): spam"), banned
    await bob.expect("*** You were put out of dev by root (banned: spam); you are in lobby")
    told = await root.next_line()  # the room's line first, then root's answer
    assert told.startswith("*** root banned 127.0.0.1/32 in dev until "), told
    assert told.endswith(" UTC (spam)"), told
    set_line = await root.next_line()
    assert set_line.startswith("*** Banned 127.0.0.1/32 in dev, 10m left (until "), set_line
    assert sorted([await root.next_line(), await root.next_line()]) == [
        "*** bob was put out of dev by root (banned: spam)",
        "*** carol was put out of dev by root (banned: spam)",
    ]
    assert a.factory.chat.room("dev").nicks() == ["root"]
    bob.say("/join dev")
    refused = await refusal(bob)  # after carol, put out too, comes back to the lobby
    assert refused.startswith("*** Error: you are banned from dev for "), refused
    # Chat-wide, by nickname: out of the chat at b, gone from every node.
    root.say("/ban -g carol flood")
    await lines_until(carol, "*** You are banned from the chat for good: flood")
    await carol.expect_closed()
    await until(lambda: a.factory.chat.find("carol") is None, "carol gone from a")
    assert b.factory.chat.find("carol") is None
    # Both bans hold for a user signing on later, at either node.
    again = await connect(tcp_endpoint(b))
    again.say("carol")
    refused = await again.next_line()
    assert refused == "*** Error: you are banned from the chat for good: flood", refused


@pytest_twisted.ensureDeferred
async def test_a_mute_set_at_one_node_silences_at_another(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b", extra=OPERATOR)
    root = await operator(a, a, b)
    bob = await line_user(b, "bob", a, b)
    await lines_until(root, "*** bob joined lobby")
    root.say("/mute -g bob 5m")
    muted = await bob.next_line()
    assert muted.startswith("*** You are muted in the chat for 5m (until "), muted
    bob.say("hello?")
    refused = await refusal(bob)
    assert refused.startswith("*** Error: you are muted in the chat for "), refused
    root.say("/unmute -g bob")
    await bob.expect("*** You may speak again now")
    bob.say("hello!")
    await lines_until(root, "<bob> hello!")  # and never the line said while muted


@pytest_twisted.ensureDeferred
async def test_a_registered_room_and_its_topic_outlive_every_node(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b", extra=OPERATOR)
    root = await operator(a, a, b)
    root.say("/join dev")
    await lines_until(root, "*** You joined dev (1 member):")
    await root.expect("*** root")
    root.say("/room register")
    await root.expect("*** You registered dev, and own it; it stays when everyone has left")
    root.say("/topic deploys on friday")
    await lines_until(root, "*** root set the topic: deploys on friday")
    root.say("/room mode +i")
    await lines_until(root, "*** root made dev invite-only")

    def registered(node: ChatService) -> bool:
        rooms = {room.name: room for room in node.factory.chat.rooms()}
        room = rooms.get("dev")
        return room is not None and room.registration is not None and room.invite_only

    await until(lambda: registered(b), "dev registered and invite-only at b")
    for node in (a, b):
        await node.stopService()
    a, b = await start_nodes(services, redis, postgresql, "a", "b", extra=OPERATOR)
    assert registered(a) and registered(b)
    root = await operator(b, a, b)
    root.say("/join dev")
    joined = await lines_until(root, "*** root")
    assert joined[-1] == "*** You joined dev (1 member):", joined
    root.say("/topic")
    shown = await root.next_line()
    assert shown.startswith("*** Topic for dev: deploys on friday (set by root, "), shown
    guest = await line_user(a, "guest", a, b)
    guest.say("/join dev")
    assert (
        await refusal(guest) == "*** Error: dev is invite-only: an operator of it must /invite you"
    )


@pytest_twisted.ensureDeferred
async def test_a_ban_and_a_mute_set_while_redis_is_away_hold_elsewhere_once_their_setter_left(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b", extra=OPERATOR)
    root = await operator(a, a, b)
    bob = await line_user(b, "bob", a, b)
    carol = await line_user(b, "carol", a, b)
    await lines_until(root, "*** carol joined lobby")
    redis.pause()
    try:
        await until(lambda: not link(a).up and not link(b).up, "both cut off")
        root.say("/mute -g carol")
        await lines_until(root, "*** Muted nick:carol chat-wide, for good; it holds for carol")
        root.say("/ban -g bob spam")
        await lines_until(root, "*** bob was kicked by root (banned: spam)")
        root.say("/quit")  # before Redis is back: the others never see root again
        await root.expect_closed()
    finally:
        redis.resume()
    # In the order set, though their setter is gone: carol is muted, bob put out.
    await lines_until(carol, "*** You are muted in the chat for good")
    await lines_until(bob, "*** You are banned from the chat for good: spam")
    await bob.expect_closed()
    await lines_until(carol, "*** bob was kicked by root (banned: spam)")
    await until(lambda: a.factory.chat.find("bob") is None, "bob gone from a")
    # And they hold there.
    carol.say("hello?")
    refused = await refusal(carol)
    assert refused.startswith("*** Error: you are muted in the chat for good"), refused
    again = await connect(tcp_endpoint(b))
    again.say("bob")
    assert await again.next_line() == "*** Error: you are banned from the chat for good: spam"


async def irc_user(node: ChatService, nick: str, *everywhere: ChatService) -> Bot:
    """An IRC user signed on at C{node}, once C{everywhere} knows it is."""
    bot = await irc_sign_on(irc_port(node, 1), nick)
    await until(lambda: all(n.factory.chat.find(nick) for n in everywhere), f"{nick} everywhere")
    return bot


async def irc_joined(bot: Bot, channel: str) -> None:
    """C{bot} joins C{channel}, and is told it did (the others' joins before are passed by)."""
    bot.join(channel)
    while await bot.next() != ("joined", channel):
        pass


async def irc_until(bot: Bot, kind: str) -> tuple[str, ...]:
    """The next event of C{kind} C{bot} is told of, the others passed by."""
    while (event := await bot.next())[0] != kind:
        pass
    return event


@pytest_twisted.ensureDeferred
async def test_a_rank_given_at_one_node_is_told_to_the_room_at_every_node_on_every_wire(
    services: Services, redis: RedisServer, postgresql: str, tmp_path: Path
) -> None:
    web = ("--web", "tcp:0:interface=127.0.0.1", "--files-dir", str(tmp_path / "files"))
    a, b = await start_nodes(services, redis, postgresql, "a", "b", extra=(*OPERATOR, *web))
    root = await operator(a, a, b)
    root.say("/join dev")
    await lines_until(root, "*** root")
    root.say("/room register")
    await root.expect("*** You registered dev, and own it; it stays when everyone has left")
    # b hears of the room, then of its registration, each when Redis tells it.
    await until(lambda: registered_at(b, "dev"), "dev registered at b")
    bob = await line_user(b, "bob", a, b)
    bob.say("/register bob-pass")
    await lines_until(bob, "*** You registered the account bob and are logged in to it; "
                      "from now on, signing on as it asks for its password")  # fmt: skip
    await until(lambda: a.factory.chat.registered("bob") == "bob", "bob registered at a")
    bob.say("/join dev")
    await lines_until(bob, "*** bob, root")
    # On each node, one user of each other wire in dev.
    ircs = {node: await irc_user(node, f"irc{name}", a, b) for node, name in ((a, "a"), (b, "b"))}
    webs = {}
    for node, name in ((a, "a"), (b, "b")):
        webs[node] = await web_sign_on(web_port(node, 2), f"web{name}")
        entered = await webs[node].answer("join", room="dev")
        assert entered["type"] == "reply", entered
    for bot in ircs.values():
        await irc_joined(bot, "#dev")
    await until(lambda: all(len(nicks_at(n, "dev")) == 6 for n in (a, b)), "all in")

    root.say("/room op bob")
    made = "*** root made bob an operator of dev"
    await lines_until(root, made)  # where it was made
    await lines_until(bob, made)  # at the other node, on the line wire
    for node, bot in ircs.items():  # on IRC, at both: the same MODE line
        assert await irc_until(bot, "mode") == ("mode", "root", "#dev", "+o", "bob"), node
    events = [await webs[node].event("rank") for node in (a, b)]  # on the web, at both
    assert (
        events[0]
        == events[1]
        == {
            "type": "rank",
            "room": "dev",
            "account": "bob",
            "rank": "operator",
            "was": None,
            "by": "root",
            "nicks": ["bob"],
        }
    ), events
    room_at_b = b.factory.chat.room("dev")
    assert room_at_b.registration is not None and room_at_b.registration.rank("bob") == "operator"


@pytest_twisted.ensureDeferred
async def test_a_ban_set_at_one_node_is_the_channels_mode_line_on_irc_at_another(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b")
    olga = await runner(a, "olga", "dev", a, b)
    await until(lambda: "dev" in [r.name for r in b.factory.chat.rooms()], "dev at b")
    ircs = {node: await irc_user(node, f"irc{name}", a, b) for node, name in ((a, "a"), (b, "b"))}
    for bot in ircs.values():
        await irc_joined(bot, "#dev")
    await until(lambda: all(len(nicks_at(n, "dev")) == 3 for n in (a, b)), "all in")
    olga.say("/ban spammer 1h spam")
    olga.say("/mute ircb")  # at b: ircb is told it is muted, then sees the channel's line
    olga.say("/unban spammer")
    olga.say("done")
    for node, bot in ircs.items():  # the same MODE lines, once, at olga's node and the other
        told = []
        while (event := await bot.next()) != ("privmsg", "olga", "#dev", "done"):
            told.append(event)
        assert [event for event in told if event[0] == "mode"] == [
            ("mode", "olga", "#dev", "+b", "spammer!*@*"),
            ("mode", "olga", "#dev", "+b", "m:ircb!*@*"),
            ("mode", "olga", "#dev", "-b", "spammer!*@*"),
        ], (node, told)
    while not (line := await olga.next_line()).startswith("*** olga banned"):
        assert "joined dev" in line, line  # irca's and ircb's
    said = [line, await olga.next_line()]
    assert said[0].startswith("*** olga banned nick:spammer in dev until "), said
    assert said[0].endswith(" UTC (spam)"), said
    assert said[1].startswith("*** Banned nick:spammer in dev, 1h left (until "), said


async def joined(user: LineClient, room: str) -> None:
    """C{user} joins C{room}, and is told who is in it."""
    user.say(f"/join {room}")
    while not (await user.next_line()).startswith(f"*** You joined {room} ("):
        pass
    await user.next_line()


@pytest_twisted.ensureDeferred
async def test_moderation_at_one_node_is_seen_at_another_as_there(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    (b,) = await start_nodes(services, redis, postgresql, "b")
    bob = await line_user(b, "bob", b)  # a learns of him from b's members, not as he signs on
    (a,) = await start_nodes(services, redis, postgresql, "a")
    await until(lambda: a.factory.chat.find("bob") is not None, "bob at a")
    olga = await runner(a, "olga", "dev", a, b)
    watchers = {"a": await line_user(a, "carol", a, b), "b": await line_user(b, "dave", a, b)}
    for user in (*watchers.values(), bob):
        await joined(user, "dev")
    frank = await line_user(a, "frank", a, b)  # invited at olga's node
    erin = await line_user(b, "erin", a, b)  # invited at the other
    olga.say("all here")
    for user in watchers.values():
        await lines_until(user, "<olga> all here")

    olga.say("/room mode +m")
    olga.say("/room mode -m")
    olga.say("/mute bob 5m")
    olga.say("/unmute bob")
    olga.say("/room mode +i")
    await lines_until(olga, "*** olga made dev invite-only")
    for nick, invited in (("frank", frank), ("erin", erin)):
        olga.say(f"/invite {nick}")
        await lines_until(invited, "*** olga invites you to dev (/join dev)")
        await joined(invited, "dev")
        await until(
            lambda: all(nick in nicks_at(n, "dev") for n in (a, b)),  # noqa: B023
            f"{nick} in dev everywhere",
        )
    olga.say("/kick bob flood")
    await lines_until(olga, "*** bob was put out of dev by olga (flood)")
    olga.say("/ban frank spam")
    await lines_until(olga, "*** frank was put out of dev by olga (banned: spam)")
    olga.say("/room mode -i")
    olga.say("that is all")
    seen = {name: await lines_until(user, "<olga> that is all") for name, user in watchers.items()}
    assert seen["a"] == seen["b"], seen  # the mute's "until" is the same time at both
    muted = seen["a"][2]
    assert muted.startswith("*** olga muted nick:bob in dev until ") and muted.endswith(" UTC")
    assert seen["a"][:2] + seen["a"][3:] == [
        "*** olga made dev moderated",
        "*** olga made dev no longer moderated",
        "*** olga lifted the mute of nick:bob in dev",
        "*** olga made dev invite-only",
        "*** frank joined dev",
        "*** erin joined dev",
        "*** bob was put out of dev by olga (flood)",
        "*** frank was put out of dev by olga (banned: spam)",
        "*** olga banned nick:frank in dev for good (spam)",
        "*** olga made dev no longer invite-only",
    ], seen
    for name in ("lobby", "dev"):  # and both nodes hold the rooms alike
        assert a.factory.chat.room(name).nicks() == b.factory.chat.room(name).nicks(), name


@pytest_twisted.ensureDeferred
async def test_a_node_starting_as_another_changes_the_registry_misses_nothing(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    (a,) = await start_nodes(services, redis, postgresql, "a", extra=OPERATOR)
    root = await operator(a, a)
    dave = await line_user(a, "dave", a)
    dave.say("/register dave-pass")
    await lines_until(dave, "*** You registered the account dave and are logged in to it; "
                      "from now on, signing on as it asks for its password")  # fmt: skip
    root.say("/join dev")
    await lines_until(root, "*** root")

    def written() -> bool:
        with psycopg.connect(postgresql) as connection:
            return connection.execute("SELECT name FROM chatsvc_accounts").fetchall() != []

    await until(written, "dave in the database")
    # a's writes wait (reads do not): what a publishes now, a node that
    # starts does not read in the database, and has not subscribed to yet.
    with psycopg.connect(postgresql, autocommit=False) as held:
        held.execute(
            "LOCK TABLE chatsvc_accounts, chatsvc_operators, chatsvc_rooms, "
            "chatsvc_room_ranks, chatsvc_sanctions IN SHARE MODE"
        )
        root.say("/oper add dave")
        await root.expect("*** dave is now a server operator")
        root.say("/room register")
        await lines_until(
            root, "*** You registered dev, and own it; it stays when everyone has left"
        )
        root.say("/room mode +i")
        await lines_until(root, "*** root made dev invite-only")
        root.say("/room mode +kl sekrit 9")  # of each mode, the last change holds
        root.say("/room mode -l+s")
        sent = link(a).published
        root.say("/ban -g mallory")
        await lines_until(root, "*** Banned nick:mallory chat-wide, for good")
        await until(lambda: link(a).published > sent, "all published")  # in order: the ban last
        (b,) = await start_nodes(services, redis, postgresql, "b", extra=OPERATOR)
        held.rollback()
    chat = b.factory.chat
    await until(lambda: "dave" in chat.operators, "dave an operator at b")
    dev = chat.room("dev")
    assert dev.registration is not None and dev.invite_only
    assert (dev.key, dev.limit, dev.secret) == ("sekrit", None, True)
    mallory = await connect(tcp_endpoint(b))
    mallory.say("mallory")
    assert await mallory.next_line() == "*** Error: you are banned from the chat for good"


def room_at(node: ChatService, name: str) -> Room | None:
    """Room C{name} as C{node} knows it, if it does."""
    return node.factory.chat.find_room(name)


@pytest_twisted.ensureDeferred
async def test_a_key_a_limit_and_a_voice_set_at_one_node_hold_at_another(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b")
    olga = await runner(a, "olga", "dev", a, b)
    bob = await line_user(b, "bob", a, b)
    await joined(bob, "dev")
    carol, dave = await line_user(b, "carol", a, b), await line_user(b, "dave", a, b)
    await until(lambda: nicks_at(a, "dev") == ["bob", "olga"], "bob in dev at a")

    olga.say("/room mode +klm sekrit 3")

    def modes_at_b() -> tuple[object, ...]:
        dev = room_at(b, "dev")
        return () if dev is None else (dev.key, dev.limit, dev.moderated)

    await until(lambda: modes_at_b() == ("sekrit", 3, True), "dev's modes at b")
    carol.say("/join dev")
    assert (await refusal(carol)).startswith("*** Error: dev has a key"), "at b, set at a"
    carol.say("/join dev sekrit")
    assert (await lines_until(carol, "*** bob, carol, olga"))[-1].startswith("*** You joined dev")
    await until(lambda: nicks_at(a, "dev") == ["bob", "carol", "olga"], "carol in dev at a")
    dave.say("/join dev sekrit")  # three members, one of a and two of b: full
    assert await refusal(dave) == "*** Error: dev is full: it takes 3 members at most"

    bob.say("may I?")
    assert (await refusal(bob)).startswith("*** Error: dev is moderated"), "at b, set at a"
    olga.say("/voice bob")

    def bob_voiced_at_b() -> bool:
        dev, bob_at_b = room_at(b, "dev"), b.factory.chat.find("bob")
        return dev is not None and bob_at_b is not None and dev.is_voiced(bob_at_b)

    await until(bob_voiced_at_b, "bob voiced at b")
    bob.say("now I may")
    await lines_until(olga, "<bob> now I may")
    await lines_until(carol, "<bob> now I may")


@pytest_twisted.ensureDeferred
async def test_modes_set_while_redis_is_away_hold_elsewhere_once_it_is_back(
    services: Services, redis: RedisServer, postgresql: str
) -> None:
    a, b = await start_nodes(services, redis, postgresql, "a", "b")
    olga = await runner(a, "olga", "dev", a, b)
    bob = await line_user(b, "bob", a, b)
    await joined(bob, "dev")
    carol = await line_user(b, "carol", a, b)
    await until(lambda: nicks_at(a, "dev") == ["bob", "olga"], "bob in dev at a")

    def modes_at(node: ChatService) -> tuple[object, ...]:
        dev = room_at(node, "dev")
        return () if dev is None else (dev.key, dev.limit, dev.secret)

    redis.pause()
    try:
        await until(lambda: not link(a).up and not link(b).up, "both cut off")
        olga.say("/room mode +kl sekrit 9")
        olga.say("/room mode -k+s")
        await until(lambda: modes_at(a) == (None, 9, True), "dev's modes at a")
        assert modes_at(b) == (None, None, False), "b is cut off"
    finally:
        redis.resume()
    await until(lambda: modes_at(b) == (None, 9, True), "dev's modes at b, in the order made")
    carol.say("/join dev")
    await lines_until(carol, "*** bob, carol, olga")
