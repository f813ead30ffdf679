"""The ci pack against a fake GitHub, run by the engine: verdicts and the PR flow.

A red CI is a verdict and sends the planner to the fix (A10); a CI that cannot
be read (a bad token here) is none: A09 fails, on_failure is not applied, and
no fix is planned.  The pull request is opened before the CI is watched and
the run summary commented after it passed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import engine_env, run_engine
from fakes import serving
from fakes.github_server import FakeGitHub

pytest.importorskip("github")

TOKEN = "gh-flow-token-41d9"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}

GOAL = """\
version: 1
uses: [goap:ci]
vars:
  github_repo: acme/widget
  github_api: {url}
  branch: feature
  # The fix is a new commit: its CI (on the fake) passes.
  ci_fix_command: git commit -q --allow-empty -m fix && touch fixed
state:
  pushes: {{type: int, default: 0, max: 3}}
actions:
  push:
    id: P1
    pre: [ci_issues_resolved, not ci_pipeline_running, not ci_pipeline_passed]
    effects: {{ci_pipeline_running: true, pushes: pushes + 1}}
    run: "true"
goal:
  CI: [ci_pipeline_passed, ci_issues_resolved]
{extra}
"""


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    fake = FakeGitHub(token=TOKEN, default_script=("success",))
    with serving(fake):
        yield fake


def project(tmp_path: Path, server: FakeGitHub, extra: str = "") -> Path:
    (tmp_path / "goals.d").mkdir()
    (tmp_path / "goals.d" / "g.yaml").write_text(
        GOAL.format(url=server.url, extra=extra)
    )

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=tmp_path,
            env={**engine_env(), **GIT_ENV},
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    git("init", "-q", "-b", "feature")
    git("commit", "-q", "--allow-empty", "-m", "work")
    # The pushed commit's CI is red.
    server.push(git("rev-parse", "HEAD"), script=("failure",))
    return tmp_path


def run(folder: Path, token: str) -> subprocess.CompletedProcess[str]:
    env = engine_env(GITHUB_TOKEN=token, **GIT_ENV)
    return run_engine("run", "goals.d/g.yaml", "--yes", cwd=folder, env=env)


def test_a_red_ci_is_fixed_and_pushed_again(server: FakeGitHub, tmp_path: Path) -> None:
    folder = project(tmp_path, server)
    done = run(folder, TOKEN)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (folder / "fixed").exists()
    out = done.stdout + done.stderr
    assert "replanning (1): A09: monitor_ci_status failed: CI failed on" in out
    assert "A10" in out
    assert TOKEN not in out


def test_a_bad_token_is_no_verdict_and_plans_no_fix(
    server: FakeGitHub, tmp_path: Path
) -> None:
    folder = project(tmp_path, server)
    done = run(folder, "not-the-token")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert (
        "401 bad credentials: the token is wrong or expired "
        "(no verdict: on_failure not applied)"
    ) in out
    assert not (folder / "fixed").exists()
    assert "A10" not in out
    assert "not-the-token" not in out


def test_the_pull_request_flow_opens_watches_and_comments(
    server: FakeGitHub, tmp_path: Path
) -> None:
    extra = "  Review: [pull_request_open, run_summary_posted]\n"
    folder = project(tmp_path, server, extra)
    (folder / "gates.json").write_text('{"accuracy": 0.91}\n')
    goal = folder / "goals.d" / "g.yaml"
    goal.write_text(
        goal.read_text().replace(
            "  branch: feature\n",
            "  branch: feature\n  pr_labels: release\n  pr_include: gates.json\n",
        )
    )
    done = run(folder, TOKEN)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [p["number"] for p in server.pulls] == [1]
    pull = server.pulls[0]
    assert pull["labels"] == ["release"]
    assert "| P1 | push |" in pull["body"]
    assert '"accuracy": 0.91' in pull["body"]
    assert len(server.comments) == 1
    summary = server.comments[0]["body"]
    assert "| A09 monitor_ci_status | ok |" in summary
    # The PR was opened before its CI was watched.
    order = [r.method + " " + r.path.split("/")[-1] for r in server.requests]
    assert order.index("POST pulls") < order.index("GET check-runs")
