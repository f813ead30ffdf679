"""The quality, validation and environment built-ins, as actions and as sensors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from goap_engine.executor.hooks import HookContext
from goap_engine.integrations import IntegrationError, environment, quality, validation

ACTION = "step"
SENSOR = ""
# Inner pytest runs skip plugins they do not need: each run starts faster.
QUIET = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest"]


def context(
    workdir: Path,
    log: list[str] | None = None,
    *,
    action: str = ACTION,
    env: dict[str, str] | None = None,
    timeout: float | None = 60,
    **args: Any,
) -> HookContext:
    return HookContext(
        args=args,
        vars={},
        state={},
        workdir=workdir,
        env=env if env is not None else {},
        log=(log if log is not None else []).append,
        action=action,
        timeout=timeout,
    )


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def executable(path: Path, text: str) -> Path:
    write(path.parent, path.name, text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# ruff


def test_ruff_passes_a_clean_file(tmp_path: Path) -> None:
    write(tmp_path, "clean.py", "VALUE = 1\n")
    log: list[str] = []
    assert quality.ruff(context(tmp_path, log, paths=["clean.py"])) is True
    assert log == ["ruff: passed"]
    assert quality.ruff(context(tmp_path, action=SENSOR)) is True


def test_ruff_on_a_dirty_file_fails_with_its_findings(tmp_path: Path) -> None:
    write(tmp_path, "dirty.py", "import os\n")
    with pytest.raises(IntegrationError, match=r"ruff failed[\s\S]*dirty.py.*F401"):
        quality.ruff(context(tmp_path, paths=["dirty.py"]))
    log: list[str] = []
    assert quality.ruff(context(tmp_path, log, action=SENSOR)) is False
    assert any("F401" in line for line in log)


def test_ruff_fix_repairs_what_it_can(tmp_path: Path) -> None:
    path = write(tmp_path, "dirty.py", "import os\n\nVALUE = 1\n")
    assert quality.ruff(context(tmp_path, fix=True)) is True
    assert "import os" not in path.read_text()


def test_ruff_that_cannot_run_is_an_error_even_for_a_sensor(tmp_path: Path) -> None:
    with pytest.raises(IntegrationError, match="path not found: no_such_file.py"):
        quality.ruff(context(tmp_path, action=SENSOR, paths=["no_such_file.py"]))
    write(tmp_path, "ok.py", "VALUE = 1\n")
    write(tmp_path, "ruff.toml", "[lint\n")
    with pytest.raises(IntegrationError, match="ruff could not run.*exit code 2"):
        quality.ruff(context(tmp_path, action=SENSOR))


# tsc (a stand-in compiler: the real one needs node_modules)

FAKE_TSC = """
    #!/bin/sh
    echo "$@" > "${0%/*}/args"
    if [ -f broken ]; then
        echo "src/a.ts(1,7): error TS2322: Type 'string' is not assignable."
        exit 2
    fi
    exit 0
"""


@pytest.fixture
def no_path_tools(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH holds no tsc (nor anything else)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return {"PATH": str(empty)}


def test_tsc_runs_the_projects_own_compiler(
    tmp_path: Path, no_path_tools: dict[str, str]
) -> None:
    tsc = executable(tmp_path / "node_modules" / ".bin" / "tsc", FAKE_TSC)
    web = tmp_path / "web"
    write(web, "tsconfig.json", "{}")
    ctx = context(tmp_path, env=no_path_tools, project="web")
    assert quality.tsc(ctx) is True
    args = (tsc.parent / "args").read_text().split()
    assert args == ["--noEmit", "--pretty", "false", "-p", str(web)]

    (tmp_path / "broken").write_text("")
    with pytest.raises(IntegrationError, match="tsc failed.*\n.*TS2322"):
        quality.tsc(context(tmp_path, env=no_path_tools, project="web"))
    sensor = context(tmp_path, action=SENSOR, env=no_path_tools, project="web")
    assert quality.tsc(sensor) is False


def test_tsc_from_path(tmp_path: Path) -> None:
    executable(tmp_path / "bin" / "tsc", FAKE_TSC)
    assert quality.tsc(context(tmp_path, env={"PATH": str(tmp_path / "bin")})) is True


def test_tsc_not_available(tmp_path: Path, no_path_tools: dict[str, str]) -> None:
    with pytest.raises(IntegrationError, match="tsc not available"):
        quality.tsc(context(tmp_path, env=no_path_tools))
    with pytest.raises(IntegrationError, match="project not found"):
        quality.tsc(context(tmp_path, env=no_path_tools, project="nowhere"))


# pytest


def test_pytest_passes_and_fails(tmp_path: Path) -> None:
    write(tmp_path, "test_ok.py", "def test_ok():\n    assert True\n")
    write(tmp_path, "test_bad.py", "def test_bad():\n    assert 1 == 2\n")
    log: list[str] = []
    ok = context(tmp_path, log, paths=["test_ok.py"], args=QUIET)
    assert quality.pytest(ok) is True
    assert log == ["pytest: passed"]

    with pytest.raises(IntegrationError, match=r"pytest failed[\s\S]*1 failed"):
        quality.pytest(context(tmp_path, args=QUIET))
    sensor = context(tmp_path, action=SENSOR, args=QUIET)
    assert quality.pytest(sensor) is False


def test_pytest_with_no_tests_is_not_a_pass(tmp_path: Path) -> None:
    with pytest.raises(IntegrationError, match="exit code 5"):
        quality.pytest(context(tmp_path, args=QUIET))


def test_checks_respect_the_timeout(tmp_path: Path) -> None:
    write(
        tmp_path,
        "test_slow.py",
        "import time\n\ndef test_slow():\n    time.sleep(60)\n",
    )
    ctx = context(tmp_path, action=SENSOR, timeout=1.5, args=QUIET)
    with pytest.raises(IntegrationError, match="timed out after 1.5 s"):
        quality.pytest(ctx)


# tool_available


def test_tool_available(tmp_path: Path, no_path_tools: dict[str, str]) -> None:
    def available(tool: str, env: dict[str, str] | None = None) -> bool:
        return quality.tool_available(
            context(tmp_path, action=SENSOR, env=env, tool=tool)
        )

    assert available("ruff") is True
    assert available("pytest") is True
    assert available("sh") is True
    assert available("no-such-tool-for-goap-tests") is False
    assert available("tsc", no_path_tools) is False
    executable(tmp_path / "node_modules" / ".bin" / "tsc", FAKE_TSC)
    assert available("tsc", no_path_tools) is True
    # Nothing ran: the stand-in compiler would have written its arguments.
    assert not (tmp_path / "node_modules" / ".bin" / "args").exists()
    with pytest.raises(IntegrationError, match="needs 'tool'"):
        quality.tool_available(context(tmp_path))


# validation gates

REPORT = {
    "passed": True,
    "metrics": {"accuracy": 0.93, "f1.macro": 0.88, "loss": "n/a"},
    "latency_ms": {"p50": 4, "p95": 11.5},
    "layers": [{"size": 128}, {"size": 64}],
    "format": "onnx",
}


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "validation_report.json"
    path.write_text(json.dumps(REPORT))
    return path


def gates_ctx(tmp_path: Path, log: list[str] | None = None, **args: Any) -> HookContext:
    args.setdefault("report", "validation_report.json")
    return context(tmp_path, log, **args)


def test_gates_pass_and_log_each_value(tmp_path: Path, report: Path) -> None:
    log: list[str] = []
    gates = {
        "metrics.accuracy": ">= 0.9",
        "metrics.f1.macro": "> 0.8",
        "latency_ms.p95": "<= 12",
        "latency_ms.p50": "== 4",
        "passed": "== true",
        "format": "== 'onnx'",
        "layers.1.size": "!= 128",
    }
    assert validation.gates(gates_ctx(tmp_path, log, gates=gates)) is True
    assert log[0] == "pass metrics.accuracy = 0.93 (>= 0.9)"
    assert "pass passed = true (== true)" in log
    assert log[-1] == "all 7 gate(s) passed"


def test_every_failing_gate_is_named_with_expected_and_actual(
    tmp_path: Path, report: Path
) -> None:
    gates = {
        "metrics.accuracy": ">= 0.95",
        "latency_ms.p95": "<= 12",
        "latency_ms.p50": "< 3",
        "passed": "== false",
        "metrics.recall": ">= 0.5",
        "metrics.loss": "<= 0.1",
    }
    log: list[str] = []
    with pytest.raises(IntegrationError) as failed:
        validation.gates(gates_ctx(tmp_path, log, gates=gates))
    message = str(failed.value)
    assert message.splitlines() == [
        "5 validation gate(s) failed:",
        "  - metrics.accuracy: expected >= 0.95, got 0.93",
        "  - latency_ms.p50: expected < 3, got 4",
        "  - passed: expected == false, got true",
        "  - metrics.recall: not in the report (no 'recall')",
        '  - metrics.loss: expected <= 0.1, got "n/a", which is not a number',
    ]
    assert "pass latency_ms.p95 = 11.5 (<= 12)" in log
    assert "FAIL metrics.accuracy: expected >= 0.95, got 0.93" in log


def test_gates_as_a_sensor_return_a_bool(tmp_path: Path, report: Path) -> None:
    passing = gates_ctx(tmp_path, action=SENSOR, gates={"metrics.accuracy": ">= 0.9"})
    failing = gates_ctx(tmp_path, action=SENSOR, gates={"metrics.accuracy": ">= 0.99"})
    missing = gates_ctx(
        tmp_path, action=SENSOR, report="absent.json", gates={"passed": "== true"}
    )
    assert validation.gates(passing) is True
    assert validation.gates(failing) is False
    assert validation.gates(missing) is False


def test_a_missing_or_broken_report_is_named(tmp_path: Path) -> None:
    with pytest.raises(IntegrationError, match="report absent.json not found"):
        validation.gates(gates_ctx(tmp_path, report="absent.json", gates={"a": "> 1"}))
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(IntegrationError, match=r"report broken.json:1:2: invalid JSON"):
        validation.gates(gates_ctx(tmp_path, report="broken.json", gates={"a": "> 1"}))


def test_a_report_that_is_not_a_plain_file_fails_at_once(tmp_path: Path) -> None:
    # Named by a value, a FIFO would block the step and a device fill memory.
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "deep.json").write_text("[" * 100 + "]" * 100)
    for report, message in (
        ("fifo.json", "report fifo.json: is a FIFO (named pipe), expected a regular"),
        ("/dev/zero", "report /dev/zero: is a device, expected a regular file"),
        ("deep.json", "report deep.json:1:65: JSON nested deeper than 64 levels"),
    ):
        with pytest.raises(IntegrationError) as caught:
            validation.gates(gates_ctx(tmp_path, report=report, gates={"a": "> 1"}))
        assert message in str(caught.value)


def test_a_key_may_take_several_conditions(tmp_path: Path, report: Path) -> None:
    log: list[str] = []
    # An empty condition (a template var left unset) is no condition.
    gates = {"metrics.accuracy": [">= 0.9", "", "< 1"]}
    assert validation.gates(gates_ctx(tmp_path, log, gates=gates)) is True
    assert log == [
        "pass metrics.accuracy = 0.93 (>= 0.9)",
        "pass metrics.accuracy = 0.93 (< 1)",
        "all 2 gate(s) passed",
    ]
    with pytest.raises(IntegrationError) as caught:
        validation.gates(
            gates_ctx(tmp_path, gates={"metrics.accuracy": [">= 0.9", "> 0.95"]})
        )
    assert str(caught.value) == (
        "1 validation gate(s) failed:\n  - metrics.accuracy: expected > 0.95, got 0.93"
    )


@pytest.mark.parametrize(
    ("gates", "message"),
    [
        ({"metrics.accuracy": ">= high"}, "needs a number"),
        ({"metrics.accuracy": ">="}, "has no value"),
        ({"metrics.accuracy": [["> 1"]]}, "condition must be a string"),
        ({}, "needs 'gates' or 'files'"),
    ],
)
def test_unreadable_gates_are_errors_even_for_a_sensor(
    tmp_path: Path, report: Path, gates: dict[str, Any], message: str
) -> None:
    with pytest.raises(IntegrationError, match=message):
        validation.gates(gates_ctx(tmp_path, action=SENSOR, gates=gates))


def test_size_gates(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"\0" * (3 * 1024 * 1024 + 512 * 1024))
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "a.bin").write_bytes(b"\0" * 1000)
    (tmp_path / "weights" / "b.bin").write_bytes(b"\0" * 1000)
    log: list[str] = []
    files = {"model.onnx": "<= 15MB", "weights": "< 2KB", "weights/a.bin": "== 1000"}
    assert validation.gates(context(tmp_path, log, files=files)) is True
    assert log[:3] == [
        "pass model.onnx: size 3.50MB (3670016 B) <= 15MB",
        "pass weights: size 1.95KB (2000 B) < 2KB",
        "pass weights/a.bin: size 1000 B == 1000",
    ]

    files = {"model.onnx": "<= 3 MiB", "weights": "<= 1.5KB", "absent.bin": "<= 1GB"}
    with pytest.raises(IntegrationError) as failed:
        validation.gates(context(tmp_path, files=files))
    assert str(failed.value).splitlines()[1:] == [
        "  - model.onnx: expected size <= 3 MiB, got 3.50MB (3670016 B)",
        "  - weights: expected size <= 1.5KB, got 1.95KB (2000 B)",
        "  - absent.bin: file not found",
    ]
    with pytest.raises(IntegrationError, match="not a size such as"):
        validation.gates(context(tmp_path, files={"model.onnx": "<= 15 parsecs"}))


def test_key_and_size_gates_together(tmp_path: Path, report: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"\0" * 100)
    ctx = gates_ctx(
        tmp_path,
        gates={"metrics.accuracy": ">= 0.99"},
        files={"model.onnx": "<= 10B"},
    )
    with pytest.raises(IntegrationError) as failed:
        validation.gates(ctx)
    assert str(failed.value).splitlines() == [
        "2 validation gate(s) failed:",
        "  - metrics.accuracy: expected >= 0.99, got 0.93",
        "  - model.onnx: expected size <= 10B, got 100 B",
    ]


# environment


def test_env_has(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOAP_TEST_SET", "yes")
    monkeypatch.setenv("GOAP_TEST_EMPTY", "")
    monkeypatch.delenv("GOAP_TEST_UNSET", raising=False)

    def has(name: str, env: dict[str, str] | None = None) -> bool:
        return environment.has(context(tmp_path, action=SENSOR, env=env, name=name))

    assert has("GOAP_TEST_SET") is True
    assert has("GOAP_TEST_EMPTY") is False
    assert has("GOAP_TEST_UNSET") is False
    assert has("GOAP_TEST_UNSET", {"GOAP_TEST_UNSET": "from the action"}) is True


def test_file_exists(tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "pkg-1.0-py3-none-any.whl").write_text("")

    def exists(path: str) -> bool:
        return environment.file_exists(context(tmp_path, action=SENSOR, path=path))

    assert exists("dist") is True
    assert exists("dist/pkg-1.0-py3-none-any.whl") is True
    assert exists("dist/*.whl") is True
    assert exists("dist/*.tar.gz") is False
    assert exists("missing.txt") is False
    with pytest.raises(IntegrationError, match="needs 'path'"):
        environment.file_exists(context(tmp_path))


# imports


def test_integration_modules_import_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "import goap_engine.integrations.git\n"
        "import goap_engine.integrations.quality\n"
        "import goap_engine.integrations.validation\n"
        "import goap_engine.integrations.environment\n"
        "print(sorted(m for m in ('git', 'github', 'huggingface_hub', 'mlflow',"
        " 'modal') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
