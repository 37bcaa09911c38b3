"""
Property tests: several connections driven by random bytes, random splits of
valid traffic and random command sequences, to a chat without accounts and to
one with accounts and an operator, whose passwords are checked later, when the
test says. Peers stop reading and start again, and their transports back up as
a socket's would. After every step the server must be consistent (no two
connections share a nickname, each signed-on connection is one participant, a
registered nickname belongs to its account), everything it wrote well formed,
and what it queued for a peer that is not reading bounded; at the end, with
every peer reading and every check answered, every connection must be read
again.

What users type is checked against the README's rules by an oracle of its own
(L{documented}), never by L{chatsvc.frontends.line.wire.sanitise}.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from chatsvc.chat.interfaces import IAccountNames
from chatsvc.chat.model import fold
from chatsvc.frontends.line.server import ChatFactory, ChatServerProtocol
from chatsvc.streams.limits import Limits
from tests.support import PASSWORDS, Connection, make_factory, signed_on, with_accounts

MAX_LINE = 300
PEERS = 4
SEND_BUFFER = 150
"""C{--max-send-buffer} here: small, so that a peer that stops reading is dropped."""
SOCKET_BUFFER = 120
"""Bytes a L{BackingUpTransport} takes before it says its peer is not reading."""

NEVER_SENT = frozenset(
    [
        *range(0x00, 0x20),  # C0 controls (TAB becomes a space; \n only ends lines)
        0x7F,  # DEL
        *range(0x80, 0xA0),  # C1 controls
        0x2028,  # LINE SEPARATOR and PARAGRAPH SEPARATOR become spaces
        0x2029,
        *range(0x202A, 0x202F),  # bidi embeddings and overrides
        *range(0x2066, 0x206A),  # bidi isolates
    ]
)
"""The code points no line from the server may hold, as the README lists them."""

SPACED = frozenset([0x09, 0x2028, 0x2029])
"""What becomes a space rather than going."""

FILLERS = frozenset([0x115F, 0x1160, 0x2800, 0x3164, 0xFFA0])
"""Blanks that are not spaces: the Hangul fillers and the Braille blank."""

ZERO_WIDTH = frozenset(
    [
        0x00AD,
        0x034F,
        0x061C,
        0x180E,
        *range(0x200B, 0x2010),
        *range(0x2060, 0x2065),
        *range(0xFE00, 0xFE10),
        0xFEFF,
        *range(0xE0000, 0xE0080),
    ]
)
"""The zero-width characters that do not break a run of blanks."""

BLANK_RUN = 4
"""The most blanks in a row that are relayed as they are."""


def _blank(c: str) -> bool:
    return c.isspace() or ord(c) in FILLERS


def documented(text: str) -> str:
    """
    C{text} as the README says the server relays it: controls, DEL and bidi
    overrides gone, TAB and the line separators spaces, and a run of more than
    four blanks (zero-width characters between them counted in) four spaces.
    """
    kept = [
        " " if ord(c) in SPACED else c for c in text if ord(c) in SPACED or ord(c) not in NEVER_SENT
    ]
    out: list[str] = []
    i = 0
    while i < len(kept):
        if not _blank(kept[i]):
            out.append(kept[i])
            i += 1
            continue
        blanks, end = 0, i
        for j in range(i, len(kept)):
            if _blank(kept[j]):
                blanks, end = blanks + 1, j + 1
            elif ord(kept[j]) not in ZERO_WIDTH:
                break
        out.append(" " * BLANK_RUN if blanks > BLANK_RUN else "".join(kept[i:end]))
        i = end
    return "".join(out)


class BackingUpTransport(StringTransport):
    """
    A transport whose peer may stop reading: then what is written piles up,
    and past L{SOCKET_BUFFER} bytes the transport tells its producer to pause,
    as a socket's transport does; once the peer reads it all, to resume.
    """

    def __init__(self, peer: IPv4Address) -> None:
        super().__init__(peerAddress=peer)
        self.reading = True
        self.backed_up = False
        self.queued = 0
        """
        Bytes written since the producer was told to pause, while it was
        registered: what the server must count against C{--max-send-buffer}.
        (The last words of a hang-up come after it unregisters.)
        """
        self.lost = False

    def write(self, data: bytes) -> None:
        if self.lost:
            return  # as a socket's transport, once the connection is lost
        super().write(data)
        producer: IPushProducer | None = self.producer
        if self.backed_up:
            if producer is not None:
                self.queued += len(data)
        elif not self.reading and len(self.value()) > SOCKET_BUFFER:
            self.backed_up = True
            self.queued = 0
            if producer is not None:
                producer.pauseProducing()

    def read(self) -> bytes:
        """The peer reads everything held, and reads on from now."""
        data: bytes = self.value()
        self.clear()
        self.reading = True
        if self.backed_up and not self.lost:
            self.backed_up = False
            producer: IPushProducer | None = self.producer
            if producer is not None:
                producer.resumeProducing()
        return data


class Peer(Connection):
    """A L{Connection} over a L{BackingUpTransport}."""

    transport: BackingUpTransport

    def __init__(self, factory: ChatFactory, port: int, host: str) -> None:
        self.transport = BackingUpTransport(IPv4Address("TCP", host, port))
        protocol = factory.buildProtocol(self.transport.getPeer())
        assert isinstance(protocol, ChatServerProtocol)
        self.protocol = protocol
        protocol.makeConnection(self.transport)

    def close(self) -> None:
        super().close()
        self.transport.lost = True


@implementer(ICredentialsChecker, IAccountNames)
class LaterChecker:
    """The accounts of L{PASSWORDS}, whose passwords are checked when the test says."""

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self) -> None:
        self.pending: list[tuple[Deferred[bytes | tuple[()]], IUsernamePassword]] = []

    def account_for(self, nick: str) -> str | None:
        return next((name for name in PASSWORDS if fold(name) == fold(nick)), None)

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[bytes | tuple[()]]:
        checked: Deferred[bytes | tuple[()]] = Deferred()
        self.pending.append((checked, credentials))
        return checked

    def answer(self) -> None:
        """Answer every check asked for so far, in order."""
        pending, self.pending = self.pending, []
        for checked, credentials in pending:
            name = credentials.username.decode()
            if PASSWORDS.get(name) == credentials.password:
                checked.callback(credentials.username)
            else:
                checked.errback(UnauthorizedLogin())


nicks = st.sampled_from(
    ["alice", "ALICE", "bob", "Bob", "carol", "Root", "b@d", "", "x" * 33, "/quit", "a\x1bb"]
)
guests = st.builds(lambda i, k: f"GUEST{i}" if k else f"guest{i}", st.integers(0, 3), st.booleans())
"""The nicknames of the peers that start signed on, in either case."""
rooms = st.sampled_from(["lobby", "dev", "#DEV", "bad room", "r" * 40, "\u202edev"])
texts = st.text(max_size=40) | st.sampled_from(
    ["", " ", "x" * 400, "y" * 200, "\x1b[31m", "\r", "\t"]
)
signing_on = st.sampled_from(["alice\nsecret", "bob\nhunter2", "Root\nt00r", "Bob\nwrong"])
"""A nickname and a password, on two lines: most are right."""
chatter = st.builds(lambda t: f"{t[:20]} " + "y" * 200, texts)
"""Room messages long enough that a peer not reading soon has too many."""
lines = st.one_of(
    nicks,
    texts,
    signing_on,
    chatter,
    st.builds(lambda n: f"/nick {n}", nicks),
    st.builds(lambda n: f"/nick {n}", guests),
    st.builds(lambda n, t: f"/msg {n} {t}", guests, texts),
    st.builds(lambda r: f"/join {r}", rooms),
    st.builds(lambda r: f"/who {r}", rooms),
    st.just("/who"),
    st.just("/rooms"),
    st.just("/help"),
    st.builds(lambda n, t: f"/msg {n} {t}", nicks, texts),
    st.builds(lambda t: f"/me {t}", texts),
    st.builds(lambda t: f"/quit {t}", texts),
    st.builds(lambda t: f"//{t}", texts),
    st.builds(lambda t: f"/{t}", texts),
    st.sampled_from(["secret", "hunter2", "t00r", "wrong", "/topic", "/kick bob", "/kick ALICE"]),
    st.builds(lambda t: f"/topic {t}", texts),
    st.builds(lambda n, t: f"/kick {n} {t}", nicks, texts),
)


@st.composite
def traffic(draw: st.DrawFn) -> bytes:
    """Valid lines, encoded, with \\n or \\r\\n endings."""
    chosen = draw(st.lists(lines, min_size=1, max_size=5))
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    return b"".join(line.encode("utf-8", "surrogatepass") + ending for line in chosen)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return [p for p in pieces if p]


def _step(kind: str) -> st.SearchStrategy[tuple[str, int, bytes, list[int]]]:
    return st.tuples(st.just(kind), st.integers(0, PEERS - 1), st.just(b""), st.just([]))


actions: st.SearchStrategy[tuple[str, int, bytes, list[int]]] = st.one_of(
    st.tuples(
        st.just("send"),
        st.integers(0, PEERS - 1),
        traffic(),
        st.lists(st.integers(0, 500), max_size=4),
    ),
    st.tuples(st.just("bytes"), st.integers(0, PEERS - 1), st.binary(max_size=600), st.just([])),
    _step("close"),
    _step("stall"),
    _step("read"),
    _step("answer"),
    st.tuples(st.just("tick"), st.integers(0, 120), st.just(b""), st.just([])),
)

starts = st.sampled_from(["fresh", "chatting", "one not reading"])
"""
How a run starts: no peer signed on; every peer signed on (as a guest), so
that what they say reaches the others at once; or that, with the first peer
not reading, so that its transport backs up and it is dropped.
"""

# Characters the rules are about, and some that they are not.
interesting = st.sampled_from(
    [
        *map(chr, [0x00, 0x07, 0x09, 0x0B, 0x1B, 0x1F, 0x7F, 0x85, 0x9B, 0x9F]),
        *map(chr, [0x202A, 0x202E, 0x2066, 0x2069, 0x2028, 0x2029, 0x200E, 0x200F]),
        *map(chr, [0x20, 0xA0, 0x1680, 0x2000, 0x2003, 0x200A, 0x202F, 0x205F, 0x3000]),
        *map(chr, sorted(FILLERS)),
        *map(chr, [0x00AD, 0x200B, 0x200D, 0x2060, 0xFE0F, 0xFEFF, 0xE0020, 0xE007F]),
        *map(chr, [0x1C, 0x1D, 0x1E, 0x1F]),
        "a",
        "*",
        "é",
        "\U0001f389",
    ]
)
blank_runs = st.lists(
    st.sampled_from(
        [
            *[" ", "\t", "\u00a0", "\u2003", "\u3000", "\u2028"],
            *map(chr, sorted(FILLERS)),
            *map(chr, [0x00AD, 0x200B, 0x200D, 0x2060, 0xFE0F, 0xFEFF, 0xE0020]),
        ]
    ),
    min_size=3,
    max_size=9,
).map("".join)
"""Blanks and zero-width characters mixed: runs of blanks, long and short."""
user_text = st.lists(
    st.text(
        alphabet=interesting | st.characters(exclude_characters="\n", exclude_categories=["Cs"]),
        max_size=12,
    )
    | blank_runs,
    max_size=8,
).map("".join)


class ServerProperties(SynchronousTestCase):
    def check(self, factory: ChatFactory, peers: list[Peer]) -> None:
        """The invariants that hold after every step."""
        chat = factory.chat
        self.assertLessEqual(factory.connections, {p.protocol for p in peers})
        signed = [
            p.protocol
            for p in peers
            if p.protocol in factory.connections and p.protocol.participant is not None
        ]
        keys = [fold(protocol.participant.nick) for protocol in signed if protocol.participant]
        self.assertEqual(sorted(keys), sorted(set(keys)), "two connections share a nickname")
        self.assertEqual(len(chat), len(signed))
        for protocol in signed:
            participant = protocol.participant
            assert participant is not None
            self.assertIs(participant.client, protocol)
            self.assertIs(chat.find(participant.nick), participant)
        self.assertEqual({id(p) for p in chat}, {id(protocol.participant) for protocol in signed})
        for participant in chat:
            homes = [room for room in chat.rooms() if participant in room]
            self.assertEqual(homes, [participant.room])
            owner = chat.registered(participant.nick)
            if owner is not None:
                assert participant.account is not None, participant
                self.assertEqual(fold(participant.account.name), fold(owner))
        for peer in peers:
            transport = peer.transport
            self.assertLessEqual(transport.queued, SEND_BUFFER, "over the bound, not dropped")
            if transport.reading:
                self.check_output(transport.read())

    def check_output(self, data: bytes) -> None:
        if not data:
            return
        self.assertTrue(data.endswith(b"\n"), data)
        for line in data.split(b"\n")[:-1]:
            self.assertLessEqual(len(line), MAX_LINE, line)
            text = line.decode("utf-8")
            self.assertEqual([c for c in text if ord(c) in NEVER_SENT], [], line)

    def check_reading_again(
        self, factory: ChatFactory, clock: Clock, peers: list[Peer], checker: LaterChecker | None
    ) -> None:
        """
        With every peer reading, every check answered and every delay over,
        each connection still open is read from, and has no line left unread.
        """

        def stuck() -> list[Peer]:
            return [
                peer
                for peer in peers
                if peer.protocol in factory.connections
                and not peer.transport.disconnecting
                and (peer.transport.producerState != "producing" or b"\n" in peer.protocol._buffer)
            ]

        for _ in range(300):  # lines a peer sent at once come at --rate: 5 a second
            if checker is not None:
                checker.answer()
            for peer in peers:
                self.check_output(peer.transport.read())
            if not stuck():
                break
            clock.advance(1)
        self.assertEqual([peer.protocol.peer for peer in stuck()], [])

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(actions, max_size=40), starts)
    def test_random_traffic(
        self, steps: list[tuple[str, int, bytes, list[int]]], start: str
    ) -> None:
        clock = Clock()
        factory = ChatFactory(clock=clock, limits=self.limits())
        self.run_traffic(factory, clock, steps, start=start)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(actions, max_size=40), starts)
    def test_random_traffic_with_accounts(
        self, steps: list[tuple[str, int, bytes, list[int]]], start: str
    ) -> None:
        clock, checker = Clock(), LaterChecker()
        factory = with_accounts(
            operators=["alice"], checker=checker, clock=clock, limits=self.limits()
        )
        self.run_traffic(factory, clock, steps, checker, start=start)

    def limits(self) -> Limits:
        return Limits(max_line=MAX_LINE, rate=5, burst=5, max_send_buffer=SEND_BUFFER)

    def run_traffic(
        self,
        factory: ChatFactory,
        clock: Clock,
        steps: list[tuple[str, int, bytes, list[int]]],
        checker: LaterChecker | None = None,
        *,
        start: str = "fresh",
    ) -> None:
        """Carry out C{steps}, from the C{start} given (see L{starts})."""
        peers = [Peer(factory, port=i, host=f"10.0.0.{i}") for i in range(PEERS)]
        if start != "fresh":
            for i, peer in enumerate(peers):
                peer.send(f"guest{i}")
        if start == "one not reading":
            peers[0].transport.reading = False
        with capturedLogs() as events:
            for kind, n, data, cuts in steps:
                if kind == "tick":
                    clock.advance(n / 10)
                    self.check(factory, peers)
                    continue
                peer = peers[n]
                if peer.protocol not in factory.connections:
                    peers[n] = peer = Peer(factory, port=100 + n, host=f"10.0.0.{n}")
                if kind == "answer":
                    if checker is not None:
                        checker.answer()
                elif kind == "stall":
                    peer.transport.reading = False
                elif kind == "read":
                    self.check_output(peer.transport.read())
                elif kind == "close":
                    peer.close()
                else:
                    for piece in split(data, cuts) if cuts else [data]:
                        peer.protocol.dataReceived(piece)
                clock.advance(0)  # the reactor's turn ends: what was held is written
                for other in peers:
                    if other.transport.disconnecting and other.protocol in factory.connections:
                        other.close()
                self.check(factory, peers)
            self.check_reading_again(factory, clock, peers, checker)
        problems = [e for e in events if e.get("log_failure") or e["log_level"] >= LogLevel.error]
        self.assertEqual(problems, [])


class RelayedTextProperties(SynchronousTestCase):
    """What one user types reaches the others as the README says it does."""

    def setUp(self) -> None:
        self.factory = make_factory(limits=Limits(max_line=MAX_LINE, rate=0))
        self.alice = signed_on(self.factory, "alice")
        self.bob = signed_on(self.factory, "bob", port=40001)
        self.alice.lines()

    def assertRelayed(self, line: str, prefix: str, expected: str) -> None:
        """C{line} from alice reaches bob as C{prefix + expected}, or is refused if too long."""
        self.alice.send(line.encode())
        size, room = len(expected.encode()), MAX_LINE - len(prefix)
        if size > room:
            error = f"*** Error: message too long ({size} bytes; at most {room} from you)"
            self.assertEqual((self.alice.lines(), self.bob.lines()), ([error], []))
        else:
            self.assertEqual((self.alice.lines(), self.bob.lines()), ([], [prefix + expected]))

    @settings(max_examples=500, deadline=None)
    @given(user_text)
    def test_messages(self, text: str) -> None:
        self.assertRelayed(f".{text}", "<alice> ", documented(f".{text}"))

    @settings(max_examples=300, deadline=None)
    @given(user_text)
    def test_actions(self, text: str) -> None:
        self.assertRelayed(f"/me .{text}", "* alice ", documented(f".{text}").strip())
