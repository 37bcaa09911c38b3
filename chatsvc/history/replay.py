"""
History on a connection: the lookups in flight (the replay on joining a room,
C{/history} and C{/search}), and what else the connection is sent while they
are looked up. A session starts them (L{chatsvc.sessions.session}); its
frontend renders their answers.

A lookup is answered later, by a store that may be busy. Until it is, the
connection's other output (live chat, replies to its later commands) is held
back behind it, so that a framed answer always comes out whole, in the place
it was asked for, and nothing said after the lookup began ever shows above
it::

    *** You joined dev (2 members):
    *** alice, bob
    *** Recent history of dev (2 lines, times in UTC):
    [2026-11-21 14:03] <alice> the build is green
    [2026-11-21 14:04] * bob cheers
    *** End of history
    <alice> said while the history was being looked up

What is held is bounded, in time (L{LOOKUP_TIMEOUT}) and in size
(L{HOLD_LIMIT}): past either, the lookup is given up with an error line and
the held output flows again, so a slow database never costs more than that.
A connection has at most L{MAX_LOOKUPS} lookups in flight.

test-case-name: tests.history.test_replay
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime

HOLD_LIMIT = 1 << 20
"""
Bytes of output held behind lookups in flight before the oldest lookup is given
up: as much as the server queues by default for a client that does not read
(C{--max-send-buffer}), since a burst of chat can fill a small bound in the
few milliseconds a healthy lookup takes.
"""

LOOKUP_TIMEOUT = 5.0
"""Seconds a lookup may take before it is given up."""

MAX_LOOKUPS = 4
"""Lookups one connection may have in flight, so that it cannot pile work up on the store."""

REPLY_LIMIT = 256 * 1024
"""
Bytes one framed answer may take at most (L{reply_budget}): a peer that asks
for much and never reads must not be owed more than its send buffer at once.
"""


@attrs.frozen
class Lookup:
    """A lookup under way: its C{answer}, lines ready to write; C{late}, what to write instead."""

    answer: Deferred[bytes]
    late: bytes


def reply_budget(max_send_buffer: int) -> int:
    """
    The most bytes of one framed answer, for a connection dropped once more
    than C{max_send_buffer} bytes are queued for it (C{0}: never): a quarter
    of that, at most L{REPLY_LIMIT}, so that an answer alone never drops it.
    """
    return min(REPLY_LIMIT, max_send_buffer // 4) if max_send_buffer else REPLY_LIMIT


@attrs.define(eq=False)
class _Slot:
    """One lookup in flight, and the output that came after it began."""

    late: bytes
    answer: bytes | None = None
    after: list[bytes] = attrs.field(factory=list)
    timer: IDelayedCall | None = None
    forgotten: bool = False


class Lookups:
    """
    A connection's lookups in flight, in the order they began, each with the
    output written after it began and before the next one did. C{send} is
    how output reaches the connection once nothing before it is missing;
    C{idle} is called each time the last lookup in flight is done with.
    """

    def __init__(
        self,
        send: Callable[[bytes], None],
        clock: IReactorTime,
        *,
        limit: int = HOLD_LIMIT,
        timeout: float = LOOKUP_TIMEOUT,
        idle: Callable[[], object] = lambda: None,
    ) -> None:
        self._send = send
        self._idle = idle
        self._clock = clock
        self._limit = limit
        self._timeout = timeout
        # A list, not a deque: it holds at most MAX_LOOKUPS, and an empty
        # deque costs every idle connection half a kilobyte.
        self._slots: list[_Slot] = []
        self._held = 0
        self._waiting: list[Deferred[None]] | None = None

    @property
    def busy(self) -> bool:
        """Whether output must be held: a lookup is in flight."""
        return bool(self._slots)

    @property
    def full(self) -> bool:
        """Whether as many lookups are in flight as may be."""
        return len(self._slots) >= MAX_LOOKUPS

    @property
    def held(self) -> int:
        """Bytes held behind lookups in flight."""
        return self._held

    def start(self, lookup: Lookup) -> None:
        """Write C{lookup}'s answer when it comes, before anything written after now."""
        slot = _Slot(lookup.late)
        self._slots.append(slot)
        slot.timer = self._clock.callLater(self._timeout, self._answer, slot, slot.late)
        lookup.answer.addCallback(lambda answer: self._answer(slot, answer))

    def hold(self, data: bytes) -> None:
        """Write C{data} after the lookups in flight; give the oldest up if too much is held."""
        self._slots[-1].after.append(data)
        self._held += len(data)
        while self._held > self._limit and self._slots:
            self._answer(self._slots[0], self._slots[0].late)

    def when_done(self) -> Deferred[None]:
        """Fires once no lookup is in flight: at once if none is."""
        if not self._slots:
            return succeed(None)
        if self._waiting is None:
            self._waiting = []
        done: Deferred[None] = Deferred()
        self._waiting.append(done)
        return done

    def _done(self) -> None:
        self._idle()
        waiting, self._waiting = self._waiting, None
        for done in waiting or ():
            done.callback(None)

    def drain(self) -> bytes:
        """
        Everything held and every answer in, in order, without the answers
        still missing: the connection is closing, and waits for nothing.
        """
        data = b"".join(b"".join([slot.answer or b"", *slot.after]) for slot in self._slots)
        self.stop()
        return data

    def stop(self) -> None:
        """Forget every lookup in flight and what is held: the connection is gone."""
        for slot in self._slots:
            slot.forgotten = True
            if slot.timer is not None and slot.timer.active():
                slot.timer.cancel()
        self._slots.clear()
        self._held = 0
        self._done()

    def _answer(self, slot: _Slot, answer: bytes) -> None:
        if slot.answer is not None or slot.forgotten:
            return  # given up already, and now the real answer comes; or the connection is gone
        slot.answer = answer
        if slot.timer is not None and slot.timer.active():
            slot.timer.cancel()
        ready: list[bytes] = []
        while self._slots and self._slots[0].answer is not None:
            done = self._slots.pop(0)
            ready.append(done.answer or b"")
            ready.extend(done.after)
            self._held -= sum(len(data) for data in done.after)
        if ready:
            self._send(b"".join(ready))
        if not self._slots:
            self._done()
