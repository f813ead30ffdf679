"""A model card whose ``model-index`` holds the evaluation metrics.

The Hub shows a card's ``model-index`` as the model's evaluation results (and
on leaderboards); writing it from the same report the validation gates read
keeps what the Hub shows equal to what was checked.  The card is built the
same way from the same inputs every time, so sensing ``hf.uploaded`` sees it
as unchanged until the metrics or the card change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from . import IntegrationError


def read_metrics(path: Path, shown: str) -> dict[str, float]:
    """Return the numeric metrics of a JSON report; nested keys are dotted."""
    # is_file: a FIFO or a device would block the read or never end.
    if not path.is_file():
        raise IntegrationError(
            f"metrics report '{shown}' does not exist or is not a regular file"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise IntegrationError(
            f"cannot read metrics report '{shown}': nested too deeply"
        ) from None
    except (OSError, ValueError) as exc:
        raise IntegrationError(f"cannot read metrics report '{shown}': {exc}") from None
    metrics: dict[str, float] = {}

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, f"{prefix}{key}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            metrics[prefix[:-1]] = value

    walk(data, "")
    if not metrics:
        raise IntegrationError(
            f"metrics report '{shown}' holds no number: expected a JSON object "
            'such as {"accuracy": 0.93}'
        )
    return metrics


def _split(text: str) -> tuple[dict[str, Any], str]:
    """Return a card's front matter (parsed) and its body."""
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---", 3)
    if end < 0:
        raise IntegrationError("the model card's front matter has no closing '---'")
    try:
        data = yaml.safe_load(text[4:end]) or {}
    except yaml.YAMLError as exc:
        raise IntegrationError(
            f"the model card's front matter is not YAML: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise IntegrationError("the model card's front matter must be a mapping")
    return data, text[end + 4 :].lstrip("\n")


def card_with_metrics(
    base: str | None,
    metrics: Mapping[str, float],
    *,
    model_name: str,
    task: Any,
    dataset: str,
) -> bytes:
    """Return the card ``base`` (or a new one) with ``metrics`` as its results.

    ``task`` and ``dataset`` name what the metrics were measured on, as the
    Hub's ``model-index`` requires; a card's ``pipeline_tag`` is the task when
    ``task`` is unset.
    """
    front, body = _split(base or "")
    task = str(task or front.get("pipeline_tag") or "other")
    front["model-index"] = [
        {
            "name": model_name,
            "results": [
                {
                    "task": {"type": task},
                    "dataset": {"name": dataset, "type": dataset},
                    "metrics": [
                        {"type": name, "value": value, "name": name}
                        for name, value in sorted(metrics.items())
                    ],
                }
            ],
        }
    ]
    if not body.strip():
        rows = "".join(f"| {k} | {v:g} |\n" for k, v in sorted(metrics.items()))
        body = (
            f"# {model_name}\n\n## Evaluation\n\nMeasured on {dataset}:\n\n"
            f"| metric | value |\n|---|---|\n{rows}"
        )
    matter = yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
    return f"---\n{matter}---\n\n{body}".encode()
