"""Imported, this module leaves a file behind: a proposal must not import it."""

from pathlib import Path

Path("pwned-import").write_text("imported\n")


def check() -> bool:
    return True
