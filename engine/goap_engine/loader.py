"""Load a goal (or a pack) and everything it uses into an immutable ``Ruleset``.

The loader reads every file once, checks it against its schema, follows
``uses`` (files and folders, cycles refused), then builds the model in three
passes -- variables, then state, then actions and goal -- so that each
expression is compiled against the complete set of declared names.  It collects
every problem it finds and raises them together.
"""

from __future__ import annotations

import json
import re
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, cast

from .documents import (
    Document,
    PathKey,
    check_schema,
    entity_of,
    read_document,
    yaml_type,
)
from .errors import Diagnostic, FileError, InputError, Location
from .expressions import Expr, ExprError, Symbol, compile_expr, literal
from .files import (
    is_inside,
    outside_message,
    project_root,
    regular_file_problem,
    resolved,
)
from .model import (
    DEFAULTS,
    Action,
    Condition,
    Effect,
    Hook,
    Lifetime,
    Pack,
    Policy,
    Ruleset,
    Sensor,
    SensorSource,
    StateVar,
    SubGoal,
    VarType,
    Wait,
)
from .packtree import Fence, check_local_pack
from .sources import Lockfile, PackSource, SourceError, lock_path, parse_source, resolve
from .templates import shell_problems, strings_in, template_names

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
YAML_SUFFIXES = (".yaml", ".yml")


def parse_duration(value: Any) -> float:
    """Return seconds for ``'1h30m'``, ``'90s'``, ``'250ms'`` or a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(str(value)))


@dataclass
class _Context:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    loaded: set[Path] = field(default_factory=set)
    namespaces: dict[Path, str] = field(default_factory=dict)
    lock_file: Path | None = None
    update: bool | frozenset[str] = False
    _lock: Lockfile | None = None

    def lock(self) -> Lockfile:
        """Return the goal's lock file, read on first use (remote packs only)."""
        if self._lock is None:
            assert self.lock_file is not None
            self._lock = Lockfile.load(self.lock_file)
            self._before = json.dumps(self._lock.entries, sort_keys=True)
        return self._lock

    def wants_update(self, source: PackSource) -> bool:
        if isinstance(self.update, bool):
            return self.update
        return source.name in self.update or source.spec in self.update

    def save_lock(self) -> None:
        """Write the lock file when resolving added or refreshed an entry."""
        if self._lock is None:
            return
        if json.dumps(self._lock.entries, sort_keys=True) != self._before:
            self._lock.save()

    def error(self, location: Location, message: str, entity: str = "") -> None:
        self.diagnostics.append(Diagnostic(location, message, entity))


def load(
    path: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    update: bool | frozenset[str] = False,
) -> Ruleset:
    """Return the ruleset of the goal or pack at ``path``; raise ``InputError``.

    ``update`` refreshes remote packs (all, or those named) in the lock file.
    """
    ruleset, diagnostics = load_with_diagnostics(
        path, overrides=overrides, update=update
    )
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors or ruleset is None:
        raise InputError(errors)
    return ruleset


def load_with_diagnostics(
    path: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    update: bool | frozenset[str] = False,
) -> tuple[Ruleset | None, list[Diagnostic]]:
    """Return the ruleset and every problem found.

    When the files parse and match their schemas, the ruleset is returned even
    if some expressions or names are wrong -- without the broken parts -- so
    that validation can go on and report everything at once.  Callers that
    plan or run must use ``load``, which refuses any error.
    """
    root = Path(path)
    ctx = _Context(lock_file=lock_path(root.absolute()), update=update)
    _read_tree(ctx, root.absolute(), chain=())
    if not any(d.severity == "error" for d in ctx.diagnostics):
        try:
            ctx.save_lock()
        except (SourceError, OSError) as exc:
            ctx.error(Location.of(ctx.lock_file or root), f"cannot write: {exc}")
    if any(d.severity == "error" for d in ctx.diagnostics) or not ctx.documents:
        return None, ctx.diagnostics
    ruleset = _Builder(ctx, overrides or {}).build()
    return ruleset, ctx.diagnostics


SHIPPED_PREFIX = "goap:"
_UNSAFE_NS = re.compile(r"[^A-Za-z0-9_]")


def shipped_folder() -> Path:
    """Return the folder of the packs shipped with goap-engine."""
    return Path(str(resources.files("goap_engine") / "packs"))


def shipped_packs() -> list[str]:
    """Return the short names of the shipped packs (``goap:git`` ...)."""
    return [SHIPPED_PREFIX + p.stem for p in _pack_files(shipped_folder())]


def _resolve_use(path: Path, item: str) -> Path | None:
    """Return the file or folder a ``uses`` entry names (None: unknown short name).

    ``goap:NAME`` is a pack shipped with the engine and ``goap:standard`` all of
    them; anything else is a path relative to the importing file.
    """
    if not item.startswith(SHIPPED_PREFIX):
        return (path.parent / item).absolute()
    name = item[len(SHIPPED_PREFIX) :]
    if name == "standard":
        return shipped_folder()
    candidate = shipped_folder() / f"{name}.yaml"
    return candidate if candidate.is_file() else None


def _locate(
    ctx: _Context, path: Path, item: Any, fence: Fence | None
) -> tuple[Path | None, str, Fence | None]:
    """Return the file or folder a ``uses`` entry names, its alias and its fence.

    A local path must stay inside the fetched or installed pack (``fence``)
    that names it; such a pack's own files get a fence of their own.
    """
    source = parse_source(item)
    if source.kind == "shipped":
        return _resolve_use(path, source.spec), source.alias, None
    if source.kind == "path":
        target = (path.parent / source.spec).absolute()
        if fence is not None:
            fence.check(target, source.spec)
        check_local_pack(target, source.spec, YAML_SUFFIXES)
        return target, source.alias, fence
    target = resolve(
        source, base=path.parent, lock=ctx.lock(), update=ctx.wants_update(source)
    )
    return target, source.alias, Fence.of(target, source.spec)


def _pack_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in YAML_SUFFIXES)


def _read_tree(
    ctx: _Context,
    path: Path,
    chain: tuple[Path, ...],
    alias: str = "",
    fence: Fence | None = None,
) -> None:
    """Read ``path`` and, depth first, everything it uses (imports before users)."""
    real = resolved(path)
    if real in ctx.loaded:
        return
    ctx.loaded.add(real)
    ctx.namespaces[path] = alias or _UNSAFE_NS.sub("_", path.stem)
    doc, problems = read_document(path)
    ctx.diagnostics.extend(problems)
    if doc is None:
        return
    is_goal = not chain and "goal" in doc.data
    schema_problems = check_schema(doc, "goal" if is_goal else "pack")
    ctx.diagnostics.extend(schema_problems)
    if schema_problems:
        return
    uses = doc.data.get("uses") or []
    ancestors = {p.resolve() for p in (*chain, path)} if uses else set()
    for i, item in enumerate(uses):
        where = doc.where(("uses", i))
        try:
            target, alias, inner = _locate(ctx, path, _plain(item), fence)
        except SourceError as exc:
            ctx.error(where, str(exc), "uses")
            continue
        if target is None:
            ctx.error(
                where,
                f"no shipped pack '{item}' (available: {', '.join(shipped_packs())})",
                "uses",
            )
            continue
        try:
            real = target.resolve()
        except (OSError, RuntimeError):
            ctx.error(where, f"'{item}': symbolic links that loop ({target})", "uses")
            continue
        if real in ancestors:
            cycle = " -> ".join(d.name for d in (*chain, path, target))
            ctx.error(where, f"import cycle: {cycle}", "uses")
            continue
        if not target.exists():
            ctx.error(where, f"'{item}' not found (looked in {target})", "uses")
            continue
        files = _pack_files(target) if target.is_dir() else [target]
        if target.is_dir() and not files:
            ctx.error(where, f"folder '{item}' has no .yaml files", "uses")
        for file in files:
            # Checked here, so the message points at the entry that named the
            # file: a FIFO, a device or an oversized file is never opened.
            problem = regular_file_problem(file)
            if problem is not None:
                shown = item if file == target else f"{item}/{file.name}"
                ctx.error(where, f"'{shown}': {problem} ({file})", "uses")
                continue
            # An alias names one pack; for a folder it prefixes each file's name.
            name = alias if alias and not target.is_dir() else ""
            if alias and target.is_dir():
                name = f"{alias}_{_UNSAFE_NS.sub('_', file.stem)}"
            _read_tree(ctx, file, (*chain, path), name, inner)
    ctx.documents.append(doc)


class _Builder:
    def __init__(self, ctx: _Context, overrides: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self.docs = ctx.documents
        self.root = ctx.documents[-1]
        self.overrides = overrides
        self.vars: dict[str, Any] = {}
        self.variables: list[StateVar] = []
        self.var_docs: dict[str, tuple[Document, Location]] = {}
        self.symbols: dict[str, Symbol] = {}
        self.actions: list[Action] = []
        self.secrets: list[str] = []
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
        table = ChainMap(self.by_ns.get(own, {}), self._global_table())
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
        symbols = ChainMap(mine, shared)
        if self.state_done:
            self.doc_symbols[doc.path] = symbols
        return symbols

    def error(self, location: Location, message: str, entity: str = "") -> None:
        self.ctx.error(location, message, entity)

    def build(self) -> Ruleset:
        for doc in self.docs:
            self.collect_vars(doc)
        self.vars.update(self.overrides)
        # Hooks that report on the goal (docs.render) need its path.
        self.vars.setdefault("goal", _relative(self.root.path, self.workdir()))
        for doc in self.docs:
            self.collect_state(doc)
            self.secrets += [
                s for s in doc.data.get("secrets") or [] if s not in self.secrets
            ]
        self.state_done = True
        state_names = {short for _, short in self.declared} | {
            v.name for v in self.variables
        }
        for name, value in self.vars.items():
            if name in state_names:
                doc, where = self.var_docs[name]
                self.error(where, f"var '{name}' has the name of a state variable")
                continue
            self.symbols[name] = Symbol(literal(value).type, value=value)
        packs = []
        seen_ids: dict[str, Location] = {}
        seen_names: dict[str, Location] = {}
        for doc in self.docs:
            names = []
            for short, raw in (doc.data.get("actions") or {}).items():
                where = doc.where(("actions", short), key=True)
                name = self.qualified(doc, short, self.clashing_actions)
                if name in seen_names:
                    self.error(
                        where,
                        f"action '{name}' is already defined at {seen_names[name]}",
                        f"action '{name}'",
                    )
                    continue
                seen_names[name] = where
                action = self.action(doc, short, raw, name)
                if action.id and action.id in seen_ids:
                    self.error(
                        doc.where(("actions", short, "id")),
                        f"id '{action.id}' is already used at {seen_ids[action.id]}",
                        f"action '{name}'",
                    )
                elif action.id:
                    seen_ids[action.id] = doc.where(("actions", short, "id"))
                self.actions.append(action)
                names.append(name)
            declared = tuple(v.name for v in self.by_ns.get(self.ns(doc), {}).values())
            packs.append(Pack(doc.path.stem, doc.path, declared, tuple(names)))
        self.apply_overrides()
        subgoals = self.goal(self.root)
        data = self.root.data
        workdir = self.workdir()
        state_file = data.get("state_file")
        policy_data = data.get("policy") or {}
        self.check_policy(policy_data)
        policy = Policy(
            max_replans=int(policy_data.get("max_replans", 3)),
            jobs=int(policy_data.get("jobs", 1)),
            search=str(policy_data.get("search", "astar")),
            heuristic=str(policy_data.get("heuristic", "lmcut")),
            ordered=bool(policy_data.get("ordered", False)),
            mlflow=_tracking(policy_data.get("mlflow")),
            hook_timeout=self.timeout(
                self.root,
                ("policy", "hook_timeout"),
                policy_data.get("hook_timeout", 3600),
                "policy",
            ),
            sensor_timeout=self.timeout(
                self.root,
                ("policy", "sensor_timeout"),
                policy_data.get("sensor_timeout", 60),
                "policy",
            ),
            allow_outside=bool(policy_data.get("allow_outside", False)),
        )
        if not policy.allow_outside:
            self.check_inside("workdir", workdir)
            if state_file:
                self.check_inside("state_file", workdir / str(state_file))
        return Ruleset(
            path=self.root.path,
            workdir=workdir,
            variables=tuple(self.variables),
            actions=tuple(self.actions),
            subgoals=subgoals,
            vars=dict(self.vars),
            secrets=tuple(self.secrets),
            state_file=(workdir / str(state_file)) if state_file else None,
            policy=policy,
            packs=tuple(packs),
        )

    def apply_overrides(self) -> None:
        """Apply the goal's ``overrides`` to the packs' actions (cost, hook, ...)."""
        doc = self.root
        for key, raw in (doc.data.get("overrides") or {}).items():
            keys: PathKey = ("overrides", key)
            where = doc.where(keys, key=True)
            matches = [
                i
                for i, a in enumerate(self.actions)
                if key in (a.name, a.name.rpartition(".")[2] if "." not in key else "")
            ]
            if len(matches) != 1:
                names = ", ".join(self.actions[i].name for i in matches)
                problem = (
                    f"matches the actions {names}: write pack.name"
                    if matches
                    else "no action of that name"
                )
                self.error(where, f"override of '{key}': {problem}", "overrides")
                continue
            index = matches[0]
            action = self.actions[index]
            entity = (
                f"override of action '{action.name}' (defined at {action.location})"
            )
            spec = dict(raw or {})
            if spec.get("disabled"):
                self.actions[index] = replace(action, disabled=True)
                continue
            changes: dict[str, Any] = {}
            if "cost" in spec:
                cost = spec["cost"]
                if isinstance(cost, str):
                    changes["cost"] = self.compile(
                        doc, (*keys, "cost"), cost, entity, "cost"
                    )
                else:
                    changes["cost"] = literal(_plain(cost))
            if "duration" in spec:
                changes["duration"] = parse_duration(spec["duration"])
            if "timeout" in spec:
                changes["timeout"] = self.timeout(
                    doc, (*keys, "timeout"), spec["timeout"], entity
                )
            if "retries" in spec:
                changes["retries"] = int(spec["retries"])
            if "run" in spec:
                changes["hook"] = self.hook(doc, (*keys, "run"), spec["run"])
                changes["wait"] = None
            self.actions[index] = replace(action, **changes)
        self.actions = [a for a in self.actions if not a.disabled]

    def check_inside(self, key: str, path: Path) -> None:
        """Refuse a ``workdir`` or ``state_file`` outside the goal's project."""
        project = project_root(self.root.path)
        try:
            inside = is_inside(path, project)
        except FileError as exc:
            self.error(self.root.where((key,)), f"{path}: {exc.reason}", key)
            return
        if not inside:
            self.error(
                self.root.where((key,)),
                outside_message(
                    path, project, "the path", "'policy: {allow_outside: true}'"
                ),
                key,
            )

    def check_policy(self, policy: Mapping[str, Any]) -> None:
        from .planner.heuristics import HEURISTICS
        from .planner.search import SEARCHES

        for key, known in (("search", SEARCHES), ("heuristic", HEURISTICS)):
            if key in policy and policy[key] not in known:
                self.error(
                    self.root.where(("policy", key)),
                    f"unknown {key} {policy[key]!r} (expected one of: "
                    f"{', '.join(known)})",
                    "policy",
                )

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

    def workdir(self) -> Path:
        data = self.root.data
        folder = self.root.path.parent
        if "workdir" in data:
            return (folder / str(data["workdir"])).absolute()
        if folder.name == "goals.d":
            return folder.parent
        return folder

    def collect_vars(self, doc: Document) -> None:
        for name, value in (doc.data.get("vars") or {}).items():
            self.vars[name] = _plain(value)
            self.var_docs[name] = (doc, doc.where(("vars", name), key=True))

    def collect_state(self, doc: Document) -> None:
        ns = self.ns(doc)
        for short, raw in (doc.data.get("state") or {}).items():
            keys: PathKey = ("state", short)
            where = doc.where(keys, key=True)
            name = self.qualified(doc, short, self.clashing_vars)
            entity = f"state variable '{name}'"
            if (ns, short) in self.declared:
                first = self.declared[(ns, short)].location
                self.error(
                    where,
                    f"already declared at {first} in pack namespace '{ns}' "
                    "(give one of the packs another namespace with 'as:')",
                    entity,
                )
                continue
            spec: dict[str, Any] = {"type": raw} if isinstance(raw, str) else dict(raw)
            type_: VarType = spec["type"]
            choices = tuple(str(c) for c in spec.get("values") or ())
            if type_ == "enum" and not choices:
                self.error(where, "an enum needs 'values'", entity)
                continue
            if type_ != "enum" and choices:
                self.error(
                    doc.where((*keys, "values")),
                    f"'values' is only for enums, this variable is {type_}",
                    entity,
                )
            low: float | None = spec.get("min")
            high: float | None = spec.get("max")
            if (low is not None or high is not None) and type_ not in ("int", "float"):
                self.error(
                    where, f"min/max apply to int and float, not {type_}", entity
                )
                low = high = None
            if low is not None and high is not None and low > high:
                self.error(doc.where((*keys, "min")), f"min {low} > max {high}", entity)
            default = spec.get(
                "default", choices[0] if choices else DEFAULTS.get(type_)
            )
            default = _plain(default)
            if (
                type_ == "float"
                and isinstance(default, int)
                and not isinstance(default, bool)
            ):
                default = float(default)
            var = StateVar(
                name=name,
                type=type_,
                default=default,
                index=len(self.variables),
                location=where,
                minimum=low,
                maximum=high,
                choices=choices,
                description=str(spec.get("description", "")),
                pack=doc.path.stem,
            )
            if not var.accepts(default):
                self.error(
                    doc.where((*keys, "default")) if "default" in spec else where,
                    f"default {default!r} is not a valid {type_}"
                    + (
                        f" in [{low}, {high}]"
                        if low is not None or high is not None
                        else ""
                    )
                    + (f" (values: {', '.join(choices)})" if choices else ""),
                    entity,
                )
            if "sense" in spec:
                sensor = self.sensor(doc, (*keys, "sense"), spec["sense"], var)
                var = StateVar(**{**_fields(var), "sensor": sensor})
            if "remember" in spec:
                remember = self.lifetime(doc, (*keys, "remember"), spec, entity)
                var = StateVar(**{**_fields(var), "remember": remember})
            if spec.get("secret") is True:
                self.secret_var(doc, keys, spec, entity)
                var = StateVar(**{**_fields(var), "secret": True})
            self.variables.append(var)
            self.declared[(ns, short)] = var
            self.by_ns.setdefault(ns, {})[short] = var

    def secret_var(
        self, doc: Document, keys: PathKey, spec: Mapping[str, Any], entity: str
    ) -> None:
        """Check a ``secret: true`` variable: text, and never remembered."""
        where = doc.where((*keys, "secret"), key=True)
        if spec["type"] != "str":
            # Redaction finds text; a secret number or flag would be found
            # everywhere or nowhere.
            self.error(
                where,
                f"only a str variable can be secret, this one is {spec['type']}",
                entity,
            )
        if "remember" in spec:
            self.error(
                doc.where((*keys, "remember"), key=True),
                "a secret variable is never stored, so 'remember' does not apply "
                "(its value comes from its sensor or --set in each run)",
                entity,
            )

    def lifetime(
        self, doc: Document, keys: PathKey, spec: Mapping[str, Any], entity: str
    ) -> Lifetime:
        raw = spec["remember"]
        if "sense" in spec:
            # A sensed value is read again every time: it is never remembered.
            self.error(
                doc.where(keys, key=True),
                "'remember' is for unsensed variables; this one has a sensor",
                entity,
            )
            return "always"
        if isinstance(raw, str) and raw.strip() in ("run", "always"):
            return cast(Lifetime, raw.strip())
        seconds = parse_duration(raw)
        if not seconds > 0:
            self.error(
                doc.where(keys),
                f"expected 'run', 'always' or a duration > 0, found {raw!r}",
                entity,
            )
            return "always"
        return seconds

    def source_globs(
        self, doc: Document, keys: PathKey, raw: Any, entity: str
    ) -> tuple[str, ...]:
        globs = []
        for i, item in enumerate(raw or ()):
            text = str(item)
            problem = _glob_problem(text)
            if problem:
                self.error(
                    doc.where((*keys, i)),
                    f"source {text!r}: {problem}",
                    entity,
                )
                continue
            globs.append(text)
        return tuple(globs)

    def sensor(self, doc: Document, keys: PathKey, raw: Any, var: StateVar) -> Sensor:
        hook = self.hook(doc, keys, raw)
        default_from: SensorSource = "value"
        if hook.kind in ("shell", "argv"):
            default_from = "exit" if var.type == "bool" else "stdout"
        source: SensorSource = (
            raw.get("from", default_from) if isinstance(raw, dict) else default_from
        )
        if source == "exit" and var.type != "bool":
            self.error(
                doc.where((*keys, "from")),
                f"'from: exit' gives a bool, but the variable is {var.type}",
                f"state variable '{var.name}'",
            )
        if source == "value" and hook.kind in ("shell", "argv"):
            self.error(
                doc.where((*keys, "from")),
                "a command has no return value: use 'from: exit' or 'from: stdout'",
                f"state variable '{var.name}'",
            )
        timeout = raw.get("timeout") if isinstance(raw, dict) else None
        return Sensor(
            hook,
            source,
            None
            if timeout is None
            else self.timeout(
                doc, (*keys, "timeout"), timeout, f"state variable '{var.name}'"
            ),
        )

    def hook(self, doc: Document, keys: PathKey, raw: Any) -> Hook:
        where = doc.where(keys)
        if isinstance(raw, str):
            hook = Hook("shell", raw, location=where)
        elif isinstance(raw, list):
            hook = Hook("argv", tuple(str(a) for a in raw), location=where)
        else:
            spec = dict(raw)
            kinds = [k for k in ("shell", "argv", "python", "builtin") if k in spec]
            if len(kinds) != 1:
                self.error(
                    where,
                    "expected exactly one of shell, argv, python, builtin; found "
                    + (", ".join(kinds) or "none"),
                )
                return Hook("shell", "true", location=where)
            kind = kinds[0]
            target = spec[kind]
            args = _plain(spec.get("with") or {})
            if kind in ("shell", "argv") and args:
                self.error(doc.where((*keys, "with")), f"'with' is not used by {kind}")
            hook = Hook(
                cast(Any, kind),
                tuple(str(a) for a in target) if kind == "argv" else str(target),
                args,
                bool(spec.get("quote", True)),
                where,
            )
            if kind == "builtin":
                self.check_builtin(doc, (*keys, "builtin"), str(target))
        self.check_templates(doc, keys, hook)
        return hook

    def check_builtin(self, doc: Document, keys: PathKey, name: str) -> None:
        from .executor.builtins import BUILTIN_NAMES

        if name not in BUILTIN_NAMES:
            close = [b for b in BUILTIN_NAMES if b.split(".")[0] == name.split(".")[0]]
            hint = f" (known: {', '.join(sorted(close))})" if close else ""
            self.error(doc.where(keys), f"unknown built-in hook '{name}'{hint}")

    def check_templates(self, doc: Document, keys: PathKey, hook: Hook) -> None:
        texts: list[str] = []
        if isinstance(hook.target, str):
            texts.append(hook.target)
        else:
            texts.extend(hook.target)
        texts.extend(strings_in(hook.args))
        if hook.kind == "shell" and hook.quote:
            for problem in shell_problems(texts[0]):
                self.error(
                    doc.where(keys), f"shell command: {problem}", entity_of(keys[:2])
                )
        self.check_template_names(doc, keys, texts)

    def check_template_names(
        self, doc: Document, keys: PathKey, texts: list[str]
    ) -> None:
        table = self.table(doc)
        special = {"env", "workdir", "goal"}
        for text in texts:
            try:
                names = template_names(text)
            except ValueError as exc:
                self.error(doc.where(keys), f"template error: {exc}")
                continue
            unknown = {
                n for n in names if n not in self.vars and n not in table
            } - special
            for name in sorted(unknown):
                self.error(
                    doc.where(keys),
                    f"template uses '{name}', which is not a var or state variable",
                )

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
            self.error(
                doc.expr_where(keys, exc.col),
                f"{what} '{_clip(text)}': {message}",
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
                    f"{what} '{_clip(str(item))}' must be a boolean, found {expr.type}",
                    entity,
                )
                continue
            result.append((expr, doc.where(k)))
        return result

    def effects(
        self, doc: Document, keys: PathKey, raw: Any, entity: str
    ) -> tuple[Effect, ...]:
        by_name = self.table(doc)
        effects = []
        for name, value in (raw or {}).items():
            k = (*keys, name)
            var = by_name.get(name)
            if var is None:
                self.error(
                    doc.where(k, key=True),
                    f"effect on undeclared state variable '{name}'",
                    entity,
                )
                continue
            expr = self.effect_value(doc, k, var, value, entity)
            if expr is not None:
                effects.append(Effect(var.name, expr, doc.where(k)))
        return tuple(effects)

    def effect_value(
        self, doc: Document, keys: PathKey, var: StateVar, value: Any, entity: str
    ) -> Expr | None:
        what = f"effect '{var.name}'"
        if isinstance(value, dict):
            expr = self.compile(doc, (*keys, "expr"), value["expr"], entity, what)
        elif isinstance(value, str) and var.type in ("bool", "int", "float"):
            expr = self.compile(doc, keys, value, entity, what)
        elif isinstance(value, str | bool | int | float):
            expr = literal(_plain(value))
        else:
            self.error(doc.where(keys), f"unexpected {yaml_type(value)}", entity)
            return None
        if expr is None:
            return None
        ok = expr.type == var.expr_type or (var.type == "float" and expr.type == "int")
        if not ok:
            self.error(
                doc.where(keys),
                f"{what}: expected a {var.type} value, found {expr.type} "
                f"{_clip(expr.source)}",
                entity,
            )
            return None
        if var.type == "enum" and not expr.is_const:
            allowed = ", ".join(var.choices)
            if expr.values is None:
                self.error(
                    doc.where(keys),
                    f"{what}: the expression may give values outside the enum "
                    f"({allowed}); use literals, a conditional of literals, or "
                    "an enum with the same values",
                    entity,
                )
                return None
            outside = [v for v in expr.values if v not in var.choices]
            if outside:
                self.error(
                    doc.where(keys),
                    f"{what}: {outside[0]!r} is not one of {allowed}",
                    entity,
                )
                return None
        if expr.is_const and not var.accepts(
            float(expr.const) if var.type == "float" else expr.const
        ):
            allowed = (
                f"one of {', '.join(var.choices)}"
                if var.choices
                else f"a valid {var.type}"
            )
            self.error(
                doc.where(keys),
                f"{what}: {expr.const!r} is not {allowed}"
                + (
                    f" within [{var.minimum}, {var.maximum}]"
                    if var.minimum is not None or var.maximum is not None
                    else ""
                ),
                entity,
            )
            return None
        return expr

    def action(self, doc: Document, short: str, raw: Any, name: str) -> Action:
        keys: PathKey = ("actions", short)
        entity = f"action '{name}'"
        spec = dict(raw or {})
        pre = self.condition_list(
            doc, (*keys, "pre"), spec.get("pre"), entity, "precondition"
        )
        effects = self.effects(doc, (*keys, "effects"), spec.get("effects"), entity)
        on_failure = self.effects(
            doc, (*keys, "on_failure"), spec.get("on_failure"), entity
        )
        cost: Expr | None = literal(1)
        raw_cost = spec.get("cost", 1)
        if isinstance(raw_cost, str):
            cost = self.compile(doc, (*keys, "cost"), raw_cost, entity, "cost")
            if cost is not None and cost.type not in ("int", "float"):
                self.error(
                    doc.where((*keys, "cost")),
                    f"cost must be a number, found {cost.type}",
                    entity,
                )
                cost = None
            elif cost is not None and cost.is_const and cost.const < 0:
                self.error(
                    doc.where((*keys, "cost")),
                    f"cost must be >= 0, found {cost.const}",
                    entity,
                )
                cost = None
        else:
            cost = literal(_plain(raw_cost))
        hook = self.hook(doc, (*keys, "run"), spec["run"]) if "run" in spec else None
        wait = None
        if "wait" in spec:
            w = spec["wait"]
            until = self.condition_list(
                doc, (*keys, "wait", "until"), w["until"], entity, "wait condition"
            )
            if until:
                wait = Wait(
                    until[0][0],
                    self.timeout(
                        doc, (*keys, "wait", "interval"), w.get("interval", 10), entity
                    ),
                    self.timeout(
                        doc, (*keys, "wait", "timeout"), w.get("timeout", 1800), entity
                    ),
                    doc.where((*keys, "wait")),
                )
            if hook is not None:
                self.error(
                    doc.where((*keys, "wait"), key=True),
                    "an action has either 'run' or 'wait', not both",
                    entity,
                )
        env = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
        for key, text in env.items():
            self.check_template_names(doc, (*keys, "env", key), [text])
        return Action(
            name=name,
            id=str(spec.get("id", "")),
            location=doc.where(keys, key=True),
            pre=tuple(e for e, _ in pre),
            pre_locations=tuple(w for _, w in pre),
            effects=effects,
            cost=cost,
            duration=parse_duration(spec.get("duration", 60)),
            description=str(spec.get("description", "")),
            tags=tuple(str(t) for t in spec.get("tags") or ()),
            hook=hook,
            wait=wait,
            timeout=self.timeout(doc, (*keys, "timeout"), spec["timeout"], entity)
            if "timeout" in spec
            else None,
            retries=int(spec.get("retries", 0)),
            env=env,
            cwd=str(spec["cwd"]) if "cwd" in spec else None,
            on_failure=on_failure,
            irreversible=bool(spec.get("irreversible", False)),
            approval=bool(spec.get("approval", False)),
            pack=doc.path.stem,
            pddl=str(spec.get("pddl", "")),
            sources=self.source_globs(
                doc, (*keys, "sources"), spec.get("sources"), entity
            ),
        )

    def goal(self, doc: Document) -> tuple[SubGoal, ...]:
        raw = doc.data.get("goal")
        if raw is None:
            return ()
        groups: list[tuple[str, PathKey, Any]]
        if isinstance(raw, dict):
            groups = [(str(n), ("goal", n), v) for n, v in raw.items()]
        else:
            groups = [("goal", ("goal",), raw)]
        subgoals = []
        for name, keys, value in groups:
            conditions = self.condition_list(
                doc, keys, value, f"goal '{name}'", "condition"
            )
            subgoals.append(
                SubGoal(name, tuple(Condition(e, w) for e, w in conditions))
            )
        return tuple(subgoals)


def _tracking(value: Any) -> str | None:
    if value is None or value is False:
        return None
    return "" if value is True else str(value)


def _glob_problem(pattern: str) -> str:
    """Return why ``pattern`` is not a usable source glob, or '' if it is."""
    if not pattern.strip():
        return "expected a glob such as 'data/**/*.csv'"
    if Path(pattern).is_absolute() or pattern.startswith("~"):
        return "expected a glob relative to the goal's workdir"
    parts = pattern.replace("\\", "/").split("/")
    if ".." in parts:
        # Facts may depend only on files of the project the engine works in.
        return "'..' leaves the goal's workdir"
    if any(part in ("", ".") for part in parts):
        return "expected a glob of files, such as 'src/**' (no '.' or empty parts)"
    if any("**" in part and part != "**" for part in parts):
        return "'**' must be a whole path component, as in 'data/**/*.csv'"
    return ""


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.absolute().relative_to(base.absolute()))
    except ValueError:
        return str(path.absolute())


def _clashing(docs: list[Document], section: str) -> set[str]:
    """Return the names declared in ``section`` by more than one document."""
    seen: dict[str, int] = {}
    for doc in docs:
        for name in doc.data.get(section) or {}:
            seen[name] = seen.get(name, 0) + 1
    return {name for name, count in seen.items() if count > 1}


def _fields(var: StateVar) -> dict[str, Any]:
    return {f: getattr(var, f) for f in var.__slots__}


def _plain(value: Any) -> Any:
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
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
