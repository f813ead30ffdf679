"""The built-in hooks and sensors: their names, what they take, what they do.

The language layer owns this knowledge so that ``validate`` can check a
``builtin:`` hook's ``with:`` arguments without importing the executor or any
service library; the executor only looks up ``target`` (``module:function``)
to call one.  Each function in ``integrations/`` reads exactly the arguments
declared here (``tests/test_builtin_registry.py`` compares the two), and
``builtin_checks`` checks a hook's ``with:`` against the declaration.

Built-ins added by other packages through the ``goap_engine.builtins``
entry-point group carry no declaration: their names are accepted and their
``with:`` is passed on unchecked.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ArgType = Literal["str", "int", "float", "bool", "list[str]", "mapping", "path"]
Kind = Literal["action", "sensor", "both"]

ENTRY_POINT_GROUP = "goap_engine.builtins"


@dataclass(frozen=True, slots=True)
class Argument:
    """One key of a built-in's ``with:``.

    ``default`` is the value used when the key is absent (None: no fixed
    default; the description says what happens then).
    """

    name: str
    type: ArgType
    description: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Builtin:
    """A built-in hook: where its function is and the arguments it reads.

    ``one_of`` lists groups of which at least one argument must be given;
    ``needs`` maps an argument to another that must come with it; ``bound``
    says how long a call to a service can take, and what ends it.
    """

    name: str
    target: str
    kind: Kind
    summary: str
    arguments: tuple[Argument, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    needs: tuple[tuple[str, str], ...] = ()
    bound: str = ""

    def argument(self, name: str) -> Argument | None:
        """Return the argument called ``name``, or None."""
        return next((a for a in self.arguments if a.name == name), None)


def _arg(
    name: str,
    type_: ArgType,
    description: str,
    *,
    required: bool = False,
    default: Any = None,
    choices: tuple[str, ...] = (),
) -> Argument:
    return Argument(name, type_, description, required, default, choices)


_BRANCH_OR_HEAD = _arg(
    "branch", "str", "The local branch (default: the checked-out one)."
)
_REMOTE = _arg("remote", "str", "The remote to use.", default="origin")

# Every GitHub built-in reaches the API the same way.
_GITHUB = (
    _arg(
        "repo",
        "str",
        "The repository, as 'owner/name' (default: read from the remote's URL).",
    ),
    _arg(
        "remote",
        "str",
        "The git remote whose URL names the repository.",
        default="origin",
    ),
    _arg(
        "token_env",
        "str",
        "The environment variable holding the token.",
        default="GITHUB_TOKEN",
    ),
    _arg("base_url", "str", "The API's address.", default="https://api.github.com"),
    _arg("http_timeout", "int", "Seconds one request may take.", default=30),
    _arg(
        "retries",
        "int",
        "More attempts after a 429, a secondary rate limit, a 5xx, a timeout "
        "or a refused connection.",
        default=3,
    ),
    _arg(
        "max_wait",
        "float",
        "Most seconds a call waits in all between attempts (Retry-After, a "
        "rate limit's reset, or 1, 2, 4 ... s); a longer wait fails at once.",
        default=60.0,
    ),
)
_GITHUB_HEAD = (
    _arg(
        "sha",
        "str",
        "The commit to judge (default: the local head of 'branch', else HEAD: "
        "what was pushed, not the branch's head on GitHub).",
    ),
    _arg("branch", "str", "The local branch whose head was pushed (when no 'sha')."),
)
_GITHUB_BOUND = (
    "each request waits at most http_timeout s; a call makes at most "
    "retries + 1 attempts and waits at most max_wait s between them, so a "
    "service that never answers fails it within (retries + 1) x http_timeout "
    "+ max_wait s (180 s by default). What still fails, fails the step "
    "without a verdict (on_failure does not apply)."
)
_GITHUB_PULL = (
    _arg("head", "str", "The branch of the pull request (default: 'branch')."),
    _arg(
        "branch",
        "str",
        "The branch of the pull request, when 'head' is unset (default: the "
        "checked-out branch).",
    ),
    _arg("base", "str", "The branch it merges into.", default="main"),
)
_GITHUB_TEXT = (
    _arg(
        "body", "str", "The text, when neither body_file nor goal is given.", default=""
    ),
    _arg("body_file", "path", "A file whose content is the text."),
    _arg(
        "goal",
        "path",
        "Render the text from this goal's progress: its plan, steps and state.",
    ),
    _arg("template", "path", "The template that renders 'goal' (a file)."),
    _arg(
        "include",
        "list[str]",
        "Files appended under their names, e.g. a gate report "
        "(a missing one is noted).",
        default=[],
    ),
)

_HF_REPO = (
    _arg("repo_id", "str", "The repository, as 'owner/name'.", required=True),
    _arg(
        "repo_type",
        "str",
        "What the repository holds.",
        default="model",
        choices=("model", "dataset", "space"),
    ),
)
_HF_HUB = (
    _arg(
        "token_env",
        "str",
        "The environment variable holding the token.",
        default="HF_TOKEN",
    ),
    _arg(
        "endpoint",
        "str",
        "The Hub's address (default: $HF_ENDPOINT, else the public Hub).",
    ),
    _arg(
        "http_timeout",
        "float",
        "Seconds one request may wait for the network (connect, send, answer).",
        default=30.0,
    ),
    _arg(
        "max_wait",
        "float",
        "Most seconds of waiting between retries (429, 5xx, lost connection) "
        "in all; a failing Hub fails the step within "
        "3 x http_timeout + max_wait (150 s by default).",
        default=60.0,
    ),
)
_HF_FILES = (
    _arg(
        "folder", "path", "The folder to publish (relative to workdir).", required=True
    ),
    _arg(
        "allow_patterns",
        "list[str]",
        "Globs on paths inside the folder; 'dir/' means all in it (default: all).",
    ),
    _arg("card", "path", "A model card, published as README.md."),
    _arg(
        "metrics",
        "path",
        "A JSON metrics report written into the card's model-index (the card, "
        "else the folder's README.md, else a generated card).",
    ),
    _arg(
        "task",
        "str",
        "The task the metrics measure (default: the card's pipeline_tag, "
        "else 'other').",
    ),
    _arg(
        "dataset",
        "str",
        "The dataset the metrics were measured on.",
        default="evaluation",
    ),
)
_HF_DELETE = _arg(
    "delete_missing",
    "bool",
    "Delete from the Hub the files of the selection no longer in the folder "
    "(.gitattributes stays); with false, they stay and do not count.",
    default=True,
)
_HF_LOCAL = (
    _arg(
        "registry",
        "path",
        "The local registry folder (relative to workdir).",
        default="registry",
    ),
    _arg("version", "str", "The version folder (default: a hash of the content)."),
)
_MLFLOW = (
    _arg(
        "tracking_uri",
        "str",
        "Where runs are stored: a URI, or a path relative to workdir (*.db: "
        "SQLite) (default: $MLFLOW_TRACKING_URI, else sqlite:///<workdir>/mlflow.db).",
    ),
    _arg("experiment", "str", "The experiment's name.", default="goap-engine"),
    _arg("run_name", "str", "The run's name."),
)
# A request fails after (retries + 1) x http_timeout s of tries and at most
# retries x max_wait s of waits; a step stops at its first failed request.
_MLFLOW_BOUNDS = (
    _arg("http_timeout", "int", "Seconds one try of a request may take.", default=10),
    _arg(
        "retries",
        "int",
        "Tries after the first on no answer, 429 or 5xx (MLflow: 7).",
        default=2,
    ),
    _arg(
        "max_wait",
        "float",
        "Most seconds between tries; a longer Retry-After fails at once.",
        default=30.0,
    ),
)
_MODAL_CHECK = _arg(
    "check_timeout",
    "float",
    "Most seconds the token check (one call to Modal) may take.",
    default=10.0,
)
_MODAL = (
    _MODAL_CHECK,
    _arg("environment", "str", "The Modal environment to use."),
    _arg(
        "timeout",
        "float",
        "Seconds the command may take (default: the action's timeout, else 1800).",
    ),
)
_DOCS = (
    _arg("goal", "path", "The goal file to report on.", required=True),
    _arg("output", "path", "The file to write.", required=True),
)


def _b(
    name: str,
    function: str,
    kind: Kind,
    summary: str,
    *arguments: Argument,
    one_of: tuple[tuple[str, ...], ...] = (),
    needs: tuple[tuple[str, str], ...] = (),
    bound: str = "",
) -> Builtin:
    module = name.split(".")[0]
    module = {"hf": "huggingface", "env": "environment", "file": "environment"}.get(
        module, module
    )
    target = f"goap_engine.integrations.{module}:{function}"
    return Builtin(name, target, kind, summary, arguments, one_of, needs, bound)


_TABLE = (
    _b(
        "git.current_branch",
        "current_branch",
        "sensor",
        "The checked-out branch's name ('' when HEAD is detached).",
    ),
    _b(
        "git.branch_exists",
        "branch_exists",
        "sensor",
        "Whether the local branch 'name' exists.",
        _arg("name", "str", "The branch.", required=True),
    ),
    _b(
        "git.create_branch",
        "create_branch",
        "action",
        "Create branch 'name' and check it out (an existing one is checked out).",
        _arg("name", "str", "The branch.", required=True),
        _arg("start", "str", "The commit to branch from.", default="HEAD"),
    ),
    _b(
        "git.switch_branch",
        "switch_branch",
        "action",
        "Check out the existing branch 'name'.",
        _arg("name", "str", "The branch.", required=True),
    ),
    _b(
        "git.commit",
        "commit",
        "action",
        "Commit exactly 'paths' with 'message'; nothing changed makes no commit.",
        _arg("message", "str", "The commit message.", required=True),
        _arg(
            "paths",
            "list[str]",
            "Files, folders or globs to commit (relative to workdir).",
            required=True,
        ),
        _arg(
            "allow_empty",
            "bool",
            "Make an empty commit when nothing changed.",
            default=False,
        ),
    ),
    _b(
        "git.push",
        "push",
        "action",
        "Push a branch to a remote; any rejected ref fails the step.",
        _REMOTE,
        _BRANCH_OR_HEAD,
        _arg(
            "set_upstream",
            "bool",
            "Make the remote branch the upstream.",
            default=True,
        ),
    ),
    _b(
        "git.pushed",
        "pushed",
        "sensor",
        "Whether the remote's branch is at the local branch's commit.",
        _REMOTE,
        _BRANCH_OR_HEAD,
    ),
    _b(
        "git.dirty_paths",
        "dirty_paths",
        "sensor",
        "How many paths are changed, staged or untracked.",
        _arg("paths", "list[str]", "Only count these paths (default: all)."),
    ),
    _b(
        "git.ahead_behind",
        "ahead_behind",
        "sensor",
        "How many commits the branch has that the remote does not.",
        _REMOTE,
        _BRANCH_OR_HEAD,
        _arg("fetch", "bool", "Fetch the remote first.", default=True),
    ),
    _b(
        "github.ci_status",
        "ci_status",
        "sensor",
        "The CI verdict of the pushed commit: none, queued, running, passed, failed.",
        *_GITHUB,
        *_GITHUB_HEAD,
        bound=_GITHUB_BOUND,
    ),
    _b(
        "github.wait_ci",
        "wait_ci",
        "action",
        "Wait for the CI verdict of the pushed commit; only a red CI is a "
        "failure with a verdict.",
        *_GITHUB,
        *_GITHUB_HEAD,
        _arg("interval", "float", "Seconds between polls.", default=10.0),
        _arg(
            "timeout",
            "float",
            "Most seconds to wait for a verdict (default: 1800, or less so "
            "that it ends before the action's timeout).",
        ),
        _arg(
            "none_timeout",
            "float",
            "Seconds without any check before waiting stops "
            "(default: 120, or 'timeout' if shorter).",
        ),
        bound="timeout + one call's bound: each poll is a call, whose requests "
        "each wait at most http_timeout s, with at most retries + 1 attempts "
        "and max_wait s of waiting. A red CI fails the step with a verdict; "
        "an unreadable CI (bad token, missing scope, outage, timeout, no "
        "checks, still running at timeout) fails it without one "
        "(on_failure does not apply).",
    ),
    _b(
        "github.rerun_failed",
        "rerun_failed",
        "action",
        "Rerun the failed jobs of the pushed commit's failed workflow runs "
        "(a refusal fails, with GitHub's reason; no full rerun).",
        *_GITHUB,
        *_GITHUB_HEAD,
        bound=_GITHUB_BOUND,
    ),
    _b(
        "github.open_pull_request",
        "open_pull_request",
        "action",
        "Open the pull request of a branch, or update the open one (title, "
        "body, labels); return its number.",
        *_GITHUB,
        *_GITHUB_PULL,
        _arg("title", "str", "The title (default: the head branch)."),
        *_GITHUB_TEXT,
        _arg(
            "labels",
            "list[str]",
            "Labels to add (a string is comma-separated).",
            default=[],
        ),
        bound=_GITHUB_BOUND,
    ),
    _b(
        "github.comment",
        "comment",
        "action",
        "Post the run summary on the open pull request of a branch (editing "
        "the one posted before); return the comment's id.",
        *_GITHUB,
        *_GITHUB_PULL,
        *_GITHUB_TEXT,
        bound=_GITHUB_BOUND,
    ),
    _b(
        "quality.ruff",
        "ruff",
        "both",
        "Run 'ruff check' on paths.",
        _arg("paths", "list[str]", "Paths to check.", default=["."]),
        _arg("fix", "bool", "Fix what ruff can fix.", default=False),
    ),
    _b(
        "quality.tsc",
        "tsc",
        "both",
        "Type-check a TypeScript project with 'tsc --noEmit'.",
        _arg("project", "path", "The project folder or tsconfig file.", default="."),
    ),
    _b(
        "quality.pytest",
        "pytest",
        "both",
        "Run 'python -m pytest -q'; no test collected fails.",
        _arg(
            "python",
            "str",
            "The interpreter to run (default: the one running the engine).",
        ),
        _arg("paths", "list[str]", "Test paths.", default=[]),
        _arg("args", "list[str]", "More pytest arguments.", default=[]),
    ),
    _b(
        "quality.tool_available",
        "tool_available",
        "sensor",
        "Whether a program (ruff, tsc, pytest or any other) can be run.",
        _arg("tool", "str", "The program.", required=True),
    ),
    _b(
        "validation.gates",
        "gates",
        "both",
        "Check thresholds on a JSON report's values and on file sizes.",
        _arg("report", "path", "The JSON report the 'gates' read."),
        _arg(
            "gates",
            "mapping",
            "Dotted key in the report -> condition, e.g. {accuracy: '>= 0.9'}.",
            default={},
        ),
        _arg(
            "files",
            "mapping",
            "Path -> size condition, e.g. {model.onnx: '<= 15MB'}.",
            default={},
        ),
        _arg(
            "champion",
            "mapping",
            "The MLflow model version gates compare with ('>= champion - 0.01'): "
            "model, alias, tracking_uri, if_missing (pass/fail), bounds.",
        ),
        one_of=(("gates", "files"),),
        needs=(("gates", "report"),),
    ),
    _b(
        "hf.repo_exists",
        "repo_exists",
        "sensor",
        "Whether the repository exists on the Hugging Face Hub.",
        *_HF_REPO,
        *_HF_HUB,
    ),
    _b(
        "hf.upload",
        "upload",
        "action",
        "Make the Hub repository hold the folder (and card) in one commit: "
        "changed files uploaded, missing ones deleted, unchanged ones kept.",
        *_HF_REPO,
        *_HF_FILES,
        *_HF_HUB,
        _HF_DELETE,
        _arg("private", "bool", "Create the repository private."),
        _arg(
            "revision",
            "str",
            "The branch to commit to, created from main when missing (default: main).",
        ),
        _arg(
            "tag",
            "str",
            "Tag the commit (a release); an existing tag must name the same commit.",
        ),
        _arg(
            "space_sdk",
            "str",
            "The SDK of a Space (required with repo_type space).",
            choices=("gradio", "streamlit", "docker", "static"),
        ),
        _arg(
            "commit_message",
            "str",
            "The commit message (default: 'Upload N files with goap-engine').",
        ),
    ),
    _b(
        "hf.uploaded",
        "uploaded",
        "sensor",
        "Whether the Hub holds exactly the local files, with the same content.",
        *_HF_REPO,
        *_HF_FILES,
        *_HF_HUB,
        _HF_DELETE,
        _arg("revision", "str", "The branch to compare with (default: main)."),
    ),
    _b(
        "hf.publish_local",
        "publish_local",
        "action",
        "Publish the files into registry/REPO_ID/VERSION/ with a manifest.",
        _HF_REPO[0],
        *_HF_FILES,
        *_HF_LOCAL,
    ),
    _b(
        "hf.published_local",
        "published_local",
        "sensor",
        "Whether the current files are published in the local registry.",
        _HF_REPO[0],
        *_HF_FILES,
        *_HF_LOCAL,
    ),
    _b(
        "mlflow.log_run",
        "log_run",
        "action",
        "Record an MLflow run (params, metrics, artifacts, model; no secrets); "
        "register the model. Bound: see http_timeout; ends FAILED/KILLED on failure.",
        *_MLFLOW,
        *_MLFLOW_BOUNDS,
        _arg("model", "path", "A model folder or file, logged under 'model/'."),
        _arg("register", "str", "The registered model to add it to as a version."),
        _arg("alias", "list[str]", "Aliases to point at that version.", default=[]),
        _arg("git_commit", "str", "The commit to tag (default: HEAD of workdir)."),
        _arg("hub_commit", "str", "The Hub commit to tag ('hub.commit')."),
        _arg("params", "mapping", "Parameters to log.", default={}),
        _arg("metrics", "mapping", "Metrics to log (numbers).", default={}),
        _arg(
            "metrics_file",
            "path",
            "A JSON file of metrics; nested objects become dotted keys.",
        ),
        _arg("artifacts", "list[str]", "Files or folders to attach.", default=[]),
        _arg("tags", "mapping", "Tags to set.", default={}),
        _arg(
            "log_journal",
            "bool",
            "Attach the engine's journal and state file.",
            default=True,
        ),
        _arg("step", "int", "The step the metrics are logged at.", default=0),
    ),
    _b(
        "mlflow.logged",
        "logged",
        "sensor",
        "Whether a finished run of this engine run (or named 'run_name') exists.",
        *_MLFLOW,
        *_MLFLOW_BOUNDS,
    ),
    _b(
        "modal.configured",
        "configured",
        "sensor",
        "Whether Modal is usable here: credentials exist and Modal accepts them.",
        _MODAL_CHECK,
    ),
    _b(
        "modal.deploy",
        "deploy",
        "action",
        "Deploy a Modal app with 'modal deploy'.",
        _arg("app", "str", "The file (or module) to deploy.", required=True),
        _arg("module", "bool", "'app' is a module name.", default=False),
        _arg("name", "str", "The deployment's name."),
        _arg("tag", "str", "The deployment's tag."),
        _arg("version", "str", "The deployment's tag, when 'tag' is unset."),
        *_MODAL,
    ),
    _b(
        "modal.run",
        "run",
        "action",
        "Run a Modal function with 'modal run'.",
        _arg("function", "str", "The function, as 'file.py::name'.", required=True),
        _arg(
            "args",
            "list[str]",
            "Its arguments (a string is split on spaces).",
            default=[],
        ),
        _arg(
            "detach",
            "bool",
            "Keep the app running if the engine goes away.",
            default=False,
        ),
        *_MODAL,
    ),
    _b(
        "docs.render",
        "render",
        "action",
        "Write the progress document (GOAP.md) of a goal.",
        *_DOCS,
        _arg(
            "template",
            "path",
            "A jinja2 template to render (default: the shipped progress.md.j2).",
        ),
        _arg("context", "mapping", "More values for the template.", default={}),
    ),
    _b(
        "docs.adr",
        "adr",
        "action",
        "Write an architecture decision record stub (an existing one is kept).",
        *_DOCS,
        _arg("number", "str", "The record's number.", default="ADR"),
        _arg("title", "str", "The decision's title.", default="Untitled"),
        _arg(
            "context",
            "str",
            "Why the decision is needed.",
            default="TODO: why this decision is needed.",
        ),
        _arg("status", "str", "The decision's status.", default="Proposed"),
        _arg("overwrite", "bool", "Replace an existing file.", default=False),
    ),
    _b(
        "env.has",
        "has",
        "sensor",
        "Whether an environment variable is set and not empty.",
        _arg("name", "str", "The environment variable.", required=True),
    ),
    _b(
        "file.exists",
        "file_exists",
        "sensor",
        "Whether a file, folder or glob (relative to workdir) exists.",
        _arg("path", "str", "The path or glob, relative to workdir.", required=True),
    ),
)

BUILTINS: Mapping[str, Builtin] = {b.name: b for b in _TABLE}
"""Every built-in shipped with goap-engine, by name."""


def entry_point_target(name: str) -> str | None:
    """Return ``module:function`` of a built-in another package registers."""
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == name:
            return str(point.value)
    return None


def target_of(name: str) -> str | None:
    """Return ``module:function`` behind a built-in's name, or None if unknown."""
    builtin = BUILTINS.get(name)
    return builtin.target if builtin else entry_point_target(name)


def clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def unknown_name(name: str) -> str:
    """Return the message for a built-in nobody registers, with a did-you-mean."""
    # A long name resembles no built-in; comparing it would only cost time.
    close = (
        difflib.get_close_matches(name, list(BUILTINS), n=1) if len(name) < 100 else []
    )
    if close:
        hint = f" (did you mean '{close[0]}'?)"
    else:
        family = sorted(b for b in BUILTINS if b.split(".")[0] == name.split(".")[0])
        hint = f" (known: {', '.join(family)})" if family else ""
    return (
        f"unknown built-in hook '{clip(name)}'{hint}; 'goap-engine builtins' lists them"
    )
