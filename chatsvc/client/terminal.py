"""
The interactive console: line editing and input history on a terminal in raw
mode, with what arrives written above the line being typed; time stamps,
completion (L{chatsvc.client.roster}), a bell and the title on a mention or
a private message, and a scrollback in memory (L{chatsvc.client.scrollback}).

It is put together the way L{twisted.conch.stdio} puts its console together:
a L{HistoricRecvLine} under an insults L{ServerProtocol} on L{StandardIO},
with the terminal in raw mode (L{RawTerminal}) for as long as it runs.

test-case-name: tests.client.test_client
"""

from __future__ import annotations

import codecs
import os
import signal
import termios
import time
import tty
from collections.abc import Callable, Mapping
from contextlib import suppress
from types import FrameType
from typing import Any

from twisted.conch.insults.insults import modes
from twisted.conch.recvline import HistoricRecvLine
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from zope.interface import implementer

from chatsvc.chat.commands import COMMANDS
from chatsvc.client.roster import Roster, complete
from chatsvc.client.scrollback import Scrollback, rows
from chatsvc.client.session import NOTICE_KINDS, PROGRAM, IConsole, Kind, ServerLine, Session

# SGR parameters
_NOTICE = "36"  # cyan
_ERROR = "1;31"  # bold red
_ACTION = "35"  # magenta
_PRIVATE = "1;32"  # bold green
_SENT_PRIVATE = "32"  # green
_MENTION = "1;33"  # bold yellow
_NOTE = "33"  # yellow
_HISTORY = "2"  # faint
_NICK = "1"  # bold

NOTE_PREFIX = "-!- "
"""What the client's own notes start with, so they are not taken for the server's."""

_CTRL_A, _CTRL_C, _CTRL_D, _CTRL_E, _CTRL_H, _CTRL_L, _CTRL_U = (
    bytes([ord(key) - 64]) for key in "ACDEHLU"
)
_TAB = b"\t"

CLEAR = "clear"
"""The client's own command, C{/clear}: never sent to the server."""

COMMAND_NAMES = (*COMMANDS, CLEAR)
"""What Tab completes after a C{/} at the start of a line."""

BELL = b"\x07"
_TITLE_PUSH = b"\x1b[22;0t"  # xterm: keep the title, to put it back (_TITLE_POP)
_TITLE_POP = b"\x1b[23;0t"

_TITLED_TERMINALS = (
    "xterm",
    "rxvt",
    "screen",
    "tmux",
    "alacritty",
    "foot",
    "kitty",
    "konsole",
    "gnome",
    "vte",
    "wezterm",
    "putty",
    "st-",
)
"""What C{TERM} starts with on terminals that take a title (xterm's OSC 2)."""


def takes_title(environ: Mapping[str, str]) -> bool:
    """Whether the terminal named by C{TERM} shows a title that we may set."""
    return environ.get("TERM", "").startswith(_TITLED_TERMINALS)


def stamp(seconds: float) -> str:
    """C{HH:MM}, the local time a live line was shown."""
    return time.strftime("%H:%M", time.localtime(seconds))


def calls_for_attention(line: ServerLine) -> bool:
    """Whether C{line} is meant for the user in person: a private message, or a mention."""
    return line.kind is Kind.PRIVATE or line.mention


def attention_title(line: ServerLine, room: str | None) -> str:
    """The terminal's title while C{line} waits to be seen."""
    if line.kind is Kind.PRIVATE:
        return f"{PROGRAM}: a private message from {line.subject}"
    where = f" in {room}" if room else ""
    return f"{PROGRAM}: {line.subject} mentioned you{where}"


def _sgr(parameters: str, text: str) -> str:
    return f"\x1b[{parameters}m{text}\x1b[0m"


def paint(line: ServerLine, colour: bool) -> str:
    """C{line} as the terminal shows it: with C{colour}, in the colours of its kind."""
    if not colour:
        return line.text
    if line.mention:
        return _sgr(_MENTION, line.text)
    if line.kind is Kind.MESSAGE and line.subject is not None:
        return f"<{_sgr(_NICK, line.subject)}> {line.body}"
    if line.kind is Kind.ERROR:
        return _sgr(_ERROR, line.text)
    if line.kind in NOTICE_KINDS:
        return _sgr(_NOTICE, line.text)
    parameters = {
        Kind.ACTION: _ACTION,
        Kind.PRIVATE: _PRIVATE,
        Kind.SENT_PRIVATE: _SENT_PRIVATE,
        Kind.HISTORY: _HISTORY,
    }.get(line.kind)
    return line.text if parameters is None else _sgr(parameters, line.text)


def paint_note(text: str, colour: bool) -> str:
    """One of the client's own notes as the terminal shows it."""
    return _sgr(_NOTE, NOTE_PREFIX + text) if colour else NOTE_PREFIX + text


@implementer(IConsole)
class ChatTerminal(HistoricRecvLine):
    """
    The console on a terminal. The input line is the last line on the screen,
    after a prompt naming our room and nickname; each line to show is written
    in its place (the input line is erased, the line written, then the prompt,
    what has been typed so far, and the cursor put back), so what arrives
    never garbles what is being typed.

    Enter sends the line; Ctrl-D on an empty line, or Ctrl-C, quits. Besides
    L{HistoricRecvLine}'s keys (arrows, Home, End, Insert, Delete, Backspace)
    there are Ctrl-A, Ctrl-E, Ctrl-H and Ctrl-U, and UTF-8 input. Tab
    completes a nickname of the room or a command, and again cycles through
    the others; PageUp and PageDown page through what was shown (kept in
    L{scrollback}); C{/clear} or Ctrl-L clears the screen.

    With C{timestamps} every live line starts with the time it came
    (C{HH:MM}, from C{clock}); lines from the history have their own. A
    mention or a private message rings the C{bell}, and sets the C{title}
    (xterm's title stack keeps the one before) until the next key.

    When the session asks for a password (L{ask_password}) the input line
    becomes a masked one: its prompt says whose password it is, what is typed
    is not shown and goes to no history, and Enter hands it to the session;
    the line that was being typed comes back after.
    """

    session: Session

    def __init__(
        self,
        colour: bool = False,
        *,
        clock: IReactorTime | None = None,
        timestamps: bool = False,
        bell: bool = False,
        title: bool = False,
        scrollback: Scrollback | None = None,
    ) -> None:
        self.colour = colour
        self.timestamps = timestamps
        self.bell = bell
        self.title = title
        self._clock = clock
        self.roster = Roster()
        self.scrollback = scrollback if scrollback is not None else Scrollback()
        self._open = False
        self._closed: Deferred[None] = Deferred()
        self._backlog: list[tuple[str, bytes]] = []
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._prompt_width = 0
        self._asking: str | None = None  # the account whose password is being typed
        self._secret: list[str] = []
        self._kept: tuple[list[bytes], int] = ([], 0)  # the line being typed before
        self._cycle: tuple[int, tuple[str, ...], int] | None = None  # Tab: start, choices, which
        self._titled = False  # the title says something waits to be seen

    # TerminalProtocol

    def connectionMade(self) -> None:
        super().connectionMade()
        self.keyHandlers.update(
            {
                _CTRL_A: self.handle_HOME,
                _CTRL_C: self.session.interrupt,
                _CTRL_D: self._end_or_delete,
                _CTRL_E: self.handle_END,
                _CTRL_H: self.handle_BACKSPACE,
                _CTRL_L: self.clear,
                _CTRL_U: self._kill_line,
                _TAB: self._complete,
                self.terminal.PGUP: self._page_up,
                self.terminal.PGDN: self._page_down,
            }
        )
        self._open = True
        backlog, self._backlog = self._backlog, []
        for text, drawn in backlog:
            self._print(text, drawn)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._open = False
        if not self._closed.called:
            self._closed.callback(None)
        self.session.end_input()

    def initializeScreen(self) -> None:
        """Leave what is on the screen (RecvLine's resets it): the chat goes on below."""
        self.setInsertMode()
        self.drawInputLine()

    def terminalSize(self, width: int, height: int) -> None:
        """Remember the size, for redrawing a long input line (RecvLine's clears the screen)."""
        self.width, self.height = max(width, 1), max(height, 1)
        if self._open and self.scrollback.scrolled:
            self._redraw()

    def keystrokeReceived(self, keyID: bytes, modifier: object) -> None:
        self._attended()
        if keyID != _TAB:
            self._cycle = None
        if self._asking is not None:
            self._password_keystroke(keyID)
        elif isinstance(keyID, bytes) and len(keyID) == 1 and keyID[0] >= 0x80:
            character = self._utf8.decode(keyID)
            if character:
                self.characterReceived(character.encode(), False)
        elif keyID in self.keyHandlers or not (len(keyID) == 1 and keyID[0] < 0x20):
            super().keystrokeReceived(keyID, modifier)

    def lineReceived(self, line: bytes) -> None:
        typed = self.prompt() + line
        self.scrollback.add(typed.decode("utf-8", "replace"), typed)
        if self.scrollback.scrolled:
            self.scrollback.live()
            self._redraw()
        else:
            self.drawInputLine()
        if line.strip().lower() == b"/" + CLEAR.encode():
            self.clear()
        elif line.strip():
            self.session.send(line)

    # The input line

    def prompt(self) -> bytes:
        """C{[room] nick> } once signed on, C{> } before; C{Password for NAME: } when asking."""
        if self._asking is not None:
            return f"Password for {self._asking}: ".encode()
        if self.session.nick and self.session.room:
            return f"[{self.session.room}] {self.session.nick}> ".encode()
        return b"> "

    def drawInputLine(self) -> None:
        prompt = self.prompt()
        self._prompt_width = len(prompt)
        self.terminal.write(prompt + b"".join(self.lineBuffer))
        behind = len(self.lineBuffer) - self.lineBufferIndex
        if behind:
            self.terminal.cursorBackward(behind)

    def _input_rows(self) -> int:
        return rows(" " * self._prompt_width + " " * len(self.lineBuffer), self.width)

    def _erase_input(self) -> None:
        """Take the input line off the screen, leaving the cursor where it began."""
        position = self._prompt_width + self.lineBufferIndex
        if position and self.lineBufferIndex == len(self.lineBuffer):
            # After the last column of a row the cursor stays on that row.
            row = (position - 1) // self.width
        else:
            row = position // self.width
        self.terminal.write(b"\r")
        if row:
            self.terminal.cursorUp(row)
        self.terminal.eraseToDisplayEnd()

    def _print(self, text: str, drawn: bytes) -> None:
        """
        Write a line of its own above the input line (kept until connected),
        and keep it for scrolling back. While scrolled back, only the count
        of lines below the page changes.
        """
        if not self._open:
            self._backlog.append((text, drawn))
            return
        self.scrollback.add(text, drawn)
        self._erase_input()
        self.terminal.resetModes([modes.IRM])
        if self.scrollback.scrolled:
            self.terminal.cursorUp(1)
            self.terminal.eraseToDisplayEnd()
            drawn = self._status()
        self.terminal.write(drawn + b"\n")
        if self.mode == "insert":
            self.terminal.setModes([modes.IRM])
        self.drawInputLine()

    def _end_or_delete(self) -> None:
        if self.lineBuffer:
            self.handle_DELETE()
        else:
            self.session.end_input()

    def _kill_line(self) -> None:
        self.handle_HOME()
        self.terminal.eraseToLineEnd()
        self.lineBuffer = []
        self.lineBufferIndex = 0

    # Completion

    def _complete(self) -> None:
        """Tab: complete the word before the cursor; again, the next choice in place of it."""
        if self._cycle is not None:
            start, choices, which = self._cycle
            which = (which + 1) % len(choices)
        else:
            text = b"".join(self.lineBuffer).decode("utf-8", "replace")
            nicks = self.roster.nicks(exclude=self.session.nick)
            completion = complete(text, self.lineBufferIndex, nicks, COMMAND_NAMES)
            if completion is None:
                return
            start, choices, which = completion.start, completion.choices, 0
        self._erase_input()
        chosen = [character.encode() for character in choices[which]]
        self.lineBuffer[start : self.lineBufferIndex] = chosen
        self.lineBufferIndex = start + len(chosen)
        self.drawInputLine()
        self._cycle = (start, choices, which)

    # The screen

    def clear(self) -> None:
        """C{/clear}, Ctrl-L: an empty screen but for the input line; the scrollback stays."""
        self.scrollback.live()
        self.terminal.eraseDisplay()
        self.terminal.cursorHome()
        self.drawInputLine()

    def _page_rows(self) -> int:
        """Rows for a page of the scrollback: the screen, less the input and the status line."""
        return max(1, self.height - self._input_rows() - 1)

    def _page_up(self) -> None:
        if self.scrollback.back(self._page_rows(), self.width):
            self._redraw()

    def _page_down(self) -> None:
        if self.scrollback.scrolled:
            self.scrollback.forward(self._page_rows(), self.width)
            self._redraw()

    def _status(self) -> bytes:
        """The line under a page scrolled back: how much is below it."""
        newer, unseen = self.scrollback.newer, self.scrollback.unseen
        text = f"Scrolled back: {newer} more line{'s' * (newer != 1)} below"
        if unseen:
            text += f", {unseen} new"
        text = (text + "; PageDown for them")[: max(1, self.width - len(NOTE_PREFIX) - 1)]
        return paint_note(text, self.colour).encode()

    def _redraw(self) -> None:
        """The whole screen again: the page on view (and, scrolled back, the status line)."""
        scrolled = self.scrollback.scrolled
        height = self._page_rows() if scrolled else self._page_rows() + 1
        self.terminal.eraseDisplay()
        self.terminal.cursorHome()
        self.terminal.resetModes([modes.IRM])
        for line in self.scrollback.page(height, self.width):
            self.terminal.write(line.drawn + b"\n")
        if scrolled:
            self.terminal.write(self._status() + b"\n")
        if self.mode == "insert":
            self.terminal.setModes([modes.IRM])
        self.drawInputLine()

    # Attention

    def _call_attention(self, line: ServerLine) -> None:
        if not self._open:
            return
        if self.bell:
            self.terminal.write(BELL)
        if self.title:
            if not self._titled:
                self.terminal.write(_TITLE_PUSH)
                self._titled = True
            title = attention_title(line, self.session.room)
            self.terminal.write(b"\x1b]2;" + title.encode() + BELL)

    def _attended(self) -> None:
        """A key was pressed: the user is here, and the title goes back to what it was."""
        if self._titled:
            self._titled = False
            self.terminal.write(_TITLE_POP)

    # The password

    def _password_keystroke(self, key: bytes) -> None:
        """A key typed at the password prompt: nothing is shown."""
        if key in (b"\r", b"\n"):
            password = "".join(self._secret).encode()
            self._end_password()
            self.session.send_password(password)
        elif key in (self.terminal.BACKSPACE, _CTRL_H):
            del self._secret[-1:]
        elif key == _CTRL_U:
            self._secret.clear()
        elif key == _CTRL_C:
            self.session.interrupt()
        elif key == _CTRL_D and not self._secret:
            self.session.end_input()
        elif isinstance(key, bytes) and len(key) == 1 and key[0] >= 0x80:
            self._secret.append(self._utf8.decode(key))
        elif isinstance(key, bytes) and len(key) == 1 and 0x20 <= key[0] < 0x7F:
            self._secret.append(key.decode())

    def _end_password(self) -> None:
        """Back to the line that was being typed."""
        if self._open:
            self._erase_input()
        self._asking = None
        self._secret.clear()
        self.lineBuffer, self.lineBufferIndex = self._kept
        self._kept = ([], 0)
        if self._open:
            self.drawInputLine()

    # IConsole

    def ask_password(self, account: str) -> bool:
        if self._open:
            self._erase_input()
        if self._asking is None and self._open:
            self._kept = (self.lineBuffer, self.lineBufferIndex)
            self.lineBuffer, self.lineBufferIndex = [], 0
        self._asking = account
        self._secret.clear()
        if self._open:
            self.drawInputLine()
        return True

    def show(self, line: ServerLine) -> None:
        self.roster.follow(line)
        text, drawn = line.text, paint(line, self.colour)
        if self.timestamps and line.kind is not Kind.HISTORY:
            text, drawn = self._stamped(text, drawn)
        if calls_for_attention(line):
            self._call_attention(line)
        self._print(text, drawn.encode())

    def note(self, text: str) -> None:
        shown, drawn = NOTE_PREFIX + text, paint_note(text, self.colour)
        if self.timestamps:
            shown, drawn = self._stamped(shown, drawn)
        self._print(shown, drawn.encode())

    def _stamped(self, text: str, drawn: str) -> tuple[str, str]:
        now = stamp(self._clock.seconds() if self._clock is not None else time.time())
        return f"{now} {text}", f"{_sgr(_HISTORY, now) if self.colour else now} {drawn}"

    def close(self) -> Deferred[None]:
        if not self._open:
            return succeed(None)
        self._attended()
        self._erase_input()
        self.terminal.resetModes([modes.IRM])
        # Not self.terminal.loseConnection(): that resets the terminal, clearing the screen.
        self.terminal.transport.loseConnection()
        return self._closed


class RawTerminal:
    """
    The terminal on C{fd} in raw mode while the client runs, with its width
    followed through SIGWINCH. L{restore} puts it back as it was; it may be
    called any number of times, so that every way out can call it.
    """

    RESET = b"\x1b[4l\x1b[0m"
    """Insert mode off, default colours: undone even if the console could not do it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._saved: list[Any] | None = None
        self._previous: Callable[[int, FrameType | None], Any] | int | None = None

    def size(self) -> tuple[int, int]:
        """Columns and lines; 80 by 24 when the terminal does not say."""
        try:
            columns, lines = os.get_terminal_size(self.fd)
        except OSError:
            return 80, 24
        return columns or 80, lines or 24

    def enter(self, resized: Callable[[int, int], None]) -> None:
        """Raw mode; C{resized} is told the size now and whenever it changes."""
        self._saved = termios.tcgetattr(self.fd)
        tty.setraw(self.fd)

        def on_resize(signum: int, frame: FrameType | None) -> None:
            resized(*self.size())

        self._previous = signal.signal(signal.SIGWINCH, on_resize)
        resized(*self.size())

    def restore(self) -> None:
        saved, self._saved = self._saved, None
        if saved is None:
            return
        signal.signal(signal.SIGWINCH, self._previous or signal.SIG_DFL)
        with suppress(OSError, termios.error):  # a terminal that hung up needs nothing back
            os.write(self.fd, self.RESET)
            termios.tcsetattr(self.fd, termios.TCSADRAIN, saved)
