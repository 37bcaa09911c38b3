"""
The installed package as an operator meets it: the wheel's contents, and the
real C{twistd} in the foreground, daemonized, and failing to start.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.accounts.test_passwd import passwd_command
from tests.support import make_certificates

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
if (BIN / "twistd").exists():
    TWISTD = [str(BIN / "twistd")]
TIMEOUT = 20.0


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TWISTD, *args], capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd, check=False
    )


def reap(process: subprocess.Popen[str]) -> None:
    """Kill C{process} if it still runs, wait for it, and close its output pipe if it has one."""
    if process.poll() is None:
        process.kill()
    process.wait(TIMEOUT)
    if process.stdout is not None:
        process.stdout.close()


def wait_for(predicate: object, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class User:
    """A blocking socket client, good enough to drive a server process."""

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(TIMEOUT)
        self.sock = sock
        self.file = sock.makefile("rb")

    @classmethod
    def unix(cls, path: Path) -> User:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(path))
        return cls(sock)

    @classmethod
    def tcp(cls, port: int) -> User:
        return cls(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT))

    @classmethod
    def tls(cls, port: int, ca: Path, hostname: str = "localhost") -> User:
        context = ssl.create_default_context(cafile=str(ca))
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        return cls(context.wrap_socket(sock, server_hostname=hostname))

    def say(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def line(self) -> str:
        data = self.file.readline()
        assert data.endswith(b"\n"), data
        return data.decode()[:-1]

    def expect(self, *lines: str) -> None:
        for line in lines:
            assert self.line() == line

    def sign_on(self, nick: str) -> None:
        self.expect("*** Welcome to chatsvc!", "*** Choose a nickname:")
        self.say(nick)
        self.expect(f"*** Hello {nick}! Type /help for the commands.")

    def at_eof(self) -> bool:
        return self.file.read() == b""


def test_wheel_ships_the_plugin_and_no_cache(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("chatsvc-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "twisted/plugins/chatsvc_plugin.py" in names
    assert "chatsvc/service/tap.py" in names
    assert not [n for n in names if n.endswith("dropin.cache")]
    assert "twisted/__init__.py" not in names
    assert "twisted/plugins/__init__.py" not in names
    assert not [n for n in names if n.startswith("tests/")]
    # The fan-out's sends built from C, beside the package; not their source.
    assert [n for n in names if n.startswith("_chatsvc_sendeach.") and n.endswith(".so")]
    assert not [n for n in names if n.endswith(".c")]
    # The web client's files, whatever they are, are served from the package.
    assert "chatsvc/frontends/web/site.py" in names
    static = ROOT / "chatsvc" / "frontends" / "web" / "static"
    for path in static.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert path.relative_to(ROOT).as_posix() in names, path


def test_sdist_carries_the_tests_benchmarks_docs_and_ci(tmp_path: Path) -> None:
    """
    A release can be built, tested and benchmarked from its source
    distribution alone: it carries the C source, every test, benchmark, doc,
    deployment file and the CI script, and nothing built.
    """
    # Built from a copy without what a build left behind: setuptools would
    # otherwise take back every file an earlier build's SOURCES.txt names.
    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT,
        tree,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".*_cache"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])",
            str(tmp_path),
        ],
        cwd=tree,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (sdist,) = tmp_path.glob("chatsvc-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {
            name.split("/", 1)[1]
            for name in archive.getnames()
            if "/" in name and not name.endswith("/")
        }
    assert "chatsvc/streams/_sendeach.c" in names
    assert "twisted/plugins/chatsvc_plugin.py" in names
    assert "README.md" in names and "pyproject.toml" in names
    wanted = [
        path.relative_to(ROOT).as_posix()
        for folder in ["tests", "bench", "docs", "contrib", ".ci"]
        for path in (ROOT / folder).rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not path.is_relative_to(ROOT / "bench" / "build")
        and path.suffix not in {".pyc", ".so"}
    ]
    assert ".ci/run" in wanted and "bench/loadgen.c" in wanted
    assert [name for name in wanted if name not in names] == []
    assert not [n for n in names if n.endswith((".so", ".pyc")) or "__pycache__" in n]


def test_twistd_lists_chat_and_documents_its_options(tmp_path: Path) -> None:
    listing = run("--help", cwd=tmp_path)
    assert listing.returncode == 0
    assert re.search(r"^\s+chat\s+A multi-room chat server", listing.stdout, re.M)
    helped = run("chat", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    for option in [
        "--port=",
        "--listen=",
        "--log-messages",
        "--version",
        "--auth=",
        "--auth-required",
        "--help-auth",
        "--op=",
    ]:
        assert option in helped.stdout


def with_sigint(handler: signal.Handlers) -> list[str]:
    """
    A prefix for a command that runs it with SIGINT set to C{handler},
    whatever this process has: a background job of a shell, say, inherits
    SIGINT ignored.
    """
    return [
        sys.executable,
        "-c",
        "import os, signal, sys; "
        f"signal.signal(signal.SIGINT, signal.{handler.name}); "
        "os.execv(sys.argv[1], sys.argv[1:])",
    ]


@contextmanager
def serving(
    tmp_path: Path, sigint: signal.Handlers = signal.SIG_DFL
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """C{twistd -n chat} on a port of its own, started with SIGINT set to C{sigint}."""
    process = subprocess.Popen(
        [
            *with_sigint(sigint),
            *TWISTD, "-n", "--pidfile=", "chat", "--port", "tcp:0:interface=127.0.0.1",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + TIMEOUT
        for line in process.stdout:
            found = re.search(r"ChatFactory starting on (\d+)", line)
            if found:
                yield process, int(found.group(1))
                break
            assert time.monotonic() < deadline, "server did not start"
        else:
            raise AssertionError("server exited before listening")
    finally:
        reap(process)


@pytest.fixture
def foreground(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    with serving(tmp_path) as started:
        yield started


def test_foreground_logs_to_stdout_and_stops_on_sigterm(
    foreground: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = foreground
    alice = User.tcp(port)
    alice.sign_on("alice")
    alice.expect("*** You joined lobby (1 member):", "*** alice")
    process.send_signal(signal.SIGTERM)
    alice.expect("*** The server is shutting down. Goodbye!")
    assert alice.at_eof()
    # After a clean stop, twistd ends by the signal that stopped it, as is
    # conventional for a daemon, so the exit status tells why it ended.
    assert process.wait(TIMEOUT) == -signal.SIGTERM
    assert process.stdout is not None
    log = process.stdout.read()
    assert "Saying goodbye to 1 connection\n" in log
    assert "Main loop terminated." in log


def test_foreground_stops_on_sigint(foreground: tuple[subprocess.Popen[str], int]) -> None:
    process, port = foreground
    alice = User.tcp(port)
    alice.sign_on("alice")
    process.send_signal(signal.SIGINT)
    alice.expect("*** You joined lobby (1 member):", "*** alice")
    alice.expect("*** The server is shutting down. Goodbye!")
    assert process.wait(TIMEOUT) == -signal.SIGINT


def test_foreground_started_with_sigint_ignored_ignores_it(tmp_path: Path) -> None:
    """
    As started in the background by a script: SIGINT is ignored, as the
    shell meant, and SIGTERM still stops the server.
    """
    with serving(tmp_path, signal.SIG_IGN) as (process, port):
        process.send_signal(signal.SIGINT)
        alice = User.tcp(port)
        alice.sign_on("alice")
        alice.expect("*** You joined lobby (1 member):", "*** alice")
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        alice.expect("*** The server is shutting down. Goodbye!")
        assert process.wait(TIMEOUT) == -signal.SIGTERM


def daemon_session(tmp_path: Path, *options: str) -> Path:
    """
    twistd chat daemonized with C{options} on a UNIX socket, where alice signs
    on and says hello before it is stopped (SIGTERM); its log file.
    """
    sock, pidfile, logfile = tmp_path / "chat.sock", tmp_path / "chat.pid", tmp_path / "chat.log"
    started = run(
        f"--pidfile={pidfile}", f"--logfile={logfile}", "chat", "--port", f"unix:{sock}",
        *options, cwd=tmp_path,
    )  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    pid = int(pidfile.read_text())
    try:
        wait_for(sock.exists, "the socket")
        alice = User.unix(sock)
        alice.sign_on("alice")
        alice.expect("*** You joined lobby (1 member):", "*** alice")
        alice.say("hello")
        os.kill(pid, signal.SIGTERM)
        alice.expect("*** The server is shutting down. Goodbye!")
        assert alice.at_eof()
        wait_for(lambda: not pidfile.exists(), "the pidfile to go")
    finally:
        if pidfile.exists():
            os.kill(pid, signal.SIGKILL)
    return logfile


def test_daemon_with_pidfile_and_logfile(tmp_path: Path) -> None:
    log = daemon_session(tmp_path).read_text()
    assert "unix#1 connected" in log
    assert "unix#1 is alice" in log
    assert "hello" not in log, "message text is logged only with --log-messages"
    assert "Main loop terminated." in log


def start_failure(mode: str, tmp_path: Path, *args: str) -> tuple[list[str], str]:
    """
    Start C{twistd chat ARGS} in the foreground (C{-n}) or daemonized, expecting
    it to fail with status 1; its standard error, and its log.
    """
    log = tmp_path / "chat.log"
    pidfile = tmp_path / "chat.pid"
    foreground = ["-n"] if mode == "foreground" else []
    result = run(
        *foreground, f"--pidfile={pidfile}", f"--logfile={log}", "chat", *args, cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    # A daemon removes its pidfile after telling the launcher, which may exit first.
    wait_for(lambda: not pidfile.exists(), "the pidfile to go")
    logged = log.read_text() if log.exists() else ""
    assert "starting on" not in logged, "a failed start does not look like one that started"
    return result.stderr.splitlines(), logged


@pytest.mark.parametrize("mode", ["foreground", "daemon"])
def test_port_in_use_is_a_one_line_error(mode: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stderr, log = start_failure(mode, tmp_path, "--port", f"tcp:{port}:interface=127.0.0.1")
    reason = f"cannot listen on tcp:{port}:interface=127.0.0.1: Address already in use"
    assert stderr == [f"twistd chat: {reason}"]
    assert "Traceback" not in log
    last = log.splitlines()[-1]
    assert last.endswith(f"[chatsvc.service.startup#critical] Cannot start: {reason}")


@pytest.mark.parametrize("mode", ["foreground", "daemon"])
def test_second_endpoint_in_use_logs_no_start_on_the_first(mode: str, tmp_path: Path) -> None:
    """The first endpoint was listening, and its port said so, before the second failed."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stderr, _ = start_failure(
            mode, tmp_path,
            "--port", "tcp:0:interface=127.0.0.1",
            "--listen", f"tcp:{port}:interface=127.0.0.1",
            "--no-history",
        )  # fmt: skip
    assert stderr == [
        f"twistd chat: cannot listen on tcp:{port}:interface=127.0.0.1: Address already in use"
    ]


@pytest.mark.parametrize("mode", ["foreground", "daemon"])
def test_port_out_of_range_is_a_one_line_error(mode: str, tmp_path: Path) -> None:
    stderr, log = start_failure(mode, tmp_path, "--port", "70000", "--no-history")
    assert stderr == ["twistd chat: cannot listen on tcp:70000: port must be 0-65535"]
    assert "Traceback" not in log


@pytest.mark.parametrize("mode", ["foreground", "daemon"])
def test_unusable_database_is_a_one_line_error(mode: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "chat.sqlite"
    stderr, log = start_failure(mode, tmp_path, "--port", "tcp:0", "--db", str(missing))
    assert stderr == [
        f"twistd chat: cannot open history database {missing}: no such directory {missing.parent}"
    ]
    assert "Traceback" not in log


@pytest.mark.parametrize("mode", ["foreground", "daemon"])
def test_malformed_endpoint_is_a_one_line_error(mode: str, tmp_path: Path) -> None:
    stderr, log = start_failure(mode, tmp_path, "--port", "tcp:notaport")
    assert stderr == ["twistd chat: invalid endpoint 'tcp:notaport': 'notaport' is not a number"]
    assert log == "", "refused before twistd starts logging"


@pytest.mark.parametrize("mode", ["foreground", "daemon"])
def test_bad_option_is_a_one_line_error(mode: str, tmp_path: Path) -> None:
    stderr, _ = start_failure(mode, tmp_path, "--max-line", "100")
    assert stderr == ["twistd chat: --max-line must be at least 256"]
    stderr, _ = start_failure(mode, tmp_path, "--no-such-option")
    assert stderr == ["twistd chat: option --no-such-option not recognized"]


def test_invalid_endpoint_is_a_usage_error(tmp_path: Path) -> None:
    result = run("-n", "--pidfile=", "chat", "--port", "nonsense:1", cwd=tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "invalid endpoint 'nonsense:1': Unknown endpoint type: 'nonsense'" in output
    assert "Traceback" not in output


def test_missing_tls_key_is_a_one_line_error(tmp_path: Path) -> None:
    certificates = make_certificates(tmp_path)
    description = f"ssl:0:privateKey={tmp_path / 'missing.pem'}:certKey={certificates.cert}"
    result = run("-n", "--pidfile=", "chat", "--listen", description, cwd=tmp_path)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert output.splitlines() == [
        f"twistd chat: cannot listen on {description}: "
        f"{tmp_path / 'missing.pem'}: No such file or directory"
    ]


def test_bad_certificate_is_a_one_line_error(tmp_path: Path) -> None:
    certificates = make_certificates(tmp_path)
    certificates.cert.write_text("garbage\n")
    result = run("-n", "--pidfile=", "chat", "--port", certificates.server_endpoint(), cwd=tmp_path)
    assert result.returncode == 1
    assert (result.stdout + result.stderr).splitlines() == [
        f"twistd chat: cannot listen on {certificates.server_endpoint()}: "
        "bad key or certificate: no start line"
    ]


def test_tls_accounts_and_operators(tmp_path: Path) -> None:
    """
    The whole deployment: a password file made by chatsvc-passwd, plain and
    TLS listeners side by side, an operator who logs in over TLS and kicks a
    guest; no password in the log.
    """
    certificates = make_certificates(tmp_path)
    passwd = tmp_path / "passwd"
    subprocess.run(
        [*passwd_command(), str(passwd), "alice"],
        input=b"wonderland\n",
        check=True,
        timeout=TIMEOUT,
    )
    process = subprocess.Popen(
        [
            *TWISTD, "-n", "--pidfile=", "chat",
            "--port", "tcp:0:interface=127.0.0.1",
            "--listen", certificates.server_endpoint(),
            "--auth", f"chatsvc:{passwd}", "--op", "alice",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        ports: dict[str, int] = {}
        for line in process.stdout:
            found = re.search(r"ChatFactory( \(TLS\))? starting on (\d+)", line)
            if found:
                ports["tls" if found.group(1) else "tcp"] = int(found.group(2))
            if len(ports) == 2:
                break
        else:
            raise AssertionError("server exited before listening")
        bob = User.tcp(ports["tcp"])
        bob.sign_on("bob")
        bob.expect("*** You joined lobby (1 member):", "*** bob")
        alice = User.tls(ports["tls"], certificates.ca)
        alice.expect("*** Welcome to chatsvc!", "*** Choose a nickname:")
        alice.say("alice")
        alice.expect("*** Password for alice:")
        alice.say("wonderland")
        alice.expect(
            "*** Hello alice! Type /help for the commands.",
            "*** You joined lobby (2 members):",
            "*** alice, bob",
        )
        bob.expect("*** alice joined lobby")
        alice.say("/topic be nice")
        bob.expect("*** alice set the topic: be nice")
        alice.say("/kick bob not nice")
        bob.expect("*** You were kicked by alice (not nice)")
        assert bob.at_eof()
        alice.expect("*** alice set the topic: be nice", "*** bob was kicked by alice (not nice)")
        process.send_signal(signal.SIGTERM)
        alice.expect("*** The server is shutting down. Goodbye!")
        assert process.wait(TIMEOUT) == -signal.SIGTERM
        log = process.stdout.read()
    finally:
        reap(process)
    assert "is alice, logged in to alice (operator)" in log
    assert "alice kicked bob from lobby (not nice)" in log
    assert "wonderland" not in log
