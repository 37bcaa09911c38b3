"""
The benchmark harness: chatsvc side by side with its peers, in one command.

    python bench/run.py                                   # everything, 3 runs of each
    python bench/run.py --servers chatsvc,c-relay --scenarios steady --repeat 5
    python bench/run.py --quick --repeat 1 --out "$(mktemp -d)"   # a smoke test

Compiles the load generator and the C relay with gcc when they are missing or
stale, then for every scenario, repeat and server: starts the server on
127.0.0.1 on a free port, drives it with the load generator, reads the
server's CPU time (its CPU clock, and user and system from /proc) and memory
over each phase (sign-on, messages, the whole run), and stops it. Writes the medians, each
with its spread over the runs, as Markdown tables with the target checks
(``benchmarks.md``) and a plot (``benchmarks.png``, if matplotlib is
installed) into --out, and prints the target checks.

Every process talks to 127.0.0.1 (or other 127/8 addresses) only; every run
is bounded in time, and every process started is stopped, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import importlib
import importlib.metadata
import io
import json
import math
import os
import platform
import pwd
import re
import resource
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SOURCES = {"loadgen": BENCH / "loadgen.c", "relay": BENCH / "relay.c"}
LIBRARIES = {"loadgen": ["-lcrypto"], "relay": []}
"""What each links with: the load generator, OpenSSL's libcrypto (SHA-1 and base64, for the
WebSocket handshake)."""
TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
LOOPBACK = "127.0.0.1"
CLOCK_TICK_US = 1_000_000 / os.sysconf("SC_CLK_TCK")
NCAT_MAX_CONNECTIONS = 1000
"""ncat's broker waits in select(), so it cannot hold descriptors past 1,023."""
CHANNEL = "#lobby"
"""The room, as an IRC channel: chatsvc's room C{lobby}."""
IRC_SCENARIOS = frozenset(
    {"burst", "steady", "steady-loaded", "steady-500", "big-room", "idle", "reconnect-storm"}
)
"""Where a client on IRC takes part: all but C{slow-consumer}, whose lines are too long."""
WHY_NOT_IRC = "its 1,000 B messages do not fit in an IRC line (512 bytes with the source)"
IRC = "chatsvc-irc"
"""chatsvc with every client on its IRC frontend."""
MIXED = "chatsvc-mixed"
"""chatsvc with half its clients on the line protocol, half on IRC, in one room."""
WEB = "chatsvc-web"
"""chatsvc with every client on its web frontend's WebSocket protocol."""
WEB_READERS = "chatsvc-web-readers"
"""chatsvc with its senders on the line protocol, the clients that only read on WebSocket."""
METRICS = "chatsvc-metrics"
"""chatsvc with --metrics: its traffic counted for Prometheus."""
BASELINE = "chatsvc-baseline"
"""The server --baseline adds, beside chatsvc and run like it."""
FAN_OUT_SERVERS = frozenset({"chatsvc", BASELINE, WEB, WEB_READERS, "c-relay"})
"""
Who takes part in the fan-out scenarios, where a few clients send and the
rest only read: the line protocol, the C relay, and the WebSocket wire with
its senders on WebSocket too (C{chatsvc-web}) and on the line protocol
(C{chatsvc-web-readers}, whose requests are then the line protocol's).
"""
FAN_OUT_SCENARIOS = frozenset({"fan-out-burst", "fan-out-steady"})
NOT_COMPARED = "not among the servers this scenario compares"


# Scenarios


@attrs.frozen
class Scenario:
    """One load: how many clients, who sends what, and how fast."""

    name: str
    title: str
    clients: int
    senders: int
    messages: int = 0
    """Per sender, all at once (when C{rate} is 0)."""
    rate: float = 0.0
    """Messages a second per sender; 0 for all at once."""
    duration: float = 0.0
    size: int = 100
    nonreaders: int = 0
    """Clients that sign on, then stop reading."""
    chatsvc_args: tuple[str, ...] = ()
    signon_timeout: float = 120.0
    drain_timeout: float = 15.0
    """Longest wait with no delivery once sending is over."""
    max_drain: float = 120.0
    window: int = 256
    """Connections the load generator keeps in flight at once."""
    history: int = 0
    """Lines one more client says in the room before the others connect."""
    replay: int = 0
    """Of those, the lines a server that keeps history shows each client who joins."""
    busy: bool = False
    """Run with the machine's other core kept busy (L{Burner}), as on a loaded machine."""
    servers: frozenset[str] | None = None
    """The only servers it compares (None: every one that can take part)."""

    @property
    def connections(self) -> int:
        return self.clients + self.nonreaders

    def describe(self) -> str:
        if self.rate:
            load = f"{self.rate:g} msg/s each for {self.duration:g} s"
        else:
            load = f"{self.messages} message{'s' if self.messages != 1 else ''} each at once"
        who = "all send" if self.senders == self.clients else f"{self.senders} send"
        text = f"{self.clients} clients, {who} {load}, {self.size} B"
        if self.nonreaders:
            text += f", plus {self.nonreaders} that stops reading"
        if self.busy:
            text += "; meanwhile another process keeps a core busy"
        if self.history:
            text = (
                f"{self.clients:,} clients connect and sign on at once ({self.window} in flight) "
                f"into a room where one more client said {self.history} lines; a server that "
                f"keeps history shows each the last {self.replay}; then {who} {load}, "
                f"{self.size} B"
            )
        return text

    def loadgen_args(self, keeps_history: bool = False) -> list[str]:
        """
        The load generator's options; C{keeps_history}: the server shows a
        replay on joining, which every client must get before the barrier.
        """
        args = [
            *("--clients", str(self.clients), "--senders", str(self.senders)),
            *("--size", str(self.size), "--nonreaders", str(self.nonreaders)),
            *("--signon-timeout", f"{self.signon_timeout:g}", "--window", str(self.window)),
            *("--drain-timeout", f"{self.drain_timeout:g}", "--max-drain", f"{self.max_drain:g}"),
        ]
        if self.history:
            replay = self.replay if keeps_history else 0
            args += ["--history", str(self.history), "--replay", str(replay)]
        if self.rate:
            return [*args, "--rate", f"{self.rate:g}", "--duration", f"{self.duration:g}"]
        return [*args, "--messages", str(self.messages)]

    @property
    def time_bound(self) -> float:
        """Seconds after which a run of this scenario is given up."""
        return self.signon_timeout + self.duration + self.max_drain + 60


FULL = [
    Scenario("burst", "Burst", 100, 100, messages=100),
    Scenario("steady", "Steady 200 x 1 msg/s", 200, 200, rate=1, duration=10),
    Scenario("fan-out-burst", "Fan-out burst", 100, 10, messages=1000, servers=FAN_OUT_SERVERS),
    Scenario(
        "fan-out-steady",
        "Fan-out steady, 20 x 10 msg/s",
        200,
        20,
        rate=10,
        duration=10,
        servers=FAN_OUT_SERVERS,
    ),
    Scenario(
        "steady-loaded",
        "Steady 200 x 1 msg/s, a core busy",
        200,
        200,
        rate=1,
        duration=10,
        busy=True,
    ),
    Scenario("steady-500", "Steady 500 x 0.5 msg/s", 500, 500, rate=0.5, duration=10),
    Scenario("big-room", "Big room", 2000, 5, rate=2, duration=10, signon_timeout=300),
    Scenario("idle", "Idle 10,000", 10_000, 1, messages=1, signon_timeout=1200),
    Scenario(
        "slow-consumer", "Slow consumer", 100, 100, rate=5, duration=10, size=1000, nonreaders=1
    ),
    Scenario(
        "reconnect-storm",
        "Reconnect storm 10,000",
        10_000,
        1,
        messages=1,
        history=25,
        replay=20,
        signon_timeout=1200,
    ),
]
QUICK = [
    Scenario("burst", "Burst", 10, 10, messages=20, drain_timeout=3, max_drain=10),
    Scenario("steady", "Steady", 10, 10, rate=5, duration=1, drain_timeout=3, max_drain=10),
    Scenario(
        "fan-out-burst",
        "Fan-out burst",
        10,
        2,
        messages=50,
        drain_timeout=3,
        max_drain=10,
        servers=FAN_OUT_SERVERS,
    ),
    Scenario(
        "fan-out-steady",
        "Fan-out steady",
        10,
        2,
        rate=10,
        duration=1,
        drain_timeout=3,
        max_drain=10,
        servers=FAN_OUT_SERVERS,
    ),
    Scenario(
        "steady-loaded",
        "Steady, a core busy",
        10,
        10,
        rate=5,
        duration=1,
        drain_timeout=3,
        max_drain=10,
        busy=True,
    ),
    Scenario(
        "steady-500",
        "Steady, more clients",
        16,
        16,
        rate=2,
        duration=1,
        drain_timeout=3,
        max_drain=10,
    ),
    Scenario("big-room", "Big room", 40, 2, rate=5, duration=1, drain_timeout=3, max_drain=10),
    Scenario("idle", "Idle", 60, 1, messages=1, drain_timeout=3, max_drain=10),
    Scenario(
        "slow-consumer",
        "Slow consumer",
        5,
        5,
        rate=100,
        duration=2,
        size=4000,
        nonreaders=1,
        chatsvc_args=("--max-send-buffer", "65536"),
        drain_timeout=3,
        max_drain=10,
    ),
    Scenario(
        "reconnect-storm",
        "Reconnect storm",
        40,
        1,
        messages=1,
        history=25,
        replay=20,
        drain_timeout=3,
        max_drain=10,
    ),
]
SCENARIO_NAMES = [s.name for s in FULL]


# Servers


@attrs.frozen
class Binaries:
    loadgen: Path
    relay: Path


@attrs.frozen
class Launch:
    """What a server's command line and configuration are made of, for one run."""

    binaries: Binaries
    scenario: Scenario
    port: int
    """The port to listen on (0 for any, if the server says which it got)."""
    workdir: Path
    """A directory of its own for the run, removed afterwards: its data, its configuration."""
    irc_port: int = 0
    """For a server with an IRC frontend beside its line protocol: that frontend's port."""
    web_port: int = 0
    """For a server with a web frontend beside its line protocol: that frontend's port."""


@attrs.frozen
class ServerKind:
    """How to start one of the servers compared, and what it can take part in."""

    name: str
    description: str
    greeting: bool
    """It sends a line on accepting, which the load generator waits for."""
    command: Callable[[Launch], list[str]]
    """The command line, for the port to listen on (0 for any)."""
    port_pattern: str | None
    """Where its output says which port it got; None: it listens on the port given."""
    per_ip: int = 0
    """Clients per source address (0: all from 127.0.0.1)."""
    only: frozenset[str] | None = None
    max_connections: int | None = None
    why_not: str = ""
    environment: tuple[tuple[str, str], ...] = ()
    """Variables set for it on top of the harness's own environment."""
    keeps_history: bool = False
    """It shows a room's recent lines, framed, to whoever joins it (chatsvc's replay)."""
    dialect: str = "line"
    """
    What the load generator speaks to it: C{line}, C{irc}, C{mixed} (half
    each), C{ws} (the WebSocket JSON protocol), or C{ws-readers} (the senders
    on the line protocol, the others on WebSocket).
    """
    irc_port: bool = False
    """It listens on a second port, for IRC (chatsvc's --irc), which the harness chooses."""
    web_port: bool = False
    """It listens on a second port, for the web (chatsvc's --web), which the harness chooses."""
    takes_part: frozenset[str] | None = None
    """The scenarios it can take part in (None: all); L{why_not_here} says why not the others."""
    why_not_here: str = ""
    configure: Callable[[Launch], None] | None = None
    """Writes its configuration into the run's directory, before it starts."""
    unprivileged: bool = False
    """Started as C{nobody} when the harness runs as root (it would drop privileges itself)."""
    needs: str | None = None
    """The program it is, which must be installed (from the Debian package of that name)."""
    needs_irc_frontend: bool = False
    """It is chatsvc with --irc, which a chatsvc without the IRC frontend does not have."""
    needs_web_frontend: bool = False
    """It is chatsvc with --web, which a chatsvc without the web frontend does not have."""
    replay_note: str = "keeps no history: not checked"
    """In the storm's table of replays, when its replays are not checked."""
    socket_activated: bool = False
    """
    It takes its listening socket from the harness, as systemd passes one
    (descriptor 3, C{LISTEN_FDS=1}), listening with L{LISTEN_BACKLOG}.
    """
    ready_pattern: str | None = None
    """With L{socket_activated}: what its output says once it serves the socket."""

    def skip_reason(self, scenario: Scenario) -> str | None:
        if scenario.servers is not None and self.name not in scenario.servers:
            return NOT_COMPARED
        if self.only is not None and scenario.name not in self.only:
            return "runs in the steady scenario only"
        if self.takes_part is not None and scenario.name not in self.takes_part:
            return self.why_not_here
        if self.max_connections is not None and scenario.connections > self.max_connections:
            return self.why_not
        return None

    def unavailable(self) -> str | None:
        """Why it cannot run on this machine at all, if it cannot."""
        if self.needs is not None and installed(self.needs) is None:
            return f"{self.needs} is not installed (apt-get install {self.needs})"
        if self.needs_irc_frontend and not chatsvc_has_irc():
            return "this chatsvc has no IRC frontend (no --irc option)"
        if self.needs_web_frontend and not chatsvc_has_web():
            return "this chatsvc has no web frontend (no --web option)"
        return None


def installed(program: str) -> str | None:
    """The program's path: on PATH, or in the system directories daemons are installed in."""
    return shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")


def chatsvc_has_irc() -> bool:
    """Whether C{twistd chat} takes --irc (the IRC frontend)."""
    return _chatsvc_takes("--irc")


def chatsvc_has_web() -> bool:
    """Whether C{twistd chat} takes --web (the web frontend: the WebSocket protocol)."""
    return _chatsvc_takes("--web")


def _chatsvc_takes(option: str) -> bool:
    """Whether C{twistd chat --help} lists C{option}."""
    try:
        done = subprocess.run(
            [*TWISTD, "chat", "--help"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    found = re.search(rf"^\s*{re.escape(option)}[= ]", done.stdout, re.M)
    return done.returncode == 0 and found is not None


def _chatsvc(
    limits: Sequence[str], irc: bool = False, web: bool = False
) -> Callable[[Launch], list[str]]:
    """
    chatsvc's command: with C{irc}, its IRC frontend too, on the run's IRC
    port; with C{web}, its web frontend, on the run's web port.
    """

    def command(launch: Launch) -> list[str]:
        frontends = ["--port", f"tcp:{launch.port}:interface={LOOPBACK}"]
        if irc:
            frontends += ["--irc", f"tcp:{launch.irc_port}:interface={LOOPBACK}"]
        if web:
            frontends += ["--web", f"tcp:{launch.web_port}:interface={LOOPBACK}"]
        return [
            *TWISTD,
            "-n",
            "--pidfile=",
            "chat",
            *frontends,
            *limits,
            *launch.scenario.chatsvc_args,
        ]

    return command


def _python_peer(script: str) -> Callable[[Launch], list[str]]:
    return lambda launch: [sys.executable, str(BENCH / "peers" / script), str(launch.port)]


# The IRC servers, configured so that they neither refuse nor slow the load.

LISTEN_BACKLOG = 1024
"""chatsvc's listen backlog, which the harness gives a socket it listens on for a server."""
IRC_MAX_CLIENTS = 100_000
"""Connections an IRC server is told to take, in all and from one address (all from 127.0.0.1)."""
IRC_PING_S = 3600
"""Seconds of silence before an IRC server PINGs a client: longer than any run."""
IRC_MOTD = "chatsvc benchmark peer\n"

INSPIRCD_CONF = """\
<server name="bench.irc" description="chatsvc benchmark peer" network="bench">
<admin name="chatsvc benchmark" nick="bench" email="nobody@localhost">
<bind address="{host}" port="{port}" type="clients">
<connect name="bench" allow="*" motd="motd"
         timeout="1200" pingfreq="{ping}"
         recvq="16777216" softsendq="1073741824" hardsendq="1073741824"
         threshold="4000000" commandrate="4000000000" fakelag="no"
         localmax="{max}" globalmax="{max}" limit="{max}" maxconnwarn="no"
         resolvehostnames="no">
<files motd="{workdir}/motd.txt">
<path datadir="{workdir}" logdir="{workdir}">
<performance somaxconn="1024" clonesonconnect="no" quietbursts="yes">
<options syntaxhints="no">
"""
"""
InspIRCd 3 with no module but its core ones (so no ident, DNSBL, connection
throttle or flood module), no hostname lookups, and a connect class whose
limits are out of the load's way: receive queue 16 MiB, send queues 1 GiB (the
soft one stops reading a client's commands while its send queue is over it),
a penalty threshold of 4,000,000 commands (the most that fits: it is counted
in thousandths in 32 bits) paid back at 4,000,000 commands a second, no fake
lag, 100,000 clients in all and per address, a PING after an hour of silence
and 20 minutes to register. The listen backlog is chatsvc's, 1,024.
"""

NGIRCD_CONF = """\
[Global]
\tName = bench.irc
\tInfo = chatsvc benchmark peer
\tAdminInfo1 = chatsvc benchmark
\tAdminInfo2 = {host}
\tAdminEMail = nobody@localhost
\tListen = {host}
\tPorts = {port}
\tMotdFile = {workdir}/motd.txt
\tHelpFile =
\tPidFile =
[Limits]
\tMaxConnections = 0
\tMaxConnectionsIP = 0
\tMaxJoins = 0
\tMaxNickLength = 30
\tMaxPenaltyTime = 0
\tMaxListSize = 0
\tPingTimeout = {ping}
\tPongTimeout = 1200
\tIdleTimeout = 0
[Options]
\tDNS = no
\tIdent = no
\tPAM = no
"""
"""
ngIRCd 26 with no limit on connections, in all or per address (0), nor on
channels per user, nicknames up to 30 characters, no penalty time
(C{MaxPenaltyTime = 0}: every throttle adds 0 s), no DNS, ident or PAM look-up,
a PING after an hour of silence and 20 minutes to answer it or to register.
What its configuration cannot change is compiled in: see L{NGIRCD_FIXED}.
"""

NGIRCD_FIXED = (
    "3 commands read from a client per turn of its main loop, a 32 KiB write buffer per "
    "client (closed past it) and a 2 KiB read buffer"
)
"""
ngIRCd's limits that are constants of its source, not settings. Its listen
backlog of 10 is one too, which would drop most of 256 connections in flight
and stretch a sign-on into minutes of SYN retries: it gets its socket from
the harness instead (L{ServerKind.socket_activated}), as it would from systemd.
"""


NGIRCD_MAX_CONNECTIONS = 2000
"""
The most clients ngIRCd is run with (big-room's): signing on 10,000 takes it
longer than a run may, its main loop walking every connection for each few
commands it reads, so that each sign-on costs more than the one before.
"""
NGIRCD_TOO_MANY = (
    "signing on 10,000 clients takes it over 20 minutes of a core, each slower than the one "
    "before (5,000 in the first 4 minutes, then 7 a second): its main loop walks every "
    "connection for each 3 commands it reads from one"
)


def _write_config(launch: Launch, name: str, template: str) -> None:
    """The configuration and a MOTD in the run's directory, readable by an unprivileged server."""
    values = {
        "host": LOOPBACK,
        "port": launch.port,
        "workdir": launch.workdir,
        "ping": IRC_PING_S,
        "max": IRC_MAX_CLIENTS,
    }
    (launch.workdir / name).write_text(template.format(**values))
    (launch.workdir / "motd.txt").write_text(IRC_MOTD)
    for path in (launch.workdir / name, launch.workdir / "motd.txt"):
        path.chmod(0o644)
    launch.workdir.chmod(0o755)


def _inspircd(launch: Launch) -> list[str]:
    conf = launch.workdir / "inspircd.conf"
    return [installed("inspircd") or "inspircd", "--nofork", "--nopid", f"--config={conf}"]


def _ngircd(launch: Launch) -> list[str]:
    conf = launch.workdir / "ngircd.conf"
    return [installed("ngircd") or "ngircd", "--nodaemon", "--passive", "--config", str(conf)]


CHATSVC_LIMITS = (
    *("--max-per-ip", "0", "--rate", "0", "--max-clients", "20000"),
    *("--login-timeout", "0"),
)
"""chatsvc's limits raised so that the load is not refused or slowed."""


def server_kinds(quick: bool, baseline: Baseline | None = None) -> dict[str, ServerKind]:
    """
    The servers by name; with a C{baseline}, also C{chatsvc-baseline}: the
    same C{chatsvc} (its options, its scenarios) run from the baseline's tree.
    """
    chatsvc_port = r"ChatFactory starting on (\d+)"
    printed_port = r"^(\d+)$"
    chatsvc = ServerKind(
        "chatsvc",
        "chatsvc, limits raised: --max-per-ip 0 --rate 0 --max-clients 20000 "
        "--login-timeout 0; room history on, in a new database for each run",
        True,
        _chatsvc(CHATSVC_LIMITS),
        chatsvc_port,
        keeps_history=True,
    )
    irc = ServerKind(
        IRC,
        "chatsvc as above, every client on its IRC frontend (--irc), the room as channel "
        f"{CHANNEL}; its replays over IRC are not checked",
        True,
        _chatsvc(CHATSVC_LIMITS, irc=True),
        chatsvc_port,
        dialect="irc",
        irc_port=True,
        takes_part=IRC_SCENARIOS,
        why_not_here=WHY_NOT_IRC,
        needs_irc_frontend=True,
        replay_note="replays over IRC: not checked",
    )
    mixed = attrs.evolve(
        irc,
        name=MIXED,
        description="chatsvc as above with its IRC frontend too, one room: even clients on the "
        f"line protocol, odd ones on IRC in {CHANNEL}; the replays of the line half are checked",
        dialect="mixed",
        keeps_history=True,
    )
    web = ServerKind(
        WEB,
        "chatsvc as above with its web frontend (--web), every client on the WebSocket "
        "protocol at /ws (JSON requests and events, masked client frames); its replays over "
        "WebSocket (the history event on entering the lobby) are checked",
        True,
        _chatsvc(CHATSVC_LIMITS, web=True),
        chatsvc_port,
        keeps_history=True,
        dialect="ws",
        web_port=True,
        needs_web_frontend=True,
    )
    web_readers = attrs.evolve(
        web,
        name=WEB_READERS,
        description="chatsvc with its web frontend as above: the senders on the line protocol, "
        "every other client on the WebSocket protocol, so that the requests are the line "
        "protocol's and the deliveries the WebSocket fan-out's",
        dialect="ws-readers",
        takes_part=FAN_OUT_SCENARIOS,
        why_not_here="runs where a few clients send and the rest only read (the fan-out "
        "scenarios): elsewhere every client sends, and would be on the line protocol",
    )
    compared = []
    if baseline is not None:
        compared.append(
            attrs.evolve(
                chatsvc,
                name=BASELINE,
                description=f"chatsvc as above, the code of commit {baseline.commit}: its "
                "`chatsvc` package and twistd plugin, exported from git, are the ones twistd loads",
                environment=baseline.environment(),
            )
        )
    return {
        kind.name: kind
        for kind in [
            chatsvc,
            *compared,
            irc,
            mixed,
            web,
            web_readers,
            ServerKind(
                METRICS,
                "chatsvc as above with --metrics (Prometheus metrics and /healthz on a free "
                "port of 127.0.0.1): what counting the traffic costs",
                True,
                _chatsvc([*CHATSVC_LIMITS, "--metrics", f"tcp:0:interface={LOOPBACK}"]),
                chatsvc_port,
                keeps_history=True,
                takes_part=frozenset({"steady", "burst"}),
                why_not_here="runs in the steady and burst scenarios only",
            ),
            ServerKind(
                "chatsvc-no-history",
                "chatsvc as above with --no-history: no room history is kept",
                True,
                _chatsvc([*CHATSVC_LIMITS, "--no-history"]),
                chatsvc_port,
                only=frozenset({"steady"}),
            ),
            ServerKind(
                "chatsvc-defaults",
                "chatsvc with its default limits; clients spread over 127/8 source addresses, "
                f"{3 if quick else 10} per address, under --max-per-ip 20",
                True,
                _chatsvc([]),
                chatsvc_port,
                keeps_history=True,
                per_ip=3 if quick else 10,
                only=frozenset({"steady"}),
            ),
            ServerKind(
                "textbook",
                "the chat of Twisted's Writing Servers howto (bench/peers/textbook_chat.py)",
                True,
                _python_peer("textbook_chat.py"),
                printed_port,
            ),
            ServerKind(
                "threaded",
                "thread per client, a lock around the client list (bench/peers/threaded_chat.py)",
                True,
                _python_peer("threaded_chat.py"),
                printed_port,
            ),
            ServerKind(
                "c-relay",
                "the minimal C epoll relay (bench/relay.c), the physical-limit reference",
                False,
                lambda launch: [str(launch.binaries.relay), str(launch.port)],
                printed_port,
            ),
            ServerKind(
                "ncat",
                f"ncat --chat --max-conns {NCAT_MAX_CONNECTIONS}",
                True,
                lambda launch: [
                    *("ncat", "--chat", "--max-conns", str(NCAT_MAX_CONNECTIONS)),
                    *("-l", LOOPBACK, str(launch.port)),
                ],
                None,
                max_connections=NCAT_MAX_CONNECTIONS,
                why_not="ncat waits in select(): at most 1,024 descriptors",
                needs="ncat",
            ),
            ServerKind(
                "inspircd",
                "InspIRCd 3 over IRC, its core modules only, limits out of the load's way: "
                "no flood penalty, threshold or fake lag, 1 GiB send queues, 100,000 clients "
                "per address, no DNS or ident look-up, no PING within a run (bench/README.md). "
                "It completes registrations once a second",
                True,
                _inspircd,
                None,
                dialect="irc",
                takes_part=IRC_SCENARIOS,
                why_not_here=WHY_NOT_IRC,
                configure=lambda launch: _write_config(launch, "inspircd.conf", INSPIRCD_CONF),
                unprivileged=True,
                needs="inspircd",
            ),
            ServerKind(
                "ngircd",
                "ngIRCd 26 over IRC, limits out of the load's way: no connection limits, "
                "MaxPenaltyTime 0, no DNS, ident or PAM, no PING within a run; its listening "
                f"socket passed in as by systemd, with a backlog of {LISTEN_BACKLOG:,} (its own "
                f"is 10); compiled in and not relaxable: {NGIRCD_FIXED}",
                True,
                _ngircd,
                None,
                dialect="irc",
                takes_part=IRC_SCENARIOS,
                why_not_here=WHY_NOT_IRC,
                configure=lambda launch: _write_config(launch, "ngircd.conf", NGIRCD_CONF),
                unprivileged=True,
                needs="ngircd",
                socket_activated=True,
                max_connections=NGIRCD_MAX_CONNECTIONS,
                why_not=NGIRCD_TOO_MANY,
                ready_pattern=r'Server "bench\.irc" .*ready\.$',
            ),
        ]
    }


SERVER_NAMES = [
    "chatsvc",
    IRC,
    MIXED,
    WEB,
    WEB_READERS,
    METRICS,
    "chatsvc-no-history",
    "chatsvc-defaults",
    "textbook",
    "threaded",
    "c-relay",
    "ncat",
    "inspircd",
    "ngircd",
]

# The baseline: another commit's chatsvc


PLUGIN_FILES = """
import sys
from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins
[maker] = [p for p in getPlugins(IServiceMaker) if p.tapname == "chat"]
tap = __import__(maker.module, fromlist=["makeService"])
print(sys.modules["twisted.plugins.chatsvc_plugin"].__file__)
print(tap.__file__)
"""
"""Where the plugin twistd finds for C{chat}, and the options module it names, come from."""


class BaselineError(Exception):
    """A baseline could not be exported, or its tree is not the code twistd would load."""


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BaselineError(f"git {args[0]}: {e}") from e
    if done.returncode != 0:
        raise BaselineError(f"git {args[0]}: {done.stderr.strip() or done.returncode}")
    return done.stdout.strip()


@attrs.frozen
class Baseline:
    """Another commit's tree, exported from git to a directory outside the repository."""

    commit: str
    """Its short hash: what the report calls it."""
    tree: Path

    def environment(self) -> tuple[tuple[str, str], ...]:
        """What makes C{twistd chat} load the tree's C{chatsvc} and plugin rather than ours."""
        inherited = os.environ.get("PYTHONPATH")
        path = str(self.tree) + (os.pathsep + inherited if inherited else "")
        return (("PYTHONPATH", path),)

    def plugin_files(self) -> list[Path]:
        """The plugin module and the options module twistd would load under L{environment}."""
        with tempfile.TemporaryDirectory(prefix="chatsvc-bench-") as cwd:
            try:
                done = subprocess.run(
                    [sys.executable, "-c", PLUGIN_FILES],
                    capture_output=True,
                    text=True,
                    cwd=cwd,
                    env=os.environ | dict(self.environment()),
                    timeout=60,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as e:
                raise BaselineError(f"finding the baseline's plugin: {e}") from e
        if done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1:] or [str(done.returncode)]
            raise BaselineError(f"finding the baseline's plugin: {last[0]}")
        return [Path(line) for line in done.stdout.split()]

    def check(self) -> None:
        """
        Raise L{BaselineError} unless twistd would run this tree's C{chatsvc}.

        The plugin module itself may be an installed copy: Twisted looks in its
        own C{twisted/plugins} first, where a non-editable install puts ours.
        It only names the options module, and that one, with the whole
        package, must come from the tree.
        """
        found = self.plugin_files()
        tap = found[1:2]
        if len(found) != 2 or not tap[0].resolve().is_relative_to(self.tree.resolve()):
            raise BaselineError(
                f"the chatsvc of commit {self.commit} is not the one twistd loads: "
                + ", ".join(f.name for f in tap or found)
                + " comes from elsewhere"
            )


@contextlib.contextmanager
def baseline_export(revision: str | None) -> Iterator[Baseline | None]:
    """
    C{revision}'s tree (C{git archive}) in a temporary directory, checked to be
    what twistd loads; removed afterwards, whatever happens. None without a revision.
    """
    if revision is None:
        yield None
        return
    try:
        full = _git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except BaselineError as e:
        raise BaselineError(f"--baseline {revision}: not a commit of this repository") from e
    commit = _git("rev-parse", "--short", full)
    tree = Path(tempfile.mkdtemp(prefix=f"chatsvc-baseline-{commit}-"))
    try:
        try:
            archive = subprocess.run(
                ["git", "archive", "--format=tar", full],
                capture_output=True,
                cwd=ROOT,
                timeout=120,
                check=True,
            )
        except (OSError, subprocess.SubprocessError) as e:
            raise BaselineError(f"git archive {commit}: {e}") from e
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
        baseline = Baseline(commit, tree)
        baseline.check()
        yield baseline
    finally:
        shutil.rmtree(tree, ignore_errors=True)


# Processes


PR_SET_PDEATHSIG = 1


def _prepare_child() -> None:
    """
    In a child before exec: as many descriptors as the hard limit allows, and
    killed if the harness dies without stopping it (even by SIGKILL).
    """
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Burner:
    """
    A process that keeps one core busy (a loop that does nothing) for at most
    C{bound} seconds, stopping by itself after that: a loaded machine.
    """

    def __init__(self, bound: float) -> None:
        loop = (
            f"import time\nend = time.monotonic() + {bound:g}\nwhile time.monotonic() < end: pass"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", loop],
            start_new_session=True,
            preexec_fn=_prepare_child,  # noqa: PLW1509 (no threads in the harness)
        )

    def stop(self) -> None:
        _kill_group(self.process, 1.0)


def _kill_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """Stop a process started in a session of its own, with everything it started."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


def _proc_status(pid: int, field: str) -> int:
    """A C{kB} figure from /proc/PID/status (VmRSS, VmHWM), in KiB."""
    found = re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(found.group(1)) if found else 0


@attrs.frozen
class CPU:
    """
    A process's CPU time (all its threads), in microseconds: user and system
    in the kernel's ticks, and C{clock}, the total to the nanosecond where
    the process's CPU clock can be read (L{None} in runs recorded before).
    """

    user: float = 0.0
    system: float = 0.0
    clock: float | None = None

    @property
    def total(self) -> float:
        """The total: the clock's where there is one, else the ticks'."""
        return self.clock if self.clock is not None else self.user + self.system

    @property
    def ticks(self) -> tuple[float, float]:
        return self.user, self.system

    def __sub__(self, other: CPU) -> CPU:
        clock = None
        if self.clock is not None and other.clock is not None:
            clock = self.clock - other.clock
        return CPU(self.user - other.user, self.system - other.system, clock)


def _process_clock(pid: int) -> int:
    """
    The clock id of process C{pid}'s CPU time, as glibc's C{clock_getcpuclockid}
    makes it (the kernel's C{MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)}), which
    Python's C{time} does not offer for another process.
    """
    return (~pid << 3) | 2


def _cpu(pid: int) -> CPU:
    """
    The process's CPU time so far: utime and stime of /proc/PID/stat, and
    its CPU clock (the scheduler's own count, threads that ended included).
    A burst's message phase is some 20 ticks, so a tick is 5% of it.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    try:
        clock: float | None = time.clock_gettime_ns(_process_clock(pid)) / 1000
    except OSError:
        clock = None
    return CPU(int(fields[11]) * CLOCK_TICK_US, int(fields[12]) * CLOCK_TICK_US, clock)


def _listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port (from /proc/net/tcp, without connecting)."""
    wanted = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1] == wanted and parts[3] == "0A":
            return True
    return False


def _socket_activation(fd: int, command: list[str]) -> list[str]:
    """
    C{command} run with the listening socket C{fd} as descriptor 3 and
    C{LISTEN_PID} and C{LISTEN_FDS} saying so, as systemd passes a socket.
    Through bash, which (unlike dash) moves a descriptor past 9, and which an
    unprivileged server can run (unlike this harness's Python, maybe).
    """
    moves = f"exec 3<&{fd} {fd}<&-" if fd != 3 else ":"
    script = moves + '; export LISTEN_PID=$$ LISTEN_FDS=1; exec "$@"'
    return [installed("bash") or "/bin/bash", "-c", script, "bash", *command]


def _nobody() -> tuple[int, int]:
    """The user and group ids of C{nobody}."""
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


class ServerError(Exception):
    """A server did not start, or a run could not complete."""


class Server:
    """A server process of the benchmark, on a port of its own."""

    def __init__(
        self, kind: ServerKind, launch: Launch, log: Path, listener: socket.socket | None = None
    ) -> None:
        self.kind = kind
        self.log = log
        self.workdir = launch.workdir
        self.port = launch.port
        self.irc_port = launch.irc_port
        self.web_port = launch.web_port
        if kind.configure is not None:
            kind.configure(launch)
        # A server that would drop root itself is started unprivileged, so that
        # it keeps the signal that kills it with the harness (a change of user
        # clears it).
        user = _nobody() if kind.unprivileged and os.geteuid() == 0 else None
        command = kind.command(launch)
        passed: tuple[int, ...] = ()
        if listener is not None:
            passed = (listener.fileno(),)
            command = _socket_activation(listener.fileno(), command)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                pass_fds=passed,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=os.environ | dict(kind.environment) if kind.environment else None,
                start_new_session=True,
                preexec_fn=_prepare_child,  # noqa: PLW1509 (no threads in the harness)
                user=user[0] if user else None,
                group=user[1] if user else None,
                extra_groups=[] if user else None,
            )
        self.pid = self.process.pid

    @classmethod
    def start(cls, kind: ServerKind, binaries: Binaries, scenario: Scenario, log: Path) -> Server:
        # A directory of its own for whatever the server keeps (chatsvc's
        # history database, an IRC server's configuration), so that no run
        # sees another's.
        workdir = Path(tempfile.mkdtemp(prefix="chatsvc-bench-"))
        listener = None
        try:
            if kind.socket_activated:
                listener = socket.socket()
                listener.bind((LOOPBACK, 0))
                listener.listen(LISTEN_BACKLOG)
                port = listener.getsockname()[1]
            else:
                port = 0 if kind.port_pattern else _free_port()
            launch = Launch(
                binaries,
                scenario,
                port,
                workdir,
                _free_port() if kind.irc_port else 0,
                _free_port() if kind.web_port else 0,
            )
            server = cls(kind, launch, log, listener)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        finally:
            if listener is not None:
                listener.close()  # the server has its own
        try:
            server._wait_until_listening()
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.kind.name} exited at start: {self.log_tail()}")
            if (self.irc_port and not _listening(self.irc_port)) or (
                self.web_port and not _listening(self.web_port)
            ):
                time.sleep(0.05)
                continue
            if self.kind.ready_pattern is not None:
                if re.search(self.kind.ready_pattern, self.log.read_text(errors="replace"), re.M):
                    return
            elif self.kind.port_pattern is None:
                if _listening(self.port):
                    return
            else:
                # The first port it says it got, but for its IRC frontend's, which the
                # harness chose (chatsvc may say that one's in the same words).
                said = re.findall(
                    self.kind.port_pattern, self.log.read_text(errors="replace"), re.M
                )
                ports = [
                    int(port) for port in said if int(port) not in {self.irc_port, self.web_port}
                ]
                if ports:
                    self.port = ports[0]
                    return
            time.sleep(0.05)
        raise ServerError(f"{self.kind.name} did not start listening in 30 s: {self.log_tail()}")

    def log_tail(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:]) or "(no output)"

    def cpu(self) -> CPU:
        return _cpu(self.pid)

    def quiet(self, bound: float = 60.0, gap: float = 0.3) -> CPU:
        """
        The server's CPU time once it has stopped using any: unchanged over
        C{gap} seconds (up to C{bound}), so that work still under way, such as
        saying who left, is counted.
        """
        deadline = time.monotonic() + bound
        last = self.cpu()
        while time.monotonic() < deadline:
            time.sleep(gap)
            now = self.cpu()
            if now.ticks == last.ticks:  # the clock moves with every timer
                break
            last = now
        return last

    def rss_kib(self) -> int:
        return _proc_status(self.pid, "VmRSS")

    def peak_rss_kib(self) -> int:
        return _proc_status(self.pid, "VmHWM")

    def stop(self) -> None:
        _kill_group(self.process, grace=3)
        shutil.rmtree(self.workdir, ignore_errors=True)


class LoadGenerator:
    """The load generator in --hold mode, spoken to line by line."""

    def __init__(self, command: list[str], stderr: Path) -> None:
        with stderr.open("wb") as err:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                preexec_fn=_prepare_child,  # noqa: PLW1509 (no threads in the harness)
            )
        self._pending = b""

    def event(self, deadline: float) -> dict[str, Any]:
        """The next JSON line it prints, waiting until C{deadline} (monotonic) at most."""
        stdout = self.process.stdout
        assert stdout is not None
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerError("the load generator timed out")
            ready, _, _ = select.select([stdout], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    raise ServerError(f"the load generator exited ({self.process.wait()})")
                self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        event: dict[str, Any] = json.loads(line)
        if event.get("event") == "error":
            raise ServerError(f"load generator: {event.get('error')}")
        return event

    def tell(self, word: str) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.write(word.encode() + b"\n")
            self.process.stdin.flush()

    def finish(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        _kill_group(self.process, grace=1)
        if self.process.stdout is not None:
            self.process.stdout.close()


# One run


@attrs.frozen
class Run:
    """What one run of one scenario against one server measured."""

    server: str
    scenario: str
    repeat: int
    error: str | None = None
    result: dict[str, Any] = attrs.field(factory=dict)
    """The load generator's report."""
    server_cpu_us: float = 0.0
    """The server's CPU time over the message phase (user plus system)."""
    phases: dict[str, CPU] = attrs.field(factory=dict)
    """The server's CPU time by phase: C{signon}, C{message} and the whole C{run}."""
    run_s: float = 0.0
    """The whole run: from the first connection until the server is quiet after the last."""
    rss_before_kib: int = 0
    rss_ready_kib: int = 0
    peak_rss_kib: int = 0

    def metrics(self) -> dict[str, float]:
        """The figures reported, each a number; medians are taken of them."""
        r = self.result
        delivered = r["delivered"]
        connections = r["clients"] + r["nonreaders"]
        latency = r["latency_us"]
        return {
            "messages_per_s": r["messages_per_s"],
            "cpu_us_per_msg": self.server_cpu_us / delivered if delivered else float("nan"),
            "p50_ms": latency["p50"] / 1000,
            "p99_ms": latency["p99"] / 1000,
            "max_ms": latency["max"] / 1000,
            "peak_rss_mib": self.peak_rss_kib / 1024,
            "rss_per_conn_kib": (self.rss_ready_kib - self.rss_before_kib) / connections,
            "loadgen_cpu_us_per_msg": r["loadgen_cpu_us"] / delivered
            if delivered
            else float("nan"),
            "signon_s": r["signon_s"],
            **self._phase_metrics(connections, delivered),
        }

    def _phase_metrics(self, connections: int, delivered: int) -> dict[str, float]:
        nan = float("nan")
        out = {}
        for phase, per in (("signon", connections), ("message", delivered), ("run", connections)):
            cpu = self.phases.get(phase)
            unit = "msg" if phase == "message" else "conn"
            for part in ("total", "user", "system"):
                value = getattr(cpu, part) / per if cpu is not None and per else nan
                out[f"{phase}_{part}_us_per_{unit}"] = value
        run = self.phases.get("run")
        out["run_total_us_per_msg"] = (
            run.total / delivered if run is not None and delivered else nan
        )
        out["run_s"] = self.run_s if run is not None else nan
        return out

    def counts(self) -> dict[str, int]:
        """The figures summed over runs."""
        r = self.result
        return {
            key: int(r[key])
            for key in ("expected", "delivered", "lost", "duplicated", "out_of_order", "corrupt")
        } | {
            "nonreaders": int(r["nonreaders"]),
            "nonreaders_dropped": int(r["nonreaders_dropped"]),
            "dropped": int(r["dropped"]),
            "connect_retries": int(r["connect_retries"]),
            # Clients whose replay was looked at: all, or (mixed) those on the line protocol.
            "replay_clients": int(r.get("replay_clients", r["clients"] + r["nonreaders"]))
            if r.get("replay")
            else 0,
            "replayed": int(r.get("replayed", 0)),
            "replay_errors": int(r.get("replay_errors", 0)),
            "replay_short": int(r.get("replay_short", 0)),
            "irc_errors": int(r.get("irc_errors", 0)),
            "ws_errors": int(r.get("ws_errors", 0)),
        }

    def as_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        """A run as L{as_json} wrote it (C{--raw}), for C{--from-raw}."""
        phases = {name: CPU(**cpu) for name, cpu in data.get("phases", {}).items()}
        return cls(**{**data, "phases": phases})


def expect(event: dict[str, Any], name: str) -> dict[str, Any]:
    """The load generator's C{event}, if it is the one named."""
    if event.get("event") != name:
        raise ServerError(f"unexpected load generator output: {event}")
    return event


def dialect_args(kind: ServerKind, port: int, irc_port: int, web_port: int = 0) -> list[str]:
    """
    The load generator's ports and dialect for the server: the line protocol
    on C{port}; IRC on C{irc_port} if the server has one, else on C{port};
    (mixed) half the clients on each; or the WebSocket protocol on
    C{web_port} (the line port then only for the storm's seed, and with
    C{ws-readers} for the senders).
    """
    if kind.dialect == "line":
        return ["--port", str(port)]
    if kind.dialect in ("ws", "ws-readers"):
        return [
            *("--port", str(port), "--ws-port", str(web_port)),
            *("--dialect", kind.dialect, "--channel", CHANNEL),
        ]
    if kind.dialect == "irc":
        return ["--port", str(irc_port or port), "--dialect", "irc", "--channel", CHANNEL]
    return [
        *("--port", str(port), "--irc-port", str(irc_port)),
        *("--dialect", "mixed", "--channel", CHANNEL),
    ]


def run_once(
    kind: ServerKind, scenario: Scenario, repeat: int, binaries: Binaries, logs: Path
) -> Run:
    """Start the server, drive it through the scenario, measure, stop everything."""
    stem = f"{kind.name}-{scenario.name}-{repeat}"
    server: Server | None = None
    loadgen: LoadGenerator | None = None
    burner = Burner(scenario.time_bound) if scenario.busy else None
    try:
        server = Server.start(kind, binaries, scenario, logs / f"{stem}.server.log")
        time.sleep(0.2)
        rss_before = server.rss_kib()
        command = [
            str(binaries.loadgen),
            *(
                "--host",
                LOOPBACK,
                "--hold",
                *dialect_args(kind, server.port, server.irc_port, server.web_port),
            ),
            *scenario.loadgen_args(kind.keeps_history),
        ]
        if kind.greeting:
            command.append("--greeting")
        if kind.per_ip:
            command += ["--per-ip", str(kind.per_ip)]
        run_cpu, run_clock = server.cpu(), time.monotonic()
        loadgen = LoadGenerator(command, logs / f"{stem}.loadgen.log")
        deadline = time.monotonic() + scenario.time_bound
        signon_cpu = run_cpu
        if scenario.history:
            expect(loadgen.event(deadline), "seeded")
            signon_cpu = server.cpu()
            loadgen.tell("go")
        expect(loadgen.event(deadline), "ready")
        ready_cpu = server.cpu()
        time.sleep(0.5)  # let the last sign-on notices drain before reading the idle RSS
        rss_ready = server.rss_kib()
        message_cpu = server.cpu()
        loadgen.tell("go")
        result = expect(loadgen.event(deadline), "result")
        delivered_cpu = server.cpu()
        peak = server.peak_rss_kib()
        loadgen.tell("bye")
        loadgen.finish()
        end_cpu = server.quiet()
        run_s = time.monotonic() - run_clock
        if server.process.poll() is not None:
            raise ServerError(f"{kind.name} died during the run: {server.log_tail()}")
        return Run(
            kind.name,
            scenario.name,
            repeat,
            result=result,
            server_cpu_us=(delivered_cpu - message_cpu).total,
            phases={
                "signon": ready_cpu - signon_cpu,
                "message": delivered_cpu - message_cpu,
                "run": end_cpu - run_cpu,
            },
            run_s=run_s,
            rss_before_kib=rss_before,
            rss_ready_kib=rss_ready,
            peak_rss_kib=peak,
        )
    except (ServerError, OSError, ValueError) as e:
        return Run(kind.name, scenario.name, repeat, error=str(e))
    finally:
        if loadgen is not None:
            loadgen.finish()
        if server is not None:
            server.stop()
        if burner is not None:
            burner.stop()


# Building


def build(build_dir: Path) -> Binaries:
    """The load generator and the relay, compiled unless up to date."""
    gcc = shutil.which("gcc")
    built = {}
    for name, source in SOURCES.items():
        target = build_dir / name
        if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
            if gcc is None:
                raise SystemExit("bench/run.py needs gcc to build the load generator and relay")
            build_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [gcc, "-O2", "-Wall", "-Wextra", "-o", str(target), str(source), *LIBRARIES[name]],
                check=True,
            )
        built[name] = target
    return Binaries(loadgen=built["loadgen"], relay=built["relay"])


# Summaries and targets


@attrs.frozen
class Summary:
    """The runs of one server in one scenario: medians of the figures, sums of the counts."""

    runs: list[Run]

    @property
    def good(self) -> list[Run]:
        return [r for r in self.runs if r.error is None]

    @property
    def errors(self) -> list[str]:
        return [r.error for r in self.runs if r.error is not None]

    def values(self, key: str) -> list[float]:
        """The figure in each run that finished and measured it."""
        values = [r.metrics()[key] for r in self.good]
        return [v for v in values if not math.isnan(v)]

    def median(self, key: str) -> float | None:
        values = self.values(key)
        return statistics.median(values) if values else None

    def spread(self, key: str) -> tuple[float, float] | None:
        """The lowest and highest of the figure over the runs."""
        values = self.values(key)
        return (min(values), max(values)) if values else None

    def median_and_spread(self, key: str) -> str:
        """The median, with the range of the runs beside it if there were several."""
        values = self.values(key)
        if len(values) < 2:
            return _fmt(self.median(key))
        return f"{_fmt(statistics.median(values))} ({_fmt(min(values))}..{_fmt(max(values))})"

    def total(self, key: str) -> int:
        return sum(r.counts()[key] for r in self.good)

    @property
    def clean(self) -> bool:
        """Every run finished, and nothing was lost, duplicated or reordered."""
        return (
            bool(self.good)
            and not self.errors
            and all(self.total(k) == 0 for k in ("lost", "duplicated", "out_of_order", "corrupt"))
        )


Results = dict[tuple[str, str], Summary]


@attrs.frozen
class Check:
    target: str
    measured: str
    met: bool | None
    """None: not measured in this run, or a ratio shown without a bound."""
    bounded: bool = True
    """False: a ratio shown beside the targets, with none of its own."""

    @property
    def verdict(self) -> str:
        if not self.bounded:
            return "shown" if self.measured != "—" else "not measured"
        return {True: "met", False: "NOT met", None: "not measured"}[self.met]


@attrs.frozen
class RatioTarget:
    """chatsvc's median of a figure against another server's, in one scenario."""

    scenario: str
    key: str
    what: str
    versus: str
    bound: float | None
    """None: the ratio is shown beside the targets, and is not one."""
    at_most: bool = True
    ours: str = "chatsvc"

    def check(self, results: Results) -> Check:
        ours = results.get((self.scenario, self.ours))
        theirs = results.get((self.scenario, self.versus))
        a = ours.median(self.key) if ours else None
        b = theirs.median(self.key) if theirs else None
        relation = "at most" if self.at_most else "at least"
        bounded = self.bound is not None
        if self.bound is None:
            target = f"{self.scenario}: {self.ours}'s {self.what} against {self.versus}'s"
        else:
            target = (
                f"{self.scenario}: {self.ours}'s {self.what} {relation} {self.bound:g}x "
                f"{self.versus}'s"
            )
        if a is None or b is None or b == 0:
            return Check(target, "—", None, bounded)
        ratio = a / b
        measured = f"{a:.3g} / {b:.3g} = {ratio:.2f}x"
        if self.bound is None:
            return Check(target, measured, None, bounded)
        met = ratio <= self.bound if self.at_most else ratio >= self.bound
        return Check(target, measured, met)


RATIO_TARGETS = [
    RatioTarget("steady", "cpu_us_per_msg", "CPU per message", "c-relay", 1.25),
    RatioTarget("steady", "cpu_us_per_msg", "CPU per message", "textbook", 0.6),
    RatioTarget("steady", "p99_ms", "p99 latency", "c-relay", 1.5),
    # Issue 14: the same on a loaded machine (the other core busy).
    RatioTarget("steady-loaded", "cpu_us_per_msg", "CPU per message", "c-relay", 1.25),
    RatioTarget("steady-loaded", "p99_ms", "p99 latency", "c-relay", 1.5),
    RatioTarget("burst", "messages_per_s", "messages/s", "textbook", 1.0, at_most=False),
    # Issue 7: room history may cost at most 10% of the server's CPU per message.
    RatioTarget("steady", "cpu_us_per_msg", "CPU per message", "chatsvc-no-history", 1.1),
    # Issue 14: a sign-on storm, against the textbook chat; a big room, against the C relay.
    RatioTarget(
        "reconnect-storm",
        "signon_total_us_per_conn",
        "sign-on CPU per connection",
        "textbook",
        4.0,
    ),
    RatioTarget("reconnect-storm", "signon_s", "time to sign everyone on", "textbook", 3.0),
    RatioTarget("big-room", "cpu_us_per_msg", "CPU per message", "c-relay", 1.0),
    # Issue 14: the IRC servers, in a burst.
    RatioTarget("burst", "messages_per_s", "messages/s", "inspircd", 1.0, at_most=False),
    RatioTarget("burst", "cpu_us_per_msg", "CPU per message", "ngircd", 1.0),
    # Issue 15: chatsvc's IRC frontend against InspIRCd, and a room half on each frontend
    # against one all on the line protocol.
    *(
        RatioTarget(scenario, "cpu_us_per_msg", "CPU per message", "inspircd", 1.0, ours=IRC)
        for scenario in ("steady", "burst")
    ),
    *(
        RatioTarget(scenario, "cpu_us_per_msg", "CPU per message", "chatsvc", 1.1, ours=MIXED)
        for scenario in ("steady", "burst")
    ),
    # Issue 20: counting the traffic for --metrics costs under 3% of the CPU per message.
    *(
        RatioTarget(scenario, "cpu_us_per_msg", "CPU per message", "chatsvc", 1.03, ours=METRICS)
        for scenario in ("steady", "burst")
    ),
    # Issue 16: fan-out over WebSocket against the line protocol's. The fan-out is measured
    # where the requests are the same on both (line-protocol senders) and the deliveries go to
    # WebSocket clients; with the senders on WebSocket too, the ratio shown is that of the
    # whole wire, its requests' parsing included (docs/benchmarks.md, "Issue 16").
    *(
        RatioTarget(scenario, "cpu_us_per_msg", "CPU per message", "chatsvc", 1.5, ours=WEB_READERS)
        for scenario in ("fan-out-steady", "fan-out-burst")
    ),
    *(
        RatioTarget(scenario, "cpu_us_per_msg", "CPU per message", "chatsvc", None, ours=WEB)
        for scenario in ("steady", "burst", "fan-out-steady", "fan-out-burst")
    ),
]


IDLE_KIB = 2.0
"""Issue 14: 10,000 idle connections at no more than this much server RSS each (4 KiB before)."""


def target_checks(results: Results, scenarios: Sequence[str]) -> list[Check]:
    """The issue's targets, from the medians of this run."""
    checks = [target.check(results) for target in RATIO_TARGETS]
    idle = results.get(("idle", "chatsvc"))
    per_conn = idle.median("rss_per_conn_kib") if idle else None
    if idle is None or per_conn is None:
        checks.append(
            Check(f"idle: at most {IDLE_KIB:g} KiB of server RSS per connection", "—", None)
        )
        checks.append(Check("idle: the one message reaches every connection", "—", None))
    else:
        checks.append(
            Check(
                f"idle: at most {IDLE_KIB:g} KiB of server RSS per connection",
                f"{per_conn:.2f} KiB",
                per_conn <= IDLE_KIB,
            )
        )
        delivered, expected = idle.total("delivered"), idle.total("expected")
        checks.append(
            Check(
                "idle: the one message reaches every connection",
                f"{delivered:,} of {expected:,} deliveries",
                delivered == expected and not idle.errors,
            )
        )
    for name in ("chatsvc", BASELINE, MIXED, WEB):
        storm = results.get(("reconnect-storm", name))
        if storm is None:
            continue
        replayed, clients = storm.total("replayed"), storm.total("replay_clients")
        errors = storm.total("replay_errors")
        who = "line-protocol client" if name == MIXED else "client"
        checks.append(
            Check(
                f"reconnect-storm: every {name} {who} gets its replay of the lobby's history",
                f"{replayed:,} of {clients:,} replays complete, {errors:,} errors"
                + (f"; {len(storm.errors)} runs failed" if storm.errors else ""),
                bool(storm.good) and not storm.errors and 0 < replayed == clients,
            )
        )
    for name in (
        "chatsvc",
        BASELINE,
        "chatsvc-no-history",
        "chatsvc-defaults",
        IRC,
        MIXED,
        WEB,
    ):
        summaries = [results[(s, name)] for s in scenarios if (s, name) in results]
        if not summaries:
            continue
        bad = [
            f"{s.runs[0].scenario}: "
            + (
                "; ".join(s.errors)
                if s.errors
                else f"{s.total('lost')} lost, {s.total('duplicated')} duplicated, "
                f"{s.total('out_of_order')} out of order"
            )
            for s in summaries
            if not s.clean
        ]
        checks.append(
            Check(
                f"every scenario: {name} loses, duplicates and reorders nothing",
                "; ".join(bad) if bad else f"0 in {sum(len(s.good) for s in summaries)} runs",
                not bad,
            )
        )
    return checks


AB_BOUNDS = [
    RatioTarget("steady", "cpu_us_per_msg", "CPU per message", BASELINE, 1.05),
    RatioTarget("burst", "cpu_us_per_msg", "CPU per message", BASELINE, 1.05),
]
"""A change to the hot path may cost at most 5% more CPU per delivered message..."""
AB_IDLE_KIB = 0.2
"""... and at most 0.2 KiB more memory per idle connection, against the code before it."""

AB_FIGURES = [
    ("cpu_us_per_msg", "CPU µs/msg"),
    ("p99_ms", "p99 ms"),
    ("messages_per_s", "msg/s"),
    ("rss_per_conn_kib", "RSS/conn KiB"),
]


def ab_checks(results: Results) -> list[Check]:
    """chatsvc against chatsvc-baseline: the bounds a change to the hot path is held to."""
    checks = [bound.check(results) for bound in AB_BOUNDS]
    target = (
        f"idle: chatsvc's RSS per connection at most {AB_IDLE_KIB:g} KiB more than {BASELINE}'s"
    )
    ours, theirs = results.get(("idle", "chatsvc")), results.get(("idle", BASELINE))
    a = ours.median("rss_per_conn_kib") if ours else None
    b = theirs.median("rss_per_conn_kib") if theirs else None
    if a is None or b is None:
        checks.append(Check(target, "—", None))
    else:
        checks.append(Check(target, f"{a:.2f} - {b:.2f} = {a - b:+.2f} KiB", a - b <= AB_IDLE_KIB))
    return checks


def _signed(value: float) -> str:
    return ("-" if value < 0 else "+") + _fmt(abs(value))


def ab_table(scenarios: Sequence[Scenario], results: Results, commit: str) -> list[str]:
    """For each scenario, chatsvc's medians against chatsvc-baseline's, figure by figure."""
    lines = [
        f"| scenario | figure | chatsvc | {BASELINE} ({commit}) | ratio | difference |",
        "|" + " --- |" * 6,
    ]
    for scenario in scenarios:
        ours = results.get((scenario.name, "chatsvc"))
        theirs = results.get((scenario.name, BASELINE))
        if ours is None or theirs is None:
            continue
        for key, figure in AB_FIGURES:
            a, b = ours.median(key), theirs.median(key)
            ratio = f"{a / b:.3f}x" if a is not None and b else "—"
            difference = _signed(a - b) if a is not None and b is not None else "—"
            lines.append(
                f"| {scenario.name} | {figure} | {_fmt(a)} | {_fmt(b)} | {ratio} | {difference} |"
            )
    return lines


# The report

NOTES_MARK = "<!-- bench/run.py keeps what follows: notes written by hand -->"


def kept_notes(path: Path) -> str:
    """The hand-written notes at the end of an earlier report, from L{NOTES_MARK} on."""
    try:
        text = path.read_text()
    except OSError:
        return ""
    start = text.find(NOTES_MARK)
    return "" if start < 0 else "\n" + text[start:]


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def scenario_table(scenario: Scenario, results: Results, servers: Sequence[str]) -> list[str]:
    lines = [
        "| server | runs | delivered / expected | msg/s | CPU µs/msg | p50 ms | p99 ms | max ms "
        "| peak RSS MiB | RSS/conn KiB | lost / dup / reord | loadgen CPU µs/msg | sign-on s "
        "| notes |",
        "|" + " --- |" * 14,
    ]
    for name in servers:
        summary = results.get((scenario.name, name))
        if summary is None:
            continue
        notes = []
        if summary.errors:
            notes.append("failed: " + "; ".join(sorted(set(summary.errors))))
        if summary.good:
            corrupt = summary.total("corrupt")
            if corrupt:
                notes.append(f"{corrupt:,} torn lines")
            if scenario.nonreaders:
                dropped = summary.total("nonreaders_dropped")
                notes.append(f"non-reader dropped in {dropped} of {len(summary.good)} runs")
            irc_errors = summary.total("irc_errors")
            if irc_errors:
                shown = next(
                    r.result["irc_error"] for r in summary.good if r.result.get("irc_error")
                )
                notes.append(f"{irc_errors:,} IRC errors (`{shown}`)")
            ws_errors = summary.total("ws_errors")
            if ws_errors:
                shown = next(r.result["ws_error"] for r in summary.good if r.result.get("ws_error"))
                notes.append(f"{ws_errors:,} WebSocket errors (`{shown}`)")
            others = summary.total("dropped")
            if others:
                notes.append(f"{others} reading clients disconnected")
            retries = summary.total("connect_retries")
            if retries:
                notes.append(f"{retries:,} connections refused or reset at sign-on, and retried")
        m = summary.median_and_spread
        counts = (
            f"{summary.total('lost'):,} / {summary.total('duplicated'):,} / "
            f"{summary.total('out_of_order'):,}"
            if summary.good
            else "—"
        )
        delivered = (
            f"{summary.total('delivered'):,} / {summary.total('expected'):,}"
            if summary.good
            else "—"
        )
        lines.append(
            f"| {name} | {len(summary.good)}/{len(summary.runs)} | {delivered} "
            f"| {m('messages_per_s')} | {m('cpu_us_per_msg')} "
            f"| {m('p50_ms')} | {m('p99_ms')} | {m('max_ms')} "
            f"| {m('peak_rss_mib')} | {m('rss_per_conn_kib')} | {counts} "
            f"| {m('loadgen_cpu_us_per_msg')} | {m('signon_s')} "
            f"| {'; '.join(notes)} |"
        )
    return lines


CPU_FIGURES = [
    ("signon_s", "sign-on s"),
    ("signon_total_us_per_conn", "sign-on CPU µs/conn"),
    ("signon_user_us_per_conn", "user"),
    ("signon_system_us_per_conn", "system"),
    ("message_total_us_per_msg", "message CPU µs/msg"),
    ("message_user_us_per_msg", "user"),
    ("message_system_us_per_msg", "system"),
    ("run_total_us_per_conn", "whole run CPU µs/conn"),
    ("run_total_us_per_msg", "µs/msg"),
    ("run_user_us_per_conn", "user µs/conn"),
    ("run_system_us_per_conn", "system µs/conn"),
    ("run_s", "whole run s"),
]
"""The server's CPU time by phase, per connection signed on and per delivered message."""


def cpu_table(scenario: Scenario, results: Results, servers: Sequence[str]) -> list[str]:
    """The server's CPU by phase: sign-on, messages, the whole run; user and system apart."""
    lines = [
        "| server | " + " | ".join(title for _, title in CPU_FIGURES) + " |",
        "|" + " --- |" * (len(CPU_FIGURES) + 1),
    ]
    for name in servers:
        summary = results.get((scenario.name, name))
        if summary is None or not summary.good:
            continue
        cells = [summary.median_and_spread(key) for key, _ in CPU_FIGURES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def replay_table(
    scenario: Scenario, results: Results, servers: Sequence[str], kinds: dict[str, ServerKind]
) -> list[str]:
    """Whether every client got its replay of the room's history, summed over the runs."""
    lines = [
        "| server | runs | complete replays / clients | errors | short or missing "
        "| all signed on s | sign-on CPU µs/conn |",
        "|" + " --- |" * 7,
    ]
    for name in servers:
        summary = results.get((scenario.name, name))
        if summary is None:
            continue
        runs = f"{len(summary.good)}/{len(summary.runs)}"
        if not kinds[name].keeps_history:
            replays = [kinds[name].replay_note, "—", "—"]
        elif summary.good:
            shown = [r.result["replay_error"] for r in summary.good if r.result.get("replay_error")]
            replays = [
                f"{summary.total('replayed'):,} / {summary.total('replay_clients'):,}",
                f"{summary.total('replay_errors'):,}" + (f" (`{shown[0]}`)" if shown else ""),
                f"{summary.total('replay_short'):,}",
            ]
        else:
            replays = ["—", "—", "—"]
        lines.append(
            f"| {name} | {runs} | "
            + " | ".join(replays)
            + f" | {summary.median_and_spread('signon_s')} "
            f"| {summary.median_and_spread('signon_total_us_per_conn')} |"
        )
    return lines


def ceiling_table(scenarios: Sequence[Scenario], results: Results) -> list[str]:
    lines = [
        "| scenario | C relay CPU µs/msg | load generator CPU µs/msg | load generator ceiling, "
        "msg/s on one core | chatsvc msg/s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for scenario in scenarios:
        relay = results.get((scenario.name, "c-relay"))
        if relay is None or not relay.good:
            continue
        loadgen = relay.median("loadgen_cpu_us_per_msg")
        chatsvc = results.get((scenario.name, "chatsvc"))
        ceiling = 1e6 / loadgen if loadgen else None
        lines.append(
            f"| {scenario.name} | {_fmt(relay.median('cpu_us_per_msg'))} | {_fmt(loadgen)} "
            f"| {_fmt(ceiling)} | {_fmt(chatsvc.median('messages_per_s') if chatsvc else None)} |"
        )
    return lines


def _version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "not installed"
    return (out.stdout or out.stderr).strip().splitlines()[0] if out.returncode == 0 else "?"


def _ncat_version() -> str:
    if shutil.which("ncat") is None:
        return "not installed"
    found = re.search(r"Version (\S+)", _version(["ncat", "--version"]))
    return found.group(1) if found else "?"


def _daemon_version(program: str, pattern: str) -> str:
    """An IRC server's version, from its --version (the Debian package's, as it says it)."""
    path = installed(program)
    if path is None:
        return "not installed"
    found = re.search(pattern, _version([path, "--version"]))
    return found.group(1) if found else "?"


def machine() -> list[tuple[str, str]]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    memory = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=10,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    chatsvc = importlib.metadata.version("chatsvc") + (
        f", working tree at commit {commit}" if commit else ""
    )
    return [
        ("CPU", model.group(1).strip() if model else platform.processor() or "?"),
        ("cores", str(os.cpu_count())),
        ("memory", f"{int(memory.group(1)) / 1024 / 1024:.0f} GiB" if memory else "?"),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("Twisted", importlib.metadata.version("twisted")),
        ("chatsvc", chatsvc),
        ("gcc", _version(["gcc", "-dumpfullversion"])),
        ("ncat", _ncat_version()),
        ("InspIRCd", _daemon_version("inspircd", r"InspIRCd-(\S+)")),
        ("ngIRCd", _daemon_version("ngircd", r"ngIRCd (\S+)")),
    ]


def command_line(argv: Sequence[str]) -> str:
    """
    The command as typed from the repository's root, without this machine's
    paths: one inside the repository relative to it, one outside it by its
    name alone (they only say where output goes).
    """
    args = []
    for arg in argv:
        path = Path(arg)
        if not path.is_absolute():
            args.append(arg)
        elif path.resolve().is_relative_to(ROOT):
            args.append(str(path.resolve().relative_to(ROOT)))
        else:
            args.append(path.name)
    return shlex.join(["python", "bench/run.py", *args])


NOTES = [
    "The textbook and threaded servers do not set TCP_NODELAY, as their designs do not, nor do "
    "InspIRCd and ngIRCd (their sources never do); Nagle's algorithm then holds back some small "
    "writes until the previous one is acknowledged, which shows in their p99 and max latency. "
    "chatsvc and the C relay set it.",
    "Over IRC, every client signs on with NICK and USER, is in the room once it reads the end "
    "of NAMES for #lobby, and says its lines in PRIVMSGs (the same bytes after the colon as on "
    "the line protocol); InspIRCd completes registrations once a second, which shows in its "
    "sign-on time.",
    "Over WebSocket (chatsvc-web), every client upgrades `GET /ws` with the server's own "
    "origin, sends `hello` and `sign-on`, is in the room once it reads the lobby's `entered` "
    "event, and says its lines in `say` requests (the same text as on the line protocol) in "
    "masked text frames; a delivery is a `message` event.",
    "ncat --chat prefixes `<userN> ` to each chunk it reads, not each line, so lines it reads "
    "in two pieces reach the others torn; the load generator counts them as torn (and lost).",
    "Per-connection RSS is (server RSS with every connection signed on and idle - server RSS "
    "before the first connection) / connections; in every scenario, not only `idle`.",
]


@attrs.frozen
class Report:
    """Everything ``benchmarks.md`` says."""

    argv: Sequence[str]
    repeat: int
    quick: bool
    scenarios: Sequence[Scenario]
    servers: Sequence[str]
    kinds: dict[str, ServerKind]
    results: Results
    checks: Sequence[Check]
    skipped: dict[str, str]
    plot: str | None
    """Why there is no plot, or None if there is one."""
    started: datetime.datetime
    seconds: float
    baseline: str | None = None
    """The short hash of the commit chatsvc-baseline ran, if it ran."""
    ab_checks: Sequence[Check] = ()

    def markdown(self) -> str:
        return "\n".join([*self._header(), *self._ab(), *self._results(), *self._footer()]) + "\n"

    def _ab(self) -> list[str]:
        if self.baseline is None:
            return []
        return [
            "",
            f"## A/B: chatsvc against {BASELINE} ({self.baseline})",
            "",
            f"The medians of this run, whose runs of chatsvc and of commit {self.baseline}'s "
            "chatsvc were interleaved, run by run. Ratio: chatsvc / "
            f"{BASELINE}; difference: chatsvc - {BASELINE}. Lower is better, but for msg/s.",
            "",
            *ab_table(self.scenarios, self.results, self.baseline),
            "",
            "A change to the hot path is held to these bounds against the code before it:",
            "",
            "| bound | measured | |",
            "| --- | --- | --- |",
            *(f"| {c.target} | {c.measured} | {c.verdict} |" for c in self.ab_checks),
        ]

    def _header(self) -> list[str]:
        kinds = self.kinds
        return [
            "# Benchmarks",
            "",
            "chatsvc side by side with other chat servers speaking the same nickname-first line "
            "protocol, or IRC, all on one machine in one run of `bench/run.py`. What each figure "
            "means and how it is measured: [bench/README.md](../bench/README.md).",
            "",
            "## How this was run",
            "",
            "```",
            command_line(self.argv),
            "```",
            "",
            f"Started {self.started:%Y-%m-%d %H:%M} UTC, took {self.seconds / 60:.0f} min. "
            f"Each server ran each scenario {self.repeat} "
            f"time{'s' if self.repeat != 1 else ''}, on a fresh server process each time; "
            "figures are medians over the runs, counts (delivered, lost, duplicated, out of "
            "order) are sums over the runs."
            + (
                " **Quick sizes** (`--quick`): a check of the harness, not a measurement."
                if self.quick
                else ""
            ),
            "",
            "| machine | |",
            "| --- | --- |",
            *(f"| {k} | {v} |" for k, v in machine()),
            *([f"| {BASELINE} | chatsvc at commit {self.baseline} |"] if self.baseline else []),
            "",
            "Servers:",
            "",
            *(f"- **{name}**: {kinds[name].description}" for name in self.servers),
            *(f"- **{name}**: not run: {why}" for name, why in self.skipped.items()),
            "",
            "## Targets",
            "",
            "The issue's ratios, from the medians below (chatsvc against the others in the same "
            "run).",
            "",
            "| target | measured | |",
            "| --- | --- | --- |",
            *(f"| {c.target} | {c.measured} | {c.verdict} |" for c in self.checks),
            "",
            "## Results",
        ]

    def _results(self) -> list[str]:
        out = []
        for scenario in self.scenarios:
            out += ["", f"### {scenario.title} (`{scenario.name}`)", ""]
            out += [scenario.describe() + ".", ""]
            out += scenario_table(scenario, self.results, self.servers)
            if scenario.history:
                out += ["", "Replays of the room's history:", ""]
                out += replay_table(scenario, self.results, self.servers, self.kinds)
            out += ["", "The server's CPU by phase (bench/README.md defines them):", ""]
            out += cpu_table(scenario, self.results, self.servers)
            absent = [
                f"{name} ({reason})"
                for name in self.servers
                if (reason := self.kinds[name].skip_reason(scenario))
                and self.kinds[name].only is None
                and reason != NOT_COMPARED
            ]
            if absent:
                out += ["", "Not run here: " + ", ".join(absent) + "."]
        return out

    def _footer(self) -> list[str]:
        out = [
            "",
            "## The load generator's ceiling",
            "",
            "The load generator's own CPU time per delivered message, against the C relay's in "
            "the same runs: the load generator can take in about 10^6 / (its µs per message) "
            "messages a second on one core, which bounds what any server can be seen to do here.",
            "",
            *ceiling_table(self.scenarios, self.results),
            "",
            "## Notes",
            "",
            *(f"- {note}" for note in NOTES),
        ]
        if self.plot is None:
            out += ["", "![CPU per message, latency and throughput](benchmarks.png)"]
        else:
            out += ["", f"No plot: {self.plot}."]
        return out


def draw_plot(path: Path, results: Results, servers: Sequence[str]) -> str | None:
    """The plot as PNG; if it cannot be drawn, why not."""
    # Imported by name: matplotlib is an optional dependency, and may be absent where
    # the types are checked.
    try:
        matplotlib: Any = importlib.import_module("matplotlib")
    except ImportError:
        return "matplotlib is not installed (pip install 'chatsvc[bench]')"
    matplotlib.use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")
    panels = [
        ("steady", "cpu_us_per_msg", "steady: server CPU µs per delivered message"),
        ("steady", "p99_ms", "steady: p99 latency, ms"),
        ("burst", "messages_per_s", "burst: delivered messages/s"),
        ("burst", "cpu_us_per_msg", "burst: server CPU µs per delivered message"),
    ]
    figure, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, (scenario, key, title) in zip(axes.flat, panels, strict=True):
        names, values = [], []
        for name in servers:
            summary = results.get((scenario, name))
            value = summary.median(key) if summary else None
            if value is not None:
                names.append(name)
                values.append(value)
        colours = ["tab:red" if n.startswith("chatsvc") else "tab:blue" for n in names]
        bars = ax.bar(names, values, color=colours)
        ax.bar_label(bars, labels=[_fmt(v) for v in values], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return None


# The command


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n\n")[0])
    parser.add_argument(
        "--servers",
        default=",".join(SERVER_NAMES),
        help=f"comma-separated, from {','.join(SERVER_NAMES)} (default: all)",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIO_NAMES),
        help=f"comma-separated, from {','.join(SCENARIO_NAMES)} (default: all)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument(
        "--window",
        type=int,
        default=256,
        help="connections the load generator keeps in flight at once (default 256)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="report directory (docs)")
    parser.add_argument(
        "--build-dir", type=Path, default=BENCH / "build", help="compiled binaries (bench/build)"
    )
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.add_argument("--raw", type=Path, help="also write every run's measurements as JSON here")
    parser.add_argument("--keep-logs", type=Path, help="keep server and load generator logs here")
    parser.add_argument(
        "--from-raw",
        type=Path,
        metavar="FILE",
        help="run nothing: write the report of the runs an earlier --raw FILE holds "
        "(with the same --servers, --scenarios and --repeat)",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help=f"also run {BASELINE}: chatsvc as of this git revision, beside chatsvc",
    )
    args = parser.parse_args(argv)
    for option, known in (("servers", SERVER_NAMES), ("scenarios", SCENARIO_NAMES)):
        chosen = [n.strip() for n in getattr(args, option).split(",") if n.strip()]
        unknown = [n for n in chosen if n not in known]
        if unknown or not chosen:
            parser.error(f"--{option}: unknown {', '.join(unknown) or '(none given)'}")
        setattr(args, option, [n for n in known if n in chosen])
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.window < 1:
        parser.error("--window must be at least 1")
    if args.baseline is not None and "chatsvc" not in args.servers:
        parser.error("--baseline: chatsvc must be among --servers, to be compared with it")
    return args


@contextlib.contextmanager
def log_directory(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
    else:
        with tempfile.TemporaryDirectory(prefix="chatsvc-bench-") as tmp:
            yield Path(tmp)


def _say(text: str) -> None:
    print(text, flush=True)


def _progress(run: Run) -> str:
    if run.error is not None:
        return f"FAILED: {run.error}"
    m, c = run.metrics(), run.counts()
    return (
        f"{c['delivered']:,}/{c['expected']:,} delivered, {_fmt(m['messages_per_s'])} msg/s, "
        f"{_fmt(m['cpu_us_per_msg'])} µs CPU/msg, p99 {_fmt(m['p99_ms'])} ms, "
        f"sign-on {_fmt(m['signon_s'])} s, {_fmt(m['signon_total_us_per_conn'])} µs CPU/conn, "
        f"lost/dup/reord {c['lost']}/{c['duplicated']}/{c['out_of_order']}"
    )


def _stop_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so that every server and load generator is stopped."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        with baseline_export(args.baseline) as baseline:
            return run_all(args, argv, baseline)
    except BaselineError as e:
        raise SystemExit(f"bench/run.py: {e}") from e


def _earlier_runs(
    path: Path, plan: Sequence[tuple[Scenario, int, ServerKind]]
) -> tuple[list[Run], datetime.datetime, float]:
    """
    The runs of C{plan} from an earlier C{--raw} file, when they began (the
    file's time less theirs) and how long they took in all.
    """
    wanted = {(scenario.name, repeat, kind.name) for scenario, repeat, kind in plan}
    runs = [Run.from_json(data) for data in json.loads(path.read_text())]
    runs = [run for run in runs if (run.scenario, run.repeat, run.server) in wanted]
    missing = wanted - {(run.scenario, run.repeat, run.server) for run in runs}
    if missing:
        listed = ", ".join(f"{s} #{r} {k}" for s, r, k in sorted(missing)[:5])
        raise SystemExit(f"bench/run.py: --from-raw {path.name}: no run of {listed}")
    seconds = sum(run.run_s for run in runs)
    written = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
    return runs, written - datetime.timedelta(seconds=seconds), seconds


def _without_option(argv: Sequence[str], option: str) -> list[str]:
    """C{argv} without C{option} and its value (the command that made the runs)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(f"{option}="):
            out.append(arg)
    return out


def run_all(args: argparse.Namespace, argv: Sequence[str], baseline: Baseline | None) -> int:
    """Every run of the plan, then the report."""
    kinds = server_kinds(args.quick, baseline)
    scenarios = [
        attrs.evolve(s, window=args.window)
        for s in (QUICK if args.quick else FULL)
        if s.name in args.scenarios
    ]
    skipped: dict[str, str] = {}
    servers = list(args.servers)
    if baseline is not None:
        servers.insert(servers.index("chatsvc") + 1, BASELINE)
        _say(f"{BASELINE}: commit {baseline.commit}, exported; twistd loads its plugin")
    for name in list(servers):
        why = kinds[name].unavailable()
        if why is not None:
            servers.remove(name)
            skipped[name] = why
            _say(f"{why}: skipping {name}")
    binaries = build(args.build_dir)
    args.out.mkdir(parents=True, exist_ok=True)

    plan = [
        (scenario, repeat, kinds[name])
        for scenario in scenarios
        for repeat in range(1, args.repeat + 1)
        for name in servers
        if kinds[name].skip_reason(scenario) is None
    ]
    started = datetime.datetime.now(datetime.UTC)
    clock = time.monotonic()
    runs: list[Run] = []
    if args.from_raw is not None:
        runs, started, seconds = _earlier_runs(args.from_raw, plan)
        clock -= seconds
        argv = _without_option(argv, "--from-raw")
    else:
        with log_directory(args.keep_logs) as logs:
            for number, (scenario, repeat, kind) in enumerate(plan, 1):
                run = run_once(kind, scenario, repeat, binaries, logs)
                runs.append(run)
                _say(
                    f"[{number}/{len(plan)}] {scenario.name} #{repeat} {kind.name}: "
                    f"{_progress(run)}"
                )

    results: Results = {}
    for run in runs:
        key = (run.scenario, run.server)
        results[key] = Summary([*results[key].runs, run] if key in results else [run])
    checks = target_checks(results, [s.name for s in scenarios])
    plot = (
        "not drawn (--no-plot)"
        if args.no_plot
        else draw_plot(args.out / "benchmarks.png", results, servers)
    )
    if plot is not None:
        _say(f"no plot: {plot}")
    report = Report(
        argv=argv,
        repeat=args.repeat,
        quick=args.quick,
        scenarios=scenarios,
        servers=servers,
        kinds=kinds,
        results=results,
        checks=checks,
        skipped=skipped,
        plot=plot,
        started=started,
        seconds=time.monotonic() - clock,
        baseline=baseline.commit if baseline else None,
        ab_checks=ab_checks(results) if baseline else (),
    )
    target = args.out / "benchmarks.md"
    target.write_text(report.markdown() + kept_notes(target))
    if args.raw is not None:
        args.raw.write_text(json.dumps([r.as_json() for r in runs], indent=1) + "\n")
    _say("")
    for scenario in scenarios:
        _say(f"{scenario.title}: {scenario.describe()}")
        for line in scenario_table(scenario, results, servers):
            _say(line)
        if scenario.history:
            for line in replay_table(scenario, results, servers, kinds):
                _say(line)
        for line in cpu_table(scenario, results, servers):
            _say(line)
        _say("")
    _say("Targets (medians of this run):")
    for check in checks:
        _say(f"  [{check.verdict}] {check.target}: {check.measured}")
    if baseline is not None:
        _say(f"\nA/B, chatsvc against {BASELINE} ({baseline.commit}):")
        for line in ab_table(scenarios, results, baseline.commit):
            _say(line)
        for check in report.ab_checks:
            _say(f"  [{check.verdict}] {check.target}: {check.measured}")
    _say(f"\nwrote {args.out / 'benchmarks.md'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: every process started was stopped", file=sys.stderr)
        sys.exit(130)
