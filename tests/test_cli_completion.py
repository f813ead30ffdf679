"""Shell completion: the scripts, and what the shells are offered (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOAL = textwrap.dedent(
    """\
    version: 1
    state: {built: bool, shipped: bool}
    actions:
      build: {id: B1, effects: {built: true}, run: echo build}
      ship: {id: S1, pre: built, effects: {shipped: true}, run: echo ship}
      sweep: {effects: {built: false}, run: echo sweep}
    goal: shipped
    """
)


def offered(cwd: Path, line: str) -> list[str]:
    """Return what bash would be offered for ``line`` (cursor at its end)."""
    words = line.split(" ")
    result = subprocess.run(
        [sys.executable, "-m", "goap_engine"],
        cwd=cwd,
        env={
            **os.environ,
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
            "_GOAP_ENGINE_COMPLETE": "bash_complete",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [item.split(",", 1)[1] for item in result.stdout.splitlines() if item]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "goals.d").mkdir()
    (tmp_path / "goals.d" / "ship.yaml").write_text(GOAL)
    (tmp_path / "goals.d" / "nightly.yml").write_text(GOAL)
    return tmp_path


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_script_of_each_shell(shell: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "goap_engine", "completion", shell],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "_GOAP_ENGINE_COMPLETE" in result.stdout


def test_commands_options_and_choices(project: Path) -> None:
    assert offered(project, "goap-engine st") == ["state"]
    assert set(offered(project, "goap-engine state ")) >= {"show", "set", "rm", "mv"}
    assert offered(project, "goap-engine validate --format ") == [
        "text",
        "json",
        "github",
    ]
    assert offered(project, "goap-engine plan --search a") == ["astar", "anytime"]
    assert offered(project, "goap-engine plan --search l") == ["lazy"]
    assert offered(project, "goap-engine plan --heuristic h") == ["hmax", "hadd", "hff"]


def test_goal_files_come_from_goals_d(project: Path) -> None:
    assert offered(project, "goap-engine run ") == [
        "goals.d/nightly.yml",
        "goals.d/ship.yaml",
    ]
    assert offered(project, "goap-engine state show goals.d/s") == ["goals.d/ship.yaml"]


def test_approve_offers_the_goal_s_action_ids(project: Path) -> None:
    line = "goap-engine run goals.d/ship.yaml --approve "
    assert offered(project, line) == ["B1", "S1", "sweep"]
    assert offered(project, line + "B1,S") == ["B1,S1"]
    # A goal that does not load completes nothing, quietly.
    (project / "goals.d" / "ship.yaml").write_text("version: [\n")
    assert offered(project, line) == []


def test_odd_goal_files_complete_quietly_and_one_a_line(project: Path) -> None:
    """A FIFO, a link to /dev/zero or a newline in a name: no hang, no split line."""
    os.mkfifo(project / "goals.d" / "fifo.yaml")
    (project / "goals.d" / "zero.yaml").symlink_to("/dev/zero")
    (project / "goals.d" / "two\nlines.yaml").write_text(GOAL)
    assert offered(project, "goap-engine run ") == [
        "goals.d/fifo.yaml",
        "goals.d/nightly.yml",
        "goals.d/ship.yaml",
        "goals.d/zero.yaml",
    ]
    for goal in ("fifo", "zero"):
        assert offered(project, f"goap-engine run goals.d/{goal}.yaml --target ") == []
