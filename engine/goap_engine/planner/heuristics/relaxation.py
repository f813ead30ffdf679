"""Delete-relaxation heuristics: h_max, h_add and h_FF.

All three run a generalized Dijkstra exploration over facts.  Each operator keeps
a counter of its preconditions that are not reached yet; when a fact is settled
the counters of the operators it is a precondition of drop, and an operator whose
counter hits zero offers its effects at its cost plus the combined cost of its
preconditions (their maximum for h_max, their sum for h_add and h_FF).

A heuristic is built once per task and then called on states, given as the fact
ids that hold.  Calls allocate a few flat lists and nothing else; facts and
operators are plain integer indices.  ``math.inf`` means the goal cannot be
reached even when deletes are ignored, so no plan exists from that state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from heapq import heappop, heappush

from goap_engine.planner.relaxed import RelaxedTask

_INF = math.inf


def _dedupe(facts: Sequence[int]) -> tuple[int, ...]:
    """Return ``facts`` without repetitions, in first-seen order."""
    return tuple(dict.fromkeys(facts))


def validate_task(task: RelaxedTask) -> None:
    """Raise ``ValueError`` when ``task`` has bad fact ids or operator costs."""
    n = task.num_facts
    if n < 0:
        raise ValueError(f"negative number of facts: {n}")
    for f in task.goal:
        if not 0 <= f < n:
            raise ValueError(f"goal fact {f} is outside 0..{n - 1}")
    for i, op in enumerate(task.ops):
        if not op.cost >= 0.0:  # also rejects NaN
            raise ValueError(f"operator {i} has invalid cost {op.cost!r}")
        for f in (*op.pre, *op.add):
            if not 0 <= f < n:
                raise ValueError(f"operator {i} uses fact {f} outside 0..{n - 1}")


class _Index:
    """Hold a relaxed task as flat per-operator and per-fact tables.

    Operator ``i`` here is ``task.ops[i]``.  Repeated facts are dropped, and so
    are effects that are also preconditions (in the relaxation adding a fact
    that must already hold changes nothing) and effects nothing reads.
    Operators of infinite cost are never indexed as triggerable, so they are
    never applied.
    """

    __slots__ = (
        "num_facts",
        "op_pre",
        "op_add",
        "op_cost",
        "num_pre",
        "pre_of",
        "free_ops",
        "goal",
        "is_goal",
    )

    def __init__(self, task: RelaxedTask) -> None:
        validate_task(task)
        n = task.num_facts
        self.num_facts = n
        self.op_pre: list[tuple[int, ...]] = []
        self.op_add: list[tuple[int, ...]] = []
        self.op_cost: list[float] = []
        self.num_pre: list[int] = []
        pre_of: list[list[int]] = [[] for _ in range(n)]
        free: list[int] = []
        # Facts no operator needs and the goal does not name change no
        # estimate: they are not explored (PDDL deletes' "x == False" facts).
        read = set(task.goal).union(*(op.pre for op in task.ops))
        for i, op in enumerate(task.ops):
            pre = _dedupe(op.pre)
            pre_set = set(pre)
            add = tuple(f for f in _dedupe(op.add) if f not in pre_set and f in read)
            cost = float(op.cost)
            self.op_pre.append(pre)
            self.op_add.append(add)
            self.op_cost.append(cost)
            self.num_pre.append(len(pre))
            if cost == _INF or not add:
                continue
            if pre:
                for f in pre:
                    pre_of[f].append(i)
            else:
                free.append(i)
        self.pre_of: list[tuple[int, ...]] = [tuple(ops) for ops in pre_of]
        self.free_ops: tuple[int, ...] = tuple(free)
        self.goal: tuple[int, ...] = _dedupe(task.goal)
        is_goal = bytearray(n)
        for f in self.goal:
            is_goal[f] = 1
        self.is_goal = is_goal


def _explore_add(ix: _Index, state: Sequence[int]) -> tuple[list[float], list[int]]:
    """Return h_add of every fact and each fact's best supporter.

    The exploration stops once every goal fact is settled, so facts dearer than
    the dearest goal fact may keep provisional values.  A supporter is -1 for
    facts of the state and for facts not reached.  Supporters form an acyclic
    graph: an operator only fires after all its preconditions are settled, and it
    only becomes the supporter of facts that are not settled yet.
    """
    pre_of = ix.pre_of
    adds = ix.op_add
    is_goal = ix.is_goal
    dist = [_INF] * ix.num_facts
    sup = [-1] * ix.num_facts
    unsat = ix.num_pre[:]
    val = ix.op_cost[:]
    remaining = len(ix.goal)
    heap: list[tuple[float, int]] = []
    # Facts of cost zero bypass the heap: they are all settled before any other
    # fact, in whatever order, which keeps zero-cost plateaus cheap.
    zero: list[int] = []
    for f in state:
        if dist[f] != 0.0:
            dist[f] = 0.0
            zero.append(f)
    for o in ix.free_ops:
        v = val[o]
        for a in adds[o]:
            if v < dist[a]:
                dist[a] = v
                sup[a] = o
                if v:
                    heappush(heap, (v, a))
                else:
                    zero.append(a)
    while remaining:
        if zero:
            f = zero.pop()
            d = 0.0
        elif heap:
            d, f = heappop(heap)
            if d > dist[f]:
                continue
        else:
            break
        if is_goal[f]:
            remaining -= 1
        for o in pre_of[f]:
            v = val[o] + d
            val[o] = v
            k = unsat[o] - 1
            unsat[o] = k
            if k == 0:
                for a in adds[o]:
                    if v < dist[a]:
                        dist[a] = v
                        sup[a] = o
                        if v:
                            heappush(heap, (v, a))
                        else:
                            zero.append(a)
    return dist, sup


class HMax:
    """Estimate goal distance by h_max, which is admissible.

    A fact costs as much as its cheapest achiever plus that achiever's dearest
    precondition; the estimate is the cost of the dearest goal fact.
    """

    __slots__ = ("_ix",)

    def __init__(self, task: RelaxedTask) -> None:
        self._ix = _Index(task)

    def __call__(self, state: Sequence[int]) -> float:
        """Return h_max of ``state``, or ``math.inf`` if the goal is unreachable."""
        ix = self._ix
        remaining = len(ix.goal)
        if not remaining:
            return 0.0
        pre_of = ix.pre_of
        adds = ix.op_add
        costs = ix.op_cost
        is_goal = ix.is_goal
        dist = [_INF] * ix.num_facts
        unsat = ix.num_pre[:]
        heap: list[tuple[float, int]] = []
        zero: list[int] = []
        for f in state:
            if dist[f] != 0.0:
                dist[f] = 0.0
                zero.append(f)
        for o in ix.free_ops:
            v = costs[o]
            for a in adds[o]:
                if v < dist[a]:
                    dist[a] = v
                    if v:
                        heappush(heap, (v, a))
                    else:
                        zero.append(a)
        while True:
            if zero:
                f = zero.pop()
                d = 0.0
            elif heap:
                d, f = heappop(heap)
                if d > dist[f]:
                    continue
            else:
                return _INF
            if is_goal[f]:
                remaining -= 1
                if not remaining:
                    # Facts settle in order of cost, so the last goal fact is
                    # the dearest one.
                    return d
            for o in pre_of[f]:
                k = unsat[o] - 1
                unsat[o] = k
                if k == 0:
                    # The precondition settled last is the dearest one.
                    v = d + costs[o]
                    for a in adds[o]:
                        if v < dist[a]:
                            dist[a] = v
                            if v:
                                heappush(heap, (v, a))
                            else:
                                zero.append(a)


class HAdd:
    """Estimate goal distance by h_add, which is not admissible.

    A fact costs as much as its cheapest achiever plus the summed costs of that
    achiever's preconditions; the estimate is the sum over the goal facts.
    """

    __slots__ = ("_ix",)

    def __init__(self, task: RelaxedTask) -> None:
        self._ix = _Index(task)

    def __call__(self, state: Sequence[int]) -> float:
        """Return h_add of ``state``, or ``math.inf`` if the goal is unreachable."""
        ix = self._ix
        if not ix.goal:
            return 0.0
        dist, _ = _explore_add(ix, state)
        total = 0.0
        for g in ix.goal:
            total += dist[g]
        return total


class HFF:
    """Estimate goal distance by h_FF, which is not admissible.

    The estimate is the cost of a relaxed plan made of h_add's best supporters,
    each operator counted once however many facts it supports.  It is never
    below the optimal relaxed cost h+ and never above h_add.
    """

    __slots__ = ("_ix",)

    def __init__(self, task: RelaxedTask) -> None:
        self._ix = _Index(task)

    def __call__(self, state: Sequence[int]) -> float:
        """Return h_FF of ``state``, or ``math.inf`` if the goal is unreachable."""
        return self._extract(state, None)

    def preferred(self, state: Sequence[int]) -> tuple[float, list[int]]:
        """Return ``self(state)`` and the relaxed plan's operators applicable in it.

        These operators (indices into ``task.ops``) are the "preferred
        operators" of greedy search: one exploration yields both.  An operator
        is applicable when every precondition holds in ``state``, which is when
        none of them has a supporter (facts of the state never get one).
        """
        applicable: list[int] = []
        total = self._extract(state, applicable)
        return total, applicable if total != _INF else []

    def _extract(self, state: Sequence[int], applicable: list[int] | None) -> float:
        """Return the relaxed plan's cost; list its applicable operators if asked."""
        ix = self._ix
        goal = ix.goal
        if not goal:
            return 0.0
        dist, sup = _explore_add(ix, state)
        for g in goal:
            if dist[g] == _INF:
                return _INF
        pre = ix.op_pre
        costs = ix.op_cost
        used = bytearray(len(costs))
        seen = bytearray(ix.num_facts)
        total = 0.0
        stack = list(goal)
        while stack:
            f = stack.pop()
            if seen[f]:
                continue
            seen[f] = 1
            o = sup[f]
            if o >= 0 and not used[o]:
                used[o] = 1
                total += costs[o]
                needs = pre[o]
                if applicable is not None and all(sup[p] < 0 for p in needs):
                    applicable.append(o)
                stack.extend(needs)
        return total

    def relaxed_plan(self, state: Sequence[int]) -> list[int] | None:
        """Return the relaxed plan behind ``self(state)``, or None if unreachable.

        The plan lists indices into ``task.ops`` in an order that is executable
        when deletes are ignored; its operators that are applicable in ``state``
        are the usual "preferred operators".
        """
        ix = self._ix
        goal = ix.goal
        if not goal:
            return []
        dist, sup = _explore_add(ix, state)
        for g in goal:
            if dist[g] == _INF:
                return None
        pre = ix.op_pre
        plan: list[int] = []
        used = bytearray(len(ix.op_cost))
        seen = bytearray(ix.num_facts)
        # Post-order over supporters puts every operator after the supporters of
        # its preconditions; the supporter graph is acyclic, so this terminates.
        stack: list[tuple[int, bool]] = [(g, False) for g in reversed(goal)]
        while stack:
            f, expanded = stack.pop()
            o = sup[f]
            if expanded:
                if not used[o]:
                    used[o] = 1
                    plan.append(o)
                continue
            if seen[f]:
                continue
            seen[f] = 1
            if o < 0 or used[o]:
                continue
            stack.append((f, True))
            stack.extend((p, False) for p in reversed(pre[o]))
        return plan
