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

L{eager} installs it on a listening port through the port's C{transport}
attribute, which L{twisted.internet.tcp.Port} documents as replaceable.

test-case-name: tests.test_eagertcp, tests.test_tls
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twisted.internet import tcp
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IListeningPort
from twisted.python.failure import Failure


class EagerServer(tcp.Server):
    """An accepted TCP connection whose writes go straight to the socket when they can."""

    _queued = 0
    """Bytes handed to the buffered write() that the reactor has not yet sent."""

    _eager = True
    """Connected, and neither closing nor closed for writing."""

    def write(self, data: bytes) -> None:
        if self._eager and not self._queued:
            try:
                sent = self.socket.send(data)
            except OSError:
                # Would block, or failed: the buffered write below goes the
                # usual way, and a failure surfaces from doWrite() as usual.
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        if data and self.connected:
            self._queued += len(data)
        super().write(data)

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        self.write(b"".join(iovec))

    def writeSomeData(self, data: bytes) -> int | ConnectionLost:
        # Only doWrite() calls this, sending from the buffer.
        sent = super().writeSomeData(data)
        if isinstance(sent, int) and sent > 0:
            self._queued -= sent
        return sent

    def loseConnection(self, *args: Any, **kwargs: Any) -> None:
        self._eager = False
        super().loseConnection(*args, **kwargs)

    def abortConnection(self) -> None:
        self._eager = False
        super().abortConnection()

    def loseWriteConnection(self) -> None:
        self._eager = False
        super().loseWriteConnection()

    def connectionLost(self, reason: Failure) -> None:
        self._eager = False
        super().connectionLost(reason)


def eager(port: IListeningPort) -> IListeningPort:
    """Make the connections C{port} accepts from now on L{EagerServer}s, if it is a TCP port."""
    if type(port) is tcp.Port and port.transport is tcp.Server:
        port.transport = EagerServer
    return port
