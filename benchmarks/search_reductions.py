"""What each search reduction does on the IPC instances, one left out at a time.

Every instance of ``shared/ipc-pddl`` (beside the repository) is solved by
``find_plan`` with A* and LM-cut four times: with everything on, and with one
of these left out:

* ``orbits``: interchangeable objects (the ruleset's classes emptied);
* ``stripping``: effects nobody reads kept in search states;
* ``deferral``: every state evaluated when generated, not when taken out.

(Stubborn sets have their own benchmark, ``stubborn_sets.py``.)  Each run is a
subprocess with a limit of ``--timeout`` CPU seconds (60 by default), run one
at a time; it records expansions, heuristic evaluations, plan cost and the CPU
seconds of ``find_plan``.  Results go to
``benchmarks/results/search_reductions.json``; the instances where leaving a
reduction out changes the expansions or evaluations are printed.

Run ``.venv/bin/python benchmarks/search_reductions.py`` (``--only DOMAIN``
to restrict the domains).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import ROOT, revision

HERE = Path(__file__).resolve().parent
CORPUS = ROOT.parent / "shared" / "ipc-pddl"
RESULTS = HERE / "results" / "search_reductions.json"
MARKER = "SEARCH_REDUCTIONS_RESULT "
VARIANTS = ("all", "orbits", "stripping", "deferral")


def worker(domain: Path, problem: Path, variant: str, timeout: float) -> None:
    """Solve one instance with one reduction left out; print its record."""
    seconds = int(timeout + 0.999)
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    from goap_engine.errors import SearchLimitError
    from goap_engine.pddl.convert import load_pddl
    from goap_engine.planner import plan as plan_module
    from goap_engine.planner import task as task_module
    from goap_engine.planner.heuristics import HEURISTICS

    ruleset = load_pddl(domain, problem)
    if variant == "orbits":
        ruleset = replace(ruleset, interchangeable=())
    if variant == "stripping":
        task_module.unread_variables = lambda actions, goal: frozenset()  # type: ignore[assignment]
    if variant == "deferral":
        search = plan_module.best_first

        def eager(*args: Any, **kwargs: Any) -> Any:
            return search(*args, **{**kwargs, "deferred": False})

        plan_module.best_first = eager  # type: ignore[assignment]
    info = HEURISTICS["lmcut"]
    evaluations = 0
    build = info.build

    def counting(task: Any) -> Any:
        estimate = build(task)

        def counted(state: Any) -> float:
            nonlocal evaluations
            evaluations += 1
            return estimate(state)

        return counted

    object.__setattr__(info, "build", counting)
    began = time.process_time()
    try:
        plan = plan_module.find_plan(
            ruleset,
            search="astar",
            heuristic="lmcut",
            max_seconds=timeout,
            max_nodes=10**12,
        )
    except SearchLimitError:
        record: dict[str, Any] = {"status": "timeout"}
    else:
        record = {
            "status": "solved",
            "cost": plan.cost,
            "expanded": plan.expanded,
            "evaluations": evaluations,
            "cpu_seconds": round(time.process_time() - began, 3),
        }
    print(MARKER + json.dumps(record), flush=True)


def run(instance: Path, variant: str, timeout: float) -> dict[str, Any]:
    """Return the record of one worker subprocess."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "engine"), "PYTHONHASHSEED": "0"}
    argv = [sys.executable, __file__, "--worker", str(instance), variant]
    argv += ["--timeout", str(timeout)]
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=timeout * 3 + 30
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout"}
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            result: dict[str, Any] = json.loads(line[len(MARKER) :])
            return result
    # Killed at the CPU limit, or failed: either way no plan.
    return {"status": "timeout" if done.returncode < 0 else "error"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--only", action="append", default=[], metavar="DOMAIN")
    parser.add_argument("--worker", nargs=2, metavar=("PROBLEM", "VARIANT"))
    args = parser.parse_args()
    if args.worker:
        problem = Path(args.worker[0])
        worker(problem.parent / "domain.pddl", problem, args.worker[1], args.timeout)
        return 0
    if not CORPUS.is_dir():
        print(f"no PDDL corpus at {CORPUS}", file=sys.stderr)
        return 2
    rows: dict[str, dict[str, Any]] = {}
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        if args.only and folder.name not in args.only:
            continue
        for problem in sorted(folder.glob("*.pddl")):
            if problem.name == "domain.pddl":
                continue
            name = f"{folder.name}/{problem.stem}"
            rows[name] = {v: run(problem, v, args.timeout) for v in VARIANTS}
            cells = "  ".join(
                f"{v} {r.get('expanded', r['status'])}/{r.get('evaluations', '-')}"
                f" {r.get('cpu_seconds', '-')}s"
                for v, r in rows[name].items()
            )
            print(f"{name:32} {cells}", flush=True)
    for variant in VARIANTS[1:]:
        changed = [
            name
            for name, row in rows.items()
            if (row[variant].get("expanded"), row[variant].get("evaluations"))
            != (row["all"].get("expanded"), row["all"].get("evaluations"))
        ]
        print(f"without {variant}, different on: {', '.join(changed) or 'none'}")
    RESULTS.write_text(
        json.dumps(
            {
                "about": __doc__.splitlines()[0],
                "revision": revision(),
                "timeout_cpu_s": args.timeout,
                "instances": rows,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
