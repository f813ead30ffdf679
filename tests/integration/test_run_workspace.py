"""A workspace per goal: own journal and history, a lock per state file."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from goap_engine.executor.workspace import lock_path
from goap_engine.loader import load

# Each goal's one step announces itself, then waits (bounded) for a file.
GOAL = """
version: 1
{state_file}
state: {{done_{name}: bool}}
actions:
  work_{name}:
    id: W_{name}
    effects: {{done_{name}: true}}
    run: >-
      echo $$ >> pids; touch {name}.started;
      for i in $(seq 300); do test -f {wait_for} && exit 0; sleep 0.05; done;
      exit 1
goal: [done_{name}]
"""


def _goal(h, folder: Path, name: str, wait_for: str, state_file: str = "") -> Path:
    text = GOAL.format(
        name=name,
        wait_for=wait_for,
        state_file=f"state_file: {state_file}" if state_file else "",
    )
    return h.goal(folder, text, name=f"goals.d/{name}.yaml")


def _started(folder: Path, name: str) -> bool:
    return (folder / f"{name}.started").exists()


def test_two_goals_of_one_folder_run_at_the_same_time(
    tmp_path: Path, h, engines, reaper
) -> None:
    # Each hook waits for the other to have started: both finish only if
    # the two runs overlap.
    ci = _goal(h, tmp_path, "ci", wait_for="release.started")
    release = _goal(h, tmp_path, "release", wait_for="ci.started")
    first = h.start("run", ci, cwd=tmp_path)
    second = h.start("run", release, cwd=tmp_path)
    engines.extend([first, second])
    for proc in (first, second):
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    reaper.extend(h.pids(tmp_path / "pids"))

    ci_files = h.files(tmp_path, "goals.d/ci.yaml")
    release_files = h.files(tmp_path, "goals.d/release.yaml")
    assert ci_files == tmp_path / ".goap" / "goals.d" / "ci"
    assert release_files == tmp_path / ".goap" / "goals.d" / "release"
    assert h.state(tmp_path, "goals.d/ci.yaml")["state"] == {"done_ci": True}
    assert h.state(tmp_path, "goals.d/release.yaml")["state"] == {"done_release": True}
    assert not (tmp_path / ".goap" / "journal.jsonl").exists()

    # History belongs to the goal: a second run of ci shows under ci only.
    assert h.run("run", "--fresh", ci, cwd=tmp_path).returncode == 0
    ci_runs = json.loads(h.cli("history", "--format", "json", ci).stdout)
    release_runs = json.loads(h.cli("history", "--format", "json", release).stdout)
    assert [r["status"] for r in ci_runs] == ["reached", "reached"]
    assert [r["status"] for r in release_runs] == ["reached"]
    ci_ids = {e["run"] for e in h.events(tmp_path, "goals.d/ci.yaml")}
    assert {r["run"] for r in ci_runs} == ci_ids
    assert not ci_ids & {r["run"] for r in release_runs}


def test_goals_sharing_a_state_file_take_turns(
    tmp_path: Path, h, engines, reaper
) -> None:
    shared = "plans/state.json"
    ci = _goal(h, tmp_path, "ci", wait_for="go", state_file=shared)
    release = _goal(h, tmp_path, "release", wait_for="go", state_file=shared)
    # Both goals must be able to read what the other stores.
    for path in (ci, release):
        path.write_text(
            path.read_text()
            .replace(
                "state: {done_ci: bool}", "state: {done_ci: bool, done_release: bool}"
            )
            .replace(
                "state: {done_release: bool}",
                "state: {done_ci: bool, done_release: bool}",
            )
        )
    first = h.start("run", ci, cwd=tmp_path)
    engines.append(first)
    h.wait_for(lambda: _started(tmp_path, "ci"), message="the ci step")
    reaper.extend(h.pids(tmp_path / "pids"))

    refused = h.run("run", release, cwd=tmp_path, timeout=30)
    assert refused.returncode == 4, refused.stderr
    assert f"pid {first.pid}" in refused.stderr
    assert f"goal {ci}" in refused.stderr
    assert str(lock_path(load(release))) in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not _started(tmp_path, "release")
    assert h.events(tmp_path, "goals.d/release.yaml") == []
    assert lock_path(load(ci)) == lock_path(load(release))

    (tmp_path / "go").touch()
    _, err = first.communicate(timeout=30)
    assert first.returncode == 0, err
    # The lock lives in .goap/locks/, not beside the user's state file.
    assert sorted(p.name for p in (tmp_path / "plans").iterdir()) == ["state.json"]
    assert h.run("run", release, cwd=tmp_path).returncode == 0
    stored = json.loads((tmp_path / shared).read_text())["state"]
    assert stored == {"done_ci": True, "done_release": True}


def test_unlock_force_is_refused_while_the_run_lives(
    tmp_path: Path, h, engines, reaper
) -> None:
    goal = _goal(h, tmp_path, "ci", wait_for="go")
    proc = h.start("run", goal, cwd=tmp_path)
    engines.append(proc)
    h.wait_for(lambda: _started(tmp_path, "ci"), message="the ci step")
    reaper.extend(h.pids(tmp_path / "pids"))
    lock = lock_path(load(goal))

    refused = h.cli("unlock", "--force", goal)
    assert refused.returncode == 4, refused.stderr
    assert f"pid {proc.pid}" in refused.stderr
    assert f"goal {goal}" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert lock.exists()
    assert json.loads(lock.read_text())["pid"] == proc.pid
    # Nor does a second run of the same goal start beside it.
    assert h.run("run", goal, cwd=tmp_path, timeout=30).returncode == 4

    (tmp_path / "go").touch()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    events = h.events(tmp_path, "goals.d/ci.yaml")
    assert [e["event"] for e in events].count("run_start") == 1
    assert events[-1]["event"] == "run_end" and events[-1]["status"] == "reached"


def test_unlock_force_clears_the_lock_of_a_killed_run(
    tmp_path: Path, h, engines, reaper
) -> None:
    goal = _goal(h, tmp_path, "ci", wait_for="go")
    proc = h.start("run", goal, cwd=tmp_path)
    engines.append(proc)
    h.wait_for(lambda: _started(tmp_path, "ci"), message="the ci step")
    reaper.extend(h.pids(tmp_path / "pids"))
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    lock = lock_path(load(goal))
    assert lock.exists()

    cleared = h.cli("unlock", "--force", goal)
    assert cleared.returncode == 0, cleared.stderr
    assert f"removed {lock}, left by a run that is gone" in cleared.stderr
    assert f"pid {proc.pid}" in cleared.stderr
    assert not lock.exists()

    (tmp_path / "go").touch()
    resumed = h.run("run", "--resume", goal, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    starts = [
        e for e in h.events(tmp_path, "goals.d/ci.yaml") if e["event"] == "run_start"
    ]
    assert len(starts) == 2 and starts[1]["resume_of"] == starts[0]["run"]


def test_old_shared_state_moves_to_the_goal_that_wrote_it(tmp_path: Path, h) -> None:
    ci = _goal(h, tmp_path, "ci", wait_for="go")
    release = _goal(h, tmp_path, "release", wait_for="go")
    old = tmp_path / ".goap" / "state.json"
    old.parent.mkdir()
    old.write_text(
        json.dumps(
            {"version": 1, "goal": str(release), "state": {"done_release": True}}
        )
    )
    old_journal = tmp_path / ".goap" / "journal.jsonl"
    old_journal.write_text('{"event": "run_start", "run": "old"}\n')

    # Another goal of the folder neither takes nor reads it.
    shown = h.cli("state", "show", "--format", "json", ci)
    assert json.loads(shown.stdout)["state"] == {"done_ci": False}
    assert old.exists() and "moved" not in shown.stderr

    moved = h.run("run", release, cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    new = h.files(tmp_path, "goals.d/release.yaml") / "state.json"
    assert f"from the shared {old} to {new}" in moved.stderr
    assert not old.exists()
    assert h.state(tmp_path, "goals.d/release.yaml")["state"] == {"done_release": True}
    # The stored state was used: nothing left to do.
    assert not _started(tmp_path, "release")
    assert old_journal.read_text() == '{"event": "run_start", "run": "old"}\n'

    again = h.run("run", release, cwd=tmp_path)
    assert again.returncode == 0 and "moved" not in again.stderr


def test_state_show_adopts_the_old_shared_state(tmp_path: Path, h) -> None:
    goal = _goal(h, tmp_path, "release", wait_for="go")
    old = tmp_path / ".goap" / "state.json"
    old.parent.mkdir()
    old.write_text(
        json.dumps({"version": 1, "goal": str(goal), "state": {"done_release": True}})
    )
    shown = h.cli("state", "show", "--format", "json", goal)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["state"] == {"done_release": True}
    assert "moved this goal's state" in shown.stderr
    assert not old.exists()
