"""A stand-in for the Modal SDK's sandbox API: sandboxes are local process groups.

Put its parent folder first on ``PYTHONPATH`` and ``import modal`` finds this
instead of the real SDK.  It answers the calls the engine's Modal executor
makes, with the real SDK's names and keyword arguments (the tests check them
against the installed SDK's signatures), and keeps everything in the folder
``FAKE_MODAL_ROOT`` names, so a second engine process finds the sandboxes a
first one made (what ``--resume`` needs):

    FAKE_MODAL_ROOT/
        token               'ID:SECRET' the stand-in accepts
        calls.jsonl         every call, with its arguments (secret values left out)
        secrets/NAME.json   named secrets ({"VAR": "value"})
        volumes/NAME/       named volumes
        fail_create         if present: Sandbox.create raises its text
        sandboxes/sb-ID/
            root/           the container's file system: '/x' is root/x
            pid, returncode the entrypoint's process group and its exit code
            execs           process groups of the commands exec started

Differences from Modal: no image is built (the chain is recorded and the
local system's programs run); a volume is a folder linked into the root;
absolute paths in commands are the host's, so the executor's relative ones
are what works; one process per sandbox is the entrypoint, as in Modal.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets as _random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import exception

__all__ = ["App", "Client", "Image", "Sandbox", "Secret", "Volume", "exception"]


def _root() -> Path:
    return Path(os.environ["FAKE_MODAL_ROOT"])


def _record(call: str, **details: Any) -> None:
    with open(_root() / "calls.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"call": call, **details}, default=str) + "\n")


class _Verify:
    async def aio(self, server_url: str, credentials: tuple[str, str]) -> None:
        expected = (_root() / "token").read_text().strip()
        if ":".join(credentials) != expected:
            raise exception.AuthError("Token ID is malformed or invalid")


class Client:
    verify = _Verify()


class App:
    def __init__(self, name: str) -> None:
        self.name = name

    @staticmethod
    def lookup(
        name: str,
        *,
        client: Any = None,
        environment_name: str | None = None,
        create_if_missing: bool = False,
    ) -> App:
        _record("App.lookup", name=name, create_if_missing=create_if_missing)
        return App(name)


class Image:
    def __init__(self, chain: list[Any]) -> None:
        self.chain = chain

    def _then(self, step: Any) -> Image:
        return Image([*self.chain, step])

    @staticmethod
    def debian_slim(
        python_version: str | None = None, force_build: bool = False
    ) -> Image:
        return Image([["debian_slim", python_version]])

    @staticmethod
    def from_registry(
        tag: str, secret: Any = None, *, add_python: str | None = None, **kwargs: Any
    ) -> Image:
        return Image([["from_registry", tag, add_python]])

    @staticmethod
    def from_dockerfile(
        path: str, *, add_python: str | None = None, **kwargs: Any
    ) -> Image:
        if not Path(path).is_file():
            raise exception.InvalidError(f"Dockerfile {path} not found")
        return Image([["from_dockerfile", path, add_python]])

    def apt_install(self, *packages: str, **kwargs: Any) -> Image:
        return self._then(["apt_install", *packages])

    def pip_install(self, *packages: str, **kwargs: Any) -> Image:
        return self._then(["pip_install", *packages])

    def pip_install_from_requirements(
        self, requirements_txt: str, **kwargs: Any
    ) -> Image:
        return self._then(["pip_install_from_requirements", requirements_txt])


class Secret:
    def __init__(self, env: dict[str, str], label: str) -> None:
        self.env = env
        self.label = label

    @staticmethod
    def from_dict(env_dict: dict[str, str | None] = {}) -> Secret:  # noqa: B006 - as the SDK
        return Secret({k: v for k, v in env_dict.items() if v is not None}, "from_dict")

    @staticmethod
    def from_name(
        name: str, *, environment_name: str | None = None, **kwargs: Any
    ) -> Secret:
        path = _root() / "secrets" / f"{name}.json"
        if not path.is_file():
            return Secret({}, f"missing:{name}")  # Modal says so when it is used
        return Secret(json.loads(path.read_text()), f"from_name:{name}")


class Volume:
    def __init__(self, name: str) -> None:
        self.name = name

    @staticmethod
    def from_name(
        name: str,
        *,
        environment_name: str | None = None,
        create_if_missing: bool = False,
        **kwargs: Any,
    ) -> Volume:
        return Volume(name)


class _Stream:
    """A process's output as Modal's StreamReader gives it: iterate, or read().

    Modal keeps what a process prints on its side, so the process never
    notices who reads it (or that its reader died): here it goes to a file,
    and reading follows the file until the process ended.
    """

    def __init__(
        self, path: Path, process: subprocess.Popen[bytes], text: bool
    ) -> None:
        self.path = path
        self.process = process
        self.text = text

    def __iter__(self) -> Iterator[Any]:
        with open(self.path, "rb") as handle:
            while True:
                ended = self.process.poll() is not None
                chunk = handle.read(65536)
                if chunk:
                    yield chunk.decode() if self.text else chunk
                elif ended:
                    return
                else:
                    time.sleep(0.02)

    def read(self) -> Any:
        data = b"".join(c if isinstance(c, bytes) else c.encode() for c in self)
        return data.decode() if self.text else data


class ContainerProcess:
    def __init__(
        self, process: subprocess.Popen[bytes], folder: Path, text: bool
    ) -> None:
        self.process = process
        self.stdout = _Stream(folder / "stdout", process, text)
        self.stderr = _Stream(folder / "stderr", process, text)

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self) -> int:
        return self.process.wait()

    @property
    def returncode(self) -> int | None:
        return self.process.returncode


class _Filesystem:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def _path(self, remote_path: str) -> Path:
        if not remote_path.startswith("/"):
            raise exception.InvalidError(f"{remote_path} is not absolute")
        self.sandbox._alive()
        return self.sandbox.folder / "root" / remote_path.lstrip("/")

    def write_bytes(self, data: bytes, remote_path: str) -> None:
        _record(
            "filesystem.write_bytes",
            sandbox=self.sandbox.object_id,
            path=remote_path,
            size=len(data),
        )
        path = self._path(remote_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def read_bytes(self, remote_path: str) -> bytes:
        path = self._path(remote_path)
        if not path.exists():
            raise exception.SandboxFilesystemNotFoundError(
                f"{remote_path}: no such file"
            )
        return path.read_bytes()


# The SDK's parameters the stand-in accepts (checked against the real SDK).
CREATE_PARAMETERS = frozenset(
    {
        "app",
        "image",
        "secrets",
        "volumes",
        "timeout",
        "workdir",
        "gpu",
        "cpu",
        "memory",
        "region",
        "cloud",
    }
)
EXEC_PARAMETERS = frozenset({"workdir", "text", "timeout", "env", "secrets"})

_SUPERVISE = """
import os, subprocess, sys
folder, workdir, lifetime, *argv = sys.argv[1:]
try:
    code = subprocess.call(argv, cwd=workdir, timeout=float(lifetime))
except subprocess.TimeoutExpired:
    code = 137
with open(os.path.join(folder, "returncode.part"), "w") as handle:
    handle.write(str(code))
os.replace(os.path.join(folder, "returncode.part"), os.path.join(folder, "returncode"))
"""


class Sandbox:
    def __init__(self, object_id: str) -> None:
        self.object_id = object_id
        self.folder = _root() / "sandboxes" / object_id
        self.filesystem = _Filesystem(self)

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = json.loads((self.folder / "info.json").read_text())
        return info

    def _alive(self) -> None:
        if (self.folder / "returncode").exists():
            raise exception.SandboxTerminatedError(
                f"Sandbox {self.object_id} has finished"
            )

    @staticmethod
    def create(*args: str, **kwargs: Any) -> Sandbox:
        unknown = set(kwargs) - CREATE_PARAMETERS
        if unknown:
            raise TypeError(
                f"create() got unexpected keyword arguments {sorted(unknown)}"
            )
        secrets = kwargs.get("secrets") or []
        _record(
            "Sandbox.create",
            args=list(args),
            app=kwargs["app"].name,
            image=kwargs["image"].chain,
            secrets=[[s.label, sorted(s.env)] for s in secrets],
            volumes={k: v.name for k, v in (kwargs.get("volumes") or {}).items()},
            **{
                k: kwargs[k]
                for k in (
                    "timeout",
                    "workdir",
                    "gpu",
                    "cpu",
                    "memory",
                    "region",
                    "cloud",
                )
                if k in kwargs
            },
        )
        fail = _root() / "fail_create"
        if fail.exists():
            raise exception.Error(fail.read_text().strip())
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root"}
        for secret in secrets:
            if secret.label.startswith("missing:"):
                raise exception.NotFoundError(f"Secret '{secret.label[8:]}' not found")
            env.update(secret.env)
        sandbox = Sandbox("sb-" + _random.token_hex(8))
        root = sandbox.folder / "root"
        workdir = root / str(kwargs.get("workdir") or "/").lstrip("/")
        workdir.mkdir(parents=True)
        for mount, volume in (kwargs.get("volumes") or {}).items():
            source = _root() / "volumes" / volume.name
            if not source.is_dir():
                raise exception.NotFoundError(f"Volume '{volume.name}' not found")
            link = root / str(mount).lstrip("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source)
        (sandbox.folder / "info.json").write_text(
            json.dumps({"env": env, "workdir": str(workdir)})
        )
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _SUPERVISE,
                str(sandbox.folder),
                str(workdir),
                str(kwargs.get("timeout") or 300),
                *args,
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        (sandbox.folder / "pid").write_text(str(process.pid))
        # Reaped in the background: the sandbox is not this process's child to wait for.
        threading.Thread(target=process.wait, daemon=True).start()
        return sandbox

    @staticmethod
    def from_id(sandbox_id: str, client: Any = None) -> Sandbox:
        _record("Sandbox.from_id", sandbox_id=sandbox_id)
        sandbox = Sandbox(sandbox_id)
        if not (sandbox.folder / "info.json").exists():
            raise exception.NotFoundError(f"Sandbox {sandbox_id} not found")
        return sandbox

    def poll(self) -> int | None:
        path = self.folder / "returncode"
        return int(path.read_text()) if path.exists() else None

    @property
    def returncode(self) -> int | None:
        return self.poll()

    def exec(self, *args: str, **kwargs: Any) -> ContainerProcess:
        unknown = set(kwargs) - EXEC_PARAMETERS
        if unknown:
            raise TypeError(
                f"exec() got unexpected keyword arguments {sorted(unknown)}"
            )
        _record(
            "Sandbox.exec",
            sandbox=self.object_id,
            args=list(args),
            workdir=kwargs.get("workdir"),
        )
        self._alive()
        info = self._info()
        workdir = self.folder / "root" / str(kwargs.get("workdir") or "/").lstrip("/")
        streams = self.folder / f"exec-{_random.token_hex(4)}"
        streams.mkdir()
        with (
            open(streams / "stdout", "wb") as out,
            open(streams / "stderr", "wb") as err,
        ):
            process = subprocess.Popen(
                list(args),
                cwd=workdir,
                env=info["env"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        with open(self.folder / "execs", "a") as handle:
            handle.write(f"{process.pid}\n")
        return ContainerProcess(process, streams, bool(kwargs.get("text", True)))

    def terminate(self, *, wait: bool = False) -> int | None:
        _record("Sandbox.terminate", sandbox=self.object_id)
        groups = [int((self.folder / "pid").read_text())]
        if (self.folder / "execs").exists():
            groups += [
                int(line) for line in (self.folder / "execs").read_text().split()
            ]
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        if not (self.folder / "returncode").exists():
            (self.folder / "returncode").write_text("137")
        return self.poll()
