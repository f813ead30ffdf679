"""Show plans and diagnostics: text, JSON (a documented shape), Mermaid, DOT, PDDL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .errors import Diagnostic
from .planner.plan import Plan
from .planner.schedule import Schedule, format_duration, schedule
from .values import fingerprint, ruleset_fingerprint, state_dict, steps_fingerprint

PLAN_FORMAT = "goap-engine/plan"
PLAN_VERSION = 1


def plan_data(plan: Plan, sched: Schedule | None = None) -> dict[str, Any]:
    """Return the JSON shape of ``plan`` (described in the README, Planning)."""
    sched = sched or schedule(plan)
    ruleset = plan.ruleset
    # Secret variables are never written down, not even as part of a hash.
    start = ruleset.stored(state_dict(ruleset, plan.start))
    return {
        "format": PLAN_FORMAT,
        "version": PLAN_VERSION,
        "goal": str(ruleset.path),
        "fingerprint": {
            "ruleset": ruleset_fingerprint(ruleset),
            "start": fingerprint(start),
            "steps": steps_fingerprint([s.action.name for s in plan.steps]),
        },
        "start": start,
        "cost": plan.cost,
        "guarantee": plan.guarantee,
        "search": plan.search,
        "heuristic": plan.heuristic,
        "steps": [
            {
                "number": slot.step.number,
                "id": slot.step.action.id,
                "action": slot.step.action.name,
                "cost": slot.step.cost,
                "phase": slot.phase,
                "depends": list(slot.depends),
                "tags": list(slot.step.action.tags),
                "duration": slot.step.action.duration,
                "start": slot.start,
                "finish": slot.finish,
                "critical": slot.critical,
                "irreversible": slot.step.action.irreversible,
                "approval": slot.step.action.irreversible or slot.step.action.approval,
                "on_interrupt": ruleset.delivery(slot.step.action),
                **({"pddl": slot.step.action.pddl} if slot.step.action.pddl else {}),
            }
            for slot in sched.slots
        ],
        "timeline": {
            "sequential_seconds": sched.sequential,
            "parallel_seconds": sched.parallel,
            "critical_path": list(sched.critical_path),
        },
        "stats": {
            "expanded": plan.expanded,
            "generated": plan.generated,
            "seconds": round(plan.seconds, 6),
            "actions_considered": plan.actions_considered,
            "actions_pruned": plan.actions_pruned,
        },
    }


def plan_json(plan: Plan) -> str:
    """Return ``plan`` as indented JSON."""
    return json.dumps(plan_data(plan), indent=2) + "\n"


def plan_text(plan: Plan, *, tag: str | None = None) -> str:
    """Return ``plan`` as a table with totals and the timeline."""
    sched = schedule(plan)
    guarantee = {
        "optimal": "optimal",
        "bounded": f"cost at most {plan.bound:g} x optimal",
        "none": "no optimality guarantee",
    }[plan.guarantee]
    out = [
        f"Plan for {plan.ruleset.path.name}: {len(plan.steps)} steps, "
        f"cost {plan.cost:g} "
        f"({guarantee}; {plan.search} + {plan.heuristic})",
        "",
    ]
    slots = [s for s in sched.slots if tag is None or tag in s.step.action.tags]
    rows = [("#", "id", "action", "cost", "phase", "time", "if stopped", "tags")]
    for slot in slots:
        action = slot.step.action
        mark = " [irreversible]" if action.irreversible else ""
        mark = mark or (" [approval]" if action.approval else "")
        rows.append(
            (
                str(slot.step.number),
                action.id or "-",
                action.name + mark + (" *" if slot.critical else ""),
                f"{slot.step.cost:g}",
                str(slot.phase),
                format_duration(action.duration),
                _STOPPED[plan.ruleset.delivery(action)],
                ", ".join(action.tags),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.append(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        )
    if not plan.steps:
        out.append("(the goal already holds: nothing to do)")
    else:
        out.append("")
        out.append(
            "If stopped: re-run = --resume runs it again; skip if done = runs it "
            "again only if its\nsensed effects did not happen; ask = irreversible "
            "and not sensed, --resume asks first."
        )
        approvals = [
            s.step.action
            for s in slots
            if s.step.action.irreversible or s.step.action.approval
        ]
        if approvals:
            names = ", ".join(dict.fromkeys(a.id or a.name for a in approvals))
            out.append(
                f"Needs approval before the run starts: {names} "
                "(asked on a terminal; otherwise --yes or --approve)."
            )
    out.append("")
    out.append(
        f"Timeline: {format_duration(sched.sequential)} one step at a time, "
        f"{format_duration(sched.parallel)} with independent steps in parallel "
        f"({len(sched.phases)} phases); * marks the critical path."
    )
    for number, phase in enumerate(sched.phases, 1):
        longest = max(s.step.action.duration for s in phase)
        names = ", ".join(s.step.action.id or s.step.action.name for s in phase)
        out.append(f"  phase {number}: {names}  ({format_duration(longest)})")
    out.append(
        f"Search: {plan.expanded:,} nodes expanded in {plan.seconds * 1000:.0f} ms; "
        f"{plan.actions_considered} actions considered, {plan.actions_pruned} pruned."
    )
    return "\n".join(out) + "\n"


_STOPPED = {"sensed": "skip if done", "rerun": "re-run", "person": "ask"}


def _node(slot_id: str) -> str:
    return "s" + slot_id


def plan_mermaid(plan: Plan) -> str:
    """Return ``plan`` as a Mermaid flowchart (renders on GitHub)."""
    sched = schedule(plan)
    lines = ["flowchart TD"]
    for slot in sched.slots:
        action = slot.step.action
        label = f"{action.id + ': ' if action.id else ''}{action.name}"
        label += f"<br/>cost {slot.step.cost:g}, {format_duration(action.duration)}"
        lines.append(f'  s{slot.step.number}["{label}"]')
    for slot in sched.slots:
        for dep in _reduce(sched, slot):
            lines.append(f"  s{dep} --> s{slot.step.number}")
    critical = [f"s{n}" for n in sched.critical_path]
    if critical:
        lines.append("  classDef critical stroke:#d33,stroke-width:3px")
        lines.append(f"  class {','.join(critical)} critical")
    return "\n".join(lines) + "\n"


def plan_dot(plan: Plan) -> str:
    """Return ``plan`` as a Graphviz DOT digraph."""
    sched = schedule(plan)
    lines = ["digraph plan {", "  rankdir=LR;", "  node [shape=box];"]
    for slot in sched.slots:
        action = slot.step.action
        prefix = f"{action.id}: " if action.id else ""
        label = f"{prefix}{action.name}\\ncost {slot.step.cost:g}"
        style = ', color="red"' if slot.critical else ""
        lines.append(f'  s{slot.step.number} [label="{label}"{style}];')
    for slot in sched.slots:
        for dep in _reduce(sched, slot):
            lines.append(f"  s{dep} -> s{slot.step.number};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _reduce(sched: Schedule, slot: Any) -> list[int]:
    """Return the direct dependencies of ``slot`` (transitive ones left out)."""
    by_number = {s.step.number: s for s in sched.slots}
    direct = set(slot.depends)
    for dep in slot.depends:
        stack = list(by_number[dep].depends)
        seen: set[int] = set()
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            direct.discard(n)
            stack.extend(by_number[n].depends)
    return sorted(direct)


def plan_pddl(plan: Plan) -> str:
    """Return ``plan`` in the IPC format: ``(action args)`` lines, then the cost."""
    lines = [s.action.pddl or f"({s.action.name})" for s in plan.steps]
    unit = all(s.cost == 1 for s in plan.steps)
    lines.append(f"; cost = {plan.cost:g} ({'unit' if unit else 'general'} cost)")
    return "\n".join(lines) + "\n"


PLAN_FORMATS = {
    "text": plan_text,
    "json": plan_json,
    "mermaid": plan_mermaid,
    "dot": plan_dot,
    "pddl": plan_pddl,
}


def diagnostics_data(diagnostics: Sequence[Diagnostic]) -> dict[str, Any]:
    """Return diagnostics as data: counts, and each with its place and code."""
    return {
        "errors": sum(d.severity == "error" for d in diagnostics),
        "warnings": sum(d.severity == "warning" for d in diagnostics),
        "diagnostics": [
            {
                "file": d.location.path,
                "line": d.location.line,
                "col": d.location.col,
                "severity": d.severity,
                "entity": d.entity,
                "message": d.message,
                "code": d.code,
            }
            for d in diagnostics
        ],
    }


def diagnostics_json(diagnostics: Sequence[Diagnostic]) -> str:
    """Return diagnostics as a JSON document."""
    return json.dumps(diagnostics_data(diagnostics), indent=2) + "\n"


def diagnostics_github(diagnostics: Sequence[Diagnostic]) -> str:
    """Return diagnostics as GitHub Actions workflow commands (annotations)."""
    out = []
    for d in diagnostics:
        message = (f"{d.entity}: " if d.entity else "") + d.message
        message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        out.append(
            f"::{d.severity} file={d.location.path},line={d.location.line or 1},"
            f"col={d.location.col or 1}::{message}"
        )
    return "\n".join(out) + ("\n" if out else "")
