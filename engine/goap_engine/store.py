"""Durable files: atomic writes and the persisted state."""

from __future__ import annotations

# tempfile is imported where it is used: only a write needs it, not the start
# of every command.
import errno
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import (
    Diagnostic,
    FileError,
    InputError,
    Location,
    WorkspaceError,
    display_path,
)
from .files import key_position, load_json, read_text_limited
from .model import Ruleset
from .values import check_value


def state_text(data: Mapping[str, Any], raw: Mapping[str, str] | None = None) -> str:
    """Return a state file's JSON: one top-level key per line, each compact.

    Written after every step, so it must cost little with thousands of
    variables: the C encoder only runs without indentation.  ``raw`` holds
    top-level values already encoded as JSON.
    """
    lines = [f"{json.dumps(key)}: {_compact(value)}" for key, value in data.items()]
    lines += [f"{json.dumps(key)}: {text}" for key, text in (raw or {}).items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _compact(value: Any) -> str:
    # NaN is not JSON: refused (ValueError) rather than written.
    return json.dumps(value, default=str, separators=(",", ":"), allow_nan=False)


def atomic_write(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` so a crash leaves either the old or the new file.

    A folder at ``path`` is refused (``IsADirectoryError``) before anything
    is written: replacing it would fail only after the temporary file exists.
    The file is readable by its owner only, unless ``mode`` says otherwise.
    """
    import tempfile

    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, expected a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_state_values(ruleset: Ruleset, path: Path) -> dict[str, Any]:
    """Return the typed values stored in a state file; unknown names are errors."""
    return read_stored(ruleset, path)[0]


def read_stored(
    ruleset: Ruleset, path: Path
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Return a state file's typed values and the origins recorded for them.

    Files written before origins were kept have none; an origin that is not
    a mapping with a ``kind`` is left out rather than refused, since it only
    explains a value.
    """
    where = Location.of(path)
    repair = (
        "fix the file, or forget the stored state with "
        f"'goap-engine state reset {display_path(ruleset.path)}'"
    )
    try:
        text = read_text_limited(path)
        data = load_json(text, path)
    except FileError as exc:
        if exc.reason == "file not found":
            raise InputError(Diagnostic(where, "state file not found")) from None
        diagnostic = exc.diagnostics[0]
        raise WorkspaceError(
            Diagnostic(diagnostic.location, f"state file: {exc.reason}"), repair
        ) from None
    if not isinstance(data, dict):
        raise WorkspaceError(Diagnostic(where, "expected a JSON object"), repair)
    values = data.get("state", data)
    if not isinstance(values, dict):
        line, col = key_position(text, "state")
        raise WorkspaceError(
            Diagnostic(Location.of(path, line, col), "'state' must be a JSON object"),
            repair,
        )
    after = "state" if "state" in data else ""
    shown = display_path(ruleset.path)
    result: dict[str, Any] = {}
    problems = []
    for name, value in values.items():
        if name not in ruleset.names:
            problems.append(
                Diagnostic(
                    Location.of(path, *key_position(text, name, after)),
                    f"unknown state variable '{name}': if it was renamed, move its "
                    f"value with 'goap-engine state mv {shown} {name} NEW'; if it "
                    f"is gone, 'goap-engine state rm {shown} {name}'",
                )
            )
            continue
        if name in ruleset.secret_names:
            # Stored before the variable was declared secret: never used,
            # and gone at the next write.
            continue
        try:
            result[name] = check_value(ruleset.var(name), value)
        except ValueError as exc:
            problems.append(
                Diagnostic(
                    Location.of(path, *key_position(text, name, after)),
                    f"{exc}; {repair}",
                    f"state variable '{name}'",
                )
            )
    if problems:
        raise InputError(problems)
    recorded = data.get("origins") if "state" in data else None
    origins = {
        name: dict(origin)
        for name, origin in (recorded if isinstance(recorded, dict) else {}).items()
        if name in result and _well_formed(origin)
    }
    return result, origins


def _well_formed(origin: Any) -> bool:
    """Return whether a recorded origin has the shape the engine writes."""
    if not isinstance(origin, dict) or not isinstance(origin.get("kind"), str):
        return False
    if not all(isinstance(origin.get(k, ""), str) for k in ("at", "run", "action")):
        return False
    sources = origin.get("sources")
    if sources is None:
        return True
    if not isinstance(sources, dict):
        return False
    globs, files = sources.get("globs"), sources.get("files", {})
    return (
        isinstance(globs, list)
        and all(isinstance(g, str) for g in globs)
        and isinstance(files, dict)
        and all(isinstance(f, dict) for f in files.values())
        and isinstance(sources.get("files_at", ""), str)
    )
