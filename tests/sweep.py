"""Run validate, plan and run --dry-run on each goal given; print one JSON line each.

Used by tests/test_hostile_corpus.py in a process of its own: every command
runs in this one interpreter (an engine start per command would cost minutes)
under an alarm, so a command that blocks on a FIFO or loops is reported as
hung instead of stopping the sweep.  A line is printed before the alarm is
cancelled.  A command stuck in C code (where the alarm's handler cannot
run) is reported by a watchdog thread, which then ends this process: the
caller starts a new sweep after that command.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from goap_engine.cli import main

LIMIT = float(os.environ.get("SWEEP_LIMIT", "20"))
KEEP_OUTPUT = bool(os.environ.get("SWEEP_KEEP_OUTPUT"))
COMMANDS = (["validate"], ["plan", "--no-sense"], ["run", "--dry-run"])


class Hung(BaseException):
    """Raised by the alarm; not an Exception, so no handler in the engine eats it."""


def _alarm(signum: int, frame: Any) -> None:
    raise Hung


def _report(goal: Path, args: list[str], code: int, hung: bool, **more: Any) -> None:
    line = {"goal": str(goal), "args": args, "exit": code, "hung": hung, **more}
    print(json.dumps(line), flush=True)


def _stuck(goal: Path, args: list[str]) -> None:
    _report(goal, args, -1, True, traceback=False, error="stuck in C code")
    os._exit(3)


def sweep(goals: list[Path]) -> None:
    signal.signal(signal.SIGALRM, _alarm)
    runner = CliRunner()
    for goal in goals:
        os.chdir(goal.parent)
        for command in COMMANDS:
            args = [*command, goal.name]
            hung = False
            watchdog = threading.Timer(LIMIT + 10, _stuck, (goal, args))
            watchdog.daemon = True
            watchdog.start()
            signal.setitimer(signal.ITIMER_REAL, LIMIT)
            try:
                result = runner.invoke(main, args, catch_exceptions=True)
                code = result.exit_code
                output = result.output
                escaped = result.exception
                if isinstance(escaped, SystemExit):
                    escaped = None
            except Hung:
                hung, code, output, escaped = True, -1, "", None
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                watchdog.cancel()
            _report(
                goal,
                args,
                code,
                hung,
                traceback=escaped is not None or "Traceback" in output,
                error=repr(escaped) if escaped else "",
                output=output[-2000:] if code == 70 or KEEP_OUTPUT else "",
            )


if __name__ == "__main__":
    sweep([Path(a).resolve() for a in sys.argv[1:]])
