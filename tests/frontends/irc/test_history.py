"""
IRCv3 C{draft/chathistory} line by line, on a fake clock with history in
memory: C{LATEST} with C{*} and with a timestamp, C{BEFORE} a timestamp,
as batches or without, and every refusal.
"""

from __future__ import annotations

from twisted.internet.task import Clock

from chatsvc.frontends.line.server import ChatFactory
from chatsvc.testing import FakeHistory
from tests.frontends.irc.test_server import Irc, IrcTestCase, S
from tests.support import Connection, make_factory

NOW = 1_795_000_000.0
"""2026-11-18 11:06:40 UTC, when carol says "one"; "two" 10 s later, "three" 20 s later."""


def at(seconds: float) -> str:
    """The C{server-time} of C{NOW + seconds}."""
    return f"2026-11-18T11:{6 + (40 + int(seconds)) // 60:02d}:{(40 + int(seconds)) % 60:02d}.000Z"


def said(text: str, seconds: float, batch: int | None = 1) -> str:
    tags = f"@time={at(seconds)}" + ("" if batch is None else f";batch={batch}")
    return f"{tags} :carol!carol@chatsvc PRIVMSG #lobby :{text}"


class ChatHistoryTests(IrcTestCase):
    def make_factory(self) -> ChatFactory:
        self.clock = Clock()
        self.clock.advance(NOW)
        return make_factory(clock=self.clock, history=FakeHistory(self.clock))

    def setUp(self) -> None:
        super().setUp()
        carol = Connection(self.factory)
        carol.send("carol")
        for text in ("one", "two", "three"):
            carol.send(text)
            self.clock.advance(10)
        self.now = at(30)

    def alice(self, caps: str = "batch server-time draft/chathistory") -> Irc:
        client = self.connect()
        client.send(f"CAP REQ :{caps}", "NICK alice", "USER u 0 * :A", "CAP END", "JOIN #lobby")
        client.lines()
        return client

    def batch(self, *lines: str, number: int = 1) -> list[str]:
        return [
            f"@time={self.now} BATCH +{number} chathistory #lobby",
            *lines,
            f"@time={self.now} BATCH -{number}",
        ]

    def test_latest(self) -> None:
        alice = self.alice()
        alice.send("CHATHISTORY LATEST #lobby * 2")
        self.assertEqual(alice.lines(), self.batch(said("two", 10), said("three", 20)))
        alice.send("CHATHISTORY LATEST #LOBBY * 500")
        self.assertEqual(
            alice.lines(),
            self.batch(said("one", 0, 2), said("two", 10, 2), said("three", 20, 2), number=2),
        )

    def test_latest_after_a_timestamp(self) -> None:
        """Only what was said after the timestamp, the latest of it if there is more."""
        alice = self.alice()
        alice.send(f"CHATHISTORY LATEST #lobby timestamp={at(5)} 10")
        self.assertEqual(alice.lines(), self.batch(said("two", 10), said("three", 20)))
        alice.send(f"CHATHISTORY LATEST #lobby timestamp={at(5)} 1")
        self.assertEqual(alice.lines(), self.batch(said("three", 20, 2), number=2))
        alice.send(f"CHATHISTORY LATEST #lobby timestamp={at(20)} 10")
        self.assertEqual(alice.lines(), self.batch(number=3), "nothing after the last line")

    def test_before_a_timestamp(self) -> None:
        alice = self.alice()
        alice.send(f"CHATHISTORY BEFORE #lobby timestamp={at(15)} 10")
        self.assertEqual(alice.lines(), self.batch(said("one", 0), said("two", 10)))
        alice.send(f"CHATHISTORY BEFORE #lobby timestamp={at(15)} 1")
        self.assertEqual(alice.lines(), self.batch(said("two", 10, 2), number=2))
        alice.send(f"CHATHISTORY BEFORE #lobby timestamp={at(0)} 10")
        self.assertEqual(alice.lines(), self.batch(number=3), "nothing before the first line")

    def test_timestamps_with_milliseconds_or_none(self) -> None:
        alice = self.alice()
        alice.send("CHATHISTORY BEFORE #lobby timestamp=2026-11-18T11:06:50.001Z 10")
        self.assertEqual(alice.lines(), self.batch(said("one", 0), said("two", 10)))
        alice.send("CHATHISTORY BEFORE #lobby timestamp=2026-11-18T11:06:50Z 10")
        self.assertEqual(alice.lines(), self.batch(said("one", 0, 2), number=2))

    def test_without_batch(self) -> None:
        alice = self.alice("server-time draft/chathistory")
        alice.send("CHATHISTORY LATEST #lobby * 2")
        self.assertEqual(alice.lines(), [said("two", 10, None), said("three", 20, None)])

    def test_without_server_time_each_line_says_when(self) -> None:
        alice = self.alice("batch draft/chathistory")
        alice.send("CHATHISTORY LATEST #lobby * 1")
        self.assertEqual(
            alice.lines(),
            [
                "BATCH +1 chathistory #lobby",
                "@batch=1 :carol!carol@chatsvc PRIVMSG #lobby :[2026-11-18 11:07] three",
                "BATCH -1",
            ],
        )

    def test_refusals(self) -> None:
        alice = self.alice()
        alice.send(
            "CHATHISTORY AROUND #lobby * 10",
            "CHATHISTORY LATEST #lobby *",
            "CHATHISTORY LATEST #dev * 10",
            "CHATHISTORY LATEST carol * 10",
            "CHATHISTORY LATEST #lobby * 0",
            "CHATHISTORY LATEST #lobby * 501",
            "CHATHISTORY LATEST #lobby * ten",
            "CHATHISTORY LATEST #lobby msgid=abc 10",
            "CHATHISTORY BEFORE #lobby * 10",
            "CHATHISTORY BEFORE #lobby timestamp=yesterday 10",
            "CHATHISTORY",
        )
        fail = f"@time={self.now} {S} FAIL CHATHISTORY"
        self.assertEqual(
            alice.lines(),
            [
                f"{fail} INVALID_PARAMS AROUND :Only LATEST and BEFORE are supported",
                f"{fail} INVALID_PARAMS LATEST :Not enough parameters",
                f"{fail} INVALID_TARGET LATEST #dev :Only channels you are in have history here",
                f"{fail} INVALID_TARGET LATEST carol :Only channels you are in have history here",
                f"{fail} INVALID_PARAMS LATEST 0 :The limit is 1 to 500",
                f"{fail} INVALID_PARAMS LATEST 501 :The limit is 1 to 500",
                f"{fail} INVALID_PARAMS LATEST ten :The limit is 1 to 500",
                f"{fail} INVALID_PARAMS LATEST msgid=abc :Only * and timestamp= are understood",
                f"{fail} INVALID_PARAMS BEFORE * :Only timestamp= is understood",
                f"{fail} INVALID_PARAMS BEFORE timestamp=yesterday :Only timestamp= is understood",
                f"@time={self.now} {S} 461 alice CHATHISTORY :Not enough parameters",
            ],
        )

    def test_before_registering(self) -> None:
        client = self.connect()
        client.send("CHATHISTORY LATEST #lobby * 10")
        self.assertEqual(client.lines(), [f"{S} 451 * :You have not registered"])
