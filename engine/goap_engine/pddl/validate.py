"""Check a plan against a ground task by replaying it from the initial state."""

from __future__ import annotations

import re
from collections.abc import Sequence

from goap_engine.pddl.grounder import GroundAction, GroundTask

__all__ = ["PlanError", "normalize_step", "validate_plan"]


class PlanError(ValueError):
    """A plan is not valid; ``step`` counts plan actions from 1 (0: the goal)."""

    def __init__(self, step: int, action: str, message: str) -> None:
        self.step = step
        self.action = action
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.step == 0:
            return f"after the last step: {self.message}"
        return f"step {self.step} {self.action}: {self.message}"


_SPACE = re.compile(r"\s+")


def normalize_step(line: str) -> str:
    """Return a plan line as ``(name arg ...)``, lower-cased, or "" if blank."""
    text = line.split(";", 1)[0].strip()
    if not text:
        return ""
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    return "(" + _SPACE.sub(" ", text.strip()).lower() + ")"


def validate_plan(task: GroundTask, plan: Sequence[str]) -> int:
    """Replay ``plan`` (IPC lines like ``(move rooma roomb)``) and return its cost.

    Blank lines and ``;`` comments (such as the ``; cost = ...`` trailer) are
    skipped.  Raise :class:`PlanError` at the first step that names no ground
    action of ``task`` or whose preconditions fail, or when the final state
    misses the goal.
    """
    by_text: dict[str, GroundAction] = {a.pddl: a for a in task.actions}
    names = {a.name for a in task.actions}
    facts = task.facts
    state = set(task.init)
    cost = 0
    step = 0
    for line in plan:
        text = normalize_step(line)
        if not text:
            continue
        step += 1
        action = by_text.get(text)
        if action is None:
            name = text[1:-1].split(" ", 1)[0]
            why = (
                "no reachable ground action with these arguments"
                if name in names
                else f"unknown action '{name}'"
            )
            raise PlanError(step, text, why)
        missing = [facts[f] for f in action.pre_pos if f not in state]
        if missing:
            raise PlanError(
                step, text, "precondition does not hold: " + ", ".join(missing)
            )
        present = [facts[f] for f in action.pre_neg if f in state]
        if present:
            raise PlanError(
                step, text, "negative precondition is true: " + ", ".join(present)
            )
        state.difference_update(action.delete)
        state.update(action.add)
        cost += action.cost
    unmet = [facts[f] for f in task.goal_pos if f not in state]
    unmet += [f"(not {facts[f]})" for f in task.goal_neg if f in state]
    if unmet:
        raise PlanError(0, "", "goal not reached: " + ", ".join(unmet))
    return cost
