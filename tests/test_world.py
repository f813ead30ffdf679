"""Source fingerprints, fact origins and expiry, relevance and unknown values."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from goap_engine.errors import InputError, Location
from goap_engine.executor.world import (
    SensorFailure,
    Start,
    check_unknowns,
    expire,
    fingerprint_sources,
    record_facts,
    sources_changed,
    stamp,
)
from goap_engine.loader import load
from goap_engine.planner.relevance import relevant_variables

GOAL = """
version: 1
state:
  fetched: {type: bool, remember: 1h}
  built: {type: bool, remember: run}
  tested: bool
  seen: {type: bool, sense: "true"}
  unrelated: {type: int, sense: {shell: "echo 1", from: stdout}}
actions:
  fetch: {effects: {fetched: true}, sources: ["src/**"]}
  build: {pre: fetched, effects: {built: true, seen: true}}
  test: {pre: built and seen, effects: {tested: true}}
  other: {pre: unrelated > 0, effects: {unrelated: 2}}
goal: [tested]
"""


def test_fingerprint_hashes_only_files_whose_stat_changed(tmp_path: Path) -> None:
    (tmp_path / "src" / "deep").mkdir(parents=True)
    (tmp_path / "src" / "a.py").write_text("a")
    (tmp_path / "src" / "deep" / "b.py").write_text("b")
    (tmp_path / ".goap").mkdir()
    first = fingerprint_sources(tmp_path, ["src/**", "**/*.py"])
    assert sorted(first["files"]) == ["src/a.py", "src/deep/b.py"]
    # A recorded hash is trusted while size and mtime are unchanged.
    fake = {"globs": first["globs"], "files": dict(first["files"])}
    fake["files"]["src/a.py"] = dict(fake["files"]["src/a.py"], sha256="recorded")
    assert (
        fingerprint_sources(tmp_path, fake["globs"], fake)["files"]["src/a.py"][
            "sha256"
        ]
        == "recorded"
    )
    info = (tmp_path / "src" / "a.py").stat()
    os.utime(tmp_path / "src" / "a.py", ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    touched = fingerprint_sources(tmp_path, first["globs"], fake)
    assert (
        touched["files"]["src/a.py"]["sha256"] == first["files"]["src/a.py"]["sha256"]
    )
    assert sources_changed(first, touched) == ""
    (tmp_path / "src" / "a.py").write_text("A")
    changed = fingerprint_sources(tmp_path, first["globs"], first)
    assert sources_changed(first, changed) == "src/a.py changed"
    (tmp_path / "src" / "deep" / "b.py").unlink()
    (tmp_path / "src" / "c.py").write_text("c")
    later = fingerprint_sources(tmp_path, first["globs"], changed)
    assert (
        sources_changed(changed, later) == "src/c.py is new, src/deep/b.py was deleted"
    )
    assert sources_changed(first, {"globs": ["x"], "files": {}}) != ""


def test_record_facts_and_expiry(tmp_path: Path) -> None:
    path = tmp_path / "goal.yaml"
    path.write_text(GOAL)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.py").write_text("x")
    ruleset = load(path)
    origins: dict[str, dict[str, object]] = {}
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    prints = fingerprint_sources(tmp_path, ["src/**"])
    fetch, build = ruleset.action("fetch"), ruleset.action("build")
    record_facts(origins, ruleset, fetch, run_id="r1", fingerprint=prints, at=stamp(t0))
    record_facts(origins, ruleset, build, run_id="r1", fingerprint=None, at=stamp(t0))
    # Sensed effects are read again, never remembered.
    assert set(origins) == {"fetched", "built"}
    assert origins["fetched"]["action"] == "fetch"
    assert expire(ruleset, origins, run_id="r1", now=t0) == {}
    later = expire(ruleset, origins, run_id="r2", now=t0 + timedelta(minutes=30))
    assert later == {"built": "remembered for run r1 only"}
    old = expire(ruleset, origins, run_id="r1", now=t0 + timedelta(hours=2))
    assert old["fetched"].startswith("older than 1h")
    (tmp_path / "src" / "x.py").write_text("y")
    stale = expire(ruleset, origins, run_id="r1", now=t0)
    assert stale == {"fetched": "src/x.py changed since fetch"}


def test_relevant_variables_and_unknowns(tmp_path: Path) -> None:
    path = tmp_path / "goal.yaml"
    path.write_text(GOAL)
    ruleset = load(path)
    assert relevant_variables(ruleset) == {"tested", "built", "seen", "fetched"}
    where = Location("goal.yaml", 7, 9)
    start = Start(
        ruleset.default_state(),
        {},
        {},
        {"seen": SensorFailure("boom", where)},
        {},
    )
    assert check_unknowns(ruleset, start, []) != []
    with pytest.raises(InputError) as caught:
        check_unknowns(ruleset, start, [ruleset.action("test")])
    assert "goal.yaml:7:9: error: state variable 'seen': sensor failed: boom" in str(
        caught.value
    )
    with pytest.raises(InputError):
        check_unknowns(ruleset, start, None)
