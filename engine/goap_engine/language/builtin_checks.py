"""Check a built-in hook's ``with:`` against the arguments the built-in declares.

``language/hooks.py`` locates each problem: at the key for an unknown or
wrongly typed argument, at ``with:`` for a missing one.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .builtin_types import ArgType, Argument, Builtin
from .builtins import clip


def is_template(value: Any) -> bool:
    """Whether ``value`` is a string the hook renders before it is used."""
    return isinstance(value, str) and any(m in value for m in ("{{", "{%", "{#"))


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with a ``with:``: at which key, and why."""

    key: str | None
    message: str
    at_key: bool = False


def check_arguments(builtin: Builtin, args: Mapping[str, Any]) -> Iterator[Problem]:
    """Yield what is wrong with ``args`` given to ``builtin``.

    A key or value that is a template is only known once rendered; such a key
    is not checked, such a value is checked only for the names it reads
    (elsewhere).
    """
    names = [a.name for a in builtin.arguments]
    # A misspelt key stands for the argument it suggests: reporting that one
    # as missing too would say the same thing twice.
    present = set(args)
    for key in args:
        if is_template(key) or builtin.argument(key) is not None:
            continue
        close = difflib.get_close_matches(key, names, n=1) if len(key) < 100 else []
        present.update(close)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        if not names:
            hint = "; it takes no arguments"
        elif not close:
            hint = f"; it takes {', '.join(names)}"
        yield Problem(
            key,
            f"unknown argument '{clip(key)}' of {builtin.name}{hint}",
            at_key=True,
        )
    if any(is_template(k) for k in args):
        # A templated key may render to any argument: none is known missing.
        yield from _check_values(builtin, args)
        return
    for argument in builtin.arguments:
        if argument.required and argument.name not in present:
            yield Problem(
                None,
                f"missing required argument '{argument.name}' of {builtin.name} "
                f"({argument.type}: {argument.description.rstrip('.')})",
            )
    for group in builtin.one_of:
        if present.isdisjoint(group):
            listed = " or ".join(f"'{n}'" for n in group)
            yield Problem(None, f"{builtin.name} needs {listed}")
    for name, needed in builtin.needs:
        if name in args and needed not in present:
            yield Problem(name, f"{builtin.name}: '{name}' needs '{needed}' too", True)
    yield from _check_values(builtin, args)


def _check_values(builtin: Builtin, args: Mapping[str, Any]) -> Iterator[Problem]:
    for key, value in args.items():
        argument = builtin.argument(key)
        if argument is not None:
            problem = type_problem(argument, value)
            if argument.required and value == "":
                # The function treats "" as absent and would fail at run time.
                problem = "must not be empty"
            if problem:
                yield Problem(key, f"argument '{key}' of {builtin.name}: {problem}")


def type_problem(argument: Argument, value: Any) -> str | None:
    """Return why a literal ``value`` does not fit ``argument``, or None."""
    if is_template(value):
        return None
    wanted = argument.type
    if wanted in ("str", "path"):
        ok = isinstance(value, str)
    elif wanted == "bool":
        ok = isinstance(value, bool)
    elif wanted == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif wanted == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif wanted == "mapping":
        ok = isinstance(value, Mapping)
    else:
        ok = isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
    if not ok:
        found = _found(value)
        if wanted == "list[str]" and isinstance(value, list):
            odd = next(v for v in value if not isinstance(v, str))
            found = f"a list holding {_found(odd)}"
        return f"expected {_expected(wanted)}, found {found}"
    if wanted in ("int", "float"):
        return number_problem(argument.name, value)
    if argument.choices and value not in argument.choices:
        close = difflib.get_close_matches(str(value), argument.choices, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"expected one of {', '.join(argument.choices)}, found '{value}'{hint}"
    return None


# Every number a built-in takes is a count or a duration that bounds a call:
# none may be negative, infinite or NaN (a wait of inf or NaN never ends), a
# timeout of 0 would fail every request, and retries beyond this many against
# a service answering "Retry-After: 0" would hammer it without end.
MAX_RETRIES = 100


def number_problem(name: str, value: int | float) -> str | None:
    """Return why a number is no bound a call can keep to, or None."""
    if not math.isfinite(value):
        return f"expected a finite number, found {_found(value)}"
    # A poll every 0 s would ask the service as fast as it answers.
    if (name.endswith("timeout") or name == "interval") and value <= 0:
        return f"expected a number of seconds above 0, found {_found(value)}"
    if value < 0:
        return f"expected a number of 0 or more, found {_found(value)}"
    if name == "retries" and value > MAX_RETRIES:
        return f"expected at most {MAX_RETRIES}, found {_found(value)}"
    return None


def _expected(wanted: ArgType) -> str:
    return {
        "str": "a string",
        "path": "a path (a string)",
        "bool": "true or false",
        "int": "an integer",
        "float": "a number",
        "mapping": "a mapping",
        "list[str]": "a list of strings",
    }[wanted]


def _found(value: Any) -> str:
    import json

    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    kind = {bool: "bool", int: "int", float: "float", str: "str"}.get(
        type(value), type(value).__name__
    )
    shown = json.dumps(value) if kind != "bool" else str(value).lower()
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{kind} {shown}"
