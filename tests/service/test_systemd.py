"""
The systemd units of contrib/systemd, end to end: the service's own command
line and configuration file, run by a real twistd given its sockets as
systemd gives them, by hand (C{LISTEN_FDS}, C{LISTEN_PID}, C{LISTEN_FDNAMES})
and by C{systemd-socket-activate}.
"""

from __future__ import annotations

import configparser
import json
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from twisted.logger import formatEvent

from tests.service.test_twistd import TIMEOUT, TWISTD, User, reap, run
from tests.system import find

UNITS = Path(__file__).resolve().parents[2] / "contrib" / "systemd"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser


def service_command(directory: Path) -> list[str]:
    """
    chatsvc.service's C{ExecStart}, with this test's twistd and the shipped
    chat.toml (copied into C{directory}), its metrics on a free port.
    """
    argv = shlex.split(unit("chatsvc.service")["Service"]["ExecStart"])
    assert argv[0].endswith("/twistd")
    config = argv.index("--config")
    shutil.copyfile(UNITS / "chat.toml", directory / "chat.toml")
    argv[config + 1] = str(directory / "chat.toml")
    return [*TWISTD, *argv[1:], "--metrics", "tcp:0:interface=127.0.0.1"]


def listening(name: str) -> socket.socket:
    """A listening socket on ::1 as the socket unit C{name} describes it (IPv6, its backlog)."""
    section = unit(name)["Socket"]
    assert section["ListenStream"].startswith("[::]:")
    assert section["BindIPv6Only"] == "both"
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("::1", 0))
    sock.listen(int(section["Backlog"]))
    return sock


def test_the_units_name_the_sockets_the_service_takes() -> None:
    names = {
        unit(n)["Socket"]["FileDescriptorName"] for n in ("chatsvc.socket", "chatsvc-irc.socket")
    }
    assert names == {"line", "irc"}
    for name in ("chatsvc.socket", "chatsvc-irc.socket"):
        assert unit(name)["Socket"]["Service"] == "chatsvc.service"
    service = unit("chatsvc.service")
    assert "systemd:domain=INET6:name=line" in service["Service"]["ExecStart"]
    assert service["Service"]["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert 'irc = "systemd:domain=INET6:name=irc"' in (UNITS / "chat.toml").read_text()


def test_without_its_sockets_the_start_is_one_line(tmp_path: Path) -> None:
    command = service_command(tmp_path)
    done = run(*command[len(TWISTD) :], cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "twistd chat: invalid endpoint 'systemd:domain=INET6:name=line': systemd passed no "
        "such socket (LISTEN_FDS, LISTEN_FDNAMES); start it through its socket unit"
    )


@contextmanager
def started(command: list[str], cwd: Path, pass_fds: tuple[int, ...] = ()) -> Iterator[list[str]]:
    """C{command} running until it logs (in JSON) that it listens; what it logged so far."""
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        pass_fds=pass_fds,
    )  # fmt: skip
    logged: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + TIMEOUT
        for line in process.stdout:
            logged.append(formatEvent(json.loads(line)))
            if logged[-1].startswith("Metrics at /metrics"):
                break
            assert time.monotonic() < deadline, logged
        else:
            raise AssertionError(f"the server exited: {logged}")
        yield logged
        process.send_signal(signal.SIGTERM)
        assert process.wait(TIMEOUT) == -signal.SIGTERM
    finally:
        reap(process)


def chat_over(line_port: int, irc_port: int) -> tuple[User, User]:
    """A line user and an IRC user meet in the lobby, over ::1; the two, still connected."""
    alice = User(socket.create_connection(("::1", line_port), timeout=TIMEOUT))
    alice.sign_on("alice")
    alice.expect("*** You joined lobby (1 member):", "*** alice")
    bob = User(socket.create_connection(("::1", irc_port), timeout=TIMEOUT))
    bob.say("NICK bob\r\nUSER bob 0 * :Bob\r\nJOIN #lobby\r")
    while " JOIN " not in (line := bob.line()):
        code = line.split()[1]
        assert not code.startswith("4") or code == "422", line  # no error but "no MOTD"
    alice.expect("*** bob joined lobby")
    alice.say("hello from the socket unit")
    while "PRIVMSG" not in (line := bob.line()):
        pass
    assert line.endswith("PRIVMSG #lobby :hello from the socket unit\r")
    return alice, bob


def test_sockets_passed_by_hand(tmp_path: Path) -> None:
    line, irc = listening("chatsvc.socket"), listening("chatsvc-irc.socket")
    with line, irc:
        # systemd's protocol: the sockets from descriptor 3 on, LISTEN_PID the
        # server's own (bash's $$, which exec keeps), and their names.
        script = (
            f"exec 3<&{line.fileno()} 4<&{irc.fileno()}; "
            'export LISTEN_PID=$$ LISTEN_FDS=2 LISTEN_FDNAMES=line:irc; exec "$@"'
        )
        command = ["bash", "-c", script, "bash", *service_command(tmp_path)]
        with started(command, tmp_path, (line.fileno(), irc.fileno())) as logged:
            assert not any("Traceback" in text for text in logged)
            alice, _ = chat_over(line.getsockname()[1], irc.getsockname()[1])
        # Stopped (SIGTERM) on leaving the block, as systemctl stop does.
        alice.expect("*** The server is shutting down. Goodbye!")


def free_port() -> int:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port: int = s.getsockname()[1]
        return port


def test_systemd_socket_activate(tmp_path: Path) -> None:
    activate = find("systemd-socket-activate")
    assert activate is not None, "apt-get install systemd"
    line_port, irc_port = free_port(), free_port()
    command = [
        activate, f"--listen=[::1]:{line_port}", f"--listen=[::1]:{irc_port}",
        "--fdname=line:irc", *service_command(tmp_path),
    ]  # fmt: skip
    # systemd-socket-activate starts the server on the first connection, which
    # waits in the backlog meanwhile, as under systemd.
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                socket.create_connection(("::1", line_port), timeout=TIMEOUT).close()
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
        alice, _ = chat_over(line_port, irc_port)
        process.send_signal(signal.SIGTERM)
        alice.expect("*** The server is shutting down. Goodbye!")
        assert process.wait(TIMEOUT) == -signal.SIGTERM
        assert process.stdout is not None
        logged = [formatEvent(json.loads(line)) for line in process.stdout if line.startswith("{")]
        assert "Saying goodbye to 2 connections" in logged
    finally:
        reap(process)
