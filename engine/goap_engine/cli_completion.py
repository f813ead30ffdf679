"""``goap-engine completion SHELL`` and what the shells complete.

click completes commands, options and choices by itself; this adds the
script to install, and values it cannot know: goal files (``goals.d/`` first),
search and heuristic names, and the ids of the goal's actions for
``--approve``.  A completion never prints an error: whatever fails to load
completes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem, get_completion_class

from .cli import _guard, main

COMPLETE_VAR = "_GOAP_ENGINE_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


@main.command()
@click.argument("shell", type=click.Choice(SHELLS))
@_guard
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    bash:  eval "$(goap-engine completion bash)"    in ~/.bashrc
    zsh:   eval "$(goap-engine completion zsh)"     in ~/.zshrc
    fish:  goap-engine completion fish > ~/.config/fish/completions/goap-engine.fish
    """
    found = get_completion_class(shell)
    assert found is not None  # the choice allows only shells click knows
    script = found(main, {}, "goap-engine", COMPLETE_VAR).source()
    click.echo(script)


def goal_files(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[Any]:
    """Complete GOAL: the goal files of ``goals.d/``, then any file."""
    found = [
        CompletionItem(str(path))
        for path in sorted(Path("goals.d").glob("*.y*ml"))
        # The shells read one completion a line: a newline would split it.
        if str(path).startswith(incomplete) and "\n" not in str(path)
    ]
    return found or [CompletionItem(incomplete, type="file")]


def searches(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from .planner.search import SEARCHES

    return [CompletionItem(n) for n in SEARCHES if n.startswith(incomplete)]


def heuristics(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[Any]:
    from .planner.heuristics import HEURISTICS

    return [CompletionItem(n) for n in HEURISTICS if n.startswith(incomplete)]


def action_ids(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[Any]:
    """Complete ``--approve``: the ids (else names) of the goal's actions."""
    from .goal_files import find_goal
    from .loader import load

    # While an option waits for its value, click leaves the goal unparsed.
    given = ctx.params.get("goal") or next(
        (a for a in ctx.args if a.endswith((".yaml", ".yml"))), None
    )
    try:
        ruleset = load(find_goal(Path(given) if given else None))
    except Exception:  # noqa: BLE001 - completion must never fail loudly
        return []
    done, _, last = incomplete.rpartition(",")
    prefix = f"{done}," if done else ""
    return [
        CompletionItem(prefix + key, help=action.description or action.name)
        for action in ruleset.actions
        for key in [action.id or action.name]
        if key.startswith(last)
    ]


def _ruleset(ctx: click.Context) -> Any:
    """Return the goal the command line names (or the only one), or None."""
    from .goal_files import find_goal
    from .loader import load

    # While an option waits for its value, click leaves the goal unparsed.
    given = ctx.params.get("goal") or next(
        (a for a in ctx.args if a.endswith((".yaml", ".yml"))), None
    )
    try:
        return load(find_goal(Path(given) if given else None))
    except Exception:  # noqa: BLE001 - completion must never fail loudly
        return None


def targets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Complete ``--target``: goal parts, action names, state variables."""
    ruleset = _ruleset(ctx)
    if ruleset is None:
        return []
    found = [(g.name, "goal part") for g in ruleset.subgoals if g.name != "goal"]
    found += [(a.name, a.description or "action") for a in ruleset.actions]
    found += [
        (v.name, v.description or f"{v.type} variable") for v in ruleset.variables
    ]
    return [
        CompletionItem(name, help=why)
        for name, why in dict(found).items()
        if name.startswith(incomplete)
    ]


def tags(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Complete ``--tag`` and ``--skip-tag``: the tags of the goal's actions."""
    ruleset = _ruleset(ctx)
    if ruleset is None:
        return []
    known = sorted({t for a in ruleset.actions for t in a.tags})
    return [CompletionItem(t) for t in known if t.startswith(incomplete)]
