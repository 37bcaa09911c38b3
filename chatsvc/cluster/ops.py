"""
The operations nodes publish to each other: one small JSON object per thing a
user did, named by C{op}, with the publishing node (C{node}) and its
sequence number (C{seq}: 1, 2, 3, ... per node run, so that a receiver sees
each node's operations in order, once, and knows when it missed some).

Each operation is what a user did, not what it caused: every node applies it
to its own chat, whose rules tell its own users what they must be told.

test-case-name: tests.cluster.test_ops
"""

from __future__ import annotations

import json
from typing import Any

import attrs

Op = dict[str, Any]
"""An operation's fields, C{op} among them, without C{node} and C{seq}."""

OPS = frozenset(
    {
        "hello",  # a node (re)joined the cluster: read its members again
        "bye",  # a node stops cleanly: its users have signed off
        "on",  # nick (account, operator, lobby) signed on
        "off",  # nick signed off (reason, from_user)
        "rename",  # nick is now new
        "join",  # nick joined room (at)
        "part",  # nick left room (reason)
        "move",  # nick left room for to (at), as one-room wires do
        "away",  # nick is away (reason) or back (None)
        "say",  # nick said text in room (notice, at, tags)
        "act",  # nick did text in room (at, tags)
        "pm",  # nick said text to to (notice, tags)
        "tag",  # nick's client sent tags alone to room (IRC's TAGMSG)
        "tagpm",  # nick's client sent tags alone to to
        "topic",  # nick set the topic of room to text (at)
        "operator",  # nick made target an operator of room (given)
        "voice",  # nick gave target a voice in room (given), or took it
        "rank",  # nick made the account an owner or operator of room, or neither (rank)
        "invite",  # nick invited target to room
        "kick",  # nick kicked target out of the chat (reason)
        "remove",  # nick put target out of room (reason)
        "mode",  # nick set or cleared modes of room (changes: [[mode, on, value], ...])
        "sanction",  # nick banned or muted (kind) mask in room or chat-wide (set_at, until, reason)
        "lift",  # nick lifted the kind of mask in room or chat-wide
        "put_out",  # a ban set by by put nick out of room or the chat (reason)
        # What a node's registry changed (chatsvc.cluster.registry): no nick.
        "account",  # the account name was made or given a new password (hash), or deleted
        "oper",  # the account name was made a server operator, or no more (given)
        "room",  # the registered room name is now so (owners, operators, topic, modes), or not
    }
)

REGISTRY_OPS = frozenset({"account", "oper", "room"})
"""The operations that change what the registry keeps: they name no user."""

KEPT_WHILE_AWAY = REGISTRY_OPS | {"mode", "sanction", "lift"}
"""
The operations a node keeps while Redis is unreachable and publishes once
it is back: what they change is in no user's record, which the other nodes
read again then.
"""


class BadOp(ValueError):
    """What was received is not an operation this node knows."""


@attrs.frozen
class Received:
    """An operation as received: from C{node}, numbered C{seq}."""

    node: str
    seq: int
    op: Op


def encode(node: str, seq: int, op: Op) -> str:
    """C{op} as published by C{node}, numbered C{seq}."""
    return json.dumps({**op, "node": node, "seq": seq}, ensure_ascii=False, separators=(",", ":"))


def decode(data: str | bytes) -> Received:
    """A published operation; L{BadOp} if it is not one."""
    try:
        fields = json.loads(data)
    except ValueError as e:
        raise BadOp(f"not JSON: {e}") from None
    if not isinstance(fields, dict):
        raise BadOp("not an object")
    node, seq = fields.pop("node", None), fields.pop("seq", None)
    if not isinstance(node, str) or not isinstance(seq, int) or isinstance(seq, bool):
        raise BadOp("no node or sequence number")
    if fields.get("op") not in OPS:
        raise BadOp(f"unknown operation {fields.get('op')!r}")
    return Received(node, seq, fields)
