"""
TCP connections that send at once when nothing is queued.

Twisted's transports buffer every C{write()} and send it from the reactor's
next pass, re-arming epoll for writing on the way in and disarming it on the
way out: two system calls and a trip through the reactor for each write. A
chat server writes one short line to each of many connections, and nearly
always the kernel would take it whole at once. L{EagerServer} tries exactly
that when its buffer is empty, as asyncio's transports do, and hands whatever
the kernel does not take to the ordinary buffered C{write()}, so ordering,
flow control (producers are paused at the same buffer size), TLS on top, and
closing behave as before.

A caller that writes the same line to many connections can skip even the
call to C{write()}: L{EagerServer.send_now} is the socket's own C{send} while
nothing is queued, and L{None} otherwise; what the kernel does not take then
goes to L{EagerServer.queue} (see L{chatsvc.frontends.line.server.ChatFactory.fan_out}).
It can also skip the C{send}s: L{send_each} sends one line to the
descriptors (L{EagerServer.fd}) of all the connections whose C{send_now}
is set, from C where the package's extension was built, letting go of the
GIL once for all of them. And it can skip reading the transports: each
open L{EagerServer} keeps its entry in L{DIRECT}, by descriptor, naming
its protocol while that protocol takes lines straight
(L{EagerServer.direct_changed}) and nothing is queued, for L{deliver_each}.

L{eager} installs it on a listening port through the port's C{transport}
attribute, which L{twisted.internet.tcp.Port} documents as replaceable.

test-case-name: tests.streams.test_eagertcp, tests.frontends.line.test_tls
"""

from __future__ import annotations

import importlib
import os
import socket
from array import array
from collections.abc import Callable, Iterable
from typing import Any, Protocol, cast

from twisted.internet import tcp
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IListeningPort
from twisted.python.failure import Failure

SentShort = list[tuple[int, int]]
"""
What L{send_each} says of the sockets that did not take the whole line: the
index of each among those given, and the bytes it took (0 if C{send} failed).
"""


def send_each_in_python(fds: list[int], data: bytes) -> SentShort | None:
    """
    L{send_each} where its C form was not built (no compiler at install): the
    same, one C{os.write} at a time, as C{socket.send} with no flags is.
    """
    size = len(data)
    short: SentShort | None = None
    for index, fd in enumerate(fds):
        try:
            sent = os.write(fd, data)
        except OSError:
            sent = 0
        if sent != size:
            if short is None:
                short = []
            short.append((index, sent))
    return short


SendEach = Callable[[list[int], bytes], SentShort | None]

DeliverEach = Callable[
    [list[object], list[Any], "array[int]", int, object, bytes],
    tuple[int, list[Any] | None, list[tuple[Any, int]] | None],
]

send_each_in_c: SendEach | None
deliver_each: DeliverEach | None
"""
C{deliver_each(DIRECT, members, fds, turn, exclude, data)}, where the
package's extension was built, else L{None}: the fan-out's pick of its
members and its sends, in C (L{chatsvc.frontends.line.server.ChatFactory._deliver}
says what it does, and C{chatsvc/streams/_sendeach.c} how).
"""
try:
    # Installed beside the package, not in it (see chatsvc/streams/_sendeach.c).
    _compiled = importlib.import_module("_chatsvc_sendeach")
except ImportError:  # installed without a C compiler: the same, in Python
    send_each_in_c = deliver_each = None
else:
    send_each_in_c = cast(SendEach, _compiled.send_each)
    deliver_each = cast(DeliverEach, _compiled.deliver_each)

DIRECT: list[object] = []
"""
By descriptor, the protocol of each L{EagerServer} that lines may be sent to
straight now (the protocol has said so with L{EagerServer.direct_changed}, and
nothing is queued), else L{None}: what C{deliver_each} reads in place of
each member's transport. Only an open transport writes its own descriptor's
entry, so an entry never outlives the socket it names; a member whose
descriptor names another protocol is not served from here.
"""


def name_direct(fd: int, protocol: object) -> None:
    """Make C{protocol} (or L{None}) the entry of descriptor C{fd} in L{DIRECT}."""
    if fd >= len(DIRECT):
        DIRECT.extend([None] * (fd + 1 - len(DIRECT)))
    DIRECT[fd] = protocol


class TakesDirect(Protocol):
    """A protocol that a fan-out may send lines straight to (L{set_direct})."""

    @property
    def transport(self) -> object: ...

    _direct: EagerServer | None


def set_direct(protocol: TakesDirect, ready: bool) -> None:
    """
    Let lines go straight to C{protocol}'s socket (its C{_direct}, and its
    entry in L{DIRECT}) if it is C{ready} for them and its transport is an
    L{EagerServer}; else not.
    """
    transport = protocol.transport
    if isinstance(transport, EagerServer):
        protocol._direct = transport if ready else None
        transport.direct_changed()
    else:
        protocol._direct = None


send_each: SendEach = send_each_in_python if send_each_in_c is None else send_each_in_c
"""
C{send_each(fds, data)}: C{data} to each of the sockets C{fds} (non-blocking
descriptors, those of L{EagerServer}s whose C{send_now} is set), each once:
L{None} if every one took it whole, else what L{SentShort} says, and each of
those must have the rest L{EagerServer.queue}d. Its C form
(C{chatsvc/streams/_sendeach.c}) lets go of the GIL once for them all, where
C{socket.send} does so for each and makes a call, an argument tuple and an
int of its own: what a line said to a room costs in Python, beside the
kernel's own work.
"""


class EagerServer(tcp.Server):
    """An accepted TCP connection whose writes go straight to the socket when they can."""

    send_now: Callable[[bytes], int] | None = None
    """
    The socket's C{send} while a write may go straight to it (connected,
    neither closing nor closed for writing, nothing queued), else L{None}.
    Whoever sends with it must give what the kernel did not take (all of it if
    C{send} raised) to L{queue}.
    """

    fd = -1
    """The socket's descriptor, for L{send_each} while C{send_now} is set."""

    _queued = 0
    """Bytes handed to the buffered write() that the reactor has not yet sent."""

    _open = True
    """Connected, and neither closing nor closed for writing."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.send_now = sock.send
        self.fd = sock.fileno()
        self._publish()

    def direct_changed(self) -> None:
        """
        The protocol says whether it takes lines straight (its C{_direct} is
        this transport, or not): its entry in L{DIRECT} follows.
        """
        self._publish()

    def _publish(self) -> None:
        """
        This connection's entry in L{DIRECT}, while it is open: its
        protocol, if that takes lines straight and nothing is queued. (Read
        from the protocol, not kept here: one more attribute in a
        transport's dict cost an idle connection 90 bytes.) Once closed, the
        descriptor may soon be another's, and the entry is left alone.
        """
        if self._open:
            protocol = self.protocol
            ready = self.send_now is not None and getattr(protocol, "_direct", None) is self
            name_direct(self.fd, protocol if ready else None)

    def write(self, data: bytes) -> None:
        send = self.send_now
        if send is not None:
            try:
                sent = send(data)
            except OSError:
                # Would block, or failed: queued below, and a failure
                # surfaces from doWrite() as usual.
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        self.queue(data)

    def queue(self, data: bytes) -> None:
        """
        Write C{data} the buffered way, from the reactor's next pass: for what
        the kernel did not take at once, or could not (a failure then surfaces
        from doWrite() as usual). Nothing goes straight to the socket until
        the queue has drained.
        """
        if data and self.connected:
            self._queued += len(data)
            if self.send_now is not None:
                self.send_now = None
                self._publish()
        super().write(data)

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        self.write(b"".join(iovec))

    def writeSomeData(self, data: bytes) -> int | ConnectionLost:
        # Only doWrite() calls this, sending from the buffer.
        sent = super().writeSomeData(data)
        if isinstance(sent, int) and sent > 0:
            self._queued -= sent
            if not self._queued and self._open:
                self.send_now = self.socket.send
                self._publish()
        return sent

    def _close(self) -> None:
        """Closing, or closed: nothing goes straight to the socket any more."""
        self.send_now = None
        self._publish()  # the last time, as it is still open
        self._open = False

    def loseConnection(self, *args: Any, **kwargs: Any) -> None:
        self._close()
        super().loseConnection(*args, **kwargs)

    def abortConnection(self) -> None:
        self._close()
        super().abortConnection()

    def loseWriteConnection(self) -> None:
        self._close()
        super().loseWriteConnection()

    def connectionLost(self, reason: Failure) -> None:
        self._close()
        super().connectionLost(reason)


def eager(port: IListeningPort) -> IListeningPort:
    """
    Make the connections C{port} accepts from now on L{EagerServer}s, if it
    is a TCP port on a POSIX system (elsewhere a socket is no file descriptor
    that L{send_each} may write to).
    """
    if os.name == "posix" and type(port) is tcp.Port and port.transport is tcp.Server:
        port.transport = EagerServer
    return port
