"""
Property tests: several connections over StringTransport driven by random
bytes, random splits of valid traffic and random command sequences, to a chat
without accounts and to one with accounts and an operator. After every step
the server must be consistent and everything it wrote well formed, and a
registered nickname must belong to its account.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.limits import Limits
from chatsvc.model import fold
from chatsvc.server import ChatFactory
from tests.support import Connection, with_accounts

MAX_LINE = 300
PEERS = 4

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
"""
The code points no line from the server may hold, as the README lists them:
an oracle of its own, not L{wire.sanitise}.
"""

nicks = st.sampled_from(["alice", "ALICE", "bob", "carol", "b@d", "", "x" * 33, "/quit", "a\x1bb"])
rooms = st.sampled_from(["lobby", "dev", "#DEV", "bad room", "r" * 40, "\u202edev"])
texts = st.text(max_size=40) | st.sampled_from(["", " ", "x" * 400, "\x1b[31m", "\r", "\t"])
lines = st.one_of(
    nicks,
    texts,
    st.builds(lambda n: f"/nick {n}", nicks),
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
    st.sampled_from(["secret", "hunter2", "wrong", "/topic", "/kick bob", "/kick ALICE"]),
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


actions: st.SearchStrategy[tuple[str, int, bytes, list[int]]] = st.one_of(
    st.tuples(
        st.just("send"),
        st.integers(0, PEERS - 1),
        traffic(),
        st.lists(st.integers(0, 500), max_size=4),
    ),
    st.tuples(st.just("bytes"), st.integers(0, PEERS - 1), st.binary(max_size=600), st.just([])),
    st.tuples(st.just("close"), st.integers(0, PEERS - 1), st.just(b""), st.just([])),
    st.tuples(st.just("tick"), st.integers(0, 120), st.just(b""), st.just([])),
)


class ServerProperties(SynchronousTestCase):
    def check(self, factory: ChatFactory, connections: list[Connection]) -> None:
        chat = factory.chat
        named = {
            fold(c.protocol.participant.nick): c.protocol.participant
            for c in connections
            if c.protocol in factory.connections and c.protocol.participant is not None
        }
        self.assertEqual({fold(p.nick): p for p in chat}, named)
        for participant in chat:
            homes = [room for room in chat.rooms() if participant in room]
            self.assertEqual(homes, [participant.room])
            owner = chat.registered(participant.nick)
            if owner is not None:
                assert participant.account is not None, participant
                self.assertEqual(fold(participant.account.name), fold(owner))
        for c in connections:
            data = c.transport.value()
            c.transport.clear()
            if not data:
                continue
            self.assertTrue(data.endswith(b"\n"), data)
            for line in data.split(b"\n")[:-1]:
                self.assertLessEqual(len(line), MAX_LINE, line)
                text = line.decode("utf-8")
                self.assertEqual([c for c in text if ord(c) in NEVER_SENT], [], line)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(actions, max_size=40))
    def test_random_traffic(self, steps: list[tuple[str, int, bytes, list[int]]]) -> None:
        clock = Clock()
        factory = ChatFactory(
            clock=clock, limits=Limits(max_line=MAX_LINE, rate=5, burst=5, max_send_buffer=2000)
        )
        self.run_traffic(factory, clock, steps)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(actions, max_size=40))
    def test_random_traffic_with_accounts(
        self, steps: list[tuple[str, int, bytes, list[int]]]
    ) -> None:
        clock = Clock()
        factory = with_accounts(
            operators=["alice"],
            clock=clock,
            limits=Limits(max_line=MAX_LINE, rate=5, burst=5, max_send_buffer=2000),
        )
        self.run_traffic(factory, clock, steps)

    def run_traffic(
        self, factory: ChatFactory, clock: Clock, steps: list[tuple[str, int, bytes, list[int]]]
    ) -> None:
        connections = [Connection(factory, port=i, host=f"10.0.0.{i}") for i in range(PEERS)]
        with capturedLogs() as events:
            for kind, n, data, cuts in steps:
                if kind == "tick":
                    clock.advance(n / 10)
                else:
                    c = connections[n]
                    if c.protocol not in factory.connections:
                        connections[n] = c = Connection(factory, port=100 + n, host=f"10.0.0.{n}")
                    if kind == "close" or c.transport.disconnecting:
                        c.close()
                    else:
                        for piece in split(data, cuts) if cuts else [data]:
                            c.protocol.dataReceived(piece)
                self.check(factory, connections)
        problems = [e for e in events if e.get("log_failure") or e["log_level"] >= LogLevel.error]
        self.assertEqual(problems, [])
