"""Strong stubborn sets: an optimal plan survives the pruning in every state."""

from __future__ import annotations

import heapq
import itertools
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planning import instance, load_text, needs_bench, optimal_costs

from goap_engine import NoPlanError, find_plan
from goap_engine.errors import PlanInvalidError
from goap_engine.model import Ruleset
from goap_engine.planner.heuristics import HEURISTICS
from goap_engine.planner.plan import applicable, apply, reference_eval, step_cost
from goap_engine.planner.search import best_first
from goap_engine.planner.stubborn import StubbornSets
from goap_engine.planner.task import State, compile_task

BOOLS = ["a", "b", "c"]
MODES = ["idle", "build", "ship"]
ITEMS = ["none", "box", "bag"]


def _condition(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 8))
    if kind <= 2:
        name = draw(st.sampled_from(BOOLS))
        return name if draw(st.booleans()) else f"not {name}"
    if kind == 3:
        return f"mode == '{draw(st.sampled_from(MODES))}'"
    if kind == 4:
        return f"mode != '{draw(st.sampled_from(MODES))}'"
    if kind == 5:
        return f"carried == '{draw(st.sampled_from(ITEMS))}'"
    if kind == 6:
        return f"carried != '{draw(st.sampled_from(ITEMS))}'"
    if kind == 7:
        return f"n >= {draw(st.integers(1, 3))}"
    return f"n == {draw(st.integers(0, 3))} or a"


def _effect(draw: st.DrawFn, target: str) -> object:
    if target == "mode":
        return draw(st.sampled_from(MODES))
    if target == "carried":
        return draw(
            st.sampled_from(
                [*ITEMS, {"expr": "'box' if a else 'bag'"}, {"expr": "mode"}]
            )
        )
    if target == "n":
        # Computed, and out of bounds (0..3) at the ends: not applicable there.
        return {"expr": draw(st.sampled_from(["n + 1", "n - 1", "n + 2"]))}
    if draw(st.integers(0, 4)) == 0:
        return {"expr": f"not {target}"}
    return draw(st.booleans())


@st.composite
def rulesets(draw: st.DrawFn) -> str:
    """Return the YAML of a small random ruleset, simple and other actions mixed.

    Preconditions include inequalities and disjunctions, effects computed
    values (some out of bounds), and some costs depend on the state.
    """
    lines = ["version: 1", "state:"]
    for name in BOOLS:
        default = str(draw(st.booleans())).lower()
        lines.append(f"  {name}: {{type: bool, default: {default}}}")
    default = draw(st.integers(0, 3))
    lines.append(f"  n: {{type: int, default: {default}, min: 0, max: 3}}")
    lines.append("  mode: {type: enum, values: [idle, build, ship], default: idle}")
    lines.append("  carried: {type: str, default: none}")
    lines.append("actions:")
    targets = [*BOOLS, "n", "mode", "carried"]
    for i in range(draw(st.integers(2, 7))):
        pre = [_condition(draw) for _ in range(draw(st.integers(0, 2)))]
        chosen = draw(st.lists(st.sampled_from(targets), min_size=1, max_size=2))
        effects = {t: _effect(draw, t) for t in chosen}
        cost: object = draw(st.integers(0, 4))
        if draw(st.integers(0, 3)) == 0:
            cost = draw(
                st.sampled_from(
                    ["n + 1", "3 if a else 1", "2 if mode == 'ship' else 0"]
                )
            )
        lines.append(
            f"  act{i}: {{pre: {json.dumps(pre)}, effects: {json.dumps(effects)}, "
            f"cost: {json.dumps(cost)}}}"
        )
    goal = [_condition(draw) for _ in range(draw(st.integers(1, 3)))]
    if draw(st.booleans()):
        goal = [" and ".join(goal)]
    lines.append(f"goal: {json.dumps(goal)}")
    return "\n".join(lines) + "\n"


def successors(ruleset: Ruleset, state: State) -> list[tuple[str, State, float]]:
    """Return (action, child, cost) for every applicable action, by reference."""
    out = []
    for action in ruleset.actions:
        try:
            if not applicable(ruleset, action, state):
                continue
            cost = step_cost(action, state, ruleset)
            child = apply(ruleset, action, state)
        except (PlanInvalidError, ArithmeticError, TypeError, ValueError):
            continue
        if cost >= 0:
            out.append((action.name, child, cost))
    return out


def is_goal(ruleset: Ruleset, state: State) -> bool:
    return all(
        reference_eval(ruleset, c.expr, state) is True for c in ruleset.conditions
    )


def costs_to_go(ruleset: Ruleset) -> dict[State, float]:
    """Return the optimal cost to the goal of every reachable state."""
    start = ruleset.default_state()
    graph: dict[State, list[tuple[str, State, float]]] = {}
    stack = [start]
    while stack:
        state = stack.pop()
        if state in graph:
            continue
        graph[state] = successors(ruleset, state)
        stack.extend(child for _, child, _ in graph[state])
    back: dict[State, list[tuple[State, float]]] = {s: [] for s in graph}
    for state, edges in graph.items():
        for _, child, cost in edges:
            back[child].append((state, cost))
    best = {s: 0.0 for s in graph if is_goal(ruleset, s)}
    counter = itertools.count()
    heap = [(0.0, next(counter), s) for s in best]
    while heap:
        g, _, state = heapq.heappop(heap)
        if g > best[state]:
            continue
        for parent, cost in back[state]:
            if g + cost < best.get(parent, math.inf):
                best[parent] = g + cost
                heapq.heappush(heap, (g + cost, next(counter), parent))
    return {s: best.get(s, math.inf) for s in graph}


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=rulesets())
def test_every_state_keeps_an_optimal_first_step(tmp_path: Path, text: str) -> None:
    ruleset = load_text(tmp_path, text)
    distance = costs_to_go(ruleset)
    start = ruleset.default_state()
    task = compile_task(ruleset, start, prune=False)
    goal = [c.expr for c in ruleset.conditions]
    pruning = StubbornSets.for_task(task, goal)
    pruning.check_after = 0
    for state, optimum in distance.items():
        if is_goal(ruleset, state):
            continue
        kept = pruning(state)
        edges = successors(ruleset, state)
        applicable_names = {name for name, _, _ in edges}
        # None keeps every action; otherwise only applicable actions are
        # named, and one of them starts a cheapest plan (or none exists).
        names = (
            applicable_names if kept is None else {task.actions[i].name for i in kept}
        )
        assert names <= applicable_names, (state, text)
        best = min(
            (c + distance[child] for name, child, c in edges if name in names),
            default=math.inf,
        )
        assert best == pytest.approx(optimum) or best == optimum, (state, text)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=rulesets())
def test_astar_with_pruning_is_optimal(tmp_path: Path, text: str) -> None:
    ruleset = load_text(tmp_path, text)
    optimum = costs_to_go(ruleset)[ruleset.default_state()]
    for name in ("blind", "lmcut"):
        if optimum == math.inf:
            with pytest.raises(NoPlanError):
                find_plan(ruleset, heuristic=name, search="astar")
            continue
        plan = find_plan(ruleset, heuristic=name, search="astar")
        assert plan.cost == pytest.approx(optimum), (name, text)


def independent(count: int) -> str:
    """Return the YAML of ``count`` booleans, each set by an action of its own."""
    lines = ["version: 1", "state:"]
    lines += [f"  b{i}: {{type: bool, default: false}}" for i in range(count)]
    lines.append("actions:")
    lines += [f"  set{i}: {{effects: {{b{i}: true}}}}" for i in range(count)]
    lines.append(f"goal: [{', '.join(f'b{i}' for i in range(count))}]")
    return "\n".join(lines) + "\n"


def test_pruning_expands_one_order_of_independent_actions(tmp_path: Path) -> None:
    ruleset = load_text(tmp_path, independent(8))
    without = find_plan(ruleset, heuristic="blind", stubborn_sets=False)
    with_pruning = find_plan(ruleset, heuristic="blind")
    assert without.cost == with_pruning.cost == 8
    # Without pruning A* must expand every state with f below 8: the 247
    # with at most six of the booleans set (ties at f = 8 add a few).
    assert without.expanded >= 247
    # The stubborn set of each state is the one action for its first unmet
    # goal: a single order of the eight actions is explored.
    assert (with_pruning.expanded, with_pruning.generated) == (8, 8)
    assert [s.action.name for s in with_pruning.steps] == [f"set{i}" for i in range(8)]


def test_interfering_actions_are_all_kept(tmp_path: Path) -> None:
    # Both actions write the same variable: their order matters, so both
    # stay (unrelated, independent of them, is left for later), and the
    # cheaper plan is found.
    text = """\
version: 1
state:
  mode: {type: enum, values: [idle, build, ship], default: idle}
  done: {type: bool, default: false}
  other: {type: bool, default: false}
actions:
  to_build: {effects: {mode: build}, cost: 1}
  to_ship: {effects: {mode: ship}, cost: 1}
  finish: {pre: [mode == 'ship'], effects: {done: true}, cost: 1}
  unrelated: {effects: {other: true}, cost: 1}
goal: [done, mode != 'ship', other]
"""
    ruleset = load_text(tmp_path, text)
    task = compile_task(ruleset, ruleset.default_state())
    pruning = StubbornSets.for_task(task, [c.expr for c in ruleset.conditions])
    kept = pruning(ruleset.default_state())
    assert kept is not None
    assert [task.actions[i].name for i in kept] == ["to_build", "to_ship"]
    plan = find_plan(ruleset)
    assert [s.action.name for s in plan.steps] == [
        "to_ship",
        "finish",
        "unrelated",
        "to_build",
    ]


def test_an_action_out_of_bounds_waits_for_what_it_reads(tmp_path: Path) -> None:
    # bump's precondition holds but its effect would leave n's range: only
    # lowering n first makes it applicable, so lower must not be pruned.
    text = """\
version: 1
state:
  n: {type: int, default: 3, min: 0, max: 3}
  x: {type: bool, default: false}
actions:
  bump: {effects: {x: true, n: {expr: n + 1}}}
  lower: {effects: {n: {expr: n - 1}}, cost: 5}
goal: [x]
"""
    plan = find_plan(load_text(tmp_path, text))
    assert [s.action.name for s in plan.steps] == ["lower", "bump"]
    assert plan.cost == 6


def test_an_action_whose_cost_reads_a_variable_is_not_reordered(
    tmp_path: Path,
) -> None:
    # work is cheap only before grow raises n: their order changes the cost,
    # so they interfere although neither touches what the other's
    # preconditions or effects read.
    text = """\
version: 1
state:
  n: {type: int, default: 0, min: 0, max: 5}
  x: {type: bool, default: false}
  y: {type: bool, default: false}
actions:
  work: {effects: {x: true}, cost: "n + 1"}
  grow: {effects: {y: true, n: 5}}
goal: [y, x]
"""
    plan = find_plan(load_text(tmp_path, text))
    assert [s.action.name for s in plan.steps] == ["work", "grow"]
    assert plan.cost == 2


def test_pruning_stops_when_it_does_not_pay(tmp_path: Path) -> None:
    chain = """\
version: 1
state:
  n: {type: int, default: 0, min: 0, max: 50}
actions:
  up: {effects: {n: {expr: n + 1}}}
  down: {effects: {n: {expr: n - 1}}}
goal: [n == 50]
"""
    ruleset = load_text(tmp_path, chain)
    task = compile_task(ruleset, ruleset.default_state())
    goal = [c.expr for c in ruleset.conditions]
    pruning = StubbornSets(ruleset, task.actions, task.successors, goal, check_after=10)
    estimator = HEURISTICS["blind"].build(task)
    result = best_first(
        task, ruleset.default_state(), estimator, applicable_subset=pruning
    )
    assert result.cost == 50
    # Both actions write n: nothing is ever pruned, so after ten states the
    # pruning turns itself off.
    assert (pruning.calls, pruning.applicable, pruning.pruned) == (10, 19, 0)
    assert pruning.disabled
    assert pruning(ruleset.default_state()) is None


def test_pruning_that_pays_stays_on(tmp_path: Path) -> None:
    ruleset = load_text(tmp_path, independent(12))
    task = compile_task(ruleset, ruleset.default_state())
    goal = [c.expr for c in ruleset.conditions]
    pruning = StubbornSets(ruleset, task.actions, task.successors, goal, check_after=5)
    estimator = HEURISTICS["blind"].build(task)
    result = best_first(
        task, ruleset.default_state(), estimator, applicable_subset=pruning
    )
    assert (result.cost, result.expanded) == (12, 12)
    # Every action applies in every state (setting a true boolean again
    # changes nothing); one of the twelve is kept in each of five states.
    assert (pruning.calls, pruning.applicable, pruning.pruned) == (5, 60, 55)
    assert not pruning.disabled


SMALL = [
    ("blocksworld", "probBLOCKS-4-0"),
    ("blocksworld", "probBLOCKS-6-0"),
    ("depot", "p01"),
    ("gripper", "prob01"),
    ("gripper", "prob02"),
    ("logistics", "probLOGISTICS-4-0"),
    ("logistics", "probLOGISTICS-5-2"),
    ("miconic", "s3-0"),
    ("miconic", "s4-0"),
    ("satellite", "p01-pfile1"),
    ("satellite", "p02-pfile2"),
    ("visitall", "problem03-full"),
]


@needs_bench
@pytest.mark.parametrize(("domain", "problem"), SMALL)
def test_pddl_costs_equal_with_and_without_pruning(domain: str, problem: str) -> None:
    ruleset = instance(domain, problem)
    costs = {
        on: find_plan(ruleset, heuristic="lmcut", stubborn_sets=on).cost
        for on in (False, True)
    }
    assert costs[True] == costs[False] == optimal_costs()[(domain, problem)]
