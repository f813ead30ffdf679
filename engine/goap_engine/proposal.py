"""Proposals checked before they land: a pack or goal change, loaded in memory.

``goap-engine propose FILE`` (and the MCP tool ``propose``) takes the YAML
text of a candidate file and loads the goal with it -- replacing the file it
names (``--as``; the goal itself when the text has a ``goal:``), or added to
what the goal uses when it is a new pack -- without writing anything.  It
returns the candidate's diagnostics and the plan it gives next to the
current plan, both from the same start state: so an agent can try an action
and see whether it makes an unreachable goal reachable, and at what cost,
before it edits a file.

The start state is the current project's: stored values and the current
sensors.  A sensor the proposal adds or changes is *not* run (its command is
only a proposal); its variable starts at its default, and the result says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import InputError, NoPlanError, display_path
from .executor.workspace import ROOT as WORKSPACE
from .files import is_inside, project_root, regular_file_problem, resolved
from .model import Ruleset
from .render import diagnostics_data
from .yaml_reader import YamlError, parse

PROPOSED_NAME = "proposal.yaml"
"""Where a new pack is taken to be, beside the goal, unless ``--as`` says."""


def propose(
    goal: Path,
    text: str,
    *,
    replaces: Path | None = None,
    sense: bool = True,
    sets: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Return the proposal's diagnostics and plans (see the module docstring).

    ``source`` names where the text came from (a file, ``-``), for the reader:
    diagnostics name the file the proposal stands for.
    """
    from .language.uses import Bounds
    from .loader import load, load_proposal

    current = load(goal)
    target = _target(goal, text, replaces)
    # A file the goal does not load yet (new, or a pack it does not use) is
    # added to what it uses; one it loads is replaced.
    loaded = {p.path.resolve() for p in current.packs}
    added = None if target.resolve() in loaded else target
    bounds = Bounds(resolved(project_root(goal)), frozenset(loaded))
    proposed, diagnostics = load_proposal(goal, {target: text}, added, bounds)
    if proposed is not None and not any(d.severity == "error" for d in diagnostics):
        from .lint import lint

        diagnostics = diagnostics + lint(proposed)
    errors = [d for d in diagnostics if d.severity == "error"]
    values, unread = _start_values(current, sense, sets or {})
    result: dict[str, Any] = {
        "goal": display_path(goal),
        "source": source,
        "file": display_path(target),
        "mode": "adds" if added is not None else "replaces",
        "valid": not errors,
        # As validate --format json has them: an agent reads both the same way.
        "diagnostics": diagnostics_data(diagnostics)["diagnostics"],
        "current": _planned(current, values),
    }
    if errors or proposed is None:
        result["proposed"] = None
        result["verdict"] = (
            f"the proposal has {len(errors)} error(s): nothing was planned with it"
        )
        return result
    start, defaults = _carried(proposed, values, current)
    not_sensed = sorted(
        v.name
        for v in proposed.variables
        if v.sensor is not None and (v.name in defaults or v.name in unread)
    )
    result["proposed"] = _planned(proposed, start)
    result["proposed"]["not_sensed"] = not_sensed
    result["verdict"] = _verdict(result["current"], result["proposed"])
    return result


def _target(goal: Path, text: str, replaces: Path | None) -> Path:
    """Return the file the proposal stands for; refuse one outside the project."""
    if replaces is None:
        try:
            parsed = parse(text)
        except YamlError as exc:
            raise InputError(
                f"the proposal is not YAML: {exc.reason} (line {exc.line}, "
                f"column {exc.col})"
            ) from None
        data = parsed.data if parsed is not None else None
        is_goal = isinstance(data, dict) and "goal" in data
        return goal if is_goal else goal.parent / PROPOSED_NAME
    if replaces.suffix not in (".yaml", ".yml"):
        raise InputError(f"--as {replaces}: expected a .yaml or .yml file")
    root = project_root(goal)
    if not is_inside(replaces, root):
        real = resolved(replaces)
        link = f" (links resolved: {real})" if real != replaces.absolute() else ""
        raise InputError(
            f"--as {replaces}{link}: expected a file inside the project {root}"
        )
    if WORKSPACE in resolved(replaces).relative_to(resolved(root)).parts:
        raise InputError(
            f"--as {replaces}: expected a goal or pack file; {WORKSPACE}/ holds "
            "the engine's runs and state, not files a goal uses"
        )
    problem = regular_file_problem(replaces) if replaces.exists() else None
    if problem:
        raise InputError(f"--as {replaces}: {problem}")
    return replaces


def _start_values(
    ruleset: Ruleset, sense: bool, sets: Mapping[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    """Return the start values of the current goal and those no sensor could read."""
    from .executor.processes import process_scope
    from .executor.world import start_state
    from .values import checked_values, state_dict

    values = checked_values(ruleset, sets, label="sets") if sets else {}
    with process_scope():
        start = start_state(ruleset, sets=values, sense=sense)
    return state_dict(ruleset, start.state), set(start.failures)


def _carried(
    proposed: Ruleset, values: Mapping[str, Any], current: Ruleset
) -> tuple[tuple[Any, ...], set[str]]:
    """Return the proposed start state: the current values where they still fit.

    A variable the proposal adds, or whose type or sensor it changes, starts
    at its default (returned in the set): its current value may not mean the
    same thing any more.
    """
    from .errors import GoapError
    from .values import check_value

    state = list(proposed.default_state())
    defaults = set()
    before = {v.name: v for v in current.variables}
    for var in proposed.variables:
        old = before.get(var.name)
        if old is None or old.type != var.type or old.sensor != var.sensor:
            defaults.add(var.name)
            continue
        try:
            state[var.index] = check_value(var, values[var.name], show=False)
        except (GoapError, KeyError):
            defaults.add(var.name)
    return tuple(state), defaults


def _planned(
    ruleset: Ruleset, start: Mapping[str, Any] | tuple[Any, ...]
) -> dict[str, Any]:
    """Return the plan from ``start`` as ``plan --format json`` has it, or why not."""
    from .planner.plan import find_plan
    from .render import plan_data
    from .values import with_values

    if isinstance(start, tuple):
        state = start
    else:
        state = with_values(ruleset, ruleset.default_state(), start)
    try:
        plan = find_plan(ruleset, state)
    except NoPlanError as exc:
        return {"reachable": False, "explanation": list(exc.explanation.lines)}
    except InputError as exc:
        return {"reachable": False, "explanation": [str(exc)]}
    return {"reachable": True, **plan_data(plan)}


def _verdict(current: Mapping[str, Any], proposed: Mapping[str, Any]) -> str:
    if not proposed["reachable"]:
        if current["reachable"]:
            return "the goal becomes unreachable with this proposal"
        return "the goal stays unreachable"
    cost = proposed["cost"]
    if not current["reachable"]:
        return f"the goal becomes reachable, at cost {cost:g}"
    before = current["cost"]
    if cost < before:
        return f"the plan gets cheaper: cost {before:g} -> {cost:g}"
    if cost > before:
        return f"the plan costs more: cost {before:g} -> {cost:g}"
    if _names(current) != _names(proposed):
        return f"a different plan at the same cost {cost:g}"
    return "the same plan"


def _names(plan: Mapping[str, Any]) -> list[str]:
    return [str(step.get("action")) for step in plan.get("steps", [])]


def describe(result: Mapping[str, Any]) -> list[str]:
    """Return the result as lines for a person."""
    source = result.get("source")
    came = ""
    if source and source != result["file"]:
        came = f"{'standard input' if source == '-' else source} as "
    lines = [f"proposal: {came}{result['file']} ({result['mode']} it)"]
    for d in result["diagnostics"]:
        where = f"{d['file']}:{d['line']}:{d['col']}: " if d["file"] else ""
        entity = f"{d['entity']}: " if d["entity"] else ""
        lines.append(f"  {where}{d['severity']}: {entity}{d['message']}")
    for label in ("current", "proposed"):
        plan = result.get(label)
        if plan is None:
            continue
        if plan["reachable"]:
            steps = ", ".join(_labels(plan)) or "nothing to do"
            lines.append(
                f"{label}: cost {plan['cost']:g}, {plan['guarantee']}: {steps}"
            )
        else:
            lines.append(f"{label}: no plan")
            lines += [f"  {line}" for line in plan["explanation"]]
        if plan.get("not_sensed"):
            lines.append(
                "  not sensed (the proposal's sensors do not run): "
                + ", ".join(plan["not_sensed"])
            )
    lines.append(f"verdict: {result['verdict']}")
    return lines


def _labels(plan: Mapping[str, Any]) -> Sequence[str]:
    return [
        f"{s.get('id')}: {s.get('action')}" if s.get("id") else str(s.get("action"))
        for s in plan.get("steps", [])
    ]
