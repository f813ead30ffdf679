"""What a python or built-in hook receives, and how it is found and called.

Kept free of the engine's heavier modules: the hook worker process imports only
this to serve calls.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .builtins import target_of
from .redaction import Redactor


@dataclass
class Outcome:
    """What running a hook gave: success, exit code, output, value, timing."""

    ok: bool
    exit_code: int | None = None
    output: str = ""
    value: Any = None
    message: str = ""
    seconds: float = 0.0
    timed_out: bool = False
    interrupted: bool = False
    oversize: bool = False
    # False when the hook could not learn how things stand (see NoVerdict):
    # the step failed, but not in the way ``on_failure`` describes.
    verdict: bool = True


class Hidden(Mapping[str, Any]):
    """A read-only mapping whose printed form hides secret values.

    A hook that prints its context, or its environment, to see what it got
    must not put the secrets in it into a log.
    """

    def __init__(self, data: Mapping[str, Any], redact: Redactor) -> None:
        self._data = data
        self._redact = redact

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return self._redact(repr(dict(self._data)))


@dataclass(repr=False)
class HookContext:
    """What a python or built-in hook receives.

    ``args`` are the hook's rendered ``with:`` arguments; ``vars`` and
    ``state`` the goal's variables and the state as the step starts; ``log``
    writes a line to the step's output.  ``secrets`` are the values to hide:
    the context, and its mappings, print without them, and ``redact`` hides
    them in any text a hook is about to send somewhere.
    """

    args: Mapping[str, Any]
    vars: Mapping[str, Any]
    state: Mapping[str, Any]
    workdir: Path
    env: Mapping[str, str]
    log: Callable[[str], None]
    action: str = ""
    timeout: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.redact = Redactor(self.secrets)
        self.args = Hidden(self.args, self.redact)
        self.vars = Hidden(self.vars, self.redact)
        self.state = Hidden(self.state, self.redact)
        self.env = Hidden(self.env, self.redact)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("action", "args", "vars", "state", "workdir", "env")
        )
        return self.redact(f"HookContext({shown})")


class HookError(Exception):
    """A hook could not be prepared (template, import); reported as a failure."""


class NoVerdict(HookError):
    """The hook could not learn the outcome: a service could not be read.

    A bad token, a missing permission, an outage or a timeout says nothing
    about the work the action judges (a red CI is a verdict; an unreadable
    one is not), so the step fails without its ``on_failure`` effects.
    """


EXTRAS = {
    "git": "git",
    "github": "github",
    "huggingface_hub": "hf",
    "mlflow": "mlflow",
    "modal": "modal",
}


def callable_spec(kind: str, target: str) -> str:
    """Return ``module:function`` for a python hook or a built-in's name."""
    if kind != "builtin":
        return target
    spec = target_of(target)
    if spec is None:
        raise HookError(f"unknown built-in '{target}'")
    return spec


def resolve_callable(kind: str, target: str) -> Callable[[HookContext], Any]:
    """Return the function behind a python (``module:function``) or built-in hook."""
    spec = callable_spec(kind, target)
    module_name, _, name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HookError(_import_message(module_name, exc)) from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise HookError(f"'{spec}': module has no function '{name}'")
    return fn  # type: ignore[no-any-return]


def _import_message(module: str, exc: ImportError) -> str:
    missing = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(missing)
    if extra:
        return (
            f"this hook needs the '{missing}' library: "
            f"pip install 'goap-engine[{extra}]'"
        )
    return f"cannot import '{module}': {exc}"


def call_python(fn: Callable[[HookContext], Any], context: HookContext) -> Outcome:
    """Call a python/built-in hook in this process; an exception or False fails.

    The engine runs hooks in a worker process (see ``worker``) so they can be
    bounded and killed; this is the call that process makes.
    """
    began = time.monotonic()
    try:
        value = fn(context)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - a hook's failure is an outcome
        return Outcome(
            False,
            None,
            message=f"{type(exc).__name__}: {exc}",
            seconds=time.monotonic() - began,
            verdict=not isinstance(exc, NoVerdict),
        )
    ok = value is not False
    return Outcome(
        ok,
        None,
        value=value,
        message="" if ok else "returned False",
        seconds=time.monotonic() - began,
    )
