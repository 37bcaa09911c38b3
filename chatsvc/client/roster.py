"""
Who is in our room, as the server's lines tell it, and what a word being
typed completes to: a nickname of the room (the most recent speakers first)
or a command's name. Pure: the terminal feeds it the lines it shows and asks
it on Tab.

test-case-name: tests.client.test_roster
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import attrs

from chatsvc.chat.model import fold
from chatsvc.client.session import Kind, ServerLine

SPEAKERS_KEPT = 200
"""How many of the latest speakers are remembered in order; the rest come by name."""

_NICK = r"[A-Za-z0-9_\-.\[\]{}^|]+"
_LISTED = re.compile(rf"{_NICK}(?: \(away\))?(?:, {_NICK}(?: \(away\))?)*")
_HEADING = re.compile(rf"(?:You joined|Members of) (?P<room>{_NICK}) \((?P<count>\d+) members?\):")
_ARRIVED = re.compile(rf"(?P<nick>{_NICK}) joined (?P<room>{_NICK})")
_LEFT = re.compile(rf"(?P<nick>{_NICK}) left (?P<room>{_NICK})(?: \(.*\))?")
_RENAMED = re.compile(rf"(?P<old>{_NICK}) is now known as (?P<new>{_NICK})")
_KICKED = re.compile(rf"(?P<nick>{_NICK}) was kicked by {_NICK}(?: \(.*\))?")


class Roster:
    """
    The members of the room we are in, and who spoke there lately. It
    follows the member listing on entering a room (and C{/who} of it), then
    the notices of arrivals, departures, renames and kicks, and the messages
    and actions said there.
    """

    def __init__(self) -> None:
        self.room: str | None = None
        self._members: dict[str, str] = {}  # folded nickname: as spelled
        self._speakers: list[str] = []  # folded, the latest first
        self._listing = 0  # members still to come in the listing being read

    def follow(self, line: ServerLine) -> None:
        """Note what C{line}, from the server, says about our room."""
        if line.kind is Kind.JOINED:
            self.room, self._members, self._speakers = line.subject, {}, []
            self._listing = self._expected(line.text[4:])
            return
        if line.kind in (Kind.MESSAGE, Kind.ACTION) and line.subject is not None:
            self._spoke(line.subject)
            return
        if line.kind is not Kind.NOTICE:
            self._listing = 0
            return
        body = line.body
        if self._listing and _LISTED.fullmatch(body):
            names = [name.removesuffix(" (away)") for name in body.split(", ")]
            self._add(names)
            self._listing = max(0, self._listing - len(names))
            return
        self._listing = 0
        heading = _HEADING.fullmatch(body)
        if heading is not None and self._here(heading["room"]):
            self._members = {}
            self._listing = int(heading["count"])
        elif (arrived := _ARRIVED.fullmatch(body)) and self._here(arrived["room"]):
            self._add([arrived["nick"]])
        elif (left := _LEFT.fullmatch(body)) and self._here(left["room"]):
            self._remove(left["nick"])
        elif kicked := _KICKED.fullmatch(body):
            self._remove(kicked["nick"])
        elif renamed := _RENAMED.fullmatch(body):
            self._rename(renamed["old"], renamed["new"])

    def nicks(self, exclude: str | None = None) -> list[str]:
        """The members, the most recent speakers first, the rest by name; not C{exclude}."""
        skip = None if exclude is None else fold(exclude)
        spoke = [key for key in self._speakers if key != skip and key in self._members]
        said = set(spoke)
        rest = sorted(
            (name for key, name in self._members.items() if key != skip and key not in said),
            key=fold,
        )
        return [self._members[key] for key in spoke] + rest

    def _expected(self, heading: str) -> int:
        match = _HEADING.fullmatch(heading)
        return 0 if match is None else int(match["count"])

    def _here(self, room: str) -> bool:
        return self.room is not None and fold(room) == fold(self.room)

    def _add(self, names: Iterable[str]) -> None:
        for name in names:
            self._members[fold(name)] = name

    def _remove(self, name: str) -> None:
        key = fold(name)
        self._members.pop(key, None)
        if key in self._speakers:
            self._speakers.remove(key)

    def _rename(self, old: str, new: str) -> None:
        key = fold(old)
        if key not in self._members:
            return
        del self._members[key]
        self._members[fold(new)] = new
        self._speakers = [fold(new) if s == key else s for s in self._speakers]

    def _spoke(self, name: str) -> None:
        key = fold(name)
        self._members[key] = name
        if key in self._speakers:
            self._speakers.remove(key)
        self._speakers.insert(0, key)
        del self._speakers[SPEAKERS_KEPT:]


@attrs.frozen
class Completion:
    """
    What the word from C{start} to the cursor may become: each of
    C{choices}, in order, which a second Tab cycles through.
    """

    start: int
    choices: tuple[str, ...]


def complete(
    text: str, cursor: int, nicks: Sequence[str], commands: Iterable[str]
) -> Completion | None:
    """
    The completions of the word before C{cursor} in C{text}: a command name
    (C{/jo} to C{/join }) as the first word, else a nickname from C{nicks},
    in their order (C{nick: } at the start of the line, C{nick } elsewhere);
    on an empty line, every nickname. L{None} if nothing completes it.
    """
    start = cursor
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:cursor]
    if not word and start:
        return None  # after a blank: nothing to complete (on an empty line, the latest speaker)
    if start == 0 and word.startswith("/"):
        wanted = word[1:].lower()
        choices = tuple(f"/{name} " for name in sorted(commands) if name.startswith(wanted))
    else:
        suffix = ": " if start == 0 else " "
        folded = fold(word)
        choices = tuple(f"{nick}{suffix}" for nick in nicks if fold(nick).startswith(folded))
    return Completion(start, choices) if choices else None
