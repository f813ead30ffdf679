"""Each GitHub built-in the packs use, against GitHub failing as it does in life.

Silent, down, 401, 403, 429 (with and without ``Retry-After``), secondary
limits and 5xx: every call ends within its documented bound -- at most
``retries + 1`` attempts, at most ``max_wait`` seconds of waiting, each
request at most ``http_timeout`` -- and fails without a verdict, naming
GitHub, the call and the cause.  Waits are recorded, not spent; only the
silent server costs real seconds (one ``http_timeout`` per attempt).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import Response, hook_context, serving
from fakes.github_server import FakeGitHub
from fakes.sockets import accepted, down_url, silent_url

from goap_engine.executor.context import NoVerdict
from goap_engine.integrations import ServiceUnreadable
from goap_engine.integrations import github as gh

pytest.importorskip("github")

TOKEN = "gh-test-token"

# built-in -> (its extra arguments, the call its messages name)
BUILTINS: dict[str, tuple[dict[str, Any], str]] = {
    "ci_status": ({}, "reading CI of acme/widget@"),
    "wait_ci": ({"interval": 0}, "reading CI of acme/widget@"),
    "rerun_failed": ({}, "rerunning failed workflows of acme/widget@"),
    "open_pull_request": ({"branch": "feature"}, "opening a pull request feature"),
    "comment": ({"branch": "feature", "body": "x"}, "commenting on the pull request"),
}


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    with serving(FakeGitHub(token=TOKEN)) as fake:
        # The pull request exists, so that commenting reaches its own calls.
        fake.pulls.append(
            {
                "number": 1,
                "state": "open",
                "title": "feature",
                "body": "",
                "head": {"ref": "feature", "label": "acme:feature", "sha": fake.head()},
                "base": {"ref": "main", "label": "acme:main"},
                "labels": [],
            }
        )
        yield fake


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr(gh, "_sleep", waited.append)
    return waited


def call(name: str, tmp_path: Path, base_url: str, sha: str, **args: Any) -> Any:
    extra, _ = BUILTINS[name]
    full = {"repo": "acme/widget", "base_url": base_url, "sha": sha, **extra, **args}
    token = full.pop("token", TOKEN)
    return getattr(gh, name)(hook_context(tmp_path, full, {"GITHUB_TOKEN": token}))


def fails(name: str, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ServiceUnreadable) as info:
        call(name, *args, **kwargs)
    # No verdict: the action's on_failure (a red CI) must not apply.
    assert isinstance(info.value, NoVerdict)
    message = str(info.value)
    assert message.startswith(f"GitHub, {BUILTINS[name][1]}")
    return message


# Each waits out its http_timeout twice (2 s a case): run by make test-all.
@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTINS)
def test_a_silent_github_fails_after_retries_plus_one_timeouts(
    name: str, tmp_path: Path, sleeps: list[float]
) -> None:
    with silent_url() as (url, sock):
        message = fails(name, tmp_path, url, "a" * 40, http_timeout=1, retries=1)
        assert accepted(sock) == 2
    assert message.endswith(
        "no answer within http_timeout (1 s) (gave up after 2 attempts; retries: 1)"
    )
    assert sleeps == [1.0]


@pytest.mark.parametrize("name", BUILTINS)
def test_a_github_that_is_down_fails_after_backing_off(
    name: str, tmp_path: Path, sleeps: list[float]
) -> None:
    message = fails(name, tmp_path, down_url(), "a" * 40, retries=2)
    assert "cannot connect ([Errno 111] Connection refused)" in message
    assert message.endswith("(gave up after 3 attempts; retries: 2)")
    assert sleeps == [1.0, 2.0]


@pytest.mark.parametrize("name", BUILTINS)
def test_a_bad_token_fails_at_once(
    name: str, server: FakeGitHub, tmp_path: Path, sleeps: list[float]
) -> None:
    message = fails(name, tmp_path, server.url, server.head(), token="wrong")
    assert message.endswith("401 bad credentials: the token is wrong or expired")
    assert "wrong" not in message.split(":", 1)[0]
    assert sleeps == []
    assert len(server.requests) == 1


@pytest.mark.parametrize("name", BUILTINS)
def test_a_missing_scope_fails_at_once_naming_it(
    name: str, server: FakeGitHub, tmp_path: Path, sleeps: list[float]
) -> None:
    server.scopes = ("read:org",)
    message = fails(name, tmp_path, server.url, server.head())
    assert message.endswith(
        "403 forbidden: Resource not accessible by personal access token "
        "(the token's scopes: 'read:org'; this call needs: 'repo')"
    )
    assert sleeps == []


@pytest.mark.parametrize("name", BUILTINS)
def test_a_429_without_headers_backs_off_within_max_wait(
    name: str, server: FakeGitHub, tmp_path: Path, sleeps: list[float]
) -> None:
    server.fail_next(Response(429, {"message": "Too Many Requests"}), times=10)
    message = fails(name, tmp_path, server.url, server.head())
    assert message.endswith(
        "429 rate limit exceeded (gave up after 4 attempts; retries: 3)"
    )
    assert sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize("name", BUILTINS)
def test_retry_after_is_honoured_and_capped_by_max_wait(
    name: str, server: FakeGitHub, tmp_path: Path, sleeps: list[float]
) -> None:
    limited = Response(429, {"message": "slow down"}, {"Retry-After": "20"})
    server.fail_next(limited, times=10)
    message = fails(name, tmp_path, server.url, server.head(), max_wait=50)
    assert message.endswith(
        "429 rate limit exceeded; it asks to wait 20 s, more than is left of "
        "max_wait (10 of 50 s)"
    )
    assert sleeps == [20.0, 20.0]


@pytest.mark.parametrize("name", BUILTINS)
def test_a_secondary_rate_limit_waits_its_retry_after(
    name: str, server: FakeGitHub, tmp_path: Path, sleeps: list[float]
) -> None:
    secondary = Response(
        403,
        {"message": "You have exceeded a secondary rate limit. Please wait."},
        {"Retry-After": "3"},
    )
    server.fail_next(secondary, times=10)
    message = fails(name, tmp_path, server.url, server.head(), retries=2)
    assert message.endswith(
        "403 secondary rate limit (gave up after 3 attempts; retries: 2)"
    )
    assert sleeps == [3.0, 3.0]


@pytest.mark.parametrize("name", BUILTINS)
def test_a_5xx_is_retried_then_fails(
    name: str, server: FakeGitHub, tmp_path: Path, sleeps: list[float]
) -> None:
    server.fail_next(Response(502, {"message": "Server Error"}), times=10)
    message = fails(name, tmp_path, server.url, server.head(), retries=1)
    assert message.endswith(
        "502 server error: Server Error (gave up after 2 attempts; retries: 1)"
    )
    assert sleeps == [1.0]


def test_a_passing_blip_and_a_slow_answer_are_retried_to_success(
    server: FakeGitHub, tmp_path: Path, sleeps: list[float]
) -> None:
    server.fail_next(Response(503, {"message": "unavailable"}), times=1)
    assert call("ci_status", tmp_path, server.url, server.head()) == "queued"
    assert sleeps == [1.0]
    server.slow_next(2.5)
    ctx = hook_context(
        tmp_path,
        {"repo": "acme/widget", "base_url": server.url, "sha": server.head()},
        {"GITHUB_TOKEN": TOKEN},
    )
    ctx.args = {**ctx.args, "http_timeout": 1}
    # The slow answer was read by the fake all the same (its CI moved on to
    # "running"), as a real server finishes a request its client gave up on.
    assert gh.ci_status(ctx) == "failed"
    assert ctx.lines == [
        f"GitHub: no answer within http_timeout (1 s); reading CI of "
        f"acme/widget@{server.head()[:10]} again in 1 s (retry 1 of 3)"
    ]
    assert sleeps == [1.0, 1.0]
