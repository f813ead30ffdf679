"""``runs_on:``, ``inputs:`` and ``outputs:`` as the loader reads them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from goap_engine import lint as lint_module
from goap_engine.loader import load
from goap_engine.model import Placement

GOAL = textwrap.dedent(
    """\
    version: 1
    state:
      trained: bool
    actions:
      train:
        run: "python train.py"
        runs_on: {ray: {address: auto, num_cpus: 2, num_gpus: 0.5}}
        inputs: [train.py, "data/**/*.csv"]
        outputs: [model.pt]
        effects: {trained: true}
      check:
        run: "true"
        runs_on: local
        effects: {trained: true}
    goal: [trained]
    """
)


def test_a_placement_keeps_its_executor_settings_and_globs(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(GOAL)
    ruleset = load(tmp_path / "g.yaml")
    train = ruleset.action("train")
    assert train.runs_on is not None
    assert train.runs_on == Placement(
        "ray",
        {"address": "auto", "num_cpus": 2, "num_gpus": 0.5},
        ("train.py", "data/**/*.csv"),
        ("model.pt",),
        train.runs_on.location,
    )
    assert str(train.runs_on.location).endswith("g.yaml:7:15")
    # 'local' is the default and means no placement at all.
    assert ruleset.action("check").runs_on is None


def test_a_bare_executor_name_takes_its_defaults(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(
        GOAL.replace("{ray: {address: auto, num_cpus: 2, num_gpus: 0.5}}", "ray")
    )
    placement = load(tmp_path / "g.yaml").action("train").runs_on
    assert placement is not None
    assert (placement.executor, dict(placement.options)) == ("ray", {})


def test_validate_names_the_extra_a_step_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "g.yaml").write_text(GOAL)
    ruleset = load(tmp_path / "g.yaml")
    real = lint_module.importlib.util.find_spec

    def without_ray(name: str, *args: object) -> object:
        return None if name == "ray" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(lint_module.importlib.util, "find_spec", without_ray)
    found = [str(d) for d in lint_module.lint(ruleset) if d.severity == "warning"]
    assert found == [
        f"{tmp_path / 'g.yaml'}:7:15: warning: action 'train': runs on ray, which "
        "needs the 'ray' package: pip install 'goap-engine[ray]' "
        "[executor-not-installed]"
    ]
