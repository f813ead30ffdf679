"""Run hooks: shell strings, argv, Python callables and built-ins.

A hook's failure is an ``Outcome`` the runner decides about, never an exception
flying through it.  Subprocesses run in their own session so a timeout or an
interrupt can kill the whole process group, and with stdin closed and git's
credential prompt disabled so nothing can wait for a person.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from ..model import Hook
from ..templates import render
from .builtins import BUILTINS

MAX_OUTPUT = 64 * 1024
KILL_GRACE = 2.0
# How often a running hook is checked, and how long its output may stay open
# after it exited or was killed (background processes holding the pipe).
POLL = 0.1
OUTPUT_GRACE = 1.0

_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


def kill_all() -> None:
    """Kill the process groups of every hook still running (on interrupt)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        _kill_group(proc)


@dataclass
class Outcome:
    """What running a hook gave: success, exit code, output, value, timing."""

    ok: bool
    exit_code: int | None = None
    output: str = ""
    value: Any = None
    message: str = ""
    seconds: float = 0.0
    timed_out: bool = False


@dataclass
class HookContext:
    """What a python or built-in hook receives.

    ``args`` are the hook's rendered ``with:`` arguments; ``vars`` and
    ``state`` the goal's variables and the current state; ``log`` writes a line
    to the run's output.
    """

    args: Mapping[str, Any]
    vars: Mapping[str, Any]
    state: Mapping[str, Any]
    workdir: Path
    env: Mapping[str, str]
    log: Callable[[str], None]
    action: str = ""
    timeout: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class HookError(Exception):
    """A hook could not be prepared (template, import); reported as a failure."""


def template_context(
    variables: Mapping[str, Any], state: Mapping[str, Any], workdir: Path
) -> dict[str, Any]:
    """Return what templates can read: vars, state, workdir and env."""
    context: dict[str, Any] = dict(variables)
    context.update(state)
    context["workdir"] = str(workdir)
    context["env"] = dict(os.environ)
    return context


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
        return dict(_render_args(dict(hook.args), context))
    except ValueError as exc:
        raise HookError(f"template error: {exc}") from None


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
    return env


def run_command(
    command: str | list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None,
) -> Outcome:
    """Run a command; kill its process group on timeout or interrupt."""
    began = time.monotonic()
    proc: subprocess.Popen[bytes] | None = None
    try:
        # A Ctrl-C after the child exists but before it is known here would
        # leave it running unseen (under load the child can be well under way
        # by then): hold interrupts until it can be killed.
        with _interrupts_held():
            try:
                proc = subprocess.Popen(
                    command,
                    shell=isinstance(command, str),
                    cwd=cwd,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                return Outcome(
                    False, None, "", message=f"cannot start: {exc.strerror or exc}"
                )
            with _LIVE_LOCK:
                _LIVE.add(proc)
        return _wait(proc, timeout, began)
    except BaseException:
        if proc is not None:
            _kill_group(proc)
            _drain(proc)
        raise
    finally:
        if proc is not None:
            with _LIVE_LOCK:
                _LIVE.discard(proc)


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Delay SIGINT and SIGTERM to the end of the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are only ever handled in the main thread
        return
    held: list[signal.Signals] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signal.Signals(signum))

    previous = {
        signum: signal.signal(signum, hold)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            # None: a handler not set from Python, which cannot be put back.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in held:
            signal.raise_signal(signum)


def _wait(
    proc: subprocess.Popen[bytes], timeout: float | None, began: float
) -> Outcome:
    deadline = None if timeout is None else began + timeout
    exited_at: float | None = None
    while True:
        # Short slices instead of one blocking communicate(): a process that
        # left the group (setsid, a daemon) may keep the output pipe open
        # after the hook ended or was killed, and must not hold the run.
        try:
            out, _ = proc.communicate(timeout=POLL)
            break
        except subprocess.TimeoutExpired as exc:
            moment = time.monotonic()
            if deadline is not None and moment >= deadline:
                _kill_group(proc)
                return Outcome(
                    False,
                    proc.returncode,
                    _text(_drain(proc)),
                    message=f"timed out after {timeout:g} s (process group killed)",
                    seconds=time.monotonic() - began,
                    timed_out=True,
                )
            if proc.poll() is None:
                continue
            exited_at = exited_at or moment
            if moment - exited_at >= OUTPUT_GRACE:
                out = exc.output or b""
                _close_output(proc)
                break
    code = proc.returncode
    return Outcome(
        code == 0,
        code,
        _text(out),
        message="" if code == 0 else f"exit code {code}",
        seconds=time.monotonic() - began,
    )


def _drain(proc: subprocess.Popen[bytes]) -> bytes:
    """Return the rest of a killed hook's output, waiting at most the grace time."""
    try:
        out, _ = proc.communicate(timeout=OUTPUT_GRACE)
    except subprocess.TimeoutExpired as exc:
        # Something outside the killed group still holds the pipe: stop reading.
        _close_output(proc)
        proc.wait()
        return exc.output or b""
    return out or b""


def _close_output(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdout is not None:
        with suppress(OSError):
            proc.stdout.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        pass
    finally:
        # Even when a second Ctrl-C cuts the grace short; and members of the
        # group that ignored SIGTERM go too.
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _text(data: bytes | None) -> str:
    text = (data or b"").decode("utf-8", errors="replace")
    if len(text) > MAX_OUTPUT:
        # Cut at a line start: a secret cut in half would escape redaction.
        tail = text[-MAX_OUTPUT:]
        text = "[... output cut ...]\n" + tail[tail.find("\n") + 1 :]
    return text


def resolve_callable(kind: str, target: str) -> Callable[[HookContext], Any]:
    """Return the function behind a python (``module:function``) or built-in hook."""
    if kind == "builtin":
        spec = BUILTINS.get(target) or _entry_point(target)
        if spec is None:
            raise HookError(f"unknown built-in '{target}'")
    else:
        spec = target
    module_name, _, name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HookError(_import_message(module_name, exc)) from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise HookError(f"'{spec}': module has no function '{name}'")
    return fn  # type: ignore[no-any-return]


EXTRAS = {
    "git": "git",
    "github": "github",
    "huggingface_hub": "hf",
    "mlflow": "mlflow",
    "modal": "modal",
}


def _import_message(module: str, exc: ImportError) -> str:
    missing = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(missing)
    if extra:
        return (
            f"this hook needs the '{missing}' library: "
            f"pip install 'goap-engine[{extra}]'"
        )
    return f"cannot import '{module}': {exc}"


def _entry_point(name: str) -> str | None:
    from importlib.metadata import entry_points

    for point in entry_points(group="goap_engine.builtins"):
        if point.name == name:
            return str(point.value)
    return None


def call_python(fn: Callable[[HookContext], Any], context: HookContext) -> Outcome:
    """Call a python/built-in hook; an exception or ``False`` is a failure."""
    began = time.monotonic()
    try:
        value = fn(context)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - a hook's failure is an outcome
        return Outcome(
            False,
            None,
            message=f"{type(exc).__name__}: {exc}",
            seconds=time.monotonic() - began,
        )
    ok = value is not False
    return Outcome(
        ok,
        None,
        value=value,
        message="" if ok else "returned False",
        seconds=time.monotonic() - began,
    )
