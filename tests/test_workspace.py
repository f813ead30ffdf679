"""Where a goal's files go: readable, unique workspace names and lock names."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from goap_cli import goap as cli

from goap_engine.errors import LockedError
from goap_engine.executor.lock import WorkspaceLock, force_unlock
from goap_engine.executor.workspace import (
    goal_workspace,
    journal_path,
    lock_path,
    run_dir,
    state_path,
    workspace,
)
from goap_engine.loader import load

GOAL = "version: 1\n{extra}state: {{a: bool}}\ngoal: [a]\n"


def _write(path: Path, extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(GOAL.format(extra=extra))
    return path


@pytest.mark.parametrize(
    ("goal", "folder"),
    [
        ("goals.d/production.yaml", "goals.d/production"),
        ("goal.yaml", "goal"),
        ("ci.yml", "ci.yml"),
        ("release.v2.yaml", "release.v2.yaml"),
        ("deep/er/x.yaml", "deep/er/x"),
    ],
)
def test_workspace_is_named_from_the_goal_path(
    tmp_path: Path, goal: str, folder: str
) -> None:
    assert goal_workspace(tmp_path, tmp_path / goal) == tmp_path / ".goap" / folder


@pytest.mark.parametrize("goal", ["goal", "locks.yaml", "runs/x.yaml", "a/runs.yaml"])
def test_ambiguous_or_reserved_names_get_a_hash(tmp_path: Path, goal: str) -> None:
    found = goal_workspace(tmp_path, tmp_path / goal)
    assert found.parent == tmp_path / ".goap"
    stem = Path(goal).stem
    assert found.name.startswith(f"{stem}-") and len(found.name) == len(stem) + 11


def test_goal_outside_the_workdir(tmp_path: Path) -> None:
    one = goal_workspace(tmp_path / "repo", tmp_path / "elsewhere" / "deploy.yaml")
    two = goal_workspace(tmp_path / "repo", tmp_path / "other" / "deploy.yaml")
    assert one.parent == two.parent == tmp_path / "repo" / ".goap"
    assert one.name.startswith("deploy-") and one != two


def test_paths_of_a_goal(tmp_path: Path) -> None:
    ruleset = load(_write(tmp_path / "goals.d" / "production.yaml"))
    folder = tmp_path / ".goap" / "goals.d" / "production"
    assert workspace(ruleset) == folder
    assert journal_path(ruleset) == folder / "journal.jsonl"
    assert state_path(ruleset) == folder / "state.json"
    assert run_dir(ruleset, "abc123") == folder / "runs" / "abc123"
    lock = lock_path(ruleset)
    assert lock.parent == tmp_path / ".goap" / "locks"
    assert lock.name.startswith("goals.d-production-state.json-")


def test_goals_share_a_lock_exactly_when_they_share_a_state_file(
    tmp_path: Path,
) -> None:
    shared = "state_file: plans/state.json\n"
    one = load(_write(tmp_path / "goals.d" / "one.yaml", shared))
    two = load(_write(tmp_path / "goals.d" / "two.yaml", shared))
    three = load(_write(tmp_path / "goals.d" / "three.yaml"))
    assert state_path(one) == tmp_path / "plans" / "state.json"
    assert lock_path(one) == lock_path(two) != lock_path(three)
    assert lock_path(one).name.startswith("plans-state.json-")
    assert workspace(one) != workspace(two)


def test_force_unlock_refuses_a_held_lock(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "x.lock"
    assert force_unlock(path) is None
    with WorkspaceLock(path, goal=tmp_path / "g.yaml"):
        with pytest.raises(LockedError, match=r"pid \d+.*goal .*g\.yaml"):
            force_unlock(path)
        with pytest.raises(LockedError), WorkspaceLock(path):
            pass
    left = force_unlock(path)
    assert left is not None and left["goal"] == str(tmp_path / "g.yaml")
    assert not path.exists()


def test_git_does_not_see_the_workspace(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "goal.yaml").write_text(
        "version: 1\nstate: {a: bool}\n"
        "actions: {make: {effects: {a: true}, run: 'true'}}\ngoal: [a]\n"
    )
    done = cli(tmp_path, "run", "goal.yaml")
    assert done.returncode == 0, done.stderr
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout == "?? goal.yaml\n"


def test_a_removed_gitignore_stays_removed(tmp_path: Path) -> None:
    (tmp_path / "goal.yaml").write_text(
        "version: 1\nstate: {a: bool}\n"
        "actions: {make: {effects: {a: true}, run: 'true'}}\ngoal: [a]\n"
    )
    assert cli(tmp_path, "run", "goal.yaml").returncode == 0
    (tmp_path / ".goap" / ".gitignore").unlink()
    assert cli(tmp_path, "state", "rm", "goal.yaml", "a").returncode == 0
    assert not (tmp_path / ".goap" / ".gitignore").exists()
