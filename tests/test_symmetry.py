"""Interchangeable objects in PDDL tasks, and A* over classes of symmetric states."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from goap_engine.model import Ruleset
from goap_engine.pddl.convert import ground_files, load_pddl
from goap_engine.pddl.symmetry import interchangeable
from goap_engine.planner.focus import Focus, narrow
from goap_engine.planner.plan import find_plan, simulate
from goap_engine.planner.task import compile_task

GRIPPER = """(define (domain gripper)
  (:constants left right)
  (:predicates (room ?r) (ball ?b) (gripper ?g) (at-robby ?r) (at ?b ?r)
               (free ?g) (carry ?o ?g))
  (:action move :parameters (?from ?to)
    :precondition (and (room ?from) (room ?to) (at-robby ?from))
    :effect (and (at-robby ?to) (not (at-robby ?from))))
  (:action pick :parameters (?obj ?room ?gripper)
    :precondition (and (ball ?obj) (room ?room) (gripper ?gripper)
                       (at ?obj ?room) (at-robby ?room) (free ?gripper))
    :effect (and (carry ?obj ?gripper) (not (at ?obj ?room)) (not (free ?gripper))))
  (:action drop :parameters (?obj ?room ?gripper)
    :precondition (and (ball ?obj) (room ?room) (gripper ?gripper)
                       (carry ?obj ?gripper) (at-robby ?room))
    :effect (and (at ?obj ?room) (free ?gripper) (not (carry ?obj ?gripper)))))
"""


def gripper(
    tmp_path: Path,
    balls: int,
    start: list[str] | None = None,
    goal: list[str] | None = None,
) -> Ruleset:
    """Return a gripper task: every ball from rooma to roomb unless told."""
    names = [f"ball{i}" for i in range(balls)]
    start = start or ["rooma"] * balls
    goal = goal or ["roomb"] * balls
    init = ["(room rooma)", "(room roomb)", "(gripper left)", "(gripper right)"]
    init += ["(at-robby rooma)", "(free left)", "(free right)"]
    init += [f"(ball {b})" for b in names]
    init += [f"(at {b} {r})" for b, r in zip(names, start, strict=True)]
    goals = " ".join(f"(at {b} {r})" for b, r in zip(names, goal, strict=True))
    problem = (
        "(define (problem p) (:domain gripper)"
        f" (:objects rooma roomb {' '.join(names)})"
        f" (:init {' '.join(init)}) (:goal (and {goals})))"
    )
    (tmp_path / "domain.pddl").write_text(GRIPPER)
    (tmp_path / "problem.pddl").write_text(problem)
    return load_pddl(tmp_path / "domain.pddl", tmp_path / "problem.pddl")


def test_gripper_balls_are_one_class_described_by_four_facts(tmp_path: Path) -> None:
    ruleset = gripper(tmp_path, 4)
    assert len(ruleset.interchangeable) == 1
    (balls,) = ruleset.interchangeable
    names = ruleset.names
    described = sorted(sorted(names[i] for i in ball) for ball in balls)
    assert described[0] == [
        "at_ball0_rooma",
        "at_ball0_roomb",
        "carry_ball0_left",
        "carry_ball0_right",
    ]
    assert len(described) == 4
    # Were the grippers not constants, they would be a class too, but one
    # that shares the carry facts with the balls: the larger class is kept.
    task = ground_files(tmp_path / "domain.pddl", tmp_path / "problem.pddl")
    assert interchangeable(task) == ruleset.interchangeable


def test_domain_constants_are_never_swapped(tmp_path: Path) -> None:
    assert gripper(tmp_path, 1).interchangeable == ()
    task = ground_files(tmp_path / "domain.pddl", tmp_path / "problem.pddl")
    (grippers,) = interchangeable(task)
    assert len(grippers) == 2


@pytest.mark.parametrize("balls", [4, 6, 8])
def test_orbit_search_is_optimal_and_expands_far_fewer_states(
    tmp_path: Path, balls: int
) -> None:
    ruleset = gripper(tmp_path, balls)
    plan = find_plan(ruleset)
    plain = find_plan(replace(ruleset, interchangeable=()))
    # Two balls a trip: pick, pick, move, drop, drop, and back but the last.
    assert plan.cost == plain.cost == 6 * balls // 2 - 1
    assert plan.expanded < plain.expanded / 3
    # The plan is one of real actions: the replay reaches the goal.
    assert simulate(ruleset, plan.start, [s.action for s in plan.steps])


def test_orbit_search_matches_plain_search_from_any_start(tmp_path: Path) -> None:
    rng = random.Random(7)
    rooms = ["rooma", "roomb"]
    for _ in range(12):
        start = [rng.choice(rooms) for _ in range(5)]
        goal = [rng.choice(rooms) for _ in range(5)]
        ruleset = gripper(tmp_path, 5, start, goal)
        plain = find_plan(replace(ruleset, interchangeable=()), heuristic="blind")
        assert find_plan(ruleset).cost == plain.cost
        assert find_plan(ruleset, heuristic="blind").cost == plain.cost


def test_a_ball_with_its_own_goal_is_not_interchangeable(tmp_path: Path) -> None:
    ruleset = gripper(tmp_path, 4, goal=["roomb", "roomb", "roomb", "rooma"])
    (balls,) = ruleset.interchangeable
    names = {ruleset.names[ball[0]] for ball in balls}
    assert names == {"at_ball0_rooma", "at_ball1_rooma", "at_ball2_rooma"}


def test_objects_related_to_each_other_are_not_merged(tmp_path: Path) -> None:
    domain = """(define (domain stack)
      (:predicates (on ?x ?y) (clear ?x) (table ?x))
      (:action put :parameters (?x ?y)
        :precondition (and (clear ?x) (clear ?y) (table ?x))
        :effect (and (on ?x ?y) (not (clear ?y)) (not (table ?x)))))"""
    problem = """(define (problem p) (:domain stack) (:objects a b c)
      (:init (clear a) (clear b) (clear c) (table a) (table b) (table c))
      (:goal (and (table a) (table b) (table c))))"""
    (tmp_path / "domain.pddl").write_text(domain)
    (tmp_path / "problem.pddl").write_text(problem)
    ruleset = load_pddl(tmp_path / "domain.pddl", tmp_path / "problem.pddl")
    # a, b and c are interchangeable, but (on a b) names two of them: sorting
    # the blocks' descriptions could merge states that are not symmetric.
    assert ruleset.interchangeable == ()


def test_another_goal_or_left_out_actions_search_every_state(tmp_path: Path) -> None:
    ruleset = gripper(tmp_path, 4)
    assert compile_task(ruleset).canonical is not None
    goal = [c.expr for c in ruleset.conditions][:1]
    assert compile_task(ruleset, goal=goal).canonical is None
    pick = next(a.name for a in ruleset.actions if a.name.startswith("pick_ball0"))
    assert compile_task(ruleset, exclude=frozenset({pick})).canonical is None
    narrowed = narrow(ruleset, Focus(targets=("at_ball0_roomb",)))
    assert narrowed.ruleset.interchangeable == ()
    assert find_plan(narrowed.ruleset).cost == 3


def grid(tmp_path: Path, size: int) -> tuple[Path, Path]:
    """Write a robot on a grid of ``size`` x ``size`` cells, to reach one corner."""
    cells = [f"c{x}_{y}" for x in range(size) for y in range(size)]
    adjacent = [
        f"(adj c{x}_{y} c{x + dx}_{y + dy})"
        for x in range(size)
        for y in range(size)
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))
        if 0 <= x + dx < size and 0 <= y + dy < size
    ]
    (tmp_path / "domain.pddl").write_text(
        "(define (domain grid) (:predicates (at ?c) (adj ?a ?b))"
        " (:action move :parameters (?a ?b) :precondition (and (at ?a) (adj ?a ?b))"
        " :effect (and (at ?b) (not (at ?a)))))"
    )
    (tmp_path / "problem.pddl").write_text(
        f"(define (problem p) (:domain grid) (:objects {' '.join(cells)})"
        f" (:init (at c0_0) {' '.join(adjacent)})"
        f" (:goal (at c{size - 1}_{size - 1})))"
    )
    return tmp_path / "domain.pddl", tmp_path / "problem.pddl"


def test_a_grid_compares_each_cell_with_its_neighbours_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inner cells look alike (one 'at' fact, four moves each way) but no two
    # are interchangeable; each was tested against every other (10 s of load
    # for 40 x 40 cells).
    from goap_engine.pddl import symmetry

    calls = 0
    swappable = symmetry._Task.swappable

    def counted(self: symmetry._Task, a: str, b: str) -> bool:
        nonlocal calls
        calls += 1
        return swappable(self, a, b)

    monkeypatch.setattr(symmetry._Task, "swappable", counted)
    task = ground_files(*grid(tmp_path, 20))
    assert interchangeable(task) == ()
    # At most one test per neighbour (four per cell, each pair once).
    assert calls <= 2 * 20 * 20


def test_objects_that_share_an_action_can_still_be_interchangeable(
    tmp_path: Path,
) -> None:
    domain = """(define (domain trade)
      (:predicates (at ?b ?r) (room ?r) (ball ?b))
      (:action trade :parameters (?a ?b ?x ?y)
        :precondition (and (ball ?a) (ball ?b) (room ?x) (room ?y)
                           (at ?a ?x) (at ?b ?y))
        :effect (and (at ?a ?y) (at ?b ?x) (not (at ?a ?x)) (not (at ?b ?y))))
      (:action send :parameters (?a ?x ?y)
        :precondition (and (ball ?a) (room ?x) (room ?y) (at ?a ?x))
        :effect (and (at ?a ?y) (not (at ?a ?x)))))"""
    problem = """(define (problem p) (:domain trade) (:objects ra rb b1 b2 b3)
      (:init (room ra) (room rb) (ball b1) (ball b2) (ball b3)
             (at b1 ra) (at b2 ra) (at b3 ra))
      (:goal (and (at b1 rb) (at b2 rb) (at b3 rb))))"""
    (tmp_path / "domain.pddl").write_text(domain)
    (tmp_path / "problem.pddl").write_text(problem)
    ruleset = load_pddl(tmp_path / "domain.pddl", tmp_path / "problem.pddl")
    # 'trade' names two balls, so each ball's actions name the others: their
    # keys differ, and they are found interchangeable as neighbours.
    (balls,) = ruleset.interchangeable
    assert len(balls) == 3
    plain = find_plan(replace(ruleset, interchangeable=()), heuristic="blind")
    assert find_plan(ruleset).cost == plain.cost == 3
