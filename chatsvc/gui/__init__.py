"""
C{chatsvc-gui}: the desktop client. L{chatsvc.gui.state} is what it knows and
shows (no Tk, no networking), L{chatsvc.gui.client} what it says over the
WebSocket protocol, L{chatsvc.gui.window} the thin Tk view of both, and
L{chatsvc.gui.app} the command line and C{--local}.
"""
