"""
Shared test doubles: a server connection over StringTransport, a chat with
accounts, TLS certificates made on the spot; and, so that no test leaves
anything running, the services a test starts and a command run with all it
starts.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.cred.checkers import ICredentialsChecker, InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import Portal
from twisted.internet.address import IPv4Address
from twisted.internet.endpoints import quoteStringArgument
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IProtocol, IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.accounts import Accounts, ChatRealm
from chatsvc.chat.model import Chat
from chatsvc.frontends.line.server import ChatFactory, ChatServerProtocol
from chatsvc.service.tap import ChatService, Options, makeService
from chatsvc.streams.eagertcp import EagerServer

PASSWORDS = {"alice": b"secret", "Root": b"t00r", "bob": b"hunter2"}
"""The accounts of L{with_accounts}, and their passwords."""


def scratch_directory(case: SynchronousTestCase) -> Path:
    """A new empty directory, removed after the test (trial's mktemp writes into the cwd)."""
    path = Path(tempfile.mkdtemp(prefix="chatsvc-test-"))
    case.addCleanup(shutil.rmtree, path, ignore_errors=True)
    return path


def make_factory(**kwargs: Any) -> ChatFactory:
    """A chat factory on a fake clock (unless one is given), with default limits."""
    kwargs.setdefault("clock", Clock())
    return ChatFactory(**kwargs)


def end_turn(factory: ChatFactory) -> None:
    """Let the reactor turn end, so that writes held until then are made."""
    clock = factory.clock
    if isinstance(clock, Clock):
        clock.advance(0)


def with_accounts(
    *,
    guests: bool = True,
    operators: Iterable[str] = (),
    checker: ICredentialsChecker | None = None,
    **kwargs: Any,
) -> ChatFactory:
    """
    A chat factory whose chat has the accounts in L{PASSWORDS} (or those of
    C{checker}), logged in to through a portal, as C{twistd chat --auth} makes.
    """
    if checker is None:
        checker = InMemoryUsernamePasswordDatabaseDontUse(**PASSWORDS)
    accounts = Accounts([checker])
    chat = Chat(accounts=accounts, guests=guests)
    portal = Portal(ChatRealm(operators), [accounts])
    return make_factory(chat=chat, portal=portal, **kwargs)


class Connection:
    """A connection to a L{ChatFactory} over a L{StringTransport}."""

    def __init__(self, factory: ChatFactory, port: int = 40000, host: str = "10.0.0.1") -> None:
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", host, port))
        protocol = factory.buildProtocol(self.transport.getPeer())
        assert isinstance(protocol, ChatServerProtocol)
        self.protocol: ChatServerProtocol = protocol
        protocol.makeConnection(self.transport)

    @property
    def producer(self) -> IPushProducer:
        """What the server registered with its transport, to hear of backlog."""
        producer: IPushProducer | None = self.transport.producer
        assert producer is not None
        return producer

    def send(self, *lines: str | bytes) -> None:
        """Send each line, with a C{\\n}."""
        for line in lines:
            data = line if isinstance(line, bytes) else line.encode()
            self.protocol.dataReceived(data + b"\n")

    def lines(self) -> list[str]:
        """What the server wrote since the last call, one string per line."""
        end_turn(self.protocol.factory)
        data: bytes = self.transport.value()
        self.transport.clear()
        assert data == b"" or data.endswith(b"\n"), data
        return data.decode().splitlines()

    def close(self) -> None:
        """The peer goes away."""
        self.transport.loseConnection()
        self.protocol.connectionLost(Failure(ConnectionDone()))


def signed_on(
    factory: ChatFactory, nick: str, port: int = 40000, host: str = "10.0.0.1"
) -> Connection:
    """A connection that has chosen C{nick}, with what it was told so far cleared."""
    connection = Connection(factory, port, host)
    connection.send(nick)
    connection.lines()
    return connection


def eager_loopback(
    build: Callable[[IPv4Address], IProtocol],
    cleanup: Callable[[Callable[[], object]], object],
    reactor: MemoryReactor | None = None,
) -> tuple[EagerServer, socket.socket, MemoryReactor]:
    """
    A real loopback TCP connection whose accepted end is an L{EagerServer}
    connected to the protocol C{build} makes for the peer's address, on a
    L{MemoryReactor} (C{reactor}, or a new one): what is sent reaches the
    kernel at once, and nothing else happens until the test says
    (C{doWrite()} sends what was queued). Returns the transport, the peer's
    end (non-blocking) and the reactor; C{cleanup} is given what closes the
    sockets. A L{MemoryReactorClock} lets the transport abort: that calls
    C{connectionLost} from its reactor's next turn (C{advance(0)}).
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        peer = socket.create_connection(listener.getsockname())
        sock, address = listener.accept()
    cleanup(peer.close)
    cleanup(sock.close)
    peer.setblocking(False)
    if reactor is None:
        reactor = MemoryReactor()
    protocol = build(IPv4Address("TCP", *address))
    transport = EagerServer(sock, protocol, address, None, 0, reactor)
    protocol.makeConnection(transport)
    return transport, peer, reactor


class OutputMeter:
    """
    What an L{EagerServer} holds in memory for its peer, counted from the
    outside: the bytes it was given to queue, less those it has sent since.
    C{most} is the most it held at once.
    """

    def __init__(self, transport: EagerServer) -> None:
        self.held = self.most = 0
        queue, send = transport.queue, transport.writeSomeData

        def queued(data: bytes) -> None:
            if data and transport.connected:
                self.held += len(data)
                self.most = max(self.most, self.held)
            queue(data)

        def sent(data: bytes) -> int | ConnectionLost:
            result = send(data)
            if isinstance(result, int):
                self.held -= result
            return result

        transport.queue = queued  # type: ignore[method-assign]
        transport.writeSomeData = sent  # type: ignore[method-assign]


def drain(peer: socket.socket) -> bytes:
    """Everything a non-blocking socket can read now."""
    data = b""
    while True:
        try:
            chunk = peer.recv(1 << 20)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


@attrs.frozen
class Certificates:
    """PEM files made for a test: a CA, and a server's key and certificate signed by it."""

    ca: Path
    key: Path
    cert: Path

    def server_endpoint(self, port: int = 0) -> str:
        """An C{ssl:} server endpoint string on 127.0.0.1 with this key and certificate."""
        return (
            f"ssl:{port}:interface=127.0.0.1:"
            f"privateKey={quoteStringArgument(str(self.key))}:"
            f"certKey={quoteStringArgument(str(self.cert))}"
        )


def make_certificates(
    directory: Path,
    names: Iterable[str] = ("localhost",),
    addresses: Iterable[str] = ("127.0.0.1",),
) -> Certificates:
    """
    A new CA, and a server certificate it signed for the DNS C{names} and IP
    C{addresses}, written into C{directory} as C{ca.pem}, C{key.pem} and
    C{cert.pem}.
    """
    now = datetime.datetime.now(datetime.UTC)

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chatsvc test CA")])
    ca = (
        certificate("chatsvc test CA", ca_key, ca_name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alternatives: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alternatives += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (
        certificate("chatsvc test server", key, ca_name)
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certificates(directory / "ca.pem", directory / "key.pem", directory / "cert.pem")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def service_for(*argv: str) -> ChatService:
    """
    The service C{twistd chat} makes of C{argv}, on the global reactor, not
    started; its database in memory unless C{argv} says otherwise.
    """
    from twisted.internet import reactor

    if "--db" not in argv:  # the registry is kept in it even with --no-history
        argv = (*argv, "--db", ":memory:")
    options = Options()
    options.parseOptions(list(argv))
    service = makeService(options, reactor)
    assert isinstance(service, ChatService)
    return service


class Services:
    """
    The services one test starts (the C{services} fixture): each still
    running once the test is over, passed or failed, is stopped, and its
    ports, connections and history thread with it, so that nothing of it is
    left to the tests after.
    """

    def __init__(self) -> None:
        self._started: list[ChatService] = []

    def start(self, *argv: str) -> ChatService:
        """The service for C{argv}, started; it is the test's even if starting fails."""
        service = service_for(*argv)
        self._started.append(service)
        service.privilegedStartService()
        service.startService()
        return service

    async def stop(self) -> None:
        for service in reversed(self._started):
            if service.running:
                await service.stopService()


def run_to_the_end(
    argv: Sequence[str], *, timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """
    Run C{argv} with its output captured, in a process group of its own that
    is killed once it is done or C{timeout} seconds have passed, whichever
    comes first: nothing it started (a server) outlives it, even when it is
    killed before it could stop that itself.
    """
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        stdout, stderr = process.communicate()
        raise AssertionError(
            f"{' '.join(argv)} did not finish in {timeout:g} s\n{stdout}{stderr}"
        ) from None
    finally:
        _kill_group(process.pid)
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def _kill_group(pgid: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
