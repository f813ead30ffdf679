"""Read a goal or pack and, depth first, every file its ``uses:`` names.

An entry is a path (a file or a folder of ``.yaml`` files, relative to the
file naming it), a pack shipped with the engine (``goap:git``, ``goap:standard``)
or a remote or installed pack resolved through the lock file (see
``sources``).  Cycles, missing files, FIFOs and devices are reported at the
entry that names them; a file reached twice is read once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..documents import Document, check_schema, read_document
from ..errors import Diagnostic, Location
from ..files import note, regular_file_problem, resolved
from ..packtree import Fence, check_local_pack
from ..sources import Lockfile, PackSource, SourceError, parse_source, resolve
from .scope import plain_value

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Bounds:
    """What a proposal may make the engine read: the project, and what it reads.

    A proposal is text from someone who may not be able to read the machine's
    files (an agent through the MCP server): a ``uses`` entry that names a
    file elsewhere would have its first problems, values included, shown.
    """

    root: Path
    """The project's folder, links resolved."""
    known: frozenset[Path]
    """The files the goal reads without the proposal, links resolved."""

    def allows(self, target: Path) -> bool:
        real = resolved(target)
        if real.is_relative_to(self.root) or real in self.known:
            return True
        if real.is_relative_to(resolved(shipped_folder())):
            return True
        # A folder the goal uses: only if it holds no pack the goal does not.
        return real.is_dir() and all(
            resolved(p) in self.known
            for p in real.iterdir()
            if p.suffix in YAML_SUFFIXES
        )


@dataclass
class LoadContext:
    """What reading the tree collects: documents (imports first), problems, lock."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    loaded: set[Path] = field(default_factory=set)
    namespaces: dict[Path, str] = field(default_factory=dict)
    lock_file: Path | None = None
    update: bool | frozenset[str] = False
    remote_names: set[str] = field(default_factory=set)
    """The names and specs of the git and installed packs met (``packs update``)."""
    bounds: Bounds | None = None
    """Where a proposal's ``uses`` may lead (None: anywhere; not a proposal)."""
    _lock: Lockfile | None = None

    def lock(self) -> Lockfile:
        """Return the goal's lock file, read on first use (remote packs only)."""
        if self._lock is None:
            assert self.lock_file is not None
            self._lock = Lockfile.load(self.lock_file)
            self._before = json.dumps(self._lock.entries, sort_keys=True)
        return self._lock

    def wants_update(self, source: PackSource) -> bool:
        self.remote_names.update((source.name, source.spec))
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


SHIPPED_PREFIX = "goap:"
_UNSAFE_NS = re.compile(r"[^A-Za-z0-9_]")


def shipped_folder() -> Path:
    """Return the folder of the packs shipped with goap-engine."""
    return Path(__file__).parent.parent / "packs"


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
    ctx: LoadContext, path: Path, item: Any, fence: Fence | None
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
        # Inside a fetched or installed pack the fence already confines it.
        bounds = ctx.bounds if fence is None else None
        if bounds is not None and not bounds.allows(target):
            raise SourceError(
                f"'{source.spec}': a proposal reads only files inside the project "
                f"{bounds.root} and those the goal already uses"
            )
        check_local_pack(target, source.spec, YAML_SUFFIXES)
        return target, source.alias, fence
    target = resolve(
        source,
        base=path.parent,
        lock=ctx.lock(),
        update=ctx.wants_update(source),
        offline=ctx.bounds is not None,
    )
    assert ctx.lock_file is not None
    # Cached rulesets resolve it again: a new commit or install is a miss.
    note("source", item, str(path.parent), str(ctx.lock_file), str(target))
    return target, source.alias, Fence.of(target, source.spec)


def _pack_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix in YAML_SUFFIXES)
    # A file added to a folder of packs changes the ruleset (cache key).
    note("dir", str(folder), [p.name for p in files])
    return files


def read_tree(
    ctx: LoadContext,
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
            target, alias, inner = _locate(ctx, path, plain_value(item), fence)
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
            read_tree(ctx, file, (*chain, path), name, inner)
    ctx.documents.append(doc)
