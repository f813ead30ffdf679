"""``goap-engine init``: write a starting pack and goal into a project."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from .errors import FileError
from .files import read_text_limited, regular_file_problem
from .sources import SourceError
from .store import atomic_write

SCHEMA_BASE = "https://goap-engine.github.io/schemas/v1"

PACK = f"""\
# yaml-language-server: $schema={SCHEMA_BASE}/pack.schema.json
# This project's own state and actions.  goals.d/production.yaml loads every
# .yaml file of this folder next to the packs shipped with goap-engine, so add
# files here as the project grows.  Check them with 'goap-engine validate'.
version: 1
description: Steps specific to this project.
vars:
  # A var is a constant for templates and expressions; a goal may override it.
  changelog: CHANGELOG.md
state:
  # What the planner reasons about.  The sensor reads the real value before
  # planning (exit status 0 means true), so an existing entry is not rewritten.
  changelog_updated:
    type: bool
    sense: test -s {{{{ changelog }}}}
    description: The changelog describes this release.
actions:
  update_changelog:
    id: P01                      # short id shown in plans, logs and the state file
    description: Start this release's entry in the changelog.
    effects: {{changelog_updated: true}}
    cost: 1                      # the planner prefers cheaper routes
    duration: 10s                # for the timeline only
    tags: [docs]
    # Each {{{{ ... }}}} value is escaped for where it stands (a bare word,
    # "...", '...'), so it reaches the command as data; never put one inside
    # backticks or ${{...}}.  A list instead of a string runs without a shell.
    run: 'echo "## Unreleased" >> {{{{ changelog }}}}'
"""

GOAL = """\
# yaml-language-server: $schema={schema}/goal.schema.json
# Production deployment: the standard packs shipped with goap-engine
# (goap:standard) plus this project's packs in ../actions.d.  Plan it with
# 'goap-engine plan goals.d/production.yaml'.
version: 1
description: {description}
uses: [goap:standard, ../actions.d]
vars:
  # Code validation (goap:quality)
  src: {src}
  frontend: {frontend}
  training_script: src/train.py
  # Git branch management (goap:git)
  branch: feature/production-deployment
  remote: origin
  code_path: {src}
  docs_path: {docs_path}
  utilities_path: scripts
  # CI/CD monitoring (goap:ci): GITHUB_TOKEN in the environment enables GitHub;
  # the repository is read from the remote's URL unless github_repo is set.
  ci_command: python -m pytest -q
  # Model deployment (goap:deploy): HF_TOKEN enables the Hugging Face Hub,
  # without it the model goes to a local registry folder.
  metrics_report: reports/evaluation.json
  min_accuracy: 0.9
  max_model_size: 15MB
  model_dir: model
  hub_repo: OWNER/MODEL  # the model's repository on the Hub
  # Documentation (goap:docs)
  progress_file: plans/GOAP.md
  adr_file: {adr_file}
  # This project (actions.d/project.yaml)
  changelog: CHANGELOG.md
state_file: plans/deployment_state.json
# Only what the goal asks for is planned and sensed.
{also}goal:
  Code validation: [{code}]
  Git branch management: [{git}]
  CI/CD monitoring: [ci_pipeline_passed, ci_issues_resolved]
  Model deployment: [validation_passed, model_published, mlflow_integrated]
  Documentation: [{docs}]
  Project: [changelog_updated]
policy:
  max_replans: 3
"""

_OPTIONAL = {
    "code_validated_typescript": "the frontend type-checks (tsc)",
    "code_validated_modal": "the training entry point runs on Modal",
    "docs_committed": "the documentation folder is committed on its own",
    "utilities_committed": "the scripts folder is committed on its own",
    "adrs_complete": "an architecture decision record of the deployment",
}
# A dependency on Modal as requirements files and pyproject.toml write it.
_MODAL_DEPENDENCY = re.compile(r"""(?im)(^|["'\s])modal\s*([<>=~!;\[,"']|$)""")
_DEPENDENCY_FILES = ("pyproject.toml", "requirements.txt", "requirements-dev.txt")


def _goal_text(root: Path, name: str) -> str:
    """Return the scaffold's goal, asking only for what this project has."""
    frontend = _tsconfig_folder(root)
    uses_modal = any(
        _MODAL_DEPENDENCY.search(_read(root / f)) for f in _DEPENDENCY_FILES
    )
    adr_folder = next(
        (d for d in ("docs/adr", "doc/adr", "adr") if (root / d).is_dir()), None
    )
    code = ["code_validated_ruff"]
    if frontend is not None:
        code.append("code_validated_typescript")
    if uses_modal:
        code.insert(0, "code_validated_modal")
    git = ["branch_created", "code_committed"]
    if (root / "docs").is_dir():
        git.append("docs_committed")
    if (root / "scripts").is_dir():
        git.append("utilities_committed")
    git.append("commits_pushed")
    docs = ["goap_updated"] + (["adrs_complete"] if adr_folder else [])
    asked = {*code, *git, *docs}
    also = "".join(
        f"#   {var}: {why}\n" for var, why in _OPTIONAL.items() if var not in asked
    )
    if also:
        also = "# The packs can also make true (add them below as needed):\n" + also
    return GOAL.format(
        schema=SCHEMA_BASE,
        # A JSON string is a valid YAML double-quoted scalar, whatever the name.
        description=json.dumps(f"Production deployment of {name}."),
        # The code the checks read and the commits take: src/ where the
        # project has one, else the whole repository (a missing folder would
        # fail the first run's ruff sensor).
        src="src" if (root / "src").is_dir() else ".",
        frontend=json.dumps(frontend or "frontend"),
        docs_path="docs",
        adr_file=f"{adr_folder or 'plans'}/ADR-001-production-deployment.md",
        also=also,
        code=", ".join(code),
        git=", ".join(git),
        docs=", ".join(docs),
    )


def _tsconfig_folder(root: Path) -> str | None:
    """Return the folder (relative) of a tsconfig.json at most one level down."""
    if (root / "tsconfig.json").is_file():
        return "."
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return None
    for folder in folders:
        if folder.name.startswith(".") or folder.name == "node_modules":
            continue
        if (folder / "tsconfig.json").is_file():
            return folder.name
    return None


def _read(path: Path) -> str:
    """Return the start of a dependency list; '' for anything but a file."""
    try:
        # O_NONBLOCK: a FIFO opens at once (and is then passed over) instead
        # of waiting for a writer that never comes.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        # A dependency list, not a data file: its first MiB is plenty.
        return os.read(fd, 1 << 20).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


class ScaffoldExistsError(SourceError, FileExistsError):
    """``init`` would overwrite files that already exist."""


def scaffold(root: Path, *, force: bool = False) -> list[Path]:
    """Write an example pack and goal under ``root``; return the files written.

    Existing files are left alone -- and nothing is written -- unless ``force``.
    """
    if root.exists() and not root.is_dir():
        raise ScaffoldExistsError(
            f"{root} is a file; init writes actions.d/ and goals.d/ into a folder "
            "(give a folder, or none for the current one)"
        )
    name = root.resolve().name or "this project"
    files = {
        root / "actions.d" / "project.yaml": PACK,
        root / "goals.d" / "production.yaml": _goal_text(root, name),
    }
    existing = [path for path in files if path.exists()]
    if existing and not force:
        shown = ", ".join(str(p) for p in existing)
        raise ScaffoldExistsError(
            f"not overwriting {shown}; move them away or use --force"
        )
    for path, text in files.items():
        try:
            atomic_write(path, text)
        except OSError as exc:
            raise ScaffoldExistsError(
                f"cannot write {path}: {exc.strerror or exc}"
            ) from None
    return list(files)


GUIDE_BEGIN = "<!-- goap-engine: begin"
GUIDE_END = "<!-- goap-engine: end -->"


def agents_guide() -> str:
    """Return the ``AGENTS.md`` section that tells a coding agent how to work here."""
    from importlib.resources import files

    return (files("goap_engine") / "doc_templates" / "agents.md").read_text("utf-8")


def write_agents_guide(root: Path) -> Path | None:
    """Put the guide into ``root/AGENTS.md``; return the file, or None if unchanged.

    A new file gets the guide; an existing one keeps everything it has and
    gets the guide appended, or its earlier guide section replaced.
    """
    path = root / "AGENTS.md"
    guide = agents_guide()
    old = ""
    if path.is_symlink() or path.exists():
        # Only a plain file is edited: a link or a FIFO is the user's business.
        link = "is a symbolic link" if path.is_symlink() else None
        problem = link or regular_file_problem(path)
        if problem:
            raise ScaffoldExistsError(
                f"{path}: {problem}; left alone (add the guide with "
                "'goap-engine agents-guide >> AGENTS.md')"
            )
        try:
            old = read_text_limited(path)
        except FileError as exc:
            raise ScaffoldExistsError(f"{path}: {exc.reason}; left alone") from None
    start, end = old.find(GUIDE_BEGIN), old.find(GUIDE_END)
    if start >= 0 and end > start:
        new = old[:start] + guide.rstrip("\n") + old[end + len(GUIDE_END) :]
    elif old:
        new = old.rstrip("\n") + "\n\n" + guide
    else:
        new = guide
    if new == old:
        return None
    try:
        atomic_write(path, new)
    except OSError as exc:
        raise ScaffoldExistsError(
            f"cannot write {path}: {exc.strerror or exc}"
        ) from None
    return path
