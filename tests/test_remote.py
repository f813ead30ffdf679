"""The executor driver (``executor.remote``) against a scripted executor.

The scripted job plays what a cluster would: output in pieces, an exit code
after some looks, files in its folder.  What the engine does with them --
stream, bound, cancel, reconnect, bring outputs back -- is the driver's.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from goap_engine.executor import remote
from goap_engine.executor.output import Output
from goap_engine.executor.remote import (
    ExecutorError,
    JobSpec,
    gather_inputs,
    place_outputs,
    remote_handles,
    run_remote,
)
from goap_engine.model import Placement


class ScriptedJob:
    def __init__(self, handle: str, chunks: list[bytes], code: int | None) -> None:
        self.handle = handle
        self.chunks = list(chunks)
        self.code = code
        self.files: dict[str, bytes] = {}
        self.calls: list[str] = []

    def read(self) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def exit_code(self) -> int | None:
        return self.code if not self.chunks else None

    def cancel(self) -> None:
        self.calls.append("cancel")

    def outputs(self, globs: tuple[str, ...]) -> dict[str, bytes]:
        return {n: d for n, d in self.files.items() if Path(n).match(globs[0])}

    def release(self) -> None:
        self.calls.append("release")


class ScriptedExecutor:
    def __init__(self) -> None:
        self.jobs: dict[str, ScriptedJob] = {}
        self.next: ScriptedJob | None = None
        self.submitted: list[JobSpec] = []

    def submit(self, spec: JobSpec) -> ScriptedJob:
        self.submitted.append(spec)
        assert self.next is not None
        self.jobs[self.next.handle] = self.next
        return self.next

    def reconnect(self, handle: str, options: Mapping[str, Any]) -> ScriptedJob | None:
        return self.jobs.get(handle)


@pytest.fixture
def scripted() -> Iterator[ScriptedExecutor]:
    executor = ScriptedExecutor()
    remote._executors["scripted"] = executor  # type: ignore[assignment]
    yield executor
    del remote._executors["scripted"]


def _run(
    tmp_path: Path,
    outputs: tuple[str, ...] = (),
    *,
    handle: str | None = None,
    timeout: float | None = 30,
    stop: threading.Event | None = None,
) -> tuple[Any, list[str], list[tuple[str, bool]]]:
    lines: list[str] = []
    journalled: list[tuple[str, bool]] = []
    outcome = run_remote(
        Placement("scripted", {}, (), outputs),
        JobSpec("m1", "train", {}, {}),
        workdir=tmp_path,
        output=Output(on_line=lines.append),
        timeout=timeout,
        stop=stop or threading.Event(),
        handle=handle,
        on_handle=lambda h, again: journalled.append((h, again)),
    )
    return outcome, lines, journalled


def test_output_streams_and_outputs_come_back_on_success(
    tmp_path: Path, scripted: ScriptedExecutor
) -> None:
    job = ScriptedJob("j1", [b"epoch 1\nepo", b"ch 2\n"], 0)
    job.files = {"model.pt": b"weights", "logs/a.txt": b"a"}
    scripted.next = job
    outcome, lines, journalled = _run(tmp_path, ("model.pt", "logs/*.txt"))
    assert (outcome.ok, outcome.exit_code, outcome.message) == (True, 0, "")
    assert lines == ["epoch 1", "epoch 2"]
    assert journalled == [("j1", False)]
    assert (tmp_path / "model.pt").read_bytes() == b"weights"
    assert (tmp_path / "logs" / "a.txt").read_bytes() == b"a"
    assert job.calls == ["release"]


def test_a_missing_output_fails_the_step_and_nothing_is_written(
    tmp_path: Path, scripted: ScriptedExecutor
) -> None:
    job = ScriptedJob("j1", [], 0)
    job.files = {"model.pt": b"weights"}
    scripted.next = job
    outcome, _, _ = _run(tmp_path, ("model.pt", "metrics.json"))
    assert (outcome.ok, outcome.message) == (
        False,
        "output 'metrics.json' was not produced",
    )
    assert not (tmp_path / "model.pt").exists()


def test_a_failed_job_brings_nothing_back(
    tmp_path: Path, scripted: ScriptedExecutor
) -> None:
    job = ScriptedJob("j1", [b"boom\n"], 2)
    job.files = {"model.pt": b"half"}
    scripted.next = job
    outcome, lines, _ = _run(tmp_path, ("model.pt",))
    assert (outcome.ok, outcome.exit_code, outcome.message) == (
        False,
        2,
        "exit code 2 (on scripted)",
    )
    assert lines == ["boom"]
    assert not (tmp_path / "model.pt").exists()


def test_the_timeout_cancels_the_job(
    tmp_path: Path, scripted: ScriptedExecutor
) -> None:
    scripted.next = ScriptedJob("j1", [], None)  # never ends
    outcome, _, _ = _run(tmp_path, timeout=0.3)
    assert (outcome.ok, outcome.timed_out) == (False, True)
    assert outcome.message == "timed out after 0.3 s (scripted job cancelled)"
    assert scripted.next.calls == ["cancel", "release"]


def test_stopping_cancels_the_job(tmp_path: Path, scripted: ScriptedExecutor) -> None:
    scripted.next = ScriptedJob("j1", [], None)
    stop = threading.Event()
    stop.set()
    outcome, _, _ = _run(tmp_path, stop=stop)
    assert (outcome.ok, outcome.interrupted, outcome.message) == (
        False,
        True,
        "interrupted",
    )
    assert scripted.next.calls == ["cancel", "release"]


def test_a_known_handle_is_reconnected_to_not_submitted_again(
    tmp_path: Path, scripted: ScriptedExecutor
) -> None:
    scripted.jobs["old"] = ScriptedJob("old", [b"tick 9\n"], 0)
    outcome, lines, journalled = _run(tmp_path, handle="old")
    assert outcome.ok
    assert scripted.submitted == []
    assert lines == ["reconnected to scripted job old", "tick 9"]
    assert journalled == [("old", True)]


def test_a_handle_whose_job_is_gone_submits_anew(
    tmp_path: Path, scripted: ScriptedExecutor
) -> None:
    scripted.next = ScriptedJob("new", [], 0)
    outcome, _, journalled = _run(tmp_path, handle="gone")
    assert outcome.ok
    assert [s.name for s in scripted.submitted] == ["m1"]
    assert journalled == [("new", False)]


def test_an_executor_nobody_installed_fails_the_step(tmp_path: Path) -> None:
    outcome = run_remote(
        Placement("nowhere"),
        JobSpec("m1", "train", {}, {}),
        workdir=tmp_path,
        output=Output(),
        timeout=5,
        stop=threading.Event(),
        handle=None,
        on_handle=lambda h, again: None,
    )
    assert (outcome.ok, outcome.message) == (
        False,
        "no executor 'nowhere' is installed",
    )


def test_outputs_never_land_outside_the_workdir(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (work / "linked").symlink_to(outside)
    (work / "model.pt").symlink_to(outside / "model.pt")
    for name in ("../escape", "/etc/goap-x", "linked/x", "model.pt"):
        with pytest.raises(ExecutorError, match="workdir"):
            place_outputs(work, {name: b"x"})
    assert list(outside.iterdir()) == []


def test_inputs_are_regular_files_inside_the_workdir(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    (work / "data" / "a.csv").write_text("a")
    (tmp_path / "secret.csv").write_text("s")
    assert gather_inputs(work, ("data/*.csv",)) == {"data/a.csv": b"a"}
    (work / "data" / "b.csv").symlink_to(tmp_path / "secret.csv")
    with pytest.raises(ExecutorError, match="'data/b.csv' is not a regular file"):
        gather_inputs(work, ("data/*.csv",))
    with pytest.raises(ExecutorError, match=r"'\*.parquet' matches no file"):
        gather_inputs(work, ("*.parquet",))


def test_only_jobs_of_steps_left_unfinished_are_reconnected() -> None:
    events = [
        {"event": "remote_submitted", "run": "r1", "step": "a", "action": "a",
         "handle": "h-a"},
        {"event": "step_end", "run": "r1", "step": "a", "status": "failed"},
        {"event": "remote_submitted", "run": "r1", "step": "b", "action": "b",
         "handle": "h-b"},
        {"event": "remote_submitted", "run": "r0", "step": "c", "action": "c",
         "handle": "h-c"},
    ]  # fmt: skip
    assert remote_handles(events, "r1") == {"b": "h-b"}


def test_ray_not_installed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from goap_engine.executor.ray_executor import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)  # import fails
    with pytest.raises(ExecutorError) as caught:
        RayExecutor()
    assert str(caught.value) == (
        "runs_on: ray needs the 'ray' package: pip install 'goap-engine[ray]'"
    )


def _until_done(step: Any) -> tuple[bytes, int]:
    printed, deadline = b"", time.monotonic() + 20
    while True:
        data, _, code = step.read(len(printed))
        printed += data
        if code is not None:
            return printed, code
        assert time.monotonic() < deadline, printed
        time.sleep(0.02)


def test_the_ray_side_starts_the_command_at_the_first_read_only(
    tmp_path: Path,
) -> None:
    from goap_engine.executor.ray_step import StepProcess

    mark = tmp_path / "ran"
    step = StepProcess(f"echo ran >> {mark}; cat data.txt", {}, {"data.txt": b"rows\n"})
    time.sleep(0.2)
    # Created, not started: the engine has not journalled its handle yet.
    assert not mark.exists()
    assert _until_done(step) == (b"rows\n", 0)
    assert _until_done(step) == (b"rows\n", 0)  # read again: not run again
    assert mark.read_text() == "ran\n"
    step.cleanup()


def test_a_ray_step_cancelled_before_it_started_never_starts(tmp_path: Path) -> None:
    from goap_engine.executor.ray_step import StepProcess

    mark = tmp_path / "ran"
    step = StepProcess(["touch", str(mark)], {}, {})
    step.cancel()
    assert step.read(0) == (b"", 0, 143)
    assert not mark.exists()
    step.cleanup()
