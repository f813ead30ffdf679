"""Where a goal's runs keep their files: one workspace per goal, one lock per state.

::

    <workdir>/.goap/
        goals.d/production/       the workspace of goals.d/production.yaml
            journal.jsonl         its runs, append-only
            state.json            its state, unless the goal sets state_file:
            runs/<run id>/        kept for per-run files (step logs)
        locks/
            goals.d-production-state.json-<hash>.lock

The journal and history belong to the goal, but the lock belongs to the state
file: two goals of one repository run side by side unless they share a state
file, which is then what one run at a time may write.  Lock files live under
``.goap/locks/`` so that nothing appears beside a state file kept in the
user's tree.

Before workspaces were per goal, every goal of a folder shared
``.goap/state.json`` and ``.goap/journal.jsonl``.  The state file is moved to
the goal that wrote it on first use; the old journal stays where it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import Diagnostic, FileError, Location, LockedError, WorkspaceError
from ..files import check_inside, kind_of, project_root, read_json
from ..model import Ruleset
from .lock import WorkspaceLock

ROOT = ".goap"
# Names a goal's workspace holds or the root holds; a goal whose folder name
# would be one of them gets a hashed name instead, so no two uses meet.
_RESERVED = frozenset({"journal.jsonl", "state.json", "runs", "locks", "lock"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _short_hash(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:10]


def goal_workspace(workdir: Path, goal: Path) -> Path:
    """Return the workspace folder of the goal file ``goal`` run in ``workdir``.

    The folder is named from the goal's path relative to the workdir, without
    a ``.yaml`` suffix (``goals.d/production.yaml`` -> ``goals.d/production``).
    The suffix is dropped only from a dotless stem, so ``x.yaml`` and a file
    named ``x`` cannot meet: names that would be ambiguous, reserved or outside
    the workdir fall back to ``<stem>-<short hash of the absolute path>``.
    """
    root = workdir / ROOT
    resolved = goal.resolve()
    fallback = root / f"{_UNSAFE.sub('_', goal.stem) or 'goal'}-{_short_hash(resolved)}"
    try:
        relative = resolved.relative_to(workdir.resolve())
    except ValueError:
        return fallback
    name = relative.name
    stem = name.removesuffix(".yaml")
    if stem != name and stem and "." not in stem:
        name = stem
    elif "." not in name:
        return fallback
    parts = (*relative.parent.parts, name)
    if any(part in _RESERVED for part in parts):
        return fallback
    return root.joinpath(*parts)


def workspace(ruleset: Ruleset) -> Path:
    """Return the folder holding the journal and run files of ``ruleset``'s goal."""
    return goal_workspace(ruleset.workdir, ruleset.path)


def state_path(ruleset: Ruleset) -> Path:
    """Return where ``ruleset``'s state is persisted."""
    return ruleset.state_file or workspace(ruleset) / "state.json"


def journal_path(ruleset: Ruleset) -> Path:
    """Return the journal of ``ruleset``'s goal: its runs and state edits."""
    return workspace(ruleset) / "journal.jsonl"


def run_dir(ruleset: Ruleset, run_id: str) -> Path:
    """Return the folder for the files of one run (its step logs)."""
    return workspace(ruleset) / "runs" / run_id


def lock_path(ruleset: Ruleset) -> Path:
    """Return the lock file guarding ``ruleset``'s state file.

    Named from the state file's path (relative to ``.goap/`` or the workdir
    when inside them) plus a hash of its absolute path: readable, and the same
    for every goal that shares the state file.
    """
    state = state_path(ruleset).resolve()
    root = ruleset.workdir / ROOT
    for base in (root.resolve(), ruleset.workdir.resolve()):
        if state.is_relative_to(base):
            label = "-".join(state.relative_to(base).parts)
            break
    else:
        label = state.name
    label = _UNSAFE.sub("_", label)[-60:].lstrip("-.") or "state"
    return root / "locks" / f"{label}-{_short_hash(state)}.lock"


def shared_state_path(ruleset: Ruleset) -> Path:
    """Return the state file all goals of a folder shared before workspaces."""
    return ruleset.workdir / ROOT / "state.json"


def _shared_state_is_ours(ruleset: Ruleset) -> bool:
    """Whether the old shared state file was written by this goal and is unmoved."""
    old = shared_state_path(ruleset)
    new = state_path(ruleset)
    if ruleset.state_file is not None or new.exists() or not old.is_file():
        return False
    try:
        # Bounded and depth-checked: a damaged old file is simply not ours.
        data = read_json(old)
    except FileError:
        return False
    goal = data.get("goal") if isinstance(data, dict) else None
    return isinstance(goal, str) and Path(goal).resolve() == ruleset.path.resolve()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def migrate_shared_state(ruleset: Ruleset, say: Callable[[str], None] = _say) -> bool:
    """Move this goal's old shared state file into its workspace; call under the lock.

    Return whether it moved.  The rename stays inside ``.goap/``, one file
    system, so it is atomic: a crash leaves the file in one place or the other.
    """
    if not _shared_state_is_ours(ruleset):
        return False
    old, new = shared_state_path(ruleset), state_path(ruleset)
    new.parent.mkdir(parents=True, exist_ok=True)
    os.replace(old, new)
    for folder in {old.parent, new.parent}:
        _sync_folder(folder)
    say(
        f"moved this goal's state from the shared {old} to {new} (runs before "
        f"this one stay listed in {old.parent / 'journal.jsonl'})"
    )
    return True


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


ALLOW_OUTSIDE = "'policy: {allow_outside: true}' in the goal"


def check_workspace(ruleset: Ruleset) -> None:
    """Refuse a damaged workspace or one whose files would land outside the project.

    Checked before every command that writes there: ``.goap`` must be a folder,
    and it and the state file must resolve (links followed) inside the project.
    """
    root = ruleset.workdir / ROOT
    try:
        info = root.stat()
    except FileNotFoundError:
        info = None
    except (OSError, RuntimeError) as exc:
        raise WorkspaceError(
            Diagnostic(Location.of(root), f"cannot use the workspace: {exc}"),
            f"remove {root}; the next run recreates it",
        ) from None
    if info is not None and not stat.S_ISDIR(info.st_mode):
        raise WorkspaceError(
            Diagnostic(
                Location.of(root), f"is {kind_of(info.st_mode)}, expected a folder"
            ),
            f"remove or rename it; the next run recreates {ROOT}/",
        )
    if ruleset.policy.allow_outside:
        return
    project = project_root(ruleset.path)
    check_inside(root, project, f"the workspace {ROOT}", ALLOW_OUTSIDE)
    check_inside(state_path(ruleset), project, "the state file", ALLOW_OUTSIDE)


@contextmanager
def goal_lock(ruleset: Ruleset) -> Iterator[WorkspaceLock]:
    """Hold the lock of ``ruleset``'s state file; migrate old shared state first."""
    check_workspace(ruleset)
    _make_root(ruleset.workdir / ROOT)
    with WorkspaceLock(lock_path(ruleset), goal=ruleset.path) as lock:
        migrate_shared_state(ruleset)
        yield lock


def _make_root(root: Path) -> None:
    """Make ``.goap/`` on first use, with a ``.gitignore`` that ignores it all.

    Its journals, logs and locks belong to this checkout, as pytest's and
    ruff's caches do: ``git add -A`` must not commit them.  Written only when
    the folder is new, so a project that removes the file keeps its choice.
    """
    try:
        root.mkdir()
    except FileExistsError:
        return
    except OSError:
        return  # the lock's own mkdir reports what is wrong
    with contextlib.suppress(OSError):
        (root / ".gitignore").write_text("# Made by goap-engine: local run files.\n*\n")


def adopt_shared_state(ruleset: Ruleset) -> None:
    """Migrate old shared state for a command that only reads it, if nobody runs.

    A run holding the lock migrates by itself, so a busy lock means there is
    nothing to do here.
    """
    if not _shared_state_is_ours(ruleset):
        return
    try:
        with goal_lock(ruleset):
            pass
    except LockedError:
        return


def sources_dir(ruleset: Ruleset) -> Path:
    """Return where large source fingerprints are kept, by content, for a workdir.

    Shared by the goals of a workdir (two goals may share a state file), and
    named by the fingerprint's hash, so two writers of one file agree.
    """
    return ruleset.workdir / ROOT / "sources"
