"""The ``goap-engine`` command line: one small function per command.

Data goes to stdout, progress and diagnostics to stderr.  Every command uses
the exit codes in ``errors``; a ``GoapError`` becomes its message and its code,
never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from . import __version__
from .assignments import parse_assignments
from .cli_focus import focus_options, show_focus, verbosity_options
from .errors import (
    EXIT_BUG,
    EXIT_CLOSED_PIPE,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NO_PLAN,
    Diagnostic,
    GoapError,
    InputError,
    Location,
    NoPlanError,
)
from .goal_files import find_goal

F = TypeVar("F", bound=Callable[..., Any])


def _stderr(text: str, *, style: str | None = None, info: bool = False) -> None:
    """Print a line on stderr; ``info``: a detail that ``-q`` leaves out."""
    from .console import err_console, plain, verbosity

    if info and verbosity() < 0:
        return
    if plain():
        # Plain lines need no rich: keep it off the start-up path in CI.
        click.echo(text, err=True)
        return
    err_console().print(
        text, style=style, highlight=False, markup=False, soft_wrap=True
    )


def _guard(fn: F) -> F:
    """Turn engine errors into messages and exit codes."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .executor.redaction import everything

        try:
            return fn(*args, **kwargs)
        except NoPlanError as exc:
            # Every secret this process has seen, in case a message was made
            # from a value without passing the run's redactor.
            redact = everything()
            _stderr(redact(f"error: {exc}"), style="bold red")
            for line in exc.explanation.lines:
                _stderr(redact(line))
            sys.exit(exc.exit_code)
        except GoapError as exc:
            _stderr(
                everything()(
                    f"{exc}" if isinstance(exc, InputError) else f"error: {exc}"
                ),
                style="red",
            )
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _stderr("interrupted", style="yellow")
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            closed_pipe()
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if os.environ.get("GOAP_DEBUG"):
                raise
            _stderr(
                everything()(
                    f"internal error: {type(exc).__name__}: {exc} "
                    "(set GOAP_DEBUG=1 for the traceback)"
                ),
                style="bold red",
            )
            sys.exit(EXIT_BUG)

    return wrapper  # type: ignore[return-value]


def _use_cache(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    from .files import set_cache_enabled

    # For this command only: an in-process caller (a test, a script using
    # the CLI) must not inherit it.
    set_cache_enabled(not value)
    ctx.call_on_close(lambda: set_cache_enabled(True))


def var_options(fn: F) -> F:
    """Add ``--var NAME=VALUE`` and ``--var-file FILE`` to a command that loads a goal.

    With ``GOAP_VAR_<NAME>`` from the environment they give vars values for
    this command, in precedence order: files, then the environment, then
    ``--var`` (see ``language.var_inputs``).  Applied inside ``_guard``: a
    bad var file is a message, not a traceback.
    """

    @wraps(fn)
    def wrapper(
        *args: Any, var_items: Sequence[str], var_files: Sequence[Path], **kwargs: Any
    ) -> Any:
        from .language import var_inputs as given

        inputs = [item for path in var_files for item in given.from_file(path)]
        inputs += given.from_environment()
        inputs += given.from_assignments(var_items)
        with given.giving(inputs):
            return fn(*args, **kwargs)

    with_files = click.option(
        "--var-file",
        "var_files",
        multiple=True,
        type=click.Path(path_type=Path),
        metavar="FILE",
        help="Values for vars from a YAML or JSON mapping (repeatable).",
    )
    with_items = click.option(
        "--var",
        "var_items",
        multiple=True,
        metavar="NAME=VALUE",
        help="Give a var a value (typed as the var; repeatable; over GOAP_VAR_NAME).",
    )
    return with_items(with_files(wrapper))  # type: ignore[return-value]


def complete(name: str) -> Callable[..., Any]:
    """Return the completer ``name`` of ``cli_completion``, imported when used."""

    def completer(ctx: click.Context, param: click.Parameter, incomplete: str) -> Any:

        return getattr(cli_completion, name)(ctx, param, incomplete)

    return completer


def goal_argument(fn: F) -> F:
    """Add the optional GOAL argument (found as ``validate`` finds it when left out)."""
    argument = click.argument(
        "goal",
        required=False,
        type=click.Path(path_type=Path),
        shell_complete=complete("goal_files"),
    )
    return argument(fn)


def no_cache_option(fn: F) -> F:
    """Add ``--no-cache`` to a command that loads a goal."""
    option = click.option(
        "--no-cache",
        is_flag=True,
        expose_value=False,
        callback=_use_cache,
        help="Load every file afresh; neither read nor write the ruleset cache.",
    )
    return option(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="goap-engine")
@verbosity_options
def main() -> None:
    """Plan and run goal-driven automation described in YAML.

    Exit codes: 0 success, 1 an action failed, 2 invalid input or usage,
    3 no plan exists, 4 locked by another run, 130 interrupted.
    """
    import signal
    import threading

    from .console import set_verbosity

    # For this command only: an in-process caller must not inherit -q or -v.
    click.get_current_context().call_on_close(lambda: set_verbosity(0))

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # SIGTERM ends any command as Ctrl-C does (cleanly, exit 130), from the
    # start, not only once a run has taken its lock.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="Output format; github prints workflow annotations.",
)
@no_cache_option
@_guard
@var_options
def validate(paths: Sequence[Path], strict: bool, fmt: str) -> None:
    """Check goal and pack files: schema, names, types, reachability.

    With no PATH, validates every goal in goals.d/ (or every pack in actions.d/).
    """
    from .validate import validate_paths

    targets = list(paths) or _default_targets()
    diagnostics, files = validate_paths(targets)
    if strict:
        diagnostics = [
            Diagnostic(d.location, d.message, d.entity, "error", d.code)
            for d in diagnostics
        ]
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    if fmt == "json":
        from .render import diagnostics_json

        click.echo(diagnostics_json(diagnostics), nl=False)
    elif fmt == "github":
        from .render import diagnostics_github

        click.echo(diagnostics_github(diagnostics), nl=False)
    else:
        for d in diagnostics:
            click.echo(str(d), err=True)
    summary = f"{files} file(s) checked: {errors} error(s), {warnings} warning(s)"
    _stderr(summary, style="red" if errors else "green")
    if errors:
        sys.exit(EXIT_INPUT)


def _default_targets() -> list[Path]:
    from .goal_files import goals_folder

    for folder in (goals_folder(), Path("actions.d")):
        if folder.is_dir():
            found = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
            if found:
                return found
    raise InputError(
        Diagnostic(Location("."), "no PATH given and no goals.d/ or actions.d/ here")
    )


def _start_state(
    ruleset: Any,
    state_file: Path | None,
    sets: Sequence[str],
    *,
    sense: bool = True,
    fresh: bool = False,
    redact: Any = None,
) -> Any:
    """Return the start state every command shares, after showing what is unknown.

    Defaults, the stored state (the goal's state file unless ``--state``),
    remembered facts that expired forgotten, the sensors the goal can need,
    then ``--set``.  Secret values learnt on the way join ``redact``.
    """
    from .executor.redaction import Redactor
    from .executor.world import start_state

    values = parse_assignments(ruleset, sets)
    if redact is None:
        redact = Redactor.from_env(ruleset.secrets)
    if sense:
        from .executor.processes import process_scope

        # Sensors are hooks: bounded, and whatever they leave behind ended.
        with process_scope():
            start = start_state(
                ruleset, state_file=state_file, sets=values, fresh=fresh, redact=redact
            )
    else:
        start = start_state(
            ruleset,
            state_file=state_file,
            sets=values,
            sense=False,
            fresh=fresh,
            redact=redact,
        )
    for name, why in start.forgotten.items():
        _stderr(f"forgot {name}: {why}", style="dim", info=True)
    from .console import verbosity

    if verbosity() > 0 and (start.sensed or start.failures):
        from .values import shown

        values = shown(ruleset, start.sensed)
        readings = [f"{k}={v!r}" for k, v in values.items()]
        readings += [f"{k} failed ({f.reason})" for k, f in start.failures.items()]
        _stderr(redact(f"sensed: {', '.join(readings)}"), style="dim")
    return start


@main.command()
@goal_argument
@click.option(
    "--set", "sets", multiple=True, metavar="VAR=VALUE", help="Override a start value."
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path),
    help="Start from a state file.",
)
@click.option(
    "--no-sense",
    is_flag=True,
    help="Plan from the stored state without running any sensor.",
)
@click.option("--sense", is_flag=True, hidden=True, help="The default; no effect.")
@click.option(
    "--search",
    default=None,
    shell_complete=complete("searches"),
    help="astar (default), wastar or gbfs.",
)
@click.option(
    "--heuristic",
    default=None,
    shell_complete=complete("heuristics"),
    help="lmcut (default), hmax, hadd, hff, goalcount, seed, blind.",
)
@click.option("--weight", default=2.0, show_default=True, help="Weight w of wastar.")
@click.option("--max-nodes", default=2_000_000, show_default=True, help="Node limit.")
@click.option(
    "--timeout", default=300.0, show_default=True, help="Search time limit (s)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "mermaid", "dot", "pddl"]),
    default="text",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Write the plan (JSON) here.",
)
@click.option(
    "--allow-outside",
    is_flag=True,
    help="Let -o write outside the project (the goal's git work tree or folder).",
)
@click.option(
    "--pddl",
    nargs=2,
    type=click.Path(path_type=Path),
    metavar="DOMAIN PROBLEM",
    help="Plan for a PDDL domain and problem instead of a goal file.",
)
@focus_options
@verbosity_options
@no_cache_option
@_guard
@var_options
def plan(
    goal: Path | None,
    sets: Sequence[str],
    state_file: Path | None,
    no_sense: bool,
    sense: bool,
    search: str | None,
    heuristic: str | None,
    weight: float,
    max_nodes: int,
    timeout: float,
    fmt: str,
    output: str | None,
    allow_outside: bool,
    pddl: tuple[Path, Path] | None,
    focus: Any,
) -> None:
    """Plan the cheapest way to reach GOAL (or a --target) and show it."""
    from .executor.redaction import Redactor
    from .executor.world import checked_plan
    from .planner.focus import narrow
    from .planner.plan import find_plan
    from .render import PLAN_FORMATS, plan_json, plan_text

    ruleset = _ruleset(goal, pddl)
    _require_goal(ruleset)
    narrowed = narrow(ruleset, focus)
    ruleset = narrowed.ruleset
    show_focus(narrowed.lines)
    _require_values(ruleset)
    # A start value given with --set or sensed may hold a secret: plans never
    # show it.
    redact = Redactor.from_env(ruleset.secrets)
    # A PDDL problem is its own start state: nothing is stored or sensed.
    start = _start_state(
        ruleset,
        state_file,
        sets,
        sense=not no_sense and not pddl,
        fresh=bool(pddl),
        redact=redact,
    )
    result, warnings = checked_plan(
        ruleset,
        start,
        lambda: _explained(
            narrowed,
            start.state,
            lambda: find_plan(
                ruleset,
                start.state,
                search=search,
                heuristic=heuristic,
                weight=weight,
                max_nodes=max_nodes,
                max_seconds=timeout,
            ),
        ),
    )
    for warning in warnings:
        _stderr(redact(warning), style="yellow", info=True)
    if output is not None:
        from .cli_documents import write_output

        written = write_output(
            output, redact(plan_json(result)), ruleset.path, allow_outside
        )
        _stderr(f"plan written to {written}", info=True)
    from .console import verbosity

    if verbosity() > 0:
        _stderr(
            f"search: {result.search} with {result.heuristic}, {result.expanded} "
            f"expanded, {result.generated} generated, {result.seconds:.3f}s, "
            f"{result.guarantee}; {result.actions_considered} actions considered",
            style="dim",
        )
    text = plan_text(result) if fmt == "text" else PLAN_FORMATS[fmt](result)
    click.echo(redact(text), nl=False)


def _explained(narrowed: Any, state: Any, search: Callable[[], Any]) -> Any:
    """Return ``search()``; a NoPlanError also names what a tag filter left out."""
    from .planner.focus import left_out_needed

    try:
        return search()
    except NoPlanError as exc:
        exc.explanation.lines[:0] = left_out_needed(narrowed, state)
        raise


def _ruleset(goal: Path | None, pddl: tuple[Path, Path] | None) -> Any:
    from .loader import load

    if pddl is not None:
        if goal is not None:
            raise InputError("give either GOAL or --pddl DOMAIN PROBLEM, not both")
        from .pddl.convert import load_pddl

        return load_pddl(*pddl)
    return load(find_goal(goal))


@main.command()
@goal_argument
@click.option(
    "--set", "sets", multiple=True, metavar="VAR=VALUE", help="Override a start value."
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path),
    help="Start from a state file.",
)
@click.option(
    "--no-sense",
    is_flag=True,
    help="Explain from the stored state without running any sensor.",
)
@focus_options
@verbosity_options
@no_cache_option
@_guard
@var_options
def explain(
    goal: Path | None,
    sets: Sequence[str],
    state_file: Path | None,
    no_sense: bool,
    focus: Any,
) -> None:
    """Explain whether GOAL (or a --target) is reachable and what blocks it."""
    goal = find_goal(goal)
    from .executor.redaction import Redactor
    from .executor.world import checked_plan
    from .loader import load
    from .planner.explain import explain as explain_goal
    from .planner.focus import left_out_needed, narrow

    full = load(goal)
    _require_goal(full)
    narrowed = narrow(full, focus)
    ruleset = narrowed.ruleset
    show_focus(narrowed.lines)
    redact = Redactor.from_env(ruleset.secrets)
    known = _start_state(ruleset, state_file, sets, sense=not no_sense, redact=redact)
    start = known.state
    from .planner.plan import find_plan, reference_eval

    # The same rule as plan and run: an unknown value stops the answer only
    # when the plan (or, without one, the search) needs it.
    try:
        found, warnings = checked_plan(
            ruleset, known, lambda: find_plan(ruleset, start)
        )
    except NoPlanError:
        found, warnings = None, []
    for warning in warnings:
        _stderr(redact(warning), style="yellow", info=True)
    for subgoal in ruleset.subgoals:
        click.echo(f"{subgoal.name}:")
        for condition in subgoal.conditions:
            holds = reference_eval(ruleset, condition.expr, start) is True
            click.echo(f"  [{'x' if holds else ' '}] {condition.expr.source}")
    click.echo("")
    if found is not None:
        if not found.steps:
            click.echo("The goal already holds: nothing to do.")
        else:
            steps = len(found.steps)
            click.echo(
                f"The goal is reachable: {steps} step{'s' * (steps != 1)}, "
                f"cost {found.cost:g} ('goap-engine plan' shows them)."
            )
        return
    for line in left_out_needed(narrowed, start) + explain_goal(ruleset, start).lines:
        click.echo(redact(line))
    sys.exit(EXIT_NO_PLAN)  # as plan does: scripts test the answer by its code


def _require_goal(ruleset: Any) -> None:
    """Refuse a file without goal conditions (a pack given where a goal belongs)."""
    if not ruleset.conditions:
        raise InputError(
            Diagnostic(
                Location.of(ruleset.path, 1, 1),
                "this file has no 'goal:' (is it a pack? give a goal file, "
                "such as goals.d/production.yaml)",
            )
        )


def _require_values(ruleset: Any) -> None:
    """Refuse a goal whose needed steps would get an empty required argument.

    A Hub repository nobody set is found now, not after the steps before it
    ran; ``ruleset`` is the narrowed one, so ``--target`` of a part that does
    not publish needs none.
    """
    from .required_values import empty_required

    if problems := empty_required(ruleset):
        raise InputError(problems)


def run() -> None:
    """Run the CLI (entry point of ``python -m goap_engine``)."""
    from click.utils import _PacifyFlushWrapper

    try:
        main(prog_name="goap-engine")
    except BrokenPipeError:  # a usage message into a closed pipe
        closed_pipe()
    except SystemExit:
        # Click ends --help and --version into a closed pipe with exit 1,
        # after wrapping stdout so that flushing it is quiet: that wrapper
        # is the only sign of the closed pipe.
        if isinstance(sys.stdout, _PacifyFlushWrapper):
            closed_pipe()
        raise


def closed_pipe() -> NoReturn:
    """End quietly when the reader of the output has gone (``| head``).

    As Unix tools do, killed by SIGPIPE: exit 141 (128 + 13), no message.
    Python would complain again when it flushes stdout at exit, so stdout
    is pointed at /dev/null first.
    """
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_CLOSED_PIPE)


# The command groups kept in modules of their own register themselves on main.
from . import (  # noqa: E402, F401
    cli_builtins,
    cli_completion,
    cli_documents,
    cli_packs,
    cli_run,
    cli_state,
)
