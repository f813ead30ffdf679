"""Which actions and variables matter to a goal.

Backward relevance decides what the planner searches with and what the
engine senses; the variables nobody reads tell the search which effects it
need not keep.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..expressions import Expr
from ..model import Action, Ruleset


def relevant_actions(ruleset: Ruleset, goal: Sequence[Expr]) -> list[Action]:
    """Return the actions that can contribute to ``goal`` (backward relevance)."""
    relevant: set[str] = set()
    for expr in goal:
        relevant |= expr.reads
    chosen: dict[str, Action] = {}
    # A precondition false whatever the state (a var switching an action
    # off, as 'training_runs_on != "local"') rules its action out here, so
    # that it weighs in no heuristic either.
    switched_off = {
        a.name
        for a in ruleset.actions
        if any(p.is_const and not p.const for p in a.pre)
    }
    changed = True
    while changed:
        changed = False
        for action in ruleset.actions:
            if action.name in chosen or not (action.writes & relevant):
                continue
            if action.name in switched_off:
                continue
            chosen[action.name] = action
            needs = set(action.reads)
            for effect in action.effects:
                needs |= effect.expr.reads
            if action.cost is not None:
                needs |= action.cost.reads
            if not needs <= relevant:
                relevant |= needs
            changed = True
    return [a for a in ruleset.actions if a.name in chosen]


def relevant_variables(ruleset: Ruleset) -> frozenset[str]:
    """Return the variables the goal or an action that may serve it reads.

    These are the variables whose start values can change a plan or what it
    runs: the goal conditions' names and, transitively, what the
    preconditions, effects, costs, wait conditions and hook templates of
    relevant actions read.  Sensors of other variables need not run.
    """
    from ..templates import action_template_reads

    goal = [c.expr for c in ruleset.conditions]
    names: set[str] = set()
    for expr in goal:
        names |= expr.reads
    for action in relevant_actions(ruleset, goal):
        names |= action.inputs
        names |= action_template_reads(action) & set(ruleset.names)
    return frozenset(names)


def unread_variables(actions: Sequence[Action], goal: Sequence[Expr]) -> frozenset[str]:
    """Return the variables ``actions`` write that neither they nor ``goal`` read.

    Such effects (visitall's ``visited`` of cells outside the goal) only
    split states the search could treat as one; the plan's replay still
    applies them.
    """
    read: set[str] = set()
    for expr in goal:
        read |= expr.reads
    written: set[str] = set()
    for action in actions:
        read |= action.reads
        for effect in action.effects:
            read |= effect.expr.reads
            written.add(effect.var)
        if action.cost is not None:
            read |= action.cost.reads
    return frozenset(written - read)
