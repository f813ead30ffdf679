"""Delivery: approvals after a replan, irreversible steps at most once, resuming
after an interrupted irreversible step, and templates that see fresh values."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

REPLAN_INTO_APPROVAL = """
version: 1
state:
  fast_broken: bool
  deployed: bool
actions:
  deploy_fast:
    id: D1
    pre: not fast_broken
    effects: {deployed: true}
    on_failure: {fast_broken: true}
    run: echo fast >> attempts; exit 1
  deploy_slow:
    id: D2
    cost: 5
    pre: fast_broken
    effects: {deployed: true}
    irreversible: true
    run: echo slow >> attempts
goal: [deployed]
"""


def test_a_replan_that_needs_approval_stops_before_the_step(tmp_path: Path, h) -> None:
    goal = h.goal(tmp_path, REPLAN_INTO_APPROVAL)
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "approval needed after a replan; it did not run" in result.stderr
    assert "D2: deploy_slow (irreversible)" in result.stderr
    assert "--approve D2" in result.stderr
    assert (tmp_path / "attempts").read_text() == "fast\n"
    events = h.events(tmp_path)
    assert events[-1]["status"] == "needs_approval"
    # The next run is not an interrupted one to resume: it plans afresh.
    again = h.run("run", "--approve", "D2", goal, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "attempts").read_text() == "fast\nslow\n"


IRREVERSIBLE_FAILS = """
version: 1
state:
  generation: {{type: int, sense: {{shell: cat generation, from: stdout}}}}
  published: bool
actions:
  publish:
    id: P1
    effects: {{published: true}}
    irreversible: true
    {retries}
    # Fails, and the world it leaves differs each time (a new generation), so
    # only the at-most-once rule keeps a replan from choosing it again.
    run: echo try >> attempts; echo $(( $(cat generation) + 1 )) > generation; exit 1
policy: {{max_replans: 3}}
goal: [published]
"""


def test_a_failed_irreversible_step_runs_exactly_once(tmp_path: Path, h) -> None:
    (tmp_path / "generation").write_text("0\n")
    goal = h.goal(tmp_path, IRREVERSIBLE_FAILS.format(retries=""))
    result = h.run("run", "--yes", goal, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert (tmp_path / "attempts").read_text() == "try\n"
    assert "failed irreversible steps are not run again" in result.stderr
    assert "publish" in result.stderr


def test_an_irreversible_step_with_retries_may_try_again(tmp_path: Path, h) -> None:
    (tmp_path / "generation").write_text("0\n")
    goal = h.goal(tmp_path, IRREVERSIBLE_FAILS.format(retries="retries: 1"))
    result = h.run("run", "--yes", goal, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    # Its own retries: once and once more, then replans may choose it again.
    assert (tmp_path / "attempts").read_text().count("try") >= 2


INTERRUPTED = """
version: 1
state:
  built: bool
  published: bool
actions:
  build: {id: I1, effects: {built: true}, run: touch built}
  publish:
    id: I2
    pre: built
    effects: {published: true}
    irreversible: true
    run: echo start >> publish.log; touch publishing; sleep 30; echo done >> publish.log
goal: [published]
"""


def _interrupt_publish(tmp_path: Path, h, engines) -> Path:
    goal = h.goal(tmp_path, INTERRUPTED)
    proc = h.start("run", "--yes", goal, cwd=tmp_path)
    engines.append(proc)
    h.wait_for(lambda: (tmp_path / "publishing").exists(), message="publish started")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    return goal


@pytest.mark.slow
def test_resume_does_not_silently_rerun_an_interrupted_irreversible_step(
    tmp_path: Path, h, engines
) -> None:
    goal = _interrupt_publish(tmp_path, h, engines)
    refused = h.run("run", "--resume", goal, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "stopped while I2: publish was running" in refused.stderr
    assert "no sensor can tell whether it happened" in refused.stderr
    assert f"goap-engine state set {goal} published=..." in refused.stderr
    assert "--resume --approve I2" in refused.stderr
    assert (tmp_path / "publish.log").read_text() == "start\n"
    # Refusing changed nothing: it is still an interrupted run to resume.
    plain = h.run("run", goal, cwd=tmp_path)
    assert plain.returncode == 2 and "--resume" in plain.stderr

    (tmp_path / "publishing").unlink()
    resumed = h.run("run", "--resume", "--approve", "I2", goal, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert (tmp_path / "publish.log").read_text() == "start\nstart\ndone\n"
    steps = [e["step"] for e in h.events(tmp_path) if e["event"] == "step_start"]
    assert steps == ["I1: build", "I2: publish", "I2: publish"]  # build not redone


def test_a_person_reconciles_an_interrupted_step_with_state_set(
    tmp_path: Path, h, engines
) -> None:
    goal = _interrupt_publish(tmp_path, h, engines)
    assert h.cli("state", "set", goal, "published=true").returncode == 0
    resumed = h.run("run", "--resume", goal, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert (tmp_path / "publish.log").read_text() == "start\n"  # not run again


def test_templates_see_what_an_earlier_step_changed(tmp_path: Path, h) -> None:
    (tmp_path / "metrics.json").write_text('{"accuracy": 0.0}')
    (tmp_path / "read.py").write_text(
        "import json\nprint(json.load(open('metrics.json'))['accuracy'])\n"
    )
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          evaluated: bool
          reported: bool
          accuracy:
            type: float
            sense:
              shell: python3 read.py
              from: stdout
        actions:
          evaluate:
            id: E1
            effects: {evaluated: true}
            run: >-
              echo '{"accuracy": 0.93}' > metrics.json
          report:
            id: E2
            pre: evaluated
            effects: {reported: true}
            run: echo "accuracy {{ accuracy }}" > report.txt
        goal: [reported]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "report.txt").read_text() == "accuracy 0.93\n"
    start = [e for e in h.events(tmp_path) if e["event"] == "step_start"][-1]
    assert start["command"] == 'echo "accuracy 0.93" > report.txt'


def test_plan_shows_what_stopping_each_step_means(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          built: {type: bool, sense: test -f built}
          tested: bool
          published: bool
        actions:
          build: {id: K1, effects: {built: true}, run: touch built}
          test: {id: K2, pre: built, effects: {tested: true}, run: "true"}
          publish:
            id: K3
            pre: tested
            effects: {published: true}
            irreversible: true
            run: "true"
        goal: [published]
        """,
    )
    shown = h.cli("plan", "--format", "json", goal)
    assert shown.returncode == 0, shown.stderr
    steps = json.loads(shown.stdout)["steps"]
    assert [(s["id"], s["on_interrupt"], s["approval"]) for s in steps] == [
        ("K1", "sensed", False),
        ("K2", "rerun", False),
        ("K3", "person", True),
    ]
    text = h.cli("plan", goal).stdout
    assert "publish [irreversible]" in text
    assert "Needs approval before the run starts: K3" in text
    rows = {line.split()[1]: line for line in text.splitlines() if line[:1].isdigit()}
    assert "skip if done" in rows["K1"]
    assert "re-run" in rows["K2"]
    assert rows["K3"].split()[-1] == "ask"


def test_a_command_never_runs_with_a_value_its_sensor_could_not_read(
    tmp_path: Path, h
) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          build_dir:
            type: str
            sense: {shell: cat build_dir.txt, from: stdout}
          prepared: bool
          cleaned: bool
        actions:
          prepare: {id: C0, effects: {prepared: true}, run: rm -f build_dir.txt}
          clean:
            id: C1
            pre: prepared
            effects: {cleaned: true}
            run: echo rm -rf {{ build_dir }}/ > cleaned.txt
        goal: [cleaned]
        """,
    )
    # Unknown at the start: an earlier step may yet create it, so plan only
    # warns; the command reads it again when its step starts.
    planned = h.run("plan", goal, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert "build_dir" in planned.stderr
    # Known at the start, gone when the step starts: the step does not run.
    (tmp_path / "build_dir.txt").write_text("build\n")
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "C1: clean not run: its command reads unknown values" in result.stderr
    assert not (tmp_path / "cleaned.txt").exists()
    ends = [e["step"] for e in h.events(tmp_path) if e["event"] == "step_start"]
    assert ends == ["C0: prepare"]


def test_a_value_an_earlier_step_creates_is_read_before_the_step_runs(
    tmp_path: Path, h
) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          accuracy:
            type: float
            sense: {shell: cat metrics.txt, from: stdout}
          trained: bool
          reported: bool
        actions:
          train: {id: T1, effects: {trained: true}, run: echo 0.91 > metrics.txt}
          report:
            id: T2
            pre: trained
            effects: {reported: true}
            run: echo "accuracy {{ accuracy }}" > report.txt
        goal: [reported]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "report.txt").read_text() == "accuracy 0.91\n"


def test_sensed_text_outside_the_rules_literals_plans(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          tag: {type: str, sense: {shell: echo v1.2, from: stdout}}
          released: bool
        actions:
          release: {id: R1, pre: "tag != ''", effects: {released: true}, run: "true"}
        goal: [released]
        """,
    )
    checked = h.cli("validate", goal)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "never" not in checked.stdout
    shown = h.cli("plan", "--format", "json", goal)
    assert shown.returncode == 0, shown.stderr
    assert [s["id"] for s in json.loads(shown.stdout)["steps"]] == ["R1"]


def test_a_fresh_run_that_stops_before_any_step_keeps_the_stored_state(
    tmp_path: Path, h
) -> None:
    goal = h.goal(tmp_path, INTERRUPTED.replace("sleep 30; ", ""))
    done = h.run("run", "--yes", goal, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    before = h.state(tmp_path)["state"]
    assert before == {"built": True, "published": True}
    refused = h.run("run", "--fresh", goal, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert h.state(tmp_path)["state"] == before
