"""Runs the MCP server starts in the background, followed by their events.

Each run is ``python -m goap_engine run GOAL --format json --wait-for-approval``
in a process group (and session) of its own: the server reads its JSON Lines
(journal events and hook ``output`` lines, both redacted by the run) as they
come, and a ``cancel`` signals the whole group, hooks included.

A run outlives the client and the server: closing either does not end it, and
it keeps its journal as every run does.  ``status`` of a run this server did
not start (after a restart) is read back from the goal's journal by run id:
its events, but not its hook output, which only the live stream carries.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import EXIT_INTERRUPTED, GoapError, InputError

CANCEL_GRACE = 10.0  # seconds from SIGTERM to SIGKILL: a step's own cleanup
STDERR_TAIL = 8192  # characters of a run's stderr returned when it fails
MAX_EVENTS = 500  # returned by one ``status`` call; the cursor gets the rest
MAX_LINE = 1_000_000  # a longer stdout line is cut, not buffered without end
# Hook output kept in the server's memory, per step: a hook printing millions
# of lines (a training loop) would otherwise grow the server without end.
# Past it the step's log has every line and its step_end event the last ones.
MAX_OUTPUT_LINES = 10_000
MAX_OUTPUT_CHARS = 4_000_000


class RunError(GoapError):
    """A run ended before it started: its own message and exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class BackgroundRun:
    """One run subprocess and the events read from it so far."""

    goal: Path
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]
    events: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None
    started: threading.Event = field(default_factory=threading.Event)
    drained: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    kept: dict[str, tuple[int, int]] = field(default_factory=dict)

    def read(self) -> None:
        """Collect the run's JSON lines until it closes its stdout."""
        assert self.process.stdout is not None
        try:
            for raw in iter(lambda: self.process.stdout.readline(MAX_LINE), b""):  # type: ignore[union-attr]
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue  # a cut line; the run's own output is JSON only
                if not isinstance(record, dict):
                    continue
                if record.get("event") == "output":
                    record = self._kept_output(record)
                    if record is None:
                        continue
                with self.lock:
                    self.events.append(record)
                    if record.get("event") == "run_start" and self.run_id is None:
                        self.run_id = str(record.get("run", ""))
                        self.started.set()
        finally:
            self.process.wait()
            self.drained.set()
            self.started.set()

    def _kept_output(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Return an output event to keep, the note that output is cut, or None."""
        step = str(record.get("step", ""))
        lines, chars = self.kept.get(step, (0, 0))
        if lines > MAX_OUTPUT_LINES:
            return None
        chars += len(str(record.get("line", "")))
        lines += 1
        if lines > MAX_OUTPUT_LINES or chars > MAX_OUTPUT_CHARS:
            lines = MAX_OUTPUT_LINES + 1
            record = {
                **{k: v for k, v in record.items() if k != "line"},
                "event": "output_cut",
                "message": (
                    f"more output of {step} than run_status keeps "
                    f"({MAX_OUTPUT_LINES} lines or {MAX_OUTPUT_CHARS} characters); "
                    "its step_end event has the last lines and the path of its "
                    "log, which has them all"
                ),
            }
        self.kept[step] = (lines, chars)
        return record

    def stderr_text(self) -> str:
        """Return the end of what the run wrote on stderr (its messages)."""
        self.stderr.seek(0, os.SEEK_END)
        size = self.stderr.tell()
        self.stderr.seek(max(0, size - STDERR_TAIL))
        return self.stderr.read().decode("utf-8", errors="replace").strip()


def run_arguments(
    goal: Path,
    *,
    targets: Sequence[str] = (),
    tags: Sequence[str] = (),
    skip_tags: Sequence[str] = (),
    vars: dict[str, Any] | None = None,
    sets: dict[str, Any] | None = None,
    yes: bool = False,
    approve: Sequence[str] = (),
    resume: bool = False,
    fresh: bool = False,
    dry_run: bool = False,
) -> list[str]:
    """Return the ``run`` command's arguments.

    Each option as ``--opt=value``: a value starting with "-" stays a value.
    """
    words = ["run", "--format=json", "--wait-for-approval"]
    words += [f"--target={t}" for t in targets]
    words += [f"--tag={t}" for t in tags]
    words += [f"--skip-tag={t}" for t in skip_tags]
    words += [f"--var={name}={as_text(v)}" for name, v in (vars or {}).items()]
    words += [f"--set={name}={as_text(v)}" for name, v in (sets or {}).items()]
    words += [f"--approve={key}" for key in approve]
    flags = {"--yes": yes, "--resume": resume, "--fresh": fresh, "--dry-run": dry_run}
    words += [flag for flag, on in flags.items() if on]
    # After "--" a goal named "-x.yaml" is still a goal.
    return [*words, "--", str(goal)]


def as_text(value: Any) -> str:
    """Return a value as the command line takes it (``true``, ``3``, ``text``)."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


class Runs:
    """The runs this server started, by run id."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._runs: dict[str, BackgroundRun] = {}
        self._lock = threading.Lock()

    def start(self, goal: Path, arguments: list[str]) -> BackgroundRun:
        """Start ``goap-engine ARGUMENTS`` and return it once its run has an id.

        A run that ends before its ``run_start`` event (bad input, a lock
        held, no plan) raises ``RunError`` with its message and exit code.
        """
        # Kept open by the run: it is how its messages are read back.
        stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "goap_engine", *arguments],
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                # A file, not a pipe: the run may outlive this server.
                stderr=stderr,
                start_new_session=True,
            )
        except OSError as exc:
            stderr.close()
            if exc.errno == errno.E2BIG:
                raise InputError(
                    "run: the values given (vars, sets, targets, tags, approve) "
                    f"are too long for the run's command line ({exc.strerror}); "
                    "give shorter ones"
                ) from None
            raise RunError(f"run: cannot start the run: {exc.strerror}", 1) from None
        run = BackgroundRun(goal, process, stderr)
        threading.Thread(target=run.read, name="goap-mcp-run", daemon=True).start()
        run.started.wait()
        if run.run_id is None:
            run.drained.wait()
            code = process.returncode
            message = run.stderr_text() or f"the run ended with exit code {code}"
            raise RunError(message, code)
        with self._lock:
            self._runs[run.run_id] = run
        return run

    def find(self, run_id: str) -> BackgroundRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def cancel(self, run_id: str) -> BackgroundRun:
        """Interrupt a run's process group (SIGTERM), then kill it after a bound.

        SIGTERM, not SIGINT: a server started with SIGINT ignored (in the
        background, under nohup) passes that on to its runs, which would then
        sit out the interrupt until killed, their step's command left running.
        A run ends on SIGTERM exactly as on Ctrl-C.
        """
        run = self.find(run_id)
        if run is None:
            raise InputError(
                f"cancel: no run '{run_id}' started by this server "
                "(a run started elsewhere is stopped where it runs)"
            )
        if run.process.poll() is None:
            _signal_group(run.process.pid, signal.SIGTERM)
            if not run.drained.wait(CANCEL_GRACE):
                _signal_group(run.process.pid, signal.SIGKILL)
                run.drained.wait(CANCEL_GRACE)
        return run


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)  # unless the group has gone


def live_status(
    run: BackgroundRun, cursor: int, redact: Callable[[Any], Any]
) -> dict[str, Any]:
    """Return a started run's events from ``cursor`` and where it stands."""
    with run.lock:
        events = list(run.events)
    ended = run.drained.is_set()
    code = run.process.returncode if ended else None
    answer = summary(run.run_id or "", events, cursor, ended=ended)
    answer["exit_code"] = code
    if ended and answer["status"] is None:
        # Killed before it could journal its end.
        answer["status"] = (
            "interrupted"
            if code
            in (
                -signal.SIGKILL,
                -signal.SIGINT,
                -signal.SIGTERM,
                EXIT_INTERRUPTED,
            )
            else "error"
        )
    if ended and code not in (0, None):
        answer["stderr"] = run.stderr_text()
    answer["goal"] = str(run.goal)
    answer["output"] = "live"
    result: dict[str, Any] = redact(answer)
    return result


def journal_status(
    run_id: str, goal: Path, events: Sequence[dict[str, Any]], cursor: int
) -> dict[str, Any]:
    """Return a run's events from its journal (a run this server did not start)."""
    mine = [e for e in events if e.get("run") == run_id]
    if not mine:
        raise InputError(f"run_status: no run '{run_id}' in the journal of {goal}")
    ended = any(e.get("event") == "run_end" for e in mine)
    answer = summary(run_id, mine, cursor, ended=ended)
    answer.update(exit_code=None, goal=str(goal), output="journal")
    return answer


def summary(
    run_id: str, events: Sequence[dict[str, Any]], cursor: int, *, ended: bool
) -> dict[str, Any]:
    """Return the status fields every run has: events, end, status, approval."""
    if cursor < 0:
        raise InputError(f"run_status: cursor must be 0 or more, found {cursor}")
    status = None
    pending = None
    for event in events:
        kind = event.get("event")
        if kind == "run_end":
            status = event.get("status")
        elif kind == "approval_pending":
            pending = {k: v for k, v in event.items() if k not in ("ts", "t")}
    if status != "waiting":
        pending = None  # a waiting run ends at once: only then does it wait
    shown = list(events[cursor : cursor + MAX_EVENTS])
    return {
        "run": run_id,
        "events": shown,
        "cursor": cursor + len(shown),
        "more": cursor + len(shown) < len(events),
        "ended": ended,
        "status": status,
        "pending_approval": pending,
    }
