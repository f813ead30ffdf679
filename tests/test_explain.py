"""Explanations name the real cause: a sensed value nothing changes, a failed action."""

from __future__ import annotations

import textwrap
from pathlib import Path

from goap_cli import goap

from goap_engine import load
from goap_engine.errors import EXIT_NO_PLAN
from goap_engine.planner.explain import explain

SENSED = textwrap.dedent(
    """\
    version: 1
    vars: {min_accuracy: 0.9}
    state:
      accuracy: {type: float, sense: {shell: "echo 0.87", from: stdout}}
      trained: bool
    actions:
      train:
        effects: {trained: true}
        run: echo train
    goal: [trained, accuracy >= min_accuracy]
    """
)


def test_a_sensed_number_no_action_changes_is_named_with_its_value(
    tmp_path: Path,
) -> None:
    (tmp_path / "g.yaml").write_text(SENSED)
    result = goap(tmp_path, "explain", "g.yaml")
    assert result.returncode == EXIT_NO_PLAN
    assert (
        "goal condition 'accuracy >= min_accuracy' is false "
        "(accuracy = 0.87 (sensed)):\n"
        "  no action changes accuracy; it is sensed: the world must change, "
        "or the goal must ask for less\n"
    ) in result.stdout
    assert "not all of them together" not in result.stdout


def test_an_action_that_failed_in_this_run_is_named(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(
        "version: 1\nstate: {deployed: bool, ready: bool}\n"
        "actions:\n"
        "  deploy: {effects: {deployed: true}, run: exit 1}\n"
        "  prepare: {effects: {ready: true}, run: echo ok}\n"
        "goal: [deployed, ready]\n"
    )
    ruleset = load(tmp_path / "g.yaml", cache=False)
    lines = explain(
        ruleset, ruleset.default_state(), exclude=frozenset({"deploy"})
    ).lines
    assert "goal condition 'deployed' cannot be reached:" in lines
    assert "  (deploy could change it, but failed in this run and is left out)" in lines
    assert not any("'ready'" in line for line in lines)


BOUNDED = textwrap.dedent(
    """\
    version: 1
    state:
      commits: {type: int, max: 3}
      debt: {type: int, min: 0, default: 4}
      level: {type: int, sense: {shell: "echo 2", from: stdout}, min: 0}
    actions:
      commit: {effects: {commits: commits + 1}, run: "true"}
      repay: {pre: debt > 0, effects: {debt: debt - 1}, run: "true"}
      lower: {effects: {level: level - 1}, run: "true"}
    goal: [commits >= 5, debt < 0, level < 0]
    """
)


def test_a_bound_that_stops_a_counter_is_named(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(BOUNDED)
    ruleset = load(tmp_path / "g.yaml")
    lines = explain(ruleset, ruleset.default_state()).lines
    assert lines == [
        "goal condition 'commits >= 5' cannot hold: commits is at most 3 (its "
        f"bound, declared at {tmp_path / 'g.yaml'}:3:3); it would first hold at "
        "commits = 5",
        "goal condition 'debt < 0' cannot hold: debt is at least 0 (its "
        f"bound, declared at {tmp_path / 'g.yaml'}:4:3); it would first hold at "
        "debt = -1",
        "goal condition 'level < 0' cannot hold: level is at least 0 (its "
        f"bound, declared at {tmp_path / 'g.yaml'}:5:3); it would first hold at "
        "level = -1",
    ]
    # validate says it for the variable no sensor reads (a sensed one may
    # read anything, and is explained when the run has its value).
    result = goap(tmp_path, "validate", "g.yaml")
    assert result.returncode == 2
    assert (
        "g.yaml:10:8: error: goal 'goal': condition 'commits >= 5' cannot hold: "
        "commits is at most 3"
    ) in result.stderr
    assert "level < 0" not in result.stderr


def test_a_condition_some_value_within_the_bound_meets_is_not_blamed_on_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "g.yaml").write_text(
        BOUNDED.replace(
            "commits >= 5, debt < 0, level < 0", "commits >= 3 and commits != 2"
        )
    )
    ruleset = load(tmp_path / "g.yaml")
    assert not any(
        "cannot hold" in line
        for line in explain(ruleset, ruleset.default_state()).lines
    )
