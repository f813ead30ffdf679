"""The registry of built-in hooks and sensors, by name, imported lazily.

Names map to ``module:function`` strings so that ``validate`` and ``plan`` can
check a name without importing git, GitHub, Hugging Face, MLflow or Modal
libraries.  Packs can add built-ins through the ``goap_engine.builtins``
entry-point group.
"""

from __future__ import annotations

BUILTINS: dict[str, str] = {
    "git.current_branch": "goap_engine.integrations.git:current_branch",
    "git.branch_exists": "goap_engine.integrations.git:branch_exists",
    "git.create_branch": "goap_engine.integrations.git:create_branch",
    "git.switch_branch": "goap_engine.integrations.git:switch_branch",
    "git.commit": "goap_engine.integrations.git:commit",
    "git.push": "goap_engine.integrations.git:push",
    "git.pushed": "goap_engine.integrations.git:pushed",
    "git.dirty_paths": "goap_engine.integrations.git:dirty_paths",
    "git.ahead_behind": "goap_engine.integrations.git:ahead_behind",
    "github.ci_status": "goap_engine.integrations.github:ci_status",
    "github.wait_ci": "goap_engine.integrations.github:wait_ci",
    "github.rerun_failed": "goap_engine.integrations.github:rerun_failed",
    "github.open_pull_request": "goap_engine.integrations.github:open_pull_request",
    "quality.ruff": "goap_engine.integrations.quality:ruff",
    "quality.tsc": "goap_engine.integrations.quality:tsc",
    "quality.pytest": "goap_engine.integrations.quality:pytest",
    "quality.tool_available": "goap_engine.integrations.quality:tool_available",
    "validation.gates": "goap_engine.integrations.validation:gates",
    "hf.repo_exists": "goap_engine.integrations.huggingface:repo_exists",
    "hf.upload": "goap_engine.integrations.huggingface:upload",
    "hf.uploaded": "goap_engine.integrations.huggingface:uploaded",
    "hf.publish_local": "goap_engine.integrations.huggingface:publish_local",
    "hf.published_local": "goap_engine.integrations.huggingface:published_local",
    "mlflow.log_run": "goap_engine.integrations.mlflow:log_run",
    "mlflow.logged": "goap_engine.integrations.mlflow:logged",
    "modal.configured": "goap_engine.integrations.modal:configured",
    "modal.deploy": "goap_engine.integrations.modal:deploy",
    "modal.run": "goap_engine.integrations.modal:run",
    "docs.render": "goap_engine.integrations.docs:render",
    "docs.adr": "goap_engine.integrations.docs:adr",
    "env.has": "goap_engine.integrations.environment:has",
    "file.exists": "goap_engine.integrations.environment:file_exists",
}

BUILTIN_NAMES: frozenset[str] = frozenset(BUILTINS)
