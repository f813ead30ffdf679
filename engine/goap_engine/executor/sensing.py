"""Read state variables from the world through their sensors."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model import Ruleset, StateVar
from ..values import check_value, parse_value
from .hooks import (
    HookContext,
    HookError,
    call_python,
    hook_env,
    prepare,
    resolve_callable,
    run_command,
    template_context,
)


@dataclass(frozen=True)
class Reading:
    """A sensor's result: a value, or why there is none."""

    name: str
    value: Any = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def sense_var(
    ruleset: Ruleset,
    var: StateVar,
    state: Mapping[str, Any],
    log: Callable[[str], None],
) -> Reading:
    """Return the value ``var``'s sensor reads now."""
    sensor = var.sensor
    assert sensor is not None
    workdir: Path = ruleset.workdir
    context = template_context(ruleset.vars, state, workdir)
    try:
        prepared = prepare(sensor.hook, context)
        if isinstance(prepared, str | list):
            outcome = run_command(
                prepared, cwd=workdir, env=hook_env({}), timeout=sensor.timeout
            )
            if outcome.timed_out:
                return Reading(var.name, error=outcome.message)
            if sensor.source == "exit":
                return Reading(var.name, outcome.exit_code == 0)
            if outcome.exit_code != 0:
                return Reading(
                    var.name,
                    error=f"sensor command failed ({outcome.message}): "
                    f"{outcome.output.strip()[-300:]}",
                )
            return Reading(var.name, parse_value(var, outcome.output.strip()))
        fn = resolve_callable(sensor.hook.kind, str(sensor.hook.target))
        hook_context = HookContext(
            args=prepared,
            vars=ruleset.vars,
            state=state,
            workdir=workdir,
            env=hook_env({}),
            log=log,
            timeout=sensor.timeout,
        )
        outcome = call_python(fn, hook_context)
        if not outcome.ok and outcome.value is not False:
            return Reading(var.name, error=outcome.message)
        value = outcome.value
        if var.type in ("int", "float", "bool") and isinstance(value, str):
            return Reading(var.name, parse_value(var, value))
        return Reading(var.name, check_value(var, value))
    except (HookError, ValueError) as exc:
        return Reading(var.name, error=str(exc))


def sense(
    ruleset: Ruleset,
    state: Mapping[str, Any],
    log: Callable[[str], None],
    names: Iterable[str] | None = None,
) -> list[Reading]:
    """Return readings of the sensed variables (all, or those in ``names``)."""
    wanted = None if names is None else set(names)
    readings = []
    for var in ruleset.variables:
        if var.sensor is None or (wanted is not None and var.name not in wanted):
            continue
        readings.append(sense_var(ruleset, var, state, log))
    return readings
