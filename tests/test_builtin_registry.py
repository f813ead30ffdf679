"""The built-in registry matches the code of the built-ins, and validate uses it.

The arguments a built-in's function reads are found in its source (and in the
helpers it calls): ``ctx.args.get("x")``, ``ctx.args["x"]`` and helpers such
as ``_arg(ctx, "x", default)`` that pass a parameter on to ``ctx.args``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from goap_engine.language.builtin_checks import check_arguments, type_problem
from goap_engine.language.builtin_types import Argument
from goap_engine.language.builtins import BUILTINS, unknown_name

ENGINE = Path(__file__).resolve().parents[1] / "engine" / "goap_engine"
NO_DEFAULT = object()


@dataclass
class Reads:
    """What a function reads from ``ctx.args`` itself, and what it calls."""

    keys: dict[str, list[Any]] = field(default_factory=dict)
    calls: set[str] = field(default_factory=set)


def _is_args(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "args"
        and isinstance(node.value, ast.Name)
        and node.value.id == "ctx"
    )


def _key_of_get(node: ast.AST) -> ast.AST | None:
    """Return the key node of ``ctx.args.get(KEY, ...)`` or ``ctx.args[KEY]``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and _is_args(node.func.value)
        and node.args
    ):
        return node.args[0]
    if isinstance(node, ast.Subscript) and _is_args(node.value):
        return node.slice
    return None


def _literal(module: ModuleType, node: ast.AST | None) -> Any:
    """Return the value of a literal or module constant, else NO_DEFAULT."""
    if node is None:
        return NO_DEFAULT
    if isinstance(node, ast.Name):
        value = getattr(module, node.id, NO_DEFAULT)
        return NO_DEFAULT if callable(value) else value
    try:
        return ast.literal_eval(node)
    except ValueError:
        return NO_DEFAULT


def _readers(tree: ast.Module) -> dict[str, tuple[int, str, ast.AST | None]]:
    """Return helpers that read ``ctx.args[PARAM]``: (index, param, default node)."""
    found = {}
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        params = [a.arg for a in fn.args.args]
        defaults = dict(zip(params[::-1], fn.args.defaults[::-1], strict=False))
        for node in ast.walk(fn):
            key = _key_of_get(node)
            if isinstance(key, ast.Name) and key.id in params:
                found[fn.name] = (params.index(key.id), key.id, defaults.get(key.id))
    return found


def _default_in_get(node: ast.Call) -> ast.AST | None:
    return node.args[1] if len(node.args) > 1 else None


def _module_reads(module: ModuleType) -> dict[str, Reads]:
    tree = ast.parse(inspect.getsource(module))
    readers = _readers(tree)
    functions = {f.name for f in tree.body if isinstance(f, ast.FunctionDef)}
    result: dict[str, Reads] = {}
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        reads = result.setdefault(fn.name, Reads())
        # "ctx.args.get('x') or DEFAULT": the default is what follows the read.
        or_defaults: dict[int, ast.AST] = {}
        for node in ast.walk(fn):
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
                or_defaults[id(node.values[0])] = node.values[-1]
        for node in ast.walk(fn):
            key = _key_of_get(node)
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                default = (
                    _default_in_get(node) if isinstance(node, ast.Call) else None
                ) or or_defaults.get(id(node))
                reads.keys.setdefault(key.value, []).append(_literal(module, default))
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            name = node.func.id
            if name in functions:
                reads.calls.add(name)
            if name in readers:
                index, param, param_default = readers[name]
                given = next((k.value for k in node.keywords if k.arg == param), None)
                if given is None and len(node.args) > index:
                    given = node.args[index]
                literal = _literal(module, given) if given is not None else None
                if given is None and param_default is not None:
                    literal = _literal(module, param_default)
                if isinstance(literal, str):
                    default_node = (
                        node.args[index + 1] if len(node.args) > index + 1 else None
                    ) or or_defaults.get(id(node))
                    reads.keys.setdefault(literal, []).append(
                        _literal(module, default_node)
                    )
    return result


def _closure(reads: dict[str, Reads], start: str) -> dict[str, list[Any]]:
    seen: set[str] = set()
    todo = [start]
    keys: dict[str, list[Any]] = {}
    while todo:
        name = todo.pop()
        if name in seen or name not in reads:
            continue
        seen.add(name)
        for key, defaults in reads[name].keys.items():
            keys.setdefault(key, []).extend(defaults)
        todo.extend(reads[name].calls)
    return keys


def code_reads(name: str) -> dict[str, list[Any]]:
    """Return the keys a shipped built-in reads, with the literal defaults seen."""
    module_name, _, function = BUILTINS[name].target.partition(":")
    module = importlib.import_module(module_name)
    return _closure(_module_reads(module), function)


@pytest.mark.parametrize("name", list(BUILTINS))
def test_a_builtin_reads_exactly_the_arguments_it_declares(name: str) -> None:
    declared = {a.name for a in BUILTINS[name].arguments}
    assert set(code_reads(name)) == declared


@pytest.mark.parametrize("name", list(BUILTINS))
def test_declared_defaults_are_the_code_defaults(name: str) -> None:
    for key, defaults in code_reads(name).items():
        argument = BUILTINS[name].argument(key)
        assert argument is not None
        if argument.required:
            continue
        for default in defaults:
            if default is not NO_DEFAULT:
                assert argument.default == default, (key, default)


def test_the_reading_of_the_code_finds_helpers_and_defaults() -> None:
    """The scanner itself: a helper's parameter, an 'or' default, a constant."""
    assert set(code_reads("github.wait_ci")["max_wait"]) == {60.0}
    assert code_reads("git.push")["remote"] == ["origin"]
    assert code_reads("quality.ruff")["paths"] == [["."]]
    assert "name" in code_reads("git.branch_exists")


@pytest.mark.parametrize("name", list(BUILTINS))
def test_every_target_is_a_function_of_its_module(name: str) -> None:
    module_name, _, function = BUILTINS[name].target.partition(":")
    assert callable(getattr(importlib.import_module(module_name), function))


def test_names_are_unique_and_arguments_too() -> None:
    for builtin in BUILTINS.values():
        names = [a.name for a in builtin.arguments]
        assert len(names) == len(set(names)), builtin.name
        for group in builtin.one_of:
            assert set(group) <= set(names)
        for name, needed in builtin.needs:
            assert {name, needed} <= set(names)


def test_literal_defaults_have_their_declared_type() -> None:
    for builtin in BUILTINS.values():
        for argument in builtin.arguments:
            if argument.default is not None:
                assert type_problem(argument, argument.default) is None, argument


def test_the_language_layer_does_not_import_the_executor() -> None:
    for path in sorted((ENGINE / "language").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                below = node.level == 2 or module.startswith("goap_engine.")
                assert not (
                    below and ("executor" in module or "integrations" in module)
                ), (path, module)


def test_the_executor_resolves_names_through_the_registry() -> None:
    from goap_engine.executor.context import callable_spec

    assert callable_spec("builtin", "git.push") == BUILTINS["git.push"].target


def problems(name: str, args: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(p.key, p.message) for p in check_arguments(BUILTINS[name], args)]


def test_an_unknown_argument_gets_a_did_you_mean() -> None:
    assert problems(
        "validation.gates", {"report": "r.json", "gate": {}, "files": {}}
    ) == [
        (
            "gate",
            "unknown argument 'gate' of validation.gates (did you mean 'gates'?)",
        )
    ]


def test_an_unknown_argument_without_a_close_one_lists_them() -> None:
    assert problems("git.push", {"zzz": 1}) == [
        (
            "zzz",
            "unknown argument 'zzz' of git.push; it takes remote, branch, set_upstream",
        )
    ]
    assert problems("git.current_branch", {"x": 1}) == [
        ("x", "unknown argument 'x' of git.current_branch; it takes no arguments")
    ]


def test_missing_required_arguments_and_groups() -> None:
    assert problems("git.commit", {"paths": ["src"]}) == [
        (
            None,
            "missing required argument 'message' of git.commit "
            "(str: The commit message)",
        )
    ]
    assert problems("validation.gates", {}) == [
        (None, "validation.gates needs 'gates' or 'files'")
    ]
    assert problems("validation.gates", {"gates": {"a": 1}}) == [
        ("gates", "validation.gates: 'gates' needs 'report' too")
    ]
    assert problems("git.branch_exists", {"name": ""}) == [
        ("name", "argument 'name' of git.branch_exists: must not be empty")
    ]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("max_wait", float("inf"), "expected a finite number, found float Infinity"),
        ("max_wait", float("nan"), "expected a finite number, found float NaN"),
        ("max_wait", -1, "expected a number of 0 or more, found int -1"),
        ("http_timeout", -1, "expected a number of seconds above 0, found int -1"),
        ("http_timeout", 0, "expected a number of seconds above 0, found int 0"),
        ("retries", 1_000_000_000, "expected at most 100, found int 1000000000"),
        ("retries", 100, None),
        ("max_wait", 0, None),
        ("http_timeout", 0.5, None),
        ("interval", 0, "expected a number of seconds above 0, found int 0"),
        ("interval", 0.5, None),
    ],
)
def test_bounds_must_be_numbers_a_call_can_keep_to(
    name: str, value: Any, expected: str | None
) -> None:
    kind = "int" if isinstance(value, int) else "float"
    assert type_problem(Argument(name, kind, ""), value) == expected


@pytest.mark.parametrize(
    ("argument", "value", "expected"),
    [
        (Argument("a", "bool", ""), "yes", 'expected true or false, found str "yes"'),
        (Argument("a", "int", ""), True, "expected an integer, found bool true"),
        (Argument("a", "int", ""), 1.5, "expected an integer, found float 1.5"),
        (Argument("a", "float", ""), "1", 'expected a number, found str "1"'),
        (Argument("a", "str", ""), 3, "expected a string, found int 3"),
        (Argument("a", "path", ""), None, "expected a path (a string), found null"),
        (Argument("a", "mapping", ""), [1], "expected a mapping, found a list"),
        (
            Argument("a", "list[str]", ""),
            ["x", 2],
            "expected a list of strings, found a list holding int 2",
        ),
        (
            Argument("a", "str", "", choices=("model", "dataset")),
            "modle",
            "expected one of model, dataset, found 'modle' (did you mean 'model'?)",
        ),
    ],
)
def test_literal_values_of_the_wrong_type(
    argument: Argument, value: Any, expected: str
) -> None:
    assert type_problem(argument, value) == expected


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        (Argument("a", "bool", ""), "{{ flag }}"),
        (Argument("a", "int", ""), "{% if x %}1{% endif %}"),
        (Argument("a", "float", ""), 3),
        (Argument("a", "list[str]", ""), "one"),
        (Argument("a", "list[str]", ""), []),
        (Argument("a", "str", "", choices=("model",)), "{{ kind }}"),
    ],
)
def test_templates_and_fitting_values_pass(argument: Argument, value: Any) -> None:
    assert type_problem(argument, value) is None


def test_a_templated_key_stops_the_required_checks() -> None:
    """The key may render to the missing argument's name."""
    assert problems("env.has", {"{{ which }}": "HF_TOKEN"}) == []
    assert problems("env.has", {"{{ which }}": "HF_TOKEN", "nam": 1}) == [
        ("nam", "unknown argument 'nam' of env.has (did you mean 'name'?)")
    ]


def test_a_misspelt_key_is_not_reported_missing_as_well() -> None:
    assert problems("git.commit", {"mesage": "m", "paths": "src"}) == [
        ("mesage", "unknown argument 'mesage' of git.commit (did you mean 'message'?)")
    ]


def test_unknown_names_get_a_did_you_mean_or_their_family() -> None:
    assert unknown_name("validation.gate") == (
        "unknown built-in hook 'validation.gate' (did you mean 'validation.gates'?); "
        "'goap-engine builtins' lists them"
    )
    assert unknown_name("env.zzzzzz") == (
        "unknown built-in hook 'env.zzzzzz' (known: env.has); "
        "'goap-engine builtins' lists them"
    )


def test_a_huge_key_or_name_is_clipped_in_the_message() -> None:
    key = "k" * 100_000
    assert problems("env.has", {key: 1, "name": "X"}) == [
        ("k" * 100_000, f"unknown argument '{'k' * 57}...' of env.has; it takes name")
    ]
    assert unknown_name("git." + "x" * 100_000) == (
        f"unknown built-in hook 'git.{'x' * 53}...' (known: "
        "git.ahead_behind, git.branch_exists, git.commit, git.create_branch, "
        "git.current_branch, git.dirty_paths, git.push, git.pushed, "
        "git.switch_branch); 'goap-engine builtins' lists them"
    )
