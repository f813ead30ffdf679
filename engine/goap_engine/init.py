"""``goap-engine init``: write a starting pack and goal into a project."""

from __future__ import annotations

import json
from pathlib import Path

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
  frontend: frontend
  training_script: src/train.py
  # Git branch management (goap:git)
  branch: feature/production-deployment
  remote: origin
  code_path: {src}
  docs_path: plans
  utilities_path: scripts
  # CI/CD monitoring (goap:ci); GITHUB_TOKEN in the environment enables GitHub
  github_repo: OWNER/REPOSITORY
  ci_command: python -m pytest -q
  # Model deployment (goap:deploy); HF_TOKEN enables the Hugging Face Hub
  metrics_report: reports/evaluation.json
  min_accuracy: 0.9
  max_model_size: 15MB
  model_dir: model
  hub_repo: OWNER/MODEL
  # Documentation (goap:docs)
  progress_file: plans/GOAP.md
  adr_file: plans/ADR-001-production-deployment.md
  # This project (actions.d/project.yaml)
  changelog: CHANGELOG.md
state_file: plans/deployment_state.json
goal:
  Code validation:
    [code_validated_modal, code_validated_ruff, code_validated_typescript]
  Git branch management:
    [branch_created, code_committed, docs_committed, utilities_committed,
     commits_pushed]
  CI/CD monitoring: [ci_pipeline_passed, ci_issues_resolved]
  Model deployment: [validation_passed, model_published, mlflow_integrated]
  Documentation: [goap_updated, adrs_complete]
  Project: [changelog_updated]
policy:
  max_replans: 3
"""


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
        root / "goals.d" / "production.yaml": GOAL.format(
            schema=SCHEMA_BASE,
            # A JSON string is a valid YAML double-quoted scalar, whatever the name.
            description=json.dumps(f"Production deployment of {name}."),
            # The code the checks read and the commits take: src/ where the
            # project has one, else the whole repository (a missing folder
            # would fail the first run's ruff sensor).
            src="src" if (root / "src").is_dir() else ".",
        ),
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
