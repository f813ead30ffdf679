"""Turn a grounded PDDL task into our model, or into YAML files of our language.

Each ground atom becomes a bool state variable and each ground action an
action whose ``pddl`` field keeps the original ``(name arg ...)``, so a plan
can be written back in the IPC format.  ``load_pddl`` builds the model directly
(no YAML round trip) for speed; ``write_yaml`` writes the same task as a pack
and a goal that ``load`` reads to an equivalent ruleset.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from ..errors import Diagnostic, InputError, Location
from ..expressions import Expr, literal
from ..model import Action, Condition, Effect, Pack, Ruleset, StateVar, SubGoal
from .grounder import GroundTask, ground
from .parser import PddlError, parse_domain, parse_problem
from .symmetry import interchangeable

_UNSAFE = re.compile(r"[^a-z0-9_]+")


def _identifier(text: str, taken: set[str]) -> str:
    base = _UNSAFE.sub("_", text.lower().strip("()")).strip("_") or "x"
    if not base[0].isalpha():
        base = "p_" + base
    name, n = base, 2
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    taken.add(name)
    return name


def ground_files(domain: Path, problem: Path) -> GroundTask:
    """Return the grounded task of a PDDL domain and problem (InputError if bad)."""
    return _ground(domain, problem)[0]


def _ground(domain: Path, problem: Path) -> tuple[GroundTask, list[str]]:
    """Return the grounded task and the domain's constants."""
    try:
        parsed = parse_domain(domain)
        task = ground(parsed, parse_problem(problem))
        return task, [c.name for c in parsed.constants]
    except PddlError as exc:
        where = Location.of(exc.path, exc.line, exc.col)
        raise InputError(Diagnostic(where, exc.message, "pddl")) from None
    except OSError as exc:
        raise InputError(f"cannot read PDDL file: {exc}") from None


def names_of(task: GroundTask) -> tuple[list[str], list[str]]:
    """Return identifiers for the task's facts and actions."""
    taken: set[str] = set()
    facts = [_identifier(f, taken) for f in task.facts]
    actions = [_identifier(a.pddl, taken) for a in task.actions]
    return facts, actions


def load_pddl(domain: Path, problem: Path) -> Ruleset:
    """Return the ruleset of a PDDL task, built directly from the grounding."""
    task, constants = _ground(domain, problem)
    fact_names, action_names = names_of(task)
    where = Location.of(problem)
    variables = tuple(
        StateVar(name, "bool", i in task.init, i, where)
        for i, name in enumerate(fact_names)
    )

    def holds(i: int, value: bool) -> Expr:
        name = fact_names[i]
        source = name if value else f"not {name}"
        code = f"s[{i}]" if value else f"(not s[{i}])"
        return Expr(source, "bool", code, frozenset({name}), facts=((name, value),))

    actions = []
    for ground_action, name in zip(task.actions, action_names, strict=True):
        pre = tuple(
            [holds(i, True) for i in ground_action.pre_pos]
            + [holds(i, False) for i in ground_action.pre_neg]
        )
        effects = tuple(
            [Effect(fact_names[i], literal(False), where) for i in ground_action.delete]
            + [Effect(fact_names[i], literal(True), where) for i in ground_action.add]
        )
        actions.append(
            Action(
                name=name,
                id="",
                location=where,
                pre=pre,
                pre_locations=tuple(where for _ in pre),
                effects=effects,
                cost=literal(ground_action.cost),
                pddl=ground_action.pddl,
            )
        )
    goal = [holds(i, True) for i in task.goal_pos] + [
        holds(i, False) for i in task.goal_neg
    ]
    return Ruleset(
        path=problem.absolute(),
        workdir=problem.absolute().parent,
        variables=variables,
        actions=tuple(actions),
        subgoals=(SubGoal("goal", tuple(Condition(e, where) for e in goal)),),
        packs=(
            Pack(domain.stem, domain.absolute()),
            Pack(problem.stem, problem.absolute()),
        ),
        interchangeable=interchangeable(task, constants),
    )


def write_yaml(domain: Path, problem: Path, out: Path) -> tuple[Path, Path]:
    """Write ``actions.d/<problem>.yaml`` and ``goals.d/<problem>.yaml`` in ``out``."""
    task = ground_files(domain, problem)
    fact_names, action_names = names_of(task)
    state: dict[str, Any] = {}
    for i, name in enumerate(fact_names):
        state[name] = {"type": "bool", "default": True} if i in task.init else "bool"
    actions: dict[str, Any] = {}
    for ground_action, name in zip(task.actions, action_names, strict=True):
        body: dict[str, Any] = {"pddl": ground_action.pddl}
        pre = [fact_names[i] for i in ground_action.pre_pos]
        pre += [f"not {fact_names[i]}" for i in ground_action.pre_neg]
        if pre:
            body["pre"] = pre
        effects: dict[str, bool] = {fact_names[i]: False for i in ground_action.delete}
        effects.update({fact_names[i]: True for i in ground_action.add})
        body["effects"] = effects
        body["cost"] = ground_action.cost
        actions[name] = body
    stem = _identifier(problem.stem, set())
    pack_path = out / "actions.d" / f"{stem}.yaml"
    goal_path = out / "goals.d" / f"{stem}.yaml"
    pack_path.parent.mkdir(parents=True, exist_ok=True)
    goal_path.parent.mkdir(parents=True, exist_ok=True)
    yaml = YAML()
    yaml.default_flow_style = None
    yaml.width = 4096
    header = (
        "# yaml-language-server: $schema=https://goap-engine.github.io/schemas/v1/"
        "{}.schema.json\n# Imported from {} and {}.\n"
    )
    with pack_path.open("w", encoding="utf-8") as handle:
        handle.write(header.format("pack", domain.name, problem.name))
        yaml.dump({"version": 1, "state": state, "actions": actions}, handle)
    goal = [fact_names[i] for i in task.goal_pos]
    goal += [f"not {fact_names[i]}" for i in task.goal_neg]
    with goal_path.open("w", encoding="utf-8") as handle:
        handle.write(header.format("goal", domain.name, problem.name))
        yaml.dump(
            {
                "version": 1,
                "uses": [f"../actions.d/{pack_path.name}"],
                "goal": goal,
            },
            handle,
        )
    return pack_path, goal_path
