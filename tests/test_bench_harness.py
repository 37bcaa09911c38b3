"""
The benchmark harness (bench/run.py): a run at tiny sizes against chatsvc, the
C relay and the textbook Twisted chat, asserting its counts, never its times;
and the target checks on made-up runs.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.run import NOTES_MARK, QUICK, Run, Summary, kept_notes, target_checks

BENCH = Path(__file__).resolve().parent.parent / "bench"
SERVERS = ["chatsvc", "c-relay", "textbook"]


@pytest.mark.skipif(
    shutil.which("gcc") is None, reason="the harness builds its load generator and relay with gcc"
)
def test_quick_run(tmp_path: Path) -> None:
    out, raw = tmp_path / "out", tmp_path / "runs.json"
    result = subprocess.run(
        [
            *(sys.executable, str(BENCH / "run.py"), "--quick", "--repeat", "1"),
            *("--servers", ",".join(SERVERS), "--out", str(out)),
            *("--build-dir", str(tmp_path / "build"), "--raw", str(raw)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    runs: list[dict[str, Any]] = json.loads(raw.read_text())
    assert sorted((r["scenario"], r["server"]) for r in runs) == sorted(
        (s.name, server) for s in QUICK for server in SERVERS
    )
    for run in runs:
        assert run["error"] is None, run
        counts = run["result"]
        assert counts["clients"] == next(s.clients for s in QUICK if s.name == run["scenario"])
        assert counts["expected"] > 0
        assert counts["delivered"] == counts["expected"], run
        if run["server"] != "textbook":
            assert (counts["lost"], counts["duplicated"], counts["out_of_order"]) == (0, 0, 0)
            assert counts["corrupt"] == 0
        assert run["peak_rss_kib"] > 0
    slow = next(r for r in runs if (r["scenario"], r["server"]) == ("slow-consumer", "chatsvc"))
    assert slow["result"]["nonreaders_dropped"] == 1
    report = (out / "benchmarks.md").read_text()
    assert "## Targets" in report
    assert str(tmp_path) not in report, "no path of this machine in the report"
    assert (
        "python bench/run.py --quick --repeat 1 --servers chatsvc,c-relay,textbook --out out "
        "--build-dir build --raw runs.json"
    ) in report
    for scenario in QUICK:
        assert f"(`{scenario.name}`)" in report
    assert "every scenario: chatsvc loses, duplicates and reorders nothing | 0 in 6 runs | met" in (
        report
    )
    assert (out / "benchmarks.png").exists() == (importlib.util.find_spec("matplotlib") is not None)


def _run(server: str, scenario: str, cpu_us: float, p99_us: int, per_s: float) -> Run:
    result = {
        "clients": 100,
        "nonreaders": 0,
        "expected": 1000,
        "delivered": 1000,
        "lost": 0,
        "duplicated": 0,
        "out_of_order": 0,
        "corrupt": 0,
        "nonreaders_dropped": 0,
        "dropped": 0,
        "connect_retries": 0,
        "messages_per_s": per_s,
        "latency_us": {"p50": p99_us // 2, "p99": p99_us, "max": p99_us * 2},
        "loadgen_cpu_us": 500,
        "signon_s": 0.1,
    }
    return Run(server, scenario, 1, result=result, server_cpu_us=cpu_us)


def test_target_checks_use_medians_and_ratios() -> None:
    results = {
        ("steady", "chatsvc"): Summary(
            [_run("chatsvc", "steady", cpu, 1500, 100) for cpu in (1200, 1000, 9000)]
        ),
        ("steady", "c-relay"): Summary([_run("c-relay", "steady", 1000, 1000, 100)]),
        ("steady", "textbook"): Summary([_run("textbook", "steady", 1800, 9000, 100)]),
        ("burst", "chatsvc"): Summary([_run("chatsvc", "burst", 1000, 1000, 900)]),
    }
    checks = {c.target: c for c in target_checks(results, ["steady", "burst"])}
    versus_relay = checks["steady: chatsvc's CPU per message at most 1.25x c-relay's"]
    assert (versus_relay.met, versus_relay.measured) == (True, "1.2 / 1 = 1.20x")
    assert checks["steady: chatsvc's CPU per message at most 0.6x textbook's"].met is False
    assert checks["steady: chatsvc's p99 latency at most 1.5x c-relay's"].met is True
    assert checks["burst: chatsvc's messages/s at least 1x textbook's"].met is None
    assert checks["idle: at most 4 KiB of server RSS per connection"].met is None
    clean = checks["every scenario: chatsvc loses, duplicates and reorders nothing"]
    assert (clean.met, clean.measured) == (True, "0 in 4 runs")


def test_hand_written_notes_survive_a_new_report(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    assert kept_notes(report) == ""
    report.write_text(f"# old tables\n\n{NOTES_MARK}\n## Notes\nkept\n")
    assert kept_notes(report) == f"\n{NOTES_MARK}\n## Notes\nkept\n"
    report.write_text("# no notes\n")
    assert kept_notes(report) == ""
