"""The sense-plan-act loop end to end: order, persistence, failures, replanning."""

from __future__ import annotations

import time
from pathlib import Path


def test_steps_run_in_plan_order_and_are_recorded(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          fetched: {type: bool, sense: test -f fetched}
          built: {type: bool, sense: test -f built}
          packaged: {type: bool, sense: test -f packaged}
          count: {type: int, default: 0, min: 0, max: 5}
        actions:
          fetch:
            id: S1
            effects: {fetched: true}
            run: echo fetch >> order; touch fetched
          build:
            id: S2
            pre: fetched
            effects: {built: true, count: count + 1}
            run: echo build >> order; touch built
          package:
            id: S3
            pre: built
            effects: {packaged: true}
            run: echo package >> order; touch packaged; exit 0
        goal: [packaged, count >= 1]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "order").read_text().split() == ["fetch", "build", "package"]
    assert "goal reached" in result.stderr
    assert result.stdout == ""

    state = h.state(tmp_path)
    assert state["status"] == "reached"
    assert state["last_action"] == "S3: package"
    assert state["state"] == {
        "fetched": True,
        "built": True,
        "packaged": True,
        "count": 1,
    }

    events = h.events(tmp_path)
    assert events[0]["event"] == "run_start"
    assert events[0]["goal"] == str(goal)
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "reached"
    assert events[-1]["replans"] == 0
    assert len({e["run"] for e in events}) == 1
    plans = [e for e in events if e["event"] == "plan"]
    assert [p["steps"] for p in plans] == [["S1: fetch", "S2: build", "S3: package"]]
    steps = [e for e in events if e["event"] in ("step_start", "step_end")]
    assert [(e["event"], e["step"]) for e in steps] == [
        ("step_start", "S1: fetch"),
        ("step_end", "S1: fetch"),
        ("step_start", "S2: build"),
        ("step_end", "S2: build"),
        ("step_start", "S3: package"),
        ("step_end", "S3: package"),
    ]
    assert steps[0]["command"] == "echo fetch >> order; touch fetched"
    for end in steps[1::2]:
        assert end["status"] == "ok" and end["exit_code"] == 0
    # Every event is stamped, and the stamps never go backwards.
    stamps = [e["t"] for e in events]
    assert stamps == sorted(stamps)


def test_failure_then_replan_through_a_fix(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          deployed: {type: bool, sense: test -f deployed}
          needs_fix: bool
        actions:
          deploy:
            id: D1
            pre: not needs_fix
            effects: {deployed: true}
            on_failure: {needs_fix: true}
            run: echo attempt >> attempts; test -f fixed || exit 7; touch deployed
          fix:
            id: D2
            pre: needs_fix
            effects: {needs_fix: false}
            cost: 5
            run: touch fixed
        goal: [deployed]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "attempts").read_text().count("attempt") == 2
    assert "replanning (1)" in result.stderr
    assert "1 replans" in result.stderr

    events = h.events(tmp_path)
    ends = [e for e in events if e["event"] == "step_end"]
    assert [(e["step"], e["status"], e["exit_code"]) for e in ends] == [
        ("D1: deploy", "failed", 7),
        ("D2: fix", "ok", 0),
        ("D1: deploy", "ok", 0),
    ]
    assert ends[0]["message"] == "exit code 7"
    replans = [e for e in events if e["event"] == "replan"]
    assert len(replans) == 1 and "D1: deploy failed" in replans[0]["reason"]
    plans = [e["steps"] for e in events if e["event"] == "plan"]
    assert plans == [["D1: deploy"], ["D2: fix", "D1: deploy"]]
    assert events[-1]["event"] == "run_end" and events[-1]["status"] == "reached"
    assert h.state(tmp_path)["state"] == {"deployed": True, "needs_fix": False}


def test_effect_that_did_not_happen_fails_the_step(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        policy: {max_replans: 2}
        state:
          made: {type: bool, sense: test -f made}
        actions:
          make: {id: M1, effects: {made: true}, run: echo pretending >> tries}
        goal: [made]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "goal NOT reached" in result.stderr
    assert "effect did not happen" in result.stderr
    # Nothing changed after the failure, so planning again would choose the
    # same step: it is left out, and without it there is no plan.
    assert "left out, because they failed here without changing anything: make" in (
        result.stderr
    )
    assert (tmp_path / "tries").read_text().count("pretending") == 1

    events = h.events(tmp_path)
    ends = [e for e in events if e["event"] == "step_end"]
    assert len(ends) == 1
    assert ends[0]["status"] == "failed" and ends[0]["exit_code"] == 0
    assert ends[0]["message"].startswith("effect did not happen: made expected True")
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "failed"
    assert events[-1]["reason"].startswith("no plan")
    state = h.state(tmp_path)
    assert state["status"] == "failed" and state["state"] == {"made": False}


def test_replans_are_bounded_by_max_replans(tmp_path: Path, h) -> None:
    # Each failure changes the world (a counter), so the same step is tried
    # again, until max_replans is spent.
    goal = h.goal(
        tmp_path,
        """
        version: 1
        policy: {max_replans: 2}
        state:
          made: {type: bool, sense: test -f made}
          tries: {type: int, max: 10}
        actions:
          make:
            id: M1
            effects: {made: true}
            on_failure: {tries: tries + 1}
            run: echo pretending >> tries
        goal: [made]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "gave up after 2 replans" in result.stderr
    assert (tmp_path / "tries").read_text().count("pretending") == 3
    events = h.events(tmp_path)
    assert [e["number"] for e in events if e["event"] == "replan"] == [1, 2]
    assert events[-1]["replans"] == 2


def test_no_plan_ends_the_run_with_exit_3(tmp_path: Path, h) -> None:
    # Nothing ran, so the answer is plan's: exit 3 (1 is for a failed step).
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          ready: bool
          blocked: {type: bool, sense: "true"}
        actions:
          prepare: {id: P1, pre: not blocked, effects: {ready: true}, run: "true"}
        goal: [ready]
        """,
    )
    result = h.cli("run", goal)
    assert result.returncode == 3, result.stderr
    assert "no plan" in result.stderr and "goal NOT reached" in result.stderr
    events = h.events(tmp_path)
    assert "no_plan" in h.kinds(events)
    assert events[-1]["event"] == "run_end" and events[-1]["status"] == "failed"


def test_timeout_kills_the_whole_process_group(tmp_path: Path, h, reaper) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          done: bool
        actions:
          slow:
            id: T1
            effects: {done: true}
            timeout: 1s
            run: >-
              sh -c 'sleep 30 & echo $! >> kids; sleep 31 & echo $! >> kids; wait'
              & echo $! >> kids; wait
        policy: {max_replans: 0}
        goal: [done]
        """,
    )
    began = time.monotonic()
    result = h.run("run", goal, cwd=tmp_path)
    took = time.monotonic() - began
    kids = h.pids(tmp_path / "kids")
    reaper.extend(kids)
    assert result.returncode == 1, result.stderr
    assert len(kids) == 3
    assert took < 6, took
    events = h.events(tmp_path)
    end = next(e for e in events if e["event"] == "step_end")
    assert end["status"] == "failed"
    assert "timed out after 1 s" in end["message"]
    assert 0.9 <= end["seconds"] <= 3.0
    for pid in kids:
        h.wait_for(lambda pid=pid: not h.alive(pid), 3, f"pid {pid} to die")
