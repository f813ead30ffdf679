"""The ``modal.*`` built-ins: credential detection and the command they run.

Nothing here contacts Modal: ``configured`` only reads local credentials, and
the commands run a stand-in interpreter that echoes its arguments.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from fakes import hook_context

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
def make(home: Path, tmp_path: Path):
    def _make(env: dict[str, str] | None = None, **args: Any) -> Any:
        return hook_context(tmp_path, args, {"HOME": str(home), **(env or {})})

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
        '[work]\ntoken_id = "ak-2"\ntoken_secret = "as-2"\nactive = true\n'
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
