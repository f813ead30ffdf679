"""goap-engine: declarative, goal-driven automation planned with A*.

The Python API mirrors the command line::

    from goap_engine import load, find_plan
    ruleset = load("goals.d/production.yaml")
    plan = find_plan(ruleset)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (
    Diagnostic,
    ExecutionError,
    GoapError,
    InputError,
    LockedError,
    NoPlanError,
    PlanInvalidError,
    SearchLimitError,
)
from .loader import load
from .model import Action, Ruleset, StateVar
from .planner.plan import Plan, Step, find_plan, simulate
from .planner.schedule import Schedule, schedule

__all__ = [
    "Action",
    "Diagnostic",
    "ExecutionError",
    "GoapError",
    "InputError",
    "LockedError",
    "NoPlanError",
    "Plan",
    "PlanInvalidError",
    "Ruleset",
    "Schedule",
    "SearchLimitError",
    "StateVar",
    "Step",
    "__version__",
    "find_plan",
    "load",
    "schedule",
    "simulate",
]
