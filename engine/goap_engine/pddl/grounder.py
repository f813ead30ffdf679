"""Ground a parsed PDDL task into facts and ground actions over fact ids.

Only actions reachable in the delete relaxation are produced: starting from the
initial atoms, an action schema is instantiated whenever all its positive
preconditions are reachable, and its add effects become reachable in turn.  Each
newly reached atom triggers a join over just the schemas whose preconditions
mention its predicate, with the remaining preconditions matched through indexes
of the reached atoms keyed by the argument positions already bound, so the work
is proportional to the matches rather than to all object combinations.

Static predicates (those no action changes), equality and types are decided
while grounding and do not appear in the result.  Atoms that are true initially
and never deleted are static-true and are removed from the facts too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from goap_engine.pddl.parser import (
    Atom,
    Domain,
    PddlError,
    Problem,
    check_problem,
    iter_subtypes,
    object_types,
)

__all__ = ["GroundAction", "GroundTask", "fact_name", "ground"]

GroundAtom = tuple[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class GroundAction:
    """A ground action over fact ids of its :class:`GroundTask`.

    Applying it removes ``delete`` and then adds ``add``; no fact is in both.
    """

    name: str
    args: tuple[str, ...]
    pre_pos: tuple[int, ...]
    pre_neg: tuple[int, ...]
    add: tuple[int, ...]
    delete: tuple[int, ...]
    cost: int

    @property
    def pddl(self) -> str:
        """Return the action as a plan line, e.g. ``(move rooma roomb)``."""
        return "(" + " ".join((self.name, *self.args)) + ")"


@dataclass(frozen=True, slots=True)
class GroundTask:
    """A ground STRIPS task with negative preconditions and goals.

    ``facts[i]`` names fact ``i`` like ``(at ball1 rooma)``; facts and actions
    are sorted.  ``metric`` is true when the problem minimizes ``total-cost``;
    without it every action costs 1.
    """

    facts: tuple[str, ...]
    init: frozenset[int]
    goal_pos: tuple[int, ...]
    goal_neg: tuple[int, ...]
    actions: tuple[GroundAction, ...]
    metric: bool


def fact_name(predicate: str, args: Sequence[str]) -> str:
    """Return the name of a ground atom, e.g. ``(at ball1 rooma)``."""
    return "(" + " ".join((predicate, *args)) + ")"


# A term in a compiled schema is a slot of the binding array: parameters come
# first, then one slot per constant the schema mentions (pre-filled).
_Slots = tuple[int, ...]
_Index = dict[tuple[str, ...], list[tuple[str, ...]]]


@dataclass(slots=True)
class _Check:
    """A test run once all of ``slots`` are bound."""

    slots: frozenset[int]
    kind: str  # "type", "eq", "neq", "nstatic"
    args: _Slots
    objects: frozenset[str] = frozenset()
    predicate: str = ""


@dataclass(slots=True)
class _Step:
    """Bind more slots: from atoms in an index, or from a parameter's domain."""

    index: _Index | None
    key: _Slots
    binds: tuple[tuple[int, int], ...]
    same: tuple[tuple[int, int], ...]
    domain: Sequence[str] = ()
    checks: tuple[_Check, ...] = ()


@dataclass(slots=True)
class _Trigger:
    """How a newly reached atom seeds a join for one precondition of a schema."""

    schema: _Schema
    predicate: str
    consts: tuple[tuple[int, str], ...]
    binds: tuple[tuple[int, int], ...]
    same: tuple[tuple[int, int], ...]
    checks: tuple[_Check, ...]
    steps: tuple[_Step, ...]


@dataclass(slots=True)
class _Slotter:
    """Map a schema's terms to slots, giving each new constant the next slot."""

    slot_of: dict[str, int]
    template: list[str]

    def __call__(self, args: Iterable[str]) -> _Slots:
        out = []
        for a in args:
            if a not in self.slot_of:
                self.slot_of[a] = len(self.template)
                self.template.append(a)
            out.append(self.slot_of[a])
        return tuple(out)


@dataclass(slots=True)
class _Schema:
    """An action schema over slots, keeping only its fluent preconditions."""

    index: int
    name: str
    nparams: int
    template: list[str]
    pos_fluent: list[tuple[str, _Slots]]
    neg_fluent: list[tuple[str, _Slots]]
    add: list[tuple[str, _Slots]]
    delete: list[tuple[str, _Slots]]
    cost: int
    cost_terms: list[tuple[Atom, _Slots]]


class _Grounder:
    """Hold the atom indexes and compiled joins for one domain and problem."""

    def __init__(self, domain: Domain, problem: Problem) -> None:
        self.domain = domain
        self.problem = problem
        fluent = {
            a.predicate for act in domain.actions for a in (*act.add, *act.delete)
        }
        self.fluent = fluent
        self.static: dict[str, set[tuple[str, ...]]] = {}
        self.init_fluent: set[GroundAtom] = set()
        for atom in problem.init:
            if atom.predicate in fluent:
                self.init_fluent.add((atom.predicate, atom.args))
            else:
                self.static.setdefault(atom.predicate, set()).add(atom.args)
        self.static_index: dict[tuple[str, tuple[int, ...]], _Index] = {}
        self.fluent_index: dict[str, list[tuple[tuple[int, ...], _Index]]] = {}
        self.reached: set[GroundAtom] = set()

        supertypes: dict[str, set[str]] = {}
        for t, a in iter_subtypes(domain):
            supertypes.setdefault(t, set()).add(a)
        members: dict[str, list[str]] = {}
        for obj, types in sorted(object_types(domain, problem).items()):
            sups = set().union(*(supertypes[t] for t in types))
            for t in sups:
                members.setdefault(t, []).append(obj)
        self.members = members

    # -- indexes --------------------------------------------------------------

    def index_for(self, predicate: str, positions: tuple[int, ...]) -> _Index:
        """Return the atoms of ``predicate`` keyed by their values at ``positions``.

        A static index is complete at once; a fluent one fills as atoms are
        reached, and the joins keep a reference to it.
        """
        if predicate not in self.fluent:
            found = self.static_index.get((predicate, positions))
            if found is None:
                found = {}
                for args in sorted(self.static.get(predicate, ())):
                    key = tuple(args[p] for p in positions)
                    found.setdefault(key, []).append(args)
                self.static_index[(predicate, positions)] = found
            return found
        for pos, idx in self.fluent_index.setdefault(predicate, []):
            if pos == positions:
                return idx
        idx = {}
        self.fluent_index[predicate].append((positions, idx))
        return idx

    def add_reached(self, atom: GroundAtom) -> None:
        """Record ``atom`` as reachable in every index of its predicate."""
        self.reached.add(atom)
        predicate, args = atom
        for positions, idx in self.fluent_index.get(predicate, ()):
            idx.setdefault(tuple(args[p] for p in positions), []).append(args)

    # -- compiling schemas ----------------------------------------------------

    def compile(self) -> tuple[list[_Trigger], list[_Trigger]]:
        """Return the joins to run once up front, and those seeded by an atom."""
        initial: list[_Trigger] = []
        seeded: list[_Trigger] = []
        for i, action in enumerate(self.domain.actions):
            slot_of = {p.name: k for k, p in enumerate(action.parameters)}
            template: list[str] = [""] * len(action.parameters)
            slots = _Slotter(slot_of, template)
            nparams = len(action.parameters)
            pos: list[tuple[str, _Slots, bool]] = []
            checks: list[_Check] = []
            schema = _Schema(i, action.name, nparams, template, [], [], [], [], 0, [])
            impossible = False
            for lit in action.precondition:
                pred = lit.atom.predicate
                s = slots(lit.atom.args)
                if pred == "=":
                    kind = "eq" if lit.positive else "neq"
                    checks.append(_Check(frozenset(s), kind, s))
                elif pred in self.fluent:
                    if lit.positive:
                        pos.append((pred, s, False))
                        schema.pos_fluent.append((pred, s))
                    else:
                        schema.neg_fluent.append((pred, s))
                elif lit.positive:
                    if not self.static.get(pred):
                        impossible = True
                    pos.append((pred, s, True))
                elif self.static.get(pred):
                    checks.append(_Check(frozenset(s), "nstatic", s, predicate=pred))
            for k, param in enumerate(action.parameters):
                objs = sorted({o for t in param.types for o in self.members.get(t, ())})
                if not objs:
                    impossible = True
                if "object" not in param.types:
                    checks.append(_Check(frozenset({k}), "type", (k,), frozenset(objs)))
            if impossible:
                continue
            schema.add = [(a.predicate, slots(a.args)) for a in action.add]
            schema.delete = [(a.predicate, slots(a.args)) for a in action.delete]
            schema.cost = action.cost
            schema.cost_terms = [(a, slots(a.args)) for a in action.cost_terms]
            consts = frozenset(range(nparams, len(template)))

            if not schema.pos_fluent:
                initial.append(self.plan(schema, None, pos, checks, consts))
            for j, (pred, s, static) in enumerate(pos):
                if not static:
                    rest = pos[:j] + pos[j + 1 :]
                    seeded.append(self.plan(schema, (pred, s), rest, checks, consts))
        return initial, seeded

    def plan(
        self,
        schema: _Schema,
        seed: tuple[str, _Slots] | None,
        atoms: list[tuple[str, _Slots, bool]],
        checks: list[_Check],
        consts: frozenset[int],
    ) -> _Trigger:
        """Order the join greedily, most constrained atom first."""
        bound = set(consts)
        t_consts: list[tuple[int, str]] = []
        t_binds: list[tuple[int, int]] = []
        t_same: list[tuple[int, int]] = []
        if seed is not None:
            for p, slot in enumerate(seed[1]):
                if slot in consts:
                    t_consts.append((p, schema.template[slot]))
                elif slot in bound:
                    t_same.append((p, seed[1].index(slot)))
                else:
                    bound.add(slot)
                    t_binds.append((p, slot))
        pending = list(checks)

        def ready() -> tuple[_Check, ...]:
            now = tuple(c for c in pending if c.slots <= bound)
            for c in now:
                pending.remove(c)
            return now

        first = ready()
        steps: list[_Step] = []
        remaining = list(enumerate(atoms))
        while remaining:

            def rank(item: tuple[int, tuple[str, _Slots, bool]]) -> tuple[int, ...]:
                k, (_, s, static) = item
                nb = sum(1 for x in s if x in bound)
                free = len(set(s) - bound)
                return (free > 0, nb == 0 and bool(s), free, -nb, not static, k)

            choice = min(remaining, key=rank)
            remaining.remove(choice)
            pred, s, _ = choice[1]
            key_pos = tuple(p for p, x in enumerate(s) if x in bound)
            binds: list[tuple[int, int]] = []
            same: list[tuple[int, int]] = []
            first_at: dict[int, int] = {}
            for p, x in enumerate(s):
                if x in bound:
                    continue
                if x in first_at:
                    same.append((p, first_at[x]))
                else:
                    first_at[x] = p
                    binds.append((p, x))
            bound.update(first_at)
            steps.append(
                _Step(
                    self.index_for(pred, key_pos),
                    tuple(s[p] for p in key_pos),
                    tuple(binds),
                    tuple(same),
                    checks=ready(),
                )
            )
        for k in range(schema.nparams):
            if k not in bound:
                bound.add(k)
                types = self.domain.actions[schema.index].parameters[k].types
                objs = sorted({o for t in types for o in self.members.get(t, ())})
                steps.append(_Step(None, (), ((0, k),), (), objs, ready()))
        assert not pending
        return _Trigger(
            schema,
            seed[0] if seed is not None else "",
            tuple(t_consts),
            tuple(t_binds),
            tuple(t_same),
            first,
            tuple(steps),
        )

    # -- joining --------------------------------------------------------------

    @staticmethod
    def passes(
        checks: Sequence[_Check],
        b: list[str],
        static: Mapping[str, set[tuple[str, ...]]],
    ) -> bool:
        """Return whether the binding ``b`` passes all of ``checks``."""
        for c in checks:
            if c.kind == "type":
                if b[c.args[0]] not in c.objects:
                    return False
            elif c.kind == "eq":
                if b[c.args[0]] != b[c.args[1]]:
                    return False
            elif c.kind == "neq":
                if b[c.args[0]] == b[c.args[1]]:
                    return False
            elif tuple(b[x] for x in c.args) in static.get(c.predicate, ()):
                return False
        return True

    def join(
        self,
        trig: _Trigger,
        args: tuple[str, ...] | None,
        out: set[tuple[int, tuple[str, ...]]],
    ) -> list[tuple[str, ...]]:
        """Return the new bindings of ``trig``'s schema, recording them in ``out``."""
        schema = trig.schema
        b = list(schema.template)
        if args is not None:
            for p, c in trig.consts:
                if args[p] != c:
                    return []
            for p, q in trig.same:
                if args[p] != args[q]:
                    return []
            for p, s in trig.binds:
                b[s] = args[p]
        static = self.static
        if not self.passes(trig.checks, b, static):
            return []
        found: list[tuple[str, ...]] = []
        steps = trig.steps
        n = len(steps)
        nparams = schema.nparams
        sid = schema.index

        def rec(i: int) -> None:
            if i == n:
                key = (sid, tuple(b[:nparams]))
                if key not in out:
                    out.add(key)
                    found.append(key[1])
                return
            st = steps[i]
            if st.index is None:
                slot = st.binds[0][1]
                for o in st.domain:
                    b[slot] = o
                    if self.passes(st.checks, b, static):
                        rec(i + 1)
                return
            cands = st.index.get(tuple(b[s] for s in st.key))
            if not cands:
                return
            for cand in cands:
                if any(cand[p] != cand[q] for p, q in st.same):
                    continue
                for p, s in st.binds:
                    b[s] = cand[p]
                if self.passes(st.checks, b, static):
                    rec(i + 1)

        rec(0)
        return found


def ground(domain: Domain, problem: Problem) -> GroundTask:
    """Ground ``problem`` over ``domain`` by relaxed reachability."""
    check_problem(domain, problem)
    g = _Grounder(domain, problem)
    initial, seeded = g.compile()
    by_predicate: dict[str, list[_Trigger]] = {}
    for trig in seeded:
        by_predicate.setdefault(trig.predicate, []).append(trig)

    found: set[tuple[int, tuple[str, ...]]] = set()
    instances: list[tuple[_Schema, tuple[str, ...]]] = []
    seen: set[GroundAtom] = set(g.init_fluent)
    queue: deque[GroundAtom] = deque(sorted(g.init_fluent))

    def emit(schema: _Schema, bindings: list[tuple[str, ...]]) -> None:
        consts = schema.template[schema.nparams :]
        for args in bindings:
            instances.append((schema, args))
            b = (*args, *consts)
            for pred, s in schema.add:
                atom = (pred, tuple(b[x] for x in s))
                if atom not in seen:
                    seen.add(atom)
                    queue.append(atom)

    for trig in initial:
        emit(trig.schema, g.join(trig, None, found))
    while queue:
        atom = queue.popleft()
        g.add_reached(atom)
        for trig in by_predicate.get(atom[0], ()):
            emit(trig.schema, g.join(trig, atom[1], found))
    return _finish(g, instances)


@dataclass(slots=True)
class _Instance:
    """A ground action over atoms, before facts are numbered."""

    name: str
    args: tuple[str, ...]
    pre: set[GroundAtom]
    neg: set[GroundAtom]
    add: set[GroundAtom]
    delete: set[GroundAtom]
    cost: int


def _finish(
    g: _Grounder, instances: list[tuple[_Schema, tuple[str, ...]]]
) -> GroundTask:
    """Simplify the reached instances, then number and sort facts and actions."""
    problem = g.problem
    reached = g.reached
    values = {(a.predicate, a.args): v for a, v in problem.init_values}

    def atoms(specs: list[tuple[str, _Slots]], b: Sequence[str]) -> set[GroundAtom]:
        return {(pred, tuple(b[x] for x in s)) for pred, s in specs}

    alive: list[_Instance] = []
    for schema, args in instances:
        b = (*args, *schema.template[schema.nparams :])
        add = atoms(schema.add, b)
        pre = atoms(schema.pos_fluent, b)
        neg = atoms(schema.neg_fluent, b) & reached
        if neg & pre:
            continue
        cost = 1
        if problem.metric:
            cost = schema.cost
            for term, s in schema.cost_terms:
                targs = tuple(b[x] for x in s)
                value = values.get((term.predicate, targs))
                if value is None:
                    raise PddlError(
                        g.domain.path,
                        term.line,
                        term.col,
                        f"no value for {fact_name(term.predicate, targs)} in the "
                        f":init of {problem.path}",
                    )
                cost += value
        delete = (atoms(schema.delete, b) & reached) - add
        if not delete and add <= pre:
            # It can never change a state, so no plan needs it.
            continue
        alive.append(_Instance(schema.name, args, pre, neg, add, delete, cost))

    # Dropping an action that needs a static-true atom false can make more atoms
    # static-true, so repeat until nothing changes.
    while True:
        deleted: set[GroundAtom] = set().union(*(a.delete for a in alive))
        static_true = g.init_fluent - deleted
        kept = [a for a in alive if not a.neg & static_true]
        if len(kept) == len(alive):
            break
        alive = kept

    facts = reached - static_true
    # A goal that can never hold keeps its atom, so the task stays unsolvable.
    goal_pos: list[GroundAtom] = []
    goal_neg: list[GroundAtom] = []
    forced_true: set[GroundAtom] = set()
    for lit in problem.goal:
        atom = (lit.atom.predicate, lit.atom.args)
        if lit.atom.predicate in g.fluent:
            always = atom in static_true
            never = atom not in reached
        else:
            always = atom[1] in g.static.get(atom[0], ())
            never = not always
        if lit.positive and not always:
            goal_pos.append(atom)
            facts.add(atom)
        elif not lit.positive and not never:
            goal_neg.append(atom)
            facts.add(atom)
            if always:
                forced_true.add(atom)

    names = {a: fact_name(*a) for a in facts}
    order = sorted(facts, key=names.__getitem__)
    fid = {a: i for i, a in enumerate(order)}

    def ids(s: Iterable[GroundAtom]) -> tuple[int, ...]:
        return tuple(sorted(fid[a] for a in s if a in fid))

    actions = [
        GroundAction(
            a.name,
            a.args,
            ids(a.pre - static_true),
            ids(a.neg),
            ids(a.add - static_true),
            ids(a.delete),
            a.cost,
        )
        for a in alive
    ]
    actions.sort(key=lambda a: (a.name, a.args))
    init = frozenset(fid[a] for a in (g.init_fluent - static_true) | forced_true)
    return GroundTask(
        facts=tuple(names[a] for a in order),
        init=init,
        goal_pos=ids(goal_pos),
        goal_neg=ids(goal_neg),
        actions=tuple(actions),
        metric=problem.metric,
    )
