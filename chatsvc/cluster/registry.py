"""
The registry of a node of a cluster: what the chat keeps (L{IRegistry}) is
kept in the store every node shares (PostgreSQL), and each change is told
to the other nodes at once, as one operation (L{chatsvc.cluster.ops}), so
that their chats and their accounts are what this node's are without
reading the store again. A node that starts reads the store (L{open}), so
it knows what happened before, and the changes published as it started
(which the store it read may lack) from Redis
(L{chatsvc.cluster.redis}, C{chatsvc:recent}).

What is told: accounts (C{account}: made, a new password, or deleted),
server operators made at run time (C{oper}) and registered rooms (C{room}:
their owners, operators, topic and modes, the key and most members with
them, or that they are registered no more). Each node applies them in
L{chatsvc.cluster.chat.ClusterChat}, to its chat and accounts, and never to
its registry: nothing is kept twice, nothing is told back. Bans and mutes
are not told here: setting one is what a user did, which each node's chat
applies with its rules (the C{sanction} and C{lift} operations of the
cluster chat), in rooms registered or not; this registry keeps those of
registered rooms and chat-wide, as any registry.

test-case-name: tests.cluster.test_registry
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from zope.interface import implementer

from chatsvc.chat.sanctions import Mask, Sanction, SanctionKind
from chatsvc.cluster.chat import ClusterLink, room_mode_fields, topic_fields
from chatsvc.cluster.ops import Op
from chatsvc.registry import IRegistry, RoomRecord, Snapshot


def room_op(room: RoomRecord) -> Op:
    """The operation that tells the other nodes how the registered C{room} is now."""
    return {
        "op": "room",
        "name": room.name,
        "owners": list(room.owners),
        "operators": list(room.operators),
        "topic": topic_fields(room.topic),
        "invite_only": room.invite_only,
        "moderated": room.moderated,
        "created": room.created,
        **room_mode_fields(room.modes),
    }


@implementer(IRegistry)
class ClusterRegistry:
    """
    The registry C{store} shared by every node, each change told to the
    other nodes through C{link} (set once the link is made, before the node
    takes any connection).
    """

    def __init__(self, store: IRegistry) -> None:
        self.store = store
        self.link: ClusterLink | None = None

    def _tell(self, op: Op, account: str | None = None) -> None:
        if self.link is not None:
            self.link.publish(op)
            if account is not None:
                # Whoever is logged in to it changes this turn (/register, /unregister).
                self.link.rewrite(account)

    def open(self) -> Snapshot:
        return self.store.open()

    def save_account(self, name: str, hashed: str) -> Deferred[None]:
        self._tell({"op": "account", "name": name, "hash": hashed}, name)
        return self.store.save_account(name, hashed)

    def delete_account(self, name: str) -> Deferred[None]:
        self._tell({"op": "account", "name": name, "hash": None}, name)
        return self.store.delete_account(name)

    def save_operator(self, name: str) -> Deferred[None]:
        self._tell({"op": "oper", "name": name, "given": True})
        return self.store.save_operator(name)

    def delete_operator(self, name: str) -> Deferred[None]:
        self._tell({"op": "oper", "name": name, "given": False})
        return self.store.delete_operator(name)

    def save_room(self, room: RoomRecord) -> Deferred[None]:
        self._tell(room_op(room))
        return self.store.save_room(room)

    def delete_room(self, name: str) -> Deferred[None]:
        self._tell({"op": "room", "name": name, "registered": False})
        return self.store.delete_room(name)

    def save_sanction(self, sanction: Sanction) -> Deferred[None]:
        return self.store.save_sanction(sanction)

    def delete_sanction(self, kind: SanctionKind, mask: Mask, room: str | None) -> Deferred[None]:
        return self.store.delete_sanction(kind, mask, room)

    def close(self) -> Deferred[None]:
        return self.store.close()
