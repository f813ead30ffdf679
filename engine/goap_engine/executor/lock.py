"""The workspace lock: one run at a time, released even by ``kill -9``.

``flock`` on an open file is dropped by the kernel when the process dies, so a
crashed run never leaves a stale lock; the file records who holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from types import TracebackType

from ..errors import LockedError
from .journal import now


class WorkspaceLock:
    """An exclusive, non-blocking lock on ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> WorkspaceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise LockedError(
                f"another run holds the workspace lock {self.path} ({holder}); "
                "wait for it, or run 'goap-engine unlock --force' if you are sure "
                "it is gone"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "since": now()}).encode())
        self._fd = fd
        return self

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            data = json.loads(os.pread(fd, 4096, 0) or b"{}")
            return f"pid {data.get('pid')}, since {data.get('since')}"
        except (OSError, ValueError):
            return "holder unknown"

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def force_unlock(path: Path) -> bool:
    """Remove the lock file; return whether there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
