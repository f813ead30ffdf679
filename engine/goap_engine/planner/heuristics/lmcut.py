"""The LM-cut heuristic of Helmert and Domshlak (ICAPS 2009).

LM-cut repeatedly finds a disjunctive action landmark and charges its cheapest
operator: it computes h_max, fixes for every operator the precondition that
h_max prices it by (its supporter), and cuts the justification graph that links
each supporter to the operator's effects.  The goal zone is the artificial goal
fact plus everything that reaches it through zero-cost edges; the cut is the set
of edges into the goal zone from facts reachable from the state without passing
through it.  The cheapest cost in the cut is added to the estimate and taken off
every operator in the cut, and h_max is brought up to date before the next round.
Rounds continue until h_max of the goal drops to zero.

As in Fast Downward, an artificial fact that holds in every state is the
precondition of operators that have none, a zero-cost operator turns the goal
facts into an artificial goal fact, and h_max is updated incrementally after a
cut: only facts reachable from the cut operators' effects are revisited.  Two
things differ, both measured by ``benchmarks/heuristic_speed.py``: which of
several equally dear preconditions becomes the supporter after a cut (the one
earlier cuts made cheaper least: it finds more, smaller landmarks, so the
estimate is higher), and how the cut is found (backwards from the operators
entering the goal zone rather than by walking the whole justification graph
forwards; the cut is the same).

The estimate is admissible and never below h_max.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from heapq import heappop, heappush

from goap_engine.planner.heuristics.relaxation import validate_task
from goap_engine.planner.relaxed import RelaxedTask

_INF = math.inf


class LMCut:
    """Compute LM-cut estimates for states of one relaxed task."""

    __slots__ = (
        "_num_facts",
        "_init",
        "_goal",
        "_pre",
        "_eff",
        "_cost",
        "_num_pre",
        "_pre_of",
        "_eff_of",
    )

    def __init__(self, task: RelaxedTask) -> None:
        validate_task(task)
        n = task.num_facts
        init = n
        goal = n + 1
        self._num_facts = n + 2
        self._init = init
        self._goal = goal
        pre: list[tuple[int, ...]] = []
        eff: list[tuple[int, ...]] = []
        cost: list[float] = []
        # A fact no operator needs and the goal does not name cannot be in a
        # goal zone or support anything: leaving it out changes no cut and
        # spares the explorations (the "x == False" facts of PDDL deletes).
        read = set(task.goal).union(*(op.pre for op in task.ops))
        for op in task.ops:
            p = tuple(dict.fromkeys(op.pre))
            p_set = set(p)
            # An effect that is also a precondition never changes a relaxed
            # state; leaving it out keeps such self-loops out of the cut.
            e = tuple(f for f in dict.fromkeys(op.add) if f not in p_set and f in read)
            c = float(op.cost)
            if not e or c == _INF:
                continue
            pre.append(p or (init,))
            eff.append(e)
            cost.append(c)
        pre.append(tuple(dict.fromkeys(task.goal)) or (init,))
        eff.append((goal,))
        cost.append(0.0)
        pre_of: list[list[int]] = [[] for _ in range(n + 2)]
        eff_of: list[list[int]] = [[] for _ in range(n + 2)]
        for o, (p, e) in enumerate(zip(pre, eff, strict=True)):
            for f in p:
                pre_of[f].append(o)
            for f in e:
                eff_of[f].append(o)
        self._pre = pre
        self._eff = eff
        self._cost = cost
        self._num_pre = [len(p) for p in pre]
        self._pre_of = [tuple(ops) for ops in pre_of]
        self._eff_of = [tuple(ops) for ops in eff_of]

    def __call__(self, state: Sequence[int]) -> float:
        """Return the LM-cut estimate of ``state``, or ``math.inf`` if unreachable."""
        pre = self._pre
        eff = self._eff
        pre_of = self._pre_of
        eff_of = self._eff_of
        goal = self._goal
        num_facts = self._num_facts
        cost = self._cost[:]
        num_ops = len(cost)
        hm = [_INF] * num_facts
        unsat = self._num_pre[:]
        sup = [-1] * num_ops
        # h_max of the supporter when it was chosen; incremental updates need
        # the old value after the supporter's own h_max has already dropped.
        sup_cost = [0.0] * num_ops
        heap: list[tuple[float, int]] = []
        # Facts of cost zero bypass the heap: they are all settled before any
        # other fact, in whatever order.
        zero = [self._init]
        hm[self._init] = 0.0
        for f in state:
            if hm[f] != 0.0:
                hm[f] = 0.0
                zero.append(f)
        roots = zero[:]

        while True:
            if zero:
                f = zero.pop()
                d = 0.0
            elif heap:
                d, f = heappop(heap)
                if d > hm[f]:
                    continue
            else:
                break
            for o in pre_of[f]:
                k = unsat[o] - 1
                unsat[o] = k
                if k == 0:
                    # Facts settle in order of h_max, so the last precondition
                    # is a dearest one.
                    sup[o] = f
                    sup_cost[o] = d
                    v = d + cost[o]
                    for e in eff[o]:
                        if v < hm[e]:
                            hm[e] = v
                            if v:
                                heappush(heap, (v, e))
                            else:
                                zero.append(e)

        if hm[goal] == _INF:
            return _INF

        h0 = hm[:]
        total = 0.0
        # Zone membership is stamped with the round number, so nothing needs
        # clearing between rounds.
        goal_zone = [0] * num_facts
        # Stamped with the round: reach[f] == rnd when the state reaches f
        # without the goal zone, -rnd when it cannot.
        reach = [0] * num_facts
        seen_at = [0] * num_facts
        query = 0
        touches = [0] * num_ops
        rnd = 0
        while hm[goal] != 0.0:
            rnd += 1

            goal_zone[goal] = rnd
            zone = [goal]
            stack = [goal]
            while stack:
                g = stack.pop()
                for o in eff_of[g]:
                    if cost[o] == 0.0:
                        s = sup[o]
                        # s is -1 for a zero-cost achiever that is unreachable.
                        if s >= 0 and goal_zone[s] != rnd:
                            goal_zone[s] = rnd
                            zone.append(s)
                            stack.append(s)

            # Every fact in the goal zone has h_max at least that of the goal,
            # which is positive, so no root is in it and every operator in the
            # cut has positive cost.
            #
            # Operators with an effect in the goal zone are marked first.  The
            # cut is those of them whose supporter the state reaches without
            # passing through a marked operator (Fast Downward walks the whole
            # justification graph from the state to find out).  Here each
            # supporter is searched backwards instead, which usually meets a
            # fact of the state within a few steps.  Facts a search finds are
            # reachable; when one fails, every fact it saw is unreachable too
            # (one reaching the state would have made the supporter reachable).
            touching: list[int] = []
            for g in zone:
                for o in eff_of[g]:
                    if touches[o] != rnd:
                        touches[o] = rnd
                        touching.append(o)
            for f in roots:
                reach[f] = rnd
            for f in zone:
                reach[f] = -rnd
            cut: list[int] = []
            for o in touching:
                f = sup[o]
                if f < 0:
                    continue
                mark = reach[f]
                if mark != rnd:
                    if mark == -rnd:
                        continue
                    query += 1
                    seen_at[f] = query
                    seen = [f]
                    # back[j]: the position in seen of the fact seen[j] was
                    # reached from, to mark the whole path found.
                    back = [-1]
                    i = 0
                    while i < len(seen):
                        for a in eff_of[seen[i]]:
                            x = sup[a]
                            if x < 0 or touches[a] == rnd:
                                continue
                            mark = reach[x]
                            if mark == rnd:
                                break
                            if mark != -rnd and seen_at[x] != query:
                                seen_at[x] = query
                                seen.append(x)
                                back.append(i)
                        else:
                            i += 1
                            continue
                        break
                    if i == len(seen):
                        for x in seen:
                            reach[x] = -rnd
                        continue
                    while i >= 0:
                        reach[seen[i]] = rnd
                        i = back[i]
                cut.append(o)
            if not cut:
                # Cannot happen with exact arithmetic; what was summed so far
                # is still a sum of landmark costs, hence admissible.
                break

            cut_cost = _INF
            for o in cut:
                c = cost[o]
                if c < cut_cost:
                    cut_cost = c
            total += cut_cost
            for o in cut:
                c = cost[o] - cut_cost
                cost[o] = c
                v = sup_cost[o] + c
                for e in eff[o]:
                    if v < hm[e]:
                        hm[e] = v
                        if v:
                            heappush(heap, (v, e))
                        else:
                            zero.append(e)

            # h_max only decreases, so only operators whose supporter got
            # cheaper can change; they may switch to another precondition.
            while True:
                if zero:
                    f = zero.pop()
                    d = 0.0
                elif heap:
                    d, f = heappop(heap)
                    if d > hm[f]:
                        continue
                else:
                    break
                for o in pre_of[f]:
                    if sup[o] != f:
                        continue
                    old = sup_cost[o]
                    if old <= d:
                        continue
                    # Among the dearest preconditions, the one whose h_max
                    # has dropped least since the first exploration: a fact
                    # that earlier cuts made cheap often sits behind
                    # zero-cost operators, and a supporter there merges
                    # later landmarks into one (visitall's cells).
                    best = f
                    best_cost = d
                    drop = h0[f] - d
                    for p in pre[o]:
                        hp = hm[p]
                        if hp > best_cost or (hp == best_cost and h0[p] - hp < drop):
                            best = p
                            best_cost = hp
                            drop = h0[p] - hp
                    sup[o] = best
                    sup_cost[o] = best_cost
                    if best_cost != old:
                        v = best_cost + cost[o]
                        for e in eff[o]:
                            if v < hm[e]:
                                hm[e] = v
                                if v:
                                    heappush(heap, (v, e))
                                else:
                                    zero.append(e)
        return total
