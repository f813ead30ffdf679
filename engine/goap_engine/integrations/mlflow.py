"""MLflow built-ins: record a run (params, metrics, artifacts, a model) and sense it.

Arguments (``with:``): ``tracking_uri`` (default ``$MLFLOW_TRACKING_URI``,
else the SQLite store ``<workdir>/mlflow.db``; a plain path is taken relative
to the working directory: ``*.db`` as a SQLite store, anything else as a file
store), ``experiment`` (default ``goap-engine``), ``run_name``, ``params``
(mapping), ``metrics`` (mapping) and/or ``metrics_file`` (a JSON file; nested
objects become dotted keys), ``artifacts`` (paths), ``tags`` (mapping),
``log_journal`` (default true: attach the engine's journal and state file),
``model`` (a folder or file logged under ``model/``), ``register`` (the
registered model to add it to as a new version), ``alias`` (aliases to point
at that version, e.g. ``champion``), ``git_commit`` and ``hub_commit`` (tags),
and the bounds ``http_timeout``, ``retries`` and ``max_wait`` (see
``mlflow_http``).

The run is tagged ``goap.run`` with the engine's run id and, in a git
repository, ``git.commit`` and ``mlflow.source.git.commit`` with HEAD.  It
always ends: FINISHED, FAILED (the first error is the one reported, even when
marking the run FAILED fails too) or KILLED when the step is stopped (Ctrl-C,
its timeout).  Nothing holding a secret is logged: not a parameter or tag
whose name or value holds one (in any of the forms the redactor knows) or that
looks like one (by its name, or by matching an environment variable named
like a token), not a metric named with one, not an artifact file whose content
holds one.  Each is left out with a line saying so; a run name holding one is
logged redacted.
"""

from __future__ import annotations

import codecs
import importlib.util
import json
import re
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from ..errors import FileError
from ..executor.hooks import HookContext
from ..executor.redaction import Redactor
from ..files import kind_of, read_json
from . import IntegrationError, require
from .mlflow_http import Bounds, bounded, bounds_of, cause

DEFAULT_EXPERIMENT = "goap-engine"
DEFAULT_STORE = "mlflow.db"
RUN_TAG = "goap.run"
SECRET_NAME = re.compile(
    r"token|secret|passw(or)?d|api[_-]?key|credential|private[_-]?key", re.I
)
# Short values (e.g. "1", "true") match too much to be treated as secrets.
MIN_SECRET_LENGTH = 8
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
SQLITE = "sqlite:///"
GIT_TIMEOUT = 10.0


def _arg(ctx: HookContext, name: str, default: Any = None) -> Any:
    """Return an argument; an empty string (an unset template var) is unset."""
    value = ctx.args.get(name)
    return default if value is None or value == "" else value


def _bounds(ctx: HookContext) -> Bounds:
    """Return the bounds of this call's requests (see ``mlflow_http.Bounds``)."""
    return bounds_of(
        {
            "http_timeout": _arg(ctx, "http_timeout", 10),
            "retries": _arg(ctx, "retries", 2),
            "max_wait": _arg(ctx, "max_wait", 30.0),
        }
    )


def tracking_uri(ctx: HookContext) -> str:
    """Return the tracking URI the hook writes to."""
    uri = _arg(ctx, "tracking_uri") or ctx.env.get("MLFLOW_TRACKING_URI")
    if not uri:
        return SQLITE + str((ctx.workdir / DEFAULT_STORE).resolve())
    uri = str(uri)
    if uri.startswith(SQLITE) and not uri[len(SQLITE) :].startswith("/"):
        # MLflow would take it relative to whatever the current folder is.
        return SQLITE + str((ctx.workdir / uri[len(SQLITE) :]).resolve())
    if not SCHEME.match(uri):
        path = (ctx.workdir / uri).resolve()
        return SQLITE + str(path) if path.suffix == ".db" else path.as_uri()
    return uri


def is_remote(uri: str) -> bool:
    """Return whether ``uri`` is reached over the network."""
    return not uri.startswith(("file:", "sqlite:"))


def shown(uri: str) -> str:
    """Return ``uri`` without a password, for log lines."""
    return re.sub(r"//[^/@]*@", "//***@", uri)


def client_for(uri: str) -> Any:
    """Return an ``MlflowClient`` for ``uri``, or say what it needs."""
    if uri.startswith("sqlite:") and not all(
        importlib.util.find_spec(m) for m in ("sqlalchemy", "alembic")
    ):
        raise IntegrationError(
            f"the MLflow store {shown(uri)} needs SQLAlchemy and Alembic: "
            "pip install 'goap-engine[mlflow]'"
        )
    tracking = require("mlflow.tracking")
    return tracking.MlflowClient(tracking_uri=uri, registry_uri=uri)


def local_environment(uri: str) -> dict[str, str]:
    """Return what MLflow needs in its environment to use a local ``uri``."""
    # MLflow 3 refuses file stores unless asked for: a path given as the
    # tracking_uri is the user asking.
    return {"MLFLOW_ALLOW_FILE_STORE": "true"} if uri.startswith("file:") else {}


def error(what: str, exc: BaseException, bounds: Bounds, uri: str) -> IntegrationError:
    """Return the error for a failed MLflow call: service, call and cause."""
    because = cause(exc, bounds, remote=is_remote(uri))
    return IntegrationError(f"MLflow error while {what} ({shown(uri)}): {because}")


def _artifact_location(uri: str) -> str | None:
    # MLflow puts a SQLite store's artifacts under ./mlruns of whatever the
    # current folder is; keep them beside the database instead.
    if not uri.startswith(SQLITE):
        return None
    return (Path(uri[len(SQLITE) :]).parent / "mlartifacts").as_uri()


def _experiment_id(client: Any, uri: str, name: str, *, create: bool) -> str | None:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        if not create:
            return None
        try:
            return str(
                client.create_experiment(
                    name, artifact_location=_artifact_location(uri)
                )
            )
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


def _git_commit(ctx: HookContext) -> str | None:
    """Return the commit to tag the run with: ``git_commit``, else HEAD."""
    given = _arg(ctx, "git_commit")
    if given:
        return str(given)
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=ctx.workdir,
            env={**ctx.env, "GIT_TERMINAL_PROMPT": "0"},
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = done.stdout.strip()
    # Not a repository, or one without commits: nothing to tag.
    return commit if done.returncode == 0 and commit else None


def _run_tags(ctx: HookContext) -> dict[str, str]:
    tags = _tags(ctx)
    if ctx.extra.get("run") is not None:
        tags[RUN_TAG] = str(ctx.extra["run"])
    if ctx.action:
        tags["goap.action"] = ctx.action
    commit = _git_commit(ctx)
    if commit:
        tags["git.commit"] = commit
        tags["mlflow.source.git.commit"] = commit
    if _arg(ctx, "hub_commit"):
        tags["hub.commit"] = str(_arg(ctx, "hub_commit"))
    return tags


def _aliases(ctx: HookContext) -> list[str]:
    listed = _arg(ctx, "alias", [])
    if isinstance(listed, str):
        listed = [a.strip() for a in listed.split(",")]
    aliases = [str(a) for a in listed if str(a)]
    if aliases and not _arg(ctx, "register"):
        raise IntegrationError("'alias' needs 'register': the model to set it on")
    if _arg(ctx, "register") and not _arg(ctx, "model"):
        raise IntegrationError("'register' needs 'model': the folder to register")
    return aliases


def _model(ctx: HookContext) -> Path | None:
    given = _arg(ctx, "model")
    if not given:
        return None
    path = ctx.workdir / str(given)
    if not path.exists():
        raise IntegrationError(f"model '{given}' does not exist")
    if not (path.is_dir() or path.is_file()):
        raise IntegrationError(f"model '{given}' is not a file or folder")
    return path


def _log_files(
    ctx: HookContext, client: Any, run_id: str, path: Path, folder: str | None
) -> None:
    """Log ``path`` (a file or a folder) under ``folder``, secrets left out."""
    clean = _clean_files(ctx, path)
    if not path.is_dir():
        if clean:
            client.log_artifact(run_id, str(path), artifact_path=folder)
        return
    if len(clean) == sum(1 for p in path.rglob("*") if p.is_file()):
        client.log_artifacts(run_id, str(path), artifact_path=folder)
        return
    for file in clean:
        inside = file.parent.relative_to(path)
        client.log_artifact(
            run_id, str(file), artifact_path=str(Path(folder or "") / inside)
        )


def _register(ctx: HookContext, client: Any, run_id: str, aliases: list[str]) -> str:
    """Add the run's model as a new version; point ``aliases`` at it."""
    name = str(_arg(ctx, "register"))
    try:
        client.get_registered_model(name)
    except Exception as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(name)
    version = client.create_model_version(
        name, source=f"runs:/{run_id}/model", run_id=run_id
    )
    for alias in aliases:
        client.set_registered_model_alias(name, alias, version.version)
    shown_aliases = f" ({', '.join(aliases)})" if aliases else ""
    return f"; registered '{name}' version {version.version}{shown_aliases}"


class Stopped(BaseException):
    """The engine stopped the step (Ctrl-C, a timeout): SIGTERM to the worker."""


@contextmanager
def _stoppable() -> Iterator[None]:
    """Turn the engine's SIGTERM into ``Stopped`` so the run can end KILLED."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


# The engine kills a stopped step's worker 2 s after its SIGTERM: one short
# try to mark the run KILLED fits.
ENDING = Bounds(http_timeout=1, retries=0, max_wait=0)


def _end(client: Any, run_id: str, status: str) -> None:
    client.set_terminated(run_id, status=status)


def log_run(ctx: HookContext) -> str:
    """Record an MLflow run (params, metrics, artifacts, a model); return its id."""
    entities = require("mlflow.entities")
    bounds = _bounds(ctx)
    params = _params(ctx)
    metrics = _metrics(ctx)
    artifacts = _artifacts(ctx)
    model = _model(ctx)
    aliases = _aliases(ctx)
    name = str(_arg(ctx, "experiment", DEFAULT_EXPERIMENT))
    if ctx.redact.contains(name):
        raise IntegrationError("the experiment name holds a secret; choose another")
    run_name = _arg(ctx, "run_name")
    if run_name is not None:
        run_name = ctx.redact(str(run_name))
    tags = _run_tags(ctx)
    uri = tracking_uri(ctx)
    env = {**ctx.env, **local_environment(uri)}
    with bounded(env, bounds), _stoppable():
        try:
            client = client_for(uri)
            experiment_id = _experiment_id(client, uri, name, create=True)
            run = client.create_run(experiment_id, tags=tags, run_name=run_name)
        except IntegrationError:
            raise
        except Stopped:
            stopped = f"stopped while starting a run in '{name}'"
            raise IntegrationError(stopped) from None
        except Exception as exc:  # noqa: BLE001 - reported with its cause
            raise error(f"starting a run in '{name}'", exc, bounds, uri) from None
        run_id = str(run.info.run_id)
        ctx.log(f"MLflow run {run_id} started in '{name}' ({shown(uri)})")
        registered = ""
        try:
            now = int(time.time() * 1000)
            step = int(_arg(ctx, "step", 0))
            client.log_batch(
                run_id,
                metrics=[entities.Metric(k, v, now, step) for k, v in metrics.items()],
                params=[entities.Param(k, v) for k, v in params.items()],
            )
            for path, folder in artifacts:
                if folder is None and path.is_dir():
                    folder = path.name
                _log_files(ctx, client, run_id, path, folder)
            if model is not None:
                _log_files(ctx, client, run_id, model, "model")
            if _arg(ctx, "register"):
                registered = _register(ctx, client, run_id, aliases)
        except (Stopped, KeyboardInterrupt):
            signal_safe_end(ctx, client, run_id, "KILLED", env, uri)
            raise IntegrationError(
                f"stopped while logging MLflow run {run_id}"
            ) from None
        except Exception as exc:  # noqa: BLE001 - the run is closed as failed
            first = error(f"logging run {run_id}", exc, bounds, uri)
            try:
                _end(client, run_id, "FAILED")
            except Exception as again:  # noqa: BLE001 - the first error counts
                left = cause(again, bounds, remote=is_remote(uri))
                raise IntegrationError(
                    f"{first}; marking the run FAILED failed too ({left}): "
                    "it stays RUNNING on the server"
                ) from None
            raise first from None
        try:
            _end(client, run_id, "FINISHED")
        except (Exception, Stopped) as exc:
            raise error(f"ending run {run_id}", exc, bounds, uri) from None
    ctx.log(
        f"MLflow run {run_id} in '{name}' ({shown(uri)}): {len(params)} params, "
        f"{len(metrics)} metrics, {len(artifacts)} artifacts{registered}"
    )
    return run_id


def signal_safe_end(
    ctx: HookContext,
    client: Any,
    run_id: str,
    status: str,
    env: Mapping[str, str],
    uri: str,
) -> None:
    """Mark the run ``status`` in one short try, deaf to a second stop."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with bounded(env, ENDING):
            _end(client, run_id, status)
    except Exception as exc:  # noqa: BLE001 - said, then the stop goes on
        ctx.log(
            f"could not mark MLflow run {run_id} {status}: "
            f"{cause(exc, ENDING, remote=is_remote(uri))}"
        )
    else:
        ctx.log(f"MLflow run {run_id} ended {status}")


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
    bounds = _bounds(ctx)
    name = str(_arg(ctx, "experiment", DEFAULT_EXPERIMENT))
    uri = tracking_uri(ctx)
    try:
        with bounded({**ctx.env, **local_environment(uri)}, bounds):
            client = client_for(uri)
            experiment_id = _experiment_id(client, uri, name, create=False)
            if experiment_id is None:
                return False
            for field, value in wanted:
                quoted = _quoted(value)
                if quoted is None:
                    continue
                found = client.search_runs(
                    [experiment_id],
                    filter_string=(
                        f"{field} = {quoted} and attributes.status = 'FINISHED'"
                    ),
                    max_results=1,
                )
                if found:
                    return True
    except IntegrationError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure is a sensing error
        raise error(f"searching runs in '{name}'", exc, bounds, uri) from None
    return False
