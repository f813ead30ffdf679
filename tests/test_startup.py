"""Each command imports only what it needs (checked in fresh interpreters)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOAL = str(ROOT / "goals.d" / "production.yaml")

# Libraries that cost tens of milliseconds to import, or need an optional extra.
LIBRARIES = (
    "jsonschema",
    "referencing",
    "jinja2",
    "rich",
    "ruamel.yaml",
    "yaml",
    "simpleeval",
    "git",
    "github",
    "huggingface_hub",
    "mlflow",
    "modal",
    "mcp",
    "uvicorn",
    "starlette",
)
# The engine's own layers below the command line.
LAYERS = (
    "goap_engine.loader",
    "goap_engine.documents",
    "goap_engine.model",
    "goap_engine.planner",
    "goap_engine.executor",
    "goap_engine.integrations",
    "goap_engine.pddl",
    "goap_engine.mcp_server",
    "goap_engine.mcp_http",
    "goap_engine.mcp_runs",
)
# What senses and runs hooks: processes, workers, the run loop.
RUNNING = (
    "goap_engine.executor.sensing",
    "goap_engine.executor.hooks",
    "goap_engine.executor.processes",
    "goap_engine.executor.worker",
    "goap_engine.executor.runner",
    "goap_engine.integrations",
    "rich",
    "git",
    "github",
    "huggingface_hub",
    "mlflow",
    "modal",
)

_PROBE = """\
import json, sys
argv = json.loads(sys.argv[1])
if argv is not None:
    from click.testing import CliRunner
    from goap_engine.cli import main
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
else:
    import goap_engine.cli
print(json.dumps(sorted(sys.modules)))
"""


def imported(argv: list[str] | None) -> set[str]:
    """Return the modules a fresh interpreter holds after running ``argv``."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argv)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return set(json.loads(done.stdout))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Return the names (packages count with their submodules) among ``modules``."""
    return sorted(
        n for n in names if n in modules or any(m.startswith(n + ".") for m in modules)
    )


def test_importing_the_command_line_loads_no_library_and_no_layer() -> None:
    modules = imported(None)
    assert "goap_engine.cli" in modules
    assert loaded(modules, LIBRARIES + LAYERS) == []


def test_help_loads_no_library_and_no_layer() -> None:
    assert loaded(imported(["--help"]), LIBRARIES + LAYERS) == []


@pytest.mark.parametrize(
    "argv",
    [["validate", GOAL], ["plan", "--no-sense", GOAL]],
    ids=["validate", "plan-no-sense"],
)
def test_validate_and_plan_without_sensing_load_nothing_that_runs(
    argv: list[str],
) -> None:
    modules = imported(argv)
    assert "goap_engine.loader" in modules
    assert loaded(modules, RUNNING) == []


def test_builtins_loads_no_library_and_no_layer() -> None:
    """The reference comes from the language layer's registry alone."""
    modules = imported(["builtins", "git.push"])
    assert "goap_engine.language.builtins" in modules
    # Every command's error guard imports the executor's redaction, no more.
    others = tuple(n for n in LAYERS if n != "goap_engine.executor")
    assert loaded(modules, LIBRARIES + RUNNING + others) == []
    assert "goap_engine.executor.builtins" not in modules


@pytest.mark.parametrize(
    "argv",
    [["validate", GOAL], ["plan", "--no-sense", GOAL], ["mcp", "--help"]],
    ids=["validate", "plan-no-sense", "mcp-help"],
)
def test_no_command_but_mcp_itself_imports_the_mcp_sdk(argv: list[str]) -> None:
    """The SDK (with its web server) is imported when 'mcp' serves, not before."""
    modules = imported(argv)
    assert loaded(modules, ("mcp", "uvicorn", "starlette", "httpx2")) == []
    assert loaded(modules, ("goap_engine.mcp_server", "goap_engine.mcp_runs")) == []
