"""
C{chatsvc-client}'s command line: its options, the endpoint they name, and
running a session on a piped console or an interactive terminal
(L{chatsvc.client.terminal}).

test-case-name: tests.client.test_client, tests.client.test_client_process
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

from twisted.application.internet import ClientService
from twisted.internet.endpoints import clientFromString, quoteStringArgument
from twisted.internet.error import ConnectError
from twisted.internet.interfaces import (
    IProtocol,
    IStreamClientEndpoint,
)
from twisted.internet.stdio import StandardIO
from twisted.internet.task import deferLater, react
from twisted.python import usage

from chatsvc import __version__
from chatsvc.chat.model import NAME_CHARS, NAME_MAX, canonical_room_name, is_valid_name
from chatsvc.client.session import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    PASSWORD_VARIABLE,
    PROGRAM,
    ChatClientFactory,
    IConsole,
    LineConsole,
    Session,
)
from chatsvc.client.tls import (
    DEFAULT_TLS_PORT,
    describe_tls_failure,
    is_tls_failure,
    load_trust_root,
    tls_endpoint,
)

if TYPE_CHECKING:
    from twisted.internet._sslverify import IOpenSSLTrustRoot

    from chatsvc.client.terminal import RawTerminal


# The command

PASSWORD_FILE_OPTION = [
    "password-file",
    None,
    None,
    "Read the password of a registered nickname from the first line of this file "
    f"(or set {PASSWORD_VARIABLE}).",
]
"""The option of L{password_option}, for the desktop client too."""


class Options(usage.Options):
    """
    C{chatsvc-client}'s command line. L{postOptions} adds C{endpoint}, the
    description of the one to connect to; C{address}, the host and port for
    C{--tls}, with C{trust}, the roots of C{--ca}; and C{password}.
    """

    synopsis = f"Usage: {PROGRAM} [options] [HOST [PORT]]"
    longdesc = (
        "A terminal client for chatsvc. Connects to HOST (default localhost) on "
        "PORT (default 8080, or 8443 with --tls), or to the endpoint given with "
        "--connect. With a terminal on stdin it edits lines and keeps a history, "
        "stamps lines with the time, completes nicknames and commands with Tab, "
        "pages back with PageUp and PageDown, rings the bell on a mention or a "
        "private message, and reconnects if the connection drops; otherwise it "
        "sends each line of stdin, then /quit, and prints exactly what the server "
        "sends. The password of a "
        f"registered nickname comes from --password-file, {PASSWORD_VARIABLE}, "
        "or the terminal."
    )
    optParameters = [
        ["nick", "n", None, "Sign on with this nickname instead of answering the prompt."],
        ["room", "r", None, "Go to this room once signed on."],
        [
            "connect",
            "c",
            None,
            "Connect to this client endpoint string instead of HOST PORT, e.g. "
            "tcp:chat.example.org:8080, tls:chat.example.org:8443 or unix:/run/chatsvc.sock.",
        ],
        [
            "ca",
            None,
            None,
            "With --tls: trust the CA certificates in this PEM file instead of the system's.",
        ],
        PASSWORD_FILE_OPTION,
    ]
    optFlags = [
        [
            "tls",
            None,
            "Connect with TLS, checking the server's certificate and name (default PORT 8443).",
        ],
        ["no-color", None, "Do not colour the output (a non-empty NO_COLOR does the same)."],
        [
            "no-timestamps",
            None,
            "Do not start each line on the terminal with the time it came (HH:MM).",
        ],
        ["no-bell", None, "Do not ring the terminal's bell on a mention or a private message."],
    ]

    def opt_version(self) -> None:
        """Show the chatsvc version and exit."""
        print(f"{PROGRAM} (chatsvc) {__version__}")
        raise SystemExit(0)

    def parseArgs(self, host: str | None = None, port: str | None = None) -> None:
        self["host"] = host
        self["port"] = port

    def postOptions(self) -> None:
        from twisted.internet import reactor

        self["address"] = self["trust"] = None
        if self["connect"] is not None:
            if self["host"] is not None:
                raise usage.UsageError("give either HOST [PORT] or --connect, not both")
            if self["tls"] or self["ca"] is not None:
                raise usage.UsageError(
                    "--tls and --ca go with HOST [PORT]; with --connect, give a tls: endpoint "
                    "(its trustRoots= is a directory of CA certificates)"
                )
            self["endpoint"] = self["connect"]
        elif self["tls"]:
            host = self["host"] or DEFAULT_HOST
            port = port_number(self["port"], DEFAULT_TLS_PORT)
            self["address"] = (host, port)
            self["endpoint"] = f"tls:{quoteStringArgument(host)}:{port}"
            if self["ca"] is not None:
                self["trust"] = trust_option(self["ca"])
        elif self["ca"] is not None:
            raise usage.UsageError("--ca goes with --tls")
        else:
            self["endpoint"] = tcp_endpoint(self["host"] or DEFAULT_HOST, self["port"])
        self["password"] = password_option(self["password-file"], os.environ)
        try:
            client_endpoint(reactor, self)
        except (ValueError, KeyError, TypeError) as e:
            raise usage.UsageError(f"invalid endpoint {self['endpoint']!r}: {e}") from None
        if self["nick"] is not None and not is_valid_name(self["nick"]):
            raise usage.UsageError(
                f"{self['nick']!r} is not a valid nickname: use 1-{NAME_MAX} {NAME_CHARS}"
            )
        if self["room"] is not None and not is_valid_name(canonical_room_name(self["room"])):
            raise usage.UsageError(
                f"{self['room']!r} is not a valid room name: use 1-{NAME_MAX} {NAME_CHARS}"
            )


def port_number(port: str | None, default: int) -> int:
    """C{port} as a number, or C{default} if it is L{None}."""
    if port is None:
        return default
    if port.isdigit() and 0 < int(port) < 65536:
        return int(port)
    raise usage.UsageError(f"invalid port {port!r}: give a number from 1 to 65535")


def tcp_endpoint(host: str, port: str | None) -> str:
    """The client endpoint string for C{host} and C{port} (a number, or L{None} for the default)."""
    return f"tcp:{quoteStringArgument(host)}:{port_number(port, DEFAULT_PORT)}"


def trust_option(path: str) -> IOpenSSLTrustRoot:
    """The CA certificates of C{--ca PATH}; L{usage.UsageError}, saying why, if unreadable."""
    try:
        return load_trust_root(path)
    except OSError as e:
        raise usage.UsageError(f"--ca {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise usage.UsageError(f"--ca {path}: {e}") from None


def password_option(path: str | None, environ: Mapping[str, str]) -> bytes | None:
    """The password from C{--password-file}'s first line, or from L{PASSWORD_VARIABLE}."""
    if path is None:
        password = environ.get(PASSWORD_VARIABLE, "").encode() or None
    else:
        try:
            with open(path, "rb") as file:
                password = file.readline().removesuffix(b"\n").removesuffix(b"\r")
        except OSError as e:
            raise usage.UsageError(f"--password-file {path}: {e.strerror or e}") from None
        if not password:
            raise usage.UsageError(f"--password-file {path}: its first line is empty")
    return password


def client_endpoint(reactor: Any, options: Options) -> IStreamClientEndpoint:
    """The endpoint to connect to, as the parsed C{options} say."""
    if options["address"] is not None:
        host, port = options["address"]
        return tls_endpoint(reactor, host, port, options["trust"])
    endpoint: IStreamClientEndpoint = clientFromString(reactor, options["endpoint"])
    return endpoint


def wants_colour(no_color: bool, environ: Mapping[str, str]) -> bool:
    """Whether the terminal gets colours: not with C{--no-color}, C{NO_COLOR} or TERM=dumb."""
    return not no_color and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def describe_connect_error(error: BaseException) -> str:
    """The reason a connection attempt failed, in the operating system's words where it has some."""
    if is_tls_failure(error):
        return describe_tls_failure(error)
    if isinstance(error, ConnectError) and error.osError is not None and error.args:
        words = error.args[0]
        if isinstance(words, str) and words:
            return words
    return str(error).rstrip(".")


@contextmanager
def _file_flags_kept(*fds: int) -> Iterator[None]:
    """
    Put back the file status flags of C{fds} on the way out. L{StandardIO}
    makes stdin and stdout non-blocking, and the flag is shared with whatever
    uses the same terminal or pipe after us (the shell, the next command in a
    pipeline), which would fail with EAGAIN.
    """
    saved: dict[int, int] = {}
    for fd in fds:
        with suppress(OSError):
            saved[fd] = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        yield
    finally:
        for fd, flags in saved.items():
            with suppress(OSError):
                fcntl.fcntl(fd, fcntl.F_SETFL, flags)


async def run(reactor: Any, options: Options, raw: RawTerminal | None) -> None:
    """
    Connect, then run the session until it is over. With C{raw} (stdin and
    stdout are a terminal) the session is interactive: the terminal goes into
    raw mode once connected, and the client reconnects when the connection
    drops.
    """
    description: str = options["endpoint"]
    endpoint = client_endpoint(reactor, options)
    start = partial(
        Session,
        clock=reactor,
        nick=options["nick"],
        room=options["room"],
        password=options["password"],
    )
    console: IConsole
    stdio: IProtocol
    if raw is None:
        lines = LineConsole()
        session = lines.session = start(lines)
        console = stdio = lines
    else:
        from twisted.conch.insults.insults import ServerProtocol

        from chatsvc.client.terminal import ChatTerminal, takes_title

        terminal = ChatTerminal(
            colour=wants_colour(options["no-color"], os.environ),
            clock=reactor,
            timestamps=not options["no-timestamps"],
            bell=not options["no-bell"],
            title=takes_title(os.environ),
        )
        session = terminal.session = start(terminal, reconnect=True)
        console, stdio = terminal, ServerProtocol(lambda: terminal)
    service = ClientService(
        endpoint, ChatClientFactory(session), retryPolicy=session.retry_delay, clock=reactor
    )
    connected = service.whenConnected(failAfterFailures=1)
    service.startService()
    try:
        await connected
        await session.ready  # over TLS, the server's certificate is checked by now
    except Exception as e:
        # Stopped from the next turn: the service is still busy with the failure.
        await deferLater(reactor, 0, service.stopService)
        sys.stderr.write(
            f"{PROGRAM}: cannot connect to {description}: {describe_connect_error(e)}\n"
        )
        raise SystemExit(1) from None
    # Still in the reactor turn in which the connection became ready: no server
    # line has been read yet.
    if raw is not None:
        raw.enter(terminal.terminalSize)
    StandardIO(stdio, reactor=reactor)
    status = await session.done
    await service.stopService()
    await console.close()
    if raw is not None:
        raw.restore()
    if status:
        raise SystemExit(status)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The C{chatsvc-client} command."""
    options = Options()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else list(argv))
    except usage.UsageError as e:
        sys.stderr.write(f"{PROGRAM}: {e}\n{PROGRAM}: see {PROGRAM} --help\n")
        raise SystemExit(2) from None
    raw: RawTerminal | None = None
    if sys.stdin.isatty() and sys.stdout.isatty():
        from chatsvc.client.terminal import RawTerminal

        raw = RawTerminal(sys.stdin.fileno())
    with _file_flags_kept(sys.stdin.fileno(), sys.stdout.fileno()):
        try:
            react(run, [options, raw])
        finally:
            if raw is not None:
                raw.restore()
