"""Only real files are read, with limits; writes stay inside the project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from goap_engine.errors import FileError, InputError, WorkspaceError
from goap_engine.executor.journal import read_events
from goap_engine.executor.lock import WorkspaceLock
from goap_engine.files import (
    MAX_JSON_DEPTH,
    project_root,
    read_json,
    read_limited,
    too_deep,
)
from goap_engine.loader import load
from goap_engine.store import read_stored
from goap_engine.values import check_value

GOAL = "version: 1\nstate:\n  done: {type: bool}\n  f: {type: float}\ngoal: [done]\n"


def _goal(folder: Path, extra: str = "") -> Path:
    path = folder / "goals.d" / "g.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(GOAL + extra)
    return path


def test_a_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(FileError) as caught:
        read_limited(fifo)
    assert caught.value.reason == "is a FIFO (named pipe), expected a regular file"


def test_devices_and_folders_are_refused(tmp_path: Path) -> None:
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    with pytest.raises(FileError) as caught:
        read_limited(zero)
    assert caught.value.reason == "is a device, expected a regular file"
    with pytest.raises(FileError) as caught:
        read_limited(tmp_path)
    assert caught.value.reason == "is a folder, expected a regular file"


def test_a_read_stops_at_its_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 101)
    with pytest.raises(FileError) as caught:
        read_limited(big, limit=100)
    assert caught.value.reason == "larger than 100 bytes"
    assert read_limited(big, limit=101) == b" " * 101


def test_json_depth_is_checked_before_parsing(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(FileError) as caught:
        read_json(deep)
    assert str(caught.value).endswith(
        f"deep.json:1:{MAX_JSON_DEPTH + 1}: error: JSON nested deeper than 64 levels"
    )
    # Brackets inside strings do not nest.
    assert too_deep('{"a": "' + "[" * 500 + '"}') is None
    assert too_deep("[" * 64 + "]" * 64) is None
    assert too_deep("[" * 65 + "]" * 65) == 64


def test_project_is_the_git_work_tree_else_the_goal_workdir(tmp_path: Path) -> None:
    goal = _goal(tmp_path / "repo" / "sub")
    assert project_root(goal) == (tmp_path / "repo" / "sub").resolve()
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    assert project_root(goal) == (tmp_path / "repo").resolve()


def test_a_monorepo_workdir_inside_the_repository_is_allowed(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    ruleset = load(_goal(tmp_path / "services" / "api", "workdir: ../../..\n"))
    assert ruleset.workdir.resolve() == tmp_path.resolve()


def test_outside_paths_in_the_goal_name_the_key_and_the_policy(
    tmp_path: Path,
) -> None:
    goal = _goal(tmp_path / "p", "state_file: ../../elsewhere/state.json\n")
    with pytest.raises(InputError) as caught:
        load(goal)
    text = str(caught.value)
    assert "g.yaml:6:13: error: state_file: the path" in text
    assert "is outside the project" in text
    assert "'policy: {allow_outside: true}'" in text
    allowed = "policy: {allow_outside: true}\n"
    goal.write_text(GOAL + "state_file: ../../elsewhere/state.json\n" + allowed)
    assert load(goal).policy.allow_outside is True


def test_a_wrong_stored_value_points_at_its_key(tmp_path: Path) -> None:
    ruleset = load(_goal(tmp_path))
    path = tmp_path / "state.json"
    path.write_text('{\n  "state": {\n    "done": true,\n    "f": "x"\n  }\n}\n')
    with pytest.raises(InputError) as caught:
        read_stored(ruleset, path)
    assert str(caught.value).startswith(
        f"{path}:4:5: error: state variable 'f': expected a float, found 'x'; "
        "fix the file, or forget the stored state with 'goap-engine state reset"
    )


def test_a_deep_state_file_is_a_damaged_workspace(tmp_path: Path) -> None:
    ruleset = load(_goal(tmp_path))
    path = tmp_path / "state.json"
    path.write_text('{"state": ' + "[" * 100 + "]" * 100 + "}")
    with pytest.raises(WorkspaceError) as caught:
        read_stored(ruleset, path)
    assert "JSON nested deeper than 64 levels" in str(caught.value)
    assert "goap-engine state reset" in str(caught.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_no_values(tmp_path: Path, value: float) -> None:
    var = load(_goal(tmp_path)).var("f")
    with pytest.raises(ValueError, match="expected a finite number"):
        check_value(var, value)


def test_journal_lines_of_the_wrong_shape(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_text(
        '{"event": "run_start", "run": "a"}\n'
        "[1]\n"
        "not json: what a crash leaves\n"
        '{"event": "step_end", "run": "a"}\n'
        '{"event": "run_end", "run": "a", "status": "reached"}\n'
    )
    warnings: list[str] = []
    events = list(read_events(journal, warn=warnings.append))
    assert [e["event"] for e in events] == ["run_start", "run_end"]
    assert warnings == [
        f"{journal}:2:1: warning: skipped a journal line: expected a JSON object, "
        "found list",
        f"{journal}:4:1: warning: skipped a journal line: a 'step_end' event "
        "without a text 'step'",
    ]
    with pytest.raises(WorkspaceError) as caught:
        list(read_events(journal, strict=True))
    assert "journal.jsonl:2:1: error: journal: expected a JSON object" in str(
        caught.value
    )


def test_a_fifo_journal_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    os.mkfifo(journal)
    with pytest.raises(WorkspaceError, match="is a FIFO"):
        list(read_events(journal))


def test_a_lock_file_that_is_a_folder_or_fifo(tmp_path: Path) -> None:
    folder = tmp_path / "x.lock"
    folder.mkdir()
    with pytest.raises(WorkspaceError, match="is a folder, expected a lock file"):
        WorkspaceLock(folder).__enter__()
    fifo = tmp_path / "y.lock"
    os.mkfifo(fifo)
    with pytest.raises(WorkspaceError, match="is a FIFO"):
        WorkspaceLock(fifo).__enter__()


def _cli(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "goap_engine", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_plan_output_inside_outside_and_allowed(tmp_path: Path) -> None:
    project = tmp_path / "p"
    _goal(project)
    (project / "goals.d" / "g.yaml").write_text(
        GOAL + "actions:\n  do: {effects: {done: true}}\n"
    )
    result = _cli(project, "plan", "goals.d/g.yaml", "-o", "plan.json")
    assert result.returncode == 0 and (project / "plan.json").is_file()
    result = _cli(project, "plan", "goals.d/g.yaml", "-o", "../out.json")
    assert result.returncode == 2 and "--allow-outside" in result.stderr
    assert not (tmp_path / "out.json").exists()
    result = _cli(
        project, "plan", "goals.d/g.yaml", "-o", "../out.json", "--allow-outside"
    )
    assert result.returncode == 0 and (tmp_path / "out.json").is_file()


def test_a_workspace_linked_outside_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "p"
    goal = _goal(project)
    goal.write_text(GOAL + "actions:\n  do: {effects: {done: true}, run: 'true'}\n")
    (tmp_path / "etc").mkdir()
    (project / ".goap").symlink_to(tmp_path / "etc")
    result = _cli(project, "run", "goals.d/g.yaml", "--yes")
    assert result.returncode == 2, result.stderr
    assert "the workspace .goap" in result.stderr
    assert list((tmp_path / "etc").iterdir()) == []


@pytest.mark.parametrize(
    ("text", "column"),
    [(r'{"a": "\ud800"}', 8), (r'{"a": "x\udc00"}', 9), (r'{"a": "\\\ud83d"}', 8)],
)
def test_a_lone_surrogate_escape_is_invalid_json(
    tmp_path: Path, text: str, column: int
) -> None:
    path = tmp_path / "f.json"
    path.write_text(text)
    with pytest.raises(FileError) as caught:
        read_json(path)
    assert str(caught.value) == (
        f"{path}:1:{column}: error: invalid JSON: a lone UTF-16 surrogate escape"
    )


def test_surrogate_pairs_and_escaped_backslashes_are_text(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(r'{"a": "\ud83d\ude00", "b": "\\ud800"}')
    assert read_json(path) == {"a": "\U0001f600", "b": "\\ud800"}


def test_a_value_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    goal = _goal(tmp_path)
    goal.write_text(GOAL.replace("goal:", "  name: {type: str}\ngoal:"))
    assert check_value(load(goal).var("name"), "caf\u00e9") == "caf\u00e9"
    # A byte that is not UTF-8 on the command line reaches Python as a lone
    # surrogate; it is refused before any state file or journal holds it.
    for argv in (
        [b"state", b"set", b"goals.d/g.yaml", b"name=\xff"],
        [b"run", b"goals.d/g.yaml", b"--set", b"name=a\xfeb", b"--yes"],
    ):
        result = subprocess.run(
            [sys.executable.encode(), b"-m", b"goap_engine", *argv],
            cwd=tmp_path,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.decode().endswith(
            "error: state variable 'name': expected UTF-8 text, found bytes that "
            "are not\n"
        )
    assert not (tmp_path / ".goap" / "goals.d" / "g" / "state.json").exists()
