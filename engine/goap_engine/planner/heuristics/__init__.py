"""Heuristics by name.  The CLI's choices and the tests are driven by ``HEURISTICS``.

Every heuristic is built from a compiled ``Task`` and returns a function of a
state giving an estimate of the remaining cost (``math.inf`` for a dead end).
``admissible`` says whether it never overestimates, which is what makes A*
return optimal plans.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..task import State, Task

Estimator = Callable[["State"], float]
Preferring = Callable[["State"], tuple[float, tuple[int, ...]]]
"""An estimate together with the preferred actions (indices into ``task.actions``)."""


@dataclass(frozen=True)
class HeuristicInfo:
    """A registered heuristic."""

    name: str
    admissible: bool
    description: str
    build: Callable[[Task], Estimator]
    preferring: Callable[[Task], Preferring] | None = None
    """Where the heuristic also names preferred actions (lazy greedy search)."""


def _blind(task: Task) -> Estimator:
    # A cost that reads the state may be anything down to 0 (a negative one
    # makes its action inapplicable): the cheapest step is then unknown.
    costs = [
        1.0 if a.cost is None else a.cost.const if a.cost.is_const else 0.0
        for a in task.actions
    ]
    cheapest = min(costs, default=0.0)
    goal_test = task.goal_test

    def h(state: State) -> float:
        return 0.0 if goal_test(state) else float(cheapest)

    return h


def _goalcount(task: Task) -> Estimator:
    average = task.average_cost
    unmet = task.unmet

    def h(state: State) -> float:
        return unmet(state) * average

    return h


def _seed(task: Task) -> Estimator:
    # The seed's section 4, literally: false world-state variables x 4.
    bools = [v.index for v in task.ruleset.variables if v.type == "bool"]

    def h(state: State) -> float:
        return (
            0.0
            if task.goal_test(state)
            else 4.0 * sum(1 for i in bools if not state[i])
        )

    return h


def _relaxation(kind: str) -> Callable[[Task], Estimator]:
    def build(task: Task) -> Estimator:
        from .lmcut import LMCut
        from .relaxation import HFF, HAdd, HMax

        classes: dict[str, Any] = {
            "hmax": HMax,
            "hadd": HAdd,
            "hff": HFF,
            "lmcut": LMCut,
        }
        heuristic = classes[kind](task.relaxed)
        facts = task.state_facts

        def h(state: State) -> float:
            return float(heuristic(facts(state)))

        return h

    return build


def _hff_preferring(task: Task) -> Preferring:
    from .relaxation import HFF

    heuristic = HFF(task.relaxed)
    facts = task.state_facts
    # Goal operators of the relaxation (action -1) stand for no action.
    action_of = [op.action for op in task.relaxed.ops]

    def h(state: State) -> tuple[float, tuple[int, ...]]:
        value, ops = heuristic.preferred(facts(state))
        actions = (action_of[o] for o in ops)
        return value, tuple(sorted({a for a in actions if a >= 0}))

    return h


HEURISTICS: dict[str, HeuristicInfo] = {
    info.name: info
    for info in (
        HeuristicInfo(
            "blind", True, "0 at the goal, else the cheapest action cost", _blind
        ),
        HeuristicInfo(
            "goalcount",
            False,
            "unmet goal conditions x average action cost (not admissible)",
            _goalcount,
        ),
        HeuristicInfo(
            "seed",
            False,
            "the seed's section 4 literally: false bool variables x 4 (not admissible)",
            _seed,
        ),
        HeuristicInfo(
            "hmax",
            True,
            "h_max: costliest fact of the relaxed goal",
            _relaxation("hmax"),
        ),
        HeuristicInfo(
            "hadd", False, "h_add: sum of relaxed fact costs", _relaxation("hadd")
        ),
        HeuristicInfo(
            "hff",
            False,
            "h_FF: cost of a relaxed plan",
            _relaxation("hff"),
            _hff_preferring,
        ),
        HeuristicInfo(
            "lmcut",
            True,
            "LM-cut: landmark cuts of the relaxation",
            _relaxation("lmcut"),
        ),
    )
}
