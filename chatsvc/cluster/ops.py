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
        "say",  # nick said text in room (notice, at)
        "act",  # nick did text in room (at)
        "pm",  # nick said text to to (notice)
        "topic",  # nick set the topic of room to text (at)
        "operator",  # nick made target an operator of room (given)
        "invite",  # nick invited target to room
        "kick",  # nick kicked target out of the chat (reason)
    }
)


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
