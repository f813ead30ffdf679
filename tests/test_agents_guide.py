"""The guide for coding agents: ``agents-guide`` and what ``init`` puts in AGENTS.md."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from click.testing import CliRunner

from goap_engine.cli import main
from goap_engine.init import GUIDE_BEGIN, GUIDE_END, agents_guide


def _init(folder: Path) -> subprocess.CompletedProcess[str]:
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    result = CliRunner().invoke(main, ["init", str(folder), "--force"])
    return subprocess.CompletedProcess(
        [], result.exit_code, result.stdout, result.stderr
    )


def test_every_command_the_guide_names_exists_and_says_what_it_does() -> None:
    guide = agents_guide()
    named = set(re.findall(r"goap-engine ([a-z][a-z-]*)", guide))
    assert named == {
        "init",
        "agents-guide",
        "validate",
        "plan",
        "explain",
        "propose",
        "run",
        "history",
        "approve",
        "state",
        "mcp",
    }
    commands = set(main.commands)  # type: ignore[attr-defined]
    # 'mcp' comes with the [mcp] extra's command; the rest are always there.
    assert named - {"mcp"} <= commands
    printed = CliRunner().invoke(main, ["agents-guide"])
    assert printed.exit_code == 0
    assert printed.stdout == guide
    assert guide.startswith(GUIDE_BEGIN) and guide.rstrip().endswith(GUIDE_END)


def test_init_writes_the_guide_and_keeps_what_agents_md_had(tmp_path: Path) -> None:
    (tmp_path / "AGENTS.md").write_text("# Rules\n\nUse uv.\n")
    assert _init(tmp_path).returncode == 0
    text = (tmp_path / "AGENTS.md").read_text()
    assert text.startswith("# Rules\n\nUse uv.\n\n" + GUIDE_BEGIN)
    assert text.count(GUIDE_BEGIN) == 1
    # Again: unchanged, not appended twice.
    assert _init(tmp_path).returncode == 0
    assert (tmp_path / "AGENTS.md").read_text() == text
    # An older guide section is replaced, the rest kept.
    old = text.replace("Validate after every edit", "Validate sometimes")
    (tmp_path / "AGENTS.md").write_text(old + "\n## Mine\n")
    assert _init(tmp_path).returncode == 0
    assert (tmp_path / "AGENTS.md").read_text() == text + "\n## Mine\n"


def test_a_new_project_gets_an_agents_md_with_only_the_guide(tmp_path: Path) -> None:
    result = _init(tmp_path)
    assert result.returncode == 0
    assert (tmp_path / "AGENTS.md").read_text() == agents_guide()
    assert str(tmp_path / "AGENTS.md") in result.stdout


def test_an_agents_md_that_is_a_fifo_or_a_link_is_left_alone(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "AGENTS.md")
    result = _init(tmp_path)
    assert result.returncode == 0  # the scaffold is written all the same
    assert "is a FIFO (named pipe), expected a regular file; left alone" in (
        result.stderr
    )
    (tmp_path / "AGENTS.md").unlink()
    target = tmp_path / "elsewhere.md"
    target.write_text("theirs\n")
    (tmp_path / "AGENTS.md").symlink_to(target)
    result = _init(tmp_path)
    assert "AGENTS.md: is a symbolic link; left alone" in result.stderr
    assert target.read_text() == "theirs\n"
