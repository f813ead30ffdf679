"""MLflow built-ins: record a run (params, metrics, artifacts) and sense it.

Arguments (``with:``): ``tracking_uri`` (default ``$MLFLOW_TRACKING_URI``, else
a file store at ``<workdir>/mlruns``; a plain path is taken relative to the
working directory), ``experiment`` (default ``goap-engine``), ``run_name``,
``params`` (mapping), ``metrics`` (mapping) and/or ``metrics_file`` (a JSON
file; nested objects become dotted keys), ``artifacts`` (paths), ``tags``
(mapping) and ``log_journal`` (default true: attach the engine's journal and
state file).

The run is tagged ``goap.run`` with the engine's run id.  Nothing holding a
secret is logged: not a parameter or tag whose name or value holds one (in any
of the forms the redactor knows) or that looks like one (by its name, or by
matching an environment variable named like a token), not a metric named with
one, not an artifact file whose content holds one.  Each is left out with a
line saying so; a run name holding one is logged redacted.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import FileError
from ..executor.hooks import HookContext
from ..executor.redaction import Redactor
from ..files import kind_of, read_json
from . import IntegrationError, require

DEFAULT_EXPERIMENT = "goap-engine"
RUN_TAG = "goap.run"
SECRET_NAME = re.compile(
    r"token|secret|passw(or)?d|api[_-]?key|credential|private[_-]?key", re.I
)
# Short values (e.g. "1", "true") match too much to be treated as secrets.
MIN_SECRET_LENGTH = 8
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _arg(ctx: HookContext, name: str, default: Any = None) -> Any:
    """Return an argument; an empty string (an unset template var) is unset."""
    value = ctx.args.get(name)
    return default if value is None or value == "" else value


def tracking_uri(ctx: HookContext) -> str:
    """Return the tracking URI the hook writes to."""
    uri = _arg(ctx, "tracking_uri") or ctx.env.get("MLFLOW_TRACKING_URI")
    if not uri:
        return (ctx.workdir / "mlruns").resolve().as_uri()
    uri = str(uri)
    if not SCHEME.match(uri):
        return (ctx.workdir / uri).resolve().as_uri()
    return uri


def _shown(uri: str) -> str:
    """Return ``uri`` without a password, for log lines."""
    return re.sub(r"//[^/@]*@", "//***@", uri)


def _client(ctx: HookContext) -> tuple[Any, str]:
    uri = tracking_uri(ctx)
    if uri.startswith("file:"):
        # MLflow 3 refuses file stores unless asked for; a local folder is the
        # point of the default, so opt in (without overriding a user's choice).
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    tracking = require("mlflow.tracking")
    return tracking.MlflowClient(tracking_uri=uri), uri


def _error(what: str, exc: Exception) -> IntegrationError:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return IntegrationError(f"MLflow error while {what}: {message}")


def _experiment_id(client: Any, name: str, *, create: bool) -> str | None:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        if not create:
            return None
        try:
            return str(client.create_experiment(name))
        except Exception:
            # Created by someone else in the meantime.
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage == "deleted":
        raise IntegrationError(
            f"MLflow experiment '{name}' is deleted: restore it or choose another"
        )
    return str(experiment.experiment_id)


# -- what to log -------------------------------------------------------------


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: data}


def _metrics(ctx: HookContext) -> dict[str, float]:
    raw: dict[str, Any] = {}
    source = _arg(ctx, "metrics_file")
    if source:
        path = ctx.workdir / str(source)
        if not path.exists():
            raise IntegrationError(f"metrics file '{source}' does not exist")
        try:
            # Bounded, regular files only: a FIFO would block the step.
            raw.update(_flatten(read_json(path)))
        except FileError as exc:
            at = f":{exc.line}:{exc.col}" if exc.line else ""
            raise IntegrationError(
                f"metrics file '{source}'{at}: {exc.reason}"
            ) from None
    raw.update(_flatten(dict(_arg(ctx, "metrics", {}))))
    metrics: dict[str, float] = {}
    skipped = []
    for key, value in raw.items():
        if ctx.redact.contains(key):
            ctx.log("a metric named with a secret: not logged")
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            metrics[key] = float(value)
        else:
            skipped.append(key)
    if skipped:
        ctx.log(f"not numbers, not logged as metrics: {', '.join(sorted(skipped))}")
    return metrics


def _params(ctx: HookContext) -> dict[str, str]:
    # Values of variables named like tokens, in every form the redactor knows.
    env_secrets = Redactor(
        value
        for name, value in ctx.env.items()
        if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH
    )
    params: dict[str, str] = {}
    for key, value in dict(_arg(ctx, "params", {})).items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if ctx.redact.contains(str(key)):
            ctx.log("a param named with a secret: not logged")
        elif (
            SECRET_NAME.search(str(key))
            or env_secrets.contains(text)
            or ctx.redact.contains(text)
        ):
            ctx.log(f"param '{key}' looks like a secret: not logged")
        else:
            params[str(key)] = text
    return params


def _tags(ctx: HookContext) -> dict[str, str]:
    tags: dict[str, str] = {}
    for key, value in dict(_arg(ctx, "tags", {})).items():
        if ctx.redact.contains(str(key)):
            ctx.log("a tag named with a secret: not logged")
        elif ctx.redact.contains(str(value)):
            ctx.log(f"tag '{key}' holds a secret: not logged")
        else:
            tags[str(key)] = str(value)
    return tags


def _holds_secret(ctx: HookContext, path: Path) -> bool:
    """Return whether the file at ``path`` holds a secret, read in pieces."""
    if not ctx.redact:
        return False
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    # The end of the previous piece: a secret may straddle two pieces.
    carry = ""
    with path.open("rb") as handle:
        while True:
            block = handle.read(1 << 20)
            text = carry + decoder.decode(block, final=not block)
            if ctx.redact.contains(text):
                return True
            if not block:
                return False
            carry = text[-ctx.redact.longest :]


def _clean_files(ctx: HookContext, path: Path) -> list[Path]:
    """Return the files under ``path`` that hold no secret; say which do."""
    files = (
        sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    )
    clean = []
    for file in files:
        if _holds_secret(ctx, file):
            shown = (
                file.relative_to(ctx.workdir)
                if file.is_relative_to(ctx.workdir)
                else file
            )
            ctx.log(f"artifact '{shown}' holds a secret: not logged")
        else:
            clean.append(file)
    return clean


def _artifacts(ctx: HookContext) -> list[tuple[Path, str | None]]:
    """Return (path, artifact folder) pairs; every listed path must exist."""
    listed = _arg(ctx, "artifacts", [])
    if isinstance(listed, str):
        listed = [listed]
    found: list[tuple[Path, str | None]] = []
    for item in listed:
        path = ctx.workdir / str(item)
        if not path.exists():
            raise IntegrationError(f"artifact '{item}' does not exist")
        mode = path.stat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            # Reading it for secrets, or copying it, would block or never end.
            raise IntegrationError(
                f"artifact '{item}' is {kind_of(mode)}, expected a file or folder"
            )
        found.append((path, None))
    log_journal = _arg(ctx, "log_journal", True)
    if log_journal and str(log_journal).lower() not in ("false", "0", "no"):
        for key in ("journal", "state_file", "plan"):
            value = ctx.extra.get(key)
            if value and Path(value).is_file():
                found.append((Path(value), "goap"))
    return found


# -- built-ins ---------------------------------------------------------------


def log_run(ctx: HookContext) -> str:
    """Record an MLflow run with params, metrics and artifacts; return its id."""
    entities = require("mlflow.entities")
    params = _params(ctx)
    metrics = _metrics(ctx)
    artifacts = _artifacts(ctx)
    name = str(_arg(ctx, "experiment", DEFAULT_EXPERIMENT))
    if ctx.redact.contains(name):
        raise IntegrationError("the experiment name holds a secret; choose another")
    run_name = _arg(ctx, "run_name")
    if run_name is not None:
        run_name = ctx.redact(str(run_name))
    client, uri = _client(ctx)
    tags = _tags(ctx)
    if ctx.extra.get("run") is not None:
        tags[RUN_TAG] = str(ctx.extra["run"])
    if ctx.action:
        tags["goap.action"] = ctx.action
    try:
        experiment_id = _experiment_id(client, name, create=True)
        run = client.create_run(experiment_id, tags=tags, run_name=run_name)
    except IntegrationError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported with MLflow's message
        raise _error(f"starting a run in '{name}' ({_shown(uri)})", exc) from None
    run_id = str(run.info.run_id)
    try:
        now = int(time.time() * 1000)
        step = int(_arg(ctx, "step", 0))
        client.log_batch(
            run_id,
            metrics=[entities.Metric(k, v, now, step) for k, v in metrics.items()],
            params=[entities.Param(k, v) for k, v in params.items()],
        )
        for path, folder in artifacts:
            clean = _clean_files(ctx, path)
            if not path.is_dir():
                if clean:
                    client.log_artifact(run_id, str(path), artifact_path=folder)
                continue
            if len(clean) == sum(1 for p in path.rglob("*") if p.is_file()):
                client.log_artifacts(run_id, str(path), artifact_path=path.name)
                continue
            for file in clean:
                inside = file.parent.relative_to(path)
                client.log_artifact(
                    run_id, str(file), artifact_path=str(path.name / inside)
                )
    except Exception as exc:  # noqa: BLE001 - the run is closed as failed
        client.set_terminated(run_id, status="FAILED")
        raise _error(f"logging run {run_id}", exc) from None
    client.set_terminated(run_id, status="FINISHED")
    ctx.log(
        f"MLflow run {run_id} in '{name}' ({_shown(uri)}): {len(params)} params, "
        f"{len(metrics)} metrics, {len(artifacts)} artifacts"
    )
    return run_id


def _quoted(value: str) -> str | None:
    for quote in ("'", '"'):
        if quote not in value:
            return f"{quote}{value}{quote}"
    return None


def logged(ctx: HookContext) -> bool:
    """Sense whether a finished run of this engine run (or ``run_name``) exists."""
    wanted: list[tuple[str, str]] = []
    if ctx.extra.get("run") is not None:
        wanted.append((f"tags.`{RUN_TAG}`", str(ctx.extra["run"])))
    if _arg(ctx, "run_name"):
        wanted.append(("attributes.run_name", str(_arg(ctx, "run_name"))))
    if not wanted:
        return False
    name = str(_arg(ctx, "experiment", DEFAULT_EXPERIMENT))
    client, uri = _client(ctx)
    try:
        experiment_id = _experiment_id(client, name, create=False)
        if experiment_id is None:
            return False
        for field, value in wanted:
            quoted = _quoted(value)
            if quoted is None:
                continue
            found = client.search_runs(
                [experiment_id],
                filter_string=f"{field} = {quoted} and attributes.status = 'FINISHED'",
                max_results=1,
            )
            if found:
                return True
    except IntegrationError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure is a sensing error
        raise _error(f"searching runs in '{name}' ({_shown(uri)})", exc) from None
    return False
