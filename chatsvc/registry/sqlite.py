"""
The registry (L{chatsvc.registry.IRegistry}) in the chat's SQLite database,
beside the room history: tables of their own, in the same file.

Threading: one connection, used by one thread of its own, so that writes are
made one at a time, in the order they were asked; the reactor never waits
for the disk. Reading everything at start-up (L{SQLiteRegistry.open}) is
done at once, before the reactor runs. A write that fails (a full disk) is
logged; the chat goes on with what it holds in memory.

test-case-name: tests.registry.test_sqlite
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorCore, IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from chatsvc.chat.sanctions import Mask, Sanction, SanctionKind
from chatsvc.registry import (
    ROOM_COLUMNS,
    IRegistry,
    RegistryUnavailable,
    RoomRecord,
    Snapshot,
    rooms_of,
    sanctions_of,
)

BUSY_TIMEOUT = 5.0
"""Seconds to wait for another process that holds the database."""

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS accounts (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        hash TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS operators (name TEXT PRIMARY KEY COLLATE NOCASE)",
    # The columns added since it was made first are in _ROOM_COLUMNS_ADDED.
    """CREATE TABLE IF NOT EXISTS rooms (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        topic TEXT, topic_by TEXT, topic_at REAL,
        invite_only INTEGER NOT NULL, moderated INTEGER NOT NULL,
        created REAL
    )""",
    """CREATE TABLE IF NOT EXISTS room_ranks (
        room TEXT NOT NULL COLLATE NOCASE,
        account TEXT NOT NULL COLLATE NOCASE,
        rank TEXT NOT NULL,
        PRIMARY KEY (room, account)
    )""",
    # scope: the room's name, or '' for chat-wide; mask: as Mask prints it.
    """CREATE TABLE IF NOT EXISTS sanctions (
        kind TEXT NOT NULL, scope TEXT NOT NULL COLLATE NOCASE, mask TEXT NOT NULL,
        by TEXT NOT NULL, set_at REAL NOT NULL, reason TEXT, until REAL,
        PRIMARY KEY (kind, scope, mask)
    )""",
]

_ROOM_COLUMNS_ADDED = [
    ("join_key", "TEXT"),
    ("member_limit", "INTEGER"),
    ("secret", "INTEGER NOT NULL DEFAULT 0"),
    ("members_only", "INTEGER NOT NULL DEFAULT 1"),
    ("topic_locked", "INTEGER NOT NULL DEFAULT 1"),
]
"""
The columns of C{rooms} added since the table was first made (a room's
C{+k}, C{+l}, C{+s}, C{+n}, C{+t}), in order: each is added to a table that
lacks it, new or made by an earlier chatsvc, its default what a room kept
before had. The file's C{user_version} is the history's
(L{chatsvc.history.sqlite}), so the registry goes by the columns it finds.
"""

_T = TypeVar("_T")
Run = Callable[[Callable[[sqlite3.Connection], None]], Deferred[None]]

_log = Logger()


@implementer(IRegistry)
class SQLiteRegistry:
    """
    Accounts, registered rooms, sanctions and run-time operators in the
    SQLite database at C{path}. Writes run in a thread of their own on
    C{reactor}, or through C{run} if given (tests run them at once).
    """

    def __init__(
        self, path: str, reactor: IReactorFromThreads | None = None, *, run: Run | None = None
    ) -> None:
        self.path = path
        self._reactor = reactor
        self._given_run = run
        self._connection: sqlite3.Connection | None = None
        self._pool: ThreadPool | None = None
        self._shutdown_trigger: Any = None

    def open(self) -> Snapshot:
        try:
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, check_same_thread=False, isolation_level=None
            )
            with connection:
                for statement in _SCHEMA:
                    connection.execute(statement)
            _add_missing_columns(connection)
            snapshot = _read(connection)
        except sqlite3.Error as e:
            raise RegistryUnavailable(f"cannot open the database {self.path}: {e}") from None
        self._connection = connection
        if self._given_run is None:
            # The writer starts with the reactor, and stops with it if close
            # was not called, as the history's do: a service that was made but
            # never run (a test's, a failed start) leaves no thread behind.
            pool = self._pool = ThreadPool(1, 1, "chatsvc registry")
            core = IReactorCore(self._reactor, None)
            if core is None:
                pool.start()
            else:
                core.callWhenRunning(pool.start)
                self._shutdown_trigger = core.addSystemEventTrigger(
                    "during", "shutdown", self._reactor_stopping
                )
        return snapshot

    def _reactor_stopping(self) -> None:
        self._shutdown_trigger = None
        if self._pool is not None:
            self._pool.stop()

    def _run(self, what: str, job: Callable[[sqlite3.Connection], None]) -> Deferred[None]:
        connection = self._connection
        assert connection is not None, "the registry is not open"

        def transaction(connection: sqlite3.Connection) -> None:
            with connection:
                connection.execute("BEGIN IMMEDIATE")
                job(connection)

        if self._given_run is not None:
            done = self._given_run(transaction)
        else:
            assert self._pool is not None and self._reactor is not None
            done = deferToThreadPool(self._reactor, self._pool, transaction, connection)

        def failed(failure: Failure) -> None:
            _log.failure("Cannot save {what} in {path}", failure, what=what, path=self.path)

        return done.addErrback(failed)

    def save_account(self, name: str, hashed: str) -> Deferred[None]:
        return self._run(
            f"the account {name}",
            lambda c: _execute(
                c, "INSERT OR REPLACE INTO accounts (name, hash) VALUES (?, ?)", name, hashed
            ),
        )

    def delete_account(self, name: str) -> Deferred[None]:
        def job(c: sqlite3.Connection) -> None:
            for statement in (
                "DELETE FROM accounts WHERE name = ?",
                "DELETE FROM operators WHERE name = ?",
                "DELETE FROM room_ranks WHERE account = ?",
            ):
                c.execute(statement, (name,))

        return self._run(f"the removal of the account {name}", job)

    def save_operator(self, name: str) -> Deferred[None]:
        return self._run(
            f"the operator {name}",
            lambda c: _execute(c, "INSERT OR REPLACE INTO operators (name) VALUES (?)", name),
        )

    def delete_operator(self, name: str) -> Deferred[None]:
        return self._run(
            f"the removal of the operator {name}",
            lambda c: _execute(c, "DELETE FROM operators WHERE name = ?", name),
        )

    def save_room(self, room: RoomRecord) -> Deferred[None]:
        topic = room.topic

        def job(c: sqlite3.Connection) -> None:
            modes = room.modes
            c.execute(
                f"INSERT OR REPLACE INTO rooms ({ROOM_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    room.name,
                    None if topic is None else topic.text,
                    None if topic is None else topic.set_by,
                    None if topic is None else topic.set_at,
                    room.invite_only,
                    room.moderated,
                    room.created,
                    modes.key,
                    modes.limit,
                    modes.secret,
                    modes.members_only,
                    modes.topic_locked,
                ),
            )
            c.execute("DELETE FROM room_ranks WHERE room = ?", (room.name,))
            c.executemany(
                "INSERT OR REPLACE INTO room_ranks VALUES (?, ?, ?)",
                [(room.name, name, "owner") for name in room.owners]
                + [(room.name, name, "operator") for name in room.operators],
            )

        return self._run(f"the room {room.name}", job)

    def delete_room(self, name: str) -> Deferred[None]:
        def job(c: sqlite3.Connection) -> None:
            for statement in (
                "DELETE FROM rooms WHERE name = ?",
                "DELETE FROM room_ranks WHERE room = ?",
                "DELETE FROM sanctions WHERE scope = ?",
            ):
                c.execute(statement, (name,))

        return self._run(f"the removal of the room {name}", job)

    def save_sanction(self, sanction: Sanction) -> Deferred[None]:
        return self._run(
            f"the {sanction.kind.value} of {sanction.mask}",
            lambda c: _execute(
                c,
                "INSERT OR REPLACE INTO sanctions VALUES (?, ?, ?, ?, ?, ?, ?)",
                sanction.kind.value,
                sanction.room or "",
                str(sanction.mask),
                sanction.by,
                sanction.set_at,
                sanction.reason,
                sanction.until,
            ),
        )

    def delete_sanction(self, kind: SanctionKind, mask: Mask, room: str | None) -> Deferred[None]:
        return self._run(
            f"the lifting of the {kind.value} of {mask}",
            lambda c: _execute(
                c,
                "DELETE FROM sanctions WHERE kind = ? AND scope = ? AND mask = ?",
                kind.value,
                room or "",
                str(mask),
            ),
        )

    def close(self) -> Deferred[None]:
        connection, self._connection = self._connection, None
        pool, self._pool = self._pool, None
        trigger, self._shutdown_trigger = self._shutdown_trigger, None
        if trigger is not None:
            IReactorCore(self._reactor).removeSystemEventTrigger(trigger)
        if pool is not None:
            pool.stop()  # waits for the writes asked for
        if connection is not None:
            connection.close()
        d: Deferred[None] = Deferred()
        d.callback(None)
        return d


def _execute(connection: sqlite3.Connection, statement: str, *values: object) -> None:
    connection.execute(statement, values)


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    """
    Add to C{rooms} the columns of L{_ROOM_COLUMNS_ADDED} it lacks, in one
    transaction (another process opening the file may be doing the same);
    a table that has them all is only read.
    """

    def missing() -> list[tuple[str, str]]:
        present = {row[1] for row in connection.execute("PRAGMA table_info(rooms)")}
        return [added for added in _ROOM_COLUMNS_ADDED if added[0] not in present]

    if not missing():
        return
    with connection:
        connection.execute("BEGIN IMMEDIATE")
        for column, declared in missing():
            connection.execute(f"ALTER TABLE rooms ADD COLUMN {column} {declared}")


def _read(connection: sqlite3.Connection) -> Snapshot:
    accounts = tuple(
        (name, hashed)
        for name, hashed in connection.execute("SELECT name, hash FROM accounts ORDER BY name")
    )
    operators = tuple(name for (name,) in connection.execute("SELECT name FROM operators"))
    rooms = rooms_of(
        connection.execute(f"SELECT {ROOM_COLUMNS} FROM rooms ORDER BY name"),
        connection.execute("SELECT room, account, rank FROM room_ranks ORDER BY account"),
    )
    sanctions = sanctions_of(connection.execute("SELECT * FROM sanctions ORDER BY set_at"))
    return Snapshot(accounts, operators, rooms, sanctions)
