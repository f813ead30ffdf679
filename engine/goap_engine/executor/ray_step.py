"""The part of a Ray step that runs on the cluster: one command in a folder.

Shipped to the cluster by value (its nodes need not have goap-engine), so it
imports only the standard library.  An instance lives in a detached, named
actor: it outlives the engine that submitted it, which is what lets
``--resume`` reconnect to it after the engine was killed.  The command
starts at the first ``read``, which the engine makes only after it has
journalled the actor's name: a kill in between leaves an actor that
``--resume`` starts, never a command that runs twice.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from fnmatch import fnmatchcase

# The remote side's own variables a command needs to find programs and a
# place to write; nothing else of any environment is passed on.
KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
START_WAIT = 120
KEEP = 600
MAX_KEPT = 64 * 1024 * 1024
"""Bytes of a command's output the actor keeps (what a reconnect shows again)."""
MAX_READ = 4 * 1024 * 1024
"""Bytes of output one read returns."""
OUTPUT_GRACE = 1.0
"""Seconds the output may stay open after the command exited (a background
process holding it), as for a local step; then what is left of it is ended."""


class StepProcess:
    """Run one command in a fresh folder holding its inputs; keep its output."""

    def __init__(
        self,
        command: str | list[str],
        env: Mapping[str, str],
        files: Mapping[str, bytes],
    ) -> None:
        self.folder = tempfile.mkdtemp(prefix="goap-step-")
        for name, data in files.items():
            path = os.path.join(self.folder, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(data)
        self.command = command
        self.environment = {k: os.environ[k] for k in KEPT if k in os.environ}
        self.environment.update(env)
        self.printed = bytearray()
        self.base = 0
        """Where ``printed`` starts in the whole output (older bytes were dropped)."""
        self.code: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.started = False
        self.lock = threading.Lock()
        self.seen = time.monotonic()
        threading.Thread(target=self._watch, daemon=True).start()

    def start(self) -> None:
        """Start the command; called once its handle is journalled (idempotent)."""
        with self.lock:
            self.seen = time.monotonic()
            if self.started:
                return
            self.started = True
        try:
            self.process = subprocess.Popen(
                self.command,
                shell=isinstance(self.command, str),
                cwd=self.folder,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            # Said as a shell would say it, so the step fails like a local one.
            with self.lock:
                self.printed += f"cannot start: {exc.strerror or exc}\n".encode()
                self.code = 127
            return
        threading.Thread(target=self._pump, daemon=True).start()

    def _watch(self) -> None:
        """End this actor when nobody will come for it.

        Detached, it would otherwise live as long as the cluster: one whose
        command never started (the engine died before it journalled the
        handle) goes after START_WAIT seconds; one whose command ended goes
        KEEP seconds after the engine last asked about it.
        """
        while True:
            time.sleep(5)
            with self.lock:
                idle = time.monotonic() - self.seen
                done = (not self.started and idle > START_WAIT) or (
                    self.code is not None and idle > KEEP
                )
            if done:
                shutil.rmtree(self.folder, ignore_errors=True)
                os._exit(0)  # the worker process, and with it the actor

    def _pump(self) -> None:
        process = self.process
        assert process is not None and process.stdout is not None
        fd = process.stdout.fileno()
        deadline = None
        while True:
            now = time.monotonic()
            if deadline is None and process.poll() is not None:
                deadline = now + OUTPUT_GRACE
            if deadline is not None and now >= deadline:
                break
            wait = 0.2 if deadline is None else deadline - now
            if not select.select([fd], [], [], wait)[0]:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            with self.lock:
                self.printed += chunk
                # A command printing without end must not fill the node's
                # memory: past the cap, the oldest bytes go.
                over = len(self.printed) - MAX_KEPT
                if over > 0:
                    del self.printed[:over]
                    self.base += over
        code = process.wait()
        # A step owns what it started: a background process still holding
        # the output ends with it, as a local step's leftovers do.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.stdout.close()
        with self.lock:
            self.code = code

    def read(self, offset: int) -> tuple[bytes, int, int | None]:
        """Return output from byte ``offset`` on, the offset after it, and
        the exit code once the command ended and all of it is returned.

        At most ``MAX_READ`` bytes at a time; bytes dropped past the cap
        are said to be missing, not silently skipped.
        """
        self.start()
        with self.lock:
            note = ""
            if offset < self.base:
                note = f"[... {self.base - offset} bytes of output dropped ...]\n"
                offset = self.base
            start = offset - self.base
            data = bytes(self.printed[start : start + MAX_READ])
            # The code is read under the same lock as the bytes: returned
            # only with the last of them.
            done = start + len(data) >= len(self.printed)
            return note.encode() + data, offset + len(data), self.code if done else None

    def cancel(self) -> None:
        """End the command's whole process group (it started a session)."""
        with self.lock:
            if not self.started:
                self.started = True  # and never will be
                self.code = 143
                return
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def outputs(self, patterns: list[str], limit: int) -> dict[str, bytes]:
        """Return the regular files in the folder that ``patterns`` match.

        Links are neither taken nor followed (a link out of the folder would
        bring back a file of the node's, a loop would bring back copies
        without end), and more than ``limit`` bytes are refused unread.
        """
        names = []
        for top, _, files in os.walk(self.folder):
            for file in files:
                path = os.path.join(top, file)
                name = os.path.relpath(path, self.folder).replace(os.sep, "/")
                if _regular(path) and any(matches(name, p) for p in patterns):
                    names.append(name)
        total = sum(os.lstat(os.path.join(self.folder, n)).st_size for n in names)
        if total > limit:
            raise ValueError(
                f"outputs {', '.join(patterns)} are {total // 2**20} MiB, more "
                f"than {limit // 2**20} MiB; write big results to storage "
                "the cluster reaches instead"
            )
        found: dict[str, bytes] = {}
        for name in names:
            with open(os.path.join(self.folder, name), "rb") as handle:
                found[name] = handle.read(limit + 1)
        return found

    def cleanup(self) -> None:
        """Remove the folder (the actor is killed next)."""
        self.cancel()
        shutil.rmtree(self.folder, ignore_errors=True)


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def matches(name: str, pattern: str) -> bool:
    """Whether the relative path ``name`` matches the glob ``pattern``.

    Folder by folder: ``*``, ``?`` and ``[...]`` stay within one name, ``**``
    stands for any number of folders.  Here, beside the Ray side's use, so
    that Modal's outputs match the same way.
    """
    return _match(tuple(name.split("/")), tuple(pattern.split("/")))


def _match(parts: tuple[str, ...], segments: tuple[str, ...]) -> bool:
    if not segments:
        return not parts
    head, rest = segments[0], segments[1:]
    if head == "**":
        # Last, it names files below the folder: at least one name.
        start = 0 if rest else 1
        return any(_match(parts[i:], rest) for i in range(start, len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], head) and _match(parts[1:], rest)
