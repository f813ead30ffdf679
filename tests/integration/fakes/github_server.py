"""A fake GitHub REST API with a scriptable CI, for the ``github.*`` built-ins.

Endpoints (all under one repository, token-checked like GitHub):

* ``GET /repos/{o}/{r}``, ``GET /repos/{o}/{r}/commits/{ref}`` (sha or branch)
* ``GET /repos/{o}/{r}/commits/{sha}/check-runs`` and ``.../status``
* ``GET /repos/{o}/{r}/actions/runs?head_sha=``, ``GET .../actions/runs/{id}``
* ``POST /repos/{o}/{r}/actions/runs/{id}/rerun-failed-jobs`` and ``.../rerun``
* ``GET`` and ``POST /repos/{o}/{r}/pulls``, ``PATCH .../pulls/{n}``
* ``GET /repos/{o}/{r}/issues/{n}``, ``POST .../issues/{n}/labels``,
  ``GET`` and ``POST .../issues/{n}/comments``, ``PATCH .../issues/comments/{id}``
* ``GET /rate_limit``

Lists are paged as GitHub pages them (``per_page`` up to 100, ``page``, a
``Link`` header with ``next`` and ``last``).  Every answer carries
``X-OAuth-Scopes`` (the token's scopes); a route the token lacks the scope for
answers 403 with ``X-Accepted-OAuth-Scopes``.  ``fail_next`` queues refusals
(429 with or without ``Retry-After``, a secondary-limit 403, 5xx) and
``slow_next`` slow answers.  Differences from GitHub: ``README.md`` here.

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
from urllib.parse import unquote, urlencode

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
        scopes: tuple[str, ...] = ("repo", "workflow"),
        default_script: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__()
        self.scopes = scopes
        # The CI of a commit nobody scripted (pushed by the code under test).
        self.default_script = default_script
        self.faults: list[Response] = []
        self.slow: list[float] = []
        self.comments: list[dict[str, Any]] = []
        self.extra_runs: dict[str, list[tuple[str, str, str | None]]] = {}
        self.rerun_refusal: str | None = None
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

    def fail_next(self, response: Response, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``response``."""
        with self.lock:
            self.faults.extend([response] * times)

    def slow_next(self, seconds: float, times: int = 1) -> None:
        """Answer the next ``times`` requests only after ``seconds``."""
        with self.lock:
            self.slow.extend([seconds] * times)

    def add_check_runs(self, sha: str, runs: list[tuple[str, str, str | None]]) -> None:
        """List more check runs (name, status, conclusion) for ``sha``."""
        self.extra_runs[sha] = list(runs)

    def rate_limit_once(self, reset_in: float) -> None:
        """Refuse the next request with a primary rate-limit 403."""
        self._rate_limit_reset = int(time.time() + reset_in)

    def head(self, branch: str = "feature") -> str:
        """Return the commit ``branch`` points to."""
        return self.branches[branch]

    # -- routing ------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        response = self._route(request)
        response.headers.setdefault("X-OAuth-Scopes", ", ".join(self.scopes))
        if self.slow:
            response.delay = self.slow.pop(0)
        return response

    def _route(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if auth not in (f"token {self.token}", f"Bearer {self.token}"):
            return Response(401, {"message": "Bad credentials"})
        if self.faults:
            fault = self.faults.pop(0)
            return Response(fault.status, fault.body, dict(fault.headers))
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
        for method, pattern, scope, route in self._routes():
            match = re.fullmatch(pattern, rest)
            if match and request.method == method:
                if scope not in self.scopes:
                    return Response(
                        403,
                        {"message": "Resource not accessible by personal access token"},
                        {"X-Accepted-OAuth-Scopes": scope},
                    )
                return route(request, *map(unquote, match.groups()))
        return Response(404, {"message": "Not Found"})

    def _routes(self) -> list[tuple[str, str, str, Any]]:
        return [
            ("GET", r"", "repo", self._repo),
            ("GET", r"/commits/([^/]+)/check-runs", "repo", self._check_runs),
            ("GET", r"/commits/([^/]+)/status", "repo", self._status),
            ("GET", r"/commits/(.+)", "repo", self._commit),
            ("GET", r"/actions/runs", "repo", self._workflow_runs),
            ("GET", r"/actions/runs/(\d+)", "repo", self._workflow_run),
            (
                "POST",
                r"/actions/runs/(\d+)/(rerun-failed-jobs|rerun)",
                "workflow",
                self._rerun,
            ),
            ("GET", r"/pulls", "repo", self._list_pulls),
            ("POST", r"/pulls", "repo", self._create_pull),
            ("PATCH", r"/pulls/(\d+)", "repo", self._edit_pull),
            ("GET", r"/issues/(\d+)", "repo", self._issue),
            ("POST", r"/issues/(\d+)/labels", "repo", self._add_labels),
            ("GET", r"/issues/(\d+)/comments", "repo", self._list_comments),
            ("POST", r"/issues/(\d+)/comments", "repo", self._create_comment),
            ("PATCH", r"/issues/comments/(\d+)", "repo", self._edit_comment),
        ]

    def _page(
        self, request: Request, items: list[Any], key: str | None = None
    ) -> Response:
        """Return one page of ``items`` with GitHub's ``Link`` header."""
        per_page = min(int(request.query.get("per_page", ["30"])[0]), 100)
        page = max(int(request.query.get("page", ["1"])[0]), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        query = {k: v[0] for k, v in request.query.items()}
        for rel, number in (("next", page + 1), ("last", last)):
            if rel == "next" and page >= last:
                continue
            params = urlencode({**query, "per_page": per_page, "page": number})
            links.append(f'<{self.url}{request.path}?{params}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if page < last else {}
        body: Any = chunk if key is None else {"total_count": len(items), key: chunk}
        return Response(200, body, headers)

    def _api(self, path: str = "") -> str:
        return f"{self.url}/repos/{self.full_name}{path}"

    def _resolve(self, ref: str) -> str | None:
        if ref in self.branches:
            return self.branches[ref]
        matches = [sha for sha in self.ci if sha.startswith(ref)]
        if not matches and self.default_script and re.fullmatch("[0-9a-f]{40}", ref):
            self.set_script(ref, self.default_script)
            return ref
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
        if request.query.get("page", ["1"])[0] == "1":
            self.ci[sha].advance()
        state = self.ci[sha].state
        listed = STATES[state][0] + self.extra_runs.get(sha, [])
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
            for index, (name, status, conclusion) in enumerate(listed)
        ]
        return self._page(request, runs, "check_runs")

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
        page = self._page(request, statuses, "statuses")
        page.body.update(
            {
                "state": combined,
                "sha": sha,
                "commit_url": self._api(f"/commits/{sha}"),
                "url": self._api(f"/commits/{sha}/status"),
            }
        )
        return page

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
        return self._page(request, runs, "workflow_runs")

    def _workflow_run(self, request: Request, run_id: str) -> Response:
        run = self._run_json(int(run_id)) if int(run_id) in self.runs else None
        return Response(200, run) if run else Response(404, {"message": "Not Found"})

    def _rerun(self, request: Request, run_id: str, kind: str) -> Response:
        sha = self.runs.get(int(run_id))
        if sha is None:
            return Response(404, {"message": "Not Found"})
        if self.ci[sha].state not in ("failure", "success"):
            return Response(403, {"message": "This workflow is already running"})
        if self.rerun_refusal:
            return Response(403, {"message": self.rerun_refusal})
        self.reruns.append((int(run_id), kind))
        self.set_script(sha, TO_SUCCESS)
        return Response(201, {})

    def _pull_json(self, pull: dict[str, Any]) -> dict[str, Any]:
        number = pull["number"]
        return {
            **pull,
            "id": 900 + number,
            "url": self._api(f"/pulls/{number}"),
            "issue_url": self._api(f"/issues/{number}"),
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
        return self._page(request, pulls)

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
            "labels": [],
        }
        self.pulls.append(pull)
        return Response(201, self._pull_json(pull))

    def _pull(self, number: str) -> dict[str, Any] | None:
        return next((p for p in self.pulls if p["number"] == int(number)), None)

    def _edit_pull(self, request: Request, number: str) -> Response:
        pull = self._pull(number)
        if pull is None:
            return Response(404, {"message": "Not Found"})
        data = request.json()
        pull.update({k: data[k] for k in ("title", "body", "state") if k in data})
        return Response(200, self._pull_json(pull))

    def _issue(self, request: Request, number: str) -> Response:
        pull = self._pull(number)
        if pull is None:
            return Response(404, {"message": "Not Found"})
        return Response(
            200,
            {
                "id": 800 + pull["number"],
                "number": pull["number"],
                "title": pull["title"],
                "state": pull["state"],
                "url": self._api(f"/issues/{number}"),
                "html_url": self._pull_json(pull)["html_url"],
                "labels": [{"name": n} for n in pull["labels"]],
            },
        )

    def _add_labels(self, request: Request, number: str) -> Response:
        pull = self._pull(number)
        if pull is None:
            return Response(404, {"message": "Not Found"})
        data = request.json()
        names = data.get("labels", data) if isinstance(data, dict) else data
        for name in names:
            if name not in pull["labels"]:
                pull["labels"].append(name)
        return Response(200, [{"name": n} for n in pull["labels"]])

    def _comment_json(self, comment: dict[str, Any]) -> dict[str, Any]:
        return {
            **comment,
            "url": self._api(f"/issues/comments/{comment['id']}"),
            "html_url": f"https://github.example/{self.full_name}/pull/"
            f"{comment['issue']}#issuecomment-{comment['id']}",
        }

    def _list_comments(self, request: Request, number: str) -> Response:
        found = [
            self._comment_json(c) for c in self.comments if c["issue"] == int(number)
        ]
        return self._page(request, found)

    def _create_comment(self, request: Request, number: str) -> Response:
        if self._pull(number) is None:
            return Response(404, {"message": "Not Found"})
        comment = {
            "id": 3000 + len(self.comments),
            "issue": int(number),
            "body": request.json()["body"],
        }
        self.comments.append(comment)
        return Response(201, self._comment_json(comment))

    def _edit_comment(self, request: Request, comment_id: str) -> Response:
        comment = next((c for c in self.comments if c["id"] == int(comment_id)), None)
        if comment is None:
            return Response(404, {"message": "Not Found"})
        comment["body"] = request.json()["body"]
        return Response(200, self._comment_json(comment))

    def _rate_limit(self) -> dict[str, Any]:
        core = {"limit": 5000, "remaining": 4999, "reset": int(time.time()) + 3600}
        return {"resources": {"core": core}, "rate": core}
