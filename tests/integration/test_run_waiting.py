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
    assert "was for another plan: the state changed); approve with" in result.stderr
    last = _events(h, tmp_path, "approval_pending")[-1]
    assert last["outdated"]["by"] == "alice"
    # Approved again, it runs; so would a change of the rules have made it wait.
    assert h.run("approve", goal, "--by", "alice", cwd=tmp_path).returncode == 0
    goal.write_text(goal.read_text() + "# reviewed\n")
    result = h.run("run", goal, "--resume", cwd=tmp_path)
    assert result.returncode == 5
    assert "was for another plan: the rules (files or vars) changed)" in result.stderr


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
        "'B1' does not wait for approval; no step 'nope' in goal.yaml "
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


GATES = """\
version: 1
state:
  a: {type: bool, sense: "test -f a"}
  b: {type: bool, sense: "test -f b"}
  c: {type: bool, sense: "test -f c"}
  ga: {type: bool, sense: "test -f ga"}
  gb: {type: bool, sense: "test -f gb"}
actions:
  make_a: {effects: {a: true}, run: "touch a"}
  make_b: {effects: {b: true}, run: "touch b"}
  make_c: {effects: {c: true}, run: "touch c"}
  gate_a: {pre: a, effects: {ga: true}, irreversible: true, run: "touch ga"}
  gate_b: {pre: b, effects: {gb: true}, irreversible: true, run: "touch gb"}
goal: [a, b, c, ga, gb]
"""


def test_parallel_steps_and_two_gates_an_approval_matches_on_resume(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = h.goal(tmp_path, GATES)
    first = h.run("run", goal, "--wait-for-approval", "--jobs", "4", cwd=tmp_path)
    assert first.returncode == 5, first.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if len(p.name) == 1) == [
        "a",
        "b",
        "c",
    ]
    # Journalled once every running step had ended: the state they left.
    [pending] = _events(h, tmp_path, "approval_pending")
    assert pending["steps"] == ["gate_a", "gate_b"]
    assert pending["plan"] == ["gate_a", "gate_b"]

    assert h.run("approve", goal, "gate_a", "--by", "al", cwd=tmp_path).returncode == 0
    second = h.run("run", goal, "--resume", "--jobs", "4", cwd=tmp_path)
    assert second.returncode == 5, second.stderr
    assert (tmp_path / "ga").exists() and not (tmp_path / "gb").exists()
    assert "waiting for approval: gate_b; approve with" in second.stderr
    assert "was for another plan" not in second.stderr

    assert h.run("approve", goal, "--by", "bo", cwd=tmp_path).returncode == 0
    third = h.run("run", goal, "--resume", "--jobs", "4", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert (tmp_path / "gb").exists()
    listing = h.run("history", goal, cwd=tmp_path).stdout.splitlines()
    second_run = _events(h, tmp_path, "run_start")[1]["run"]
    assert listing[0].endswith(f"approved gate_a (by al)  resumed by {second_run}")
    assert "approved gate_b (by bo)  resumed by " in listing[1]


REPLANNED = """\
version: 1
state:
  a: {type: bool, sense: "test -f a"}
  flag: {type: bool, sense: "test -f flag"}
  n: {type: bool, sense: "test -f n"}
actions:
  publish: {id: P1, effects: {a: true, flag: true}, irreversible: true, run: "touch a"}
  make_flag: {id: F1, effects: {flag: true}, cost: 3, run: "touch flag"}
  announce: {id: N1, pre: [a, flag], effects: {n: true}, approval: true, run: "touch n"}
goal: [a, n]
"""


def test_an_approval_holds_for_its_plan_only_a_replan_waits_again(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = h.goal(tmp_path, REPLANNED)
    assert h.run("run", goal, "--wait-for-approval", cwd=tmp_path).returncode == 5
    assert h.run("approve", goal, "--by", "al", cwd=tmp_path).returncode == 0
    # P1 runs but does not do all it claims: the new plan was never seen.
    result = h.run("run", goal, "--resume", cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    assert (tmp_path / "a").exists() and (tmp_path / "flag").exists()
    assert not (tmp_path / "n").exists()
    assert (
        "waiting for approval: N1: announce (the approval al gave at " in result.stderr
    )
    assert (
        "was for another plan: the state changed; the plan from there is "
        "N1: announce (was P1: publish, N1: announce))" in result.stderr
    )


def test_a_waiting_run_killed_before_it_stopped_still_waits_when_resumed(
    tmp_path: Path, h: SimpleNamespace, engines: list, reaper: list[int]
) -> None:
    import signal

    goal = _project(tmp_path, h)
    text = goal.read_text().replace(
        'run: "echo building; echo ok > build.txt"',
        'run: "echo $$ > hook.pid; sleep 30; echo ok > build.txt"',
    )
    goal.write_text(text)
    proc = h.start("run", goal, "--wait-for-approval", cwd=tmp_path)
    engines.append(proc)
    h.wait_for(lambda: h.pids(tmp_path / "hook.pid"), message="the hook to start")
    reaper.extend(h.pids(tmp_path / "hook.pid"))
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    goal.write_text(text.replace("sleep 30; ", ""))
    # Resumed without the flag: it goes on as it was started, waiting.
    result = h.run("run", goal, "--resume", cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    assert "waiting for approval: P1: publish, N1: announce" in result.stderr
    assert not (tmp_path / "published.txt").exists()


def test_approve_says_how_to_resume_with_the_vars_the_run_had(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = h.goal(
        tmp_path,
        SHIP.replace("version: 1\n", "version: 1\nvars: {channel: stable}\n", 1),
    )
    (tmp_path / "VERSION").write_text("1.0\n")
    args = ("--var", "channel=beta")
    assert (
        h.run("run", goal, "--wait-for-approval", *args, cwd=tmp_path).returncode == 5
    )
    # A plain run points at approve, then at the resume command, vars and all.
    refused = h.run("run", goal, *args, cwd=tmp_path)
    assert refused.returncode == 2
    assert "waits for approval; approve with 'goap-engine approve goal.yaml'" in (
        refused.stderr
    )
    given = h.run("approve", goal, "--by", "al", cwd=tmp_path)
    assert given.returncode == 0, given.stderr
    assert (
        "continue with 'goap-engine run goal.yaml --var channel=beta --resume'"
        in given.stderr
    )
    refused = h.run("run", goal, *args, cwd=tmp_path)
    assert refused.returncode == 2
    assert (
        "waits, and what it waits for is approved; continue with 'goap-engine run "
        "goal.yaml --var channel=beta --resume', or start over with" in refused.stderr
    )
    # Resumed without the var, the rules differ from those approved.
    other = h.run("run", goal, "--resume", cwd=tmp_path)
    assert other.returncode == 5
    assert "was for another plan: the rules (files or vars) changed)" in other.stderr
    assert h.run("approve", goal, "--by", "al", cwd=tmp_path).returncode == 0
    done = h.run("run", goal, "--resume", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def _forge(h: SimpleNamespace, folder: Path, **fields: object) -> None:
    pending = _events(h, folder, "approval_pending")[-1]
    line = {
        "ts": "2026-01-01T00:00:00.000Z",
        "event": "approval_given",
        "run": pending["run"],
        "steps": pending["steps"],
        "actions": pending["actions"],
        "fingerprint": pending["fingerprint"],
        "plan": pending["plan"],
        "by": "mallory",
        **fields,
    }
    journal = h.files(folder) / "journal.jsonl"
    with journal.open("a") as handle:
        handle.write(json.dumps(line) + "\n")


def test_a_hand_written_approval_runs_nothing_unless_its_fingerprint_matches(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = _project(tmp_path, h)
    assert h.run("run", goal, "--wait-for-approval", cwd=tmp_path).returncode == 5
    _forge(h, tmp_path, fingerprint="0" * 64)
    result = h.run("run", goal, "--resume", cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    assert not (tmp_path / "published.txt").exists()
    assert (
        "was for another plan: its fingerprint is not the one the run waited for)"
        in result.stderr
    )
    # The fingerprint is no secret: a line that copies it is an approval, as
    # the README says (the journal is the local user's to write).
    _forge(h, tmp_path)
    result = h.run("run", goal, "--resume", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "announced.txt").exists()


def test_approval_lines_of_the_wrong_shape_are_located_never_an_internal_error(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = _project(tmp_path, h)
    assert h.run("run", goal, "--wait-for-approval", cwd=tmp_path).returncode == 5
    _forge(h, tmp_path, by="\x1b]0;owned\x07" + "x" * 300, steps=["P1: publish", 5])
    journal = h.files(tmp_path) / "journal.jsonl"
    number = len(journal.read_text().splitlines())
    for command in (("approve", goal), ("run", goal, "--resume")):
        result = h.run(*command, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert (
            f"journal.jsonl:{number}:1: error: journal: an 'approval_given' event "
            "whose 'steps' is not a list of texts" in result.stderr
        )
    listing = h.run("history", goal, cwd=tmp_path)
    assert listing.returncode == 0
    assert "\x1b" not in listing.stdout + listing.stderr
    assert "waiting for approval: P1: publish, N1: announce" in listing.stdout
    assert f"journal.jsonl:{number}:1: warning: skipped a journal line" in (
        listing.stderr
    )
    assert not (tmp_path / "published.txt").exists()


def test_approve_while_a_run_holds_the_lock_exits_4_and_writes_nothing(
    tmp_path: Path, h: SimpleNamespace, engines: list
) -> None:
    goal = _project(tmp_path, h)
    assert h.run("run", goal, "--wait-for-approval", cwd=tmp_path).returncode == 5
    (tmp_path / "build.txt").unlink()
    text = goal.read_text().replace(
        'run: "echo building; echo ok > build.txt"',
        'run: "touch started; while [ ! -f go ]; do sleep 0.05; done; '
        'echo ok > build.txt"',
    )
    goal.write_text(text)
    proc = h.start("run", goal, "--resume", cwd=tmp_path)
    engines.append(proc)
    h.wait_for(lambda: (tmp_path / "started").exists(), message="the hook to start")
    result = h.run("approve", goal, "--by", "al", cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert "error: another run holds the lock " in result.stderr
    (tmp_path / "go").touch()
    proc.communicate(timeout=30)
    assert proc.returncode == 5
    assert not _events(h, tmp_path, "approval_given")


def test_a_goal_whose_path_has_a_space_is_named_whole(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    (tmp_path / "VERSION").write_text("1.0\n")
    goal = h.goal(tmp_path, SHIP, "my release.yaml")
    result = h.run("run", goal, "--wait-for-approval", cwd=tmp_path)
    assert result.returncode == 5
    assert (
        "approve with 'goap-engine approve 'my release.yaml'' (all, or name the "
        "steps), then 'goap-engine run 'my release.yaml' --resume'" in result.stderr
    )
    again = h.run("run", goal, cwd=tmp_path)
    assert "approve with 'goap-engine approve 'my release.yaml'' and" in again.stderr


FIRST_GATE = """\
version: 1
state:
  a: {type: bool, sense: "test -f a"}
  b: {type: bool, sense: "test -f b"}
  ga: {type: bool, sense: "test -f ga"}
  gb: {type: bool, sense: "test -f gb"}
actions:
  gate_a: {effects: {ga: true}, irreversible: true, run: "touch ga"}
  make_a: {effects: {a: true}, run: "touch a"}
  make_b: {effects: {b: true}, run: "touch b"}
  gate_b: {pre: b, effects: {gb: true}, irreversible: true, run: "touch gb"}
goal: [ga, a, b, gb]
"""


def test_a_step_held_for_approval_holds_only_what_depends_on_it(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = h.goal(tmp_path, FIRST_GATE)
    result = h.run("run", goal, "--wait-for-approval", cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    [plan] = _events(h, tmp_path, "plan")
    assert plan["steps"][0] == "gate_a"
    # gate_a comes first, yet what needs no approval ran all the same.
    assert (tmp_path / "a").exists() and (tmp_path / "b").exists()
    assert not (tmp_path / "ga").exists() and not (tmp_path / "gb").exists()
    [pending] = _events(h, tmp_path, "approval_pending")
    assert pending["steps"] == ["gate_a", "gate_b"]
    assert h.run("approve", goal, "gate_b", cwd=tmp_path).returncode == 0
    result = h.run("run", goal, "--resume", cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    assert (tmp_path / "gb").exists() and not (tmp_path / "ga").exists()
