"""
The WebSocket protocol through the session core, in memory: the server's
L{WebConnection} and autobahn's own client protocol joined by
L{twisted.test.iosim}, on a L{task.Clock}, with L{FakeHistory}; line users
beside them over L{StringTransport}.

Covered: the hello and its versions; signing on (a guest, a registered
nickname with its password, none, a wrong one and the delay after it, a
taken or invalid nickname); every request and its reply or error code;
the slash commands typed in the client; history pages and search, their
answers carrying their request's id when the store answers late; a room's
event framed once for all WebSocket members; the input rate; the backlog of
a client that does not read; kicks and the server's goodbye; text that
looks like markup carried as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.commands import COMMANDS
from chatsvc.chat.events import Message
from chatsvc.frontends.line.server import ChatFactory
from chatsvc.frontends.web import wire
from chatsvc.frontends.web.connection import WebChat, WebConnection
from chatsvc.frontends.web.files import FileStore
from chatsvc.sessions.session import PASSWORD_DELAY
from chatsvc.streams.limits import Limits
from chatsvc.testing import FakeHistory
from tests.support import Connection, end_turn, make_factory, scratch_directory, with_accounts

XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "<svg/onload=alert(1)>",
    "</textarea><iframe src=//evil>",
    "{{constructor.constructor('alert(1)')()}}",
]
"""Text that would run if a client inserted it as HTML."""


class Client(WebSocketClientProtocol):
    """A WebSocket client in memory: what it is sent, parsed, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[dict[str, Any]] = []
        self.frames: list[bytes] = []
        self.closed: tuple[bool, int | None, str | None] | None = None
        self.ids = 0

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.frames.append(payload)
        self.got.append(json.loads(payload))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self.closed = (wasClean, code, reason)


class Web:
    """A web frontend over C{server}, and its clients in memory."""

    def __init__(self, case: SynchronousTestCase, server: ChatFactory) -> None:
        self.server = server
        clock = server.clock
        assert isinstance(clock, Clock)
        self.clock = clock
        self.store = FileStore(scratch_directory(case) / "files")
        self.web = WebChat(server, self.store)
        # Autobahn's own timers run on the global reactor: none in these tests.
        self.web.factory.setProtocolOptions(
            openHandshakeTimeout=0, closeHandshakeTimeout=0, autoPingInterval=0
        )
        self.pumps: list[iosim.IOPump] = []

    def connect(self, origin: str | None = None, address: str = "192.0.2.1") -> User:
        factory = WebSocketClientFactory("ws://chat.example/ws", origin=origin)
        factory.setProtocolOptions(openHandshakeTimeout=0, closeHandshakeTimeout=0)
        factory.protocol = Client
        client = factory.buildProtocol(None)
        assert isinstance(client, Client)
        server = self.web.factory.buildProtocol(None)
        assert isinstance(server, WebConnection)
        peer = IPv4Address("TCP", address, 40000 + len(self.pumps))
        transport = iosim.FakeTransport(server, isServer=True, peerAddress=peer)
        pump = iosim.connect(server, transport, client, iosim.makeFakeClient(client))
        self.pumps.append(pump)
        return User(self, client, server, pump)

    def flush(self) -> None:
        for _ in range(3):
            end_turn(self.server)
            for pump in self.pumps:
                pump.flush()

    def signed_on(self, nick: str, password: str | None = None, address: str = "192.0.2.1") -> User:
        user = self.connect(address=address)
        user.answer("hello", versions=[1])
        fields: dict[str, Any] = {"nick": nick}
        if password is not None:
            fields["password"] = password
        reply = user.answer("sign-on", **fields)
        assert reply["type"] == "reply", reply
        user.take()
        return user


class User:
    def __init__(self, web: Web, client: Client, server: WebConnection, pump: iosim.IOPump):
        self.web, self.client, self.server, self.pump = web, client, server, pump

    def request(self, kind: str, **fields: Any) -> int:
        self.client.ids += 1
        self.send({"type": kind, "id": self.client.ids, **fields})
        return self.client.ids

    def send(self, obj: object) -> None:
        self.client.sendMessage(json.dumps(obj).encode())
        self.web.flush()

    def take(self) -> list[dict[str, Any]]:
        self.web.flush()
        got, self.client.got = self.client.got, []
        return got

    def answer(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The reply or error to a request; what else came is left to L{take}."""
        request_id = self.request(kind, **fields)
        self.web.flush()
        for i, got in enumerate(self.client.got):
            if got.get("id") == request_id and got["type"] in ("reply", "error"):
                del self.client.got[i]
                return got
        raise AssertionError(f"no answer to {kind}: {self.client.got}")

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [got for got in self.take() if got["type"] == kind]


def types(objects: Iterable[dict[str, Any]]) -> list[str]:
    return [obj["type"] for obj in objects]


class HelloTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.web = Web(self, make_factory(history=FakeHistory(Clock())))

    def test_hello_says_the_version_and_the_limits(self) -> None:
        user = self.web.connect()
        reply = user.answer("hello", versions=[1], client="test")
        self.assertEqual(reply["version"], 1)
        self.assertEqual(reply["lobby"], "lobby")
        self.assertEqual(reply["limits"]["max_line"], 4096)
        self.assertEqual(reply["limits"]["max_message"], 4 * 4096)
        self.assertEqual(reply["limits"]["max_upload"], 10 << 20)
        self.assertFalse(reply["accounts"])

    def test_an_unknown_version_is_refused_with_those_spoken(self) -> None:
        user = self.web.connect()
        error = user.answer("hello", versions=[2, 3])
        self.assertEqual((error["code"], error["versions"]), ("unsupported-version", [1]))
        self.assertEqual(user.answer("sign-on", nick="alice")["code"], "hello-first")
        self.assertEqual(user.answer("hello", versions=[2, 1])["type"], "reply")

    def test_requests_before_hello_and_before_signing_on(self) -> None:
        user = self.web.connect()
        self.assertEqual(user.answer("rooms")["code"], "hello-first")
        user.answer("hello", versions=[1])
        self.assertEqual(user.answer("rooms")["code"], "not-signed-on")
        self.assertEqual(user.answer("frobnicate")["code"], "unknown-type")

    def test_what_is_not_a_request(self) -> None:
        user = self.web.connect()
        user.client.sendMessage(b"not json")
        user.client.sendMessage(b"[1, 2]")
        user.client.sendMessage(b'{"type": "hello"}')
        user.client.sendMessage(b'{"id": 9}')
        user.client.sendMessage(b'{"id": true, "type": "hello"}')
        user.client.sendMessage(b"\x00\x01", isBinary=True)
        got = user.take()
        self.assertEqual(types(got), ["error"] * 6)
        self.assertEqual({e["code"] for e in got}, {"bad-request"})
        self.assertEqual([e["id"] for e in got], [None, None, None, 9, None, None])

    def test_an_id_may_be_a_short_string(self) -> None:
        user = self.web.connect()
        user.send({"type": "hello", "id": "a-1", "versions": [1]})
        self.assertEqual(user.take()[0]["id"], "a-1")
        user.send({"type": "hello", "id": "x" * 65, "versions": [1]})
        self.assertEqual(user.take()[0]["code"], "bad-request")

    def test_an_origin_not_allowed_is_refused(self) -> None:
        user = self.web.connect(origin="https://evil.example")
        self.assertIsNotNone(user.client.closed)
        self.assertFalse(self.web.web.connections)
        self.assertEqual(user.client.got, [])

    def test_an_allowed_origin(self) -> None:
        self.web.web.origins = frozenset({"https://chat.example.org"})
        user = self.web.connect(origin="https://chat.example.org")
        self.assertEqual(user.answer("hello", versions=[1])["type"], "reply")

    def test_the_same_origin(self) -> None:
        user = self.web.connect(origin="http://chat.example")  # the URL's host, port 80
        self.assertEqual(user.answer("hello", versions=[1])["type"], "reply")

    def test_counted_with_the_other_wires(self) -> None:
        self.web.server.limits = Limits(max_clients=2)
        Connection(self.web.server)
        self.web.connect()
        refused = self.web.connect()
        self.assertIsNotNone(refused.client.closed)
        self.assertEqual(len(self.web.web.connections), 1)


class SignOnTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = with_accounts(operators=["Root"], history=FakeHistory(Clock()))
        self.web = Web(self, self.server)
        self.user = self.web.connect()
        self.user.answer("hello", versions=[1])

    def test_a_guest(self) -> None:
        reply = self.user.answer("sign-on", nick="carol")
        self.assertEqual(
            {k: reply[k] for k in ("nick", "account", "operator")},
            {"nick": "carol", "account": None, "operator": False},
        )
        self.assertEqual(len(reply["upload_token"]), 43)
        (entered,) = self.user.take()
        self.assertEqual(entered["type"], "entered")
        self.assertEqual(entered["room"]["name"], "lobby")
        self.assertEqual(self.user.answer("sign-on", nick="dave")["code"], "already-signed-on")

    def test_a_registered_nickname_with_its_password(self) -> None:
        reply = self.user.answer("sign-on", nick="root", password="t00r")
        self.assertEqual(
            (reply["nick"], reply["account"], reply["operator"]), ("root", "Root", True)
        )

    def test_a_registered_nickname_without_its_password(self) -> None:
        self.assertEqual(self.user.answer("sign-on", nick="alice")["code"], "password-required")
        self.assertEqual(self.user.answer("sign-on", nick="carol")["nick"], "carol")

    def test_a_wrong_password_then_the_right_one(self) -> None:
        self.assertEqual(
            self.user.answer("sign-on", nick="alice", password="nope")["code"], "wrong-password"
        )
        retry = self.user.request("sign-on", nick="alice", password="secret")
        self.assertEqual(self.user.take(), [], "nothing is read during the delay")
        self.web.clock.advance(PASSWORD_DELAY)
        (reply, entered) = self.user.take()
        self.assertEqual((reply["id"], reply["nick"]), (retry, "alice"))
        self.assertEqual(entered["type"], "entered")

    def test_three_wrong_passwords(self) -> None:
        for _ in range(3):
            self.assertEqual(
                self.user.answer("sign-on", nick="alice", password="nope")["code"],
                "wrong-password",
            )
            self.web.clock.advance(PASSWORD_DELAY)
        (goodbye,) = self.user.take()
        self.assertEqual(goodbye["reason"], "too-many-passwords")
        self.assertEqual(self.user.client.closed, (True, 1000, None))

    def test_nicknames_refused(self) -> None:
        self.web.signed_on("carol")
        self.assertEqual(self.user.answer("sign-on", nick="CAROL")["code"], "nickname-taken")
        self.assertEqual(self.user.answer("sign-on", nick="no spaces")["code"], "nickname-invalid")
        self.assertEqual(self.user.answer("sign-on", nick=" ")["code"], "nickname-invalid")
        for payload in XSS:
            self.assertEqual(self.user.answer("sign-on", nick=payload)["code"], "nickname-invalid")
        self.assertEqual(self.user.answer("sign-on", nick=7)["code"], "bad-request")

    def test_taking_over_a_registered_nickname(self) -> None:
        first = self.web.signed_on("alice", "secret")
        self.assertEqual(
            self.user.answer("sign-on", nick="alice", password="secret")["nick"], "alice"
        )
        (goodbye,) = first.take()
        self.assertEqual((goodbye["type"], goodbye["reason"]), ("goodbye", "replaced"))

    def test_the_login_timeout(self) -> None:
        self.web.clock.advance(self.server.limits.login_timeout)
        (goodbye,) = self.user.take()
        self.assertEqual(goodbye["reason"], "login-timeout")


class RequestTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.history = FakeHistory(Clock())
        self.server = with_accounts(operators=["Root"], history=self.history, replay=20)
        self.history.clock = self.server.clock
        self.web = Web(self, self.server)
        self.alice = self.web.signed_on("alice", "secret")
        self.root = self.web.signed_on("root", "t00r")
        self.alice.take()

    def test_wall_from_an_operator_to_every_wire(self) -> None:
        carol = Connection(self.server)
        carol.send("carol")
        carol.lines()
        self.root.take()
        self.alice.take()
        reply = self.root.answer("wall", text="Restarting at noon")
        self.assertEqual(reply, {"type": "reply", "id": reply["id"]})
        for user in (self.root, self.alice):
            (wall,) = user.events("wall")
            self.assertEqual(
                {k: wall[k] for k in ("type", "from", "text")},
                {"type": "wall", "from": "root", "text": "Restarting at noon"},
            )
            self.assertIsInstance(wall["time"], float)
        self.assertEqual(carol.lines(), ["*** Notice to everyone from root: Restarting at noon"])
        carol.send("/wall no")
        self.assertEqual(carol.lines(), ["*** Error: only operators may send a notice to everyone"])
        refused = self.alice.answer("wall", text="me too")
        self.assertEqual(refused["code"], "not-operator")
        self.assertEqual(self.alice.answer("wall")["code"], "bad-request")
        typed = self.root.answer("command", line="/wall typed", room="lobby")
        self.assertEqual(typed["type"], "reply")
        self.assertEqual([w["text"] for w in self.alice.events("wall")], ["typed"])

    def test_stats_for_operators(self) -> None:
        Connection(self.server).send("carol")
        reply = self.root.answer("stats")
        self.assertEqual(reply["users"], {"line": 1, "irc": 0, "web": 2})
        self.assertEqual(reply["connections"], {"line": 1, "irc": 0, "web": 2})
        self.assertEqual(reply["rooms"], 1)
        self.assertEqual(reply["per_second"], 0)
        self.assertGreaterEqual(reply["uptime"], 0)
        self.assertGreater(reply["memory"], 0)
        self.assertEqual(self.alice.answer("stats")["code"], "not-operator")
        typed = self.root.answer("command", line="/stats", room="lobby")
        self.assertEqual(typed["rooms"], 1)

    def test_say_and_the_others_get_it(self) -> None:
        bob = Connection(self.server)
        bob.send("carol")
        self.alice.take()
        reply = self.alice.answer("say", room="lobby", text="hello")
        message = reply["message"]
        self.assertEqual(
            {k: v for k, v in message.items() if k != "time"},
            {"type": "message", "room": "lobby", "nick": "alice", "text": "hello"},
            "no notice, no files: those are there only when they are so",
        )
        self.assertEqual(self.root.events("message")[0]["text"], "hello")
        end_turn(self.server)
        self.assertIn(b"<alice> hello\n", bob.transport.value())
        self.assertEqual(self.alice.take(), [], "not echoed as an event")
        self.assertEqual(self.history.lines[-1].event, Message("lobby", "alice", "hello"))

    def test_the_reply_to_say_is_the_event_the_room_was_sent_made_once(self) -> None:
        """The sender's reply carries the room's event itself: rendered once, not twice."""
        made: list[object] = []
        event_data, message_payload = wire.event_data, wire.message_payload

        def counted(*args: Any, **kwargs: Any) -> wire.Json:
            made.append(args[0])
            return event_data(*args, **kwargs)

        def counted_message(*args: Any) -> bytes | None:
            written = message_payload(*args)
            if written is not None:
                made.append(args[0])
            return written

        self.patch(wire, "event_data", counted)
        self.patch(wire, "message_payload", counted_message)
        self.web.clock.advance(0.25)
        reply = self.alice.answer("say", room="lobby", text="once")
        self.assertEqual(made, [Message("lobby", "alice", "once")])
        [event] = self.root.events("message")
        self.assertEqual(reply["message"], event)
        self.assertEqual(list(reply), ["type", "id", "message"])
        # A message said to nobody else on the web is made for the reply alone.
        self.root.request("quit")
        self.web.flush()
        made.clear()
        alone = self.alice.answer("say", room="lobby", text="alone")["message"]
        self.assertEqual((alone["text"], len(made)), ("alone", 1))

    def test_say_refused(self) -> None:
        self.assertEqual(self.alice.answer("say", room="dev", text="x")["code"], "not-in-room")
        self.assertEqual(self.alice.answer("say", room="lobby", text="  ")["code"], "empty")
        self.assertEqual(self.alice.answer("say", room="lobby")["code"], "bad-request")
        long = "x" * 4096
        self.assertEqual(self.alice.answer("say", room="lobby", text=long)["code"], "too-long")

    def test_me_and_msg(self) -> None:
        action = self.alice.answer("me", room="lobby", text="waves")["message"]
        self.assertEqual((action["type"], action["text"]), ("action", "waves"))
        self.assertEqual(self.root.events("action")[0]["nick"], "alice")
        self.root.answer("away", reason="lunch")
        sent = self.alice.answer("msg", nick="root", text="psst")
        self.assertEqual(sent["message"]["to"], "root")
        self.assertEqual(sent["away"], "lunch")
        (private,) = self.root.events("private")
        self.assertEqual((private["from"], private["text"]), ("alice", "psst"))
        self.assertEqual(self.alice.answer("msg", nick="nobody", text="x")["code"], "no-such-user")

    def test_room_operators_and_invitations_as_data(self) -> None:
        self.alice.answer("join", room="dev")
        self.alice.take()
        sent = self.alice.answer("command", line="/invite root")
        self.assertEqual((sent["room"], sent["nick"], sent["away"]), ("dev", "root", None))
        (invited,) = self.root.events("invited")
        self.assertEqual((invited["room"], invited["by"]), ("dev", "alice"))
        self.root.answer("join", room="dev")
        joined = self.alice.events("joined")[-1]
        self.assertEqual(joined["member"]["nick"], "root")

    def test_join_and_leave(self) -> None:
        reply = self.alice.answer("join", room="#dev")
        room = reply["room"]
        self.assertEqual((room["name"], room["count"], room["topic"]), ("dev", 1, None))
        # Whoever makes a room is its operator, and the member list says so.
        self.assertEqual(
            room["members"],
            [
                {
                    "nick": "alice",
                    "operator": True,
                    "rank": "operator",
                    "voiced": False,
                    "away": None,
                }
            ],
        )
        (history,) = self.alice.take()
        self.assertEqual(
            (history["type"], history["room"], history["joining"]), ("history", "dev", True)
        )
        self.assertEqual(self.alice.answer("join", room="dev")["code"], "already-in-room")
        self.assertEqual(self.alice.answer("join", room="a b")["code"], "room-name-invalid")
        self.root.answer("join", room="dev")
        joined = self.alice.events("joined")
        self.assertEqual(
            joined,
            [
                {
                    "type": "joined",
                    "room": "dev",
                    "member": {
                        "nick": "root",
                        "operator": True,
                        "rank": "operator",
                        "voiced": False,
                        "away": None,
                    },
                }
            ],
        )
        self.assertEqual(self.alice.answer("leave", room="dev", reason="later")["room"], "dev")
        (left,) = self.root.events("left")
        self.assertEqual(
            (left["room"], left["reason"], left["signed_off"]), ("dev", "later", False)
        )
        self.assertEqual(self.alice.answer("leave", room="dev")["code"], "not-in-room")
        self.assertEqual(self.alice.answer("leave", room="lobby")["room"], "lobby")
        self.assertEqual(self.alice.answer("say", room="lobby", text="x")["code"], "not-in-room")

    def test_too_many_rooms(self) -> None:
        self.server.chat.max_rooms = 2
        self.alice.answer("join", room="dev")
        self.assertEqual(self.alice.answer("join", room="ops")["code"], "too-many-rooms")

    def test_members_mark_operators_and_those_away(self) -> None:
        self.root.answer("away", reason="brb")
        reply = self.alice.answer("members", room="lobby")
        self.assertEqual(
            reply["members"],
            [
                {"nick": "alice", "operator": False, "rank": None, "voiced": False, "away": None},
                {
                    "nick": "root",
                    "operator": True,
                    "rank": "operator",
                    "voiced": False,
                    "away": "brb",
                },
            ],
        )
        self.assertEqual(self.alice.answer("members", room="nowhere")["code"], "no-such-room")

    def test_nick_and_rooms_and_help(self) -> None:
        self.assertEqual(self.root.answer("nick", nick="admin")["nick"], "admin")
        (nick,) = self.alice.events("nick")
        self.assertEqual((nick["old"], nick["new"]), ("root", "admin"))
        self.assertEqual(self.alice.answer("nick", nick="root")["code"], "nickname-registered")
        self.assertEqual(
            self.alice.answer("rooms")["rooms"], [{"name": "lobby", "count": 2, "topic": None}]
        )
        usages = [c["usage"] for c in self.alice.answer("help")["commands"]]
        self.assertIn("/msg NICK TEXT", usages)
        self.assertEqual(self.alice.answer("ping"), {"type": "reply", "id": self.alice.client.ids})

    def test_away(self) -> None:
        self.assertEqual(self.alice.answer("away", reason="lunch")["away"], "lunch")
        self.assertEqual(self.alice.answer("away")["away"], None)
        too_long = "x" * 201
        self.assertEqual(self.alice.answer("away", reason=too_long)["code"], "too-long")

    def test_topic(self) -> None:
        self.assertEqual(self.alice.answer("topic", room="lobby")["topic"], None)
        self.assertEqual(self.alice.answer("topic", room="lobby", text="x")["code"], "not-operator")
        reply = self.root.answer("topic", room="lobby", text=XSS[0])
        self.assertEqual(reply["topic"]["text"], XSS[0])
        self.assertEqual(reply["topic"]["set_by"], "root")
        (event,) = self.alice.events("topic")
        self.assertEqual((event["nick"], event["text"]), ("root", XSS[0]))
        self.assertEqual(self.root.events("topic")[0]["text"], XSS[0], "the setter is told too")
        shown = self.alice.answer("topic", room="lobby")["topic"]
        self.assertEqual(shown["text"], XSS[0])
        self.assertEqual(self.alice.answer("rooms")["rooms"][0]["topic"], shown)

    def test_topic_cleared(self) -> None:
        self.root.answer("topic", room="lobby", text="soon")
        self.alice.events("topic")
        self.assertEqual(self.alice.answer("topic", room="lobby", text="")["code"], "not-operator")
        reply = self.root.answer("topic", room="lobby", text="")
        self.assertEqual((reply["room"], reply["topic"]), ("lobby", None))
        (event,) = self.alice.events("topic")
        self.assertEqual((event["nick"], event["text"]), ("root", ""))
        self.assertIsNone(self.alice.answer("topic", room="lobby")["topic"])

    def test_rooms_most_populous_first(self) -> None:
        self.assertEqual(self.alice.answer("join", room="dev")["room"]["name"], "dev")
        self.assertEqual(self.root.answer("join", room="attic")["room"]["name"], "attic")
        self.alice.answer("join", room="attic")
        self.assertEqual(
            [(room["name"], room["count"]) for room in self.root.answer("rooms")["rooms"]],
            [("attic", 2), ("lobby", 2), ("dev", 1)],
        )

    def test_kick(self) -> None:
        self.assertEqual(self.alice.answer("kick", nick="root")["code"], "not-operator")
        self.assertEqual(
            self.root.answer("kick", nick="alice", reason="spam"),
            {
                "type": "reply",
                "id": self.root.client.ids,
            },
        )
        got = self.alice.take()
        self.assertEqual(types(got), ["kicked", "goodbye"])
        self.assertEqual((got[0]["by"], got[0]["reason"]), ("root", "spam"))
        self.assertEqual(got[1]["reason"], "kicked")
        self.assertEqual(self.alice.client.closed, (True, 1000, None))
        (kicked,) = self.root.events("kicked")
        self.assertEqual(kicked["nick"], "alice")
        self.assertEqual(self.root.answer("kick", nick="root")["code"], "refused")

    def test_quit(self) -> None:
        self.alice.request("quit", reason="done")
        (goodbye,) = self.alice.take()
        self.assertEqual(goodbye["reason"], "quit")
        (left,) = self.root.events("left")
        self.assertEqual(
            (left["reason"], left["from_user"], left["signed_off"]), ("done", True, True)
        )

    def test_xss_payloads_are_carried_as_they_are(self) -> None:
        for payload in XSS:
            self.alice.answer("say", room="lobby", text=payload)
            (message,) = self.root.events("message")
            self.assertEqual(message["text"], payload)
        self.assertTrue(all(frame.startswith(b"{") for frame in self.root.client.frames))


class CommandTests(SynchronousTestCase):
    """What a user types in the client's input, run as the line protocol runs it."""

    def setUp(self) -> None:
        self.server = with_accounts(
            operators=["Root"], history=FakeHistory(Clock()), limits=Limits(rate=0)
        )
        self.web = Web(self, self.server)
        self.alice = self.web.signed_on("alice", "secret")
        self.root = self.web.signed_on("root", "t00r")
        self.alice.take()

    def command(self, user: User, line: str, room: str | None = "lobby") -> dict[str, Any]:
        fields = {"line": line} if room is None else {"line": line, "room": room}
        return user.answer("command", **fields)

    def test_plain_text_and_double_slash(self) -> None:
        self.assertEqual(self.command(self.alice, "hello")["message"]["text"], "hello")
        self.assertEqual(self.command(self.alice, "//etc")["message"]["text"], "/etc")
        self.assertEqual(self.command(self.alice, "hello", room=None)["code"], "bad-request")

    def test_join_keeps_the_other_rooms_and_part_leaves_the_room_typed_in(self) -> None:
        self.assertEqual(self.command(self.alice, "/join dev")["room"]["name"], "dev")
        self.assertEqual(self.command(self.alice, "hi", room="lobby")["type"], "reply")
        self.assertEqual(self.command(self.alice, "/part", room="dev")["room"], "dev")
        self.assertEqual(self.command(self.alice, "/part", room="dev")["code"], "not-in-room")

    def test_every_command(self) -> None:
        self.assertEqual(self.command(self.alice, "/me waves")["message"]["type"], "action")
        self.assertEqual(self.command(self.alice, "/msg root hi")["message"]["text"], "hi")
        self.assertEqual(self.command(self.alice, "/who")["room"], "lobby")
        self.assertEqual(len(self.command(self.alice, "/who lobby")["members"]), 2)
        self.assertEqual(self.command(self.alice, "/rooms")["rooms"][0]["name"], "lobby")
        self.assertEqual(self.command(self.alice, "/away lunch")["away"], "lunch")
        self.assertEqual(self.command(self.alice, "/away")["away"], None)
        self.assertEqual(self.command(self.alice, "/topic")["topic"], None)
        self.assertEqual(self.command(self.root, "/topic news")["topic"]["text"], "news")
        self.assertEqual(types(self.command(self.alice, "/history 5")["lines"]), ["action"])
        self.assertEqual(self.command(self.alice, "/search hi")["words"], ["hi"])
        self.assertEqual(len(self.command(self.alice, "/help")["commands"]), len(COMMANDS))
        self.assertEqual(self.command(self.alice, "/nick alicia")["nick"], "alicia")
        self.assertEqual(self.command(self.alice, "/kick root")["code"], "not-operator")
        self.alice.request("command", line="/quit bye", room="lobby")
        self.assertEqual(self.alice.take()[-1]["reason"], "quit")

    def test_what_is_not_a_command(self) -> None:
        error = self.command(self.alice, "/frob")
        self.assertEqual(
            (error["code"], error["message"]), ("bad-request", "unknown command /frob (try /help)")
        )
        self.assertEqual(self.command(self.alice, "/msg root")["message"], "usage: /msg NICK TEXT")


class HistoryTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_795_000_000)
        self.history = FakeHistory(self.clock)
        self.server = make_factory(
            clock=self.clock, history=self.history, replay=3, limits=Limits(rate=0)
        )
        self.web = Web(self, self.server)
        for i in range(10):
            self.history.record(Message("dev", "bob", f"line {i}"))
            self.clock.advance(1)

    def in_dev(self, nick: str) -> User:
        user = self.web.signed_on(nick)
        user.answer("join", room="dev")
        user.take()
        return user

    def test_the_replay_on_joining(self) -> None:
        alice = self.web.signed_on("alice")
        reply = alice.answer("join", room="dev")
        self.assertEqual(reply["room"]["name"], "dev")
        (history,) = alice.take()
        self.assertEqual(
            [line["text"] for line in history["lines"]], ["line 7", "line 8", "line 9"]
        )
        self.assertTrue(history["joining"])
        self.assertEqual(history["lines"][0]["type"], "message")
        self.assertEqual(history["lines"][0]["time"], self.history.lines[7].when)

    def test_pages(self) -> None:
        alice = self.in_dev("alice")
        page = alice.answer("history", room="dev", limit=4)
        self.assertEqual(
            [line["text"] for line in page["lines"]], [f"line {i}" for i in range(6, 10)]
        )
        self.assertTrue(page["more"])
        older = alice.answer("history", room="dev", limit=4, before=page["lines"][0]["time"])
        self.assertEqual(
            [line["text"] for line in older["lines"]], [f"line {i}" for i in range(2, 6)]
        )
        oldest = alice.answer("history", room="dev", limit=4, before=older["lines"][0]["time"])
        self.assertEqual([line["text"] for line in oldest["lines"]], ["line 0", "line 1"])
        self.assertFalse(oldest["more"])
        missed = alice.answer("history", room="dev", after=self.history.lines[7].when)
        self.assertEqual([line["text"] for line in missed["lines"]], ["line 8", "line 9"])

    def test_an_answer_fits_the_budget_of_one_reply(self) -> None:
        self.server.reply_budget = 3000
        alice = self.in_dev("alice")
        for i in range(10):
            self.history.record(Message("dev", "bob", f"long {i} " + "x" * 1000))
            self.clock.advance(1)
        page = alice.answer("history", room="dev", limit=10)
        self.assertEqual([line["text"][:6] for line in page["lines"]], ["long 8", "long 9"])
        self.assertTrue(page["more"])

    def test_bad_pages(self) -> None:
        alice = self.in_dev("alice")
        for fields in ({"limit": 0}, {"limit": 501}, {"limit": "5"}, {"before": "yesterday"}):
            error = alice.answer("history", room="dev", **fields)
            self.assertEqual(error["code"], "bad-request", fields)
        self.assertEqual(alice.answer("history", room="nowhere")["code"], "no-such-room")

    def test_search_in_a_room(self) -> None:
        alice = self.in_dev("alice")
        found = alice.answer("search", room="dev", words="LINE 3")
        self.assertEqual([line["text"] for line in found["lines"]], ["line 3"])
        self.assertEqual(found["words"], ["LINE", "3"])
        found = alice.answer("search", room="dev", words=["line", "9"])
        self.assertEqual([line["text"] for line in found["lines"]], ["line 9"])
        self.assertEqual(alice.answer("search", room="dev", words=[])["code"], "bad-request")

    def test_a_late_answer_carries_its_id_and_events_wait_behind_it(self) -> None:
        alice = self.in_dev("alice")
        bob = self.web.signed_on("bob")
        alice.take()
        self.history.at_once = False
        asked = alice.request("history", room="dev", limit=2)
        searched = alice.request("search", room="dev", words="line")
        bob.answer("say", room="lobby", text="meanwhile")
        self.assertEqual(alice.take(), [])
        self.history.answer()
        got = alice.take()
        self.assertEqual(types(got), ["reply", "reply", "message"])
        self.assertEqual((got[0]["id"], len(got[0]["lines"])), (asked, 2))
        self.assertEqual((got[1]["id"], got[1]["words"]), (searched, ["line"]))
        self.assertEqual(got[2]["text"], "meanwhile")

    def test_a_lookup_that_fails(self) -> None:
        alice = self.in_dev("alice")
        self.history.at_once = False
        asked = alice.request("history", room="dev")
        self.history.fail(Exception("disk on fire"))
        (error,) = alice.take()
        self.assertEqual((error["id"], error["code"]), (asked, "history-unavailable"))
        self.flushLoggedErrors()

    def test_a_lookup_that_is_late(self) -> None:
        alice = self.in_dev("alice")
        self.history.at_once = False
        asked = alice.request("history", room="dev")
        self.clock.advance(10)
        (error,) = alice.take()
        self.assertEqual((error["id"], error["code"]), (asked, "history-unavailable"))

    def test_too_many_lookups(self) -> None:
        alice = self.in_dev("alice")
        self.history.at_once = False
        for _ in range(4):
            alice.request("history", room="dev")
        refused = alice.request("history", room="dev")
        self.history.answer()
        got = alice.take()
        self.assertEqual([g["id"] for g in got if g["type"] == "error"], [refused])
        self.assertEqual([g["code"] for g in got if g["type"] == "error"], ["busy"])


class WireTests(SynchronousTestCase):
    """What the WebSocket costs: the fan-out, the rate, the backlog."""

    def readers(self, count: int) -> tuple[ChatFactory, Web, list[User], Connection]:
        """C{count} WebSocket users and a line-protocol user in the lobby, all caught up."""
        server = make_factory()
        web = Web(self, server)
        users = [web.signed_on(f"u{i}") for i in range(count)]
        line = Connection(server)
        line.send("liner")
        for user in users:
            user.take()
        return server, web, users, line

    def test_a_room_event_is_framed_once_for_every_websocket_member(self) -> None:
        _, web, users, line = self.readers(4)
        rendered: list[bytes] = []
        events = web.web.events
        original = events.render

        def render(event: Any) -> bytes:
            rendered.append(original(event))
            return rendered[-1]

        events.render = render  # type: ignore[method-assign]
        line.send("hello all")
        self.assertEqual(len(rendered), 1, "rendered and framed once for four")
        for user in users:
            self.assertEqual(user.events("message")[0]["text"], "hello all")

    def test_a_burst_is_one_write_at_the_end_of_the_turn(self) -> None:
        server, _, [user], line = self.readers(1)
        stream = user.server.transport.stream  # type: ignore[union-attr]
        line.protocol.dataReceived(b"".join(b"line %d\n" % i for i in range(5)))
        self.assertEqual(len(stream), 1, "the first at once")
        end_turn(server)
        self.assertEqual(len(stream), 2, "the other four together")
        texts = [got["text"] for got in user.take() if got["type"] == "message"]
        self.assertEqual(texts, [f"line {i}" for i in range(5)])

    def test_a_burst_is_joined_once_for_every_websocket_reader(self) -> None:
        server, _, users, line = self.readers(3)
        streams = [user.server.transport.stream for user in users]  # type: ignore[union-attr]
        line.protocol.dataReceived(b"".join(b"line %d\n" % i for i in range(5)))
        end_turn(server)
        writes = [stream[1] for stream in streams]
        for write in writes[1:]:
            self.assertIs(write, writes[0], "one write for the three")
        for user in users:
            texts = [got["text"] for got in user.take() if got["type"] == "message"]
            self.assertEqual(texts, [f"line {i}" for i in range(5)])

    def test_requests_over_the_rate_wait_their_turn(self) -> None:
        server = make_factory(limits=Limits(rate=1, burst=3))
        web = Web(self, server)
        user = web.connect()
        for _ in range(6):
            user.request("ping")
        self.assertEqual(len(user.take()), 3)
        web.clock.advance(1)
        self.assertEqual(len(user.take()), 1)
        web.clock.advance(2)
        self.assertEqual([got["id"] for got in user.take()], [5, 6])

    def test_a_client_that_does_not_read_is_dropped(self) -> None:
        server = make_factory(limits=Limits(max_send_buffer=10_000, rate=0))
        web = Web(self, server)
        slow = web.signed_on("slow")
        other = web.signed_on("other")
        slow.take()
        slow.server.pauseProducing()  # its transport's buffer is full
        for i in range(20):
            other.request("say", room="lobby", text=f"{i:04} " + "x" * 1000)
        self.assertTrue(slow.server.transport.disconnecting)  # type: ignore[union-attr]
        web.flush()
        (left,) = other.events("left")
        self.assertEqual((left["nick"], left["reason"]), ("slow", "not reading"))

    def test_a_client_whose_output_does_not_drain_is_dropped(self) -> None:
        server = make_factory(limits=Limits(send_timeout=30))
        web = Web(self, server)
        slow = web.signed_on("slow")
        slow.server.pauseProducing()
        web.clock.advance(29)
        self.assertFalse(slow.server.transport.disconnecting)  # type: ignore[union-attr]
        slow.server.resumeProducing()
        web.clock.advance(29)
        slow.server.pauseProducing()
        web.clock.advance(30)
        self.assertTrue(slow.server.transport.disconnecting)  # type: ignore[union-attr]

    def test_the_server_says_goodbye(self) -> None:
        server = make_factory()
        web = Web(self, server)
        user = web.signed_on("alice")
        closing = web.web.shut_down()
        web.flush()
        (goodbye,) = user.take()
        self.assertEqual(goodbye["reason"], "shutdown")
        self.assertEqual(user.client.closed, (True, 1000, None))
        self.assertIsNotNone(self.successResultOf(closing) or True)

    def test_a_server_notice_and_a_nickname_taken_on_another_node(self) -> None:
        server = make_factory()
        web = Web(self, server)
        user = web.signed_on("alice")
        session = user.server.session
        assert session is not None
        session.tell("the other servers of this chat cannot be reached")
        self.assertEqual(
            user.take(),
            [{"type": "notice", "text": "the other servers of this chat cannot be reached"}],
        )
        session.lose_nickname()
        (goodbye,) = user.take()
        self.assertEqual(
            (goodbye["type"], goodbye["reason"], goodbye["message"], goodbye["nick"]),
            (
                "goodbye",
                "nickname-claimed",
                "your nickname was taken on another server of this chat",
                "alice",
            ),
        )

    def test_a_message_too_big_closes_the_connection(self) -> None:
        server = make_factory(limits=Limits(max_line=256))
        web = Web(self, server)
        user = web.signed_on("alice")
        user.client.sendMessage(b'{"type":"ping","id":1,"x":"' + b"x" * 1100 + b'"}')
        web.flush()
        assert user.client.closed is not None
        self.assertEqual(user.client.closed[1], 1009)
        self.assertIn("1024", user.client.closed[2] or "")

    def test_a_text_message_that_is_not_utf8_closes_the_connection(self) -> None:
        """
        As RFC 6455 asks (close code 1007); a message after it is not read,
        and the others in the room lose nothing.
        """
        web = Web(self, make_factory())
        alice, bob = web.signed_on("alice"), web.signed_on("bob")
        bob.take()
        alice.client.sendMessage(b'{"type":"say","id":1,"room":"lobby","text":"caf\xe9"}')
        alice.client.sendMessage(b'{"type":"say","id":2,"room":"lobby","text":"after"}')
        web.flush()
        assert alice.client.closed is not None
        self.assertEqual(alice.client.closed[1], 1007)
        self.assertEqual([got for got in bob.take() if got["type"] == "message"], [])
        carol = web.signed_on("carol")
        carol.answer("say", room="lobby", text="still here")
        self.assertEqual([got["text"] for got in bob.events("message")], ["still here"])
