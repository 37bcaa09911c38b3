"""
The web frontend end to end, over real sockets on 127.0.0.1, with a
WebSocket client nobody here wrote: autobahn's own
L{autobahn.twisted.websocket.WebSocketClientProtocol}, beside line-protocol
users in the same rooms; and files shared over HTTP with Twisted's
L{twisted.web.client.Agent}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest_twisted
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredQueue
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from chatsvc.service.tap import ChatService
from tests.frontends.line.test_endtoend import TIMEOUT, connect, tcp_endpoint
from tests.support import Services


class WebClient(WebSocketClientProtocol):
    """A web user: sends requests, and queues every object it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.received: DeferredQueue[dict[str, Any]] = DeferredQueue()
        self.opened: Deferred[None] = Deferred()
        self.closed: Deferred[tuple[bool, int | None, str | None]] = Deferred()
        self._next_id = 0

    def onOpen(self) -> None:
        self.opened.callback(None)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        assert not isBinary
        self.received.put(json.loads(payload))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.opened.called:
            self.opened.errback(ConnectionError(f"refused: {code} {reason}"))
        if not self.closed.called:
            self.closed.callback((wasClean, code, reason))

    def request(self, kind: str, **fields: Any) -> int:
        """Send a request; its id."""
        self._next_id += 1
        self.send_raw(json.dumps({"type": kind, "id": self._next_id, **fields}).encode())
        return self._next_id

    def send_raw(self, payload: bytes) -> None:
        self.sendMessage(payload)

    async def next(self) -> dict[str, Any]:
        d = self.received.get()
        d.addTimeout(TIMEOUT, reactor)
        return await d

    async def answer(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a request, and wait for its reply or error (queueing events meanwhile)."""
        request_id = self.request(kind, **fields)
        held: list[dict[str, Any]] = []
        while True:
            got = await self.next()
            if got.get("id") == request_id and got["type"] in ("reply", "error"):
                for event in reversed(held):
                    self.received.pending.insert(0, event)
                return got
            held.append(got)

    async def event(self, kind: str) -> dict[str, Any]:
        """The next object of type C{kind}, skipping others."""
        while True:
            got = await self.next()
            if got["type"] == kind:
                return got


def web_port(service: ChatService, index: int) -> int:
    return service.ports[index].getHost().port  # type: ignore[attr-defined, no-any-return]


async def open_web(port: int, origin: str | None = None) -> WebClient:
    factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}/ws", origin=origin)
    factory.protocol = WebClient
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
    client: WebClient = await connectProtocol(endpoint, factory.buildProtocol(None))
    await client.opened.addTimeout(TIMEOUT, reactor)
    return client


async def sign_on(port: int, nick: str, password: str | None = None) -> WebClient:
    client = await open_web(port)
    hello = await client.answer("hello", versions=[1])
    assert hello["type"] == "reply", hello
    fields: dict[str, Any] = {"nick": nick}
    if password is not None:
        fields["password"] = password
    signed = await client.answer("sign-on", **fields)
    assert signed["type"] == "reply", signed
    return client


def start_web(services: Services, tmp_path: Path, *argv: str) -> ChatService:
    return services.start(
        "--port",
        "tcp:0:interface=127.0.0.1",
        "--web",
        "tcp:0:interface=127.0.0.1",
        "--files-dir",
        str(tmp_path / "files"),
        *argv,
    )


@pytest_twisted.ensureDeferred
async def test_a_web_user_and_a_line_user_chat_in_one_room(
    services: Services, tmp_path: Path
) -> None:
    service = start_web(services, tmp_path)
    port = web_port(service, 1)
    alice = await sign_on(port, "alice")
    entered = await alice.event("entered")
    assert entered["room"]["name"] == "lobby"
    assert entered["room"]["members"] == [{"nick": "alice", "operator": False, "away": None}]
    joined = await alice.answer("join", room="dev")
    assert joined["type"] == "reply"
    assert joined["room"]["name"] == "dev"

    bob = await connect(tcp_endpoint(service), "bob")
    await bob.expect("*** You joined lobby (2 members):", "*** alice, bob")
    assert (await alice.event("joined")) == {
        "type": "joined",
        "room": "lobby",
        "member": {"nick": "bob"},
    }
    bob.say("/join dev")
    await bob.expect("*** You joined dev (2 members):", "*** alice, bob")
    left = await alice.event("left")
    assert (left["room"], left["nick"], left["signed_off"]) == ("lobby", "bob", False)
    assert (await alice.event("joined"))["room"] == "dev"

    said = await alice.answer("say", room="dev", text="hello <b>bob</b>")
    assert said["message"]["text"] == "hello <b>bob</b>"
    await bob.expect("<alice> hello <b>bob</b>")
    bob.say("hi alice")
    message = await alice.event("message")
    assert (message["room"], message["nick"], message["text"]) == ("dev", "bob", "hi alice")
    assert isinstance(message["time"], float)

    acted = await alice.answer("command", room="dev", line="/me waves")
    assert acted["message"]["type"] == "action"
    await bob.expect("* alice waves")
    bob.say("/msg alice psst")
    await bob.expect("-> *alice* psst")
    private = await alice.event("private")
    assert (private["from"], private["to"], private["text"]) == ("bob", "alice", "psst")

    quit_id = alice.request("quit", reason="bye now")
    goodbye = await alice.event("goodbye")
    assert goodbye["reason"] == "quit"
    assert quit_id
    clean, code, _ = await alice.closed.addTimeout(TIMEOUT, reactor)
    assert (clean, code) == (True, 1000)
    await bob.expect("*** alice left dev (quit: bye now)")
