"""What a hostile workspace or remote command does to a step that runs elsewhere.

Inputs and outputs cross between the workspace and a folder on another
machine; these tests give each crossing the files an attacker (or an
accident) would: links out, loops, FIFOs, huge sparse files, names with
newlines, a folder where a file goes, the engine's and git's own folders.
The Ray side (``ray_step``) is plain Python, so it runs here in process.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from goap_engine.executor import remote
from goap_engine.executor.output import Output
from goap_engine.executor.ray_step import StepProcess
from goap_engine.executor.remote import (
    MAX_SHIPPED,
    ExecutorError,
    JobSpec,
    gather_inputs,
    place_outputs,
)
from goap_engine.model import Placement

BIG = MAX_SHIPPED + 1
PRIVATE = "is in .goap/ or .git/, which a remote step never writes"


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        handle.truncate(size)


def test_inputs_leave_out_the_engines_and_gits_folders(tmp_path: Path) -> None:
    for name in (".goap/goals.d/g/state.json", ".git/config", "src/.git/HEAD"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("private")
    (tmp_path / "src" / "train.py").write_text("print()")
    assert gather_inputs(tmp_path, ("**/*",)) == {"src/train.py": b"print()"}


def test_a_huge_input_is_refused_unread(tmp_path: Path) -> None:
    _sparse(tmp_path / "data.bin", BIG)
    with pytest.raises(ExecutorError, match="inputs are more than 512 MiB"):
        gather_inputs(tmp_path, ("*.bin",))


def test_a_fifo_among_inputs_fails_the_step_without_blocking(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a")
    os.mkfifo(tmp_path / "b.csv")
    with pytest.raises(ExecutorError, match="'b.csv' is not a regular file"):
        gather_inputs(tmp_path, ("*.csv",))


def test_an_input_matched_twice_ships_once(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a")
    assert gather_inputs(tmp_path, ("*.csv", "a.csv", "**/*.csv")) == {"a.csv": b"a"}


def test_a_refused_output_leaves_the_workspace_as_it_was(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (work / "linked").symlink_to(outside)
    # Sorted, 'a.txt' would be written first: nothing is, since the last
    # output is refused; and no folder appears outside through the link.
    with pytest.raises(ExecutorError) as caught:
        place_outputs(work, {"a.txt": b"a", "linked/sub/deeper/x": b"x"})
    assert str(caught.value) == (
        "output 'linked/sub/deeper/x': would be written outside the workdir "
        "(through a link)"
    )
    assert sorted(p.name for p in work.iterdir()) == ["linked"]
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (".git/hooks/pre-commit", PRIVATE),
        (".goap/goals.d/g/state.json", PRIVATE),
        ("vendor/.git/config", PRIVATE),
        ("models", "is a folder in the workspace, where a file is expected"),
        ("notes.txt/x", "'notes.txt' is a file in the workspace"),
        ("a\0b", "is not a path inside the workdir"),
    ],
)  # fmt: skip
def test_an_output_that_cannot_land_is_named_with_the_reason(
    tmp_path: Path, name: str, message: str
) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ExecutorError) as caught:
        place_outputs(tmp_path, {name: b"x"})
    assert str(caught.value) == f"output {name!r}: {message}"
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not (tmp_path / ".git").exists() and not (tmp_path / ".goap").exists()


def test_an_output_named_with_a_newline_or_other_bytes_lands_as_named(
    tmp_path: Path,
) -> None:
    names = ["a\nb.txt", "c\udcff.txt", "deep/er/d.txt"]
    assert place_outputs(tmp_path, dict.fromkeys(names, b"x")) == sorted(names)
    assert (tmp_path / "a\nb.txt").read_bytes() == b"x"
    assert os.path.exists(os.fsencode(tmp_path) + b"/c\xff.txt")


def _finished(step: StepProcess) -> tuple[bytes, int]:
    # A guard against a hang, not a measure: the commands here take no time.
    printed, deadline = b"", time.monotonic() + 60
    while True:
        data, _, code = step.read(len(printed))
        printed += data
        if code is not None:
            return printed, code
        assert time.monotonic() < deadline, f"still running: {printed!r}"
        time.sleep(0.05)


def _ray_side(command: str) -> StepProcess:
    step = StepProcess(command, {}, {})
    _finished(step)
    return step


def test_ray_side_outputs_neither_take_nor_follow_links(tmp_path: Path) -> None:
    (tmp_path / "inside.txt").write_text("not the step's")
    step = _ray_side(
        f"echo m > model.txt; ln -s /etc/passwd passwd.txt; ln -s . loop; "
        f"ln -s {tmp_path} outside; mkfifo pipe.txt; mkdir -p d; echo e > d/e.txt"
    )
    try:
        assert step.outputs(["*.txt"], MAX_SHIPPED) == {"model.txt": b"m\n"}
        assert step.outputs(["**/*.txt"], MAX_SHIPPED) == {
            "model.txt": b"m\n",
            "d/e.txt": b"e\n",
        }
    finally:
        step.cleanup()


def test_ray_side_refuses_huge_outputs_unread() -> None:
    step = _ray_side(f"echo m > model.txt; truncate -s {BIG} model.bin")
    try:
        with pytest.raises(ValueError, match=r"outputs \*.bin are 512 MiB, more"):
            step.outputs(["*.bin"], MAX_SHIPPED)
        assert step.outputs(["*.txt"], MAX_SHIPPED) == {"model.txt": b"m\n"}
    finally:
        step.cleanup()


def test_ray_side_ends_what_the_command_left_holding_its_output(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "pid"
    step = StepProcess(f"sleep 300 & echo $! > {pid_file}; echo started", {}, {})
    try:
        assert _finished(step) == (b"started\n", 0)
        pid = int(pid_file.read_text())
        # Ended with the step, as a local step's leftovers are (a zombie
        # until its parent, the command's shell, which is gone, is reaped).
        state = subprocess.run(
            ["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True
        ).stdout.strip()
        assert state in ("", "Z")
    finally:
        step.cleanup()


def test_an_input_naming_only_private_files_says_they_never_ship(
    tmp_path: Path,
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[remote] url = https://t@x")
    with pytest.raises(ExecutorError) as caught:
        gather_inputs(tmp_path, (".git/config",))
    assert str(caught.value) == (
        "input '.git/config' matches only files of .goap/ or .git/, which never ship"
    )


def test_ray_side_keeps_a_bounded_tail_of_endless_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from goap_engine.executor import ray_step

    monkeypatch.setattr(ray_step, "MAX_KEPT", 1000)
    monkeypatch.setattr(ray_step, "MAX_READ", 300)
    step = StepProcess("head -c 5000 /dev/zero | tr '\\0' x; echo; echo end", {}, {})
    try:
        step.read(0)  # starts it
        # A guard against a hang, not a measure.
        deadline = time.monotonic() + 60
        while step.code is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # Read from the start after the end: what is gone is said, the rest
        # comes in pieces of at most MAX_READ bytes, the exit code with the
        # last one.
        chunks, at, code = [], 0, None
        while code is None:
            data, at, code = step.read(at)
            chunks.append(data)
        assert code == 0
        assert b"".join(chunks) == (
            b"[... 4005 bytes of output dropped ...]\n" + b"x" * 995 + b"\nend\n"
        )
        note = len(b"[... 4005 bytes of output dropped ...]\n")
        assert [len(c) for c in chunks] == [note + 300, 300, 300, 100]
    finally:
        step.cleanup()


class _Files:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def read_bytes(self, path: str) -> bytes:
        return self.files[path]


class _Sandbox:
    object_id = "sb-test"

    def __init__(self, files: dict[str, bytes]) -> None:
        self.filesystem = _Files(files)

    def poll(self) -> None:
        return None


def test_a_modal_output_matched_by_two_globs_counts_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from goap_engine.executor import modal_executor

    monkeypatch.setattr(modal_executor, "MAX_SHIPPED", 100)
    job = modal_executor.ModalJob(
        _Sandbox({"/tmp/goap/work/model.bin": b"w" * 80}), started=True
    )
    job.listed = {"model.bin": 80}
    assert job.outputs(("model.bin",)) == {"model.bin": b"w" * 80}
    assert job.outputs(("*.bin",)) == {"model.bin": b"w" * 80}
    job.listed = {"model.bin": 80, "other.bin": 30}
    with pytest.raises(ExecutorError, match="outputs are more than 0 MiB"):
        job.outputs(("other.bin",))


def test_a_modal_exit_file_the_command_overwrote_reads_as_a_failure() -> None:
    from goap_engine.executor.modal_executor import ModalJob

    job = ModalJob(
        _Sandbox({"/tmp/goap/exit": b"not a number\n", "/tmp/goap/out.log": b"hi\n"}),
        started=True,
    )
    assert (job.read(), job.exit_code()) == (b"hi\n", 1)


class _Unplaced:
    """Ray as it is for an actor the cluster has no room for: nothing answers."""

    class _Method:
        def remote(self, *args: object) -> str:
            return "ref"

    read = _Method()

    def wait(self, refs: list[str], timeout: float) -> tuple[list[str], list[str]]:
        return [], refs


def test_a_ray_step_nobody_places_says_so_once_and_never_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from goap_engine.executor import ray_executor

    monkeypatch.setattr(ray_executor, "PLACING", 0)
    ray = _Unplaced()
    job = ray_executor.RayJob(ray, ray, "goap-x", "num_cpus 1, num_gpus 1")
    said = [job.read() for _ in range(3)]
    assert said == [
        b"(the Ray cluster has not started the step after 0 s: is there room for "
        b"num_cpus 1, num_gpus 1?)\n",
        b"",
        b"",
    ]
    assert job.exit_code() is None


class _Finished:
    """A job that ended well, leaving ``files`` in its folder."""

    handle = "j1"

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def read(self) -> bytes:
        return b""

    def exit_code(self) -> int:
        return 0

    def cancel(self) -> None:
        pass

    def outputs(self, globs: tuple[str, ...]) -> dict[str, bytes]:
        from goap_engine.executor.ray_step import matches

        return {n: d for n, d in self.files.items() if matches(n, globs[0])}

    def release(self) -> None:
        pass


class _Once:
    def __init__(self, job: _Finished) -> None:
        self.job = job

    def submit(self, spec: JobSpec) -> _Finished:
        return self.job

    def reconnect(self, handle: str, options: Mapping[str, Any]) -> None:
        return None


@pytest.mark.parametrize(
    ("globs", "message", "landed"),
    [
        (("**/*",), "", ["model.pt"]),
        (
            ("model.pt", ".git/config"),
            "output '.git/config' matches only files of .goap/ or .git/, which a "
            "remote step never writes",
            [],
        ),
    ],
)
def test_a_remote_repository_is_left_where_it_was_made(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    globs: tuple[str, ...],
    message: str,
    landed: list[str],
) -> None:
    job = _Finished({"model.pt": b"w", ".git/config": b"[core]", ".git/HEAD": b"x"})
    monkeypatch.setitem(remote._executors, "once", _Once(job))
    outcome = remote.run_remote(
        Placement("once", {}, (), globs),
        JobSpec("m1", "train", {}, {}),
        workdir=tmp_path,
        output=Output(),
        timeout=30,
        stop=threading.Event(),
        handle=None,
        on_handle=lambda h, again: None,
    )
    assert (outcome.ok, outcome.message) == (not message, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == landed
