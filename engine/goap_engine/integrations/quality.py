"""Code-quality built-ins: ruff, tsc and pytest, as actions and as sensors.

Each check is both: called by an action it raises ``IntegrationError`` with
the tool's findings when the check fails; called by a sensor (a hook with no
action name) it returns ``False`` instead, since a failing check is then just
the variable's value.  A tool that is missing, a bad argument or a timeout is
an error either way: the check's result is unknown, not false.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from ..executor.hooks import HookContext, run_command
from . import IntegrationError

EXCERPT_LINES = 20


def _environment(ctx: HookContext) -> dict[str, str]:
    return {**os.environ, **ctx.env}


def _strings(ctx: HookContext, key: str, default: Sequence[str]) -> list[str]:
    value = ctx.args.get(key)
    if value is None:
        return list(default)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    raise IntegrationError(f"'{key}' must be a list of strings, not {value!r}")


def _excerpt(output: str, *, tail: bool = False) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    if len(lines) <= EXCERPT_LINES:
        return "\n".join(lines)
    if tail:
        return "\n".join(["...", *lines[-EXCERPT_LINES:]])
    return "\n".join([*lines[:EXCERPT_LINES], "..."])


def _check(
    ctx: HookContext,
    name: str,
    argv: list[str],
    *,
    failed: Collection[int],
    tail: bool = False,
    cwd: Path | None = None,
) -> bool:
    """Run one check; exit codes in ``failed`` mean findings, others are errors."""
    outcome = run_command(
        argv, cwd=cwd or ctx.workdir, env=_environment(ctx), timeout=ctx.timeout
    )
    if outcome.ok:
        ctx.log(f"{name}: passed")
        return True
    excerpt = _excerpt(outcome.output, tail=tail)
    if outcome.timed_out or outcome.exit_code not in failed:
        raise IntegrationError(f"{name} could not run: {outcome.message}\n{excerpt}")
    for line in excerpt.splitlines():
        ctx.log(line)
    if not ctx.action:
        ctx.log(f"{name}: failed ({outcome.message})")
        return False
    raise IntegrationError(f"{name} failed ({outcome.message}):\n{excerpt}")


def _which(ctx: HookContext, program: str) -> str | None:
    return shutil.which(program, path=_environment(ctx).get("PATH"))


def _ruff_command(ctx: HookContext) -> list[str]:
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    found = _which(ctx, "ruff")
    if found is None:
        raise IntegrationError("ruff not available: pip install ruff")
    return [found]


def _local_bin(start: Path, program: str) -> Path | None:
    """Return ``node_modules/.bin/PROGRAM`` in ``start`` or a folder above it."""
    for folder in (start, *start.parents):
        candidate = folder / "node_modules" / ".bin" / program
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _tsc_command(ctx: HookContext, start: Path) -> str | None:
    """Return the tsc a project would use: its own node_modules first, then PATH.

    These are the places ``npx --no-install tsc`` looks; resolving them here
    tells a missing compiler apart from a failed type check, which npx's exit
    status does not.
    """
    local = _local_bin(start.resolve(), "tsc")
    return str(local) if local else _which(ctx, "tsc")


def ruff(ctx: HookContext) -> bool:
    """Run ``ruff check`` on ``paths`` (default ``["."]``); ``fix: true`` fixes."""
    argv = [*_ruff_command(ctx), "check", "--output-format", "concise"]
    if ctx.args.get("fix"):
        argv.append("--fix")
    paths = _strings(ctx, "paths", ["."])
    for path in paths:
        # ruff reports a missing path as a finding; a sensor would then read
        # "lint fails" forever instead of showing the typo.
        if not (ctx.workdir / path).exists():
            raise IntegrationError(f"ruff: path not found: {path}")
    return _check(ctx, "ruff", [*argv, *paths], failed={1})


def tsc(ctx: HookContext) -> bool:
    """Type-check the TypeScript ``project`` (default ".") with ``tsc --noEmit``."""
    project = ctx.workdir / str(ctx.args.get("project") or ".")
    if not project.exists():
        raise IntegrationError(f"TypeScript project not found: {project}")
    folder = project if project.is_dir() else project.parent
    command = _tsc_command(ctx, folder)
    if command is None:
        raise IntegrationError(
            "tsc not available: install TypeScript in the project "
            "(npm install --save-dev typescript) or put tsc on PATH"
        )
    argv = [command, "--noEmit", "--pretty", "false", "-p", str(project)]
    return _check(ctx, "tsc", argv, failed={1, 2})


def pytest(ctx: HookContext) -> bool:
    """Run ``python -m pytest -q`` on ``paths`` with ``args`` appended.

    ``python`` names another interpreter (default: the engine's own).  No test
    collected counts as a failure, not a pass.
    """
    python = str(ctx.args.get("python") or sys.executable)
    argv = [python, "-m", "pytest", "-q"]
    argv += _strings(ctx, "paths", [])
    argv += _strings(ctx, "args", [])
    return _check(ctx, "pytest", argv, failed={1, 5}, tail=True)


def tool_available(ctx: HookContext) -> bool:
    """Return whether ``tool`` (ruff, tsc, pytest or any program) can be run.

    Nothing is executed or downloaded: tsc counts when the workdir (or a folder
    above it) has ``node_modules/.bin/tsc`` or tsc is on PATH.
    """
    tool = ctx.args.get("tool")
    if not tool or not isinstance(tool, str):
        raise IntegrationError("quality.tool_available needs 'tool': a program name")
    found: Any
    if tool == "ruff":
        found = importlib.util.find_spec("ruff") or _which(ctx, "ruff")
    elif tool == "pytest":
        found = importlib.util.find_spec("pytest")
    elif tool == "tsc":
        found = _tsc_command(ctx, ctx.workdir)
    else:
        found = _which(ctx, tool)
    return found is not None
