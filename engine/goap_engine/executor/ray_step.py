"""The part of a Ray step that runs on the cluster: one command in a folder.

Shipped to the cluster by value (its nodes need not have goap-engine), so it
imports only the standard library.  An instance lives in a detached, named
actor: it outlives the engine that submitted it, which is what lets
``--resume`` reconnect to it after the engine was killed.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping

# The remote side's own variables a command needs to find programs and a
# place to write; nothing else of any environment is passed on.
KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")


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
        environment = {k: os.environ[k] for k in KEPT if k in os.environ}
        environment.update(env)
        self.printed = bytearray()
        self.code: int | None = None
        self.lock = threading.Lock()
        try:
            self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
                command,
                shell=isinstance(command, str),
                cwd=self.folder,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            # Said as a shell would say it, so the step fails like a local one.
            self.process = None
            self.printed += f"cannot start: {exc.strerror or exc}\n".encode()
            self.code = 127
            return
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        for chunk in iter(lambda: os.read(fd, 65536), b""):
            with self.lock:
                self.printed += chunk
        code = self.process.wait()
        with self.lock:
            self.code = code

    def read(self, offset: int) -> tuple[bytes, int | None]:
        """Return the output from byte ``offset`` on, and the exit code if done."""
        with self.lock:
            # The code is read under the same lock as the bytes: once it is
            # set, the bytes returned with it are the whole output.
            return bytes(self.printed[offset:]), self.code

    def cancel(self) -> None:
        """End the command's whole process group (it started a session)."""
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

    def outputs(self, patterns: list[str]) -> dict[str, bytes]:
        """Return the regular files in the folder that ``patterns`` match."""
        found: dict[str, bytes] = {}
        root = os.path.realpath(self.folder)
        for pattern in patterns:
            for path in glob.glob(os.path.join(self.folder, pattern), recursive=True):
                real = os.path.realpath(path)
                # A link out of the folder would bring back a file of the
                # node's, not one the command produced.
                if os.path.isfile(real) and real.startswith(root + os.sep):
                    with open(real, "rb") as handle:
                        found[os.path.relpath(path, self.folder)] = handle.read()
        return found

    def cleanup(self) -> None:
        """Remove the folder (the actor is killed next)."""
        self.cancel()
        shutil.rmtree(self.folder, ignore_errors=True)
