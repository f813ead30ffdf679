"""Export a pack's files from git, keep its links inside it, and hash it.

A pack is the file or folder a source's ``#path`` names (the whole repository
without one).  Only the objects under that path are read from the repository,
and their sizes are checked from git's object headers before any content is:
the rest of the repository may hold anything.

Symbolic links may stay in a pack -- one shared file under a second name is a
reasonable thing to commit -- but each is resolved by the operating system to
its real path (``os.path.realpath``), never judged by its text, and must end
at a regular file or folder inside the pack.  Chains such as ``a -> sub/..``
or ``x -> y/../..`` with ``y`` itself a link are judged by where they really
lead.  Nothing here opens a FIFO or a device, and a link loop is an error.
"""

from __future__ import annotations

# hashlib, shutil and tempfile are imported where they are used: every load
# checks its local packs here, and only git packs need them.
import errno
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import SourceError
from .files import MAX_FILE_BYTES

MAX_PACK_FILE_BYTES = MAX_FILE_BYTES
"""The largest file a pack may hold: the largest YAML file the loader reads."""
MAX_PACK_BYTES = 64 * 1024 * 1024
"""The most a pack's files may hold together."""
MAX_PACK_ENTRIES = 10_000
"""The most files and folders a pack may hold."""

_Entry = tuple[str, str, bytes]
"""A file of a tree: relative path, kind (``f``, ``x`` or ``l``) and content."""

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _join(shown: str, rel: str) -> str:
    return f"{shown}/{rel}" if shown and rel else shown or rel


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _too_big(pack: str, label: str, size: int) -> SourceError:
    return SourceError(
        f"pack '{pack}': {label} is {_mib(size)} ({size:,} bytes); a pack file "
        f"may hold at most {_mib(MAX_PACK_FILE_BYTES)}"
    )


def _too_much(pack: str, size: int) -> SourceError:
    return SourceError(
        f"pack '{pack}': its files hold more than {_mib(MAX_PACK_BYTES)} "
        f"({size:,} bytes so far); a pack may hold at most {_mib(MAX_PACK_BYTES)}"
    )


def _too_many(pack: str) -> SourceError:
    return SourceError(
        f"pack '{pack}': more than {MAX_PACK_ENTRIES:,} files and folders; a pack "
        f"may hold at most {MAX_PACK_ENTRIES:,} (name a smaller folder with '#path')"
    )


class _Budget:
    """Count a pack's entries and bytes against the limits, before reading."""

    def __init__(self, pack: str) -> None:
        self.pack = pack
        self.entries = 0
        self.size = 0

    def entry(self) -> None:
        self.entries += 1
        if self.entries > MAX_PACK_ENTRIES:
            raise _too_many(self.pack)

    def file(self, label: str, size: int) -> None:
        if size > MAX_PACK_FILE_BYTES:
            raise _too_big(self.pack, label, size)
        self.size += size
        if self.size > MAX_PACK_BYTES:
            raise _too_much(self.pack, self.size)


# ---------------------------------------------------------------------------
# Reading a commit


def commit_files(
    repo: Any, pack: str, where: str, commit: str, subpath: str
) -> list[_Entry]:
    """Return the files of ``commit`` under ``subpath`` as git stores them.

    Only that subtree is traversed, and every blob's size is checked against
    the limits before any blob is read.  Blobs are read from the object
    database directly, so no attribute (``export-subst``, ``eol``) or filter
    (LFS) alters them: the export is the same on every machine and its hash is
    reproducible.
    """
    top = repo.commit(commit).tree
    try:
        item = top / subpath if subpath else top
    except KeyError:
        raise SourceError(
            f"pack '{pack}': '{subpath}' not found in {where} at commit {commit[:12]}"
        ) from None
    if item.type not in ("blob", "tree"):
        raise SourceError(
            f"pack '{pack}': '{subpath}' is a submodule in {where}, not a file or "
            "folder of packs"
        )
    budget = _Budget(pack)
    blobs = []
    for entry in [item] if item.type == "blob" else item.traverse():
        budget.entry()
        if entry.type != "blob":
            continue  # trees are implied by their files; submodules are not packs
        # ``size`` comes from the object's header (git cat-file --batch-check).
        budget.file(str(entry.path), int(entry.size))
        blobs.append(entry)
    files = []
    for blob in blobs:
        kind = (
            "l"
            if blob.mode & 0o170000 == 0o120000
            else "x"
            if blob.mode & 0o111
            else "f"
        )
        data = blob.data_stream.read(MAX_PACK_FILE_BYTES + 1)
        if len(data) > MAX_PACK_FILE_BYTES:  # the object lied about its size
            raise _too_big(pack, str(blob.path), len(data))
        files.append((str(blob.path), kind, data))
    return files


def export_tree(
    repo: Any, pack: str, where: str, commit: str, subpath: str, final: Path
) -> Path:
    """Return ``final`` holding ``subpath`` of ``commit``, exported unless intact.

    The files are written to a temporary folder beside ``final``, their links
    checked, and the folder renamed into place, so a pack that is refused
    leaves nothing in the cache and concurrent exports do not collide.
    """
    import hashlib
    import tempfile

    files = commit_files(repo, pack, where, commit, subpath)
    expected = digest((p, k, hashlib.sha256(d).hexdigest()) for p, k, d in files)
    with suppress(SourceError):  # an unreadable copy is a damaged one
        if final.is_dir() and tree_digest(final, follow_links=False) == expected:
            return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        _write_files(pack, tmp, files)
        if subpath and os.path.islink(tmp / subpath):
            target = os.readlink(tmp / subpath)
            raise SourceError(
                f"pack '{pack}': '{subpath}' is a symbolic link to '{target}'; name "
                "the file or folder it leads to instead"
            )
        check_links(tmp / subpath if subpath else tmp, pack=pack, shown=subpath)
        if final.exists():
            # A damaged copy (edited by hand): move it aside, then replace it.
            stale = Path(
                tempfile.mkdtemp(prefix=f".{final.name}.stale.", dir=final.parent)
            )
            with suppress(FileNotFoundError):
                os.rename(final, stale / "tree")
            remove(stale)
        try:
            os.rename(tmp, final)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # Another process exported the same commit first: use its copy.
            remove(tmp)
    except BaseException:
        remove(tmp)
        raise
    return final


def _write_files(pack: str, root: Path, files: list[_Entry]) -> None:
    # Links last: no file is then written through a link this export made,
    # whatever a crafted tree lists (a link and a folder of the same name).
    for rel, kind, data in sorted(files, key=lambda f: f[1] == "l"):
        if rel.startswith("/") or ".." in PurePosixPath(rel).parts:
            # git refuses such paths on checkout; a crafted tree may still hold one.
            raise SourceError(f"pack '{pack}': unsafe path '{rel}' in the tree")
        path = root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "l":
                os.symlink(data.decode("utf-8", "surrogateescape"), path)
                continue
            path.write_bytes(data)
            # Read-only, so that an editor jumping into a pack does not change
            # the shared cache by accident.
            path.chmod(0o555 if kind == "x" else 0o444)
        except OSError as exc:
            raise SourceError(
                f"pack '{pack}': cannot export '{rel}' into {root}: {exc.strerror}"
            ) from None


def remove(path: Path) -> None:
    """Remove an export (its files are read-only but its folders are not)."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------
# Walking a pack on disk


@dataclass(frozen=True)
class _File:
    rel: str
    """The path below the pack's root, as the pack names it."""
    real: str
    """Where it is: a path without links (with ``follow``), else the entry."""
    kind: str
    """``f`` (a regular file) or ``l`` (a link, when links are not followed)."""


def _real(path: str, pack: str, label: str) -> str:
    """Return ``path`` with every link resolved; refuse a loop or a missing end."""
    try:
        return os.path.realpath(path, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SourceError(
                f"pack '{pack}': {label} is a symbolic link loop ({exc.strerror})"
            ) from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return ""
        raise SourceError(
            f"pack '{pack}': cannot read {label}: {exc.strerror}"
        ) from None


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _check_kind(mode: int, pack: str, label: str, real: str = "") -> None:
    """Refuse anything but a regular file or folder; ``real`` is where a link led."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    what = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
    shown = f" ({real})" if real else ""
    raise SourceError(
        f"pack '{pack}': {label} is {what}{shown}; a pack holds only regular "
        "files and folders"
    )


def _link(entry: str, root: str, pack: str, label: str) -> tuple[str, os.stat_result]:
    """Return the real path and status a link inside the pack leads to."""
    text = os.readlink(entry)
    real = _real(entry, pack, label)
    if not real or not _inside(real, root):
        lexical = os.path.realpath(entry)
        inside = real == "" and _inside(lexical, root)
        where = "to nothing" if inside else "outside the pack"
        raise SourceError(
            f"pack '{pack}': {label} is a symbolic link to '{text}', which leads "
            f"{where}; links in a pack must lead to a file or folder inside it"
        )
    st = os.stat(real)
    _check_kind(st.st_mode, pack, label, real)
    return real, st


def _status(
    entry: str, root: str, pack: str, label: str, *, follow: bool
) -> tuple[str, os.stat_result]:
    """Return where ``entry`` really is and its status, refusing what is not allowed.

    Without ``follow`` a link is returned as itself, unresolved.
    """
    try:
        st = os.lstat(entry)
        if not stat.S_ISLNK(st.st_mode):
            _check_kind(st.st_mode, pack, label)
            return entry, st
        if not follow:
            return entry, st
        return _link(entry, root, pack, label)
    except OSError as exc:
        raise SourceError(
            f"pack '{pack}': cannot read {label}: {exc.strerror}"
        ) from None


def _walk(
    path: Path, pack: str, shown: str, *, follow: bool, suffixes: tuple[str, ...]
) -> list[_File]:
    """Return the files under ``path`` (or ``path`` itself), checked and counted.

    With ``follow``, links are resolved and must stay inside ``path``; each
    folder is walked once, so a link back up the tree ends, not loops.
    Without, links are listed as links and never read through.
    """
    label = shown or path.name
    budget = _Budget(pack)
    if follow:
        root = _real(str(path), pack, label)
        if not root:
            raise SourceError(f"pack '{pack}': {label} not found ({path})")
        st = os.stat(root)
    else:
        root = str(path)
        st = os.lstat(root)
        if stat.S_ISLNK(st.st_mode):
            return [_File(path.name, root, "l")]
    _check_kind(st.st_mode, pack, label, root if root != str(path) else "")
    if stat.S_ISREG(st.st_mode):
        budget.file(label, st.st_size)
        return [_File(path.name, root, "f")]
    files: list[_File] = []
    seen = {root}
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            raise SourceError(
                f"pack '{pack}': cannot list {_join(shown, prefix) or label}: "
                f"{exc.strerror}"
            ) from None
        for name in names:
            budget.entry()
            rel, entry = prefix + name, os.path.join(folder, name)
            where = _join(shown, rel)
            real, st = _status(entry, root, pack, where, follow=follow)
            if stat.S_ISLNK(st.st_mode):  # only when not following
                if not suffixes or name.endswith(suffixes):
                    files.append(_File(rel, entry, "l"))
            elif stat.S_ISDIR(st.st_mode):
                if real not in seen:
                    seen.add(real)
                    stack.append((real, rel + "/"))
            elif not suffixes or name.endswith(suffixes):
                budget.file(where, st.st_size)
                files.append(_File(rel, real, "f"))
    return files


def check_links(path: Path, *, pack: str, shown: str = "") -> None:
    """Refuse a pack whose links leave it or end at something not a file or folder."""
    _walk(path, pack, shown, follow=True, suffixes=())


def _read(file: _File, pack: str, label: str) -> bytes:
    """Return a file's content, never opening anything but a regular file."""
    try:
        fd = os.open(file.real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise SourceError(
            f"pack '{pack}': cannot read {label}: {exc.strerror}"
        ) from None
    with os.fdopen(fd, "rb") as handle:
        _check_kind(os.fstat(fd).st_mode, pack, label)
        data = handle.read(MAX_PACK_FILE_BYTES + 1)
    if len(data) > MAX_PACK_FILE_BYTES:  # grown since it was counted
        raise _too_big(pack, label, len(data))
    return data


# ---------------------------------------------------------------------------
# Hashes


def digest(files: Iterable[tuple[str, str, str]]) -> str:
    """Return the sha256 of ``(path, kind, content sha256)`` triples, sorted.

    The executable bit is left out: it means nothing to a pack, and installers
    do not all preserve it.
    """
    import hashlib

    h = hashlib.sha256()
    for rel, kind, sha in sorted(files):
        link = "l" if kind == "l" else "f"
        h.update(f"{rel}\0{link}\0{sha}\0".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def tree_digest(
    path: Path,
    *,
    suffixes: tuple[str, ...] = (),
    follow_links: bool = True,
    pack: str = "",
    shown: str = "",
) -> str:
    """Return the sha256 of the files under ``path`` (or of the file ``path``).

    It covers every file's path relative to ``path`` and the sha256 of its
    content, in sorted order; ``suffixes`` limits it to files with those
    endings.  By default symbolic links are followed -- each must stay inside
    ``path`` -- so the hash covers what the loader reads; with
    ``follow_links=False`` a link counts as its target's name, the way git
    stores it.  ``pack`` and ``shown`` name the pack and ``path`` in errors.
    """
    pack = pack or str(path)
    files = _walk(path, pack, shown, follow=follow_links, suffixes=suffixes)
    return digest(_entries(files, pack, shown))


def _entries(
    files: list[_File], pack: str, shown: str
) -> Iterator[tuple[str, str, str]]:
    import hashlib

    for file in files:
        if file.kind == "l":
            target = os.readlink(file.real).encode("utf-8", "surrogateescape")
            yield file.rel, "l", hashlib.sha256(target).hexdigest()
        else:
            data = _read(file, pack, _join(shown, file.rel))
            yield file.rel, "f", hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# Local packs


def check_local_pack(target: Path, pack: str, suffixes: tuple[str, ...]) -> None:
    """Refuse a local pack whose files (those ending in ``suffixes``) lead out of it.

    ``target`` is what a ``uses`` entry names; it may itself be a link -- the
    goal's author named it -- but must end at a regular file or folder, and
    the links among the folder's files must stay inside that folder.  Only the
    files the loader reads are looked at, so naming a large folder stays cheap.
    A missing ``target`` is left to the loader to report.
    """
    root = _real(str(target), pack, pack)
    if not root:
        return
    st = os.stat(root)
    _check_kind(st.st_mode, pack, pack, root if root != str(target) else "")
    if not stat.S_ISDIR(st.st_mode):
        return
    try:
        names = sorted(os.listdir(root))
    except OSError as exc:
        raise SourceError(f"pack '{pack}': cannot list it: {exc.strerror}") from None
    for name in names:
        if not name.endswith(suffixes):
            continue
        _status(os.path.join(root, name), root, pack, _join(pack, name), follow=True)


@dataclass(frozen=True)
class Fence:
    """The real root of a fetched or installed pack, which its own paths may not leave.

    A pack from git or a Python distribution may use local paths only inside
    itself: ``uses: ../../../etc`` from a pack in the cache would otherwise read
    files its hash does not cover.
    """

    root: str
    pack: str

    @staticmethod
    def of(target: Path, pack: str) -> Fence:
        """Return the fence around the pack at ``target``."""
        return Fence(os.path.realpath(target), pack)

    def check(self, target: Path, item: str) -> None:
        """Refuse ``target``, named by the ``uses`` entry ``item``, if outside."""
        if not _inside(os.path.realpath(target), self.root):
            raise SourceError(
                f"'{item}' leads outside pack '{self.pack}': a pack from git or an "
                "installed distribution may use only its own files, shipped packs "
                "and other sources"
            )
