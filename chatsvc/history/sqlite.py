"""
Room history in SQLite, the embedded default: every line kept on disk, and the
reactor never waiting for the disk.

Threading. The database has three connections, each used by a thread of its
own: the writer (every write: the batches of lines, and pruning), and two
readers, one for the replays and C{/history} (L{SQLiteHistory.recent}), one
for searches (L{SQLiteHistory.search}). In WAL mode readers never block the
writer nor each other, so a write never waits behind a read, nor a replay
behind a search. (A C{:memory:} database cannot be shared between
connections: there, reads and writes take turns on the writer's.) The
reactor side never touches a connection: L{SQLiteHistory.record} appends the
line to a queue in memory and returns, and lookups come back as
L{Deferred}s. The chat model stays on the reactor thread and never sees a
lock.

Batching. Lines are written in batches, one transaction each, in the order
recorded, as L{chatsvc.history.batches} says (which the PostgreSQL store
shares): at most 0.1 seconds after they are recorded, at most 1000 at once.

Consistency. Each line recorded has a number, in the order recorded, and each
batch's transaction also stores how many lines have been written so far (the
C{progress} table). A read reads that count in the same snapshot as the lines,
so it knows exactly which lines it saw: a replay adds those it did not see
from memory (the lines recorded a moment ago), and leaves out those recorded
after it was asked (which reach the user live), whichever of the write and the
read finished first. Written lines stay in memory while a replay in flight may
need them.

Durability. The database is in WAL mode with C{synchronous=NORMAL}: a
committed batch survives the process being killed, so a crash loses at most
the lines of the last window (and those of a write in flight). A power cut
may lose a little more: the last commits not yet synced to disk. L{close}
writes every line before it lets go.

Lookups. At most C{max_replays} replays and C{max_lookups} searches are in flight at
once; one more is refused at once. A lookup is given C{query_timeout} seconds
from when it was asked (waiting its turn included), enforced inside SQLite by
a progress handler, after which it is ended with a L{HistoryError} the user
is shown. A lookup that SQLite fails (a damaged database) is one line in the
log and an error for the user; text that is not valid UTF-8 is read with the
bad bytes replaced.

Failures. A write that fails (the disk is full, another process holds the
database) is logged and tried again, later and later (L{Batches}); chat goes
on, and the lines wait in memory, within bounds.

test-case-name: tests.history.test_sqlite, tests.history.test_history_contract
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any, TypeVar, cast

import attrs
from twisted.internet.defer import Deferred, ensureDeferred, fail
from twisted.internet.interfaces import (
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

from chatsvc.chat.events import Action, Message
from chatsvc.chat.model import fold
from chatsvc.history import (
    MAX_LOOKUPS,
    MAX_REPLAYS,
    MAX_UNSAVED_BYTES,
    QUERY_TIMEOUT,
    HistoryError,
    HistoryUnavailable,
    IHistory,
    Line,
)
from chatsvc.history.batches import PRUNE_CHUNK, PRUNE_INTERVAL, Batches

BUSY_TIMEOUT = 5.0
"""Seconds to wait for another process that holds the database before giving up."""

PROGRESS_STEPS = 1000
"""SQLite virtual machine steps between two checks of a query's time."""

SCHEMA_VERSION = 2

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
    # How many lines this run has written; see "Consistency" above.
    "CREATE TABLE IF NOT EXISTS progress (written INTEGER NOT NULL)",
    # The full-text index of the lines' text and of their room, so that a
    # search matches within the room: the room as one token, its name in hex.
    """CREATE VIEW IF NOT EXISTS lines_indexed (id, room, text)
        AS SELECT id, hex(lower(room)), text FROM lines""",
    """CREATE VIRTUAL TABLE IF NOT EXISTS lines_text USING fts5 (
        room, text, content='lines_indexed', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER IF NOT EXISTS lines_text_insert AFTER INSERT ON lines BEGIN
        INSERT INTO lines_text (rowid, room, text)
        VALUES (new.id, hex(lower(new.room)), new.text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS lines_text_delete AFTER DELETE ON lines BEGIN
        INSERT INTO lines_text (lines_text, rowid, room, text)
        VALUES ('delete', old.id, hex(lower(old.room)), old.text);
    END""",
]

_FROM_VERSION_1 = [
    # Version 1 indexed the text alone.
    "DROP TRIGGER IF EXISTS lines_text_insert",
    "DROP TRIGGER IF EXISTS lines_text_delete",
    "DROP TABLE IF EXISTS lines_text",
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

_CHECK_INDEX = "INSERT INTO lines_text (lines_text, rank) VALUES ('integrity-check', 1)"
"""FTS5's check of its index, against the lines too (rank 1), not only of its own structure."""

_EVERY_ID = (1 << 63) - 1

_T = TypeVar("_T")


def fts_query(words: Sequence[str]) -> str:
    """
    The FTS5 query for lines with every one of C{words}: each word quoted, so
    that what a user types is only ever words (C{*}, C{"}, C{(}, C{NEAR},
    C{OR}, C{col:} included), never query syntax.
    """
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def fts_match(room: str, words: Sequence[str]) -> str:
    """The FTS5 query for lines of C{room} with every one of C{words}."""
    return f'room : "{fold(room).encode().hex()}" AND text : ({fts_query(words)})'


def _text(data: bytes) -> str:
    """Stored text, with any bytes that are not UTF-8 replaced rather than fatal."""
    return data.decode("utf-8", "replace")


@contextmanager
def _transaction(connection: sqlite3.Connection, kind: str = "IMMEDIATE") -> Iterator[None]:
    """
    A transaction; by default a write transaction that takes the write lock
    at once, waiting up to the busy timeout.
    """
    connection.execute(f"BEGIN {kind}")
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


@attrs.define
class _Lane:
    """A connection and the one thread that uses it."""

    pool: ThreadPool
    connection: sqlite3.Connection | None = None


@attrs.frozen
class _Seen:
    """What a read saw: how many lines of this run were written in its snapshot, and its rows."""

    written: int
    lines: list[Line]


class _Timeout(Exception):
    """A lookup took longer than it may."""


@implementer(IHistory)
class SQLiteHistory:
    """
    Room history in the SQLite database at C{path} (C{:memory:} keeps it in
    memory, for as long as the process runs).

    Lines are deleted C{retention_days} after they were said (0: never), an
    hour apart, a chunk per transaction. Timers run on C{clock} (the
    reactor's unless given), and results come back through C{reactor};
    C{timer} is the monotonic clock that times queries, on every thread.

    A room's recent lines (L{recent}) are its lines in the database followed
    by those still waiting in memory, so a line said a moment ago is in the
    replay of someone who joins right after. A search (L{search}) first waits
    for the lines recorded before it to be written, so that it finds them
    too, unless writes are failing; then it searches what is there. Neither
    shows a line recorded after it was asked.
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
        max_lookups: int = MAX_LOOKUPS,
        max_replays: int = MAX_REPLAYS,
        query_timeout: float = QUERY_TIMEOUT,
        max_unsaved_bytes: int = MAX_UNSAVED_BYTES,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.retention_days = retention_days
        self.max_lookups = max_lookups
        self.max_replays = max_replays
        self.query_timeout = query_timeout
        self.max_unsaved_bytes = max_unsaved_bytes
        self._reactor = reactor
        self._clock = clock if clock is not None else cast(IReactorTime, reactor)
        self._timer = timer
        self._busy_timeout = busy_timeout
        self._writer = _Lane(ThreadPool(minthreads=1, maxthreads=1, name="chatsvc-history"))
        self._replays = self._searches = self._writer
        if path != ":memory:":
            self._replays = _Lane(ThreadPool(1, 1, name="chatsvc-history-replays"))
            self._searches = _Lane(ThreadPool(1, 1, name="chatsvc-history-searches"))
        self._in_flight: Counter[str] = Counter()
        self._shutdown_trigger: Any = None
        self._batches = Batches(
            self._clock,
            lambda batch, written: self._run(self._writer, _insert, batch, written),
            max_unsaved_bytes=max_unsaved_bytes,
            expected=sqlite3.Error,
            reason=lambda failure: failure.getErrorMessage(),
            log=self._log,
            ready=lambda: self._writer.connection is not None,
            timer=timer,
        )
        self._closed: Deferred[None] | None = None
        self._pruning = LoopingCall(self._prune_and_log)
        self._pruning.clock = self._clock

    @property
    def _lanes(self) -> list[_Lane]:
        return list(
            {id(lane): lane for lane in [self._writer, self._replays, self._searches]}.values()
        )

    # Opening and closing

    def open(self) -> None:
        """
        Open the database, make or bring its tables up to date, and check
        it: readable, not corrupt (C{PRAGMA quick_check}), writable (a write
        transaction), with full-text search whose index is whole (a damaged
        one is rebuilt, and that is logged). Runs on the calling thread, once, at start-up; the
        worker threads start with the reactor.
        """
        try:
            self._writer.connection = self._connect()
            for lane in self._lanes:
                if lane.connection is None:
                    lane.connection = self._connect_reader()
        except sqlite3.Error as e:
            self._disconnect_all()
            raise HistoryUnavailable(
                f"cannot open history database {self.path}: {_reason(self.path, e)}"
            ) from None
        core = IReactorCore(self._reactor, None)
        if core is not None:
            core.callWhenRunning(self._start_threads)
            self._shutdown_trigger = core.addSystemEventTrigger(
                "during", "shutdown", self._reactor_stopping
            )
        else:
            self._start_threads()
        if self.retention_days:
            self._pruning.start(PRUNE_INTERVAL, now=True)

    def _start_threads(self) -> None:
        for lane in self._lanes:
            lane.pool.start()

    def _stop_threads(self) -> None:
        for lane in self._lanes:
            lane.pool.stop()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,  # transactions are explicit: see _transaction
            check_same_thread=False,  # opened here, used by its thread alone
        )
        connection.text_factory = _text
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
                if version == 1:
                    self._log.info(
                        "Upgrading the history database {path} to schema {new}: "
                        "rebuilding its full-text index",
                        path=self.path,
                        new=SCHEMA_VERSION,
                    )
                    for statement in _FROM_VERSION_1:
                        connection.execute(statement)
                for statement in _SCHEMA:
                    connection.execute(statement)
                if version == 1:
                    connection.execute("INSERT INTO lines_text (lines_text) VALUES ('rebuild')")
                connection.execute("DELETE FROM progress")
                connection.execute("INSERT INTO progress (written) VALUES (0)")
                connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            connection.execute("SELECT count(*) FROM json_each('[]')")
            problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError(f"database is corrupt: {problems[0]}")
            self._check_index(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def _check_index(self, connection: sqlite3.Connection) -> None:
        """Check the full-text index against the lines, and rebuild it if it is damaged."""
        try:
            connection.execute(_CHECK_INDEX)
        except sqlite3.DatabaseError as e:
            self._log.warn(
                "The full-text index of the history database {path} is damaged ({why}); "
                "rebuilding it",
                path=self.path,
                why=str(e),
            )
            with _transaction(connection):
                connection.execute("INSERT INTO lines_text (lines_text) VALUES ('rebuild')")
            connection.execute(_CHECK_INDEX)

    def _connect_reader(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        connection.text_factory = _text
        connection.execute("PRAGMA query_only=ON")
        return connection

    def _disconnect_all(self) -> None:
        for lane in self._lanes:
            if lane.connection is not None:
                lane.connection.close()
                lane.connection = None

    def close(self) -> Deferred[None]:
        """
        Write every line recorded, then close the database and stop the
        workers. A write that keeps failing is tried L{CLOSE_ATTEMPTS} times;
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
        self._batches.closing = True
        if self._pruning.running:
            self._pruning.stop()
        if self._writer.connection is None:
            return
        await self._batches.close()
        # Readers first: the writer's close checkpoints the WAL and removes it
        # only when it is the last connection.
        for lane in self._lanes:
            if lane is not self._writer:
                await self._run(lane, _disconnect)
                lane.connection = None
        await self._run(self._writer, _disconnect)
        self._writer.connection = None
        if self._shutdown_trigger is not None:
            IReactorCore(self._reactor).removeSystemEventTrigger(self._shutdown_trigger)
            self._shutdown_trigger = None
        self._stop_threads()

    def _reactor_stopping(self) -> None:
        """The reactor stops and L{close} was not called: let the workers go, as adbapi does."""
        self._shutdown_trigger = None
        self._stop_threads()

    # Recording

    @property
    def unsaved(self) -> int:
        """How many lines are recorded and not yet written."""
        return self._batches.unsaved

    @property
    def on_written(self) -> Callable[[float, int], None] | None:
        """Told the seconds each batch took to write, and its lines (for metrics)."""
        return self._batches.on_written

    @on_written.setter
    def on_written(self, observer: Callable[[float, int], None] | None) -> None:
        self._batches.on_written = observer

    @property
    def lookups_in_flight(self) -> dict[str, int]:
        """How many lookups of each kind (C{replays}, C{searches}) are being answered now."""
        return {kind: self._in_flight[kind] for kind in ("replays", "searches")}

    @property
    def unsaved_bytes(self) -> int:
        """How many bytes of text the lines not yet written hold."""
        return self._batches.unsaved_bytes

    def record(self, event: Message | Action) -> Line | None:
        return self._batches.record(event)

    # Looking up

    def _refusal(self, kind: str) -> HistoryError | None:
        """Why a lookup of C{kind} cannot be taken now, if it cannot."""
        if self._writer.connection is None or self._batches.closing:
            return HistoryError("history is not available now")
        if self._in_flight[kind] >= (self.max_lookups if kind == "searches" else self.max_replays):
            return HistoryError(
                f"the server is busy with too many history {kind} at once; try again in a moment"
            )
        return None

    def _looking_up(self, kind: str, d: Deferred[_T]) -> Deferred[_T]:
        self._in_flight[kind] += 1

        def done(result: _T | Failure) -> _T | Failure:
            self._in_flight[kind] -= 1
            return result

        return d.addBoth(done)

    def _lookup_failed(self, failure: Failure, room: str, slow: str) -> Failure:
        """The failure of a lookup in C{room}, as an error for the user."""
        if failure.check(_Timeout):
            return Failure(HistoryError(slow))
        if failure.check(sqlite3.Error):
            self._log.error(
                "Could not look up the history of {room} ({why})",
                room=room,
                why=failure.getErrorMessage(),
            )
            return Failure(HistoryError(f"the history of {room} is not available right now"))
        return failure

    def recent(self, room: str, lines: int) -> Deferred[list[Line]]:
        refused = self._refusal("replays")
        if refused is not None:
            return fail(refused)
        batches = self._batches
        asked = batches.recorded
        deadline = self._timer() + self.query_timeout
        key = fold(room)
        floor = batches.hold()

        def with_unsaved(seen: _Seen) -> list[Line]:
            # The read saw the first seen.written lines of this run, and
            # those from asked on were left out: add the rest, from memory.
            fresh = [
                line
                for line in islice(
                    batches.lines, seen.written - batches.first, asked - batches.first
                )
                if fold(line.event.room) == key
            ]
            return (seen.lines + fresh)[-lines:]

        def done(result: list[Line] | Failure) -> list[Line] | Failure:
            batches.release(floor)
            return result

        read = self._run(self._replays, self._read, deadline, asked, _select_recent, room, lines)
        d = read.addCallback(with_unsaved).addBoth(done)
        d.addErrback(
            self._lookup_failed,
            room,
            f"the history of {room} took too long to look up; try again in a moment",
        )
        return self._looking_up("replays", d)

    def cached(self, room: str, lines: int) -> tuple[Line, ...] | None:
        return None  # every lookup reads the database (chatsvc.history.cache keeps rooms in memory)

    def search(self, room: str, words: Sequence[str], lines: int) -> Deferred[list[Line]]:
        refused = self._refusal("searches")
        if refused is not None:
            return fail(refused)
        asked = self._batches.recorded
        deadline = self._timer() + self.query_timeout
        query = fts_match(room, words)

        async def search() -> list[Line]:
            await self._batches.until_saved(asked)
            seen = await self._run(
                self._searches, self._read, deadline, asked, _select_matching, room, query, lines
            )
            return seen.lines

        d = ensureDeferred(search())
        d.addErrback(
            self._lookup_failed,
            room,
            f"the search in {room} took too long; try rarer words",
        )
        return self._looking_up("searches", d)

    def _read(
        self,
        connection: sqlite3.Connection,
        deadline: float,
        asked: int,
        select: Callable[..., list[Line]],
        *args: object,
    ) -> _Seen:
        """
        On a reader's thread: C{select} in one snapshot, without the lines
        this run recorded from number C{asked} on, ended past C{deadline}.
        """
        timer = self._timer
        connection.set_progress_handler(lambda: timer() > deadline, PROGRESS_STEPS)
        try:
            with _transaction(connection, "DEFERRED"):
                (written,) = connection.execute("SELECT written FROM progress").fetchone()
                below = _EVERY_ID
                if written > asked:
                    # The lines numbered asked and after are the newest rows:
                    # the bound is the row just before them.
                    row = connection.execute(
                        "SELECT id FROM lines ORDER BY id DESC LIMIT 1 OFFSET ?",
                        (written - asked,),
                    ).fetchone()
                    below = row[0] if row is not None else 0
                return _Seen(min(written, asked), select(connection, below, *args))
        except sqlite3.OperationalError as e:
            if str(e) == "interrupted":
                raise _Timeout() from None
            raise
        finally:
            connection.set_progress_handler(None, 0)

    # Pruning

    async def prune(self) -> int:
        """Delete the lines older than the retention period; how many were."""
        if not self.retention_days:
            return 0
        return await self._batches.prune(
            self.retention_days, lambda cutoff: self._run(self._writer, _delete_before, cutoff)
        )

    def _prune_and_log(self) -> Deferred[None]:
        def failed(failure: Failure) -> None:
            self._log.failure("Could not prune the history database", failure)

        return ensureDeferred(self.prune()).addCallbacks(lambda _: None, failed)

    # On the worker threads

    def _run(self, lane: _Lane, f: Callable[..., _T], *args: object) -> Deferred[_T]:
        """Run C{f(connection, *args)} on C{lane}'s thread, with its connection."""

        def job() -> _T:
            assert lane.connection is not None
            return f(lane.connection, *args)

        return deferToThreadPool(self._reactor, lane.pool, job)


def _insert(connection: sqlite3.Connection, batch: list[Line], written: int) -> None:
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
        connection.execute("UPDATE progress SET written = ?", (written,))


def _select_recent(connection: sqlite3.Connection, below: int, room: str, lines: int) -> list[Line]:
    rows = connection.execute(
        "SELECT at, room, nick, action, text FROM lines WHERE room = ? AND id <= ? "
        "ORDER BY id DESC LIMIT ?",
        (room, below, lines),
    )
    return [_line(row) for row in reversed(rows.fetchall())]


def _select_matching(
    connection: sqlite3.Connection, below: int, room: str, query: str, lines: int
) -> list[Line]:
    rows = connection.execute(
        "SELECT l.at, l.room, l.nick, l.action, l.text "
        "FROM lines_text JOIN lines AS l ON l.id = lines_text.rowid "
        "WHERE lines_text MATCH ? AND lines_text.rowid <= ? AND l.room = ? "
        "ORDER BY lines_text.rowid DESC LIMIT ?",
        (query, below, room, lines),
    )
    return [_line(row) for row in reversed(rows.fetchall())]


def _delete_before(connection: sqlite3.Connection, cutoff: float) -> int:
    with _transaction(connection):
        cursor = connection.execute(
            "DELETE FROM lines WHERE id IN (SELECT id FROM lines WHERE at < ? LIMIT ?)",
            (cutoff, PRUNE_CHUNK),
        )
    return cursor.rowcount


def _disconnect(connection: sqlite3.Connection) -> None:
    connection.close()
