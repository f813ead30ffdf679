"""policy.mlflow: every run is logged to a real local MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest

from goap_engine import load
from goap_engine.executor.runner import Runner, RunOptions

pytest.importorskip("mlflow")
pytest.importorskip("sqlalchemy")


def test_each_run_is_logged_to_mlflow(tmp_path: Path) -> None:
    goal = tmp_path / "goal.yaml"
    goal.write_text(
        "version: 1\nstate: {done: bool}\n"
        "actions: {finish: {effects: {done: true}, run: 'true'}}\n"
        "goal: done\npolicy: {mlflow: true}\n"
    )
    events: list[dict[str, object]] = []
    result = Runner(load(goal), RunOptions(yes=True), on_event=events.append).run()
    assert result.reached
    tracked = [e for e in events if e["event"] == "tracked"]
    assert len(tracked) == 1, [e for e in events if e["event"] == "track_failed"]

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("goap-engine runs")
    assert experiment is not None
    run = client.get_run(str(tracked[0]["mlflow_run"]))
    assert run.data.metrics["reached"] == 1.0
    assert run.data.metrics["steps_ok"] == 1.0
    assert run.data.params["goal"] == "goal.yaml"
    assert run.data.tags["goap.run"] == result.run_id
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "goap")}
    assert "goap/journal.jsonl" in artifacts


def test_tracking_a_run_to_a_down_server_warns_within_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakes.mlflow_server import refused_url

    url = refused_url()
    goal = tmp_path / "goal.yaml"
    goal.write_text(
        "version: 1\nstate: {done: bool}\n"
        "actions: {finish: {effects: {done: true}, run: 'true'}}\n"
        f"goal: done\npolicy: {{mlflow: {{tracking_uri: '{url}', retries: 0}}}}\n"
    )
    events: list[dict[str, object]] = []
    result = Runner(load(goal), RunOptions(yes=True), on_event=events.append).run()
    assert result.reached
    (failed,) = [e for e in events if e["event"] == "track_failed"]
    assert failed["message"] == (
        "MLflow error while starting a run in 'goap-engine runs' "
        f"({url}): cannot connect: connection refused (is the server up?); "
        "tried 1 time"
    )
