"""Helpers shared by the planner's tests: rulesets from text, the IPC corpus."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from goap_engine import load
from goap_engine.model import Ruleset
from goap_engine.pddl.convert import load_pddl

# The IPC instances beside the repository (also present in CI); tests that
# need them skip where they are missing.
BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "ipc-pddl"
needs_bench = pytest.mark.skipif(not BENCH.is_dir(), reason=f"{BENCH} is missing")


def load_text(tmp: Path, text: str) -> Ruleset:
    """Return the ruleset of a goal file holding ``text``."""
    path = tmp / "goal.yaml"
    path.write_text(text)
    return load(path)


def instance(domain: str, problem: str) -> Ruleset:
    """Return the ruleset of one IPC instance."""
    folder = BENCH / domain
    return load_pddl(folder / "domain.pddl", folder / f"{problem}.pddl")


def optimal_costs() -> dict[tuple[str, str], int]:
    """Return the known optimal cost of each IPC instance ({} without them)."""
    path = BENCH / "optimal-costs.csv"
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {
            (r["domain"], r["problem"]): int(r["optimal_cost"])
            for r in csv.DictReader(f)
        }
