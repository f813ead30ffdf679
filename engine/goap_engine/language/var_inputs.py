"""Values for vars from outside the files: ``--var``, ``--var-file``, ``GOAP_VAR_*``.

A version bump or a threshold for one run should not mean editing YAML.  Each
value names a var the goal or its packs declare; the later source wins:

    a pack's value < the goal's < a var file < the environment < --var

A value given as text (``--var``, the environment) takes the type of the
var's own value: ``--var min_accuracy=0.95`` is a number when
``min_accuracy: 0.9`` is one, ``--var publish=no`` a boolean when the var is
one.  A var file is YAML, so its values are typed already, and must match.
The command line gathers the values (``given``); the loader applies them
after reading every file, where it knows each var (``apply``).
"""

from __future__ import annotations

import difflib
import math
import os
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..documents import read_document, yaml_type
from ..errors import Diagnostic, InputError, Location

ENV_PREFIX = "GOAP_VAR_"
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
# Numbers as YAML and JSON write them.  Python's int() and float() also take
# "1_000" and digits of other scripts ("١٢" is 12): not what a var means.
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)


@dataclass(frozen=True)
class VarInput:
    """One value for one var, and where it was given (for messages)."""

    name: str
    value: Any
    origin: str
    """``--var NAME=...``, ``GOAP_VAR_NAME`` or the var file's name."""
    location: Location | None = None
    required: bool = True
    """Whether naming no var is an error (the environment may hold values
    meant for other goals: those are skipped)."""


_given: ContextVar[tuple[VarInput, ...]] = ContextVar("goap_var_inputs", default=())


def given() -> tuple[VarInput, ...]:
    """Return the values the running command was given, in precedence order."""
    return _given.get()


@contextmanager
def giving(inputs: Sequence[VarInput]) -> Iterator[None]:
    """Make ``inputs`` the values every load inside the block applies."""
    token = _given.set(tuple(inputs))
    try:
        yield
    finally:
        _given.reset(token)


def arguments(inputs: Sequence[VarInput] | None = None) -> str:
    """Return the ``--var-file`` and ``--var`` arguments that give ``inputs`` again.

    A command the engine suggests (approve, resume) must run with the values
    this one was given, or pasted it would plan, and act, with others.  The
    environment's values are left out: they are still there.  Empty, or
    starting with a space.
    """
    inputs = given() if inputs is None else inputs
    files = dict.fromkeys(i.origin for i in inputs if i.location is not None)
    words = [f"--var-file {shlex.quote(name)}" for name in files]
    words += [
        f"--var {shlex.quote(f'{i.name}={i.value}')}"
        for i in inputs
        if i.location is None and i.origin.startswith("--var ")
    ]
    return "".join(f" {word}" for word in words)


def from_assignments(items: Sequence[str]) -> list[VarInput]:
    """Return ``NAME=VALUE`` items (``--var``) as values; raise InputError."""
    found = []
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"--var {item!r}: expected NAME=VALUE")
        found.append(VarInput(name, value, f"--var {name}"))
    return found


def from_environment(environ: Mapping[str, str] | None = None) -> list[VarInput]:
    """Return the ``GOAP_VAR_<name>`` variables of the environment as values."""
    environ = os.environ if environ is None else environ
    return [
        VarInput(key[len(ENV_PREFIX) :], value, key, required=False)
        for key, value in sorted(environ.items())
        if key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX)
    ]


def from_file(path: Path) -> list[VarInput]:
    """Return the values of a var file (a YAML or JSON mapping); raise InputError."""
    doc, problems = read_document(path)
    if doc is None:
        # As an empty .tfvars: a generated file may have nothing to give.
        if problems[0].message.startswith("empty file"):
            return []
        raise InputError(problems)
    found = []
    for name, value in doc.data.items():
        where = doc.where((name,), key=True)
        if isinstance(value, dict | list) or value is None:
            kind = "nothing" if value is None else type(value).__name__
            raise InputError(
                Diagnostic(
                    doc.where((name,)),
                    f"var '{name}': expected a string, number or boolean, found {kind}",
                    "var file",
                )
            )
        found.append(VarInput(str(name), value, f"{doc.shown}", where))
    return found


def apply(
    values: dict[str, Any], inputs: Sequence[VarInput], state_names: set[str]
) -> list[Diagnostic]:
    """Set ``values`` (the vars read from the files) from ``inputs``, typed.

    Returns a problem per unknown name or value of the wrong type.
    """
    problems = []
    for given_value in inputs:
        name = given_value.name
        if given_value.location is None:
            where, lead = Location(""), f"{given_value.origin}: "
        else:
            where, lead = given_value.location, f"var '{name}': "
        if name not in values:
            if not given_value.required:
                continue
            problem = _unknown(name, values, state_names)
        else:
            typed, problem = _typed(values[name], given_value.value)
            if not problem:
                values[name] = typed
                continue
        problems.append(Diagnostic(where, lead + problem))
    return problems


def _unknown(name: str, values: Mapping[str, Any], state_names: set[str]) -> str:
    if name in state_names:
        return (
            f"'{name}' is a state variable, not a var: give its start value with "
            f"--set {name}=VALUE"
        )
    close = difflib.get_close_matches(name, list(values), n=1)
    if close:
        return f"unknown var '{name}' (did you mean '{close[0]}'?)"
    known = ", ".join(sorted(values)) or "none"
    return f"unknown var '{name}'; the goal's vars: {known}"


def _typed(current: Any, value: Any) -> tuple[Any, str]:
    """Return ``value`` as the type of ``current`` and '', or None and why not."""
    kind = yaml_type(current)
    if isinstance(value, str) and kind != "string":
        return _parsed(kind, value)
    found = yaml_type(value)
    if found == kind or (kind == "number" and found == "integer"):
        if kind == "number":
            value = float(value)
        return value, ""
    return (
        None,
        f"expected {_article(kind)} (as its value {current!r}), found {value!r}",
    )


def _parsed(kind: str, text: str) -> tuple[Any, str]:
    word = text.strip()
    if kind == "boolean" and word.lower() in _TRUE | _FALSE:
        return word.lower() in _TRUE, ""
    try:
        if kind == "integer" and _INTEGER.fullmatch(word):
            return int(word), ""
        if kind == "number" and _NUMBER.fullmatch(word):
            number = float(word)
            if math.isfinite(number):
                return number, ""
    except ValueError:  # an integer of more digits than int() converts
        pass
    expected = _article(kind) + (" (true or false)" if kind == "boolean" else "")
    # A value of megabytes (a file's content by mistake) is not echoed whole.
    shown = repr(text) if len(text) <= 80 else f"{text[:60]!r}... ({len(text)} chars)"
    return None, f"expected {expected}, found {shown}"


def _article(kind: str) -> str:
    return f"an {kind}" if kind == "integer" else f"a {kind}"
