"""Smoke tests of the benchmarks: tiny sizes, asserting counts, never times."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from chatsvc.frontends.line.server import ChatFactory, FanOutMember, _copy_of
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


def test_fanout_loop_counts_every_delivery() -> None:
    """
    The fan-out loop's benchmark reads back every byte it sent: every member
    but the sender gets every line, from the server's loop, from the bare
    one and from C{send_each} alone, with nothing left queued.
    """
    result = run_to_the_end(
        [
            *(sys.executable, str(BENCH / "fanout_loop.py"), "--json"),
            *("--members", "10", "--rounds", "2", "--lines", "20"),
        ],
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (report["members"], report["rounds"], report["lines"]) == (10, 2, 20)
    assert (report["wrong"], report["queued_bytes"]) == ([], 0)
    assert sorted(report["us_per_delivery"]) == [
        "bare loop",
        "bare loop, no send",
        "deliver",
        "deliver, no send",
        "deliver_each",
        "send_each alone",
    ]
    assert report["sends_from"] == "C"
    assert all(value > 0 for value in report["us_per_delivery"].values())


def test_fanout_loop_tells_a_missed_member(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A loop that leaves a member out is reported, and the run exits 1."""
    from bench import fanout_loop

    def short(
        factory: ChatFactory, data: bytes, members: Sequence[FanOutMember], exclude: object
    ) -> int:
        return deliver(factory, data, members[:-1], exclude)

    deliver = _copy_of(ChatFactory._deliver)
    monkeypatch.setattr(fanout_loop, "_copy_of", lambda function: short)
    assert fanout_loop.main(["--members", "4", "--rounds", "1", "--lines", "3", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    line = len(fanout_loop.LINE)
    assert report["wrong"] == [f"deliver: {3 * 2 * line} bytes read, {3 * 3 * line} sent"]
