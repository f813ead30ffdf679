"""``runs_on:``, ``inputs:`` and ``outputs:`` as the loader reads them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from goap_engine import lint as lint_module
from goap_engine.errors import InputError
from goap_engine.loader import load
from goap_engine.model import Placement
from goap_engine.planner.relevance import relevant_actions

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


SWITCHED = textwrap.dedent(
    """\
    version: 1
    vars:
      where: ray
      src: src
    state:
      trained: bool
    actions:
      train:
        run: "python train.py"
        runs_on: "{{ where }}"
        inputs: ["{{ src }}/**/*.py", "src/**/*.py", data.csv]
        outputs: ["{{ src }}/model.pt"]
        effects: {trained: true}
    goal: [trained]
    """
)


def _errors(path: Path, **overrides: object) -> list[str]:
    with pytest.raises(InputError) as info:
        load(path, overrides=overrides)
    return [str(d) for d in info.value.diagnostics]


def test_runs_on_and_its_globs_may_be_templates_of_vars(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(SWITCHED)
    placement = load(tmp_path / "g.yaml").action("train").runs_on
    assert placement is not None
    assert placement.executor == "ray"
    # Rendered once, at load; a glob given twice is shipped once.
    assert placement.inputs == ("src/**/*.py", "data.csv")
    assert placement.outputs == ("src/model.pt",)
    assert str(placement.location).endswith("g.yaml:10:14")


def test_a_var_given_at_the_command_line_moves_the_step(tmp_path: Path) -> None:
    # Loaded through the ruleset cache each time: the values given are part of
    # the entry's key, so each load gets the placement of its own values.
    (tmp_path / "g.yaml").write_text(SWITCHED)
    found = []
    for where in ("ray", "local", "modal", "ray"):
        ruleset = load(tmp_path / "g.yaml", overrides={"where": where})
        placement = ruleset.action("train").runs_on
        found.append(None if placement is None else placement.executor)
    assert found == ["ray", None, "modal", "ray"]
    ruleset = load(tmp_path / "g.yaml", overrides={"src": "lib"})
    assert ruleset.action("train").runs_on.inputs[0] == "lib/**/*.py"  # type: ignore[union-attr]


def test_an_unknown_executor_from_a_var_names_template_value_and_var(
    tmp_path: Path,
) -> None:
    (tmp_path / "g.yaml").write_text(SWITCHED)
    assert _errors(tmp_path / "g.yaml", where="rya") == [
        f"{tmp_path / 'g.yaml'}:10:14: error: action 'train': runs_on: "
        "'{{ where }}' is 'rya' (from var where): unknown executor 'rya', "
        "expected one of local, modal, ray (did you mean 'ray'? Others come from "
        "installed packages registering the 'goap_engine.executors' entry point)"
    ]


def test_a_var_that_renders_to_nothing_is_no_executor(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(SWITCHED)
    assert _errors(tmp_path / "g.yaml", where="") == [
        f"{tmp_path / 'g.yaml'}:10:14: error: action 'train': runs_on: "
        "'{{ where }}' is '' (from var where): expected an executor's name, "
        "one of local, modal, ray"
    ]


def test_a_var_holding_a_template_is_text_not_a_template(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(SWITCHED)
    assert _errors(tmp_path / "g.yaml", where="{{ ''.__class__ }}") == [
        f"{tmp_path / 'g.yaml'}:10:14: error: action 'train': runs_on: "
        "'{{ where }}' is \"{{ ''.__class__ }}\" (from var where): unknown "
        "executor \"{{ ''.__class__ }}\", expected one of local, modal, ray "
        "(others come from installed packages registering the "
        "'goap_engine.executors' entry point)"
    ]


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        (
            "{{ trained }}",
            "reads 'trained', which is not a var: a placement is fixed when the "
            "goal is loaded, before any plan, so it may read vars only (give one "
            "with --var NAME=VALUE)",
        ),
        (
            "{{ env.EXECUTOR }}",
            "reads 'env', which is not a var: a placement is fixed when the "
            "goal is loaded, before any plan, so it may read vars only (give one "
            "with --var NAME=VALUE)",
        ),
        (
            "{{ where.__class__.__mro__ }}",
            "template error: access to attribute '__class__' of 'str' object "
            "is unsafe.",
        ),
        (
            "{{ where + }}",
            "template error: unexpected 'end of print statement'",
        ),
    ],
)
def test_runs_on_may_read_vars_only(
    tmp_path: Path, template: str, problem: str
) -> None:
    (tmp_path / "g.yaml").write_text(SWITCHED.replace('"{{ where }}"', repr(template)))
    assert _errors(tmp_path / "g.yaml") == [
        f"{tmp_path / 'g.yaml'}:10:14: error: action 'train': runs_on "
        f"{template!r}: {problem}"
    ]


def test_a_glob_var_may_not_leave_the_workdir(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(SWITCHED)
    assert _errors(tmp_path / "g.yaml", src="../../etc") == [
        f"{tmp_path / 'g.yaml'}:11:14: error: action 'train': input "
        "'{{ src }}/**/*.py' is '../../etc/**/*.py' (from var src): '..' leaves "
        "the goal's workdir",
        f"{tmp_path / 'g.yaml'}:12:15: error: action 'train': output "
        "'{{ src }}/model.pt' is '../../etc/model.pt' (from var src): '..' "
        "leaves the goal's workdir",
    ]


POLICY = textwrap.dedent(
    """\
    version: 1
    vars: {where: ray}
    state:
      trained: bool
      checked: bool
    actions:
      train:
        run: "python train.py"
        runs_on: "{{ where }}"
        effects: {trained: true}
      check:
        run: "true"
        runs_on: {ray: {num_cpus: 1, runtime_env: {pip: [numpy]}}}
        effects: {checked: true}
    goal: [trained, checked]
    policy:
      executors:
        ray: {address: auto, num_cpus: 2, num_gpus: 1}
        modal: {}
    """
)


def test_the_goals_executor_settings_are_each_steps_defaults(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(POLICY)
    ruleset = load(tmp_path / "g.yaml")
    options = {a.name: dict(a.runs_on.options) for a in ruleset.actions if a.runs_on}
    # A step's own settings win key by key.
    assert options == {
        "train": {"address": "auto", "num_cpus": 2, "num_gpus": 1},
        "check": {
            "address": "auto",
            "num_cpus": 1,
            "num_gpus": 1,
            "runtime_env": {"pip": ["numpy"]},
        },
    }
    # The var chooses the executor, and the settings follow it.
    ruleset = load(tmp_path / "g.yaml", overrides={"where": "modal"})
    train = ruleset.action("train").runs_on
    assert train is not None and (train.executor, dict(train.options)) == ("modal", {})


def test_the_goals_executor_settings_are_checked_as_runs_on_is(
    tmp_path: Path,
) -> None:
    (tmp_path / "g.yaml").write_text(
        POLICY.replace("num_gpus: 1}", "num_gpu: 1}").replace("modal: {}", "rya: {}")
    )
    # The schema's ray settings first; the executor's name once they pass.
    assert _errors(tmp_path / "g.yaml") == [
        f"{tmp_path / 'g.yaml'}:18:39: error: policy.executors.ray: unknown key "
        "'num_gpu' (did you mean 'num_gpus'? expected one of: address, num_cpus, "
        "num_gpus, runtime_env)"
    ]
    (tmp_path / "g.yaml").write_text(POLICY.replace("modal: {}", "rya: {}"))
    assert _errors(tmp_path / "g.yaml") == [
        f"{tmp_path / 'g.yaml'}:19:5: error: policy: executors: unknown executor "
        "'rya', expected one of local, modal, ray (did you mean 'ray'? Others come "
        "from installed packages registering the 'goap_engine.executors' entry "
        "point)"
    ]


def test_two_ray_clusters_in_one_goal_are_refused(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(
        POLICY.replace("{num_cpus: 1,", "{address: 'ray://10.1.2.3:10001',")
    )
    assert _errors(tmp_path / "g.yaml") == [
        f"{tmp_path / 'g.yaml'}:13:15: error: action 'check': runs_on: ray address "
        "'ray://10.1.2.3:10001' differs from 'auto', where action 'train' runs "
        f"({tmp_path / 'g.yaml'}:9:14): a run uses one Ray cluster (Ray connects "
        "a process to one)"
    ]
    # Without an address anywhere, both take the default: one cluster.
    (tmp_path / "g.yaml").write_text(POLICY.replace("address: auto, ", ""))
    ruleset = load(tmp_path / "g.yaml")
    assert [a.runs_on.options.get("address") for a in ruleset.actions] == [None, None]  # type: ignore[union-attr]


def test_an_action_a_var_switches_off_is_neither_planned_nor_warned_about(
    tmp_path: Path,
) -> None:
    (tmp_path / "g.yaml").write_text(
        textwrap.dedent(
            """\
            version: 1
            vars: {where: local}
            state:
              trained: bool
            actions:
              train_remotely:
                pre: where != 'local'
                run: "python train.py"
                runs_on: "{{ where }}"
                effects: {trained: true}
                cost: 1
              train:
                run: "python train.py"
                effects: {trained: true}
                cost: 2
              never:
                pre: 1 > 2
                run: "true"
                effects: {trained: true}
            goal: [trained]
            """
        )
    )
    ruleset = load(tmp_path / "g.yaml")
    assert [
        a.name for a in relevant_actions(ruleset, [ruleset.conditions[0].expr])
    ] == ["train"]
    # A precondition false by itself is still a defect worth a warning.
    assert [str(d) for d in lint_module.lint(ruleset)] == [
        f"{tmp_path / 'g.yaml'}:17:10: warning: action 'never': can never be "
        "applied: precondition '1 > 2' can never hold [never-applicable]"
    ]
    ruleset = load(tmp_path / "g.yaml", overrides={"where": "ray"})
    assert [
        a.name for a in relevant_actions(ruleset, [ruleset.conditions[0].expr])
    ] == [
        "train_remotely",
        "train",
    ]


def test_the_goals_modal_settings_are_defaults_checked_as_runs_on_is(
    tmp_path: Path,
) -> None:
    goal = textwrap.dedent(
        """\
        version: 1
        state:
          trained: bool
        actions:
          train:
            run: "python train.py"
            runs_on: {modal: {gpu: T4}}
            effects: {trained: true}
        goal: [trained]
        policy:
          executors:
            modal: {gpu: any, cpu: 2, image: {python: "3.12"}}
        """
    )
    (tmp_path / "g.yaml").write_text(goal)
    placement = load(tmp_path / "g.yaml").action("train").runs_on
    assert placement is not None
    assert dict(placement.options) == {
        "gpu": "T4",
        "cpu": 2,
        "image": {"python": "3.12"},
    }
    (tmp_path / "g.yaml").write_text(goal.replace("{gpu: any,", "{gpus: any,"))
    assert _errors(tmp_path / "g.yaml") == [
        f"{tmp_path / 'g.yaml'}:12:13: error: policy.executors.modal: unknown key "
        "'gpus' (did you mean 'gpu'? expected one of: app, check_timeout, cloud, "
        "cpu, gpu, image, memory, region, secrets, timeout, volumes)"
    ]
