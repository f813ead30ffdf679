"""What a run shows: one line per event, hook output live, a summary.

With ``--format json`` the journal events stream to stdout as JSON Lines, with
hook output as ``output`` events, and nothing else goes there.  Otherwise lines
go to stderr: on a terminal, coloured, with the running steps and their elapsed
against estimated time kept at the bottom; plain in CI, when piped or with
NO_COLOR, where a step that runs long says so once a minute instead.

``-q`` (level -1) keeps only errors (a failed step, no plan) and the final
verdict; ``-v`` (level 1) adds sensor chatter, whole step names and estimates.
A run narrowed by ``--target`` or ``--tag`` says "target", never "goal".
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from ..console import err_console, plain
from ..planner.schedule import format_duration
from .journal import now
from .runner import RunResult

HEARTBEAT = 60.0


class Reporter:
    """Print run events and hook output as they happen."""

    def __init__(
        self, fmt: str = "text", *, level: int = 0, partial: bool = False
    ) -> None:
        self.fmt = fmt
        self.verbose = level > 0
        self.quiet = level < 0
        self.partial = partial
        self.console = err_console()
        self._lock = threading.Lock()
        # Bound now: during a run sys.stdout is sent to stderr (see Runner.run).
        self._stdout = sys.stdout
        self.run_id = ""
        # label -> (monotonic start, estimated seconds, next heartbeat)
        self.running: dict[str, list[float]] = {}
        self.live_view = fmt == "text" and not plain() and not self.quiet
        self._live: Any = None
        self._beat: threading.Thread | None = None
        self._closed = threading.Event()
        self._stdout_closed = False
        self._stderr_closed = False

    def close(self) -> None:
        """Stop the live view and the heartbeat."""
        self._closed.set()
        with self._lock:
            self.running.clear()
            self._show_running()

    def _show_running(self) -> None:
        """Start, refresh or stop the bottom view of running steps (lock held)."""
        if self.quiet:
            return
        if not self.live_view:
            if self.running and self._beat is None and not self._closed.is_set():
                self._beat = threading.Thread(target=self._heartbeat, daemon=True)
                self._beat.start()
            return
        if self.running and self._live is None:
            from rich.live import Live

            self._live = Live(
                get_renderable=self._status,
                console=self.console,
                refresh_per_second=4,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        elif not self.running and self._live is not None:
            # Stopped whenever nothing runs, so a prompt never fights it.
            self._live.stop()
            self._live = None

    def _status(self) -> Any:
        from rich.text import Text

        text = Text()
        moment = time.monotonic()
        for label, (began, estimated, _) in list(self.running.items()):
            elapsed = format_duration(moment - began)
            text.append(f"  running {label}: {elapsed}", style="bold cyan")
            text.append(f" of ~{format_duration(estimated)}\n", style="dim")
        text.rstrip()
        return text

    def _heartbeat(self) -> None:
        while not self._closed.wait(1.0):
            moment = time.monotonic()
            with self._lock:
                due = [
                    (label, item)
                    for label, item in self.running.items()
                    if moment >= item[2]
                ]
                for label, item in due:
                    item[2] += HEARTBEAT
                    self._print(
                        f"[{label}] still running: "
                        f"{format_duration(moment - item[0])} of "
                        f"~{format_duration(item[1])}",
                        None,
                    )

    def _line(self, text: str, style: str | None = None) -> None:
        with self._lock:
            self._print(text, style)

    def _print(self, text: str, style: str | None) -> None:
        """Print one line to stderr (lock held); a closed pipe silences it."""
        if self._stderr_closed:
            return
        try:
            if self.live_view:
                self.console.print(
                    text, style=style, markup=False, highlight=False, soft_wrap=True
                )
            else:
                # Plain lines need no rich: a hook printing thousands of
                # lines a second must not wait for the console.
                sys.stderr.write(text + "\n")
                sys.stderr.flush()
        except (BrokenPipeError, ValueError):
            # The reader went away (| head): the run goes on, unseen; the
            # journal and the step logs still get everything.
            self._stderr_closed = True
            _silence(sys.stderr)

    def _emit_json(self, record: dict[str, Any]) -> None:
        """Write one JSON line to stdout (lock held); a closed pipe silences it."""
        if self._stdout_closed:
            return
        try:
            self._stdout.write(json.dumps(record, default=str) + "\n")
            self._stdout.flush()
        except (BrokenPipeError, ValueError):
            self._stdout_closed = True
            _silence(self._stdout)

    def event(self, record: dict[str, Any]) -> None:
        kind = record.get("event")
        if kind == "run_start":
            self.run_id = str(record.get("run", ""))
        if self.fmt == "json":
            with self._lock:
                self._emit_json(record)
            return
        step = record.get("step", "")
        if self.quiet and not _error(record):
            return
        if kind == "run_start":
            resumed = (
                f" (resuming {record['resume_of']})" if record.get("resume_of") else ""
            )
            self._line(
                f"run {record.get('run')}: {record.get('goal')}{resumed}", "bold"
            )
        elif kind == "sensed":
            values = ", ".join(
                f"{k}={v!r}" for k, v in record.get("values", {}).items()
            )
            if values:
                self._line(f"sensed: {values}", "dim")
            for name, error in record.get("errors", {}).items():
                self._line(f"sensor {name} failed: {error}", "yellow")
        elif kind == "plan":
            steps = record.get("steps", [])
            names = steps if self.verbose else [s.split(":")[0] for s in steps]
            guarantee = f" ({record['guarantee']})" if self.verbose else ""
            self._line(
                f"plan: {len(steps)} steps, cost {record.get('cost'):g}"
                f"{guarantee}" + (": " + ", ".join(names) if names else ""),
                "cyan",
            )
        elif kind == "step_start":
            estimate = record.get("estimated")
            about = f"  (~{format_duration(float(estimate))})" if estimate else ""
            if not self.quiet:  # let through for its failure's timing only
                self._line(
                    f"[{step}] $ {record.get('command')}{about if self.verbose else ''}"
                )
            with self._lock:
                self.running[step] = [
                    time.monotonic(),
                    float(record.get("estimated") or 0),
                    time.monotonic() + HEARTBEAT,
                ]
                self._show_running()
        elif kind == "step_end":
            with self._lock:
                self.running.pop(step, None)
                self._show_running()
            status = record.get("status")
            took = format_duration(float(record.get("seconds") or 0))
            if status == "ok":
                self._line(f"[{step}] ok ({took})", "green")
            else:
                detail = record.get("message") or ""
                self._line(
                    f"[{step}] {str(status).upper()} ({took}) {detail}".rstrip(),
                    "bold red",
                )
                if record.get("log"):
                    self._line(f"[{step}] whole output: {record['log']}", "red")
        elif kind == "step_skipped":
            self._line(f"[{step}] skipped: {record.get('reason')}", "dim")
        elif kind == "retry":
            self._line(
                f"[{step}] retry {record.get('attempt')} in {record.get('delay'):g}s",
                "yellow",
            )
        elif kind == "replan":
            self._line(
                f"replanning ({record.get('number')}): {record.get('reason')}", "yellow"
            )
        elif kind == "no_plan":
            self._line(f"no plan: {record.get('message')}", "bold red")
            for line in record.get("explanation", []):
                self._line(f"  {line}")
        elif kind == "dry_run_step":
            marks = []
            if record.get("approval"):
                why = "irreversible" if record.get("irreversible") else "approval"
                state = "approved" if record.get("approved") else "needs approval"
                marks.append(f"{why}, {state}")
            marks.append(f"if interrupted: {record.get('on_interrupt')}")
            self._line(
                f"[{step}] would run: {record.get('command')} ({'; '.join(marks)})"
            )
        elif kind == "forgotten":
            for name, why in (record.get("facts") or {}).items():
                self._line(f"forgot {name}: {why}", "dim")
        elif kind == "warning":
            # The message names its own severity and location.
            self._line(str(record.get("message")), "yellow")
        elif kind == "leftovers_ended":
            self._line(
                f"ended {record.get('processes')} process(es) the interrupted run "
                f"{record.get('interrupted_run')} left running",
                "yellow",
            )
        elif kind == "tracked":
            self._line(f"logged to MLflow: run {record.get('mlflow_run')}", "dim")
        elif kind == "track_failed":
            self._line(f"MLflow logging failed: {record.get('message')}", "yellow")
        elif kind == "log" and self.verbose:
            # Sensor chatter; the journal keeps it.
            self._line(f"  {record.get('message')}", "dim")

    def output(self, label: str, line: str) -> None:
        """Show one line of a hook's output (already redacted) as it comes."""
        if self.fmt == "json":
            record = {"ts": now(), "t": time.time(), "event": "output"}
            record.update(run=self.run_id, step=label, line=line)
            with self._lock:
                self._emit_json(record)
            return
        if self.quiet:
            return  # the step log keeps it
        with self._lock:
            # One print per line under the lock: lines of parallel steps
            # interleave but never mix within a line.
            self._print(f"  [{label}] | {line}", "dim")

    def summary(self, result: RunResult) -> None:
        self.close()
        if self.fmt == "json":
            return
        if not self.quiet:
            self._line("")
        what = "target" if self.partial else "goal"
        verdict = f"{what} reached" if result.reached else f"{what} NOT reached"
        counts = f"({len(result.steps)} steps, {result.replans} replans)"
        style = "bold green" if result.reached else "bold red"
        if result.dry_run:
            # Nothing ran, so "goal NOT reached" would read as a failure.
            verdict = "dry run: nothing ran"
            counts = f"({len(result.steps)} steps planned)"
            style = "bold green"
        elif result.status == "waiting":
            # Nothing failed: the run stopped where a person decides.
            verdict = f"{what} not reached yet, waiting for approval"
            style = "bold yellow"
        self._line(f"{verdict} in {format_duration(result.seconds)} {counts}", style)
        if result.reason:
            self._line(f"  {result.reason}")
        if self.partial and result.reached and not result.steps:
            self._line("  the target already held: nothing to do")
        if self.quiet:
            return
        for name, ok in result.subgoals.items():
            self._line(f"  [{'x' if ok else ' '}] {name}")
        if result.steps:
            width = max(len("total"), *(len(s.label) for s in result.steps))
            self._line(f"  {'step'.ljust(width)}  status   estimated  actual")
            for s in result.steps:
                self._line(
                    f"  {s.label.ljust(width)}  {s.status.ljust(7)}  "
                    f"{format_duration(s.estimated).rjust(9)}  {s.actual:6.2f}s"
                )
            estimated = sum(s.estimated for s in result.steps if s.status != "skipped")
            actual = sum(s.actual for s in result.steps)
            total = format_duration(estimated).rjust(9)
            self._line(f"  {'total'.ljust(width)}           {total}  {actual:6.2f}s")


def _error(record: dict[str, Any]) -> bool:
    """Return whether an event reports an error, which ``-q`` still shows."""
    kind = record.get("event")
    if kind == "step_end":
        return record.get("status") != "ok"
    return kind in ("step_start", "no_plan")


def _silence(stream: Any) -> None:
    """Point a closed pipe's stream at /dev/null so exit does not complain."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
