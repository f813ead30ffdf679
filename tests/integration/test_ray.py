"""Steps with ``runs_on: ray`` on a real Ray cluster the tests start on 127.0.0.1.

One cluster serves the module (``ray start --head --block``, ended with its
process group at the end); every engine finds it through ``RAY_ADDRESS``.
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
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("ray")

RAY = Path(sys.executable).parent / "ray"
# Ray turns token authentication on when ~/.ray/auth_token exists (a cluster
# started by 'ray.init()' on this machine writes it); the test cluster and
# its engines leave it off, as a fresh machine has it.
NO_AUTH = {"RAY_AUTH_MODE": "disabled"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Start a one-node cluster (4 CPUs, no dashboard); yield its address."""
    port = _free_port()
    # Short: Ray puts its sockets under it, and socket paths are limited.
    folder = tempfile.mkdtemp(prefix="goap-ray-")
    head = subprocess.Popen(
        [
            str(RAY),
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=4",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={folder}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **NO_AUTH},
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the Ray head did not start")
            time.sleep(0.1)
        yield address
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(5)
        except subprocess.TimeoutExpired:
            # Ray's own shutdown can take half a minute; the whole group
            # (head, raylet, workers) is this test's to end.
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _env(h: SimpleNamespace, address: str, **extra: str) -> dict[str, str]:
    env: dict[str, str] = h.env(RAY_ADDRESS=address, **NO_AUTH, **extra)
    return env


TRAIN = """\
version: 1
secrets: [TRAIN_TOKEN]
state:
  trained: {type: bool, sense: "test -f model.txt"}
actions:
  train:
    effects: {trained: true}
    run: >-
      echo "rows: $(cat data/rows.csv | wc -l)";
      echo "token: $TRAIN_TOKEN"; echo "mode: $MODE"; echo "leak: $NOT_DECLARED";
      mkdir -p out && cp data/rows.csv out/model.txt && echo trained > model.txt
    env: {MODE: "{{ mode }}"}
    runs_on: {ray: {address: auto, num_cpus: 1}}
    inputs: [data/*.csv]
    outputs: [model.txt, out/*.txt]
vars: {mode: fast}
goal: [trained]
"""


@pytest.mark.slow
def test_a_remote_step_gets_its_inputs_and_brings_its_outputs_back(
    tmp_path: Path, h: SimpleNamespace, cluster: str
) -> None:
    goal = h.goal(tmp_path, TRAIN)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("a,1\nb,2\n")
    env = _env(h, cluster, TRAIN_TOKEN="tok-3141592653", NOT_DECLARED="visible")
    result = h.run("run", goal, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    # Live output, redacted like a local step's; only declared env arrives.
    assert "  [train] | rows: 2\n" in result.stderr
    assert "  [train] | token: ***\n" in result.stderr
    assert "  [train] | mode: fast\n" in result.stderr
    assert "  [train] | leak: \n" in result.stderr
    assert "tok-3141592653" not in result.stderr
    assert (tmp_path / "model.txt").read_text() == "trained\n"
    assert (tmp_path / "out" / "model.txt").read_text() == "a,1\nb,2\n"
    assert oct((tmp_path / "model.txt").stat().st_mode & 0o777) == "0o644"
    submitted = [e for e in h.events(tmp_path) if e["event"] == "remote_submitted"]
    assert [(e["executor"], e["reconnected"]) for e in submitted] == [("ray", False)]
    assert submitted[0]["handle"].startswith("goap-")


@pytest.mark.slow
def test_a_failing_remote_step_replans_like_a_local_one(
    tmp_path: Path, h: SimpleNamespace, cluster: str
) -> None:
    goal = h.goal(
        tmp_path,
        """\
        version: 1
        state:
          trained: {type: bool, sense: "test -f model.txt"}
        actions:
          train_on_ray:
            effects: {trained: true}
            cost: 1
            run: "echo out of memory; exit 3"
            runs_on: {ray: {address: auto}}
          train_here:
            effects: {trained: true}
            cost: 5
            run: "echo local > model.txt"
        goal: [trained]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path, env=_env(h, cluster))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  [train_on_ray] | out of memory\n" in result.stderr
    assert "replanning (1): train_on_ray failed: exit code 3 (on ray)" in result.stderr
    assert (tmp_path / "model.txt").read_text() == "local\n"
    ends = [
        (e["step"], e["status"], e.get("exit_code"))
        for e in h.events(tmp_path)
        if e["event"] == "step_end"
    ]
    assert ends == [("train_on_ray", "failed", 3), ("train_here", "ok", 0)]


LONG = """\
version: 1
state:
  trained: {type: bool, sense: "test -f model.txt"}
actions:
  train:
    effects: {trained: true}
    run: >-
      echo $$ > {pids}/$(date +%s%N); echo started;
      for i in 1 2 3 4 5 6 7 8; do sleep 0.5; echo tick $i; done;
      echo done > model.txt
    runs_on: {ray: {address: auto}}
    outputs: [model.txt]
    {timeout}
goal: [trained]
"""


def _long_goal(h: SimpleNamespace, folder: Path, timeout: str = "") -> Path:
    pids = folder / "pids"
    pids.mkdir()
    text = LONG.replace("{pids}", str(pids)).replace("{timeout}", timeout)
    goal: Path = h.goal(folder, text)
    return goal


def _started(folder: Path) -> list[int]:
    return [int(p.read_text()) for p in sorted((folder / "pids").iterdir())]


@pytest.mark.slow
def test_ctrl_c_cancels_the_job_on_the_cluster(
    tmp_path: Path, h: SimpleNamespace, cluster: str, engines: list
) -> None:
    goal = _long_goal(h, tmp_path)
    proc = h.start("run", goal, cwd=tmp_path, env=_env(h, cluster))
    engines.append(proc)
    h.wait_for(lambda: len(_started(tmp_path)) == 1, 60, "the remote command")
    pid = _started(tmp_path)[0]
    assert h.alive(pid)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "[train] INTERRUPTED" in err
    # Cancelled, not left running on the cluster: its shell is gone.
    h.wait_for(lambda: not h.alive(pid), 20, f"pid {pid} to end")
    assert not (tmp_path / "model.txt").exists()


@pytest.mark.slow
def test_the_timeout_cancels_the_job_and_fails_the_step(
    tmp_path: Path, h: SimpleNamespace, cluster: str
) -> None:
    goal = _long_goal(h, tmp_path, timeout="timeout: 2s")
    result = h.run("run", goal, cwd=tmp_path, env=_env(h, cluster))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[train] FAILED" in result.stderr
    assert "timed out after 2 s (ray job cancelled)" in result.stderr
    [pid] = _started(tmp_path)
    h.wait_for(lambda: not h.alive(pid), 20, f"pid {pid} to end")


@pytest.mark.slow
def test_resume_after_sigkill_reconnects_to_the_same_job(
    tmp_path: Path, h: SimpleNamespace, cluster: str, engines: list
) -> None:
    goal = _long_goal(h, tmp_path)
    env = _env(h, cluster)
    proc = h.start("run", goal, cwd=tmp_path, env=env)
    engines.append(proc)
    h.wait_for(lambda: len(_started(tmp_path)) == 1, 60, "the remote command")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    [pid] = _started(tmp_path)
    assert h.alive(pid)  # the job outlives the engine

    result = h.run("run", "--resume", goal, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    # Started once: the resumed run followed the job the journal named.
    assert _started(tmp_path) == [pid]
    assert "reconnected to ray job goap-" in result.stderr
    assert "  [train] | tick 8\n" in result.stderr
    assert (tmp_path / "model.txt").read_text() == "done\n"
    submitted = [
        (e["handle"], e["reconnected"])
        for e in h.events(tmp_path)
        if e["event"] == "remote_submitted"
    ]
    assert len(submitted) == 2
    assert submitted[0][0] == submitted[1][0]
    assert [r for _, r in submitted] == [False, True]


@pytest.mark.slow
def test_a_retried_remote_step_is_submitted_again(
    tmp_path: Path, h: SimpleNamespace, cluster: str
) -> None:
    # The first attempt fails; the second finds the mark the first left in
    # tmp_path (the cluster runs on this machine) and succeeds.
    goal = h.goal(
        tmp_path,
        f"""\
        version: 1
        state:
          trained: {{type: bool, sense: "test -f model.txt"}}
        actions:
          train:
            effects: {{trained: true}}
            retries: 1
            run: >-
              if [ -f {tmp_path}/tried ]; then echo ok > model.txt;
              else touch {tmp_path}/tried; exit 1; fi
            runs_on: {{ray: {{address: auto}}}}
            outputs: [model.txt]
        goal: [trained]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path, env=_env(h, cluster))
    assert result.returncode == 0, result.stdout + result.stderr
    handles = [
        e["handle"] for e in h.events(tmp_path) if e["event"] == "remote_submitted"
    ]
    assert len(set(handles)) == 2, handles
    assert (tmp_path / "model.txt").read_text() == "ok\n"


@pytest.mark.slow
def test_independent_remote_steps_run_side_by_side_with_jobs(
    tmp_path: Path, h: SimpleNamespace, cluster: str
) -> None:
    from test_modal_executor import BARRIER

    # Each step waits for the other to have started (the cluster runs on
    # this machine, so both see tmp_path): one after the other, the first
    # would give up and fail.
    text = BARRIER.replace("{dir}", str(tmp_path)).replace(
        "runs_on: modal", "runs_on: {ray: {address: auto}}"
    )
    goal = h.goal(tmp_path, text)
    result = h.run("run", goal, "--jobs", "2", cwd=tmp_path, env=_env(h, cluster))
    assert result.returncode == 0, result.stderr


TINY_CATS = Path(__file__).resolve().parents[2] / "examples" / "tiny-cats"


@pytest.mark.slow
def test_tiny_cats_checks_its_training_on_the_cluster_a_var_names(
    tmp_path: Path, h: SimpleNamespace, cluster: str
) -> None:
    project = tmp_path / "tiny-cats"
    shutil.copytree(TINY_CATS, project)
    env = _env(h, cluster)
    for name in ("MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET", "GITHUB_TOKEN", "HF_TOKEN"):
        env.pop(name, None)
    goal = "goals.d/production.yaml"
    # The goal's policy.executors.ray says 'address: local': the cluster
    # RAY_ADDRESS names on this machine, here the test's.
    result = h.run(
        "run",
        goal,
        "--target",
        "A01R",
        "--var",
        "training_runs_on=ray",
        "--yes",
        cwd=project,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "plan: 1 steps, cost 4: A01R" in result.stderr
    # src/train.py imported src/tiny_cats, both shipped as the step's inputs.
    line = "  [A01R: check_training_remotely] | TinyDiT 128px, 12 breeds (dry run)\n"
    assert line in result.stderr
    submitted = [e for e in h.events(project, goal) if e["event"] == "remote_submitted"]
    assert [(e["executor"], e["reconnected"]) for e in submitted] == [("ray", False)]
    state = json.loads((project / "plans" / "deployment_state.json").read_text())
    assert state["state"]["code_validated_modal"] is True


NO_ROOM = """\
version: 1
state:
  trained: {type: bool, sense: "test -f model.txt"}
actions:
  train:
    effects: {trained: true}
    run: "echo done > model.txt"
    runs_on: {ray: {address: auto, num_gpus: 1}}
    outputs: [model.txt]
    {timeout}
goal: [trained]
"""


@pytest.mark.slow
def test_a_step_the_cluster_has_no_room_for_still_times_out(
    tmp_path: Path, h: SimpleNamespace, cluster: str
) -> None:
    # The cluster has no GPU: Ray waits for one for ever, the engine must not.
    goal = h.goal(tmp_path, NO_ROOM.replace("{timeout}", "timeout: 2s"))
    result = h.run("run", goal, cwd=tmp_path, env=_env(h, cluster))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "timed out after 2 s (ray job cancelled)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "model.txt").exists()


@pytest.mark.slow
def test_ctrl_c_stops_a_step_the_cluster_has_no_room_for(
    tmp_path: Path, h: SimpleNamespace, cluster: str, engines: list
) -> None:
    goal = h.goal(tmp_path, NO_ROOM.replace("{timeout}", ""))
    proc = h.start("run", goal, cwd=tmp_path, env=_env(h, cluster))
    engines.append(proc)
    h.wait_for(
        lambda: "remote_submitted" in h.kinds(h.events(tmp_path)), 60, "the submit"
    )
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "[train] INTERRUPTED" in err


@pytest.mark.slow
def test_a_background_process_does_not_hold_a_ray_step(
    tmp_path: Path, h: SimpleNamespace, cluster: str
) -> None:
    goal = h.goal(
        tmp_path,
        f"""\
        version: 1
        state:
          trained: {{type: bool, sense: "test -f model.txt"}}
        actions:
          train:
            effects: {{trained: true}}
            run: "sleep 600 & echo $! > {tmp_path}/pid; echo done > model.txt"
            runs_on: {{ray: {{address: auto}}}}
            outputs: [model.txt]
            timeout: 5m
        goal: [trained]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path, env=_env(h, cluster))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "model.txt").read_text() == "done\n"
    # The step owned it: it ended with the step.
    pid = int((tmp_path / "pid").read_text())
    h.wait_for(lambda: not h.alive(pid), 20, f"pid {pid} to end")


@pytest.mark.slow
def test_an_edited_handle_in_the_journal_submits_anew(
    tmp_path: Path, h: SimpleNamespace, cluster: str, engines: list
) -> None:
    goal = _long_goal(h, tmp_path)
    env = _env(h, cluster)
    proc = h.start("run", goal, cwd=tmp_path, env=env)
    engines.append(proc)
    h.wait_for(lambda: len(_started(tmp_path)) == 1, 60, "the remote command")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    journal = h.files(tmp_path, goal) / "journal.jsonl"
    lines = []
    for line in journal.read_text().splitlines():
        event = json.loads(line)
        if event["event"] == "remote_submitted":
            event["handle"] = "../" + "x" * 100_000
        lines.append(json.dumps(event))
    journal.write_text("\n".join(lines) + "\n")

    result = h.run("run", "--resume", goal, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reconnected" not in result.stderr
    assert len(_started(tmp_path)) == 2  # not the edited name: a new job
    assert (tmp_path / "model.txt").read_text() == "done\n"


def test_a_port_that_accepts_and_never_answers_is_no_ray_cluster(
    tmp_path: Path, h: SimpleNamespace
) -> None:
    goal = h.goal(tmp_path, NO_ROOM.replace("{timeout}", "timeout: 10m"))
    with socket.create_server(("127.0.0.1", 0)) as silent:
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        result = h.run("run", goal, cwd=tmp_path, env=_env(h, address))
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"cannot reach the Ray cluster at 'auto' (RAY_ADDRESS={address}): it "
        "accepted a connection but did not answer within 5 s"
    ) in result.stderr
