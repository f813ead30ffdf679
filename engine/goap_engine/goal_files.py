"""Which goal a command is about when none is named: the only one in ``goals.d/``.

Every command that takes GOAL may leave it out, as ``validate`` may: a project
with one goal file in ``goals.d/`` means that goal; none, or several, is a
usage error that lists what there is.  Commands whose GOAL is followed by
other arguments (``state set GOAL VAR=VALUE...``, ``packs update GOAL
NAME...``) tell a goal from those arguments by what it is: an existing file,
or a name ending in ``.yaml`` or ``.yml``.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click

from .errors import InputError

GOALS_FOLDER = Path("goals.d")
YAML_SUFFIXES = (".yaml", ".yml")


def goal_files(folder: Path = GOALS_FOLDER) -> list[Path]:
    """Return the YAML files of ``folder`` (sorted), or none if it is missing."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file()
    )


def goals_folder() -> Path:
    """Return the ``goals.d/`` a command run here means.

    The one in the current folder, else the nearest above it, up to the
    project's git work tree (as git and task find their files from any
    subfolder); ``goals.d`` (which may not exist) when there is none.
    """
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / GOALS_FOLDER).is_dir():
            if folder == here:
                return GOALS_FOLDER
            return Path(os.path.relpath(folder / GOALS_FOLDER, here))
        if (folder / ".git").exists():
            break
    return GOALS_FOLDER


def find_goal(given: Path | None) -> Path:
    """Return ``given``, or the only goal file in ``goals.d/``; raise InputError."""
    if given is not None:
        return given
    folder = goals_folder()
    found = goal_files(folder)
    if len(found) == 1:
        return found[0]
    if not found:
        where = (
            f"{folder}/ has no .yaml file"
            if folder.is_dir()
            else ("there is no goals.d/ here nor above, up to the project's root")
        )
        message = (
            f"no GOAL given and {where}: name a goal file "
            "(goap-engine init makes goals.d/production.yaml)"
        )
    else:
        listed = ", ".join(str(p) for p in found)
        message = (
            f"no GOAL given and {folder}/ holds {len(found)} goals ({listed}): "
            f"name one, for example {_command_with(found[0])}"
        )
    raise InputError(message)


def _command_with(goal: Path) -> str:
    """Return the command being run with ``goal`` named, to paste as it is.

    ``goap-engine state set tagged=true`` becomes ``goap-engine state set
    goals.d/a.yaml tagged=true``: the words after the command are kept.
    """
    context = click.get_current_context(silent=True)
    if context is None or not context.command_path:
        return f"goap-engine plan {shlex.quote(str(goal))}"
    words = context.command_path.split()[1:]
    given = sys.argv[1:]
    rest = given[len(words) :] if given[: len(words)] == words else []
    return shlex.join([*context.command_path.split(), str(goal), *rest])


def looks_like_goal(text: str) -> bool:
    """Return whether an argument names a goal file rather than something else."""
    return text.endswith(YAML_SUFFIXES) or Path(text).is_file()


def goal_and_rest(
    given: str | None, rest: tuple[str, ...]
) -> tuple[Path, tuple[str, ...]]:
    """Split ``[GOAL] ARGS...``: a first argument that is no goal starts ARGS."""
    if given is not None and not looks_like_goal(given):
        return find_goal(None), (given, *rest)
    return find_goal(Path(given) if given is not None else None), rest
