"""A fake Hugging Face Hub for the ``hf.*`` built-ins, files kept in memory.

Endpoints (``{type}`` is ``models``, ``datasets`` or ``spaces``; ``{prefix}``
is ``""``, ``datasets/`` or ``spaces/``):

* ``POST /api/repos/create`` (409 when the repository exists; a Space needs
  its ``sdk``)
* ``GET /api/{type}/{repo_id}`` and ``.../revision/{rev}`` (repo_info)
* ``GET /api/{type}/{repo_id}/refs``; ``POST .../branch/{name}`` (409 when it
  exists); ``POST .../tag/{rev}`` (409 when the tag exists)
* ``POST /api/{type}/{repo_id}/preupload/{rev}``: ``uploadMode: lfs`` for a
  file over 10 MB, a binary sample or a path that ``.gitattributes`` marks
  LFS; else ``regular``; with the ``oid`` of the stored copy (its sha256 for
  LFS files, its git blob id otherwise) so clients can skip unchanged files
* ``POST /{prefix}{repo_id}.git/info/lfs/objects/batch`` (basic transfer):
  upload and verify actions for objects not stored yet, none for stored ones
* ``PUT /lfs-storage/{oid}`` (the storage ``href``: no token, content checked
  against the oid and size) and ``POST /{prefix}{repo_id}.git/info/lfs/objects/verify``
* ``POST /api/{type}/{repo_id}/commit/{rev}``: the NDJSON commit with base64
  ``file``s, ``lfsFile``s (stored objects only), deletions and the
  ``parentCommit`` check (412)
* ``POST /api/{type}/{repo_id}/paths-info/{rev}``,
  ``GET /api/{type}/{repo_id}/tree/{rev}[/{path}]`` (with ``lfs`` info)
* ``POST /api/validate-yaml``, ``GET /api/whoami-v2``

Writes need the write token (401 for a wrong token, 403 for the read token);
private repositories are invisible without a token.  ``fail`` and ``silence``
make chosen requests answer an error or never answer.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from . import FakeServer, Request, Response

# The start of the .gitattributes the Hub writes in a new repository.
GITATTRIBUTES = b"".join(
    b"%s filter=lfs diff=lfs merge=lfs -text\n" % pattern
    for pattern in (b"*.bin", b"*.ckpt", b"*.h5", b"*.onnx", b"*.pt", b"*.pth")
    + (b"*.safetensors", b"*.tar.gz", b"*.zip", b"*tfevents*")
)
LFS_THRESHOLD = 10 * 1024 * 1024
LFS_TYPE = "application/vnd.git-lfs+json"


def git_blob_id(data: bytes) -> str:
    """Return the git blob id of ``data`` (what the Hub calls a file's oid)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    """Return the git LFS pointer file the repository holds for ``data``."""
    oid = hashlib.sha256(data).hexdigest()
    return b"version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (
        oid.encode(),
        len(data),
    )


@dataclass
class Commit:
    """One commit: its id, branch, summary and the paths it added or deleted."""

    oid: str
    branch: str
    summary: str
    added: list[str]
    deleted: list[str]
    lfs: list[str] = field(default_factory=list)


@dataclass
class Branch:
    """A branch: its files (content, and which are LFS) and its head commit."""

    head: str
    files: dict[str, bytes] = field(default_factory=dict)
    lfs: set[str] = field(default_factory=set)


@dataclass
class Repo:
    """A repository: branches, tags and the commit history of all branches."""

    repo_id: str
    repo_type: str
    private: bool
    sdk: str | None = None
    branches: dict[str, Branch] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)

    @property
    def files(self) -> dict[str, bytes]:
        """Return the files at the head of ``main``."""
        return self.branches["main"].files

    @property
    def sha(self) -> str:
        """Return the head commit id of ``main``."""
        return self.branches["main"].head

    def resolve(self, revision: str) -> Branch | None:
        """Return the branch a revision names (a tag: a snapshot of its commit)."""
        if revision in self.branches:
            return self.branches[revision]
        oid = self.tags.get(revision) or next(
            (c.oid for c in self.commits if c.oid == revision), None
        )
        if oid is None:
            return None
        # Tags are only made on heads here; the branch still at it has the files.
        for branch in self.branches.values():
            if branch.head == oid:
                return branch
        return Branch(oid)

    def commit(
        self,
        summary: str,
        added: dict[str, bytes],
        deleted: list[str],
        branch: str = "main",
        lfs: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> str:
        """Apply a commit to ``branch`` and return its id."""
        target = self.branches.setdefault(branch, Branch(""))
        for path in deleted:
            target.files.pop(path, None)
            target.lfs.discard(path)
        target.files.update(added)
        target.lfs -= set(added)
        target.lfs |= set(lfs)
        seed = f"{self.repo_id}:{len(self.commits)}:{branch}:{summary}".encode()
        oid = hashlib.sha1(seed).hexdigest()
        target.head = oid
        self.commits.append(
            Commit(oid, branch, summary, sorted(added), sorted(deleted), sorted(lfs))
        )
        return oid


@dataclass
class Fault:
    """Answer requests whose "METHOD /path" contains ``match`` this way."""

    match: str
    status: int | None  # None: never answer
    times: int
    headers: dict[str, str]
    body: Any


class FakeHub(FakeServer):
    """The Hub's repository, commit and LFS API for in-memory repositories."""

    def __init__(
        self, token: str = "hf-test-token", read_token: str = "hf-read-token"
    ) -> None:
        super().__init__()
        self.token = token
        self.read_token = read_token
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.faults: list[Fault] = []

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        """Return a stored repository (KeyError when there is none)."""
        return self.repos[(repo_type, repo_id)]

    def fail(
        self,
        status: int,
        match: str = "",
        *,
        times: int = 1_000_000,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``times`` requests matching ``match`` with ``status``."""
        error = body if body is not None else {"error": f"injected {status}"}
        self.faults.append(Fault(match, status, times, dict(headers or {}), error))

    def silence(self, match: str = "", *, times: int = 1_000_000) -> None:
        """Accept the next ``times`` matching requests and never answer them."""
        self.faults.append(Fault(match, None, times, {}, None))

    # -- routing ------------------------------------------------------------

    def _fault(self, request: Request) -> Response | None:
        line = f"{request.method} {request.path}"
        for fault in self.faults:
            if fault.times > 0 and fault.match in line:
                fault.times -= 1
                if fault.status is None:
                    return Response(silent=True)
                return Response(fault.status, fault.body, fault.headers)
        return None

    def _authorized(self, request: Request) -> str | None:
        """Return "write", "read", "" without a token, None for a wrong one."""
        auth = request.headers.get("authorization")
        if not auth:
            return ""
        if auth == f"Bearer {self.token}":
            return "write"
        if auth == f"Bearer {self.read_token}":
            return "read"
        return None

    def handle(self, request: Request) -> Response:
        injected = self._fault(request)
        if injected is not None:
            return injected
        path = request.path
        if request.method == "PUT" and path.startswith("/lfs-storage/"):
            return self._store(request, path.rsplit("/", 1)[-1])
        auth = self._authorized(request)
        if auth is None:
            return Response(
                401,
                {"error": "Invalid credentials in Authorization header"},
                {"X-Error-Message": "Invalid credentials in Authorization header"},
            )
        if path == "/api/repos/create" and request.method == "POST":
            return self._create(request, auth)
        if path == "/api/validate-yaml" and request.method == "POST":
            return Response(200, {"errors": [], "warnings": []})
        if path == "/api/whoami-v2":
            return Response(200, {"name": "tester", "type": "user"})
        if ".git/info/lfs/objects/" in path and request.method == "POST":
            return self._lfs(request, path, auth)
        parts = path.split("/")
        if len(parts) < 4 or parts[1] != "api" or parts[2] not in _TYPES:
            return Response(404, {"error": "Not Found"})
        segments = [unquote(p) for p in parts[3:]]
        repo, rest = self._find(parts[2][:-1], segments)
        if repo is None or (repo.private and not auth):
            return _not_found()
        return self._route(request, repo, rest, auth)

    def _find(
        self, repo_type: str, segments: list[str]
    ) -> tuple[Repo | None, list[str]]:
        for size in (2, 1):
            repo = self.repos.get((repo_type, "/".join(segments[:size])))
            if repo is not None:
                return repo, segments[size:]
        return None, []

    def _route(
        self, request: Request, repo: Repo, rest: list[str], auth: str
    ) -> Response:
        action = rest[0] if rest else ""
        method = request.method
        if action == "refs" and method == "GET":
            return Response(200, self._refs(repo))
        if action in ("branch", "tag") and method == "POST":
            if auth != "write":
                return _refused(auth, "create a reference in this repository")
            if action == "branch":
                return self._branch(request, repo, rest[1])
            return self._tag(request, repo, rest[1])
        revision = rest[1] if len(rest) > 1 else "main"
        branch = repo.resolve(revision)
        if branch is None:
            return Response(
                404,
                {"error": f"Invalid rev id: {revision}"},
                {"X-Error-Code": "RevisionNotFound"},
            )
        if action in ("", "revision") and method == "GET":
            return Response(200, self._info(repo, branch))
        if action == "paths-info" and method == "POST":
            return self._paths_info(request, branch)
        if action == "tree" and method == "GET":
            return self._tree(branch, "/".join(rest[2:]))
        if auth != "write":
            return _refused(auth, "write to this repository")
        if revision not in repo.branches:
            return Response(400, {"error": f"'{revision}' is not a branch"})
        if action == "preupload" and method == "POST":
            return self._preupload(request, branch)
        if action == "commit" and method == "POST":
            return self._commit(request, repo, revision)
        return Response(404, {"error": "Not Found"})

    # -- repositories and references ---------------------------------------

    def _create(self, request: Request, auth: str) -> Response:
        if auth != "write":
            return _refused(auth, "create a repository")
        data = request.json()
        repo_type = data.get("type") or "model"
        name, organization = data["name"], data.get("organization")
        repo_id = f"{organization}/{name}" if organization else f"tester/{name}"
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        url = f"{self.url}/{prefix}{repo_id}"
        if (repo_type, repo_id) in self.repos:
            return Response(
                409, {"error": f"You already created this {repo_type} repo", "url": url}
            )
        if repo_type == "space" and data.get("sdk") not in _SDKS:
            return Response(400, {"error": "Invalid sdk for a Space"})
        private = data.get("visibility") == "private" or bool(data.get("private"))
        repo = Repo(repo_id, repo_type, private, data.get("sdk"))
        repo.commit("initial commit", {".gitattributes": GITATTRIBUTES}, [])
        self.repos[(repo_type, repo_id)] = repo
        return Response(200, {"url": url, "name": repo_id, "id": repo_id})

    def _refs(self, repo: Repo) -> dict[str, Any]:
        return {
            "branches": [
                {"name": n, "ref": f"refs/heads/{n}", "targetCommit": b.head}
                for n, b in sorted(repo.branches.items())
            ],
            "tags": [
                {"name": n, "ref": f"refs/tags/{n}", "targetCommit": oid}
                for n, oid in sorted(repo.tags.items())
            ],
            "converts": [],
        }

    def _branch(self, request: Request, repo: Repo, name: str) -> Response:
        if name in repo.branches:
            return Response(409, {"error": "Reference already exists"})
        start = (request.json() or {}).get("startingPoint") or "main"
        source = repo.resolve(start)
        if source is None:
            return Response(404, {"error": f"Invalid rev id: {start}"})
        repo.branches[name] = Branch(source.head, dict(source.files), set(source.lfs))
        return Response(200, {})

    def _tag(self, request: Request, repo: Repo, revision: str) -> Response:
        tag = request.json()["tag"]
        if tag in repo.tags or tag in repo.branches:
            return Response(409, {"error": "Reference already exists"})
        target = repo.resolve(revision)
        if target is None:
            return Response(404, {"error": f"Invalid rev id: {revision}"})
        repo.tags[tag] = target.head
        return Response(200, {})

    # -- reading ------------------------------------------------------------

    def _info(self, repo: Repo, branch: Branch) -> dict[str, Any]:
        info = {
            "id": repo.repo_id,
            "_id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": branch.head,
            "private": repo.private,
            "disabled": False,
            "gated": False,
            "lastModified": "2026-01-01T00:00:00.000Z",
            "siblings": [{"rfilename": path} for path in sorted(branch.files)],
            "tags": [],
        }
        if repo.sdk:
            info["sdk"] = repo.sdk
        return info

    def _entry(self, branch: Branch, path: str) -> dict[str, Any]:
        data = branch.files[path]
        if path not in branch.lfs:
            return {
                "type": "file",
                "path": path,
                "size": len(data),
                "oid": git_blob_id(data),
            }
        pointer = lfs_pointer(data)
        return {
            "type": "file",
            "path": path,
            "size": len(data),
            "oid": git_blob_id(pointer),
            "lfs": {
                "oid": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "pointerSize": len(pointer),
            },
        }

    def _paths_info(self, request: Request, branch: Branch) -> Response:
        form = parse_qs(request.body.decode())
        paths = form.get("paths", [])
        return Response(
            200, [self._entry(branch, p) for p in paths if p in branch.files]
        )

    def _tree(self, branch: Branch, folder: str) -> Response:
        prefix = f"{folder.rstrip('/')}/" if folder else ""
        paths = sorted(p for p in branch.files if p.startswith(prefix))
        folders = sorted(
            {
                "/".join(p.split("/")[: i + 1])
                for p in paths
                for i in range(prefix.count("/"), p.count("/"))
            }
        )
        entries = [
            {
                "type": "directory",
                "path": f,
                "oid": hashlib.sha1(f.encode()).hexdigest(),
            }
            for f in folders
        ]
        return Response(200, entries + [self._entry(branch, p) for p in paths])

    # -- uploading ----------------------------------------------------------

    def _is_lfs(self, branch: Branch, item: dict[str, Any]) -> bool:
        sample = base64.b64decode(item.get("sample") or "")
        marked = [
            line.split()[0]
            for line in branch.files.get(".gitattributes", b"").decode().splitlines()
            if "filter=lfs" in line
        ]
        name = item["path"].rsplit("/", 1)[-1]
        return (
            item.get("size", 0) > LFS_THRESHOLD
            or b"\0" in sample
            or any(fnmatch.fnmatch(name, p) for p in marked)
        )

    def _preupload(self, request: Request, branch: Branch) -> Response:
        files = []
        for item in request.json()["files"]:
            path = item["path"]
            stored = branch.files.get(path)
            oid = None
            if stored is not None:
                lfs = path in branch.lfs
                oid = hashlib.sha256(stored).hexdigest() if lfs else git_blob_id(stored)
            mode = "lfs" if self._is_lfs(branch, item) else "regular"
            files.append(
                {"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid}
            )
        return Response(200, {"files": files, "commitOid": branch.head})

    def _lfs(self, request: Request, path: str, auth: str) -> Response:
        headers = {"Content-Type": LFS_TYPE}
        if path.endswith("/verify"):
            data = request.json()
            stored = self.lfs_objects.get(data["oid"])
            if stored is None or len(stored) != data["size"]:
                return Response(404, {"message": "Object not found"}, headers)
            return Response(200, {}, headers)
        if auth != "write":
            return _refused(auth, "upload to this repository")
        data = request.json()
        if data.get("operation") != "upload" or "basic" not in data.get(
            "transfers", []
        ):
            return Response(422, {"message": "only basic uploads"}, headers)
        repo_path = path.split(".git/info/lfs/")[0]
        objects = []
        for item in data["objects"]:
            entry = {"oid": item["oid"], "size": item["size"]}
            if item["oid"] not in self.lfs_objects:
                entry["authenticated"] = True
                entry["actions"] = {
                    "upload": {"href": f"{self.url}/lfs-storage/{item['oid']}"},
                    "verify": {
                        "href": f"{self.url}{repo_path}.git/info/lfs/objects/verify"
                    },
                }
            objects.append(entry)
        return Response(
            200,
            {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
            headers,
        )

    def _store(self, request: Request, oid: str) -> Response:
        if hashlib.sha256(request.body).hexdigest() != oid:
            return Response(400, {"message": "content does not match the oid"})
        self.lfs_objects[oid] = request.body
        return Response(200, {})

    def _commit(self, request: Request, repo: Repo, revision: str) -> Response:
        lines = [json.loads(line) for line in request.body.splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        parent = header.get("parentCommit")
        head = repo.branches[revision].head
        if parent and not head.startswith(parent):
            return Response(412, {"error": "A commit has happened since."})
        added: dict[str, bytes] = {}
        lfs: set[str] = set()
        deleted: list[str] = []
        files = repo.branches[revision].files
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "file":
                added[value["path"]] = base64.b64decode(value["content"])
            elif key == "lfsFile":
                stored = self.lfs_objects.get(value["oid"])
                if stored is None:
                    return Response(
                        422, {"error": f"LFS object {value['oid']} was not uploaded"}
                    )
                added[value["path"]] = stored
                lfs.add(value["path"])
            elif key == "deletedFile":
                if value["path"] not in files:
                    return Response(
                        404, {"error": "A file with this name doesn't exist"}
                    )
                deleted.append(value["path"])
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                deleted += [p for p in files if p.startswith(folder)]
            elif key != "header":
                return Response(400, {"error": f"this fake does not accept '{key}'"})
        oid = repo.commit(header["summary"], added, deleted, revision, lfs)
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        return Response(
            200,
            {
                "success": True,
                "commitOid": oid,
                "commitUrl": f"{self.url}/{prefix}{repo.repo_id}/commit/{oid}",
                "pullRequestUrl": None,
            },
        )


_TYPES = ("models", "datasets", "spaces")
_SDKS = ("gradio", "streamlit", "docker", "static")


def _not_found() -> Response:
    return Response(
        404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
    )


def _refused(auth: str, what: str) -> Response:
    if not auth:
        return Response(401, {"error": "You must be authenticated to " + what})
    return Response(
        403,
        {"error": f"You don't have the rights to {what}: the token is read-only"},
        {"X-Error-Message": f"You don't have the rights to {what}"},
    )
