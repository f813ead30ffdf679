"""Bounded retries for service calls: when to try again, how long to wait.

A request refused with 429 or a 5xx, or lost on the network, is tried again
at most ``retries`` times per built-in call (not per request: a service that
keeps failing stops the step after that many retries in all).  Each wait is
the service's ``Retry-After`` (seconds or an HTTP date) or ``RateLimit``
reset when it gives one, else 1 s, 2 s, 4 s...; the waits of one call add up
to at most ``max_wait``, and a service asking for more fails the step at once.
So a failing service costs at most ``(retries + 1) × http_timeout + max_wait``
seconds, the bound each built-in documents.

``RetryBudget`` is the budget itself (the Hub's transport asks it for each
wait); ``Budget`` spends one the way the GitHub calls do: it logs each wait,
sleeps, and ends the call with ``ServiceUnreadable`` -- a step without a
verdict -- once nothing is left.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from . import ServiceUnreadable

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRIES = 2
# 'RateLimit: "api";r=0;t=55' (IETF draft, sent by the Hub): none left, reset
# in 55 s.
_RATELIMIT_RESET = re.compile(r";\s*r\s*=\s*0\s*;\s*t\s*=\s*(\d+)")


class OutOfRetries(Exception):
    """No retry is left, or the wait asked for is longer than the budget."""


@dataclass
class RetryBudget:
    """The retries and the waiting left to one built-in call."""

    http_timeout: float
    max_wait: float
    retries: int = RETRIES
    retried: int = 0
    waited: float = 0.0

    @property
    def bound(self) -> float:
        """Return the most seconds a failing service can cost."""
        return (self.retries + 1) * self.http_timeout + self.max_wait

    def next_wait(self, hint: float | None) -> float:
        """Return the seconds to wait before retrying; raise when none is left."""
        if self.retried >= self.retries:
            # Said by the caller, who knows how often this request was tried.
            raise OutOfRetries()
        wait = hint if hint is not None else float(2**self.retried)
        left = self.max_wait - self.waited
        if left <= 0 and wait > 0:
            raise OutOfRetries(
                f"after {self.retried + 1} attempts, "
                f"max_wait of {self.max_wait:g} s used up"
            )
        if wait > left:
            if hint is not None:
                raise OutOfRetries(
                    f"asked to wait {wait:g} s, more than the {left:g} s left "
                    f"of max_wait ({self.max_wait:g} s)"
                )
            wait = max(left, 0.0)
        self.retried += 1
        self.waited += wait
        return wait


def sleep(seconds: float) -> None:
    """Wait ``seconds`` (a function of its own so that tests can count waits)."""
    time.sleep(seconds)


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """Return a header's value, whatever the case of its name."""
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def is_seconds(value: str) -> bool:
    """Whether a header's value is a whole number of seconds.

    Only ASCII digits: ``str.isdigit`` also accepts "²" or "①", which a
    server can send (headers are Latin-1) and ``float`` refuses.
    """
    return value.isascii() and value.isdigit()


def retry_after(
    headers: Mapping[str, Any] | None, now: float | None = None
) -> float | None:
    """Return the seconds a response asks to wait before retrying, if it says.

    ``Retry-After`` in seconds or as an HTTP date, else the reset of a
    ``RateLimit`` header that has no request left.
    """
    value = (header(headers, "Retry-After") or "").strip()
    if is_seconds(value):
        return float(value)
    if value:
        try:
            when = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            when = None
        if when is not None:
            return max(when - (time.time() if now is None else now), 0.0)
    match = _RATELIMIT_RESET.search(header(headers, "RateLimit") or "")
    return float(match.group(1)) if match else None


BACKOFF_CAP = 30.0


@dataclass
class Budget:
    """A ``RetryBudget`` spent with a log line and a sleep for each wait.

    Unlike the Hub's transport, a backoff that does not fit in what is left
    of ``max_wait`` is not shortened: the call ends at once, since a shorter
    wait would only try a service that is failing sooner.
    """

    service: str
    retries: int
    max_wait: float
    log: Callable[[str], None]
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self._left = RetryBudget(0.0, self.max_wait, self.retries)

    @property
    def attempt(self) -> int:
        """Return how many retries were made so far."""
        return self._left.retried

    def wait(self, what: str, cause: str, seconds: float | None) -> None:
        """Wait before ``what`` is tried again; raise when the budget is spent.

        ``seconds`` is the server's hint (None: back off 1, 2, 4 ... s).
        """
        attempt = self._left.retried
        if seconds is None:
            seconds = min(2.0**attempt, BACKOFF_CAP)
        tries = f"{attempt + 1} attempt" + ("s" if attempt else "")
        left = self.max_wait - self._left.waited
        try:
            # Given as a hint, so that a wait that does not fit ends the call.
            seconds = self._left.next_wait(seconds)
        except OutOfRetries:
            if attempt >= self.retries:
                raise ServiceUnreadable(
                    f"{self.service}, {what}: {cause} (gave up after {tries}; "
                    f"retries: {self.retries})"
                ) from None
            raise ServiceUnreadable(
                f"{self.service}, {what}: {cause}; it asks to wait {seconds:.0f} s, "
                f"more than is left of max_wait ({left:g} of {self.max_wait:g} s)"
            ) from None
        self.log(
            f"{self.service}: {cause}; {what} again in {seconds:.0f} s "
            f"(retry {attempt + 1} of {self.retries})"
        )
        self.sleep(seconds)
