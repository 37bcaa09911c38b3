"""
A scripted server for the web client's own behaviour: the static files at
C{/}, and at C{/ws} a WebSocket that answers C{hello} and C{sign-on} as
docs/websocket.md has them and whatever else as the test says, keeps every
request it is sent, and sends whatever frame the test gives it, events no
real server would send among them (a nickname or a file name with markup in
it), so that the client is shown to be safe whatever it is sent.

The tests of the client against the real server are in L{test_browser}.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IListeningPort, IReactorTCP
from twisted.web.server import Request, Site
from twisted.web.static import File

from tests.frontends.web.browser import STATIC

Frame = dict[str, Any]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""As strict as the real server's: no inline script, nothing from elsewhere."""


class _Static(File):
    def render(self, request: Request) -> bytes | int:
        request.setHeader(b"Content-Security-Policy", CSP.encode())
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        rendered: bytes | int = super().render(request)
        return rendered


def hello_reply(request: Frame) -> Frame:
    return {
        "version": 1,
        "server": "scripted",
        "lobby": "lobby",
        "accounts": False,
        "guests": True,
        "limits": {"max_upload": 1 << 20, "history_max": 500},
    }


def listenTCP(port: int, factory: Site, interface: str) -> IListeningPort:
    tcp: IReactorTCP = reactor
    return tcp.listenTCP(port, factory, interface=interface)  # type: ignore[arg-type]


class ScriptedServer:
    """
    The scripted server: C{answers[type]} makes the reply's fields for a
    request of that type (or raises L{Refusal}); C{requests} is every request
    received, in order; C{send} sends a frame to every client connected.
    """

    def __init__(self) -> None:
        self.requests: list[Frame] = []
        self.clients: list[_Protocol] = []
        self.connections = 0
        self.answers: dict[str, Callable[[Frame], Frame]] = {
            "hello": hello_reply,
            "sign-on": lambda r: {
                "nick": r["nick"],
                "account": None,
                "operator": False,
                "upload_token": "t",
            },
            "join": lambda r: {"room": room(r["room"])},
            "leave": lambda r: {"room": r["room"]},
            "history": lambda r: {"room": r["room"], "lines": [], "more": False},
        }
        self.after_sign_on: list[Frame] = [
            {"type": "entered", "room": room("lobby")},
            {"type": "history", "room": "lobby", "lines": [], "joining": True},
        ]
        self.port: IListeningPort | None = None
        self._requested: list[tuple[Callable[[Frame], bool], Deferred[Frame]]] = []

    def listen(self) -> int:
        factory = WebSocketServerFactory()
        factory.protocol = _Protocol
        factory.server = self
        root = _Static(str(STATIC))
        root.putChild(b"ws", WebSocketResource(factory))
        self.port = listenTCP(0, Site(root), interface="127.0.0.1")
        return int(self.port.getHost().port)  # type: ignore[attr-defined]

    def stop(self) -> Deferred[None] | None:
        self.drop()
        return None if self.port is None else self.port.stopListening()

    def send(self, frame: Frame) -> None:
        for client in self.clients:
            client.sendMessage(json.dumps(frame).encode())

    def goodbye(self, reason: str, message: str) -> None:
        """Say goodbye to every client, and close, as the server does."""
        self.send({"type": "goodbye", "reason": reason, "message": message, "nick": None})
        for client in list(self.clients):
            client.sendClose(1000)

    def drop(self) -> None:
        """Drop every client's connection, as a server that went away would."""
        for client in list(self.clients):
            if client.transport is not None:
                client.transport.abortConnection()  # type: ignore[attr-defined]

    def requested(self, match: Callable[[Frame], bool]) -> Deferred[Frame]:
        """The first request (already received, or still to come) that C{match}es."""
        for frame in self.requests:
            if match(frame):
                return succeed(frame)
        waiting: Deferred[Frame] = Deferred()
        self._requested.append((match, waiting))
        return waiting

    def received(self, client: _Protocol, frame: Frame) -> None:
        self.requests.append(frame)
        for entry in list(self._requested):
            if entry[0](frame):
                self._requested.remove(entry)
                entry[1].callback(frame)
        answer = self.answers.get(frame.get("type", ""))
        if answer is None:
            reply: Frame = {"type": "reply", "id": frame.get("id")}
        else:
            try:
                reply = {"type": "reply", "id": frame.get("id"), **answer(frame)}
            except Refusal as refusal:
                reply = {"type": "error", "id": frame.get("id"), **refusal.args[0]}
        client.sendMessage(json.dumps(reply).encode())
        if frame.get("type") == "sign-on" and reply["type"] == "reply":
            for event in self.after_sign_on:
                client.sendMessage(json.dumps(event).encode())


class Refusal(Exception):
    """Raised by an answer: the error frame's C{code} and C{message}."""


def room(name: str, *members: Frame, topic: Frame | None = None) -> Frame:
    return {"name": name, "count": len(members), "members": list(members), "topic": topic}


def member(nick: str, operator: bool = False, away: str | None = None) -> Frame:
    return {"nick": nick, "operator": operator, "away": away}


class _Protocol(WebSocketServerProtocol):
    server: ScriptedServer

    def onOpen(self) -> None:
        self.server = self.factory.server
        self.server.clients.append(self)
        self.server.connections += 1

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.server.received(self, json.loads(payload))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        server: ScriptedServer = self.factory.server
        if self in server.clients:
            server.clients.remove(self)
