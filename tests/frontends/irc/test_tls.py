"""
IRC over TLS end to end: the service with C{--irc ssl:...} on 127.0.0.1,
with a certificate made for the test, and Twisted's own IRC client
verifying it, logging in with C{PASS}, in a room with a line-protocol user.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from OpenSSL import SSL
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.ssl import Certificate, optionsForClientTLS

from tests.frontends.irc.test_endtoend import Bot, irc_port
from tests.frontends.line.test_endtoend import TIMEOUT, connect, tcp_endpoint
from tests.support import Certificates, Services, make_certificates


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path)


async def sign_on_tls(
    port: int, certificates: Certificates, nick: str, password: str | None = None
) -> Bot:
    trust = Certificate.loadPEM(certificates.ca.read_bytes())
    endpoint = wrapClientTLS(
        optionsForClientTLS("localhost", trustRoot=trust),
        TCP4ClientEndpoint(reactor, "127.0.0.1", port),
    )
    bot: Bot = await connectProtocol(endpoint, Bot(nick, password))
    await bot.signed_on.addTimeout(TIMEOUT, reactor)
    return bot


@pytest_twisted.ensureDeferred
async def test_irc_over_tls_with_a_line_user(
    services: Services, certificates: Certificates
) -> None:
    service = services.start(
        "--port",
        "tcp:0:interface=127.0.0.1",
        "--irc",
        certificates.server_endpoint(),
        "--auth",
        "memory:alice:secret",
    )
    port = irc_port(service, 1)
    alice = await sign_on_tls(port, certificates, "alice", "secret")
    tls = alice.transport.getHandle()  # type: ignore[union-attr]
    assert isinstance(tls, SSL.Connection)
    assert tls.get_peer_certificate() is not None, "the server's certificate was verified"
    alice.join("#dev")
    assert await alice.next() == ("joined", "#dev")

    carol = await connect(tcp_endpoint(service), "carol")
    await carol.expect("*** You joined lobby (1 member):", "*** carol")
    carol.say("/join dev")
    await carol.expect("*** You joined dev (2 members):", "*** alice, carol")
    assert await alice.next() == ("userJoined", "carol", "#dev")

    alice.msg("#dev", "over TLS")
    await carol.expect("<alice> over TLS")
    carol.say("and back")
    assert await alice.next() == ("privmsg", "carol", "#dev", "and back")
    participant = service.factory.chat.find("alice")
    assert participant is not None and participant.account is not None
    assert participant.account.name == "alice", "logged in with PASS over TLS"

    alice.quit("done")
    await alice.lost.addTimeout(TIMEOUT, reactor)
    await carol.expect("*** alice left dev (quit: done)")


@pytest_twisted.ensureDeferred
async def test_a_client_that_does_not_trust_the_certificate_gets_nothing(
    services: Services, certificates: Certificates, tmp_path: Path
) -> None:
    service = services.start(
        "--port", "tcp:0:interface=127.0.0.1", "--irc", certificates.server_endpoint()
    )  # fmt: skip
    (tmp_path / "other").mkdir()
    other = make_certificates(tmp_path / "other")
    trust = Certificate.loadPEM(other.ca.read_bytes())
    endpoint = wrapClientTLS(
        optionsForClientTLS("localhost", trustRoot=trust),
        TCP4ClientEndpoint(reactor, "127.0.0.1", irc_port(service, 1)),
    )
    bot = await connectProtocol(endpoint, Bot("mallory"))
    await bot.lost.addTimeout(TIMEOUT, reactor)
    assert not bot.signed_on.called
    assert service.factory.chat.find("mallory") is None
