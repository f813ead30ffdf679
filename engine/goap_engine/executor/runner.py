"""The sense-plan-act loop behind ``goap-engine run``.

Sense the world, plan from what is really there, settle the approvals the plan
needs, run its steps, check their effects against the sensors, persist, and
replan when something failed, until the goal holds or the replan budget is
spent.  Every step is journalled before and after it runs and the state file is
rewritten atomically after it, so an interrupted run can be resumed and a crash
loses nothing.  How one step runs lives in ``steps``; approvals in
``approvals``; hook processes in ``processes`` and ``worker``.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from ..errors import (
    ApprovalError,
    Diagnostic,
    InputError,
    NoPlanError,
)
from ..files import project_root
from ..model import DELIVERY_TEXT, Action, Ruleset
from ..planner.plan import Plan, apply, find_plan, reference_eval
from ..planner.relevance import relevant_variables
from ..values import (
    ruleset_fingerprint,
    secret_values,
    shown,
    state_dict,
    with_values,
)
from .approvals import (
    Approvals,
    Interrupted,
    interrupted,
    needs_approval,
    run_command,
)
from .context import HookContext
from .hooks import hook_env
from .journal import Journal, Redactor, last_run, now, read_events
from .output import Output
from .processes import end_marked_everywhere, process_scope
from .remote import remote_handles
from .saved import load_saved_plan, read_plan_file
from .sensing import sense
from .statefile import StateWriter
from .steps import RETRY_BASE, State, StepRecord, StepRunner
from .waiting import granted, pending_of, still_waiting
from .worker import WorkerPool
from .workspace import goal_lock, journal_path, run_dir, state_path, workspace
from .world import (
    SensorFailure,
    Start,
    checked_plan,
    note_sensed,
    start_state,
)

__all__ = [
    "RETRY_BASE",
    "RunOptions",
    "RunResult",
    "RunStatus",
    "Runner",
    "StepRecord",
    "journal_path",
    "last_run",
    "state_path",
    "workspace",
]

TRACK_TIMEOUT = 300.0
TRACK_BOUNDS = {"http_timeout": 10, "retries": 1, "max_wait": 10.0}

RunStatus = Literal["reached", "failed", "needs_approval", "waiting", "planned"]


@dataclass
class RunOptions:
    """How to run: the ``run`` command's options."""

    dry_run: bool = False
    yes: bool = False
    approve: frozenset[str] = frozenset()
    jobs: int | None = None
    resume: bool = False
    fresh: bool = False
    plan_file: Path | None = None
    sets: Mapping[str, Any] = field(default_factory=dict)
    interactive: bool = False
    durable: bool = True
    confirm: Callable[[str], bool] | None = None
    focus: Mapping[str, list[str]] = field(default_factory=dict)
    """The journal fields of ``--target``/``--tag`` (see ``planner.focus``)."""
    focus_arguments: str = ""
    """Those options again, for the commands a message suggests."""
    wait_for_approval: bool = False
    """Stop at a step that needs approval; see ``waiting``."""


@dataclass
class RunResult:
    """How a run ended: its steps with their outcomes, replans and final state."""

    run_id: str
    reached: bool
    state: dict[str, Any]
    subgoals: dict[str, bool]
    steps: list[StepRecord]
    replans: int
    seconds: float
    reason: str = ""
    approval: ApprovalError | None = None
    dry_run: bool = False
    no_plan: bool = False
    """The run stopped because no plan reached the goal."""
    waiting: dict[str, Any] | None = None
    """What the run waits for (the ``approval_pending`` fields), if it does."""

    @property
    def status(self) -> RunStatus:
        """Return how the run ended, as its journal records it.

        ``planned`` is a dry run; ``needs_approval`` ran nothing because a
        step needs an approval nobody gave (``approval`` says which).
        """
        if self.dry_run:
            return "planned"
        if self.approval is not None:
            return "needs_approval"
        if self.waiting is not None and not self.reached:
            return "waiting"
        return "reached" if self.reached else "failed"


class Runner(StepRunner):
    """Run a ruleset's goal against the real world."""

    def __init__(
        self,
        ruleset: Ruleset,
        options: RunOptions,
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        on_output: Callable[[str, str], None] | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.options = options
        self.redact = Redactor.from_env(ruleset.secrets)
        # A secret variable given with --set is hidden from the first event on.
        self.redact.add(*secret_values(ruleset, options.sets))
        self.withheld: set[str] = set()
        self.on_event = on_event
        self.on_output = on_output or (lambda label, line: None)
        self.run_id = uuid.uuid4().hex[:12]
        # The run a resumed run continues: facts held "for this run" hold
        # across its resumptions.
        self.lineage = self.run_id
        self.journal: Journal | None = None
        self.records = []
        self.replans = 0
        self.last_action = ""
        self.started_at = now()
        self.jobs = max(options.jobs or ruleset.policy.jobs, 1)
        self.exclusions = {}
        self.not_again = set()
        # Set on interrupt so hook threads neither retry nor keep polling.
        self.stopping = threading.Event()
        self.pool = WorkerPool()
        self.origins: dict[str, dict[str, Any]] = {}
        self.unknown: dict[str, SensorFailure] = {}
        self.source_prints: dict[str, dict[str, Any]] = {}
        self.remote_handles: dict[str, str] = {}
        self.reads_cache: dict[str, frozenset[str]] = {}
        # Steps started in this run: numbers their logs, unique across replans.
        self.started = 0
        self.logs = run_dir(ruleset, self.run_id)
        # Resolved once: they are needed after every step.
        self.state_file = state_path(ruleset)
        self.writer = StateWriter(ruleset, self.state_file, self.redact)
        self.journal_file = journal_path(ruleset)
        wait = options.wait_for_approval or ruleset.policy.approvals == "wait"
        self.approvals = Approvals(
            command=run_command(ruleset.path) + options.focus_arguments,
            approved=set(options.approve),
            all=options.yes,
            ask=options.confirm if options.interactive and not wait else None,
            wait=wait,
        )
        self.given = []
        self.resumed = None
        self.waiting = None
        self.plan_approved = set()
        self.gates = set()

    def log(self, text: str) -> None:
        self.event("log", message=text)

    def event(self, kind: str, **fields: Any) -> None:
        if self.journal is not None:
            self.journal.write(kind, run=self.run_id, **fields)
        elif self.on_event is not None:
            record = self.redact.data({"ts": now(), "event": kind, "run": self.run_id})
            record.update(self.redact.data(fields))
            self.on_event(record)

    def hook_extra(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "journal": str(self.journal_file),
            "state_file": str(self.state_file),
            "plan": None,
            # Documents a step writes (docs.render) stay inside the project.
            "project": str(project_root(self.ruleset.path)),
            "allow_outside": self.ruleset.policy.allow_outside,
        }

    def run(self) -> RunResult:
        """Run to the goal; raise on bad input, return how the run ended.

        Hooks run in processes of their own (python ones in workers), whose
        output is streamed, never written to this process's stdout: stdout
        carries data only (the JSON Lines of ``--format json``).
        """
        with process_scope():
            try:
                if self.options.dry_run:
                    return self.dry_run()
                with goal_lock(self.ruleset), _sigterm_as_interrupt():
                    journal = Journal(
                        self.journal_file,
                        self.redact,
                        durable=self.options.durable,
                    )
                    if self.on_event is not None:
                        journal.listeners.append(self.on_event)
                    try:
                        return self._run_locked(journal)
                    finally:
                        journal.close()
            finally:
                self.pool.close()

    def _run_locked(self, journal: Journal) -> RunResult:
        if self.options.plan_file is not None:
            read_plan_file(self.ruleset, self.options.plan_file)
        # One read of the journal serves every question about earlier runs.
        # Resuming must know exactly what ran: a line it cannot read stops
        # the run (exit 2, file:line); --fresh ignores earlier runs anyway.
        events = list(read_events(journal.path, strict=not self.options.fresh))
        previous = last_run(events)
        left = interrupted(events, str(previous.get("run"))) if previous else None
        resume_of = None
        if previous is not None and left is not None:
            if self.options.resume:
                resume_of = previous.get("run")
                self.lineage = str(previous.get("lineage") or resume_of)
                self.remote_handles = remote_handles(events, str(resume_of))
                if previous.get("status") == "waiting" or previous.get("wait"):
                    # It goes on as it ran: waiting, never asking (also when
                    # it was killed before it could stop to wait).
                    self.given = granted(events, str(resume_of))
                    self.resumed = pending_of(events, str(resume_of))
                    self.approvals.wait, self.approvals.ask = True, None
                self.check_resume(left, str(resume_of))
            elif previous.get("status") == "waiting" and not self.options.fresh:
                raise InputError(
                    still_waiting(
                        self.ruleset,
                        events,
                        str(previous.get("run")),
                        self.approvals.command,
                    )
                )
            elif not self.options.fresh:
                raise InputError(
                    f"the previous run {previous.get('run')} (started "
                    f"{previous.get('ts')}) was interrupted; continue it with "
                    f"'{self.approvals.command} --resume' or start over with "
                    f"'{self.approvals.command} --fresh'"
                )
        self.journal = journal
        began = time.monotonic()
        self.event(
            "run_start",
            goal=str(self.ruleset.path),
            resume_of=resume_of,
            lineage=self.lineage,
            ruleset=ruleset_fingerprint(self.ruleset),
            jobs=self.jobs,
            **self.options.focus,
            **({"wait": True} if self.approvals.wait else {}),
        )
        if previous is not None and left is not None:
            self.end_leftovers(left, str(previous.get("run")))
        try:
            state = self.initial_state()
            result = self.loop(state, began)
        except KeyboardInterrupt:
            self.event("run_end", status="interrupted")
            raise
        except BaseException as exc:
            self.event("run_end", status="error", message=str(exc))
            raise
        self.event(
            "run_end",
            status=result.status,
            reason=result.reason,
            seconds=round(result.seconds, 3),
            replans=result.replans,
        )
        if self.ruleset.policy.mlflow is not None:
            self.track(result)
        return result

    def end_leftovers(self, left: Interrupted, run: str) -> None:
        """End processes an interrupted run's steps left running.

        A ``kill -9`` of the engine gives it no chance to end its hooks; their
        processes still carry their step's marker, which the journal kept.
        """
        ended = [
            pid for marker in left.markers for pid in end_marked_everywhere(marker)
        ]
        if ended:
            self.event("leftovers_ended", interrupted_run=run, processes=len(ended))

    def check_resume(self, left: Interrupted, run: str) -> None:
        """Refuse to re-run, unasked, an irreversible step that may have happened."""
        risky: list[Action] = []
        for label in left.steps:
            action = next((a for a in self.ruleset.actions if a.label == label), None)
            if action is not None and self.ruleset.delivery(action) == "person":
                risky.append(action)
        risky = [a for a in risky if not self.approvals.allows(a)]
        if not risky:
            return
        listing = ", ".join(a.label for a in risky)
        question = (
            f"the interrupted run {run} stopped while {listing} was running: "
            "irreversible, and no sensor can tell whether it happened"
        )
        if self.approvals.ask is not None:
            if self.approvals.ask(f"{question}. Run it again if needed?"):
                self.approvals.approved.update(a.name for a in risky)
                return
            raise ApprovalError(
                f"{question}; not resumed",
                steps=[a.label for a in risky],
                declined=True,
            )
        effects = " ".join(f"{e.var}=..." for a in risky for e in a.effects)
        keys = ",".join(a.id or a.name for a in risky)
        raise InputError(
            f"{question}. If it happened, record that with 'goap-engine state set "
            f"{self.ruleset.path} {effects}' and run --resume again; to run it "
            f"again, '{self.approvals.command} --resume --approve {keys}' (or --yes)"
        )

    def track(self, result: RunResult) -> None:
        """Log this run to MLflow (``policy.mlflow``); a failure only warns."""
        ruleset = self.ruleset
        ok = sum(1 for s in result.steps if s.status == "ok")
        context = HookContext(
            args={
                # Bounded tighter than a step: it runs after every run.
                **TRACK_BOUNDS,
                **dict(ruleset.policy.mlflow_bounds),
                "tracking_uri": ruleset.policy.mlflow or "",
                "experiment": "goap-engine runs",
                "run_name": f"{ruleset.path.name} {self.run_id}",
                "params": {"goal": str(ruleset.path.name), "jobs": self.jobs},
                "metrics": {
                    "reached": int(result.reached),
                    "steps_ok": ok,
                    "steps_failed": len(result.steps) - ok,
                    "replans": result.replans,
                    "seconds": round(result.seconds, 3),
                },
            },
            vars=ruleset.vars,
            state=result.state,
            workdir=ruleset.workdir,
            env=hook_env({}),
            log=self.log,
            extra=self.hook_extra(),
            secrets=self.redact.secrets,
        )
        outcome = self.pool.call(
            "goap_engine.integrations.mlflow:log_run",
            context,
            output=Output(self.redact, on_line=self.log),
            timeout=TRACK_TIMEOUT,
            stop=self.stopping,
        )
        if outcome.ok:
            self.event("tracked", mlflow_run=str(outcome.value))
        else:
            self.event("track_failed", message=outcome.message)

    def initial_state(self) -> State:
        # Persisted only once a step is about to run: a run that stops before
        # (no plan, an approval missing, a sensor the plan needs) must leave
        # the stored state as it was, even with --fresh.
        return self.start_from(self.lineage)

    def start_from(self, run_id: str | None) -> State:
        """Compute the start state as plan and explain do, and note the unknowns."""
        start = start_state(
            self.ruleset,
            sets=self.options.sets,
            fresh=self.options.fresh,
            run_id=run_id,
            log=self.log,
            redact=self.redact,
            pool=self.pool,
            stop=self.stopping,
        )
        self.origins = dict(start.origins)
        self.unknown = dict(start.failures)
        if start.sensed or start.failures:
            errors = {n: f.reason for n, f in start.failures.items()}
            self.event(
                "sensed", values=shown(self.ruleset, start.sensed), errors=errors
            )
        if start.forgotten:
            self.event("forgotten", facts=dict(start.forgotten))
        return start.state

    def sense_into(self, state: State, names: set[str] | None) -> State:
        return self.sense_checked(state, names)[0]

    def sense_checked(
        self, state: State, names: set[str] | None
    ) -> tuple[State, dict[str, str]]:
        """Read sensors (those of ``names``, or all relevant ones) into ``state``.

        Returns the new state and the sensors that failed; their variables
        become unknown, as at the start of a run.
        """
        if names is None:
            # Sensors nothing relevant reads never run (a missing extra for
            # one must not block the run).
            names = set(relevant_variables(self.ruleset))
        readings = sense(
            self.ruleset,
            state_dict(self.ruleset, state),
            self.log,
            names,
            pool=self.pool,
            stop=self.stopping,
            redact=self.redact,
        )
        if not readings:
            return state, {}
        values = {r.name: r.value for r in readings if r.ok}
        errors = {r.name: self.redact(r.error) for r in readings if not r.ok}
        note_sensed(self.origins, values, now())
        for name in values:
            self.unknown.pop(name, None)
        for name, reason in errors.items():
            sensor = self.ruleset.var(name).sensor
            assert sensor is not None
            self.unknown[name] = SensorFailure(reason, sensor.hook.location)
        self.event("sensed", values=shown(self.ruleset, values), errors=errors)
        return with_values(self.ruleset, state, values), errors

    def persist(self, state: State, status: str) -> None:
        if self.options.dry_run:
            return
        data = {
            "version": 1,
            "goal": str(self.ruleset.path),
            "run": self.run_id,
            "status": status,
            "started_at": self.started_at,
            "updated_at": now(),
            "last_action": self.last_action,
            "state": state_dict(self.ruleset, state),
        }
        for name in self.writer.write(data, self.origins):
            if name not in self.withheld:
                self.withheld.add(name)
                self.event(
                    "warning",
                    message=f"state variable '{name}' holds a secret: not stored "
                    "(a later run starts it from its default or sensor)",
                )

    def goal_holds(self, state: State) -> bool:
        return all(
            reference_eval(self.ruleset, c.expr, state) is True
            for c in self.ruleset.conditions
        )

    def subgoals(self, state: State) -> dict[str, bool]:
        return {
            g.name: all(
                reference_eval(self.ruleset, c.expr, state) is True
                for c in g.conditions
            )
            for g in self.ruleset.subgoals
        }

    def make_plan(self, state: State, saved: bool) -> Plan:
        """Return the plan to run from ``state``; stop if it needs an unknown."""
        start = Start(state, self.origins, {}, self.unknown, {})
        plan, warnings = checked_plan(
            self.ruleset, start, lambda: self._make_plan(state, saved)
        )
        for warning in warnings:
            self.event("warning", message=warning)
        return plan

    def _make_plan(self, state: State, saved: bool) -> Plan:
        if saved and self.options.plan_file is not None:
            return self.saved_plan(state)
        exclude = frozenset(self.exclusions.get(state, ())) | self.not_again
        plan = find_plan(self.ruleset, state, exclude=exclude)
        self.event(
            "plan",
            cost=plan.cost,
            guarantee=plan.guarantee,
            steps=[s.action.label for s in plan.steps],
        )
        return plan

    def saved_plan(self, state: State) -> Plan:
        path = self.options.plan_file
        assert path is not None
        try:
            plan = load_saved_plan(self.ruleset, path, state)
        except InputError as exc:
            # The message shows start values, which a sensor may have read
            # from a secret.
            raise InputError(
                [
                    Diagnostic(d.location, self.redact(d.message), d.entity)
                    for d in exc.diagnostics
                ]
            ) from None
        self.event(
            "plan",
            cost=plan.cost,
            steps=[s.action.label for s in plan.steps],
            saved=str(path),
        )
        return plan

    def loop(self, state: State, began: float) -> RunResult:
        max_replans = self.ruleset.policy.max_replans
        first = True
        reason = ""
        approval: ApprovalError | None = None
        no_plan = False
        while True:
            if self.goal_holds(state):
                break
            try:
                plan = self.make_plan(state, saved=first)
            except NoPlanError as exc:
                reason = f"no plan: {exc}"
                if self.not_again:
                    reason += (
                        f" (failed irreversible steps are not run again in the "
                        f"same run: {', '.join(sorted(self.not_again))})"
                    )
                self.event(
                    "no_plan", message=str(exc), explanation=exc.explanation.lines
                )
                no_plan = True
                break
            try:
                self.approvals.settle(
                    [s.action for s in plan.steps],
                    first=not any(r.status != "skipped" for r in self.records),
                )
            except ApprovalError as exc:
                approval = exc
                reason = str(exc)
                self.event("needs_approval", steps=exc.steps, message=reason)
                break
            if first:
                self.persist(state, "running")
            first = False
            failed = self.execute(plan, state)
            state = failed.state
            if failed.ok:
                continue
            if failed.stop:
                reason = failed.message
                break
            if self.replans >= max_replans:
                reason = f"gave up after {max_replans} replans: {failed.message}"
                break
            self.replans += 1
            self.event("replan", number=self.replans, reason=failed.message)
        reached = self.goal_holds(state)
        if not first or reached:
            status = "reached" if reached else "failed"
            self.persist(state, "waiting" if self.waiting and not reached else status)
        return RunResult(
            run_id=self.run_id,
            reached=reached,
            state=state_dict(self.ruleset, state),
            subgoals=self.subgoals(state),
            steps=self.records,
            replans=self.replans,
            seconds=time.monotonic() - began,
            reason=self.redact(reason),
            approval=approval,
            no_plan=no_plan,
            waiting=self.waiting,
        )

    def dry_run(self) -> RunResult:
        ruleset = self.ruleset
        began = time.monotonic()
        if self.options.plan_file is not None:
            read_plan_file(ruleset, self.options.plan_file)
        # No run id: facts held for one run are forgotten, as the real run will.
        state = self.start_from(None)
        plan = self.make_plan(state, saved=True)
        current = state
        for step in plan.steps:
            action = step.action
            self.event(
                "dry_run_step",
                step=action.label,
                command=self.command_text(action, current),
                irreversible=action.irreversible,
                approval=needs_approval(action),
                approved=self.approvals.allows(action),
                on_interrupt=DELIVERY_TEXT[ruleset.delivery(action)],
            )
            self.records.append(
                StepRecord(action.label, "planned", action.duration, 0.0)
            )
            current = apply(ruleset, action, current)
        return RunResult(
            self.run_id,
            self.goal_holds(state),
            state_dict(ruleset, state),
            self.subgoals(state),
            self.records,
            0,
            time.monotonic() - began,
            dry_run=True,
        )


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C so the run stops cleanly and records it."""
    if sys.platform == "win32" or not _main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
