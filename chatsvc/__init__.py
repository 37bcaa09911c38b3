"""
chatsvc: a multi-room chat server on Twisted, run as a ``twistd`` plugin.

The package is split along the seams of the service:

- :mod:`chatsvc.model`: rooms, participants and nicknames; the chat rules. No I/O.
- :mod:`chatsvc.wire`: the line format; decoding, sanitising and rendering lines.
- :mod:`chatsvc.commands`: parsing a typed line into a command; the command table.
- :mod:`chatsvc.server`: the ``LineReceiver`` protocol and its factory, thin adapters
  between bytes and the model.
- :mod:`chatsvc.accounts`: registered accounts: the scrypt password file, its ``twisted.cred``
  checker, the realm; :mod:`chatsvc.passwd` is ``chatsvc-passwd``.
- :mod:`chatsvc.tap`: ``twistd chat`` options and ``makeService``.
- :mod:`chatsvc.client`, :mod:`chatsvc.terminal`, :mod:`chatsvc.tls`: ``chatsvc-client``.
"""

__version__ = "0.1.0"
