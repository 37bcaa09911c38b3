"""
The lines a store has recorded and not yet written, written in batches: what
the SQLite and PostgreSQL stores share, so that the reactor never waits for
a database and a database that fails costs only memory, within bounds.

A line is written at most L{BATCH_WINDOW} seconds after it is recorded, in
a batch of at most L{BATCH_SIZE} lines: the first line waiting opens the
window, and the window closes early once a full batch is waiting. One write
is in flight at a time, and a batch that fails is written again, whole,
before any line after it, so the database always holds every line up to
some point and none after it. A write that fails is logged and tried again
after L{RETRY_FIRST} seconds, then twice as long each time, up to
L{RETRY_MAX}; the lines wait in memory, up to C{max_unsaved_bytes} of text
and L{MAX_UNSAVED} lines; past either, new lines are not kept (logged when
it starts, and how many were not kept once writes work again, or at close).

test-case-name: tests.history.test_sqlite, tests.history.test_postgresql
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from itertools import islice

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from chatsvc.chat.events import Action, Message
from chatsvc.history import Line

BATCH_WINDOW = 0.1
"""Seconds a recorded line waits, at most, before it is written."""

BATCH_SIZE = 1000
"""Lines written in one transaction, at most."""

RETRY_FIRST = 0.25
"""Seconds before a failed write is tried again; doubled after each failure in a row."""

RETRY_MAX = 10.0
"""The longest wait between two tries of a failed write."""

CLOSE_ATTEMPTS = 3
"""Tries at the last lines when closing, before they are logged as lost."""

MAX_UNSAVED = 100_000
"""
Lines kept in memory while the database does not take them, however short:
each costs some 200 bytes of objects beside its text.
"""

PRUNE_INTERVAL = 3600.0
"""Seconds between two prunings of lines older than the retention period."""

PRUNE_CHUNK = 1000
"""Lines deleted in one transaction when pruning, so reads and writes go in between."""

DAY = 86400.0

Write = Callable[[list[Line], int], Deferred[None]]
"""
How a store writes a batch: C{write(batch, written)} writes C{batch}, after
which C{written} lines of this run are written (the batch's first line is
number C{written - len(batch)}).
"""


def _size(event: Message | Action) -> int:
    """The bytes of a line's text, nickname and room, for the bound on unsaved lines."""
    return len(event.text.encode()) + len(event.nick) + len(event.room)


class Batches:
    """
    The lines recorded this run, numbered in order, from number C{first} on:
    those from C{saved} on are not yet written (the first C{writing} of them
    are being written); those before it are kept while a lookup L{hold}s
    them. C{write} writes a batch, once C{ready} says the store can;
    C{expected} is the error a database fails with (anything else is also
    logged as a bug); C{reason} says why a write failed, in one line.
    """

    def __init__(
        self,
        clock: IReactorTime,
        write: Write,
        *,
        max_unsaved_bytes: int,
        expected: type[Exception],
        reason: Callable[[Failure], str],
        log: Logger,
        ready: Callable[[], bool],
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.max_unsaved_bytes = max_unsaved_bytes
        self.on_written: Callable[[float, int], None] | None = None
        """Told the seconds each batch took to write, and its lines (for metrics)."""
        self._timer = timer
        self._write_started = 0.0
        self.lines: deque[Line] = deque()
        self.first = 0
        self.recorded = 0
        """Lines ever numbered."""
        self.saved = 0
        """Lines written, or given up at close."""
        self.writing = 0
        self.unsaved_bytes = 0
        self.failures = 0
        """Writes failed in a row."""
        self.closing = False
        self._ready = ready
        self._clock = clock
        self._write = write
        self._expected = expected
        self._reason = reason
        self._log = log
        self._sizes: deque[int] = deque()
        self._held: Counter[int] = Counter()
        self._due = 0.0
        self._window: IDelayedCall | None = None
        self._retry: IDelayedCall | None = None
        self._close_failures = 0
        self._refused = 0
        self._waiters: list[tuple[int, bool, Deferred[None]]] = []

    @property
    def unsaved(self) -> int:
        return self.recorded - self.saved

    def record(self, event: Message | Action) -> Line | None:
        """Queue C{event}, stamped now; L{None} if the bounds are reached."""
        waiting = self.unsaved
        size = _size(event)
        if waiting >= MAX_UNSAVED or self.unsaved_bytes + size > self.max_unsaved_bytes:
            self._refused += 1
            if self._refused == 1:
                self._log.error(
                    "{n} history lines ({size} bytes) wait for the database; "
                    "no more are kept until it takes them",
                    n=waiting,
                    size=self.unsaved_bytes,
                )
            return None
        now = self._clock.seconds()
        if waiting == self.writing:
            self._due = now + BATCH_WINDOW
        line = Line(now, event)
        self.lines.append(line)
        self._sizes.append(size)
        self.unsaved_bytes += size
        self.recorded += 1
        if self._window is None or waiting + 1 - self.writing >= BATCH_SIZE:
            self.schedule()
        return line

    def unsaved_lines(self) -> Iterator[Line]:
        return islice(self.lines, self.saved - self.first, None)

    def schedule(self, *, now: bool = False) -> None:
        """Start the next write if it is due, or arrange for it to start when it is."""
        if self.writing or self._retry is not None or not self._ready() or not self.unsaved:
            return
        if (
            now
            or self.closing
            or self._waiters
            or self.unsaved >= BATCH_SIZE
            or self._clock.seconds() >= self._due
        ):
            self._flush()
        elif self._window is None:
            self._window = self._clock.callLater(
                self._due - self._clock.seconds(), self._window_closed
            )

    def _window_closed(self) -> None:
        self._window = None
        self.schedule(now=True)

    def _flush(self) -> None:
        if self._window is not None:
            self._window.cancel()
            self._window = None
        batch = list(islice(self.unsaved_lines(), BATCH_SIZE))
        self.writing = len(batch)
        self._write_started = self._timer()
        d = self._write(batch, self.saved + len(batch))
        d.addCallbacks(self._written, self._not_written)

    def _forget_saved(self, count: int) -> None:
        """Count the next C{count} unsaved lines as saved."""
        for _ in range(count):
            self.unsaved_bytes -= self._sizes.popleft()
        self.saved += count
        self._trim()

    def hold(self) -> int:
        """Keep the lines from the first unsaved one on, written or not, until L{release}."""
        floor = self.saved
        self._held[floor] += 1
        return floor

    def release(self, floor: int) -> None:
        self._held[floor] -= 1
        if not self._held[floor]:
            del self._held[floor]
        self._trim()

    def _trim(self) -> None:
        """Let go of the written lines that nothing holds."""
        keep = min(self._held, default=self.saved)
        while self.first < keep:
            self.lines.popleft()
            self.first += 1

    def _written(self, result: None) -> None:
        if self.on_written is not None:
            self.on_written(self._timer() - self._write_started, self.writing)
        self._forget_saved(self.writing)
        self.writing = 0
        if self.failures:
            self._log.info(
                "History database writes work again, after {failures} failed tries",
                failures=self.failures,
            )
        self.failures = 0
        if self._drained():
            self.log_refused()
        self._wake()
        self.schedule()

    def _drained(self) -> bool:
        """
        Whether the lines waiting are down to half of either bound: a spell of
        lines not kept ends there, not at the first batch written, so that a
        backlog that keeps refilling is logged once, not once a batch.
        """
        return (
            self.unsaved <= MAX_UNSAVED // 2 and self.unsaved_bytes <= self.max_unsaved_bytes // 2
        )

    def log_refused(self) -> None:
        if self._refused:
            self._log.error(
                "{n} history lines were not kept, while the database did not take them",
                n=self._refused,
            )
        self._refused = 0

    def _not_written(self, failure: Failure) -> None:
        lines, self.writing = self.writing, 0
        self.failures += 1
        why = self._reason(failure) if failure.check(self._expected) else repr(failure.value)
        if not failure.check(self._expected):
            self._log.failure("Unexpected error writing to the history database", failure)
        if self.closing:
            self._close_failures += 1
            if self._close_failures >= CLOSE_ATTEMPTS:
                self._log.error(
                    "Could not write {n} history lines before closing ({why}); they are lost",
                    n=self.unsaved,
                    why=why,
                )
                self._forget_saved(self.unsaved)
                self._wake(everyone=True)
                return
            delay = RETRY_FIRST
        else:
            delay = min(RETRY_MAX, RETRY_FIRST * 2 ** (self.failures - 1))
        self._log.error(
            "Could not write {lines} history lines ({why}); {n} are waiting; "
            "trying again in {delay} seconds",
            lines=lines,
            n=self.unsaved,
            why=why,
            delay=delay,
        )
        self._wake(impatient=True)
        self._retry = self._clock.callLater(delay, self._retried)

    def _retried(self) -> None:
        self._retry = None
        self.schedule(now=True)

    async def close(self) -> None:
        """Write every line recorded (or give them up after L{CLOSE_ATTEMPTS})."""
        self.closing = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        await self.until_saved(self.recorded, patient=True)
        self.log_refused()

    async def prune(
        self, retention_days: float, delete_before: Callable[[float], Awaitable[int]]
    ) -> int:
        """
        Delete the lines older than C{retention_days}, L{PRUNE_CHUNK} at a time
        by C{delete_before(cutoff)}, until fewer are left or the store
        closes; how many were.
        """
        cutoff = self._clock.seconds() - retention_days * DAY
        total = 0
        while not self.closing:
            deleted = await delete_before(cutoff)
            total += deleted
            if deleted < PRUNE_CHUNK:
                break
        if total:
            self._log.info(
                "Pruned {n} history lines older than {days} days", n=total, days=retention_days
            )
        return total

    def until_saved(self, count: int, *, patient: bool = False) -> Deferred[None]:
        """
        Fires once the first C{count} lines recorded are written. Unless
        C{patient}, it fires at once while writes are failing instead.
        """
        if self.saved >= count or (self.failures and not patient):
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._waiters.append((count, patient, d))
        self.schedule(now=True)
        return d

    def _wake(self, *, impatient: bool = False, everyone: bool = False) -> None:
        waiters, self._waiters = self._waiters, []
        for count, patient, d in waiters:
            if everyone or self.saved >= count or (impatient and not patient):
                d.callback(None)
            else:
                self._waiters.append((count, patient, d))
