"""Measure the engine's overhead per step of ``goap-engine run``.

A goal of N independent no-op steps is run with durable writes on (state file
rewritten atomically and journal fsynced after every step).  Hooks are python
built-ins that return at once, so the wall time is the engine's own: sensing,
planning, precondition checks, journal and state writes.  A second run with
``true`` shell hooks shows the cost of a subprocess per step for comparison.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from goap_engine import find_plan, load
from goap_engine.executor.runner import Runner, RunOptions
from goap_engine.executor.workspace import journal_path

STEPS = 500


def write_goal(folder: Path, steps: int, hook: str) -> Path:
    """Write a goal of ``steps`` chained no-op actions and return its path."""
    lines = ["version: 1", "state:"]
    lines += [f"  s{i}: bool" for i in range(steps)]
    lines.append("actions:")
    for i in range(steps):
        pre = f"pre: s{i - 1}, " if i else ""
        lines.append(f"  a{i}: {{{pre}effects: {{s{i}: true}}, run: {hook}}}")
    lines.append(f"goal: s{steps - 1}")
    # Greedy search: the plan is forced anyway, and its time is measured apart.
    lines.append("policy: {search: gbfs, heuristic: hff}")
    path = folder / "goal.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(steps: int, hook: str, where: str | None = None) -> dict[str, float]:
    """Return timings of one run of a ``steps``-step goal with ``hook``."""
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        goal = write_goal(Path(tmp), steps, hook)
        ruleset = load(goal)
        planned = time.perf_counter()
        find_plan(ruleset)
        planning = time.perf_counter() - planned
        began = time.perf_counter()
        result = Runner(ruleset, RunOptions(yes=True, durable=True)).run()
        total = time.perf_counter() - began
        assert result.reached, result.reason
        hook_seconds = sum(s.actual for s in result.steps)
        journal = journal_path(ruleset)
        events = sum(1 for _ in journal.open())
    return {
        "steps": steps,
        "total_s": round(total, 3),
        "hooks_s": round(hook_seconds, 3),
        "planning_s": round(planning, 3),
        "overhead_ms_per_step": round(
            (total - hook_seconds - planning) / steps * 1000, 3
        ),
        # Everything but planning: the engine's own work plus the hook's,
        # which for a python no-op is the round trip to its worker process.
        "wall_ms_per_step": round((total - planning) / steps * 1000, 3),
        "journal_events": events,
    }


def main() -> None:
    """Print a Markdown table and write benchmarks/results/run_overhead.json."""
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else STEPS
    here = str(Path(__file__).resolve().parent)
    noop = "{builtin: env.has, with: {name: HOME}}"
    rows = {
        "python no-op, project disk": measure(steps, noop, here),
        "shell `true`, project disk": measure(steps, "'true'", here),
    }
    if Path("/dev/shm").is_dir():
        rows["python no-op, tmpfs (no disk latency)"] = measure(steps, noop, "/dev/shm")
    print(
        f"| hook ({steps} steps, durable writes) | total | hooks | planning "
        "| overhead/step | wall/step |"
    )
    print("|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['total_s']} s | {row['hooks_s']} s | "
            f"{row['planning_s']} s | {row['overhead_ms_per_step']} ms | "
            f"{row['wall_ms_per_step']} ms |"
        )
    out = Path(__file__).parent / "results" / "run_overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
