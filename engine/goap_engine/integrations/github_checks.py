"""What GitHub's answers mean: CI verdicts, pagination and failed requests.

Pure functions over PyGithub's objects and exceptions; ``github`` does the
calling.  Kept apart so each stays small and these can be tested on data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .retry import header, is_seconds, retry_after

FAILED_CONCLUSIONS = frozenset(
    {"failure", "cancelled", "timed_out", "action_required", "startup_failure", "stale"}
)
IGNORED_CONCLUSIONS = frozenset({"neutral", "skipped"})
FAILED_STATES = frozenset({"failure", "error"})
# GitHub asks for at least a minute after a secondary limit without a hint.
SECONDARY_WAIT = 60.0


@dataclass
class CiReport:
    """The CI verdict of one commit and the checks behind it."""

    sha: str
    status: str
    failing: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """Return a one-line summary naming the failing or pending checks."""
        short = self.sha[:10]
        if self.status == "failed":
            return f"CI failed on {short}: {', '.join(self.failing)}"
        if self.status in ("queued", "running"):
            return f"CI {self.status} on {short}: waiting for {', '.join(self.pending)}"
        if self.status == "passed":
            return f"CI passed on {short} ({len(self.passed)} checks)"
        return f"no CI checks reported for {short}"


def classify(
    sha: str,
    check_runs: Iterable[Any],
    combined_state: str,
    statuses: Sequence[Mapping[str, Any]],
    status_count: int,
) -> CiReport:
    """Combine check runs and commit statuses (every page) into one verdict.

    ``combined_state`` is GitHub's own reduction of the statuses; it is
    respected even when a status it counts was not listed.
    """
    report = CiReport(sha=sha, status="none")
    started = running = False
    runs = list(check_runs)
    for run in runs:
        name = str(run.name)
        if run.status != "completed":
            report.pending.append(name)
            running = running or run.status == "in_progress"
            continue
        started = True
        conclusion = run.conclusion or ""
        if conclusion in FAILED_CONCLUSIONS:
            report.failing.append(f"{name} ({conclusion})")
        elif conclusion not in IGNORED_CONCLUSIONS:
            report.passed.append(name)
    bad = pending = False
    for status in statuses:
        name, state = str(status.get("context")), str(status.get("state"))
        if state in FAILED_STATES:
            report.failing.append(f"{name} ({state})")
            bad = started = True
        elif state == "pending":
            report.pending.append(name)
            pending = True
        else:
            report.passed.append(name)
            started = True
    # A commit without any status reads "pending": only counted ones speak.
    if status_count and combined_state in FAILED_STATES and not bad:
        report.failing.append(f"commit statuses (combined state {combined_state})")
    if status_count and combined_state == "pending" and not pending:
        report.pending.append("commit statuses (combined state pending)")
    if report.failing:
        report.status = "failed"
    elif report.pending:
        report.status = "running" if running or started else "queued"
    elif report.passed or runs or status_count:
        report.status = "passed"
    return report


_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def next_page(headers: Mapping[str, Any] | None) -> str | None:
    """Return the URL of the next page from a ``Link`` header, or None."""
    link = header(headers, "Link")
    match = _NEXT.search(link) if link else None
    return match.group(1) if match else None


def judge(exc: Exception, github: Any, http_timeout: float, now: float) -> Judged:
    """Say whether a failed request is worth another attempt, when, and why."""
    if isinstance(exc, github.GithubException):
        return _judge_status(exc, now)
    name = type(exc).__name__
    if "Timeout" in name:
        return Judged(True, None, f"no answer within http_timeout ({http_timeout:g} s)")
    if "ConnectionError" in name or isinstance(exc, ConnectionError | OSError):
        errno = re.search(r"\[Errno -?\d+\] [^'\")\]]+", str(exc))
        why = errno.group(0).strip() if errno else name
        return Judged(True, None, f"cannot connect ({why})")
    return Judged(False, None, f"{name}: {exc}")


@dataclass(frozen=True)
class Judged:
    """A failed request: retry it?, after how long (None: back off), and why."""

    retry: bool
    wait: float | None
    cause: str


def _judge_status(exc: Any, now: float) -> Judged:
    status = int(exc.status)
    headers = exc.headers
    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message") or exc.data or "").strip()[:300]
    hint = retry_after(headers, now)
    reset = header(headers, "X-RateLimit-Reset")
    if hint is None and reset and is_seconds(reset):
        # The reset is a whole second; one more avoids asking just before it.
        hint = max(float(reset) - now, 0.0) + 1.0
    exhausted = header(headers, "X-RateLimit-Remaining") == "0"
    secondary = "secondary rate limit" in message.lower()
    if status == 429 or (status == 403 and (exhausted or secondary or hint)):
        kind = "secondary rate limit" if secondary else "rate limit exceeded"
        if hint is None and secondary:
            hint = SECONDARY_WAIT
        return Judged(True, hint, f"{status} {kind}")
    if status >= 500:
        return Judged(True, hint, f"{status} server error: {message or 'no message'}")
    if status == 401:
        return Judged(False, None, "401 bad credentials: the token is wrong or expired")
    if status == 403:
        has = header(headers, "X-OAuth-Scopes")
        wants = header(headers, "X-Accepted-OAuth-Scopes")
        scopes = ""
        if wants:
            scopes = f" (the token's scopes: '{has or ''}'; this call needs: '{wants}')"
        return Judged(False, None, f"403 forbidden: {message}{scopes}")
    if status == 404:
        return Judged(
            False,
            None,
            "404 not found: a wrong repository or commit, or a token that "
            "cannot see them",
        )
    return Judged(False, None, f"{status} {message}")
