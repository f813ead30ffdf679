"""Local stand-ins for GitHub and the Hugging Face Hub, served on 127.0.0.1.

Each server runs in a daemon thread, records the requests it receives and keeps
its data in memory, so tests can script a scenario and assert what a client did
without any network.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request a fake server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body or b"null")


@dataclass
class Response:
    """What a route answers: status, JSON (or raw) body and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    # Accept the request and never answer (until the server stops).
    silent: bool = False
    # Seconds to wait before answering (a slow service), outside the lock.
    delay: float = 0.0


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 that hands requests to ``handle``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with fake.lock:
                    fake.requests.append(request)
                    try:
                        response = fake.handle(request)
                    except Exception as exc:  # a bug in the fake: say so
                        response = Response(500, {"message": f"fake error: {exc!r}"})
                if response.silent:
                    fake.stopping.wait()
                    return
                if response.delay:
                    time.sleep(response.delay)
                if response.raw is not None:
                    data = response.raw
                    ctype = "application/octet-stream"
                else:
                    data = json.dumps(response.body).encode()
                    ctype = "application/json; charset=utf-8"
                self.send_response(response.status)
                if "content-type" not in {k.lower() for k in response.headers}:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def handle(self, request: Request) -> Response:
        """Answer one request (subclasses route it)."""
        return Response(404, {"message": "Not Found"})

    def start(self) -> None:
        """Serve in a background thread."""
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def calls(self, method: str, path_part: str = "") -> list[Request]:
        """Return the recorded requests with ``method`` whose path contains a part."""
        with self.lock:
            return [
                r for r in self.requests if r.method == method and path_part in r.path
            ]


@contextmanager
def serving(server: FakeServer) -> Iterator[Any]:
    """Run ``server`` for the duration of a ``with`` block."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def hook_context(
    workdir: Any,
    args: dict[str, Any],
    env: dict[str, str] | None = None,
    *,
    action: str = "act",
    extra: dict[str, Any] | None = None,
    secrets: tuple[str, ...] = (),
) -> Any:
    """Return a ``HookContext`` whose log lines are kept in ``ctx.lines``."""
    from goap_engine.executor.hooks import HookContext

    lines: list[str] = []
    ctx = HookContext(
        args=args,
        vars={},
        state={},
        workdir=workdir,
        env=dict(env or {}),
        log=lines.append,
        action=action,
        extra=dict(extra or {}),
        secrets=secrets,
    )
    ctx.lines = lines  # type: ignore[attr-defined]
    return ctx
