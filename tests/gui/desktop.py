"""
What the tests of the desktop client's window share: an X server of their
own (Debian's Xvfb, on a display it chooses itself), Tk on it pumped by
Twisted's Tk support, desktop clients made in the test's process and driven
through their widgets, an C{nc} user on the reactor, waiting without
sleeping, and screenshots of the X display.

Screenshots go to C{docs/gui-*.png} when C{CHATSVC_SCREENSHOTS} is set (to
anything), and to the test's own directory otherwise.
"""

from __future__ import annotations

import os
import subprocess
import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from PIL import ImageGrab
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from chatsvc.gui.app import DesktopApp, Options
from chatsvc.gui.state import Conversation
from tests import system

_T = TypeVar("_T")

DOCS = Path(__file__).resolve().parents[2] / "docs"

WAIT = 15.0
"""Seconds the window (or nc) is given to show what a test waits for."""

SCREEN = (1920, 1200)


class Xvfb:
    """An X server in memory, on the display it picks (C{-displayfd}): never one in use."""

    def __init__(self) -> None:
        program = system.require("Xvfb", None)
        read, write = os.pipe()
        self.process = subprocess.Popen(
            [
                program,
                "-displayfd",
                str(write),
                "-screen",
                "0",
                f"{SCREEN[0]}x{SCREEN[1]}x24",
                "-nolisten",
                "tcp",
            ],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(write)
        with os.fdopen(read) as told:
            number = told.readline().strip()
        if not number:
            self.process.kill()
            raise AssertionError(f"Xvfb did not start (status {self.process.wait()})")
        self.display = f":{number}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def tk_root(display: str) -> Iterator[tk.Tk]:
    """A hidden Tk root on C{display}; each desktop client of a test is a window of its own."""
    from twisted.internet import tksupport

    root = tk.Tk(screenName=display)
    root.withdraw()
    tksupport.install(root)
    try:
        yield root
    finally:
        tksupport.uninstall()
        root.destroy()


def environment(directory: Path) -> dict[str, str]:
    """The XDG directories of one user, under C{directory}."""
    return {
        "HOME": str(directory),
        "XDG_CONFIG_HOME": str(directory / "config"),
        "XDG_DATA_HOME": str(directory / "data"),
    }


class Desktops:
    """The desktop clients of one test (the C{desktops} fixture): each is made to exit after it."""

    def __init__(self, root: tk.Tk) -> None:
        self.root = root
        self.started: list[DesktopApp] = []

    def start(self, directory: Path, *argv: str, at: tuple[int, int] = (0, 0)) -> DesktopApp:
        app = desktop(self.root, directory, *argv, at=at)
        self.started.append(app)
        return app

    async def exit(self) -> None:
        for app in self.started:
            app.exit()
            await app.done.addTimeout(WAIT, reactor)


def desktop(root: tk.Tk, directory: Path, *argv: str, at: tuple[int, int] = (0, 0)) -> DesktopApp:
    """A desktop client for C{argv}, in a window of its own at C{at}, started."""
    options = Options()
    options.parseOptions(list(argv))
    top = tk.Toplevel(root)
    app = DesktopApp(reactor, top, options, environment(directory))
    top.geometry(f"900x560+{at[0]}+{at[1]}")
    app.dialog.top.geometry(f"+{at[0] + 40}+{at[1] + 40}")
    app.start()
    return app


async def until(condition: Callable[[], _T | None], what: str, wait: float = WAIT) -> _T:
    """What C{condition} returns once it is true, the reactor running meanwhile."""
    waited = 0.0
    while True:
        result = condition()
        if result:
            return result
        if waited > wait:
            raise AssertionError(f"never saw {what}")
        await deferLater(reactor, 0.02, lambda: None)
        waited += 0.02


def pane(app: DesktopApp) -> str:
    """The text of the message pane, as the user sees it."""
    return app.window.pane.get("1.0", "end")


def pane_lines(app: DesktopApp) -> list[str]:
    return [line for line in pane(app).splitlines() if line]


def room_list(app: DesktopApp) -> list[str]:
    listbox = app.window.rooms
    return [str(listbox.get(i)) for i in range(listbox.size())]


def member_list(app: DesktopApp) -> list[str]:
    listbox = app.window.members
    return [str(listbox.get(i)) for i in range(listbox.size())]


def type_line(app: DesktopApp, text: str) -> None:
    """Type C{text} into the input and press Enter, as the user would."""
    entry = app.window.entry
    entry.focus_force()
    entry.delete(0, "end")
    entry.insert("end", text)
    entry.event_generate("<Return>")


def choose(app: DesktopApp, label: str) -> Conversation:
    """Click the conversation shown as C{label} in the room list."""
    index = room_list(app).index(label)
    listbox = app.window.rooms
    listbox.selection_clear(0, "end")
    listbox.selection_set(index)
    listbox.event_generate("<<ListboxSelect>>")
    conversation = app.state.on_view
    assert conversation is not None
    return conversation


def shots(tmp_path: Path) -> Path:
    return DOCS if os.environ.get("CHATSVC_SCREENSHOTS") else tmp_path


def screenshot(window: tk.Misc, display: str, path: Path) -> None:
    """The window as it is on the screen, from the X server (not from Tk)."""
    window.update()
    x, y = window.winfo_rootx(), window.winfo_rooty()
    box = (x, y, x + window.winfo_width(), y + window.winfo_height())
    ImageGrab.grab(bbox=box, xdisplay=display).save(path)
    assert path.read_bytes().startswith(b"\x89PNG")


class NcUser(ProcessProtocol):
    """A line-protocol user: C{nc} itself, on the reactor (or any process whose lines are read)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.errors = b""
        self.status: int | None = None
        self._buffer = b""
        self.ended: Deferred[None] = Deferred()

    @classmethod
    async def sign_on(cls, port: int, nick: str, password: str | None = None) -> NcUser:
        user = cls()
        nc = system.require("nc", None)
        reactor.spawnProcess(user, nc, [nc, "127.0.0.1", str(port)], env=os.environ.copy())
        await user.expect("*** Choose a nickname:")
        user.say(nick)
        if password is not None:
            await user.expect(f"Password for {nick}:")
            user.say(password)
        await user.expect(f"*** Hello {nick}!")
        return user

    def outReceived(self, data: bytes) -> None:
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        self.lines += [line.decode("utf-8", "replace").rstrip("\r") for line in lines]

    def errReceived(self, data: bytes) -> None:
        self.errors += data

    def processEnded(self, reason: Failure) -> None:
        self.status = getattr(reason.value, "exitCode", None)
        self.ended.callback(None)

    def say(self, line: str) -> None:
        assert self.transport is not None
        self.transport.write(line.encode() + b"\n")

    async def expect(self, text: str) -> str:
        """The first line with C{text} in it, waited for."""

        def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        try:
            return await until(found, f"{text!r} from nc")
        except AssertionError:
            raise AssertionError(f"nc never got {text!r}; it got {self.lines[-20:]}") from None

    async def quit(self) -> None:
        if not self.ended.called:
            self.say("/quit")
            assert self.transport is not None
            self.transport.closeStdin()
            await self.ended.addTimeout(WAIT, reactor)
