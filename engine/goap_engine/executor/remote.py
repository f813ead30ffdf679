"""Run a step's command somewhere else: the executor interface and its driver.

An executor (Ray, Modal, or one an installed package registers under the
``goap_engine.executors`` entry point) only submits a job, reconnects to one
by its handle, and answers for a job: new output lines, exit code, cancel,
output files.  Everything the engine promises for a step -- live output, the
timeout, Ctrl-C, the journalled handle, outputs brought back only on success
-- is kept here, once, for every executor.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..language.runs_on import ENTRY_POINTS
from ..model import Action, Placement
from .context import Outcome
from .output import Output

if TYPE_CHECKING:
    from .steps import StepRunner

POLL = 0.2
"""Seconds between two looks at a remote job (its output and whether it ended)."""

MAX_SHIPPED = 512 * 1024 * 1024
"""Bytes of inputs or outputs one step may move: more is refused, not tried."""

# Executors shipped with the engine; the others come from entry points.
BUILT_IN = {
    "ray": "goap_engine.executor.ray_executor:RayExecutor",
    "modal": "goap_engine.executor.modal_executor:ModalExecutor",
}


@dataclass(frozen=True)
class JobSpec:
    """What a remote job runs: the command, its environment, its files."""

    name: str
    """Unique per step start (the step's marker): names the job on the cluster."""
    command: str | list[str]
    env: Mapping[str, str]
    files: Mapping[str, bytes]
    """Shipped inputs, by path relative to the job's working folder."""
    options: Mapping[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    """The step's timeout: an executor may bound the job's own lifetime by it."""
    workdir: Path | None = None
    """The goal's workdir, where settings such as a Dockerfile are found."""


class RemoteJob(Protocol):
    """A job running on an executor, as the engine follows it."""

    handle: str
    """What finds the job again after the engine died (kept in the journal)."""

    def read(self) -> bytes:
        """Return what the job printed (stdout and stderr) since the last call."""

    def exit_code(self) -> int | None:
        """Return the job's exit code, or None while it runs."""

    def cancel(self) -> None:
        """Stop the job and everything it started."""

    def outputs(self, globs: tuple[str, ...]) -> dict[str, bytes]:
        """Return the files of its working folder that match ``globs``."""

    def release(self) -> None:
        """Free what the job holds on the cluster (after it ended)."""


class Executor(Protocol):
    """Where steps run: submits jobs and reconnects to them by handle."""

    def submit(self, spec: JobSpec) -> RemoteJob:
        """Start ``spec`` and return the job without waiting for it."""

    def reconnect(self, handle: str, options: Mapping[str, Any]) -> RemoteJob | None:
        """Return the job ``handle`` names, or None if it is gone."""


class ExecutorError(Exception):
    """An executor cannot be used (not installed, cluster unreachable)."""


_executors: dict[str, Executor] = {}
_lock = threading.Lock()


def executor(name: str) -> Executor:
    """Return the executor called ``name``, made once per process."""
    with _lock:
        found = _executors.get(name)
        if found is None:
            found = _executors[name] = _load(name)()
        return found


def _load(name: str) -> Callable[[], Executor]:
    from importlib import import_module
    from importlib.metadata import entry_points

    path = BUILT_IN.get(name)
    if path is None:
        points = [e for e in entry_points(group=ENTRY_POINTS) if e.name == name]
        if not points:
            raise ExecutorError(f"no executor '{name}' is installed")
        try:
            loaded: Callable[[], Executor] = points[0].load()
        except Exception as exc:  # noqa: BLE001 - a package's own fault
            raise ExecutorError(
                f"executor '{name}' cannot be loaded: {type(exc).__name__}: {exc}"
            ) from None
        return loaded
    module, _, attribute = path.partition(":")
    cls: Callable[[], Executor] = getattr(import_module(module), attribute)
    return cls


PRIVATE = frozenset({".goap", ".git"})
"""Folders whose files never ship and are never written by a remote step: the
engine's state, journal and lock, and the repository (its config may hold
credentials, its hooks run on the next commit)."""


def _private(relative: str) -> bool:
    return any(part in PRIVATE for part in relative.split("/"))


def first_line(exc: BaseException) -> str:
    """Return the first line of what ``exc`` says, or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def gather_inputs(workdir: Path, globs: tuple[str, ...]) -> dict[str, bytes]:
    """Return the workspace files ``globs`` match, by relative path.

    Only regular files inside the workdir: a link pointing out of it would
    ship a file the goal never named.  Files in ``.goap/`` and ``.git/`` are
    left out, even when a glob such as ``**`` matches them.
    """
    files: dict[str, bytes] = {}
    total = 0
    root = workdir.resolve()
    for pattern in globs:
        matched = sorted(workdir.glob(pattern))
        if not matched:
            raise ExecutorError(f"input '{pattern}' matches no file in {workdir}")
        shipped = [
            p for p in matched if not _private(p.relative_to(workdir).as_posix())
        ]
        if not shipped:
            raise ExecutorError(
                f"input '{pattern}' matches only files of .goap/ or .git/, "
                "which never ship"
            )
        for path in shipped:
            relative = path.relative_to(workdir).as_posix()
            if relative in files or path.is_dir():
                continue
            if not path.is_file() or not path.resolve().is_relative_to(root):
                raise ExecutorError(
                    f"input '{relative}' is not a regular file inside the workdir"
                )
            try:
                size, data = path.stat().st_size, b""
                # Sized before it is read: a huge (or sparse) file is refused
                # unread; read bounded, as a file growing meanwhile counts too.
                if total + size <= MAX_SHIPPED:
                    with path.open("rb") as handle:
                        data = handle.read(MAX_SHIPPED - total + 1)
            except OSError as exc:
                raise ExecutorError(
                    f"input '{relative}' cannot be read: {exc.strerror or exc}"
                ) from None
            total += max(size, len(data))
            if total > MAX_SHIPPED:
                raise ExecutorError(
                    f"inputs are more than {MAX_SHIPPED // 2**20} MiB; ship big "
                    "data through storage the cluster reads instead"
                )
            files[relative] = data
    return files


def place_outputs(workdir: Path, files: Mapping[str, bytes]) -> list[str]:
    """Write the fetched ``files`` into the workspace; return their paths.

    Every path is checked before any file is written, so a refused one
    leaves the workspace as it was: it must stay inside the workdir, whether
    by '..' or by a link already in the workspace (no folder is made
    outside it either), out of ``.goap/`` and ``.git/``, and not land on a
    folder.  Each file is replaced whole (written beside it, then renamed),
    so a reader never sees half of it.
    """
    root = workdir.resolve()
    names = sorted(files)
    for name in names:
        problem = _placement_problem(workdir, root, name)
        if problem:
            raise ExecutorError(f"output {name!r}: {problem}")
    placed = []
    for name in names:
        target = workdir / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".goap-out-")
        except OSError as exc:
            raise ExecutorError(
                f"output {name!r} cannot be written: {exc.strerror or exc}"
            ) from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(files[name])
            # mkstemp's 0600 would make a fetched model unreadable to others.
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise ExecutorError(
                f"output {name!r} cannot be written: {exc.strerror or exc}"
            ) from None
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        placed.append(name)
    return placed


def _placement_problem(workdir: Path, root: Path, name: str) -> str:
    """Return why the output ``name`` cannot be written, or '' if it can."""
    parts = Path(name).parts
    if Path(name).is_absolute() or ".." in parts or not parts or "\0" in name:
        return "is not a path inside the workdir"
    if _private(Path(name).as_posix()):
        return "is in .goap/ or .git/, which a remote step never writes"
    # The nearest folder that exists decides where the file lands: checked
    # before anything is made, so no folder appears outside the workdir.
    target = workdir / name
    existing = target.parent
    while not existing.exists() and not existing.is_symlink():
        existing = existing.parent
    if target.is_symlink() or not existing.resolve().is_relative_to(root):
        return "would be written outside the workdir (through a link)"
    if not existing.is_dir():
        return f"'{existing.relative_to(workdir)}' is a file in the workspace"
    if target.is_dir():
        return "is a folder in the workspace, where a file is expected"
    return ""


def run_remote(
    placement: Placement,
    spec: JobSpec,
    *,
    workdir: Path,
    output: Output,
    timeout: float | None,
    stop: threading.Event,
    handle: str | None,
    on_handle: Callable[[str, bool], None],
) -> Outcome:
    """Run ``spec`` on ``placement``'s executor; stream, bound and finish it.

    With ``handle`` (from the journal of an interrupted run) the job is
    reconnected to and not submitted again, unless it is gone.  ``on_handle``
    journals the job's handle (and whether it was reconnected to) before the
    engine waits for it, so a resume after a crash finds it.
    """
    began = time.monotonic()
    try:
        runner = executor(placement.executor)
        job = None
        if handle is not None:
            job = runner.reconnect(handle, placement.options)
            if job is not None:
                output.line(f"reconnected to {placement.executor} job {handle}")
                on_handle(job.handle, True)
        if job is None:
            job = runner.submit(spec)
            on_handle(job.handle, False)
    except ExecutorError as exc:
        return Outcome(False, message=str(exc), seconds=time.monotonic() - began)
    deadline = None if timeout is None else began + timeout
    try:
        while True:
            output.feed(job.read())
            code = job.exit_code()
            if code is not None:
                output.feed(job.read())
                break
            if stop.is_set() or (deadline is not None and time.monotonic() > deadline):
                job.cancel()
                seconds = time.monotonic() - began
                if stop.is_set():
                    return Outcome(
                        False, message="interrupted", seconds=seconds, interrupted=True
                    )
                return Outcome(
                    False,
                    message=f"timed out after {timeout:g} s "
                    f"({placement.executor} job cancelled)",
                    seconds=seconds,
                    timed_out=True,
                )
            stop.wait(POLL)
        seconds = time.monotonic() - began
        if code != 0:
            return Outcome(
                False,
                code,
                output.text(),
                message=f"exit code {code} (on {placement.executor})",
                seconds=seconds,
            )
        fetched: dict[str, bytes] = {}
        for pattern in placement.outputs:
            # One glob at a time: an output that was not produced is a
            # failed step, named by its glob.
            found = job.outputs((pattern,))
            # A tool that made a repository in the step's folder does not
            # fail a '**' glob: those files are left there, never written.
            kept = {n: d for n, d in found.items() if not _private(n)}
            if found and not kept:
                return Outcome(
                    False,
                    code,
                    message=f"output '{pattern}' matches only files of .goap/ "
                    "or .git/, which a remote step never writes",
                    seconds=seconds,
                )
            if not found:
                return Outcome(
                    False,
                    code,
                    message=f"output '{pattern}' was not produced",
                    seconds=seconds,
                )
            fetched.update(kept)
        if sum(len(data) for data in fetched.values()) > MAX_SHIPPED:
            raise ExecutorError(f"outputs are more than {MAX_SHIPPED // 2**20} MiB")
        place_outputs(workdir, fetched)
        return Outcome(True, code, output.text(), seconds=seconds)
    except KeyboardInterrupt:
        job.cancel()
        raise
    except ExecutorError as exc:
        job.cancel()
        return Outcome(False, message=str(exc), seconds=time.monotonic() - began)
    finally:
        job.release()


def remote_handles(events: Iterable[Mapping[str, Any]], run: str) -> dict[str, str]:
    """Return the remote jobs ``run`` left running, by action name.

    A job whose step ended (in any way) in that run is finished and released;
    only those of steps the interruption cut short may still be running.
    """
    open_jobs: dict[str, tuple[str, str]] = {}
    for event in events:
        if event.get("run") != run:
            continue
        kind = event.get("event")
        step = str(event.get("step"))
        if kind == "remote_submitted":
            open_jobs[step] = (str(event.get("action")), str(event.get("handle")))
        elif kind == "step_end" and event.get("status") != "interrupted":
            open_jobs.pop(step, None)
    return dict(open_jobs.values())


def run_elsewhere(
    runner: StepRunner,
    action: Action,
    command: str | list[str],
    declared: dict[str, str],
    output: Output,
    timeout: float,
    marker: str,
) -> Outcome:
    """Run ``runner``'s step ``command`` where ``action.runs_on`` says."""
    placement = action.runs_on
    assert placement is not None
    workdir = runner.ruleset.workdir
    # Only what the step declares goes: its env: and the secrets, never
    # the engine's whole environment (it may hold anything).
    env = {n: os.environ[n] for n in runner.ruleset.secrets if n in os.environ}
    env.update(declared)
    env.setdefault("PYTHONUNBUFFERED", "1")
    try:
        files = gather_inputs(workdir, placement.inputs)
    except ExecutorError as exc:
        return Outcome(False, message=str(exc))
    spec = JobSpec(marker, command, env, files, placement.options, timeout, workdir)

    def journalled(handle: str, reconnected: bool) -> None:
        runner.event(
            "remote_submitted",
            step=action.label,
            action=action.name,
            executor=placement.executor,
            handle=handle,
            reconnected=reconnected,
        )

    return run_remote(
        placement,
        spec,
        workdir=workdir,
        output=output,
        timeout=timeout,
        stop=runner.stopping,
        # Once: a retry after the reconnected job failed submits anew.
        handle=runner.remote_handles.pop(action.name, None),
        on_handle=journalled,
    )
