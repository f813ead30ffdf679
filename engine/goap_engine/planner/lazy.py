"""Lazy greedy best-first search with preferred operators.

This is the search of Fast Downward's ``lazy_greedy([h], preferred=[h])``:

* Lazy evaluation: a state's successors are queued with the *parent's* estimate
  and are only evaluated when they are taken out of the queue.  A state with a
  hundred successors costs one evaluation, not a hundred, and a good successor
  taken early spares the evaluation of its siblings altogether.
* Preferred operators: the heuristic also names the actions it would apply
  next (for h_FF, those of its relaxed plan that are applicable).  Successors
  reached by them go into a second queue, and the search alternates between the
  two queues; whenever the estimate reaches a new low, the preferred queue gets
  ``BOOST`` turns in a row, so the search follows the relaxed plan while it
  keeps paying off and falls back to all successors when it stops.
* States are never reopened: the first path to a state is the one kept.  As
  in ``best_first``, states are told apart by their class of symmetric states
  when the task has interchangeable objects (orbits.py).

Ties in a queue go first in, first out, and successors are queued in the order
of the task's actions, so the search is deterministic.  There is no cost
guarantee.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Hashable

from .heuristics import HEURISTICS, Preferring
from .memory import MemoryLimit
from .search import SearchResult, out_of_nodes, path_to, timed_out
from .task import State, Task

BOOST = 1000
"""Turns the preferred queue gets when the estimate improves (Fast Downward's)."""

# A queue entry: the parent's estimate, the insertion order, the parent state, its
# key and the index of the action leading from it.  The child itself is made
# again when the entry is taken: a parent and an index are far smaller than a
# state.
_Entry = tuple[float, int, State, Hashable, int]


def evaluator(task: Task, heuristic: str) -> Preferring:
    """Return ``heuristic`` on ``task`` with its preferred actions, if it has any."""
    info = HEURISTICS[heuristic]
    if info.preferring is not None:
        return info.preferring(task)
    estimate = info.build(task)
    none: tuple[int, ...] = ()

    def evaluate(state: State) -> tuple[float, tuple[int, ...]]:
        return estimate(state), none

    return evaluate


def lazy_greedy(
    task: Task,
    start: State,
    evaluate: Preferring,
    *,
    max_nodes: int = 2_000_000,
    max_seconds: float = 300.0,
) -> SearchResult:
    """Return a plan from ``start`` to the goal of ``task`` found by lazy greedy search.

    ``evaluate`` gives a state's estimate and preferred actions.  Raises
    ``SearchLimitError`` when a limit is reached before the search ends.
    """
    successors = task.successors
    goal_test = task.goal_test
    began = time.perf_counter()
    deadline = began + max_seconds
    counter = itertools.count()
    memory = MemoryLimit()
    # Every state reached (its key), with its path cost and how it was
    # reached.  States are entered when taken from a queue, never reopened.
    canonical = task.canonical
    key = start if canonical is None else canonical(start)
    g_of: dict[Hashable, float] = {key: 0.0}
    parent: dict[Hashable, tuple[Hashable, int, float] | None] = {key: None}
    # Queue 0 holds every successor, queue 1 those of preferred actions.  The
    # queue with the lower count is served next and its count goes up by one;
    # progress lowers the preferred queue's count by BOOST.
    queues: tuple[list[_Entry], list[_Entry]] = ([], [])
    served = [0, 0]
    expanded = generated = 0
    state = start
    g = 0.0
    if goal_test(start):
        return SearchResult([], 0.0, 0, 0, time.perf_counter() - began)
    h, preferred = evaluate(start)
    evaluated = 1
    best_h = h

    def finish(path: list[int] | None, cost: float) -> SearchResult:
        seconds = time.perf_counter() - began
        return SearchResult(
            path, cost, expanded, generated, seconds, evaluated=evaluated
        )

    while True:
        if h != math.inf:
            if expanded >= max_nodes:
                raise out_of_nodes(expanded)
            expanded += 1
            chosen = frozenset(preferred)
            for index, successor in enumerate(successors):
                if successor(state) is None:
                    continue
                generated += 1
                entry = (h, next(counter), state, key, index)
                heapq.heappush(queues[0], entry)
                if index in chosen:
                    heapq.heappush(queues[1], entry)
        # Take entries until one leads to a state not reached before.
        while True:
            if queues[1] and (not queues[0] or served[1] < served[0]):
                which = 1
            elif queues[0]:
                which = 0
            else:
                return finish(None, math.inf)
            served[which] += 1
            _, _, before, before_key, index = heapq.heappop(queues[which])
            result = successors[index](before)
            if result is None:  # cannot happen: it applied when queued
                continue
            child, cost = result
            key = child if canonical is None else canonical(child)
            if key in g_of:
                continue
            state = child
            g = g_of[before_key] + cost
            g_of[key] = g
            parent[key] = (before_key, index, cost)
            break
        if goal_test(state):
            return finish(path_to(task, start, parent, key), g)
        # As in best_first, the clock is read every 32 evaluations (dead ends
        # included): a search that short always ends, whatever the limit.
        if evaluated % 32 == 0:
            if time.perf_counter() > deadline:
                raise timed_out(max_seconds, expanded)
            memory.check(expanded)
        h, preferred = evaluate(state)
        evaluated += 1
        if h < best_h:
            best_h = h
            served[1] -= BOOST
