"""Derive the partial order of a plan, its parallel phases and its timeline.

Step *j* depends on an earlier step *i* when *i* writes something *j* reads,
when both write the same variable, or when *j* overwrites something *i* read;
any order that respects these dependencies gives the same final state.
"""

from __future__ import annotations

from dataclasses import dataclass

from .plan import Plan, Step


@dataclass(frozen=True)
class Slot:
    """A step with its dependencies, phase and estimated start/finish (seconds)."""

    step: Step
    depends: tuple[int, ...]
    phase: int
    start: float
    finish: float
    critical: bool


@dataclass(frozen=True)
class Schedule:
    """The plan as phases, with sequential and parallel duration estimates."""

    slots: tuple[Slot, ...]
    sequential: float
    parallel: float
    critical_path: tuple[int, ...]

    @property
    def phases(self) -> list[list[Slot]]:
        count = max((s.phase for s in self.slots), default=0)
        return [[s for s in self.slots if s.phase == p] for p in range(1, count + 1)]

    def makespan(self, jobs: int) -> float:
        """Return the estimated duration when at most ``jobs`` steps run at once."""
        workers = [0.0] * max(jobs, 1)
        finish: dict[int, float] = {}
        for slot in self.slots:
            ready = max((finish[d] for d in slot.depends), default=0.0)
            workers.sort()
            begin = max(ready, workers[0])
            workers[0] = begin + slot.step.action.duration
            finish[slot.step.number] = workers[0]
        return max(finish.values(), default=0.0)


def _touches(step: Step) -> tuple[frozenset[str], frozenset[str]]:
    action = step.action
    reads = set(action.reads)
    for effect in action.effects:
        reads |= effect.expr.reads
    if action.cost is not None:
        reads |= action.cost.reads
    return frozenset(reads), action.writes


def dependencies(steps: tuple[Step, ...]) -> list[tuple[int, ...]]:
    """Return, for each step, the numbers of the earlier steps it must follow."""
    touched = [_touches(s) for s in steps]
    result = []
    for j, (reads_j, writes_j) in enumerate(touched):
        deps = []
        for i in range(j):
            reads_i, writes_i = touched[i]
            if writes_i & reads_j or writes_i & writes_j or reads_i & writes_j:
                deps.append(steps[i].number)
        result.append(tuple(deps))
    return result


def schedule(plan: Plan) -> Schedule:
    """Return the schedule of ``plan``."""
    steps = plan.steps
    deps = dependencies(steps)
    phase: dict[int, int] = {}
    start: dict[int, float] = {}
    finish: dict[int, float] = {}
    for step, before in zip(steps, deps, strict=True):
        phase[step.number] = 1 + max((phase[d] for d in before), default=0)
        start[step.number] = max((finish[d] for d in before), default=0.0)
        finish[step.number] = start[step.number] + step.action.duration
    total = max(finish.values(), default=0.0)
    critical: list[int] = []
    if steps:
        current = max(finish, key=lambda n: (finish[n], n))
        while True:
            critical.append(current)
            before = deps[current - 1]
            candidates = [d for d in before if finish[d] == start[current]]
            if not candidates:
                break
            current = max(candidates)
        critical.reverse()
    slots = tuple(
        Slot(
            step,
            before,
            phase[step.number],
            start[step.number],
            finish[step.number],
            step.number in critical,
        )
        for step, before in zip(steps, deps, strict=True)
    )
    return Schedule(
        slots=slots,
        sequential=sum(s.action.duration for s in steps),
        parallel=total,
        critical_path=tuple(critical),
    )


def format_duration(seconds: float) -> str:
    """Return ``seconds`` as a short human duration such as ``1h27m`` or ``45s``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}h" if hours else ""
    text += f"{minutes}m" if minutes else ""
    if secs and not hours:
        text += f"{secs}s"
    return text
