"""
The session core alone, with no transport: a fake frontend that renders each
result as a token standing for the result itself, a fake server on a
L{task.Clock}, and L{FakeHistory} answering lookups when the test says.

Covered: every way of signing on (a guest; a registered nickname with the
right password, a wrong one, too many, none; a taken, invalid or empty
nickname; guests refused; the takeover of a registered nickname from the
same account and from a guest; two logins at once; a checker that fails or
answers after the connection is gone; the login timeout at either prompt);
every request of L{chatsvc.chat.commands} and its refusals; history lookups
in flight, the output held behind them and released in order, their bounds
and failures, and what the frontend is told meanwhile (C{wait}, C{holding},
C{charge}); and the ends of a session (quit, kick, shutdown, a dropped or
lost connection), with the log where it matters.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import cast

from twisted.cred.checkers import ICredentialsChecker, InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import Portal
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from chatsvc.accounts import Accounts, ChatRealm
from chatsvc.chat import commands
from chatsvc.chat.events import (
    Action,
    Event,
    Joined,
    Kicked,
    Left,
    Message,
    NickChange,
    PrivateMessage,
    TopicChanged,
)
from chatsvc.chat.interfaces import IAccountNames, IChatClient
from chatsvc.chat.model import Account, Chat, Participant, Topic
from chatsvc.history import HistoryError, IHistory, Line
from chatsvc.history.replay import LOOKUP_TIMEOUT, MAX_LOOKUPS
from chatsvc.registry import IRegistry, MemoryRegistry
from chatsvc.sessions import results
from chatsvc.sessions.registration import Registrar
from chatsvc.sessions.results import (
    Entered,
    Farewell,
    Goodbye,
    Help,
    HistoryCapped,
    HistoryFound,
    HistoryUnavailable,
    KickedOut,
    Members,
    NicknamePrompt,
    NickReleased,
    PasswordPrompt,
    PrivateSent,
    Refused,
    Renamed,
    Result,
    RoomList,
    RoomSummary,
    ServerNotice,
    TopicShown,
    Welcome,
)
from chatsvc.sessions.session import (
    LOOKUP_COST,
    PASSWORD_ATTEMPTS,
    PASSWORD_DELAY,
    Session,
    Stage,
)
from chatsvc.streams.traffic import Traffic
from chatsvc.testing import FakeHistory
from tests.support import PASSWORDS

NOW = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC

Shown = Result | Event
Call = tuple[str, object]


class Renderer:
    """
    Renders whatever a session shows as a token, C{b"N;"}, naming it in
    L{shown}: what reaches a frontend is read back as the results themselves.
    One renderer serves every frontend, so what is rendered once for a room
    reads the same for each member.
    """

    def __init__(self) -> None:
        self.shown: list[Shown] = []

    def render(self, result: Shown) -> bytes:
        self.shown.append(result)
        return b"%d;" % (len(self.shown) - 1)

    def read(self, output: bytes) -> list[Shown]:
        return [self.shown[int(token)] for token in output.split(b";")[:-1]]


@implementer(IChatClient)
class FakeFrontend:
    """
    An L{ISessionFrontend} that records what it is asked to do, and the
    session's client in the chat, as a frontend's connection is.
    """

    takes_tags = False

    def __init__(self, server: FakeServer, peer: str, address: str | None = None) -> None:
        self.peer = peer
        self._renderer = server.renderer
        self.sent: list[Shown] = []
        """Everything sent, in order, the last words included."""
        self.last: list[Shown] | None = None
        """What C{hang_up} was given, once it was called."""
        self.calls: list[Call] = []
        """C{wait}, C{holding}, C{charge} and C{hang_up}, in order."""
        self.session = Session(server, self, self, address=address)

    # ISessionFrontend

    def render(self, result: Shown) -> bytes:
        return self._renderer.render(result)

    def send(self, output: bytes) -> None:
        self.sent.extend(self._renderer.read(output))

    def hang_up(self, last: bytes) -> None:
        self.calls.append(("hang_up", self.last is None))
        self.last = self._renderer.read(last)
        self.sent.extend(self.last)

    def wait(self, waiting: bool) -> None:
        self.calls.append(("wait", waiting))

    def holding(self, holding: bool) -> None:
        self.calls.append(("holding", holding))

    def charge(self, lines: int) -> None:
        self.calls.append(("charge", lines))

    # IChatClient

    def deliver(self, event: Event) -> None:
        self.session.deliver(event)

    def kicked(self, event: Kicked) -> None:
        self.session.kicked(event)

    # For the tests

    def take(self) -> list[Shown]:
        """What was sent since the last call."""
        sent, self.sent = self.sent, []
        return sent

    def take_calls(self) -> list[Call]:
        """The calls made since the last call."""
        calls, self.calls = self.calls, []
        return calls

    @property
    def waiting(self) -> bool:
        """Whether it was last told to wait."""
        told = [value for name, value in self.calls if name == "wait"]
        return bool(told and told[-1])

    @property
    def held(self) -> bool:
        """Whether it was last told that output is held."""
        told = [value for name, value in self.calls if name == "holding"]
        return bool(told and told[-1])


@implementer(IAccountNames, ICredentialsChecker)
class PendingChecker:
    """A checker of alice's password whose verdicts the test gives, later."""

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self) -> None:
        self.pending: list[tuple[IUsernamePassword, Deferred[bytes | tuple[()]]]] = []

    def account_for(self, nick: str) -> str | None:
        return "alice" if nick.lower() == "alice" else None

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[bytes | tuple[()]]:
        d: Deferred[bytes | tuple[()]] = Deferred()
        self.pending.append((credentials, d))
        return d

    def verdict(self, index: int = 0) -> Deferred[bytes | tuple[()]]:
        return self.pending[index][1]


@implementer(IAccountNames)
class NamedChecker(InMemoryUsernamePasswordDatabaseDontUse):
    """Alice's password, and the nicknames of L{names} registered: a test may add alice later."""

    def __init__(self) -> None:
        super().__init__(alice=b"secret")
        self.names: set[str] = set()

    def account_for(self, nick: str) -> str | None:
        return nick.lower() if nick.lower() in self.names else None


class FakeServer:
    """
    A L{SessionServer}: a chat (with the accounts of L{PASSWORDS}, or of
    C{checker}, through a portal, if C{accounts}), its history (C{store}, a
    L{FakeHistory}) and its clock (C{time}, a L{Clock}); the chat's fan-out
    renders a room's event once for all members, as the line frontend's does.
    """

    def __init__(
        self,
        *,
        accounts: bool = False,
        checker: ICredentialsChecker | None = None,
        guests: bool = True,
        operators: Collection[str] = (),
        at_once: bool = True,
        replay: int = 0,
        login_timeout: float = 0,
        log_messages: bool = False,
    ) -> None:
        self.time = Clock()
        self.time.advance(NOW)
        self.clock: IReactorTime = self.time
        self.traffic = Traffic(NOW)
        self.renderer = Renderer()
        self.portal: Portal | None = None
        names: Accounts | None = None
        if accounts or checker is not None:
            if checker is None:
                checker = InMemoryUsernamePasswordDatabaseDontUse(**PASSWORDS)
            names = Accounts([checker])
            self.portal = Portal(ChatRealm(operators), [names])
        self.chat = Chat(accounts=names, guests=guests)
        self.chat.fan_out = self.fan_out
        self.store = FakeHistory(self.time, at_once=at_once)
        self.history: IHistory = self.store
        self.login_timeout = login_timeout
        self.password_delay = PASSWORD_DELAY
        self.replay = replay
        self.log_messages = log_messages
        self.registry: IRegistry = MemoryRegistry()
        self.registrar: Registrar | None = None
        self._peers = 0

    def session_of(self, participant: Participant) -> Session:
        return cast(FakeFrontend, participant.client).session

    def log_line(self, event: Message | Action | PrivateMessage) -> str:
        return f"logged: {event.text}"

    def statistics(self) -> results.Statistics:
        users = len(self.chat)
        rooms = sum(1 for _ in self.chat.rooms())
        now = self.clock.seconds()
        rate = self.traffic.rate(now)
        return results.Statistics(
            (("fake", users),), (("fake", users),), rooms, rate, now - NOW, 1 << 20
        )

    def fan_out(
        self, event: Event, clients: Collection[IChatClient], exclude: IChatClient | None
    ) -> None:
        data = self.renderer.render(event)
        for client in clients:
            if client is not exclude:
                cast(FakeFrontend, client).session.output(data)

    def connect(self, address: str | None = None) -> FakeFrontend:
        """A new connection (from C{address}, if given), its session started."""
        self._peers += 1
        frontend = FakeFrontend(self, f"peer{self._peers}", address)
        frontend.session.start()
        return frontend

    def signed_on(self, nick: str, password: bytes | None = None) -> FakeFrontend:
        """A connection signed on as C{nick}, what it was told so far taken."""
        frontend = self.connect()
        frontend.session.sign_on_as(nick)
        if password is not None:
            frontend.session.give_password(password)
        assert frontend.session.stage is Stage.SIGNED_ON, frontend.sent
        frontend.take()
        frontend.take_calls()
        return frontend


@contextmanager
def logged() -> Iterator[list[str]]:
    """The log messages emitted within, formatted."""
    messages: list[str] = []
    with capturedLogs() as events:
        yield messages
    messages.extend(formatEvent(event) for event in events)


def entered(
    room: str, *members: str, topic: Topic | None = None, away: tuple[str, ...] = ()
) -> Entered:
    return Entered(room, len(members), members, topic, away)


class GuestSignOnTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = FakeServer()
        self.bob = self.server.signed_on("bob")
        self.c = self.server.connect()
        self.session = self.c.session

    def test_a_guest_is_welcomed_into_the_lobby_and_the_lobby_told(self) -> None:
        with logged() as log:
            self.session.sign_on_as("alice")
        self.assertEqual(self.c.take(), [Welcome("alice"), entered("lobby", "alice", "bob")])
        self.assertEqual(self.bob.take(), [Joined("lobby", "alice")])
        self.assertIs(self.session.stage, Stage.SIGNED_ON)
        participant = self.session.participant
        assert participant is not None
        self.assertEqual((participant.nick, participant.account), ("alice", None))
        self.assertEqual(self.c.calls, [], "nothing waited for")
        self.assertEqual(log, ["peer2 is alice"])

    def test_a_lobby_too_big_to_list_is_shown_by_its_size(self) -> None:
        self.server.chat.announce_limit = 1
        self.session.sign_on_as("alice")
        self.assertEqual(self.c.take(), [Welcome("alice"), Entered("lobby", 2, None, None)])
        self.assertEqual(self.bob.take(), [], "nor told who comes")

    def test_an_empty_nickname_asks_again(self) -> None:
        self.session.sign_on_as("")
        self.assertEqual(self.c.take(), [NicknamePrompt()])
        self.assertIs(self.session.stage, Stage.NICKNAME)

    def test_an_invalid_nickname_is_refused_and_asked_again(self) -> None:
        self.session.sign_on_as("al ice")
        self.assertEqual(
            self.c.take(),
            [
                Refused(
                    "'al ice' is not a valid nickname: use 1-32 letters, digits and"
                    " _ - . [ ] { } ^ |"
                ),
                NicknamePrompt(),
            ],
        )
        self.assertIs(self.session.stage, Stage.NICKNAME)

    def test_a_taken_nickname_is_refused_in_any_case(self) -> None:
        self.session.sign_on_as("BOB")
        self.assertEqual(self.c.take(), [Refused("the nickname BOB is taken"), NicknamePrompt()])
        self.assertEqual(self.bob.take(), [])
        self.session.sign_on_as("alice")
        self.assertEqual(self.c.take()[0], Welcome("alice"))

    def test_a_nickname_once_signed_on_is_ignored(self) -> None:
        self.session.sign_on_as("alice")
        self.c.take()
        self.session.sign_on_as("carol")
        self.assertEqual(self.c.take(), [])
        self.assertIsNone(self.server.chat.find("carol"))

    def test_quit_at_the_prompt_says_bye(self) -> None:
        self.session.quit()
        self.assertEqual(self.c.last, [Goodbye(Farewell.QUIT)])
        self.assertTrue(self.session.over)
        self.assertEqual(self.bob.take(), [])

    def test_requests_before_signing_on_are_ignored(self) -> None:
        self.session.perform(commands.Say("hello"))
        self.session.perform(commands.Help())
        self.assertEqual(self.c.take(), [])
        self.assertEqual(self.bob.take(), [])

    def test_guests_are_refused_where_only_accounts_may_sign_on(self) -> None:
        server = FakeServer(accounts=True, guests=False)
        c = server.connect()
        c.session.sign_on_as("dave")
        self.assertEqual(
            c.take(),
            [
                Refused("dave is not registered, and only registered users may sign on here"),
                NicknamePrompt(),
            ],
        )
        c.session.sign_on_as("bob")
        c.session.give_password(b"hunter2")
        self.assertEqual(c.take(), [PasswordPrompt("bob"), Welcome("bob"), entered("lobby", "bob")])


class PasswordTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = FakeServer(accounts=True)
        self.carol = self.server.signed_on("carol")
        self.c = self.server.connect()
        self.session = self.c.session

    def test_a_registered_nickname_is_asked_for_its_password(self) -> None:
        self.session.sign_on_as("ALICE")
        self.assertEqual(self.c.take(), [PasswordPrompt("alice")])
        self.assertIs(self.session.stage, Stage.PASSWORD)
        self.assertEqual(self.carol.take(), [], "nobody is told before the login")

    def test_the_right_password_signs_on_with_the_account(self) -> None:
        self.session.sign_on_as("ALICE")
        self.c.take()
        with logged() as log:
            self.session.give_password(b"secret")
        self.assertEqual(self.c.take(), [Welcome("ALICE"), entered("lobby", "ALICE", "carol")])
        self.assertEqual(self.carol.take(), [Joined("lobby", "ALICE")])
        participant = self.session.participant
        assert participant is not None
        self.assertEqual(participant.account, Account("alice"))
        self.assertFalse(self.c.waiting)
        self.assertEqual(log, ["peer2 is ALICE, logged in to alice"])

    def test_an_operator_is_logged_as_one(self) -> None:
        server = FakeServer(accounts=True, operators=["alice"])
        c = server.connect()
        c.session.sign_on_as("alice")
        with logged() as log:
            c.session.give_password(b"secret")
        self.assertEqual(log, ["peer1 is alice, logged in to alice (operator)"])
        participant = c.session.participant
        assert participant is not None
        self.assertEqual(participant.account, Account("alice", operator=True))

    def test_a_wrong_password_is_refused_and_asked_again_after_the_delay(self) -> None:
        self.session.sign_on_as("alice")
        self.c.take()
        with logged() as log:
            self.session.give_password(b"guess")
        self.assertEqual(self.c.take(), [Refused("wrong password for alice")])
        self.assertIs(self.session.stage, Stage.REFUSED)
        self.assertEqual(self.c.take_calls(), [("wait", True)])
        self.server.time.advance(PASSWORD_DELAY - 0.1)
        self.assertEqual(self.c.take(), [])
        self.server.time.advance(0.1)
        self.assertEqual(self.c.take(), [PasswordPrompt("alice")])
        self.assertEqual(self.c.take_calls(), [("wait", False)])
        self.assertEqual(log, ["peer2 gave a wrong password for alice (1 of 3)"])
        self.session.give_password(b"secret")
        self.assertEqual(self.c.take()[0], Welcome("alice"))

    def test_a_password_during_the_delay_is_not_read(self) -> None:
        self.session.sign_on_as("alice")
        self.session.give_password(b"guess")
        self.c.take()
        self.session.give_password(b"secret")
        self.assertIsNone(self.session.participant)
        self.assertEqual(self.c.take(), [])

    def test_the_last_wrong_password_waits_out_the_delay_then_says_goodbye(self) -> None:
        self.session.sign_on_as("alice")
        for _ in range(PASSWORD_ATTEMPTS - 1):
            self.session.give_password(b"guess")
            self.server.time.advance(PASSWORD_DELAY)
        self.c.take()
        self.session.give_password(b"guess")
        self.assertEqual(self.c.take(), [Refused("wrong password for alice")])
        self.assertIsNone(self.c.last)
        with logged() as log:
            self.server.time.advance(PASSWORD_DELAY)
        self.assertEqual(self.c.last, [Goodbye(Farewell.TOO_MANY_PASSWORDS)])
        self.assertEqual(self.c.take(), [Goodbye(Farewell.TOO_MANY_PASSWORDS)])
        self.assertEqual(log, ["peer2 gave too many wrong passwords"])

    def test_an_empty_password_goes_back_to_the_nickname_prompt(self) -> None:
        self.session.sign_on_as("alice")
        self.session.give_password(b"")
        self.assertEqual(self.c.take(), [PasswordPrompt("alice"), NicknamePrompt()])
        self.assertIs(self.session.stage, Stage.NICKNAME)
        self.assertEqual(self.c.calls, [], "not a failure: nothing waited out")
        self.session.sign_on_as("dave")
        self.assertEqual(self.c.take(), [Welcome("dave"), entered("lobby", "carol", "dave")])

    def test_wrong_passwords_count_across_the_nickname_prompt(self) -> None:
        for _ in range(PASSWORD_ATTEMPTS):
            self.session.sign_on_as("alice")
            self.session.give_password(b"guess")
            self.server.time.advance(PASSWORD_DELAY)
            if not self.session.over:
                self.session.give_password(b"")
        self.assertEqual(self.c.last, [Goodbye(Farewell.TOO_MANY_PASSWORDS)])

    def test_the_password_is_checked_exactly_as_given(self) -> None:
        for password in [b" secret", b"secret ", b"Secret", b"secret\r"]:
            with self.subTest(password=password):
                c = self.server.connect()
                c.session.sign_on_as("alice")
                c.session.give_password(password)
                self.assertEqual(c.take()[-1], Refused("wrong password for alice"))

    def test_passwords_are_never_logged_or_shown(self) -> None:
        server = FakeServer(accounts=True, log_messages=True)
        c = server.connect()
        with logged() as log:
            c.session.sign_on_as("alice")
            c.session.give_password(b"wrong-one")
            server.time.advance(PASSWORD_DELAY)
            c.session.give_password(b"secret")
        for text in [*log, *map(repr, server.renderer.shown)]:
            self.assertNotIn("wrong-one", text)
            self.assertNotIn("secret", text)


class CheckingTests(SynchronousTestCase):
    """A password checked later: the session waits for the verdict, reading nothing."""

    def setUp(self) -> None:
        self.checker = PendingChecker()
        self.server = FakeServer(checker=self.checker, login_timeout=60)
        self.c = self.server.connect()
        self.session = self.c.session
        self.session.sign_on_as("alice")
        self.session.give_password(b"secret")
        self.assertEqual(self.c.take(), [PasswordPrompt("alice")])

    def test_nothing_is_read_until_the_verdict(self) -> None:
        ((credentials, _),) = self.checker.pending
        self.assertEqual((credentials.username, credentials.password), (b"alice", b"secret"))
        self.assertIs(self.session.stage, Stage.CHECKING)
        self.assertEqual(self.c.take_calls(), [("wait", True)])
        self.checker.verdict().callback(b"alice")
        self.assertEqual(self.c.take(), [Welcome("alice"), entered("lobby", "alice")])
        self.assertEqual(self.c.take_calls(), [("wait", False)])

    def test_a_refusal_later_waits_out_the_delay(self) -> None:
        self.checker.verdict().errback(UnauthorizedLogin())
        self.assertEqual(self.c.take(), [Refused("wrong password for alice")])
        self.assertIs(self.session.stage, Stage.REFUSED)
        self.assertTrue(self.c.waiting)
        self.server.time.advance(PASSWORD_DELAY)
        self.assertEqual(self.c.take(), [PasswordPrompt("alice")])
        self.assertFalse(self.c.waiting)

    def test_a_checker_that_fails_says_goodbye_and_is_logged(self) -> None:
        with logged() as log:
            self.checker.verdict().errback(OSError("disk on fire"))
        self.assertEqual(self.c.last, [Goodbye(Farewell.CANNOT_CHECK)])
        self.assertEqual(log, ["Cannot check the password of alice"])
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)
        self.assertIsNone(self.server.chat.find("alice"))

    def test_the_second_of_two_logins_at_once_takes_over(self) -> None:
        other = self.server.connect()
        other.session.sign_on_as("alice")
        other.session.give_password(b"secret")
        other.take()
        self.checker.verdict(0).callback(b"alice")
        self.assertEqual(self.c.take(), [Welcome("alice"), entered("lobby", "alice")])
        self.checker.verdict(1).callback(b"alice")
        self.assertEqual(self.c.take(), [Goodbye(Farewell.REPLACED, "alice")])
        self.assertEqual(other.take(), [Welcome("alice"), entered("lobby", "alice")])
        self.assertFalse(other.waiting, "not left waiting")
        self.assertIs(self.server.chat.find("alice"), other.session.participant)

    def test_a_connection_lost_during_the_check_signs_nobody_on(self) -> None:
        self.session.lost()
        self.checker.verdict().callback(b"alice")
        self.assertEqual(len(self.server.chat), 0)
        self.assertEqual(self.c.take(), [])
        self.assertIsNone(self.c.last)

    def test_the_timeout_during_the_check_ends_it(self) -> None:
        self.server.time.advance(60)
        self.assertEqual(self.c.last, [Goodbye(Farewell.PASSWORD_TIMEOUT)])
        self.checker.verdict().callback(b"alice")
        self.assertEqual(len(self.server.chat), 0)
        self.assertEqual(self.c.take(), [Goodbye(Farewell.PASSWORD_TIMEOUT)])


class TakeoverTests(SynchronousTestCase):
    """The right password takes a registered nickname from whoever has it."""

    def test_from_the_same_account_signed_on_elsewhere(self) -> None:
        server = FakeServer(accounts=True)
        first = server.signed_on("alice", b"secret")
        carol = server.signed_on("carol")
        first.take()
        c = server.connect()
        c.session.sign_on_as("Alice")
        self.assertEqual(c.take(), [PasswordPrompt("alice")])
        self.assertEqual(first.take(), [], "asked for the password even so")
        with logged() as log:
            c.session.give_password(b"secret")
        self.assertEqual(first.last, [Goodbye(Farewell.REPLACED, "alice")])
        self.assertEqual(first.take(), [Goodbye(Farewell.REPLACED, "alice")])
        self.assertEqual(
            carol.take(),
            [
                Left("lobby", "alice", "signed on from elsewhere", signed_off=True),
                Joined("lobby", "Alice"),
            ],
        )
        self.assertEqual(c.take(), [Welcome("Alice"), entered("lobby", "Alice", "carol")])
        self.assertIn("peer3 takes alice over from peer1", log)
        participant = server.chat.find("alice")
        self.assertIs(participant, c.session.participant)
        first.session.lost()
        self.assertIs(server.chat.find("alice"), participant, "the old one's loss is old news")
        self.assertEqual(carol.take(), [])

    def test_from_a_guest_who_took_it_before_it_was_registered(self) -> None:
        checker = NamedChecker()
        server = FakeServer(checker=checker)
        guest = server.signed_on("alice")
        carol = server.signed_on("carol")
        guest.take()
        checker.names.add("alice")
        owner = server.connect()
        owner.session.sign_on_as("alice")
        owner.session.give_password(b"secret")
        self.assertIsNone(guest.last)  # renamed and told, not put out
        self.assertEqual(guest.take(), [NickReleased("alice", "alice_1"), Joined("lobby", "alice")])
        self.assertEqual(guest.session.participant.nick, "alice_1")  # type: ignore[union-attr]
        self.assertEqual(
            carol.take(),
            [NickChange("lobby", "alice", "alice_1"), Joined("lobby", "alice")],
        )
        self.assertEqual(
            owner.take(),
            [
                PasswordPrompt("alice"),
                Welcome("alice"),
                entered("lobby", "alice", "alice_1", "carol"),
            ],
        )

    def test_a_wrong_password_takes_nothing_over(self) -> None:
        server = FakeServer(accounts=True)
        first = server.signed_on("alice", b"secret")
        c = server.connect()
        c.session.sign_on_as("alice")
        c.session.give_password(b"wonderland")
        self.assertEqual(c.take(), [PasswordPrompt("alice"), Refused("wrong password for alice")])
        self.assertEqual(first.take(), [])
        self.assertIs(server.chat.find("alice"), first.session.participant)


class LoginTimeoutTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = FakeServer(accounts=True, login_timeout=10)
        self.c = self.server.connect()

    def test_no_nickname_in_time(self) -> None:
        self.server.time.advance(9.9)
        self.assertIsNone(self.c.last)
        with logged() as log:
            self.server.time.advance(0.1)
        self.assertEqual(self.c.last, [Goodbye(Farewell.LOGIN_TIMEOUT)])
        self.assertEqual(log, ["peer1 gave no nickname in time"])

    def test_no_password_in_time_counting_from_the_connection(self) -> None:
        self.server.time.advance(6)
        self.c.session.sign_on_as("alice")
        self.server.time.advance(3.9)
        self.assertEqual(self.c.take(), [PasswordPrompt("alice")])
        with logged() as log:
            self.server.time.advance(0.1)
        self.assertEqual(self.c.last, [Goodbye(Farewell.PASSWORD_TIMEOUT)])
        self.assertEqual(log, ["peer1 gave no password in time"])

    def test_none_once_signed_on(self) -> None:
        self.c.session.sign_on_as("dave")
        self.assertEqual(self.server.time.getDelayedCalls(), [])

    def test_a_timeout_during_the_delay_is_the_end(self) -> None:
        """Nothing more is said or asked once the session has said goodbye."""
        self.server.time.advance(9)
        self.c.session.sign_on_as("alice")
        self.c.session.give_password(b"guess")
        self.server.time.advance(1)
        self.assertEqual(
            self.c.take(),
            [
                PasswordPrompt("alice"),
                Refused("wrong password for alice"),
                Goodbye(Farewell.PASSWORD_TIMEOUT),
            ],
        )
        self.server.time.advance(PASSWORD_DELAY)
        self.assertEqual(self.c.take(), [])
        self.assertTrue(self.c.session.over)
        self.assertTrue(self.c.waiting, "still reading nothing")

    def test_lost_before_signing_on_leaves_no_timer(self) -> None:
        self.c.session.sign_on_as("alice")
        self.c.session.give_password(b"guess")
        self.c.session.lost()
        self.assertEqual(self.server.time.getDelayedCalls(), [])


class RequestTests(SynchronousTestCase):
    """Every request of a signed-on guest, and its refusals."""

    def setUp(self) -> None:
        self.server = FakeServer()
        self.alice = self.server.signed_on("alice")
        self.bob = self.server.signed_on("bob")
        self.alice.take()
        self.session = self.alice.session

    def test_say_is_relayed_to_the_room_and_kept(self) -> None:
        self.session.perform(commands.Say("hello"))
        self.assertEqual(self.bob.take(), [Message("lobby", "alice", "hello")])
        self.assertEqual(self.alice.take(), [])
        self.assertEqual(self.server.store.lines, [Line(NOW, Message("lobby", "alice", "hello"))])

    def test_a_blank_say_is_nothing(self) -> None:
        self.session.perform(commands.Say("   "))
        self.assertEqual((self.alice.take(), self.bob.take()), ([], []))
        self.assertEqual(self.server.store.lines, [])

    def test_me_is_relayed_and_kept(self) -> None:
        self.session.perform(commands.Me("waves"))
        self.assertEqual(self.bob.take(), [Action("lobby", "alice", "waves")])
        self.assertEqual(self.server.store.lines, [Line(NOW, Action("lobby", "alice", "waves"))])

    def test_an_empty_me_is_refused(self) -> None:
        self.session.perform(commands.Me("  "))
        self.assertEqual(self.alice.take(), [Refused("there is nothing to send")])
        self.assertEqual(self.bob.take(), [])

    def test_msg_reaches_one_and_is_not_kept(self) -> None:
        self.session.perform(commands.Msg("BOB", "psst"))
        private = PrivateMessage("alice", "bob", "psst")
        self.assertEqual(self.alice.take(), [PrivateSent(private)])
        self.assertEqual(self.bob.take(), [private])
        self.assertEqual(self.server.store.lines, [])

    def test_msg_to_nobody_is_refused(self) -> None:
        self.session.perform(commands.Msg("carol", "psst"))
        self.assertEqual(self.alice.take(), [Refused("there is no user named carol")])

    def test_messages_are_logged_only_if_asked(self) -> None:
        with logged() as log:
            self.session.perform(commands.Say("quiet"))
        self.assertEqual(log, [])
        self.server.log_messages = True
        with logged() as log:
            self.session.perform(commands.Say("hello"))
            self.session.perform(commands.Me("waves"))
            self.session.perform(commands.Msg("bob", "psst"))
        self.assertEqual(log, ["logged: hello", "logged: waves", "logged: psst"])

    def test_nick(self) -> None:
        with logged() as log:
            self.session.perform(commands.Nick("alicia"))
        self.assertEqual(self.alice.take(), [Renamed("alicia")])
        self.assertEqual(self.bob.take(), [NickChange("lobby", "alice", "alicia")])
        self.assertEqual(log, ["alice is now known as alicia"])

    def test_nick_refused(self) -> None:
        self.session.perform(commands.Nick("Bob"))
        self.session.perform(commands.Nick("alice"))
        self.assertEqual(
            self.alice.take(),
            [Refused("the nickname Bob is taken"), Refused("you are already called alice")],
        )
        self.assertEqual(self.bob.take(), [])

    def test_join_moves_to_the_room(self) -> None:
        with logged() as log:
            self.session.perform(commands.Join("#dev"))
        self.assertEqual(self.alice.take(), [entered("dev", "alice")])
        self.assertEqual(self.bob.take(), [Left("lobby", "alice")])
        self.assertEqual(log, ["alice left lobby for dev"])

    def test_join_refused(self) -> None:
        self.session.perform(commands.Join("LOBBY"))
        self.session.perform(commands.Join("a room"))
        self.assertEqual(
            self.alice.take(),
            [
                Refused("you are already in lobby"),
                Refused(
                    "'a room' is not a valid room name: use 1-32 letters, digits and"
                    " _ - . [ ] { } ^ |"
                ),
            ],
        )

    def test_part_goes_back_to_the_lobby(self) -> None:
        self.session.perform(commands.Join("dev"))
        self.alice.take()
        self.bob.take()
        self.session.perform(commands.Part())
        self.assertEqual(self.alice.take(), [entered("lobby", "alice", "bob")])
        self.assertEqual(self.bob.take(), [Joined("lobby", "alice")])

    def test_part_in_the_lobby_is_refused(self) -> None:
        self.session.perform(commands.Part())
        self.assertEqual(self.alice.take(), [Refused("you are in lobby; /quit leaves the chat")])

    def test_who(self) -> None:
        self.bob.session.perform(commands.Join("dev"))
        self.session.perform(commands.Who())
        self.session.perform(commands.Who("DEV"))
        self.session.perform(commands.Who("attic"))
        self.assertEqual(
            self.alice.take(),
            [
                Left("lobby", "bob"),
                Members("lobby", ("alice",)),
                Members("dev", ("bob",)),
                Refused("there is no room named attic"),
            ],
        )

    def test_rooms(self) -> None:
        self.bob.session.perform(commands.Join("dev"))
        self.alice.take()
        self.session.perform(commands.Rooms())
        self.assertEqual(
            self.alice.take(), [RoomList((RoomSummary("dev", 1), RoomSummary("lobby", 1)))]
        )

    def test_rooms_most_populous_first_with_their_topics(self) -> None:
        """Rooms of a size are listed by name, without regard to case."""
        carol = self.server.signed_on("carol")
        dave = self.server.signed_on("dave")
        self.bob.session.perform(commands.Join("dev"))
        self.bob.session.perform(commands.Topic("release on Friday"))
        carol.session.perform(commands.Join("dev"))
        dave.session.perform(commands.Join("Attic"))
        self.alice.take()
        self.session.perform(commands.Rooms())
        topic = Topic("release on Friday", "bob", self.server.time.seconds())
        self.assertEqual(
            self.alice.take(),
            [
                RoomList(
                    (
                        RoomSummary("dev", 2, topic),
                        RoomSummary("Attic", 1),
                        RoomSummary("lobby", 1),
                    )
                )
            ],
        )

    def test_help(self) -> None:
        self.session.perform(commands.Help())
        self.assertEqual(self.alice.take(), [Help()])

    def test_quit(self) -> None:
        with logged() as log:
            self.session.perform(commands.Quit())
        self.assertEqual(self.alice.last, [Goodbye(Farewell.QUIT)])
        self.assertEqual(self.alice.take(), [Goodbye(Farewell.QUIT)])
        self.assertEqual(self.bob.take(), [Left("lobby", "alice", signed_off=True)])
        self.assertIsNone(self.server.chat.find("alice"))
        self.assertEqual(log, ["alice left lobby"])

    def test_quit_with_a_reason_in_the_users_words(self) -> None:
        with logged() as log:
            self.session.perform(commands.Quit("gone fishing"))
        self.assertEqual(
            self.bob.take(),
            [Left("lobby", "alice", "gone fishing", from_user=True, signed_off=True)],
        )
        self.assertEqual(log, ["alice left lobby (quit: gone fishing)"])

    def test_nothing_is_done_after_quitting(self) -> None:
        self.session.perform(commands.Quit())
        self.alice.take()
        self.session.perform(commands.Say("still here?"))
        self.session.quit()
        self.session.lost()
        self.assertEqual(
            (self.alice.take(), self.bob.take()), ([], [Left("lobby", "alice", signed_off=True)])
        )
        self.assertEqual(
            [call for call in self.alice.calls if call[0] == "hang_up"], [("hang_up", True)]
        )

    def test_topic_shown_when_there_is_none(self) -> None:
        self.session.perform(commands.Topic())
        self.assertEqual(self.alice.take(), [TopicShown("lobby", None)])

    def test_guests_may_not_set_the_topic_or_kick(self) -> None:
        self.session.perform(commands.Topic("mine now"))
        self.session.perform(commands.Kick("bob"))
        self.assertEqual(
            self.alice.take(),
            [Refused("only operators may set the topic"), Refused("only operators may kick")],
        )
        self.assertEqual(self.bob.take(), [])


class ModerationTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = FakeServer(accounts=True, operators=["alice"])
        self.alice = self.server.signed_on("alice", b"secret")
        self.carol = self.server.signed_on("carol")
        self.dave = self.server.signed_on("dave")
        self.alice.take()
        self.carol.take()

    def test_an_operator_sets_the_topic_which_is_shown_after(self) -> None:
        with logged() as log:
            self.alice.session.perform(commands.Topic("release on Friday"))
        changed = TopicChanged("lobby", "alice", "release on Friday")
        for c in (self.alice, self.carol, self.dave):
            self.assertEqual(c.take(), [changed])
        self.assertEqual(log, ["alice set the topic of lobby"])
        topic = Topic("release on Friday", "alice", NOW)
        self.carol.session.perform(commands.Topic())
        self.assertEqual(self.carol.take(), [TopicShown("lobby", topic)])
        self.server.signed_on("erin")
        erin = self.server.connect()
        erin.session.sign_on_as("frank")
        self.assertEqual(
            erin.take()[1], entered("lobby", "alice", "carol", "dave", "erin", "frank", topic=topic)
        )

    def test_an_operator_kicks_a_user_out(self) -> None:
        with logged() as log:
            self.alice.session.perform(commands.Kick("CAROL", "flooding"))
        kicked = Kicked("lobby", "carol", "alice", "flooding")
        self.assertEqual(self.carol.last, [KickedOut(kicked)])
        self.assertEqual(self.carol.take(), [KickedOut(kicked)])
        self.assertIsNone(self.carol.session.participant)
        self.assertEqual(self.alice.take(), [kicked])
        self.assertEqual(self.dave.take(), [kicked])
        self.assertEqual(log, ["alice kicked carol from lobby (flooding)"])
        self.carol.session.lost()
        self.assertEqual(self.alice.take(), [], "no leave notice after the kick")

    def test_kicks_refused(self) -> None:
        self.carol.session.perform(commands.Kick("dave"))
        self.assertEqual(self.carol.take(), [Refused("only operators may kick")])
        self.alice.session.perform(commands.Kick("nobody"))
        self.alice.session.perform(commands.Kick("Alice"))
        self.assertEqual(
            self.alice.take(),
            [Refused("there is no user named nobody"), Refused("you cannot kick yourself")],
        )
        self.assertEqual(len(self.server.chat), 3)

    def test_registered_nicknames_are_protected(self) -> None:
        self.carol.session.perform(commands.Nick("ROOT"))
        self.assertEqual(self.carol.take(), [Refused("the nickname ROOT is registered")])


class LookupTests(SynchronousTestCase):
    """History lookups in flight, and the output held behind them."""

    def setUp(self) -> None:
        self.server = FakeServer(at_once=False, replay=20)
        self.history = self.server.store
        self.history.record(Message("lobby", "carol", "earlier"))
        self.earlier = self.history.lines[0]
        self.bob = self.server.connect()
        self.bob.session.sign_on_as("bob")
        self.history.answer()
        self.bob.take()
        self.alice = self.server.connect()
        self.session = self.alice.session
        self.session.sign_on_as("alice")
        self.bob.take()

    def answer(self) -> None:
        self.history.answer()

    def found(self, *lines: Line, joining: bool = False) -> HistoryFound:
        return HistoryFound("lobby", lines, None, joining)

    def test_client_tags_are_not_kept_in_history(self) -> None:
        self.bob.session.perform(commands.Say("tagged", tags=(("+reply", "x"),)))
        self.bob.session.perform(commands.Me("too", tags=(("+reply", "x"),)))
        self.assertEqual(
            [line.event for line in self.history.lines[1:]],
            [Message("lobby", "bob", "tagged"), Action("lobby", "bob", "too")],
        )
        self.assertEqual([line.event.tags for line in self.history.lines[1:]], [(), ()])

    def test_the_replay_on_joining_comes_before_what_was_said_meanwhile(self) -> None:
        self.assertEqual(self.alice.take(), [Welcome("alice"), entered("lobby", "alice", "bob")])
        self.assertTrue(self.session.holding)
        self.bob.session.perform(commands.Say("said during the lookup"))
        self.session.perform(commands.Who())
        self.bob.session.perform(commands.Me("also"))
        self.assertEqual(self.alice.take(), [])
        self.answer()
        self.assertEqual(
            self.alice.take(),
            [
                self.found(self.earlier, joining=True),
                Message("lobby", "bob", "said during the lookup"),
                Members("lobby", ("alice", "bob")),
                Action("lobby", "bob", "also"),
            ],
        )
        self.assertFalse(self.session.holding)
        self.bob.session.perform(commands.Say("live again"))
        self.assertEqual(self.alice.take(), [Message("lobby", "bob", "live again")])

    def test_the_frontend_is_charged_and_told_of_holding_around_a_lookup(self) -> None:
        self.assertEqual(self.alice.take_calls(), [("charge", LOOKUP_COST - 1), ("holding", True)])
        self.answer()
        self.assertEqual(self.alice.take_calls(), [("holding", False)])

    def test_prerendered_output_waits_behind_a_lookup(self) -> None:
        """As the fan-out hands a room's line, rendered once for all."""
        self.alice.take()
        said = Message("lobby", "bob", "rendered once")
        self.session.output(self.server.renderer.render(said))
        self.assertEqual(self.alice.take(), [])
        self.answer()
        self.assertEqual(self.alice.take(), [self.found(self.earlier, joining=True), said])

    def test_history_and_search_answer_in_the_order_asked(self) -> None:
        self.answer()
        self.alice.take()
        self.alice.take_calls()
        self.history.record(Message("lobby", "bob", "later"))
        later = self.history.lines[1]
        self.session.perform(commands.History(1))
        self.session.perform(commands.Help())
        self.session.perform(commands.Search(("EARLIER",)))
        self.session.perform(commands.Rooms())
        self.assertEqual(self.alice.take(), [])
        self.assertEqual(len(self.history.waiting), 2)
        self.answer()
        self.assertEqual(
            self.alice.take(),
            [
                self.found(later),
                Help(),
                HistoryFound("lobby", (self.earlier,), ("EARLIER",)),
                RoomList((RoomSummary("lobby", 2),)),
            ],
        )
        self.assertEqual(
            self.alice.take_calls(),
            [
                ("charge", 4),
                ("holding", True),
                ("charge", 4),
                ("holding", True),
                ("holding", False),
            ],
        )

    def test_capped_history_says_so_first(self) -> None:
        self.answer()
        self.alice.take()
        self.session.perform(commands.History(commands.HISTORY_MAX, capped=True))
        self.assertEqual(self.alice.take(), [HistoryCapped(commands.HISTORY_MAX)])
        self.answer()
        self.assertEqual(self.alice.take(), [self.found(self.earlier)])

    def test_search_shows_the_latest_twenty_matches(self) -> None:
        self.answer()
        self.alice.take()
        for i in range(25):
            self.history.record(Message("lobby", "bob", f"match {i}"))
        self.session.perform(commands.Search(("match",)))
        self.answer()
        (found,) = self.alice.take()
        assert isinstance(found, HistoryFound)
        self.assertEqual(found.lines, tuple(self.history.lines[6:]))
        self.assertEqual(found.words, ("match",))

    def test_search_in_a_named_room(self) -> None:
        """A wire showing several rooms names the one to search; any room, as /history's."""
        self.answer()
        self.alice.take()
        self.history.record(Message("dev", "bob", "match in dev"))
        self.history.record(Message("lobby", "bob", "match in lobby"))
        self.bob.session.perform(commands.Enter("dev"))
        self.answer()
        self.alice.take()
        self.session.perform(commands.Search(("match",), room="DEV"))
        self.answer()
        (found,) = self.alice.take()
        assert isinstance(found, HistoryFound)
        self.assertEqual(found.room, "dev")
        self.assertEqual([line.event.text for line in found.lines], ["match in dev"])

    def test_too_many_lookups_at_once_are_refused_in_turn(self) -> None:
        self.session.perform(commands.History(1))
        self.session.perform(commands.Search(("x",)))
        self.session.perform(commands.History(1))
        self.alice.take()
        self.alice.take_calls()
        self.session.perform(commands.History(1))
        self.assertEqual(len(self.history.waiting), MAX_LOOKUPS)
        self.assertEqual(self.alice.take_calls(), [], "not charged for what is refused")
        self.answer()
        shown = self.alice.take()
        self.assertEqual(
            shown[-1], Refused("too many history lookups at once; wait for their answers")
        )
        self.assertEqual(len(shown), MAX_LOOKUPS + 1)

    def test_a_lookup_refused_by_the_store_is_shown_as_refused(self) -> None:
        self.alice.take()
        self.bob.session.perform(commands.Say("after"))
        self.history.fail(HistoryError("the store says no"))
        self.assertEqual(
            self.alice.take(),
            [Refused("the store says no"), Message("lobby", "bob", "after")],
        )
        self.assertFalse(self.session.holding)

    def test_a_lookup_that_fails_is_unavailable_and_logged(self) -> None:
        self.alice.take()
        with logged() as log:
            self.history.fail(RuntimeError("disk on fire"))
        self.assertEqual(self.alice.take(), [HistoryUnavailable("lobby")])
        self.assertEqual(log, ["History lookup failed"])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_a_slow_lookup_is_given_up(self) -> None:
        self.alice.take()
        self.alice.take_calls()
        self.bob.session.perform(commands.Say("waiting"))
        self.server.time.advance(LOOKUP_TIMEOUT)
        self.assertEqual(
            self.alice.take(), [HistoryUnavailable("lobby"), Message("lobby", "bob", "waiting")]
        )
        self.assertEqual(self.alice.take_calls(), [("holding", False)])
        self.answer()
        self.assertEqual(self.alice.take(), [])

    def test_quit_waits_for_the_answer_then_says_goodbye(self) -> None:
        self.alice.take()
        self.alice.take_calls()
        self.bob.session.perform(commands.Say("before you go"))
        self.session.perform(commands.Quit())
        self.assertEqual(
            self.bob.take(), [Left("lobby", "alice", signed_off=True)], "signed off at once"
        )
        self.assertIs(self.session.stage, Stage.QUITTING)
        self.assertEqual(self.alice.take_calls(), [("wait", True)])
        self.session.perform(commands.Help())
        self.session.quit()
        self.assertEqual(self.alice.take(), [])
        self.answer()
        self.assertEqual(
            self.alice.take(),
            [
                self.found(self.earlier, joining=True),
                Message("lobby", "bob", "before you go"),
                Goodbye(Farewell.QUIT),
            ],
        )
        self.assertEqual(self.alice.last, [Goodbye(Farewell.QUIT)])
        self.assertFalse(self.alice.held)
        self.assertEqual(self.alice.calls[-1], ("hang_up", True))
        self.session.lost()
        self.assertEqual(self.bob.take(), [])
        self.assertEqual(self.server.time.getDelayedCalls(), [])

    def test_shutdown_sends_what_is_held_then_goodbye(self) -> None:
        self.alice.take()
        self.bob.session.perform(commands.Say("last words"))
        self.session.goodbye()
        self.assertEqual(
            self.alice.take(),
            [Message("lobby", "bob", "last words"), Goodbye(Farewell.SHUTDOWN)],
        )
        self.assertEqual(self.alice.last, [Goodbye(Farewell.SHUTDOWN)])
        self.assertIsNone(self.session.participant)

    def test_a_lost_connection_forgets_its_lookups(self) -> None:
        self.alice.take()
        self.session.lost()
        self.answer()
        self.assertEqual(self.alice.take(), [])
        self.assertEqual([c for c in self.server.time.getDelayedCalls() if c.active()], [])
        self.assertEqual(self.bob.take(), [Left("lobby", "alice", signed_off=True)])

    def test_no_replay_when_none_is_asked(self) -> None:
        self.server.replay = 0
        self.answer()
        self.alice.take()
        self.session.perform(commands.Join("dev"))
        self.assertEqual(self.alice.take(), [entered("dev", "alice")])
        self.assertEqual(self.history.waiting, [])
        self.assertFalse(self.session.holding)

    def test_a_lookup_answered_at_once_leaves_nothing_held(self) -> None:
        self.answer()
        self.alice.take()
        self.history.at_once = True
        self.session.perform(commands.History(5))
        self.assertEqual(self.alice.take(), [self.found(self.earlier)])
        self.assertFalse(self.session.holding)
        self.assertFalse(self.alice.held, "the frontend is not left holding")


class EndTests(SynchronousTestCase):
    """How a signed-on session ends, other than by a request."""

    def setUp(self) -> None:
        self.server = FakeServer()
        self.alice = self.server.signed_on("alice")
        self.bob = self.server.signed_on("bob")
        self.alice.take()

    def test_a_lost_connection_tells_the_room_and_frees_the_nickname(self) -> None:
        with logged() as log:
            self.alice.session.lost()
        self.assertEqual(self.bob.take(), [Left("lobby", "alice", signed_off=True)])
        self.assertIsNone(self.server.chat.find("alice"))
        self.assertIsNone(self.alice.last, "nobody to say goodbye to")
        self.assertEqual(log, ["alice left lobby"])

    def test_a_dropped_connection_leaves_not_reading(self) -> None:
        self.alice.session.dropped()
        self.assertTrue(self.alice.session.over)
        self.assertEqual(self.bob.take(), [], "told once it is gone")
        with logged() as log:
            self.alice.session.lost()
        self.assertEqual(self.bob.take(), [Left("lobby", "alice", "not reading", signed_off=True)])
        self.assertEqual(log, ["alice left lobby (not reading)"])

    def test_nothing_is_sent_once_dropped(self) -> None:
        """A connection dropped for not reading is sent nothing more, the room's lines included."""
        self.alice.take()
        self.alice.session.dropped()
        self.bob.session.perform(commands.Say("are you there?"))
        self.bob.session.perform(commands.Msg("alice", "hello?"))
        self.assertEqual(self.alice.take(), [])

    def test_shutdown_says_goodbye(self) -> None:
        self.alice.session.goodbye()
        self.assertEqual(self.alice.last, [Goodbye(Farewell.SHUTDOWN)])
        self.assertIsNone(self.alice.session.participant)
        self.assertTrue(self.alice.session.over)

    def test_what_the_chat_delivers_is_rendered_and_sent(self) -> None:
        self.bob.session.perform(commands.Msg("alice", "hi"))
        self.assertEqual(self.alice.take(), [PrivateMessage("bob", "alice", "hi")])


class ClusterTests(SynchronousTestCase):
    """What a node of a cluster asks of its sessions."""

    def setUp(self) -> None:
        self.server = FakeServer()
        self.bob = self.server.signed_on("bob")
        self.c = self.server.connect()
        self.c.session.sign_on_as("alice")
        self.c.take()
        self.bob.take()

    def test_the_server_tells_a_signed_on_user(self) -> None:
        self.c.session.tell("the other servers cannot be reached")
        self.assertEqual(self.c.take(), [ServerNotice("the other servers cannot be reached")])
        waiting = self.server.connect()
        waiting.take()
        waiting.session.tell("not yet signed on: not told")
        self.assertEqual(waiting.take(), [])

    def test_a_nickname_another_node_holds_is_lost(self) -> None:
        with logged() as log:
            self.c.session.lose_nickname()
        self.assertEqual(self.c.last, [Goodbye(Farewell.NICKNAME_CLAIMED, "alice")])
        self.assertEqual(
            self.bob.take(),
            [Left("lobby", "alice", "its nickname is taken on another server", signed_off=True)],
        )
        self.assertIsNone(self.server.chat.find("alice"))
        self.assertIn("alice is held by another node; signing it off", log)
        self.c.session.lose_nickname()  # twice is harmless
