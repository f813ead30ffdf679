"""``goap-engine validate``: load each file, then lint what loaded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .errors import Diagnostic, FileError, display_path
from .files import is_inside, project_root
from .lint import lint
from .loader import load_with_diagnostics
from .model import Ruleset
from .required_values import empty_required


def validate_paths(paths: Sequence[Path]) -> tuple[list[Diagnostic], int]:
    """Return every diagnostic for ``paths`` (files or folders) and the file count."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
            )
        else:
            files.append(path)
    found: list[Diagnostic] = []
    seen: set[str] = set()
    for file in files:
        ruleset, diagnostics = load_with_diagnostics(file)
        if ruleset is not None:
            diagnostics = [
                *diagnostics,
                *_own(ruleset, lint(ruleset)),
                *empty_required(ruleset),
            ]
        for d in diagnostics:
            key = str(d)
            if key not in seen:
                seen.add(key)
                found.append(d)
    return found, len(files)


def _own(ruleset: Ruleset, found: list[Diagnostic]) -> list[Diagnostic]:
    """Leave out warnings about packs from outside the project.

    A shipped, fetched or installed pack is checked where it is written
    (``validate`` of the pack itself); its warnings in every project that
    uses it would be noise nobody there can fix.  Errors always count.
    """
    project = project_root(ruleset.path)
    outside = set()
    for pack in ruleset.packs:
        try:
            if pack.path != ruleset.path and not is_inside(pack.path, project):
                outside.add(display_path(pack.path))
        except FileError:
            continue
    return [d for d in found if d.severity == "error" or d.location.path not in outside]
