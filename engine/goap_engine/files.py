"""Read only real files, with limits; write only inside the project.

Every file the engine reads (YAML documents, state files, journals, saved
plans, lock files) goes through ``read_limited``: a FIFO would block the read
forever and a device such as ``/dev/zero`` would never end, so anything but a
regular file is refused before it is opened, and again on the open descriptor
in case the path was swapped in between.  JSON is checked for nesting depth
before ``json.loads``, whose recursion would otherwise end in a RecursionError.

"The project" is the nearest enclosing git work tree of a goal file, or, when
the goal is in none, the goal's default workdir (its folder, or the parent of
a ``goals.d/`` folder).  So a monorepo goal with ``workdir: ../..`` still
writes inside its repository.  Paths the engine writes are compared with the
project after resolving symbolic links: a ``.goap`` that links to ``/etc`` is
outside.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from .errors import Diagnostic, FileError, Location, WorkspaceError

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_JSON_DEPTH = 64

_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
# A high surrogate escape not followed by a low one, or a low one alone; an
# escaped backslash before the 'u' is text, not an escape.
_LONE_SURROGATE = re.compile(
    r"(?<!\\)(?:\\\\)*\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})(?<!\\)(?:\\\\)*"
    r"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


Fact = tuple[Any, ...]
"""Something a result depended on: ``(kind, *arguments, observed value)``."""

_FACTS: ContextVar[list[Fact] | None] = ContextVar("goap_facts", default=None)
# Whether loads may use the ruleset cache (``--no-cache`` turns it off for a
# command).  Kept here, not in ``ruleset_cache``, so that a command without
# the cache never imports it (hashing, pickling: some 10 ms of start-up).
_cache_enabled = True


def set_cache_enabled(enabled: bool) -> None:
    """Turn the ruleset cache on or off for this process."""
    global _cache_enabled
    _cache_enabled = enabled


def cache_enabled() -> bool:
    """Return whether loads may use the ruleset cache."""
    return _cache_enabled


@contextmanager
def recording() -> Iterator[list[Fact]]:
    """Collect every file read (and every fact noted) inside the block.

    The ruleset cache keys a loaded ruleset by exactly what the loader saw:
    each file's resolved path and the sha256 of the bytes it parsed.
    """
    facts: list[Fact] = []
    token = _FACTS.set(facts)
    try:
        yield facts
    finally:
        _FACTS.reset(token)


def note(*fact: Any) -> None:
    """Record ``fact`` for the enclosing ``recording`` block, if any."""
    facts = _FACTS.get()
    if facts is not None:
        facts.append(fact)


def _note_read(path: Path, data: bytes | None) -> None:
    facts = _FACTS.get()
    if facts is not None:
        import hashlib  # only while the cache records a load

        digest = None if data is None else hashlib.sha256(data).hexdigest()
        facts.append(("file", str(path), os.path.realpath(path), digest))


def folder_in_the_way(path: Path) -> WorkspaceError | None:
    """Return the error for a folder of ``path`` that is something else.

    An open that fails with "Not a directory" is about a parent (``.goap``
    made a file), not the file named: the message must point at that parent.
    """
    for parent in reversed(path.parents):
        try:
            mode = parent.stat().st_mode
        except OSError:
            return None
        if not stat.S_ISDIR(mode):
            return WorkspaceError(
                Diagnostic(
                    Location.of(parent), f"is {kind_of(mode)}, expected a folder"
                ),
                "remove or rename it; the next run recreates it",
            )
    return None


def kind_of(mode: int) -> str:
    """Return what a file of ``mode`` is, for messages."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode):
        return "a file"
    return "not a regular file"


def os_reason(exc: OSError) -> str:
    """Return why an OS call failed, in words (links that loop are named)."""
    if exc.errno == errno.ELOOP:
        return "symbolic links that loop"
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    return f"cannot read: {exc.strerror or exc}"


def regular_file_problem(path: Path, limit: int = MAX_FILE_BYTES) -> str | None:
    """Return why ``path`` cannot be read as a file, or None when it can.

    Only ``stat``: nothing is opened, so a FIFO or device costs nothing.
    """
    try:
        info = path.stat()
    except OSError as exc:
        return os_reason(exc)
    except RuntimeError:
        return "symbolic links that loop"
    if not stat.S_ISREG(info.st_mode):
        return f"is {kind_of(info.st_mode)}, expected a regular file"
    if info.st_size > limit:
        return f"larger than {limit} bytes"
    return None


def read_limited(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """Return the bytes of the regular file ``path``; raise ``FileError``.

    At most ``limit`` + 1 bytes are read, so a file that grows while it is
    read cannot exhaust memory either.
    """
    try:
        data = _read_limited(path, limit)
    except FileError:
        _note_read(path, None)
        raise
    _note_read(path, data)
    return data


def _read_limited(path: Path, limit: int) -> bytes:
    problem = regular_file_problem(path, limit)
    if problem is not None:
        raise FileError(path, problem)
    try:
        # O_NONBLOCK: if a FIFO was swapped in after the stat, open returns
        # at once instead of waiting for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise FileError(path, os_reason(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileError(path, f"is {kind_of(info.st_mode)}, expected a file")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FileError(path, os_reason(exc)) from None
    finally:
        os.close(fd)
    if size > limit:
        raise FileError(path, f"larger than {limit} bytes")
    return b"".join(chunks)


def read_text_limited(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """Return the UTF-8 text of the regular file ``path``; raise ``FileError``."""
    data = read_limited(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = position(data[: exc.start].decode("utf-8", "replace"), -1)
        raise FileError(path, f"not UTF-8 text ({exc.reason})", line, col) from None


def position(text: str, offset: int) -> tuple[int, int]:
    """Return the line and column (from 1) of ``offset`` in ``text`` (-1: its end)."""
    if offset < 0:
        offset = len(text)
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> int | None:
    """Return the offset where JSON ``text`` nests deeper than ``limit``, or None.

    Brackets inside strings do not count.  Cheap when the text has fewer
    brackets than the limit, which is almost always.
    """
    if text.count("[") + text.count("{") <= limit:
        return None
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return match.start()
        elif token in "]}":
            depth -= 1
    return None


def load_json(text: str, path: Path, limit: int = MAX_JSON_DEPTH) -> Any:
    """Return the JSON in ``text`` read from ``path``; raise ``FileError``."""
    deep = too_deep(text, limit)
    if deep is not None:
        line, col = position(text, deep)
        raise FileError(path, f"JSON nested deeper than {limit} levels", line, col)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileError(
            path, f"invalid JSON: {exc.msg}", exc.lineno, exc.colno
        ) from None
    except (ValueError, RecursionError) as exc:
        raise FileError(path, f"invalid JSON: {exc}") from None
    # JSON may spell half of a UTF-16 pair alone ("\\ud800"): Python reads it
    # as a character no UTF-8 text can hold, and printing or writing it
    # later fails far from this file.  Checked exactly only when the text
    # has such an escape at all; located only when one is alone.
    if _SURROGATE.search(text) is not None:
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            lone = _LONE_SURROGATE.search(text)
            line, col = position(text, lone.start()) if lone else (0, 0)
            raise FileError(
                path, "invalid JSON: a lone UTF-16 surrogate escape", line, col
            ) from None
    return data


def read_json(path: Path, limit: int = MAX_FILE_BYTES) -> Any:
    """Return the JSON document in the regular file ``path``; raise ``FileError``."""
    return load_json(read_text_limited(path, limit), path)


def finite(value: Any) -> Any:
    """Return JSON-like ``value`` with NaN and infinities replaced by their text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def key_position(text: str, key: str, after: str = "") -> tuple[int, int]:
    """Return the line and column of the JSON key ``key`` (after key ``after``).

    Found by a text search, only once a value is known to be wrong: the
    writers put each key on one line, so the first match is the key itself.
    """
    start = 0
    if after:
        found = re.search(re.escape(json.dumps(after)) + r"\s*:", text)
        start = found.end() if found else 0
    match = re.compile(re.escape(json.dumps(key)) + r"\s*:").search(text, start)
    return position(text, match.start()) if match else (0, 0)


def default_workdir(goal: Path) -> Path:
    """Return the workdir of a goal that sets none: its folder, above ``goals.d``."""
    folder = goal.absolute().parent
    return folder.parent if folder.name == "goals.d" else folder


def project_root(goal: Path) -> Path:
    """Return the project of a goal file: its git work tree, else its workdir."""
    try:
        start = goal.resolve().parent
    except (OSError, RuntimeError):
        start = goal.absolute().parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return resolved(default_workdir(goal))


def resolved(path: Path) -> Path:
    """Return ``path`` with every symbolic link resolved; a loop is refused."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        raise FileError(path, "symbolic links that loop") from None


def is_inside(path: Path, root: Path) -> bool:
    """Return whether ``path``, its links resolved, lies in the folder ``root``."""
    return resolved(path).is_relative_to(resolved(root))


def outside_message(path: Path, root: Path, what: str, allow: str) -> str:
    """Return the message refusing a write to ``path`` outside ``root``."""
    real = resolved(path)
    shown = f"{path} (links resolved: {real})" if real != path else str(path)
    return (
        f"{what} {shown} is outside the project {root}; the engine writes only "
        f"inside the project unless {allow} allows it"
    )


def check_inside(path: Path, root: Path, what: str, allow: str) -> None:
    """Raise ``FileError`` when ``path`` (links resolved) is outside ``root``."""
    if not is_inside(path, root):
        raise FileError(path, outside_message(path, root, what, allow))
