"""The progress document (the seed's GOAP.md) and ADR stubs, from plan and state."""

from __future__ import annotations

import math
import re
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import Diagnostic, InputError, Location, NoPlanError
from .model import Ruleset
from .planner.plan import find_plan, reference_eval
from .planner.schedule import format_duration, schedule
from .templates import render
from .values import shown, state_dict


def _warn(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _seconds(value: Any) -> float:
    """Return a journal's duration field, or 0 where a hand edit broke it.

    The journal is a file in the project that anyone may edit: a text, an
    overflowing number (``1e400`` reads as infinity) or a negative one says
    nothing about how long a step took.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    try:
        seconds = float(value)
    except OverflowError:
        return 0.0
    return seconds if math.isfinite(seconds) and seconds >= 0 else 0.0


def progress_context(ruleset: Ruleset) -> dict[str, Any]:
    """Return what the templates see: sub-goals, actions done and pending, timing."""
    from .executor.journal import read_events
    from .executor.workspace import adopt_shared_state, journal_path, state_path
    from .executor.world import start_state

    adopt_shared_state(ruleset)
    # What plan would start from without sensing: expired facts are not done.
    state = start_state(ruleset, sense=False).state
    # A report shows what it can: a line of the wrong shape is skipped, named.
    events = list(read_events(journal_path(ruleset), warn=_warn))
    last_run = next(
        (e["run"] for e in reversed(events) if e.get("event") == "run_start"), None
    )
    done: list[dict[str, Any]] = []
    status = "not started"
    for event in events:
        if event.get("run") != last_run:
            continue
        if event.get("event") == "step_end":
            done.append(event)
        if event.get("event") == "run_end":
            status = str(event.get("status"))
        elif last_run:
            status = "running" if status == "not started" else status
    actions: list[dict[str, Any]] = []
    for i, event in enumerate(done, 1):
        label = str(event.get("step", ""))
        ident, _, name = label.partition(": ")
        actions.append(
            {
                "number": i,
                "id": ident if name else "",
                "name": name or ident,
                "status": event.get("status"),
                "cost": "",
                "estimated": format_duration(_seconds(event.get("estimated"))),
                "actual": format_duration(_seconds(event.get("seconds"))),
                "tags": "",
            }
        )
    remaining: dict[str, Any] = {
        "remaining_steps": 0,
        "remaining_cost": 0,
        "remaining_parallel": "0s",
        "remaining_sequential": "0s",
    }
    try:
        plan = find_plan(ruleset, state)
    except NoPlanError:
        plan = None
        status = f"{status}; no plan reaches the goal from here"
    if plan is not None:
        sched = schedule(plan)
        for slot in sched.slots:
            action = slot.step.action
            actions.append(
                {
                    "number": len(actions) + 1,
                    "id": action.id,
                    "name": action.name,
                    "status": "pending",
                    "cost": f"{slot.step.cost:g}",
                    "estimated": format_duration(action.duration),
                    "actual": "",
                    "tags": ", ".join(action.tags),
                }
            )
        remaining = {
            "remaining_steps": len(plan.steps),
            "remaining_cost": f"{plan.cost:g}",
            "remaining_parallel": format_duration(sched.parallel),
            "remaining_sequential": format_duration(sched.sequential),
        }
    subgoals = []
    for sub in ruleset.subgoals:
        conditions = [
            {
                "source": c.expr.source,
                "holds": reference_eval(ruleset, c.expr, state) is True,
            }
            for c in sub.conditions
        ]
        subgoals.append(
            {
                "name": sub.name,
                "conditions": conditions,
                "reached": all(c["holds"] for c in conditions),
            }
        )
    ok = [e for e in done if e.get("status") == "ok"]
    from .render import plan_mermaid

    return {
        "plan_mermaid": plan_mermaid(plan) if plan is not None and plan.steps else "",
        "run_gantt": run_gantt(last_run, done),
        "title": "GOAP progress",
        "goal": str(ruleset.path.name),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "status": status,
        "run": last_run,
        "subgoals": subgoals,
        "actions": actions,
        # Never stored, so not known here either.
        "state": shown(ruleset, state_dict(ruleset, state)),
        "state_file": str(state_path(ruleset)),
        "done_steps": len(ok),
        "done_estimated": format_duration(
            sum(_seconds(e.get("estimated")) for e in ok)
        ),
        "done_actual": format_duration(sum(_seconds(e.get("seconds")) for e in ok)),
        **remaining,
    }


def render_document(
    ruleset: Ruleset,
    template: str | Path = "progress.md.j2",
    extra: dict[str, Any] | None = None,
) -> str:
    """Render a built-in template (by name) or a template file with the progress."""
    if isinstance(template, Path):
        text = template.read_text(encoding="utf-8")
    else:
        text = (resources.files("goap_engine") / "doc_templates" / template).read_text(
            encoding="utf-8"
        )
    context = progress_context(ruleset)
    context.update(extra or {})
    try:
        # The same bounded sandbox as hooks: a template file is input too.
        return render(text, context)
    except ValueError as exc:
        where = Location.of(template) if isinstance(template, Path) else Location("")
        raise InputError(Diagnostic(where, f"template error: {exc}")) from None


# What a Mermaid task name may hold: ':' ends it, '#' and ';' break the chart.
_GANTT_UNSAFE = re.compile(r"[^A-Za-z0-9 _.()/-]+")


def run_gantt(run: str | None, steps: list[dict[str, Any]]) -> str:
    """Return the steps of ``run`` as a Mermaid Gantt chart, or '' without any.

    Each step gets two bars from the moment it started: how long the plan
    estimated (``estimated``) and how long it took (``actual``); GitHub
    renders the chart in GOAP.md and in pull request comments.
    """
    rows = []
    for event in steps:
        end, seconds = event.get("t"), _seconds(event.get("seconds"))
        if isinstance(end, bool) or not isinstance(end, int | float):
            continue
        if not math.isfinite(end):
            continue
        start = end - seconds
        name = _GANTT_UNSAFE.sub(" ", str(event.get("step", ""))).strip() or "step"
        estimated = _seconds(event.get("estimated"))
        rows.append((name, start, estimated, seconds, str(event.get("status"))))
    if not rows:
        return ""
    lines = [
        "gantt",
        f"  title Run {_GANTT_UNSAFE.sub('', run or '')}: estimated and actual",
        "  dateFormat x",
        "  axisFormat %H:%M:%S",
    ]
    for section, index in (("estimated", 2), ("actual", 3)):
        lines.append(f"  section {section}")
        for name, start, *times, status in rows:
            length = times[index - 2]
            mark = "crit, " if section == "actual" and status != "ok" else ""
            begin = round(start * 1000)
            # A step of no time still gets a visible sliver.
            finish = begin + max(round(length * 1000), 1)
            lines.append(f"  {name} :{mark}{begin}, {finish}")
    return "\n".join(lines) + "\n"
