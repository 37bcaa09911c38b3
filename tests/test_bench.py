"""Smoke tests of the benchmarks: tiny sizes, asserting counts, never times."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.support import run_to_the_end

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_slow_consumer_scenario(tmp_path: Path) -> None:
    """
    Every busy client gets every other one's messages, counted by what it
    read against what the parameters say was sent (5 clients x 100 a second
    x 3 seconds), while the one that does not read is dropped.
    """
    clients, rate, seconds = 5, 100, 3
    result = run_to_the_end(
        [
            *(sys.executable, str(BENCH / "slow_consumer.py"), "--json"),
            *("--clients", str(clients), "--seconds", str(seconds), "--rate", str(rate)),
            *("--size", "4000", "--max-send-buffer", "65536", "--drain", "20"),
        ],
        timeout=120,
        cwd=tmp_path,  # where the server keeps its history database
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    sent = clients * rate * seconds
    assert report["clients"] == clients
    assert report["messages_sent"] == sent
    assert report["deliveries_received"] == sent * (clients - 1)
    assert (report["lost"], report["duplicated"], report["out_of_order"]) == (0, 0, 0)
    assert report["slow_consumer_dropped"] is True
    assert report["server_peak_rss_kib"] > 0
