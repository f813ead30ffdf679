"""A fake GitHub REST API with a scriptable CI, for the ``github.*`` built-ins.

Endpoints (all under one repository, token-checked like GitHub):

* ``GET /repos/{o}/{r}``, ``GET /repos/{o}/{r}/commits/{ref}`` (sha or branch)
* ``GET /repos/{o}/{r}/commits/{sha}/check-runs`` and ``.../status``
* ``GET /repos/{o}/{r}/actions/runs?head_sha=``, ``GET .../actions/runs/{id}``
* ``POST /repos/{o}/{r}/actions/runs/{id}/rerun-failed-jobs`` and ``.../rerun``
* ``GET`` and ``POST /repos/{o}/{r}/pulls``
* ``GET /rate_limit``

CI is a script of named states per commit (``none``, ``queued``,
``in_progress``, ``failure``, ``success``): every read of a commit's check runs
moves its script one step, so a client polling the CI sees it progress.  A
rerun of a failed workflow restarts the commit's script towards success.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from . import FakeServer, Request, Response

# state -> (check runs as (name, status, conclusion), statuses as (context, state))
STATES: dict[str, tuple[list[tuple[str, str, str | None]], list[tuple[str, str]]]] = {
    "none": ([], []),
    "queued": (
        [("tests", "queued", None), ("lint", "queued", None)],
        [("ci/coverage", "pending")],
    ),
    "in_progress": (
        [("tests", "in_progress", None), ("lint", "completed", "success")],
        [("ci/coverage", "pending")],
    ),
    "failure": (
        [("tests", "completed", "failure"), ("lint", "completed", "success")],
        [("ci/coverage", "success")],
    ),
    "success": (
        [
            ("tests", "completed", "success"),
            ("lint", "completed", "success"),
            ("docs", "completed", "skipped"),
        ],
        [("ci/coverage", "success")],
    ),
}
WORKFLOW = {
    "queued": ("queued", None),
    "in_progress": ("in_progress", None),
    "failure": ("completed", "failure"),
    "success": ("completed", "success"),
}
TO_SUCCESS = ("queued", "in_progress", "success")


@dataclass
class Ci:
    """The scripted CI of one commit."""

    script: list[str]
    step: int = -1
    statuses: list[tuple[str, str]] | None = None
    run_id: int = 0

    @property
    def state(self) -> str:
        """Return the state the last check-runs read showed."""
        return self.script[max(self.step, 0)]

    def advance(self) -> str:
        """Move one step (the last state stays) and return the new state."""
        self.step = min(self.step + 1, len(self.script) - 1)
        return self.state


def fake_sha(seed: str) -> str:
    """Return a 40-hex commit id derived from ``seed``."""
    import hashlib

    return hashlib.sha1(seed.encode()).hexdigest()


class FakeGitHub(FakeServer):
    """GitHub for one repository, with branches, scripted CI and pull requests."""

    def __init__(
        self,
        owner: str = "acme",
        name: str = "widget",
        token: str = "gh-test-token",
        branch: str = "feature",
        script: tuple[str, ...] = ("queued", "in_progress", "failure"),
    ) -> None:
        super().__init__()
        self.owner, self.name, self.token = owner, name, token
        self.full_name = f"{owner}/{name}"
        main = fake_sha("main")
        head = fake_sha(branch)
        self.branches: dict[str, str] = {"main": main, branch: head}
        self.ci: dict[str, Ci] = {}
        self.runs: dict[int, str] = {}
        self.pulls: list[dict[str, Any]] = []
        self.reruns: list[tuple[int, str]] = []
        self._rate_limit_reset: int | None = None
        self.set_script(main, ("success",))
        self.set_script(head, script)

    # -- scripting ----------------------------------------------------------

    def set_script(self, sha: str, states: tuple[str, ...] | list[str]) -> None:
        """Give ``sha`` a CI script, restarted from its first state."""
        ci = self.ci.get(sha)
        if ci is None:
            ci = Ci(list(states), run_id=1000 + len(self.ci))
            self.ci[sha] = ci
            self.runs[ci.run_id] = sha
        else:
            ci.script, ci.step = list(states), -1

    def set_statuses(self, sha: str, statuses: list[tuple[str, str]]) -> None:
        """Replace the commit statuses of ``sha`` (``(context, state)`` pairs)."""
        self.ci[sha].statuses = list(statuses)

    def push(
        self, sha: str, branch: str = "feature", script: tuple[str, ...] = TO_SUCCESS
    ) -> None:
        """Move ``branch`` to a new commit whose CI follows ``script``."""
        with self.lock:
            self.branches[branch] = sha
            self.set_script(sha, script)

    def rate_limit_once(self, reset_in: float) -> None:
        """Refuse the next request with a primary rate-limit 403."""
        self._rate_limit_reset = int(time.time() + reset_in)

    def head(self, branch: str = "feature") -> str:
        """Return the commit ``branch`` points to."""
        return self.branches[branch]

    # -- routing ------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if auth not in (f"token {self.token}", f"Bearer {self.token}"):
            return Response(401, {"message": "Bad credentials"})
        if self._rate_limit_reset is not None:
            reset, self._rate_limit_reset = self._rate_limit_reset, None
            return Response(
                403,
                {"message": "API rate limit exceeded for user ID 1."},
                {
                    "X-RateLimit-Limit": "5000",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(reset),
                },
            )
        if request.path == "/rate_limit":
            return Response(200, self._rate_limit())
        prefix = f"/repos/{self.full_name}"
        if not request.path.startswith(prefix):
            return Response(404, {"message": "Not Found"})
        rest = request.path[len(prefix) :]
        for method, pattern, route in self._routes():
            match = re.fullmatch(pattern, rest)
            if match and request.method == method:
                return route(request, *map(unquote, match.groups()))
        return Response(404, {"message": "Not Found"})

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"", self._repo),
            ("GET", r"/commits/([^/]+)/check-runs", self._check_runs),
            ("GET", r"/commits/([^/]+)/status", self._status),
            ("GET", r"/commits/(.+)", self._commit),
            ("GET", r"/actions/runs", self._workflow_runs),
            ("GET", r"/actions/runs/(\d+)", self._workflow_run),
            ("POST", r"/actions/runs/(\d+)/(rerun-failed-jobs|rerun)", self._rerun),
            ("GET", r"/pulls", self._list_pulls),
            ("POST", r"/pulls", self._create_pull),
        ]

    def _api(self, path: str = "") -> str:
        return f"{self.url}/repos/{self.full_name}{path}"

    def _resolve(self, ref: str) -> str | None:
        if ref in self.branches:
            return self.branches[ref]
        matches = [sha for sha in self.ci if sha.startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    # -- handlers -----------------------------------------------------------

    def _repo(self, request: Request) -> Response:
        return Response(
            200,
            {
                "id": 1,
                "name": self.name,
                "full_name": self.full_name,
                "owner": {"login": self.owner, "id": 1, "type": "Organization"},
                "private": False,
                "default_branch": "main",
                "url": self._api(),
                "html_url": f"https://github.example/{self.full_name}",
            },
        )

    def _commit(self, request: Request, ref: str) -> Response:
        sha = self._resolve(ref)
        if sha is None:
            return Response(422, {"message": f"No commit found for SHA: {ref}"})
        return Response(
            200,
            {
                "sha": sha,
                "url": self._api(f"/commits/{sha}"),
                "html_url": f"https://github.example/{self.full_name}/commit/{sha}",
                "commit": {"message": f"commit {sha[:7]}"},
                "parents": [],
            },
        )

    def _check_runs(self, request: Request, ref: str) -> Response:
        sha = self._resolve(ref)
        if sha is None:
            return Response(422, {"message": f"No commit found for SHA: {ref}"})
        state = self.ci[sha].advance()
        runs = [
            {
                "id": 5000 + index,
                "name": name,
                "head_sha": sha,
                "status": status,
                "conclusion": conclusion,
                "url": f"{self.url}/check-runs/{5000 + index}",
                "html_url": f"https://github.example/runs/{5000 + index}",
            }
            for index, (name, status, conclusion) in enumerate(STATES[state][0])
        ]
        return Response(200, {"total_count": len(runs), "check_runs": runs})

    def _status(self, request: Request, ref: str) -> Response:
        sha = self._resolve(ref)
        if sha is None:
            return Response(422, {"message": f"No commit found for SHA: {ref}"})
        ci = self.ci[sha]
        pairs = ci.statuses if ci.statuses is not None else STATES[ci.state][1]
        statuses = [
            {
                "id": 7000 + index,
                "context": context,
                "state": state,
                "description": f"{context} is {state}",
                "target_url": None,
                "url": self._api(f"/statuses/{sha}"),
            }
            for index, (context, state) in enumerate(pairs)
        ]
        states = {s["state"] for s in statuses}
        if states & {"failure", "error"}:
            combined = "failure"
        elif states == {"success"}:
            combined = "success"
        else:
            # GitHub reports "pending" for a commit without any status too.
            combined = "pending"
        return Response(
            200,
            {
                "state": combined,
                "sha": sha,
                "total_count": len(statuses),
                "statuses": statuses,
                "commit_url": self._api(f"/commits/{sha}"),
                "url": self._api(f"/commits/{sha}/status"),
            },
        )

    def _run_json(self, run_id: int) -> dict[str, Any] | None:
        sha = self.runs[run_id]
        state = self.ci[sha].state
        if state not in WORKFLOW:
            return None
        status, conclusion = WORKFLOW[state]
        return {
            "id": run_id,
            "name": "CI",
            "head_sha": sha,
            "head_branch": next(
                (b for b, s in self.branches.items() if s == sha), None
            ),
            "status": status,
            "conclusion": conclusion,
            "run_attempt": 1 + sum(1 for r, _ in self.reruns if r == run_id),
            "url": self._api(f"/actions/runs/{run_id}"),
            "rerun_url": self._api(f"/actions/runs/{run_id}/rerun"),
            "html_url": f"https://github.example/{self.full_name}/actions/runs/{run_id}",
        }

    def _workflow_runs(self, request: Request) -> Response:
        wanted = request.query.get("head_sha", [None])[0]
        runs = [
            run
            for run_id, sha in self.runs.items()
            if wanted in (None, sha) and (run := self._run_json(run_id)) is not None
        ]
        return Response(200, {"total_count": len(runs), "workflow_runs": runs})

    def _workflow_run(self, request: Request, run_id: str) -> Response:
        run = self._run_json(int(run_id)) if int(run_id) in self.runs else None
        return Response(200, run) if run else Response(404, {"message": "Not Found"})

    def _rerun(self, request: Request, run_id: str, kind: str) -> Response:
        sha = self.runs.get(int(run_id))
        if sha is None:
            return Response(404, {"message": "Not Found"})
        if self.ci[sha].state not in ("failure", "success"):
            return Response(403, {"message": "This workflow is already running"})
        self.reruns.append((int(run_id), kind))
        self.set_script(sha, TO_SUCCESS)
        return Response(201, {})

    def _pull_json(self, pull: dict[str, Any]) -> dict[str, Any]:
        number = pull["number"]
        return {
            **pull,
            "id": 900 + number,
            "url": self._api(f"/pulls/{number}"),
            "html_url": f"https://github.example/{self.full_name}/pull/{number}",
        }

    def _list_pulls(self, request: Request) -> Response:
        def wanted(key: str) -> str | None:
            return request.query.get(key, [None])[0]

        state, head, base = wanted("state") or "open", wanted("head"), wanted("base")
        pulls = [
            self._pull_json(p)
            for p in self.pulls
            if state in ("all", p["state"])
            and head in (None, p["head"]["label"])
            and base in (None, p["base"]["ref"])
        ]
        return Response(200, pulls)

    def _create_pull(self, request: Request) -> Response:
        data = request.json()
        head, base = data["head"], data["base"]
        branch = head.split(":")[-1]
        if branch not in self.branches or base not in self.branches:
            return Response(422, {"message": "Validation Failed"})
        label = f"{self.owner}:{branch}"
        duplicate = any(
            p["state"] == "open"
            and p["head"]["label"] == label
            and p["base"]["ref"] == base
            for p in self.pulls
        )
        if duplicate:
            error = {"message": f"A pull request already exists for {label}."}
            return Response(422, {"message": "Validation Failed", "errors": [error]})
        pull = {
            "number": len(self.pulls) + 1,
            "state": "open",
            "title": data.get("title", ""),
            "body": data.get("body", ""),
            "head": {"ref": branch, "label": label, "sha": self.branches[branch]},
            "base": {"ref": base, "label": f"{self.owner}:{base}"},
        }
        self.pulls.append(pull)
        return Response(201, self._pull_json(pull))

    def _rate_limit(self) -> dict[str, Any]:
        core = {"limit": 5000, "remaining": 4999, "reset": int(time.time()) + 3600}
        return {"resources": {"core": core}, "rate": core}
