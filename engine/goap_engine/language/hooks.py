"""Read a hook: the command an action runs (``run:``) or a sensor reads (``sense:``).

A hook is a shell command, an argv list, a Python callable or a built-in.  Its
templates are checked here, once: every name they read must be a var or a
state variable, and a value in a shell command must stand where it can be
quoted.
"""

from __future__ import annotations

from typing import Any, cast

from ..documents import Document, PathKey, entity_of
from ..model import Hook
from ..templates import (
    shell_problems,
    strings_in,
    template_env_names,
    template_names,
)
from .builtins import unknown_name
from .scope import Scope, plain_value


class HookReading(Scope):
    """Read hooks and check their templates and built-in names."""

    def hook(self, doc: Document, keys: PathKey, raw: Any) -> Hook:
        where = doc.where(keys)
        if isinstance(raw, str):
            hook = Hook("shell", raw, location=where)
        elif isinstance(raw, list):
            hook = Hook("argv", tuple(str(a) for a in raw), location=where)
        else:
            spec = dict(raw)
            kinds = [k for k in ("shell", "argv", "python", "builtin") if k in spec]
            if len(kinds) != 1:
                self.error(
                    where,
                    "expected exactly one of shell, argv, python, builtin; found "
                    + (", ".join(kinds) or "none"),
                )
                return Hook("shell", "true", location=where)
            kind = kinds[0]
            target = spec[kind]
            args = plain_value(spec.get("with") or {})
            if kind in ("shell", "argv") and args:
                self.error(doc.where((*keys, "with")), f"'with' is not used by {kind}")
            hook = Hook(
                cast(Any, kind),
                tuple(str(a) for a in target) if kind == "argv" else str(target),
                args,
                bool(spec.get("quote", True)),
                where,
            )
            if kind == "builtin":
                self.check_builtin(doc, keys, str(target), spec.get("with"))
        self.check_templates(doc, keys, hook)
        return hook

    def check_builtin(
        self, doc: Document, keys: PathKey, name: str, raw_args: Any
    ) -> None:
        """Check a built-in's name and, when it declares them, its arguments."""
        from .builtin_checks import check_arguments
        from .builtins import BUILTINS, entry_point_target

        entity = entity_of(keys[:2])
        builtin = BUILTINS.get(name)
        if builtin is None:
            if entry_point_target(name) is None:
                self.error(doc.where((*keys, "builtin")), unknown_name(name), entity)
            return
        args = raw_args if isinstance(raw_args, dict) else {}
        for problem in check_arguments(builtin, plain_value(args)):
            # A missing argument is reported at 'with:' (or the hook without one).
            path = (
                (*keys, "with") if problem.key is None else (*keys, "with", problem.key)
            )
            at = doc.where(path, key=problem.at_key)
            self.error(at, problem.message, entity)

    def check_templates(self, doc: Document, keys: PathKey, hook: Hook) -> None:
        texts: list[str] = []
        if isinstance(hook.target, str):
            texts.append(hook.target)
        else:
            texts.extend(hook.target)
        texts.extend(strings_in(hook.args))
        if hook.kind == "shell" and hook.quote:
            for problem in shell_problems(texts[0]):
                self.error(
                    doc.where(keys), f"shell command: {problem}", entity_of(keys[:2])
                )
        self.check_template_names(doc, keys, texts)

    def check_template_names(
        self, doc: Document, keys: PathKey, texts: list[str]
    ) -> None:
        table = self.table(doc)
        special = {"env", "workdir", "goal"}
        for text in texts:
            try:
                names = template_names(text)
            except ValueError as exc:
                self.error(doc.where(keys), f"template error: {exc}")
                continue
            unknown = {
                n for n in names if n not in self.vars and n not in table
            } - special
            for name in sorted(unknown):
                self.error(
                    doc.where(keys),
                    f"template uses '{name}', which is not a var or state variable"
                    + _did_you_mean(name, [*self.vars, *table]),
                    entity_of(keys[:2]),
                )
            if "env" in names:
                self.check_environment(doc, keys, text)

    def check_environment(self, doc: Document, keys: PathKey, text: str) -> None:
        """Refuse ``{{ env.NAME }}`` of a variable no file declares."""
        import difflib

        for name in sorted(template_env_names(text) - self.environment):
            close = difflib.get_close_matches(name, sorted(self.environment), n=1)
            fix = f"did you mean '{close[0]}'? Or add it" if close else "add it"
            self.error(
                doc.where(keys),
                f"template reads the environment variable '{name}', which is not "
                f"declared: {fix} to 'environment:' in this file (or to "
                "'secrets:' if it holds a secret)",
            )


def _did_you_mean(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1) if len(name) < 100 else []
    return f" (did you mean '{close[0]}'?)" if close else ""
