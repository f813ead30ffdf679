"""Hostile and malformed input: exact outcomes, and never exit 70 nor a hang.

Every case of tests/data/hostile/ (format: tests/hostile.py) runs as a real
engine process in a temporary copy; each step's exit code and messages are
asserted, then what must not exist and where a secret must not be.  The sweep
then runs ``validate``, ``plan`` and ``run --dry-run`` on every goal of
tests/data/invalid/ and of the hostile corpus under a time limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hostile import (
    INVALID,
    files_holding,
    hostile_cases,
    load_case,
    prepare,
    secret_forms,
)

STEP_TIMEOUT = 60
SWEEP = Path(__file__).resolve().parent / "sweep.py"


def _env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOAP_")}
    env.update({"HOME": str(home), "NO_COLOR": "1", "TERM": "dumb"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def test_corpus_is_there_and_well_formed() -> None:
    cases = hostile_cases()
    assert len(cases) >= 40, [c.name for c in cases]
    for folder in cases:
        load_case(folder)


# Cases that take over ten seconds by design (a template that doubles until
# its limit): run by 'make test-all' and CI, left out of 'make test'.
SLOW_CASES = {"template-exponential-macro"}


@pytest.mark.parametrize(
    "folder",
    [
        pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW_CASES else p
        for p in hostile_cases()
    ],
    ids=lambda p: p.name,
)
def test_hostile_case(folder: Path, tmp_path: Path) -> None:
    case = load_case(folder)
    copy = prepare(folder, tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, case.get("env") or {})
    outputs = []
    for number, step in enumerate(case["steps"], 1):
        argv = [str(a) for a in step["argv"]]
        try:
            result = subprocess.run(
                [sys.executable, "-m", "goap_engine", *argv],
                cwd=copy,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=STEP_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"step {number} ({' '.join(argv)}) hung")
        shown = f"step {number}: {' '.join(argv)}\n{result.stdout}\n{result.stderr}"
        assert result.returncode != 70, shown
        assert "Traceback" not in result.stderr, shown
        assert result.returncode == step["exit"], shown
        for text in step.get("stdout") or []:
            assert text in result.stdout, shown
        for text in step.get("stderr") or []:
            assert text in result.stderr, shown
        outputs.append(result.stdout + result.stderr)
    for name in case.get("absent") or []:
        path = Path(name) if os.path.isabs(name) else copy / name
        assert not os.path.lexists(path), f"{name} was created"
    if case.get("secret"):
        forms = secret_forms(case["secret"])
        leaked = [f for f in forms for out in outputs if f in out]
        assert leaked == [], f"secret in output as {leaked}"
        assert files_holding(copy, forms) == []
        assert files_holding(home, forms) == []


@pytest.mark.slow
def test_no_input_ends_in_exit_70_or_a_hang(tmp_path: Path) -> None:
    goals = sorted(INVALID.glob("*.yaml"))
    goals += sorted(p / "goal.yaml" for p in INVALID.iterdir() if p.is_dir())
    for number, folder in enumerate(hostile_cases()):
        copy = prepare(folder, tmp_path / str(number))
        found = sorted(copy.glob("goals.d/*.yaml")) + sorted(copy.glob("*.yaml"))
        goals += [g for g in found if g.is_file() and not g.is_symlink()]
    home = tmp_path / "home"
    home.mkdir()
    results: list[dict[str, object]] = []
    remaining = goals
    while remaining:
        # A sweep ends itself after a command stuck in C code: go on after it.
        proc = subprocess.run(
            [sys.executable, str(SWEEP), *map(str, remaining)],
            env=_env(home, {}),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=900,
        )
        done = [json.loads(line) for line in proc.stdout.splitlines()]
        assert done, proc.stderr[-3000:]
        results += done
        finished = {r["goal"] for r in done}
        last = done[-1]["goal"]
        remaining = [g for g in remaining if str(g) not in finished]
        if proc.returncode == 0:
            assert remaining == [], proc.stderr[-3000:]
        else:
            assert done[-1]["hung"], proc.stderr[-3000:]
            remaining = [g for g in remaining if str(g) != last]
    assert len({(r["goal"], str(r["args"])) for r in results}) <= 3 * len(goals)
    bad = [r for r in results if r["exit"] == 70 or r["hung"] or r["traceback"]]
    assert bad == [], json.dumps(bad, indent=1)
