"""
Room history across restarts, stops and crashes: the service from makeService
over real sockets, and the real twistd, stopped cleanly, killed, or refused a
database.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest_twisted

from chatsvc.history.batches import BATCH_WINDOW
from tests.frontends.line.test_endtoend import LineClient, connect, start, tcp_endpoint
from tests.service.test_twistd import TIMEOUT, TWISTD, User, reap, run
from tests.support import Services

_STAMPED = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d)\] (.*)")


def unstamped(line: str) -> str:
    """A history line without its time, which must be now, in UTC."""
    found = _STAMPED.fullmatch(line)
    assert found is not None, line
    now = time.time()
    assert found.group(1) in {
        time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) for t in (now - 60, now)
    }
    return found.group(2)


def stored(path: Path) -> list[str]:
    """The text of every line in the database at C{path}, in order."""
    db = sqlite3.connect(path)
    try:
        return [text for (text,) in db.execute("SELECT text FROM lines ORDER BY id")]
    finally:
        db.close()


@pytest_twisted.ensureDeferred
async def test_history_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "chat.sqlite")
    service = start("--port", "tcp:0:interface=127.0.0.1", "--db", db)
    try:
        alice = await connect(tcp_endpoint(service), "alice")
        await alice.expect("*** You joined lobby (1 member):", "*** alice")
        alice.say("the build is green")
        alice.say("/me cheers")
        alice.say("/join dev")
        await alice.expect("*** You joined dev (1 member):", "*** alice")
        alice.say("deploying on friday")
        alice.say("/history 1")
        await alice.expect("*** Recent history of dev (1 line, times in UTC):")
        assert unstamped(await alice.next_line()) == "<alice> deploying on friday"
        await alice.expect("*** End of history")
    finally:
        await service.stopService()

    service = start("--port", "tcp:0:interface=127.0.0.1", "--db", db)
    try:
        bob = await connect(tcp_endpoint(service), "bob")
        await bob.expect(
            "*** You joined lobby (1 member):",
            "*** bob",
            "*** Recent history of lobby (2 lines, times in UTC):",
        )
        assert unstamped(await bob.next_line()) == "<alice> the build is green"
        assert unstamped(await bob.next_line()) == "* alice cheers"
        await bob.expect("*** End of history")
        bob.say("/join DEV")
        await bob.expect(
            "*** You joined DEV (1 member):",
            "*** bob",
            "*** Recent history of DEV (1 line, times in UTC):",
        )
        assert unstamped(await bob.next_line()) == "<alice> deploying on friday"
        await bob.expect("*** End of history")
        bob.say("/search FRIDAY")
        await bob.expect("*** Search results in DEV for FRIDAY (1 line, times in UTC):")
        assert unstamped(await bob.next_line()) == "<alice> deploying on friday"
        await bob.expect("*** End of search results")
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_a_stop_under_load_loses_nothing(tmp_path: Path, services: Services) -> None:
    db = tmp_path / "chat.sqlite"
    service = services.start("--port", "tcp:0:interface=127.0.0.1", "--db", str(db), "--rate", "0")
    endpoint = tcp_endpoint(service)
    alice = await connect(endpoint, "alice")
    bob = await connect(endpoint, "bob")
    await bob.expect("*** You joined lobby (2 members):", "*** alice, bob")
    for i in range(5000):
        alice.say(f"message {i}")
    received: list[str] = []
    while len(received) < 500:
        line = await bob.next_line()
        if line.startswith("<alice> "):
            received.append(line[len("<alice> ") :])
    stopped = service.stopService()
    while (line := await bob.next_line()) != "*** The server is shutting down. Goodbye!":
        received.append(line[len("<alice> ") :])
    await stopped
    assert received == [f"message {i}" for i in range(len(received))]
    assert stored(db) == received, "every line relayed is kept, and only those"


@pytest_twisted.ensureDeferred
async def test_replay_shows_lines_said_a_moment_ago(tmp_path: Path) -> None:
    service = start("--port", "tcp:0:interface=127.0.0.1", "--db", str(tmp_path / "c.sqlite"))
    try:
        endpoint = tcp_endpoint(service)
        alice = await connect(endpoint, "alice")
        await alice.expect("*** You joined lobby (1 member):", "*** alice")
        alice.say("just now")
        alice.say("/who")
        await alice.expect("*** Members of lobby (1 member):", "*** alice")
        bob = await connect(endpoint, "bob")
        await bob.expect(
            "*** You joined lobby (2 members):",
            "*** alice, bob",
            "*** Recent history of lobby (1 line, times in UTC):",
        )
        assert unstamped(await bob.next_line()) == "<alice> just now"
        await bob.expect("*** End of history")
    finally:
        await service.stopService()


# The real twistd


@contextmanager
def twistd_chat(cwd: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """C{twistd -n chat} in C{cwd} on a free loopback port, and that port."""
    log = (cwd / "twistd.log").open("w")
    process = subprocess.Popen(
        [*TWISTD, "-n", "--pidfile=", "chat", "--port", "tcp:0:interface=127.0.0.1", *args],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (found := re.search(r"ChatFactory starting on (\d+)", read(cwd))):
            assert process.poll() is None, read(cwd)
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield process, int(found.group(1))
    finally:
        reap(process)
        log.close()


def read(cwd: Path) -> str:
    return (cwd / "twistd.log").read_text()


def talking(port: int) -> tuple[User, User]:
    """alice and bob in the lobby, alice to speak and bob to hear."""
    alice = User.tcp(port)
    alice.sign_on("alice")
    alice.expect("*** You joined lobby (1 member):", "*** alice")
    bob = User.tcp(port)
    bob.sign_on("bob")
    bob.expect("*** You joined lobby (2 members):", "*** alice, bob")
    alice.expect("*** bob joined lobby")
    return alice, bob


def relay(alice: User, bob: User, texts: list[str]) -> None:
    """alice says each of C{texts}; returns once bob has heard them all."""
    alice.sock.sendall(b"".join(f"{text}\n".encode() for text in texts))
    for text in texts:
        assert bob.line() == f"<alice> {text}"


def test_sigterm_writes_every_line_to_the_default_database(tmp_path: Path) -> None:
    with twistd_chat(tmp_path, "--rate", "0") as (process, port):
        alice, bob = talking(port)
        said = [f"line {i}" for i in range(300)]
        relay(alice, bob, said)
        process.send_signal(signal.SIGTERM)  # within the batch window of the last lines
        bob.expect("*** The server is shutting down. Goodbye!")
        assert process.wait(TIMEOUT) == -signal.SIGTERM
    assert stored(tmp_path / "chatsvc.sqlite") == said


def test_sigkill_loses_no_more_than_the_last_batch_window(tmp_path: Path) -> None:
    with twistd_chat(tmp_path, "--rate", "0", "--db", "chat.sqlite") as (process, port):
        alice, bob = talking(port)
        early = [f"early {i}" for i in range(500)]
        relay(alice, bob, early)
        time.sleep(BATCH_WINDOW + 0.4)  # the window, and time to write it
        late = [f"late {i}" for i in range(200)]
        relay(alice, bob, late)
        process.kill()
        assert process.wait(TIMEOUT) == -signal.SIGKILL
    kept = stored(tmp_path / "chat.sqlite")
    assert kept[:500] == early, "lines relayed before the last window are all kept"
    assert kept == (early + late)[: len(kept)], "what is kept has no gaps"


def test_a_database_in_a_missing_directory_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "chat.sqlite"
    result = run("-n", "--pidfile=", "chat", "--port", "tcp:0", "--db", str(path), cwd=tmp_path)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    (error,) = [line for line in output.splitlines() if "twistd chat:" in line]
    assert error.endswith(
        f"twistd chat: cannot open history database {path}: no such directory {path.parent}"
    )


def test_a_corrupt_database_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "chatsvc.sqlite").write_bytes(b"not a database at all\n" * 200)
    result = run("-n", "--pidfile=", "chat", "--port", "tcp:0", cwd=tmp_path)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    (error,) = [line for line in output.splitlines() if "twistd chat:" in line]
    assert error.endswith(
        "twistd chat: cannot open history database chatsvc.sqlite: file is not a database"
    )


async def lines_until(user: LineClient, last: str) -> list[str]:
    """What C{user} is sent up to and including the line starting with C{last}."""
    seen = [await user.next_line()]
    while not seen[-1].startswith(last):
        seen.append(await user.next_line())
    return seen


async def answer(
    user: LineClient, line: str, last: str, reader: LineClient | None = None
) -> list[str]:
    """C{user} says C{line}: what C{reader} (or C{user}) is sent, up to one starting C{last}."""
    user.say(line)
    return await lines_until(reader or user, last)


@pytest_twisted.ensureDeferred
async def test_accounts_rooms_and_sanctions_survive_a_restart(tmp_path: Path) -> None:
    """
    What /register, /room, /topic and /ban made is read again from --db at
    start: the account asks for its password, the room keeps its topic, mode
    and operators with nobody in it, the sanctions hold with their time left.
    """
    argv = ("--port", "tcp:0:interface=127.0.0.1", "--db", str(tmp_path / "chat.sqlite"))
    service = start(*argv)
    try:
        endpoint = tcp_endpoint(service)
        alice = await connect(endpoint, "alice")
        await answer(
            alice,
            "/register wonderland",
            "*** You registered the account alice and are logged in to it",
        )
        alice.say("/join dev")
        await alice.expect("*** You joined dev (1 member):", "*** alice")
        await answer(alice, "/room register", "*** You registered dev, and own it")
        await answer(
            alice, "/topic release on friday", "*** alice set the topic: release on friday"
        )
        await answer(alice, "/ban bob 2h flooding", "*** Banned nick:bob in dev, 2h left (until ")
        await answer(alice, "/room mode +m", "*** alice made dev moderated")
        await answer(
            alice,
            "/room mode +kl-t beer 2",
            "*** alice made dev need the key beer to join, take 2 members at most, "
            "let any member set its topic",
        )
    finally:
        await service.stopService()

    service = start(*argv)
    try:
        endpoint = tcp_endpoint(service)
        bob = await connect(endpoint, "bob")
        refused = await answer(
            bob, "/join dev", "*** Error: you are banned from dev for 2h (until "
        )
        assert "*** You joined dev" not in " ".join(refused)
        carol = await connect(endpoint, "carol")
        await answer(
            carol,
            "/join dev",
            "*** Error: dev has a key: join it with the right one (/join dev KEY)",
        )
        await answer(
            carol, "/join dev beer", "*** Topic for dev: release on friday (set by alice, "
        )
        await answer(
            carol,
            "hello",
            "*** Error: dev is moderated: only its operators and voiced members may speak",
        )
        guest = await connect(endpoint)
        await answer(guest, "alice", "*** Password for alice:")
        await answer(guest, "wonderland", "*** Hello alice! Type /help for the commands.")
        await answer(guest, "/join dev", "*** You joined dev (2 members):")
        listed = await answer(guest, "/bans", "*** End of list")
        assert listed[-3] == "*** Bans and mutes in dev (1):"
        assert listed[-2].startswith("*** ban nick:bob by alice, 2h left (until "), listed
        # Her account runs the room: she may speak in it.
        await answer(guest, "still on for friday", "<alice> still on for friday", carol)
        await answer(carol, "/topic mine now", "*** carol set the topic: mine now")  # -t was kept
        dave = await connect(endpoint, "dave")
        await answer(dave, "/join dev beer", "*** Error: dev is full: it takes 2 members at most")
    finally:
        await service.stopService()
