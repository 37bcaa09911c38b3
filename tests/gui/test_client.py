"""
What the desktop client sends, and makes of what it gets, without Tk or a
socket: a fake connection that records the requests, and the server's
replies and events handed in as the JSON objects they are.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from OpenSSL import SSL
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from zope.interface import implementer
from zope.interface.verify import verifyObject

from chatsvc.gui.client import ChatClient, ChatWebSocket, IClientView, ServerAddress
from chatsvc.gui.state import ChatState, Kind
from tests.gui.test_state import FixedClock, room


class FakeLink:
    """A connection that keeps what is sent on it."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(dict(message))

    def close(self) -> None:
        self.closed = True


@implementer(IClientView)
class RecordingClientView:
    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.asked: list[str | None] = []
        self.signed: list[str] = []

    def status(self, text: str) -> None:
        self.statuses.append(text)

    def sign_on_wanted(self, message: str | None) -> None:
        self.asked.append(message)

    def signed_on(self, nick: str) -> None:
        self.signed.append(nick)


class Harness:
    """A client, its state, its view, and the connection it is on now."""

    def __init__(self, nick: str = "alice", password: str | None = None) -> None:
        self.clock = Clock()
        self.state = ChatState(clock=FixedClock())
        self.view = RecordingClientView()
        self.client = ChatClient(self.state, self.clock, view=self.view, backoff=lambda n: 1.5)
        self.client.address = ServerAddress("127.0.0.1", 8081)
        self.client.sign_on_as(nick, password)
        self.nick = nick
        self.link = FakeLink()

    def connect(self) -> FakeLink:
        self.link = FakeLink()
        self.client.connected(cast(ChatWebSocket, self.link))
        return self.link

    def last(self) -> dict[str, Any]:
        return self.link.sent[-1]

    def reply(self, **fields: Any) -> None:
        request = self.last()
        self.receive({"type": "reply", "id": request["id"], **fields})

    def refuse(self, code: str, message: str) -> None:
        self.receive({"type": "error", "id": self.last()["id"], "code": code, "message": message})

    def receive(self, message: dict[str, Any]) -> None:
        self.client.received(cast(ChatWebSocket, self.link), message)

    def sign_on(self, *rooms: dict[str, Any]) -> None:
        self.connect()
        self.reply(version=1, lobby="lobby")
        self.reply(nick=self.nick, account=None, upload_token="t")
        for data in rooms or (room("lobby", "alice", "bob"),):
            self.receive({"type": "entered", "room": data})

    def lose(self, reason: Failure | None = None) -> None:
        self.client.disconnected(
            cast(ChatWebSocket, self.link), reason or Failure(ConnectionDone())
        )


# The address


@pytest.mark.parametrize(
    ("given", "url", "web"),
    [
        ("localhost", "ws://localhost:8081/ws", "http://localhost:8081/"),
        ("localhost:9000", "ws://localhost:9000/ws", "http://localhost:9000/"),
        ("http://127.0.0.1:8081/", "ws://127.0.0.1:8081/ws", "http://127.0.0.1:8081/"),
        ("http://chat.example.org/", "ws://chat.example.org:80/ws", "http://chat.example.org:80/"),
        (
            "https://chat.example.org",
            "wss://chat.example.org:443/ws",
            "https://chat.example.org:443/",
        ),
        (
            "wss://chat.example.org:8443/ws",
            "wss://chat.example.org:8443/ws",
            "https://chat.example.org:8443/",
        ),
        ("http://[::1]:8081/chat/", "ws://[::1]:8081/chat/ws", "http://[::1]:8081/chat/"),
    ],
)
def test_an_address_is_the_browser_s_or_the_websocket_s(given: str, url: str, web: str) -> None:
    address = ServerAddress.parse(given)
    assert (address.url, address.web) == (url, web)


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("", "give the server's address"),
        ("ftp://host/", "ftp: is not a chat address (use http, https, ws or wss)"),
        ("http://host:99999/", "http://host:99999/: the port is not a number from 1 to 65535"),
        ("http://:8081/", "http://:8081/: no host in it"),
    ],
)
def test_a_bad_address_says_why(given: str, why: str) -> None:
    with pytest.raises(ValueError, match="^" + why.replace("(", r"\(").replace(")", r"\)") + "$"):
        ServerAddress.parse(given)


# Signing on


def test_the_view_is_a_client_view() -> None:
    assert verifyObject(IClientView, RecordingClientView())


def test_it_says_hello_then_signs_on_then_shows_the_lobby() -> None:
    h = Harness()
    link = h.connect()
    assert link.sent == [
        {"type": "hello", "id": 1, "versions": [1], "client": link.sent[0]["client"]}
    ]
    assert link.sent[0]["client"].startswith("chatsvc-gui/")
    h.reply(version=1, lobby="hall")
    assert h.last() == {"type": "sign-on", "id": 2, "nick": "alice"}
    h.reply(nick="alice", account=None, upload_token="tok")
    assert h.view.signed == ["alice"] and h.client.upload_token == "tok"
    assert h.view.statuses[-1] == "Signed on to http://127.0.0.1:8081/ as alice"
    h.receive({"type": "entered", "room": room("hall", "alice")})
    assert h.state.on_view is not None and h.state.on_view.name == "hall"
    assert h.state.lobby == "hall"


def test_a_password_goes_in_the_sign_on() -> None:
    h = Harness(password="hunter2")
    h.connect()
    h.reply(version=1, lobby="lobby")
    assert h.last() == {"type": "sign-on", "id": 2, "nick": "alice", "password": "hunter2"}


@pytest.mark.parametrize(
    ("code", "told"),
    [
        ("wrong-password", "Wrong password for alice."),
        ("password-required", "alice is registered: give its password."),
        ("nickname-taken", "the nickname alice is taken"),
    ],
)
def test_a_refused_sign_on_asks_again_saying_why(code: str, told: str) -> None:
    h = Harness()
    h.connect()
    h.reply(version=1, lobby="lobby")
    h.refuse(code, "the nickname alice is taken")
    assert h.view.asked == [told]
    assert h.view.statuses[-1] == f"Not signed on: {told}"
    assert not h.client.signed_on


def test_the_dialog_signs_on_again_over_the_same_connection() -> None:
    h = Harness()
    h.connect()
    h.reply(version=1, lobby="lobby")
    h.refuse("nickname-taken", "taken")
    address = h.client.address
    assert address is not None
    h.client.start(address, "alicia", None)
    assert h.last() == {"type": "sign-on", "id": 3, "nick": "alicia"}


# Saying things


def test_a_line_is_said_in_the_room_on_view_and_shown_as_relayed() -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("hello <b>world</b>")
    assert h.last() == {"type": "say", "id": 3, "room": "lobby", "text": "hello <b>world</b>"}
    h.reply(
        message={
            "type": "message",
            "room": "lobby",
            "nick": "alice",
            "text": "hello <b>world</b>",
            "time": 0.0,
        }
    )
    lobby = h.state.room("lobby")
    assert lobby is not None
    assert [e.render() for e in lobby.entries] == ["[13:45] <alice> hello <b>world</b>"]
    assert lobby.entries[0].own


def test_two_slashes_say_a_line_that_starts_with_one() -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("//etc/passwd is a file")
    assert h.last()["type"] == "say" and h.last()["text"] == "/etc/passwd is a file"


def test_a_command_goes_as_typed_and_its_answer_is_shown() -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("/who")
    assert h.last() == {"type": "command", "id": 3, "line": "/who", "room": "lobby"}
    h.reply(room="lobby", members=[{"nick": "alice"}, {"nick": "bob", "operator": True}])
    lobby = h.state.room("lobby")
    assert lobby is not None
    assert (lobby.entries[-1].kind, lobby.entries[-1].text) == (Kind.INFO, "In #lobby: alice, @bob")


def test_a_refused_command_is_shown_as_an_error() -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("/frob")
    h.refuse("bad-request", "unknown command /frob (try /help)")
    lobby = h.state.room("lobby")
    assert lobby is not None
    assert (lobby.entries[-1].kind, lobby.entries[-1].text) == (
        Kind.ERROR,
        "unknown command /frob (try /help)",
    )


def test_join_puts_the_room_beside_the_others_and_on_view() -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("/join #dev")
    assert h.last() == {"type": "join", "id": 3, "room": "dev"}
    h.reply(room=room("dev", "alice", "root", topic="ship it"))
    assert [c.name for c in h.state] == ["lobby", "dev"]
    assert h.state.current == "room:dev"
    h.client.submit("/part")
    assert h.last() == {"type": "leave", "id": 4, "room": "dev"}
    h.reply(room="dev")
    assert [c.name for c in h.state] == ["lobby"]


def test_join_with_a_key_gives_it_and_a_reconnection_gives_the_key_the_room_has_then() -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("/join dev beer")
    assert h.last() == {"type": "join", "id": 3, "room": "dev", "key": "beer"}
    h.reply(room={**room("dev", "alice"), "key": "beer"})
    dev = h.state.room("dev")
    assert dev is not None and dev.join_key == "beer"
    # Its operators change the key meanwhile: the one to give is the new one.
    change = {"mode": "k", "on": True, "value": "stout"}
    h.receive({"type": "mode", "room": "dev", "by": "bob", "changes": [change]})
    h.client.submit("/join attic")
    assert h.last() == {"type": "join", "id": 4, "room": "attic"}
    h.refuse("bad-key", "attic has a key: join it with the right one (/join attic KEY)")
    told = dev.entries[-1]  # in the room on view
    assert (told.kind, told.text) == (
        Kind.ERROR,
        "attic has a key: join it with the right one (/join attic KEY).",
    )
    h.client.submit("/join attic a b")  # not /join's: the server says how it goes
    assert h.last()["type"] == "command"
    h.lose()
    h.connect()
    h.reply(version=1, lobby="lobby")
    h.reply(nick="alice", account=None, upload_token="t2")
    assert h.last() == {"type": "join", "id": 8, "room": "dev", "key": "stout"}


def test_msg_opens_the_private_conversation_where_lines_are_sent_to_the_peer() -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("/msg bob are you there?")
    assert h.last() == {"type": "msg", "id": 3, "nick": "bob", "text": "are you there?"}
    h.reply(
        message={
            "type": "private",
            "from": "alice",
            "to": "bob",
            "text": "are you there?",
            "time": 0.0,
        },
        away="lunch",
    )
    assert h.state.current == "private:bob"
    h.client.submit("hello?")
    assert h.last() == {"type": "msg", "id": 4, "nick": "bob", "text": "hello?"}
    talk = h.state.on_view
    assert talk is not None
    assert [e.render() for e in talk.entries] == [
        "[13:45] <alice> are you there?",
        "[13:45] *** bob is away: lunch",
    ]


def test_lines_typed_offline_are_held_and_sent_once_back() -> None:
    h = Harness()
    h.sign_on()
    h.lose()
    h.client.submit("anyone?")
    lobby = h.state.room("lobby")
    assert lobby is not None and lobby.entries[-1].text == "Not connected: sent once back."
    h.connect()
    h.reply(version=1, lobby="lobby")
    h.reply(nick="alice", account=None, upload_token="t2")
    assert h.last() == {"type": "say", "id": 5, "room": "lobby", "text": "anyone?"}


# Reconnecting


def test_after_a_reconnection_it_signs_on_again_into_its_rooms_with_what_was_missed() -> None:
    h = Harness(password="hunter2")
    h.sign_on()
    h.client.submit("/join dev")
    h.reply(room=room("dev", "alice"))
    h.receive(
        {
            "type": "history",
            "room": "dev",
            "lines": [
                {"type": "message", "room": "dev", "nick": "bob", "text": "old", "time": 100.0},
            ],
            "joining": True,
        }
    )
    h.lose(Failure(ConnectionLost()))
    dev = h.state.room("dev")
    assert dev is not None and not dev.joined
    assert h.client.retry_delay(1) == 1.5
    assert [e.text for e in dev.entries[-2:]] == [
        "Connection lost: Connection to the other side was lost in a non-clean fashion.",
        "Reconnecting in 1.5 seconds.",
    ]
    h.connect()
    assert dev.entries[-1].text == "Connected again."
    h.reply(version=1, lobby="lobby")
    assert h.last() == {"type": "sign-on", "id": 5, "nick": "alice", "password": "hunter2"}
    h.reply(nick="alice", account="alice", upload_token="t2")
    assert h.last() == {"type": "join", "id": 6, "room": "dev"}
    assert dev.entries[-1].text == "Signed on again as alice."
    h.receive({"type": "entered", "room": room("lobby", "alice")})
    h.reply(room=room("dev", "alice"))
    assert dev.joined
    assert h.last() == {"type": "history", "id": 7, "room": "dev", "limit": 500, "after": 100.0}
    h.reply(
        room="dev",
        lines=[
            {"type": "message", "room": "dev", "nick": "bob", "text": "old", "time": 100.0},
            {"type": "message", "room": "dev", "nick": "bob", "text": "while away", "time": 160.0},
        ],
    )
    assert [e.text for e in dev.entries if e.said] == ["old", "while away"]


def test_a_guest_whose_nickname_was_taken_meanwhile_takes_a_variant() -> None:
    h = Harness()
    h.sign_on()
    h.lose()
    h.connect()
    h.reply(version=1, lobby="lobby")
    h.refuse("nickname-taken", "the nickname alice is taken")
    assert h.last() == {"type": "sign-on", "id": 5, "nick": "alice_"}
    h.reply(nick="alice_", account=None, upload_token="t")
    assert h.state.nick == "alice_"
    assert h.view.asked == []


@pytest.mark.parametrize(
    ("reason", "told"),
    [
        ("kicked", "You were kicked out: You were kicked by root (spam)"),
        ("replaced", "Signed on from elsewhere; not reconnecting."),
    ],
)
def test_after_a_final_goodbye_it_does_not_sign_on_again_by_itself(reason: str, told: str) -> None:
    h = Harness()
    h.sign_on()
    h.receive({"type": "goodbye", "reason": reason, "message": "You were kicked by root (spam)"})
    h.lose()
    assert h.view.asked == [told]
    assert h.view.statuses[-1] == f"Offline: {told}"
    h.connect()  # were it to connect again all the same
    h.reply(version=1, lobby="lobby")
    assert h.view.asked == [told, None]  # it asks, and does not sign on


def test_a_server_shutting_down_is_said_and_reconnected_to() -> None:
    h = Harness()
    h.sign_on()
    h.receive(
        {
            "type": "goodbye",
            "reason": "shutdown",
            "message": "The server is shutting down. Goodbye!",
        }
    )
    h.lose(Failure(ConnectionLost()))  # after a goodbye, however it closes
    lobby = h.state.room("lobby")
    assert lobby is not None
    assert [e.text for e in lobby.entries[-2:]] == [
        "The server is shutting down. Goodbye!",
        "Connection lost: the server closed the connection.",
    ]
    h.connect()
    h.reply(version=1, lobby="lobby")
    assert h.last()["type"] == "sign-on"


def test_a_first_connection_that_fails_its_tls_says_why_in_words() -> None:
    h = Harness()
    error = SSL.Error([("SSL routines", "", "certificate verify failed")])
    h.client.connection_failed(Failure(error), None)
    assert h.view.asked == [
        "Cannot connect to http://127.0.0.1:8081/: the server's certificate is not trusted "
        "(certificate verify failed)"
    ]


def test_a_refused_upgrade_says_the_server_s_answer() -> None:
    h = Harness()
    h.client.connection_failed(
        Failure(ConnectionDone()), "WebSocket connection upgrade failed [403]: Forbidden"
    )
    assert h.view.asked == [
        "Cannot connect to http://127.0.0.1:8081/: the server refused: Forbidden (HTTP 403)"
    ]


def test_stopping_quits_and_waits_for_the_server_to_close() -> None:
    h = Harness()
    h.sign_on()
    stopped = h.client.stop()
    assert h.last() == {"type": "quit", "id": 3}
    assert not stopped.called
    h.lose()
    assert stopped.called
    assert h.view.asked == []


def test_stopping_gives_up_waiting_after_a_while() -> None:
    h = Harness()
    h.sign_on()
    stopped = h.client.stop()
    h.clock.advance(2.9)
    assert not stopped.called
    h.clock.advance(0.2)
    assert stopped.called


def test_part_closes_a_private_conversation_and_leaves_a_named_room() -> None:
    h = Harness()
    h.sign_on()
    h.client.open_private("bob")
    assert h.state.current == "private:bob"
    sent = len(h.link.sent)
    h.client.submit("/close")
    assert h.state.get("private:bob") is None and len(h.link.sent) == sent
    h.client.submit("/part #dev")
    assert h.last() == {"type": "leave", "id": 3, "room": "dev"}
    h.refuse("not-in-room", "you are not in dev")
    lobby = h.state.room("lobby")
    assert lobby is not None and lobby.entries[-1].text == "you are not in dev"


def test_a_lobby_left_is_left_again_after_a_reconnection() -> None:
    h = Harness()
    h.sign_on(room("lobby", "alice"))
    h.client.submit("/join dev")
    h.reply(room=room("dev", "alice"))
    h.client.submit("/part lobby")
    h.reply(room="lobby")
    assert [c.name for c in h.state] == ["dev"]
    h.lose()
    h.connect()
    h.reply(version=1, lobby="lobby")
    h.reply(nick="alice", account=None, upload_token="t")
    join, leave = h.link.sent[-2:]
    assert (join["type"], join["room"], leave["type"], leave["room"]) == (
        "join",
        "dev",
        "leave",
        "lobby",
    )
    h.receive({"type": "entered", "room": room("lobby", "alice")})  # signing on puts us there
    h.receive({"type": "reply", "id": join["id"], "room": room("dev", "alice")})
    h.receive({"type": "reply", "id": leave["id"], "room": "lobby"})
    assert [c.name for c in h.state] == ["dev"]


def test_what_a_search_found_is_shown_with_who_said_it_and_when() -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("/search green build")
    assert h.last() == {"type": "command", "id": 3, "line": "/search green build", "room": "lobby"}
    found = {"type": "message", "room": "lobby", "nick": "bob", "text": "the build is green"}
    h.reply(room="lobby", words=["green", "build"], lines=[{**found, "time": 0.0}])
    lobby = h.state.room("lobby")
    assert lobby is not None
    assert [e.render() for e in lobby.entries[-2:]] == [
        "[13:45] *** 1 found for green build:",
        "[13:45] <bob> the build is green",
    ]
    assert not lobby.entries[-1].said  # not a line of the room's log: "missed since" ignores it


# Moderation


def banned_error(h: Harness, message: str, **more: Any) -> None:
    sanction = {"kind": "ban", "mask": "nick:alice", "room": None, "by": "root", "reason": "spam"}
    h.receive(
        {
            "type": "error",
            "id": h.last()["id"],
            "code": "banned",
            "message": message,
            "sanction": sanction,
            "left": 5400.0,
            **more,
        }
    )


def test_a_chat_wide_ban_at_sign_on_is_said_and_final() -> None:
    h = Harness()
    h.connect()
    h.reply(version=1, lobby="lobby")
    banned_error(h, "you are banned from the chat for 1h 30m (until 2026-12-01 22:30 UTC): spam")
    told = "You are banned from the chat for 1h 30m (until 2026-12-01 22:30 UTC): spam."
    assert h.view.asked == [told]
    assert h.view.statuses[-1] == f"Not signed on: {told}"
    assert h.link.closed  # it lets go of the server, and signs on again only when asked
    assert [m["type"] for m in h.link.sent] == ["hello", "sign-on"]
    h.lose()
    assert h.view.asked == [told, told]
    assert h.view.statuses[-1] == f"Offline: {told}"
    h.connect()  # were it to connect again all the same
    h.reply(version=1, lobby="lobby")
    assert h.last()["type"] == "hello"  # it asks, and does not sign on
    assert h.view.asked[-1] is None


def test_banned_from_the_chat_while_in_it_the_ban_s_words_are_the_goodbye() -> None:
    h = Harness()
    h.sign_on()
    said = "you are banned from the chat for 2h (until 2026-12-01 23:00 UTC): spam"
    h.receive(
        {
            "type": "sanctioned",
            "nick": "alice",
            "kind": "ban",
            "room": None,
            "by": "root",
            "reason": "spam",
            "until": 7200.0,
            "left": 7200.0,
            "given": True,
            "text": said,
        }
    )
    h.receive({"type": "kicked", "room": "lobby", "nick": "alice", "by": "root", "reason": said})
    h.receive({"type": "goodbye", "reason": "kicked", "message": "root kicked you out"})
    h.lose()
    told = "You are banned from the chat for 2h (until 2026-12-01 23:00 UTC): spam."
    assert h.view.asked == [told]
    assert h.view.statuses[-1] == f"Offline: {told}"
    lobby = h.state.room("lobby")
    assert lobby is not None
    assert (lobby.entries[0].kind, lobby.entries[0].text) == (Kind.SANCTION, told)
    # Back once the ban ran out, a kick is a kick again.
    h.sign_on()
    h.receive({"type": "goodbye", "reason": "kicked", "message": "root kicked you out"})
    h.lose()
    assert h.view.asked[-1] == "You were kicked out: root kicked you out"


@pytest.mark.parametrize(
    ("code", "message", "told"),
    [
        (
            "banned",
            "you are banned from dev for good: spam",
            "You are banned from dev for good: spam.",
        ),
        ("muted", "", "You are muted in #dev for 1h 30m: spam."),
        (
            "invite-only",
            "dev is invite-only: an operator of it must /invite you",
            "dev is invite-only: an operator of it must /invite you.",
        ),
        (
            "moderated",
            "dev is moderated: only its operators and voiced members may speak",
            "dev is moderated: only its operators and voiced members may speak.",
        ),
        (
            "bad-key",
            "dev has a key: join it with the right one (/join dev KEY)",
            "dev has a key: join it with the right one (/join dev KEY).",
        ),
        (
            "room-full",
            "dev is full: it takes 20 members at most",
            "dev is full: it takes 20 members at most.",
        ),
    ],
)
def test_a_refusal_of_moderation_says_why_and_for_how_long(
    code: str, message: str, told: str
) -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("/join dev")
    sanction = {
        "kind": {"banned": "ban", "muted": "mute"}.get(code, "ban"),
        "mask": "nick:alice",
        "room": "dev",
        "by": "bob",
        "reason": "spam",
    }
    h.receive(
        {
            "type": "error",
            "id": h.last()["id"],
            "code": code,
            "message": message,
            "sanction": sanction,
            "left": 5400.0,
        }
    )
    lobby = h.state.room("lobby")
    assert lobby is not None
    assert (lobby.entries[-1].kind, lobby.entries[-1].text) == (Kind.ERROR, told)


def test_put_out_of_its_last_room_it_is_shown_the_lobby_it_was_put_in() -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("/join dev")
    h.reply(room=room("dev", "alice", "bob"))
    h.client.leave("lobby")
    h.reply(room="lobby")
    assert h.state.room("lobby") is None and h.state.current == "room:dev"
    h.receive(
        {
            "type": "removed",
            "room": "dev",
            "nick": "alice",
            "by": "bob",
            "reason": "banned: spam",
            "to": "lobby",
        }
    )
    members, topic = h.link.sent[-2:]
    assert members == {"type": "members", "id": members["id"], "room": "lobby"}
    assert topic == {"type": "topic", "id": topic["id"], "room": "lobby"}
    h.receive(
        {
            "type": "reply",
            "id": members["id"],
            "room": "lobby",
            "members": [{"nick": "alice"}, {"nick": "carol"}],
        }
    )
    h.receive(
        {
            "type": "reply",
            "id": topic["id"],
            "room": "lobby",
            "topic": {"text": "welcome", "set_by": "root", "set_at": 1.0},
        }
    )
    lobby = h.state.room("lobby")
    assert lobby is not None and lobby.joined and lobby.topic == "welcome"
    assert sorted(lobby.members) == ["alice", "carol"]
    assert h.state.current == lobby.key
    assert lobby.entries[-1].text == "You are back in #lobby."
    dev = h.state.room("dev")
    assert dev is not None and not dev.joined
    # Reconnected, it is back in the lobby, and not in the room it was put out of.
    h.lose()
    h.connect()
    h.reply(version=1, lobby="lobby")
    h.reply(nick="alice", account=None, upload_token="t")
    assert h.last()["type"] == "sign-on"


def test_a_released_nickname_is_the_one_to_sign_on_as_again() -> None:
    h = Harness()
    h.sign_on()
    h.receive(
        {
            "type": "nick-released",
            "old": "alice",
            "new": "Guest7",
            "text": "alice is registered: you are Guest7 now",
        }
    )
    assert h.state.nick == "Guest7" and h.view.signed == ["alice", "Guest7"]
    h.lose()
    h.connect()
    h.reply(version=1, lobby="lobby")
    assert h.last() == {"type": "sign-on", "id": h.last()["id"], "nick": "Guest7"}


def test_moderation_commands_go_as_typed_with_their_room_and_their_words_are_shown() -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("/join dev")
    h.reply(room=room("dev", "alice", "bob"))
    lines = [
        "/room register",
        "/room mode +i",
        "/room mode +kl-m beer 20",
        "/voice bob",
        "/devoice bob",
        "/room op bob",
        "/ban bob 2h spam",
        "/unban bob",
        "/mute carol",
        "/unmute carol",
        "/except bob 1h a regular",
        "/unexcept bob",
        "/invex account:carol",
        "/uninvex account:carol",
        "/bans",
        "/invite bob",
        "/kick bob out",
        "/oper add bob",
    ]
    for line in lines:
        h.client.submit(line)
        assert h.last() == {"type": "command", "id": h.last()["id"], "line": line, "room": "dev"}
    h.reply(
        room="dev",
        sanctions=[{}],
        now=1.0,
        text=["Bans and mutes in dev (1):", "ban nick:bob by alice, 2h left: spam", "End of list"],
    )
    dev = h.state.room("dev")
    assert dev is not None
    assert [e.text for e in dev.entries[-3:]] == [
        "Bans and mutes in dev (1):",
        "ban nick:bob by alice, 2h left: spam",
        "End of list",
    ]
    assert {e.kind for e in dev.entries[-3:]} == {Kind.INFO}


def test_the_replies_of_modes_and_voices_typed_are_said_in_words() -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("/join dev")
    h.reply(room=room("dev", "alice", "bob"))
    h.client.submit("/room mode +kl beer 20")
    h.reply(
        room="dev",
        invite_only=False,
        moderated=False,
        registered=False,
        key="beer",
        limit=20,
        secret=False,
        members_only=True,
        topic_locked=True,
    )
    h.client.submit("/voice bob")
    h.reply(room="dev", nick="bob", voiced=True)
    dev = h.state.room("dev")
    assert dev is not None
    assert [e.text for e in dev.entries[-2:]] == [
        "#dev is joined with the key beer and 20 members at most",
        "bob has a voice in #dev",
    ]


def test_registering_makes_the_new_password_the_one_to_sign_on_with_again() -> None:
    h = Harness()
    h.sign_on()
    h.client.submit("/register wonderland")
    assert h.last()["line"] == "/register wonderland"
    h.reply(account="alice", text=["You registered the account alice"])
    h.client.submit("/password wonderland looking-glass")
    h.reply(account="alice", text=["Your password is changed"])
    lobby = h.state.room("lobby")
    assert lobby is not None
    assert [e.text for e in lobby.entries[-2:]] == [
        "You registered the account alice",
        "Your password is changed",
    ]
    h.lose()
    h.connect()
    h.reply(version=1, lobby="lobby")
    assert h.last() == {
        "type": "sign-on",
        "id": h.last()["id"],
        "nick": "alice",
        "password": "looking-glass",
    }
