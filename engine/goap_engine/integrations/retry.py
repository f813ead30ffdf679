"""Bounded retries for service calls: when to try again, how long to wait.

A request refused with 429 or a 5xx, or lost on the network, is tried again
at most ``retries`` times per built-in call (not per request: a service that
keeps failing stops the step after that many retries in all).  Each wait is
the service's ``Retry-After`` (seconds or an HTTP date) or ``RateLimit``
reset when it gives one, else 1 s, 2 s, 4 s...; the waits of one call add up
to at most ``max_wait``, and a service asking for more fails the step at once.
So a failing service costs at most ``(retries + 1) × http_timeout + max_wait``
seconds, the bound each built-in documents.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

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


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Return the seconds a response asks to wait before retrying, if it says.

    ``headers`` must be case-insensitive (as httpx's are).
    """
    value = (headers.get("retry-after") or "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            when = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(when - (time.time() if now is None else now), 0.0)
    match = _RATELIMIT_RESET.search(headers.get("ratelimit") or "")
    return float(match.group(1)) if match else None


def sleep(seconds: float) -> None:
    """Wait ``seconds`` (a function of its own so that tests can count waits)."""
    time.sleep(seconds)
