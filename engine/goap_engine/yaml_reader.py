"""Read YAML into plain Python values and remember where each one was written.

libyaml, through PyYAML's C composer, parses the text and gives every node its
start mark; this module turns the node tree into dicts, lists and scalars and
records the line and column of every key and value in a table keyed by the
path to it, so ``Document.where`` can point at any value without walking
objects that carry positions.

Plain scalars follow the YAML 1.2 core schema: ``yes``, ``on`` and ``NaN`` stay
strings, ``0o12`` is 10, ``012`` is 12, ``1_000`` is 1000, ``~`` and an empty
value are null, and dates become ``datetime.date``.  Tags other than the core
ones are refused, as are duplicate keys, aliases that expand the document past
``MAX_NODES`` values and numbers that are not finite.  Merge keys (``<<``)
copy the keys a mapping does not set itself, the first source winning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.tokens import FlowMappingStartToken

from .errors import InputError
from .files import position

PathKey = tuple[str | int, ...]
Mark = tuple[int, int, int, int]
"""Line and column of a key, then of its value, counted from 1."""

MAX_NODES = 100_000
MAX_DEPTH = 100
"""Deeper nesting is no ruleset; libyaml stops at 1,000 levels on its own."""

_YAML_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT = _YAML_TAG + "str", _YAML_TAG + "int", _YAML_TAG + "float"
_BOOL, _NULL = _YAML_TAG + "bool", _YAML_TAG + "null"
_MAP, _SEQ = _YAML_TAG + "map", _YAML_TAG + "seq"
_TIMESTAMP = _YAML_TAG + "timestamp"
_IMPLICIT = "?"
"""The tag our resolver gives every untagged node: we resolve it ourselves."""

_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_BOOLS = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
}
# ``!!bool`` written out accepts the YAML 1.1 words too, as ruamel.yaml did.
_TAGGED_BOOLS = {"true": True, "yes": True, "on": True, "y": True}
_TAGGED_BOOLS.update(false=False, no=False, off=False, n=False)
_NUMBER_START = frozenset("-+0123456789.")
_INT_RE = re.compile(r"[-+]?(?:0b[0-1_]+|0o?[0-7_]+|[0-9_]+|0x[0-9a-fA-F_]+)", re.ASCII)
_FLOAT_RE = re.compile(
    r"[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
    r"|[0-9][0-9_]*[eE][-+]?[0-9]+"
    r"|\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|\.(?:inf|Inf|INF))"
    r"|\.(?:nan|NaN|NAN)",
    re.ASCII,
)
_TIMESTAMP_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?",
    re.ASCII,
)
_BLANK = re.compile(r"[ \t\r\n]*")
# A value that starts with "{{" (a template) is read by YAML as a mapping
# inside a mapping; the fix is to quote it.
_BRACES = "quote a value that starts with {{: unquoted, YAML reads '{' as a mapping"
_TABS = "tabs cannot indent YAML, use spaces"
_TIMESTAMPS = SafeConstructor()


@dataclass(frozen=True)
class Parsed:
    """The values of a YAML document and where each of them was written."""

    data: Any
    marks: dict[PathKey, Mark]
    """Key and value position of every path; ``()`` is the document itself."""
    quoted: frozenset[PathKey]
    """Paths of the strings written in quotes (their text starts one column later)."""


class YamlError(InputError):
    """The YAML text cannot be read; ``line`` and ``col`` count from 1."""

    def __init__(self, line: int, col: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.col = col
        self.reason = reason


# PyYAML built without libyaml still reads every file, only slower.
_Composer: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Composer):  # type: ignore[misc]
    """libyaml's composer with every untagged node left for ``_Builder`` to type."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        return _IMPLICIT

    def descend_resolver(self, parent: Any, index: Any) -> None:
        """Do nothing: no path-based resolvers are used (called once a node)."""

    def ascend_resolver(self) -> None:
        """Do nothing, as ``descend_resolver``."""


class _SlowLoader(yaml.SafeLoader):  # type: ignore[misc]
    """PyYAML's own composer, for the text libyaml refuses but the language reads.

    libyaml refuses an escaped lone surrogate (``"\\ud800"``); such a value is
    read, and refused later with the expression or value it spoils.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        return _IMPLICIT


def parse(text: str) -> Parsed | None:
    """Return the document in ``text``, or None when it holds no value.

    Raises YamlError, located, when the text is no YAML the language reads.
    """
    text = text.removeprefix("\ufeff")
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        if exc.problem != "found invalid Unicode character escape code":
            raise _explained(text, exc) from None
        try:
            root = yaml.compose(text, Loader=_SlowLoader)
        except yaml.MarkedYAMLError as slow:
            raise _explained(text, slow) from None
        except RecursionError:
            raise _explained(text, exc) from None
    except yaml.reader.ReaderError as exc:
        # The offset counts bytes of the UTF-8 text libyaml was given.
        before = text.encode("utf-8", "surrogatepass")[: exc.position]
        line, col = position(before.decode("utf-8", "replace"), -1)
        reason = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise YamlError(line, col, f"invalid YAML: {reason}") from None
    except yaml.YAMLError as exc:
        raise YamlError(1, 1, f"invalid YAML: {exc}") from None
    except RecursionError:  # only PyYAML's own composer recurses
        raise YamlError(1, 1, f"invalid YAML: nested deeper than {MAX_DEPTH}") from None
    if root is None:
        return None
    builder = _Builder(text)
    data = builder.value(root, (), 0)
    line, col = root.start_mark.line + 1, root.start_mark.column + 1
    builder.marks[()] = (line, col, line, col)
    return Parsed(data, builder.marks, frozenset(builder.quoted))


def _explained(text: str, exc: yaml.MarkedYAMLError) -> YamlError:
    """Return libyaml's complaint in plain words, where the fix goes."""
    problem = exc.problem or exc.context or "unreadable"
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    found = text[mark.index : mark.index + 1] if mark else ""
    braces = _first_braces(text)
    if braces is not None and braces[0] <= line:
        return YamlError(*braces, f"invalid YAML: {_BRACES}")
    if "tab" in problem or found == "\t":
        return YamlError(line, col, f"invalid YAML: {_TABS}")
    opened = exc.context_mark
    at = (opened.line + 1, opened.column + 1) if opened else (line, col)
    context = exc.context or ""
    if "end of stream" in problem and context.startswith("while scanning a quoted"):
        # An unclosed quote runs to the end of the file: point at where it
        # was opened, which is where the fix goes.
        return YamlError(*at, f"invalid YAML: {context} that is never closed")
    if problem.startswith("did not find expected ',' or"):
        return YamlError(
            *at,
            f"invalid YAML: the '{_OPENERS[problem[-2]]}' opened here is never "
            f"closed ({problem} at {line}:{col})",
        )
    if problem == "did not find expected node content" and context.endswith(
        "flow node"
    ):
        # A list or mapping left open at the end ('[a, b,'): libyaml stops
        # where the file ends; the fix goes where it was opened.
        opener = _unclosed_opener(text, mark.index if mark else len(text))
        if opener is not None:
            o_line, o_col, char = opener
            return YamlError(
                o_line,
                o_col,
                f"invalid YAML: the '{char}' opened here is never closed "
                f"({problem} at {line}:{col})",
            )
    if problem == "found character that cannot start any token" and found:
        problem = f"found character {found!r} that cannot start any token"
    elif problem == "found unknown escape character" and found == "\\":
        problem += f" {text[mark.index : mark.index + 2]!r}"
    elif problem == "did not find expected key" and context.endswith("block mapping"):
        problem = f"expected a key lined up with the mapping at {at[0]}:{at[1]}"
    elif problem == "found undefined alias" and mark:
        name = re.match(r"\*?([^\s,\[\]{}]*)", text[mark.index :])
        problem += f" '{name.group(1)}'" if name else ""
    elif problem == "second occurrence" and opened:
        name = re.match(r"&([^\s,\[\]{}]*)", text[mark.index :] if mark else "")
        anchor = f" &{name.group(1)}" if name else ""
        problem = f"anchor{anchor} is defined twice (first at {at[0]}:{at[1]})"
    return YamlError(line, col, f"invalid YAML: {problem}")


_OPENERS = {"]": "[", "}": "{"}


def _unclosed_opener(text: str, end: int) -> tuple[int, int, str] | None:
    """Return line, column and character of the last '[' or '{' still open at
    ``end`` (quoted text and comments skipped), or None."""
    stack: list[int] = []
    i = 0
    while i < end:
        c = text[i]
        if c in "'\"":
            close = text.find(c, i + 1)
            i = end if close < 0 else close + 1
            continue
        if c == "#" and (i == 0 or text[i - 1] in " \t\n"):
            newline = text.find("\n", i)
            i = end if newline < 0 else newline
            continue
        if c in "[{":
            stack.append(i)
        elif c in "]}" and stack:
            stack.pop()
        i += 1
    if not stack:
        return None
    at = stack[-1]
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    return line, col, text[at]


def _first_braces(text: str) -> tuple[int, int] | None:
    """Return where the first unquoted ``{{`` is, or None.

    Tokens, not text, so that a template inside a quoted or block scalar is
    left alone.  Only called for a text libyaml refused, up to the refusal.
    """
    if "{{" not in text:
        return None
    before = None
    try:
        for token in yaml.scan(text, Loader=_Loader):
            if (
                isinstance(token, FlowMappingStartToken)
                and isinstance(before, FlowMappingStartToken)
                and token.start_mark.index == before.start_mark.index + 1
            ):
                return before.start_mark.line + 1, before.start_mark.column + 1
            before = token
    except yaml.YAMLError:
        pass
    return None


class _Builder:
    """Turn composed nodes into plain values, recording their marks by path."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.marks: dict[PathKey, Mark] = {}
        self.quoted: list[PathKey] = []
        self.count = 0
        self.open: set[int] = set()
        """Collections being built: an alias back into one is a cycle."""

    def value(self, node: Node, path: PathKey, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.refuse(
                node,
                f"invalid YAML: aliases expand the document beyond {MAX_NODES:,} "
                "values",
            )
        if node.__class__ is ScalarNode:
            return self.scalar(node, path)
        if depth >= MAX_DEPTH:
            raise self.refuse(node, f"invalid YAML: nested deeper than {MAX_DEPTH}")
        if id(node) in self.open:
            raise self.refuse(
                node, "invalid YAML: an alias refers to the value it is in"
            )
        self.open.add(id(node))
        try:
            if node.__class__ is MappingNode:
                self.check_tag(node, _MAP)
                return self.mapping(node, path, depth)
            self.check_tag(node, _SEQ)
            return self.sequence(node, path, depth)
        finally:
            self.open.discard(id(node))

    def sequence(self, node: Node, path: PathKey, depth: int) -> list[Any]:
        items = []
        marks = self.marks
        for i, child in enumerate(node.value):
            where = path + (i,)
            start = child.start_mark
            line, col = start.line + 1, start.column + 1
            marks[where] = (line, col, line, col)
            items.append(self.value(child, where, depth + 1))
        return items

    def mapping(self, node: Node, path: PathKey, depth: int) -> dict[Any, Any]:
        if node.flow_style and self.text.startswith("{{", node.start_mark.index):
            raise self.refuse(node, f"invalid YAML: {_BRACES}")
        result: dict[Any, Any] = {}
        merges: list[Node] | None = None
        marks = self.marks
        for key_node, value_node in node.value:
            if (
                key_node.__class__ is ScalarNode
                and key_node.value == "<<"
                and key_node.tag == _IMPLICIT
                and not key_node.style
            ):
                if merges is not None:
                    raise self.refuse(
                        key_node, "duplicate key: key '<<' appears twice in one mapping"
                    )
                merges = self.merge_sources(value_node)
                continue
            key = self.key(key_node, path, depth)
            if key in result:
                raise self.refuse(
                    key_node, f"duplicate key: key '{key}' appears twice in one mapping"
                )
            where = path + (key,)
            k = key_node.start_mark
            if value_node.value == "" and not value_node.style:
                line, col = self.empty_value(value_node, node.flow_style)
            else:
                line, col = (
                    value_node.start_mark.line + 1,
                    value_node.start_mark.column + 1,
                )
            marks[where] = (k.line + 1, k.column + 1, line, col)
            result[key] = self.value(value_node, where, depth + 1)
        if merges:
            self.merge(result, merges, path, depth)
        return result

    def empty_value(self, node: Node, flow: bool) -> tuple[int, int]:
        """Return where messages put a missing value, as they always have.

        In a flow mapping that is just after the colon; in a block mapping it
        is the next thing written, unless a comment follows the colon.
        """
        text, mark = self.text, node.start_mark
        line, col = mark.line + 1, mark.column + 1
        if flow:
            colon = mark.index
            while colon > 0 and text[colon - 1] in " \t\r\n":
                colon -= 1
            if colon and text[colon - 1] == ":":
                skipped = text[colon : mark.index]
                lines = skipped.count("\n")
                if not lines:
                    return line, col - len(skipped)
                return line - lines, colon - text.rfind("\n", 0, colon)
        else:
            end = _BLANK.match(text, mark.index).end()  # type: ignore[union-attr]
            if not text.startswith("#", end):
                skipped = text[mark.index : end]
                lines = skipped.count("\n")
                if not lines:
                    return line, col + len(skipped)
                return line + lines, len(skipped) - skipped.rfind("\n")
        return line, col

    def merge_sources(self, node: Node) -> list[Node]:
        if node.__class__ is MappingNode:
            return [node]
        if node.__class__ is SequenceNode:
            for item in node.value:
                if item.__class__ is not MappingNode:
                    raise self.refuse(
                        item,
                        "invalid YAML: expected a mapping for merging, but found "
                        + _KINDS[item.__class__],
                    )
            return list(node.value)
        raise self.refuse(
            node,
            "invalid YAML: expected a mapping or list of mappings for merging, "
            f"but found {_KINDS[node.__class__]}",
        )

    def merge(
        self, result: dict[Any, Any], sources: list[Node], path: PathKey, depth: int
    ) -> None:
        """Add the keys of ``sources`` that ``result`` lacks, with their marks."""
        own = self.marks
        for source in sources:
            self.marks = {}
            try:
                values = self.value(source, path, depth)
            finally:
                found, self.marks = self.marks, own
            fresh = {k: v for k, v in values.items() if k not in result}
            result.update(fresh)
            size = len(path)
            own.update(
                (where, mark) for where, mark in found.items() if where[size] in fresh
            )

    def key(self, node: Node, path: PathKey, depth: int) -> Any:
        if node.__class__ is ScalarNode:
            return self.scalar(node, path, key=True)
        if node.__class__ is SequenceNode and depth < MAX_DEPTH:
            # A list as a key is read as a tuple (hashable), as ruamel.yaml did.
            return tuple(self.key(item, path, depth + 1) for item in node.value)
        raise self.refuse(node, f"invalid YAML: a {_KINDS[node.__class__]} as a key")

    def scalar(self, node: Node, path: PathKey, *, key: bool = False) -> Any:
        tag, text, style = node.tag, node.value, node.style
        if tag == _IMPLICIT:
            if style:
                if not key and style in "'\"":
                    self.quoted.append(path)
                return text
            value = self.plain(node, text)
        elif tag == _STR:
            if not key and style and style in "'\"":
                self.quoted.append(path)
            return text
        else:
            value = self.tagged(node, tag, text)
        if value.__class__ is float and not math.isfinite(value):
            raise self.refuse(node, f"numbers must be finite, found {value}")
        return value

    def plain(self, node: Node, text: str) -> Any:
        """Return the value of an untagged plain scalar (YAML 1.2 core schema)."""
        if text in _NULLS:
            return None
        first = text[0]
        if first in "tTfF":
            return _BOOLS.get(text, text)
        if first not in _NUMBER_START:
            return text
        if _INT_RE.fullmatch(text):
            return self.integer(node, text)
        if _FLOAT_RE.fullmatch(text):
            return _float(text)
        if _TIMESTAMP_RE.fullmatch(text):
            return self.timestamp(node)
        return text

    def tagged(self, node: Node, tag: str, text: str) -> Any:
        if tag == _INT:
            return self.integer(node, text)
        if tag == _FLOAT:
            try:
                return _float(text)
            except ValueError:
                reason = f"invalid YAML: {text!r} is not a number"
                raise self.refuse(node, reason) from None
        if tag == _BOOL:
            if text.lower() not in _TAGGED_BOOLS:
                raise self.refuse(node, f"invalid YAML: {text!r} is not a boolean")
            return _TAGGED_BOOLS[text.lower()]
        if tag == _NULL:
            return None
        if tag == _TIMESTAMP:
            return self.timestamp(node)
        raise self.refuse(node, f"invalid YAML: unsupported tag '{_shown_tag(tag)}'")

    def integer(self, node: Node, text: str) -> int:
        digits = text.replace("_", "")
        sign = -1 if digits.startswith("-") else 1
        digits = digits.lstrip("+-")
        base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2], 10)
        try:
            return sign * int(digits[2:] if base != 10 else digits, base)
        except ValueError as exc:
            reason = "too many digits" if "limit" in str(exc) else "not an integer"
            raise self.refuse(node, f"invalid YAML: {text!r} is {reason}") from None

    def timestamp(self, node: Node) -> Any:
        try:
            return _TIMESTAMPS.construct_yaml_timestamp(node)
        except (ValueError, yaml.YAMLError) as exc:
            raise self.refuse(node, f"invalid YAML: {node.value!r}: {exc}") from None

    def check_tag(self, node: Node, core: str) -> None:
        if node.tag != _IMPLICIT and node.tag != core:
            raise self.refuse(
                node, f"invalid YAML: unsupported tag '{_shown_tag(node.tag)}'"
            )

    @staticmethod
    def refuse(node: Node, reason: str) -> YamlError:
        return YamlError(node.start_mark.line + 1, node.start_mark.column + 1, reason)


_KINDS = {ScalarNode: "scalar", SequenceNode: "list", MappingNode: "mapping"}


def _float(text: str) -> float:
    digits = text.replace("_", "").lower()
    if digits.lstrip("+-") == ".inf":
        return -math.inf if digits.startswith("-") else math.inf
    if digits == ".nan":
        return math.nan
    return float(digits)


def _shown_tag(tag: str) -> str:
    return tag.replace(_YAML_TAG, "!!")
