"""Read a goal file's own settings: ``goal:``, ``policy:`` and ``workdir:``.

The goal is a list of conditions, or named groups of them (sub-goals).  The
workdir and state file stay inside the goal's project unless the policy
allows otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..documents import Document, PathKey
from ..errors import FileError
from ..files import is_inside, note, outside_message, project_root
from ..model import Condition, SubGoal
from .scope import Scope


class GoalReading(Scope):
    """Read the goal's conditions, its policy and where it works."""

    def goal(self, doc: Document) -> tuple[SubGoal, ...]:
        raw = doc.data.get("goal")
        if raw is None:
            return ()
        groups: list[tuple[str, PathKey, Any]]
        if isinstance(raw, dict):
            groups = [(str(n), ("goal", n), v) for n, v in raw.items()]
        else:
            groups = [("goal", ("goal",), raw)]
        subgoals = []
        for name, keys, value in groups:
            conditions = self.condition_list(
                doc, keys, value, f"goal '{name}'", "condition"
            )
            subgoals.append(
                SubGoal(name, tuple(Condition(e, w) for e, w in conditions))
            )
        return tuple(subgoals)

    def check_policy(self, policy: Mapping[str, Any]) -> None:
        if "search" not in policy and "heuristic" not in policy:
            return  # nothing to check: the planner's modules stay unimported
        from ..planner.heuristics import HEURISTICS
        from ..planner.search import SEARCHES

        for key, known in (("search", SEARCHES), ("heuristic", HEURISTICS)):
            if key in policy and policy[key] not in known:
                self.error(
                    self.root.where(("policy", key)),
                    f"unknown {key} {policy[key]!r} (expected one of: "
                    f"{', '.join(known)})",
                    "policy",
                )

    def check_inside(self, key: str, path: Path) -> None:
        """Refuse a ``workdir`` or ``state_file`` outside the goal's project."""
        project = project_root(self.root.path)
        try:
            inside = is_inside(path, project)
        except FileError as exc:
            self.error(self.root.where((key,)), f"{path}: {exc.reason}", key)
            return
        note("inside", str(self.root.path), str(path))
        if not inside:
            self.error(
                self.root.where((key,)),
                outside_message(
                    path, project, "the path", "'policy: {allow_outside: true}'"
                ),
                key,
            )

    def workdir(self) -> Path:
        data = self.root.data
        folder = self.root.path.parent
        if "workdir" in data:
            return (folder / str(data["workdir"])).absolute()
        if folder.name == "goals.d":
            return folder.parent
        return folder


def tracking(value: Any) -> str | None:
    if value is None or value is False:
        return None
    if isinstance(value, Mapping):
        return str(value.get("tracking_uri") or "")
    return "" if value is True else str(value)


def tracking_bounds(value: Any) -> tuple[tuple[str, float], ...]:
    """Return the bounds of ``policy.mlflow`` given as a mapping, else none."""
    if not isinstance(value, Mapping):
        return ()
    return tuple(
        (name, float(value[name]))
        for name in ("http_timeout", "retries", "max_wait")
        if name in value
    )


def relative(path: Path, base: Path) -> str:
    try:
        return str(path.absolute().relative_to(base.absolute()))
    except ValueError:
        return str(path.absolute())
