"""``goap-engine mcp``: the engine's tools, resources and prompts for AI agents.

A Model Context Protocol server over one project (the folder it starts in,
or ``--root``), built on the official ``mcp`` SDK.  It is a second face over
the functions the command line calls (``queries``, ``validate``, the
executor's state, journal and approvals): each tool returns the data the
matching command prints with ``--format json``, and a bad input is a tool
error carrying the engine's located message and its exit code, never a
traceback and never the end of the server.

Runs go to a ``goap-engine run`` subprocess each (``mcp_runs``): a run is
the command's run, with its lock, journal and state file, and it outlives the
client that started it.  Tool calls that load rules or sense run one at a
time: the engine keeps per-process settings (var inputs, the ruleset cache)
and owns the processes its sensors start while it senses.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.mcpserver.resources import FunctionResource

from . import __version__
from .errors import (
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_LOCKED,
    EXIT_NO_PLAN,
    EXIT_WAITING,
    GoapError,
    InputError,
    NoPlanError,
)
from .goal_files import find_goal, goal_files, goals_folder
from .mcp_runs import Runs, journal_status, live_status, run_arguments

# The tools that change the world: left out, and refused, with --read-only.
WRITING = frozenset({"run", "cancel", "approve", "state_set"})
EXIT_MEANINGS = {
    EXIT_FAILED: "a run or step failed",
    EXIT_INPUT: "bad input",
    EXIT_NO_PLAN: "no plan",
    EXIT_LOCKED: "locked by another run",
    EXIT_WAITING: "waiting for an approval",
}
INSTRUCTIONS = """\
goap-engine plans and runs goal-driven automation described in YAML.
Validate after every edit (tool validate: located diagnostics), plan and read
the plan's guarantee (tool plan), explain a goal that has no plan (tool
explain), then run it (tool run, then run_status with the cursor it returns
until it ended). A run that reaches an irreversible step waits for an
approval: approve it (tool approve), then run again with resume=true. Never
edit the state file by hand: use state_set.
"""


def _secrets() -> Callable[[Any], Any]:
    """Return a function hiding every secret this process knows, in any data."""
    from .executor.redaction import everything

    return everything().data


def refusal(name: str) -> str:
    """Return why a tool that changes the world is refused."""
    return f"{name}: refused: this server is read-only (goap-engine mcp --read-only)"


def _failure(exc: GoapError) -> str:
    """Return an engine error as a tool error's text: the message and its code."""
    text = str(exc)
    if isinstance(exc, NoPlanError):
        text = "\n".join([f"error: {text}", *exc.explanation.lines])
    meaning = EXIT_MEANINGS.get(exc.exit_code, "error")
    return f"{text}\n(exit code {exc.exit_code}: {meaning})"


class Project:
    """One project served: where it is, its runs, and what may change it."""

    def __init__(self, root: Path, *, read_only: bool = False) -> None:
        self.root = root
        self.read_only = read_only
        self.runs = Runs(root)
        self._engine = threading.Lock()
        self._last_plans: dict[str, dict[str, Any]] = {}

    # Paths: every one a tool takes is inside the project.

    def inside(self, given: str, what: str = "goal") -> Path:
        """Return ``given`` (relative to the project) if it lies inside it."""
        if not isinstance(given, str) or not given or "\0" in given:
            raise InputError(f"{what}: expected a path inside the project")
        path = Path(given)
        full = path if path.is_absolute() else self.root / path
        try:
            resolved = full.resolve()
        except (OSError, RuntimeError) as exc:  # a link loop, a name too long
            raise InputError(f"{what} '{given}': cannot be followed: {exc}") from None
        if not resolved.is_relative_to(self.root.resolve()):
            raise InputError(
                f"{what} '{given}': outside the project ({self.root}); "
                "give a path inside it"
            )
        return Path(os.path.relpath(full, self.root))

    def goal(self, given: str | None) -> Path:
        """Return the goal a tool is about: ``given``, else the only one in goals.d/."""
        # The goals.d/ found may be above the project (--root a subfolder).
        return self.inside(str(find_goal(None)) if given is None else given)

    def load(self, goal: Path) -> Any:
        """Load ``goal``; its declared secrets are hidden from every result after."""
        from .executor.redaction import Redactor
        from .loader import load

        ruleset = load(goal)
        Redactor.from_env(ruleset.secrets)
        return ruleset

    def known_secrets(self) -> None:
        """Learn the secrets every goal of the project declares (bad goals skipped)."""
        for goal in goal_files(goals_folder()):
            try:
                self.load(goal)
            except GoapError:
                continue

    # The guard every tool passes through.

    def tool(
        self,
        fn: Callable[..., Any],
        *,
        engine: bool = True,
        error: type[Exception] = ToolError,
    ) -> Callable[..., Any]:
        """Wrap ``fn``: one engine call at a time, its errors as ``error``."""

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if self.read_only and fn.__name__ in WRITING:
                raise error(refusal(fn.__name__))
            with self._engine if engine else _nothing():
                try:
                    return _secrets()(fn(*args, **kwargs))
                except GoapError as exc:
                    raise error(_secrets()(_failure(exc))) from None
                except (ToolError, ResourceError) as exc:
                    raise error(str(exc)) from None
                except Exception as exc:  # noqa: BLE001 - the server stays up
                    raise error(
                        _secrets()(f"internal error: {type(exc).__name__}: {exc}")
                    ) from None

        return guarded

    # Tools.

    def validate(
        self, paths: list[str] | None = None, strict: bool = False
    ) -> dict[str, Any]:
        """Check goal and pack files (all of goals.d/ when no path is given).

        Returns the diagnostics, each with file, line, col, code, severity,
        entity and message, as 'validate --format json'.
        """
        from .queries import validate_files
        from .render import diagnostics_data

        chosen = [self.inside(p, "path") for p in paths or ()]
        diagnostics, files = validate_files(chosen, strict=strict)
        return {**diagnostics_data(diagnostics), "files": files}

    def plan(
        self,
        goal: str | None = None,
        sets: dict[str, Any] | None = None,
        vars: dict[str, Any] | None = None,
        sense: bool = True,
        targets: list[str] | None = None,
        tags: list[str] | None = None,
        skip_tags: list[str] | None = None,
        search: str | None = None,
        heuristic: str | None = None,
    ) -> dict[str, Any]:
        """Plan the cheapest way to reach the goal (or targets) from the sensed state.

        Returns the steps, cost, guarantee and timeline, as 'plan --format
        json'; no plan is a tool error saying what blocks the goal.
        """
        from .queries import plan_goal
        from .render import plan_data

        path = self.goal(goal)
        self.load(path)
        with _giving(vars):
            planned = plan_goal(
                path,
                sets=_assignments(sets),
                sense=sense,
                search=search,
                heuristic=heuristic,
                focus=_focus(targets, tags, skip_tags),
            )
        data = planned.redact.data(plan_data(planned.plan))
        self._last_plans[str(path)] = data
        return {**data, "warnings": list(planned.warnings)}

    def explain(
        self,
        goal: str | None = None,
        sets: dict[str, Any] | None = None,
        vars: dict[str, Any] | None = None,
        sense: bool = True,
        targets: list[str] | None = None,
        tags: list[str] | None = None,
        skip_tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Explain whether the goal is reachable and, if not, what blocks it.

        As 'explain --format json': each goal part's conditions and whether
        they hold, then the plan's size and cost or the lines saying why not.
        """
        from .queries import explain_goal

        path = self.goal(goal)
        self.load(path)
        with _giving(vars):
            return explain_goal(
                path,
                sets=_assignments(sets),
                sense=sense,
                focus=_focus(targets, tags, skip_tags),
            )

    def propose(
        self,
        text: str,
        goal: str | None = None,
        replaces: str | None = None,
        sets: dict[str, Any] | None = None,
        sense: bool = True,
    ) -> dict[str, Any]:
        """Check a proposed pack or goal change (YAML text) without writing it.

        Loads the goal with the text in memory -- replacing the file
        'replaces' names, else the goal for a text with 'goal:', else as a new
        pack the goal uses -- and returns its diagnostics and the plan it gives
        next to the current plan (as 'propose --format json').  The proposal's
        own sensors do not run.
        """
        from .proposal import propose
        from .values import checked_values

        path = self.goal(goal)
        ruleset = self.load(path)
        where = self.inside(replaces, "path") if replaces is not None else None
        values = checked_values(ruleset, sets or {}, label="sets") if sets else {}
        return propose(path, text, replaces=where, sense=sense, sets=values)

    def run(
        self,
        goal: str | None = None,
        sets: dict[str, Any] | None = None,
        vars: dict[str, Any] | None = None,
        targets: list[str] | None = None,
        tags: list[str] | None = None,
        skip_tags: list[str] | None = None,
        yes: bool = False,
        approve: list[str] | None = None,
        resume: bool = False,
        fresh: bool = False,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Start a run of the goal in the background and return its run id.

        Follow it with run_status.  A step that needs an approval (irreversible
        or approval: true) and is not in 'approve' (nor 'yes') makes the run
        wait: approve it, then run again with resume=true.
        """
        path = self.goal(goal)
        self.load(path)
        arguments = run_arguments(
            path,
            targets=targets or (),
            tags=tags or (),
            skip_tags=skip_tags or (),
            vars=vars,
            sets=sets,
            yes=yes,
            approve=approve or (),
            resume=resume,
            fresh=fresh,
            dry_run=dry_run,
        )
        started = self.runs.start(path, arguments)
        return live_status(started, 0, _secrets())

    def run_status(
        self, run: str, cursor: int = 0, goal: str | None = None
    ) -> dict[str, Any]:
        """Return a run's events from 'cursor' on, hook output included, and its state.

        Pass back the returned cursor to get only what is new.  'ended',
        'status' and 'exit_code' say how it ended; 'pending_approval' what
        it waits for.  A run this server did not start is read from the
        journal of 'goal' (its events, without hook output).
        """
        found = self.runs.find(run)
        if found is not None:
            return live_status(found, cursor, _secrets())
        from .executor.journal import read_events
        from .executor.workspace import journal_path

        with self._engine:
            path = self.goal(goal)
            events = list(read_events(journal_path(self.load(path))))
        return journal_status(run, path, events, cursor)

    def cancel(self, run: str) -> dict[str, Any]:
        """Interrupt a run this server started, as Ctrl-C does: it ends interrupted."""
        return live_status(self.runs.cancel(run), 0, _secrets())

    def approve(
        self,
        goal: str | None = None,
        steps: list[str] | None = None,
        by: str | None = None,
    ) -> dict[str, Any]:
        """Approve what the goal's waiting run waits for (all its steps, or 'steps').

        Journalled with 'by' (default: who started this server, "via mcp")
        and the time, for the plan the run stopped at; then start the run
        again with resume=true.
        """
        from .executor.waiting import approve, approver

        if by is None:
            by = f"{approver(None)} via mcp"
        path = self.goal(goal)
        given: dict[str, Any] = approve(self.load(path), list(steps or ()), by)
        return given

    def state_show(
        self, goal: str | None = None, names: list[str] | None = None
    ) -> dict[str, Any]:
        """Return the goal's stored state, where each value came from, what expired."""
        from .queries import stored_state

        path = self.goal(goal)
        self.load(path)
        return stored_state(path, names or ())

    def state_set(
        self, values: dict[str, Any], goal: str | None = None
    ) -> dict[str, Any]:
        """Set stored values, each checked against its variable's type.

        Returns the stored state of the variables set.
        """
        from .assignments import parse_assignments
        from .executor.state import update_state
        from .queries import stored_state

        path = self.goal(goal)
        self.load(path)
        if not values:
            raise InputError('state_set: give values, such as {"built": true}')
        update_state(
            path,
            lambda ruleset, items: parse_assignments(
                ruleset, items, "state set", stored=True
            ),
            _assignments(values),
        )
        return stored_state(path, list(values))

    def history(self, goal: str | None = None) -> dict[str, Any]:
        """List the goal's runs from its journal, as 'history --format json'."""
        from .executor.state import runs

        path = self.goal(goal)
        warnings: list[str] = []
        found = runs(self.load(path), warn=warnings.append)
        return {"runs": found, "warnings": warnings}

    def builtins(self, name: str | None = None) -> dict[str, Any]:
        """List the built-in hooks, or document the one called 'name'."""
        from .cli_builtins import builtin_data

        data = builtin_data(name)
        return {"builtins": data} if name is None else dict(data)

    def schema(self, kind: Literal["goal", "pack"] = "goal") -> dict[str, Any]:
        """Return the JSON Schema of goal or pack files."""
        from .documents import schema_text

        loaded: dict[str, Any] = json.loads(schema_text(kind))
        return loaded

    # Resources.

    def goal_file(self, path: str) -> str:
        """Return a goal file's text."""
        return self._text(path, "goal")

    def pack_file(self, path: str) -> str:
        """Return a pack file's text."""
        return self._text(path, "pack")

    def _text(self, given: str, what: str) -> str:
        from .files import read_text_limited

        text: str = _secrets()(read_text_limited(self.inside(given, what)))
        return text

    def last_plan(self, goal: str) -> str:
        """Return the goal's last plan as JSON (else one from the stored state)."""
        key = str(self.goal(goal))
        if key not in self._last_plans:
            self.plan(goal, sense=False)
        return json.dumps(self._last_plans[key], indent=2)

    def journal(self, goal: str) -> str:
        """Return a goal's run journal: its events as a JSON list."""
        from .executor.journal import read_events
        from .executor.workspace import journal_path

        events = list(read_events(journal_path(self.load(self.goal(goal)))))
        return json.dumps(_secrets()(events), indent=2)

    def project_files(self) -> Iterator[tuple[str, Path]]:
        """Yield ("goal" or "pack", path) for the files of the project's goals."""
        goals = goal_files(goals_folder())
        seen: set[Path] = {Path(os.path.relpath(g, self.root)) for g in goals}
        for goal in goals:
            yield "goal", goal
            try:
                ruleset = self.load(goal)
            except GoapError:
                continue
            for pack in ruleset.packs:
                where = Path(os.path.relpath(pack.path, self.root))
                if where not in seen and where.parts[:1] != ("..",):
                    seen.add(where)
                    yield "pack", where

    # Prompts.

    def add_action(self, description: str, goal: str | None = None) -> str:
        """How to add an action: this project's state and actions, then the loop."""
        from .mcp_prompts import add_action

        with self._engine:
            path = self.goal(goal)
            ruleset = self.load(path)
        text: str = _secrets()(add_action(path, ruleset, description))
        return text

    def why_unreachable(self, goal: str | None = None) -> str:
        """Why the goal has no plan: the result of explain, to reason about."""
        from .mcp_prompts import why_unreachable

        return why_unreachable(self.tool(self.explain)(goal))


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@contextmanager
def _giving(values: dict[str, Any] | None) -> Iterator[None]:
    """Give vars values for one call, over GOAP_VAR_* as ``--var`` does."""
    from .language import var_inputs as given

    items = _assignments(values)
    with given.giving([*given.from_environment(), *given.from_assignments(items)]):
        yield


def _assignments(values: dict[str, Any] | None) -> list[str]:
    """Return ``{name: value}`` as the ``NAME=VALUE`` texts the command line takes."""
    from .mcp_runs import as_text

    if values is not None and not isinstance(values, dict):
        raise InputError("expected a mapping of names to values")
    return [f"{name}={as_text(value)}" for name, value in (values or {}).items()]


def _focus(
    targets: Sequence[str] | None,
    tags: Sequence[str] | None,
    skip_tags: Sequence[str] | None,
) -> Any:
    from .planner.focus import Focus

    return Focus(tuple(targets or ()), tuple(tags or ()), tuple(skip_tags or ()))


TOOLS = (
    "validate",
    "plan",
    "explain",
    "propose",
    "run",
    "run_status",
    "cancel",
    "approve",
    "state_show",
    "state_set",
    "history",
    "builtins",
    "schema",
)
# Cheap and reading only what runs leave: they need not wait for a plan.
UNLOCKED = frozenset({"run_status", "cancel"})


class ProjectServer(MCPServer[Any]):
    """The SDK's server, refusing by name the tools a read-only server leaves out."""

    refused: frozenset[str] = frozenset()

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Any = None
    ) -> Any:
        if name in self.refused:
            raise ToolError(refusal(name))
        return await super().call_tool(name, arguments, context)


def build(project: Project) -> MCPServer[Any]:
    """Return the MCP server of ``project``: its tools, resources and prompts."""
    server = ProjectServer(
        "goap-engine",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )
    if project.read_only:
        server.refused = WRITING
    for name in TOOLS:
        if project.read_only and name in WRITING:
            continue
        server.add_tool(
            project.tool(getattr(project, name), engine=name not in UNLOCKED),
            name=name,
            structured_output=True,
        )
    project.known_secrets()
    for kind, path in project.project_files():
        reader = project.goal_file if kind == "goal" else project.pack_file
        server.add_resource(
            FunctionResource.from_function(
                functools.partial(
                    project.tool(reader, error=ResourceError), path.as_posix()
                ),
                uri=f"goap://{kind}/{path.as_posix()}",
                name=f"{kind} {path.as_posix()}",
                mime_type="application/yaml",
            )
        )
    templates: list[tuple[str, Callable[..., str], str]] = [
        ("goap://goal/{+path}", project.goal_file, "application/yaml"),
        ("goap://pack/{+path}", project.pack_file, "application/yaml"),
        ("goap://plan/{+goal}", project.last_plan, "application/json"),
        ("goap://journal/{+goal}", project.journal, "application/json"),
    ]
    for uri, reader, mime in templates:
        server.resource(uri, mime_type=mime)(project.tool(reader, error=ResourceError))
    server.prompt(name="add_action")(project.add_action)
    server.prompt(name="why_unreachable")(project.why_unreachable)
    return server
