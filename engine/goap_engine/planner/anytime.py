"""Anytime planning: a first plan fast, then cheaper ones until the time is up.

This is restarting weighted A* (Richter, Thayer and Ruml 2010), the scheme of
Fast Downward's LAMA iterations: lazy greedy search with h_FF and its preferred
operators finds a first plan; then weighted A* runs again from the start with
the weights ``WEIGHTS``, and after that with weight 1 again and again, each
search looking only for plans cheaper than the best one so far:

* with an admissible heuristic a node is dropped when ``g + h`` reaches the best
  cost (no plan through it can be cheaper); with any other, when ``g`` does;
* each search stops at its first plan, which becomes the best one.

States are reopened when a cheaper path to them turns up, so a search that
runs out of nodes has looked at every path cheaper than the best plan: the
best plan is then optimal, whatever the heuristic (dead ends, ``h = inf``, are
dead ends of the real task too).  With an admissible heuristic the first plan
of the search with weight 1 is optimal as well (it is A*).  Either way the
search stops there and says so; otherwise it stops at the time or node limit
and returns the best plan found, with no guarantee.  Only when not even a first
plan was found in time does it raise ``SearchLimitError``.

Symmetric states (orbits.py) count as one, which keeps both arguments: they
have the same cheapest cost to the goal.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Hashable, Iterator
from dataclasses import replace

from ..errors import SearchLimitError
from .heuristics import HEURISTICS, Estimator
from .lazy import evaluator, lazy_greedy
from .memory import MemoryLimit
from .search import SearchResult, path_to
from .task import State, Task

WEIGHTS = (5.0, 3.0, 2.0, 1.5, 1.0)
CACHE_LIMIT = 1_000_000
"""Estimates kept across the searches before the cache starts afresh (memory)."""
FIRST_HEURISTIC = "hff"
"""The heuristic of the first, greedy search, whatever the later ones use."""


class _OutOfBudget(Exception):
    """The time or node limit was reached inside one weighted A* search."""


class _Budget:
    """What all the searches together may still use, and what they used."""

    def __init__(self, max_nodes: int, max_seconds: float) -> None:
        self.max_nodes = max_nodes
        self.deadline = time.perf_counter() + max_seconds
        self.memory = MemoryLimit()
        self.expanded = 0
        self.generated = 0
        self.evaluated = 0

    def spend(self) -> None:
        """Count one expansion, or raise ``_OutOfBudget`` if a limit is reached."""
        if self.expanded >= self.max_nodes:
            raise _OutOfBudget
        self.check_clock()
        self.expanded += 1

    def check_clock(self) -> None:
        """Raise ``_OutOfBudget`` if the time is up."""
        if time.perf_counter() > self.deadline:
            raise _OutOfBudget

    def check_memory(self) -> None:
        """Raise ``_OutOfBudget`` if the searches hold too much memory."""
        try:
            self.memory.check(self.expanded)
        except SearchLimitError:
            raise _OutOfBudget from None


def _weights() -> Iterator[float]:
    yield from WEIGHTS
    while True:
        yield 1.0


def anytime(
    task: Task,
    start: State,
    heuristic: str,
    *,
    max_nodes: int = 2_000_000,
    max_seconds: float = 300.0,
) -> SearchResult:
    """Return the cheapest plan found within the limits, optimal if proved so.

    ``heuristic`` guides the weighted A* searches after the first plan.
    """
    began = time.perf_counter()
    first = lazy_greedy(
        task,
        start,
        evaluator(task, FIRST_HEURISTIC),
        max_nodes=max_nodes,
        max_seconds=max_seconds,
    )
    if first.path is None:
        return first  # greedy search is complete: there is no plan
    if first.cost == 0.0:
        # Steps never cost less than nothing (the start may be a goal).
        return replace(first, proved_optimal=True)
    budget = _Budget(max_nodes, max_seconds - (time.perf_counter() - began))
    budget.expanded = first.expanded
    budget.generated = first.generated
    budget.evaluated = first.evaluated
    info = HEURISTICS[heuristic]
    estimate = info.build(task)
    cache: dict[Hashable, float] = {}
    path, cost = first.path, first.cost
    proved = False
    for weight in _weights():
        try:
            found = _bounded_wastar(
                task, start, estimate, cache, weight, cost, info.admissible, budget
            )
        except _OutOfBudget:
            break
        if found is None:
            proved = True  # no plan cheaper than the best one exists
            break
        path, cost = found
        if weight == 1.0 and info.admissible:
            proved = True
            break
    return SearchResult(
        path,
        cost,
        budget.expanded,
        budget.generated,
        time.perf_counter() - began,
        evaluated=budget.evaluated,
        proved_optimal=proved,
    )


def _bounded_wastar(
    task: Task,
    start: State,
    estimate: Estimator,
    cache: dict[Hashable, float],
    weight: float,
    bound: float,
    admissible: bool,
    budget: _Budget,
) -> tuple[list[int], float] | None:
    """Return the first plan cheaper than ``bound`` weighted A* finds, or None.

    None means there is none.  ``cache`` keeps estimates across the searches:
    they all start from the same state and meet the same states again.
    """
    successors = task.successors
    goal_test = task.goal_test
    counter = itertools.count()

    canonical = task.canonical

    def h_of(state: State, key: Hashable) -> float:
        # Symmetric states have the same cost to the goal: one estimate
        # serves them all, admissible for each if it is for one.
        h = cache.get(key)
        if h is None:
            if len(cache) >= CACHE_LIMIT:
                cache.clear()
            h = estimate(state)
            cache[key] = h
            budget.evaluated += 1
            # One expansion may evaluate thousands of successors: the
            # clock is read between evaluations too.
            if budget.evaluated % 32 == 0:
                budget.check_clock()
        return h

    def hopeless(g: float, h: float) -> bool:
        return h == math.inf or (g + h if admissible else g) >= bound

    start_key = start if canonical is None else canonical(start)
    h0 = h_of(start, start_key)
    if hopeless(0.0, h0):
        return None
    best_g: dict[Hashable, float] = {start_key: 0.0}
    parent: dict[Hashable, tuple[Hashable, int, float] | None] = {start_key: None}
    # Ties on f go to the smaller h (the deeper node), then first in.
    heap: list[tuple[float, float, int, float, State]] = [
        (weight * h0, h0, next(counter), 0.0, start)
    ]
    while heap:
        _, _, _, g, state = heapq.heappop(heap)
        key = state if canonical is None else canonical(state)
        if g > best_g[key]:
            continue  # a cheaper path to this state was found after this entry
        if goal_test(state):
            return path_to(task, start, parent, key), g
        budget.spend()
        for index, successor in enumerate(successors):
            result = successor(state)
            if result is None:
                continue
            child, step = result
            budget.generated += 1
            if budget.generated % 1024 == 0:
                budget.check_memory()
            new_g = g + step
            child_key = child if canonical is None else canonical(child)
            old = best_g.get(child_key)
            if old is not None and new_g >= old:
                continue
            h = h_of(child, child_key)
            if hopeless(new_g, h):
                continue
            # Reopening a state reached again more cheaply is what lets a
            # search that runs out of nodes prove the best plan optimal.
            best_g[child_key] = new_g
            parent[child_key] = (key, index, step)
            heapq.heappush(heap, (new_g + weight * h, h, next(counter), new_g, child))
    return None
