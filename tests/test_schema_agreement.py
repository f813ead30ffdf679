"""The JSON Schemas refuse what ``validate`` refuses, wherever a schema can say it.

An editor checks files with the printed schemas (``goap-engine schema goal``)
and a plain JSON Schema validator; ``validate`` checks them with the schemas
and then the language.  Both run here over every case of tests/data/invalid/
and every valid goal and pack of the repository, with jsonschema's Draft 7
validator (what the schemas declare) and its Draft 2020-12 one (what newer
editors use), and must agree: a file either refuses, ``validate`` refuses, and
every case ``validate`` refuses but the schemas accept is listed below with the
reason a schema cannot state, so the list cannot grow unnoticed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import jsonschema
import pytest

from goap_engine import load
from goap_engine.documents import read_document, schema_text
from goap_engine.validate import validate_paths

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "invalid"
VALID_GOALS = (
    ROOT / "goals.d" / "production.yaml",
    ROOT / "examples" / "tiny-cats" / "goals.d" / "production.yaml",
)
SHIPPED_PACKS = ROOT / "engine" / "goap_engine" / "packs"
DRAFTS = (jsonschema.Draft7Validator, jsonschema.Draft202012Validator)

_UNREADABLE = "not YAML data (syntax, encoding, tags, top level): no schema sees it"
_EXPRESSION = "an expression is a language inside a string; its names and types"
_NAMES = "a name declared elsewhere (state, vars, other files, built-ins)"
_VALUES = "compares values with each other (JSON Schema compares with constants)"
_FILES = "a matter of other files (what 'uses:' finds), not of this document"
_PLANNING = "found by planning over the whole ruleset"

# Cases validate refuses and the schemas accept, with why no schema refuses them.
ONLY_VALIDATE: dict[str, str] = {
    **dict.fromkeys(
        [
            "cost_infinite",  # .inf and .nan: JSON has no such numbers
            "cost_nan",
            "duration_infinite",
            "empty",
            "int_bound_infinite",
            "not_utf8",
            "only_comment",
            "top_level_list",
            "top_level_null",
            "top_level_scalar",
            "yaml_alias_bomb",
            "yaml_bad_indent",
            "yaml_duplicate_key",
            "yaml_python_tag",
            "yaml_tab",
            "yaml_tab_in_list",
            "yaml_unclosed_brace",
            "yaml_unclosed_bracket",
            "yaml_unclosed_bracket_at_end",
            "yaml_unclosed_quote",
            "yaml_unclosed_single_quote",
            "yaml_unknown_tag",
            "yaml_unquoted_template",
            "yaml_unquoted_template_text",
        ],
        _UNREADABLE,
    ),
    **dict.fromkeys(
        [
            "attack_comprehension",
            "attack_dunder_import",
            "attack_dunder_import_call",
            "attack_fstring",
            "attack_lambda",
            "attack_long_string",
            "attack_name_class",
            "attack_nested_parens",
            "attack_open",
            "attack_power",
            "attack_string_repeat",
            "attack_subscript",
            "attack_tuple_class",
            "attack_walrus",
            "bool_ordered",
            "compare_int_with_str",
            "cost_bool_expression",
            "cost_negative_expression",
            "cost_too_large_expression",
            "cost_unknown_name",
            "cwd_template_unknown_name",
            "effect_type_mismatch",
            "enum_effect_from_str",
            "enum_literal_in_condition",
            "expr_complex_power",
            "expr_float_literal_overflow",
            "expr_float_power_overflow",
            "expr_huge_int_result",
            "expr_lone_surrogate",
            "not_applied_to_int",
            "override_cost_negative",
            "override_cost_string",
            "precondition_not_boolean",
            "template_syntax_error",
            "template_unknown_name",
            "undefined_name_effect",
            "undefined_name_goal",
            "undefined_name_precondition",
            "wait_until_not_boolean",
        ],
        _EXPRESSION,
    ),
    **dict.fromkeys(
        [
            "duplicate_action_id",
            "effect_misspelt_variable",
            "effect_undeclared_variable",
            "enum_literal_in_effect",
            "same_action_same_namespace",
            "same_state_same_namespace",
            "same_state_two_packs",
            "var_shadows_state",
            # Installed packages add built-ins (entry points), so the set of
            # names is open; a built-in's arguments depend on which one it is.
            "unknown_builtin",
            "builtin_argument_missing",
            "builtin_argument_typo",
            "builtin_argument_wrong_type",
            "builtin_bound_negative",
        ],
        _NAMES,
    ),
    **dict.fromkeys(
        [
            "default_out_of_bounds",
            "effect_out_of_bounds",
            "enum_default_not_a_value",
            "min_greater_than_max",
        ],
        _VALUES,
    ),
    # JSON Schema's "integer" is any number without a fraction, 1.0 included.
    "default_int_written_as_float": "JSON Schema counts 1.0 as an integer",
    # A pattern could refuse these globs, but only validate knows the workdir
    # and how the glob is matched; the schemas describe a source as a glob.
    "sources_bad_glob": "what a glob may hold is the matcher's rule",
    "sources_outside_workdir": "what a glob may hold is the matcher's rule",
    "runs_on_output_leaves_workdir": "what a glob may hold is the matcher's rule",
    "runs_on_unknown_executor": "executors come from installed packages",
    "policy_executors_unknown_executor": "executors come from installed packages",
    # The schema sees the template, not what the vars render it to.
    "runs_on_template_unknown_executor": _NAMES,
    "runs_on_template_reads_state": _NAMES,
    "runs_on_two_ray_clusters": _VALUES,
    # A schema could tie runs_on to the hook's kind, but the rule is the
    # executor layer's (a command can move, the engine's worker cannot).
    "runs_on_python_hook": "which hooks can run elsewhere is the executors' rule",
    "runs_on_with_cwd": "which hooks can run elsewhere is the executors' rule",
    **dict.fromkeys(
        ["import_cycle", "missing_import", "uses_folder_without_yaml"], _FILES
    ),
    "uses_unknown_shipped_pack": _NAMES,
    "goal_unreachable": _PLANNING,
}


def corpus_cases() -> list[Path]:
    files = sorted(CORPUS.glob("*.yaml"))
    folders = sorted(p / "goal.yaml" for p in CORPUS.iterdir() if p.is_dir())
    return files + folders


def case_id(path: Path) -> str:
    return path.parent.name if path.name == "goal.yaml" else path.stem


@cache
def validators(name: str) -> tuple[jsonschema.protocols.Validator, ...]:
    """Return the printed schema ``name`` under each draft, as an editor loads it."""
    schema = json.loads(schema_text(name))
    return tuple(draft(schema) for draft in DRAFTS)


def case_files(case: Path) -> Iterator[tuple[Path, str]]:
    """Yield each file of a case with the schema it is read against."""
    doc, _ = read_document(case)
    yield case, "goal" if doc is not None and "goal" in doc.data else "pack"
    if case.name == "goal.yaml":
        # What a goal uses is read as a pack, whatever keys it holds.
        for path in sorted(case.parent.rglob("*")):
            if path.suffix in (".yaml", ".yml") and path != case:
                yield path, "pack"


def schema_refuses(path: Path, name: str) -> bool | None:
    """Return whether both drafts refuse ``path``; None if it is no YAML data.

    Fails when the drafts disagree: the schemas must mean the same in both.
    """
    doc, _ = read_document(path)
    if doc is None:
        return None
    verdicts = {
        draft.__class__.__name__: any(True for _ in draft.iter_errors(doc.data))
        for draft in validators(name)
    }
    assert len(set(verdicts.values())) == 1, (path, verdicts)
    return next(iter(verdicts.values()))


def validate_refuses(path: Path, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.chdir(path.parent)
    diagnostics, _ = validate_paths([path])
    return any(d.severity == "error" for d in diagnostics)


@pytest.mark.parametrize("case", corpus_cases(), ids=case_id)
def test_schema_and_validate_agree_on_the_invalid_corpus(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = [schema_refuses(path, name) for path, name in case_files(case)]
    # Whatever the schemas refuse, validate refuses (it runs them first).
    assert validate_refuses(case, monkeypatch)
    if any(refused):
        assert case_id(case) not in ONLY_VALIDATE, "the schemas refuse it now"
    else:
        assert case_id(case) in ONLY_VALIDATE, "refused by validate only"
        if None in refused:
            assert ONLY_VALIDATE[case_id(case)] == _UNREADABLE


def test_only_validate_names_existing_cases() -> None:
    # A renamed or removed case must take its excuse with it.
    assert set(ONLY_VALIDATE) - {case_id(p) for p in corpus_cases()} == set()


def test_the_schemas_refuse_most_of_the_corpus_that_is_about_structure() -> None:
    structural = [p for p in corpus_cases() if case_id(p) not in ONLY_VALIDATE]
    assert len(structural) >= 45


@pytest.mark.parametrize("goal", VALID_GOALS, ids=lambda p: str(p.relative_to(ROOT)))
def test_valid_goals_and_every_file_they_use_pass_both(
    goal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not validate_refuses(goal, monkeypatch)
    ruleset = load(goal)
    files = {goal.resolve()} | {pack.path.resolve() for pack in ruleset.packs}
    for path in sorted(files):
        name = "goal" if path == goal.resolve() else "pack"
        assert schema_refuses(path, name) is False, path


def test_every_shipped_pack_is_checked_by_a_valid_goal() -> None:
    used = {pack.path.resolve() for goal in VALID_GOALS for pack in load(goal).packs}
    assert {p.resolve() for p in SHIPPED_PACKS.glob("*.yaml")} <= used


def test_a_faithful_seed_with_defects_is_refused_by_validate_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its defects are unknown names: the schemas accept it, validate does not."""
    seed = ROOT / "tests" / "data" / "seed_faithful" / "production.yaml"
    assert schema_refuses(seed, "goal") is False
    assert validate_refuses(seed, monkeypatch)


def _rules(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if "errorMessage" in node:
            yield node["errorMessage"]
        for sub in node.values():
            yield from _rules(sub)
    elif isinstance(node, list):
        for sub in node:
            yield from _rules(sub)


def _broken_rules(errors: Iterator[jsonschema.ValidationError]) -> Iterator[str]:
    for error in errors:
        if "errorMessage" in error.schema:
            yield error.schema["errorMessage"]
        yield from _broken_rules(iter(error.context or ()))


def test_every_rule_between_keys_has_a_corpus_case() -> None:
    """Each rule the schemas state between keys refuses at least one case."""
    stated = set(_rules(json.loads(schema_text("goal"))))
    broken: set[str] = set()
    for case in corpus_cases():
        for path, name in case_files(case):
            doc, _ = read_document(path)
            if doc is not None:
                draft7 = validators(name)[0]
                broken.update(_broken_rules(draft7.iter_errors(doc.data)))
    assert len(stated) >= 12
    assert stated - broken == set()


@pytest.mark.parametrize(
    ("var", "expected"),
    [
        # The rule is left to the language check: no schema message at all.
        ("{type: bool, remember: 0s}", []),
        ("{type: enum}", []),
        # Another mistake in the same mapping is reported alone, in its words.
        (
            "{type: bool, remember: 0s, colour: red}",
            ["unknown key 'colour'"],
        ),
        (
            "{type: str, min: 1, default: 3, kind: x}",
            ["unknown key 'kind'"],
        ),
    ],
)
def test_schema_messages_leave_rules_to_the_language_check(
    write, var: str, expected: list[str]
) -> None:
    from goap_engine.documents import check_schema

    path = write("pack.yaml", f"version: 1\nstate:\n  x: {var}\n")
    doc, _ = read_document(path)
    assert doc is not None
    found = [d.message.split(" (expected")[0] for d in check_schema(doc, "pack")]
    assert found == expected
