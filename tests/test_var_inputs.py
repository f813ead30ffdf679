"""Vars from outside the files: --var, --var-file and GOAP_VAR_*, typed and ranked.

The precedence is observed where it matters: a real run's hook writes the
value it was given.  Every command runs as a real process.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from goap_cli import goap as cli

from goap_engine.errors import EXIT_INPUT
from goap_engine.language.var_inputs import (
    VarInput,
    apply,
    arguments,
    from_assignments,
)

PACK = textwrap.dedent(
    """\
    version: 1
    vars: {who: pack, level: 1, ratio: 0.5, loud: false}
    state:
      said: bool
    actions:
      say:
        effects: {said: true}
        run: echo "{{ who }} {{ level }} {{ ratio }} {{ loud }}" > said.txt
    """
)
GOAL = textwrap.dedent(
    """\
    version: 1
    uses: [../packs/say.yaml]
    vars: {who: goal}
    goal: said
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "say.yaml").write_text(PACK)
    (tmp_path / "goals.d").mkdir()
    (tmp_path / "goals.d" / "say.yaml").write_text(GOAL)
    return tmp_path


def said(cwd: Path, *args: str, **env: str) -> str:
    result = cli(cwd, "run", "--fresh", "--yes", *args, **env)
    assert result.returncode == 0, result.stderr
    return (cwd / "said.txt").read_text().strip()


def test_each_source_wins_over_the_one_before(project: Path) -> None:
    assert said(project) == "goal 1 0.5 false"
    (project / "vars.yaml").write_text("who: file\nlevel: 2\n")
    assert said(project, "--var-file", "vars.yaml") == "file 2 0.5 false"
    from_env = said(project, "--var-file", "vars.yaml", GOAP_VAR_who="env")
    assert from_env == "env 2 0.5 false"
    everything = said(
        project,
        *("--var-file", "vars.yaml", "--var", "who=cli", "--var", "ratio=0.75"),
        GOAP_VAR_who="env",
    )
    assert everything == "cli 2 0.75 false"


def test_text_takes_the_type_of_the_var(project: Path) -> None:
    typed = said(project, "--var", "level=7", "--var", "loud=yes", "--var", "ratio=1")
    assert typed == "goal 7 1.0 true"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--var", "levle=2"], {}, "--var levle: unknown var 'levle' (did you mean"),
        (["--var", "level=two"], {}, "--var level: expected an integer, found 'two'"),
        (["--var", "loud=maybe"], {}, "expected a boolean (true or false)"),
        (["--var", "ratio=nan"], {}, "expected a number, found 'nan'"),
        (["--var", "said=true"], {}, "'said' is a state variable, not a var"),
        (["--var", "level"], {}, "--var 'level': expected NAME=VALUE"),
        ([], {"GOAP_VAR_level": "x"}, "GOAP_VAR_level: expected an integer"),
    ],
)
def test_bad_values_are_usage_errors(
    project: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    for command in (["validate"], ["plan", "--no-sense"], ["run", "--yes"]):
        result = cli(project, *command, *args, **env)
        assert result.returncode == EXIT_INPUT, (command, result.stderr)
        assert message in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (project / "said.txt").exists()


def test_the_environment_may_hold_values_for_other_goals(project: Path) -> None:
    assert said(project, GOAP_VAR_unrelated="x") == "goal 1 0.5 false"


def test_var_file_problems_are_located(project: Path) -> None:
    (project / "vars.yaml").write_text("who: file\nlevel: [1, 2]\n")
    result = cli(project, "validate", "--var-file", "vars.yaml")
    assert result.returncode == EXIT_INPUT
    assert "vars.yaml:2:8: error: var file: var 'level': expected a string" in (
        result.stderr
    )
    (project / "vars.yaml").write_text("ratio: high\n")
    result = cli(project, "validate", "--var-file", "vars.yaml")
    assert "vars.yaml:1:1: error: var 'ratio': expected a number, found 'high'" in (
        result.stderr
    )
    (project / "vars.yaml").write_text("- a list\n")
    result = cli(project, "plan", "--var-file", "vars.yaml")
    assert result.returncode == EXIT_INPUT
    assert "expected a mapping at the top level" in result.stderr
    result = cli(project, "plan", "--var-file", "missing.yaml")
    assert result.returncode == EXIT_INPUT
    assert "missing.yaml: error: file not found" in result.stderr


def test_a_changed_value_is_not_served_from_the_cache(project: Path) -> None:
    assert said(project, "--var", "who=first") == "first 1 0.5 false"
    assert said(project, "--var", "who=second") == "second 1 0.5 false"
    assert said(project, GOAP_VAR_who="third") == "third 1 0.5 false"
    assert said(project) == "goal 1 0.5 false"


def test_apply_types_and_reports_in_order() -> None:
    values = {"n": 1, "x": 0.5, "s": "a", "b": True}
    problems = apply(
        values,
        [
            *from_assignments(["n=2", "x=3", "s=4", "b=off"]),
            VarInput("n", 5, "file"),
            VarInput("x", True, "file"),
        ],
        set(),
    )
    assert values == {"n": 5, "x": 3.0, "s": "4", "b": False}
    assert [p.message for p in problems] == [
        "file: expected a number (as its value 3.0), found True"
    ]


def test_set_of_a_var_says_to_use_var(project: Path) -> None:
    result = cli(project, "plan", "--no-sense", "--set", "level=2")
    assert result.returncode == EXIT_INPUT
    assert "'level' is a var, give it with --var level=VALUE" in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("level=1_000", "expected an integer, found '1_000'"),
        ("level=١٢", "expected an integer, found '١٢'"),
        ("ratio=١.٥", "expected a number, found '١.٥'"),
        ("ratio=0x10", "expected a number, found '0x10'"),
        ("level=" + "9" * 5000, "expected an integer, found '99999"),
    ],
)
def test_numbers_are_written_as_yaml_writes_them(
    project: Path, text: str, message: str
) -> None:
    result = cli(project, "plan", "--no-sense", "--var", text)
    assert result.returncode == EXIT_INPUT
    assert message in result.stderr
    assert len(result.stderr) < 300


def test_signed_and_exponent_numbers_are_taken(project: Path) -> None:
    typed = said(project, "--var", "level=+3", "--var", "ratio=-1.5e-3")
    assert typed == "goal 3 -0.0015 false"


def test_an_empty_var_file_gives_no_values(project: Path) -> None:
    (project / "vars.yaml").write_text("# nothing this time\n")
    assert said(project, "--var-file", "vars.yaml") == "goal 1 0.5 false"


def test_suggested_commands_repeat_the_vars_given(project: Path) -> None:
    pack = project / "packs" / "say.yaml"
    irreversible = "said: true}\n    irreversible: true"
    pack.write_text(pack.read_text().replace("said: true}", irreversible))
    (project / "vars.yaml").write_text("level: 2\n")
    given = ("--var-file", "vars.yaml", "--var", "who=the $(team)")
    result = cli(project, "run", *given)
    assert result.returncode == EXIT_INPUT, result.stderr
    suggested = (
        "'goap-engine run goals.d/say.yaml --var-file vars.yaml "
        "--var 'who=the $(team)' --approve say'"
    )
    assert suggested in result.stderr
    # Pasted (as a shell reads it), it runs with the same values.
    pasted = shlex.split(suggested[1:-1])[1:]
    ran = subprocess.run(
        [sys.executable, "-m", "goap_engine", *pasted],
        cwd=project,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert (project / "said.txt").read_text().strip() == "the $(team) 2 0.5 false"


def test_arguments_leave_out_the_environment() -> None:
    inputs = [
        VarInput("who", "a b", "--var who"),
        VarInput("who", "x", "GOAP_VAR_who", required=False),
    ]
    assert arguments(inputs) == " --var 'who=a b'"
    assert arguments([]) == ""
