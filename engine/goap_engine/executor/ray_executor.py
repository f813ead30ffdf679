"""Run steps on a Ray cluster: each one a command in a detached, named actor.

Why an actor and not Ray's job submission API: the Jobs API needs
``ray[default]`` and the cluster's dashboard (an HTTP server that clusters
often run without, and that ``ray start --include-dashboard=false`` leaves
out), while an actor needs only the core ``ray`` package and the cluster's
own port.  A *detached* actor is not owned by the engine's driver, so it
survives a crash of the engine; its name (``goap-<step marker>-<attempt>``) is the
durable handle the journal keeps, and ``ray.get_actor`` finds it again.
The actor reserves the step's ``num_cpus``/``num_gpus`` (one CPU by
default), so steps wait for room on the cluster as Ray jobs would.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from .remote import MAX_SHIPPED, ExecutorError, JobSpec, first_line

NAMESPACE = "goap_engine"
HANDLE = re.compile(r"goap-[0-9a-f]{32}-[0-9a-f]{8}")
"""The actor names ``submit`` gives: ``goap-<step marker>-<attempt>``."""
ANSWER = 10.0
"""Seconds a cancel or cleanup may take (the actor's cancel waits 5 s for the
command): an actor that cannot answer, such as one the cluster has no room
for yet, is killed instead of waited for."""
FETCH = 300.0
"""Seconds fetching a step's outputs may take."""
GREETING = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
"""HTTP/2's client preface and an empty SETTINGS frame (type 4)."""
PLACING = 30.0
"""Seconds after which a step the cluster has not started says so."""
PROBE = 5.0
"""Seconds the cluster's port has to answer as a gRPC server before connecting."""


class RayExecutor:
    """Submit steps to the cluster ``runs_on: {ray: {address}}`` names."""

    def __init__(self) -> None:
        try:
            import ray
        except ImportError:
            raise ExecutorError(
                "runs_on: ray needs the 'ray' package: pip install 'goap-engine[ray]'"
            ) from None
        self.ray: Any = ray
        self.address: str | None = None
        self.actor_class: Any = None
        self.lock = threading.Lock()

    def connect(self, options: Mapping[str, Any]) -> None:
        """Connect this process to the cluster, once (Ray allows one per process)."""
        address = str(options.get("address") or "local")
        with self.lock:
            if self.address is not None:
                if address != self.address:
                    raise ExecutorError(
                        f"runs_on: ray address '{address}': this run already uses "
                        f"the cluster at '{self.address}' (one per run)"
                    )
                return
            problem = _unreachable(address)
            if problem:
                named = f"'{address}'"
                if address in ("auto", "local") and os.environ.get("RAY_ADDRESS"):
                    named += f" (RAY_ADDRESS={os.environ['RAY_ADDRESS']})"
                raise ExecutorError(
                    f"cannot reach the Ray cluster at {named}: {problem}"
                )
            ray = self.ray
            from . import ray_step

            # By value: the cluster's nodes need not have goap-engine.
            ray.cloudpickle.register_pickle_by_value(ray_step)
            try:
                # 'local' joins the cluster 'ray start' runs on this machine,
                # or starts one that lives as long as this run.
                ray.init(
                    address=None if address == "local" else address,
                    namespace=NAMESPACE,
                    log_to_driver=False,
                    configure_logging=False,
                    include_dashboard=False if address == "local" else None,
                )
            except Exception as exc:  # noqa: BLE001 - Ray raises many kinds
                raise ExecutorError(
                    f"cannot reach the Ray cluster at '{address}': "
                    f"{type(exc).__name__}: {first_line(exc)}"
                ) from None
            self.actor_class = ray.remote(ray_step.StepProcess)
            self.address = address

    def submit(self, spec: JobSpec) -> RayJob:
        self.connect(spec.options)
        options = spec.options
        resources: dict[str, Any] = {
            "num_cpus": options.get("num_cpus", 1),
            "num_gpus": options.get("num_gpus", 0),
        }
        if options.get("runtime_env"):
            resources["runtime_env"] = dict(options["runtime_env"])
        # A retry of the step submits again while Ray may still be removing
        # the last attempt's actor: each attempt has a name of its own.
        name = f"goap-{spec.name}-{uuid.uuid4().hex[:8]}"
        try:
            actor = self.actor_class.options(
                name=name, namespace=NAMESPACE, lifetime="detached", **resources
            ).remote(spec.command, dict(spec.env), dict(spec.files))
        except Exception as exc:  # noqa: BLE001
            raise ExecutorError(
                f"Ray refused the step: {type(exc).__name__}: {first_line(exc)}"
            ) from None
        return RayJob(self.ray, actor, name, _reserved(options))

    def reconnect(self, handle: str, options: Mapping[str, Any]) -> RayJob | None:
        if not HANDLE.fullmatch(handle):
            return None  # not a name this engine gives: the journal was edited
        self.connect(options)
        try:
            actor = self.ray.get_actor(handle, namespace=NAMESPACE)
        except ValueError:
            return None  # gone: it ended and was released, or the cluster restarted
        return RayJob(self.ray, actor, handle, _reserved(options))


class RayJob:
    """A step's actor on the cluster, read from the engine.

    Only ``read`` and ``exit_code`` are called while the step runs, and
    neither waits for the actor: one that the cluster has no room for (a
    ``num_gpus`` it lacks) answers nothing, and the engine must still see
    its timeout and Ctrl-C.  The other calls wait a bounded time.
    """

    def __init__(self, ray: Any, actor: Any, handle: str, reserved: str = "") -> None:
        self.ray = ray
        self.actor = actor
        self.handle = handle
        self.reserved = reserved
        self.since = time.monotonic()
        self.settled = False
        self.offset = 0
        self.code: int | None = None
        self.pending: Any = None
        self.silent = False

    def call(self, method: str, *args: Any, timeout: float = ANSWER) -> Any:
        return self.answer(getattr(self.actor, method).remote(*args), timeout)

    def answer(self, ref: Any, timeout: float) -> Any:
        exceptions = self.ray.exceptions
        try:
            return self.ray.get(ref, timeout=timeout)
        except exceptions.GetTimeoutError:
            self.silent = True
            raise ExecutorError(
                f"the Ray actor {self.handle} did not answer within {timeout:g} s"
            ) from None
        except exceptions.RayActorError as exc:
            raise ExecutorError(
                f"the Ray actor running the step died: {first_line(exc)}"
            ) from None
        except exceptions.RayTaskError as exc:
            # The command could not start (no such program, a bad folder).
            raise ExecutorError(f"on Ray: {first_line(exc.cause or exc)}") from None

    def read(self) -> bytes:
        if self.code is not None:
            return b""
        if self.pending is None:
            self.pending = self.actor.read.remote(self.offset)
        if not self.ray.wait([self.pending], timeout=0)[0]:
            if not self.settled and time.monotonic() - self.since > PLACING:
                # Said once, so a step that waits for room is not mistaken
                # for one that hangs.
                self.settled = True
                return (
                    f"(the Ray cluster has not started the step after "
                    f"{PLACING:g} s: is there room for {self.reserved}?)\n"
                ).encode()
            return b""
        self.settled = True
        ref, self.pending = self.pending, None
        chunk: bytes
        chunk, self.offset, self.code = self.answer(ref, ANSWER)
        return chunk

    def exit_code(self) -> int | None:
        return self.code

    def cancel(self) -> None:
        if self.silent:
            return
        # Already gone: nothing left to stop.
        with contextlib.suppress(ExecutorError):
            self.call("cancel")

    def outputs(self, globs: tuple[str, ...]) -> dict[str, bytes]:
        found: dict[str, bytes] = self.call(
            "outputs", list(globs), MAX_SHIPPED, timeout=FETCH
        )
        return found

    def release(self) -> None:
        if not self.silent:
            with contextlib.suppress(ExecutorError):
                self.call("cleanup")
        # It may be gone already, and Ray raises many kinds of errors.
        with contextlib.suppress(Exception):
            self.ray.kill(self.actor, no_restart=True)


def _unreachable(address: str) -> str:
    """Return why the cluster at ``address`` cannot be reached, or '' if it can.

    Ray itself retries an unreachable address for minutes, writing warnings
    to the engine's stderr; one plain connection says it at once.
    """
    if address in ("auto", "local"):
        # Ray reads RAY_ADDRESS for 'local' too (ray.init without an address).
        address = os.environ.get("RAY_ADDRESS", "")
    if address in ("", "local", "auto") or "://" in address:
        return ""  # Ray finds the cluster itself, or a client address
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=PROBE) as conn:
            if os.environ.get("RAY_USE_TLS", "0").lower() in ("0", "false", ""):
                return _not_grpc(conn)
    except ValueError:
        return "expected HOST:PORT"
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


def _not_grpc(conn: socket.socket) -> str:
    """Return why ``conn`` is not a gRPC server, or '' if it answers as one.

    A port that accepts and never answers would hold ``ray.init`` for ever
    (it retries without end); a gRPC server answers an HTTP/2 greeting with
    its SETTINGS frame at once.
    """
    conn.settimeout(PROBE)
    conn.sendall(
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
    )
    try:
        header = conn.recv(9)
    except TimeoutError:
        return f"it accepted a connection but did not answer within {PROBE:g} s"
    except OSError as exc:
        return exc.strerror or str(exc)
    if len(header) < 4 or header[3] != 4:
        return "it answered, but not as a Ray cluster's port (gRPC) does"
    return ""


def _reserved(options: Mapping[str, Any]) -> str:
    return (
        f"num_cpus {options.get('num_cpus', 1):g}, "
        f"num_gpus {options.get('num_gpus', 0):g}"
    )
