"""Accounts: the scrypt hash, the password file, the checkers, the realm."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.cred.checkers import AllowAnonymousAccess, ICredentialsChecker
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import Portal
from twisted.cred.strcred import ICheckerFactory, findCheckerFactory, makeChecker
from twisted.internet.defer import Deferred, succeed
from twisted.logger import capturedLogs, formatEvent
from twisted.plugin import getPlugins
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from chatsvc.accounts import (
    Accounts,
    ChatRealm,
    PasswordFile,
    PasswordFileChecker,
    PasswordFileCheckerFactory,
    PasswordHash,
    check_password,
    hash_password,
    parse_password_file,
    write_password,
)
from chatsvc.chat.interfaces import IAccount, IAccountNames
from chatsvc.chat.model import Account
from tests.support import scratch_directory


def cheap_hash(password: bytes, salt: bytes | None = None) -> str:
    """A hash with scrypt parameters that cost next to nothing, for tests that hash many times."""
    return hash_password(password, n=16, r=1, p=1, salt=salt)


def in_this_thread(f: Callable[[bytes], bool], password: bytes) -> Deferred[bool]:
    return succeed(f(password))


class HashTests(SynchronousTestCase):
    def test_round_trip(self) -> None:
        hashed = hash_password(b"correct horse")
        self.assertTrue(check_password(b"correct horse", hashed))
        self.assertFalse(check_password(b"correct horsE", hashed))
        self.assertFalse(check_password(b"", hashed))

    def test_format(self) -> None:
        """Self-describing: the scheme, the parameters, a 16-byte salt and a 32-byte key."""
        hashed = hash_password(b"pw")
        match = re.fullmatch(r"scrypt\$16384\$8\$1\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)", hashed)
        assert match is not None, hashed
        parsed = PasswordHash.parse(hashed)
        self.assertEqual((len(parsed.salt), len(parsed.key)), (16, 32))
        self.assertEqual(str(parsed), hashed)

    def test_salted(self) -> None:
        self.assertNotEqual(cheap_hash(b"pw"), cheap_hash(b"pw"))

    def test_known_value(self) -> None:
        """The parameters in the string are the ones used: a hash made elsewhere checks."""
        salt = b"0123456789abcdef"
        hashed = cheap_hash(b"pw", salt)
        self.assertTrue(hashed.startswith("scrypt$16$1$1$MDEyMzQ1Njc4OWFiY2RlZg==$"))
        self.assertTrue(check_password(b"pw", hashed))

    def test_unicode_passwords_are_utf8(self) -> None:
        hashed = cheap_hash("pässwörd ✓".encode())
        self.assertTrue(check_password("pässwörd ✓".encode(), hashed))

    def test_not_a_hash(self) -> None:
        good = cheap_hash(b"pw").split("$")
        for bad in [
            "",
            "plaintext",
            "$".join(["bcrypt", *good[1:]]),
            "$".join(good[:5]),
            "$".join([*good[:4], "not base64!", good[5]]),
            "$".join([good[0], "x", *good[2:]]),
            "$".join([good[0], "1000", *good[2:]]),  # N must be a power of 2
            "$".join([good[0], str(2**30), *good[2:]]),  # and not huge
            "$".join([*good[:4], "", good[5]]),
        ]:
            with self.subTest(bad=bad):
                self.assertRaises(ValueError, PasswordHash.parse, bad)
                self.assertRaises(ValueError, check_password, b"pw", bad)


class PasswordFileTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = scratch_directory(self) / "passwd"
        self.alice = cheap_hash(b"alice's")

    def test_comments_blank_and_bad_lines(self) -> None:
        text = "\n".join(
            [
                "# the team",
                "",
                f"Alice:{self.alice}",
                "   # indented comment",
                "no colon here",
                "bad name:" + self.alice,
                "bob:plaintext",
                f"ALICE:{cheap_hash(b'other')}",
                f"  carol:{self.alice}  ",
            ]
        )
        with capturedLogs() as events:
            accounts = parse_password_file(text, "passwd")
        self.assertEqual(sorted(accounts), ["alice", "carol"])
        self.assertEqual(accounts["alice"][0], "Alice")
        self.assertTrue(accounts["alice"][1].matches(b"alice's"), "the first line for a name wins")
        self.assertEqual(
            [formatEvent(e) for e in events],
            [
                "passwd, line 5: not a NAME:HASH line; ignored",
                "passwd, line 6: 'bad name' is not a valid nickname; ignored",
                "passwd, line 7: not a scrypt$N$r$p$SALT$KEY hash; ignored",
                "passwd, line 8: ALICE again; ignored",
            ],
        )

    def test_lookup_ignores_case(self) -> None:
        self.path.write_text(f"Alice:{self.alice}\n")
        passwords = PasswordFile(self.path)
        self.assertTrue(verifyObject(IAccountNames, passwords))
        self.assertEqual(passwords.account_for("aLiCe"), "Alice")
        self.assertIsNone(passwords.account_for("bob"))
        entry = passwords.lookup("ALICE")
        assert entry is not None
        self.assertEqual(entry[0], "Alice")
        self.assertTrue(entry[1].matches(b"alice's"))

    def test_missing_at_start(self) -> None:
        self.assertRaises(FileNotFoundError, PasswordFile, self.path)

    def test_read_again_when_it_changes(self) -> None:
        self.path.write_text(f"alice:{self.alice}\n")
        passwords = PasswordFile(self.path)
        self.assertIsNone(passwords.account_for("bob"))
        with capturedLogs() as events:
            write_password(self.path, "bob", cheap_hash(b"bob's"))
            self.assertEqual(passwords.account_for("bob"), "bob")
            self.assertEqual(passwords.account_for("alice"), "alice")
        self.assertEqual(len(passwords), 2)
        self.assertEqual([formatEvent(e) for e in events], [f"Read 2 accounts from {self.path}"])

    def test_changed_in_place_with_the_same_size_and_time(self) -> None:
        """Any change of modification time, size or inode is a change."""
        self.path.write_text(f"alice:{self.alice}\n")
        passwords = PasswordFile(self.path)
        status = self.path.stat()
        self.path.write_text(f"carol:{self.alice}\n")
        os.utime(self.path, ns=(status.st_atime_ns, status.st_mtime_ns + 1))
        self.assertEqual(passwords.account_for("carol"), "carol")
        self.assertIsNone(passwords.account_for("alice"))

    def test_gone_keeps_what_was_read(self) -> None:
        """Registered nicknames stay protected if the file goes away; it is logged once."""
        self.path.write_text(f"alice:{self.alice}\n")
        passwords = PasswordFile(self.path)
        self.path.unlink()
        with capturedLogs() as events:
            self.assertEqual(passwords.account_for("alice"), "alice")
            self.assertEqual(passwords.account_for("alice"), "alice")
        self.assertEqual(
            [formatEvent(e) for e in events],
            [
                f"Cannot read {self.path}: No such file or directory; "
                "keeping the 1 accounts read before"
            ],
        )
        self.path.write_text(f"bob:{self.alice}\n")
        self.assertEqual(passwords.account_for("bob"), "bob")


class WritePasswordTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = scratch_directory(self)
        self.path = self.directory / "passwd"

    def test_creates_the_file(self) -> None:
        self.assertTrue(write_password(self.path, "alice", "scrypt$1"))
        self.assertEqual(self.path.read_text(), "alice:scrypt$1\n")
        self.assertEqual(os.listdir(self.directory), ["passwd"])

    def test_new_file_mode_follows_the_umask(self) -> None:
        old = os.umask(0o027)
        try:
            write_password(self.path, "alice", "scrypt$1")
        finally:
            os.umask(old)
        self.assertEqual(stat.S_IMODE(self.path.stat().st_mode), 0o640)

    def test_adds_and_replaces_keeping_the_rest(self) -> None:
        self.path.write_text(
            "# accounts\nAlice:scrypt$old\n\n# the bots\nbot:scrypt$bot\nALICE:scrypt$dup\nlast"
        )
        self.path.chmod(0o600)
        self.assertFalse(write_password(self.path, "alice", "scrypt$new"))
        self.assertTrue(write_password(self.path, "carol", "scrypt$carol"))
        self.assertEqual(
            self.path.read_text(),
            "# accounts\nalice:scrypt$new\n\n# the bots\nbot:scrypt$bot\n"
            "last\ncarol:scrypt$carol\n",
        )
        self.assertEqual(stat.S_IMODE(self.path.stat().st_mode), 0o600)
        self.assertEqual(os.listdir(self.directory), ["passwd"])

    def test_comment_naming_the_account_stays(self) -> None:
        self.path.write_text("#alice:scrypt$disabled\n")
        self.assertTrue(write_password(self.path, "alice", "scrypt$new"))
        self.assertEqual(self.path.read_text(), "#alice:scrypt$disabled\nalice:scrypt$new\n")

    def test_replaced_at_once(self) -> None:
        """The new file is renamed over the old: a reader has one or the other, whole."""
        self.path.write_text("alice:scrypt$old\n")
        before = self.path.stat().st_ino
        write_password(self.path, "alice", "scrypt$new")
        self.assertNotEqual(self.path.stat().st_ino, before)

    def test_no_directory(self) -> None:
        self.assertRaises(FileNotFoundError, write_password, self.directory / "x" / "y", "a", "h")
        self.assertEqual(os.listdir(self.directory), [])


class CheckerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = scratch_directory(self) / "passwd"
        self.path.write_text(f"Alice:{cheap_hash(b'secret')}\n")
        self.checker = PasswordFileChecker(PasswordFile(self.path), in_this_thread)

    def test_interfaces(self) -> None:
        self.assertTrue(verifyObject(ICredentialsChecker, self.checker))
        self.assertTrue(verifyObject(IAccountNames, self.checker))

    def test_right_password(self) -> None:
        """The avatar ID is the account's name as written, whatever the case given."""
        result = self.checker.requestAvatarId(UsernamePassword(b"alice", b"secret"))
        self.assertEqual(self.successResultOf(result), b"Alice")

    def test_wrong_password_or_unknown_name(self) -> None:
        for name, password in [(b"alice", b"Secret"), (b"alice", b""), (b"bob", b"secret")]:
            with self.subTest(name=name, password=password):
                result = self.checker.requestAvatarId(UsernamePassword(name, password))
                self.failureResultOf(result, UnauthorizedLogin)

    def test_name_not_utf8(self) -> None:
        result = self.checker.requestAvatarId(UsernamePassword(b"\xff", b"secret"))
        self.failureResultOf(result, UnauthorizedLogin)


@pytest_twisted.ensureDeferred
async def test_checker_hashes_in_a_thread(tmp_path: Path) -> None:
    """The real checker runs scrypt in the reactor's thread pool."""
    import threading

    path = tmp_path / "passwd"
    path.write_text(f"alice:{hash_password(b'secret')}\n")
    threads: list[str] = []
    checker = PasswordFileChecker(PasswordFile(path))
    original = PasswordHash.matches

    def matches(self: PasswordHash, password: bytes) -> bool:
        threads.append(threading.current_thread().name)
        return original(self, password)

    PasswordHash.matches = matches  # type: ignore[method-assign]
    try:
        assert await checker.requestAvatarId(UsernamePassword(b"alice", b"secret")) == b"alice"
    finally:
        PasswordHash.matches = original  # type: ignore[method-assign]
    assert threads and threads[0] != threading.current_thread().name


class PluginTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = scratch_directory(self) / "passwd"
        self.path.write_text(f"alice:{cheap_hash(b'secret')}\n")

    def test_discoverable(self) -> None:
        factories = {f.authType: f for f in getPlugins(ICheckerFactory)}
        self.assertIsInstance(factories["chatsvc"], PasswordFileCheckerFactory)
        self.assertIs(findCheckerFactory("chatsvc"), factories["chatsvc"])
        self.assertTrue(verifyObject(ICheckerFactory, factories["chatsvc"]))

    def test_make_checker(self) -> None:
        checker = makeChecker(f"chatsvc:{self.path}")
        assert isinstance(checker, PasswordFileChecker)
        self.assertEqual(checker.account_for("ALICE"), "alice")

    def test_errors(self) -> None:
        with self.assertRaises(ValueError) as caught:
            makeChecker("chatsvc")
        self.assertEqual(str(caught.exception), "needs the path of a password file")
        with self.assertRaises(ValueError) as caught:
            makeChecker(f"chatsvc:{self.path}.missing")
        self.assertEqual(
            str(caught.exception),
            f"cannot read the password file {self.path}.missing: No such file or directory",
        )


class AccountsTests(SynchronousTestCase):
    """Every --auth checker together, each asked about the names it knows."""

    def setUp(self) -> None:
        passwd = scratch_directory(self) / "passwd"
        passwd.write_text(f"alice:{cheap_hash(b'from chatsvc')}\n")
        plain = passwd.with_name("plain")
        plain.write_text("Bob:from file\nalice:from file too\n")
        self.accounts = Accounts(
            [
                PasswordFileChecker(PasswordFile(passwd), in_this_thread),
                makeChecker(f"file:{plain}"),
                makeChecker("memory:carol:from memory:BOB:from memory"),
            ]
        )

    def login(self, name: bytes, password: bytes) -> Deferred[Any]:
        return self.accounts.requestAvatarId(UsernamePassword(name, password))

    def test_interfaces(self) -> None:
        self.assertTrue(verifyObject(ICredentialsChecker, self.accounts))
        self.assertTrue(verifyObject(IAccountNames, self.accounts))

    def test_names(self) -> None:
        cases = {"ALICE": "alice", "bob": "Bob", "Carol": "carol", "dave": None}
        for nick, account in cases.items():
            with self.subTest(nick=nick):
                self.assertEqual(self.accounts.account_for(nick), account)

    def test_the_first_that_knows_a_name_checks_it(self) -> None:
        self.assertEqual(self.successResultOf(self.login(b"alice", b"from chatsvc")), b"alice")
        self.failureResultOf(self.login(b"alice", b"from file too"), UnauthorizedLogin)
        self.assertEqual(self.successResultOf(self.login(b"Bob", b"from file")), b"Bob")
        self.failureResultOf(self.login(b"Bob", b"from memory"), UnauthorizedLogin)
        self.assertEqual(self.successResultOf(self.login(b"carol", b"from memory")), b"carol")
        self.failureResultOf(self.login(b"dave", b""), UnauthorizedLogin)

    def test_file_checker_case(self) -> None:
        """A file: checker is asked with the name as written in its file."""
        self.failureResultOf(self.login(b"bob", b"from file"), UnauthorizedLogin)

    def test_checker_that_cannot_list_names(self) -> None:
        self.assertRaises(TypeError, Accounts, [AllowAnonymousAccess()])


class RealmTests(SynchronousTestCase):
    def test_accounts_and_operators(self) -> None:
        realm = ChatRealm(["Alice"])
        interface, avatar, logout = realm.requestAvatar(b"alice", None, IAccount)
        self.assertIs(interface, IAccount)
        self.assertEqual(avatar, Account("alice", operator=True))
        self.assertIsNone(logout())
        self.assertEqual(realm.requestAvatar(b"bob", None, IAccount)[1], Account("bob"))

    def test_other_interfaces_or_anonymous(self) -> None:
        realm = ChatRealm()
        self.assertRaises(NotImplementedError, realm.requestAvatar, b"bob", None, IAccountNames)
        self.assertRaises(NotImplementedError, realm.requestAvatar, (), None, IAccount)

    def test_through_a_portal(self) -> None:
        checker = makeChecker("memory:alice:secret:bob:hunter2")
        portal = Portal(ChatRealm(["alice"]), [Accounts([checker])])
        login = portal.login(UsernamePassword(b"alice", b"secret"), None, IAccount)
        self.assertEqual(self.successResultOf(login)[1], Account("alice", operator=True))
        login = portal.login(UsernamePassword(b"bob", b"hunter2"), None, IAccount)
        self.assertEqual(self.successResultOf(login)[1], Account("bob"))
        login = portal.login(UsernamePassword(b"bob", b"secret"), None, IAccount)
        self.failureResultOf(login, UnauthorizedLogin)
