"""Narrow a ruleset to part of its goal (``--target``) and its actions (``--tag``).

``--target`` plans to a sub-goal only, as ``terraform apply -target`` does;
``--tag`` and ``--skip-tag`` let the planner use only some actions, as
``ansible-playbook --tags`` runs only tagged tasks.  Both give a new ruleset
(the model is immutable) whose goal is one sub-goal called ``target``, so
planning, running, the journal and the state file need nothing new: the state
file still holds every variable, and only what the narrowed goal can need is
sensed.

A target is, in this order: a named part of the goal (``goal: {ready: ...}``);
an action (name or id), meaning "its effects have happened", so its
preconditions' chain and the action itself are planned unless the effects
already hold; or a condition (``branch_created``, ``commits_made >= 2``).

With tags and no target, the goal becomes what the allowed actions do for the
goal: the effects of every allowed action that can serve it.  That is the
tagged part of the work, reached only with tagged actions; the rest of the
goal is left for another run, and the verdict says "target", not "goal".
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import Diagnostic, InputError, Location, NoPlanError
from ..expressions import Expr, ExprError, Symbol, compile_expr, literal
from ..model import Action, Condition, Ruleset, SubGoal
from .relevance import relevant_actions

TARGET = "target"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


@dataclass(frozen=True)
class Focus:
    """The ``--target``, ``--tag`` and ``--skip-tag`` values of a command."""

    targets: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    skip_tags: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.targets or self.tags or self.skip_tags)

    @property
    def filters(self) -> bool:
        """Return whether some actions are left out of planning."""
        return bool(self.tags or self.skip_tags)

    def allows(self, action: Action) -> bool:
        """Return whether the tag filter lets the planner use ``action``."""
        if self.tags and not set(self.tags) & set(action.tags):
            return False
        return not set(self.skip_tags) & set(action.tags)

    def arguments(self) -> str:
        """Return the options that give this focus again (a suggested command)."""
        words = [f"--target {shlex.quote(t)}" for t in self.targets]
        words += [f"--tag {shlex.quote(t)}" for t in self.tags]
        words += [f"--skip-tag {shlex.quote(t)}" for t in self.skip_tags]
        return "".join(f" {word}" for word in words)

    def record(self) -> dict[str, list[str]]:
        """Return the focus as journal fields (empty when the whole goal is run)."""
        fields = {
            "target": self.targets,
            "tags": self.tags,
            "skip_tags": self.skip_tags,
        }
        return {key: list(value) for key, value in fields.items() if value}


@dataclass(frozen=True)
class Narrowed:
    """A ruleset narrowed by a focus, with what to tell the person about it."""

    ruleset: Ruleset
    full: Ruleset
    focus: Focus
    lines: tuple[str, ...] = ()


def narrow(ruleset: Ruleset, focus: Focus) -> Narrowed:
    """Return ``ruleset`` with its goal and actions narrowed; raise InputError."""
    if not focus:
        return Narrowed(ruleset, ruleset, focus)
    _check_tags(ruleset, focus)
    allowed = tuple(a for a in ruleset.actions if focus.allows(a))
    lines: list[str] = []
    conditions: list[Condition] = []
    if focus.targets:
        symbols = _symbols(ruleset)
        for text in focus.targets:
            found, what = _target(ruleset, symbols, text)
            conditions += found
            lines.append(f"target: {what}")
    if focus.filters:
        left = [a.name for a in ruleset.actions if not focus.allows(a)]
        lines.append(
            f"tags: only actions {_filter_text(focus)} may be planned "
            f"({len(allowed)} of {len(ruleset.actions)}); left out: "
            f"{_listing(left)}"
        )
    if not focus.targets:
        conditions = _tagged_part(ruleset, focus, allowed)
        shown = ", ".join(c.expr.source for c in conditions)
        lines.append(
            f"target: what actions {_filter_text(focus)} do for the goal: {shown}"
        )
    # Another goal and other actions: objects interchangeable for the whole
    # goal need not be for this part of it.
    narrowed = replace(
        ruleset,
        actions=allowed,
        subgoals=(SubGoal(TARGET, tuple(conditions)),),
        interchangeable=(),
    )
    return Narrowed(narrowed, ruleset, focus, tuple(lines))


def left_out_needed(
    narrowed: Narrowed, start: Mapping[str, Any] | tuple[Any, ...]
) -> list[str]:
    """Return lines naming the left-out actions a plan to the target needs.

    Planned with every action from ``start``: the steps the tag filter
    removed are what kept the narrowed goal out of reach.  Empty when even
    every action cannot reach it (the explanation then says why).
    """
    from .plan import find_plan

    if not narrowed.focus.filters:
        return []
    every = replace(narrowed.ruleset, actions=narrowed.full.actions)
    try:
        plan = find_plan(every, start)
    except NoPlanError:
        return []
    # By name: an action holds mappings (env, hook arguments), so no hash.
    needed = {
        s.action.name: s.action
        for s in plan.steps
        if not narrowed.focus.allows(s.action)
    }
    if not needed:
        return []
    named = ", ".join(
        f"{a.name} ({'tags: ' + ', '.join(a.tags) if a.tags else 'no tags'})"
        for a in needed.values()
    )
    return [
        f"the tag filter ({_filter_text(narrowed.focus)}) left out actions "
        f"the target needs: {named}; run them first or widen the filter"
    ]


def _check_tags(ruleset: Ruleset, focus: Focus) -> None:
    """Refuse a tag no action carries: a typo would silently plan nothing."""
    known = sorted({t for a in ruleset.actions for t in a.tags})
    problems = []
    for option, tags in (("--tag", focus.tags), ("--skip-tag", focus.skip_tags)):
        for tag in tags:
            if tag in known:
                continue
            close = difflib.get_close_matches(tag, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(
                Diagnostic(
                    Location(option),
                    f"no action has the tag '{tag}'{hint}; the tags: "
                    f"{', '.join(known) or 'none'}",
                )
            )
    if problems:
        raise InputError(problems)


def _filter_text(focus: Focus) -> str:
    parts = []
    if focus.tags:
        parts.append("tagged " + " or ".join(focus.tags))
    if focus.skip_tags:
        parts.append("not tagged " + " or ".join(focus.skip_tags))
    return " and ".join(parts) or "of any tag"


def _listing(names: Sequence[str], limit: int = 8) -> str:
    if not names:
        return "none"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _symbols(ruleset: Ruleset) -> dict[str, Symbol]:
    """Return the names a target may read: vars, state variables, short names."""
    symbols = {
        name: Symbol(literal(value).type, value=value)
        for name, value in ruleset.vars.items()
        if isinstance(value, bool | int | float | str)
    }
    shorts: dict[str, list[str]] = {}
    for var in ruleset.variables:
        symbols[var.name] = var.symbol()
        shorts.setdefault(var.name.rpartition(".")[2], []).append(var.name)
    # A pack's variable may be named without its pack where that is unique,
    # as in the goal file.
    for short, owners in shorts.items():
        if len(owners) == 1 and short not in symbols:
            symbols[short] = ruleset.var(owners[0]).symbol()
    return symbols


def _target(
    ruleset: Ruleset, symbols: Mapping[str, Symbol], text: str
) -> tuple[list[Condition], str]:
    """Return the conditions ``--target TEXT`` means, and how it was read."""
    where = Location("--target")
    text = text.strip()
    if not text:
        # An action without an id has the id '': "" must not pick it.
        message = "an empty target: name a goal part, an action or a condition"
        raise InputError(Diagnostic(where, message))
    parts = {g.name: g for g in ruleset.subgoals if g.name != "goal"}
    if text in parts:
        conditions = list(parts[text].conditions)
        shown = ", ".join(c.expr.source for c in conditions)
        return conditions, f"goal part '{text}' ({shown})"
    action = next((a for a in ruleset.actions if text in (a.name, a.id)), None)
    if action is not None:
        conditions = _effects_reached(ruleset, symbols, action, where)
        shown = ", ".join(c.expr.source for c in conditions)
        return conditions, f"action '{action.name}' has run ({shown})"
    if _IDENTIFIER.fullmatch(text) and text not in symbols:
        names = [*parts, *(a.name for a in ruleset.actions), *ruleset.names]
        close = difflib.get_close_matches(text, names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(
            Diagnostic(
                where,
                f"unknown target '{text}': not a goal part, action or state "
                f"variable{hint}",
            )
        )
    try:
        expr = compile_expr(text, symbols)
    except ExprError as exc:
        message = exc.message
        unknown = re.fullmatch(r"unknown name '(\w+)'", message)
        if unknown:
            close = difflib.get_close_matches(unknown.group(1), list(symbols), n=1)
            message += f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(Diagnostic(where, f"'{text}': {message}")) from None
    if expr.type != "bool":
        raise InputError(
            Diagnostic(
                where,
                f"'{text}': a target condition must be a boolean, found {expr.type} "
                f"(such as '{text} >= 1')",
            )
        )
    return [Condition(expr, where)], f"condition '{expr.source}'"


def _effects_reached(
    ruleset: Ruleset, symbols: Mapping[str, Symbol], action: Action, where: Location
) -> list[Condition]:
    """Return "``action``'s effects hold" as conditions; refuse what has none.

    An effect computed from the state (``n := n + 1``) names no value to
    reach, so such an action cannot be a target: a condition can.
    """
    entity = f"action '{action.name}'"
    if not action.effects:
        raise InputError(
            Diagnostic(where, "has no effects, so nothing marks it done", entity)
        )
    relative = [e for e in action.effects if not e.expr.is_const]
    if relative:
        effect = relative[0]
        raise InputError(
            Diagnostic(
                where,
                f"its effect '{effect.var} := {effect.expr.source}' depends on the "
                f"state, so it names no value to reach; target a condition "
                f"instead, such as --target '{effect.var} >= 1'",
                entity,
            )
        )
    return [
        Condition(_equals(symbols, effect.var, effect.expr.const), where)
        for effect in action.effects
    ]


def _equals(symbols: Mapping[str, Symbol], name: str, value: Any) -> Expr:
    """Return the condition ``name == value``, spelt as a person writes it."""
    if value is True:
        source = name
    elif value is False:
        source = f"not {name}"
    else:
        source = f"{name} == {value!r}"
    return compile_expr(source, symbols)


def _tagged_part(
    ruleset: Ruleset, focus: Focus, allowed: Sequence[Action]
) -> list[Condition]:
    """Return the goal of ``--tag`` without a target: the allowed actions' part.

    That is the effects of every allowed action that can serve the goal.
    Where no single value is "done" -- an effect computed from the state
    (``n + 1``), or two actions setting different values -- the goal's own
    conditions on that variable are its part instead.
    """
    goal = [c.expr for c in ruleset.conditions]
    serving = {a.name for a in relevant_actions(ruleset, goal)}
    values: dict[str, list[Any]] = {}
    computed: set[str] = set()
    for action in allowed:
        if action.name not in serving:
            continue
        for effect in action.effects:
            if effect.expr.is_const:
                values.setdefault(effect.var, []).append(effect.expr.const)
            else:
                computed.add(effect.var)
    computed |= {n for n, found in values.items() if any(v != found[0] for v in found)}
    symbols = _symbols(ruleset)
    where = Location("--tag")
    conditions = [
        Condition(_equals(symbols, name, found[0]), where)
        for name, found in values.items()
        if name not in computed
    ]
    conditions += [c for c in ruleset.conditions if c.expr.reads & computed]
    if not conditions:
        raise NoPlanError(
            f"no action {_filter_text(focus)} can serve the goal",
            explanation=_serving_tags(ruleset, serving),
        )
    return conditions


def _serving_tags(ruleset: Ruleset, serving: set[str]) -> Any:
    from ..errors import Explanation

    tags = sorted({t for a in ruleset.actions if a.name in serving for t in a.tags})
    return Explanation(
        [
            "the actions that can serve the goal carry the tags: "
            + (", ".join(tags) or "none")
        ]
    )
