"""``goap-engine packs`` and ``init``: where rule packs come from, and scaffolding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click

from .cli import (
    _guard,
    _stderr,
    complete,
    goal_argument,
    main,
    no_cache_option,
    var_options,
)
from .goal_files import find_goal, goal_and_rest


@main.group()
def packs() -> None:
    """List and update the packs a goal uses (git, installed, shipped, local)."""


@packs.command("list")
@goal_argument
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@no_cache_option
@_guard
@var_options
def packs_list(goal: Path | None, fmt: str) -> None:
    """Show each pack's source, pinned version, and the actions it provides."""
    goal = find_goal(goal)
    from .loader import load
    from .sources import Lockfile, lock_path

    ruleset = load(goal)
    lock = Lockfile.load(lock_path(goal.absolute()))
    rows = []
    for pack in ruleset.packs:
        origin = next(
            (
                (key, entry)
                for key, entry in lock.entries.items()
                if entry.get("commit") and entry["commit"][:12] in str(pack.path)
            ),
            None,
        )
        rows.append(
            {
                "pack": pack.name,
                "file": str(pack.path),
                "source": origin[0] if origin else "local",
                "commit": origin[1].get("commit", "") if origin else "",
                "actions": list(pack.actions),
                "variables": list(pack.variables),
            }
        )
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        pin = f" @ {row['commit'][:12]}" if row["commit"] else ""
        click.echo(f"{row['pack']}: {row['source']}{pin}  ({row['file']})")
        for action in row["actions"]:
            click.echo(f"  action {action}")


@packs.command("update")
@click.argument(
    "goal", required=False, metavar="[GOAL]", shell_complete=complete("goal_files")
)
@click.argument("names", nargs=-1)
@no_cache_option
@_guard
@var_options
def packs_update(goal: str | None, names: Sequence[str]) -> None:
    """Re-resolve remote packs (all, or NAMES) and rewrite goap.lock."""
    from .loader import load
    from .sources import lock_path

    path, names = goal_and_rest(goal, tuple(names))
    load(path, update=frozenset(names) if names else True)
    _stderr(f"updated {lock_path(path.absolute())}")


@main.command()
@click.argument("root", type=click.Path(path_type=Path), default=".")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@_guard
def init(root: Path, force: bool) -> None:
    """Scaffold actions.d/ and goals.d/ (on the standard packs) in ROOT.

    Also puts a short guide for coding agents into ROOT/AGENTS.md (appended
    to one that exists; an earlier guide section is replaced).
    """
    from .init import ScaffoldExistsError, scaffold, write_agents_guide

    for path in scaffold(root, force=force):
        click.echo(str(path))
    try:
        guide = write_agents_guide(root)
    except ScaffoldExistsError as exc:
        # The scaffold is written: the guide is a help, not a reason to fail.
        _stderr(f"warning: {exc}", style="yellow")
        return
    if guide is not None:
        click.echo(str(guide))


@main.command("agents-guide")
def agents_guide_command() -> None:
    """Print the AGENTS.md section that tells a coding agent how to use the engine."""
    from .init import agents_guide

    click.echo(agents_guide(), nl=False)
