"""Load a goal (or a pack) and everything it uses into an immutable ``Ruleset``.

The loader reads every file once, checks it against its schema, follows
``uses`` (files and folders, cycles refused), then builds the model in three
passes -- variables, then state, then actions and goal -- so that each
expression is compiled against the complete set of declared names.  It collects
every problem it finds and raises them together.  Reading ``uses`` and each
section of a file live in the ``language`` package, one module per concept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .documents import Document
from .errors import Diagnostic, InputError, Location
from .expressions import Symbol, literal
from .files import cache_enabled
from .language.actions import ActionReading
from .language.goal import GoalReading, relative, tracking, tracking_bounds
from .language.overrides import OverrideReading
from .language.runs_on import with_defaults
from .language.scope import parse_duration
from .language.state import StateReading
from .language.uses import Bounds, shipped_folder, shipped_packs
from .language.uses import LoadContext as _Context
from .language.uses import read_tree as _read_tree
from .language.var_inputs import VarInput, apply, given
from .model import Pack, Policy, Ruleset
from .sources import SourceError, lock_path

__all__ = [
    "load",
    "load_with_diagnostics",
    "parse_duration",
    "shipped_folder",
    "shipped_packs",
]


def load(
    path: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    update: bool | frozenset[str] = False,
    cache: bool = True,
) -> Ruleset:
    """Return the ruleset of the goal or pack at ``path``; raise ``InputError``.

    ``update`` refreshes remote packs (all, or those named) in the lock file.
    ``cache=False`` loads without the ruleset cache (see ``ruleset_cache``).
    """
    ruleset, diagnostics = load_with_diagnostics(
        path, overrides=overrides, update=update, cache=cache
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
    cache: bool = True,
) -> tuple[Ruleset | None, list[Diagnostic]]:
    """Return the ruleset and every problem found.

    When the files parse and match their schemas, the ruleset is returned even
    if some expressions or names are wrong -- without the broken parts -- so
    that validation can go on and report everything at once.  Callers that
    plan or run must use ``load``, which refuses any error.
    """
    inputs = [
        *given(),
        *(VarInput(n, v, f"overrides[{n!r}]") for n, v in (overrides or {}).items()),
    ]
    if cache and not update and cache_enabled():
        from . import ruleset_cache

        return ruleset_cache.cached_load(
            Path(path),
            # The values, later ones winning, name the load: where each came
            # from only changes messages, and loads with errors are not kept.
            {given_value.name: given_value.value for given_value in inputs},
            lambda: _load(Path(path), inputs, update),
        )
    return _load(Path(path), inputs, update)


def load_proposal(
    path: str | Path,
    texts: Mapping[Path, str],
    added: Path | None = None,
    bounds: Bounds | None = None,
) -> tuple[Ruleset | None, list[Diagnostic]]:
    """Load the goal at ``path`` with ``texts`` read instead of those files.

    ``added`` (one of ``texts``) is a pack the goal does not use yet: it is
    loaded as if the goal's ``uses`` ended with it.  Nothing is written: no
    ruleset cache, no lock file, no fetch (a git pack must already be locked
    and in the cache).  ``bounds`` limits the files ``uses`` may name.
    """
    from .documents import OVERLAY

    inputs = list(given())
    token = OVERLAY.set({p.resolve(): t for p, t in texts.items()})
    try:
        return _load(
            Path(path), inputs, False, added=added, write_lock=False, bounds=bounds
        )
    finally:
        OVERLAY.reset(token)


def _load(
    root: Path,
    inputs: Sequence[VarInput],
    update: bool | frozenset[str],
    *,
    added: Path | None = None,
    write_lock: bool = True,
    bounds: Bounds | None = None,
) -> tuple[Ruleset | None, list[Diagnostic]]:
    ctx = _Context(lock_file=lock_path(root.absolute()), update=update, bounds=bounds)
    _read_tree(ctx, root.absolute(), chain=())
    if added is not None and ctx.documents:
        # Before the goal, which is the last document read: the goal's own
        # names see the added pack's as they see those of its other packs.
        goal = ctx.documents.pop()
        _read_tree(ctx, added.absolute(), chain=(root.absolute(),))
        ctx.documents.append(goal)
    if isinstance(update, frozenset) and update - ctx.remote_names:
        unknown = ", ".join(sorted(update - ctx.remote_names))
        known = ", ".join(sorted(ctx.remote_names)) or "none"
        ctx.error(
            Location.of(root),
            f"no git or installed pack named {unknown} in what this goal uses "
            f"(its remote packs: {known})",
            "packs update",
        )
    if write_lock and not any(d.severity == "error" for d in ctx.diagnostics):
        try:
            ctx.save_lock()
        except (SourceError, OSError) as exc:
            ctx.error(Location.of(ctx.lock_file or root), f"cannot write: {exc}")
    if any(d.severity == "error" for d in ctx.diagnostics) or not ctx.documents:
        return None, ctx.diagnostics
    ruleset = _Builder(ctx, inputs).build()
    return ruleset, ctx.diagnostics


class _Builder(StateReading, ActionReading, OverrideReading, GoalReading):
    """Build the ruleset: variables, then state, then actions and the goal.

    Each section has its reader in ``language/``; they share one ``Scope``, so
    an expression in any section is compiled against the same names.
    """

    @staticmethod
    def ignored_codes(doc: Document) -> tuple[str, ...]:
        # The schema has already refused any code that is not a warning's.
        return tuple(str(code) for code in doc.data.get("ignore") or ())

    def build(self) -> Ruleset:
        for doc in self.docs:
            self.collect_vars(doc)
            # Before any hook is read: sensors' templates are checked with
            # their state variables.
            self.environment.update(doc.data.get("environment") or ())
            self.environment.update(doc.data.get("secrets") or ())
        # Values from outside (--var, a var file, GOAP_VAR_*) over the files'.
        state_names = {n for doc in self.docs for n in doc.data.get("state") or {}}
        self.ctx.diagnostics.extend(apply(self.vars, self.var_inputs, state_names))
        # Hooks that report on the goal (docs.render) need its path.
        self.vars.setdefault("goal", relative(self.root.path, self.workdir()))
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
            packs.append(
                Pack(
                    # The namespace, so an alias from 'as:' is what packs list shows.
                    self.ns(doc),
                    doc.path,
                    declared,
                    tuple(names),
                    self.ignored_codes(doc),
                )
            )
        self.apply_overrides()
        self.actions = with_defaults(self.root, self.actions, self.error)
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
            heuristic=(
                str(policy_data["heuristic"]) if "heuristic" in policy_data else None
            ),
            ordered=bool(policy_data.get("ordered", False)),
            mlflow=tracking(policy_data.get("mlflow")),
            mlflow_bounds=tracking_bounds(policy_data.get("mlflow")),
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
            approvals=str(policy_data.get("approvals", "ask")),
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
