"""A fake Hugging Face Hub for the ``hf.*`` built-ins, files kept in memory.

Endpoints (``{type}`` is ``models``, ``datasets`` or ``spaces``):

* ``POST /api/repos/create`` (409 when the repository exists)
* ``GET /api/{type}/{repo_id}`` and ``.../revision/{rev}`` (repo_info, repo_exists)
* ``POST /api/{type}/{repo_id}/preupload/{rev}``: every file is a regular
  (inline) file, with the ``oid`` of the stored copy so clients can skip
  unchanged files
* ``POST /api/{type}/{repo_id}/commit/{rev}``: the NDJSON commit with base64
  files and deletions; LFS entries are refused
* ``POST /api/{type}/{repo_id}/paths-info/{rev}``
* ``GET /api/{type}/{repo_id}/tree/{rev}[/{path}]`` (list_repo_files)
* ``POST /api/validate-yaml``

Writes need the token; private repositories are invisible without it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from . import FakeServer, Request, Response

GITATTRIBUTES = b"*.bin filter=lfs diff=lfs merge=lfs -text\n"


def git_blob_id(data: bytes) -> str:
    """Return the git blob id of ``data`` (what the Hub calls a file's oid)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    """One commit: its id, summary and the paths it added or deleted."""

    oid: str
    summary: str
    added: list[str]
    deleted: list[str]


@dataclass
class Repo:
    """A repository: files at the head of ``main`` and the commit history."""

    repo_id: str
    repo_type: str
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)

    @property
    def sha(self) -> str:
        """Return the head commit id."""
        return self.commits[-1].oid

    def commit(self, summary: str, added: dict[str, bytes], deleted: list[str]) -> str:
        """Apply a commit and return its id."""
        for path in deleted:
            self.files.pop(path, None)
        self.files.update(added)
        seed = f"{self.repo_id}:{len(self.commits)}:{summary}".encode()
        oid = hashlib.sha1(seed).hexdigest()
        self.commits.append(Commit(oid, summary, sorted(added), sorted(deleted)))
        return oid


class FakeHub(FakeServer):
    """The Hub's repository and commit API for a few in-memory repositories."""

    def __init__(self, token: str = "hf-test-token") -> None:
        super().__init__()
        self.token = token
        self.repos: dict[tuple[str, str], Repo] = {}

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        """Return a stored repository (KeyError when there is none)."""
        return self.repos[(repo_type, repo_id)]

    # -- routing ------------------------------------------------------------

    def _authorized(self, request: Request) -> bool | None:
        """True for the token, None without one, False for a wrong one."""
        auth = request.headers.get("authorization")
        if not auth:
            return None
        return auth == f"Bearer {self.token}"

    def handle(self, request: Request) -> Response:
        auth = self._authorized(request)
        if auth is False:
            return Response(
                401,
                {"error": "Invalid credentials in Authorization header"},
                {"X-Error-Message": "Invalid credentials in Authorization header"},
            )
        path = request.path
        if path == "/api/repos/create" and request.method == "POST":
            return self._create(request, auth)
        if path == "/api/validate-yaml" and request.method == "POST":
            return Response(200, {"errors": [], "warnings": []})
        if path == "/api/whoami-v2":
            return Response(200, {"name": "tester", "type": "user"})
        parts = path.split("/")
        if (
            len(parts) < 4
            or parts[1] != "api"
            or parts[2]
            not in (
                "models",
                "datasets",
                "spaces",
            )
        ):
            return Response(404, {"error": "Not Found"})
        repo_type = parts[2][:-1]
        segments = [unquote(p) for p in parts[3:]]
        repo, rest = self._find(repo_type, segments)
        if repo is None or (repo.private and not auth):
            return Response(
                404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
            )
        return self._route(request, repo, rest, bool(auth))

    def _find(
        self, repo_type: str, segments: list[str]
    ) -> tuple[Repo | None, list[str]]:
        for size in (2, 1):
            repo = self.repos.get((repo_type, "/".join(segments[:size])))
            if repo is not None:
                return repo, segments[size:]
        return None, []

    def _route(
        self, request: Request, repo: Repo, rest: list[str], auth: bool
    ) -> Response:
        action = rest[0] if rest else ""
        revision = rest[1] if len(rest) > 1 else "main"
        if action in ("", "revision") and request.method == "GET":
            if revision != "main":
                return self._no_revision(revision)
            return Response(200, self._info(repo))
        if revision != "main":
            return self._no_revision(revision)
        if action == "paths-info" and request.method == "POST":
            return self._paths_info(request, repo)
        if action == "tree" and request.method == "GET":
            return self._tree(repo, "/".join(rest[2:]))
        if not auth:
            return Response(401, {"error": "You must be authenticated to write"})
        if action == "preupload" and request.method == "POST":
            return self._preupload(request, repo)
        if action == "commit" and request.method == "POST":
            return self._commit(request, repo)
        return Response(404, {"error": "Not Found"})

    @staticmethod
    def _no_revision(revision: str) -> Response:
        return Response(
            404,
            {"error": f"Invalid rev id: {revision}"},
            {"X-Error-Code": "RevisionNotFound"},
        )

    # -- handlers -----------------------------------------------------------

    def _create(self, request: Request, auth: bool | None) -> Response:
        if not auth:
            return Response(401, {"error": "You must be authenticated"})
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
        private = data.get("visibility") == "private" or bool(data.get("private"))
        repo = Repo(repo_id, repo_type, private)
        repo.commit("initial commit", {".gitattributes": GITATTRIBUTES}, [])
        self.repos[(repo_type, repo_id)] = repo
        return Response(200, {"url": url, "name": repo_id, "id": repo_id})

    def _info(self, repo: Repo) -> dict[str, Any]:
        return {
            "id": repo.repo_id,
            "_id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": repo.sha,
            "private": repo.private,
            "disabled": False,
            "gated": False,
            "lastModified": "2026-01-01T00:00:00.000Z",
            "siblings": [{"rfilename": path} for path in sorted(repo.files)],
            "tags": [],
        }

    def _entry(self, path: str, data: bytes) -> dict[str, Any]:
        return {
            "type": "file",
            "path": path,
            "size": len(data),
            "oid": git_blob_id(data),
        }

    def _paths_info(self, request: Request, repo: Repo) -> Response:
        form = parse_qs(request.body.decode())
        paths = form.get("paths", [])
        entries = [self._entry(p, repo.files[p]) for p in paths if p in repo.files]
        return Response(200, entries)

    def _tree(self, repo: Repo, folder: str) -> Response:
        prefix = f"{folder.rstrip('/')}/" if folder else ""
        entries = [
            self._entry(path, data)
            for path, data in sorted(repo.files.items())
            if path.startswith(prefix)
        ]
        return Response(200, entries)

    def _preupload(self, request: Request, repo: Repo) -> Response:
        files = [
            {
                "path": item["path"],
                "uploadMode": "regular",
                "shouldIgnore": False,
                "oid": git_blob_id(repo.files[item["path"]])
                if item["path"] in repo.files
                else None,
            }
            for item in request.json()["files"]
        ]
        return Response(200, {"files": files, "commitOid": repo.sha})

    def _commit(self, request: Request, repo: Repo) -> Response:
        lines = [json.loads(line) for line in request.body.splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        parent = header.get("parentCommit")
        if parent and not repo.sha.startswith(parent):
            return Response(412, {"error": "A commit has happened since."})
        added: dict[str, bytes] = {}
        deleted: list[str] = []
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "file":
                added[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                deleted.append(value["path"])
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                deleted += [p for p in repo.files if p.startswith(folder)]
            elif key != "header":
                return Response(400, {"error": f"this fake does not accept '{key}'"})
        oid = repo.commit(header["summary"], added, deleted)
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
