"""
Bans and mutes: whom they name (a L{Mask}: a nickname pattern, an account, or
an IPv4/IPv6 network), where they hold (a room, or the whole chat), why, and
until when; and the bounded list that keeps them (L{Sanctions}).

Nothing here does I/O or reads a clock: every question about what holds is
asked as of a time the caller gives (the chat's injected clock), so expiry is
tested on L{twisted.internet.task.Clock}. Bad masks and durations raise
L{ValueError} with a message meant for the user.

test-case-name: tests.chat.test_sanctions
"""

from __future__ import annotations

import enum
import fnmatch
import ipaddress
import re
import string
import time
from collections.abc import Iterator

import attrs

NICK_PATTERN_MAX = 64
"""The longest nickname pattern of a mask, in characters."""

MAX_PER_SCOPE = 500
"""
The most bans (or mutes) one room, or the whole chat, may hold: each is
checked on every join (or line), and a list an operator cannot read to the
end protects nobody.
"""

MAX_DURATION = 10 * 365 * 86400.0
"""The longest a sanction may last, if it is not for good: ten years."""

REASON_MAX = 300
"""The longest reason for a sanction, in characters."""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(?:[0-9]{1,9}[smhdw])+")
_PART = re.compile(r"([0-9]{1,9})([smhdw])")
_NICK_GLOB = re.compile(r"[A-Za-z0-9_\-.\[\]{}^|*?]+")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def parse_duration(text: str) -> float:
    """
    Seconds in C{text}: a number and a unit (C{s}, C{m}, C{h}, C{d}, C{w}),
    or several (C{1h30m}); at most L{MAX_DURATION}, at least a second.
    """
    if not _DURATION.fullmatch(text.lower()):
        raise ValueError(
            f"{text[:20]!r} is not a duration: use a number and s, m, h, d or w (as 30m or 1h30m)"
        )
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text.lower()))
    if seconds < 1:
        raise ValueError("a duration is at least 1s")
    if seconds > MAX_DURATION:
        raise ValueError("a duration is at most 3650d")
    return float(seconds)


def looks_like_duration(word: str) -> bool:
    """Whether C{word} is meant as a duration (it starts with a digit), valid or not."""
    return word[:1].isascii() and word[:1].isdigit()


def describe_duration(seconds: float) -> str:
    """C{seconds} as a user reads it: C{2h}, C{1d 3h}, C{45s}; the two largest units."""
    left = max(1, round(seconds))
    parts: list[str] = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts[:2])


def describe_time(when: float) -> str:
    """A time as users read it in a sanction: C{2026-12-01 22:30 UTC}."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(when))


class MaskKind(enum.Enum):
    NICK = "nick"
    ACCOUNT = "account"
    ADDRESS = "address"


@attrs.frozen
class Identity:
    """Who someone is, as masks see it: a nickname, an account if logged in, an address if known."""

    nick: str
    account: str | None = None
    address: str | None = None


def _lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


@attrs.frozen
class Mask:
    """
    Whom a sanction names. Written C{nick:PATTERN} (or a bare pattern: a
    nickname with C{*} and C{?} wildcards), C{account:NAME}, or an address
    (C{192.0.2.7}, C{2001:db8::/32}: a network in CIDR form). A mask that
    would name everyone (C{*}, C{0.0.0.0/0}) is refused.
    """

    kind: MaskKind
    pattern: str
    """The folded nickname pattern or account name, or the network in its compressed form."""

    @classmethod
    def parse(cls, text: str) -> Mask:
        text = text.strip()
        prefix, colon, rest = text.partition(":")
        if colon and prefix.lower() in ("nick", "account"):
            kind = MaskKind.NICK if prefix.lower() == "nick" else MaskKind.ACCOUNT
            return cls._name(kind, rest)
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            if colon or "/" in text:
                raise ValueError(
                    f"{text[:50]!r} is not a mask: use nick:PATTERN, account:NAME, "
                    "an IP address or a network (10.0.0.0/8)"
                ) from None
            return cls._name(MaskKind.NICK, text)
        if network.prefixlen == 0:
            raise ValueError(f"{text} would match every address")
        return cls(MaskKind.ADDRESS, network.compressed)

    @classmethod
    def _name(cls, kind: MaskKind, pattern: str) -> Mask:
        if not pattern:
            if kind is MaskKind.ACCOUNT:
                raise ValueError("account: needs an account name after it")
            raise ValueError("no nickname pattern given")
        if len(pattern) > NICK_PATTERN_MAX or not _NICK_GLOB.fullmatch(pattern):
            raise ValueError(
                f"{pattern[:50]!r} is not a nickname pattern: use letters, digits, "
                f"_ - . [ ] {{ }} ^ | and the wildcards * and ?, at most {NICK_PATTERN_MAX}"
            )
        if kind is MaskKind.ACCOUNT and ("*" in pattern or "?" in pattern):
            raise ValueError("an account mask names one account: no wildcards")
        if not pattern.strip("*?"):
            raise ValueError(f"{pattern} would match everyone")
        return cls(kind, _lower(pattern))

    def __str__(self) -> str:
        return (
            self.pattern if self.kind is MaskKind.ADDRESS else f"{self.kind.value}:{self.pattern}"
        )

    def matches(self, who: Identity) -> bool:
        if self.kind is MaskKind.ACCOUNT:
            return who.account is not None and _lower(who.account) == self.pattern
        if self.kind is MaskKind.NICK:
            return _glob(self.pattern).fullmatch(_lower(who.nick)) is not None
        if who.address is None:
            return False
        try:
            address = ipaddress.ip_address(who.address.partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        network = ipaddress.ip_network(self.pattern)
        return address.version == network.version and address in network


_GLOBS: dict[str, re.Pattern[str]] = {}


def _glob(pattern: str) -> re.Pattern[str]:
    """The regular expression of a nickname pattern (C{[} is a nickname's, not a set)."""
    compiled = _GLOBS.get(pattern)
    if compiled is None:
        if len(_GLOBS) > 4 * MAX_PER_SCOPE:
            _GLOBS.clear()
        # fnmatch's translation matches each run between two *s at most once
        # (no backtracking into it), so that no pattern costs more than a scan
        # per *: a plain .* for each would be exponential for *a*a*a...*b.
        compiled = _GLOBS[pattern] = re.compile(fnmatch.translate(pattern.replace("[", "[[]")))
    return compiled


class SanctionKind(enum.Enum):
    """
    What a room's (or the chat's) list of masks does to those they match:
    a ban keeps them out, a mute keeps them quiet; a room's exception lets
    them past its bans and mutes (IRC's C{+e}), its invitation lets them
    into it while it is invite-only (IRC's C{+I}).
    """

    BAN = "ban"
    MUTE = "mute"
    EXCEPTION = "exception"
    INVITATION = "invitation"

    @property
    def exempts(self) -> bool:
        """Whether it lets those it matches past a rule (an exception or an invitation)."""
        return self in (SanctionKind.EXCEPTION, SanctionKind.INVITATION)


@attrs.frozen
class Sanction:
    """
    A ban (may not enter) or a mute (may read, not speak) of whoever C{mask}
    matches, in C{room} (L{None}: the whole chat), set by C{by} at C{set_at},
    for C{reason}, until C{until} (L{None}: for good). Times are seconds
    since the epoch.
    """

    kind: SanctionKind
    mask: Mask
    room: str | None
    by: str
    set_at: float
    reason: str | None = None
    until: float | None = None

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until

    @property
    def where(self) -> str:
        return "the chat" if self.room is None else self.room

    def describe(self, now: float) -> str:
        """For the one it names: C{banned from dev for 2h (until ...): spam}."""
        did = MADE_OF[self.kind]
        how_long = (
            "for good"
            if self.until is None
            else f"for {describe_duration(self.until - now)} (until {describe_time(self.until)})"
        )
        why = f": {self.reason}" if self.reason else ""
        return f"{did} {self.where} {how_long}{why}"


MADE_OF = {
    SanctionKind.BAN: "banned from",
    SanctionKind.MUTE: "muted in",
    SanctionKind.EXCEPTION: "excepted from the bans and mutes of",
    SanctionKind.INVITATION: "let in without an invitation to",
}
"""What a sanction of each kind makes of the one it names: C{you are banned from dev}."""

SET_AS = {
    SanctionKind.BAN: "banned {mask} in {room}",
    SanctionKind.MUTE: "muted {mask} in {room}",
    SanctionKind.EXCEPTION: "let {mask} past the bans and mutes of {room}",
    SanctionKind.INVITATION: "let {mask} into {room} uninvited",
}
"""
What one who set a sanction of each kind did, as its room is told (with
C{mask} and C{room}): C{alice banned nick:bob in dev}.
"""


def _scope(room: str | None) -> str | None:
    return None if room is None else _lower(room)


class Sanctions:
    """
    Every ban and mute, by kind and scope (a room's folded name, or L{None}
    for the whole chat), each scope at most L{MAX_PER_SCOPE}. One mask has
    one sanction of a kind per scope: setting it again replaces it (a new
    reason, a new expiry). Expired sanctions are dropped as they are met.
    """

    def __init__(self, max_per_scope: int = MAX_PER_SCOPE) -> None:
        self.max_per_scope = max_per_scope
        self._by_scope: dict[tuple[SanctionKind, str | None], dict[Mask, Sanction]] = {}
        self._ran_out: list[Sanction] = []
        """Those dropped as they were met, for the next L{expire} to return."""
        self.muting = False
        """
        Whether any mute is kept, anywhere, in force or not yet dropped: what
        every line said asks first, so that a chat without mutes asks nothing
        more (no scope to fold, no identity to make, no clock to read).
        """

    def _recount(self) -> None:
        self.muting = any(
            kept for (kind, _), kept in self._by_scope.items() if kind is SanctionKind.MUTE
        )

    def add(self, sanction: Sanction) -> Sanction | None:
        """Keep C{sanction}; the one it replaces, if any. L{ValueError} if the scope is full."""
        key = (sanction.kind, _scope(sanction.room))
        kept = self._by_scope.setdefault(key, {})
        old = kept.get(sanction.mask)
        if old is None and len(kept) >= self.max_per_scope:
            self._drop(sanction.set_at)
            if len(kept) >= self.max_per_scope:
                raise ValueError(
                    f"{sanction.where} has {len(kept)} {sanction.kind.value}s already, "
                    "the most it may have: lift some first"
                )
        kept[sanction.mask] = sanction
        if sanction.kind is SanctionKind.MUTE:
            self.muting = True
        return old

    def remove(self, kind: SanctionKind, mask: Mask, room: str | None) -> Sanction | None:
        """Lift the C{kind} of C{mask} in C{room}; the sanction lifted, or L{None}."""
        kept = self._by_scope.get((kind, _scope(room)))
        lifted = None if kept is None else kept.pop(mask, None)
        if lifted is not None:
            self._recount()
        return lifted

    def any(self, kind: SanctionKind, room: str | None) -> bool:
        """Whether C{room} (or the chat) has a sanction of C{kind}, in force or not yet dropped."""
        return bool(self._by_scope.get((kind, _scope(room))))

    def matching(
        self, kind: SanctionKind, room: str | None, who: Identity, now: float
    ) -> Sanction | None:
        """The sanction of C{kind} in C{room} (only: not the chat's) that holds for C{who} now."""
        kept = self._by_scope.get((kind, _scope(room)))
        if not kept:
            return None
        expired = []
        found = None
        for sanction in kept.values():
            if not sanction.active(now):
                expired.append(sanction.mask)
            elif found is None and sanction.mask.matches(who):
                found = sanction
        for mask in expired:
            self._ran_out.append(kept.pop(mask))
        if expired:
            self._recount()
        return found

    def listed(self, room: str | None, now: float) -> list[Sanction]:
        """
        The bans, mutes, exceptions then invitations in force in C{room} (or
        chat-wide), each kind oldest first.
        """
        self._drop(now)
        found: list[Sanction] = []
        for kind in SanctionKind:
            found.extend(sorted(self._by_scope.get((kind, _scope(room)), {}).values(), key=_set_at))
        return found

    def expire(self, now: float) -> list[Sanction]:
        """
        Drop every sanction no longer in force; those that ran out since the
        last call, whether dropped now or as they were met (by L{matching},
        L{listed} or L{add}), each once.
        """
        self._drop(now)
        dropped, self._ran_out = self._ran_out, []
        return dropped

    def _drop(self, now: float) -> None:
        dropped = self._ran_out
        count = len(dropped)
        for kept in self._by_scope.values():
            for mask, sanction in list(kept.items()):
                if not sanction.active(now):
                    dropped.append(kept.pop(mask))
        if len(dropped) > count:
            self._recount()

    def forget_room(self, room: str) -> list[Sanction]:
        """Lift everything in C{room} (it is no longer registered); what was lifted."""
        lifted: list[Sanction] = []
        for kind in SanctionKind:
            lifted.extend(self._by_scope.pop((kind, _scope(room)), {}).values())
        self._recount()
        return lifted

    def __iter__(self) -> Iterator[Sanction]:
        for kept in self._by_scope.values():
            yield from kept.values()


def _set_at(sanction: Sanction) -> float:
    return sanction.set_at
