"""What a run shows: one line per event, hook output grouped per step, a summary.

With ``--format json`` the journal events stream to stdout as JSON Lines and
nothing else goes there.  Otherwise lines go to stderr, coloured on a terminal
and plain in CI or with NO_COLOR.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import click

from ..console import err_console
from ..planner.schedule import format_duration
from .runner import RunResult


class Reporter:
    """Print run events and hook output as they happen."""

    def __init__(self, fmt: str = "text", *, verbose: bool = False) -> None:
        self.fmt = fmt
        self.verbose = verbose
        self.console = err_console()
        self._lock = threading.Lock()
        # Bound now: during a run sys.stdout is sent to stderr (see Runner.run).
        self._stdout = sys.stdout

    def _line(self, text: str, style: str | None = None) -> None:
        with self._lock:
            self.console.print(
                text, style=style, markup=False, highlight=False, soft_wrap=True
            )

    def event(self, record: dict[str, Any]) -> None:
        if self.fmt == "json":
            with self._lock:
                click.echo(json.dumps(record, default=str), file=self._stdout)
            return
        kind = record.get("event")
        step = record.get("step", "")
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
            self._line(
                f"plan: {len(steps)} steps, cost {record.get('cost'):g}: "
                + ", ".join(s.split(":")[0] for s in steps),
                "cyan",
            )
        elif kind == "step_start":
            self._line(f"[{step}] $ {record.get('command')}")
        elif kind == "step_end":
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
            mark = " (irreversible)" if record.get("irreversible") else ""
            self._line(f"[{step}] would run: {record.get('command')}{mark}")
        elif kind == "tracked":
            self._line(f"logged to MLflow: run {record.get('mlflow_run')}", "dim")
        elif kind == "track_failed":
            self._line(f"MLflow logging failed: {record.get('message')}", "yellow")
        elif kind == "log" and self.verbose:
            # Sensor chatter; the journal keeps it.
            self._line(f"  {record.get('message')}", "dim")

    def output(self, label: str, text: str) -> None:
        if self.fmt == "json" or not text.strip():
            return
        lines = text.rstrip("\n").splitlines()
        with self._lock:
            for line in lines:
                self.console.print(
                    f"  [{label}] | {line}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                    style="dim",
                )

    def summary(self, result: RunResult) -> None:
        if self.fmt == "json":
            return
        self._line("")
        verdict = "goal reached" if result.reached else "goal NOT reached"
        self._line(
            f"{verdict} in {format_duration(result.seconds)} "
            f"({len(result.steps)} steps, {result.replans} replans)",
            "bold green" if result.reached else "bold red",
        )
        if result.reason:
            self._line(f"  {result.reason}")
        for name, ok in result.subgoals.items():
            self._line(f"  [{'x' if ok else ' '}] {name}")
        if result.steps:
            width = max(len(s.label) for s in result.steps)
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
