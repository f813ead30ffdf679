"""Measure how fast the command line validates and plans the production goal.

The script times the real ``goap-engine`` commands as subprocesses from the
repository root (``validate`` and ``plan`` of ``goals.d/production.yaml``,
each without the ruleset cache -- ``--no-cache`` -- and with it, and
``--help``), with warm-up runs first, and the same work in-process: ``load()``
plus ``lint()``, and ``find_plan()``.  It checks that ``validate`` and ``plan``
import neither the integration libraries nor jinja2 (the seed's templates only
name values), and measures the start-up imports of ``--help``, ``validate``
and ``plan`` with ``python -X importtime``.

Commands run as an installed engine runs: the package's bytecode compiled
first, ``PYTHONDONTWRITEBYTECODE`` cleared (with it set every start compiles
the engine's modules again, some 50 ms here), and the cache in a fresh
temporary folder (``GOAP_CACHE_DIR``).

Run with ``.venv/bin/python benchmarks/validate_speed.py``; results are also
written to ``benchmarks/results/validate_speed.json``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common import revision

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "validate_speed.json"
GOAL = "goals.d/production.yaml"
EXAMPLE = "examples/tiny-cats"

CLI_RUNS = 20
CLI_WARMUPS = 2
INPROCESS_RUNS = 50
INPROCESS_WARMUPS = 2
IMPORTTIME_RUNS = 5
IMPORTTIME_TOP = 10
HEAVY_MODULES = ("mlflow", "modal", "github", "huggingface_hub", "git", "jinja2")

_MODULES_PROBE = """\
import json, sys
from click.testing import CliRunner
from goap_engine.cli import main
result = CliRunner().invoke(main, [{command!r}, {goal!r}, "--no-cache"])
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"exit_code": result.exit_code, "heavy": heavy,
                  "modules": len(sys.modules)}}))
"""


@dataclass(frozen=True)
class Timing:
    """Summary statistics of repeated wall-time measurements, in seconds."""

    name: str
    runs: int
    median: float
    minimum: float
    p90: float
    samples: list[float]
    failures: int = 0


@dataclass(frozen=True)
class ImportEntry:
    """One module from ``-X importtime``: own and cumulative time, nesting depth."""

    module: str
    depth: int
    self_us: float
    cumulative_us: float


def summarize(name: str, samples: Sequence[float], failures: int = 0) -> Timing:
    """Return the median, minimum and 90th percentile of ``samples``."""
    ordered = sorted(samples)
    # Nearest-rank percentile: the smallest sample with 90 % at or below it.
    p90 = ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]
    return Timing(
        name=name,
        runs=len(ordered),
        median=statistics.median(ordered),
        minimum=ordered[0],
        p90=p90,
        samples=list(samples),
        failures=failures,
    )


def cli_executable() -> Path:
    """Return the ``goap-engine`` script of the running environment."""
    beside = Path(sys.executable).parent / "goap-engine"
    if beside.exists():
        return beside
    found = shutil.which("goap-engine")
    if found is None:
        raise SystemExit("goap-engine is not installed in this environment")
    return Path(found)


def command_env(cache: Path) -> dict[str, str]:
    """Return the environment of a command: as installed, with its own cache."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["GOAP_CACHE_DIR"] = str(cache)
    env["NO_COLOR"] = "1"
    return env


ENV: dict[str, str] = dict(os.environ)


def time_command(
    name: str, argv: Sequence[str], runs: int, warmups: int, cwd: Path = ROOT
) -> tuple[Timing, int]:
    """Return the wall-time summary of ``argv`` run from the root, and its exit code."""
    samples: list[float] = []
    failures = 0
    code = 0
    for i in range(warmups + runs):
        began = time.perf_counter()
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        seconds = time.perf_counter() - began
        code = done.returncode
        if i < warmups:
            continue
        samples.append(seconds)
        failures += code != 0
    return summarize(name, samples, failures), code


def time_call(name: str, fn: Callable[[], object], runs: int, warmups: int) -> Timing:
    """Return the wall-time summary of ``fn()`` called ``runs`` times after warm-ups."""
    for _ in range(warmups):
        fn()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - began)
    return summarize(name, samples)


def in_process(runs: int, warmups: int) -> list[Timing]:
    """Return the in-process timings of load() + lint() and of find_plan()."""
    from goap_engine import find_plan, load
    from goap_engine.lint import lint

    goal = ROOT / GOAL

    def load_and_lint() -> object:
        return lint(load(goal))

    ruleset = load(goal)
    return [
        time_call("load() + lint()", load_and_lint, runs, warmups),
        time_call("find_plan()", lambda: find_plan(ruleset), runs, warmups),
    ]


def loaded_modules(command: str) -> dict[str, Any]:
    """Return which heavy modules are imported after running ``command`` in-process."""
    code = _MODULES_PROBE.format(command=command, goal=GOAL, heavy=HEAVY_MODULES)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        return {
            "command": command,
            "error": done.stderr.strip().splitlines()[-1:] or ["no output"],
        }
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    found["command"] = command
    return found


def parse_importtime(stderr: str) -> list[ImportEntry]:
    """Return the entries of ``-X importtime`` output, in the order printed."""
    entries = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        name = fields[2].rstrip()
        stripped = name.lstrip()
        # The first space separates the column; two more per nesting level.
        depth = (len(name) - len(stripped) - 1) // 2
        entries.append(ImportEntry(stripped, depth, float(fields[0]), float(fields[1])))
    return entries


def import_profile(
    cli: Path,
    runs: int,
    top: int,
    command: Sequence[str] = ("validate", GOAL),
    cwd: Path = ROOT,
) -> tuple[list[ImportEntry], float, int]:
    """Return the top imports of ``goap-engine COMMAND`` by median cumulative time.

    Also returns the median total import time (the sum over top-level imports,
    in microseconds) and the number of modules imported.
    """
    per_module: dict[str, list[ImportEntry]] = {}
    totals: list[float] = []
    count = 0
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", str(cli), *command],
            cwd=cwd,
            env=ENV,
            capture_output=True,
            text=True,
            check=False,
        )
        entries = parse_importtime(done.stderr)
        count = len(entries)
        totals.append(sum(e.cumulative_us for e in entries if e.depth == 0))
        for entry in entries:
            per_module.setdefault(entry.module, []).append(entry)
    merged = [
        ImportEntry(
            module=name,
            depth=found[0].depth,
            self_us=statistics.median(e.self_us for e in found),
            cumulative_us=statistics.median(e.cumulative_us for e in found),
        )
        for name, found in per_module.items()
    ]
    merged.sort(key=lambda e: e.cumulative_us, reverse=True)
    return merged[:top], statistics.median(totals), count


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def timing_table(rows: Sequence[Timing]) -> str:
    """Return timings as a Markdown table in milliseconds."""
    lines = [
        "| measurement | runs | median (ms) | min (ms) | p90 (ms) | failed runs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for t in rows:
        lines.append(
            f"| {t.name} | {t.runs} | {_ms(t.median)} | {_ms(t.minimum)} "
            f"| {_ms(t.p90)} | {t.failures} |"
        )
    return "\n".join(lines)


def modules_table(rows: Sequence[dict[str, Any]]) -> str:
    """Return the heavy-module check as a Markdown table."""
    lines = [
        "| command | exit code | modules loaded | heavy modules imported |",
        "|---|---:|---:|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['command']} | error | - | {r['error'][0]} |")
            continue
        heavy = ", ".join(r["heavy"]) or "none"
        lines.append(
            f"| {r['command']} | {r['exit_code']} | {r['modules']} | {heavy} |"
        )
    return "\n".join(lines)


def import_table(rows: Sequence[ImportEntry]) -> str:
    """Return the top imports as a Markdown table in milliseconds."""
    lines = [
        "| module | depth | cumulative (ms) | self (ms) |",
        "|---|---:|---:|---:|",
    ]
    for e in rows:
        lines.append(
            f"| `{e.module}` | {e.depth} | {e.cumulative_us / 1000:,.1f} "
            f"| {e.self_us / 1000:,.1f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print Markdown tables and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=CLI_RUNS)
    parser.add_argument("--warmups", type=int, default=CLI_WARMUPS)
    parser.add_argument("--inprocess-runs", type=int, default=INPROCESS_RUNS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    cli = str(cli_executable())
    import goap_engine

    compileall.compile_dir(Path(goap_engine.__file__).parent, quiet=1)
    commands = {
        f"goap-engine validate {GOAL} --no-cache": [
            *(cli, "validate", GOAL, "--no-cache")
        ],
        f"goap-engine validate {GOAL} (cached)": [cli, "validate", GOAL],
        # Planning senses the world: the example is the project its sensors fit.
        f"{EXAMPLE}: goap-engine plan {GOAL} --no-cache": [
            *(cli, "plan", GOAL, "--no-cache")
        ],
        f"{EXAMPLE}: goap-engine plan {GOAL} (cached)": [cli, "plan", GOAL],
        "goap-engine --help": [cli, "--help"],
        "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
    }
    cli_timings = []
    exit_codes = {}
    cache = tempfile.TemporaryDirectory()
    ENV.clear()
    ENV.update(command_env(Path(cache.name)))
    for name, command in commands.items():
        print(f"timing {name} ...", file=sys.stderr)
        cwd = ROOT / EXAMPLE if name.startswith(EXAMPLE) else ROOT
        timing, code = time_command(name, command, args.runs, args.warmups, cwd)
        cli_timings.append(timing)
        exit_codes[name] = code
    startups = {
        " ".join(c): import_profile(Path(cli), IMPORTTIME_RUNS, 0, c, ROOT / where)[1:]
        for c, where in (
            (("--help",), "."),
            (("validate", GOAL), "."),
            (("plan", GOAL), EXAMPLE),
        )
    }
    print("timing in-process calls ...", file=sys.stderr)
    inproc = in_process(args.inprocess_runs, INPROCESS_WARMUPS)
    modules = [loaded_modules(c) for c in ("validate", "plan")]
    imports, import_total_us, import_count = import_profile(
        Path(cli), IMPORTTIME_RUNS, IMPORTTIME_TOP
    )

    print(
        f"## CLI wall time (subprocess from the repository root, {args.runs} runs "
        f"after {args.warmups} warm-ups)\n"
    )
    print(timing_table(cli_timings))
    print(f"\n## In-process ({args.inprocess_runs} runs after warm-ups)\n")
    print(timing_table(inproc))
    print("\n## Heavy modules imported after validate / plan (CliRunner)\n")
    print(modules_table(modules))
    print(
        f"\n## Top {IMPORTTIME_TOP} imports of `goap-engine validate` by cumulative "
        f"time (python -X importtime, median of {IMPORTTIME_RUNS} runs)\n"
    )
    print(import_table(imports))
    print(
        f"\nAll imports: {import_total_us / 1000:,.1f} ms over {import_count} "
        "modules (sum of top-level cumulative times; importtime adds overhead)."
    )
    print("\n## Start-up imports per command (python -X importtime, median)\n")
    print("| command | imports (ms) | modules |\n|---|---:|---:|")
    for name, (total_us, count) in startups.items():
        print(f"| `goap-engine {name}` | {total_us / 1000:,.1f} | {count} |")
    cache.cleanup()

    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "validate_speed",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "revision": revision(),
        "goal": GOAL,
        "cli": {
            "runs": args.runs,
            "warmups": args.warmups,
            "exit_codes": exit_codes,
            "timings_s": [asdict(t) for t in cli_timings],
        },
        "in_process": {
            "runs": args.inprocess_runs,
            "timings_s": [asdict(t) for t in inproc],
        },
        "heavy_modules": {"checked": list(HEAVY_MODULES), "results": modules},
        "importtime": {
            "runs": IMPORTTIME_RUNS,
            "total_us": import_total_us,
            "modules": import_count,
            "top": [asdict(e) for e in imports],
            "per_command": {
                name: {"total_us": total, "modules": count}
                for name, (total, count) in startups.items()
            },
        },
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nResults written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
