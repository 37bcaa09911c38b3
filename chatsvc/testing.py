"""
Test doubles for code that uses chatsvc, public like
L{twisted.internet.testing}: a room history in memory whose lookups the test
answers when it chooses.

test-case-name: tests.history.test_history_contract, tests.history.test_replay
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from chatsvc.chat.events import Action, Message
from chatsvc.chat.model import fold
from chatsvc.history import HistoryError, IHistory, Line


def _is_diacritic(char: str) -> bool:
    return "\u0300" <= char <= "\u036f"


def _fold(char: str) -> str:
    """
    A word character as the index keeps it: a Latin letter without its
    diacritics, any letter case-folded (final sigma as sigma, long s as s),
    though not into two letters (sharp s stays).
    """
    decomposed = unicodedata.normalize("NFD", char)
    if decomposed[0].isascii() and all(map(_is_diacritic, decomposed[1:])):
        char = decomposed[0]
    folded = char.casefold()
    return folded if len(folded) == 1 else char.lower()


def tokens(text: str) -> list[str]:
    """
    The words of C{text} as SQLite's FTS5 C{unicode61} tokenizer with
    C{remove_diacritics 2} makes them: runs of letters, digits, private-use
    and unassigned characters (anything else, C{_} and C{'} included,
    separates words), Latin letters without their diacritics (precomposed or
    combining), case-folded. It agrees with SQLite (as
    L{tests.history.test_history} checks) on ASCII, Latin-1 and Latin Extended-A,
    modern Greek and Cyrillic, kana and CJK, and punctuation; not on every
    character (SQLite's tables are of an older Unicode, with exceptions of
    their own).
    """
    found: list[str] = []
    word: list[str] = []
    for char in text:
        if _is_diacritic(char):
            continue
        category = unicodedata.category(char)
        if category[0] in "LN" or category in ("Co", "Cn"):
            word.append(_fold(char))
        elif word:
            found.append("".join(word))
            word = []
    if word:
        found.append("".join(word))
    return found


def _has_phrase(line: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(line[i : i + n] == phrase for i in range(len(line) - n + 1))


@implementer(IHistory)
class FakeHistory:
    """
    An L{IHistory} in memory: what is recorded is in L{lines}, stamped by
    C{clock}. Lookups are answered at once; with C{at_once=False} they wait in
    L{waiting} until L{answer} or L{fail}, so a test sees what happens while
    they are in flight. Searches match as L{chatsvc.history.sqlite.SQLiteHistory}
    does (see L{tokens}): each word searched for is a phrase of the words it
    holds (C{deploy-friday} finds "deploy friday", not "friday deploy").
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

    def record(self, event: Message | Action) -> Line | None:
        line = Line(self.clock.seconds(), event)
        self.lines.append(line)
        return line

    def recent(self, room: str, lines: int) -> Deferred[list[Line]]:
        if self.closed:
            return fail(HistoryError("history is not available now"))
        return self._found(self._room(room)[-lines:])

    def cached(self, room: str, lines: int) -> tuple[Line, ...] | None:
        return None  # every lookup is asked, so that tests see it in flight

    def search(self, room: str, words: Sequence[str], lines: int) -> Deferred[list[Line]]:
        if self.closed:
            return fail(HistoryError("history is not available now"))
        phrases = [phrase for phrase in map(tokens, words) if phrase]
        found = [
            line
            for line in self._room(room)
            if all(_has_phrase(tokens(line.event.text), phrase) for phrase in phrases)
        ]
        return self._found(found[-lines:] if phrases else [])

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
