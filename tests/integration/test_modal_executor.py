"""Steps with ``runs_on: modal`` against a stand-in for the Modal SDK.

Modal cannot be reached from here.  ``fakes/modal_sdk/modal`` answers the
SDK calls the executor makes (sandboxes are local process groups, kept in a
folder so a second engine finds them), and is put first on the engines'
``PYTHONPATH``; the last tests check that every call it accepted fits the
installed SDK's own signatures.
"""

from __future__ import annotations

import inspect
import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

STAND_IN = Path(__file__).parent / "fakes" / "modal_sdk"


@pytest.fixture
def modal_env(tmp_path: Path, h: SimpleNamespace) -> Iterator[dict[str, str]]:
    """The environment of an engine whose ``modal`` is the stand-in."""
    root = tmp_path / "modal-root"
    (root / "volumes" / "training-data").mkdir(parents=True)
    (root / "secrets").mkdir()
    (root / "secrets" / "wandb.json").write_text('{"WANDB_KEY": "wandb-key-77"}')
    (root / "token").write_text("ak-test:as-secret-0042")
    # The token check connects first: something must listen there.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        yield h.env(
            PYTHONPATH=str(STAND_IN),
            FAKE_MODAL_ROOT=str(root),
            HOME=str(tmp_path / "home"),
            MODAL_TOKEN_ID="ak-test",
            MODAL_TOKEN_SECRET="as-secret-0042",
            MODAL_SERVER_URL=f"http://127.0.0.1:{port}",
        )


def calls(env: dict[str, str], kind: str = "") -> list[dict[str, Any]]:
    path = Path(env["FAKE_MODAL_ROOT"]) / "calls.jsonl"
    found = [json.loads(line) for line in path.read_text().splitlines()]
    return [c for c in found if not kind or c["call"] == kind]


def sandboxes(env: dict[str, str]) -> list[Path]:
    folder = Path(env["FAKE_MODAL_ROOT"]) / "sandboxes"
    return sorted(folder.iterdir()) if folder.exists() else []


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
      echo "wandb: $WANDB_KEY"; echo "volume: $(ls /data 2>/dev/null | wc -l)";
      echo oops >&2;
      mkdir -p out && cp data/rows.csv out/model.txt && echo trained > model.txt
    env: {MODE: "{{ mode }}"}
    timeout: 10m
    runs_on:
      modal:
        gpu: A10G
        cpu: 2
        memory: 4096
        image:
          {python: "3.12", apt: [git], requirements: requirements.txt, pip: [numpy]}
        volumes: {/data: training-data}
        secrets: [wandb]
    inputs: [data/*.csv]
    outputs: [model.txt, out/*.txt]
vars: {mode: fast}
goal: [trained]
"""


def test_a_step_runs_in_a_sandbox_with_its_inputs_and_brings_outputs_back(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str]
) -> None:
    goal = h.goal(tmp_path, TRAIN)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("a,1\nb,2\n")
    (tmp_path / "requirements.txt").write_text("pandas\n")
    env = {**modal_env, "TRAIN_TOKEN": "tok-3141592653", "NOT_DECLARED": "visible"}
    result = h.run("run", goal, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  [train] | rows: 2\n" in result.stderr
    assert "  [train] | token: ***\n" in result.stderr
    assert "  [train] | mode: fast\n" in result.stderr
    assert "  [train] | leak: \n" in result.stderr
    assert "  [train] | wandb: wandb-key-77\n" in result.stderr
    assert "  [train] | oops\n" in result.stderr  # stderr streams too
    assert "tok-3141592653" not in result.stderr + result.stdout
    assert (tmp_path / "model.txt").read_text() == "trained\n"
    assert (tmp_path / "out" / "model.txt").read_text() == "a,1\nb,2\n"

    [create] = calls(modal_env, "Sandbox.create")
    assert create["app"] == "goap-engine"
    assert (create["gpu"], create["cpu"], create["memory"]) == ("A10G", 2, 4096)
    assert create["image"] == [
        ["debian_slim", "3.12"],
        ["apt_install", "git"],
        ["pip_install_from_requirements", str(tmp_path / "requirements.txt")],
        ["pip_install", "numpy"],
    ]
    # The step's environment goes in a secret, by name only in the record;
    # the named secret and volume are passed on.
    assert create["secrets"] == [
        ["from_dict", ["MODE", "PYTHONUNBUFFERED", "TRAIN_TOKEN"]],
        ["from_name:wandb", ["WANDB_KEY"]],
    ]
    assert create["volumes"] == {"/data": "training-data"}
    assert create["timeout"] == 600 + 300
    assert create["workdir"] == "/tmp"
    # The inputs were written before the command started; nothing on a
    # command line holds the token.
    writes = calls(modal_env, "filesystem.write_bytes")
    assert [w["path"] for w in writes] == [
        "/tmp/goap/inputs.tar",
        "/tmp/goap/step.sh",
    ]
    record = (Path(modal_env["FAKE_MODAL_ROOT"]) / "calls.jsonl").read_text()
    assert "tok-3141592653" not in record
    # The sandbox is ended once the outputs are back.
    [sandbox] = sandboxes(modal_env)
    assert calls(modal_env, "Sandbox.terminate")[-1]["sandbox"] == sandbox.name
    [submitted] = [e for e in h.events(tmp_path) if e["event"] == "remote_submitted"]
    assert (submitted["executor"], submitted["handle"]) == ("modal", sandbox.name)


def test_a_failing_step_in_a_sandbox_replans_like_a_local_one(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str]
) -> None:
    goal = h.goal(
        tmp_path,
        """\
        version: 1
        state:
          trained: {type: bool, sense: "test -f model.txt"}
        actions:
          train_on_modal:
            effects: {trained: true}
            cost: 1
            run: [sh, -c, "echo CUDA out of memory; exit 3"]
            runs_on: modal
          train_here:
            effects: {trained: true}
            cost: 5
            run: "echo local > model.txt"
        goal: [trained]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path, env=modal_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  [train_on_modal] | CUDA out of memory\n" in result.stderr
    assert (
        "replanning (1): train_on_modal failed: exit code 3 (on modal)" in result.stderr
    )
    assert (tmp_path / "model.txt").read_text() == "local\n"
    # An argv hook reaches the sandbox as its words, quoted one by one.
    [sandbox] = sandboxes(modal_env)
    step = sandbox / "root" / "tmp" / "goap" / "step.sh"
    assert step.read_text() == "exec sh -c 'echo CUDA out of memory; exit 3'\n"


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
    runs_on: modal
    outputs: [model.txt]
    {timeout}
goal: [trained]
"""


def _long_goal(h: SimpleNamespace, folder: Path, timeout: str = "") -> Path:
    pids = folder / "pids"
    pids.mkdir()
    goal: Path = h.goal(
        folder, LONG.replace("{pids}", str(pids)).replace("{timeout}", timeout)
    )
    return goal


def _started(folder: Path) -> list[int]:
    return [int(p.read_text()) for p in sorted((folder / "pids").iterdir())]


def test_ctrl_c_terminates_the_sandbox(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str], engines: list
) -> None:
    goal = _long_goal(h, tmp_path)
    proc = h.start("run", goal, cwd=tmp_path, env=modal_env)
    engines.append(proc)
    h.wait_for(lambda: len(_started(tmp_path)) == 1, 30, "the remote command")
    [pid] = _started(tmp_path)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "[train] INTERRUPTED" in err
    h.wait_for(lambda: not h.alive(pid), 10, f"pid {pid} to end")
    assert calls(modal_env, "Sandbox.terminate")
    assert not (tmp_path / "model.txt").exists()


def test_the_timeout_terminates_the_sandbox_and_fails_the_step(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str]
) -> None:
    goal = _long_goal(h, tmp_path, timeout="timeout: 2s")
    result = h.run("run", goal, cwd=tmp_path, env=modal_env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "timed out after 2 s (modal job cancelled)" in result.stderr
    [pid] = _started(tmp_path)
    h.wait_for(lambda: not h.alive(pid), 10, f"pid {pid} to end")
    # The sandbox's lifetime was the step's timeout plus the time for outputs.
    assert calls(modal_env, "Sandbox.create")[0]["timeout"] == 2 + 300


def test_resume_after_sigkill_reconnects_to_the_same_sandbox(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str], engines: list
) -> None:
    goal = _long_goal(h, tmp_path)
    proc = h.start("run", goal, cwd=tmp_path, env=modal_env)
    engines.append(proc)
    h.wait_for(lambda: len(_started(tmp_path)) == 1, 30, "the remote command")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    [pid] = _started(tmp_path)
    assert h.alive(pid)  # the sandbox outlives the engine

    result = h.run("run", "--resume", goal, cwd=tmp_path, env=modal_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _started(tmp_path) == [pid]  # started once
    [sandbox] = sandboxes(modal_env)
    assert f"reconnected to modal job {sandbox.name}" in result.stderr
    assert "  [train] | tick 8\n" in result.stderr
    assert (tmp_path / "model.txt").read_text() == "done\n"
    assert len(calls(modal_env, "Sandbox.create")) == 1
    submitted = [
        (e["handle"], e["reconnected"])
        for e in h.events(tmp_path)
        if e["event"] == "remote_submitted"
    ]
    assert submitted == [(sandbox.name, False), (sandbox.name, True)]


def test_a_sandbox_gone_before_the_resume_is_submitted_again(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str], engines: list
) -> None:
    goal = _long_goal(h, tmp_path)
    proc = h.start("run", goal, cwd=tmp_path, env=modal_env)
    engines.append(proc)
    h.wait_for(lambda: len(_started(tmp_path)) == 1, 30, "the remote command")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    # Its lifetime ended (or someone stopped it) while no engine watched.
    [sandbox] = sandboxes(modal_env)
    (sandbox / "returncode").write_text("137")

    result = h.run("run", "--resume", goal, cwd=tmp_path, env=modal_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(calls(modal_env, "Sandbox.create")) == 2
    assert "reconnected" not in result.stderr


def test_a_rejected_token_fails_the_step_at_once_without_showing_it(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str]
) -> None:
    goal = _long_goal(h, tmp_path)
    env = {**modal_env, "MODAL_TOKEN_SECRET": "as-wrong-secret-99"}
    result = h.run("run", goal, cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Modal rejected the token ak-test" in result.stderr
    assert "as-wrong-secret-99" not in result.stderr + result.stdout
    assert not sandboxes(modal_env)


def test_modal_refusing_the_sandbox_fails_the_step_with_its_reason(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str]
) -> None:
    (Path(modal_env["FAKE_MODAL_ROOT"]) / "fail_create").write_text(
        "GPU type 'B300' is not available in region 'mars'"
    )
    goal = _long_goal(h, tmp_path)
    result = h.run("run", goal, cwd=tmp_path, env=modal_env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "Modal refused the step: Error: GPU type 'B300' is not available in region "
        "'mars'" in result.stderr
    )


LEAKY = """\
version: 1
state:
  trained: bool
actions:
  train:
    effects: {trained: true}
    run: "echo trained > model.txt; ln -s /etc/passwd leak.txt"
    runs_on: modal
    outputs: OUTPUTS
goal: [trained]
"""


@pytest.mark.parametrize(
    ("outputs", "missing"),
    [
        # A glob nothing matched fails the step, and none are placed then.
        ('[model.txt, "*.onnx", leak.txt]', "*.onnx"),
        # A link out of the sandbox's folder is not a file it produced.
        ("[model.txt, leak.txt]", "leak.txt"),
    ],
)
def test_an_output_the_sandbox_did_not_produce_fails_the_step(
    tmp_path: Path,
    h: SimpleNamespace,
    modal_env: dict[str, str],
    outputs: str,
    missing: str,
) -> None:
    goal = h.goal(tmp_path, LEAKY.replace("OUTPUTS", outputs))
    result = h.run("run", goal, cwd=tmp_path, env=modal_env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"output '{missing}' was not produced" in result.stderr
    assert not (tmp_path / "model.txt").exists()
    assert not (tmp_path / "leak.txt").exists()


def test_every_call_the_stand_in_took_fits_the_installed_sdk(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str]
) -> None:
    modal = pytest.importorskip("modal")
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "stand_in_modal",
        STAND_IN / "modal" / "__init__.py",
        submodule_search_locations=[str(STAND_IN / "modal")],
    )
    assert spec is not None and spec.loader is not None
    stand_in = importlib.util.module_from_spec(spec)
    import sys

    sys.modules["stand_in_modal"] = stand_in
    try:
        spec.loader.exec_module(stand_in)
    finally:
        del sys.modules["stand_in_modal"]
    create = inspect.signature(modal.Sandbox.create).parameters
    run = inspect.signature(modal.Sandbox.exec).parameters
    assert set(create) >= stand_in.CREATE_PARAMETERS
    assert set(run) >= stand_in.EXEC_PARAMETERS
    # The image and object constructors the executor calls, with its keywords.
    used = {
        modal.Image.debian_slim: {"python_version"},
        modal.Image.from_registry: {"add_python"},
        modal.Image.from_dockerfile: {"add_python"},
        modal.App.lookup: {"create_if_missing"},
        modal.Sandbox.terminate: set(),
        modal.Sandbox.poll: set(),
        modal.Sandbox.from_id: set(),
    }
    for function, keywords in used.items():
        assert keywords <= set(inspect.signature(function).parameters), function
    filesystem = modal.sandbox._filesystem._SandboxFilesystem
    assert {"write_bytes", "read_bytes"} <= set(dir(filesystem))
    assert list(inspect.signature(filesystem.write_bytes).parameters)[1:] == [
        "data",
        "remote_path",
    ]
    for name in ("AuthError", "NotFoundError", "SandboxFilesystemNotFoundError"):
        assert issubclass(getattr(modal.exception, name), modal.exception.Error)


BARRIER = """\
version: 1
state:
  a_done: bool
  b_done: bool
actions:
  a:
    effects: {a_done: true}
    run: >-
      touch {dir}/a.started; for i in $(seq 200); do
      [ -e {dir}/b.started ] && exit 0; sleep 0.05; done; exit 1
    runs_on: modal
  b:
    effects: {b_done: true}
    run: >-
      touch {dir}/b.started; for i in $(seq 200); do
      [ -e {dir}/a.started ] && exit 0; sleep 0.05; done; exit 1
    runs_on: modal
goal: [a_done, b_done]
"""


def test_independent_steps_run_side_by_side_with_jobs(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str]
) -> None:
    # Each step waits for the other to have started: one after the other,
    # the first would give up and fail.
    goal = h.goal(tmp_path, BARRIER.replace("{dir}", str(tmp_path)))
    result = h.run("run", goal, "--jobs", "2", cwd=tmp_path, env=modal_env)
    assert result.returncode == 0, result.stderr
    assert len(calls(modal_env, "Sandbox.create")) == 2


def test_a_background_process_does_not_hold_a_modal_step(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str]
) -> None:
    goal = h.goal(
        tmp_path,
        """\
        version: 1
        state:
          trained: {type: bool, sense: "test -f model.txt"}
        actions:
          train:
            effects: {trained: true}
            run: "sleep 600 & echo started; echo done > model.txt"
            runs_on: modal
            outputs: [model.txt]
            timeout: 5m
        goal: [trained]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path, env=modal_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  [train] | started\n" in result.stderr
    assert (tmp_path / "model.txt").read_text() == "done\n"
    # Read as the whole log too, as a reconnect after a crash would read it.
    [sandbox] = sandboxes(modal_env)
    goap = sandbox / "root" / "tmp" / "goap"
    assert ((goap / "out.log").read_text(), (goap / "exit").read_text()) == (
        "started\n",
        "0\n",
    )


def test_modal_outputs_are_sized_before_they_are_fetched(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str]
) -> None:
    goal = h.goal(
        tmp_path,
        """\
        version: 1
        state:
          trained: bool
        actions:
          train:
            effects: {trained: true}
            run: "echo m > model.txt; truncate -s 600M weights.bin"
            runs_on: modal
            outputs: [model.txt, "*.bin"]
        goal: [trained]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path, env=modal_env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "outputs are more than 512 MiB" in result.stderr
    assert not (tmp_path / "model.txt").exists()
    assert not (tmp_path / "weights.bin").exists()


def test_modal_outputs_with_odd_names_come_back_and_links_do_not(
    tmp_path: Path, h: SimpleNamespace, modal_env: dict[str, str]
) -> None:
    goal = h.goal(
        tmp_path,
        r"""
        version: 1
        state:
          trained: bool
        actions:
          train:
            effects: {trained: true}
            run: >-
              printf a > "$(printf 'new\nline.txt')"; printf b > ' lead.txt';
              ln -s /etc/passwd passwd.txt; ln -s . loop; mkfifo fifo.txt
            runs_on: modal
            outputs: ["**/*.txt"]
        goal: [trained]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path, env=modal_env)
    assert result.returncode == 0, result.stdout + result.stderr
    landed = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".txt")
    assert landed == [" lead.txt", "new\nline.txt"]
    assert (tmp_path / "new\nline.txt").read_text() == "a"
