"""
C{SIGHUP}: the TLS certificates, the MOTD, the password files and the
operators read again while users talk; nobody is disconnected, and what
cannot be read keeps what was there.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest_twisted
from OpenSSL import SSL
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionClosed
from twisted.logger import capturedLogs, formatEvent

from chatsvc.accounts import hash_password, write_password
from chatsvc.service.tap import ChatService
from tests.frontends.irc.test_endtoend import Bot
from tests.frontends.line.test_endtoend import TIMEOUT, LineClient, connect, tcp_endpoint
from tests.frontends.line.test_tls import Refused, tls_endpoint
from tests.service.test_twistd import TWISTD, reap
from tests.support import Certificates, Services, make_certificates

LOOPBACK = "tcp:0:interface=127.0.0.1"


def reload(service: ChatService) -> list[str]:
    """What reloading (as C{SIGHUP} does) logs."""
    assert service.reloader is not None
    with capturedLogs() as events:
        service.reloader.reload()
    return [formatEvent(event) for event in events]


def certificates(directory: Path) -> Certificates:
    directory.mkdir()
    return make_certificates(directory)


def replace_certificate(old: Certificates, new: Certificates) -> None:
    """The key and certificate files of C{old} now hold C{new}'s, as a renewal leaves them."""
    shutil.copyfile(new.key, old.key)
    shutil.copyfile(new.cert, old.cert)


async def chat_both_ways(alice: LineClient, bob: LineClient, text: str) -> None:
    alice.say(f"{text} from alice")
    await bob.expect(f"<alice> {text} from alice")
    bob.say(f"{text} from bob")
    await alice.expect(f"<bob> {text} from bob")


@pytest_twisted.ensureDeferred
async def test_a_new_certificate_under_traffic(services: Services, tmp_path: Path) -> None:
    first = certificates(tmp_path / "first")
    argv = (
        "--port",
        LOOPBACK,
        "--listen",
        first.server_endpoint(),
        "--rate",
        "0",
        "--history",
        "0",
    )
    service = services.start(*argv)
    alice = await connect(tls_endpoint(service, first), "alice")
    await alice.expect("*** You joined lobby (1 member):", "*** alice")
    bob = await connect(tcp_endpoint(service), "bob")
    await bob.expect("*** You joined lobby (2 members):", "*** alice, bob")
    await alice.expect("*** bob joined lobby")
    # Traffic in flight while the certificate is replaced and reloaded.
    for n in range(50):
        alice.say(f"before {n}")
    second = certificates(tmp_path / "second")
    replace_certificate(first, second)
    logged = reload(service)
    for n in range(50):
        await bob.expect(f"<alice> before {n}")
    description = first.server_endpoint()
    assert logged[0] == "Reloading (SIGHUP)"
    (changed,) = [line for line in logged if line.startswith("TLS on")]
    assert re.fullmatch(
        rf"TLS on {re.escape(description)}: new connections get chatsvc test server "
        rf"\(serial [0-9a-f]+, until [-\d]+ [:\d]+Z\) \(was chatsvc test server "
        rf"\(serial [0-9a-f]+, until [-\d]+ [:\d]+Z\)\)",
        changed,
    ), changed

    carol = await connect(tls_endpoint(service, second), "carol")  # trusts the new CA only
    await carol.expect("*** You joined lobby (3 members):", "*** alice, bob, carol")
    stale: Refused = await connectProtocol(tls_endpoint(service, first), Refused())
    assert (await stale.refused()).check(SSL.Error, ConnectionClosed)
    # Nobody was disconnected: alice still talks over the first certificate's session.
    await alice.expect("*** carol joined lobby")
    await bob.expect("*** carol joined lobby")
    await chat_both_ways(alice, bob, "after")
    await carol.expect("<alice> after from alice", "<bob> after from bob")
    assert len(service.factory.connections) == 3


@pytest_twisted.ensureDeferred
async def test_a_certificate_that_fails_to_load_keeps_the_old(
    services: Services, tmp_path: Path
) -> None:
    first = certificates(tmp_path / "first")
    service = services.start("--port", LOOPBACK, "--listen", first.server_endpoint())
    good = first.cert.read_bytes()
    first.cert.write_text("not a certificate\n")
    (failed,) = [line for line in reload(service) if line.startswith("TLS on")]
    assert failed.startswith(
        f"TLS on {first.server_endpoint()} not reloaded: bad key or certificate"
    )
    assert failed.endswith("; new connections keep getting " + failed.rsplit("getting ", 1)[1])
    # A key that is not the certificate's is refused too.
    other = certificates(tmp_path / "other")
    first.cert.write_bytes(other.cert.read_bytes())
    (mismatch,) = [line for line in reload(service) if line.startswith("TLS on")]
    assert (
        "not reloaded: bad key or certificate: Certificate public and private keys do not match"
        in mismatch
    )
    first.cert.unlink()
    (missing,) = [line for line in reload(service) if line.startswith("TLS on")]
    assert f"not reloaded: {first.cert}: No such file or directory" in missing
    first.cert.write_bytes(good)
    client = await connect(tls_endpoint(service, first), "alice")  # the old one, still
    await client.expect("*** You joined lobby (1 member):", "*** alice")


class MotdBot(Bot):
    """An IRC client that queues the lines of each MOTD it is shown (after the 375 line)."""

    def receivedMOTD(self, motd: list[str]) -> None:
        assert motd[0] == "chatsvc Message of the day - "
        self.events.put(("motd", *motd[1:]))


@pytest_twisted.ensureDeferred
async def test_the_motd(services: Services, tmp_path: Path) -> None:
    motd = tmp_path / "motd.txt"
    motd.write_text("Welcome.\n")
    service = services.start("--port", LOOPBACK, "--irc", LOOPBACK, "--motd", str(motd))
    port = service.ports[1].getHost().port  # type: ignore[attr-defined]
    bot: MotdBot = await connectProtocol(
        TCP4ClientEndpoint(reactor, "127.0.0.1", port), MotdBot("alice")
    )
    assert await bot.next() == ("motd", "Welcome.")
    motd.write_text("Maintenance at noon.\nBe nice.\n")
    assert "MOTD reloaded: 2 lines" in reload(service)
    bot.sendLine("MOTD")
    assert await bot.next() == ("motd", "Maintenance at noon.", "Be nice.")
    motd.unlink()
    assert f"MOTD not reloaded: {motd}: No such file or directory; keeping the one before" in (
        reload(service)
    )
    bot.sendLine("MOTD")
    assert await bot.next() == ("motd", "Maintenance at noon.", "Be nice.")


@pytest_twisted.ensureDeferred
async def test_password_files(services: Services, tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    write_password(passwd, "alice", hash_password(b"alice's"))
    service = services.start("--port", LOOPBACK, "--auth", f"chatsvc:{passwd}")
    write_password(passwd, "bob", hash_password(b"bob's"))
    assert f"{passwd}: accounts added: bob; removed: none" in reload(service)
    client = await connect(tcp_endpoint(service))
    client.say("bob")
    await client.expect("*** Password for bob:")
    passwd.unlink()
    logged = reload(service)
    assert (
        f"Cannot read {passwd}: No such file or directory; keeping the 2 accounts read before"
        in (logged)
    )


@pytest_twisted.ensureDeferred
async def test_operators_of_the_config_file(services: Services, tmp_path: Path) -> None:
    config = tmp_path / "chat.toml"
    config.write_text('auth = "memory:alice:a:bob:b"\nop = ["alice"]\n')
    service = services.start("--config", str(config), "--port", LOOPBACK)
    client = await connect(tcp_endpoint(service))
    client.say("alice")
    await client.expect("*** Password for alice:")
    client.say("a")
    await client.expect(
        "*** Hello alice! Type /help for the commands.",
        "*** You joined lobby (1 member):",
        "*** alice",
    )
    alice = service.factory.chat.find("alice")
    assert alice is not None and alice.account is not None and alice.account.operator
    config.write_text('auth = "memory:alice:a:bob:b"\nop = ["bob"]\n')
    assert "Operators now: bob (added: bob; removed: alice)" in reload(service)
    assert alice.account is not None and not alice.account.operator
    config.write_text('op = ["not a name"]\n')
    assert (
        f"Operators not reloaded: --config {config}: op 'not a name' is not a valid nickname; "
        "keeping them as they were"
    ) in reload(service)
    client.say("/kick bob")
    await client.expect("*** Error: only operators may kick")


@pytest_twisted.ensureDeferred
async def test_operators_made_at_run_time_stay(services: Services, tmp_path: Path) -> None:
    """Operators made with /oper add are not the configuration's to take away on a reload."""
    config = tmp_path / "chat.toml"
    config.write_text('auth = "memory:alice:a:bob:b"\nop = ["alice"]\n')
    service = services.start("--config", str(config), "--port", LOOPBACK)
    endpoint = tcp_endpoint(service)
    for nick, password in [("alice", "a"), ("bob", "b")]:
        client = await connect(endpoint)
        client.say(nick)
        await client.expect(f"*** Password for {nick}:")
        client.say(password)
        await client.expect(f"*** Hello {nick}! Type /help for the commands.")
        if nick == "alice":
            alice = client
    alice.say("/oper add bob")
    while await alice.next_line() != "*** bob is now a server operator":
        pass
    config.write_text('auth = "memory:alice:a:bob:b"\nop = []\n')
    assert "Operators now: none (added: none; removed: alice)" in reload(service)
    chat = service.factory.chat
    operators = {p.nick: p.operator for p in chat}
    assert operators == {"alice": False, "bob": True}


def test_operators_given_on_the_command_line_stay(tmp_path: Path) -> None:
    from tests.support import service_for

    config = tmp_path / "chat.toml"
    config.write_text('auth = "memory:alice:a:bob:b"\nop = ["alice"]\n')
    service = service_for("--config", str(config), "--op", "bob")
    assert service.reloader is not None and service.reloader.operators_of is None


def test_sighup_reloads_a_running_twistd(tmp_path: Path) -> None:
    motd = tmp_path / "motd.txt"
    motd.write_text("one\n")
    process = subprocess.Popen(
        [*TWISTD, "-n", "--pidfile=", "chat", "--port", LOOPBACK, "--irc", LOOPBACK,
         "--motd", str(motd)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = iter(process.stdout)
        deadline = time.monotonic() + TIMEOUT
        for line in lines:
            if "ChatFactory starting on" in line:
                break
            assert time.monotonic() < deadline
        motd.write_text("one\ntwo\nthree\n")
        process.send_signal(signal.SIGHUP)
        for line in lines:
            if "MOTD reloaded" in line:
                assert line.rstrip().endswith("MOTD reloaded: 3 lines")
                break
            assert time.monotonic() < deadline
        assert process.poll() is None, "SIGHUP must not stop the server"
        process.send_signal(signal.SIGTERM)
        assert process.wait(TIMEOUT) == -signal.SIGTERM
    finally:
        reap(process)
