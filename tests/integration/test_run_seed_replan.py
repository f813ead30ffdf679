"""The seed's replanning scenario end to end, with real git and a local remote.

validate -> branch -> commit -> push -> CI fails -> replan: resolve the failure
-> fix commit -> push again -> CI passes.  The CI stand-in tests what was
pushed to the bare remote, not the working tree, so only a pushed fix turns it
green.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

BRANCH = "feature/ci-demo"

CI_SCRIPT = """\
#!/bin/sh
# CI stand-in: check out the pushed head of the branch and run its app.
set -e
remote=$1
branch=$2
runs=$3
rev=$(git --git-dir="$remote" rev-parse "refs/heads/$branch")
echo "ci: testing $rev"
echo "$rev" >> "$runs"
git --git-dir="$remote" show "$rev:app.sh" | sh
"""

GOAL = """\
version: 1
vars:
  branch: {branch}
  remote_dir: {remote}
  ci_script: {ci}
  ci_runs: {runs}
state:
  code_validated: bool
  branch_created:
    type: bool
    sense: git rev-parse --verify -q refs/heads/{{{{ branch }}}}
  commits_made:
    type: int
    min: 0
    max: 10
    sense: {{shell: git rev-list --count main..HEAD, from: stdout}}
  commits_pushed:
    type: bool
    sense: >-
      test "$(git rev-parse HEAD)" =
      "$(git rev-parse -q --verify refs/remotes/origin/{{{{ branch }}}})"
  ci_pipeline_running: bool
  ci_pipeline_passed: bool
  ci_issues_resolved: {{type: bool, default: true}}
actions:
  validate_code:
    id: A02
    effects: {{code_validated: true}}
    run: sh -n app.sh
  create_branch:
    id: A04
    pre: code_validated
    effects: {{branch_created: true}}
    run: git switch -q -c {{{{ branch }}}}
  commit_code_changes:
    id: A05
    pre: [branch_created, ci_issues_resolved, commits_made < 10]
    effects: {{commits_made: commits_made + 1, commits_pushed: false}}
    run: >-
      git add app.sh && git commit -q -m
      {{{{ 'fix: make CI green' if commits_made else 'feat: add the app' }}}}
  push_to_remote:
    id: A08
    pre: [commits_made > 0, not commits_pushed, ci_issues_resolved]
    effects: {{commits_pushed: true, ci_pipeline_running: true}}
    irreversible: true
    run: git push -q -u origin {{{{ branch }}}}
  monitor_ci_status:
    id: A09
    pre: ci_pipeline_running
    effects: {{ci_pipeline_running: false, ci_pipeline_passed: true}}
    on_failure:
      ci_pipeline_running: false
      ci_pipeline_passed: false
      ci_issues_resolved: false
    run: sh {{{{ ci_script }}}} {{{{ remote_dir }}}} {{{{ branch }}}} {{{{ ci_runs }}}}
  resolve_ci_failure:
    id: A10
    pre: [not ci_issues_resolved, not ci_pipeline_running]
    effects: {{ci_issues_resolved: true}}
    cost: 10
    run: |-
      printf 'echo "app: ok"\\n' > app.sh
goal:
  Code validation: [code_validated]
  Git branch management: [branch_created, commits_made > 0, commits_pushed]
  CI/CD monitoring: [ci_pipeline_passed]
"""


def _git(*args: str | Path, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["git", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_ci_failure_is_fixed_by_replanning(tmp_path: Path, h) -> None:
    env = h.env(
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_CONFIG_NOSYSTEM="1",
    )
    remote = tmp_path / "remote.git"
    work = tmp_path / "work"
    ci = tmp_path / "ci.sh"
    runs = tmp_path / "ci-runs"
    ci.write_text(CI_SCRIPT)
    _git("init", "-q", "--bare", "-b", "main", remote, cwd=tmp_path, env=env)
    _git("init", "-q", "-b", "main", work, cwd=tmp_path, env=env)
    (work / ".gitignore").write_text(".goap/\n")
    goal = work / "goals.d" / "release.yaml"
    goal.parent.mkdir()
    goal.write_text(GOAL.format(branch=BRANCH, remote=remote, ci=ci, runs=runs))
    _git("add", ".", cwd=work, env=env)
    _git("commit", "-q", "-m", "chore: initial", cwd=work, env=env)
    _git("remote", "add", "origin", remote, cwd=work, env=env)
    # The work to ship, with the bug CI will find.
    (work / "app.sh").write_text('echo "app: broken"; exit 1\n')

    result = h.run("run", "--yes", goal, cwd=work, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "goal reached" in result.stderr
    for subgoal in ("Code validation", "Git branch management", "CI/CD monitoring"):
        assert f"[x] {subgoal}" in result.stderr

    # The journal tells the story: CI failed, a replan, the fix, CI passed.
    events = h.events(work, "goals.d/release.yaml")  # workdir: above goals.d/
    ends = [(e["step"], e["status"]) for e in events if e["event"] == "step_end"]
    assert ends == [
        ("A02: validate_code", "ok"),
        ("A04: create_branch", "ok"),
        ("A05: commit_code_changes", "ok"),
        ("A08: push_to_remote", "ok"),
        ("A09: monitor_ci_status", "failed"),
        ("A10: resolve_ci_failure", "ok"),
        ("A05: commit_code_changes", "ok"),
        ("A08: push_to_remote", "ok"),
        ("A09: monitor_ci_status", "ok"),
    ]
    failure = next(
        e for e in events if e["event"] == "step_end" and e["status"] == "failed"
    )
    assert failure["exit_code"] == 1
    replans = [e for e in events if e["event"] == "replan"]
    assert len(replans) == 1
    assert "A09: monitor_ci_status failed: exit code 1" in replans[0]["reason"]
    plans = [e["steps"] for e in events if e["event"] == "plan"]
    assert [[s.split(":")[0] for s in p] for p in plans] == [
        ["A02", "A04", "A05", "A08", "A09"],
        ["A10", "A05", "A08", "A09"],
    ]
    commits = [
        e["command"]
        for e in events
        if e["event"] == "step_start" and e["step"].startswith("A05")
    ]
    assert "'feat: add the app'" in commits[0]
    assert "'fix: make CI green'" in commits[1]
    assert "[A09: monitor_ci_status] | app: broken" in result.stderr
    assert "[A09: monitor_ci_status] | app: ok" in result.stderr
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "reached" and events[-1]["replans"] == 1

    # And the world agrees: two commits pushed, CI saw both heads.
    log = _git("log", "--format=%s", BRANCH, cwd=remote, env=env).splitlines()
    assert log == ["fix: make CI green", "feat: add the app", "chore: initial"]
    heads = runs.read_text().split()
    pushed = _git("rev-parse", BRANCH, cwd=remote, env=env)
    assert len(heads) == 2 and heads[0] != heads[1] and heads[1] == pushed
    assert _git("rev-parse", "HEAD", cwd=work, env=env) == pushed
    assert h.state(work, "goals.d/release.yaml")["state"] == {
        "code_validated": True,
        "branch_created": True,
        "commits_made": 2,
        "commits_pushed": True,
        "ci_pipeline_running": False,
        "ci_pipeline_passed": True,
        "ci_issues_resolved": True,
    }
