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
from collections.abc import Iterable, Mapping

from ..model import Interchangeable
from .grounder import GroundTask

Atom = tuple[str, ...]
# Classes of one signature an object is compared with, at most.
MAX_TRIES = 8


def _atom(name: str) -> Atom:
    return tuple(name.strip("()").split())


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
    """Return the classes of pairwise interchangeable objects (two or more)."""
    keep_out = set(fixed)
    objects = sorted((set(view.fact_uses) | set(view.action_uses)) - keep_out)
    by_signature: dict[object, list[list[str]]] = defaultdict(list)
    for name in objects:
        groups = by_signature[view.signature(name)]
        # Swaps compose: one swap with a member puts it in the class.  The
        # cells of a large grid share a signature and are never swappable:
        # past a few classes an object is tested no further, which bounds
        # the work (some symmetry may go unseen, never a false one).
        for group in groups[:MAX_TRIES]:
            if view.swappable(group[0], name):
                group.append(name)
                break
        else:
            groups.append([name])
    return [g for groups in by_signature.values() for g in groups if len(g) > 1]


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
