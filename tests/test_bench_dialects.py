"""
The load generator's IRC dialect (bench/loadgen.c --dialect irc|mixed)
against a made-up IRC server: registration through the numerics real servers
send, PINGs at any time, IRCv3 tags on deliveries, the seed of a room's
history over IRC, deliveries lost, duplicated and reordered on purpose and
counted as such, a numeric error before joining, and one room on two
frontends (line protocol and IRC) at once; then a burst over IRC against the
real InspIRCd and ngIRCd as bench/run.py configures them, and the seed of
the reconnect storm against ngIRCd.
"""

from __future__ import annotations

import json
import socket
import socketserver
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from bench.run import Binaries, build
from tests import system
from tests.test_bench_harness import measure, quick


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> Binaries:
    return build(tmp_path_factory.mktemp("build"))


Fault = tuple[str, int, int]
"""A receiver's nickname, a sender's number and a sequence number."""


class FakeIRC(socketserver.ThreadingTCPServer):
    """
    A made-up server with one room, C{#lobby}, on IRC and (with C{line}) on
    the line protocol too, on a second port. On IRC, it PINGs each client
    before its welcome and again just before its first tagged message,
    sends the numerics of a real server (001-005, 251-266; a MOTD to even
    nicknames, 422 to odd ones), a NOTICE with tags, a private PRIVMSG that
    looks like a tagged line, and every delivery behind IRCv3 tags. It drops,
    duplicates or holds back (until the sender's next message) the deliveries
    named in C{drop}, C{duplicate} and C{hold}, and answers the JOIN of a
    nickname in C{banned} with 474.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        drop: frozenset[Fault] = frozenset(),
        duplicate: frozenset[Fault] = frozenset(),
        hold: frozenset[Fault] = frozenset(),
        banned: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(("127.0.0.1", 0), IRCClient)
        self.drop, self.duplicate, self.hold, self.banned = drop, duplicate, hold, banned
        self.lock = threading.Lock()
        self.members: dict[str, tuple[str, socket.socket]] = {}
        """Nickname: the wire (C{irc} or C{line}) and the socket."""
        self.held: dict[tuple[str, int], bytes] = {}
        self.pinged: set[str] = set()
        self.pongs: list[tuple[str, str]] = []
        self.history: list[bytes] = []
        """What the client C{seed} said."""

    def relay(self, sender: str, text: bytes) -> None:
        """C{text} from C{sender} to everyone else in the room, on their own wires."""
        words = text.split(b" ")
        tagged = words[0] == b"@T"
        with self.lock:
            for nick, (wire, sock) in self.members.items():
                if nick == sender:
                    continue
                if wire == "line":
                    sock.sendall(b"<" + sender.encode() + b"> " + text + b"\r\n")
                    continue
                line = (
                    b"@time=2026-12-01T18:00:00.000Z;msgid=x1 :"
                    + sender.encode()
                    + b"!"
                    + sender.encode()
                    + b"@127.0.0.1 PRIVMSG #lobby :"
                    + text
                    + b"\r\n"
                )
                if not tagged:
                    sock.sendall(line)
                    continue
                if nick not in self.pinged:
                    self.pinged.add(nick)
                    sock.sendall(b"PING :mid-" + nick.encode() + b"\r\n")
                fault = (nick, int(words[1]), int(words[2]))
                if fault in self.drop:
                    continue
                if fault in self.hold:
                    self.held[(nick, fault[1])] = line
                    continue
                sock.sendall(line * (2 if fault in self.duplicate else 1))
                late = self.held.pop((nick, fault[1]), None)
                if late is not None:
                    sock.sendall(late)


class IRCClient(socketserver.StreamRequestHandler):
    server: FakeIRC

    def handle(self) -> None:
        chat, nick, user = self.server, "", ""
        for raw in self.rfile:
            line = raw.rstrip(b"\r\n")
            command, _, rest = line.partition(b" ")
            if command == b"NICK":
                nick = rest.decode()
            elif command == b"USER":
                user = rest.decode()
            elif command == b"PONG":
                with chat.lock:
                    chat.pongs.append((nick, rest.removeprefix(b":").decode()))
            elif command == b"JOIN" and rest == b"#lobby":
                self.join(nick)
            elif command == b"PRIVMSG":
                target, _, text = rest.partition(b" :")
                assert target == b"#lobby", line
                if nick == "seed":
                    chat.history.append(text)
                else:
                    chat.relay(nick, text)
            elif command == b"QUIT":
                break
            if nick and user and command == b"USER":
                self.welcome(nick)
        with chat.lock:
            chat.members.pop(nick, None)

    def send(self, *lines: str) -> None:
        self.request.sendall("".join(line + "\r\n" for line in lines).encode())

    def welcome(self, nick: str) -> None:
        me = ":fake.irc"
        self.send(f"PING :reg-{nick}")
        self.send(
            f"{me} 001 {nick} :Welcome to the fake network {nick}!{nick}@127.0.0.1",
            f"{me} 002 {nick} :Your host is fake.irc",
            f"{me} 003 {nick} :This server was created today",
            f"{me} 004 {nick} fake.irc fake-1 iosw biklmnopstv",
            f"{me} 005 {nick} CHANTYPES=# NICKLEN=30 :are supported by this server",
            f"{me} 251 {nick} :There are 3 users and 0 invisible on 1 servers",
            f"{me} 254 {nick} 1 :channels formed",
            f"{me} 255 {nick} :I have 3 clients and 0 servers",
            f"{me} 265 {nick} :Current local users: 3  Max: 3",
            f"{me} 266 {nick} :Current global users: 3  Max: 3",
            f"@time=2026-12-01T18:00:00.000Z {me} NOTICE {nick} :*** tags on a notice",
            f":spy!spy@127.0.0.1 PRIVMSG {nick} :@T 0 0 0 {'x' * 80}",
        )
        if nick == "seed" or int(nick[1:]) % 2:
            self.send(f"{me} 422 {nick} :MOTD File is missing")
        else:
            self.send(
                f"{me} 375 {nick} :- fake.irc Message of the day -",
                f"{me} 372 {nick} :- @S 0 is not a sync line here",
                f"{me} 376 {nick} :End of /MOTD command.",
            )

    def join(self, nick: str) -> None:
        chat = self.server
        if nick in chat.banned:
            self.send(f":fake.irc 474 {nick} #lobby :Cannot join channel (+b)")
            return
        with chat.lock:
            chat.members[nick] = ("irc", self.request)
            names = " ".join(chat.members)
        self.send(
            f":{nick}!{nick}@127.0.0.1 JOIN :#lobby",
            f":fake.irc 353 {nick} = #lobby :{names}",
            f":fake.irc 366 {nick} #lobby :End of /NAMES list.",
        )


class LineClient(socketserver.StreamRequestHandler):
    """The same room on the line protocol: a nickname first, then lines said to the room."""

    irc: FakeIRC

    def handle(self) -> None:
        nick = self.rfile.readline().strip().decode()
        with self.irc.lock:
            self.irc.members[nick] = ("line", self.request)
        self.request.sendall(b"*** Welcome, " + nick.encode() + b"\r\n")
        for raw in self.rfile:
            self.irc.relay(nick, raw.rstrip(b"\r\n"))
        with self.irc.lock:
            self.irc.members.pop(nick, None)


def serve(server: socketserver.TCPServer) -> int:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port: int = server.server_address[1]
    return port


def loadgen(binaries: Binaries, *args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [str(binaries.loadgen), "--greeting", "--signon-timeout", "20", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, json.loads(done.stdout.splitlines()[-1])


def test_deliveries_over_irc_lost_duplicated_and_reordered_are_counted(
    binaries: Binaries,
) -> None:
    """
    Every client registers through the numerics, answers each PING, joins,
    reads its deliveries behind tags and ignores the private PRIVMSG; the one
    delivery dropped, the one sent twice and the one held back are counted
    as lost, duplicated and out of order; the seed said its lines over IRC.
    """
    chat = FakeIRC(
        drop=frozenset({("u2", 0, 3)}),
        duplicate=frozenset({("u3", 1, 4)}),
        hold=frozenset({("u4", 0, 6)}),
    )
    port = serve(chat)
    try:
        status, result = loadgen(
            binaries,
            *("--port", str(port), "--dialect", "irc", "--clients", "6", "--senders", "2"),
            *("--messages", "10", "--history", "5", "--replay", "0", "--drain-timeout", "2"),
        )
    finally:
        chat.shutdown()
        chat.server_close()
    assert status == 1, "a delivery is missing"
    assert (result["dialect"], result["irc_clients"]) == ("irc", 6)
    assert (result["expected"], result["delivered"]) == (100, 99)
    assert (result["lost"], result["duplicated"], result["out_of_order"]) == (1, 1, 1)
    assert (result["corrupt"], result["irc_errors"]) == (0, 0)
    nicks = [f"u{i}" for i in range(6)]
    expected_pongs = {(n, f"reg-{n}") for n in ["seed", *nicks]} | {(n, f"mid-{n}") for n in nicks}
    assert set(chat.pongs) == expected_pongs
    assert result["pings_answered"] == len(expected_pongs) - 1, "the seed's is not counted"
    assert [line.split(b" ")[:2] for line in chat.history] == [
        [b"@H", str(k).encode()] for k in range(5)
    ]
    assert all(len(line) == 100 for line in chat.history)


def test_an_error_before_joining_stops_the_run_with_the_servers_words(
    binaries: Binaries,
) -> None:
    chat = FakeIRC(banned=frozenset({"u1"}))
    port = serve(chat)
    try:
        status, result = loadgen(
            binaries, "--port", str(port), "--dialect", "irc", "--clients", "3"
        )
    finally:
        chat.shutdown()
        chat.server_close()
    assert status == 2
    assert result["event"] == "error"
    assert result["error"] == (
        "client 1 (IRC) before joining #lobby: :fake.irc 474 u1 #lobby :Cannot join channel (+b)"
    )


def test_a_mixed_room_gets_everything_on_both_wires(binaries: Binaries) -> None:
    """Even clients on the line port, odd ones on IRC, one room: every delivery arrives."""
    chat = FakeIRC()

    class Line(LineClient):
        irc = chat

    line = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Line)
    line.daemon_threads = True
    try:
        status, result = loadgen(
            binaries,
            *("--port", str(serve(line)), "--irc-port", str(serve(chat))),
            *("--dialect", "mixed", "--clients", "6", "--senders", "6", "--messages", "20"),
            *("--history", "3", "--replay", "0"),
        )
    finally:
        for server in (chat, line):
            server.shutdown()
            server.server_close()
    assert status == 0, result
    assert (result["dialect"], result["irc_clients"]) == ("mixed", 3)
    assert (result["expected"], result["delivered"]) == (600, 600)
    assert (result["lost"], result["duplicated"], result["out_of_order"]) == (0, 0, 0)
    assert {nick for nick, _ in chat.pongs} == {"u1", "u3", "u5"}
    assert chat.history == [], "mixed seeds over the line protocol"


def test_loadgen_refuses_what_irc_cannot_carry(binaries: Binaries) -> None:
    for args, error in [
        (["--dialect", "irc", "--size", "401"], "--size must be at most 400"),
        (["--dialect", "mixed"], "--dialect mixed needs --irc-port"),
        (["--dialect", "irc", "--channel", "lobby"], "--channel must be an IRC channel"),
    ]:
        done = subprocess.run(
            [str(binaries.loadgen), "--port", "1", *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        assert done.returncode == 2
        assert error in done.stderr


# The real IRC servers, as bench/run.py configures them (apt-get install inspircd ngircd)


@pytest.mark.parametrize("server", ["inspircd", "ngircd"])
def test_burst_over_irc(
    server: str, binaries: Binaries, tmp_path: Path, system_packages: str | None
) -> None:
    """All at once, nothing refused, throttled, lost, duplicated or reordered."""
    system.require(server, system_packages)
    counts = measure(server, quick("burst"), binaries, tmp_path).counts()
    assert (counts["lost"], counts["duplicated"], counts["out_of_order"], counts["corrupt"]) == (
        0,
        0,
        0,
        0,
    )
    assert (counts["dropped"], counts["irc_errors"]) == (0, 0)


def test_reconnect_storm_over_irc_against_ngircd(
    binaries: Binaries, tmp_path: Path, system_packages: str | None
) -> None:
    """The seed registers, joins and says its lines over IRC; nobody's replay is waited for."""
    system.require("ngircd", system_packages)
    run = measure("ngircd", quick("reconnect-storm"), binaries, tmp_path)
    assert (run.result["history"], run.result["replay"]) == (25, 0)
    assert run.counts()["replay_clients"] == 0
