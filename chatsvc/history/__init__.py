"""
Room history: what is kept of what is said in rooms, and the seam between the
server and the store that keeps it.

Every room message and action is kept, with its room, the time it was said,
and the nickname and text as they were relayed (private messages never are).
The server tells an L{IHistory} each one as it relays it, from the reactor
thread, and asks it for a room's latest lines (the replay on joining, and
C{/history}) and for the latest lines with given words (C{/search}); the
answers come later, as L{Deferred}s, so a store may do its I/O elsewhere.
L{chatsvc.history.sqlite.SQLiteHistory} is the store C{twistd chat} uses;
L{NoHistory} keeps nothing, and L{chatsvc.testing.FakeHistory} is for tests.

test-case-name: tests.history.test_history, tests.history.test_history_contract
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from zope.interface import Interface, implementer

from chatsvc.chat.events import Action, Message

# Bounds a store keeps, and their defaults (see C{twistd chat --help}).

MAX_LOOKUPS = 8
"""Searches in flight at once across the server, by default: each may read much."""

MAX_REPLAYS = 1024
"""
Replays (and C{/history}) in flight at once across the server, by default:
each reads a room's latest lines by its index, and a crowd signing on at once
after a restart wants one each.
"""

QUERY_TIMEOUT = 2.0
"""
Seconds a lookup may take, by default, from when it was asked: less than the
server waits for it (L{chatsvc.history.replay.LOOKUP_TIMEOUT}), so that the user is
told why.
"""

MIN_QUERY_TIMEOUT = 0.1
"""The least C{query_timeout} may be."""

MAX_UNSAVED_BYTES = 32 << 20
"""Bytes of lines kept in memory while the store does not take them, by default."""

MIN_UNSAVED_BYTES = 64 << 10
"""The least C{max_unsaved_bytes} may be: room for a few lines of the longest."""


@attrs.frozen
class Line:
    """A message or action from a room's history, and when it was said (seconds since the epoch)."""

    when: float
    event: Message | Action


class HistoryError(Exception):
    """A lookup cannot be answered; the message is meant for the user who asked."""


class HistoryUnavailable(Exception):
    """The store cannot be opened; the message says why, in one line, for the operator."""


class IHistory(Interface):
    """Where room messages and actions are kept, and looked up."""

    def open() -> None:
        """
        Get ready to record, before the server takes any connection: open the
        store and check that it can be read and written. Raises
        L{HistoryUnavailable} if it cannot be. Blocking is allowed here, and
        only here: it runs once, at start-up, before the reactor runs.
        """

    def record(event: Message | Action) -> Line | None:
        """
        Keep C{event}, stamped with the time now. Called from the reactor
        thread as the event is relayed; never blocks, never fails. The line
        as kept, or L{None} if it is not (the store is shedding load, or keeps
        nothing).
        """

    def recent(room: str, lines: int) -> Deferred[list[Line]]:
        """
        The last C{lines} lines said in C{room} (its name in any case), oldest
        first, as of when it was asked: those recorded a moment before are
        in it, those recorded after it was asked are not. Fails with
        L{HistoryError} for a reason the user may be told.
        """

    def cached(room: str, lines: int) -> tuple[Line, ...] | None:
        """
        What L{recent} would answer, now, if the store keeps it in memory;
        L{None} if it must be looked up. Never blocks.
        """

    def search(room: str, words: Sequence[str], lines: int) -> Deferred[list[Line]]:
        """
        The last C{lines} lines said in C{room} that have every one of
        C{words} (whole words, in any case), oldest first. Words are words,
        never query syntax. As of when it was asked, as L{recent}. Fails with
        L{HistoryError} for a reason the user may be told.
        """

    def close() -> Deferred[None]:
        """Keep everything recorded so far, then let go of the store."""


NOT_KEPT = "no history is kept on this server"


@implementer(IHistory)
class NoHistory:
    """History turned off: nothing is kept, and every lookup is refused."""

    def open(self) -> None:
        pass

    def record(self, event: Message | Action) -> Line | None:
        return None

    def recent(self, room: str, lines: int) -> Deferred[list[Line]]:
        return fail(HistoryError(NOT_KEPT))

    def cached(self, room: str, lines: int) -> tuple[Line, ...] | None:
        return None

    def search(self, room: str, words: Sequence[str], lines: int) -> Deferred[list[Line]]:
        return fail(HistoryError(NOT_KEPT))

    def close(self) -> Deferred[None]:
        return succeed(None)
