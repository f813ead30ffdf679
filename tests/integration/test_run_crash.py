"""``kill -9`` at random moments: files stay readable, ``--resume`` finishes."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from goap_engine.executor.workspace import goal_workspace

STEPS = 30
KILLS = 15


def _goal() -> str:
    lines = ["version: 1", "state:"]
    lines += [f"  s{i:02d}: bool" for i in range(1, STEPS + 1)]
    lines.append("actions:")
    for i in range(1, STEPS + 1):
        pre = f"pre: s{i - 1:02d}, " if i > 1 else ""
        lines.append(
            f"  step{i:02d}: {{id: K{i:02d}, {pre}effects: {{s{i:02d}: true}}, "
            f"run: sleep 0.05; echo {i} >> done}}"
        )
    lines.append(f"goal: [s{STEPS:02d}]")
    return "\n".join(lines) + "\n"


def _check_files(folder: Path) -> dict[str, bool]:
    """Assert what a crash may leave: parseable state, valid complete lines."""
    files = goal_workspace(folder, folder / "goal.yaml")
    journal = (files / "journal.jsonl").read_bytes()
    lines = journal.split(b"\n")
    # Every line that ends with a newline is a whole event; only the last
    # (unterminated) piece may have been cut short by the kill.
    for line in lines[:-1]:
        if line:
            assert isinstance(json.loads(line), dict), line
    path = files / "state.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    state: dict[str, bool] = data["state"]
    # Progress is a prefix of the chain: no step is recorded before its
    # precondition.
    done = [state[f"s{i:02d}"] for i in range(1, STEPS + 1)]
    assert done == sorted(done, reverse=True), done
    return state


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(tmp_path: Path, h, engines) -> None:
    seed = int(os.environ.get("GOAP_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    print(f"GOAP_CRASH_SEED={seed}")
    goal = h.goal(tmp_path, _goal())

    # The first run is killed in the middle of a step ...
    proc = h.start("run", goal, cwd=tmp_path)
    engines.append(proc)
    h.wait_for(
        lambda: "step_start" in h.kinds(_complete_events(tmp_path)),
        message="a step to start",
    )
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    _check_files(tmp_path)
    # ... and a plain run then refuses to guess: resume or start over?
    refused = h.run("run", goal, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "--resume" in refused.stderr and "--fresh" in refused.stderr

    finished_early = 0
    for _ in range(KILLS - 1):
        proc = h.start("run", "--resume", goal, cwd=tmp_path)
        engines.append(proc)
        time.sleep(rng.uniform(0.05, 1.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        else:
            finished_early += 1
        proc.communicate(timeout=10)
        _check_files(tmp_path)

    final = h.run("run", "--resume", goal, cwd=tmp_path, timeout=120)
    assert final.returncode == 0, final.stderr
    state = _check_files(tmp_path)
    assert all(state.values()) and len(state) == STEPS
    events = h.events(tmp_path)
    assert events[-1]["event"] == "run_end" and events[-1]["status"] == "reached"
    done = {int(n) for n in (tmp_path / "done").read_text().split()}
    assert done == set(range(1, STEPS + 1))
    assert finished_early < KILLS - 1, "no kill hit a running engine"


def _complete_events(folder: Path) -> list[dict[str, object]]:
    path = goal_workspace(folder, folder / "goal.yaml") / "journal.jsonl"
    if not path.exists():
        return []
    return [
        json.loads(line)
        for line in path.read_text().splitlines(keepends=True)
        if line.endswith("\n")
    ]
