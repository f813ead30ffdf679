"""Git built-ins (GitPython): branches, atomic commits, pushes and their sensors.

Every function opens the repository that contains the hook's workdir, so a goal
may live in a sub-folder of a repository; relative paths in arguments resolve
against the workdir, not the repository root.  Git runs with prompts disabled:
a push that needs credentials nobody configured fails at once instead of
waiting for a person, and network commands are killed after the hook's timeout.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ..executor.hooks import HookContext
from . import IntegrationError, require

NETWORK_TIMEOUT = 600.0
"""Seconds a fetch, push or ls-remote may take when the hook sets no timeout."""


@contextmanager
def _repository(ctx: HookContext) -> Iterator[Any]:
    """Open the work tree containing ``ctx.workdir``; turn git failures into errors."""
    git = require("git")
    # GitPython logs what git printed on stderr; without a handler anywhere,
    # logging would print it past the run's output.  Failures are reported
    # through IntegrationError instead, and configured handlers still see it.
    library_log = logging.getLogger("git")
    if not library_log.handlers:
        library_log.addHandler(logging.NullHandler())
    try:
        repo = git.Repo(ctx.workdir, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise IntegrationError(
            f"{ctx.workdir} is not inside a git repository "
            "(run 'git init' there or point the goal's workdir at a repository)"
        ) from None
    try:
        if repo.bare:
            raise IntegrationError(f"{repo.git_dir} is a bare repository: no work tree")
        repo.git.update_environment(**_environment(repo, ctx.env))
        yield repo
    except git.GitCommandError as exc:
        raise IntegrationError(_describe_failure(exc)) from None
    finally:
        repo.close()


def _environment(repo: Any, env: Mapping[str, str]) -> dict[str, str]:
    """Return the hook's environment plus the settings that keep git from asking.

    An askpass program or ssh command the user configured is kept: it may be
    how credentials are supplied non-interactively (CI tokens, deploy keys).
    """
    merged = {**os.environ, **env}
    result = dict(env)
    result["GIT_TERMINAL_PROMPT"] = "0"
    result["GCM_INTERACTIVE"] = "never"
    reader = repo.config_reader()
    try:
        if not merged.get("GIT_ASKPASS") and not reader.has_option("core", "askPass"):
            result["GIT_ASKPASS"] = "echo"
        if (
            not merged.get("GIT_SSH_COMMAND")
            and not merged.get("GIT_SSH")
            and not reader.has_option("core", "sshCommand")
        ):
            result["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    finally:
        reader.release()
    return result


def _describe_failure(exc: Any) -> str:
    """Return ``git VERB failed: <what git said>`` without GitPython's framing."""
    command = [str(part) for part in exc.command]
    verb = command[1] if len(command) > 1 else "command"
    lines: list[str] = []
    for text in (exc.stderr, exc.stdout):
        text = str(text or "").strip()
        for prefix in ("stderr: '", "stdout: '"):
            if text.startswith(prefix):
                text = text[len(prefix) :].removesuffix("'")
        lines += [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("hint:")
        ]
    said = "; ".join(lines) or f"status {exc.status}"
    return f"git {verb} failed: {said}"


def _timeout(ctx: HookContext) -> float:
    return ctx.timeout if ctx.timeout else NETWORK_TIMEOUT


def _name(ctx: HookContext, key: str = "name") -> str:
    value = ctx.args.get(key)
    if not value or not isinstance(value, str):
        raise IntegrationError(f"this hook needs '{key}': a branch name")
    return value


def _active(repo: Any) -> str | None:
    """Return the checked-out branch's name, or None when HEAD is detached."""
    if repo.head.is_detached:
        return None
    return str(repo.active_branch.name)


def _branch(ctx: HookContext, repo: Any) -> str:
    """Return the ``branch`` argument, defaulting to the checked-out branch."""
    branch = ctx.args.get("branch")
    if branch:
        return str(branch)
    active = _active(repo)
    if active is None:
        raise IntegrationError("HEAD is detached: name the branch with 'branch'")
    return active


def _has_branch(repo: Any, name: str) -> bool:
    return any(head.name == name for head in repo.heads)


def _remote(repo: Any, name: str) -> Any:
    names = [remote.name for remote in repo.remotes]
    if name not in names:
        known = ", ".join(names) or "none"
        raise IntegrationError(
            f"no remote '{name}' in this repository (remotes: {known})"
        )
    return repo.remote(name)


def _local_sha(repo: Any, branch: str) -> str | None:
    """Return the commit ``branch`` points to, or None if it has none yet."""
    if not _has_branch(repo, branch):
        return None
    return str(repo.heads[branch].commit.hexsha)


def _pathspecs(ctx: HookContext, repo: Any, paths: Any) -> list[str]:
    """Return ``paths`` (files, folders or globs) relative to the repository root.

    Git runs at the root, while the goal names paths relative to its workdir.
    """
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not paths:
        raise IntegrationError("'paths' must be a non-empty list of paths or globs")
    root = os.path.realpath(repo.working_tree_dir)
    base = os.path.realpath(ctx.workdir)
    specs = []
    for path in paths:
        full = os.path.normpath(os.path.join(base, str(path)))
        relative = os.path.relpath(full, root)
        if relative == ".." or relative.startswith(".." + os.sep):
            raise IntegrationError(f"path '{path}' is outside the repository {root}")
        specs.append(Path(relative).as_posix())
    return specs


def current_branch(ctx: HookContext) -> str:
    """Return the checked-out branch's name ("" when HEAD is detached)."""
    with _repository(ctx) as repo:
        active = _active(repo)
        if active is None:
            ctx.log("HEAD is detached")
            return ""
        return active


def branch_exists(ctx: HookContext) -> bool:
    """Return whether the local branch ``name`` exists."""
    name = _name(ctx)
    with _repository(ctx) as repo:
        return _has_branch(repo, name)


def create_branch(ctx: HookContext) -> str:
    """Create branch ``name`` at ``start`` (default HEAD) and check it out.

    An existing branch is checked out as it is, so running the action twice
    is harmless.
    """
    name = _name(ctx)
    start = str(ctx.args.get("start") or "HEAD")
    with _repository(ctx) as repo:
        repo.git.check_ref_format("--branch", name)
        if _has_branch(repo, name):
            if _active(repo) == name:
                ctx.log(f"already on branch {name}")
            else:
                repo.git.switch(name)
                ctx.log(f"branch {name} exists; switched to it")
            return name
        if not repo.head.is_valid():
            # No commit yet: nothing to branch from, so rename the unborn branch
            # and keep whatever is staged.
            repo.git.symbolic_ref("HEAD", f"refs/heads/{name}")
            ctx.log(f"switched to new branch {name} (no commits yet)")
            return name
        repo.git.switch("-c", name, start)
        ctx.log(f"created branch {name} at {start} and switched to it")
        return name


def switch_branch(ctx: HookContext) -> str:
    """Check out the existing branch ``name`` (or track it from a remote)."""
    name = _name(ctx)
    with _repository(ctx) as repo:
        if _active(repo) == name:
            ctx.log(f"already on branch {name}")
        else:
            repo.git.switch(name)
            ctx.log(f"switched to branch {name}")
        return name


def commit(ctx: HookContext) -> str:
    """Commit exactly ``paths`` (new, changed and deleted files) with ``message``.

    Only those paths are staged and committed; whatever else is modified or
    staged stays as it was.  When nothing under the paths changed, no commit is
    made and the current commit is returned, so re-running the action is
    harmless; ``allow_empty: true`` makes an empty commit instead.  A path that
    matches no file is an error rather than a silent no-op, since it is
    usually a typo.  Returns the commit's hexsha.

    A commit that fails -- a pre-commit hook says no, or runs past the step's
    timeout and is killed -- leaves the index exactly as it was before the
    step: the paths it staged are unstaged again.
    """
    message = ctx.args.get("message")
    if not message or not isinstance(message, str):
        raise IntegrationError("git.commit needs 'message': the commit message")
    allow_empty = bool(ctx.args.get("allow_empty", False))
    with _repository(ctx) as repo:
        specs = _pathspecs(ctx, repo, ctx.args.get("paths"))
        with _index_kept_on_failure(repo):
            return _commit(ctx, repo, specs, message, allow_empty)


def _commit(
    ctx: HookContext, repo: Any, specs: list[str], message: str, allow_empty: bool
) -> str:
    limit = _commit_timeout(ctx)
    repo.git.add("--all", "--", *specs, kill_after_timeout=limit)
    changed = repo.git.diff("--cached", "--name-only", "--", *specs).splitlines()
    if not changed and not allow_empty:
        ctx.log(f"nothing to commit under {', '.join(specs)}")
        return str(repo.head.commit.hexsha) if repo.head.is_valid() else ""
    options = ["--only", "--message", message]
    try:
        if changed:
            # --only commits these paths' contents and leaves other staged
            # entries staged, which is what makes the commit atomic.
            repo.git.commit(*options, "--", *specs, kill_after_timeout=limit)
        else:
            repo.git.commit(*options, "--allow-empty", kill_after_timeout=limit)
    except require("git").GitCommandError as exc:
        if "did not complete in" in str(exc.stderr):
            raise IntegrationError(
                f"git commit timed out after {limit:g} s (a commit hook still "
                "running?); the index is as it was before the step"
            ) from None
        raise IntegrationError(
            f"{_describe_failure(exc)}; the index is as it was before the step"
        ) from None
    sha = str(repo.head.commit.hexsha)
    title = message.splitlines()[0]
    ctx.log(f"committed {sha[:10]} {title} ({len(changed)} path(s))")
    for path in changed:
        ctx.log(f"  {path}")
    return sha


def _commit_timeout(ctx: HookContext) -> float:
    """Return how long ``git add`` and ``git commit`` (with its hooks) may take.

    Shorter than the step's own timeout, so that git is stopped here and the
    index restored before the engine kills the whole hook.
    """
    if not ctx.timeout:
        return NETWORK_TIMEOUT
    return max(ctx.timeout * 0.9, ctx.timeout - 10.0)


@contextmanager
def _index_kept_on_failure(repo: Any) -> Iterator[None]:
    """Put the index file back as it was when the block fails.

    The index file itself is saved rather than a tree (``git write-tree``):
    it keeps what a tree cannot -- intent-to-add entries, unmerged stages,
    flags -- and a byte copy is as cheap as the file is small.
    """
    where = Path(repo.git.rev_parse("--git-path", "index"))
    index = where if where.is_absolute() else Path(repo.working_tree_dir) / where
    try:
        saved: bytes | None = index.read_bytes()
    except FileNotFoundError:
        saved = None  # a repository with nothing staged ever has no index yet
    began = time.time()
    try:
        yield
    except BaseException:
        _restore_index(index, saved, began)
        raise


def _restore_index(index: Path, saved: bytes | None, since: float) -> None:
    """Write ``saved`` back as git itself writes the index: through its lock."""
    lock = index.with_name(index.name + ".lock")
    # A git killed at the timeout leaves its locks behind; those made since
    # the step began are its own (git takes them for a commit's duration).
    for stale in (lock, *index.parent.glob("next-index-*.lock")):
        with suppress(OSError):
            if stale.stat().st_mtime >= since - 1:
                stale.unlink()
    if saved is None:
        index.unlink(missing_ok=True)
        return
    try:
        with open(lock, "xb") as handle:
            handle.write(saved)
            handle.flush()
            os.fsync(handle.fileno())
    except FileExistsError:
        raise IntegrationError(
            f"cannot put the index back: {lock} is held by another git process; "
            "the step's paths may still be staged ('git restore --staged PATH')"
        ) from None
    os.replace(lock, index)


def push(ctx: HookContext) -> str:
    """Push ``branch`` (default: the checked-out one) to ``remote`` (origin).

    ``set_upstream`` (default true) makes the remote branch the upstream.  Every
    ref git reports is checked: a rejected, remotely rejected or failed update
    is an error naming the ref and git's reason.  Returns the pushed hexsha.
    """
    git = require("git")
    remote_name = str(ctx.args.get("remote") or "origin")
    set_upstream = bool(ctx.args.get("set_upstream", True))
    with _repository(ctx) as repo:
        branch = _branch(ctx, repo)
        sha = _local_sha(repo, branch)
        if sha is None:
            raise IntegrationError(f"branch '{branch}' has no commits to push")
        remote = _remote(repo, remote_name)
        options: dict[str, Any] = {"set_upstream": True} if set_upstream else {}
        ref = f"refs/heads/{branch}"
        results = remote.push(
            f"{ref}:{ref}", kill_after_timeout=_timeout(ctx), **options
        )
        bad = (
            git.PushInfo.ERROR
            | git.PushInfo.REJECTED
            | git.PushInfo.REMOTE_REJECTED
            | git.PushInfo.REMOTE_FAILURE
        )
        failures = [
            f"{info.remote_ref_string}: {info.summary.strip()}"
            for info in results
            if info.flags & bad
        ]
        if failures:
            text = "; ".join(failures)
            hint = ""
            if "non-fast-forward" in text or "fetch first" in text:
                hint = (
                    " (the remote branch has commits this one lacks: "
                    "integrate them, e.g. git pull --rebase, then push again)"
                )
            raise IntegrationError(f"push to {remote_name} rejected: {text}{hint}")
        if not results or results.error is not None:
            raise IntegrationError(
                f"push of {branch} to {remote_name} failed: "
                f"{results.error or 'git reported no result'}"
            )
        for info in results:
            if info.flags & git.PushInfo.UP_TO_DATE:
                ctx.log(f"{remote_name}/{branch} already up to date")
            else:
                ctx.log(f"pushed {branch} to {remote_name}: {info.summary.strip()}")
        return sha


def pushed(ctx: HookContext) -> bool:
    """Return whether ``remote``'s ``branch`` is at the local branch's commit.

    The remote is asked directly (``git ls-remote``), so the answer does not
    depend on how recently anyone fetched; when it matches, the
    remote-tracking ref is brought up to date too.  An unreachable remote is
    an error, not ``false``: not knowing is different from not pushed.
    """
    remote_name = str(ctx.args.get("remote") or "origin")
    with _repository(ctx) as repo:
        branch = _branch(ctx, repo)
        _remote(repo, remote_name)
        local = _local_sha(repo, branch)
        ref = f"refs/heads/{branch}"
        listing = repo.git.ls_remote(remote_name, ref, kill_after_timeout=_timeout(ctx))
        remote_sha = None
        for line in listing.splitlines():
            sha, _, name = line.partition("\t")
            if name == ref:
                remote_sha = sha
        if remote_sha is None:
            ctx.log(f"{remote_name} has no branch {branch}")
            return False
        if local is None or remote_sha != local:
            ctx.log(f"{remote_name}/{branch} is at {remote_sha[:10]}, local at {local}")
            return False
        repo.git.update_ref(f"refs/remotes/{remote_name}/{branch}", local)
        return True


def dirty_paths(ctx: HookContext) -> int:
    """Return how many paths are changed, staged or untracked (under ``paths``)."""
    with _repository(ctx) as repo:
        paths = ctx.args.get("paths")
        specs = _pathspecs(ctx, repo, paths) if paths else []
        output = repo.git.status(
            "--porcelain=v1", "-z", "--untracked-files=all", "--", *specs
        )
        entries = output.split("\0")
        count = 0
        index = 0
        while index < len(entries):
            entry = entries[index]
            index += 1
            if not entry:
                continue
            count += 1
            if "R" in entry[:2] or "C" in entry[:2]:
                # A rename or copy is followed by its source path.
                index += 1
        return count


def ahead_behind(ctx: HookContext) -> int:
    """Return how many commits ``branch`` has that ``remote`` does not.

    Fetches ``remote`` first (``fetch: false`` skips it) and logs both counts,
    ``N ahead, M behind``.  For a branch the remote does not have yet, the
    count is its commits not on any of the remote's branches.
    """
    remote_name = str(ctx.args.get("remote") or "origin")
    with _repository(ctx) as repo:
        branch = _branch(ctx, repo)
        _remote(repo, remote_name)
        if ctx.args.get("fetch", True):
            repo.git.fetch("--quiet", remote_name, kill_after_timeout=_timeout(ctx))
        if _local_sha(repo, branch) is None:
            ctx.log(f"{branch} has no commits")
            return 0
        tracking = f"refs/remotes/{remote_name}/{branch}"
        known = repo.git.for_each_ref(tracking, format="%(refname)").strip()
        if known:
            counts = repo.git.rev_list(
                "--left-right", "--count", f"refs/heads/{branch}...{tracking}"
            ).split()
            ahead, behind = int(counts[0]), int(counts[1])
        else:
            ahead = int(
                repo.git.rev_list(
                    "--count",
                    f"refs/heads/{branch}",
                    "--not",
                    f"--remotes={remote_name}",
                )
            )
            behind = 0
        ctx.log(f"{branch}: {ahead} ahead, {behind} behind {remote_name}/{branch}")
        return ahead
