"""The command line, through click's runner and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from goap_engine.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOAL = str(ROOT / "goals.d" / "production.yaml")
HEAVY = ("mlflow", "modal", "github", "huggingface_hub", "git")


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_validate_production_ok() -> None:
    code, out, err = invoke("validate", GOAL)
    assert code == 0, out + err
    assert "0 error(s)" in err


def test_validate_formats_and_strict(write) -> None:
    path = write(
        "g.yaml",
        "version: 1\nstate: {a: bool, unused: int}\n"
        "actions: {x: {effects: {a: true}}}\ngoal: a\n",
    )
    code, out, err = invoke("validate", str(path))
    assert code == 0 and out == "" and "warning" in err and "'unused'" in err
    code, out, err = invoke("validate", "--strict", str(path))
    assert code == 2 and ": error: state variable 'unused'" in err
    code, out, _ = invoke("validate", "--format", "json", str(path))
    data = json.loads(out)
    assert data["warnings"] == 1 and data["diagnostics"][0]["line"] == 2
    code, out, _ = invoke("validate", "--format", "github", str(path))
    assert out.startswith("::warning file=") and ",line=2,col=" in out


def test_validate_missing_file_exit_2() -> None:
    code, out, err = invoke("validate", "does/not/exist.yaml")
    assert code == 2 and "file not found" in err and out == ""


def test_plan_text_json_mermaid_dot(tmp_path: Path) -> None:
    code, out, _ = invoke("plan", "--no-sense", GOAL)
    assert code == 0
    assert "cost 52 (optimal" in out and "A04" in out and "Timeline:" in out
    target = tmp_path / "plan.json"
    code, out, _ = invoke(
        "plan",
        "--no-sense",
        GOAL,
        "--format",
        "json",
        "-o",
        str(target),
        "--allow-outside",
    )
    data = json.loads(out)
    assert data["format"] == "goap-engine/plan" and data["cost"] == 52
    assert json.loads(target.read_text())["fingerprint"] == data["fingerprint"]
    assert [s["number"] for s in data["steps"]] == list(range(1, 15))
    code, out, _ = invoke("plan", "--no-sense", GOAL, "--format", "mermaid")
    assert out.startswith("flowchart TD") and "-->" in out
    code, out, _ = invoke("plan", "--no-sense", GOAL, "--format", "dot")
    assert out.startswith("digraph plan {")


def test_plan_set_and_state(tmp_path: Path) -> None:
    code, out, _ = invoke(
        "plan",
        "--no-sense",
        GOAL,
        "--set",
        "code_validated_modal=true",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["cost"] == 46
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"state": {"code_validated_ruff": True}}))
    code, out, _ = invoke(
        "plan", "--no-sense", GOAL, "--state", str(state), "--format", "json"
    )
    assert json.loads(out)["cost"] == 49
    code, _, err = invoke("plan", "--no-sense", GOAL, "--set", "commits_made=x")
    # The value is never repeated: it may be a secret.
    assert code == 2 and err == (
        "--set: error: state variable 'commits_made': expected an integer "
        "(the value given is not shown)\n"
    )
    code, _, err = invoke("plan", "--no-sense", GOAL, "--set", "nope=1")
    assert code == 2 and "unknown state variable 'nope'" in err


def test_plan_unreachable_exit_3(write) -> None:
    path = write(
        "g.yaml",
        "version: 1\nstate: {a: bool, b: {type: bool, sense: 'false'}}\n"
        "actions: {x: {pre: b, effects: {a: true}}}\ngoal: a\n",
    )
    code, _, err = invoke("plan", str(path))
    assert code == 3
    assert "goal condition 'a' cannot be reached" in err


def test_explain(write) -> None:
    code, out, _ = invoke("explain", "--no-sense", GOAL)
    assert code == 0 and "[ ] code_validated_modal" in out


def test_schema_command() -> None:
    code, out, _ = invoke("schema", "pack")
    assert code == 0 and json.loads(out)["title"] == "goap-engine rule pack"


def test_subprocess_entry_points_do_not_import_integrations() -> None:
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from goap_engine.cli import main\n"
        f"r = CliRunner().invoke(main, ['validate', {GOAL!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        f"r = CliRunner().invoke(main, ['plan', '--no-sense', {GOAL!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
    env = dict(os.environ, NO_COLOR="1")
    done = subprocess.run(
        [sys.executable, "-m", "goap_engine", "validate", GOAL],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr


def test_env_templates_are_checked_and_count_as_reads(write) -> None:
    path = write(
        "g.yaml",
        "version: 1\n"
        "state: {done: bool, name: {type: str, default: x}}\n"
        "actions:\n"
        "  a:\n"
        "    effects: {done: true}\n"
        '    env: {NAME: "{{ name }}", OTHER: "{{ nosuch }}"}\n'
        '    run: echo "$NAME"\n'
        "goal: done\n",
    )
    code, _, err = invoke("validate", str(path))
    assert code == 2
    assert err.splitlines()[:2] == [
        f"{path}:6:38: error: action 'a': template uses 'nosuch', which is not "
        "a var or state variable",
        f"{path}:2:21: warning: state variable 'name': is never written by any "
        "action and has no sensor: it stays 'x' [never-written]",
    ]


def test_a_dry_run_says_nothing_ran(write) -> None:
    path = write(
        "g.yaml",
        "version: 1\nstate: {done: bool}\n"
        "actions: {a: {effects: {done: true}, run: 'true'}}\ngoal: done\n",
    )
    code, _, err = invoke("run", str(path), "--dry-run")
    assert code == 0, err
    assert err.endswith(
        "dry run: nothing ran in 0s (1 steps planned)\n"
        "  [ ] goal\n"
        "  step   status   estimated  actual\n"
        "  a      planned         1m    0.00s\n"
        "  total                  1m    0.00s\n"
    )


def test_a_non_finite_number_is_named(write) -> None:
    path = write(
        "g.yaml",
        "version: 1\nstate: {f: float, done: bool}\n"
        "actions: {a: {effects: {done: true}, run: 'true'}}\ngoal: done\n",
    )
    code, _, err = invoke("state", "set", str(path), "f=1e999")
    assert code == 2
    assert err == (
        "state set: error: state variable 'f': expected a finite number, found inf\n"
    )
