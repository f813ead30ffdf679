"""Warnings worth reading: coded, silenced with ignore:, none from others' packs.

Real processes of ``goap-engine`` in projects made for each test.
"""

from __future__ import annotations

import ast
import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from goap_cli import goap as cli

from goap_engine.errors import EXIT_INPUT, WARNING_CODES

ROOT = Path(__file__).resolve().parents[1]

PACK = textwrap.dedent(
    """\
    version: 1
    state:
      built: bool
      spare: bool
    actions:
      build:
        effects: {built: true}
        run: echo build
    """
)
GOAL = textwrap.dedent(
    """\
    version: 1
    uses: [../packs/build.yaml]
    state:
      extra: bool
    goal: built
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "build.yaml").write_text(PACK)
    (tmp_path / "goals.d").mkdir()
    (tmp_path / "goals.d" / "g.yaml").write_text(GOAL)
    return tmp_path


def warnings(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if ": warning: " in line]


def test_warnings_end_with_their_code(project: Path) -> None:
    assert warnings(cli(project, "validate")) == [
        "packs/build.yaml:4:3: warning: state variable 'spare': is never read by "
        "a condition, effect or hook [never-read]",
        "goals.d/g.yaml:4:3: warning: state variable 'extra': is never read by a "
        "condition, effect or hook [never-read]",
    ]
    data = json.loads(cli(project, "validate", "--format", "json").stdout)
    assert {d["code"] for d in data["diagnostics"]} == {"never-read"}


def test_a_pack_silences_its_own_warnings_only(project: Path) -> None:
    (project / "packs" / "build.yaml").write_text("ignore: [never-read]\n" + PACK)
    assert [w.split(":")[0] for w in warnings(cli(project, "validate"))] == [
        "goals.d/g.yaml"
    ]


def test_a_goal_silences_the_whole_ruleset(project: Path) -> None:
    (project / "goals.d" / "g.yaml").write_text(GOAL + "ignore: [never-read]\n")
    result = cli(project, "validate", "--strict")
    assert result.returncode == 0, result.stderr
    assert warnings(result) == []


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        ("[never-red]", "ignore[0]: expected one of 'never-read', "),
        ("[unreachable-goal]", "found 'unreachable-goal'"),  # an error's code
        ("never-read", "ignore: expected a list, found string 'never-read'"),
    ],
)
def test_only_warning_codes_can_be_ignored(
    project: Path, codes: str, message: str
) -> None:
    (project / "goals.d" / "g.yaml").write_text(GOAL + f"ignore: {codes}\n")
    result = cli(project, "validate")
    assert result.returncode == EXIT_INPUT
    assert "goals.d/g.yaml:6:" in result.stderr and message in result.stderr


def test_errors_cannot_be_silenced(project: Path) -> None:
    (project / "goals.d" / "g.yaml").write_text(
        GOAL.replace("goal: built", "goal: extra") + "ignore: [never-read]\n"
    )
    result = cli(project, "validate")
    assert result.returncode == EXIT_INPUT
    assert "can never be reached" in result.stderr


def test_a_fresh_init_passes_strict_and_shipped_packs_say_nothing(
    tmp_path: Path,
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert cli(tmp_path, "init").returncode == 0
    result = cli(tmp_path, "validate", "--strict")
    assert result.returncode == 0, result.stderr
    assert ": warning:" not in result.stderr
    assert "0 error(s), 0 warning(s)" in result.stderr


def test_the_shipped_packs_are_checked_where_they_are_written() -> None:
    # In this repository they are inside the project: the seed goal, which
    # uses them all, shows their warnings -- and has none.
    result = cli(ROOT, "validate", "--strict", "goals.d/production.yaml")
    assert result.returncode == 0, result.stderr


def test_the_codes_agree_everywhere() -> None:
    schema = json.loads(
        (ROOT / "engine/goap_engine/schemas/pack.schema.json").read_text()
    )
    assert schema["definitions"]["ignore"]["items"]["enum"] == list(WARNING_CODES)
    lint = ast.parse((ROOT / "engine/goap_engine/lint.py").read_text())
    given = {
        node.args[4].value
        for node in ast.walk(lint)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", "") == "Diagnostic"
        and len(node.args) == 5
        and isinstance(node.args[3], ast.Constant)
        and node.args[3].value == "warning"
        and isinstance(node.args[4], ast.Constant)
    }
    assert given == set(WARNING_CODES)
    reference = (ROOT / "docs" / "language.md").read_text()
    for code in WARNING_CODES:
        assert f"| `{code}` |" in reference


def test_warnings_about_packs_from_outside_the_project_are_left_out(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "build.yaml").write_text(PACK)  # its 'spare' is never read
    project = tmp_path / "app"
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "goals.d").mkdir()
    (project / "goals.d" / "g.yaml").write_text(
        GOAL.replace("../packs/build.yaml", "../../shared/build.yaml")
    )
    found = warnings(cli(project, "validate"))
    assert [w.split(":")[0] for w in found] == ["goals.d/g.yaml"]
    # Validated where it is written, the pack's own warning shows.
    own = warnings(cli(shared, "validate", "build.yaml"))
    assert (
        "build.yaml:4:3: warning: state variable 'spare': is never read by a "
        "condition, effect or hook [never-read]"
    ) in own
    # Its errors always count.
    (shared / "build.yaml").write_text(PACK.replace("echo build", "echo {{ nope }}"))
    assert "nope" in cli(project, "validate").stderr


def test_a_project_name_that_shadows_an_outside_pack_is_named(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "build.yaml").write_text(PACK)
    project = tmp_path / "app"
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "goals.d").mkdir()
    (project / "goals.d" / "g.yaml").write_text(
        "version: 1\nuses: [../../shared/build.yaml]\n"
        "state:\n  built: {type: bool, description: mine}\n"
        "goal: [g.built]\n"
    )
    result = cli(project, "validate")
    assert (
        "goals.d/g.yaml:4:3: warning: state variable 'g.built': 'built' is also "
        "declared by build.built (pack 'build', from outside the project): both "
        "are now qualified, so the short name 'built' names neither (write g.built "
        "or build.built, or rename yours) [shadowed-name]"
    ) in result.stderr
    # Two packs of the project itself may share a name: that is what ns.name is for.
    (project / "packs").mkdir()
    (project / "packs" / "build.yaml").write_text(PACK)
    (project / "goals.d" / "g.yaml").write_text(
        "version: 1\nuses: [../packs/build.yaml]\n"
        "state:\n  built: {type: bool, description: mine}\n"
        "goal: [g.built]\n"
    )
    assert "shadowed-name" not in cli(project, "validate").stderr


@pytest.mark.parametrize("has_src", [False, True])
def test_a_fresh_init_plans_a_dry_run(tmp_path: Path, has_src: bool) -> None:
    """The scaffold's paths fit the project: its first run gets past the sensors."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    if has_src:
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "app.py").write_text("print('hello')\n")
    assert cli(tmp_path, "init").returncode == 0
    goal = (tmp_path / "goals.d" / "production.yaml").read_text()
    expected = "src" if has_src else "."
    assert f"  src: {expected}\n" in goal and f"  code_path: {expected}\n" in goal
    result = cli(tmp_path, "run", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "update_changelog" in result.stdout + result.stderr
