"""``NAME=VALUE`` items from the command line (``--set``, ``state set``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import Diagnostic, InputError, Location

if TYPE_CHECKING:
    from .model import Ruleset


def parse_assignments(
    ruleset: Ruleset, sets: Sequence[str], label: str = "--set", *, stored: bool = False
) -> dict[str, Any]:
    """Return ``NAME=VALUE`` items as typed values; ``stored``: for the state file.

    No message repeats a value given: it may be a secret.
    """
    # Imported here: the command line imports this module to start, and
    # needs these only when a command has values to parse.
    import difflib

    from .executor.redaction import Redactor
    from .values import parse_value

    values: dict[str, Any] = {}
    problems = []
    secrets = Redactor.from_env(ruleset.secrets) if stored else Redactor()
    for item in sets:
        name, sep, text = item.partition("=")
        name = name.strip()
        where = Location(label)
        entity = f"state variable '{name}'"
        if not sep:
            problems.append(Diagnostic(where, "expected NAME=VALUE, found no '='"))
            continue
        if name not in ruleset.names:
            close = difflib.get_close_matches(name, ruleset.names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            if name in ruleset.vars:
                hint = f": '{name}' is a var, give it with --var {name}=VALUE"
            problems.append(Diagnostic(where, f"unknown state variable '{name}'{hint}"))
            continue
        if stored and name in ruleset.secret_names:
            problems.append(
                Diagnostic(
                    where,
                    "a secret variable is never stored; give it in each run "
                    f"with 'run --set {name}=...' or a sensor",
                    entity,
                )
            )
            continue
        if secrets.contains(text):
            names = ", ".join(ruleset.secrets)
            problems.append(
                Diagnostic(
                    where,
                    f"the value holds a secret ({names}), and secrets are never "
                    f"stored; give it in each run with 'run --set {name}=...'",
                    entity,
                )
            )
            continue
        try:
            values[name] = parse_value(ruleset.var(name), text, show=False)
        except ValueError as exc:
            problems.append(Diagnostic(where, str(exc), entity))
    if problems:
        raise InputError(problems)
    return values
