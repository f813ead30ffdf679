"""The delete relaxation of a planning task, as facts and operators.

Every finite-domain state variable contributes one fact per value it can take
(``var == value``); a state is described by exactly one fact per such variable.
Conditions the grounding cannot express as facts (for example over an unbounded
``float``) are dropped from the relaxation, which keeps every heuristic that is
admissible on the relaxation admissible on the real task.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RelaxedOp:
    """One grounded operator: all of ``pre`` must hold; it adds ``add``."""

    action: int
    pre: tuple[int, ...]
    add: tuple[int, ...]
    cost: float


@dataclass(frozen=True, slots=True)
class RelaxedTask:
    """Facts ``0 .. num_facts-1``, operators, and the goal as a set of facts.

    ``fact_names`` is for messages only.  Several operators may come from the
    same action (``RelaxedOp.action``), one per combination of values of the
    variables that its expressions read.
    """

    num_facts: int
    ops: tuple[RelaxedOp, ...]
    goal: tuple[int, ...]
    fact_names: tuple[str, ...]
