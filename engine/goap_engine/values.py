"""Turn text (command line, sensor output, state files) into typed state values."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from .model import Ruleset, StateVar

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}


def parse_value(var: StateVar, text: str) -> Any:
    """Return ``text`` as a value of ``var``; raise ValueError saying what was wrong."""
    raw = text.strip()
    value: Any
    if var.type == "bool":
        if raw.lower() in _TRUE:
            value = True
        elif raw.lower() in _FALSE:
            value = False
        else:
            raise ValueError(f"expected true or false, found {raw!r}")
    elif var.type == "int":
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected an integer, found {raw!r}") from None
    elif var.type == "float":
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"expected a number, found {raw!r}") from None
    else:
        value = text if var.type == "str" else raw
    check_value(var, value)
    return value


def check_value(var: StateVar, value: Any) -> Any:
    """Return ``value`` (ints widened for floats) if legal for ``var``; else raise."""
    if var.type == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        # NaN and infinities are not JSON: no state file could hold them.
        raise ValueError(f"expected a finite number, found {value}")
    if not var.accepts(value):
        if var.choices:
            raise ValueError(
                f"expected one of {', '.join(var.choices)}, found {value!r}"
            )
        bounds = ""
        if var.minimum is not None or var.maximum is not None:
            bounds = f" in [{var.minimum}, {var.maximum}]"
        raise ValueError(f"expected a {var.type}{bounds}, found {value!r}")
    return value


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
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def ruleset_fingerprint(ruleset: Ruleset) -> str:
    """Return a SHA-256 over every file the ruleset was loaded from, and its vars."""
    digest = hashlib.sha256()
    for pack in sorted(ruleset.packs, key=lambda p: str(p.path)):
        digest.update(pack.path.name.encode())
        try:
            digest.update(pack.path.read_bytes())
        except OSError:
            digest.update(b"<missing>")
    digest.update(fingerprint(dict(ruleset.vars)).encode())
    return digest.hexdigest()
