"""Read PDDL domain and problem files (a STRIPS subset) into frozen dataclasses.

Supported: ``:strips``, ``:typing`` (type hierarchies and ``either``),
``:negative-preconditions``, ``:equality``, ``:action-costs`` (``increase`` of
``total-cost`` by a constant or by a static function term whose values come from
the problem's ``:init``), ``:constants``, ``:objects``, ``:init``, ``:goal``
(a conjunction of literals) and ``:metric minimize (total-cost)``.

PDDL is case-insensitive, so every name is lower-cased on reading.  Anything
outside the subset (quantifiers, conditional effects, disjunctions, numeric
fluents other than ``total-cost``, ...) raises :class:`PddlError` located at the
construct, as does every syntax or reference error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from goap_engine.errors import Diagnostic, InputError, Location

__all__ = [
    "Action",
    "Atom",
    "Domain",
    "Literal",
    "PddlError",
    "Problem",
    "SAtom",
    "SExpr",
    "SList",
    "TypedName",
    "check_problem",
    "iter_subtypes",
    "object_types",
    "parse_domain",
    "parse_domain_text",
    "parse_problem",
    "parse_problem_text",
    "read_sexprs",
]


class PddlError(InputError):
    """A PDDL file is malformed or uses a feature outside the supported subset."""

    def __init__(self, path: str | Path, line: int, col: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.col = col
        self.message = message
        super().__init__(Diagnostic(Location(self.path, line, col), message))

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


# ---------------------------------------------------------------------------
# S-expressions


@dataclass(frozen=True, slots=True)
class SAtom:
    """One token other than a parenthesis, lower-cased, with where it starts."""

    text: str
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class SList:
    """A parenthesised list; ``line``/``col`` are those of its ``(``."""

    items: tuple[SExpr, ...]
    line: int
    col: int


SExpr = SAtom | SList

_TOKEN = re.compile(r"[()]|;|[^\s();]+")
# Keywords that only start a section directly inside (define ...): meeting one
# deeper means a ')' is missing, and saying where beats reporting (define at EOF.
_SECTIONS = frozenset(
    {
        ":requirements",
        ":types",
        ":constants",
        ":predicates",
        ":functions",
        ":action",
        ":derived",
        ":durative-action",
        ":domain",
        ":objects",
        ":init",
        ":goal",
        ":metric",
    }
)


def read_sexprs(
    text: str, path: str | Path = "<string>", single: bool = False
) -> list[SExpr]:
    """Return the top-level s-expressions of ``text``, names lower-cased.

    With ``single``, anything after the first complete expression is an error.
    """
    top: list[SExpr] = []
    # Each open list: its items so far, and where its "(" stands.
    stack: list[tuple[list[SExpr], int, int]] = []
    end = (0, 0)
    for lineno, raw in enumerate(text.splitlines(), start=1):
        for m in _TOKEN.finditer(raw):
            tok = m.group()
            col = m.start() + 1
            if tok == ";":
                break
            if single and top and not stack and tok != ")":
                raise PddlError(
                    path,
                    lineno,
                    col,
                    f"text after the ')' at {end[0]}:{end[1]} that closes the "
                    "top-level form (one ')' too many before there?)",
                )
            if tok == "(":
                stack.append(([], lineno, col))
            elif tok == ")":
                if not stack:
                    raise PddlError(path, lineno, col, "unexpected ')'")
                items, sl, sc = stack.pop()
                node = SList(tuple(items), sl, sc)
                (stack[-1][0] if stack else top).append(node)
                end = (lineno, col)
            else:
                word = tok.lower()
                if len(stack) > 2 and not stack[-1][0] and word in _SECTIONS:
                    _, sl, sc = stack[-2]
                    _, ol, oc = stack[-1]
                    raise PddlError(
                        path,
                        sl,
                        sc,
                        f"unclosed '(' (missing ')' before '({word}' at {ol}:{oc})",
                    )
                (stack[-1][0] if stack else top).append(SAtom(word, lineno, col))
    if stack:
        _, sl, sc = stack[-1]
        raise PddlError(path, sl, sc, "unclosed '(' (missing ')')")
    return top


# ---------------------------------------------------------------------------
# The parsed model


@dataclass(frozen=True, slots=True)
class TypedName:
    """A declared name (type, constant, object, parameter) and its type(s).

    ``types`` has one entry, or several for ``(either ...)``; ``type_line`` and
    ``type_col`` are 0 when the type was left implicit (``object``).
    """

    name: str
    types: tuple[str, ...] = ("object",)
    line: int = field(default=0, compare=False)
    col: int = field(default=0, compare=False)
    type_line: int = field(default=0, compare=False)
    type_col: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Atom:
    """A predicate (or function) applied to terms: variables ``?x`` or names.

    ``line``/``col`` locate the ``(``; ``pos`` locates the predicate name and
    then each argument, for messages.
    """

    predicate: str
    args: tuple[str, ...]
    line: int = field(default=0, compare=False)
    col: int = field(default=0, compare=False)
    pos: tuple[tuple[int, int], ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return "(" + " ".join((self.predicate, *self.args)) + ")"


@dataclass(frozen=True, slots=True)
class Literal:
    """An atom or its negation; the predicate ``=`` stands for equality."""

    atom: Atom
    positive: bool = True

    def __str__(self) -> str:
        return str(self.atom) if self.positive else f"(not {self.atom})"


@dataclass(frozen=True, slots=True)
class Action:
    """An action schema.

    Its cost is ``cost`` plus the values of the ground ``cost_terms`` (static
    functions looked up in the problem's ``:init``).
    """

    name: str
    parameters: tuple[TypedName, ...]
    precondition: tuple[Literal, ...]
    add: tuple[Atom, ...]
    delete: tuple[Atom, ...]
    cost: int = 0
    cost_terms: tuple[Atom, ...] = ()
    line: int = field(default=0, compare=False)
    col: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Domain:
    """A parsed domain file; ``types`` maps each type to its parent type."""

    path: str
    name: str
    requirements: tuple[str, ...]
    types: Mapping[str, str]
    constants: tuple[TypedName, ...]
    predicates: Mapping[str, tuple[TypedName, ...]]
    functions: Mapping[str, tuple[TypedName, ...]]
    actions: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """A parsed problem file.

    ``init_values`` holds the ``(= (f a b) 5)`` entries of ``:init``; ``metric``
    is true for ``(:metric minimize (total-cost))``.
    """

    path: str
    name: str
    domain_name: str
    objects: tuple[TypedName, ...]
    init: tuple[Atom, ...]
    init_values: tuple[tuple[Atom, int], ...]
    goal: tuple[Literal, ...]
    metric: bool
    domain_line: int = field(default=0, compare=False)
    domain_col: int = field(default=0, compare=False)


# ---------------------------------------------------------------------------
# Shared reading helpers

SUPPORTED_REQUIREMENTS = frozenset(
    {
        ":strips",
        ":typing",
        ":negative-preconditions",
        ":equality",
        ":action-costs",
    }
)
# Declaring these is harmless; using one of their constructs raises at the use.
_TOLERATED_REQUIREMENTS = frozenset(
    {
        ":adl",
        ":disjunctive-preconditions",
        ":existential-preconditions",
        ":universal-preconditions",
        ":quantified-preconditions",
        ":conditional-effects",
    }
)
_UNSUPPORTED_REQUIREMENTS = frozenset(
    {
        ":numeric-fluents",
        ":fluents",
        ":object-fluents",
        ":durative-actions",
        ":duration-inequalities",
        ":continuous-effects",
        ":derived-predicates",
        ":timed-initial-literals",
        ":preferences",
        ":constraints",
    }
)

_UNSUPPORTED_CONDITIONS = {
    "or": "disjunctive conditions",
    "imply": "implications",
    "exists": "existential quantifiers",
    "forall": "universal quantifiers",
    "when": "conditional effects",
    "preference": "preferences",
}
_NUMERIC_COMPARISONS = frozenset({"<", ">", "<=", ">="})
_NUMERIC_EFFECTS = frozenset({"decrease", "assign", "scale-up", "scale-down"})
_CONNECTIVES = frozenset({"and", "not", *_UNSUPPORTED_CONDITIONS})


class _Reader:
    """Helpers bound to one file, so every error names that file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def error(self, node: SExpr, message: str) -> PddlError:
        """Return an error located at ``node``."""
        return PddlError(self.path, node.line, node.col, message)

    def atom(self, node: SExpr, what: str) -> SAtom:
        """Return ``node`` if it is a token, else raise."""
        if not isinstance(node, SAtom):
            raise self.error(node, f"expected {what}, found a list")
        return node

    def slist(self, node: SExpr, what: str) -> SList:
        """Return ``node`` if it is a list, else raise."""
        if not isinstance(node, SList):
            raise self.error(node, f"expected {what}, found '{node.text}'")
        return node

    def head(self, node: SList, what: str) -> SAtom:
        """Return the first item of ``node``, which must be a token."""
        if not node.items:
            raise self.error(node, f"expected {what}, found ()")
        return self.atom(node.items[0], what)

    def name(self, node: SExpr, what: str) -> SAtom:
        """Return ``node`` if it is a plain name (not a variable or keyword)."""
        tok = self.atom(node, what)
        if tok.text.startswith(("?", ":")) or tok.text == "-":
            raise self.error(tok, f"expected {what}, found '{tok.text}'")
        return tok

    def define(self, text: str, kind: str) -> tuple[SAtom, list[SList]]:
        """Return the name and the sections of ``(define (KIND name) ...)``."""
        exprs = read_sexprs(text, self.path, single=True)
        if not exprs:
            raise PddlError(self.path, 1, 1, f"empty file: expected (define ({kind}")
        top = self.slist(exprs[0], "(define ...)")
        head = self.head(top, "(define ...)")
        if head.text != "define":
            raise self.error(head, f"expected 'define', found '{head.text}'")
        if len(top.items) < 2:
            raise self.error(top, f"expected ({kind} NAME) after 'define'")
        decl = self.slist(top.items[1], f"({kind} NAME)")
        kw = self.head(decl, f"({kind} NAME)")
        if kw.text != kind or len(decl.items) != 2:
            other = "problem" if kind == "domain" else "domain"
            hint = f": this is a {other} file" if kw.text == other else ""
            raise self.error(decl, f"expected ({kind} NAME){hint}")
        name = self.name(decl.items[1], f"the {kind} name")
        sections = [self.slist(s, "a section like (:...)") for s in top.items[2:]]
        for s in sections:
            kw = self.head(s, "a section keyword")
            if not kw.text.startswith(":"):
                raise self.error(kw, f"expected a section keyword, found '{kw.text}'")
        return name, sections

    def typed_list(
        self, items: Sequence[SExpr], what: str, variables: bool
    ) -> list[TypedName]:
        """Read ``a b - t c - (either u v) d`` (untyped names are ``object``)."""
        out: list[TypedName] = []
        pending: list[SAtom] = []
        i = 0
        while i < len(items):
            node = items[i]
            if isinstance(node, SAtom) and node.text == "-":
                if not pending:
                    raise self.error(node, f"'-' without a {what} before it")
                if i + 1 >= len(items):
                    raise self.error(node, "expected a type after '-'")
                tnode = items[i + 1]
                types = self.type_spec(tnode)
                out.extend(
                    TypedName(p.text, types, p.line, p.col, tnode.line, tnode.col)
                    for p in pending
                )
                pending = []
                i += 2
                continue
            tok = self.atom(node, what)
            if tok.text.startswith("?") != variables:
                raise self.error(tok, f"expected {what}, found '{tok.text}'")
            if variables and len(tok.text) == 1:
                raise self.error(tok, "'?' without a variable name")
            pending.append(tok)
            i += 1
        out.extend(TypedName(p.text, ("object",), p.line, p.col) for p in pending)
        return out

    def type_spec(self, node: SExpr) -> tuple[str, ...]:
        """Return the type names of ``t`` or ``(either t u ...)``."""
        if isinstance(node, SAtom):
            return (self.name(node, "a type name").text,)
        head = self.head(node, "a type")
        if head.text != "either" or len(node.items) < 2:
            raise self.error(node, "expected a type name or (either TYPE ...)")
        return tuple(self.name(t, "a type name").text for t in node.items[1:])

    def number(self, node: SExpr, what: str) -> int:
        """Return a non-negative whole number written as ``node``."""
        tok = self.atom(node, what)
        try:
            value = float(tok.text)
        except ValueError:
            raise self.error(tok, f"expected {what}, found '{tok.text}'") from None
        if value != int(value):
            raise self.error(tok, f"{what} must be a whole number, found {tok.text}")
        if value < 0:
            raise self.error(tok, f"{what} must not be negative, found {tok.text}")
        return int(value)

    def term_atom(self, node: SList, what: str) -> Atom:
        """Read ``(pred term ...)`` where every term is a name or variable."""
        head = self.head(node, what)
        if head.text in _CONNECTIVES or head.text.startswith(":"):
            raise self.error(head, f"expected {what}, found '{head.text}'")
        args: list[str] = []
        pos = [(head.line, head.col)]
        for arg in node.items[1:]:
            if isinstance(arg, SList):
                raise self.error(
                    arg, f"nested term in {what}: function terms are not supported"
                )
            args.append(arg.text)
            pos.append((arg.line, arg.col))
        return Atom(head.text, tuple(args), node.line, node.col, tuple(pos))

    def unsupported(self, head: SAtom) -> PddlError:
        """Return the error for a construct outside the subset."""
        what = _UNSUPPORTED_CONDITIONS.get(head.text)
        if what is not None:
            return self.error(head, f"unsupported construct '{head.text}': {what}")
        if head.text in _NUMERIC_COMPARISONS:
            return self.error(
                head,
                f"unsupported construct '{head.text}': numeric conditions are "
                "not supported",
            )
        return self.error(head, f"unsupported construct '{head.text}'")

    def condition(self, node: SExpr, out: list[Literal]) -> None:
        """Append the literals of a conjunctive condition to ``out``."""
        lst = self.slist(node, "a condition")
        if not lst.items:
            return
        head = self.head(lst, "a condition")
        if head.text == "and":
            for child in lst.items[1:]:
                self.condition(child, out)
        elif head.text == "not":
            if len(lst.items) != 2:
                raise self.error(lst, "'not' takes exactly one condition")
            inner = self.slist(lst.items[1], "a condition after 'not'")
            ihead = self.head(inner, "a condition after 'not'")
            if ihead.text in _CONNECTIVES or ihead.text in _NUMERIC_COMPARISONS:
                if ihead.text in ("and", "not"):
                    raise self.error(
                        ihead,
                        f"unsupported construct 'not ({ihead.text} ...)': only "
                        "atoms can be negated",
                    )
                raise self.unsupported(ihead)
            out.append(Literal(self.literal_atom(inner), False))
        elif head.text in _UNSUPPORTED_CONDITIONS or head.text in _NUMERIC_COMPARISONS:
            raise self.unsupported(head)
        else:
            out.append(Literal(self.literal_atom(lst), True))

    def literal_atom(self, node: SList) -> Atom:
        """Return the atom of a literal, including ``(= a b)``."""
        head = self.head(node, "an atom")
        if head.text == "=":
            if len(node.items) != 3:
                raise self.error(node, "'=' takes exactly two terms")
            if any(isinstance(a, SList) for a in node.items[1:]):
                raise self.error(
                    head,
                    "unsupported construct '=' on function terms: numeric "
                    "conditions are not supported",
                )
        return self.term_atom(node, "an atom")


# ---------------------------------------------------------------------------
# Domains


def parse_domain(path: str | Path) -> Domain:
    """Parse the domain file at ``path``."""
    return parse_domain_text(Path(path).read_text(encoding="utf-8"), path)


def parse_domain_text(text: str, path: str | Path = "<domain>") -> Domain:
    """Parse domain source ``text``; ``path`` is only used in messages."""
    r = _Reader(path)
    name, sections = r.define(text, "domain")
    by_kind: dict[str, list[SList]] = {}
    for s in sections:
        kw = r.head(s, "a section keyword")
        if kw.text in (":derived", ":durative-action", ":constraints", ":process"):
            raise r.error(kw, f"unsupported construct '{kw.text}'")
        if kw.text not in (
            ":requirements",
            ":types",
            ":constants",
            ":predicates",
            ":functions",
            ":action",
        ):
            raise r.error(kw, f"unknown domain section '{kw.text}'")
        if kw.text != ":action" and kw.text in by_kind:
            raise r.error(kw, f"duplicate section '{kw.text}'")
        by_kind.setdefault(kw.text, []).append(s)

    def section(kw: str) -> tuple[SExpr, ...]:
        found = by_kind.get(kw)
        return found[0].items[1:] if found else ()

    requirements = _requirements(r, section(":requirements"))
    types = _types(r, section(":types"))
    known_types = set(types) | {"object"}

    def check_types(names: Sequence[TypedName]) -> None:
        for tn in names:
            for t in tn.types:
                if t not in known_types:
                    raise PddlError(
                        r.path, tn.type_line, tn.type_col, f"unknown type '{t}'"
                    )

    constants = r.typed_list(section(":constants"), "a constant name", False)
    check_types(constants)
    _no_duplicates(r, constants, "constant")

    predicates: dict[str, tuple[TypedName, ...]] = {}
    for node in section(":predicates"):
        decl = r.slist(node, "a predicate declaration (name ?x ...)")
        pname = r.name(decl.items[0] if decl.items else decl, "a predicate name")
        if pname.text == "=":
            raise r.error(pname, "'=' is built in and cannot be declared")
        if pname.text in predicates:
            raise r.error(pname, f"duplicate predicate '{pname.text}'")
        params = r.typed_list(decl.items[1:], "a variable like ?x", True)
        check_types(params)
        predicates[pname.text] = tuple(params)

    functions = _functions(r, section(":functions"), check_types)

    const_names = {c.name for c in constants}
    actions: list[Action] = []
    for s in by_kind.get(":action", []):
        act = _action(r, s, predicates, functions, const_names, check_types)
        if any(a.name == act.name for a in actions):
            raise PddlError(r.path, act.line, act.col, f"duplicate action '{act.name}'")
        actions.append(act)
    return Domain(
        path=r.path,
        name=name.text,
        requirements=requirements,
        types=types,
        constants=tuple(constants),
        predicates=predicates,
        functions=functions,
        actions=tuple(actions),
    )


def _requirements(r: _Reader, items: Sequence[SExpr]) -> tuple[str, ...]:
    out: list[str] = []
    for node in items:
        tok = r.atom(node, "a requirement like :strips")
        if tok.text in _UNSUPPORTED_REQUIREMENTS:
            raise r.error(tok, f"unsupported requirement '{tok.text}'")
        if tok.text not in SUPPORTED_REQUIREMENTS | _TOLERATED_REQUIREMENTS:
            raise r.error(tok, f"unknown requirement '{tok.text}'")
        out.append(tok.text)
    return tuple(out)


def _types(r: _Reader, items: Sequence[SExpr]) -> dict[str, str]:
    parent: dict[str, str] = {}
    where: dict[str, TypedName] = {}
    for tn in r.typed_list(items, "a type name", False):
        if len(tn.types) > 1:
            raise PddlError(
                r.path,
                tn.type_line,
                tn.type_col,
                "unsupported construct 'either' as a supertype",
            )
        if tn.name == "object":
            continue
        if tn.name in parent and parent[tn.name] != tn.types[0]:
            raise PddlError(r.path, tn.line, tn.col, f"type '{tn.name}' declared twice")
        parent[tn.name] = tn.types[0]
        where[tn.name] = tn
    # A supertype that is only mentioned after '-' is a type under 'object'.
    for sup in list(parent.values()):
        if sup != "object" and sup not in parent:
            parent[sup] = "object"
    for start in parent:
        seen = {start}
        t = parent[start]
        while t != "object":
            if t in seen:
                tn = where[start]
                raise PddlError(
                    r.path, tn.line, tn.col, f"cycle in the type hierarchy at '{t}'"
                )
            seen.add(t)
            t = parent[t]
    return parent


def _functions(
    r: _Reader,
    items: Sequence[SExpr],
    check_types: Callable[[Sequence[TypedName]], None],
) -> dict[str, tuple[TypedName, ...]]:
    functions: dict[str, tuple[TypedName, ...]] = {}
    i = 0
    while i < len(items):
        node = items[i]
        if isinstance(node, SAtom) and node.text == "-":
            if i + 1 >= len(items):
                raise r.error(node, "expected a type after '-'")
            rtype = r.atom(items[i + 1], "'number'")
            if rtype.text != "number":
                raise r.error(
                    rtype,
                    f"unsupported construct: function type '{rtype.text}' "
                    "(only number)",
                )
            i += 2
            continue
        decl = r.slist(node, "a function declaration (name ?x ...)")
        fname = r.name(decl.items[0] if decl.items else decl, "a function name")
        if fname.text in functions:
            raise r.error(fname, f"duplicate function '{fname.text}'")
        params = r.typed_list(decl.items[1:], "a variable like ?x", True)
        check_types(params)
        if fname.text == "total-cost" and params:
            raise r.error(fname, "'total-cost' takes no arguments")
        functions[fname.text] = tuple(params)
        i += 1
    return functions


def _no_duplicates(r: _Reader, names: Sequence[TypedName], what: str) -> None:
    seen: set[str] = set()
    for tn in names:
        if tn.name in seen:
            raise PddlError(r.path, tn.line, tn.col, f"duplicate {what} '{tn.name}'")
        seen.add(tn.name)


def _action(
    r: _Reader,
    node: SList,
    predicates: Mapping[str, tuple[TypedName, ...]],
    functions: Mapping[str, tuple[TypedName, ...]],
    constants: set[str],
    check_types: Callable[[Sequence[TypedName]], None],
) -> Action:
    if len(node.items) < 2:
        raise r.error(node, "expected an action name after ':action'")
    aname = r.name(node.items[1], "an action name")
    parts: dict[str, SExpr] = {}
    i = 2
    while i < len(node.items):
        key = r.atom(node.items[i], "a keyword like :parameters")
        if key.text not in (":parameters", ":precondition", ":effect"):
            raise r.error(key, f"unknown action keyword '{key.text}'")
        if key.text in parts:
            raise r.error(key, f"duplicate '{key.text}'")
        if i + 1 >= len(node.items):
            raise r.error(key, f"expected a value after '{key.text}'")
        parts[key.text] = node.items[i + 1]
        i += 2

    params: list[TypedName] = []
    if ":parameters" in parts:
        plist = r.slist(parts[":parameters"], "a parameter list (?x ...)")
        params = r.typed_list(plist.items, "a variable like ?x", True)
        check_types(params)
        _no_duplicates(r, params, "parameter")
    variables = {p.name for p in params}

    def check_atom(atom: Atom, kind: str = "predicate") -> None:
        table = predicates if kind == "predicate" else functions
        if atom.predicate != "=":
            decl = table.get(atom.predicate)
            if decl is None:
                line, col = atom.pos[0]
                raise PddlError(r.path, line, col, f"unknown {kind} '{atom.predicate}'")
            if len(decl) != len(atom.args):
                raise PddlError(
                    r.path,
                    atom.line,
                    atom.col,
                    f"{kind} '{atom.predicate}' takes {len(decl)} argument(s), "
                    f"found {len(atom.args)}",
                )
        for arg, (line, col) in zip(atom.args, atom.pos[1:], strict=True):
            if arg.startswith("?"):
                if arg not in variables:
                    raise PddlError(
                        r.path, line, col, f"unknown variable '{arg}' in '{aname.text}'"
                    )
            elif arg not in constants:
                raise PddlError(r.path, line, col, f"unknown constant '{arg}'")

    pre: list[Literal] = []
    if ":precondition" in parts:
        r.condition(parts[":precondition"], pre)
    for lit in pre:
        check_atom(lit.atom)

    add: list[Atom] = []
    delete: list[Atom] = []
    cost_terms: list[Atom] = []
    cost = [0]
    if ":effect" in parts:
        _effect(r, parts[":effect"], add, delete, cost, cost_terms)
    for atom in (*add, *delete):
        check_atom(atom)
    for atom in cost_terms:
        check_atom(atom, "function")
    return Action(
        name=aname.text,
        parameters=tuple(params),
        precondition=tuple(pre),
        add=tuple(add),
        delete=tuple(delete),
        cost=cost[0],
        cost_terms=tuple(cost_terms),
        line=aname.line,
        col=aname.col,
    )


def _effect(
    r: _Reader,
    node: SExpr,
    add: list[Atom],
    delete: list[Atom],
    cost: list[int],
    cost_terms: list[Atom],
) -> None:
    lst = r.slist(node, "an effect")
    if not lst.items:
        return
    head = r.head(lst, "an effect")
    if head.text == "and":
        for child in lst.items[1:]:
            _effect(r, child, add, delete, cost, cost_terms)
    elif head.text == "not":
        if len(lst.items) != 2:
            raise r.error(lst, "'not' takes exactly one atom")
        inner = r.slist(lst.items[1], "an atom after 'not'")
        ihead = r.head(inner, "an atom after 'not'")
        if ihead.text in _CONNECTIVES or ihead.text == "=":
            raise r.error(ihead, f"unsupported construct 'not ({ihead.text} ...)'")
        delete.append(r.term_atom(inner, "an atom"))
    elif head.text == "increase":
        if len(lst.items) != 3:
            raise r.error(lst, "'increase' takes a function and a value")
        target = r.slist(lst.items[1], "(total-cost)")
        thead = r.head(target, "(total-cost)")
        if thead.text != "total-cost" or len(target.items) != 1:
            raise r.error(
                head,
                f"unsupported construct 'increase' of '{thead.text}': numeric "
                "fluents other than (total-cost) are not supported",
            )
        value = lst.items[2]
        if isinstance(value, SAtom):
            cost[0] += r.number(value, "an action cost")
        else:
            vhead = r.head(value, "a cost value")
            if vhead.text in ("+", "-", "*", "/"):
                raise r.error(
                    vhead,
                    f"unsupported construct '{vhead.text}': arithmetic in costs",
                )
            cost_terms.append(r.term_atom(value, "a function term"))
    elif head.text in _NUMERIC_EFFECTS:
        raise r.error(
            head,
            f"unsupported construct '{head.text}': numeric fluents other than "
            "(increase (total-cost) ...) are not supported",
        )
    elif head.text in _UNSUPPORTED_CONDITIONS:
        raise r.unsupported(head)
    elif head.text == "=":
        raise r.error(head, "'=' cannot be an effect")
    else:
        add.append(r.term_atom(lst, "an atom"))


# ---------------------------------------------------------------------------
# Problems


def parse_problem(path: str | Path, domain: Domain | None = None) -> Problem:
    """Parse the problem file at ``path``, checked against ``domain`` if given."""
    return parse_problem_text(Path(path).read_text(encoding="utf-8"), path, domain)


def parse_problem_text(
    text: str, path: str | Path = "<problem>", domain: Domain | None = None
) -> Problem:
    """Parse problem source ``text``; ``path`` is only used in messages."""
    r = _Reader(path)
    name, sections = r.define(text, "problem")
    seen: set[str] = set()
    domain_tok: SAtom | None = None
    objects: list[TypedName] = []
    init: list[Atom] = []
    values: list[tuple[Atom, int]] = []
    goal: list[Literal] = []
    metric = False
    has_goal = False
    for s in sections:
        kw = r.head(s, "a section keyword")
        if kw.text in seen:
            raise r.error(kw, f"duplicate section '{kw.text}'")
        seen.add(kw.text)
        body = s.items[1:]
        if kw.text == ":domain":
            if len(body) != 1:
                raise r.error(s, "expected (:domain NAME)")
            domain_tok = r.name(body[0], "a domain name")
        elif kw.text == ":requirements":
            _requirements(r, body)
        elif kw.text == ":objects":
            objects = r.typed_list(body, "an object name", False)
            _no_duplicates(r, objects, "object")
        elif kw.text == ":init":
            for node in body:
                _init_entry(r, node, init, values)
        elif kw.text == ":goal":
            if len(body) != 1:
                raise r.error(s, "expected (:goal CONDITION)")
            r.condition(body[0], goal)
            for lit in goal:
                if lit.atom.predicate == "=":
                    line, col = lit.atom.pos[0]
                    raise PddlError(
                        r.path, line, col, "unsupported construct '=' in :goal"
                    )
                for arg, (line, col) in zip(
                    lit.atom.args, lit.atom.pos[1:], strict=True
                ):
                    if arg.startswith("?"):
                        raise PddlError(
                            r.path, line, col, f"unknown variable '{arg}' in :goal"
                        )
            has_goal = True
        elif kw.text == ":metric":
            metric = _metric(r, s)
        elif kw.text in (":constraints", ":length"):
            raise r.error(kw, f"unsupported construct '{kw.text}'")
        else:
            raise r.error(kw, f"unknown problem section '{kw.text}'")
    if domain_tok is None:
        raise PddlError(r.path, name.line, name.col, "missing (:domain NAME)")
    if not has_goal:
        raise PddlError(r.path, name.line, name.col, "missing (:goal ...)")
    problem = Problem(
        path=r.path,
        name=name.text,
        domain_name=domain_tok.text,
        objects=tuple(objects),
        init=tuple(init),
        init_values=tuple(values),
        goal=tuple(goal),
        metric=metric,
        domain_line=domain_tok.line,
        domain_col=domain_tok.col,
    )
    if domain is not None:
        check_problem(domain, problem)
    return problem


def _init_entry(
    r: _Reader, node: SExpr, init: list[Atom], values: list[tuple[Atom, int]]
) -> None:
    lst = r.slist(node, "an atom like (p a b)")
    head = r.head(lst, "an atom like (p a b)")
    if head.text == "=":
        if len(lst.items) != 3:
            raise r.error(lst, "expected (= (function ...) VALUE)")
        fterm = r.slist(lst.items[1], "a function term")
        fatom = r.term_atom(fterm, "a function term")
        values.append((fatom, r.number(lst.items[2], "a function value")))
    elif head.text == "not":
        raise r.error(head, "negative literals are not allowed in :init")
    elif head.text == "at" and any(isinstance(a, SList) for a in lst.items[1:]):
        raise r.error(head, "unsupported construct 'at': timed initial literals")
    elif head.text in _CONNECTIVES:
        raise r.unsupported(head)
    else:
        init.append(r.term_atom(lst, "an atom"))


def _metric(r: _Reader, s: SList) -> bool:
    body = s.items[1:]
    if (
        len(body) == 2
        and isinstance(body[0], SAtom)
        and body[0].text == "minimize"
        and isinstance(body[1], SList)
        and len(body[1].items) == 1
        and isinstance(body[1].items[0], SAtom)
        and body[1].items[0].text == "total-cost"
    ):
        return True
    raise r.error(
        s, "unsupported construct ':metric': only (:metric minimize (total-cost))"
    )


def _object_types(domain: Domain, problem: Problem) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for tn in (*domain.constants, *problem.objects):
        # An object repeated in :constants and :objects belongs to both types.
        out[tn.name] = tuple(dict.fromkeys((*out.get(tn.name, ()), *tn.types)))
    return out


def check_problem(domain: Domain, problem: Problem) -> None:
    """Raise :class:`PddlError` where ``problem`` does not fit ``domain``."""
    path = problem.path
    if problem.domain_name != domain.name:
        raise PddlError(
            path,
            problem.domain_line,
            problem.domain_col,
            f"problem is for domain '{problem.domain_name}', not '{domain.name}'",
        )
    known_types = set(domain.types) | {"object"}
    for tn in problem.objects:
        for t in tn.types:
            if t not in known_types:
                raise PddlError(path, tn.type_line, tn.type_col, f"unknown type '{t}'")
    objects = _object_types(domain, problem)

    def check(
        atom: Atom, table: Mapping[str, tuple[TypedName, ...]], kind: str
    ) -> None:
        decl = table.get(atom.predicate)
        if decl is None:
            line, col = atom.pos[0]
            raise PddlError(path, line, col, f"unknown {kind} '{atom.predicate}'")
        if len(decl) != len(atom.args):
            raise PddlError(
                path,
                atom.line,
                atom.col,
                f"{kind} '{atom.predicate}' takes {len(decl)} argument(s), "
                f"found {len(atom.args)}",
            )
        for arg, (line, col) in zip(atom.args, atom.pos[1:], strict=True):
            if arg not in objects:
                raise PddlError(path, line, col, f"unknown object '{arg}'")

    for atom in problem.init:
        check(atom, domain.predicates, "predicate")
    for atom, _ in problem.init_values:
        # Many files set (total-cost) to 0 without declaring it; that is harmless.
        if atom.predicate != "total-cost" or atom.args:
            check(atom, domain.functions, "function")
    for lit in problem.goal:
        check(lit.atom, domain.predicates, "predicate")


def object_types(domain: Domain, problem: Problem) -> dict[str, tuple[str, ...]]:
    """Return each object and constant with the types it was declared with."""
    return _object_types(domain, problem)


def iter_subtypes(domain: Domain) -> Iterator[tuple[str, str]]:
    """Yield ``(type, ancestor)`` for every type and each of its supertypes."""
    for t in (*domain.types, "object"):
        a = t
        yield t, a
        while a != "object":
            a = domain.types[a]
            yield t, a
