"""The state lock: one writer of a state file at a time, released even by ``kill -9``.

``flock`` on an open file is dropped by the kernel when the process dies, so a
crashed run never holds a lock; the file records who held it last.  Whether a
process holds it is therefore answered by trying to take it, never by
reading the file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import stat
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import Diagnostic, Location, LockedError, WorkspaceError
from ..files import folder_in_the_way, kind_of
from .journal import now

# How often a waiting command tries the lock again.  flock cannot block with
# a timeout, and an alarm signal would interrupt the hooks' own waits.
POLL = 0.2

# How long a lock may be waited for, and where to say so: set for one command
# (``--lock-timeout``) rather than passed down through every state operation.
_WAIT: ContextVar[tuple[float, Callable[[str], None]] | None] = ContextVar(
    "lock_wait", default=None
)


@contextlib.contextmanager
def waiting(seconds: float, say: Callable[[str], None]) -> Iterator[None]:
    """Let locks taken inside wait up to ``seconds`` for a live holder."""
    token = _WAIT.set((seconds, say))
    try:
        yield
    finally:
        _WAIT.reset(token)


def _holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def describe_holder(data: dict[str, Any]) -> str:
    """Return who a lock file says holds it: ``pid 12, since ..., goal ...``."""
    if not data.get("pid"):
        return "holder unknown"
    text = f"pid {data.get('pid')}"
    if data.get("host") and data.get("host") != socket.gethostname():
        text += f" on {data['host']}"
    text += f", since {data.get('since')}"
    if data.get("goal"):
        text += f", goal {data['goal']}"
    return text


def _open_locked(path: Path) -> tuple[int, dict[str, Any] | None]:
    """Open ``path`` and try to flock it; return the fd and, if busy, the holder.

    Another process may remove the file (``unlock --force``) between our
    ``open`` and ``flock``; a lock on a removed file guards nothing, so retry
    until the locked file is the one at ``path``.
    """
    while True:
        fd, holder = _try_lock(_open_regular(path, os.O_CREAT))
        if holder is not None:
            return fd, holder
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd, None
        os.close(fd)


class WorkspaceLock:
    """An exclusive, non-blocking lock on ``path``, recording who holds it."""

    def __init__(self, path: Path, *, goal: Path | None = None) -> None:
        self.path = path
        self.goal = goal
        self._fd: int | None = None

    def __enter__(self) -> WorkspaceLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(
                Diagnostic(
                    Location.of(self.path.parent),
                    f"cannot make the folder of lock files: {exc.strerror or exc}",
                ),
                f"remove the file in its place ({exc.filename or self.path.parent})",
            ) from None
        fd, holder = _open_locked(self.path)
        waited = 0.0
        if holder is not None:
            fd, holder, waited = self._wait(fd, holder)
        if holder is not None:
            os.close(fd)
            after = f" after waiting {waited:g}s" if waited else ""
            raise LockedError(
                f"another run holds the lock {self.path} ({describe_holder(holder)})"
                f"{after}; wait for it to finish or stop that process"
                + ("" if waited else " (or pass --lock-timeout DURATION)")
            )
        record = {
            "pid": os.getpid(),
            "since": now(),
            "goal": str(self.goal) if self.goal is not None else None,
            "host": socket.gethostname(),
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
        except BaseException:
            # The lock is held by this fd: closing it is what releases it.
            os.close(fd)
            raise
        self._fd = fd
        return self

    def _wait(
        self, fd: int, holder: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any] | None, float]:
        """Try the lock again until it is free or the command's wait is over."""
        wait = _WAIT.get()
        if wait is None or wait[0] <= 0 or holder is None:
            return fd, holder, 0.0
        seconds, say = wait
        say(
            f"waiting up to {seconds:g}s for the lock {self.path}, held by "
            f"{describe_holder(holder)}"
        )
        deadline = time.monotonic() + seconds
        while holder is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # Not held while sleeping: an interrupt here leaks no descriptor.
            os.close(fd)
            time.sleep(min(POLL, left))
            fd, holder = _open_locked(self.path)
        return fd, holder, seconds

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def force_unlock(path: Path) -> dict[str, Any] | None:
    """Remove a lock file its holder left behind; return what it recorded.

    Return None when there is no lock file.  Raise ``LockedError`` when a live
    process holds the lock: removing its file would let a second run start
    beside it.
    """
    try:
        fd, holder = _open_existing(path)
    except FileNotFoundError:
        return None
    try:
        if holder is not None:
            raise LockedError(
                f"a live run holds the lock {path} ({describe_holder(holder)}); "
                "refusing to remove it: wait for that run or stop it"
            )
        left = _holder(fd)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            return left
        # Removed while held, so no other run can take the old file meanwhile,
        # and only if it is still the file this process locked: another
        # unlock may have removed it and a new run created and locked its own.
        if os.path.samestat(os.fstat(fd), current):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return left
    finally:
        os.close(fd)


def _open_existing(path: Path) -> tuple[int, dict[str, Any] | None]:
    return _try_lock(_open_regular(path, 0))


def _open_regular(path: Path, flags: int) -> int:
    """Open the lock file ``path``; refuse a folder, FIFO or device in its place.

    O_NONBLOCK keeps the open of a FIFO from waiting; fstat then refuses it.
    """
    repair = f"remove {path} (no run needs it: the lock is the file's flock)"
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | flags, 0o644)
    except FileNotFoundError:
        raise
    except OSError as exc:
        in_the_way = folder_in_the_way(path) if exc.errno == errno.ENOTDIR else None
        if in_the_way is not None:
            raise in_the_way from None
        if exc.errno == errno.EISDIR:
            problem = "is a folder, expected a lock file"
        else:
            problem = f"cannot open the lock file: {exc.strerror or exc}"
        raise WorkspaceError(Diagnostic(Location.of(path), problem), repair) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise WorkspaceError(
            Diagnostic(Location.of(path), f"is {kind_of(mode)}, expected a lock file"),
            repair,
        )
    return fd


def _try_lock(fd: int) -> tuple[int, dict[str, Any] | None]:
    """Try to flock ``fd``; return it and, when another process holds it, who."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return fd, _holder(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd, None
