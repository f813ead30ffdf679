"""One start state for plan, explain and run: stored facts, their lifetimes,
the sensors the goal can need, and what a failing sensor stops."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

TRAIN = """
version: 1
state:
  prepared: {{type: bool, remember: {prepared}}}
  trained: bool
  accuracy:
    type: float
    sense: {{shell: "cat acc 2>/dev/null || echo 0", from: stdout}}
actions:
  prepare: {{id: A00, effects: {{prepared: true}}, run: echo prep >> ran}}
  train:
    id: A01
    pre: prepared
    effects: {{trained: true, accuracy: 0.9}}
    sources: [data/**]
    run: echo train >> ran && echo 0.9 > acc
goal: [trained, accuracy > 0.5]
"""


def train_goal(folder: Path, h, prepared: str = "always") -> Path:
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "a.csv").write_text("a\n")
    (folder / "data" / "b.csv").write_text("b\n")
    return h.goal(folder, TRAIN.format(prepared=prepared))


def steps(result) -> list[str]:
    plan = json.loads(result.stdout)
    return [s["action"] for s in plan["steps"]]


def test_saved_plan_runs_from_the_stored_state(tmp_path: Path, h) -> None:
    goal = train_goal(tmp_path, h)
    # A remembered fact stored by hand, and a sensor: both are part of the start.
    assert h.cli("state", "set", goal, "prepared=true").returncode == 0
    made = h.cli("plan", goal, "-o", tmp_path / "plan.json", "--format", "json")
    assert made.returncode == 0, made.stderr
    assert steps(made) == ["train"]
    done = h.run("run", "--plan", tmp_path / "plan.json", goal, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ran").read_text() == "train\n"


def test_plan_after_a_partial_run_lists_only_what_is_left(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {a: bool, b: bool}
        actions:
          first: {effects: {a: true}, run: "true"}
          second: {pre: a, effects: {b: true}, run: test -f ok}
        policy: {max_replans: 0}
        goal: [b]
        """,
    )
    assert h.run("run", goal, cwd=tmp_path).returncode == 1
    planned = h.cli("plan", goal, "--format", "json")
    assert planned.returncode == 0, planned.stderr
    assert steps(planned) == ["second"]


def test_no_sense_runs_no_sensor(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          ready: {type: bool, sense: touch sensed}
        actions:
          make: {effects: {ready: true}}
        goal: [ready]
        """,
    )
    planned = h.cli("plan", "--no-sense", goal, "--format", "json")
    assert planned.returncode == 0, planned.stderr
    assert steps(planned) == ["make"]
    assert not (tmp_path / "sensed").exists()
    # Sensing is the default, and the old flag is still accepted.
    planned = h.cli("plan", "--sense", goal, "--format", "json")
    assert planned.returncode == 0, planned.stderr
    assert steps(planned) == [] and (tmp_path / "sensed").exists()


def test_sources_change_plans_the_action_again(tmp_path: Path, h) -> None:
    goal = train_goal(tmp_path, h)
    done = h.run("run", goal, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    origin = h.state(tmp_path)["origins"]["trained"]
    assert origin["kind"] == "remembered" and origin["action"] == "A01: train"
    assert sorted(origin["sources"]["files"]) == ["data/a.csv", "data/b.csv"]

    def planned() -> list[str]:
        result = h.cli("plan", goal, "--format", "json")
        assert result.returncode == 0, result.stderr
        return steps(result)

    assert planned() == []
    # A touch changes the mtime, not the content: the fact still holds.
    later = time.time() + 5
    os.utime(tmp_path / "data" / "a.csv", (later, later))
    assert planned() == []
    (tmp_path / "data" / "a.csv").write_text("new data\n")
    assert planned() == ["train"]
    shown = h.cli("state", "show", goal)
    assert "data/a.csv changed since A01: train" in shown.stdout
    again = h.run("run", goal, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "ran").read_text() == "prep\ntrain\ntrain\n"
    assert planned() == []
    # A new file matched by the globs counts as a change too.
    (tmp_path / "data" / "c.csv").write_text("c\n")
    assert planned() == ["train"]
    (tmp_path / "data" / "c.csv").unlink()
    assert planned() == []


def test_remember_run_is_forgotten_by_the_next_run(tmp_path: Path, h) -> None:
    goal = train_goal(tmp_path, h, prepared="run")
    assert h.run("run", goal, cwd=tmp_path).returncode == 0
    assert h.state(tmp_path)["state"]["prepared"] is True
    (tmp_path / "data" / "a.csv").write_text("changed\n")
    again = h.run("run", goal, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    # 'prepared' held for the first run only: the second prepared again.
    assert (tmp_path / "ran").read_text() == "prep\ntrain\nprep\ntrain\n"
    forgotten = [e for e in h.events(tmp_path) if e["event"] == "forgotten"]
    assert set(forgotten[-1]["facts"]) == {"prepared", "trained"}


def test_remember_duration_expires(tmp_path: Path, h) -> None:
    goal = train_goal(tmp_path, h, prepared="1h")
    assert h.cli("state", "set", goal, "prepared=true").returncode == 0
    assert "expires" in h.cli("state", "show", goal).stdout
    first = h.cli("plan", goal, "--format", "json")
    assert steps(first) == ["train"]
    # Two hours pass (the stored time is moved back, not the test's clock).
    path = h.files(tmp_path) / "state.json"
    data = json.loads(path.read_text())
    data["origins"]["prepared"]["at"] = "2000-01-01T00:00:00.000Z"
    path.write_text(json.dumps(data))
    later = h.cli("plan", goal, "--format", "json")
    assert steps(later) == ["prepare", "train"]
    assert "forgot prepared: older than 1h" in later.stderr


FAILING = """
version: 1
state:
  token_ok:
    type: int
    sense: {shell: "touch sensed_token; echo no >&2; exit 3", from: stdout}
  extra: {type: int, sense: {shell: "touch sensed_extra; exit 3", from: stdout}}
  done: bool
actions:
  deploy: {pre: token_ok > 0, effects: {done: true}, run: touch deployed}
  unrelated: {effects: {extra: 1}, run: "true"}
goal: [done]
"""


def test_failing_sensor_the_plan_needs_stops_plan_and_run(tmp_path: Path, h) -> None:
    goal = h.goal(tmp_path, FAILING)
    for command in (["plan"], ["explain"], ["run", "--dry-run"], ["run"]):
        result = h.run(*command, goal, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        assert "goal.yaml:5:12: error: state variable 'token_ok': sensor failed" in (
            result.stderr
        ), command
        assert "exit code 3" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "sensed_token").exists()
    assert not (tmp_path / "deployed").exists()
    assert not any(e["event"] == "step_start" for e in h.events(tmp_path))
    # Nobody relevant reads 'extra': its sensor never ran.
    assert not (tmp_path / "sensed_extra").exists()


def test_failing_sensor_nobody_needs_only_warns(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        FAILING.replace("pre: token_ok > 0, ", "").replace(
            "unrelated: {", "unrelated: {pre: token_ok > 0, "
        )
        + "  # 'token_ok' matters only to an action the plan does not use\n",
    )
    # token_ok is read by 'unrelated', which writes nothing relevant: not sensed.
    planned = h.run("plan", goal, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert not (tmp_path / "sensed_token").exists()
    assert not (tmp_path / "sensed_extra").exists()

    needed_elsewhere = h.goal(
        tmp_path,
        """
        version: 1
        state:
          count:
            type: int
            max: 5
            sense: {shell: "touch sensed; exit 3", from: stdout}
          done: bool
        actions:
          bump: {effects: {count: count + 1}, run: "true"}
          finish: {effects: {done: true}, run: touch finished}
          other: {pre: count > 0, effects: {done: true}, cost: 10}
        goal: [done]
        """,
        name="other.yaml",
    )
    result = h.run("run", needed_elsewhere, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "sensed").exists() and (tmp_path / "finished").exists()
    assert "sensor count failed" in result.stderr


def test_state_show_tells_where_values_came_from(tmp_path: Path, h) -> None:
    goal = train_goal(tmp_path, h, prepared="7d")
    assert h.run("run", goal, cwd=tmp_path).returncode == 0
    assert h.cli("state", "set", goal, "trained=true").returncode == 0
    shown = h.cli("state", "show", goal)
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[0]: line for line in shown.stdout.splitlines()}
    assert "remembered since" in lines["prepared"]
    assert "set by A00: prepare" in lines["prepared"]
    assert "expires" in lines["prepared"]
    assert "set with state set" in lines["trained"]
    assert "sensed 20" in lines["accuracy"]
    data = json.loads(h.cli("state", "show", "--format", "json", goal).stdout)
    assert data["origins"]["trained"]["kind"] == "set"
    assert data["origins"]["accuracy"]["kind"] == "sensed"
    assert data["origins"]["prepared"]["kind"] == "remembered"


def test_old_state_file_without_origins_loads(tmp_path: Path, h) -> None:
    goal = train_goal(tmp_path, h, prepared="1s")
    path = h.files(tmp_path) / "state.json"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps({"version": 1, "state": {"prepared": True, "trained": False}})
    )
    shown = h.cli("state", "show", goal)
    assert "(origin not recorded)" in shown.stdout
    planned = h.cli("plan", goal, "--format", "json")
    # Its age is unknown, so the stored fact stays.
    assert planned.returncode == 0 and steps(planned) == ["train"]


def test_a_large_dataset_as_sources_stays_out_of_the_state_file(
    tmp_path: Path, h
) -> None:
    goal = train_goal(tmp_path, h)
    for i in range(400):
        (tmp_path / "data" / f"img{i:04}.csv").write_text(f"{i}\n")
    done = h.run("run", goal, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    state_file = h.files(tmp_path) / "state.json"
    assert state_file.stat().st_size < 4000
    sources = h.state(tmp_path)["origins"]["trained"]["sources"]
    assert "files" not in sources and sources["files_at"].endswith(".json")
    kept = tmp_path / ".goap" / "sources" / sources["files_at"]
    assert len(json.loads(kept.read_text())) == 402

    def planned() -> list[str]:
        return steps(h.cli("plan", "--no-sense", "--format", "json", goal))

    assert planned() == []
    (tmp_path / "data" / "img0007.csv").write_text("changed\n")
    assert planned() == ["train"]
    (tmp_path / "data" / "img0007.csv").write_text("7\n")
    assert planned() == []
    # A fingerprint that cannot be read is not trusted: the fact is forgotten.
    kept.unlink()
    assert planned() == ["train"]
    # A FIFO in its place is not opened (the plan would wait for a writer).
    os.mkfifo(kept)
    assert planned() == ["train"]
    kept.unlink()
    kept.write_text("[" * 100_000 + "]" * 100_000)
    assert planned() == ["train"]
