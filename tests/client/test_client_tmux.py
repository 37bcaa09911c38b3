"""
The interactive C{chatsvc-client} in a real terminal emulator, tmux, against
a real server on 127.0.0.1: time stamps, Tab completion, the title on a
mention, the scrollback, C{/clear} and signing on again after a restart, as
tmux's own screen shows them.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.task import deferLater
from twisted.internet.utils import getProcessOutputAndValue

from chatsvc.client.terminal import stamp
from tests import system
from tests.client.test_client_process import (
    RECONNECT_WAIT,
    WAIT,
    Server,
    _reactor,
    client_command,
    client_environment,
    eventually,
    sign_on,
)

COLUMNS, ROWS = 80, 24


class Tmux:
    """
    A tmux server of the test's own (its own socket, no configuration but
    no status line), running one command in one window of 80x24.
    """

    def __init__(self, tmp_path: Path, why_not: str | None) -> None:
        self.program = system.require("tmux", why_not)
        self.socket = str(tmp_path / "tmux.socket")
        self.status = tmp_path / "status"
        self.config = tmp_path / "tmux.conf"
        self.config.write_text("set -g status off\n")
        self.screen: list[str] = []

    async def tmux(self, *arguments: str) -> str:
        out, err, code = await getProcessOutputAndValue(
            self.program,
            ["-S", self.socket, "-f", str(self.config), *arguments],
            env=client_environment(),
            reactor=_reactor,
        )
        assert code == 0, (arguments, err)
        text: str = out.decode()
        return text

    async def start(self, *argv: str) -> None:
        """Run C{argv} in the window; its exit status is written to L{status}."""
        command = " ".join(shlex.quote(word) for word in argv)
        script = f"{command}; echo $? >{shlex.quote(str(self.status))}"
        await self.tmux(
            "new-session", "-d", "-x", str(COLUMNS), "-y", str(ROWS), "-s", "chat", script
        )

    async def lines(self) -> list[str]:
        """The screen's lines, up to the last that is not empty; tmux leaves out trailing blanks."""
        lines = (await self.tmux("capture-pane", "-p", "-t", "chat")).split("\n")
        while lines and not lines[-1]:
            lines.pop()
        self.screen = lines
        return lines

    async def until(
        self, wanted: list[str] | Callable[[list[str]], bool], timeout: float = WAIT
    ) -> list[str]:
        """
        The screen's lines, once they are as C{wanted} says: its last lines,
        or a condition on all of them.
        """
        deadline = _reactor.seconds() + timeout
        while True:
            lines = await self.lines()
            if wanted(lines) if callable(wanted) else lines[-len(wanted) :] == wanted:
                return lines
            if _reactor.seconds() > deadline:
                raise AssertionError(f"not so after {timeout} seconds; the screen: {lines!r}")
            await deferLater(_reactor, 0.05, lambda: None)

    async def keys(self, *keys: str, literal: bool = False) -> None:
        await self.tmux("send-keys", "-t", "chat", *(["-l"] if literal else []), *keys)

    async def type(self, text: str) -> None:
        await self.keys(text, literal=True)

    async def title(self) -> str:
        return (await self.tmux("display-message", "-p", "-t", "chat", "#{pane_title}")).strip()

    def kill(self) -> None:
        pytest_twisted.blockon(
            getProcessOutputAndValue(
                self.program, ["-S", self.socket, "kill-server"], reactor=_reactor
            )
        )


@pytest.fixture
def tmux(tmp_path: Path, system_packages: str | None) -> Iterator[Tmux]:
    terminal = Tmux(tmp_path, system_packages)
    yield terminal
    terminal.kill()


def unstamped(lines: list[str]) -> list[str]:
    """
    C{lines} without their time stamps, each checked to be the time about
    now (this minute, or the one before), in local time.
    """
    seconds = time.time()
    now = {stamp(seconds), stamp(seconds - 60)}
    texts = []
    for line in lines:
        match = STAMPED.fullmatch(line)
        if match is not None:
            assert match["when"] in now, (line, now)
        texts.append(line if match is None else match["text"])
    return texts


STAMPED = re.compile(r"(?P<when>\d\d:\d\d) (?P<text>.*)")


@pytest_twisted.ensureDeferred
async def test_the_comforts_in_a_real_terminal(server: Server, tmux: Tmux) -> None:
    alice = await sign_on(server, "alice", "attic")
    albert = await sign_on(server, "albert", "attic")
    await tmux.start(
        *client_command(), "--nick", "bob", "--room", "attic", "127.0.0.1", str(server.port)
    )
    lines = await tmux.until(["[attic] bob>"])
    title = await tmux.title()

    # Every line stamped with the time it came, in local time.
    assert all(STAMPED.fullmatch(line) for line in lines[:-1]), lines
    assert unstamped(lines) == [
        "*** Welcome to chatsvc!",
        "*** Choose a nickname:",
        "*** Hello bob! Type /help for the commands.",
        "*** You joined lobby (1 member):",
        "*** bob",
        "*** You joined attic (3 members):",
        "*** albert, alice, bob",
        "[attic] bob>",
    ]

    # A mention: the title says so until a key is pressed.
    alice.say("bob, are you there?")
    albert.say("hi all")
    await tmux.until(
        lambda lines: unstamped(lines)[-3:-1] == ["<alice> bob, are you there?", "<albert> hi all"]
    )
    assert await tmux.title() == "chatsvc-client: alice mentioned you in attic"

    # Tab completes the latest speaker first; again, the next one.
    await tmux.type("al")
    await tmux.keys("Tab")
    await tmux.until(["[attic] bob> albert:"])
    await tmux.keys("Tab")
    await tmux.until(["[attic] bob> alice:"])
    await tmux.type("yes, here")
    await tmux.keys("Enter")
    await eventually(
        lambda: "<bob> alice: yes, here" in alice.lines, lambda: alice.lines, timeout=5.0
    )
    assert await tmux.title() == title

    # Scrolling back through more than a screen, and forth to the latest.
    for n in range(40):
        alice.say(f"line {n}")
    await tmux.until(lambda lines: unstamped(lines)[-2] == "<alice> line 39")
    await tmux.type("draft")
    await tmux.keys("PPage")
    paged = await tmux.until(lambda lines: lines[-2].startswith("-!- Scrolled back: "))
    assert unstamped(paged) == [
        "<alice> bob, are you there?",
        "<albert> hi all",
        "[attic] bob> alice: yes, here",
        *(f"<alice> line {n}" for n in range(19)),
        "-!- Scrolled back: 21 more lines below; PageDown for them",
        "[attic] bob> draft",
    ]
    alice.say("meanwhile")
    await tmux.until(
        ["-!- Scrolled back: 22 more lines below, 1 new; PageDown for them", "[attic] bob> draft"]
    )
    await tmux.keys("PPage", "PPage")
    await tmux.until(lambda lines: unstamped(lines)[0] == "*** Welcome to chatsvc!")
    await tmux.keys("NPage", "NPage", "NPage")
    back = await tmux.until(lambda lines: not lines[-2].startswith("-!- Scrolled back"))
    assert unstamped(back) == [
        *(f"<alice> line {n}" for n in range(18, 40)),
        "<alice> meanwhile",
        "[attic] bob> draft",
    ]

    # /clear: the input line alone.
    await tmux.keys("C-u")
    await tmux.type("/clear")
    await tmux.keys("Enter")
    await tmux.until(lambda lines: lines == ["[attic] bob>"])

    # The server restarts: one note says the client is back.
    await server.stop()
    server.start()
    await eventually(lambda: server.room_of("bob") == "attic", lambda: tmux.screen, RECONNECT_WAIT)
    lines = await tmux.until(lambda lines: unstamped(lines)[-2:] == ["*** bob", "[attic] bob>"])
    texts = unstamped(lines)
    waits = [text for text in texts if text.startswith("-!- Reconnecting in ")]
    assert texts == [
        "*** The server is shutting down. Goodbye!",
        "-!- Connection lost: the server closed the connection.",
        *waits,
        "-!- Signed on again as bob; rejoining attic.",
        "*** You joined attic (1 member):",
        "*** bob",
        "[attic] bob>",
    ]
    assert waits

    await tmux.keys("C-d")
    await eventually(tmux.status.exists, lambda: tmux.screen)
    assert tmux.status.read_text().strip() == "0"
