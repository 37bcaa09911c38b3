"""
The client over TLS: trust roots from a file, failures in words, and the
session against real TLS servers on 127.0.0.1 (connected only once the
certificate is checked; a certificate refused on reconnecting ends it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from OpenSSL import SSL
from service_identity import VerificationError
from service_identity.exceptions import DNSMismatch
from service_identity.hazmat import DNS_ID
from twisted.application.internet import ClientService
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred, maybeDeferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.client.cli import describe_connect_error
from chatsvc.client.session import ChatClientFactory, Session
from chatsvc.client.tls import describe_tls_failure, is_tls_failure, load_trust_root, tls_endpoint
from chatsvc.frontends.line.server import ChatFactory
from tests.client.test_client import ADDRESS, GREETING, RecordingConsole
from tests.frontends.line.test_endtoend import TIMEOUT, until
from tests.support import Certificates, make_certificates, scratch_directory


class TrustRootTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = scratch_directory(self)

    def test_bundle(self) -> None:
        (self.directory / "first").mkdir()
        first = make_certificates(self.directory / "first")
        second = make_certificates(self.directory)
        bundle = self.directory / "bundle.pem"
        bundle.write_bytes(first.ca.read_bytes() + second.ca.read_bytes())
        self.assertIsNotNone(load_trust_root(bundle))

    def test_not_certificates(self) -> None:
        path = self.directory / "garbage.pem"
        path.write_text("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
        self.assertRaises(ValueError, load_trust_root, path)
        path.write_text("")
        self.assertRaises(ValueError, load_trust_root, path)
        self.assertRaises(FileNotFoundError, load_trust_root, self.directory / "missing.pem")


class DescribeTests(SynchronousTestCase):
    def test_wrong_name(self) -> None:
        error = VerificationError(errors=[DNSMismatch(mismatched_id=DNS_ID("chat.example.org"))])
        self.assertTrue(is_tls_failure(error))
        self.assertEqual(
            describe_tls_failure(error),
            "the server's certificate is not valid for chat.example.org",
        )
        self.assertEqual(describe_connect_error(error), describe_tls_failure(error))

    def test_openssl(self) -> None:
        error = SSL.Error(
            [
                ("asn1 encoding routines", "", "EVP lib"),
                ("SSL routines", "", "certificate verify failed"),
            ]
        )
        self.assertEqual(
            describe_tls_failure(error),
            "the server's certificate is not trusted (certificate verify failed)",
        )
        self.assertEqual(describe_tls_failure(SSL.Error([])), "TLS failed: []")

    def test_not_tls(self) -> None:
        self.assertFalse(is_tls_failure(ConnectionRefusedError()))


class TLSServer:
    """A chat server listening with TLS on 127.0.0.1; it may come back with another certificate."""

    def __init__(self) -> None:
        self.factory = ChatFactory()
        self.port = 0
        self._listening: IListeningPort | None = None

    async def start(self, certificates: Certificates) -> None:
        self.factory = ChatFactory()
        endpoint = serverFromString(reactor, certificates.server_endpoint(self.port))
        self._listening = await endpoint.listen(self.factory)
        address: Any = self._listening.getHost()
        self.port = address.port

    async def stop(self) -> None:
        if self._listening is not None:
            listening, self._listening = self._listening, None
            await maybeDeferred(listening.stopListening)
            await self.factory.shut_down()


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path)


class Started:
    """
    The servers and client services one test starts: all are stopped once it
    is over, passed or failed, so that none is left to the tests after.
    """

    def __init__(self) -> None:
        self.servers: list[TLSServer] = []
        self.clients: list[ClientService] = []
        self.plain: list[tuple[IListeningPort, ChatFactory]] = []

    def server(self) -> TLSServer:
        server = TLSServer()
        self.servers.append(server)
        return server

    def plain_port(self, factory: ChatFactory) -> int:
        """The number of a plain TCP port on 127.0.0.1 that C{factory} now listens on."""
        port: Any = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.plain.append((port, factory))
        number: int = port.getHost().port
        return number

    async def stop(self) -> None:
        # From the next turn: a client service may still be busy with a failure.
        await deferLater(reactor, 0, lambda: None)
        for client in self.clients:
            if client.running:
                await client.stopService()
        for server in self.servers:
            await server.stop()
        for port, factory in self.plain:
            await maybeDeferred(port.stopListening)
            await factory.shut_down()


@pytest.fixture
def started() -> Iterator[Started]:
    everything = Started()
    yield everything
    pytest_twisted.blockon(ensureDeferred(everything.stop()).addTimeout(TIMEOUT, reactor))


def session_over_tls(
    started: Started,
    server: TLSServer,
    certificates: Certificates,
    hostname: str = "localhost",
    **kwargs: object,
) -> tuple[Session, RecordingConsole, ClientService, Deferred[None]]:
    """A session connecting over TLS to C{server}, and its L{Session.ready}."""
    console = RecordingConsole()
    session = Session(console, clock=reactor, nick="bob", **kwargs)  # type: ignore[arg-type]
    endpoint = tls_endpoint(reactor, hostname, server.port, load_trust_root(certificates.ca))
    service = ClientService(endpoint, ChatClientFactory(session), retryPolicy=session.retry_delay)
    started.clients.append(service)
    service.startService()
    return session, console, service, session.ready


@pytest_twisted.ensureDeferred
async def test_connected_once_the_certificate_is_checked(
    started: Started, certificates: Certificates
) -> None:
    server = started.server()
    await server.start(certificates)
    session, console, _, connected = session_over_tls(started, server, certificates)
    await connected.addTimeout(TIMEOUT, reactor)
    assert session.nick is None, "ready before any line is read"
    await until(lambda: session.room == "lobby", "signing on")
    assert console.shown[:2] == GREETING


@pytest_twisted.ensureDeferred
async def test_wrong_name_fails_to_connect(started: Started, tmp_path: Path) -> None:
    """A certificate for localhost alone does not do for 127.0.0.1."""
    certificates = make_certificates(tmp_path, names=["localhost"], addresses=[])
    server = started.server()
    await server.start(certificates)
    _, console, _, connected = session_over_tls(started, server, certificates, "127.0.0.1")
    with pytest.raises(VerificationError) as caught:
        await connected.addTimeout(TIMEOUT, reactor)
    assert describe_connect_error(caught.value) == (
        "the server's certificate is not valid for 127.0.0.1"
    )
    assert (console.shown, console.notes) == ([], [])


@pytest_twisted.ensureDeferred
async def test_tls_to_a_plain_server_fails(started: Started, certificates: Certificates) -> None:
    server = started.server()
    server.port = started.plain_port(ChatFactory())
    _, console, _, connected = session_over_tls(started, server, certificates)
    with pytest.raises(SSL.Error) as caught:
        await connected.addTimeout(TIMEOUT, reactor)
    assert describe_connect_error(caught.value).startswith("TLS failed: ")
    assert console.shown == []


@pytest_twisted.ensureDeferred
async def test_certificate_refused_on_reconnecting_ends_the_session(
    started: Started, certificates: Certificates, tmp_path: Path
) -> None:
    """
    A server that comes back with a certificate the client does not trust is
    not retried: the session ends with status 1, and says why.
    """
    (tmp_path / "other").mkdir()
    impostor = make_certificates(tmp_path / "other")
    server = started.server()
    await server.start(certificates)
    session, console, _, connected = session_over_tls(
        started, server, certificates, reconnect=True, backoff=lambda attempt: 0.1
    )
    await connected.addTimeout(TIMEOUT, reactor)
    await until(lambda: session.room == "lobby", "signing on")
    await server.stop()
    await server.start(impostor)
    status = await session.done.addTimeout(TIMEOUT, reactor)
    assert status == 1
    assert console.notes[-1] == (
        "Cannot connect again: the server's certificate is not trusted "
        "(certificate verify failed); not retrying."
    )


def test_plain_connections_are_ready_at_once() -> None:
    """Over TCP there is no handshake to wait for."""
    session = Session(RecordingConsole(), clock=Clock(), nick="bob")
    protocol = ChatClientFactory(session).buildProtocol(ADDRESS)
    assert protocol is not None
    assert not session.ready.called
    protocol.makeConnection(StringTransport())
    assert session.ready.called
