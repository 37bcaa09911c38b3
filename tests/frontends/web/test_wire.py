"""The web wire alone: events as data, refusals as codes, requests read."""

from __future__ import annotations

import json
import math

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat import model
from chatsvc.chat.events import (
    Action,
    BanListChanged,
    Kicked,
    Left,
    Message,
    ModeChange,
    ModeChanged,
    NickChange,
    PrivateMessage,
    TopicChanged,
    VoiceChanged,
)
from chatsvc.chat.model import Chat, ChatError, NoSuchRoom, NotInRoom
from chatsvc.chat.sanctions import Mask, Sanction, SanctionKind
from chatsvc.frontends.web import wire
from chatsvc.sessions import results
from tests.chat.test_model import RecordingClient

NEW_ROOM = {
    "invite_only": False,
    "moderated": False,
    "registered": False,
    "key": None,
    "limit": None,
    "secret": False,
    "members_only": True,
    "topic_locked": True,
}
"""The modes of a new room, as a room's data and a C{room-mode} reply have them."""


class EventTests(SynchronousTestCase):
    def test_every_event(self) -> None:
        self.assertEqual(
            wire.event_data(PrivateMessage("a", "b", "hi", notice=True), 5.0),
            {"type": "private", "from": "a", "to": "b", "text": "hi", "notice": True, "time": 5.0},
        )
        self.assertEqual(
            wire.event_data(PrivateMessage("a", "b", "hi"), 5.0),
            {"type": "private", "from": "a", "to": "b", "text": "hi", "time": 5.0},
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

    def test_ban_list_changes(self) -> None:
        set_ = BanListChanged("dev", "alice", "mute", Mask.parse("bob"), 7200.0, "\x02spam")
        self.assertEqual(
            wire.dumps(wire.event_data(set_, 1800.0)),
            b'{"type":"ban-list","room":"dev","by":"alice","on":true,"expired":false,"kind":"mute",'
            b'"mask":"nick:bob","until":7200.0,"left":5400.0,"reason":"spam"}',
        )
        lifted = BanListChanged("dev", "alice", "ban", Mask.parse("192.0.2.7"), on=False)
        self.assertEqual(
            wire.event_data(lifted, 1800.0),
            {
                "type": "ban-list",
                "room": "dev",
                "by": "alice",
                "on": False,
                "expired": False,
                "kind": "ban",
                "mask": "192.0.2.7/32",
                "until": None,
                "left": None,
                "reason": None,
            },
        )
        ran_out = BanListChanged("dev", "alice", "ban", Mask.parse("bob"), on=False, expired=True)
        data = wire.event_data(ran_out, 1800.0)
        self.assertEqual((data["on"], data["expired"], data["by"]), (False, True, "alice"))

    def test_exceptions_and_invitations_are_sanctions_of_their_own_kinds(self) -> None:
        """The ban list's event and a sanction's data carry every kind as the model names it."""
        excepted = BanListChanged("dev", "alice", "exception", Mask.parse("account:Bob"), None)
        self.assertEqual(
            wire.dumps(wire.event_data(excepted, 1800.0)),
            b'{"type":"ban-list","room":"dev","by":"alice","on":true,"expired":false,'
            b'"kind":"exception","mask":"account:bob","until":null,"left":null,"reason":null}',
        )
        invited = BanListChanged("dev", "alice", "invitation", Mask.parse("bob*"), on=False)
        data = wire.event_data(invited, 1800.0)
        self.assertEqual(
            (data["kind"], data["on"], data["mask"]), ("invitation", False, "nick:bob*")
        )
        invitation = Sanction(
            SanctionKind.INVITATION, Mask.parse("bob"), "dev", "alice", 0.0, "regular", 60.0
        )
        self.assertEqual(
            wire.sanction_data(invitation, 15.0),
            {
                "kind": "invitation",
                "mask": "nick:bob",
                "room": "dev",
                "by": "alice",
                "set_at": 0.0,
                "until": 60.0,
                "reason": "regular",
                "left": 45.0,
            },
        )
        exception = attrs.evolve(invitation, kind=SanctionKind.EXCEPTION, until=None)
        self.assertEqual(
            wire.moderation_data(results.SanctionLifted(exception)),
            {
                "sanction": {
                    "kind": "exception",
                    "mask": "nick:bob",
                    "room": "dev",
                    "by": "alice",
                    "set_at": 0.0,
                    "until": None,
                    "reason": "regular",
                }
            },
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
            [{"nick": "gone", "operator": False, "rank": None, "voiced": False, "away": None}],
        )
        self.assertIsNone(wire.members_data(chat, None))

    def test_mode_changes(self) -> None:
        """One event of the changes made at once; a value only where a key or a limit is set."""
        changes = (
            ModeChange("k", True, "beer"),
            ModeChange("l", True, "20"),
            ModeChange("i", True),
            ModeChange("t", False),
            ModeChange("k", False),
            ModeChange("l", False),
        )
        data = wire.event_data(ModeChanged("dev", "alice", changes), 1.0)
        self.assertEqual(
            data,
            {
                "type": "mode",
                "room": "dev",
                "by": "alice",
                "changes": [
                    {"mode": "k", "on": True, "value": "beer"},
                    {"mode": "l", "on": True, "value": 20},
                    {"mode": "i", "on": True},
                    {"mode": "t", "on": False},
                    {"mode": "k", "on": False},
                    {"mode": "l", "on": False},
                ],
            },
        )
        self.assertEqual(
            wire.dumps(wire.event_data(ModeChanged("dev", "a", (ModeChange("m", True),)), 1.0)),
            b'{"type":"mode","room":"dev","by":"a","changes":[{"mode":"m","on":true}]}',
        )

    def test_voice_changes(self) -> None:
        self.assertEqual(
            wire.event_data(VoiceChanged("dev", "bob", "alice"), 1.0),
            {"type": "voice", "room": "dev", "nick": "bob", "by": "alice", "given": True},
        )
        self.assertEqual(
            wire.event_data(VoiceChanged("dev", "bob", "alice", given=False), 1.0)["given"],
            False,
        )

    def test_voiced_members_and_a_room_s_modes(self) -> None:
        chat = Chat()
        alice, bob = (chat.sign_on(nick, RecordingClient()) for nick in ("alice", "bob"))
        room = chat.join(alice, "dev")
        chat.join(bob, "dev")
        chat.set_voice(alice, room, "bob")
        self.assertEqual(
            wire.members_data(chat, ("alice", "bob"), "dev"),
            [
                {
                    "nick": "alice",
                    "operator": True,
                    "rank": "operator",
                    "voiced": False,
                    "away": None,
                },
                {"nick": "bob", "operator": False, "rank": None, "voiced": True, "away": None},
            ],
        )
        self.assertFalse(wire.member_data(chat, "bob")["voiced"], "in no room named")
        self.assertEqual(wire.room_modes(chat, "dev"), NEW_ROOM)
        self.assertEqual(wire.room_modes(chat, "nowhere"), NEW_ROOM)
        changes = [ModeChange("k", True, "beer"), ModeChange("l", True, "20")]
        changes += [ModeChange(m, on) for m, on in (("i", True), ("s", True), ("n", False))]
        chat.set_modes(alice, room, [*changes, ModeChange("t", False), ModeChange("m", True)])
        self.assertEqual(
            wire.room_modes(chat, "dev"),
            {
                "invite_only": True,
                "moderated": True,
                "registered": False,
                "key": "beer",
                "limit": 20,
                "secret": True,
                "members_only": False,
                "topic_locked": False,
            },
        )


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


class ModerationWireTests(SynchronousTestCase):
    """Refusals of accounts and moderation as codes; the fields of their requests read."""

    def test_plain_refusals_have_codes(self) -> None:
        ban = Sanction(SanctionKind.BAN, Mask.parse("bob"), None, "root", 0.0, "spam", 60.0)
        mute = Sanction(SanctionKind.MUTE, Mask.parse("bob"), "dev", "root", 0.0)
        said = {
            "that is not your password; nothing changed": "wrong-password",
            "registration is closed on this server: ask its operators": "registration-closed",
            "accounts cannot be registered on this server": "registration-closed",
            "too many accounts registered from your address; try again in 5m": (
                "too-many-registrations"
            ),
            "a password is at least 8 characters": "weak-password",
            "a password is at most 256 bytes": "weak-password",
            "you are logged in to the account alice already": "already-registered",
            "the nickname alice is not yours to register now": "nickname-registered",
            "you are not logged in to an account": "not-logged-in",
            "the account root is kept by the server's configuration: ask its administrator": (
                "not-allowed"
            ),
            "only registered users may register a room: /register first": "not-logged-in",
            "lobby belongs to the server": "not-allowed",
            "there is no account named carol": "no-such-account",
            "dev is registered already": "room-registered",
            "dev is not registered": "room-not-registered",
            "dev is not registered: /room register it first": "room-not-registered",
            "there is no ban on nick:bob in dev": "no-such-sanction",
            "there is no mute on nick:bob chat-wide": "no-such-sanction",
            "dev has 500 bans already, the most it may have: lift some first": (
                "too-many-sanctions"
            ),
            "there is no exception on nick:bob in dev": "no-such-sanction",
            "there is no invitation on account:bob chat-wide": "no-such-sanction",
            "dev has 500 invitations already, the most it may have: lift some first": (
                "too-many-sanctions"
            ),
            "an exception is a room's, not the chat's: name the room": "room-only",
            "an invitation is a room's, not the chat's: name the room": "room-only",
            "unknown room mode 'x': use +i, -i, +m or -m": "unknown-mode",
            "nick:alice matches you": "refused",
            "alice is the last owner of dev; name another first": "refused",
        }
        self.assertEqual({text: wire.error_code(text, None) for text in said}, said)
        errors = [
            (model.Barred(ban, 0.0), "banned"),
            (model.Barred(mute, 0.0), "muted"),
            (model.NotAnOperator("set exceptions in dev"), "not-operator"),
            (model.InviteOnly("dev"), "invite-only"),
            (model.Moderated("dev"), "moderated"),
            (model.NotAnOwner("dev", "unregister it"), "not-allowed"),
            (model.NotAMember("bob", "dev"), "not-a-member"),
            (model.AlreadyInRoom("bob", "dev"), "already-a-member"),
            (model.BadKey("dev"), "bad-key"),
            (model.RoomFull("dev", 20), "room-full"),
            (model.UnknownMode("x"), "unknown-mode"),
            (model.BadModeValue("k", "a room key is 23 characters at most"), "bad-mode-value"),
        ]
        for error, code in errors:
            self.assertEqual(wire.error_code(str(error), error), code)
        self.assertEqual(
            wire.error_fields(model.Barred(ban, 15.5), 15.5),
            {
                "sanction": {
                    "kind": "ban",
                    "mask": "nick:bob",
                    "room": None,
                    "by": "root",
                    "set_at": 0.0,
                    "until": 60.0,
                    "reason": "spam",
                },
                "left": 44.5,
            },
        )
        self.assertEqual(wire.error_fields(model.Barred(mute, 9.0), 9.0)["left"], None)
        self.assertEqual(wire.error_fields(model.InviteOnly("dev"), 0.0), {})
        self.assertEqual(wire.error_fields(model.BadModeValue("l", "why"), 0.0), {"mode": "l"})
        self.assertEqual(wire.error_fields(model.BadKey("dev"), 0.0), {})

    def test_the_fields_of_bans_and_mutes(self) -> None:
        self.assertEqual(str(wire.mask({"mask": " 10.1.2.3/8 "})), "10.0.0.0/8")
        self.assertEqual(str(wire.mask({"mask": "Account:Bob"})), "account:bob")
        self.assertEqual(wire.duration({"duration": "1h30m"}), 5400.0)
        self.assertEqual(wire.duration({"duration": 90}), 90.0)
        self.assertIsNone(wire.duration({}))
        self.assertIsNone(wire.duration({"duration": None}))
        self.assertEqual(wire.reason({"reason": "  spam  "}), "spam")
        self.assertIsNone(wire.reason({"reason": "   "}))
        self.assertIsNone(wire.scope({"room": None}))
        self.assertEqual(wire.scope({"room": "dev"}), "dev")
        self.assertEqual(wire.rank({"rank": None}), None)
        self.assertEqual(wire.rank({"rank": "owner"}), "owner")
        for bad, field in (
            ({"duration": float("nan")}, wire.duration),
            ({"duration": float("inf")}, wire.duration),
            ({"duration": 10 * 365 * 86400 + 1}, wire.duration),
            ({"mask": "x" * 101}, wire.mask),
            ({}, wire.scope),
            ({"rank": "Owner"}, wire.rank),
            ({"mode": "I", "on": True}, wire.mode_change),
            ({"key": 1234}, wire.key),
        ):
            with self.assertRaises(wire.BadRequest):
                field(bad)
        self.assertEqual(wire.command_error_code("'5x' is not a duration: use ..."), "bad-duration")
        self.assertEqual(wire.command_error_code("usage: /ban ..."), "bad-request")
        self.assertEqual(wire.command_error_code("+k takes a key"), "bad-mode-value")
        self.assertEqual(wire.command_error_code("+l takes a number"), "bad-mode-value")
        self.assertEqual(wire.command_error_code("unknown room mode 'x': ..."), "unknown-mode")
        self.assertEqual(wire.command_error_code("too many arguments: +i, ..."), "bad-request")
        missing = wire.command_error("+l takes a number")
        self.assertEqual(
            (str(missing), missing.code, missing.fields),
            ("+l takes a number", "bad-mode-value", {"mode": "l"}),
        )
        self.assertEqual(wire.command_error("usage: /ban ...").fields, {})

    def test_the_changes_of_room_modes(self) -> None:
        """One change in the fields of the request, or several (C{changes}); checked."""
        self.assertEqual(wire.mode_changes({"mode": "i", "on": True}), (ModeChange("i", True),))
        self.assertEqual(
            wire.mode_changes(
                {
                    "changes": [
                        {"mode": "k", "on": True, "value": "beer"},
                        {"mode": "l", "on": True, "value": 20},
                        {"mode": "l", "on": True, "value": "020"},
                        {"mode": "k", "on": False, "value": "beer"},
                        {"mode": "s", "on": True, "value": ["ignored"]},
                    ]
                }
            ),
            (
                ModeChange("k", True, "beer"),
                ModeChange("l", True, "20"),
                ModeChange("l", True, "20"),
                ModeChange("k", False),
                ModeChange("s", True),
            ),
        )
        for fields, code, mode in (
            ({"mode": "x", "on": True}, "unknown-mode", None),
            ({"mode": "kl", "on": True}, "unknown-mode", None),
            ({"mode": "", "on": True}, "unknown-mode", None),
            ({"mode": None, "on": True}, "unknown-mode", None),
            ({"mode": ["i"], "on": True}, "unknown-mode", None),
            ({"mode": "i"}, "bad-request", None),
            ({"mode": "i", "on": "yes"}, "bad-request", None),
            ({"mode": "k", "on": True}, "bad-mode-value", "k"),
            ({"mode": "k", "on": True, "value": "two words"}, "bad-mode-value", "k"),
            ({"mode": "k", "on": True, "value": "x" * 24}, "bad-mode-value", "k"),
            ({"mode": "k", "on": True, "value": 1234}, "bad-mode-value", "k"),
            ({"mode": "l", "on": True}, "bad-mode-value", "l"),
            ({"mode": "l", "on": True, "value": 0}, "bad-mode-value", "l"),
            ({"mode": "l", "on": True, "value": 2.5}, "bad-mode-value", "l"),
            ({"mode": "l", "on": True, "value": True}, "bad-mode-value", "l"),
            ({"mode": "l", "on": True, "value": "many"}, "bad-mode-value", "l"),
            ({"changes": []}, "bad-request", None),
            ({"changes": {"mode": "i", "on": True}}, "bad-request", None),
            ({"changes": ["+i"]}, "bad-request", None),
            ({"changes": [{"mode": "i", "on": True}] * 21}, "bad-request", None),
            (
                {"changes": [{"mode": "i", "on": True}, {"mode": "x", "on": True}]},
                "unknown-mode",
                None,
            ),
        ):
            with self.assertRaises(wire.BadRequest) as raised:
                wire.mode_changes(fields)
            self.assertEqual(raised.exception.code, code, fields)
            self.assertEqual(raised.exception.fields, {} if mode is None else {"mode": mode})
        with self.assertRaises(wire.BadRequest) as raised:
            wire.mode_change({"mode": "l", "on": True, "value": 0})
        self.assertEqual(str(raised.exception), "the most members is from 1 to 1000000")

    def test_the_key_of_a_join(self) -> None:
        """Exactly as given (it is compared, never shown), or none."""
        self.assertEqual(wire.key({"key": " b\u00e9er "}), " b\u00e9er ")
        self.assertIsNone(wire.key({}))
        self.assertIsNone(wire.key({"key": None}))


class MessagePayloadTests(SynchronousTestCase):
    """A message's JSON written without the encoder is the encoder's, byte for byte."""

    @settings(max_examples=300, deadline=None)
    @given(
        room=st.text(min_size=1, max_size=20),
        nick=st.text(min_size=1, max_size=20),
        text=st.text(max_size=200),
        notice=st.booleans(),
        when=st.floats(allow_nan=False, allow_infinity=False),
    )
    def test_the_same_bytes_as_the_encoders(
        self, room: str, nick: str, text: str, notice: bool, when: float
    ) -> None:
        event = Message(room, nick, text, notice=notice)
        written = wire.message_payload(event, when, no_files)
        if text.isprintable():
            self.assertEqual(written, wire.dumps(wire.event_data(event, when, no_files)))
            assert written is not None
            self.assertEqual(json.loads(written)["text"], text)
        else:
            self.assertIsNone(written, "its formatting codes are taken out by event_data")

    def test_what_is_usually_empty_is_left_out(self) -> None:
        """A plain message has no C{notice} and no C{files}; a notice says so, links list."""
        plain, notice = Message("dev", "bob", "hi"), Message("dev", "bob", "hi", notice=True)
        linked: list[wire.Json] = [{"name": "a.png", "size": 3}]
        self.assertEqual(
            wire.event_data(plain, 1.5),
            {"type": "message", "room": "dev", "nick": "bob", "text": "hi", "time": 1.5},
        )
        self.assertEqual(
            wire.event_data(notice, 1.5, lambda _: linked),
            {
                "type": "message",
                "room": "dev",
                "nick": "bob",
                "text": "hi",
                "time": 1.5,
                "notice": True,
                "files": linked,
            },
        )
        for event in (plain, notice):
            self.assertEqual(
                wire.message_payload(event, 1.5, no_files),
                wire.dumps(wire.event_data(event, 1.5)),
            )

    def test_quotes_backslashes_and_markup_are_escaped(self) -> None:
        event = Message("dev", 'a"b', '<b>"quoted"</b> \\ é ☃ \U0001f600')
        written = wire.message_payload(event, 1764615780.5, no_files)
        self.assertEqual(
            written,
            '{"type":"message","room":"dev","nick":"a\\"b","text":"<b>\\"quoted\\"</b> \\\\ é ☃ '
            '\U0001f600","time":1764615780.5}'.encode(),
        )

    def test_left_to_the_encoder_where_it_would_differ(self) -> None:
        """Formatting codes, and a time that is not a float."""
        self.assertIsNone(
            wire.message_payload(Message("dev", "bob", "\x02bold\x02"), 1.5, no_files)
        )
        self.assertIsNone(wire.message_payload(Message("dev", "bob", "hi"), 2, no_files))
        self.assertIsNone(wire.message_payload(Message("dev", "bob", "hi"), math.inf, no_files))

    def test_files_linked_are_looked_up_once(self) -> None:
        linked: list[wire.Json] = [{"name": "a.png", "size": 3}]
        looked: list[str] = []

        def links(text: str) -> list[wire.Json]:
            looked.append(text)
            return linked

        event = Message("dev", "bob", "see /files/x/a.png")
        written = wire.message_payload(event, 1.5, links)
        self.assertEqual(looked, ["see /files/x/a.png"], "one look at the disk, not two")
        self.assertEqual(written, wire.dumps(wire.event_data(event, 1.5, lambda _: linked)))
        assert written is not None
        self.assertEqual(json.loads(written)["files"], linked)


def no_files(text: str) -> list[wire.Json]:
    return []
