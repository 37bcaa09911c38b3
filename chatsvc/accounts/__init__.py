"""
Registered accounts: the scrypt password hash, the password file, the
L{twisted.cred} checker that reads it (with its C{chatsvc:} strcred plugin),
the other C{--auth} checkers seen as lists of names, and the realm that turns
a login into an L{Account}.

The password file is plain text that a deployment may keep in version
control: one C{name:hash} line per account, where the hash is
C{scrypt$N$r$p$SALT$KEY} (base64 salt and key), and C{#} starts a comment::

    # chatsvc accounts
    alice:scrypt$16384$8$1$9n3i2yq4GQm4X0f3p2wJVw==$Yd1...

C{chatsvc-passwd} (L{chatsvc.accounts.passwd}) adds and changes lines. The server
re-reads the file when it changes, so a change needs no restart.

test-case-name: tests.accounts.test_accounts
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
from twisted.cred.checkers import (
    FilePasswordDB,
    ICredentialsChecker,
    InMemoryUsernamePasswordDatabaseDontUse,
)
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm
from twisted.cred.strcred import ICheckerFactory
from twisted.internet.defer import Deferred, fail
from twisted.internet.threads import deferToThread
from twisted.logger import Logger
from twisted.plugin import IPlugin
from twisted.python.components import registerAdapter
from zope.interface import Interface, implementer

from chatsvc.chat.interfaces import IAccount, IAccountNames
from chatsvc.chat.model import Account, fold, is_valid_name

_log = Logger()

# The scrypt hash

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1
"""scrypt's cost parameters: about 50 ms and 16 MiB for each hash."""

SALT_BYTES = 16
KEY_BYTES = 32

_MAX_N, _MAX_R, _MAX_P = 2**20, 64, 16
"""Bounds on the parameters a hash may give, so that no line costs more than about a GiB."""


@attrs.frozen
class PasswordHash:
    """A parsed C{scrypt$N$r$p$SALT$KEY} string."""

    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        """Read a hash string; L{ValueError} if it is not one."""
        parts = text.split("$")
        if len(parts) != 6 or parts[0] != SCHEME:
            raise ValueError(f"not a {SCHEME}$N$r$p$SALT$KEY hash")
        try:
            n, r, p = (int(part) for part in parts[1:4])
            salt, key = (base64.b64decode(part, validate=True) for part in parts[4:])
        except (ValueError, binascii.Error):
            raise ValueError(f"not a {SCHEME}$N$r$p$SALT$KEY hash") from None
        if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 0 < r <= _MAX_R and 0 < p <= _MAX_P):
            raise ValueError(f"unsupported {SCHEME} parameters N={n} r={r} p={p}")
        if not salt or not key:
            raise ValueError("empty salt or key")
        return cls(n, r, p, salt, key)

    def __str__(self) -> str:
        salt, key = (base64.b64encode(value).decode() for value in (self.salt, self.key))
        return f"{SCHEME}${self.n}${self.r}${self.p}${salt}${key}"

    def derive(self, password: bytes) -> bytes:
        """The key scrypt derives from C{password} with this hash's salt and parameters."""
        return _scrypt(password, self.salt, n=self.n, r=self.r, p=self.p, size=len(self.key))

    def matches(self, password: bytes) -> bool:
        """Whether C{password} is the one hashed (compared in constant time)."""
        return hmac.compare_digest(self.derive(password), self.key)


def _scrypt(password: bytes, salt: bytes, *, n: int, r: int, p: int, size: int) -> bytes:
    memory = 128 * r * (n + p + 2)
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=size, maxmem=2 * memory)


def hash_password(
    password: bytes, *, n: int = N, r: int = R, p: int = P, salt: bytes | None = None
) -> str:
    """The hash string of C{password}, with a new random salt unless one is given."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    key = _scrypt(password, salt, n=n, r=r, p=p, size=KEY_BYTES)
    return str(PasswordHash(n, r, p, salt, key))


def check_password(password: bytes, hashed: str) -> bool:
    """Whether C{password} matches the hash string C{hashed}; L{ValueError} if it is not one."""
    return PasswordHash.parse(hashed).matches(password)


# The password file


def _entry(line: str) -> tuple[str, PasswordHash] | None:
    """The name and hash on a line of the password file; L{None} for a blank line or comment."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    name, colon, hashed = line.partition(":")
    if not colon:
        raise ValueError("not a NAME:HASH line")
    if not is_valid_name(name):
        raise ValueError(f"{name!r} is not a valid nickname")
    return name, PasswordHash.parse(hashed)


def parse_password_file(
    text: str, source: str = "the password file"
) -> dict[str, tuple[str, PasswordHash]]:
    """
    The accounts in C{text}, by folded name: each with its name as written and
    its hash. Bad lines, and later lines for a name already seen, are logged
    and left out.
    """
    accounts: dict[str, tuple[str, PasswordHash]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        try:
            entry = _entry(line)
        except ValueError as e:
            _log.warn(
                "{source}, line {number}: {why}; ignored", source=source, number=number, why=e
            )
            continue
        if entry is None:
            continue
        if fold(entry[0]) in accounts:
            _log.warn(
                "{source}, line {number}: {name} again; ignored",
                source=source,
                number=number,
                name=entry[0],
            )
            continue
        accounts[fold(entry[0])] = entry
    return accounts


@implementer(IAccountNames)
class PasswordFile:
    """
    The accounts in a password file, read again whenever the file changes
    (its modification time, size or inode; C{chatsvc-passwd} replaces it).

    Looking an account up costs a C{stat} of the file: a small file, read on
    the reactor thread. If the file goes away or cannot be read, the accounts
    last read stay, and the error is logged: registered nicknames stay
    protected.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._accounts: dict[str, tuple[str, PasswordHash]] = {}
        self._failing = False
        self._read(self.path.stat())

    def lookup(self, name: str) -> tuple[str, PasswordHash] | None:
        """The account called C{name} (in any case): its name as written, and its hash."""
        self._refresh()
        return self._accounts.get(fold(name))

    def account_for(self, nick: str) -> str | None:
        entry = self.lookup(nick)
        return None if entry is None else entry[0]

    def __len__(self) -> int:
        return len(self._accounts)

    def reload(self) -> tuple[list[str], list[str]]:
        """
        Read the file again now, changed or not (C{SIGHUP}): the names of the
        accounts it added and those it removed. If it cannot be read, the
        accounts stay as they were, and why is logged.
        """
        before = {key: name for key, (name, _) in self._accounts.items()}
        try:
            self._read(self.path.stat())
        except OSError as e:
            _log.error(
                "Cannot read {path}: {why}; keeping the {n} accounts read before",
                path=str(self.path),
                why=e.strerror,
                n=len(self._accounts),
            )
            return [], []
        added = [name for key, (name, _) in self._accounts.items() if key not in before]
        removed = [name for key, name in before.items() if key not in self._accounts]
        return added, removed

    def _refresh(self) -> None:
        try:
            status = self.path.stat()
            if _stamp(status) != self._stamp:
                self._read(status)
        except OSError as e:
            if not self._failing:
                _log.error(
                    "Cannot read {path}: {why}; keeping the {n} accounts read before",
                    path=str(self.path),
                    why=e.strerror,
                    n=len(self._accounts),
                )
            self._failing = True

    def _read(self, status: os.stat_result) -> None:
        text = self.path.read_text(encoding="utf-8", errors="replace")
        self._accounts = parse_password_file(text, str(self.path))
        self._stamp = _stamp(status)
        self._failing = False
        _log.info("Read {n} accounts from {path}", n=len(self._accounts), path=str(self.path))


def _stamp(status: os.stat_result) -> tuple[int, int, int]:
    return status.st_mtime_ns, status.st_size, status.st_ino


def write_password(path: str | Path, name: str, hashed: str) -> bool:
    """
    Give the account C{name} the hash C{hashed} in the password file at
    C{path}, which is made if it does not exist. The account's line is
    replaced where it is (any later ones for the same name go); other lines
    and comments stay as they were. The file is replaced at once (a new file
    renamed over it), so a server reading it never sees half of it. Returns
    whether the account is new.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        lines = []
        mode = 0o666 & ~_umask()
    new_line = f"{name}:{hashed}\n"
    kept: list[str] = []
    added = True
    for line in lines:
        written, colon, _ = line.strip().partition(":")
        if colon and not line.lstrip().startswith("#") and fold(written) == fold(name):
            if added:
                kept.append(new_line)
                added = False
            continue
        kept.append(line)
    if added:
        if kept and not kept[-1].endswith("\n"):
            kept[-1] += "\n"
        kept.append(new_line)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as new:
        try:
            new.writelines(kept)
            new.flush()
            os.fsync(new.fileno())
            os.chmod(new.name, mode)
            os.replace(new.name, path)
        except BaseException:
            os.unlink(new.name)
            raise
    return added


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Checkers


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


RunInThread = Callable[[Callable[[bytes], bool], bytes], Deferred[bool]]


@implementer(ICredentialsChecker, IAccountNames)
class PasswordFileChecker:
    """
    Checks passwords against a L{PasswordFile}. The avatar ID is the
    account's name as written in the file, in UTF-8.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, passwords: PasswordFile, run_in_thread: RunInThread = deferToThread) -> None:
        self.passwords = passwords
        self._run_in_thread = run_in_thread

    def account_for(self, nick: str) -> str | None:
        return self.passwords.account_for(nick)

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[bytes | tuple[()]]:
        try:
            entry = self.passwords.lookup(_text(credentials.username))
        except UnicodeDecodeError:
            entry = None
        if entry is None:
            return fail(UnauthorizedLogin())
        name, hashed = entry
        # scrypt takes about 50 ms of CPU on purpose: in a thread, so that one
        # login does not stall the chat of everyone else on the reactor.
        checking = self._run_in_thread(hashed.matches, _bytes(credentials.password))

        def verdict(matched: bool) -> bytes | tuple[()]:
            if not matched:
                raise UnauthorizedLogin()
            return name.encode()

        return checking.addCallback(verdict)


@implementer(ICheckerFactory, IPlugin)
class PasswordFileCheckerFactory:
    """The C{--auth chatsvc:FILE} plugin: a password file made by C{chatsvc-passwd}."""

    authType = "chatsvc"
    authHelp = (
        "A chatsvc password file: one NAME:HASH line per account, the hash being "
        "scrypt$N$r$p$SALT$KEY, as chatsvc-passwd writes them. Lines starting "
        "with # are comments. The file is read again whenever it changes."
    )
    argStringFormat = "The path of a password file made by chatsvc-passwd."
    credentialInterfaces = (IUsernamePassword,)

    def generateChecker(self, argstring: str = "") -> PasswordFileChecker:
        if not argstring:
            raise ValueError("needs the path of a password file")
        try:
            return PasswordFileChecker(PasswordFile(argstring))
        except OSError as e:
            raise ValueError(f"cannot read the password file {argstring}: {e.strerror}") from None


# Other checkers, as lists of names


@implementer(IAccountNames)
class _InMemoryNames:
    def __init__(self, checker: InMemoryUsernamePasswordDatabaseDontUse) -> None:
        self._checker = checker

    def account_for(self, nick: str) -> str | None:
        return _first_match(nick, (_text(name) for name in self._checker.users))


@implementer(IAccountNames)
class _FileNames:
    def __init__(self, checker: FilePasswordDB) -> None:
        self._checker = checker

    def account_for(self, nick: str) -> str | None:
        # FilePasswordDB can look a name up, but only in its case; its own
        # reader gives every name, exactly as its login will read them.
        try:
            names = [_text(name) for name, _ in self._checker._loadCredentials()]
        except UnauthorizedLogin:  # the file cannot be read (and that is logged)
            return None
        return _first_match(nick, names)


def _first_match(nick: str, names: Iterable[str]) -> str | None:
    return next((name for name in names if fold(name) == fold(nick)), None)


registerAdapter(_InMemoryNames, InMemoryUsernamePasswordDatabaseDontUse, IAccountNames)
registerAdapter(_FileNames, FilePasswordDB, IAccountNames)


def with_bytes(checker: ICredentialsChecker) -> ICredentialsChecker:
    """
    C{checker}, able to take L{IUsernamePassword} credentials, whose name and
    password are bytes. strcred's C{memory:} plugin stores names and passwords
    as text, which never equal bytes: its checker is copied with bytes.
    """
    if isinstance(checker, InMemoryUsernamePasswordDatabaseDontUse):
        users: dict[Any, Any] = checker.users
        if any(isinstance(name, str) for name in users):
            copy = InMemoryUsernamePasswordDatabaseDontUse()
            for name, password in users.items():
                copy.addUser(_bytes(name), _bytes(password))
            return copy
    return checker


@implementer(ICredentialsChecker, IAccountNames)
class Accounts:
    """
    The accounts of every C{--auth} checker together. A nickname is registered
    if any of them knows it; the first that knows it checks its password.
    Each checker must say which names it knows (L{IAccountNames}, directly or
    by an adapter): L{TypeError} if one cannot.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, checkers: Sequence[ICredentialsChecker]) -> None:
        self._checkers: list[tuple[IAccountNames, ICredentialsChecker]] = []
        for given in checkers:
            checker = with_bytes(given)
            self._checkers.append((IAccountNames(checker), checker))

    @property
    def password_files(self) -> list[PasswordFile]:
        """The password files of the C{chatsvc:} checkers among them."""
        return [c.passwords for _, c in self._checkers if isinstance(c, PasswordFileChecker)]

    def account_for(self, nick: str) -> str | None:
        for names, _ in self._checkers:
            account = names.account_for(nick)
            if account is not None:
                return account
        return None

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[bytes | tuple[()]]:
        try:
            name = _text(credentials.username)
        except UnicodeDecodeError:
            return fail(UnauthorizedLogin())
        for names, checker in self._checkers:
            if names.account_for(name) is not None:
                return checker.requestAvatarId(credentials)
        return fail(UnauthorizedLogin())


# The realm


@implementer(IRealm)
class ChatRealm:
    """
    Turns a checked login into an L{Account}, an operator's if its name is
    among C{operators} (compared without regard to case).
    """

    def __init__(self, operators: Iterable[str] = ()) -> None:
        self.operators = frozenset(fold(name) for name in operators)

    def requestAvatar(
        self, avatarId: bytes | tuple[()], mind: object, *interfaces: type[Interface]
    ) -> tuple[type[Interface], Account, Callable[[], None]]:
        if IAccount not in interfaces or not isinstance(avatarId, bytes):
            raise NotImplementedError("chatsvc only hands out IAccount avatars, to accounts")
        name = avatarId.decode("utf-8")
        return IAccount, Account(name, fold(name) in self.operators), _logout


def _logout() -> None:
    """Nothing to undo: an L{Account} holds no resources."""
