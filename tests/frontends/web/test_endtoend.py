"""
The web frontend end to end, over real sockets on 127.0.0.1, with a
WebSocket client nobody here wrote: autobahn's own
L{autobahn.twisted.websocket.WebSocketClientProtocol}, beside line-protocol
users in the same rooms; and files shared over HTTP with Twisted's
L{twisted.web.client.Agent}.
"""

from __future__ import annotations

import hashlib
import json
from io import BytesIO
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import pytest
import pytest_twisted
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredQueue
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

from chatsvc.frontends.web.connection import WebChat
from chatsvc.frontends.web.site import WebService
from chatsvc.service.tap import ChatService
from chatsvc.streams import eagertcp
from tests.frontends.line.test_endtoend import TIMEOUT, LineClient, connect, tcp_endpoint
from tests.support import Services

pytestmark = pytest.mark.filterwarnings(
    # Agent's responses are read through a proxy of the transport that has no
    # abortConnection (Twisted's own client; nothing of ours).
    "ignore:Using readBody with a transport:DeprecationWarning"
)


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


def web_of(service: ChatService) -> WebChat:
    (web,) = [child.web for child in service if isinstance(child, WebService)]
    return web


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
    assert entered["room"]["members"] == [
        {"nick": "alice", "operator": False, "rank": None, "voiced": False, "away": None}
    ]
    joined = await alice.answer("join", room="dev")
    assert joined["type"] == "reply"
    assert joined["room"]["name"] == "dev"

    bob = await connect(tcp_endpoint(service), "bob")
    await bob.expect("*** You joined lobby (2 members):", "*** alice, bob")
    assert (await alice.event("joined")) == {
        "type": "joined",
        "room": "lobby",
        "member": {"nick": "bob", "operator": False, "rank": None, "voiced": False, "away": None},
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
    (server_side,) = web_of(service).connections
    assert server_side._direct is server_side.transport, "plain TCP: frames go straight"
    assert server_side._turn != 0, "and bob's line went to alice's socket straight"
    direct = cast(eagertcp.EagerServer, server_side._direct)
    assert eagertcp.DIRECT[direct.fd] is server_side, "its entry names it, for the pick in C"

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


async def http(
    port: int,
    method: bytes,
    path: str,
    body: bytes | None = None,
    headers: dict[bytes, list[bytes]] | None = None,
) -> tuple[IResponse, bytes]:
    agent = Agent(reactor)
    producer = None if body is None else FileBodyProducer(BytesIO(body))
    d = agent.request(
        method, f"http://127.0.0.1:{port}{path}".encode(), Headers(headers or {}), producer
    )
    response: IResponse = await d.addTimeout(TIMEOUT, reactor)
    return response, await readBody(response).addTimeout(TIMEOUT, reactor)


def header(response: IResponse, name: bytes) -> str | None:
    values = response.headers.getRawHeaders(name)
    return None if values is None else values[0].decode()


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


@pytest_twisted.ensureDeferred
async def test_a_file_shared_from_the_web_reaches_every_wire(
    services: Services, tmp_path: Path
) -> None:
    service = start_web(services, tmp_path, "--upload-rate", "2", "--max-upload", "1000")
    port = web_port(service, 1)
    alice = await open_web(port)
    await alice.answer("hello", versions=[1])
    token = (await alice.answer("sign-on", nick="alice"))["upload_token"]
    watcher = await sign_on(port, "watcher")
    bob = await connect(tcp_endpoint(service), "bob")
    await bob.expect("*** You joined lobby (3 members):", "*** alice, bob, watcher")
    auth = {b"authorization": [f"Bearer {token}".encode()]}

    response, body = await http(port, b"POST", "/files/?room=lobby&name=dot.png", PNG, auth)
    assert response.code == 201, body
    shared = json.loads(body)
    digest = hashlib.sha256(PNG).hexdigest()
    assert shared["url"] == f"/files/{digest}/dot.png"
    assert (shared["name"], shared["size"], shared["type"], shared["image"]) == (
        "dot.png",
        len(PNG),
        "image/png",
        True,
    )
    link = f"http://127.0.0.1:{port}/files/{digest}/dot.png"
    assert shared["message"]["text"] == f"shared dot.png ({len(PNG)} bytes): {link}"
    await bob.expect(f"<alice> shared dot.png ({len(PNG)} bytes): {link}")
    own = await alice.event("message")
    assert (own["nick"], own["text"]) == ("alice", shared["message"]["text"])
    message = await watcher.event("message")
    assert message["files"] == [{k: shared[k] for k in ("url", "name", "size", "type", "image")}]
    assert (tmp_path / "files" / digest[:2] / digest).read_bytes() == PNG

    response, body = await http(port, b"GET", shared["url"])
    assert (response.code, body) == (200, PNG)
    assert header(response, b"content-type") == "image/png"
    assert header(response, b"x-content-type-options") == "nosniff"
    assert header(response, b"content-disposition") is None
    assert "sandbox" in (header(response, b"content-security-policy") or "")

    page = b"<html><script>alert(document.cookie)</script></html>"
    name = '"><img src=x onerror=alert(1)>.html'
    response, body = await http(port, b"POST", f"/files/?room=lobby&name={quote(name)}", page, auth)
    assert response.code == 201, body
    shared = json.loads(body)
    assert shared["name"] == "_><img src=x onerror=alert(1)>.html"
    assert (shared["type"], shared["image"]) == ("application/octet-stream", False)
    assert (await watcher.event("message"))["files"][0]["name"] == shared["name"]
    response, body = await http(port, b"GET", shared["url"])
    assert (response.code, body) == (200, page)
    assert header(response, b"content-type") == "application/octet-stream"
    disposition = header(response, b"content-disposition") or ""
    assert disposition.startswith('attachment; filename="_><img src=x onerror=alert(1)>.html"')

    response, body = await http(port, b"POST", "/files/?room=lobby&name=big", b"x" * 1001, auth)
    assert response.code == 413
    assert json.loads(body)["error"] == "too-large"
    response, body = await http(port, b"POST", "/files/?room=lobby&name=a", b"a", auth)
    assert response.code == 429
    assert json.loads(body)["error"] == "rate-limited"
    assert int(header(response, b"retry-after") or "0") >= 1

    response, body = await http(port, b"POST", "/files/?room=lobby&name=a", b"a")
    assert (response.code, json.loads(body)["error"]) == (401, "unauthorized")
    response, body = await http(
        port, b"POST", "/files/?room=dev&name=a", b"a", {b"authorization": [b"Bearer nope"]}
    )
    assert response.code == 401
    response, _ = await http(port, b"GET", "/files/" + "0" * 64 + "/x")
    assert response.code == 404

    alice.sendClose()
    await alice.closed.addTimeout(TIMEOUT, reactor)
    response, body = await http(port, b"POST", "/files/?room=lobby&name=a", b"a", auth)
    assert response.code == 401, "the token went with its connection"


@pytest_twisted.ensureDeferred
async def test_a_page_of_another_origin_is_refused(services: Services, tmp_path: Path) -> None:
    service = start_web(services, tmp_path, "--web-origin", "https://chat.example.org")
    port = web_port(service, 1)
    with pytest.raises(ConnectionError, match="403"):
        await open_web(port, origin="https://evil.example")
    allowed = await open_web(port, origin="https://chat.example.org")
    assert (await allowed.answer("hello", versions=[1]))["type"] == "reply"
    same = await open_web(port, origin=f"http://127.0.0.1:{port}")
    assert (await same.answer("hello", versions=[1]))["type"] == "reply"


@pytest_twisted.ensureDeferred
async def test_a_message_too_big_is_refused_with_its_reason(
    services: Services, tmp_path: Path
) -> None:
    service = start_web(services, tmp_path, "--max-line", "256")
    alice = await sign_on(web_port(service, 1), "alice")
    alice.send_raw(json.dumps({"type": "say", "id": 9, "text": "x" * 1100}).encode())
    _, code, reason = await alice.closed.addTimeout(TIMEOUT, reactor)
    assert code == 1009
    assert "1024" in (reason or "")


@pytest_twisted.ensureDeferred
async def test_history_pages_and_search(services: Services, tmp_path: Path) -> None:
    service = start_web(services, tmp_path, "--history", "2", "--rate", "0")
    port = web_port(service, 1)
    bob = await connect(tcp_endpoint(service), "bob")
    await bob.expect("*** You joined lobby (1 member):", "*** bob")
    bob.say("/join dev")
    await bob.expect("*** You joined dev (1 member):", "*** bob")
    for i in range(6):
        bob.say(f"line {i}")
    bob.say("/who")
    await bob.expect("*** Members of dev (1 member):", "*** bob")
    alice = await sign_on(port, "alice")
    joined = await alice.answer("join", room="dev")
    assert joined["room"]["count"] == 2
    replay = await alice.event("history")
    assert (replay["room"], replay["lines"]) == ("lobby", []), "on signing on"
    replay = await alice.event("history")
    assert replay["room"] == "dev"
    assert [line["text"] for line in replay["lines"]] == ["line 4", "line 5"]
    page = await alice.answer("history", room="dev", limit=3)
    assert [line["text"] for line in page["lines"]] == ["line 3", "line 4", "line 5"]
    older = await alice.answer("history", room="dev", limit=3, before=page["lines"][0]["time"])
    assert [line["text"] for line in older["lines"]] == ["line 0", "line 1", "line 2"]
    found = await alice.answer("search", room="dev", words="line 2")
    assert [line["text"] for line in found["lines"]] == ["line 2"]


@pytest_twisted.ensureDeferred
async def test_the_server_stopping_says_goodbye(services: Services, tmp_path: Path) -> None:
    service = start_web(services, tmp_path)
    alice = await sign_on(web_port(service, 1), "alice")
    await service.stopService()
    goodbye = await alice.event("goodbye")
    assert goodbye["reason"] == "shutdown"
    _, code, _ = await alice.closed.addTimeout(TIMEOUT, reactor)
    assert code == 1000


async def line_with(client: LineClient, text: str) -> str:
    """The next line of C{client}'s that has C{text} in it (those before it read and dropped)."""
    while True:
        line = await client.next_line()
        if text in line:
            return line


@pytest_twisted.ensureDeferred
async def test_accounts_and_bans_over_the_wire_and_across_a_restart(
    services: Services, tmp_path: Path
) -> None:
    """
    alice registers over the WebSocket (an operator by C{--op} once she
    signs on with it), registers dev, and bans bob from it and mutes a line
    user; bob is told why and for how long; after a restart of the server,
    dev, alice's account and the ban are all still there.
    """
    database = str(tmp_path / "chat.sqlite")
    service = start_web(services, tmp_path, "--db", database, "--op", "alice")
    port = web_port(service, 1)
    alice = await sign_on(port, "alice")
    registered = await alice.answer("register", password="wonderland")
    assert (registered["type"], registered["account"]) == ("reply", "alice")
    await alice.answer("join", room="dev")
    owned = await alice.answer("room-register", room="dev")
    assert (owned["room"], owned["registered"]) == ("dev", True)
    bob = await sign_on(port, "bob")
    await bob.answer("join", room="dev")
    carol = await connect(tcp_endpoint(service), "carol")
    carol.say("/join dev")
    await line_with(carol, "*** You joined dev (3 members):")

    muted = await alice.answer("mute", room="dev", mask="carol", duration="10m", reason="calm")
    assert muted["held"] == ["carol"]
    carol.say("hello?")
    assert (await line_with(carol, "*** You are ")).startswith("*** You are muted in dev for 10m")
    await line_with(carol, "*** Error: you are muted in dev for ")
    banned = await alice.answer("ban", room="dev", mask="bob", duration=3600, reason="spam")
    assert (banned["sanction"]["mask"], banned["sanction"]["left"]) == ("nick:bob", 3600.0)
    told = await bob.event("sanctioned")
    assert told["text"].startswith("you are banned from dev for 1h (until ")
    removed = await bob.event("removed")
    assert (removed["room"], removed["reason"], removed["to"]) == ("dev", "banned: spam", None)
    refused = await bob.answer("join", room="dev")
    assert (refused["code"], refused["sanction"]["reason"]) == ("banned", "spam")
    assert 3590 < refused["left"] <= 3600
    await line_with(carol, "*** bob was put out of dev by alice (banned: spam)")

    await service.stopService()
    service = start_web(services, tmp_path, "--db", database, "--op", "alice")
    port = web_port(service, 1)
    again = await open_web(port)
    await again.answer("hello", versions=[1])
    asked = await again.answer("sign-on", nick="alice")
    assert asked["code"] == "password-required"
    back = await again.answer("sign-on", nick="alice", password="wonderland")
    assert (back["account"], back["operator"]) == ("alice", True)
    entered = await again.answer("join", room="dev")
    listed = await again.answer("bans", room="dev")
    assert [(s["kind"], s["mask"]) for s in listed["sanctions"]] == [
        ("ban", "nick:bob"),
        ("mute", "nick:carol"),
    ]
    assert entered["room"]["registered"] is True
    assert entered["room"]["members"] == [
        {"nick": "alice", "operator": True, "rank": "owner", "voiced": False, "away": None}
    ]
    bob = await sign_on(port, "bob")
    refused = await bob.answer("join", room="dev")
    assert refused["code"] == "banned"
