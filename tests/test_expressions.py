"""The expression compiler: safety, static typing, and simpleeval's semantics."""

from __future__ import annotations

import re

import pytest
import simpleeval
from hypothesis import given, settings
from hypothesis import strategies as st

from goap_engine.expressions import (
    ExprError,
    Symbol,
    compile_expr,
    evaluate,
    to_callable,
)

SYMBOLS = {
    "flag": Symbol("bool", index=0),
    "n": Symbol("int", index=1),
    "x": Symbol("float", index=2),
    "name": Symbol("str", index=3),
    "status": Symbol("str", index=4, choices=("running", "passed", "failed")),
    "limit": Symbol("int", value=3),
}


def names(state: tuple[object, ...]) -> dict[str, object]:
    keys = ["flag", "n", "x", "name", "status"]
    result: dict[str, object] = dict(zip(keys, state, strict=True))
    result.update(limit=3, true=True, false=False)
    return result


EXPRESSIONS = [
    "flag",
    "not flag",
    "n > 0 and not flag",
    "n + 1",
    "n * 2 - 3",
    "n // 2",
    "n % 3",
    "x / 2",
    "-n",
    "abs(n - 5)",
    "min(n, 3)",
    "max(n, x)",
    "n >= limit",
    "1 < n < 5",
    "name == 'main'",
    "name + '-x'",
    "len(name) > 2",
    "status in ('passed', 'failed')",
    "status not in ['running']",
    "n if flag else n + 10",
    "n ** 2",
    "flag == true",
    "round(x)",
    "str(n) + name",
]

STATES = st.tuples(
    st.booleans(),
    st.integers(-20, 20),
    st.floats(-100, 100, allow_nan=False),
    st.text(alphabet="abcmain-", max_size=6),
    st.sampled_from(["running", "passed", "failed"]),
)


@pytest.mark.parametrize("source", EXPRESSIONS)
@settings(max_examples=40, deadline=None)
@given(state=STATES)
def test_compiled_matches_simpleeval(source: str, state: tuple[object, ...]) -> None:
    expr = compile_expr(source, SYMBOLS)
    reference = simpleeval.EvalWithCompoundTypes(
        names=names(state),
        functions={
            "abs": abs,
            "min": min,
            "max": max,
            "len": len,
            "round": round,
            "str": str,
        },
    ).eval(source)
    assert to_callable(expr)(state) == reference


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("flag and n > 0", "bool"),
        ("n + 1", "int"),
        ("n + x", "float"),
        ("n / 2", "float"),
        ("name + 'a'", "str"),
        ("limit * 2", "int"),
    ],
)
def test_types_are_inferred(source: str, kind: str) -> None:
    assert compile_expr(source, SYMBOLS).type == kind


def test_reads_and_constants() -> None:
    expr = compile_expr("n > limit and not flag", SYMBOLS)
    assert expr.reads == {"n", "flag"}
    folded = compile_expr("limit * 2 + 1", SYMBOLS)
    assert folded.is_const and folded.const == 7


def test_fact_conjunctions_are_recognised() -> None:
    assert compile_expr("flag and status == 'passed'", SYMBOLS).facts == (
        ("flag", True),
        ("status", "passed"),
    )
    assert compile_expr("not flag", SYMBOLS).facts == (("flag", False),)
    assert compile_expr("n > 0", SYMBOLS).facts is None
    assert compile_expr("flag or n > 0", SYMBOLS).facts is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("__import__('os')", "name '__import__' is not allowed"),
        ("().__class__", "attribute access is not allowed"),
        ("name.upper()", "only the functions"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("[c for c in 'ab']", "comprehension is not allowed"),
        ("lambda: 1", "lambda is not allowed"),
        ("9**9**9", "too large"),
        ("'a' * 10**9", "longer than 10000"),
        ("f'{n}'", "f-string is not allowed"),
        ("(y := 1)", "assignment (:=) is not allowed"),
        ("name[0]", "subscripting is not allowed"),
        ("unknown > 1", "unknown name 'unknown'"),
        ("n > 'a'", "cannot compare int with str"),
        ("not n", "'not' needs a boolean, found int"),
        ("flag + 1", "cannot apply '+' to bool and int"),
        ("flag < true", "booleans cannot be ordered"),
        ("status == 'pased'", "'pased' is not one of the values"),
        ("n in name", "needs a literal list"),
        ("min(n)", "min() needs two or more numbers"),
        ("abs", "function 'abs' must be called"),
        ("n >", "invalid syntax"),
        ("1 / 0", "division by zero"),
        ("", "empty expression"),
        ("'" + "a" * 10_001 + "'", "at most 2000"),
        ("(" * 300 + "1" + ")" * 300, "too many nested parentheses"),
        ("-" * 1500 + "1", "nested too deeply"),
    ],
)
def test_rejected(source: str, message: str) -> None:
    with pytest.raises(ExprError) as info:
        compile_expr(source, SYMBOLS)
    assert message in info.value.message


def test_runtime_guards_raise_eval_errors() -> None:
    from goap_engine.expressions import EvalError

    expr = compile_expr("n ** 5000", SYMBOLS)
    with pytest.raises(EvalError):
        evaluate(expr, (False, 3, 0.0, "", "running"))
    division = compile_expr("10 // n", SYMBOLS)
    with pytest.raises(EvalError):
        evaluate(division, (False, 0, 0.0, "", "running"))


def test_compiled_code_has_no_builtins() -> None:
    expr = compile_expr("n + 1", SYMBOLS)
    fn = to_callable(expr)
    assert fn.__globals__["__builtins__"] == {}


_FAST_SYMBOLS = {
    "ready": Symbol("bool", 0, name="ready"),
    "count": Symbol("int", 1, name="count"),
    "ratio": Symbol("float", 2, name="ratio"),
    "stage": Symbol("str", 3, choices=("dev", "prod"), name="stage"),
    "note": Symbol("str", 4, name="note"),
    "done": Symbol("bool", 5, name="ci.done"),  # a short name for ci.done
    "ci.done": Symbol("bool", 5, name="ci.done"),
    "region": Symbol("str", value="eu"),  # a var
    "true": Symbol("bool", 6, name="true"),  # shadowed by the constant
    "len": Symbol("str", 7, name="len"),  # shadowed by the function
    "match": Symbol("bool", 8, name="match"),  # a soft keyword
}


@pytest.mark.parametrize(
    "source",
    [
        *_FAST_SYMBOLS,
        *(f"not {name}" for name in _FAST_SYMBOLS),
        "not\tready",
        "not  done",
        "  ready ",
        "notready",
        "not",
        "and",
        "None",
        "unknown",
        "not unknown",
        "_hidden",
    ],
)
def test_state_names_compile_as_the_parser_compiles_them(source: str) -> None:
    from goap_engine.expressions import _parsed, _state_name

    text = source.strip()
    fast = _state_name(text, _FAST_SYMBOLS)
    try:
        slow = _parsed(text, _FAST_SYMBOLS)
    except ExprError as exc:
        assert fast is None
        with pytest.raises(ExprError, match=re.escape(exc.message)):
            compile_expr(source, _FAST_SYMBOLS)
        return
    assert fast is None or fast == slow
    assert compile_expr(source, _FAST_SYMBOLS) == slow


def test_state_names_take_the_fast_path() -> None:
    from goap_engine.expressions import _state_name

    for text in ("ready", "not ready", "stage", "done", "not done", "match"):
        assert _state_name(text, _FAST_SYMBOLS) is not None, text
    for text in ("region", "true", "len", "not count", "not stage", "ready2"):
        assert _state_name(text, _FAST_SYMBOLS) is None, text
