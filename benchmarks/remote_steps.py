"""Measure heavy steps on Ray against local threads, and the cost of a remote step.

Eight independent 2-second steps run with ``--jobs 8``: first as local
commands (threads of the engine), then with ``runs_on: ray`` on a one-node
cluster this script starts on 127.0.0.1 (8 CPUs, each step reserving one).
Then 0-second remote steps give the engine's overhead: one step alone (an
engine process that connects to the cluster, creates the actor, polls,
fetches an output, releases), and eight in a row in one run (the connection
made once), each against the same goal run locally.

    python benchmarks/remote_steps.py   (needs: pip install 'goap-engine[ray]')
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import revision

STEPS = 8
SECONDS = 2
RAY = Path(sys.executable).parent / "ray"


def write_goal(folder: Path, steps: int, seconds: float, runs_on: str) -> Path:
    lines = ["version: 1", "state:"]
    lines += [f"  s{i}: bool" for i in range(steps)]
    lines.append("actions:")
    for i in range(steps):
        lines.append(f"  a{i}:")
        lines.append(f"    effects: {{s{i}: true}}")
        lines.append(f'    run: "sleep {seconds}; echo {i} > out{i}.txt"')
        if runs_on:
            lines.append(f"    runs_on: {runs_on}")
            lines.append(f"    outputs: [out{i}.txt]")
    lines.append("goal: [" + ", ".join(f"s{i}" for i in range(steps)) + "]")
    path = folder / "goal.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def timed_run(goal: Path, env: dict[str, str], jobs: int) -> float:
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "goap_engine", "run", str(goal), "--jobs", str(jobs)],
        cwd=goal.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return seconds


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="goap-ray-")
    head = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={port}", f"--num-cpus={STEPS}", "--include-dashboard=false",
         "--disable-usage-stats", f"--temp-dir={folder}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},
    )  # fmt: skip
    env = {
        **os.environ,
        "RAY_ADDRESS": f"127.0.0.1:{port}",
        "NO_COLOR": "1",
        # As on a fresh machine, whatever ~/.ray/auth_token says.
        "RAY_AUTH_MODE": "disabled",
    }
    try:
        time.sleep(5)
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            results: dict[str, object] = {
                "revision": revision(),
                "cpus": os.cpu_count(),
            }
            for name, runs_on in (("local", ""), ("ray", "{ray: {address: auto}}")):
                (base / name).mkdir()
                goal = write_goal(base / name, STEPS, SECONDS, runs_on)
                results[f"{name}_{STEPS}x{SECONDS}s_jobs{STEPS}_s"] = round(
                    timed_run(goal, env, STEPS), 2
                )
            single = []
            for i in range(4):
                (base / f"one{i}").mkdir()
                goal = write_goal(base / f"one{i}", 1, 0, "{ray: {address: auto}}")
                local = base / f"local{i}"
                local.mkdir()
                alone = timed_run(goal, env, 1)
                baseline = timed_run(write_goal(local, 1, 0, ""), env, 1)
                single.append(round(alone - baseline, 2))
            results["one_remote_step_run_minus_local_s"] = single
            (base / "seq_ray").mkdir()
            (base / "seq_local").mkdir()
            ray_seq = timed_run(
                write_goal(base / "seq_ray", STEPS, 0, "{ray: {address: auto}}"), env, 1
            )
            local_seq = timed_run(write_goal(base / "seq_local", STEPS, 0, ""), env, 1)
            results[f"{STEPS}_remote_steps_in_a_row_minus_local_s"] = round(
                ray_seq - local_seq, 2
            )
        print(json.dumps(results, indent=2))
        out = Path(__file__).parent / "results" / "remote_steps.json"
        out.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
