"""``goap-engine state``, ``history`` and ``unlock``: what runs left behind."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .assignments import parse_assignments
from .cli import (
    _guard,
    _stderr,
    complete,
    goal_argument,
    main,
    no_cache_option,
    var_options,
)
from .cli_lock import lock_timeout_option
from .errors import InputError
from .goal_files import find_goal, goal_and_rest

SECRET_ORIGIN = "secret: never stored; given in each run by its sensor or --set"


@main.group()
def state() -> None:
    """Inspect and repair the persisted state."""


@state.command("show")
@click.argument(
    "goal", required=False, metavar="[GOAL]", shell_complete=complete("goal_files")
)
@click.argument("names", nargs=-1, metavar="[VAR...]")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@no_cache_option
@_guard
@var_options
def state_show(goal: str | None, names: Sequence[str], fmt: str) -> None:
    """Show the stored state of GOAL (or of its VARs) and where each came from."""
    path, names = goal_and_rest(goal, tuple(names))
    from .executor.world import describe_origin
    from .loader import load
    from .queries import stored_state

    data = stored_state(path, names)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    ruleset = load(path)
    values, origins, expired = data["state"], data["origins"], data["expired"]
    width = max((len(n) for n in values), default=0)
    for name, value in values.items():
        if name in ruleset.secret_names:
            click.echo(f"{name.ljust(width)}  {value}  ({SECRET_ORIGIN})")
            continue
        origin = describe_origin(ruleset.var(name), origins[name])
        if name in expired:
            origin += f"; expired, forgotten at the next plan or run: {expired[name]}"
        click.echo(f"{name.ljust(width)}  {json.dumps(value)}  ({origin})")


@state.command("set")
@click.argument(
    "goal", required=False, metavar="[GOAL]", shell_complete=complete("goal_files")
)
@click.argument("assignments", nargs=-1, metavar="VAR=VALUE...")
@lock_timeout_option
@no_cache_option
@_guard
@var_options
def state_set(goal: str | None, assignments: Sequence[str]) -> None:
    """Set stored values (checked against their types)."""
    from .executor.state import update_state

    path, assignments = goal_and_rest(goal, tuple(assignments))
    if not assignments:
        raise InputError("state set: give VAR=VALUE (one or more)")

    update_state(
        path,
        lambda ruleset, items: parse_assignments(
            ruleset, items, "state set", stored=True
        ),
        assignments,
    )


@state.command("rm")
@click.argument(
    "goal", required=False, metavar="[GOAL]", shell_complete=complete("goal_files")
)
@click.argument("names", nargs=-1, metavar="VAR...")
@lock_timeout_option
@no_cache_option
@_guard
@var_options
def state_rm(goal: str | None, names: Sequence[str]) -> None:
    """Forget the stored values of VARs (declared or not: a renamed one too)."""
    from .executor.state import forget_values

    path, names = goal_and_rest(goal, tuple(names))
    if not names:
        raise InputError("state rm: name the variables to forget")
    gone = forget_values(path, names)
    left = [n for n in names if n not in gone]
    if gone:
        _stderr(f"forgot {', '.join(gone)}")
    if left:
        _stderr(f"nothing was stored for {', '.join(left)}")


@state.command("mv")
@click.argument(
    "goal", required=False, metavar="[GOAL]", shell_complete=complete("goal_files")
)
@click.argument("names", nargs=-1, metavar="OLD NEW")
@lock_timeout_option
@no_cache_option
@_guard
@var_options
def state_mv(goal: str | None, names: Sequence[str]) -> None:
    """Move the stored value of OLD to the state variable NEW (after a rename)."""
    from .executor.state import rename_value

    path, names = goal_and_rest(goal, tuple(names))
    if len(names) != 2:
        raise InputError("state mv: give OLD NEW (two variable names)")
    old, new = names
    value = rename_value(path, old, new)
    _stderr(f"moved {old} -> {new} ({json.dumps(value)})")


@state.command("reset")
@goal_argument
@lock_timeout_option
@no_cache_option
@_guard
@var_options
def state_reset(goal: Path | None) -> None:
    """Forget the stored state: the next run starts from defaults and sensors."""
    goal = find_goal(goal)
    from .executor.state import reset_state

    reset_state(goal)


@main.command()
@goal_argument
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@no_cache_option
@_guard
@var_options
def history(goal: Path | None, fmt: str) -> None:
    """List GOAL's runs (recorded in its own journal)."""
    goal = find_goal(goal)
    from .executor.state import runs
    from .loader import load

    found = runs(load(goal), warn=lambda text: _stderr(text, style="yellow"))
    if fmt == "json":
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        # An empty listing alone reads like a broken command.
        _stderr(f"no runs of {goal} yet")
    for item in found:
        click.echo(
            f"{item['run']}  {item['started']}  {item['status']:<11}  "
            f"{item['ok']} ok, {item['failed']} failed, {item['replans']} replans"
            + _focus_text(item)
            + _approval_text(item)
        )


def _approval_text(item: dict[str, Any]) -> str:
    """Return what a run waits for and who approved it, or nothing."""
    text = ""
    for given in item.get("approved", []):
        text += f"  approved by {given['by']}: {', '.join(given['steps'] or ())}"
    if item["status"] == "waiting" and item.get("waiting_for"):
        text += f"  waiting for approval: {', '.join(item['waiting_for'])}"
    return text


def _focus_text(item: dict[str, Any]) -> str:
    """Return how a run was narrowed (``--target``, ``--tag``), or nothing."""
    parts = [f"--target {t}" for t in item.get("target", [])]
    parts += [f"--tag {t}" for t in item.get("tags", [])]
    parts += [f"--skip-tag {t}" for t in item.get("skip_tags", [])]
    return f"  ({' '.join(parts)})" if parts else ""


@main.command()
@goal_argument
@click.option(
    "--force",
    is_flag=True,
    required=True,
    help="Required: clear a lock whose run is gone (refused while it runs).",
)
@no_cache_option
@_guard
@var_options
def unlock(goal: Path | None, force: bool) -> None:
    """Clear the lock of GOAL's state file left behind by a run that is gone.

    Refused (exit 4) while a live process holds the lock.
    """
    goal = find_goal(goal)
    from .executor.lock import describe_holder, force_unlock
    from .executor.workspace import lock_path
    from .loader import load

    path = lock_path(load(goal))
    left = force_unlock(path)
    if left is None:
        _stderr(f"no lock at {path}")
    else:
        _stderr(f"removed {path}, left by a run that is gone ({describe_holder(left)})")
