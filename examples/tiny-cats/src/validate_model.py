"""Validation gates for the exported model (ADR-028)."""

import json
from pathlib import Path


def load_report(path: Path) -> dict[str, float]:
    """Return the evaluation report."""
    return dict(json.loads(path.read_text()))
