"""The Modal executor's settings and matching, in process, on the SDK stand-in."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from goap_engine.executor.modal_executor import (
    MARGIN,
    MAX_LIFETIME,
    ModalExecutor,
)
from goap_engine.executor.ray_step import matches
from goap_engine.executor.remote import ExecutorError, JobSpec

STAND_IN = Path(__file__).parent / "integration" / "fakes" / "modal_sdk" / "modal"


@pytest.fixture
def sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The stand-in SDK under a name of its own (the real one stays importable)."""
    monkeypatch.setenv("FAKE_MODAL_ROOT", str(tmp_path))
    spec = importlib.util.spec_from_file_location(
        "modal_stand_in",
        STAND_IN / "__init__.py",
        submodule_search_locations=[str(STAND_IN)],
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "modal_stand_in", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("name", "pattern", "expected"),
    [
        ("model.txt", "*.txt", True),
        ("out/model.txt", "*.txt", False),
        ("out/model.txt", "out/*.txt", True),
        ("out/a/b/model.onnx", "out/**/*.onnx", True),
        ("out/model.onnx", "out/**/*.onnx", True),
        ("out/a/b", "out/**", True),
        (".hidden", "*", True),
        ("model-1.pt", "model-?.pt", True),
        ("model-10.pt", "model-?.pt", False),
        ("run3.log", "run[0-9].log", True),
        ("runx.log", "run[!x].log", False),
        ("a+b(c).txt", "a+b(c).txt", True),
        ("model.txt", "model.txt/**", False),
    ],
)
def test_an_output_glob_matches_as_path_glob_reads_it(
    name: str, pattern: str, expected: bool
) -> None:
    assert matches(name, pattern) is expected


def _spec(
    tmp_path: Path, options: dict[str, object], timeout: float | None = 60
) -> JobSpec:
    return JobSpec("m1", "true", {"A": "1"}, {}, options, timeout, tmp_path)


def test_the_sandbox_lives_the_step_timeout_plus_a_margin_at_most_a_day(
    sdk: ModuleType, tmp_path: Path
) -> None:
    executor = ModalExecutor(sdk)
    assert executor.settings(_spec(tmp_path, {}), {})["timeout"] == 60 + MARGIN
    spec = _spec(tmp_path, {}, timeout=None)
    assert executor.settings(spec, {})["timeout"] == MAX_LIFETIME
    assert executor.settings(spec, {"timeout": 90.5})["timeout"] == 91


def test_an_image_from_a_registry_or_a_dockerfile_in_the_workdir(
    sdk: ModuleType, tmp_path: Path
) -> None:
    executor = ModalExecutor(sdk)
    image = executor.image(
        {"registry": "nvidia/cuda:12.4.0", "python": "3.11"}, tmp_path
    )
    assert image.chain == [["from_registry", "nvidia/cuda:12.4.0", "3.11"]]
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM python:3.12-slim\n")
    image = executor.image(
        {"dockerfile": "docker/Dockerfile", "pip": ["torch"]}, tmp_path
    )
    assert image.chain == [
        ["from_dockerfile", str(tmp_path / "docker" / "Dockerfile"), None],
        ["pip_install", "torch"],
    ]


@pytest.mark.parametrize("path", ["../Dockerfile", "/etc/passwd", "missing/Dockerfile"])
def test_a_dockerfile_outside_the_workdir_or_missing_is_refused(
    sdk: ModuleType, tmp_path: Path, path: str
) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(ExecutorError, match="expected a file inside"):
        ModalExecutor(sdk).image({"dockerfile": path}, tmp_path / "project")


def test_a_handle_that_is_no_sandbox_id_is_not_looked_up(
    sdk: ModuleType, tmp_path: Path
) -> None:
    executor = ModalExecutor(sdk)
    executor.checked = True  # no token check: nothing here talks to Modal
    assert executor.reconnect("goap-m1-0123abcd", {}) is None
    assert executor.reconnect("sb-../../etc", {}) is None
    assert not (tmp_path / "calls.jsonl").exists()


def _finish(job: Any) -> tuple[int, bytes]:
    printed = b""
    deadline = time.monotonic() + 30
    while (code := job.exit_code()) is None:
        assert time.monotonic() < deadline, printed
        printed += job.read()
        time.sleep(0.05)
    return code, printed + job.read()


def test_a_job_journalled_but_never_started_is_started_by_the_reconnect(
    sdk: ModuleType, tmp_path: Path
) -> None:
    executor = ModalExecutor(sdk)
    executor.checked = True
    spec = JobSpec("m1", ["sh", "-c", "echo it ran >> count; cat count"], {}, {})
    # The engine that submitted it died before its first read started it.
    first = executor.submit(spec)
    assert not first.started
    job = executor.reconnect(first.handle, {})
    assert job is not None and not job.started
    code, printed = _finish(job)
    assert (code, printed) == (0, b"it ran\n")
    # Reconnected once more, it follows the command that ran; nothing runs twice.
    again = executor.reconnect(first.handle, {})
    assert again is not None and again.started
    assert _finish(again) == (0, b"it ran\n")
    assert job.outputs(("count",)) == {"count": b"it ran\n"}
    job.release()
    assert executor.reconnect(first.handle, {}) is None  # ended: gone
