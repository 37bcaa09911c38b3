"""
Room history in PostgreSQL (C{--db postgresql://...}): one history shared by
every node of a cluster, or kept by one server in a database it does not
embed.

Connections. Three L{twisted.enterprise.adbapi} pools over psycopg, of one
connection each, so that a write never waits behind a read, nor a replay
behind a search, and writes reach the database in the order recorded: the
writer (every batch of lines, and pruning), the replays (L{recent}) and the
searches (L{search}). A connection that breaks is made again
(C{cp_reconnect}). The reactor never waits: L{record} queues the line in
memory, lookups come back as L{Deferred}s.

Batching. As the SQLite store's (L{chatsvc.history.batches}): a line is
written at most 0.1 seconds after it is recorded, in order, a batch that
failed written again whole before any line after it, with a retry that backs
off, and at most C{max_unsaved_bytes} of text waiting.

Consistency. Each line this store writes carries the store's own id (a new
one per run) and its number in the order recorded. A lookup first has every
line recorded before it was asked written (while writes fail, it does not
wait), then reads without this run's lines numbered from then on: so it is
as of when it was asked, as L{IHistory} says, whichever of the writes and the
read finish first. Lines other nodes record are there once those nodes have
written them (within their own batch window).

Search. PostgreSQL's full-text search, with the query semantics of the
SQLite store (L{tests.history.test_history_contract} holds both to them):
the text search configuration C{chatsvc} is C{simple} (no stemming, no stop
words) behind C{unaccent} (diacritics removed), with final sigma read as
sigma; compound words count as their parts. Each word a user gives is made a
phrase of its tokens by C{phraseto_tsquery} (so C{deploy-friday} finds the
two words in a row, and nothing a user types is query syntax), the phrases
are all required, and words without letters or digits are left out. The
index is a generated C{tsvector} column with a GIN index. Case folding
follows the database's C{LC_CTYPE}: a database with a UTF-8 locale folds
every script, one in the C locale only ASCII (L{open} warns of that).

Lookups. At most C{max_lookups} searches and C{max_replays} replays in
flight at once; each is given C{query_timeout} seconds from when it was asked
(PostgreSQL's C{statement_timeout} for its statements), then ended with a
L{HistoryError}.

Retention. Every node prunes lines older than C{retention_days} once an
hour, in chunks of L{PRUNE_CHUNK}; two nodes pruning at once delete each
line once.

test-case-name: tests.history.test_postgresql, tests.history.test_history_contract
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs
import psycopg
from psycopg import errors
from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred, ensureDeferred, fail
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
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

CONNECT_TIMEOUT = 5
"""Seconds to wait for the database to answer a new connection."""


SCHEMES = ("postgresql://", "postgres://")
"""How C{--db} names a PostgreSQL database (libpq's connection URIs)."""

_SCHEMA = [
    # Many nodes may open the same database at once: one makes the schema.
    "SELECT pg_advisory_xact_lock(7142195)",
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    """DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'chatsvc') THEN
            CREATE TEXT SEARCH CONFIGURATION chatsvc (COPY = simple);
            ALTER TEXT SEARCH CONFIGURATION chatsvc
                ALTER MAPPING FOR asciiword, word, numword, hword_part, hword_asciipart,
                    hword_numpart
                WITH unaccent, simple;
            ALTER TEXT SEARCH CONFIGURATION chatsvc
                DROP MAPPING FOR hword, asciihword, numhword;
        END IF;
    END $$""",
    """CREATE TABLE IF NOT EXISTS chatsvc_lines (
        id bigserial PRIMARY KEY,
        room text NOT NULL,
        room_key text NOT NULL,
        at double precision NOT NULL,
        nick text NOT NULL,
        action boolean NOT NULL,
        text text NOT NULL,
        writer uuid NOT NULL,
        seq bigint NOT NULL,
        words tsvector GENERATED ALWAYS AS
            (to_tsvector('chatsvc'::regconfig, translate(text, U&'\\03C2', U&'\\03C3'))) STORED
    )""",
    "CREATE INDEX IF NOT EXISTS chatsvc_lines_by_room ON chatsvc_lines (room_key, id)",
    "CREATE INDEX IF NOT EXISTS chatsvc_lines_by_time ON chatsvc_lines (at)",
    "CREATE INDEX IF NOT EXISTS chatsvc_lines_words ON chatsvc_lines USING gin (words)",
]

_INSERT = (
    "INSERT INTO chatsvc_lines (room, room_key, at, nick, action, text, writer, seq) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)

_PHRASES = (
    "SELECT q::text FROM unnest(%s::text[]) WITH ORDINALITY AS w (word, n), "
    "LATERAL phraseto_tsquery('chatsvc', translate(word, U&'\\03C2', U&'\\03C3')) AS q "
    "WHERE numnode(q) > 0 ORDER BY n"
)

_NEWER = "NOT (writer = %s AND seq >= %s)"
"""Leaves out this run's lines recorded from a number on (see "Consistency")."""


@attrs.frozen
class _Bound:
    """What a lookup may read: not this run's lines from C{asked} on, for C{seconds} at most."""

    writer: uuid.UUID
    asked: int
    seconds: float


_T = TypeVar("_T")

Cursor = Any
"""A DB-API cursor of psycopg, as adbapi hands it to an interaction."""


def is_postgresql(db: str) -> bool:
    """Whether C{--db} names a PostgreSQL database rather than an SQLite file."""
    return db.startswith(SCHEMES)


def _line(row: tuple[float, str, str, bool, str]) -> Line:
    when, room, nick, action, text = row
    return Line(when, Action(room, nick, text) if action else Message(room, nick, text))


def _reason(error: BaseException) -> str:
    """One line of why PostgreSQL refused, for the operator or the log."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def shown(url: str) -> str:
    """C{url} without its password, for the log."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://..."
    host, port, name = info.get("host", ""), info.get("port", ""), info.get("dbname", "")
    return f"postgresql://{host}{':' if port else ''}{port}/{name}"


def connection_pool(url: str) -> adbapi.ConnectionPool:
    """
    A pool of one psycopg connection to C{url}: what is run on it runs in the
    order asked; a connection that broke is made again.
    """
    return adbapi.ConnectionPool(
        "psycopg",
        url,
        connect_timeout=CONNECT_TIMEOUT,
        cp_min=1,
        cp_max=1,
        cp_reconnect=True,
        cp_noisy=False,
        cp_good_sql="SELECT 1",
    )


class _Timeout(Exception):
    pass


@implementer(IHistory)
class PostgreSQLHistory:
    """
    Room history in the PostgreSQL database at C{url} (a libpq URI), its
    lines stamped by C{clock}.
    """

    _log = Logger()

    def __init__(
        self,
        url: str,
        *,
        clock: IReactorTime,
        retention_days: int = 0,
        max_lookups: int = MAX_LOOKUPS,
        max_replays: int = MAX_REPLAYS,
        query_timeout: float = QUERY_TIMEOUT,
        max_unsaved_bytes: int = MAX_UNSAVED_BYTES,
    ) -> None:
        self.url = url
        self.retention_days = retention_days
        self.max_lookups = max_lookups
        self.max_replays = max_replays
        self.query_timeout = query_timeout
        self.max_unsaved_bytes = max_unsaved_bytes
        self._clock = clock
        self._writer_id = uuid.uuid4()
        self._pools: dict[str, adbapi.ConnectionPool] = {}
        self._batches = Batches(
            clock,
            self._write,
            max_unsaved_bytes=max_unsaved_bytes,
            expected=psycopg.Error,
            reason=lambda failure: _reason(failure.value or Exception()),
            log=self._log,
            ready=lambda: bool(self._pools),
        )
        self._in_flight = {"replays": 0, "searches": 0}
        self._closed: Deferred[None] | None = None
        self._pruning = LoopingCall(self._prune_and_log)
        self._pruning.clock = clock

    # Opening and closing

    def open(self) -> None:
        try:
            with psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT) as connection:
                with connection.transaction():
                    for statement in _SCHEMA:
                        connection.execute(statement)
                row = connection.execute("SHOW lc_ctype").fetchone()
        except (psycopg.Error, psycopg.ProgrammingError) as e:
            raise HistoryUnavailable(f"cannot use {shown(self.url)}: {_reason(e)}") from None
        ctype = row[0] if row else ""
        if ctype in ("C", "POSIX"):
            self._log.warn(
                "The history database's LC_CTYPE is {ctype}: /search folds only ASCII letters "
                "to lower case (make the database with a UTF-8 locale)",
                ctype=ctype,
            )
        for kind in ("writer", "replays", "searches"):
            self._pools[kind] = connection_pool(self.url)
        if self.retention_days:
            self._pruning.start(PRUNE_INTERVAL, now=True)

    def close(self) -> Deferred[None]:
        """
        Write every line recorded, then close the connections. A write that
        keeps failing is tried L{CLOSE_ATTEMPTS} times; then the lines are
        logged as lost, so that a stop always ends.
        """
        if self._closed is None:
            self._closed = ensureDeferred(self._close())
            self._closed.addErrback(
                lambda failure: self._log.failure("Could not close the history database", failure)
            )
        d: Deferred[None] = Deferred()
        self._closed.addCallback(lambda _: d.callback(None))
        return d

    async def _close(self) -> None:
        self._batches.closing = True
        if self._pruning.running:
            self._pruning.stop()
        if not self._pools:
            return
        await self._batches.close()
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.close()

    # Recording

    @property
    def unsaved(self) -> int:
        """How many lines are recorded and not yet written."""
        return self._batches.unsaved

    def record(self, event: Message | Action) -> Line | None:
        return self._batches.record(event)

    def _write(self, batch: list[Line], written: int) -> Deferred[None]:
        first = written - len(batch)
        rows = [
            (
                line.event.room,
                fold(line.event.room),
                line.when,
                line.event.nick,
                isinstance(line.event, Action),
                line.event.text,
                self._writer_id,
                first + n,
            )
            for n, line in enumerate(batch)
        ]
        written_rows: Deferred[None] = self._pools["writer"].runInteraction(_insert, rows)
        return written_rows

    # Looking up

    def recent(self, room: str, lines: int) -> Deferred[list[Line]]:
        return self._lookup(
            "replays",
            room,
            _select_recent,
            (fold(room), lines),
            f"the history of {room} took too long to look up; try again in a moment",
        )

    def cached(self, room: str, lines: int) -> tuple[Line, ...] | None:
        return None  # every lookup reads the database (chatsvc.history.cache keeps rooms in memory)

    def search(self, room: str, words: Sequence[str], lines: int) -> Deferred[list[Line]]:
        return self._lookup(
            "searches",
            room,
            _select_matching,
            (fold(room), list(words), lines),
            f"the search in {room} took too long; try rarer words",
        )

    def _lookup(
        self,
        kind: str,
        room: str,
        select: Callable[..., list[Line]],
        args: tuple[object, ...],
        slow: str,
    ) -> Deferred[list[Line]]:
        """
        C{select(cursor, bound, *args)} on the pool of C{kind}, as of
        now: once the lines recorded until now are written, without those
        recorded after.
        """
        if not self._pools or self._batches.closing:
            return fail(HistoryError("history is not available now"))
        if self._in_flight[kind] >= (self.max_lookups if kind == "searches" else self.max_replays):
            return fail(
                HistoryError(
                    f"the server is busy with too many history {kind} at once; "
                    "try again in a moment"
                )
            )
        asked = self._batches.recorded
        deadline = self._clock.seconds() + self.query_timeout
        self._in_flight[kind] += 1

        async def look_up() -> list[Line]:
            try:
                await self._batches.until_saved(asked)
                left = deadline - self._clock.seconds()
                if left <= 0 or kind not in self._pools:
                    raise _Timeout() if left <= 0 else HistoryError("history is not available now")
                bound = _Bound(self._writer_id, asked, left)
                try:
                    found: list[Line] = await self._pools[kind].runInteraction(select, bound, *args)
                except psycopg.OperationalError:
                    # A connection that broke since the last lookup (the server
                    # restarted) is found so, and made again: once more, on the new one.
                    found = await self._pools[kind].runInteraction(select, bound, *args)
                return found
            except errors.QueryCanceled:
                raise HistoryError(slow) from None
            except _Timeout:
                raise HistoryError(slow) from None
            except psycopg.Error as e:
                self._log.error(
                    "Could not look up the history of {room} ({why})", room=room, why=_reason(e)
                )
                raise HistoryError(f"the history of {room} is not available right now") from None
            finally:
                self._in_flight[kind] -= 1

        return ensureDeferred(look_up())

    # Pruning

    async def prune(self) -> int:
        """Delete the lines older than the retention period; how many were."""
        if not self.retention_days or "writer" not in self._pools:
            return 0
        writer = self._pools["writer"]
        return await self._batches.prune(
            self.retention_days, lambda cutoff: writer.runInteraction(_delete_before, cutoff)
        )

    def _prune_and_log(self) -> Deferred[None]:
        def failed(failure: Failure) -> None:
            self._log.error(
                "Could not prune the history database ({why})",
                why=_reason(failure.value or Exception()),
            )

        return ensureDeferred(self.prune()).addCallbacks(lambda _: None, failed)


# On the pools' threads


def _insert(cursor: Cursor, rows: list[tuple[object, ...]]) -> None:
    cursor.executemany(_INSERT, rows)


def _limit_time(cursor: Cursor, bound: _Bound) -> None:
    cursor.execute(f"SET LOCAL statement_timeout = {max(1, int(bound.seconds * 1000))}")


def _select_recent(cursor: Cursor, bound: _Bound, key: str, lines: int) -> list[Line]:
    _limit_time(cursor, bound)
    cursor.execute(
        "SELECT at, room, nick, action, text FROM chatsvc_lines "
        f"WHERE room_key = %s AND {_NEWER} ORDER BY id DESC LIMIT %s",
        (key, bound.writer, bound.asked, lines),
    )
    return [_line(row) for row in reversed(cursor.fetchall())]


def _select_matching(
    cursor: Cursor, bound: _Bound, key: str, words: list[str], lines: int
) -> list[Line]:
    _limit_time(cursor, bound)
    cursor.execute(_PHRASES, (words,))
    phrases = [row[0] for row in cursor.fetchall()]
    if not phrases:
        return []
    query = " & ".join(f"({phrase})" for phrase in phrases)
    cursor.execute(
        "SELECT at, room, nick, action, text FROM chatsvc_lines "
        f"WHERE room_key = %s AND words @@ %s::tsquery AND {_NEWER} ORDER BY id DESC LIMIT %s",
        (key, query, bound.writer, bound.asked, lines),
    )
    return [_line(row) for row in reversed(cursor.fetchall())]


def _delete_before(cursor: Cursor, cutoff: float) -> int:
    cursor.execute(
        "DELETE FROM chatsvc_lines WHERE id IN "
        "(SELECT id FROM chatsvc_lines WHERE at < %s LIMIT %s)",
        (cutoff, PRUNE_CHUNK),
    )
    deleted: int = cursor.rowcount
    return deleted
