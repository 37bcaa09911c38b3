"""
C{SIGHUP}: what a running server reads again without a restart, and without
anyone being disconnected: the password files of C{--auth chatsvc:}, the
operators (of the C{--config} file; those of the command line stay), the
MOTD, and the key and certificate of every TLS listener, which new
connections get while those open keep the ones they began with.

Each is read again on its own, and what changed is logged; one that fails to
load (a file gone, a key that does not match its certificate) keeps what it
had, and the log says why.

test-case-name: tests.service.test_reload
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto
from twisted.application.service import Service
from twisted.internet.endpoints import SSL4ServerEndpoint, serverFromString
from twisted.internet.error import VerifyError
from twisted.internet.interfaces import (
    IOpenSSLContextFactory,
    IReactorFromThreads,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python import usage
from zope.interface import implementer

from chatsvc.accounts import Accounts, ChatRealm
from chatsvc.chat.model import Chat, fold

_log = Logger()


def key_or_certificate_error(error: OSError | crypto.Error | SSL.Error | VerifyError) -> str:
    """Why a TLS endpoint's key or certificate could not be loaded, in one line."""
    if isinstance(error, OSError):
        return f"{error.filename}: {error.strerror}" if error.filename else str(error)
    if isinstance(error, crypto.Error):
        reasons = [r[2] for r in error.args[0] if isinstance(r, tuple) and len(r) == 3]
        return "bad key or certificate: " + ("; ".join(reasons) or str(error))
    if isinstance(error, SSL.Error):
        reasons = [r[2] for r in error.args[0] if isinstance(r, tuple) and len(r) == 3]
        return "bad key or certificate: " + ("; ".join(reasons) or str(error))
    return f"bad key or certificate: {str(error).rstrip('.')}"


@implementer(IOpenSSLContextFactory)
class ReloadableContext:
    """
    The TLS context factory of a listener, whose key and certificate can be
    replaced while it listens: each new connection asks for the context
    (Twisted's TLS wraps every accepted connection with C{getContext()}), and
    gets the one loaded last; a connection open keeps its own.
    """

    def __init__(self, current: Any) -> None:
        self.current = current

    def getContext(self) -> SSL.Context:
        context: SSL.Context = self.current.getContext()
        return context


def reloadable(endpoint: IStreamServerEndpoint) -> ReloadableContext | None:
    """
    Make a TLS server endpoint's certificate replaceable, before it listens;
    the L{ReloadableContext} of it, or L{None} if it is not TLS. Twisted's
    C{ssl:} endpoint keeps its context factory in C{_sslContextFactory} and
    gives it to the port when it listens; there is no public way in between.
    """
    if not isinstance(endpoint, SSL4ServerEndpoint):
        return None
    context = ReloadableContext(endpoint._sslContextFactory)
    endpoint._sslContextFactory = context
    return context


def certificate_name(context: Any) -> str:
    """Who the certificate of a context factory is for, and until when, for the log."""
    certificate = getattr(context, "certificate", None)
    if certificate is None:
        return "?"
    x509 = certificate.to_cryptography()
    names = x509.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    subject = str(names[0].value) if names else "?"
    until = x509.not_valid_after_utc.strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{subject} (serial {x509.serial_number:x}, until {until})"


class Reloader:
    """What C{SIGHUP} reads again (L{reload}), given what the service was made with."""

    def __init__(
        self,
        reactor: IReactorTime,
        *,
        chat: Chat,
        accounts: Accounts | None = None,
        realm: ChatRealm | None = None,
        operators_of: Callable[[], Iterable[str]] | None = None,
        motd_of: Callable[[], list[str] | None] | None = None,
        set_motd: Callable[[list[str] | None], None] | None = None,
    ) -> None:
        self.reactor = reactor
        self.chat = chat
        self.accounts = accounts
        self.realm = realm
        self.operators_of = operators_of
        self.motd_of = motd_of
        self.set_motd = set_motd
        self.contexts: list[tuple[str, ReloadableContext]] = []
        """Each TLS listener's description and its certificate."""

    def add_tls(self, description: str, context: ReloadableContext) -> None:
        self.contexts.append((description, context))

    def reload(self) -> None:
        """Read everything again; what changed, or why something could not be read, is logged."""
        _log.info("Reloading (SIGHUP)")
        self._accounts()
        self._operators()
        self._motd()
        for description, context in self.contexts:
            self._certificate(description, context)

    def _accounts(self) -> None:
        if self.accounts is None:
            return
        for passwords in self.accounts.password_files:
            added, removed = passwords.reload()
            if added or removed:
                _log.info(
                    "{path}: accounts added: {added}; removed: {removed}",
                    path=str(passwords.path),
                    added=", ".join(added) or "none",
                    removed=", ".join(removed) or "none",
                )

    def _operators(self) -> None:
        if self.realm is None or self.operators_of is None:
            return
        try:
            names = list(self.operators_of())
        except (OSError, usage.UsageError) as e:
            _log.error("Operators not reloaded: {why}; keeping them as they were", why=str(e))
            return
        new = frozenset(fold(name) for name in names)
        old = self.realm.operators
        if new == old:
            return
        self.realm.operators = new
        for participant in self.chat:
            account = participant.account
            if account is None:
                continue
            # Those made operators with /oper add stay so, whatever the configuration says.
            operator = fold(account.name) in new or fold(account.name) in self.chat.operators
            if account.operator != operator:
                participant.account = type(account)(account.name, operator)
        _log.info(
            "Operators now: {now} (added: {added}; removed: {removed})",
            now=", ".join(sorted(names)) or "none",
            added=", ".join(sorted(new - old)) or "none",
            removed=", ".join(sorted(old - new)) or "none",
        )

    def _motd(self) -> None:
        if self.motd_of is None or self.set_motd is None:
            return
        try:
            lines = self.motd_of()
        except OSError as e:
            _log.error(
                "MOTD not reloaded: {path}: {why}; keeping the one before",
                path=e.filename,
                why=e.strerror,
            )
            return
        self.set_motd(lines)
        _log.info("MOTD reloaded: {n} lines", n=0 if lines is None else len(lines))

    def _certificate(self, description: str, context: ReloadableContext) -> None:
        try:
            endpoint = serverFromString(self.reactor, description)
            fresh = endpoint._sslContextFactory
            fresh.getContext()  # the key must match the certificate, now, not at the next client
        except (OSError, ValueError, crypto.Error, SSL.Error, VerifyError) as e:
            why = str(e) if isinstance(e, ValueError) else key_or_certificate_error(e)
            _log.error(
                "TLS on {description} not reloaded: {why}; new connections keep getting {name}",
                description=description,
                why=why,
                name=certificate_name(context.current),
            )
            return
        before, after = certificate_name(context.current), certificate_name(fresh)
        context.current = fresh
        if before == after:
            _log.info(
                "TLS on {description}: {name}, unchanged", description=description, name=after
            )
        else:
            _log.info(
                "TLS on {description}: new connections get {after} (was {before})",
                description=description,
                after=after,
                before=before,
            )


class ReloadOnHangUp(Service):
    """While running, C{SIGHUP} reloads (L{Reloader.reload}), in the reactor's thread."""

    def __init__(self, reloader: Reloader, reactor: IReactorFromThreads) -> None:
        self.reloader = reloader
        self.reactor = reactor
        self._previous: Any = None

    def startService(self) -> None:
        super().startService()
        self._previous = signal.signal(signal.SIGHUP, self._hang_up)

    def _hang_up(self, number: int, frame: FrameType | None) -> None:
        # A signal handler may run between any two bytecodes: the reload waits its turn.
        self.reactor.callFromThread(self.reloader.reload)

    def stopService(self) -> None:
        super().stopService()
        if self._previous is not None:
            signal.signal(signal.SIGHUP, self._previous)
            self._previous = None
