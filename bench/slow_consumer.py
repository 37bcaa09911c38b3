"""
Slow-consumer benchmark: one client that never reads among many busy ones.

Starts the chat server (``twistd -n chat``) on 127.0.0.1, connects N busy
clients to the lobby, each sending rate x seconds tagged messages (sender,
sequence number) at a steady rate, plus one client that signs on and then
never reads. After the run it reports the server's peak RSS, whether and
when the non-reader was dropped, and, for every busy client, messages lost,
duplicated or out of order from every other sender (all must be zero).

    python bench/slow_consumer.py                  # 100 busy clients, 30 s
    python bench/slow_consumer.py --clients 10 --seconds 3 --json

Everything talks to 127.0.0.1 only; the run is bounded by --seconds plus a
drain of at most --drain seconds, and stops the server it started.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
from twisted.internet import reactor, task
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorTime
from twisted.protocols.basic import LineReceiver

CLOCK: IReactorTime = reactor
TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def start_server(extra: list[str]) -> tuple[subprocess.Popen[str], int]:
    """The chat server on an ephemeral loopback port, and that port."""
    process = subprocess.Popen(
        [*TWISTD, "-n", "--pidfile=", "chat", "--port", "tcp:0:interface=127.0.0.1", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    for line in process.stdout:
        found = re.search(r"ChatFactory starting on (\d+)", line)
        if found:
            return process, int(found.group(1))
        if time.monotonic() > deadline:
            break
    process.kill()
    raise SystemExit("the chat server did not start")


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident set size (VmHWM), in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) if found else 0


class Busy(LineReceiver):
    """A client that sends tagged messages and checks everyone else's."""

    delimiter = b"\n"

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.sent = 0
        self.last_seen: dict[str, int] = {}
        self.received = 0
        self.duplicated = 0
        self.reordered = 0
        self.gaps = 0
        self.signed_on: Deferred[None] = Deferred()
        self.dropped_notice = False

    def connectionMade(self) -> None:
        self.sendLine(self.nick.encode())

    def lineReceived(self, line: bytes) -> None:
        if line.startswith(b"*** Hello ") and not self.signed_on.called:
            self.signed_on.callback(None)
            return
        if line.startswith(b"*** slow left lobby (not reading)"):
            self.dropped_notice = True
            return
        if not line.startswith(b"<"):
            return
        sender, _, text = line[1:].partition(b"> ")
        seq = int(text.split(b" ", 1)[0])
        name = sender.decode()
        last = self.last_seen.get(name, -1)
        if seq == last + 1:
            self.received += 1
        elif seq <= last:
            self.duplicated += 1 if seq == last else 0
            self.reordered += 1 if seq < last else 0
        else:
            self.gaps += seq - last - 1
            self.received += 1
        self.last_seen[name] = max(last, seq)

    def send_one(self, filler: bytes) -> None:
        self.sendLine(b"%d %s" % (self.sent, filler))
        self.sent += 1


@attrs.frozen
class Scenario:
    clients: int
    seconds: float
    rate: float
    size: int
    drain: float


def messages_per_client(scenario: Scenario) -> int:
    """What each busy client sends: C{rate} a second for C{seconds}."""
    return max(1, round(scenario.rate * scenario.seconds))


async def run(scenario: Scenario, server_args: list[str]) -> dict[str, Any]:
    """One run of the scenario against a server of its own; the measurements."""
    process, port = start_server(["--max-per-ip", "0", "--rate", "0", *server_args])
    slow = socket.socket()
    try:
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", port))
        slow.sendall(b"slow\n")
        result = await _drive(port, scenario)
        result["server_peak_rss_kib"] = peak_rss_kib(process.pid)
        return result
    finally:
        slow.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        if process.stdout is not None:
            process.stdout.close()


async def _drive(port: int, scenario: Scenario) -> dict[str, Any]:
    clients, rate = scenario.clients, scenario.rate
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
    busy: list[Busy] = [await connectProtocol(endpoint, Busy(f"busy{i}")) for i in range(clients)]
    await gatherResults([b.signed_on for b in busy])
    filler = b"x" * max(0, scenario.size - 20)
    started = time.monotonic()
    each = messages_per_client(scenario)

    def tick(intervals: int) -> None:
        # A late tick sends what the ticks missed: the count stays the
        # scenario's, whatever the load on the machine.
        for b in busy:
            for _ in range(min(intervals, each - b.sent)):
                b.send_one(filler)
        if all(b.sent >= each for b in busy):
            sender.stop()

    sender = task.LoopingCall.withCount(tick)
    sender.clock = CLOCK
    await sender.start(1.0 / rate)
    sent = sum(b.sent for b in busy)

    def drained() -> bool:
        return all(b.received + b.gaps >= sent - b.sent for b in busy)

    deadline = time.monotonic() + scenario.drain
    while not drained() and time.monotonic() < deadline:
        await task.deferLater(CLOCK, 0.1, lambda: None)
    for b in busy:
        b.transport.loseConnection()  # type: ignore[union-attr]
    return {
        "clients": clients,
        "seconds": round(time.monotonic() - started, 1),
        "messages_sent": sent,
        "deliveries_expected": sum(sent - b.sent for b in busy),
        "deliveries_received": sum(b.received for b in busy),
        "lost": sum(sent - b.sent - b.received for b in busy),
        "duplicated": sum(b.duplicated for b in busy),
        "out_of_order": sum(b.reordered for b in busy),
        "slow_consumer_dropped": all(b.dropped_notice for b in busy),
    }


def passed(result: dict[str, Any]) -> bool:
    """Nothing lost, duplicated or reordered, and the non-reader was dropped."""
    clean = result["lost"] == 0 and result["duplicated"] == 0 and result["out_of_order"] == 0
    return bool(clean and result["slow_consumer_dropped"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100, help="busy clients (default 100)")
    parser.add_argument("--seconds", type=float, default=30.0, help="run time (default 30)")
    parser.add_argument("--rate", type=float, default=5.0, help="messages/s per busy client")
    parser.add_argument("--size", type=int, default=1000, help="bytes per message")
    parser.add_argument("--drain", type=float, default=15.0, help="max wait for deliveries")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--max-send-buffer", help="the server's --max-send-buffer (default: its own default)"
    )
    args = parser.parse_args(argv)
    server_args = (
        [] if args.max_send_buffer is None else ["--max-send-buffer", args.max_send_buffer]
    )

    async def measure(_: object) -> None:
        scenario = Scenario(args.clients, args.seconds, args.rate, args.size, args.drain)
        result = await run(scenario, server_args)
        if args.json:
            print(json.dumps(result))
        else:
            for key, value in result.items():
                print(f"{key:24} {value}")
        if not passed(result):
            raise SystemExit(1)

    task.react(lambda r: Deferred.fromCoroutine(measure(r)))


if __name__ == "__main__":
    main()
