"""
C{twistd chat}: its options and the service they make.

test-case-name: tests.service.test_tap, tests.service.test_twistd
"""

from __future__ import annotations

import os
import re
import socket
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, cast

import attrs
from OpenSSL import crypto
from twisted.application.internet import StreamServerEndpointService, TimerService
from twisted.application.service import IService, MultiService, Service
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.portal import Portal
from twisted.cred.strcred import AuthOptionMixin, findCheckerFactories
from twisted.internet import task
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, DeferredList, maybeDeferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError, VerifyError
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorFromThreads,
    IReactorTCP,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python import usage
from zope.interface import implementer

from chatsvc import __version__
from chatsvc.accounts import Accounts, ChatRealm, with_bytes
from chatsvc.accounts.registered import RegisteredAccounts
from chatsvc.chat.commands import HISTORY_LINES, HISTORY_MAX
from chatsvc.chat.interfaces import IAccountNames
from chatsvc.chat.model import NAME_CHARS, NAME_MAX, Chat, Participant, is_valid_name
from chatsvc.cluster.redis import LEASE
from chatsvc.frontends.irc.server import irc_frontend
from chatsvc.frontends.irc.wire import SERVER_NAME as IRC_SERVER_NAME
from chatsvc.frontends.irc.wire import IrcServer
from chatsvc.frontends.irc.wire import sanitise as irc_sanitise
from chatsvc.frontends.line.server import ChatFactory
from chatsvc.frontends.web.files import MAX_UPLOAD, UPLOAD_RATE
from chatsvc.history import (
    MAX_LOOKUPS,
    MAX_REPLAYS,
    MAX_UNSAVED_BYTES,
    MIN_QUERY_TIMEOUT,
    MIN_UNSAVED_BYTES,
    QUERY_TIMEOUT,
    HistoryUnavailable,
    IHistory,
    NoHistory,
)
from chatsvc.registry import IRegistry, RegistryUnavailable, restore
from chatsvc.registry.sqlite import SQLiteRegistry
from chatsvc.service import config
from chatsvc.service.frontends import FRONTENDS
from chatsvc.service.logjson import LOG_FORMATS
from chatsvc.service.reload import Reloader, ReloadOnHangUp, key_or_certificate_error, reloadable
from chatsvc.service.startup import StartupError, start_failed, start_log, terminal
from chatsvc.sessions.registration import MIN_PASSWORD, REGISTRATIONS_PER_ADDRESS, Registrar
from chatsvc.streams import eagertcp
from chatsvc.streams.connection import StreamConnection
from chatsvc.streams.eagertcp import eager
from chatsvc.streams.limits import Limits
from chatsvc.streams.traffic import SAMPLE_EVERY

DEFAULT_ENDPOINT = "tcp:8080"
DEFAULT_BACKLOG = 1024
DEFAULT_ANNOUNCE_LIMIT = 200
DEFAULT_MAX_ROOMS = 20
DEFAULT_DB = "chatsvc.sqlite"

EXPIRY_INTERVAL = 60.0
"""Seconds between two sweeps of the bans and mutes that ran out (they hold no longer anyway)."""
DEFAULT_FILES_DIR = "files"

if TYPE_CHECKING:
    from chatsvc.frontends.web.connection import WebChat

_log = Logger()


_BARE_IPV6_INTERFACE = re.compile(r"(?<=:interface=)([^\\=]*?:[^\\=]*?)(?=:\w+=|$)")


def endpoint_description(port: str) -> str:
    """
    The server endpoint string for C{--port} or C{--listen}: a bare port
    number means TCP on every IPv4 interface. An IPv6 C{interface=} may be
    written as it is (C{tcp:8080:interface=::}); endpoint strings need its
    colons escaped, so they are escaped here.
    """
    if port.isdigit():
        return f"tcp:{port}"
    return _BARE_IPV6_INTERFACE.sub(lambda m: m.group(1).replace(":", "\\:"), port)


_BACKLOG_TYPES = frozenset({"tcp", "tcp6", "ssl", "unix"})
"""The endpoint types whose listening ports take a C{backlog=}."""

_HAS_BACKLOG = re.compile(r"(?<!\\):backlog=")


def with_backlog(description: str, backlog: int) -> str:
    """
    The endpoint string C{description} listening with C{backlog} connections
    waiting to be accepted, unless it says its own C{backlog=} or is of a
    type that has none. Twisted's default of 50 overflows when thousands of
    clients connect at once, and each connection dropped then waits 1, 3, 7
    seconds for the kernel to try again.
    """
    kind = re.split(r"(?<!\\):", description, maxsplit=1)[0].lower()
    if kind not in _BACKLOG_TYPES or _HAS_BACKLOG.search(description):
        return description
    return f"{description}:backlog={backlog}"


_UNUSABLE_AUTH = {
    "unix": "it checks the system's own accounts, and cannot tell which nicknames are registered",
}
"""C{twisted.cred} checkers that C{--auth} refuses, and why."""


def _limit(name: str, doc: str, kind: type[int] | type[float]) -> list[object]:
    """An option for the L{Limits} field C{name}, with its default."""
    default = cast(float, attrs.fields_dict(Limits)[name.replace("-", "_")].default)
    return [name, None, kind(default), doc, _number(kind)]


def _number(kind: type[int] | type[float]) -> Callable[[str], float]:
    def coerce(value: str) -> float:
        try:
            number = kind(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
        if number < 0:
            raise ValueError(f"{value!r} is negative")
        return number

    coerce.coerceDoc = ""  # type: ignore[attr-defined]
    return coerce


def _at_least(kind: type[int] | type[float], minimum: float) -> Callable[[str], float]:
    number = _number(kind)

    def coerce(value: str) -> float:
        given = number(value)
        if given < minimum:
            raise ValueError(f"{value!r} is less than {minimum}")
        return given

    coerce.coerceDoc = ""  # type: ignore[attr-defined]
    return coerce


def _registration(value: str) -> str:
    if value not in ("open", "closed"):
        raise ValueError(f"--registration is open or closed, not {value!r}")
    return value


def _irc_name(value: str) -> str:
    """An IRC server name: what stands in replies' sources and users' hosts."""
    if (
        not value
        or len(value) > 63
        or not all(c.isascii() and (c.isalnum() or c in ".-") for c in value)
        or value[0] in ".-"
    ):
        raise ValueError(f"{value!r} is not a server name (1-63 letters, digits, '.' and '-')")
    return value


_irc_name.coerceDoc = ""  # type: ignore[attr-defined]

IRC_DESCRIPTION_MAX = 100
"""The longest server description, in characters: it stands at the end of a reply's line."""


def _irc_description(value: str) -> str:
    """What the server says of itself in C{WHOIS} and C{LINKS}: one line of printable text."""
    text = value.strip()
    if not text or len(text) > IRC_DESCRIPTION_MAX or not text.isprintable():
        raise ValueError(
            f"{value[: IRC_DESCRIPTION_MAX + 10]!r} is not a server description "
            f"(1-{IRC_DESCRIPTION_MAX} printable characters)"
        )
    return text


_irc_description.coerceDoc = ""  # type: ignore[attr-defined]


def _log_format(value: str) -> str:
    if value not in LOG_FORMATS:
        raise ValueError(f"{value!r} is not a log format: use {' or '.join(LOG_FORMATS)}")
    return value


_log_format.coerceDoc = ""  # type: ignore[attr-defined]


REPEATABLE = ("listen", "irc", "web", "web-origin", "auth", "op")
"""The options that may be given more than once: a list in a C{--config} file."""


class Options(AuthOptionMixin, usage.Options):
    synopsis = "[options]"
    longdesc = (
        "A multi-room chat server speaking a line protocol that works from nc or "
        "telnet. Listens on tcp:8080 unless --port or --listen says otherwise; "
        "ssl:PORT:privateKey=KEY:certKey=CERT listens with TLS. With --auth, "
        "registered nicknames are protected by passwords (--auth chatsvc:FILE "
        "for a file made by chatsvc-passwd). Room history is kept in SQLite (--db)."
    )
    supportedInterfaces = (IUsernamePassword,)

    optParameters = [
        [
            "config",
            None,
            None,
            'A TOML file of options, by their names here (port = "tcp:8080", '
            'max-clients = 20000, irc = ["tcp:6667"], log-messages = true); the '
            "command line overrides it.",
        ],
        [
            "port",
            "p",
            None,
            "Where to listen: a port number (meaning tcp:PORT) or a server endpoint string "
            "such as tcp:8080:interface=::, unix:/run/chat.sock or, with TLS, "
            "ssl:8443:privateKey=key.pem:certKey=cert.pem. "
            f"[default: {DEFAULT_ENDPOINT}, unless --listen is given]",
        ],
        [
            "backlog",
            None,
            DEFAULT_BACKLOG,
            "Connections the kernel may hold for each TCP, TLS or UNIX listener until they "
            "are accepted, unless its endpoint string says backlog= (at least 1; the kernel "
            "caps it at net.core.somaxconn).",
            _number(int),
        ],
        _limit(
            "max-line",
            "Longest line in bytes, either way, not counting its line ending (at least 256); "
            "a longer one is discarded with an error. IRC clients' input has IRC's limits instead.",
            int,
        ),
        _limit("max-clients", "Most connections open at once (0: unlimited).", int),
        _limit(
            "max-per-ip", "Most connections open at once from one IP address (0: unlimited).", int
        ),
        _limit(
            "login-timeout",
            "Seconds a new connection has to sign on: choose a nickname, and give its "
            "password if it is registered (0: forever).",
            float,
        ),
        _limit(
            "rate",
            "Lines per second a client may send on average; faster ones are slowed (0: unlimited).",
            float,
        ),
        _limit("burst", "Lines a client may send at once before --rate applies (at least 1).", int),
        _limit(
            "max-send-buffer",
            "Bytes queued for a client that is not reading before it is dropped (0: unlimited).",
            int,
        ),
        _limit(
            "send-timeout",
            "Seconds a client's output may go undelivered before it is dropped (0: forever).",
            float,
        ),
        _limit(
            "ipv6-prefix",
            "IPv6 clients count towards --max-per-ip by network: the first N bits (1-128).",
            int,
        ),
        [
            "max-rooms-per-user",
            None,
            DEFAULT_MAX_ROOMS,
            "Rooms one user may be in at once, on wires that show several (at least 1).",
            _at_least(int, 1),
        ],
        [
            "announce-limit",
            None,
            DEFAULT_ANNOUNCE_LIMIT,
            "Rooms with more members than this are not told of joins, leaves and nickname "
            "changes (0: every room is).",
            _number(int),
        ],
        [
            "history",
            None,
            HISTORY_LINES,
            "Lines of a room's history shown to whoever joins it "
            f"(0: none; at most {HISTORY_MAX}).",
            _number(int),
        ],
        [
            "db",
            None,
            DEFAULT_DB,
            "Where room history, accounts made with /register, registered rooms, bans and "
            "mutes are kept: an SQLite database, relative to twistd's directory (--rundir; "
            ":memory: keeps nothing across restarts), or a PostgreSQL database "
            "(postgresql://USER:PASSWORD@HOST:PORT/NAME).",
        ],
        [
            "registration",
            None,
            "open",
            "Whether users may register their nicknames as accounts with /register: "
            "open or closed.",
            _registration,
        ],
        [
            "min-password-length",
            None,
            MIN_PASSWORD,
            "The shortest password /register and /password take, in characters (at least 1).",
            _at_least(int, 1),
        ],
        [
            "registrations-per-address",
            None,
            REGISTRATIONS_PER_ADDRESS,
            "Accounts one IP address may register in an hour (0: no limit).",
            _number(int),
        ],
        [
            "retention-days",
            None,
            30,
            "Days room history, and files shared from the web, are kept (0: forever).",
            _number(int),
        ],
        [
            "max-lookups",
            None,
            MAX_LOOKUPS,
            "History searches in flight at once across the server; one more is refused at "
            "once (at least 1).",
            _at_least(int, 1),
        ],
        [
            "max-replays",
            None,
            MAX_REPLAYS,
            "History replays (on entering a room, and /history) in flight at once across the "
            "server; one more is refused at once (at least 1).",
            _at_least(int, 1),
        ],
        [
            "query-timeout",
            None,
            QUERY_TIMEOUT,
            "Seconds a history lookup may take, waiting its turn included, before it is "
            f"ended with an error (at least {MIN_QUERY_TIMEOUT}).",
            _at_least(float, MIN_QUERY_TIMEOUT),
        ],
        [
            "max-unsaved",
            None,
            MAX_UNSAVED_BYTES,
            "Bytes of room lines kept in memory while the history database does not take "
            "them (a full disk); past that, new lines are not kept "
            f"(at least {MIN_UNSAVED_BYTES}).",
            _at_least(int, MIN_UNSAVED_BYTES),
        ],
        [
            "max-upload",
            None,
            MAX_UPLOAD,
            "Largest file, in bytes, a web user may share (with --web; at least 1).",
            _at_least(int, 1),
        ],
        [
            "upload-rate",
            None,
            UPLOAD_RATE,
            "Files a web user may share a minute (with --web; at least 1).",
            _at_least(int, 1),
        ],
        [
            "files-dir",
            None,
            DEFAULT_FILES_DIR,
            "Where files shared from the web are kept, by content hash, relative to twistd's "
            "directory (--rundir); each is kept --retention-days after its last upload.",
        ],
        [
            "cluster",
            None,
            None,
            "redis://HOST[:PORT][/DB]: be one node of the chat that every server started with "
            "this Redis is (needs --db postgresql://...).",
        ],
        [
            "node-name",
            None,
            None,
            "This node's name in the cluster, unique among its nodes "
            "[default: the host name and process id].",
        ],
        [
            "cluster-lease",
            None,
            LEASE,
            "Seconds a node's nickname claims outlive it, should it die (at least 1).",
            _at_least(float, 1),
        ],
        [
            "motd",
            None,
            None,
            "A text file whose lines IRC clients are shown as the message of the day "
            "(default: none, and IRC clients are told so).",
        ],
        [
            "metrics",
            None,
            None,
            "Serve Prometheus metrics at /metrics and readiness at /healthz on this endpoint "
            "(a port number or an endpoint string, such as tcp:9100:interface=127.0.0.1; "
            "default: none).",
        ],
        [
            "log-format",
            None,
            "text",
            "How twistd's log is written: text (its usual lines) or json (one JSON object an "
            "event, with the event's fields, for log shippers).",
            _log_format,
        ],
        [
            "irc-name",
            None,
            IRC_SERVER_NAME,
            "The server name IRC clients are shown: the source of its replies and every "
            "user's host (letters, digits, '.' and '-').",
            _irc_name,
        ],
        [
            "irc-description",
            None,
            None,
            "What the server says of itself to IRC clients, in WHOIS and LINKS, at most "
            f"{IRC_DESCRIPTION_MAX} printable characters (default: the network's name).",
            _irc_description,
        ],
    ]
    optFlags = [
        [
            "log-messages",
            None,
            "Also log every relayed chat line (default: no message text is logged).",
        ],
        [
            "auth-required",
            None,
            "Only registered users may sign on; without it, other nicknames are guests. "
            "Needs --auth.",
        ],
        [
            "no-history",
            None,
            "Keep no room history at all: nothing is stored or shown, and /history and "
            "/search are refused.",
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self.config_file: str | None = None
        self.operators_configured = False
        """Whether the operators are the C{--config} file's (C{SIGHUP} reads them again)."""
        self["listen"] = []
        self["irc"] = []
        self["web"] = []
        self["web-origin"] = []
        self["op"] = []
        self["accounts"] = None

    def opt_listen(self, description: str) -> None:
        """Listen on this endpoint too; repeatable. Without --port, not on tcp:8080."""
        self["listen"].append(description)

    def opt_irc(self, description: str) -> None:
        """
        Serve IRC on this endpoint (a port number or an endpoint string, such as
        tcp:6667 or ssl:6697:privateKey=key.pem:certKey=cert.pem); repeatable.
        """
        self["irc"].append(endpoint_description(description))

    def opt_web(self, description: str) -> None:
        """
        Serve the web client, its WebSocket and shared files on this endpoint (a port
        number or an endpoint string; with TLS: ssl:8443:privateKey=key.pem:certKey=cert.pem);
        repeatable.
        """
        self["web"].append(endpoint_description(description))

    def opt_web_origin(self, origin: str) -> None:
        """
        A web page origin (https://chat.example.org) allowed to open the WebSocket besides
        the site's own; repeatable.
        """
        if not _ORIGIN.fullmatch(origin.lower()):
            raise usage.UsageError(
                f"--web-origin {origin!r} is not an origin: scheme://host or scheme://host:port"
            )
        self["web-origin"].append(origin.lower())

    def opt_auth(self, description: str) -> None:
        """Where accounts are: chatsvc:FILE, file:FILE, memory:NAME:PW:...; repeatable."""
        # Repeatable: the first checker that knows a nickname checks its password.
        kind = description.partition(":")[0]
        if kind in _UNUSABLE_AUTH:
            raise usage.UsageError(f"--auth {kind} cannot be used: {_UNUSABLE_AUTH[kind]}")
        try:
            super().opt_auth(description)
        except usage.UsageError as e:
            # Not the description itself: it may hold passwords (memory:).
            reason = str(e).removeprefix("Unexpected error: ")
            raise usage.UsageError(f"--auth {kind}: {reason}") from None
        if IAccountNames(with_bytes(self["credCheckers"][-1]), None) is None:
            raise usage.UsageError(
                f"--auth {kind}: cannot tell which nicknames are registered; "
                "use chatsvc:, file: or memory:"
            )

    def opt_help_auth(self) -> NoReturn:
        """Show the --auth types, and those that cannot be used and why, and exit."""
        factories = [
            factory
            for factory in findCheckerFactories()
            if any(self.supportsInterface(i) for i in factory.credentialInterfaces)
        ]
        usable = [f for f in factories if f.authType not in _UNUSABLE_AUTH]
        unusable = [f for f in factories if f.authType in _UNUSABLE_AUTH]
        width = max(len("AuthType"), *(len(f.authType) for f in factories))
        out = self.authOutput
        out.write("Usage: --auth AuthType[:ArgString]\n")
        out.write("For detailed help: --help-auth-type AuthType\n\n")
        out.write(f"  {'AuthType':<{width}}  ArgString format\n")
        for factory in usable:
            out.write(f"  {factory.authType:<{width}}  {factory.argStringFormat}\n")
        if unusable:
            out.write("\nCannot be used here:\n")
            for factory in unusable:
                out.write(f"  {factory.authType:<{width}}  {_UNUSABLE_AUTH[factory.authType]}\n")
        raise SystemExit(0)

    def opt_help_auth_type(self, authType: str) -> NoReturn:
        """Show help for one --auth type, and exit."""
        if authType in _UNUSABLE_AUTH:
            self.authOutput.write(
                f"--auth {authType} cannot be used: {_UNUSABLE_AUTH[authType]}\n\n"
            )
        super().opt_help_auth_type(authType)
        raise SystemExit(0)

    def opt_op(self, name: str) -> None:
        """An account (of --auth, or made with /register) that is a server operator; repeatable."""
        if not is_valid_name(name):
            raise usage.UsageError(
                f"--op {name!r} is not a valid nickname: use 1-{NAME_MAX} {NAME_CHARS}"
            )
        self["op"].append(name)

    def opt_version(self) -> None:
        """Show the chatsvc version and exit."""
        print(f"chatsvc {__version__}")
        raise SystemExit(0)

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """
        Parse C{options}. Under twistd (whose options are the C{parent}), a
        start that they cannot make ends with one line and exit status 1:
        twistd would print the whole C{--help} above a usage error, which
        buries the one line that says what is wrong.
        """
        try:
            super().parseOptions(self._with_config(options))
        except (usage.UsageError, StartupError) as e:
            if getattr(self, "parent", None) is None:
                raise
            raise SystemExit(f"twistd chat: {e}") from None

    def _with_config(self, options: Sequence[str] | None) -> list[str]:
        """
        C{options} (the command line's, if L{None}) after the options of the
        C{--config} file they name, if any, less those the command line gives
        itself; the file's checked on their own, so that an error names it.
        """
        argv = sys.argv[1:] if options is None else list(options)
        path = config.config_path(argv)
        if path is None:
            return argv
        parameters: list[Any] = self.optParameters
        flags: list[Any] = self.optFlags
        from_file = config.arguments(
            path,
            config.read(path),
            parameters=[p[0] for p in parameters],
            flags=[f[0] for f in flags],
            repeatable=REPEATABLE,
        )
        on_command_line = {
            self.synonyms.get(name, name)
            for name in config.given(argv, self.shortOpt, self.longOpt)
        }
        self.config_file, self.operators_configured = path, "op" not in on_command_line
        tokens = [t for key, ts in from_file if key not in on_command_line for t in ts]
        check = Options()
        check.postOptions = lambda: None  # type: ignore[method-assign]
        try:
            usage.Options.parseOptions(check, tokens)
        except usage.UsageError as e:
            raise usage.UsageError(f"--config {path}: {e}") from None
        return tokens + argv

    def postOptions(self) -> None:
        from twisted.internet import reactor

        descriptions = [endpoint_description(d) for d in self["listen"]]
        if self["port"] is not None:
            descriptions.insert(0, endpoint_description(self["port"]))
        self["endpoints"] = descriptions or [DEFAULT_ENDPOINT]
        try:
            self["limits"] = Limits(
                **{f.name: self[f.name.replace("_", "-")] for f in attrs.fields(Limits)}
            )
        except ValueError as e:
            raise usage.UsageError(f"--{e}") from None
        checkers = self.get("credCheckers", [])
        if checkers:
            self["accounts"] = Accounts(checkers)
        elif self["auth-required"]:
            raise usage.UsageError("--auth-required needs --auth")
        if self["history"] > HISTORY_MAX:
            raise usage.UsageError(f"--history must be at most {HISTORY_MAX}")
        if self["backlog"] < 1:
            raise usage.UsageError("--backlog must be at least 1")
        self._check_cluster()
        self["motd-lines"] = None
        if self["motd"] is not None:
            try:
                self["motd-lines"] = read_motd(self["motd"])
            except OSError as e:
                raise usage.UsageError(f"--motd {self['motd']}: {e.strerror}") from None
        if self["metrics"] is not None:
            self["metrics"] = endpoint_description(self["metrics"])
        monitor = [] if self["metrics"] is None else [self["metrics"]]
        for description in [*self["endpoints"], *self["irc"], *self["web"], *monitor]:
            try:
                serverFromString(reactor, with_backlog(description, self["backlog"]))
            except (ValueError, KeyError, IndexError, TypeError) as e:
                if description.startswith("systemd:") and isinstance(e, KeyError | IndexError):
                    raise usage.UsageError(
                        f"invalid endpoint {description!r}: systemd passed no such socket "
                        "(LISTEN_FDS, LISTEN_FDNAMES); start it through its socket unit"
                    ) from None
                reason = _NOT_A_NUMBER.sub(r"\1 is not a number", str(e))
                raise usage.UsageError(f"invalid endpoint {description!r}: {reason}") from None
            except (OSError, crypto.Error, VerifyError) as e:
                # A TLS endpoint loads its key and certificate when parsed.
                reason = key_or_certificate_error(e)
                start_failed(f"cannot listen on {description}: {reason}")

    def _check_cluster(self) -> None:
        from chatsvc.cluster.redis import BadClusterURL, RedisAddress, valid_node_name
        from chatsvc.history.postgresql import is_postgresql

        self["cluster-address"] = None
        if self["cluster"] is None:
            if self["node-name"] is not None:
                raise usage.UsageError("--node-name needs --cluster")
            return
        try:
            self["cluster-address"] = RedisAddress.parse(self["cluster"])
        except BadClusterURL as e:
            raise usage.UsageError(f"--cluster {e}") from None
        if not self["no-history"] and not is_postgresql(self["db"]):
            raise usage.UsageError(
                "--cluster needs --db postgresql://...: with SQLite each node would keep a "
                "history of its own"
            )
        if self["node-name"] is None:
            self["node-name"] = default_node_name()
        elif not valid_node_name(self["node-name"]):
            raise usage.UsageError(
                f"--node-name {self['node-name']!r} is not a valid name: "
                f"use 1-{NAME_MAX} {NAME_CHARS}"
            )


def default_node_name() -> str:
    """This host's name and this process's id, as a node name."""
    host = re.sub(r"[^A-Za-z0-9_\-]", "-", socket.gethostname().split(".")[0]) or "node"
    pid = str(os.getpid())
    return f"{host[: NAME_MAX - len(pid) - 1]}-{pid}"


def read_motd(path: str) -> list[str]:
    """The lines of the MOTD file at C{path}, as IRC clients are shown them; L{OSError} if none."""
    with open(path, encoding="utf-8", errors="replace") as motd:
        return [irc_sanitise(text.rstrip("\r\n")) for text in motd]


def config_operators(path: str) -> list[str]:
    """The operators the C{--config} file at C{path} names now (its C{op}), checked."""
    names = config.read(path).get("op", [])
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise usage.UsageError(f"--config {path}: op must be a string or a list of strings")
    for name in names:
        if not is_valid_name(name):
            raise usage.UsageError(f"--config {path}: op {name!r} is not a valid nickname")
    return names


_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(:\d{1,5})?")

_NOT_A_NUMBER = re.compile(r"invalid literal for int\(\) with base 10: ('.*')")


def _bind_error(text: str) -> str:
    """C{bind(): port must be 0-65535.} as C{port must be 0-65535}."""
    return text.removeprefix("bind(): ").rstrip(".")


@implementer(IStreamServerEndpoint)
class _PortRecorder:
    """
    An endpoint that remembers the port it is listening on, and makes the TCP
    connections it accepts send eagerly (L{chatsvc.streams.eagertcp}).
    """

    def __init__(self, endpoint: IStreamServerEndpoint) -> None:
        self._endpoint = endpoint
        self.port: IListeningPort | None = None
        self.announce: Callable[[IListeningPort], None] | None = None
        """What to log once listening, if anything."""

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        return self._endpoint.listen(protocolFactory).addCallback(self._listening)

    def _listening(self, port: IListeningPort) -> IListeningPort:
        self.port = eager(port)
        if self.announce is not None:
            self.announce(port)
        return port


class _Listener(StreamServerEndpointService):
    """Listening on one endpoint, given by its description."""

    # Fail the start of the service when the endpoint cannot listen, rather
    # than log it and run deaf; strports.service() sets the same.
    _raiseSynchronously = True

    def __init__(
        self, description: str, factory: IProtocolFactory, reactor: IReactorTime, backlog: int
    ) -> None:
        self.description = description
        endpoint = serverFromString(reactor, with_backlog(description, backlog))
        self.tls = reloadable(endpoint)
        """Its key and certificate, which C{SIGHUP} reloads, if it is TLS."""
        self.recorder = _PortRecorder(endpoint)
        super().__init__(self.recorder, factory)


class ChatService(MultiService):
    """
    The chat server listening on its endpoints, and its room history.

    Starting it opens the history before it listens, so that a database that
    cannot be used stops the start before any port is bound. Started as root,
    it opens the history once twistd has shed its privileges instead
    (C{startService}), since twistd may be about to become another user
    (C{--uid}), to whom a new database must belong: the ports are bound by
    then, but the reactor has not run, so they have served no one, and what
    they logged is held until the start succeeds (L{chatsvc.service.startup.StartLog}). Stopping
    it stops listening, says goodbye to every connection and waits for them
    to close, then writes what the history still holds and closes it.
    """

    def __init__(self, factory: ChatFactory, operators: Sequence[str] = ()) -> None:
        super().__init__()
        self.factory = factory
        self.cluster: IService | None = None
        """The link to the other nodes, with --cluster: started last, stopped after the goodbyes."""
        self.operators = operators
        """The accounts of C{--op}, checked once the accounts are read."""
        self._history_open = False
        self._expiry: task.LoopingCall | None = None
        self._stopping = False
        self.reloader: Reloader | None = None
        """What C{SIGHUP} reads again."""
        self.monitor: IService | None = None
        """The C{--metrics} listener, if any: the last to stop, so it can say the service is."""

    @property
    def state(self) -> str:
        """
        C{ready} once every listener is listening and the history is open;
        C{starting} before, C{stopping} from the moment the service begins to stop.
        """
        if self._stopping:
            return "stopping"
        listeners = [child for child in self if isinstance(child, _Listener)]
        if (
            self.running
            and self._history_open
            and all(listener.recorder.port is not None for listener in listeners)
        ):
            return "ready"
        return "starting"

    def listen(
        self,
        description: str,
        reactor: IReactorTime,
        backlog: int = DEFAULT_BACKLOG,
        frontend: str | type[StreamConnection] = "line",
    ) -> None:
        """
        Serve the chat on the server endpoint C{description} too (see
        L{with_backlog}), on the wire of C{frontend} (one of L{FRONTENDS}, or
        a connection class of one, configured).
        """
        kind = FRONTENDS[frontend] if isinstance(frontend, str) else frontend
        factory = self.factory.for_frontend(kind)
        _Listener(description, factory, reactor, backlog).setServiceParent(self)

    @property
    def ports(self) -> list[IListeningPort]:
        """The ports listening now, in the order of the endpoints."""
        return [
            listener.recorder.port
            for listener in self
            if isinstance(listener, _Listener)
            and listener is not self.monitor
            and listener.recorder.port is not None
        ]

    @property
    def monitor_port(self) -> IListeningPort | None:
        """The port of C{--metrics}, once listening."""
        return self.monitor.recorder.port if isinstance(self.monitor, _Listener) else None

    def privilegedStartService(self) -> None:
        start_log.hold()
        with start_log.released_on_a_bug():
            if os.geteuid() != 0:
                self._open_history()
            Service.privilegedStartService(self)
            for listener in self:
                try:
                    listener.privilegedStartService()
                except (CannotListenError, OSError, OverflowError) as e:
                    cause = e.socketError if isinstance(e, CannotListenError) else e
                    reason = getattr(cause, "strerror", None) or _bind_error(str(cause))
                    description = getattr(listener, "description", "?")
                    start_failed(f"cannot listen on {description}: {reason}")

    def startService(self) -> None:
        self._stopping = False
        with start_log.released_on_a_bug():
            if not self._history_open:
                self._open_history()
            super().startService()
            if self.cluster is not None:
                self.cluster.startService()
            if eagertcp.send_each_in_c is None:
                _log.warn(
                    "The fan-out's sends are made in Python: chatsvc was installed without "
                    "its C extension (_chatsvc_sendeach; no C compiler?). The chat is the "
                    "same, at more CPU a delivery"
                )
        start_log.release()
        terminal.close()

    def _open_history(self) -> None:
        try:
            self.factory.history.open()
            snapshot = self.factory.registry.open()
        except (HistoryUnavailable, RegistryUnavailable) as e:
            start_failed(str(e))
        self._history_open = True
        factory = self.factory
        registrar = factory.registrar
        if registrar is not None:
            for name, hashed in snapshot.accounts:
                try:
                    registrar.accounts.add(name, hashed)
                except ValueError as e:
                    _log.warn("The account {name} is damaged ({why}); ignored", name=name, why=e)
        restore(factory.chat, snapshot)
        _log.info(
            "{accounts} registered accounts, {rooms} registered rooms, {sanctions} bans and "
            "mutes, {operators} operators made at run time",
            accounts=len(snapshot.accounts),
            rooms=len(snapshot.rooms),
            sanctions=len(snapshot.sanctions),
            operators=len(snapshot.operators),
        )
        self._expiry = task.LoopingCall(self._expire)
        self._expiry.clock = factory.clock
        self._expiry.start(EXPIRY_INTERVAL, now=False)

    def _expire(self) -> None:
        """
        Forget the bans and mutes that ran out (their rooms are told, and
        whom a mute held), and say so in the log.
        """
        for sanction in self.factory.chat.expire(self.factory.clock.seconds()):
            self.factory.registry.delete_sanction(sanction.kind, sanction.mask, sanction.room)
            _log.info(
                "The {kind} of {mask} in {where} set by {by} ran out",
                kind=sanction.kind.value,
                mask=str(sanction.mask),
                where=sanction.where,
                by=sanction.by,
            )

    def let_go(self) -> None:
        """
        After a start that failed: stop listening where it started to, and
        nothing else (no goodbyes, no history to close; what never started,
        such as the /stats sampler, is left alone).
        """
        Service.stopService(self)
        for child in reversed(list(self)):
            listening = isinstance(child, _Listener) and child.recorder.port is not None
            if child.running or listening:
                child.stopService()

    def stopService(self) -> Deferred[None]:
        self._stopping = True
        Service.stopService(self)
        d: Deferred[Any] = DeferredList(
            [
                maybeDeferred(child.stopService)
                for child in reversed(list(self))
                # Not what never started (a start that failed): a TimerService,
                # for one, fails to stop then.
                if child is not self.monitor and child.running
            ]
        )
        d.addCallback(lambda _: self.factory.shut_down())
        cluster, monitor = self.cluster, self.monitor
        if cluster is not None and cluster.running:
            d.addCallback(lambda _: cluster.stopService())
        d.addCallback(lambda _: self.factory.history.close())
        d.addCallback(lambda _: self.factory.registry.close())
        if self._expiry is not None and self._expiry.running:
            self._expiry.stop()
        if monitor is not None and monitor.running:
            d.addCallback(lambda _: monitor.stopService())
        return d.addCallback(lambda _: None)


def _history(options: Options, reactor: IReactorTime) -> IHistory:
    if options["no-history"]:
        return NoHistory()
    from chatsvc.history.batches import DAY
    from chatsvc.history.cache import RecentCache
    from chatsvc.history.postgresql import PostgreSQLHistory, is_postgresql
    from chatsvc.history.sqlite import SQLiteHistory

    bounds = {
        "retention_days": options["retention-days"],
        "max_lookups": options["max-lookups"],
        "max_replays": options["max-replays"],
        "query_timeout": options["query-timeout"],
        "max_unsaved_bytes": options["max-unsaved"],
    }
    store: IHistory
    if is_postgresql(options["db"]):
        store = PostgreSQLHistory(options["db"], clock=reactor, **bounds)
    else:
        store = SQLiteHistory(
            options["db"], reactor=cast(IReactorFromThreads, reactor), clock=reactor, **bounds
        )
    # Replays and short /history answers come from memory: a crowd signing
    # on after a restart costs the database one query per room, not per user.
    return RecentCache(
        store,
        max(options["history"], HISTORY_LINES),
        clock=reactor,
        max_age=options["retention-days"] * DAY,
    )


def _registry(options: Options, reactor: IReactorTime) -> IRegistry:
    """Where accounts made with /register, registered rooms, bans and mutes are kept (--db)."""
    from chatsvc.history.postgresql import is_postgresql

    if is_postgresql(options["db"]):
        from chatsvc.registry.postgresql import PostgreSQLRegistry

        store = PostgreSQLRegistry(options["db"])
        if options.get("cluster-address") is None:
            return store
        from chatsvc.cluster.registry import ClusterRegistry

        return ClusterRegistry(store)  # every change told to the other nodes (_cluster)
    return SQLiteRegistry(options["db"], cast(IReactorFromThreads, reactor))


def makeService(options: Options, reactor: IReactorTime | None = None) -> IService:
    """The chat service for C{options}; C{reactor} is for tests to pass a fake one."""
    if reactor is None:
        from twisted.internet import reactor as global_reactor

        reactor = cast(IReactorTime, global_reactor)
        terminal.keep()
        start_log.log_format = options["log-format"]
        start_log.install()
    # Accounts made with /register come last: a name an --auth checker knows is its.
    registered = RegisteredAccounts()
    accounts = Accounts([*options.get("credCheckers", []), registered])
    rules = {
        "announce_limit": options["announce-limit"],
        "max_rooms": options["max-rooms-per-user"],
        "accounts": accounts,
        "guests": not options["auth-required"],  # which needs --auth (postOptions)
        "clock": reactor.seconds,
    }
    chat: Chat
    if options.get("cluster-address") is not None:
        from chatsvc.cluster.chat import ClusterChat

        chat = ClusterChat(options["node-name"], **rules)
    else:
        chat = Chat(**rules)
    realm = ChatRealm(options["op"])
    portal = Portal(realm, [accounts])
    for name in options["op"]:
        if accounts.account_for(name) is None:  # it may yet register, or be in the registry
            _log.warn("--op {name}: there is no such account (yet)", name=name)
    registry = _registry(options, reactor)
    registrar = Registrar(
        registered,
        registry,
        reactor,
        open=options["registration"] == "open",
        min_password=options["min-password-length"],
        per_address=options["registrations-per-address"],
    )
    factory = ChatFactory(
        chat,
        limits=options["limits"],
        log_messages=options["log-messages"],
        clock=reactor,
        portal=portal,
        history=_history(options, reactor),
        replay=0 if options["no-history"] else options["history"],
        registry=registry,
        registrar=registrar,
    )
    service = ChatService(factory, options["op"])
    if options.get("cluster-address") is not None:
        service.cluster = _cluster(service, options, reactor)
    # What /stats says of the lines relayed a second is worked out from these samples.
    sampling = TimerService(SAMPLE_EVERY, lambda: factory.traffic.sample(reactor.seconds()))
    sampling.clock = reactor
    sampling.setServiceParent(service)
    for description in options["endpoints"]:
        service.listen(description, reactor, options["backlog"])
    irc_server = IrcServer(
        name=options["irc-name"],
        motd=options["motd-lines"],
        description=options["irc-description"],
    )
    if options["irc"]:
        irc = irc_frontend(irc_server)
        for description in options["irc"]:
            service.listen(description, reactor, options["backlog"], irc)
    web = _serve_web(service, options, reactor) if options["web"] else None
    _reload_on_hang_up(service, options, reactor, accounts, realm, irc_server)
    if options["metrics"] is not None:
        _serve_metrics(service, options, reactor, web)
    return service


def _cluster(service: ChatService, options: Options, reactor: IReactorTime) -> IService:
    """The link of this node's chat to the other nodes (--cluster)."""
    from chatsvc.cluster.chat import ClusterChat
    from chatsvc.cluster.redis import RedisLink
    from chatsvc.cluster.registry import ClusterRegistry

    factory = service.factory
    chat = factory.chat
    assert isinstance(chat, ClusterChat)

    def tell_everyone(text: str) -> None:
        for participant in chat.local():
            session = getattr(participant.client, "session", None)
            if session is not None:
                session.tell(text)

    def lost(participant: Participant) -> None:
        session = getattr(participant.client, "session", None)
        if session is not None:
            session.lose_nickname()

    def released(participant: Participant) -> None:
        session = getattr(participant.client, "session", None)
        if session is not None:
            session.release_nickname()

    chat.lost_nickname = lost
    chat.released = released
    if factory.registrar is not None:
        chat.registered_accounts = factory.registrar.accounts
    link = RedisLink(
        chat,
        options["cluster-address"],
        reactor=cast(IReactorTCP, reactor),
        clock=reactor,
        history=factory.history,
        notify=tell_everyone,
        lease=options["cluster-lease"],
    )
    if isinstance(factory.registry, ClusterRegistry):
        factory.registry.link = link
    return link


def _reload_on_hang_up(  # noqa: PLR0917
    service: ChatService,
    options: Options,
    reactor: IReactorTime,
    accounts: Accounts,
    realm: ChatRealm,
    irc: IrcServer,
) -> None:
    """What C{SIGHUP} reads again (L{chatsvc.service.reload}), from what C{options} named."""
    path, motd = options.config_file, options["motd"]

    def set_motd(lines: list[str] | None) -> None:
        irc.motd = lines

    reloader = Reloader(
        reactor,
        chat=service.factory.chat,
        accounts=accounts,
        realm=realm,
        operators_of=(
            (lambda: config_operators(path))
            if path is not None and options.operators_configured
            else None
        ),
        motd_of=None if motd is None else (lambda: read_motd(motd)),
        set_motd=set_motd,
    )
    for listener in service:
        if isinstance(listener, _Listener) and listener.tls is not None:
            reloader.add_tls(listener.description, listener.tls)
    service.reloader = reloader
    ReloadOnHangUp(reloader, cast(IReactorFromThreads, reactor)).setServiceParent(service)


def _serve_metrics(
    service: ChatService, options: Options, reactor: IReactorTime, web: WebChat | None
) -> None:
    """C{/metrics} and C{/healthz} on the C{--metrics} endpoint, listening before the chat does."""
    from chatsvc.history.cache import RecentCache
    from chatsvc.history.sqlite import SQLiteHistory
    from chatsvc.service.metrics import ChatCollector, ChatMetrics, monitoring_site

    history = service.factory.history
    store = history.store if isinstance(history, RecentCache) else history
    sqlite = store if isinstance(store, SQLiteHistory) else None
    from chatsvc.cluster.redis import RedisLink

    cluster = service.cluster if isinstance(service.cluster, RedisLink) else None
    metrics = ChatMetrics(ChatCollector(service.factory, web, sqlite, service, cluster))
    listener = _Listener(
        options["metrics"], monitoring_site(metrics, service), reactor, options["backlog"]
    )
    listener.recorder.announce = lambda port: _log.info(
        "Metrics at /metrics and readiness at /healthz on {description}",
        description=options["metrics"],
    )
    # First, so that /healthz answers "starting" while the rest begins to listen.
    service.services.insert(0, listener)
    listener.parent = service
    service.monitor = listener


def _serve_web(service: ChatService, options: Options, reactor: IReactorTime) -> WebChat:
    """The web frontend on each C{--web} endpoint, its file store, its goodbyes."""
    from chatsvc.frontends.web.connection import WebChat
    from chatsvc.frontends.web.files import FileStore
    from chatsvc.frontends.web.site import WebService, web_site

    store = FileStore(options["files-dir"], options["retention-days"])
    web = WebChat(
        service.factory,
        store,
        origins=options["web-origin"],
        max_upload=options["max-upload"],
        upload_rate=options["upload-rate"],
    )
    WebService(web, reactor).setServiceParent(service)
    site = web_site(web, reactor)
    for description in options["web"]:
        listener = _Listener(description, site, reactor, options["backlog"])
        listener.recorder.announce = _web_url(description)
        listener.setServiceParent(service)
    return web


def _web_url(description: str) -> Callable[[IListeningPort], None]:
    """What the start-up log says once the web frontend listens: the URL to open."""
    secure = description.split(":", 1)[0].lower() in ("ssl", "tls")

    def announce(port: IListeningPort) -> None:
        address = port.getHost()
        host = getattr(address, "host", None)
        if not isinstance(address, IPv4Address | IPv6Address) or host is None:
            _log.info("Web client on {description}", description=description)
            return
        shown = "localhost" if host in ("0.0.0.0", "::") else host
        if ":" in shown:
            shown = f"[{shown}]"
        url = f"{'https' if secure else 'http'}://{shown}:{address.port}/"
        _log.info("Web client at {url} (WebSocket at /ws)", url=url)

    return announce
