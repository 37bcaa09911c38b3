"""
Test doubles for code that uses chatsvc, public like
L{twisted.internet.testing}: a room history in memory whose lookups the test
answers when it chooses.

test-case-name: tests.test_replay
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from chatsvc.history import IHistory, Line
from chatsvc.model import Action, Message, fold

_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


@implementer(IHistory)
class FakeHistory:
    """
    An L{IHistory} in memory: what is recorded is in L{lines}, stamped by
    C{clock}. Lookups are answered at once; with C{at_once=False} they wait in
    L{waiting} until L{answer} or L{fail}, so a test sees what happens while
    they are in flight. Searches match whole words, in any case.
    """

    def __init__(self, clock: IReactorTime, *, at_once: bool = True) -> None:
        self.clock = clock
        self.at_once = at_once
        self.lines: list[Line] = []
        self.waiting: list[tuple[Deferred[list[Line]], list[Line]]] = []
        self.opened = False
        self.closed = False

    def open(self) -> None:
        self.opened = True

    def record(self, event: Message | Action) -> None:
        self.lines.append(Line(self.clock.seconds(), event))

    def recent(self, room: str, lines: int) -> Deferred[list[Line]]:
        return self._found([line for line in self._room(room)][-lines:])

    def search(self, room: str, words: Sequence[str], lines: int) -> Deferred[list[Line]]:
        wanted = set().union(*(_words(word) for word in words))
        found = [line for line in self._room(room) if wanted <= _words(line.event.text)]
        return self._found(found[-lines:] if wanted else [])

    def close(self) -> Deferred[None]:
        self.closed = True
        return succeed(None)

    def answer(self) -> None:
        """Answer every lookup waiting, in the order they were made."""
        waiting, self.waiting = self.waiting, []
        for d, found in waiting:
            d.callback(found)

    def fail(self, reason: Exception) -> None:
        """Fail every lookup waiting with C{reason}."""
        waiting, self.waiting = self.waiting, []
        for d, _ in waiting:
            d.errback(reason)

    def _room(self, room: str) -> list[Line]:
        return [line for line in self.lines if fold(line.event.room) == fold(room)]

    def _found(self, found: list[Line]) -> Deferred[list[Line]]:
        if self.at_once:
            return succeed(found)
        d: Deferred[list[Line]] = Deferred()
        self.waiting.append((d, found))
        return d
