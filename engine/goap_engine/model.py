"""The immutable model of a loaded ruleset: state variables, actions, goal.

Everything here is built by the loader and never changed afterwards; the planner
and the executor share it.  Expressions are already checked and compiled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from .errors import Location
from .expressions import Expr, ExprType, Symbol, reference_name

VarType = Literal["bool", "int", "float", "str", "enum"]
HookKind = Literal["shell", "argv", "python", "builtin", "wait"]
SensorSource = Literal["exit", "stdout", "value"]
Delivery = Literal["sensed", "person", "rerun"]

DELIVERY_TEXT: dict[str, str] = {
    "sensed": "skipped if done (effects sensed)",
    "person": "needs a person (irreversible, not sensed)",
    "rerun": "re-run",
}
Lifetime = float | Literal["run", "always"]
"""How long a remembered fact holds: this run only, seconds, or until changed."""

DEFAULTS: dict[str, Any] = {"bool": False, "int": 0, "float": 0.0, "str": ""}

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Hook:
    """How an action is performed or a variable is sensed.

    ``kind`` selects the meaning of ``target``: a shell string (``shell``), an
    argument vector (``argv``), ``module:function`` (``python``) or a registered
    built-in name (``builtin``).  ``args`` are passed to python and built-in hooks;
    strings anywhere in ``target`` and ``args`` are jinja2 templates.
    """

    kind: HookKind
    target: str | tuple[str, ...]
    args: Mapping[str, Any] = field(default_factory=dict)
    quote: bool = True
    location: Location = Location("<builtin>")


@dataclass(frozen=True, slots=True)
class Sensor:
    """How to read a variable's real value, and how to turn the output into it.

    ``source`` is ``exit`` (bool: exit status 0 is true), ``stdout`` (the
    trimmed output parsed as the variable's type) or ``value`` (what a python or
    built-in hook returns).
    """

    hook: Hook
    source: SensorSource = "value"
    timeout: float | None = None
    """None: the goal's ``policy.sensor_timeout``."""


@dataclass(frozen=True, slots=True)
class StateVar:
    """A typed state variable; ``choices`` lists an enum's values."""

    name: str
    type: VarType
    default: Any
    index: int
    location: Location
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    sensor: Sensor | None = None
    description: str = ""
    pack: str = ""
    secret: bool = False
    remember: Lifetime = "always"

    @property
    def expr_type(self) -> ExprType:
        return "str" if self.type == "enum" else self.type

    def symbol(self) -> Symbol:
        return Symbol(
            self.expr_type, index=self.index, choices=self.choices, name=self.name
        )

    def accepts(self, value: Any) -> bool:
        """Return whether ``value`` is a legal value of this variable."""
        if self.type == "bool":
            return isinstance(value, bool)
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return False
        elif self.type == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
        elif self.type == "enum":
            return value in self.choices
        else:
            return isinstance(value, str)
        if self.minimum is not None and value < self.minimum:
            return False
        return not (self.maximum is not None and value > self.maximum)

    def finite_domain(self, limit: int = 1024) -> tuple[Any, ...] | None:
        """Return every value this variable can take, or None if too many."""
        if self.type == "bool":
            return (False, True)
        if self.type == "enum":
            return self.choices
        if self.type == "int" and self.minimum is not None and self.maximum is not None:
            low, high = int(self.minimum), int(self.maximum)
            if high - low + 1 <= limit:
                return tuple(range(low, high + 1))
        return None


@dataclass(frozen=True, slots=True)
class Effect:
    """``var := expr`` (the expression is evaluated on the state before the action)."""

    var: str
    expr: Expr
    location: Location


@dataclass(frozen=True, slots=True)
class Wait:
    """Poll the sensors until ``until`` holds, every ``interval``, up to ``timeout``."""

    until: Expr
    interval: float
    timeout: float
    location: Location


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an action's hook runs: an executor other than this machine.

    ``executor`` names it (``ray``, ``modal`` or one an installed package
    registers); ``options`` are its ``runs_on`` settings as written.  ``inputs``
    are globs of workspace files shipped to the remote side, ``outputs`` globs
    of the files brought back into the workspace when the step succeeds.
    """

    executor: str
    options: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    location: Location = Location("<builtin>")


MAX_COST = 1e15
"""The largest cost of one step: plan costs stay finite and exact enough to
compare (an action whose cost expression gives more does not apply)."""


@dataclass(frozen=True, slots=True)
class Action:
    """An action: when it applies, what it changes, what it costs, what runs it."""

    name: str
    id: str
    location: Location
    pre: tuple[Expr, ...] = ()
    pre_locations: tuple[Location, ...] = ()
    effects: tuple[Effect, ...] = ()
    cost: Expr | None = None
    duration: float = 60.0
    description: str = ""
    tags: tuple[str, ...] = ()
    hook: Hook | None = None
    wait: Wait | None = None
    timeout: float | None = None
    retries: int = 0
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    on_failure: tuple[Effect, ...] = ()
    irreversible: bool = False
    approval: bool = False
    pack: str = ""
    pddl: str = ""
    disabled: bool = False
    sources: tuple[str, ...] = ()
    """Globs (relative to the workdir) whose change makes this action's facts stale."""
    runs_on: Placement | None = None
    """None: the hook runs on this machine (``runs_on: local``)."""
    writes: frozenset[str] = field(init=False, repr=False, compare=False)
    """The variables its effects assign (derived)."""
    reads: frozenset[str] = field(init=False, repr=False, compare=False)
    """The variables its preconditions read (derived)."""

    def __post_init__(self) -> None:
        # Derived once: relevance analysis and the planner read them in loops
        # over every action (replace() derives them again).
        object.__setattr__(self, "writes", frozenset(e.var for e in self.effects))
        names: set[str] = set()
        for expr in self.pre:
            names |= expr.reads
        object.__setattr__(self, "reads", frozenset(names))

    @property
    def label(self) -> str:
        return f"{self.id}: {self.name}" if self.id else self.name

    @property
    def inputs(self) -> frozenset[str]:
        """Return every variable it reads: preconditions, effects, cost, wait."""
        names = set(self.reads)
        for effect in self.effects:
            names |= effect.expr.reads
        if self.cost is not None:
            names |= self.cost.reads
        if self.wait is not None:
            names |= self.wait.until.reads
        return frozenset(names)


@dataclass(frozen=True, slots=True)
class Condition:
    """One goal condition with where it was written."""

    expr: Expr
    location: Location


@dataclass(frozen=True, slots=True)
class SubGoal:
    """A named group of goal conditions (the seed's sub-goals)."""

    name: str
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    """How a goal is planned and run."""

    max_replans: int = 3
    jobs: int = 1
    search: str = "astar"
    heuristic: str | None = None
    """None: the search's own default (LM-cut; h_FF for lazy and anytime)."""
    ordered: bool = False
    mlflow: str | None = None
    """Log every run to MLflow at this tracking URI ('' = the local default)."""
    mlflow_bounds: tuple[tuple[str, float], ...] = ()
    """``http_timeout``, ``retries``, ``max_wait`` of that logging, where set."""
    hook_timeout: float = 3600.0
    """The timeout of hooks that set none."""
    sensor_timeout: float = 60.0
    """The timeout of sensors that set none."""
    allow_outside: bool = False
    """Whether the engine may write outside the project (state_file, workdir)."""
    approvals: str = "ask"
    """'ask' (before anything runs) or 'wait' (stop at the step; see waiting)."""


@dataclass(frozen=True, slots=True)
class Pack:
    """A loaded pack file: where it came from and what it declared."""

    name: str
    path: Path
    variables: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    """Warning codes silenced in this file (a goal's silence its whole ruleset)."""


# Objects a search may permute: each object is the indices of the state
# variables that describe it, in the same order for every object of the
# class; permuting the objects maps every state, action and the goal onto
# themselves (``pddl/symmetry.py`` finds them in PDDL tasks).
Interchangeable = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Ruleset:
    """A goal with everything it uses, ready to plan and run."""

    path: Path
    workdir: Path
    variables: tuple[StateVar, ...]
    actions: tuple[Action, ...]
    subgoals: tuple[SubGoal, ...]
    vars: Mapping[str, Any] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    state_file: Path | None = None
    policy: Policy = Policy()
    packs: tuple[Pack, ...] = ()
    interchangeable: tuple[Interchangeable, ...] = ()

    def __post_init__(self) -> None:
        # Derived once: the model is immutable and these are read in hot loops.
        by_name = {v.name: v for v in self.variables}
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_names", tuple(v.name for v in self.variables))
        object.__setattr__(
            self,
            "_reference_names",
            tuple(reference_name(v.name) for v in self.variables),
        )
        object.__setattr__(
            self, "_secret_names", frozenset(v.name for v in self.variables if v.secret)
        )
        object.__setattr__(self, "_defaults", tuple(v.default for v in self.variables))

    def var(self, name: str) -> StateVar:
        """Return the state variable called ``name``."""
        by_name: dict[str, StateVar] = self._by_name  # type: ignore[attr-defined]
        return by_name[name]

    @property
    def names(self) -> tuple[str, ...]:
        names: tuple[str, ...] = self._names  # type: ignore[attr-defined]
        return names

    @property
    def secret_names(self) -> frozenset[str]:
        """Return the state variables declared ``secret: true``."""
        names: frozenset[str] = self._secret_names  # type: ignore[attr-defined]
        return names

    def stored(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``values`` without the secret variables, which are never stored."""
        secret = self.secret_names
        return {k: v for k, v in values.items() if k not in secret}

    @property
    def reference_names(self) -> tuple[str, ...]:
        """Return the names as the reference evaluator (simpleeval) reads them."""
        names: tuple[str, ...] = self._reference_names  # type: ignore[attr-defined]
        return names

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return tuple(c for g in self.subgoals for c in g.conditions)

    def default_state(self) -> tuple[Any, ...]:
        """Return the state made of every variable's default."""
        # Grounding asks once per condition and action: rebuilt each time, it
        # made linting 10,000 actions quadratic.
        defaults: tuple[Any, ...] = self._defaults  # type: ignore[attr-defined]
        return defaults

    def delivery(self, action: Action) -> Delivery:
        """Return what an interruption during ``action`` means for a resumed run.

        ``sensed``: every effect is read back from the world, so the step is
        skipped if it happened and run again if not; ``person``: irreversible
        with an effect no sensor can check, so a person must say whether it
        happened; ``rerun``: the step is simply run again (at least once).
        """
        writes = action.writes
        if writes and all(self.var(n).sensor is not None for n in writes):
            return "sensed"
        if action.irreversible:
            return "person"
        return "rerun"

    def action(self, key: str) -> Action:
        """Return the action whose name or id is ``key``."""
        for action in self.actions:
            if key in (action.name, action.id):
                return action
        raise KeyError(key)
