"""``hf.upload`` and ``hf.uploaded`` against a Hub that fails the way real ones do.

Silent, down, 401, 403, 429 (with and without ``Retry-After``) and 5xx: each
fails within the documented bound (3 attempts of ``http_timeout`` plus waits
that add up to at most ``max_wait``), counted here through the requests the
fake received and the waits asked of ``sleep`` (replaced, so that no test
waits), with a message naming the Hub, the call and the cause.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import hook_context, serving
from fakes.hf_server import FakeHub

from goap_engine.integrations import IntegrationError, huggingface_http
from goap_engine.integrations import huggingface as hf

TOKEN = "hf-test-token"
REPO = "acme/tiny-model"


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with serving(FakeHub(token=TOKEN)) as fake:
        yield fake


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the waits between retries instead of waiting."""
    asked: list[float] = []
    monkeypatch.setattr(huggingface_http, "sleep", asked.append)
    return asked


@pytest.fixture
def make(hub: FakeHub, tmp_path: Path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.onnx").write_bytes(b"\x08\x01weights\x00" * 64)
    (model / "config.json").write_text('{"layers": 2}\n')

    def _make(env: dict[str, str] | None = None, **args: Any) -> Any:
        base: dict[str, Any] = {
            "repo_id": REPO,
            "folder": "model",
            "endpoint": hub.url,
            "http_timeout": 0.3,
            "max_wait": 10,
        }
        base.update(args)
        return hook_context(tmp_path, base, {"HF_TOKEN": TOKEN} if env is None else env)

    return _make


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _fails(fn: Any, ctx: Any) -> str:
    with pytest.raises(IntegrationError) as caught:
        fn(ctx)
    return str(caught.value)


# -- silent and down --------------------------------------------------------


def test_a_silent_hub_fails_the_upload_after_three_timeouts(
    hub: FakeHub, make, waits: list[float]
) -> None:
    hub.silence()
    message = _fails(hf.upload, make())
    assert message == (
        f"Hugging Face Hub: creating {REPO} failed: POST /api/repos/create: "
        "no answer within 0.3 s (3 attempts)"
    )
    assert len(hub.calls("POST", "/api/repos/create")) == 3
    assert waits == [1.0, 2.0]
    assert hub.repos == {}


def test_a_silent_hub_fails_the_sensor_after_three_timeouts(
    hub: FakeHub, make, waits: list[float]
) -> None:
    hf.upload(make())
    hub.silence("/tree/")
    message = _fails(hf.uploaded, make())
    assert message == (
        f"Hugging Face Hub: comparing files with {REPO} failed: "
        f"GET /api/models/{REPO}/tree/main: no answer within 0.3 s (3 attempts)"
    )
    assert len(hub.calls("GET", "/tree/")) == 4  # one answered earlier
    assert waits == [1.0, 2.0]


def test_a_hub_that_is_down_fails_both_after_three_attempts(
    make, waits: list[float]
) -> None:
    url = _closed_port()
    for fn, what, call in (
        (hf.upload, f"creating {REPO}", "POST /api/repos/create"),
        (
            hf.uploaded,
            f"comparing files with {REPO}",
            f"GET /api/models/{REPO}/tree/main",
        ),
    ):
        waits.clear()
        message = _fails(fn, make(endpoint=url))
        prefix = f"Hugging Face Hub: {what} failed: {call}: cannot connect"
        assert message.startswith(prefix)
        assert message.endswith("(3 attempts)")
        assert waits == [1.0, 2.0]


def test_waits_never_add_up_to_more_than_max_wait(make, waits: list[float]) -> None:
    _fails(hf.upload, make(endpoint=_closed_port(), max_wait=1.5))
    assert waits == [1.0, 0.5]


# -- refusals ---------------------------------------------------------------


def test_a_wrong_token_fails_at_once_without_retry_or_echo(
    hub: FakeHub, make, waits: list[float]
) -> None:
    secret = "hf-wrong-token-123"
    message = _fails(hf.upload, make(env={"HF_TOKEN": secret}))
    assert message == (
        f"Hugging Face Hub: creating {REPO} failed: the token in HF_TOKEN was "
        "refused (401 Unauthorized: Invalid credentials in Authorization header): "
        "it is invalid or expired"
    )
    assert waits == []
    hf.upload(make())
    message = _fails(hf.uploaded, make(env={"HF_TOKEN": secret}))
    assert message == (
        f"Hugging Face Hub: comparing files with {REPO} failed: the token in "
        "HF_TOKEN was refused (401 Unauthorized: Invalid credentials in "
        "Authorization header): it is invalid or expired"
    )
    assert secret not in message


def test_a_read_only_token_is_refused_with_403(
    hub: FakeHub, make, waits: list[float]
) -> None:
    message = _fails(hf.upload, make(env={"HF_TOKEN": hub.read_token}))
    assert message == (
        f"Hugging Face Hub: creating {REPO} failed: the token in HF_TOKEN may not "
        "do this (403 Forbidden: You don't have the rights to create a "
        f"repository): it needs write access to {REPO}"
    )
    assert waits == []
    hf.upload(make())
    hub.fail(403, "/tree/", body={"error": "Access to this repository is restricted"})
    message = _fails(hf.uploaded, make())
    assert message == (
        f"Hugging Face Hub: comparing files with {REPO} failed: the token in "
        "HF_TOKEN may not do this (403 Forbidden: Access to this repository is "
        f"restricted): it needs access to {REPO}"
    )


# -- rate limits and server errors -----------------------------------------


def test_a_429_with_retry_after_is_waited_out(
    hub: FakeHub, make, waits: list[float]
) -> None:
    hub.fail(429, "/preupload/", times=1, headers={"Retry-After": "7"})
    oid = hf.upload(make())
    assert hub.repo(REPO).sha == oid
    assert waits == [7.0]
    assert len(hub.calls("POST", "/preupload/")) == 2


def test_the_hubs_ratelimit_header_is_honoured_too(
    hub: FakeHub, make, waits: list[float]
) -> None:
    hub.fail(429, "/tree/", times=1, headers={"RateLimit": '"api";r=0;t=4'})
    assert hf.uploaded(make()) is False
    assert waits == [4.0]


def test_a_retry_after_beyond_max_wait_fails_at_once(
    hub: FakeHub, make, waits: list[float]
) -> None:
    hub.fail(429, "/api/repos/create", headers={"Retry-After": "120"})
    message = _fails(hf.upload, make(max_wait=60))
    assert message == (
        f"Hugging Face Hub: creating {REPO} failed: POST /api/repos/create: "
        "HTTP 429: injected 429 (asked to wait 120 s, more than the 60 s left "
        "of max_wait (60 s))"
    )
    assert waits == []
    assert len(hub.requests) == 1


def test_a_429_without_retry_after_backs_off_then_fails(
    hub: FakeHub, make, waits: list[float]
) -> None:
    hub.fail(429, "/tree/")
    message = _fails(hf.uploaded, make())
    assert message == (
        f"Hugging Face Hub: comparing files with {REPO} failed: "
        f"GET /api/models/{REPO}/tree/main: HTTP 429: injected 429 (3 attempts)"
    )
    assert waits == [1.0, 2.0]


def test_a_5xx_is_retried_then_reported(hub: FakeHub, make, waits: list[float]) -> None:
    hub.fail(503, "/preupload/", times=2)
    assert hf.upload(make()) == hub.repo(REPO).sha
    assert waits == [1.0, 2.0]
    hub.fail(502, "/tree/")
    message = _fails(hf.uploaded, make())
    assert message.endswith("HTTP 502: injected 502 (3 attempts)")


def test_a_commit_is_never_sent_twice(hub: FakeHub, make, waits: list[float]) -> None:
    """The Hub may have made a commit whose answer was an error: not resent."""
    hf.upload(make())
    commits = len(hub.repo(REPO).commits)
    (Path(make().workdir) / "model" / "config.json").write_text('{"layers": 3}\n')
    hub.fail(500, "/commit/")
    message = _fails(hf.upload, make())
    prefix = f"Hugging Face Hub: committing 1 changes to {REPO} failed"
    assert message.startswith(prefix)
    assert "500" in message
    assert len(hub.calls("POST", "/commit/")) == 2  # the first upload, then one
    assert waits == []
    assert len(hub.repo(REPO).commits) == commits
    assert hf.uploaded(make()) is False
