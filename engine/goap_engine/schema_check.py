"""Tell quickly whether a document satisfies its JSON Schema.

jsonschema walks a document in Python (about 5 ms for a pack of ten actions);
jsonschema_rs compiles both schemas once per process and answers the same
question in tens of microseconds.  Only its "valid" is trusted: a document it
refuses, or cannot read, is walked again by jsonschema, which finds every error
with its path so that each message keeps its words and position.  The one
harmful disagreement would be jsonschema_rs accepting what jsonschema refuses,
so the schemas' regular expressions are rewritten to mean in jsonschema_rs's
ECMA 262 dialect what they mean in Python's ``re`` (see ``ecma_pattern``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_NAMES = ("pack", "goal")

# What Python's ``\s`` matches in a str pattern (str.isspace), as an ECMA class
# body; ECMA's own ``\s`` differs (it takes U+FEFF and leaves out U+001C-U+001F
# and U+0085), which would accept a duration such as "5m\ufeff".
PYTHON_SPACE = (
    r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f"
    r"\u205f\u3000"
)
# Escapes whose meaning differs between the dialects (Unicode in Python, ASCII
# in ECMA) and that the schemas do not use: a pattern with one gets no fast check.
_UNSURE_ESCAPES = frozenset("dDwWbBS")


@cache
def schema_documents() -> dict[str, dict[str, Any]]:
    """Return the shipped JSON Schemas (pack and goal) by name."""
    # Beside this file (the engine is installed as files: packs are read from
    # folders too); importlib.resources would cost 4 ms of imports at start.
    folder = Path(__file__).parent / "schemas"
    return {
        name: json.loads((folder / f"{name}.schema.json").read_text("utf-8"))
        for name in SCHEMA_NAMES
    }


def ecma_pattern(pattern: str) -> str | None:
    """Return ``pattern`` rewritten to match in ECMA 262 exactly what it does in ``re``.

    ``\\s`` becomes Python's set of spaces, and a final ``$`` (which in Python
    also matches before a trailing newline) becomes ``\\n?$``.  Return None when
    the pattern holds a construct this does not translate.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped in _UNSURE_ESCAPES:
                return None
            if escaped == "s":
                out.append(PYTHON_SPACE if in_class else f"[{PYTHON_SPACE}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        elif char == "$" and not in_class and i == len(pattern) - 1:
            char = r"\n?$"
        out.append(char)
        i += 1
    return "".join(out)


def _translated(node: Any) -> Any:
    """Return a copy of a schema with every pattern in the ECMA dialect."""
    if isinstance(node, dict):
        copy = {}
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                value = ecma_pattern(value)
                if value is None:
                    raise ValueError("pattern without an exact ECMA equivalent")
            copy[key] = _translated(value)
        return copy
    if isinstance(node, list):
        return [_translated(item) for item in node]
    return node


@cache
def fast_validators() -> dict[str, Callable[[Any], bool]]:
    """Return a compiled ``is_valid`` per schema name; empty without jsonschema_rs.

    Without the compiled library (a platform without its wheel) every document
    takes jsonschema's walk: slower, with the same results.
    """
    try:
        import jsonschema_rs
    except ImportError:
        return {}
    try:
        schemas = {name: _translated(s) for name, s in schema_documents().items()}
        registry = jsonschema_rs.Registry(
            [(schema["$id"], schema) for schema in schemas.values()]
        )
        return {
            name: jsonschema_rs.Draft7Validator(schema, registry=registry).is_valid
            for name, schema in schemas.items()
        }
    except Exception:
        # Any failure to build the accelerator (an untranslatable pattern, a
        # release with another API) leaves the exact check, never a crash.
        return {}


def surely_valid(data: Any, name: str) -> bool:
    """Return True when ``data`` satisfies schema ``name``; False means "walk it"."""
    is_valid = fast_validators().get(name)
    if is_valid is None:
        return False
    try:
        return is_valid(data)
    except ValueError:
        # A value it cannot read as JSON, such as a str subclass carrying the
        # YAML quote style: retry with plain JSON types.
        pass
    try:
        return is_valid(plain_json(data))
    except (ValueError, TypeError, RecursionError):
        return False


def plain_json(node: Any) -> Any:
    """Return ``node`` with plain JSON types; raise TypeError for anything else.

    A mapping key that is not a string raises rather than being turned into
    one: jsonschema checks such keys as they are (``propertyNames`` refuses 1
    or true), and a string would pass.
    """
    kind = type(node)
    if kind is str or kind is int or kind is float or kind is bool or node is None:
        return node
    if isinstance(node, dict):
        copy = {}
        for key, value in node.items():
            if not isinstance(key, str):
                raise TypeError(f"mapping key {key!r} is not a string")
            copy[str(key)] = plain_json(value)
        return copy
    if isinstance(node, list):
        return [plain_json(item) for item in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    raise TypeError(f"{kind.__name__} is not a JSON type")
