"""``state set|reset`` and ``history``: repair and inspect what runs left behind."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import Diagnostic, InputError, Location, WorkspaceError
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
        if kind == "run_start":
            # A run narrowed by --target or --tag reached only that part.
            for field in ("target", "tags", "skip_tags"):
                if isinstance(event.get(field), list):
                    item[field] = event[field]
        elif kind == "step_end":
            key = "ok" if event.get("status") == "ok" else "failed"
            item[key] += 1
        elif kind == "replan":
            item["replans"] += 1
        elif kind == "approval_pending":
            item["waiting_for"] = list(event.get("steps") or ())
        elif kind == "approval_given":
            item.setdefault("approved", []).append(
                {
                    "steps": event.get("steps"),
                    "by": event.get("by"),
                    "at": event.get("ts"),
                }
            )
        elif kind == "run_end":
            item["status"] = str(event.get("status"))
    return list(found.values())


def forget_values(goal: Path, names: Sequence[str]) -> list[str]:
    """Remove ``names`` from the stored state; return those that were stored.

    Works on names the goal no longer declares (a variable renamed or gone),
    which is what makes a state file unreadable; every other stored value
    stays as it is.
    """
    names = list(dict.fromkeys(names))  # a name given twice is forgotten once
    ruleset = load(goal)
    with goal_lock(ruleset):
        data, stored = _raw_state(ruleset)
        for name in names:
            if name not in stored and name not in ruleset.names:
                raise _no_such(ruleset, name, stored)
        gone = [name for name in names if name in stored]
        origins = _origins(data)
        for name in gone:
            del stored[name]
            origins.pop(name, None)
        if gone:
            _write_raw(ruleset, data, stored, origins)
            _journal(ruleset, "state_rm", names=gone)
        return gone


def rename_value(goal: Path, old: str, new: str) -> Any:
    """Move the stored value of ``old`` to the state variable ``new``; return it.

    For a variable renamed in the YAML (or a shipped one now qualified): the
    value keeps its origin, and is checked against ``new``'s type.
    """
    from ..values import check_value

    if old == new:
        raise InputError(f"state mv: OLD and NEW are both '{old}': nothing to move")
    ruleset = load(goal)
    with goal_lock(ruleset):
        data, stored = _raw_state(ruleset)
        if old not in stored:
            raise _no_such(ruleset, old, stored, stored_only=True)
        if new not in ruleset.names:
            raise _no_such(ruleset, new, {}, declared_only=True)
        if new in ruleset.secret_names:
            raise InputError(
                f"state mv: '{new}' is secret: its value is never stored (give it "
                "by its sensor or --set)"
            )
        if new in stored:
            raise InputError(
                f"state mv: '{new}' already has a stored value; remove it first "
                f"with 'goap-engine state rm {_shown(ruleset)} {new}'"
            )
        try:
            value = check_value(ruleset.var(new), stored[old])
        except ValueError as exc:
            raise InputError(f"state mv {old} {new}: {exc}") from None
        origins = _origins(data)
        stored = {
            (new if k == old else k): (value if k == old else v)
            for k, v in stored.items()
        }
        if old in origins:
            origins[new] = {**origins.pop(old), "renamed_from": old}
        _write_raw(ruleset, data, stored, origins)
        _journal(ruleset, "state_mv", old=old, new=new)
        return value


def _origins(data: dict[str, Any]) -> dict[str, Any]:
    found = data.get("origins")
    return found if isinstance(found, dict) else {}


def _raw_state(ruleset: Ruleset) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the state file as written and its ``state`` mapping (or empties)."""
    from ..files import load_json, read_text_limited

    path = state_path(ruleset)
    if not path.exists():
        return {"state": {}, "origins": {}}, {}
    data = load_json(read_text_limited(path), path)
    if isinstance(data, dict) and "state" not in data:
        data = {"state": data, "origins": {}}  # the first format: values only
    stored = data.get("state") if isinstance(data, dict) else None
    if not isinstance(stored, dict):
        raise WorkspaceError(
            Diagnostic(
                Location.of(path), "expected a JSON object with a 'state' object"
            ),
            f"forget the stored state with 'goap-engine state reset {_shown(ruleset)}'",
        )
    return data, stored


def _write_raw(
    ruleset: Ruleset,
    data: dict[str, Any],
    stored: dict[str, Any],
    origins: dict[str, Any],
) -> None:
    path = state_path(ruleset)
    written = {**data, "status": "edited", "updated_at": now()}
    written.update(state=stored, origins=origins)
    try:
        atomic_write(path, json.dumps(written, indent=2, allow_nan=False) + "\n")
    except OSError as exc:
        raise WorkspaceError(
            Diagnostic(Location.of(path), f"cannot write the state file: {exc}"),
            f"remove what is in the way of {path}",
        ) from None


def _journal(ruleset: Ruleset, event: str, **fields: Any) -> None:
    journal = Journal(journal_path(ruleset), Redactor.from_env(ruleset.secrets))
    journal.write(event, **fields)
    journal.close()


def _no_such(
    ruleset: Ruleset,
    name: str,
    stored: dict[str, Any],
    *,
    stored_only: bool = False,
    declared_only: bool = False,
) -> InputError:
    import difflib

    candidates = list(stored) if stored_only else list(ruleset.names)
    if not stored_only and not declared_only:
        candidates += [n for n in stored if n not in ruleset.names]
    close = difflib.get_close_matches(name, candidates, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    if stored_only:
        return InputError(f"nothing is stored for '{name}'{hint}")
    if declared_only:
        return InputError(f"the goal declares no state variable '{name}'{hint}")
    return InputError(
        f"'{name}' is neither stored nor a state variable of the goal{hint}"
    )


def _shown(ruleset: Ruleset) -> str:
    from ..errors import display_path

    return display_path(ruleset.path)
