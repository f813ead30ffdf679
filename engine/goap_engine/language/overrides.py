"""Apply a goal's ``overrides:`` to the actions its packs define.

A goal changes a pack action's cost, duration, timeout, retries or hook, adds
preconditions to it (``needs:``), or disables it, without editing the pack.  An
override names one action: a short name two packs share must be written
``pack.name``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..documents import PathKey
from ..model import Action
from .actions import read_cost
from .hooks import HookReading
from .scope import parse_duration


class OverrideReading(HookReading):
    """Apply the goal's overrides to the actions read so far."""

    def apply_overrides(self) -> None:
        """Apply the goal's ``overrides`` to the packs' actions (cost, hook, ...)."""
        doc = self.root
        for key, raw in (doc.data.get("overrides") or {}).items():
            keys: PathKey = ("overrides", key)
            where = doc.where(keys, key=True)
            matches = [
                i
                for i, a in enumerate(self.actions)
                if key in (a.name, a.name.rpartition(".")[2] if "." not in key else "")
            ]
            if len(matches) != 1:
                names = ", ".join(self.actions[i].name for i in matches)
                problem = (
                    f"matches the actions {names}: write pack.name"
                    if matches
                    else "no action of that name" + _close(key, self.actions)
                )
                self.error(where, f"override of '{key}': {problem}", "overrides")
                continue
            index = matches[0]
            action = self.actions[index]
            entity = (
                f"override of action '{action.name}' (defined at {action.location})"
            )
            spec = dict(raw or {})
            if spec.get("disabled"):
                self.actions[index] = replace(action, disabled=True)
                continue
            changes: dict[str, Any] = {}
            if "cost" in spec:
                changes["cost"] = read_cost(
                    self, doc, (*keys, "cost"), spec["cost"], entity
                )
            if "duration" in spec:
                changes["duration"] = parse_duration(spec["duration"])
            if "timeout" in spec:
                changes["timeout"] = self.timeout(
                    doc, (*keys, "timeout"), spec["timeout"], entity
                )
            if "retries" in spec:
                changes["retries"] = int(spec["retries"])
            if "needs" in spec:
                # Added, never replacing the pack's own: a goal orders steps
                # (check before branching) without restating, or silently
                # dropping, what the pack requires.
                needs = self.condition_list(
                    doc, (*keys, "needs"), spec["needs"], entity, "precondition"
                )
                changes["pre"] = (*action.pre, *(e for e, _ in needs))
                changes["pre_locations"] = (
                    *action.pre_locations,
                    *(w for _, w in needs),
                )
            if "run" in spec:
                changes["hook"] = self.hook(doc, (*keys, "run"), spec["run"])
                changes["wait"] = None
            self.actions[index] = replace(action, **changes)
        self.actions = [a for a in self.actions if not a.disabled]


def _close(key: str, actions: Sequence[Action]) -> str:
    if len(key) >= 100:
        return ""
    close = difflib.get_close_matches(key, [a.name for a in actions], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
