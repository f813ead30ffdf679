"""The append-only JSON Lines journal of every run.

Each event is one line, written with a single ``write`` and flushed and synced
before the engine goes on, so after a crash every complete line is valid and at
most the last line is cut short; readers skip a truncated last line.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import Diagnostic, ExecutionError, Location, WorkspaceError
from ..files import (
    MAX_JSON_DEPTH,
    finite,
    folder_in_the_way,
    kind_of,
    os_reason,
    too_deep,
)
from .redaction import REDACTED, Redactor

__all__ = ["REDACTED", "Journal", "Redactor", "last_run", "now", "read_events"]

SYNCED = frozenset(
    {
        "run_start",
        "plan",
        "step_end",
        "step_skipped",
        "replan",
        "no_plan",
        "run_end",
        "state_set",
        "state_reset",
        # A remote job's handle must be on disk before the engine waits for
        # the job: a resume after a crash reconnects to it by that handle.
        "remote_submitted",
        # What a waiting run waits for, and the approval that lets it go on.
        "approval_pending",
        "approval_given",
    }
)


def now() -> str:
    """Return the current UTC time in ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    """An append-only JSON Lines file of events."""

    def __init__(self, path: Path, redact: Redactor, *, durable: bool = True) -> None:
        self.path = path
        self.redact = redact
        self.durable = durable
        try:
            mode = path.stat().st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            raise _damaged(path, 0, f"is {kind_of(mode)}, expected a regular file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_NONBLOCK: a FIFO in its place fails at once instead of waiting
            # for a reader; anything but a regular file is then refused.
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK
            self._fd = os.open(path, flags | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise _damaged(path, 0, f"cannot open: {exc.strerror or exc}") from None
        mode = os.fstat(self._fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(self._fd)
            raise _damaged(path, 0, f"is {kind_of(mode)}, expected a regular file")
        # Parallel steps write events from their threads; one line at a time.
        self._lock = threading.Lock()
        self._repair_tail()
        self.listeners: list[Any] = []

    def _repair_tail(self) -> None:
        # A crash may have left a partial last line: end it so the next event
        # starts on a line of its own (readers skip the broken one).
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with self.path.open("rb") as handle:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                os.write(self._fd, b"\n")

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one event and return it (as written, redacted)."""
        with self._lock:
            # Stamped under the lock, so the file's order is the stamps' order.
            record = self.redact.data(
                {"ts": now(), "t": time.time(), "event": event, **fields}
            )
            try:
                line = json.dumps(
                    record, default=str, separators=(",", ":"), allow_nan=False
                )
            except ValueError:
                # NaN is not JSON: an event still gets written (a resume needs
                # every one), with such numbers as text.
                line = json.dumps(finite(record), default=str, separators=(",", ":"))
            line += "\n"
            data = line.encode()
            # os.write may write less than asked (a full disk, a signal); the
            # rest must follow, or the next event would continue a cut line.
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._fd, view) :]
                # Progress events (a step starting, sensor readings, log lines)
                # reach the disk with the next synced event; a process crash
                # loses none of them, only a power loss could.
                if self.durable and event in SYNCED:
                    os.fsync(self._fd)
            except OSError as exc:
                raise ExecutionError(
                    f"cannot write the journal {self.path}: {exc.strerror or exc}"
                ) from None
        for listener in self.listeners:
            listener(record)
        return dict(record)

    def close(self) -> None:
        os.close(self._fd)


# The fields a reader relies on, by event kind; other events need only a kind.
_SHAPES: dict[str, tuple[str, ...]] = {
    "run_start": ("run",),
    "step_start": ("run", "step"),
    "step_end": ("run", "step", "status"),
    "step_skipped": ("run", "step"),
    "run_end": ("run", "status"),
}


def shape_problem(record: Any) -> str | None:
    """Return what is wrong with a journal record's shape, or None."""
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    kind = record.get("event")
    if not isinstance(kind, str):
        return "expected an 'event' name"
    missing = [k for k in _SHAPES.get(kind, ()) if not isinstance(record.get(k), str)]
    if missing:
        return f"a '{kind}' event without a text '{missing[0]}'"
    return None


def read_events(
    path: Path, *, strict: bool = False, warn: Callable[[str], None] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the journal's events, skipping lines cut short by a crash.

    A complete line that is not JSON is what a crash leaves (the next writer
    ends the cut line), so it is skipped silently.  A line that parses but
    has the wrong shape was written by something else: ``strict`` readers
    (resuming a run, which must not guess what ran) stop with a
    ``WorkspaceError`` naming file:line; the others skip it, calling ``warn``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    except NotADirectoryError as exc:
        raise folder_in_the_way(path) or _damaged(path, 0, os_reason(exc)) from None
    except OSError as exc:
        raise _damaged(path, 0, os_reason(exc)) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _damaged(path, 0, f"is {kind_of(mode)}, expected a regular file")
    with open(fd, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(iter(lambda: handle.readline(MAX_LINE), ""), 1):
            if not line.endswith("\n"):
                if len(line) < MAX_LINE:
                    return
                problem = f"a line longer than {MAX_LINE} characters"
                while line and not line.endswith("\n"):
                    line = handle.readline(MAX_LINE)
            elif too_deep(line) is not None:
                problem = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
            else:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                shape = shape_problem(record)
                if shape is None:
                    yield record
                    continue
                problem = shape
            if strict:
                raise _damaged(path, number, problem)
            if warn is not None:
                shown = Location.of(path, number, 1)
                warn(f"{shown}: warning: skipped a journal line: {problem}")


MAX_LINE = 8 * 1024 * 1024


def _damaged(path: Path, line: int, problem: str) -> WorkspaceError:
    return WorkspaceError(
        Diagnostic(Location.of(path, line, 1 if line else 0), f"journal: {problem}"),
        "remove or fix that line (or move the file away), or start over "
        "with 'run --fresh'"
        if line
        else "remove it (it is recreated by the next run)",
    )


def last_run(events: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the run the journal's ``events`` left unfinished, or None.

    A run stopped by Ctrl-C or SIGTERM records its end but is as unfinished as
    one killed outright: both leave work to resume.  A run that ended (in any
    way) before any step started changed nothing, so it neither settles an
    earlier interrupted run nor needs resuming.  A run that waits for an
    approval is unfinished whether or not a step ran: ``--resume`` goes on.
    """
    pending: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    started = 0

    def settle() -> None:
        nonlocal pending
        if current is None:
            return
        status = current.get("status")
        if status == "waiting" or (
            started and status in (None, "interrupted", "error")
        ):
            pending = current
        elif started or status in ("reached", "failed"):
            pending = None

    for event in events:
        kind = event.get("event")
        if kind == "run_start":
            settle()
            current = dict(event, status=None)
            started = 0
        elif current is None or event.get("run") != current.get("run"):
            continue
        elif kind == "step_start":
            started += 1
        elif kind == "run_end":
            current["status"] = event.get("status")
    settle()
    return pending
