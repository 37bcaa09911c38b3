"""
The client without any real I/O: reading server lines, the session over
L{StringTransport} and over iosim against the real server, reconnection with
L{ClientService} on a L{Clock}, and the consoles (the terminal one rendered
by insults' own terminal emulator).
"""

from __future__ import annotations

import fcntl
import io
import os
import signal
import struct
import termios

from OpenSSL import SSL
from twisted.application.internet import ClientService, backoffPolicy
from twisted.conch.insults import helper, insults
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionRefusedError, DNSLookupError
from twisted.internet.interfaces import IProtocol, IProtocolFactory, IStreamClientEndpoint
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from chatsvc.chat.events import Message
from chatsvc.client.cli import Options, describe_connect_error, wants_colour
from chatsvc.client.session import (
    NICK_VARIANTS,
    NOTICE_KINDS,
    PACE,
    PASSWORD_VARIABLE,
    QUIT_TIMEOUT,
    ChatClientFactory,
    ChatClientProtocol,
    IConsole,
    Kind,
    LineConsole,
    ServerLine,
    Session,
    classify,
    is_quit,
    nick_variant,
)
from chatsvc.client.terminal import (
    ChatTerminal,
    RawTerminal,
    paint,
    paint_note,
    stamp,
    takes_title,
)
from chatsvc.frontends.line.server import ChatFactory, ChatServerProtocol
from chatsvc.history import Line
from chatsvc.testing import FakeHistory
from tests.support import make_certificates, scratch_directory, with_accounts

ADDRESS = IPv4Address("TCP", "127.0.0.1", 8080)

GREETING = ["*** Welcome to chatsvc!", "*** Choose a nickname:"]

UP, LEFT = b"\x1b[A", b"\x1b[D"
CTRL_C, CTRL_D, CTRL_U = b"\x03", b"\x04", b"\x15"


def signed_on(nick: str, *others: str) -> list[str]:
    """What the server says to C{nick} on signing on into a lobby with C{others}."""
    members = sorted([nick, *others], key=str.lower)
    count = f"{len(members)} member" + ("s" if len(members) > 1 else "")
    return [
        f"*** Hello {nick}! Type /help for the commands.",
        f"*** You joined lobby ({count}):",
        "*** " + ", ".join(members),
    ]


@implementer(IConsole)
class RecordingConsole:
    """A console that remembers what it was given to show."""

    def __init__(self, can_ask: bool = False) -> None:
        self.lines: list[ServerLine] = []
        self.notes: list[str] = []
        self.can_ask = can_ask
        self.asked: list[str] = []

    @property
    def shown(self) -> list[str]:
        return [line.text for line in self.lines]

    def show(self, line: ServerLine) -> None:
        self.lines.append(line)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def close(self) -> Deferred[None]:
        return succeed(None)

    def ask_password(self, account: str) -> bool:
        if self.can_ask:
            self.asked.append(account)
        return self.can_ask


class Connection:
    """A session's connection to a server played by the test, over a StringTransport."""

    def __init__(self, session: Session) -> None:
        protocol = ChatClientFactory(session).buildProtocol(ADDRESS)
        assert protocol is not None
        self.protocol: ChatClientProtocol = protocol
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def receive(self, *lines: str) -> None:
        self.protocol.dataReceived("".join(f"{line}\n" for line in lines).encode())

    def sign_on(self, nick: str) -> None:
        """Play the server's part in signing on as C{nick}, and forget what was sent."""
        self.receive(*GREETING, *signed_on(nick))
        self.sent()

    def sent(self) -> list[str]:
        """The lines sent since the last call."""
        data: str = self.transport.value().decode()
        self.transport.clear()
        return data.split("\n")[:-1]

    def close(self) -> None:
        self.protocol.connectionLost(Failure(ConnectionDone()))


# Reading server lines


class ClassifyTests(SynchronousTestCase):
    def test_notices(self) -> None:
        """Notices that change the session's state are told apart from the rest."""
        cases = [
            ("*** Choose a nickname:", Kind.PROMPT, None, "Choose a nickname:"),
            ("*** Error: the nickname bob is taken", Kind.ERROR, None, "the nickname bob is taken"),
            (
                "*** Hello bob! Type /help for the commands.",
                Kind.SIGNED_ON,
                "bob",
                "Type /help for the commands.",
            ),
            ("*** You joined attic (1 member):", Kind.JOINED, "attic", "(1 member):"),
            ("*** You joined lobby (12 members):", Kind.JOINED, "lobby", "(12 members):"),
            ("*** You are now known as robert", Kind.RENAMED, "robert", ""),
            ("*** alice joined lobby", Kind.NOTICE, None, "alice joined lobby"),
            ("*** You joined lobby", Kind.NOTICE, None, "You joined lobby"),  # a user called You
            ("*** You is now known as me", Kind.NOTICE, None, "You is now known as me"),
            ("*** Password for alice:", Kind.PASSWORD, "alice", ""),
            ("*** Password for alice: now", Kind.NOTICE, None, "Password for alice: now"),
            ("*** You were kicked by alice", Kind.KICKED, "alice", ""),
            ("*** You were kicked by alice (flooding)", Kind.KICKED, "alice", "(flooding)"),
            (
                "*** You were kicked by alice, sort of",
                Kind.NOTICE,
                None,
                "You were kicked by alice, sort of",
            ),
            ("*** Bye!", Kind.NOTICE, None, "Bye!"),
        ]
        for text, kind, subject, body in cases:
            with self.subTest(text=text):
                self.assertEqual(classify(text, "bob"), ServerLine(text, kind, subject, body))

    def test_messages(self) -> None:
        """Messages, actions and private messages name who they are from or to."""
        cases = [
            ("<alice> hi there", Kind.MESSAGE, "alice", "hi there"),
            ("<alice> <b> * x", Kind.MESSAGE, "alice", "<b> * x"),
            ("* alice waves", Kind.ACTION, "alice", "waves"),
            ("*alice* psst", Kind.PRIVATE, "alice", "psst"),
            ("-> *alice* psst", Kind.SENT_PRIVATE, "alice", "psst"),
        ]
        for text, kind, subject, body in cases:
            with self.subTest(text=text):
                self.assertEqual(classify(text), ServerLine(text, kind, subject, body))

    def test_history(self) -> None:
        """Lines from a room's history name who said them; they are never live lines."""
        cases = [
            ("[2026-11-21 14:03] <alice> hi bob", "alice", "hi bob"),
            ("[2026-11-21 14:03] * alice waves at bob", "alice", "waves at bob"),
            (
                "[2026-11-21 14:03] <alice> *** You joined x (1 member):",
                "alice",
                "*** You joined x (1 member):",
            ),
            (
                "[2026-11-21 14:03] <alice> *** Hello bob! Type /help",
                "alice",
                "*** Hello bob! Type /help",
            ),
            ("[2026-11-21 14:03] odd", None, "odd"),
        ]
        for text, subject, body in cases:
            with self.subTest(text=text):
                self.assertEqual(
                    classify(text, "bob"), ServerLine(text, Kind.HISTORY, subject, body)
                )
        for text in ["[2026-11-21] <alice> hi", "[14:03] <alice> hi", "[x] <alice> hi"]:
            with self.subTest(text=text):
                self.assertEqual(classify(text).kind, Kind.TEXT)

    def test_other_text(self) -> None:
        """A line in no known form is plain text."""
        for text in ["hello", "", "**bold**", "<unclosed"]:
            with self.subTest(text=text):
                self.assertEqual(classify(text), ServerLine(text, Kind.TEXT, None, text))

    def test_mentions(self) -> None:
        """A message or action naming us as a word of its own, in any case, is a mention."""
        cases = [
            ("<alice> hi bob", "bob", True),
            ("<alice> hi BOB!", "bob", True),
            ("<alice> bob: look", "bob", True),
            ("<alice> thanks, bob.", "bob", True),
            ("* alice pokes bob", "bob", True),
            ("<alice> hi {x}", "{x}", True),
            ("<alice> bobby", "bob", False),
            ("<alice> jimbob", "bob", False),
            ("<alice> bob.smith", "bob", False),
            ("<alice> bob_", "bob", False),
            ("<bob> hello", "bob", False),
            ("*alice* hi bob", "bob", False),
            ("*** bob joined lobby", "bob", False),
            ("<alice> hi bob", None, False),
        ]
        for text, nick, mention in cases:
            with self.subTest(text=text, nick=nick):
                self.assertEqual(classify(text, nick).mention, mention)


class NickVariantTests(SynchronousTestCase):
    def test_underscores(self) -> None:
        self.assertEqual(
            [nick_variant("bob", n) for n in range(4)], ["bob", "bob_", "bob__", "bob___"]
        )

    def test_stays_within_name_limit(self) -> None:
        nick = "n" * 32
        self.assertEqual(nick_variant(nick, 1), "n" * 31 + "_")
        self.assertEqual(nick_variant(nick, 3), "n" * 29 + "___")


class IsQuitTests(SynchronousTestCase):
    def test_quit(self) -> None:
        for line in [b"/quit", b"/QUIT", b"/quit gone fishing", b"/quit\r"]:
            with self.subTest(line=line):
                self.assertTrue(is_quit(line))

    def test_not_quit(self) -> None:
        for line in [b"quit", b"/quitter", b"//quit", b"/qui", b" /quit"]:
            with self.subTest(line=line):
                self.assertFalse(is_quit(line))

    def test_blanks_while_signing_on(self) -> None:
        """Before signing on the server strips what it reads, so " /quit " quits."""
        self.assertTrue(is_quit(b" /quit ", signing_on=True))


# The command


class OptionsTests(SynchronousTestCase):
    def parse(self, *argv: str) -> Options:
        options = Options()
        options.parseOptions(list(argv))
        return options

    def test_defaults(self) -> None:
        options = self.parse()
        self.assertEqual(
            (options["endpoint"], options["nick"], options["room"], options["no-color"]),
            ("tcp:localhost:8080", None, None, False),
        )

    def test_host_and_port(self) -> None:
        self.assertEqual(
            self.parse("chat.example.org", "9000")["endpoint"], "tcp:chat.example.org:9000"
        )
        self.assertEqual(self.parse("chat.example.org")["endpoint"], "tcp:chat.example.org:8080")

    def test_ipv6_host_is_quoted(self) -> None:
        self.assertEqual(self.parse("::1", "8080")["endpoint"], r"tcp:\:\:1:8080")

    def test_connect(self) -> None:
        options = self.parse("--connect", "unix:/run/chatsvc.sock", "--nick", "bob", "-r", "#attic")
        self.assertEqual(
            (options["endpoint"], options["nick"], options["room"]),
            ("unix:/run/chatsvc.sock", "bob", "#attic"),
        )

    def test_refused(self) -> None:
        cases = [
            (["--connect", "tcp:a:1", "host"], "give either HOST [PORT] or --connect, not both"),
            (["host", "http"], "invalid port 'http': give a number from 1 to 65535"),
            (["host", "0"], "invalid port '0': give a number from 1 to 65535"),
            (["host", "65536"], "invalid port '65536': give a number from 1 to 65535"),
            (
                ["--connect", "nonsense:x"],
                "invalid endpoint 'nonsense:x': Unknown endpoint type: 'nonsense'",
            ),
            (
                ["--nick", "bob smith"],
                "'bob smith' is not a valid nickname: "
                "use 1-32 letters, digits and _ - . [ ] { } ^ |",
            ),
            (
                ["--room", "a/b"],
                "'a/b' is not a valid room name: use 1-32 letters, digits and _ - . [ ] { } ^ |",
            ),
        ]
        for argv, message in cases:
            with self.subTest(argv=argv):
                error = self.assertRaises(usage.UsageError, self.parse, *argv)
                self.assertEqual(str(error), message)


class SecureOptionsTests(SynchronousTestCase):
    """--tls, --ca, and where the password comes from."""

    def setUp(self) -> None:
        self.directory = scratch_directory(self)
        self.environ = dict(os.environ)
        os.environ.pop(PASSWORD_VARIABLE, None)
        self.addCleanup(os.environ.update, self.environ)

    def parse(self, *argv: str) -> Options:
        options = Options()
        options.parseOptions(list(argv))
        return options

    def test_plain_by_default(self) -> None:
        options = self.parse()
        self.assertEqual(
            (options["address"], options["trust"], options["password"]), (None, None, None)
        )

    def test_tls(self) -> None:
        options = self.parse("--tls")
        self.assertEqual(options["endpoint"], "tls:localhost:8443")
        self.assertEqual((options["address"], options["trust"]), (("localhost", 8443), None))
        options = self.parse("--tls", "::1", "9000")
        self.assertEqual(options["endpoint"], r"tls:\:\:1:9000")
        self.assertEqual(options["address"], ("::1", 9000))

    def test_ca(self) -> None:
        ca = make_certificates(self.directory).ca
        options = self.parse("--tls", "--ca", str(ca), "chat.example.org")
        self.assertEqual(options["address"], ("chat.example.org", 8443))
        self.assertIsNotNone(options["trust"])

    def test_connect_tls(self) -> None:
        options = self.parse("--connect", "tls:chat.example.org:8443")
        self.assertEqual(
            (options["endpoint"], options["address"]), ("tls:chat.example.org:8443", None)
        )

    def test_password_file(self) -> None:
        path = self.directory / "password"
        path.write_bytes(b"s3cret \r\nsecond line\n")
        os.environ[PASSWORD_VARIABLE] = "from the environment"
        self.assertEqual(self.parse("--password-file", str(path))["password"], b"s3cret ")
        self.assertEqual(self.parse()["password"], b"from the environment")
        os.environ[PASSWORD_VARIABLE] = ""
        self.assertIsNone(self.parse()["password"])

    def test_refused(self) -> None:
        garbage = self.directory / "garbage.pem"
        garbage.write_text("not a certificate\n")
        empty = self.directory / "empty"
        empty.write_text("\nsecond\n")
        missing = self.directory / "missing"
        cases = [
            (["--ca", str(garbage)], "--ca goes with --tls"),
            (
                ["--tls", "--connect", "tls:a:1"],
                "--tls and --ca go with HOST [PORT]; with --connect, give a tls: endpoint "
                "(its trustRoots= is a directory of CA certificates)",
            ),
            (["--tls", "--ca", str(missing)], f"--ca {missing}: No such file or directory"),
            (["--tls", "--ca", str(garbage)], f"--ca {garbage}: no PEM certificate in it"),
            (["--tls", "host", "0"], "invalid port '0': give a number from 1 to 65535"),
            (
                ["--password-file", str(missing)],
                f"--password-file {missing}: No such file or directory",
            ),
            (["--password-file", str(empty)], f"--password-file {empty}: its first line is empty"),
        ]
        for argv, message in cases:
            with self.subTest(argv=argv):
                error = self.assertRaises(usage.UsageError, self.parse, *argv)
                self.assertEqual(str(error), message)


class ColourTests(SynchronousTestCase):
    def test_wants_colour(self) -> None:
        cases = [
            (False, {}, True),
            (False, {"TERM": "xterm-256color", "NO_COLOR": ""}, True),
            (True, {}, False),
            (False, {"NO_COLOR": "1"}, False),
            (False, {"TERM": "dumb"}, False),
        ]
        for no_color, environ, expected in cases:
            with self.subTest(no_color=no_color, environ=environ):
                self.assertEqual(wants_colour(no_color, environ), expected)

    def test_paint(self) -> None:
        """Each kind of line has its own look; without colour, lines are as received."""
        cases = [
            ("*** Bye!", "\x1b[36m*** Bye!\x1b[0m"),
            ("*** Error: no", "\x1b[1;31m*** Error: no\x1b[0m"),
            ("<alice> hi", "<\x1b[1malice\x1b[0m> hi"),
            ("<alice> hi bob", "\x1b[1;33m<alice> hi bob\x1b[0m"),
            ("* alice waves", "\x1b[35m* alice waves\x1b[0m"),
            ("*alice* psst", "\x1b[1;32m*alice* psst\x1b[0m"),
            ("-> *alice* psst", "\x1b[32m-> *alice* psst\x1b[0m"),
            ("[2026-11-21 14:03] <alice> bob?", "\x1b[2m[2026-11-21 14:03] <alice> bob?\x1b[0m"),
            ("plain", "plain"),
        ]
        for text, painted in cases:
            with self.subTest(text=text):
                self.assertEqual(paint(classify(text, "bob"), colour=True), painted)
                self.assertEqual(paint(classify(text, "bob"), colour=False), text)

    def test_paint_note(self) -> None:
        self.assertEqual(paint_note("Connected again.", colour=False), "-!- Connected again.")
        self.assertEqual(
            paint_note("Connected again.", colour=True), "\x1b[33m-!- Connected again.\x1b[0m"
        )


class DescribeConnectErrorTests(SynchronousTestCase):
    def test_os_words(self) -> None:
        error = ConnectionRefusedError(111, "Connection refused")
        self.assertEqual(describe_connect_error(error), "Connection refused")

    def test_other(self) -> None:
        error = DNSLookupError("nosuch.invalid")
        self.assertEqual(describe_connect_error(error), "DNS lookup failed: nosuch.invalid")

    def test_tls(self) -> None:
        untrusted = SSL.Error([("SSL routines", "", "certificate verify failed")])
        self.assertEqual(
            describe_connect_error(untrusted),
            "the server's certificate is not trusted (certificate verify failed)",
        )
        not_tls = SSL.Error([("SSL routines", "", "wrong version number")])
        self.assertEqual(describe_connect_error(not_tls), "TLS failed: wrong version number")


# The session over a StringTransport


class SessionTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.console = RecordingConsole()

    def session(
        self, nick: str | None = None, room: str | None = None, *, reconnect: bool = False
    ) -> Session:
        return Session(self.console, clock=self.clock, nick=nick, room=room, reconnect=reconnect)

    def test_answers_prompt_with_nick(self) -> None:
        """With a nickname, the session answers the prompt, and only the prompt."""
        connection = Connection(self.session("bob"))
        connection.receive(GREETING[0])
        self.assertEqual(connection.sent(), [])
        connection.receive(GREETING[1])
        self.assertEqual(connection.sent(), ["bob"])

    def test_shows_every_line(self) -> None:
        """Every line the server sends is shown, read for what it is."""
        session = self.session("bob")
        connection = Connection(session)
        lines = [
            *GREETING,
            *signed_on("bob", "alice"),
            "<alice> hi bob",
            "* alice waves",
            "*alice* psst",
            "-> *alice* hello",
            "*** Error: unknown command /x (try /help)",
            "something else",
        ]
        connection.receive(*lines)
        self.assertEqual(self.console.shown, lines)
        self.assertEqual(
            [(line.kind, line.mention) for line in self.console.lines[4:]],
            [
                (Kind.NOTICE, False),
                (Kind.MESSAGE, True),
                (Kind.ACTION, False),
                (Kind.PRIVATE, False),
                (Kind.SENT_PRIVATE, False),
                (Kind.ERROR, False),
                (Kind.TEXT, False),
            ],
        )

    def test_user_answers_prompt(self) -> None:
        """Interactive and without a nickname, what the user types answers the prompt."""
        session = self.session(reconnect=True)
        connection = Connection(session)
        connection.receive(*GREETING)
        self.assertEqual(connection.sent(), [])
        session.send(b"robert")
        self.assertEqual(connection.sent(), ["robert"])
        connection.receive(*signed_on("robert"))
        self.assertEqual((session.nick, session.room), ("robert", "lobby"))

    def test_first_piped_line_is_nickname(self) -> None:
        """Piped without a nickname, the first line answers the prompt; the rest wait."""
        session = self.session()
        connection = Connection(session)
        session.send(b"bot")
        session.send(b"hello")
        self.assertEqual(connection.sent(), [])
        connection.receive(*GREETING)
        self.assertEqual(connection.sent(), ["bot"])
        connection.receive(*signed_on("bot"))
        self.assertEqual(connection.sent(), ["hello"])

    def test_held_lines_go_after_joining_room(self) -> None:
        """Lines typed before signing on are sent once signed on, after the /join."""
        session = self.session("bob", "#attic")
        connection = Connection(session)
        session.send(b"hi all")
        session.send(b"/me waves")
        connection.receive(*GREETING)
        self.assertEqual(connection.sent(), ["bob"])
        connection.receive(*signed_on("bob"))
        self.assertEqual(connection.sent(), ["/join attic", "hi all", "/me waves"])
        session.send(b"and now")
        self.assertEqual(connection.sent(), ["and now"])

    def test_no_join_for_lobby(self) -> None:
        session = self.session("bob", "Lobby")
        connection = Connection(session)
        connection.receive(*GREETING, *signed_on("bob"))
        self.assertEqual(connection.sent(), ["bob"])

    def test_history_does_not_confuse_the_session(self) -> None:
        """Replayed lines that look like the server's own are shown, and change nothing."""
        session = self.session("bob", "attic")
        connection = Connection(session)
        session.send(b"hi")
        connection.receive(*GREETING, *signed_on("bob"))
        self.assertEqual(connection.sent(), ["bob", "/join attic", "hi"])
        replay = [
            "*** Recent history of lobby (3 lines, times in UTC):",
            "[2026-11-21 14:03] <alice> *** Hello mallory! Type /help for the commands.",
            "[2026-11-21 14:03] <alice> *** You joined basement (1 member):",
            "[2026-11-21 14:04] * alice *** You are now known as mallory",
            "*** End of history",
        ]
        connection.receive(*replay)
        self.assertEqual((session.nick, session.room), ("bob", "lobby"))
        connection.receive("*** You joined attic (1 member):", "*** bob", *replay)
        self.assertEqual((session.nick, session.room), ("bob", "attic"))
        self.assertEqual(self.console.shown[-5:], replay)
        self.assertEqual(
            [line.mention for line in self.console.lines if line.kind is Kind.HISTORY],
            [False] * 6,
        )
        self.assertEqual(connection.sent(), [])

    def test_follows_nick_and_room(self) -> None:
        session = self.session("bob")
        connection = Connection(session)
        connection.sign_on("bob")
        connection.receive("*** You joined attic (1 member):", "*** bob")
        connection.receive("*** You are now known as robert", "<alice> hi robert")
        self.assertEqual((session.nick, session.room), ("robert", "attic"))
        self.assertTrue(self.console.lines[-1].mention)

    def test_end_of_input_quits_after_held_lines(self) -> None:
        session = self.session("bot")
        connection = Connection(session)
        session.send(b"hi")
        session.end_input()
        connection.receive(*GREETING)
        self.assertEqual(connection.sent(), ["bot"])
        connection.receive(*signed_on("bot"))
        self.assertEqual(connection.sent(), ["hi", "/quit"])
        connection.receive("*** Bye!")
        self.assertNoResult(session.done)
        connection.close()
        self.assertEqual(self.successResultOf(session.done), 0)
        self.assertEqual(self.console.notes, [])

    def test_end_of_empty_input_quits_at_prompt(self) -> None:
        """With nothing piped in, /quit answers the prompt."""
        session = self.session()
        connection = Connection(session)
        session.end_input()
        self.assertEqual(connection.sent(), ["/quit"])
        connection.close()
        self.assertEqual(self.successResultOf(session.done), 0)

    def test_quit_wait_is_bounded(self) -> None:
        """A server that does not hang up after /quit is hung up on."""
        session = self.session("bob")
        connection = Connection(session)
        connection.sign_on("bob")
        session.end_input()
        wait = QUIT_TIMEOUT + 1 / PACE
        self.clock.advance(wait - 0.01)
        self.assertFalse(connection.transport.disconnecting)
        self.clock.advance(0.01)
        self.assertTrue(connection.transport.disconnecting)
        connection.close()
        self.assertEqual(self.successResultOf(session.done), 0)

    def test_quit_wait_allows_for_lines_just_sent(self) -> None:
        """The server reads at a limited pace: the wait allows for what it has yet to read."""
        session = self.session("bob")
        connection = Connection(session)
        connection.sign_on("bob")
        for n in range(19):
            session.send(b"line %d" % n)
        session.end_input()
        wait = QUIT_TIMEOUT + 20 / PACE
        self.clock.advance(wait - 0.01)
        self.assertFalse(connection.transport.disconnecting)
        self.clock.advance(0.01)
        self.assertTrue(connection.transport.disconnecting)

    def test_quit_wait_forgets_lines_long_read(self) -> None:
        session = self.session("bob")
        connection = Connection(session)
        connection.sign_on("bob")
        for n in range(19):
            session.send(b"line %d" % n)
        self.clock.advance(60)
        session.end_input()
        self.clock.advance(QUIT_TIMEOUT + 1 / PACE)
        self.assertTrue(connection.transport.disconnecting)

    def test_typed_quit(self) -> None:
        """A /quit the user types ends the session when the server hangs up."""
        session = self.session("bob", reconnect=True)
        connection = Connection(session)
        connection.sign_on("bob")
        session.send(b"/QUIT gone fishing")
        self.assertEqual(connection.sent(), ["/QUIT gone fishing"])
        connection.receive("*** Bye!")
        connection.close()
        self.assertEqual(self.successResultOf(session.done), 0)
        self.assertEqual(self.console.notes, [])

    def test_piped_nickname_refused(self) -> None:
        """Piped, a refused nickname ends the session with status 1, and the server's reason."""
        session = self.session("bob")
        connection = Connection(session)
        session.send(b"hello")
        connection.receive(*GREETING, "*** Error: the nickname bob is taken", GREETING[1])
        self.assertEqual(connection.sent(), ["bob"])
        self.assertEqual(self.console.notes, ["cannot sign on as bob: the nickname bob is taken"])
        self.assertTrue(connection.transport.disconnecting)
        connection.close()
        self.assertEqual(self.successResultOf(session.done), 1)
        self.assertEqual(self.console.notes[1:], [])

    def test_interactive_nickname_refused(self) -> None:
        """Interactive, a refused --nick leaves the answer to the user."""
        session = self.session("bob", reconnect=True)
        connection = Connection(session)
        connection.receive(*GREETING, "*** Error: the nickname bob is taken", GREETING[1])
        self.assertEqual(connection.sent(), ["bob"])
        session.send(b"robert")
        self.assertEqual(connection.sent(), ["robert"])
        self.assertEqual(self.console.notes, [])

    def test_piped_connection_lost(self) -> None:
        session = self.session("bob")
        connection = Connection(session)
        connection.receive(
            *GREETING, *signed_on("bob"), "*** The server is shutting down. Goodbye!"
        )
        connection.close()
        self.assertEqual(self.successResultOf(session.done), 1)
        self.assertEqual(self.console.notes, ["connection lost: the server closed the connection"])

    def test_piped_connection_lost_with_lines_held(self) -> None:
        session = self.session("bob")
        connection = Connection(session)
        session.send(b"hi")
        session.end_input()
        connection.receive(*GREETING)
        connection.close()
        self.assertEqual(self.successResultOf(session.done), 1)
        self.assertEqual(self.console.notes, ["the connection closed before all input was sent"])

    def test_interactive_connection_lost(self) -> None:
        """Interactive, a lost connection is told, and the session goes on."""
        session = self.session("bob", reconnect=True)
        connection = Connection(session)
        connection.sign_on("bob")
        connection.protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.console.notes, ["Connection lost: the server closed the connection."])
        self.assertNoResult(session.done)

    def test_offline(self) -> None:
        """While disconnected, typed lines wait; /quit ends the session at once."""
        session = self.session("bob", reconnect=True)
        connection = Connection(session)
        connection.sign_on("bob")
        connection.close()
        session.send(b"anyone?")
        self.assertEqual(
            self.console.notes[1:], ["Not connected; the line will be sent once reconnected."]
        )
        session.end_input()
        self.assertEqual(self.successResultOf(session.done), 0)

    def test_typed_offline_before_signing_on(self) -> None:
        """Lines typed offline by a user who answers the prompt go as soon as connected."""
        session = self.session(reconnect=True)
        Connection(session).close()
        session.send(b"robert")
        connection = Connection(session)
        self.assertEqual(connection.sent(), ["robert"])

    def test_interrupt_twice(self) -> None:
        """A second Ctrl-C does not wait for the server."""
        session = self.session("bob", reconnect=True)
        connection = Connection(session)
        connection.sign_on("bob")
        session.interrupt()
        self.assertEqual(connection.sent(), ["/quit"])
        self.assertFalse(connection.transport.disconnecting)
        session.interrupt()
        self.assertTrue(connection.transport.disconnecting)

    def test_input_follows_connection(self) -> None:
        """
        The input is read no faster than the connection sends, and not at all
        while lines wait for signing on.
        """
        session = self.session("bob")
        stdin = StringTransport()
        console = LineConsole(io.StringIO())
        console.session = session
        console.makeConnection(stdin)
        connection = Connection(session)
        self.assertIs(connection.transport.producer, console)
        self.assertTrue(connection.transport.streaming)
        console.dataReceived(b"one\ntwo\n")
        self.assertEqual(stdin.producerState, "paused")
        connection.receive(*GREETING, *signed_on("bob"))
        self.assertEqual(connection.sent(), ["bob", "one", "two"])
        self.assertEqual(stdin.producerState, "producing")


class ClosingTransport(StringTransport):
    """A transport that remembers what producer was still registered when it was closed."""

    producer_at_close: object = "never closed"

    def loseConnection(self) -> None:
        if not self.disconnecting:
            self.producer_at_close = self.producer
        super().loseConnection()


class ClosingTests(SynchronousTestCase):
    """
    Whenever the session closes the connection itself, the input is
    unregistered first: no transport closes with a producer registered, and
    TLS does not even start to shut down.
    """

    PROMPT = "*** Password for alice:"

    def setUp(self) -> None:
        self.clock = Clock()
        self.console = RecordingConsole()

    def connect(
        self, nick: str | None = "alice", password: bytes | None = None
    ) -> tuple[Session, ClosingTransport]:
        session = Session(self.console, clock=self.clock, nick=nick, password=password)
        stdin = LineConsole(io.StringIO())
        stdin.session = session
        stdin.makeConnection(StringTransport())
        protocol = ChatClientFactory(session).buildProtocol(ADDRESS)
        assert protocol is not None
        transport = ClosingTransport()
        protocol.makeConnection(transport)
        self.assertIs(transport.producer, stdin)
        self.protocol = protocol
        return session, transport

    def receive(self, *lines: str) -> None:
        self.protocol.dataReceived("".join(f"{line}\n" for line in lines).encode())

    def assertClosedUnregistered(self, transport: ClosingTransport) -> None:
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(transport.producer_at_close)

    def test_nickname_refused(self) -> None:
        _, transport = self.connect()
        self.receive(*GREETING, "*** Error: the nickname alice is taken", GREETING[1])
        self.assertClosedUnregistered(transport)

    def test_no_password(self) -> None:
        _, transport = self.connect()
        self.receive(*GREETING, self.PROMPT)
        self.assertClosedUnregistered(transport)

    def test_wrong_password(self) -> None:
        _, transport = self.connect(password=b"guess")
        self.receive(*GREETING, self.PROMPT, "*** Error: wrong password for alice", self.PROMPT)
        self.assertClosedUnregistered(transport)

    def test_end_of_input_at_the_password_prompt(self) -> None:
        self.console = RecordingConsole(can_ask=True)
        session, transport = self.connect()
        self.receive(*GREETING, self.PROMPT)
        self.assertEqual(self.console.asked, ["alice"])
        session.end_input()
        self.assertClosedUnregistered(transport)

    def test_server_does_not_hang_up_after_quit(self) -> None:
        session, transport = self.connect(password=b"secret")
        self.receive(*GREETING, self.PROMPT, *signed_on("alice"))
        session.end_input()
        self.clock.advance(QUIT_TIMEOUT + 1 / PACE)
        self.assertClosedUnregistered(transport)

    def test_interrupt_twice(self) -> None:
        session, transport = self.connect(password=b"secret")
        self.receive(*GREETING, self.PROMPT, *signed_on("alice"))
        session.interrupt()
        self.assertFalse(transport.disconnecting)
        session.interrupt()
        self.assertClosedUnregistered(transport)


class PasswordSessionTests(SynchronousTestCase):
    """Registered nicknames: the password prompt answered, asked for, or refused."""

    PROMPT = "*** Password for alice:"
    WRONG = "*** Error: wrong password for alice"

    def setUp(self) -> None:
        self.clock = Clock()

    def session(
        self,
        password: bytes | None = None,
        *,
        nick: str | None = "alice",
        interactive: bool = False,
    ) -> tuple[Session, RecordingConsole, Connection]:
        console = RecordingConsole(can_ask=interactive)
        session = Session(
            console, clock=self.clock, nick=nick, password=password, reconnect=interactive
        )
        return session, console, Connection(session)

    def test_answers_with_the_password_it_has(self) -> None:
        session, console, connection = self.session(b"secret")
        connection.receive(*GREETING)
        self.assertEqual(connection.sent(), ["alice"])
        connection.receive(self.PROMPT)
        self.assertEqual(connection.sent(), ["secret"])
        connection.receive(*signed_on("alice"))
        self.assertEqual((session.nick, session.room), ("alice", "lobby"))
        self.assertEqual(console.shown, [*GREETING, self.PROMPT, *signed_on("alice")])
        self.assertEqual(console.notes, [])

    def test_piped_without_a_password(self) -> None:
        session, console, connection = self.session()
        connection.receive(*GREETING, self.PROMPT)
        self.assertEqual(connection.sent(), ["alice"])
        self.assertEqual(
            console.notes,
            [
                "cannot sign on as alice: the nickname is registered; give its password "
                "with --password-file or CHATSVC_PASSWORD"
            ],
        )
        self.assertTrue(connection.transport.disconnecting)
        connection.close()
        self.assertEqual(self.successResultOf(session.done), 1)

    def test_piped_wrong_password(self) -> None:
        session, console, connection = self.session(b"guess")
        connection.receive(*GREETING, self.PROMPT)
        connection.sent()
        connection.receive(self.WRONG)
        self.assertFalse(connection.transport.disconnecting)
        connection.receive(self.PROMPT)
        self.assertEqual(connection.sent(), [], "not the same password again")
        self.assertEqual(console.notes, ["cannot sign on as alice: wrong password"])
        connection.close()
        self.assertEqual(self.successResultOf(session.done), 1)

    def test_interactive_asks_the_user(self) -> None:
        session, console, connection = self.session(interactive=True)
        connection.receive(*GREETING, self.PROMPT)
        self.assertEqual(console.asked, ["alice"])
        self.assertEqual(connection.sent(), ["alice"])
        session.send_password(b"secret")
        self.assertEqual(connection.sent(), ["secret"])
        connection.receive(*signed_on("alice"))
        self.assertEqual(session.nick, "alice")

    def test_interactive_asks_after_a_wrong_given_password(self) -> None:
        session, console, connection = self.session(b"old", interactive=True)
        connection.receive(*GREETING, self.PROMPT)
        self.assertEqual((connection.sent(), console.asked), (["alice", "old"], []))
        connection.receive(self.WRONG, self.PROMPT)
        self.assertEqual((connection.sent(), console.asked), ([], ["alice"]))
        session.send_password(b"new")
        connection.receive(self.WRONG, self.PROMPT)
        self.assertEqual(console.asked, ["alice", "alice"])
        session.send_password(b"newer")
        self.assertEqual(connection.sent(), ["new", "newer"])

    def test_user_answering_the_nickname_prompt(self) -> None:
        """Without --nick the user types the nickname; the password is asked all the same."""
        session, _, connection = self.session(b"secret", nick=None, interactive=True)
        connection.receive(*GREETING)
        session.send(b"alice")
        connection.receive(self.PROMPT)
        self.assertEqual(connection.sent(), ["alice", "secret"])
        connection.receive(*signed_on("alice"))
        self.assertEqual(session.nick, "alice")

    def test_password_only_when_asked(self) -> None:
        session, _, connection = self.session(interactive=True)
        session.send_password(b"early")
        connection.receive(*GREETING)
        session.send_password(b"still early")
        self.assertEqual(connection.sent(), ["alice"])

    def test_empty_password_goes_back_to_the_nickname(self) -> None:
        """The user gave up on the nickname: the next prompt is the user's to answer."""
        session, _, connection = self.session(interactive=True)
        connection.receive(*GREETING, self.PROMPT)
        session.send_password(b"")
        connection.receive(GREETING[1])
        self.assertEqual(connection.sent(), ["alice", ""])
        session.send(b"dave")
        connection.receive(*signed_on("dave"))
        self.assertEqual(connection.sent(), ["dave"])
        self.assertEqual(session.nick, "dave")

    def test_lines_typed_meanwhile_wait(self) -> None:
        """Lines are never sent as passwords: they wait until signed on."""
        session, _, connection = self.session(b"secret", nick=None)
        session.send(b"alice")
        connection.receive(*GREETING)
        session.send(b"hello")
        connection.receive(self.PROMPT)
        session.send(b"world")
        self.assertEqual(connection.sent(), ["alice", "secret"])
        connection.receive(*signed_on("alice"))
        self.assertEqual(connection.sent(), ["hello", "world"])

    def test_quit_at_the_password_prompt_hangs_up(self) -> None:
        session, _, connection = self.session(interactive=True)
        connection.receive(*GREETING, self.PROMPT)
        connection.sent()
        session.interrupt()
        self.assertEqual(connection.sent(), [], "/quit would be taken for a password")
        self.assertTrue(connection.transport.disconnecting)
        connection.close()
        self.assertEqual(self.successResultOf(session.done), 0)

    def test_signs_on_again_with_the_password_that_worked(self) -> None:
        session, console, connection = self.session(interactive=True)
        connection.receive(*GREETING, self.PROMPT)
        session.send_password(b"typed once")
        connection.receive(*signed_on("alice"))
        connection.close()
        again = Connection(session)
        again.receive(*GREETING, self.PROMPT)
        self.assertEqual(again.sent(), ["alice", "typed once"])
        self.assertEqual(console.asked, ["alice"])


class QuietReconnectionTests(SynchronousTestCase):
    """
    Signing on again shows one note, not the greeting, the prompts and the
    lobby passed through; unless the way back fails.
    """

    def setUp(self) -> None:
        self.console = RecordingConsole(can_ask=True)

    def reconnected(self, room: str = "attic", password: bytes | None = None) -> Connection:
        """Signed on (and in C{room}), then connected again, with what was told forgotten."""
        self.session = Session(
            self.console, clock=Clock(), nick="bob", room=room, password=password, reconnect=True
        )
        first = Connection(self.session)
        first.sign_on("bob")
        if room != "lobby":
            first.receive(f"*** You joined {room} (1 member):", "*** bob")
        first.close()
        del self.console.lines[:], self.console.notes[:]
        return Connection(self.session)

    def test_back_in_a_room(self) -> None:
        again = self.reconnected()
        again.receive(
            *GREETING,
            *signed_on("bob", "alice"),
            "*** Topic for lobby: welcome (set by alice, 2026-11-21 14:03 UTC)",
            "<alice> hello there",
        )
        self.assertEqual(again.sent(), ["bob", "/join attic"])
        again.receive("*** You joined attic (2 members):", "*** bob, carol")
        self.assertEqual(self.console.notes, ["Signed on again as bob; rejoining attic."])
        self.assertEqual(
            self.console.shown, ["*** You joined attic (2 members):", "*** bob, carol"]
        )

    def test_back_in_the_lobby(self) -> None:
        again = self.reconnected("lobby")
        again.receive(*GREETING, *signed_on("bob", "alice"))
        self.assertEqual(self.console.notes, ["Signed on again as bob."])
        self.assertEqual(self.console.shown, signed_on("bob", "alice")[1:])

    def test_with_the_password(self) -> None:
        again = self.reconnected("lobby", b"secret")
        again.receive(*GREETING, "*** Password for bob:", *signed_on("bob"))
        self.assertEqual(again.sent(), ["bob", "secret"])
        self.assertEqual(self.console.shown, signed_on("bob")[1:])
        self.assertEqual(self.console.asked, [])

    def test_a_password_refused_is_asked_for_with_what_came_before(self) -> None:
        again = self.reconnected("lobby", b"old")
        again.receive(*GREETING, "*** Password for bob:", "*** Error: wrong password for bob")
        self.assertEqual(self.console.shown, [])
        again.receive("*** Password for bob:")
        self.assertEqual(
            self.console.shown,
            [
                *GREETING,
                "*** Password for bob:",
                "*** Error: wrong password for bob",
                "*** Password for bob:",
            ],
        )
        self.assertEqual(self.console.asked, ["bob"])

    def test_the_room_refused(self) -> None:
        """Kept in the lobby: its listing is shown after all, then why."""
        again = self.reconnected()
        again.receive(*GREETING, *signed_on("bob"), "*** Error: you are banned from attic")
        self.assertEqual(
            self.console.shown, [*signed_on("bob")[1:], "*** Error: you are banned from attic"]
        )

    def test_the_user_types_a_nickname_after_all(self) -> None:
        again = self.reconnected()
        taken = ["*** Error: the nickname bob is taken", GREETING[1]]
        again.receive(*GREETING)
        for n in range(NICK_VARIANTS + 1):
            again.receive(*taken)
            self.assertEqual(
                self.console.shown, [] if n < NICK_VARIANTS else [*GREETING, *taken * 4]
            )
        self.assertEqual(self.console.notes[-1], "Could not take back bob; type a nickname.")
        again.receive("*** a notice")
        self.assertEqual(self.console.shown[-1], "*** a notice")

    def test_the_connection_lost_while_signing_on_again(self) -> None:
        again = self.reconnected()
        again.receive(*GREETING, "*** The server is shutting down. Goodbye!")
        again.close()
        self.assertEqual(
            self.console.shown, [*GREETING, "*** The server is shutting down. Goodbye!"]
        )
        self.assertEqual(self.console.notes, ["Connection lost: the server closed the connection."])

    def test_kicked_while_signing_on_again(self) -> None:
        again = self.reconnected()
        again.receive(*GREETING, *signed_on("bob"), "*** You were kicked by alice")
        self.assertEqual(self.console.shown[-1], "*** You were kicked by alice")


class KickedSessionTests(SynchronousTestCase):
    def test_interactive_does_not_reconnect(self) -> None:
        console = RecordingConsole()
        session = Session(console, clock=Clock(), nick="bob", reconnect=True)
        connection = Connection(session)
        connection.sign_on("bob")
        connection.receive("*** You were kicked by alice (flooding)")
        connection.close()
        self.assertEqual(console.notes, ["Kicked out by alice; not reconnecting."])
        self.assertEqual(self.successResultOf(session.done), 1)

    def test_piped(self) -> None:
        console = RecordingConsole()
        session = Session(console, clock=Clock(), nick="bob")
        connection = Connection(session)
        connection.sign_on("bob")
        connection.receive("*** You were kicked by alice")
        connection.close()
        self.assertEqual(console.notes, ["kicked out by alice"])
        self.assertEqual(self.successResultOf(session.done), 1)


class ReplacedSessionTests(SynchronousTestCase):
    """
    Another connection signed on with our nickname and password: reconnecting
    would put that one out in turn, and the two would take turns for ever.
    """

    def test_interactive_does_not_reconnect(self) -> None:
        console = RecordingConsole()
        session = Session(console, clock=Clock(), nick="bob", reconnect=True)
        connection = Connection(session)
        connection.sign_on("bob")
        connection.receive("*** Signed on from elsewhere. Goodbye!")
        connection.close()
        self.assertEqual(console.notes, ["Signed on from elsewhere; not reconnecting."])
        self.assertEqual(self.successResultOf(session.done), 1)

    def test_piped(self) -> None:
        console = RecordingConsole()
        session = Session(console, clock=Clock(), nick="bob")
        connection = Connection(session)
        connection.sign_on("bob")
        connection.receive("*** Signed on from elsewhere. Goodbye!")
        connection.close()
        self.assertEqual(console.notes, ["signed on from elsewhere"])
        self.assertEqual(self.successResultOf(session.done), 1)

    def test_classified_as_a_notice(self) -> None:
        line = classify("*** Signed on from elsewhere. Goodbye!")
        self.assertIs(line.kind, Kind.REPLACED)
        self.assertIn(line.kind, NOTICE_KINDS)


# The session against the real server, over iosim


class Participant:
    """A session signed on to C{server} through an iosim pump."""

    def __init__(self, server: ChatFactory, nick: str, room: str | None = None) -> None:
        self.console = RecordingConsole()
        self.session = Session(self.console, clock=Clock(), nick=nick, room=room)
        client_factory = ChatClientFactory(self.session)
        assert isinstance(server.clock, Clock)
        self.protocol, _, self.pump = iosim.connectedServerAndClient(
            lambda: server.buildProtocol(ADDRESS),
            lambda: client_factory.buildProtocol(ADDRESS),
            clock=server.clock,  # each pump ends the server's reactor turn
        )


class AgainstServerTests(SynchronousTestCase):
    def test_registered_nickname(self) -> None:
        clock = Clock()
        server = with_accounts(clock=clock)
        console = RecordingConsole()
        session = Session(console, clock=Clock(), nick="alice", password=b"secret")
        client_factory = ChatClientFactory(session)
        _, _, pump = iosim.connectedServerAndClient(
            lambda: server.buildProtocol(ADDRESS),
            lambda: client_factory.buildProtocol(ADDRESS),
            clock=clock,  # each pump ends the server's reactor turn
        )
        pump.flush()
        self.assertEqual(console.shown, [*GREETING, "*** Password for alice:", *signed_on("alice")])
        participant = server.chat.find("alice")
        assert participant is not None and participant.account is not None

    def test_conversation(self) -> None:
        server = ChatFactory(clock=Clock())
        alice = Participant(server, "alice", "attic")
        alice.pump.flush()
        bob = Participant(server, "bob", "#attic")
        bob.session.send(b"hello")
        bob.pump.flush()
        bob.session.send(b"/msg alice psst")
        bob.pump.flush()
        alice.session.send(b"/me waves at Bob")
        alice.pump.flush()
        bob.pump.flush()
        bob.session.end_input()
        bob.pump.flush()
        alice.pump.flush()

        self.assertEqual(
            alice.console.shown,
            [
                *GREETING,
                *signed_on("alice"),
                "*** You joined attic (1 member):",
                "*** alice",
                "*** bob joined attic",
                "<bob> hello",
                "*bob* psst",
                "*** bob left attic",
            ],
        )
        self.assertEqual(
            bob.console.shown,
            [
                *GREETING,
                *signed_on("bob"),
                "*** You joined attic (2 members):",
                "*** alice, bob",
                "-> *alice* psst",
                "* alice waves at Bob",
                "*** Bye!",
            ],
        )
        self.assertEqual(bob.console.lines[-2].mention, True)
        self.assertEqual(self.successResultOf(bob.session.done), 0)

    def test_with_history(self) -> None:
        """The replay on joining comes between the member list and what is said next."""
        clock = Clock()
        history = FakeHistory(clock)
        server = ChatFactory(clock=clock, history=history, replay=20)
        history.record(Message("attic", "carol", "hello attic, bob"))
        bob = Participant(server, "bob", "attic")
        bob.session.send(b"hi")
        bob.pump.flush()
        self.assertEqual(
            bob.console.shown,
            [
                *GREETING,
                *signed_on("bob"),
                "*** You joined attic (1 member):",
                "*** bob",
                "*** Recent history of attic (1 line, times in UTC):",
                "[1970-01-01 00:00] <carol> hello attic, bob",
                "*** End of history",
            ],
        )
        self.assertEqual((bob.session.nick, bob.session.room), ("bob", "attic"))
        self.assertEqual(bob.console.lines[-2].kind, Kind.HISTORY)
        self.assertFalse(bob.console.lines[-2].mention)
        self.assertEqual(history.lines[-1], Line(0, Message("attic", "bob", "hi")))


@implementer(IStreamClientEndpoint)
class InMemoryEndpoint:
    """Connects to C{server} through iosim; refuses while it is L{None}."""

    def __init__(self) -> None:
        self.server: ChatFactory | None = None
        self.pumps: list[iosim.IOPump] = []

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        if self.server is None:
            return fail(ConnectionRefusedError(111, "Connection refused"))
        client = factory.buildProtocol(ADDRESS)
        server = self.server.buildProtocol(ADDRESS)
        assert client is not None and server is not None
        assert isinstance(self.server.clock, Clock)
        self.pumps.append(
            iosim.connect(
                server,
                iosim.makeFakeServer(server),
                client,
                iosim.makeFakeClient(client),
                clock=self.server.clock,  # each pump ends the server's reactor turn
            )
        )
        return succeed(client)


def sign_on_elsewhere(server: ChatFactory, nick: str) -> None:
    """Take C{nick} on C{server}, for a connection of the test's own."""
    protocol = server.buildProtocol(ADDRESS)
    assert isinstance(protocol, ChatServerProtocol)
    protocol.makeConnection(StringTransport())
    protocol.dataReceived(nick.encode() + b"\n")


class ReconnectionTests(SynchronousTestCase):
    def test_back_in_room_with_variant_nickname(self) -> None:
        """
        When the server goes away the session says so, retries with an
        exponential backoff, and once back takes a variant of its taken
        nickname and rejoins its room.
        """
        clock = Clock()
        console = RecordingConsole()
        backoff = backoffPolicy(initialDelay=0.5, maxDelay=30.0, factor=2.0, jitter=lambda: 0)
        session = Session(
            console, clock=clock, nick="bob", room="attic", reconnect=True, backoff=backoff
        )
        endpoint = InMemoryEndpoint()
        first = endpoint.server = ChatFactory(clock=clock)
        service = ClientService(
            endpoint, ChatClientFactory(session), retryPolicy=session.retry_delay, clock=clock
        )
        service.startService()
        endpoint.pumps[-1].flush()
        bob = first.chat.find("bob")
        assert bob is not None
        self.assertEqual(bob.room.name, "attic")

        endpoint.server = None
        first.shut_down()
        endpoint.pumps[-1].flush()
        self.assertEqual(
            console.notes,
            ["Connection lost: the server closed the connection.", "Reconnecting in 1.0 seconds."],
        )
        clock.advance(1.0)
        self.assertEqual(console.notes[2:], ["Reconnecting in 2.0 seconds."])
        clock.advance(2.0)
        self.assertEqual(console.notes[3:], ["Reconnecting in 4.0 seconds."])

        second = endpoint.server = ChatFactory(clock=clock)
        sign_on_elsewhere(second, "bob")
        del console.lines[:]
        clock.advance(4.0)
        endpoint.pumps[-1].flush()
        self.assertEqual(
            console.notes[4:], ["Trying bob_ instead.", "Signed on again as bob_; rejoining attic."]
        )
        self.assertEqual(console.shown, ["*** You joined attic (1 member):", "*** bob_"])
        bob_ = second.chat.find("bob_")
        assert bob_ is not None
        self.assertEqual((bob_.room.name, session.nick, session.room), ("attic", "bob_", "attic"))
        self.assertNoResult(session.done)

    def test_backoff_starts_over_after_reconnecting(self) -> None:
        clock = Clock()
        console = RecordingConsole()
        backoff = backoffPolicy(initialDelay=0.5, maxDelay=30.0, factor=2.0, jitter=lambda: 0)
        session = Session(console, clock=clock, nick="bob", reconnect=True, backoff=backoff)
        endpoint = InMemoryEndpoint()
        endpoint.server = ChatFactory(clock=clock)
        service = ClientService(
            endpoint, ChatClientFactory(session), retryPolicy=session.retry_delay, clock=clock
        )
        service.startService()
        endpoint.pumps[-1].flush()
        for _ in range(2):
            endpoint.pumps[-1].server.transport.loseConnection()
            endpoint.pumps[-1].flush()
            clock.advance(1.0)
            endpoint.pumps[-1].flush()
        self.assertEqual(
            [note for note in console.notes if note.startswith("Reconnecting")],
            ["Reconnecting in 1.0 seconds.", "Reconnecting in 1.0 seconds."],
        )
        self.assertEqual(session.nick, "bob")

    def test_no_note_for_first_connection_failing(self) -> None:
        """Failing to connect at all is the command's to report, not the session's."""
        clock = Clock()
        console = RecordingConsole()
        session = Session(console, clock=clock, nick="bob", reconnect=True)
        service = ClientService(
            InMemoryEndpoint(),
            ChatClientFactory(session),
            retryPolicy=session.retry_delay,
            clock=clock,
        )
        connected = service.whenConnected(failAfterFailures=1)
        service.startService()
        self.failureResultOf(connected, ConnectionRefusedError)
        self.assertEqual(console.notes, [])


# The consoles


class Screen:
    """What a terminal shows after the bytes written to C{transport}, by insults' emulator."""

    def __init__(self, transport: StringTransport, width: int = 80) -> None:
        self.buffer = helper.TerminalBuffer()
        self.buffer.width = width
        self._parser = insults.ClientProtocol(lambda: self.buffer)
        self._parser.makeConnection(StringTransport())
        self._transport = transport

    def lines(self) -> list[str]:
        """The screen's lines, up to the last that is not empty."""
        self._parser.dataReceived(self._transport.value())
        self._transport.clear()
        lines = bytes(self.buffer).decode().split("\n")
        while lines and not lines[-1]:
            lines.pop()
        return lines


class TerminalTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.terminal = ChatTerminal(colour=False)
        self.session = Session(self.terminal, clock=Clock(), nick="bob", reconnect=True)
        self.terminal.session = self.session
        self.keyboard = insults.ServerProtocol(lambda: self.terminal)
        self.stdio = StringTransport()
        self.keyboard.makeConnection(self.stdio)
        self.screen = Screen(self.stdio)
        self.connection = Connection(self.session)

    def sign_on(self) -> None:
        self.connection.receive(*GREETING, *signed_on("bob", "alice"))
        self.connection.sent()

    def test_prompt(self) -> None:
        """The prompt names our room and nickname once we have them."""
        self.assertEqual(self.screen.lines(), ["> "])
        self.sign_on()
        self.assertEqual(
            self.screen.lines(), [*GREETING, *signed_on("bob", "alice"), "[lobby] bob> "]
        )

    def test_lines_arrive_above_input(self) -> None:
        """Lines that arrive while the user types go above the input line, which stays whole."""
        self.sign_on()
        self.keyboard.dataReceived(b"hello wor")
        self.connection.receive("<alice> first", "* alice second")
        self.assertEqual(
            self.screen.lines()[-3:], ["<alice> first", "* alice second", "[lobby] bob> hello wor"]
        )
        self.keyboard.dataReceived(b"ld\r")
        self.assertEqual(self.connection.sent(), ["hello world"])
        self.assertEqual(self.screen.lines()[-2:], ["[lobby] bob> hello world", "[lobby] bob> "])

    def test_cursor_kept_mid_line(self) -> None:
        self.sign_on()
        self.keyboard.dataReceived(b"helo" + LEFT)
        self.connection.receive("<alice> hi")
        self.keyboard.dataReceived(b"l")
        self.assertEqual(self.screen.lines()[-2:], ["<alice> hi", "[lobby] bob> hello"])
        self.assertEqual(self.screen.buffer.x, len("[lobby] bob> hell"))
        self.keyboard.dataReceived(b"\r")
        self.assertEqual(self.connection.sent(), ["hello"])

    def test_long_input_line(self) -> None:
        """An input line wrapped over several rows is taken off whole."""
        self.screen = Screen(self.stdio, width=20)
        self.terminal.terminalSize(20, 24)
        self.sign_on()
        self.keyboard.dataReceived(b"abcdefghijklmnopqrstuvwxyz0123")
        self.connection.receive("<alice> hi")
        self.assertEqual(
            self.screen.lines()[-4:],
            ["<alice> hi", "[lobby] bob> abcdefg", "hijklmnopqrstuvwxyz0", "123"],
        )

    def test_input_exactly_fills_row(self) -> None:
        self.screen = Screen(self.stdio, width=20)
        self.terminal.terminalSize(20, 24)
        self.sign_on()
        self.keyboard.dataReceived(b"abcdefg")
        self.connection.receive("<alice> hi")
        self.assertEqual(
            self.screen.lines()[-3:], ["*** alice, bob", "<alice> hi", "[lobby] bob> abcdefg"]
        )

    def test_notes(self) -> None:
        self.sign_on()
        self.connection.protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(
            self.screen.lines()[-2:],
            ["-!- Connection lost: the server closed the connection.", "> "],
        )

    def test_utf8_input(self) -> None:
        self.sign_on()
        self.keyboard.dataReceived("héllo wörld\r".encode())
        self.assertEqual(self.connection.sent(), ["héllo wörld"])

    def test_history(self) -> None:
        self.sign_on()
        self.keyboard.dataReceived(b"one\rtwo\r" + UP + UP + b"\r")
        self.assertEqual(self.connection.sent(), ["one", "two", "one"])

    def test_blank_line_not_sent(self) -> None:
        self.sign_on()
        self.keyboard.dataReceived(b"   \r")
        self.assertEqual(self.connection.sent(), [])

    def test_ctrl_u(self) -> None:
        self.sign_on()
        self.keyboard.dataReceived(b"oops" + CTRL_U + b"fine\r")
        self.assertEqual(self.connection.sent(), ["fine"])

    def test_ctrl_d(self) -> None:
        """Ctrl-D deletes under the cursor; on an empty line it quits."""
        self.sign_on()
        self.keyboard.dataReceived(b"abc" + LEFT + CTRL_D + b"\r")
        self.assertEqual(self.connection.sent(), ["ab"])
        self.keyboard.dataReceived(CTRL_D)
        self.assertEqual(self.connection.sent(), ["/quit"])

    def test_ctrl_c(self) -> None:
        """Ctrl-C quits, even with something typed; twice, it hangs up at once."""
        self.sign_on()
        self.keyboard.dataReceived(b"abc" + CTRL_C)
        self.assertEqual(self.connection.sent(), ["/quit"])
        self.assertFalse(self.connection.transport.disconnecting)
        self.keyboard.dataReceived(CTRL_C)
        self.assertTrue(self.connection.transport.disconnecting)

    def test_close(self) -> None:
        """Closing takes the input line off and insert mode with it, and keeps the screen."""
        self.sign_on()
        self.keyboard.dataReceived(b"unsent")
        self.connection.receive("*** Bye!")
        closed = self.terminal.close()
        self.assertEqual(self.screen.lines()[-1], "*** Bye!")
        self.assertEqual(self.screen.buffer.modes, {})
        self.assertTrue(self.stdio.disconnecting)
        self.assertNoResult(closed)
        self.keyboard.connectionLost(Failure(ConnectionDone()))
        self.assertIsNone(self.successResultOf(closed))

    def test_terminal_gone(self) -> None:
        """A terminal that goes away quits the chat."""
        self.sign_on()
        self.keyboard.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.connection.sent(), ["/quit"])

    def ask_password(self) -> None:
        self.connection.receive(*GREETING, "*** Password for bob:")
        self.assertEqual(self.connection.sent(), ["bob"])

    def test_password_is_not_shown(self) -> None:
        """The prompt says whose password it is; what is typed is not on the screen."""
        self.keyboard.dataReceived(b"typed ahead")
        self.ask_password()
        self.keyboard.dataReceived("pässwörd".encode())
        self.assertEqual(self.screen.lines()[-2:], ["*** Password for bob:", "Password for bob: "])
        self.connection.receive("*** a notice meanwhile")
        self.assertEqual(self.screen.lines()[-1], "Password for bob: ")
        self.keyboard.dataReceived(b"\r")
        self.assertEqual(self.connection.sent(), ["pässwörd"])
        self.assertEqual(self.screen.lines()[-1], "> typed ahead")
        self.connection.receive(*signed_on("bob"))
        self.keyboard.dataReceived(b"\r" + UP + UP + b"\r")
        self.assertEqual(self.connection.sent(), ["typed ahead", "typed ahead"], "not in history")
        self.assertNotIn(b"p\xc3\xa4ssw", bytes(self.screen.buffer))

    def test_password_editing(self) -> None:
        self.ask_password()
        self.keyboard.dataReceived(b"wrong" + CTRL_U + b"rightt\x7f" + LEFT + b"\r")
        self.assertEqual(self.connection.sent(), ["right"])

    def test_ctrl_c_at_the_password_prompt(self) -> None:
        self.ask_password()
        self.keyboard.dataReceived(b"half" + CTRL_C)
        self.assertEqual(self.connection.sent(), [])
        self.assertTrue(self.connection.transport.disconnecting)


PGUP, PGDN, TAB, CTRL_L = b"\x1b[5~", b"\x1b[6~", b"\t", b"\x0c"


class TerminalComfortTests(SynchronousTestCase):
    """Time stamps, completion, the bell and title, /clear and the scrollback."""

    def start(self, *, timestamps: bool = False, bell: bool = False, title: bool = False) -> None:
        self.clock = Clock()
        self.clock.advance(1_795_000_000)
        self.terminal = ChatTerminal(
            clock=self.clock, timestamps=timestamps, bell=bell, title=title
        )
        self.session = Session(self.terminal, clock=self.clock, nick="bob", reconnect=True)
        self.terminal.session = self.session
        self.keyboard = insults.ServerProtocol(lambda: self.terminal)
        self.stdio = StringTransport()
        self.keyboard.makeConnection(self.stdio)
        self.screen = Screen(self.stdio)
        self.connection = Connection(self.session)
        self.connection.receive(*GREETING, *signed_on("bob", "alice", "albert", "carol"))
        self.connection.sent()

    def test_time_stamps(self) -> None:
        """Live lines and notes are stamped with the time they came; history has its own."""
        self.start(timestamps=True)
        now = stamp(self.clock.seconds())
        self.clock.advance(120)
        later = stamp(self.clock.seconds())
        self.assertNotEqual(now, later)
        self.connection.receive("<alice> hi", "[2026-11-21 14:03] <carol> said earlier")
        self.connection.close()
        self.assertEqual(
            self.screen.lines()[-8:],
            [
                f"{now} *** Choose a nickname:",
                f"{now} *** Hello bob! Type /help for the commands.",
                f"{now} *** You joined lobby (4 members):",
                f"{now} *** albert, alice, bob, carol",
                f"{later} <alice> hi",
                "[2026-11-21 14:03] <carol> said earlier",
                f"{later} -!- Connection lost: the server closed the connection.",
                "> ",
            ],
        )

    def test_no_time_stamps(self) -> None:
        self.start(timestamps=False)
        self.connection.receive("<alice> hi")
        self.assertEqual(self.screen.lines()[-2:], ["<alice> hi", "[lobby] bob> "])

    def test_nicknames_complete_the_latest_speaker_first_and_cycle(self) -> None:
        self.start()
        self.connection.receive("<albert> hello", "<alice> hi")
        self.keyboard.dataReceived(b"al" + TAB)
        self.assertEqual(self.screen.lines()[-1], "[lobby] bob> alice: ")
        self.keyboard.dataReceived(TAB)
        self.assertEqual(self.screen.lines()[-1], "[lobby] bob> albert: ")
        self.keyboard.dataReceived(TAB)
        self.assertEqual(self.screen.lines()[-1], "[lobby] bob> alice: ")
        self.keyboard.dataReceived(b"see c" + TAB + b"and " + TAB + b"\r")
        self.assertEqual(self.connection.sent(), ["alice: see carol and "])

    def test_completion_mid_line_keeps_the_rest(self) -> None:
        self.start()
        self.keyboard.dataReceived(b"hi ca, how" + LEFT * 5 + TAB)
        self.assertEqual(self.screen.lines()[-1], "[lobby] bob> hi carol , how")
        self.assertEqual(self.screen.buffer.x, len("[lobby] bob> hi carol "))

    def test_nothing_to_complete(self) -> None:
        self.start()
        self.keyboard.dataReceived(b"zz" + TAB + b"\r")
        self.assertEqual(self.connection.sent(), ["zz"])

    def test_commands_complete(self) -> None:
        self.start()
        self.keyboard.dataReceived(b"/jo" + TAB + b"attic\r")
        self.assertEqual(self.connection.sent(), ["/join attic"])
        self.keyboard.dataReceived(b"/cl" + TAB)
        self.assertEqual(self.screen.lines()[-1], "[lobby] bob> /clear ")

    def test_clear(self) -> None:
        """/clear (or Ctrl-L) empties the screen but for the input line; it is not sent."""
        self.start()
        self.keyboard.dataReceived(b"/clear\r")
        self.assertEqual(self.screen.lines(), ["[lobby] bob> "])
        self.connection.receive("<alice> after")
        self.keyboard.dataReceived(b"typed" + CTRL_L)
        self.assertEqual(self.screen.lines(), ["[lobby] bob> typed"])
        self.assertEqual(self.connection.sent(), [])

    def test_scrollback(self) -> None:
        """
        PageUp shows the page before, with a line saying how much is below;
        lines arriving meanwhile are counted there; PageDown goes back, and
        from the last page to the latest lines.
        """
        self.start()
        self.connection.receive(*(f"<alice> {n}" for n in range(60)))
        self.keyboard.dataReceived(b"draft")
        self.assertEqual(self.screen.lines()[-2:], ["<alice> 59", "[lobby] bob> draft"])
        self.keyboard.dataReceived(PGUP)
        lines = self.screen.lines()
        self.assertEqual(len(lines), 24)
        self.assertEqual(lines[:22], [f"<alice> {n}" for n in range(17, 39)])
        self.assertEqual(
            lines[22:],
            ["-!- Scrolled back: 21 more lines below; PageDown for them", "[lobby] bob> draft"],
        )
        self.connection.receive("<alice> while away")
        self.assertEqual(
            self.screen.lines()[21:],
            [
                "<alice> 38",
                "-!- Scrolled back: 22 more lines below, 1 new; PageDown for them",
                "[lobby] bob> draft",
            ],
        )
        self.keyboard.dataReceived(PGUP + PGUP)
        self.assertEqual(self.screen.lines()[0], "*** Welcome to chatsvc!")
        self.keyboard.dataReceived(PGDN)
        self.assertEqual(self.screen.lines()[0], "<alice> 16")
        self.keyboard.dataReceived(PGDN + PGDN)
        lines = self.screen.lines()
        self.assertEqual(lines[-3:], ["<alice> 59", "<alice> while away", "[lobby] bob> draft"])
        self.assertEqual(len(lines), 24)
        self.assertFalse(self.terminal.scrollback.scrolled)

    def test_sending_goes_back_to_the_latest(self) -> None:
        self.start()
        self.connection.receive(*(f"<alice> {n}" for n in range(60)))
        self.keyboard.dataReceived(PGUP + b"hello\r")
        self.assertEqual(self.connection.sent(), ["hello"])
        self.assertEqual(
            self.screen.lines()[-3:], ["<alice> 59", "[lobby] bob> hello", "[lobby] bob> "]
        )

    def test_bell_and_title_on_a_mention_or_a_private_message(self) -> None:
        self.start(bell=True, title=True)
        self.stdio.clear()
        self.connection.receive("<alice> hello all")
        self.assertNotIn(b"\x07", self.stdio.value())
        self.connection.receive("<alice> hi bob!")
        written = self.stdio.value()
        self.assertIn(
            b"\x07\x1b[22;0t\x1b]2;chatsvc-client: alice mentioned you in lobby\x07", written
        )
        self.stdio.clear()
        self.connection.receive("*carol* psst")
        self.assertIn(
            b"\x07\x1b]2;chatsvc-client: a private message from carol\x07", self.stdio.value()
        )
        self.assertNotIn(b"[22;0t", self.stdio.value(), "the title before is kept once")
        self.stdio.clear()
        self.keyboard.dataReceived(b"x")
        self.assertEqual(self.stdio.value()[:7], b"\x1b[23;0t")
        self.stdio.clear()
        self.keyboard.dataReceived(b"y")
        self.assertNotIn(b"[23;0t", self.stdio.value())

    def test_no_bell(self) -> None:
        self.start(bell=False, title=True)
        self.stdio.clear()
        self.connection.receive("*carol* psst", "[2026-11-21 14:03] <alice> bob?")
        self.assertNotIn(b"\x07\x1b[22", self.stdio.value())
        self.assertEqual(self.stdio.value().count(b"\x1b]2;"), 1, "history calls for nobody")

    def test_title_put_back_on_closing(self) -> None:
        self.start(title=True)
        self.connection.receive("*carol* psst")
        self.stdio.clear()
        self.terminal.close()
        self.assertTrue(self.stdio.value().startswith(b"\x1b[23;0t"))

    def test_takes_title(self) -> None:
        self.assertTrue(takes_title({"TERM": "xterm-256color"}))
        self.assertTrue(takes_title({"TERM": "tmux-256color"}))
        self.assertFalse(takes_title({"TERM": "linux"}))
        self.assertFalse(takes_title({}))


class LineConsoleTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.errors = io.StringIO()
        self.console = LineConsole(self.errors)
        self.session = Session(self.console, clock=Clock(), nick="bot")
        self.console.session = self.session
        self.stdio = StringTransport()
        self.console.makeConnection(self.stdio)
        self.connection = Connection(self.session)
        self.connection.receive(*GREETING, *signed_on("bot"))
        self.connection.sent()

    def test_prints_lines_as_received(self) -> None:
        self.assertEqual(self.stdio.value().decode().splitlines(), [*GREETING, *signed_on("bot")])

    def test_notes_to_stderr(self) -> None:
        self.console.note("connection lost: oops")
        self.assertEqual(self.errors.getvalue(), "chatsvc-client: connection lost: oops\n")
        self.assertNotIn(b"oops", self.stdio.value())

    def test_sends_lines_then_quits(self) -> None:
        """Each line read is sent, a last one without a newline too, then /quit."""
        self.console.dataReceived(b"one\r\ntwo\nthree")
        self.assertEqual(self.connection.sent(), ["one\r", "two"])
        self.console.readConnectionLost()
        self.assertEqual(self.connection.sent(), ["three", "/quit"])

    def test_throttled(self) -> None:
        self.console.pauseProducing()
        self.assertEqual(self.stdio.producerState, "paused")
        self.console.resumeProducing()
        self.assertEqual(self.stdio.producerState, "producing")
        self.console.stopProducing()
        self.assertFalse(self.stdio.disconnecting)

    def test_line_too_long(self) -> None:
        self.console.MAX_LENGTH = 10
        self.console.dataReceived(b"x" * 11)
        self.console.dataReceived(b"\nmore\n")
        self.assertEqual(self.connection.sent(), ["/quit"])
        self.assertEqual(
            self.errors.getvalue(), "chatsvc-client: stopped reading: a line is over 10 bytes\n"
        )
        self.connection.close()
        self.assertEqual(self.successResultOf(self.session.done), 1)

    def test_close(self) -> None:
        closed = self.console.close()
        self.assertTrue(self.stdio.disconnecting)
        self.assertNoResult(closed)
        self.console.connectionLost(Failure(ConnectionDone()))
        self.assertIsNone(self.successResultOf(closed))

    def test_close_after_stdout_went(self) -> None:
        self.console.writeConnectionLost()
        self.assertIsNone(self.successResultOf(self.console.close()))


class RawTerminalTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.master, self.slave = os.openpty()
        self.addCleanup(os.close, self.master)
        self.addCleanup(os.close, self.slave)

    def test_raw_then_restored(self) -> None:
        """Raw mode while it runs, the size followed, and every setting put back, once."""
        before = termios.tcgetattr(self.slave)
        handler = signal.getsignal(signal.SIGWINCH)
        sizes: list[tuple[int, int]] = []
        raw = RawTerminal(self.slave)
        raw.enter(lambda width, height: sizes.append((width, height)))
        self.addCleanup(raw.restore)
        self.assertEqual(termios.tcgetattr(self.slave)[3] & (termios.ICANON | termios.ECHO), 0)
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        signal.raise_signal(signal.SIGWINCH)
        self.assertEqual(sizes, [(80, 24), (100, 30)])
        raw.restore()
        raw.restore()
        self.assertEqual(termios.tcgetattr(self.slave), before)
        self.assertEqual(signal.getsignal(signal.SIGWINCH), handler)
        self.assertEqual(os.read(self.master, 100), RawTerminal.RESET)
