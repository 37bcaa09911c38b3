"""
What C{twistd} does not do for a service that fails to start, done here: the
operator is told why in one plain line, and the log holds no line that says
it started.

twistd reports a start that fails with a traceback in the foreground, and
from a daemon with C{An error has occurred: b'...'} (the first 100 bytes of
the exception, twisted#4762); and a port logs that it listens as soon as it
is bound, though the start may yet fail. Twisted offers no hook for either,
so L{Terminal} and L{StartLog} step in at the two places twistd's own code
leaves: its launcher's wait for the daemon, and the observers it begins
logging to. L{chatsvc.service.tap.makeService} installs them, under twistd
only.

test-case-name: tests.service.test_twistd, tests.service.test_tap
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import NoReturn

import attrs
from twisted.logger import ILogObserver, LogEvent, Logger, globalLogBeginner
from zope.interface import implementer

from chatsvc.service.logjson import as_json
from chatsvc.service.logtext import faster

_log = Logger()


class StartupError(Exception):
    """The service cannot start; the message says why, in one line."""


@attrs.define
class Terminal:
    """
    The standard error that C{twistd} was started with, kept for telling a
    failed start there in one line.

    By the time the service starts, twistd has sent C{sys.stderr} into the
    log (where a line gets a timestamp and C{[stderr#error]}) and, without
    C{-n}, has forked a daemon whose standard streams are C{/dev/null}. The
    daemon tells the process waiting for it only the first 100 bytes of the
    exception, as C{An error has occurred: b'...'} (twisted#4762). So the
    descriptor is duplicated before twistd forks, the daemon or foreground
    process writes the line to it, and the waiting process, told it was a
    L{StartupError}, exits 1 without a word of its own.
    """

    fd: int = -1
    kept: bool = False

    def keep(self) -> None:
        """Keep twistd's standard error, and quiet what twistd prints of a L{StartupError}."""
        if self.kept:
            return
        self.fd, self.kept = os.dup(2), True
        _quiet_startup_errors()

    def tell(self, message: str) -> None:
        """
        Say C{message} on the terminal, once, and in the log unless the log
        may be that same terminal (C{twistd -n} writes it to stdout).
        """
        if self.fd < 0:
            return
        if not _same_file(1, self.fd):
            _log.critical("Cannot start: {message}", message=message)
        os.write(self.fd, f"twistd chat: {message}\n".encode())
        self.close()

    def close(self) -> None:
        """Let go of the terminal: a daemon must not hold its launcher's output open."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


terminal = Terminal()


def _same_file(fd: int, other: int) -> bool:
    first, second = os.fstat(fd), os.fstat(other)
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def _quiet_startup_errors() -> None:
    """
    What twistd prints of a L{StartupError} goes: its traceback in the
    foreground, its C{An error has occurred} in the process that daemonized.
    """
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if not isinstance(value, StartupError):
            previous(kind, value, tb)

    sys.excepthook = hook

    try:
        from twisted.scripts._twistd_unix import UnixApplicationRunner
    except ImportError:
        return
    wait_for_start = UnixApplicationRunner._waitForStart
    told = f"1 {StartupError.__module__}.{StartupError.__qualname__}:".encode()

    def quiet_wait_for_start(self: UnixApplicationRunner, readPipe: int) -> int:
        data = os.read(readPipe, 100)
        if data.startswith(told):
            return 1
        relay, write = os.pipe()
        os.write(write, data)
        os.close(write)
        try:
            return wait_for_start(self, relay)
        finally:
            os.close(relay)

    UnixApplicationRunner._waitForStart = quiet_wait_for_start  # type: ignore[method-assign]


@implementer(ILogObserver)
class StartLog:
    """
    What is logged while the service starts, held until the start has
    succeeded, and dropped if it fails.

    Each port logs C{ChatFactory starting on 8080} as it is bound, though
    the start may yet fail: on the next endpoint, or, started as root, on
    the history database, which opens after the ports (L{ChatService}).
    A failed start must not look like a server that started, in the log
    nor to whatever waits for that line. So the observers twistd begins
    logging to are put behind this one, before twistd begins
    (L{install}, from L{makeService}).
    """

    def __init__(self) -> None:
        self._observers: list[ILogObserver] = []
        self._held: list[LogEvent] | None = None
        self._installed = False
        self.log_format = "text"
        """How twistd's log is written: C{text}, or C{json} (L{chatsvc.service.logjson})."""

    def install(self) -> None:
        """Put the observers twistd is about to begin logging to behind this one."""
        if self._installed:
            return
        self._installed = True
        begin = globalLogBeginner.beginLoggingTo

        def behind_start_log(
            observers: Iterable[ILogObserver],
            discardBuffer: bool = False,
            redirectStandardIO: bool = True,
        ) -> None:
            formatted = as_json if self.log_format == "json" else faster
            self._observers = [formatted(observer) for observer in observers]
            begin([self], discardBuffer, redirectStandardIO)

        globalLogBeginner.beginLoggingTo = behind_start_log  # type: ignore[method-assign]
        # Such as twistd's own "failed to set uid/gid ... exiting", between
        # the two halves of the start.
        atexit.register(self.release)

    def __call__(self, event: LogEvent) -> None:
        if self._held is not None:
            self._held.append(event)
            return
        for observer in self._observers:
            observer(event)

    def hold(self) -> None:
        """The start begins: hold what is logged, if twistd logs through this."""
        if self._observers and self._held is None:
            self._held = []

    def release(self) -> None:
        """The start succeeded (or failed on a bug): log what was held."""
        held, self._held = self._held or [], None
        for event in held:
            self(event)

    def drop(self) -> None:
        """The start failed: what it logged says otherwise."""
        self._held = None

    @contextmanager
    def released_on_a_bug(self) -> Iterator[None]:
        """Release what was held if the start fails with anything but a L{StartupError}."""
        try:
            yield
        except StartupError:
            raise
        except BaseException:
            self.release()
            raise


start_log = StartLog()


def start_failed(message: str) -> NoReturn:
    """End the start with C{message}, which the operator sees as one line."""
    start_log.drop()
    terminal.tell(message)
    raise StartupError(message) from None
