"""Every hook is bounded: timeouts, Ctrl-C and step ends stop python and
built-in hooks and whatever a hook detached, as they stop shell commands."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SLEEPY = """
import os, subprocess, time


def nap(ctx):
    with open("hook.pid", "w") as handle:
        handle.write(str(os.getpid()))
    print("napping", flush=True)
    time.sleep(float(ctx.args.get("seconds", 60)))
    return True


def spawn(ctx):
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    with open("pids", "a") as handle:
        handle.write(f"{child.pid}\\n")
    return True
"""


class SilentServer:
    """A port that accepts connections and never answers (a hung service)."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.port = int(self.socket.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.accepted.append(self.socket.accept()[0])

    def close(self) -> None:
        self.socket.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def silent_server(silent: SilentServer) -> int:
    return silent.port


def _workers(folder: Path) -> list[int]:
    """Pids of hook worker processes still running for an engine in ``folder``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            where = Path(os.readlink(f"/proc/{entry}/cwd"))
            if b"goap_engine.executor.worker" in cmd and where == folder:
                found.append(int(entry))
    return found


def test_python_hook_is_stopped_by_its_timeout(tmp_path: Path, h, reaper) -> None:
    (tmp_path / "sleepy.py").write_text(SLEEPY)
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {rested: bool}
        actions:
          rest: {id: S1, effects: {rested: true}, run: {python: "sleepy:nap"},
                 timeout: 2s}
        policy: {max_replans: 0}
        goal: [rested]
        """,
    )
    began = time.monotonic()
    result = h.run("run", goal, cwd=tmp_path, env=h.env(PYTHONPATH=str(tmp_path)))
    took = time.monotonic() - began
    assert result.returncode == 1, result.stderr
    assert took < 15
    assert "timed out after 2 s" in result.stderr
    pid = int((tmp_path / "hook.pid").read_text())
    reaper.append(pid)
    assert not h.alive(pid)
    assert _workers(tmp_path) == []
    end = [e for e in h.events(tmp_path) if e["event"] == "step_end"][-1]
    assert end["status"] == "failed" and 1.9 <= end["seconds"] < 6
    assert end["tail"] == "napping"


def test_policy_hook_timeout_bounds_hooks_without_their_own(
    tmp_path: Path, h, reaper
) -> None:
    (tmp_path / "sleepy.py").write_text(SLEEPY)
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {rested: bool}
        actions:
          rest: {id: S1, effects: {rested: true}, run: {python: "sleepy:nap"}}
        policy: {max_replans: 0, hook_timeout: 1s}
        goal: [rested]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path, env=h.env(PYTHONPATH=str(tmp_path)))
    assert result.returncode == 1, result.stderr
    assert "timed out after 1 s" in result.stderr
    reaper.append(int((tmp_path / "hook.pid").read_text()))


def test_built_in_hook_against_a_silent_server_is_stopped(
    tmp_path: Path, h, silent_server: int
) -> None:
    goal = h.goal(
        tmp_path,
        f"""
        version: 1
        state: {{checked: bool}}
        actions:
          check:
            id: B1
            effects: {{checked: true}}
            timeout: 3s
            run:
              builtin: hf.repo_exists
              with: {{repo_id: org/model, endpoint: "http://127.0.0.1:{silent_server}"}}
        policy: {{max_replans: 0}}
        goal: [checked]
        """,
    )
    began = time.monotonic()
    result = h.run("run", goal, cwd=tmp_path, env=h.env(HF_HUB_OFFLINE="0"))
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - began < 20
    assert "timed out after 3 s" in result.stderr
    assert _workers(tmp_path) == []


def test_one_ctrl_c_stops_parallel_steps_while_a_built_in_hangs(
    tmp_path: Path, h, engines, silent: SilentServer
) -> None:
    silent_server = silent.port
    goal = h.goal(
        tmp_path,
        f"""
        version: 1
        state: {{checked: bool, slept: bool}}
        actions:
          check:
            id: B1
            effects: {{checked: true}}
            run:
              builtin: hf.repo_exists
              with: {{repo_id: org/model, endpoint: "http://127.0.0.1:{silent_server}"}}
          nap: {{id: B2, effects: {{slept: true}}, run: "echo $$ > nap.pid; sleep 300"}}
        goal: [checked, slept]
        """,
    )
    proc = h.start("run", "--jobs", "2", goal, cwd=tmp_path)
    engines.append(proc)

    def both_running() -> bool:
        starts = [e for e in h.events(tmp_path) if e["event"] == "step_start"]
        return len(starts) == 2 and (tmp_path / "nap.pid").exists()

    h.wait_for(both_running, message="both steps running")
    h.wait_for(lambda: silent.accepted, message="the built-in's request")
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - began < 8
    nap = int((tmp_path / "nap.pid").read_text())
    assert not h.alive(nap)
    assert _workers(tmp_path) == []
    ends = {
        e["step"]: e["status"] for e in h.events(tmp_path) if e["event"] == "step_end"
    }
    assert ends == {"B1: check": "interrupted", "B2: nap": "interrupted"}
    assert h.events(tmp_path)[-1]["status"] == "interrupted"


def test_processes_a_step_detaches_end_with_it(tmp_path: Path, h, reaper) -> None:
    (tmp_path / "sleepy.py").write_text(SLEEPY)
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {daemon: bool, forked: bool, spawned: bool, after: bool}
        actions:
          daemon:
            id: D1
            effects: {daemon: true}
            run: setsid sleep 300 > /dev/null 2>&1 & echo $! >> pids
          fork:
            id: D2
            pre: daemon
            effects: {forked: true}
            run: ( ( sleep 300 > /dev/null 2>&1 & echo $! >> pids ) & )
          spawn:
            id: D3
            pre: forked
            effects: {spawned: true}
            run: {python: "sleepy:spawn"}
          after:
            id: D4
            pre: spawned
            effects: {after: true}
            run: >-
              for p in $(cat pids); do
              grep -qs "^State:.[^Z]" /proc/$p/status && echo "alive $p"; done; true
        goal: [after]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path, env=h.env(PYTHONPATH=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    pids = h.pids(tmp_path / "pids")
    reaper.extend(pids)
    assert len(pids) == 3
    # Each was gone before the next step started, not only at the run's end.
    assert "| alive" not in result.stderr
    assert not any(h.alive(p) for p in pids)


def test_a_hanging_sensor_is_stopped_by_its_timeout(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          ready: {type: bool, sense: sleep 30}
        actions:
          prepare: {id: P1, effects: {ready: true}, run: "true"}
        policy: {sensor_timeout: 1s}
        goal: [ready]
        """,
    )
    began = time.monotonic()
    result = h.run("run", goal, cwd=tmp_path)
    assert time.monotonic() - began < 10
    assert result.returncode == 2, result.stderr
    assert "timed out after 1 s" in result.stderr
    assert "goal.yaml:3:" in result.stderr  # where the sensor is
    assert "step_start" not in h.kinds(h.events(tmp_path))


def test_a_sensor_printing_without_end_is_stopped_at_its_output_limit(
    tmp_path: Path, h
) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          name: {type: str, sense: "yes | head -c 300000000"}
          done: bool
        actions:
          use: {id: U1, effects: {done: true}, run: "echo {{ name|length }}"}
        goal: [done]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path, timeout=30)
    assert result.returncode == 1, result.stderr
    assert "sensor printed more than 1024 KiB" in result.stderr
    assert "reads unknown values (name:" in result.stdout + result.stderr
    assert "step_start" not in h.kinds(h.events(tmp_path))


def test_a_long_sensed_value_is_read_whole(tmp_path: Path, h) -> None:
    # 100 KiB on one line: longer than a log line and than a log's tail.
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          blob: {type: str, sense: "head -c 102400 /dev/zero | tr '\\\\0' x"}
          done: bool
        actions:
          use: {id: U1, effects: {done: true}, run: "echo {{ blob|length }}"}
        goal: [done]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "| 102400" in result.stderr


def test_a_run_through_the_api_leaves_the_callers_children_alone(
    tmp_path: Path, h
) -> None:
    import subprocess

    from goap_engine.executor.runner import Runner, RunOptions
    from goap_engine.loader import load

    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {done: bool}
        actions:
          step: {id: A1, effects: {done: true}, run: "true"}
        goal: [done]
        """,
    )
    mine = subprocess.Popen(["sleep", "30"])
    try:
        result = Runner(load(goal), RunOptions()).run()
        assert result.reached
        assert mine.poll() is None  # still running, and not reaped behind its back
    finally:
        mine.kill()
        assert mine.wait(timeout=10) == -signal.SIGKILL
