"""Consoles: rich on a terminal, plain lines in CI or with NO_COLOR."""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def plain() -> bool:
    """Return whether output should be plain lines (CI, NO_COLOR, not a terminal).

    ``NO_COLOR`` counts when set to anything but the empty string
    (no-color.org); ``CI`` unless it says ``false`` or ``0``.
    """
    ci = os.environ.get("CI", "").strip().lower()
    return (
        ci not in ("", "false", "0")
        or bool(os.environ.get("NO_COLOR"))
        or not sys.stderr.isatty()
    )


@cache
def err_console() -> Console:
    """Return the console for progress and diagnostics (stderr)."""
    from rich.console import Console

    if plain():
        # No colour system at all: no_color=True alone still writes bold
        # and dim.
        return Console(stderr=True, color_system=None, highlight=False, width=200)
    return Console(stderr=True, highlight=False)


_verbosity = 0


def set_verbosity(level: int) -> None:
    """Set how much commands say: -1 quiet (-q), 0 normal, 1 verbose (-v)."""
    global _verbosity
    _verbosity = level


def verbosity() -> int:
    """Return the level ``-q``/``-v`` set: -1, 0 or 1.

    No level hides an error or a command's final result line.
    """
    return _verbosity
