"""Find packs wherever a goal's ``uses`` says they are, and pin what was found.

A ``uses`` entry names a pack source:

* a path relative to the goal (``../actions.d``);
* a pack shipped with the engine (``goap:git``) -- the loader handles these;
* a git repository (``git+https://host/org/packs.git@v1.2#packs/git.yaml``),
  fetched once into a cache shared by every project of the user;
* an installed Python distribution (``pkg:NAME``) that declares an entry point
  ``NAME`` in the group ``goap_engine.packs``.

Remote and installed packs are pinned in ``goap.lock`` next to the goal: the
commit a git ref resolved to and a sha256 of the pack's files.  Later runs use
the pinned commit without touching the network, and a pack whose files no
longer hash to the pinned value is refused -- whether the cache was edited,
history rewritten, or an installed distribution upgraded -- until
``goap-engine packs update`` accepts the change.

The cache (``cache_dir()``) holds one bare mirror per repository under
``repos/`` and one read-only export per commit and ``#path`` under ``trees/``
(``packtree`` writes, checks and hashes them).  Exports are written to a
temporary folder and renamed into place, and fetches take an exclusive
``flock`` per repository, so projects sharing the cache can resolve at the
same time.
"""

from __future__ import annotations

# hashlib, shutil and tempfile are imported where they are used: every load
# parses its uses: entries here, and only fetching a pack needs them.
import fcntl
import importlib.util
import json
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from .errors import FileError
from .errors import SourceError as SourceError  # callers know it from here
from .files import load_json, read_text_limited
from .packtree import export_tree, tree_digest
from .store import atomic_write

SourceKind = Literal["path", "shipped", "git", "python"]

ENTRY_POINT_GROUP = "goap_engine.packs"
LOCK_NAME = "goap.lock"
LOCK_VERSION = 1
NETWORK_TIMEOUT = 600.0
"""Seconds a fetch may take before git is killed."""

SHIPPED_PREFIX = "goap:"
PYTHON_PREFIX = "pkg:"
GIT_PREFIX = "git+"
DEFAULT_REF = "HEAD"
ALLOWED_SCHEMES = ("https", "http", "ssh", "git", "file")
YAML_SUFFIXES = (".yaml", ".yml")

# What git may use to reach a pack repository: the schemes above.  Remote
# helpers such as ext:: run arbitrary commands, so they stay disabled even if
# a URL slipped past the checks.
_GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GCM_INTERACTIVE": "never",
    "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# ``transport::address`` makes git run a remote helper (ext:: runs commands).
_HELPER = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)::")
# git's own rule: a colon before the first slash makes ``host:path`` an ssh URL.
_SCP_LIKE = re.compile(r"^(?:([^@/:]*)@)?([^/:]+):(?!//)")
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./+-]*$")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_MAPPING_KEYS: dict[str, frozenset[str]] = {
    "git": frozenset({"git", "ref", "path", "as"}),
    "python": frozenset({"python", "path", "as"}),
    "path": frozenset({"path", "as"}),
}


@dataclass(frozen=True)
class PackSource:
    """Where a ``uses`` entry says its packs are."""

    kind: SourceKind
    spec: str
    """The entry as written (strings) or its canonical string (mappings)."""
    url: str = ""
    """git: the repository's URL or local path."""
    ref: str = ""
    """git: the tag, branch or commit to use."""
    subpath: str = ""
    """git and python: the folder or file of packs inside the repository."""
    alias: str = ""
    """The namespace the packs are loaded under (``as:``)."""

    @property
    def name(self) -> str:
        """Return how commands and messages refer to this source."""
        return self.alias or self.spec


# ---------------------------------------------------------------------------
# Parsing


def parse_source(entry: str | Mapping[str, Any]) -> PackSource:
    """Return the pack source a ``uses`` entry describes; raise ``SourceError``."""
    if isinstance(entry, Mapping):
        return _parse_mapping(entry)
    if not isinstance(entry, str):
        raise SourceError(
            f"uses entry {entry!r}: expected a string or a mapping "
            "with 'git', 'python' or 'path'"
        )
    if not entry.strip():
        raise SourceError(
            "uses entry is empty: give a path, goap:NAME, git+URL or pkg:NAME"
        )
    if entry.startswith(SHIPPED_PREFIX):
        name = entry[len(SHIPPED_PREFIX) :]
        _check_name(entry, name, "shipped pack name")
        return PackSource("shipped", entry)
    if entry.startswith(PYTHON_PREFIX):
        name, _, subpath = entry[len(PYTHON_PREFIX) :].partition("#")
        return _python_source(entry, name, subpath)
    if entry.startswith(GIT_PREFIX):
        rest, _, subpath = entry[len(GIT_PREFIX) :].partition("#")
        url, ref = _split_ref(rest)
        return _git_source(entry, url, ref, subpath)
    return PackSource("path", entry)


def _parse_mapping(entry: Mapping[str, Any]) -> PackSource:
    kinds = [k for k in ("git", "python") if k in entry] or (
        ["path"] if "path" in entry else []
    )
    if len(kinds) != 1:
        raise SourceError(
            f"uses entry {dict(entry)!r}: give exactly one of 'git', 'python' or 'path'"
        )
    kind = kinds[0]
    unknown = sorted(str(k) for k in entry if k not in _MAPPING_KEYS[kind])
    if unknown:
        allowed = ", ".join(sorted(_MAPPING_KEYS[kind]))
        raise SourceError(
            f"uses entry {dict(entry)!r}: unknown key(s) {', '.join(unknown)} "
            f"(a {kind} source takes {allowed})"
        )
    values = {str(k): _string(entry, str(k), v) for k, v in entry.items()}
    alias = values.get("as", "")
    if alias and not _ALIAS.match(alias):
        raise SourceError(
            f"uses entry {dict(entry)!r}: 'as: {alias}' must be a name of letters, "
            "digits and underscores"
        )
    if kind == "path":
        return PackSource("path", values["path"], alias=alias)
    subpath = values.get("path", "")
    if kind == "python":
        name = values["python"]
        spec = PYTHON_PREFIX + name + (f"#{subpath}" if subpath else "")
        return _python_source(spec, name, subpath, alias)
    url, ref = values["git"], values.get("ref")
    spec = (
        GIT_PREFIX
        + url
        + (f"@{ref}" if ref is not None else "")
        + (f"#{subpath}" if subpath else "")
    )
    return _git_source(spec, url, ref, subpath, alias)


def _string(entry: Mapping[str, Any], key: str, value: Any) -> str:
    if not isinstance(value, str):
        # A YAML number such as ``ref: 1.10`` would silently become 1.1.
        raise SourceError(
            f"uses entry {dict(entry)!r}: '{key}' must be a string "
            f'(quote it: {key}: "{value}")'
        )
    return value


def _split_ref(rest: str) -> tuple[str, str | None]:
    """Split ``URL@REF`` at the last ``@`` after the host part of the URL.

    The ref is None when there is no ``@`` (an ``@`` in ``user@host`` does not
    count).
    """
    scheme = _SCHEME.match(rest)
    if scheme:
        slash = rest.find("/", scheme.end())
        start = len(rest) if slash < 0 else slash
    else:
        scp = _SCP_LIKE.match(rest)
        start = scp.end() if scp else 0
    at = rest.rfind("@", start)
    if at < 0:
        return rest, None
    return rest[:at], rest[at + 1 :]


def _python_source(spec: str, name: str, subpath: str, alias: str = "") -> PackSource:
    _check_name(spec, name, "entry point name")
    return PackSource(
        "python", spec, subpath=_check_subpath(spec, subpath), alias=alias
    )


def _git_source(
    spec: str, url: str, ref: str | None, subpath: str, alias: str = ""
) -> PackSource:
    _check_url(spec, url)
    if ref is not None:
        _check_ref(spec, ref)
    return PackSource(
        "git",
        spec,
        url=url,
        ref=ref or DEFAULT_REF,
        subpath=_check_subpath(spec, subpath),
        alias=alias,
    )


def _unsafe_chars(text: str) -> bool:
    return any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text)


def _check_name(spec: str, name: str, what: str) -> None:
    if not _NAME.match(name):
        raise SourceError(
            f"uses entry '{spec}': {what} '{name}' must start with a letter, digit "
            "or underscore and contain only letters, digits, '_', '.' and '-'"
        )


def _check_url(spec: str, url: str) -> None:
    if not url:
        raise SourceError(f"uses entry '{spec}': no repository URL after 'git+'")
    if url.startswith("-"):
        # git would read it as an option (e.g. --upload-pack=COMMAND).
        raise SourceError(
            f"uses entry '{spec}': a repository URL must not start with '-'"
        )
    if _unsafe_chars(url):
        raise SourceError(
            f"uses entry '{spec}': the repository URL contains whitespace or "
            "control characters"
        )
    helper = _HELPER.match(url)
    if helper:
        raise SourceError(
            f"uses entry '{spec}': git remote helpers ('{helper.group(0)}') are "
            f"not allowed; use one of {', '.join(ALLOWED_SCHEMES)} or a local path"
        )
    scheme = _SCHEME.match(url)
    if scheme:
        name = scheme.group(1).lower()
        if name not in ALLOWED_SCHEMES:
            raise SourceError(
                f"uses entry '{spec}': URL scheme '{name}' is not allowed; use one "
                f"of {', '.join(ALLOWED_SCHEMES)} or a local path"
            )
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 -- parsing it is the check
        except ValueError as exc:
            raise SourceError(f"uses entry '{spec}': invalid URL: {exc}") from None
        if (parts.hostname or "").startswith("-") or (parts.username or "").startswith(
            "-"
        ):
            raise SourceError(
                f"uses entry '{spec}': a host or user name must not start with '-'"
            )
        if parts.password:
            # goap.lock is meant to be committed, and messages repeat the URL.
            raise SourceError(
                f"uses entry '{spec}': the URL contains a password; configure a git "
                "credential helper or an ssh key instead"
            )
        if name != "file" and not parts.hostname:
            raise SourceError(f"uses entry '{spec}': the URL has no host")
        return
    scp = _SCP_LIKE.match(url)
    if scp and any((part or "").startswith("-") for part in scp.groups()):
        raise SourceError(
            f"uses entry '{spec}': a host or user name must not start with '-'"
        )


def _check_ref(spec: str, ref: str) -> None:
    if not ref:
        raise SourceError(
            f"uses entry '{spec}': nothing after '@'; give a tag, branch or commit"
        )
    if ref.startswith("-"):
        raise SourceError(f"uses entry '{spec}': a ref must not start with '-'")
    if (
        not _REF.match(ref)
        or ".." in ref
        or ref.endswith(("/", ".", ".lock"))
        or "//" in ref
    ):
        raise SourceError(
            f"uses entry '{spec}': '{ref}' is not a valid tag, branch or commit "
            "(letters, digits and '_', '.', '/', '+', '-' only)"
        )


def _check_subpath(spec: str, subpath: str) -> str:
    """Return ``subpath`` normalised; refuse one that leaves its root."""
    if not subpath:
        return ""
    if _unsafe_chars(subpath) or "\\" in subpath:
        raise SourceError(
            f"uses entry '{spec}': path '{subpath}' contains whitespace, control "
            "characters or backslashes"
        )
    path = PurePosixPath(subpath)
    if path.is_absolute() or ".." in path.parts:
        raise SourceError(
            f"uses entry '{spec}': path '{subpath}' must stay inside the pack source "
            "(no leading '/', no '..')"
        )
    normal = path.as_posix()
    return "" if normal == "." else normal


# ---------------------------------------------------------------------------
# goap.lock


@dataclass
class Lockfile:
    """The pins of a goal's remote and installed packs (``goap.lock``)."""

    path: Path
    entries: dict[str, dict[str, str]] = field(default_factory=dict)
    """Keyed by ``PackSource.spec``: ``url``, ``ref``, ``commit`` and ``sha256``."""

    @classmethod
    def load(cls, path: Path) -> Lockfile:
        """Return the lock file at ``path``; a missing file is an empty lock."""
        fix = "fix it or delete it and run 'goap-engine packs update'"
        try:
            # Bounded and regular files only: a FIFO or /dev/zero named
            # goap.lock would hang or exhaust memory, deep nesting would recurse.
            data = load_json(read_text_limited(path), path)
        except FileError as exc:
            if not path.exists() and not path.is_symlink():
                return cls(path)
            raise FileError(path, f"{exc.reason}; {fix}", exc.line, exc.col) from None
        if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
            raise SourceError(
                f'{path}: expected a JSON object with "version": {LOCK_VERSION}; {fix}'
            )
        packs = data.get("packs", {})
        if not isinstance(packs, dict):
            raise SourceError(f'{path}: "packs" must be a JSON object; {fix}')
        entries: dict[str, dict[str, str]] = {}
        for key, value in packs.items():
            if not isinstance(value, dict) or not all(
                isinstance(v, str) for v in value.values()
            ):
                raise SourceError(
                    f"{path}: the entry for '{key}' must map names to strings; {fix}"
                )
            entries[key] = dict(value)
        return cls(path, entries)

    def save(self) -> None:
        """Write the lock file atomically, in a stable order that diffs well."""
        data = {"version": LOCK_VERSION, "packs": self.entries}
        atomic_write(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def lock_path(goal_file: Path) -> Path:
    """Return where the lock file of ``goal_file`` lives."""
    return goal_file.parent / LOCK_NAME


def cache_dir() -> Path:
    """Return the cache shared by every project of this user."""
    explicit = os.environ.get("GOAP_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().absolute()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says relative values are invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "goap-engine"
    return Path.home() / ".cache" / "goap-engine"


# ---------------------------------------------------------------------------
# Resolving


def resolve(
    source: PackSource,
    *,
    base: Path,
    lock: Lockfile,
    update: bool = False,
    offline: bool = False,
) -> Path:
    """Return the file or folder holding the packs of ``source``.

    ``base`` is the folder of the goal that uses the source.  Git and python
    sources are checked against, and recorded in, ``lock.entries``; the caller
    saves the lock.  ``update`` re-resolves git refs and accepts changed content.
    ``offline`` refuses a git pack whose pinned export is not in the cache
    (it would fetch, and write the cache).
    """
    if source.kind == "path":
        return (base / source.spec).absolute()
    if source.kind == "python":
        return _resolve_python(source, lock, update)
    if source.kind == "git":
        return _resolve_git(source, base, lock, update, offline)
    raise SourceError(
        f"'{source.spec}' is a shipped pack: the loader finds those itself"
    )


def _changed(source: PackSource, actual: str, pinned: str, why: str) -> SourceError:
    command = shlex.join(["goap-engine", "packs", "update", source.name])
    return SourceError(
        f"pack '{source.spec}' changed: its content hash is {actual[:16]}, "
        f"{LOCK_NAME} says {pinned[:16]} ({why}); run '{command}' if the change "
        "is expected"
    )


def _resolve_python(source: PackSource, lock: Lockfile, update: bool) -> Path:
    # Reading installed distributions' metadata costs more than the rest of
    # this module: only a pack package pays for it.
    from importlib import metadata

    name = source.spec[len(PYTHON_PREFIX) :].partition("#")[0]
    found = list(metadata.entry_points(group=ENTRY_POINT_GROUP, name=name))
    if not found:
        available = sorted(
            {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
        )
        raise SourceError(
            f"no installed distribution provides pack '{source.spec}' (entry point "
            f"'{name}' in group '{ENTRY_POINT_GROUP}'); install it in the engine's "
            f"environment (installed: {', '.join(available) or 'none'})"
        )
    values = sorted({ep.value for ep in found})
    if len(values) > 1:
        raise SourceError(
            f"pack '{source.spec}' is provided by several distributions "
            f"({', '.join(values)}); uninstall all but one"
        )
    ep = found[0]
    folder = _entry_point_folder(source, ep.value)
    target = folder / source.subpath if source.subpath else folder
    if not target.exists():
        raise SourceError(
            f"pack '{source.spec}': '{source.subpath}' not found in {folder}"
        )
    digest = tree_digest(
        target, suffixes=YAML_SUFFIXES, pack=source.spec, shown=source.subpath
    )
    pinned = lock.entries.get(source.spec, {}).get("sha256", "")
    if pinned and pinned != digest and not update:
        raise _changed(source, digest, pinned, "the installed distribution changed")
    dist = ep.dist
    lock.entries[source.spec] = {
        "url": ep.value,
        "ref": f"{dist.name}=={dist.version}" if dist is not None else "",
        "commit": "",
        "sha256": digest,
    }
    return target


def _entry_point_folder(source: PackSource, value: str) -> Path:
    """Return the folder an entry point ``package`` or ``package:folder`` names.

    The package is located, not imported (only the parents of a dotted name
    are), so using an installed pack does not run its code.
    """
    package, _, sub = (part.strip() for part in value.partition(":"))
    # ``package:packs.extra`` names the folder packs/extra, as a module path would.
    sub = _check_subpath(source.spec, sub.replace(".", "/"))
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError) as exc:
        raise SourceError(
            f"pack '{source.spec}': cannot locate package '{package}': {exc}"
        ) from None
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise SourceError(
            f"pack '{source.spec}': entry point value '{value}' must name a package "
            "installed as files ('package' or 'package:folder')"
        )
    for location in locations:
        folder = Path(location) / sub if sub else Path(location)
        if folder.is_dir():
            return folder.absolute()
    raise SourceError(
        f"pack '{source.spec}': folder '{sub}' not found in package '{package}' "
        f"({', '.join(locations)})"
    )


def _resolve_git(
    source: PackSource, base: Path, lock: Lockfile, update: bool, offline: bool
) -> Path:
    # Checked again: a PackSource may have been built without parse_source.
    _check_url(source.spec, source.url)
    _check_ref(source.spec, source.ref)
    if _check_subpath(source.spec, source.subpath) != source.subpath:
        raise SourceError(
            f"pack '{source.spec}': subpath '{source.subpath}' is not normalised"
        )
    remote = _remote(source, base)
    trees = cache_dir() / "trees"
    entry = lock.entries.get(source.spec, {})
    pinned_commit = "" if update else entry.get("commit", "")
    pinned_sha = entry.get("sha256", "")
    if pinned_commit and not _COMMIT.match(pinned_commit):
        raise SourceError(
            f"{lock.path}: commit '{pinned_commit}' of '{source.spec}' is not a "
            "commit id; run 'goap-engine packs update'"
        )
    if pinned_commit and (trees / export_name(pinned_commit, source.subpath)).is_dir():
        # The pinned export is in the cache: no git at all.
        commit = pinned_commit
        tree = trees / export_name(commit, source.subpath)
    elif offline:
        raise SourceError(
            f"pack '{source.spec}' is not fetched yet, and a proposal fetches "
            "nothing; add it to the goal and run 'goap-engine packs update' first"
        )
    else:
        with _mirror(remote) as repo:
            if pinned_commit:
                commit = pinned_commit
                _ensure_commit(repo, source, remote, commit)
            elif _COMMIT.match(source.ref) and _has_commit(repo, source.ref):
                commit = source.ref  # a commit id cannot move: no need to fetch
            else:
                _fetch(repo, source, remote)
                commit = _rev_parse(repo, source, remote)
            tree = export_tree(
                repo,
                source.spec,
                remote,
                commit,
                source.subpath,
                trees / export_name(commit, source.subpath),
            )
            # Keeps the commit in the mirror even after its tag or branch moves.
            _git(repo, source, "update-ref", f"refs/goap/commits/{commit}", commit)
    target = tree / source.subpath if source.subpath else tree
    if not os.path.lexists(target):
        raise SourceError(
            f"pack '{source.spec}': '{source.subpath}' not found in {remote} at "
            f"commit {commit[:12]}"
        )
    if source.subpath and os.path.islink(target):
        # Exports never hold one (see export_tree): the cache was edited.
        raise SourceError(
            f"pack '{source.spec}': {target} is a symbolic link; remove "
            f"{tree} to have it exported again"
        )
    digest = tree_digest(target, pack=source.spec, shown=source.subpath)
    if pinned_commit and pinned_sha and pinned_sha != digest:
        raise _changed(
            source, digest, pinned_sha, "tampered cache or rewritten history"
        )
    lock.entries[source.spec] = {
        "url": source.url,
        "ref": source.ref,
        "commit": commit,
        "sha256": digest,
    }
    return target


def export_name(commit: str, subpath: str) -> str:
    """Return the name of the cache folder holding ``subpath`` of ``commit``.

    Each source's ``#path`` is exported on its own (only its objects are
    read), so two sources naming different paths of one commit get two folders.
    """
    import hashlib

    if not subpath:
        return commit
    return f"{commit}.{hashlib.sha256(subpath.encode()).hexdigest()[:12]}"


def _remote(source: PackSource, base: Path) -> str:
    """Return the URL git fetches from: local paths are made absolute.

    Resolving the path gives one repository one mirror, however goals name it.
    """
    if _SCHEME.match(source.url) or _SCP_LIKE.match(source.url):
        return source.url
    return str((base / source.url).resolve())


def _git_module() -> Any:
    try:
        import git
    except ImportError as exc:
        raise SourceError(
            f"git pack sources need GitPython and git ({exc}); install them with "
            "\"pip install 'goap-engine[git]'\""
        ) from None
    return git


def _describe(exc: Any) -> str:
    """Return what git said, without GitPython's framing."""
    text = str(getattr(exc, "stderr", "") or "").strip()
    text = text.removeprefix("stderr: '").removesuffix("'")
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("hint:")
    ]
    return "; ".join(lines) or f"status {getattr(exc, 'status', '?')}"


def _git(repo: Any, source: PackSource, verb: str, *args: str, **kwargs: Any) -> str:
    """Run ``git VERB ARGS`` in the mirror; turn a failure into ``SourceError``."""
    git = _git_module()
    try:
        return str(getattr(repo.git, verb.replace("-", "_"))(*args, **kwargs))
    except git.GitCommandError as exc:
        raise SourceError(
            f"pack '{source.spec}': git {verb} failed: {_describe(exc)}"
        ) from None


@contextmanager
def _mirror(remote: str) -> Iterator[Any]:
    """Yield the cache's bare mirror of ``remote``, locked against other processes."""
    import hashlib

    git = _git_module()
    repos = cache_dir() / "repos"
    repos.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(remote.encode()).hexdigest()[:16]
    path = repos / f"{key}.git"
    with _flock(repos / f"{key}.lock"):
        if not path.is_dir():
            _init_mirror(git, path, remote)
        repo = git.Repo(path)
        try:
            repo.git.update_environment(**_GIT_ENV)
            yield repo
        finally:
            repo.close()


def _init_mirror(git: Any, path: Path, remote: str) -> None:
    """Create an empty bare mirror at ``path`` (renamed into place when complete)."""
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        repo = git.Repo.init(tmp, bare=True)
        with repo.config_writer() as config:
            # A cache is never worth a background gc racing the next fetch.
            config.set_value("gc", "auto", "0")
            config.set_value("maintenance", "auto", "false")
            config.set_value("goap", "remote", remote)
        repo.close()
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fetch(repo: Any, source: PackSource, remote: str, *extra: str) -> None:
    """Bring the mirror up to date with ``remote`` (branches, tags, and HEAD)."""
    refspecs = extra or (
        "+refs/heads/*:refs/heads/*",
        "+refs/tags/*:refs/tags/*",
        *(["+HEAD:refs/goap/remote-HEAD"] if source.ref == DEFAULT_REF else []),
    )
    prune = [] if extra else ["--prune"]
    _git(
        repo,
        source,
        "fetch",
        "--quiet",
        "--no-tags",
        *prune,
        "--",
        remote,
        *refspecs,
        kill_after_timeout=NETWORK_TIMEOUT,
    )


def _has_commit(repo: Any, commit: str) -> bool:
    git = _git_module()
    try:
        repo.git.cat_file("-e", f"{commit}^{{commit}}")
    except git.GitCommandError:
        return False
    return True


def _ensure_commit(repo: Any, source: PackSource, remote: str, commit: str) -> None:
    """Fetch the pinned ``commit`` unless the mirror already has it."""
    if _has_commit(repo, commit):
        return
    _fetch(repo, source, remote)
    if not _has_commit(repo, commit):
        # Not reachable from a branch or tag any more; servers may still serve it.
        with suppress(SourceError):
            _fetch(repo, source, remote, f"{commit}:refs/goap/commits/{commit}")
    if not _has_commit(repo, commit):
        command = shlex.join(["goap-engine", "packs", "update", source.name])
        raise SourceError(
            f"pack '{source.spec}': commit {commit[:12]} pinned in {LOCK_NAME} is "
            f"no longer in {remote} (rewritten history?); run '{command}' to pin "
            "what the ref points to now"
        )


def _rev_parse(repo: Any, source: PackSource, remote: str) -> str:
    """Return the commit ``source.ref`` names in the freshly fetched mirror."""
    ref = "refs/goap/remote-HEAD" if source.ref == DEFAULT_REF else source.ref
    git = _git_module()
    try:
        # The ref was checked not to start with '-' (see _check_ref).
        out = repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")
    except git.GitCommandError:
        out = ""
    commit = str(out).strip()
    if not commit and _COMMIT.match(source.ref):
        with suppress(SourceError):
            _fetch(repo, source, remote, f"{source.ref}:refs/goap/commits/{source.ref}")
        commit = source.ref if _has_commit(repo, source.ref) else ""
    if not commit:
        raise SourceError(
            f"pack '{source.spec}': {remote} has no tag, branch or commit "
            f"'{source.ref}'"
        )
    return commit
