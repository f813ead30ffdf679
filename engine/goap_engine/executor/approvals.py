"""Approvals: settled before the first step, asked again only for new steps.

An irreversible step (or one marked ``approval: true``) runs only when a person
approved it: ``--yes`` approves all, ``--approve ID,...`` some, and on a
terminal the run asks once, listing them all, before anything runs.  Without a
terminal and without approval nothing runs.  A replan that brings in a step not
yet approved stops for approval instead of running it.

Resuming needs the same care: a run interrupted while an irreversible step
whose effect no sensor can check was running cannot know whether it happened,
so ``--resume`` asks, or needs ``--yes``, or a reconciliation with
``goap-engine state set``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ApprovalError, display_path
from ..language.var_inputs import arguments
from ..model import Action, Ruleset


def run_command(goal: Path) -> str:
    """Return ``goap-engine run GOAL`` as a message suggests it, ready to paste.

    With the ``--var`` and ``--var-file`` arguments this command was given:
    without them the pasted run would plan, and act, with other values.
    """
    return f"goap-engine run {shlex.quote(display_path(goal))}{arguments()}"


def needs_approval(action: Action) -> bool:
    return action.irreversible or action.approval


def why(action: Action) -> str:
    return "irreversible" if action.irreversible else "marked for approval"


def parse_approvals(ruleset: Ruleset, items: Iterable[str]) -> frozenset[str]:
    """Return the action names that ``--approve ID[,ID...]`` names."""
    from ..errors import InputError

    names: set[str] = set()
    problems = []
    for item in items:
        for key in (part.strip() for part in item.split(",")):
            if not key:
                continue
            try:
                action = ruleset.action(key)
            except KeyError:
                problems.append(f"unknown action '{key}'")
                continue
            if not needs_approval(action):
                # Approving a step that never asks is a typo for one that
                # does: the person would think something is approved.
                problems.append(f"'{key}' needs no approval")
                continue
            names.add(action.name)
    if problems:
        known = ", ".join(a.id or a.name for a in ruleset.actions if needs_approval(a))
        raise InputError(
            f"--approve: {'; '.join(problems)} (steps that need approval: "
            f"{known or 'none'})"
        )
    return frozenset(names)


@dataclass
class Approvals:
    """Which steps a person approved for this run, and how to ask for more."""

    command: str
    """``goap-engine run GOAL [VARS]`` for the messages (see ``run_command``)."""
    approved: set[str] = field(default_factory=set)
    all: bool = False
    ask: Callable[[str], bool] | None = None
    wait: bool = False
    """Stop at a step that needs approval instead of before the run (waiting)."""

    def missing(self, actions: Sequence[Action]) -> list[Action]:
        """Return the actions of a plan that need an approval not yet given."""
        if self.all:
            return []
        seen: set[str] = set()
        found = []
        for action in actions:
            if (
                needs_approval(action)
                and action.name not in self.approved
                and action.name not in seen
            ):
                seen.add(action.name)
                found.append(action)
        return found

    def settle(self, actions: Sequence[Action], *, first: bool) -> None:
        """Ask for the missing approvals of a plan; raise when they are missing.

        On a terminal the question lists every step at once; a ``no`` means
        nothing more runs.  Without a terminal the error names the steps and
        how to approve them.
        """
        missing = self.missing(actions)
        if not missing or self.wait:
            return  # waiting: the step itself stops the run
        listing = "; ".join(f"{a.label} ({why(a)})" for a in missing)
        if self.ask is not None:
            lead = "This run will" if first else "The new plan needs to"
            question = f"{lead} run steps that need approval: {listing}. Run them?"
            if self.ask(question):
                self.approved.update(a.name for a in missing)
                return
            raise ApprovalError(
                f"not approved: {listing}; nothing of it ran",
                steps=[a.label for a in missing],
                declined=True,
            )
        keys = ",".join(a.id or a.name for a in missing)
        where = "before anything ran" if first else "after a replan; it did not run"
        raise ApprovalError(
            f"approval needed {where}: {listing}. Approve with "
            f"'{self.command} --approve {keys}' (or --yes for all), "
            "or run on a terminal to be asked",
            steps=[a.label for a in missing],
        )

    def allows(self, action: Action) -> bool:
        return self.all or action.name in self.approved


@dataclass
class Interrupted:
    """What an interrupted run left: steps a person must judge, and markers.

    ``steps`` are the steps that started and never ended cleanly, less those
    a ``state set`` or ``state reset`` reconciled afterwards (a person
    recorded what really happened); ``markers`` are the process markers of
    all unfinished steps, reconciled or not: their processes may still run.
    """

    steps: list[str] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)


def interrupted(events: Iterable[dict[str, Any]], run: str) -> Interrupted:
    """Return what ``run`` left unfinished, read in one pass over the journal."""
    open_steps: dict[str, None] = {}
    markers: dict[str, str] = {}
    for event in events:
        kind = event.get("event")
        if kind in ("state_set", "state_reset"):
            open_steps.clear()
            continue
        if event.get("run") != run:
            continue
        label = str(event.get("step"))
        if kind == "step_start":
            open_steps[label] = None
            if isinstance(event.get("marker"), str):
                markers[label] = event["marker"]
        elif kind == "step_end":
            if event.get("status") in ("ok", "failed", "refused"):
                open_steps.pop(label, None)
                markers.pop(label, None)
            else:
                open_steps[label] = None
    return Interrupted(list(open_steps), list(markers.values()))
