"""Render hook arguments with jinja2: sandboxed, strict, shell-quoted by default.

Every ``{{ ... }}`` in a shell command goes through ``shlex.quote`` unless the
hook says ``quote: false``, so a value such as ``x; touch pwned`` stays one
argument.  Unknown names are errors (StrictUndefined), and the sandbox keeps
templates away from Python internals.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

if TYPE_CHECKING:
    from .model import Action, Hook


def _quote(value: Any) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return shlex.quote(str(value))


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


@cache
def _environment(shell_quote: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_quote if shell_quote else _plain,
    )


def template_names(text: str) -> set[str]:
    """Return the names ``text`` reads; raise ValueError on a syntax error."""
    if "{" not in text:
        return set()
    return set(_parsed_names(text))


@lru_cache(maxsize=4096)
def _parsed_names(text: str) -> frozenset[str]:
    # Validation, relevance (which sensors to run) and every run's start ask
    # about the same few templates; parsing them is the costly part.
    env = _environment(False)
    try:
        return frozenset(meta.find_undeclared_variables(env.parse(text)))
    except TemplateError as exc:
        raise ValueError(exc.message or str(exc)) from None


def render(text: str, context: Mapping[str, Any], *, shell_quote: bool = False) -> str:
    """Return ``text`` rendered with ``context``; raise ValueError on failure."""
    if "{" not in text:
        return text
    try:
        return _environment(shell_quote).from_string(text).render(context)
    except TemplateError as exc:
        raise ValueError(exc.message or str(exc)) from None


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
