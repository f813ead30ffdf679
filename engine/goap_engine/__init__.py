"""goap-engine: declarative, goal-driven automation planned with A*.

The Python API mirrors the command line::

    from goap_engine import load, find_plan
    ruleset = load("goals.d/production.yaml")
    plan = find_plan(ruleset)

Names are imported on first use, so ``goap-engine --help`` and scripts that
need only part of the API do not pay for the rest.
"""

from __future__ import annotations

import typing as _typing
from importlib import import_module as _import_module

__version__ = "0.1.0"

_WHERE = {
    "Diagnostic": "errors",
    "ExecutionError": "errors",
    "GoapError": "errors",
    "InputError": "errors",
    "LockedError": "errors",
    "NoPlanError": "errors",
    "PlanInvalidError": "errors",
    "SearchLimitError": "errors",
    "load": "loader",
    "Action": "model",
    "Ruleset": "model",
    "StateVar": "model",
    "Plan": "planner.plan",
    "Step": "planner.plan",
    "find_plan": "planner.plan",
    "simulate": "planner.plan",
    "Schedule": "planner.schedule",
    "schedule": "planner.schedule",
}

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

if _typing.TYPE_CHECKING:
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


def __getattr__(name: str) -> _typing.Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'goap_engine' has no attribute {name!r}")
    value = getattr(_import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
