"""
The desktop client's side of the WebSocket protocol (docs/websocket.md),
with no Tk: what it sends for what the user does, and what it makes of the
replies and events, into a L{ChatState}.

- L{ServerAddress} is what the user types in the connect dialog, read.
- L{ChatWebSocket} is one connection (autobahn's Twisted client), JSON
  objects in and out, nothing more.
- L{ChatClient} is what lasts across connections, as the terminal client's
  session is: the nickname and password that signed on, the rooms to be back
  in, the lines typed while offline. A L{ClientService} reconnects, with the
  terminal client's backoff; after a kick, a ban, a certificate refused, a
  wrong password or the same account signing on elsewhere it stops, and says
  why (a ban: for how long).

test-case-name: tests.gui.test_client
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import attrs
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.application.internet import ClientService
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Interface, implementer

from chatsvc import __version__
from chatsvc.chat.model import canonical_room_name, fold
from chatsvc.client.cli import describe_connect_error
from chatsvc.client.session import NICK_VARIANTS, default_backoff, nick_variant
from chatsvc.client.tls import describe_tls_failure, is_tls_failure, tls_endpoint
from chatsvc.gui.state import (
    ChatState,
    Conversation,
    Entry,
    Kind,
    describe,
    key_of,
    refusal,
    sentence,
)
from chatsvc.gui.upload import upload

if TYPE_CHECKING:
    from twisted.internet._sslverify import IOpenSSLTrustRoot

DEFAULT_PORT = 8081
"""The port of an address given without scheme or port (C{twistd chat --web tcp:8081})."""

FINAL = {
    "quit": "You left the chat.",
    "kicked": "You were kicked out",
    "replaced": "Signed on from elsewhere; not reconnecting.",
    "owner-arrived": "The registered owner of this nickname signed on; not reconnecting.",
    "too-many-passwords": "Too many wrong passwords.",
    "login-timeout": "Signing on took too long.",
    "password-timeout": "The password took too long.",
    "cannot-check": "The server cannot check passwords now.",
}
"""The goodbyes after which signing on again by itself would be wrong, and what the user is told."""

QUIT_TIMEOUT = 3.0
"""Seconds to wait, on leaving, for the server to say goodbye and close."""

MISSED_MOST = 500
"""Lines of a room fetched after a reconnection: what was said while away (the most a page has)."""

_UPGRADE_FAILED = re.compile(r"upgrade failed \[(?P<code>\d+)\]: ?(?P<phrase>.*)")
"""How autobahn says the server answered the upgrade with an HTTP error (403, 503)."""

_log = Logger()


@attrs.frozen
class ServerAddress:
    """Where the chat's WebSocket is: C{host}, C{port}, over TLS or not, and its path."""

    host: str
    port: int
    secure: bool = False
    path: str = "/ws"

    @classmethod
    def parse(cls, text: str) -> ServerAddress:
        """
        What the user gave: the address the browser opens (C{http://host:8081/},
        C{https://chat.example.org/}), the WebSocket's (C{ws://}, C{wss://}),
        or C{host[:port]}. L{ValueError}, saying why, if it is none of those.
        """
        text = text.strip()
        if not text:
            raise ValueError("give the server's address")
        bare = "://" not in text
        if bare:
            text = f"http://{text}"
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https", "ws", "wss"):
            raise ValueError(f"{parts.scheme}: is not a chat address (use http, https, ws or wss)")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"{text}: the port is not a number from 1 to 65535") from None
        if not parts.hostname:
            raise ValueError(f"{text}: no host in it")
        secure = parts.scheme in ("https", "wss")
        default = DEFAULT_PORT if bare else 443 if secure else 80
        path = parts.path.rstrip("/")
        return cls(
            parts.hostname,
            port or default,
            secure,
            path if path.endswith("/ws") else f"{path}/ws",
        )

    @property
    def _netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The WebSocket's URL."""
        return f"{'wss' if self.secure else 'ws'}://{self._netloc}{self.path}"

    @property
    def web(self) -> str:
        """The site's URL: where files are uploaded, what the dialog shows and remembers."""
        return f"{'https' if self.secure else 'http'}://{self._netloc}{self.path[:-3]}/"

    def endpoint(
        self, reactor: Any, trust: IOpenSSLTrustRoot | None = None
    ) -> IStreamClientEndpoint:
        if self.secure:
            return tls_endpoint(reactor, self.host, self.port, trust)
        return HostnameEndpoint(reactor, self.host, self.port)


class IClientView(Interface):
    """What the client tells the window besides the conversations (L{IChatView})."""

    def status(text: str) -> None:
        """How the connection is: the status bar's text."""

    def sign_on_wanted(message: str | None) -> None:
        """Ask where to connect and as whom (the connect dialog), saying why if C{message}."""

    def signed_on(nick: str) -> None:
        """Signed on (again): the dialog may go."""


@implementer(IClientView)
class NoClientView:
    def status(self, text: str) -> None:
        pass

    def sign_on_wanted(self, message: str | None) -> None:
        pass

    def signed_on(self, nick: str) -> None:
        pass


class RequestError(Exception):
    """
    An C{error} in answer to a request: C{code} for the program, C{message}
    for the user, and the rest of its C{fields} (a ban's C{sanction} and C{left}).
    """

    def __init__(self, code: str, message: str, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields: Mapping[str, Any] = fields or {}

    @property
    def said(self) -> str:
        """What the user is told: a ban's or mute's why and how long, as a sentence."""
        return refusal(self.code, self.message, self.fields)


class ChatWebSocket(WebSocketClientProtocol):
    """One connection: JSON objects to and from the L{ChatClient}, once the handshake is done."""

    factory: ChatWebSocketFactory
    _opened = False
    _lost: Failure | None = None

    def onOpen(self) -> None:
        self._opened = True
        self.factory.client.connected(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if isBinary:
            return
        try:
            message = json.loads(payload)
        except ValueError:
            _log.warn("not JSON from the server: {payload!r}", payload=payload[:200])
            return
        if isinstance(message, dict):
            self.factory.client.received(self, message)

    def send(self, message: Mapping[str, Any]) -> None:
        self.sendMessage(json.dumps(message).encode())

    def close(self) -> None:
        self.sendClose(1000)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._lost = reason
        super().connectionLost(reason)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        lost = self._lost if self._lost is not None else Failure(ConnectionDone())
        if self._opened:
            self.factory.client.disconnected(self, lost)
        else:
            # autobahn's own words for a handshake that failed, if that is what happened.
            self.factory.client.connection_failed(lost, getattr(self, "wasNotCleanReason", None))


class ChatWebSocketFactory(WebSocketClientFactory):
    protocol = ChatWebSocket  # type: ignore[assignment]

    def __init__(self, client: ChatClient, url: str, reactor: Any) -> None:
        super().__init__(url, useragent=f"chatsvc-gui/{__version__}", reactor=reactor)
        self.client = client


@attrs.define
class _Credentials:
    nick: str
    password: str | None


class ChatClient:
    """
    One user's time in the chat, across connections: signing on (and on
    again after a reconnection, into the same rooms, with what was missed
    from the history), the server's events into L{state}, and what the user
    types into requests. L{start} connects; L{stop} leaves.
    """

    def __init__(
        self,
        state: ChatState,
        reactor: Any,
        *,
        view: IClientView | None = None,
        trust: IOpenSSLTrustRoot | None = None,
        backoff: Callable[[int], float] | None = None,
    ) -> None:
        self.state = state
        self.view: IClientView = view if view is not None else NoClientView()
        self.address: ServerAddress | None = None
        self.hello: Mapping[str, Any] | None = None
        self.upload_token: str | None = None
        self.signed_on = False
        self._reactor = reactor
        self._clock: IReactorTime = reactor
        self._trust = trust
        self._backoff = backoff if backoff is not None else default_backoff()
        self._service: ClientService | None = None
        self._link: ChatWebSocket | None = None
        self._next_id = 0
        self._pending: dict[int, Deferred[dict[str, Any]]] = {}
        self._wanted: _Credentials | None = None  # who to sign on as, once connected
        self._credentials: _Credentials | None = None  # who signed on
        self._variant = 0
        self._rooms: set[str] = set()  # folded names of the rooms to be back in
        self._held: list[tuple[str | None, str]] = []  # typed while offline: (conversation, line)
        self._connected_before = False
        self._stopping = False
        self._final: str | None = None
        self._closed: Deferred[None] | None = None  # fires once the connection is gone, on stop
        self._farewell = False  # the server said goodbye on this connection
        self._banned: str | None = None  # a chat-wide ban that put us out: its words

    # Connecting

    def start(self, address: ServerAddress, nick: str, password: str | None = None) -> None:
        """Sign on as C{nick} at C{address}: over the open connection if it is there, else anew."""
        self.sign_on_as(nick, password)
        if address == self.address and self._link is not None and self.hello is not None:
            self._sign_on()
            return
        self._stop_service()
        self.address = address
        self._connected_before = False
        self._final = None
        self._stopping = False
        self.view.status(f"Connecting to {address.web}\N{HORIZONTAL ELLIPSIS}")
        factory = ChatWebSocketFactory(self, address.url, self._reactor)
        service = self._service = ClientService(
            address.endpoint(self._reactor, self._trust),
            factory,
            retryPolicy=self.retry_delay,
            clock=self._clock,
        )
        service.whenConnected(failAfterFailures=1).addErrback(self._cannot_connect, service)
        service.startService()

    def sign_on_as(self, nick: str, password: str | None = None) -> None:
        """Whom to sign on as, once connected."""
        self._wanted = _Credentials(nick, password)

    def _cannot_connect(self, reason: Failure, service: ClientService) -> None:
        if service is self._service and not self._connected_before:
            why = describe_connect_error(reason.value) if reason.value else "failed"
            self._given_up(f"Cannot connect to {self._where}: {why}")

    @property
    def _where(self) -> str:
        return self.address.web if self.address is not None else "the server"

    def _given_up(self, message: str) -> None:
        """The first connection failed: ask again, saying why."""
        self._stop_service()
        self.view.status(message)
        self.view.sign_on_wanted(message)

    def _stop_service(self) -> Deferred[None]:
        service, self._service = self._service, None
        if service is None or not service.running:
            return succeed(None)
        # From the next turn: the service may still be busy with what stopped it.
        done: Deferred[None] = Deferred()
        self._clock.callLater(0, lambda: service.stopService().chainDeferred(done))
        return done

    def retry_delay(self, attempt: int) -> float:
        """The L{ClientService} retry policy: the terminal client's backoff, told to the user."""
        delay = self._backoff(attempt)
        if self._connected_before and not self._stopping and self._final is None:
            self.state.note(f"Reconnecting in {delay:.1f} seconds.")
            self.view.status(f"Offline; reconnecting in {delay:.1f} seconds")
        return delay

    def stop(self) -> Deferred[None]:
        """
        Leave: C{quit} if signed on (the server says goodbye and closes), then
        stop connecting; fires once the connection is gone, or after
        L{QUIT_TIMEOUT} seconds.
        """
        self._stopping = True
        link = self._link
        if link is None:
            return self._stop_service()
        closed = self._closed = Deferred()
        if self.signed_on:
            self.request("quit").addErrback(lambda _: None)
        else:
            link.close()
        closed.addTimeout(QUIT_TIMEOUT, self._clock, onTimeoutCancel=lambda *_: None)
        closed.addBoth(lambda _: self._stop_service())
        return closed

    # One connection

    def connected(self, link: ChatWebSocket) -> None:
        self._link = link
        self.hello = None
        self._farewell = False
        self._banned = None
        if self._connected_before:
            self.state.note("Connected again.")
        self._connected_before = True
        self.view.status(f"Connected to {self._where}")
        self.request("hello", versions=[1], client=f"chatsvc-gui/{__version__}").addCallbacks(
            self._greeted, self._refused_hello
        )

    def _greeted(self, reply: dict[str, Any]) -> None:
        self.hello = reply
        self.state.lobby = str(reply.get("lobby") or self.state.lobby)
        if self._wanted is not None:
            self._sign_on()
        else:
            self.view.sign_on_wanted(None)

    def _refused_hello(self, reason: Failure) -> None:
        if reason.check(RequestError):
            self._given_up(f"{self._where} does not speak this client's protocol: {reason.value}")

    def _sign_on(self) -> None:
        wanted = self._wanted
        assert wanted is not None
        fields: dict[str, Any] = {"nick": nick_variant(wanted.nick, self._variant)}
        if wanted.password is not None:
            fields["password"] = wanted.password
        self.view.status(f"Signing on as {fields['nick']}\N{HORIZONTAL ELLIPSIS}")
        self.request("sign-on", **fields).addCallbacks(self._signed_in, self._sign_on_refused)

    def _signed_in(self, reply: dict[str, Any]) -> None:
        again = self._credentials is not None
        nick = str(reply["nick"])
        assert self._wanted is not None
        self._credentials = _Credentials(nick, self._wanted.password)
        self._variant = 0
        self.signed_on = True
        self.upload_token = reply.get("upload_token")
        self.state.nick = nick
        self.view.signed_on(nick)
        self.view.status(f"Signed on to {self._where} as {nick}")
        if again:
            self._back_in()

    def _sign_on_refused(self, reason: Failure) -> None:
        reason.trap(RequestError)
        error = reason.value
        assert isinstance(error, RequestError) and self._wanted is not None
        guest = self._wanted.password is None
        again = self._credentials is not None
        if again and guest and error.code == "nickname-taken" and self._variant < NICK_VARIANTS:
            self._variant += 1
            self.state.note(f"Trying {nick_variant(self._wanted.nick, self._variant)} instead.")
            self._sign_on()
            return
        self._variant = 0
        message = {
            "password-required": f"{self._wanted.nick} is registered: give its password.",
            "nickname-registered": f"{self._wanted.nick} is registered: give its password.",
            "wrong-password": f"Wrong password for {self._wanted.nick}.",
        }.get(error.code, error.said)
        self._wanted = None
        self._credentials = None
        self.view.status(f"Not signed on: {message}")
        self.view.sign_on_wanted(message)
        if error.code == "banned":
            # Final, as a wrong password is: no signing on by itself against it.
            self._final = message
            self._stop_service()
            if self._link is not None:
                self._link.close()

    def _back_in(self) -> None:
        """Signed on again: back into the rooms we were in, then the lines held meanwhile."""
        assert self.state.nick is not None
        self.state.note(f"Signed on again as {self.state.nick}.")
        lobby = fold(self.state.lobby)
        joins = [
            self.request("join", **_joining(room.name, room.join_key)).addCallback(self._rejoined)
            for room in self.state.rooms()
            if fold(room.name) != lobby and fold(room.name) in self._rooms
        ]
        if lobby not in self._rooms and self.state.room(self.state.lobby) is None:
            self.leave(self.state.lobby)  # we had left it; signing on puts us back
        for join in joins:
            join.addErrback(self._failed, None)
        held, self._held = self._held, []
        for key, line in held:
            self.submit(line, self.state.get(key))

    def _rejoined(self, reply: Mapping[str, Any]) -> None:
        """
        In a room: the lobby on signing on, or one joined again after a
        reconnection; back in a room, what was said there meanwhile.
        """
        before = self.state.room(str(reply["room"]["name"]))
        room = self.state.entered(reply["room"])
        self._rooms.add(fold(room.name))
        if before is not None:
            self._fetch_missed(room)

    def _fetch_missed(self, room: Conversation) -> None:
        since = room.last_said()
        if since is None:
            return
        self.request("history", room=room.name, limit=MISSED_MOST, after=since).addCallbacks(
            lambda reply: self.state.history(room, reply.get("lines") or []),
            self._failed,
            errbackArgs=(room,),
        )

    def received(self, link: ChatWebSocket, message: dict[str, Any]) -> None:
        if link is not self._link:
            return
        kind = message.get("type")
        if kind in ("reply", "error") and isinstance(message.get("id"), int):
            waiting = self._pending.pop(message["id"], None)
            if waiting is not None:
                if kind == "reply":
                    waiting.callback(message)
                else:
                    code, text = str(message.get("code")), str(message.get("message"))
                    waiting.errback(RequestError(code, text, message))
                return
        if kind == "entered":
            self._rejoined(message)
            return
        if kind == "goodbye":
            self._goodbye(message)
            return
        self.state.apply(message)
        if kind == "removed" and self.state.is_me(message.get("nick")):
            self._put_out(message)
        elif kind == "sanctioned" and message.get("kind") == "ban" and not message.get("room"):
            # Out of the chat: the ban's words (why, how long) are the goodbye, not the kick's.
            given = message.get("given") is not False
            self._banned = sentence(str(message.get("text"))) if given else None
        elif kind == "nick-released":
            self._renamed(str(message["new"]))

    def _put_out(self, event: Mapping[str, Any]) -> None:
        """
        An operator put us out of a room: not one to be back in after a
        reconnection; put in the lobby (C{to}) if it was our last, shown as entered.
        """
        self._rooms.discard(fold(str(event["room"])))
        to = event.get("to")
        if not isinstance(to, str):
            return
        out = self.state.room(str(event["room"]))
        members = self.request("members", room=to)
        topic = self.request("topic", room=to)

        def entered(answers: list[dict[str, Any]]) -> None:
            listed, told = answers
            found = listed.get("members") or []
            room = self.state.entered(
                {
                    "name": listed.get("room") or to,
                    "count": len(found),
                    "members": found,
                    "topic": told.get("topic"),
                }
            )
            self._rooms.add(fold(room.name))
            self._show(room, f"You are back in #{room.name}.", Kind.STATUS)
            if out is not None and self.state.current == out.key:
                self.state.select(room.key)

        gatherResults([members, topic], consumeErrors=True).addCallbacks(
            entered, lambda reason: self._failed(reason.value.subFailure, None)
        )

    def _renamed(self, nick: str) -> None:
        """Our nickname is C{nick} now: the one to sign on as again, the one the window shows."""
        if self._credentials is not None:
            self._credentials.nick = nick
        self.view.signed_on(nick)

    def _goodbye(self, message: Mapping[str, Any]) -> None:
        self._farewell = True  # what follows is the server closing, however it does
        reason = str(message.get("reason"))
        words = str(message.get("message") or reason)
        if reason in FINAL:
            self._final = FINAL[reason]
            if reason == "kicked":
                self._final = self._banned or f"{FINAL[reason]}: {words}"
            self._stop_service()
        self.state.note(words, Kind.INFO)

    def connection_failed(self, reason: Failure, refusal: str | None) -> None:
        """
        A connection ended before its WebSocket opened: its TLS failed, or the
        server refused the upgrade (C{refusal}: why the handshake failed).
        """
        upgrade = _UPGRADE_FAILED.search(refusal or "")
        if is_tls_failure(reason):
            why = describe_tls_failure(reason.value) if reason.value else "TLS failed"
        elif upgrade is not None:
            phrase = upgrade["phrase"].strip()
            why = f"the server refused: {phrase or 'no reason given'} (HTTP {upgrade['code']})"
        elif refusal:
            why = refusal
        else:
            why = reason.getErrorMessage().rstrip(".")
        if not self._connected_before:
            self._given_up(f"Cannot connect to {self._where}: {why}")
        elif is_tls_failure(reason):
            self.state.note(f"Cannot connect again: {why}; not retrying.", Kind.ERROR)
            self._stop_service()
            self.view.status(f"Offline: {why}")

    def disconnected(self, link: ChatWebSocket, reason: Failure) -> None:
        if link is not self._link:
            return
        self._link = None
        self.hello = None
        self.signed_on = False
        self.upload_token = None
        pending, self._pending = self._pending, {}
        for waiting in pending.values():
            waiting.errback(RequestError("disconnected", "the connection was lost"))
        self.state.offline()
        if self._stopping:
            self.view.status("Offline")
            closed, self._closed = self._closed, None
            if closed is not None:
                closed.callback(None)
            return
        if self._final is not None:
            self.view.status(f"Offline: {self._final}")
            self.state.note(self._final, Kind.ERROR)
            self._credentials = self._wanted = None
            self.view.sign_on_wanted(self._final)
            return
        why = (
            "the server closed the connection"
            if reason.check(ConnectionDone) or self._farewell
            else reason.getErrorMessage().rstrip(".")
        )
        self._farewell = False
        self.state.note(f"Connection lost: {why}.")
        self.view.status(f"Connection lost: {why}")
        if self._credentials is not None:
            self._wanted = self._credentials

    # Requests

    def request(self, kind: str, **fields: Any) -> Deferred[dict[str, Any]]:
        """Send a request; the result is its reply, or fails with its L{RequestError}."""
        if self._link is None:
            return _failed(RequestError("offline", "not connected"))
        self._next_id += 1
        waiting: Deferred[dict[str, Any]] = Deferred()
        self._pending[self._next_id] = waiting
        self._link.send({"type": kind, "id": self._next_id, **fields})
        return waiting

    def _failed(self, reason: Failure, conversation: Conversation | None) -> None:
        """A request refused: why, where it was made (a lost connection is told once, elsewhere)."""
        reason.trap(RequestError)
        error = reason.value
        assert isinstance(error, RequestError)
        if error.code != "disconnected":
            self._show(conversation, error.said, Kind.ERROR)
            self.state.refused(error.code, error.fields, error.said)

    def _show(
        self,
        conversation: Conversation | None,
        text: str,
        kind: Kind,
        *,
        nick: str | None = None,
        when: float | None = None,
    ) -> None:
        """A line of the client's own in C{conversation} if it is still there, else on view."""
        if conversation is None or conversation.key not in self.state.conversations:
            conversation = self.state.on_view or self.state.ensure(self.state.lobby)
        stamp = when if when is not None else self._clock.seconds()
        self.state.add(conversation, Entry(kind, text, stamp, nick))

    # What the user does

    def submit(self, text: str, conversation: Conversation | None = None) -> None:
        """
        A line typed into the input of C{conversation} (the one on view by
        default): said there, or the command it is; held while offline.
        """
        if conversation is None:
            conversation = self.state.on_view
        if not text.strip():
            return
        if not self.signed_on:
            self._held.append((conversation.key if conversation else None, text))
            self._show(conversation, "Not connected: sent once back.", Kind.STATUS)
            return
        word, _, rest = text.partition(" ")
        command = word.lower() if text.startswith("/") and not text.startswith("//") else None
        if text.startswith("//"):
            text = text[1:]
        if command is None:
            if conversation is None:
                self._show(None, "Join a room first (/join ROOM).", Kind.ERROR)
            elif conversation.private:
                self.msg(conversation.name, text)
            else:
                self.say(conversation, text)
        elif command == "/join" and 1 <= len(rest.split()) <= 2:
            self.join(*rest.split())
        elif command in ("/part", "/leave", "/close"):
            self._leave_typed(rest.split()[0] if rest.split() else None, conversation)
        elif command == "/query" and rest.split():
            self.open_private(rest.split()[0])
        elif command == "/msg" and len(rest.split(None, 1)) == 2:
            nick, said = rest.split(None, 1)
            self.msg(nick, said, select=True)
        elif command == "/me" and conversation is not None and conversation.private:
            self._show(conversation, "/me works in rooms only.", Kind.ERROR)
        else:
            room = conversation.name if conversation and not conversation.private else None
            self.request("command", line=text, room=room or self.state.lobby).addCallbacks(
                self._commanded,
                self._failed,
                callbackArgs=(conversation, command, rest),
                errbackArgs=(conversation,),
            )

    def _leave_typed(self, target: str | None, conversation: Conversation | None) -> None:
        """C{/part [ROOM]}: leave ROOM, or the room on view; in a private conversation, close it."""
        if target is not None:
            self.leave(target)
        elif conversation is not None and conversation.private:
            self.state.remove(conversation.key)
        elif conversation is not None:
            self.leave(conversation.name)

    def _commanded(
        self,
        reply: dict[str, Any],
        conversation: Conversation | None,
        command: str | None = None,
        rest: str = "",
    ) -> None:
        if "account" in reply and self._credentials is not None:
            self._account_changed(command, rest.split())
        message = reply.get("message")
        if isinstance(message, Mapping):
            self._relayed(message)
        elif isinstance(reply.get("room"), Mapping):
            self._entered(reply)
        elif isinstance(reply.get("nick"), str) and set(reply) <= {"type", "id", "nick"}:
            self.state.nick = reply["nick"]
            if self._credentials is not None:
                self._credentials.nick = reply["nick"]
            self.view.signed_on(reply["nick"])
        elif isinstance(reply.get("lines"), list) and "words" in reply:
            lines = reply["lines"]
            self._show(
                conversation, f"{len(lines)} found for {' '.join(reply['words'])}:", Kind.INFO
            )
            for line in lines:
                found = self.state.said(line, live=False)
                self._show(conversation, found.text, Kind.INFO, nick=found.nick, when=found.time)
        elif isinstance(reply.get("lines"), list):
            room = self.state.room(str(reply.get("room")))
            if room is not None:
                self.state.history(room, reply["lines"])
        for line in describe(reply):
            self._show(conversation, line, Kind.INFO)

    def _account_changed(self, command: str | None, words: list[str]) -> None:
        """
        Registered, a new password, unregistered: the password to sign on
        with again after a reconnection is the one that holds now.
        """
        assert self._credentials is not None
        if command == "/register" and len(words) == 1:
            self._credentials.password = words[0]
        elif command == "/password" and len(words) == 2:
            self._credentials.password = words[1]
        elif command == "/unregister":
            self._credentials.password = None

    def _relayed(self, message: Mapping[str, Any]) -> None:
        if message.get("type") == "private":
            self.state.private(message)
            return
        room = self.state.room(str(message.get("room")))
        if room is not None:
            self.state.add(room, self.state.said(message))

    def _entered(self, reply: Mapping[str, Any]) -> None:
        room = self.state.entered(reply["room"])
        self._rooms.add(fold(room.name))
        self.state.select(room.key)

    def say(self, conversation: Conversation, text: str) -> None:
        self.request("say", room=conversation.name, text=text).addCallbacks(
            lambda reply: self._relayed(reply["message"]), self._failed, errbackArgs=(conversation,)
        )

    def msg(self, nick: str, text: str, *, select: bool = False) -> None:
        def sent(reply: dict[str, Any]) -> None:
            talk = self.state.private(reply["message"])
            if select:
                self.state.select(talk.key)
            if reply.get("away"):
                self._show(talk, f"{talk.name} is away: {reply['away']}", Kind.INFO)

        self.request("msg", nick=nick, text=text).addCallbacks(
            sent, self._failed, errbackArgs=(self.state.on_view,)
        )

    def join(self, name: str, key: str | None = None) -> None:
        """Into the room C{name} too (on view once in it), with its C{key} if it has one (C{+k})."""
        room = canonical_room_name(name)
        existing = self.state.room(room)
        if existing is not None and existing.joined:
            self.state.select(existing.key)
            return
        self.request("join", **_joining(room, key)).addCallbacks(
            self._entered, self._failed, errbackArgs=(self.state.on_view,)
        )

    def leave(self, name: str) -> None:
        def left(reply: dict[str, Any]) -> None:
            self._rooms.discard(fold(str(reply.get("room", name))))
            self.state.remove(key_of(str(reply.get("room", name))))

        self.request("leave", room=canonical_room_name(name)).addCallbacks(
            left, self._failed, errbackArgs=(self.state.on_view,)
        )

    def open_private(self, nick: str) -> None:
        talk = self.state.ensure(nick, private=True)
        self.state.select(talk.key)

    def upload(self, path: Path, conversation: Conversation | None = None) -> Deferred[None]:
        """Share the file at C{path} in a room (the one on view): an HTTP POST with our token."""
        room = conversation if conversation is not None else self.state.on_view
        if room is None or room.private or self.address is None or self.upload_token is None:
            self._show(room, "Files are shared in a room, once signed on.", Kind.ERROR)
            return succeed(None)
        target = (
            f"{self.address.web}files/?room={quote(room.name, safe='')}"
            f"&name={quote(path.name, safe='')}"
        )
        done = upload(self._reactor, target, self.upload_token, path, self._trust)
        return done.addCallbacks(
            lambda _: None,
            lambda reason: self._show(
                room, f"Cannot share {path.name}: {reason.value}", Kind.ERROR
            ),
        )


def _joining(room: str, key: str | None) -> dict[str, str]:
    """The fields of a C{join} of C{room}: its C{key} too, if it has one."""
    return {"room": room} if key is None else {"room": room, "key": key}


def _failed(error: Exception) -> Deferred[dict[str, Any]]:
    failed: Deferred[dict[str, Any]] = Deferred()
    failed.errback(error)
    return failed
