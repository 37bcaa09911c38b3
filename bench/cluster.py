"""
The cluster's benchmark: two chatsvc nodes of one cluster against one node,
with the same load, on this machine.

    python bench/cluster.py                    # burst and steady, 3 runs of each
    python bench/cluster.py --repeat 1 --quick # a smoke test

One node is plain C{twistd chat}; two nodes are C{twistd chat --cluster}
over a Redis started here (Debian's C{redis-server}), the load generator's
even clients on the first, odd ones on the second (C{--second-port}), so that
every line crosses Redis to reach half its room. History is off for both
(C{--no-history}): what is measured is the chat and its fan-out, not the
database. Targets (issue 19): the two nodes deliver at least 1.6 times one
node's burst deliveries a second, with a steady p99 latency at most twice
one node's. Prints the medians and the checks; exit status 1 if a target is
missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/run.py is its neighbour in bench/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import CHATSVC_LIMITS, TWISTD, build

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 30.0

BURST_TARGET = 1.6
"""Two nodes' burst deliveries a second, at least, as a multiple of one node's."""

P99_TARGET = 2.0
"""Two nodes' steady p99 latency, at most, as a multiple of one node's."""


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on {port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_s(pid: int) -> float:
    """The CPU seconds (user and system) process C{pid} has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def redis(directory: Path) -> Iterator[tuple[str, int]]:
    """A Redis for the run: its URL and process id."""
    program = shutil.which("redis-server", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if program is None:
        raise SystemExit("bench/cluster.py needs redis-server (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [program, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, "redis-server")
        yield f"redis://{LOOPBACK}:{port}/0", process.pid
    finally:
        stop(process)


@contextlib.contextmanager
def nodes(count: int, redis_url: str, logs: Path) -> Iterator[tuple[list[int], list[int]]]:
    """C{count} chatsvc nodes (one: no cluster): their ports and process ids."""
    ports = [free_port() for _ in range(count)]
    processes = []
    try:
        for n, port in enumerate(ports):
            cluster = ["--cluster", redis_url, "--node-name", f"n{n}"] if count > 1 else []
            with (logs / f"node{n}-{count}.log").open("ab") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            *TWISTD,
                            "-n",
                            "--pidfile=",
                            "chat",
                            "--port",
                            f"tcp:{port}:interface={LOOPBACK}",
                            "--no-history",
                            *CHATSVC_LIMITS,
                            *cluster,
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        cwd=logs,
                    )
                )
        for port, process in zip(ports, processes, strict=True):
            wait_for_port(port, process, "twistd chat")
        if count > 1:
            time.sleep(1.0)  # every node in the cluster (its first renewal)
        yield ports, [process.pid for process in processes]
    finally:
        for process in processes:
            stop(process)


def load(
    loadgen: Path, ports: Sequence[int], scenario: Sequence[str], pids: Sequence[int]
) -> dict[str, Any]:
    """
    The load generator's result for C{scenario}, with C{"cores"}: the CPU
    seconds each side used over the whole run (connecting included) per
    second of it, the nodes together (C{pids}, Redis last if there), and the
    load generator.
    """
    second = ["--second-port", str(ports[1])] if len(ports) > 1 else []
    before = [cpu_s(pid) for pid in pids]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [str(loadgen), "--port", str(ports[0]), *second, *scenario],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    wall = time.monotonic() - started
    used = [cpu_s(pid) - was for pid, was in zip(pids, before, strict=True)]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    loadgen_s = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not result.get("complete") or result.get("duplicated") or result.get("out_of_order"):
        raise SystemExit(f"an incomplete run: {done.stdout.strip()}")
    nodes_s = sum(used[: len(ports)])
    result["cores"] = {
        "nodes": nodes_s / wall,
        "redis": sum(used[len(ports) :]) / wall,
        "loadgen": loadgen_s / wall,
    }
    result["node_cpu_us_per_delivery"] = nodes_s * 1e6 / max(result["delivered"], 1)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a small load, for a smoke test")
    parser.add_argument("--build-dir", type=Path, default=Path(__file__).parent / "build")
    args = parser.parse_args(argv)
    loadgen = build(args.build_dir).loadgen
    burst = ["--clients", "100", "--senders", "100", "--messages", "100", "--greeting"]
    steady = [
        *("--clients", "200", "--senders", "200", "--rate", "1", "--duration", "10"),
        "--greeting",
    ]
    if args.quick:
        burst = ["--clients", "20", "--senders", "20", "--messages", "20", "--greeting"]
        steady = ["--clients", "20", "--senders", "20", "--rate", "2", "--duration", "2"]
        steady.append("--greeting")
    rates: dict[int, list[float]] = {1: [], 2: []}
    p99s: dict[int, list[float]] = {1: [], 2: []}
    cores: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    costs: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="chatsvc-cluster-bench-") as scratch:
        logs = Path(scratch)
        with redis(logs) as (url, redis_pid):
            for _ in range(args.repeat):
                for count in (1, 2):
                    with nodes(count, url, logs) as (ports, pids):
                        watched = [*pids, redis_pid] if count > 1 else pids
                        result = load(loadgen, ports, burst, watched)
                        rates[count].append(result["messages_per_s"])
                        cores[count].append(result["cores"])
                        costs[count].append(result["node_cpu_us_per_delivery"])
                    with nodes(count, url, logs) as (ports, pids):
                        result = load(loadgen, ports, steady, pids)
                        p99s[count].append(result["latency_us"]["p99"])
    burst_one, burst_two = statistics.median(rates[1]), statistics.median(rates[2])
    p99_one, p99_two = statistics.median(p99s[1]), statistics.median(p99s[2])
    burst_ratio = burst_two / burst_one
    p99_ratio = p99_two / max(p99_one, 1.0)
    print("| | one node | two nodes | ratio | target |")
    print("| --- | --- | --- | --- | --- |")
    print(
        f"| burst deliveries/s | {burst_one:,.0f} | {burst_two:,.0f} | {burst_ratio:.2f}x "
        f"| at least {BURST_TARGET}x: {'met' if burst_ratio >= BURST_TARGET else 'MISSED'} |"
    )
    print(
        f"| steady p99 | {p99_one / 1000:.1f} ms | {p99_two / 1000:.1f} ms | {p99_ratio:.2f}x "
        f"| at most {P99_TARGET}x: {'met' if p99_ratio <= P99_TARGET else 'MISSED'} |"
    )
    print()
    print(
        f"Burst, whole runs (connecting included), medians: cores busy of the machine's "
        f"{os.cpu_count()}, and the nodes' CPU a delivery."
    )
    print()
    print("| | nodes | Redis | load generator | all | nodes' CPU µs/delivery |")
    print("| --- | --- | --- | --- | --- | --- |")
    for count in (1, 2):
        median = {k: statistics.median(c[k] for c in cores[count]) for k in cores[count][0]}
        print(
            f"| {'one node' if count == 1 else 'two nodes'} | {median['nodes']:.2f} "
            f"| {median['redis']:.2f} | {median['loadgen']:.2f} | {sum(median.values()):.2f} "
            f"| {statistics.median(costs[count]):.3f} |"
        )
    return 0 if burst_ratio >= BURST_TARGET and p99_ratio <= P99_TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
