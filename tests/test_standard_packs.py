"""The shipped packs fit any repository, not only the example they came from.

Each loads on its own (with what it declares it uses), asks nothing of the
example's Modal, tsc or ADR choices unless the goal does, and a project's own
order of steps is added by ``overrides: needs:``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from goap_cli import goap

from goap_engine.loader import load
from goap_engine.planner.relevance import relevant_actions, relevant_variables
from goap_engine.required_values import empty_required

PACKS = ["quality", "git", "ci", "deploy", "docs"]


def _goal(tmp_path: Path, body: str) -> Path:
    (tmp_path / "goals.d").mkdir(exist_ok=True)
    goal = tmp_path / "goals.d" / "g.yaml"
    goal.write_text(f"version: 1\n{body}", encoding="utf-8")
    return goal


@pytest.mark.parametrize("pack", PACKS)
def test_each_shipped_pack_loads_on_its_own(tmp_path: Path, pack: str) -> None:
    _goal(tmp_path, f"uses: [goap:{pack}]\ngoal: []\n")
    done = goap(tmp_path, "validate", "--strict")
    assert done.returncode == 0, done.stderr
    assert "0 error(s), 0 warning(s)" in done.stderr


def test_a_goal_that_asks_for_lint_and_a_push_needs_no_modal_tsc_or_hub(
    tmp_path: Path,
) -> None:
    goal = _goal(
        tmp_path,
        "uses: [goap:standard]\ngoal: [code_validated_ruff, commits_pushed]\n",
    )
    ruleset = load(goal)
    sensed = relevant_variables(ruleset) & {
        v.name for v in ruleset.variables if v.sensor
    }
    # Sensors run only for these: the branch and ruff (and whether CI can be
    # watched, which a known CI failure would need before the push).
    assert sensed == {"branch_created", "code_validated_ruff", "github_token_available"}
    goal_exprs = [c.expr for c in ruleset.conditions]
    actions = {a.id for a in relevant_actions(ruleset, goal_exprs)}
    assert not actions & {"A01", "A01L", "A03", "A03W", "A11", "A12", "A12L", "A13"}
    assert {"A02", "A04", "A05", "A08"} <= actions
    # Nothing the goal does not need has to be configured.
    assert empty_required(ruleset) == []
    done = goap(tmp_path, "plan", "--no-sense")
    assert done.returncode == 0, done.stderr
    assert "create_branch" in done.stdout and "validate_modal_cli" not in done.stdout


def test_publishing_without_a_hub_repository_stops_before_anything_runs(
    tmp_path: Path,
) -> None:
    _goal(tmp_path, "uses: [goap:standard]\ngoal: [model_published]\n")
    for command in ("validate", "plan", "run"):
        done = goap(tmp_path, command, *(["--dry-run"] if command == "run" else []))
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "argument 'repo_id' of hf." in done.stderr
        assert "reads var hub_repo, which is empty" in done.stderr
        assert "--var hub_repo=VALUE" in done.stderr
    # A part of the goal that does not publish needs no Hub repository.
    done = goap(tmp_path, "plan", "--no-sense", "--target", "validation_passed")
    assert done.returncode == 0, done.stderr
    done = goap(tmp_path, "validate", "--var", "hub_repo=acme/vision")
    assert done.returncode == 0, done.stderr
    done = goap(tmp_path, "validate", GOAP_VAR_hub_repo="acme/vision")
    assert done.returncode == 0, done.stderr


def test_overrides_needs_adds_to_an_actions_precondition(tmp_path: Path) -> None:
    body = """\
uses: [goap:git]
goal: [commits_pushed]
state:
  reviewed: {type: bool}
actions:
  review: {effects: {reviewed: true}, cost: 1, run: "true"}
overrides:
  create_branch: {needs: reviewed}
  push_to_github: {needs: [reviewed, commits_made >= 1]}
"""
    goal = _goal(tmp_path, body)
    ruleset = load(goal)
    create = next(a for a in ruleset.actions if a.name == "create_branch")
    push = next(a for a in ruleset.actions if a.name == "push_to_github")
    assert [e.source for e in create.pre] == ["reviewed"]
    # The pack's own conditions stay, the goal's come after them.
    assert [e.source for e in push.pre][-2:] == ["reviewed", "commits_made >= 1"]
    assert "ci_issues_resolved" in [e.source for e in push.pre]
    assert str(create.pre_locations[0]).endswith("g.yaml:9:26")
    done = goap(tmp_path, "plan", "--no-sense")
    assert done.returncode == 0, done.stderr
    lines = [ln.split()[2] for ln in done.stdout.splitlines() if ln[:1].isdigit()]
    assert lines.index("review") < lines.index("create_branch")

    _goal(tmp_path, body.replace("needs: reviewed}", "needs: reviwed}"))
    done = goap(tmp_path, "validate")
    assert done.returncode == 2
    assert (
        "g.yaml:9:26: error: override of action 'create_branch' (defined at "
    ) in done.stderr
    assert "unknown name 'reviwed'" in done.stderr and "'reviewed'" in done.stderr
    _goal(tmp_path, body.replace("needs: reviewed}", "needs: commits_made}"))
    done = goap(tmp_path, "validate")
    assert done.returncode == 2
    assert "must be a boolean, found int" in done.stderr


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            *("-c", "user.name=t", "-c", "user.email=t@example.org"),
            *("-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"),
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_git_pack_alone_branches_commits_and_pushes_a_project_of_its_own(
    tmp_path: Path,
) -> None:
    remote = tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", str(remote))
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q")
    (work / "README.md").write_text("# tool\n", encoding="utf-8")
    _git(work, "add", "README.md")
    _git(work, "commit", "-q", "-m", "first")
    _git(work, "remote", "add", "origin", str(remote))
    (work / "lib").mkdir()
    (work / "lib" / "tool.py").write_text("X = 1\n", encoding="utf-8")
    _goal(
        work,
        "uses: [goap:git]\n"
        "vars: {branch: feature/tool, code_path: lib, code_message: 'feat: tool'}\n"
        "goal: [code_committed, commits_pushed]\n",
    )
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    done = goap(work, "run", "--yes", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _git(remote, "log", "--format=%s", "feature/tool") == "feat: tool\nfirst"
    assert _git(remote, "show", "--name-only", "--format=", "feature/tool") == (
        "lib/tool.py"
    )


def test_an_override_of_a_misspelt_action_suggests_the_name(tmp_path: Path) -> None:
    _goal(
        tmp_path,
        "uses: [goap:git]\ngoal: [commits_pushed]\n"
        "overrides:\n  create_brnch: {needs: commits_made >= 0}\n",
    )
    done = goap(tmp_path, "validate")
    assert done.returncode == 2
    assert (
        "g.yaml:5:3: error: overrides: override of 'create_brnch': no action of "
        "that name (did you mean 'create_branch'?)"
    ) in done.stderr


def test_init_asks_only_for_what_a_plain_repository_has(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    assert goap(tmp_path, "init").returncode == 0
    ruleset = load(tmp_path / "goals.d" / "production.yaml")
    asked = {c.expr.source for c in ruleset.conditions}
    assert "code_validated_ruff" in asked and "commits_pushed" in asked
    assert not asked & {
        "code_validated_modal",
        "code_validated_typescript",
        "docs_committed",
        "utilities_committed",
        "adrs_complete",
    }
    sensed = {v.name for v in ruleset.variables if v.sensor}
    assert (
        not relevant_variables(ruleset)
        & sensed
        & {
            "modal_configured",
            "tsc_available",
        }
    )
    text = (tmp_path / "goals.d" / "production.yaml").read_text()
    assert "#   code_validated_modal: the training entry point runs on Modal" in text


def test_init_asks_for_typescript_modal_docs_and_adrs_where_the_project_has_them(
    tmp_path: Path,
) -> None:
    _git(tmp_path, "init", "-q")
    for folder in ("web", "docs/adr", "scripts", "src"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "web" / "tsconfig.json").write_text("{}\n")
    (tmp_path / "requirements.txt").write_text("torch==2.5\nmodal>=1.0\n")
    assert goap(tmp_path, "init").returncode == 0
    ruleset = load(tmp_path / "goals.d" / "production.yaml")
    asked = {c.expr.source for c in ruleset.conditions}
    assert {
        "code_validated_modal",
        "code_validated_typescript",
        "docs_committed",
        "utilities_committed",
        "adrs_complete",
    } <= asked
    assert ruleset.vars["frontend"] == "web"
    assert ruleset.vars["adr_file"] == "docs/adr/ADR-001-production-deployment.md"
    assert (
        "can also make true" not in (tmp_path / "goals.d/production.yaml").read_text()
    )
    done = goap(tmp_path, "validate", "--strict")
    assert done.returncode == 0, done.stderr


def test_a_word_modal_in_a_description_is_no_dependency(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\ndescription = "A modal dialog library"\ndependencies = []\n'
    )
    assert goap(tmp_path, "init").returncode == 0
    ruleset = load(tmp_path / "goals.d" / "production.yaml")
    assert "code_validated_modal" not in {c.expr.source for c in ruleset.conditions}
