"""Strong stubborn sets: expand only the successors that are not mere reorderings.

Independent actions can be applied in any order; A* would otherwise explore
every order.  A strong stubborn set T of a state (Wehrle and Helmert 2014,
after Valmari) is built by closure:

1. T holds every action that may make one unmet goal condition true;
2. for an action in T that does not apply, T holds every action that may make
   one of its unmet requirements true (a *necessary enabling set*);
3. for an action in T that applies, T holds every action that interferes
   with it (one may disable the other, or their order changes the result).

Expanding only the applicable actions of T keeps an optimal plan: the first
action of any optimal plan that lies in T applies now and commutes with every
action before it, so it can be moved to the front at the same cost.

Our actions are not STRIPS.  Where an action is *simple* (its preconditions
are ``var == value`` facts, its effects constants, its cost a constant: the
PDDL case and most deployment actions) the relations are the classic
fact-level ones.  Elsewhere they fall back to variables: an action may make a
condition true if it writes a variable the condition reads, and two actions
interfere if one writes what the other reads or writes.  Reads include the
effect expressions and the cost, so moving an action never changes what an
action computes or costs.  When in doubt, an action is kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import SearchLimitError
from ..expressions import Expr
from ..model import Action, Ruleset
from .conditions import conjuncts
from .task import State, Successor, Task, compile_test

Fact = tuple[int, Any]
# Fast Downward's configurations often use 0.2; logistics here prunes 3-4%
# of the successors of the states it expands and still expands 2.6 times
# fewer states, since what is pruned near the start is never reached.  So
# pruning stops only where it prunes next to nothing.
MIN_RATIO = 0.01
CHECK_AFTER = 1000


@dataclass(frozen=True)
class _Requirement:
    """One conjunct that must hold: how to test it, and what it depends on."""

    test: Callable[[State], bool]
    facts: tuple[Fact, ...] | None
    reads: tuple[int, ...]


@dataclass(frozen=True)
class _Shape:
    """What the pruning needs to know of one action."""

    simple: bool
    pre: tuple[Fact, ...]
    """Its preconditions as facts (simple actions only)."""
    inputs: frozenset[int]
    writes: frozenset[int]
    sets: dict[int, Any]
    """The constant each effect assigns, by variable (computed ones are absent)."""


class StubbornSets:
    """Return, per state, the applicable actions of a strong stubborn set.

    Call it with a state: it answers the indices (in task order) of the
    actions worth expanding, or None when it has stopped pruning.  After
    ``check_after`` calls it compares what it pruned with every applicable
    successor and stops for good if that is less than ``min_ratio``: the
    computation costs time, and a task without independent actions pays it
    for nothing.
    """

    def __init__(
        self,
        ruleset: Ruleset,
        actions: Sequence[Action],
        successors: Sequence[Successor],
        goal: Sequence[Expr],
        *,
        min_ratio: float = MIN_RATIO,
        check_after: int = CHECK_AFTER,
    ) -> None:
        self.successors = successors
        self.min_ratio = min_ratio
        self.check_after = check_after
        self.calls = 0
        self.applicable = 0
        self.pruned = 0
        self.disabled = False
        self._goal = tuple(
            _requirement(ruleset, part)
            for expr in goal
            for part in conjuncts(ruleset, expr)
        )
        self._ruleset = ruleset
        self._actions = actions
        self._shapes = [_shape(ruleset, action) for action in actions]
        # Compiled when an action first enters a stubborn set: most never do.
        self._requirements: dict[int, tuple[_Requirement, ...]] = {}
        self._writers: dict[int, list[int]] = {}
        self._readers: dict[int, list[int]] = {}
        for index, shape in enumerate(self._shapes):
            for var in shape.writes:
                self._writers.setdefault(var, []).append(index)
            for var in shape.inputs:
                self._readers.setdefault(var, []).append(index)
        self._achievers: dict[Fact, tuple[int, ...]] = {}
        self._interfering: dict[int, tuple[int, ...]] = {}
        self.deadline = math.inf
        """When the search's time is up (``time.perf_counter``): one state's
        set can take seconds with thousands of actions (the interference of
        each action that enters it is computed then), so the clock is read
        while it grows."""
        self.max_seconds = math.inf

    @classmethod
    def for_task(cls, task: Task, goal: Sequence[Expr]) -> StubbornSets:
        """Return the pruning of ``task`` whose goal is ``goal``."""
        return cls(task.ruleset, task.actions, task.successors, goal)

    def __call__(self, state: State) -> list[int] | None:
        if self.disabled:
            return None
        seed = self._unmet_requirement(self._goal, state)
        if seed is None:
            return None  # the goal holds: nothing to expand from here anyway
        stubborn = set(seed)
        queue = list(seed)
        chosen: list[int] = []
        everything = len(self.successors)
        while queue:
            if len(stubborn) == everything:
                # Every action is in the set: nothing will be pruned, and
                # the rest of the closure would only confirm it.
                self._count(state, None)
                return None
            index = queue.pop()
            needed = self._enablers(index, state)
            if needed is None:
                chosen.append(index)
                needed = self._interferers(index)
            for other in needed:
                if other not in stubborn:
                    stubborn.add(other)
                    queue.append(other)
        chosen.sort()
        self._count(state, chosen)
        return chosen

    def _count(self, state: State, chosen: list[int] | None) -> None:
        if self.calls >= self.check_after:
            return
        self.calls += 1
        total = 0
        for number, successor in enumerate(self.successors):
            if successor(state) is not None:
                total += 1
            if number % 1024 == 1023:
                self._check_clock()
        self.applicable += total
        self.pruned += 0 if chosen is None else total - len(chosen)
        if self.calls == self.check_after and self.applicable:
            self.disabled = self.pruned / self.applicable < self.min_ratio

    def _check_clock(self) -> None:
        if time.perf_counter() > self.deadline:
            raise SearchLimitError(
                f"search stopped after {self.max_seconds:g} s (--timeout)"
            )

    def _enablers(self, index: int, state: State) -> tuple[int, ...] | None:
        """Return a necessary enabling set of action ``index``, None if it applies."""
        shape = self._shapes[index]
        if shape.simple:
            unmet = [self._achieving(v, x) for v, x in shape.pre if state[v] != x]
            return min(unmet, key=len) if unmet else None
        requirements = self._requirements.get(index)
        if requirements is None:
            requirements = tuple(
                _requirement(self._ruleset, part)
                for whole in self._actions[index].pre
                for part in conjuncts(self._ruleset, whole)
            )
            self._requirements[index] = requirements
        needed = self._unmet_requirement(requirements, state)
        if needed is not None:
            return needed
        if self.successors[index](state) is not None:
            return None
        # The conditions hold but an effect is out of bounds, fails, or the
        # cost is negative: only a change to something it reads helps.
        return self._writing(shape.inputs)

    def _unmet_requirement(
        self, requirements: Sequence[_Requirement], state: State
    ) -> tuple[int, ...] | None:
        """Return the smallest enabling set among the unmet ``requirements``.

        Any unmet condition would do; the one with the fewest achievers
        keeps the stubborn set small (logistics 6-0: 330 expansions where
        the first unmet condition gives 931, and no pruning 932).
        """
        best: tuple[int, ...] | None = None
        for requirement in requirements:
            if requirement.test(state):
                continue
            unmet = [
                self._achieving(var, value)
                for var, value in requirement.facts or ()
                if state[var] != value
            ]
            # A conjunction of facts that fails with every fact holding
            # cannot happen; falling back to its variables is safe anyway.
            found = min(unmet, key=len) if unmet else self._writing(requirement.reads)
            if best is None or len(found) < len(best):
                best = found
        return best

    def _writing(self, variables: Sequence[int] | frozenset[int]) -> tuple[int, ...]:
        found: set[int] = set()
        for var in variables:
            found.update(self._writers.get(var, ()))
        return tuple(sorted(found))

    def _achieving(self, var: int, value: Any) -> tuple[int, ...]:
        """Return the actions that may set ``var`` to ``value``."""
        key = (var, value)
        cached = self._achievers.get(key)
        if cached is None:
            # Only an action that assigns another constant is sure not to;
            # computed effects may produce anything.
            cached = tuple(
                i
                for i in self._writers.get(var, ())
                if not _assigns_other_constant(self._shapes[i], var, value)
            )
            self._achievers[key] = cached
        return cached

    def _interferers(self, index: int) -> tuple[int, ...]:
        cached = self._interfering.get(index)
        if cached is None:
            self._check_clock()
            shape = self._shapes[index]
            candidates: set[int] = set()
            for var in shape.inputs | shape.writes:
                candidates.update(self._writers.get(var, ()))
            for var in shape.writes:
                candidates.update(self._readers.get(var, ()))
            candidates.discard(index)
            cached = tuple(
                sorted(
                    other
                    for other in candidates
                    if not (shape.simple and self._shapes[other].simple)
                    or _simple_interfere(shape, self._shapes[other])
                )
            )
            self._interfering[index] = cached
        return cached


def _assigns_other_constant(shape: _Shape, var: int, value: Any) -> bool:
    constant = shape.sets.get(var, _NOT_CONSTANT)
    return constant is not _NOT_CONSTANT and constant != value


_NOT_CONSTANT = object()


def _simple_interfere(one: _Shape, other: _Shape) -> bool:
    """Return whether two simple actions may disable each other or conflict."""
    for var, value in one.sets.items():
        if var in other.sets and other.sets[var] != value:
            return True
    return _disables(one, other) or _disables(other, one)


def _disables(one: _Shape, other: _Shape) -> bool:
    return any(var in one.sets and one.sets[var] != value for var, value in other.pre)


def _requirement(ruleset: Ruleset, expr: Expr) -> _Requirement:
    facts = None
    if expr.facts is not None:
        facts = tuple((ruleset.var(name).index, value) for name, value in expr.facts)
    reads = tuple(sorted(ruleset.var(name).index for name in expr.reads))
    return _Requirement(compile_test([expr]), facts, reads)


def _shape(ruleset: Ruleset, action: Action) -> _Shape:
    inputs = frozenset(ruleset.var(name).index for name in action.inputs)
    writes = frozenset(ruleset.var(name).index for name in action.writes)
    sets: dict[int, Any] = {}
    # The last assignment to a variable wins, as in the compiled action.
    for effect in action.effects:
        index = ruleset.var(effect.var).index
        if effect.expr.is_const:
            value = effect.expr.const
            if ruleset.var(effect.var).type == "float" and type(value) is int:
                value = float(value)
            sets[index] = value
        else:
            sets.pop(index, None)
    simple = (
        all(p.facts is not None for p in action.pre)
        and all(e.expr.is_const for e in action.effects)
        and (action.cost is None or action.cost.is_const)
    )
    pre: tuple[Fact, ...] = ()
    if simple:
        pre = tuple(
            (ruleset.var(name).index, value)
            for p in action.pre
            for name, value in p.facts or ()
        )
    return _Shape(simple, pre, inputs, writes, sets)
