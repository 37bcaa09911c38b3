"""The web wire alone: events as data, refusals as codes, requests read."""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.events import (
    Action,
    Kicked,
    Left,
    Message,
    NickChange,
    PrivateMessage,
    TopicChanged,
)
from chatsvc.chat.model import Chat, ChatError, NoSuchRoom, NotInRoom
from chatsvc.frontends.web import wire


class EventTests(SynchronousTestCase):
    def test_every_event(self) -> None:
        self.assertEqual(
            wire.event_data(PrivateMessage("a", "b", "hi", notice=True), 5.0),
            {"type": "private", "from": "a", "to": "b", "text": "hi", "notice": True, "time": 5.0},
        )
        self.assertEqual(
            wire.event_data(Left("dev", "a", "bye", from_user=True, signed_off=True), 1.0),
            {
                "type": "left",
                "room": "dev",
                "nick": "a",
                "reason": "bye",
                "from_user": True,
                "signed_off": True,
            },
        )
        self.assertEqual(
            wire.event_data(NickChange("dev", "a", "b"), 1.0),
            {"type": "nick", "room": "dev", "old": "a", "new": "b"},
        )
        self.assertEqual(
            wire.event_data(Kicked("dev", "a", "op", None), 1.0),
            {"type": "kicked", "room": "dev", "nick": "a", "by": "op", "reason": None},
        )
        self.assertEqual(
            wire.event_data(TopicChanged("dev", "op", "t"), 2.0),
            {"type": "topic", "room": "dev", "nick": "op", "text": "t", "time": 2.0},
        )

    def test_irc_formatting_is_taken_out(self) -> None:
        data = wire.event_data(Message("dev", "irc", "\x02bold\x02 \x0304red\x03"), 1.0)
        self.assertEqual(data["text"], "bold red")
        self.assertEqual(wire.event_data(Action("dev", "irc", "\x1dwaves"), 1.0)["text"], "waves")

    def test_markup_is_text(self) -> None:
        payload = wire.dumps(wire.event_data(Message("dev", "a", "<b>&amp;</b>"), 1.0))
        self.assertEqual(json.loads(payload)["text"], "<b>&amp;</b>")

    def test_rendered_as_frames(self) -> None:
        """A server's text frame: FIN and opcode 1, unmasked, its length, the JSON."""
        short = wire.encode({"type": "x"})
        self.assertEqual(short[:2], bytes([0x81, len(b'{"type":"x"}')]))
        self.assertEqual(short[2:], b'{"type":"x"}')
        long = wire.encode({"text": "é" * 100})
        payload = wire.dumps({"text": "é" * 100})
        self.assertEqual(long[:4], bytes([0x81, 126]) + len(payload).to_bytes(2, "big"))
        self.assertEqual(long[4:], payload)

    def test_members_as_data(self) -> None:
        chat = Chat()
        self.assertEqual(
            wire.members_data(chat, ("gone",)),
            [{"nick": "gone", "operator": False, "rank": None, "away": None}],
        )
        self.assertIsNone(wire.members_data(chat, None))


class ErrorCodeTests(SynchronousTestCase):
    def test_codes(self) -> None:
        self.assertEqual(wire.error_code("x", NoSuchRoom("dev")), "no-such-room")
        self.assertEqual(wire.error_code("x", NotInRoom("dev")), "not-in-room")
        self.assertEqual(wire.error_code("you are already in dev", ChatError()), "already-in-room")
        self.assertEqual(wire.error_code("you are already called a", ChatError()), "refused")
        self.assertEqual(
            wire.error_code(
                "the server is busy with too many history searches at once", None, lookup=True
            ),
            "busy",
        )
        self.assertEqual(
            wire.error_code("no history is kept on this server", None, lookup=True),
            "history-unavailable",
        )


class ReadingTests(SynchronousTestCase):
    def test_text_is_cleaned(self) -> None:
        self.assertEqual(wire.clean("a\x1b[31mb\ud800c\u202e"), "a[31mb\ufffdc")

    def test_deep_json_is_not_a_crash(self) -> None:
        with self.assertRaises(wire.BadRequest):
            wire.parse("[" * 100_000)
        self.assertIsNone(wire.request_id("[" * 100_000))


class ReplyTests(SynchronousTestCase):
    def test_a_reply_with_json_made_already_is_the_same_bytes_as_a_reply(self) -> None:
        message = {"type": "message", "room": "lobby", "text": 'caf\u00e9 "q"'}
        payload = wire.dumps(message)
        for request_id in (7, 0, -3, 10**30, "a-7", 'quote"d', "caf\u00e9"):
            self.assertEqual(
                wire.reply_with(request_id, "message", payload),
                wire.reply(request_id, message=message),
                request_id,
            )

    def test_compact_utf8(self) -> None:
        self.assertEqual(wire.dumps({"a": [1, "\u00e9"]}), '{"a":[1,"\u00e9"]}'.encode())
