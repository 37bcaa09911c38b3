"""The operations nodes publish: encoded once, decoded or refused."""

from __future__ import annotations

import pytest

from chatsvc.cluster.ops import BadOp, Received, decode, encode


def test_an_operation_comes_back_as_it_was_published() -> None:
    data = encode("a", 7, {"op": "say", "nick": "alice", "room": "dev", "text": "héllo"})
    assert data == '{"op":"say","nick":"alice","room":"dev","text":"héllo","node":"a","seq":7}'
    assert decode(data) == Received(
        "a", 7, {"op": "say", "nick": "alice", "room": "dev", "text": "héllo"}
    )
    assert decode(data.encode()) == decode(data)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not an object"),
        ('{"op": "say", "seq": 1}', "no node or sequence number"),
        ('{"op": "say", "node": "a", "seq": true}', "no node or sequence number"),
        ('{"op": "explode", "node": "a", "seq": 1}', "unknown operation 'explode'"),
    ],
)
def test_what_is_not_an_operation_is_refused(data: str, why: str) -> None:
    with pytest.raises(BadOp, match=why):
        decode(data)
