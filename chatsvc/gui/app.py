"""
C{chatsvc-gui}'s command line, and the application it runs: the window, the
client and, with C{--local}, the server, on one reactor with Tk's loop
pumped by Twisted's Tk support (L{twisted.internet.tksupport}); no threads.

test-case-name: tests.gui.test_app
"""

from __future__ import annotations

import getpass
import os
import re
import sys
import tkinter as tk
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, TextIO

from twisted.internet import tksupport
from twisted.internet.defer import Deferred
from twisted.internet.task import react
from twisted.logger import Logger
from twisted.python import usage

from chatsvc import __version__
from chatsvc.chat.model import NAME_CHARS, NAME_MAX, is_valid_name
from chatsvc.client.cli import PASSWORD_FILE_OPTION, password_option, trust_option
from chatsvc.gui.client import ChatClient, NoClientView, ServerAddress
from chatsvc.gui.local import LocalServer
from chatsvc.gui.settings import Remembered, config_dir, data_dir
from chatsvc.gui.state import PROGRAM, ChatState, NoView
from chatsvc.gui.window import ChatWindow, ConnectDialog
from chatsvc.service.startup import StartupError

_log = Logger()


class Options(usage.Options):
    """C{chatsvc-gui}'s command line; L{postOptions} adds C{address}, C{trust} and C{password}."""

    synopsis = f"Usage: {PROGRAM} [options] [SERVER]"
    longdesc = (
        "A desktop client for chatsvc, over its WebSocket (twistd chat --web). SERVER is "
        "the address a browser opens (http://localhost:8081/, https://chat.example.org/); "
        "with SERVER and --nick it signs on at once, otherwise the connect dialog asks. "
        "With --local it starts a chat server in this process instead, and signs on to it."
    )
    optParameters = [
        ["nick", "n", None, "Sign on with this nickname."],
        [
            "ca",
            None,
            None,
            "For an https:// SERVER: trust the CA certificates in this PEM file instead of "
            "the system's.",
        ],
        PASSWORD_FILE_OPTION,
    ]
    optFlags = [
        [
            "local",
            None,
            "Start a chat server in this process (the line protocol, the web and IRC on free "
            "ports of 127.0.0.1, history in the user's data directory), sign on to it, and "
            "show how others join; closing the window stops it.",
        ],
    ]

    def opt_version(self) -> None:
        """Show the chatsvc version and exit."""
        print(f"{PROGRAM} (chatsvc) {__version__}")
        raise SystemExit(0)

    def parseArgs(self, server: str | None = None) -> None:
        self["server"] = server

    def postOptions(self) -> None:
        self["address"] = None
        if self["server"] is not None:
            if self["local"]:
                raise usage.UsageError("give either SERVER or --local, not both")
            try:
                self["address"] = ServerAddress.parse(self["server"])
            except ValueError as e:
                raise usage.UsageError(str(e)) from None
        if self["nick"] is not None and not is_valid_name(self["nick"]):
            raise usage.UsageError(
                f"{self['nick']!r} is not a valid nickname: use 1-{NAME_MAX} {NAME_CHARS}"
            )
        self["trust"] = trust_option(self["ca"]) if self["ca"] is not None else None
        password = password_option(self["password-file"], os.environ)
        self["password"] = password.decode("utf-8", "replace") if password is not None else None


def login_nick(name: str) -> str:
    """A nickname made of the user's login name (for C{--local}): its name characters, or C{me}."""
    nick = re.sub(r"[^A-Za-z0-9_\-.\[\]{}^|]", "", name)[:NAME_MAX]
    return nick if is_valid_name(nick) else "me"


class DesktopApp:
    """
    The window, its client and, with C{--local}, its server: started
    together (L{start}), stopped together when the window closes (L{exit});
    L{done} fires then.
    """

    def __init__(
        self,
        reactor: Any,
        top: tk.Tk | tk.Toplevel,
        options: Options,
        environ: Mapping[str, str] = os.environ,
        out: TextIO | None = None,
    ) -> None:
        self.options = options
        self._out = out
        self.config = config_dir(environ)
        self.remembered = Remembered.load(self.config)
        self.state = ChatState()
        self.client = ChatClient(self.state, reactor, trust=options["trust"])
        self.window = ChatWindow(top, self.state, self.client, self.exit)
        self.state.view = self.window
        self.client.view = self.window
        self.dialog = self.window.dialog = ConnectDialog(
            top, self.remembered, self.connect, self.exit
        )
        self.dialog.hide()
        self.local = LocalServer(reactor, data_dir(environ)) if options["local"] else None
        self.done: Deferred[None] = Deferred()
        self._stopped: Deferred[None] = Deferred()
        self._exiting = False

    def start(self) -> None:
        nick: str | None = self.options["nick"]
        address: ServerAddress | None = self.options["address"]
        if self.local is not None:
            try:
                ports = self.local.start()
            except StartupError as e:
                self.window.status(f"Cannot start the local server: {e}")
                self.dialog.show(f"Cannot start the local server: {e}")
                return
            self.window.show_local(ports.how_to_join())
            if self._out is not None:  # for whoever started it from a terminal, too
                self._out.write("".join(f"{PROGRAM}: {line}\n" for line in ports.how_to_join()))
                self._out.flush()
            nick = nick or self.remembered.nick or login_nick(getpass.getuser())
            self.client.start(ports.address, nick)
        elif address is not None and nick is not None:
            self.client.start(address, nick, self.options["password"])
        else:
            if address is not None:
                self.dialog.server.delete(0, "end")
                self.dialog.server.insert(0, address.web)
            if nick is not None:
                self.dialog.nick.delete(0, "end")
                self.dialog.nick.insert(0, nick)
            self.dialog.show(None)

    def connect(self, server: str, nick: str, password: str | None, remember: bool) -> None:
        """The dialog's Connect: remember it for next time, then sign on."""
        address = ServerAddress.parse(server)
        self.remembered = Remembered(address.web, nick, password if remember else None)
        try:
            self.remembered.save(self.config)
        except OSError as e:
            self.window.status(f"Cannot remember the settings in {self.config}: {e.strerror or e}")
        self.client.start(address, nick, password)

    def exit(self) -> None:
        """Exit: leave the chat, stop the local server, and let the reactor stop."""
        if self._exiting:
            return
        self._exiting = True
        self.window.status("Leaving\N{HORIZONTAL ELLIPSIS}")
        stopped = self.client.stop()
        if self.local is not None:
            stopped.addBoth(lambda _: self.local.stop() if self.local is not None else None)
        stopped.addErrback(lambda f: _log.failure("while stopping", f))
        stopped.addBoth(lambda _: self._unviewed())
        stopped.addBoth(lambda _: self._stopped.callback(None))
        stopped.addBoth(lambda _: self.done.callback(None))

    def _unviewed(self) -> None:
        """The window goes: whatever comes late (a connection closing) is shown nowhere."""
        self.state.view = NoView()
        self.client.view = NoClientView()

    def stop(self) -> Deferred[None]:
        """As L{exit}, for the reactor's shutdown (Ctrl-C, SIGTERM): fires once all is stopped."""
        self.exit()
        waiting: Deferred[None] = Deferred()
        if self._stopped.called:
            waiting.callback(None)
        else:
            self._stopped.addBoth(lambda _: waiting.callback(None))
        return waiting


async def run(reactor: Any, root: tk.Tk, options: Options) -> None:
    tksupport.install(root)
    app = DesktopApp(reactor, root, options, out=sys.stdout)
    reactor.addSystemEventTrigger("before", "shutdown", app.stop)
    app.start()
    try:
        await app.done
    finally:
        tksupport.uninstall()
        root.destroy()


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The C{chatsvc-gui} command."""
    options = Options()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else list(argv))
    except usage.UsageError as e:
        sys.stderr.write(f"{PROGRAM}: {e}\n{PROGRAM}: see {PROGRAM} --help\n")
        raise SystemExit(2) from None
    try:
        root = tk.Tk(className=PROGRAM)
    except tk.TclError as e:
        sys.stderr.write(f"{PROGRAM}: cannot open a window: {e}\n")
        raise SystemExit(1) from None
    react(run, [root, options])
