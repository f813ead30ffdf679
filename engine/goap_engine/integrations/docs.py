"""Built-ins that write documents: the progress file (GOAP.md) and ADR stubs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..executor.hooks import HookContext
from . import IntegrationError, check_inside


def _ruleset(ctx: HookContext) -> Any:
    from ..errors import InputError
    from ..loader import load

    goal = ctx.args.get("goal")
    if not goal:
        raise IntegrationError("docs hooks need 'goal': the goal file to report on")
    try:
        return load(ctx.workdir / str(goal))
    except InputError as exc:
        raise IntegrationError(f"cannot load {goal}: {exc}") from None


def _write(ctx: HookContext, text: str) -> str:
    from ..store import atomic_write

    output = ctx.args.get("output")
    if not output:
        raise IntegrationError("docs hooks need 'output': the file to write")
    path = ctx.workdir / str(output)
    check_inside(ctx, path, "output", "documents are written")
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise IntegrationError(
            f"cannot write {output}: {exc.strerror or exc}"
        ) from None
    ctx.log(f"wrote {output}")
    return str(path)


def render(ctx: HookContext) -> str:
    """Write the progress document (``with: {goal, output, template?}``)."""
    from ..progress import render_document

    template = ctx.args.get("template")
    source: str | Path = ctx.workdir / str(template) if template else "progress.md.j2"
    return _write(
        ctx, render_document(_ruleset(ctx), source, dict(ctx.args.get("context") or {}))
    )


def adr(ctx: HookContext) -> str:
    """Write an ADR stub (``with: {goal, output, number, title, context?}``)."""
    from datetime import date

    from ..progress import render_document

    output = ctx.workdir / str(ctx.args.get("output", ""))
    if output.is_file() and not ctx.args.get("overwrite"):
        ctx.log(f"{output.name} exists; left as it is")
        return str(output)
    extra = {
        "number": ctx.args.get("number", "ADR"),
        "title": ctx.args.get("title", "Untitled"),
        "context": ctx.args.get("context", "TODO: why this decision is needed."),
        "status": ctx.args.get("status", "Proposed"),
        "date": date.today().isoformat(),
    }
    return _write(ctx, render_document(_ruleset(ctx), "adr.md.j2", extra))
