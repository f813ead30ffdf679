"""Processes that hooks start: stream their output, bound them, leave none behind.

Every hook process starts in a session of its own, so a timeout or an interrupt
can kill the whole process group.  A hook can still leave its group (``setsid``,
a daemon's double fork); to find those, each step's processes carry a marker in
their environment (``GOAP_STEP``), inherited by everything they start, and when
the step ends every process still carrying it is ended.  On Linux the engine is
also made a child subreaper, so orphans of its hooks are re-parented to it
rather than to init, and it reaps the ones it ends.
"""

from __future__ import annotations

import ctypes
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

from .output import Output

STEP_VAR = "GOAP_STEP"
KILL_GRACE = 2.0
# How often a waiting loop looks at the clock and the stop flag.
POLL = 0.1
# How long a hook's output may stay open after the hook exited (a background
# process holding the pipe) before the engine stops reading it.
OUTPUT_GRACE = 1.0
PR_SET_CHILD_SUBREAPER = 36

_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()
# Children the program had before a run began (the Python API's callers may
# have their own): never a hook's leftovers, never ended or reaped here.
_PROTECTED: set[int] = set()


def new_marker() -> str:
    """Return a fresh marker for one step's processes."""
    return uuid.uuid4().hex


def subreaper(on: bool = True) -> bool:
    """Make orphaned descendants re-parent to this process (Linux only).

    Returns whether the kernel agreed.  A run turns it on for its duration and
    off again, so a program using the Python API does not inherit orphans.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def unregister(proc: subprocess.Popen[bytes]) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(proc)


@contextmanager
def process_scope() -> Iterator[None]:
    """Own the processes hooks and sensors start while the block runs.

    Orphans of hooks come back to this process (subreaper) and are ended when
    the block ends; children the program already had are left alone.
    """
    before = _children(os.getpid()) or set()
    with _LIVE_LOCK:
        _PROTECTED.update(before)
    reaping = subreaper(True)
    try:
        yield
    finally:
        if reaping:
            try:
                end_strays()
            finally:
                subreaper(False)


def kill_all() -> None:
    """Kill the process groups of every hook and worker still running."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        kill_group(proc)


def kill_group(proc: subprocess.Popen[bytes], grace: float = KILL_GRACE) -> None:
    """Stop ``proc``'s process group: SIGTERM, a grace period, then SIGKILL."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        # The leader is gone and its pid was reused by someone else's group.
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    finally:
        # Even when a second Ctrl-C cuts the grace short; and members of the
        # group that ignored SIGTERM go too.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def marked(marker: str) -> list[int]:
    """Return the pids of processes whose environment carries ``marker``."""
    needle = f"{STEP_VAR}={marker}".encode() + b"\0"
    found = []
    me = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if needle in environ + b"\0":
            found.append(int(entry))
    return found


def end_marked(
    marker: str, watch: Iterable[int] = (), *, alone: bool = False
) -> list[int]:
    """End every process left behind by the step with ``marker``; return them.

    A clean exit is the normal case, so first a cheap look: as a subreaper the
    engine inherits every orphan of its hooks, so a leftover is either one of
    its own children that no Popen owns, or a child of a worker in ``watch``.
    Only when there is one are all processes searched for the marker.  When
    the step ran ``alone`` (nothing else runs), every stray is its leftover,
    marker or not: a process that cleared its environment is ended too.
    """
    candidates = strays(watch)
    if candidates is not None and not candidates:
        return []
    pids = marked(marker)
    if alone and candidates:
        pids = sorted(set(pids) | candidates)
    if pids:
        _end(pids)
        if alone:
            pids += end_strays()
    return pids


def end_marked_everywhere(marker: str) -> list[int]:
    """End every process carrying ``marker``, wherever it is now (after a crash)."""
    pids = marked(marker)
    if pids:
        _end(pids)
    return pids


def strays(watch: Iterable[int] = ()) -> set[int] | None:
    """Return children of the engine no Popen owns, and children of ``watch``.

    None when the kernel does not list children (no ``/proc/PID/task/*/children``).
    """
    with _LIVE_LOCK:
        owned = {proc.pid for proc in _LIVE} | _PROTECTED
        found: set[int] = set()
        for pid in (os.getpid(), *watch):
            children = _children(pid)
            if children is None:
                return None
            found |= children
        # Orphans that already exited are zombies of the engine: collect them
        # (under the lock: see ``spawn``).
        _reap_unlocked(found - owned, owned)
    return {p for p in found if p not in owned and _running(p)}


def end_strays(rounds: int = 5) -> list[int]:
    """End every orphan of a hook re-parented to the engine, and theirs.

    Children of an ended orphan come back to the engine only once their
    parent is gone, so this repeats until no stray is left.
    """
    ended: list[int] = []
    for _ in range(rounds):
        pids = sorted(strays() or ())
        if not pids:
            break
        _end(pids)
        ended += pids
    return ended


def _children(pid: int) -> set[int] | None:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return set() if os.path.exists("/proc/self/task") else None
    found: set[int] = set()
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                found.update(int(p) for p in handle.read().split())
        except FileNotFoundError:
            if tid == str(pid):
                return None
        except OSError:
            continue
    return found


def _end(pids: list[int], grace: float = 0.5) -> None:
    with _LIVE_LOCK:
        # The engine's group, and those of live hooks and workers (each leads
        # its own), are not a leftover's to take down with it.
        keep = {os.getpgrp()} | {proc.pid for proc in _LIVE}
    groups = set()
    for pid in pids:
        with suppress(ProcessLookupError, PermissionError):
            group = os.getpgid(pid)
            if group not in keep:
                groups.add(group)
            os.kill(pid, signal.SIGTERM)
    # Whatever the leftovers started in their own groups goes with them.
    for group in groups:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    left = pids
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        _reap(left)
        left = [p for p in left if _running(p)]
    for pid in left:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for group in groups:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    end = time.monotonic() + 1.0
    while left and time.monotonic() < end:
        _reap(left)
        left = [p for p in left if _running(p)]
        if left:
            time.sleep(0.01)
    _reap(pids)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat.rpartition(b")")[2].split()[:1] not in ([b"Z"], [b"X"])


def _reap(pids: Iterable[int]) -> None:
    """Collect the exit status of ended children that no Popen owns."""
    with _LIVE_LOCK:
        _reap_unlocked(pids, {proc.pid for proc in _LIVE} | _PROTECTED)


def _reap_unlocked(pids: Iterable[int], owned: set[int]) -> None:
    for pid in pids:
        if pid in owned:
            continue
        with suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def spawn(
    argv: str | list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: int | None = subprocess.DEVNULL,
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start a process in its own session with stdout and stderr on one pipe."""
    # A Ctrl-C after the child exists but before it is registered would leave
    # it running unseen: hold interrupts until it can be killed.
    # The registry's lock is held from fork to registration: reaping orphans
    # (``_reap``) takes it too, so it can never collect a hook that exited
    # before it was registered (its Popen would then report exit code 0).
    proc: subprocess.Popen[bytes] | None = None
    try:
        with _interrupts_held(), _LIVE_LOCK:
            proc = _popen(argv, cwd, env, stdin, pass_fds)
            _LIVE.add(proc)
    except BaseException:
        # An interrupt held while it started is raised here: the process
        # exists and nobody else will stop it.
        if proc is not None:
            finish(proc, Output(), kill=True)
        raise
    return proc


def _popen(
    argv: str | list[str],
    cwd: Path,
    env: Mapping[str, str],
    stdin: int | None,
    pass_fds: tuple[int, ...],
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        shell=isinstance(argv, str),
        cwd=cwd,
        env=dict(env),
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        pass_fds=pass_fds,
    )


def pump(
    proc: subprocess.Popen[bytes],
    output: Output,
    *,
    deadline: float | None,
    stop: threading.Event | None = None,
    extra: tuple[int, Callable[[], bool]] | None = None,
) -> str:
    """Stream ``proc``'s output into ``output`` until it ends; say how it ended.

    Returns ``exited``, ``timeout``, ``stopped``, ``oversize`` (it printed
    more than ``output`` takes) or ``extra`` (the ``extra``
    file descriptor became readable and its callback returned True: a worker's
    result).  Short select slices rather than one blocking read: a process that
    left the group may keep the pipe open after the hook ended.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ, "out")
    if extra is not None:
        selector.register(extra[0], selectors.EVENT_READ, "extra")
    open_out = True
    exited_at: float | None = None
    try:
        while True:
            if not open_out:
                # Nothing left to read: wait for the exit itself, which
                # returns the moment it happens.
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=POLL)
            for key, _ in selector.select(POLL if open_out else 0):
                if key.data == "out":
                    chunk = os.read(fd, 65536)
                    if chunk:
                        output.feed(chunk)
                        if output.over_limit:
                            return "oversize"
                    else:
                        selector.unregister(fd)
                        open_out = False
                elif extra is not None and extra[1]():
                    drain(fd, output)
                    return "extra"
            output.idle()
            moment = time.monotonic()
            if proc.poll() is not None:
                exited_at = exited_at or moment
                if not open_out or moment - exited_at >= OUTPUT_GRACE:
                    return "exited"
            if deadline is not None and moment >= deadline:
                return "timeout"
            if stop is not None and stop.is_set():
                return "stopped"
    finally:
        selector.close()


def drain(fd: int, output: Output, limit: float = OUTPUT_GRACE) -> None:
    """Read what is already in the pipe without waiting for more."""
    end = time.monotonic() + limit
    selector = selectors.DefaultSelector()
    try:
        selector.register(fd, selectors.EVENT_READ)
        while time.monotonic() < end and selector.select(0):
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            output.feed(chunk)
    except (OSError, ValueError):
        return
    finally:
        selector.close()


def finish(proc: subprocess.Popen[bytes], output: Output, *, kill: bool) -> None:
    """Kill (if asked) and collect ``proc``, keeping the rest of its output."""
    try:
        if kill:
            kill_group(proc)
        assert proc.stdout is not None
        drain(proc.stdout.fileno(), output)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=KILL_GRACE)
    finally:
        if proc.stdout is not None:
            with suppress(OSError):
                proc.stdout.close()
        unregister(proc)


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Delay SIGINT and SIGTERM to the end of the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are only ever handled in the main thread
        return
    held: list[signal.Signals] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signal.Signals(signum))

    previous = {
        signum: signal.signal(signum, hold)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            # None: a handler not set from Python, which cannot be put back.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in held:
            signal.raise_signal(signum)
