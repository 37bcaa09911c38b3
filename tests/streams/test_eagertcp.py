"""Eager TCP writes: sent at once when nothing is queued, buffered as usual otherwise."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor, tcp
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from chatsvc.streams.eagertcp import EagerServer, eager
from tests.support import drain, eager_loopback

TIMEOUT = 10.0


class Recorder(Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.made: Deferred[None] = Deferred()
        self.lost: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.made.callback(None)

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost.callback(None)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(int(TIMEOUT * 100)):
        if condition():
            return
        await deferLater(reactor, 0.01)
    raise AssertionError("timed out")


async def pair() -> tuple[tcp.Port, Recorder, Recorder]:
    """A listening eager port, its server-side protocol, and a connected client."""
    servers: list[Recorder] = []

    def build() -> Recorder:
        servers.append(Recorder())
        return servers[-1]

    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
        Factory.forProtocol(build)
    )
    assert isinstance(port, tcp.Port)
    eager(port)
    client: Recorder = await connectProtocol(
        TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), Recorder()
    )
    await until(lambda: bool(servers))
    await servers[0].made
    return port, servers[0], client


@pytest_twisted.ensureDeferred
async def test_an_idle_connection_sends_at_once() -> None:
    port, server, client = await pair()
    try:
        transport = server.transport
        assert isinstance(transport, EagerServer)
        transport.write(b"hello\n")
        assert transport not in reactor.getWriters(), "no trip through the reactor"
        await until(lambda: client.data == b"hello\n")
    finally:
        server.transport.loseConnection()  # type: ignore[union-attr]
        await client.lost
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_order_is_kept_when_the_kernel_takes_only_part() -> None:
    port, server, client = await pair()
    try:
        transport = server.transport
        assert isinstance(transport, EagerServer)
        client.transport.pauseProducing()
        transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        chunks = [b"%06d:" % i + b"x" * 1000 for i in range(2000)]
        for chunk in chunks:
            transport.write(chunk)
        assert transport in reactor.getWriters(), "the kernel did not take it all"
        client.transport.resumeProducing()
        expected = b"".join(chunks)
        await until(lambda: len(client.data) >= len(expected))
        assert bytes(client.data) == expected
        await until(lambda: transport not in reactor.getWriters())
        transport.write(b"again")
        assert transport not in reactor.getWriters(), "eager again once drained"
        await until(lambda: client.data.endswith(b"again"))
    finally:
        server.transport.loseConnection()  # type: ignore[union-attr]
        await client.lost
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_write_sequence_and_close_after_writes() -> None:
    port, server, client = await pair()
    try:
        server.transport.writeSequence([b"a", b"b", b"c"])  # type: ignore[union-attr]
        server.transport.write(b"d")  # type: ignore[union-attr]
        server.transport.loseConnection()  # type: ignore[union-attr]
        server.transport.write(b"e")  # type: ignore[union-attr]
        await client.lost
        assert bytes(client.data) == b"abcde"
    finally:
        await port.stopListening()


def test_only_plain_tcp_ports_change() -> None:
    class Other:
        transport = tcp.Server

    other: Any = Other()
    eager(other)
    assert other.transport is tcp.Server


@pytest.mark.parametrize("closing", [False, True])
def test_send_now_while_nothing_is_queued_and_not_closing(closing: bool) -> None:
    with contextlib.ExitStack() as stack:
        transport, peer, reactor = eager_loopback(lambda address: Protocol(), stack.callback)
        transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        assert transport.send_now is not None
        for _ in range(10_000):
            if transport in reactor.getWriters():
                break
            transport.write(b"x" * 1000)
        assert transport in reactor.getWriters(), "the kernel took everything"
        assert transport.send_now is None
        if closing:
            transport.loseWriteConnection()
        for _ in range(10_000):
            if transport not in reactor.getWriters():
                break
            drain(peer)
            transport.doWrite()
        assert transport not in reactor.getWriters(), "never drained"
        if closing:
            assert transport.send_now is None
        else:
            assert transport.send_now is not None
            transport.loseConnection()
            assert transport.send_now is None
