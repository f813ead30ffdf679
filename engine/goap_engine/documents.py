"""Read YAML documents with positions and check them against the JSON Schemas.

ruamel.yaml's round-trip loader keeps the line and column of every key and
value; ``Document.where`` turns a path such as ``("actions", "push", "cost")``
into a location, so every later check can point at the exact spot.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from .errors import Diagnostic, FileError, Location, display_path
from .files import read_text_limited
from .schema_check import schema_documents, surely_valid

if TYPE_CHECKING:
    import jsonschema

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Document:
    """A parsed YAML file: its data and the positions of its nodes."""

    path: Path
    data: Any
    shown: str = ""
    """The path as messages show it (relative to the working directory)."""

    def __post_init__(self) -> None:
        if not self.shown:
            object.__setattr__(self, "shown", display_path(self.path))

    def node(self, keys: PathKey) -> Any:
        """Return the node at ``keys``, or None when the path does not exist."""
        node = self.data
        for key in keys:
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def where(self, keys: PathKey, *, key: bool = False) -> Location:
        """Return the location of the value at ``keys`` (or of its key)."""
        node = self.data
        line, col = 0, 0
        for i, k in enumerate(keys):
            last = i == len(keys) - 1
            try:
                if isinstance(node, CommentedMap) and k in node:
                    pos = node.lc.key(k) if key and last else node.lc.value(k)
                    line, col = pos[0] + 1, pos[1] + 1
                    node = node[k]
                elif isinstance(node, CommentedSeq) and isinstance(k, int):
                    pos = node.lc.item(k)
                    line, col = pos[0] + 1, pos[1] + 1
                    node = node[k]
                else:
                    break
            except (KeyError, IndexError, TypeError, AttributeError):
                break
        if not line and isinstance(self.data, CommentedMap | CommentedSeq):
            line, col = self.data.lc.line + 1, self.data.lc.col + 1
        return Location(self.shown, line, col)

    def expr_where(self, keys: PathKey, col: int) -> Location:
        """Return the location of column ``col`` inside the expression at ``keys``."""
        base = self.where(keys)
        value = self.node(keys)
        if not isinstance(value, str) or "\n" in value or not base.line:
            return base
        quoted = isinstance(value, DoubleQuotedScalarString | SingleQuotedScalarString)
        stripped = len(value) - len(value.lstrip())
        return Location(base.path, base.line, base.col + int(quoted) + stripped + col)


def read_document(path: Path) -> tuple[Document | None, list[Diagnostic]]:
    """Return the YAML document at ``path`` or the diagnostics explaining why not."""
    shown = display_path(path)
    try:
        text = read_text_limited(path)
    except FileError as exc:
        return None, [Diagnostic(Location(shown, exc.line, exc.col), exc.reason)]
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = yaml.load(text)
    except DuplicateKeyError as exc:
        return None, [_marked(shown, exc, "duplicate key")]
    except MarkedYAMLError as exc:
        return None, [_marked(shown, exc, "invalid YAML")]
    except (YAMLError, RecursionError, ValueError) as exc:
        return None, [Diagnostic(Location(shown, 1, 1), f"invalid YAML: {exc}")]
    except TypeError as exc:
        # ruamel.yaml cannot hash a key holding a mapping ('? [a, {b: 1}]').
        return None, [
            Diagnostic(
                Location(shown, 1, 1),
                f"invalid YAML: a key must be a plain value ({exc})",
            )
        ]
    if data is None:
        return None, [
            Diagnostic(
                Location(shown, 1, 1),
                "empty file: expected a mapping with at least 'version: 1'",
            )
        ]
    notes = [_yaml_warning(shown, w.message) for w in caught]
    problem = _check_nodes(shown, data)
    if problem is not None:
        return None, [problem]
    if not isinstance(data, CommentedMap):
        return None, [
            Diagnostic(
                Location(shown, 1, 1),
                f"expected a mapping at the top level, found {yaml_type(data)}",
            )
        ]
    return Document(path, data), notes


MAX_NODES = 100_000
_YAML_TAG = "tag:yaml.org,2002:"
_CORE_TAGS = frozenset(
    _YAML_TAG + name for name in ("str", "int", "float", "bool", "null", "seq", "map")
)


def _check_nodes(shown: str, data: Any) -> Diagnostic | None:
    """Refuse YAML tags and documents that aliases expand beyond ``MAX_NODES``.

    Tags could smuggle in types the language does not have; nested aliases
    (a "billion laughs") would make every later walk over the data explode.
    """
    stack: list[tuple[Any, Any]] = [(data, None)]
    seen = 0
    while stack:
        node, parent = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            line, col = _position(parent)
            return Diagnostic(
                Location(shown, line, col),
                f"invalid YAML: aliases expand the document beyond {MAX_NODES:,} "
                "values",
            )
        tag = getattr(node, "tag", None)
        value = getattr(tag, "value", tag) if tag is not None else None
        if isinstance(value, str) and value not in _CORE_TAGS:
            line, col = _position(node if hasattr(node, "lc") else parent)
            shown_tag = value.replace(_YAML_TAG, "!!")
            return Diagnostic(
                Location(shown, line, col),
                f"invalid YAML: unsupported tag '{shown_tag}'",
            )
        if isinstance(node, float) and not math.isfinite(node):
            return Diagnostic(
                _value_location(shown, parent, node),
                f"numbers must be finite, found {node}",
            )
        if isinstance(node, dict):
            stack.extend((v, node) for v in node.values())
            stack.extend((k, node) for k in node if not isinstance(k, str))
        elif isinstance(node, list):
            stack.extend((v, node) for v in node)
    return None


def _value_location(shown: str, parent: Any, value: Any) -> Location:
    """Return where ``value`` sits inside its ``parent`` mapping or list."""
    try:
        if isinstance(parent, CommentedMap):
            for key, item in parent.items():
                if item is value:
                    line, col = parent.lc.value(key)
                    return Location(shown, line + 1, col + 1)
        if isinstance(parent, CommentedSeq):
            for i, item in enumerate(parent):
                if item is value:
                    line, col = parent.lc.item(i)
                    return Location(shown, line + 1, col + 1)
    except (KeyError, IndexError, TypeError):
        pass
    line, col = _position(parent)
    return Location(shown, line, col)


def _position(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return 1, 1
    return lc.line + 1, lc.col + 1


def _yaml_warning(shown: str, message: Warning | str) -> Diagnostic:
    """Return a YAML parser warning (e.g. a reused anchor) as a located warning."""
    mark = getattr(message, "problem_mark", None) or getattr(
        message, "context_mark", None
    )
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    text = " ".join(str(message).split())
    return Diagnostic(Location(shown, line, col), f"YAML: {text}", severity="warning")


def _marked(shown: str, exc: MarkedYAMLError, what: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "unreadable"
    if exc.context_mark is not None and "end of stream" in str(exc.problem):
        # An unclosed quote or bracket runs to the end of the file: point at
        # where it was opened, which is where the fix goes.
        mark = exc.context_mark
        problem = f"{exc.context} that is never closed"
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if what == "duplicate key":
        key = str(exc.problem).split('"')[1] if '"' in str(exc.problem) else ""
        problem = f"key '{key}' appears twice in one mapping" if key else problem
    return Diagnostic(Location(shown, line, col), f"{what}: {problem}")


def yaml_type(value: Any) -> str:
    """Return a YAML-flavoured name of ``value``'s type for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def schema_text(name: str) -> str:
    """Return the JSON Schema called ``name`` (pack or goal) as text."""
    return json.dumps(schema_documents()[name], indent=2) + "\n"


@cache
def _validator(name: str) -> jsonschema.Draft7Validator:
    # Imported here: only a document the fast check refuses needs jsonschema,
    # and importing it costs more start-up time than a whole valid check.
    import jsonschema
    from referencing import Registry, Resource

    schemas = schema_documents()
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values()
    )
    return jsonschema.Draft7Validator(schemas[name], registry=registry)


def check_schema(doc: Document, name: str) -> list[Diagnostic]:
    """Return one diagnostic per schema violation in ``doc``."""
    if surely_valid(doc.data, name):
        return []
    found: list[Diagnostic] = []
    seen: set[tuple[PathKey, str]] = set()
    for error in _validator(name).iter_errors(doc.data):
        for diag in _explain(doc, error):
            key = (tuple(error.absolute_path), diag.message)
            if key not in seen:
                seen.add(key)
                found.append(diag)
    found.sort(key=lambda d: (d.location.line, d.location.col))
    return found


def entity_of(keys: Sequence[str | int]) -> str:
    """Return who ``keys`` belong to, for messages: "action 'push' run"."""
    parts = [str(k) if isinstance(k, str) else f"[{k}]" for k in keys]
    text = ".".join(parts).replace(".[", "[")
    if len(keys) >= 2 and keys[0] in ("actions", "state"):
        kind = "action" if keys[0] == "actions" else "state variable"
        rest = ".".join(str(k) for k in keys[2:])
        return f"{kind} '{keys[1]}'" + (f" {rest}" if rest else "")
    return text


def _explain(doc: Document, error: jsonschema.ValidationError) -> Iterator[Diagnostic]:
    keys: PathKey = tuple(error.absolute_path)
    entity = entity_of(list(keys))
    value = error.instance
    validator = error.validator
    if validator == "additionalProperties" and isinstance(value, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in value if k not in error.schema.get("properties", {})]
        for k in extra:
            hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
            yield Diagnostic(
                doc.where((*keys, k), key=True), f"unknown key '{k}'{hint}", entity
            )
        return
    if validator == "required":
        missing = str(error.message).split("'")[1]
        yield Diagnostic(doc.where(keys), f"missing required key '{missing}'", entity)
        return
    if validator == "propertyNames":
        bad_names = [str(e.instance) for e in error.context or []] or [str(value)]
        for bad in bad_names:
            where = doc.where((*keys, bad), key=True) if bad in (value or {}) else None
            yield Diagnostic(
                where or doc.where(keys),
                f"invalid name '{bad}': names start with a letter and use letters, "
                "digits and underscores",
                entity,
            )
        return
    if validator in ("oneOf", "anyOf"):
        leaves = list(_leaves(error))
        deeper = [e for e in leaves if len(e.absolute_path) > len(keys)]
        if deeper:
            yield from _explain(doc, max(deeper, key=lambda e: len(e.absolute_path)))
            return
        fitting = [e for e in leaves if e.validator not in ("type", "enum", "const")]
        if fitting:
            yield from _explain(doc, fitting[0])
            return
        choices = [e for e in leaves if e.validator == "enum"]
        if choices and isinstance(value, str):
            yield from _explain(doc, choices[0])
            return
        described = error.schema.get("description", "")
        expected = described[0].lower() + described[1:] if described else ""
        yield Diagnostic(
            doc.where(keys),
            f"expected {expected.rstrip('.')}, found {yaml_type(value)} {_short(value)}"
            if expected
            else f"unexpected {yaml_type(value)} {_short(value)}",
            entity,
        )
        return
    if validator == "type":
        expected = error.validator_value
        names = expected if isinstance(expected, list) else [expected]
        wanted = " or ".join(_TYPE_NAMES.get(str(n), str(n)) for n in names)
        yield Diagnostic(
            doc.where(keys),
            f"expected {wanted}, found {yaml_type(value)} {_short(value)}".rstrip(),
            entity,
        )
        return
    if validator == "const":
        yield Diagnostic(
            doc.where(keys),
            f"expected {error.validator_value!r}, found {_short(value)}",
            entity,
        )
        return
    if validator == "enum":
        options = ", ".join(repr(v) for v in error.validator_value)
        yield Diagnostic(
            doc.where(keys), f"expected one of {options}, found {_short(value)}", entity
        )
        return
    if validator == "pattern":
        what = error.schema.get("description", "").rstrip(".")
        what = what[:1].lower() + what[1:]
        node = doc.node(keys)
        # A bad mapping key (propertyNames) is reported at the key itself.
        is_key = isinstance(node, dict) and isinstance(value, str) and value in node
        yield Diagnostic(
            doc.where((*keys, value), key=True) if is_key else doc.where(keys),
            f"{_short(value)} is not valid" + (f": expected {what}" if what else ""),
            entity,
        )
        return
    yield Diagnostic(doc.where(keys), error.message, entity)


def _leaves(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    """Yield the innermost errors of nested oneOf/anyOf alternatives."""
    if error.context:
        for sub in error.context:
            yield from _leaves(sub)
    else:
        yield error


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
}


def _short(value: Any) -> str:
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
