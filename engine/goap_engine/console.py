"""Consoles: rich on a terminal, plain lines in CI or with NO_COLOR."""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def plain() -> bool:
    """Return whether output should be plain lines (CI, NO_COLOR, not a terminal)."""
    return (
        bool(os.environ.get("CI"))
        or "NO_COLOR" in os.environ
        or not sys.stderr.isatty()
    )


@cache
def err_console() -> Console:
    """Return the console for progress and diagnostics (stderr)."""
    from rich.console import Console

    if plain():
        return Console(stderr=True, no_color=True, highlight=False, width=200)
    return Console(stderr=True, highlight=False)
