"""Read ``runs_on:``, ``inputs:`` and ``outputs:``: where an action's hook runs.

Only the names of the executors live here (the language must know them to
check a file); running a step elsewhere is the executor layer's business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..documents import Document, PathKey
from ..errors import Location
from ..model import Hook, Placement

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
    error: Callable[[Location, str, str], None],
) -> Placement | None:
    """Return where the action at ``keys`` runs; None for this machine."""
    raw = spec.get("runs_on", "local")
    where = doc.where((*keys, "runs_on"))
    if isinstance(raw, str):
        name, options = raw, {}
    elif isinstance(raw, dict) and len(raw) == 1:
        name, value = next(iter(raw.items()))
        name, options = str(name), dict(value or {})
        where = doc.where((*keys, "runs_on", name), key=True)
    else:
        return None  # the schema has reported it
    inputs = _globs(doc, keys, "input", spec.get("inputs"), entity, error)
    outputs = _globs(doc, keys, "output", spec.get("outputs"), entity, error)
    if name == "local":
        if options:
            error(where, "'local' takes no settings", entity)
        return None
    known = executor_names()
    if name not in known:
        error(
            where,
            f"runs_on: unknown executor '{name}', expected one of "
            f"{', '.join(sorted(known))} (others come from installed packages "
            f"registering the '{ENTRY_POINTS}' entry point)",
            entity,
        )
        return None
    if hook is None or hook.kind not in ("shell", "argv"):
        # A Python or built-in hook runs in the engine's own worker, which
        # cannot move to another machine; a command can.
        found = "no 'run'" if hook is None else f"a {hook.kind} hook"
        error(
            where,
            f"runs_on: {name} runs a command: expected a shell or argv hook, "
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


def _globs(
    doc: Document,
    keys: PathKey,
    what: str,
    raw: Any,
    entity: str,
    error: Callable[[Location, str, str], None],
) -> tuple[str, ...]:
    from .actions import _glob_problem  # actions imports this module

    globs = []
    for i, item in enumerate(raw or ()):
        text = str(item)
        problem = _glob_problem(text)
        if problem:
            where = doc.where((*keys, f"{what}s", i))
            error(where, f"{what} {text!r}: {problem}", entity)
            continue
        globs.append(text)
    return tuple(globs)
