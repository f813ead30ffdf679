"""Sense and run from Python, as ``goap-engine plan`` and ``run`` do.

``sense`` reads the sensors the command line reads, with the same timeouts
and redaction; ``run`` is the ``run`` command without a terminal: the same
lock, journal and state file, its outcome returned as a value (a failed step
is an outcome, not an exception) and nothing printed unless asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Diagnostic, InputError, Location
from .model import Ruleset
from .values import SECRET_SHOWN, checked_values

if TYPE_CHECKING:
    from .executor.runner import RunResult
    from .executor.world import SensorFailure

MAX_JOBS = 64  # as ``run --jobs``


@dataclass(frozen=True, repr=False)
class Sensed:
    """What the sensors read: values by variable name, and which failed and why.

    A secret variable's value is here as read (it is the caller's), but never
    in the ``repr``, so printing a ``Sensed`` shows no secret.
    """

    values: Mapping[str, Any]
    failures: Mapping[str, SensorFailure]
    secret: frozenset[str] = field(default=frozenset())

    @property
    def ok(self) -> bool:
        """Return whether every sensor that ran gave a value."""
        return not self.failures

    def __repr__(self) -> str:
        values = {
            k: SECRET_SHOWN if k in self.secret else v for k, v in self.values.items()
        }
        failures = {k: f.reason for k, f in self.failures.items()}
        return f"Sensed(values={values!r}, failures={failures!r})"


def sense(
    ruleset: Ruleset,
    *,
    names: Iterable[str] | None = None,
    on_output: Callable[[str], None] | None = None,
) -> Sensed:
    """Return what the sensors read now: those the goal can need, or ``names``.

    The sensors see the start state ``plan`` would build before sensing (the
    defaults and the stored state); each is bounded by its own timeout or
    ``policy.sensor_timeout``.  Failure reasons and the lines given to
    ``on_output`` are redacted; processes a sensor leaves behind are ended.
    A sensor that fails is a ``failures`` entry, not an exception.
    """
    from .executor.processes import process_scope
    from .executor.redaction import Redactor
    from .executor.sensing import sense as read_sensors
    from .executor.world import SensorFailure, start_state
    from .planner.relevance import relevant_variables
    from .values import secret_values, state_dict

    _check_ruleset(ruleset)
    wanted = _sensed_names(ruleset, names) if names is not None else None
    if wanted is None:
        wanted = set(relevant_variables(ruleset))
    redact = Redactor.from_env(ruleset.secrets)
    before = start_state(ruleset, sense=False, redact=redact)
    with process_scope():
        readings = read_sensors(
            ruleset,
            state_dict(ruleset, before.state),
            on_output or (lambda _: None),
            wanted,
            redact=redact,
        )
    values: dict[str, Any] = {}
    failures: dict[str, SensorFailure] = {}
    for reading in readings:
        if reading.ok:
            values[reading.name] = reading.value
            continue
        sensor = ruleset.var(reading.name).sensor
        assert sensor is not None  # only variables with a sensor are read
        failures[reading.name] = SensorFailure(
            redact(reading.error), sensor.hook.location
        )
    # A secret read now is hidden from whatever this process shows next.
    redact.add(*secret_values(ruleset, values))
    return Sensed(values, failures, ruleset.secret_names)


def _sensed_names(ruleset: Ruleset, names: Iterable[str]) -> set[str]:
    """Return ``names`` checked: each a state variable that has a sensor."""
    import difflib

    if isinstance(names, str):
        names = [names]
    where = Location("names")
    with_sensor = [v.name for v in ruleset.variables if v.sensor is not None]
    wanted: set[str] = set()
    problems = []
    for name in names:
        if not isinstance(name, str):
            found = type(name).__name__
            problems.append(
                Diagnostic(where, f"expected a state variable name, found {found}")
            )
        elif name not in ruleset.names:
            close = difflib.get_close_matches(name, ruleset.names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(Diagnostic(where, f"unknown state variable '{name}'{hint}"))
        elif name not in with_sensor:
            have = ", ".join(with_sensor) or "none"
            problems.append(
                Diagnostic(
                    where,
                    f"has no sensor (the variables with one: {have})",
                    f"state variable '{name}'",
                )
            )
        else:
            wanted.add(name)
    if problems:
        raise InputError(problems)
    return wanted


def run(
    ruleset: Ruleset,
    *,
    dry_run: bool = False,
    yes: bool = False,
    approve: Iterable[str] = (),
    jobs: int | None = None,
    sets: Mapping[str, Any] | None = None,
    resume: bool = False,
    fresh: bool = False,
    plan_file: str | Path | None = None,
    confirm: Callable[[str], bool] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    on_output: Callable[[str, str], None] | None = None,
    echo: bool = False,
    targets: Iterable[str] = (),
    tags: Iterable[str] = (),
    skip_tags: Iterable[str] = (),
    wait_for_approval: bool = False,
) -> RunResult:
    """Sense, plan, act, verify and replan until the goal holds, as ``run`` does.

    The run takes the goal's lock (``LockedError`` if another run holds it),
    journals every step and keeps the state file, exactly as the command.
    ``sets`` gives start values by name (checked against their types);
    ``approve`` names the irreversible or approval steps allowed (ids or
    names), ``yes`` allows them all, and ``confirm`` is asked once otherwise
    (without it such steps make the result ``needs_approval``).
    ``wait_for_approval`` stops at the first such step instead (status
    ``waiting``, ``result.waiting`` says what for): ``approve()`` and a run
    with ``resume=True`` go on.

    Nothing is printed: ``on_event`` gets each journal event (redacted),
    ``on_output`` each line of hook output with its step's label, and
    ``echo=True`` prints both to stderr as the command does.  Bad input
    raises ``InputError``; a failed step is ``result.status == "failed"``.

    ``targets``, ``tags`` and ``skip_tags`` run part of the goal as
    ``--target``, ``--tag`` and ``--skip-tag`` do (see ``focus``), and are
    recorded in the journal as the command records them.
    """
    from .executor.approvals import parse_approvals
    from .executor.runner import Runner, RunOptions
    from .planner.focus import Focus, narrow

    _check_ruleset(ruleset)
    full = ruleset
    chosen = Focus(_names(targets), _names(tags), _names(skip_tags))
    ruleset = narrow(full, chosen).ruleset
    if not ruleset.conditions:
        raise InputError(
            Diagnostic(
                Location.of(ruleset.path, 1, 1),
                "this file has no 'goal:' (is it a pack? load a goal file)",
            )
        )
    if resume and fresh:
        raise InputError("resume and fresh exclude each other")
    if jobs is not None and (
        isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS
    ):
        raise InputError(
            Diagnostic(
                Location("jobs"), f"expected an int in [1, {MAX_JOBS}], found {jobs!r}"
            )
        )
    if isinstance(approve, str):
        approve = [approve]
    options = RunOptions(
        dry_run=dry_run,
        yes=yes,
        # An action the tag filter leaves out may still be named.
        approve=parse_approvals(full, approve),
        jobs=jobs,
        resume=resume,
        fresh=fresh,
        plan_file=Path(plan_file) if plan_file is not None else None,
        sets=checked_values(ruleset, sets or {}, label="sets"),
        interactive=confirm is not None,
        confirm=confirm,
        focus=chosen.record(),
        wait_for_approval=wait_for_approval,
        focus_arguments=chosen.arguments(),
    )
    reporter = None
    if echo:
        from .executor.report import Reporter

        reporter = Reporter("text")
        on_event = _both(reporter.event, on_event)
        on_output = _both(reporter.output, on_output)
    runner = Runner(ruleset, options, on_event=on_event, on_output=on_output)
    try:
        result = runner.run()
    finally:
        if reporter is not None:
            reporter.close()
    if reporter is not None:
        reporter.summary(result)
    return result


def approve(
    ruleset: Ruleset, steps: Iterable[str] = (), *, by: str | None = None
) -> dict[str, Any]:
    """Approve what the goal's waiting run waits for, as ``goap-engine approve``.

    ``steps`` are ids, names or labels (all waiting steps when empty); ``by``
    says who (default ``$GOAP_APPROVER``, else the login name).  Returns the
    journalled ``approval_given`` event; ``InputError`` when nothing waits.
    """
    from .executor.waiting import approve as record

    _check_ruleset(ruleset)
    if isinstance(steps, str):
        steps = [steps]
    return record(ruleset, list(steps), by)


def focus(
    ruleset: Ruleset,
    *,
    targets: Iterable[str] = (),
    tags: Iterable[str] = (),
    skip_tags: Iterable[str] = (),
) -> Ruleset:
    """Return ``ruleset`` narrowed as ``--target``, ``--tag``, ``--skip-tag`` do.

    Each target is a part of the goal (its name under ``goal:``), an action
    (its effects become the goal) or a condition; tags restrict the actions
    the planner may use.  The result plans with ``find_plan`` and senses with
    ``sense`` like any ruleset; an unknown name raises ``InputError`` with a
    did-you-mean.
    """
    from .planner.focus import Focus, narrow

    _check_ruleset(ruleset)
    chosen = Focus(_names(targets), _names(tags), _names(skip_tags))
    return narrow(ruleset, chosen).ruleset


def _names(values: Iterable[str]) -> tuple[str, ...]:
    """Return ``values`` as a tuple of strings; one string is one name."""
    if isinstance(values, str):
        return (values,)
    names = tuple(values)
    odd = next((v for v in names if not isinstance(v, str)), None)
    if odd is not None:
        raise InputError(f"expected names (strings), found {odd!r}")
    return names


def _both(first: Callable[..., None], second: Callable[..., None] | None) -> Any:
    """Return a callback calling ``first`` then ``second`` (if any)."""
    if second is None:
        return first

    def call(*args: Any) -> None:
        first(*args)
        second(*args)

    return call


def _check_ruleset(ruleset: Any) -> None:
    """Refuse what is not a ruleset (a path given where ``load(path)`` belongs)."""
    if not isinstance(ruleset, Ruleset):
        raise InputError(
            f"expected a Ruleset (from goap_engine.load(path)), "
            f"found {type(ruleset).__name__}"
        )
