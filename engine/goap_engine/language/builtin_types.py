"""What a built-in declares: its arguments, their types, where its function is.

``builtins`` lists the built-ins that work on local files and processes,
``builtin_services`` those that call a service; both are written with
``arg`` and ``builtin`` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ArgType = Literal["str", "int", "float", "bool", "list[str]", "mapping", "path"]
Kind = Literal["action", "sensor", "both"]


@dataclass(frozen=True, slots=True)
class Argument:
    """One key of a built-in's ``with:``.

    ``default`` is the value used when the key is absent (None: no fixed
    default; the description says what happens then).
    """

    name: str
    type: ArgType
    description: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Builtin:
    """A built-in hook: where its function is and the arguments it reads.

    ``one_of`` lists groups of which at least one argument must be given;
    ``needs`` maps an argument to another that must come with it; ``bound``
    says how long a call to a service can take, and what ends it.
    """

    name: str
    target: str
    kind: Kind
    summary: str
    arguments: tuple[Argument, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    needs: tuple[tuple[str, str], ...] = ()
    bound: str = ""

    def argument(self, name: str) -> Argument | None:
        """Return the argument called ``name``, or None."""
        return next((a for a in self.arguments if a.name == name), None)


def arg(
    name: str,
    type_: ArgType,
    description: str,
    *,
    required: bool = False,
    default: Any = None,
    choices: tuple[str, ...] = (),
) -> Argument:
    """Return the declaration of one ``with:`` key."""
    return Argument(name, type_, description, required, default, choices)


def builtin(
    name: str,
    function: str,
    kind: Kind,
    summary: str,
    *arguments: Argument,
    one_of: tuple[tuple[str, ...], ...] = (),
    needs: tuple[tuple[str, str], ...] = (),
    bound: str = "",
) -> Builtin:
    """Return a built-in whose function is ``function`` of its family's module."""
    module = name.split(".")[0]
    module = {"hf": "huggingface", "env": "environment", "file": "environment"}.get(
        module, module
    )
    target = f"goap_engine.integrations.{module}:{function}"
    return Builtin(name, target, kind, summary, arguments, one_of, needs, bound)
