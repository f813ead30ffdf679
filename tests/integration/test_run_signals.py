"""Interrupts and the workspace lock, with the engine as a real process."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from goap_engine.executor.workspace import lock_path
from goap_engine.loader import load

SLOW_GOAL = """
version: 1
state:
  first: bool
  second: bool
actions:
  one: {id: I1, effects: {first: true}, run: echo one}
  two:
    id: I2
    pre: first
    effects: {second: true}
    run: test -f quick || { sleep 30 & echo $! > sleeper; echo $$ >> sleeper; wait; }
goal: [first, second]
"""


def _started(h, folder: Path, step: str) -> bool:
    return any(
        e["event"] == "step_start" and e["step"] == step for e in h.events(folder)
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_cleanly(
    tmp_path: Path, h, engines, reaper, signum: signal.Signals
) -> None:
    goal = h.goal(tmp_path, SLOW_GOAL)
    proc = h.start("run", goal, cwd=tmp_path)
    engines.append(proc)
    h.wait_for(lambda: _started(h, tmp_path, "I2: two"), message="step I2")
    sleeper = tmp_path / "sleeper"
    h.wait_for(lambda: len(h.pids(sleeper)) == 2, message="the sleeper's pid")
    pids = h.pids(sleeper)
    reaper.extend(pids)

    began = time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - began < 5
    assert "interrupted" in err
    assert "Traceback" not in err

    events = h.events(tmp_path)
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "interrupted"
    end = [e for e in events if e["event"] == "step_end"][-1]
    assert end["step"] == "I2: two" and end["status"] == "interrupted"
    state = h.state(tmp_path)
    assert state["status"] == "interrupted"
    assert state["state"] == {"first": True, "second": False}
    for pid in pids:
        h.wait_for(lambda pid=pid: not h.alive(pid), 3, f"pid {pid} to die")

    # The lock is free again: a plain run refuses (the last run did not
    # finish), a resumed one goes on from the stored state.
    again = h.run("run", goal, cwd=tmp_path)
    assert again.returncode == 2 and "--resume" in again.stderr
    (tmp_path / "quick").touch()
    resumed = h.run("run", "--resume", goal, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    events = h.events(tmp_path)
    runs = [e for e in events if e["event"] == "run_start"]
    assert runs[-1]["resume_of"] == events[0]["run"]
    last_plan = [e for e in events if e["event"] == "plan"][-1]
    assert last_plan["steps"] == ["I2: two"]


def test_second_run_is_refused_while_the_first_runs(tmp_path: Path, h, engines) -> None:
    goal = h.goal(tmp_path, SLOW_GOAL)
    first = h.start("run", goal, cwd=tmp_path)
    engines.append(first)
    h.wait_for(lambda: _started(h, tmp_path, "I2: two"), message="step I2")

    began = time.monotonic()
    second = h.run("run", goal, cwd=tmp_path, timeout=60)
    assert time.monotonic() - began < 5
    assert second.returncode == 4, second.stderr
    lock = lock_path(load(goal))
    assert str(lock) in second.stderr
    assert f"pid {first.pid}" in second.stderr
    assert f"goal {goal}" in second.stderr
    # Every state command that writes also takes the lock.
    assert h.cli("state", "reset", goal).returncode == 4
    assert h.cli("state", "set", goal, "first=false").returncode == 4
    assert first.poll() is None
    # The refused run wrote nothing to the journal.
    assert sum(e["event"] == "run_start" for e in h.events(tmp_path)) == 1
    assert json.loads(lock.read_text())["pid"] == first.pid

    first.send_signal(signal.SIGINT)
    first.communicate(timeout=60)
    assert first.returncode == 130


def test_interrupt_with_parallel_jobs_kills_every_hook(
    tmp_path: Path, h, engines, reaper
) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {left: bool, right: bool}
        actions:
          go_left:
            id: L1
            effects: {left: true}
            retries: 3
            run: echo $$ >> pids; sleep 30 & echo $! >> pids; wait
          go_right:
            id: L2
            effects: {right: true}
            retries: 3
            run: trap '' TERM; echo $$ >> pids; sleep 30 & echo $! >> pids; wait
        goal: [left, right]
        """,
    )
    proc = h.start("run", "--jobs", "2", goal, cwd=tmp_path)
    engines.append(proc)
    pids_file = tmp_path / "pids"
    h.wait_for(lambda: len(h.pids(pids_file)) == 4, message="both hooks")
    reaper.extend(h.pids(pids_file))

    began = time.monotonic()
    # An impatient user: L2 ignores SIGTERM, so the engine waits for it
    # before SIGKILL, and the second Ctrl-C lands in that wait.
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - began < 5
    assert "Traceback" not in err
    for pid in h.pids(pids_file):
        h.wait_for(lambda pid=pid: not h.alive(pid), 3, f"pid {pid} to die")
    # Killed hooks are not retried.
    time.sleep(0.3)
    assert len(h.pids(pids_file)) == 4
    events = h.events(tmp_path)
    assert "retry" not in h.kinds(events)
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "interrupted"
    assert h.state(tmp_path)["state"] == {"left": False, "right": False}


def test_interrupt_during_a_wait_in_a_worker_thread(tmp_path: Path, h, engines) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          ready: {type: bool, sense: test -f ready}
        actions:
          await_ready:
            id: W1
            effects: {ready: true}
            wait: {until: ready, interval: 10s, timeout: 60s}
        goal: [ready]
        """,
    )
    proc = h.start("run", "--jobs", "2", goal, cwd=tmp_path)
    engines.append(proc)
    h.wait_for(lambda: _started(h, tmp_path, "W1: await_ready"), message="the wait")
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - began < 3  # not after the 10 s poll interval
    events = h.events(tmp_path)
    assert events[-1]["event"] == "run_end"
    assert events[-1]["status"] == "interrupted"
