"""Every request huggingface_hub makes for a built-in, bounded and retried here.

huggingface_hub 2.4 sends all its requests through one shared ``httpx2``
client built with no timeout, and retries only some calls (preupload, the LFS
batch and transfers) with up to 5 retries, honouring any ``Retry-After`` in
full.  ``bounded_hub`` installs, for the duration of a built-in, a client
whose transport applies ``http_timeout`` to every request (also where the
library passes ``timeout=None``) and retries by ``retry.RetryBudget``.  When
the budget is spent, the transport raises ``HubCallFailed``, which is not an
``httpx2`` error, so the library's own retry loop lets it through at once.

The library uploads large files with Xet whenever ``hf_xet`` is installed;
Xet's transfers run in Rust, beyond these timeouts.  Inside ``bounded_hub``
large files take the Hub's LFS path instead (``HF_HUB_DISABLE_XET``), which
every Hub repository accepts.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from . import IntegrationError, require
from .retry import RETRY_STATUSES, OutOfRetries, RetryBudget, retry_after, sleep

# The commit can have been made when its answer is lost: never sent twice.
_COMMIT = "/commit/"


class HubCallFailed(IntegrationError):
    """A request to the Hub failed for good; ``call`` and ``cause`` say how."""

    def __init__(self, call: str, cause: str) -> None:
        super().__init__(f"{call}: {cause}")
        self.call = call
        self.cause = cause


def _describe(exc: Exception, httpx: Any, timeout: float) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"cannot connect within {timeout:g} s"
    if isinstance(exc, httpx.WriteTimeout):
        return f"cannot send within {timeout:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc or 'connection refused'})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection closed without an answer"
    return f"{type(exc).__name__}: {exc}"


def _rewinder(request: Any) -> Callable[[], bool] | None:
    """Return how to send the body again, or None when it cannot be.

    A body given as bytes is replayed as is; a file (an LFS upload) is sought
    back to where it started.
    """
    stream = request.stream
    source = getattr(stream, "_stream", None)
    if isinstance(source, bytes) or source is None:
        return lambda: True
    try:
        start = source.tell()
    except (AttributeError, OSError):
        return None

    def rewind() -> bool:
        source.seek(start)
        return True

    return rewind


def _unsent(httpx: Any) -> tuple[type, ...]:
    return (httpx.ConnectError, httpx.ConnectTimeout)


def transport_class(httpx: Any) -> type:
    """Return the bounded transport class for the ``httpx2`` module given."""

    class BoundedTransport(httpx.BaseTransport):  # type: ignore[misc]
        def __init__(
            self,
            budget: RetryBudget,
            log: Callable[[str], None],
            endpoint: str | None = None,
        ) -> None:
            self.inner = httpx.HTTPTransport()
            self.budget = budget
            self.log = log
            self.origin = _origin(httpx.URL(endpoint)) if endpoint else None
            self.lock = threading.Lock()

        def handle_request(self, request: Any) -> Any:
            budget = self.budget
            limit = budget.http_timeout
            timeouts = request.extensions.get("timeout") or {}
            request.extensions["timeout"] = {
                key: min(timeouts.get(key) or limit, limit)
                for key in ("connect", "read", "write", "pool")
            }
            if self.origin is not None and _origin(request.url) != self.origin:
                # The LFS batch answer names where to upload and verify; the
                # library sends its token to the verify href wherever that
                # is.  Only the Hub itself gets it (storage URLs are signed).
                request.headers.pop("Authorization", None)
            call = f"{request.method} {request.url.path}"
            commit = request.method == "POST" and _COMMIT in request.url.path
            rewind = _rewinder(request)
            attempts = 0
            while True:
                attempts += 1
                try:
                    response = self.inner.handle_request(request)
                    response.read()
                except httpx.TransportError as exc:
                    cause = _describe(exc, httpx, limit)
                    # Nothing was sent when the connection failed.
                    sent = not isinstance(exc, _unsent(httpx))
                    if rewind is None or (sent and commit):
                        raise HubCallFailed(call, cause) from None
                    self._wait(call, cause, None, attempts)
                    rewind()
                    continue
                status = response.status_code
                if status not in RETRY_STATUSES or (commit and status != 429):
                    return response
                cause = f"HTTP {status}{_message(response)}"
                hint = retry_after(response.headers)
                response.close()
                if rewind is None:
                    raise HubCallFailed(call, cause)
                self._wait(call, cause, hint, attempts)
                rewind()

        def _wait(
            self, call: str, cause: str, hint: float | None, attempts: int
        ) -> None:
            try:
                # LFS transfers run in threads that share the budget.
                with self.lock:
                    wait = self.budget.next_wait(hint)
            except OutOfRetries as out:
                tried = f"{attempts} attempt{'s' if attempts > 1 else ''}"
                raise HubCallFailed(call, f"{cause} ({str(out) or tried})") from None
            self.log(f"Hugging Face Hub: {call}: {cause}; retrying in {wait:g} s")
            sleep(wait)

        def close(self) -> None:
            self.inner.close()

    return BoundedTransport


def _origin(url: Any) -> tuple[str, str, int | None]:
    """Return the scheme, host and port of an ``httpx2.URL``."""
    defaults = {"http": 80, "https": 443}
    return (url.scheme, url.host, url.port or defaults.get(url.scheme))


def _message(response: Any) -> str:
    """Return ': <the Hub's message>' of an error response, or ''."""
    message = response.headers.get("x-error-message")
    if not message:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            message = body.get("error") or body.get("message")
    return f": {str(message)[:200]}" if message else ""


@contextmanager
def bounded_hub(
    budget: RetryBudget, log: Callable[[str], None], endpoint: str | None = None
) -> Iterator[None]:
    """Make huggingface_hub's requests bounded by ``budget`` within the block.

    The token goes only to ``endpoint`` (default: the library's).
    """
    hub = require("huggingface_hub")
    httpx = require("httpx2")
    http = require("huggingface_hub.utils._http")
    constants: Any = require("huggingface_hub.constants")
    transport = transport_class(httpx)
    hub_url = endpoint or constants.ENDPOINT

    def factory() -> Any:
        return httpx.Client(
            transport=transport(budget, log, hub_url),
            event_hooks={"request": [http.hf_request_event_hook]},
            follow_redirects=True,
            timeout=budget.http_timeout,
        )

    bars = require("huggingface_hub.utils")
    xet = constants.HF_HUB_DISABLE_XET
    telemetry = constants.HF_HUB_DISABLE_TELEMETRY
    constants.HF_HUB_DISABLE_XET = True
    # Without this, the first request's user agent fetches a registry from
    # the public Hub (whatever 'endpoint' says) and caches it under HF_HOME.
    constants.HF_HUB_DISABLE_TELEMETRY = True
    hub.set_client_factory(factory)
    # Progress bars would fill the step's log with carriage returns.
    quiet = bars.are_progress_bars_disabled()
    bars.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            # The library's LFS upload passes a file as httpx2's 'data=',
            # deprecated there: its own concern, not the step's output.
            warnings.filterwarnings(
                "ignore", message="Use 'content=", category=DeprecationWarning
            )
            yield
    finally:
        if not quiet:
            bars.enable_progress_bars()
        hub.set_client_factory(http.default_client_factory)
        constants.HF_HUB_DISABLE_XET = xet
        constants.HF_HUB_DISABLE_TELEMETRY = telemetry
