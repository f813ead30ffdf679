"""Templates: what they read, where their values stand in a shell command, rendering.

A value in a shell command is quoted for its context (see ``shell_quoting``):
the command is rendered with an unforgeable placeholder per ``{{ ... }}`` value,
the placeholders are located by a shell lexer, and each is replaced by its
value escaped for the bare word, ``"..."``, ``'...'`` or ``$((...))`` it
stands in.  Only values are escaped: the text of the template itself (written
in the YAML, or produced by ``{% if %}``) is trusted.  A hook with
``quote: false`` gets its values unquoted.  Rendering, and reading any
template with logic in it, is jinja2's (see ``jinja_templates``).

Nearly every template only names values (``{{ branch }}``, ``{{ env.HOME }}``).
Those are read here, without jinja2: importing and setting up jinja2 costs
more than the rest of loading a project, and ``validate``, ``plan`` and a
pre-commit hook read templates but never render one.  The reading agrees with
jinja2's exactly -- anything this file is not sure of goes to jinja2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .shell_quoting import REFUSED, scan

if TYPE_CHECKING:
    from .model import Action, Hook

# ``{{ name }}`` or ``{{ name.attr.attr }}``: jinja2's plain names, spaces and
# tabs only around them (any other form is jinja2's to read).
_SIMPLE_VALUE = re.compile(
    r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?"
    r"(?:\.[A-Za-z_][A-Za-z0-9_]*)*[ \t]*\}\}"
)
# Words jinja2 reads as constants or operators where a name would stand, and
# names it resolves itself (``self``, the environment's globals): none is a
# name the template reads from its values.
_NOT_NAMES = frozenset(
    {"true", "false", "none", "True", "False", "None"}
    | {"not", "and", "or", "in", "is", "if", "else"}
    | {"self", "range", "dict", "cycler", "joiner", "namespace"}
)
_NEWLINE = re.compile(r"\r\n|\r|\n")
_SLOT = re.compile("\x00(\\d+);")
# Every place where a value cannot be quoted is opened by one of these
# (backticks, ``${``, ``$'``, ``$``, here-documents, comments, ``\``): a
# command without any needs no lexing to know it has none.
OPENS_REFUSED = "`$<#\\"


def _simple_values(text: str) -> list[re.Match[str]] | None:
    """Return the ``{{ name }}`` values of a template with nothing else, or None.

    None means jinja2 must read ``text``: it has a block, a comment, an
    expression, or a ``{`` that could start one.
    """
    matches = list(_SIMPLE_VALUE.finditer(text))
    at = 0
    for match in matches:
        data = text[at : match.start()]
        if match[1] in _NOT_NAMES or _opens(data) or data.endswith("{"):
            return None
        at = match.end()
    if _opens(text[at:]):
        return None
    return matches


def _opens(data: str) -> bool:
    return "{{" in data or "{%" in data or "{#" in data


def template_names(text: str) -> set[str]:
    """Return the names ``text`` reads; raise ValueError on a syntax error."""
    if "{" not in text:
        return set()
    simple = _simple_values(text)
    if simple is not None:
        return {match[1] for match in simple}
    from .jinja_templates import parsed_names

    return set(parsed_names(text))


def template_env_names(text: str) -> set[str]:
    """Return the environment variables ``text`` reads (``{{ env.NAME }}``).

    Only names written out count (``env.NAME``, ``env['NAME']``,
    ``env.get('NAME')``); ``env[some_var]`` cannot be known before it runs.
    Raises ValueError on a syntax error.
    """
    if "env" not in text:
        return set()
    simple = _simple_values(text)
    if simple is not None:
        return {match[2] for match in simple if match[1] == "env" and match[2]}
    from .jinja_templates import parsed_env_names

    return set(parsed_env_names(text))


def render(text: str, context: Mapping[str, Any], *, shell_quote: bool = False) -> str:
    """Return ``text`` rendered with ``context``; raise ValueError on failure.

    With ``shell_quote`` every value is quoted for the shell context it
    stands in, and a value in a context where that is impossible is an error.
    """
    if "{" not in text:
        return text
    from . import jinja_templates

    return jinja_templates.render(text, context, shell_quote=shell_quote)


def shell_problems(text: str) -> list[str]:
    """Return why values in shell command ``text`` cannot be quoted (static).

    The template is parsed, never rendered: each ``{{ ... }}`` becomes a
    placeholder in the text of every branch, and the shell lexer tells where
    each stands.  A branch that changes quoting is checked again at run time.
    """
    if "{" not in text:
        return []
    shape = _simple_skeleton(text)
    if shape is None:
        from .jinja_templates import skeleton

        shape = skeleton(text)
        if shape is None:
            return []
    skeleton_text, lines, sources = shape
    if not any(c in skeleton_text for c in OPENS_REFUSED):
        return []
    problems = []
    for slot in scan(skeleton_text, _SLOT):
        if slot.context in REFUSED:
            where = f"value {slot.index + 1}"
            if "\n" in text:
                where += f", line {lines[slot.index]} of the command"
            shown = f"{sources[slot.index]} ({where})" if sources else where
            problems.append(f"{shown}: {REFUSED[slot.context]}")
    return problems


def _simple_skeleton(text: str) -> tuple[str, list[int], list[str]] | None:
    """``jinja_templates.skeleton`` for a template that only names values."""
    simple = _simple_values(text)
    if simple is None:
        return None
    parts: list[str] = []
    lines: list[int] = []
    at = 0
    line = 1
    for match in simple:
        data = text[at : match.start()]
        line += len(_NEWLINE.findall(data))
        # jinja2 writes every line ending of the text as "\n".
        parts.append(_NEWLINE.sub("\n", data))
        parts.append(f"\x00{len(lines)};")
        lines.append(line)
        at = match.end()
    parts.append(_NEWLINE.sub("\n", text[at:]))
    return "".join(parts), lines, [match[0] for match in simple]


def strings_in(value: Any) -> list[str]:
    """Return every string in a nested value, mapping keys included (templates)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def hook_template_reads(hook: Hook) -> set[str]:
    """Return the names a hook's command or arguments read through templates."""
    texts = [hook.target] if isinstance(hook.target, str) else list(hook.target)
    return _names_in(texts + strings_in(dict(hook.args)))


def action_template_reads(action: Action) -> set[str]:
    """Return the names an action's hook and ``env:`` templates read."""
    if action.hook is None:
        return set()
    return hook_template_reads(action.hook) | _names_in(strings_in(dict(action.env)))


def _names_in(texts: list[str]) -> set[str]:
    names: set[str] = set()
    for text in texts:
        try:
            names |= template_names(text)
        except ValueError:
            continue
    return names
