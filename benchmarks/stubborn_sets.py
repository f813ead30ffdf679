"""Measure strong stubborn set pruning on the IPC instances: A*/LM-cut with and without.

Every instance of ``shared/ipc-pddl`` (beside the repository) is solved twice
by ``find_plan`` with A* and LM-cut: once with ``stubborn_sets=False`` and once
with the default pruning.  Each run is a subprocess of its own (this script
with ``--worker``), run one at a time, with a limit of ``--timeout`` seconds
(60 by default) of CPU time, so that other work on the machine does not count
against a run; wall-clock seconds are recorded too.  The time is that of
``find_plan`` (compile, search, replay), not of parsing and grounding.

For the pruned run the worker also records what the pruning saw in its first
states (how many applicable successors, how many pruned) and whether it then
turned itself off for pruning too little.

Run ``.venv/bin/python benchmarks/stubborn_sets.py`` (``--only DOMAIN`` to
restrict the domains).  The results go to ``benchmarks/results/stubborn_sets.json``
and a summary to standard output.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCHMARKS = ROOT.parent / "shared" / "ipc-pddl"
RESULTS = HERE / "results" / "stubborn_sets.json"
MARKER = "STUBBORN_SETS_RESULT "
KILL_AFTER_S = 30.0


def worker(domain: Path, problem: Path, pruning: bool, timeout: float) -> None:
    """Solve one instance in this process and print its result record."""
    seconds = int(timeout + 0.999)
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    from goap_engine.errors import NoPlanError, SearchLimitError
    from goap_engine.pddl.convert import load_pddl
    from goap_engine.planner import plan as plan_module
    from goap_engine.planner.stubborn import StubbornSets

    seen: list[StubbornSets] = []

    class Recorded(StubbornSets):
        """The pruning find_plan builds, kept here to read its counters."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            seen.append(self)

    plan_module.StubbornSets = Recorded  # type: ignore[misc]
    ruleset = load_pddl(domain, problem)
    began, began_cpu = time.perf_counter(), time.process_time()
    record: dict[str, Any]
    try:
        plan = plan_module.find_plan(
            ruleset,
            search="astar",
            heuristic="lmcut",
            max_seconds=1e9,
            max_nodes=10**12,
            stubborn_sets=pruning,
        )
    except SearchLimitError as exc:
        record = {"status": "limit", "detail": str(exc)}
    except NoPlanError as exc:
        record = {"status": "unsolvable", "detail": str(exc)}
    else:
        record = {
            "status": "solved",
            "cost": plan.cost,
            "expanded": plan.expanded,
            "generated": plan.generated,
            "seconds": time.perf_counter() - began,
            "cpu_seconds": time.process_time() - began_cpu,
        }
    if seen:
        record["pruning"] = {
            "states_checked": seen[0].calls,
            "applicable": seen[0].applicable,
            "pruned": seen[0].pruned,
            "turned_off": seen[0].disabled,
        }
    print(MARKER + json.dumps(record), flush=True)


def run(domain: Path, problem: Path, pruning: bool, timeout: float) -> dict[str, Any]:
    """Return the record of one worker subprocess (a timeout if it is killed)."""
    argv = [sys.executable, __file__, "--worker", str(domain), str(problem)]
    argv += ["--timeout", str(timeout), "--pruning", "on" if pruning else "off"]
    began = time.perf_counter()
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout + KILL_AFTER_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "detail": "killed at the wall-clock limit"}
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            record: dict[str, Any] = json.loads(line[len(MARKER) :])
            return record
    wall = time.perf_counter() - began
    # RLIMIT_CPU ends the process with SIGXCPU: the time limit was reached.
    if done.returncode in (-24, 152):
        return {"status": "timeout", "detail": f"CPU limit after {wall:.0f} s"}
    tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
    return {"status": "error", "detail": tail[0]}


def instances(only: list[str]) -> list[tuple[str, str, Path, Path, int | None]]:
    """Return (domain, problem, domain file, problem file, optimum) of each instance."""
    with (BENCHMARKS / "optimal-costs.csv").open(newline="") as handle:
        optimum = {
            (r["domain"], r["problem"]): int(r["optimal_cost"])
            for r in csv.DictReader(handle)
        }
    found = []
    for folder in sorted(p for p in BENCHMARKS.iterdir() if p.is_dir()):
        if only and folder.name not in only:
            continue
        for problem in sorted(folder.glob("*.pddl")):
            if problem.name != "domain.pddl":
                key = (folder.name, problem.stem)
                found.append((*key, folder / "domain.pddl", problem, optimum.get(key)))
    return found


def summary_line(name: str, off: dict[str, Any], on: dict[str, Any]) -> str:
    """Return one line comparing the two runs of an instance."""

    def show(record: dict[str, Any]) -> str:
        if record["status"] != "solved":
            return f"{record['status']:>28}"
        return (
            f"{record['expanded']:>8} exp {record['generated']:>9} gen "
            f"{record['cpu_seconds']:>6.2f} s"
        )

    pruning = on.get("pruning")
    if not pruning:
        return f"{name:<34} {show(off)} | {show(on)} |"
    ratio = (
        f"{pruning['pruned'] / pruning['applicable']:.0%}"
        if pruning["applicable"]
        else "-"
    )
    state = "turned off" if pruning["turned_off"] else "on"
    return f"{name:<34} {show(off)} | {show(on)} | pruned {ratio:>4} ({state})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="a domain")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pruning", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker, args.pruning == "on", args.timeout)
        return
    rows = []
    for domain, problem, domain_file, problem_file, optimum in instances(args.only):
        off = run(domain_file, problem_file, False, args.timeout)
        on = run(domain_file, problem_file, True, args.timeout)
        for record in (off, on):
            if record["status"] == "solved" and record["cost"] != optimum:
                record["status"] = "wrong cost"
        name = f"{domain}/{problem}"
        print(summary_line(name, off, on), flush=True)
        rows.append({"instance": name, "optimum": optimum, "without": off, "with": on})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "about": "A*/LM-cut with and without strong stubborn set pruning",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "timeout_cpu_s": args.timeout,
        "runs": rows,
    }
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
