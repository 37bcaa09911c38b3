"""
The real C{chatsvc-client} command against a real server on 127.0.0.1:
with piped stdin, interactively in a pseudo-terminal (its screen rendered by
insults' terminal emulator), and across a server restart.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import termios
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_twisted
from twisted.conch.insults import helper, insults
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred, maybeDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, serverFromString
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IListeningPort, IProcessTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.internet.testing import StringTransport
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from chatsvc.frontends.line.server import ChatFactory
from chatsvc.streams.limits import Limits
from tests.support import Certificates, make_certificates, with_accounts

WAIT = 5.0
"""Seconds to wait for anything that should happen at once."""

RECONNECT_WAIT = 15.0
"""Seconds to wait for a reconnection: the first retry comes after 1 to 2 seconds."""

CTRL_C, CTRL_D = b"\x03", b"\x04"

PASSWORD_DELAY = 0.1
"""Seconds the test servers read nothing after a wrong password."""

_reactor: Any = reactor


def client_command() -> list[str]:
    """The installed console script, or the module if it is not installed."""
    script = os.path.join(os.path.dirname(sys.executable), "chatsvc-client")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "chatsvc.client"]


def client_environment(**changes: str) -> dict[str, str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM", "CHATSVC_PASSWORD")
    }
    environment.update(changes)
    return environment


async def eventually(
    condition: Callable[[], bool], state: Callable[[], object], timeout: float = WAIT
) -> None:
    """Wait until C{condition} holds; fail with C{state} if it does not within C{timeout}."""
    deadline = _reactor.seconds() + timeout
    while not condition():
        if _reactor.seconds() > deadline:
            raise AssertionError(f"not so after {timeout} seconds; now: {state()!r}")
        await deferLater(_reactor, 0.01, lambda: None)


def exit_code(reason: Failure) -> int | None:
    """The status a process exited with (L{None} if a signal ended it)."""
    code: int | None = getattr(reason.value, "exitCode", None)
    return code


async def ended(
    process: Deferred[int | None], transport: IProcessTransport | None, timeout: float = WAIT
) -> int | None:
    """The exit status, once the process has exited; killed if it does not within C{timeout}."""
    timer = _reactor.callLater(timeout, _kill, transport)
    try:
        return await process
    finally:
        if timer.active():
            timer.cancel()


def _kill(transport: IProcessTransport | None) -> None:
    """
    Kill the process, and with it every process of its group if it leads
    one: a pseudo-terminal's shell and the client it runs.
    """
    if transport is None or transport.pid is None:
        return
    with suppress(ProcessLookupError):
        if os.getpgid(transport.pid) == transport.pid:
            os.killpg(transport.pid, signal.SIGKILL)
            return
    with suppress(ProcessExitedAlready):
        transport.signalProcess("KILL")


_spawned: list[tuple[IProcessTransport, Deferred[int | None]]] = []
"""The processes the running test started, and what fires once each has ended."""


def spawn(
    protocol: ProcessProtocol, ended: Deferred[int | None], argv: list[str], **kwargs: Any
) -> IProcessTransport:
    """Start a process for the running test; it is killed if it outlives the test."""
    transport: IProcessTransport = _reactor.spawnProcess(protocol, argv[0], argv, **kwargs)
    _spawned.append((transport, ended))
    return transport


@pytest.fixture(autouse=True)
def no_process_outlives_its_test() -> Iterator[None]:
    """Whatever a test started and left running, passed or failed, is killed and reaped."""
    yield
    spawned = list(_spawned)
    _spawned.clear()
    for transport, ended in spawned:
        if not ended.called:
            _kill(transport)
            pytest_twisted.blockon(
                ensureDeferred(eventually(lambda: ended.called, lambda: transport.pid))  # noqa: B023
            )


# The server and another user


class Server:
    """A chat server on 127.0.0.1 that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.factory = ChatFactory()
        self.port = 0
        self._listening: IListeningPort | None = None

    def start(self) -> None:
        """Start a new server (no one signed on) on the port of the last, if there was one."""
        self.factory = ChatFactory()
        self._listening = _reactor.listenTCP(self.port, self.factory, interface="127.0.0.1")
        self.port = self._listening.getHost().port  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._listening is not None:
            listening, self._listening = self._listening, None
            await maybeDeferred(listening.stopListening)
            await self.factory.shut_down()

    def room_of(self, nick: str) -> str | None:
        participant = self.factory.chat.find(nick)
        return None if participant is None else participant.room.name


class User(LineReceiver):
    """Another user of the chat, connected the plain way."""

    delimiter = b"\n"

    def __init__(self) -> None:
        self.lines: list[str] = []

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line.decode())

    def say(self, text: str) -> None:
        self.sendLine(text.encode())


async def sign_on(server: Server | SecureServer, nick: str, room: str = "lobby") -> User:
    """C{nick} signed on and in C{room}, with what the server said on the way forgotten."""
    endpoint = TCP4ClientEndpoint(_reactor, "127.0.0.1", server.port)
    user: User = await connectProtocol(endpoint, User())
    user.say(nick)
    if room != "lobby":
        user.say(f"/join {room}")

    def joined() -> bool:
        heading = [
            i for i, line in enumerate(user.lines) if line.startswith(f"*** You joined {room} (")
        ]
        return bool(heading) and len(user.lines) > heading[0] + 1

    await eventually(joined, lambda: user.lines)
    del user.lines[:]
    return user


# Piped


class Piped(ProcessProtocol):
    """A client with pipes for stdin, stdout and stderr."""

    def __init__(self) -> None:
        self.out = b""
        self.err = b""
        self.ended: Deferred[int | None] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.out += data

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Failure) -> None:
        self.ended.callback(exit_code(reason))

    def output(self) -> list[str]:
        return self.out.decode().split("\n")


def spawn_piped(*arguments: str) -> Piped:
    return spawn_piped_with({}, *arguments)


def spawn_piped_with(environment: dict[str, str], *arguments: str) -> Piped:
    command = client_command() + list(arguments)
    process = Piped()
    spawn(process, process.ended, command, env=client_environment(**environment))
    return process


async def run_piped(stdin: bytes, *arguments: str) -> Piped:
    """Run the client with C{stdin} piped in, to the end."""
    process = spawn_piped(*arguments)
    assert process.transport is not None
    process.transport.write(stdin)
    process.transport.closeStdin()
    await ended(process.ended, process.transport)
    return process


@pytest_twisted.ensureDeferred
async def test_piped_lines_reach_the_room(server: Server) -> None:
    """
    Each piped line is said to the room, then the client quits, prints what
    the server sent, and exits 0.
    """
    alice = await sign_on(server, "alice")
    process = await run_piped(b"hi\nthere\n", "--nick", "bot", "127.0.0.1", str(server.port))
    assert (await process.ended, process.err) == (0, b"")
    assert process.output() == [
        "*** Welcome to chatsvc!",
        "*** Choose a nickname:",
        "*** Hello bot! Type /help for the commands.",
        "*** You joined lobby (2 members):",
        "*** alice, bot",
        "*** Bye!",
        "",
    ]
    expected = ["*** bot joined lobby", "<bot> hi", "<bot> there", "*** bot left lobby"]
    await eventually(lambda: alice.lines == expected, lambda: alice.lines)


@pytest_twisted.ensureDeferred
async def test_piped_first_line_is_nickname(server: Server) -> None:
    """Without --nick the first line answers the prompt; --room and --connect are honoured."""
    alice = await sign_on(server, "alice", "attic")
    process = await run_piped(
        b"bot\n/me waves\n", "--room", "attic", "--connect", f"tcp:127.0.0.1:{server.port}"
    )
    assert (await process.ended, process.err) == (0, b"")
    assert process.output()[2:] == [
        "*** Hello bot! Type /help for the commands.",
        "*** You joined lobby (1 member):",
        "*** bot",
        "*** You joined attic (2 members):",
        "*** alice, bot",
        "*** Bye!",
        "",
    ]
    expected = ["*** bot joined attic", "* bot waves", "*** bot left attic"]
    await eventually(lambda: alice.lines == expected, lambda: alice.lines)


@pytest_twisted.ensureDeferred
async def test_piped_prints_what_arrives(server: Server) -> None:
    """What others say comes out on stdout exactly as sent, mentions and all: no stamps, no bell."""
    alice = await sign_on(server, "alice")
    process = spawn_piped("--nick", "bot", "127.0.0.1", str(server.port))
    assert process.transport is not None
    await eventually(lambda: server.room_of("bot") == "lobby", lambda: process.out)
    alice.say("hello bot")
    alice.say("/msg bot psst")
    await eventually(lambda: b"*alice* psst\n" in process.out, lambda: process.out)
    process.transport.closeStdin()
    assert await ended(process.ended, process.transport) == 0
    assert process.output()[3:] == [
        "*** You joined lobby (2 members):",
        "*** alice, bot",
        "<alice> hello bot",
        "*alice* psst",
        "*** Bye!",
        "",
    ]


@pytest_twisted.ensureDeferred
async def test_piped_nickname_taken(server: Server) -> None:
    """A refused nickname: the server's error, and status 1; nothing is said."""
    alice = await sign_on(server, "bot")
    process = await run_piped(b"hi\n", "--nick", "bot", "127.0.0.1", str(server.port))
    assert await process.ended == 1
    assert process.output() == [
        "*** Welcome to chatsvc!",
        "*** Choose a nickname:",
        "*** Error: the nickname bot is taken",
        "*** Choose a nickname:",
        "",
    ]
    assert process.err == b"chatsvc-client: cannot sign on as bot: the nickname bot is taken\n"
    assert alice.lines == []


@pytest_twisted.ensureDeferred
async def test_piped_server_goes_away(server: Server) -> None:
    """Piped, a lost connection is the end: status 1, and why on stderr."""
    process = spawn_piped("--nick", "bot", "127.0.0.1", str(server.port))
    await eventually(lambda: server.room_of("bot") == "lobby", lambda: process.out)
    await server.stop()
    assert await ended(process.ended, process.transport) == 1
    assert process.output()[-2:] == ["*** The server is shutting down. Goodbye!", ""]
    assert process.err == b"chatsvc-client: connection lost: the server closed the connection\n"


@pytest_twisted.ensureDeferred
async def test_no_server(server: Server) -> None:
    """No server: one line on stderr, status 1, no traceback."""
    port = server.port
    await server.stop()
    process = await run_piped(b"hi\n", "127.0.0.1", str(port))
    assert (await process.ended, process.out) == (1, b"")
    expected = f"chatsvc-client: cannot connect to tcp:127.0.0.1:{port}: Connection refused\n"
    assert process.err.decode() == expected


# Interactive, in a pseudo-terminal


_TITLE_OR_BELL = re.compile(rb"\x1b\]2;(?P<title>[^\x07]*)\x07|\x07|\x1b\[2[23];0t")


class PseudoTerminal(ProcessProtocol):
    """
    The far end of a pseudo-terminal: what the child writes, on an emulated
    80x24 screen; the titles it sets and the bells it rings (which insults'
    emulator does not know) are taken out and counted.
    """

    def __init__(self) -> None:
        self.screen = helper.TerminalBuffer()
        self._parser = insults.ClientProtocol(lambda: self.screen)
        self._parser.makeConnection(StringTransport())
        self.ended: Deferred[int | None] = Deferred()
        self.titles: list[str] = []
        self.bells = 0
        self._pending = b""

    def outReceived(self, data: bytes) -> None:
        data, self._pending = self._pending + data, b""
        start = data.rfind(b"\x1b]")
        if start != -1 and b"\x07" not in data[start:]:  # a title cut in two
            data, self._pending = data[:start], data[start:]
        self._parser.dataReceived(_TITLE_OR_BELL.sub(self._took, data))

    def _took(self, match: re.Match[bytes]) -> bytes:
        if match["title"] is not None:
            self.titles.append(match["title"].decode())
        elif match[0] == b"\x07":
            self.bells += 1
        return b""

    def processEnded(self, reason: Failure) -> None:
        self.ended.callback(exit_code(reason))

    def lines(self) -> list[str]:
        """The screen's lines, up to the last that is not empty."""
        lines = bytes(self.screen).decode().split("\n")
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def last_line(self) -> str:
        return (self.lines() or [""])[-1]

    def line_attributes(self, text: str) -> Any:
        """The character attributes at the start of the screen line C{text}."""
        row = self.lines().index(text)
        return self.screen.getCharacter(0, row)[1]

    def type(self, keys: bytes) -> None:
        assert self.transport is not None
        self.transport.write(keys)

    def local_modes(self) -> int:
        """The terminal's local modes (ICANON, ECHO, ...) as the child has set them."""
        fd = cast(Any, self.transport).fileno()
        return cast(int, termios.tcgetattr(fd)[3])


class Interactive:
    """
    An interactive client in a pseudo-terminal, run by a shell that records
    the terminal's settings before and after.
    """

    def __init__(
        self,
        tmp_path: Path,
        *arguments: str,
        command: list[str] | None = None,
        timestamps: bool = False,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.before = tmp_path / "tty.before"
        self.after = tmp_path / "tty.after"
        script = 'stty -g >"$0.before"; "$@"; status=$?; stty -g >"$0.after"; exit $status'
        argv = [
            "/bin/sh",
            "-c",
            script,
            str(tmp_path / "tty"),
            *(command or client_command()),
            *([] if timestamps else ["--no-timestamps"]),
            *arguments,
        ]
        self.terminal = PseudoTerminal()
        spawn(
            self.terminal,
            self.terminal.ended,
            argv,
            env=client_environment(TERM="xterm", **(environment or {})),
            usePTY=True,
        )

    async def wait_for_prompt(self, prompt: str, timeout: float = WAIT) -> None:
        await eventually(lambda: self.terminal.last_line() == prompt, self.terminal.lines, timeout)

    async def exit_status(self) -> int | None:
        return await ended(self.terminal.ended, self.terminal.transport)

    def terminal_restored(self) -> bool:
        return self.after.read_text() == self.before.read_text()

    def kill(self) -> None:
        if not self.terminal.ended.called:
            _kill(self.terminal.transport)


@pytest_twisted.ensureDeferred
async def test_typing_while_lines_arrive(server: Server, tmp_path: Path) -> None:
    """
    Lines that arrive while the user types are written above the input line,
    which stays whole; Enter sends it intact; Ctrl-D quits and puts the
    terminal back as it was.
    """
    alice = await sign_on(server, "alice")
    session = Interactive(tmp_path, "--nick", "bob", "127.0.0.1", str(server.port))
    terminal = session.terminal
    try:
        await session.wait_for_prompt("[lobby] bob> ")
        assert terminal.lines() == [
            "*** Welcome to chatsvc!",
            "*** Choose a nickname:",
            "*** Hello bob! Type /help for the commands.",
            "*** You joined lobby (2 members):",
            "*** alice, bob",
            "[lobby] bob> ",
        ]
        assert terminal.local_modes() & (termios.ICANON | termios.ECHO) == 0

        terminal.type(b"hello wor")
        await session.wait_for_prompt("[lobby] bob> hello wor")
        alice.say("first")
        alice.say("/me second")
        await eventually(
            lambda: (
                terminal.lines()[-3:]
                == ["<alice> first", "* alice second", "[lobby] bob> hello wor"]
            ),
            terminal.lines,
        )

        terminal.type(b"ld\r")
        await eventually(
            lambda: alice.lines == ["*** bob joined lobby", "<bob> hello world"],
            lambda: alice.lines,
        )
        await eventually(
            lambda: terminal.lines()[-2:] == ["[lobby] bob> hello world", "[lobby] bob> "],
            terminal.lines,
        )

        terminal.type(CTRL_D)
        assert await session.exit_status() == 0
        assert terminal.lines()[-1] == "*** Bye!"
        assert session.terminal_restored()
        await eventually(lambda: alice.lines[-1:] == ["*** bob left lobby"], lambda: alice.lines)
    finally:
        session.kill()


@pytest.mark.parametrize("keys", [CTRL_D, CTRL_C, b"/quit\r"], ids=["ctrl-d", "ctrl-c", "quit"])
@pytest_twisted.ensureDeferred
async def test_ways_out(server: Server, tmp_path: Path, keys: bytes) -> None:
    """Ctrl-D, Ctrl-C and /quit each leave the chat and restore the terminal."""
    alice = await sign_on(server, "alice")
    session = Interactive(tmp_path, "--nick", "bob", "127.0.0.1", str(server.port))
    try:
        await session.wait_for_prompt("[lobby] bob> ")
        session.terminal.type(keys)
        assert await session.exit_status() == 0
        assert session.terminal_restored()
        await eventually(
            lambda: alice.lines == ["*** bob joined lobby", "*** bob left lobby"],
            lambda: alice.lines,
        )
    finally:
        session.kill()


@pytest.mark.parametrize(
    ("arguments", "environment", "coloured"),
    [([], {}, True), (["--no-color"], {}, False), ([], {"NO_COLOR": "1"}, False)],
    ids=["colour", "--no-color", "NO_COLOR"],
)
@pytest_twisted.ensureDeferred
async def test_colours(
    server: Server,
    tmp_path: Path,
    arguments: list[str],
    environment: dict[str, str],
    coloured: bool,
) -> None:
    """
    Notices and private messages have colours of their own, unless colour is
    turned off. Run as C{python -m chatsvc.client}, which must work too.
    """
    alice = await sign_on(server, "alice")
    command = [sys.executable, "-m", "chatsvc.client"]
    session = Interactive(
        tmp_path,
        "--nick",
        "bob",
        *arguments,
        "127.0.0.1",
        str(server.port),
        command=command,
        environment=environment,
    )
    terminal = session.terminal
    try:
        await session.wait_for_prompt("[lobby] bob> ")
        alice.say("/msg bob psst")
        await session.wait_for_prompt("[lobby] bob> ")
        await eventually(lambda: "*alice* psst" in terminal.lines(), terminal.lines)
        notice = terminal.line_attributes("*** Welcome to chatsvc!")
        private = terminal.line_attributes("*alice* psst")
        colours = (notice.foreground, private.foreground, private.bold)
        if coloured:
            assert colours == (helper.CYAN, helper.GREEN, True)
        else:
            assert colours == (helper.WHITE, helper.WHITE, False)
        terminal.type(CTRL_D)
        assert await session.exit_status() == 0
    finally:
        session.kill()


@pytest.mark.parametrize("bell", [True, False], ids=["bell", "--no-bell"])
@pytest_twisted.ensureDeferred
async def test_bell_and_title(server: Server, tmp_path: Path, bell: bool) -> None:
    """
    A private message or a mention rings the bell (unless --no-bell) and
    sets the title; a line that is neither does not.
    """
    alice = await sign_on(server, "alice")
    arguments = [] if bell else ["--no-bell"]
    session = Interactive(tmp_path, "--nick", "bob", *arguments, "127.0.0.1", str(server.port))
    terminal = session.terminal
    try:
        await session.wait_for_prompt("[lobby] bob> ")
        alice.say("hello all")
        alice.say("/msg bob psst")
        await eventually(lambda: "*alice* psst" in terminal.lines(), terminal.lines)
        alice.say("hi BOB")
        await eventually(lambda: "<alice> hi BOB" in terminal.lines(), terminal.lines)
        assert terminal.titles == [
            "chatsvc-client: a private message from alice",
            "chatsvc-client: alice mentioned you in lobby",
        ]
        assert terminal.bells == (2 if bell else 0)
        terminal.type(CTRL_D)
        assert await session.exit_status() == 0
    finally:
        session.kill()


@pytest_twisted.ensureDeferred
async def test_reconnection(server: Server, tmp_path: Path) -> None:
    """
    The server stops and starts again on the same port: the client says so,
    reconnects, and is back in its room under its nickname. With the server
    gone again, Ctrl-D still leaves at once and restores the terminal.
    """
    session = Interactive(
        tmp_path, "--nick", "bob", "--room", "attic", "127.0.0.1", str(server.port)
    )
    terminal = session.terminal
    try:
        await session.wait_for_prompt("[attic] bob> ")
        assert server.room_of("bob") == "attic"

        await server.stop()
        lost = "-!- Connection lost: the server closed the connection."
        await eventually(lambda: lost in terminal.lines(), terminal.lines)
        server.start()
        await eventually(lambda: server.room_of("bob") == "attic", terminal.lines, RECONNECT_WAIT)
        await session.wait_for_prompt("[attic] bob> ")
        lines = terminal.lines()
        assert lines[lines.index(lost) - 1] == "*** The server is shutting down. Goodbye!"
        after = lines[lines.index(lost) + 1 :]
        waits = [line for line in after if line.startswith("-!- Reconnecting in ")]
        assert waits and after[: len(waits)] == waits
        assert after[len(waits) :] == [
            "-!- Signed on again as bob; rejoining attic.",
            "*** You joined attic (1 member):",
            "*** bob",
            "[attic] bob> ",
        ]

        alice = await sign_on(server, "alice", "attic")
        alice.say("welcome back")
        await eventually(
            lambda: terminal.lines()[-2:] == ["<alice> welcome back", "[attic] bob> "],
            terminal.lines,
        )

        await server.stop()
        await session.wait_for_prompt("> ")
        terminal.type(CTRL_D)
        assert await session.exit_status() == 0
        assert session.terminal_restored()
    finally:
        session.kill()


# TLS and registered nicknames


class SecureServer:
    """
    A chat server with accounts (alice's password is C{secret}, and bob is
    registered) listening with TLS on 127.0.0.1, with a certificate for
    localhost alone; and a plain port for the test's own users. It gives a
    sign-on all the time it wants: a client that leaves is one that closed
    its connection itself. A wrong password costs a tenth of a second, not
    the 3 seconds of a real server: what the client does meanwhile is the
    same.
    """

    def __init__(self, certificates: Certificates) -> None:
        self.certificates = certificates
        self.factory = with_accounts(
            clock=_reactor, limits=Limits(login_timeout=0), password_delay=PASSWORD_DELAY
        )
        self.tls_port = self.port = 0
        self._listening: list[IListeningPort] = []

    async def start(self) -> None:
        endpoint = serverFromString(_reactor, self.certificates.server_endpoint())
        self._listening.append(await endpoint.listen(self.factory))
        self._listening.append(_reactor.listenTCP(0, self.factory, interface="127.0.0.1"))
        self.tls_port, self.port = (p.getHost().port for p in self._listening)  # type: ignore[attr-defined]

    async def stop(self) -> None:
        for listening in self._listening:
            await maybeDeferred(listening.stopListening)
        await self.factory.shut_down()


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[SecureServer]:
    (tmp_path / "certificates").mkdir()
    certificates = make_certificates(tmp_path / "certificates", ["localhost"], [])
    server = SecureServer(certificates)
    pytest_twisted.blockon(ensureDeferred(server.start()))
    yield server
    pytest_twisted.blockon(ensureDeferred(server.stop()))


def tls_arguments(secure: SecureServer, host: str = "localhost") -> list[str]:
    return ["--tls", "--ca", str(secure.certificates.ca), host, str(secure.tls_port)]


@pytest_twisted.ensureDeferred
async def test_piped_over_tls_with_a_password_file(secure: SecureServer, tmp_path: Path) -> None:
    """The certificate is checked against --ca; the password comes from its file."""
    carol = await sign_on(secure, "carol")
    password = tmp_path / "password"
    password.write_text("secret\n")
    process = await run_piped(
        b"hi over TLS\n",
        "--nick", "alice", "--password-file", str(password), *tls_arguments(secure),
    )  # fmt: skip
    assert (await process.ended, process.err) == (0, b"")
    assert process.output() == [
        "*** Welcome to chatsvc!",
        "*** Choose a nickname:",
        "*** Password for alice:",
        "*** Hello alice! Type /help for the commands.",
        "*** You joined lobby (2 members):",
        "*** alice, carol",
        "*** Bye!",
        "",
    ]
    expected = ["*** alice joined lobby", "<alice> hi over TLS", "*** alice left lobby"]
    await eventually(lambda: carol.lines == expected, lambda: carol.lines)


@pytest_twisted.ensureDeferred
async def test_piped_password_from_the_environment(secure: SecureServer) -> None:
    process = spawn_piped_with(
        {"CHATSVC_PASSWORD": "secret"}, "--nick", "alice", "127.0.0.1", str(secure.port)
    )
    assert process.transport is not None
    process.transport.closeStdin()
    assert await ended(process.ended, process.transport) == 0
    assert process.output()[2:4] == [
        "*** Password for alice:",
        "*** Hello alice! Type /help for the commands.",
    ]


@pytest_twisted.ensureDeferred
async def test_piped_registered_nickname_without_a_password(secure: SecureServer) -> None:
    process = await run_piped(b"hi\n", "--nick", "alice", "127.0.0.1", str(secure.port))
    assert await process.ended == 1
    assert process.output()[-2:] == ["*** Password for alice:", ""]
    assert process.err == (
        b"chatsvc-client: cannot sign on as alice: the nickname is registered; "
        b"give its password with --password-file or CHATSVC_PASSWORD\n"
    )


@pytest_twisted.ensureDeferred
async def test_piped_wrong_password(secure: SecureServer) -> None:
    process = spawn_piped_with(
        {"CHATSVC_PASSWORD": "guess"}, "--nick", "alice", "127.0.0.1", str(secure.port)
    )
    assert process.transport is not None
    process.transport.closeStdin()
    assert await ended(process.ended, process.transport, timeout=WAIT) == 1
    assert process.output()[-4:] == [
        "*** Password for alice:",
        "*** Error: wrong password for alice",
        "*** Password for alice:",
        "",
    ]
    assert process.err == b"chatsvc-client: cannot sign on as alice: wrong password\n"


@pytest_twisted.ensureDeferred
async def test_piped_over_tls_registered_nickname_without_a_password(
    secure: SecureServer,
) -> None:
    """
    A refused sign-on over TLS ends at once, as over TCP: the client closes
    the connection itself (the server would wait for ever), with stdin
    unregistered from it first, or TLS never shuts down.
    """
    process = await run_piped(b"bob\n", *tls_arguments(secure))
    assert await process.ended == 1
    assert process.output()[-2:] == ["*** Password for bob:", ""]
    assert process.err == (
        b"chatsvc-client: cannot sign on as bob: the nickname is registered; "
        b"give its password with --password-file or CHATSVC_PASSWORD\n"
    )
    await eventually(lambda: not secure.factory.connections, lambda: secure.factory.connections)


@pytest_twisted.ensureDeferred
async def test_piped_over_tls_wrong_password(secure: SecureServer) -> None:
    process = spawn_piped_with(
        {"CHATSVC_PASSWORD": "guess"}, "--nick", "alice", *tls_arguments(secure)
    )
    assert process.transport is not None
    process.transport.closeStdin()
    assert await ended(process.ended, process.transport, timeout=WAIT) == 1
    assert process.output()[-3:] == [
        "*** Error: wrong password for alice",
        "*** Password for alice:",
        "",
    ]
    assert process.err == b"chatsvc-client: cannot sign on as alice: wrong password\n"


@pytest_twisted.ensureDeferred
async def test_piped_over_tls_nickname_taken(secure: SecureServer) -> None:
    await sign_on(secure, "carol")
    process = await run_piped(b"hi\n", "--nick", "carol", *tls_arguments(secure))
    assert await process.ended == 1
    assert process.err == b"chatsvc-client: cannot sign on as carol: the nickname carol is taken\n"


@pytest_twisted.ensureDeferred
async def test_wrong_hostname_is_refused(secure: SecureServer) -> None:
    """The certificate is for localhost: 127.0.0.1 is refused, with one line and status 1."""
    process = await run_piped(b"hi\n", "--nick", "bob", *tls_arguments(secure, "127.0.0.1"))
    assert (await process.ended, process.out) == (1, b"")
    assert process.err.decode() == (
        f"chatsvc-client: cannot connect to tls:127.0.0.1:{secure.tls_port}: "
        "the server's certificate is not valid for 127.0.0.1\n"
    )


@pytest_twisted.ensureDeferred
async def test_untrusted_certificate_is_refused(secure: SecureServer) -> None:
    """Without --ca the system's trust store is used, and it does not know the test's CA."""
    process = await run_piped(b"hi\n", "--tls", "localhost", str(secure.tls_port))
    assert (await process.ended, process.out) == (1, b"")
    assert process.err.decode() == (
        f"chatsvc-client: cannot connect to tls:localhost:{secure.tls_port}: "
        "the server's certificate is not trusted (certificate verify failed)\n"
    )


@pytest_twisted.ensureDeferred
async def test_interactive_certificate_failure_is_not_retried(
    secure: SecureServer, tmp_path: Path
) -> None:
    session = Interactive(tmp_path, "--nick", "bob", *tls_arguments(secure, "127.0.0.1"))
    try:
        assert await session.exit_status() == 1
        assert "".join(session.terminal.lines()) == (
            f"chatsvc-client: cannot connect to tls:127.0.0.1:{secure.tls_port}: "
            "the server's certificate is not valid for 127.0.0.1"
        )
        assert session.terminal_restored()
    finally:
        session.kill()


@pytest_twisted.ensureDeferred
async def test_interactive_password_is_not_shown(secure: SecureServer, tmp_path: Path) -> None:
    """Over TLS, the terminal asks for the password without showing what is typed."""
    session = Interactive(tmp_path, "--nick", "alice", *tls_arguments(secure))
    terminal = session.terminal
    try:
        await session.wait_for_prompt("Password for alice: ")
        assert terminal.lines()[-2:] == ["*** Password for alice:", "Password for alice: "]
        terminal.type(b"wrong\r")
        await eventually(
            lambda: (
                terminal.lines()[-3:]
                == [
                    "*** Error: wrong password for alice",
                    "*** Password for alice:",
                    "Password for alice: ",
                ]
            ),
            terminal.lines,
            timeout=WAIT,
        )
        terminal.type(b"secret\r")
        await session.wait_for_prompt("[lobby] alice> ")
        screen = "\n".join(terminal.lines())
        assert "secret" not in screen and "wrong" not in screen.replace("wrong password", "")
        terminal.type(CTRL_D)
        assert await session.exit_status() == 0
        assert session.terminal_restored()
    finally:
        session.kill()
