"""Read YAML documents with positions and check them against the JSON Schemas.

``yaml_reader`` parses a file with libyaml into plain values and a table of
the line and column of every key and value; ``Document.where`` turns a path
such as ``("actions", "push", "cost")`` into a location, so every later check
can point at the exact spot.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Diagnostic, FileError, Location, display_path
from .files import read_text_limited
from .schema_check import schema_documents, surely_valid
from .yaml_reader import Mark, YamlError, parse
from .yaml_reader import PathKey as PathKey

if TYPE_CHECKING:
    import jsonschema


@dataclass(frozen=True)
class Document:
    """A parsed YAML file: its data and the positions of its keys and values."""

    path: Path
    data: Any
    shown: str = ""
    """The path as messages show it (relative to the working directory)."""
    marks: dict[PathKey, Mark] = field(default_factory=dict, compare=False)
    """Line and column of each key and value by path (see ``yaml_reader``)."""
    quoted: frozenset[PathKey] = frozenset()
    """Paths of the strings written in quotes."""

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
        """Return the location of the value at ``keys`` (or of its key).

        A path that does not exist points at the deepest part of it that does.
        """
        marks = self.marks
        for end in range(len(keys), 0, -1):
            try:
                mark = marks.get(keys[:end])
            except TypeError:  # an unhashable key names nothing
                continue
            if mark is not None:
                if key and end == len(keys):
                    return Location(self.shown, mark[0], mark[1])
                return Location(self.shown, mark[2], mark[3])
        root = marks.get(())
        return Location(self.shown, *(root[2:] if root else (0, 0)))

    def expr_where(self, keys: PathKey, col: int) -> Location:
        """Return the location of column ``col`` inside the expression at ``keys``."""
        base = self.where(keys)
        value = self.node(keys)
        if not isinstance(value, str) or "\n" in value or not base.line:
            return base
        quoted = keys in self.quoted
        stripped = len(value) - len(value.lstrip())
        return Location(base.path, base.line, base.col + int(quoted) + stripped + col)


OVERLAY: ContextVar[Mapping[Path, str] | None] = ContextVar("overlay", default=None)
"""Texts read instead of files, by resolved path: a proposal loaded in memory."""


def read_document(path: Path) -> tuple[Document | None, list[Diagnostic]]:
    """Return the YAML document at ``path`` or the diagnostics explaining why not."""
    shown = display_path(path)
    overlay = OVERLAY.get()
    text = overlay.get(path.resolve()) if overlay else None
    try:
        if text is None:
            text = read_text_limited(path)
    except FileError as exc:
        return None, [Diagnostic(Location(shown, exc.line, exc.col), exc.reason)]
    try:
        parsed = parse(text)
    except YamlError as exc:
        return None, [Diagnostic(Location(shown, exc.line, exc.col), exc.reason)]
    if parsed is None or parsed.data is None:
        return None, [
            Diagnostic(
                Location(shown, 1, 1),
                "empty file: expected a mapping with at least 'version: 1'",
            )
        ]
    if not isinstance(parsed.data, dict):
        return None, [
            Diagnostic(
                Location(shown, 1, 1),
                f"expected a mapping at the top level, found {yaml_type(parsed.data)}",
            )
        ]
    return Document(path, parsed.data, shown, parsed.marks, parsed.quoted), []


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
    """Return the JSON Schema called ``name`` (pack or goal) as text, whole.

    The goal schema refers to the pack schema's definitions; printed, it
    carries them itself, so a copy saved next to a project works offline
    (yaml-language-server, CI without network) and needs no second file.
    """
    documents = schema_documents()
    schema = json.loads(json.dumps(documents[name]))  # a deep copy
    if name != "pack":
        shared = json.loads(json.dumps(documents["pack"]["definitions"]))
        schema["definitions"] = {**shared, **schema.get("definitions", {})}
        schema = _local_refs(schema)
    return json.dumps(schema, indent=2) + "\n"


def _local_refs(node: Any) -> Any:
    """Return ``node`` with ``pack.schema.json#/...`` references made local."""
    if isinstance(node, dict):
        return {
            key: (
                value.replace("pack.schema.json#", "#", 1)
                if key == "$ref" and isinstance(value, str)
                else _local_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_local_refs(item) for item in node]
    return node


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
        if _checked_by_language(error):
            continue
        for diag in _explain(doc, error):
            key = (tuple(error.absolute_path), diag.message)
            if key not in seen:
                seen.add(key)
                found.append(diag)
    found.sort(key=lambda d: (d.location.line, d.location.col))
    return found


def _checked_by_language(error: jsonschema.ValidationError) -> bool:
    """Return whether ``error`` breaks a rule the language check words better.

    The schemas state some rules between keys (an enum needs ``values``, a
    default of the variable's type, ``run`` or ``wait``) so that an editor
    flags them; such a rule carries an ``errorMessage`` for editors that show
    one.  ``validate`` leaves these to the language check, which reports the
    same problem with the variable, its type and the value, at the key that
    is wrong: one message per problem instead of a schema's and its own.
    """
    if isinstance(error.schema, dict) and "errorMessage" in error.schema:
        return True
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return False
    # A value that fits one alternative but for such rules (a mapping whose
    # 'remember' is 0s) is the language check's too.
    by_branch: dict[Any, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    return any(
        all(_checked_by_language(sub) for sub in subs) for subs in by_branch.values()
    )


def entity_of(keys: Sequence[str | int]) -> str:
    """Return who ``keys`` belong to, for messages: "action 'push' run"."""
    parts = [str(k) if isinstance(k, str) else f"[{k}]" for k in keys]
    text = ".".join(parts).replace(".[", "[")
    if len(keys) >= 2 and keys[0] in ("actions", "state"):
        kind = "action" if keys[0] == "actions" else "state variable"
        rest = ".".join(str(k) for k in keys[2:])
        return f"{kind} '{keys[1]}'" + (f" {rest}" if rest else "")
    return text


_HOOK_KINDS = ("builtin", "with", "python", "shell", "argv", "quote")


def _explain(doc: Document, error: jsonschema.ValidationError) -> Iterator[Diagnostic]:
    keys: PathKey = tuple(error.absolute_path)
    entity = entity_of(list(keys))
    value = error.instance
    validator = error.validator
    if validator == "additionalProperties" and isinstance(value, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in value if k not in error.schema.get("properties", {})]
        for k in extra:
            close = (
                difflib.get_close_matches(str(k), allowed, n=1)
                if len(str(k)) < 100
                else []
            )
            guess = f"did you mean '{close[0]}'? " if close else ""
            hint = f" ({guess}expected one of: {', '.join(allowed)})" if allowed else ""
            if k in _HOOK_KINDS and "run" in allowed:
                # 'builtin:' beside 'run:' is the usual slip of a first action.
                kind = "builtin: NAME, with: {...}" if k == "with" else f"{k}: ..."
                hint += f"; a hook is written 'run: {{{kind}}}'"
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
        rule = error.validator_value if isinstance(error.validator_value, dict) else {}
        said = str(rule.get("description", ""))
        expected = (
            f"expected {said[:1].lower()}{said[1:]}"
            if said
            else "names start with a letter and use letters, digits and underscores"
        )
        for bad in bad_names:
            where = doc.where((*keys, bad), key=True) if bad in (value or {}) else None
            yield Diagnostic(
                where or doc.where(keys), f"invalid name '{bad}': {expected}", entity
            )
        return
    if validator in ("oneOf", "anyOf"):
        leaves = [e for e in _leaves(error) if not _checked_by_language(e)]
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
            f"expected {expected.rstrip('.')}, found {_found(value)}"
            if expected
            else f"unexpected {_found(value)}",
            entity,
        )
        return
    if validator == "type":
        expected = error.validator_value
        names = expected if isinstance(expected, list) else [expected]
        wanted = " or ".join(_TYPE_NAMES.get(str(n), str(n)) for n in names)
        yield Diagnostic(
            doc.where(keys),
            f"expected {wanted}, found {_found(value)}",
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
        words = [str(v) for v in error.validator_value]
        close = difflib.get_close_matches(str(value), words, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        yield Diagnostic(
            doc.where(keys),
            f"expected one of {options}, found {_short(value)}{hint}",
            entity,
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
    if validator == "not" and isinstance(error.validator_value, dict):
        # The schema says in the 'not' what it forbids.
        forbidden = error.validator_value.get("description")
        if forbidden:
            yield Diagnostic(doc.where(keys), str(forbidden), entity)
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


def _found(value: Any) -> str:
    """Return ``value`` as a message shows it: its YAML type, then the value."""
    return "null" if value is None else f"{yaml_type(value)} {_short(value)}"


def _short(value: Any) -> str:
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
