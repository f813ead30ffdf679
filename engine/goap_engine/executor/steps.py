"""One plan's steps: start them (in parallel where the plan allows), run each
hook bounded and streamed, check its effects, and record how it ended.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model import Action, Ruleset
from ..planner.plan import Plan, Step, apply, reference_eval
from ..planner.schedule import dependencies
from ..templates import action_template_reads
from ..values import state_dict
from .approvals import why
from .context import HookContext, HookError, Outcome
from .hooks import (
    callable_spec,
    describe,
    hook_env,
    kill_all,
    prepare,
    run_command,
    template_context,
)
from .journal import Redactor, now
from .output import Output
from .processes import new_marker
from .worker import WorkerPool
from .world import fingerprint_sources, record_facts, remember_facts

if TYPE_CHECKING:
    from .approvals import Approvals

State = tuple[Any, ...]
RETRY_BASE = float(os.environ.get("GOAP_RETRY_BASE", "1.0"))


@dataclass
class StepRecord:
    """One executed (or skipped) step, for the summary."""

    label: str
    status: str
    estimated: float
    actual: float
    message: str = ""


@dataclass
class Progress:
    """Where a plan's execution stands: the state so far, and the first failure."""

    state: State
    ok: bool
    message: str
    stop: bool = False

    def fail(self, message: str) -> None:
        if self.ok:
            self.ok = False
            self.message = message


class StepRunner:
    """The part of a run that executes a plan's steps; the runner derives from it."""

    ruleset: Ruleset
    redact: Redactor
    on_output: Callable[[str, str], None]
    run_id: str
    lineage: str
    jobs: int
    records: list[StepRecord]
    exclusions: dict[State, set[str]]
    not_again: set[str]
    stopping: threading.Event
    pool: WorkerPool
    approvals: Approvals
    last_action: str
    logs: Path
    origins: dict[str, dict[str, Any]]
    reads_cache: dict[str, frozenset[str]]
    started: int
    source_prints: dict[str, dict[str, Any]]
    remote_handles: dict[str, str]
    """Action name -> the remote job an interrupted run left running."""
    given: list[dict[str, Any]]
    """The ``approval_given`` events of the waiting run this one resumes."""
    waiting: dict[str, Any] | None
    """What this run stopped to wait for (the ``approval_pending`` fields)."""
    plan_steps: tuple[Step, ...] = ()

    def event(self, kind: str, **fields: Any) -> None:
        raise NotImplementedError

    def persist(self, state: State, status: str) -> None:
        raise NotImplementedError

    def sense_into(self, state: State, names: set[str] | None) -> State:
        raise NotImplementedError

    def sense_checked(
        self, state: State, names: set[str] | None
    ) -> tuple[State, dict[str, str]]:
        raise NotImplementedError

    def hook_extra(self) -> dict[str, Any]:
        raise NotImplementedError

    def execute(self, plan: Plan, state: State) -> Progress:
        """Run ``plan``'s steps (in parallel where allowed) up to the first failure."""
        deps = dependencies(plan.steps)
        self.plan_steps = plan.steps
        pending = list(zip(plan.steps, deps, strict=True))
        done: set[int] = set()
        progress = Progress(state, True, "")
        running: dict[Future[Outcome], tuple[Step, State, float, Output]] = {}
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
                        running[started[0]] = (step, *started[1:])
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    step, expected, t0, output = running.pop(future)
                    self.finish(step, future.result(), expected, t0, progress, output)
                    done.add(step.number)
                if not progress.ok:
                    pending.clear()
        except BaseException:
            # Ctrl-C, or an error of the engine itself: either way nothing
            # may go on running (the pool would wait for it).
            self.stop_all(list(running))
            for _, (step, _, t0, output) in running.items():
                self.end_interrupted(step.action, t0, output)
            self.persist(progress.state, "interrupted")
            raise
        finally:
            if pool is not None:
                if self.stopping.is_set():
                    # A second Ctrl-C may have cut the handler above short.
                    self.stop_all(list(running))
                pool.shutdown(wait=True)
        return progress

    def wait_here(self, step: Step, progress: Progress) -> bool:
        """Whether ``step`` must wait for an approval; journal it if so.

        An approval given for this very point (same rules, state and plan
        from here) lets the step and the others it named run.
        """
        from .waiting import gate_fingerprint, unapproved

        remaining = [s.action for s in self.plan_steps if s.number >= step.number]
        values = state_dict(self.ruleset, progress.state)
        mark = gate_fingerprint(self.ruleset, values, remaining)
        for given in reversed(self.given):
            if given["fingerprint"] == mark and step.action.name in given["actions"]:
                self.approvals.approved.update(str(a) for a in given["actions"])
                self.event("approval_used", step=step.action.label, by=given.get("by"))
                return False
        missing = unapproved(remaining, self.approvals.approved)
        earlier = [g for g in self.given if step.action.name in g["actions"]]
        self.waiting = {
            "steps": [a.label for a in missing],
            "actions": [a.name for a in missing],
            "fingerprint": mark,
            "plan": [a.label for a in remaining],
        }
        if earlier:
            # Given for another plan: the person approved what they saw.
            self.waiting["outdated"] = {
                "by": earlier[-1].get("by"),
                "ts": earlier[-1].get("ts"),
            }
        self.event("approval_pending", **self.waiting)
        goal = self.approvals.command.split(" ", 3)[2]
        again = ""
        if earlier:
            again = (
                f" (the approval {earlier[-1].get('by')} gave at "
                f"{earlier[-1].get('ts')} was for another plan: the rules or the "
                "sensed state changed since)"
            )
        progress.fail(
            f"waiting for approval: {', '.join(self.waiting['steps'])}{again}; "
            f"approve with 'goap-engine approve {goal}' (all, or name the "
            f"steps), then '{self.approvals.command} --resume'"
        )
        progress.stop = True
        return True

    def stop_all(self, futures: list[Future[Outcome]]) -> None:
        """Kill hooks until every running step has returned; Ctrl-C cannot skip it.

        The stop flag ends every waiting loop within a tenth of a second; the
        kills are for hooks that are being started at this very moment.  The
        pool's threads cannot be abandoned (the interpreter would wait for them).
        """
        self.stopping.set()
        while True:
            try:
                kill_all()
                _, left = wait(futures, timeout=0.1)
                if not left:
                    return
            except KeyboardInterrupt:
                continue

    def end_interrupted(self, action: Action, t0: float, output: Output) -> None:
        output.close()
        self.event(
            "step_end",
            step=action.label,
            status="interrupted",
            seconds=round(time.monotonic() - t0, 3),
            **self.output_fields(output),
        )

    def output_fields(self, output: Output) -> dict[str, Any]:
        if not output.lines:
            return {}
        fields: dict[str, Any] = {"tail": output.tail_text()}
        if output.log_path is not None:
            fields["log"] = str(output.log_path)
        return fields

    def start(
        self, step: Step, progress: Progress, pool: ThreadPoolExecutor | None
    ) -> tuple[Future[Outcome], State, float, Output] | None:
        """Start ``step``; return None when it needs no run (skipped or refused)."""
        action = step.action
        ruleset = self.ruleset
        label = action.label
        # Templates see the world as it is now: what an earlier step changed
        # in a sensed variable is read again before this step renders.
        fresh = self.template_reads(action)
        if fresh:
            progress.state, unread = self.sense_checked(progress.state, set(fresh))
            if unread:
                # Rendering would put a stale or default value into the
                # command: the step does not run, and nor does the rest.
                detail = "; ".join(f"{n}: {reason}" for n, reason in unread.items())
                message = (
                    f"{label} not run: its command reads unknown values ({detail})"
                )
                progress.fail(self.redact(message))
                progress.stop = True
                self.event("step_skipped", step=label, reason=self.redact(message))
                return None
        state = progress.state
        if not all(reference_eval(ruleset, p, state) is True for p in action.pre):
            progress.fail(f"{label}: preconditions no longer hold")
            self.event(
                "step_skipped", step=label, reason="preconditions no longer hold"
            )
            return None
        expected = apply(ruleset, action, state)
        bad = _not_finite(ruleset, action, expected)
        if bad:
            # NaN or an overflow: no state file could record the outcome, so
            # the hook does not run at all.
            value = expected[ruleset.var(bad).index]
            message = (
                f"{label}: the effect on '{bad}' gives {value}, not a finite "
                "number; the step was not run"
            )
            progress.fail(message)
            progress.stop = True
            self.event("step_end", step=label, status="failed", message=message)
            self.records.append(
                StepRecord(label, "failed", action.duration, 0.0, "not finite")
            )
            return None
        if expected == state and action.wait is None:
            self.event("step_skipped", step=label, reason="effects already hold")
            self.records.append(
                StepRecord(label, "skipped", action.duration, 0.0, "already true")
            )
            return None
        unapproved = not self.approvals.allows(action) and (
            action.irreversible or action.approval
        )
        if unapproved and self.approvals.wait and self.wait_here(step, progress):
            return None  # a waiting run stops here; an approval given here runs
        if unapproved and not self.approvals.allows(action):
            # Approvals are settled before a plan runs; this is the last guard.
            message = f"{label} is {why(action)} and was not approved"
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
        self.started += 1
        number = self.started
        output = Output(
            self.redact,
            on_line=lambda line: self.on_output(label, line),
            log_path=self.logs / f"{number:03d}-{_file_name(action.name)}.log",
        )
        # Journalled, so a run resumed after a kill -9 of the engine can end
        # what this step's hook left running.
        marker = new_marker()
        self.event(
            "step_start",
            step=label,
            action=action.name,
            command=command,
            estimated=action.duration,
            marker=marker,
        )
        t0 = time.monotonic()
        future: Future[Outcome] = Future()
        if pool is None:
            try:
                future.set_result(self.perform(action, state, output, marker))
            except KeyboardInterrupt:
                self.stop_all([])
                self.end_interrupted(action, t0, output)
                raise
        else:
            future = pool.submit(self.perform, action, state, output, marker)
        return future, expected, t0, output

    def template_reads(self, action: Action) -> frozenset[str]:
        """Return the sensed variables ``action``'s hook templates read."""
        known = self.reads_cache.get(action.name)
        if known is not None:
            return known
        ruleset = self.ruleset
        reads = frozenset(
            n
            for n in action_template_reads(action)
            if n in ruleset.names and ruleset.var(n).sensor is not None
        )
        # Parsing templates costs more than a step's own bookkeeping.
        self.reads_cache[action.name] = reads
        return reads

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

    def perform(
        self, action: Action, state: State, output: Output, marker: str
    ) -> Outcome:
        """Run ``action``'s hook with retries and backoff; return the last outcome."""
        attempts = action.retries + 1
        outcome = Outcome(False, message="not run")
        try:
            for attempt in range(attempts):
                if attempt:
                    if self.stopping.is_set():
                        break
                    delay = min(RETRY_BASE * 2 ** (attempt - 1), 30.0)
                    self.event(
                        "retry", step=action.label, attempt=attempt + 1, delay=delay
                    )
                    if self.stopping.wait(delay):
                        break
                try:
                    outcome = self.perform_once(action, state, output, marker)
                except Exception as exc:  # noqa: BLE001 - fails the step only
                    # The engine could not run the hook (a full disk, no
                    # process to be had): the step failed, the run goes on.
                    outcome = Outcome(
                        False,
                        message=f"cannot run the hook: {type(exc).__name__}: {exc}",
                    )
                if outcome.ok or outcome.interrupted:
                    break
        finally:
            output.close()
        return outcome

    def perform_once(
        self, action: Action, state: State, output: Output, marker: str
    ) -> Outcome:
        ruleset = self.ruleset
        if action.wait is not None:
            return self.poll(action, state)
        if action.hook is None:
            return Outcome(True)
        values = state_dict(ruleset, state)
        context = template_context(ruleset.vars, values, ruleset.workdir)
        timeout = action.timeout
        if timeout is None:
            timeout = ruleset.policy.hook_timeout
        try:
            cwd = ruleset.workdir
            if action.cwd:
                cwd = cwd / _render_field(action, "cwd", action.cwd, context)
            prepared = prepare(action.hook, context)
            declared = {
                k: _render_field(action, f"env '{k}'", v, context)
                for k, v in action.env.items()
            }
            if isinstance(prepared, str | list) and action.runs_on is not None:
                return self.run_elsewhere(
                    action, prepared, declared, output, timeout, marker
                )
            env = hook_env(declared)
            if isinstance(prepared, str | list):
                return run_command(
                    prepared,
                    cwd=cwd,
                    env=env,
                    timeout=timeout,
                    output=output,
                    stop=self.stopping,
                    marker=marker,
                    alone=self.jobs == 1,
                )
            spec = callable_spec(action.hook.kind, str(action.hook.target))
            return self.pool.call(
                spec,
                HookContext(
                    args=prepared,
                    vars=ruleset.vars,
                    state=values,
                    workdir=cwd,
                    env=env,
                    log=output.line,
                    action=action.name,
                    timeout=timeout,
                    extra=self.hook_extra(),
                    secrets=self.redact.secrets,
                ),
                output=output,
                timeout=timeout,
                stop=self.stopping,
                marker=marker,
                alone=self.jobs == 1,
            )
        except HookError as exc:
            return Outcome(False, message=str(exc))

    def run_elsewhere(
        self,
        action: Action,
        command: str | list[str],
        declared: dict[str, str],
        output: Output,
        timeout: float,
        marker: str,
    ) -> Outcome:
        """Run ``command`` where ``action.runs_on`` says; see ``remote``."""
        from .remote import ExecutorError, JobSpec, gather_inputs, run_remote

        placement = action.runs_on
        assert placement is not None
        workdir = self.ruleset.workdir
        # Only what the step declares goes: its env: and the secrets, never
        # the engine's whole environment (it may hold anything).
        env = {n: os.environ[n] for n in self.ruleset.secrets if n in os.environ}
        env.update(declared)
        env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            files = gather_inputs(workdir, placement.inputs)
        except ExecutorError as exc:
            return Outcome(False, message=str(exc))
        spec = JobSpec(marker, command, env, files, placement.options, timeout, workdir)

        def journalled(handle: str, reconnected: bool) -> None:
            self.event(
                "remote_submitted",
                step=action.label,
                action=action.name,
                executor=placement.executor,
                handle=handle,
                reconnected=reconnected,
            )

        return run_remote(
            placement,
            spec,
            workdir=workdir,
            output=output,
            timeout=timeout,
            stop=self.stopping,
            # Once: a retry after the reconnected job failed submits anew.
            handle=self.remote_handles.pop(action.name, None),
            on_handle=journalled,
        )

    def poll(self, action: Action, state: State) -> Outcome:
        wait_spec = action.wait
        assert wait_spec is not None
        deadline = time.monotonic() + wait_spec.timeout
        began = time.monotonic()
        current = state
        while True:
            current = self.sense_into(current, set(wait_spec.until.reads))
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
                return Outcome(False, message="interrupted", interrupted=True)

    def finish(
        self,
        step: Step,
        outcome: Outcome,
        expected: State,
        t0: float,
        progress: Progress,
        output: Output,
    ) -> None:
        action = step.action
        ruleset = self.ruleset
        label = action.label
        seconds = time.monotonic() - t0
        if outcome.interrupted:
            # Only a stopping run interrupts a hook: record it and stop too.
            self.end_interrupted(action, t0, output)
            raise KeyboardInterrupt
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
                candidate, unread = self.sense_checked(candidate, sensed_names)
                wrong = [
                    f"{n} expected {expected[ruleset.var(n).index]!r}, sensed "
                    f"{candidate[ruleset.var(n).index]!r}"
                    for n in sorted(sensed_names - set(unread))
                    if candidate[ruleset.var(n).index] != expected[ruleset.var(n).index]
                ]
                # A sensor that cannot be read proves nothing: the effect is
                # unverified, which is not success.
                wrong += [
                    f"{n} could not be sensed ({why})" for n, why in unread.items()
                ]
                if wrong:
                    outcome.ok = False
                    message = self.redact("effect did not happen: " + "; ".join(wrong))
                    # A step that failed established nothing: keep only what
                    # the sensors read, not the effects it claimed.
                    read = {ruleset.var(n).index for n in sensed_names - set(unread)}
                    state = tuple(
                        candidate[i] if i in read else value
                        for i, value in enumerate(state)
                    )
            if outcome.ok:
                self.last_action = label
                progress.state = candidate
                record_facts(
                    self.origins,
                    ruleset,
                    action,
                    run_id=self.lineage,
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
                    **self.output_fields(output),
                )
                self.records.append(StepRecord(label, "ok", action.duration, seconds))
                return
        failed = list(state)
        # on_failure says what a failed attempt means for the world; a hook
        # that could not read the world (no verdict) means nothing of it.
        on_failure = action.on_failure if outcome.verdict else ()
        if action.on_failure and not outcome.verdict:
            message += " (no verdict: on_failure not applied)"
        for effect in on_failure:
            failed[ruleset.var(effect.var).index] = reference_eval(
                ruleset, effect.expr, progress.state
            )
        remember_facts(
            self.origins,
            ruleset,
            [e.var for e in on_failure],
            by=f"{label} (on failure)",
            run_id=self.lineage,
            at=now(),
        )
        after = self.sense_into(tuple(failed), None)
        self.last_action = label
        if after == progress.state:
            # Nothing changed, so planning again from here would choose the
            # same action: leave it out while the world stays like this.
            self.exclusions.setdefault(after, set()).add(action.name)
        if action.irreversible and not action.retries:
            # At most once: a failed irreversible step may have done part of
            # its work; only a person (or its own retries:) may try again.
            self.not_again.add(action.name)
        progress.state = after
        progress.fail(f"{label} failed: {message}")
        self.persist(after, "running")
        fields = self.output_fields(output)
        self.event(
            "step_end",
            step=label,
            status="failed",
            seconds=round(seconds, 3),
            exit_code=outcome.exit_code,
            message=message,
            estimated=action.duration,
            **fields,
        )
        self.records.append(
            StepRecord(label, "failed", action.duration, seconds, message)
        )


def _render_field(
    action: Action, field: str, value: str, context: Mapping[str, Any]
) -> str:
    from ..templates import render

    try:
        return render(value, context)
    except ValueError as exc:
        message = f"{action.location}: template error in {field}: {exc}"
        raise HookError(message) from None


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]


def _not_finite(ruleset: Ruleset, action: Action, state: State) -> str:
    """Return the first variable ``action`` sets to NaN or an infinity, or ''."""
    for effect in action.effects:
        value = state[ruleset.var(effect.var).index]
        if isinstance(value, float) and not math.isfinite(value):
            return effect.var
    return ""
