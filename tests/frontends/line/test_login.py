"""
Registered nicknames signing on through the server protocol: the password
exchange over StringTransport, on a Clock, with exact lines.
"""

from __future__ import annotations

from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import LogEvent, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from chatsvc.chat.interfaces import IAccountNames
from chatsvc.frontends.line.server import PASSWORD_DELAY, ChatFactory
from chatsvc.streams.limits import Limits
from tests.support import Connection, signed_on, with_accounts

HELLO = "*** Hello {}! Type /help for the commands."


def hello(nick: str, *others: str) -> list[str]:
    members = sorted([nick, *others], key=str.lower)
    count = f"{len(members)} member" + ("s" if len(members) > 1 else "")
    return [HELLO.format(nick), f"*** You joined lobby ({count}):", "*** " + ", ".join(members)]


def clock_of(of: Connection | ChatFactory) -> Clock:
    """The fake clock of a connection's factory, or of a factory."""
    clock = (of.protocol.factory if isinstance(of, Connection) else of).clock
    assert isinstance(clock, Clock)
    return clock


@implementer(IAccountNames)
class PendingChecker(InMemoryUsernamePasswordDatabaseDontUse):
    """A checker whose verdicts the test gives, later."""

    def __init__(self) -> None:
        super().__init__(alice=b"secret")
        self.pending: list[tuple[IUsernamePassword, Deferred[bytes]]] = []

    def account_for(self, nick: str) -> str | None:
        return "alice" if nick.lower() == "alice" else None

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[bytes]:
        d: Deferred[bytes] = Deferred()
        self.pending.append((credentials, d))
        return d


@implementer(IAccountNames)
class MutableNames:
    """Registered nicknames that a test may add to while the chat runs."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def account_for(self, nick: str) -> str | None:
        return nick.lower() if nick.lower() in self.names else None


@implementer(IAccountNames)
class NamedChecker(InMemoryUsernamePasswordDatabaseDontUse):
    """A checker whose registered names are those of C{names}, whatever passwords it has."""

    def __init__(self, names: MutableNames, **passwords: bytes) -> None:
        super().__init__(**passwords)
        self.names = names

    def account_for(self, nick: str) -> str | None:
        return self.names.account_for(nick)


class PasswordTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory = with_accounts()
        self.bob = signed_on(self.factory, "carol", host="10.0.0.9")
        self.c = Connection(self.factory)
        self.c.lines()

    def test_prompt_then_sign_on(self) -> None:
        self.c.send("alice")
        self.assertEqual(self.c.lines(), ["*** Password for alice:"])
        self.assertEqual(self.bob.lines(), [], "nobody is told before the login")
        self.c.send("secret")
        self.assertEqual(self.c.lines(), hello("alice", "carol"))
        self.assertEqual(self.bob.lines(), ["*** alice joined lobby"])
        participant = self.c.protocol.participant
        assert participant is not None and participant.account is not None
        self.assertEqual(participant.account.name, "alice")

    def test_nickname_in_any_case(self) -> None:
        """The prompt names the account; the nickname keeps the spelling given."""
        self.c.send("ROOT")
        self.assertEqual(self.c.lines(), ["*** Password for Root:"])
        self.c.send("t00r\r")
        self.assertEqual(self.c.lines(), hello("ROOT", "carol"))

    def test_guests_sign_on_as_before(self) -> None:
        self.c.send("dave")
        self.assertEqual(self.c.lines(), hello("dave", "carol"))

    def test_password_exactly_as_typed(self) -> None:
        """Blanks and all: only the line ending goes."""
        for password in [" secret", "secret ", "Secret"]:
            with self.subTest(password=password):
                factory = with_accounts()
                c = Connection(factory)
                c.send("alice", password)
                self.assertEqual(c.lines()[-1], "*** Error: wrong password for alice")

    def test_wrong_password_delay_then_prompt(self) -> None:
        self.c.send("alice")
        self.c.lines()
        self.c.send("guess")
        self.assertEqual(self.c.lines(), ["*** Error: wrong password for alice"])
        self.assertEqual(self.c.transport.producerState, "paused")
        clock_of(self.c).advance(PASSWORD_DELAY - 0.1)
        self.assertEqual(self.c.lines(), [])
        clock_of(self.c).advance(0.1)
        self.assertEqual(self.c.lines(), ["*** Password for alice:"])
        self.assertEqual(self.c.transport.producerState, "producing")
        self.c.send("secret")
        self.assertEqual(self.c.lines(), hello("alice", "carol"))

    def test_lines_during_the_delay_wait(self) -> None:
        """What arrives during the delay is read after the next prompt, in order."""
        self.c.send("alice", "guess")
        self.c.lines()
        self.c.send("secret", "hello")
        self.assertEqual(self.c.lines(), [])
        self.assertEqual(self.bob.lines(), [])
        clock_of(self.c).advance(PASSWORD_DELAY)
        self.assertEqual(self.c.lines(), ["*** Password for alice:", *hello("alice", "carol")])
        self.assertEqual(self.bob.lines(), ["*** alice joined lobby", "<alice> hello"])

    def test_three_wrong_passwords(self) -> None:
        self.c.send("alice")
        self.c.lines()
        clock = clock_of(self.c)
        for _ in range(2):
            self.c.send("guess")
            clock.advance(PASSWORD_DELAY)
            self.assertEqual(
                self.c.lines(), ["*** Error: wrong password for alice", "*** Password for alice:"]
            )
        self.c.send("secret?")
        self.assertEqual(self.c.lines(), ["*** Error: wrong password for alice"])
        self.assertFalse(self.c.transport.disconnecting, "the goodbye waits out the delay too")
        clock.advance(PASSWORD_DELAY)
        self.assertEqual(self.c.lines(), ["*** Too many wrong passwords. Goodbye!"])
        self.assertTrue(self.c.transport.disconnecting)

    def test_empty_line_goes_back_to_the_nickname(self) -> None:
        """Not a failure, and the count of failures stays with the connection."""
        self.c.send("alice", "wrong")
        clock_of(self.c).advance(PASSWORD_DELAY)
        self.c.send("")
        self.assertEqual(
            self.c.lines(),
            [
                "*** Password for alice:",
                "*** Error: wrong password for alice",
                "*** Password for alice:",
                "*** Choose a nickname:",
            ],
        )
        self.c.send("alice", "wrong", "")
        clock_of(self.c).advance(PASSWORD_DELAY)
        self.c.send("alice", "wrong")
        clock_of(self.c).advance(PASSWORD_DELAY)
        self.assertEqual(self.c.lines()[-1], "*** Too many wrong passwords. Goodbye!")

    def test_guest_after_going_back(self) -> None:
        self.c.send("alice", "", "dave")
        self.assertEqual(
            self.c.lines(),
            ["*** Password for alice:", "*** Choose a nickname:", *hello("dave", "carol")],
        )

    def test_password_lines_are_not_nicknames_or_chat(self) -> None:
        self.c.send("alice", "/quit", "dave")
        clock_of(self.c).advance(PASSWORD_DELAY)
        self.assertFalse(self.c.transport.disconnecting)
        self.assertEqual(
            self.c.lines(),
            [
                "*** Password for alice:",
                "*** Error: wrong password for alice",
                "*** Password for alice:",
                "*** Error: wrong password for alice",
            ],
        )
        self.assertEqual(self.bob.lines(), [])
        self.assertIsNone(self.c.protocol.factory.chat.find("dave"))

    def test_registered_and_signed_on_already(self) -> None:
        """
        A registered nickname is asked for its password even while signed on:
        with the right one, the new connection takes it over.
        """
        first = Connection(self.factory, port=1)
        first.send("alice", "secret")
        first.lines()
        self.bob.lines()
        self.c.send("Alice")
        self.assertEqual(self.c.lines(), ["*** Password for alice:"])
        self.assertEqual(self.bob.lines(), [])
        self.c.send("secret")
        self.assertEqual(first.lines(), ["*** Signed on from elsewhere. Goodbye!"])
        self.assertTrue(first.transport.disconnecting)
        self.assertEqual(self.c.lines(), hello("Alice", "carol"))
        self.assertEqual(
            self.bob.lines(),
            ["*** alice left lobby (signed on from elsewhere)", "*** Alice joined lobby"],
        )
        participant = self.factory.chat.find("alice")
        assert participant is not None
        self.assertIs(participant.client, self.c.protocol)
        first.close()
        self.assertIs(
            self.factory.chat.find("alice"), participant, "the old one's loss is old news"
        )
        self.assertEqual(self.bob.lines(), [])

    def test_a_password_is_never_a_nickname(self) -> None:
        """
        C{printf 'alice\\nwonderland\\n'} while alice is signed on: the second
        line answers the password prompt, and a wrong password is only that.
        """
        first = Connection(self.factory, port=1)
        first.send("alice", "secret")
        first.lines()
        self.bob.lines()
        self.c.send("alice", "wonderland", "/quit")
        self.assertEqual(
            self.c.lines(), ["*** Password for alice:", "*** Error: wrong password for alice"]
        )
        self.assertIsNone(self.factory.chat.find("wonderland"))
        self.assertEqual(self.bob.lines(), [])
        self.assertEqual(first.lines(), [])
        self.assertFalse(first.transport.disconnecting)

    def test_a_guest_from_before_the_registration_is_renamed(self) -> None:
        """
        A guest on a nickname registered since is renamed when the owner
        signs on, with a notice, and stays in the chat.
        """
        names = MutableNames()
        checker = NamedChecker(names, alice=b"secret")
        factory = with_accounts(checker=checker)
        guest = signed_on(factory, "alice", port=1)
        carol = signed_on(factory, "carol", port=2)
        names.names.add("alice")
        owner = Connection(factory, port=3)
        owner.lines()
        owner.send("alice", "secret")
        self.assertEqual(
            guest.lines(),
            [
                "*** carol joined lobby",
                "*** The nickname alice is registered, and its owner signed on: you are "
                "alice_1 now",
                "*** alice joined lobby",
            ],
        )
        self.assertFalse(guest.transport.disconnecting)
        self.assertEqual(
            owner.lines(), ["*** Password for alice:", *hello("alice", "alice_1", "carol")]
        )
        self.assertEqual(
            carol.lines(),
            ["*** alice is now known as alice_1", "*** alice joined lobby"],
        )

    def test_registered_nickname_is_protected(self) -> None:
        self.bob.send("/nick ALICE")
        self.assertEqual(self.bob.lines(), ["*** Error: the nickname ALICE is registered"])

    def test_operator_logged_in(self) -> None:
        factory = with_accounts(operators=["alice"])
        c = Connection(factory)
        with capturedLogs() as events:
            c.send("alice", "secret")
        self.assertIn(
            "10.0.0.1:40000 is alice, logged in to alice (operator)",
            [formatEvent(e) for e in events],
        )


class PasswordSecrecyTests(SynchronousTestCase):
    """Passwords are never echoed, relayed or logged, right or wrong."""

    def test_nowhere_to_be_seen(self) -> None:
        factory = with_accounts(log_messages=True)
        others = [signed_on(factory, "carol", host="10.0.0.9")]
        c = Connection(factory)
        written = [c.transport.value()]
        with capturedLogs() as events:
            c.send("alice", "wrong-one", "Secret")
            clock_of(factory).advance(PASSWORD_DELAY)
            clock_of(factory).advance(PASSWORD_DELAY)
            c.send("secret", "a message", "/msg carol private")
            others.append(signed_on(factory, "dave", host="10.0.0.8"))
        written += [c.transport.value()] + [o.transport.value() for o in others]
        logged = [formatEvent(e) for e in events] + [repr(e) for e in events]
        self.assertIn("<alice> a message", "\n".join(logged), "messages are logged here")
        for password in ["wrong-one", "Secret", "secret"]:
            for data in written:
                self.assertNotIn(password.encode(), data)
            for text in logged:
                self.assertNotIn(password, text)
        self.assertIn(
            "10.0.0.1:40000 gave a wrong password for alice (1 of 3)",
            [formatEvent(e) for e in events],
        )


class TimeoutTests(SynchronousTestCase):
    def test_at_the_password_prompt(self) -> None:
        """The login timeout counts from the connection, whatever the prompt."""
        factory = with_accounts(limits=Limits(login_timeout=10))
        c = Connection(factory)
        c.lines()
        clock_of(factory).advance(6)
        c.send("alice")
        clock_of(factory).advance(3.9)
        self.assertEqual(c.lines(), ["*** Password for alice:"])
        clock_of(factory).advance(0.1)
        self.assertEqual(c.lines(), ["*** Timed out waiting for a password. Goodbye!"])
        self.assertTrue(c.transport.disconnecting)

    def test_during_the_delay(self) -> None:
        factory = with_accounts(limits=Limits(login_timeout=2))
        c = Connection(factory)
        c.lines()
        c.send("alice", "wrong")
        clock_of(factory).advance(2)
        self.assertEqual(
            c.lines(),
            [
                "*** Password for alice:",
                "*** Error: wrong password for alice",
                "*** Timed out waiting for a password. Goodbye!",
            ],
        )
        c.close()
        self.assertEqual(clock_of(factory).getDelayedCalls(), [])

    def test_none_once_signed_on(self) -> None:
        factory = with_accounts(limits=Limits(login_timeout=2))
        c = Connection(factory)
        c.send("alice", "secret")
        c.lines()
        clock_of(factory).advance(60)
        self.assertEqual(c.lines(), [])


class AuthRequiredTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.factory = with_accounts(guests=False)

    def test_guests_are_refused(self) -> None:
        c = Connection(self.factory)
        c.lines()
        c.send("dave")
        self.assertEqual(
            c.lines(),
            [
                "*** Error: dave is not registered, and only registered users may sign on here",
                "*** Choose a nickname:",
            ],
        )
        c.send("bob", "hunter2")
        self.assertEqual(c.lines(), ["*** Password for bob:", *hello("bob")])

    def test_renaming_to_an_unregistered_name(self) -> None:
        """Allowed: the account stays what it is, and registered names stay protected."""
        c = Connection(self.factory)
        c.send("bob", "hunter2")
        c.lines()
        c.send("/nick robert", "/nick alice")
        self.assertEqual(
            c.lines(),
            ["*** You are now known as robert", "*** Error: the nickname alice is registered"],
        )


class CheckingTests(SynchronousTestCase):
    """While the portal checks a password, the connection reads nothing more."""

    def setUp(self) -> None:
        self.checker = PendingChecker()
        self.factory = with_accounts(checker=self.checker)
        self.c = Connection(self.factory)
        self.c.lines()
        self.c.send("alice", "secret", "first words")

    def test_credentials(self) -> None:
        ((credentials, _),) = self.checker.pending
        self.assertEqual((credentials.username, credentials.password), (b"alice", b"secret"))

    def test_reading_paused_until_the_verdict(self) -> None:
        bob = signed_on(self.factory, "bob", host="10.0.0.2")
        self.assertEqual(self.c.transport.producerState, "paused")
        self.assertEqual(self.c.lines(), ["*** Password for alice:"])
        self.checker.pending[0][1].callback(b"alice")
        self.assertEqual(self.c.lines(), hello("alice", "bob"))
        self.assertEqual(bob.lines(), ["*** alice joined lobby", "<alice> first words"])
        self.assertEqual(self.c.transport.producerState, "producing")

    def test_refused_later(self) -> None:
        self.checker.pending[0][1].errback(UnauthorizedLogin())
        self.assertEqual(
            self.c.lines(), ["*** Password for alice:", "*** Error: wrong password for alice"]
        )
        clock_of(self.factory).advance(PASSWORD_DELAY)
        self.assertEqual(self.c.lines(), ["*** Password for alice:"])
        self.assertEqual(len(self.checker.pending), 2, "'first words' was the next attempt")

    def test_two_logins_at_once(self) -> None:
        """
        Two connections give alice's password at once: the second verdict
        takes the nickname over from the first, and nobody is left waiting.
        """
        other = Connection(self.factory, port=2)
        other.send("alice", "secret")
        first, second = self.checker.pending
        first[1].callback(b"alice")
        self.assertEqual(self.c.lines(), ["*** Password for alice:", *hello("alice")])
        other.lines()
        second[1].callback(b"alice")
        self.assertEqual(self.c.lines(), ["*** Signed on from elsewhere. Goodbye!"])
        self.assertEqual(other.lines(), hello("alice"))
        self.assertEqual(other.transport.producerState, "producing", "not left paused")
        participant = self.factory.chat.find("alice")
        assert participant is not None
        self.assertIs(participant.client, other.protocol)

    def test_gone_before_the_verdict(self) -> None:
        self.c.close()
        self.checker.pending[0][1].callback(b"alice")
        self.assertIsNone(self.factory.chat.find("alice"))
        self.assertEqual(len(self.factory.chat), 0)

    def test_timed_out_before_the_verdict(self) -> None:
        clock_of(self.factory).advance(60)
        self.checker.pending[0][1].callback(b"alice")
        self.assertEqual(
            self.c.lines(),
            ["*** Password for alice:", "*** Timed out waiting for a password. Goodbye!"],
        )
        self.assertIsNone(self.factory.chat.find("alice"))

    def test_checker_fails(self) -> None:
        """Not a wrong password: an error, logged; the user is told to come back later."""
        with capturedLogs() as events:
            self.checker.pending[0][1].errback(OSError("disk on fire"))
        self.assertEqual(
            self.c.lines(),
            [
                "*** Password for alice:",
                "*** Passwords cannot be checked now; try again later. Goodbye!",
            ],
        )
        self.assertTrue(self.c.transport.disconnecting)
        failures: list[LogEvent] = [e for e in events if "log_failure" in e]
        self.assertEqual([formatEvent(e) for e in failures], ["Cannot check the password of alice"])
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)
