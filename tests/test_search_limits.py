"""Search limits and weights: refused when no search can honour them, and held."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from goap_engine import load
from goap_engine.cli import main
from goap_engine.errors import InputError, NoPlanError, SearchLimitError
from goap_engine.planner import anytime as anytime_module
from goap_engine.planner.heuristics import HEURISTICS
from goap_engine.planner.lazy import evaluator, lazy_greedy
from goap_engine.planner.plan import find_plan
from goap_engine.planner.search import best_first
from goap_engine.planner.stubborn import StubbornSets
from goap_engine.planner.task import compile_task


def switches(count: int, *, ordered: bool = False) -> str:
    """Return ``count`` switches to turn on (sub-goals if ``ordered``)."""
    lines = ["version: 1", "state:"]
    lines += [f"  b{i}: bool" for i in range(count)]
    lines.append("actions:")
    lines += [f"  on{i}: {{effects: {{b{i}: true}}}}" for i in range(count)]
    if ordered:
        lines.append("policy: {ordered: true}")
        lines.append("goal:")
        lines += [f"  Part{i}: [b{i}]" for i in range(count)]
    else:
        lines.append("goal: [" + ", ".join(f"b{i}" for i in range(count)) + "]")
    return "\n".join(lines) + "\n"


NODES = "node limit (--max-nodes)"
TIME = "time limit (--timeout)"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--search", "wastar", "--weight", "nan"], "found nan"),
        (["--search", "wastar", "--weight", "0.5"], "found 0.5"),
        (["--search", "wastar", "--weight", "-2"], "found -2"),
        (["--search", "wastar", "--weight", "inf"], "found inf"),
        (["--max-nodes", "0"], f"{NODES} must be at least 1, found 0"),
        (["--max-nodes", "-5"], f"{NODES} must be at least 1, found -5"),
        (["--timeout", "0"], f"{TIME} must be more than 0 seconds, found 0"),
        (["--search", "anytime", "--timeout", "0"], "found 0"),
        (["--timeout", "nan"], f"{TIME} must be more than 0 seconds, found nan"),
    ],
)
def test_a_limit_no_search_can_honour_is_a_usage_error(
    write, option: list[str], message: str
) -> None:
    path = write("g.yaml", switches(3))
    result = CliRunner().invoke(main, ["plan", str(path), *option])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_a_weight_below_one_would_have_claimed_an_impossible_bound(write) -> None:
    ruleset = load(write("g.yaml", switches(3)))
    with pytest.raises(InputError, match=r"weight \(--weight\) must be a finite"):
        find_plan(ruleset, search="wastar", weight=0.5)
    assert find_plan(ruleset, search="wastar", weight=1.0).guarantee == "bounded"


def test_the_node_limit_holds_below_32_expansions(write) -> None:
    ruleset = load(write("g.yaml", switches(6)))
    plan = find_plan(ruleset, heuristic="blind", stubborn_sets=False)
    assert plan.expanded > 5
    with pytest.raises(SearchLimitError, match="after 5 expanded nodes"):
        find_plan(ruleset, heuristic="blind", stubborn_sets=False, max_nodes=5)


def test_lazy_search_may_expand_exactly_its_node_limit(write) -> None:
    ruleset = load(write("g.yaml", switches(4)))
    start = ruleset.default_state()
    task = compile_task(ruleset, start)
    found = lazy_greedy(task, start, evaluator(task, "hff"))
    assert found.expanded == 4
    again = lazy_greedy(task, start, evaluator(task, "hff"), max_nodes=4)
    assert again.cost == found.cost == 4
    with pytest.raises(SearchLimitError, match="after 3 expanded nodes"):
        lazy_greedy(task, start, evaluator(task, "hff"), max_nodes=3)


def test_the_time_limit_is_read_between_the_successors_of_one_expansion(
    tmp_path: Path,
) -> None:
    # 200 successors of the start: before, all were evaluated (and 31 more
    # expansions' worth) before the clock was first read.
    (tmp_path / "g.yaml").write_text(switches(200))
    ruleset = load(tmp_path / "g.yaml")
    start = ruleset.default_state()
    task = compile_task(ruleset, start)
    estimate = HEURISTICS["goalcount"].build(task)
    calls = 0

    def counted(state: tuple[object, ...]) -> float:
        nonlocal calls
        calls += 1
        return estimate(state)

    with pytest.raises(SearchLimitError, match="--timeout"):
        best_first(task, start, counted, search="gbfs", max_seconds=1e-9)
    assert calls == 32


def test_anytime_reads_the_clock_between_the_successors_of_one_expansion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "g.yaml").write_text(switches(200))
    ruleset = load(tmp_path / "g.yaml")
    start = ruleset.default_state()
    task = compile_task(ruleset, start)
    # The weighted A* searches' heuristic ends the time on its 10th call, in
    # the middle of the first expansion.
    calls = 0
    budgets: list[anytime_module._Budget] = []
    real_budget = anytime_module._Budget

    def budget(max_nodes: int, max_seconds: float) -> anytime_module._Budget:
        budgets.append(real_budget(max_nodes, max_seconds))
        return budgets[-1]

    class Timed:
        admissible = True

        def build(self, task: object) -> object:
            def estimate(state: tuple[object, ...]) -> float:
                nonlocal calls
                calls += 1
                if calls == 10:
                    budgets[0].deadline = 0.0
                return 0.0

            return estimate

    monkeypatch.setattr(anytime_module, "_Budget", budget)
    monkeypatch.setitem(anytime_module.HEURISTICS, "timed", Timed())  # type: ignore[arg-type]
    result = anytime_module.anytime(task, start, "timed")
    assert result.cost == 200 and not result.proved_optimal
    # The clock is read every 32 evaluations (the first search's included):
    # not the 200 successors of the start.
    assert 10 < calls <= 10 + 32


def test_ordered_sub_goals_share_one_node_limit(write) -> None:
    ruleset = load(write("g.yaml", switches(3, ordered=True)))
    plan = find_plan(ruleset, heuristic="blind")
    assert plan.expanded == 3
    with pytest.raises(SearchLimitError, match="before sub-goal 'Part2'"):
        find_plan(ruleset, heuristic="blind", max_nodes=2)


def test_blind_search_knows_a_cost_that_reads_the_state_may_be_zero(write) -> None:
    # 'prepare' and 'release' cost 0 on dev; blind took the cheapest constant
    # cost (1) as its estimate of the state after 'prepare', so the shortcut
    # (cost 1) tied with it and won as the shallower: a plan of cost 1 shown
    # as optimal.
    path = write(
        "g.yaml",
        "version: 1\n"
        "state: {stage: {type: enum, values: [dev, prod]}, ready: bool, done: bool}\n"
        "actions:\n"
        "  prepare: {effects: {ready: true}, cost: \"0 if stage == 'dev' else 2\"}\n"
        "  release: {pre: ready, effects: {done: true}, "
        "cost: \"0 if stage == 'dev' else 2\"}\n"
        "  shortcut: {effects: {done: true}, cost: 1}\n"
        "goal: [done]\n",
    )
    plan = find_plan(load(path), heuristic="blind", stubborn_sets=False)
    assert [s.action.name for s in plan.steps] == ["prepare", "release"]
    assert (plan.cost, plan.guarantee) == (0.0, "optimal")


def test_stubborn_sets_read_the_clock_while_a_set_grows(write) -> None:
    # With thousands of actions one state's set took 40 s (gripper with
    # 2,000 balls and --timeout 5): the interference of each action that
    # enters it is computed then.
    ruleset = load(write("g.yaml", switches(3)))
    start = ruleset.default_state()
    task = compile_task(ruleset, start)
    pruning = StubbornSets.for_task(task, [c.expr for c in ruleset.conditions])
    assert pruning(start) == [0]
    late = StubbornSets.for_task(task, [c.expr for c in ruleset.conditions])
    late.max_seconds = 5.0
    late.deadline = 0.0
    with pytest.raises(SearchLimitError, match=r"after 5 s \(--timeout\)"):
        late(start)
    with pytest.raises(SearchLimitError, match="--timeout"):
        find_plan(ruleset, max_seconds=1e-9)


def test_a_step_costing_more_than_the_largest_cost_does_not_apply(write) -> None:
    # Two steps of 1e308 made a plan of cost inf, shown as optimal (and as
    # 'Infinity' in JSON) by blind search, while LM-cut's sums overflowed.
    text = (
        "version: 1\n"
        "state: {a: bool, b: bool, n: {type: int, default: 0, min: 0, max: 1}}\n"
        "actions:\n"
        "  x: {effects: {a: true}, cost: '1e308 * (n + 1)'}\n"
        "  y: {pre: a, effects: {b: true}, cost: '1e308 * (n + 1)'}\n"
        "goal: [b]\n"
    )
    ruleset = load(write("g.yaml", text))
    for heuristic in ("blind", "lmcut"):
        with pytest.raises(NoPlanError):
            find_plan(ruleset, heuristic=heuristic)
    text = text.replace(
        "goal:", "  z: {effects: {a: true}, cost: '1e15 * (n + 1)'}\ngoal:"
    ).replace(
        "y: {pre: a, effects: {b: true}, cost: '1e308",
        "y: {pre: a, effects: {b: true}, cost: '1",
    )
    plan = find_plan(load(write("g2.yaml", text)), heuristic="blind")
    assert [s.action.name for s in plan.steps] == ["z", "y"]
    assert (plan.cost, plan.guarantee) == (1e15 + 1, "optimal")


@pytest.mark.parametrize("search", ["gbfs", "lazy", "anytime"])
def test_a_search_stops_before_it_takes_the_machines_memory(
    write, monkeypatch: pytest.MonkeyPatch, search: str
) -> None:
    # Blind search on 1,000 switches took 1.3 GB in 8 s, and --timeout is
    # 300 s by default.  Here the process "grows" past its limit at once.
    from goap_engine.planner import memory

    readings = itertools.chain([100], itertools.repeat(10**12))
    monkeypatch.setattr(memory, "_available_kb", lambda: 1024)
    monkeypatch.setattr(memory, "peak_kb", lambda: next(readings))
    ruleset = load(write("g.yaml", switches(300)))
    with pytest.raises(SearchLimitError, match=r"GB \(memory limit: half of"):
        find_plan(ruleset, search=search, heuristic="blind")


def test_anytime_out_of_memory_keeps_its_best_plan(
    write, monkeypatch: pytest.MonkeyPatch
) -> None:
    from goap_engine.planner import memory

    grown = False
    first_search = anytime_module.lazy_greedy

    def lazy_then_grow(*args: Any, **kwargs: Any) -> Any:
        nonlocal grown
        found = first_search(*args, **kwargs)
        grown = True
        return found

    monkeypatch.setattr(memory, "_available_kb", lambda: 1024)
    # The weighted A* searches' limit is set from the first reading after
    # the first search; every later one is past it.
    later = itertools.chain([100], itertools.repeat(10**12))
    monkeypatch.setattr(memory, "peak_kb", lambda: next(later) if grown else 100)
    monkeypatch.setattr(anytime_module, "lazy_greedy", lazy_then_grow)
    ruleset = load(write("g.yaml", switches(300)))
    plan = find_plan(ruleset, search="anytime", heuristic="blind")
    assert (plan.cost, plan.guarantee) == (300, "none")


def test_ordered_sub_goals_share_the_anytime_search_time(
    write, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each stage of the anytime search runs until its time is up unless it
    # proves its plan optimal: the first would leave the others nothing.
    from goap_engine.planner import plan as plan_module

    given: dict[str, list[float]] = {"anytime": [], "astar": []}
    real = plan_module.find_plan

    def recorded(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("goal") is not None:
            given[kwargs["search"]].append(kwargs["max_seconds"])
        return real(*args, **kwargs)

    monkeypatch.setattr(plan_module, "find_plan", recorded)
    ruleset = load(write("g.yaml", switches(3, ordered=True)))
    for search in given:
        plan = real(ruleset, search=search, max_seconds=300.0)
        assert [s.action.name for s in plan.steps] == ["on0", "on1", "on2"]
    # A third of 300 s, then half of what is left, then all of it; the
    # other searches stop at their first plan and get all that is left.
    first, second, third = given["anytime"]
    assert 99 < first <= 100 and 149 < second <= 150 and 299 < third <= 300
    assert all(299 < seconds <= 300 for seconds in given["astar"])


def test_deferred_astar_reads_the_clock_between_the_successors_of_one_expansion(
    tmp_path: Path,
) -> None:
    # Deferred evaluation calls no heuristic on a successor: 1,100 of them
    # (or 40,000 states of 40,000 variables, 30 s) went by unchecked.
    (tmp_path / "g.yaml").write_text(switches(1100))
    ruleset = load(tmp_path / "g.yaml")
    start = ruleset.default_state()
    task = compile_task(ruleset, start)
    estimate = HEURISTICS["blind"].build(task)
    with pytest.raises(SearchLimitError, match=r"s and 1 nodes \(--timeout\)"):
        best_first(task, start, estimate, deferred=True, max_seconds=1e-9)


def test_stubborn_sets_read_the_clock_while_counting_what_they_prune(
    tmp_path: Path,
) -> None:
    # 1,100 ways to reach the goal: the set is every action, and counting the
    # applicable ones (to see whether pruning pays) read no clock.
    lines = ["version: 1", "state: {done: bool}", "actions:"]
    lines += [f"  finish{i}: {{effects: {{done: true}}}}" for i in range(1100)]
    lines.append("goal: [done]")
    (tmp_path / "g.yaml").write_text("\n".join(lines) + "\n")
    ruleset = load(tmp_path / "g.yaml")
    start = ruleset.default_state()
    task = compile_task(ruleset, start)
    pruning = StubbornSets.for_task(task, [c.expr for c in ruleset.conditions])
    pruning.deadline = 0.0
    with pytest.raises(SearchLimitError, match="--timeout"):
        pruning(start)
