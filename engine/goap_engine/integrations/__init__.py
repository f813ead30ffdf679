"""Built-in hooks and sensors: one module per service, each library imported lazily.

A built-in is a function ``fn(ctx: HookContext) -> value``: sensors return the
variable's value, actions return anything but ``False`` on success and raise
``IntegrationError`` (or return ``False``) on failure.  Libraries are imported
inside the functions through ``require`` so that ``validate`` and ``plan`` never
pay for them, and a missing extra says exactly what to install.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from ..executor.context import HookContext, HookError, NoVerdict

EXTRA_OF = {
    "git": "git",
    "github": "github",
    "huggingface_hub": "hf",
    "mlflow": "mlflow",
    "modal": "modal",
}


class IntegrationError(HookError):
    """A built-in hook failed; the message says why and what to do."""


class ServiceUnreadable(IntegrationError, NoVerdict):
    """A service could not be reached or read: the step fails without a verdict.

    A bad token, a missing permission, an outage, a timeout or a rate limit
    beyond the call's bound: the action's ``on_failure`` does not apply.
    """


def require(module: str) -> ModuleType:
    """Import ``module`` or fail with the ``pip install`` line that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRA_OF.get(module.split(".")[0], "all")
        raise IntegrationError(
            f"this hook needs the '{module}' library: "
            f"pip install 'goap-engine[{extra}]'"
        ) from None


def check_inside(ctx: HookContext, path: Path, label: str, written: str) -> None:
    """Refuse a path a built-in writes (built from a template) outside the project.

    ``label`` names the argument and ``written`` what is written there, for
    the message: "output ... is outside the project; documents are written
    only inside it".
    """
    from ..errors import FileError
    from ..files import is_inside, resolved

    if ctx.extra.get("allow_outside"):
        return
    project = Path(str(ctx.extra.get("project") or resolved(ctx.workdir)))
    try:
        inside = is_inside(path, project)
    except FileError as exc:
        raise IntegrationError(f"cannot write {path}: {exc.reason}") from None
    if not inside:
        raise IntegrationError(
            f"{label} {path} is outside the project {project}; "
            f"{written} only inside it unless "
            "'policy: {allow_outside: true}' in the goal allows it"
        )
