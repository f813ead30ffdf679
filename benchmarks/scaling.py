"""Measure how loading and planning scale with the number of actions.

The script generates deployment-like rulesets of 100, 1,000 and 10,000 actions
in a temporary folder: one pack file per service, ten actions per pack, each
pack with its own state (a few bools and a bounded ``int`` counter).  Four
"release" packs form a chain that the goal needs (20 steps, cost 48); a
"hotfix" pack offers dearer shortcuts into that chain and some cheap ones that
can never apply; every other pack is irrelevant to the goal (a third of them
depend on a release pack, the rest on nothing).

For every size it reports the median of a few runs of ``load``, of
``find_plan`` (default search and heuristic: A* with LM-cut) and of the three
parts of planning measured on their own (compiling the task, building the
heuristic, searching), plus the search statistics and the plan found.  When
planning misses the target at the largest size (or with ``--profile``), it
profiles ``find_plan`` there and prints the top functions.

Run with ``.venv/bin/python benchmarks/scaling.py``; results are also written to
``benchmarks/results/scaling.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from common import revision

from goap_engine import find_plan, load
from goap_engine.model import Ruleset
from goap_engine.planner.heuristics import HEURISTICS
from goap_engine.planner.search import best_first
from goap_engine.planner.task import State, compile_task

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "scaling.json"

SIZES = (100, 1_000, 10_000)
RUNS = 3
TARGET_SECONDS = 1.0
ACTIONS_PER_PACK = 10
RELEASE_PACKS = 4
COUNTER_MAX = 6
# Per release pack: setup 1 + build 4 + test 3 + sign 2 + publish 2.
RELEASE_STEP_COSTS = (1, 4, 3, 2, 2)
PROFILE_TOP = 20

T = TypeVar("T")


@dataclass(frozen=True)
class Scenario:
    """A generated ruleset: where its goal is and what the optimal plan is."""

    actions: int
    packs: int
    release_packs: tuple[str, ...]
    goal: Path
    optimal_cost: float
    optimal_length: int


@dataclass(frozen=True)
class Measurement:
    """The medians and statistics measured for one size."""

    actions: int
    packs: int
    state_vars: int
    load_s: float
    """Without the ruleset cache."""
    cached_load_s: float
    plan_s: float
    compile_s: float
    heuristic_build_s: float
    search_s: float
    heuristic_calls: int
    actions_considered: int
    actions_pruned: int
    expanded: int
    generated: int
    plan_cost: float
    plan_length: int
    optimal_cost: float
    optimal_length: int
    guarantee: str
    load_runs_s: list[float]
    plan_runs_s: list[float]


def _service_pack(
    name: str, description: str, upstream: str | None, region_hook: bool
) -> str:
    """Return the YAML text of a service pack with ten actions on its own state.

    ``upstream`` is a state variable of another pack that the pack's setup waits
    for (``None``: no dependency).
    """
    p = name
    setup_pre = f"[{upstream}, not {p}_ready]" if upstream else f"not {p}_ready"
    target = "{{ region }}" if region_hook else "default"
    return f"""\
version: 1
description: {description}
state:
  {p}_ready: {{type: bool, description: Workspace of {p} is prepared.}}
  {p}_built: {{type: bool, description: An artefact of {p} is built.}}
  {p}_tested: {{type: bool, description: The artefact passed the tests.}}
  {p}_signed: {{type: bool, description: The artefact is signed off.}}
  {p}_done: {{type: bool, description: The artefact is published.}}
  {p}_n: {{type: int, default: 0, min: 0, max: {COUNTER_MAX}, \
description: Pipeline steps recorded.}}
actions:
  {p}_setup:
    id: {p}.1
    pre: {setup_pre}
    effects: {{{p}_ready: true}}
    cost: 1
    duration: 1m
    tags: [setup]
    run: make -C services/{p} setup
  {p}_build:
    id: {p}.2
    pre: {p}_ready
    effects: {{{p}_built: true, {p}_n: {p}_n + 1}}
    cost: 4
    duration: 6m
    tags: [build]
    run: make -C services/{p} build
  {p}_build_remote:
    id: {p}.3
    pre: {p}_ready
    effects: {{{p}_built: true, {p}_n: {p}_n + 1}}
    cost: 6
    duration: 3m
    tags: [build]
    run: ci build --service {p} --target {target}
  {p}_test:
    id: {p}.4
    pre: [{p}_built, {p}_n >= 1]
    effects: {{{p}_tested: true, {p}_n: {p}_n + 1}}
    cost: 3
    duration: 4m
    tags: [test]
    run: make -C services/{p} test
  {p}_build_and_test:
    id: {p}.5
    pre: [{p}_ready, {p}_n <= {COUNTER_MAX - 2}]
    effects: {{{p}_built: true, {p}_tested: true, {p}_n: {p}_n + 2}}
    cost: 8
    duration: 8m
    tags: [build, test]
    run: make -C services/{p} all
  {p}_sign:
    id: {p}.6
    pre: {p}_tested
    effects: {{{p}_signed: true, {p}_n: {p}_n + 1}}
    cost: 2
    duration: 1m
    tags: [release]
    run: cosign sign services/{p}
  {p}_approve:
    id: {p}.7
    pre: {p}_tested
    effects: {{{p}_signed: true}}
    cost: 3
    duration: 30m
    tags: [release]
    approval: true
    run: echo approved {p}
  {p}_bump:
    id: {p}.8
    pre: [{p}_ready, {p}_n < {COUNTER_MAX}]
    effects: {{{p}_n: {p}_n + 1}}
    cost: 1
    duration: 1m
    tags: [release]
    run: make -C services/{p} bump
  {p}_publish:
    id: {p}.9
    pre: [{p}_signed, {p}_n >= 3]
    effects: {{{p}_done: true}}
    cost: 2
    duration: 2m
    tags: [release]
    irreversible: true
    run: make -C services/{p} publish REGION={target}
  {p}_rollback:
    id: {p}.10
    pre: {p}_done
    effects: {{{p}_done: false, {p}_signed: false}}
    cost: 1
    duration: 2m
    tags: [release]
    run: make -C services/{p} rollback
"""


def _hotfix_pack(release: Sequence[str]) -> str:
    """Return the hotfix pack: dearer and unreachable shortcuts into the chain."""
    lines = [
        "version: 1",
        "description: Emergency publishing that bypasses signing.",
        "state:",
        "  hotfix_on: {type: bool, description: The hotfix lane is open.}",
        "  legacy_enabled: {type: bool, description: The legacy lane (never set).}",
        "  hotfix_count: {type: int, default: 0, min: 0, max: 10, "
        "description: Hotfixes shipped.}",
        "actions:",
        "  hotfix_enable:",
        "    effects: {hotfix_on: true}",
        "    cost: 2",
        "    run: ops hotfix open",
        "  hotfix_disable:",
        "    pre: hotfix_on",
        "    effects: {hotfix_on: false}",
        "    cost: 1",
        "    run: ops hotfix close",
    ]
    for p in release:
        lines += [
            f"  hotfix_ship_{p}:",
            f"    pre: [hotfix_on, {p}_tested]",
            f"    effects: {{{p}_done: true, hotfix_count: hotfix_count + 1}}",
            "    cost: 5",
            "    irreversible: true",
            f"    run: ops hotfix ship {p}",
            f"  legacy_ship_{p}:",
            f"    pre: [legacy_enabled, {p}_ready]",
            f"    effects: {{{p}_done: true}}",
            "    cost: 1",
            f"    run: ops legacy ship {p}",
        ]
    return "\n".join(lines) + "\n"


def generate(root: Path, actions: int) -> Scenario:
    """Write a goal and ``actions // 10`` packs under ``root``; return the scenario."""
    packs = actions // ACTIONS_PER_PACK
    services = packs - 1  # one pack is the hotfix pack
    if services < RELEASE_PACKS + 1:
        raise ValueError(f"{actions} actions are too few for the scenario")
    # Spread the release packs over the file order, as in a real repository.
    step = services / RELEASE_PACKS
    positions = [int(step * i + step / 2) for i in range(RELEASE_PACKS)]
    names = [f"svc{i:05d}" for i in range(services)]
    release = tuple(names[i] for i in positions)
    folder = root / "packs.d"
    folder.mkdir(parents=True)
    upstream_of = {p: f"{release[i - 1]}_done" for i, p in enumerate(release) if i}
    others = 0
    for i, name in enumerate(names):
        if name in release:
            upstream = upstream_of.get(name)
            text = _service_pack(name, "Release pipeline.", upstream, True)
        else:
            # A third of the other services wait for a release pack; none of
            # them can help the goal.
            upstream = f"{release[others % RELEASE_PACKS]}_done"
            text = _service_pack(
                name,
                "Service pipeline.",
                upstream if others % 3 == 0 else None,
                i % 2 == 0,
            )
            others += 1
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    (folder / "ops_hotfix.yaml").write_text(_hotfix_pack(release), encoding="utf-8")
    goals = root / "goals.d"
    goals.mkdir()
    done = ", ".join(f"{p}_done" for p in release)
    goal = goals / "release.yaml"
    goal.write_text(
        "version: 1\n"
        "description: Publish the release services in order.\n"
        "uses: [../packs.d]\n"
        "vars: {region: eu-west-1}\n"
        f"goal:\n  Release: [{done}]\n",
        encoding="utf-8",
    )
    return Scenario(
        actions=packs * ACTIONS_PER_PACK,
        packs=packs,
        release_packs=release,
        goal=goal,
        optimal_cost=float(sum(RELEASE_STEP_COSTS) * RELEASE_PACKS),
        optimal_length=len(RELEASE_STEP_COSTS) * RELEASE_PACKS,
    )


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Return the wall time of ``fn()`` and its result."""
    began = time.perf_counter()
    result = fn()
    return time.perf_counter() - began, result


def _breakdown(ruleset: Ruleset) -> tuple[float, float, float, int]:
    """Return the seconds spent compiling, building LM-cut and searching.

    The fourth value is how many times the search called the heuristic.
    """
    start = ruleset.default_state()
    compile_s, task = _timed(lambda: compile_task(ruleset, start))
    build_s, estimator = _timed(lambda: HEURISTICS["lmcut"].build(task))
    calls = 0

    def counted(state: State) -> float:
        nonlocal calls
        calls += 1
        return estimator(state)

    search_s, _ = _timed(lambda: best_first(task, start, counted))
    return compile_s, build_s, search_s, calls


def measure(scenario: Scenario, runs: int) -> tuple[Measurement, Ruleset]:
    """Return the medians of ``runs`` loads, plans and planning breakdowns.

    The ruleset of the last load is returned too, for profiling.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    load_runs: list[float] = []
    cached_runs: list[float] = []
    plan_runs: list[float] = []
    parts: list[tuple[float, float, float, int]] = []
    for _ in range(runs):
        began = time.perf_counter()
        ruleset = load(scenario.goal, cache=False)
        load_runs.append(time.perf_counter() - began)
        load(scenario.goal)  # fills the ruleset cache (or finds it filled)
        began = time.perf_counter()
        load(scenario.goal)
        cached_runs.append(time.perf_counter() - began)
        print(
            f"  {scenario.actions:,} actions: load {load_runs[-1]:.2f} s, "
            f"cached {cached_runs[-1]:.2f} s",
            file=sys.stderr,
        )
        began = time.perf_counter()
        plan = find_plan(ruleset)
        plan_runs.append(time.perf_counter() - began)
        parts.append(_breakdown(ruleset))
    measurement = Measurement(
        actions=len(ruleset.actions),
        packs=len(ruleset.packs) - 1,  # the goal file is a pack too
        state_vars=len(ruleset.variables),
        load_s=statistics.median(load_runs),
        cached_load_s=statistics.median(cached_runs),
        plan_s=statistics.median(plan_runs),
        compile_s=statistics.median(p[0] for p in parts),
        heuristic_build_s=statistics.median(p[1] for p in parts),
        search_s=statistics.median(p[2] for p in parts),
        heuristic_calls=parts[-1][3],
        actions_considered=plan.actions_considered,
        actions_pruned=plan.actions_pruned,
        expanded=plan.expanded,
        generated=plan.generated,
        plan_cost=plan.cost,
        plan_length=len(plan.steps),
        optimal_cost=scenario.optimal_cost,
        optimal_length=scenario.optimal_length,
        guarantee=plan.guarantee,
        load_runs_s=load_runs,
        plan_runs_s=plan_runs,
    )
    return measurement, ruleset


def profile_plan(ruleset: Ruleset, top: int) -> dict[str, Any]:
    """Return the profiled time of ``find_plan`` and its costliest functions.

    Functions are ranked by own time, and the engine's own functions also by
    cumulative time.
    """
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    find_plan(ruleset)
    profiler.disable()
    seconds = time.perf_counter() - began
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, function), (_, calls, tottime, cumtime, _) in raw.items():
        rows.append(
            {
                "function": (
                    f"{_short(filename)}:{line}({function})"
                    if filename != "~"  # built-ins have no file
                    else function
                ),
                "calls": calls,
                "tottime_s": tottime,
                "cumtime_s": cumtime,
            }
        )
    by_own = sorted(rows, key=lambda r: r["tottime_s"], reverse=True)
    engine = [r for r in rows if r["function"].startswith("goap_engine/")]
    by_cumulative = sorted(engine, key=lambda r: r["cumtime_s"], reverse=True)
    return {
        "actions": len(ruleset.actions),
        "state_vars": len(ruleset.variables),
        "profiled_plan_s": seconds,
        "top_by_own_time": by_own[:top],
        "engine_by_cumulative_time": by_cumulative[:top],
    }


def _short(filename: str) -> str:
    """Return ``filename`` relative to the package or the standard library."""
    marker = "goap_engine/"
    if marker in filename:
        return "goap_engine/" + filename.split(marker, 1)[1]
    return Path(filename).name if filename.startswith(("/", "<frozen")) else filename


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def results_table(rows: Sequence[Measurement]) -> str:
    """Return the measurements as a Markdown table."""
    header = (
        "| actions | packs | state vars | load (ms) | cached load (ms) | plan (ms) "
        "| compile (ms) "
        "| LM-cut build (ms) | search (ms) | h calls | ms / h call | considered "
        "| pruned | expanded | generated | cost (optimal) | length (optimal) |"
    )
    lines = [header, "|" + "---:|" * 17]
    for m in rows:
        lines.append(
            f"| {m.actions:,} | {m.packs:,} | {m.state_vars:,} | {_ms(m.load_s)} "
            f"| {_ms(m.cached_load_s)} | {_ms(m.plan_s)} | {_ms(m.compile_s)} "
            f"| {_ms(m.heuristic_build_s)} "
            f"| {_ms(m.search_s)} | {m.heuristic_calls:,} "
            f"| {m.search_s * 1000 / max(m.heuristic_calls, 1):.2f} "
            f"| {m.actions_considered:,} "
            f"| {m.actions_pruned:,} | {m.expanded:,} | {m.generated:,} "
            f"| {m.plan_cost:g} ({m.optimal_cost:g}) "
            f"| {m.plan_length} ({m.optimal_length}) |"
        )
    return "\n".join(lines)


def profile_table(rows: Sequence[dict[str, Any]]) -> str:
    """Return profile rows as a Markdown table."""
    lines = [
        "| function | calls | own time (ms) | cumulative (ms) |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['function']}` | {r['calls']:,} | {_ms(r['tottime_s'])} "
            f"| {_ms(r['cumtime_s'])} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print Markdown tables and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument(
        "--profile", action="store_true", help="Profile even if the target is met."
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    measurements: list[Measurement] = []
    profile: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="goap-scaling-") as tmp:
        # A cache of its own: neither the user's entries nor an earlier run's.
        os.environ["GOAP_CACHE_DIR"] = str(Path(tmp) / "cache")
        ruleset = None
        for size in args.sizes:
            scenario = generate(Path(tmp) / f"n{size}", size)
            print(f"measuring {scenario.actions:,} actions ...", file=sys.stderr)
            measurement, ruleset = measure(scenario, args.runs)
            measurements.append(measurement)
        largest = measurements[-1]
        if ruleset is not None and (args.profile or largest.plan_s >= TARGET_SECONDS):
            print("profiling the largest size ...", file=sys.stderr)
            profile = profile_plan(ruleset, PROFILE_TOP)

    print(
        f"## Scaling: load and plan (A* + LM-cut), median of {args.runs} runs\n",
    )
    print(results_table(measurements))
    verdict = "met" if largest.plan_s < TARGET_SECONDS else "NOT met"
    print(
        f"\nTarget: plan under {TARGET_SECONDS:g} s at {largest.actions:,} actions: "
        f"{verdict} ({largest.plan_s:.3f} s)."
    )
    if profile is not None:
        print(
            f"\n## Profile of find_plan at {profile['actions']:,} actions and "
            f"{profile['state_vars']:,} state variables "
            f"({profile['profiled_plan_s']:.3f} s under cProfile)\n"
        )
        print("Top functions by own time:\n")
        print(profile_table(profile["top_by_own_time"]))
        print("\nEngine functions by cumulative time:\n")
        print(profile_table(profile["engine_by_cumulative_time"]))

    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "scaling",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "revision": revision(),
        "runs": args.runs,
        "target_plan_s": TARGET_SECONDS,
        "target_met": largest.plan_s < TARGET_SECONDS,
        "results": [asdict(m) for m in measurements],
        "profile": profile,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nResults written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
