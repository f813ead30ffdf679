"""``state set|reset`` and ``history``: repair and inspect what runs left behind."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import Diagnostic, Location, WorkspaceError
from ..loader import load
from ..model import Ruleset
from ..store import atomic_write, read_stored
from ..values import state_dict, with_values
from .journal import Journal, Redactor, now, read_events
from .workspace import goal_lock, journal_path, state_path


def _write(
    ruleset: Ruleset,
    values: dict[str, Any],
    status: str,
    origins: dict[str, dict[str, Any]] | None = None,
) -> None:
    data = {
        "version": 1,
        "goal": str(ruleset.path),
        "status": status,
        "updated_at": now(),
        # Secret variables are never stored (state set refuses them).
        "state": ruleset.stored(values),
        "origins": origins or {},
    }
    path = state_path(ruleset)
    try:
        atomic_write(path, json.dumps(data, indent=2, allow_nan=False) + "\n")
    except OSError as exc:
        raise WorkspaceError(
            Diagnostic(Location.of(path), f"cannot write the state file: {exc}"),
            f"remove what is in the way of {path}",
        ) from None


def update_state(
    goal: Path,
    parse: Callable[[Ruleset, Sequence[str]], dict[str, Any]],
    assignments: Sequence[str],
) -> None:
    """Set typed values in the stored state, under the state file's lock."""
    ruleset = load(goal)
    changes = parse(ruleset, assignments)
    with goal_lock(ruleset):
        path = state_path(ruleset)
        stored, origins = read_stored(ruleset, path) if path.exists() else ({}, {})
        state = with_values(ruleset, ruleset.default_state(), {**stored, **changes})
        at = now()
        for name in changes:
            origins[name] = {"kind": "set", "at": at, "by": "state set"}
        _write(ruleset, state_dict(ruleset, state), "edited", origins)
        journal = Journal(journal_path(ruleset), Redactor.from_env(ruleset.secrets))
        journal.write("state_set", values=changes)
        journal.close()


def reset_state(goal: Path) -> None:
    """Reset the stored state to the defaults, under the state file's lock."""
    ruleset = load(goal)
    with goal_lock(ruleset):
        _write(ruleset, state_dict(ruleset, ruleset.default_state()), "reset")
        journal = Journal(journal_path(ruleset), Redactor.from_env(ruleset.secrets))
        journal.write("state_reset")
        journal.close()


def runs(
    ruleset: Ruleset, warn: Callable[[str], None] | None = None
) -> list[dict[str, Any]]:
    """Return one summary per run in the goal's journal, oldest first.

    A journal line of the wrong shape is skipped with a warning: a listing
    that leaves one event out misleads less than no listing at all.
    """
    found: dict[str, dict[str, Any]] = {}
    for event in read_events(journal_path(ruleset), warn=warn):
        run = event.get("run")
        if not isinstance(run, str) or not run:
            continue
        item = found.setdefault(
            run,
            {
                "run": run,
                "started": event.get("ts"),
                "status": "interrupted?",
                "ok": 0,
                "failed": 0,
                "replans": 0,
            },
        )
        kind = event.get("event")
        if kind == "step_end":
            key = "ok" if event.get("status") == "ok" else "failed"
            item[key] += 1
        elif kind == "replan":
            item["replans"] += 1
        elif kind == "run_end":
            item["status"] = str(event.get("status"))
    return list(found.values())
