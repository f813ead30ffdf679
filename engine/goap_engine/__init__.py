"""goap-engine: declarative, goal-driven automation planned with A*.

The Python API mirrors the command line::

    from goap_engine import load, find_plan, sense, run
    ruleset = load("goals.d/production.yaml")
    plan = find_plan(ruleset, {"tests_passed": True})
    sensed = sense(ruleset)            # values read, and failed sensors
    result = run(ruleset, yes=True)    # result.status, result.steps

Names are imported on first use, so ``goap-engine --help`` and scripts that
need only part of the API do not pay for the rest.
"""

from __future__ import annotations

import typing as _typing
from importlib import import_module as _import_module

__version__ = "0.1.0"

_WHERE = {
    "Sensed": "api",
    "approve": "api",
    "focus": "api",
    "run": "api",
    "sense": "api",
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
    "RunResult": "executor.runner",
    "StepRecord": "executor.steps",
    "SensorFailure": "executor.world",
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
    "RunResult",
    "Ruleset",
    "Schedule",
    "SearchLimitError",
    "Sensed",
    "SensorFailure",
    "StateVar",
    "Step",
    "StepRecord",
    "__version__",
    "approve",
    "find_plan",
    "focus",
    "load",
    "run",
    "schedule",
    "sense",
    "simulate",
]

if _typing.TYPE_CHECKING:
    from .api import Sensed, approve, focus, run, sense
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
    from .executor.runner import RunResult
    from .executor.steps import StepRecord
    from .executor.world import SensorFailure
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
