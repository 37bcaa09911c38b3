"""
What a session offers wires that show several rooms at once (IRC): signing
on into no room, joining and leaving one room of several, speaking in a
room by name, logging in before choosing a nickname (SASL), what
L{Session.perform} returns, and the error a refusal carries.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from chatsvc.chat import commands
from chatsvc.chat.events import Action, Joined, Left, Message, PrivateMessage, TopicChanged
from chatsvc.chat.model import Account, NicknameRegistered, NotInRoom, TooManyRooms, Topic
from chatsvc.history import Line
from chatsvc.sessions import results
from chatsvc.sessions.results import (
    Farewell,
    Goodbye,
    HistoryFound,
    Parted,
    Refused,
    TopicShown,
    Welcome,
)
from chatsvc.sessions.session import PASSWORD_ATTEMPTS, PASSWORD_DELAY, Session, Stage
from tests.sessions.test_session import (
    NOW,
    FakeFrontend,
    FakeServer,
    NamedChecker,
    entered,
    logged,
)


def channel_user(server: FakeServer, nick: str) -> FakeFrontend:
    """A connection whose session signs on into no room, as IRC's do, signed on as C{nick}."""
    frontend = server.connect()
    frontend.session = Session(server, frontend, frontend, lobby=False)
    frontend.session.start()
    frontend.session.sign_on_as(nick)
    assert frontend.session.stage is Stage.SIGNED_ON
    return frontend


class NoLobbyTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = FakeServer(replay=5)
        self.carol = self.server.signed_on("carol")

    def test_welcomed_into_no_room(self) -> None:
        alice = channel_user(self.server, "alice")
        self.assertEqual(alice.take(), [Welcome("alice")], "no room entered, no history looked up")
        self.assertEqual(self.carol.take(), [])
        participant = alice.session.participant
        assert participant is not None
        self.assertEqual(participant.rooms, ())

    def test_the_line_protocols_sessions_still_enter_the_lobby(self) -> None:
        bob = self.server.connect()
        bob.session.sign_on_as("bob")
        self.assertEqual(bob.take()[:2], [Welcome("bob"), entered("lobby", "bob", "carol")])


class EnterAndLeaveTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = FakeServer()
        self.server.chat.max_rooms = 2
        self.alice = channel_user(self.server, "alice")
        self.bob = channel_user(self.server, "bob")
        self.bob.session.perform(commands.Enter("dev"))
        self.alice.take(), self.bob.take()

    def test_enter_joins_one_more_room(self) -> None:
        with logged() as log:
            self.alice.session.perform(commands.Enter("#Dev"))
            self.alice.session.perform(commands.Enter("ops"))
        self.assertEqual(
            self.alice.take(), [entered("dev", "alice", "bob"), entered("ops", "alice")]
        )
        self.assertEqual(self.bob.take(), [Joined("dev", "alice")])
        participant = self.alice.session.participant
        assert participant is not None
        self.assertEqual([room.name for room in participant.rooms], ["dev", "ops"])
        self.assertEqual(log, ["alice joined dev", "alice joined ops"])

    def test_enter_refused(self) -> None:
        self.alice.session.perform(commands.Enter("dev"))
        self.alice.take()
        self.alice.session.perform(commands.Enter("DEV"))
        self.alice.session.perform(commands.Enter("no room"))
        self.alice.session.perform(commands.Enter("ops"))
        self.alice.session.perform(commands.Enter("attic"))
        refusals = self.alice.take()
        self.assertEqual(
            refusals[:2],
            [
                Refused("you are already in dev"),
                Refused(
                    "'no room' is not a valid room name: use 1-32 letters, digits and "
                    "_ - . [ ] { } ^ |"
                ),
            ],
        )
        self.assertEqual(refusals[2], entered("ops", "alice"))
        self.assertEqual(refusals[3:], [Refused(str(TooManyRooms(2)))])
        last = refusals[3]
        assert isinstance(last, Refused)
        self.assertIsInstance(last.error, TooManyRooms)

    def test_leave_one_room_with_a_reason(self) -> None:
        self.alice.session.perform(commands.Enter("dev"))
        self.alice.session.perform(commands.Enter("ops"))
        self.alice.take(), self.bob.take()
        with logged() as log:
            self.alice.session.perform(commands.Leave("#DEV", "lunch"))
        self.assertEqual(self.alice.take(), [Parted("dev", "lunch")])
        self.assertEqual(self.bob.take(), [Left("dev", "alice", "lunch")])
        participant = self.alice.session.participant
        assert participant is not None
        self.assertEqual([room.name for room in participant.rooms], ["ops"])
        self.assertEqual(log, ["alice left dev"])

    def test_leave_without_a_reason_and_from_the_lobby(self) -> None:
        self.alice.session.perform(commands.Enter("lobby"))
        self.alice.take()
        self.alice.session.perform(commands.Leave("lobby", ""))
        self.assertEqual(self.alice.take(), [Parted("lobby")], "a blank reason is none")
        participant = self.alice.session.participant
        assert participant is not None
        self.assertEqual(participant.rooms, (), "in no room, still signed on")
        self.assertIs(self.server.chat.find("alice"), participant)

    def test_leave_a_room_one_is_not_in(self) -> None:
        self.alice.session.perform(commands.Leave("dev"))
        (refused,) = self.alice.take()
        self.assertEqual(refused, Refused("you are not in dev"))
        assert isinstance(refused, Refused)
        self.assertIsInstance(refused.error, NotInRoom)
        self.assertEqual(self.bob.take(), [])


class RoomNamedTests(SynchronousTestCase):
    """C{Say}, C{Me}, C{Topic} and C{History} naming a room, as IRC's commands do."""

    def setUp(self) -> None:
        self.server = FakeServer(accounts=True, operators=["alice"])
        self.alice = self.server.connect()
        self.alice.session = Session(self.server, self.alice, self.alice, lobby=False)
        self.alice.session.sign_on_as("alice")
        self.alice.session.give_password(b"secret")
        self.bob = channel_user(self.server, "dave")
        for room in ("dev", "ops"):
            self.alice.session.perform(commands.Enter(room))
        self.bob.session.perform(commands.Enter("dev"))
        self.alice.take(), self.bob.take()

    def test_say_and_me_in_a_room_other_than_the_last_joined(self) -> None:
        said = self.alice.session.perform(commands.Say("in dev", "#dev"))
        acted = self.alice.session.perform(commands.Me("waves", "DEV"))
        self.assertEqual(said, Message("dev", "alice", "in dev"))
        self.assertEqual(acted, Action("dev", "alice", "waves"))
        self.assertEqual(self.bob.take(), [said, acted])
        self.assertEqual(self.alice.take(), [])
        self.assertEqual(
            self.server.store.lines,
            [
                Line(NOW, Message("dev", "alice", "in dev")),
                Line(NOW, Action("dev", "alice", "waves")),
            ],
            "kept as any room line",
        )

    def test_a_notice_in_a_room(self) -> None:
        said = self.alice.session.perform(commands.Say("deployed", "dev", notice=True))
        self.assertEqual(said, Message("dev", "alice", "deployed", notice=True))
        self.assertEqual(self.bob.take(), [said])

    def test_in_a_room_one_is_not_in(self) -> None:
        self.assertIsNone(self.bob.session.perform(commands.Say("hi", "ops")))
        self.assertIsNone(self.bob.session.perform(commands.Me("waves", "ops")))
        self.assertEqual(
            self.bob.take(), [Refused("you are not in ops"), Refused("you are not in ops")]
        )
        self.assertEqual(self.alice.take(), [])
        self.assertEqual(self.server.store.lines, [])

    def test_the_topic_of_any_room_is_shown_and_set_in_ones_own(self) -> None:
        self.alice.session.perform(commands.Topic("release", "#ops"))
        changed = TopicChanged("ops", "alice", "release")
        self.assertEqual(self.alice.take(), [changed])
        self.assertEqual(self.bob.take(), [], "dave is not in ops")
        self.bob.session.perform(commands.Topic(None, "ops"))
        self.bob.session.perform(commands.Topic(None, "dev"))
        self.assertEqual(
            self.bob.take(),
            [TopicShown("ops", Topic("release", "alice", NOW)), TopicShown("dev", None)],
        )
        self.bob.session.perform(commands.Topic(None, "attic"))
        self.assertEqual(self.bob.take(), [Refused("there is no room named attic")])

    def test_an_operator_sets_only_the_topic_of_a_room_it_is_in(self) -> None:
        channel_user(self.server, "erin").session.perform(commands.Enter("attic"))
        self.alice.session.perform(commands.Topic("mine now", "attic"))
        self.assertEqual(self.alice.take(), [Refused("you are not in attic")])
        self.assertIsNone(self.server.chat.room("attic").topic)

    def test_the_history_of_a_named_room_before_or_after_a_time(self) -> None:
        for text in ("one", "two", "three"):
            self.alice.session.perform(commands.Say(text, "dev"))
            self.server.time.advance(10)
        self.alice.session.perform(commands.Say("elsewhere", "ops"))
        self.bob.take()
        self.bob.session.perform(commands.History(5, room="#dev", before=NOW + 15))
        self.assertEqual(
            self.bob.take(),
            [
                HistoryFound(
                    "dev",
                    (
                        Line(NOW, Message("dev", "alice", "one")),
                        Line(NOW + 10, Message("dev", "alice", "two")),
                    ),
                )
            ],
        )
        self.bob.session.perform(commands.History(1, room="dev", before=NOW + 15))
        (found,) = self.bob.take()
        assert isinstance(found, HistoryFound)
        self.assertEqual([line.event.text for line in found.lines], ["two"], "the latest of them")
        self.bob.session.perform(commands.History(5, room="dev", after=NOW + 5))
        (found,) = self.bob.take()
        assert isinstance(found, HistoryFound)
        self.assertEqual([line.event.text for line in found.lines], ["two", "three"])
        self.bob.session.perform(commands.History(1, room="dev", after=NOW + 5))
        (found,) = self.bob.take()
        assert isinstance(found, HistoryFound)
        self.assertEqual([line.event.text for line in found.lines], ["three"], "the latest")
        self.bob.session.perform(commands.History(5, room="dev", after=NOW, before=NOW + 15))
        (found,) = self.bob.take()
        assert isinstance(found, HistoryFound)
        self.assertEqual([line.event.text for line in found.lines], ["two"], "between")
        self.bob.session.perform(commands.History(5, room="dev"))
        (found,) = self.bob.take()
        assert isinstance(found, HistoryFound)
        self.assertEqual([line.event.text for line in found.lines], ["one", "two", "three"])


class PerformResultTests(SynchronousTestCase):
    """L{Session.perform} returns what it relayed, for wires that echo it back."""

    def setUp(self) -> None:
        self.server = FakeServer()
        self.alice = self.server.signed_on("alice")
        self.bob = self.server.signed_on("bob")

    def test_what_is_relayed(self) -> None:
        perform = self.alice.session.perform
        self.assertEqual(perform(commands.Say("hi")), Message("lobby", "alice", "hi"))
        self.assertEqual(perform(commands.Me("waves")), Action("lobby", "alice", "waves"))
        self.assertEqual(
            perform(commands.Msg("BOB", "psst", notice=True)),
            PrivateMessage("alice", "bob", "psst", notice=True),
        )

    def test_nothing_for_what_relays_nothing(self) -> None:
        perform = self.alice.session.perform
        for command in (
            commands.Say("   "),
            commands.Who(),
            commands.Nick("alicia"),
            commands.Join("dev"),
            commands.Msg("nobody", "psst"),
            commands.Me(" "),
        ):
            self.assertIsNone(perform(command), command)

    def test_nothing_before_signing_on_or_after_quitting(self) -> None:
        frontend = self.server.connect()
        self.assertIsNone(frontend.session.perform(commands.Say("hi")))
        self.alice.session.quit()
        self.assertIsNone(self.alice.session.perform(commands.Say("hi")))
        self.assertEqual(self.bob.take()[-1:], [Left("lobby", "alice", signed_off=True)])


class RefusedTests(SynchronousTestCase):
    def test_the_rule_broken_is_carried_and_compares_as_the_reason(self) -> None:
        server = FakeServer()
        alice = server.signed_on("alice")
        alice.session.perform(commands.Msg("carol", "hi"))
        (refused,) = alice.take()
        assert isinstance(refused, Refused)
        self.assertEqual(refused.error.name if refused.error else None, "carol")
        self.assertEqual(refused, Refused("there is no user named carol"))
        self.assertNotIn("error", repr(refused))

    def test_a_refusal_of_no_rule_has_no_error(self) -> None:
        server = FakeServer(accounts=True)
        alice = server.connect()
        alice.session.sign_on_as("alice")
        alice.session.give_password(b"wrong")
        refused = alice.take()[-1]
        self.assertEqual(refused, Refused("wrong password for alice"))
        assert isinstance(refused, Refused)
        self.assertIsNone(refused.error)


class LogInTests(SynchronousTestCase):
    """L{Session.log_in}: an account logged in to before any nickname (IRC's SASL)."""

    def setUp(self) -> None:
        self.server = FakeServer(accounts=True, operators=["Root"])
        self.alice = self.server.connect()
        self.session = self.alice.session

    def verdict(self, d: Deferred[Account | None]) -> list[Account | None]:
        got: list[Account | None] = []
        d.addCallback(got.append)
        return got

    def test_the_right_password(self) -> None:
        got = self.verdict(self.session.log_in("alice", b"secret"))
        self.assertEqual(got, [Account("alice")])
        self.assertEqual(self.session.account, Account("alice"))
        self.assertIs(self.session.stage, Stage.NICKNAME, "still to choose a nickname")
        self.assertEqual(self.alice.take_calls(), [("wait", True), ("wait", False)])
        self.assertEqual(self.alice.take(), [], "nothing shown: the wire says so its own way")

    def test_then_its_own_nickname_needs_no_password(self) -> None:
        self.session.log_in("alice", b"secret")
        self.session.sign_on_as("ALICE")
        self.assertIs(self.session.stage, Stage.SIGNED_ON)
        participant = self.session.participant
        assert participant is not None
        self.assertEqual((participant.nick, participant.account), ("ALICE", Account("alice")))

    def test_or_any_nickname_nobody_registered(self) -> None:
        self.session.log_in("Root", b"t00r")
        self.session.sign_on_as("admin")
        participant = self.session.participant
        assert participant is not None
        self.assertEqual(participant.account, Account("Root", operator=True))
        self.assertTrue(participant.operator)

    def test_but_not_another_accounts_nickname(self) -> None:
        self.session.log_in("alice", b"secret")
        self.session.sign_on_as("bob")
        shown = self.alice.take()
        self.assertEqual(shown[0], Refused("the nickname bob is registered"))
        refused = shown[0]
        assert isinstance(refused, Refused)
        self.assertIsInstance(refused.error, NicknameRegistered)
        self.assertIs(self.session.stage, Stage.NICKNAME)

    def test_it_takes_the_nickname_over_from_a_guest(self) -> None:
        checker = NamedChecker()
        server = FakeServer(checker=checker)
        guest = server.signed_on("alice")  # before it was registered
        checker.names.add("alice")
        alice = server.connect()
        alice.session.log_in("alice", b"secret")
        alice.session.sign_on_as("alice")
        self.assertIsNone(guest.last)
        self.assertEqual(guest.session.participant.nick, "alice_1")  # type: ignore[union-attr]
        self.assertIs(alice.session.stage, Stage.SIGNED_ON)

    def test_a_wrong_password_answers_none_after_the_delay(self) -> None:
        got = self.verdict(self.session.log_in("alice", b"wrong"))
        self.assertEqual(got, [])
        self.assertIs(self.session.stage, Stage.REFUSED)
        self.assertTrue(self.alice.waiting, "nothing is read meanwhile")
        self.server.time.advance(PASSWORD_DELAY)
        self.assertEqual(got, [None])
        self.assertIsNone(self.session.account)
        self.assertIs(self.session.stage, Stage.NICKNAME)
        self.assertFalse(self.alice.waiting)

    def test_too_many_wrong_passwords_say_goodbye(self) -> None:
        for _ in range(PASSWORD_ATTEMPTS - 1):
            self.session.log_in("alice", b"wrong")
            self.server.time.advance(PASSWORD_DELAY)
        self.session.log_in("alice", b"wrong")
        self.assertIsNone(self.alice.last)
        self.server.time.advance(PASSWORD_DELAY)
        self.assertEqual(self.alice.last, [Goodbye(Farewell.TOO_MANY_PASSWORDS)])
        self.assertTrue(self.session.over)

    def test_an_unknown_account_is_a_wrong_password(self) -> None:
        got = self.verdict(self.session.log_in("nobody", b"secret"))
        self.server.time.advance(PASSWORD_DELAY)
        self.assertEqual(got, [None])

    def test_none_at_once_without_accounts_or_once_logged_in(self) -> None:
        plain = FakeServer().connect()
        self.assertEqual(self.verdict(plain.session.log_in("alice", b"secret")), [None])
        self.session.log_in("alice", b"secret")
        self.assertEqual(self.verdict(self.session.log_in("Root", b"t00r")), [None])
        self.assertEqual(self.session.account, Account("alice"), "the first login stands")

    def test_none_once_signed_on(self) -> None:
        self.session.sign_on_as("carol")
        self.assertEqual(self.verdict(self.session.log_in("alice", b"secret")), [None])
        participant = self.session.participant
        assert participant is not None
        self.assertIsNone(participant.account)

    def test_lost_while_waiting_out_the_delay(self) -> None:
        got = self.verdict(self.session.log_in("alice", b"wrong"))
        self.session.lost()
        self.server.time.advance(PASSWORD_DELAY)
        self.assertEqual(got, [], "nobody is left to answer")
        self.assertEqual(self.server.time.getDelayedCalls(), [])

    def test_logged_out_when_the_connection_is_lost(self) -> None:
        self.session.log_in("alice", b"secret")
        self.session.lost()
        self.assertIsNone(self.session.account)


class ResultTests(SynchronousTestCase):
    def test_parted(self) -> None:
        self.assertEqual(Parted("dev"), results.Parted("dev", None))
        self.assertNotEqual(Parted("dev", "lunch"), Parted("dev"))
