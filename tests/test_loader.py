"""Loading: the seed, located errors, imports, vars and the public model."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import goap_engine
from goap_engine import InputError, load
from goap_engine.lint import lint
from goap_engine.loader import load_with_diagnostics, parse_duration
from goap_engine.validate import validate_paths

ROOT = Path(__file__).resolve().parents[1]


def test_seed_production_goal_loads() -> None:
    ruleset = load(ROOT / "goals.d" / "production.yaml")
    seed_ids = [f"A{i:02d}" for i in range(1, 16)]
    alternatives = ["A01L", "A03W", "A08P", "A09C", "A09L", "A12L"]
    assert sorted(a.id for a in ruleset.actions) == sorted(seed_ids + alternatives)
    costs = {
        a.id: a.cost.const
        for a in ruleset.actions
        if a.cost is not None and a.id in seed_ids
    }
    assert costs == {
        "A01": 5, "A02": 3, "A03": 4, "A04": 2, "A05": 2, "A06": 2, "A07": 2,
        "A08": 3, "A09": 1, "A10": 10, "A11": 5, "A12": 5, "A13": 8, "A14": 2,
        "A15": 3,
    }  # fmt: skip
    assert [g.name for g in ruleset.subgoals] == [
        "Code validation",
        "Git branch management",
        "CI/CD monitoring",
        "Model deployment",
        "Documentation",
    ]
    assert ruleset.state_file == ROOT / "plans" / "deployment_state.json"
    assert ruleset.workdir == ROOT
    assert ruleset.var("commits_made").maximum == 10
    assert [d for d in lint(ruleset) if d.severity == "error"] == []


def test_faithful_seed_defects_are_reported() -> None:
    diagnostics, _ = validate_paths([ROOT / "tests/data/seed_faithful/production.yaml"])
    text = "\n".join(str(d) for d in diagnostics)
    assert (
        "39:68: error: action 'monitor_ci_status': effect on undeclared state "
        "variable 'ci_status_known'" in text
    )
    assert (
        "48:34: error: action 'update_goap_md': precondition 'Any': unknown name"
        " 'Any'" in text
    )
    assert "49:33: error: action 'complete_adrs': precondition 'Any'" in text
    assert "condition 'ci_pipeline_passed' can never be reached" in text
    assert "ci_pipeline_passed is never set by an action nor sensed" in text


def test_all_errors_reported_together(write) -> None:
    path = write(
        "goal.yaml",
        "version: 1\nstate: {n: int}\nactions:\n"
        "  a: {pre: n > 'x', effects: {m: 1}}\n"
        "  b: {pre: nope, cost: 1}\n"
        "goal: [n > 0]\n",
    )
    _, diagnostics = load_with_diagnostics(path)
    messages = [d.message for d in diagnostics]
    assert any("cannot compare int with str" in m for m in messages)
    assert any("undeclared state variable 'm'" in m for m in messages)
    assert any("unknown name 'nope'" in m for m in messages)
    with pytest.raises(InputError) as info:
        load(path)
    assert len(info.value.diagnostics) == 3


def test_expression_error_points_inside_the_expression(write) -> None:
    path = write(
        "goal.yaml",
        'version: 1\nstate: {n: int}\nactions:\n  a:\n    pre: "n > 1 and m"\n'
        "    effects: {n: n + 1}\ngoal: n > 0\n",
    )
    _, diagnostics = load_with_diagnostics(path)
    assert str(diagnostics[0]).endswith(
        "goal.yaml:5:21: error: action 'a': precondition 'n > 1 and m': "
        "unknown name 'm'"
    )


def test_imports_vars_and_folder(write) -> None:
    write(
        "packs/one.yaml",
        "version: 1\nvars: {limit: 2, branch: main}\nstate: {n: {type: int, max: 5}}\n"
        "actions:\n  inc: {pre: n < limit, effects: {n: n + 1},\n"
        "        run: 'echo {{ branch }}'}\n",
    )
    write(
        "packs/two.yaml",
        "version: 1\nstate: {done: bool}\n"
        "actions:\n  fin: {pre: n >= limit, effects: {done: true}}\n",
    )
    goal = write(
        "goals.d/g.yaml", "version: 1\nuses: [../packs]\nvars: {limit: 3}\ngoal: done\n"
    )
    ruleset = load(goal)
    assert ruleset.vars["limit"] == 3
    assert [p.name for p in ruleset.packs] == ["one", "two", "g"]
    plan = goap_engine.find_plan(ruleset)
    assert [s.action.name for s in plan.steps] == ["inc", "inc", "inc", "fin"]
    assert ruleset.workdir == goal.parent.parent


def test_import_cycle_is_reported(write) -> None:
    write("a.yaml", "version: 1\nuses: [b.yaml]\n")
    write("b.yaml", "version: 1\nuses: [a.yaml]\n")
    goal = write(
        "goal.yaml",
        "version: 1\nuses: [a.yaml]\nstate: {x: bool}\n"
        "actions: {s: {effects: {x: true}}}\ngoal: x\n",
    )
    _, diagnostics = load_with_diagnostics(goal)
    assert any(
        "import cycle: goal.yaml -> a.yaml -> b.yaml -> a.yaml" in str(d)
        for d in diagnostics
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("1h30m", 5400),
        ("250ms", 0.25),
        (12, 12),
        ("1d", 86400),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_schemas_are_valid_draft7_with_descriptions() -> None:
    for name in ("pack", "goal"):
        schema = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        assert schema["$id"].endswith(f"/{name}.schema.json")

        def walk(node: object, where: str) -> None:
            if isinstance(node, dict):
                for key, sub in (node.get("properties") or {}).items():
                    assert "description" in sub or "$ref" in sub, f"{where}.{key}"
                for key, sub in node.items():
                    # A rule between keys (if/then, not) names properties that
                    # are described where they are declared.
                    if key not in ("if", "then", "not"):
                        walk(sub, f"{where}.{key}")
            elif isinstance(node, list):
                for i, sub in enumerate(node):
                    walk(sub, f"{where}[{i}]")

        walk(schema, name)


def test_public_api_is_complete() -> None:
    import pkgutil

    exported = set(goap_engine.__all__)
    public = {n for n in dir(goap_engine) if not n.startswith("_")}
    modules = {m.name for m in pkgutil.iter_modules(goap_engine.__path__)}
    assert public - modules - exported - {"annotations"} == set()
    for name in exported:
        assert hasattr(goap_engine, name)


def test_namespaces_resolve_name_clashes(write) -> None:
    for pack in ("lint", "types"):
        write(
            f"packs/{pack}.yaml",
            "version: 1\nstate: {done: bool, ready: bool}\n"
            "actions:\n  validate: {pre: ready, effects: {done: true}}\n"
            "  prepare: {effects: {ready: true}}\n",
        )
    goal = write(
        "goal.yaml",
        "version: 1\nuses: [packs/lint.yaml, packs/types.yaml]\n"
        "goal: [lint.done, types.done]\n",
    )
    ruleset = load(goal)
    assert sorted(v.name for v in ruleset.variables) == [
        "lint.done", "lint.ready", "types.done", "types.ready",
    ]  # fmt: skip
    names = sorted(a.name for a in ruleset.actions)
    assert names == ["lint.prepare", "lint.validate", "types.prepare", "types.validate"]
    validate = ruleset.action("lint.validate")
    assert validate.pre[0].reads == {"lint.ready"}
    plan = goap_engine.find_plan(ruleset)
    assert len(plan.steps) == 4


def test_ambiguous_short_name_is_explained(write) -> None:
    for pack in ("lint", "types"):
        write(f"packs/{pack}.yaml", "version: 1\nstate: {done: bool}\n")
    goal = write(
        "goal.yaml",
        "version: 1\nuses: [packs]\nactions: {x: {effects: {lint.done: true}}}\n"
        "goal: [done]\n",
    )
    _, diagnostics = load_with_diagnostics(goal)
    text = "\n".join(str(d) for d in diagnostics)
    assert (
        "'done' is declared by the packs lint, types: write lint.done or types.done"
        in text
    )
    assert "effect" not in text


def test_goal_overrides_cost_hook_and_disables(write) -> None:
    write(
        "packs/ci.yaml",
        "version: 1\nstate: {green: bool}\nactions:\n"
        "  remote_ci: {effects: {green: true}, cost: 1, run: gh run watch}\n"
        "  local_ci: {effects: {green: true}, cost: 9, run: pytest}\n",
    )
    goal = write(
        "goal.yaml",
        "version: 1\nuses: [packs/ci.yaml]\ngoal: green\n"
        "overrides:\n  remote_ci: {disabled: true}\n"
        "  local_ci: {cost: 2, run: make test, duration: 30s}\n",
    )
    ruleset = load(goal)
    assert [a.name for a in ruleset.actions] == ["local_ci"]
    local = ruleset.action("local_ci")
    assert local.cost is not None and local.cost.const == 2
    assert local.hook is not None and local.hook.target == "make test"
    assert local.duration == 30


def test_override_of_unknown_action_is_located(write) -> None:
    goal = write(
        "goal.yaml",
        "version: 1\nstate: {a: bool}\nactions: {x: {effects: {a: true}}}\ngoal: a\n"
        "overrides:\n  nope: {cost: 1}\n",
    )
    _, diagnostics = load_with_diagnostics(goal)
    assert any(
        str(d).endswith(
            "goal.yaml:6:3: error: overrides: override of 'nope': no action "
            "of that name"
        )
        for d in diagnostics
    )


def test_enum_effects_from_expressions(write) -> None:
    base = (
        "version: 1\nstate:\n  stage: {type: enum, values: [dev, prod]}\n"
        "  other: {type: enum, values: [dev, prod]}\n  flag: bool\n"
        "actions:\n  a: {effects: {stage: EXPR}}\ngoal: [stage == 'prod']\n"
    )
    conditional = """{expr: "'prod' if flag else 'dev'"}"""
    for expr in (conditional, "{expr: other}"):
        load(write("ok.yaml", base.replace("EXPR", expr)))
    bad = base.replace("EXPR", conditional.replace("'dev'", "'qa'"))
    _, diagnostics = load_with_diagnostics(write("bad.yaml", bad))
    assert any("'qa' is not one of dev, prod" in str(d) for d in diagnostics)


def test_a_key_holding_a_mapping_is_invalid_yaml(write) -> None:
    path = write("g.yaml", "version: 1\nvars:\n  ? [a, {b: 1}]\n  : 1\n")
    ruleset, diagnostics = load_with_diagnostics(path)
    assert ruleset is None
    assert [(d.location.line, d.location.col) for d in diagnostics] == [(3, 9)]
    assert diagnostics[0].message == "invalid YAML: a mapping as a key"
