"""What a project answers when asked: its plan, why a goal is unreachable, its state.

The command line prints these answers and the MCP server returns them; both
call the functions here, so an answer's data, its checks and its errors are
decided once.  Nothing here prints: what the command line shows on stderr
while it works (forgotten facts, sensor readings, the focus) goes to the
``note`` callback, already redacted.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .assignments import parse_assignments
from .errors import Diagnostic, InputError, Location, NoPlanError
from .goal_files import find_goal

if TYPE_CHECKING:
    from .executor.redaction import Redactor
    from .executor.world import Start
    from .model import Ruleset
    from .planner.focus import Focus, Narrowed
    from .planner.plan import Plan


def _quiet(text: str) -> None:
    """Drop a note nobody asked for."""


@dataclass(frozen=True)
class Planned:
    """A checked plan, the (narrowed) ruleset it is for and what hides its secrets."""

    plan: Plan
    ruleset: Ruleset
    redact: Redactor
    warnings: tuple[str, ...]


def require_goal(ruleset: Ruleset) -> None:
    """Refuse a file without goal conditions (a pack given where a goal belongs)."""
    if not ruleset.conditions:
        raise InputError(
            Diagnostic(
                Location.of(ruleset.path, 1, 1),
                "this file has no 'goal:' (is it a pack? give a goal file, "
                "such as goals.d/production.yaml)",
            )
        )


def require_values(ruleset: Ruleset) -> None:
    """Refuse a goal whose needed steps would get an empty required argument.

    A Hub repository nobody set is found now, not after the steps before it
    ran; ``ruleset`` is the narrowed one, so ``--target`` of a part that does
    not publish needs none.
    """
    from .required_values import empty_required

    if problems := empty_required(ruleset):
        raise InputError(problems)


def validate_files(
    paths: Sequence[Path], *, strict: bool = False
) -> tuple[list[Diagnostic], int]:
    """Return the diagnostics of ``paths`` and how many files were checked.

    With no path, every goal in goals.d/ (or every pack in actions.d/);
    ``strict`` makes warnings errors.
    """
    from .validate import validate_paths

    diagnostics, files = validate_paths(list(paths) or _default_targets())
    if strict:
        diagnostics = [
            Diagnostic(d.location, d.message, d.entity, "error", d.code)
            for d in diagnostics
        ]
    return diagnostics, files


def _default_targets() -> list[Path]:
    from .goal_files import goals_folder

    for folder in (goals_folder(), Path("actions.d")):
        if folder.is_dir():
            found = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
            if found:
                return found
    raise InputError(
        Diagnostic(Location("."), "no PATH given and no goals.d/ or actions.d/ here")
    )


def known_start(
    ruleset: Ruleset,
    state_file: Path | None,
    sets: Sequence[str],
    *,
    sense: bool = True,
    fresh: bool = False,
    redact: Redactor | None = None,
    note: Callable[[str], None] = _quiet,
    verbose: bool = False,
) -> Start:
    """Return the start state every command shares, noting what is unknown.

    Defaults, the stored state (the goal's state file unless ``state_file``),
    remembered facts that expired forgotten, the sensors the goal can need,
    then ``sets``.  Secret values learnt on the way join ``redact``;
    ``verbose`` also notes what the sensors read.
    """
    from .executor.redaction import Redactor
    from .executor.world import start_state

    values = parse_assignments(ruleset, sets)
    if redact is None:
        redact = Redactor.from_env(ruleset.secrets)
    if sense:
        from .executor.processes import process_scope

        # Sensors are hooks: bounded, and whatever they leave behind ended.
        with process_scope():
            start = start_state(
                ruleset, state_file=state_file, sets=values, fresh=fresh, redact=redact
            )
    else:
        start = start_state(
            ruleset,
            state_file=state_file,
            sets=values,
            sense=False,
            fresh=fresh,
            redact=redact,
        )
    for name, why in start.forgotten.items():
        note(f"forgot {name}: {why}")
    if verbose and (start.sensed or start.failures):
        from .values import shown

        readings = [f"{k}={v!r}" for k, v in shown(ruleset, start.sensed).items()]
        readings += [f"{k} failed ({f.reason})" for k, f in start.failures.items()]
        note(redact(f"sensed: {', '.join(readings)}"))
    return start


def _focused(
    goal: Path | None, focus: Focus | None, on_focus: Callable[[Sequence[str]], None]
) -> Narrowed:
    """Return the goal loaded and narrowed to ``focus`` (its lines shown first)."""
    from .loader import load
    from .planner.focus import Focus, narrow

    full = load(find_goal(goal))
    require_goal(full)
    narrowed = narrow(full, focus or Focus())
    on_focus(narrowed.lines)
    return narrowed


def explained(narrowed: Narrowed, state: Any, search: Callable[[], Any]) -> Any:
    """Return ``search()``; a NoPlanError also names what a tag filter left out."""
    from .planner.focus import left_out_needed

    try:
        return search()
    except NoPlanError as exc:
        exc.explanation.lines[:0] = left_out_needed(narrowed, state)
        raise


def plan_goal(
    goal: Path | None,
    *,
    sets: Sequence[str] = (),
    state_file: Path | None = None,
    sense: bool = True,
    search: str | None = None,
    heuristic: str | None = None,
    weight: float = 2.0,
    max_nodes: int = 2_000_000,
    timeout: float = 300.0,
    focus: Focus | None = None,
    pddl: tuple[Path, Path] | None = None,
    on_focus: Callable[[Sequence[str]], None] = lambda lines: None,
    note: Callable[[str], None] = _quiet,
    verbose: bool = False,
) -> Planned:
    """Return the cheapest checked plan to ``goal`` (or the focus), as ``plan`` does.

    Raise ``NoPlanError`` (with its explanation) when there is none and
    ``InputError`` for bad input.  A PDDL problem is its own start state:
    nothing is stored or sensed.
    """
    from .executor.redaction import Redactor
    from .executor.world import checked_plan
    from .planner.plan import find_plan

    if pddl is not None:
        if goal is not None:
            raise InputError("give either GOAL or --pddl DOMAIN PROBLEM, not both")
        from .pddl.convert import load_pddl
        from .planner.focus import Focus, narrow

        # A PDDL goal may be empty, '(:goal (and))': the empty plan reaches it.
        full = load_pddl(*pddl)
        narrowed = narrow(full, focus or Focus())
        on_focus(narrowed.lines)
    else:
        narrowed = _focused(goal, focus, on_focus)
    ruleset = narrowed.ruleset
    require_values(ruleset)
    # A start value given with --set or sensed may hold a secret: plans never
    # show it.
    redact = Redactor.from_env(ruleset.secrets)
    start = known_start(
        ruleset,
        state_file,
        sets,
        sense=sense and not pddl,
        fresh=bool(pddl),
        redact=redact,
        note=note,
        verbose=verbose,
    )
    result, warnings = checked_plan(
        ruleset,
        start,
        lambda: explained(
            narrowed,
            start.state,
            lambda: find_plan(
                ruleset,
                start.state,
                search=search,
                heuristic=heuristic,
                weight=weight,
                max_nodes=max_nodes,
                max_seconds=timeout,
            ),
        ),
    )
    return Planned(result, ruleset, redact, tuple(redact(w) for w in warnings))


def explain_goal(
    goal: Path | None,
    *,
    sets: Sequence[str] = (),
    state_file: Path | None = None,
    sense: bool = True,
    focus: Focus | None = None,
    on_focus: Callable[[Sequence[str]], None] = lambda lines: None,
    note: Callable[[str], None] = _quiet,
    verbose: bool = False,
) -> dict[str, Any]:
    """Return whether ``goal`` (or the focus) is reachable and what blocks it, as data.

    ``subgoals`` lists each part's conditions and whether each holds now;
    ``reachable`` with ``steps`` and ``cost`` when a plan exists, else
    ``why``: the lines saying what blocks it (redacted).
    """
    from .executor.redaction import Redactor
    from .executor.world import checked_plan
    from .planner.explain import explain
    from .planner.focus import left_out_needed
    from .planner.plan import find_plan, reference_eval

    narrowed = _focused(goal, focus, on_focus)
    ruleset = narrowed.ruleset
    redact = Redactor.from_env(ruleset.secrets)
    known = known_start(
        ruleset,
        state_file,
        sets,
        sense=sense,
        redact=redact,
        note=note,
        verbose=verbose,
    )
    start = known.state
    # The same rule as plan and run: an unknown value stops the answer only
    # when the plan (or, without one, the search) needs it.
    try:
        found, warnings = checked_plan(
            ruleset, known, lambda: find_plan(ruleset, start)
        )
    except NoPlanError:
        found, warnings = None, []
    subgoals = [
        {
            "name": subgoal.name,
            "conditions": [
                {
                    "condition": c.expr.source,
                    "holds": reference_eval(ruleset, c.expr, start) is True,
                }
                for c in subgoal.conditions
            ],
        }
        for subgoal in ruleset.subgoals
    ]
    answer: dict[str, Any] = {
        "goal": str(ruleset.path),
        "subgoals": subgoals,
        "warnings": [redact(w) for w in warnings],
        "reachable": found is not None,
    }
    if found is not None:
        answer.update(steps=len(found.steps), cost=found.cost, why=[])
    else:
        why = left_out_needed(narrowed, start) + explain(ruleset, start).lines
        answer.update(steps=None, cost=None, why=[redact(line) for line in why])
    return answer


def stored_state(goal: Path, names: Sequence[str] = ()) -> dict[str, Any]:
    """Return the stored state of ``goal`` (or ``names``) and where it came from.

    ``state`` maps names to values (a secret shows as ``SECRET_SHOWN``: it
    is never stored), ``origins`` says where each came from and ``expired``
    which remembered facts the next plan or run forgets, and why.
    """
    from .executor.workspace import adopt_shared_state
    from .executor.world import stored_origins
    from .loader import load
    from .values import SECRET_SHOWN

    ruleset = load(goal)
    adopt_shared_state(ruleset)
    values, origins, expired = stored_origins(ruleset)
    for name in ruleset.secret_names:
        values[name] = SECRET_SHOWN
        origins[name] = {"kind": "secret"}
    if names:
        for name in names:
            if name not in values:
                close = difflib.get_close_matches(name, list(values), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise InputError(f"state show: no state variable '{name}'{hint}")
        values = {name: values[name] for name in dict.fromkeys(names)}
    return {"state": values, "origins": origins, "expired": expired}
