"""Templates through jinja2: parsed for what they read, rendered in the sandbox.

``templates`` answers the common form (values named, no logic) without
jinja2, which costs more to import than the rest of loading a project; every
other template comes here.  Rendering always does.  Every render is bounded
(see ``sandbox``); unknown names are errors (StrictUndefined).
"""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

from jinja2 import Template, TemplateError, Undefined, meta, nodes, pass_context
from jinja2.runtime import Context

from .sandbox import (
    MAX_OUTPUT,
    BoundedEnvironment,
    check_printable,
    end_budget,
    start_budget,
)
from .shell_quoting import escape, plain, scan

_TOO_LONG = f"the rendered text is longer than the limit of {MAX_OUTPUT:,} characters"
# Any render's placeholder; each render checks the token is its own.
_PLACEHOLDER = re.compile("\x00[0-9a-f]{16}:(\\d+);")
# The values and the placeholder token of the shell render under way in this
# thread (parallel steps render in threads of their own).
_values: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "goap_shell_values", default=None
)
_token: contextvars.ContextVar[str] = contextvars.ContextVar(
    "goap_shell_token", default=""
)


@pass_context
def _plain(context: Context, value: Any) -> Any:
    # Taking the context keeps jinja2 from evaluating constant output at
    # compile time: parsing a template must never compute it.
    check_printable(value)
    return plain(value) if isinstance(value, bool) else value


@pass_context
def _placeholder(context: Context, value: Any) -> str:
    values = _values.get()
    if values is None or isinstance(value, Undefined):
        # An unknown name fails here, inside the render, where its error
        # is reported as the template's.
        return plain(value)
    check_printable(value)
    values.append(value)
    return f"{_token.get()}{len(values) - 1};"


@cache
def _environment(shell: bool) -> BoundedEnvironment:
    return BoundedEnvironment(_placeholder if shell else _plain)


@lru_cache(maxsize=4096)
def parsed_names(text: str) -> frozenset[str]:
    """Return the names ``text`` reads; raise ValueError on a syntax error."""
    # Validation, relevance (which sensors to run) and every run's start ask
    # about the same few templates; parsing them is the costly part.  Only
    # parsed and walked: nothing in the template is evaluated.
    env = _environment(False)
    try:
        return frozenset(meta.find_undeclared_variables(env.parse(text)))
    except TemplateError as exc:
        raise ValueError(exc.message or str(exc)) from None
    except RecursionError:
        raise ValueError("the template is nested too deeply") from None


# Methods of the mapping ``env`` is at run time: ``env.get`` is no variable.
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})


@lru_cache(maxsize=4096)
def parsed_env_names(text: str) -> frozenset[str]:
    """Return the environment variables ``text`` names (see ``templates``)."""
    env = _environment(False)
    try:
        tree = env.parse(text)
    except TemplateError as exc:
        raise ValueError(exc.message or str(exc)) from None
    except RecursionError:
        raise ValueError("the template is nested too deeply") from None
    if "env" not in meta.find_undeclared_variables(tree):
        return frozenset()  # a template that sets its own 'env'
    names: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Call)):
        if isinstance(node, nodes.Getattr) and _is_env(node.node):
            if node.attr not in _MAPPING_METHODS:
                names.add(node.attr)
        elif isinstance(node, nodes.Getitem) and _is_env(node.node):
            names.update(_text(node.arg))
        elif (
            isinstance(node, nodes.Call)
            and isinstance(node.node, nodes.Getattr)
            and _is_env(node.node.node)
            and node.node.attr == "get"
            and node.args
        ):
            names.update(_text(node.args[0]))
    return frozenset(names)


def _is_env(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "env"


def _text(node: nodes.Node) -> list[str]:
    """Return ``[value]`` for a string constant, else nothing."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return [node.value]
    return []


def render(text: str, context: Mapping[str, Any], *, shell_quote: bool) -> str:
    """Return ``text`` rendered with ``context``; raise ValueError on failure."""
    if not shell_quote:
        return _bounded(_environment(False), text, context)
    values: list[Any] = []
    # Random per render: no value (nor the template's text) can contain it.
    token = f"\x00{secrets.token_hex(8)}:"
    reset_values = _values.set(values)
    reset_token = _token.set(token)
    try:
        skeleton = _bounded(_environment(True), text, context)
    finally:
        _values.reset(reset_values)
        _token.reset(reset_token)
    return _fill(skeleton, values, token)


def _bounded(env: BoundedEnvironment, text: str, context: Mapping[str, Any]) -> str:
    """Render ``text`` within the sandbox's limits; raise ValueError on failure."""
    budget = start_budget()
    try:
        template = _compiled(env, text)
        parts: list[str] = []
        length = 0
        for chunk in template.generate(context):
            length += len(chunk)
            if length > MAX_OUTPUT:
                raise ValueError(_TOO_LONG)
            parts.append(chunk)
        return "".join(parts)
    except TemplateError as exc:
        raise ValueError(exc.message or str(exc)) from None
    except RecursionError:
        raise ValueError("too deep recursion (a macro calling itself?)") from None
    except MemoryError:
        raise ValueError("out of memory while rendering") from None
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of a render is the template's
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    finally:
        end_budget(budget)


@lru_cache(maxsize=1024)
def _compiled(env: BoundedEnvironment, text: str) -> Template:
    # Compiling costs far more than rendering, and a run renders the same
    # few commands again and again (every step, every sensor reading).
    return env.from_string(text)


def _fill(skeleton: str, values: list[Any], token: str) -> str:
    parts: list[str] = []
    at = 0
    length = 0
    for slot in scan(skeleton, _PLACEHOLDER):
        if not skeleton.startswith(token, slot.start) or slot.index >= len(values):
            raise ValueError("a shell command may not contain a NUL byte")
        value = values[slot.index]
        if isinstance(value, str) and token in value:
            raise ValueError(
                "a value holds another value's output (a macro or filter block): "
                "shell commands take values only from '{{ ... }}'"
            )
        parts.append(skeleton[at : slot.start])
        parts.append(escape(value, slot.context))
        at = slot.end
        length += len(parts[-1]) + len(parts[-2])
        if length > MAX_OUTPUT:
            raise ValueError(_TOO_LONG)
    parts.append(skeleton[at:])
    command = "".join(parts)
    if token[1:] in command or "\x00" in command:
        raise ValueError(
            "a value's placeholder was changed by the template (a filter block?): "
            "shell commands take values only from '{{ ... }}'"
        )
    return command


def skeleton(text: str) -> tuple[str, list[int], list[str]] | None:
    """Return ``text`` with each value as a placeholder, for the shell lexer.

    Every ``{{ ... }}`` becomes ``\\x00N;`` in the text of every branch; also
    returned are each value's line and source text (for messages).  None if
    the template does not parse (its syntax error is reported elsewhere).
    """
    try:
        tree = _environment(False).parse(text)
    except (TemplateError, RecursionError):
        return None
    lines: list[int] = []
    shape = "".join(_skeleton(tree.body, lines))
    sources = _value_sources(text)
    if len(sources) != len(lines):
        sources = []
    return shape, lines, sources


def _value_sources(text: str) -> list[str]:
    """Return the text of each ``{{ ... }}`` in ``text``, in order (for messages)."""
    sources: list[str] = []
    parts: list[str] | None = None
    for _, kind, value in _environment(False).lex(text):
        if kind == "variable_begin":
            parts = []
        if parts is not None:
            parts.append(value)
        if kind == "variable_end" and parts is not None:
            sources.append("".join(parts))
            parts = None
    return sources


def _skeleton(body: list[nodes.Node], lines: list[int]) -> list[str]:
    out: list[str] = []
    for node in body:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if isinstance(child, nodes.TemplateData):
                    out.append(child.data)
                else:
                    out.append(f"\x00{len(lines)};")
                    lines.append(child.lineno)
            continue
        for field in ("body", "elif_", "else_"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                out.extend(_skeleton(inner, lines))
    return out
