"""
What the terminal client has shown, kept in memory (the latest
L{SCROLLBACK} lines) so that PageUp and PageDown page back through it, and
which page is on view. Pure: the terminal draws the pages it is given.

test-case-name: tests.client.test_scrollback
"""

from __future__ import annotations

import unicodedata
from collections import deque

import attrs

SCROLLBACK = 2000
"""Lines kept for scrolling back; older ones are forgotten."""


def display_width(text: str) -> int:
    """Columns C{text} takes on a terminal: wide (East Asian) characters two, combining none."""
    if text.isascii():
        return len(text)
    width = 0
    for character in text:
        if unicodedata.combining(character):
            continue
        width += 2 if unicodedata.east_asian_width(character) in "WF" else 1
    return width


def rows(text: str, width: int) -> int:
    """Rows of a terminal C{width} columns wide that C{text} takes."""
    return max(1, -(-display_width(text) // max(1, width)))


@attrs.frozen
class Shown:
    """A line as shown: C{text} to measure it by, C{drawn} as written (colours and all)."""

    text: str
    drawn: bytes


class Scrollback:
    """
    The lines shown, and the page on view: live (the latest lines, as they
    come) or scrolled back, to a page whose last line is C{newer} lines
    before the latest. A page is as many lines as fit in the rows given.
    """

    def __init__(self, kept: int = SCROLLBACK) -> None:
        self._lines: deque[Shown] = deque(maxlen=kept)
        self.scrolled = False
        self.newer = 0
        """Lines after the page on view (while scrolled back)."""
        self.unseen = 0
        """Lines that came while scrolled back."""

    def __len__(self) -> int:
        return len(self._lines)

    def add(self, text: str, drawn: bytes) -> None:
        """A line shown; while scrolled back, the page on view stays."""
        self._lines.append(Shown(text, drawn))
        if self.scrolled:
            self.newer = min(self.newer + 1, len(self._lines) - 1)
            self.unseen += 1

    def page(self, height: int, width: int) -> list[Shown]:
        """The lines on view, oldest first, in at most C{height} rows (at least one line)."""
        last = len(self._lines) - (self.newer if self.scrolled else 0)
        first = last
        used = 0
        while first > 0:
            needed = rows(self._lines[first - 1].text, width)
            if used + needed > height and first < last:
                break
            used += needed
            first -= 1
        return [self._lines[i] for i in range(first, last)]

    def back(self, height: int, width: int) -> bool:
        """
        PageUp: the page before, whose last line is the first of this one.
        Whether the view changed: not if this page starts with the oldest line.
        """
        shown = len(self.page(height, width))
        newer = self.newer if self.scrolled else 0
        if shown + newer >= len(self._lines):
            if self.scrolled or not self._lines:
                return False
            self.scrolled = True  # the same lines, drawn again (after /clear, say)
            return True
        self.scrolled = True
        self.newer = min(
            newer + max(1, shown - 1), len(self._lines) - self._first_page(height, width)
        )
        return True

    def _first_page(self, height: int, width: int) -> int:
        """How many of the oldest lines fill a page: the last page back is a full one."""
        used = count = 0
        for line in self._lines:
            used += rows(line.text, width)
            if used > height and count:
                break
            count += 1
        return count

    def forward(self, height: int, width: int) -> None:
        """PageDown: the page after, whose first line is the last of this one; at the end, live."""
        if not self.scrolled:
            return
        self.newer -= max(1, len(self.page(height, width)) - 1)
        if self.newer <= 0:
            self.live()

    def live(self) -> None:
        """Back to the latest lines."""
        self.scrolled = False
        self.newer = self.unseen = 0
