"""Bounded retries of a service call: 429, 5xx and lost connections.

A call gets ``retries`` more attempts and ``max_wait`` seconds of waiting in
all.  A server's ``Retry-After`` is honoured as given; a wait that does not fit
in what is left of ``max_wait`` fails at once rather than waiting for
nothing.  Without a hint the waits grow 1, 2, 4 ... seconds.  So a call ends
within ``(retries + 1) * http_timeout + max_wait`` seconds for each request
it makes, whatever the service does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from . import ServiceUnreadable

BACKOFF_CAP = 30.0


@dataclass
class Budget:
    """What is left of one call's retries and waiting time."""

    service: str
    retries: int
    max_wait: float
    log: Callable[[str], None]
    sleep: Callable[[float], None] = time.sleep
    attempt: int = 0
    waited: float = 0.0

    def wait(self, what: str, cause: str, seconds: float | None) -> None:
        """Wait before ``what`` is tried again; raise when the budget is spent.

        ``seconds`` is the server's hint (None: back off).
        """
        if seconds is None:
            seconds = min(2.0**self.attempt, BACKOFF_CAP)
        tries = f"{self.attempt + 1} attempt" + ("s" if self.attempt else "")
        if self.attempt >= self.retries:
            raise ServiceUnreadable(
                f"{self.service}, {what}: {cause} (gave up after {tries}; "
                f"retries: {self.retries})"
            )
        left = self.max_wait - self.waited
        if seconds > left:
            raise ServiceUnreadable(
                f"{self.service}, {what}: {cause}; it asks to wait {seconds:.0f} s, "
                f"more than is left of max_wait ({left:g} of {self.max_wait:g} s)"
            )
        self.log(
            f"{self.service}: {cause}; {what} again in {seconds:.0f} s "
            f"(retry {self.attempt + 1} of {self.retries})"
        )
        self.sleep(seconds)
        self.waited += seconds
        self.attempt += 1


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """Return a header's value, whatever the case of its name."""
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def retry_after(headers: Mapping[str, Any] | None, now: float) -> float | None:
    """Return the seconds ``Retry-After`` asks for (seconds or an HTTP date)."""
    value = header(headers, "Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(when - now, 0.0)
