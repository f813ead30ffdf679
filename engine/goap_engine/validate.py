"""``goap-engine validate``: load each file, then lint what loaded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .errors import Diagnostic
from .lint import lint
from .loader import load_with_diagnostics


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
            diagnostics = diagnostics + lint(ruleset)
        for d in diagnostics:
            key = str(d)
            if key not in seen:
                seen.add(key)
                found.append(d)
    return found, len(files)
