"""Built-in hooks and sensors: one module per service, each library imported lazily.

A built-in is a function ``fn(ctx: HookContext) -> value``: sensors return the
variable's value, actions return anything but ``False`` on success and raise
``IntegrationError`` (or return ``False``) on failure.  Libraries are imported
inside the functions through ``require`` so that ``validate`` and ``plan`` never
pay for them, and a missing extra says exactly what to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..executor.context import HookError

EXTRA_OF = {
    "git": "git",
    "github": "github",
    "huggingface_hub": "hf",
    "mlflow": "mlflow",
    "modal": "modal",
}


class IntegrationError(HookError):
    """A built-in hook failed; the message says why and what to do."""


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
