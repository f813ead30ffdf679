"""Read ``runs_on:``, ``inputs:`` and ``outputs:``: where an action's hook runs.

Only the names of the executors live here (the language must know them to
check a file); running a step elsewhere is the executor layer's business.

``runs_on: "{{ training_runs_on }}"`` and ``inputs: ["{{ src }}/**/*.py"]``
are templates of vars, rendered here, at load: the planner weighs a step by
where it runs, and the ruleset cache keeps the result, so a placement is
fixed before any plan and may read nothing that changes during a run (state,
the environment).  A goal's ``policy: {executors: ...}`` gives every step on
an executor its default settings (``with_defaults``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..documents import Document, PathKey
from ..errors import Location
from ..model import Action, Hook, Placement
from .scope import clip

ErrorSink = Callable[[Location, str, str], None]

ENTRY_POINTS = "goap_engine.executors"
"""The entry-point group through which installed packages add executors."""

EXTRAS: dict[str, tuple[str, str]] = {
    "ray": ("ray", "ray"),
    "modal": ("modal", "modal"),
}
"""Executor name -> (the module it imports, the extra that installs it)."""


def executor_names() -> frozenset[str]:
    """Return every executor a step may name: built in, or from a package."""
    # Imported here: only a file with a remote step pays for reading the
    # installed packages' metadata.
    from importlib.metadata import entry_points

    found = {e.name for e in entry_points(group=ENTRY_POINTS)}
    return frozenset({"local", *EXTRAS, *found})


def read_placement(
    doc: Document,
    keys: PathKey,
    spec: dict[str, Any],
    hook: Hook | None,
    entity: str,
    error: ErrorSink,
    values: Mapping[str, Any],
) -> Placement | None:
    """Return where the action at ``keys`` runs; None for this machine."""
    raw = spec.get("runs_on", "local")
    where = doc.where((*keys, "runs_on"))
    lead = "runs_on: "
    if isinstance(raw, str):
        name, options = raw, {}
        if "{" in raw:
            name, read, problem = render_vars(raw, values)
            if problem:
                error(where, f"runs_on {raw!r}: {problem}", entity)
                return None
            lead = f"runs_on: {raw!r} is {clip(name)!r}{_from(read)}: "
    elif isinstance(raw, dict) and len(raw) == 1:
        name, value = next(iter(raw.items()))
        name, options = str(name), dict(value or {})
        where = doc.where((*keys, "runs_on", name), key=True)
    else:
        return None  # the schema has reported it
    inputs = _globs(doc, keys, "input", spec.get("inputs"), entity, error, values)
    outputs = _globs(doc, keys, "output", spec.get("outputs"), entity, error, values)
    if name == "local":
        if options:
            error(where, "'local' takes no settings", entity)
        return None
    known = executor_names()
    if name not in known:
        error(where, lead + unknown_executor(name, known), entity)
        return None
    if hook is None or hook.kind not in ("shell", "argv"):
        # A Python or built-in hook runs in the engine's own worker, which
        # cannot move to another machine; a command can.
        found = "no 'run'" if hook is None else f"a {hook.kind} hook"
        error(
            where,
            f"{lead}{name} runs a command: expected a shell or argv hook, "
            f"found {found}",
            entity,
        )
        return None
    if "cwd" in spec:
        error(
            doc.where((*keys, "cwd"), key=True),
            f"cwd: a step that runs on {name} runs in a folder of its own "
            "holding its inputs; leave cwd out and name paths from the workdir",
            entity,
        )
        return None
    return Placement(name, options, inputs, outputs, where)


def unknown_executor(name: str, known: frozenset[str]) -> str:
    """Return the message for an executor ``name`` that is not in ``known``."""
    if not name:
        return f"expected an executor's name, one of {', '.join(sorted(known))}"
    names = sorted(known)
    # A var may hold pages of text: only what could be a typo is compared.
    close = difflib.get_close_matches(name, names, n=1) if len(name) < 100 else []
    others = "others come from installed packages registering the "
    others += f"'{ENTRY_POINTS}' entry point"
    if close:
        others = f"did you mean '{close[0]}'? O{others[1:]}"
    return (
        f"unknown executor {clip(name)!r}, expected one of "
        f"{', '.join(names)} ({others})"
    )


def render_vars(text: str, values: Mapping[str, Any]) -> tuple[str, list[str], str]:
    """Return ``text`` rendered with ``values``, the vars it read, and a problem.

    The problem is '' when the template reads only vars and renders.  It is
    rendered in the templates' sandbox, and a var's value is text to it,
    never a template: nothing a var holds reaches Python.
    """
    from ..templates import render, template_names

    try:
        names = template_names(text)
    except ValueError as exc:
        return "", [], f"template error: {exc}"
    outside = sorted(names - set(values))
    if outside:
        return (
            "",
            [],
            f"reads '{outside[0]}', which is not a var: a placement is fixed "
            "when the goal is loaded, before any plan, so it may read vars only "
            "(give one with --var NAME=VALUE)",
        )
    read = sorted(names)
    try:
        return render(text, {n: values[n] for n in read}), read, ""
    except ValueError as exc:
        return "", read, f"template error: {exc}"


def _from(read: list[str]) -> str:
    if not read:
        return ""
    return f" (from var{'s' if len(read) > 1 else ''} {', '.join(read)})"


def _globs(
    doc: Document,
    keys: PathKey,
    what: str,
    raw: Any,
    entity: str,
    error: ErrorSink,
    values: Mapping[str, Any],
) -> tuple[str, ...]:
    from .actions import _glob_problem  # actions imports this module

    globs = []
    for i, item in enumerate(raw or ()):
        text = str(item)
        where = doc.where((*keys, f"{what}s", i))
        shown = f"{what} {text!r}"
        if "{" in text:
            text, read, problem = render_vars(text, values)
            if problem:
                error(where, f"{shown}: {problem}", entity)
                continue
            shown += f" is {clip(text)!r}{_from(read)}"
        problem = _glob_problem(text)
        if problem:
            error(where, f"{shown}: {problem}", entity)
            continue
        if text not in globs:
            globs.append(text)
    return tuple(globs)


def with_defaults(
    goal: Document, actions: Sequence[Action], error: ErrorSink
) -> list[Action]:
    """Return ``actions`` with the goal's ``policy.executors`` settings merged in.

    The goal's settings for an executor are every step's defaults there; a
    step's own ``runs_on`` settings win key by key.  Then a run must need one
    Ray cluster at most (see ``_one_cluster``).
    """
    policy = goal.data.get("policy") or {}
    defaults: dict[str, Mapping[str, Any]] = {
        str(name): dict(settings or {})
        for name, settings in (policy.get("executors") or {}).items()
    }
    keys: PathKey = ("policy", "executors")
    known = executor_names() if defaults else frozenset()
    for name, settings in defaults.items():
        where = goal.where((*keys, name), key=True)
        if name == "local":
            if settings:
                error(where, "'local' takes no settings", "policy")
            continue
        if name not in known:
            error(where, f"executors: {unknown_executor(name, known)}", "policy")
    placed = []
    for action in actions:
        placement = action.runs_on
        if placement is not None and placement.executor in defaults:
            options = {**defaults[placement.executor], **placement.options}
            action = replace(action, runs_on=replace(placement, options=options))
        placed.append(action)
    _one_cluster(placed, error)
    return placed


def _one_cluster(actions: Sequence[Action], error: ErrorSink) -> None:
    """Refuse steps on two Ray clusters: Ray connects a process to one only."""
    first: tuple[str, Location, str] | None = None
    for action in actions:
        placement = action.runs_on
        if placement is None or placement.executor != "ray":
            continue
        # As the Ray executor reads it when it connects.
        address = str(placement.options.get("address") or "local")
        if first is None:
            first = (action.name, placement.location, address)
            continue
        other, where, theirs = first
        if address != theirs:
            error(
                placement.location,
                f"runs_on: ray address '{address}' differs from '{theirs}', where "
                f"action '{other}' runs ({where}): a run uses one Ray cluster "
                "(Ray connects a process to one)",
                f"action '{action.name}'",
            )
