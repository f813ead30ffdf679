"""Read ``actions:``: preconditions, effects, cost, hook or wait, sources.

An effect is checked against its variable's type, range and enum values when
it is read, so a plan can never set a value the variable does not accept.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from ..documents import Document, PathKey, yaml_type
from ..expressions import Expr, literal
from ..model import MAX_COST, Action, Effect, StateVar, Wait
from .hooks import HookReading
from .runs_on import read_placement
from .scope import clip, parse_duration, plain_value


def read_cost(
    reader: HookReading, doc: Document, keys: PathKey, raw: Any, entity: str
) -> Expr | None:
    """Return an action's cost: a number or a numeric expression (None if wrong).

    A goal's override of the cost is read the same way.
    """
    if not isinstance(raw, str):
        return literal(plain_value(raw))  # the schema checked its range
    cost = reader.compile(doc, keys, raw, entity, "cost")
    if cost is not None and cost.type not in ("int", "float"):
        reader.error(
            doc.where(keys), f"cost must be a number, found {cost.type}", entity
        )
        return None
    if cost is not None and cost.is_const and not 0 <= cost.const <= MAX_COST:
        reader.error(
            doc.where(keys),
            f"cost must be from 0 to {MAX_COST:g}, found {cost.const}",
            entity,
        )
        return None
    return cost


class ActionReading(HookReading):
    """Read actions, their effects and their hooks."""

    def action(self, doc: Document, short: str, raw: Any, name: str) -> Action:
        keys: PathKey = ("actions", short)
        entity = f"action '{name}'"
        spec = dict(raw or {})
        pre = self.condition_list(
            doc, (*keys, "pre"), spec.get("pre"), entity, "precondition"
        )
        effects = self.effects(doc, (*keys, "effects"), spec.get("effects"), entity)
        on_failure = self.effects(
            doc, (*keys, "on_failure"), spec.get("on_failure"), entity
        )
        cost = read_cost(self, doc, (*keys, "cost"), spec.get("cost", 1), entity)
        hook = self.hook(doc, (*keys, "run"), spec["run"]) if "run" in spec else None
        wait = None
        if "wait" in spec:
            w = spec["wait"]
            until = self.condition_list(
                doc, (*keys, "wait", "until"), w["until"], entity, "wait condition"
            )
            if until:
                wait = Wait(
                    until[0][0],
                    self.timeout(
                        doc, (*keys, "wait", "interval"), w.get("interval", 10), entity
                    ),
                    self.timeout(
                        doc, (*keys, "wait", "timeout"), w.get("timeout", 1800), entity
                    ),
                    doc.where((*keys, "wait")),
                )
            if hook is not None:
                self.error(
                    doc.where((*keys, "wait"), key=True),
                    "an action has either 'run' or 'wait', not both",
                    entity,
                )
        env = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
        for key, text in env.items():
            self.check_template_names(doc, (*keys, "env", key), [text])
        if "cwd" in spec:
            self.check_template_names(doc, (*keys, "cwd"), [str(spec["cwd"])])
        return Action(
            name=name,
            id=str(spec.get("id", "")),
            location=doc.where(keys, key=True),
            pre=tuple(e for e, _ in pre),
            pre_locations=tuple(w for _, w in pre),
            effects=effects,
            cost=cost,
            duration=parse_duration(spec.get("duration", 60)),
            description=str(spec.get("description", "")),
            tags=tuple(str(t) for t in spec.get("tags") or ()),
            hook=hook,
            wait=wait,
            timeout=self.timeout(doc, (*keys, "timeout"), spec["timeout"], entity)
            if "timeout" in spec
            else None,
            retries=int(spec.get("retries", 0)),
            env=env,
            cwd=str(spec["cwd"]) if "cwd" in spec else None,
            on_failure=on_failure,
            irreversible=bool(spec.get("irreversible", False)),
            approval=bool(spec.get("approval", False)),
            pack=doc.path.stem,
            pddl=str(spec.get("pddl", "")),
            sources=self.source_globs(
                doc, (*keys, "sources"), spec.get("sources"), entity
            ),
            runs_on=read_placement(
                doc, keys, spec, hook, entity, self.error, self.vars
            ),
        )

    def effects(
        self, doc: Document, keys: PathKey, raw: Any, entity: str
    ) -> tuple[Effect, ...]:
        by_name = self.table(doc)
        effects = []
        for name, value in (raw or {}).items():
            k = (*keys, name)
            var = by_name.get(name)
            if var is None:
                # A typo here is the commonest mistake of a proposed action.
                close = difflib.get_close_matches(str(name), list(by_name), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.error(
                    doc.where(k, key=True),
                    f"effect on undeclared state variable '{name}'{hint}",
                    entity,
                )
                continue
            expr = self.effect_value(doc, k, var, value, entity)
            if expr is not None:
                effects.append(Effect(var.name, expr, doc.where(k)))
        return tuple(effects)

    def effect_value(
        self, doc: Document, keys: PathKey, var: StateVar, value: Any, entity: str
    ) -> Expr | None:
        what = f"effect '{var.name}'"
        if isinstance(value, dict):
            expr = self.compile(doc, (*keys, "expr"), value["expr"], entity, what)
        elif isinstance(value, str) and var.type in ("bool", "int", "float"):
            expr = self.compile(doc, keys, value, entity, what)
        elif isinstance(value, str | bool | int | float):
            expr = literal(plain_value(value))
        else:
            self.error(doc.where(keys), f"unexpected {yaml_type(value)}", entity)
            return None
        if expr is None:
            return None
        ok = expr.type == var.expr_type or (var.type == "float" and expr.type == "int")
        if not ok:
            self.error(
                doc.where(keys),
                f"{what}: expected a {var.type} value, found {expr.type} "
                f"{clip(expr.source)}",
                entity,
            )
            return None
        if var.type == "enum" and not expr.is_const:
            allowed = ", ".join(var.choices)
            if expr.values is None:
                self.error(
                    doc.where(keys),
                    f"{what}: the expression may give values outside the enum "
                    f"({allowed}); use literals, a conditional of literals, or "
                    "an enum with the same values",
                    entity,
                )
                return None
            outside = [v for v in expr.values if v not in var.choices]
            if outside:
                self.error(
                    doc.where(keys),
                    f"{what}: {outside[0]!r} is not one of {allowed}",
                    entity,
                )
                return None
        if expr.is_const and not var.accepts(
            float(expr.const) if var.type == "float" else expr.const
        ):
            allowed = (
                f"one of {', '.join(var.choices)}"
                if var.choices
                else f"a valid {var.type}"
            )
            self.error(
                doc.where(keys),
                f"{what}: {expr.const!r} is not {allowed}"
                + (
                    f" within [{var.minimum}, {var.maximum}]"
                    if var.minimum is not None or var.maximum is not None
                    else ""
                ),
                entity,
            )
            return None
        return expr

    def source_globs(
        self, doc: Document, keys: PathKey, raw: Any, entity: str
    ) -> tuple[str, ...]:
        globs = []
        for i, item in enumerate(raw or ()):
            text = str(item)
            problem = _glob_problem(text)
            if problem:
                self.error(
                    doc.where((*keys, i)),
                    f"source {text!r}: {problem}",
                    entity,
                )
                continue
            globs.append(text)
        return tuple(globs)


def _glob_problem(pattern: str) -> str:
    """Return why ``pattern`` is not a usable source glob, or '' if it is."""
    if not pattern.strip():
        return "expected a glob such as 'data/**/*.csv'"
    if Path(pattern).is_absolute() or pattern.startswith("~"):
        return "expected a glob relative to the goal's workdir"
    parts = pattern.replace("\\", "/").split("/")
    if ".." in parts:
        # Facts may depend only on files of the project the engine works in.
        return "'..' leaves the goal's workdir"
    if any(part in ("", ".") for part in parts):
        return "expected a glob of files, such as 'src/**' (no '.' or empty parts)"
    if any("**" in part and part != "**" for part in parts):
        return "'**' must be a whole path component, as in 'data/**/*.csv'"
    return ""
