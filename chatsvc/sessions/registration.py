"""
Who may register an account, and how often: C{--registration open|closed},
the least length of a password, and how many accounts one address may make
in an hour. The accounts made are kept by the registry and known to the
portal through L{RegisteredAccounts}.

test-case-name: tests.sessions.test_moderation
"""

from __future__ import annotations

import enum
from collections import OrderedDict, deque
from collections.abc import Callable

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.threads import deferToThread

from chatsvc.accounts import hash_password
from chatsvc.accounts.registered import RegisteredAccounts
from chatsvc.chat.model import ChatError
from chatsvc.registry import IRegistry

MIN_PASSWORD = 8
"""The shortest password C{/register} and C{/password} take, by default, in characters."""

PASSWORD_MAX = 256
"""The longest, in bytes: scrypt reads all of it."""

REGISTRATIONS_PER_ADDRESS = 3
"""Accounts one address may register in L{REGISTRATION_WINDOW}, by default."""

REGISTRATION_WINDOW = 3600.0

ADDRESSES_KEPT = 10_000
"""Addresses whose registrations are remembered; the least recent are forgotten first."""


class Problem(enum.Enum):
    """Why an account was not registered, or its password not changed, for wires with codes."""

    UNAVAILABLE = "unavailable"  # no registrar, or the password cannot be hashed now
    CLOSED = "closed"  # --registration closed
    WEAK_PASSWORD = "weak password"
    TOO_MANY = "too many"  # the address registered too many accounts lately
    LOGGED_IN = "logged in"  # logged in to an account already


class RegistrationRefused(ChatError):
    """An account was not registered (or changed), for C{problem}; the message says why."""

    def __init__(self, problem: Problem, text: str) -> None:
        self.problem = problem
        super().__init__(text)


def _hash_in_thread(password: bytes) -> Deferred[str]:
    return deferToThread(hash_password, password)


@attrs.define
class Registrar:
    """Accounts users register themselves (C{/register}), and the rules for making them."""

    accounts: RegisteredAccounts
    registry: IRegistry
    clock: IReactorTime
    open: bool = True
    min_password: int = MIN_PASSWORD
    per_address: int = REGISTRATIONS_PER_ADDRESS
    window: float = REGISTRATION_WINDOW
    hash: Callable[[bytes], Deferred[str]] = _hash_in_thread
    """Hashes a password (scrypt takes some 50 ms: in a thread)."""
    _recent: OrderedDict[str, deque[float]] = attrs.field(factory=OrderedDict, init=False)

    def password_problem(self, password: str) -> str | None:
        """What is wrong with C{password} as a new one, if anything."""
        if len(password) < self.min_password:
            return f"a password is at least {self.min_password} characters"
        if len(password.encode()) > PASSWORD_MAX:
            return f"a password is at most {PASSWORD_MAX} bytes"
        return None

    def wait_for(self, address: str | None) -> float:
        """Seconds before C{address} may register another account (0: now)."""
        if address is None or not self.per_address:
            return 0.0
        times = self._recent.get(address)
        now = self.clock.seconds()
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < self.per_address:
            return 0.0
        return times[0] + self.window - now

    def count(self, address: str | None) -> None:
        """C{address} registered an account just now."""
        if address is None or not self.per_address:
            return
        times = self._recent.pop(address, None) or deque()
        times.append(self.clock.seconds())
        self._recent[address] = times
        while len(self._recent) > ADDRESSES_KEPT:
            self._recent.popitem(last=False)
