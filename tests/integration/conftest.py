"""Helpers for end-to-end runs: goal files in tmp_path, the engine as a process.

Every test here runs real subprocesses (the engine, shell hooks, sensors), so
the helpers bound every wait with a timeout: a hung engine fails the test
instead of hanging the suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest


def engine_env(**extra: str) -> dict[str, str]:
    """Return the environment for an engine process: plain output, fast retries.

    A ``PYTHONPATH`` given (for a test's hook modules) is put before the one
    the suite runs with, so the engine under test stays importable.
    """
    env = dict(os.environ)
    env.pop("GOAP_DEBUG", None)
    env.update({"NO_COLOR": "1", "GOAP_RETRY_BASE": "0.01", "TERM": "dumb"})
    if "PYTHONPATH" in extra and os.environ.get("PYTHONPATH"):
        extra["PYTHONPATH"] += os.pathsep + os.environ["PYTHONPATH"]
    env.update(extra)
    return env


def run_engine(
    *args: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m goap_engine ARGS`` to completion and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "goap_engine", *map(str, args)],
        cwd=cwd,
        env=env or engine_env(),
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli(*args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command in-process (click's runner): for the quick, non-run commands.

    Starting Python and importing the engine costs more than half a second,
    so commands that run no hooks and need no signals run here instead.
    """
    from click.testing import CliRunner

    from goap_engine.cli import main

    argv = [str(a) for a in args]
    result = CliRunner().invoke(main, argv, env={"NO_COLOR": "1", **env})
    return subprocess.CompletedProcess(
        argv, result.exit_code, result.stdout, result.stderr
    )


def start_engine(
    *args: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start ``python -m goap_engine ARGS`` in the background.

    Its SIGINT is reset to the default, as for a command typed on a
    terminal: a test suite started in the background (``make test &``)
    ignores SIGINT, its children would inherit that, and the Ctrl-C the
    tests send would then be ignored, as Unix means it to be.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "goap_engine", *map(str, args)],
        cwd=cwd,
        env=env or engine_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def write_goal(folder: Path, text: str, name: str = "goal.yaml") -> Path:
    """Write a goal file (dedented) into ``folder`` and return its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def goal_files(folder: Path, goal: str | Path = "goal.yaml") -> Path:
    """Return the workspace of ``goal`` (relative to ``folder``) run in ``folder``.

    Asks the engine, so the tests follow wherever it keeps a goal's files.
    """
    from goap_engine.executor.workspace import goal_workspace

    return goal_workspace(folder, folder / goal)


def journal_events(
    folder: Path, goal: str | Path = "goal.yaml"
) -> list[dict[str, Any]]:
    """Return every event of the goal's journal; every line must parse."""
    path = goal_files(folder, goal) / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [str(e["event"]) for e in events]


def stored_state(folder: Path, goal: str | Path = "goal.yaml") -> dict[str, Any]:
    """Return the goal's default state file, parsed."""
    data = json.loads((goal_files(folder, goal) / "state.json").read_text())
    assert isinstance(data, dict)
    return data


def wait_for(
    predicate: Callable[[], Any], timeout: float = 20, message: str = "condition"
) -> Any:
    """Poll ``predicate`` until it returns something true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {message}{_describe(message)}")
        time.sleep(0.02)


def _describe(message: str) -> str:
    """Say what a process we waited for is doing (for failure messages)."""
    words = message.split()
    if len(words) < 2 or words[0] != "pid" or not words[1].isdigit():
        return ""
    try:
        stat = Path(f"/proc/{words[1]}/stat").read_text().strip()
        cmd = Path(f"/proc/{words[1]}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return ""
    return f" (stat: {stat[:60]}..., command: {cmd.decode(errors='replace')})"


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (dead, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    # The state letter follows the command name, which is in parentheses.
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def read_pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.fixture
def reaper() -> Iterator[list[int]]:
    """Pids a test started indirectly; any still alive at the end are killed."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def engines() -> Iterator[list[subprocess.Popen[str]]]:
    """Background engine processes; killed at the end if a test left them."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


@pytest.fixture
def h() -> SimpleNamespace:
    """The helpers above, for test modules (conftest is not importable by name)."""
    return SimpleNamespace(
        env=engine_env,
        run=run_engine,
        cli=cli,
        start=start_engine,
        goal=write_goal,
        files=goal_files,
        events=journal_events,
        kinds=kinds,
        state=stored_state,
        wait_for=wait_for,
        alive=pid_alive,
        pids=read_pids,
    )
