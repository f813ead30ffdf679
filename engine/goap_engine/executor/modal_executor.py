"""Run steps in Modal sandboxes: each one a command in a container of its own.

Why a sandbox and not a Modal function: a function runs Python code that an
app defines, inside ``app.run()``, whose ephemeral app stops when the process
that runs it ends -- a crash of the engine would stop the step, and
``--resume`` could not find it.  A sandbox is an object of its own, found
again by its id (``Sandbox.from_id``), which runs any command in any image,
takes commands (``exec``), files (``filesystem``) and ``terminate``.

Inside the sandbox, under ``/tmp`` (writable whatever user the image runs
as)::

    goap/inputs.tar  the step's inputs (one request), unpacked into work/
    goap/work/       the step's working folder: its inputs, then its outputs
    goap/step.sh     the command, written with the inputs
    goap/started     made when the command starts
    goap/out.log     everything it printed (what a reconnect reads)
    goap/exit        its exit code, once it ended

The command starts only once the engine has journalled the sandbox's id
(on the job's first ``read``): an engine killed before that leaves a sandbox
nobody started, which ends by itself; one killed after it leaves an id that
``--resume`` follows -- starting the command if it had not started yet, so
it never runs twice.  The sandbox's own process only waits: it ends ``KEEP``
seconds after the command did (time for the engine to fetch the outputs; the
engine ends it sooner), or ``START_WAIT`` seconds after it began if the
command never started.  The step's environment (its ``env:`` and
the goal's secrets) goes in an ephemeral Modal secret, never on a command
line.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import shlex
import tarfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The Ray side's matcher: outputs match alike wherever the step ran.
from .ray_step import matches
from .remote import MAX_SHIPPED, ExecutorError, JobSpec, first_line

APP = "goap-engine"
"""The Modal app sandboxes belong to, unless ``runs_on: {modal: {app}}`` says."""
BASE = "/tmp"
KEEP = 600
START_WAIT = 120
MAX_LIFETIME = 24 * 3600
"""Modal's longest sandbox lifetime, in seconds."""
MARGIN = 300
"""Seconds a sandbox outlives the step's timeout by default: time to fetch outputs."""
POLL = 1.0
"""Seconds between two questions to Modal about one job (each is a request)."""

IDLE = (
    "mkdir -p goap/work; i=0; "
    f"while [ ! -e goap/started ] && [ $i -lt {START_WAIT} ]; "
    "do sleep 1; i=$((i+1)); done; "
    "[ -e goap/started ] || exit 0; "
    "while [ ! -e goap/exit ]; do sleep 1; done; "
    f"sleep {KEEP}"
)
# Everything goes to stdout, which the engine reads; the command's exit code
# is kept in a file, since the pipeline's own is tee's.  The pipeline runs in
# the background and is waited for by that file, not by its end: a process
# the command left in the background holds the pipe open, and would hold the
# step (a local step's output is read for OUTPUT_GRACE after its command
# exited, as here; what is left ends with the sandbox).
RUN = (
    "exec 2>&1\n"
    "mkdir -p goap/work && : > goap/started && cd goap/work || exit 127\n"
    "if [ -e ../inputs.tar ]; then tar -xf ../inputs.tar || exit 127; fi\n"
    "{ sh ../step.sh; echo $? > ../exit.part; } 2>&1 | tee -a ../out.log &\n"
    "copy=$!\n"
    "while [ ! -e ../exit.part ]; do sleep 0.2; done\n"
    "( sleep 1; kill $copy ) >/dev/null 2>&1 &\n"
    "wait $copy\n"
    "mv ../exit.part ../exit\n"
    'exit "$(cat ../exit)"\n'
)
WORK = f"{BASE}/goap/work"
INPUTS = f"{BASE}/goap/inputs.tar"
# GNU find says each size at once; where find has no -printf (BusyBox), POSIX
# find, wc and printf say it, a process per file.  A name listed twice (the
# first failed half way) is read once.
LIST = (
    "find . -type f -printf '%s\\0%p\\0' 2>/dev/null || "
    "find . -type f -exec sh -c "
    '\'for f; do printf "%s\\0%s\\0" "$(wc -c < "$f")" "$f"; done\' sh {} +'
)


class ModalExecutor:
    """Submit steps to Modal as sandboxes, with the SDK's own client."""

    def __init__(self, sdk: Any = None) -> None:
        if sdk is None:
            try:
                import modal as sdk
            except ImportError:
                raise ExecutorError(
                    "runs_on: modal needs the 'modal' package: "
                    "pip install 'goap-engine[modal]'"
                ) from None
        self.modal: Any = sdk
        self.checked = False
        self.lock = threading.Lock()

    def verify(self, options: Mapping[str, Any]) -> None:
        """Check once, within a bound, that Modal answers and takes the token.

        Without it a silent Modal or a wrong token would surface only after the
        SDK's own retries, minutes later.
        """
        from ..integrations import IntegrationError
        from ..integrations.modal import DEFAULT_CHECK_TIMEOUT, verify

        with self.lock:
            if self.checked:
                return
            bound = float(options.get("check_timeout", DEFAULT_CHECK_TIMEOUT))
            try:
                verify(os.environ, bound)
            except IntegrationError as exc:
                raise ExecutorError(str(exc)) from None
            self.checked = True

    def submit(self, spec: JobSpec) -> ModalJob:
        self.verify(spec.options)
        modal = self.modal
        options = spec.options
        try:
            sandbox = modal.Sandbox.create(
                "sh", "-c", IDLE, **self.settings(spec, options)
            )
        except ExecutorError:
            raise
        except Exception as exc:  # noqa: BLE001 - the SDK raises many kinds
            raise ExecutorError(f"Modal refused the step: {_said(exc)}") from None
        try:
            if spec.files:
                # One request, not one per file: each is a round trip to
                # Modal, and thousands of them would hold the step (and
                # Ctrl-C) for minutes before it starts.
                sandbox.filesystem.write_bytes(archive(spec.files), INPUTS)
            sandbox.filesystem.write_bytes(script(spec.command), f"{BASE}/goap/step.sh")
        except Exception as exc:  # noqa: BLE001
            with contextlib.suppress(Exception):
                sandbox.terminate()
            raise ExecutorError(
                f"cannot ship the step's files to the Modal sandbox: {_said(exc)}"
            ) from None
        return ModalJob(sandbox, started=False)

    def settings(self, spec: JobSpec, options: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``Sandbox.create``'s keyword arguments for ``spec``."""
        modal = self.modal
        app = modal.App.lookup(str(options.get("app") or APP), create_if_missing=True)
        secrets = [modal.Secret.from_dict(dict(spec.env))]
        secrets += [modal.Secret.from_name(str(n)) for n in options.get("secrets", ())]
        volumes = {
            str(path): modal.Volume.from_name(str(name))
            for path, name in (options.get("volumes") or {}).items()
        }
        lifetime = options.get("timeout")
        if lifetime is None:
            step = spec.timeout if spec.timeout is not None else MAX_LIFETIME
            lifetime = step + MARGIN
        found: dict[str, Any] = {
            "app": app,
            "image": self.image(options.get("image") or {}, spec.workdir),
            "secrets": secrets,
            "volumes": volumes,
            "timeout": min(MAX_LIFETIME, math.ceil(float(lifetime))),
            "workdir": BASE,
        }
        for key in ("gpu", "cpu", "memory", "region", "cloud"):
            if options.get(key) is not None:
                found[key] = options[key]
        return found

    def image(self, settings: Mapping[str, Any], workdir: Path | None) -> Any:
        """Return the image ``settings`` describe (by default Debian slim, Python)."""
        images = self.modal.Image
        python = settings.get("python")
        python = None if python is None else str(python)
        if settings.get("dockerfile"):
            path = _inside(workdir, str(settings["dockerfile"]), "dockerfile")
            image = images.from_dockerfile(path, add_python=python)
        elif settings.get("registry"):
            image = images.from_registry(str(settings["registry"]), add_python=python)
        else:
            image = images.debian_slim(python_version=python)
        if settings.get("apt"):
            image = image.apt_install(*map(str, settings["apt"]))
        if settings.get("requirements"):
            path = _inside(workdir, str(settings["requirements"]), "requirements")
            image = image.pip_install_from_requirements(path)
        if settings.get("pip"):
            image = image.pip_install(*map(str, settings["pip"]))
        return image

    def reconnect(self, handle: str, options: Mapping[str, Any]) -> ModalJob | None:
        self.verify(options)
        if not re.fullmatch(r"sb-[A-Za-z0-9]+", handle):
            return None  # not a sandbox id: the journal was edited
        try:
            sandbox = self.modal.Sandbox.from_id(handle)
            ended = sandbox.poll()
        except self.modal.exception.NotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001
            raise ExecutorError(
                f"cannot find Modal sandbox {handle}: {_said(exc)}"
            ) from None
        if ended is not None:
            return None  # its files went with it: the step starts again
        job = ModalJob(sandbox, started=True)
        if job._file("started") is None:
            job.started = False  # journalled, never started: start it now
        return job


class ModalJob:
    """A step's sandbox, read from the engine.

    Started by this engine, the command's output streams from the process
    ``exec`` returned; reconnected to after a crash, it is read from the
    sandbox's ``out.log`` (the earlier part is shown again).
    """

    def __init__(self, sandbox: Any, *, started: bool) -> None:
        self.sandbox = sandbox
        self.started = started
        self.process: Any = None
        self.handle: str = str(sandbox.object_id)
        self.printed = bytearray()
        self.lock = threading.Lock()
        self.offset = 0
        self.code: int | None = None
        self.asked = 0.0
        self.pumped = threading.Event()
        self.failure = ""
        self.listed: dict[str, int] | None = None
        self.fetched: set[str] = set()

    def start(self) -> None:
        """Start the command written in the sandbox; its output streams from here."""
        self.started = True
        self.process = self._ask(
            lambda: self.sandbox.exec("sh", "-c", RUN, workdir=BASE, text=False)
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        try:
            for chunk in self.process.stdout:
                data = chunk if isinstance(chunk, bytes) else str(chunk).encode()
                with self.lock:
                    self.printed += data
        except Exception as exc:  # noqa: BLE001 - the stream broke: said, not raised
            with self.lock:
                self.failure = _said(exc)
        finally:
            self.pumped.set()

    def read(self) -> bytes:
        if not self.started:
            self.start()
        if self.process is not None:
            with self.lock:
                data = bytes(self.printed)
                self.printed.clear()
                if self.failure:
                    # Said once: the step goes on, only its output is lost.
                    data += f"(output from Modal lost: {self.failure})\n".encode()
                    self.failure = ""
            return data
        if self.code is not None or not self._due():
            return b""
        # Reconnected: one look reads the exit code, then the log, so a log
        # read after the code was found is the whole output.
        code = self._file("exit")
        log = self._file("out.log") or b""
        chunk = log[self.offset :]
        self.offset = max(self.offset, len(log))
        if code is not None:
            # Written by the script, but in a folder the command can write.
            text = code.strip()
            self.code = int(text) if text.isdigit() else 1
        elif self._ask(self.sandbox.poll) is not None:
            raise ExecutorError(
                f"Modal sandbox {self.handle} ended before the step did "
                "(its timeout, or it was stopped)"
            )
        return chunk

    def _due(self) -> bool:
        """Whether it is time to ask Modal again (each question is a request)."""
        now = time.monotonic()
        if now - self.asked < POLL:
            return False
        self.asked = now
        return True

    def exit_code(self) -> int | None:
        if self.code is not None or self.process is None:
            return self.code
        if not self._due():
            return None
        code = self._ask(self.process.poll)
        if code is None:
            return None
        # The stream ends with the process; its last lines come first.
        self.pumped.wait(10)
        self.code = int(code)
        return self.code

    def _ask(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except Exception as exc:  # noqa: BLE001
            raise ExecutorError(f"Modal sandbox {self.handle}: {_said(exc)}") from None

    def _file(self, name: str) -> bytes | None:
        try:
            data: bytes = self.sandbox.filesystem.read_bytes(f"{BASE}/goap/{name}")
        except Exception as exc:  # noqa: BLE001
            if "NotFound" in type(exc).__name__:
                return None
            raise ExecutorError(f"Modal sandbox {self.handle}: {_said(exc)}") from None
        return data

    def cancel(self) -> None:
        # Ending the sandbox ends the command and everything it started.
        with contextlib.suppress(Exception):
            self.sandbox.terminate()

    def outputs(self, globs: tuple[str, ...]) -> dict[str, bytes]:
        if self.listed is None:
            # Once: the driver asks glob by glob, and each listing is a request.
            self.listed = self._files()
        names = [n for n in self.listed if any(matches(n, p) for p in globs)]
        # Sized before they are read: a huge file is refused, not downloaded
        # (once, however many globs match it).
        self.fetched |= set(names)
        if sum(self.listed[n] for n in self.fetched) > MAX_SHIPPED:
            raise ExecutorError(
                f"outputs are more than {MAX_SHIPPED // 2**20} MiB; write big "
                "results to storage the sandbox reaches instead (a volume)"
            )
        found: dict[str, bytes] = {}
        for name in names:
            try:
                found[name] = self.sandbox.filesystem.read_bytes(f"{WORK}/{name}")
            except Exception as exc:  # noqa: BLE001
                raise ExecutorError(
                    f"cannot fetch output '{name}' from Modal: {_said(exc)}"
                ) from None
        return found

    def _files(self) -> dict[str, int]:
        """Return the regular files of the working folder and their sizes.

        Links are not followed; each name and size come NUL-terminated, so
        any name (a newline in it) is read as it is.
        """

        def listing() -> Any:
            process = self.sandbox.exec("sh", "-c", LIST, workdir=WORK, text=False)
            data = process.stdout.read()
            process.wait()
            return data

        data = self._ask(listing)
        raw = data if isinstance(data, bytes) else str(data).encode()
        fields = raw.split(b"\0")
        found = {}
        for size, name in zip(fields[0::2], fields[1::2], strict=False):
            text = name.decode("utf-8", "surrogateescape").removeprefix("./")
            if text and size.strip().isdigit():
                found[text] = int(size)
        return dict(sorted(found.items()))

    def release(self) -> None:
        self.cancel()


def archive(files: Mapping[str, bytes]) -> bytes:
    """Return ``files`` (relative path -> content) as one tar archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def script(command: str | list[str]) -> bytes:
    """Return the shell script that runs ``command``: a shell line, or its words."""
    if isinstance(command, str):
        return f"{command}\n".encode()
    # Quoted word by word: the words reach the program as they were given.
    return ("exec " + " ".join(shlex.quote(word) for word in command) + "\n").encode()


def _inside(workdir: Path | None, name: str, key: str) -> str:
    """Return ``name`` as a path inside ``workdir``; refuse one outside it."""
    if workdir is None:
        raise ExecutorError(f"runs_on: modal image {key}: no workdir to find it in")
    root = workdir.resolve()
    path = (workdir / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise ExecutorError(
            f"runs_on: modal image {key} '{name}': expected a file inside {workdir}"
        )
    return str(path)


def _said(exc: BaseException) -> str:
    first = first_line(exc)
    name = type(exc).__name__
    return name if first == name else f"{name}: {first}"
