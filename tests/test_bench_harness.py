"""
The benchmark harness (bench/run.py): one real run for each kind of load and
of server, its counts checked against what the scenario's own parameters
say must arrive (never its times); the command's plan, raw output and report
on canned runs; and the target checks on made-up runs.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from bench import run as harness
from bench.run import (
    FULL,
    NOTES_MARK,
    QUICK,
    SCENARIO_NAMES,
    Binaries,
    Run,
    Scenario,
    ServerKind,
    Summary,
    build,
    kept_notes,
    run_once,
    server_kinds,
    target_checks,
)


def quick(name: str) -> Scenario:
    return next(s for s in QUICK if s.name == name)


def deliveries(scenario: Scenario) -> int:
    """
    What must arrive, from the scenario's parameters alone: each sender's
    messages, to every other client.
    """
    per_sender = scenario.messages or round(scenario.rate * scenario.duration)
    return scenario.senders * per_sender * (scenario.clients - 1)


# Real runs: the load generator and the relay built, real servers driven


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> Binaries:
    return build(tmp_path_factory.mktemp("build"))


def measure(server: str, scenario: Scenario, binaries: Binaries, logs: Path) -> Run:
    run = run_once(server_kinds(quick=True)[server], scenario, 1, binaries, logs)
    assert run.error is None, run
    counts = run.counts()
    assert run.result["clients"] == scenario.clients
    assert (counts["expected"], counts["delivered"]) == (deliveries(scenario),) * 2, counts
    assert run.peak_rss_kib > 0
    assert run.rss_ready_kib > 0
    return run


def test_burst_against_the_c_relay(binaries: Binaries, tmp_path: Path) -> None:
    """All at once, to the compiled relay, which says its port and greets nobody."""
    counts = measure("c-relay", quick("burst"), binaries, tmp_path).counts()
    assert (counts["lost"], counts["duplicated"], counts["out_of_order"], counts["corrupt"]) == (
        0,
        0,
        0,
        0,
    )


def test_paced_few_senders_against_the_textbook_chat(binaries: Binaries, tmp_path: Path) -> None:
    """A steady rate from 2 senders of 40, to a Python peer that says its port and greets."""
    measure("textbook", quick("big-room"), binaries, tmp_path)


def test_slow_consumer_against_chatsvc(binaries: Binaries, tmp_path: Path) -> None:
    """twistd with the scenario's own options; the non-reader is dropped, nobody loses a line."""
    scenario = quick("slow-consumer")
    counts = measure("chatsvc", scenario, binaries, tmp_path).counts()
    assert (counts["lost"], counts["duplicated"], counts["out_of_order"], counts["corrupt"]) == (
        0,
        0,
        0,
        0,
    )
    assert (counts["nonreaders"], counts["nonreaders_dropped"]) == (1, 1)


def test_quick_sizes_have_the_shapes_of_the_full_ones() -> None:
    """What the real runs above prove of --quick holds of the full sizes' kinds of load."""
    assert [s.name for s in QUICK] == SCENARIO_NAMES
    for small, full in zip(QUICK, FULL, strict=True):
        assert (bool(small.rate), bool(small.nonreaders)) == (
            bool(full.rate),
            bool(full.nonreaders),
        )
        assert (small.senders < small.clients) == (full.senders < full.clients), small.name
        assert small.time_bound < full.time_bound


# The command, on canned runs


def canned_run(
    kind: ServerKind, scenario: Scenario, repeat: int, binaries: Binaries, logs: Path
) -> Run:
    """
    What run_once would measure if every run went to plan, except that
    chatsvc-defaults loses one line in each run and textbook fails in idle.
    """
    if (kind.name, scenario.name) == ("textbook", "idle"):
        return Run(kind.name, scenario.name, repeat, error="the load generator timed out")
    lost = 1 if kind.name == "chatsvc-defaults" else 0
    expected = deliveries(scenario)
    result = {
        "clients": scenario.clients,
        "nonreaders": scenario.nonreaders,
        "expected": expected,
        "delivered": expected - lost,
        "lost": lost,
        "duplicated": 0,
        "out_of_order": 0,
        "corrupt": 0,
        "nonreaders_dropped": scenario.nonreaders,
        "dropped": 0,
        "connect_retries": 0,
        "messages_per_s": 1000.0,
        "latency_us": {"p50": 500, "p99": 1000, "max": 2000},
        "loadgen_cpu_us": 100,
        "signon_s": 0.1,
    }
    connections = scenario.connections
    return Run(
        kind.name,
        scenario.name,
        repeat,
        result=result,
        server_cpu_us=10.0 * expected,
        rss_before_kib=10_000,
        rss_ready_kib=10_000 + 2 * connections,
        peak_rss_kib=20_000,
    )


def test_command_on_canned_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Every scenario, repeat and server that can take part is run once; every
    run goes into the raw file; the report names the command without this
    machine's paths, says who was left out and why, checks the targets, and
    keeps the notes written by hand.
    """
    monkeypatch.setattr(harness, "build", lambda build_dir: Binaries(Path("lg"), Path("rl")))
    monkeypatch.setattr(harness, "run_once", canned_run)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    out, raw = tmp_path / "out", tmp_path / "runs.json"
    out.mkdir()
    (out / "benchmarks.md").write_text(f"# old\n{NOTES_MARK}\n## By hand\nkept\n")
    servers = "chatsvc,chatsvc-defaults,textbook,c-relay,ncat"
    argv = [
        *("--quick", "--repeat", "2", "--servers", servers, "--out", str(out)),
        *("--raw", str(raw), "--build-dir", str(harness.ROOT / "bench" / "build")),
    ]

    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        assert harness.main(argv) == 0
    finally:
        signal.signal(signal.SIGTERM, sigterm)

    runs: list[dict[str, Any]] = json.loads(raw.read_text())
    planned = [
        (scenario, server, repeat)
        for scenario in SCENARIO_NAMES
        for repeat in (1, 2)
        for server in ("chatsvc", "textbook", "c-relay")
    ] + [("steady", "chatsvc-defaults", repeat) for repeat in (1, 2)]
    assert sorted((r["scenario"], r["server"], r["repeat"]) for r in runs) == sorted(planned)
    report = (out / "benchmarks.md").read_text()
    lines = report.splitlines()
    assert str(tmp_path) not in report, "no path of this machine in the report"
    assert (
        f"python bench/run.py --quick --repeat 2 --servers {servers} --out out --raw runs.json "
        "--build-dir bench/build"
    ) in (lines)
    assert "- **ncat**: not run: ncat is not installed (apt-get install ncat)" in lines
    assert [line for line in lines if line.startswith("### ")] == [
        f"### {s.title} (`{s.name}`)" for s in QUICK
    ]
    for line in [
        "| idle: at most 4 KiB of server RSS per connection | 2.00 KiB | met |",
        "| idle: the one message reaches every connection | 118 of 118 deliveries | met |",
        "| every scenario: chatsvc loses, duplicates and reorders nothing | 0 in 12 runs | met |",
        "| every scenario: chatsvc-defaults loses, duplicates and reorders nothing "
        "| steady: 2 lost, 0 duplicated, 0 out of order | NOT met |",
        "| steady: chatsvc's CPU per message at most 1.25x c-relay's | 10 / 10 = 1.00x | met |",
    ]:
        assert line in lines
    textbook_idle = next(
        line for line in lines[lines.index("### Idle (`idle`)") :] if line.startswith("| textbook")
    )
    assert textbook_idle.startswith("| textbook | 0/2 | — |")
    assert textbook_idle.endswith("| failed: the load generator timed out |")
    assert lines[-3:] == [NOTES_MARK, "## By hand", "kept"]
    has_plot = importlib.util.find_spec("matplotlib") is not None
    assert (out / "benchmarks.png").exists() == has_plot
    assert ("![CPU per message, latency and throughput](benchmarks.png)" in lines) == has_plot


# Target checks and notes


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
