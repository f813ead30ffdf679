"""The state every command starts from, and where each of its values came from.

``plan``, ``explain``, ``run`` and ``run --dry-run`` all call
:func:`start_state`, so they see the same world: the defaults, overlaid by
the stored state, minus the remembered facts that expired, overlaid by the
sensors the goal can need, overlaid by ``--set``.  A saved plan therefore runs
from the state it was made from, and a failing sensor means the same thing
everywhere (:func:`check_unknowns`).

Each value carries an *origin*, a JSON-able record persisted beside the values
in the state file::

    {"kind": "remembered", "action": "A01: train", "run": "abc", "at": "...Z",
     "sources": {"globs": [...], "files": {...}}}
    {"kind": "sensed", "at": "...Z"}
    {"kind": "set", "at": "...Z", "by": "state set"}
    {"kind": "default"}
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic, FileError, InputError, Location, NoPlanError
from ..files import read_json
from ..model import EMPTY, Action, Ruleset, StateVar
from ..planner.plan import Plan
from ..planner.relevance import relevant_variables
from ..store import read_stored
from ..values import secret_values, state_dict, with_values
from .redaction import Redactor

if TYPE_CHECKING:
    from .worker import WorkerPool

# The engine writes these itself, about 150 bytes a source file: room
# for some 400,000 files, while a FIFO or /dev/zero is still refused.
MAX_FINGERPRINT_BYTES = 64 * 1024 * 1024

State = tuple[Any, ...]
Origin = dict[str, Any]

# Files of the engine's own workspace change with every run; no fact depends on them.
_WORKSPACE = ".goap"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SensorFailure:
    """Why a sensor gave no value, and where that sensor is declared."""

    reason: str
    location: Location


@dataclass(frozen=True)
class Start:
    """The start state of a command, with what is known about each value."""

    state: State
    origins: Mapping[str, Origin]
    sensed: Mapping[str, Any]
    failures: Mapping[str, SensorFailure]
    forgotten: Mapping[str, str]
    state_file: Path | None = None

    @property
    def unknown(self) -> frozenset[str]:
        """Return the variables whose sensor failed (their value is a guess)."""
        return frozenset(self.failures)


def default_state_file(ruleset: Ruleset) -> Path:
    """Return where ``ruleset``'s runs persist their state."""
    # The one place that knows where the runner keeps its files.
    from .workspace import state_path

    return state_path(ruleset)


def stamp(moment: datetime) -> str:
    """Return ``moment`` as the ISO 8601 UTC text used in state files."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_stamp(text: Any) -> datetime | None:
    """Return the time in a state file's ``at`` field, or None if it has none."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def start_state(
    ruleset: Ruleset,
    *,
    state_file: Path | None = None,
    sets: Mapping[str, Any] = EMPTY,
    sense: bool = True,
    fresh: bool = False,
    run_id: str | None = None,
    log: Callable[[str], None] = lambda _: None,
    now: datetime | None = None,
    redact: Redactor | None = None,
    pool: WorkerPool | None = None,
    stop: threading.Event | None = None,
) -> Start:
    """Return the state to plan from: defaults, stored, expired, sensed, ``--set``.

    ``state_file`` replaces the goal's own state file; ``fresh`` ignores what
    is stored.  ``run_id`` is the run asking (facts remembered for one run
    hold only in it).  Only sensors of variables the goal can need run; a
    failing one leaves its variable unknown (see :func:`check_unknowns`).
    The values of secret variables join ``redact`` as they become known.
    """
    redact = redact if redact is not None else Redactor.from_env(ruleset.secrets)
    redact.add(*secret_values(ruleset, sets))
    moment = now or datetime.now(UTC)
    at = stamp(moment)
    state = ruleset.default_state()
    origins: dict[str, Origin] = {n: {"kind": "default"} for n in ruleset.names}
    path = state_file or default_state_file(ruleset)
    used: Path | None = None
    if not fresh and (state_file is not None or path.exists()):
        values, stored = read_stored(ruleset, path)
        _load_fingerprints(ruleset, stored)
        state = with_values(ruleset, state, values)
        for name, value in values.items():
            origins[name] = stored.get(name) or _unrecorded(ruleset.var(name), value)
        used = path
    forgotten = expire(ruleset, origins, run_id=run_id, now=moment)
    state = with_values(ruleset, state, {n: ruleset.var(n).default for n in forgotten})
    for name in forgotten:
        origins[name] = {"kind": "default"}
    sensed: dict[str, Any] = {}
    failures: dict[str, SensorFailure] = {}
    if sense:
        # Sensors run hooks in processes and workers: `plan --no-sense` and
        # `state show` never load that machinery.
        from .sensing import sense as read_sensors

        wanted = relevant_variables(ruleset)
        readings = read_sensors(
            ruleset,
            state_dict(ruleset, state),
            log,
            wanted,
            pool=pool,
            stop=stop,
            redact=redact,
        )
        for reading in readings:
            var = ruleset.var(reading.name)
            if reading.ok:
                sensed[reading.name] = reading.value
                origins[reading.name] = {"kind": "sensed", "at": at}
            else:
                assert var.sensor is not None
                failures[reading.name] = SensorFailure(
                    redact(reading.error), var.sensor.hook.location
                )
        state = with_values(ruleset, state, sensed)
    state = with_values(ruleset, state, sets)
    for name in sets:
        origins[name] = {"kind": "set", "at": at, "by": "--set"}
        failures.pop(name, None)
    redact.add(*secret_values(ruleset, state_dict(ruleset, state)))
    return Start(state, origins, sensed, failures, forgotten, used)


def stored_origins(
    ruleset: Ruleset, *, now: datetime | None = None
) -> tuple[dict[str, Any], dict[str, Origin], dict[str, str]]:
    """Return the stored values, their origins, and which have expired and why.

    Nothing is sensed or forgotten: this is what ``state show`` reports.
    """
    path = default_state_file(ruleset)
    values, stored = read_stored(ruleset, path) if path.exists() else ({}, {})
    _load_fingerprints(ruleset, stored)
    state = with_values(ruleset, ruleset.default_state(), values)
    origins: dict[str, Origin] = {}
    for var in ruleset.variables:
        if var.name in values:
            origins[var.name] = stored.get(var.name) or _unrecorded(
                var, values[var.name]
            )
        else:
            origins[var.name] = {"kind": "default"}
    expired = expire(ruleset, origins, run_id=None, now=now or datetime.now(UTC))
    return state_dict(ruleset, state), origins, expired


def describe_origin(var: StateVar, origin: Mapping[str, Any]) -> str:
    """Return where a value came from, for people: kind, when, by what, how long."""
    kind = origin.get("kind")
    at = origin.get("at")
    if kind == "sensed":
        return f"sensed {at}" if at else "sensed"
    if kind == "set":
        parts = [f"set with {origin.get('by') or 'state set'}"]
        if at:
            parts.append(str(at))
    elif kind == "remembered":
        parts = ["remembered"]
        if at:
            parts.append(f"since {at}")
        if origin.get("action"):
            parts.append(f"set by {origin['action']}")
        if origin.get("run"):
            parts.append(f"in run {origin['run']}")
        if not at and not origin.get("action"):
            parts.append("(origin not recorded)")
    else:
        return "default"
    if var.remember == "run":
        parts.append("; holds for that run only")
    else:
        until = expires_at(var, origin)
        if until is not None:
            parts.append(f"; expires {stamp(until)}")
    sources = origin.get("sources")
    if isinstance(sources, dict) and sources.get("globs"):
        globs = ", ".join(str(g) for g in sources["globs"])
        parts.append(f"; until {globs} change")
    return " ".join(parts).replace(" ;", ";")


def _unrecorded(var: StateVar, value: Any) -> Origin:
    """Return the origin of a value stored by a version that kept no origins."""
    if value == var.default:
        return {"kind": "default"}
    return {"kind": "sensed" if var.sensor is not None else "remembered"}


def expire(
    ruleset: Ruleset,
    origins: Mapping[str, Origin],
    *,
    run_id: str | None,
    now: datetime,
) -> dict[str, str]:
    """Return the remembered facts that no longer hold, each with the reason."""
    forgotten: dict[str, str] = {}
    prints: dict[str, str] = {}
    for var in ruleset.variables:
        origin = origins.get(var.name) or {}
        kind = origin.get("kind")
        if var.sensor is not None or kind not in ("remembered", "set"):
            continue
        why = _expired(var, origin, run_id, now)
        recorded = origin.get("sources")
        if not why and kind == "remembered" and isinstance(recorded, dict):
            # Several facts of one action share its fingerprint: compare once.
            key = f"{origin.get('action')}\0{origin.get('run')}\0{origin.get('at')}"
            if key not in prints:
                prints[key] = sources_changed(
                    recorded,
                    fingerprint_sources(
                        ruleset.workdir, recorded.get("globs") or (), recorded
                    ),
                )
            if prints[key]:
                why = f"{prints[key]} since {origin.get('action') or 'it was set'}"
        if why:
            forgotten[var.name] = why
    return forgotten


def _expired(var: StateVar, origin: Origin, run_id: str | None, now: datetime) -> str:
    lifetime = var.remember
    if lifetime == "always":
        return ""
    if lifetime == "run":
        run = origin.get("run")
        if run is not None and run == run_id:
            return ""
        return f"remembered for run {run} only" if run else "remembered for one run"
    since = parse_stamp(origin.get("at"))
    if since is None:
        # Stored before origins were kept: its age is unknown, so it stays.
        return ""
    age = (now - since).total_seconds()
    if age <= lifetime:
        return ""
    from ..planner.schedule import format_duration

    return f"older than {format_duration(lifetime)} (set {origin.get('at')})"


def expires_at(var: StateVar, origin: Mapping[str, Any]) -> datetime | None:
    """Return when a remembered value of ``var`` with ``origin`` expires, if known."""
    since = parse_stamp(origin.get("at"))
    if isinstance(var.remember, float) and since is not None:
        from datetime import timedelta

        return since + timedelta(seconds=var.remember)
    return None


def fingerprint_sources(
    workdir: Path, globs: Iterable[str], previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the fingerprint of the files ``globs`` match below ``workdir``.

    Per file: size, mtime_ns and the SHA-256 of its content.  A file whose
    size and mtime equal those in ``previous`` keeps its recorded hash, so a
    large model file is read only when it may have changed.
    """
    patterns = list(globs)
    known = (previous or {}).get("files") or {}
    files: dict[str, dict[str, Any]] = {}
    for path in _matches(workdir, patterns):
        rel = path.relative_to(workdir).as_posix()
        if rel in files:
            continue
        try:
            info = path.stat()
        except OSError:
            continue
        old = known.get(rel)
        if (
            isinstance(old, dict)
            and old.get("size") == info.st_size
            and old.get("mtime_ns") == info.st_mtime_ns
            and isinstance(old.get("sha256"), str)
        ):
            digest = old["sha256"]
        else:
            try:
                digest = _sha256(path)
            except OSError:
                continue
        files[rel] = {
            "size": info.st_size,
            "mtime_ns": info.st_mtime_ns,
            "sha256": digest,
        }
    return {"globs": patterns, "files": dict(sorted(files.items()))}


def _matches(workdir: Path, patterns: Sequence[str]) -> Iterable[Path]:
    for pattern in patterns:
        # 'data/**' means everything below data/, not only its folders.
        if pattern.endswith("**"):
            pattern += "/*"
        for path in workdir.glob(pattern):
            if path.is_file() and _WORKSPACE not in path.relative_to(workdir).parts:
                yield path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sources_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Return what differs between two fingerprints ('' when nothing did)."""
    if list(old.get("globs") or ()) != list(new.get("globs") or ()):
        return "the sources' patterns changed"
    before: Mapping[str, Any] = old.get("files") or {}
    after: Mapping[str, Any] = new.get("files") or {}
    changes = [f"{p} is new" for p in after if p not in before]
    changes += [f"{p} was deleted" for p in before if p not in after]
    changes += [
        f"{p} changed"
        for p, item in after.items()
        if p in before and _hash(before[p]) != _hash(item)
    ]
    if not changes:
        return ""
    more = f" (and {len(changes) - 3} more)" if len(changes) > 3 else ""
    return ", ".join(changes[:3]) + more


def _hash(item: Any) -> Any:
    return item.get("sha256") if isinstance(item, dict) else None


def _load_fingerprints(ruleset: Ruleset, origins: Mapping[str, Origin]) -> None:
    """Bring back the large fingerprints the state file keeps by reference.

    One that cannot be read is empty: every source then looks new, and the
    facts depending on it are forgotten rather than trusted blindly.
    """
    from .workspace import sources_dir

    for origin in origins.values():
        sources = origin.get("sources")
        if not isinstance(sources, dict) or not sources.get("files_at"):
            continue
        path = sources_dir(ruleset) / Path(str(sources["files_at"])).name
        try:
            files = read_json(path, MAX_FINGERPRINT_BYTES)
        except FileError:  # a FIFO, a device, too large, too deep, not JSON
            files = {}
        valid = isinstance(files, dict) and all(
            isinstance(item, dict) for item in files.values()
        )
        sources["files"] = files if valid else {}


def record_facts(
    origins: dict[str, Origin],
    ruleset: Ruleset,
    action: Action,
    *,
    run_id: str,
    fingerprint: Mapping[str, Any] | None,
    at: str,
) -> None:
    """Record in ``origins`` that ``action`` established its unsensed effects.

    ``fingerprint`` is :func:`fingerprint_sources` of the action's sources,
    taken before its hook ran, so a change made while it ran counts as a
    change after it.
    """
    remember_facts(
        origins,
        ruleset,
        action.writes,
        by=action.label,
        run_id=run_id,
        at=at,
        fingerprint=fingerprint,
    )


def remember_facts(
    origins: dict[str, Origin],
    ruleset: Ruleset,
    names: Iterable[str],
    *,
    by: str,
    run_id: str,
    at: str,
    fingerprint: Mapping[str, Any] | None = None,
) -> None:
    """Record in ``origins`` that ``by`` set the unsensed variables ``names``."""
    for name in sorted(names):
        if ruleset.var(name).sensor is not None:
            continue
        origin: Origin = {"kind": "remembered", "action": by, "run": run_id, "at": at}
        if fingerprint is not None:
            origin["sources"] = dict(fingerprint)
        origins[name] = origin


def note_sensed(origins: dict[str, Origin], names: Iterable[str], at: str) -> None:
    """Record in ``origins`` that ``names`` were just read from their sensors."""
    for name in names:
        origins[name] = {"kind": "sensed", "at": at}


def checked_plan(
    ruleset: Ruleset,
    start: Start,
    find: Callable[[], Plan],
) -> tuple[Plan, list[str]]:
    """Return ``find()``'s plan and warnings about unknown values it does not need.

    The one rule of plan, explain and run: the goal's unknowns stop before
    searching; when no plan is found, an unknown the search could need is
    named instead of "no plan"; otherwise the plan's steps decide.
    """
    check_unknowns(ruleset, start, ())
    try:
        plan = find()
    except NoPlanError:
        check_unknowns(ruleset, start, None)
        raise
    return plan, check_unknowns(ruleset, start, [s.action for s in plan.steps])


def check_unknowns(
    ruleset: Ruleset, start: Start, steps: Sequence[Action] | None = ()
) -> list[str]:
    """Refuse to act on a value a sensor failed to read; return the other failures.

    Raise InputError naming each unknown variable the goal or one of
    ``steps`` reads (preconditions, effects, cost, wait condition), with the
    sensor's reason and location.  ``steps=None`` means no plan was found:
    then every variable that could change the answer counts as read.  Return
    one warning per failure nothing reads, for the caller to show.
    """
    if not start.failures:
        return []
    readers: dict[str, str] = {}
    for condition in ruleset.conditions:
        for name in condition.expr.reads:
            readers.setdefault(name, f"goal condition '{condition.expr.source}'")
    if steps is None:
        for name in relevant_variables(ruleset):
            readers.setdefault(name, "the search for a plan")
        steps = ()
    for action in steps:
        # What a step's command reads through templates is sensed again when
        # the step starts (an earlier step may be what creates it), and the
        # step does not run if it is still unknown then (see ``steps``).
        for name in action.inputs:
            readers.setdefault(name, f"step {action.label}")
    problems = []
    warnings = []
    for name, failure in start.failures.items():
        if name in readers:
            problems.append(
                Diagnostic(
                    failure.location,
                    f"sensor failed: {failure.reason}; {readers[name]} needs it, "
                    "so nothing is run (fix the sensor, or give the value with "
                    f"--set {name}=VALUE)",
                    f"state variable '{name}'",
                )
            )
        else:
            warnings.append(
                f"warning: {failure.location}: sensor of '{name}' failed "
                f"({failure.reason}); neither the goal nor the plan reads it"
            )
    if problems:
        raise InputError(problems)
    return warnings
