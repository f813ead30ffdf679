"""A local stand-in for Modal's API: the ``ClientHello`` call, over real gRPC.

Modal's client speaks gRPC (grpclib over HTTP/2); this server answers the
one call the engine makes -- ``/modal.client.ModalClient/ClientHello``, with
the token in the ``x-modal-token-id`` and ``x-modal-token-secret`` metadata --
using Modal's own message classes, so the real ``modal.Client.verify`` talks
to it unchanged.  A wrong token gets ``UNAUTHENTICATED``, as from Modal.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any


class FakeModal:
    """Serve ``ClientHello`` on 127.0.0.1 in a thread of its own."""

    def __init__(self, token_id: str, token_secret: str) -> None:
        self.token = (token_id, token_secret)
        self.calls: list[str] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    async def _hello(self, stream: Any) -> None:
        import grpclib.const
        from grpclib.exceptions import GRPCError
        from modal_proto import api_pb2

        await stream.recv_message()
        metadata = dict(stream.metadata or {})
        given = (metadata.get("x-modal-token-id"), metadata.get("x-modal-token-secret"))
        self.calls.append(str(given[0]))
        if given != self.token:
            raise GRPCError(
                grpclib.const.Status.UNAUTHENTICATED,
                "Token ID is malformed or invalid",
            )
        await stream.send_message(api_pb2.ClientHelloResponse())

    def __mapping__(self) -> dict[str, Any]:
        import grpclib.const
        from google.protobuf import empty_pb2
        from modal_proto import api_pb2

        return {
            "/modal.client.ModalClient/ClientHello": grpclib.const.Handler(
                self._hello,
                grpclib.const.Cardinality.UNARY_UNARY,
                empty_pb2.Empty,
                api_pb2.ClientHelloResponse,
            )
        }

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            import grpclib.server

            asyncio.set_event_loop(self._loop)
            # Made inside its loop's thread: grpclib binds to the running loop.
            self._server = grpclib.server.Server([self])
            self._loop.run_until_complete(self._server.start("127.0.0.1", 0))
            port = self._server._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
