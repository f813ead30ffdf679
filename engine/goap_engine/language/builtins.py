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

from .builtin_services import GITHUB, HUB, MLFLOW, MODAL
from .builtin_types import Builtin, arg, builtin

ENTRY_POINT_GROUP = "goap_engine.builtins"

_BRANCH_OR_HEAD = arg(
    "branch", "str", "The local branch (default: the checked-out one)."
)
_REMOTE = arg("remote", "str", "The remote to use.", default="origin")

# Every GitHub built-in reaches the API the same way.
_DOCS = (
    arg("goal", "path", "The goal file to report on.", required=True),
    arg("output", "path", "The file to write.", required=True),
)

_TABLE = (
    builtin(
        "git.current_branch",
        "current_branch",
        "sensor",
        "The checked-out branch's name ('' when HEAD is detached).",
    ),
    builtin(
        "git.branch_exists",
        "branch_exists",
        "sensor",
        "Whether the local branch 'name' exists.",
        arg("name", "str", "The branch.", required=True),
    ),
    builtin(
        "git.create_branch",
        "create_branch",
        "action",
        "Create branch 'name' and check it out (an existing one is checked out).",
        arg("name", "str", "The branch.", required=True),
        arg("start", "str", "The commit to branch from.", default="HEAD"),
    ),
    builtin(
        "git.switch_branch",
        "switch_branch",
        "action",
        "Check out the existing branch 'name'.",
        arg("name", "str", "The branch.", required=True),
    ),
    builtin(
        "git.commit",
        "commit",
        "action",
        "Commit exactly 'paths' with 'message'; nothing changed makes no commit.",
        arg("message", "str", "The commit message.", required=True),
        arg(
            "paths",
            "list[str]",
            "Files, folders or globs to commit (relative to workdir).",
            required=True,
        ),
        arg(
            "allow_empty",
            "bool",
            "Make an empty commit when nothing changed.",
            default=False,
        ),
    ),
    builtin(
        "git.push",
        "push",
        "action",
        "Push a branch to a remote; any rejected ref fails the step.",
        _REMOTE,
        _BRANCH_OR_HEAD,
        arg(
            "set_upstream",
            "bool",
            "Make the remote branch the upstream.",
            default=True,
        ),
    ),
    builtin(
        "git.pushed",
        "pushed",
        "sensor",
        "Whether the remote's branch is at the local branch's commit.",
        _REMOTE,
        _BRANCH_OR_HEAD,
    ),
    builtin(
        "git.dirty_paths",
        "dirty_paths",
        "sensor",
        "How many paths are changed, staged or untracked.",
        arg("paths", "list[str]", "Only count these paths (default: all)."),
    ),
    builtin(
        "git.ahead_behind",
        "ahead_behind",
        "sensor",
        "How many commits the branch has that the remote does not.",
        _REMOTE,
        _BRANCH_OR_HEAD,
        arg("fetch", "bool", "Fetch the remote first.", default=True),
    ),
    *GITHUB,
    builtin(
        "quality.ruff",
        "ruff",
        "both",
        "Run 'ruff check' on paths.",
        arg("paths", "list[str]", "Paths to check.", default=["."]),
        arg("fix", "bool", "Fix what ruff can fix.", default=False),
    ),
    builtin(
        "quality.tsc",
        "tsc",
        "both",
        "Type-check a TypeScript project with 'tsc --noEmit'.",
        arg("project", "path", "The project folder or tsconfig file.", default="."),
    ),
    builtin(
        "quality.pytest",
        "pytest",
        "both",
        "Run 'python -m pytest -q'; no test collected fails.",
        arg(
            "python",
            "str",
            "The interpreter to run (default: the one running the engine).",
        ),
        arg("paths", "list[str]", "Test paths.", default=[]),
        arg("args", "list[str]", "More pytest arguments.", default=[]),
    ),
    builtin(
        "quality.tool_available",
        "tool_available",
        "sensor",
        "Whether a program (ruff, tsc, pytest or any other) can be run.",
        arg("tool", "str", "The program.", required=True),
    ),
    builtin(
        "validation.gates",
        "gates",
        "both",
        "Check thresholds on a JSON report's values and on file sizes.",
        arg("report", "path", "The JSON report the 'gates' read."),
        arg(
            "gates",
            "mapping",
            "Dotted key in the report -> condition, e.g. {accuracy: '>= 0.9'}.",
            default={},
        ),
        arg(
            "files",
            "mapping",
            "Path -> size condition, e.g. {model.onnx: '<= 15MB'}.",
            default={},
        ),
        arg(
            "champion",
            "mapping",
            "The MLflow model version gates compare with ('>= champion - 0.01'): "
            "model, alias, tracking_uri, if_missing (pass/fail), bounds.",
        ),
        one_of=(("gates", "files"),),
        needs=(("gates", "report"),),
    ),
    *HUB,
    *MLFLOW,
    *MODAL,
    builtin(
        "docs.render",
        "render",
        "action",
        "Write the progress document (GOAP.md) of a goal.",
        *_DOCS,
        arg(
            "template",
            "path",
            "A jinja2 template to render (default: the shipped progress.md.j2).",
        ),
        arg("context", "mapping", "More values for the template.", default={}),
    ),
    builtin(
        "docs.adr",
        "adr",
        "action",
        "Write an architecture decision record stub (an existing one is kept).",
        *_DOCS,
        arg("number", "str", "The record's number.", default="ADR"),
        arg("title", "str", "The decision's title.", default="Untitled"),
        arg(
            "context",
            "str",
            "Why the decision is needed.",
            default="TODO: why this decision is needed.",
        ),
        arg("status", "str", "The decision's status.", default="Proposed"),
        arg("overwrite", "bool", "Replace an existing file.", default=False),
    ),
    builtin(
        "env.has",
        "has",
        "sensor",
        "Whether an environment variable is set and not empty.",
        arg("name", "str", "The environment variable.", required=True),
    ),
    builtin(
        "file.exists",
        "file_exists",
        "sensor",
        "Whether a file, folder or glob (relative to workdir) exists.",
        arg("path", "str", "The path or glob, relative to workdir.", required=True),
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
