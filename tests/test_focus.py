"""``--target``, ``--tag``/``--skip-tag`` and ``-q``/``-v``, as real processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from goap_cli import goap

GOAL = """\
version: 1
state:
  {built: bool, tested: bool, docs: bool, released: bool, commits: {type: int, max: 5}}
actions:
  build:
    {effects: {built: true}, run: "echo building; touch built.txt", tags: [build]}
  test:
    {pre: [built], effects: {tested: true}, run: "echo testing", tags: [build, test]}
  write_docs:
    {pre: [tested], effects: {docs: true}, run: "touch docs.txt", tags: [docs]}
  release:
    pre: [tested, docs]
    effects: {released: true}
    run: "touch released.txt"
    tags: [deploy]
  commit: {effects: {commits: commits + 1}, run: "echo commit >> commits.txt"}
goal:
  ready: [built, tested]
  shipped: [released, docs]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "goals.d").mkdir()
    (tmp_path / "goals.d" / "g.yaml").write_text(GOAL)
    return tmp_path


def stored(project: Path) -> dict[str, object]:
    data = json.loads((project / ".goap/goals.d/g/state.json").read_text())
    state: dict[str, object] = data["state"]
    return state


def test_target_goal_part_runs_only_its_chain_and_keeps_the_state_file(
    project: Path,
) -> None:
    done = goap(project, "run", "--target", "ready")
    assert done.returncode == 0, done.stderr
    assert "target: goal part 'ready' (built, tested)" in done.stderr
    assert "target reached" in done.stderr
    assert "goal reached" not in done.stderr
    assert (project / "built.txt").exists()
    assert not (project / "docs.txt").exists()
    assert stored(project) == {
        "built": True,
        "tested": True,
        "docs": False,
        "released": False,
        "commits": 0,
    }
    # The journal records the narrowing, and history shows it.
    events = [
        json.loads(line)
        for line in (project / ".goap/goals.d/g/journal.jsonl").read_text().splitlines()
    ]
    start = next(e for e in events if e["event"] == "run_start")
    assert start["target"] == ["ready"]
    listed = goap(project, "history")
    assert listed.stdout.rstrip().endswith("(--target ready)")
    # Already there: said so, exit 0, nothing runs.
    again = goap(project, "run", "--target", "test")
    assert again.returncode == 0
    assert "target: action 'test' has run (tested)" in again.stderr
    assert "the target already held: nothing to do" in again.stderr


def test_target_action_plans_its_preconditions_and_itself(project: Path) -> None:
    found = goap(project, "plan", "--target", "write_docs", "--format", "json")
    assert found.returncode == 0, found.stderr
    steps = [s["action"] for s in json.loads(found.stdout)["steps"]]
    assert steps == ["build", "test", "write_docs"]


def test_target_condition_and_several_targets(project: Path) -> None:
    found = goap(
        project,
        "plan",
        "--target",
        "commits >= 2",
        "--target",
        "built",
        "--format",
        "json",
    )
    assert found.returncode == 0, found.stderr
    steps = sorted(s["action"] for s in json.loads(found.stdout)["steps"])
    assert steps == ["build", "commit", "commit"]
    assert "target: condition 'commits >= 2'" in found.stderr


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "biuld",
            "unknown target 'biuld': not a goal part, action or state "
            "variable (did you mean 'build'?)",
        ),
        ("commits", "a target condition must be a boolean, found int"),
        (
            "commit",
            "action 'commit': its effect 'commits := commits + 1' depends on the state",
        ),
        ("built and tsted", "unknown name 'tsted' (did you mean 'tested'?)"),
    ],
)
def test_bad_target_is_exit_2(project: Path, target: str, message: str) -> None:
    for command in ("plan", "run", "explain"):
        refused = goap(project, command, "--target", target)
        assert refused.returncode == 2, (command, refused.stderr)
        assert message in refused.stderr
        assert "Traceback" not in refused.stderr
    assert not (project / ".goap/goals.d/g/journal.jsonl").exists()


def test_tag_runs_only_tagged_actions_to_their_part_of_the_goal(project: Path) -> None:
    done = goap(project, "run", "--tag", "build")
    assert done.returncode == 0, done.stderr
    assert "target: what actions tagged build do for the goal: built, tested" in (
        done.stderr
    )
    assert (project / "built.txt").exists()
    assert not (project / "docs.txt").exists()
    docs = goap(project, "run", "--tag", "docs")
    assert docs.returncode == 0, docs.stderr
    assert (project / "docs.txt").exists()
    assert not (project / "released.txt").exists()


def test_tag_that_needs_untagged_actions_is_exit_3_naming_them(project: Path) -> None:
    for command in ("plan", "run"):
        blocked = goap(project, command, "--tag", "deploy")
        assert blocked.returncode == 3, (command, blocked.stderr)
        assert (
            "the tag filter (tagged deploy) left out actions the target needs: "
            "build (tags: build), test (tags: build, test), write_docs (tags: docs)"
        ) in blocked.stderr
    assert not (project / "built.txt").exists()
    assert not (project / ".goap/goals.d/g/state.json").exists()


def test_skip_tag_and_unknown_tag(project: Path) -> None:
    found = goap(project, "plan", "--skip-tag", "deploy", "--format", "json")
    assert found.returncode == 0, found.stderr
    steps = [s["action"] for s in json.loads(found.stdout)["steps"]]
    assert steps == ["build", "test", "write_docs"]
    typo = goap(project, "run", "--tag", "biuld")
    assert typo.returncode == 2
    assert "--tag: error: no action has the tag 'biuld' (did you mean 'build'?)" in (
        typo.stderr
    )


def test_quiet_prints_errors_and_the_verdict_only(project: Path) -> None:
    quiet = goap(project, "-q", "run", "--target", "ready")
    assert quiet.returncode == 0
    assert quiet.stderr.strip() == "target reached in 0s (2 steps, 0 replans)"
    (project / "goals.d" / "g.yaml").write_text(
        GOAL.replace('run: "touch docs.txt"', 'run: "echo bad; exit 3"')
    )
    failed = goap(project, "run", "-q")
    assert failed.returncode == 1
    lines = failed.stderr.splitlines()
    assert lines[0].startswith("[write_docs] FAILED")
    assert "goal NOT reached" in failed.stderr
    assert "bad" not in failed.stderr.replace("[write_docs]", "")


def test_verbose_adds_detail(project: Path) -> None:
    normal = goap(project, "run", "--target", "built")
    loud = goap(project, "-v", "run", "--target", "tested")
    assert normal.returncode == loud.returncode == 0
    assert "(~1m)" not in normal.stderr
    assert "[test] $ echo testing  (~1m)" in loud.stderr
    assert "plan: 1 steps, cost 1 (optimal): test" in loud.stderr
    planned = goap(project, "plan", "-v")
    assert "search: astar with lmcut" in planned.stderr
    both = goap(project, "-q", "plan", "-v")
    assert both.returncode == 2
    assert "-q and -v exclude each other" in both.stderr


def test_a_tag_with_nothing_left_to_do_prints_an_empty_plan_plainly(
    project: Path,
) -> None:
    assert goap(project, "run", "--target", "docs").returncode == 0
    again = goap(project, "run", "--tag", "docs", "--dry-run")
    assert again.returncode == 0, again.stderr
    assert "plan: 0 steps, cost 0\n" in again.stderr


def test_a_tag_whose_action_computes_its_effect_runs_to_the_goals_condition(
    tmp_path: Path,
) -> None:
    """``n + 1`` names no value that is "done": the goal's own ``n >= 2`` is."""
    (tmp_path / "goals.d").mkdir()
    (tmp_path / "goals.d" / "g.yaml").write_text(
        "version: 1\n"
        "state:\n  built: bool\n  n: {type: int, max: 3}\n"
        "actions:\n"
        "  build: {effects: {built: true}, tags: [b], run: 'true'}\n"
        "  bump: {pre: built, effects: {n: n + 1}, tags: [c], run: 'true'}\n"
        "goal:\n  Build: [built]\n  Count: [n >= 2]\n"
    )
    assert goap(tmp_path, "run", "--tag", "b").returncode == 0
    done = goap(tmp_path, "run", "--tag", "c")
    assert done.returncode == 0, done.stderr
    assert "target: what actions tagged c do for the goal: n >= 2" in done.stderr
    shown = goap(tmp_path, "state", "show", "n")
    assert shown.stdout.split()[:2] == ["n", "2"]
