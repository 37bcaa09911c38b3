"""
The chat server of Twisted's "Writing Servers" howto, as the howto has it
(``Chat`` and ``ChatFactory`` from its ``chat.py`` listing), with type hints,
listening on 127.0.0.1 on the port given (0: any free one), and printing the
port it got, so that the benchmark can start it. ``ChatFactory`` derives from
``ServerFactory`` (a ``Factory``) rather than ``Factory`` itself, as the typed
``listenTCP`` asks; nothing else differs.

    python bench/peers/textbook_chat.py [PORT]

Lines end in CRLF (``LineReceiver``'s default); the first line is the name.
"""

from __future__ import annotations

import sys

from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.protocol import ServerFactory
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure


class Chat(LineReceiver):
    def __init__(self, users: dict[bytes, Chat]) -> None:
        self.users = users
        self.name: bytes | None = None
        self.state = "GETNAME"

    def connectionMade(self) -> None:
        self.sendLine(b"What's your name?")

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self.name in self.users:
            del self.users[self.name]

    def lineReceived(self, line: bytes) -> None:
        if self.state == "GETNAME":
            self.handle_GETNAME(line)
        else:
            self.handle_CHAT(line)

    def handle_GETNAME(self, name: bytes) -> None:
        if name in self.users:
            self.sendLine(b"Name taken, please choose another.")
            return
        self.sendLine(f"Welcome, {name.decode('utf-8')}!".encode())
        self.name = name
        self.users[name] = self
        self.state = "CHAT"

    def handle_CHAT(self, message: bytes) -> None:
        assert self.name is not None
        line = f"<{self.name.decode('utf-8')}> {message.decode('utf-8')}".encode()
        for _name, protocol in self.users.items():
            if protocol != self:
                protocol.sendLine(line)


class ChatFactory(ServerFactory):
    def __init__(self) -> None:
        self.users: dict[bytes, Chat] = {}  # maps user names to Chat instances

    def buildProtocol(self, addr: object) -> Chat:
        return Chat(self.users)


def main() -> None:
    port = reactor.listenTCP(
        int(sys.argv[1]) if len(sys.argv) > 1 else 0, ChatFactory(), interface="127.0.0.1"
    )
    address = port.getHost()
    assert isinstance(address, IPv4Address)
    print(address.port, flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
