"""Best-first search: A*, weighted A* and greedy best-first, by name.

All three share one loop; they differ only in how a node's priority is made
from its path cost g and estimate h.  Ties are broken by smaller h, then by
insertion order, so plans are deterministic.  ``SEARCHES`` also names the
searches with loops of their own (``run``): lazy greedy search (lazy.py) and
the anytime search (anytime.py).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import SearchLimitError
from .heuristics import Estimator
from .memory import MemoryLimit
from .orbits import real_path
from .task import State, Task

Priority = Callable[[float, float], float]


class Runner(Protocol):
    """A search with a loop of its own, given the heuristic's name."""

    def __call__(
        self,
        task: Task,
        start: State,
        heuristic: str,
        *,
        max_nodes: int,
        max_seconds: float,
    ) -> SearchResult: ...


@dataclass(frozen=True)
class SearchInfo:
    """A registered search algorithm."""

    name: str
    description: str
    priority: Callable[[float], Priority] | None
    """How ``best_first`` orders nodes; None for a search with its own ``run``."""
    optimal_with_admissible: bool
    default_heuristic: str = "lmcut"
    """The heuristic when neither the goal's policy nor the caller names one."""
    run: Runner | None = None


def _lazy(
    task: Task, start: State, heuristic: str, *, max_nodes: int, max_seconds: float
) -> SearchResult:
    from .lazy import evaluator, lazy_greedy

    return lazy_greedy(
        task,
        start,
        evaluator(task, heuristic),
        max_nodes=max_nodes,
        max_seconds=max_seconds,
    )


def _anytime(
    task: Task, start: State, heuristic: str, *, max_nodes: int, max_seconds: float
) -> SearchResult:
    from .anytime import anytime

    return anytime(task, start, heuristic, max_nodes=max_nodes, max_seconds=max_seconds)


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
    "lazy": SearchInfo(
        "lazy",
        "lazy greedy search with preferred operators (h_FF's by default): "
        "fast, no cost guarantee",
        None,
        False,
        default_heuristic="hff",
        run=_lazy,
    ),
    "anytime": SearchInfo(
        "anytime",
        "lazy greedy search, then weighted A* with weights 5, 3, 2, 1.5, 1 and "
        "again 1, each bounded by the best plan so far, until the time limit: "
        "optimal once a search proves that no cheaper plan exists",
        None,
        False,
        default_heuristic="hff",
        run=_anytime,
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
    evaluated: int = 0
    """States the heuristic was computed for."""
    proved_optimal: bool = False
    """Whether the search proved the plan optimal whatever its heuristic."""


def best_first(
    task: Task,
    start: State,
    heuristic: Estimator,
    *,
    search: str = "astar",
    weight: float = 2.0,
    max_nodes: int = 2_000_000,
    max_seconds: float = 300.0,
    deferred: bool = False,
    applicable_subset: Callable[[State], Sequence[int] | None] | None = None,
) -> SearchResult:
    """Return a cheapest-first plan from ``start`` to the goal of ``task``.

    ``deferred`` (A* with an admissible heuristic only) evaluates a state when
    it leaves the open list rather than when it enters: until then its
    estimate is its parent's less the step's cost, a lower bound on its true
    remaining cost since the parent's estimate is one on the parent's.  States
    that never leave the list (those of the last f-layer the goal is found in,
    or whose bound already exceeds the optimum) are never evaluated, which
    pays when the heuristic is dear (LM-cut).  A state is expanded only after
    its own estimate (or the bound, if higher) put it back in order.

    ``applicable_subset``, given a state, may name the only actions worth
    trying there (a pruning that keeps a cheapest plan) or answer None.
    Raises ``SearchLimitError`` when a limit is reached before the search ends.
    """
    make_priority = SEARCHES[search].priority
    if make_priority is None:
        raise ValueError(f"search {search!r} is not a best-first search")
    priority = make_priority(weight)
    reopen = search == "astar"
    deferred = deferred and reopen
    # Among equal estimates A* prefers deeper nodes (smaller h), greedy search
    # cheaper paths (smaller g): it finds cheaper plans at no extra cost.
    greedy = search == "gbfs"
    successors = task.successors
    goal_test = task.goal_test
    began = time.perf_counter()
    deadline = began + max_seconds
    counter = itertools.count()
    memory = MemoryLimit()
    h0 = heuristic(start)
    if h0 == math.inf:
        return SearchResult(None, math.inf, 0, 1, time.perf_counter() - began)
    # The tables are keyed by state, or by the class of symmetric states
    # when the task has interchangeable objects (orbits.py).
    canonical = task.canonical
    start_key = start if canonical is None else canonical(start)
    best_g: dict[Hashable, float] = {start_key: 0.0}
    parent: dict[Hashable, tuple[Hashable, int, float] | None] = {start_key: None}
    h_cache: dict[Hashable, float] = {start_key: h0}
    heap: list[tuple[float, float, int, float, State]] = [
        (priority(0.0, h0), 0.0 if greedy else h0, next(counter), 0.0, start)
    ]
    closed: set[Hashable] = set()
    expanded = generated = 0
    while heap:
        _, bound, _, g, state = heapq.heappop(heap)
        key = state if canonical is None else canonical(state)
        if g > best_g[key]:
            continue  # a cheaper path to this state was found after this entry
        if key in closed and not reopen:
            continue
        if deferred and key not in h_cache and not goal_test(state):
            estimate = max(heuristic(state), bound)
            h_cache[key] = estimate
            if len(h_cache) % 32 == 0 and time.perf_counter() > deadline:
                raise timed_out(max_seconds, expanded)
            if estimate == math.inf:
                continue
            if estimate > bound:
                heapq.heappush(
                    heap, (priority(g, estimate), estimate, next(counter), g, state)
                )
                continue
        if goal_test(state):
            return SearchResult(
                path_to(task, start, parent, key),
                g,
                expanded,
                generated,
                time.perf_counter() - began,
                len(h_cache),
            )
        if expanded >= max_nodes:
            raise out_of_nodes(expanded)
        closed.add(key)
        expanded += 1
        if expanded % 32 == 0 and time.perf_counter() > deadline:
            raise timed_out(max_seconds, expanded)
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
            if generated % 1024 == 0:
                # Deferred evaluation calls no heuristic here, and a state of
                # thousands of variables takes a while to copy and hash.
                if time.perf_counter() > deadline:
                    raise timed_out(max_seconds, expanded)
                memory.check(expanded)
            new_g = g + cost
            child_key = child if canonical is None else canonical(child)
            old = best_g.get(child_key)
            if old is not None and new_g >= old:
                continue
            if not reopen and child_key in closed:
                continue
            best_g[child_key] = new_g
            parent[child_key] = (key, index, cost)
            child_h = h_cache.get(child_key)
            if child_h is None:
                if deferred:
                    child_h = max(h_cache[key] - cost, 0.0)
                else:
                    child_h = heuristic(child)
                    h_cache[child_key] = child_h
                    # The clock is cheap next to a heuristic call: read it
                    # within an expansion too, so that the limit holds when
                    # one expansion evaluates thousands of successors.
                    if len(h_cache) % 32 == 0 and time.perf_counter() > deadline:
                        raise timed_out(max_seconds, expanded)
            if child_h == math.inf:
                continue
            second = new_g if greedy else child_h
            heapq.heappush(
                heap, (priority(new_g, child_h), second, next(counter), new_g, child)
            )
    return SearchResult(
        None, math.inf, expanded, generated, time.perf_counter() - began, len(h_cache)
    )


def timed_out(max_seconds: float, expanded: int) -> SearchLimitError:
    """Return the error of a search that ran out of time (every search says it so)."""
    return SearchLimitError(
        f"search stopped after {max_seconds:g} s and {expanded:,} nodes (--timeout)"
    )


def out_of_nodes(expanded: int) -> SearchLimitError:
    """Return the error of a search that reached its node limit."""
    return SearchLimitError(
        f"search stopped after {expanded:,} expanded nodes (--max-nodes)"
    )


def path_to(
    task: Task,
    start: State,
    parent: dict[Hashable, tuple[Hashable, int, float] | None],
    key: Hashable,
) -> list[int]:
    """Return the action indices of the recorded path from ``start`` to ``key``.

    ``parent`` maps each key (a state, or its class under ``task.canonical``)
    to the previous key, the action index and its cost.
    """
    steps = _trace(parent, key)
    if task.canonical is None:
        return [index for index, _, _ in steps]
    return real_path(start, steps, task.successors, task.canonical)


def _trace(
    parent: dict[Hashable, tuple[Hashable, int, float] | None], key: Hashable
) -> list[tuple[int, float, Hashable]]:
    """Return (action index, cost, key reached) for each step to ``key``."""
    steps = []
    link = parent[key]
    while link is not None:
        previous, index, cost = link
        steps.append((index, cost, key))
        key = previous
        link = parent[key]
    steps.reverse()
    return steps
