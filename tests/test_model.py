"""The chat model on its own: no transport, no reactor."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from chatsvc.interfaces import IChatClient
from chatsvc.model import (
    LOBBY,
    Action,
    Chat,
    ChatError,
    Event,
    Joined,
    Left,
    Message,
    NickChange,
    NicknameInvalid,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    PrivateMessage,
    RoomNameInvalid,
    is_valid_name,
)


@implementer(IChatClient)
class RecordingClient:
    """A client that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


class NameTests(SynchronousTestCase):
    def test_valid(self) -> None:
        for name in ["a", "Z", "0", "alice", "x" * 32, "_-.[]{}^|", "R2-D2", "[afk]bob"]:
            self.assertTrue(is_valid_name(name), name)

    def test_invalid(self) -> None:
        for name in [
            "",
            "x" * 33,
            "al ice",
            "al/ice",
            "*alice*",
            "<a>",
            "é",
            "a\x1bb",
            "#x",
            "a:b",
        ]:
            self.assertFalse(is_valid_name(name), name)


class SignOnTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.chat = Chat()
        self.alice = RecordingClient()
        self.bob = RecordingClient()

    def test_client_interface(self) -> None:
        self.assertTrue(verifyObject(IChatClient, self.alice))

    def test_sign_on_puts_in_lobby_and_tells_the_others(self) -> None:
        a = self.chat.sign_on("alice", self.alice)
        b = self.chat.sign_on("bob", self.bob)
        self.assertIs(a.room, self.chat.lobby)
        self.assertEqual(self.chat.lobby.name, LOBBY)
        self.assertEqual(self.chat.lobby.nicks(), ["alice", "bob"])
        self.assertEqual(self.alice.take(), [Joined(LOBBY, "bob")])
        self.assertEqual(self.bob.take(), [])
        self.assertIs(self.chat.find("BOB"), b)

    def test_nicknames_unique_ignoring_case(self) -> None:
        self.chat.sign_on("alice", self.alice)
        with self.assertRaises(NicknameTaken) as caught:
            self.chat.sign_on("ALICE", self.bob)
        self.assertEqual(str(caught.exception), "the nickname ALICE is taken")
        self.assertEqual(len(self.chat), 1)
        self.assertEqual(self.chat.lobby.nicks(), ["alice"])

    def test_invalid_nickname(self) -> None:
        with self.assertRaises(NicknameInvalid) as caught:
            self.chat.sign_on("al ice", self.alice)
        self.assertEqual(
            str(caught.exception),
            "'al ice' is not a valid nickname: use 1-32 letters, digits and _ - . [ ] { } ^ |",
        )
        self.assertEqual(len(self.chat), 0)

    def test_sign_off_frees_the_nickname_and_tells_the_room(self) -> None:
        a = self.chat.sign_on("alice", self.alice)
        self.chat.sign_on("bob", self.bob)
        self.alice.take()
        self.chat.sign_off(a, "lunch")
        self.assertEqual(self.bob.take(), [Left(LOBBY, "alice", "lunch")])
        self.assertIsNone(self.chat.find("alice"))
        self.assertEqual(self.chat.lobby.nicks(), ["bob"])
        self.chat.sign_on("Alice", RecordingClient())

    def test_sign_off_twice_is_harmless(self) -> None:
        a = self.chat.sign_on("alice", self.alice)
        self.chat.sign_on("bob", self.bob)
        self.chat.sign_off(a)
        self.chat.sign_off(a)
        self.assertEqual(self.bob.take(), [Left(LOBBY, "alice")])


class ConversationTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.chat = Chat()
        self.clients = {n: RecordingClient() for n in ["alice", "bob", "carol"]}
        self.p = {n: self.chat.sign_on(n, c) for n, c in self.clients.items()}
        for c in self.clients.values():
            c.take()

    def test_say_goes_to_everyone_but_the_sender(self) -> None:
        message = self.chat.say(self.p["alice"], "hi")
        self.assertEqual(message, Message(LOBBY, "alice", "hi"))
        self.assertEqual(self.clients["alice"].take(), [])
        bob, carol = self.clients["bob"].take(), self.clients["carol"].take()
        self.assertEqual(bob, [message])
        self.assertIs(bob[0], carol[0], "one event object for all recipients")

    def test_say_nothing(self) -> None:
        self.assertRaises(ChatError, self.chat.say, self.p["alice"], "  ")
        self.assertEqual(self.clients["bob"].take(), [])

    def test_act(self) -> None:
        self.chat.act(self.p["bob"], "waves")
        self.assertEqual(self.clients["alice"].take(), [Action(LOBBY, "bob", "waves")])
        self.assertEqual(self.clients["bob"].take(), [])

    def test_whisper(self) -> None:
        sent = self.chat.whisper(self.p["alice"], "CAROL", "psst")
        self.assertEqual(sent, PrivateMessage("alice", "carol", "psst"))
        self.assertEqual(self.clients["carol"].take(), [sent])
        self.assertEqual(self.clients["bob"].take(), [])
        self.assertEqual(self.clients["alice"].take(), [])

    def test_whisper_to_nobody(self) -> None:
        with self.assertRaises(NoSuchUser) as caught:
            self.chat.whisper(self.p["alice"], "dave", "hi")
        self.assertEqual(str(caught.exception), "there is no user named dave")

    def test_join_creates_room_and_tells_both_rooms(self) -> None:
        room = self.chat.join(self.p["alice"], "Dev")
        self.assertEqual(room.name, "Dev")
        self.assertIs(self.p["alice"].room, room)
        self.assertEqual(self.clients["bob"].take(), [Left(LOBBY, "alice")])
        self.chat.join(self.p["bob"], "#dev")
        self.assertEqual(self.clients["alice"].take(), [Joined("Dev", "bob")])
        self.assertEqual([r.name for r in self.chat.rooms()], ["Dev", "lobby"])
        self.assertEqual(room.nicks(), ["alice", "bob"])
        self.assertEqual(self.chat.lobby.nicks(), ["carol"])

    def test_empty_room_goes_away_but_lobby_stays(self) -> None:
        self.chat.join(self.p["alice"], "dev")
        self.chat.join(self.p["alice"], "lobby")
        self.assertEqual([r.name for r in self.chat.rooms()], ["lobby"])
        self.assertRaises(NoSuchRoom, self.chat.room, "dev")
        for p in self.p.values():
            self.chat.sign_off(p)
        self.assertEqual([r.name for r in self.chat.rooms()], ["lobby"])
        self.assertEqual(len(self.chat.lobby), 0)

    def test_join_invalid_or_same_room(self) -> None:
        self.assertRaises(RoomNameInvalid, self.chat.join, self.p["alice"], "no such")
        self.assertRaises(RoomNameInvalid, self.chat.join, self.p["alice"], "#")
        with self.assertRaises(ChatError) as caught:
            self.chat.join(self.p["alice"], "LOBBY")
        self.assertEqual(str(caught.exception), "you are already in lobby")
        self.assertEqual(self.clients["bob"].take(), [])

    def test_rename(self) -> None:
        old = self.chat.rename(self.p["alice"], "alicia")
        self.assertEqual(old, "alice")
        self.assertEqual(self.clients["bob"].take(), [NickChange(LOBBY, "alice", "alicia")])
        self.assertEqual(self.clients["alice"].take(), [])
        self.assertIsNone(self.chat.find("alice"))
        self.assertIs(self.chat.find("alicia"), self.p["alice"])
        self.assertEqual(self.chat.lobby.nicks(), ["alicia", "bob", "carol"])

    def test_rename_case_only(self) -> None:
        self.chat.rename(self.p["alice"], "Alice")
        self.assertIs(self.chat.find("alice"), self.p["alice"])
        self.assertEqual(self.p["alice"].nick, "Alice")

    def test_rename_refused(self) -> None:
        self.assertRaises(NicknameTaken, self.chat.rename, self.p["alice"], "BOB")
        self.assertRaises(NicknameInvalid, self.chat.rename, self.p["alice"], "")
        self.assertRaises(ChatError, self.chat.rename, self.p["alice"], "alice")
        self.assertEqual(self.p["alice"].nick, "alice")
        self.assertEqual(self.clients["bob"].take(), [])

    def test_room_lookup(self) -> None:
        self.assertIs(self.chat.room("LOBBY"), self.chat.lobby)
        self.assertIs(self.chat.room("#lobby"), self.chat.lobby)
        with self.assertRaises(NoSuchRoom) as caught:
            self.chat.room("dev")
        self.assertEqual(str(caught.exception), "there is no room named dev")


class DissolveTests(SynchronousTestCase):
    def test_everyone_leaves_and_nobody_is_told(self) -> None:
        chat = Chat()
        clients = [RecordingClient() for _ in range(3)]
        people = [chat.sign_on(f"user{i}", c) for i, c in enumerate(clients)]
        chat.join(people[0], "dev")
        for c in clients:
            c.take()
        chat.dissolve()
        self.assertEqual([c.take() for c in clients], [[], [], []])
        self.assertEqual(len(chat), 0)
        self.assertEqual([r.name for r in chat.rooms()], ["lobby"])
        self.assertEqual(len(chat.lobby), 0)
        chat.sign_on("user0", RecordingClient())


class AnnounceLimitTests(SynchronousTestCase):
    def test_big_rooms_are_not_told_of_comings_and_goings(self) -> None:
        chat = Chat(announce_limit=3)
        clients = [RecordingClient() for _ in range(5)]
        people = [chat.sign_on(f"user{i}", c) for i, c in enumerate(clients[:3])]
        self.assertEqual(clients[0].take(), [Joined(LOBBY, "user1"), Joined(LOBBY, "user2")])
        fourth = chat.sign_on("user3", clients[3])
        self.assertEqual(clients[0].take(), [], "4 members: over the limit")
        chat.rename(fourth, "user3b")
        chat.say(fourth, "messages still go through")
        self.assertEqual(clients[0].take(), [Message(LOBBY, "user3b", "messages still go through")])
        chat.sign_off(fourth)
        self.assertEqual(clients[0].take(), [Left(LOBBY, "user3b")], "3 left: at the limit")
        chat.join(people[2], "dev")
        self.assertEqual(clients[0].take(), [Left(LOBBY, "user2")])

    def test_zero_means_always(self) -> None:
        chat = Chat()
        clients = [RecordingClient() for _ in range(50)]
        for i, c in enumerate(clients):
            chat.sign_on(f"user{i}", c)
        self.assertEqual(len(clients[0].take()), 49)
