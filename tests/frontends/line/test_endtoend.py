"""
The service from makeService, over real sockets on 127.0.0.1. Every test
takes its services from the C{services} fixture (L{tests.support.Services}),
which stops them however the test ends.
"""

from __future__ import annotations

import pathlib
import socket
import struct
from collections.abc import Callable

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredQueue
from twisted.internet.endpoints import TCP4ClientEndpoint, UNIXClientEndpoint, connectProtocol
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.task import deferLater
from twisted.logger import capturedLogs
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from chatsvc.service.tap import ChatService
from tests.support import Services, service_for

TIMEOUT = 10.0


class LineClient(LineReceiver):
    """A test user: queues the lines it receives."""

    delimiter = b"\n"

    def __init__(self) -> None:
        self.queue: DeferredQueue[str] = DeferredQueue()
        self.closed: Deferred[None] = Deferred()

    def lineReceived(self, line: bytes) -> None:
        self.queue.put(line.decode())

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.closed.callback(None)

    def say(self, line: str) -> None:
        self.sendLine(line.encode())

    async def next_line(self) -> str:
        d = self.queue.get()
        d.addTimeout(TIMEOUT, reactor)
        return await d

    async def expect(self, *lines: str) -> None:
        for line in lines:
            assert await self.next_line() == line

    async def expect_closed(self) -> None:
        self.closed.addTimeout(TIMEOUT, reactor)
        await self.closed


async def connect(endpoint: IStreamClientEndpoint, nick: str | None = None) -> LineClient:
    client: LineClient = await connectProtocol(endpoint, LineClient())
    await client.expect("*** Welcome to chatsvc!", "*** Choose a nickname:")
    if nick is not None:
        client.say(nick)
        await client.expect(f"*** Hello {nick}! Type /help for the commands.")
    return client


def start(*argv: str) -> ChatService:
    """The service for C{argv}, started; the caller stops it (a test: see L{Services})."""
    service = service_for(*argv)
    service.privilegedStartService()
    service.startService()
    return service


def tcp_endpoint(service: ChatService, index: int = 0) -> TCP4ClientEndpoint:
    port = service.ports[index].getHost().port  # type: ignore[attr-defined]
    return TCP4ClientEndpoint(reactor, "127.0.0.1", port)


@pytest_twisted.ensureDeferred
async def test_three_users_talk_switch_rooms_and_quit(services: Services) -> None:
    service = services.start("--port", "tcp:0:interface=127.0.0.1")
    endpoint = tcp_endpoint(service)
    alice = await connect(endpoint, "alice")
    await alice.expect("*** You joined lobby (1 member):", "*** alice")
    bob = await connect(endpoint)
    bob.say("ALICE")
    await bob.expect("*** Error: the nickname ALICE is taken", "*** Choose a nickname:")
    bob.say("bob")
    await bob.expect(
        "*** Hello bob! Type /help for the commands.",
        "*** You joined lobby (2 members):",
        "*** alice, bob",
    )
    await alice.expect("*** bob joined lobby")
    carol = await connect(endpoint, "carol")
    await carol.expect("*** You joined lobby (3 members):", "*** alice, bob, carol")
    await alice.expect("*** carol joined lobby")
    await bob.expect("*** carol joined lobby")

    alice.say("hello everyone")
    await bob.expect("<alice> hello everyone")
    await carol.expect("<alice> hello everyone")

    bob.say("/join dev")
    await bob.expect("*** You joined dev (1 member):", "*** bob")
    await alice.expect("*** bob left lobby")
    await carol.expect("*** bob left lobby")
    carol.say("/join DEV")
    await carol.expect("*** You joined dev (2 members):", "*** bob, carol")
    await bob.expect("*** carol joined dev")
    await alice.expect("*** carol left lobby")

    carol.say("just us in dev")
    await bob.expect("<carol> just us in dev")
    alice.say("/msg bob lunch?")
    await alice.expect("-> *bob* lunch?")
    await bob.expect("*alice* lunch?")
    bob.say("/me nods")
    await carol.expect("* bob nods")

    carol.say("/quit see you")
    await carol.expect("*** Bye!")
    await carol.expect_closed()
    await bob.expect("*** carol left dev (quit: see you)")
    bob.transport.loseConnection()  # type: ignore[union-attr]
    await bob.expect_closed()
    alice.say("/who")
    await alice.expect("*** Members of lobby (1 member):", "*** alice")
    alice.say("/rooms")
    await alice.expect("*** 1 room:", "*** lobby (1)")
    alice.say("/quit")
    await alice.expect("*** Bye!")
    await alice.expect_closed()
    await service.stopService()
    assert len(service.factory.chat) == 0
    assert service.factory.connections == set()


@pytest_twisted.ensureDeferred
async def test_stop_service_says_goodbye(services: Services) -> None:
    service = services.start("--port", "tcp:0:interface=127.0.0.1")
    port = service.ports[0].getHost().port  # type: ignore[attr-defined]
    endpoint = tcp_endpoint(service)
    alice = await connect(endpoint, "alice")
    anonymous = await connect(endpoint)
    await alice.expect("*** You joined lobby (1 member):", "*** alice")
    await service.stopService()
    await alice.expect("*** The server is shutting down. Goodbye!")
    await anonymous.expect("*** The server is shutting down. Goodbye!")
    await alice.expect_closed()
    await anonymous.expect_closed()
    assert not service.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


@pytest_twisted.ensureDeferred
async def test_one_chat_on_several_endpoints(services: Services, tmp_path: pathlib.Path) -> None:
    path = f"{tmp_path}/chat.sock"
    service = services.start("--port", "tcp:0:interface=127.0.0.1", "--listen", f"unix:{path}")
    alice = await connect(tcp_endpoint(service), "alice")
    await alice.expect("*** You joined lobby (1 member):", "*** alice")
    bob = await connect(UNIXClientEndpoint(reactor, path), "bob")
    await bob.expect("*** You joined lobby (2 members):", "*** alice, bob")
    bob.say("over a unix socket")
    await alice.expect("*** bob joined lobby", "<bob> over a unix socket")


@pytest_twisted.ensureDeferred
async def test_nodelay_and_keepalive_on_accepted_connections(services: Services) -> None:
    service = services.start("--port", "tcp:0:interface=127.0.0.1")
    alice = await connect(tcp_endpoint(service), "alice")
    (server_side,) = service.factory.connections
    sock = server_side.transport.getHandle()  # type: ignore[attr-defined]
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
    alice.transport.loseConnection()  # type: ignore[union-attr]
    await alice.expect_closed()


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait, bounded, for C{condition} to hold; it is polled every 10 ms."""
    for _ in range(int(TIMEOUT * 100)):
        if condition():
            return
        await deferLater(reactor, 0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest_twisted.ensureDeferred
async def test_reader_that_stops_is_dropped_and_nobody_else_loses_a_message(
    services: Services,
) -> None:
    service = services.start(
        "--port", "tcp:0:interface=127.0.0.1", "--rate", "0", "--max-send-buffer", "65536"
    )  # fmt: skip
    chat = service.factory.chat
    port = service.ports[0].getHost().port  # type: ignore[attr-defined]
    with socket.socket() as slow:
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", port))
        slow.sendall(b"slow\n")
        await until(lambda: chat.find("slow") is not None, "slow to sign on")
        alice = await connect(tcp_endpoint(service), "alice")
        bob = await connect(tcp_endpoint(service), "bob")
        await bob.expect("*** You joined lobby (3 members):", "*** alice, bob, slow")
        filler = "x" * 1000
        sent, received, notices = 0, 0, []
        while chat.find("slow") is not None:
            assert sent < 20_000, "the reader that stopped was never dropped"
            for _ in range(100):
                alice.say(f"{sent} {filler}")
                sent += 1
            while received < sent:
                line = await bob.next_line()
                if line.startswith("***"):
                    notices.append(line)
                else:
                    assert line == f"<alice> {received} {filler}"
                    received += 1
        alice.say("after")
        while (line := await bob.next_line()) != "<alice> after":
            notices.append(line)
        assert notices == ["*** slow left lobby (not reading)"]
        await alice.expect("*** You joined lobby (2 members):", "*** alice, slow")
        await alice.expect("*** bob joined lobby", "*** slow left lobby (not reading)")


@pytest_twisted.ensureDeferred
async def test_flood_is_slowed_not_dropped(services: Services) -> None:
    service = services.start(
        "--port", "tcp:0:interface=127.0.0.1", "--rate", "100", "--burst", "10"
    )
    flooder = await connect(tcp_endpoint(service), "flooder")
    watcher = await connect(tcp_endpoint(service), "watcher")
    await flooder.expect(
        "*** You joined lobby (1 member):", "*** flooder", "*** watcher joined lobby"
    )
    await watcher.expect("*** You joined lobby (2 members):", "*** flooder, watcher")
    await deferLater(reactor, 0.2)  # the budget spent signing on is back
    flooder.transport.write(b"".join(b"flood %d\n" % i for i in range(200)))  # type: ignore[union-attr]
    (server_side,) = [
        p for p in service.factory.connections if p.participant and p.participant.nick == "flooder"
    ]
    await until(lambda: server_side.paused, "the flooder to be slowed down")
    for i in range(200):
        assert await watcher.next_line() == f"<flooder> flood {i}"
    flooder.say("/quit")
    await flooder.expect("*** Bye!")


@pytest_twisted.ensureDeferred
async def test_connections_past_max_per_ip_are_refused(services: Services) -> None:
    service = services.start("--port", "tcp:0:interface=127.0.0.1", "--max-per-ip", "2")
    alice = await connect(tcp_endpoint(service), "alice")
    bob = await connect(tcp_endpoint(service), "bob")
    refused: LineClient = await connectProtocol(tcp_endpoint(service), LineClient())
    await refused.expect("*** Too many connections from your address; try again later.")
    await refused.expect_closed()
    await alice.expect("*** You joined lobby (1 member):", "*** alice", "*** bob joined lobby")
    await bob.expect("*** You joined lobby (2 members):", "*** alice, bob")
    alice.say("still here")
    await bob.expect("<alice> still here")
    bob.say("/quit")
    await bob.expect("*** Bye!")
    await bob.expect_closed()
    await until(lambda: service.factory.connections_from("127.0.0.1") == 1, "bob to go")
    carol = await connect(tcp_endpoint(service), "carol")
    await carol.expect("*** You joined lobby (2 members):", "*** alice, carol")


@pytest_twisted.ensureDeferred
async def test_abrupt_departures_leave_only_the_leave_notice(services: Services) -> None:
    service = services.start("--port", "tcp:0:interface=127.0.0.1")
    port = service.ports[0].getHost().port  # type: ignore[attr-defined]
    chat = service.factory.chat
    watcher = await connect(tcp_endpoint(service), "watcher")
    await watcher.expect("*** You joined lobby (1 member):", "*** watcher")
    with capturedLogs() as events:
        for nick, leave in [
            ("midline", lambda s: (s.sendall(b"half a li"), s.close())),
            (
                "reset",
                lambda s: (
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)),
                    s.close(),
                ),
            ),
            ("halfclose", lambda s: s.shutdown(socket.SHUT_WR)),
        ]:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(nick.encode() + b"\n")
                await watcher.expect(f"*** {nick} joined lobby")
                leave(sock)
                await watcher.expect(f"*** {nick} left lobby")
                await until(lambda: chat.find(nick) is None, f"{nick} to be gone")  # noqa: B023
    assert len(chat) == 1
    assert [e for e in events if e.get("log_failure")] == []
    watcher.say("/who")
    await watcher.expect("*** Members of lobby (1 member):", "*** watcher")
