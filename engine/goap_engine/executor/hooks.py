"""Run hooks: shell strings, argv, Python callables and built-ins.

A hook's failure is an ``Outcome`` the runner decides about, never an exception
flying through it.  Commands run in a session of their own (see
``processes``) with stdin closed and git's credential prompt disabled, so
nothing can wait for a person; python and built-in hooks run in a worker
process (see ``worker``) so that a timeout or an interrupt stops them too.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..model import Hook
from ..templates import render
from .context import (
    HookContext,
    HookError,
    Outcome,
    call_python,
    callable_spec,
    resolve_callable,
)
from .output import Output
from .processes import STEP_VAR, end_marked, finish, kill_all, new_marker, pump, spawn

__all__ = [
    "HookContext",
    "HookError",
    "Outcome",
    "call_python",
    "callable_spec",
    "describe",
    "hook_env",
    "kill_all",
    "prepare",
    "resolve_callable",
    "run_command",
    "template_context",
]


def template_context(
    variables: Mapping[str, Any], state: Mapping[str, Any], workdir: Path
) -> dict[str, Any]:
    """Return what templates can read: vars, state, workdir and env."""
    context: dict[str, Any] = dict(variables)
    context.update(state)
    context["workdir"] = str(workdir)
    context["env"] = _ENVIRONMENT
    return context


class _Environment(Mapping[str, str]):
    """The process environment as templates see it: read-only, read on use.

    Copying ``os.environ`` for every template costs more than a step's own
    bookkeeping; a read-only view costs nothing until a template reads it.
    """

    def missing(self, name: str) -> str:
        """Say what a template reading an unset variable lacks (for its error)."""
        return (
            f"environment variable {name!r} is not set ({{{{ env.{name} }}}}); set "
            f"it, or write {{{{ env.{name} | default('') }}}} if it is optional"
        )

    def __getitem__(self, key: str) -> str:
        return os.environ[key]

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)


_ENVIRONMENT = _Environment()


def _render_args(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, dict):
        # Keys are templates too: a size gate names its file by a var.
        return {
            render(str(k), context): _render_args(v, context) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_render_args(v, context) for v in value]
    return value


def prepare(hook: Hook, context: Mapping[str, Any]) -> str | list[str] | dict[str, Any]:
    """Return the hook's rendered command (str/argv) or rendered arguments."""
    try:
        if hook.kind == "shell":
            assert isinstance(hook.target, str)
            return render(hook.target, context, shell_quote=hook.quote)
        if hook.kind == "argv":
            return [render(part, context) for part in hook.target]
        args = dict(_render_args(dict(hook.args), context))
    except ValueError as exc:
        # Located at the hook: the step's failure says where to fix it.
        raise HookError(f"{hook.location}: template error: {exc}") from None
    if hook.kind == "builtin":
        _check_rendered_numbers(hook, args)
    return args


def _check_rendered_numbers(hook: Hook, args: Mapping[str, Any]) -> None:
    """Refuse a templated bound that renders to no number a call can keep to.

    ``validate`` checks literal numbers; one read from a var is known only
    now, and "inf", "nan" or "-1" must not reach the service call.
    """
    from ..language.builtin_checks import number_problem
    from ..language.builtins import BUILTINS

    builtin = BUILTINS.get(str(hook.target))
    for argument in builtin.arguments if builtin is not None else ():
        value = args.get(argument.name)
        if argument.type not in ("int", "float") or not isinstance(value, str):
            continue
        if value == "":
            continue  # an unset var: the built-in's default applies
        try:
            number = int(value) if argument.type == "int" else float(value)
        except ValueError:
            wanted = "an integer" if argument.type == "int" else "a number"
            problem: str | None = f"expected {wanted}, found '{value[:40]}'"
        else:
            problem = number_problem(argument.name, number)
        if problem:
            raise HookError(
                f"{hook.location}: argument '{argument.name}' of {hook.target}: "
                f"{problem}"
            )


def describe(hook: Hook, prepared: str | list[str] | dict[str, Any]) -> str:
    """Return the command line (or call) a person would read for this hook."""
    import shlex

    if isinstance(prepared, str):
        return prepared
    if isinstance(prepared, list):
        return shlex.join(prepared)
    args = ", ".join(f"{k}={v!r}" for k, v in prepared.items())
    return f"{hook.kind} {hook.target}({args})"


def hook_env(extra: Mapping[str, str]) -> dict[str, str]:
    """Return the environment for subprocess hooks."""
    env = dict(os.environ)
    env.update(extra)
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    env.setdefault("GCM_INTERACTIVE", "never")
    # Python programs write to a pipe in blocks; a training script's progress
    # would show only when it ends.
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_command(
    command: str | list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None,
    output: Output | None = None,
    stop: threading.Event | None = None,
    marker: str = "",
    alone: bool = False,
) -> Outcome:
    """Run a command, streaming its output; end it and all it started in time.

    Without ``output`` the output is captured and returned (sensors).  The
    process group is killed on timeout, on ``stop`` and on an interrupt, and
    processes that left the group are ended by their step marker.
    """
    began = time.monotonic()
    sink = output or Output(capture=True)
    marker = marker or new_marker()
    try:
        proc = spawn(command, cwd=cwd, env={**env, STEP_VAR: marker})
    except OSError as exc:
        if not cwd.is_dir():
            # spawn reports a missing working folder as the program not found.
            return Outcome(False, None, message=f"working folder '{cwd}' not found")
        return Outcome(False, None, message=f"cannot start: {exc.strerror or exc}")
    how = "interrupted"
    try:
        deadline = None if timeout is None else began + timeout
        how = pump(proc, sink, deadline=deadline, stop=stop)
    finally:
        finish(proc, sink, kill=how != "exited")
        end_marked(marker, alone=alone)
        sink.close()
    seconds = time.monotonic() - began
    text = sink.text()
    if how == "timeout":
        return Outcome(
            False,
            proc.returncode,
            text,
            message=f"timed out after {timeout:g} s (process group killed)",
            seconds=seconds,
            timed_out=True,
        )
    if how == "oversize":
        return Outcome(
            False,
            proc.returncode,
            text,
            message=f"printed more than {getattr(sink, 'limit', 0) // 1024} KiB, "
            "more than a sensed value may hold (process group killed)",
            seconds=seconds,
            oversize=True,
        )
    if how == "stopped":
        return Outcome(
            False,
            proc.returncode,
            text,
            message="interrupted",
            seconds=seconds,
            interrupted=True,
        )
    code = proc.returncode
    return Outcome(
        code == 0,
        code,
        text,
        message="" if code == 0 else f"exit code {code}",
        seconds=seconds,
    )
