"""GitHub built-ins: the CI verdict of the pushed commit, reruns, pull requests.

Common arguments (``with:``): ``repo`` ("owner/name"; default: read from the
URL of the git remote ``remote``, default ``origin``), ``token_env`` (the
environment variable holding the token, default ``GITHUB_TOKEN``), ``base_url``
(default ``https://api.github.com``).

Every call is bounded: each request waits at most ``http_timeout`` seconds; a
429, a secondary rate limit (403 with ``Retry-After``), a 5xx, a timeout or a
refused connection is retried at most ``retries`` times, waiting what
``Retry-After`` (or the rate limit's reset) asks, else 1, 2, 4 ... s, and at
most ``max_wait`` seconds in all (see ``retry``).  What still fails raises
``ServiceUnreadable``: the step fails without a verdict, so ``on_failure``
(which describes a red CI) does not apply.

The commit judged is ``sha``, else the local head of ``branch``, else HEAD:
what ``git.push`` pushed, never the branch's head on GitHub, which a later
push by someone else may have moved.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from ..executor.hooks import HookContext
from . import IntegrationError, ServiceUnreadable, check_inside, require
from .github_checks import FAILED_CONCLUSIONS as FAILED
from .github_checks import CiReport, classify, judge, next_page
from .retry import Budget, header

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.github.com"
DEFAULT_HTTP_TIMEOUT = 30
DEFAULT_RETRIES = 3
DEFAULT_MAX_WAIT = 60.0
DEFAULT_INTERVAL = 10.0
DEFAULT_TIMEOUT = 30 * 60.0
# Right after a push GitHub has not created any check yet; "none" is only a
# verdict once it has lasted this long.
DEFAULT_NONE_TIMEOUT = 120.0
# A server whose Link headers never end must not keep a call going.
MAX_ITEMS = 3000
# Nor one that answers a page of one item at a time: a CI verdict reads at
# most this many pages of check runs and of statuses (3000 of each at 100 a
# page), each page a request within the call's bound.
MAX_PAGES = 30
# GitHub refuses bodies and comments over 65,536 characters.
MAX_BODY = 60_000
SUMMARY_MARK = "<!-- goap-engine run summary -->"

# Indirections so tests can observe waits without spending them.
_sleep: Callable[[float], None] = time.sleep
_now: Callable[[], float] = time.time


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
        raise ServiceUnreadable(
            f"{token_env} is not set: export a GitHub token with 'repo' and "
            "'actions' access (or set 'token_env' to the variable holding it)"
        )
    return github.Github(
        auth=github.Auth.Token(token),
        base_url=str(_arg(ctx, "base_url", DEFAULT_BASE_URL)).rstrip("/"),
        timeout=int(_arg(ctx, "http_timeout", DEFAULT_HTTP_TIMEOUT)),
        per_page=100,
        # Objects are fetched when read: a commit or a repository by name
        # costs no request of its own.
        lazy=True,
        # Retries are done here (``_call``), bounded and logged, not by a
        # silent sleep in the library.
        retry=None,
        # The calls here are few and serial; GitHub only asks for spacing
        # between content-creating requests.
        seconds_between_requests=None,
        seconds_between_writes=1.0,
    )


def call_bound(ctx: HookContext) -> float:
    """Return the most seconds one request of a call can take, retries included."""
    retries = int(_arg(ctx, "retries", DEFAULT_RETRIES))
    http_timeout = float(_arg(ctx, "http_timeout", DEFAULT_HTTP_TIMEOUT))
    return (retries + 1) * http_timeout + float(_arg(ctx, "max_wait", DEFAULT_MAX_WAIT))


def _call(ctx: HookContext, what: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` (GitHub requests) within the call's retries and waits."""
    github = require("github")
    budget = Budget(
        "GitHub",
        int(_arg(ctx, "retries", DEFAULT_RETRIES)),
        float(_arg(ctx, "max_wait", DEFAULT_MAX_WAIT)),
        ctx.log,
        sleep=lambda seconds: _sleep(seconds),
    )
    http_timeout = float(_arg(ctx, "http_timeout", DEFAULT_HTTP_TIMEOUT))
    while True:
        try:
            return fn()
        except IntegrationError:
            raise
        except Exception as exc:  # noqa: BLE001 - judged and explained below
            judged = judge(exc, github, http_timeout, _now())
            if not judged.retry:
                raise ServiceUnreadable(f"GitHub, {what}: {judged.cause}") from None
            budget.wait(what, judged.cause, judged.wait)


def _repo_name(ctx: HookContext) -> str:
    """Return ``repo``, else the ``owner/name`` of the ``remote``'s URL."""
    repo = _arg(ctx, "repo")
    if repo is None:
        return repo_of_remote(ctx, str(_arg(ctx, "remote", "origin")))
    if not _REPO.fullmatch(str(repo)):
        shown = _shorten(str(repo))
        raise IntegrationError(f"'repo' must be 'owner/name', found '{shown}'")
    return str(repo)


def _git(ctx: HookContext, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=ctx.workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        # The hook's environment (GIT_DIR and the like) on top of ours.
        env={**os.environ, **ctx.env},
    )


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
        done = _git(ctx, "remote", "get-url", "--", remote)
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


def _head_sha(ctx: HookContext) -> str:
    """Return the commit to judge: ``sha``, else the local head of ``branch``/HEAD."""
    sha = _arg(ctx, "sha")
    if sha:
        return str(sha)
    branch = _arg(ctx, "branch")
    # refs/heads/ keeps a branch name from being read as an option.
    ref = f"refs/heads/{branch}" if branch else "HEAD"
    try:
        done = _git(ctx, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise IntegrationError(
            f"cannot find the pushed commit: pass 'sha' ({exc})"
        ) from None
    if done.returncode != 0:
        what = f"branch '{branch}' has no local head" if branch else "no HEAD"
        raise IntegrationError(
            f"cannot find the pushed commit: {what} in {ctx.workdir} "
            f"({done.stderr.strip() or 'git rev-parse found nothing'}); "
            "pass 'sha', or run where the branch was pushed from"
        )
    return done.stdout.strip()


# -- CI verdict ------------------------------------------------------------


def _listing(commit: Any, path: str, key: str) -> tuple[dict[str, Any], list[Any]]:
    """Return the first page's answer and the ``key`` items of every page.

    A listing longer than ``MAX_PAGES`` pages gives no verdict: judging CI on
    part of it could call a commit green whose failing check is on a later page.
    """
    url: str | None = f"{commit.url}/{path}"
    params: dict[str, Any] | None = {"per_page": 100}
    first: dict[str, Any] | None = None
    items: list[Any] = []
    for _ in range(MAX_PAGES):
        headers, data = commit.requester.requestJsonAndCheck("GET", url, params)
        page = data.get(key) if isinstance(data, dict) else None
        if not isinstance(page, list) or not all(isinstance(i, dict) for i in page):
            raise ServiceUnreadable(
                f"GitHub answered GET {path} with no list of '{key}'"
            )
        first = data if first is None else first
        items.extend(page)
        url, params = (next_page(headers), None) if page else (None, None)
        if not url:
            return first, items
    raise ServiceUnreadable(
        f"GitHub: the {path} of {str(commit.sha)[:10]} go on beyond {MAX_PAGES} "
        f"pages ({len(items)} read): no verdict from part of them"
    )


def _check_runs(commit: Any) -> list[Any]:
    """Return every check run of ``commit`` (name, status and conclusion)."""
    from types import SimpleNamespace

    _, runs = _listing(commit, "check-runs", "check_runs")
    return [
        SimpleNamespace(
            name=run.get("name"),
            status=run.get("status"),
            conclusion=run.get("conclusion"),
        )
        for run in runs
    ]


def _statuses(commit: Any) -> tuple[str, list[dict[str, Any]], int]:
    """Return the combined state, every page of statuses, and their count."""
    first, statuses = _listing(commit, "status", "statuses")
    count = first.get("total_count")
    return (
        str(first.get("state", "pending")),
        statuses,
        count if isinstance(count, int) else len(statuses),
    )


def ci_report(ctx: HookContext) -> CiReport:
    """Return the CI verdict of the pushed commit with the checks behind it."""
    name = _repo_name(ctx)
    sha = _head_sha(ctx)
    gh = _client(ctx)

    def fetch() -> CiReport:
        commit = gh.get_repo(name).get_commit(sha)
        runs = _check_runs(commit)
        state, statuses, count = _statuses(commit)
        return classify(str(commit.sha), runs, state, statuses, count)

    try:
        return _call(ctx, f"reading CI of {name}@{sha[:10]}", fetch)
    finally:
        gh.close()


def ci_status(ctx: HookContext) -> str:
    """Sense the CI verdict: none, queued, running, passed or failed."""
    return ci_report(ctx).status


def wait_ci(ctx: HookContext) -> str:
    """Wait for the CI verdict of the pushed commit; fail unless it passes.

    Only a red CI (a failed check run or commit status) is a verdict; a CI
    that cannot be read, that reports no check, or that is still running at
    ``timeout`` raises ``ServiceUnreadable``.  Polls every ``interval`` s.
    """
    interval = float(_arg(ctx, "interval", DEFAULT_INTERVAL))
    # Ends before the action's own timeout kills the hook, which would read
    # as a failure: the last request may take the whole bound of a call.
    limit = DEFAULT_TIMEOUT
    if ctx.timeout:
        limit = max(min(limit, ctx.timeout - call_bound(ctx)), 0.0)
    timeout = float(_arg(ctx, "timeout", limit))
    none_timeout = float(_arg(ctx, "none_timeout", min(DEFAULT_NONE_TIMEOUT, timeout)))
    began = time.monotonic()
    last = ""
    while True:
        try:
            report = ci_report(ctx)
        except ServiceUnreadable:
            raise
        except IntegrationError as exc:
            # No commit or repository to look at: the CI was not read either.
            raise ServiceUnreadable(str(exc)) from None
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
            raise ServiceUnreadable(
                f"GitHub: {line} after {elapsed:.0f} s: no workflow ran for this "
                "commit (one that runs only on pull_request needs an open pull "
                "request)"
            )
        if elapsed >= timeout:
            raise ServiceUnreadable(
                f"GitHub: CI still {report.status} on {report.sha[:10]} after "
                f"{timeout:g} s: {', '.join(report.pending) or 'no checks'}"
            )
        _sleep(max(min(interval, timeout - elapsed), 0.0))


# -- actions ---------------------------------------------------------------


def rerun_failed(ctx: HookContext) -> int:
    """Rerun the failed jobs of the pushed commit's failed workflow runs.

    Only the failed jobs: a run GitHub refuses that for fails the step with
    GitHub's reason, rather than rerunning every job behind the caller's back.
    """
    name = _repo_name(ctx)
    sha = _head_sha(ctx)
    gh = _client(ctx)
    github = require("github")

    def rerun() -> int:
        repo = gh.get_repo(name)
        count = 0
        for run in islice(repo.get_workflow_runs(head_sha=sha), MAX_ITEMS):
            if run.status != "completed" or run.conclusion not in FAILED:
                continue
            try:
                run.requester.requestJsonAndCheck(
                    "POST", f"{run.url}/rerun-failed-jobs"
                )
            except github.GithubException as exc:
                scoped = header(exc.headers, "X-Accepted-OAuth-Scopes")
                if exc.status == 401 or scoped or judge(exc, github, 0, 0).retry:
                    raise  # the token, or a limit or an outage: not a refusal
                data = exc.data if isinstance(exc.data, dict) else {}
                raise IntegrationError(
                    f"GitHub refused to rerun the failed jobs of '{run.name}' "
                    f"(run {run.id}): {exc.status} "
                    f"{data.get('message') or exc.data}"
                ) from None
            ctx.log(f"rerunning failed jobs of '{run.name}' (run {run.id})")
            count += 1
        if not count:
            ctx.log(f"no failed workflow run on {sha[:10]}")
        return count

    try:
        return _call(ctx, f"rerunning failed workflows of {name}@{sha[:10]}", rerun)
    finally:
        gh.close()


def _names(value: Any) -> list[str]:
    """Return a list argument's items; a string is comma-separated."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [str(item).strip() for item in items if str(item).strip()]


def _read(ctx: HookContext, name: str, what: str) -> str:
    path = ctx.workdir / name
    check_inside(ctx, path, what, "files are read")
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read(MAX_BODY + 1)
    except OSError as exc:
        raise IntegrationError(f"cannot read {what} {name}: {exc.strerror}") from None


def _text(ctx: HookContext, template: str) -> str:
    """Return the text to post: ``body``/``body_file``/rendered goal + ``include``."""
    from ..errors import InputError
    from ..loader import load
    from ..progress import render_document

    body_file, goal = _arg(ctx, "body_file"), _arg(ctx, "goal")
    if body_file:
        text = _read(ctx, str(body_file), "body_file")
    elif goal:
        source = _arg(ctx, "template")
        chosen: str | Path = ctx.workdir / str(source) if source else template
        try:
            text = render_document(load(ctx.workdir / str(goal)), chosen)
        except InputError as exc:
            raise IntegrationError(f"cannot render {goal}: {exc}") from None
    else:
        text = str(_arg(ctx, "body", ""))
    for name in _names(_arg(ctx, "include", [])):
        fence = "json" if name.endswith(".json") else ""
        if (ctx.workdir / name).is_file():
            content = _read(ctx, name, "include")
            text += f"\n\n### {name}\n\n```{fence}\n{content.rstrip()}\n```\n"
        else:
            text += f"\n\n### {name}\n\nnot written yet\n"
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY] + "\n\n(cut: GitHub takes at most 65,536 characters)\n"
    return text


def _head_branch(ctx: HookContext) -> str:
    head = _arg(ctx, "head") or _arg(ctx, "branch")
    if head:
        return str(head)
    done = _git(ctx, "symbolic-ref", "--quiet", "--short", "HEAD")
    if done.returncode != 0 or not done.stdout.strip():
        raise IntegrationError(
            "no 'head' or 'branch' given and HEAD is no branch: name the branch"
        )
    return done.stdout.strip()


def _find_pull(repo: Any, owner: str, head: str, base: str) -> Any:
    # GitHub filters pull requests by "owner:branch".
    qualified = head if ":" in head else f"{owner}:{head}"
    for pull in repo.get_pulls(state="open", head=qualified, base=base):
        return pull
    return None


def open_pull_request(ctx: HookContext) -> int:
    """Open the pull request of a branch, or update the open one; return its number.

    The body is ``body``, ``body_file``, or the progress of ``goal`` (the plan,
    its steps and the state), followed by the ``include`` files (a gate
    report); ``labels`` are added.
    """
    name = _repo_name(ctx)
    head = _head_branch(ctx)
    base = str(_arg(ctx, "base", "main"))
    title = str(_arg(ctx, "title", head))
    labels = _names(_arg(ctx, "labels", []))
    body = _text(ctx, "pull_request.md.j2")
    gh = _client(ctx)

    def open_or_update() -> int:
        repo = gh.get_repo(name)
        pull = _find_pull(repo, name.split("/")[0], head, base)
        if pull is None:
            pull = repo.create_pull(base=base, head=head, title=title, body=body)
            ctx.log(f"opened pull request #{pull.number}: {pull.html_url}")
        elif pull.title != title or (pull.body or "") != body:
            pull.edit(title=title, body=body)
            ctx.log(f"updated pull request #{pull.number}: {pull.html_url}")
        else:
            ctx.log(f"pull request #{pull.number} is open and up to date")
        if labels:
            pull.as_issue().add_to_labels(*labels)
            ctx.log(f"labels: {', '.join(labels)}")
        return int(pull.number)

    try:
        return _call(ctx, f"opening a pull request {head} -> {base}", open_or_update)
    finally:
        gh.close()


def comment(ctx: HookContext) -> int:
    """Post the run summary on the open pull request of a branch; return its id.

    The comment the engine posted before is edited instead of adding another,
    so a pull request carries one summary, the latest.
    """
    name = _repo_name(ctx)
    head = _head_branch(ctx)
    base = str(_arg(ctx, "base", "main"))
    text = f"{SUMMARY_MARK}\n{_text(ctx, 'run_summary.md.j2')}"
    gh = _client(ctx)

    def post() -> int:
        repo = gh.get_repo(name)
        pull = _find_pull(repo, name.split("/")[0], head, base)
        if pull is None:
            raise IntegrationError(
                f"no open pull request for {head} -> {base} in {name} to comment on"
            )
        issue = pull.as_issue()
        for old in islice(issue.get_comments(), MAX_ITEMS):
            if (old.body or "").startswith(SUMMARY_MARK):
                old.edit(text)
                ctx.log(f"updated the run summary on #{pull.number}")
                return int(old.id)
        new = issue.create_comment(text)
        ctx.log(f"commented the run summary on #{pull.number}: {new.html_url}")
        return int(new.id)

    try:
        return _call(ctx, f"commenting on the pull request of {head}", post)
    finally:
        gh.close()
