"""
The classic thread-per-client chat server: a thread per connection blocking
in ``recv``, a list of clients behind a ``threading.Lock``, and every line sent
(``sendall``) to everyone but its sender while the lock is held. Correct,
just the classic design: lines are split on their ``\\n`` however ``recv`` cuts
the stream, so none is torn. Listens on 127.0.0.1 on the port given (0: any
free one) and prints the port it got.

    python bench/peers/threaded_chat.py [PORT]

The first line is the nickname; every later one goes out as ``<nick> text``.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading


class ChatServer:
    """The clients and the lock around them."""

    def __init__(self) -> None:
        self.clients: list[socket.socket] = []
        self.lock = threading.Lock()

    def broadcast(self, sender: socket.socket, line: bytes) -> None:
        with self.lock:
            for client in self.clients:
                if client is not sender:
                    # A client gone is removed by its own thread.
                    with contextlib.suppress(OSError):
                        client.sendall(line)

    def serve(self, conn: socket.socket) -> None:
        """One client, in a thread of its own."""
        nick: bytes | None = None
        pending = b""
        try:
            conn.sendall(b"What's your name?\n")
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                *lines, pending = (pending + data).split(b"\n")
                for raw in lines:
                    line = raw.rstrip(b"\r")
                    if nick is None:
                        if line:
                            nick = line
                            with self.lock:
                                self.clients.append(conn)
                    elif line:
                        self.broadcast(conn, b"<%s> %s\n" % (nick, line))
        except OSError:
            pass
        finally:
            with self.lock:
                if conn in self.clients:
                    self.clients.remove(conn)
            conn.close()


def main() -> None:
    server = ChatServer()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    listener.listen()
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=server.serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
