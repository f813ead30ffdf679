"""The ``mlflow.*`` built-ins over REST, against a real ``mlflow server``.

The server runs on 127.0.0.1 with a SQLite backend; a ``FaultyProxy`` in front
of it injects the failures (401, 403, 429, 5xx, no answer) and ``silent`` and
``refused_url`` stand for a server that never answers and one that is down.
Waits between tries go through ``mlflow_http.pause``, recorded here instead of
slept, so the bounds are asserted exactly and no test takes long.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import engine_env, start_engine, wait_for, write_goal
from fakes import hook_context
from fakes.mlflow_server import (
    Fault,
    FaultyProxy,
    MlflowServer,
    refused_url,
    server_available,
    silent,
)

from goap_engine.integrations import IntegrationError, mlflow_http
from goap_engine.integrations import mlflow as ml

# A real mlflow server takes 10-20 s to start: run by 'make test-all' and CI.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not server_available(),
        reason="the mlflow server package is not installed (pip install -e '.[dev]')",
    ),
]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    running = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def proxy(server: MlflowServer) -> Iterator[FaultyProxy]:
    with FaultyProxy(server.url) as faulty:
        yield faulty


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(mlflow_http, "pause", slept.append)
    return slept


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.onnx").write_bytes(b"onnx weights")
    (tmp_path / "model" / "config.json").write_text('{"labels": 2}\n')
    (tmp_path / "eval.json").write_text('{"accuracy": 0.93}\n')
    return tmp_path


def _client(url: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=url, registry_uri=url)


def _context(project: Path, url: str, env: dict[str, str] | None = None, **args: Any):
    return hook_context(
        project,
        {"tracking_uri": url, "log_journal": False, "metrics": {"m": 1}, **args},
        env,
        action="track",
        extra={"run": "run-7"},
    )


def _runs(url: str, experiment: str) -> list[Any]:
    client = _client(url)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return list(client.search_runs([found.experiment_id]))


def _git(project: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    for argv in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "model"]):
        subprocess.run(["git", *argv], cwd=project, env=env, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True
    )
    return head.stdout.strip()


def test_a_run_logs_the_model_registers_a_version_and_sets_aliases(
    proxy: FaultyProxy, project: Path, waits: list[float]
) -> None:
    head = _git(project)
    token = "tok-1234567890"
    ctx = _context(
        project,
        proxy.url,
        {"MLFLOW_TRACKING_TOKEN": token},
        experiment="registry",
        run_name="release",
        metrics_file="eval.json",
        model="model",
        register="cats",
        alias=["champion", "staging"],
        hub_commit="abc123",
    )
    run_id = ml.log_run(ctx)
    seen = list(proxy.seen)

    client = _client(proxy.url)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"accuracy": 0.93, "m": 1.0}
    assert run.data.tags["git.commit"] == head
    assert run.data.tags["mlflow.source.git.commit"] == head
    assert run.data.tags["hub.commit"] == "abc123"
    assert run.data.tags["goap.run"] == "run-7"
    assert sorted(a.path for a in client.list_artifacts(run_id, "model")) == [
        "model/config.json",
        "model/model.onnx",
    ]
    champion = client.get_model_version_by_alias("cats", "champion")
    assert champion.run_id == run_id
    assert client.get_model_version_by_alias("cats", "staging").version == (
        champion.version
    )
    assert ctx.lines[-1].endswith(
        f"registered 'cats' version {champion.version} (champion, staging)"
    )
    # The step's credentials went with every request, and nowhere else.
    assert {s.headers.get("authorization") for s in seen} == {f"Bearer {token}"}
    assert "MLFLOW_TRACKING_TOKEN" not in os.environ
    assert not [k for k in os.environ if k.startswith("MLFLOW_HTTP_")]
    assert waits == []


def test_a_second_release_moves_the_alias(proxy: FaultyProxy, project: Path) -> None:
    args = {"experiment": "moves", "model": "model", "register": "dogs"}
    first = ml.log_run(_context(project, proxy.url, alias="champion", **args))
    second = ml.log_run(_context(project, proxy.url, alias="champion", **args))
    client = _client(proxy.url)
    assert client.get_model_version_by_alias("dogs", "champion").run_id == second
    assert [v.run_id for v in client.search_model_versions("name = 'dogs'")] == [
        second,
        first,
    ]


def test_a_down_server_fails_after_its_retries(
    project: Path, waits: list[float]
) -> None:
    url = refused_url()
    with pytest.raises(IntegrationError) as caught:
        ml.log_run(_context(project, url, experiment="down"))
    assert str(caught.value) == (
        f"MLflow error while starting a run in 'down' ({url}): cannot connect: "
        "connection refused (is the server up?); tried 3 times"
    )
    # Tries 2 and 3: no wait, then 2 s (doubling from 1 s, never over max_wait).
    assert waits == [2.0]


def test_a_silent_server_fails_within_its_timeouts(
    project: Path, waits: list[float]
) -> None:
    with silent() as url, pytest.raises(IntegrationError) as caught:
        ml.log_run(
            _context(project, url, experiment="quiet", http_timeout=1, retries=1)
        )
    assert str(caught.value) == (
        f"MLflow error while starting a run in 'quiet' ({url}): no answer within "
        "http_timeout (1 s); tried 2 times"
    )
    assert waits == []


@pytest.mark.parametrize(
    ("fault", "message", "tries", "slept"),
    [
        (
            Fault("runs/log-batch", 401),
            "HTTP 401 Unauthorized: the server wants credentials "
            "(MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD, in the step's env)",
            1,
            [],
        ),
        (
            Fault("runs/log-batch", 403),
            "HTTP 403 Forbidden: these credentials may not do this",
            1,
            [],
        ),
        (
            Fault("runs/log-batch", 429, {"Retry-After": "5"}),
            "HTTP 429 Too Many Requests; tried 3 times",
            3,
            [5.0, 5.0],
        ),
        (
            Fault("runs/log-batch", 429),
            "HTTP 429 Too Many Requests; tried 3 times",
            3,
            [2.0],
        ),
        (
            Fault("runs/log-batch", 429, {"Retry-After": "3600"}),
            "HTTP 429 with Retry-After 3600 s, more than max_wait (30 s)",
            1,
            [],
        ),
        (
            Fault("runs/log-batch", 503),
            "HTTP 503 (server error); tried 3 times",
            3,
            [2.0],
        ),
        (
            Fault("runs/log-batch", 500),
            "HTTP 500 (server error); tried 3 times",
            3,
            [2.0],
        ),
    ],
    ids=["401", "403", "429-retry-after", "429", "429-too-long", "503", "500"],
)
def test_a_failing_call_ends_the_run_failed_with_its_cause(
    proxy: FaultyProxy,
    project: Path,
    waits: list[float],
    fault: Fault,
    message: str,
    tries: int,
    slept: list[float],
) -> None:
    experiment = f"fails-{fault.status}-{len(fault.headers)}-{len(slept)}"
    proxy.faults.append(fault)
    with pytest.raises(IntegrationError) as caught:
        ml.log_run(_context(project, proxy.url, experiment=experiment))
    (run,) = _runs(proxy.url, experiment)
    assert str(caught.value) == (
        f"MLflow error while logging run {run.info.run_id} ({proxy.url}): {message}"
    )
    assert run.info.status == "FAILED"
    assert sum("log-batch" in p for p in proxy.paths()) == tries
    assert waits == slept


def test_a_transient_429_is_retried_after_the_wait_asked(
    proxy: FaultyProxy, project: Path, waits: list[float]
) -> None:
    proxy.faults.append(Fault("runs/create", 429, {"Retry-After": "3"}, times=1))
    run_id = ml.log_run(_context(project, proxy.url, experiment="transient"))
    assert _client(proxy.url).get_run(run_id).info.status == "FINISHED"
    assert waits == [3.0]


def test_the_first_error_is_reported_when_marking_the_run_failed_fails_too(
    proxy: FaultyProxy, project: Path, waits: list[float]
) -> None:
    proxy.faults += [Fault("runs/log-batch", 403), Fault("runs/update", 503)]
    with pytest.raises(IntegrationError) as caught:
        ml.log_run(_context(project, proxy.url, experiment="twice", retries=0))
    (run,) = _runs(proxy.url, "twice")
    assert str(caught.value) == (
        f"MLflow error while logging run {run.info.run_id} ({proxy.url}): "
        "HTTP 403 Forbidden: these credentials may not do this; marking the run "
        "FAILED failed too (HTTP 503 (server error); tried 1 time): it stays "
        "RUNNING on the server"
    )


def test_the_sensor_is_bounded_too(project: Path, waits: list[float]) -> None:
    url = refused_url()
    with pytest.raises(IntegrationError, match="connection refused.*tried 2 times"):
        ml.logged(_context(project, url, experiment="x", retries=1))


GOAL = """\
version: 1
state: {tracked: bool, second: bool}
actions:
  track:
    effects: {tracked: true}
    env: {MLFLOW_TRACKING_TOKEN: "tok-from-env-1"}
    run:
      builtin: mlflow.log_run
      with:
        tracking_uri: "URL"
        experiment: "EXPERIMENT"
        log_journal: false
        metrics: {m: 1}
  again:
    pre: [tracked]
    effects: {second: true}
    run:
      builtin: mlflow.log_run
      with:
        tracking_uri: "URL"
        experiment: "EXPERIMENT"
        log_journal: false
        metrics: {m: 1}
goal: [tracked, second]
"""


def _goal(project: Path, url: str, experiment: str) -> Path:
    text = GOAL.replace("URL", url).replace("EXPERIMENT", experiment)
    return write_goal(project, text)


def test_an_actions_env_credentials_go_only_with_its_own_calls(
    proxy: FaultyProxy, project: Path
) -> None:
    goal = _goal(project, proxy.url, "env")
    done = subprocess.run(
        [sys.executable, "-m", "goap_engine", "run", str(goal), "--yes"],
        cwd=project,
        env=engine_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    runs = sorted(_runs(proxy.url, "env"), key=lambda r: r.info.start_time)
    assert [r.info.status for r in runs] == ["FINISHED", "FINISHED"]
    authorizations = [
        s.headers.get("authorization") for s in proxy.seen if "runs/create" in s.path
    ]
    # The worker serving both steps kept nothing of the first one's env.
    assert authorizations == ["Bearer tok-from-env-1", None]


def test_ctrl_c_ends_the_run_killed(proxy: FaultyProxy, project: Path) -> None:
    proxy.faults.append(Fault("runs/log-batch", 0))
    goal = _goal(project, proxy.url, "interrupted")
    engine = start_engine("run", goal, "--yes", cwd=project)
    try:
        wait_for(
            lambda: any("log-batch" in p for p in proxy.paths()),
            timeout=60,
            message="the step to reach log-batch",
        )
        engine.send_signal(signal.SIGINT)
        _, stderr = engine.communicate(timeout=60)
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.communicate()
    assert engine.returncode == 130, stderr
    (run,) = _runs(proxy.url, "interrupted")
    assert run.info.status == "KILLED"


def test_a_step_timing_out_ends_the_run_killed(
    proxy: FaultyProxy, project: Path
) -> None:
    proxy.faults.append(Fault("runs/log-batch", 0))
    text = GOAL.replace("URL", proxy.url).replace("EXPERIMENT", "timed-out")
    goal = write_goal(
        project,
        text.replace(
            "    effects: {tracked: true}\n",
            "    effects: {tracked: true}\n    timeout: 5s\n",
            1,
        ),
    )
    done = subprocess.run(
        [sys.executable, "-m", "goap_engine", "run", str(goal), "--yes"],
        cwd=project,
        env=engine_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "timed out after 5 s" in done.stderr
    (run,) = _runs(proxy.url, "timed-out")
    assert run.info.status == "KILLED"
