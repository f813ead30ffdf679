"""The ``mlflow.*`` built-ins and champion gates against a local store in tmp_path."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from fakes import hook_context

from goap_engine.integrations import IntegrationError
from goap_engine.integrations import mlflow as ml
from goap_engine.integrations.validation import gates

pytest.importorskip("mlflow")
# The default store is SQLite: the 'mlflow' extra brings both.
pytest.importorskip("sqlalchemy")
pytest.importorskip("alembic")


@pytest.fixture(autouse=True)
def file_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let each test opt in to the file store afresh, from a clean environment."""
    for name in ("MLFLOW_ALLOW_FILE_STORE", "MLFLOW_TRACKING_URI"):
        # Set first so that monkeypatch restores the variable after the test.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a SQLite store with MLflow's tables, made once: creating them takes
    seconds, copying them none."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def project(tmp_path: Path, empty_store: Path) -> Path:
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "evaluation.json").write_text(
        json.dumps({"accuracy": 0.93, "loss": 0.2, "per_class": {"cat": 0.95}})
    )
    (tmp_path / ".goap").mkdir()
    (tmp_path / ".goap" / "journal.jsonl").write_text('{"event": "start"}\n')
    (tmp_path / ".goap" / "state.json").write_text('{"built": true}\n')
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "roc.txt").write_text("roc\n")
    (tmp_path / "model.txt").write_text("weights\n")
    return tmp_path


@pytest.fixture
def make(project: Path):
    def _make(
        env: dict[str, str] | None = None,
        run: str | None = "run-42",
        secrets: tuple[str, ...] = (),
        **args: Any,
    ):
        extra = {
            "journal": str(project / ".goap" / "journal.jsonl"),
            "state_file": str(project / ".goap" / "state.json"),
            "plan": None,
        }
        if run is not None:
            extra["run"] = run
        return hook_context(
            project, args, env or {}, action="track", extra=extra, secrets=secrets
        )

    return _make


def _client(project: Path) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


def test_log_run_records_params_metrics_artifacts_and_tags(make, project: Path) -> None:
    ctx = make(
        experiment="cats",
        run_name="deploy feature/x",
        params={"branch": "feature/x", "epochs": 3},
        metrics={"latency_ms": 12},
        metrics_file="reports/evaluation.json",
        artifacts=["model.txt", "plots"],
    )
    run_id = ml.log_run(ctx)
    assert run_id in ctx.lines[-1]

    client = _client(project)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "deploy feature/x"
    assert client.get_experiment(run.info.experiment_id).name == "cats"
    assert run.data.params == {"branch": "feature/x", "epochs": "3"}
    assert run.data.metrics == {
        "accuracy": 0.93,
        "loss": 0.2,
        "per_class.cat": 0.95,
        "latency_ms": 12.0,
    }
    assert run.data.tags["goap.run"] == "run-42"
    assert run.data.tags["goap.action"] == "track"
    top = {a.path for a in client.list_artifacts(run_id)}
    assert top == {"model.txt", "plots", "goap"}
    assert {a.path for a in client.list_artifacts(run_id, "goap")} == {
        "goap/journal.jsonl",
        "goap/state.json",
    }
    assert [a.path for a in client.list_artifacts(run_id, "plots")] == ["plots/roc.txt"]


def test_nothing_holding_a_secret_is_logged(make, project: Path) -> None:
    secret = "mlf-Secret/Value+77"
    encoded = base64.b64encode(f"user:{secret}".encode()).decode()
    # Across the 1 MiB pieces the file is read in: found all the same.
    (project / "big.txt").write_text("a" * ((1 << 20) - 5) + secret + "b" * 100)
    (project / "plots" / "creds.txt").write_text(f"key={secret.encode().hex()}\n")
    ctx = make(
        secrets=(secret,),
        run_name=f"nightly {secret}",
        params={
            "branch": "main",
            "auth": f"Basic {encoded}",
            "url": f"https://x.test/?t={quote_plus(secret)}",
            f"p-{secret}": "named with it",
        },
        tags={"team": "ml", "header": f"Bearer {secret}", secret: "x"},
        metrics={"accuracy": 0.5, f"m-{secret}": 1.0},
        artifacts=["model.txt", "big.txt", "plots"],
    )
    run_id = ml.log_run(ctx)
    client = _client(project)
    run = client.get_run(run_id)
    assert run.info.run_name == "nightly ***"
    assert run.data.params == {"branch": "main"}
    assert {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")} == {
        "team": "ml",
        "goap.run": "run-42",
        "goap.action": "track",
    }
    assert run.data.metrics == {"accuracy": 0.5}
    assert {a.path for a in client.list_artifacts(run_id)} == {
        "model.txt",
        "plots",
        "goap",
    }
    assert [a.path for a in client.list_artifacts(run_id, "plots")] == ["plots/roc.txt"]
    assert [line for line in ctx.lines if not line.startswith("MLflow run")] == [
        "param 'auth' looks like a secret: not logged",
        "param 'url' looks like a secret: not logged",
        "a param named with a secret: not logged",
        "a metric named with a secret: not logged",
        "tag 'header' holds a secret: not logged",
        "a tag named with a secret: not logged",
        "artifact 'big.txt' holds a secret: not logged",
        "artifact 'plots/creds.txt' holds a secret: not logged",
    ]
    stored = "".join(
        p.read_bytes().decode(errors="replace")
        for p in project.rglob("*")
        if p.is_file() and (p.name == "mlflow.db" or "mlartifacts" in p.parts)
    )
    for form in (secret, quote_plus(secret), secret.encode().hex(), encoded):
        assert form not in stored


def test_logged_finds_the_run_by_engine_run_or_by_name(make) -> None:
    assert ml.logged(make()) is False  # no experiment yet
    ml.log_run(make(run_name="nightly"))
    assert ml.logged(make()) is True  # the same engine run
    assert ml.logged(make(run="run-43")) is False
    assert ml.logged(make(run=None, run_name="nightly")) is True  # as a sensor
    assert ml.logged(make(run=None, run_name="weekly")) is False
    assert ml.logged(make(run=None)) is False
    assert ml.logged(make(experiment="elsewhere")) is False


def test_secrets_are_never_logged_as_params(make, project: Path) -> None:
    env = {"HF_TOKEN": "hf_abcdefghijklmnop", "PATH": "/usr/bin"}
    ctx = make(
        env=env,
        params={
            "repo": "acme/cats",
            "api_token": "whatever",
            "copied": "hf_abcdefghijklmnop",
        },
    )
    run_id = ml.log_run(ctx)
    params = _client(project).get_run(run_id).data.params
    assert params == {"repo": "acme/cats"}
    assert "param 'api_token' looks like a secret: not logged" in ctx.lines
    assert "param 'copied' looks like a secret: not logged" in ctx.lines
    assert not any("hf_abcdefghijklmnop" in line for line in ctx.lines)


@pytest.mark.parametrize(
    ("given", "store"),
    [
        ("tracking/runs.db", "sqlite:///{project}/tracking/runs.db"),
        ("sqlite:///tracking/runs.db", "sqlite:///{project}/tracking/runs.db"),
        ("tracking/store", "file://{project}/tracking/store"),
    ],
)
def test_an_explicit_tracking_path_is_relative_to_the_workdir(
    make, project: Path, monkeypatch: pytest.MonkeyPatch, given: str, store: str
) -> None:
    run_id = ml.log_run(make(tracking_uri=given, log_journal=False))
    # The hook opted in to the file store for its own call only.
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=store.format(project=project))
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert client.list_artifacts(run_id) == []


def test_the_default_store_is_sqlite_in_the_workdir(make, project: Path) -> None:
    (project / "mlflow.db").unlink()
    run_id = ml.log_run(make(model="model.txt", log_journal=False))
    assert (project / "mlflow.db").is_file()
    assert not (project / "mlruns").exists()
    artifacts = _client(project).list_artifacts(run_id)
    assert [a.path for a in artifacts] == ["model"]
    # Beside the database, not in whatever folder the engine runs from.
    assert list((project / "mlartifacts").rglob("model.txt"))


def test_a_run_is_tagged_with_the_git_commit_of_the_workdir(
    make, project: Path
) -> None:
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "HOME": str(project)}
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True, env=env)
    subprocess.run([*git, "add", "."], cwd=project, check=True, env=env)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=project, check=True, env=env)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True
    ).stdout.strip()
    tags = _client(project).get_run(ml.log_run(make())).data.tags
    assert (tags["git.commit"], tags["mlflow.source.git.commit"]) == (head, head)
    given = _client(project).get_run(ml.log_run(make(git_commit="abc"))).data.tags
    assert given["git.commit"] == "abc"


def test_no_git_repository_means_no_commit_tag(make, project: Path) -> None:
    tags = _client(project).get_run(ml.log_run(make())).data.tags
    assert "git.commit" not in tags


def test_registration_needs_a_model_and_aliases_need_registration(make) -> None:
    with pytest.raises(IntegrationError, match="'register' needs 'model'"):
        ml.log_run(make(register="cats"))
    with pytest.raises(IntegrationError, match="'alias' needs 'register'"):
        ml.log_run(make(model="model.txt", alias="champion"))
    with pytest.raises(IntegrationError, match="model 'nope' does not exist"):
        ml.log_run(make(model="nope"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"http_timeout": 0}, "'http_timeout' must be a number of at least 1, not 0"),
        ({"retries": -1}, "'retries' must be a number of at least 0, not -1"),
        ({"max_wait": "soon"}, "'max_wait' must be a number of at least 0, not 'soon'"),
    ],
)
def test_bad_bounds_are_refused(make, args: dict[str, Any], message: str) -> None:
    with pytest.raises(IntegrationError) as caught:
        ml.log_run(make(**args))
    assert str(caught.value) == message


# -- gates against the champion ---------------------------------------------


def _gates(project: Path, accuracy: float, *, action: str = "gate", **champion: Any):
    (project / "report.json").write_text(json.dumps({"accuracy": accuracy}))
    return hook_context(
        project,
        {
            "report": "report.json",
            "gates": {"accuracy": ">= champion - 0.01"},
            "champion": {"model": "cats", **champion},
        },
        {},
        action=action,
    )


def _crown(make, accuracy: float) -> None:
    ml.log_run(
        make(
            metrics={"accuracy": accuracy},
            model="model.txt",
            register="cats",
            alias="champion",
        )
    )


def test_the_first_release_passes_without_a_champion(project: Path) -> None:
    ctx = _gates(project, 0.5)
    assert gates(ctx) is True
    assert ctx.lines == [
        "pass accuracy = 0.5 (no champion ('cats'@champion is not set): passes, "
        "first release)",
        "all 1 gate(s) passed",
    ]


def test_without_a_store_there_is_no_champion_and_none_is_created(
    project: Path,
) -> None:
    """A sensor never creates the store: no store yet is no champion yet."""
    (project / "mlflow.db").unlink()
    ctx = _gates(project, 0.5)
    assert gates(ctx) is True
    assert ctx.lines[0].startswith("pass accuracy = 0.5 (no champion (")
    assert not (project / "mlflow.db").exists()
    assert not (project / "mlruns").exists()


def test_without_a_champion_the_gate_can_fail_instead(project: Path) -> None:
    with pytest.raises(IntegrationError) as caught:
        gates(_gates(project, 0.5, if_missing="fail"))
    assert str(caught.value) == (
        "1 validation gate(s) failed:\n  - accuracy: expected >= champion - 0.01, "
        "no champion ('cats'@champion is not set)"
    )


def test_a_gate_compares_with_the_champion_and_shows_both(make, project: Path) -> None:
    _crown(make, 0.92)
    ctx = _gates(project, 0.915)
    assert gates(ctx) is True
    assert ctx.lines[0] == (
        "pass accuracy = 0.915 (>= champion - 0.01 = 0.91; champion accuracy = "
        "0.92, 'cats'@champion is version 1)"
    )
    with pytest.raises(IntegrationError) as caught:
        gates(_gates(project, 0.9))
    assert str(caught.value) == (
        "1 validation gate(s) failed:\n  - accuracy: expected >= champion - 0.01 "
        "= 0.91; champion accuracy = 0.92, 'cats'@champion is version 1, got 0.9"
    )
    # As a sensor: just the answer.
    assert gates(_gates(project, 0.9, action="")) is False


def test_the_new_champion_is_the_one_compared_with(make, project: Path) -> None:
    _crown(make, 0.92)
    _crown(make, 0.95)
    ctx = _gates(project, 0.945)
    assert gates(ctx) is True
    assert "champion accuracy = 0.95, 'cats'@champion is version 2" in ctx.lines[0]


def test_a_champion_without_the_metric_fails_the_gate(make, project: Path) -> None:
    _crown(make, 0.92)
    ctx = _gates(project, 0.9)
    ctx.args = {**ctx.args, "gates": {"recall": ">= champion"}}
    (project / "report.json").write_text('{"recall": 0.9}')
    with pytest.raises(IntegrationError, match="the champion's run has no metric "):
        gates(ctx)


@pytest.mark.parametrize(
    ("champion", "condition", "message"),
    [
        (None, ">= champion", "a gate compares with the champion: add 'champion: "),
        (
            {"model": "m", "aliass": "x"},
            ">= champion",
            "champion: unknown key 'aliass'",
        ),
        ({"model": "m", "if_missing": "maybe"}, ">= champion", "if_missing must be"),
        ({"model": "m"}, ">= champion ** 2", "is not 'champion', 'champion + N'"),
    ],
)
def test_a_champion_gate_written_wrong_is_an_error(
    project: Path, champion: Any, condition: str, message: str
) -> None:
    (project / "report.json").write_text('{"accuracy": 1}')
    args = {"report": "report.json", "gates": {"accuracy": condition}}
    if champion is not None:
        args["champion"] = champion
    with pytest.raises(IntegrationError, match=re.escape(message)):
        gates(hook_context(project, args, {}, action="gate"))


def test_an_unreachable_champion_store_says_so(project: Path) -> None:
    from fakes.mlflow_server import refused_url

    url = refused_url()
    ctx = _gates(project, 0.9, tracking_uri=url, retries=0)
    with pytest.raises(IntegrationError) as caught:
        gates(ctx)
    assert str(caught.value) == (
        f"MLflow error while reading the champion 'cats'@champion ({url}): "
        "cannot connect: connection refused (is the server up?); tried 1 time"
    )


def test_missing_inputs_fail_before_any_run_is_created(make, project: Path) -> None:
    with pytest.raises(IntegrationError, match="artifact 'nope.bin' does not exist"):
        ml.log_run(make(artifacts=["nope.bin"]))
    with pytest.raises(IntegrationError, match="metrics file 'gone.json'"):
        ml.log_run(make(metrics_file="gone.json"))
    assert not (project / "mlruns").exists()


def test_a_metrics_file_or_artifact_that_is_no_file_fails_without_blocking(
    make, project: Path
) -> None:
    os.mkfifo(project / "metrics.json")
    with pytest.raises(
        IntegrationError,
        match=r"metrics file 'metrics.json': is a FIFO \(named pipe\), expected a "
        "regular file",
    ):
        ml.log_run(make(metrics_file="metrics.json"))
    os.mkfifo(project / "pipe")
    with pytest.raises(
        IntegrationError,
        match=r"artifact 'pipe' is a FIFO \(named pipe\), expected a file or folder",
    ):
        ml.log_run(make(artifacts=["pipe"]))
    (project / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(
        IntegrationError,
        match="metrics file 'deep.json':1:65: JSON nested deeper than 64 levels",
    ):
        ml.log_run(make(metrics_file="deep.json"))
    assert not (project / "mlruns").exists()


def test_an_environment_token_in_base64_is_no_param(make, project: Path) -> None:
    token = "hf_abcdefghijklmnop"
    basic = base64.b64encode(f"user:{token}".encode()).decode()
    ctx = make(env={"HF_TOKEN": token}, params={"header": f"Basic {basic}"})
    run_id = ml.log_run(ctx)
    assert _client(project).get_run(run_id).data.params == {}
    assert "param 'header' looks like a secret: not logged" in ctx.lines


def test_non_numeric_metrics_are_skipped_and_said(make, project: Path) -> None:
    ctx = make(metrics={"accuracy": 0.9, "note": "fine", "ok": True})
    run_id = ml.log_run(ctx)
    assert _client(project).get_run(run_id).data.metrics == {"accuracy": 0.9}
    assert "not numbers, not logged as metrics: note, ok" in ctx.lines
