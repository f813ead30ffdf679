"""The built-ins that call a service: GitHub, the Hugging Face Hub, MLflow, Modal.

Each declares its network bound (``bound``) beside its arguments; the
arguments every call of a service shares (token, timeouts, retries) are
written once here.
"""

from __future__ import annotations

from .builtin_types import Builtin, arg, builtin

_GITHUB = (
    arg(
        "repo",
        "str",
        "The repository, as 'owner/name' (default: read from the remote's URL).",
    ),
    arg(
        "remote",
        "str",
        "The git remote whose URL names the repository.",
        default="origin",
    ),
    arg(
        "token_env",
        "str",
        "The environment variable holding the token.",
        default="GITHUB_TOKEN",
    ),
    arg("base_url", "str", "The API's address.", default="https://api.github.com"),
    arg("http_timeout", "int", "Seconds one request may take.", default=30),
    arg(
        "retries",
        "int",
        "More attempts after a 429, a secondary rate limit, a 5xx, a timeout "
        "or a refused connection.",
        default=3,
    ),
    arg(
        "max_wait",
        "float",
        "Most seconds a call waits in all between attempts (Retry-After, a "
        "rate limit's reset, or 1, 2, 4 ... s); a longer wait fails at once.",
        default=60.0,
    ),
)
_GITHUB_HEAD = (
    arg(
        "sha",
        "str",
        "The commit to judge (default: the local head of 'branch', else HEAD: "
        "what was pushed, not the branch's head on GitHub).",
    ),
    arg("branch", "str", "The local branch whose head was pushed (when no 'sha')."),
)
_GITHUB_BOUND = (
    "each request waits at most http_timeout s; a call makes at most "
    "retries + 1 attempts and waits at most max_wait s between them, so a "
    "service that never answers fails it within (retries + 1) x http_timeout "
    "+ max_wait s (180 s by default). Reading a commit's CI takes at most 30 "
    "pages each of check runs and statuses (3000 entries), each page a call so "
    "bounded; a longer listing gives no verdict. What still fails, fails the "
    "step without a verdict (on_failure does not apply)."
)
_GITHUB_PULL = (
    arg("head", "str", "The branch of the pull request (default: 'branch')."),
    arg(
        "branch",
        "str",
        "The branch of the pull request, when 'head' is unset (default: the "
        "checked-out branch).",
    ),
    arg("base", "str", "The branch it merges into.", default="main"),
)
_GITHUB_TEXT = (
    arg(
        "body", "str", "The text, when neither body_file nor goal is given.", default=""
    ),
    arg("body_file", "path", "A file whose content is the text."),
    arg(
        "goal",
        "path",
        "Render the text from this goal's progress: its plan, steps and state.",
    ),
    arg("template", "path", "The template that renders 'goal' (a file)."),
    arg(
        "include",
        "list[str]",
        "Files appended under their names, e.g. a gate report "
        "(a missing one is noted).",
        default=[],
    ),
)

_HF_REPO = (
    arg("repo_id", "str", "The repository, as 'owner/name'.", required=True),
    arg(
        "repo_type",
        "str",
        "What the repository holds.",
        default="model",
        choices=("model", "dataset", "space"),
    ),
)
_HF_HUB = (
    arg(
        "token_env",
        "str",
        "The environment variable holding the token.",
        default="HF_TOKEN",
    ),
    arg(
        "endpoint",
        "str",
        "The Hub's address (default: $HF_ENDPOINT, else the public Hub).",
    ),
    arg(
        "http_timeout",
        "float",
        "Seconds one request may wait for the network (connect, send, answer).",
        default=30.0,
    ),
    arg(
        "max_wait",
        "float",
        "Most seconds of waiting between retries (429, 5xx, lost connection) "
        "in all; a failing Hub fails the step within "
        "3 x http_timeout + max_wait (150 s by default).",
        default=60.0,
    ),
)
_HF_FILES = (
    arg(
        "folder", "path", "The folder to publish (relative to workdir).", required=True
    ),
    arg(
        "allow_patterns",
        "list[str]",
        "Globs on paths inside the folder; 'dir/' means all in it (default: all).",
    ),
    arg("card", "path", "A model card, published as README.md."),
    arg(
        "metrics",
        "path",
        "A JSON metrics report written into the card's model-index (the card, "
        "else the folder's README.md, else a generated card).",
    ),
    arg(
        "task",
        "str",
        "The task the metrics measure (default: the card's pipeline_tag, "
        "else 'other').",
    ),
    arg(
        "dataset",
        "str",
        "The dataset the metrics were measured on.",
        default="evaluation",
    ),
)
_HF_DELETE = arg(
    "delete_missing",
    "bool",
    "Delete from the Hub the files of the selection no longer in the folder "
    "(.gitattributes stays); with false, they stay and do not count.",
    default=True,
)
_HF_LOCAL = (
    arg(
        "registry",
        "path",
        "The local registry folder (relative to workdir).",
        default="registry",
    ),
    arg("version", "str", "The version folder (default: a hash of the content)."),
)
_MLFLOW = (
    arg(
        "tracking_uri",
        "str",
        "Where runs are stored: a URI, or a path relative to workdir (*.db: "
        "SQLite) (default: $MLFLOW_TRACKING_URI, else sqlite:///<workdir>/mlflow.db).",
    ),
    arg("experiment", "str", "The experiment's name.", default="goap-engine"),
    arg("run_name", "str", "The run's name."),
)
# A request fails after (retries + 1) x http_timeout s of tries and at most
# retries x max_wait s of waits; a step stops at its first failed request.
_MLFLOW_BOUNDS = (
    arg("http_timeout", "int", "Seconds one try of a request may take.", default=10),
    arg(
        "retries",
        "int",
        "Tries after the first on no answer, 429 or 5xx (MLflow: 7).",
        default=2,
    ),
    arg(
        "max_wait",
        "float",
        "Most seconds between tries; a longer Retry-After fails at once.",
        default=30.0,
    ),
)
_MODAL_CHECK = arg(
    "check_timeout",
    "float",
    "Most seconds the token check (one call to Modal) may take.",
    default=10.0,
)
_MODAL = (
    _MODAL_CHECK,
    arg("environment", "str", "The Modal environment to use."),
    arg(
        "timeout",
        "float",
        "Seconds the command may take (default: the action's timeout, else 1800).",
    ),
)


_HUB_BOUND = (
    "each request waits at most http_timeout s for the network; a call retries "
    "429, 5xx and lost connections twice in all, its waits (Retry-After, the "
    "RateLimit reset, else 1 and 2 s) adding up to at most max_wait s: "
    "3 x http_timeout + max_wait (150 s by default). An upload is one commit, "
    "never sent twice."
)
_MLFLOW_BOUND = (
    "each request: (retries + 1) x http_timeout + retries x max_wait s "
    "(3 x 10 + 2 x 30 = 90 s by default); a step stops at its first failed "
    "request, and its MLflow run ends FAILED (KILLED when the step is stopped)."
)
_MODAL_BOUND = (
    "one ClientHello call to check the token, at most check_timeout s (a refused "
    "connection at once), before anything else"
)


GITHUB: tuple[Builtin, ...] = (
    builtin(
        "github.ci_status",
        "ci_status",
        "sensor",
        "The CI verdict of the pushed commit: none, queued, running, passed, failed.",
        *_GITHUB,
        *_GITHUB_HEAD,
        bound=_GITHUB_BOUND,
    ),
    builtin(
        "github.wait_ci",
        "wait_ci",
        "action",
        "Wait for the CI verdict of the pushed commit; only a red CI is a "
        "failure with a verdict.",
        *_GITHUB,
        *_GITHUB_HEAD,
        arg("interval", "float", "Seconds between polls.", default=10.0),
        arg(
            "timeout",
            "float",
            "Most seconds to wait for a verdict (default: 1800, or less so "
            "that it ends before the action's timeout).",
        ),
        arg(
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
    builtin(
        "github.rerun_failed",
        "rerun_failed",
        "action",
        "Rerun the failed jobs of the pushed commit's failed workflow runs "
        "(a refusal fails, with GitHub's reason; no full rerun).",
        *_GITHUB,
        *_GITHUB_HEAD,
        bound=_GITHUB_BOUND,
    ),
    builtin(
        "github.open_pull_request",
        "open_pull_request",
        "action",
        "Open the pull request of a branch, or update the open one (title, "
        "body, labels); return its number.",
        *_GITHUB,
        *_GITHUB_PULL,
        arg("title", "str", "The title (default: the head branch)."),
        *_GITHUB_TEXT,
        arg(
            "labels",
            "list[str]",
            "Labels to add (a string is comma-separated).",
            default=[],
        ),
        bound=_GITHUB_BOUND,
    ),
    builtin(
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
)

HUB: tuple[Builtin, ...] = (
    builtin(
        "hf.repo_exists",
        "repo_exists",
        "sensor",
        "Whether the repository exists on the Hugging Face Hub.",
        *_HF_REPO,
        *_HF_HUB,
        bound=_HUB_BOUND,
    ),
    builtin(
        "hf.upload",
        "upload",
        "action",
        "Make the Hub repository hold the folder (and card) in one commit: "
        "changed files uploaded, missing ones deleted, unchanged ones kept.",
        *_HF_REPO,
        *_HF_FILES,
        *_HF_HUB,
        _HF_DELETE,
        arg("private", "bool", "Create the repository private."),
        arg(
            "revision",
            "str",
            "The branch to commit to, created from main when missing (default: main).",
        ),
        arg(
            "tag",
            "str",
            "Tag the commit (a release); an existing tag must name the same commit.",
        ),
        arg(
            "space_sdk",
            "str",
            "The SDK of a Space (required with repo_type space).",
            choices=("gradio", "streamlit", "docker", "static"),
        ),
        arg(
            "commit_message",
            "str",
            "The commit message (default: 'Upload N files with goap-engine').",
        ),
        bound=_HUB_BOUND,
    ),
    builtin(
        "hf.uploaded",
        "uploaded",
        "sensor",
        "Whether the Hub holds exactly the local files, with the same content.",
        *_HF_REPO,
        *_HF_FILES,
        *_HF_HUB,
        _HF_DELETE,
        arg("revision", "str", "The branch to compare with (default: main)."),
        bound=_HUB_BOUND,
    ),
    builtin(
        "hf.publish_local",
        "publish_local",
        "action",
        "Publish the files into registry/REPO_ID/VERSION/ with a manifest.",
        _HF_REPO[0],
        *_HF_FILES,
        *_HF_LOCAL,
    ),
    builtin(
        "hf.published_local",
        "published_local",
        "sensor",
        "Whether the current files are published in the local registry.",
        _HF_REPO[0],
        *_HF_FILES,
        *_HF_LOCAL,
    ),
)

MLFLOW: tuple[Builtin, ...] = (
    builtin(
        "mlflow.log_run",
        "log_run",
        "action",
        "Record an MLflow run (params, metrics, artifacts, model; no secrets); "
        "register the model.",
        *_MLFLOW,
        *_MLFLOW_BOUNDS,
        arg("model", "path", "A model folder or file, logged under 'model/'."),
        arg("register", "str", "The registered model to add it to as a version."),
        arg("alias", "list[str]", "Aliases to point at that version.", default=[]),
        arg("git_commit", "str", "The commit to tag (default: HEAD of workdir)."),
        arg("hub_commit", "str", "The Hub commit to tag ('hub.commit')."),
        arg("params", "mapping", "Parameters to log.", default={}),
        arg("metrics", "mapping", "Metrics to log (numbers).", default={}),
        arg(
            "metrics_file",
            "path",
            "A JSON file of metrics; nested objects become dotted keys.",
        ),
        arg("artifacts", "list[str]", "Files or folders to attach.", default=[]),
        arg("tags", "mapping", "Tags to set.", default={}),
        arg(
            "log_journal",
            "bool",
            "Attach the engine's journal and state file.",
            default=True,
        ),
        arg("step", "int", "The step the metrics are logged at.", default=0),
        bound=_MLFLOW_BOUND,
    ),
    builtin(
        "mlflow.logged",
        "logged",
        "sensor",
        "Whether a finished run of this engine run (or named 'run_name') exists.",
        *_MLFLOW,
        *_MLFLOW_BOUNDS,
        bound=_MLFLOW_BOUND,
    ),
)

MODAL: tuple[Builtin, ...] = (
    builtin(
        "modal.configured",
        "configured",
        "sensor",
        "Whether Modal is usable here: credentials exist and Modal accepts them.",
        _MODAL_CHECK,
        bound=_MODAL_BOUND + "; unusable is false",
    ),
    builtin(
        "modal.deploy",
        "deploy",
        "action",
        "Deploy a Modal app with 'modal deploy'.",
        arg("app", "str", "The file (or module) to deploy.", required=True),
        arg("module", "bool", "'app' is a module name.", default=False),
        arg("name", "str", "The deployment's name."),
        arg("tag", "str", "The deployment's tag."),
        arg("version", "str", "The deployment's tag, when 'tag' is unset."),
        *_MODAL,
        bound=_MODAL_BOUND + ", then the command's timeout",
    ),
    builtin(
        "modal.run",
        "run",
        "action",
        "Run a Modal function with 'modal run'.",
        arg("function", "str", "The function, as 'file.py::name'.", required=True),
        arg(
            "args",
            "list[str]",
            "Its arguments (a string is split on spaces).",
            default=[],
        ),
        arg(
            "detach",
            "bool",
            "Keep the app running if the engine goes away.",
            default=False,
        ),
        *_MODAL,
        bound=_MODAL_BOUND + ", then the command's timeout",
    ),
)
