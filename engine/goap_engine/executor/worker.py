"""Python and built-in hooks run in worker processes that can be killed.

A thread cannot be stopped, so a python hook called inside the engine could
ignore its timeout, Ctrl-C and SIGTERM.  Instead each call goes to a worker: a
small Python process in its own session that imports the hook's module and
calls it.  Its stdout and stderr are one pipe the engine streams like a shell
hook's; the result comes back on a second pipe.  A worker that finishes a call
in time serves the next one (so a no-op hook costs a round trip, not an
interpreter start); one that overruns its timeout or is interrupted is killed
with everything it started, and a fresh one takes its place.

Run as ``python -m goap_engine.executor.worker FD``: requests arrive on stdin,
results leave on file descriptor FD, both as length-prefixed pickles.
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from .context import HookContext, HookError, NoVerdict, Outcome, resolve_callable
from .output import Output
from .processes import STEP_VAR, end_marked, finish, pump, spawn

_HEADER = struct.Struct("!Q")
WATCHER = "goap-engine parent watch"


def _send(fd: int, data: Any) -> None:
    payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> Any:
    """Return the next message on ``fd``; None at end of file."""
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    payload = _read_exactly(fd, size)
    if payload is None:
        return None
    return pickle.loads(payload)


def _read_exactly(fd: int, size: int) -> bytes | None:
    parts = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


class Worker:
    """One worker process, from the engine's side."""

    def __init__(self, env: Mapping[str, str]) -> None:
        read_end, write_end = os.pipe()
        try:
            self.proc = spawn(
                [sys.executable, "-m", "goap_engine.executor.worker", str(write_end)],
                cwd=Path.cwd(),
                env={**env, "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.PIPE,
                pass_fds=(write_end,),
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        self.results = read_end

    def send(self, request: dict[str, Any]) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        stdin.write(_HEADER.pack(len(payload)) + payload)
        stdin.flush()

    def close(self, *, kill: bool = False) -> None:
        """Stop the worker: politely when idle, by force after a failure."""
        if not kill and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=1.0)
            except (OSError, subprocess.TimeoutExpired):
                kill = True
        finish(self.proc, Output(), kill=kill or self.proc.poll() is None)
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with suppress(OSError):
                self.proc.stdin.close()
        os.close(self.results)


class WorkerPool:
    """Idle workers to serve hook calls; thread-safe for parallel steps."""

    def __init__(self) -> None:
        self._idle: list[Worker] = []
        self._lock = threading.Lock()
        self.closed = False

    def call(
        self,
        spec: str,
        context: HookContext,
        *,
        output: Output,
        timeout: float | None,
        stop: threading.Event | None = None,
        marker: str = "",
        alone: bool = False,
    ) -> Outcome:
        """Call ``spec`` (``module:function``) with ``context`` in a worker.

        ``alone``: nothing else runs, so any process left behind is this
        call's (see ``processes.end_marked``).
        """
        began = time.monotonic()
        env = dict(context.env)
        if marker:
            env[STEP_VAR] = marker
        request = {
            "spec": spec,
            "args": dict(context.args),
            "vars": dict(context.vars),
            "state": dict(context.state),
            "workdir": str(context.workdir),
            "env": env,
            "action": context.action,
            "timeout": timeout,
            "extra": context.extra,
            "secrets": context.secrets,
            # Hooks next to the goal import as they would from its folder.
            "path": [str(context.workdir), *sys.path],
        }
        worker = self._acquire()
        replies: list[Any] = []

        def ready() -> bool:
            try:
                replies.append(_receive(worker.results))
            except Exception:  # noqa: BLE001 - a garbled reply is a dead worker
                replies.append(None)
            return True

        deadline = None if timeout is None else began + timeout
        healthy = False
        try:
            try:
                worker.send(request)
            except BrokenPipeError:
                # An idle worker that died since its last call: one fresh try.
                worker.close(kill=True)
                worker = self._acquire()
                worker.send(request)
            how = pump(
                worker.proc,
                output,
                deadline=deadline,
                stop=stop,
                extra=(worker.results, ready),
            )
            seconds = time.monotonic() - began
            if how == "extra" and replies and replies[0] is not None:
                reply = replies[0]
                healthy = int(reply.get("threads", 1)) <= 1
                return Outcome(
                    bool(reply["ok"]),
                    None,
                    value=reply.get("value"),
                    message=str(reply.get("message", "")),
                    seconds=seconds,
                    verdict=reply.get("verdict") is not False,
                )
            if how == "timeout":
                return Outcome(
                    False,
                    message=f"timed out after {timeout:g} s (hook process killed)",
                    seconds=seconds,
                    timed_out=True,
                )
            if how == "stopped":
                return Outcome(
                    False, message="interrupted", seconds=seconds, interrupted=True
                )
            code = worker.proc.poll()
            return Outcome(
                False,
                code,
                message="the hook's process ended without a result"
                + (f" (exit code {code})" if code is not None else ""),
                seconds=seconds,
            )
        except (BrokenPipeError, pickle.PicklingError, TypeError) as exc:
            return Outcome(False, message=f"cannot pass the call to the hook: {exc}")
        finally:
            if not healthy:
                worker.close(kill=True)
            if marker:
                end_marked(
                    marker, watch=[worker.proc.pid] if healthy else [], alone=alone
                )
            output.close()
            if healthy:
                self._release(worker)

    def _acquire(self) -> Worker:
        while True:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            if worker is None:
                break
            if worker.proc.poll() is None:
                return worker
            # Died while idle (killed from outside): never hand it a call.
            worker.close(kill=True)
        # Not the call's environment: the worker outlives the step, so it
        # must not carry the step's marker (or its secrets) in its own.
        env = {k: v for k, v in os.environ.items() if k != STEP_VAR}
        return Worker(env)

    def _release(self, worker: Worker) -> None:
        with self._lock:
            if not self.closed:
                self._idle.append(worker)
                return
        worker.close()

    def close(self) -> None:
        """Stop every idle worker (the busy ones stop with their calls)."""
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()


def _serve(request: dict[str, Any]) -> dict[str, Any]:
    sys.path[:] = request["path"]
    os.environ.clear()
    os.environ.update(request["env"])
    workdir = Path(request["workdir"])
    with suppress(OSError):
        os.chdir(workdir)

    def log(line: str) -> None:
        print(line, flush=True)

    context = HookContext(
        args=request["args"],
        vars=request["vars"],
        state=request["state"],
        workdir=workdir,
        env=request["env"],
        log=log,
        action=request["action"],
        timeout=request["timeout"],
        extra=request["extra"],
        secrets=tuple(request.get("secrets", ())),
    )
    try:
        fn = resolve_callable("python", request["spec"])
    except HookError as exc:
        return {"ok": False, "message": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a module that fails on import
        traceback.print_exc()
        module = str(request["spec"]).partition(":")[0]
        return {
            "ok": False,
            "message": f"cannot import '{module}': {type(exc).__name__}: {exc}",
        }
    try:
        value = fn(context)
    except SystemExit as exc:
        return {"ok": False, "message": f"the hook called exit({exc.code})"}
    except HookError as exc:
        # A failure the hook explains itself (a built-in refusing a path):
        # its message says it all, a traceback would only hide it.
        verdict = not isinstance(exc, NoVerdict)
        return {"ok": False, "message": str(exc), "verdict": verdict}
    except Exception as exc:  # noqa: BLE001 - a hook's failure is an outcome
        # The whole traceback goes to the step's output and log; the
        # message stays one line.
        traceback.print_exc()
        # The engine redacts it too; a hook's own encodings of a secret are
        # hidden here as well, where the hook's secrets are known.
        return {"ok": False, "message": context.redact(f"{type(exc).__name__}: {exc}")}
    if inspect.isgenerator(value) or inspect.iscoroutine(value):
        # Its body never ran: a generator or a coroutine only runs when
        # iterated or awaited, which nothing here does.
        value.close()
        return {
            "ok": False,
            "message": "the hook is a generator or async function; "
            "write a plain function that returns its result",
        }
    outcome = Outcome(value is not False, value=value)
    if value is False:
        outcome.message = "returned False"
    try:
        # Plain data only: the engine must not import the hook's modules to
        # read what it returned.
        json.dumps(value)
    except (TypeError, ValueError):
        value = repr(value)
    return {
        "ok": outcome.ok,
        "value": value,
        "message": outcome.message,
        # A thread the hook left running would print into the next call's
        # output and outlive its step: such a worker is not reused.
        "threads": sum(1 for t in threading.enumerate() if t.name != WATCHER),
    }


def _idle(fd: int) -> None:
    """Wait for the next request, collecting children the last hook left.

    The engine ends what a hook left behind once the call is over; those that
    were this worker's children stay zombies until collected, which is safe
    only between calls (during one, the hook waits for its own children).
    """
    while not select.select([fd], [], [], 0.2)[0]:
        with suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
    with suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _watch_parent() -> None:
    """End this worker, and what its hook started, if the engine dies.

    A ``kill -9`` of the engine gives it no chance to stop its workers.  (The
    kernel's parent-death signal would fire when the engine's *thread* that
    started the worker ends, which a thread pool does all the time.)
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                with suppress(OSError):
                    os.killpg(0, 9)
                os._exit(1)

    threading.Thread(target=watch, name=WATCHER, daemon=True).start()


def _restore_output(pipe: int) -> None:
    with suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os.dup2(pipe, 1)
    os.dup2(pipe, 2)
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__


def main(argv: list[str]) -> int:
    """Serve calls until the engine closes stdin."""
    _watch_parent()
    results = int(argv[1])
    requests = sys.stdin.buffer.fileno()
    # Nothing may read the engine's stdin pipe by accident: hooks get none.
    stdin_copy = os.dup(requests)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # The output pipe, kept aside: a hook that points fd 1 or 2 elsewhere (or
    # closes them) must not take the next call's output with it.
    output = os.dup(1)
    while True:
        _idle(stdin_copy)
        request = _receive(stdin_copy)
        if request is None:
            return 0
        _restore_output(output)
        reply = _serve(request)
        sys.stdout.flush()
        sys.stderr.flush()
        _send(results, reply)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
