"""Smoke tests of the benchmarks: tiny sizes, asserting counts, never times."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_slow_consumer_scenario(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *(sys.executable, str(BENCH / "slow_consumer.py"), "--json"),
            *("--clients", "5", "--seconds", "3", "--rate", "100", "--size", "4000"),
            *("--max-send-buffer", "65536", "--drain", "20"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,  # where the server keeps its history database
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["clients"] == 5
    assert report["messages_sent"] > 0
    assert report["deliveries_expected"] == report["messages_sent"] * 4
    assert report["deliveries_received"] == report["deliveries_expected"]
    assert (report["lost"], report["duplicated"], report["out_of_order"]) == (0, 0, 0)
    assert report["slow_consumer_dropped"] is True
    assert report["server_peak_rss_kib"] > 0
