"""How ``goap-engine mcp`` words what goes wrong: the engine's message, the exit code.

Every failure an agent sees -- an engine error, arguments that do not fit a
tool's schema, a prompt's bad input, a refused tool -- reads as the command
line's message followed by ``(exit code N: meaning)``, so an agent handles a
tool error as it would the command's.
"""

from __future__ import annotations

from typing import Any

from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS
from pydantic import ValidationError

from .errors import (
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_LOCKED,
    EXIT_NO_PLAN,
    EXIT_WAITING,
    GoapError,
    NoPlanError,
)

EXIT_MEANINGS = {
    EXIT_FAILED: "a run or step failed",
    EXIT_INPUT: "bad input",
    EXIT_NO_PLAN: "no plan",
    EXIT_LOCKED: "locked by another run",
    EXIT_WAITING: "waiting for an approval",
}


def refusal(name: str) -> str:
    """Return why a tool that changes the world is refused."""
    return f"{name}: refused: this server is read-only (goap-engine mcp --read-only)"


def prompt_error(text: str) -> MCPError:
    """Return a prompt's bad input as the protocol's invalid-params error.

    The SDK passes an ``MCPError`` to the client as it is; anything else
    becomes "Internal server error" and a traceback on the server's stderr.
    """
    return MCPError(INVALID_PARAMS, text)


def bad_arguments(tool: str, exc: ValidationError) -> str:
    """Return arguments that do not fit a tool's schema as the engine says it.

    Each wrong argument by name with what was expected, but not the value
    given: it may be a secret the model put in the wrong place.
    """
    wrong = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        wrong.append(f"argument '{where}': {error['msg'].lower()}")
    lines = [f"error: {tool}: {line}" for line in wrong]
    return "\n".join([*lines, f"(exit code {EXIT_INPUT}: bad input)"])


def has_nul(value: Any) -> bool:
    """Return whether a NUL character is anywhere in ``value`` (keys included)."""
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False


def nul_argument(tool: str, arguments: dict[str, Any]) -> str | None:
    """Return why an argument holding a NUL character is refused, if one does.

    No command line can carry a NUL, and a process argument, a path or a
    shell hook cannot hold one: refused as bad input for every tool alike.
    """
    for key, value in arguments.items():
        if has_nul(value):
            return (
                f"error: {tool}: argument '{key}': a NUL character cannot be "
                f"given\n(exit code {EXIT_INPUT}: bad input)"
            )
    return None


def failure(exc: GoapError) -> str:
    """Return an engine error as a tool error's text: the message and its code."""
    text = str(exc)
    if isinstance(exc, NoPlanError):
        text = "\n".join([f"error: {text}", *exc.explanation.lines])
    meaning = EXIT_MEANINGS.get(exc.exit_code, "error")
    return f"{text}\n(exit code {exc.exit_code}: {meaning})"
