"""
L{eagertcp.deliver_each}, the fan-out's pick of its members in C: whom it
serves itself (a line sent at once, or added to what a member holds), whom it
leaves to Python, and what it reads to tell them apart, over real sockets.
"""

from __future__ import annotations

import gc
import socket
import sys
from array import array
from collections.abc import Iterator, Sequence

import pytest

from chatsvc.streams import eagertcp
from tests.support import drain

LINE = b"<alice> hello\r\n"
TURN = 10


class Member:
    """What the fan-out reads of a member, in slots as a stream connection keeps it."""

    __slots__ = ("_backlogged", "_held", "_turn", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._turn = 0
        self._held: list[bytes] | None = None
        self._backlogged = False


class Unslotted:
    """A member whose state is in its dict: left to Python."""

    def __init__(self) -> None:
        self._turn = 0
        self._held: list[bytes] | None = None
        self._backlogged = False


@pytest.fixture
def room() -> Iterator[list[tuple[Member, socket.socket]]]:
    """Three members on loopback TCP sockets, each named in DIRECT, with their peers."""
    assert eagertcp.deliver_each is not None, "the extension is built for the tests"
    made: list[tuple[Member, socket.socket]] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        for _ in range(3):
            peer = socket.create_connection(listener.getsockname())
            sock, _ = listener.accept()
            sock.setblocking(False)
            peer.setblocking(False)
            made.append((Member(sock), peer))
    for member, _ in made:
        eagertcp.name_direct(member.sock.fileno(), member)
    yield made
    for member, peer in made:
        eagertcp.name_direct(member.sock.fileno(), None)
        member.sock.close()
        peer.close()


def deliver(
    picked: Sequence[object], exclude: object = None, fds: list[int] | None = None
) -> tuple[int, list[object] | None, list[tuple[object, int]] | None]:
    deliver_each = eagertcp.deliver_each
    assert deliver_each is not None
    members = list(picked)
    if fds is None:
        fds = [m.sock.fileno() if isinstance(m, Member) else -1 for m in members]
    return deliver_each(eagertcp.DIRECT, members, array("i", fds), TURN, exclude, LINE)


def test_each_member_but_the_one_left_out_is_sent_the_line(
    room: list[tuple[Member, socket.socket]],
) -> None:
    members = [member for member, _ in room]
    assert deliver(members, exclude=members[0]) == (1, None, None)
    assert [drain(peer) for _, peer in room] == [b"", LINE, LINE]
    assert [member._turn for member in members] == [0, TURN, TURN], "turn marked as sent"


def test_a_member_written_to_in_this_turn_has_the_line_held(
    room: list[tuple[Member, socket.socket]],
) -> None:
    (first, first_peer), (second, second_peer), (third, third_peer) = room
    first._turn = second._turn = third._turn = TURN
    first._held = [b"earlier\r\n"]
    third._held = [b"earlier\r\n"]
    third._backlogged = True
    skipped, rest, short = deliver([first, second, third])
    assert (skipped, short) == (0, None)
    assert first._held == [b"earlier\r\n", LINE], "added to what it holds"
    assert rest == [second, third], "nothing held, or backlogged: Python's own path"
    assert third._held == [b"earlier\r\n"]
    assert [drain(peer) for peer in (first_peer, second_peer, third_peer)] == [b"", b"", b""]


def test_a_member_not_named_in_direct_is_left_to_python(
    room: list[tuple[Member, socket.socket]],
) -> None:
    (first, first_peer), (second, second_peer), (third, _) = room
    eagertcp.DIRECT[second.sock.fileno()] = None  # something is queued: no straight sends
    skipped, rest, short = deliver([first, second])
    assert (skipped, rest, short) == (0, [second], None)
    assert (second._turn, drain(second_peer)) == (0, b"")
    assert drain(first_peer) == LINE
    # A descriptor that names another member (its socket closed, the number
    # taken again) is not this member's: left to Python too.
    skipped, rest, short = deliver([first], fds=[third.sock.fileno()])
    assert rest == [first]


def test_descriptors_out_of_the_table_are_left_to_python(
    room: list[tuple[Member, socket.socket]],
) -> None:
    (first, _), _, _ = room
    assert deliver([first], fds=[-1]) == (0, [first], None)
    assert deliver([first], fds=[len(eagertcp.DIRECT) + 5]) == (0, [first], None)
    assert first._turn == 0


def test_a_type_without_the_slots_is_left_to_python(
    room: list[tuple[Member, socket.socket]],
) -> None:
    (first, _), _, _ = room
    other = Unslotted()
    fd = first.sock.fileno()
    eagertcp.DIRECT[fd] = other
    assert deliver([other], fds=[fd]) == (0, [other], None)
    assert other._turn == 0


def test_a_turn_that_is_no_int_is_left_to_python(
    room: list[tuple[Member, socket.socket]],
) -> None:
    (first, first_peer), _, _ = room
    first._turn = float(TURN)  # type: ignore[assignment]
    assert deliver([first]) == (0, [first], None), "Python says 10.0 == 10"
    assert drain(first_peer) == b""


def test_a_full_socket_is_told_with_what_it_took(
    room: list[tuple[Member, socket.socket]],
) -> None:
    (first, first_peer), (second, second_peer), _ = room
    first.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    first_peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    for size in (4096, 1):
        try:
            while True:
                first.sock.send(b"x" * size)
        except BlockingIOError:
            pass
    skipped, rest, short = deliver([first, second])
    assert (skipped, rest, short) == (0, None, [(first, 0)])
    assert first._turn == TURN, "its turn is taken: the rest is queued behind it"
    assert drain(second_peer) == LINE


def test_many_members_past_the_stack(room: list[tuple[Member, socket.socket]]) -> None:
    (first, first_peer), _, _ = room
    others = [Unslotted() for _ in range(300)]
    members: list[object] = [*others, first]
    skipped, rest, short = deliver(members)
    assert (skipped, rest, short) == (0, others, None)
    assert drain(first_peer) == LINE


def test_what_is_not_its_arguments_is_refused(room: list[tuple[Member, socket.socket]]) -> None:
    deliver_each = eagertcp.deliver_each
    assert deliver_each is not None
    (first, _), _, _ = room
    fds = array("i", [first.sock.fileno()])
    with pytest.raises(ValueError, match="as long as members"):
        deliver_each(eagertcp.DIRECT, [first, first], fds, TURN, None, LINE)
    with pytest.raises(TypeError, match="lists"):
        deliver_each(eagertcp.DIRECT, (first,), fds, TURN, None, LINE)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="turn must be an int"):
        deliver_each(eagertcp.DIRECT, [first], fds, "10", None, LINE)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        deliver_each(eagertcp.DIRECT, [first], fds, TURN, None, "text")  # type: ignore[arg-type]
    assert first._turn == 0


def test_no_references_are_lost_or_kept(room: list[tuple[Member, socket.socket]]) -> None:
    (first, _), _, _ = room
    gc.collect()
    turn = 1 << 70 >> 10  # an int made here, not a cached small one
    before = (sys.getrefcount(turn), sys.getrefcount(first))
    deliver_each = eagertcp.deliver_each
    assert deliver_each is not None
    for _ in range(100):
        first._turn = 0
        deliver_each(eagertcp.DIRECT, [first], array("i", [first.sock.fileno()]), turn, None, LINE)
    first._turn = 0
    after = (sys.getrefcount(turn), sys.getrefcount(first))
    assert before == after
