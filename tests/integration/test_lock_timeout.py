"""``--lock-timeout``: wait for a live run's lock, then go on or exit 4."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import click
import pytest

from goap_engine.cli_lock import Duration

# The one step holds the run (and so the lock) until the file 'go' appears.
GOAL = """
version: 1
state: {done: bool, other: bool}
actions:
  work:
    effects: {done: true}
    run: >-
      echo $$ >> pids; touch started;
      for i in $(seq 600); do test -f go && exit 0; sleep 0.05; done; exit 1
goal: [done]
"""


def _hold(tmp_path: Path, h, engines, reaper):
    h.goal(tmp_path, GOAL)
    holder = h.start("run", "goal.yaml", cwd=tmp_path)
    engines.append(holder)
    h.wait_for(lambda: (tmp_path / "started").exists(), message="the holding step")
    reaper.extend(h.pids(tmp_path / "pids"))
    return holder


def test_waiters_go_on_once_the_run_releases_the_lock(
    tmp_path: Path, h, engines, reaper
) -> None:
    holder = _hold(tmp_path, h, engines, reaper)
    waiting_set = h.start(
        "state",
        "set",
        "goal.yaml",
        "other=true",
        "--lock-timeout",
        "1m",
        cwd=tmp_path,
    )
    waiting_run = h.start("run", "goal.yaml", "--lock-timeout=2m", cwd=tmp_path)
    engines.extend([waiting_set, waiting_run])
    # Each says once, first, that it waits and for whom; until the lock is
    # released neither can have written anything.
    for proc, seconds in ((waiting_set, 60), (waiting_run, 120)):
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first.startswith(f"waiting up to {seconds}s for the lock "), first
        assert f"held by pid {holder.pid}, since " in first
        assert first.rstrip().endswith("goal.yaml")
    assert h.state(tmp_path)["state"] == {"done": False, "other": False}
    assert h.kinds(h.events(tmp_path)).count("run_start") == 1

    (tmp_path / "go").touch()
    _, err = holder.communicate(timeout=30)
    assert holder.returncode == 0, err
    for proc in (waiting_set, waiting_run):
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "waiting up to" not in err and "Traceback" not in err
    assert h.state(tmp_path)["state"] == {"done": True, "other": True}
    assert h.kinds(h.events(tmp_path)).count("run_start") == 2


def test_a_wait_that_ends_first_exits_4_and_says_so(
    tmp_path: Path, h, engines, reaper
) -> None:
    holder = _hold(tmp_path, h, engines, reaper)
    for argv in (
        ["state", "set", "goal.yaml", "other=true"],
        ["state", "rm", "goal.yaml", "other"],
        ["state", "mv", "goal.yaml", "other", "done"],
        ["state", "reset", "goal.yaml"],
        ["run", "goal.yaml"],
    ):
        waited = h.run(*argv, "--lock-timeout", "0.3s", cwd=tmp_path, timeout=30)
        assert waited.returncode == 4, (argv, waited.stderr)
        lines = waited.stderr.splitlines()
        assert len(lines) == 2, argv
        assert lines[0].startswith("waiting up to 0.3s for the lock "), argv
        assert lines[1].startswith("error: another run holds the lock "), argv
        assert f"(pid {holder.pid}, since " in lines[1]
        assert "after waiting 0.3s; wait for it to finish" in lines[1]
        # Without the option: at once, as before, and the option is named.
        at_once = h.run(*argv, cwd=tmp_path, timeout=30)
        assert at_once.returncode == 4, (argv, at_once.stderr)
        assert "waiting" not in at_once.stderr
        assert "(or pass --lock-timeout DURATION)" in at_once.stderr
    # A CI job that gave up waiting still gets its report, saying why.
    locked = h.run("run", "goal.yaml", "--junit", "run.xml", cwd=tmp_path)
    assert locked.returncode == 4, locked.stderr
    report = ET.parse(tmp_path / "run.xml").getroot()
    (case,) = report.iter("testcase")
    (error,) = list(case)
    assert (case.get("name"), error.tag, error.get("type")) == (
        "goal goal.yaml",
        "error",
        "LockedError",
    )
    assert f"pid {holder.pid}" in str(error.get("message"))
    (tmp_path / "go").touch()
    _, err = holder.communicate(timeout=30)
    assert holder.returncode == 0, err
    assert h.state(tmp_path)["state"] == {"done": True, "other": False}
    assert h.kinds(h.events(tmp_path)).count("run_start") == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("30", 30.0),
        ("2.5", 2.5),
        ("45s", 45.0),
        ("250ms", 0.25),
        ("5m", 300.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert Duration().convert(text, None, None) == seconds


@pytest.mark.parametrize("text", ["", "-1", "1x", "s", "1 m", "1.m", "inf", "5m30"])
def test_bad_durations_are_usage_errors(text: str, h) -> None:
    with pytest.raises(click.BadParameter, match="expected a duration such as 30"):
        Duration().convert(text, None, None)
    result = h.cli("state", "reset", "--lock-timeout", text, "goal.yaml")
    assert result.returncode == 2
