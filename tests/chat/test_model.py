"""The chat model on its own: no transport, no reactor."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from chatsvc.chat.events import (
    Action,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    Message,
    NickChange,
    NoticeToAll,
    OperatorChanged,
    PrivateMessage,
    PrivateTagMessage,
    TagMessage,
    TopicChanged,
)
from chatsvc.chat.interfaces import IAccount, IAccountNames, IChatClient
from chatsvc.chat.model import (
    LOBBY,
    Account,
    AlreadyInRoom,
    Chat,
    ChatError,
    GuestsNotAllowed,
    NicknameInvalid,
    NicknameRegistered,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotAMember,
    NotAnOperator,
    NotInRoom,
    RoomNameInvalid,
    TooManyRooms,
    Topic,
    deliver_each,
    fold,
    is_valid_name,
)

LOOK_ALIKES = [
    ("attacker", "attac\u212aer"),  # KELVIN SIGN: its lower() is "k"
    ("iris", "\u0130ris"),  # LATIN CAPITAL LETTER I WITH DOT ABOVE: lower() "i\u0307"
    ("iris", "\u0131ris"),  # LATIN SMALL LETTER DOTLESS I: upper() "I"
    ("sam", "\u017fam"),  # LATIN SMALL LETTER LONG S: upper() "S", casefold() "s"
    ("ross", "ro\u00df"),  # LATIN SMALL LETTER SHARP S: casefold() "ss"
    ("fiona", "\ufb01ona"),  # LATIN SMALL LIGATURE FI: casefold() "fi"
]
"""ASCII names, and the same with a character whose case mapping is ASCII."""


@implementer(IChatClient)
class RecordingClient:
    """A client that remembers what it was told."""

    def __init__(self, takes_tags: bool = False) -> None:
        self.events: list[Event] = []
        self.kicked_by: Kicked | None = None
        self.takes_tags = takes_tags

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def kicked(self, event: Kicked) -> None:
        self.kicked_by = event

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


@implementer(IAccountNames)
class Registered:
    """Registered accounts, by name: what a password file would say."""

    def __init__(self, *names: str) -> None:
        self.names = list(names)

    def account_for(self, nick: str) -> str | None:
        return next((name for name in self.names if name.lower() == nick.lower()), None)


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

    def test_fold_lowers_ascii_letters_alone(self) -> None:
        self.assertEqual(fold("Alice_[X]-9"), "alice_[x]-9")
        for ascii_name, look_alike in LOOK_ALIKES:
            self.assertFalse(is_valid_name(look_alike), look_alike)
            self.assertNotEqual(fold(look_alike), fold(ascii_name), look_alike)
        self.assertEqual(fold("ATTAC\u212aER"), "attac\u212aer")
        self.assertEqual(fold("\u0130RIS \u017fAM"), "\u0130ris \u017fam")


class LookAlikeTests(SynchronousTestCase):
    """
    A name with a non-ASCII character whose case mapping is ASCII is not a
    name, and never reaches the ASCII name it looks like.
    """

    def setUp(self) -> None:
        self.chat = Chat()
        self.clients: dict[str, RecordingClient] = {}
        for name in {ascii_name for ascii_name, _ in LOOK_ALIKES} | {"bob"}:
            client = self.clients[name] = RecordingClient()
            self.chat.sign_on(name, client)
        for client in self.clients.values():
            client.take()

    def test_rename_to_a_look_alike(self) -> None:
        """A rename that folds to the same key is validated like any other."""
        for ascii_name, look_alike in LOOK_ALIKES:
            participant = self.chat.find(ascii_name)
            assert participant is not None
            with self.assertRaises(NicknameInvalid) as caught:
                self.chat.rename(participant, look_alike)
            self.assertEqual(
                str(caught.exception),
                f"{look_alike!r} is not a valid nickname: use 1-32 letters, digits and "
                "_ - . [ ] { } ^ |",
            )
            self.assertEqual(participant.nick, ascii_name)
            self.assertIs(self.chat.find(ascii_name), participant)
        self.assertEqual(self.clients["bob"].take(), [])

    def test_sign_on_as_a_look_alike(self) -> None:
        for _, look_alike in LOOK_ALIKES:
            self.assertRaises(NicknameInvalid, self.chat.check_nick, look_alike)
            self.assertRaises(NicknameInvalid, self.chat.sign_on, look_alike, RecordingClient())
        self.assertEqual(len(self.chat), len(self.clients))

    def test_look_alikes_find_nobody(self) -> None:
        bob = self.chat.find("bob")
        assert bob is not None
        for _, look_alike in LOOK_ALIKES:
            self.assertIsNone(self.chat.find(look_alike), look_alike)
            self.assertRaises(NoSuchUser, self.chat.whisper, bob, look_alike, "hi")
        self.assertEqual([c.take() for c in self.clients.values()], [[]] * len(self.clients))

    def test_rooms(self) -> None:
        bob = self.chat.find("bob")
        assert bob is not None
        for ascii_name, look_alike in LOOK_ALIKES:
            room = self.chat.move(bob, ascii_name)
            self.assertRaises(NoSuchRoom, self.chat.room, look_alike)
            self.assertRaises(NoSuchRoom, self.chat.room, f"#{look_alike}")
            self.assertRaises(RoomNameInvalid, self.chat.move, bob, look_alike)
            self.assertIs(bob.room, room)
            self.chat.move(bob, "lobby")


class SignOnTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.chat = Chat()
        self.alice = RecordingClient()
        self.bob = RecordingClient()

    def test_client_interface(self) -> None:
        self.assertTrue(verifyObject(IChatClient, self.alice))

    def test_most_signed_on_at_once(self) -> None:
        self.assertEqual(self.chat.most, 0)
        a = self.chat.sign_on("alice", self.alice)
        self.chat.sign_on("bob", self.bob)
        self.chat.sign_off(a)
        self.assertEqual((len(self.chat), self.chat.most), (1, 2))

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
        self.assertEqual(self.bob.take(), [Left(LOBBY, "alice", "lunch", signed_off=True)])
        self.assertIsNone(self.chat.find("alice"))
        self.assertEqual(self.chat.lobby.nicks(), ["bob"])
        self.chat.sign_on("Alice", RecordingClient())

    def test_a_users_own_reason(self) -> None:
        """What a user says on leaving is marked as theirs; saying nothing is no reason."""
        a = self.chat.sign_on("alice", self.alice)
        c = self.chat.sign_on("carol", RecordingClient())
        self.chat.sign_on("bob", self.bob)
        self.chat.sign_off(a, "not reading", from_user=True)
        self.chat.sign_off(c, "", from_user=True)
        self.assertEqual(
            self.bob.take(),
            [
                Left(LOBBY, "alice", "not reading", from_user=True, signed_off=True),
                Left(LOBBY, "carol", signed_off=True),
            ],
        )

    def test_sign_off_twice_is_harmless(self) -> None:
        a = self.chat.sign_on("alice", self.alice)
        self.chat.sign_on("bob", self.bob)
        self.chat.sign_off(a)
        self.chat.sign_off(a)
        self.assertEqual(self.bob.take(), [Left(LOBBY, "alice", signed_off=True)])


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

    def test_client_tags_go_with_what_is_said(self) -> None:
        tags = (("+reply", "m1"),)
        said = self.chat.say(self.p["alice"], "hi", tags=tags)
        acted = self.chat.act(self.p["alice"], "waves", tags=tags)
        whispered = self.chat.whisper(self.p["alice"], "bob", "psst", tags=tags)
        self.assertEqual(
            self.clients["bob"].take(),
            [
                Message(LOBBY, "alice", "hi", tags=tags),
                Action(LOBBY, "alice", "waves", tags=tags),
                PrivateMessage("alice", "bob", "psst", tags=tags),
            ],
        )
        self.assertEqual(
            [said.tags, acted.tags, whispered.tags], [tags] * 3, "to every client: wires choose"
        )

    def test_tags_alone_reach_only_clients_that_take_tags(self) -> None:
        taker = RecordingClient(takes_tags=True)
        dave = self.chat.sign_on("dave", taker)
        erin = self.chat.sign_on("erin", RecordingClient(takes_tags=True))
        for client in (taker, *self.clients.values()):
            client.take()
        tags = (("+typing", "active"),)
        sent = self.chat.send_tags(erin, tags)
        self.assertEqual(sent, TagMessage(LOBBY, "erin", tags))
        self.assertEqual(taker.take(), [sent])
        self.assertEqual([c.take() for c in self.clients.values()], [[], [], []])
        alone = self.chat.whisper_tags(self.p["alice"], "DAVE", tags)
        self.assertEqual(alone, PrivateTagMessage("alice", "dave", tags))
        self.assertEqual(taker.take(), [alone])
        self.chat.whisper_tags(dave, "bob", tags)
        self.assertEqual(self.clients["bob"].take(), [], "bob's client takes no tags")

    def test_tags_alone_refused_as_words_are(self) -> None:
        tags = (("+typing", "active"),)
        self.assertRaises(ChatError, self.chat.send_tags, self.p["alice"], ())
        self.assertRaises(ChatError, self.chat.whisper_tags, self.p["alice"], "bob", ())
        self.assertRaises(NoSuchUser, self.chat.whisper_tags, self.p["alice"], "dave", tags)
        self.chat.lobby.moderated = True
        self.assertRaises(ChatError, self.chat.send_tags, self.p["alice"], tags)

    def test_whisper_to_nobody(self) -> None:
        with self.assertRaises(NoSuchUser) as caught:
            self.chat.whisper(self.p["alice"], "dave", "hi")
        self.assertEqual(str(caught.exception), "there is no user named dave")

    def test_join_creates_room_and_tells_both_rooms(self) -> None:
        room = self.chat.move(self.p["alice"], "Dev")
        self.assertEqual(room.name, "Dev")
        self.assertIs(self.p["alice"].room, room)
        self.assertEqual(self.clients["bob"].take(), [Left(LOBBY, "alice")])
        self.chat.move(self.p["bob"], "#dev")
        self.assertEqual(self.clients["alice"].take(), [Joined("Dev", "bob")])
        self.assertEqual([r.name for r in self.chat.rooms()], ["Dev", "lobby"])
        self.assertEqual(room.nicks(), ["alice", "bob"])
        self.assertEqual(self.chat.lobby.nicks(), ["carol"])

    def test_empty_room_goes_away_but_lobby_stays(self) -> None:
        self.chat.move(self.p["alice"], "dev")
        self.chat.move(self.p["alice"], "lobby")
        self.assertEqual([r.name for r in self.chat.rooms()], ["lobby"])
        self.assertRaises(NoSuchRoom, self.chat.room, "dev")
        for p in self.p.values():
            self.chat.sign_off(p)
        self.assertEqual([r.name for r in self.chat.rooms()], ["lobby"])
        self.assertEqual(len(self.chat.lobby), 0)

    def test_join_invalid_or_same_room(self) -> None:
        self.assertRaises(RoomNameInvalid, self.chat.move, self.p["alice"], "no such")
        self.assertRaises(RoomNameInvalid, self.chat.move, self.p["alice"], "#")
        with self.assertRaises(ChatError) as caught:
            self.chat.move(self.p["alice"], "LOBBY")
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
        chat.move(people[0], "dev")
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
        self.assertEqual(
            clients[0].take(), [Left(LOBBY, "user3b", signed_off=True)], "3 left: at the limit"
        )
        chat.move(people[2], "dev")
        self.assertEqual(clients[0].take(), [Left(LOBBY, "user2")])

    def test_zero_means_always(self) -> None:
        chat = Chat()
        clients = [RecordingClient() for _ in range(50)]
        for i, c in enumerate(clients):
            chat.sign_on(f"user{i}", c)
        self.assertEqual(len(clients[0].take()), 49)


class AccountTests(SynchronousTestCase):
    """Registered nicknames are their accounts' alone; guests may be turned away."""

    def setUp(self) -> None:
        self.registered = Registered("alice", "Root")
        self.chat = Chat(accounts=self.registered)
        self.alice = Account("alice")

    def test_interfaces(self) -> None:
        self.assertTrue(verifyObject(IAccount, Account("alice", operator=True)))
        self.assertTrue(verifyObject(IAccountNames, self.registered))

    def test_check_nick(self) -> None:
        """Whether a nickname may sign on, and the account it must log in to first."""
        self.assertEqual(self.chat.check_nick("ALICE"), "alice")
        self.assertEqual(self.chat.check_nick("root"), "Root")
        self.assertIsNone(self.chat.check_nick("bob"))
        self.assertRaises(NicknameInvalid, self.chat.check_nick, "a b")
        self.chat.sign_on("bob", RecordingClient())
        self.assertRaises(NicknameTaken, self.chat.check_nick, "Bob")

    def test_registered_nickname_needs_its_account(self) -> None:
        with self.assertRaises(NicknameRegistered) as caught:
            self.chat.sign_on("Alice", RecordingClient())
        self.assertEqual(str(caught.exception), "the nickname Alice is registered")
        self.assertRaises(
            NicknameRegistered, self.chat.sign_on, "root", RecordingClient(), self.alice
        )
        participant = self.chat.sign_on("Alice", RecordingClient(), self.alice)
        self.assertEqual((participant.nick, participant.account), ("Alice", self.alice))
        self.assertFalse(participant.operator)

    def test_rename_to_a_registered_nickname(self) -> None:
        """Nobody takes a registered nickname by renaming, but its own account."""
        guest = self.chat.sign_on("guest", RecordingClient())
        self.assertRaises(NicknameRegistered, self.chat.rename, guest, "ALICE")
        alice = self.chat.sign_on("wonderland", RecordingClient(), self.alice)
        self.assertRaises(NicknameRegistered, self.chat.rename, alice, "root")
        self.chat.rename(alice, "Alice")
        self.chat.rename(alice, "rabbit")
        self.assertEqual(alice.nick, "rabbit")

    def test_registered_later(self) -> None:
        """The accounts are asked each time: a name registered since is protected at once."""
        guest = self.chat.sign_on("guest", RecordingClient())
        self.registered.names.append("dave")
        self.assertEqual(self.chat.check_nick("dave"), "dave")
        self.assertRaises(NicknameRegistered, self.chat.rename, guest, "dave")

    def test_no_guests(self) -> None:
        chat = Chat(accounts=self.registered, guests=False)
        with self.assertRaises(GuestsNotAllowed) as caught:
            chat.check_nick("bob")
        self.assertEqual(
            str(caught.exception),
            "bob is not registered, and only registered users may sign on here",
        )
        self.assertRaises(GuestsNotAllowed, chat.sign_on, "bob", RecordingClient())
        self.assertEqual(chat.check_nick("alice"), "alice")
        chat.sign_on("alice", RecordingClient(), self.alice)

    def test_without_accounts_nothing_is_registered(self) -> None:
        chat = Chat()
        self.assertIsNone(chat.check_nick("alice"))
        self.assertIsNone(chat.registered("alice"))


class RoomOperatorTests(SynchronousTestCase):
    """Whoever makes a room is its operator, and may make others so."""

    def setUp(self) -> None:
        self.chat = Chat()
        self.clients = {n: RecordingClient() for n in ["alice", "bob", "carol"]}
        self.p = {n: self.chat.sign_on(n, c, lobby=False) for n, c in self.clients.items()}
        self.dev = self.chat.join(self.p["alice"], "dev")
        self.chat.join(self.p["bob"], "dev")
        for client in self.clients.values():
            client.take()

    def test_the_maker_of_a_room_is_its_operator(self) -> None:
        alice, bob = self.p["alice"], self.p["bob"]
        self.assertEqual((self.dev.is_operator(alice), self.dev.is_operator(bob)), (True, False))
        self.assertFalse(alice.operator, "of that room alone")
        self.chat.set_topic(alice, "ship it", 10.0, self.dev)
        self.assertRaises(NotAnOperator, self.chat.set_topic, bob, "no", 11.0, self.dev)

    def test_when_it_was_made(self) -> None:
        self.assertIsNone(self.dev.created, "not said")
        ops = self.chat.join(self.p["carol"], "ops", now=60.0)
        self.chat.join(self.p["alice"], "ops", now=90.0)
        moved = self.chat.move(self.p["bob"], "attic", now=120.0)
        self.assertEqual((ops.created, moved.created), (60.0, 120.0))

    def test_not_of_the_lobby(self) -> None:
        lobby = self.chat.join(self.p["carol"], LOBBY)
        self.assertFalse(lobby.is_operator(self.p["carol"]))

    def test_making_and_unmaking_operators(self) -> None:
        alice, bob, carol = self.p["alice"], self.p["bob"], self.p["carol"]
        changed = self.chat.set_operator(alice, self.dev, "BOB")
        self.assertEqual(changed, OperatorChanged("dev", "bob", "alice", True))
        self.assertEqual(self.clients["alice"].take(), [changed])
        self.assertEqual(self.clients["bob"].take(), [changed])
        self.assertEqual(self.clients["carol"].take(), [], "not in the room")
        self.assertTrue(self.dev.is_operator(bob))
        self.assertIsNone(self.chat.set_operator(alice, self.dev, "bob"), "no change")
        self.assertEqual(self.clients["bob"].take(), [])
        taken = self.chat.set_operator(bob, self.dev, "alice", given=False)
        self.assertEqual(taken, OperatorChanged("dev", "alice", "bob", False))
        self.assertFalse(self.dev.is_operator(alice))
        self.assertRaises(NotAnOperator, self.chat.set_operator, alice, self.dev, "alice")
        self.assertRaises(NotInRoom, self.chat.set_operator, carol, self.dev, "carol")
        self.assertRaises(NoSuchUser, self.chat.set_operator, bob, self.dev, "nobody")
        with self.assertRaises(NotAMember) as caught:
            self.chat.set_operator(bob, self.dev, "carol")
        self.assertEqual(str(caught.exception), "carol is not in dev")

    def test_invite(self) -> None:
        alice, carol = self.p["alice"], self.p["carol"]
        invited = self.chat.invite(alice, self.dev, "CAROL")
        self.assertEqual(invited, Invited("dev", "carol", "alice"))
        self.assertEqual(self.clients["carol"].take(), [invited])
        self.assertEqual(self.clients["alice"].take() + self.clients["bob"].take(), [])
        self.assertRaises(AlreadyInRoom, self.chat.invite, alice, self.dev, "bob")
        self.assertRaises(NoSuchUser, self.chat.invite, alice, self.dev, "nobody")
        self.assertRaises(NotInRoom, self.chat.invite, carol, self.dev, "alice")

    def test_leaving_ends_it(self) -> None:
        alice = self.p["alice"]
        self.chat.part(alice, "dev")
        self.chat.join(alice, "dev")
        self.assertFalse(self.dev.is_operator(alice), "bob was there: the room was not made anew")
        self.chat.part(self.p["bob"], "dev")
        self.chat.part(alice, "dev")
        again = self.chat.join(alice, "dev")
        self.assertTrue(again.is_operator(alice), "made anew")

    def test_a_chatsvc_operator_is_every_rooms(self) -> None:
        root = self.chat.sign_on("root", RecordingClient(), Account("root", True), lobby=False)
        self.chat.join(root, "dev")
        self.assertTrue(self.dev.is_operator(root))
        self.assertIsNotNone(self.chat.set_operator(root, self.dev, "bob"))


class ModerationTests(SynchronousTestCase):
    """Topics and kicks: operators only, and everyone concerned is told."""

    def setUp(self) -> None:
        self.chat = Chat(accounts=Registered("alice", "bob"))
        self.clients = {n: RecordingClient() for n in ["alice", "bob", "carol", "dave"]}
        self.p = {
            "alice": self.chat.sign_on("alice", self.clients["alice"], Account("alice", True)),
            "bob": self.chat.sign_on("bob", self.clients["bob"], Account("bob")),
            "carol": self.chat.sign_on("carol", self.clients["carol"]),
            "dave": self.chat.sign_on("dave", self.clients["dave"]),
        }
        self.chat.move(self.p["dave"], "attic")
        for client in self.clients.values():
            client.take()

    def test_operators(self) -> None:
        self.assertEqual([p.operator for p in self.p.values()], [True, False, False, False])

    def test_set_topic(self) -> None:
        changed = self.chat.set_topic(self.p["alice"], "release day", 1000.0)
        self.assertEqual(changed, TopicChanged(LOBBY, "alice", "release day"))
        self.assertEqual(self.chat.lobby.topic, Topic("release day", "alice", 1000.0))
        for nick in ["alice", "bob", "carol"]:
            self.assertEqual(self.clients[nick].take(), [changed], nick)
        self.assertEqual(self.clients["dave"].take(), [])

    def test_topic_refused(self) -> None:
        for nick in ["bob", "carol"]:
            with self.assertRaises(NotAnOperator) as caught:
                self.chat.set_topic(self.p[nick], "mine now", 0.0)
            self.assertEqual(str(caught.exception), "only operators may set the topic")
        self.assertIsNone(self.chat.lobby.topic)
        self.assertEqual([c.take() for c in self.clients.values()], [[], [], [], []])

    def test_topic_cleared(self) -> None:
        """A blank topic clears it: the room is told, with the text C{""}."""
        set_ = self.chat.set_topic(self.p["alice"], "mine", 5.0)
        told = [bool(c.take()) for c in self.clients.values()]  # the lobby's members
        for blank in ["", "  "]:
            cleared = self.chat.set_topic(self.p["alice"], blank, 6.0)
            self.assertEqual((set_.text, cleared), ("mine", TopicChanged("lobby", "alice", "")))
            self.assertIsNone(self.chat.lobby.topic)
            self.assertEqual(
                [c.take() for c in self.clients.values()], [[cleared] if t else [] for t in told]
            )
        with self.assertRaises(NotAnOperator):
            self.chat.set_topic(self.p["bob"], "", 7.0)

    def test_topic_goes_with_its_room(self) -> None:
        self.chat.move(self.p["alice"], "attic")
        self.chat.set_topic(self.p["alice"], "dusty", 0.0)
        self.chat.move(self.p["alice"], "lobby")
        self.chat.move(self.p["dave"], "lobby")
        self.chat.move(self.p["dave"], "attic")
        self.assertIsNone(self.chat.room("attic").topic)

    def test_kick(self) -> None:
        kicked = self.chat.kick(self.p["alice"], "CAROL", "flooding")
        self.assertEqual(kicked, Kicked(LOBBY, "carol", "alice", "flooding"))
        self.assertEqual(self.clients["carol"].kicked_by, kicked)
        self.assertEqual(self.clients["carol"].take(), [])
        self.assertEqual(self.clients["alice"].take(), [kicked])
        self.assertEqual(self.clients["bob"].take(), [kicked])
        self.assertEqual(self.clients["dave"].take(), [])
        self.assertIsNone(self.chat.find("carol"))
        self.assertEqual(self.chat.lobby.nicks(), ["alice", "bob"])
        self.chat.sign_on("carol", RecordingClient())

    def test_kick_in_another_room(self) -> None:
        """Operators are server-wide: the target's room is told, and the operator."""
        kicked = self.chat.kick(self.p["alice"], "dave")
        self.assertEqual(kicked, Kicked("attic", "dave", "alice", None))
        self.assertEqual(self.clients["dave"].kicked_by, kicked)
        self.assertEqual(self.clients["alice"].take(), [kicked])
        self.assertEqual(self.clients["bob"].take(), [])
        self.assertRaises(NoSuchRoom, self.chat.room, "attic")

    def test_kick_refused(self) -> None:
        cases = [
            ("bob", "carol", NotAnOperator, "only operators may kick"),
            ("carol", "bob", NotAnOperator, "only operators may kick"),
            ("alice", "erin", NoSuchUser, "there is no user named erin"),
            ("alice", "Alice", ChatError, "you cannot kick yourself"),
        ]
        for by, nick, error, message in cases:
            with self.subTest(by=by, nick=nick):
                with self.assertRaises(error) as caught:
                    self.chat.kick(self.p[by], nick)
                self.assertEqual(str(caught.exception), message)
        self.assertEqual(len(self.chat), 4)
        self.assertEqual([c.kicked_by for c in self.clients.values()], [None] * 4)
        self.assertEqual([c.take() for c in self.clients.values()], [[], [], [], []])

    def test_wall_tells_everyone_in_every_room_once(self) -> None:
        told = []
        fan_out = self.chat.fan_out

        def counting(event: Any, clients: Any, exclude: Any) -> None:
            told.append(event)
            fan_out(event, clients, exclude)

        self.chat.fan_out = counting
        event = self.chat.wall(self.p["alice"], "restarting at noon")
        self.assertEqual(event, NoticeToAll("alice", "restarting at noon"))
        self.assertEqual(told, [event])
        for nick, client in self.clients.items():
            self.assertEqual(client.take(), [event], nick)

    def test_wall_refused(self) -> None:
        for nick in ["bob", "carol"]:
            with self.assertRaises(NotAnOperator) as caught:
                self.chat.wall(self.p[nick], "hello")
            self.assertEqual(str(caught.exception), "only operators may send a notice to everyone")
        self.assertEqual([c.take() for c in self.clients.values()], [[], [], [], []])


class FanOutTests(SynchronousTestCase):
    """What is said to a room goes through the chat's fan-out, whole, once per event."""

    def setUp(self) -> None:
        self.chat = Chat(accounts=Registered("alice"))
        self.fanned: list[tuple[Event, list[IChatClient], IChatClient | None]] = []
        self.chat.fan_out = lambda event, clients, exclude: self.fanned.append(
            (event, list(clients), exclude)
        )
        self.clients = {n: RecordingClient() for n in ["alice", "bob", "carol"]}
        self.p = {
            "alice": self.chat.sign_on("alice", self.clients["alice"], Account("alice", True)),
            "bob": self.chat.sign_on("bob", self.clients["bob"]),
            "carol": self.chat.sign_on("carol", self.clients["carol"]),
        }
        self.alice, self.bob, self.carol = self.clients.values()
        self.fanned.clear()

    def test_every_room_event_goes_through_it(self) -> None:
        chat, p = self.chat, self.p
        said = chat.say(p["alice"], "hi")
        acted = chat.act(p["bob"], "waves")
        topic = chat.set_topic(p["alice"], "news", 0.0)
        chat.rename(p["carol"], "caroline")
        chat.move(p["carol"], "attic")
        kicked = chat.kick(p["alice"], "bob", "spam")
        everyone = [self.alice, self.bob, self.carol]
        self.assertEqual(
            self.fanned,
            [
                (said, everyone, self.alice),
                (acted, everyone, self.bob),
                (topic, everyone, None),
                (NickChange(LOBBY, "carol", "caroline"), everyone, self.carol),
                (Left(LOBBY, "caroline"), [self.alice, self.bob], None),
                (Joined("attic", "caroline"), [self.carol], self.carol),
                (kicked, [self.alice], None),
            ],
        )
        self.assertEqual([c.take() for c in everyone], [[], [], []], "nothing delivered past it")

    def test_whispers_do_not(self) -> None:
        whisper = self.chat.whisper(self.p["alice"], "bob", "psst")
        self.assertEqual(self.fanned, [])
        self.assertEqual(self.bob.take(), [whisper])

    def test_the_plain_fan_out_delivers_to_each_in_order(self) -> None:
        order: list[str] = []

        @implementer(IChatClient)
        class Named(RecordingClient):
            def __init__(self, name: str) -> None:
                super().__init__()
                self.name = name

            def deliver(self, event: Event) -> None:
                order.append(self.name)

        clients = [Named(n) for n in "abcd"]
        deliver_each(Message(LOBBY, "x", "y"), clients, clients[2])
        self.assertEqual(order, ["a", "b", "d"])
        self.assertIs(Chat().fan_out, deliver_each)

    def test_what_a_fan_out_kept_of_a_room_is_dropped_when_its_members_change(self) -> None:
        """
        A fan-out may keep what it worked out about a room's members in their
        C{fanned}: the model drops it whenever one comes or goes, kicked or
        dissolved too, and not when a member only speaks or is renamed.
        """
        chat, p = self.chat, self.p
        lobby = chat.find_room(LOBBY)
        assert lobby is not None
        members = lobby.clients()

        def kept() -> object:
            members.fanned = marker = object()
            return marker

        marker = kept()
        chat.say(p["alice"], "hi")
        chat.rename(p["carol"], "caroline")
        self.assertIs(members.fanned, marker)
        for change in [
            lambda: chat.move(p["carol"], "attic"),
            lambda: chat.move(p["carol"], LOBBY),
            lambda: chat.kick(p["alice"], "bob", "spam"),
            lambda: chat.sign_off(p["carol"]),
            chat.dissolve,
        ]:
            kept()
            change()
            self.assertIsNone(members.fanned, change)


class SeveralRoomsTests(SynchronousTestCase):
    """A participant in several rooms at once, as IRC and web clients are."""

    def setUp(self) -> None:
        self.chat = Chat(accounts=Registered("alice"), max_rooms=3)
        self.clients = {n: RecordingClient() for n in ["alice", "bob", "carol"]}
        self.p = {
            n: self.chat.sign_on(
                n, self.clients[n], Account("alice", True) if n == "alice" else None
            )
            for n in self.clients
        }
        for name in ("dev", "ops"):
            self.chat.join(self.p["alice"], name)
            self.chat.join(self.p["bob"], name)
        self.chat.join(self.p["carol"], "ops")
        for client in self.clients.values():
            client.take()

    def test_join_adds_a_room(self) -> None:
        self.assertEqual([r.name for r in self.p["alice"].rooms], ["lobby", "dev", "ops"])
        self.assertEqual(self.p["alice"].room.name, "ops", "the room joined last")
        self.assertEqual(self.chat.room("dev").nicks(), ["alice", "bob"])
        with self.assertRaises(ChatError) as caught:
            self.chat.join(self.p["alice"], "#DEV")
        self.assertEqual(str(caught.exception), "you are already in dev")

    def test_at_most_max_rooms(self) -> None:
        with self.assertRaises(TooManyRooms) as caught:
            self.chat.join(self.p["alice"], "attic")
        self.assertEqual(
            str(caught.exception),
            "you are in 3 rooms already, the most one may be in; part one first",
        )
        self.chat.part(self.p["alice"], "dev")
        self.chat.join(self.p["alice"], "attic")
        self.chat.move(self.p["alice"], "cellar", self.chat.room("attic"))
        self.assertEqual([r.name for r in self.p["alice"].rooms], ["lobby", "ops", "cellar"])

    def test_saying_in_one_room(self) -> None:
        self.chat.say(self.p["alice"], "in dev", self.chat.room("dev"))
        self.chat.act(self.p["alice"], "waves", self.chat.room("ops"))
        self.assertEqual(
            self.clients["bob"].take(),
            [Message("dev", "alice", "in dev"), Action("ops", "alice", "waves")],
        )
        self.assertEqual(self.clients["carol"].take(), [Action("ops", "alice", "waves")])
        with self.assertRaises(NotInRoom):
            self.chat.say(self.p["carol"], "not a member", self.chat.room("dev"))
        self.assertEqual(self.clients["bob"].take(), [])

    def test_part_leaves_one_room(self) -> None:
        self.chat.part(self.p["alice"], "#Dev")
        self.assertEqual([r.name for r in self.p["alice"].rooms], ["lobby", "ops"])
        self.assertEqual(self.clients["bob"].take(), [Left("dev", "alice")])
        self.assertEqual(self.clients["carol"].take(), [])
        with self.assertRaises(NotInRoom) as caught:
            self.chat.part(self.p["alice"], "dev")
        self.assertEqual(str(caught.exception), "you are not in dev")
        self.chat.part(self.p["bob"], "dev")
        self.assertRaises(NoSuchRoom, self.chat.room, "dev")

    def test_a_rename_is_told_once_to_each_who_shares_a_room(self) -> None:
        self.chat.rename(self.p["alice"], "alicia")
        self.assertEqual(self.clients["bob"].take(), [NickChange("lobby", "alice", "alicia")])
        self.assertEqual(self.clients["carol"].take(), [NickChange("lobby", "alice", "alicia")])
        self.assertEqual(self.clients["alice"].take(), [])
        self.chat.part(self.p["carol"], "lobby")
        self.chat.rename(self.p["alice"], "alice2")
        self.assertEqual(self.clients["carol"].take(), [NickChange("ops", "alicia", "alice2")])

    def test_leaving_is_told_once_in_the_first_room_shared(self) -> None:
        self.chat.part(self.p["carol"], "lobby")
        for client in self.clients.values():
            client.take()
        self.chat.sign_off(self.p["alice"], "gone", from_user=True)
        self.assertEqual(
            self.clients["bob"].take(), [Left("lobby", "alice", "gone", True, signed_off=True)]
        )
        self.assertEqual(
            self.clients["carol"].take(), [Left("ops", "alice", "gone", True, signed_off=True)]
        )
        self.assertEqual(self.chat.room("dev").nicks(), ["bob"])
        self.assertEqual(self.p["alice"].rooms, ())

    def test_a_kick_puts_out_of_every_room(self) -> None:
        self.chat.part(self.p["carol"], "lobby")
        self.chat.move(self.p["carol"], "attic", self.chat.room("ops"))
        for client in self.clients.values():
            client.take()
        kicked = self.chat.kick(self.p["alice"], "bob", "spam")
        self.assertEqual(kicked, Kicked("lobby", "bob", "alice", "spam"))
        self.assertEqual(self.clients["alice"].take(), [kicked], "once, in the first room")
        self.assertEqual(self.clients["carol"].take(), [])
        self.assertEqual(self.clients["bob"].kicked_by, kicked)
        self.assertEqual(self.chat.room("dev").nicks(), ["alice"])
        self.assertIsNone(self.chat.find("bob"))
        self.chat.kick(self.p["alice"], "carol")
        self.assertEqual(self.clients["alice"].take(), [Kicked("attic", "carol", "alice")])

    def test_topics_are_per_room(self) -> None:
        self.chat.set_topic(self.p["alice"], "releases", 10.0, self.chat.room("dev"))
        self.assertEqual(self.chat.room("dev").topic, Topic("releases", "alice", 10.0))
        self.assertIsNone(self.chat.room("ops").topic)
        self.assertEqual(self.clients["bob"].take(), [TopicChanged("dev", "alice", "releases")])
        self.assertEqual(self.clients["carol"].take(), [])
