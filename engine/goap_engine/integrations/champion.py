"""The champion a validation gate compares with: the run behind an MLflow alias.

::

    builtin: validation.gates
    with:
      report: reports/evaluation.json
      gates: {accuracy: ">= champion - 0.01", latency_ms: "<= champion * 1.1"}
      champion: {model: cats, alias: champion, if_missing: pass}

``champion`` in a condition stands for the champion's value of the same
metric: the metric of that name in the run behind the version that ``alias``
(default ``champion``) of the registered ``model`` points at; ``+``, ``-`` or
``*`` and a number may follow.  Without such a version (the first release),
every gate against the champion passes (``if_missing: pass``, the default)
or fails (``if_missing: fail``), and says so.  ``tracking_uri`` and the
bounds ``http_timeout``, ``retries``, ``max_wait`` are those of the
``mlflow.*`` built-ins; the champion is looked up once per call.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..executor.hooks import HookContext
from . import IntegrationError

KEYS = (
    "model",
    "alias",
    "tracking_uri",
    "if_missing",
    "http_timeout",
    "retries",
    "max_wait",
)
DEFAULT_ALIAS = "champion"
_RELATIVE = re.compile(
    r"^champion\s*(?:([-+*])\s*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+))?$", re.I
)
_APPLY: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}


def relative(text: str) -> tuple[str, float] | None:
    """Return (operator, operand) of ``champion [+-*] N``; None for anything else."""
    match = _RELATIVE.match(text.strip())
    if match is None:
        return None
    return match.group(1) or "+", float(match.group(2) or 0)


def mentions(text: Any) -> bool:
    """Return whether a gate's condition compares with the champion."""
    return isinstance(text, str) and "champion" in text.lower()


def apply(how: tuple[str, float], value: float) -> float:
    """Return the champion's ``value`` moved as the condition says."""
    op, operand = how
    return _APPLY[op](value, operand)


@dataclass(frozen=True, slots=True)
class Found:
    """The champion's version and its run's metrics."""

    label: str
    metrics: Mapping[str, float]


class Champion:
    """The ``champion:`` of a ``validation.gates`` call, looked up at most once."""

    def __init__(self, ctx: HookContext, spec: Any) -> None:
        if not isinstance(spec, Mapping) or not spec.get("model"):
            raise IntegrationError(
                "a gate compares with the champion: add "
                "'champion: {model: NAME}' (the registered MLflow model)"
            )
        unknown = sorted(str(k) for k in spec if k not in KEYS)
        if unknown:
            raise IntegrationError(
                f"champion: unknown key '{unknown[0]}'; expected {', '.join(KEYS)}"
            )
        self.if_missing = str(spec.get("if_missing") or "pass")
        if self.if_missing not in ("pass", "fail"):
            raise IntegrationError(
                f"champion: if_missing must be pass or fail, not '{self.if_missing}'"
            )
        self.ctx = ctx
        self.spec = spec
        self.model = str(spec["model"])
        self.alias = str(spec.get("alias") or DEFAULT_ALIAS)
        self._found: Found | None = None
        self._looked = False

    @property
    def named(self) -> str:
        return f"'{self.model}'@{self.alias}"

    def find(self) -> Found | None:
        """Return the champion, or None when no version holds the alias."""
        if not self._looked:
            self._found = self._lookup()
            self._looked = True
        return self._found

    def _lookup(self) -> Found | None:
        from .mlflow import client_for, error, local_environment, tracking_uri
        from .mlflow_http import bounded, bounds_of

        ctx = HookContext(
            args={"tracking_uri": self.spec.get("tracking_uri")},
            vars={},
            state={},
            workdir=self.ctx.workdir,
            env=self.ctx.env,
            log=self.ctx.log,
        )
        uri = tracking_uri(ctx)
        if _no_local_store(uri):
            # No store yet, so no champion: asking MLflow would create the
            # store (seconds of migrations) in the project, from a sensor.
            return None
        bounds = bounds_of(self.spec)
        try:
            with bounded({**self.ctx.env, **local_environment(uri)}, bounds):
                client = client_for(uri)
                try:
                    model = client.get_registered_model(self.model)
                except Exception as exc:
                    if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                        return None
                    raise
                version = dict(model.aliases or {}).get(self.alias)
                if version is None:
                    return None
                run_id = client.get_model_version(self.model, str(version)).run_id
                metrics = dict(client.get_run(run_id).data.metrics) if run_id else {}
        except IntegrationError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported with its cause
            raise error(
                f"reading the champion {self.named}", exc, bounds, uri
            ) from None
        return Found(f"{self.named} is version {version}", metrics)


def _no_local_store(uri: str) -> bool:
    """Return whether ``uri`` is a local store that does not exist yet."""
    from urllib.parse import unquote, urlsplit

    if uri.startswith("sqlite:///"):
        return not Path(uri[len("sqlite:///") :]).exists()
    if uri.startswith("file:"):
        return not Path(unquote(urlsplit(uri).path)).exists()
    return False
