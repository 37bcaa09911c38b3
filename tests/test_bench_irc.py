"""
The benchmark harness against chatsvc's IRC frontend (bench/run.py's
chatsvc-irc and chatsvc-mixed), at --quick sizes, counts checked against
what the scenario's parameters say must arrive (never times): a burst with
every client on IRC, a steady room half on each frontend, and the reconnect
storm both ways: over IRC, the seed says its lines over IRC and nobody's
replay is waited for; in the mixed room, every client on the line protocol
is shown its whole replay.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import run as harness
from bench.run import Binaries, Run, build
from tests.test_bench_harness import measure, quick


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> Binaries:
    return build(tmp_path_factory.mktemp("build"))


def clean(run: Run) -> None:
    counts = run.counts()
    assert (counts["lost"], counts["duplicated"], counts["out_of_order"], counts["corrupt"]) == (
        0,
        0,
        0,
        0,
    )
    assert (counts["dropped"], counts["irc_errors"]) == (0, 0)


def test_this_chatsvc_has_the_irc_frontend() -> None:
    assert harness.chatsvc_has_irc()


def test_burst_over_chatsvcs_irc_frontend(binaries: Binaries, tmp_path: Path) -> None:
    scenario = quick("burst")
    run = measure("chatsvc-irc", scenario, binaries, tmp_path)
    clean(run)
    assert (run.result["dialect"], run.result["irc_clients"]) == ("irc", scenario.clients)


def test_steady_in_a_room_half_on_each_frontend(binaries: Binaries, tmp_path: Path) -> None:
    scenario = quick("steady")
    run = measure("chatsvc-mixed", scenario, binaries, tmp_path)
    clean(run)
    assert (run.result["dialect"], run.result["irc_clients"]) == ("mixed", scenario.clients // 2)


def test_reconnect_storm_over_irc(binaries: Binaries, tmp_path: Path) -> None:
    run = measure("chatsvc-irc", quick("reconnect-storm"), binaries, tmp_path)
    clean(run)
    assert (run.result["history"], run.result["replay"]) == (25, 0)


def test_reconnect_storm_in_a_mixed_room(binaries: Binaries, tmp_path: Path) -> None:
    """Every client on the line protocol is shown its replay of the last 20 lines, whole."""
    scenario = quick("reconnect-storm")
    run = measure("chatsvc-mixed", scenario, binaries, tmp_path)
    clean(run)
    counts = run.counts()
    assert (counts["replay_clients"], counts["replayed"]) == (scenario.clients // 2,) * 2
    assert (counts["replay_errors"], counts["replay_short"]) == (0, 0)
