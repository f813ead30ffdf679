"""Evaluations per second of each relaxation heuristic on IPC instances.

For each instance the states are those of a deterministic random walk from
the initial state (seed 1, up to ``--states`` states); each heuristic is
evaluated on all of them, over and over for at least ``--seconds`` seconds,
and the script reports evaluations per second and the mean estimate (a change
of the mean says the heuristic itself changed, not only its speed).

The work happens in a subprocess with the package found on ``--engine``
(default: this checkout's), so the same script measures an older planner:
``--engine /tmp/old/engine --label before``.  Results are merged into
``benchmarks/results/heuristic_speed.json`` under the label.

Run ``.venv/bin/python benchmarks/heuristic_speed.py --label after`` on an
otherwise quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import ROOT, revision

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "heuristic_speed.json"
CORPUS = ROOT.parent / "shared" / "ipc-pddl"
INSTANCES = (
    "depot/p03",
    "gripper/prob05",
    "visitall/problem05-full",
    "blocksworld/probBLOCKS-8-0",
    "logistics/probLOGISTICS-6-0",
)
HEURISTICS = ("hmax", "hff", "lmcut")

WORKER = r"""
import json, random, sys, time
from pathlib import Path
from goap_engine.pddl.convert import load_pddl
from goap_engine.planner.heuristics import HEURISTICS
from goap_engine.planner.plan import state_of
from goap_engine.planner.task import compile_task

corpus, instance = sys.argv[1], sys.argv[2]
states_wanted, seconds = int(sys.argv[3]), float(sys.argv[4])
names = sys.argv[5].split(",")
domain, problem = instance.split("/")
folder = Path(corpus) / domain
ruleset = load_pddl(folder / "domain.pddl", folder / f"{problem}.pddl")
start = state_of(ruleset, None)
task = compile_task(ruleset, start)
rng = random.Random(1)
states, state = [start], start
while len(states) < states_wanted:
    children = [r[0] for r in (s(state) for s in task.successors) if r is not None]
    if not children:
        break
    state = rng.choice(children)
    states.append(state)
result = {}
for name in names:
    h = HEURISTICS[name].build(task)
    values = [h(s) for s in states]
    count, began = 0, time.perf_counter()
    while True:
        for s in states:
            h(s)
        count += len(states)
        elapsed = time.perf_counter() - began
        if elapsed >= seconds:
            break
    result[name] = {
        "evals_per_s": round(count / elapsed, 1),
        "ms_per_eval": round(1000 * elapsed / count, 4),
        "mean_h": round(sum(values) / len(values), 3),
        "states": len(states),
    }
print(json.dumps(result))
"""


def measure(engine: Path, instance: str, states: int, seconds: float) -> dict[str, Any]:
    """Return the worker's numbers for one instance, run on ``engine``."""
    env = {**os.environ, "PYTHONPATH": str(engine), "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            WORKER,
            str(CORPUS),
            instance,
            str(states),
            str(seconds),
            ",".join(HEURISTICS),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    numbers: dict[str, Any] = json.loads(done.stdout)
    return numbers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", type=Path, default=ROOT / "engine")
    parser.add_argument("--label", default="current")
    parser.add_argument("--states", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"no PDDL corpus at {CORPUS}", file=sys.stderr)
        return 2
    rows = {}
    for instance in INSTANCES:
        rows[instance] = measure(args.engine, instance, args.states, args.seconds)
        cells = "  ".join(
            f"{name} {rows[instance][name]['evals_per_s']:>8,.0f}/s "
            f"(h {rows[instance][name]['mean_h']:.2f})"
            for name in HEURISTICS
        )
        print(f"{instance:<30} {cells}", flush=True)
    results: dict[str, Any] = (
        json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    )
    engine_revision = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=args.engine,
        capture_output=True,
        text=True,
    ).stdout.strip()
    results[args.label] = {
        "engine": engine_revision or "unknown",
        "script": revision(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "load": round(os.getloadavg()[0], 2),
        "instances": rows,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
