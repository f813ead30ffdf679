"""``--lock-timeout DURATION``: the option of every command that takes a state's lock.

Kept out of ``cli`` so that the state commands and ``run`` share one option
without either module growing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

_PART = r"[0-9]+(?:\.[0-9]+)?"
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(rf"(?:{_PART}(?:ms|s|m|h))+|{_PART}")


class Duration(click.ParamType[float, Any]):
    """A wait such as ``30``, ``45s``, ``5m`` or ``1m30s`` (bare numbers: seconds)."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        text = str(value).strip()
        if not _DURATION.fullmatch(text):
            self.fail(
                f"{value!r}: expected a duration such as 30, 45s, 5m or 1m30s",
                param,
                ctx,
            )
        if not any(c.isalpha() for c in text):
            return float(text)
        return sum(
            float(number) * _UNITS[unit]
            for number, unit in re.findall(rf"({_PART})(ms|s|m|h)", text)
        )


def lock_timeout_option(fn: F) -> F:
    """Add ``--lock-timeout``: wait that long for another run's lock, then exit 4."""

    @wraps(fn)
    def wrapper(*args: Any, lock_timeout: float, **kwargs: Any) -> Any:
        if lock_timeout <= 0:
            return fn(*args, **kwargs)
        from .cli import _stderr
        from .executor.lock import waiting

        with waiting(lock_timeout, lambda text: _stderr(text, style="yellow")):
            return fn(*args, **kwargs)

    option = click.option(
        "--lock-timeout",
        "lock_timeout",
        type=Duration(),
        default="0",
        show_default=True,
        metavar="DURATION",
        help="Wait up to DURATION (30s, 5m) for another run to release the "
        "state's lock; then exit 4.",
    )
    return option(wrapper)  # type: ignore[return-value]
