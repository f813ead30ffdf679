"""Read state variables from the world through their sensors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model import Ruleset, StateVar
from ..values import check_value, parse_value
from .hooks import (
    HookContext,
    HookError,
    callable_spec,
    hook_env,
    prepare,
    run_command,
    template_context,
)
from .output import Output, WholeOutput
from .processes import new_marker
from .redaction import Redactor
from .worker import WorkerPool


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
    pool: WorkerPool,
    stop: threading.Event | None = None,
    redact: Redactor | None = None,
) -> Reading:
    """Return the value ``var``'s sensor reads now (bounded by its timeout).

    A secret variable's value joins ``redact`` as soon as it is read, and the
    sensor's own output is held back until then: it may print the value.
    """
    redact = redact if redact is not None else Redactor()
    if not var.secret:
        return _read(ruleset, var, state, log, pool, stop, redact)
    held: list[str] = []
    reading = _read(ruleset, var, state, held.append, pool, stop, redact)
    if reading.ok:
        redact.add(reading.value)
    for line in held:
        log(redact(line))
    return reading


def _read(
    ruleset: Ruleset,
    var: StateVar,
    state: Mapping[str, Any],
    log: Callable[[str], None],
    pool: WorkerPool,
    stop: threading.Event | None,
    redact: Redactor,
) -> Reading:
    sensor = var.sensor
    assert sensor is not None
    workdir: Path = ruleset.workdir
    timeout = (
        sensor.timeout if sensor.timeout is not None else ruleset.policy.sensor_timeout
    )
    context = template_context(ruleset.vars, state, workdir)
    try:
        prepared = prepare(sensor.hook, context)
        if isinstance(prepared, str | list):
            outcome = run_command(
                prepared,
                cwd=workdir,
                env=hook_env({}),
                timeout=timeout,
                stop=stop,
                # The output is the value, kept as printed: a remote URL
                # holding a token must reach hooks whole.  Messages below
                # redact what they show of it; where it is stored, a value
                # holding a secret is left out (statefile.storable).
                output=WholeOutput(),
            )
            if outcome.timed_out or outcome.interrupted or outcome.oversize:
                return Reading(var.name, error=f"sensor {outcome.message}")
            if sensor.source == "exit":
                return Reading(var.name, outcome.exit_code == 0)
            if outcome.exit_code != 0:
                # A secret's sensor may have printed part of the secret.
                said = (
                    "" if var.secret else f": {redact(outcome.output.strip())[-300:]}"
                )
                return Reading(
                    var.name, error=f"sensor command failed ({outcome.message}){said}"
                )
            return Reading(var.name, parse_value(var, outcome.output.strip()))
        spec = callable_spec(sensor.hook.kind, str(sensor.hook.target))
        hook_context = HookContext(
            args=prepared,
            vars=ruleset.vars,
            state=state,
            workdir=workdir,
            env=hook_env({}),
            log=log,
            timeout=timeout,
            secrets=redact.secrets,
        )
        outcome = pool.call(
            spec,
            hook_context,
            output=Output(redact, on_line=log),
            timeout=timeout,
            stop=stop,
            marker=new_marker(),
        )
        if outcome.timed_out or outcome.interrupted:
            return Reading(var.name, error=f"sensor {outcome.message}")
        if not outcome.ok and outcome.value is not False:
            return Reading(var.name, error=outcome.message)
        value = outcome.value
        if var.type in ("int", "float", "bool") and isinstance(value, str):
            return Reading(var.name, parse_value(var, value))
        return Reading(var.name, check_value(var, value))
    except (HookError, ValueError) as exc:
        return Reading(var.name, error=redact(str(exc)))


def sense(
    ruleset: Ruleset,
    state: Mapping[str, Any],
    log: Callable[[str], None],
    names: Iterable[str] | None = None,
    *,
    pool: WorkerPool | None = None,
    stop: threading.Event | None = None,
    redact: Redactor | None = None,
) -> list[Reading]:
    """Return readings of the sensed variables (all, or those in ``names``).

    Without ``pool``, python sensors get workers of their own for this call;
    without ``redact``, the goal's declared secrets are hidden.
    """
    wanted = None if names is None else set(names)
    if redact is None:
        redact = Redactor.from_env(ruleset.secrets)
    own = pool is None
    workers = pool or WorkerPool()
    readings = []
    try:
        for var in ruleset.variables:
            if var.sensor is None or (wanted is not None and var.name not in wanted):
                continue
            readings.append(sense_var(ruleset, var, state, log, workers, stop, redact))
    finally:
        if own:
            workers.close()
    return readings
