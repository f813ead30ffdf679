"""Planner properties: optimal against brute force, valid plans everywhere."""

from __future__ import annotations

import heapq
import itertools
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planning import load_text

from goap_engine import NoPlanError, find_plan, load
from goap_engine.model import Ruleset
from goap_engine.planner.heuristics import HEURISTICS
from goap_engine.planner.plan import (
    applicable,
    apply,
    reference_eval,
    simulate,
    step_cost,
)
from goap_engine.planner.search import SEARCHES
from goap_engine.planner.task import compile_task
from goap_engine.values import with_values

ROOT = Path(__file__).resolve().parents[1]
BOOLS = ["a", "b", "c", "d"]


@st.composite
def tasks(draw: st.DrawFn) -> str:
    """Return the YAML of a small random task over four bools and a counter."""
    lines = ["version: 1", "state:"]
    for name in BOOLS:
        lines.append(
            f"  {name}: {{type: bool, default: {str(draw(st.booleans())).lower()}}}"
        )
    lines.append("  n: {type: int, default: 0, min: 0, max: 3}")
    lines.append("actions:")
    for i in range(draw(st.integers(2, 7))):
        pre = []
        for name in draw(st.lists(st.sampled_from(BOOLS), max_size=2, unique=True)):
            pre.append(name if draw(st.booleans()) else f"not {name}")
        if draw(st.booleans()):
            pre.append(f"n >= {draw(st.integers(1, 3))}")
        effects = {}
        for name in draw(
            st.lists(st.sampled_from(BOOLS), min_size=1, max_size=2, unique=True)
        ):
            effects[name] = str(draw(st.booleans())).lower()
        if draw(st.integers(0, 3)) == 0:
            effects["n"] = draw(st.sampled_from(["n + 1", "n - 1"]))
        cost: int | str = draw(st.integers(0, 5))
        if draw(st.integers(0, 3)) == 0:
            # A cost that reads the state, as deployment rulesets have.
            cost = (
                f"'{cost} if {draw(st.sampled_from(BOOLS))} "
                f"else {draw(st.integers(0, 5))}'"
            )
        body = ", ".join(f"{k}: {v}" for k, v in effects.items())
        lines.append(
            f"  act{i}: {{pre: [{', '.join(pre)}], effects: {{{body}}}, cost: {cost}}}"
        )
    goal = []
    for name in draw(
        st.lists(st.sampled_from(BOOLS), min_size=1, max_size=3, unique=True)
    ):
        goal.append(name if draw(st.booleans()) else f"not {name}")
    if draw(st.integers(0, 3)) == 0:
        goal.append(f"n == {draw(st.integers(0, 3))}")
    lines.append(f"goal: [{', '.join(goal)}]")
    return "\n".join(lines) + "\n"


def brute_force(ruleset: Ruleset) -> float:
    """Return the optimal plan cost by uniform-cost search on reference semantics."""
    start = ruleset.default_state()
    best = {start: 0.0}
    counter = itertools.count()
    heap = [(0.0, next(counter), start)]
    goal = [c.expr for c in ruleset.conditions]
    while heap:
        g, _, state = heapq.heappop(heap)
        if g > best[state]:
            continue
        if all(reference_eval(ruleset, e, state) is True for e in goal):
            return g
        for action in ruleset.actions:
            if not applicable(ruleset, action, state):
                continue
            try:
                child = apply(ruleset, action, state)
            except Exception:  # noqa: BLE001 - out of bounds: not applicable
                continue
            cost = g + step_cost(action, state, ruleset)
            if cost < best.get(child, math.inf):
                best[child] = cost
                heapq.heappush(heap, (cost, next(counter), child))
    return math.inf


ADMISSIBLE = [name for name, info in HEURISTICS.items() if info.admissible]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=tasks())
def test_astar_with_admissible_heuristics_is_optimal(tmp_path: Path, text: str) -> None:
    ruleset = load_text(tmp_path, text)
    optimum = brute_force(ruleset)
    # The anytime search ends with the search of weight 1, A*, when its
    # heuristic is admissible: then it is optimal too.
    for name, search in itertools.product(ADMISSIBLE, ["astar", "anytime"]):
        if optimum == math.inf:
            with pytest.raises(NoPlanError):
                find_plan(ruleset, heuristic=name, search=search)
            continue
        plan = find_plan(ruleset, heuristic=name, search=search)
        assert plan.guarantee == "optimal"
        assert plan.cost == pytest.approx(optimum), (name, search, text)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=tasks())
def test_every_search_and_heuristic_returns_valid_plans(
    tmp_path: Path, text: str
) -> None:
    ruleset = load_text(tmp_path, text)
    optimum = brute_force(ruleset)
    for search, heuristic in itertools.product(SEARCHES, HEURISTICS):
        try:
            plan = find_plan(ruleset, search=search, heuristic=heuristic)
        except NoPlanError:
            assert optimum == math.inf, (search, heuristic, text)
            continue
        # Replaying on the reference evaluator must reach the goal.
        simulate(ruleset, ruleset.default_state(), [s.action for s in plan.steps])
        assert plan.cost >= optimum - 1e-9
        if plan.guarantee == "bounded":
            assert plan.cost <= plan.bound * optimum + 1e-9
        if plan.guarantee == "optimal":
            assert plan.cost == pytest.approx(optimum), (search, heuristic, text)
        if search == "anytime":
            # Small tasks leave it the time to run out of cheaper plans,
            # which proves the last one optimal whatever the heuristic.
            assert plan.guarantee == "optimal", (heuristic, text)


def test_seed_production_goal_plans_optimally() -> None:
    ruleset = load(ROOT / "goals.d" / "production.yaml")
    offline = find_plan(ruleset)
    assert offline.guarantee == "optimal" and offline.cost == 52
    assert {"A01L", "A03W", "A09L", "A12L"} <= {s.action.id for s in offline.steps}
    online = {
        "github_token_available": True,
        "hf_token_available": True,
        "modal_configured": True,
        "tsc_available": True,
    }
    start = with_values(ruleset, ruleset.default_state(), online)
    plan = find_plan(ruleset, start)
    assert plan.guarantee == "optimal"
    assert plan.cost == 47
    ids = [s.action.id for s in plan.steps]
    assert sorted(ids) == sorted(
        ["A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A09", "A11", "A12"]
        + ["A13", "A14", "A15"]
    )
    assert ids.index("A04") < ids.index("A05") < ids.index("A08") < ids.index("A09")


def test_seed_heuristic_is_labelled_and_can_cost_more() -> None:
    ruleset = load(ROOT / "goals.d" / "production.yaml")
    assert not HEURISTICS["seed"].admissible
    assert not HEURISTICS["goalcount"].admissible
    greedy = find_plan(ruleset, search="gbfs", heuristic="hadd")
    assert greedy.guarantee == "none"
    assert greedy.cost >= 52


def test_unsolvable_goal_raises_with_explanation(write) -> None:
    path = write(
        "goal.yaml",
        "version: 1\nstate: {a: bool, b: bool}\n"
        "actions:\n  x: {pre: b, effects: {a: true}}\ngoal: [a]\n",
    )
    with pytest.raises(NoPlanError) as info:
        find_plan(load(path))
    text = str(info.value.explanation)
    assert "goal condition 'a' cannot be reached" in text
    assert "x needs 'b'" in text
    assert "no action changes b" in text


def test_goal_already_reached_gives_empty_plan(write) -> None:
    path = write(
        "goal.yaml", "version: 1\nstate: {a: {type: bool, default: true}}\ngoal: a\n"
    )
    plan = find_plan(load(path))
    assert plan.steps == () and plan.cost == 0


def test_ordered_subgoals_are_reached_in_order(write) -> None:
    base = (
        "version: 1\nstate: {a: bool, b: bool}\n"
        "actions:\n  make_a: {effects: {a: true}, cost: 5}\n"
        "  make_b: {effects: {b: true}, cost: 1}\n"
        "policy: {ordered: true}\n"
    )
    for first, second in (("a", "b"), ("b", "a")):
        text = base + f"goal:\n  First: [{first}]\n  Second: [{second}]\n"
        plan = find_plan(load(write(f"{first}.yaml", text)))
        assert [s.action.name for s in plan.steps] == [
            f"make_{first}",
            f"make_{second}",
        ]
        assert plan.guarantee == "none" and plan.cost == 6


# str and enum state ----------------------------------------------------------

TYPED_BOOLS = ["a", "b", "c"]
MODES = ["idle", "build", "ship"]
ITEMS = ["none", "box", "bag"]


def _typed_condition(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return draw(st.sampled_from(TYPED_BOOLS))
    if kind == 1:
        return f"mode == '{draw(st.sampled_from(MODES))}'"
    if kind == 2:
        return f"mode != '{draw(st.sampled_from(MODES))}'"
    if kind == 3:
        return f"carried != '{draw(st.sampled_from(ITEMS))}'"
    if kind == 4:
        return f"carried in ('{draw(st.sampled_from(ITEMS))}', 'bag')"
    if kind == 5:
        return f"label != '{draw(st.sampled_from(['', '', 'True']))}'"
    return f"not {draw(st.sampled_from(TYPED_BOOLS))} and carried != 'none'"


@st.composite
def typed_tasks(draw: st.DrawFn) -> str:
    """Return the YAML of a small random task over bools, an enum and two strs.

    ``carried`` is only ever set to literals or to one of two literals (a
    finite domain); ``label`` is
    computed (``str(a)``), which the relaxation must treat as unbounded.
    The goal is one expression: a conjunction of the drawn conditions.
    """
    lines = ["version: 1", "state:"]
    lines += [f"  {name}: {{type: bool, default: false}}" for name in TYPED_BOOLS]
    lines.append("  mode: {type: enum, values: [idle, build, ship], default: idle}")
    lines.append("  carried: {type: str, default: none}")
    lines.append("  label: {type: str, default: ''}")
    lines.append("actions:")
    for i in range(draw(st.integers(2, 6))):
        pre = [_typed_condition(draw) for _ in range(draw(st.integers(0, 2)))]
        target = draw(st.sampled_from([*TYPED_BOOLS, "mode", "carried", "label"]))
        if target == "mode":
            value: object = draw(st.sampled_from(MODES))
        elif target == "carried":
            # A literal, or text computed from literals (a finite value set).
            value = draw(
                st.sampled_from(
                    [*ITEMS, {"expr": "'box' if a else 'bag'"}, {"expr": "carried"}]
                )
            )
        elif target == "label":
            value = {"expr": "str(a)"}
        else:
            value = draw(st.booleans())
        conditions = ", ".join(json.dumps(p) for p in pre)
        cost = draw(st.integers(0, 4))
        lines.append(
            f"  act{i}: {{pre: [{conditions}], "
            f"effects: {{{target}: {json.dumps(value)}}}, cost: {cost}}}"
        )
    goal = [_typed_condition(draw) for _ in range(draw(st.integers(1, 3)))]
    lines.append(f"goal: [{json.dumps(' and '.join(goal))}]")
    return "\n".join(lines) + "\n"


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=typed_tasks())
def test_str_and_enum_relaxations_stay_admissible(tmp_path: Path, text: str) -> None:
    ruleset = load_text(tmp_path, text)
    optimum = brute_force(ruleset)
    start = ruleset.default_state()
    task = compile_task(ruleset, start)
    for name in ADMISSIBLE:
        estimate = HEURISTICS[name].build(task)(start)
        assert estimate <= optimum, (name, estimate, optimum, text)
        if optimum == math.inf:
            with pytest.raises(NoPlanError):
                find_plan(ruleset, heuristic=name, search="astar")
            continue
        plan = find_plan(ruleset, heuristic=name, search="astar")
        assert plan.cost == pytest.approx(optimum), (name, text)


def booleans_and_carried(count: int, pick: str = "box") -> str:
    """Return the YAML of ``count`` independent booleans plus ``carried != 'none'``."""
    lines = ["version: 1", "state:"]
    lines += [f"  b{i}: {{type: bool, default: false}}" for i in range(count)]
    lines.append("  carried: {type: str, default: none}")
    lines.append("actions:")
    lines += [f"  set{i}: {{effects: {{b{i}: true}}}}" for i in range(count)]
    lines.append(f"  pick: {{effects: {{carried: {pick}}}}}")
    goal = " and ".join([*(f"b{i}" for i in range(count)), "carried != 'none'"])
    lines.append(f"goal: [{json.dumps(goal)}]")
    return "\n".join(lines) + "\n"


def test_inequality_on_a_string_keeps_lmcut_informed(tmp_path: Path) -> None:
    ruleset = load_text(tmp_path, booleans_and_carried(16))
    plan = find_plan(ruleset, heuristic="lmcut")
    assert plan.cost == 17
    # LM-cut counts every unmet conjunct, the inequality included: the
    # search walks straight to the goal, one expansion per step.
    assert plan.expanded == 17


@pytest.mark.parametrize(
    "pick", ["box", """{expr: "'box' if b0 else 'bag'"}""", "{expr: other}"]
)
def test_inequality_on_a_string_is_a_fact_of_the_relaxation(
    tmp_path: Path, pick: str
) -> None:
    # Twelve booleans and a string: too many combinations to enumerate the
    # goal as one expression, so only its conjuncts can be facts.  Text
    # computed from literals or an enum has a known value set too.
    text = booleans_and_carried(12, pick).replace(
        "actions:", "  other: {type: enum, values: [none, x], default: x}\nactions:"
    )
    ruleset = load_text(tmp_path, text)
    start = ruleset.default_state()
    task = compile_task(ruleset, start)
    estimates = {name: HEURISTICS[name].build(task)(start) for name in HEURISTICS}
    assert estimates["hmax"] == 1
    assert estimates["hadd"] == 13
    assert estimates["hff"] == 13
    assert estimates["lmcut"] == 13


def corridor(cells: int) -> str:
    """Return a robot on a corridor that marks every cell it enters as seen.

    Only the last cell's mark is in the goal; the others are written and
    never read, as visitall's cells outside the goal in its half variants.
    """
    lines = ["version: 1", "state:"]
    lines.append(f"  pos: {{type: int, default: 0, min: 0, max: {cells - 1}}}")
    lines += [f"  seen{i}: {{type: bool, default: false}}" for i in range(cells)]
    lines.append("actions:")
    for i in range(cells - 1):
        lines.append(
            f"  right{i}: {{pre: [pos == {i}], effects: {{pos: {i + 1}, "
            f"seen{i + 1}: true}}}}"
        )
        lines.append(
            f"  left{i + 1}: {{pre: [pos == {i + 1}], effects: {{pos: {i}, "
            f"seen{i}: true}}}}"
        )
    lines.append(f"goal: [seen{cells - 1}]")
    return "\n".join(lines) + "\n"


def test_effects_nobody_reads_do_not_split_search_states(tmp_path: Path) -> None:
    ruleset = load_text(tmp_path, corridor(6))
    start = ruleset.default_state()
    task = compile_task(ruleset, start)
    seen: set[tuple[object, ...]] = {start}
    frontier = [start]
    while frontier:
        state = frontier.pop()
        for successor in task.successors:
            result = successor(state)
            if result is not None and result[0] not in seen:
                seen.add(result[0])
                frontier.append(result[0])
    # Positions 0..4 with seen5 (read by the goal) false, 0..5 with it true:
    # 11 states.  With the marks of cells 0..4 kept, the robot's history
    # would split them into many more.
    assert len(seen) == 11
    unstripped = compile_task(ruleset, start, prune=False)
    assert unstripped.successors[0](start) == ((1, False, True, *[False] * 4), 1)
    assert task.successors[0](start) == ((1, *[False] * 6), 1)

    plan = find_plan(ruleset)
    assert [s.action.name for s in plan.steps] == [f"right{i}" for i in range(5)]
    # The replay applies every effect: the plan's states are the real ones.
    final = dict(zip(ruleset.names, plan.final, strict=True))
    assert final == {"pos": 5, **{f"seen{i}": i > 0 for i in range(6)}}
