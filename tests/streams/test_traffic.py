"""What a server counts of its traffic: lines relayed a second, over the last minute."""

from __future__ import annotations

import pytest

from chatsvc.streams.traffic import RATE_WINDOW, SAMPLE_EVERY, Traffic


def test_rate_since_the_start_before_any_sample() -> None:
    traffic = Traffic(started=100.0)
    assert traffic.rate(100.0) == 0.0
    traffic.relayed["message"] += 30
    traffic.relayed["action"] += 10
    assert traffic.relayed_total() == 40
    assert traffic.rate(110.0) == 4.0


def test_rate_over_the_last_minute_only() -> None:
    traffic = Traffic(started=0.0)
    now = 0.0
    traffic.relayed["message"] += 6000  # a burst, long ago
    while now < 3 * RATE_WINDOW:
        now += SAMPLE_EVERY
        traffic.relayed["message"] += 5  # one a second since
        traffic.sample(now)
    assert traffic.rate(now) == pytest.approx(1.0)
