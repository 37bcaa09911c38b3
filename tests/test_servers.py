"""The real Redis and PostgreSQL servers of L{tests.servers}: they answer, and stop when told."""

from __future__ import annotations

import socket
from contextlib import closing

import psycopg
import pytest

from tests import servers


def _ping(port: int) -> bytes:
    with closing(socket.create_connection(("127.0.0.1", port), timeout=5)) as s:
        s.sendall(b"PING\r\n")
        return s.recv(100)


def test_redis_answers_and_restarts_on_its_port(redis: servers.RedisServer) -> None:
    assert _ping(redis.port) == b"+PONG\r\n"
    redis.stop()
    with pytest.raises(OSError):
        _ping(redis.port)
    redis.start()
    assert _ping(redis.port) == b"+PONG\r\n"


def test_a_paused_redis_keeps_the_connection_and_answers_once_resumed(
    redis: servers.RedisServer,
) -> None:
    with closing(socket.create_connection(("127.0.0.1", redis.port), timeout=5)) as s:
        redis.pause()
        s.sendall(b"PING\r\n")
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(100)
        redis.resume()
        s.settimeout(5)
        assert s.recv(100) == b"+PONG\r\n"


def test_each_postgresql_database_is_new_and_empty(
    postgres_server: servers.PostgresServer,
) -> None:
    first, second = postgres_server.new_database(), postgres_server.new_database()
    assert first != second
    with psycopg.connect(first, autocommit=True) as connection:
        connection.execute("CREATE TABLE t (x int)")
        connection.execute("INSERT INTO t VALUES (1)")
    with psycopg.connect(second) as connection:
        row = connection.execute("SELECT count(*) FROM pg_tables WHERE tablename = 't'").fetchone()
        assert row == (0,)
        (encoding,) = connection.execute("SHOW server_encoding").fetchone() or ("",)
        assert encoding == "UTF8"
