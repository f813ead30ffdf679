"""The approval gate of a waiting run: where a plan stops, and what it waits for.

A mixin of the step runner (see ``steps``): ``wait_here`` decides, at each
step that needs an approval, whether an approval given for this very plan
lets it run; ``note_waiting`` journals what the run waits for once the steps
that could run have ended.  What an approval is bound to lives in
``waiting``.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from ..errors import display_path
from ..model import Ruleset
from ..values import fingerprint, ruleset_fingerprint, state_dict

if TYPE_CHECKING:
    from ..planner.plan import Step
    from .approvals import Approvals
    from .steps import Progress
    from .waiting import Pending

State = tuple[Any, ...]


class ApprovalGate:
    """Stop a plan at a step nobody approved; journal what the run waits for."""

    ruleset: Ruleset
    approvals: Approvals
    given: list[dict[str, Any]]
    """The ``approval_given`` events of the waiting run this one resumes."""
    resumed: Pending | None
    """What the waiting run this one resumes waited for."""
    waiting: dict[str, Any] | None
    """What this run stopped to wait for (the ``approval_pending`` fields)."""
    plan_steps: tuple[Step, ...] = ()
    plan_start: State = ()
    """The state the current plan started from."""
    plan_approved: set[str]
    """Actions an approval given for the current plan (and it only) allows."""
    gates: set[int]
    """Numbers of the current plan's steps that stopped it to wait."""

    def event(self, kind: str, **fields: Any) -> None:
        raise NotImplementedError

    def wait_here(self, step: Step, progress: Progress) -> bool:
        """Whether ``step`` must wait for an approval; stop the plan if so.

        An approval given for this plan (the same rules, the same state where
        it starts, the same steps) lets the steps it named run.  Anything
        else holds the step: the steps that depend on it never start, the
        others run, and ``note_waiting`` then journals what the run waits for.
        """
        from .waiting import gate_fingerprint

        if step.action.name in self.plan_approved:
            return False
        mark = gate_fingerprint(
            self.ruleset,
            state_dict(self.ruleset, self.plan_start),
            [s.action for s in self.plan_steps],
        )
        planned = {s.action.name for s in self.plan_steps}
        for given in reversed(self.given):
            if given["fingerprint"] == mark and step.action.name in given["actions"]:
                # Only for this plan: a replan is a plan nobody saw.
                self.plan_approved = {a for a in given["actions"] if a in planned}
                self.event("approval_used", step=step.action.label, by=given.get("by"))
                return False
        self.gates.add(step.number)
        return True

    def note_waiting(self, progress: Progress, done: set[int]) -> None:
        """Journal what the stopped plan waits for, as it stands now.

        Taken once every step that could run has ended: the fingerprint is
        of the state the run stops in and the steps left, which is where
        ``--resume`` plans from.
        """
        from .waiting import gate_fingerprint, unapproved, what_changed

        left = [
            s.action
            for s in self.plan_steps
            if s.number not in done or s.number in self.gates
        ]
        values = state_dict(self.ruleset, progress.state)
        parts = {
            "rules": ruleset_fingerprint(self.ruleset),
            "state": fingerprint(values),
        }
        missing = unapproved(left, self.approvals.approved)
        earlier = [
            g for g in self.given if any(a.name in g["actions"] for a in missing)
        ]
        self.waiting = {
            "steps": [a.label for a in missing],
            "actions": [a.name for a in missing],
            "fingerprint": gate_fingerprint(self.ruleset, values, left),
            "plan": [a.label for a in left],
            **parts,
            # With this run's --var and --target: 'approve' shows it as is.
            "resume": f"{self.approvals.command} --resume",
        }
        again = ""
        if earlier:
            # Given for another plan: the person approved what they saw.
            self.waiting["outdated"] = {
                "by": earlier[-1].get("by"),
                "ts": earlier[-1].get("ts"),
            }
            again = (
                f" (the approval {earlier[-1].get('by')} gave at "
                f"{earlier[-1].get('ts')} was for another plan: "
                f"{what_changed(self.resumed, parts, self.waiting['plan'])})"
            )
        self.event("approval_pending", **self.waiting)
        # Quoted as a shell reads it: a goal's path may hold spaces.
        goal = shlex.quote(display_path(self.ruleset.path))
        progress.fail(
            f"waiting for approval: {', '.join(self.waiting['steps'])}{again}; "
            f"approve with 'goap-engine approve {goal}' (all, or name the "
            f"steps), then '{self.waiting['resume']}'"
        )
        progress.stop = True
