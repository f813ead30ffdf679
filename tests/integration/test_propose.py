"""``goap-engine propose``: a pack or goal change checked in memory, nothing written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

GOAL = """\
version: 1
uses: [../actions.d]
state:
  tested: {type: bool, sense: "test -f tested.txt"}
  deployed: bool
goal: [tested, deployed]
"""

TESTS = """\
version: 1
actions:
  test:
    id: T1
    effects: {tested: true}
    cost: 2
    run: "touch tested.txt"
"""

DEPLOY = """\
version: 1
actions:
  deploy:
    id: D1
    pre: tested
    effects: {deployed: true}
    cost: 5
    run: "echo deploying"
"""


def _project(tmp_path: Path, h: SimpleNamespace) -> Path:
    (tmp_path / "actions.d").mkdir()
    (tmp_path / "actions.d" / "tests.yaml").write_text(TESTS)
    goal: Path = h.goal(tmp_path / "goals.d", GOAL, "deploy.yaml")
    return goal


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_new_action_that_makes_the_goal_reachable_and_nothing_is_written(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = _project(tmp_path, h)
    proposal = tmp_path.parent / f"{tmp_path.name}-deploy.yaml"
    proposal.write_text(DEPLOY)
    before = _snapshot(tmp_path)
    result = h.run("propose", proposal, goal, "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["file"], data["mode"], data["valid"]) == (
        "goals.d/proposal.yaml",
        "adds",
        True,
    )
    assert data["current"]["reachable"] is False
    assert data["current"]["explanation"][0] == (
        "goal condition 'deployed' cannot be reached:"
    )
    assert data["proposed"]["reachable"] is True
    assert data["proposed"]["cost"] == 7
    assert data["proposed"]["guarantee"] == "optimal"
    assert [s["action"] for s in data["proposed"]["steps"]] == ["test", "deploy"]
    assert data["verdict"] == "the goal becomes reachable, at cost 7"
    # Sensed (tested.txt is absent), planned, and nothing of the project
    # written, not even the workspace.
    assert _snapshot(tmp_path) == before
    assert not (tmp_path / ".goap").exists()


def test_a_broken_proposal_gets_located_diagnostics_and_no_plan(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = _project(tmp_path, h)
    text = DEPLOY.replace("pre: tested", "pre: testd").replace("cost: 5", "costt: 5")
    result = h.run("propose", "-", goal, cwd=tmp_path, stdin=text)
    assert result.returncode == 2, result.stderr
    assert (
        "  goals.d/proposal.yaml:7:5: error: action 'deploy': unknown key 'costt' "
        "(did you mean 'cost'?" in result.stdout
    )
    assert "verdict: the proposal has 1 error(s): nothing was planned" in result.stdout


def test_a_changed_pack_replaces_the_file_and_the_plan_gets_cheaper(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = _project(tmp_path, h)
    (tmp_path / "actions.d" / "deploy.yaml").write_text(DEPLOY)
    cheaper = DEPLOY.replace("cost: 5", "cost: 1")
    result = h.run(
        "propose",
        "-",
        goal,
        "--as",
        "actions.d/deploy.yaml",
        cwd=tmp_path,
        stdin=cheaper,
    )
    assert result.returncode == 0, result.stderr
    assert "proposal: actions.d/deploy.yaml (replaces it)" in result.stdout
    assert "current: cost 7, optimal: T1: test, D1: deploy" in result.stdout
    assert "proposed: cost 3, optimal: T1: test, D1: deploy" in result.stdout
    assert "verdict: the plan gets cheaper: cost 7 -> 3" in result.stdout
    assert (tmp_path / "actions.d" / "deploy.yaml").read_text() == DEPLOY


def test_a_changed_goal_is_taken_as_the_goal(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = _project(tmp_path, h)
    text = GOAL.replace("goal: [tested, deployed]", "goal: [tested]")
    result = h.run("propose", "-", goal, "--format", "json", cwd=tmp_path, stdin=text)
    assert result.returncode == 0, result.stdout
    data = json.loads(result.stdout)
    assert (data["file"], data["mode"]) == ("goals.d/deploy.yaml", "replaces")
    assert data["verdict"] == "the goal becomes reachable, at cost 2"


def test_the_proposals_sensors_never_run(tmp_path: Path, h: SimpleNamespace) -> None:
    goal = _project(tmp_path, h)
    text = DEPLOY + (
        'state:\n  approved: {type: bool, sense: "touch pwned; true"}\n'
    ).replace("pre: tested", "pre: tested and approved")
    text = text.replace("pre: tested", "pre: tested and approved")
    result = h.run("propose", "-", goal, "--format", "json", cwd=tmp_path, stdin=text)
    data = json.loads(result.stdout)
    assert not (tmp_path / "pwned").exists()
    assert data["proposed"]["not_sensed"] == ["approved"]
    assert data["verdict"] == "the goal stays unreachable"  # approved: its default


def test_a_proposal_for_a_file_outside_the_project_is_refused(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = _project(tmp_path, h)
    outside = os.path.relpath("/tmp/goap-outside.yaml", tmp_path)
    result = h.run("propose", "-", goal, "--as", outside, cwd=tmp_path, stdin=DEPLOY)
    assert result.returncode == 2
    assert "expected a file inside the project" in result.stderr
    result = h.run("propose", "-", goal, "--as", "x.txt", cwd=tmp_path, stdin=DEPLOY)
    assert result.returncode == 2
    assert "--as x.txt: expected a .yaml or .yml file" in result.stderr
    result = h.run("propose", "-", goal, cwd=tmp_path, stdin="a: [b\n")
    assert result.returncode == 2
    assert "the proposal is not YAML" in result.stderr
    assert "Traceback" not in result.stderr
