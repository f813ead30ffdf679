"""Where the executor finds a built-in's function: the language layer's registry.

The registry (``goap_engine.language.builtins``) names each built-in's
``module:function`` so that ``validate`` and ``plan`` can check a hook without
importing git, GitHub, Hugging Face, MLflow or Modal libraries; this module
only turns a name into that target.  Other packages add built-ins through the
``goap_engine.builtins`` entry-point group.
"""

from __future__ import annotations

from ..language.builtins import BUILTINS as REGISTRY
from ..language.builtins import target_of

BUILTINS: dict[str, str] = {name: b.target for name, b in REGISTRY.items()}
"""The shipped built-ins' ``module:function`` targets, by name."""

__all__ = ["BUILTINS", "target_of"]
