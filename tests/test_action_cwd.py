"""An action's ``cwd:`` is a template like ``env:``; a missing folder is named."""

from __future__ import annotations

from pathlib import Path

from goap_cli import goap

GOAL = """\
version: 1
vars: {sub: build}
state:
  done: bool
actions:
  where:
    effects: {done: true}
    cwd: "{{ sub }}"
    run: pwd > here.txt
goal: [done]
"""


def test_cwd_is_rendered_with_the_vars(tmp_path: Path) -> None:
    (tmp_path / "goal.yaml").write_text(GOAL)
    (tmp_path / "out").mkdir()
    done = goap(tmp_path, "run", "goal.yaml", "--var", "sub=out")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "here.txt").read_text().strip() == str(tmp_path / "out")


def test_a_missing_cwd_is_named_not_taken_for_the_program(tmp_path: Path) -> None:
    (tmp_path / "goal.yaml").write_text(GOAL)
    done = goap(tmp_path, "run", "goal.yaml")
    assert done.returncode == 1
    missing = tmp_path / "build"
    assert f"[where] FAILED (0s) working folder '{missing}' not found" in done.stderr
