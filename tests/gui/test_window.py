"""
The desktop client's real window on an X server of its own (Xvfb), driven
through its widgets (buttons invoked, text typed into the entry, keys and
list selections generated), against the real server on 127.0.0.1: two
desktop clients and an C{nc} user chatting; the emoji buttons; the room list
following joins, with unread counts and mentions; private conversations;
completion and the input's history; reconnection after the server restarts;
every failure in words in the window.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytest_twisted

from chatsvc.accounts import hash_password
from chatsvc.gui.app import DesktopApp
from chatsvc.gui.state import FROWN, PALETTE, SMILE
from chatsvc.service.tap import ChatService
from tests.frontends.web.test_browser import start
from tests.gui.desktop import (
    Desktops,
    NcUser,
    choose,
    member_list,
    pane,
    pane_lines,
    room_list,
    screenshot,
    shots,
    type_line,
    until,
)
from tests.support import Services, make_certificates

LOCAL = "tcp:0:interface=127.0.0.1"


def start_server(services: Services, tmp_path: Path, *argv: str, web: str = LOCAL) -> ChatService:
    """The server, with its line protocol and the web, its history in a file."""
    service, _, _ = start(services, tmp_path, *argv, web=web)
    return service


def ports(service: ChatService) -> tuple[int, int]:
    """The server's line port and web port."""
    line, web = (port.getHost().port for port in service.ports)  # type: ignore[attr-defined]
    return line, web


async def signed_on(app: DesktopApp, nick: str) -> None:
    await until(lambda: app.client.signed_on and app.state.nick == nick, f"{nick} signed on")
    await until(lambda: app.state.room("lobby") is not None, f"{nick} in the lobby")


def sees(app: DesktopApp, text: str) -> bool:
    return text in pane(app)


@pytest_twisted.ensureDeferred
async def test_two_desktop_clients_and_an_nc_user_chat(
    services: Services, desktops: Desktops, tmp_path: Path, display: str
) -> None:
    line_port, web_port = ports(start_server(services, tmp_path))
    server = f"http://127.0.0.1:{web_port}/"

    # alice signs on through the connect dialog, which remembers it.
    alice = desktops.start(tmp_path / "alice", at=(0, 0))
    dialog = alice.dialog
    assert dialog.top.winfo_ismapped() or dialog.top.state() == "normal"
    dialog.server.delete(0, "end")
    dialog.server.insert(0, server)
    dialog.nick.insert(0, "alice")
    dialog.connect_button.invoke()
    await signed_on(alice, "alice")
    assert dialog.top.state() == "withdrawn"
    saved = json.loads((tmp_path / "alice" / "config" / "chatsvc" / "gui.json").read_text())
    assert saved == {"server": server, "nick": "alice"}  # no password: not asked to

    # bob is given the server and nickname on the command line.
    bob = desktops.start(tmp_path / "bob", "--nick", "bob", server, at=(960, 0))
    await signed_on(bob, "bob")
    carol = await NcUser.sign_on(line_port, "carol")
    await carol.expect("*** You joined lobby")
    await until(
        lambda: member_list(alice) == ["alice", "bob", "carol"], "the members in alice's list"
    )
    assert alice.window.member_title.cget("text") == "Members (3)"

    type_line(alice, "hello bob <b>and</b> carol")
    await until(lambda: sees(bob, "<alice> hello bob <b>and</b> carol"), "alice's line at bob's")
    await carol.expect("<alice> hello bob <b>and</b> carol")
    assert alice.window.entry.get() == ""
    carol.say("hi from nc")
    await until(lambda: sees(alice, "<carol> hi from nc"), "carol's line at alice's")
    await until(lambda: sees(bob, "<carol> hi from nc"), "carol's line at bob's")

    # The emoji: a smile and a frown at one click, a palette that inserts.
    bob.window.smile_button.invoke()
    bob.window.frown_button.invoke()
    await carol.expect(f"<bob> {SMILE}")
    await carol.expect(f"<bob> {FROWN}")
    await until(lambda: sees(alice, f"<bob> {FROWN}"), "bob's frown at alice's")
    bob.window.entry.insert("end", "party ")
    bob.window.palette.invoke(PALETTE.index("\N{PARTY POPPER}"))
    assert bob.window.entry.get() == "party \N{PARTY POPPER}"
    bob.window.send_button.invoke()
    await carol.expect("<bob> party \N{PARTY POPPER}")

    # The room list follows joins; a line in a room not on view is unread.
    alice.window.join_entry.insert(0, "#dev")
    alice.window.join_button.invoke()
    await until(lambda: room_list(alice) == ["#lobby", "#dev"], "dev in alice's room list")
    assert alice.window.topic.cget("text") == "#dev: (no topic)"
    type_line(alice, "/topic the release")
    await until(lambda: alice.window.topic.cget("text") == "#dev: the release", "the topic")
    carol.say("alice: are you there?")
    carol.say("anyone?")
    await until(lambda: room_list(alice) == ["#lobby [2!]", "#dev"], "the lobby's unread count")
    assert alice.state.title().startswith("(1) alice")
    choose(alice, "#lobby [2!]")
    assert room_list(alice) == ["#lobby", "#dev"]
    assert alice.window.topic.cget("text") == "#lobby: (no topic)"
    assert pane_lines(alice)[-2:][0].endswith("<carol> alice: are you there?")
    assert "mention" in alice.window.pane.tag_names("end - 3 lines")

    # Completion, the input's history.
    entry = alice.window.entry
    entry.delete(0, "end")
    entry.insert(0, "ca")
    entry.event_generate("<Tab>")
    assert entry.get() == "carol: "
    entry.insert("end", "yes")
    entry.event_generate("<Return>")
    await carol.expect("<alice> carol: yes")
    entry.event_generate("<Up>")
    assert entry.get() == "carol: yes"
    entry.event_generate("<Down>")
    assert entry.get() == ""

    # A private conversation, from bob's member list.
    await until(lambda: "alice" in member_list(bob), "alice in bob's list")
    bob.window.members.selection_set(member_list(bob).index("alice"))
    bob.window.message_button.invoke()
    assert room_list(bob) == ["#lobby", "alice"]
    assert bob.window.topic.cget("text") == "Private conversation with alice"
    type_line(bob, "psst, alice")
    await until(lambda: "bob [1!]" in room_list(alice), "bob's private line counted at alice's")
    choose(alice, "bob [1!]")
    assert pane_lines(alice)[-1].endswith("<bob> psst, alice")
    assert "private" in alice.window.pane.tag_names("end - 2 lines")
    type_line(alice, "/me waves back")
    await until(lambda: "/me works in rooms only." in pane(alice), "no /me in private")
    choose(alice, "#dev")
    type_line(alice, "/me waves")
    await until(lambda: sees(alice, "* alice waves"), "alice's action")
    choose(alice, "#lobby")
    type_line(alice, "see you in #dev, bob")
    await until(lambda: room_list(bob)[0].endswith("!]"), "the mention counted at bob's")
    choose(bob, room_list(bob)[0])
    assert sees(bob, "<alice> see you in #dev, bob")

    screenshot(alice.window.root, display, shots(tmp_path) / "gui-chat.png")
    await carol.quit()
    await until(lambda: sees(alice, "carol quit"), "carol leaving, at alice's")


@pytest_twisted.ensureDeferred
async def test_the_window_reconnects_after_the_server_restarts(
    services: Services, desktops: Desktops, tmp_path: Path, display: str
) -> None:
    first = start_server(services, tmp_path)
    _, web_port = ports(first)
    alice = desktops.start(tmp_path / "alice", "--nick", "alice", f"127.0.0.1:{web_port}")
    await signed_on(alice, "alice")
    type_line(alice, "/join attic")
    await until(lambda: room_list(alice) == ["#lobby", "#attic"], "attic")
    type_line(alice, "before the restart")
    await until(lambda: sees(alice, "<alice> before the restart"), "the first line")

    await first.stopService()
    await until(lambda: sees(alice, "Connection lost"), "the connection lost, in the window")
    await until(lambda: room_list(alice) == ["#lobby (offline)", "#attic (offline)"], "offline")
    await until(lambda: sees(alice, "Reconnecting in"), "the wait, in the window")
    assert alice.window.status_bar.cget("text").startswith("Offline; reconnecting in")
    type_line(alice, "typed while away")
    assert sees(alice, "Not connected: sent once back.")

    start_server(services, tmp_path, web=f"tcp:{web_port}:interface=127.0.0.1")
    await until(lambda: sees(alice, "Signed on again as alice."), "signed on again", wait=40)
    await until(lambda: room_list(alice) == ["#lobby", "#attic"], "back in attic")
    await until(lambda: sees(alice, "<alice> typed while away"), "the held line, sent")
    lines = pane_lines(alice)
    assert sum("<alice> before the restart" in line for line in lines) == 1  # shown once
    assert alice.window.status_bar.cget("text").startswith("Signed on to")
    screenshot(alice.window.root, display, shots(tmp_path) / "gui-reconnected.png")


@pytest_twisted.ensureDeferred
async def test_no_server_is_said_in_the_dialog(desktops: Desktops, tmp_path: Path) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    alice = desktops.start(tmp_path / "alice", "--nick", "alice", f"http://127.0.0.1:{port}/")
    told = f"Cannot connect to http://127.0.0.1:{port}/: Connection refused"
    await until(lambda: alice.dialog.message.cget("text") == told, "the refusal in the dialog")
    assert alice.dialog.top.state() == "normal"
    assert alice.window.status_bar.cget("text") == told


@pytest_twisted.ensureDeferred
async def test_bad_input_in_the_dialog_is_said_there(desktops: Desktops, tmp_path: Path) -> None:
    alice = desktops.start(tmp_path / "alice")
    alice.dialog.server.delete(0, "end")
    alice.dialog.server.insert(0, "gopher://old.example.org/")
    alice.dialog.nick.insert(0, "alice")
    alice.dialog.connect_button.invoke()
    assert alice.dialog.message.cget("text") == (
        "Server: gopher: is not a chat address (use http, https, ws or wss)."
    )
    alice.dialog.server.delete(0, "end")
    alice.dialog.server.insert(0, "localhost")
    alice.dialog.nick.delete(0, "end")
    alice.dialog.nick.insert(0, "no spaces")
    alice.dialog.connect_button.invoke()
    assert alice.dialog.message.cget("text").startswith("Nickname: use 1-32 letters")
    assert alice.client.address is None  # nothing was tried


@pytest_twisted.ensureDeferred
async def test_a_wrong_password_is_said_and_the_right_one_remembered_when_asked(
    services: Services, desktops: Desktops, tmp_path: Path, display: str
) -> None:
    passwords = tmp_path / "passwd"
    passwords.write_text(f"alice:{hash_password(b'secret')}\n")
    _, web_port = ports(start_server(services, tmp_path, "--auth", f"chatsvc:{passwords}"))
    alice = desktops.start(tmp_path / "alice")
    dialog = alice.dialog
    dialog.server.delete(0, "end")
    dialog.server.insert(0, f"127.0.0.1:{web_port}")
    dialog.nick.insert(0, "alice")
    dialog.connect_button.invoke()
    await until(
        lambda: dialog.message.cget("text") == "alice is registered: give its password.",
        "the password asked for",
    )
    dialog.password.insert(0, "wrong")
    dialog.connect_button.invoke()
    await until(lambda: dialog.message.cget("text") == "Wrong password for alice.", "refused")
    screenshot(dialog.top, display, shots(tmp_path) / "gui-connect.png")
    dialog.password.delete(0, "end")
    dialog.password.insert(0, "secret")
    dialog.remember_button.invoke()
    dialog.connect_button.invoke()
    await signed_on(alice, "alice")
    saved = json.loads((tmp_path / "alice" / "config" / "chatsvc" / "gui.json").read_text())
    assert saved == {
        "server": f"http://127.0.0.1:{web_port}/",
        "nick": "alice",
        "password": "secret",
    }
    mode = (tmp_path / "alice" / "config" / "chatsvc" / "gui.json").stat().st_mode
    assert mode & 0o077 == 0


@pytest_twisted.ensureDeferred
async def test_a_refused_certificate_is_said_in_words(
    services: Services, desktops: Desktops, tmp_path: Path
) -> None:
    certificates = make_certificates(tmp_path, names=("localhost",), addresses=())
    service = start_server(services, tmp_path, web=certificates.server_endpoint())
    _, web_port = ports(service)
    # Not trusted: the system's roots do not know this CA.
    alice = desktops.start(tmp_path / "alice", "--nick", "alice", f"https://localhost:{web_port}/")
    await until(
        lambda: "certificate is not trusted" in alice.dialog.message.cget("text"),
        "the untrusted certificate in the dialog",
    )
    assert alice.dialog.message.cget("text") == (
        f"Cannot connect to https://localhost:{web_port}/: "
        "the server's certificate is not trusted (certificate verify failed)"
    )
    # Trusted, with --ca: signed on, over TLS.
    bob = desktops.start(
        tmp_path / "bob",
        "--nick",
        "bob",
        "--ca",
        str(certificates.ca),
        f"https://localhost:{web_port}/",
    )
    await signed_on(bob, "bob")


@pytest_twisted.ensureDeferred
async def test_a_mention_while_the_window_is_not_focused_rings_and_shows_in_the_title(
    services: Services, desktops: Desktops, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line_port, web_port = ports(start_server(services, tmp_path))
    alice = desktops.start(tmp_path / "alice", "--nick", "alice", f"127.0.0.1:{web_port}")
    await signed_on(alice, "alice")
    rings: list[None] = []
    monkeypatch.setattr(alice.window.root, "bell", lambda: rings.append(None))
    carol = await NcUser.sign_on(line_port, "carol")
    alice.state.focus(False)  # another application has the focus
    carol.say("nobody in particular")
    await until(lambda: sees(alice, "<carol> nobody in particular"), "carol's line")
    assert (
        rings == []
        and alice.window.root.title() == "alice \N{EM DASH} #lobby \N{EM DASH} chatsvc-gui"
    )
    carol.say("alice, you there?")
    await until(lambda: rings, "the bell")
    assert alice.window.root.title() == "(1) alice \N{EM DASH} #lobby \N{EM DASH} chatsvc-gui"
    carol.say("/msg alice psst")
    await until(lambda: len(rings) == 2, "the bell again, for a private message")
    assert alice.window.root.title().startswith("(2) alice")
    alice.window.entry.focus_force()  # back to the window
    await until(lambda: alice.state.focused, "the focus back")
    assert alice.window.root.title().startswith("(1) alice")  # the lobby is read; bob's talk not
    await carol.quit()


@pytest_twisted.ensureDeferred
async def test_a_file_attached_is_shared_in_the_room(
    services: Services, desktops: Desktops, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line_port, web_port = ports(start_server(services, tmp_path, "--max-upload", "1000"))
    alice = desktops.start(tmp_path / "alice", "--nick", "alice", f"127.0.0.1:{web_port}")
    await signed_on(alice, "alice")
    carol = await NcUser.sign_on(line_port, "carol")
    notes = tmp_path / "release notes.txt"
    notes.write_text("all green\n")
    chosen: list[str] = [str(notes)]
    monkeypatch.setattr("chatsvc.gui.window.filedialog.askopenfilename", lambda **_: chosen.pop(0))
    alice.window.attach_button.invoke()
    told = await carol.expect("<alice> shared release notes.txt (10 bytes): http://127.0.0.1:")
    assert told.endswith("/release%20notes.txt")
    await until(lambda: sees(alice, "<alice> shared release notes.txt (10 bytes)"), "the share")
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 2000)
    chosen.append(str(big))
    alice.window.attach_button.invoke()
    await until(lambda: sees(alice, "Cannot share big.bin: "), "the refusal")
    assert "1000" in pane_lines(alice)[-1]
    chosen.append("")  # the dialog cancelled: nothing happens
    alice.window.attach_button.invoke()
    await carol.quit()


@pytest_twisted.ensureDeferred
async def test_a_full_server_is_said_in_words(
    services: Services, desktops: Desktops, tmp_path: Path
) -> None:
    line_port, web_port = ports(start_server(services, tmp_path, "--max-clients", "1"))
    carol = await NcUser.sign_on(line_port, "carol")
    alice = desktops.start(tmp_path / "alice", "--nick", "alice", f"127.0.0.1:{web_port}")
    await until(lambda: alice.dialog.message.cget("text"), "a refusal in the dialog")
    assert alice.dialog.message.cget("text") == (
        f"Cannot connect to http://127.0.0.1:{web_port}/: "
        "the server refused: the server is full; try again later (HTTP 503)"
    )
    await carol.quit()


@pytest_twisted.ensureDeferred
async def test_a_room_s_operator_bans_the_desktop_user_who_is_told_why_and_for_how_long(
    services: Services, desktops: Desktops, tmp_path: Path, display: str
) -> None:
    """
    An operator on nc makes a room moderated (its header says so, a line said
    there is refused in words), gives the desktop user a voice (marked C{+}),
    sets a key and a limit (the header shows them), bans the desktop user
    from it (put out: why, for how long, the room marked so; joining again
    refused with the time left), then from the chat: the dialog says why and
    for how long, and signing on again is refused the same, never retried by
    itself.
    """
    argv = ("--auth", "memory:root:wonderland", "--op", "root")
    line_port, web_port = ports(start_server(services, tmp_path, *argv))
    root = await NcUser.sign_on(line_port, "root", "wonderland")
    root.say("/join dev")
    await root.expect("*** You joined dev")
    alice = desktops.start(tmp_path / "alice", "--nick", "alice", f"127.0.0.1:{web_port}")
    await signed_on(alice, "alice")
    type_line(alice, "/join dev")
    await until(lambda: member_list(alice) == ["@root", "alice"], "root marked as an operator")

    root.say("/room mode +m")
    await until(lambda: sees(alice, "*** root set +m in #dev (moderated: only its operators"), "+m")
    assert alice.window.topic.cget("text") == "#dev: (no topic) [moderated]"
    type_line(alice, "may I?")
    refused = "dev is moderated: only its operators and voiced members may speak."
    await until(lambda: sees(alice, refused), "refused")
    root.say("/voice alice")
    await until(lambda: member_list(alice) == ["@root", "+alice"], "alice marked as voiced")
    await until(lambda: sees(alice, "*** root gave alice a voice in #dev"), "+v")
    root.say("/room mode -m+kl beer 2")
    await until(lambda: sees(alice, "*** root set -m, +k, +l 2 in #dev"), "-m+kl")
    assert alice.window.topic.cget("text") == "#dev: (no topic) [key beer, limit 2]"
    root.say("/room mode -kl")
    await until(lambda: sees(alice, "*** root set -k, -l in #dev"), "-kl")

    root.say("/ban alice 1h spam")
    await until(lambda: sees(alice, "!!! You are banned from dev for 1h (until "), "the ban")
    await until(lambda: sees(alice, "*** root put you out of #dev (banned: spam)"), "put out")
    assert "#dev (put out)" in room_list(alice)
    assert alice.window.topic.cget("text") == (
        "#dev: (no topic) \N{EM DASH} root put you out (banned: spam)"
    )
    assert member_list(alice) == []
    type_line(alice, "/join dev")
    refused = await until(
        lambda: next(
            (t for t in pane_lines(alice)[-1:] if "*** You are banned from dev" in t), None
        ),
        "joining again refused",
    )
    assert "): spam" in refused and ("for 1h" in refused or "for 59m" in refused), refused
    screenshot(alice.window.root, display, shots(tmp_path) / "gui-banned.png")

    root.say("/ban -g alice 2h flood")
    dialog = alice.dialog
    await until(
        lambda: dialog.message.cget("text").startswith("You are banned from the chat"), "out"
    )
    told = dialog.message.cget("text")
    assert told.startswith("You are banned from the chat for 2h (until "), told
    assert told.endswith("): flood."), told
    await until(lambda: alice.window.status_bar.cget("text") == f"Offline: {told}", "offline")
    dialog.server.delete(0, "end")
    dialog.server.insert(0, f"127.0.0.1:{web_port}")
    dialog.nick.delete(0, "end")
    dialog.nick.insert(0, "alice")
    dialog.connect_button.invoke()
    assert dialog.message.cget("text") == "Connecting\N{HORIZONTAL ELLIPSIS}"
    again = "You are banned from the chat for "
    await until(lambda: dialog.message.cget("text").startswith(again), "refused again")
    await until(lambda: alice.client._link is None, "the connection let go")
    assert not alice.client.signed_on
    assert alice.window.status_bar.cget("text").startswith(f"Offline: {again}")
    await root.quit()
