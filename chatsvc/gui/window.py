"""
The desktop client's window, in Tk: a thin view of L{chatsvc.gui.state} and
L{chatsvc.gui.client}. It draws what the state says changed, hands what the
user does to the client, and decides nothing itself.

The room list (with unread counts) is on the left, the member list on the
right, the topic above the message pane, and the input line below it with
Send and Exit, the smile and frown buttons (which send at once), the emoji
palette (which inserts) and the attach button. The connect dialog is a
window of its own, shown whenever the client needs to know where to connect
and as whom.

test-case-name: tests.gui.test_window
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from pathlib import Path
from tkinter import filedialog, font, ttk

from zope.interface import implementer

from chatsvc.chat.model import NAME_CHARS, NAME_MAX, is_valid_name
from chatsvc.gui.client import ChatClient, IClientView, ServerAddress
from chatsvc.gui.settings import Remembered
from chatsvc.gui.state import (
    FROWN,
    PALETTE,
    PROGRAM,
    SMILE,
    ChatState,
    Conversation,
    Entry,
    IChatView,
    InputHistory,
    Kind,
    complete,
)

COLOURS: dict[str, dict[str, str]] = {
    Kind.NOTICE.value: {"foreground": "#1f6f8b"},
    Kind.ACTION.value: {"foreground": "#8e44ad"},
    Kind.PRIVATE.value: {"foreground": "#1e7d32"},
    Kind.EVENT.value: {"foreground": "#707070"},
    Kind.INFO.value: {"foreground": "#1f4e8b"},
    Kind.ERROR.value: {"foreground": "#c0392b"},
    Kind.STATUS.value: {"foreground": "#a05a00"},
    Kind.SANCTION.value: {"foreground": "#ffffff", "background": "#a93226"},
    "mention": {"background": "#fff2a8"},
}
"""The colours of the message pane: a tag for each kind of line, and one for mentions."""

Connect = Callable[[str, str, str | None, bool], None]
"""What the dialog's Connect does: server, nickname, password (or None), remember the password."""


class ConnectDialog:
    """Where to connect, and as whom: filled in with what was used last, checked before it goes."""

    def __init__(
        self,
        root: tk.Tk | tk.Toplevel,
        remembered: Remembered,
        connect: Connect,
        quit: Callable[[], None],
    ) -> None:
        self._connect = connect
        self.top = tk.Toplevel(root)
        self.top.title(f"Connect \N{EM DASH} {PROGRAM}")
        self.top.protocol("WM_DELETE_WINDOW", quit)
        frame = ttk.Frame(self.top, padding=12)
        frame.grid(sticky="nsew")
        self.server = ttk.Entry(frame, width=36)
        self.nick = ttk.Entry(frame, width=36)
        self.password = ttk.Entry(frame, width=36, show="\N{BULLET}")
        for row, (label, entry) in enumerate(
            (("Server", self.server), ("Nickname", self.nick), ("Password", self.password))
        ):
            ttk.Label(frame, text=label).grid(row=row, column=0, sticky="w", pady=2, padx=(0, 8))
            entry.grid(row=row, column=1, sticky="ew", pady=2)
        ttk.Label(frame, text="(only for a registered nickname)", foreground="#707070").grid(
            row=3, column=1, sticky="w"
        )
        self.remember = tk.BooleanVar(self.top, value=remembered.password is not None)
        self.remember_button = ttk.Checkbutton(
            frame, text="Remember the password", variable=self.remember
        )
        self.remember_button.grid(row=4, column=1, sticky="w", pady=2)
        self.message = ttk.Label(frame, foreground="#c0392b", wraplength=360)
        self.message.grid(row=5, column=0, columnspan=2, sticky="w", pady=4)
        buttons = ttk.Frame(frame)
        buttons.grid(row=6, column=0, columnspan=2, sticky="e")
        self.connect_button = ttk.Button(buttons, text="Connect", command=self.submit)
        self.connect_button.pack(side="left", padx=4)
        self.quit_button = ttk.Button(buttons, text="Quit", command=quit)
        self.quit_button.pack(side="left")
        self.server.insert(0, remembered.server)
        self.nick.insert(0, remembered.nick)
        self.password.insert(0, remembered.password or "")
        for entry in (self.server, self.nick, self.password):
            entry.bind("<Return>", lambda _: self.submit())

    def show(self, message: str | None) -> None:
        self.message.configure(text=message or "")
        self.connect_button.state(["!disabled"])
        self.top.deiconify()
        self.top.lift()
        (self.nick if self.server.get() else self.server).focus_set()

    def hide(self) -> None:
        self.top.withdraw()

    def submit(self) -> None:
        server, nick = self.server.get().strip(), self.nick.get().strip()
        try:
            ServerAddress.parse(server)
        except ValueError as e:
            self.message.configure(text=f"Server: {e}.")
            return
        if not is_valid_name(nick):
            self.message.configure(
                text=f"Nickname: use 1-{NAME_MAX} {NAME_CHARS}." if nick else "Choose a nickname."
            )
            return
        self.message.configure(text="Connecting\N{HORIZONTAL ELLIPSIS}")
        self.connect_button.state(["disabled"])
        self._connect(server, nick, self.password.get() or None, self.remember.get())


@implementer(IChatView, IClientView)
class ChatWindow:
    """The main window: shows the L{ChatState}; what the user does goes to the L{ChatClient}."""

    def __init__(
        self,
        root: tk.Tk | tk.Toplevel,
        state: ChatState,
        client: ChatClient,
        exit: Callable[[], None],
    ) -> None:
        self.root = root
        self.state = state
        self.client = client
        self._history = InputHistory()
        self._keys: list[str] = []  # the conversations of the room list, in its order
        self._nicks: list[str] = []  # the members of the member list, in its order
        root.title(PROGRAM)
        root.geometry("900x560")
        root.minsize(560, 360)
        root.protocol("WM_DELETE_WINDOW", exit)
        root.columnconfigure(0, weight=1)
        root.rowconfigure(1, weight=1)

        self.topic = ttk.Label(root, text="", anchor="w", padding=(8, 4))
        self.topic.grid(row=0, column=0, sticky="ew")
        panes = ttk.PanedWindow(root, orient="horizontal")
        panes.grid(row=1, column=0, sticky="nsew")

        left = ttk.Frame(panes, padding=4)
        ttk.Label(left, text="Rooms").pack(anchor="w")
        self.rooms = tk.Listbox(left, width=20, exportselection=False, activestyle="none")
        self.rooms.pack(fill="both", expand=True)
        self.rooms.bind("<<ListboxSelect>>", self._room_chosen)
        self.join_entry = ttk.Entry(left)
        self.join_entry.pack(fill="x", pady=(4, 0))
        self.join_entry.bind("<Return>", lambda _: self._join())
        room_buttons = ttk.Frame(left)
        room_buttons.pack(fill="x")
        self.join_button = ttk.Button(room_buttons, text="Join", command=self._join)
        self.join_button.pack(side="left", expand=True, fill="x")
        self.leave_button = ttk.Button(room_buttons, text="Leave", command=self._leave)
        self.leave_button.pack(side="left", expand=True, fill="x")
        panes.add(left, weight=0)

        middle = ttk.Frame(panes)
        self.pane = tk.Text(middle, wrap="word", state="disabled", width=60, padx=6, pady=4)
        scroll = ttk.Scrollbar(middle, command=self.pane.yview)
        self.pane.configure(yscrollcommand=scroll.set)
        self.pane.pack(side="left", fill="both", expand=True)
        scroll.pack(side="right", fill="y")
        for tag, style in COLOURS.items():
            self.pane.tag_configure(tag, **style)
        self._bold = font.nametofont("TkFixedFont", root).copy()
        self._bold.configure(weight="bold")
        self.pane.tag_configure("mention", font=self._bold)
        self.pane.tag_configure(Kind.SANCTION.value, font=self._bold)
        panes.add(middle, weight=1)

        right = ttk.Frame(panes, padding=4)
        self.member_title = ttk.Label(right, text="Members")
        self.member_title.pack(anchor="w")
        self.members = tk.Listbox(right, width=20, exportselection=False, activestyle="none")
        self.members.pack(fill="both", expand=True)
        self.members.bind("<Double-Button-1>", lambda _: self._private())
        self.message_button = ttk.Button(right, text="Message", command=self._private)
        self.message_button.pack(fill="x", pady=(4, 0))
        panes.add(right, weight=0)

        self.local = tk.Text(root, height=0, wrap="word", relief="flat", padx=8, pady=4)
        self.local.configure(state="disabled", background=root.cget("background"))

        bottom = ttk.Frame(root, padding=4)
        bottom.grid(row=3, column=0, sticky="ew")
        self.smile_button = ttk.Button(
            bottom, text=SMILE, width=3, command=lambda: self._send(SMILE)
        )
        self.frown_button = ttk.Button(
            bottom, text=FROWN, width=3, command=lambda: self._send(FROWN)
        )
        self.palette_button = ttk.Menubutton(bottom, text=PALETTE[0], width=3)
        self.palette = tk.Menu(self.palette_button, tearoff=False)
        for emoji in PALETTE:
            self.palette.add_command(label=emoji, command=lambda e=emoji: self._insert(e))  # type: ignore[misc]
        self.palette_button["menu"] = self.palette
        self.attach_button = ttk.Button(
            bottom, text="Attach\N{HORIZONTAL ELLIPSIS}", command=self._attach
        )
        self.entry = ttk.Entry(bottom)
        self.send_button = ttk.Button(bottom, text="Send", command=self._send_typed)
        self.exit_button = ttk.Button(bottom, text="Exit", command=exit)
        for widget in (
            self.smile_button,
            self.frown_button,
            self.palette_button,
            self.attach_button,
        ):
            widget.pack(side="left", padx=(0, 2))
        self.entry.pack(side="left", fill="x", expand=True, padx=4)
        self.send_button.pack(side="left")
        self.exit_button.pack(side="left", padx=(4, 0))
        self.entry.bind("<Return>", lambda _: self._send_typed())
        self.entry.bind("<Up>", self._back)
        self.entry.bind("<Down>", self._forward)
        self.entry.bind("<Tab>", self._complete)

        self.status_bar = ttk.Label(root, text="", anchor="w", padding=(8, 2), foreground="#505050")
        self.status_bar.grid(row=4, column=0, sticky="ew")
        root.bind("<FocusIn>", lambda _: self._focus_changed())
        root.bind("<FocusOut>", lambda _: root.after(20, self._focus_changed))
        self.dialog: ConnectDialog | None = None

    def show_local(self, lines: Sequence[str]) -> None:
        """How others join the chat this window serves (C{--local}): copyable, above the input."""
        self.local.configure(state="normal", height=len(lines))
        self.local.delete("1.0", "end")
        self.local.insert("1.0", "\n".join(lines))
        self.local.configure(state="disabled")
        self.local.grid(row=2, column=0, sticky="ew")

    # What the user does

    def _send_typed(self) -> str:
        text = self.entry.get()
        if text.strip():
            self._history.sent(text)
            self.entry.delete(0, "end")
            self._send(text)
        return "break"

    def _send(self, text: str) -> None:
        self.client.submit(text)
        self.entry.focus_set()

    def _insert(self, emoji: str) -> None:
        self.entry.insert("insert", emoji)
        self.entry.focus_set()

    def _back(self, _: object) -> str:
        line = self._history.back(self.entry.get())
        if line is not None:
            self._set_input(line)
        return "break"

    def _forward(self, _: object) -> str:
        line = self._history.forward()
        if line is not None:
            self._set_input(line)
        return "break"

    def _set_input(self, text: str, cursor: int | None = None) -> None:
        self.entry.delete(0, "end")
        self.entry.insert(0, text)
        self.entry.icursor(len(text) if cursor is None else cursor)

    def _complete(self, _: object) -> str:
        conversation = self.state.on_view
        if conversation is not None:
            names = [m.nick for m in conversation.members.values()]
            if conversation.private:
                names.append(conversation.name)
            done = complete(self.entry.get(), self.entry.index("insert"), names)
            if done is not None:
                self._set_input(*done)
        return "break"

    def _room_chosen(self, _: object) -> None:
        chosen = self.rooms.curselection()
        if chosen and chosen[0] < len(self._keys):
            self.state.select(self._keys[chosen[0]])

    def _join(self) -> None:
        name = self.join_entry.get().strip()
        if name:
            self.join_entry.delete(0, "end")
            self.client.join(name)

    def _leave(self) -> None:
        conversation = self.state.on_view
        if conversation is not None:
            self.client.submit("/part", conversation)

    def _private(self) -> None:
        chosen = self.members.curselection()
        if chosen and chosen[0] < len(self._nicks):
            self.client.open_private(self._nicks[chosen[0]])

    def _attach(self) -> None:
        name = filedialog.askopenfilename(parent=self.root, title="Share a file")
        if name:
            self.client.upload(Path(name))

    def _focus_changed(self) -> None:
        try:
            focused = self.root.focus_get() is not None
        except (KeyError, tk.TclError):  # a menu's own window has the focus
            focused = True
        if focused != self.state.focused:
            self.state.focus(focused)

    # IChatView

    def entry_added(self, conversation: Conversation, entry: Entry) -> None:
        if conversation.key == self.state.current:
            self._write(entry)

    def _write(self, entry: Entry) -> None:
        at_end = self.pane.yview()[1] >= 0.999
        self.pane.configure(state="normal")
        self.pane.insert("end", entry.render() + "\n", entry.tags)
        self.pane.configure(state="disabled")
        if at_end:
            self.pane.see("end")

    def conversations_changed(self) -> None:
        conversations = list(self.state)
        self._keys = [c.key for c in conversations]
        self.rooms.delete(0, "end")
        for index, conversation in enumerate(conversations):
            self.rooms.insert("end", conversation.label)
            if conversation.mentions:
                self.rooms.itemconfigure(index, foreground="#c0392b")
            elif not conversation.joined:
                self.rooms.itemconfigure(index, foreground="#909090")
        self.rooms.selection_clear(0, "end")
        if self.state.current in self._keys:
            self.rooms.selection_set(self._keys.index(self.state.current))

    def conversation_changed(self, conversation: Conversation) -> None:
        if conversation.key == self.state.current:
            self._show_members(conversation)

    def _show_members(self, conversation: Conversation | None) -> None:
        members = conversation.sorted_members() if conversation and not conversation.private else []
        self._nicks = [m.nick for m in members]
        self.members.delete(0, "end")
        for member in members:
            self.members.insert("end", member.label)
        count = conversation.count if conversation is not None else 0
        self.member_title.configure(text=f"Members ({count})" if members else "Members")
        header = self.state.header(conversation) if conversation is not None else ""
        self.topic.configure(text=header)

    def selected(self, conversation: Conversation | None) -> None:
        self.pane.configure(state="normal")
        self.pane.delete("1.0", "end")
        self.pane.configure(state="disabled")
        for entry in conversation.entries if conversation is not None else []:
            self._write(entry)
        self.pane.see("end")
        self._show_members(conversation)

    def title_changed(self, title: str) -> None:
        self.root.title(title)

    def alert(self) -> None:
        self.root.bell()

    # IClientView

    def status(self, text: str) -> None:
        self.status_bar.configure(text=text)

    def sign_on_wanted(self, message: str | None) -> None:
        if self.dialog is not None:
            self.dialog.show(message)

    def signed_on(self, nick: str) -> None:
        if self.dialog is not None:
            self.dialog.hide()
        self.entry.focus_set()
