"""
Real Redis and PostgreSQL servers for the tests of the cluster and of the
shared history, each started on a free port of 127.0.0.1 in a directory of
its own and stopped however the test ends; or, where the environment names
one (L{REDIS_VARIABLE}, L{POSTGRESQL_VARIABLE}), the server there.

PostgreSQL refuses to run as root, and the suite runs as root: the server
runs as the C{postgres} user that Debian's package makes (or, on a machine
without it, as C{nobody}), in a directory it owns, with trust
authentication on 127.0.0.1 and its socket in that directory. One server
serves a test session; each test gets a database of its own.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from itertools import count
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import attrs

from tests import system

REDIS_VARIABLE = "CHATSVC_TEST_REDIS"
"""A C{redis://HOST:PORT/DB} to use instead of starting Redis (every test flushes that database)."""

POSTGRESQL_VARIABLE = "CHATSVC_TEST_POSTGRESQL"
"""
A C{postgresql://} URL to use instead of starting PostgreSQL: its user must
be allowed to create databases, one per test.
"""

START_TIMEOUT = 30.0
"""Seconds a server has to start accepting connections."""

POSTGRES_PATTERN = "/usr/lib/postgresql/*/bin/postgres"


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {_tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{what} did not listen on {port} in {START_TIMEOUT} s: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-2000:]
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@attrs.define
class RedisServer:
    """A Redis server of the test's own, which a test may stop, start again and pause."""

    directory: Path
    port: int = attrs.field(factory=free_port)
    db: int = 0
    process: subprocess.Popen[bytes] | None = None
    external: bool = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{self.db}"

    def start(self) -> None:
        """Start it, on the same port as before if it ran before, with nothing kept."""
        if self.external:
            raise RuntimeError(f"the Redis of {REDIS_VARIABLE} cannot be restarted by a test")
        program = system.require("redis-server", None)
        log = self.directory / "redis.log"
        self.process = subprocess.Popen(
            [
                program,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(log),
                "--daemonize",
                "no",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.process, "redis-server", log)

    def stop(self) -> None:
        """Stop it, paused or not (its data is lost: nothing is saved)."""
        if self.process is not None:
            self.resume()
            _stop(self.process)
            self.process = None

    def kill(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGKILL)
            self.process = None

    def pause(self) -> None:
        """Freeze it (SIGSTOP): connections stay open, and nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A Redis server for one test, its database empty."""
    directory = Path(tempfile.mkdtemp(prefix="chatsvc-redis-"))
    given = os.environ.get(REDIS_VARIABLE)
    try:
        if given:
            parts = urlsplit(given)
            server = RedisServer(
                directory,
                parts.port or 6379,
                int(parts.path.strip("/") or 0),
                external=True,
            )
            _flush(parts.hostname or "127.0.0.1", server.port, server.db)
            yield server
        else:
            server = RedisServer(directory)
            server.start()
            try:
                yield server
            finally:
                server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _flush(host: str, port: int, db: int) -> None:
    """Empty database C{db} of the Redis at C{host}:C{port}, in its own protocol."""
    with closing(socket.create_connection((host, port), timeout=START_TIMEOUT)) as s:
        s.sendall(f"SELECT {db}\r\nFLUSHDB\r\n".encode())
        replies = b""
        while replies.count(b"\r\n") < 2:
            chunk = s.recv(100)
            if not chunk:
                break
            replies += chunk
        if replies != b"+OK\r\n+OK\r\n":
            raise RuntimeError(f"cannot empty Redis database {db}: {replies!r}")


def _unprivileged_user() -> pwd.struct_passwd:
    """Whom PostgreSQL runs as: the one Debian's package made, or nobody."""
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("no postgres or nobody user to run PostgreSQL as")


@attrs.define
class PostgresServer:
    """A PostgreSQL server for the test session, and the databases made on it."""

    url: str
    """Where to connect as the user that makes databases (a URL with no database name)."""
    _made: Iterator[int] = attrs.field(factory=lambda: count(1))

    def new_database(self) -> str:
        """A new empty database, and its URL."""
        import psycopg

        name = f"chatsvc_test_{os.getpid()}_{next(self._made)}"
        with psycopg.connect(self.url + "/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"{self.url}/{name}"


def _wait_for_queries(server: PostgresServer, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the server answers queries: it listens before it has started up."""
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            psycopg.connect(server.url + "/postgres").close()
            return
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not start: {_tail(log)}") from None
            time.sleep(0.05)


def _as_user(user: pwd.struct_passwd, command: list[str], out: BinaryIO) -> subprocess.Popen[bytes]:
    """C{command} started as C{user}, writing to C{out}."""
    return subprocess.Popen(
        command,
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=out,
    )


def _run_as(user: pwd.struct_passwd, command: list[str], log: Path) -> None:
    with log.open("ab") as out:
        done = _as_user(user, command, out).wait()
    if done != 0:
        raise RuntimeError(f"{command[0]} failed: {_tail(log)}")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session (or the one of L{POSTGRESQL_VARIABLE})."""
    given = os.environ.get(POSTGRESQL_VARIABLE)
    if given:
        parts = urlsplit(given)
        yield PostgresServer(f"{parts.scheme}://{parts.netloc}")
        return
    postgres = system.find_versioned(POSTGRES_PATTERN)
    if postgres is None:
        raise RuntimeError(
            "PostgreSQL is needed here: apt-get install postgresql "
            f"({system.install_missing() or 'it was not found'})"
        )
    bin_dir = Path(postgres).parent
    user = _unprivileged_user()
    directory = Path(tempfile.mkdtemp(prefix="chatsvc-postgres-"))
    os.chown(directory, user.pw_uid, user.pw_gid)
    data, log = directory / "data", directory / "postgres.log"
    log.touch()
    os.chown(log, user.pw_uid, user.pw_gid)
    port = free_port()
    process = None
    try:
        _run_as(
            user,
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "chatsvc",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            log,
        )
        with log.open("ab") as out:
            process = _as_user(
                user,
                [
                    postgres,
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-k",
                    str(directory),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ],
                out,
            )
        _wait_for_port(port, process, "postgres", log)
        server = PostgresServer(f"postgresql://chatsvc@127.0.0.1:{port}")
        _wait_for_queries(server, process, log)
        yield server
    finally:
        if process is not None:
            _stop(process, signal.SIGINT)  # fast shutdown: clients are cut off
        shutil.rmtree(directory, ignore_errors=True)
