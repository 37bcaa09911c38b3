"""
The chat's moderation rules alone (L{chatsvc.chat.model}): who may do what
in registered rooms, bans and mutes by nickname, account and network with
their expiry on a L{task.Clock}, and the room modes (invite-only, moderated,
keys, limits, secret, words from outside, the topic) and voices.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat.events import (
    Action,
    BanListChanged,
    Joined,
    Kicked,
    Left,
    Message,
    ModeChange,
    ModeChanged,
    RankChanged,
    Removed,
    Sanctioned,
    VoiceChanged,
)
from chatsvc.chat.model import (
    Account,
    BadKey,
    BadModeValue,
    Barred,
    Chat,
    ChatError,
    InviteOnly,
    Moderated,
    NoSuchUser,
    NotAMember,
    NotAnOperator,
    NotAnOwner,
    NotInRoom,
    Participant,
    RoomFull,
    RoomModes,
    RoomRegistration,
    Topic,
    UnknownMode,
)
from chatsvc.chat.sanctions import Mask, SanctionKind
from tests.chat.test_model import RecordingClient, Registered

BAN, MUTE = SanctionKind.BAN, SanctionKind.MUTE


class ModerationTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.chat = Chat(
            accounts=Registered("root", "alice", "bob", "carol"), clock=self.clock.seconds
        )
        self.clients: dict[str, RecordingClient] = {}

    def on(
        self, nick: str, *, account: bool = True, operator: bool = False, address: str | None = None
    ) -> Participant:
        client = self.clients[nick] = RecordingClient()
        who = Account(nick, operator) if account else None
        return self.chat.sign_on(nick, client, who, address=address)

    def events(self, nick: str) -> list[object]:
        return list(self.clients[nick].take())


class RegisteredRoomTests(ModerationTestCase):
    def test_register_makes_the_owner(self) -> None:
        alice = self.on("alice")
        room = self.chat.join(alice, "dev")
        registration = self.chat.register_room(alice, room)
        self.assertEqual(registration.owners, {"alice": "alice"})
        self.chat.part(alice, "dev")
        self.assertIs(self.chat.room("dev"), room)  # outlives its members

    def test_guest_or_member_cannot_register(self) -> None:
        alice, guest = self.on("alice"), self.on("dave", account=False)
        room = self.chat.join(alice, "dev")
        self.chat.join(guest, "dev")
        with self.assertRaises(ChatError) as e:
            self.chat.register_room(guest, room)
        self.assertEqual(
            str(e.exception), "only registered users may register a room: /register first"
        )
        bob = self.on("bob")
        self.chat.join(bob, "dev")
        with self.assertRaises(NotAnOperator):
            self.chat.register_room(bob, room)
        with self.assertRaises(ChatError):
            self.chat.register_room(alice, self.chat.lobby)

    def test_account_operators_run_the_room_across_visits(self) -> None:
        alice, bob = self.on("alice"), self.on("bob")
        room = self.chat.join(alice, "dev")
        self.chat.register_room(alice, room)
        self.assertEqual(self.chat.rank_in_room(alice, room, "BOB", "operator"), "bob")
        self.chat.part(alice, "dev")
        self.chat.join(bob, "dev")
        self.assertTrue(room.is_operator(bob))
        self.assertFalse(room.is_owner(bob))
        with self.assertRaises(NotAnOwner):
            self.chat.rank_in_room(bob, room, "carol", "operator")
        self.chat.set_topic(bob, "work", self.clock.seconds(), room)

    def test_the_room_is_told_of_a_rank(self) -> None:
        alice, bob, carol = self.on("alice"), self.on("bob"), self.on("dave", account=False)
        room = self.chat.join(alice, "dev")
        self.chat.join(bob, "dev")
        self.chat.join(carol, "dev")
        self.chat.register_room(alice, room)
        for nick in ("alice", "bob", "dave"):
            self.events(nick)
        self.chat.rank_in_room(alice, room, "bob", "owner")
        made = RankChanged("dev", "bob", "owner", None, "alice", ("bob",))
        self.assertEqual([self.events(n) for n in ("alice", "bob", "dave")], [[made]] * 3)
        self.chat.rank_in_room(alice, room, "bob", "operator")
        made = RankChanged("dev", "bob", "operator", "owner", "alice", ("bob",))
        self.assertEqual(self.events("dave"), [made])
        self.assertIsNone(self.chat.rank_in_room(alice, room, "bob", "operator"))
        self.assertEqual(self.events("dave"), [], "nothing changed: nothing told")
        # An account none of the room's members is logged in to: no nicks.
        self.chat.rank_in_room(alice, room, "root", "operator")
        self.assertEqual(
            self.events("dave"), [RankChanged("dev", "root", "operator", None, "alice")]
        )

    def test_first_to_enter_an_empty_registered_room_does_not_run_it(self) -> None:
        alice, carol = self.on("alice"), self.on("carol")
        room = self.chat.join(alice, "dev")
        self.chat.register_room(alice, room)
        self.chat.part(alice, "dev")
        self.chat.join(carol, "dev")
        self.assertFalse(room.is_operator(carol))

    def test_last_owner_stays(self) -> None:
        alice = self.on("alice")
        room = self.chat.join(alice, "dev")
        self.chat.register_room(alice, room)
        with self.assertRaises(ChatError) as e:
            self.chat.rank_in_room(alice, room, "alice", None)
        self.assertEqual(str(e.exception), "alice is the last owner of dev; name another first")
        with self.assertRaises(ChatError):
            self.chat.rank_in_room(alice, room, "nobody", "operator")

    def test_unregister(self) -> None:
        alice, bob = self.on("alice"), self.on("bob")
        room = self.chat.join(alice, "dev")
        self.chat.register_room(alice, room)
        self.chat.join(bob, "dev")
        with self.assertRaises(NotAnOwner):
            self.chat.unregister_room(bob, room)
        self.chat.part(bob, "dev")
        self.chat.part(alice, "dev")
        self.chat.unregister_room(alice, room)
        self.assertNotIn(room, self.chat.rooms())

    def test_restore(self) -> None:
        room = self.chat.restore_room(
            "dev", RoomRegistration({"alice": "alice"}), invite_only=True, created=5.0
        )
        self.assertEqual(room.modes(), "+int")
        modes = RoomModes("beer", 20, secret=True, members_only=False, topic_locked=False)
        self.chat.restore_room("ops", RoomRegistration({"alice": "alice"}), modes=modes)
        ops = self.chat.room("ops")
        self.assertEqual(ops.modes(), "+kls beer 20")
        self.assertEqual(ops.modes(arguments=False), "+kls")
        self.assertEqual(RoomModes.of(ops), modes)
        alice = self.on("alice")
        self.chat.join(alice, "dev")  # an owner needs no invitation
        self.assertTrue(room.is_owner(alice))


class ModeTests(ModerationTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.alice, self.bob = self.on("alice"), self.on("bob")
        self.room = self.chat.join(self.alice, "dev")

    def test_invite_only(self) -> None:
        changed = self.chat.set_mode(self.alice, self.room, "i", True)
        self.assertEqual(changed, ModeChanged("dev", "alice", (ModeChange("i", True),)))
        self.assertIsNone(self.chat.set_mode(self.alice, self.room, "i", True))
        with self.assertRaises(InviteOnly) as e:
            self.chat.join(self.bob, "dev")
        self.assertEqual(str(e.exception), "dev is invite-only: an operator of it must /invite you")
        self.chat.invite(self.alice, self.room, "bob")
        self.chat.join(self.bob, "dev")
        self.chat.part(self.bob, "dev")
        with self.assertRaises(InviteOnly):  # an invitation is good once
            self.chat.join(self.bob, "dev")

    def test_refused_moving_stays_where_it_was(self) -> None:
        self.chat.set_mode(self.alice, self.room, "i", True)
        carol = self.on("carol")
        with self.assertRaises(InviteOnly):
            self.chat.move(carol, "dev")
        self.assertEqual(carol.rooms, (self.chat.lobby,))
        self.chat.invite(self.alice, self.room, "carol")
        self.chat.move(carol, "dev")
        self.assertEqual(carol.rooms, (self.room,))

    def test_only_operators_invite_to_invite_only(self) -> None:
        carol = self.on("carol")
        self.chat.join(carol, "dev")
        self.chat.set_mode(self.alice, self.room, "i", True)
        with self.assertRaises(NotAnOperator):
            self.chat.invite(carol, self.room, "bob")

    def test_moderated(self) -> None:
        self.chat.join(self.bob, "dev")
        self.chat.set_mode(self.alice, self.room, "m", True)
        with self.assertRaises(Moderated):
            self.chat.say(self.bob, "hi", self.room)
        self.chat.say(self.alice, "still here", self.room)
        with self.assertRaises(NotAnOperator):
            self.chat.set_mode(self.bob, self.room, "m", False)

    def test_bad_mode(self) -> None:
        with self.assertRaises(UnknownMode) as e:
            self.chat.set_mode(self.alice, self.room, "x", True)
        self.assertEqual(
            str(e.exception),
            "unknown room mode 'x': use +i -i +k -k +l -l +m -m +n -n +s -s +t -t",
        )
        for mode in ["", "kl", "mn"]:  # one letter, not a run of them
            with self.assertRaises(UnknownMode):
                self.chat.set_modes(
                    self.alice, self.room, [ModeChange("i", True), ModeChange(mode, True)]
                )
        self.assertEqual(self.room.modes(), "+nt")

    def test_modes_at_once(self) -> None:
        """Several changes are one event, told once; those that change nothing are left out."""
        self.chat.join(self.bob, "dev")
        self.events("bob")
        changed = self.chat.set_modes(
            self.alice,
            self.room,
            [ModeChange("i", True), ModeChange("n", True), ModeChange("l", True, "20")],
        )
        made = ModeChanged("dev", "alice", (ModeChange("i", True), ModeChange("l", True, "20")))
        self.assertEqual(changed, made)
        self.assertEqual(self.events("bob"), [made])
        self.assertEqual(self.room.modes(), "+ilnt 20")
        self.assertIsNone(self.chat.set_modes(self.alice, self.room, [ModeChange("i", True)]))
        self.assertEqual(self.events("bob"), [])

    def test_a_bad_value_changes_nothing(self) -> None:
        for mode, value, why in [
            ("k", None, "give the key: +k KEY"),
            ("k", "", "give the key: +k KEY"),
            ("k", "two words", "a room key has no spaces, commas or control characters"),
            ("k", "a,b", "a room key has no spaces, commas or control characters"),
            ("k", "bell\x07", "a room key has no spaces, commas or control characters"),
            ("k", "x" * 24, "a room key is 23 characters at most"),
            ("l", "0", "the most members is from 1 to 1000000"),
            ("l", "1000001", "the most members is from 1 to 1000000"),
            ("l", "-1", "give the most members as a whole number: +l 20"),
            ("l", "abc", "give the most members as a whole number: +l 20"),
            ("l", "", "give the most members as a whole number: +l 20"),
            ("l", "\u0663", "give the most members as a whole number: +l 20"),
        ]:
            self.events("alice")
            with self.subTest(mode=mode, value=value):
                with self.assertRaises(BadModeValue) as e:
                    self.chat.set_modes(
                        self.alice,
                        self.room,
                        [ModeChange("i", True), ModeChange(mode, True, value)],
                    )
                self.assertEqual((e.exception.name, str(e.exception)), (mode, why))
                self.assertEqual(self.room.modes(), "+nt")
                self.assertEqual(self.events("alice"), [])

    def test_key(self) -> None:
        self.chat.set_mode(self.alice, self.room, "k", True, "beer")
        self.assertEqual(self.room.key, "beer")
        for key in [None, "bees", "BEER"]:
            with self.assertRaises(BadKey) as e:
                self.chat.join(self.bob, "dev", key=key)
        self.assertEqual(
            str(e.exception), "dev has a key: join it with the right one (/join dev KEY)"
        )
        with self.assertRaises(BadKey):  # moving refused, it stays where it was
            self.chat.move(self.bob, "dev", key="bees")
        self.assertEqual(self.bob.rooms, (self.chat.lobby,))
        self.chat.move(self.bob, "dev", key="beer")
        self.assertEqual(self.bob.rooms, (self.room,))
        changed = self.chat.set_mode(self.alice, self.room, "k", False, "ignored")
        self.assertEqual(changed, ModeChanged("dev", "alice", (ModeChange("k", False),)))
        carol = self.on("carol")
        self.chat.join(carol, "dev")
        self.assertIsNone(self.room.key)

    def test_key_changed(self) -> None:
        self.chat.set_mode(self.alice, self.room, "k", True, "beer")
        self.assertIsNone(self.chat.set_mode(self.alice, self.room, "k", True, "beer"))
        changed = self.chat.set_mode(self.alice, self.room, "k", True, "wine")
        self.assertEqual(changed, ModeChanged("dev", "alice", (ModeChange("k", True, "wine"),)))
        with self.assertRaises(BadKey):
            self.chat.join(self.bob, "dev", key="beer")
        self.chat.join(self.bob, "dev", key="wine")

    def test_limit(self) -> None:
        self.chat.set_mode(self.alice, self.room, "l", True, "2")
        self.chat.join(self.bob, "dev")
        carol = self.on("carol")
        with self.assertRaises(RoomFull) as e:
            self.chat.join(carol, "dev")
        self.assertEqual(str(e.exception), "dev is full: it takes 2 members at most")
        self.chat.part(self.bob, "dev")  # a place is free again
        self.chat.join(carol, "dev")
        with self.assertRaises(RoomFull):
            self.chat.join(self.bob, "dev")
        self.chat.set_mode(self.alice, self.room, "l", False)
        self.chat.join(self.bob, "dev")
        self.assertEqual(len(self.room), 3)

    def test_limit_below_the_members(self) -> None:
        """Nobody is put out by a limit lower than the members: only those who come are kept out."""
        self.chat.join(self.bob, "dev")
        self.chat.set_mode(self.alice, self.room, "l", True, "1")
        self.assertEqual(len(self.room), 2)
        self.chat.say(self.bob, "still here", self.room)
        with self.assertRaises(RoomFull):
            self.chat.join(self.on("carol"), "dev")

    def test_an_operators_invitation_passes_key_and_limit_once(self) -> None:
        self.chat.set_modes(
            self.alice, self.room, [ModeChange("k", True, "beer"), ModeChange("l", True, "1")]
        )
        self.chat.invite(self.alice, self.room, "bob")
        self.chat.join(self.bob, "dev")
        self.chat.part(self.bob, "dev")
        with self.assertRaises(BadKey):  # good once
            self.chat.join(self.bob, "dev")

    def test_a_members_invitation_passes_nothing(self) -> None:
        carol = self.on("carol")
        self.chat.join(carol, "dev")
        self.chat.set_mode(self.alice, self.room, "k", True, "beer")
        self.chat.invite(carol, self.room, "bob")  # only news: carol is no operator
        with self.assertRaises(BadKey):
            self.chat.join(self.bob, "dev")

    def test_operators_need_no_key_and_are_not_counted_out(self) -> None:
        root = self.on("root", operator=True)
        self.chat.set_modes(
            self.alice, self.room, [ModeChange("k", True, "beer"), ModeChange("l", True, "1")]
        )
        self.chat.join(root, "dev")
        self.assertIn(root, self.room)

    def test_secret(self) -> None:
        root = self.on("root", operator=True)
        self.assertTrue(self.room.visible_to(self.bob))
        self.chat.set_mode(self.alice, self.room, "s", True)
        self.assertEqual(self.room.modes(), "+nst")
        self.assertFalse(self.room.visible_to(self.bob))
        self.assertFalse(self.room.visible_to(None))
        self.assertTrue(self.room.visible_to(self.alice))
        self.assertTrue(self.room.visible_to(root))
        self.chat.join(self.bob, "dev")  # a secret room is hidden, not closed
        self.assertTrue(self.room.visible_to(self.bob))

    def test_words_from_outside(self) -> None:
        """With C{-n}, who is not in a room may speak to it, unless banned from it."""
        carol = self.on("carol")
        self.chat.join(carol, "dev")
        self.events("carol")
        with self.assertRaises(NotInRoom):
            self.chat.addressed(self.bob, "dev")
        with self.assertRaises(NotInRoom):
            self.chat.say(self.bob, "hi", self.room)
        self.chat.set_mode(self.alice, self.room, "n", False)
        self.assertEqual(self.room.modes(), "+t")
        self.events("carol")
        self.assertIs(self.chat.addressed(self.bob, "#dev"), self.room)
        self.chat.say(self.bob, "hi from outside", self.room)
        self.chat.act(self.bob, "waves", self.room)
        self.assertEqual(
            self.events("carol"),
            [Message("dev", "bob", "hi from outside"), Action("dev", "bob", "waves")],
        )
        self.chat.set_mode(self.alice, self.room, "m", True)  # +m holds outside too
        with self.assertRaises(Moderated):
            self.chat.say(self.bob, "hi", self.room)
        self.chat.set_mode(self.alice, self.room, "m", False)
        self.chat.sanction(self.alice, SanctionKind.BAN, Mask.parse("bob"), self.room)
        with self.assertRaises(Barred):
            self.chat.say(self.bob, "let me in", self.room)
        with self.assertRaises(NotInRoom):
            self.chat.addressed(self.bob, "nosuch")

    def test_topic_open_to_members(self) -> None:
        self.chat.join(self.bob, "dev")
        with self.assertRaises(NotAnOperator):
            self.chat.set_topic(self.bob, "mine", 1.0, self.room)
        self.chat.set_mode(self.alice, self.room, "t", False)
        self.chat.set_topic(self.bob, "mine", 1.0, self.room)
        self.assertEqual(self.room.topic, Topic("mine", "bob", 1.0))
        with self.assertRaises(NotInRoom):  # but not to those outside
            self.chat.set_topic(self.on("carol"), "theirs", 2.0, self.room)

    def test_voice(self) -> None:
        self.chat.join(self.bob, "dev")
        self.chat.set_mode(self.alice, self.room, "m", True)
        self.events("bob")
        with self.assertRaises(Moderated) as e:
            self.chat.say(self.bob, "hi", self.room)
        self.assertEqual(
            str(e.exception), "dev is moderated: only its operators and voiced members may speak"
        )
        changed = self.chat.set_voice(self.alice, self.room, "bob")
        self.assertEqual(changed, VoiceChanged("dev", "bob", "alice"))
        self.assertEqual(self.events("bob"), [changed])
        self.assertTrue(self.room.is_voiced(self.bob))
        self.assertIsNone(self.chat.set_voice(self.alice, self.room, "bob"))
        self.chat.say(self.bob, "hi", self.room)
        with self.assertRaises(NotAnOperator):  # a voice is no operator's right
            self.chat.set_topic(self.bob, "mine", 1.0, self.room)
        with self.assertRaises(NotAnOperator):
            self.chat.set_voice(self.bob, self.room, "alice")
        self.chat.set_voice(self.alice, self.room, "bob", given=False)
        with self.assertRaises(Moderated):
            self.chat.say(self.bob, "hi", self.room)

    def test_voice_goes_with_leaving(self) -> None:
        self.chat.join(self.bob, "dev")
        self.chat.set_voice(self.alice, self.room, "bob")
        self.chat.part(self.bob, "dev")
        self.chat.join(self.bob, "dev")
        self.assertFalse(self.room.is_voiced(self.bob))

    def test_voice_refused(self) -> None:
        with self.assertRaises(NoSuchUser):
            self.chat.set_voice(self.alice, self.room, "nobody")
        with self.assertRaises(NotAMember):
            self.chat.set_voice(self.alice, self.room, "bob")
        with self.assertRaises(NotInRoom):
            self.chat.set_voice(self.bob, self.room, "alice")

    def test_lobby_modes_are_the_server_operators(self) -> None:
        with self.assertRaises(NotAnOperator):
            self.chat.set_mode(self.alice, self.chat.lobby, "k", True, "x")

    def test_invitations_bounded(self) -> None:
        self.chat.set_mode(self.alice, self.room, "i", True)
        for n in range(150):
            nick = f"g{n}"
            self.on(nick, account=False)
            self.chat.invite(self.alice, self.room, nick)
        self.assertEqual(len(self.room._invited), 100)
        with self.assertRaises(InviteOnly):
            self.chat.join(self.chat.find("g0"), "dev")  # type: ignore[arg-type]
        self.chat.join(self.chat.find("g149"), "dev")  # type: ignore[arg-type]


class ExceptionTests(ModerationTestCase):
    """A room's exceptions (C{+e}) let past its bans and mutes, its invitations (C{+I}) its +i."""

    def setUp(self) -> None:
        super().setUp()
        self.alice = self.on("alice")
        self.bob = self.on("bob", address="192.0.2.7")
        self.room = self.chat.join(self.alice, "dev")
        self.chat.sanction(self.alice, BAN, Mask.parse("192.0.2.0/24"), self.room)
        for nick in self.clients:
            self.events(nick)

    def test_an_exception_lets_past_the_rooms_bans(self) -> None:
        with self.assertRaises(Barred):
            self.chat.join(self.bob, "dev")
        _, held = self.chat.sanction(
            self.alice, SanctionKind.EXCEPTION, Mask.parse("bob"), self.room, reason="a friend"
        )
        self.assertEqual(held, [])  # nobody is told, nobody is put out
        self.assertEqual(self.events("bob"), [])
        self.assertEqual(
            self.events("alice"),
            [BanListChanged("dev", "alice", "exception", Mask.parse("bob"), None, "a friend")],
        )
        self.chat.join(self.bob, "dev")
        self.assertIn(self.bob, self.room)
        self.assertEqual(
            [s.kind for s in self.chat.sanctions_in(self.alice, self.room)],
            [BAN, SanctionKind.EXCEPTION],
        )

    def test_a_new_ban_does_not_put_out_whom_an_exception_lets_in(self) -> None:
        carol = self.on("carol")
        self.chat.join(carol, "dev")
        self.chat.sanction(self.alice, SanctionKind.EXCEPTION, Mask.parse("carol"), self.room)
        _, held = self.chat.sanction(self.alice, BAN, Mask.parse("c*"), self.room)
        self.assertEqual(held, [])
        self.assertIn(carol, self.room)
        self.chat.lift(self.alice, SanctionKind.EXCEPTION, Mask.parse("carol"), self.room)
        self.assertIn(carol, self.room)  # lifting an exception puts nobody out
        self.chat.part(carol, "dev")
        with self.assertRaises(Barred):
            self.chat.join(carol, "dev")

    def test_an_exception_lets_past_the_rooms_mutes_not_the_chats(self) -> None:
        carol = self.on("carol")
        self.chat.join(carol, "dev")
        self.chat.sanction(self.alice, MUTE, Mask.parse("carol"), self.room)
        with self.assertRaises(Barred):
            self.chat.say(carol, "hi", self.room)
        self.chat.sanction(self.alice, SanctionKind.EXCEPTION, Mask.parse("car*"), self.room)
        self.chat.say(carol, "hi", self.room)
        root = self.on("root", operator=True)
        self.chat.sanction(root, MUTE, Mask.parse("carol"), None)
        with self.assertRaises(Barred):
            self.chat.say(carol, "hi", self.room)

    def test_an_invitation_lets_into_an_invite_only_room(self) -> None:
        carol = self.on("carol")
        self.chat.set_mode(self.alice, self.room, "i", True)
        with self.assertRaises(InviteOnly):
            self.chat.join(carol, "dev")
        self.chat.sanction(self.alice, SanctionKind.INVITATION, Mask.parse("carol"), self.room)
        self.chat.join(carol, "dev")
        self.chat.part(carol, "dev")
        self.chat.join(carol, "dev")  # again and again: it is no one-time /invite
        self.chat.part(carol, "dev")
        self.chat.set_mode(self.alice, self.room, "k", True, "beer")
        with self.assertRaises(BadKey):  # past +i alone
            self.chat.join(carol, "dev")
        self.chat.set_mode(self.alice, self.room, "k", False)
        with self.assertRaises(Barred):  # and not past a ban
            self.chat.join(self.bob, "dev")

    def test_refused(self) -> None:
        root = self.on("root", operator=True)
        with self.assertRaises(ChatError) as e:
            self.chat.sanction(root, SanctionKind.EXCEPTION, Mask.parse("bob"), None)
        self.assertEqual(
            str(e.exception), "an exception is a room's, not the chat's: name the room"
        )
        carol = self.on("carol")
        self.chat.join(carol, "dev")
        with self.assertRaises(NotAnOperator) as e:
            self.chat.sanction(carol, SanctionKind.INVITATION, Mask.parse("carol"), self.room)
        self.assertEqual(str(e.exception), "only operators may set invitations in dev")
        with self.assertRaises(ChatError) as e:
            self.chat.lift(root, SanctionKind.INVITATION, Mask.parse("bob"), None)
        self.assertEqual(
            str(e.exception), "an invitation is a room's, not the chat's: name the room"
        )
        # An exception may match its setter: it keeps nobody out.
        self.chat.sanction(self.alice, SanctionKind.EXCEPTION, Mask.parse("al*"), self.room)


class BanTests(ModerationTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.root = self.on("root", operator=True)
        self.alice = self.on("alice")
        self.bob = self.on("bob", address="192.0.2.7")
        self.room = self.chat.join(self.alice, "dev")
        self.chat.move(self.bob, "dev")  # as the line protocol is: in one room
        for nick in self.clients:
            self.events(nick)

    def test_room_ban_puts_out_and_keeps_out_until_expiry(self) -> None:
        sanction, held = self.chat.sanction(
            self.alice, BAN, Mask.parse("192.0.2.0/24"), self.room, duration=3600, reason="spam"
        )
        self.assertEqual(held, ["bob"])
        self.assertEqual(sanction.until, self.clock.seconds() + 3600)
        text = "you are banned from dev for 1h (until 1970-01-12 14:46 UTC): spam"
        self.assertEqual(
            self.events("bob"),
            [
                Sanctioned("bob", "ban", "dev", "alice", "spam", sanction.until, text),
                Removed("dev", "bob", "alice", "banned: spam", to="lobby"),
            ],
        )
        changed = BanListChanged(
            "dev", "alice", "ban", Mask.parse("192.0.2.0/24"), sanction.until, "spam"
        )
        self.assertEqual(
            self.events("alice"),
            [Removed("dev", "bob", "alice", "banned: spam"), Joined("lobby", "bob"), changed],
            "the room is told its ban list changed once whom it holds for is out",
        )
        self.assertEqual(self.bob.rooms, (self.chat.lobby,))
        with self.assertRaises(Barred) as e:
            self.chat.join(self.bob, "dev")
        self.assertEqual(str(e.exception), text)
        self.clock.advance(3599)
        with self.assertRaises(Barred):
            self.chat.join(self.bob, "dev")
        self.clock.advance(1)
        self.chat.move(self.bob, "dev")

    def test_homeless_stay_roomless(self) -> None:
        carol = self.chat.sign_on("carol", RecordingClient(), Account("carol"), lobby=False)
        self.chat.join(carol, "dev")
        self.chat.sanction(self.alice, BAN, Mask.parse("carol"), self.room)
        self.assertEqual(carol.rooms, ())

    def test_only_room_operators_ban_there(self) -> None:
        with self.assertRaises(NotAnOperator) as e:
            self.chat.sanction(self.bob, BAN, Mask.parse("alice"), self.room)
        self.assertEqual(str(e.exception), "only operators may ban in dev")
        with self.assertRaises(NotAnOperator):
            self.chat.sanction(self.alice, BAN, Mask.parse("bob"), None)

    def test_operators_are_above_sanctions(self) -> None:
        self.chat.join(self.root, "dev")
        _, held = self.chat.sanction(self.alice, BAN, Mask.parse("r*"), self.room)
        self.assertEqual(held, [])
        self.assertIn(self.root, self.room)
        with self.assertRaises(ChatError) as e:
            self.chat.sanction(self.alice, BAN, Mask.parse("ali*"), self.room)
        self.assertEqual(str(e.exception), "nick:ali* matches you")

    def test_server_ban_kicks_and_refuses_sign_on(self) -> None:
        _, held = self.chat.sanction(self.root, BAN, Mask.parse("account:bob"), None, duration=60)
        self.assertEqual(held, ["bob"])
        kicked = self.clients["bob"].kicked_by
        self.assertEqual(kicked, Kicked("dev", "bob", "root", "banned"))
        self.assertIsNone(self.chat.find("bob"))
        with self.assertRaises(Barred) as e:
            self.on("bob")
        self.assertEqual(
            str(e.exception), "you are banned from the chat for 1m (until 1970-01-12 13:47 UTC)"
        )
        self.on("bobby", account=False)  # a guest elsewhere is not the account bob
        self.clock.advance(60)
        self.on("bob")

    def test_server_ban_by_nickname_refuses_rename(self) -> None:
        self.chat.sanction(self.root, BAN, Mask.parse("evil*"), None)
        with self.assertRaises(Barred):
            self.chat.rename(self.alice, "evilalice")

    def test_the_room_is_told_its_ban_list_changed(self) -> None:
        carol = self.on("carol")
        self.chat.join(carol, "dev")
        self.chat.join(self.root, "ops")
        for nick in self.clients:
            self.events(nick)
        mask = Mask.parse("dave")
        _, held = self.chat.sanction(self.alice, BAN, mask, self.room, reason="spam")
        self.assertEqual(held, [])
        changed = BanListChanged("dev", "alice", "ban", mask, None, "spam")
        for nick in ("alice", "bob", "carol"):
            self.assertEqual(self.events(nick), [changed], nick)
        self.assertEqual(self.events("root"), [], "not in dev")
        self.chat.sanction(self.alice, BAN, mask, self.room, duration=60)
        again = BanListChanged("dev", "alice", "ban", mask, self.clock.seconds() + 60)
        self.assertEqual(self.events("carol"), [again], "set again: a new expiry, no reason")
        self.chat.lift(self.alice, BAN, mask, self.room)
        lifted = BanListChanged("dev", "alice", "ban", mask, on=False)
        self.assertEqual(self.events("carol"), [lifted])
        self.assertEqual(self.events("alice"), [again, lifted])

    def test_chat_wide_bans_are_no_rooms(self) -> None:
        mask = Mask.parse("dave")
        self.chat.sanction(self.root, BAN, mask, None)
        self.chat.sanction(self.root, MUTE, mask, None)
        self.chat.lift(self.root, BAN, mask, None)
        self.chat.lift(self.root, MUTE, mask, None)
        for nick in ("alice", "bob", "root"):
            self.assertEqual(self.events(nick), [], nick)

    def test_lift(self) -> None:
        mask = Mask.parse("bob")
        self.chat.sanction(self.alice, BAN, mask, self.room)
        with self.assertRaises(NotAnOperator):
            self.chat.lift(self.bob, BAN, mask, self.room)
        self.chat.lift(self.alice, BAN, mask, self.room)
        with self.assertRaises(ChatError) as e:
            self.chat.lift(self.alice, BAN, mask, self.room)
        self.assertEqual(str(e.exception), "there is no ban on nick:bob in dev")
        self.chat.move(self.bob, "dev")

    def test_list_bounded_and_sorted(self) -> None:
        for n in range(500):
            self.chat.sanction(self.alice, BAN, Mask.parse(f"spam{n}"), self.room, duration=60)
            self.clock.advance(0.001)
        with self.assertRaises(ChatError) as e:
            self.chat.sanction(self.alice, BAN, Mask.parse("one-more"), self.room)
        self.assertEqual(
            str(e.exception), "dev has 500 bans already, the most it may have: lift some first"
        )
        listed = self.chat.sanctions_in(self.bob, self.room)
        self.assertEqual([str(s.mask) for s in listed[:2]], ["nick:spam0", "nick:spam1"])
        with self.assertRaises(NotAnOperator):
            self.chat.sanctions_in(self.bob, None)
        self.clock.advance(60)
        self.assertEqual(self.chat.sanctions_in(self.bob, self.room), [])

    def test_unregistered_room_forgets_its_bans(self) -> None:
        self.chat.sanction(self.alice, BAN, Mask.parse("bob"), self.room)
        self.chat.part(self.alice, "dev")
        self.assertEqual(list(self.chat.sanctions), [])

    def test_registered_room_keeps_its_bans(self) -> None:
        self.chat.register_room(self.alice, self.room)
        self.chat.sanction(self.alice, BAN, Mask.parse("bob"), self.room)
        self.chat.part(self.alice, "dev")
        with self.assertRaises(Barred):
            self.chat.move(self.bob, "dev")

    def test_room_kick(self) -> None:
        removed = self.chat.remove(self.alice, self.room, "bob", "calm down")
        self.assertEqual(removed, Removed("dev", "bob", "alice", "calm down"))
        self.assertEqual(self.events("alice"), [removed, Joined("lobby", "bob")])
        self.assertEqual(self.events("bob"), [Removed("dev", "bob", "alice", "calm down", "lobby")])
        self.assertEqual(self.events("root"), [Joined("lobby", "bob")])
        self.chat.move(self.bob, "dev")  # a kick is not a ban
        with self.assertRaises(NotAnOperator):
            self.chat.remove(self.bob, self.room, "alice")

    def test_room_operators_may_put_one_another_out_but_not_owners_or_server_operators(
        self,
    ) -> None:
        """
        As on IRC: an operator the maker named may put the maker out; a server
        operator never is; an owner of a registered room only by an owner.
        """
        self.chat.set_operator(self.alice, self.room, "bob")
        self.chat.move(self.root, "dev")
        with self.assertRaises(ChatError) as e:
            self.chat.remove(self.bob, self.room, "root")
        self.assertEqual(str(e.exception), "root is a server operator")
        removed = self.chat.remove(self.bob, self.room, "alice", "my turn")
        self.assertEqual(removed, Removed("dev", "alice", "bob", "my turn"))
        self.chat.move(self.alice, "dev")
        self.chat.set_operator(self.bob, self.room, "alice")
        self.chat.register_room(self.alice, self.room)  # alice owns it now
        with self.assertRaises(ChatError) as e:
            self.chat.remove(self.bob, self.room, "alice")
        self.assertEqual(str(e.exception), "alice is an owner of dev")
        self.assertEqual(self.chat.remove(self.alice, self.room, "bob").nick, "bob")
        self.chat.move(self.bob, "dev")
        self.chat.remove(self.root, self.room, "alice")  # a server operator may


class MuteTests(ModerationTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.root = self.on("root", operator=True)
        self.alice, self.bob = self.on("alice"), self.on("bob")
        self.room = self.chat.join(self.alice, "dev")
        self.chat.join(self.bob, "dev")
        for nick in self.clients:
            self.events(nick)

    def test_room_mute(self) -> None:
        self.chat.sanction(
            self.alice, MUTE, Mask.parse("bob"), self.room, duration=120, reason="flood"
        )
        told, changed = self.events("bob")
        assert isinstance(told, Sanctioned)
        until = self.clock.seconds() + 120
        self.assertEqual(
            changed, BanListChanged("dev", "alice", "mute", Mask.parse("bob"), until, "flood")
        )
        self.assertEqual(self.events("alice"), [changed])
        self.assertEqual(
            told.text, "you are muted in dev for 2m (until 1970-01-12 13:48 UTC): flood"
        )
        with self.assertRaises(Barred) as e:
            self.chat.say(self.bob, "hello?", self.room)
        self.assertEqual(
            str(e.exception), "you are muted in dev for 2m (until 1970-01-12 13:48 UTC): flood"
        )
        with self.assertRaises(Barred):
            self.chat.act(self.bob, "waves", self.room)
        self.chat.say(self.bob, "lobby is fine", self.chat.lobby)
        self.chat.whisper(self.bob, "alice", "private is fine")
        self.clock.advance(120)
        self.chat.say(self.bob, "back", self.room)
        self.assertEqual(self.events("alice")[-1], Message("dev", "bob", "back"))

    def test_what_runs_out_is_told_as_lifted_by_itself(self) -> None:
        mute, ban = Mask.parse("bob"), Mask.parse("dave")
        self.chat.sanction(self.alice, MUTE, mute, self.room, duration=120, reason="flood")
        self.chat.sanction(self.alice, BAN, ban, self.room, duration=60)
        self.chat.sanction(self.root, BAN, Mask.parse("eve"), None, duration=60)
        for nick in self.clients:
            self.events(nick)
        self.assertEqual(self.chat.expire(self.clock.seconds() + 30), [])
        self.clock.advance(60)
        # Met as it ran out (dave is let in): dropped then, and told at the next sweep.
        dave = self.on("dave")
        self.chat.join(dave, "dev")
        for nick in self.clients:
            self.events(nick)
        self.clock.advance(60)
        expired = self.chat.expire(self.clock.seconds())
        self.assertEqual(
            sorted(str(s.mask) for s in expired), ["nick:bob", "nick:dave", "nick:eve"]
        )
        ran_out = [
            BanListChanged("dev", "alice", "ban", ban, on=False, expired=True),
            BanListChanged("dev", "alice", "mute", mute, on=False, expired=True),
        ]
        self.assertEqual(sorted(self.events("alice"), key=lambda e: e.kind), ran_out)
        bobs = self.events("bob")
        told = [e for e in bobs if isinstance(e, Sanctioned)]
        self.assertEqual([(e.given, e.text) for e in told], [(False, "you may speak in dev now")])
        changes = [e for e in bobs if isinstance(e, BanListChanged)]
        self.assertEqual(sorted(changes, key=lambda e: e.kind), ran_out)
        self.assertLess(bobs.index(told[0]), bobs.index(ran_out[1]), "told before the room")
        self.assertEqual(self.events("root"), [], "not in dev; a chat-wide ban is no room's")
        self.assertEqual(self.chat.expire(self.clock.seconds()), [], "each told once")

    def test_room_unmute(self) -> None:
        mask = Mask.parse("bob")
        self.chat.sanction(self.alice, MUTE, mask, self.room)
        self.events("bob"), self.events("alice")
        self.chat.lift(self.alice, MUTE, mask, self.room)
        told, changed = self.events("bob")
        assert isinstance(told, Sanctioned)
        self.assertEqual((told.given, told.text), (False, "you may speak in dev now"))
        self.assertEqual(changed, BanListChanged("dev", "alice", "mute", mask, on=False))
        self.assertEqual(self.events("alice"), [changed])

    def test_server_mute_and_unmute(self) -> None:
        mask = Mask.parse("account:bob")
        self.chat.sanction(self.root, MUTE, mask, None)
        with self.assertRaises(Barred):
            self.chat.say(self.bob, "hi", self.chat.lobby)
        with self.assertRaises(Barred):
            self.chat.whisper(self.bob, "alice", "psst")
        self.chat.whisper(self.bob, "root", "may I?")  # operators hear the muted
        self.events("bob")
        self.chat.lift(self.root, MUTE, mask, None)
        (told,) = self.events("bob")
        assert isinstance(told, Sanctioned)
        self.assertEqual((told.given, told.text), (False, "you may speak again now"))
        self.chat.say(self.bob, "thanks", self.chat.lobby)

    def test_room_operators_above_room_mutes(self) -> None:
        self.chat.sanction(self.root, MUTE, Mask.parse("alice"), None)
        with self.assertRaises(Barred):  # chat-wide holds even for room operators
            self.chat.say(self.alice, "x", self.room)


class RunTimeOperatorTests(ModerationTestCase):
    def test_grant_and_revoke(self) -> None:
        root, alice = self.on("root", operator=True), self.on("alice")
        with self.assertRaises(NotAnOperator):
            self.chat.grant_operator(alice, "bob")
        self.assertEqual(self.chat.grant_operator(root, "ALICE"), "alice")
        self.assertTrue(alice.operator)
        self.chat.sign_off(alice)
        self.assertTrue(self.on("alice").operator)
        self.chat.revoke_operator(root, "alice")
        self.assertFalse(self.chat.find("alice").operator)  # type: ignore[union-attr]
        with self.assertRaises(ChatError):
            self.chat.revoke_operator(root, "alice")
        with self.assertRaises(ChatError):
            self.chat.grant_operator(root, "nobody")

    def test_left_events_still_right(self) -> None:
        self.on("root", operator=True)
        bob = self.on("bob")
        self.events("root")
        self.chat.sign_off(bob)
        self.assertEqual(self.events("root"), [Left("lobby", "bob", signed_off=True)])
