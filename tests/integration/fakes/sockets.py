"""Services that fail below HTTP: one that never answers, one that is down."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silent_url() -> Iterator[tuple[str, socket.socket]]:
    """Yield the URL of a server that accepts connections and never answers.

    The kernel completes each connection into the listen queue, so a client
    connects, sends its request and waits for an answer that never comes.
    The socket is yielded so that a test can count the connections.
    """
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", server
    finally:
        server.close()


def accepted(server: socket.socket) -> int:
    """Return how many connections wait in ``server``'s queue (and drop them)."""
    server.setblocking(False)
    count = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def down_url() -> str:
    """Return the URL of a port where nothing listens (connection refused)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"
