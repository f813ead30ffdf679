"""Modal built-ins: whether Modal can be used here, deploy an app, run a function.

``configured`` looks only at local credentials and never contacts Modal.
``deploy`` and ``run`` drive the ``modal`` command line of the interpreter
running the engine, as a subprocess bounded by a timeout (default 30 minutes,
or the action's timeout), in its own process group.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..executor.hooks import HookContext, run_command
from ..executor.redaction import Redactor
from . import IntegrationError

# The interpreter running the engine is the one with the modal package.
PYTHON = sys.executable
DEFAULT_TIMEOUT = 30 * 60.0
TAIL_LINES = 20
NOT_CONFIGURED = (
    "Modal is not configured: set MODAL_TOKEN_ID/MODAL_TOKEN_SECRET "
    "or run `modal token new`"
)
SECRET_VARS = (
    "MODAL_TOKEN_ID",
    "MODAL_TOKEN_SECRET",
    "MODAL_OAUTH_REFRESH_TOKEN",
    "MODAL_OAUTH_CLIENT_SECRET",
    "MODAL_OAUTH_JWT_KEY",
)


def _arg(ctx: HookContext, name: str, default: Any = None) -> Any:
    """Return an argument; an empty string (an unset template var) is unset."""
    value = ctx.args.get(name)
    return default if value is None or value == "" else value


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _config_path(env: Mapping[str, str]) -> Path:
    if env.get("MODAL_CONFIG_PATH"):
        return Path(env["MODAL_CONFIG_PATH"])
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".modal.toml"


def _profile(env: Mapping[str, str]) -> Mapping[str, Any]:
    """Return the active profile of the Modal config file (empty if none)."""
    path = _config_path(env)
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    profiles = {k: v for k, v in config.items() if isinstance(v, dict)}
    name = env.get("MODAL_PROFILE") or next(
        (k for k, v in profiles.items() if v.get("active") is True), "default"
    )
    return profiles.get(name, {})


def credentials_found(env: Mapping[str, str]) -> bool:
    """Whether ``env`` or the Modal config file holds credentials."""
    oauth = env.get("MODAL_OAUTH_CLIENT_SECRET") or env.get("MODAL_OAUTH_JWT_KEY")
    if (
        oauth
        and env.get("MODAL_OAUTH_REFRESH_TOKEN")
        and env.get("MODAL_OAUTH_CLIENT_ID")
    ):
        return True
    profile = _profile(env)
    # As in Modal, an environment variable overrides the profile's setting.
    token_id = env.get("MODAL_TOKEN_ID") or profile.get("token_id")
    token_secret = env.get("MODAL_TOKEN_SECRET") or profile.get("token_secret")
    return bool(token_id and token_secret)


def configured(ctx: HookContext) -> bool:
    """Sense whether Modal is usable: the library imports and credentials exist."""
    if not credentials_found(ctx.env):
        return False
    try:
        # Imported only when credentials exist: the import costs a second.
        importlib.import_module("modal")
    except Exception as exc:  # noqa: BLE001 - not usable, whatever the reason
        ctx.log(f"modal cannot be imported: {type(exc).__name__}: {exc}")
        return False
    return True


def _modal(ctx: HookContext, args: list[str], what: str) -> str:
    """Run ``python -m modal ARGS``; log its output; fail with its tail."""
    if not configured(ctx):
        raise IntegrationError(NOT_CONFIGURED)
    timeout = float(_arg(ctx, "timeout", ctx.timeout or DEFAULT_TIMEOUT))
    env = dict(ctx.env)
    env.setdefault("PYTHONUNBUFFERED", "1")
    outcome = run_command(
        [PYTHON, "-m", "modal", *args],
        cwd=ctx.workdir,
        env=env,
        timeout=timeout,
    )
    # Modal's own tokens are secrets here even when the goal declares none.
    redact = Redactor([*ctx.secrets, *(env.get(name, "") for name in SECRET_VARS)])
    lines = redact(outcome.output).splitlines()
    for line in lines:
        ctx.log(line)
    if not outcome.ok:
        tail = "\n".join(lines[-TAIL_LINES:])
        raise IntegrationError(f"{what} failed ({outcome.message})\n{tail}".rstrip())
    return lines[-1] if lines else f"{what} done"


def _environment(ctx: HookContext) -> list[str]:
    environment = _arg(ctx, "environment")
    return ["--env", str(environment)] if environment else []


def deploy(ctx: HookContext) -> str:
    """Deploy a Modal app (``app``: file or module with ``module: true``).

    ``name`` names the deployment, ``tag`` (or ``version``) tags it, and
    ``environment`` picks the Modal environment.
    """
    app = _arg(ctx, "app")
    if not app:
        raise IntegrationError("modal.deploy needs 'app': the file or module to deploy")
    args = ["deploy", *_environment(ctx)]
    if _flag(_arg(ctx, "module", False)):
        args.append("-m")
    args.append(str(app))
    name = _arg(ctx, "name")
    if name:
        args += ["--name", str(name)]
    tag = _arg(ctx, "tag") or _arg(ctx, "version")
    if tag:
        args += ["--tag", str(tag)]
    return _modal(ctx, args, f"modal deploy {app}")


def run(ctx: HookContext) -> str:
    """Run a Modal function (``function``: "file.py::fn", ``args``: its arguments)."""
    function = _arg(ctx, "function")
    if not function:
        raise IntegrationError("modal.run needs 'function', e.g. 'train.py::main'")
    extra = _arg(ctx, "args", [])
    if isinstance(extra, str):
        extra = extra.split()
    args = ["run", *_environment(ctx)]
    if _flag(_arg(ctx, "detach", False)):
        args.append("--detach")
    args += [str(function), *map(str, extra)]
    return _modal(ctx, args, f"modal run {function}")
