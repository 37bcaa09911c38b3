"""
The chat of one node of a cluster: a L{Chat} that holds the users of every
node, tells a L{ClusterLink} what its own users do, and applies what the
users of other nodes did. No I/O here: the link carries it.

A user of another node is a L{Participant} whose client is a
L{RemoteClient}, which delivers nothing: its own node delivers to it. So
the model's rules (unique nicknames, rooms and their members, operators,
announcements) work as they do for one node, on every node, and each node
tells its own users what they must be told, formatted once per wire as
always.

Moderation is shared the same way: room modes, room kicks, bans and mutes
set and lifted are what a user did, applied by every node (so each node
tells and puts out its own users, with the same notice); modes, bans and
mutes as they were set, whether their setter is still here or not. A user
a ban puts out is told to the others by its own node (C{put_out}), since
only its node knows its address; for the same reason its own node decides
whether it may join a room. What the registry keeps (accounts,
server operators made at run time, registered rooms) comes from the
registry of the node where it changed (L{chatsvc.cluster.registry}) and is
applied here to the chat and its accounts, without being kept again.

A room's modes (C{+k} with its key, C{+l} with its most members, and those
on or off), its operators and voiced members are so at every node alike, so
a user's node decides alone whether it may enter a room
(L{ClusterChat._check_entry}): against the key and invitations every node
knows, and, for C{+l}, the room's members of every node, each node holding
them all. Two nodes that let a user in at once, before each hears of the
other's, may take a room past its limit by one each. Who has a voice where
is in its user's record, for a node that reads it later; a node that starts
learns the modes of the registered rooms from the registry, not those of a
room nobody registered.

Adding to what the cluster shares: an operation in L{chatsvc.cluster.ops.OPS},
the override here that tells the link after the model's rule, its case in
L{ClusterChat._apply}; and what a node that starts late must learn of it,
in L{record} (a user's), in the registry (which it reads at start, and
whose changes made as it starts it learns through L{ClusterChat.recall}),
or a key of its own in Redis that the link reads when it syncs.

test-case-name: tests.cluster.test_chat
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, ClassVar, Protocol

import attrs
from twisted.logger import Logger
from zope.interface import implementer

from chatsvc.accounts.registered import RegisteredAccounts
from chatsvc.chat.events import (
    Action,
    ClientTags,
    Event,
    Invited,
    Kicked,
    Message,
    ModeChange,
    ModeChanged,
    OperatorChanged,
    PrivateMessage,
    PrivateTagMessage,
    Removed,
    TagMessage,
    TopicChanged,
    VoiceChanged,
)
from chatsvc.chat.interfaces import IChatClient
from chatsvc.chat.model import (
    Account,
    Chat,
    ChatError,
    NoSuchRoom,
    Participant,
    Room,
    RoomModes,
    RoomRegistration,
    Topic,
    checked_mode,
    fold,
)
from chatsvc.chat.sanctions import Mask, Sanction, SanctionKind
from chatsvc.cluster.ops import REGISTRY_OPS, Op
from chatsvc.sessions.session import log_lift, log_sanction

Record = dict[str, Any]
"""What a node keeps in Redis of one of its users: enough to make it anew elsewhere."""

BY_NAME = frozenset({"mode", "sanction", "lift"})
"""The operations applied whoever did them is here: kept while Redis was away, they outlive it."""

GONE = "its server went away"
"""Why the users of a node that stopped answering are shown as having left."""

STOPPED = "its server stopped"
"""Why the users of a node that stopped cleanly are shown as having left."""


class _Unseen:
    """The wire of remote users: nothing is shown to them here."""

    def render(self, event: Event) -> bytes:
        return b""


UNSEEN = _Unseen()


@implementer(IChatClient)
@attrs.define(eq=False)
class RemoteClient:
    """
    A user of another node, C{node}: that node shows it everything, not this
    one. It is a L{chatsvc.frontends.line.server.FanOutMember} that is never
    written to, so a room's fan-out passes it by as cheaply as a WebSocket.
    """

    node: str
    session: None = None
    """No session here: L{chatsvc.sessions.session.Session} is on its node."""
    events: _Unseen = UNSEEN
    takes_tags: ClassVar[bool] = False
    """Its own node relays client tags to it, if its wire takes them."""
    _turn: int = -1
    _direct: None = None
    _held: None = None
    _backlogged: bool = False
    _holding: bool = False

    def deliver(self, event: Event) -> None:
        pass

    def kicked(self, event: Kicked) -> None:
        pass

    def send(self, data: bytes) -> None:
        pass


class ClusterLink(Protocol):
    """Where a node's chat sends what its own users do (L{chatsvc.cluster.redis.RedisLink})."""

    def publish(
        self, op: Op | None, changed: Sequence[Participant] = (), gone: Sequence[str] = ()
    ) -> None:
        """
        Tell the other nodes C{op} (if any); keep the records of the local
        participants C{changed} (claiming their nicknames), and let go of
        the nicknames C{gone} and their records.
        """

    def rewrite(self, nick: str) -> None:
        """Keep the record of the local participant C{nick} as it is at the end of this turn."""


def record(participant: Participant) -> Record:
    """What is kept of a local participant, for other nodes to make it anew."""
    account = participant.account
    return {
        "nick": participant.nick,
        "account": None if account is None else account.name,
        "operator": participant.operator,
        "rooms": [room.name for room in participant.rooms],
        "away": participant.away,
        "homeless": participant.homeless,
        "voiced": [room.name for room in participant.rooms if room.is_voiced(participant)],
    }


def topic_fields(topic: Topic | None) -> Op | None:
    """A topic as an operation carries it."""
    return None if topic is None else {"text": topic.text, "by": topic.set_by, "at": topic.set_at}


def _topic(fields: Any) -> Topic | None:
    if not isinstance(fields, dict):
        return None
    return Topic(str(fields["text"]), str(fields["by"]), float(fields["at"]))


def sanction_fields(sanction: Sanction) -> Op:
    """A ban or mute as an operation carries it: all of it, its times as they were set."""
    return {
        "kind": sanction.kind.value,
        "mask": str(sanction.mask),
        "room": sanction.room,
        "by": sanction.by,
        "set_at": sanction.set_at,
        "reason": sanction.reason,
        "until": sanction.until,
    }


def _sanction(op: Op) -> Sanction:
    until, room = op.get("until"), op.get("room")
    return Sanction(
        SanctionKind(op["kind"]),
        Mask.parse(str(op["mask"])),
        None if room is None else str(room),
        str(op["by"]),
        float(op["set_at"]),
        op.get("reason"),
        None if until is None else float(until),
    )


def _banned(reason: str | None) -> str:
    """Why a ban puts its targets out, as the model says it."""
    return f"banned: {reason}" if reason else "banned"


def _account(fields: Op | Record) -> Account | None:
    name = fields.get("account")
    return None if name is None else Account(str(name), bool(fields.get("operator")))


class ClusterChat(Chat):
    """
    A L{Chat} that is one node, C{node}, of a cluster, linked to the others
    through C{link} (set before the first user signs on). A local user's
    every change is told to the link; what other nodes' users do comes in
    through L{apply} and L{reconcile}. C{lost_nickname} is called with a
    local participant whose nickname another node holds (see L{contested}).
    """

    _log = Logger()

    def __init__(self, node: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.node = node
        self.link: ClusterLink | None = None
        self.lost_nickname: Callable[[Participant], None] = lambda participant: None
        self.released: Callable[[Participant], None] = lambda participant: None
        """Called with a local guest whose nickname another node registered: it is renamed."""
        self.registered_accounts: RegisteredAccounts | None = None
        """The accounts made with C{/register}, which other nodes' registries change."""
        self._remote: dict[str, dict[str, Participant]] = {}
        """Each other node's participants here, by folded nickname."""

    # What is whose

    def is_local(self, participant: Participant) -> bool:
        return not isinstance(participant.client, RemoteClient)

    def local(self) -> list[Participant]:
        """This node's own participants."""
        return [p for p in self if self.is_local(p)]

    def remote(self, node: str) -> list[Participant]:
        """The participants of C{node} here."""
        return list(self._remote.get(node, {}).values())

    def nodes(self) -> list[str]:
        """The other nodes that have participants here."""
        return [node for node, members in self._remote.items() if members]

    def _tell(
        self,
        by: Participant,
        op: Op | None,
        changed: Sequence[Participant] = (),
        gone: Sequence[str] = (),
    ) -> None:
        """What the local participant C{by} did: nothing, if C{by} is another node's."""
        if self.link is not None and self.is_local(by):
            self.link.publish(op, changed, gone)

    # What local users do: the model's rules, then the link is told

    def sign_on(
        self,
        nick: str,
        client: IChatClient,
        account: Account | None = None,
        *,
        lobby: bool = True,
        address: str | None = None,
    ) -> Participant:
        participant = super().sign_on(nick, client, account, lobby=lobby, address=address)
        op = {"op": "on", "nick": nick, "lobby": lobby, **_named(account)}
        self._tell(participant, op, [participant])
        return participant

    def sign_off(
        self, participant: Participant, reason: str | None = None, *, from_user: bool = False
    ) -> None:
        if self.find(participant.nick) is not participant:
            return
        super().sign_off(participant, reason, from_user=from_user)
        if self.is_local(participant):
            op = {"op": "off", "nick": participant.nick, "reason": reason, "from_user": from_user}
            self._tell(participant, op, gone=[participant.nick])
        else:
            self._forget(participant)

    def dissolve(self) -> None:
        if self.link is not None:
            for participant in self.local():
                op = {"op": "off", "nick": participant.nick, "reason": STOPPED}
                self.link.publish(op, gone=[participant.nick])
            self.link.publish({"op": "bye"})
        super().dissolve()
        self._remote.clear()

    def rename(self, participant: Participant, nick: str) -> str:
        old = super().rename(participant, nick)
        if self.is_local(participant):
            gone = [old] if fold(old) != fold(nick) else []
            self._tell(participant, {"op": "rename", "nick": old, "new": nick}, [participant], gone)
        else:
            members = self._remote[_node(participant)]
            members[fold(nick)] = members.pop(fold(old))
        return old

    def join(
        self,
        participant: Participant,
        name: str,
        now: float | None = None,
        key: str | None = None,
    ) -> Room:
        room = super().join(participant, name, now, key)
        op = {"op": "join", "nick": participant.nick, "room": room.name, "at": now}
        self._tell(participant, op, [participant])
        return room

    def part(self, participant: Participant, name: str, reason: str | None = None) -> Room:
        room = super().part(participant, name, reason)
        op = {"op": "part", "nick": participant.nick, "room": room.name, "reason": reason}
        self._tell(participant, op, [participant])
        return room

    def move(
        self,
        participant: Participant,
        name: str,
        room: Room | None = None,
        now: float | None = None,
        key: str | None = None,
    ) -> Room:
        left = (room or participant.room).name
        entered = super().move(participant, name, room, now, key)
        op = {"op": "move", "nick": participant.nick, "room": left, "to": entered.name, "at": now}
        self._tell(participant, op, [participant])
        return entered

    def set_away(self, participant: Participant, reason: str | None) -> None:
        super().set_away(participant, reason)
        op = {"op": "away", "nick": participant.nick, "reason": participant.away}
        self._tell(participant, op, [participant])

    def say(
        self,
        participant: Participant,
        text: str,
        room: Room | None = None,
        *,
        notice: bool = False,
        tags: ClientTags = (),
    ) -> Message:
        message = super().say(participant, text, room, notice=notice, tags=tags)
        op: Op = {"op": "say", "nick": message.nick, "room": message.room, "text": text}
        if tags:
            op["tags"] = tags
        self._tell(participant, {**op, "notice": notice})
        return message

    def act(
        self,
        participant: Participant,
        text: str,
        room: Room | None = None,
        *,
        tags: ClientTags = (),
    ) -> Action:
        action = super().act(participant, text, room, tags=tags)
        op: Op = {"op": "act", "nick": action.nick, "room": action.room, "text": text}
        if tags:
            op["tags"] = tags
        self._tell(participant, op)
        return action

    def whisper(
        self,
        sender: Participant,
        nick: str,
        text: str,
        *,
        notice: bool = False,
        tags: ClientTags = (),
    ) -> PrivateMessage:
        message = super().whisper(sender, nick, text, notice=notice, tags=tags)
        recipient = self.find(message.recipient)
        if recipient is not None and not self.is_local(recipient):
            op: Op = {"op": "pm", "nick": sender.nick, "to": message.recipient, "text": text}
            if tags:
                op["tags"] = tags
            self._tell(sender, {**op, "notice": notice})
        return message

    def send_tags(
        self, participant: Participant, tags: ClientTags, room: Room | None = None
    ) -> TagMessage:
        sent = super().send_tags(participant, tags, room)
        self._tell(participant, {"op": "tag", "nick": sent.nick, "room": sent.room, "tags": tags})
        return sent

    def whisper_tags(self, sender: Participant, nick: str, tags: ClientTags) -> PrivateTagMessage:
        sent = super().whisper_tags(sender, nick, tags)
        recipient = self.find(sent.recipient)
        if recipient is not None and not self.is_local(recipient):
            self._tell(
                sender, {"op": "tagpm", "nick": sender.nick, "to": sent.recipient, "tags": tags}
            )
        return sent

    def set_topic(
        self, participant: Participant, text: str, now: float, room: Room | None = None
    ) -> TopicChanged:
        changed = super().set_topic(participant, text, now, room)
        op = {"op": "topic", "nick": participant.nick, "room": changed.room, "text": text}
        self._tell(participant, {**op, "at": now})
        return changed

    def set_operator(
        self, by: Participant, room: Room, nick: str, given: bool = True
    ) -> OperatorChanged | None:
        changed = super().set_operator(by, room, nick, given)
        if changed is not None:
            op = {"op": "operator", "nick": by.nick, "room": room.name, "target": changed.nick}
            self._tell(by, {**op, "given": given})
        return changed

    def set_voice(
        self, by: Participant, room: Room, nick: str, given: bool = True
    ) -> VoiceChanged | None:
        changed = super().set_voice(by, room, nick, given)
        if changed is not None:
            op = {"op": "voice", "nick": by.nick, "room": room.name, "target": changed.nick}
            self._tell(by, {**op, "given": given})
            target = self.find(changed.nick)
            if target is not None:  # its record says where it has a voice: its node keeps it
                self._tell(target, None, [target])
        return changed

    def rank_in_room(
        self, by: Participant, room: Room, account: str, rank: str | None
    ) -> str | None:
        named = super().rank_in_room(by, room, account, rank)
        if named is not None:
            op = {"op": "rank", "nick": by.nick, "room": room.name, "account": named}
            self._tell(by, {**op, "rank": rank})
        return named

    def invite(self, by: Participant, room: Room, nick: str) -> Invited:
        invited = super().invite(by, room, nick)
        target = self.find(invited.nick)
        if target is not None and not self.is_local(target):
            op = {"op": "invite", "nick": by.nick, "room": room.name, "target": invited.nick}
            self._tell(by, op)
        return invited

    def kick(self, operator: Participant, nick: str, reason: str | None = None) -> Kicked:
        target = self.find(nick)
        kicked = super().kick(operator, nick, reason)
        op = {"op": "kick", "nick": operator.nick, "target": kicked.nick, "reason": reason}
        self._tell(operator, op)
        if target is not None:
            if self.is_local(target):
                self._tell(target, None, gone=[target.nick])
            else:
                self._forget(target)
        return kicked

    def remove(self, by: Participant, room: Room, nick: str, reason: str | None = None) -> Removed:
        removed = super().remove(by, room, nick, reason)
        op = {"op": "remove", "nick": by.nick, "room": room.name, "target": removed.nick}
        self._tell(by, {**op, "reason": reason})
        target = self.find(removed.nick)
        if target is not None:
            self._tell(target, None, [target])
        return removed

    def set_modes(
        self, by: Participant, room: Room, changes: Sequence[ModeChange]
    ) -> ModeChanged | None:
        changed = super().set_modes(by, room, changes)
        if changed is not None:
            op = {"op": "mode", "nick": by.nick, "room": room.name}
            self._tell(by, {**op, "changes": mode_fields(changed.changes)})
        return changed

    def sanction(
        self,
        by: Participant,
        kind: SanctionKind,
        mask: Mask,
        room: Room | None,
        *,
        duration: float | None = None,
        reason: str | None = None,
    ) -> tuple[Sanction, list[str]]:
        sanction, held = super().sanction(by, kind, mask, room, duration=duration, reason=reason)
        self._tell(by, {"op": "sanction", "nick": by.nick, **sanction_fields(sanction)})
        return sanction, held

    def _impose(self, sanction: Sanction, setter: Participant | None = None) -> list[str]:
        scope = list(self if sanction.room is None else self.room(sanction.room))
        held = super()._impose(sanction, setter)
        if sanction.kind is SanctionKind.BAN:
            keys = {fold(nick) for nick in held}
            self._put_out_by(sanction, [p for p in scope if fold(p.nick) in keys])
        return held

    def _put_out_by(self, ban: Sanction, targets: Sequence[Participant]) -> None:
        """
        C{ban} put C{targets} out: those of this node are told to the others
        (their address, which a mask may match, is known here alone).
        """
        for target in targets:
            if self.is_local(target):
                op = {"op": "put_out", "nick": target.nick, "room": ban.room, "by": ban.by}
                op["reason"] = _banned(ban.reason)
                if ban.room is None:
                    self._tell(target, op, gone=[target.nick])
                else:
                    self._tell(target, op, [target])
            elif ban.room is None:
                self._forget(target)

    def lift(self, by: Participant, kind: SanctionKind, mask: Mask, room: Room | None) -> Sanction:
        lifted = super().lift(by, kind, mask, room)
        op = {"op": "lift", "nick": by.nick, "kind": kind.value, "mask": str(lifted.mask)}
        self._tell(by, {**op, "room": lifted.room})
        return lifted

    def _check_entry(
        self,
        participant: Participant,
        room: Room,
        key: str | None = None,
        *,
        consume: bool = True,
    ) -> None:
        """
        Its own node decides whether a participant may enter C{room}: it
        knows its address, and the key it gave (never published). This node
        only uses up its invitation as the model would have there: the room's
        modes and its members (of every node, each counted once: see
        L{chatsvc.cluster.chat}) are the same here.
        """
        if self.is_local(participant):
            super()._check_entry(participant, room, key, consume=consume)
        elif (
            consume
            and not (participant.operator or room.is_operator(participant))
            and (room.invite_only or room.key is not None or room.limit is not None)
        ):
            room._invited.pop(fold(participant.nick), None)

    # What other nodes' users did

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """A rule this node refuses a remote user is logged, not raised: it happened already."""
        try:
            yield
        except (ChatError, ValueError, KeyError, TypeError) as e:
            self._log.warn("A cluster operation does not apply here: {why}", why=str(e))

    def apply(self, node: str, op: Op) -> None:
        """Apply C{op}, which a user of C{node} did, to this node's chat."""
        kind = op["op"]
        if kind == "on":
            self._sign_on_remote(node, op)
            return
        if kind in ("hello", "bye"):
            return
        if kind in REGISTRY_OPS:
            with self._quietly():
                self._registry_changed(op)
            return
        if kind in BY_NAME:
            with self._quietly():
                self._moderated(op)
            return
        who = self._remote.get(node, {}).get(fold(str(op.get("nick", ""))))
        if who is None and kind == "put_out":
            return  # put out here already (its nickname or account matched here too)
        if who is None:
            self._log.warn(
                "A cluster operation {op} of {node} names {nick}, who is not here",
                op=kind,
                node=node,
                nick=op.get("nick"),
            )
            return
        with self._quietly():
            self._apply(who, op)

    def _apply(self, who: Participant, op: Op) -> None:
        match op["op"]:
            case "off":
                self.sign_off(who, op.get("reason"), from_user=bool(op.get("from_user")))
            case "rename":
                self.rename(who, str(op["new"]))
            case "join":
                self.join(who, str(op["room"]), op.get("at"))
            case "part":
                self.part(who, str(op["room"]), op.get("reason"))
            case "move":
                self.move(who, str(op["to"]), self.member_of(who, str(op["room"])), op.get("at"))
            case "away":
                self.set_away(who, op.get("reason"))
            case "say":
                room = self.addressed(who, str(op["room"]))
                notice, tags = bool(op.get("notice")), _tags(op.get("tags"))
                self.say(who, str(op["text"]), room, notice=notice, tags=tags)
            case "act":
                room = self.addressed(who, str(op["room"]))
                self.act(who, str(op["text"]), room, tags=_tags(op.get("tags")))
            case "pm":
                notice, tags = bool(op.get("notice")), _tags(op.get("tags"))
                self.whisper(who, str(op["to"]), str(op["text"]), notice=notice, tags=tags)
            case "tag":
                room = self.addressed(who, str(op["room"]))
                self.send_tags(who, _tags(op.get("tags")), room)
            case "tagpm":
                self.whisper_tags(who, str(op["to"]), _tags(op.get("tags")))
            case "topic":
                room = self.member_of(who, str(op["room"]))
                self.set_topic(who, str(op["text"]), float(op["at"]), room)
            case "operator":
                room = self.member_of(who, str(op["room"]))
                self.set_operator(who, room, str(op["target"]), bool(op.get("given")))
            case "voice":
                room = self.member_of(who, str(op["room"]))
                self.set_voice(who, room, str(op["target"]), bool(op.get("given")))
            case "invite":
                self.invite(who, self.member_of(who, str(op["room"])), str(op["target"]))
            case "kick":
                self.kick(who, str(op["target"]), op.get("reason"))
            case "remove":
                self.remove(who, self.room(str(op["room"])), str(op["target"]), op.get("reason"))
            case "rank":
                room = self.room(str(op["room"]))
                rank = op.get("rank")
                self._rank(room, str(op["account"]), None if rank is None else str(rank), who.nick)
            case "put_out":
                self._put_out_here(who, op.get("room"), str(op["by"]), op.get("reason"))

    def _moderated(self, op: Op) -> None:
        """
        A room mode, ban or mute that another node's user set or lifted, as
        it was set there: applied whether its setter is still signed on or
        not (one kept while Redis was away comes after it may have left), so
        that whom it holds here is told, and a ban puts them out.
        """
        by = str(op["nick"])
        match op["op"]:
            case "mode":
                self._set_modes(self.room(str(op["room"])), _mode_changes(op), by)
            case "sanction":
                sanction = _sanction(op)
                log_sanction(sanction, self._impose(sanction))
            case "lift":
                kind, mask, name = SanctionKind(op["kind"]), Mask.parse(str(op["mask"])), op["room"]
                lifted = self._lift(kind, mask, None if name is None else str(name), by)
                if lifted is not None:
                    log_lift(by, lifted)

    def _put_out_here(
        self, target: Participant, name: str | None, by: str, reason: str | None
    ) -> None:
        """A ban at its node put C{target} out of room C{name} (or the chat): so here too."""
        if name is None:
            self._kick(target, by, reason)
            self._forget(target)
            return
        try:
            room = self.room(name)
        except NoSuchRoom:
            return
        if target.in_room(room):
            self._put_out(target, room, by, reason)

    # What other nodes' registries changed

    def _registry_changed(self, op: Op) -> None:
        match op["op"]:
            case "account":
                hashed = op.get("hash")
                name = str(op["name"])
                if hashed is None:
                    self._account_deleted(name)
                else:
                    self._account_saved(name, str(hashed))
            case "oper":
                self._operator_changed(str(op["name"]), bool(op.get("given")))
            case "room":
                self._room_changed(op)

    def _account_saved(self, name: str, hashed: str) -> None:
        if self.registered_accounts is not None:
            self.registered_accounts.add(name, hashed)
        holder = self.find(name)
        if holder is None or holder.account is not None:
            return  # a new password, or nobody here has the nickname
        if self.is_local(holder):
            self._log.info("{nick}, a guest here, was registered at another node", nick=name)
            self.released(holder)
        else:
            # Its holder registered it at its node: it is logged in to it now.
            holder.account = Account(name, fold(name) in self.operators)

    def _account_deleted(self, name: str) -> None:
        if self.registered_accounts is not None:
            self.registered_accounts.remove(name)
        for participant in self:
            account = participant.account
            if account is not None and fold(account.name) == fold(name):
                participant.account = None
                self._tell(participant, None, [participant])

    def _operator_changed(self, name: str, given: bool) -> None:
        """As L{Chat.grant_operator} and L{Chat.revoke_operator} do, another node's operator did."""
        if given:
            self.operators[fold(name)] = name
        else:
            self.operators.pop(fold(name), None)
        for participant in self:
            held = participant.account
            if held is not None and fold(held.name) == fold(name) and held.operator != given:
                participant.account = attrs.evolve(held, operator=given)
                self._tell(participant, None, [participant])

    def _room_changed(self, op: Op) -> None:
        name = str(op["name"])
        if op.get("registered", True) is False:
            try:
                room = self.room(name)
            except NoSuchRoom:
                return
            room.registration = None
            self.sanctions.forget_room(room.name)
            self._dispose_if_empty(room)
            return
        registration = RoomRegistration(
            {fold(owner): str(owner) for owner in op["owners"]},
            {fold(operator): str(operator) for operator in op["operators"]},
        )
        created = op.get("created")
        self.restore_room(
            name,
            registration,
            topic=_topic(op.get("topic")),
            invite_only=bool(op.get("invite_only")),
            moderated=bool(op.get("moderated")),
            created=None if created is None else float(created),
            modes=_room_modes(op),
        )

    def recall(self, ops: Sequence[Op]) -> None:
        """
        Changes of L{chatsvc.cluster.ops.KEPT_WHILE_AWAY} that other nodes
        made (oldest first), which this node may have missed (it read the
        registry as they were made): the last change of each thing is made
        so here, as the registry restores what it keeps at start-up. Nobody
        is told: what they did to users is in those users' records.
        """
        last: dict[tuple[Any, ...], Op] = {}
        for op in ops:
            with self._quietly():
                for one in _one_change_each(op):
                    key = _subject(one)
                    last.pop(key, None)
                    last[key] = one
        for op in last.values():
            with self._quietly():
                self._recall(op)

    def _recall(self, op: Op) -> None:
        kind = op["op"]
        if kind in REGISTRY_OPS:
            self._registry_changed(op)
            return
        name = op.get("room")
        room = None if name is None else self.room(str(name))
        if room is not None and room.registration is None:
            return  # as at start-up: only registered rooms outlive their members
        match kind:
            case "sanction":
                with suppress(ValueError):  # a full list stays full
                    self.sanctions.add(_sanction(op))
            case "lift":
                mask = Mask.parse(str(op["mask"]))
                where = None if room is None else room.name
                self.sanctions.remove(SanctionKind(op["kind"]), mask, where)
            case "mode" if room is not None:
                for change in _mode_changes(op):
                    room.apply_mode(change)

    def _sign_on_remote(self, node: str, fields: Op | Record) -> Participant | None:
        nick = str(fields["nick"])
        holder = self.find(nick)
        if holder is not None and self.is_local(holder):
            self._log.warn("{nick} signed on at {node} and here at once", nick=nick, node=node)
            self.contested(holder)
            return None
        if holder is not None:
            self._forget(holder)
            super().sign_off(holder)
        try:
            participant = Chat.sign_on(
                self, nick, RemoteClient(node), _account(fields), lobby=bool(fields.get("lobby"))
            )
        except ChatError as e:
            self._log.warn(
                "{nick} of {node} cannot be here: {why}", nick=nick, node=node, why=str(e)
            )
            return None
        self._remote.setdefault(node, {})[fold(nick)] = participant
        return participant

    def contested(self, participant: Participant) -> None:
        """
        Another node says C{participant}'s nickname is its user's: the link
        settles whose it is (by its claim), and calls L{lost} if not ours.
        """
        self._tell(participant, None, [participant])

    def lost(self, nick: str) -> None:
        """Another node holds the claim on C{nick}: its local holder here must go."""
        participant = self.find(nick)
        if participant is not None and self.is_local(participant):
            self.lost_nickname(participant)

    def reconcile(self, node: str, records: dict[str, Record], reason: str = GONE) -> None:
        """
        Make C{node}'s participants here what C{records} says they are (by
        folded nickname): those not in it leave (for C{reason}), the others
        come, or move to the rooms they are in.
        """
        here = self._remote.get(node, {})
        for key, leaving in list(here.items()):
            if key not in records:
                self.sign_off(leaving, reason)
        for key, fields in records.items():
            participant: Participant | None = self._remote.get(node, {}).get(key)
            if participant is None:
                participant = self._sign_on_remote(node, {**fields, "lobby": False})
                if participant is not None:
                    # Put out of its last room, it goes to the lobby, as at its node.
                    participant.homeless = bool(fields.get("homeless", True))
            if participant is not None:
                with self._quietly():
                    self._reconcile_one(participant, fields)
        if not self._remote.get(node):
            self._remote.pop(node, None)

    def _reconcile_one(self, participant: Participant, fields: Record) -> None:
        if participant.nick != fields["nick"]:
            self.rename(participant, str(fields["nick"]))
        wanted = [str(name) for name in fields.get("rooms", [])]
        keys = {fold(name) for name in wanted}
        for room in participant.rooms:
            if fold(room.name) not in keys:
                self.part(participant, room.name)
        have = {fold(room.name) for room in participant.rooms}
        for name in wanted:
            if fold(name) not in have:
                self.join(participant, name)
        participant.away = fields.get("away")
        voiced = {fold(str(name)) for name in fields.get("voiced", [])}
        for room in participant.rooms:
            # Nobody is told: what changed while unseen is as it is, as for its rooms.
            if fold(room.name) in voiced:
                room._voiced.add(participant)
            else:
                room._voiced.discard(participant)

    def _forget(self, participant: Participant) -> None:
        members = self._remote.get(_node(participant), {})
        if members.get(fold(participant.nick)) is participant:
            del members[fold(participant.nick)]


def _node(participant: Participant) -> str:
    client = participant.client
    assert isinstance(client, RemoteClient)
    return client.node


def _tags(fields: Any) -> ClientTags:
    """Client tags as an operation carries them (C{[key, value]} pairs); L{TypeError} if not."""
    if fields is None:
        return ()
    if not isinstance(fields, list | tuple) or not all(
        isinstance(pair, list | tuple)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and isinstance(pair[1], str)
        for pair in fields
    ):
        raise TypeError(f"not client tags: {fields!r}")
    return tuple((key, value) for key, value in fields)


def _subject(op: Op) -> tuple[Any, ...]:
    """What C{op} changes: of two changes of one thing, the later holds."""
    kind = op["op"]
    if kind in ("sanction", "lift"):
        room = op.get("room")
        where = None if room is None else fold(str(room))
        return ("sanction", op["kind"], str(Mask.parse(str(op["mask"]))), where)
    if kind == "mode":
        [(mode, _, _)] = _mode_changes(op)
        return ("mode", fold(str(op["room"])), mode)
    return (kind, fold(str(op["name"])))


def _one_change_each(op: Op) -> list[Op]:
    """C{op}; or, a C{mode} operation, one of each of its changes: each mode is a thing apart."""
    if op["op"] != "mode":
        return [op]
    return [{**op, "changes": mode_fields([change])} for change in _mode_changes(op)]


def mode_fields(changes: Sequence[ModeChange]) -> list[list[Any]]:
    """Mode changes as a C{mode} operation carries them: C{[[mode, on, value], ...]}."""
    return [[mode, on, value] for mode, on, value in changes]


def _mode_changes(op: Op) -> list[ModeChange]:
    """
    The changes of a C{mode} operation, each checked (L{checked_mode}): its
    C{changes}, or, as nodes published it before modes had values, its one
    C{mode} set or cleared (C{on}). L{ChatError}, L{TypeError} or
    L{ValueError} if they are not changes of modes there are.
    """
    fields = op.get("changes")
    if fields is None:
        return [checked_mode(ModeChange(str(op["mode"]), bool(op["on"])))]
    if not isinstance(fields, list) or not fields:
        raise TypeError(f"not mode changes: {fields!r}")
    changes = []
    for change in fields:
        if not isinstance(change, list | tuple) or len(change) != 3:
            raise TypeError(f"not a mode change: {change!r}")
        mode, on, value = change
        if not isinstance(mode, str) or not isinstance(on, bool):
            raise TypeError(f"not a mode change: {change!r}")
        changes.append(checked_mode(ModeChange(mode, on, None if value is None else str(value))))
    return changes


def room_mode_fields(modes: RoomModes) -> Op:
    """A registered room's modes beyond C{+i} and C{+m}, as a C{room} operation carries them."""
    return {
        "key": modes.key,
        "limit": modes.limit,
        "secret": modes.secret,
        "members_only": modes.members_only,
        "topic_locked": modes.topic_locked,
    }


def _room_modes(op: Op) -> RoomModes:
    """
    The modes of a C{room} operation; those it lacks (a node published it
    before rooms had them) as a new room's.
    """
    default = RoomModes()
    key, limit = op.get("key"), op.get("limit")
    return RoomModes(
        None if key is None else str(key),
        None if limit is None else int(limit),
        bool(op.get("secret", default.secret)),
        bool(op.get("members_only", default.members_only)),
        bool(op.get("topic_locked", default.topic_locked)),
    )


def _named(account: Account | None) -> Op:
    if account is None:
        return {"account": None, "operator": False}
    return {"account": account.name, "operator": account.operator}
