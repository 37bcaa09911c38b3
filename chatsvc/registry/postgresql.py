"""
The registry (L{chatsvc.registry.IRegistry}) in PostgreSQL (C{--db
postgresql://...}), beside the room history: tables of their own
(C{chatsvc_accounts}, C{chatsvc_operators}, C{chatsvc_rooms},
C{chatsvc_room_ranks}, C{chatsvc_sanctions}) in the same database, which
every node of a cluster shares.

Names are unique as the chat folds them (L{fold}): each table keys a name by
its folded form and keeps its spelling beside it, as SQLite's C{NOCASE}
does for the SQLite registry.

Connections. Reading everything at start-up (L{PostgreSQLRegistry.open}) is
one blocking connection, before the server listens (as the history's
schema is made). Writes then go through a L{twisted.enterprise.adbapi} pool
of one connection, so that they reach the database one at a time, in the
order asked; each is a transaction. A connection that broke (the server
restarted) is made again, and the write tried once more on it; a write that
still fails is logged, and the chat goes on with what it holds in memory.

test-case-name: tests.registry.test_contract, tests.registry.test_postgresql
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred, DeferredList, ensureDeferred
from twisted.logger import Logger
from zope.interface import implementer

from chatsvc.chat.model import fold
from chatsvc.chat.sanctions import Mask, Sanction, SanctionKind
from chatsvc.history.postgresql import CONNECT_TIMEOUT, _reason, connection_pool, shown
from chatsvc.registry import (
    ROOM_COLUMNS,
    IRegistry,
    RegistryUnavailable,
    RoomRecord,
    Snapshot,
    rooms_of,
    sanctions_of,
)

_SCHEMA = [
    # Many nodes may open the same database at once: one makes the schema.
    "SELECT pg_advisory_xact_lock(7142196)",
    """CREATE TABLE IF NOT EXISTS chatsvc_accounts (
        key text PRIMARY KEY, name text NOT NULL, hash text NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS chatsvc_operators (key text PRIMARY KEY, name text NOT NULL)",
    """CREATE TABLE IF NOT EXISTS chatsvc_rooms (
        key text PRIMARY KEY, name text NOT NULL,
        topic text, topic_by text, topic_at double precision,
        invite_only boolean NOT NULL, moderated boolean NOT NULL,
        created double precision
    )""",
    # The columns added since it was made first are in _ROOM_COLUMNS_ADDED.
    """CREATE TABLE IF NOT EXISTS chatsvc_room_ranks (
        room_key text NOT NULL, account_key text NOT NULL, account text NOT NULL,
        rank text NOT NULL,
        PRIMARY KEY (room_key, account_key)
    )""",
    # scope_key: the room's folded name, or '' for chat-wide; mask: as Mask prints it.
    """CREATE TABLE IF NOT EXISTS chatsvc_sanctions (
        kind text NOT NULL, scope_key text NOT NULL, scope text, mask text NOT NULL,
        by text NOT NULL, set_at double precision NOT NULL, reason text,
        until double precision,
        PRIMARY KEY (kind, scope_key, mask)
    )""",
]

_ROOM_COLUMNS_ADDED = [
    ("join_key", "text"),
    ("member_limit", "integer"),
    ("secret", "boolean NOT NULL DEFAULT false"),
    ("members_only", "boolean NOT NULL DEFAULT true"),
    ("topic_locked", "boolean NOT NULL DEFAULT true"),
]
"""
The columns of C{chatsvc_rooms} added since the table was first made (a
room's C{+k}, C{+l}, C{+s}, C{+n}, C{+t}), in order: each is added to a
table that lacks it, new or made by an earlier chatsvc, its default what a
room kept before had. A table that has them all is only read: C{ALTER
TABLE} would wait for every transaction that uses the table.
"""

Cursor = Any
"""A DB-API cursor of psycopg, as adbapi hands it to an interaction."""

Job = Callable[[Cursor], None]

_log = Logger()


@implementer(IRegistry)
class PostgreSQLRegistry:
    """Accounts, registered rooms, sanctions and run-time operators in the database at C{url}."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: adbapi.ConnectionPool | None = None
        self._pending: set[Deferred[None]] = set()

    def open(self) -> Snapshot:
        try:
            with psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT) as connection:
                with connection.transaction():
                    for statement in _SCHEMA:
                        connection.execute(statement)
                    _add_missing_columns(connection)
                with connection.cursor() as cursor:
                    snapshot = _read(cursor)
        except (psycopg.Error, psycopg.ProgrammingError) as e:
            raise RegistryUnavailable(f"cannot use {shown(self.url)}: {_reason(e)}") from None
        self._pool = connection_pool(self.url)
        return snapshot

    def _run(self, what: str, *jobs: tuple[str, tuple[object, ...]]) -> Deferred[None]:
        """Run C{jobs} (statements and values) in one transaction, after the writes asked before."""
        pool = self._pool
        assert pool is not None, "the registry is not open"

        def interaction(cursor: Cursor) -> None:
            for statement, values in jobs:
                cursor.execute(statement, values)

        async def write() -> None:
            try:
                try:
                    await pool.runInteraction(interaction)
                except psycopg.OperationalError:
                    # The connection broke since the last write: once more, on a new one.
                    await pool.runInteraction(interaction)
            except psycopg.Error as e:
                _log.error(
                    "Cannot save {what} in {url} ({why})",
                    what=what,
                    url=shown(self.url),
                    why=_reason(e),
                )

        done: Deferred[None] = ensureDeferred(write())
        self._pending.add(done)

        def finished(result: None) -> None:
            self._pending.discard(done)

        return done.addCallback(finished)

    def save_account(self, name: str, hashed: str) -> Deferred[None]:
        return self._run(
            f"the account {name}",
            (
                "INSERT INTO chatsvc_accounts VALUES (%s, %s, %s) ON CONFLICT (key) "
                "DO UPDATE SET name = EXCLUDED.name, hash = EXCLUDED.hash",
                (fold(name), name, hashed),
            ),
        )

    def delete_account(self, name: str) -> Deferred[None]:
        key = (fold(name),)
        return self._run(
            f"the removal of the account {name}",
            ("DELETE FROM chatsvc_accounts WHERE key = %s", key),
            ("DELETE FROM chatsvc_operators WHERE key = %s", key),
            ("DELETE FROM chatsvc_room_ranks WHERE account_key = %s", key),
        )

    def save_operator(self, name: str) -> Deferred[None]:
        return self._run(
            f"the operator {name}",
            (
                "INSERT INTO chatsvc_operators VALUES (%s, %s) ON CONFLICT (key) "
                "DO UPDATE SET name = EXCLUDED.name",
                (fold(name), name),
            ),
        )

    def delete_operator(self, name: str) -> Deferred[None]:
        return self._run(
            f"the removal of the operator {name}",
            ("DELETE FROM chatsvc_operators WHERE key = %s", (fold(name),)),
        )

    def save_room(self, room: RoomRecord) -> Deferred[None]:
        key, topic = fold(room.name), room.topic
        ranks = [(name, "owner") for name in room.owners] + [
            (name, "operator") for name in room.operators
        ]
        modes = room.modes
        return self._run(
            f"the room {room.name}",
            (
                f"INSERT INTO chatsvc_rooms (key, {ROOM_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, topic = EXCLUDED.topic, "
                "topic_by = EXCLUDED.topic_by, topic_at = EXCLUDED.topic_at, "
                "invite_only = EXCLUDED.invite_only, moderated = EXCLUDED.moderated, "
                "created = EXCLUDED.created, join_key = EXCLUDED.join_key, "
                "member_limit = EXCLUDED.member_limit, secret = EXCLUDED.secret, "
                "members_only = EXCLUDED.members_only, topic_locked = EXCLUDED.topic_locked",
                (
                    key,
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
            ),
            ("DELETE FROM chatsvc_room_ranks WHERE room_key = %s", (key,)),
            *(
                (
                    "INSERT INTO chatsvc_room_ranks VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (room_key, account_key) DO UPDATE SET "
                    "account = EXCLUDED.account, rank = EXCLUDED.rank",
                    (key, fold(name), name, rank),
                )
                for name, rank in ranks
            ),
        )

    def delete_room(self, name: str) -> Deferred[None]:
        key = (fold(name),)
        return self._run(
            f"the removal of the room {name}",
            ("DELETE FROM chatsvc_rooms WHERE key = %s", key),
            ("DELETE FROM chatsvc_room_ranks WHERE room_key = %s", key),
            ("DELETE FROM chatsvc_sanctions WHERE scope_key = %s", key),
        )

    def save_sanction(self, sanction: Sanction) -> Deferred[None]:
        room = sanction.room
        return self._run(
            f"the {sanction.kind.value} of {sanction.mask}",
            (
                "INSERT INTO chatsvc_sanctions VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (kind, scope_key, mask) DO UPDATE SET scope = EXCLUDED.scope, "
                "by = EXCLUDED.by, set_at = EXCLUDED.set_at, reason = EXCLUDED.reason, "
                "until = EXCLUDED.until",
                (
                    sanction.kind.value,
                    "" if room is None else fold(room),
                    room,
                    str(sanction.mask),
                    sanction.by,
                    sanction.set_at,
                    sanction.reason,
                    sanction.until,
                ),
            ),
        )

    def delete_sanction(self, kind: SanctionKind, mask: Mask, room: str | None) -> Deferred[None]:
        return self._run(
            f"the lifting of the {kind.value} of {mask}",
            (
                "DELETE FROM chatsvc_sanctions WHERE kind = %s AND scope_key = %s AND mask = %s",
                (kind.value, "" if room is None else fold(room), str(mask)),
            ),
        )

    def close(self) -> Deferred[None]:
        return ensureDeferred(self._close())

    async def _close(self) -> None:
        while self._pending:
            await DeferredList(list(self._pending))
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


def _add_missing_columns(connection: psycopg.Connection[Any]) -> None:
    """Add to C{chatsvc_rooms} the columns of L{_ROOM_COLUMNS_ADDED} it lacks (under the lock)."""
    present = {
        name
        for (name,) in connection.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'chatsvc_rooms'"
        )
    }
    for column, declared in _ROOM_COLUMNS_ADDED:
        if column not in present:
            connection.execute(f"ALTER TABLE chatsvc_rooms ADD COLUMN {column} {declared}")


def _read(cursor: Cursor) -> Snapshot:
    cursor.execute("SELECT name, hash FROM chatsvc_accounts ORDER BY key")
    accounts = tuple((name, hashed) for name, hashed in cursor.fetchall())
    cursor.execute("SELECT name FROM chatsvc_operators ORDER BY key")
    operators = tuple(name for (name,) in cursor.fetchall())
    cursor.execute(f"SELECT {ROOM_COLUMNS} FROM chatsvc_rooms ORDER BY key")
    rows = cursor.fetchall()
    cursor.execute("SELECT room_key, account, rank FROM chatsvc_room_ranks ORDER BY account_key")
    rooms = rooms_of(rows, cursor.fetchall())
    cursor.execute(
        "SELECT kind, scope, mask, by, set_at, reason, until FROM chatsvc_sanctions ORDER BY set_at"
    )
    return Snapshot(accounts, operators, rooms, sanctions_of(cursor.fetchall()))
