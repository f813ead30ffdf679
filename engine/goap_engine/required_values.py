"""Required built-in arguments that a goal's vars leave empty.

A shipped pack cannot know a project's Hub repository or ADR number: its var
defaults to ``""`` and the goal sets it.  Left empty, the step would fail
after the steps before it ran (a branch pushed, CI waited for), so the
arguments of the actions a goal can need are rendered from the vars first and
an empty required one stops ``validate``, ``plan`` and ``run`` before anything
runs.  Only templates that read vars alone are rendered here: a value read
from the state is known when the step runs, not before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .errors import Diagnostic
from .language.builtins import BUILTINS
from .model import Action, Ruleset
from .templates import render, template_names


def empty_required(
    ruleset: Ruleset, actions: Iterable[Action] | None = None
) -> list[Diagnostic]:
    """Return an error for each required argument that renders empty.

    ``actions`` defaults to those the goal can need (backward relevance): a
    goal that never publishes need not name a Hub repository.
    """
    if actions is None:
        from .planner.relevance import relevant_actions

        goal = [c.expr for c in ruleset.conditions]
        actions = relevant_actions(ruleset, goal)
    found = []
    for action in actions:
        for name, text, names in _empty(ruleset, action):
            read = ", ".join(sorted(names))
            how = " ".join(f"--var {n}=VALUE" for n in sorted(names))
            found.append(
                Diagnostic(
                    action.hook.location if action.hook else action.location,
                    f"argument '{name}' of {action.hook.target if action.hook else ''} "
                    f"is empty: '{text}' reads var {read}, which is empty; "
                    f"set it in {ruleset.path.name}'s vars: (or {how})",
                    f"action '{action.name}'",
                )
            )
    return found


def _empty(ruleset: Ruleset, action: Action) -> Iterator[tuple[str, str, set[str]]]:
    hook = action.hook
    if hook is None or hook.kind != "builtin" or not isinstance(hook.target, str):
        return
    builtin = BUILTINS.get(hook.target)
    if builtin is None:
        return
    for argument in builtin.arguments:
        text = hook.args.get(argument.name)
        if not argument.required or not isinstance(text, str) or "{" not in text:
            continue
        try:
            names = template_names(text)
        except ValueError:
            continue  # reported where the template is read
        if not names or not names <= ruleset.vars.keys():
            continue
        context: dict[str, Any] = {n: ruleset.vars[n] for n in names}
        try:
            value = render(text, context)
        except ValueError:
            continue
        if not value.strip():
            yield argument.name, text, names
