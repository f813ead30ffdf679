"""``state show|set|reset``, ``history`` and ``unlock`` on what runs left behind."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from goap_engine.executor.workspace import lock_path
from goap_engine.loader import load

GOAL = """
version: 1
state:
  built: bool
  tested: bool
  count: {type: int, default: 0, min: 0, max: 9}
  label: {type: str, default: none}
actions:
  build: {id: H1, effects: {built: true, count: count + 1}, run: echo build}
  test:
    id: H2
    pre: built
    effects: {tested: true}
    run: test -f pass || { test -f hang && sleep 30; exit 1; }
policy: {max_replans: 0}
goal: [tested]
"""


def test_state_show_set_and_reset(tmp_path: Path, h) -> None:
    goal = h.goal(tmp_path, GOAL)
    shown = h.cli("state", "show", goal)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split("\n")[:4] == [
        "built   false  (default)",
        "tested  false  (default)",
        "count   0  (default)",
        'label   "none"  (default)',
    ]

    (tmp_path / "pass").touch()
    assert h.cli("run", goal).returncode == 0
    shown = h.cli("state", "show", "--format", "json", goal)
    data = json.loads(shown.stdout)
    assert data["state"] == {
        "built": True,
        "tested": True,
        "count": 1,
        "label": "none",
    }
    run_id = h.events(tmp_path)[-1]["run"]
    assert data["origins"]["built"] == {
        "kind": "remembered",
        "action": "H1: build",
        "run": run_id,
        "at": data["origins"]["built"]["at"],
    }
    assert data["origins"]["label"] == {"kind": "default"}
    assert data["expired"] == {}

    changed = h.run(
        "state", "set", goal, "tested=false", "count=3", "label=x y", cwd=tmp_path
    )
    assert changed.returncode == 0, changed.stderr
    stored = h.state(tmp_path)
    assert stored["status"] == "edited"
    assert stored["state"] == {
        "built": True,
        "tested": False,
        "count": 3,
        "label": "x y",
    }
    assert h.events(tmp_path)[-1]["event"] == "state_set"
    assert h.events(tmp_path)[-1]["values"] == {
        "tested": False,
        "count": 3,
        "label": "x y",
    }

    before = (h.files(tmp_path) / "state.json").read_text()
    for bad, why in (
        ("count=abc", "count"),
        ("count=99", "count"),
        ("tested=maybe", "tested"),
        ("nope=1", "unknown state variable 'nope'"),
        ("built", "expected NAME=VALUE"),
    ):
        refused = h.cli("state", "set", goal, bad)
        assert refused.returncode == 2, (bad, refused.stderr)
        assert why in refused.stderr
        assert "Traceback" not in refused.stderr
    assert (h.files(tmp_path) / "state.json").read_text() == before

    # A run picks the edited state up: only the test step runs again.
    again = h.cli("run", goal)
    assert again.returncode == 0, again.stderr
    plan = [e for e in h.events(tmp_path) if e["event"] == "plan"][-1]
    assert plan["steps"] == ["H2: test"]

    reset = h.cli("state", "reset", goal)
    assert reset.returncode == 0, reset.stderr
    assert h.state(tmp_path)["state"] == {
        "built": False,
        "tested": False,
        "count": 0,
        "label": "none",
    }
    assert h.events(tmp_path)[-1]["event"] == "state_reset"


def test_history_lists_runs_with_their_status(tmp_path: Path, h, engines) -> None:
    goal = h.goal(tmp_path, GOAL)
    assert h.cli("history", goal).stdout == ""
    assert h.cli("run", goal).returncode == 1  # H2 fails
    (tmp_path / "pass").touch()
    assert h.cli("run", goal).returncode == 0
    h.cli("state", "reset", goal)
    (tmp_path / "pass").unlink()
    (tmp_path / "hang").touch()
    proc = h.start("run", goal, cwd=tmp_path)
    engines.append(proc)
    h.wait_for(
        # runs 1 and 2 started 3 steps; the third run's second is the test
        lambda: sum(e["event"] == "step_start" for e in h.events(tmp_path)) >= 5,
        message="the third run's test step",
    )
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130

    listed = h.cli("history", goal)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 3
    assert [line.split()[2] for line in lines] == ["failed", "reached", "interrupted"]
    assert "1 ok, 1 failed, 0 replans" in lines[0]
    assert "1 ok, 0 failed, 0 replans" in lines[1]
    data = json.loads(h.cli("history", "--format", "json", goal).stdout)
    assert [r["status"] for r in data] == ["failed", "reached", "interrupted"]
    assert [r["run"] for r in data] == [line.split()[0] for line in lines]


def _lock_file(goal: Path) -> Path:
    return lock_path(load(goal))


def test_unlock_force(tmp_path: Path, h) -> None:
    goal = h.goal(tmp_path, GOAL)
    (tmp_path / "pass").touch()
    assert h.cli("run", goal).returncode == 0
    lock = _lock_file(goal)
    assert lock.parent == tmp_path / ".goap" / "locks"
    assert lock.exists()  # released (flock), but the file stays

    without = h.cli("unlock", goal)
    assert without.returncode == 2 and "--force" in without.stderr
    assert lock.exists()
    removed = h.cli("unlock", "--force", goal)
    assert removed.returncode == 0
    assert f"removed {lock}, left by a run that is gone" in removed.stderr
    assert not lock.exists()
    again = h.cli("unlock", "--force", goal)
    assert again.returncode == 0 and "no lock at" in again.stderr
    # Runs still work without the file.
    assert h.cli("run", goal).returncode == 0
