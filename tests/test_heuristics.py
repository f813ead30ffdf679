"""Tests for the delete-relaxation heuristics h_max, h_add, h_FF and LM-cut."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goap_engine.planner.heuristics.lmcut import LMCut
from goap_engine.planner.heuristics.relaxation import HFF, HAdd, HMax
from goap_engine.planner.relaxed import RelaxedOp, RelaxedTask

INF = math.inf

Heuristic = Callable[[Sequence[int]], float]


def make_task(
    num_facts: int,
    ops: Sequence[tuple[Sequence[int], Sequence[int], float]],
    goal: Sequence[int],
) -> RelaxedTask:
    """Build a task from ``(pre, add, cost)`` triples."""
    return RelaxedTask(
        num_facts=num_facts,
        ops=tuple(
            RelaxedOp(action=i, pre=tuple(pre), add=tuple(add), cost=float(cost))
            for i, (pre, add, cost) in enumerate(ops)
        ),
        goal=tuple(goal),
        fact_names=tuple(f"f{i}" for i in range(num_facts)),
    )


def h_plus(task: RelaxedTask, state: Sequence[int]) -> float:
    """Return the optimal delete-relaxed plan cost by uniform-cost search."""
    goal = 0
    for g in task.goal:
        goal |= 1 << g
    ops = []
    for op in task.ops:
        pre = 0
        for f in op.pre:
            pre |= 1 << f
        add = 0
        for f in op.add:
            add |= 1 << f
        ops.append((pre, add, op.cost))
    start = 0
    for f in state:
        start |= 1 << f
    best = {start: 0.0}
    queue = [(0.0, start)]
    while queue:
        d, mask = heapq.heappop(queue)
        if d > best[mask]:
            continue
        if mask & goal == goal:
            return d
        for pre, add, cost in ops:
            if pre & mask == pre:
                nxt = mask | add
                nd = d + cost
                if nxt != mask and nd < best.get(nxt, INF):
                    best[nxt] = nd
                    heapq.heappush(queue, (nd, nxt))
    return INF


def all_values(task: RelaxedTask, state: Sequence[int]) -> dict[str, float]:
    """Return every heuristic's value of ``state``, keyed by name."""
    return {
        "hmax": HMax(task)(state),
        "hadd": HAdd(task)(state),
        "hff": HFF(task)(state),
        "lmcut": LMCut(task)(state),
    }


def check_relaxed_plan(
    task: RelaxedTask, state: Sequence[int], plan: list[int]
) -> None:
    """Assert that ``plan`` is applicable in order and reaches the goal."""
    reached = set(state)
    assert len(set(plan)) == len(plan)
    for o in plan:
        op = task.ops[o]
        assert set(op.pre) <= reached
        reached |= set(op.add)
    assert set(task.goal) <= reached


# Hand examples ---------------------------------------------------------------


def test_chain() -> None:
    task = make_task(4, [([0], [1], 1), ([1], [2], 2), ([2], [3], 3)], [3])
    assert all_values(task, [0]) == {"hmax": 6, "hadd": 6, "hff": 6, "lmcut": 6}
    assert HFF(task).relaxed_plan([0]) == [0, 1, 2]
    assert all_values(task, [2]) == {"hmax": 3, "hadd": 3, "hff": 3, "lmcut": 3}


def test_hff_preferred_are_the_applicable_operators_of_its_relaxed_plan() -> None:
    # Operator 3 applies but is useless; operator 1 is needed but not yet
    # applicable; operator 0 is both needed and applicable.
    task = make_task(
        5, [([0], [1], 1), ([1], [2], 2), ([0], [3], 1), ([0], [4], 1)], [2]
    )
    assert HFF(task).preferred([0]) == (3.0, [0])
    assert HFF(task).preferred([1]) == (2.0, [1])
    assert HFF(task).preferred([2]) == (0.0, [])
    assert HFF(task).preferred([3]) == (INF, [])


def test_fork_where_hmax_is_below_hadd_and_lmcut() -> None:
    task = make_task(3, [([0], [1], 2), ([0], [2], 3)], [1, 2])
    assert all_values(task, [0]) == {"hmax": 3, "hadd": 5, "hff": 5, "lmcut": 5}
    assert h_plus(task, [0]) == 5


def test_shared_subgoal_where_hadd_overcounts() -> None:
    # Both goal facts need the expensive fact 1; h_add pays for it twice.
    task = make_task(4, [([0], [1], 4), ([1], [2], 1), ([1], [3], 1)], [2, 3])
    assert all_values(task, [0]) == {"hmax": 5, "hadd": 10, "hff": 6, "lmcut": 6}
    assert h_plus(task, [0]) == 6
    plan = HFF(task).relaxed_plan([0])
    assert plan is not None
    assert plan[0] == 0
    assert sorted(plan) == [0, 1, 2]


def test_lmcut_sums_disjunctive_landmarks() -> None:
    # Landmarks {c, d}, {a, b} and {e}; h_max only sees the dearest goal fact.
    task = make_task(
        5,
        [
            ([0], [1], 2),  # a
            ([0], [2], 2),  # b
            ([1], [3], 3),  # c
            ([2], [3], 3),  # d
            ([0], [4], 1),  # e
        ],
        [3, 4],
    )
    values = all_values(task, [0])
    assert values["hmax"] == 5
    assert values["lmcut"] == 6
    assert h_plus(task, [0]) == 6


def test_lmcut_strictly_above_hmax_with_shared_achiever() -> None:
    task = make_task(
        4,
        [([0], [1, 2], 3), ([0], [1], 1), ([0], [2], 1), ([1, 2], [3], 1)],
        [3],
    )
    values = all_values(task, [0])
    assert values["hmax"] == 2
    assert values["lmcut"] == 3
    assert h_plus(task, [0]) == 3


def test_unreachable_goal() -> None:
    task = make_task(3, [([0], [1], 1), ([2], [0], 1)], [2])
    assert all_values(task, [0]) == {
        "hmax": INF,
        "hadd": INF,
        "hff": INF,
        "lmcut": INF,
    }
    assert HFF(task).relaxed_plan([0]) is None


def test_precondition_unreachable_makes_operator_useless() -> None:
    task = make_task(4, [([0, 3], [2], 1), ([0], [1], 1)], [1, 2])
    assert all(v == INF for v in all_values(task, [0]).values())


# Zero costs and empty preconditions ------------------------------------------


def test_operators_without_preconditions() -> None:
    task = make_task(3, [([], [1], 2), ([1], [2], 1)], [2])
    assert all_values(task, []) == {"hmax": 3, "hadd": 3, "hff": 3, "lmcut": 3}
    assert HFF(task).relaxed_plan([]) == [0, 1]


def test_free_zero_cost_operator_reaches_goal() -> None:
    task = make_task(2, [([], [1], 0)], [1])
    assert all_values(task, []) == {"hmax": 0, "hadd": 0, "hff": 0, "lmcut": 0}
    assert HFF(task).relaxed_plan([]) == [0]


def test_zero_cost_cycle() -> None:
    task = make_task(
        3, [([1], [2], 0), ([2], [1], 0), ([], [1], 3), ([0], [2], 5)], [2]
    )
    assert all_values(task, [0]) == {"hmax": 3, "hadd": 3, "hff": 3, "lmcut": 3}
    assert HFF(task).relaxed_plan([0]) == [2, 0]
    assert all_values(task, [1]) == {"hmax": 0, "hadd": 0, "hff": 0, "lmcut": 0}


def test_auxiliary_zero_cost_goal_operator() -> None:
    # Fact 3 stands for "goal reached" and costs nothing once 1 and 2 hold.
    task = make_task(4, [([0], [1], 2), ([0], [2], 3), ([1, 2], [3], 0)], [3])
    assert all_values(task, [0]) == {"hmax": 3, "hadd": 5, "hff": 5, "lmcut": 5}


def test_zero_cost_plateau_into_goal_zone() -> None:
    # The cut must pass the zero-cost operators and land on the costly ones.
    task = make_task(
        5,
        [([0], [1], 2), ([1], [2], 0), ([2], [3], 0), ([0], [4], 1)],
        [3, 4],
    )
    assert all_values(task, [0]) == {"hmax": 2, "hadd": 3, "hff": 3, "lmcut": 3}


def test_infinite_cost_operator_is_never_used() -> None:
    task = make_task(2, [([0], [1], INF)], [1])
    assert all(v == INF for v in all_values(task, [0]).values())


# Goal already satisfied ------------------------------------------------------


@pytest.mark.parametrize("goal", [[], [0], [0, 1]])
def test_goal_already_satisfied(goal: list[int]) -> None:
    task = make_task(3, [([0], [2], 1), ([], [1], 4)], goal)
    assert all_values(task, [0, 1]) == {"hmax": 0, "hadd": 0, "hff": 0, "lmcut": 0}
    assert HFF(task).relaxed_plan([0, 1]) == []


def test_empty_goal_in_unreachable_task() -> None:
    task = make_task(2, [], [])
    assert all_values(task, []) == {"hmax": 0, "hadd": 0, "hff": 0, "lmcut": 0}


def test_repeated_facts_in_state_and_operators() -> None:
    task = make_task(3, [([0, 0], [1, 1, 0], 2), ([1], [2, 2], 1)], [2, 2])
    assert all_values(task, [0, 0]) == {"hmax": 3, "hadd": 3, "hff": 3, "lmcut": 3}


def test_instances_are_reusable_across_states() -> None:
    task = make_task(4, [([0], [1], 2), ([0], [2], 3), ([1], [3], 1)], [2, 3])
    heuristics: list[Heuristic] = [HMax(task), HAdd(task), HFF(task), LMCut(task)]
    for state in ([0], [1], [0, 2], [3], [2, 3], [0]):
        assert [h(state) for h in heuristics] == list(all_values(task, state).values())


def test_invalid_tasks_are_rejected() -> None:
    for task in (
        make_task(2, [([0], [1], -1)], [1]),
        make_task(2, [([0], [1], math.nan)], [1]),
        make_task(2, [([0], [2], 1)], [1]),
        make_task(2, [([0], [1], 1)], [5]),
    ):
        builders: list[Callable[[RelaxedTask], Heuristic]] = [HMax, HAdd, HFF, LMCut]
        for cls in builders:
            with pytest.raises(ValueError):
                cls(task)


# Properties on random small tasks --------------------------------------------


@st.composite
def tasks_and_states(
    draw: st.DrawFn, costs: st.SearchStrategy[float]
) -> tuple[RelaxedTask, list[int]]:
    """Draw a small task with up to 8 facts and 8 operators, and a state."""
    n = draw(st.integers(1, 8))
    facts = st.integers(0, n - 1)
    ops = draw(
        st.lists(
            st.tuples(
                st.lists(facts, max_size=3),
                st.lists(facts, min_size=1, max_size=3),
                costs,
            ),
            max_size=8,
        )
    )
    goal = draw(st.lists(facts, max_size=3))
    state = draw(st.lists(facts, max_size=3))
    return make_task(n, ops, goal), state


INTEGRAL_COSTS = st.integers(0, 5).map(float)
FRACTIONAL_COSTS = st.sampled_from([0.0, 0.1, 0.25, 0.7, 1.3, 2.2, 3.0])


@settings(max_examples=600, deadline=None)
@given(tasks_and_states(INTEGRAL_COSTS))
def test_bounds_against_optimal_relaxed_cost(
    example: tuple[RelaxedTask, list[int]],
) -> None:
    task, state = example
    opt = h_plus(task, state)
    v = all_values(task, state)
    if opt == INF:
        assert all(x == INF for x in v.values())
        assert HFF(task).relaxed_plan(state) is None
        assert HFF(task).preferred(state) == (INF, [])
        return
    assert all(x < INF for x in v.values())
    assert v["hmax"] <= v["lmcut"] <= opt <= v["hff"] <= v["hadd"]
    plan = HFF(task).relaxed_plan(state)
    assert plan is not None
    check_relaxed_plan(task, state, plan)
    assert sum(task.ops[o].cost for o in plan) == v["hff"]
    h, preferred = HFF(task).preferred(state)
    assert h == v["hff"]
    applicable = [o for o in plan if set(task.ops[o].pre) <= set(state)]
    assert sorted(preferred) == sorted(applicable)


@settings(max_examples=300, deadline=None)
@given(tasks_and_states(FRACTIONAL_COSTS))
def test_bounds_with_fractional_costs(
    example: tuple[RelaxedTask, list[int]],
) -> None:
    task, state = example
    opt = h_plus(task, state)
    v = all_values(task, state)
    if opt == INF:
        assert all(x == INF for x in v.values())
        return
    eps = 1e-9
    assert v["hmax"] <= v["lmcut"] + eps
    assert v["lmcut"] <= opt + eps
    assert opt <= v["hff"] + eps
    assert v["hff"] <= v["hadd"] + eps


@settings(max_examples=200, deadline=None)
@given(tasks_and_states(INTEGRAL_COSTS), st.data())
def test_one_instance_many_states(
    example: tuple[RelaxedTask, list[int]], data: st.DataObject
) -> None:
    task, _ = example
    heuristics: list[Heuristic] = [HMax(task), HAdd(task), HFF(task), LMCut(task)]
    facts = st.integers(0, task.num_facts - 1)
    for _ in range(3):
        state = data.draw(st.lists(facts, max_size=4))
        fresh = all_values(task, state)
        assert [h(state) for h in heuristics] == list(fresh.values())
