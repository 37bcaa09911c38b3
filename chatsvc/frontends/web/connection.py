"""
One WebSocket connection of the web frontend: autobahn's server protocol as
the frontend of a L{Session}, and the session's client in the chat.

What the client sends (a JSON request to a message, L{chatsvc.frontends.web.wire})
is paced by the same token bucket as lines on the other wires (a history
lookup costs more), and read in order: while the client is over its rate, or
the session waits (a password is checked), or the client does not read what
it is sent, nothing more is read from its socket, and the requests already
received wait their turn. What is sent is counted while the socket's buffer
is full, and the connection is dropped past C{--max-send-buffer} bytes or
C{--send-timeout} seconds, as a stream connection is
(L{chatsvc.streams.connection.StreamConnection}).

Each request gets one reply or error with its C{id}. The session shows its
answers through the renderer it is given (L{ISessionFrontend.render}); here
that is the request's own (L{_Request}) while it is handled, and a history
lookup keeps the one it was asked with, so its answer carries the right
C{id} when it comes.

A room's event is rendered once for every WebSocket member
(L{WebEvents}), and framed once too (L{chatsvc.frontends.web.wire.frame}):
the fan-out writes that frame straight to each member's socket where it
can, as it writes a line protocol's line (C{_direct}), and through
autobahn's C{sendData} otherwise.

test-case-name: tests.frontends.web.test_connection, tests.frontends.web.test_endtoend
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, cast
from urllib.parse import urlsplit

import attrs
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.protocol import WebSocketProtocol
from autobahn.websocket.types import ConnectionDeny, ConnectionRequest
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IPushProducer,
    ISSLTransport,
    ITCPTransport,
)
from twisted.logger import Logger
from zope.interface import implementer

from chatsvc import __version__
from chatsvc.chat import commands
from chatsvc.chat.commands import AWAY_MAX, HISTORY_LINES, HISTORY_MAX, SEARCH_RESULTS
from chatsvc.chat.events import Event, Kicked, Message
from chatsvc.chat.interfaces import IChatClient
from chatsvc.chat.model import NAME_MAX, Participant, fold
from chatsvc.chat.sanctions import SanctionKind
from chatsvc.frontends.line import wire as line_wire
from chatsvc.frontends.line.server import REASON_ROOM, ChatFactory
from chatsvc.frontends.web import wire
from chatsvc.frontends.web.files import MAX_UPLOAD, UPLOAD_RATE, FileStore
from chatsvc.frontends.web.wire import BadRequest, Json
from chatsvc.history import Line
from chatsvc.sessions import results
from chatsvc.sessions.results import Farewell, Result
from chatsvc.sessions.session import ISessionFrontend, Session, Stage
from chatsvc.streams.connection import (
    SHUTDOWN_GRACE,
    StreamConnection,
    describe_address,
    peer_address,
    peer_host,
)
from chatsvc.streams.eagertcp import EagerServer, set_direct
from chatsvc.streams.limits import TokenBucket

MESSAGE_FACTOR = 4
"""A WebSocket message may be this many times C{--max-line} (JSON escapes text)."""

_FAREWELLS = {
    Farewell.QUIT: "bye",
    Farewell.LOGIN_TIMEOUT: "you did not sign on in time",
    Farewell.PASSWORD_TIMEOUT: "you gave no password in time",
    Farewell.TOO_MANY_PASSWORDS: "too many wrong passwords",
    Farewell.CANNOT_CHECK: "passwords cannot be checked now; try again later",
    Farewell.SHUTDOWN: "the server is shutting down",
    Farewell.REPLACED: "you signed on from elsewhere",
    Farewell.OWNER_ARRIVED: "the registered owner of your nickname signed on",
    Farewell.NICKNAME_CLAIMED: "your nickname was taken on another server of this chat",
}

_NORMAL = 1000


class WebEvents:
    """
    The chat's events on the web wire (the fan-out's C{EventRenderer}): each
    rendered once, stamped with the time, and framed once, for every
    WebSocket member.
    """

    def __init__(self, web: WebChat) -> None:
        self._web = web
        self._last: tuple[Event, bytes] | None = None

    def render(self, event: Event) -> bytes:
        return wire.frame(self.payload(event))

    def payload(self, event: Event) -> bytes:
        """
        C{event}'s JSON. The last event's is kept, so that the reply to the
        member who said it (L{_relayed}) shows the very object the room was
        sent, made once.
        """
        last = self._last
        if last is not None and last[0] is event:
            return last[1]
        web = self._web
        now = web.server.clock.seconds()
        payload = None
        if type(event) is Message:
            payload = wire.message_payload(event, now, web.store.links)
        if payload is None:
            payload = wire.dumps(wire.event_data(event, now, web.store.links, web.server.chat))
        self._last = (event, payload)
        return payload


def _tcp(transport: object) -> ITCPTransport:
    return cast(ITCPTransport, transport)


class _Request:
    """
    The renderer a request's answers are shown through: the first answer is
    its reply (or error), with its C{id}; whatever else it causes (entering
    the lobby on signing on, the replay on joining) is an event.
    """

    __slots__ = ("claimed", "connection", "id", "limit", "lookup", "password", "prompted")

    def __init__(self, connection: WebConnection, request_id: object) -> None:
        self.connection = connection
        self.id = request_id
        self.claimed = request_id is None
        self.lookup = False  # a lookup is under way: its answer is the reply
        self.limit = 0  # the lines asked for, for history's "more"
        self.password: bytes | None = None  # given with sign-on
        self.prompted = False  # the session asked for the password

    def take(self) -> object:
        """The C{id} for the reply, if none was sent yet: L{None} (an event) after that."""
        if self.claimed:
            return None
        self.claimed = True
        return self.id

    def __call__(self, result: Result | Event) -> bytes:
        return self.connection.render_result(result, self)


@implementer(IChatClient, IPushProducer)
class WebConnection(WebSocketServerProtocol):
    """A web user: the WebSocket, its session, and its place in the chat."""

    # What the fan-out reads of every member, for each line (ChatFactory.fan_out),
    # kept in slots, as a stream connection keeps it: an autobahn protocol's
    # dictionary has a hundred other entries, and in a burst, reading these
    # from it cost the WebSocket a twentieth of its CPU a delivery.
    __slots__ = ("_backlogged", "_direct", "_held", "_holding", "_turn", "events", "session")

    factory: WebSocketFactory
    wire: ClassVar[str] = "web"
    takes_tags: ClassVar[bool] = False
    """The web wire carries no client tags: what carries them alone never comes here."""
    _log = Logger()

    def __init__(self) -> None:
        super().__init__()
        self.session: Session | None = None
        self.events: WebEvents | None = None
        self.render: Callable[[Result | Event], bytes] = _Request(self, None)
        self.upload_token: str | None = None
        self.greeted = False
        # Read by the fan-out (ChatFactory.fan_out), as it reads a stream connection's:
        self._turn = 0  # the last reactor turn it was written to in
        # Written after the first write of this turn, until the turn's end.
        self._held: list[bytes] | None = None
        # The transport, while a room's frames may go straight to its socket.
        self._direct: EagerServer | None = None
        self._inbox: list[str | None] = []
        self._handling = False
        self._bucket: TokenBucket | None = None
        self._refill: IDelayedCall | None = None
        self._stalled: IDelayedCall | None = None
        self._throttled = False
        self._waiting = False
        self._backlogged = False
        self._holding = False
        self._paused = False
        self._queued = 0
        self._writing = 0
        self._hung_up = False
        self._counted = False  # by the web, against the connection limits
        self._host: str | None = None  # what it is counted under

    @property
    def web(self) -> WebChat:
        return self.factory.web

    @property
    def participant(self) -> Participant | None:
        return None if self.session is None else self.session.participant

    # Autobahn's

    def connectionMade(self) -> None:
        super().connectionMade()
        transport = _tcp(self.transport)
        self.peer = describe_address(transport.getPeer())
        # The HTTP channel registered itself as the transport's producer;
        # the WebSocket has the transport now, and its backlog is ours.
        consumer = cast(IConsumer, transport)
        consumer.unregisterProducer()
        consumer.registerProducer(self, True)

    def onConnect(self, request: ConnectionRequest) -> None:
        web = self.web
        origin = request.headers.get("origin")
        if origin is not None and not self._origin_allowed(origin, request.headers.get("host")):
            self._log.info(
                "{peer} refused: origin {origin} not allowed", peer=self.peer, origin=origin
            )
            raise ConnectionDeny(403, f"origin {origin} not allowed")
        host = peer_host(_tcp(self.transport).getPeer(), web.server.limits.ipv6_prefix)
        refusal = web.admit(host)
        if refusal is not None:
            self._log.warn("Refused {peer}: {why}", peer=self.peer, why=refusal)
            raise ConnectionDeny(503, refusal)
        self._counted, self._host = True, host
        web.connections.add(self)
        web.server.traffic.accepted[type(self)] += 1

    def _origin_allowed(self, origin: str, host: str | None) -> bool:
        if origin in self.web.origins:
            return True
        secure = ISSLTransport.providedBy(self.transport)
        return host is not None and _same_origin(origin, host, secure)

    def onOpen(self) -> None:
        web = self.web
        limits = web.server.limits
        self._bucket = TokenBucket(limits.rate, limits.burst, web.server.clock.seconds())
        self.events = web.events
        self.session = Session(
            web.server,
            cast(ISessionFrontend, self),
            self,
            address=peer_address(self.transport),
        )
        self._update_direct()
        self._log.info("{peer} connected over WebSocket", peer=self.peer)
        self.session.start()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self._hung_up:
            return
        if isBinary:
            text = None  # answered in turn with the rest, and paid for as they are
        else:
            # Checked here, in one call, rather than by autobahn's validator a
            # frame at a time (utf8validateIncoming is off: see WebSocketFactory).
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                # What autobahn does when its own validator finds it (close code 1007).
                self._invalid_payload("a text message that is not UTF-8")
                return
        self._inbox.append(text)
        self._read()

    def onMessageEnd(self) -> None:
        # autobahn's, less its "message" signal for listeners added with
        # on("message", ...): nothing here listens, and firing it costs a
        # txaio future and a gather for every message a client sends.
        if not self.failedByMe:
            self._onMessage(b"".join(self.message_data), self.message_is_binary)
        self.message_data = None  # type: ignore[assignment]  # as autobahn does

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self._hung_up = True
        self._update_direct()
        for timer in (self._refill, self._stalled):
            if timer is not None and timer.active():
                timer.cancel()
        self._refill = self._stalled = None
        self._inbox.clear()
        if self.upload_token is not None:
            self.web.tokens.pop(self.upload_token, None)
            self.upload_token = None
        if self.session is not None:
            session, self.session = self.session, None
            session.lost()
            self._log.info(
                "{peer} disconnected (WebSocket close {code})", peer=self.peer, code=code
            )
        if self._counted:
            self.web.lost(self, self._host)
            self._counted = False

    # Reading: in order, at the client's rate

    def _read(self) -> None:
        if self._handling:
            return
        self._handling = True
        try:
            while self._inbox and not self._paused and not self._hung_up:
                if self._budget_spent():
                    break
                self._handle(self._inbox.pop(0))
        finally:
            self._handling = False

    def _budget_spent(self) -> bool:
        assert self._bucket is not None
        clock = self.web.server.clock
        now = clock.seconds()
        if self._bucket.take(now):
            return False
        self._throttled = True
        self.web.server.traffic.throttled += 1
        self._update_reading()
        self._refill = clock.callLater(self._bucket.wait(now), self._refilled)
        return True

    def _refilled(self) -> None:
        self._refill = None
        self._throttled = False
        self._update_reading()

    def _update_reading(self) -> None:
        pause = self._throttled or self._backlogged or self._waiting
        if pause and not self._paused:
            self._paused = True
            cast(IPushProducer, self.transport).pauseProducing()
        elif not pause and self._paused and not self._hung_up:
            self._paused = False
            cast(IPushProducer, self.transport).resumeProducing()
            self._read()

    # Requests

    def _handle(self, payload: str | None) -> None:
        session = self.session
        assert session is not None
        if payload is None:
            text = "binary messages are not read; send JSON text"
            session.output(wire.error(None, "bad-request", text))
            return
        try:
            request = wire.parse(payload)
        except BadRequest as e:
            session.output(wire.error(wire.request_id(payload), e.code, str(e), **e.fields))
            return
        request_id, kind = request["id"], request["type"]
        handler = _REQUESTS.get(kind)
        if handler is None:
            session.output(wire.error(request_id, "unknown-type", f"no request is called {kind!r}"))
            return
        if not self.greeted and kind != "hello":
            session.output(wire.error(request_id, "hello-first", "say hello first"))
            return
        if kind not in ("hello", "sign-on") and session.stage is not Stage.SIGNED_ON:
            session.output(wire.error(request_id, "not-signed-on", "sign on first"))
            return
        context = _Request(self, request_id)
        self.render = context
        try:
            answered = handler(self, context, request)
        except BadRequest as e:
            session.output(wire.error(context.take(), e.code, str(e), **e.fields))
            return
        if not answered and not context.claimed and not context.lookup and not session.over:
            session.output(wire.reply(context.take()))

    def perform(self, command: commands.Command) -> Event | None:
        """Carry out C{command} in the session: what was relayed, if anything."""
        session = self.session
        assert session is not None
        return session.perform(command)

    def check_size(self, text: str, overhead: int) -> None:
        """Refuse text that would make a relayed line longer than the line limit."""
        room = self.web.server.limits.max_line - overhead
        size = len(text.encode())
        if size > room:
            raise BadRequest(
                f"message too long ({size} bytes; at most {room} from you)", "too-long"
            )

    def clip_reason(self, reason: str | None) -> str | None:
        limit = self.web.server.limits.max_line
        return None if reason is None else line_wire.clip(reason, limit - REASON_ROOM)

    def me(self) -> Participant:
        me = self.participant
        assert me is not None
        return me

    # The session's frontend

    def render_result(self, result: Result | Event, request: _Request) -> bytes:
        """What C{result} is on this wire, answering C{request} if it is the first answer."""
        chat = self.web.server.chat
        match result:
            case results.NicknamePrompt() | results.HistoryCapped():
                return b""
            case results.PasswordPrompt(account=account):
                if request.password is not None and not request.claimed:
                    request.prompted = True
                    return b""
                if request.claimed:
                    return b""  # asked again after a wrong one: the client signs on again
                return wire.error(
                    request.take(),
                    "password-required",
                    f"{account} is registered: give its password",
                )
            case results.Refused(reason=reason, error=error):
                code = wire.error_code(reason, error, lookup=request.lookup)
                fields = wire.error_fields(error, self.web.server.clock.seconds())
                return wire.error(request.take(), code, reason, **fields)
            case results.Welcome(nick=nick):
                session = self.session
                logged_in = None if session is None else session.account
                self.upload_token = secrets.token_urlsafe(32)
                self.web.tokens[self.upload_token] = self
                return wire.reply(
                    request.take(),
                    nick=nick,
                    account=None if logged_in is None else logged_in.name,
                    operator=logged_in is not None and logged_in.operator,
                    upload_token=self.upload_token,
                )
            case results.Entered(room=room, count=count, members=members, topic=topic):
                data = {
                    "name": room,
                    "count": count,
                    "members": wire.members_data(chat, members, room),
                    "topic": wire.topic_data(topic),
                    **wire.room_modes(chat, room),
                }
                request_id = request.take()
                if request_id is None:
                    return wire.encode({"type": "entered", "room": data})
                return wire.reply(request_id, room=data)
            case results.Statistics():
                return wire.reply(
                    request.take(),
                    users=dict(result.users),
                    connections=dict(result.connections),
                    rooms=result.rooms,
                    per_second=round(result.per_second, 3),
                    uptime=round(result.uptime, 3),
                    memory=result.memory,
                )
            case results.Members(room=room, members=members):
                return wire.reply(
                    request.take(), room=room, members=wire.members_data(chat, members, room)
                )
            case results.RoomList(rooms=rooms):
                listed = [
                    {"name": room.name, "count": room.count, "topic": wire.topic_data(room.topic)}
                    for room in rooms
                ]
                return wire.reply(request.take(), rooms=listed)
            case results.Renamed(nick=nick):
                return wire.reply(request.take(), nick=nick)
            case results.Parted(room=room):
                return wire.reply(request.take(), room=room)
            case results.PrivateSent(message=message, away=away):
                now = self.web.server.clock.seconds()
                return wire.reply(request.take(), message=wire.event_data(message, now), away=away)
            case results.InviteSent(invitation=invitation, away=away):
                return wire.reply(
                    request.take(), room=invitation.room, nick=invitation.nick, away=away
                )
            case results.Away(reason=reason):
                return wire.reply(request.take(), away=reason)
            case results.TopicShown(room=room, topic=topic):
                return wire.reply(request.take(), room=room, topic=wire.topic_data(topic))
            case results.Help():
                return wire.reply(request.take(), commands=wire.HELP)
            case results.HistoryFound(room=room, lines=lines, words=words, joining=joining):
                found = self._latest_that_fit(lines)
                if joining:
                    return wire.encode(
                        {"type": "history", "room": room, "lines": found, "joining": True}
                    )
                request_id = request.take()
                if words is not None:
                    return wire.reply(request_id, room=room, words=list(words), lines=found)
                more = len(found) < len(lines) or len(lines) >= request.limit
                return wire.reply(request_id, room=room, lines=found, more=more)
            case results.HistoryUnavailable(room=room):
                # Rendered as the lookup starts, sent instead of its answer if it is late.
                late = f"the history of {room} did not answer in time"
                if request.claimed or not request.lookup:
                    return wire.error(None, "history-unavailable", late, room=room)
                return wire.error(request.id, "history-unavailable", late, room=room)
            case results.Goodbye(why=why, nick=nick):
                return _goodbye(why.value.replace(" ", "-"), _FAREWELLS[why], nick)
            case results.ServerNotice(text=text):
                return wire.encode({"type": "notice", "text": text})
            case results.KickedOut(event=event):
                told = f"{event.by} kicked you out" + (f": {event.reason}" if event.reason else "")
                assert self.events is not None
                return self.events.render(event) + _goodbye("kicked", told, event.nick)
            case results.NickReleased(old=old, new=new):
                said = line_wire.moderation_text(result)
                return wire.encode({"type": "nick-released", "old": old, "new": new, "text": said})
        answer = wire.moderation_data(result)
        if answer is not None:
            said = line_wire.moderation_text(result)  # type: ignore[arg-type]
            return wire.reply(request.take(), **answer, text=said)
        assert self.events is not None
        return self.events.render(result)  # type: ignore[arg-type]  # an event, shown as it is

    def _latest_that_fit(self, lines: tuple[Line, ...]) -> list[Json]:
        """
        The latest of C{lines} as data, as many as fit in the server's
        budget for one answer (L{chatsvc.history.replay.reply_budget}), so
        that an answer alone never makes a slow reader's backlog: the older
        ones are the next page.
        """
        budget = self.web.server.reply_budget
        found: list[Json] = []
        size = 0
        for line in reversed(lines):
            data = wire.line_data(line, self.web.store.links)
            size += len(wire.dumps(data)) + 1
            if size > budget and found:
                break
            found.append(data)
        found.reverse()
        return found

    def send(self, output: bytes) -> None:
        """
        Write C{output}, frames rendered here, after everything sent before
        it: at once if it is the first this turn, else with the rest of the
        turn's at its end, in one write (as L{StreamConnection.send}).
        """
        if self._hung_up or not output or self.state != WebSocketProtocol.STATE_OPEN:
            return
        if self._backlogged:
            self._queued += len(output)
            if self._over_send_buffer():
                return
        server = self.web.server
        if self._turn == server.turn_number:
            if self._held is None:
                server.hold(cast(StreamConnection, self))
                self._held = [output]
            else:
                self._held.append(output)
            return
        self._turn = server.turn()
        self._write_out(output)

    def flush(self) -> None:
        """Write what was held since the first write of this turn, in one go."""
        held, self._held = self._held, None
        if held and not self._hung_up and self.state == WebSocketProtocol.STATE_OPEN:
            self._write_out(self.web.server.joined(held))

    def _write_out(self, data: bytes) -> None:
        """
        Give frames to the transport, as autobahn's C{sendData} does when it
        has nothing queued (it queues only writes it is asked to chop or to
        pace, which this frontend never asks for). If that fills the
        transport's buffer, it pauses us (L{pauseProducing}) before it
        returns, and the bytes of this write are the first counted.
        """
        self._writing = len(data)
        _tcp(self.transport).write(data)
        self._writing = 0
        if self._backlogged:
            self._over_send_buffer()

    def _update_direct(self) -> None:
        """
        Let a room's frames go straight to the socket (the fan-out) if the
        transport can take them so (plain TCP, L{EagerServer}), the WebSocket
        is open, and nothing of the session's must go first.
        """
        ready = (
            not self._hung_up
            and not self._holding
            and self.state == WebSocketProtocol.STATE_OPEN
            and self.session is not None
        )
        set_direct(self, ready)

    def sendCloseFrame(
        self, code: int | None = None, reasonUtf8: bytes | None = None, isReply: bool = False
    ) -> None:
        """Closing, whoever began it: what this turn holds goes first, nothing after."""
        self.flush()
        self._hung_up = True
        self._update_direct()
        super().sendCloseFrame(code, reasonUtf8, isReply)

    def hang_up(self, last: bytes) -> None:
        """Send C{last} after what this turn holds, and close the WebSocket."""
        self.send(last)
        self.flush()
        self._hung_up = True
        self.sendClose(_NORMAL)

    def wait(self, waiting: bool) -> None:
        self._waiting = waiting
        self._update_reading()

    def holding(self, holding: bool) -> None:
        self._holding = holding
        self._update_direct()

    def charge(self, lines: int) -> None:
        assert self._bucket is not None
        self._bucket.charge(self.web.server.clock.seconds(), lines)

    # IChatClient

    def deliver(self, event: Event) -> None:
        if self.session is not None and self.events is not None:
            self.session.output(self.events.render(event))

    def kicked(self, event: Kicked) -> None:
        if self.session is not None:
            self.session.kicked(event)

    # Output: the backlog of a client that does not read

    def pauseProducing(self) -> None:
        if not self._backlogged:
            self._backlogged = True
            self._queued = self._writing
            timeout = self.web.server.limits.send_timeout
            if timeout and self._stalled is None and not self._hung_up:
                self._stalled = self.web.server.clock.callLater(timeout, self._send_timed_out)
            self._update_reading()

    def resumeProducing(self) -> None:
        self._backlogged = False
        if self._stalled is not None:
            if self._stalled.active():
                self._stalled.cancel()
            self._stalled = None
        self._update_reading()

    def stopProducing(self) -> None:
        pass

    def _send_timed_out(self) -> None:
        self._stalled = None
        timeout = self.web.server.limits.send_timeout
        self._drop(
            "{peer} dropped: its output has not drained for {timeout} seconds", timeout=timeout
        )

    def _over_send_buffer(self) -> bool:
        limit = self.web.server.limits.max_send_buffer
        if limit and self._queued > limit and not self._hung_up:
            self._drop(
                "{peer} dropped: over {limit} bytes queued and it is not reading", limit=limit
            )
            return True
        return False

    def _drop(self, why: str, **fields: object) -> None:
        self._log.warn(why, peer=self.peer, **fields)
        self.web.server.traffic.dropped += 1
        if self.session is not None:
            self.session.dropped()
        self._hung_up = True
        self._update_direct()
        self.dropConnection(abort=True)

    def goodbye(self) -> None:
        """The server is stopping: say so, and close."""
        if self.session is not None:
            self.session.goodbye()
        else:
            self.dropConnection(abort=True)


def _goodbye(reason: str, message: str, nick: str | None) -> bytes:
    return wire.encode({"type": "goodbye", "reason": reason, "message": message, "nick": nick})


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _same_origin(origin: str, host: str, secure: bool) -> bool:
    """Whether the page at C{origin} is of the server the request was made to (its C{Host})."""
    try:
        page = urlsplit(origin)
        server = urlsplit(f"//{host}")
        scheme = "https" if secure else "http"
        page_port = page.port or _DEFAULT_PORTS.get(page.scheme)
        server_port = server.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        return False
    return (
        page.scheme == scheme
        and page.hostname is not None
        and page.hostname == server.hostname
        and page_port == server_port
    )


# The requests: each handler returns whether it sent the reply itself.

Handler = Callable[[WebConnection, _Request, Json], bool]


def _hello(connection: WebConnection, request: _Request, fields: Json) -> bool:
    versions = fields.get("versions", fields.get("version"))
    if isinstance(versions, int) and not isinstance(versions, bool):
        versions = [versions]
    if not isinstance(versions, list):
        raise BadRequest("'versions' must be a list of the versions the client speaks")
    session = connection.session
    assert session is not None
    if wire.VERSION not in versions:
        session.output(
            wire.error(
                request.take(),
                "unsupported-version",
                f"this server speaks version {wire.VERSION}",
                versions=list(wire.VERSIONS),
            )
        )
        return True
    connection.greeted = True
    web = connection.web
    server = web.server
    limits = server.limits
    session.output(
        wire.reply(
            request.take(),
            version=wire.VERSION,
            server=f"chatsvc {__version__}",
            lobby=server.chat.lobby.name,
            accounts=server.chat.accounts is not None,
            guests=server.chat.guests,
            registration=server.registrar is not None and server.registrar.open,
            limits={
                "max_line": limits.max_line,
                "max_message": limits.max_line * MESSAGE_FACTOR,
                "max_rooms": server.chat.max_rooms,
                "rate": limits.rate,
                "burst": limits.burst,
                "history_max": HISTORY_MAX,
                "search_results": SEARCH_RESULTS,
                "max_upload": web.max_upload,
                "away_max": AWAY_MAX,
                "name_max": NAME_MAX,
                "min_password": None if server.registrar is None else server.registrar.min_password,
            },
        )
    )
    return True


def _sign_on(connection: WebConnection, request: _Request, fields: Json) -> bool:
    session = connection.session
    assert session is not None
    if session.stage is Stage.SIGNED_ON:
        raise BadRequest(
            "you are signed on already; 'nick' changes your nickname", "already-signed-on"
        )
    nick = wire.required(fields, "nick").strip()
    if not nick:
        raise BadRequest("a nickname is needed", "nickname-invalid")
    # Exactly as given: a password is compared, never shown.
    password = fields.get("password")
    if password is not None and not isinstance(password, str):
        raise BadRequest("'password' must be a string")
    request.password = password.encode("utf-8", "surrogatepass") if password else None
    request.lookup = True  # answered by the session, whenever the password is checked
    if session.stage is Stage.PASSWORD:
        session.give_password(b"")  # back at the nickname prompt, for this one
    session.sign_on_as(nick)
    password_given, request.password = request.password, None  # kept no longer than needed
    if request.prompted and password_given is not None:
        session.give_password(password_given)
    return True


def _room(fields: Json) -> str:
    return wire.required(fields, "room")


def _say(connection: WebConnection, request: _Request, fields: Json) -> bool:
    text = wire.required(fields, "text")
    connection.check_size(text, line_wire.room_overhead(connection.me().nick))
    said = connection.perform(commands.Say(text, _room(fields), wire.flag(fields, "notice")))
    return _relayed(connection, request, said)


def _relayed(connection: WebConnection, request: _Request, event: object) -> bool:
    if event is None or request.claimed:
        return request.claimed
    session = connection.session
    assert session is not None
    payload = connection.web.events.payload(event)  # type: ignore[arg-type]
    session.output(wire.reply_with(request.take(), "message", payload))
    return True


def _me(connection: WebConnection, request: _Request, fields: Json) -> bool:
    text = wire.required(fields, "text")
    connection.check_size(text, line_wire.room_overhead(connection.me().nick))
    return _relayed(connection, request, connection.perform(commands.Me(text, _room(fields))))


def _msg(connection: WebConnection, request: _Request, fields: Json) -> bool:
    nick, text = wire.required(fields, "nick"), wire.required(fields, "text")
    connection.check_size(text, line_wire.private_overhead(connection.me().nick, nick))
    connection.perform(commands.Msg(nick, text, wire.flag(fields, "notice")))
    return True


def _join(connection: WebConnection, request: _Request, fields: Json) -> bool:
    """Into C{room} too (the rooms one is in stay), with its C{key} if it has one (C{+k})."""
    connection.perform(commands.Enter(_room(fields), wire.key(fields)))
    return True


def _leave(connection: WebConnection, request: _Request, fields: Json) -> bool:
    reason = connection.clip_reason(wire.text_field(fields, "reason", optional=True))
    connection.perform(commands.Leave(_room(fields), reason))
    return True


def _nick(connection: WebConnection, request: _Request, fields: Json) -> bool:
    connection.perform(commands.Nick(wire.required(fields, "nick").strip()))
    return True


def _away(connection: WebConnection, request: _Request, fields: Json) -> bool:
    reason = wire.text_field(fields, "reason", optional=True)
    if reason is not None and len(reason.encode()) > AWAY_MAX:
        raise BadRequest(f"an away message is at most {AWAY_MAX} bytes", "too-long")
    connection.perform(commands.Away(reason))
    return True


def _topic(connection: WebConnection, request: _Request, fields: Json) -> bool:
    room = _room(fields)
    text = wire.text_field(fields, "text", optional=True)
    if text is None:
        connection.perform(commands.Topic(None, room))
        return True
    me = connection.me()
    connection.check_size(text, line_wire.topic_overhead(room, me.nick))
    connection.perform(commands.Topic(text, room))
    if not request.claimed:
        chat = connection.web.server.chat
        current = chat.member_of(me, room)
        session = connection.session
        assert session is not None
        session.output(
            wire.reply(request.take(), room=current.name, topic=wire.topic_data(current.topic))
        )
    return True


def _kick(connection: WebConnection, request: _Request, fields: Json) -> bool:
    """Out of C{room}, if it is named (its operators); else out of the chat (server operators)."""
    reason = connection.clip_reason(wire.text_field(fields, "reason", optional=True))
    room = wire.text_field(fields, "room", optional=True)
    connection.perform(commands.Kick(wire.required(fields, "nick"), reason, room))
    return False


# Accounts and moderation: answered by the session's results (wire.moderation_data).


def _register(connection: WebConnection, request: _Request, fields: Json) -> bool:
    connection.perform(commands.Register(_password(fields, "password")))
    return True


def _password(fields: Json, name: str) -> str:
    """A password field, exactly as given (never cleaned: it is compared, never shown)."""
    value = fields.get(name)
    if not isinstance(value, str):
        raise BadRequest(f"{name!r} must be a string")
    return value


def _change_password(connection: WebConnection, request: _Request, fields: Json) -> bool:
    old, new = _password(fields, "old"), _password(fields, "new")
    connection.perform(commands.ChangePassword(old, new))
    return True


def _unregister(connection: WebConnection, request: _Request, fields: Json) -> bool:
    connection.perform(commands.Unregister())
    return True


def _oper(connection: WebConnection, request: _Request, fields: Json) -> bool:
    given = wire.switch(fields, "given", True)
    connection.perform(commands.GrantOperator(wire.required(fields, "account"), given))
    return True


def _room_register(connection: WebConnection, request: _Request, fields: Json) -> bool:
    connection.perform(commands.RegisterRoom(_room(fields)))
    return True


def _room_unregister(connection: WebConnection, request: _Request, fields: Json) -> bool:
    connection.perform(commands.UnregisterRoom(_room(fields)))
    return True


def _room_mode(connection: WebConnection, request: _Request, fields: Json) -> bool:
    changes = wire.mode_changes(fields)
    return _set_modes(connection, request, commands.RoomMode(changes, _room(fields)))


def _set_modes(connection: WebConnection, request: _Request, command: commands.RoomMode) -> bool:
    """
    Set a room's modes, all at once; the room (you too) gets one C{mode}
    event of those that changed something. The reply is the modes now.
    """
    connection.perform(command)
    if not request.claimed:
        chat = connection.web.server.chat
        assert command.room is not None
        room = chat.member_of(connection.me(), command.room)
        session = connection.session
        assert session is not None
        modes = wire.room_modes(chat, room.name)
        session.output(wire.reply(request.take(), room=room.name, **modes))
    return True


def _voice(connection: WebConnection, request: _Request, fields: Json) -> bool:
    """
    Give C{nick} a voice in C{room} (C{given}, by default), or take it: its
    operators only. The room (you too) gets C{voice} if it changed; the
    reply says whether C{nick} has a voice there now.
    """
    room, nick = _room(fields), wire.required(fields, "nick")
    connection.perform(commands.Voice(nick, room, wire.switch(fields, "given", True)))
    if not request.claimed:
        chat = connection.web.server.chat
        found = chat.member_of(connection.me(), room)
        target = chat.find(nick)
        session = connection.session
        assert session is not None and target is not None
        session.output(
            wire.reply(
                request.take(),
                room=found.name,
                nick=target.nick,
                voiced=found.is_voiced(target),
            )
        )
    return True


def _room_rank(connection: WebConnection, request: _Request, fields: Json) -> bool:
    account = wire.required(fields, "account")
    connection.perform(commands.RankInRoom(account, wire.rank(fields), _room(fields)))
    return True


def _sanction(kind: SanctionKind) -> Handler:
    """
    The request that sets a sanction of C{kind} (C{ban}, C{mute}, C{except},
    C{invex}) in its C{room}, or chat-wide (C{null}): the model says who may,
    and refuses a chat-wide exception or invitation (C{room-only}).
    """

    def sanction(connection: WebConnection, request: _Request, fields: Json) -> bool:
        room = wire.scope(fields)
        mask, duration, reason = wire.mask(fields), wire.duration(fields), wire.reason(fields)
        connection.perform(commands.Sanction(kind, mask, room is None, duration, reason, room))
        return True

    return sanction


def _lift(kind: SanctionKind) -> Handler:
    """The request lifting one of C{kind}: C{unban}, C{unmute}, C{unexcept}, C{uninvex}."""

    def lift(connection: WebConnection, request: _Request, fields: Json) -> bool:
        room = wire.scope(fields)
        connection.perform(commands.Lift(kind, wire.mask(fields), room is None, room))
        return True

    return lift


def _bans(connection: WebConnection, request: _Request, fields: Json) -> bool:
    room = wire.scope(fields)
    connection.perform(commands.ListSanctions(room is None, room))
    return True


def _invite(connection: WebConnection, request: _Request, fields: Json) -> bool:
    connection.perform(commands.Invite(wire.required(fields, "nick"), _room(fields)))
    return True


def _stats(connection: WebConnection, request: _Request, fields: Json) -> bool:
    connection.perform(commands.Stats())
    return True


def _wall(connection: WebConnection, request: _Request, fields: Json) -> bool:
    text = wire.required(fields, "text")
    connection.check_size(text, len(line_wire.WALL_PREFIX.format(nick=connection.me().nick)) + 1)
    connection.perform(commands.Wall(text))
    return False


def _members(connection: WebConnection, request: _Request, fields: Json) -> bool:
    connection.perform(commands.Who(_room(fields)))
    return True


def _rooms(connection: WebConnection, request: _Request, fields: Json) -> bool:
    connection.perform(commands.Rooms())
    return True


def _history(connection: WebConnection, request: _Request, fields: Json) -> bool:
    limit = wire.count(fields, "limit", HISTORY_LINES, HISTORY_MAX)
    before, after = wire.number(fields, "before"), wire.number(fields, "after")
    request.limit, request.lookup = limit, True
    connection.perform(commands.History(limit, room=_room(fields), before=before, after=after))
    return True


def _search(connection: WebConnection, request: _Request, fields: Json) -> bool:
    request.lookup = True
    connection.perform(commands.Search(wire.words(fields), _room(fields)))
    return True


def _help(connection: WebConnection, request: _Request, fields: Json) -> bool:
    connection.perform(commands.Help())
    return True


def _quit(connection: WebConnection, request: _Request, fields: Json) -> bool:
    reason = connection.clip_reason(wire.text_field(fields, "reason", optional=True))
    session = connection.session
    assert session is not None
    request.claimed = True  # the goodbye is the answer
    session.quit(reason)
    return True


def _ping(connection: WebConnection, request: _Request, fields: Json) -> bool:
    return False


def _command(connection: WebConnection, request: _Request, fields: Json) -> bool:
    """A line as typed in the client, run as the line protocol runs it, in C{room}."""
    line = wire.required(fields, "line")
    room = wire.text_field(fields, "room", optional=True)
    try:
        command = commands.parse(line)
    except commands.CommandError as e:
        raise wire.command_error(str(e)) from None

    def in_room() -> str:
        if room is None:
            raise BadRequest("'room' is needed: the room the line is typed in")
        return room

    given: Json
    match command:
        case commands.Say(text=text):
            return _say(connection, request, {"text": text, "room": in_room()})
        case commands.Me(text=text):
            return _me(connection, request, {"text": text, "room": in_room()})
        case commands.Msg(nick=nick, text=text):
            return _msg(connection, request, {"nick": nick, "text": text})
        case commands.Join(room=name, key=key) | commands.Enter(room=name, key=key):
            return _join(connection, request, {"room": name, "key": key})
        case commands.Part():
            return _leave(connection, request, {"room": in_room()})
        case commands.Leave(room=name, reason=reason):
            return _leave(connection, request, {"room": name, "reason": reason})
        case commands.Who(room=name):
            return _members(connection, request, {"room": name or in_room()})
        case commands.Topic(text=text):
            return _topic(connection, request, {"room": in_room(), "text": text})
        case commands.History(lines=lines):
            given = {"room": in_room(), "limit": min(lines, HISTORY_MAX)}
            return _history(connection, request, given)
        case commands.Search(words=words):
            return _search(connection, request, {"room": in_room(), "words": list(words)})
        case commands.Away(reason=reason):
            return _away(connection, request, {"reason": reason})
        case commands.Kick(nick="-g", reason=str(words)):
            nick, _, why = words.partition(" ")  # out of the chat
            return _kick(connection, request, {"nick": nick, "reason": why.strip() or None})
        case commands.Kick(nick=nick, reason=reason):
            # Out of the room it is typed in; the lobby is everyone's: out of the chat.
            where = in_room()
            lobby = fold(where) == fold(connection.web.server.chat.lobby.name)
            given = {"nick": nick, "reason": reason, "room": None if lobby else where}
            return _kick(connection, request, given)
        case commands.Stats():
            return _stats(connection, request, {})
        case commands.Wall(text=text):
            return _wall(connection, request, {"text": text})
        case commands.Quit(reason=reason):
            return _quit(connection, request, {"reason": reason})
        case commands.Nick(nick=nick):
            return _nick(connection, request, {"nick": nick})
        case commands.RoomMode(changes=changes):
            return _set_modes(connection, request, commands.RoomMode(changes, in_room()))
        case commands.Voice(nick=nick, room=name, given=voiced):
            given = {"nick": nick, "room": name or in_room(), "given": voiced}
            return _voice(connection, request, given)
        case (
            commands.Invite(room=None)
            | commands.RegisterRoom(room=None)
            | commands.UnregisterRoom(room=None)
            | commands.RankInRoom(room=None)
            | commands.Sanction(chat_wide=False, room=None)
            | commands.Lift(chat_wide=False, room=None)
            | commands.ListSanctions(chat_wide=False, room=None)
        ):
            # In the room it was typed in; with none given, the one joined last.
            connection.perform(command if room is None else attrs.evolve(command, room=room))
            return True
        case _:
            # /rooms, /help; /register, /password, /unregister, /oper; -g (chat-wide)
            connection.perform(command)
            return True


_REQUESTS: dict[str, Handler] = {
    "hello": _hello,
    "sign-on": _sign_on,
    "say": _say,
    "me": _me,
    "msg": _msg,
    "join": _join,
    "leave": _leave,
    "nick": _nick,
    "away": _away,
    "topic": _topic,
    "kick": _kick,
    "invite": _invite,
    "register": _register,
    "password": _change_password,
    "unregister": _unregister,
    "oper": _oper,
    "room-register": _room_register,
    "room-unregister": _room_unregister,
    "room-mode": _room_mode,
    "room-rank": _room_rank,
    "voice": _voice,
    "ban": _sanction(SanctionKind.BAN),
    "unban": _lift(SanctionKind.BAN),
    "mute": _sanction(SanctionKind.MUTE),
    "unmute": _lift(SanctionKind.MUTE),
    "except": _sanction(SanctionKind.EXCEPTION),
    "unexcept": _lift(SanctionKind.EXCEPTION),
    "invex": _sanction(SanctionKind.INVITATION),
    "uninvex": _lift(SanctionKind.INVITATION),
    "bans": _bans,
    "stats": _stats,
    "wall": _wall,
    "members": _members,
    "rooms": _rooms,
    "history": _history,
    "search": _search,
    "command": _command,
    "help": _help,
    "quit": _quit,
    "ping": _ping,
}


class WebSocketFactory(WebSocketServerFactory):
    """The WebSocket connections of one web frontend (L{WebChat})."""

    protocol = WebConnection  # type: ignore[assignment]

    def __init__(self, web: WebChat) -> None:
        super().__init__(server=f"chatsvc/{__version__}")
        self.web = web
        limits = web.server.limits
        self.setProtocolOptions(
            maxMessagePayloadSize=limits.max_line * MESSAGE_FACTOR,
            maxFramePayloadSize=limits.max_line * MESSAGE_FACTOR,
            openHandshakeTimeout=limits.login_timeout or 0,
            closeHandshakeTimeout=5,
            # A message too big, or a protocol error, is told with its close
            # code and reason (1009, ...), not by dropping the connection.
            failByDrop=False,
            webStatus=False,  # no HTML page of autobahn's at /ws
            # Frames are made once for every member (wire.frame): none is compressed.
            perMessageCompressionAccept=lambda offers: None,
            autoPingInterval=30,
            autoPingTimeout=30,
            # Text messages are checked whole, in C (WebConnection.onMessage):
            # autobahn's validator costs a call per frame.
            utf8validateIncoming=False,
        )


class WebChat:
    """
    One web frontend: the chat's server (the line protocol's factory, whose
    sessions, limits and fan-out it shares), the origins allowed besides the
    site's own, the file store and its bounds; and the WebSocket connections
    open, counted with the server's others against C{--max-clients} and
    C{--max-per-ip}.
    """

    def __init__(
        self,
        server: ChatFactory,
        store: FileStore,
        *,
        origins: Iterable[str] = (),
        max_upload: int = MAX_UPLOAD,
        upload_rate: int = UPLOAD_RATE,
    ) -> None:
        self.server = server
        self.store = store
        self.origins = frozenset(origins)
        self.max_upload = max_upload
        self.upload_rate = upload_rate
        self.connections: set[WebConnection] = set()
        server.also_connected.append(self.connections)
        self.tokens: dict[str, WebConnection] = {}
        """Upload tokens, each of a signed-on WebSocket session."""
        self._per_host: dict[str, int] = {}
        self.events = WebEvents(self)
        self.factory = WebSocketFactory(self)

    def admit(self, host: str | None) -> str | None:
        """Why a new connection from C{host} is refused, if it is."""
        limits = self.server.limits
        open_now = len(self.server.connections) + len(self.connections)
        if limits.max_clients and open_now >= limits.max_clients:
            return "the server is full; try again later"
        if host is not None and limits.max_per_ip:
            from_host = self.server.connections_from(host) + self._per_host.get(host, 0)
            if from_host >= limits.max_per_ip:
                return "too many connections from your address; try again later"
        if host is not None:
            self._per_host[host] = self._per_host.get(host, 0) + 1
        return None

    def lost(self, connection: WebConnection, host: str | None) -> None:
        self.connections.discard(connection)
        if host is not None:
            self._per_host[host] -= 1
            if not self._per_host[host]:
                del self._per_host[host]

    def shut_down(self, grace: float = SHUTDOWN_GRACE) -> Deferred[None]:
        """Say goodbye to every WebSocket user, and close; abort those still open after C{grace}."""
        connections = list(self.connections)
        if not connections:
            return succeed(None)
        closed = [connection.is_closed for connection in connections]
        for connection in connections:
            connection.goodbye()
        done: Deferred[None] = DeferredList(closed).addCallback(lambda _: None)
        timer = self.server.clock.callLater(grace, self._abort, connections)
        return done.addBoth(_cancelled, timer)

    def _abort(self, connections: list[WebConnection]) -> None:
        for connection in connections:
            if connection in self.connections:
                connection.dropConnection(abort=True)


def _cancelled(result: object, timer: Any) -> object:
    if timer.active():
        timer.cancel()
    return result
