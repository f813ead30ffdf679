"""The expression language: parse once, check statically, compile to fast callables.

Expressions use Python's expression syntax restricted to a small, safe subset with
simpleeval's semantics (the same operators, its length and power guards).  At load
time an expression is parsed, every name is resolved against the declared state
variables and constants, its type is inferred and checked, and it is turned into
Python source over a state tuple ``s`` (``s[3] and not s[5]``).  The planner glues
those sources into one function per action, so a precondition costs a tuple index
and a comparison in the search loop instead of a tree walk per call.

Nothing reaches Python internals: only the node types in ``_ALLOWED`` are
accepted, names must be declared, calls are limited to ``FUNCTIONS``, and the
compiled code runs with empty builtins.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import simpleeval

ExprType = Literal["bool", "int", "float", "str"]

MAX_STRING_LENGTH = 10_000
MAX_POWER_BITS = 1024
MAX_SOURCE_LENGTH = 2_000

NUMERIC: frozenset[str] = frozenset({"int", "float"})

# Names that are constants everywhere; lower-case spellings because YAML authors
# write ``true`` and ``false``.
CONSTANTS: dict[str, bool] = {
    "True": True,
    "False": False,
    "true": True,
    "false": False,
}


class ExprError(Exception):
    """An expression is malformed, unsafe or ill-typed; ``col`` is 0-based."""

    def __init__(self, message: str, col: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.col = col


class EvalError(ArithmeticError):
    """An expression failed while being evaluated (division by zero, too big)."""


@dataclass(frozen=True, slots=True)
class Symbol:
    """A name an expression may read: a state variable (``index``) or a constant."""

    type: ExprType
    index: int = -1
    value: Any = None
    choices: tuple[str, ...] = ()
    name: str = ""

    @property
    def is_state(self) -> bool:
        return self.index >= 0


@dataclass(frozen=True, slots=True)
class Expr:
    """A checked, compiled expression.

    ``code`` is Python source over the state tuple ``s``; ``reads`` are the state
    variables it reads; ``const`` is its value when it reads none.
    """

    source: str
    type: ExprType
    code: str
    reads: frozenset[str]
    const: Any = None
    is_const: bool = False
    facts: tuple[tuple[str, Any], ...] | None = None
    reference: str = ""
    values: tuple[Any, ...] | None = None
    """For str expressions: every value it can give, when that is known."""

    def __str__(self) -> str:
        return self.source

    @property
    def canonical(self) -> str:
        """Return the source with every state name spelled canonically.

        Qualified names (``pack.var``) become ``reference_name`` identifiers so
        that an independent evaluator can read them from a flat mapping.
        """
        return self.reference or self.source


def reference_name(name: str) -> str:
    """Return the identifier under which ``name`` is known to reference evaluation."""
    return name.replace(".", "__")


@dataclass(frozen=True, slots=True)
class _Typed:
    code: str
    type: ExprType
    reads: frozenset[str]
    const: Any = None
    is_const: bool = False
    choices: tuple[str, ...] = ()


def _pow(a: Any, b: Any) -> Any:
    if (
        isinstance(a, int)
        and isinstance(b, int)
        and abs(a) > 1
        and b > 0
        and b * math.log2(abs(a)) > MAX_POWER_BITS
    ):
        raise EvalError(f"{a} ** {b} is too large (over 2**{MAX_POWER_BITS})")
    try:
        result = simpleeval.safe_power(a, b)
    except OverflowError:
        raise EvalError(f"{a} ** {b} is too large for a float") from None
    except (simpleeval.NumberTooHigh, ZeroDivisionError) as exc:
        raise EvalError(str(exc)) from exc
    if isinstance(result, complex):
        raise EvalError(f"{a} ** {b} has no real value")
    return result


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, str) and len(a) + len(b) > MAX_STRING_LENGTH:
        raise EvalError(f"string longer than {MAX_STRING_LENGTH} characters")
    return a + b


def _mul(a: Any, b: Any) -> Any:
    if isinstance(a, str) and b * len(a) > MAX_STRING_LENGTH:
        raise EvalError(f"string longer than {MAX_STRING_LENGTH} characters")
    if isinstance(b, str) and a * len(b) > MAX_STRING_LENGTH:
        raise EvalError(f"string longer than {MAX_STRING_LENGTH} characters")
    return a * b


def _div(a: Any, b: Any) -> Any:
    try:
        return a / b
    except ZeroDivisionError as exc:
        raise EvalError("division by zero") from exc


def _floordiv(a: Any, b: Any) -> Any:
    try:
        return a // b
    except ZeroDivisionError as exc:
        raise EvalError("division by zero") from exc


def _mod(a: Any, b: Any) -> Any:
    try:
        return a % b
    except ZeroDivisionError as exc:
        raise EvalError("modulo by zero") from exc


def _str(value: Any) -> str:
    text = str(value)
    if len(text) > MAX_STRING_LENGTH:
        raise EvalError(f"string longer than {MAX_STRING_LENGTH} characters")
    return text


# name -> (callable, result type given argument types, documentation)
FUNCTIONS: dict[str, str] = {
    "abs": "abs(x): absolute value of a number",
    "min": "min(a, b, ...): smallest of two or more numbers",
    "max": "max(a, b, ...): largest of two or more numbers",
    "round": "round(x): nearest integer",
    "int": "int(x): a number or numeric string as int",
    "float": "float(x): a number or numeric string as float",
    "str": "str(x): any value as a string",
    "len": "len(s): length of a string",
}

RUNTIME: dict[str, Any] = {
    "__builtins__": {},
    "_pow": _pow,
    "_add": _add,
    "_mul": _mul,
    "_div": _div,
    "_floordiv": _floordiv,
    "_mod": _mod,
    "_str": _str,
    "_abs": abs,
    "_min": min,
    "_max": max,
    "_round": round,
    "_int": int,
    "_float": float,
    "_len": len,
}

_CMP = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_ARITH = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}


def _describe(node: ast.AST) -> str:
    kind = type(node).__name__
    names = {
        "Attribute": "attribute access",
        "Subscript": "subscripting",
        "Lambda": "lambda",
        "ListComp": "comprehension",
        "SetComp": "comprehension",
        "DictComp": "comprehension",
        "GeneratorExp": "comprehension",
        "JoinedStr": "f-string",
        "NamedExpr": "assignment (:=)",
        "Starred": "starred expression",
        "Dict": "dict literal",
        "Await": "await",
        "Yield": "yield",
    }
    return names.get(kind, kind)


class _Checker:
    def __init__(self, symbols: Mapping[str, Symbol]) -> None:
        self.symbols = symbols
        # Whether a name is spelled otherwise than canonically (see
        # ``_Canonical``); most expressions are not, and need no rewrite.
        self.renamed = False

    def err(self, node: ast.AST, message: str) -> ExprError:
        return ExprError(message, getattr(node, "col_offset", 0))

    def visit(self, node: ast.AST) -> _Typed:
        method = getattr(self, "v_" + type(node).__name__, None)
        if method is None:
            raise self.err(node, f"{_describe(node)} is not allowed in expressions")
        result: _Typed = method(node)
        return result

    def v_Constant(self, node: ast.Constant) -> _Typed:
        value = node.value
        problem = _unrepresentable(value)
        if problem:
            raise self.err(node, problem)
        if isinstance(value, bool):
            return _Typed(repr(value), "bool", frozenset(), value, True)
        if isinstance(value, int):
            return _Typed(repr(value), "int", frozenset(), value, True)
        if isinstance(value, float):
            return _Typed(repr(value), "float", frozenset(), value, True)
        if isinstance(value, str):
            if len(value) > MAX_STRING_LENGTH:
                raise self.err(
                    node,
                    f"string literal of {len(value)} characters "
                    f"(at most {MAX_STRING_LENGTH})",
                )
            return _Typed(repr(value), "str", frozenset(), value, True)
        raise self.err(node, f"literal {value!r} is not allowed")

    def v_Name(self, node: ast.Name) -> _Typed:
        name = node.id
        if name.startswith("_"):
            raise self.err(node, f"name '{name}' is not allowed (leading underscore)")
        if name in CONSTANTS:
            value = CONSTANTS[name]
            return _Typed(repr(value), "bool", frozenset(), value, True)
        sym = self.symbols.get(name)
        if sym is not None and (
            "." in name or (sym.is_state and sym.name and sym.name != name)
        ):
            self.renamed = True
        if sym is None:
            if name in FUNCTIONS:
                raise self.err(node, f"function '{name}' must be called")
            raise self.err(node, f"unknown name '{name}'")
        problem = _unrepresentable(sym.value)
        if not sym.is_state and problem:
            raise self.err(node, f"var '{name}': {problem}")
        if sym.is_state:
            canonical = sym.name or name
            return _Typed(
                f"s[{sym.index}]", sym.type, frozenset({canonical}), choices=sym.choices
            )
        return _Typed(repr(sym.value), sym.type, frozenset(), sym.value, True)

    def v_Attribute(self, node: ast.Attribute) -> _Typed:
        # ``pack.name`` names a variable of another pack's namespace; any other
        # attribute access stays forbidden.
        qualified = _qualified(node)
        if qualified is not None and qualified in self.symbols:
            return self.v_Name(ast.Name(id=qualified, col_offset=node.col_offset))
        raise self.err(node, "attribute access is not allowed")

    def v_BoolOp(self, node: ast.BoolOp) -> _Typed:
        parts = [self.visit(v) for v in node.values]
        for value, part in zip(node.values, parts, strict=True):
            self.need_bool(value, part, "and" if isinstance(node.op, ast.And) else "or")
        op = " and " if isinstance(node.op, ast.And) else " or "
        reads = frozenset().union(*(p.reads for p in parts))
        return self.fold(
            node, "(" + op.join(p.code for p in parts) + ")", "bool", reads
        )

    def v_UnaryOp(self, node: ast.UnaryOp) -> _Typed:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            self.need_bool(node.operand, operand, "not")
            return self.fold(node, f"(not {operand.code})", "bool", operand.reads)
        if isinstance(node.op, ast.USub | ast.UAdd):
            if operand.type not in NUMERIC:
                raise self.err(
                    node, f"unary minus needs a number, found {operand.type}"
                )
            sign = "-" if isinstance(node.op, ast.USub) else "+"
            return self.fold(
                node, f"({sign}{operand.code})", operand.type, operand.reads
            )
        raise self.err(node, "operator '~' is not allowed")

    def v_BinOp(self, node: ast.BinOp) -> _Typed:
        symbol = _ARITH.get(type(node.op))
        if symbol is None:
            raise self.err(node, f"operator {type(node.op).__name__} is not allowed")
        left, right = self.visit(node.left), self.visit(node.right)
        reads = left.reads | right.reads
        lt, rt = left.type, right.type
        if symbol == "+" and lt == "str" and rt == "str":
            return self.fold(node, f"_add({left.code}, {right.code})", "str", reads)
        if symbol == "*" and {lt, rt} == {"str", "int"}:
            return self.fold(node, f"_mul({left.code}, {right.code})", "str", reads)
        if lt not in NUMERIC or rt not in NUMERIC:
            raise self.err(node, f"cannot apply '{symbol}' to {lt} and {rt}")
        numeric: ExprType = "int" if lt == rt == "int" else "float"
        a, b = left.code, right.code
        code = {
            "+": f"({a} + {b})",
            "-": f"({a} - {b})",
            "*": f"({a} * {b})",
            "/": f"_div({a}, {b})",
            "//": f"_floordiv({a}, {b})",
            "%": f"_mod({a}, {b})",
            "**": f"_pow({a}, {b})",
        }[symbol]
        result: ExprType = "float" if symbol == "/" else numeric
        return self.fold(node, code, result, reads)

    def v_Compare(self, node: ast.Compare) -> _Typed:
        left = self.visit(node.left)
        parts: list[str] = []
        reads = left.reads
        current = left
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            symbol = _CMP.get(type(op))
            if symbol is None:
                raise self.err(node, f"comparison {type(op).__name__} is not allowed")
            if symbol in ("in", "not in"):
                parts.append(self.membership(node, current, symbol, comparator))
                reads = reads | current.reads
                current = _Typed("", "bool", frozenset())
                continue
            right = self.visit(comparator)
            self.check_comparable(node, current, right, symbol)
            self.check_choice(comparator, current, right)
            self.check_choice(node.left, right, current)
            parts.append(f"({current.code} {symbol} {right.code})")
            reads = reads | right.reads
            current = right
        return self.fold(node, "(" + " and ".join(parts) + ")", "bool", reads)

    def membership(
        self, node: ast.AST, left: _Typed, symbol: str, container: ast.expr
    ) -> str:
        if not isinstance(container, ast.Tuple | ast.List | ast.Set):
            raise self.err(
                container, f"'{symbol}' needs a literal list such as ('a', 'b')"
            )
        items = [self.visit(item) for item in container.elts]
        for item, elt in zip(items, container.elts, strict=True):
            self.check_comparable(node, left, item, "==")
            self.check_choice(elt, left, item)
        body = ", ".join(i.code for i in items)
        return f"({left.code} {symbol} ({body}{',' if len(items) == 1 else ''}))"

    def v_IfExp(self, node: ast.IfExp) -> _Typed:
        test = self.visit(node.test)
        self.need_bool(node.test, test, "if")
        body, orelse = self.visit(node.body), self.visit(node.orelse)
        if body.type == orelse.type:
            result: ExprType = body.type
        elif body.type in NUMERIC and orelse.type in NUMERIC:
            result = "float"
        else:
            raise self.err(
                node,
                f"both branches must have one type, found {body.type} and "
                f"{orelse.type}",
            )
        code = f"({body.code} if {test.code} else {orelse.code})"
        reads = test.reads | body.reads | orelse.reads
        typed = self.fold(node, code, result, reads)
        return _Typed(
            typed.code,
            typed.type,
            typed.reads,
            typed.const,
            typed.is_const,
            body.choices or orelse.choices,
        )

    def v_Call(self, node: ast.Call) -> _Typed:
        if not isinstance(node.func, ast.Name):
            raise self.err(node, "only the functions " + _fn_list() + " can be called")
        name = node.func.id
        if name.startswith("_"):
            raise self.err(node, f"name '{name}' is not allowed (leading underscore)")
        if name not in FUNCTIONS:
            raise self.err(node, f"unknown function '{name}' (allowed: {_fn_list()})")
        if node.keywords:
            raise self.err(node, f"{name}() takes no keyword arguments")
        args = [self.visit(a) for a in node.args]
        reads = frozenset().union(*(a.reads for a in args)) if args else frozenset()
        types = [a.type for a in args]
        codes = ", ".join(a.code for a in args)
        if name in ("min", "max"):
            if len(args) < 2 or any(t not in NUMERIC for t in types):
                raise self.err(node, f"{name}() needs two or more numbers")
            result: ExprType = "int" if all(t == "int" for t in types) else "float"
        elif len(args) != 1:
            raise self.err(node, f"{name}() takes exactly one argument")
        elif name == "abs":
            if types[0] not in NUMERIC:
                raise self.err(node, f"abs() needs a number, found {types[0]}")
            result = types[0]
        elif name == "round":
            if types[0] not in NUMERIC:
                raise self.err(node, f"round() needs a number, found {types[0]}")
            result = "int"
        elif name == "len":
            if types[0] != "str":
                raise self.err(node, f"len() needs a string, found {types[0]}")
            result = "int"
        elif name in ("int", "float"):
            if types[0] == "bool":
                raise self.err(node, f"{name}() needs a number or string, found bool")
            result = "int" if name == "int" else "float"
        else:
            result = "str"
        return self.fold(node, f"_{name}({codes})", result, reads)

    def need_bool(self, node: ast.AST, typed: _Typed, context: str) -> None:
        if typed.type != "bool":
            raise self.err(node, f"'{context}' needs a boolean, found {typed.type}")

    def check_comparable(
        self, node: ast.AST, left: _Typed, right: _Typed, symbol: str
    ) -> None:
        lt, rt = left.type, right.type
        if lt in NUMERIC and rt in NUMERIC:
            return
        if lt != rt:
            raise self.err(node, f"cannot compare {lt} with {rt}")
        if lt == "bool" and symbol not in ("==", "!="):
            raise self.err(node, f"booleans cannot be ordered with '{symbol}'")

    def check_choice(self, node: ast.AST, var: _Typed, literal: _Typed) -> None:
        if var.choices and literal.is_const and literal.const not in var.choices:
            allowed = ", ".join(repr(c) for c in var.choices)
            raise self.err(
                node, f"{literal.const!r} is not one of the values {allowed}"
            )

    def fold(
        self, node: ast.AST, code: str, type_: ExprType, reads: frozenset[str]
    ) -> _Typed:
        if reads:
            return _Typed(code, type_, reads)
        try:
            value = eval(code, dict(RUNTIME))  # noqa: S307 - checked node subset
        except (EvalError, ArithmeticError, ValueError, TypeError) as exc:
            raise self.err(node, str(exc)) from None
        problem = _unrepresentable(value)
        if problem:
            raise self.err(node, problem)
        return _Typed(repr(value), type_, frozenset(), value, True)


def _unrepresentable(value: Any) -> str:
    """Return why a constant cannot be inlined into compiled code, or ''."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"the value {value} is not a finite number"
    if isinstance(value, complex):
        return "the value is a complex number"
    if isinstance(value, int) and value.bit_length() > MAX_POWER_BITS:
        return f"an integer over 2**{MAX_POWER_BITS}"
    return ""


def _qualified(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and not node.attr.startswith("_")
        and not node.value.id.startswith("_")
    ):
        return f"{node.value.id}.{node.attr}"
    return None


def _fn_list() -> str:
    return ", ".join(FUNCTIONS)


def compile_expr(source: str, symbols: Mapping[str, Symbol]) -> Expr:
    """Return ``source`` parsed, checked against ``symbols`` and compiled.

    Raises ``ExprError`` with a message and a 0-based column on any problem.
    """
    text = source.strip()
    if not text:
        raise ExprError("empty expression")
    if len(text) > MAX_SOURCE_LENGTH:
        raise ExprError(f"expression of {len(text)} characters (at most 2000)")
    return _state_name(text, symbols) or _parsed(text, symbols)


# ``flag`` or ``not flag``: most preconditions of a ruleset.
_STATE_NAME = re.compile(r"(not[ \t]+)?([A-Za-z][A-Za-z0-9_]*)")


def _state_name(text: str, symbols: Mapping[str, Symbol]) -> Expr | None:
    """Return ``text`` compiled if it is a state variable or its negation, else None.

    The same Expr as ``_parsed`` gives, without parsing: loading 10,000
    actions compiles some 20,000 expressions.  Anything else (a var, a
    keyword, a function's name, an error to report) is left to ``_parsed``.
    """
    match = _STATE_NAME.fullmatch(text)
    if match is None:
        return None
    negated, name = match.groups()
    sym = symbols.get(name)
    if (
        sym is None
        or not sym.is_state
        or keyword.iskeyword(name)
        or name in CONSTANTS
        or name in FUNCTIONS
        or (negated and sym.type != "bool")
    ):
        return None
    canonical = sym.name or name
    code = f"s[{sym.index}]"
    reference = reference_name(canonical) if canonical != name else ""
    if negated:
        code = f"(not {code})"
        reference = f"not {reference}" if reference else ""
    facts = ((canonical, not negated),) if sym.type == "bool" else None
    values = (sym.choices or None) if sym.type == "str" else None
    return Expr(
        text,
        sym.type,
        code,
        frozenset({canonical}),
        None,
        False,
        facts,
        reference,
        values,
    )


def _parsed(text: str, symbols: Mapping[str, Symbol]) -> Expr:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = max((exc.offset or 1) - 1, 0)
        raise ExprError(f"invalid syntax: {exc.msg}", col) from None
    except (ValueError, RecursionError, MemoryError):
        raise ExprError("expression cannot be parsed") from None
    checker = _Checker(symbols)
    try:
        typed = checker.visit(tree.body)
    except RecursionError:
        raise ExprError("expression is nested too deeply") from None
    facts = _facts(tree.body, symbols) if typed.type == "bool" else None
    return Expr(
        text,
        typed.type,
        typed.code,
        typed.reads,
        typed.const,
        typed.is_const,
        facts,
        _canonical_source(tree, symbols) if checker.renamed else "",
        _values(tree.body, symbols) if typed.type == "str" else None,
    )


def _values(node: ast.expr, symbols: Mapping[str, Symbol]) -> tuple[Any, ...] | None:
    """Return the values a str expression can take, or None if not bounded."""
    if isinstance(node, ast.Constant):
        return (node.value,)
    if isinstance(node, ast.Attribute):
        qualified = _qualified(node)
        return None if qualified is None else _values(ast.Name(id=qualified), symbols)
    if isinstance(node, ast.Name):
        sym = symbols.get(node.id)
        if sym is None:
            return None
        if not sym.is_state:
            return (sym.value,)
        return sym.choices or None
    if isinstance(node, ast.IfExp):
        body, orelse = _values(node.body, symbols), _values(node.orelse, symbols)
        if body is None or orelse is None:
            return None
        return tuple(dict.fromkeys((*body, *orelse)))
    return None


class _Canonical(ast.NodeTransformer):
    def __init__(self, symbols: Mapping[str, Symbol]) -> None:
        self.symbols = symbols
        self.changed = False

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        qualified = _qualified(node)
        if qualified is not None and qualified in self.symbols:
            return self.visit_Name(ast.Name(id=qualified, ctx=ast.Load()))
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        sym = self.symbols.get(node.id)
        if sym is not None and sym.is_state and sym.name and sym.name != node.id:
            self.changed = True
            return ast.Name(id=reference_name(sym.name), ctx=ast.Load())
        if "." in node.id:
            self.changed = True
            return ast.Name(id=reference_name(node.id), ctx=ast.Load())
        return node


def _canonical_source(tree: ast.Expression, symbols: Mapping[str, Symbol]) -> str:
    transformer = _Canonical(symbols)
    new = transformer.visit(tree)
    return ast.unparse(new) if transformer.changed else ""


def _facts(
    node: ast.expr, symbols: Mapping[str, Symbol]
) -> tuple[tuple[str, Any], ...] | None:
    """Return ``node`` as a conjunction of ``var == value`` facts, if it is one."""
    if isinstance(node, ast.Attribute):
        qualified = _qualified(node)
        if qualified is None:
            return None
        return _facts(ast.Name(id=qualified), symbols)
    if isinstance(node, ast.Name):
        sym = symbols.get(node.id)
        if sym is not None and sym.is_state and sym.type == "bool":
            return ((sym.name or node.id, True),)
        return None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _facts(node.operand, symbols)
        if inner is not None and len(inner) == 1 and isinstance(inner[0][1], bool):
            return ((inner[0][0], not inner[0][1]),)
        return None
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        parts = [_facts(v, symbols) for v in node.values]
        if any(p is None for p in parts):
            return None
        return tuple(f for p in parts if p is not None for f in p)
    if (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.Eq)
        and isinstance(node.left, ast.Name | ast.Attribute)
        and isinstance(node.comparators[0], ast.Constant)
    ):
        left = (
            node.left.id if isinstance(node.left, ast.Name) else _qualified(node.left)
        )
        sym = symbols.get(left or "")
        value = node.comparators[0].value
        if sym is not None and sym.is_state and type(value) is not float:
            if sym.type == "int" and type(value) is not int:
                return None
            return ((sym.name or str(left), value),)
    return None


def literal(value: Any) -> Expr:
    """Return a constant expression holding ``value`` (bool, int, float or str)."""
    type_: ExprType
    if isinstance(value, bool):
        type_ = "bool"
    elif isinstance(value, int):
        type_ = "int"
    elif isinstance(value, float):
        type_ = "float"
    else:
        type_ = "str"
        value = str(value)
    return Expr(repr(value), type_, repr(value), frozenset(), value, True)


def to_callable(expr: Expr) -> Callable[[tuple[Any, ...]], Any]:
    """Return a function of the state tuple evaluating ``expr``."""
    fn: Callable[[tuple[Any, ...]], Any] = eval(  # noqa: S307 - generated code
        f"lambda s: {expr.code}", dict(RUNTIME)
    )
    return fn


def evaluate(expr: Expr, state: tuple[Any, ...]) -> Any:
    """Evaluate ``expr`` once on ``state`` (not for hot loops)."""
    if expr.is_const:
        return expr.const
    return to_callable(expr)(state)
