"""Hugging Face built-ins: publish a folder to the Hub or to a local registry.

Arguments (``with:``): ``repo_id`` ("owner/name"), ``repo_type`` (default
``model``), ``folder`` (relative to the working directory), ``allow_patterns``
(glob patterns on paths inside the folder; default: every file), ``card`` (a
model card uploaded as ``README.md``), ``metrics`` (a JSON report written into
the card's ``model-index``), ``private``, ``token_env`` (default ``HF_TOKEN``)
and ``endpoint`` (default ``$HF_ENDPOINT`` or the public Hub).

Files are compared by content with what the Hub already holds, so uploading
what is already there creates no commit; files of the selection that are no
longer in the folder are deleted from the Hub (``delete_missing``), so that
``uploaded`` is never true while stale weights remain.  Every request is
bounded (``huggingface_http``): a failing Hub fails the step within
``3 × http_timeout + max_wait`` seconds.  ``publish_local`` is the route
without a token: a content-addressed folder under ``registry/<repo_id>/``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..executor.hooks import HookContext
from . import IntegrationError, check_inside, require
from .huggingface_card import card_with_metrics, read_metrics
from .huggingface_http import HubCallFailed, bounded_hub
from .retry import RetryBudget

REPO_TYPES = ("model", "dataset", "space")
SPACE_SDKS = ("gradio", "streamlit", "docker", "static")
# What upload_folder never uploads either: git metadata and the Hub's cache.
IGNORED_DIRS = (".git", ".cache/huggingface")
# The Hub's own file, which says which files are LFS: never deleted.
KEPT = (".gitattributes",)
CHUNK = 1 << 20
DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_MAX_WAIT = 60.0


@dataclass(frozen=True)
class LocalFile:
    """A file to publish: its content (a file or bytes made here) and digests."""

    source: Path | bytes
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


def _digest(source: Path | bytes) -> tuple[str, str, int]:
    """Return the sha256, the git blob sha1 and the size of a file's content."""
    if isinstance(source, bytes):
        chunks: Iterator[bytes] = iter([source])
        size = len(source)
    else:
        chunks = _chunks(source)
        size = source.stat().st_size
    sha256 = hashlib.sha256()
    # The Hub names a regular file by its git blob id: sha1("blob SIZE\0" + data).
    git = hashlib.sha1(f"blob {size}\0".encode())
    for chunk in chunks:
        sha256.update(chunk)
        git.update(chunk)
    return sha256.hexdigest(), git.hexdigest(), size


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _card(ctx: HookContext, chosen: dict[str, Path]) -> Path | bytes | None:
    """Return the README.md to publish: ``card``, with ``metrics`` written in."""
    card = _arg(ctx, "card")
    card_path = None
    if card:
        card_path = ctx.workdir / str(card)
        if not card_path.is_file():
            raise IntegrationError(
                f"model card '{card}' does not exist: write it or drop 'card'"
            )
    metrics_arg = _arg(ctx, "metrics")
    if not metrics_arg:
        return card_path
    metrics = read_metrics(ctx.workdir / str(metrics_arg), str(metrics_arg))
    # Without 'card', the folder's own README.md (if published) gets the metrics.
    base = card_path or chosen.get("README.md")
    try:
        text = base.read_text(encoding="utf-8") if base else None
    except (OSError, UnicodeDecodeError) as exc:
        raise IntegrationError(f"cannot read the model card {base}: {exc}") from None
    return card_with_metrics(
        text,
        metrics,
        model_name=_repo_id(ctx).split("/")[-1],
        task=_arg(ctx, "task"),
        dataset=str(_arg(ctx, "dataset", "evaluation")),
    )


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
    sources: dict[str, Path | bytes] = dict(chosen)
    card = _card(ctx, chosen)
    if card is not None:
        sources["README.md"] = card
    if not sources:
        raise IntegrationError(
            f"no file in '{folder_arg}' matches {patterns or 'any pattern'}"
        )
    files = {}
    for relpath, source in sources.items():
        sha256, git_sha1, size = _digest(source)
        files[relpath] = LocalFile(source, sha256, git_sha1, size)
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


def _seconds(name: str, value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds > 0:
        raise IntegrationError(f"'{name}' must be a number of seconds above 0")
    return seconds


@contextmanager
def _bounded(ctx: HookContext) -> Iterator[RetryBudget]:
    """Bound every Hub request made in the block by ``http_timeout``/``max_wait``."""
    budget = RetryBudget(
        http_timeout=_seconds(
            "http_timeout", _arg(ctx, "http_timeout", DEFAULT_HTTP_TIMEOUT)
        ),
        max_wait=_seconds("max_wait", _arg(ctx, "max_wait", DEFAULT_MAX_WAIT)),
    )
    endpoint = _arg(ctx, "endpoint") or ctx.env.get("HF_ENDPOINT") or None
    with bounded_hub(budget, ctx.log, endpoint):
        yield budget


def _failure(exc: BaseException) -> HubCallFailed | None:
    """Return the bounded transport's verdict behind a library error, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, HubCallFailed):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _hub_error(
    ctx: HookContext, what: str, exc: Exception, *, writing: bool = False
) -> IntegrationError:
    """Say which call to the Hub failed and why, without the token."""
    failed = _failure(exc)
    if failed is not None:
        return IntegrationError(
            f"Hugging Face Hub: {what} failed: {failed.call}: {failed.cause}"
        )
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    message = str(exc).strip().splitlines()
    summary = " ".join(line for line in message[:3] if line) or type(exc).__name__
    # The Hub's own words (X-Error-Message, else the body's "error").
    said = (getattr(exc, "server_message", None) or "").strip().splitlines()
    said = f": {said[0]}" if said else ""
    if status == 401:
        summary = (
            f"the token in {_token_env(ctx)} was refused (401 Unauthorized{said}): "
            "it is invalid or expired"
        )
    elif status == 403:
        summary = (
            f"the token in {_token_env(ctx)} may not do this (403 Forbidden{said}): "
            f"it needs {'write ' if writing else ''}access to {_arg(ctx, 'repo_id')}"
        )
    return IntegrationError(f"Hugging Face Hub: {what} failed: {summary}")


def _remote(api: Any, ctx: HookContext) -> dict[str, Any] | None:
    """Return the files of the repository at ``revision``, by path.

    None means the repository (or the revision) does not exist.
    """
    errors = require("huggingface_hub.errors")
    try:
        entries = list(
            api.list_repo_tree(
                _repo_id(ctx),
                recursive=True,
                repo_type=_repo_type(ctx),
                revision=_arg(ctx, "revision"),
            )
        )
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError):
        return None
    return {e.path: e for e in entries if hasattr(e, "blob_id")}


def _compare(
    ctx: HookContext, files: dict[str, LocalFile], remote: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """Return the paths to upload (missing or different) and those to delete."""
    stale = []
    for path, local in files.items():
        entry = remote.get(path)
        lfs = getattr(entry, "lfs", None)
        if entry is None:
            stale.append(path)
        elif lfs is not None:
            if lfs.sha256 != local.sha256:
                stale.append(path)
        elif entry.blob_id != local.git_sha1:
            stale.append(path)
    gone: list[str] = []
    if _flag(_arg(ctx, "delete_missing", True)):
        patterns = _patterns(ctx)
        gone = sorted(
            path
            for path in remote
            if path not in files and path not in KEPT and _matches(path, patterns)
        )
    return sorted(stale), gone


def repo_exists(ctx: HookContext) -> bool:
    """Sense whether the repository exists on the Hub (and is visible)."""
    api = _api(ctx, need_token=False)
    repo_id = _repo_id(ctx)
    try:
        with _bounded(ctx):
            return bool(api.repo_exists(repo_id, repo_type=_repo_type(ctx)))
    except Exception as exc:  # noqa: BLE001 - any failure is a sensing error
        raise _hub_error(ctx, f"looking up {repo_id}", exc) from None


def uploaded(ctx: HookContext) -> bool:
    """Sense whether the Hub holds exactly the local files, with the same content.

    With ``delete_missing`` (the default), a file of the selection that is on
    the Hub but no longer in the folder makes this false.
    """
    try:
        files = local_files(ctx)
    except IntegrationError:
        # Nothing to publish (yet) cannot be published.
        return False
    api = _api(ctx, need_token=False)
    repo_id = _repo_id(ctx)
    try:
        with _bounded(ctx):
            remote = _remote(api, ctx)
    except Exception as exc:  # noqa: BLE001 - any failure is a sensing error
        raise _hub_error(ctx, f"comparing files with {repo_id}", exc) from None
    if remote is None:
        return False
    return _compare(ctx, files, remote) == ([], [])


def _space_sdk(ctx: HookContext, repo_type: str) -> str | None:
    sdk = _arg(ctx, "space_sdk")
    if repo_type == "space" and sdk is None:
        raise IntegrationError(
            f"repo_type 'space' needs 'space_sdk' ({', '.join(SPACE_SDKS)}): "
            "the Hub creates a Space for one SDK"
        )
    if sdk is not None and str(sdk) not in SPACE_SDKS:
        raise IntegrationError(f"space_sdk must be one of {', '.join(SPACE_SDKS)}")
    return None if sdk is None else str(sdk)


def _ensure_branch(api: Any, ctx: HookContext, branch: str) -> None:
    """Create ``branch`` from main's head unless it exists."""
    errors = require("huggingface_hub.errors")
    try:
        api.create_branch(_repo_id(ctx), branch=branch, repo_type=_repo_type(ctx))
    except errors.HfHubHTTPError as exc:
        if getattr(exc.response, "status_code", None) != 409:
            raise
        return
    ctx.log(f"created branch {branch} of {_repo_id(ctx)}")


def _existing_tag(api: Any, ctx: HookContext, tag: str) -> str | None:
    """Return the commit ``tag`` names on the Hub, or None."""
    refs = api.list_repo_refs(_repo_id(ctx), repo_type=_repo_type(ctx))
    return next((t.target_commit for t in refs.tags if t.name == tag), None)


def upload(ctx: HookContext) -> str:
    """Make the repository hold exactly the folder (and card); return the commit.

    Creates the repository, and the ``revision`` branch, when missing; files
    the Hub already holds with the same content are left out, and files no
    longer in the folder are deleted (``delete_missing``), all in one commit.
    When nothing differs, no commit is made and the head commit is returned.
    ``tag`` then names the commit.
    """
    hub = require("huggingface_hub")
    api = _api(ctx, need_token=True)
    files = local_files(ctx)
    repo_id, repo_type = _repo_id(ctx), _repo_type(ctx)
    sdk = _space_sdk(ctx, repo_type)
    private = _arg(ctx, "private")
    revision = _arg(ctx, "revision")
    tag = _arg(ctx, "tag")
    what = f"creating {repo_id}"
    try:
        with _bounded(ctx):
            api.create_repo(
                repo_id,
                repo_type=repo_type,
                private=None if private is None else _flag(private),
                exist_ok=True,
                space_sdk=sdk,
            )
            if revision and revision != "main":
                what = f"creating branch {revision} of {repo_id}"
                _ensure_branch(api, ctx, str(revision))
            what = f"comparing files with {repo_id}"
            head = api.repo_info(repo_id, repo_type=repo_type, revision=revision).sha
            remote = _remote(api, ctx)
            if remote is None:
                raise IntegrationError(f"{repo_id} is not visible after creating it")
            stale, gone = _compare(ctx, files, remote)
            named = None
            if tag:
                what = f"reading the tags of {repo_id}"
                named = _existing_tag(api, ctx, str(tag))
                # Checked before committing: a refused release leaves no commit.
                if named is not None and (stale or gone or named != head):
                    raise IntegrationError(
                        f"tag '{tag}' of {repo_id} already names commit {named}, "
                        "not these files: tags are not moved, release under a "
                        "new tag"
                    )
            if not stale and not gone:
                oid = str(head)
                ctx.log(f"{repo_id} already holds these {len(files)} files at {oid}")
            else:
                what = f"committing {len(stale) + len(gone)} changes to {repo_id}"
                oid = _commit(api, ctx, hub, files, stale, gone, str(head))
            if tag and named is None:
                what = f"tagging {repo_id} as {tag}"
                api.create_tag(repo_id, tag=str(tag), revision=oid, repo_type=repo_type)
                ctx.log(f"tagged {oid} as {tag}")
            elif tag:
                ctx.log(f"tag {tag} already names {oid}")
    except IntegrationError as exc:
        if _failure(exc) is not None:
            raise _hub_error(ctx, what, exc, writing=True) from None
        raise
    except Exception as exc:  # noqa: BLE001 - reported with the Hub's message
        raise _hub_error(ctx, what, exc, writing=True) from None
    return oid


def _commit(
    api: Any,
    ctx: HookContext,
    hub: Any,
    files: dict[str, LocalFile],
    stale: list[str],
    gone: list[str],
    head: str,
) -> str:
    """Commit the ``stale`` files and delete ``gone`` ones on top of ``head``."""
    operations: list[Any] = [
        hub.CommitOperationAdd(
            path_in_repo=path,
            path_or_fileobj=source
            if isinstance(source := files[path].source, bytes)
            else str(source),
        )
        for path in stale
    ]
    operations += [hub.CommitOperationDelete(path_in_repo=path) for path in gone]
    message = str(
        _arg(ctx, "commit_message", f"Upload {len(stale)} files with goap-engine")
    )
    # parent_commit: the Hub refuses the commit if the branch moved since the
    # comparison, instead of silently mixing two uploads.
    info = api.create_commit(
        _repo_id(ctx),
        operations,
        commit_message=message,
        repo_type=_repo_type(ctx),
        revision=_arg(ctx, "revision"),
        parent_commit=head,
    )
    deleted = f", deleted {len(gone)} ({', '.join(gone)})" if gone else ""
    ctx.log(
        f"uploaded {len(stale)} of {len(files)} files to {_repo_id(ctx)}"
        f"{deleted}: commit {info.oid}"
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
            if isinstance(local.source, bytes):
                copy.write_bytes(local.source)
            else:
                shutil.copyfile(local.source, copy)
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
