"""Searching over classes of symmetric states (orbit search).

When a ruleset has interchangeable objects (``Ruleset.interchangeable``),
states that differ only by a permutation of such objects have the same
cheapest cost to the goal.  The search then keys its tables by a canonical
form of each state: the variables that describe no such object, and for each
class the sorted descriptions of its objects.  Two states with one key are
symmetric, so A* stays optimal while visiting one state per class.

The search still holds real states, but the path it records between keys may
join states that are only symmetric to each other; ``real_path`` rebuilds a
plan of real actions from the start by picking, at each step, an action whose
result has the next key at the same cost (the symmetric image of the recorded
one always exists).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from operator import itemgetter
from typing import Any

from ..errors import PlanInvalidError
from ..model import Interchangeable

State = tuple[Any, ...]
Successor = Callable[[State], "tuple[State, float] | None"]

Key = Callable[[State], Hashable]


def _getter(indices: Sequence[int]) -> Callable[[State], tuple[Any, ...]]:
    if not indices:
        return lambda state: ()
    if len(indices) == 1:
        one = indices[0]
        return lambda state: (state[one],)
    get = itemgetter(*indices)
    return lambda state: get(state)


def canonical_key(size: int, classes: Sequence[Interchangeable]) -> Key | None:
    """Return the canonical form of states of ``size`` variables, or None."""
    if not classes:
        return None
    described = {i for objects in classes for obj in objects for i in obj}
    rest = _getter([i for i in range(size) if i not in described])
    getters = [[_getter(obj) for obj in objects] for objects in classes]

    def key(state: State) -> Hashable:
        parts: list[Any] = [rest(state)]
        for objects in getters:
            parts.append(tuple(sorted([get(state) for get in objects])))
        return tuple(parts)

    return key


def real_path(
    start: State,
    steps: Sequence[tuple[int, float, Hashable]],
    successors: Sequence[Successor],
    key: Key,
) -> list[int]:
    """Return action indices leading from ``start`` through the keyed steps.

    Each step is (the action index the search recorded, its cost, the key of
    the state it reached).  The recorded action is tried first.
    """
    path = []
    state = start
    for index, cost, wanted in steps:
        order = [index, *(i for i in range(len(successors)) if i != index)]
        for i in order:
            result = successors[i](state)
            if result is not None and result[1] == cost and key(result[0]) == wanted:
                path.append(i)
                state = result[0]
                break
        else:
            # Only a wrong symmetry could get here; the plan is refused.
            raise PlanInvalidError("no symmetric image of a step of the plan")
    return path
