"""Run options end to end: saved plans, parallel jobs, approval, JSON output,
and wait actions."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goap_engine.values import steps_fingerprint

PLANNED = """
version: 1
state:
  source_ready: {type: bool, sense: test -f source}
  built: {type: bool, sense: test -f built}
actions:
  get_source: {id: G1, effects: {source_ready: true}, run: touch source}
  build: {id: G2, pre: source_ready, effects: {built: true}, cost: 2, run: touch built}
goal: [built]
"""


def test_saved_plan_runs_and_is_refused_when_stale(tmp_path: Path, h) -> None:
    goal = h.goal(tmp_path, PLANNED)
    plan_file = tmp_path / "plan.json"
    made = h.cli("plan", goal, "-o", plan_file)
    assert made.returncode == 0, made.stderr
    assert json.loads(plan_file.read_text())["format"] == "goap-engine/plan"

    result = h.run("run", "--plan", plan_file, goal, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    plans = [e for e in h.events(tmp_path) if e["event"] == "plan"]
    assert len(plans) == 1
    assert plans[0]["saved"] == str(plan_file)
    assert plans[0]["steps"] == ["G1: get_source", "G2: build"]
    assert (tmp_path / "built").exists()

    # The sensed world changed: the plan's start no longer matches.
    (tmp_path / "built").unlink()
    stale = h.cli("run", "--plan", plan_file, goal)
    assert stale.returncode == 2, stale.stderr
    assert "start state differs" in stale.stderr
    assert "source_ready" in stale.stderr
    assert "Traceback" not in stale.stderr

    # The rules changed: refused, even where the world matches again.
    (tmp_path / "source").unlink()
    goal.write_text(PLANNED.replace("cost: 2", "cost: 3"))
    changed = h.cli("run", "--plan", plan_file, goal)
    assert changed.returncode == 2, changed.stderr
    assert "rules changed" in changed.stderr
    assert not (tmp_path / "source").exists()
    # Neither refusal ran a step.
    assert sum(e["event"] == "step_start" for e in h.events(tmp_path)) == 2


def test_saved_plan_that_is_not_a_plan_is_refused(tmp_path: Path, h) -> None:
    goal = h.goal(tmp_path, PLANNED)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    result = h.cli("run", "--plan", bad, goal)
    assert result.returncode == 2 and "not a goap-engine plan file" in result.stderr
    bad.write_text("{not json")
    result = h.cli("run", "--plan", bad, goal)
    assert result.returncode == 2 and "cannot read the saved plan" in result.stderr
    # A real plan, edited by hand: the rules and start match, the steps do not.
    made = h.cli("plan", goal, "-o", bad)
    assert made.returncode == 0, made.stderr
    saved = json.loads(bad.read_text())
    for steps in (
        [dict(saved["steps"][0], action="no_such_action")] + saved["steps"][1:],
        saved["steps"] + saved["steps"],
        [{"action": "build"}] * 100_000,
        "build",
        [None],
    ):
        bad.write_text(json.dumps(dict(saved, steps=steps)))
        result = h.cli("run", "--plan", bad, goal)
        assert result.returncode == 2, result.stderr
        assert (
            f"error: {bad}: the steps are not the ones 'plan' wrote (edited, or "
            "saved by an older version); plan again"
        ) in result.stderr
    assert not (tmp_path / "source").exists()


def test_saved_plan_steps_are_checked_against_the_rules(tmp_path: Path, h) -> None:
    # Fingerprints rewritten to match: each step is still checked in order.
    goal = h.goal(tmp_path, PLANNED)
    plan_file = tmp_path / "plan.json"
    assert h.cli("plan", goal, "-o", plan_file).returncode == 0
    saved = json.loads(plan_file.read_text())
    names = [s["action"] for s in saved["steps"]]
    for edited, message in (
        (names[1:], "step 1: G2: build: precondition 'source_ready' does not hold"),
        (["no_such_action"], "step 1: no action 'no_such_action' in the rules"),
    ):
        prints = dict(saved["fingerprint"], steps=steps_fingerprint(edited))
        steps = [{"action": n} for n in edited]
        plan_file.write_text(json.dumps(dict(saved, fingerprint=prints, steps=steps)))
        result = h.cli("run", "--plan", plan_file, goal)
        assert result.returncode == 2, result.stderr
        assert f"error: {plan_file}: {message}" in result.stderr
        assert "plan again" in result.stderr
    assert not (tmp_path / "source").exists()


def test_parallel_jobs_overlap_and_keep_their_lines_whole(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          alpha: bool
          beta: bool
        actions:
          make_alpha:
            id: P1
            effects: {alpha: true}
            run: for i in 1 2 3 4; do echo "alpha line $i of 4"; sleep 0.25; done
          make_beta:
            id: P2
            effects: {beta: true}
            run: for i in 1 2 3 4; do echo "beta line $i of 4"; sleep 0.25; done
        goal: [alpha, beta]
        """,
    )
    result = h.run("run", "--jobs", "2", goal, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    events = h.events(tmp_path)
    assert events[0]["jobs"] == 2
    starts = [e["t"] for e in events if e["event"] == "step_start"]
    ends = [e["t"] for e in events if e["event"] == "step_end"]
    assert len(starts) == 2 and max(starts) < min(ends)  # they overlapped
    assert max(ends) - min(starts) < 1.8

    # Lines stream live, so the two steps' lines interleave; no line is mixed.
    lines = result.stderr.splitlines()
    for name, label in (("alpha", "P1: make_alpha"), ("beta", "P2: make_beta")):
        mine = [line for line in lines if f"[{label}] |" in line]
        assert mine == [f"  [{label}] | {name} line {n} of 4" for n in range(1, 5)]
    output = [line for line in lines if "] | " in line]
    assert len(output) == 8
    first_beta = next(i for i, line in enumerate(output) if "beta" in line)
    last_alpha = max(i for i, line in enumerate(output) if "alpha" in line)
    assert first_beta < last_alpha  # seen as they happened, not as blocks


def test_sequential_jobs_take_the_sum(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {alpha: bool, beta: bool}
        actions:
          a: {id: P1, effects: {alpha: true}, run: sleep 0.5}
          b: {id: P2, effects: {beta: true}, run: sleep 0.5}
        goal: [alpha, beta]
        """,
    )
    result = h.cli("run", goal)
    assert result.returncode == 0, result.stderr
    events = h.events(tmp_path)
    starts = [e["t"] for e in events if e["event"] == "step_start"]
    ends = [e["t"] for e in events if e["event"] == "step_end"]
    assert starts[1] >= ends[0]


APPROVAL = """
version: 1
state:
  built: bool
  published: bool
actions:
  build: {id: B1, effects: {built: true}, run: touch built}
  publish:
    id: B2
    pre: built
    effects: {published: true}
    irreversible: true
    run: touch published
goal: [published]
"""


def test_irreversible_action_needs_yes_without_a_terminal(tmp_path: Path, h) -> None:
    goal = h.goal(tmp_path, APPROVAL)
    refused = h.run("run", goal, cwd=tmp_path)
    # Settled before anything runs: a usage problem, nothing ran.
    assert refused.returncode == 2, refused.stderr
    assert "approval needed before anything ran" in refused.stderr
    assert "B2: publish (irreversible)" in refused.stderr
    assert "--approve B2" in refused.stderr and "--yes" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "built").exists()
    assert not (tmp_path / "published").exists()
    events = h.events(tmp_path)
    assert "step_start" not in h.kinds(events)
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "needs_approval"

    approved = h.run("run", "--approve", "B2", goal, cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert (tmp_path / "published").exists()
    steps = [e["step"] for e in h.events(tmp_path) if e["event"] == "step_start"]
    assert steps == ["B1: build", "B2: publish"]


def test_approve_names_must_exist(tmp_path: Path, h) -> None:
    goal = h.goal(tmp_path, APPROVAL)
    result = h.cli("run", "--approve", "B2,nope", goal)
    assert result.returncode == 2, result.stderr
    assert "--approve: unknown action 'nope'" in result.stderr
    assert "B2" in result.stderr


def test_approval_is_settled_before_parallel_steps_start(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {prepared: bool, slow_done: bool, risky_done: bool}
        actions:
          prepare: {id: C0, effects: {prepared: true}, run: touch prepared}
          slow: {id: C1, effects: {slow_done: true}, run: touch slow}
          risky:
            id: C2
            pre: prepared
            effects: {risky_done: true}
            approval: true
            run: touch risky
        goal: [slow_done, risky_done]
        """,
    )
    result = h.run("run", "--jobs", "2", goal, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "C2: risky (marked for approval)" in result.stderr
    assert "step_start" not in h.kinds(h.events(tmp_path))
    assert not any((tmp_path / f).exists() for f in ("prepared", "slow", "risky"))
    approved = h.run("run", "--jobs", "2", "--yes", goal, cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert (tmp_path / "risky").exists()


WAITING = """
version: 1
state:
  kicked: bool
  ready: {{type: bool, sense: 'test -f due && test $(date +%s%N) -ge $(cat due)'}}
actions:
  kick:
    id: W1
    effects: {{kicked: true}}
    run: {kick}
  await_ready:
    id: W2
    pre: kicked
    effects: {{ready: true}}
    wait: {{until: ready, interval: 0.1s, timeout: {timeout}}}
policy: {{max_replans: 0}}
goal: [ready]
"""


def test_wait_polls_until_a_sensor_turns_true(tmp_path: Path, h) -> None:
    # The hook cannot leave a process behind to do it later (that would be
    # ended with its step), so the world turns true by the clock.
    kick = "'echo $(( $(date +%s%N) + 500000000 )) > due'"
    goal = h.goal(tmp_path, WAITING.format(kick=kick, timeout="10s"))
    began = time.monotonic()
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - began < 8
    events = h.events(tmp_path)
    end = [e for e in events if e["event"] == "step_end"][-1]
    assert end["step"] == "W2: await_ready" and end["status"] == "ok"
    assert 0.2 <= end["seconds"] < 3
    polls = [e for e in events if e["event"] == "sensed" and "ready" in e["values"]]
    assert [p["values"]["ready"] for p in polls][-1] is True
    assert len(polls) >= 3  # it really polled


def test_wait_that_never_holds_times_out_clearly(tmp_path: Path, h) -> None:
    goal = h.goal(tmp_path, WAITING.format(kick="'true'", timeout="1s"))
    began = time.monotonic()
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - began < 8
    assert "'ready' still false after 1 s" in result.stderr
    end = [e for e in h.events(tmp_path) if e["event"] == "step_end"][-1]
    assert end["status"] == "failed"
    assert end["message"] == "'ready' still false after 1 s"
    assert 0.9 <= end["seconds"] < 3


@pytest.mark.parametrize("answer", ["y", "n"])
def test_irreversible_action_asks_on_a_terminal(
    tmp_path: Path, h, engines, answer: str
) -> None:
    goal = h.goal(tmp_path, APPROVAL)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "goap_engine", "run", str(goal)],
        cwd=tmp_path,
        env=h.env(),
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    engines.append(proc)
    os.close(follower)
    seen = b""
    try:
        while b"Run them?" not in seen:
            ready, _, _ = select.select([leader], [], [], 20)
            assert ready, f"no prompt: {seen!r}"
            seen += os.read(leader, 4096)
        os.write(leader, answer.encode() + b"\n")
        proc.wait(timeout=60)
        while select.select([leader], [], [], 0)[0]:
            seen += os.read(leader, 4096)
    except OSError:  # EIO: the terminal's other end closed
        pass
    finally:
        os.close(leader)
    text = seen.decode(errors="replace")
    assert (
        "This run will run steps that need approval: B2: publish (irreversible). "
        "Run them?"
    ) in text
    if answer == "y":
        assert proc.wait(timeout=60) == 0, text
        assert (tmp_path / "published").exists()
    else:
        assert proc.wait(timeout=60) == 1, text
        assert not (tmp_path / "published").exists()
        assert not (tmp_path / "built").exists()  # asked before anything ran
        assert "not approved" in text
