"""Approvals that wait: stop at the step, approve later, resume."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

SHIP = """\
version: 1
state:
  built: {type: bool, sense: "test -f build.txt"}
  published: {type: bool, sense: "test -f published.txt"}
  announced: {type: bool, sense: "test -f announced.txt"}
  release: {type: str, sense: "cat VERSION"}
actions:
  build:
    id: B1
    effects: {built: true}
    run: "echo building; echo ok > build.txt"
  publish:
    id: P1
    pre: built
    irreversible: true
    effects: {published: true}
    run: "echo publishing {{ release }}; echo ok > published.txt"
  announce:
    id: N1
    pre: published
    approval: true
    effects: {announced: true}
    run: "echo announcing; echo ok > announced.txt"
goal: [built, published, announced]
"""


def _project(tmp_path: Path, h: SimpleNamespace, policy: str = "") -> Path:
    (tmp_path / "VERSION").write_text("1.0\n")
    goal: Path = h.goal(tmp_path, SHIP + policy)
    return goal


def _events(h: SimpleNamespace, folder: Path, kind: str) -> list[dict]:
    return [e for e in h.events(folder) if e["event"] == kind]


def test_a_waiting_run_does_what_needs_no_approval_and_stops_at_the_step(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = _project(tmp_path, h)
    result = h.run("run", goal, "--wait-for-approval", cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    assert (tmp_path / "build.txt").exists()
    assert not (tmp_path / "published.txt").exists()
    assert (
        "waiting for approval: P1: publish, N1: announce; approve with "
        "'goap-engine approve goal.yaml' (all, or name the steps), then "
        "'goap-engine run goal.yaml --resume'" in result.stderr
    )
    [pending] = _events(h, tmp_path, "approval_pending")
    assert pending["steps"] == ["P1: publish", "N1: announce"]
    assert pending["plan"] == ["P1: publish", "N1: announce"]
    assert h.state(tmp_path)["status"] == "waiting"
    assert _events(h, tmp_path, "run_end")[-1]["status"] == "waiting"
    # The lock is released: another command may write the state at once.
    assert h.run("state", "set", goal, "announced=false", cwd=tmp_path).returncode == 0
    # A plain run neither starts over nor goes on: it says what to do.
    again = h.run("run", goal, cwd=tmp_path)
    assert again.returncode == 2
    assert "waits for approval; approve with 'goap-engine approve" in again.stderr
    listing = h.run("history", goal, cwd=tmp_path)
    assert "waiting for approval: P1: publish, N1: announce" in listing.stdout


def test_approved_step_by_step_the_run_goes_on_to_the_goal(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = _project(tmp_path, h)
    assert h.run("run", goal, "--wait-for-approval", cwd=tmp_path).returncode == 5
    given = h.run("approve", goal, "P1", "--by", "alice", cwd=tmp_path)
    assert given.returncode == 0, given.stderr
    assert "approved P1: publish for run " in given.stderr
    assert ", by alice; continue with 'goap-engine run " in given.stderr
    [approval] = _events(h, tmp_path, "approval_given")
    [pending] = _events(h, tmp_path, "approval_pending")
    assert approval["by"] == "alice"
    assert approval["fingerprint"] == pending["fingerprint"]
    assert (approval["run"], approval["actions"]) == (pending["run"], ["publish"])

    # Resumed: P1 runs (approved), N1 was not approved: it waits again.
    second = h.run("run", goal, "--resume", cwd=tmp_path)
    assert second.returncode == 5, second.stderr
    assert "  [P1: publish] | publishing 1.0\n" in second.stderr
    assert not (tmp_path / "announced.txt").exists()
    last = _events(h, tmp_path, "approval_pending")[-1]
    assert last["steps"] == ["N1: announce"]

    given = h.run(
        "approve",
        goal,
        "--format",
        "json",
        cwd=tmp_path,
        env=h.env(GOAP_APPROVER="bob"),
    )
    assert json.loads(given.stdout)["by"] == "bob"
    third = h.run("run", goal, "--resume", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert (tmp_path / "announced.txt").exists()
    assert [e["by"] for e in _events(h, tmp_path, "approval_used")] == ["alice", "bob"]
    listing = h.run("history", goal, "--format", "json", cwd=tmp_path)
    runs = json.loads(listing.stdout)
    assert [r["status"] for r in runs] == ["waiting", "waiting", "reached"]
    assert runs[0]["approved"][0]["by"] == "alice"


def test_an_approval_is_for_the_plan_it_saw_rules_or_state_changed_it_waits_again(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = _project(tmp_path, h)
    assert h.run("run", goal, "--wait-for-approval", cwd=tmp_path).returncode == 5
    assert h.run("approve", goal, "--by", "alice", cwd=tmp_path).returncode == 0
    # The release to publish changed after the approval: not what alice saw.
    (tmp_path / "VERSION").write_text("2.0-rc1\n")
    result = h.run("run", goal, "--resume", cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    assert not (tmp_path / "published.txt").exists()
    assert "(the approval alice gave at " in result.stderr
    assert "was for another plan: the rules or the sensed state changed since)" in (
        result.stderr
    )
    last = _events(h, tmp_path, "approval_pending")[-1]
    assert last["outdated"]["by"] == "alice"
    # Approved again, it runs; so would a change of the rules have made it wait.
    assert h.run("approve", goal, "--by", "alice", cwd=tmp_path).returncode == 0
    goal.write_text(goal.read_text() + "# reviewed\n")
    result = h.run("run", goal, "--resume", cwd=tmp_path)
    assert result.returncode == 5
    assert "was for another plan" in result.stderr


def test_policy_wait_needs_no_flag_and_yes_still_approves_everything(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = _project(tmp_path, h, "policy: {approvals: wait}\n")
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    result = h.run("run", goal, "--resume", "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "announced.txt").exists()


def test_approve_refuses_what_nothing_waits_for(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = _project(tmp_path, h)
    result = h.run("approve", goal, cwd=tmp_path)
    assert result.returncode == 2
    assert "error: no run of " in result.stderr
    assert "waits for approval (no run yet)" in result.stderr
    assert h.run("run", goal, "--wait-for-approval", cwd=tmp_path).returncode == 5
    result = h.run("approve", goal, "B1", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert (
        "'B1' does not wait for approval; 'nope' does not wait for approval "
        "(waiting: P1: publish, N1: announce)" in result.stderr
    )
    result = h.run("approve", goal, "--by", "eve\nforged line", cwd=tmp_path)
    assert result.returncode == 2
    assert "expected a name of 1 to 200 printable characters" in result.stderr
    assert not _events(h, tmp_path, "approval_given")
    assert "Traceback" not in result.stderr


def test_the_python_api_waits_approves_and_resumes(
    tmp_path: Path, h: SimpleNamespace, monkeypatch
) -> None:
    import goap_engine

    goal = _project(tmp_path, h)
    monkeypatch.chdir(tmp_path)
    ruleset = goap_engine.load(goal)
    result = goap_engine.run(ruleset, wait_for_approval=True)
    assert result.status == "waiting"
    assert result.waiting is not None
    assert result.waiting["steps"] == ["P1: publish", "N1: announce"]
    given = goap_engine.approve(ruleset, ["P1", "N1"], by="ci-bot")
    assert (given["by"], given["actions"]) == ("ci-bot", ["publish", "announce"])
    assert goap_engine.run(ruleset, resume=True).status == "reached"
