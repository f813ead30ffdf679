"""GitHub built-ins: the CI verdict of the pushed head, reruns, pull requests.

Common arguments (``with:``): ``repo`` ("owner/name"; default: read from the
URL of the git remote ``remote``, default ``origin``), ``token_env`` (the
environment variable holding the token, default ``GITHUB_TOKEN``), ``base_url``
(default ``https://api.github.com``), and ``sha`` or ``branch`` naming the
pushed head (default: ``git rev-parse HEAD`` in the working directory).

Rate limits are never waited out silently: a limited request is logged with the
wait, retried once the limit resets, and refused when the reset is further away
than ``max_wait`` seconds.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..executor.hooks import HookContext
from . import IntegrationError, require

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.github.com"
DEFAULT_MAX_WAIT = 60.0
DEFAULT_INTERVAL = 10.0
DEFAULT_TIMEOUT = 30 * 60.0
# Right after a push GitHub has not created any check yet; "none" is only a
# verdict once it has lasted this long.
DEFAULT_NONE_TIMEOUT = 120.0
RATE_LIMIT_RETRIES = 3

FAILED_CONCLUSIONS = frozenset(
    {"failure", "cancelled", "timed_out", "action_required", "startup_failure", "stale"}
)
IGNORED_CONCLUSIONS = frozenset({"neutral", "skipped"})
FAILED_STATES = frozenset({"failure", "error"})

# Indirections so tests can observe waits without spending them.
_sleep: Callable[[float], None] = time.sleep
_now: Callable[[], float] = time.time


class TransientError(IntegrationError):
    """GitHub was unreachable or answered 5xx: worth asking again later."""


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


# -- connection ------------------------------------------------------------


def _arg(ctx: HookContext, name: str, default: Any = None) -> Any:
    """Return an argument; an empty string (an unset template var) is unset."""
    value = ctx.args.get(name)
    return default if value is None or value == "" else value


def _client(ctx: HookContext) -> Any:
    github = require("github")
    token_env = str(_arg(ctx, "token_env", "GITHUB_TOKEN"))
    token = ctx.env.get(token_env)
    if not token:
        raise IntegrationError(
            f"{token_env} is not set: export a GitHub token with 'repo' and "
            "'actions' access (or set 'token_env' to the variable holding it)"
        )
    return github.Github(
        auth=github.Auth.Token(token),
        base_url=str(_arg(ctx, "base_url", DEFAULT_BASE_URL)).rstrip("/"),
        timeout=int(_arg(ctx, "http_timeout", 30)),
        per_page=100,
        # Rate limits are handled here, visibly, instead of by a silent sleep.
        retry=None,
        # The calls here are few and serial; GitHub only asks for spacing
        # between content-creating requests.
        seconds_between_requests=None,
        seconds_between_writes=1.0,
    )


def _repo_name(ctx: HookContext) -> str:
    """Return ``repo``, else the ``owner/name`` of the ``remote``'s URL."""
    repo = _arg(ctx, "repo")
    if repo is None:
        return repo_of_remote(ctx, str(_arg(ctx, "remote", "origin")))
    if not _REPO.fullmatch(str(repo)):
        shown = _shorten(str(repo))
        raise IntegrationError(f"'repo' must be 'owner/name', found '{shown}'")
    return str(repo)


# scp-like "git@host:owner/name.git" (a host, then a colon, no slash before it)
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?[^/:]+:(?!//)")
# GitHub's own rule for owner and repository names; it also keeps "." and ".."
# (which would walk the API's path elsewhere) out of the request.
_PART = r"(?!\.\.?(?:/|$))[A-Za-z0-9_.-]+"
_REPO = re.compile(f"{_PART}/{_PART}")
_SHOWN_CHARS = 200


def _url_repo(url: str) -> str | None:
    """Return ``owner/name`` of a remote URL with a host, or None (a local path)."""
    if "::" in url.partition("/")[0]:
        return None  # "transport::address" runs a remote helper: no host of ours
    if "://" in url:
        from urllib.parse import urlsplit

        try:
            split = urlsplit(url)
            host = split.hostname
        except ValueError:  # e.g. an unclosed "[" of an IPv6 host
            return None
        if split.scheme == "file" or not host:
            return None
        path = split.path
    elif match := _SCP_LIKE.match(url):
        path = url[match.end() :]
    else:
        return None
    parts = [p for p in path.removesuffix("/").removesuffix(".git").split("/") if p]
    repo = "/".join(parts[-2:])
    return repo if _REPO.fullmatch(repo) else None


def _shorten(text: str) -> str:
    """Return ``text`` cut to a length a message can carry."""
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"{text[:_SHOWN_CHARS]}... ({len(text)} characters)"


def _shown_url(url: str) -> str:
    """Return a remote URL fit to print: no user, password, query or fragment.

    A URL may carry a token ("https://user:token@host/...", "?access_token=");
    the password may itself hold "@", so everything up to the authority's last
    "@" goes.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        match = _SCP_LIKE.match(url)
        if match is None:
            return _shorten(url)
        host = url[: match.end()].rpartition("@")[2]
        return _shorten(host + url[match.end() :])
    authority, slash, path = rest.partition("/")
    host = authority.rpartition("@")[2]
    path = re.split(r"[?#]", path, maxsplit=1)[0]
    return _shorten(f"{scheme}://{host}{slash}{path}")


def repo_of_remote(ctx: HookContext, remote: str) -> str:
    """Return ``owner/name`` from the URL of the git remote called ``remote``.

    As ``gh`` does: a project's CI is that of the repository it pushes to,
    so a shared pack needs no repository name written into it.
    """
    try:
        done = subprocess.run(
            ["git", "remote", "get-url", "--", remote],
            cwd=ctx.workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, **ctx.env},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        message = f"no 'repo' given and no git remote to read: {exc}"
        raise IntegrationError(message) from None
    url = done.stdout.strip()
    repo = _url_repo(url) if done.returncode == 0 else None
    if repo is None:
        stderr = _shorten(done.stderr.strip())
        found = f"its URL is '{_shown_url(url)}'" if url else stderr or "none"
        raise IntegrationError(
            f"no 'repo' given and the git remote '{remote}' names no "
            f"owner/name repository ({found}): set 'repo' as 'owner/name'"
        )
    return repo


def _head_ref(ctx: HookContext) -> str:
    """Return the commit to look at: ``sha``, ``branch``, or the local HEAD."""
    ref = _arg(ctx, "sha") or _arg(ctx, "branch")
    if ref:
        return str(ref)
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=ctx.workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            # The hook's environment (GIT_DIR and the like) on top of ours.
            env={**os.environ, **ctx.env},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise IntegrationError(
            f"cannot find the head commit: pass 'sha' or 'branch' ({exc})"
        ) from None
    if done.returncode != 0:
        raise IntegrationError(
            "cannot find the head commit: pass 'sha' or 'branch' "
            f"(git rev-parse HEAD: {done.stderr.strip() or done.returncode})"
        )
    return done.stdout.strip()


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _rate_limit_wait(exc: Exception) -> float | None:
    """Return the seconds to wait if ``exc`` is a rate-limit refusal, else None."""
    github = require("github")
    if not isinstance(exc, github.GithubException):
        return None
    headers = exc.headers
    limited = isinstance(exc, github.RateLimitExceededException) or (
        exc.status in (403, 429)
        and (
            _header(headers, "X-RateLimit-Remaining") == "0"
            or _header(headers, "Retry-After") is not None
        )
    )
    if not limited:
        return None
    retry_after = _header(headers, "Retry-After")
    if retry_after and retry_after.isdigit():
        return float(retry_after)
    reset = _header(headers, "X-RateLimit-Reset")
    if reset and reset.isdigit():
        # The reset is a whole second; one more avoids retrying just before it.
        return max(float(reset) - _now(), 0.0) + 1.0
    # A secondary limit without a hint: GitHub asks for at least a minute.
    return 60.0


def _call(ctx: HookContext, what: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` (GitHub requests), waiting out rate limits and explaining errors."""
    github = require("github")
    max_wait = float(_arg(ctx, "max_wait", DEFAULT_MAX_WAIT))
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        try:
            return fn()
        except IntegrationError:
            raise
        except Exception as exc:
            wait = _rate_limit_wait(exc)
            if wait is None:
                transient = not isinstance(exc, github.GithubException) or (
                    exc.status >= 500
                )
                error = TransientError if transient else IntegrationError
                raise error(_explain(what, exc, github)) from None
            if wait > max_wait:
                raise IntegrationError(
                    f"GitHub rate limit exceeded while {what}; it resets in "
                    f"{wait:.0f} s, more than max_wait ({max_wait:g} s)"
                ) from None
            if attempt == RATE_LIMIT_RETRIES:
                break
            ctx.log(f"rate limited, waiting {wait:.0f} s")
            _sleep(wait)
    raise IntegrationError(
        f"GitHub rate limit still exceeded while {what} after "
        f"{RATE_LIMIT_RETRIES} waits"
    )


def _explain(what: str, exc: Exception, github: Any) -> str:
    if isinstance(exc, github.BadCredentialsException):
        return f"GitHub refused the token while {what} (bad credentials)"
    if isinstance(exc, github.UnknownObjectException):
        return f"not found on GitHub while {what} (wrong repo or ref, or no access)"
    if isinstance(exc, github.GithubException):
        data = exc.data if isinstance(exc.data, dict) else {}
        message = data.get("message") or exc.data
        return f"GitHub error {exc.status} while {what}: {message}"
    return f"cannot reach GitHub while {what}: {type(exc).__name__}: {exc}"


# -- CI verdict ------------------------------------------------------------


def _classify(check_runs: list[Any], combined: Any) -> tuple[str, CiReport]:
    """Combine check runs and commit statuses into one verdict."""
    report = CiReport(sha="", status="none")
    started = False
    running = False
    for run in check_runs:
        name = str(run.name)
        if run.status != "completed":
            report.pending.append(name)
            if run.status == "in_progress":
                running = True
            continue
        started = True
        conclusion = run.conclusion or ""
        if conclusion in FAILED_CONCLUSIONS:
            report.failing.append(f"{name} ({conclusion})")
        elif conclusion not in IGNORED_CONCLUSIONS:
            report.passed.append(name)
    # A combined status without any status reads "pending": only the listed
    # statuses say something.
    for status in combined.statuses if combined.total_count else []:
        name = str(status.context)
        if status.state in FAILED_STATES:
            report.failing.append(f"{name} ({status.state})")
            started = True
        elif status.state == "pending":
            report.pending.append(name)
        else:
            report.passed.append(name)
            started = True
    if report.failing:
        verdict = "failed"
    elif report.pending:
        verdict = "running" if running or started else "queued"
    elif report.passed or check_runs or combined.total_count:
        verdict = "passed"
    else:
        verdict = "none"
    return verdict, report


def ci_report(ctx: HookContext) -> CiReport:
    """Return the CI verdict of the head commit with the checks behind it."""
    gh = _client(ctx)
    name = _repo_name(ctx)
    ref = _head_ref(ctx)

    def fetch() -> CiReport:
        commit = gh.get_repo(name).get_commit(ref)
        runs = list(commit.get_check_runs())
        combined = commit.get_combined_status()
        verdict, report = _classify(runs, combined)
        report.sha = str(commit.sha)
        report.status = verdict
        return report

    try:
        return _call(ctx, f"reading CI of {name}@{ref[:12]}", fetch)
    finally:
        gh.close()


def ci_status(ctx: HookContext) -> str:
    """Sense the CI verdict: none, queued, running, passed or failed."""
    return ci_report(ctx).status


def wait_ci(ctx: HookContext) -> str:
    """Wait for the CI verdict of the head commit; fail unless it passes.

    Polls every ``interval`` seconds (default 10) for up to ``timeout`` seconds
    (default 30 minutes, or the action's timeout).
    """
    interval = float(_arg(ctx, "interval", DEFAULT_INTERVAL))
    timeout = float(_arg(ctx, "timeout", ctx.timeout or DEFAULT_TIMEOUT))
    none_timeout = float(_arg(ctx, "none_timeout", min(DEFAULT_NONE_TIMEOUT, timeout)))
    began = time.monotonic()
    last = ""
    while True:
        try:
            report = ci_report(ctx)
        except TransientError as exc:
            # One bad answer in a long wait is not a CI verdict.
            elapsed = time.monotonic() - began
            if elapsed >= timeout:
                raise
            ctx.log(f"{exc}; asking again in {interval:g} s")
            _sleep(max(min(interval, timeout - elapsed), 0.0))
            continue
        elapsed = time.monotonic() - began
        line = report.describe()
        if line != last:
            ctx.log(line)
            last = line
        if report.status == "passed":
            return line
        if report.status == "failed":
            raise IntegrationError(line)
        if report.status == "none" and elapsed >= none_timeout:
            raise IntegrationError(f"{line} after {elapsed:.0f} s")
        if elapsed >= timeout:
            raise IntegrationError(
                f"CI still {report.status} on {report.sha[:10]} after "
                f"{timeout:g} s: {', '.join(report.pending) or 'no checks'}"
            )
        _sleep(max(min(interval, timeout - elapsed), 0.0))


# -- actions ---------------------------------------------------------------


def rerun_failed(ctx: HookContext) -> int:
    """Rerun the failed workflow runs of the head commit; return how many."""
    gh = _client(ctx)
    name = _repo_name(ctx)
    ref = _head_ref(ctx)

    def rerun() -> int:
        repo = gh.get_repo(name)
        sha = str(repo.get_commit(ref).sha)
        count = 0
        for run in repo.get_workflow_runs(head_sha=sha):
            if run.status != "completed" or run.conclusion not in FAILED_CONCLUSIONS:
                continue
            # Rerunning only the failed jobs keeps the passed ones; a run
            # without job-level retry (e.g. a startup failure) reruns whole.
            accepted = run.rerun_failed_jobs() or run.rerun()
            if not accepted:
                raise IntegrationError(
                    f"GitHub did not accept a rerun of workflow run {run.id}"
                )
            ctx.log(f"rerunning failed jobs of '{run.name}' (run {run.id})")
            count += 1
        if not count:
            ctx.log(f"no failed workflow run on {sha[:10]}")
        return count

    try:
        return _call(ctx, f"rerunning failed workflows of {name}@{ref[:12]}", rerun)
    finally:
        gh.close()


def open_pull_request(ctx: HookContext) -> int:
    """Open a pull request for ``head`` into ``base``; reuse an open one.

    Arguments: ``head`` (branch, default the ``branch`` argument), ``base``
    (default ``main``), ``title``, ``body``.  Returns the pull request number.
    """
    gh = _client(ctx)
    name = _repo_name(ctx)
    head = _arg(ctx, "head") or _arg(ctx, "branch")
    if not head:
        raise IntegrationError("open_pull_request needs 'head': the branch to merge")
    head = str(head)
    base = str(_arg(ctx, "base", "main"))
    title = str(_arg(ctx, "title", head))
    body = str(_arg(ctx, "body", ""))
    # GitHub filters pull requests by "owner:branch".
    qualified = head if ":" in head else f"{name.split('/')[0]}:{head}"

    def open_or_reuse() -> int:
        repo = gh.get_repo(name)
        for pull in repo.get_pulls(state="open", head=qualified, base=base):
            ctx.log(f"pull request #{pull.number} is already open for {head}")
            return int(pull.number)
        pull = repo.create_pull(base=base, head=head, title=title, body=body)
        ctx.log(f"opened pull request #{pull.number}: {pull.html_url}")
        return int(pull.number)

    try:
        return _call(ctx, f"opening a pull request {head} -> {base}", open_or_reuse)
    finally:
        gh.close()
