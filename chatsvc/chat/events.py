"""
Events: what the chat model tells participants. Frozen and slotted; a
frontend renders each event object once, however many recipients it has, and
a cluster can publish them as they are.

test-case-name: tests.chat.test_model
"""

from __future__ import annotations

from typing import NamedTuple

import attrs

from chatsvc.chat.sanctions import Mask

ClientTags = tuple[tuple[str, str], ...]
"""
What a user's client attached to what it said, for other clients (IRCv3's
client-only tags: C{(("+typing", "active"),)}): opaque to the chat, relayed
as it came. Only wires that carry tags show them (IRC, to connections with
C{message-tags}); an empty value is a tag without one.
"""


@attrs.frozen
class Joined:
    """C{nick} entered C{room}."""

    room: str
    nick: str


@attrs.frozen
class Left:
    """
    C{nick} left C{room}, for another room or for good, and why if known: in
    the server's words (C{not reading}), or, C{from_user}, in the user's own
    (C{/quit REASON}), which must never read as the server's. C{signed_off}:
    it left the chat, and this is told once to each member of its rooms (a
    wire like IRC shows that as a quit, not as leaving a channel).
    """

    room: str
    nick: str
    reason: str | None = None
    from_user: bool = False
    signed_off: bool = False


@attrs.frozen
class Message:
    """
    C{nick} said C{text} in C{room}; as a C{notice} (IRC's C{NOTICE}: bots do
    not answer it), with its client's C{tags}.
    """

    room: str
    nick: str
    text: str
    notice: bool = False
    tags: ClientTags = ()


@attrs.frozen
class Action:
    """C{nick} did C{text} in C{room} (C{/me}), with its client's C{tags}."""

    room: str
    nick: str
    text: str
    tags: ClientTags = ()


@attrs.frozen
class PrivateMessage:
    """
    C{sender} said C{text} to C{recipient} alone; as a C{notice}, as IRC's
    C{NOTICE}; with its client's C{tags}.
    """

    sender: str
    recipient: str
    text: str
    notice: bool = False
    tags: ClientTags = ()


@attrs.frozen
class TagMessage:
    """
    C{nick}'s client sent C{tags} alone to C{room} (IRC's C{TAGMSG}: typing,
    a reaction): told only to the members whose clients take tags.
    """

    room: str
    nick: str
    tags: ClientTags


@attrs.frozen
class PrivateTagMessage:
    """C{sender}'s client sent C{tags} alone to C{recipient}, if its client takes tags."""

    sender: str
    recipient: str
    tags: ClientTags


@attrs.frozen
class NickChange:
    """
    C{old} is now called C{new}; told to the rooms C{old} is in, once to each
    member however many of them it shares (C{room} is the first it shares).
    """

    room: str
    old: str
    new: str


@attrs.frozen
class TopicChanged:
    """C{nick} set the topic of C{room} to C{text}; told to the whole room."""

    room: str
    nick: str
    text: str


@attrs.frozen
class Kicked:
    """
    The operator C{by} kicked C{nick} out of the chat; told to the room C{nick}
    was in, to the operator, and to C{nick} (L{IChatClient.kicked}).
    """

    room: str
    nick: str
    by: str
    reason: str | None = None


@attrs.frozen
class OperatorChanged:
    """
    C{by} made C{nick} an operator of C{room} (or, not C{given}, took that
    from it); told to the whole room.
    """

    room: str
    nick: str
    by: str
    given: bool = True


@attrs.frozen
class Invited:
    """C{by}, in C{room}, asks C{nick} to join it; told to C{nick} alone."""

    room: str
    nick: str
    by: str


@attrs.frozen
class NoticeToAll:
    """The operator C{by}'s notice to everyone signed on (C{/wall}); told to everyone, C{by} too."""

    by: str
    text: str


@attrs.frozen
class Removed:
    """
    C{by}, an operator of C{room}, put C{nick} out of it (a kick from the room,
    or a ban), for C{reason}; told to the room, C{nick} included. C{nick}'s
    own copy says where it was sent (C{to}: the lobby, on wires that are
    always in a room), if anywhere.
    """

    room: str
    nick: str
    by: str
    reason: str | None = None
    to: str | None = None


@attrs.frozen
class Sanctioned:
    """
    C{nick} is banned (C{kind} C{"ban"}) or muted (C{"mute"}) in C{room}
    (L{None}: the whole chat) by C{by}, for C{reason}, until C{until}
    (seconds since the epoch; L{None}: for good), or (not C{given}) no
    longer; told to C{nick} alone. C{text} says all that in words, for
    wires that show it as it is.
    """

    nick: str
    kind: str
    room: str | None
    by: str
    reason: str | None
    until: float | None
    text: str
    given: bool = True


@attrs.frozen
class RankChanged:
    """
    C{by} made the account C{account} an C{"owner"} or C{"operator"} of the
    registered C{room}, or (L{None}) neither, where it was C{was}; told to
    the whole room. C{nicks}: the room's members logged in to the account,
    whose rights in it changed.
    """

    room: str
    account: str
    rank: str | None
    was: str | None
    by: str
    nicks: tuple[str, ...] = ()


class ModeChange(NamedTuple):
    """
    A room mode set (C{on}) or cleared: C{mode} is one of
    L{chatsvc.chat.model.ROOM_MODES}, C{value} the key (C{k}) or most
    members (C{l}) being set, else L{None}.
    """

    mode: str
    on: bool
    value: str | None = None

    def written(self) -> str:
        """As a user writes it: C{+i}, C{-k}, C{+l 20}."""
        text = ("+" if self.on else "-") + self.mode
        return text if self.value is None else f"{text} {self.value}"

    def described(self) -> str:
        """
        What it made the room, in words that follow "made ROOM":
        C{invite-only}, C{need the key beer to join}, C{take 20 members at most}.
        """
        if self.mode in _ADJECTIVES:
            adjective = _ADJECTIVES[self.mode]
            return adjective if self.on else f"no longer {adjective}"
        if self.mode == "k":
            return f"need the key {self.value} to join" if self.on else "need no key to join"
        if self.mode == "l":
            return f"take {self.value} members at most" if self.on else "take any number of members"
        if self.mode == "n":
            return (
                "take messages from its members only" if self.on else "take messages from outside"
            )
        if self.mode == "t":
            return "keep its topic to its operators" if self.on else "let any member set its topic"
        return self.written()


_ADJECTIVES = {"i": "invite-only", "m": "moderated", "s": "secret"}


@attrs.frozen
class ModeChanged:
    """
    C{by} set or cleared modes of C{room} (C{changes}, in the order made, at
    least one); told to the whole room.
    """

    room: str
    by: str
    changes: tuple[ModeChange, ...]


@attrs.frozen
class VoiceChanged:
    """C{by} gave C{nick} a voice in C{room} (C{+v}), or (not C{given}) took it: told to all."""

    room: str
    nick: str
    by: str
    given: bool = True


@attrs.frozen
class BanListChanged:
    """
    C{by} banned (C{kind} C{"ban"}) or muted (C{"mute"}) whoever C{mask}
    names in C{room}, until C{until} (seconds since the epoch; L{None}: for
    good), for C{reason}; or, not C{on}, lifted that ban or mute (C{until}
    and C{reason} L{None}), or (C{expired}) it ran out by itself. Told to
    the whole room, after whoever it holds for was told (L{Sanctioned})
    and, for a ban, put out. Chat-wide bans and mutes are no room's, and
    are not told so.
    """

    room: str
    by: str
    kind: str
    mask: Mask
    until: float | None = None
    reason: str | None = None
    on: bool = True
    expired: bool = False


Event = (
    Joined
    | Left
    | Message
    | Action
    | PrivateMessage
    | TagMessage
    | PrivateTagMessage
    | NickChange
    | TopicChanged
    | Kicked
    | OperatorChanged
    | VoiceChanged
    | Invited
    | NoticeToAll
    | Removed
    | Sanctioned
    | ModeChanged
    | BanListChanged
    | RankChanged
)
