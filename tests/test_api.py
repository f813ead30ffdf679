"""The Python API: its exported names, the start state as a mapping, the README."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import goap_engine
from goap_engine import InputError, find_plan, load

GOAL = """\
version: 1
state:
  built: bool
  shipped: bool
  level: {type: int, min: 0, max: 5}
  score: float
actions:
  build: {effects: {built: true}}
  ship: {pre: built and score >= 0.5, effects: {shipped: true}}
  tune: {pre: score < 0.5, effects: {score: 0.9}}
goal: [shipped]
vars: {release: "1.0"}
"""


@pytest.fixture
def ruleset(write):
    return load(write("goal.yaml", GOAL))


def names(plan) -> list[str]:
    return [s.action.name for s in plan.steps]


def test_every_exported_name_resolves_and_is_documented() -> None:
    from goap_engine import _WHERE

    # Every lazily importable name is public, and nothing public is missing.
    assert set(goap_engine.__all__) == {*_WHERE, "__version__"}
    for name in _WHERE:
        value = getattr(goap_engine, name)
        doc = inspect.getdoc(value) or ""
        # A dataclass without a docstring gets its signature as one.
        assert doc and not doc.startswith(f"{name}("), name
    assert {"find_plan", "sense", "run", "Sensed", "RunResult"} <= set(_WHERE)


def test_start_mapping_gives_the_plan_of_the_same_state_as_a_tuple(ruleset) -> None:
    by_name = find_plan(ruleset, {"built": True, "score": 1})
    state = list(ruleset.default_state())
    state[ruleset.var("built").index] = True
    state[ruleset.var("score").index] = 1.0
    by_tuple = find_plan(ruleset, tuple(state))
    assert names(by_name) == names(by_tuple) == ["ship"]
    # The names not given keep their defaults; an int given for a float widens.
    assert by_name.start == by_tuple.start
    assert by_name.start[ruleset.var("score").index] == 1.0
    assert isinstance(by_name.start[ruleset.var("score").index], float)
    assert names(find_plan(ruleset, start={})) == ["build", "tune", "ship"]
    assert names(find_plan(ruleset)) == ["build", "tune", "ship"]


def test_start_mapping_problems_are_reported_together(ruleset) -> None:
    with pytest.raises(InputError) as caught:
        find_plan(ruleset, {"biult": True, "level": 9, "shipped": "yes", 3: 1})
    assert str(caught.value).splitlines() == [
        "start: error: unknown state variable 'biult' (did you mean 'built'?)",
        "start: error: state variable 'level': expected a int in [0, 5] "
        "(the value given is not shown)",
        "start: error: state variable 'shipped': expected a bool "
        "(the value given is not shown)",
        "start: error: expected a state variable name, found int",
    ]
    assert caught.value.exit_code == 2


def test_a_var_given_as_start_says_how_to_give_it(ruleset) -> None:
    with pytest.raises(InputError) as caught:
        find_plan(ruleset, {"release": "2.0"})
    assert str(caught.value) == (
        "start: error: unknown state variable 'release': 'release' is a var, "
        "give it with load(path, overrides={'release': ...})"
    )


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (
            (True,),
            "start: error: expected a state of 4 values (one per state variable) "
            "or a mapping of names to values, found a tuple of 1",
        ),
        (
            [True, False, 0, 0.0],
            "start: error: expected a mapping of state variable names to values, "
            "found list",
        ),
        (
            "built=true",
            "start: error: expected a mapping of state variable names to values, "
            "found str",
        ),
    ],
)
def test_a_start_of_another_shape_is_an_input_error(ruleset, start, message) -> None:
    with pytest.raises(InputError) as caught:
        find_plan(ruleset, start)
    assert str(caught.value) == message


def test_sense_and_run_refuse_what_is_not_a_ruleset(write) -> None:
    path = write("goal.yaml", GOAL)
    for call in (goap_engine.sense, goap_engine.run):
        with pytest.raises(InputError) as caught:
            call(str(path))  # type: ignore[arg-type]
        assert str(caught.value) == (
            "error: expected a Ruleset (from goap_engine.load(path)), found str"
        )


def readme_example() -> str:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_readme_python_api_example_runs_as_written(tmp_path: Path) -> None:
    # As a reader would: a fresh interpreter in an empty folder.
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("GOAP_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-c", readme_example()],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "1 build 1.0",
        "2 ship 1.0",
        "plan cost 2.0 optimal",
        "sensed {'version': '1.2.0'} failed []",
        "reached ['build: ok', 'ship: ok']",
        "building 1.2.0",
    ]
    assert done.stderr == ""
