"""Interchangeable objects of a ground PDDL task (gripper's balls).

Two objects are interchangeable when swapping their names maps the initial
state, the goal, the set of facts and the set of actions (with their costs)
onto themselves.  Then any state and the state with the two swapped have the
same cheapest cost to the goal, and a search needs to visit only one of them:
A* over such classes of states stays optimal (orbit search).  Swaps compose, so
a set of pairwise interchangeable objects can be permuted in any order.

A class is kept only when every fact names at most one of its objects (a fact
relating two, as blocksworld's ``on``, would make its states' canonical form a
graph problem) and no fact names objects of two kept classes; each object is
then described by the facts that name it, the same templates for every object
of the class, and a state's class is its objects' descriptions as a sorted
multiset.  Fast Downward finds the same kind of symmetry, and more, through
graph automorphisms; this is the part a sort can do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping

from ..model import Interchangeable
from .grounder import GroundTask

Atom = tuple[str, ...]


def _atom(name: str) -> Atom:
    return tuple(name.strip("()").split())


def _star(atom: Atom, name: str) -> Atom:
    return tuple("*" if t == name else t for t in atom)


def _swap(atom: Atom, a: str, b: str) -> Atom:
    return tuple(b if t == a else a if t == b else t for t in atom)


class _Task:
    """The ground task as sets of atoms, for testing swaps."""

    def __init__(self, task: GroundTask) -> None:
        self.facts = [_atom(f) for f in task.facts]
        self.fact_set = set(self.facts)
        self.init = {self.facts[i] for i in task.init}
        self.goal_pos = {self.facts[i] for i in task.goal_pos}
        self.goal_neg = {self.facts[i] for i in task.goal_neg}
        self.actions = {(a.name, *a.args): a.cost for a in task.actions}
        # Where each object occurs, to test a swap on those atoms only.
        self.fact_uses: dict[str, list[Atom]] = defaultdict(list)
        for atom in self.facts:
            for name in set(atom[1:]):
                self.fact_uses[name].append(atom)
        self.action_uses: dict[str, list[Atom]] = defaultdict(list)
        for action in self.actions:
            for name in set(action[1:]):
                self.action_uses[name].append(action)

    def signature(self, name: str) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        """Return what any object interchangeable with ``name`` shares with it."""
        places = sorted(
            (atom[0], i)
            for atom in self.fact_uses[name]
            for i, t in enumerate(atom)
            if t == name
        )
        return len(self.fact_uses[name]), len(self.action_uses[name]), tuple(places)

    def key(self, name: str) -> Hashable:
        """Return ``name``'s facts and actions with it replaced by ``*``.

        Every other object is kept, and so are each fact's part in the start
        and the goal and each action's cost.  Two objects with equal keys
        name no fact or action together (one's key would name the other),
        and swapping them maps each one's facts and actions onto the
        other's: they are interchangeable.  Objects that share a fact or an
        action have different keys and are compared by ``swappable``.
        """
        facts = sorted(
            (
                _star(atom, name),
                atom in self.init,
                atom in self.goal_pos,
                atom in self.goal_neg,
            )
            for atom in self.fact_uses[name]
        )
        actions = sorted(
            (_star(action, name), self.actions[action])
            for action in self.action_uses[name]
        )
        return tuple(facts), tuple(actions)

    def neighbours(self, name: str) -> set[str]:
        """Return the objects named together with ``name`` by a fact or action."""
        found = {t for atom in self.fact_uses[name] for t in atom[1:]}
        found.update(t for action in self.action_uses[name] for t in action[1:])
        found.discard(name)
        return found

    def swappable(self, a: str, b: str) -> bool:
        """Return whether swapping ``a`` and ``b`` maps the task onto itself."""
        for atom in self.fact_uses[a] + self.fact_uses[b]:
            image = _swap(atom, a, b)
            if image not in self.fact_set:
                return False
            if (atom in self.init) != (image in self.init):
                return False
            if (atom in self.goal_pos) != (image in self.goal_pos):
                return False
            if (atom in self.goal_neg) != (image in self.goal_neg):
                return False
        for action in self.action_uses[a] + self.action_uses[b]:
            if self.actions.get(_swap(action, a, b)) != self.actions[action]:
                return False
        return True


def _classes(view: _Task, fixed: Iterable[str]) -> list[list[str]]:
    """Return the classes of pairwise interchangeable objects (two or more).

    Interchangeability is an equivalence: swaps compose, (a c) is
    (a b)(b c)(a b).  Objects with equal keys are interchangeable; the
    others can only be so with an object they share a fact or an action
    with.  So each object is tested against one object of its key and its
    neighbours, not against every other object (in a 40 x 40 grid, where
    no two cells are interchangeable, that took 10 s).
    """
    keep_out = set(fixed)
    objects = sorted((set(view.fact_uses) | set(view.action_uses)) - keep_out)
    root = {name: name for name in objects}

    def find(name: str) -> str:
        while root[name] != name:
            root[name] = root[root[name]]
            name = root[name]
        return name

    def join(a: str, b: str) -> None:
        first, second = sorted((find(a), find(b)))
        root[second] = first

    signatures = {name: view.signature(name) for name in objects}
    by_key: dict[Hashable, str] = {}
    for name in objects:
        first = by_key.setdefault(view.key(name), name)
        if first != name and view.swappable(first, name):
            join(first, name)
    for name in objects:
        for other in view.neighbours(name):
            if (
                other > name
                and other in root
                and signatures[other] == signatures[name]
                and find(other) != find(name)
                and view.swappable(name, other)
            ):
                join(name, other)
    groups: dict[str, list[str]] = defaultdict(list)
    for name in objects:
        groups[find(name)].append(name)
    return [group for group in groups.values() if len(group) > 1]


def _slots(
    view: _Task, index: Mapping[Atom, int], group: list[str]
) -> Interchangeable | None:
    """Return each object's facts in one order of templates, or None."""
    described = []
    templates = None
    for name in group:
        by_template = {}
        for atom in view.fact_uses[name]:
            template = tuple("*" if t == name else t for t in atom)
            by_template[template] = index[atom]
        keys = sorted(by_template)
        if templates is None:
            templates = keys
        elif keys != templates:
            return None
        described.append(tuple(by_template[k] for k in keys))
    return tuple(described)


def interchangeable(
    task: GroundTask, constants: Iterable[str] = ()
) -> tuple[Interchangeable, ...]:
    """Return the classes of interchangeable objects a search may merge.

    ``constants`` are the domain's constants: its action schemas may name
    them, so they are never swapped.
    """
    view = _Task(task)
    index = {atom: i for i, atom in enumerate(view.facts)}
    kept: list[Interchangeable] = []
    taken: set[int] = set()
    for group in sorted(_classes(view, constants), key=len, reverse=True):
        members = set(group)
        if any(
            sum(1 for t in atom[1:] if t in members) > 1
            for name in group
            for atom in view.fact_uses[name]
        ):
            continue
        slots = _slots(view, index, group)
        if slots is None:
            continue
        facts = {i for described in slots for i in described}
        if facts & taken:
            continue
        taken |= facts
        kept.append(slots)
    return tuple(kept)
