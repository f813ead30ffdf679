"""Split conditions into conjuncts the relaxation can judge one by one.

A goal such as ``deployed and tested and carried != 'none'`` is one
expression; grounded as a whole it reads every variable it names, which soon
exceeds what can be enumerated, and the relaxation then has to treat it as
always reachable: the heuristic goes blind.  Taken conjunct by conjunct, each
part reads one or two variables: the booleans become facts and the inequality
a choice among the other values of the variable's finite domain.
"""

from __future__ import annotations

import ast
import copy
from typing import Any

from ..expressions import Expr
from ..model import Ruleset

_VALUE_TYPE: dict[str, type] = {"bool": bool, "int": int, "str": str, "enum": str}


def conjuncts(ruleset: Ruleset, expr: Expr, *, split_facts: bool = False) -> list[Expr]:
    """Return the top-level conjuncts of the boolean ``expr`` as expressions.

    An expression that is not a conjunction (or cannot be split) comes back
    alone, unchanged.  A conjunction of plain facts (``a and b == 1``) is
    already facts to the relaxation; it is split only with ``split_facts``,
    for messages that name the part that fails.
    """
    if expr.type != "bool" or expr.is_const:
        return [expr]
    if expr.facts is not None and (not split_facts or len(expr.facts) < 2):
        return [expr]
    try:
        tree = ast.parse(expr.code, mode="eval")
        parts: list[ast.expr] = []
        _flatten(tree.body, parts)
        if len(parts) < 2:
            return [expr]
        return [_part(ruleset, node) for node in parts]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # Nested too deeply to split: grounded whole, as before splitting.
        return [expr]


def _part(ruleset: Ruleset, node: ast.expr) -> Expr:
    code = ast.unparse(node)
    slots = {i for i in map(_slot, ast.walk(node)) if i is not None}
    reads = frozenset(ruleset.names[i] for i in slots)
    source = ast.unparse(_Named(ruleset.names).visit(copy.deepcopy(node)))
    return Expr(source, "bool", f"({code})", reads, facts=_facts(node, ruleset))


class _Named(ast.NodeTransformer):
    """Write ``s[i]`` back as the variable's name, for messages."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        index = _slot(node)
        if index is None:
            return self.generic_visit(node)
        return ast.Name(id=self.names[index], ctx=ast.Load())


def _flatten(node: ast.expr, out: list[ast.expr]) -> None:
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        for value in node.values:
            _flatten(value, out)
    else:
        out.append(node)


def _slot(node: ast.AST) -> int | None:
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == "s"
        and isinstance(node.slice, ast.Constant)
        and type(node.slice.value) is int
    ):
        return node.slice.value
    return None


def _facts(node: ast.expr, ruleset: Ruleset) -> tuple[tuple[str, Any], ...] | None:
    """Return ``node`` as ``var == value`` facts when it is one plain test.

    Only a bare boolean, its negation, and equality of a variable with a
    literal qualify: anything else is grounded by enumeration instead.
    """
    names = ruleset.names
    index = _slot(node)
    if index is not None:
        return ((names[index], True),) if _is_bool(ruleset, index) else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        index = _slot(node.operand)
        if index is None or not _is_bool(ruleset, index):
            return None
        return ((names[index], False),)
    if (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.Eq)
    ):
        left, right = node.left, node.comparators[0]
        if isinstance(left, ast.Constant):
            left, right = right, left
        index = _slot(left)
        # Floats and mixed int/bool equality do not name one value of a
        # domain; enumeration handles them exactly.
        if (
            index is not None
            and isinstance(right, ast.Constant)
            and type(right.value) is _VALUE_TYPE.get(ruleset.variables[index].type)
        ):
            return ((names[index], right.value),)
    return None


def _is_bool(ruleset: Ruleset, index: int) -> bool:
    return ruleset.variables[index].type == "bool"
