"""
Accounts and moderation through a session (L{chatsvc.sessions.session}):
registering, changing and deleting an account and its rules (closed
registration, short passwords, the rate per address, someone else's
nickname); run-time operators; registered rooms, their modes and ranks; bans
and mutes as users ask for them; what the registry is told to keep, and
what the log says of every sanction.
"""

from __future__ import annotations

from twisted.cred.portal import Portal
from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.accounts import Accounts, ChatRealm, hash_password
from chatsvc.accounts.registered import RegisteredAccounts
from chatsvc.chat import commands
from chatsvc.chat.events import (
    Joined,
    Kicked,
    Message,
    ModeChange,
    ModeChanged,
    NickChange,
    RankChanged,
    Removed,
    Sanctioned,
    VoiceChanged,
)
from chatsvc.chat.sanctions import Mask, SanctionKind
from chatsvc.registry import MemoryRegistry, RoomRecord
from chatsvc.sessions.registration import Problem, Registrar, RegistrationRefused
from chatsvc.sessions.results import (
    AccountDeleted,
    AccountRegistered,
    KickedOut,
    NicknamePrompt,
    NickReleased,
    OperatorGranted,
    PasswordChanged,
    PasswordPrompt,
    Refused,
    RoomRanked,
    RoomRegistered,
    SanctionList,
    SanctionSet,
    Welcome,
)
from tests.sessions.test_session import FakeFrontend, FakeServer, entered, logged

ROOT_HASH = hash_password(b"rootroot", n=2)


def quick_hash(password: bytes) -> Deferred[str]:
    return succeed(hash_password(password, n=2))


class ModerationServer(FakeServer):
    """A L{FakeServer} whose users register accounts, kept in a L{MemoryRegistry}; root operates."""

    def __init__(self, *, registration: bool = True) -> None:
        super().__init__()
        self.memory = MemoryRegistry()
        self.registry = self.memory
        self.registered = RegisteredAccounts(
            [("root", ROOT_HASH)], run_in_thread=lambda f, a: succeed(f(a))
        )
        names = Accounts([self.registered])
        self.portal = Portal(ChatRealm(["root"]), [names])
        self.chat.accounts = names
        self.chat.clock = self.time.seconds
        self.registrar = Registrar(
            self.registered, self.memory, self.time, open=registration, hash=quick_hash
        )

    def user(self, nick: str, address: str | None = None) -> FakeFrontend:
        """A guest C{nick} who registers with the password C{nick * 4}."""
        frontend = self.connect(address)
        frontend.session.sign_on_as(nick)
        frontend.session.perform(commands.Register(nick * 4))
        frontend.take()
        frontend.take_calls()
        return frontend


def do(frontend: FakeFrontend, line: str) -> list[object]:
    """What C{frontend} is shown for C{line}, as a user types it (dropping what came before)."""
    frontend.take()
    frontend.session.perform(commands.parse(line))
    return list(frontend.take())


class RegisterTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = ModerationServer()

    def test_register(self) -> None:
        alice = self.server.signed_on("alice")
        with logged() as log:
            self.assertEqual(do(alice, "/register wonderland"), [AccountRegistered("alice")])
        self.assertEqual(log, ["peer1 registered the account alice"])
        self.assertEqual(alice.take_calls(), [("wait", True), ("wait", False)])
        self.assertEqual(alice.session.account.name, "alice")  # type: ignore[union-attr]
        self.assertEqual(list(self.server.memory.accounts), ["alice"])
        # Signing on again asks for the password.
        alice.session.quit()
        again = self.server.connect()
        again.session.sign_on_as("Alice")
        again.session.give_password(b"wonderland")
        self.assertEqual(
            again.take(), [PasswordPrompt("alice"), Welcome("Alice"), entered("lobby", "Alice")]
        )

    def test_refusals(self) -> None:
        alice = self.server.signed_on("alice")
        self.assertEqual(
            do(alice, "/register short"), [Refused("a password is at least 8 characters")]
        )
        self.assertEqual(
            do(alice, "/register " + "x" * 257), [Refused("a password is at most 256 bytes")]
        )
        with self.assertRaises(commands.CommandError) as e:
            commands.parse("/register")
        self.assertEqual(str(e.exception), "usage: /register PASSWORD")
        do(alice, "/register wonderland")
        self.assertEqual(
            do(alice, "/register wonderland"),
            [Refused("you are logged in to the account alice already")],
        )

    def test_each_refusal_names_its_problem(self) -> None:
        """For wires that answer with a code (IRC's C{FAIL REGISTER}), not only words."""

        def problem(frontend: FakeFrontend, line: str) -> Problem | None:
            (refused,) = do(frontend, line)
            assert isinstance(refused, Refused), refused
            error = refused.error
            return error.problem if isinstance(error, RegistrationRefused) else None

        alice = self.server.signed_on("alice")
        self.assertIs(problem(alice, "/register short"), Problem.WEAK_PASSWORD)
        do(alice, "/register wonderland")
        self.assertIs(problem(alice, "/register wonderland"), Problem.LOGGED_IN)
        self.assertIs(problem(alice, "/password wonderland short"), Problem.WEAK_PASSWORD)
        closed = ModerationServer(registration=False).signed_on("bob")
        self.assertIs(problem(closed, "/register wonderland"), Problem.CLOSED)
        none = FakeServer().signed_on("bob")
        self.assertIs(problem(none, "/register wonderland"), Problem.UNAVAILABLE)
        for nick in ("a1", "a2", "a3"):
            self.server.user(nick, "192.0.2.1")
        fourth = self.server.connect("192.0.2.1")
        fourth.session.sign_on_as("a4")
        fourth.take()
        self.assertIs(problem(fourth, "/register a4a4a4a4"), Problem.TOO_MANY)

    def test_closed(self) -> None:
        server = ModerationServer(registration=False)
        alice = server.signed_on("alice")
        self.assertEqual(
            do(alice, "/register wonderland"),
            [Refused("registration is closed on this server: ask its operators")],
        )
        self.assertEqual(server.memory.accounts, {})

    def test_none_without_a_registrar(self) -> None:
        server = FakeServer()
        alice = server.signed_on("alice")
        self.assertEqual(
            do(alice, "/register wonderland"),
            [Refused("accounts cannot be registered on this server")],
        )

    def test_rate_per_address(self) -> None:
        for nick in ("a1", "a2", "a3"):
            self.server.user(nick, "192.0.2.1")
        fourth = self.server.connect("192.0.2.1")
        fourth.session.sign_on_as("a4")
        fourth.take()
        refusal = "too many accounts registered from your address; try again in 1h"
        self.assertEqual(do(fourth, "/register a4a4a4a4"), [Refused(refusal)])
        other = self.server.connect("192.0.2.2")
        other.session.sign_on_as("b1")
        other.take()
        self.assertEqual(do(other, "/register b1b1b1b1"), [AccountRegistered("b1")])
        self.server.time.advance(3600)
        self.assertEqual(do(fourth, "/register a4a4a4a4"), [AccountRegistered("a4")])

    def test_a_registered_nickname_is_not_a_guests(self) -> None:
        alice = self.server.user("alice")
        alice.session.quit()
        guest = self.server.signed_on("bob")
        self.assertEqual(do(guest, "/nick alice"), [Refused("the nickname alice is registered")])

    def test_a_guest_holding_a_nickname_registered_meanwhile_is_renamed(self) -> None:
        guest = self.server.signed_on("carol")
        # carol registers from elsewhere: an account made by another path (the configuration).
        self.server.registered.add("carol", hash_password(b"carolcarol", n=2))
        guest.take()
        owner = self.server.connect()
        owner.session.sign_on_as("carol")
        with logged() as log:
            owner.session.give_password(b"carolcarol")
        self.assertEqual(guest.take(), [NickReleased("carol", "carol_1"), Joined("lobby", "carol")])
        self.assertIn("carol, a guest, is now carol_1: its owner signed on", log)
        self.assertEqual(owner.session.participant.nick, "carol")  # type: ignore[union-attr]

    def test_a_guest_whose_nickname_another_node_registered_is_renamed(self) -> None:
        guest = self.server.signed_on("carol")
        self.server.registered.add("carol", hash_password(b"carolcarol", n=2))
        guest.take()
        guest.session.release_nickname()
        self.assertEqual(guest.take(), [NickReleased("carol", "carol_1")])
        guest.session.release_nickname()  # carol_1 is nobody's: it stays
        self.assertEqual(guest.take(), [])

    def test_change_password(self) -> None:
        alice = self.server.user("alice")
        self.assertEqual(
            do(alice, "/password wrong wonderland2"),
            [Refused("that is not your password; nothing changed")],
        )
        self.assertEqual(
            do(alice, "/password alicealicealicealice wonderland2"), [PasswordChanged("alice")]
        )
        _, hashed = self.server.memory.accounts["alice"]
        self.assertTrue(self.server.registered._accounts["alice"][1].matches(b"wonderland2"))
        self.assertTrue(hashed.startswith("scrypt$"))
        self.assertEqual(
            do(alice, "/password wonderland2 short"),
            [Refused("a password is at least 8 characters")],
        )

    def test_guest_cannot_change_a_password(self) -> None:
        guest = self.server.signed_on("dave")
        self.assertEqual(
            do(guest, "/password a b"), [Refused("you are not logged in to an account")]
        )
        self.assertEqual(do(guest, "/unregister"), [Refused("you are not logged in to an account")])

    def test_unregister_forgets_what_it_ran(self) -> None:
        alice = self.server.user("alice")
        do(alice, "/join dev")
        do(alice, "/room register")
        self.assertEqual(do(alice, "/unregister"), [AccountDeleted("alice")])
        self.assertIsNone(alice.session.account)
        self.assertNotIn("alice", self.server.memory.accounts)
        self.assertEqual(self.server.memory.rooms["dev"].owners, ())
        self.assertIsNone(self.server.chat.registered("alice"))


class OperatorTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = ModerationServer()
        self.root = self.server.signed_on("root", b"rootroot")
        self.alice = self.server.user("alice")

    def test_oper_add_and_del(self) -> None:
        self.assertEqual(
            do(self.alice, "/oper add alice"),
            [Refused("only operators may make others server operators")],
        )
        with logged() as log:
            self.assertEqual(do(self.root, "/oper add ALICE"), [OperatorGranted("alice")])
        self.assertEqual(log, ["root made alice a server operator"])
        self.assertTrue(self.alice.session.participant.operator)  # type: ignore[union-attr]
        self.assertEqual(self.server.memory.operators, {"alice": "alice"})
        self.assertEqual(do(self.root, "/oper del alice"), [OperatorGranted("alice", False)])
        self.assertEqual(self.server.memory.operators, {})
        self.assertEqual(
            do(self.root, "/oper add nobody"), [Refused("there is no account named nobody")]
        )


class RoomTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = ModerationServer()
        self.alice, self.bob = self.server.user("alice"), self.server.user("bob")
        do(self.alice, "/join dev")

    def test_register_rank_and_modes_are_kept(self) -> None:
        with logged() as log:
            self.assertEqual(do(self.alice, "/room register"), [RoomRegistered("dev")])
        self.assertEqual(log, ["alice registered dev"])
        self.assertEqual(
            do(self.alice, "/room op bob"),
            [
                RankChanged("dev", "bob", "operator", None, "alice"),
                RoomRanked("dev", "bob", "operator", changed=True),
            ],
        )
        self.assertEqual(do(self.alice, "/room op bob"), [RoomRanked("dev", "bob", "operator")])
        self.assertEqual(
            do(self.alice, "/room mode +im"),
            [ModeChanged("dev", "alice", (ModeChange("i", True), ModeChange("m", True)))],
        )
        do(self.alice, "/topic deploys at noon")
        kept = self.server.memory.rooms["dev"]
        self.assertEqual(
            (kept.owners, kept.operators, kept.invite_only, kept.moderated, kept.topic.text),  # type: ignore[union-attr]
            (("alice",), ("bob",), True, True, "deploys at noon"),
        )
        self.alice.session.perform(commands.Invite("bob"))
        do(self.bob, "/join dev")
        self.assertEqual(
            do(self.bob, "/room owner bob"),
            [Refused("only the owners of dev may name its owners and operators")],
        )
        do(self.alice, "/room unregister")
        self.assertEqual(self.server.memory.rooms, {})

    def test_unregistered_rooms_keep_nothing(self) -> None:
        do(self.alice, "/room mode +i")
        self.assertEqual(self.server.memory.rooms, {})
        self.assertEqual(
            do(self.alice, "/room op bob"),
            [Refused("dev is not registered: /room register it first")],
        )

    def test_invite_only(self) -> None:
        do(self.alice, "/room mode +i")
        self.assertEqual(
            do(self.bob, "/join dev"),
            [Refused("dev is invite-only: an operator of it must /invite you")],
        )
        do(self.alice, "/invite bob")
        do(self.bob, "/join dev")
        self.assertIn(self.bob.session.participant, self.server.chat.room("dev"))

    def test_key(self) -> None:
        with logged() as log:
            do(self.alice, "/room mode +k beer")
        self.assertEqual(log, ["alice set dev +k"])  # the key is not logged
        self.assertEqual(
            do(self.bob, "/join dev"),
            [Refused("dev has a key: join it with the right one (/join dev KEY)")],
        )
        self.assertEqual(self.bob.session.participant.room.name, "lobby")  # type: ignore[union-attr]
        do(self.bob, "/join dev beer")
        self.assertEqual(self.bob.session.participant.room.name, "dev")  # type: ignore[union-attr]

    def test_limit_and_its_log(self) -> None:
        with logged() as log:
            do(self.alice, "/room mode +l-n 1")
        self.assertEqual(log, ["alice set dev +l 1 -n"])
        self.assertEqual(
            do(self.bob, "/join dev"), [Refused("dev is full: it takes 1 members at most")]
        )
        self.server.user("carol").session.perform(commands.Enter("dev"))
        self.assertEqual(len(self.server.chat.room("dev")), 1)

    def test_a_bad_value_is_refused(self) -> None:
        self.assertEqual(
            do(self.alice, "/room mode +il 0"),
            [Refused("the most members is from 1 to 1000000")],
        )
        self.assertEqual(self.server.chat.room("dev").modes(), "+nt")

    def test_secret(self) -> None:
        """A secret room is, to those outside it, as if there were none: but it may be joined."""
        do(self.alice, "/room mode +s")
        (rooms,) = do(self.bob, "/rooms")
        self.assertNotIn("dev", [room.name for room in rooms.rooms])  # type: ignore[attr-defined]
        asked: list[commands.Command] = [
            commands.Who("dev"),
            commands.History(5, room="dev"),
            commands.Search(("words",), room="dev"),
            commands.Topic(room="dev"),
        ]
        for command in asked:
            self.bob.take()
            self.bob.session.perform(command)
            self.assertEqual(self.bob.take(), [Refused("there is no room named dev")], msg=command)
        (rooms,) = do(self.alice, "/rooms")
        self.assertIn("dev", [room.name for room in rooms.rooms])  # type: ignore[attr-defined]
        do(self.bob, "/join dev")
        (rooms,) = do(self.bob, "/rooms")
        self.assertIn("dev", [room.name for room in rooms.rooms])  # type: ignore[attr-defined]

    def test_words_from_outside(self) -> None:
        self.bob.take()
        self.bob.session.perform(commands.Say("hi", room="dev"))
        self.assertEqual(self.bob.take(), [Refused("you are not in dev")])
        do(self.alice, "/room mode -n")
        self.alice.take()
        self.bob.session.perform(commands.Say("hi from outside", room="dev"))
        self.assertEqual(self.alice.take(), [Message("dev", "bob", "hi from outside")])
        self.assertEqual(
            [line.event for line in self.server.store.lines],  # kept, as any line
            [Message("dev", "bob", "hi from outside")],
        )

    def test_topic_and_voice(self) -> None:
        do(self.bob, "/join dev")
        self.assertEqual(do(self.bob, "/topic mine"), [Refused("only operators may set the topic")])
        do(self.alice, "/room mode -t+m")
        do(self.bob, "/topic mine")
        self.assertEqual(self.server.chat.room("dev").topic.text, "mine")  # type: ignore[union-attr]
        self.assertEqual(
            do(self.bob, "hi"),
            [Refused("dev is moderated: only its operators and voiced members may speak")],
        )
        with logged() as log:
            do(self.alice, "/voice bob")
        self.assertEqual(log, ["alice gave bob a voice in dev"])
        self.assertEqual(self.bob.take(), [VoiceChanged("dev", "bob", "alice")])
        do(self.bob, "hi")
        self.assertEqual(self.alice.take(), [Message("dev", "bob", "hi")])
        self.assertEqual(
            do(self.bob, "/voice alice"), [Refused("only operators may give members a voice")]
        )
        do(self.alice, "/devoice bob")
        self.assertEqual(
            do(self.bob, "hi"),
            [Refused("dev is moderated: only its operators and voiced members may speak")],
        )

    def test_room_operator_kicks_from_the_room(self) -> None:
        do(self.bob, "/join dev")
        self.alice.take()
        with logged() as log:
            do(self.alice, "/kick bob enough")
        self.assertEqual(log, ["alice put bob out of dev (enough)"])
        self.assertEqual(
            self.bob.take(),
            [Removed("dev", "bob", "alice", "enough", "lobby")],
        )

    def test_a_server_operator_kicks_from_the_room_it_names(self) -> None:
        root = self.server.connect()
        root.session.sign_on_as("root")
        root.session.give_password(b"rootroot")
        do(root, "/join dev")
        do(self.bob, "/join dev")
        self.bob.take()
        # A wire where the room is explicit (the web) names it: out of that room alone.
        with logged() as log:
            root.session.perform(commands.Kick("bob", "enough", room="dev"))
        self.assertEqual(log, ["root put bob out of dev (enough)"])
        self.assertEqual(self.bob.take(), [Removed("dev", "bob", "root", "enough", "lobby")])
        # Naming none, out of the chat, as before.
        root.session.perform(commands.Kick("bob"))
        self.assertEqual([type(shown) for shown in self.bob.take()], [KickedOut])


class SanctionTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = ModerationServer()
        self.root = self.server.signed_on("root", b"rootroot")
        self.alice = self.server.user("alice")
        self.bob = self.server.user("bob", "192.0.2.7")
        do(self.alice, "/join dev")
        do(self.bob, "/join dev")
        for user in (self.root, self.alice, self.bob):
            user.take()

    def test_ban_in_a_registered_room_is_kept_and_logged(self) -> None:
        do(self.alice, "/room register")
        with logged() as log:
            *_, shown = do(self.alice, "/ban 192.0.2.0/24 2h spam")
        assert isinstance(shown, SanctionSet)
        self.assertEqual((str(shown.sanction.mask), shown.held), ("192.0.2.0/24", ("bob",)))
        self.assertEqual(
            log,
            [
                "alice banned 192.0.2.0/24 in dev until 2026-11-18 13:06 UTC (spam); "
                "it holds for bob"
            ],
        )
        self.assertEqual(list(self.server.memory.sanctions.values()), [shown.sanction])
        told = self.bob.take()
        assert isinstance(told[0], Sanctioned)
        self.assertEqual(
            told[0].text, "you are banned from dev for 2h (until 2026-11-18 13:06 UTC): spam"
        )
        self.assertEqual(told[1], Removed("dev", "bob", "alice", "banned: spam", "lobby"))
        with logged() as log:
            do(self.alice, "/unban 192.0.2.0/24")
        self.assertEqual(log, ["alice lifted the ban of 192.0.2.0/24 in dev"])
        self.assertEqual(self.server.memory.sanctions, {})

    def test_exceptions_and_invitations_are_kept_and_logged(self) -> None:
        do(self.alice, "/room register")
        do(self.alice, "/ban bob")
        with logged() as log:
            *_, shown = do(self.alice, "/except account:bob 1h a friend after all")
        assert isinstance(shown, SanctionSet)
        self.assertEqual(shown.held, ())
        self.assertEqual(
            log,
            [
                "alice excepted from bans and mutes account:bob in dev until "
                "2026-11-18 12:06 UTC (a friend after all)"
            ],
        )
        do(self.bob, "/join dev")
        self.assertEqual(self.bob.session.participant.room.name, "dev")  # type: ignore[union-attr]
        do(self.alice, "/room mode +i")
        do(self.alice, "/invex nick:carol")
        kinds = [s.kind.value for s in self.server.memory.sanctions.values()]
        self.assertEqual(sorted(kinds), ["ban", "exception", "invitation"])
        self.assertEqual(
            do(self.alice, "/except -g bob"),
            [Refused("an exception is a room's, not the chat's: name the room")],
        )
        with logged() as log:
            do(self.alice, "/uninvex carol")
        self.assertEqual(log, ["alice lifted the invitation of nick:carol in dev"])

    def test_ban_in_an_unregistered_room_is_not_kept(self) -> None:
        do(self.alice, "/ban bob")
        self.assertEqual(self.server.memory.sanctions, {})
        self.assertEqual(do(self.bob, "/join dev"), [Refused("you are banned from dev for good")])

    def test_chat_wide_by_operators_only(self) -> None:
        self.assertEqual(
            do(self.alice, "/ban -g bob"), [Refused("only operators may ban chat-wide")]
        )
        do(self.root, "/ban -g account:bob 1d abuse")
        self.assertEqual(self.bob.last, [KickedOut(Kicked("dev", "bob", "root", "banned: abuse"))])
        again = self.server.connect()
        again.session.sign_on_as("bob")
        again.session.give_password(b"bobbobbobbob")
        why = "you are banned from the chat for 1d (until 2026-11-19 11:06 UTC): abuse"
        self.assertEqual(again.take(), [PasswordPrompt("bob"), Refused(why), NicknamePrompt()])

    def test_mute_and_list(self) -> None:
        do(self.alice, "/mute bob 10m flood")
        self.bob.take()
        self.assertEqual(
            do(self.bob, "hello?"),
            [Refused("you are muted in dev for 10m (until 2026-11-18 11:16 UTC): flood")],
        )
        (listed,) = do(self.bob, "/bans")
        assert isinstance(listed, SanctionList)
        self.assertEqual([str(s.mask) for s in listed.sanctions], ["nick:bob"])
        self.assertEqual(
            do(self.bob, "/bans -g"), [Refused("only operators may list chat-wide bans")]
        )
        self.server.time.advance(600)
        do(self.bob, "back")
        self.assertEqual(
            do(self.alice, "/unmute bob"), [Refused("there is no mute on nick:bob in dev")]
        )

    def test_hostile_input(self) -> None:
        for line, why in [
            ("/ban *", "* would match everyone"),
            ("/ban 0.0.0.0/0", "0.0.0.0/0 would match every address"),
            ("/ban bob 99999d", "a duration is at most 3650d"),
            (
                "/ban bob 5y",
                "'5y' is not a duration: use a number and s, m, h, d or w (as 30m or 1h30m)",
            ),
            ("/ban bob 1h " + "x" * 301, "a reason is at most 300 characters (301)"),
            ("/ban", "usage: /ban [-g] MASK [TIME] [WHY]"),
            ("/room mode +x", f"unknown room mode '+x': {commands.MODES_USAGE}"),
        ]:
            with self.assertRaises(commands.CommandError, msg=line) as e:
                commands.parse(line)
            self.assertEqual(str(e.exception), why)

    def test_a_full_list(self) -> None:
        for n in range(500):
            do(self.alice, f"/ban spam{n} 1h")
        self.assertEqual(
            do(self.alice, "/ban spam500"),
            [Refused("dev has 500 bans already, the most it may have: lift some first")],
        )
        (listed,) = do(self.alice, "/bans")
        assert isinstance(listed, SanctionList)
        self.assertEqual(len(listed.sanctions), 500)

    def test_not_in_room_record(self) -> None:
        self.assertEqual(RoomRecord("dev", ("alice",)).operators, ())
        self.assertIs(SanctionKind("mute"), SanctionKind.MUTE)
        self.assertEqual(str(Mask.parse("nick:x")), "nick:x")
        self.assertEqual(NickChange("a", "b", "c").new, "c")


class LogInOnceSignedOnTests(SynchronousTestCase):
    """C{become_operator(..., operators_only=False)}: IRC's C{NickServ IDENTIFY}."""

    def test_any_account(self) -> None:
        server = ModerationServer()
        server.user("alice").session.quit()
        guest = server.signed_on("alice_")
        told: list[object] = []
        guest.session.become_operator("alice", b"wrong", operators_only=False).addCallback(
            told.append
        )
        server.time.advance(server.password_delay)
        guest.session.become_operator(
            "alice", b"alicealicealicealice", operators_only=False
        ).addCallback(told.append)
        self.assertEqual(told[0], None)
        self.assertEqual(getattr(told[1], "name", None), "alice")
        participant = guest.session.participant
        assert participant is not None and participant.account is not None
        self.assertEqual((participant.nick, participant.account.name), ("alice_", "alice"))

    def test_operators_only_by_default(self) -> None:
        server = ModerationServer()
        server.user("alice").session.quit()
        guest = server.signed_on("alice_")
        guest.session.become_operator("alice", b"alicealicealicealice")
        participant = guest.session.participant
        assert participant is not None
        self.assertIsNone(participant.account, "OPER logs in to operators' accounts alone")
