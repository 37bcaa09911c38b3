"""
What one client may cost the server, and the token bucket that paces input.

test-case-name: tests.streams.test_limits
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

MIN_LINE = 256
"""The smallest C{--max-line}: room for any notice the server sends."""


def _at_least(minimum: int) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
        if value < minimum:
            raise ValueError(f"{attribute.name.replace('_', '-')} must be at least {minimum}")

    return check


def _between(low: int, high: int) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
        if not low <= value <= high:
            raise ValueError(f"{attribute.name.replace('_', '-')} must be {low} to {high}")

    return check


def _positive_or_unlimited(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name.replace('_', '-')} must be 0 (unlimited) or more")


@attrs.frozen
class Limits:
    """
    The per-server and per-connection bounds. Zero means unlimited for every
    bound but C{max_line} and C{burst}.
    """

    max_line: int = attrs.field(default=4096, validator=_at_least(MIN_LINE))
    """The longest line in bytes, either way, not counting its line ending."""

    max_clients: int = attrs.field(default=10_000, validator=_positive_or_unlimited)
    """Connections open at once."""

    max_per_ip: int = attrs.field(default=20, validator=_positive_or_unlimited)
    """Connections open at once from one IP address."""

    login_timeout: float = attrs.field(default=60.0, validator=_positive_or_unlimited)
    """Seconds to choose a nickname in."""

    rate: float = attrs.field(default=10.0, validator=_positive_or_unlimited)
    """Lines per second a client may send, on average."""

    burst: int = attrs.field(default=20, validator=_at_least(1))
    """Lines a client may send at once, after a quiet spell."""

    max_send_buffer: int = attrs.field(default=1 << 20, validator=_positive_or_unlimited)
    """Bytes queued for a client that is not reading before it is dropped."""

    send_timeout: float = attrs.field(default=60.0, validator=_positive_or_unlimited)
    """Seconds a client's output may stay undelivered before it is dropped."""

    ipv6_prefix: int = attrs.field(default=64, validator=_between(1, 128))
    """Leading bits of an IPv6 address that C{max_per_ip} counts by: one host's network."""


class TokenBucket:
    """
    A budget of C{burst} tokens refilled at C{rate} a second: each line takes
    one. Pure arithmetic on the times it is given, so it runs on any clock.

    The budget is kept as the time it is next full, not as a count of tokens:
    a count refilled by C{(now - then) * rate} is short of a whole token when
    the clock reaches C{now + wait(now)}, which is rounded to the clock's
    precision (a quarter of a microsecond at today's times), so the line the
    wait was for was refused, and waited again. A time compares exactly.
    """

    __slots__ = ("_full_at", "_interval", "burst", "rate")  # one for each connection

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._interval = 1 / rate if rate > 0 else 0.0
        self._full_at = now

    def _next_at(self) -> float:
        """When there is a whole token to take: C{burst - 1} intervals before it is full."""
        return self._full_at - (self.burst - 1) * self._interval

    def take(self, now: float) -> bool:
        """Spend a token if there is one; C{False} if the budget is spent."""
        if self.rate <= 0:
            return True
        if now < self._next_at():
            return False
        self._full_at = max(self._full_at, now) + self._interval
        return True

    def charge(self, now: float, tokens: int) -> None:
        """
        Spend C{tokens} more, whether or not the budget has them: what a
        request costs beyond its line. A budget overspent refills first.
        """
        if self.rate > 0:
            self._full_at = max(self._full_at, now) + tokens * self._interval

    def wait(self, now: float) -> float:
        """
        Seconds from C{now} until a token is there to take, fractions of a
        token counted: C{take(now + wait(now))} succeeds.
        """
        if self.rate <= 0:
            return 0.0
        due = self._next_at()
        if now >= due:
            return 0.0
        wait = due - now
        while now + wait < due:
            wait = math.nextafter(wait, math.inf)
        return wait
