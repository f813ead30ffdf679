"""Approvals that wait: a run stops at a step nobody approved, and goes on later.

With ``policy: {approvals: wait}`` or ``run --wait-for-approval``, a run does
what needs no approval and stops before the first step that needs one: it
journals ``approval_pending`` (the steps that need approval, and the
fingerprint of the plan from there), ends with status ``waiting`` and exit
code 5, and so releases the lock.  ``goap-engine approve`` (or an agent,
through the MCP server) journals ``approval_given``: who, when, which steps,
and that fingerprint.  ``run --resume`` senses again and plans again; at the
gate it runs the approved steps only if the fingerprint is still the same --
the rules (files and vars), the state there, and the plan from there.  If
anything changed, it waits again: an approval is for the plan the person saw.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..model import Action, Ruleset
from ..values import fingerprint, ruleset_fingerprint

APPROVER_VARIABLE = "GOAP_APPROVER"
"""The environment variable naming who approves, when ``--by`` does not."""


@dataclass(frozen=True)
class Pending:
    """What a waiting run waits for, as its ``approval_pending`` event says."""

    run: str
    steps: tuple[str, ...]
    """Labels of the steps that need an approval (``A12 publish_model``)."""
    actions: tuple[str, ...]
    """Their action names, in the same order."""
    fingerprint: str
    plan: tuple[str, ...]
    """The plan from the gate on, as labels: what the approval is for."""
    since: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "steps": list(self.steps),
            "actions": list(self.actions),
            "fingerprint": self.fingerprint,
            "plan": list(self.plan),
            "since": self.since,
        }


def gate_fingerprint(
    ruleset: Ruleset, state: dict[str, Any], plan: Sequence[Action]
) -> str:
    """Return the fingerprint an approval at this point is bound to."""
    return fingerprint(
        {
            "rules": ruleset_fingerprint(ruleset),
            "state": state,
            "plan": [a.name for a in plan],
        }
    )


def unapproved(plan: Sequence[Action], approved: Iterable[str]) -> list[Action]:
    """Return the plan's steps that need an approval not given, once each."""
    from .approvals import needs_approval

    given = set(approved)
    found: dict[str, Action] = {}
    for action in plan:
        if needs_approval(action) and action.name not in given:
            found.setdefault(action.name, action)
    return list(found.values())


def pending_of(events: Iterable[dict[str, Any]], run: str) -> Pending | None:
    """Return the approval ``run`` waits for (its last ``approval_pending``)."""
    found = None
    for event in events:
        if event.get("run") == run and event.get("event") == "approval_pending":
            found = event
    if found is None:
        return None
    return Pending(
        run=run,
        steps=tuple(str(s) for s in found.get("steps") or ()),
        actions=tuple(str(s) for s in found.get("actions") or ()),
        fingerprint=str(found.get("fingerprint", "")),
        plan=tuple(str(s) for s in found.get("plan") or ()),
        since=str(found.get("ts", "")),
    )


def granted(events: Iterable[dict[str, Any]], run: str) -> list[dict[str, Any]]:
    """Return the ``approval_given`` events of ``run``, oldest first."""
    return [
        e
        for e in events
        if e.get("run") == run
        and e.get("event") == "approval_given"
        and isinstance(e.get("actions"), list)
        and isinstance(e.get("fingerprint"), str)
    ]


def approver(given: str | None) -> str:
    """Return who approves: ``--by``, else $GOAP_APPROVER, else the login name."""
    name = given if given is not None else os.environ.get(APPROVER_VARIABLE)
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    name = name.strip()
    if not name or len(name) > 200 or re.search(r"[\x00-\x1f\x7f]", name):
        raise InputError(
            f"approver {name[:60]!r}: expected a name of 1 to 200 printable "
            f"characters (--by or ${APPROVER_VARIABLE})"
        )
    return name


def choose(ruleset: Ruleset, pending: Pending, keys: Sequence[str]) -> list[int]:
    """Return the indexes in ``pending`` of the steps ``keys`` name (all if none).

    A key is an action's id, name or label; a step that does not wait is an
    error that lists those that do.
    """
    if not keys:
        return list(range(len(pending.actions)))
    chosen: list[int] = []
    problems = []
    for key in (k.strip() for item in keys for k in item.split(",")):
        if not key:
            continue
        try:
            name = ruleset.action(key).name
        except KeyError:
            name = key
        matches = [
            i
            for i, (label, action) in enumerate(
                zip(pending.steps, pending.actions, strict=True)
            )
            if key in (label, action) or name == action
        ]
        if not matches:
            problems.append(f"'{key}' does not wait for approval")
        chosen += [i for i in matches if i not in chosen]
    if problems:
        raise InputError(
            f"{'; '.join(problems)} (waiting: {', '.join(pending.steps) or 'none'})"
        )
    return chosen


def approve(ruleset: Ruleset, keys: Sequence[str], by: str | None) -> dict[str, Any]:
    """Journal the approval of what ``ruleset``'s waiting run waits for.

    Returns the ``approval_given`` event.  Taken under the goal's lock, so
    it cannot meet a run; refused (exit 2) when no run waits, or for a step
    that does not.
    """
    from .journal import Journal, last_run, read_events
    from .redaction import Redactor
    from .workspace import goal_lock, journal_path

    who = approver(by)
    with goal_lock(ruleset):
        path = journal_path(ruleset)
        events = list(read_events(path, strict=True))
        previous = last_run(events)
        pending = None
        if previous is not None and previous.get("status") == "waiting":
            pending = pending_of(events, str(previous.get("run")))
        if pending is None:
            state = "no run yet" if not events else _last_status(events)
            raise InputError(
                f"no run of {ruleset.path} waits for approval ({state}); a run "
                "waits when started with --wait-for-approval or "
                "'policy: {approvals: wait}'"
            )
        chosen = choose(ruleset, pending, keys)
        journal = Journal(path, Redactor.from_env(ruleset.secrets))
        try:
            return journal.write(
                "approval_given",
                run=pending.run,
                steps=[pending.steps[i] for i in chosen],
                actions=[pending.actions[i] for i in chosen],
                fingerprint=pending.fingerprint,
                plan=list(pending.plan),
                by=who,
            )
        finally:
            journal.close()


def _last_status(events: Sequence[dict[str, Any]]) -> str:
    ends = [e for e in events if e.get("event") == "run_end"]
    if not ends:
        return "the last run did not end"
    last = ends[-1]
    return f"the last run {last.get('run')} ended {last.get('status')}"
