"""Measure loading as a person or an agent meets it: whole commands, cold and cached.

* ``validate goals.d/production.yaml``: median of 20 runs of the real command,
  without the ruleset cache (``--no-cache``) and with it (after one run has
  filled it).
* ``plan`` of generated rulesets of 100, 1,000 and 10,000 actions (the
  generator of ``scaling.py``), cold and cached, as real commands.
* The baseline ratio: in the same run, the time ruamel.yaml's round-trip
  parser (the reader before libyaml) takes to parse the same files, against
  the engine's reader now.

Every command runs with ``GOAP_CACHE_DIR`` in a fresh temporary folder, so no
earlier run's cache is used, and as an installed engine runs: the package's
bytecode compiled first and ``PYTHONDONTWRITEBYTECODE`` cleared.  Results go
to ``benchmarks/results/loading.json``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import revision
from scaling import generate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "loading.json"
GOAL = "goals.d/production.yaml"
SIZES = (100, 1_000, 10_000)


def cli() -> str:
    beside = Path(sys.executable).parent / "goap-engine"
    return str(beside) if beside.exists() else "goap-engine"


def timed(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - began
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
    return seconds


def median_of(argv: Sequence[str], cwd: Path, env: dict[str, str], runs: int) -> float:
    return statistics.median(timed(argv, cwd, env) for _ in range(runs))


def parse_times(files: list[Path]) -> dict[str, float]:
    """Return seconds to parse ``files`` with ruamel.yaml (round trip) and now."""
    from ruamel.yaml import YAML

    from goap_engine.documents import read_document

    texts = [f.read_text() for f in files]
    began = time.perf_counter()
    for text in texts:
        YAML(typ="rt").load(text)
    ruamel = time.perf_counter() - began
    began = time.perf_counter()
    for f in files:
        read_document(f)
    now = time.perf_counter() - began
    return {"ruamel_s": round(ruamel, 3), "engine_s": round(now, 3)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--plan-runs", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    args = parser.parse_args(argv)
    exe = cli()
    report: dict[str, Any] = {"benchmark": "loading", "revision": revision()}
    import goap_engine

    compileall.compile_dir(Path(goap_engine.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(GOAP_CACHE_DIR=str(Path(tmp) / "cache"), NO_COLOR="1")
        validate = [exe, "validate", GOAL]
        cold = median_of([*validate, "--no-cache"], ROOT, env, args.runs)
        timed(validate, ROOT, env)
        cached = median_of(validate, ROOT, env, args.runs)
        seed_files = sorted(ROOT.glob("goals.d/*.yaml")) + sorted(
            ROOT.glob("actions.d/*.yaml")
        )
        report["validate_seed"] = {
            "cold_s": round(cold, 3),
            "cached_s": round(cached, 3),
            "parse": parse_times(seed_files),
        }
        print(f"validate {GOAL}: cold {cold:.3f} s, cached {cached:.3f} s")
        rows = []
        for size in args.sizes:
            folder = Path(tmp) / f"n{size}"
            folder.mkdir()
            scenario = generate(folder, size)
            plan = [exe, "plan", str(scenario.goal)]
            cold = median_of([*plan, "--no-cache"], folder, env, args.plan_runs)
            timed(plan, folder, env)
            cached = median_of(plan, folder, env, args.plan_runs)
            files = sorted(p for p in folder.rglob("*.yaml"))
            row = {
                "actions": size,
                "plan_cold_s": round(cold, 3),
                "plan_cached_s": round(cached, 3),
                "parse": parse_times(files),
            }
            rows.append(row)
            print(
                f"{size:>6} actions: plan cold {cold:.2f} s, cached {cached:.2f} s; "
                f"parse ruamel {row['parse']['ruamel_s']} s vs now "
                f"{row['parse']['engine_s']} s"
            )
        report["plan"] = rows
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
