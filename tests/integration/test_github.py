"""The ``github.*`` built-ins through PyGithub against a local fake GitHub."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import hook_context, serving
from fakes.github_server import FakeGitHub, fake_sha

from goap_engine.executor.context import NoVerdict
from goap_engine.executor.hooks import call_python, resolve_callable
from goap_engine.integrations import IntegrationError, ServiceUnreadable
from goap_engine.integrations import github as gh

pytest.importorskip("github")

TOKEN = "gh-test-token"


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    with serving(FakeGitHub(token=TOKEN)) as fake:
        yield fake


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the waits of the module instead of spending them."""
    waited: list[float] = []
    monkeypatch.setattr(gh, "_sleep", waited.append)
    return waited


@pytest.fixture
def make(server: FakeGitHub, tmp_path: Path):
    """Build a context for the fake repository; ``env`` defaults to the token."""

    def _make(env: dict[str, str] | None = None, **args: Any) -> Any:
        base = {"repo": server.full_name, "base_url": server.url, "sha": server.head()}
        base.update(args)
        return hook_context(
            tmp_path, base, {"GITHUB_TOKEN": TOKEN} if env is None else env
        )

    return _make


def test_ci_goes_queued_running_failed_then_passes_after_a_push(
    server: FakeGitHub, make
) -> None:
    seen = [gh.ci_status(make()) for _ in range(4)]
    assert seen == ["queued", "running", "failed", "failed"]

    server.push(fake_sha("fix"))
    seen = [gh.ci_status(make(sha=fake_sha("fix"))) for _ in range(3)]
    assert seen == ["queued", "running", "passed"]
    assert server.calls("GET", f"/commits/{fake_sha('fix')}/status")


def test_a_failing_commit_status_fails_even_when_check_runs_pass(
    server: FakeGitHub, make, sleeps: list[float]
) -> None:
    head = server.head()
    server.set_script(head, ["success"])
    server.set_statuses(head, [("ci/coverage", "success"), ("deploy/preview", "error")])
    assert gh.ci_status(make()) == "failed"
    with pytest.raises(IntegrationError, match=r"deploy/preview \(error\)"):
        gh.wait_ci(make(interval=0))


def test_a_pending_commit_status_keeps_ci_running(server: FakeGitHub, make) -> None:
    head = server.head()
    server.set_script(head, ["success"])
    server.set_statuses(head, [("deploy/preview", "pending")])
    assert gh.ci_status(make()) == "running"


def test_no_checks_at_all_is_none_and_skipped_checks_count_as_passed(
    server: FakeGitHub, make
) -> None:
    server.set_script(server.head(), ["none"])
    assert gh.ci_status(make()) == "none"
    server.set_script(server.head(), ["success"])
    server.set_statuses(server.head(), [])
    assert gh.ci_status(make()) == "passed"


def test_wait_ci_polls_until_the_pipeline_passes(
    server: FakeGitHub, make, sleeps: list[float]
) -> None:
    server.push(fake_sha("fix"))
    ctx = make(interval=7, sha=fake_sha("fix"))
    assert gh.wait_ci(ctx).startswith("CI passed on")
    assert sleeps == [7, 7]
    assert [line.split(" on ")[0] for line in ctx.lines] == [
        "CI queued",
        "CI running",
        "CI passed",
    ]


def test_wait_ci_fails_naming_the_failing_check(
    server: FakeGitHub, make, sleeps: list[float]
) -> None:
    with pytest.raises(IntegrationError) as info:
        gh.wait_ci(make(interval=1))
    # A red CI is a verdict: the action's on_failure applies.
    assert not isinstance(info.value, NoVerdict)
    assert "CI failed on" in str(info.value)
    assert "tests (failure)" in str(info.value)
    assert "lint" not in str(info.value)
    assert len(sleeps) == 2


def test_wait_ci_gives_up_after_its_timeout(
    server: FakeGitHub, make, sleeps: list[float]
) -> None:
    server.set_script(server.head(), ["queued"])
    with pytest.raises(ServiceUnreadable, match=r"still queued .* after 0 s: tests"):
        gh.wait_ci(make(interval=1, timeout=0))


def test_wait_ci_without_any_check_fails_after_the_grace_period(
    server: FakeGitHub, make, sleeps: list[float]
) -> None:
    server.set_script(server.head(), ["none"])
    with pytest.raises(ServiceUnreadable, match="no CI checks reported") as info:
        gh.wait_ci(make(interval=1, none_timeout=0))
    assert "needs an open pull request" in str(info.value)


def test_rerun_failed_reruns_the_failed_workflow_runs(server: FakeGitHub, make) -> None:
    assert gh.rerun_failed(make()) == 0  # queued: nothing failed yet
    for _ in range(3):
        gh.ci_status(make())
    ctx = make()
    assert gh.rerun_failed(ctx) == 1
    run_id = server.ci[server.head()].run_id
    assert server.reruns == [(run_id, "rerun-failed-jobs")]
    assert "rerunning failed jobs of 'CI'" in ctx.lines[0]
    assert server.calls("GET", "/actions/runs")[-1].query["head_sha"] == [server.head()]
    # The rerun restarts the pipeline, which now passes.
    assert [gh.ci_status(make()) for _ in range(3)] == ["queued", "running", "passed"]


def test_open_pull_request_is_idempotent(server: FakeGitHub, make) -> None:
    args = {"head": "feature", "title": "Ship it", "body": "Done."}
    first = make(**args)
    assert gh.open_pull_request(first) == 1
    assert "opened pull request #1" in first.lines[0]
    again = make(**args)
    assert gh.open_pull_request(again) == 1
    assert "is open and up to date" in again.lines[0]
    assert len(server.pulls) == 1
    assert len(server.calls("POST", "/pulls")) == 1
    assert server.pulls[0]["title"] == "Ship it"
    assert server.pulls[0]["base"]["ref"] == "main"
    query = server.calls("GET", "/pulls")[0].query
    assert query["head"] == ["acme:feature"]
    assert query["state"] == ["open"]


def test_a_rate_limit_is_waited_out_and_logged(
    server: FakeGitHub, make, sleeps: list[float]
) -> None:
    server.rate_limit_once(reset_in=5)
    ctx = make()
    assert gh.ci_status(ctx) == "queued"
    assert len(sleeps) == 1 and 4 <= sleeps[0] <= 7
    assert ctx.lines == [
        f"GitHub: 403 rate limit exceeded; reading CI of acme/widget@"
        f"{server.head()[:10]} again in {sleeps[0]:.0f} s (retry 1 of 3)"
    ]


def test_a_rate_limit_beyond_max_wait_fails_clearly(
    server: FakeGitHub, make, sleeps: list[float]
) -> None:
    server.rate_limit_once(reset_in=3600)
    with pytest.raises(
        ServiceUnreadable,
        match=r"rate limit exceeded; .* more than is left of max_wait",
    ):
        gh.ci_status(make(max_wait=30))
    assert sleeps == []


def test_a_missing_token_is_an_error(make, server: FakeGitHub) -> None:
    with pytest.raises(ServiceUnreadable, match="GITHUB_TOKEN is not set"):
        gh.ci_status(make(env={}))
    with pytest.raises(IntegrationError, match="CI_TOKEN is not set"):
        gh.wait_ci(make(env={"GITHUB_TOKEN": TOKEN}, token_env="CI_TOKEN"))
    assert server.requests == []


def test_a_wrong_token_is_reported_without_echoing_it(make, server: FakeGitHub) -> None:
    secret = "not-the-right-token"
    with pytest.raises(ServiceUnreadable) as info:
        gh.ci_status(make(env={"GITHUB_TOKEN": secret}))
    assert str(info.value) == (
        f"GitHub, reading CI of acme/widget@{server.head()[:10]}: "
        "401 bad credentials: the token is wrong or expired"
    )
    assert secret not in str(info.value)


def test_the_head_defaults_to_the_local_git_head(
    server: FakeGitHub, tmp_path: Path
) -> None:
    def git(*args: str) -> str:
        done = subprocess.run(
            [
                "git",
                *("-c", "user.name=t", "-c", "user.email=t@example.org"),
                *("-c", "commit.gpgsign=false"),
                *args,
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "first")
    head = git("rev-parse", "HEAD")
    server.set_script(head, ["success"])
    ctx = hook_context(
        tmp_path,
        {"repo": server.full_name, "base_url": server.url},
        {"GITHUB_TOKEN": TOKEN},
    )
    assert gh.ci_status(ctx) == "passed"
    assert server.calls("GET", f"/commits/{head}")


def test_without_a_git_repository_the_head_must_be_given(
    server: FakeGitHub, tmp_path: Path
) -> None:
    args = {"repo": server.full_name, "base_url": server.url}
    env = {
        "GITHUB_TOKEN": TOKEN,
        # Keep git from finding a repository above tmp_path.
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
    }
    plain = tmp_path / "plain"
    plain.mkdir()
    for workdir in (plain, tmp_path / "nowhere"):
        with pytest.raises(IntegrationError, match="pass 'sha'"):
            gh.ci_status(hook_context(workdir, args, env))
    with pytest.raises(IntegrationError, match="'repo' as 'owner/name'"):
        gh.ci_status(hook_context(plain, {"sha": "abc"}, env))
    assert server.requests == []


def test_the_builtin_name_resolves_and_reports_an_outcome(
    server: FakeGitHub, make
) -> None:
    fn = resolve_callable("builtin", "github.ci_status")
    outcome = call_python(fn, make())
    assert outcome.ok and outcome.value == "queued"
    failed = call_python(resolve_callable("builtin", "github.wait_ci"), make(env={}))
    assert not failed.ok and not failed.verdict
    assert "GITHUB_TOKEN is not set" in failed.message


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        ("https://github.com/acme/vision.git", "acme/vision"),
        ("https://x-access-token:t0k3n@github.com/acme/vision", "acme/vision"),
        ("git@github.com:acme/vision.git", "acme/vision"),
        ("ssh://git@ghe.example.org:2222/acme/vision.git/", "acme/vision"),
        ("/srv/git/vision.git", None),
        ("file:///srv/git/acme/vision.git", None),
        ("https://github.com/vision", None),
        # Hostile URLs name nothing rather than fail or walk the API's path.
        ("http://[::1/acme/vision", None),
        ("https://github.com/acme/vision/../..", None),
        ("git@github.com:../../vision", None),
        ("https://github.com/%2e%2e/vision", None),
        ("ext::sh -c touch% /tmp/acme/vision", None),
        ("https://github.com/acme/.github", "acme/.github"),
    ],
)
def test_the_repository_is_read_from_a_remote_url_with_a_host(
    url: str, repo: str | None
) -> None:
    assert gh._url_repo(url) == repo


def test_without_repo_the_remote_names_the_repository(
    server: FakeGitHub, tmp_path: Path
) -> None:
    """A shared pack needs no repository name: origin's URL gives it (as gh does)."""

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("remote", "add", "origin", f"git@github.com:{server.full_name}.git")
    git("remote", "add", "mirror", "https://user:s3cr3t-t0ken@example.org/solo")
    args = {"base_url": server.url, "sha": server.head()}
    env = {"GITHUB_TOKEN": TOKEN}
    assert gh.ci_status(hook_context(tmp_path, args, env)) == "queued"
    assert server.calls("GET", f"/commits/{server.head()}")
    # A remote that names no owner/name: said so, with the URL but never
    # its credentials.
    with pytest.raises(IntegrationError) as info:
        gh.ci_status(hook_context(tmp_path, {**args, "remote": "mirror"}, env))
    message = str(info.value)
    assert "remote 'mirror' names no owner/name repository" in message
    assert "https://example.org/solo" in message
    assert "s3cr3t" not in message
    with pytest.raises(IntegrationError, match="remote 'upstream'"):
        gh.ci_status(hook_context(tmp_path, {**args, "remote": "upstream"}, env))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # The password holds "@": all of the user part goes, not what follows it.
        ("https://user:p@ss-t0ken@example.org/solo", "https://example.org/solo"),
        ("https://example.org/solo?access_token=t0ken#x", "https://example.org/solo"),
        ("user:t0ken@example.org:solo", "example.org:solo"),
        ("/srv/git/solo.git", "/srv/git/solo.git"),
        ("https://example.org/" + "a" * 5000, "... (5020 characters)"),
    ],
)
def test_a_remote_url_is_shown_without_credentials_and_cut_short(
    url: str, shown: str
) -> None:
    assert shown in gh._shown_url(url)
    assert "t0ken" not in gh._shown_url(url)
    assert len(gh._shown_url(url)) < 250


@pytest.mark.parametrize(
    "repo", ["../../user", "acme/..", "acme/vision/extra", "acme/vi sion", "acme"]
)
def test_a_repo_that_is_not_owner_slash_name_is_refused_before_any_request(
    server: FakeGitHub, tmp_path: Path, repo: str
) -> None:
    context = hook_context(
        tmp_path,
        {"base_url": server.url, "branch": "b", "repo": repo},
        {"GITHUB_TOKEN": TOKEN},
    )
    with pytest.raises(IntegrationError, match="'repo' must be 'owner/name'"):
        gh.ci_status(context)
    assert not server.requests


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            *("-c", "user.name=t", "-c", "user.email=t@example.org"),
            *("-c", "commit.gpgsign=false"),
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_every_page_of_check_runs_and_statuses_is_read(
    server: FakeGitHub, make
) -> None:
    head = server.head()
    server.set_script(head, ["success"])
    passing = [(f"job-{i}", "completed", "success") for i in range(150)]
    server.add_check_runs(head, [*passing, ("job-last", "completed", "failure")])
    assert gh.ci_status(make()) == "failed"
    pages = server.calls("GET", f"/commits/{head}/check-runs")
    assert [r.query.get("page", ["1"])[0] for r in pages] == ["1", "2"]

    server.add_check_runs(head, passing)
    statuses = [(f"ctx-{i}", "success") for i in range(130)]
    server.set_statuses(head, [*statuses, ("late/deploy", "error")])
    report = gh.ci_report(make())
    assert report.status == "failed"
    assert report.failing == ["late/deploy (error)"]
    assert len(report.passed) == 2 + 150 + 130
    status_pages = server.calls("GET", f"/commits/{head}/status")
    assert [r.query.get("page", ["1"])[0] for r in status_pages[-2:]] == ["1", "2"]


def test_the_combined_state_is_respected_beyond_the_listed_statuses() -> None:
    from goap_engine.integrations.github_checks import classify

    listed = [{"context": "ci/coverage", "state": "success"}]
    red = classify("a" * 40, [], "failure", listed, status_count=2)
    assert (red.status, red.failing) == (
        "failed",
        ["commit statuses (combined state failure)"],
    )
    waiting = classify("a" * 40, [], "pending", listed, status_count=2)
    assert waiting.status == "running"
    # No status at all reads "pending" on GitHub: it says nothing.
    assert classify("a" * 40, [], "pending", [], status_count=0).status == "none"


def test_the_verdict_is_for_the_pushed_commit_not_the_branch_on_github(
    server: FakeGitHub, tmp_path: Path
) -> None:
    _git(tmp_path, "init", "-q", "-b", "feature")
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "ours")
    pushed = _git(tmp_path, "rev-parse", "HEAD")
    server.push(pushed, script=("success",))
    # Someone else pushes a red commit to the branch afterwards.
    server.push(fake_sha("theirs"), script=("failure",))
    args = {"repo": server.full_name, "base_url": server.url, "branch": "feature"}
    ctx = hook_context(tmp_path, args, {"GITHUB_TOKEN": TOKEN})
    assert gh.wait_ci(ctx) == f"CI passed on {pushed[:10]} (3 checks)"
    assert not server.calls("GET", "/commits/feature")
    assert not server.calls("GET", fake_sha("theirs"))


def test_a_branch_without_a_local_head_is_refused_not_looked_up(
    server: FakeGitHub, tmp_path: Path
) -> None:
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "first")
    args = {"repo": server.full_name, "base_url": server.url, "branch": "--help"}
    with pytest.raises(IntegrationError) as info:
        gh.ci_status(hook_context(tmp_path, args, {"GITHUB_TOKEN": TOKEN}))
    assert "branch '--help' has no local head" in str(info.value)
    assert server.requests == []


def test_a_refused_rerun_reports_githubs_reason_and_runs_nothing_else(
    server: FakeGitHub, make
) -> None:
    for _ in range(3):
        gh.ci_status(make())
    server.rerun_refusal = "Unable to retry this workflow run: it is over a month old"
    with pytest.raises(IntegrationError) as info:
        gh.rerun_failed(make())
    run_id = server.ci[server.head()].run_id
    assert str(info.value) == (
        f"GitHub refused to rerun the failed jobs of 'CI' (run {run_id}): 403 "
        "Unable to retry this workflow run: it is over a month old"
    )
    assert server.reruns == []
    assert [r.path.rsplit("/", 1)[-1] for r in server.calls("POST")] == [
        "rerun-failed-jobs"
    ]


def test_a_missing_workflow_scope_names_the_scope(server: FakeGitHub, make) -> None:
    for _ in range(3):
        gh.ci_status(make())
    server.scopes = ("repo",)
    with pytest.raises(ServiceUnreadable) as info:
        gh.rerun_failed(make())
    assert str(info.value).endswith(
        "403 forbidden: Resource not accessible by personal access token "
        "(the token's scopes: 'repo'; this call needs: 'workflow')"
    )


GOAL = """\
version: 1
state:
  built: bool
actions:
  build: {id: B1, effects: {built: true}, run: "true"}
goal:
  Build: [built]
"""


def test_the_pull_request_body_is_the_plan_and_is_updated_with_labels(
    server: FakeGitHub, make, tmp_path: Path
) -> None:
    (tmp_path / "goals.d").mkdir()
    (tmp_path / "goals.d" / "g.yaml").write_text(GOAL)
    (tmp_path / "gates.json").write_text('{"accuracy": 0.93}\n')
    args = {"branch": "feature", "goal": "goals.d/g.yaml", "include": ["gates.json"]}
    first = make(**args, labels="release, model")
    assert gh.open_pull_request(first) == 1
    body = server.pulls[0]["body"]
    assert "| 1 | B1 | build | pending |" in body
    assert '### gates.json\n\n```json\n{"accuracy": 0.93}\n```' in body
    assert server.pulls[0]["labels"] == ["release", "model"]
    assert first.lines[0].startswith("opened pull request #1")

    (tmp_path / "gates.json").write_text('{"accuracy": 0.95}\n')
    again = make(**args, title="Release", labels=["release"])
    assert gh.open_pull_request(again) == 1
    assert again.lines[0].startswith("updated pull request #1")
    assert server.pulls[0]["title"] == "Release"
    assert '{"accuracy": 0.95}' in server.pulls[0]["body"]
    assert len(server.calls("POST", "/pulls")) == 1
    assert len(server.calls("PATCH", "/pulls/1")) == 1
    assert server.pulls[0]["labels"] == ["release", "model"]


def test_body_file_and_a_missing_include_are_said(
    server: FakeGitHub, make, tmp_path: Path
) -> None:
    (tmp_path / "body.md").write_text("Ship the model.\n")
    ctx = make(branch="feature", body_file="body.md", include="gates.md")
    gh.open_pull_request(ctx)
    assert server.pulls[0]["body"] == (
        "Ship the model.\n\n\n### gates.md\n\nnot written yet\n"
    )
    with pytest.raises(IntegrationError, match="outside the project"):
        gh.open_pull_request(make(branch="feature", body_file="../../etc/passwd"))


def test_the_run_summary_is_one_comment_kept_current(
    server: FakeGitHub, make, tmp_path: Path
) -> None:
    with pytest.raises(IntegrationError, match="no open pull request"):
        gh.comment(make(branch="feature", body="first"))
    gh.open_pull_request(make(branch="feature"))
    # Another person's comment stays as it is.
    server.comments.append({"id": 1, "issue": 1, "body": "LGTM"})
    first = gh.comment(make(branch="feature", body="run 1: 3 steps"))
    second = gh.comment(make(branch="feature", body="run 2: 5 steps"))
    assert first == second
    assert [c["body"] for c in server.comments] == [
        "LGTM",
        f"{gh.SUMMARY_MARK}\nrun 2: 5 steps",
    ]
    assert len(server.calls("POST", "/comments")) == 1
    assert len(server.calls("PATCH", "/issues/comments/")) == 1
