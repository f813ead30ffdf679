"""Keep loaded rulesets on disk so an unchanged project loads without parsing.

An entry is found by a key naming the load (engine version, goal path,
working directory, overrides, cache folder) and holds what the load depended
on -- every file read (its resolved path and the sha256 of the bytes parsed),
every folder of packs listed, every git or installed pack resolved, every
"inside the project" check -- next to the ruleset and its warnings.  A lookup
checks each of those again (hashing is far cheaper than parsing): one that no
longer holds is a miss, and the load that follows rewrites the entry.  Only
loads without errors are kept.

Trust: an entry is a pickle, and unpickling attacker-controlled bytes can run
code, so an entry is used only if (1) its HMAC-SHA256, under a random key kept
in the 0600 file ``rulesets/key`` that only this user owns, matches -- nobody
else can forge one -- and (2) it unpickles through an allow-list of the
model's classes, so even a leaked key (a cache folder restored from somewhere
untrusted) can forge a wrong ruleset but never run code while loading.  A
folder or key that others could write is not used at all.  Entries are
written to a temporary file and renamed into place, so concurrent runs each
see a whole entry; a cache folder that cannot be written is simply not used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import hmac
import io
import json
import os
import pickle
import re
import secrets
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path, PosixPath
from typing import Any

from . import __version__, errors, expressions, model
from .errors import Diagnostic, FileError
from .files import (
    Fact,
    cache_enabled,
    is_inside,
    project_root,
    read_limited,
    recording,
    set_cache_enabled,
)

FORMAT = 4
MAGIC = f"goap-ruleset-cache {FORMAT} {__version__}\n".encode()
KEY_BYTES = 32
MAX_ENTRY_BYTES = 256 * 1024 * 1024
# Kept: the most recently used entries within both limits (10,000 actions
# make an entry of about 6 MB).
MAX_ENTRIES = 128
MAX_TOTAL_BYTES = 512 * 1024 * 1024
YAML_SUFFIXES = (".yaml", ".yml")
# The names of entries and of the temporary files they and the key are
# written to (see ``_store`` and ``_secret``): all pruning may remove.
_ENTRY_NAME = re.compile(r"[0-9a-f]{64}\.entry")
_TEMP_NAME = re.compile(r"\.(?:[0-9a-f]{64}\.entry|key)\..+", re.DOTALL)

Result = tuple[model.Ruleset | None, list[Diagnostic]]

# The only classes an entry may hold (besides builtin containers and values).
_CLASSES: tuple[type, ...] = (
    model.Hook,
    model.Sensor,
    model.StateVar,
    model.Effect,
    model.Wait,
    model.Placement,
    model.Action,
    model.Condition,
    model.SubGoal,
    model.Policy,
    model.Pack,
    model.Ruleset,
    expressions.Expr,
    errors.Location,
    errors.Diagnostic,
)
_ALLOWED: dict[tuple[str, str], Any] = {
    (cls.__module__, cls.__qualname__): cls for cls in _CLASSES
}
_ALLOWED[("pathlib", "PosixPath")] = PosixPath
_SLOTS: dict[type, tuple[str, ...]] = {
    cls: tuple(cls.__dict__["__slots__"])
    for cls in _CLASSES
    if "__slots__" in cls.__dict__
}


def _restorer(cls: type, names: tuple[str, ...]) -> Callable[..., Any]:
    """Return a function building a ``cls`` from its slot values, in order.

    Slotted frozen dataclasses are set through their slot descriptors, one
    straight-line function per class: dataclasses' own ``__setstate__`` calls
    ``fields()`` per object, and a generic loop costs three times as much;
    either made 10,000 actions take most of a second to unpickle.
    """
    params = ", ".join(f"v{i}" for i in range(len(names)))
    body = "".join(f"    s{i}(o, v{i})\n" for i in range(len(names)))
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    scope.update((f"s{i}", getattr(cls, n).__set__) for i, n in enumerate(names))
    # Generated from the model's own slot names, never from an entry.
    exec(f"def restore({params}):\n    o = new(cls)\n{body}    return o\n", scope)
    function: Callable[..., Any] = scope["restore"]
    function.__module__ = __name__
    function.__name__ = function.__qualname__ = f"_new_{cls.__name__}"
    return function


_RESTORERS: dict[type, Callable[..., Any]] = {
    cls: _restorer(cls, names) for cls, names in _SLOTS.items()
}
_BY_NAME: dict[str, Callable[..., Any]] = {f.__name__: f for f in _RESTORERS.values()}
globals().update(_BY_NAME)  # pickle names them as attributes of this module


def set_enabled(enabled: bool) -> None:
    """Turn the cache on or off for this process (``--no-cache``)."""
    set_cache_enabled(enabled)


def enabled() -> bool:
    """Return whether loads may use the cache."""
    return cache_enabled()


def cached_load(
    path: Path, overrides: Mapping[str, Any], load: Callable[[], Result]
) -> Result:
    """Return the cached result of loading ``path``, or ``load()``'s, kept.

    ``load`` must do the whole uncached load; what it reads is recorded.
    """
    folder = _folder()
    key = _key(path, overrides)
    if folder is None or key is None:
        return load()
    secret = _secret(folder)
    entry = folder / f"{hashlib.sha256(key).hexdigest()}.entry"
    if secret is not None:
        found = _lookup(entry, secret, key)
        if found is not None:
            return found
    with recording() as facts:
        result = load()
    ruleset, diagnostics = result
    if (
        secret is not None
        and ruleset is not None
        and not any(d.severity == "error" for d in diagnostics)
    ):
        _store(entry, secret, key, facts, result)
    return result


def _folder() -> Path | None:
    """Return the folder of entries, made if need be; None if it is not ours.

    Ours: a real folder (not a link to one) of this user that only this user
    can write.
    """
    from .sources import cache_dir

    folder = cache_dir() / "rulesets"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # lstat: a link in its place (a project's folder of packs, anything
        # others chose) is not followed; keys, entries and pruning stay here.
        info = folder.lstat()
    except OSError:
        return None
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.getuid()
        or info.st_mode & 0o022
    ):
        return None
    return folder


def _key(path: Path, overrides: Mapping[str, Any]) -> bytes | None:
    """Return what names a load: the same key, the same question.

    The working directory is part of it because messages show paths relative
    to it; the cache folder because git packs are exported under it.
    """
    from .sources import cache_dir

    try:
        fields = [
            FORMAT,
            __version__,
            list(sys.version_info[:2]),
            str(path.absolute()),
            str(Path.cwd().resolve()),
            str(cache_dir()),
            json.dumps(dict(overrides), sort_keys=True, allow_nan=False),
        ]
    except (OSError, TypeError, ValueError):
        return None  # overrides that are not JSON are not worth a key
    return json.dumps(fields).encode()


def _secret(folder: Path) -> bytes | None:
    """Return this cache's HMAC key, made on first use; None if unusable."""
    path = folder / "key"
    if not os.path.lexists(path):
        try:
            fd, tmp = tempfile.mkstemp(prefix=".key.", dir=folder)
        except OSError:
            return None  # a folder that cannot be written is not used
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(KEY_BYTES))
            # link() fails if another process made the key first: one key wins
            # and both use it.
            os.link(tmp, path)
        except OSError:
            pass
        finally:
            Path(tmp).unlink(missing_ok=True)
    try:
        info = path.lstat()
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.getuid()
            or info.st_mode & 0o077
        ):
            return None
        secret = read_limited(path, KEY_BYTES)
    except (OSError, FileError):
        return None
    return secret if len(secret) == KEY_BYTES else None


def _lookup(entry: Path, secret: bytes, key: bytes) -> Result | None:
    """Return the entry's result if it is authentic, ours and still true."""
    try:
        data = read_limited(entry, MAX_ENTRY_BYTES)
    except FileError:
        return None
    mac, payload = data[len(MAGIC) : len(MAGIC) + 32], data[len(MAGIC) + 32 :]
    if not data.startswith(MAGIC) or not hmac.compare_digest(
        mac, hmac.digest(secret, MAGIC + payload, "sha256")
    ):
        return None
    try:
        stored_key, facts, ruleset, diagnostics = _loads(payload)
    except Exception:  # noqa: BLE001 - any damage means: load afresh
        return None
    if stored_key != key or not all(_holds(fact) for fact in facts):
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)  # used now: pruning removes the least recently used
    return ruleset, diagnostics


def _holds(fact: Fact) -> bool:
    """Return whether what a load saw is still so."""
    from .sources import Lockfile, SourceError, parse_source, resolve

    kind = fact[0]
    try:
        if kind == "file":
            _, name, real, digest = fact
            if os.path.realpath(name) != real:
                return False
            try:
                data = read_limited(Path(name))
            except FileError:
                return digest is None
            return bool(digest == hashlib.sha256(data).hexdigest())
        if kind == "dir":
            _, name, names = fact
            folder = Path(name)
            return folder.is_dir() and bool(yaml_names(folder) == names)
        if kind == "source":
            _, item, base, lock, target = fact
            found = resolve(
                parse_source(item),
                base=Path(base),
                lock=Lockfile.load(Path(lock)),
                update=False,
            )
            return bool(str(found) == target)
        if kind == "inside":
            _, goal, name = fact
            return is_inside(Path(name), project_root(Path(goal)))
    except (OSError, FileError, SourceError, RuntimeError, ValueError):
        return False
    return False


def yaml_names(folder: Path) -> list[str]:
    """Return the names of the YAML files in ``folder``, sorted."""
    return sorted(p.name for p in folder.iterdir() if p.suffix in YAML_SUFFIXES)


def _store(
    entry: Path, secret: bytes, key: bytes, facts: list[Fact], result: Result
) -> None:
    """Write the entry atomically; a folder that refuses it is left alone."""
    try:
        payload = _dumps((key, facts, *result))
    except (pickle.PicklingError, TypeError, AttributeError):
        return
    mac = hmac.digest(secret, MAGIC + payload, "sha256")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{entry.name}.", dir=entry.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(MAGIC + mac + payload)
        os.replace(tmp, entry)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return
    prune(entry.parent, MAX_ENTRIES, MAX_TOTAL_BYTES)


def prune(folder: Path, max_entries: int, max_bytes: int) -> None:
    """Remove the least recently used entries beyond the limits, and stray files.

    Every distinct load (goal, working directory, ``--set`` values) has an
    entry of its own, so a long-lived cache would grow without end.  A
    temporary file older than an hour was left by a writer that was killed.
    """
    entries: list[tuple[float, int, Path]] = []
    now = time.time()
    try:
        listing = list(folder.iterdir())
    except OSError:
        return
    for path in listing:
        # Only names this module writes are ever removed: anything else put in
        # the folder (a note, a folder, a link of someone's) is left alone.
        # lstat: a link is judged, and removed, as itself, never followed.
        try:
            info = path.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            continue
        if _ENTRY_NAME.fullmatch(path.name):
            entries.append((info.st_mtime, info.st_size, path))
        elif _TEMP_NAME.fullmatch(path.name) and now - info.st_mtime > 3600:
            with contextlib.suppress(OSError):
                path.unlink()
    entries.sort(reverse=True)
    total = 0
    for count, (_, size, path) in enumerate(entries, 1):
        total += size
        if count > max_entries or total > max_bytes:
            with contextlib.suppress(OSError):
                path.unlink()


_RULESET_FIELDS = tuple(f.name for f in dataclasses.fields(model.Ruleset))


def _new_ruleset(values: Any) -> model.Ruleset:
    """Rebuild a ``Ruleset`` (not slotted) from its fields.

    What it derives from them is derived again, never read from the entry: an
    attribute added by a later version is then never missing.
    """
    if not isinstance(values, dict) or set(values) != set(_RULESET_FIELDS):
        raise pickle.UnpicklingError("a Ruleset is rebuilt from its fields")
    ruleset = object.__new__(model.Ruleset)
    ruleset.__dict__.update(values)
    ruleset.__post_init__()
    return ruleset


_BY_NAME[_new_ruleset.__name__] = _new_ruleset


def _reduce(obj: Any) -> tuple[Any, ...]:
    cls = type(obj)
    names = _SLOTS.get(cls)
    if names is None:
        return _new_ruleset, ({name: getattr(obj, name) for name in _RULESET_FIELDS},)
    return _RESTORERS[cls], tuple(getattr(obj, name) for name in names)


def _dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=5)
    pickler.dispatch_table = {cls: _reduce for cls in _CLASSES}
    pickler.dump(value)
    return buffer.getvalue()


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name in _BY_NAME:
            return _BY_NAME[name]
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed")
        return found


def _loads(payload: bytes) -> Any:
    # Hundreds of thousands of objects are made at once, none of them garbage
    # and none in a cycle: collecting during the load, or scanning them in
    # every later collection, only costs time (a third of a cached load of
    # 10,000 actions).  Freezing also keeps whatever cyclic garbage exists
    # right now until exit: a few objects, once per load.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Unpickler(io.BytesIO(payload)).load()
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
