"""The names a goal or pack file sees, and compiling its expressions against them.

Each file has a namespace (its alias from ``as:``, else its file name).  A
short name means the file's own variable first, else the only variable of that
name in any pack; ``ns.name`` always works.  ``Scope`` holds what the readers
of the sections (state, actions, goal, overrides) share: those tables, the
problems found so far, and the helpers that turn expressions, conditions and
timeouts into the model's values.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..documents import Document, PathKey
from ..errors import Location
from ..expressions import Expr, ExprError, Symbol, compile_expr
from ..model import Action, StateVar

if TYPE_CHECKING:
    from .uses import LoadContext
    from .var_inputs import VarInput

V = TypeVar("V")

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """Return seconds for ``'1h30m'``, ``'90s'``, ``'250ms'`` or a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(str(value)))


class Layered(Mapping[str, V]):
    """A file's own names over the shared table, without copying either.

    ``collections.ChainMap`` does the same, but every lookup goes through a
    generator over its maps; expressions of 10,000 actions look names up
    hundreds of thousands of times while loading.
    """

    __slots__ = ("own", "shared")

    def __init__(self, own: Mapping[str, V], shared: Mapping[str, V]) -> None:
        self.own = own
        self.shared = shared

    def __getitem__(self, name: str) -> V:
        if name in self.own:
            return self.own[name]
        return self.shared[name]

    def get(self, name: str, default: Any = None) -> Any:
        if name in self.own:
            return self.own[name]
        return self.shared.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self.own or name in self.shared

    def __iter__(self) -> Iterator[str]:
        yield from self.own
        yield from (name for name in self.shared if name not in self.own)

    def __len__(self) -> int:
        return len(self.own) + sum(1 for name in self.shared if name not in self.own)


class Scope:
    """What the readers of every section share: files, names, symbols, problems."""

    def __init__(self, ctx: LoadContext, var_inputs: Sequence[VarInput]) -> None:
        self.ctx = ctx
        self.docs = ctx.documents
        self.root = ctx.documents[-1]
        self.var_inputs = var_inputs
        self.vars: dict[str, Any] = {}
        self.variables: list[StateVar] = []
        self.var_docs: dict[str, tuple[Document, Location]] = {}
        self.symbols: dict[str, Symbol] = {}
        self.actions: list[Action] = []
        self.secrets: list[str] = []
        self.environment: set[str] = set()
        """Environment variables templates may read: declared or secret."""
        self.tables: dict[Path, Mapping[str, StateVar]] = {}
        self.doc_symbols: dict[Path, Mapping[str, Symbol]] = {}
        self.by_ns: dict[str, dict[str, StateVar]] = {}
        self._global: dict[str, StateVar] | None = None
        self._global_symbols: dict[str, Symbol] | None = None
        self.state_done = False
        self.ambiguous: dict[str, list[str]] = {}
        self.declared: dict[tuple[str, str], StateVar] = {}
        self.clashing_vars = _clashing(self.docs, "state")
        self.clashing_actions = _clashing(self.docs, "actions")

    def ns(self, doc: Document) -> str:
        return self.ctx.namespaces.get(doc.path, doc.path.stem)

    def qualified(self, doc: Document, name: str, clashing: set[str]) -> str:
        """Return ``name`` as the ruleset knows it: ``ns.name`` only if it clashes."""
        return f"{self.ns(doc)}.{name}" if name in clashing else name

    def _global_table(self) -> dict[str, StateVar]:
        """Return every ``ns.name``, and each short name that only one pack has."""
        if self._global is not None and self.state_done:
            return self._global
        table: dict[str, StateVar] = {}
        owners: dict[str, list[str]] = {}
        for (ns, short), var in self.declared.items():
            table[f"{ns}.{short}"] = var
            owners.setdefault(short, []).append(ns)
        for short, namespaces in owners.items():
            if len(namespaces) == 1:
                table[short] = self.declared[(namespaces[0], short)]
            else:
                self.ambiguous[short] = sorted(namespaces)
        if self.state_done:
            self._global = table
        return table

    def table(self, doc: Document) -> Mapping[str, StateVar]:
        """Return the state variables ``doc`` can name, short names resolved.

        A short name means the document's own variable first, else the only
        variable of that name; ``ns.name`` always works.  The document's own
        names are layered over one shared table, so this stays linear in the
        number of packs.
        """
        if doc.path in self.tables:
            return self.tables[doc.path]
        own = self.ns(doc)
        table = Layered(self.by_ns.get(own, {}), self._global_table())
        if self.state_done:
            self.tables[doc.path] = table
        return table

    def symbols_for(self, doc: Document) -> Mapping[str, Symbol]:
        if doc.path in self.doc_symbols:
            return self.doc_symbols[doc.path]
        if self._global_symbols is None or not self.state_done:
            shared = dict(self.symbols)
            shared.update((n, v.symbol()) for n, v in self._global_table().items())
            if self.state_done:
                self._global_symbols = shared
        else:
            shared = self._global_symbols
        own = self.ns(doc)
        mine = {short: var.symbol() for short, var in self.by_ns.get(own, {}).items()}
        symbols = Layered(mine, shared)
        if self.state_done:
            self.doc_symbols[doc.path] = symbols
        return symbols

    def error(self, location: Location, message: str, entity: str = "") -> None:
        self.ctx.error(location, message, entity)

    def timeout(self, doc: Document, keys: PathKey, raw: Any, entity: str) -> float:
        """Return a timeout (or poll interval) in seconds, which must be positive.

        Zero would fail every run at once (or poll without pause).
        """
        seconds = parse_duration(raw)
        if seconds <= 0:
            what = "an interval" if keys[-1] == "interval" else "a timeout"
            self.error(
                doc.where(keys),
                f"{what} must be more than 0 (found {raw!r}); leave it out "
                "for the default",
                entity,
            )
            return 1.0
        return seconds

    def compile(
        self, doc: Document, keys: PathKey, source: Any, entity: str, what: str
    ) -> Expr | None:
        text = str(source)
        try:
            return compile_expr(text, self.symbols_for(doc))
        except ExprError as exc:
            message = exc.message
            unknown = re.fullmatch(r"unknown name '(\w+)'", message)
            if unknown and unknown.group(1) in self.ambiguous:
                short = unknown.group(1)
                owners = self.ambiguous[short]
                message = (
                    f"'{short}' is declared by the packs {', '.join(owners)}: "
                    f"write {' or '.join(f'{o}.{short}' for o in owners)}"
                )
            elif unknown and len(unknown.group(1)) < 100:
                # Only on an error: the names are compared once, not per load.
                close = difflib.get_close_matches(
                    unknown.group(1), list(self.symbols_for(doc)), n=1
                )
                if close:
                    message += f" (did you mean '{close[0]}'?)"
            self.error(
                doc.expr_where(keys, exc.col),
                f"{what} '{clip(text)}': {message}",
                entity,
            )
            return None

    def condition_list(
        self, doc: Document, keys: PathKey, raw: Any, entity: str, what: str
    ) -> list[tuple[Expr, Location]]:
        items = [raw] if isinstance(raw, str) else list(raw or [])
        item_keys = (
            [keys] if isinstance(raw, str) else [(*keys, i) for i in range(len(items))]
        )
        result = []
        for item, k in zip(items, item_keys, strict=True):
            expr = self.compile(doc, k, item, entity, what)
            if expr is None:
                continue
            if expr.type != "bool":
                self.error(
                    doc.where(k),
                    f"{what} '{clip(str(item))}' must be a boolean, found {expr.type}",
                    entity,
                )
                continue
            result.append((expr, doc.where(k)))
        return result


def _clashing(docs: list[Document], section: str) -> set[str]:
    """Return the names declared in ``section`` by more than one document."""
    seen: dict[str, int] = {}
    for doc in docs:
        for name in doc.data.get(section) or {}:
            seen[name] = seen.get(name, 0) + 1
    return {name for name, count in seen.items() if count > 1}


def plain_value(value: Any) -> Any:
    """Return a copy of ``value`` whose mapping keys are all strings."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    return value


def clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
