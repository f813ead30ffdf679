"""The options that narrow a command to part of its goal, and how much it says.

``--target``, ``--tag`` and ``--skip-tag`` (``plan``, ``explain``, ``run``)
are read into a ``Focus`` (see ``planner.focus``); ``-q`` and ``-v`` are
global options, also accepted after ``plan``, ``explain`` and ``run``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def focus_options(fn: F) -> F:
    """Add ``--target``, ``--tag`` and ``--skip-tag``; pass them as ``focus``."""
    from .cli import complete

    @wraps(fn)
    def wrapper(
        *args: Any,
        targets: Sequence[str],
        tags: Sequence[str],
        skip_tags: Sequence[str],
        **kwargs: Any,
    ) -> Any:
        from .planner.focus import Focus

        focus = Focus(tuple(targets), tuple(tags), tuple(skip_tags))
        return fn(*args, focus=focus, **kwargs)

    options = [
        click.option(
            "--target",
            "targets",
            multiple=True,
            metavar="PART|ACTION|CONDITION",
            shell_complete=complete("targets"),
            help="Plan to this only: a named goal part, an action's effects or a "
            "condition (repeatable: all of them).",
        ),
        click.option(
            "--tag",
            "tags",
            multiple=True,
            shell_complete=complete("tags"),
            help="Plan with only the actions carrying this tag (repeatable).",
        ),
        click.option(
            "--skip-tag",
            "skip_tags",
            multiple=True,
            metavar="TAG",
            shell_complete=complete("tags"),
            help="Plan without the actions carrying this tag (repeatable).",
        ),
    ]
    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def _level(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    from .console import set_verbosity, verbosity

    if not value:
        return
    level = -1 if param.name == "quiet" else 1
    if verbosity() == -level:
        raise click.UsageError("-q and -v exclude each other", ctx)
    set_verbosity(level)


def verbosity_options(fn: F) -> F:
    """Add ``-q/--quiet`` and ``-v/--verbose`` to a command (or the group)."""
    quiet = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_level,
        help="Print only errors and the final result line.",
    )
    verbose = click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_level,
        help="Print more: sensor readings and commands, plan details.",
    )
    return quiet(verbose(fn))


def show_focus(lines: Sequence[str]) -> None:
    """Say on stderr that a partial goal is planned, and which."""
    from .cli import _stderr

    for line in lines:
        _stderr(line, style="cyan", info=True)
