"""Saved plans (``plan -o plan.json``) read back for ``run --plan``.

A saved plan runs as shown or is refused with the reason: the rules and the
start state it was made from must be the ones the run finds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import Diagnostic, FileError, InputError, PlanInvalidError
from ..files import read_json
from ..model import Ruleset
from ..planner.plan import Plan, Step, apply, guarantee_of, step_cost
from ..values import fingerprint, ruleset_fingerprint, state_dict, steps_fingerprint

State = tuple[Any, ...]


def read_plan_file(ruleset: Ruleset, path: Path) -> dict[str, Any]:
    """Return a saved plan's data if it was made for ``ruleset`` as it is now.

    Checked before a run starts, so a wrong file costs nothing: no run is
    recorded and nothing is sensed.
    """
    try:
        data = read_json(path)
    except FileError as exc:
        where = exc.diagnostics[0].location
        raise InputError(
            Diagnostic(where, f"cannot read the saved plan: {exc.reason}")
        ) from None
    if not isinstance(data, dict) or data.get("format") != "goap-engine/plan":
        raise InputError(f"{path}: not a goap-engine plan file")
    made_for = data.get("goal")
    # A relative path was written from wherever `plan` ran; compare names then.
    if isinstance(made_for, str) and (
        Path(made_for).resolve() != ruleset.path.resolve()
        if Path(made_for).is_absolute()
        else Path(made_for).name != ruleset.path.name
    ):
        raise InputError(
            f"{path}: this plan was made for {made_for}, not {ruleset.path}"
        )
    prints = data.get("fingerprint")
    if not isinstance(prints, dict) or prints.get("ruleset") != ruleset_fingerprint(
        ruleset
    ):
        raise InputError(
            f"{path}: the rules changed since this plan was made; plan again"
        )
    # The steps run as written, so a hand edit (a step added, removed or
    # renamed: a plan of 100,000 steps) is refused before anything runs.
    steps = data.get("steps")
    names = [
        item.get("action") if isinstance(item, dict) else None
        for item in (steps if isinstance(steps, list) else [None])
    ]
    if None in names or prints.get("steps") != steps_fingerprint(names):
        raise InputError(
            f"{path}: the steps are not the ones 'plan' wrote (edited, or saved "
            "by an older version); plan again"
        )
    return data


def load_saved_plan(ruleset: Ruleset, path: Path, state: State) -> Plan:
    """Return the plan saved in ``path`` if it still fits ``ruleset`` and ``state``."""
    data = read_plan_file(ruleset, path)
    try:
        return _saved_plan(ruleset, path, data, state)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # A hand-edited or truncated file: bad input, not an engine bug.
        raise InputError(
            f"{path}: malformed plan file ({type(exc).__name__}: {exc})"
        ) from None


def _saved_plan(
    ruleset: Ruleset, path: Path, data: dict[str, Any], state: State
) -> Plan:
    prints = data["fingerprint"]
    # As the plan file has it: without the secret variables.
    start = ruleset.stored(state_dict(ruleset, state))
    if prints.get("start") != fingerprint(start):
        saved = data.get("start", {})
        changed = [
            f"{k}: planned from {saved.get(k)!r}, now {v!r}"
            for k, v in start.items()
            if saved.get(k) != v
        ]
        raise InputError(
            f"{path}: the start state differs from the plan's "
            f"({'; '.join(changed) or 'values'}); plan again"
        )
    steps = []
    state_now = state
    for i, item in enumerate(data.get("steps", []), 1):
        try:
            action = ruleset.action(str(item["action"]))
        except KeyError:
            raise InputError(
                f"{path}: step {i}: no action {item['action']!r} in the rules; "
                "plan again"
            ) from None
        steps.append(Step(i, action, step_cost(action, state_now, ruleset)))
        try:
            state_now = apply(ruleset, action, state_now)
        except PlanInvalidError as exc:
            raise InputError(
                f"{path}: step {i}: {exc}, in the state the steps before it "
                "leave; plan again"
            ) from None
    kind, bound = guarantee_of(data["search"], data["heuristic"], 2.0)
    return Plan(
        ruleset,
        state,
        tuple(steps),
        float(data["cost"]),
        kind,
        bound,
        data["search"],
        data["heuristic"],
        0,
        0,
        0.0,
        len(steps),
        0,
    )
