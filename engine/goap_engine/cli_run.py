"""``goap-engine run`` (sense, plan, act, verify, replan) and ``approve``."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .assignments import parse_assignments
from .cli import (
    _guard,
    _require_goal,
    _require_values,
    _stderr,
    complete,
    goal_argument,
    main,
    no_cache_option,
    var_options,
)
from .cli_focus import focus_options, show_focus, verbosity_options
from .cli_lock import lock_timeout_option
from .errors import (
    EXIT_INPUT,
    EXIT_NO_PLAN,
    EXIT_WAITING,
    InputError,
    display_path,
)
from .goal_files import find_goal


@main.command("run")
@goal_argument
@click.option(
    "--dry-run", is_flag=True, help="Sense and plan, print every command, run nothing."
)
@click.option(
    "--plan", "plan_file", type=click.Path(path_type=Path), help="Run a saved plan."
)
@click.option(
    "--jobs", "-j", type=click.IntRange(1, 64), default=None, help="Parallel steps."
)
@click.option(
    "--yes", "-y", is_flag=True, help="Approve every irreversible/approval step."
)
@click.option(
    "--approve",
    "approve",
    multiple=True,
    metavar="ID[,ID...]",
    shell_complete=complete("action_ids"),
    help="Approve these irreversible/approval steps (by id or name).",
)
@click.option(
    "--wait-for-approval",
    is_flag=True,
    help="Stop at a step nobody approved (exit 5) until 'approve' and --resume.",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted or waiting run.")
@click.option(
    "--fresh", is_flag=True, help="Ignore the stored state; start from defaults."
)
@click.option(
    "--set", "sets", multiple=True, metavar="VAR=VALUE", help="Override a start value."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json streams journal events as JSON Lines on stdout.",
)
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(),
    metavar="FILE",
    help="Write the run's steps as a JUnit XML report (also when it fails).",
)
@click.option(
    "--allow-outside",
    is_flag=True,
    help="Let --junit write outside the project (the goal's git work tree or folder).",
)
@focus_options
@verbosity_options
@lock_timeout_option
@no_cache_option
@_guard
@var_options
def run_command(
    goal: Path | None,
    dry_run: bool,
    plan_file: Path | None,
    jobs: int | None,
    yes: bool,
    approve: Sequence[str],
    wait_for_approval: bool,
    resume: bool,
    fresh: bool,
    sets: Sequence[str],
    fmt: str,
    junit_file: str | None,
    allow_outside: bool,
    focus: Any,
) -> None:
    """Sense, plan, act, verify and replan until GOAL (or a --target) holds.

    Steps marked irreversible or approval are approved before anything runs:
    on a terminal the run asks once; otherwise pass --yes or --approve, or
    nothing runs (exit 2).  With --wait-for-approval (or 'policy: {approvals:
    wait}') the run does what needs no approval and stops at the first step
    that does (exit 5); 'goap-engine approve' and 'run --resume' go on.
    """
    goal = find_goal(goal)
    from .executor.approvals import parse_approvals
    from .executor.report import Reporter
    from .executor.runner import Runner, RunOptions
    from .loader import load
    from .planner.focus import left_out_needed, narrow

    full = load(goal)
    _require_goal(full)
    narrowed = narrow(full, focus)
    ruleset = narrowed.ruleset
    _require_values(ruleset)
    if resume and fresh:
        raise InputError("--resume and --fresh exclude each other")
    junit = None
    if junit_file is not None:
        # Checked before anything runs: a bad path is found at once, not
        # after an hour of steps.
        from .cli_documents import output_path
        from .executor.junit import JUnitReport

        where = output_path(junit_file, goal, allow_outside, "--junit")
        junit = JUnitReport(ruleset, where)
    from .console import verbosity

    reporter = Reporter(fmt, level=verbosity(), partial=bool(focus))
    if fmt == "text":
        show_focus(narrowed.lines)
    options = RunOptions(
        dry_run=dry_run,
        yes=yes,
        # An action the tag filter leaves out may still be named.
        approve=parse_approvals(full, approve),
        jobs=jobs,
        resume=resume,
        fresh=fresh,
        plan_file=plan_file,
        sets=parse_assignments(ruleset, sets),
        interactive=sys.stdin.isatty() and sys.stderr.isatty(),
        confirm=lambda question: click.confirm(question, default=False, err=True),
        focus=focus.record(),
        focus_arguments=focus.arguments(),
        wait_for_approval=wait_for_approval,
    )
    on_event = reporter.event if junit is None else junit.listen(reporter.event)
    runner = Runner(ruleset, options, on_event=on_event, on_output=reporter.output)
    try:
        with junit.writing(runner.redact) if junit else contextlib.nullcontext():
            result = runner.run()
    finally:
        reporter.close()
    if result.no_plan and fmt == "text":
        for line in left_out_needed(narrowed, result.state):
            _stderr(runner.redact(line))
    reporter.summary(result)
    if junit is not None:
        _stderr(f"JUnit report written to {junit.path}", info=True)
    if result.approval is not None:
        sys.exit(result.approval.exit_code)
    if result.status == "waiting":
        sys.exit(EXIT_WAITING)
    if result.no_plan and not any(s.status != "skipped" for s in result.steps):
        sys.exit(EXIT_NO_PLAN)  # nothing ran: the answer of plan
    if not result.reached and not dry_run:
        sys.exit(1)


@main.command("approve")
@click.argument(
    "goal", required=False, metavar="[GOAL]", shell_complete=complete("goal_files")
)
@click.argument(
    "steps", nargs=-1, metavar="[STEP...]", shell_complete=complete("action_ids")
)
@click.option(
    "--by",
    metavar="NAME",
    help="Who approves (default: $GOAP_APPROVER, else the login name).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@lock_timeout_option
@no_cache_option
@_guard
@var_options
def approve_command(
    goal: str | None, steps: Sequence[str], by: str | None, fmt: str
) -> None:
    """Approve what GOAL's waiting run waits for (all its steps, or STEP...).

    The approval is journalled with who gave it and when, for the plan the
    run stopped at: 'run --resume' goes on only if the rules and the sensed
    state are still those; otherwise it waits again.
    """
    from .executor.waiting import approve
    from .goal_files import goal_and_rest
    from .language.var_inputs import arguments
    from .loader import load

    path, keys = goal_and_rest(goal, tuple(steps))
    given = approve(load(path), keys, by)
    if fmt == "json":
        click.echo(json.dumps(given, indent=2))
        return
    command = f"goap-engine run {shlex.quote(display_path(path))}"
    _stderr(
        f"approved {', '.join(given['steps'])} for run {given['run']}, by "
        f"{given['by']}; continue with '{command}{arguments()} --resume'",
        info=True,
    )


@main.command("propose")
@click.argument("file", metavar="FILE")
@goal_argument
@click.option(
    "--as",
    "replaces",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="The file the proposal replaces (default: the goal for a text with "
    "'goal:', else a new pack the goal uses).",
)
@click.option("--no-sense", is_flag=True, help="Plan from stored values only.")
@click.option(
    "--set", "sets", multiple=True, metavar="VAR=VALUE", help="Override a start value."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@no_cache_option
@_guard
@var_options
def propose_command(
    file: str,
    goal: Path | None,
    replaces: Path | None,
    no_sense: bool,
    sets: Sequence[str],
    fmt: str,
) -> None:
    """Check a proposed pack or goal (FILE, or - for stdin) without writing it.

    Loads GOAL with the proposal in memory, and shows the proposal's problems
    and the plan it gives next to the current plan, from the same start
    state.  The proposal's own sensors do not run.  Exit 0: valid and the
    goal reachable with it; 2: it has errors; 3: valid, goal unreachable.
    """
    from .files import read_text_limited
    from .loader import load
    from .proposal import describe, propose

    goal = find_goal(goal)
    text = _stdin_text() if file == "-" else read_text_limited(Path(file))
    values = parse_assignments(load(goal), sets)
    result = propose(goal, text, replaces=replaces, sense=not no_sense, sets=values)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2, default=str))
    else:
        for line in describe(result):
            click.echo(line)
    if not result["valid"]:
        sys.exit(EXIT_INPUT)
    if not result["proposed"]["reachable"]:
        sys.exit(EXIT_NO_PLAN)


def _stdin_text() -> str:
    """Return standard input as text, refusing more than a goal file may hold."""
    from .files import MAX_FILE_BYTES

    data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"-: the proposal is larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"-: the proposal is not UTF-8 text ({exc.reason})") from None
