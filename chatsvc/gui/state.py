"""
What the desktop client knows and shows, with no Tk and no I/O: its
conversations (the rooms it is in, and private conversations) with their
lines, members (owners, operators and those with a voice marked), topics,
modes and unread counts; the bans and mutes that hold for us, and the
changes of each room's bans, mutes, exceptions and invitations; which one
is on view; the title; nickname completion and the input's history. The
events of the WebSocket protocol (docs/websocket.md) come in as the JSON
objects they are; a view (L{IChatView}) is told what changed, and redraws
only that.

test-case-name: tests.gui.test_state
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
from zope.interface import Interface, implementer

from chatsvc.chat.model import FLAG_MODES, LOBBY, fold
from chatsvc.chat.sanctions import MADE_OF, SET_AS, SanctionKind
from chatsvc.client.session import mentions

PROGRAM = "chatsvc-gui"

LOG_LIMIT = 2000
"""Lines kept for each conversation: older ones go (the history has them)."""

SMILE = "\N{SLIGHTLY SMILING FACE}"
FROWN = "\N{SLIGHTLY FROWNING FACE}"
PALETTE = (
    "\N{GRINNING FACE}",
    "\N{FACE WITH TEARS OF JOY}",
    "\N{WINKING FACE}",
    "\N{SMILING FACE WITH HEART-SHAPED EYES}",
    "\N{THINKING FACE}",
    "\N{CRYING FACE}",
    "\N{THUMBS UP SIGN}",
    "\N{CLAPPING HANDS SIGN}",
    "\N{PARTY POPPER}",
    "\N{HOT BEVERAGE}",
    "\N{HEAVY BLACK HEART}",
    "\N{WHITE HEAVY CHECK MARK}",
)
"""The emoji of the palette, after the smile and the frown (the web client's, in part)."""


class Kind(enum.Enum):
    """What a line of a conversation is; the view colours each kind (its value is the tag)."""

    MESSAGE = "message"
    ACTION = "action"
    NOTICE = "notice"  # a message sent as a notice
    PRIVATE = "private"  # a line of a private conversation
    EVENT = "event"  # joins, leaves, nickname changes, topics, kicks
    INFO = "info"  # what a command answered: rooms, members, help
    ERROR = "error"
    STATUS = "status"  # what the client itself says: connection lost, back
    SANCTION = "sanction"  # we were banned or muted, or it was lifted: why and for how long


@attrs.frozen
class Entry:
    """One line of a conversation, as shown: C{text} after the time and C{nick}."""

    kind: Kind
    text: str
    time: float
    nick: str | None = None
    mention: bool = False
    own: bool = False
    said: bool = False  # a message or action, live or from history: what "missed since" counts from

    def render(self) -> str:
        """The line as the message pane shows it, its time in local time."""
        stamp = time.strftime("%H:%M", time.localtime(self.time))
        if self.kind is Kind.ACTION:
            return f"[{stamp}] * {self.nick} {self.text}"
        if self.kind is Kind.NOTICE:
            return f"[{stamp}] -{self.nick}- {self.text}"
        if self.nick is not None:
            return f"[{stamp}] <{self.nick}> {self.text}"
        if self.kind is Kind.STATUS:
            return f"[{stamp}] -!- {self.text}"
        if self.kind is Kind.SANCTION:
            return f"[{stamp}] !!! {self.text}"
        return f"[{stamp}] *** {self.text}"

    @property
    def tags(self) -> tuple[str, ...]:
        """The view's tags for the line: its kind, and C{mention} if it names us."""
        return (self.kind.value, "mention") if self.mention else (self.kind.value,)


@attrs.frozen
class Mute:
    """A mute that holds for us: what the server said of it, and when it ends (L{None}: never)."""

    text: str
    ends: float | None

    @classmethod
    def of(cls, text: str, left: object, now: float) -> Mute:
        """The mute the server says C{text} of, C{left} seconds (L{None}: for good) from C{now}."""
        return cls(text, now + left if isinstance(left, int | float) else None)

    def holds(self, now: float) -> bool:
        return self.ends is None or now < self.ends


RANK_MARKS = {"owner": "~", "operator": "@"}
"""How the member list marks a registered room's owners and any operator (as the web client)."""

VOICE_MARK = "+"
"""How the member list marks a member with a voice (C{+v}) who is no operator, as IRC does."""


@attrs.frozen
class Member:
    nick: str
    operator: bool = False
    away: str | None = None
    rank: str | None = None  # "owner" or "operator" of the room; None for neither
    voiced: bool = False  # given a voice in the room (+v): it speaks when the room is moderated

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Member:
        operator = bool(data.get("operator"))
        rank = data.get("rank")
        if rank not in RANK_MARKS:
            rank = "operator" if operator else None
        return cls(
            str(data["nick"]),
            operator or rank is not None,
            data.get("away"),
            rank,
            bool(data.get("voiced")),
        )

    def ranked(self, rank: str | None) -> Member:
        """The member with C{rank} in the room (from a C{rank} or C{operator} event)."""
        return attrs.evolve(self, rank=rank, operator=rank is not None)

    @property
    def standing(self) -> int:
        """Where the member list puts it: owners, operators, those with a voice, everyone else."""
        if self.rank == "owner":
            return 0
        return 1 if self.operator else 2 if self.voiced else 3

    @property
    def label(self) -> str:
        """
        As the member list shows it: C{~} for an owner, C{@} for an
        operator, C{+} for a voice, and why away.
        """
        mark = RANK_MARKS.get(self.rank or "", "@" if self.operator else "")
        if not mark and self.voiced:
            mark = VOICE_MARK
        shown = f"{mark}{self.nick}"
        return f"{shown} (away: {self.away})" if self.away else shown


@attrs.define(eq=False)
class Conversation:
    """A room we are in, or a private conversation with one user."""

    name: str
    private: bool = False
    entries: list[Entry] = attrs.Factory(list)
    unread: int = 0
    mentions: int = 0  # unread lines that name us, and unread private lines
    members: dict[str, Member] = attrs.Factory(dict)  # by folded nickname
    count: int = 0
    topic: str | None = None
    joined: bool = False
    invite_only: bool = False
    moderated: bool = False
    registered: bool = False
    join_key: str | None = None  # the key joining takes (+k), as members are shown it
    limit: int | None = None  # the most members it takes (+l)
    secret: bool = False  # +s: not listed, nor its members shown, to those outside it
    members_only: bool = True  # +n: only its members may speak in it
    topic_locked: bool = True  # +t: only its operators set the topic
    muted: Mute | None = None  # the mute that holds for us here, if one does
    out: str | None = None  # why we are no longer in the room, if an operator put us out

    @property
    def key(self) -> str:
        return key_of(self.name, private=self.private)

    @property
    def label(self) -> str:
        """As the room list shows it: C{#room} or the nickname, and the unread count."""
        shown = self.name if self.private else f"#{self.name}"
        if self.out is not None:
            shown += " (put out)"
        elif not self.joined and not self.private:
            shown += " (offline)"
        if self.unread:
            shown += f" [{self.unread}{'!' if self.mentions else ''}]"
        return shown

    def last_said(self) -> float | None:
        """When the latest message or action we have of it was said."""
        return next((e.time for e in reversed(self.entries) if e.said), None)

    def sorted_members(self) -> list[Member]:
        """Owners first, then operators, then the others, each without regard to case."""
        return sorted(self.members.values(), key=lambda m: (m.standing, fold(m.nick)))

    @property
    def modes(self) -> list[str]:
        """
        The room's modes in words, as its header shows them: those set, and
        C{+n} and C{+t} (every new room's) when they are cleared.
        """
        shown = [
            ("invite-only", self.invite_only),
            (f"key {self.join_key}", self.join_key is not None),
            (f"limit {self.limit}", self.limit is not None),
            ("secret", self.secret),
            ("moderated", self.moderated),
            ("open to outsiders", not self.members_only),
            ("topic open", not self.topic_locked),
            ("registered", self.registered),
        ]
        return [words for words, on in shown if on]

    def set_modes(self, data: Mapping[str, Any]) -> None:
        """
        Its modes as the protocol's room object (or a C{room-mode} reply) has
        them; C{+n} and C{+t} hold unless it says otherwise.
        """
        self.invite_only = bool(data.get("invite_only"))
        self.moderated = bool(data.get("moderated"))
        self.registered = bool(data.get("registered"))
        key, limit = data.get("key"), data.get("limit")
        self.join_key = key if isinstance(key, str) else None
        self.limit = limit if isinstance(limit, int) and not isinstance(limit, bool) else None
        self.secret = bool(data.get("secret"))
        self.members_only = data.get("members_only") is not False
        self.topic_locked = data.get("topic_locked") is not False

    def change_mode(self, mode: str, on: bool, value: object = None) -> None:
        """One change of a C{mode} event: C{mode} set (C{on}) or cleared, to C{value}."""
        if mode in FLAG_MODES:  # the model's attributes and a conversation's have one name
            setattr(self, FLAG_MODES[mode], on)
        elif mode == "k":
            self.join_key = str(value) if on and value is not None else None
        elif mode == "l":
            most = str(value) if on and isinstance(value, int | str) else ""
            self.limit = int(most) if most.isascii() and most.isdigit() else None


def key_of(name: str, *, private: bool = False) -> str:
    return f"{'private' if private else 'room'}:{fold(name)}"


class IChatView(Interface):
    """What shows L{ChatState}: told of each change, it redraws that part alone."""

    def entry_added(conversation: Conversation, entry: Entry) -> None:
        """A line was added to C{conversation} (shown at once if it is on view)."""

    def conversations_changed() -> None:
        """The room list changed: a conversation came or went, or its unread count changed."""

    def conversation_changed(conversation: Conversation) -> None:
        """The members or the topic of C{conversation} changed."""

    def selected(conversation: Conversation | None) -> None:
        """Another conversation is on view (or none): show its lines, members and topic."""

    def title_changed(title: str) -> None:
        """The window's title is now C{title}."""

    def alert() -> None:
        """A mention or a private message came while the window is not focused: ring the bell."""


@implementer(IChatView)
class NoView:
    """A view that shows nothing: for a state nobody looks at yet."""

    def entry_added(self, conversation: Conversation, entry: Entry) -> None:
        pass

    def conversations_changed(self) -> None:
        pass

    def conversation_changed(self, conversation: Conversation) -> None:
        pass

    def selected(self, conversation: Conversation | None) -> None:
        pass

    def title_changed(self, title: str) -> None:
        pass

    def alert(self) -> None:
        pass


class ChatState:
    """
    The conversations and which one is on view; the server's events applied
    to them (L{apply}). A line in a conversation not on view, or while the
    window is not focused, counts as unread; a line that names us, or a
    private one, also counts as a mention, and rings (L{IChatView.alert})
    while the window is not focused.
    """

    def __init__(self, view: IChatView | None = None, *, clock: Any = time) -> None:
        self.view: IChatView = view if view is not None else NoView()
        self.nick: str | None = None
        self.lobby = LOBBY
        self.conversations: dict[str, Conversation] = {}
        self.current: str | None = None
        self.focused = True
        self._clock = clock
        self._title = ""
        self.muted: Mute | None = None  # a chat-wide mute that holds for us

    def is_me(self, nick: object) -> bool:
        return self.nick is not None and isinstance(nick, str) and fold(nick) == fold(self.nick)

    def header(self, conversation: Conversation) -> str:
        """
        What the window shows above the lines: the room, its topic and modes,
        why we were put out of it, or a mute that holds for us there (why,
        and until when); for a private conversation, with whom.
        """
        if conversation.private:
            return f"Private conversation with {conversation.name}"
        shown = f"#{conversation.name}: {conversation.topic or '(no topic)'}"
        if conversation.modes:
            shown += f" [{', '.join(conversation.modes)}]"
        now = self._clock.time()
        muted = next((m for m in (conversation.muted, self.muted) if m and m.holds(now)), None)
        if conversation.out is not None:
            shown += f" \N{EM DASH} {conversation.out}"
        elif muted is not None:
            shown += f" \N{EM DASH} {muted.text}"
        return shown

    # Conversations

    def __iter__(self) -> Iterator[Conversation]:
        return iter(self.conversations.values())

    def get(self, key: str | None) -> Conversation | None:
        return None if key is None else self.conversations.get(key)

    @property
    def on_view(self) -> Conversation | None:
        return self.get(self.current)

    def room(self, name: str) -> Conversation | None:
        return self.conversations.get(key_of(name))

    def rooms(self) -> list[Conversation]:
        return [c for c in self if not c.private]

    def ensure(self, name: str, *, private: bool = False) -> Conversation:
        conversation = self.conversations.get(key_of(name, private=private))
        if conversation is None:
            conversation = Conversation(name, private=private, joined=private)
            self.conversations[conversation.key] = conversation
            self.view.conversations_changed()
            if self.current is None:
                self.select(conversation.key)
        return conversation

    def remove(self, key: str) -> None:
        if self.conversations.pop(key, None) is None:
            return
        if self.current == key:
            self.current = None
            self.select(next(iter(self.conversations), None))
        self.view.conversations_changed()
        self._retitle()

    def select(self, key: str | None) -> None:
        """Put C{key}'s conversation on view: its lines are read now."""
        if key is not None and key not in self.conversations:
            return
        self.current = key
        conversation = self.on_view
        if conversation is not None:
            conversation.unread = conversation.mentions = 0
        self.view.selected(conversation)
        self.view.conversations_changed()
        self._retitle()

    def focus(self, focused: bool) -> None:
        """The window got or lost the focus; back, the conversation on view is read."""
        self.focused = focused
        if focused:
            self.select(self.current)

    def add(self, conversation: Conversation, entry: Entry, *, news: bool = True) -> None:
        """
        A line for C{conversation}; unless it is on view in the focused window,
        a line said there (C{news}: not one from the history) is unread.
        """
        conversation.entries.append(entry)
        del conversation.entries[:-LOG_LIMIT]
        seen = self.focused and conversation.key == self.current
        said = entry.said or entry.kind is Kind.PRIVATE or entry.kind is Kind.NOTICE
        if news and said and not entry.own and not seen:
            conversation.unread += 1
            important = entry.mention or conversation.private
            conversation.mentions += important
            if important and not self.focused:
                self.view.alert()
            self.view.conversations_changed()
            self._retitle()
        self.view.entry_added(conversation, entry)

    def note(self, text: str, kind: Kind = Kind.STATUS) -> None:
        """Something the client says (or a reply it shows), in the conversation on view."""
        conversation = self.on_view
        if conversation is None:
            conversation = self.ensure(self.lobby)
        self.add(conversation, Entry(kind, text, self._clock.time()))

    def history(self, conversation: Conversation, lines: Iterable[Mapping[str, Any]]) -> None:
        """Lines from the history: never unread, never mentions, and each one once."""
        seen = [e for e in conversation.entries if e.said]
        for line in lines:
            entry = self.said(line, live=False)
            if not any(_same_line(entry, e) for e in seen):
                self.add(conversation, entry, news=False)

    def said(self, event: Mapping[str, Any], *, live: bool = True) -> Entry:
        """The entry of a C{message} or C{action} (an event, a reply, a line of history)."""
        nick = str(event["nick"])
        text = str(event["text"])
        own = self.nick is not None and fold(nick) == fold(self.nick)
        kind = (
            Kind.ACTION
            if event.get("type") == "action"
            else Kind.NOTICE
            if event.get("notice")
            else Kind.MESSAGE
        )
        mention = live and not own and self.nick is not None and mentions(text, self.nick)
        stamp = event.get("time")
        when = float(stamp) if isinstance(stamp, int | float) else self._clock.time()
        return Entry(kind, text, when, nick, mention, own, said=True)

    def entered(self, data: Mapping[str, Any]) -> Conversation:
        """We are in the room of C{data} (the protocol's room object): its members and topic."""
        room = self.ensure(str(data["name"]))
        room.name = str(data["name"])
        room.joined = True
        room.count = int(data.get("count") or 0)
        room.members = {
            fold(m.nick): m for m in (Member.from_wire(d) for d in data.get("members") or [])
        }
        topic = data.get("topic")
        room.topic = str(topic["text"]) if isinstance(topic, Mapping) else None
        room.set_modes(data)
        room.out = None
        self.view.conversation_changed(room)
        self.view.conversations_changed()
        return room

    def offline(self) -> None:
        """The connection is gone: no room is joined until we are back in it."""
        for room in self.rooms():
            room.joined = False
        self.view.conversations_changed()

    def title(self) -> str:
        who = f"{self.nick} \N{EM DASH} " if self.nick else ""
        where = self.on_view
        place = (
            f"{where.label if where.private else '#' + where.name} \N{EM DASH} " if where else ""
        )
        waiting = sum(c.mentions for c in self)
        return f"{f'({waiting}) ' if waiting else ''}{who}{place}{PROGRAM}"

    def _retitle(self) -> None:
        title = self.title()
        if title != self._title:
            self._title = title
            self.view.title_changed(title)

    # The server's events

    def apply(self, event: Mapping[str, Any]) -> None:
        """A server event, as the protocol has it; those of types unknown are ignored."""
        handler = getattr(self, f"_on_{str(event.get('type')).replace('-', '_')}", None)
        if handler is not None:
            handler(event)

    def _event(self, conversation: Conversation, text: str) -> None:
        self.add(conversation, Entry(Kind.EVENT, text, self._clock.time()))

    def _on_entered(self, event: Mapping[str, Any]) -> None:
        self.entered(event["room"])

    def _on_history(self, event: Mapping[str, Any]) -> None:
        room = self.room(str(event["room"]))
        if room is not None:
            self.history(room, event.get("lines") or [])

    def _on_message(self, event: Mapping[str, Any]) -> None:
        room = self.room(str(event["room"]))
        if room is not None:
            self.add(room, self.said(event))

    _on_action = _on_message

    def _on_private(self, event: Mapping[str, Any]) -> None:
        self.private(event)

    def private(self, event: Mapping[str, Any]) -> Conversation:
        """A private message, to us or (the reply to C{msg}) from us: in its conversation."""
        sender, recipient = str(event["from"]), str(event["to"])
        own = self.nick is not None and fold(sender) == fold(self.nick)
        conversation = self.ensure(recipient if own else sender, private=True)
        kind = Kind.NOTICE if event.get("notice") else Kind.PRIVATE
        stamp = event.get("time")
        when = float(stamp) if isinstance(stamp, int | float) else self._clock.time()
        self.add(conversation, Entry(kind, str(event["text"]), when, sender, own=own))
        return conversation

    def _on_joined(self, event: Mapping[str, Any]) -> None:
        room = self.room(str(event["room"]))
        if room is None:
            return
        member = Member.from_wire(event["member"])
        room.members[fold(member.nick)] = member
        room.count += 1
        self._event(room, f"{member.nick} joined #{room.name}")
        self.view.conversation_changed(room)

    def _on_left(self, event: Mapping[str, Any]) -> None:
        room = self.room(str(event["room"]))
        if room is None:
            return
        nick = str(event["nick"])
        room.members.pop(fold(nick), None)
        room.count = max(0, room.count - 1)
        reason = event.get("reason")
        said = f" ({reason})" if reason else ""
        done = "quit" if event.get("signed_off") else f"left #{room.name}"
        self._event(room, f"{nick} {done}{said}")
        self.view.conversation_changed(room)

    def _on_nick(self, event: Mapping[str, Any]) -> None:
        old, new = str(event["old"]), str(event["new"])
        if self.nick is not None and fold(old) == fold(self.nick):
            self.nick = new
            self._retitle()
        for room in self.rooms():
            member = room.members.pop(fold(old), None)
            if member is not None:
                room.members[fold(new)] = attrs.evolve(member, nick=new)
                self._event(room, f"{old} is now known as {new}")
                self.view.conversation_changed(room)
        talk = self.conversations.pop(key_of(old, private=True), None)
        if talk is not None:
            talk.name = new
            self.conversations[talk.key] = talk
            if self.current == key_of(old, private=True):
                self.current = talk.key
            self._event(talk, f"{old} is now known as {new}")
            self.view.conversations_changed()

    def _on_topic(self, event: Mapping[str, Any]) -> None:
        room = self.room(str(event["room"]))
        if room is None:
            return
        text = event.get("text")
        room.topic = str(text) if text else None
        said = f"set the topic: {text}" if text else "cleared the topic"
        self._event(room, f"{event.get('nick')} {said}")
        self.view.conversation_changed(room)

    def _on_kicked(self, event: Mapping[str, Any]) -> None:
        nick = str(event["nick"])
        reason = event.get("reason")
        said = f" ({reason})" if reason else ""
        for room in self.rooms():
            if fold(nick) in room.members or fold(room.name) == fold(str(event.get("room"))):
                room.members.pop(fold(nick), None)
                self._event(room, f"{nick} was kicked out by {event.get('by')}{said}")
                self.view.conversation_changed(room)

    def _on_operator(self, event: Mapping[str, Any]) -> None:
        room = self.room(str(event["room"]))
        nick = str(event["nick"])
        member = room.members.get(fold(nick)) if room is not None else None
        if room is None or member is None:
            return
        given = bool(event.get("given"))
        rank = "owner" if member.rank == "owner" else "operator" if given else None
        room.members[fold(nick)] = member.ranked(rank)
        self._event(room, f"{event.get('by')} {'made' if given else 'unmade'} {nick} an operator")
        self.view.conversation_changed(room)

    def _on_removed(self, event: Mapping[str, Any]) -> None:
        """Someone, or we, put out of a room by its operator (a kick from it, or a ban)."""
        room = self.room(str(event["room"]))
        if room is None:
            return
        nick = str(event["nick"])
        reason = event.get("reason")
        said = f" ({reason})" if reason else ""
        room.members.pop(fold(nick), None)
        room.count = max(0, room.count - 1)
        if self.is_me(nick):
            room.joined = False
            room.members.clear()
            room.out = f"{event.get('by')} put you out{said}"
            self._event(room, f"{event.get('by')} put you out of #{room.name}{said}")
            self.view.conversations_changed()
        else:
            self._event(room, f"{nick} was put out of #{room.name} by {event.get('by')}{said}")
        self.view.conversation_changed(room)

    def _on_mode(self, event: Mapping[str, Any]) -> None:
        """
        Modes of a room set or cleared at once: its header, and a line
        saying them as IRC writes them (a key left out: the header has it),
        then in words.
        """
        room = self.room(str(event["room"]))
        if room is None:
            return
        changes = [
            (str(c.get("mode")), bool(c.get("on")), c.get("value"))
            for c in event.get("changes") or []
            if isinstance(c, Mapping)
        ]
        if not changes:
            return
        for mode, on, value in changes:
            room.change_mode(mode, on, value)
        written = ", ".join(mode_written(*change) for change in changes)
        words = [w for w in (mode_meaning(*change) for change in changes) if w]
        said = f" ({'; '.join(words)})" if words else ""
        self._event(room, f"{event.get('by')} set {written} in #{room.name}{said}")
        self.view.conversation_changed(room)

    def _on_voice(self, event: Mapping[str, Any]) -> None:
        """A member given a voice in a room (C{+v}), or its voice taken: its mark, and a line."""
        room = self.room(str(event["room"]))
        if room is None:
            return
        nick, by = str(event["nick"]), event.get("by")
        given = event.get("given") is not False
        member = room.members.get(fold(nick))
        if member is not None:
            room.members[fold(nick)] = attrs.evolve(member, voiced=given)
        if given:
            self._event(room, f"{by} gave {nick} a voice in #{room.name}")
        else:
            self._event(room, f"{by} took {nick}'s voice in #{room.name}")
        self.view.conversation_changed(room)

    def _on_ban_list(self, event: Mapping[str, Any]) -> None:
        """
        A ban, mute, exception or invitation of a room set or lifted: a line
        in it (a ban or mute of ours comes as C{sanctioned} too).
        """
        room = self.room(str(event["room"]))
        if room is None:
            return
        by, mask, kind = event.get("by"), event.get("mask"), event.get("kind")
        if event.get("expired") is True:
            said = f"The {kind} of {mask} in #{room.name} ran out"
        elif event.get("on") is False:
            said = f"{by} lifted the {kind} of {mask} in #{room.name}"
        else:
            did = _listed(str(kind), mask, f"#{room.name}")
            why = f" ({event['reason']})" if event.get("reason") else ""
            said = f"{by} {did} {how_long(event.get('left'))}{why}"
        self._event(room, said)
        self.view.conversation_changed(room)

    def _on_sanctioned(self, event: Mapping[str, Any]) -> None:
        """We were banned or muted (or a mute was lifted): its words, prominent, where it holds."""
        given = event.get("given") is not False
        text = sentence(str(event.get("text") or _sanction_words(event)))
        mute = event.get("kind") == "mute"
        where = event.get("room")
        room = self.room(str(where)) if isinstance(where, str) else None
        if mute:
            self.muted_for(
                room,
                where is None,
                Mute.of(text, event.get("left"), self._clock.time()) if given else None,
            )
        shown = [room] if room is not None else [] if where else self.joined_rooms()
        for conversation in shown or [self.on_view or self.ensure(self.lobby)]:
            self.add(conversation, Entry(Kind.SANCTION, text, self._clock.time()))
            self.view.conversation_changed(conversation)
        if not self.focused:
            self.view.alert()

    def muted_for(self, room: Conversation | None, chat_wide: bool, mute: Mute | None) -> None:
        """A mute (L{None}: lifted) that holds for us in C{room}, or C{chat_wide}: in its header."""
        if room is not None:
            room.muted = mute
            self.view.conversation_changed(room)
        if chat_wide:
            self.muted = mute
            for conversation in self.rooms():
                self.view.conversation_changed(conversation)

    def refused(self, code: str, fields: Mapping[str, Any], said: str) -> None:
        """
        A request refused by a mute (say, one set before we signed on, of
        which no C{sanctioned} told us): the mute in the header, from now on.
        """
        sanction = fields.get("sanction")
        if code != "muted" or not isinstance(sanction, Mapping):
            return
        where = sanction.get("room")
        room = self.room(where) if isinstance(where, str) else None
        self.muted_for(room, where is None, Mute.of(said, fields.get("left"), self._clock.time()))

    def joined_rooms(self) -> list[Conversation]:
        return [c for c in self.rooms() if c.joined]

    def _on_nick_released(self, event: Mapping[str, Any]) -> None:
        """Our guest nickname is registered, and its owner signed on: we are renamed."""
        old, new = str(event["old"]), str(event["new"])
        self._on_nick({"old": old, "new": new})
        said = (
            event.get("text") or f"{old} is registered, and its owner signed on: you are {new} now"
        )
        for line in [said] if isinstance(said, str) else said:
            self.note(sentence(str(line)), Kind.SANCTION)

    def _on_rank(self, event: Mapping[str, Any]) -> None:
        """Accounts made owners or operators of a registered room, or neither: their members."""
        room = self.room(str(event["room"]))
        if room is None:
            return
        rank = event.get("rank") if event.get("rank") in RANK_MARKS else None
        for nick in event.get("nicks") or []:
            member = room.members.get(fold(str(nick)))
            if member is not None:
                room.members[fold(member.nick)] = member.ranked(rank)
        by, account, was = event.get("by"), event.get("account"), event.get("was")
        if rank is not None:
            said = f"{by} made {account} an {rank} of #{room.name}"
        else:
            said = f"{by} took {account} off the {was or 'operator'}s of #{room.name}"
        self._event(room, said)
        self.view.conversation_changed(room)

    def _on_invited(self, event: Mapping[str, Any]) -> None:
        self.note(f"{event.get('by')} invites you to #{event.get('room')}", Kind.INFO)

    def _on_error(self, event: Mapping[str, Any]) -> None:
        self.note(str(event.get("message") or event.get("code")), Kind.ERROR)


SAME_LINE_SECONDS = 1.0
"""
How far apart a live line's time and its history's may be: the server
stamps the event as it fans it out, and the history line as it records it,
after the fan-out (and may keep it with less precision).
"""


def _same_line(a: Entry, b: Entry) -> bool:
    """Whether C{a} and C{b} are the same line said (one live, one from history, say)."""
    return a.nick == b.nick and a.text == b.text and abs(a.time - b.time) < SAME_LINE_SECONDS


def sentence(text: str) -> str:
    """
    The server's words (C{you are banned from dev for 2h: spam}) as a
    sentence: its full stop, and a capital for C{you} (never for a room's or
    a user's name, which are as they are).
    """
    text = text.strip()
    if not text:
        return text
    if text.startswith("you "):
        text = "Y" + text[1:]
    return text + ("" if text[-1] in ".!?" else ".")


_MEANINGS = {
    "i": ("invite-only: only those invited may join", "open to all"),
    "k": ("a key to join", "no key to join"),
    "l": ("{value} members at most", "any number of members"),
    "m": (
        "moderated: only its operators and voiced members may speak",
        "everyone in it may speak",
    ),
    "n": ("only its members may speak in it", "those outside it may speak in it too"),
    "s": ("secret: not listed, nor its members shown, to those outside it", "no longer secret"),
    "t": ("only its operators set the topic", "any member may set the topic"),
}
"""What each room mode means set, and cleared (the web client's words)."""


def mode_written(mode: str, on: bool, value: object = None) -> str:
    """A change of a room's modes as IRC writes it: C{+i}, C{-k}, C{+l 20} (a key left out)."""
    written = f"{'+' if on else '-'}{mode}"
    return f"{written} {value}" if on and mode == "l" and value is not None else written


def mode_meaning(mode: str, on: bool, value: object = None) -> str | None:
    """A change of a room's modes in words (C{20 members at most}); L{None} for a mode unknown."""
    said = _MEANINGS.get(mode)
    return None if said is None else said[0 if on else 1].format(value=value)


def how_long(left: object) -> str:
    """Seconds left (L{None}: for good) in words: C{for 1h 30m}."""
    if not isinstance(left, int | float):
        return "for good"
    seconds = max(1, round(left))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return f"for {' '.join(parts[:2])}"


def _listed(kind: str, mask: object, room: str) -> str:
    """What setting a sanction of C{kind} on C{mask} in C{room} did; a kind unknown, as a list's."""
    known = _kind(kind)
    said = "added {mask} to the {kind} list of {room}" if known is None else SET_AS[known]
    return said.format(mask=mask, room=room, kind=kind)


def _kind(kind: str) -> SanctionKind | None:
    """The kind of sanction C{kind} names, if it is one this client knows."""
    try:
        return SanctionKind(kind)
    except ValueError:
        return None


def _sanction_words(data: Mapping[str, Any]) -> str:
    """A sanction in words when the server sent none: what, where, by whom, how long, why."""
    kind = str(data.get("kind"))
    known = _kind(kind)
    what = f"under a {kind} in" if known is None else MADE_OF[known]
    where = f"#{data['room']}" if data.get("room") else "the chat"
    if data.get("given") is False:
        return f"you may speak again in {where}"
    why = f": {data['reason']}" if data.get("reason") else ""
    return f"you are {what} {where} {how_long(data.get('left'))}{why}"


REFUSED = {"banned", "muted", "invite-only", "moderated", "bad-key", "room-full"}
"""The refusals of moderation: said as the sentences the server words them in."""


def refusal(code: str, message: str, fields: Mapping[str, Any]) -> str:
    """
    What a refused request says to the user: a ban's or mute's why and for
    how long (from its C{sanction} and C{left} if its message has neither),
    an invite-only, keyed, full or moderated room's rule, as a sentence;
    others as they are.
    """
    if code not in REFUSED:
        return message
    sanction = fields.get("sanction")
    if isinstance(sanction, Mapping) and not message:
        message = _sanction_words({**sanction, "left": fields.get("left")})
    return sentence(message)


def describe(reply: Mapping[str, Any]) -> list[str]:
    """What to show of a command's reply that is no line of a conversation (C{/rooms}, C{/who})."""
    text = reply.get("text")
    if isinstance(text, list | str):
        # The moderation replies say it in the line protocol's words, one line each (/bans).
        return [str(line) for line in ([text] if isinstance(text, str) else text)]
    if isinstance(reply.get("sanctions"), list):
        sanctions = reply["sanctions"]
        where = f"#{reply['room']}" if reply.get("room") else "the chat"
        exempting = any(
            isinstance(s, Mapping) and s.get("kind") in ("exception", "invitation")
            for s in sanctions
        )
        kinds = "Bans, mutes, exceptions and invitations" if exempting else "Bans and mutes"
        return [
            f"{kinds} in {where} ({len(sanctions)}):",
            *(_sanction_line(s) for s in sanctions),
        ]
    if "invite_only" in reply and isinstance(reply.get("room"), str):
        return [f"#{reply['room']} is {_modes_in_words(reply)}"]
    if "voiced" in reply and isinstance(reply.get("room"), str):
        has = "has a voice" if reply["voiced"] else "has no voice"
        return [f"{reply.get('nick')} {has} in #{reply['room']}"]
    if isinstance(reply.get("nick"), str) and isinstance(reply.get("room"), str):
        away = f" (away: {reply['away']})" if reply.get("away") else ""
        return [f"You invited {reply['nick']} to #{reply['room']}{away}"]
    if isinstance(reply.get("rooms"), list):
        # In the server's order (the most populous first), one to a line, as the other clients.
        rooms = reply["rooms"]
        return [
            f"{len(rooms)} room{'s' if len(rooms) != 1 else ''}:",
            *(_room_line(room) for room in rooms),
        ]
    if isinstance(reply.get("members"), list):
        names = ", ".join(Member.from_wire(m).label for m in reply["members"])
        return [f"In #{reply.get('room')}: {names}"]
    if isinstance(reply.get("commands"), list):
        return [f"{c['usage']}: {c['summary']}" for c in reply["commands"]]
    if "topic" in reply and isinstance(reply.get("room"), str):
        topic = reply["topic"]
        if isinstance(topic, Mapping):
            return [f"Topic of #{reply['room']}: {topic['text']} (set by {topic.get('set_by')})"]
        return [f"#{reply['room']} has no topic"]
    if "away" in reply and "message" not in reply:
        away = reply["away"]
        return [f"You are away: {away}" if away else "You are back"]
    return []


def _modes_in_words(reply: Mapping[str, Any]) -> str:
    """
    A room's modes (a C{room-mode} reply) in words: C{invite-only, with the
    key beer and moderated}, C{open to everyone}.
    """
    room = Conversation(str(reply.get("room")))
    room.set_modes(reply)
    modes = [
        words
        for words, on in (
            ("invite-only", room.invite_only),
            (f"joined with the key {room.join_key}", room.join_key is not None),
            (f"{room.limit} members at most", room.limit is not None),
            ("secret", room.secret),
            ("moderated", room.moderated),
            ("open to messages from outside", not room.members_only),
            ("its topic set by any member", not room.topic_locked),
        )
        if on
    ]
    if not modes:
        return "open to everyone"
    return modes[0] if len(modes) == 1 else f"{', '.join(modes[:-1])} and {modes[-1]}"


def _sanction_line(sanction: Mapping[str, Any]) -> str:
    why = f": {sanction['reason']}" if sanction.get("reason") else ""
    left = how_long(sanction.get("left"))
    return f"{sanction.get('kind')} {sanction.get('mask')} by {sanction.get('by')}, {left}{why}"


def _room_line(room: Mapping[str, Any]) -> str:
    topic = room.get("topic")
    about = f": {topic['text']}" if isinstance(topic, Mapping) and topic.get("text") else ""
    return f"#{room['name']} ({room['count']}){about}"


def complete(text: str, cursor: int, names: Iterable[str]) -> tuple[str, int] | None:
    """
    Nickname completion (Tab): the word before C{cursor} completed to the one
    of C{names} it begins, or to what all those it begins share; at the start
    of the line, with C{": "} after a whole nickname. L{None} if none fits.
    """
    start = cursor
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:cursor]
    if not word:
        return None
    found = sorted({n for n in names if fold(n).startswith(fold(word))}, key=fold)
    if not found:
        return None
    if len(found) == 1:
        done = found[0] + (": " if start == 0 else " ")
    else:
        done = found[0][: _shared(fold(n) for n in found)]
        if len(done) <= len(word):
            return None
    return text[:start] + done + text[cursor:], start + len(done)


def _shared(words: Iterable[str]) -> int:
    first, *rest = list(words)
    length = len(first)
    for other in rest:
        length = min(length, len(other))
        while first[:length] != other[:length]:
            length -= 1
    return length


SECRET_COMMANDS = {"/register", "/password"}
"""The commands whose words are passwords: never brought back by Up."""


class InputHistory:
    """What was sent from the input, for Up and Down to bring back; what was being typed is kept."""

    def __init__(self, limit: int = 500) -> None:
        self._lines: list[str] = []
        self._limit = limit
        self._at = 0
        self._typing = ""

    def sent(self, line: str) -> None:
        """A line sent; one with a password in it (C{/register}, C{/password}) is not kept."""
        if line.split(" ", 1)[0].lower() in SECRET_COMMANDS:
            line = ""
        if line and (not self._lines or self._lines[-1] != line):
            self._lines.append(line)
            del self._lines[: -self._limit]
        self._at = len(self._lines)
        self._typing = ""

    def back(self, typing: str) -> str | None:
        """The line before (Up), or L{None} at the oldest."""
        if self._at == 0:
            return None
        if self._at == len(self._lines):
            self._typing = typing
        self._at -= 1
        return self._lines[self._at]

    def forward(self) -> str | None:
        """The line after (Down); past the newest, what was being typed; L{None} if there."""
        if self._at >= len(self._lines):
            return None
        self._at += 1
        return self._typing if self._at == len(self._lines) else self._lines[self._at]
