"""
The fan-out loop's own cost: L{ChatFactory._deliver} against the barest loops
Python has, in one process, side by side.

A room of N members on loopback TCP, each line its reactor turn's only one
(the C{steady} scenario's case): every member is sent the line by the
server's own C{_deliver} (its sends made by L{send_each}, from C where the
package's extension was built), and, interleaved with it, by C{for send in
sends: send(data)} over the same sockets' C{send}, and by one
C{send_each(fds, data)} call alone, and, where the package's extension was
built, by the server's pick in C, C{deliver_each} (what the server runs
first, L{ChatFactory.fan_out}). C{_deliver} and the bare loop run again
with sends that do nothing, which leaves only the loop. Reported per
delivery, medians of the rounds, with the ratios; every byte sent is read
back and counted, and the exit status is 0 only if every member got every
line but the one left out (the sender).

    python bench/fanout_loop.py                      # 200 members, 15 rounds
    python bench/fanout_loop.py --members 20 --rounds 2 --json

Everything talks to 127.0.0.1 only, and the run is bounded by its counts.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import time
import types
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from chatsvc.frontends.line.server import ChatFactory, _copy_of, _Deliver
from chatsvc.streams.eagertcp import (
    DIRECT,
    SentShort,
    deliver_each,
    name_direct,
    send_each,
    send_each_in_c,
)

LINE = b"<alice> " + b"x" * 52 + b"\r\n"


class _Transport:
    """
    What C{_deliver} reads of an L{EagerServer}: C{send_now} and C{fd}, and
    C{queue} for the rest.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.send_now: Callable[[bytes], int] | None = sock.send
        self.fd = sock.fileno()
        self.queued = 0

    def queue(self, data: bytes) -> None:
        self.queued += len(data)  # the kernel's buffer is big enough that this stays 0


class _Member:
    """A room member as the fan-out sees one: a plain TCP connection, ready, nothing held."""

    __slots__ = ("_backlogged", "_direct", "_held", "_holding", "_turn", "events", "session")

    def __init__(self, transport: _Transport) -> None:
        self._turn = 0
        self._direct = transport
        self._held: list[bytes] | None = None
        self._backlogged = False
        self._holding = False
        self.events = None
        self.session = None

    def send(self, data: bytes) -> None:
        raise AssertionError("every member takes the direct way")


class _Turns:
    """The factory as C{_deliver} uses it: a new turn for every line."""

    def __init__(self) -> None:
        self.number = 0

    def turn(self) -> int:
        self.number += 2
        return self.number


@contextmanager
def _loopback(members: int) -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    """C{members} connected TCP pairs on 127.0.0.1: (the server's side, the client's)."""
    listener = socket.socket()
    pairs: list[tuple[socket.socket, socket.socket]] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(members)
        for _ in range(members):
            client = socket.create_connection(listener.getsockname())
            server, _ = listener.accept()
            server.setblocking(False)
            server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 21)
            client.setblocking(False)
            pairs.append((server, client))
        yield pairs
    finally:
        listener.close()
        for server, client in pairs:
            server.close()
            client.close()


def _drain(pairs: list[tuple[socket.socket, socket.socket]], expected: list[int]) -> list[int]:
    """
    Read what each client was sent: the bytes, client by client. Loopback
    hands most bytes over within the send, but not all on a busy machine: a
    client short of what it is C{expected} to have is read again, for up
    to a second.
    """
    got = []
    for (_, client), owed in zip(pairs, expected, strict=True):
        total = 0
        deadline = time.monotonic() + 1.0
        while True:
            try:
                chunk = client.recv(1 << 20)
            except BlockingIOError:
                if total >= owed or time.monotonic() > deadline:
                    break
                time.sleep(0.001)
                continue
            if not chunk:
                break
            total += len(chunk)
        got.append(total)
    return got


def _nothing(data: bytes) -> int:
    return len(data)


def _nothing_each(fds: list[int], data: bytes) -> SentShort | None:
    return None


def run(members: int, rounds: int, lines: int) -> dict[str, Any]:
    deliver = _copy_of(ChatFactory._deliver)
    # The same loop, its sends made by a send_each that does nothing.
    idle_deliver = cast(
        "_Deliver",
        types.FunctionType(
            ChatFactory._deliver.__code__.replace(),
            {**ChatFactory._deliver.__globals__, "send_each": _nothing_each},
            "_deliver",
        ),
    )
    turns = _Turns()
    times: dict[str, list[float]] = {
        "deliver": [],
        "bare loop": [],
        "send_each alone": [],
        "deliver, no send": [],
        "bare loop, no send": [],
    }
    if deliver_each is not None:
        times["deliver_each"] = []
    per_round = lines * (members - 1)
    wrong: list[str] = []
    with _loopback(members) as pairs:
        sockets = [server for server, _ in pairs]
        real = [_Member(_Transport(s)) for s in sockets]
        fds = array("i", [s.fileno() for s in sockets])
        for member, fd in zip(real, fds, strict=True):
            # As an EagerServer names its protocol (EagerServer._publish).
            name_direct(fd, member)
        sender = 0
        for _ in range(rounds):
            for name, spent in times.items():
                exclude = real[sender]
                others = [m._direct for m in real if m is not exclude]
                if name.startswith("bare loop"):
                    sends = [t.send_now if name == "bare loop" else _nothing for t in others]
                    started = time.perf_counter()
                    for _ in range(lines):
                        for send in sends:
                            send(LINE)  # type: ignore[misc]
                elif name == "send_each alone":
                    others_fds = [t.fd for t in others]
                    started = time.perf_counter()
                    for _ in range(lines):
                        send_each(others_fds, LINE)
                elif name == "deliver_each":
                    assert deliver_each is not None
                    started = time.perf_counter()
                    for _ in range(lines):
                        _, rest, short = deliver_each(
                            DIRECT, real, fds, turns.turn(), exclude, LINE
                        )
                        if rest is not None or short is not None:
                            wrong.append("deliver_each: a member left to Python")
                else:
                    loop = deliver if name == "deliver" else idle_deliver
                    started = time.perf_counter()
                    for _ in range(lines):
                        loop(turns, LINE, real, exclude)  # type: ignore[arg-type]
                spent.append((time.perf_counter() - started) / per_round * 1e6)
                if "no send" not in name:
                    expected = [0 if i == sender else lines * len(LINE) for i in range(members)]
                    got = _drain(pairs, expected)
                    if got != expected:
                        wrong.append(f"{name}: {sum(got)} bytes read, {sum(expected)} sent")
            sender = (sender + 1) % members
        queued = sum(m._direct.queued for m in real)
        for fd in fds:
            name_direct(fd, None)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "members": members,
        "rounds": rounds,
        "lines": lines,
        "us_per_delivery": medians,
        "spread": {name: [min(v), max(v)] for name, v in times.items()},
        "sends_from": "C" if send_each is send_each_in_c else "Python",
        "ratio_with_send": medians["deliver"] / medians["bare loop"],
        "ratio_loop_only": medians["deliver, no send"] / medians["bare loop, no send"],
        "loop_share_of_delivery": medians["deliver, no send"] / medians["deliver"],
        "ratio_deliver_each": (
            medians["deliver_each"] / medians["deliver"] if "deliver_each" in medians else None
        ),
        "queued_bytes": queued,
        "wrong": wrong,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=200, help="room members (default 200)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds, interleaved (default 15)")
    parser.add_argument("--lines", type=int, default=100, help="lines said a round (default 100)")
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    options = parser.parse_args(argv)
    if options.members < 2 or options.rounds < 1 or options.lines < 1:
        parser.error("--members must be at least 2, --rounds and --lines at least 1")
    report = run(options.members, options.rounds, options.lines)
    if options.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{report['members']} members, {report['lines']} lines a round, "
            f"{report['rounds']} rounds (medians, µs a delivery; spread min-max); "
            f"send_each from {report['sends_from']}"
        )
        for name, value in report["us_per_delivery"].items():
            low, high = report["spread"][name]
            print(f"  {name:<20} {value:7.3f}   ({low:.3f}-{high:.3f})")
        print(f"  deliver / bare loop, sending:   {report['ratio_with_send']:.2f}x")
        print(f"  deliver / bare loop, loop only: {report['ratio_loop_only']:.2f}x")
        print(f"  the loop's share of a delivery: {report['loop_share_of_delivery']:.1%}")
        if report["ratio_deliver_each"] is not None:
            print(f"  deliver_each / deliver:         {report['ratio_deliver_each']:.2f}x")
        for problem in report["wrong"]:
            print(f"  WRONG: {problem}")
    return 1 if report["wrong"] or report["queued_bytes"] else 0


if __name__ == "__main__":
    sys.exit(main())
