"""Command-line habits: GOAL found in goals.d/, exit codes, streams, colour, pipes.

Real processes of the installed ``goap-engine`` in projects made for each
test; colour is checked on a real pseudo-terminal.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from goap_cli import goap as cli

from goap_engine.errors import EXIT_CLOSED_PIPE, EXIT_INPUT, EXIT_NO_PLAN

GOAL = textwrap.dedent(
    """\
    version: 1
    state:
      built: bool
      shipped: bool
    actions:
      build:
        effects: {built: true}
        run: echo build
      ship:
        pre: built
        effects: {shipped: true}
        run: echo ship
    goal: shipped
    """
)


def timeless(text: str) -> str:
    """Return ``text`` without the times it reports (they vary run to run)."""
    return re.sub(r"\d+(\.\d+)? ?(ms|s)\b", "<time>", text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "goals.d").mkdir()
    (tmp_path / "goals.d" / "release.yaml").write_text(GOAL)
    return tmp_path


@pytest.mark.parametrize(
    "argv",
    [
        ["plan"],
        ["explain"],
        ["state", "show"],
        ["history"],
        ["report"],
        ["packs", "list"],
        ["run", "--dry-run"],
    ],
)
def test_goal_may_be_left_out_when_goals_d_holds_one(
    project: Path, argv: list[str]
) -> None:
    named = cli(project, *argv, "goals.d/release.yaml")
    found = cli(project, *argv)
    assert found.returncode == named.returncode == 0, found.stderr
    assert timeless(found.stdout) == timeless(named.stdout)
    if argv[0] not in ("history", "state"):  # nothing stored, nothing run yet
        assert "ship" in found.stdout + found.stderr


def test_state_set_and_reset_without_goal(project: Path) -> None:
    assert cli(project, "state", "set", "built=true").returncode == 0
    shown = cli(project, "state", "show")
    assert "built" in shown.stdout and "true" in shown.stdout
    assert cli(project, "state", "set").returncode == EXIT_INPUT
    assert "give VAR=VALUE" in cli(project, "state", "set").stderr
    assert cli(project, "state", "reset").returncode == 0
    assert "true" not in cli(project, "state", "show").stdout.split("built")[1]


def test_without_a_single_goal_the_message_lists_what_there_is(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (project / "goals.d" / "nightly.yml").write_text(GOAL)
    two = cli(project, "plan")
    assert two.returncode == EXIT_INPUT
    assert "goals.d/ holds 2 goals (goals.d/nightly.yml, goals.d/release.yaml)" in (
        two.stderr
    )
    empty = tmp_path_factory.mktemp("empty")
    none = cli(empty, "explain")
    assert none.returncode == EXIT_INPUT
    assert "no GOAL given and there is no goals.d/ here" in none.stderr
    (empty / "goals.d").mkdir()
    assert "goals.d/ has no .yaml file" in cli(empty, "history").stderr


def test_packs_update_of_an_unknown_name_is_a_usage_error(project: Path) -> None:
    result = cli(project, "packs", "update", "lint")
    assert result.returncode == EXIT_INPUT
    assert "no git or installed pack named lint" in result.stderr
    assert "(its remote packs: none)" in result.stderr
    named = cli(project, "packs", "update", "goals.d/release.yaml", "lint")
    assert named.returncode == EXIT_INPUT
    assert cli(project, "packs", "update").returncode == 0


def test_explain_exits_3_for_an_unreachable_goal(project: Path) -> None:
    (project / "goals.d" / "release.yaml").write_text(
        GOAL.replace("effects: {built: true}", "effects: {shipped: false}")
    )
    result = cli(project, "explain")
    assert result.returncode == EXIT_NO_PLAN
    assert "built" in result.stdout  # the explanation itself is data


def test_validate_writes_diagnostics_to_stderr_and_formats_to_stdout(
    project: Path,
) -> None:
    (project / "goals.d" / "release.yaml").write_text(
        GOAL.replace("pre: built", "pre: nope")
    )
    text = cli(project, "validate")
    assert text.returncode == EXIT_INPUT
    assert text.stdout == ""
    assert "unknown name 'nope'" in text.stderr
    as_json = cli(project, "validate", "--format", "json")
    assert "unknown name 'nope'" in as_json.stdout


def test_a_closed_pipe_ends_quietly_with_141(project: Path) -> None:
    # Enough output to fill the pipe: the reader closes it after one line.
    many = "".join(f"  v{i}: {{type: int, default: {i}}}\n" for i in range(3000))
    (project / "goals.d" / "release.yaml").write_text(
        GOAL.replace("state:\n", "state:\n" + many)
    )
    shell = (
        f"{sys.executable} -m goap_engine state show | head -1; "
        'echo "status ${PIPESTATUS[0]}" >&2'
    )
    result = subprocess.run(
        ["bash", "-c", shell],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr.strip().splitlines() == [f"status {EXIT_CLOSED_PIPE}"]


def on_terminal(cwd: Path, *args: str, **env: str) -> bytes:
    """Return what ``goap-engine ARGS`` writes to a pseudo-terminal."""
    controller, terminal = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    full_env.update(env, TERM="xterm-256color")
    process = subprocess.Popen(
        [sys.executable, "-m", "goap_engine", *args],
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal is closed once the process has gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(controller)
    return b"".join(chunks)


def test_no_escape_codes_with_no_color_or_in_ci(project: Path) -> None:
    assert b"\x1b[" in on_terminal(project, "validate")  # colour on a terminal
    for env in ({"NO_COLOR": "1"}, {"CI": "true"}):
        output = on_terminal(project, "validate", **env)
        assert b"checked" in output
        assert b"\x1b" not in output, env
    # The empty NO_COLOR and CI=false mean colour, as their conventions say.
    assert b"\x1b[" in on_terminal(project, "validate", NO_COLOR="", CI="false")


@pytest.mark.parametrize(
    ("argv", "suggested"),
    [
        (["state", "show"], "goap-engine state show goals.d/a.yaml"),
        (
            ["state", "set", "built=true"],
            "goap-engine state set goals.d/a.yaml built=true",
        ),
        (["unlock", "--force"], "goap-engine unlock goals.d/a.yaml --force"),
        (["plan", "--var", "x=$(y)"], "goap-engine plan goals.d/a.yaml --var 'x=$(y)'"),
    ],
)
def test_the_many_goals_message_suggests_the_command_typed(
    project: Path, argv: list[str], suggested: str
) -> None:
    (project / "goals.d" / "a.yaml").write_text(GOAL)
    result = cli(project, *argv)
    assert result.returncode == EXIT_INPUT
    assert result.stderr.strip().endswith(f"for example {suggested}")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["run", "--help"]])
def test_help_into_a_closed_pipe_ends_with_141(project: Path, argv: list[str]) -> None:
    # The reader's end is closed before the command starts: its first write fails.
    reader, writer = os.pipe()
    os.close(reader)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "goap_engine", *argv],
            cwd=project,
            stdout=writer,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    finally:
        os.close(writer)
    assert (result.returncode, result.stderr) == (EXIT_CLOSED_PIPE, b"")


def test_packs_list_names_a_pack_by_its_alias(project: Path) -> None:
    (project / "shared").mkdir()
    (project / "shared" / "release.yaml").write_text(
        "version: 1\nstate: {published: bool}\n"
        "actions: {publish: {effects: {published: true}, run: echo publish}}\n"
    )
    (project / "goals.d" / "release.yaml").write_text(
        GOAL.replace(
            "version: 1\n",
            "version: 1\nuses: [{path: ../shared/release.yaml, as: team}]\n",
        )
    )
    result = cli(project, "packs", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        f"team: local  ({project}/goals.d/../shared/release.yaml)",
        "  action publish",
    ]


def test_goal_is_found_from_a_subfolder_of_the_project(project: Path) -> None:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    deeper = project / "src" / "pkg"
    deeper.mkdir(parents=True)
    found = cli(deeper, "plan")
    assert found.returncode == 0, found.stderr
    assert "ship" in found.stdout
    checked = cli(deeper, "validate")
    assert checked.returncode == 0 and "1 file(s) checked" in checked.stderr
    # Not above the project's root: a goals.d/ there belongs to something else.
    outer = project / "nested-repo"
    subprocess.run(["git", "init", "-q", str(outer)], check=True)
    alone = cli(outer, "plan")
    assert alone.returncode == EXIT_INPUT
    assert "no goals.d/ here nor above, up to the project's root" in alone.stderr
