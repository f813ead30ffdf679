"""Services that answer the way an attacker (or a broken proxy) would.

A ``Retry-After`` of Unicode digits, an LFS batch answer sending the verify
request to another host, redirects to another host: each must fail the step
with a message, or succeed, without the token reaching anyone but the
service it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeServer, Request, Response, hook_context, serving
from fakes.github_server import FakeGitHub
from fakes.hf_server import FakeHub

from goap_engine.executor.context import NoVerdict
from goap_engine.integrations import (
    IntegrationError,
    ServiceUnreadable,
    huggingface_http,
)
from goap_engine.integrations import github as gh
from goap_engine.integrations import huggingface as hf
from goap_engine.integrations.retry import retry_after

TOKEN = "hf-test-token"
REPO = "acme/tiny-model"


class Elsewhere(FakeServer):
    """Another host: answers every request with 200 and records it."""

    def handle(self, request: Request) -> Response:
        return Response(200, {})


class Redirecting(FakeServer):
    """A service that sends every request on to ``target`` with a 307."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def handle(self, request: Request) -> Response:
        return Response(307, {}, {"Location": f"{self.target}{request.path}"})


class VerifyElsewhere(FakeHub):
    """A Hub whose LFS batch answer sends the verify request to ``other``."""

    other = ""

    def _lfs(self, request: Request, path: str, auth: str) -> Response:
        answer = super()._lfs(request, path, auth)
        for entry in answer.body.get("objects", []) if answer.body else []:
            if "actions" in entry:
                entry["actions"]["verify"]["href"] = f"{self.other}/verify"
                entry["actions"]["upload"]["href"] = entry["actions"]["upload"][
                    "href"
                ].replace(self.url, self.other)
        return answer


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    asked: list[float] = []
    monkeypatch.setattr(huggingface_http, "sleep", asked.append)
    return asked


@pytest.fixture
def elsewhere() -> Iterator[Elsewhere]:
    with serving(Elsewhere()) as fake:
        yield fake


def _context(tmp_path: Path, endpoint: str, **args: Any) -> Any:
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "model.onnx").write_bytes(b"\x08\x01weights\x00" * 64)
    base: dict[str, Any] = {
        "repo_id": REPO,
        "folder": "model",
        "endpoint": endpoint,
        "http_timeout": 2,
        "max_wait": 10,
    }
    base.update(args)
    return hook_context(tmp_path, base, {"HF_TOKEN": TOKEN})


@pytest.mark.parametrize("value", ["\u00b2", "\u0661\u0662", "\u2460"])
def test_retry_after_in_digits_other_than_ascii_is_no_hint(value: str) -> None:
    assert retry_after({"Retry-After": value}) is None


def test_a_429_with_a_superscript_retry_after_is_retried_with_backoff(
    tmp_path: Path, waits: list[float]
) -> None:
    with serving(FakeHub(token=TOKEN)) as hub:
        hub.fail(429, "/api/repos/create", times=1, headers={"Retry-After": "\u00b2"})
        hf.upload(_context(tmp_path, hub.url))
        assert waits == [1.0]
        assert len(hub.calls("POST", "/api/repos/create")) == 2


def test_the_token_never_goes_to_an_lfs_verify_href_on_another_host(
    tmp_path: Path, elsewhere: Elsewhere, waits: list[float]
) -> None:
    with serving(VerifyElsewhere(token=TOKEN)) as hub:
        hub.other = elsewhere.url
        with pytest.raises(IntegrationError):
            # The object never reached the Hub's storage: its commit fails.
            hf.upload(_context(tmp_path, hub.url))
    assert [(r.method, r.path.split("/")[1]) for r in elsewhere.requests] == [
        ("PUT", "lfs-storage"),
        ("POST", "verify"),
    ]
    assert [r.headers.get("authorization") for r in elsewhere.requests] == [None] * 2


def test_the_token_never_follows_a_redirect_to_another_host(
    tmp_path: Path, elsewhere: Elsewhere, waits: list[float]
) -> None:
    with (
        serving(Redirecting(elsewhere.url)) as hub,
        pytest.raises(IntegrationError),
    ):
        hf.upload(_context(tmp_path, hub.url))
    assert elsewhere.requests
    assert all(TOKEN not in str(r.headers) for r in elsewhere.requests)


class EndlessChecks(FakeGitHub):
    """A GitHub whose check runs come one a page, with a next page forever."""

    def _check_runs(self, request: Request, ref: str) -> Response:
        page = int(request.query.get("page", ["1"])[0])
        run = {"id": page, "name": f"job-{page}", "status": "completed"}
        run["conclusion"] = "success"
        url = f"{self.url}{request.path}?per_page=1&page={page + 1}"
        return Response(
            200,
            {"total_count": 10**6, "check_runs": [run]},
            {"Link": f'<{url}>; rel="next"'},
        )


class GarbageChecks(FakeGitHub):
    """A GitHub answering 200 with JSON that is no listing of check runs."""

    def _check_runs(self, request: Request, ref: str) -> Response:
        return Response(200, {"check_runs": "all green"})


def _ci_status(tmp_path: Path, server: FakeGitHub) -> str:
    ctx = hook_context(
        tmp_path,
        {"repo": "acme/widget", "base_url": server.url, "sha": server.head()},
        {"GITHUB_TOKEN": "gh-test-token"},
    )
    with pytest.raises(ServiceUnreadable) as info:
        gh.ci_status(ctx)
    assert isinstance(info.value, NoVerdict)
    return str(info.value)


def test_check_runs_paged_without_end_give_no_verdict_after_30_pages(
    tmp_path: Path,
) -> None:
    with serving(EndlessChecks()) as server:
        message = _ci_status(tmp_path, server)
        pages = server.calls("GET", "/check-runs")
    assert message == (
        f"GitHub: the check-runs of {server.head()[:10]} go on beyond 30 pages "
        "(30 read): no verdict from part of them"
    )
    assert len(pages) == 30


def test_a_listing_that_is_no_list_gives_no_verdict(tmp_path: Path) -> None:
    with serving(GarbageChecks()) as server:
        message = _ci_status(tmp_path, server)
    assert message == "GitHub answered GET check-runs with no list of 'check_runs'"
