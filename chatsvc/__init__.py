"""
chatsvc: a multi-room chat server on Twisted, run as a C{twistd} plugin.

The package is split along the seams of the service:

- L{chatsvc.chat}: the chat itself (rooms, members, nicknames, the rules, the
  events they make, the commands users give); no I/O.
- L{chatsvc.frontends}: the wires the chat is served on, each a parser and a
  renderer; the line protocol (L{chatsvc.frontends.line}) for now.
- L{chatsvc.streams}: what every stream connection is held to, and how it sends.
- L{chatsvc.history}: room history: the seam (L{chatsvc.history.IHistory}),
  SQLite (L{chatsvc.history.sqlite}), and replays on a connection
  (L{chatsvc.history.replay}).
- L{chatsvc.accounts}: registered accounts, and C{chatsvc-passwd}.
- L{chatsvc.client}: C{chatsvc-client}.
- L{chatsvc.service}: C{twistd chat}, wiring it all together.
- L{chatsvc.testing}: test doubles for code that uses chatsvc.
"""

__version__ = "0.1.0"
