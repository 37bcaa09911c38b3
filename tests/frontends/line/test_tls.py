"""
TLS end to end: the service with an C{ssl:} listener on 127.0.0.1, with a
certificate made for the test, next to a plain one; clients that verify it.
"""

from __future__ import annotations

import socket
import ssl as stdlib_ssl
from pathlib import Path

import pytest
import pytest_twisted
from OpenSSL import SSL
from service_identity import VerificationError
from twisted.internet import reactor
from twisted.internet.endpoints import connectProtocol, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.internet.task import deferLater
from twisted.logger import capturedLogs, formatEvent
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.failure import Failure

from chatsvc.service.tap import ChatService
from chatsvc.streams.eagertcp import EagerServer
from tests.frontends.line.test_endtoend import (
    TIMEOUT,
    LineClient,
    connect,
    start,
    tcp_endpoint,
    until,
)
from tests.support import Certificates, make_certificates


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path)


def tls_endpoint(
    service: ChatService, certificates: Certificates, hostname: str = "localhost", index: int = 1
) -> IStreamClientEndpoint:
    """A client endpoint to the service's TLS port, verifying C{hostname} against the test CA."""
    trust = Certificate.loadPEM(certificates.ca.read_bytes())
    return wrapClientTLS(
        optionsForClientTLS(hostname, trustRoot=trust), tcp_endpoint(service, index)
    )


def start_both(certificates: Certificates, *argv: str) -> ChatService:
    """The service on a plain port (index 0) and a TLS port (index 1)."""
    return start(
        "--port", "tcp:0:interface=127.0.0.1", "--listen", certificates.server_endpoint(), *argv
    )  # fmt: skip


class Refused(LineClient):
    """A client that should never get a line: it records why its connection ended."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: Failure | None = None

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.reason = reason
        super().connectionLost(reason)

    async def refused(self) -> Failure:
        """Why the connection ended, once it has."""
        await self.expect_closed()
        assert self.reason is not None
        return self.reason


@pytest_twisted.ensureDeferred
async def test_plain_and_tls_side_by_side(certificates: Certificates) -> None:
    service = start_both(certificates)
    try:
        alice = await connect(tls_endpoint(service, certificates), "alice")
        await alice.expect("*** You joined lobby (1 member):", "*** alice")
        bob = await connect(tcp_endpoint(service), "bob")
        await bob.expect("*** You joined lobby (2 members):", "*** alice, bob")
        await alice.expect("*** bob joined lobby")
        alice.say("over TLS")
        await bob.expect("<alice> over TLS")
        bob.say("in the clear")
        await alice.expect("<bob> in the clear")
        assert isinstance(alice.transport, TLSMemoryBIOProtocol)
        alice.say("/quit")
        await alice.expect("*** Bye!")
        await alice.expect_closed()
        await bob.expect("*** alice left lobby")
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_verified_by_the_ip_address_too(certificates: Certificates) -> None:
    service = start_both(certificates)
    try:
        alice = await connect(tls_endpoint(service, certificates, "127.0.0.1"), "alice")
        await alice.expect("*** You joined lobby (1 member):", "*** alice")
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_wrong_hostname_is_rejected(certificates: Certificates) -> None:
    """The certificate is the CA's, but not for this name: no line gets through."""
    service = start_both(certificates)
    try:
        client: Refused = await connectProtocol(
            tls_endpoint(service, certificates, "chat.example.org"), Refused()
        )
        reason = await client.refused()
        assert reason.check(VerificationError), reason
        assert client.queue.pending == []
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_untrusted_certificate_is_rejected(
    certificates: Certificates, tmp_path: Path
) -> None:
    """Signed by a CA the client does not trust."""
    service = start_both(certificates)
    (tmp_path / "other").mkdir()
    other = make_certificates(tmp_path / "other")
    try:
        client: Refused = await connectProtocol(
            tls_endpoint(service, other, "localhost"), Refused()
        )
        reason = await client.refused()
        assert reason.check(SSL.Error), reason
        assert client.queue.pending == []
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_plain_client_on_the_tls_port_gets_nothing(certificates: Certificates) -> None:
    """No downgrade: a client that does not speak TLS does not get the chat in the clear."""
    service = start_both(certificates)
    port = service.ports[1].getHost().port  # type: ignore[attr-defined]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(b"alice\n")
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)  # the server runs in this thread's reactor
            received: list[bytes] = []

            def closed() -> bool:
                try:
                    received.append(sock.recv(4096))
                except BlockingIOError:
                    return False
                return received[-1] == b""

            await until(closed, "the server to hang up")
        data = b"".join(received)
        assert b"Welcome" not in data
        assert service.factory.chat.find("alice") is None
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_socket_options_and_eager_writes_under_tls(certificates: Certificates) -> None:
    """TLS is on top of the eager TCP transport, with TCP_NODELAY and keepalive on its socket."""
    service = start_both(certificates)
    try:
        alice = await connect(tls_endpoint(service, certificates), "alice")
        (server_side,) = service.factory.connections
        tls = server_side.transport
        assert isinstance(tls, TLSMemoryBIOProtocol)
        assert isinstance(tls.transport, EagerServer)
        sock = tls.transport.getHandle()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
        alice.transport.loseConnection()
        await alice.expect_closed()
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_burst_over_tls(certificates: Certificates) -> None:
    """
    Thousands of lines in one go, from one TLS client to another: every line
    arrives, in order, through the batched and eager writes under TLS.
    """
    service = start_both(certificates, "--rate", "0")
    try:
        alice = await connect(tls_endpoint(service, certificates), "alice")
        bob = await connect(tls_endpoint(service, certificates), "bob")
        await bob.expect("*** You joined lobby (2 members):", "*** alice, bob")
        filler = "x" * 200
        count = 5000
        alice.transport.write(  # type: ignore[union-attr]
            b"".join(b"%d %s\n" % (i, filler.encode()) for i in range(count))
        )
        for i in range(count):
            assert await bob.next_line() == f"<alice> {i} {filler}"
        alice.say("/quit")
        await bob.expect("*** alice left lobby")
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_reader_that_stops_is_dropped_under_tls(certificates: Certificates) -> None:
    """The backlog of a TLS peer that stops reading is counted and bounded, as over TCP."""
    service = start_both(certificates, "--rate", "0", "--max-send-buffer", "65536")
    chat = service.factory.chat
    port = service.ports[1].getHost().port  # type: ignore[attr-defined]
    context = stdlib_ssl.create_default_context(cafile=str(certificates.ca))
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port))
    raw.setblocking(False)
    slow = context.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    try:

        def handshake() -> bool:
            try:
                slow.do_handshake()
            except (stdlib_ssl.SSLWantReadError, stdlib_ssl.SSLWantWriteError):
                return False
            return True

        await until(handshake, "the TLS handshake")
        slow.send(b"slow\n")
        await until(lambda: chat.find("slow") is not None, "slow to sign on")
        alice = await connect(tls_endpoint(service, certificates), "alice")
        await alice.expect("*** You joined lobby (2 members):", "*** alice, slow")
        filler = "x" * 1000
        sent = 0
        while chat.find("slow") is not None:
            assert sent < 20_000, "the reader that stopped was never dropped"
            for _ in range(100):
                alice.say(f"{sent} {filler}")
                sent += 1
            await deferLater(reactor, 0.01)
        await alice.expect("*** slow left lobby (not reading)")
        await until(lambda: len(service.factory.connections) == 1, "slow's connection to close")
    finally:
        slow.close()
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_silent_connections_to_the_tls_port_are_closed(certificates: Certificates) -> None:
    """
    A connection that never starts the handshake is closed at the login
    timeout, and its slot is free again: TLS alone would wait for the
    handshake before it closed, for ever.
    """
    service = start_both(certificates, "--login-timeout", "0.5", "--max-clients", "2")
    port = service.ports[1].getHost().port  # type: ignore[attr-defined]
    socks = [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) for _ in range(2)]
    try:
        for sock in socks:
            sock.setblocking(False)
        await until(lambda: len(service.factory.connections) == 2, "both to be accepted")

        def closed(sock: socket.socket) -> bool:
            try:
                return sock.recv(4096) == b""
            except BlockingIOError:
                return False
            except ConnectionResetError:
                return True

        with capturedLogs() as events:
            for sock in socks:
                await until(lambda sock=sock: closed(sock), "the server to close it")  # type: ignore[misc]
            await until(lambda: not service.factory.connections, "the slots to be free")
        said = [formatEvent(event) for event in events]
        assert sum("gave no nickname in time" in line for line in said) == 2
        assert not any("did not take its last line" in line for line in said), "aborted at once"
        alice = await connect(tcp_endpoint(service), "alice")
        await alice.expect("*** You joined lobby (1 member):")
        alice.say("/quit")
        await alice.expect_closed()
    finally:
        for sock in socks:
            sock.close()
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_unacknowledged_output_times_out_in_the_kernel_too(
    certificates: Certificates,
) -> None:
    """
    What the kernel holds for a peer that never reads is not the server's to
    count: the socket's TCP_USER_TIMEOUT is --send-timeout, under TLS too.
    """
    service = start_both(certificates, "--send-timeout", "42.5")
    try:
        alice = await connect(tcp_endpoint(service), "alice")
        bob = await connect(tls_endpoint(service, certificates), "bob")
        await bob.expect("*** You joined lobby (2 members):")
        timeouts = []
        for protocol in service.factory.connections:
            transport: object = protocol.transport
            if isinstance(transport, TLSMemoryBIOProtocol):
                transport = transport.transport
            assert isinstance(transport, EagerServer)
            sock = transport.getHandle()
            timeouts.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))
        assert timeouts == [42500, 42500]
        for client in (alice, bob):
            client.say("/quit")
            await client.expect_closed()
    finally:
        await service.stopService()
