"""``run --junit FILE``: real runs, the report parsed back as a CI system reads it."""

from __future__ import annotations

import base64
import signal
import xml.etree.ElementTree as ET
from pathlib import Path

TOKEN = "tok-Jn4/x+Qp&Lm<9"

# make_a passes (printing a secret), make_b fails (with colour and a control
# character), make_c is not reached, and the goal cannot be reached after.
MIXED = """
version: 1
secrets: [MY_TOKEN]
state: {a: bool, b: bool, c: bool}
actions:
  make_a:
    id: A
    effects: {a: true}
    run: echo "making a with $MY_TOKEN"
  make_b:
    id: B
    pre: [a]
    effects: {b: true}
    run: >-
      echo "cannot build b, token $MY_TOKEN" >&2;
      printf '\\033[31mred\\033[0m bell\\007\\n'; exit 3
  make_c:
    pre: [b]
    effects: {c: true}
    run: echo c
goal: [a, b, c]
"""

# make_a makes b true behind the planner's back; make_b's command reads b,
# so b is sensed again before it starts, and make_b is skipped.
SKIPPED = """
version: 1
state:
  a: bool
  b:
    type: bool
    sense: {shell: "test -f b_done && echo true || echo false", from: stdout}
actions:
  make_a:
    effects: {a: true}
    run: touch b_done
  make_b:
    pre: [a]
    effects: {b: true}
    run: echo "b was {{ b }}"; exit 1
goal: [a, b]
"""


def _suite(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    for key in ("tests", "failures", "errors", "skipped", "time"):
        assert root.get(key) == suites[0].get(key), key
    return suites[0]


def _cases(suite: ET.Element) -> list[tuple[str, str, str]]:
    """Return (name, outcome, message) per testcase; outcome '' when it passed."""
    found = []
    for case in suite.findall("testcase"):
        children = list(case)
        assert len(children) <= 1
        outcome = children[0].tag if children else ""
        message = children[0].get("message", "") if children else ""
        found.append((str(case.get("name")), outcome, message))
    return found


def _properties(suite: ET.Element) -> dict[str, str]:
    return {
        str(p.get("name")): str(p.get("value"))
        for p in suite.findall("properties/property")
    }


def test_a_failing_run_is_reported_step_by_step_without_secrets(
    tmp_path: Path, h
) -> None:
    h.goal(tmp_path, MIXED)
    env = h.env(MY_TOKEN=TOKEN)
    result = h.run(
        "run", "goal.yaml", "--junit", "reports/run.xml", cwd=tmp_path, env=env
    )
    assert result.returncode == 1, result.stderr
    assert "JUnit report written to reports/run.xml" in result.stderr
    report = tmp_path / "reports" / "run.xml"
    suite = _suite(report)
    assert _cases(suite) == [
        ("A: make_a", "", ""),
        ("B: make_b", "failure", "exit code 3"),
        (
            "make_c",
            "skipped",
            "not reached: no plan reaches the goal from the start state",
        ),
        (
            "goal goal.yaml",
            "failure",
            "no plan: no plan reaches the goal from the start state",
        ),
    ]
    assert (suite.get("tests"), suite.get("failures")) == ("4", "2")
    assert (suite.get("errors"), suite.get("skipped")) == ("0", "1")
    assert suite.get("name") == "goap-engine run goal.yaml"
    assert suite.get("timestamp", "").count("T") == 1
    assert {c.get("classname") for c in suite.iter("testcase")} == {"goal"}
    props = _properties(suite)
    assert props["goal"] == "goal.yaml"
    assert props["plan_cost"] == "3"
    assert props["replans"] == "1"
    assert props["status"] == "failed"
    events = h.events(tmp_path)
    assert props["run_id"] == events[0]["run"]

    failure = suite.find("testcase[@name='B: make_b']/failure")
    assert failure is not None and failure.get("type") == "failed"
    text = str(failure.text)
    # The tail of the output, without terminal escapes or XML-illegal bytes,
    # and the token replaced.
    assert text.startswith("cannot build b, token ***\nred bell\ufffd\n")
    assert "whole output: " in text and "002-make_b.log" in text
    goal_failure = suite.find("testcase[@name='goal goal.yaml']/failure")
    assert goal_failure is not None
    assert "goal condition 'b' cannot be reached:" in str(goal_failure.text)

    raw = report.read_text()
    for form in (TOKEN, base64.b64encode(TOKEN.encode()).decode(), "&amp;Lm"):
        assert form not in raw


def test_a_reached_run_and_a_skipped_step(tmp_path: Path, h) -> None:
    h.goal(tmp_path, SKIPPED)
    result = h.run("run", "goal.yaml", "--junit", "run.xml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    suite = _suite(tmp_path / "run.xml")
    assert _cases(suite) == [
        ("make_a", "", ""),
        ("make_b", "skipped", "effects already hold"),
        ("goal goal.yaml", "", ""),
    ]
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "0",
        "0",
        "1",
    )
    assert _properties(suite)["status"] == "reached"


def test_a_refused_approval_and_a_dry_run_are_reported(tmp_path: Path, h) -> None:
    h.goal(
        tmp_path,
        """
        version: 1
        state: {built: bool, shipped: bool}
        actions:
          build: {effects: {built: true}, run: touch built}
          ship:
            pre: [built]
            effects: {shipped: true}
            irreversible: true
            run: touch shipped
        goal: [shipped]
        """,
    )
    refused = h.run("run", "goal.yaml", "--junit", "run.xml", cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert not (tmp_path / "built").exists()
    cases = _cases(_suite(tmp_path / "run.xml"))
    assert [(name, outcome) for name, outcome, _ in cases] == [
        ("build", "skipped"),
        ("ship", "skipped"),
        ("goal goal.yaml", "failure"),
    ]
    assert all(message.startswith("not reached: ") for _, _, message in cases[:2])
    assert "ship" in cases[2][2]

    dry = h.run("run", "goal.yaml", "--dry-run", "--junit", "dry.xml", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert _cases(_suite(tmp_path / "dry.xml")) == [
        ("build", "skipped", "dry run"),
        ("ship", "skipped", "dry run"),
        ("goal goal.yaml", "skipped", "dry run: nothing ran"),
    ]


def test_an_interrupted_run_is_reported(tmp_path: Path, h, engines, reaper) -> None:
    h.goal(
        tmp_path,
        """
        version: 1
        state: {a: bool, b: bool}
        actions:
          slow: {effects: {a: true}, run: "echo $$ >> pids; touch started; sleep 30"}
          after: {pre: [a], effects: {b: true}, run: "true"}
        goal: [b]
        """,
    )
    proc = h.start("run", "goal.yaml", "--junit", "run.xml", cwd=tmp_path)
    engines.append(proc)
    h.wait_for(lambda: (tmp_path / "started").exists(), message="the slow step")
    reaper.extend(h.pids(tmp_path / "pids"))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    suite = _suite(tmp_path / "run.xml")
    assert [(n, o) for n, o, _ in _cases(suite)] == [
        ("slow", "error"),
        ("after", "skipped"),
        ("goal goal.yaml", "error"),
    ]
    assert suite.find("testcase[@name='slow']/error").get("type") == "interrupted"
    assert _properties(suite)["status"] == "interrupted"


def test_a_bad_report_path_stops_the_run_before_anything_runs(
    tmp_path: Path, h
) -> None:
    h.goal(tmp_path, SKIPPED)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.xml"
    for path, says in (
        (str(outside), "is outside the project"),
        ("reports/", "--junit reports/: is a folder; give a file name"),
    ):
        result = h.run("run", "goal.yaml", "--junit", path, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert says in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "b_done").exists()
        assert h.events(tmp_path) == []
    assert not outside.exists()
    allowed = h.run(
        "run", "goal.yaml", "--junit", outside, "--allow-outside", cwd=tmp_path
    )
    try:
        assert allowed.returncode == 0, allowed.stderr
        assert _cases(_suite(outside))[-1] == ("goal goal.yaml", "", "")
    finally:
        outside.unlink(missing_ok=True)
