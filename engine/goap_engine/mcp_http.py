"""The MCP server over streamable HTTP: loopback only, behind a bearer token.

Anything that can reach the port could run the project's hooks, so the
server binds a loopback address alone and answers 401 to every request
without ``Authorization: Bearer <token>``.  The token comes from
``GOAP_MCP_TOKEN`` or is made at start and printed once on stderr.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .errors import InputError

TOKEN_ENV = "GOAP_MCP_TOKEN"
PATH = "/mcp"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def loopback(host: str) -> bool:
    """Return whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """Return a socket bound to ``host``:``port``; raise InputError if it cannot be."""
    if not loopback(host):
        raise InputError(
            f"--host {host}: goap-engine mcp listens on loopback only "
            "(127.0.0.1, ::1 or localhost); reach it from elsewhere through "
            "an SSH tunnel"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise InputError(
            f"--port {port}: cannot listen on {host}: {exc.strerror}"
        ) from None
    # Listening from now on: a client told the address may connect at once
    # and waits in the backlog until the server accepts.
    sock.listen(128)
    return sock


def token() -> tuple[str, bool]:
    """Return the token and whether it was made now (not given in the environment)."""
    # Out of the environment: no sensor or run this server starts sees it.
    given = os.environ.pop(TOKEN_ENV, "")
    if given:
        return given, False
    return secrets.token_urlsafe(32), True


class BearerGuard:
    """An ASGI app answering 401 unless the request carries the token."""

    def __init__(self, app: App, expected: str) -> None:
        self.app = app
        self.expected = f"Bearer {expected}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allowed(scope):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="goap-engine"'),
                    ],
                }
            )
            body = b'{"error": "missing or wrong bearer token (GOAP_MCP_TOKEN)"}'
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                return hmac.compare_digest(value, self.expected)
        return False


def serve(server: Any, sock: socket.socket, key: str) -> None:
    """Serve ``server`` (an MCPServer) on ``sock`` until interrupted."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    app = server.streamable_http_app(streamable_http_path=PATH, host=host)
    config = uvicorn.Config(
        BearerGuard(app, key), log_level="warning", access_log=False, lifespan="on"
    )
    uvicorn.Server(config).run(sockets=[sock])
