"""
C{chatsvc-gui --local} end to end, on Xvfb: the server starts in the test's
process, the window signs on to it and says how others join; an C{nc} user,
an IRC user (over C{nc}) and the browser's page reach it at what the window
says; closing the window says goodbye to them and stops the server; the
history is kept in the user's data directory for the next time.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.web.client import Agent

from chatsvc.gui.app import login_nick
from chatsvc.gui.local import LocalServer
from chatsvc.service.startup import StartupError
from tests import system
from tests.gui.desktop import Desktops, NcUser, pane, screenshot, shots, type_line, until

JOIN_TEXT = re.compile(
    r"Others join with: nc 127\.0\.0\.1 (?P<line>\d+)\n"
    r"in a browser: http://127\.0\.0\.1:(?P<web>\d+)/\n"
    r"over IRC: server 127\.0\.0\.1, port (?P<irc>\d+)"
)


async def irc_user(port: int, nick: str) -> NcUser:
    """An IRC user: C{nc} speaking IRC, in the lobby's channel."""
    user = NcUser()
    nc = system.require("nc", None)
    reactor.spawnProcess(user, nc, [nc, "127.0.0.1", str(port)])
    user.say(f"NICK {nick}\r")
    user.say(f"USER {nick} 0 * :{nick}\r")
    await user.expect(f" 001 {nick} ")
    user.say("JOIN #lobby\r")
    await user.expect(" 366 ")
    return user


@pytest_twisted.ensureDeferred
async def test_local_serves_the_chat_in_the_window_s_process(
    desktops: Desktops, tmp_path: Path, display: str
) -> None:
    alice = desktops.start(tmp_path / "alice", "--local", "--nick", "alice")
    await until(lambda: alice.client.signed_on, "alice signed on to the local server")
    shown = alice.window.local.get("1.0", "end").strip()
    found = JOIN_TEXT.fullmatch(shown)
    assert found is not None, shown
    line_port, web_port, irc_port = (int(found[k]) for k in ("line", "web", "irc"))
    assert alice.local is not None and alice.local.service is not None

    bob = await NcUser.sign_on(line_port, "bob")
    dave = await irc_user(irc_port, "dave")
    type_line(alice, "welcome, everyone")
    await bob.expect("<alice> welcome, everyone")
    await dave.expect(":alice!")
    bob.say("thanks from nc")
    dave.say("PRIVMSG #lobby :thanks from IRC\r")
    await until(lambda: "<bob> thanks from nc" in pane(alice), "bob's line in the window")
    await until(lambda: "<dave> thanks from IRC" in pane(alice), "dave's line in the window")

    response = await Agent(reactor).request(b"GET", f"http://127.0.0.1:{web_port}/".encode())
    assert response.code == 200
    assert response.headers.getRawHeaders("content-type") == ["text/html; charset=utf-8"]

    screenshot(alice.window.root, display, shots(tmp_path) / "gui-local.png")

    # Closing the window stops the server: everyone is told, and the ports close.
    alice.window.exit_button.invoke()
    await alice.done.addTimeout(15, reactor)
    await bob.expect("*** The server is shutting down. Goodbye!")
    await bob.quit()
    assert alice.local.service is None
    refused = NcUser()
    nc = system.require("nc", None)
    reactor.spawnProcess(refused, nc, [nc, "127.0.0.1", str(line_port)])
    await refused.ended.addTimeout(15, reactor)
    assert refused.lines == []
    await dave.quit()

    # The history is in the user's data directory, and shown the next time.
    assert (tmp_path / "alice" / "data" / "chatsvc" / "history.sqlite").exists()
    again = desktops.start(tmp_path / "alice", "--local", "--nick", "alice")
    await until(lambda: "<bob> thanks from nc" in pane(again), "the history, next time")


@pytest_twisted.ensureDeferred
async def test_local_says_in_the_window_why_its_server_cannot_start(
    desktops: Desktops, tmp_path: Path
) -> None:
    (tmp_path / "alice" / "data").mkdir(parents=True)
    (tmp_path / "alice" / "data" / "chatsvc").write_text("a file where the directory goes")
    alice = desktops.start(tmp_path / "alice", "--local", "--nick", "alice")
    told = alice.dialog.message.cget("text")
    assert told.startswith("Cannot start the local server: ")
    assert "File exists" in told or "Not a directory" in told


def test_a_server_that_cannot_open_its_history_lets_its_ports_go(tmp_path: Path) -> None:
    (tmp_path / "history.sqlite").mkdir()  # no database can be made there
    local = LocalServer(reactor, tmp_path)
    with pytest.raises(StartupError, match=r"history\.sqlite"):
        local.start()
    assert local.service is None


def test_the_local_nickname_is_the_login_name_made_valid() -> None:
    assert login_nick("alice") == "alice"
    assert login_nick("jean pierre") == "jeanpierre"
    assert login_nick("émile") == "mile"
    assert login_nick("ÉÉ") == "me"
    assert login_nick("x" * 40) == "x" * 32
