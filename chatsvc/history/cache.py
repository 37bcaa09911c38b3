"""
The latest lines of busy rooms, kept in memory in front of a store, so that
the replay on joining a room costs no query.

A crowd signing on at once (10,000 users coming back after a restart) all
join the lobby and all want its latest lines: one query for each would queue
10,000 reads on the store's replay thread, and most would time out. L{RecentCache}
asks the store once per room, shares that answer among everyone who asked
while it was on its way, and from then on keeps the room's last C{depth}
lines up to date from what is recorded, answering at once from memory
(L{RecentCache.cached}): the same tuple of lines for everyone until the next
line is said, so a frontend renders a replay once per wire, not once per user.

Lookups for more lines than it keeps, and searches, go to the store.

test-case-name: tests.history.test_cache
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from zope.interface import implementer

from chatsvc.chat.events import Action, Message
from chatsvc.chat.model import fold
from chatsvc.history import IHistory, Line

MAX_ROOMS = 1024
"""Rooms whose latest lines are kept, by default: those asked for least recently go first."""


class _Room:
    """One room's latest lines, or, while the store is asked for them, what was recorded since."""

    __slots__ = ("asked", "lines", "since", "snapshot")

    def __init__(self, depth: int) -> None:
        self.lines: deque[Line] = deque(maxlen=depth)
        self.since: list[Line] = []
        """Lines recorded while the store is asked (for as long as a query may take)."""
        self.snapshot: tuple[Line, ...] | None = None
        self.asked: list[tuple[Deferred[list[Line]], int, int]] | None = []
        """
        Who waits for the store's answer, with how many lines they asked for and
        how many had been recorded since it was asked when they did; L{None}
        once the lines are known.
        """


@implementer(IHistory)
class RecentCache:
    """
    C{store}, with the last C{depth} lines of up to C{max_rooms} rooms kept
    in memory. The store must answer a lookup as of when it was asked (a line
    recorded after that is not in the answer), as every L{IHistory} does.
    Lines older than C{max_age} seconds by C{clock} (0: none) are not
    shown from memory, as the store deletes them.
    """

    def __init__(
        self,
        store: IHistory,
        depth: int,
        *,
        clock: IReactorTime,
        max_age: float = 0,
        max_rooms: int = MAX_ROOMS,
    ) -> None:
        if depth < 1 or max_rooms < 1:
            raise ValueError("a cache keeps at least one line of one room")
        self.store = store
        self.depth = depth
        self.max_rooms = max_rooms
        self.max_age = max_age
        self._clock = clock
        self._rooms: OrderedDict[str, _Room] = OrderedDict()

    # IHistory

    def open(self) -> None:
        self.store.open()

    def record(self, event: Message | Action) -> Line | None:
        line = self.store.record(event)
        if line is not None:
            self.remember(line)
        return line

    def remember(self, line: Line) -> None:
        """
        Keep C{line}, which another node of a cluster recorded in the store
        this one shares, as if it had been recorded here: a replay from
        memory shows the lines said on every node.
        """
        room = self._rooms.get(fold(line.event.room))
        if room is None:
            return
        if room.asked is None:
            room.lines.append(line)
            room.snapshot = None
        else:
            room.since.append(line)

    def cached(self, room: str, lines: int) -> tuple[Line, ...] | None:
        """
        The answer to C{recent(room, lines)}, now, if it is in memory: the same
        tuple for every caller until the room's next line.
        """
        if lines > self.depth:
            return None
        key = fold(room)
        kept = self._rooms.get(key)
        if kept is None or kept.asked is not None:
            return None
        self._rooms.move_to_end(key)
        if self.max_age and kept.lines:
            too_old = self._clock.seconds() - self.max_age
            while kept.lines and kept.lines[0].when < too_old:
                kept.lines.popleft()
                kept.snapshot = None
        snapshot = kept.snapshot
        if snapshot is None:
            snapshot = kept.snapshot = tuple(kept.lines)
        return snapshot if lines >= len(snapshot) else snapshot[-lines:]

    def recent(self, room: str, lines: int) -> Deferred[list[Line]]:
        if lines > self.depth:
            return self.store.recent(room, lines)
        found = self.cached(room, lines)
        if found is not None:
            return succeed(list(found))
        key = fold(room)
        kept = self._rooms.get(key)
        asking = kept is None
        if kept is None:
            kept = self._rooms[key] = _Room(self.depth)
            while len(self._rooms) > self.max_rooms:
                self._rooms.popitem(last=False)
        assert kept.asked is not None
        answer: Deferred[list[Line]] = Deferred()
        kept.asked.append((answer, lines, len(kept.since)))
        if asking:
            self._ask(room, key, kept)  # last: a store may answer at once
        return answer

    def _ask(self, room: str, key: str, kept: _Room) -> None:
        """Ask the store for C{room}'s latest lines, once for everyone asking meanwhile."""

        def found(lines: list[Line]) -> None:
            # What was recorded while the store was asked came after its
            # answer; each caller is answered as of when it asked. (A line
            # another node said may be in both: the store's answer has it.)
            answered = set(lines)
            since, kept.since = kept.since, []
            kept.lines.extend(lines)
            kept.lines.extend(line for line in since if line not in answered)
            waiting, kept.asked = kept.asked, None
            for answer, wanted, seen in waiting or ():
                fresh = [line for line in since[:seen] if line not in answered]
                answer.callback((lines + fresh)[-wanted:])

        def failed(failure: Failure) -> None:
            if self._rooms.get(key) is kept:
                del self._rooms[key]
            waiting, kept.asked = kept.asked, None
            for answer, _, _ in waiting or ():
                answer.errback(failure)

        self.store.recent(room, self.depth).addCallbacks(found, failed)

    def search(self, room: str, words: Sequence[str], lines: int) -> Deferred[list[Line]]:
        return self.store.search(room, words, lines)

    def close(self) -> Deferred[None]:
        self._rooms.clear()
        return self.store.close()
