"""
The load generator's WebSocket dialect (bench/loadgen.c --dialect ws) against
a made-up WebSocket chat server, written here so that it can do what a real
one does only sometimes: events fragmented into continuation frames, pings
between the fragments and before the first reply, lengths in each of the
three forms, fields in any order and strings with escapes, a delivery
dropped, one sent twice and one held back; it checks that every client frame
is masked, each with a key of its own. Then the handshake answered wrongly, an
error before entering the room, and a quick burst and reconnect storm against
the real chatsvc --web as bench/run.py runs it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import socketserver
import struct
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench import run as harness
from bench.run import Binaries, build
from tests.test_bench_harness import measure, quick

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

Fault = tuple[str, int, int]
"""A receiver's nickname, a sender's number and a sequence number."""


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> Binaries:
    return build(tmp_path_factory.mktemp("build"))


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A server frame: unmasked, its length in the shortest of the three forms."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def fragmented(payload: bytes, ping: bytes) -> bytes:
    """One text message in three frames (text, continuation, continuation), a ping between."""
    a, b = len(payload) // 3, 2 * len(payload) // 3
    return (
        frame(1, payload[:a], fin=False)
        + frame(9, ping)
        + frame(0, payload[a:b], fin=False)
        + frame(0, payload[b:])
    )


def escaped(obj: dict[str, Any]) -> bytes:
    """C{obj} as JSON, with its at signs written as the escape \\u0040 (valid JSON)."""
    return json.dumps(obj).replace("@", "\\u0040").encode()


class FakeWeb(socketserver.ThreadingTCPServer):
    """
    One room, C{lobby}, over WebSocket at C{/ws}. Each client is pinged before
    its hello is answered; the room's history on entering comes fragmented
    with a ping inside, padded past 64 KiB (a 64-bit length); deliveries take
    turns being one frame and three, their fields in varying order, with
    escapes and decoys (a nested object with a "text" of its own, a private
    message and another room's message that look like deliveries). The
    deliveries named in C{drop}, C{duplicate} and C{hold} (until the sender's
    next) are dropped, sent twice, held back; a nickname in C{refused} is
    answered an error when it signs on; C{accept} replaces the right
    Sec-WebSocket-Accept. With a line port (L{LineSeed}) the seed's lines are
    the history; C{replay} of them are shown, or an error (C{"id": null}) to
    the nicknames in C{no_replay}.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        *,
        drop: frozenset[Fault] = frozenset(),
        duplicate: frozenset[Fault] = frozenset(),
        hold: frozenset[Fault] = frozenset(),
        refused: frozenset[str] = frozenset(),
        no_replay: frozenset[str] = frozenset(),
        accept: str | None = None,
        replay: int = 20,
    ) -> None:
        super().__init__(("127.0.0.1", 0), WebClient)
        self.drop, self.duplicate, self.hold = drop, duplicate, hold
        self.refused, self.no_replay, self.accept, self.replay = refused, no_replay, accept, replay
        self.lock = threading.Lock()
        self.members: dict[str, socket.socket] = {}
        self.held: dict[tuple[str, int], bytes] = {}
        self.turn = 0
        self.pongs: list[tuple[str, bytes]] = []
        self.masks: list[bytes] = []
        self.unmasked = 0
        self.requests: list[dict[str, Any]] = []
        self.handshakes: list[dict[str, str]] = []
        self.history: list[str] = []
        self.closes: list[bytes] = []

    def relay(self, sender: str, text: str) -> None:
        words = text.split(" ")
        tagged = words[0] == "@T"
        with self.lock:
            for nick, sock in self.members.items():
                if nick == sender:
                    continue
                self.turn += 1
                event: dict[str, Any]
                if self.turn % 2:
                    event = {"type": "message", "room": "lobby", "nick": sender, "text": text}
                else:
                    event = {
                        "files": [{"name": 'a "text": "@T 9 9 9 x\\', "text": "@T 0 0 0 x"}],
                        "text": text,
                        "notice": False,
                        "nick": sender,
                        "time": 1764615780.5,
                        "room": "lobby",
                        "type": "message",
                    }
                data = escaped(event)
                wire = fragmented(data, b"mid") if self.turn % 3 == 0 else frame(1, data)
                if not tagged:
                    sock.sendall(wire)
                    continue
                fault = (nick, int(words[1]), int(words[2]))
                if fault in self.drop:
                    continue
                if fault in self.hold:
                    self.held[(nick, fault[1])] = wire
                    continue
                sock.sendall(wire * (2 if fault in self.duplicate else 1))
                late = self.held.pop((nick, fault[1]), None)
                if late is not None:
                    sock.sendall(late)


class WebClient(socketserver.StreamRequestHandler):
    server: FakeWeb

    def handle(self) -> None:
        chat = self.server
        request_line = self.rfile.readline()
        headers: dict[str, str] = {}
        for raw in self.rfile:
            if raw in (b"\r\n", b"\n"):
                break
            name, _, value = raw.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        headers["request"] = request_line.decode().strip()
        with chat.lock:
            chat.handshakes.append(headers)
        key = headers["sec-websocket-key"].encode()
        accept = chat.accept or base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        self.request.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n"
                f"Connection: Upgrade\r\nsec-websocket-accept:   {accept}\r\n\r\n"
            ).encode()
        )
        nick = ""
        try:
            while True:
                opcode, payload = self.read_frame()
                if opcode == 8:
                    with chat.lock:
                        chat.closes.append(payload)
                    break
                if opcode == 10:
                    with chat.lock:
                        chat.pongs.append((nick, payload))
                    continue
                request = json.loads(payload)
                with chat.lock:
                    chat.requests.append(request)
                nick = self.answer(request, nick)
        except (ConnectionError, EOFError):
            pass
        with chat.lock:
            chat.members.pop(nick, None)

    def read_frame(self) -> tuple[int, bytes]:
        head = self.rfile.read(2)
        if len(head) < 2:
            raise EOFError
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.rfile.read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.rfile.read(8))[0]
        masked = head[1] & 0x80
        mask = self.rfile.read(4) if masked else b"\0\0\0\0"
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(n)))
        with self.server.lock:
            if masked:
                self.server.masks.append(mask)
            else:
                self.server.unmasked += 1
        assert head[0] & 0x80, "the load generator does not fragment"
        return head[0] & 0x0F, payload

    def send(self, obj: dict[str, Any]) -> None:
        self.request.sendall(frame(1, escaped(obj)))

    def answer(self, request: dict[str, Any], nick: str) -> str:
        chat = self.server
        kind, rid = request["type"], request["id"]
        if kind == "hello":
            self.request.sendall(frame(9, b"hello?"))
            self.send({"type": "reply", "id": rid, "version": 1, "lobby": "lobby"})
        elif kind == "sign-on":
            nick = request["nick"]
            if nick in chat.refused:
                self.send(
                    {
                        "type": "error",
                        "id": rid,
                        "code": "nickname-taken",
                        "message": f'"{nick}" is taken',
                    }
                )
                return ""
            self.send({"type": "reply", "id": rid, "nick": nick, "account": None})
            self.request.sendall(
                frame(1, b'{"type":"private","from":"spy","to":"x","text":"@T 0 0 0 xx"}')
                + frame(1, b'{"type":"message","room":"dev","nick":"spy","text":"@T 0 0 0 x"}')
            )
            self.send({"type": "entered", "room": {"name": "lobby", "count": 1}})
            if nick in chat.no_replay:
                self.send(
                    {
                        "type": "error",
                        "id": None,
                        "code": "history-unavailable",
                        "message": "the history did not answer in time",
                    }
                )
            else:
                with chat.lock:
                    lines = [
                        {"type": "message", "room": "lobby", "nick": "seed", "text": text}
                        for text in chat.history[-chat.replay :]
                    ]
                replay = {
                    "type": "history",
                    "pad": "x" * 70_000,
                    "lines": [{"type": "message", "text": "@S 0 in a line"}, *lines],
                    "room": "lobby",
                    "joining": True,
                }
                self.request.sendall(fragmented(escaped(replay), b"in-history"))
            with chat.lock:
                chat.members[nick] = self.request
        elif kind == "say":
            assert request["room"] == "lobby", request
            said = {"type": "message", "room": "lobby", "nick": nick, "text": request["text"]}
            self.send({"type": "reply", "id": rid, "message": said})
            chat.relay(nick, request["text"])
        return nick


class LineSeed(socketserver.StreamRequestHandler):
    """The line port, for the seed: its lines are the room's history."""

    web: FakeWeb

    def handle(self) -> None:
        assert self.rfile.readline() == b"seed\r\n"
        for raw in self.rfile:
            with self.web.lock:
                self.web.history.append(raw.rstrip(b"\r\n").decode())


def serve(server: socketserver.TCPServer) -> int:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port: int = server.server_address[1]
    return port


def with_line_port(chat: FakeWeb) -> socketserver.ThreadingTCPServer:
    class Seed(LineSeed):
        web = chat

    line = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Seed)
    line.daemon_threads = True
    return line


def loadgen(binaries: Binaries, *args: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [str(binaries.loadgen), "--greeting", "--signon-timeout", "20", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, json.loads(done.stdout.splitlines()[-1]), done.stderr


def run_fake(binaries: Binaries, chat: FakeWeb, *args: str) -> tuple[int, dict[str, Any], str]:
    line = with_line_port(chat)
    try:
        return loadgen(
            binaries,
            *("--port", str(serve(line)), "--ws-port", str(serve(chat)), "--dialect", "ws"),
            *args,
        )
    finally:
        for server in (chat, line):
            server.shutdown()
            server.server_close()


def test_deliveries_over_websocket_lost_duplicated_and_reordered_are_counted(
    binaries: Binaries,
) -> None:
    """
    Every client upgrades with the server's own origin, answers each ping
    with its payload (also between the fragments of a message), signs on,
    reads its deliveries whatever their framing, field order and escapes,
    ignores the decoys, its own replies and a line of its replay; the one
    delivery dropped, the one sent twice and the one held back are counted
    as lost, duplicated and out of order. Every client frame is masked.
    """
    chat = FakeWeb(
        drop=frozenset({("u2", 0, 3)}),
        duplicate=frozenset({("u3", 1, 4)}),
        hold=frozenset({("u4", 0, 6)}),
    )
    status, result, _ = run_fake(
        binaries,
        chat,
        *("--clients", "6", "--senders", "2", "--messages", "10", "--drain-timeout", "2"),
    )
    assert status == 1, "a delivery is missing"
    assert (result["dialect"], result["ws_clients"]) == ("ws", 6)
    assert (result["expected"], result["delivered"]) == (100, 99)
    assert (result["lost"], result["duplicated"], result["out_of_order"]) == (1, 1, 1)
    assert (result["corrupt"], result["echoed"], result["ws_errors"]) == (0, 0, 0)
    nicks = {f"u{i}" for i in range(6)}
    pongs = Counter(payload for _, payload in chat.pongs)
    assert (pongs.pop(b"hello?"), pongs.pop(b"in-history")) == (6, 6)
    assert set(pongs) == {b"mid"}, "answered with the ping's own payload"
    assert {nick for nick, payload in chat.pongs if payload == b"in-history"} == nicks
    assert result["pings_answered"] == len(chat.pongs)
    assert chat.unmasked == 0
    assert len(set(chat.masks)) > len(chat.masks) // 2, "a key of its own for each frame"
    assert {h["request"] for h in chat.handshakes} == {"GET /ws HTTP/1.1"}
    port = chat.server_address[1]
    for h in chat.handshakes:
        assert (h["upgrade"].lower(), h["connection"].lower()) == ("websocket", "upgrade")
        assert (h["sec-websocket-version"], len(base64.b64decode(h["sec-websocket-key"]))) == (
            "13",
            16,
        )
        assert (h["host"], h["origin"]) == (f"127.0.0.1:{port}", f"http://127.0.0.1:{port}")
    said = [r for r in chat.requests if r["type"] == "say" and r["text"].startswith("@T")]
    assert len(said) == 20
    assert all(len(r["text"]) == 100 and r["text"].endswith("x") for r in said)
    hellos = [r for r in chat.requests if r["type"] == "hello"]
    assert all(r["versions"] == [1] and r["id"] == 1 for r in hellos)
    assert {r["nick"] for r in chat.requests if r["type"] == "sign-on"} == nicks
    assert len(chat.closes) == 0, "the server never closed"


def test_replays_over_websocket_are_counted_from_the_history_event(
    binaries: Binaries,
) -> None:
    """The seed says its lines on the line port; each replay is counted, or its error."""
    chat = FakeWeb(replay=3, no_replay=frozenset({"u1"}))
    status, result, _ = run_fake(
        binaries,
        chat,
        *("--clients", "4", "--senders", "1", "--history", "5", "--replay", "3"),
    )
    assert status == 0, result
    assert [text.split(" ")[:2] for text in chat.history] == [["@H", str(k)] for k in range(5)]
    assert (result["replay_clients"], result["replayed"]) == (4, 3)
    assert (result["replay_errors"], result["replay_short"]) == (1, 0)
    assert result["replay_error"] == "history-unavailable: the history did not answer in time"
    # Too few lines shown: short.
    chat = FakeWeb(replay=2)
    status, result, _ = run_fake(
        binaries, chat, "--clients", "3", "--history", "4", "--replay", "3"
    )
    assert (result["replayed"], result["replay_short"]) == (0, 3)


def test_a_wrong_accept_stops_the_run(binaries: Binaries) -> None:
    chat = FakeWeb(accept="AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    status, result, _ = run_fake(binaries, chat, "--clients", "2")
    assert status == 2
    assert re.fullmatch(
        r"client [01]: Sec-WebSocket-Accept AAAAAAAAAAAAAAAAAAAAAAAAAAA=, not [A-Za-z0-9+/]{27}=",
        result["error"],
    ), result


def test_an_error_before_entering_stops_the_run_with_the_servers_words(
    binaries: Binaries,
) -> None:
    chat = FakeWeb(refused=frozenset({"u1"}))
    status, result, _ = run_fake(binaries, chat, "--clients", "3")
    assert status == 2
    assert result["error"] == (
        "client 1 (WebSocket) before entering lobby: error nickname-taken: ?u1? is taken"
    )


@pytest.mark.parametrize("dialect", ["ws", "ws-readers"])
def test_loadgen_needs_the_websocket_port(dialect: str, binaries: Binaries) -> None:
    done = subprocess.run(
        [str(binaries.loadgen), "--port", "1", "--dialect", dialect],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 2
    assert f"--dialect {dialect} needs --ws-port" in done.stderr


# The real chatsvc --web, as bench/run.py runs it


@pytest.mark.parametrize("scenario", ["burst", "slow-consumer"])
def test_chatsvc_over_websocket(scenario: str, binaries: Binaries, tmp_path: Path) -> None:
    """All at once, or paced with a client that stops reading: nothing lost, nobody else dropped."""
    run = measure("chatsvc-web", quick(scenario), binaries, tmp_path)
    counts = run.counts()
    assert (counts["lost"], counts["duplicated"], counts["out_of_order"], counts["corrupt"]) == (
        0,
        0,
        0,
        0,
    )
    assert (counts["dropped"], counts["ws_errors"]) == (0, 0)
    assert run.result["dialect"] == "ws"
    assert counts["nonreaders_dropped"] == counts["nonreaders"]


@pytest.mark.parametrize("scenario", ["fan-out-burst", "fan-out-steady"])
def test_a_fan_out_to_websocket_from_line_senders(
    scenario: str, binaries: Binaries, tmp_path: Path
) -> None:
    """
    The senders on the line protocol, the others reading over WebSocket, in
    one room: every line reaches every client of both wires, in order.
    """
    run = measure("chatsvc-web-readers", quick(scenario), binaries, tmp_path)
    counts = run.counts()
    assert (counts["lost"], counts["duplicated"], counts["out_of_order"], counts["corrupt"]) == (
        0,
        0,
        0,
        0,
    )
    assert (counts["dropped"], counts["ws_errors"]) == (0, 0)
    result = run.result
    assert result["dialect"] == "ws-readers"
    assert result["ws_clients"] == result["clients"] - result["senders"] > 0
    assert result["delivered"] == result["expected"] > 0


def test_reconnect_storm_over_websocket_against_chatsvc(binaries: Binaries, tmp_path: Path) -> None:
    """Every client is shown its replay of the seed's lines, in the history event."""
    run = measure("chatsvc-web", quick("reconnect-storm"), binaries, tmp_path)
    counts = run.counts()
    assert (run.result["history"], run.result["replay"]) == (25, 20)
    assert counts["replay_clients"] == counts["replayed"] == run.result["clients"]
    assert (counts["replay_errors"], counts["replay_short"]) == (0, 0)


def test_this_chatsvc_has_the_web_frontend() -> None:
    assert harness.chatsvc_has_web()
