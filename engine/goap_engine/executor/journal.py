"""The append-only JSON Lines journal of every run.

Each event is one line, written with a single ``write`` and flushed and synced
before the engine goes on, so after a crash every complete line is valid and at
most the last line is cut short; readers skip a truncated last line.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ExecutionError
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
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
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
            line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
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


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the journal's events, skipping lines cut short by a crash."""
    try:
        handle = path.open(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            if not line.endswith("\n"):
                return
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


def last_run(events: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the run the journal's ``events`` left unfinished, or None.

    A run stopped by Ctrl-C or SIGTERM records its end but is as unfinished as
    one killed outright: both leave work to resume.  A run that ended (in any
    way) before any step started changed nothing, so it neither settles an
    earlier interrupted run nor needs resuming.
    """
    pending: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    started = 0

    def settle() -> None:
        nonlocal pending
        if current is None:
            return
        status = current.get("status")
        if started and status in (None, "interrupted", "error"):
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
