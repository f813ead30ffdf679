"""Say why a goal cannot be reached: which conditions, and what blocks them."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import Explanation
from ..expressions import EvalError, Expr, evaluate
from ..model import Action, Ruleset
from .conditions import conjuncts
from .task import (
    Domains,
    State,
    compile_task,
    condition_facts,
    holds_relaxed,
    reachable,
)

MAX_DEPTH = 4


def explain(
    ruleset: Ruleset,
    start: State,
    *,
    goal: Sequence[Expr] | None = None,
    exclude: frozenset[str] = frozenset(),
) -> Explanation:
    """Return an explanation of why ``goal`` is (un)reachable from ``start``.

    ``exclude``: actions left out (they failed here), as the search left them.
    """
    exprs = list(goal) if goal is not None else [c.expr for c in ruleset.conditions]
    task = compile_task(ruleset, None, goal=exprs, prune=False, exclude=exclude)
    domains = task.domains
    facts, _ = reachable(task.relaxed, task.state_facts(start))
    lines: list[str] = []
    blocked = [e for e in exprs if _blocked_part(ruleset, e, domains, facts)]
    if not blocked:
        # The relaxation lets a sensed number take any value; the real start
        # state may still hold a condition false that nothing can change.
        fixed = _unchangeable(ruleset, task.actions, exprs, start, exclude)
        fixed += out_of_bounds(ruleset, exprs, start)
        if fixed:
            return Explanation(fixed)
        lines.append(
            "Every goal condition can be reached on its own, but not all of them "
            "together: some actions undo what others need, or a bound (min/max) "
            "stops them."
        )
        return Explanation(lines)
    seen: set[str] = set()
    for expr in blocked:
        lines.append(f"goal condition '{expr.source}' cannot be reached:")
        _why(ruleset, task.actions, expr, facts, domains, lines, seen, depth=1)
        _left_out(ruleset, expr, exclude, lines)
    return Explanation(lines)


def _why(
    ruleset: Ruleset,
    actions: Sequence[Action],
    expr: Expr,
    facts: set[int],
    domains: Domains,
    lines: list[str],
    seen: set[str],
    depth: int,
) -> None:
    pad = "  " * depth
    part = _blocked_part(ruleset, expr, domains, facts)
    if part is not None and part is not expr:
        # Of a conjunction, say which part cannot hold and why that part.
        lines.append(f"{pad}its part '{part.source}' cannot hold:")
        _why(ruleset, actions, part, facts, domains, lines, seen, depth + 1)
        return
    writers = [a for a in actions if a.writes & expr.reads]
    if not writers:
        names = ", ".join(sorted(expr.reads)) or "nothing"
        sensed = [n for n in sorted(expr.reads) if ruleset.var(n).sensor is not None]
        if sensed:
            lines.append(
                f"{pad}no action changes {names}; it is sensed, and the sensed "
                "value does not satisfy it"
            )
        else:
            lines.append(f"{pad}no action changes {names}")
        return
    for action in writers:
        blocking = [p for p in action.pre if _blocked_part(ruleset, p, domains, facts)]
        if not blocking:
            lines.append(
                f"{pad}{action.label} could change "
                f"{', '.join(sorted(action.writes & expr.reads))} but its effect "
                "does not satisfy the condition"
            )
            continue
        first = blocking[0]
        lines.append(f"{pad}{action.label} needs '{first.source}', which cannot hold")
        if depth < MAX_DEPTH and first.source not in seen:
            seen.add(first.source)
            _why(ruleset, actions, first, facts, domains, lines, seen, depth + 1)


def _blocked_part(
    ruleset: Ruleset, expr: Expr, domains: Domains, facts: set[int]
) -> Expr | None:
    """Return the first conjunct of ``expr`` the relaxation cannot make true.

    ``expr`` itself when it is not a conjunction; None when every part can.
    """
    if not holds_relaxed(condition_facts(ruleset, expr, domains), facts):
        parts = conjuncts(ruleset, expr, split_facts=True)
        if len(parts) == 1:
            return expr
    else:
        parts = conjuncts(ruleset, expr, split_facts=True)
    for part in parts:
        if not holds_relaxed(condition_facts(ruleset, part, domains), facts):
            return part
    return None


def _left_out(
    ruleset: Ruleset, expr: Expr, exclude: frozenset[str], lines: list[str]
) -> None:
    """Say which actions that change ``expr``'s variables failed in this run."""
    failed = sorted(
        a.label for a in ruleset.actions if a.name in exclude and a.writes & expr.reads
    )
    if failed:
        lines.append(
            f"  ({', '.join(failed)} could change it, but failed in this run and "
            "is left out)"
        )


def _unchangeable(
    ruleset: Ruleset,
    actions: Sequence[Action],
    exprs: Sequence[Expr],
    start: State,
    exclude: frozenset[str],
) -> list[str]:
    """Explain the goal conditions false now that no available action changes.

    Each names the values it reads as they are (sensed, stored or default),
    and the actions that could change them but were left out after failing
    in this run.
    """
    lines: list[str] = []
    for expr in exprs:
        try:
            if evaluate(expr, tuple(start)) is True:
                continue
        except (EvalError, TypeError, IndexError):
            continue
        if any(a.writes & expr.reads for a in actions):
            continue
        values = ", ".join(
            f"{name} = {start[ruleset.var(name).index]!r}"
            + (" (sensed)" if ruleset.var(name).sensor is not None else "")
            for name in sorted(expr.reads)
        )
        lines.append(
            f"goal condition '{expr.source}' is false ({values or 'constant'}):"
        )
        failed = sorted(
            a.label
            for a in ruleset.actions
            if a.name in exclude and a.writes & expr.reads
        )
        if failed:
            lines.append(
                f"  {', '.join(failed)} could change it, but failed in this run "
                "and is left out"
            )
        else:
            lines.append(
                f"  no action changes {', '.join(sorted(expr.reads)) or 'it'}"
                + (
                    "; it is sensed: the world must change, or the goal must "
                    "ask for less"
                    if any(ruleset.var(n).sensor for n in expr.reads)
                    else ""
                )
            )
    return lines


WINDOW = 1024
"""Values of an int variable tried on each side of a one-sided bound."""


def out_of_bounds(ruleset: Ruleset, exprs: Sequence[Expr], start: State) -> list[str]:
    """Explain the goal conditions on one int variable that its min/max forbid.

    The relaxation reaches any value of a computed int (``n + 1``), so only
    trying the values says that ``commits >= 5`` cannot hold under ``max: 3``.
    A condition is named when no value within the bound (all of them, or the
    ``WINDOW`` nearest to a one-sided bound) satisfies it but one beyond does.
    """
    lines: list[str] = []
    for expr in exprs:
        if len(expr.reads) != 1:
            continue
        var = ruleset.var(next(iter(expr.reads)))
        if var.type != "int" or (var.minimum is None and var.maximum is None):
            continue
        low = None if var.minimum is None else int(var.minimum)
        high = None if var.maximum is None else int(var.maximum)
        first = low if low is not None else int(high or 0) - WINDOW
        last = high if high is not None else first + WINDOW
        if last - first > 4 * WINDOW:
            continue
        state = list(start)
        if any(_holds(expr, state, var.index, v) for v in range(first, last + 1)):
            continue
        beyond = [
            *(range(high + 1, high + 1 + WINDOW) if high is not None else ()),
            *(range(low - 1, low - 1 - WINDOW, -1) if low is not None else ()),
        ]
        witness = next((v for v in beyond if _holds(expr, state, var.index, v)), None)
        if witness is None:
            continue
        above = high is not None and witness > high
        bound = f"at most {high}" if above else f"at least {low}"
        lines.append(
            f"goal condition '{expr.source}' cannot hold: {var.name} is {bound} "
            f"(its bound, declared at {var.location}); it would first hold at "
            f"{var.name} = {witness}"
        )
    return lines


def _holds(expr: Expr, state: list[object], index: int, value: int) -> bool:
    state[index] = value
    try:
        return evaluate(expr, tuple(state)) is True
    except (EvalError, TypeError, IndexError):
        return False
