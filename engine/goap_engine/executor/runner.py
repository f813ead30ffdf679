"""The sense-plan-act loop behind ``goap-engine run``.

Sense the world, plan from what is really there, run the next steps, check
their effects against the sensors, persist, and replan when something failed,
until the goal holds or the replan budget is spent.  Every step is journalled
before and after it runs and the state file is rewritten atomically after it,
so an interrupted run can be resumed and a crash loses nothing.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from ..errors import ExecutionError, InputError, NoPlanError
from ..model import Action, Ruleset
from ..planner.plan import Plan, apply, find_plan, reference_eval, step_cost
from ..planner.schedule import dependencies
from ..planner.task import relevant_variables
from ..store import atomic_write
from ..values import fingerprint, ruleset_fingerprint, state_dict, with_values
from .hooks import (
    HookContext,
    HookError,
    Outcome,
    call_python,
    describe,
    hook_env,
    prepare,
    resolve_callable,
    run_command,
    template_context,
)
from .journal import Journal, Redactor, now, read_events
from .lock import WorkspaceLock
from .sensing import sense
from .world import (
    SensorFailure,
    Start,
    check_unknowns,
    fingerprint_sources,
    note_sensed,
    record_facts,
    start_state,
)

State = tuple[Any, ...]
RETRY_BASE = float(os.environ.get("GOAP_RETRY_BASE", "1.0"))


@dataclass
class RunOptions:
    """How to run: the ``run`` command's options."""

    dry_run: bool = False
    yes: bool = False
    jobs: int | None = None
    resume: bool = False
    fresh: bool = False
    plan_file: Path | None = None
    sets: Mapping[str, Any] = field(default_factory=dict)
    interactive: bool = False
    durable: bool = True
    confirm: Callable[[str], bool] | None = None


@dataclass
class StepRecord:
    """One executed (or skipped) step, for the summary."""

    label: str
    status: str
    estimated: float
    actual: float
    message: str = ""


@dataclass
class RunResult:
    """How a run ended."""

    run_id: str
    reached: bool
    state: dict[str, Any]
    subgoals: dict[str, bool]
    steps: list[StepRecord]
    replans: int
    seconds: float
    reason: str = ""


def workspace(ruleset: Ruleset) -> Path:
    """Return the folder holding the journal and lock of ``ruleset``'s runs."""
    return ruleset.workdir / ".goap"


def state_path(ruleset: Ruleset) -> Path:
    """Return where ``ruleset``'s state is persisted."""
    return ruleset.state_file or workspace(ruleset) / "state.json"


def journal_path(ruleset: Ruleset) -> Path:
    return workspace(ruleset) / "journal.jsonl"


def last_run(path: Path) -> dict[str, Any] | None:
    """Return the latest run's start event, with ``finished`` telling if it ended.

    A run stopped by Ctrl-C or SIGTERM records its end but is as unfinished
    as one killed outright: both leave work to resume.
    """
    current: dict[str, Any] | None = None
    for event in read_events(path):
        kind = event.get("event")
        if kind == "run_start":
            current = dict(event, finished=False)
        elif (
            kind == "run_end"
            and current is not None
            and event.get("run") == current.get("run")
        ):
            current["finished"] = event.get("status") != "interrupted"
            current["status"] = event.get("status")
    return current


class Runner:
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
        self.on_event = on_event
        self.on_output = on_output or (lambda label, text: None)
        self.run_id = uuid.uuid4().hex[:12]
        self.journal: Journal | None = None
        self.records: list[StepRecord] = []
        self.replans = 0
        self.last_action = ""
        self.started_at = now()
        self.jobs = max(options.jobs or ruleset.policy.jobs, 1)
        self.exclusions: dict[State, set[str]] = {}
        # Set on interrupt so hook threads neither retry nor keep polling.
        self.stopping = threading.Event()
        self.origins: dict[str, dict[str, Any]] = {}
        self.unknown: dict[str, SensorFailure] = {}
        self.source_prints: dict[str, dict[str, Any]] = {}

    def log(self, text: str) -> None:
        self.event("log", message=text)

    def event(self, kind: str, **fields: Any) -> None:
        if self.journal is not None:
            self.journal.write(kind, run=self.run_id, **fields)
        elif self.on_event is not None:
            record = self.redact.data({"ts": now(), "event": kind, "run": self.run_id})
            record.update(self.redact.data(fields))
            self.on_event(record)

    def run(self) -> RunResult:
        """Run to the goal; raise on bad input, return how the run ended.

        Python hooks and sensors that print write to stderr during the run:
        stdout carries data only (the JSON Lines of ``--format json``).
        """
        with redirect_stdout(sys.stderr):
            if self.options.dry_run:
                return self.dry_run()
            lock = WorkspaceLock(workspace(self.ruleset) / "lock")
            with lock, _sigterm_as_interrupt():
                journal = Journal(
                    journal_path(self.ruleset),
                    self.redact,
                    durable=self.options.durable,
                )
                if self.on_event is not None:
                    journal.listeners.append(self.on_event)
                try:
                    return self._run_locked(journal)
                finally:
                    journal.close()

    def _run_locked(self, journal: Journal) -> RunResult:
        previous = last_run(journal.path)
        resume_of = None
        if previous is not None and not previous["finished"]:
            if self.options.resume:
                resume_of = previous.get("run")
            elif not self.options.fresh:
                raise InputError(
                    f"the previous run {previous.get('run')} (started "
                    f"{previous.get('ts')}) was interrupted; continue it with "
                    "'run --resume' or start over with 'run --fresh'"
                )
        self.journal = journal
        began = time.monotonic()
        self.event(
            "run_start",
            goal=str(self.ruleset.path),
            resume_of=resume_of,
            ruleset=ruleset_fingerprint(self.ruleset),
            jobs=self.jobs,
        )
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
            status="reached" if result.reached else "failed",
            reason=result.reason,
            seconds=round(result.seconds, 3),
            replans=result.replans,
        )
        if self.ruleset.policy.mlflow is not None:
            self.track(result)
        return result

    def track(self, result: RunResult) -> None:
        """Log this run to MLflow (``policy.mlflow``); a failure only warns."""
        from ..integrations.mlflow import log_run

        ruleset = self.ruleset
        ok = sum(1 for s in result.steps if s.status == "ok")
        context = HookContext(
            args={
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
            extra={
                "run": self.run_id,
                "journal": str(journal_path(ruleset)),
                "state_file": str(state_path(ruleset)),
            },
        )
        outcome = call_python(log_run, context)
        if outcome.ok:
            self.event("tracked", mlflow_run=str(outcome.value))
        else:
            self.event("track_failed", message=outcome.message)

    def initial_state(self) -> State:
        state = self.start_from(self.run_id)
        self.persist(state, "running")
        return state

    def start_from(self, run_id: str | None) -> State:
        """Compute the start state as plan and explain do, and note the unknowns."""
        start = start_state(
            self.ruleset,
            sets=self.options.sets,
            fresh=self.options.fresh,
            run_id=run_id,
            log=self.log,
            redact=self.redact,
        )
        self.origins = dict(start.origins)
        self.unknown = dict(start.failures)
        if start.sensed or start.failures:
            errors = {n: f.reason for n, f in start.failures.items()}
            self.event("sensed", values=dict(start.sensed), errors=errors)
        if start.forgotten:
            self.event("forgotten", facts=dict(start.forgotten))
        return start.state

    def sense_into(
        self, state: State, names: set[str] | None, *, strict: bool
    ) -> State:
        if names is None:
            # Sensors nothing relevant reads never run (a missing extra for
            # one must not block the run).
            names = set(relevant_variables(self.ruleset))
        readings = sense(self.ruleset, state_dict(self.ruleset, state), self.log, names)
        if not readings:
            return state
        values = {r.name: r.value for r in readings if r.ok}
        errors = {r.name: r.error for r in readings if not r.ok}
        note_sensed(self.origins, values, now())
        for name in values:
            self.unknown.pop(name, None)
        self.event("sensed", values=values, errors=errors)
        if errors and strict:
            # The message reaches the terminal unredacted, and a sensor's
            # output may hold a secret.
            detail = self.redact("; ".join(f"{k}: {v}" for k, v in errors.items()))
            raise ExecutionError(f"cannot sense the world: {detail}")
        return with_values(self.ruleset, state, values)

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
            "origins": self.origins,
        }
        text = json.dumps(self.redact.data(data), indent=2, default=str) + "\n"
        atomic_write(state_path(self.ruleset), text)

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
        try:
            plan = self._make_plan(state, saved)
        except NoPlanError:
            # The unknown value may be what makes the goal look unreachable.
            self.check_unknowns(state, None)
            raise
        self.check_unknowns(state, [s.action for s in plan.steps])
        return plan

    def check_unknowns(self, state: State, steps: list[Action] | None) -> None:
        """Stop before acting if the plan or the goal reads an unknown value."""
        if not self.unknown:
            return
        start = Start(state, self.origins, {}, self.unknown, {})
        for warning in check_unknowns(self.ruleset, start, steps):
            self.log(warning)

    def _make_plan(self, state: State, saved: bool) -> Plan:
        if saved and self.options.plan_file is not None:
            return self.saved_plan(state)
        plan = find_plan(
            self.ruleset, state, exclude=frozenset(self.exclusions.get(state, ()))
        )
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
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read the saved plan: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != "goap-engine/plan":
            raise InputError(f"{path}: not a goap-engine plan file")
        try:
            return self._saved_plan(path, data, state)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # A hand-edited or truncated file: bad input, not an engine bug.
            raise InputError(
                f"{path}: malformed plan file ({type(exc).__name__}: {exc})"
            ) from None

    def _saved_plan(self, path: Path, data: dict[str, Any], state: State) -> Plan:
        prints = data.get("fingerprint", {})
        if prints.get("ruleset") != ruleset_fingerprint(self.ruleset):
            raise InputError(
                f"{path}: the rules changed since this plan was made; plan again"
            )
        start = state_dict(self.ruleset, state)
        if prints.get("start") != fingerprint(start):
            changed = [k for k, v in data.get("start", {}).items() if start.get(k) != v]
            raise InputError(
                f"{path}: the sensed start state differs from the plan's "
                f"({', '.join(changed) or 'values'} changed); plan again"
            )
        from ..planner.plan import Step, guarantee_of

        steps = []
        state_now = state
        for i, item in enumerate(data.get("steps", []), 1):
            action = self.ruleset.action(str(item["action"]))
            steps.append(Step(i, action, step_cost(action, state_now, self.ruleset)))
            state_now = apply(self.ruleset, action, state_now)
        kind, bound = guarantee_of(data["search"], data["heuristic"], 2.0)
        self.event(
            "plan",
            cost=data["cost"],
            steps=[s.action.label for s in steps],
            saved=str(path),
        )
        return Plan(
            self.ruleset,
            state,
            tuple(steps),
            float(data["cost"]),
            kind,
            bound,
            data["search"],
            data["heuristic"],
            0,
            0,
            0.0,
            len(steps),
            0,
        )

    def loop(self, state: State, began: float) -> RunResult:
        max_replans = self.ruleset.policy.max_replans
        first = True
        reason = ""
        while True:
            if self.goal_holds(state):
                break
            try:
                plan = self.make_plan(state, saved=first)
            except NoPlanError as exc:
                reason = f"no plan: {exc}"
                self.event(
                    "no_plan", message=str(exc), explanation=exc.explanation.lines
                )
                break
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
        self.persist(state, "reached" if reached else "failed")
        return RunResult(
            run_id=self.run_id,
            reached=reached,
            state=state_dict(self.ruleset, state),
            subgoals=self.subgoals(state),
            steps=self.records,
            replans=self.replans,
            seconds=time.monotonic() - began,
            reason=self.redact(reason),
        )

    def execute(self, plan: Plan, state: State) -> _Progress:
        """Run ``plan``'s steps (in parallel where allowed) up to the first failure."""
        deps = dependencies(plan.steps)
        pending = list(zip(plan.steps, deps, strict=True))
        done: set[int] = set()
        progress = _Progress(state, True, "")
        running: dict[Future[Outcome], tuple[Any, State, float]] = {}
        pool = ThreadPoolExecutor(max_workers=self.jobs) if self.jobs > 1 else None
        try:
            while pending or running:
                if progress.ok:
                    for item in list(pending):
                        if len(running) >= self.jobs:
                            break
                        step, before = item
                        if any(d not in done for d in before):
                            continue
                        pending.remove(item)
                        started = self.start(step, progress, pool)
                        if started is None:
                            done.add(step.number)
                            if not progress.ok:
                                break
                            continue
                        running[started[0]] = (step, started[1], started[2])
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    step, expected, t0 = running.pop(future)
                    self.finish(step, future.result(), expected, t0, progress)
                    done.add(step.number)
                if not progress.ok:
                    pending.clear()
        except KeyboardInterrupt:
            self._stop_workers(list(running))
            for _, (step, _, t0) in running.items():
                self.event(
                    "step_end",
                    step=step.action.label,
                    status="interrupted",
                    seconds=round(time.monotonic() - t0, 3),
                )
            self.persist(progress.state, "interrupted")
            raise
        finally:
            if pool is not None:
                if self.stopping.is_set():
                    # A second Ctrl-C may have cut the handler above short.
                    self._stop_workers(list(running))
                pool.shutdown(wait=True)
        return progress

    def _stop_workers(self, futures: list[Future[Outcome]]) -> None:
        """Kill hooks until every running step has returned; Ctrl-C cannot skip it.

        A worker may be starting a process at the moment of the interrupt, so
        kill again until all are back: no hook may outlive the run, and the
        pool's threads cannot be abandoned (the interpreter would wait for them).
        """
        from .hooks import kill_all

        self.stopping.set()
        while True:
            try:
                kill_all()
                _, left = wait(futures, timeout=0.1)
                if not left:
                    return
            except KeyboardInterrupt:
                continue

    def start(
        self, step: Any, progress: _Progress, pool: ThreadPoolExecutor | None
    ) -> tuple[Future[Outcome], State, float] | None:
        """Start ``step``; return None when it needs no run (skipped or refused)."""
        action: Action = step.action
        state = progress.state
        ruleset = self.ruleset
        label = action.label
        if not all(reference_eval(ruleset, p, state) is True for p in action.pre):
            progress.fail(f"{label}: preconditions no longer hold")
            self.event(
                "step_skipped", step=label, reason="preconditions no longer hold"
            )
            return None
        expected = apply(ruleset, action, state)
        if expected == state and action.wait is None:
            self.event("step_skipped", step=label, reason="effects already hold")
            self.records.append(
                StepRecord(label, "skipped", action.duration, 0.0, "already true")
            )
            return None
        if (action.irreversible or action.approval) and not self.approve(action):
            # Not an exception: steps already running in parallel must still
            # be finished and recorded; the loop then stops without replanning.
            why = "irreversible" if action.irreversible else "marked for approval"
            message = (
                f"{label} is {why} and was not approved; "
                "run on a terminal to confirm, or pass --yes"
            )
            progress.fail(message)
            progress.stop = True
            self.event("step_end", step=label, status="refused", message=message)
            self.records.append(
                StepRecord(label, "refused", action.duration, 0.0, "not approved")
            )
            return None
        command = self.command_text(action, state)
        if action.sources:
            # Taken before the hook runs: a change made while it runs is a
            # change after the facts it establishes.
            self.source_prints[action.name] = fingerprint_sources(
                ruleset.workdir, action.sources
            )
        self.event("step_start", step=label, action=action.name, command=command)
        t0 = time.monotonic()
        future: Future[Outcome] = Future()
        if pool is None:
            try:
                future.set_result(self.perform(action, state))
            except KeyboardInterrupt:
                self.event(
                    "step_end",
                    step=label,
                    status="interrupted",
                    seconds=round(time.monotonic() - t0, 3),
                )
                raise
        else:
            future = pool.submit(self.perform, action, state)
        return future, expected, t0

    def approve(self, action: Action) -> bool:
        if self.options.yes:
            return True
        if self.options.interactive and self.options.confirm is not None:
            why = "irreversible" if action.irreversible else "needs approval"
            return self.options.confirm(f"{action.label} is {why}. Run it?")
        return False

    def command_text(self, action: Action, state: State) -> str:
        if action.wait is not None:
            return f"wait until {action.wait.until.source}"
        if action.hook is None:
            return "(no hook: state change only)"
        context = template_context(
            self.ruleset.vars, state_dict(self.ruleset, state), self.ruleset.workdir
        )
        try:
            return describe(action.hook, prepare(action.hook, context))
        except HookError as exc:
            return f"(cannot render: {exc})"

    def perform(self, action: Action, state: State) -> Outcome:
        """Run ``action``'s hook with retries and backoff; return the last outcome."""
        attempts = action.retries + 1
        outcome = Outcome(False, message="not run")
        for attempt in range(attempts):
            if attempt:
                if self.stopping.is_set():
                    break
                delay = min(RETRY_BASE * 2 ** (attempt - 1), 30.0)
                self.event("retry", step=action.label, attempt=attempt + 1, delay=delay)
                if self.stopping.wait(delay):
                    break
            outcome = self.perform_once(action, state)
            if outcome.ok:
                break
        return outcome

    def perform_once(self, action: Action, state: State) -> Outcome:
        ruleset = self.ruleset
        if action.wait is not None:
            return self.poll(action, state)
        if action.hook is None:
            return Outcome(True)
        values = state_dict(ruleset, state)
        context = template_context(ruleset.vars, values, ruleset.workdir)
        cwd = ruleset.workdir / action.cwd if action.cwd else ruleset.workdir
        try:
            prepared = prepare(action.hook, context)
            env = hook_env({k: _render_env(v, context) for k, v in action.env.items()})
            if isinstance(prepared, str | list):
                outcome = run_command(
                    prepared, cwd=cwd, env=env, timeout=action.timeout
                )
            else:
                fn = resolve_callable(action.hook.kind, str(action.hook.target))
                outcome = call_python(
                    fn,
                    HookContext(
                        args=prepared,
                        vars=ruleset.vars,
                        state=values,
                        workdir=cwd,
                        env=env,
                        log=lambda line: self.on_output(
                            action.label, self.redact(line + "\n")
                        ),
                        action=action.name,
                        timeout=action.timeout,
                        extra={
                            "run": self.run_id,
                            "journal": str(journal_path(ruleset)),
                            "state_file": str(state_path(ruleset)),
                            "plan": None,
                        },
                    ),
                )
        except HookError as exc:
            return Outcome(False, message=str(exc))
        if outcome.output:
            self.on_output(action.label, self.redact(outcome.output))
        return outcome

    def poll(self, action: Action, state: State) -> Outcome:
        wait_spec = action.wait
        assert wait_spec is not None
        deadline = time.monotonic() + wait_spec.timeout
        began = time.monotonic()
        current = state
        while True:
            current = self.sense_into(current, set(wait_spec.until.reads), strict=False)
            if reference_eval(self.ruleset, wait_spec.until, current) is True:
                return Outcome(True, seconds=time.monotonic() - began)
            if time.monotonic() >= deadline:
                return Outcome(
                    False,
                    message=f"'{wait_spec.until.source}' still false after "
                    f"{wait_spec.timeout:g} s",
                    seconds=time.monotonic() - began,
                    timed_out=True,
                )
            pause = min(wait_spec.interval, max(deadline - time.monotonic(), 0))
            if self.stopping.wait(pause):
                return Outcome(False, message="interrupted")

    def finish(
        self,
        step: Any,
        outcome: Outcome,
        expected: State,
        t0: float,
        progress: _Progress,
    ) -> None:
        action: Action = step.action
        ruleset = self.ruleset
        label = action.label
        seconds = time.monotonic() - t0
        # Messages end up in the summary, which is printed, not journalled.
        message = self.redact(outcome.message)
        state = progress.state
        if outcome.ok:
            # Apply only this step's writes, so parallel steps compose.
            new = list(state)
            for name in action.writes:
                index = ruleset.var(name).index
                new[index] = expected[index]
            candidate = tuple(new)
            sensed_names = {
                n for n in action.writes if ruleset.var(n).sensor is not None
            }
            if sensed_names:
                candidate = self.sense_into(candidate, sensed_names, strict=False)
                wrong = [
                    f"{n} expected {expected[ruleset.var(n).index]!r}, sensed "
                    f"{candidate[ruleset.var(n).index]!r}"
                    for n in sorted(sensed_names)
                    if candidate[ruleset.var(n).index] != expected[ruleset.var(n).index]
                ]
                if wrong:
                    outcome.ok = False
                    message = self.redact("effect did not happen: " + "; ".join(wrong))
                    state = candidate
            if outcome.ok:
                self.last_action = label
                progress.state = candidate
                record_facts(
                    self.origins,
                    ruleset,
                    action,
                    run_id=self.run_id,
                    fingerprint=self.source_prints.pop(action.name, None),
                    at=now(),
                )
                self.persist(candidate, "running")
                self.event(
                    "step_end",
                    step=label,
                    status="ok",
                    seconds=round(seconds, 3),
                    exit_code=outcome.exit_code,
                    estimated=action.duration,
                )
                self.records.append(StepRecord(label, "ok", action.duration, seconds))
                return
        failed = list(state)
        for effect in action.on_failure:
            failed[ruleset.var(effect.var).index] = reference_eval(
                ruleset, effect.expr, progress.state
            )
        after = self.sense_into(tuple(failed), None, strict=False)
        self.last_action = label
        if after == progress.state:
            # Nothing changed, so planning again from here would choose the
            # same action: leave it out while the world stays like this.
            self.exclusions.setdefault(after, set()).add(action.name)
        progress.state = after
        progress.fail(f"{label} failed: {message}")
        self.persist(after, "running")
        self.event(
            "step_end",
            step=label,
            status="failed",
            seconds=round(seconds, 3),
            exit_code=outcome.exit_code,
            message=message,
            estimated=action.duration,
        )
        self.records.append(
            StepRecord(label, "failed", action.duration, seconds, message)
        )

    def dry_run(self) -> RunResult:
        ruleset = self.ruleset
        began = time.monotonic()
        # No run id: facts held for one run are forgotten, as the real run will.
        state = self.start_from(None)
        plan = self.make_plan(state, saved=True)
        current = state
        for step in plan.steps:
            self.event(
                "dry_run_step",
                step=step.action.label,
                command=self.command_text(step.action, current),
                irreversible=step.action.irreversible,
            )
            self.records.append(
                StepRecord(step.action.label, "planned", step.action.duration, 0.0)
            )
            current = apply(ruleset, step.action, current)
        return RunResult(
            self.run_id,
            self.goal_holds(state),
            state_dict(ruleset, state),
            self.subgoals(state),
            self.records,
            0,
            time.monotonic() - began,
        )


@dataclass
class _Progress:
    state: State
    ok: bool
    message: str
    stop: bool = False

    def fail(self, message: str) -> None:
        if self.ok:
            self.ok = False
            self.message = message


def _render_env(value: str, context: Mapping[str, Any]) -> str:
    from ..templates import render

    try:
        return render(value, context)
    except ValueError as exc:
        raise HookError(f"env template error: {exc}") from None


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
    import threading

    return threading.current_thread() is threading.main_thread()
