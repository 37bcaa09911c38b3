"""
The web frontend over TLS (C{--web ssl:...}), end to end: autobahn's client
verifying the server's certificate, signing on with a password in a frame,
a page of the same https origin accepted and one of http refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from autobahn.twisted.websocket import WebSocketClientFactory
from OpenSSL import SSL
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.ssl import Certificate, optionsForClientTLS

from tests.frontends.line.test_endtoend import TIMEOUT, connect, tcp_endpoint
from tests.frontends.web.test_endtoend import WebClient, web_of, web_port
from tests.support import Certificates, Services, make_certificates


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path)


async def open_wss(port: int, certificates: Certificates, origin: str | None = None) -> WebClient:
    factory = WebSocketClientFactory(f"wss://localhost:{port}/ws", origin=origin)
    factory.protocol = WebClient
    trust = Certificate.loadPEM(certificates.ca.read_bytes())
    endpoint = wrapClientTLS(
        optionsForClientTLS("localhost", trustRoot=trust),
        TCP4ClientEndpoint(reactor, "127.0.0.1", port),
    )
    client: WebClient = await connectProtocol(endpoint, factory.buildProtocol(None))
    await client.opened.addTimeout(TIMEOUT, reactor)
    return client


@pytest_twisted.ensureDeferred
async def test_the_web_over_tls_with_a_password(
    services: Services, certificates: Certificates, tmp_path: Path
) -> None:
    service = services.start(
        "--port",
        "tcp:0:interface=127.0.0.1",
        "--web",
        certificates.server_endpoint(),
        "--files-dir",
        str(tmp_path / "files"),
        "--auth",
        "memory:alice:secret",
    )
    port = web_port(service, 1)
    alice = await open_wss(port, certificates, origin=f"https://localhost:{port}")
    tls = alice.transport.getHandle()  # type: ignore[union-attr]
    assert isinstance(tls, SSL.Connection)
    assert tls.get_peer_certificate() is not None, "the server's certificate was verified"
    assert (await alice.answer("hello", versions=[1]))["accounts"] is True
    signed = await alice.answer("sign-on", nick="alice", password="secret")
    assert (signed["nick"], signed["account"]) == ("alice", "alice")

    carol = await connect(tcp_endpoint(service), "carol")
    await carol.expect("*** You joined lobby (2 members):", "*** alice, carol")
    await alice.answer("say", room="lobby", text="over TLS")
    await carol.expect("<alice> over TLS")
    carol.say("and back")
    assert (await alice.event("message"))["text"] == "and back"
    (server_side,) = web_of(service).connections
    assert server_side._direct is None, "TLS: frames go through the TLS transport"

    with pytest.raises(ConnectionError, match="403"):
        await open_wss(port, certificates, origin=f"http://localhost:{port}")
