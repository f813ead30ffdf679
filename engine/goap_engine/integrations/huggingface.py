"""Hugging Face built-ins: publish a folder to the Hub or to a local registry.

Arguments (``with:``): ``repo_id`` ("owner/name"), ``repo_type`` (default
``model``), ``folder`` (relative to the working directory), ``allow_patterns``
(glob patterns on paths inside the folder; default: every file), ``card`` (a
model card uploaded as ``README.md``), ``private``, ``token_env`` (default
``HF_TOKEN``) and ``endpoint`` (default ``$HF_ENDPOINT`` or the public Hub).

Files are compared by content with what the Hub already holds, so uploading
what is already there creates no commit.  ``publish_local`` is the route
without a token: a content-addressed folder under ``registry/<repo_id>/``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..executor.hooks import HookContext
from . import IntegrationError, check_inside, require

REPO_TYPES = ("model", "dataset", "space")
# What upload_folder never uploads either: git metadata and the Hub's cache.
IGNORED_DIRS = (".git", ".cache/huggingface")
CHUNK = 1 << 20


@dataclass(frozen=True)
class LocalFile:
    """A file to publish: where it is, where it goes, and its digests."""

    path: Path
    sha256: str
    git_sha1: str
    size: int


# -- local files -----------------------------------------------------------


def _arg(ctx: HookContext, name: str, default: Any = None) -> Any:
    """Return an argument; an empty string (an unset template var) is unset."""
    value = ctx.args.get(name)
    return default if value is None or value == "" else value


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _patterns(ctx: HookContext) -> list[str] | None:
    patterns = _arg(ctx, "allow_patterns")
    if patterns is None:
        return None
    if isinstance(patterns, str):
        return [patterns]
    return [str(p) for p in patterns]


def _matches(relpath: str, patterns: list[str] | None) -> bool:
    if any(
        relpath == ignored or relpath.startswith(ignored + "/")
        for ignored in IGNORED_DIRS
    ):
        return False
    if patterns is None:
        return True
    # A pattern naming a folder ("weights/") means everything in it.
    return any(
        fnmatch.fnmatch(relpath, p + "*" if p.endswith("/") else p) for p in patterns
    )


def _digest(path: Path) -> tuple[str, str, int]:
    """Return the sha256, the git blob sha1 and the size of a file."""
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    # The Hub names a regular file by its git blob id: sha1("blob SIZE\0" + data).
    git = hashlib.sha1(f"blob {size}\0".encode())
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            sha256.update(chunk)
            git.update(chunk)
    return sha256.hexdigest(), git.hexdigest(), size


def local_files(ctx: HookContext) -> dict[str, LocalFile]:
    """Return the files to publish, by their path in the repository."""
    folder_arg = _arg(ctx, "folder")
    if not folder_arg:
        raise IntegrationError("this hook needs 'folder': the folder to publish")
    folder = ctx.workdir / str(folder_arg)
    if not folder.is_dir():
        raise IntegrationError(f"folder '{folder_arg}' does not exist")
    patterns = _patterns(ctx)
    chosen: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        relpath = path.relative_to(folder).as_posix()
        if path.is_file() and _matches(relpath, patterns):
            chosen[relpath] = path
    card = _arg(ctx, "card")
    if card:
        card_path = ctx.workdir / str(card)
        if not card_path.is_file():
            raise IntegrationError(
                f"model card '{card}' does not exist: write it or drop 'card'"
            )
        chosen["README.md"] = card_path
    if not chosen:
        raise IntegrationError(
            f"no file in '{folder_arg}' matches {patterns or 'any pattern'}"
        )
    files = {}
    for relpath, path in chosen.items():
        sha256, git_sha1, size = _digest(path)
        files[relpath] = LocalFile(path, sha256, git_sha1, size)
    return files


def _repo_id(ctx: HookContext) -> str:
    repo_id = _arg(ctx, "repo_id")
    if not repo_id:
        raise IntegrationError("this hook needs 'repo_id', e.g. 'owner/name'")
    parts = str(repo_id).split("/")
    if len(parts) > 2 or any(p in ("", ".", "..") for p in parts):
        raise IntegrationError(f"'{repo_id}' is not a repository id ('owner/name')")
    return str(repo_id)


def _repo_type(ctx: HookContext) -> str:
    repo_type = str(_arg(ctx, "repo_type", "model"))
    if repo_type not in REPO_TYPES:
        raise IntegrationError(f"repo_type must be one of {', '.join(REPO_TYPES)}")
    return repo_type


# -- the Hub ---------------------------------------------------------------


def _token_env(ctx: HookContext) -> str:
    return str(_arg(ctx, "token_env", "HF_TOKEN"))


def _api(ctx: HookContext, *, need_token: bool) -> Any:
    hub = require("huggingface_hub")
    token = ctx.env.get(_token_env(ctx)) or None
    if need_token and not token:
        raise IntegrationError(
            f"{_token_env(ctx)} is not set: export a Hugging Face token with write "
            "access, or publish with hf.publish_local"
        )
    endpoint = _arg(ctx, "endpoint") or ctx.env.get("HF_ENDPOINT") or None
    # token=False: only the environment given to the hook counts, never a
    # token saved on this machine.
    return hub.HfApi(endpoint=endpoint, token=token or False)


def _hub_error(what: str, exc: Exception) -> IntegrationError:
    message = str(exc).strip().splitlines()
    summary = " ".join(line for line in message[:3] if line) or type(exc).__name__
    return IntegrationError(f"Hugging Face Hub error while {what}: {summary}")


def _stale(api: Any, ctx: HookContext, files: dict[str, LocalFile]) -> list[str] | None:
    """Return the paths whose remote copy is missing or different.

    None means the repository itself does not exist.
    """
    errors = require("huggingface_hub.errors")
    repo_id, repo_type = _repo_id(ctx), _repo_type(ctx)
    try:
        remote = api.get_paths_info(
            repo_id,
            sorted(files),
            repo_type=repo_type,
            revision=_arg(ctx, "revision"),
        )
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError):
        return None
    by_path = {entry.path: entry for entry in remote}
    stale = []
    for path, local in files.items():
        entry = by_path.get(path)
        lfs = getattr(entry, "lfs", None)
        if entry is None or not hasattr(entry, "blob_id"):
            stale.append(path)
        elif lfs is not None:
            if lfs.sha256 != local.sha256:
                stale.append(path)
        elif entry.blob_id != local.git_sha1:
            stale.append(path)
    return stale


def repo_exists(ctx: HookContext) -> bool:
    """Sense whether the repository exists on the Hub (and is visible)."""
    api = _api(ctx, need_token=False)
    repo_id = _repo_id(ctx)
    try:
        return bool(api.repo_exists(repo_id, repo_type=_repo_type(ctx)))
    except Exception as exc:  # noqa: BLE001 - any failure is a sensing error
        raise _hub_error(f"looking up {repo_id}", exc) from None


def uploaded(ctx: HookContext) -> bool:
    """Sense whether every local file is on the Hub with the same content."""
    try:
        files = local_files(ctx)
    except IntegrationError:
        # Nothing to publish (yet) cannot be published.
        return False
    api = _api(ctx, need_token=False)
    repo_id = _repo_id(ctx)
    try:
        stale = _stale(api, ctx, files)
    except Exception as exc:  # noqa: BLE001 - any failure is a sensing error
        raise _hub_error(f"comparing files with {repo_id}", exc) from None
    return stale == []


def upload(ctx: HookContext) -> str:
    """Upload the folder (and card) to the Hub in one commit; return its id.

    Creates the repository when missing.  Files the Hub already holds with the
    same content are left out; when nothing differs, no commit is made and the
    current head commit is returned.
    """
    hub = require("huggingface_hub")
    api = _api(ctx, need_token=True)
    files = local_files(ctx)
    repo_id, repo_type = _repo_id(ctx), _repo_type(ctx)
    private = _arg(ctx, "private")
    revision = _arg(ctx, "revision")
    try:
        api.create_repo(
            repo_id,
            repo_type=repo_type,
            private=None if private is None else _flag(private),
            exist_ok=True,
        )
        stale = _stale(api, ctx, files)
        if stale is None:
            raise IntegrationError(f"{repo_id} is not visible after creating it")
        if not stale:
            head = api.repo_info(repo_id, repo_type=repo_type, revision=revision).sha
            ctx.log(f"{repo_id} already holds these {len(files)} files at {head}")
            return str(head)
        operations = [
            hub.CommitOperationAdd(
                path_in_repo=path, path_or_fileobj=str(files[path].path)
            )
            for path in stale
        ]
        message = str(
            _arg(ctx, "commit_message", f"Upload {len(stale)} files with goap-engine")
        )
        info = api.create_commit(
            repo_id,
            operations,
            commit_message=message,
            repo_type=repo_type,
            revision=revision,
        )
    except IntegrationError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported with the Hub's message
        raise _hub_error(f"uploading to {repo_id}", exc) from None
    ctx.log(
        f"uploaded {len(stale)} of {len(files)} files to {repo_id}: commit {info.oid}"
    )
    return str(info.oid)


# -- the local registry ----------------------------------------------------


def _manifest_files(files: dict[str, LocalFile]) -> dict[str, dict[str, Any]]:
    return {
        path: {"sha256": f.sha256, "size": f.size} for path, f in sorted(files.items())
    }


def _target(ctx: HookContext, files: dict[str, LocalFile]) -> tuple[Path, str, str]:
    """Return the version folder, the version and the content hash."""
    entries = _manifest_files(files)
    content = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()
    version = str(_arg(ctx, "version", content[:16]))
    if "/" in version or version in (".", ".."):
        raise IntegrationError(f"version '{version}' cannot name a folder")
    registry = ctx.workdir / str(_arg(ctx, "registry", "registry"))
    return registry / PurePosixPath(_repo_id(ctx)) / version, version, content


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _same(folder: Path, files: dict[str, LocalFile]) -> bool | None:
    """Whether ``folder`` holds ``files``; None when it holds nothing."""
    if not folder.exists():
        return None
    manifest = _read_manifest(folder)
    return manifest is not None and manifest.get("files") == _manifest_files(files)


def published_local(ctx: HookContext) -> bool:
    """Sense whether the current files are published in the local registry."""
    try:
        files = local_files(ctx)
    except IntegrationError:
        return False
    target, _, _ = _target(ctx, files)
    return _same(target, files) is True


def publish_local(ctx: HookContext) -> str:
    """Publish the files into ``registry/<repo_id>/<version>/``; return the folder.

    The version defaults to a hash of the content, so publishing the same files
    again finds the same folder and changes nothing.  The folder appears whole
    or not at all (built aside, then renamed) with a ``manifest.json`` listing
    every file's sha256.
    """
    files = local_files(ctx)
    target, version, content = _target(ctx, files)
    same = _same(target, files)
    if same:
        ctx.log(f"already published: {target}")
        return str(target)
    if same is False:
        raise IntegrationError(
            f"{target} already holds different files: publish under a new 'version'"
        )
    # The registry and the id may come from values: '../..' or an absolute
    # path would publish (create folders, write files) anywhere.
    check_inside(ctx, target, "registry", "the local registry is written")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=target.parent))
    try:
        for relpath, local in files.items():
            copy = staging / relpath
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local.path, copy)
            if _digest(copy)[0] != local.sha256:
                raise IntegrationError(f"{relpath} changed while it was published")
        manifest = {
            "repo_id": _repo_id(ctx),
            "version": version,
            "content_sha256": content,
            "files": _manifest_files(files),
        }
        (staging / "manifest.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        try:
            os.rename(staging, target)
        except OSError:
            # Someone published the same version meanwhile: fine if it matches.
            if not _same(target, files):
                raise
            ctx.log(f"already published: {target}")
            return str(target)
    finally:
        # Left behind only when the rename did not happen.
        shutil.rmtree(staging, ignore_errors=True)
    ctx.log(f"published {len(files)} files to {target}")
    return str(target)
