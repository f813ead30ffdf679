"""``goap-engine builtins`` and the reference it generates, run as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from goap_engine.cli_builtins import markdown
from goap_engine.language.builtins import BUILTINS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "builtins.md"


def goap(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "goap_engine", *argv],
        capture_output=True,
        text=True,
        env=dict(os.environ, NO_COLOR="1"),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def test_builtins_lists_every_one_with_its_kind_and_summary() -> None:
    done = goap("builtins")
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == len(BUILTINS)
    assert lines[0].split()[:2] == ["git.current_branch", "sensor"]
    row = next(line for line in lines if line.startswith("validation.gates "))
    assert row.split(None, 2) == [
        "validation.gates",
        "both",
        "Check thresholds on a JSON report's values and on file sizes.",
    ]


def test_builtins_name_documents_its_arguments() -> None:
    done = goap("builtins", "git.commit")
    assert done.returncode == 0
    assert done.stdout == (
        "git.commit (action): Commit exactly 'paths' with 'message'; nothing "
        "changed makes no commit.\n"
        "  implemented by goap_engine.integrations.git:commit\n"
        "  with:\n"
        "    message      str        required: The commit message.\n"
        "    paths        list[str]  required: Files, folders or globs to commit "
        "(relative to workdir).\n"
        "    allow_empty  bool       default false: Make an empty commit when "
        "nothing changed.\n"
    )


def test_builtins_json_holds_the_whole_declaration() -> None:
    listing = json.loads(goap("builtins", "--format", "json").stdout)
    assert [r["name"] for r in listing] == list(BUILTINS)
    one = json.loads(goap("builtins", "hf.upload", "--format", "json").stdout)
    repo_type = next(a for a in one["arguments"] if a["name"] == "repo_type")
    assert repo_type == {
        "name": "repo_type",
        "type": "str",
        "required": False,
        "default": "model",
        "choices": ["model", "dataset", "space"],
        "description": "What the repository holds.",
    }
    gates = json.loads(goap("builtins", "validation.gates", "--format", "json").stdout)
    assert gates["one_of"] == [["gates", "files"]]
    assert gates["needs"] == [["gates", "report"]]


def test_an_unknown_name_is_exit_2_with_a_did_you_mean() -> None:
    done = goap("builtins", "validation.gate")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "error: unknown built-in hook 'validation.gate' (did you mean "
        "'validation.gates'?); 'goap-engine builtins' lists them\n"
    )


def test_docs_builtins_md_is_current() -> None:
    """Regenerate with: goap-engine builtins --format markdown > docs/builtins.md"""
    assert DOCS.read_text(encoding="utf-8") == markdown()
    assert goap("builtins", "--format", "markdown").stdout == markdown()


def test_the_reference_is_linked_from_the_readme_and_the_language_reference() -> None:
    for doc in ("README.md", "docs/language.md"):
        assert "builtins.md" in (ROOT / doc).read_text(encoding="utf-8"), doc


def test_validate_refuses_a_misspelt_argument_before_anything_runs(
    tmp_path: Path,
) -> None:
    goal = tmp_path / "g.yaml"
    goal.write_text(
        "version: 1\n"
        "state: {first: bool, checked: bool}\n"
        "actions:\n"
        "  touch: {effects: {first: true}, run: touch ran}\n"
        "  check:\n"
        "    pre: first\n"
        "    effects: {checked: true}\n"
        "    run: {builtin: validation.gates, with: {report: r.json, gate: {a: 1}}}\n"
        "goal: [checked]\n"
    )
    done = goap("validate", "g.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        "g.yaml:8:61: error: action 'check': unknown argument 'gate' of "
        "validation.gates (did you mean 'gates'?)" in done.stderr
    )
    done = goap("run", "g.yaml", "--yes", cwd=tmp_path)
    assert done.returncode == 2 and "unknown argument 'gate'" in done.stderr
    assert not (tmp_path / "ran").exists()
