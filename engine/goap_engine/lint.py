"""Semantic checks beyond the schema: dead variables, unreachable goals and actions."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
from collections.abc import Mapping
from pathlib import PurePosixPath

from .errors import Diagnostic, FileError, display_path
from .files import is_inside, project_root
from .language.runs_on import EXTRAS
from .model import Hook, Ruleset
from .planner.task import (
    compile_task,
    condition_facts,
    holds_relaxed,
    open_start,
    reachable,
)
from .templates import action_template_reads, hook_template_reads


def lint(ruleset: Ruleset) -> list[Diagnostic]:
    """Return warnings and errors about ``ruleset`` that loading does not catch.

    Warnings a file silences with ``ignore:`` are left out: a pack's codes for
    the warnings located in it, the goal's codes for all of them.
    """
    found = _lint(ruleset)
    root = next((p for p in ruleset.packs if p.path == ruleset.path), None)
    everywhere = set(root.ignore) if root is not None else set()
    by_file = {display_path(p.path): set(p.ignore) for p in ruleset.packs}
    return [
        d
        for d in found
        if d.severity == "error"
        or (
            d.code not in everywhere
            and d.code not in by_file.get(d.location.path, set())
        )
    ]


def _lint(ruleset: Ruleset) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    read: set[str] = set()
    written: set[str] = set()
    for action in ruleset.actions:
        for expr in action.pre:
            read |= expr.reads
        for effect in (*action.effects, *action.on_failure):
            read |= effect.expr.reads
            written.add(effect.var)
        if action.cost is not None:
            read |= action.cost.reads
        if action.wait is not None:
            read |= action.wait.until.reads
        if action.hook is not None:
            read |= action_template_reads(action)
    for condition in ruleset.conditions:
        read |= condition.expr.reads
    for var in ruleset.variables:
        if var.sensor is not None:
            read |= hook_template_reads(var.sensor.hook)
    found += _unquoted(ruleset)
    found += _run_as_code(ruleset)
    found += _shadowing(ruleset)
    found += _missing_extras(ruleset)
    for var in ruleset.variables:
        entity = f"state variable '{var.name}'"
        if var.name not in read:
            found.append(
                Diagnostic(
                    var.location,
                    "is never read by a condition, effect or hook",
                    entity,
                    "warning",
                    "never-read",
                )
            )
        if var.name not in written and var.sensor is None and var.name in read:
            found.append(
                Diagnostic(
                    var.location,
                    f"is never written by any action and has no sensor: it stays "
                    f"{var.default!r}",
                    entity,
                    "warning",
                    "never-written",
                )
            )
        if (
            var.type == "int"
            and var.maximum is None
            and any(
                e.var == var.name and not e.expr.is_const
                for a in ruleset.actions
                for e in a.effects
            )
        ):
            found.append(
                Diagnostic(
                    var.location,
                    "is computed by an effect but has no 'max': the planner cannot "
                    "prove a goal unreachable and heuristics ignore it",
                    entity,
                    "warning",
                    "unbounded",
                )
            )
    if not ruleset.conditions and not ruleset.actions:
        return found
    task = compile_task(ruleset, None, prune=False, failures=True)
    facts, _ = reachable(task.relaxed, open_start(ruleset, task.domains))
    for action in ruleset.actions:
        for expr, where in zip(action.pre, action.pre_locations, strict=False):
            off = expr.is_const and not expr.const
            if off and _names_a_var(expr.source, ruleset.vars):
                break  # a var switches the action off: --var switches it on
            if not holds_relaxed(condition_facts(ruleset, expr, task.domains), facts):
                found.append(
                    Diagnostic(
                        where,
                        "can never be applied: precondition "
                        f"'{expr.source}' can never hold",
                        f"action '{action.name}'",
                        "warning",
                        "never-applicable",
                    )
                )
                break
    for goal in ruleset.subgoals:
        for condition in goal.conditions:
            options = condition_facts(ruleset, condition.expr, task.domains)
            if not holds_relaxed(options, facts):
                found.append(
                    Diagnostic(
                        condition.location,
                        f"condition '{condition.expr.source}' can never be reached: no "
                        "sequence of actions makes it true"
                        + _hint(ruleset, condition.expr.reads),
                        f"goal '{goal.name}'",
                        "error",
                        "unreachable-goal",
                    )
                )
            elif not any(ruleset.var(n).sensor for n in condition.expr.reads):
                # The relaxation lets a computed int take any value: its
                # declared bound is checked by trying the values.
                from .planner.explain import out_of_bounds

                for line in out_of_bounds(
                    ruleset, [condition.expr], ruleset.default_state()
                ):
                    found.append(
                        Diagnostic(
                            condition.location,
                            line.removeprefix("goal "),
                            f"goal '{goal.name}'",
                            "error",
                            "unreachable-goal",
                        )
                    )
    return found


def _hint(ruleset: Ruleset, names: frozenset[str]) -> str:
    unwritten = [
        n
        for n in sorted(names)
        if ruleset.var(n).sensor is None
        and not any(n in a.writes for a in ruleset.actions)
    ]
    if unwritten:
        return f" ({', '.join(unwritten)} is never set by an action nor sensed)"
    return ""


def _hooks(ruleset: Ruleset) -> list[tuple[str, Hook]]:
    hooks = [(f"action '{a.name}'", a.hook) for a in ruleset.actions if a.hook]
    hooks += [
        (f"state variable '{v.name}'", v.sensor.hook)
        for v in ruleset.variables
        if v.sensor is not None
    ]
    return hooks


# A command that runs its argument as shell code: quoting a value makes it
# one word, and that word is then run.
_EVAL = re.compile(
    r"(?:^|[\s;&|(`])(eval|(?:ba|da|k|z)?sh\s+(?:-[a-z]+\s+)*-[a-z]*c)(?=\s)"
)
_SHELLS = {"sh", "bash", "dash", "ksh", "zsh"}


def _runs_code(hook: Hook) -> str | None:
    """Return the command that would run a template value of ``hook`` as code."""
    if hook.kind == "shell" and isinstance(hook.target, str) and hook.quote:
        for match in _EVAL.finditer(hook.target):
            argument = _next_word(hook.target, match.end())
            if match.group(1) == "eval":
                # eval runs all its words: up to the end of the command.
                rest = hook.target[match.end() :]
                argument += re.split(r"[;&|\n]", rest, maxsplit=1)[0]
            if "{{" in argument:
                return " ".join(match.group(1).split())
    if hook.kind == "argv" and hook.target:
        shell = PurePosixPath(hook.target[0]).name
        options = [p for p in hook.target[1:] if p.startswith("-")]
        if (
            shell in _SHELLS
            and any("c" in o for o in options)
            and any("{{" in part for part in hook.target[1:])
        ):
            return f"{shell} -c"
    return None


def _next_word(text: str, i: int) -> str:
    """Return the shell word after ``i`` (roughly: its quotes are kept whole)."""
    i = len(text) - len(text[i:].lstrip())
    if text[i : i + 1] in ("'", '"'):
        end = text.find(text[i], i + 1)
        return text[i:] if end < 0 else text[i : end + 1]
    if text[i : i + 2] == "{{":
        end = text.find("}}", i)
        return text[i:] if end < 0 else text[i : end + 2]
    return re.split(r"[\s;&|)]", text[i:], maxsplit=1)[0]


def _run_as_code(ruleset: Ruleset) -> list[Diagnostic]:
    """Warn where a template value is handed to eval or ``sh -c`` as code."""
    found = []
    for entity, hook in _hooks(ruleset):
        command = _runs_code(hook)
        if command is not None:
            found.append(
                Diagnostic(
                    hook.location,
                    f"'{command}' runs its argument as shell code: a template "
                    "value in it runs as a command, however it is quoted (pass "
                    "the value through 'env:' and expand the variable instead)",
                    entity,
                    "warning",
                    "value-run-as-code",
                )
            )
    return found


def _unquoted(ruleset: Ruleset) -> list[Diagnostic]:
    """Warn about each shell command whose template values are not quoted."""
    hooks = _hooks(ruleset)
    return [
        Diagnostic(
            hook.location,
            "'quote: false' inserts template values into the shell command "
            "as they are: a value holding shell syntax runs as a command",
            entity,
            "warning",
            "unquoted-template",
        )
        for entity, hook in hooks
        if hook is not None
        and hook.kind == "shell"
        and not hook.quote
        and "{" in str(hook.target)
    ]


def _shadowing(ruleset: Ruleset) -> list[Diagnostic]:
    """Warn where the project's own name made a pack from outside qualified.

    Names are qualified only where two packs clash: declaring a name that a
    shipped, fetched or installed pack already has turns its short name into
    ``pack.name`` for both -- the goal's short name then names neither, and
    values stored under it no longer load.  Said at the project's declaration.
    """
    project = project_root(ruleset.path)
    outside: dict[str, str] = {}
    for pack in ruleset.packs:
        try:
            if not is_inside(pack.path, project):
                outside.update((v, pack.name) for v in pack.variables)
        except FileError:
            continue
    by_short: dict[str, list[str]] = {}
    for var in ruleset.variables:
        ns, dot, short = var.name.partition(".")
        if dot:
            by_short.setdefault(short, []).append(var.name)
    found = []
    for short, names in by_short.items():
        theirs = [n for n in names if n in outside]
        for name in names:
            if name in outside or not theirs:
                continue
            others = ", ".join(theirs)
            found.append(
                Diagnostic(
                    ruleset.var(name).location,
                    f"'{short}' is also declared by {others} (pack "
                    f"'{outside[theirs[0]]}', from outside the project): both are "
                    f"now qualified, so the short name '{short}' names neither "
                    f"(write {name} or {theirs[0]}, or rename yours)",
                    f"state variable '{name}'",
                    "warning",
                    "shadowed-name",
                )
            )
    return found


def _missing_extras(ruleset: Ruleset) -> list[Diagnostic]:
    """Warn about each step whose executor needs a package or credentials not here.

    A warning, not an error: the file is right, and the machine that runs it
    may have them (or the planner may choose a local fallback).
    """
    found = []
    for action in ruleset.actions:
        placement = action.runs_on
        if placement is None or placement.executor not in EXTRAS:
            continue
        module, extra = EXTRAS[placement.executor]
        entity = f"action '{action.name}'"
        if importlib.util.find_spec(module) is None:
            found.append(
                Diagnostic(
                    placement.location,
                    f"runs on {placement.executor}, which needs the '{module}' "
                    f"package: pip install 'goap-engine[{extra}]'",
                    entity,
                    "warning",
                    "executor-not-installed",
                )
            )
        elif placement.executor == "modal" and not _modal_credentials():
            found.append(
                Diagnostic(
                    placement.location,
                    "runs on modal, which needs credentials: set MODAL_TOKEN_ID "
                    "and MODAL_TOKEN_SECRET, or run `modal token new`",
                    entity,
                    "warning",
                    "executor-credentials",
                )
            )
    return found


def _modal_credentials() -> bool:
    from .integrations.modal import credentials_found

    return credentials_found(os.environ)


def _names_a_var(source: str, names: Mapping[str, object]) -> bool:
    """Return whether expression ``source`` reads one of the vars ``names``."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        return False
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(tree))
