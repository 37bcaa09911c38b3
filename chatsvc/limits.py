"""
What one client may cost the server, and the token bucket that paces input.

test-case-name: tests.test_limits
"""

from __future__ import annotations

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


_EPSILON = 1e-9
"""Slack for float arithmetic: a token due at a time is there at that time."""


class TokenBucket:
    """
    A budget of C{burst} tokens refilled at C{rate} a second: each line takes
    one. Pure arithmetic on the times it is given, so it runs on any clock.
    """

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._when = now

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._when) * self.rate)
        self._when = now

    def take(self, now: float) -> bool:
        """Spend a token if there is one; C{False} if the budget is spent."""
        if self.rate <= 0:
            return True
        self._refill(now)
        if self._tokens >= 1 - _EPSILON:
            self._tokens = max(0.0, self._tokens - 1)
            return True
        return False

    def wait(self, now: float) -> float:
        """Seconds from C{now} until a token is there to take."""
        if self.rate <= 0:
            return 0.0
        self._refill(now)
        return max(0.0, (1 - self._tokens) / self.rate)
