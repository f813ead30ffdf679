"""The ``modal.*`` built-ins: credentials, the token check, the command they run.

Nothing here contacts Modal: the token check talks to a local gRPC stand-in
(``fakes/modal_server.py``) through Modal's own client, and the commands run
a stand-in interpreter that echoes its arguments.
"""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import hook_context, serving
from fakes.modal_server import FakeModal

from goap_engine.integrations import IntegrationError
from goap_engine.integrations import modal as md

MODAL_VARS = (
    "MODAL_TOKEN_ID",
    "MODAL_TOKEN_SECRET",
    "MODAL_PROFILE",
    "MODAL_CONFIG_PATH",
    "MODAL_OAUTH_REFRESH_TOKEN",
    "MODAL_OAUTH_CLIENT_ID",
    "MODAL_OAUTH_CLIENT_SECRET",
    "MODAL_OAUTH_JWT_KEY",
    "MODAL_SERVER_URL",
)

FAKE_PYTHON = """#!/bin/sh
echo "argv: $*"
echo "secret: $MODAL_TOKEN_SECRET"
printf 'Authorization: Basic %s\n' "$(printf '%s' "$MODAL_TOKEN_SECRET" | base64)"
case "$*" in
  *broken*) echo "Error: the app failed to build" >&2; exit 3;;
  *slow*) sleep 30;;
esac
echo "done: $3"
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home and no Modal variables, for the process and the hooks."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in MODAL_VARS:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def modal_api() -> Iterator[FakeModal]:
    pytest.importorskip("modal")
    with serving(FakeModal("ak-test-id", "as-test-secret")) as fake:
        yield fake


@pytest.fixture
def make(home: Path, tmp_path: Path, modal_api: FakeModal):
    """A hook context whose Modal is the local stand-in."""

    def _make(env: dict[str, str] | None = None, **args: Any) -> Any:
        base = {"HOME": str(home), "MODAL_SERVER_URL": modal_api.url}
        return hook_context(tmp_path, args, {**base, **(env or {})})

    return _make


@pytest.fixture
def fake_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "fake-python"
    script.write_text(FAKE_PYTHON)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(md, "PYTHON", str(script))
    return script


TOKENS = {"MODAL_TOKEN_ID": "ak-test-id", "MODAL_TOKEN_SECRET": "as-test-secret"}


def test_without_credentials_modal_is_not_configured(make) -> None:
    assert md.configured(make()) is False


def test_deploy_and_run_without_credentials_say_how_to_configure(
    make, fake_python: Path
) -> None:
    with pytest.raises(IntegrationError, match="Modal is not configured") as info:
        md.deploy(make(app="app.py", name="cats"))
    assert "MODAL_TOKEN_ID/MODAL_TOKEN_SECRET" in str(info.value)
    assert "modal token new" in str(info.value)
    with pytest.raises(IntegrationError, match="Modal is not configured"):
        md.run(make(function="train.py::smoke_test"))


def test_tokens_in_the_environment_configure_modal(make) -> None:
    assert md.configured(make(env=TOKENS)) is True
    assert md.configured(make(env={"MODAL_TOKEN_ID": "ak-only"})) is False


def test_the_config_file_active_profile_holds_the_tokens(make, home: Path) -> None:
    config = home / ".modal.toml"
    config.write_text('[default]\ntoken_id = "ak-1"\n')
    assert md.configured(make()) is False
    config.write_text(
        '[default]\ntoken_id = "ak-1"\n\n'
        '[work]\ntoken_id = "ak-test-id"\ntoken_secret = "as-test-secret"\n'
        "active = true\n"
    )
    assert md.configured(make()) is True
    assert md.configured(make(env={"MODAL_PROFILE": "default"})) is False
    config.write_text("this is [not toml")
    assert md.configured(make()) is False


def test_deploy_runs_the_modal_cli_with_name_and_tag(make, fake_python: Path) -> None:
    ctx = make(env=TOKENS, app="serve.py", name="cats", tag="v1.2", environment="prod")
    assert md.deploy(ctx) == "done: deploy"
    assert (
        ctx.lines[0]
        == "argv: -m modal deploy --env prod serve.py --name cats --tag v1.2"
    )
    # The token secret never reaches the log, nor its base64 form.
    assert ctx.lines[1] == "secret: ***"
    assert ctx.lines[2] == "Authorization: Basic ***"


def test_run_passes_the_function_and_its_arguments(make, fake_python: Path) -> None:
    ctx = make(env=TOKENS, function="train.py::smoke_test", args=["--epochs", "1"])
    md.run(ctx)
    assert ctx.lines[0] == "argv: -m modal run train.py::smoke_test --epochs 1"


def test_a_failing_deploy_reports_the_output_tail(make, fake_python: Path) -> None:
    with pytest.raises(IntegrationError) as info:
        md.deploy(make(env=TOKENS, app="broken.py"))
    message = str(info.value)
    assert message.startswith("modal deploy broken.py failed (exit code 3)")
    assert "Error: the app failed to build" in message
    assert "as-test-secret" not in message


def test_a_deploy_past_its_timeout_is_killed(make, fake_python: Path) -> None:
    with pytest.raises(IntegrationError, match="timed out after 0.3 s"):
        md.deploy(make(env=TOKENS, app="slow.py", timeout=0.3))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_rejected_token_is_not_configured_and_fails_deploy_with_the_cause(
    make, fake_python: Path, modal_api: FakeModal
) -> None:
    wrong = {"MODAL_TOKEN_ID": "ak-test-id", "MODAL_TOKEN_SECRET": "as-revoked-1"}
    ctx = make(env=wrong)
    assert md.configured(ctx) is False
    assert "Modal rejected the token ak-test-id" in ctx.lines[-1]
    assert "Token ID is malformed or invalid" in ctx.lines[-1]
    with pytest.raises(IntegrationError) as info:
        md.deploy(make(env=wrong, app="serve.py"))
    assert f"Modal rejected the token ak-test-id at {modal_api.url}" in str(info.value)
    assert "as-revoked-1" not in str(info.value)
    # One check per call: the command itself never ran.
    assert modal_api.calls == ["ak-test-id", "ak-test-id"]


def test_modal_down_fails_at_once_instead_of_at_the_command_timeout(
    make, fake_python: Path
) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    ctx = make(env={**TOKENS, "MODAL_SERVER_URL": url}, app="serve.py")
    with pytest.raises(IntegrationError) as info:
        md.deploy(ctx)
    assert str(info.value) == f"Modal cannot be reached at {url}: Connection refused"
    assert ctx.lines == []  # the modal command never started
    sensing = make(env={**TOKENS, "MODAL_SERVER_URL": url})
    assert md.configured(sensing) is False
    assert "cannot be reached" in sensing.lines[-1]


def test_a_silent_modal_fails_within_check_timeout(make, fake_python: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        ctx = make(
            env={**TOKENS, "MODAL_SERVER_URL": url},
            function="train.py::smoke_test",
            check_timeout=0.5,
        )
        with pytest.raises(IntegrationError) as info:
            md.run(ctx)
    assert str(info.value).startswith(
        f"Modal did not answer at {url} within 0.5 s (ClientHello)"
    )
