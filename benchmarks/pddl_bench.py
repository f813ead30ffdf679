"""Compare the PDDL planner with pyperplan on IPC STRIPS instances.

The instances are the folders of ``shared/ipc-pddl`` beside the repository (one
folder per domain with ``domain.pddl`` and problem files, known optimal costs
in ``optimal-costs.csv``).  Every instance is solved by seven configurations:

* ours, optimal: A* with LM-cut (the default) and A* with h_max;
* ours, satisficing: greedy best-first search with h_FF, lazy greedy search
  with h_FF's preferred operators, and the anytime search (h_FF) stopped
  after ``--anytime-seconds`` (10 s), which returns its best plan then;
* pyperplan, optimal: A* with h_max;
* pyperplan, satisficing: greedy best-first search with h_FF.

Each run is a subprocess of its own (this script with ``--worker``), so memory
is isolated and a run that exceeds the time limit is killed.  The worker times
the whole job (parse, ground and search; interpreter start-up and imports are
not counted) and the part after grounding (``search``: for ours the whole of
``find_plan``, for pyperplan building the heuristic and searching), both in
wall-clock and in CPU seconds.  ``--clock`` says which of the two the time
limit and the report use: ``wall`` (the default) suits an otherwise idle
machine; ``cpu`` keeps other load on the machine from counting against a run
(the limit is then the CPU time limit of the process, and a wall-clock kill at
``CPU_KILL_FACTOR`` times the limit is only a safety net).  A run that takes
longer than ``--timeout`` counts as unsolved even if it ends with a plan.

Every plan is replayed by ``goap_engine.pddl.validate.validate_plan`` on the
grounding of the instance; the cost it returns is the one reported, and for
optimal configurations it is compared with the known optimum.

Run ``.venv/bin/python benchmarks/pddl_bench.py`` (``--jobs 1`` for timings
without a second run competing for the machine, ``--clock cpu`` when other
work shares it, ``--only DOMAIN`` to restrict the domains, ``--timeout`` to
change the 60 s limit, ``--resume`` to keep the runs of earlier results and
run only the missing or failed ones).  The table is written to
``benchmarks/results/pddl_bench.md`` and the raw results to
``benchmarks/results/pddl_bench.json``.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCHMARKS = Path(__file__).resolve().parents[1].parent / "shared" / "ipc-pddl"
RESULTS = HERE / "results"
MARKER = "PDDL_BENCH_RESULT "
# Interpreter start-up and imports happen before the worker's clock starts; the
# kill comes this much after the time limit so they do not eat into it.
KILL_GRACE_S = 5.0
CPU_KILL_FACTOR = 10.0
SLOW_PYPERPLAN_S = 1.0
TARGET_OPTIMAL_SOLVED = 36
TARGET_SPEEDUP = 3.0


@dataclass(frozen=True)
class Config:
    """A planner configuration: who plans, with which search and heuristic."""

    key: str
    label: str
    planner: str
    search: str
    heuristic: str
    optimal: bool


CONFIGS: tuple[Config, ...] = (
    Config("ours_astar_lmcut", "ours A*/LM-cut", "ours", "astar", "lmcut", True),
    Config("ours_astar_hmax", "ours A*/h_max", "ours", "astar", "hmax", True),
    Config("pp_astar_hmax", "pyperplan A*/h_max", "pyperplan", "astar", "hmax", True),
    Config("ours_gbfs_hff", "ours GBFS/h_FF", "ours", "gbfs", "hff", False),
    Config("pp_gbfs_hff", "pyperplan GBFS/h_FF", "pyperplan", "gbfs", "hff", False),
    Config("ours_lazy_hff", "ours lazy/h_FF", "ours", "lazy", "hff", False),
    Config("ours_anytime_hff", "ours anytime/h_FF", "ours", "anytime", "hff", False),
)
BY_KEY = {c.key: c for c in CONFIGS}


@dataclass(frozen=True)
class Instance:
    """A benchmark instance and its known optimal plan cost."""

    domain: str
    problem: str
    domain_file: Path
    problem_file: Path
    optimum: int | None

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.problem}"


@dataclass(frozen=True)
class Limits:
    """What a run may use: seconds on which clock, and memory."""

    timeout: float
    memory_mb: int
    clock: str  # "wall" or "cpu"
    hash_seed: str  # PYTHONHASHSEED of the runs; "random" leaves it unset
    anytime_s: float = 10.0  # when the anytime search returns its best plan


@dataclass
class Run:
    """The outcome of one configuration on one instance."""

    instance: str
    config: str
    status: str  # solved, timeout, memout, unsolvable, invalid, error
    cost: int | None = None
    length: int | None = None
    optimal: bool | None = None
    total_s: float | None = None
    search_s: float | None = None
    total_cpu_s: float | None = None
    search_cpu_s: float | None = None
    expanded: int | None = None
    wall_s: float | None = None
    detail: str = ""

    def seconds(self, clock: str) -> float | None:
        """Return the time of the whole job on ``clock`` ("wall" or "cpu")."""
        return self.total_cpu_s if clock == "cpu" else self.total_s


# --------------------------------------------------------------------------
# Worker: one configuration on one instance, in its own process.


def _times(
    began: float, began_cpu: float, grounded: float, grounded_cpu: float
) -> dict[str, float]:
    """Return the wall and CPU seconds of the whole job and of its search part."""
    ended = time.perf_counter()
    ended_cpu = time.process_time()
    return {
        "total_s": ended - began,
        "search_s": ended - grounded,
        "total_cpu_s": ended_cpu - began_cpu,
        "search_cpu_s": ended_cpu - grounded_cpu,
    }


def _worker_ours(
    config: Config, domain: Path, problem: Path, max_seconds: float
) -> dict[str, Any]:
    """Plan with goap-engine and return the worker's result record."""
    from goap_engine.errors import NoPlanError, SearchLimitError
    from goap_engine.pddl.convert import load_pddl
    from goap_engine.planner.plan import find_plan

    began, began_cpu = time.perf_counter(), time.process_time()
    ruleset = load_pddl(domain, problem)
    grounded, grounded_cpu = time.perf_counter(), time.process_time()
    try:
        plan = find_plan(
            ruleset,
            search=config.search,
            heuristic=config.heuristic,
            max_seconds=max_seconds,
            max_nodes=10**12,
        )
    except SearchLimitError as exc:
        return {"status": "timeout", "detail": str(exc)}
    except NoPlanError as exc:
        return {"status": "unsolvable", "detail": str(exc)}
    times = _times(began, began_cpu, grounded, grounded_cpu)
    return {
        "status": "solved",
        "plan": [step.action.pddl for step in plan.steps],
        "cost": plan.cost,
        "expanded": plan.expanded,
        **times,
    }


def _catch_expansions() -> dict[str, int]:
    """Route pyperplan's log to a handler that keeps only its expansion count."""
    import logging

    caught: dict[str, int] = {}

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.endswith(" Nodes expanded"):
                caught["expanded"] = int(message.split(" ", 1)[0])

    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.addHandler(Catch(logging.INFO))
    root.setLevel(logging.INFO)
    return caught


def _worker_pyperplan(config: Config, domain: Path, problem: Path) -> dict[str, Any]:
    """Plan with pyperplan and return the worker's result record."""
    from pyperplan import planner
    from pyperplan.heuristics.relaxation import hFFHeuristic, hMaxHeuristic
    from pyperplan.search import astar_search, greedy_best_first_search

    searches: dict[str, Callable[..., Any]] = {
        "astar": astar_search,
        "gbfs": greedy_best_first_search,
    }
    heuristics: dict[str, Any] = {"hmax": hMaxHeuristic, "hff": hFFHeuristic}
    caught = _catch_expansions()
    began, began_cpu = time.perf_counter(), time.process_time()
    # The same steps as pyperplan.planner.search_plan, timed separately.
    task = planner._ground(planner._parse(str(domain), str(problem)))
    grounded, grounded_cpu = time.perf_counter(), time.process_time()
    heuristic = heuristics[config.heuristic](task)
    solution = searches[config.search](task, heuristic)
    times = _times(began, began_cpu, grounded, grounded_cpu)
    if solution is None:
        return {"status": "unsolvable", "detail": "pyperplan found no plan"}
    return {
        "status": "solved",
        "plan": [op.name for op in solution],
        "cost": len(solution),
        "expanded": caught.get("expanded"),
        **times,
    }


def worker(key: str, domain: Path, problem: Path, limits: Limits) -> None:
    """Run one configuration on one instance and print its result record."""
    if limits.memory_mb > 0:
        size = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    max_seconds = limits.timeout
    if limits.clock == "cpu":
        # The kernel ends the process (SIGXCPU) at the limit, plus a little
        # for start-up; the planner's own wall-clock limit must not come first.
        seconds = int(limits.timeout + 0.999) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
        max_seconds = 1e9
    config = BY_KEY[key]
    if config.search == "anytime":
        max_seconds = min(max_seconds, limits.anytime_s)
    try:
        if config.planner == "ours":
            record = _worker_ours(config, domain, problem, max_seconds)
        else:
            record = _worker_pyperplan(config, domain, problem)
    except MemoryError:
        record = {"status": "memout", "detail": "MemoryError"}
    print(MARKER + json.dumps(record), flush=True)


# --------------------------------------------------------------------------
# Driver: run the workers, check the plans, write the report.


def discover(root: Path, only: Sequence[str] = ()) -> list[Instance]:
    """Return the benchmark instances under ``root``, sorted by domain and name."""
    optimum: dict[tuple[str, str], int] = {}
    with (root / "optimal-costs.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            optimum[row["domain"], row["problem"]] = int(row["optimal_cost"])
    instances = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if only and folder.name not in only:
            continue
        domain_file = folder / "domain.pddl"
        for problem_file in sorted(folder.glob("*.pddl")):
            if problem_file.name == "domain.pddl":
                continue
            instances.append(
                Instance(
                    folder.name,
                    problem_file.stem,
                    domain_file,
                    problem_file,
                    optimum.get((folder.name, problem_file.stem)),
                )
            )
    return instances


@functools.cache
def _ground_task(domain: Path, problem: Path) -> Any:
    from goap_engine.pddl.convert import ground_files

    return ground_files(domain, problem)


def check(instance: Instance, config: Config, record: dict[str, Any]) -> Run:
    """Return the run of a worker record, with its plan replayed and checked."""
    from goap_engine.pddl.validate import validate_plan

    run = Run(instance.name, config.key, record["status"])
    run.detail = record.get("detail", "")
    if record["status"] != "solved":
        return run
    run.total_s = record["total_s"]
    run.search_s = record["search_s"]
    run.total_cpu_s = record["total_cpu_s"]
    run.search_cpu_s = record["search_cpu_s"]
    run.expanded = record.get("expanded")
    plan: list[str] = record["plan"]
    run.length = len(plan)
    try:
        cost = validate_plan(
            _ground_task(instance.domain_file, instance.problem_file), plan
        )
    except Exception as exc:  # any failure to replay makes the plan invalid
        run.status = "invalid"
        run.detail = f"{type(exc).__name__}: {exc}"
        return run
    run.cost = cost
    if abs(cost - float(record["cost"])) > 1e-9:
        run.status = "invalid"
        run.detail = f"planner says cost {record['cost']}, replay says {cost}"
        return run
    if config.optimal and instance.optimum is not None:
        run.optimal = cost == instance.optimum
    return run


def execute(instance: Instance, config: Config, limits: Limits) -> Run:
    """Run one configuration on one instance in a subprocess and check its plan."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        config.key,
        str(instance.domain_file),
        str(instance.problem_file),
        "--timeout",
        repr(limits.timeout),
        "--memory-mb",
        str(limits.memory_mb),
        "--clock",
        limits.clock,
        "--anytime-seconds",
        repr(limits.anytime_s),
    ]
    kill = limits.timeout * (CPU_KILL_FACTOR if limits.clock == "cpu" else 1.0)
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)
    if limits.hash_seed != "random":
        env["PYTHONHASHSEED"] = limits.hash_seed
    began = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=kill + KILL_GRACE_S,
            cwd=ROOT,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return Run(
            instance.name,
            config.key,
            "timeout",
            wall_s=time.perf_counter() - began,
            detail="killed",
        )
    wall = time.perf_counter() - began
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(MARKER)]
    if not lines:
        tail = (done.stderr.strip().splitlines() or [""])[-1]
        status = "memout" if "MemoryError" in done.stderr else "error"
        if done.returncode == -signal.SIGXCPU:
            status, tail = "timeout", "CPU time limit"
        return Run(
            instance.name,
            config.key,
            status,
            wall_s=wall,
            detail=f"exit {done.returncode}: {tail}"[:300],
        )
    run = check(instance, config, json.loads(lines[-1][len(MARKER) :]))
    run.wall_s = wall
    used = run.seconds(limits.clock)
    if run.status == "solved" and used is not None and used > limits.timeout:
        run.status = "timeout"
        run.detail = f"plan found after {used:.1f} s ({limits.clock})"
    return run


def _fmt_time(run: Run | None, clock: str) -> str:
    if run is None:
        return "-"
    used = run.seconds(clock)
    if run.status == "solved" and used is not None:
        return f"{used:.2f}"
    return {
        "timeout": "TO",
        "memout": "MO",
        "unsolvable": "none",
        "invalid": "INVALID",
    }.get(run.status, "ERR")


def _fmt_cost(run: Run | None) -> str:
    if run is None or run.status != "solved" or run.cost is None:
        return "-"
    return f"{run.cost}" + ("" if run.optimal is not False else "!")


def _ratio(slow: Run | None, fast: Run | None, clock: str) -> float | None:
    if slow is None or fast is None:
        return None
    if slow.status != "solved" or fast.status != "solved":
        return None
    slow_s = slow.seconds(clock)
    fast_s = fast.seconds(clock)
    if not slow_s or not fast_s:
        return None
    return slow_s / fast_s


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def summarize(
    instances: Sequence[Instance], runs: dict[tuple[str, str], Run], clock: str
) -> dict[str, Any]:
    """Return the totals: solved counts, optimal costs, speed ratios, plan costs."""

    def get(instance: Instance, key: str) -> Run | None:
        return runs.get((instance.name, key))

    def wins(key: str) -> dict[str, Run]:
        """Map the instances ``key`` solved to their runs."""
        found = {}
        for i in instances:
            run = runs.get((i.name, key))
            if run is not None and run.status == "solved":
                found[i.name] = run
        return found

    totals: dict[str, Any] = {"instances": len(instances), "configs": {}}
    for config in CONFIGS:
        done = wins(config.key)
        entry: dict[str, Any] = {
            "label": config.label,
            "solved": len(done),
            "unsolved": [i.name for i in instances if i.name not in done],
        }
        if config.optimal:
            entry["optimal_cost"] = sum(1 for r in done.values() if r.optimal)
            entry["not_optimal"] = [n for n, r in done.items() if not r.optimal]
        else:
            entry["total_cost"] = sum(r.cost or 0 for r in done.values())
        totals["configs"][config.key] = entry

    pp_optimal = wins("pp_astar_hmax")
    slow = [
        i
        for i in instances
        if i.name in pp_optimal
        and (pp_optimal[i.name].seconds(clock) or 0.0) > SLOW_PYPERPLAN_S
    ]
    speed: dict[str, Any] = {"instances": [i.name for i in slow]}
    for ours in ("ours_astar_lmcut", "ours_astar_hmax"):
        ratios = []
        unsolved = []
        for i in slow:
            ratio = _ratio(get(i, "pp_astar_hmax"), get(i, ours), clock)
            if ratio is None:
                unsolved.append(i.name)
            else:
                ratios.append(ratio)
        speed[ours] = {
            "median_ratio": statistics.median(ratios) if ratios else None,
            "ratios": ratios,
            "ours_unsolved": unsolved,
        }
    totals["speed_vs_pyperplan_astar_hmax"] = speed

    ours_sat = wins("ours_gbfs_hff")
    pp_sat = wins("pp_gbfs_hff")
    both = [n for n in ours_sat if n in pp_sat]
    totals["satisficing_cost_where_both_solve"] = {
        "instances": len(both),
        "ours": sum(ours_sat[n].cost or 0 for n in both),
        "pyperplan": sum(pp_sat[n].cost or 0 for n in both),
    }
    ours_optimal = wins("ours_astar_lmcut")
    pp_only = [n for n in pp_optimal if n not in ours_optimal]
    totals["pyperplan_optimal_solved_ours_not"] = pp_only
    return totals


def targets(totals: dict[str, Any]) -> list[tuple[str, bool]]:
    """Return the engine's targets, each with whether this run meets it."""
    configs = totals["configs"]
    lmcut = configs["ours_astar_lmcut"]
    gbfs = configs["ours_gbfs_hff"]
    speed = totals["speed_vs_pyperplan_astar_hmax"]["ours_astar_lmcut"]
    median = speed["median_ratio"]
    n = totals["instances"]
    need = TARGET_OPTIMAL_SOLVED
    anytime = configs.get("ours_anytime_hff", {})
    pp_sat = configs.get("pp_gbfs_hff", {})
    pp_total = pp_sat.get("total_cost")
    return [
        (
            f"A*/LM-cut solves >= {need} of {n} instances with optimal cost "
            f"({lmcut['optimal_cost']})",
            lmcut["optimal_cost"] >= need,
        ),
        (
            "A*/LM-cut solves every instance pyperplan A*/h_max solves "
            f"(missing: {len(totals['pyperplan_optimal_solved_ours_not'])})",
            not totals["pyperplan_optimal_solved_ours_not"],
        ),
        (
            f"median time ratio pyperplan A*/h_max / ours A*/LM-cut >= "
            f"{TARGET_SPEEDUP:g} where pyperplan needs > {SLOW_PYPERPLAN_S:g} s "
            f"({_fmt_ratio(median)})",
            median is not None and median >= TARGET_SPEEDUP,
        ),
        (f"GBFS/h_FF solves all {n} ({gbfs['solved']})", gbfs["solved"] == n),
        (
            "anytime/h_FF total cost <= pyperplan GBFS/h_FF total "
            f"({anytime.get('total_cost')} vs {pp_total} over {n})",
            anytime.get("solved") == n
            and pp_sat.get("solved") == n
            and anytime["total_cost"] <= pp_total,
        ),
    ]


def markdown(
    instances: Sequence[Instance],
    runs: dict[tuple[str, str], Run],
    totals: dict[str, Any],
    meta: dict[str, Any],
) -> str:
    """Return the report: the per-instance table, the totals and the targets."""
    clock = meta["clock"]
    seconds = "CPU seconds" if clock == "cpu" else "wall seconds"
    lines = [
        "# PDDL benchmark: goap-engine vs pyperplan",
        "",
        f"{meta['date']}, {meta['machine']}, Python {meta['python']}, "
        f"goap-engine {meta['goap_engine']} ({meta['git']}), "
        f"pyperplan {meta['pyperplan']}.",
        f"Time limit {meta['timeout']:g} {seconds} and memory limit "
        f"{meta['memory_mb']} MiB per run, PYTHONHASHSEED {meta['hash_seed']}, "
        f"{meta['jobs']} run(s) at a time"
        + (
            " (runs share the machine, so times are noisier)"
            if meta["jobs"] > 1
            else ""
        )
        + f"; load average {meta['load_before']:.1f} before, "
        f"{meta['load_after']:.1f} after.",
        "",
        f"Times are {seconds} of the whole job (parse, ground, search) measured "
        "in the run's own process, without interpreter start-up and imports "
        "(`pddl_bench.json` has wall and CPU seconds, of the whole job and of "
        "the search after grounding). "
        "Costs are those of the plans replayed by `validate_plan`; `!` marks a "
        "cost above the optimum from an optimal configuration. TO: time limit, "
        "MO: memory limit. The ratios are pyperplan A*/h_max time divided by ours "
        "(A*/LM-cut, then A*/h_max).",
        "",
        "| instance | opt | ours A*/LM-cut cost | time | ours A*/h_max time "
        "| pp A*/h_max cost | time | pp/ours LM-cut | pp/ours h_max "
        "| ours GBFS/h_FF cost | time | pp GBFS/h_FF cost | time "
        "| ours lazy/h_FF cost | time | ours anytime/h_FF cost |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for i in instances:

        def r(key: str, i: Instance = i) -> Run | None:
            return runs.get((i.name, key))

        hmax = r("ours_astar_hmax")
        hmax_time = _fmt_time(hmax, clock)
        if hmax is not None and hmax.optimal is False:
            hmax_time += f" (cost {hmax.cost}!)"
        cells = [
            i.name,
            "?" if i.optimum is None else str(i.optimum),
            _fmt_cost(r("ours_astar_lmcut")),
            _fmt_time(r("ours_astar_lmcut"), clock),
            hmax_time,
            _fmt_cost(r("pp_astar_hmax")),
            _fmt_time(r("pp_astar_hmax"), clock),
            _fmt_ratio(_ratio(r("pp_astar_hmax"), r("ours_astar_lmcut"), clock)),
            _fmt_ratio(_ratio(r("pp_astar_hmax"), r("ours_astar_hmax"), clock)),
            _fmt_cost(r("ours_gbfs_hff")),
            _fmt_time(r("ours_gbfs_hff"), clock),
            _fmt_cost(r("pp_gbfs_hff")),
            _fmt_time(r("pp_gbfs_hff"), clock),
            _fmt_cost(r("ours_lazy_hff")),
            _fmt_time(r("ours_lazy_hff"), clock),
            _fmt_cost(r("ours_anytime_hff")),
        ]
        lines.append("| " + " | ".join(cells) + " |")

    n = totals["instances"]
    lines += ["", "## Totals", "", "| configuration | solved | optimal cost |"]
    lines.append("|---|--:|--:|")
    for config in CONFIGS:
        entry = totals["configs"][config.key]
        opt = f"{entry['optimal_cost']}" if config.optimal else "n/a"
        lines.append(f"| {config.label} | {entry['solved']}/{n} | {opt} |")
    speed = totals["speed_vs_pyperplan_astar_hmax"]
    lines += [
        "",
        f"Instances where pyperplan A*/h_max solves and needs > "
        f"{SLOW_PYPERPLAN_S:g} s: {len(speed['instances'])}.",
    ]
    for key in ("ours_astar_lmcut", "ours_astar_hmax"):
        entry = speed[key]
        missing = entry["ours_unsolved"]
        lines.append(
            f"- median ratio pyperplan / {BY_KEY[key].label}: "
            f"{_fmt_ratio(entry['median_ratio'])} over {len(entry['ratios'])}"
            + (f" (ours unsolved: {', '.join(missing)})" if missing else "")
        )
    sat = totals["satisficing_cost_where_both_solve"]
    lines += [
        f"- total GBFS/h_FF plan cost where both solve ({sat['instances']}): "
        f"ours {sat['ours']}, pyperplan {sat['pyperplan']}; ours over all it "
        f"solves: {totals['configs']['ours_gbfs_hff']['total_cost']}.",
    ]
    for key in ("ours_lazy_hff", "ours_anytime_hff"):
        entry = totals["configs"][key]
        lines.append(
            f"- total {BY_KEY[key].label} plan cost over the {entry['solved']} "
            f"it solves: {entry['total_cost']}."
        )
    for config in CONFIGS:
        entry = totals["configs"][config.key]
        if entry["unsolved"]:
            lines.append(f"- {config.label} unsolved: {', '.join(entry['unsolved'])}")
        if entry.get("not_optimal"):
            lines.append(
                f"- {config.label} NOT optimal: {', '.join(entry['not_optimal'])}"
            )
    problems = [
        run
        for run in runs.values()
        if run.status not in ("solved", "timeout", "memout")
    ]
    for run in problems:
        lines.append(
            f"- {run.instance} {BY_KEY[run.config].label}: {run.status}: {run.detail}"
        )
    lines += ["", "## Targets", ""]
    if not meta["complete"]:
        lines.append("Not checked: this run covers only part of the benchmark.")
    else:
        for text, met in targets(totals):
            lines.append(f"- [{'x' if met else ' '}] {text}")
    return "\n".join(lines) + "\n"


def _git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "engine"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def previous_runs(path: Path, limits: Limits) -> dict[str, Any]:
    """Return the meta data and runs of earlier results made with the same limits.

    Runs that ended in an error are left out, so they are run again.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"meta": {}, "runs": {}}
    meta = data.get("meta", {})
    same = (
        meta.get("timeout"),
        meta.get("memory_mb"),
        meta.get("clock"),
        meta.get("hash_seed"),
        meta.get("anytime_s", 10.0),
    )
    wanted = (
        limits.timeout,
        limits.memory_mb,
        limits.clock,
        limits.hash_seed,
        limits.anytime_s,
    )
    if same != wanted:
        return {"meta": {}, "runs": {}}
    runs = {}
    for entry in data.get("instances", []):
        for key, fields in entry.get("runs", {}).items():
            run = Run(**fields)
            if run.status != "error":
                runs[run.instance, key] = run
    return {"meta": meta, "runs": runs}


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with ``--worker``, one run of it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run")
    parser.add_argument(
        "--only", action="append", default=[], metavar="DOMAIN", help="repeatable"
    )
    parser.add_argument(
        "--configs",
        default=",".join(BY_KEY),
        help="comma-separated configurations (default: all)",
    )
    parser.add_argument(
        "--memory-mb", type=int, default=8192, help="address space limit per run"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs of the results in --out made with the same limits "
        "(except errors) and run only the others",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="clock of the time limit and the report (default: wall)",
    )
    parser.add_argument(
        "--hash-seed",
        default="0",
        help="PYTHONHASHSEED of the runs, so that runs are repeatable (pyperplan's "
        "plans depend on it); 'random' for a new seed per run (default: 0)",
    )
    parser.add_argument(
        "--redo",
        default="",
        help="with --resume: comma-separated configurations to run again anyway",
    )
    parser.add_argument(
        "--anytime-seconds",
        type=float,
        default=10.0,
        help="wall seconds after which the anytime search returns its best plan",
    )
    parser.add_argument(
        "--worker", nargs=3, metavar=("CONFIG", "DOMAIN", "PROBLEM"), help="internal"
    )
    args = parser.parse_args(argv)
    limits = Limits(
        args.timeout, args.memory_mb, args.clock, args.hash_seed, args.anytime_seconds
    )
    if args.worker:
        key, domain, problem = args.worker
        worker(key, Path(domain), Path(problem), limits)
        return 0

    keys = [k for k in args.configs.split(",") if k]
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(unknown)}")
    instances = discover(BENCHMARKS, args.only)
    if not instances:
        parser.error(f"no instances under {BENCHMARKS}")
    earlier: dict[str, Any] = {"meta": {}, "runs": {}}
    if args.resume:
        earlier = previous_runs(args.out / "pddl_bench.json", limits)
    runs: dict[tuple[str, str], Run] = {
        (i.name, k): earlier["runs"][i.name, k]
        for i in instances
        for k in keys
        if (i.name, k) in earlier["runs"] and k not in args.redo.split(",")
    }
    jobs = [(i, BY_KEY[k]) for i in instances for k in keys if (i.name, k) not in runs]
    revision = _git_revision()
    load_before = os.getloadavg()[0]
    if runs:
        print(f"kept {len(runs)} earlier runs, running {len(jobs)}", flush=True)
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(execute, i, c, limits): (i, c) for i, c in jobs}
        for count, future in enumerate(as_completed(futures), 1):
            instance, config = futures[future]
            run = future.result()
            runs[instance.name, config.key] = run
            print(
                f"[{count}/{len(jobs)}] {instance.name:36} {config.label:22} "
                f"{run.status:10} cost={run.cost} time={_fmt_time(run, limits.clock)}"
                + (f"  {run.detail}" if run.status not in ("solved",) else ""),
                flush=True,
            )

    complete = len(keys) == len(CONFIGS) and not args.only
    finished = _git_revision()
    if finished != revision:
        revision = f"{revision} at the start, {finished} at the end"
    before = earlier["meta"]
    if before.get("git") not in (None, revision):
        revision = f"{before['git']}, redone runs at {revision}"
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "goap_engine": _version("goap-engine"),
        "pyperplan": _version("pyperplan"),
        "git": revision,
        "timeout": args.timeout,
        "memory_mb": args.memory_mb,
        "clock": args.clock,
        "hash_seed": args.hash_seed,
        "anytime_s": args.anytime_seconds,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "jobs": max(args.jobs, before.get("jobs", 1)),
        "configs": keys,
        "only": args.only,
        "complete": complete,
        "elapsed_s": time.perf_counter() - began,
        "kept_runs": len(runs) - len(jobs),
    }
    totals = summarize(instances, runs, limits.clock)
    report = markdown(instances, runs, totals, meta)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pddl_bench.md").write_text(report, encoding="utf-8")
    data = {
        "meta": meta,
        "totals": totals,
        "instances": [
            {
                "domain": i.domain,
                "problem": i.problem,
                "optimum": i.optimum,
                "runs": {
                    k: asdict(runs[i.name, k]) for k in keys if (i.name, k) in runs
                },
            }
            for i in instances
        ],
    }
    (args.out / "pddl_bench.json").write_text(
        json.dumps(data, indent=2) + "\n", encoding="utf-8"
    )
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
