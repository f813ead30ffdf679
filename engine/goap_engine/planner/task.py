"""Compile a ruleset into a search task: fused action functions and a relaxation.

Each action becomes one generated Python function of the state tuple that tests
its preconditions, computes its effects on the old state, checks the declared
bounds and returns ``(new_state, cost)`` or ``None``.  The code is built from
expressions the loader already checked, and runs with empty builtins.

Alongside, the task grounds a delete relaxation (facts ``var == value`` over
finite domains) for the heuristics, relevance analysis and explanations.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from operator import itemgetter
from typing import Any

from ..expressions import RUNTIME, EvalError, Expr, literal
from ..model import MAX_COST, Action, Ruleset, StateVar
from .conditions import conjuncts
from .orbits import canonical_key
from .relaxed import RelaxedOp, RelaxedTask
from .relevance import relevant_actions, unread_variables

State = tuple[Any, ...]
Successor = Callable[[State], "tuple[State, float] | None"]
MAX_GROUNDING = 4096

_FAILURES = (EvalError, ArithmeticError, ValueError, TypeError)


def _bounds_check(var: StateVar, name: str) -> list[str]:
    checks = []
    if var.minimum is not None:
        checks.append(f"{name} < {var.minimum!r}")
    if var.maximum is not None:
        checks.append(f"{name} > {var.maximum!r}")
    if var.type == "enum":
        checks.append(f"{name} not in {var.choices!r}")
    return checks


def action_source(
    action: Action, ruleset: Ruleset, fn: str, unread: frozenset[str] = frozenset()
) -> str:
    """Return the Python source of the fused successor function of ``action``.

    Effects on ``unread`` variables are computed and bounds-checked (they can
    still make the action fail) but not stored: no condition, cost or effect
    the search evaluates reads them, so states that differ only there are one
    state to the search.
    """
    lines = [f"def {fn}(s):", "    try:"]
    pre = " and ".join(f"({p.code})" for p in action.pre)
    if pre:
        lines.append(f"        if not ({pre}): return None")
    assigns = []
    for i, effect in enumerate(action.effects):
        var = ruleset.var(effect.var)
        value = effect.expr.code
        if var.type == "float" and effect.expr.type == "int":
            value = f"_float({value})"
        lines.append(f"        v{i} = {value}")
        checks = _bounds_check(var, f"v{i}")
        if checks and not effect.expr.is_const:
            lines.append(f"        if {' or '.join(checks)}: return None")
        if effect.var not in unread:
            assigns.append(f"l[{var.index}] = v{i}")
    cost = action.cost.code if action.cost is not None else "1"
    lines.append(f"        c = {cost}")
    if action.cost is not None and not action.cost.is_const:
        # Out of range (negative, or so large that plan costs would
        # overflow), the action does not apply; nan fails both tests.
        lines.append(f"        if not 0 <= c <= {MAX_COST!r}: return None")
    if assigns:
        lines.append("        l = _list(s)")
        lines.extend(f"        {a}" for a in assigns)
        lines.append("        return _tuple(l), c")
    else:
        lines.append("        return s, c")
    lines.append("    except _FAILURES:")
    lines.append("        return None")
    return "\n".join(lines)


def compile_actions(
    actions: Sequence[Action], ruleset: Ruleset, unread: frozenset[str] = frozenset()
) -> list[Successor]:
    """Return one fused successor function per action, compiled in one go."""
    sources = [
        action_source(a, ruleset, f"_a{i}", unread) for i, a in enumerate(actions)
    ]
    namespace: dict[str, Any] = dict(RUNTIME)
    namespace.update(_FAILURES=_FAILURES, _list=list, _tuple=tuple)
    exec(compile("\n".join(sources) or "pass", "<actions>", "exec"), namespace)  # noqa: S102
    return [namespace[f"_a{i}"] for i in range(len(actions))]


def compile_test(exprs: Iterable[Expr]) -> Callable[[State], bool]:
    """Return a function testing that every expression holds."""
    body = " and ".join(f"({e.code})" for e in exprs) or "True"
    namespace: dict[str, Any] = dict(RUNTIME)
    source = f"def _t(s):\n    try:\n        return _bool({body})\n"
    source += "    except _FAILURES:\n        return False"
    namespace.update(_FAILURES=_FAILURES, _bool=bool)
    exec(compile(source, "<goal>", "exec"), namespace)  # noqa: S102
    fn: Callable[[State], bool] = namespace["_t"]
    return fn


@dataclass
class Domains:
    """Finite value sets of the variables the relaxation can describe as facts."""

    values: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    fact: dict[int, dict[Any, int]] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    holds: list[tuple[int, Any]] = field(default_factory=list)
    """For each fact id, the (variable index, value) it stands for."""

    def add(self, var: StateVar, values: Iterable[Any]) -> None:
        unique = tuple(dict.fromkeys(values))
        self.values[var.index] = unique
        self.fact[var.index] = {}
        for value in unique:
            self.fact[var.index][value] = len(self.names)
            self.names.append(f"{var.name} == {value!r}")
            self.holds.append((var.index, value))

    def of(self, index: int, value: Any) -> int | None:
        mapping = self.fact.get(index)
        return None if mapping is None else mapping.get(value)


def _domains(
    ruleset: Ruleset,
    actions: Sequence[Action],
    goal: Sequence[Expr],
    start: State | None = None,
) -> Domains:
    """Return fact domains for the variables ``actions`` and ``goal`` touch.

    Variables nothing relevant touches get no facts: with thousands of
    irrelevant packs, the heuristics then work on the few that matter.
    """
    domains = Domains()
    touched: set[str] = set()
    for expr in goal:
        touched |= expr.reads
    for action in actions:
        touched |= action.reads | action.writes
        for effect in (*action.effects, *action.on_failure):
            touched |= effect.expr.reads | {effect.var}
        if action.cost is not None:
            touched |= action.cost.reads
    literal_values: dict[str, list[Any]] = {}
    computed: set[str] = set()
    for action in actions:
        for effect in (*action.effects, *action.on_failure):
            if effect.expr.is_const:
                literal_values.setdefault(effect.var, []).append(effect.expr.const)
            elif effect.expr.values is not None:
                # Text computed from literals and enums ('box' if a else
                # 'bag', another enum's value) still has a known value set.
                literal_values.setdefault(effect.var, []).extend(effect.expr.values)
            else:
                computed.add(effect.var)
        for expr in action.pre:
            _note_comparisons(expr, literal_values)
    for expr in goal:
        _note_comparisons(expr, literal_values)
    for var in ruleset.variables:
        if var.name not in touched:
            continue
        finite = var.finite_domain()
        if finite is not None:
            domains.add(var, finite)
        elif var.type == "str" and var.name not in computed:
            if start is None and var.sensor is not None:
                # Without a start (validate, explain's checks) a sensed text
                # may be anything: no facts, so conditions on it are not
                # judged unreachable.
                continue
            # A str variable only ever set to literals has those, its default
            # and its start value (sensed, stored or --set: any text) as
            # domain: in every state of the search it holds one of them.
            values = [var.default, *literal_values.get(var.name, [])]
            if start is not None:
                values.append(start[var.index])
            domains.add(var, values)
    return domains


def _note_comparisons(expr: Expr, values: dict[str, list[Any]]) -> None:
    for name, value in expr.facts or ():
        values.setdefault(name, []).append(value)


@dataclass
class Task:
    """A ruleset compiled for search."""

    ruleset: Ruleset
    actions: tuple[Action, ...]
    successors: list[Successor]
    goal_test: Callable[[State], bool]
    goal_checks: list[Callable[[State], bool]]
    relaxed: RelaxedTask
    domains: Domains
    pruned: int = 0
    # The class of a state among symmetric ones, when the ruleset has
    # interchangeable objects (orbits.py); None: every state is its own.
    canonical: Callable[[State], Hashable] | None = None

    def state_facts(self, state: State) -> list[int]:
        """Return the relaxation's facts that hold in ``state``."""
        # Called once per heuristic evaluation: the lookups run in C.
        values, lookups = self._fact_lookup
        return [f for f in map(dict.get, lookups, values(state)) if f is not None]

    @cached_property
    def _fact_lookup(
        self,
    ) -> tuple[Callable[[State], tuple[Any, ...]], list[dict[Any, int]]]:
        indices = list(self.domains.fact)
        lookups = [self.domains.fact[i] for i in indices]
        if len(indices) == 1:
            (one,) = indices
            return (lambda state: (state[one],)), lookups
        if not indices:
            return (lambda state: ()), lookups
        getter = itemgetter(*indices)
        return getter, lookups

    def unmet(self, state: State) -> int:
        """Return how many goal conditions ``state`` does not satisfy."""
        return sum(1 for check in self.goal_checks if not check(state))

    @property
    def average_cost(self) -> float:
        costs = [
            a.cost.const for a in self.actions if a.cost is not None and a.cost.is_const
        ]
        return sum(costs) / len(costs) if costs else 1.0


def ground_relaxation(
    ruleset: Ruleset,
    actions: Sequence[Action],
    goal: Sequence[Expr],
    domains: Domains,
    *,
    failures: bool = False,
) -> RelaxedTask:
    """Return the delete relaxation of ``actions`` over the finite ``domains``.

    With ``failures``, an action may also end with its ``on_failure`` effects,
    which is how validation sees states that only a failure leads to.
    """
    ops: list[RelaxedOp] = []
    names = list(domains.names)
    for index, action in enumerate(actions):
        ops.extend(_ground_action(ruleset, index, action, domains))
        if failures and action.on_failure:
            failed = replace(action, effects=action.on_failure, cost=literal(0))
            ops.extend(_ground_action(ruleset, index, failed, domains))
    goal_facts: list[int] = []
    for expr in (part for whole in goal for part in conjuncts(ruleset, whole)):
        facts = _simple_facts(ruleset, expr, domains)
        if facts is not None:
            goal_facts.extend(facts)
            continue
        aux = len(names)
        names.append(f"goal: {expr.source}")
        achievers = _ground_condition(ruleset, expr, domains)
        if achievers is None:
            continue
        for pre in achievers:
            ops.append(RelaxedOp(-1, pre, (aux,), 0.0))
        goal_facts.append(aux)
    return RelaxedTask(
        len(names), tuple(ops), tuple(dict.fromkeys(goal_facts)), tuple(names)
    )


def _simple_facts(ruleset: Ruleset, expr: Expr, domains: Domains) -> list[int] | None:
    if expr.facts is None:
        return None
    facts = []
    for name, value in expr.facts:
        index = ruleset.var(name).index
        if index not in domains.values:
            continue  # not describable: dropping it keeps the relaxation sound
        fact = domains.of(index, value)
        if fact is None:
            return None
        facts.append(fact)
    return facts


def _assignments(
    ruleset: Ruleset, reads: Iterable[str], domains: Domains
) -> tuple[list[int], list[tuple[Any, ...]]] | None:
    indices = sorted({ruleset.var(n).index for n in reads} & set(domains.values))
    size = 1
    for i in indices:
        size *= max(len(domains.values[i]), 1)
    if size > MAX_GROUNDING:
        return None
    return indices, list(itertools.product(*(domains.values[i] for i in indices)))


def _probe_state(
    ruleset: Ruleset, indices: Sequence[int], values: Sequence[Any]
) -> list[Any]:
    state = list(ruleset.default_state())
    for i, v in zip(indices, values, strict=True):
        state[i] = v
    return state


def _ground_condition(
    ruleset: Ruleset, expr: Expr, domains: Domains
) -> list[tuple[int, ...]] | None:
    finite = {n for n in expr.reads if ruleset.var(n).index in domains.values}
    if finite != set(expr.reads):
        return [()]
    grounded = _assignments(ruleset, expr.reads, domains)
    if grounded is None:
        return [()]
    indices, combos = grounded
    test = compile_test([expr])
    result = []
    for combo in combos:
        if test(tuple(_probe_state(ruleset, indices, combo))):
            facts = [domains.of(i, v) for i, v in zip(indices, combo, strict=True)]
            result.append(tuple(f for f in facts if f is not None))
    return result


def _ground_action(
    ruleset: Ruleset, index: int, action: Action, domains: Domains
) -> list[RelaxedOp]:
    simple: list[int] = []
    complex_pre: list[Expr] = []
    # Conjuncts over variables without a finite domain are dropped: the
    # relaxation may only get weaker, never stronger.  The others are what
    # the probe below tests, so a dropped one cannot veto a combination.
    probed: list[Expr] = []
    for expr in (part for whole in action.pre for part in conjuncts(ruleset, whole)):
        finite = all(ruleset.var(n).index in domains.values for n in expr.reads)
        facts = _simple_facts(ruleset, expr, domains)
        if facts is not None:
            simple.extend(facts)
        elif not finite:
            continue
        else:
            complex_pre.append(expr)
        if finite:
            probed.append(expr)
    const_effects: list[int] = []
    computed = []
    for effect in action.effects:
        var = ruleset.var(effect.var)
        if var.index not in domains.values:
            continue
        if effect.expr.is_const:
            fact = domains.of(var.index, effect.expr.const)
            if fact is not None:
                const_effects.append(fact)
        else:
            computed.append(effect)
    cost_expr = action.cost
    reads: set[str] = set()
    for expr in complex_pre:
        reads |= expr.reads
    for effect in computed:
        reads |= effect.expr.reads
    if cost_expr is not None and not cost_expr.is_const:
        reads |= cost_expr.reads
    if not reads:
        cost = (
            float(cost_expr.const)
            if cost_expr is not None and cost_expr.is_const
            else 0.0
        )
        return [
            RelaxedOp(index, tuple(dict.fromkeys(simple)), tuple(const_effects), cost)
        ]
    grounded = _assignments(ruleset, reads, domains)
    if grounded is None:
        # Too many combinations: keep the simple part, let computed effects
        # reach every value of their variables, and use the cheapest cost.
        adds = list(const_effects)
        for effect in computed:
            adds.extend(domains.fact[ruleset.var(effect.var).index].values())
        return [
            RelaxedOp(
                index, tuple(dict.fromkeys(simple)), tuple(dict.fromkeys(adds)), 0.0
            )
        ]
    indices, combos = grounded
    fn = compile_actions([replace(action, pre=tuple(probed))], ruleset)[0]
    simple_set = set(simple)
    by_var = {i: set(domains.fact[i].values()) for i in indices}
    ops = []
    for combo in combos:
        assignment = [domains.of(i, v) for i, v in zip(indices, combo, strict=True)]
        # Skip combinations that contradict a simple precondition on the same variable.
        if any(
            f is not None and simple_set & by_var[i] and f not in simple_set
            for i, f in zip(indices, assignment, strict=True)
        ):
            continue
        probe = _probe_state(ruleset, indices, combo)
        for fact in simple:
            _apply_fact(probe, fact, domains)
        result = fn(tuple(probe))
        if result is None:
            continue
        new_state, cost = result
        adds = list(const_effects)
        for effect in computed:
            var_index = ruleset.var(effect.var).index
            fact = domains.of(var_index, new_state[var_index])
            if fact is not None:
                adds.append(fact)
        pre = [*simple, *(f for f in assignment if f is not None)]
        ops.append(
            RelaxedOp(
                index,
                tuple(dict.fromkeys(pre)),
                tuple(dict.fromkeys(adds)),
                float(cost),
            )
        )
    return ops


def _apply_fact(state: list[Any], fact: int, domains: Domains) -> None:
    index, value = domains.holds[fact]
    state[index] = value


def reachable(
    relaxed: RelaxedTask, initial: Iterable[int]
) -> tuple[set[int], set[int]]:
    """Return the facts and operator indices reachable in the relaxation."""
    facts = set(initial)
    applied: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, op in enumerate(relaxed.ops):
            if i in applied or not all(p in facts for p in op.pre):
                continue
            applied.add(i)
            new = set(op.add) - facts
            if new:
                facts |= new
            changed = True
    return facts, applied


def compile_task(
    ruleset: Ruleset,
    start: State | None = None,
    *,
    goal: Sequence[Expr] | None = None,
    prune: bool = True,
    failures: bool = False,
    exclude: frozenset[str] = frozenset(),
) -> Task:
    """Return the search task of ``ruleset`` for ``goal`` (default: its goal)."""
    goal_exprs = (
        list(goal) if goal is not None else [c.expr for c in ruleset.conditions]
    )
    actions = relevant_actions(ruleset, goal_exprs) if prune else list(ruleset.actions)
    actions = [a for a in actions if a.name not in exclude]
    domains = _domains(ruleset, actions, goal_exprs, start)
    relaxed = ground_relaxation(
        ruleset, actions, goal_exprs, domains, failures=failures
    )
    pruned = len(ruleset.actions) - len(actions)
    if prune and start is not None:
        initial = _facts_of(start, domains)
        _, applied = reachable(relaxed, initial)
        live = sorted(
            {relaxed.ops[i].action for i in applied if relaxed.ops[i].action >= 0}
        )
        if len(live) < len(actions):
            pruned += len(actions) - len(live)
            actions = [actions[i] for i in live]
            relaxed = ground_relaxation(ruleset, actions, goal_exprs, domains)
    unread = unread_variables(actions, goal_exprs) if prune else frozenset()
    return Task(
        ruleset=ruleset,
        actions=tuple(actions),
        successors=compile_actions(actions, ruleset, unread),
        goal_test=compile_test(goal_exprs),
        goal_checks=[compile_test([e]) for e in goal_exprs],
        relaxed=relaxed,
        domains=domains,
        pruned=pruned,
        # Interchangeable objects are so for the ruleset's own goal and all
        # its actions: another goal or left-out actions may tell them apart.
        canonical=None
        if goal is not None or exclude
        else canonical_key(len(ruleset.variables), ruleset.interchangeable),
    )


def _facts_of(state: State, domains: Domains) -> list[int]:
    facts: list[int] = []
    for index, mapping in domains.fact.items():
        fact = mapping.get(state[index])
        if fact is not None:
            facts.append(fact)
    return facts


def coerce_state(ruleset: Ruleset, values: Mapping[str, Any]) -> State:
    """Return the default state with ``values`` (already typed) put in."""
    state = list(ruleset.default_state())
    for name, value in values.items():
        state[ruleset.var(name).index] = value
    return tuple(state)


def condition_facts(
    ruleset: Ruleset, expr: Expr, domains: Domains
) -> list[tuple[int, ...]] | None:
    """Return the fact sets any one of which makes ``expr`` true in the relaxation.

    ``None`` means the condition cannot be described by facts (it is then
    treated as reachable).
    """
    simple = _simple_facts(ruleset, expr, domains)
    if simple is not None:
        return [tuple(simple)]
    if not all(ruleset.var(n).index in domains.values for n in expr.reads):
        return None
    return _ground_condition(ruleset, expr, domains)


def open_start(ruleset: Ruleset, domains: Domains) -> list[int]:
    """Return the facts of the default state, with every value of sensed variables.

    Used where nothing has been sensed yet (``validate``): a sensed variable may
    take any value.
    """
    facts: list[int] = []
    default = ruleset.default_state()
    for var in ruleset.variables:
        mapping = domains.fact.get(var.index)
        if mapping is None:
            continue
        if var.sensor is not None:
            facts.extend(mapping.values())
        elif default[var.index] in mapping:
            facts.append(mapping[default[var.index]])
    return facts


def holds_relaxed(options: list[tuple[int, ...]] | None, facts: set[int]) -> bool:
    """Return whether one of the fact sets ``options`` is within ``facts``."""
    if options is None:
        return True
    return any(all(f in facts for f in option) for option in options)
