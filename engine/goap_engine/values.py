"""Turn text (command line, sensor output, state files) into typed state values."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .errors import Diagnostic, InputError, Location
from .model import Ruleset, StateVar

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}


def _found(value: Any, show: bool) -> str:
    return f", found {value!r}" if show else " (the value given is not shown)"


def parse_value(var: StateVar, text: str, *, show: bool = True) -> Any:
    """Return ``text`` as a value of ``var``; raise ValueError saying what was wrong.

    ``show=False`` leaves the value out of the message (it may be a secret) and
    says so; a NaN or an infinity is named, since it cannot be a secret.
    """
    raw = text.strip()
    value: Any
    if var.type == "bool":
        if raw.lower() in _TRUE:
            value = True
        elif raw.lower() in _FALSE:
            value = False
        else:
            raise ValueError(f"expected true or false{_found(raw, show)}")
    elif var.type == "int":
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected an integer{_found(raw, show)}") from None
    elif var.type == "float":
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"expected a number{_found(raw, show)}") from None
    else:
        value = text if var.type == "str" else raw
    check_value(var, value, show=show)
    return value


def check_value(var: StateVar, value: Any, *, show: bool = True) -> Any:
    """Return ``value`` (ints widened for floats) if legal for ``var``; else raise."""
    if var.type == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        # NaN and infinities are not JSON: no state file could hold them.
        raise ValueError(f"expected a finite number, found {value}")
    if isinstance(value, str) and not value.isascii() and not _encodable(value):
        # A command-line byte that is not UTF-8 arrives as a lone surrogate:
        # no state file, journal or terminal could hold it.
        raise ValueError("expected UTF-8 text, found bytes that are not")
    if not var.accepts(value):
        if var.choices:
            raise ValueError(
                f"expected one of {', '.join(var.choices)}{_found(value, show)}"
            )
        bounds = ""
        if var.minimum is not None or var.maximum is not None:
            bounds = f" in [{var.minimum}, {var.maximum}]"
        raise ValueError(f"expected a {var.type}{bounds}{_found(value, show)}")
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def state_dict(ruleset: Ruleset, state: tuple[Any, ...]) -> dict[str, Any]:
    """Return ``state`` as a name -> value mapping."""
    return dict(zip(ruleset.names, state, strict=True))


def with_values(
    ruleset: Ruleset, state: tuple[Any, ...], values: Mapping[str, Any]
) -> tuple[Any, ...]:
    """Return ``state`` with ``values`` replaced (names must exist, values legal)."""
    new = list(state)
    for name, value in values.items():
        var = ruleset.var(name)
        new[var.index] = check_value(var, value)
    return tuple(new)


def fingerprint(data: Any) -> str:
    """Return a stable SHA-256 of JSON-able ``data``."""
    import hashlib  # runs need it; loading, which imports this module, does not

    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def steps_fingerprint(actions: list[Any]) -> str:
    """Return the fingerprint of a plan's steps (their action names, in order)."""
    return fingerprint({"steps": actions})


def ruleset_fingerprint(ruleset: Ruleset) -> str:
    """Return a SHA-256 over every file the ruleset was loaded from, and its vars."""
    import hashlib

    digest = hashlib.sha256()
    for pack in sorted(ruleset.packs, key=lambda p: str(p.path)):
        digest.update(pack.path.name.encode())
        try:
            digest.update(pack.path.read_bytes())
        except OSError:
            digest.update(b"<missing>")
    digest.update(fingerprint(dict(ruleset.vars)).encode())
    return digest.hexdigest()


SECRET_SHOWN = "<secret>"
"""What output and files show instead of a secret variable's value."""


def secret_values(ruleset: Ruleset, values: Mapping[str, Any]) -> list[str]:
    """Return the values of the secret variables among ``values``."""
    secret = ruleset.secret_names
    return [v for k, v in values.items() if k in secret and isinstance(v, str)]


def shown(ruleset: Ruleset, values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``values`` with each secret variable's value replaced by a mark."""
    secret = ruleset.secret_names
    return {k: SECRET_SHOWN if k in secret else v for k, v in values.items()}


def checked_values(
    ruleset: Ruleset, values: Mapping[str, Any], *, label: str
) -> dict[str, Any]:
    """Return ``values`` (state variable names to values) checked against their types.

    Every problem is reported at once, located at ``label`` (the argument that
    gave them); no message repeats a value given: it may be a secret.
    """
    import difflib  # only for a name given wrong

    where = Location(label)
    if not isinstance(values, Mapping):
        raise InputError(
            Diagnostic(
                where,
                "expected a mapping of state variable names to values, "
                f"found {type(values).__name__}",
            )
        )
    checked: dict[str, Any] = {}
    problems = []
    for name, value in values.items():
        if not isinstance(name, str):
            found = type(name).__name__
            problems.append(
                Diagnostic(where, f"expected a state variable name, found {found}")
            )
            continue
        if name not in ruleset.names:
            close = difflib.get_close_matches(name, ruleset.names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            if name in ruleset.vars:
                hint = (
                    f": '{name}' is a var, give it with "
                    f"load(path, overrides={{'{name}': ...}})"
                )
            problems.append(Diagnostic(where, f"unknown state variable '{name}'{hint}"))
            continue
        try:
            checked[name] = check_value(ruleset.var(name), value, show=False)
        except ValueError as exc:
            problems.append(Diagnostic(where, str(exc), f"state variable '{name}'"))
    if problems:
        raise InputError(problems)
    return checked


def state_of(
    ruleset: Ruleset,
    start: Mapping[str, Any] | tuple[Any, ...] | None,
    *,
    label: str = "start",
) -> tuple[Any, ...]:
    """Return the state ``start`` describes: defaults overlaid by a mapping.

    A tuple is taken as a whole state already (the planner's own form, one
    value per variable in declaration order) and only its length is checked:
    the planner passes its states back through here on every replan.
    """
    if start is None:
        return ruleset.default_state()
    if isinstance(start, tuple):
        if len(start) != len(ruleset.names):
            raise InputError(
                Diagnostic(
                    Location(label),
                    f"expected a state of {len(ruleset.names)} values (one per "
                    f"state variable) or a mapping of names to values, found "
                    f"a tuple of {len(start)}",
                )
            )
        return start
    values = checked_values(ruleset, start, label=label)
    return with_values(ruleset, ruleset.default_state(), values)
