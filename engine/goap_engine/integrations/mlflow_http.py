"""Bounds and credentials for MLflow's calls, applied per call.

MLflow's client reads its HTTP policy (``MLFLOW_HTTP_REQUEST_TIMEOUT``,
``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``..._BACKOFF_FACTOR``) and its
credentials (``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_TRACKING_USERNAME`` and
``..._PASSWORD``, ...) from the process environment at each request, and
nowhere else.  ``bounded`` sets them from the step's environment (its
``env:``) and the built-in's ``with:`` for the duration of the MLflow work
and puts every ``MLFLOW_*`` variable back as it was afterwards.  The engine
runs built-ins in a worker whose environment is the step's, so neither the
engine's environment nor the next step's sees them.

Left to itself, urllib3 (under MLflow) sleeps for whatever ``Retry-After`` a
server sends, up to six hours.  ``bounded`` puts a retry policy that honours
it only up to ``max_wait`` (and fails at once past it) in the one place
MLflow makes its HTTP sessions, ``mlflow.utils.request_utils.
_get_request_session``; with an MLflow that lacks it, ``Retry-After`` is
ignored instead (``MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER``), so the bound
holds either way.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import IntegrationError

MLFLOW_PREFIX = "MLFLOW_"
# Waits between tries double from here (0 before the first retry: urllib3's).
BACKOFF_FACTOR = 1


@dataclass(frozen=True, slots=True)
class Bounds:
    """How long one MLflow request may take, tries included."""

    http_timeout: int = 10
    """Seconds to connect, and seconds to wait for each part of the answer."""
    retries: int = 2
    """Tries after the first, on a refused or silent connection, 429 or 5xx."""
    max_wait: float = 30.0
    """The longest wait between tries; a longer ``Retry-After`` fails at once."""

    @property
    def tries(self) -> int:
        return self.retries + 1

    def per_request(self) -> float:
        """Return the most seconds one request takes before it fails."""
        return self.tries * self.http_timeout + self.retries * self.max_wait

    def environment(self) -> dict[str, str]:
        return {
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(self.http_timeout),
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(self.retries),
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(BACKOFF_FACTOR),
            # One client, not a crowd: the same waits every time.
            "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
        }


def bounds_of(args: Mapping[str, Any], default: Bounds | None = None) -> Bounds:
    """Return the bounds set in ``with:`` (``http_timeout``, ``retries``, ...)."""
    base = default or Bounds()

    def number(name: str, kind: Callable[[Any], Any], low: float) -> Any:
        value = args.get(name)
        if value is None or value == "":
            return getattr(base, name)
        try:
            number = kind(value)
        except (TypeError, ValueError):
            number = None
        if number is None or number < low or isinstance(value, bool):
            raise IntegrationError(
                f"'{name}' must be a number of at least {low:g}, not {value!r}"
            )
        return number

    return Bounds(
        http_timeout=number("http_timeout", int, 1),
        retries=number("retries", int, 0),
        max_wait=number("max_wait", float, 0),
    )


class WaitTooLong(Exception):
    """The server asked to wait longer than ``max_wait`` before trying again."""

    def __init__(self, status: int, seconds: float, max_wait: float) -> None:
        super().__init__(
            f"HTTP {status} with Retry-After {seconds:g} s, more than "
            f"max_wait ({max_wait:g} s)"
        )


def pause(seconds: float) -> None:
    """Wait between tries (tests replace it to count the waits)."""
    time.sleep(seconds)


@functools.lru_cache(maxsize=16)
def _retry_class(max_wait: float) -> type[Any]:
    from urllib3.util import Retry

    class BoundedRetry(Retry):
        """urllib3's retry with ``Retry-After`` honoured up to ``max_wait``."""

        def sleep_for_retry(self, response: Any) -> bool:
            seconds = self.get_retry_after(response)
            if seconds is None:
                return False
            if seconds > max_wait:
                raise WaitTooLong(int(response.status), seconds, max_wait)
            pause(seconds)
            return True

        def _sleep_backoff(self) -> None:
            backoff = min(self.get_backoff_time(), max_wait)
            if backoff > 0:
                pause(backoff)

    return BoundedRetry


@functools.lru_cache(maxsize=16)
def _session(
    max_wait: float,
    max_retries: int,
    backoff_factor: float,
    retry_codes: frozenset[int],
    raise_on_status: bool,
    respect_retry_after_header: bool,
) -> Any:
    import requests
    from requests.adapters import HTTPAdapter

    retry = _retry_class(max_wait)(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        redirect=max_retries,
        status=max_retries,
        status_forcelist=retry_codes,
        backoff_factor=backoff_factor,
        backoff_max=max_wait,
        raise_on_status=raise_on_status,
        respect_retry_after_header=respect_retry_after_header,
        # Any method: MLflow's writes are safe to repeat (it does the same).
        allowed_methods=None,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@contextmanager
def _retry_seam(bounds: Bounds) -> Iterator[bool]:
    """Make MLflow's HTTP sessions use ``BoundedRetry``; yield whether it could."""
    try:
        from mlflow.utils import request_utils
    except ImportError:
        yield False
        return
    original = getattr(request_utils, "_get_request_session", None)
    if original is None:
        yield False
        return

    def get_session(
        max_retries: int,
        backoff_factor: float,
        backoff_jitter: float,
        retry_codes: Any,
        raise_on_status: bool,
        respect_retry_after_header: bool,
    ) -> Any:
        return _session(
            bounds.max_wait,
            int(max_retries),
            float(backoff_factor),
            frozenset(retry_codes),
            bool(raise_on_status),
            bool(respect_retry_after_header),
        )

    request_utils._get_request_session = get_session
    try:
        yield True
    finally:
        request_utils._get_request_session = original


@contextmanager
def bounded(env: Mapping[str, str], bounds: Bounds) -> Iterator[None]:
    """Run MLflow calls with the step's ``MLFLOW_*`` variables and ``bounds``."""
    wanted = {k: v for k, v in env.items() if k.startswith(MLFLOW_PREFIX)}
    saved = {k: v for k, v in os.environ.items() if k.startswith(MLFLOW_PREFIX)}
    with _retry_seam(bounds) as seamed:
        wanted.update(bounds.environment())
        if not seamed:
            wanted["MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER"] = "false"
        for name in saved:
            del os.environ[name]
        os.environ.update(wanted)
        try:
            yield
        finally:
            for name in wanted:
                os.environ.pop(name, None)
            os.environ.update(saved)


_STATUS = re.compile(
    r"error code (\d{3})|too many (\d{3}) error responses|"
    r"\b(\d{3}) (?:Client|Server) Error"
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e)
        # requests wraps urllib3's MaxRetryError, which keeps its own reason.
        todo.extend(a for a in current.args if isinstance(a, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)


def _status(exc: BaseException) -> int | None:
    links = list(_chain(exc))
    for link in links:
        match = _STATUS.search(str(link))
        if match:
            return int(next(g for g in match.groups() if g))
    for link in links:
        # A JSON error body: MLflow keeps its error code, not the status.
        if type(link).__name__ == "RestException":
            value = link.get_http_status_code()  # type: ignore[attr-defined]
            if isinstance(value, int) and value >= 400:
                return value
    return None


def cause(exc: BaseException, bounds: Bounds, *, remote: bool) -> str:
    """Return why an MLflow call failed, in a person's words."""
    links = list(_chain(exc))
    too_long = next((e for e in links if isinstance(e, WaitTooLong)), None)
    if too_long is not None:
        return str(too_long)
    text = " ".join(str(e) for e in links)
    tried = f"tried {bounds.tries} time{'s' if bounds.tries > 1 else ''}"
    if remote and ("Connection refused" in text or "NewConnectionError" in text):
        return f"cannot connect: connection refused (is the server up?); {tried}"
    if remote and re.search(r"timed out|Timeout", text):
        return f"no answer within http_timeout ({bounds.http_timeout} s); {tried}"
    status = _status(exc)
    if status == 401:
        return (
            "HTTP 401 Unauthorized: the server wants credentials "
            "(MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD, in the step's env)"
        )
    if status == 403:
        return "HTTP 403 Forbidden: these credentials may not do this"
    if status == 429:
        return f"HTTP 429 Too Many Requests; {tried}"
    if status is not None and status >= 500:
        return f"HTTP {status} (server error); {tried}"
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message)
