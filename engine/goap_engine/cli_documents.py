"""Commands that write documents: ``report``, ``schema``, ``import-pddl``.

Also where an output option's file may be (``-o``, ``--junit``): inside the
goal's project unless the user says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from .cli import (
    _guard,
    _stderr,
    goal_argument,
    main,
    no_cache_option,
    var_options,
)
from .goal_files import find_goal


@main.command()
@click.argument("kind", type=click.Choice(["goal", "pack"]), default="goal")
@_guard
def schema(kind: str) -> None:
    """Print the JSON Schema of goal or pack files (for editors)."""
    from .documents import schema_text

    click.echo(schema_text(kind), nl=False)


@main.command("import-pddl")
@click.argument("domain", type=click.Path(path_type=Path))
@click.argument("problem", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder to write actions.d/ and goals.d/ into.",
)
@_guard
def import_pddl(domain: Path, problem: Path, out: Path) -> None:
    """Translate a PDDL DOMAIN and PROBLEM (STRIPS, typing, costs) into YAML."""
    from .pddl.convert import write_yaml

    pack, goal = write_yaml(domain, problem, out)
    click.echo(str(goal))
    _stderr(f"wrote {pack} and {goal}")


@main.command()
@goal_argument
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Write here instead of stdout.",
)
@click.option(
    "--allow-outside",
    is_flag=True,
    help="Let -o write outside the project (the goal's git work tree or folder).",
)
@click.option(
    "--template",
    type=click.Path(path_type=Path),
    help="A jinja2 template to use instead.",
)
@no_cache_option
@_guard
@var_options
def report(
    goal: Path | None, output: str | None, allow_outside: bool, template: Path | None
) -> None:
    """Render the progress document (the seed's GOAP.md) from plan and state."""
    goal = find_goal(goal)
    from .executor.redaction import Redactor
    from .loader import load
    from .progress import render_document

    ruleset = load(goal)
    text = Redactor.from_env(ruleset.secrets)(
        render_document(ruleset, template or "progress.md.j2")
    )
    if output is None:
        click.echo(text, nl=False)
        return
    _stderr(f"wrote {write_output(output, text, goal, allow_outside)}")


def write_output(raw: str, text: str, goal: Path, allow_outside: bool) -> Path:
    """Write a command's ``-o`` file: a file name, inside the goal's project.

    The name is checked as typed: ``dir/`` names a folder even when it does
    not exist yet.
    """
    from .errors import FileError
    from .store import atomic_write

    path = output_path(raw, goal, allow_outside)
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise FileError(path, f"-o: cannot write: {exc.strerror or exc}") from None
    return path


def output_path(raw: str, goal: Path, allow_outside: bool, option: str = "-o") -> Path:
    """Return the file an output option names, refused unless inside the project."""
    from .errors import FileError
    from .files import check_inside, project_root

    path = Path(raw)
    if raw.endswith(("/", os.sep)) or path.is_dir():
        raise FileError(path, f"{option} {raw}: is a folder; give a file name")
    # A report written over the goal, or into the repository's own files,
    # would destroy what the person asked to have described.
    if path.exists() and path.resolve() == goal.resolve():
        raise FileError(path, f"{option} {raw}: is the goal file; give another name")
    root = project_root(goal)
    resolved = path.resolve()
    inside = resolved.parts[len(root.resolve().parts) :]
    if resolved.is_relative_to(root.resolve()) and ".git" in inside:
        raise FileError(
            path, f"{option} {raw}: is inside a .git folder; give another name"
        )
    if not allow_outside:
        check_inside(path, root, option, "--allow-outside")
    return path
