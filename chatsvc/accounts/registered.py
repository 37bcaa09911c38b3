"""
Accounts users made themselves (C{/register}), kept in the chat's registry
(L{chatsvc.registry}): a L{twisted.cred} checker that knows their names and
checks their scrypt hashes, beside the C{--auth} checkers.

test-case-name: tests.accounts.test_registered
"""

from __future__ import annotations

from collections.abc import Iterable

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, fail
from twisted.internet.threads import deferToThread
from zope.interface import implementer

from chatsvc.accounts import PasswordHash, RunInThread, _bytes, _text
from chatsvc.chat.interfaces import IAccountNames
from chatsvc.chat.model import fold


@implementer(ICredentialsChecker, IAccountNames)
class RegisteredAccounts:
    """
    The accounts of the registry, in memory: C{(name, hash)} pairs at first,
    then those L{add}ed and L{remove}d as users register and unregister. The
    avatar ID is the account's name as registered, in UTF-8.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(
        self, accounts: Iterable[tuple[str, str]] = (), run_in_thread: RunInThread = deferToThread
    ) -> None:
        self._accounts: dict[str, tuple[str, PasswordHash]] = {}
        for name, hashed in accounts:
            try:
                self.add(name, hashed)
            except ValueError:
                continue  # a damaged hash: the account cannot log in, nor be taken
        self._run_in_thread = run_in_thread

    def add(self, name: str, hashed: str) -> None:
        """Keep (or change the password of) the account C{name}; L{ValueError} for a bad hash."""
        self._accounts[fold(name)] = (name, PasswordHash.parse(hashed))

    def remove(self, name: str) -> None:
        self._accounts.pop(fold(name), None)

    def account_for(self, nick: str) -> str | None:
        entry = self._accounts.get(fold(nick))
        return None if entry is None else entry[0]

    def __len__(self) -> int:
        return len(self._accounts)

    def check(self, name: str, password: bytes) -> Deferred[bool]:
        """Whether C{password} is the account C{name}'s, checked in a thread (scrypt is slow)."""
        entry = self._accounts.get(fold(name))
        if entry is None:
            d: Deferred[bool] = Deferred()
            d.callback(False)
            return d
        return self._run_in_thread(entry[1].matches, password)

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[bytes | tuple[()]]:
        try:
            name = _text(credentials.username)
        except UnicodeDecodeError:
            return fail(UnauthorizedLogin())
        entry = self._accounts.get(fold(name))
        if entry is None:
            return fail(UnauthorizedLogin())
        registered = entry[0]

        def verdict(matched: bool) -> bytes | tuple[()]:
            if not matched:
                raise UnauthorizedLogin()
            return registered.encode()

        return self.check(name, _bytes(credentials.password)).addCallback(verdict)
