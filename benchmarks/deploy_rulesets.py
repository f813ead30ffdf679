"""Plan deployment-like rulesets with ``str`` and ``enum`` state, before and after.

Each ruleset has N independent booleans (``b0`` .. ``bN-1``, one action each)
and goal conditions on text state, written as deployment goals often are: one
expression ``b0 and ... and <text conditions>``.  Cases:

* ``bools-N-carried``: ``carried != 'none'``, where ``carried`` (a ``str``) is
  set by a ``pick`` action (N = 16, 24, 32);
* ``bools-N-enums``: three enums of 3 to 5 values (``stage``, ``region``,
  ``channel``), each set by actions guarded by the previous value
  (``stage`` goes ``dev -> staging -> prod``), with ``!=``, ``==`` and ``in``
  goal conditions, plus ``carried != 'none'``.

Every case is planned with A* and LM-cut (the default) in a subprocess of its
own, with the package found on ``--engine`` (default: this checkout's), so the
same script measures an older planner: ``--engine /tmp/old/engine --label
before``.  A run over ``--timeout`` seconds or ``--max-nodes`` expansions is
reported as a limit.  Results (expansions, CPU seconds, plan cost) are merged
into ``benchmarks/results/deploy_rulesets.json`` under the label.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import revision

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "deploy_rulesets.json"
SIZES = (16, 24, 32)


def carried(count: int) -> str:
    """Return the YAML of ``count`` booleans plus ``carried != 'none'``."""
    lines = ["version: 1", "state:"]
    lines += [f"  b{i}: {{type: bool, default: false}}" for i in range(count)]
    lines.append("  carried: {type: str, default: none}")
    lines.append("actions:")
    lines += [f"  set{i}: {{effects: {{b{i}: true}}}}" for i in range(count)]
    lines.append("  pick: {effects: {carried: box}}")
    goal = [*(f"b{i}" for i in range(count)), "carried != 'none'"]
    lines.append(f"goal: [{json.dumps(' and '.join(goal))}]")
    return "\n".join(lines) + "\n"


def enums(count: int) -> str:
    """Return the YAML of ``count`` booleans plus three enums and a string."""
    lines = ["version: 1", "state:"]
    lines += [f"  b{i}: {{type: bool, default: false}}" for i in range(count)]
    lines += [
        "  stage: {type: enum, values: [dev, staging, prod], default: dev}",
        "  region: {type: enum, values: [none, eu, us, ap], default: none}",
        "  channel: {type: enum, values: [off, alpha, beta, rc, stable], default: off}",
        "  carried: {type: str, default: none}",
        "actions:",
    ]
    lines += [f"  set{i}: {{effects: {{b{i}: true}}}}" for i in range(count)]
    lines += [
        "  stage_up: {pre: [\"stage == 'dev'\"], effects: {stage: staging}}",
        "  promote: {pre: [\"stage == 'staging' and b0\"], effects: {stage: prod}}",
        "  pick_region: {pre: [\"region == 'none'\"], effects: {region: eu}}",
        "  move_region: {pre: [\"region != 'none'\"], effects: {region: us}}",
        "  open_beta: {pre: [\"stage != 'dev'\"], effects: {channel: beta}}",
        "  release: {pre: [\"channel == 'beta' and region != 'none'\"],"
        " effects: {channel: stable}, cost: 2}",
        "  pick: {effects: {carried: box}}",
    ]
    goal = [
        *(f"b{i}" for i in range(count)),
        "stage == 'prod'",
        "region in ('us', 'ap')",
        "channel != 'off'",
        "channel == 'stable'",
        "carried != 'none'",
    ]
    lines.append(f"goal: [{json.dumps(' and '.join(goal))}]")
    return "\n".join(lines) + "\n"


CASES = {
    **{f"bools-{n}-carried": (carried, n) for n in SIZES},
    **{f"bools-{n}-enums": (enums, n) for n in SIZES},
}


def worker(path: str, timeout: float, max_nodes: int) -> None:
    """Plan the ruleset at ``path`` and print one JSON record."""
    from goap_engine import load
    from goap_engine.errors import SearchLimitError
    from goap_engine.planner.plan import find_plan

    ruleset = load(Path(path))
    began = time.process_time()
    try:
        plan = find_plan(ruleset, max_seconds=timeout, max_nodes=max_nodes)
    except SearchLimitError as exc:
        record: dict[str, Any] = {"status": "limit", "detail": str(exc)}
    else:
        record = {"status": "solved", "cost": plan.cost, "expanded": plan.expanded}
    record["cpu_s"] = round(time.process_time() - began, 3)
    print(json.dumps(record))


def run_case(
    name: str, engine: Path, folder: Path, timeout: float, max_nodes: int
) -> dict[str, Any]:
    """Plan one case in a subprocess and return its record."""
    make, size = CASES[name]
    path = folder / f"{name}.yaml"
    path.write_text(make(size))
    env = {**os.environ, "PYTHONPATH": str(engine)}
    argv = [sys.executable, __file__, "--worker", str(path)]
    argv += ["--timeout", str(timeout), "--max-nodes", str(max_nodes)]
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=timeout * 3 + 30
        )
    except subprocess.TimeoutExpired:
        return {"status": "killed"}
    if done.returncode != 0:
        return {"status": "error", "detail": done.stderr.strip()[-300:]}
    record: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", type=Path, default=HERE.parent / "engine")
    parser.add_argument("--label", default="after")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--max-nodes", type=int, default=2_000_000)
    parser.add_argument("--only", nargs="*", default=list(CASES))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.timeout, args.max_nodes)
        return
    results: dict[str, Any] = (
        json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    )
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only:
            runs[name] = run_case(
                name, args.engine, Path(folder), args.timeout, args.max_nodes
            )
            print(name, json.dumps(runs[name]), flush=True)
    results[args.label] = {
        "revision": revision() if args.label == "after" else args.label,
        "engine": str(args.engine),
        "timeout_s": args.timeout,
        "max_nodes": args.max_nodes,
        "runs": runs,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
