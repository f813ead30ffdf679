"""The search loop itself: deferred evaluation in A*."""

from __future__ import annotations

from pathlib import Path

import pytest

from goap_engine import load
from goap_engine.planner.heuristics import HEURISTICS
from goap_engine.planner.search import best_first
from goap_engine.planner.task import compile_task


def switches(count: int) -> str:
    """Return ``count`` switches to turn on, each of which can be turned off."""
    lines = ["version: 1", "state:"]
    lines += [f"  b{i}: {{type: bool, default: false}}" for i in range(count)]
    lines.append("actions:")
    for i in range(count):
        lines.append(f"  on{i}: {{pre: [not b{i}], effects: {{b{i}: true}}}}")
        lines.append(f"  off{i}: {{pre: [b{i}], effects: {{b{i}: false}}, cost: 2}}")
    goal = " and ".join(f"b{i}" for i in range(count))
    lines.append(f"goal: [{goal!r}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("name", "eager", "deferred"),
    [("lmcut", 28, 9), ("hmax", 64, 63), ("blind", 64, 63)],
)
def test_deferred_evaluation_finds_the_same_cost_with_fewer_evaluations(
    tmp_path: Path, name: str, eager: int, deferred: int
) -> None:
    (tmp_path / "goal.yaml").write_text(switches(6))
    ruleset = load(tmp_path / "goal.yaml")
    start = ruleset.default_state()
    task = compile_task(ruleset, start)
    counts = {}
    results = {}
    for lazily in (False, True):
        estimate = HEURISTICS[name].build(task)
        calls = 0

        def counted(state: tuple[object, ...], estimate=estimate) -> float:
            nonlocal calls
            calls += 1
            return estimate(state)

        results[lazily] = best_first(task, start, counted, deferred=lazily)
        counts[lazily] = calls
    assert results[True].cost == results[False].cost == 6
    # Eagerly, every state generated is evaluated, the children of the last
    # state expanded included; deferred, only those taken off the list (with
    # a perfect estimate, as LM-cut is here, little more than the path).
    assert counts == {False: eager, True: deferred}


def test_deferred_evaluation_is_for_astar_only(tmp_path: Path) -> None:
    (tmp_path / "goal.yaml").write_text(switches(4))
    ruleset = load(tmp_path / "goal.yaml")
    start = ruleset.default_state()
    task = compile_task(ruleset, start)
    estimate = HEURISTICS["hff"].build(task)
    eager = best_first(task, start, estimate, search="gbfs")
    asked = best_first(task, start, estimate, search="gbfs", deferred=True)
    assert (asked.expanded, asked.generated) == (eager.expanded, eager.generated)
