"""
The terminal client: C{chatsvc-client}.

The parts, from the wire inwards:

- L{classify} reads one line from the server as a L{ServerLine}; pure, so the
  rules for notices, errors, messages, actions, private messages and mentions
  are tested without any transport.
- L{ChatClientProtocol} is one connection: bytes in and out, nothing more.
  Under TLS (L{chatsvc.client.tls}) it counts as connected once the handshake, and
  with it the server's certificate, has been checked.
- L{Session} is what lasts across connections: the nickname (and password)
  and room to take back after a reconnection, the lines typed before signing
  on, and when to quit. L{ClientService} reconnects; the session decides what
  to say on each new connection.
- An L{IConsole} is the user's side: L{LineConsole} for piped stdin and
  stdout, L{chatsvc.client.terminal.ChatTerminal} for an interactive terminal. Both
  run on L{StandardIO}, in the one reactor.

test-case-name: tests.client.test_client, tests.client.test_client_tls
"""

from __future__ import annotations

import enum
import re
import sys
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, TextIO

import attrs
from twisted.application.internet import backoffPolicy
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IHalfCloseableProtocol,
    IHandshakeListener,
    INegotiated,
    IPushProducer,
    IReactorTime,
    ITCPTransport,
    ITransport,
)
from twisted.internet.protocol import Factory, connectionDone
from twisted.internet.stdio import StandardIO
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import Interface, implementer

from chatsvc.chat import commands
from chatsvc.chat.model import NAME_MAX, canonical_room_name, fold
from chatsvc.client.tls import (
    describe_tls_failure,
    is_tls_failure,
)
from chatsvc.frontends.line import wire

if TYPE_CHECKING:
    pass

PROGRAM = "chatsvc-client"
DEFAULT_HOST = "localhost"
DEFAULT_PORT = 8080

PASSWORD_VARIABLE = "CHATSVC_PASSWORD"
"""The environment variable that may hold the password of a registered nickname."""

QUIT_TIMEOUT = 5.0
"""
Seconds to wait, after sending C{/quit}, for the server to hang up; longer by
the time the server may still need for lines sent just before (L{PACE}).
"""

PACE = 2.0
"""
Lines a second the server is assumed to read at least. It reads at a limited
pace (10 lines a second by default, after a burst), so the lines piped in
just before C{/quit} may keep it busy for a while before it hangs up.
"""

NICK_VARIANTS = 3
"""How many variants of its nickname a reconnecting client tries before asking the user."""

HIDDEN_KEPT = 200
"""
The most lines kept back while signing on again (L{Session}): those of the
room passed through on the way back, shown only if the way back fails.
"""

LINE_MAX = 1 << 20
"""
The longest line, in bytes, read from the server or from piped input: far
over the server's own limit (C{--max-line}), which it enforces by refusing
longer lines with an error.
"""


# Reading server lines


class Kind(enum.Enum):
    """What a line from the server is."""

    NOTICE = "notice"  # *** anything else
    PROMPT = "prompt"  # *** Choose a nickname:
    PASSWORD = "password"  # *** Password for ACCOUNT:
    KICKED = "kicked"  # *** You were kicked by NICK (REASON)
    REPLACED = "replaced"  # *** Signed on from elsewhere. Goodbye!
    ERROR = "error"  # *** Error: TEXT
    SIGNED_ON = "signed on"  # *** Hello NICK! Type /help for the commands.
    JOINED = "joined"  # *** You joined ROOM (N members):
    RENAMED = "renamed"  # *** You are now known as NICK
    MESSAGE = "message"  # <nick> text
    ACTION = "action"  # * nick text
    PRIVATE = "private"  # *nick* text
    SENT_PRIVATE = "sent private"  # -> *nick* text
    HISTORY = "history"  # [2026-11-21 14:03] <nick> text, or * nick text: said earlier
    TEXT = "text"  # none of these


NOTICE_KINDS = frozenset(
    {
        Kind.NOTICE,
        Kind.PROMPT,
        Kind.PASSWORD,
        Kind.KICKED,
        Kind.REPLACED,
        Kind.ERROR,
        Kind.SIGNED_ON,
        Kind.JOINED,
        Kind.RENAMED,
    }
)


@attrs.frozen
class ServerLine:
    """
    One line from the server, read.

    C{text} is the whole line as received (decoded and sanitised, without its
    newline); C{subject} is the nickname or room the line is about (the
    sender of a message, the recipient of our private message, our new
    nickname, the room we joined); C{body} is what follows the prefix.
    """

    text: str
    kind: Kind
    subject: str | None = None
    body: str = ""
    mention: bool = False


_PROMPT = "*** Choose a nickname:"
_PATTERNS: list[tuple[Kind, re.Pattern[str]]] = [
    (Kind.ERROR, re.compile(r"\*\*\* Error: (?P<body>.*)")),
    (Kind.PASSWORD, re.compile(r"\*\*\* Password for (?P<subject>\S+):(?P<body>)")),
    (Kind.KICKED, re.compile(r"\*\*\* You were kicked by (?P<subject>\S+)(?P<body>(?: \(.*\))?)")),
    (Kind.REPLACED, re.compile(r"\*\*\* Signed on from elsewhere\. Goodbye!(?P<body>)")),
    (Kind.SIGNED_ON, re.compile(r"\*\*\* Hello (?P<subject>\S+?)!(?P<body>(?: .*)?)")),
    (Kind.JOINED, re.compile(r"\*\*\* You joined (?P<subject>\S+) (?P<body>\(\d+ members?\):)")),
    (Kind.RENAMED, re.compile(r"\*\*\* You are now known as (?P<subject>\S+)(?P<body>)")),
    (Kind.NOTICE, re.compile(r"\*\*\* (?P<body>.*)")),
    (Kind.MESSAGE, re.compile(r"<(?P<subject>[^>\s]+)> (?P<body>.*)")),
    (Kind.ACTION, re.compile(r"\* (?P<subject>\S+) (?P<body>.*)")),
    (Kind.PRIVATE, re.compile(r"\*(?P<subject>[^*\s]+)\* (?P<body>.*)")),
    (Kind.SENT_PRIVATE, re.compile(r"-> \*(?P<subject>[^*\s]+)\* (?P<body>.*)")),
]

_HISTORY = re.compile(r"\[\d{4}-\d\d-\d\d \d\d:\d\d\] (?P<said>.*)")
"""A line from a room's history: a message or action, stamped with when it was said."""

_NAME_CHAR = r"A-Za-z0-9_\-.\[\]{}^|"


@lru_cache(maxsize=8)
def _naming(nick: str) -> re.Pattern[str]:
    # A name character, or a dot followed by one, may not touch the nickname:
    # "bob" is mentioned in "hi bob." but not in "bobby" or "bob.smith".
    before = rf"(?<![{_NAME_CHAR}])"
    after = rf"(?![{_NAME_CHAR.replace('.', '')}]|\.[{_NAME_CHAR}])"
    return re.compile(before + re.escape(nick) + after, re.IGNORECASE)


def mentions(text: str, nick: str) -> bool:
    """Whether C{text} names C{nick} as a word of its own, in any case."""
    return _naming(nick).search(text) is not None


def classify(text: str, nick: str | None = None) -> ServerLine:
    """
    What the server line C{text} is. C{nick} is our nickname, if we have one:
    a message or action that names it is a mention. A line from the history
    names who said it, but is never a mention: it is not news.
    """
    if text == _PROMPT:
        return ServerLine(text, Kind.PROMPT, body=text[4:])
    history = _HISTORY.fullmatch(text)
    if history is not None:
        said = classify(history["said"])
        if said.kind in (Kind.MESSAGE, Kind.ACTION):
            return ServerLine(text, Kind.HISTORY, said.subject, said.body)
        return ServerLine(text, Kind.HISTORY, body=said.text)
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(text)
        if match is not None:
            fields = match.groupdict()
            body = (
                fields["body"].strip() if kind in (Kind.SIGNED_ON, Kind.KICKED) else fields["body"]
            )
            mention = (
                kind in (Kind.MESSAGE, Kind.ACTION)
                and nick is not None
                and mentions(fields["body"], nick)
            )
            return ServerLine(text, kind, fields.get("subject"), body, mention)
    return ServerLine(text, Kind.TEXT, body=text)


def nick_variant(nick: str, attempt: int) -> str:
    """
    The nickname to try when C{nick} has been refused C{attempt} times:
    C{nick} with as many C{_} appended, shortened to stay within L{NAME_MAX}.
    """
    if attempt <= 0:
        return nick
    return nick[: max(1, NAME_MAX - attempt)] + "_" * attempt


def is_quit(line: bytes, *, signing_on: bool = False) -> bool:
    """
    Whether the server reads C{line} as C{/quit}; while C{signing_on}, it
    reads the line with surrounding blanks stripped.
    """
    text = wire.decode(line)
    try:
        return isinstance(commands.parse(text.strip() if signing_on else text), commands.Quit)
    except commands.CommandError:
        return False


# The user's side


class IConsole(Interface):
    """
    Where the user sees what happens, and types: a terminal, or plain stdin
    and stdout. A console hands what the user types to L{Session.send}, and
    the end of input to L{Session.end_input}.
    """

    def show(line: ServerLine) -> None:
        """Show a line the server sent."""

    def note(text: str) -> None:
        """Tell the user something the client itself knows (the connection dropped, ...)."""

    def close() -> Deferred[None]:
        """Stop reading; the result fires once everything shown is written out."""

    def ask_password(account: str) -> bool:
        """
        Read the password of C{account} from the user, without showing it, and
        hand it to L{Session.send_password}. Returns C{False} if this console
        cannot (it is not a terminal).
        """


# One connection


@implementer(IHandshakeListener)
class ChatClientProtocol(LineReceiver):
    """
    One connection to the chat server: lines in and out for the L{Session}.

    The session is told of the connection once it is usable: at once over TCP
    or a UNIX socket, after the handshake (and with it the check of the
    server's certificate) over TLS. A connection lost before then is one
    that failed (L{Session.connection_failed}).
    """

    delimiter = b"\n"
    MAX_LENGTH = LINE_MAX
    factory: ChatClientFactory
    transport: ITransport
    _ready = False

    def connectionMade(self) -> None:
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
        if not INegotiated.providedBy(self.transport):  # not TLS
            self._became_ready()

    def handshakeCompleted(self) -> None:
        # A certificate that fails verification aborts the connection from
        # within the handshake, which then completes all the same.
        if not self.transport.disconnecting:  # type: ignore[attr-defined]
            self._became_ready()

    def _became_ready(self) -> None:
        self._ready = True
        self.factory.session.connected(self)

    def lineReceived(self, line: bytes) -> None:
        self.factory.session.received(wire.decode(line))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._ready:
            self.factory.session.disconnected(self, reason)
        else:
            self.factory.session.connection_failed(reason)


class ChatClientFactory(Factory[ChatClientProtocol]):
    """Makes a L{ChatClientProtocol} for each connection of one L{Session}."""

    protocol = ChatClientProtocol

    def __init__(self, session: Session) -> None:
        self.session = session


# What lasts across connections


class _Stage(enum.Enum):
    OFFLINE = "offline"  # no connection
    CONNECTED = "connected"  # the server has not asked for a nickname yet
    PROMPTED = "prompted"  # the server waits for a nickname
    OFFERED = "offered"  # we answered with a nickname; waiting for the verdict
    PASSWORD = "password"  # the server waits for the nickname's password
    CHECKING = "checking"  # we gave the password; waiting for the verdict
    GREETED = "greeted"  # the nickname is ours; the lobby's members follow
    READY = "ready"  # signed on


def default_backoff() -> Callable[[int], float]:
    """Wait about 1, 2, 4, ... seconds between attempts, at most 30 (plus up to 1 of jitter)."""
    return backoffPolicy(initialDelay=0.5, maxDelay=30.0, factor=2.0)


class Session:
    """
    One user's time in the chat, across however many connections it takes.

    It answers the nickname prompt when it knows the nickname (from
    C{--nick}, the first piped line, or an earlier sign-on), and the password
    prompt of a registered nickname when it has the password (from
    C{--password-file} or L{PASSWORD_VARIABLE}, or one the user typed that
    worked); otherwise the console asks the user for it, without echo, or
    signing on fails. It holds what is typed until signing on is complete,
    then joins the room it should be in and sends what it held.

    With C{reconnect} (an interactive session) a lost connection is told to
    the user and L{ClientService} makes another; the session takes back its
    nickname, or a variant if that is taken, and its room. Signing on again
    is quiet: what the user saw the first time (the greeting, the prompts,
    the lobby passed through) is kept back, and a note says it all; what was
    kept back is shown only if the way back fails. Without it (piped
    input) the first refusal or loss ends the session with status 1. A kick
    ends it either way, and so does a certificate refused on reconnecting.

    L{done} fires with the exit status once the session is over.
    """

    def __init__(
        self,
        console: IConsole,
        *,
        clock: IReactorTime,
        nick: str | None = None,
        room: str | None = None,
        password: bytes | None = None,
        reconnect: bool = False,
        backoff: Callable[[int], float] | None = None,
    ) -> None:
        self.console = console
        self.done: Deferred[int] = Deferred()
        self.ready: Deferred[None] = Deferred()
        """
        Fires once the first connection is ready (over TLS, once the server's
        certificate is checked); fails if it was lost before.
        """
        self.nick: str | None = None
        """Our nickname, while signed on."""
        self.room: str | None = None
        """The room we are in, while signed on."""
        self._clock = clock
        self._wanted_nick = nick
        self._wanted_room = canonical_room_name(room) if room else None
        self._password = password
        self._password_refused = False  # the server refused self._password
        self._sent_password: bytes | None = None
        self._kicked_by: str | None = None
        self._replaced = False  # another connection signed on with our nickname and password
        self._reconnect = reconnect
        self._backoff = backoff if backoff is not None else default_backoff()
        self._protocol: ChatClientProtocol | None = None
        self._stage = _Stage.OFFLINE
        self._answering = False
        self._offered = ""
        self._variant = 0
        self._refused: str | None = None
        self._held: list[bytes] = []
        self._input: IPushProducer | None = None
        self._connected_before = False
        self._hidden: deque[ServerLine] | None = None  # kept back while signing on again
        self._signed_on_before = False
        self._input_ended = False
        self._quitting = False
        self._quit_timer: IDelayedCall | None = None
        self._unread = 0.0  # lines the server may not have read yet, at _unread_at
        self._unread_at = 0.0
        self._status = 0
        self._finished = False

    # From the console

    def read_from(self, producer: IPushProducer) -> None:
        """
        Throttle C{producer}, the input, to what the connection can take, and
        pause it while lines wait for sign-on to complete.
        """
        self._input = producer
        if self._protocol is not None:
            IConsumer(self._protocol.transport).registerProducer(producer, True)

    def send(self, line: bytes) -> None:
        """
        A line the user typed: send it now, or hold it until signed on. While
        the session answers the nickname prompt itself but has no nickname
        yet (piped input without C{--nick}), the first line is the nickname.
        """
        if self._finished:
            return
        quitting = is_quit(line, signing_on=self._stage is not _Stage.READY)
        self._quitting = self._quitting or quitting
        if self._protocol is None:
            if quitting:
                self._finish()
            else:
                self._hold(line)
                self.console.note("Not connected; the line will be sent once reconnected.")
        elif self._stage in (_Stage.PASSWORD, _Stage.CHECKING):
            if quitting:
                self._hang_up()  # the server would take /quit for a password
            else:
                self._hold(line)
        elif self._stage is _Stage.READY or not self._answering:
            self._write(line)
        elif self._wanted_nick is None:
            if quitting:
                self._write(line)  # the server takes it as the answer to its prompt
            else:
                self._wanted_nick = wire.decode(line).strip()
                if self._stage is _Stage.PROMPTED:
                    self._offer()
        else:
            self._hold(line)

    def end_input(self, error: str | None = None) -> None:
        """
        The user is done (end of input, Ctrl-D, the terminal closed): send
        C{/quit}, after any held lines. With C{error}, tell the user why the
        input was cut short, and exit with status 1.
        """
        if error is not None:
            self.console.note(error)
            self._status = 1
        if self._finished or self._input_ended:
            return
        self._input_ended = True
        if not self._quitting:
            self.send(b"/quit")

    def interrupt(self) -> None:
        """Ctrl-C: quit as L{end_input} does; a second time, hang up without waiting."""
        if self._quitting and not self._finished:
            self._hang_up()
        else:
            self.end_input()

    # From the connection

    def connected(self, protocol: ChatClientProtocol) -> None:
        if not self.ready.called:
            self.ready.callback(None)
        self._protocol = protocol
        self._stage = _Stage.CONNECTED
        self._answering = not self._reconnect or self._wanted_nick is not None
        self._variant = 0
        self._refused = None
        if self._input is not None:
            IConsumer(protocol.transport).registerProducer(self._input, True)
        if self._signed_on_before and self._answering:
            self._hidden = deque(maxlen=HIDDEN_KEPT)
        elif self._connected_before:
            self.console.note("Connected again.")
        self._connected_before = True
        if not self._answering:
            # The user answers the prompt: what they typed offline goes as typed.
            held, self._held = self._held, []
            for line in held:
                self._write(line)

    def send_password(self, password: bytes) -> None:
        """
        The password the user typed at the console's request. Sent if the
        server still waits for one; never held, shown or sent as a line.
        """
        if self._stage is _Stage.PASSWORD and self._protocol is not None:
            self._give_password(password)

    def received(self, text: str) -> None:
        """A line from the server: note what it changes, show it, answer it."""
        line = classify(text, self.nick)
        stage = self._stage
        signing_on = (_Stage.PROMPTED, _Stage.OFFERED, _Stage.CHECKING)
        if line.kind is Kind.SIGNED_ON and stage in signing_on:
            self._stage = _Stage.GREETED
            self.nick = line.subject
            if stage is _Stage.CHECKING:
                self._password, self._password_refused = self._sent_password, False
            self._sent_password = None
            if not self._answering:
                self._wanted_nick = self.nick
        elif line.kind is Kind.JOINED and stage in (_Stage.GREETED, _Stage.READY):
            self.room = line.subject
            if stage is _Stage.READY:
                self._wanted_room = self.room
        elif line.kind is Kind.RENAMED and stage is _Stage.READY:
            self.nick = self._wanted_nick = line.subject
        elif line.kind is Kind.ERROR and stage in (_Stage.OFFERED, _Stage.CHECKING):
            self._refused = line.body
            if stage is _Stage.CHECKING and self._sent_password == self._password:
                self._password_refused = True
        elif line.kind is Kind.KICKED:
            self._kicked_by = line.subject
        elif line.kind is Kind.REPLACED:
            self._replaced = True
        if line.kind is Kind.JOINED and stage is _Stage.GREETED:
            self._signed_on()  # first, so its note does not split the line from its listing
        self._show(line)
        if line.kind is Kind.PROMPT:
            self._prompted()
        elif line.kind is Kind.PASSWORD and stage in (*signing_on, _Stage.PASSWORD):
            assert line.subject is not None
            self._password_prompted(line.subject)
        if not self._answering:
            self._reveal()  # the user answers the prompt: they need to see it

    def _show(self, line: ServerLine) -> None:
        """
        Show C{line}, unless signing on again: then it is kept back, until
        the line saying we are back in our room, or one that the user must
        see (a refusal once signed on, a kick, being replaced).
        """
        hidden = self._hidden
        if hidden is None:
            self.console.show(line)
        elif (
            line.kind is Kind.JOINED
            and self._stage is _Stage.READY
            and self._wanted_room is not None
            and fold(self._wanted_room) == fold(line.subject or "")
        ):
            self._hidden = None
            self.console.show(line)
        elif line.kind in (Kind.KICKED, Kind.REPLACED) or (
            line.kind is Kind.ERROR and self._stage is _Stage.READY
        ):
            self._reveal()
            self.console.show(line)
        else:
            hidden.append(line)

    def _reveal(self) -> None:
        """Signing on again did not go as planned: show what was kept back."""
        hidden, self._hidden = self._hidden, None
        for line in hidden or ():
            self.console.show(line)

    def connection_failed(self, reason: Failure) -> None:
        """
        A connection was lost before it was ready: its TLS handshake failed.
        The first connection's failure is the caller's to report (L{ready});
        a later one's ends the session, as a certificate that fails now will
        fail again.
        """
        if not self.ready.called:
            self.ready.errback(reason)
        elif self._connected_before and not self._finished and is_tls_failure(reason):
            why = describe_tls_failure(reason.value) if reason.value else "TLS failed"
            self.console.note(f"Cannot connect again: {why}; not retrying.")
            self._status = 1
            self._finish()

    def disconnected(self, protocol: ChatClientProtocol, reason: Failure) -> None:
        if protocol is not self._protocol:
            return
        self._reveal()  # the server's last words, if signing on again was cut short
        self._protocol = None
        self._stage = _Stage.OFFLINE
        self.nick = self.room = None
        if self._quit_timer is not None and self._quit_timer.active():
            self._quit_timer.cancel()
        self._quit_timer = None
        if self._finished:
            return
        why = (
            "the server closed the connection"
            if reason.check(ConnectionDone)
            else reason.getErrorMessage()
        )
        if self._quitting:
            if self._held and not self._reconnect and not self._status:
                self.console.note("the connection closed before all input was sent")
                self._status = 1
            self._finish()
        elif self._kicked_by is not None:
            if self._reconnect:
                self.console.note(f"Kicked out by {self._kicked_by}; not reconnecting.")
            else:
                self.console.note(f"kicked out by {self._kicked_by}")
            self._status = 1
            self._finish()
        elif self._replaced:
            # Signing on again would put the other connection out in turn.
            if self._reconnect:
                self.console.note("Signed on from elsewhere; not reconnecting.")
            else:
                self.console.note("signed on from elsewhere")
            self._status = 1
            self._finish()
        elif not self._reconnect:
            self.console.note(f"connection lost: {why}")
            self._status = 1
            self._finish()
        else:
            self.console.note(f"Connection lost: {why}.")

    def retry_delay(self, attempt: int) -> float:
        """The L{ClientService} retry policy: the backoff's delay, told to the user."""
        delay = self._backoff(attempt)
        if self._reconnect and self._connected_before and not self._finished:
            self.console.note(f"Reconnecting in {delay:.1f} seconds.")
        return delay

    # Signing on

    def _prompted(self) -> None:
        """The server asks for a nickname: at first, or after refusing one."""
        if self._stage is _Stage.PASSWORD:  # the user gave no password: back to the nickname
            self._stage = _Stage.PROMPTED
            self._answering = False
            return
        if self._stage not in (_Stage.CONNECTED, _Stage.PROMPTED, _Stage.OFFERED, _Stage.CHECKING):
            return
        offered = self._stage in (_Stage.OFFERED, _Stage.CHECKING)
        self._stage = _Stage.PROMPTED
        refused, self._refused = self._refused, None
        if not self._answering or self._wanted_nick is None:
            return
        if not offered:
            self._offer()
        elif not self._reconnect:
            self._give_up(f"cannot sign on as {self._offered}: {refused or 'refused'}")
        elif self._signed_on_before and self._variant < NICK_VARIANTS:
            self._variant += 1
            self.console.note(f"Trying {nick_variant(self._wanted_nick, self._variant)} instead.")
            self._offer()
        else:
            self._answering = False
            if self._signed_on_before:
                self.console.note(f"Could not take back {self._wanted_nick}; type a nickname.")

    def _password_prompted(self, account: str) -> None:
        """
        The server asks for the password of C{account}: after our nickname,
        or again after a wrong one. The password we have, unless the server
        refused it; else the user's, if the console can ask; else give up.
        """
        refused = self._stage is _Stage.CHECKING
        self._stage = _Stage.PASSWORD
        if self._password is not None and not self._password_refused:
            self._give_password(self._password)
            return
        self._reveal()
        if self.console.ask_password(account):
            return
        if refused:
            self._give_up(f"cannot sign on as {account}: wrong password")
        else:
            self._give_up(
                f"cannot sign on as {account}: the nickname is registered; give its password "
                f"with --password-file or {PASSWORD_VARIABLE}"
            )

    def _give_password(self, password: bytes) -> None:
        assert self._protocol is not None
        self._stage = _Stage.CHECKING
        self._sent_password = password
        self._protocol.sendLine(password)

    def _offer(self) -> None:
        assert self._protocol is not None and self._wanted_nick is not None
        self._offered = nick_variant(self._wanted_nick, self._variant)
        self._stage = _Stage.OFFERED
        self._protocol.sendLine(self._offered.encode())

    def _signed_on(self) -> None:
        assert self.room is not None
        self._stage = _Stage.READY
        wanted = self._wanted_room
        rejoin = wanted if wanted is not None and fold(wanted) != fold(self.room) else None
        if rejoin is not None:
            self._write(f"/join {rejoin}".encode())
        else:
            self._wanted_room = self.room
        if self._signed_on_before:
            where = f"; rejoining {rejoin}" if rejoin is not None else ""
            self.console.note(f"Signed on again as {self.nick}{where}.")
            if self._hidden is not None:
                self._hidden.clear()  # the greeting and prompts are of no use now
        self._signed_on_before = True
        held, self._held = self._held, []
        for line in held:
            self._write(line)
        if self._input is not None:
            self._input.resumeProducing()

    # Sending and quitting

    def _hold(self, line: bytes) -> None:
        self._held.append(line)
        if self._input is not None:
            self._input.pauseProducing()

    def _write(self, line: bytes) -> None:
        assert self._protocol is not None
        self._protocol.sendLine(line)
        unread = self._still_unread() + 1
        self._unread, self._unread_at = unread, self._clock.seconds()
        if is_quit(line, signing_on=self._stage is not _Stage.READY):
            self._quitting = True
            if self._quit_timer is None:
                wait = QUIT_TIMEOUT + unread / PACE
                self._quit_timer = self._clock.callLater(wait, self._hang_up)

    def _still_unread(self) -> float:
        """How many of the lines sent the server may not have read yet, at L{PACE}."""
        elapsed = self._clock.seconds() - self._unread_at
        return max(0.0, self._unread - elapsed * PACE)

    def _hang_up(self) -> None:
        """The server did not close the connection after C{/quit}: close it ourselves."""
        self._quit_timer = None
        if self._protocol is not None:
            self._close(abort=True)

    def _give_up(self, reason: str) -> None:
        self.console.note(reason)
        self._status = 1
        self._quitting = True
        self._close()

    def _close(self, *, abort: bool = False) -> None:
        """
        Close the connection from this side, unregistering the input first: a
        transport does not close while a producer is registered with it (TLS
        does not even begin its shutdown), so the session would wait for the
        server to hang up.
        """
        assert self._protocol is not None
        transport = self._protocol.transport
        if self._input is not None:
            IConsumer(transport).unregisterProducer()
        tcp = ITCPTransport(transport, None) if abort else None
        if tcp is not None:
            tcp.abortConnection()
        else:
            transport.loseConnection()

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self.done.callback(self._status)


# Piped input and output


@implementer(IConsole, IHalfCloseableProtocol, IPushProducer)
class LineConsole(LineReceiver):
    """
    The console when stdin is not a terminal: every line read is sent, every
    server line is printed as it came, and the client's own notes go to
    stderr. Also the producer the connection throttles, so that a long input
    is read no faster than the server takes it.
    """

    delimiter = b"\n"
    MAX_LENGTH = LINE_MAX
    session: Session
    transport: StandardIO

    def __init__(self, errors: TextIO | None = None) -> None:
        self._errors = errors if errors is not None else sys.stderr
        self._closed: Deferred[None] = Deferred()
        self._writing = True
        self._stopped = False

    def connectionMade(self) -> None:
        self.session.read_from(self)

    def lineReceived(self, line: bytes) -> None:
        if not self._stopped:
            self.session.send(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        if not self._stopped:
            self._stopped = True
            self.session.end_input(f"stopped reading: a line is over {self.MAX_LENGTH} bytes")

    # IHalfCloseableProtocol

    def readConnectionLost(self) -> None:
        tail = self.clearLineBuffer()
        if tail and not self._stopped:
            self.session.send(tail)
        self.session.end_input()

    def writeConnectionLost(self) -> None:
        self._writing = False

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._writing = False
        if not self._closed.called:
            self._closed.callback(None)

    # IConsole

    def show(self, line: ServerLine) -> None:
        if self._writing:
            self.transport.write(line.text.encode() + b"\n")

    def note(self, text: str) -> None:
        self._errors.write(f"{PROGRAM}: {text}\n")
        self._errors.flush()

    def close(self) -> Deferred[None]:
        if not self._writing:
            return succeed(None)
        self.transport.loseConnection()
        return self._closed

    def ask_password(self, account: str) -> bool:
        return False

    # IPushProducer: only the reading side pauses; lines already read are still sent.

    def pauseProducing(self) -> None:
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        self.transport.resumeProducing()

    def stopProducing(self) -> None:
        """The connection to the server ending does not end the input."""
