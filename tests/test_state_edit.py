"""``state show VAR``, ``state rm`` and ``state mv``: repairing after a rename.

A real run stores values; the goal is then edited as a person would, and the
state file repaired with the commands its message suggests.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from goap_cli import goap as cli

from goap_engine.errors import EXIT_INPUT

GOAL = textwrap.dedent(
    """\
    version: 1
    state:
      built: bool
      level: {type: int, default: 0, max: 5}
      note: {type: str, default: ""}
    actions:
      build:
        effects: {built: true, level: 3, note: done}
        run: echo build
    goal: built
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "goals.d").mkdir()
    (tmp_path / "goals.d" / "g.yaml").write_text(GOAL)
    assert cli(tmp_path, "run", "--yes").returncode == 0
    return tmp_path


def stored(project: Path) -> dict[str, object]:
    data = json.loads((project / ".goap/goals.d/g/state.json").read_text())
    return dict(data["state"])


def test_show_only_the_variables_named(project: Path) -> None:
    shown = cli(project, "state", "show", "level", "note")
    assert [line.split()[0] for line in shown.stdout.splitlines()] == [
        "level",
        "note",
    ]
    as_json = json.loads(
        cli(project, "state", "show", "level", "--format", "json").stdout
    )
    assert as_json["state"] == {"level": 3}
    wrong = cli(project, "state", "show", "levle")
    assert wrong.returncode == EXIT_INPUT
    assert "no state variable 'levle' (did you mean 'level'?)" in wrong.stderr


def test_a_renamed_variable_is_moved_as_the_message_says(project: Path) -> None:
    goal = project / "goals.d" / "g.yaml"
    goal.write_text(GOAL.replace("level:", "depth:").replace("level: 3", "depth: 3"))
    broken = cli(project, "state", "show")
    assert broken.returncode == EXIT_INPUT
    suggestion = "goap-engine state mv goals.d/g.yaml level NEW"
    assert suggestion in broken.stderr
    moved = cli(project, *suggestion.replace("NEW", "depth").split()[1:])
    assert moved.returncode == 0, moved.stderr
    assert stored(project)["depth"] == 3 and "level" not in stored(project)
    origins = json.loads((project / ".goap/goals.d/g/state.json").read_text())
    assert origins["origins"]["depth"]["renamed_from"] == "level"
    assert cli(project, "state", "show").returncode == 0
    events = (project / ".goap/goals.d/g/journal.jsonl").read_text()
    assert '"event":"state_mv","old":"level","new":"depth"' in events


def test_a_variable_that_is_gone_is_removed(project: Path) -> None:
    goal = project / "goals.d" / "g.yaml"
    goal.write_text(
        GOAL.replace('  note: {type: str, default: ""}\n', "").replace(
            ", note: done", ""
        )
    )
    assert cli(project, "plan", "--no-sense").returncode == EXIT_INPUT
    removed = cli(project, "state", "rm", "note")
    assert removed.returncode == 0 and "forgot note" in removed.stderr
    assert "note" not in stored(project) and stored(project)["level"] == 3
    assert cli(project, "plan", "--no-sense").returncode == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mv", "level", "built"], "'built' already has a stored value"),
        (["mv", "levle", "depth"], "nothing is stored for 'levle' (did you mean"),
        (["mv", "level", "deep"], "the goal declares no state variable 'deep'"),
        (["mv", "level"], "give OLD NEW"),
        (["rm"], "name the variables to forget"),
        (["rm", "nothing"], "'nothing' is neither stored nor a state variable"),
        (["mv", "level", "level"], "OLD and NEW are both 'level': nothing to move"),
        (["rm", "../../etc"], "'../../etc' is neither stored nor a state variable"),
    ],
)
def test_mistakes_change_nothing(project: Path, argv: list[str], message: str) -> None:
    before = (project / ".goap/goals.d/g/state.json").read_text()
    result = cli(project, "state", *argv)
    assert result.returncode == EXIT_INPUT
    assert message in result.stderr, result.stderr
    assert (project / ".goap/goals.d/g/state.json").read_text() == before


def test_a_value_is_checked_against_its_new_type(project: Path) -> None:
    goal = project / "goals.d" / "g.yaml"
    goal.write_text(GOAL.replace("state:\n", "state:\n  count: int\n"))
    before = stored(project)
    result = cli(project, "state", "mv", "note", "count")
    assert result.returncode == EXIT_INPUT
    assert "state mv note count: " in result.stderr and "'done'" in result.stderr
    assert stored(project) == before


def test_history_of_a_goal_never_run_says_so(tmp_path: Path) -> None:
    (tmp_path / "goals.d").mkdir()
    (tmp_path / "goals.d" / "g.yaml").write_text(GOAL)
    done = cli(tmp_path, "history")
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == "no runs of goals.d/g.yaml yet\n"
    listed = cli(tmp_path, "history", "--format", "json")
    assert (listed.stdout, listed.stderr) == ("[]\n", "")


def test_a_name_given_twice_is_forgotten_once(project: Path) -> None:
    removed = cli(project, "state", "rm", "note", "note")
    assert removed.returncode == 0, removed.stderr
    assert "forgot note\n" in removed.stderr
    assert "note" not in stored(project) and stored(project)["level"] == 3
