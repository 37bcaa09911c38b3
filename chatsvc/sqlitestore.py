"""
Room history in SQLite, the embedded default: every line kept on disk, and the
reactor never waiting for the disk.

Threading. The database has one connection, used by one thread: a
L{ThreadPool} of exactly one worker, so reads and writes run one at a time in
the order they were asked for. The reactor side never touches the
connection: L{SQLiteHistory.record} appends the line to a queue in memory and
returns, and lookups come back as L{Deferred}s. The chat model stays on the
reactor thread and never sees a lock.

Batching. A line is written at most L{BATCH_WINDOW} seconds after it is
recorded, in a transaction of at most L{BATCH_SIZE} lines: the first line
waiting opens the window, and the window closes early once a full batch is
waiting. One write is in flight at a time, and a batch that fails is written
again, whole, before any line after it, so the database always holds every
line up to some point and none after it.

Durability. The database is in WAL mode with C{synchronous=NORMAL}: a
committed batch survives the process being killed, so a crash loses at most
the lines of the last window (and those of a write in flight). A power cut
may lose a little more: the last commits not yet synced to disk. L{close}
writes every line before it lets go.

Failures. A write that fails (the disk is full, another process holds the
database) is logged and tried again after L{RETRY_FIRST} seconds, then twice
as long each time, up to L{RETRY_MAX}; chat goes on, and the lines wait in
memory, up to L{MAX_UNSAVED} of them (past that, new lines are not kept, and
that is logged too).

test-case-name: tests.test_sqlitestore
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any, TypeVar, cast

from twisted.internet.defer import Deferred, ensureDeferred, fail, succeed
from twisted.internet.interfaces import (
    IDelayedCall,
    IReactorCore,
    IReactorFromThreads,
    IReactorTime,
)
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from chatsvc.history import HistoryError, HistoryUnavailable, IHistory, Line
from chatsvc.model import Action, Message, fold

BATCH_WINDOW = 0.1
"""Seconds a recorded line waits, at most, before it is written."""

BATCH_SIZE = 1000
"""Lines written in one transaction, at most."""

BUSY_TIMEOUT = 5.0
"""Seconds to wait for another process that holds the database before giving up."""

RETRY_FIRST = 0.25
"""Seconds before a failed write is tried again; doubled after each failure in a row."""

RETRY_MAX = 10.0
"""The longest wait between two tries of a failed write."""

CLOSE_ATTEMPTS = 3
"""Tries at the last lines when closing, before they are logged as lost."""

MAX_UNSAVED = 100_000
"""Lines kept in memory while the database does not take them."""

PRUNE_INTERVAL = 3600.0
"""Seconds between two prunings of lines older than the retention period."""

PRUNE_CHUNK = 1000
"""Lines deleted in one transaction when pruning, so reads and writes go in between."""

DAY = 86400.0

SCHEMA_VERSION = 1

_SCHEMA = [
    # Room names are ASCII and unique without regard to case: NOCASE is fold().
    """CREATE TABLE IF NOT EXISTS lines (
        id INTEGER PRIMARY KEY,
        room TEXT NOT NULL COLLATE NOCASE,
        at REAL NOT NULL,
        nick TEXT NOT NULL,
        action INTEGER NOT NULL,
        text TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS lines_by_room ON lines (room, id)",
    "CREATE INDEX IF NOT EXISTS lines_by_time ON lines (at)",
    # The full-text index of the lines' text, kept in step by triggers.
    """CREATE VIRTUAL TABLE IF NOT EXISTS lines_text
        USING fts5 (text, content='lines', content_rowid='id')""",
    """CREATE TRIGGER IF NOT EXISTS lines_text_insert AFTER INSERT ON lines BEGIN
        INSERT INTO lines_text (rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS lines_text_delete AFTER DELETE ON lines BEGIN
        INSERT INTO lines_text (lines_text, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
]

_INSERT = """
    INSERT INTO lines (room, at, nick, action, text)
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
           json_extract(value, '$[3]'), json_extract(value, '$[4]')
    FROM json_each(?) ORDER BY key
"""
"""
A whole batch in one statement, as a JSON array of rows: the worker thread
lets go of the GIL once for the batch rather than once for each line (as
C{executemany} does), and SQLite indexes the text for search three times
faster than line by line.
"""

_T = TypeVar("_T")


def fts_query(words: Sequence[str]) -> str:
    """
    The FTS5 query for lines with every one of C{words}: each word quoted, so
    that what a user types is only ever words (C{*}, C{"}, C{(}, C{NEAR},
    C{OR}, C{col:} included), never query syntax.
    """
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the write lock at once, waiting up to the busy timeout."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _line(row: tuple[float, str, str, int, str]) -> Line:
    when, room, nick, action, text = row
    return Line(when, Action(room, nick, text) if action else Message(room, nick, text))


def _reason(path: str, error: sqlite3.Error) -> str:
    """Why the database at C{path} cannot be used, in words an operator can act on."""
    reason = str(error)
    if reason == "unable to open database file" and path != ":memory:":
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            return f"no such directory {directory}"
    if reason.startswith("no such module: fts"):
        return f"this SQLite ({sqlite3.sqlite_version}) has no full-text search (FTS5)"
    if reason.startswith("no such table: json_each"):
        return f"this SQLite ({sqlite3.sqlite_version}) has no JSON functions"
    if reason == "database is locked":
        return "database is locked (another process is using it)"
    return reason


@implementer(IHistory)
class SQLiteHistory:
    """
    Room history in the SQLite database at C{path} (C{:memory:} keeps it in
    memory, for as long as the process runs).

    Lines are deleted C{retention_days} after they were said (0: never), an
    hour apart, a chunk per transaction. Timers run on C{clock} (the
    reactor's unless given), and results come back through C{reactor}.

    A room's recent lines (L{recent}) are its lines in the database followed
    by those still waiting in memory, so a line said a moment ago is in the
    replay of someone who joins right after. A search (L{search}) first waits
    for the lines recorded before it to be written, so that it finds them
    too, unless writes are failing; then it searches what is there.
    """

    _log = Logger()

    def __init__(
        self,
        path: str,
        *,
        reactor: IReactorFromThreads,
        clock: IReactorTime | None = None,
        retention_days: float = 30,
        busy_timeout: float = BUSY_TIMEOUT,
    ) -> None:
        self.path = path
        self.retention_days = retention_days
        self._reactor = reactor
        self._clock = clock if clock is not None else cast(IReactorTime, reactor)
        self._busy_timeout = busy_timeout
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="chatsvc-history")
        self._connection: sqlite3.Connection | None = None
        self._shutdown_trigger: Any = None
        # Lines recorded and not yet written, oldest first; the first
        # _writing of them are being written now.
        self._unsaved: deque[Line] = deque()
        self._recorded = 0  # lines ever taken into _unsaved
        self._saved = 0  # lines ever taken out of it (written, or given up at close)
        self._writing = 0
        self._due = 0.0  # when the oldest line not being written must be
        self._window: IDelayedCall | None = None
        self._retry: IDelayedCall | None = None
        self._failures = 0  # writes failed in a row
        self._close_failures = 0
        self._refused = 0  # lines not kept since writes started failing
        self._waiters: list[tuple[int, bool, Deferred[None]]] = []
        self._closing = False
        self._closed: Deferred[None] | None = None
        self._pruning = LoopingCall(self._prune_and_log)
        self._pruning.clock = self._clock

    # Opening and closing

    def open(self) -> None:
        """
        Open the database, make its tables, and check it: readable, not
        corrupt (C{PRAGMA quick_check}), writable (a write transaction), with
        full-text search. Runs on the calling thread, once, at start-up; the
        worker thread starts with the reactor.
        """
        try:
            self._connection = self._connect()
        except sqlite3.Error as e:
            raise HistoryUnavailable(
                f"cannot open history database {self.path}: {_reason(self.path, e)}"
            ) from None
        core = IReactorCore(self._reactor, None)
        if core is not None:
            core.callWhenRunning(self._pool.start)
            self._shutdown_trigger = core.addSystemEventTrigger(
                "during", "shutdown", self._reactor_stopping
            )
        else:
            self._pool.start()
        if self.retention_days:
            self._pruning.start(PRUNE_INTERVAL, now=True)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,  # transactions are explicit: see _transaction
            check_same_thread=False,  # opened here, used by the worker alone
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            (version,) = connection.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"it was made by a newer chatsvc (schema {version}, this one knows "
                    f"{SCHEMA_VERSION})"
                )
            with _transaction(connection):
                for statement in _SCHEMA:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            connection.execute("SELECT count(*) FROM json_each('[]')")
            problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError(f"database is corrupt: {problems[0]}")
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> Deferred[None]:
        """
        Write every line recorded, then close the database and stop the
        worker. A write that keeps failing is tried L{CLOSE_ATTEMPTS} times;
        then the lines are logged as lost, so that a stop always ends.
        """
        if self._closed is None:
            self._closed = ensureDeferred(self._close())
            self._closed.addErrback(
                lambda failure: self._log.failure("Could not close the history database", failure)
            )
        d: Deferred[None] = Deferred()
        self._closed.addCallback(d.callback)
        return d

    async def _close(self) -> None:
        self._closing = True
        if self._pruning.running:
            self._pruning.stop()
        if self._connection is None:
            return
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        await self._until_saved(self._recorded, patient=True)
        await self._run(self._disconnect)
        self._connection = None
        if self._shutdown_trigger is not None:
            IReactorCore(self._reactor).removeSystemEventTrigger(self._shutdown_trigger)
            self._shutdown_trigger = None
        self._pool.stop()

    def _reactor_stopping(self) -> None:
        """The reactor stops and L{close} was not called: let the worker go, as adbapi does."""
        self._shutdown_trigger = None
        self._pool.stop()

    # Recording

    @property
    def unsaved(self) -> int:
        """How many lines are recorded and not yet written."""
        return len(self._unsaved)

    def record(self, event: Message | Action) -> None:
        waiting = len(self._unsaved)
        if waiting >= MAX_UNSAVED:
            self._refused += 1
            if self._refused == 1:
                self._log.error(
                    "{n} history lines wait for the database; no more are kept until it takes them",
                    n=waiting,
                )
            return
        now = self._clock.seconds()
        if waiting == self._writing:
            self._due = now + BATCH_WINDOW
        self._unsaved.append(Line(now, event))
        self._recorded += 1
        if self._window is None or waiting + 1 - self._writing >= BATCH_SIZE:
            self._schedule()

    def _schedule(self, *, now: bool = False) -> None:
        """Start the next write if it is due, or arrange for it to start when it is."""
        if self._writing or self._retry is not None or self._connection is None:
            return
        if not self._unsaved:
            return
        if (
            now
            or self._closing
            or self._waiters
            or len(self._unsaved) >= BATCH_SIZE
            or self._clock.seconds() >= self._due
        ):
            self._flush()
        elif self._window is None:
            self._window = self._clock.callLater(
                self._due - self._clock.seconds(), self._window_closed
            )

    def _window_closed(self) -> None:
        self._window = None
        self._schedule(now=True)

    def _flush(self) -> None:
        if self._window is not None:
            self._window.cancel()
            self._window = None
        batch = list(islice(self._unsaved, BATCH_SIZE))
        self._writing = len(batch)
        d = self._run(self._insert, batch)
        d.addCallbacks(self._written, self._not_written)

    def _written(self, result: None) -> None:
        for _ in range(self._writing):
            self._unsaved.popleft()
        self._saved += self._writing
        self._writing = 0
        if self._failures:
            self._log.info(
                "History database writes work again, after {failures} failed tries; "
                "{refused} lines were not kept meanwhile",
                failures=self._failures,
                refused=self._refused,
            )
        self._failures = self._refused = 0
        self._wake()
        self._schedule()

    def _not_written(self, failure: Failure) -> None:
        lines, self._writing = self._writing, 0
        self._failures += 1
        why = failure.getErrorMessage() if failure.check(sqlite3.Error) else repr(failure.value)
        if not failure.check(sqlite3.Error):
            self._log.failure("Unexpected error writing to the history database", failure)
        if self._closing:
            self._close_failures += 1
            if self._close_failures >= CLOSE_ATTEMPTS:
                self._log.error(
                    "Could not write {n} history lines before closing ({why}); they are lost",
                    n=len(self._unsaved),
                    why=why,
                )
                self._saved += len(self._unsaved)
                self._unsaved.clear()
                self._wake(everyone=True)
                return
            delay = RETRY_FIRST
        else:
            delay = min(RETRY_MAX, RETRY_FIRST * 2 ** (self._failures - 1))
        self._log.error(
            "Could not write {lines} history lines ({why}); {n} are waiting; "
            "trying again in {delay} seconds",
            lines=lines,
            n=len(self._unsaved),
            why=why,
            delay=delay,
        )
        self._wake(impatient=True)
        self._retry = self._clock.callLater(delay, self._retried)

    def _retried(self) -> None:
        self._retry = None
        self._schedule(now=True)

    def _until_saved(self, count: int, *, patient: bool = False) -> Deferred[None]:
        """
        Fires once the first C{count} lines recorded are written. Unless
        C{patient}, it fires at once while writes are failing instead.
        """
        if self._saved >= count or (self._failures and not patient):
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._waiters.append((count, patient, d))
        self._schedule(now=True)
        return d

    def _wake(self, *, impatient: bool = False, everyone: bool = False) -> None:
        waiters, self._waiters = self._waiters, []
        for count, patient, d in waiters:
            if everyone or self._saved >= count or (impatient and not patient):
                d.callback(None)
            else:
                self._waiters.append((count, patient, d))

    # Looking up

    def recent(self, room: str, lines: int) -> Deferred[list[Line]]:
        if self._connection is None or self._closing:
            return fail(HistoryError("history is not available now"))
        asked = self._recorded
        key = fold(room)

        def with_unsaved(saved: list[Line]) -> list[Line]:
            # The worker runs jobs in order, and their results come back in
            # order: every write asked for before this read has been heard of,
            # so what is still unsaved comes after what the read found.
            fresh = [
                line
                for line in islice(self._unsaved, max(0, asked - self._saved))
                if fold(line.event.room) == key
            ]
            return (saved + fresh)[-lines:]

        return self._run(self._select_recent, room, lines).addCallback(with_unsaved)

    def search(self, room: str, words: Sequence[str], lines: int) -> Deferred[list[Line]]:
        if self._connection is None or self._closing:
            return fail(HistoryError("history is not available now"))
        query = fts_query(words)

        async def search() -> list[Line]:
            await self._until_saved(self._recorded)
            return await self._run(self._select_matching, room, query, lines)

        return ensureDeferred(search())

    # Pruning

    async def prune(self) -> int:
        """Delete the lines older than the retention period; how many were."""
        if not self.retention_days:
            return 0
        cutoff = self._clock.seconds() - self.retention_days * DAY
        total = 0
        while not self._closing:
            deleted = await self._run(self._delete_before, cutoff)
            total += deleted
            if deleted < PRUNE_CHUNK:
                break
        if total:
            self._log.info(
                "Pruned {n} history lines older than {days} days", n=total, days=self.retention_days
            )
        return total

    def _prune_and_log(self) -> Deferred[None]:
        def failed(failure: Failure) -> None:
            self._log.failure("Could not prune the history database", failure)

        return ensureDeferred(self.prune()).addCallbacks(lambda _: None, failed)

    # On the worker thread

    def _run(self, f: Callable[..., _T], *args: object) -> Deferred[_T]:
        return deferToThreadPool(self._reactor, self._pool, f, *args)

    def _db(self) -> sqlite3.Connection:
        assert self._connection is not None
        return self._connection

    def _insert(self, batch: list[Line]) -> None:
        connection = self._db()
        rows = [
            [
                line.event.room,
                line.when,
                line.event.nick,
                isinstance(line.event, Action),
                line.event.text,
            ]
            for line in batch
        ]
        with _transaction(connection):
            connection.execute(_INSERT, (json.dumps(rows, ensure_ascii=False),))

    def _select_recent(self, room: str, lines: int) -> list[Line]:
        rows = self._db().execute(
            "SELECT at, room, nick, action, text FROM lines WHERE room = ? "
            "ORDER BY id DESC LIMIT ?",
            (room, lines),
        )
        return [_line(row) for row in reversed(rows.fetchall())]

    def _select_matching(self, room: str, query: str, lines: int) -> list[Line]:
        rows = self._db().execute(
            "SELECT l.at, l.room, l.nick, l.action, l.text "
            "FROM lines_text JOIN lines AS l ON l.id = lines_text.rowid "
            "WHERE lines_text MATCH ? AND l.room = ? "
            "ORDER BY lines_text.rowid DESC LIMIT ?",
            (query, room, lines),
        )
        return [_line(row) for row in reversed(rows.fetchall())]

    def _delete_before(self, cutoff: float) -> int:
        connection = self._db()
        with _transaction(connection):
            cursor = connection.execute(
                "DELETE FROM lines WHERE id IN (SELECT id FROM lines WHERE at < ? LIMIT ?)",
                (cutoff, PRUNE_CHUNK),
            )
        return cursor.rowcount

    def _disconnect(self) -> None:
        self._db().close()
