"""The MCP server's prompts: how to add an action, why a goal is unreachable.

Each names this project's real state variables and actions (or the result of
``explain``), then the loop an agent should work in: schema, a proposal
checked with ``propose``, validate, plan, explain.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .model import Ruleset


def add_action(path: Path, ruleset: Ruleset, description: str) -> str:
    """Return the prompt for adding an action described as ``description``."""
    variables = [
        f"- {v.name}: {v.type}"
        + (f" (sensed: {v.sensor.hook.location})" if v.sensor else "")
        + (f" -- {v.description}" if v.description else "")
        for v in ruleset.variables
    ]
    actions = [
        f"- {a.name}"
        + (f" (id {a.id})" if a.id else "")
        + (f" pre [{', '.join(e.source for e in a.pre)}]" if a.pre else "")
        + f" effects [{', '.join(f'{e.var}={e.expr.source}' for e in a.effects)}]"
        for a in ruleset.actions
    ]
    return (
        f"Add an action to the goal {path} of this project: {description}\n\n"
        f"State variables:\n{chr(10).join(variables) or '- none'}\n\n"
        f"Actions:\n{chr(10).join(actions) or '- none'}\n\n"
        "Work in this loop:\n"
        "1. Read the pack schema (tool schema, kind 'pack') for the action's "
        "fields: pre, effects, run, cost, irreversible.\n"
        "2. Write the action as a pack (YAML text) using the state variables "
        "above, and check it with the tool propose: it returns the pack's "
        "diagnostics and the plan it gives next to the current one, and "
        "writes nothing.\n"
        "3. Fix every diagnostic at its file:line:col and propose again until "
        "the plan is the one you want.\n"
        "4. Then write the file under actions.d/, call validate, and plan; if "
        "there is no plan, call explain and change the preconditions or "
        "effects.\n"
        "Never edit the state file by hand (use state_set)."
    )


def why_unreachable(explained: dict[str, Any]) -> str:
    """Return the prompt that asks why the goal ``explained`` has no plan."""
    return (
        "Here is goap-engine's explanation of the goal "
        f"{explained['goal']} (tool explain):\n\n"
        f"{json.dumps(explained, indent=2)}\n\n"
        "Say which conditions cannot be reached and why, from the lines in "
        "'why', and propose the smallest change to the actions or the state "
        "that makes the goal reachable; try it with the tool propose (it "
        "writes nothing) before editing files, then validate and plan."
    )
