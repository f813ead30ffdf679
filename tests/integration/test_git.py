"""The git built-ins against real repositories and a local bare remote."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from goap_engine.executor.hooks import HookContext
from goap_engine.executor.runner import Runner, RunOptions
from goap_engine.integrations import IntegrationError
from goap_engine.integrations import git as g
from goap_engine.loader import load

BRANCH = "feature/production-deployment-2026"

# The atomic commits of the production-deployment plan: message, then files.
SEED_COMMITS: list[tuple[str, list[str]]] = [
    (
        "feat: Add model validation gates (src/validate_model.py)",
        ["src/validate_model.py", "validation_report.json"],
    ),
    (
        "feat: Add HuggingFace upload utility (src/upload_to_hub.py)",
        ["src/upload_to_hub.py", "requirements-modal.txt"],
    ),
    (
        "docs: Add ADRs 026-028 for publishing, tracking, validation",
        [
            "plans/ADR-026-huggingface-model-publishing-implementation.md",
            "plans/ADR-027-experiment-tracking-mlflow.md",
            "plans/ADR-028-model-validation-gates.md",
        ],
    ),
    ("docs: Update GOAP.md with Phase 10 production deployment", ["plans/GOAP.md"]),
    ("feat: Add Modal monitoring utility", ["src/modal_monitor.py"]),
]


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its trimmed output; fail the test on error."""
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.rstrip()


def write(root: Path, name: str, text: str = "") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text or f"{name}\n")
    return path


class Log(list[str]):
    def text(self) -> str:
        return "\n".join(self)


def context(
    workdir: Path, log: Log | None = None, *, action: str = "step", **args: Any
) -> HookContext:
    return HookContext(
        args=args,
        vars={},
        state={},
        workdir=workdir,
        env=dict(os.environ),
        log=(log if log is not None else Log()).append,
        action=action,
        timeout=30,
    )


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's and the system's git configuration out of the tests."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR", "GIT_COMMITTER"):
        monkeypatch.setenv(f"{var}_NAME", "Test Author")
        monkeypatch.setenv(f"{var}_EMAIL", "test@example.com")
    for var in (
        "GIT_ASKPASS",
        "SSH_ASKPASS",
        "GIT_SSH_COMMAND",
        "GIT_TERMINAL_PROMPT",
        "GCM_INTERACTIVE",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(path))
    return path


@pytest.fixture
def repo(tmp_path: Path, remote: Path) -> Path:
    """A work tree with one commit on main, pushed to the bare ``remote``."""
    path = tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(path))
    write(path, "README.md", "# project\n")
    git(path, "add", "README.md")
    git(path, "commit", "--quiet", "--message", "initial")
    git(path, "remote", "add", "origin", str(remote))
    git(path, "push", "--quiet", "origin", "main")
    return path


def changed_in(repo: Path, rev: str = "HEAD") -> list[str]:
    """Return ``STATUS\\tPATH`` lines of the files commit ``rev`` changed."""
    out = git(repo, "show", "--name-status", "--format=", rev)
    return sorted(out.splitlines())


def status(repo: Path) -> list[str]:
    return sorted(
        git(repo, "status", "--porcelain", "--untracked-files=all").split("\n")
    )


@pytest.mark.parametrize(
    "function", [g.current_branch, g.dirty_paths, g.commit, g.push, g.pushed]
)
def test_outside_a_repository_is_a_clear_error(tmp_path: Path, function: Any) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    ctx = context(plain, name="x", paths=["a"], message="m")
    with pytest.raises(IntegrationError, match="not inside a git repository"):
        function(ctx)


def test_create_check_and_switch_branches(repo: Path) -> None:
    log = Log()
    assert g.current_branch(context(repo)) == "main"
    assert g.branch_exists(context(repo, name=BRANCH)) is False

    assert g.create_branch(context(repo, log, name=BRANCH)) == BRANCH
    assert g.current_branch(context(repo)) == BRANCH
    assert g.branch_exists(context(repo, name=BRANCH)) is True
    assert "created branch" in log.text()

    # Running the action again, or from another branch, just switches to it.
    assert g.create_branch(context(repo, log, name=BRANCH)) == BRANCH
    assert "already on branch" in log[-1]
    g.switch_branch(context(repo, name="main"))
    assert g.current_branch(context(repo)) == "main"
    g.create_branch(context(repo, log, name=BRANCH))
    assert "exists; switched" in log[-1]
    assert g.current_branch(context(repo)) == BRANCH


def test_create_branch_from_a_start_point(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    write(repo, "next.txt")
    g.commit(context(repo, paths=["next.txt"], message="next"))
    g.create_branch(context(repo, name="from-first", start=first))
    assert git(repo, "rev-parse", "HEAD") == first


def test_bad_branch_names_and_unknown_branches_are_errors(repo: Path) -> None:
    with pytest.raises(IntegrationError, match="check-ref-format"):
        g.create_branch(context(repo, name="bad..name"))
    with pytest.raises(IntegrationError, match="git switch failed"):
        g.switch_branch(context(repo, name="no-such-branch"))
    with pytest.raises(IntegrationError, match="needs 'name'"):
        g.branch_exists(context(repo))


def test_create_branch_before_the_first_commit(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(path))
    g.create_branch(context(path, name="start"))
    assert g.current_branch(context(path)) == "start"
    write(path, "a.txt")
    write(path, "b.txt")
    sha = g.commit(context(path, paths=["a.txt"], message="first"))
    assert git(path, "rev-parse", "start") == sha
    assert git(path, "ls-tree", "--name-only", "HEAD") == "a.txt"
    assert status(path) == ["?? b.txt"]


def test_commit_is_atomic(repo: Path) -> None:
    write(repo, "gone.txt")
    write(repo, "kept.txt")
    git(repo, "add", "gone.txt", "kept.txt")
    git(repo, "commit", "--quiet", "--message", "two files")

    write(repo, "a.txt", "new\n")
    write(repo, "README.md", "# project, edited\n")
    write(repo, "b.txt", "untracked\n")
    write(repo, "staged.txt", "staged by someone\n")
    git(repo, "add", "staged.txt")
    (repo / "gone.txt").unlink()
    write(repo, "kept.txt", "changed, not part of the commit\n")

    log = Log()
    sha = g.commit(
        context(repo, log, paths=["a.txt", "gone.txt"], message="feat: a, not gone")
    )

    assert git(repo, "rev-parse", "HEAD") == sha
    assert git(repo, "log", "-1", "--format=%s") == "feat: a, not gone"
    assert changed_in(repo) == ["A\ta.txt", "D\tgone.txt"]
    # Everything else is exactly as it was: modified, untracked, or staged.
    assert status(repo) == [
        " M README.md",
        " M kept.txt",
        "?? b.txt",
        "A  staged.txt",
    ]
    assert "committed" in log.text() and "a.txt" in log.text()


def _hook(repo: Path, body: str) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    hook.chmod(0o755)


def _staged_before_and_after(repo: Path) -> tuple[str, str]:
    return git(repo, "ls-files", "--stage"), git(repo, "diff", "--cached", "--stat")


def test_a_refusing_commit_hook_leaves_the_index_as_it_was(repo: Path) -> None:
    write(repo, "a.txt", "new\n")
    write(repo, "README.md", "# edited\n")
    write(repo, "staged.txt", "staged by someone\n")
    git(repo, "add", "staged.txt")
    git(repo, "add", "--intent-to-add", "a.txt")
    before = _staged_before_and_after(repo), status(repo)
    _hook(repo, 'echo "lint: 3 errors in README.md" >&2; exit 1')

    with pytest.raises(IntegrationError) as info:
        g.commit(context(repo, paths=["a.txt", "README.md"], message="feat: a"))

    assert "lint: 3 errors in README.md" in str(info.value)
    assert "the index is as it was before the step" in str(info.value)
    assert (_staged_before_and_after(repo), status(repo)) == before
    assert git(repo, "log", "-1", "--format=%s") == "initial"
    assert not (repo / ".git" / "index.lock").exists()


def test_a_commit_hook_past_the_timeout_is_stopped_and_the_index_restored(
    repo: Path,
) -> None:
    write(repo, "a.txt", "new\n")
    before = _staged_before_and_after(repo), status(repo)
    _hook(repo, "sleep 60")
    ctx = context(repo, paths=["a.txt"], message="feat: a")
    ctx.timeout = 2

    with pytest.raises(IntegrationError) as info:
        g.commit(ctx)

    assert "git commit timed out after 1.8 s" in str(info.value)
    assert (_staged_before_and_after(repo), status(repo)) == before
    # No lock of the killed git is left to block the next commit.
    _hook(repo, "exit 0")
    assert g.commit(context(repo, paths=["a.txt"], message="feat: a"))
    assert changed_in(repo) == ["A\ta.txt"]


def test_a_commit_in_a_fresh_repository_that_fails_leaves_no_index(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fresh"
    git(tmp_path, "init", "--quiet", str(path))
    write(path, "a.txt", "new\n")
    _hook(path, "exit 1")
    with pytest.raises(IntegrationError):
        g.commit(context(path, paths=["a.txt"], message="feat: a"))
    assert status(path) == ["?? a.txt"]


def test_commit_twice_is_a_no_op_unless_empty_commits_are_allowed(repo: Path) -> None:
    write(repo, "a.txt")
    first = g.commit(context(repo, paths=["a.txt"], message="feat: a"))
    log = Log()
    again = g.commit(context(repo, log, paths=["a.txt"], message="feat: a"))
    assert again == first
    assert log == ["nothing to commit under a.txt"]

    empty = g.commit(
        context(repo, paths=["a.txt"], message="chore: marker", allow_empty=True)
    )
    assert empty != first
    assert changed_in(repo) == []
    assert git(repo, "log", "-1", "--format=%s") == "chore: marker"


def test_commit_globs_and_paths_relative_to_a_sub_folder(repo: Path) -> None:
    sub = repo / "pkg"
    write(sub, "one.py")
    write(sub, "two.py")
    write(sub, "notes.md")
    write(repo, "top.py")
    g.commit(context(sub, paths=["*.py"], message="feat: modules"))
    assert changed_in(repo) == ["A\tpkg/one.py", "A\tpkg/two.py"]
    g.commit(context(sub, paths=["../top.py"], message="feat: top"))
    assert changed_in(repo) == ["A\ttop.py"]


def test_commit_refuses_bad_arguments(repo: Path, tmp_path: Path) -> None:
    write(repo, "a.txt")
    with pytest.raises(IntegrationError, match="did not match any files"):
        g.commit(context(repo, paths=["a.txt", "tpyo.txt"], message="m"))
    # A typo must not leave the other paths half-staged.
    assert status(repo) == ["?? a.txt"]
    with pytest.raises(IntegrationError, match="outside the repository"):
        g.commit(context(repo, paths=[str(tmp_path / "elsewhere")], message="m"))
    with pytest.raises(IntegrationError, match="non-empty list"):
        g.commit(context(repo, paths=[], message="m"))
    with pytest.raises(IntegrationError, match="needs 'message'"):
        g.commit(context(repo, paths=["a.txt"]))


def test_commit_without_an_identity_says_so(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("GIT_AUTHOR", "GIT_COMMITTER"):
        monkeypatch.delenv(f"{var}_NAME")
        monkeypatch.delenv(f"{var}_EMAIL")
    monkeypatch.setenv("EMAIL", "")
    git(repo, "config", "user.useConfigOnly", "true")
    write(repo, "a.txt")
    with pytest.raises(IntegrationError, match="git commit failed: .*identity"):
        g.commit(context(repo, paths=["a.txt"], message="m"))


def test_seed_commits_then_push(repo: Path, remote: Path) -> None:
    g.create_branch(context(repo, name=BRANCH))
    for _, files in SEED_COMMITS:
        for name in files:
            write(repo, name)
    write(repo, "scratch.txt", "not part of any commit\n")
    assert g.dirty_paths(context(repo)) == 10

    for message, files in SEED_COMMITS:
        g.commit(context(repo, paths=files, message=message))
        assert changed_in(repo) == sorted(f"A\t{name}" for name in files)

    subjects = git(repo, "log", "--format=%s", f"main..{BRANCH}").splitlines()
    assert subjects == [message for message, _ in reversed(SEED_COMMITS)]
    assert g.dirty_paths(context(repo)) == 1

    assert g.pushed(context(repo)) is False
    log = Log()
    assert g.ahead_behind(context(repo, log)) == 5
    assert log == [f"{BRANCH}: 5 ahead, 0 behind origin/{BRANCH}"]

    log = Log()
    head = g.push(context(repo, log))
    assert head == git(repo, "rev-parse", "HEAD")
    assert git(remote, "rev-parse", BRANCH) == head
    assert git(repo, "rev-parse", "--abbrev-ref", "@{upstream}") == f"origin/{BRANCH}"
    assert f"pushed {BRANCH} to origin" in log.text()

    assert g.pushed(context(repo)) is True
    assert g.pushed(context(repo, remote="origin", branch=BRANCH)) is True
    assert g.ahead_behind(context(repo)) == 0
    log = Log()
    g.push(context(repo, log))
    assert "already up to date" in log.text()


def test_push_and_pushed_for_a_named_branch(repo: Path, remote: Path) -> None:
    g.create_branch(context(repo, name="topic"))
    write(repo, "t.txt")
    g.commit(context(repo, paths=["t.txt"], message="topic"))
    g.switch_branch(context(repo, name="main"))
    assert g.pushed(context(repo, branch="topic")) is False
    g.push(context(repo, branch="topic", set_upstream=False))
    assert g.pushed(context(repo, branch="topic")) is True
    assert git(remote, "rev-parse", "topic") == git(repo, "rev-parse", "topic")


def test_a_rejected_push_names_the_ref_and_the_reason(
    repo: Path, remote: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(remote), str(other))
    write(other, "theirs.txt")
    git(other, "add", "theirs.txt")
    git(other, "commit", "--quiet", "--message", "theirs")
    git(other, "push", "--quiet", "origin", "main")

    write(repo, "ours.txt")
    g.commit(context(repo, paths=["ours.txt"], message="ours"))
    with pytest.raises(IntegrationError) as unknown:
        g.push(context(repo))
    assert "rejected" in str(unknown.value)
    assert "refs/heads/main" in str(unknown.value)
    assert "fetch first" in str(unknown.value)

    # Once their commit is known locally, git calls it non-fast-forward.
    git(repo, "fetch", "--quiet", "origin")
    with pytest.raises(IntegrationError, match=r"rejected.*non-fast-forward"):
        g.push(context(repo))
    assert g.pushed(context(repo)) is False
    log = Log()
    assert g.ahead_behind(context(repo, log)) == 1
    assert log == ["main: 1 ahead, 1 behind origin/main"]
    assert git(remote, "log", "-1", "--format=%s", "main") == "theirs"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_remote_fails_fast(repo: Path) -> None:
    git(repo, "remote", "add", "down", f"http://127.0.0.1:{_free_port()}/repo.git")
    git(repo, "remote", "add", "missing", str(repo.parent / "no-such-remote.git"))
    began = time.monotonic()
    for name in ("down", "missing"):
        with pytest.raises(IntegrationError, match="git push failed"):
            g.push(context(repo, remote=name))
        with pytest.raises(IntegrationError, match="git ls-remote failed"):
            g.pushed(context(repo, remote=name))
        with pytest.raises(IntegrationError, match="git fetch failed"):
            g.ahead_behind(context(repo, remote=name))
    assert time.monotonic() - began < 20
    with pytest.raises(IntegrationError, match=r"no remote 'upstream'.*origin"):
        g.push(context(repo, remote="upstream"))


class _AskForCredentials(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def auth_server() -> Iterator[str]:
    """An HTTP 'remote' that answers every request with 401, asking for a login."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AskForCredentials)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/repo.git"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_remote_asking_for_credentials_never_waits_for_a_person(
    repo: Path, auth_server: str
) -> None:
    git(repo, "remote", "add", "private", auth_server)
    began = time.monotonic()
    with pytest.raises(IntegrationError, match="git push failed"):
        g.push(context(repo, remote="private"))
    with pytest.raises(IntegrationError, match="git ls-remote failed"):
        g.pushed(context(repo, remote="private"))
    # The hooks' timeout is 30 s: a prompt would have been killed, not answered.
    assert time.monotonic() - began < 15


def test_push_needs_a_branch_with_commits(tmp_path: Path, remote: Path) -> None:
    path = tmp_path / "fresh"
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(path))
    git(path, "remote", "add", "origin", str(remote))
    with pytest.raises(IntegrationError, match="has no commits"):
        g.push(context(path))


def test_detached_head(repo: Path) -> None:
    git(repo, "checkout", "--quiet", "--detach")
    log = Log()
    assert g.current_branch(context(repo, log)) == ""
    assert log == ["HEAD is detached"]
    with pytest.raises(IntegrationError, match="detached"):
        g.push(context(repo))


def test_dirty_paths_counts_changes_renames_and_untracked_files(repo: Path) -> None:
    assert g.dirty_paths(context(repo)) == 0
    write(repo, "docs/a.md")
    write(repo, "docs/b.md")
    write(repo, "src/c.py")
    write(repo, "README.md", "edited\n")
    assert g.dirty_paths(context(repo)) == 4
    assert g.dirty_paths(context(repo, paths=["docs"])) == 2
    assert g.dirty_paths(context(repo / "docs", paths=["a.md"])) == 1
    g.commit(context(repo, paths=["."], message="everything"))
    git(repo, "mv", "README.md", "READ.md")
    assert g.dirty_paths(context(repo)) == 1


def test_git_steps_through_the_engine(repo: Path) -> None:
    goal = repo / "goal.yaml"
    goal.write_text(
        textwrap.dedent(
            """
            version: 1
            vars: {branch: feature/a}
            state:
              on_branch:
                type: bool
                sense: {builtin: git.branch_exists, with: {name: "{{ branch }}"}}
              a_dirty:
                type: int
                default: 1
                min: 0
                max: 100
                sense: {builtin: git.dirty_paths, with: {paths: [a.txt]}}
            actions:
              branch:
                id: G1
                effects: {on_branch: true}
                run: {builtin: git.create_branch, with: {name: "{{ branch }}"}}
              commit_a:
                id: G2
                pre: on_branch
                effects: {a_dirty: 0}
                run: {builtin: git.commit, with: {paths: [a.txt], message: "feat: a"}}
            goal: [on_branch, a_dirty == 0]
            """
        ).lstrip()
    )
    write(repo, "a.txt")
    write(repo, "b.txt")

    result = Runner(load(goal), RunOptions(yes=True)).run()

    assert result.reached
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "feature/a"
    assert git(repo, "log", "--format=%s", "main..feature/a") == "feat: a"
    assert changed_in(repo) == ["A\ta.txt"]
    # The goal file, the engine's own folder and b.txt were left alone.
    assert "?? b.txt" in status(repo)
    assert "?? goal.yaml" in status(repo)
