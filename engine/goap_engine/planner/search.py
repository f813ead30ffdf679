"""Best-first search: A*, weighted A* and greedy best-first, by name.

All three share one loop; they differ only in how a node's priority is made
from its path cost g and estimate h.  Ties are broken by smaller h, then by
insertion order, so plans are deterministic.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import SearchLimitError
from .heuristics import Estimator
from .task import State, Task

Priority = Callable[[float, float], float]


@dataclass(frozen=True)
class SearchInfo:
    """A registered search algorithm."""

    name: str
    description: str
    priority: Callable[[float], Priority]
    optimal_with_admissible: bool


SEARCHES: dict[str, SearchInfo] = {
    "astar": SearchInfo(
        "astar",
        "A*: optimal with an admissible heuristic",
        lambda w: lambda g, h: g + h,
        True,
    ),
    "wastar": SearchInfo(
        "wastar",
        "weighted A* (f = g + w*h): cost within w x optimal if h is admissible",
        lambda w: lambda g, h: g + w * h,
        False,
    ),
    "gbfs": SearchInfo(
        "gbfs",
        "greedy best-first on h: fast, no cost guarantee",
        lambda w: lambda g, h: h,
        False,
    ),
}


@dataclass(frozen=True)
class SearchResult:
    """The action indices of a plan (or None), and what the search did."""

    path: list[int] | None
    cost: float
    expanded: int
    generated: int
    seconds: float


def best_first(
    task: Task,
    start: State,
    heuristic: Estimator,
    *,
    search: str = "astar",
    weight: float = 2.0,
    max_nodes: int = 2_000_000,
    max_seconds: float = 300.0,
    applicable_subset: Callable[[State], Sequence[int] | None] | None = None,
) -> SearchResult:
    """Return a cheapest-first plan from ``start`` to the goal of ``task``.

    ``applicable_subset``, given a state, may name the only actions worth
    trying there (a pruning that keeps a cheapest plan) or answer None.
    Raises ``SearchLimitError`` when a limit is reached before the search ends.
    """
    priority = SEARCHES[search].priority(weight)
    reopen = search == "astar"
    # Among equal estimates A* prefers deeper nodes (smaller h), greedy search
    # cheaper paths (smaller g): it finds cheaper plans at no extra cost.
    greedy = search == "gbfs"
    successors = task.successors
    goal_test = task.goal_test
    began = time.perf_counter()
    deadline = began + max_seconds
    counter = itertools.count()
    h0 = heuristic(start)
    if h0 == math.inf:
        return SearchResult(None, math.inf, 0, 1, time.perf_counter() - began)
    best_g: dict[State, float] = {start: 0.0}
    parent: dict[State, tuple[State, int] | None] = {start: None}
    h_cache: dict[State, float] = {start: h0}
    heap: list[tuple[float, float, int, float, State]] = [
        (priority(0.0, h0), 0.0 if greedy else h0, next(counter), 0.0, start)
    ]
    closed: set[State] = set()
    expanded = generated = 0
    while heap:
        _, _, _, g, state = heapq.heappop(heap)
        if g > best_g[state]:
            continue  # a cheaper path to this state was found after this entry
        if state in closed and not reopen:
            continue
        if goal_test(state):
            return SearchResult(
                _trace(parent, state),
                g,
                expanded,
                generated,
                time.perf_counter() - began,
            )
        closed.add(state)
        expanded += 1
        # The clock is cheap next to a heuristic call: check it often, so a
        # time limit holds even when each expansion is slow (LM-cut).
        if expanded % 32 == 0:
            if expanded >= max_nodes:
                raise SearchLimitError(
                    f"search stopped after {expanded:,} expanded nodes (--max-nodes)"
                )
            if time.perf_counter() > deadline:
                raise SearchLimitError(
                    f"search stopped after {max_seconds:g} s and {expanded:,} nodes "
                    "(--timeout)"
                )
        subset = None if applicable_subset is None else applicable_subset(state)
        tried = (
            enumerate(successors)
            if subset is None
            else ((i, successors[i]) for i in subset)
        )
        for index, successor in tried:
            result = successor(state)
            if result is None:
                continue
            child, cost = result
            generated += 1
            new_g = g + cost
            old = best_g.get(child)
            if old is not None and new_g >= old:
                continue
            if not reopen and child in closed:
                continue
            best_g[child] = new_g
            parent[child] = (state, index)
            child_h = h_cache.get(child)
            if child_h is None:
                child_h = heuristic(child)
                h_cache[child] = child_h
            if child_h == math.inf:
                continue
            second = new_g if greedy else child_h
            heapq.heappush(
                heap, (priority(new_g, child_h), second, next(counter), new_g, child)
            )
    return SearchResult(
        None, math.inf, expanded, generated, time.perf_counter() - began
    )


def _trace(parent: dict[State, tuple[State, int] | None], state: State) -> list[int]:
    path = []
    link = parent[state]
    while link is not None:
        state, index = link
        path.append(index)
        link = parent[state]
    path.reverse()
    return path
