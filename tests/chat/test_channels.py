"""
The parts of the chat model that wires showing several rooms at once (IRC)
rely on: signing on into no room, rooms named in what is said, away
messages, notices, the way leaving the chat is told apart from leaving a
room, and the name each error keeps for wires that answer with it.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat import commands
from chatsvc.chat.events import Joined, Left, Message, PrivateMessage
from chatsvc.chat.model import (
    Account,
    Chat,
    ChatError,
    GuestsNotAllowed,
    NicknameInvalid,
    NicknameRegistered,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotAnOperator,
    NotInRoom,
    RoomNameInvalid,
    TooManyRooms,
)
from tests.chat.test_model import RecordingClient, Registered


class SignOnWithoutTheLobbyTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.chat = Chat()
        self.carol = RecordingClient()
        self.chat.sign_on("carol", self.carol)

    def test_in_no_room_and_nobody_told(self) -> None:
        alice = self.chat.sign_on("alice", RecordingClient(), lobby=False)
        self.assertEqual(alice.rooms, ())
        self.assertEqual(self.chat.lobby.nicks(), ["carol"])
        self.assertEqual(self.carol.take(), [])
        self.assertIs(self.chat.find("ALICE"), alice, "signed on all the same")

    def test_joining_the_lobby_later_is_told(self) -> None:
        alice = self.chat.sign_on("alice", RecordingClient(), lobby=False)
        self.chat.join(alice, "#lobby")
        self.assertEqual(self.carol.take(), [Joined("lobby", "alice")])
        self.assertEqual(self.chat.lobby.nicks(), ["alice", "carol"])

    def test_signing_off_from_no_room_tells_nobody(self) -> None:
        alice = self.chat.sign_on("alice", RecordingClient(), lobby=False)
        self.chat.sign_off(alice, "gone")
        self.assertEqual(self.carol.take(), [])
        self.assertIsNone(self.chat.find("alice"))

    def test_the_same_rules_as_signing_on_into_the_lobby(self) -> None:
        with self.assertRaises(NicknameTaken):
            self.chat.sign_on("CAROL", RecordingClient(), lobby=False)
        chat = Chat(accounts=Registered("alice"), guests=False)
        with self.assertRaises(NicknameRegistered):
            chat.sign_on("alice", RecordingClient(), lobby=False)
        with self.assertRaises(GuestsNotAllowed):
            chat.sign_on("bob", RecordingClient(), lobby=False)
        self.assertEqual(len(chat), 0)

    def test_a_participant_in_no_room_may_not_speak_without_naming_one(self) -> None:
        alice = self.chat.sign_on("alice", RecordingClient(), lobby=False)
        with self.assertRaises(NotInRoom):
            self.chat.say(alice, "hi", self.chat.lobby)
        self.assertEqual(self.carol.take(), [])


class MemberOfTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.chat = Chat()
        self.alice = self.chat.sign_on("alice", RecordingClient())
        self.chat.join(self.alice, "Dev")

    def test_found_by_name_in_any_case_with_or_without_hash(self) -> None:
        dev = self.chat.room("dev")
        for name in ("dev", "DEV", "#dev", "#dEv"):
            self.assertIs(self.chat.member_of(self.alice, name), dev)
        self.assertIs(self.chat.member_of(self.alice, "lobby"), self.chat.lobby)

    def test_a_room_one_is_not_in(self) -> None:
        bob = self.chat.sign_on("bob", RecordingClient())
        with self.assertRaises(NotInRoom) as caught:
            self.chat.member_of(bob, "#dev")
        self.assertEqual(str(caught.exception), "you are not in dev")
        self.assertEqual(caught.exception.name, "dev", "named without the #")

    def test_a_room_nobody_is_in(self) -> None:
        with self.assertRaises(NotInRoom) as caught:
            self.chat.member_of(self.alice, "#nowhere")
        self.assertEqual(caught.exception.name, "nowhere")


class AwayTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.chat = Chat()
        self.bob_client = RecordingClient()
        self.alice = self.chat.sign_on("alice", RecordingClient())
        self.bob = self.chat.sign_on("bob", self.bob_client)
        self.bob_client.take()

    def test_here_until_set_away(self) -> None:
        self.assertIsNone(self.alice.away)
        self.chat.set_away(self.alice, "lunch")
        self.assertEqual(self.alice.away, "lunch")
        self.chat.set_away(self.alice, "meeting")
        self.assertEqual(self.alice.away, "meeting", "a new reason replaces the old")

    def test_back_with_none_or_a_blank_reason(self) -> None:
        for back in (None, "", "   "):
            self.chat.set_away(self.alice, "lunch")
            self.chat.set_away(self.alice, back)
            self.assertIsNone(self.alice.away, repr(back))

    def test_nobody_is_told(self) -> None:
        self.chat.set_away(self.alice, "lunch")
        self.assertEqual(self.bob_client.take(), [])

    def test_away_does_not_stop_messages(self) -> None:
        self.chat.set_away(self.bob, "lunch")
        self.chat.whisper(self.alice, "bob", "still there?")
        self.assertEqual(self.bob_client.take(), [PrivateMessage("alice", "bob", "still there?")])


class NoticeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.chat = Chat()
        self.bob = RecordingClient()
        self.alice = self.chat.sign_on("alice", RecordingClient())
        self.chat.sign_on("bob", self.bob)
        self.bob.take()

    def test_a_notice_to_a_room(self) -> None:
        said = self.chat.say(self.alice, "build passed", notice=True)
        self.assertEqual(said, Message("lobby", "alice", "build passed", notice=True))
        self.assertEqual(self.bob.take(), [said])
        self.assertNotEqual(said, Message("lobby", "alice", "build passed"))

    def test_a_notice_to_one(self) -> None:
        sent = self.chat.whisper(self.alice, "BOB", "psst", notice=True)
        self.assertEqual(sent, PrivateMessage("alice", "bob", "psst", notice=True))
        self.assertEqual(self.bob.take(), [sent])

    def test_messages_are_not_notices_unless_said(self) -> None:
        self.assertFalse(self.chat.say(self.alice, "hi").notice)
        self.assertFalse(self.chat.whisper(self.alice, "bob", "hi").notice)
        self.assertFalse(commands.Say("hi").notice)
        self.assertFalse(commands.Msg("bob", "hi").notice)


class SignedOffTests(SynchronousTestCase):
    """L{Left.signed_off} tells leaving the chat from leaving one room."""

    def setUp(self) -> None:
        self.chat = Chat()
        self.bob = RecordingClient()
        self.alice = self.chat.sign_on("alice", RecordingClient())
        self.chat.sign_on("bob", self.bob)
        self.bob.take()

    def test_parting_a_room_is_not_signing_off(self) -> None:
        self.chat.join(self.alice, "dev")
        self.chat.join(self.chat.find("bob") or self.fail(), "dev")
        self.bob.take()
        self.chat.part(self.alice, "dev", "later")
        self.assertEqual(self.bob.take(), [Left("dev", "alice", "later", signed_off=False)])

    def test_moving_is_not_signing_off(self) -> None:
        self.chat.move(self.alice, "dev")
        self.assertEqual(self.bob.take(), [Left("lobby", "alice")])
        self.assertFalse(Left("lobby", "alice").signed_off)

    def test_signing_off_is(self) -> None:
        self.chat.sign_off(self.alice, "not reading")
        self.assertEqual(self.bob.take(), [Left("lobby", "alice", "not reading", signed_off=True)])

    def test_a_blank_part_reason_is_none(self) -> None:
        self.chat.join(self.alice, "dev")
        self.chat.join(self.chat.find("bob") or self.fail(), "dev")
        self.bob.take()
        self.chat.part(self.alice, "dev", "")
        self.assertEqual(self.bob.take(), [Left("dev", "alice")])


class ErrorNameTests(SynchronousTestCase):
    """Each error about a name keeps it, as given, for wires that answer with it."""

    def test_each_error_names_what_it_is_about(self) -> None:
        named: list[tuple[ChatError, str]] = [
            (NicknameInvalid("a!b"), "a!b"),
            (NicknameTaken("Bob"), "Bob"),
            (RoomNameInvalid("a b"), "a b"),
            (NoSuchRoom("attic"), "attic"),
            (NoSuchUser("carol"), "carol"),
            (NicknameRegistered("alice"), "alice"),
            (GuestsNotAllowed("dave"), "dave"),
            (NotInRoom("dev"), "dev"),
        ]
        for error, name in named:
            self.assertEqual(error.name, name, type(error).__name__)

    def test_errors_about_no_name_have_none(self) -> None:
        for error in (NotAnOperator("kick"), TooManyRooms(3), ChatError("anything")):
            self.assertIsNone(error.name, type(error).__name__)

    def test_raised_by_the_model_with_the_name_as_typed(self) -> None:
        chat = Chat()
        alice = chat.sign_on("alice", RecordingClient())
        chat.sign_on("bob", RecordingClient())
        for call, name in [
            (lambda: chat.whisper(alice, "Carol", "hi"), "Carol"),
            (lambda: chat.rename(alice, "BOB"), "BOB"),
            (lambda: chat.join(alice, "#no way"), "no way"),
            (lambda: chat.room("#attic"), "#attic"),
            (lambda: chat.part(alice, "#attic"), "attic"),
        ]:
            with self.assertRaises(ChatError) as caught:
                call()
            self.assertEqual(caught.exception.name, name)


class OperatorAccountTests(SynchronousTestCase):
    def test_a_participant_in_no_room_may_still_be_an_operator(self) -> None:
        chat = Chat(accounts=Registered("root"))
        root = chat.sign_on("root", RecordingClient(), Account("root", True), lobby=False)
        self.assertTrue(root.operator)
        self.assertEqual(root.rooms, ())
