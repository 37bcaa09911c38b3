"""
L{send_each}, the fan-out's sends: its C form and its Python form hold to
the same contract, over real sockets.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator

import pytest

from chatsvc.streams import eagertcp
from chatsvc.streams.eagertcp import SentShort, send_each_in_c, send_each_in_python
from tests.support import drain

SendEach = Callable[[list[int], bytes], SentShort | None]
Pairs = Callable[[int], list[tuple[socket.socket, socket.socket]]]
LINE = b"<alice> hello\r\n"


@pytest.fixture(params=["C", "Python"])
def send_each(request: pytest.FixtureRequest) -> SendEach:
    form = send_each_in_c if request.param == "C" else send_each_in_python
    assert form is not None
    return form


@pytest.fixture
def pairs() -> Iterator[Pairs]:
    """Connected loopback TCP pairs, (the sending end, non-blocking; the reading end)."""
    made: list[socket.socket] = []

    def make(count: int) -> list[tuple[socket.socket, socket.socket]]:
        found = []
        with socket.create_server(("127.0.0.1", 0)) as listener:
            for _ in range(count):
                peer = socket.create_connection(listener.getsockname())
                sock, _ = listener.accept()
                sock.setblocking(False)
                peer.setblocking(False)
                made.extend((sock, peer))
                found.append((sock, peer))
        return found

    yield make
    for sock in made:
        sock.close()


def fill(sock: socket.socket, peer: socket.socket) -> None:
    """Fill C{sock}'s way to C{peer} until the kernel takes not one byte more."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    for size in (4096, 1):
        try:
            while True:
                sock.send(b"x" * size)
        except BlockingIOError:
            pass


def test_the_c_form_is_built_and_in_use() -> None:
    """Installed with a compiler, as the README's commands do: the sends are made from C."""
    assert send_each_in_c is not None
    assert eagertcp.send_each is send_each_in_c


def test_every_socket_takes_the_line_once(send_each: SendEach, pairs: Pairs) -> None:
    found = pairs(5)
    assert send_each([sock.fileno() for sock, _ in found], LINE) is None
    assert [drain(peer) for _, peer in found] == [LINE] * 5


def test_nothing_to_send_to(send_each: SendEach) -> None:
    assert send_each([], LINE) is None


def test_a_full_socket_is_told_and_the_rest_still_sent(
    send_each: SendEach,
    pairs: Pairs,
) -> None:
    found = pairs(3)
    fill(*found[1])
    assert send_each([sock.fileno() for sock, _ in found], LINE) == [(1, 0)]
    assert drain(found[0][1]) == LINE
    assert drain(found[2][1]) == LINE


def test_what_a_socket_took_of_a_long_line(
    send_each: SendEach,
    pairs: Pairs,
) -> None:
    ((sock, peer),) = pairs(1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    data = bytes(range(256)) * 4096  # 1 MiB
    short = send_each([sock.fileno()], data)
    assert short is not None
    ((index, sent),) = short
    assert index == 0
    assert 0 < sent < len(data)
    got = drain(peer)
    assert data.startswith(got)


def test_a_failed_send_is_told_as_nothing_sent_and_the_rest_still_sent(
    send_each: SendEach,
    pairs: Pairs,
) -> None:
    found = pairs(3)
    _, gone = found[0]
    gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    gone.close()  # a reset: the next send fails (ECONNRESET)
    fds = [sock.fileno() for sock, _ in found]
    assert send_each(fds, LINE) == [(0, 0)]
    assert [drain(peer) for _, peer in found[1:]] == [LINE, LINE]


def test_more_sockets_than_fit_on_the_stack(send_each: SendEach) -> None:
    """Over the C form's 256 kept on the stack: UNIX socket pairs, for the count."""
    found = [socket.socketpair() for _ in range(300)]
    try:
        for sock, _ in found:
            sock.setblocking(False)
        fill(*found[299])
        assert send_each([sock.fileno() for sock, _ in found], LINE) == [(299, 0)]
        for _, peer in found[:299]:
            assert peer.recv(100) == LINE
    finally:
        for ends in found:
            for end in ends:
                end.close()


@pytest.mark.parametrize(
    ("fds", "data", "error"),
    [
        ((3,), LINE, TypeError),  # not a list
        (["3"], LINE, TypeError),
        ([-1], LINE, ValueError),
        ([1 << 40], LINE, ValueError),
        ([], "text", TypeError),
    ],
)
def test_the_c_form_refuses_what_is_not_descriptors_and_bytes(
    fds: object, data: object, error: type[Exception]
) -> None:
    assert send_each_in_c is not None
    with pytest.raises(error):
        send_each_in_c(fds, data)  # type: ignore[arg-type]
