"""sense() and run() from Python: real sensors and shell hooks in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goap_engine import InputError, LockedError, load, run, sense

GOAL = """
version: 1
secrets: [API_TOKEN]
state:
  built: bool
  shipped: bool
  version: {type: str, sense: {shell: cat VERSION, from: stdout}}
  token: {type: str, secret: true, sense: {shell: echo $API_TOKEN, from: stdout}}
  broken: {type: int, sense: {shell: "echo oops $API_TOKEN; exit 3", from: stdout}}
  unread: {type: bool, sense: {shell: touch unread-sensed, from: exit}}
actions:
  build:
    effects: {built: true}
    run: echo building {{ version }} >> ran
  ship:
    pre: built and token != "" and broken == 0
    effects: {shipped: true}
    run: echo ship >> ran
    irreversible: true
goal: [shipped]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("API_TOKEN", "s3cr3t-Value-42")
    monkeypatch.setenv("GOAP_RETRY_BASE", "0.01")
    (tmp_path / "VERSION").write_text("1.2.0\n")
    (tmp_path / "goal.yaml").write_text(GOAL)
    return tmp_path


def test_sense_reads_what_the_goal_needs_and_says_what_failed(project: Path) -> None:
    sensed = sense(load(project / "goal.yaml"))
    assert dict(sensed.values) == {"version": "1.2.0", "token": "s3cr3t-Value-42"}
    assert not sensed.ok
    failure = sensed.failures["broken"]
    assert failure.reason == "sensor command failed (exit code 3): oops ***"
    assert str(failure.location) == "goal.yaml:9:30"
    # No condition reads 'unread': its sensor never ran, as for plan.
    assert not (project / "unread-sensed").exists()
    assert "s3cr3t" not in repr(sensed)
    assert repr(sensed) == (
        "Sensed(values={'version': '1.2.0', 'token': '<secret>'}, "
        "failures={'broken': 'sensor command failed (exit code 3): oops ***'})"
    )


def test_sense_names_choose_the_sensors(project: Path) -> None:
    ruleset = load(project / "goal.yaml")
    sensed = sense(ruleset, names=["unread"])
    assert dict(sensed.values) == {"unread": True}
    assert (project / "unread-sensed").exists()
    with pytest.raises(InputError) as caught:
        sense(ruleset, names=["built", "verson"])
    assert str(caught.value).splitlines() == [
        "names: error: state variable 'built': has no sensor (the variables "
        "with one: version, token, broken, unread)",
        "names: error: unknown state variable 'verson' (did you mean 'version'?)",
    ]


def test_run_reaches_the_goal_silently_and_keeps_journal_and_state(
    project: Path, h, capfd
) -> None:
    events: list[dict] = []
    lines: list[tuple[str, str]] = []
    result = run(
        load(project / "goal.yaml"),
        sets={"broken": 0},
        approve=["ship"],
        on_event=events.append,
        on_output=lambda label, line: lines.append((label, line)),
    )
    assert result.status == "reached"
    assert [(s.label, s.status) for s in result.steps] == [
        ("build", "ok"),
        ("ship", "ok"),
    ]
    assert result.replans == 0
    assert (project / "ran").read_text() == "building 1.2.0\nship\n"
    assert result.state["shipped"] is True
    # The command's files, as 'goap-engine run' keeps them.
    journal = h.events(project)
    assert [e["event"] for e in journal][0] == "run_start"
    assert journal[-1]["event"] == "run_end"
    assert journal[-1]["status"] == "reached"
    assert {e["run"] for e in journal} == {result.run_id}
    assert [e["event"] for e in events] == [e["event"] for e in journal]
    stored = h.state(project)
    assert stored["run"] == result.run_id
    assert stored["status"] == "reached"
    assert stored["state"]["shipped"] is True
    assert "token" not in stored["state"]  # a secret is never stored
    assert "s3cr3t" not in json.dumps(events)
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")
    assert lines == []  # the hooks wrote to a file, not to their output


def test_run_without_approval_runs_nothing(project: Path, h) -> None:
    result = run(load(project / "goal.yaml"), sets={"broken": 0})
    assert result.status == "needs_approval"
    assert result.approval is not None
    assert result.approval.steps == ["ship"]
    assert result.steps == []
    assert not (project / "ran").exists()
    assert h.events(project)[-1]["status"] == "needs_approval"


def test_run_stops_on_a_failing_sensor_the_plan_needs(project: Path) -> None:
    # As the command does (exit 2): nothing runs on a value nobody could read.
    with pytest.raises(InputError) as caught:
        run(load(project / "goal.yaml"), yes=True)
    assert str(caught.value).startswith(
        "goal.yaml:9:30: error: state variable 'broken': sensor failed: sensor "
        "command failed (exit code 3): oops ***; step ship needs it, so nothing "
        "is run"
    )
    assert not (project / "ran").exists()


def test_run_failed_step_is_a_result_with_its_message(project: Path) -> None:
    (project / "goal.yaml").write_text(
        """
version: 1
state: {done: bool}
actions:
  attempt: {effects: {done: true}, run: "echo trying; exit 5"}
policy: {max_replans: 1}
goal: [done]
"""
    )
    lines: list[tuple[str, str]] = []
    result = run(
        load(project / "goal.yaml"),
        on_output=lambda label, line: lines.append((label, line)),
    )
    assert result.status == "failed"
    assert result.steps[0].label == "attempt"
    assert result.steps[0].status == "failed"
    assert "exit code 5" in result.steps[0].message
    assert ("attempt", "trying") in lines


def test_dry_run_plans_and_runs_nothing(project: Path) -> None:
    result = run(load(project / "goal.yaml"), dry_run=True, sets={"broken": 0})
    assert result.status == "planned"
    assert [(s.label, s.status) for s in result.steps] == [
        ("build", "planned"),
        ("ship", "planned"),
    ]
    assert not (project / "ran").exists()


def test_echo_prints_what_the_command_prints(project: Path, capfd) -> None:
    result = run(load(project / "goal.yaml"), sets={"broken": 0}, yes=True, echo=True)
    assert result.status == "reached"
    captured = capfd.readouterr()
    assert captured.out == ""
    assert f"run {result.run_id}" in captured.err
    assert "goal reached" in captured.err
    assert "s3cr3t" not in captured.err


def test_run_bad_input_raises_input_errors(project: Path) -> None:
    ruleset = load(project / "goal.yaml")
    cases = [
        ({"sets": {"shiped": True}}, "sets: error: unknown state variable 'shiped' "
         "(did you mean 'shipped'?)"),
        ({"jobs": 0}, "jobs: error: expected an int in [1, 64], found 0"),
        ({"approve": ["bulid"]}, "unknown action 'bulid'"),
        ({"resume": True, "fresh": True}, "resume and fresh exclude each other"),
    ]  # fmt: skip
    for kwargs, message in cases:
        with pytest.raises(InputError) as caught:
            run(ruleset, **kwargs)
        assert message in str(caught.value)
    assert not (project / "ran").exists()


def test_run_while_another_holds_the_lock_is_locked(project: Path) -> None:
    from goap_engine.executor.workspace import goal_lock

    ruleset = load(project / "goal.yaml")
    with goal_lock(ruleset), pytest.raises(LockedError):
        run(ruleset, yes=True, sets={"broken": 0})
    assert not (project / "ran").exists()


def test_run_and_focus_take_part_of_the_goal_as_target_does(project: Path, h) -> None:
    from goap_engine import find_plan, focus

    ruleset = load(project / "goal.yaml")
    part = focus(ruleset, targets=["build"])
    assert [c.expr.source for c in part.conditions] == ["built"]
    assert [s.action.name for s in find_plan(part, {}).steps] == ["build"]

    result = run(ruleset, targets="built", sets={"broken": 0})
    assert result.status == "reached"
    assert [s.label for s in result.steps] == ["build"]
    assert (project / "ran").read_text() == "building 1.2.0\n"
    start = h.events(project)[0]
    assert start["event"] == "run_start" and start["target"] == ["built"]

    with pytest.raises(InputError, match="did you mean 'shipped'"):
        focus(ruleset, targets=["shiped"])
    with pytest.raises(InputError, match="expected names"):
        focus(ruleset, tags=[3])  # type: ignore[list-item]
