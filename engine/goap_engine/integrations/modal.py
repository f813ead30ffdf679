"""Modal built-ins: whether Modal can be used here, deploy an app, run a function.

``configured`` finds the credentials, then makes one bounded call (Modal's
``ClientHello``, at most ``check_timeout`` seconds, default 10) to learn
whether Modal accepts the token.  ``deploy`` and ``run`` make the same check
first -- an unreachable Modal or a rejected token fails the step in seconds,
with the cause, instead of at the end of the command's timeout -- then drive
the ``modal`` command line of the interpreter running the engine, as a
subprocess bounded by a timeout (default 30 minutes, or the action's
timeout), in its own process group.
"""

from __future__ import annotations

import asyncio
import importlib
import socket
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..executor.hooks import HookContext, run_command
from ..executor.redaction import Redactor
from . import IntegrationError

# The interpreter running the engine is the one with the modal package.
PYTHON = sys.executable
DEFAULT_TIMEOUT = 30 * 60.0
DEFAULT_CHECK_TIMEOUT = 10.0
DEFAULT_SERVER_URL = "https://api.modal.com"
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
    return _oauth(env) or _token(env) is not None


def _oauth(env: Mapping[str, str]) -> bool:
    secret = env.get("MODAL_OAUTH_CLIENT_SECRET") or env.get("MODAL_OAUTH_JWT_KEY")
    return bool(
        secret
        and env.get("MODAL_OAUTH_REFRESH_TOKEN")
        and env.get("MODAL_OAUTH_CLIENT_ID")
    )


def _token(env: Mapping[str, str]) -> tuple[str, str] | None:
    profile = _profile(env)
    # As in Modal, an environment variable overrides the profile's setting.
    token_id = env.get("MODAL_TOKEN_ID") or profile.get("token_id")
    token_secret = env.get("MODAL_TOKEN_SECRET") or profile.get("token_secret")
    if token_id and token_secret:
        return str(token_id), str(token_secret)
    return None


def _server_url(env: Mapping[str, str]) -> str:
    return str(
        env.get("MODAL_SERVER_URL")
        or _profile(env).get("server_url")
        or DEFAULT_SERVER_URL
    )


def configured(ctx: HookContext) -> bool:
    """Sense whether Modal is usable: credentials exist and Modal accepts them.

    Unusable for any reason -- no credentials, no library, a rejected token,
    Modal out of reach -- is ``false``, with the reason in the step's log.
    """
    if not credentials_found(ctx.env):
        return False
    try:
        # Imported only when credentials exist: the import costs a second.
        importlib.import_module("modal")
    except Exception as exc:  # noqa: BLE001 - not usable, whatever the reason
        ctx.log(f"modal cannot be imported: {type(exc).__name__}: {exc}")
        return False
    try:
        check(ctx)
    except IntegrationError as exc:
        ctx.log(str(exc))
        return False
    return True


def check(ctx: HookContext) -> None:
    """Raise unless Modal answers within ``check_timeout`` and accepts the token."""
    bound = float(_arg(ctx, "check_timeout", DEFAULT_CHECK_TIMEOUT))
    verify(ctx.env, bound, ctx.secrets)


def verify(env: Mapping[str, str], bound: float, secrets: Sequence[str] = ()) -> None:
    """Raise unless Modal answers within ``bound`` seconds and accepts the token.

    OAuth credentials are taken as they are: checking them means a token
    exchange, which the command line does itself.
    """
    token = _token(env)
    if token is None:
        if _oauth(env):
            return
        raise IntegrationError(NOT_CONFIGURED)
    url = _server_url(env)
    redact = Redactor([*secrets, token[1]])
    _reachable(url, bound)
    modal = importlib.import_module("modal")
    try:
        asyncio.run(asyncio.wait_for(modal.Client.verify.aio(url, token), bound))
    except TimeoutError:
        raise IntegrationError(
            f"Modal did not answer at {url} within {bound:g} s (ClientHello); "
            "raise check_timeout if it is only slow"
        ) from None
    except modal.exception.AuthError as exc:
        raise IntegrationError(
            f"Modal rejected the token {token[0]} at {url}: {redact(str(exc))} "
            "(`modal token new` makes a new one)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any other failure: said as it is
        raise IntegrationError(
            f"Modal check at {url} failed: {type(exc).__name__}: {redact(str(exc))}"
        ) from None


def _reachable(url: str, bound: float) -> None:
    """Fail at once when nothing listens (Modal's client would keep retrying)."""
    from urllib.parse import urlsplit

    split = urlsplit(url)
    host = split.hostname or ""
    try:
        port = split.port or (443 if split.scheme == "https" else 80)
        with socket.create_connection((host, port), timeout=bound):
            pass
    except (OSError, ValueError) as exc:
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise IntegrationError(f"Modal cannot be reached at {url}: {cause}") from None


def _modal(ctx: HookContext, args: list[str], what: str) -> str:
    """Run ``python -m modal ARGS``; log its output; fail with its tail."""
    check(ctx)
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
