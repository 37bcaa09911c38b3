"""The service's sweep of the bans and mutes that ran out: each told, then forgotten."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import deferLater

from chatsvc.chat.sanctions import Mask, SanctionKind
from tests.frontends.line.test_endtoend import LineClient, connect, tcp_endpoint
from tests.support import Services


async def lines(user: LineClient, count: int) -> list[str]:
    return [await user.next_line() for _ in range(count)]


@pytest_twisted.ensureDeferred
async def test_a_ban_and_a_mute_that_ran_out_are_told_at_the_sweep(services: Services) -> None:
    service = services.start("--port", "tcp:0:interface=127.0.0.1")
    alice = await connect(tcp_endpoint(service), "alice")
    await alice.expect("*** You joined lobby (1 member):", "*** alice")
    alice.say("/join dev")  # its maker, so its operator
    await alice.expect("*** You joined dev (1 member):", "*** alice")
    bob = await connect(tcp_endpoint(service), "bob")
    await lines(bob, 2)
    bob.say("/join dev")
    await bob.expect("*** You joined dev (2 members):", "*** alice, bob")
    assert await alice.next_line() == "*** bob joined dev"
    chat = service.factory.chat
    op = chat.find("alice")
    assert op is not None
    dev = chat.room("dev")
    chat.sanction(op, SanctionKind.BAN, Mask.parse("spam*"), dev, duration=1)
    chat.sanction(op, SanctionKind.MUTE, Mask.parse("bob"), dev, duration=1)
    told = await lines(bob, 3)
    assert told[0].startswith("*** alice banned nick:spam* in dev until "), told
    assert told[1].startswith("*** You are muted in dev for 1s "), told
    assert told[2].startswith("*** alice muted nick:bob in dev until "), told
    await lines(alice, 2)
    service._expire()  # nothing ran out yet
    await deferLater(reactor, 1.1, lambda: None)
    service._expire()  # what the service's sweep does once a minute
    ran_out = {
        "*** The ban of nick:spam* in dev ran out",
        "*** The mute of nick:bob in dev ran out",
    }
    assert set(await lines(alice, 2)) == ran_out
    assert set(await lines(bob, 3)) == {*ran_out, "*** You may speak in dev now"}
    assert list(chat.sanctions) == []
    bob.say("back")
    assert await alice.next_line() == "<bob> back"
