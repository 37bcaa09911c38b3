"""
IRC messages: parsed from a received line, tags and all (IRCv3
C{message-tags}), and written back with their last parameter as a trailing
one where it must be.

L{twisted.words.protocols.irc.parsemsg} is not used: it knows no tags, and
splits parameters on runs of spaces, where a trailing parameter keeps them.

test-case-name: tests.frontends.irc.test_message, tests.frontends.irc.test_tags
"""

from __future__ import annotations

import re

import attrs

from chatsvc.chat.events import ClientTags

MAX_LINE = 512
"""The longest IRC line, tags apart, with its CR LF."""

MAX_CLIENT_TAGS = 4094
"""
The most bytes of tag data a client may send, without the C{@} and the space
after them (IRCv3 C{message-tags}: the server may add as many again, within
8191 bytes of tags in all).
"""

MAX_INPUT = MAX_CLIENT_TAGS + 2 + MAX_LINE - 2
"""The longest line a client may send, without its CR LF: all the tags it may, and the rest."""

_CLIENT_TAG = re.compile(r"\+(?:[A-Za-z0-9.-]+/)?[A-Za-z0-9-]+")
"""A client-only tag's key: C{+name}, or C{+vendor/name}."""

_UNESCAPE = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPE = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"})


@attrs.define
class Message:
    """
    One IRC message: C{command} (upper case), C{params}, C{tags}, C{source}.
    Not frozen, though nothing changes one: one is made for every line
    received, and a frozen class takes over twice as long to make.
    """

    command: str
    params: tuple[str, ...] = ()
    tags: dict[str, str] = attrs.field(factory=dict, eq=False)
    source: str | None = None


class TooLong(ValueError):
    """A line over L{MAX_LINE} bytes (tags apart), or with over L{MAX_CLIENT_TAGS} bytes of tags."""


def unescape(value: str) -> str:
    """A tag value as sent, unescaped."""
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(_UNESCAPE.get(following, following))
        else:
            out.append(char)
    return "".join(out)


def escape(value: str) -> str:
    """A tag value, escaped to be sent."""
    return value.translate(_ESCAPE)


def client_tags(tags: dict[str, str]) -> ClientTags:
    """
    The client-only tags (C{+name}) among C{tags}, which a client sent, as
    the chat relays them: others are the server's to give, and a key that is
    not one by the grammar is left out (the message is not refused for it).
    """
    return tuple(
        (key, value.replace("\0", ""))
        for key, value in tags.items()
        if key.startswith("+") and _CLIENT_TAG.fullmatch(key)
    )


def write_tags(tags: ClientTags) -> str:
    """C{tags} as sent: C{+a=1;+b}, values escaped, without the C{@}."""
    return ";".join(f"{key}={escape(value)}" if value else key for key, value in tags)


def parse(line: str, size: int | None = None) -> Message | None:
    """
    The message on C{line} (without its line ending), or L{None} for a line
    with no command. C{size} is its size in bytes, checked against the limits
    (L{TooLong}).
    """
    tags: dict[str, str] = {}
    rest = line
    if rest.startswith("@"):
        raw, _, rest = rest[1:].partition(" ")
        if size is not None and len(raw.encode()) > MAX_CLIENT_TAGS:
            raise TooLong(line)
        for item in raw.split(";"):
            if item:
                key, _, value = item.partition("=")
                tags[key] = unescape(value)
        rest = rest.lstrip(" ")
        if size is not None and len(rest.encode()) + 2 > MAX_LINE:
            raise TooLong(line)
    elif size is not None and size + 2 > MAX_LINE:  # without tags, the line is its size
        raise TooLong(line)
    source = None
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    head, colon, trailing = rest.partition(" :")
    if rest.startswith(":"):  # no command, only a trailing parameter
        return None
    words = head.split()
    if not words:
        return None
    params = words[1:]
    if colon:
        params.append(trailing)
    return Message(words[0].upper(), tuple(params), tags, source)


def line(source: str | None, command: str, *params: str, tags: str = "") -> str:
    """
    The IRC line (without its line ending) for C{command} from C{source}
    with C{params}: the last is a trailing parameter if it has to be (empty,
    with a space, or starting with C{:}). C{tags}: already written, no C{@}.
    """
    words = [f"@{tags}"] if tags else []
    if source is not None:
        words.append(f":{source}")
    words.append(command)
    if params:
        *middle, last = params
        words.extend(middle)
        if not last or " " in last or last.startswith(":"):
            last = f":{last}"
        words.append(last)
    return " ".join(words)
