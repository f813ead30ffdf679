"""Find a plan, verify it by simulation, and say which guarantee it has."""

from __future__ import annotations

import difflib
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import simpleeval

from ..errors import InputError, NoPlanError, PlanInvalidError, SearchLimitError
from ..expressions import CONSTANTS, Expr
from ..model import Action, Ruleset
from ..values import state_of
from .heuristics import HEURISTICS
from .search import SEARCHES, best_first
from .stubborn import StubbornSets
from .task import State, compile_task

Guarantee = Literal["optimal", "bounded", "none"]


@dataclass(frozen=True)
class Step:
    """One step of a plan: the action, and what it costs from the state before it."""

    number: int
    action: Action
    cost: float


@dataclass(frozen=True)
class Plan:
    """A verified plan from ``start`` to the goal."""

    ruleset: Ruleset
    start: State
    steps: tuple[Step, ...]
    cost: float
    guarantee: Guarantee
    bound: float
    search: str
    heuristic: str
    expanded: int
    generated: int
    seconds: float
    actions_considered: int
    actions_pruned: int

    @property
    def final(self) -> State:
        actions = [s.action for s in self.steps]
        return simulate(self.ruleset, self.start, actions, check_goal=False)[-1]


def guarantee_of(search: str, heuristic: str, weight: float) -> tuple[Guarantee, float]:
    """Return the guarantee (and cost bound factor) of a search/heuristic pair."""
    admissible = HEURISTICS[heuristic].admissible
    if search == "astar" and admissible:
        return "optimal", 1.0
    if search == "wastar" and admissible:
        return "bounded", weight
    return "none", math.inf


def find_plan(
    ruleset: Ruleset,
    start: Mapping[str, Any] | State | None = None,
    *,
    search: str | None = None,
    heuristic: str | None = None,
    weight: float = 2.0,
    max_nodes: int = 2_000_000,
    max_seconds: float = 300.0,
    goal: Sequence[Expr] | None = None,
    exclude: frozenset[str] = frozenset(),
    stubborn_sets: bool = True,
) -> Plan:
    """Return a verified plan reaching the goal of ``ruleset`` from ``start``.

    ``start`` maps state variable names to values (checked against their
    types; the others keep their defaults), or is a whole state as a plan's
    ``start`` holds it; None means every default.  Nothing is sensed here:
    ``sense`` reads the world.
    ``exclude`` names actions not to use (the runner leaves out actions that
    just failed without changing anything).  ``stubborn_sets`` lets A* skip
    successors that only reorder independent actions (``stubborn.py``): the
    cost stays optimal, only which of several cheapest plans may differ.
    Raises ``NoPlanError`` (with an explanation) when there is none.
    """
    _check_limits(weight, max_nodes, max_seconds)
    search = search or ruleset.policy.search
    if search not in SEARCHES:
        raise InputError(_unknown("search", search, SEARCHES))
    heuristic = (
        heuristic or ruleset.policy.heuristic or SEARCHES[search].default_heuristic
    )
    if heuristic not in HEURISTICS:
        raise InputError(_unknown("heuristic", heuristic, HEURISTICS))
    start = state_of(ruleset, start)
    if goal is None and ruleset.policy.ordered and len(ruleset.subgoals) > 1:
        return _ordered(
            ruleset,
            start,
            search,
            heuristic,
            weight,
            max_nodes,
            max_seconds,
            stubborn_sets,
        )
    began = time.perf_counter()
    task = compile_task(ruleset, start, goal=goal, exclude=exclude)
    run = SEARCHES[search].run
    if run is not None:
        result = run(
            task, start, heuristic, max_nodes=max_nodes, max_seconds=max_seconds
        )
    else:
        estimator = HEURISTICS[heuristic].build(task)
        pruning = None
        if stubborn_sets and search == "astar":
            exprs = (
                list(goal) if goal is not None else [c.expr for c in ruleset.conditions]
            )
            pruning = StubbornSets.for_task(task, exprs)
            pruning.max_seconds = max_seconds
            pruning.deadline = time.perf_counter() + max_seconds
        result = best_first(
            task,
            start,
            estimator,
            search=search,
            weight=weight,
            max_nodes=max_nodes,
            max_seconds=max_seconds,
            deferred=search == "astar" and HEURISTICS[heuristic].admissible,
            applicable_subset=pruning,
        )
    if result.path is None:
        from .explain import explain

        explanation = explain(ruleset, start, goal=goal, exclude=exclude)
        if exclude:
            explanation.lines[:0] = [
                "left out, because they failed here without changing anything: "
                + ", ".join(sorted(exclude))
            ]
        raise NoPlanError(
            "no plan reaches the goal from the start state", explanation=explanation
        )
    actions = [task.actions[i] for i in result.path]
    states = simulate(ruleset, start, actions, goal=goal)
    costs = [step_cost(a, s, ruleset) for a, s in zip(actions, states, strict=False)]
    total = sum(costs)
    if not math.isclose(total, result.cost, rel_tol=1e-9, abs_tol=1e-9):
        raise PlanInvalidError(f"plan cost {result.cost} but simulation says {total}")
    kind, bound = guarantee_of(search, heuristic, weight)
    if result.proved_optimal:
        kind, bound = "optimal", 1.0
    return Plan(
        ruleset=ruleset,
        start=start,
        steps=tuple(
            Step(i + 1, a, c)
            for i, (a, c) in enumerate(zip(actions, costs, strict=True))
        ),
        cost=total,
        guarantee=kind,
        bound=bound,
        search=search,
        heuristic=heuristic,
        expanded=result.expanded,
        generated=result.generated,
        seconds=time.perf_counter() - began,
        actions_considered=len(task.actions),
        actions_pruned=task.pruned,
    )


def _check_limits(weight: float, max_nodes: int, max_seconds: float) -> None:
    """Raise ``InputError`` for a weight or limit no search can honour."""
    # ``not x >= 1`` also refuses nan, which compares false with everything
    # and would leave the open list in no order at all.
    if not weight >= 1.0 or math.isinf(weight):
        raise InputError(
            "weight (--weight) must be a finite number of at least 1 (weighted A* "
            f"finds plans within weight x the optimal cost), found {weight:g}"
        )
    if max_nodes < 1:
        raise InputError(
            f"node limit (--max-nodes) must be at least 1, found {max_nodes}"
        )
    if not max_seconds > 0.0:
        raise InputError(
            f"time limit (--timeout) must be more than 0 seconds, found {max_seconds:g}"
        )


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    names = list(known)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown {kind} '{name}' ({hint}choose from {', '.join(names)})"


def _ordered(
    ruleset: Ruleset,
    start: State,
    search: str,
    heuristic: str,
    weight: float,
    max_nodes: int,
    max_seconds: float,
    stubborn_sets: bool,
) -> Plan:
    """Return the plans for sub-goal 1, then 1+2, ... joined (``policy.ordered``).

    Each stage keeps the sub-goals already reached, so the joined plan is valid;
    it is optimal per stage, not as a whole, and says so.
    """
    began = time.perf_counter()
    steps: list[Action] = []
    state = start
    goal: list[Expr] = []
    expanded = generated = considered = pruned = 0
    for number, subgoal in enumerate(ruleset.subgoals):
        goal = goal + [c.expr for c in subgoal.conditions]
        # The limits are for the whole plan, not for each stage.
        seconds_left = max_seconds - (time.perf_counter() - began)
        if search == "anytime":
            # It runs until its time is up: the stages left share it.
            seconds_left /= len(ruleset.subgoals) - number
        if seconds_left <= 0.0 or expanded >= max_nodes:
            raise SearchLimitError(
                f"search stopped after {max_seconds:g} s and {expanded:,} nodes "
                "(--timeout, --max-nodes), before sub-goal "
                f"{subgoal.name!r} of the ordered goal"
            )
        stage = find_plan(
            ruleset,
            state,
            search=search,
            heuristic=heuristic,
            weight=weight,
            max_nodes=max_nodes - expanded,
            max_seconds=seconds_left,
            goal=goal,
            stubborn_sets=stubborn_sets,
        )
        steps.extend(s.action for s in stage.steps)
        state = stage.final
        expanded += stage.expanded
        generated += stage.generated
        considered = max(considered, stage.actions_considered)
        pruned = min(pruned, stage.actions_pruned) if pruned else stage.actions_pruned
    states = simulate(ruleset, start, steps)
    costs = [step_cost(a, s, ruleset) for a, s in zip(steps, states, strict=False)]
    return Plan(
        ruleset=ruleset,
        start=start,
        steps=tuple(
            Step(i + 1, a, c) for i, (a, c) in enumerate(zip(steps, costs, strict=True))
        ),
        cost=sum(costs),
        guarantee="none",
        bound=math.inf,
        search=search,
        heuristic=heuristic,
        expanded=expanded,
        generated=generated,
        seconds=time.perf_counter() - began,
        actions_considered=considered,
        actions_pruned=pruned,
    )


def _names(ruleset: Ruleset, state: State) -> dict[str, Any]:
    names: dict[str, Any] = dict(CONSTANTS)
    names.update(ruleset.vars)
    names.update(zip(ruleset.reference_names, state, strict=True))
    return names


_FUNCTIONS = {
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "int": int,
    "float": float,
    "str": str,
    "len": len,
}


def reference_eval(ruleset: Ruleset, expr: Expr, state: State) -> Any:
    """Evaluate ``expr`` on ``state`` with simpleeval, independently of the compiler."""
    evaluator = simpleeval.EvalWithCompoundTypes(
        names=_names(ruleset, state), functions=_FUNCTIONS
    )
    return evaluator.eval(expr.canonical)


def step_cost(action: Action, state: State, ruleset: Ruleset | None = None) -> float:
    """Return the cost of ``action`` in ``state``."""
    if action.cost is None:
        return 1.0
    if action.cost.is_const or ruleset is None:
        return float(action.cost.const or 0.0)
    return float(reference_eval(ruleset, action.cost, state))


def applicable(ruleset: Ruleset, action: Action, state: State) -> bool:
    """Return whether every precondition of ``action`` holds in ``state``."""
    return all(reference_eval(ruleset, p, state) is True for p in action.pre)


def apply(ruleset: Ruleset, action: Action, state: State) -> State:
    """Return the state after ``action``; raise PlanInvalidError if it cannot apply."""
    if not applicable(ruleset, action, state):
        failed = [
            p.source
            for p in action.pre
            if reference_eval(ruleset, p, state) is not True
        ]
        raise PlanInvalidError(
            f"{action.label}: precondition {failed[0]!r} does not hold"
        )
    new = list(state)
    for effect in action.effects:
        var = ruleset.var(effect.var)
        value = reference_eval(ruleset, effect.expr, state)
        if var.type == "float" and isinstance(value, int):
            value = float(value)
        if not var.accepts(value):
            raise PlanInvalidError(
                f"{action.label}: {var.name} = {value!r} is out of range"
            )
        new[var.index] = value
    return tuple(new)


def simulate(
    ruleset: Ruleset,
    start: State,
    actions: Sequence[Action],
    *,
    goal: Sequence[Expr] | None = None,
    check_goal: bool = True,
) -> list[State]:
    """Return the states along ``actions`` from ``start``; check the goal at the end."""
    states = [start]
    for action in actions:
        states.append(apply(ruleset, action, states[-1]))
    if check_goal:
        exprs = list(goal) if goal is not None else [c.expr for c in ruleset.conditions]
        unmet = [
            e.source
            for e in exprs
            if reference_eval(ruleset, e, states[-1]) is not True
        ]
        if unmet:
            raise PlanInvalidError(
                f"plan ends without reaching goal condition {unmet[0]!r}"
            )
    return states
