"""
What a server counts of its traffic, as plain numbers that the places which
see it add to: a connection accepted, a sign-on, a line relayed, a fan-out.

They are plain integers, not Prometheus metrics, so that counting costs an
addition and no lock: the fan-out is the server's hot path, and adds once per
room event, never once per recipient. L{chatsvc.service.metrics} reads them
when it is scraped, and the operators' C{/stats} when it is asked.

test-case-name: tests.streams.test_traffic
"""

from __future__ import annotations

import os
import resource
from collections import Counter, deque

RATE_WINDOW = 60.0
"""Seconds over which L{Traffic.rate} averages the lines relayed."""

SAMPLE_EVERY = 5.0
"""Seconds between the samples L{Traffic.rate} is worked out from."""


def wire_of(kind: type) -> str:
    """The name of the wire whose connections are of class C{kind}: line, irc or web."""
    name: str = getattr(kind, "wire", "line")
    return name


def resident_memory() -> int | None:
    """The bytes of memory the process has resident now (Linux), or at its peak elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Traffic:
    """
    What one chat server has seen since it started at C{started} (seconds of
    its clock). Keys by wire are the connection classes (what counts them
    sees no more), named by L{chatsvc.service.metrics.wire_of}.
    """

    __slots__ = (
        "_samples",
        "accepted",
        "deliveries",
        "dropped",
        "fan_outs",
        "login_failures",
        "relayed",
        "sent_bytes",
        "sign_ons",
        "started",
        "throttled",
    )

    def __init__(self, started: float = 0.0) -> None:
        self.started = started
        self.accepted: Counter[type] = Counter()
        """Connections accepted (not refused), by connection class."""
        self.sign_ons: Counter[type] = Counter()
        """Sign-ons, by connection class."""
        self.relayed: Counter[str] = Counter()
        """Lines relayed, by kind: message, action, notice, private."""
        self.fan_outs = 0
        """Events said to a room (or to everyone), each fanned out once."""
        self.deliveries = 0
        """Recipients of those events, all told."""
        self.sent_bytes = 0
        """Bytes of those events sent: each wire's rendering, times its recipients."""
        self.throttled = 0
        """Times a connection's reading was paused for sending over its --rate."""
        self.dropped = 0
        """Connections dropped for not reading what they were sent."""
        self.login_failures = 0
        """Wrong passwords given, at signing on or for an operator's account."""
        self._samples: deque[tuple[float, int]] = deque()

    def relayed_total(self) -> int:
        """Every line relayed so far, of any kind."""
        return sum(self.relayed.values())

    def sample(self, now: float) -> None:
        """Note the lines relayed by C{now}, for L{rate}: every L{SAMPLE_EVERY} seconds."""
        samples = self._samples
        samples.append((now, self.relayed_total()))
        while len(samples) > 1 and samples[1][0] <= now - RATE_WINDOW:
            samples.popleft()

    def rate(self, now: float) -> float:
        """Lines relayed a second, on average over the last L{RATE_WINDOW} seconds (or fewer)."""
        if not self._samples:
            since, before = self.started, 0
        else:
            since, before = self._samples[0]
        elapsed = now - since
        if elapsed <= 0:
            return 0.0
        return (self.relayed_total() - before) / elapsed
