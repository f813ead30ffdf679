"""Built-in sensors about the surroundings: environment variables and files."""

from __future__ import annotations

import os

from ..executor.hooks import HookContext
from . import IntegrationError

_GLOB = frozenset("*?[")


def has(ctx: HookContext) -> bool:
    """Return whether the environment variable ``name`` is set and not empty."""
    name = ctx.args.get("name")
    if not name or not isinstance(name, str):
        raise IntegrationError("env.has needs 'name': an environment variable")
    return bool(ctx.env.get(name) or os.environ.get(name))


def file_exists(ctx: HookContext) -> bool:
    """Return whether ``path`` (a file or folder, or a glob) exists under workdir.

    A glob such as ``dist/*.whl`` is true when it matches at least one path.
    """
    path = ctx.args.get("path")
    if not path or not isinstance(path, str):
        raise IntegrationError("file.exists needs 'path': a file, folder or glob")
    if _GLOB.isdisjoint(path):
        return (ctx.workdir / path).exists()
    if os.path.isabs(path):
        raise IntegrationError(f"file.exists: use a path relative to workdir: {path}")
    return next(iter(ctx.workdir.glob(path)), None) is not None
