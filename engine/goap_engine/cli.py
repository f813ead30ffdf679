"""The ``goap-engine`` command line: one small function per command.

Data goes to stdout, progress and diagnostics to stderr.  Every command uses
the exit codes in ``errors``; a ``GoapError`` becomes its message and its code,
never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from . import __version__
from .cli_focus import focus_options, show_focus, verbosity_options
from .errors import (
    EXIT_BUG,
    EXIT_CLOSED_PIPE,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NO_PLAN,
    GoapError,
    InputError,
    NoPlanError,
)

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
            if isinstance(exc, OSError) and exc.errno in _BAD_PATH:
                # A path given on the command line that the system cannot
                # even look up (too long, looping links): bad input.
                name = str(exc.filename)
                shown = name if len(name) <= 80 else name[:80] + "..."
                _stderr(f"error: {shown}: {exc.strerror}", style="red")
                sys.exit(EXIT_INPUT)
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


_BAD_PATH = frozenset({errno.ENAMETOOLONG, errno.ELOOP})


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
    from .queries import validate_files

    diagnostics, files = validate_files(paths, strict=strict)
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


def _note(text: str) -> None:
    """Show a detail of the work on stderr (``-q`` leaves it out)."""
    _stderr(text, style="dim", info=True)


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
    help="astar (default), wastar, gbfs, lazy or anytime (until --timeout).",
)
@click.option(
    "--heuristic",
    default=None,
    shell_complete=complete("heuristics"),
    help="lmcut (default; hff for lazy, anytime), hmax, hadd, hff, goalcount, "
    "seed, blind.",
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
    from .console import verbosity
    from .queries import plan_goal
    from .render import PLAN_FORMATS, plan_json, plan_text

    planned = plan_goal(
        goal,
        sets=sets,
        state_file=state_file,
        sense=not no_sense,
        search=search,
        heuristic=heuristic,
        weight=weight,
        max_nodes=max_nodes,
        timeout=timeout,
        focus=focus,
        pddl=pddl,
        on_focus=show_focus,
        note=_note,
        verbose=verbosity() > 0,
    )
    result, ruleset, redact = planned.plan, planned.ruleset, planned.redact
    for warning in planned.warnings:
        _stderr(warning, style="yellow", info=True)
    if output is not None:
        from .cli_documents import write_output

        written = write_output(
            output, redact(plan_json(result)), ruleset.path, allow_outside
        )
        _stderr(f"plan written to {written}", info=True)
    if verbosity() > 0:
        _stderr(
            f"search: {result.search} with {result.heuristic}, {result.expanded} "
            f"expanded, {result.generated} generated, {result.seconds:.3f}s, "
            f"{result.guarantee}; {result.actions_considered} actions considered",
            style="dim",
        )
    text = plan_text(result) if fmt == "text" else PLAN_FORMATS[fmt](result)
    click.echo(redact(text), nl=False)


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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
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
    fmt: str,
    focus: Any,
) -> None:
    """Explain whether GOAL (or a --target) is reachable and what blocks it."""
    from .console import verbosity
    from .queries import explain_goal

    answer = explain_goal(
        goal,
        sets=sets,
        state_file=state_file,
        sense=not no_sense,
        focus=focus,
        on_focus=show_focus,
        note=_note,
        verbose=verbosity() > 0,
    )
    for warning in answer["warnings"]:
        _stderr(warning, style="yellow", info=True)
    if fmt == "json":
        import json

        click.echo(json.dumps(answer, indent=2))
    else:
        _explain_text(answer)
    if not answer["reachable"]:
        sys.exit(EXIT_NO_PLAN)  # as plan does: scripts test the answer by its code


def _explain_text(answer: dict[str, Any]) -> None:
    for subgoal in answer["subgoals"]:
        click.echo(f"{subgoal['name']}:")
        for c in subgoal["conditions"]:
            click.echo(f"  [{'x' if c['holds'] else ' '}] {c['condition']}")
    click.echo("")
    if not answer["reachable"]:
        for line in answer["why"]:
            click.echo(line)
    elif not answer["steps"]:
        click.echo("The goal already holds: nothing to do.")
    else:
        steps = answer["steps"]
        click.echo(
            f"The goal is reachable: {steps} step{'s' * (steps != 1)}, "
            f"cost {answer['cost']:g} ('goap-engine plan' shows them)."
        )


def _require_goal(ruleset: Any) -> None:
    """Refuse a file without goal conditions (a pack given where a goal belongs)."""
    from .queries import require_goal

    require_goal(ruleset)


def _require_values(ruleset: Any) -> None:
    """Refuse a goal whose needed steps would get an empty required argument."""
    from .queries import require_values

    require_values(ruleset)


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
    cli_mcp,
    cli_packs,
    cli_run,
    cli_state,
)
