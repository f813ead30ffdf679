"""Tests for the PDDL parser, grounder and plan validator."""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from planning import BENCH, optimal_costs

from goap_engine.pddl.grounder import GroundTask, ground
from goap_engine.pddl.parser import (
    Domain,
    PddlError,
    Problem,
    object_types,
    parse_domain,
    parse_domain_text,
    parse_problem,
    parse_problem_text,
    read_sexprs,
)
from goap_engine.pddl.validate import PlanError, validate_plan


def _instances() -> list[tuple[str, str]]:
    if not BENCH.is_dir():
        return []
    return [
        (d.name, p.stem)
        for d in sorted(BENCH.iterdir())
        if (d / "domain.pddl").is_file()
        for p in sorted(d.glob("*.pddl"))
        if p.name != "domain.pddl"
    ]


INSTANCES = _instances()
needs_bench = pytest.mark.skipif(not INSTANCES, reason=f"{BENCH} is missing")


def _load(domain: str, problem: str) -> tuple[Domain, Problem, GroundTask]:
    dom = parse_domain(BENCH / domain / "domain.pddl")
    prob = parse_problem(BENCH / domain / f"{problem}.pddl", dom)
    return dom, prob, ground(dom, prob)


def _names(task: GroundTask, ids: tuple[int, ...] | frozenset[int]) -> set[str]:
    return {task.facts[i] for i in ids}


def _check_well_formed(task: GroundTask) -> None:
    n = len(task.facts)
    assert list(task.facts) == sorted(set(task.facts))
    keys = [(a.name, a.args) for a in task.actions]
    assert keys == sorted(set(keys))
    assert all(0 <= f < n for f in task.init)
    for a in task.actions:
        for ids in (a.pre_pos, a.pre_neg, a.add, a.delete):
            assert list(ids) == sorted(set(ids))
            assert all(0 <= f < n for f in ids)
        assert not set(a.add) & set(a.delete)
        assert a.delete or not set(a.add) <= set(a.pre_pos)
        assert a.cost >= 0


# ---------------------------------------------------------------------------
# Benchmarks


@needs_bench
@pytest.mark.parametrize(("domain", "problem"), INSTANCES)
def test_benchmark_grounds(domain: str, problem: str) -> None:
    _, prob, task = _load(domain, problem)
    assert 0 < len(task.actions) <= 1500
    _check_well_formed(task)
    assert task.goal_pos
    goal = {str(lit.atom) for lit in prob.goal if lit.positive}
    # A goal atom missing from the facts must already hold forever.
    init = {str(a) for a in prob.init}
    assert goal - set(task.facts) <= init
    assert _names(task, task.goal_pos) == goal & set(task.facts)
    assert not task.metric
    assert all(a.cost == 1 for a in task.actions)


@needs_bench
def test_benchmark_grounding_time() -> None:
    assert len(INSTANCES) >= 36
    assert len({d for d, _ in INSTANCES}) >= 7
    rows = []
    total = 0.0
    for domain, problem in INSTANCES:
        start = time.perf_counter()
        _, _, task = _load(domain, problem)
        elapsed = time.perf_counter() - start
        total += elapsed
        rows.append(f"{domain}/{problem}: {len(task.facts)} facts, ")
        rows[-1] += f"{len(task.actions)} actions, {elapsed:.3f} s"
    print("\n".join(rows))
    print(f"parsed and grounded {len(INSTANCES)} instances in {total:.3f} s")


def _bfs(task: GroundTask, limit: int = 50_000) -> list[str] | None:
    """Return a shortest plan, or None past ``limit`` states."""
    start = frozenset(task.init)
    parent: dict[frozenset[int], tuple[frozenset[int], str] | None] = {start: None}
    queue = deque([start])
    goal_pos, goal_neg = set(task.goal_pos), set(task.goal_neg)
    while queue:
        state = queue.popleft()
        if goal_pos <= state and not goal_neg & state:
            plan: list[str] = []
            link = parent[state]
            while link is not None:
                state, step = link
                plan.append(step)
                link = parent[state]
            return plan[::-1]
        for a in task.actions:
            if all(f in state for f in a.pre_pos) and not any(
                f in state for f in a.pre_neg
            ):
                succ = (state - set(a.delete)) | set(a.add)
                if succ not in parent:
                    parent[succ] = (state, a.pddl)
                    queue.append(succ)
        if len(parent) > limit:
            return None
    return None


SMALL = [
    ("blocksworld", "probBLOCKS-4-0"),
    ("blocksworld", "probBLOCKS-6-0"),
    ("depot", "p01"),
    ("gripper", "prob01"),
    ("gripper", "prob02"),
    ("logistics", "probLOGISTICS-5-2"),
    ("miconic", "s3-0"),
    ("miconic", "s4-0"),
    ("satellite", "p01-pfile1"),
    ("visitall", "problem03-full"),
]


@needs_bench
@pytest.mark.parametrize(("domain", "problem"), SMALL)
def test_benchmark_optimal_cost(domain: str, problem: str) -> None:
    _, _, task = _load(domain, problem)
    plan = _bfs(task)
    assert plan is not None
    lines = [*plan, f"; cost = {len(plan)} (unit cost)"]
    assert validate_plan(task, lines) == optimal_costs()[(domain, problem)]


def _objects_of(dom: Domain, prob: Problem) -> dict[str, list[str]]:
    """Return the objects of each type, computed independently of the grounder."""
    out: dict[str, list[str]] = {}
    for obj, types in sorted(object_types(dom, prob).items()):
        for t in types:
            while True:
                out.setdefault(t, []).append(obj)
                if t == "object":
                    break
                t = dom.types[t]
    return {t: sorted(set(objs)) for t, objs in out.items()}


def _naive_successors(
    dom: Domain, prob: Problem, task: GroundTask, state: frozenset[int]
) -> dict[str, frozenset[str]]:
    """Apply every instantiation of every schema by brute force."""
    always = {str(a) for a in prob.init} - set(task.facts)
    full = _names(task, state) | always
    members = _objects_of(dom, prob)
    fact_set = set(task.facts)
    out: dict[str, frozenset[str]] = {}
    for action in dom.actions:
        names = [p.name for p in action.parameters]
        domains = [
            sorted({o for t in p.types for o in members.get(t, [])})
            for p in action.parameters
        ]
        for combo in itertools.product(*domains):
            sub = dict(zip(names, combo, strict=True))

            def inst(args: tuple[str, ...], sub: dict[str, str] = sub) -> list[str]:
                return [sub.get(x, x) for x in args]

            ok = True
            pos: set[str] = set()
            for lit in action.precondition:
                args = inst(lit.atom.args)
                if lit.atom.predicate == "=":
                    holds = args[0] == args[1]
                else:
                    text = "(" + " ".join([lit.atom.predicate, *args]) + ")"
                    holds = text in full
                    if lit.positive:
                        pos.add(text)
                if holds != lit.positive:
                    ok = False
                    break
            if not ok:
                continue
            add = {
                "(" + " ".join([a.predicate, *inst(a.args)]) + ")" for a in action.add
            }
            dele = {
                "(" + " ".join([a.predicate, *inst(a.args)]) + ")"
                for a in action.delete
            }
            if add <= pos | always and not (dele - add) & fact_set:
                continue
            succ = (full - dele) | add
            assert always <= succ
            out["(" + " ".join([action.name, *combo]) + ")"] = frozenset(
                succ & fact_set
            )
    return out


def _ground_successors(
    task: GroundTask, state: frozenset[int]
) -> dict[str, frozenset[str]]:
    out = {}
    for a in task.actions:
        if set(a.pre_pos) <= state and not set(a.pre_neg) & state:
            out[a.pddl] = frozenset(_names(task, (state - set(a.delete)) | set(a.add)))
    return out


def _states(task: GroundTask, count: int) -> Iterator[frozenset[int]]:
    start = frozenset(task.init)
    seen = {start}
    queue = deque([start])
    while queue and count > 0:
        state = queue.popleft()
        count -= 1
        yield state
        for a in task.actions:
            if set(a.pre_pos) <= state and not set(a.pre_neg) & state:
                succ = (state - set(a.delete)) | set(a.add)
                if succ not in seen:
                    seen.add(succ)
                    queue.append(succ)


@needs_bench
@pytest.mark.parametrize(
    ("domain", "problem", "states"),
    [
        ("blocksworld", "probBLOCKS-4-0", 200),
        ("gripper", "prob01", 200),
        ("miconic", "s3-0", 100),
        ("visitall", "problem03-full", 100),
        ("satellite", "p01-pfile1", 15),
        ("logistics", "probLOGISTICS-5-2", 4),
        ("depot", "p01", 2),
    ],
)
def test_benchmark_matches_brute_force(domain: str, problem: str, states: int) -> None:
    dom, prob, task = _load(domain, problem)
    for state in _states(task, states):
        assert _ground_successors(task, state) == _naive_successors(
            dom, prob, task, state
        )


# ---------------------------------------------------------------------------
# A small hand-written task

TINY_DOMAIN = """\
; A robot carries balls to the hub.
(define (domain tiny)
  (:requirements :strips :typing :negative-preconditions :equality :action-costs)
  (:types room ball robot - object
          heavy - ball)
  (:constants hub - room)
  (:predicates (at ?r - robot ?x - room) (in ?b - ball ?x - room)
               (holding ?r - robot ?b - ball) (linked ?a ?b - room)
               (free ?r - robot) (locked ?x - room) (charged ?r - robot)
               (paired ?x ?y - ball))
  (:functions (total-cost) - number (dist ?a ?b - room) - number)
  (:action move
    :parameters (?r - robot ?from ?to - room)
    :precondition (and (at ?r ?from) (linked ?from ?to)
                       (not (= ?from ?to)) (not (locked ?to)))
    :effect (and (not (at ?r ?from)) (at ?r ?to)
                 (increase (total-cost) (dist ?from ?to))))
  (:action pick
    :parameters (?r - robot ?b - ball ?x - room)
    :precondition (and (at ?r ?x) (in ?b ?x) (free ?r) (charged ?r))
    :effect (and (holding ?r ?b) (not (in ?b ?x)) (not (free ?r))
                 (increase (total-cost) 2)))
  (:action drop
    :parameters (?r - robot ?b - ball)
    :precondition (and (at ?r hub) (holding ?r ?b))
    :effect (and (in ?b hub) (free ?r) (not (holding ?r ?b))
                 (increase (total-cost) 1)))
  (:action pair
    :parameters (?x ?y - ball)
    :precondition (and (in ?x hub) (in ?y hub) (not (= ?x ?y)))
    :effect (paired ?x ?y))
  (:action recharge
    :parameters (?r - robot)
    :precondition (and (at ?r hub) (not (free ?r)))
    :effect (and (not (at ?r hub)) (at ?r hub) (free ?r) (charged ?r))))
"""

TINY_PROBLEM = """\
(define (problem tiny-1) (:domain tiny)
  (:objects r1 - robot a b c - room b1 - ball h1 - heavy)
  (:init (at r1 hub) (in b1 a) (in h1 b) (free r1) (charged r1)
         (linked hub a) (linked a hub) (linked a b) (linked b a)
         (linked hub hub) (linked b c) (locked c)
         (= (dist hub a) 3) (= (dist a hub) 3) (= (dist a b) 1)
         (= (dist b a) 1) (= (dist b c) 7) (= (dist hub hub) 0)
         (= (total-cost) 0))
  (:goal (and (in b1 hub) (in h1 hub) (not (holding r1 b1))))
  (:metric minimize (total-cost)))
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _tiny(tmp_path: Path) -> GroundTask:
    dom = parse_domain(_write(tmp_path, "domain.pddl", TINY_DOMAIN))
    prob = parse_problem(_write(tmp_path, "problem.pddl", TINY_PROBLEM))
    return ground(dom, prob)


def test_tiny_exact_ground_actions(tmp_path: Path) -> None:
    task = _tiny(tmp_path)
    assert task.facts == (
        "(at r1 a)",
        "(at r1 b)",
        "(at r1 hub)",
        "(free r1)",
        "(holding r1 b1)",
        "(holding r1 h1)",
        "(in b1 a)",
        "(in b1 hub)",
        "(in h1 b)",
        "(in h1 hub)",
        "(paired b1 h1)",
        "(paired h1 b1)",
    )
    assert _names(task, task.init) == {
        "(at r1 hub)",
        "(in b1 a)",
        "(in h1 b)",
        "(free r1)",
    }
    assert _names(task, task.goal_pos) == {"(in b1 hub)", "(in h1 hub)"}
    assert _names(task, task.goal_neg) == {"(holding r1 b1)"}
    assert task.metric
    got = {
        a.pddl: (
            _names(task, a.pre_pos),
            _names(task, a.pre_neg),
            _names(task, a.add),
            _names(task, a.delete),
            a.cost,
        )
        for a in task.actions
    }

    def move(x: str, y: str, cost: int) -> tuple[object, ...]:
        return ({f"(at r1 {x})"}, set(), {f"(at r1 {y})"}, {f"(at r1 {x})"}, cost)

    def pick(b: str, x: str) -> tuple[object, ...]:
        return (
            {f"(at r1 {x})", f"(in {b} {x})", "(free r1)"},
            set(),
            {f"(holding r1 {b})"},
            {f"(in {b} {x})", "(free r1)"},
            2,
        )

    def drop(b: str) -> tuple[object, ...]:
        return (
            {"(at r1 hub)", f"(holding r1 {b})"},
            set(),
            {f"(in {b} hub)", "(free r1)"},
            {f"(holding r1 {b})"},
            1,
        )

    assert got == {
        # (move r1 hub hub) fails the equality, (move r1 b c) the static (locked c).
        "(move r1 hub a)": move("hub", "a", 3),
        "(move r1 a hub)": move("a", "hub", 3),
        "(move r1 a b)": move("a", "b", 1),
        "(move r1 b a)": move("b", "a", 1),
        # (charged r1) is static-true, so it is gone from pick and recharge.
        "(pick r1 b1 a)": pick("b1", "a"),
        "(pick r1 b1 hub)": pick("b1", "hub"),
        "(pick r1 h1 b)": pick("h1", "b"),
        "(pick r1 h1 hub)": pick("h1", "hub"),
        "(drop r1 b1)": drop("b1"),
        "(drop r1 h1)": drop("h1"),
        # Not (pair b1 b1): the inequality fails.  No increase: cost 0.
        "(pair b1 h1)": (
            {"(in b1 hub)", "(in h1 hub)"},
            set(),
            {"(paired b1 h1)"},
            set(),
            0,
        ),
        "(pair h1 b1)": (
            {"(in b1 hub)", "(in h1 hub)"},
            set(),
            {"(paired h1 b1)"},
            set(),
            0,
        ),
        # Deleted and added: it ends true, so the delete is dropped.
        "(recharge r1)": (
            {"(at r1 hub)"},
            {"(free r1)"},
            {"(at r1 hub)", "(free r1)"},
            set(),
            0,
        ),
    }
    assert [a.pddl for a in task.actions] == sorted(
        got, key=lambda s: tuple(s[1:-1].split())
    )


TINY_PLAN = """\
(move r1 hub a)
(pick r1 b1 a)
(move r1 a hub)
(drop r1 b1)
(MOVE R1 HUB A)
( move  r1 a b )
(pick r1 h1 b)
(move r1 b a)
(move r1 a hub)
(drop r1 h1)
; cost = 20 (general cost)
"""


def test_tiny_validate(tmp_path: Path) -> None:
    task = _tiny(tmp_path)
    plan = TINY_PLAN.splitlines()
    assert validate_plan(task, plan) == 20
    assert _bfs(task) is not None

    with pytest.raises(PlanError, match=r"step 2 \(pick r1 h1 b\): precondition") as e:
        validate_plan(task, ["(move r1 hub a)", "(pick r1 h1 b)"])
    assert e.value.step == 2
    with pytest.raises(PlanError, match=r"step 1 \(fly r1\): unknown action 'fly'"):
        validate_plan(task, ["(fly r1)"])
    with pytest.raises(PlanError, match=r"step 1 \(move r1 b c\): no reachable"):
        validate_plan(task, ["(move r1 b c)"])
    with pytest.raises(PlanError, match=r"goal not reached: \(in h1 hub\)"):
        validate_plan(task, plan[:4])
    with pytest.raises(PlanError, match=r"step 3 \(recharge r1\): negative"):
        validate_plan(task, ["(move r1 hub a)", "(move r1 a hub)", "(recharge r1)"])
    with pytest.raises(
        PlanError, match=r"goal not reached: .*\(not \(holding r1 b1\)\)"
    ):
        validate_plan(task, plan[:3])
    assert isinstance(e.value, ValueError)


def test_no_metric_means_unit_costs(tmp_path: Path) -> None:
    dom = parse_domain(_write(tmp_path, "d.pddl", TINY_DOMAIN))
    text = TINY_PROBLEM.replace("(:metric minimize (total-cost))", "")
    task = ground(dom, parse_problem(_write(tmp_path, "p.pddl", text)))
    assert not task.metric
    assert {a.cost for a in task.actions} == {1}
    assert validate_plan(task, TINY_PLAN.splitlines()) == 10


def test_upper_case_keywords_and_comments(tmp_path: Path) -> None:
    domain = """\
(DEFINE (DOMAIN Switch) ; comment after code
  (:REQUIREMENTS :STRIPS :NEGATIVE-PRECONDITIONS)
  ;; a whole-line comment (with parens
  (:PREDICATES (ON ?X) (Linked ?X ?Y))
  (:ACTION Toggle
    :PARAMETERS (?X ?Y)
    :PRECONDITION (AND (ON ?X) (NOT (ON ?Y)) (LINKED ?X ?Y))
    :EFFECT (AND (NOT (ON ?X)) (ON ?Y))))
"""
    problem = """\
(DEFINE (PROBLEM P1) (:DOMAIN SWITCH)
  (:OBJECTS L1 L2 L3)
  (:INIT (ON L1) (LINKED L1 L2) (LINKED L2 L3))
  (:GOAL (AND (ON L3) (NOT (ON L1)))))
"""
    dom = parse_domain(_write(tmp_path, "d.pddl", domain))
    task = ground(dom, parse_problem(_write(tmp_path, "p.pddl", problem), dom))
    assert task.facts == ("(on l1)", "(on l2)", "(on l3)")
    assert [a.pddl for a in task.actions] == ["(toggle l1 l2)", "(toggle l2 l3)"]
    assert _names(task, task.actions[0].pre_neg) == {"(on l2)"}
    assert validate_plan(task, ["(TOGGLE L1 L2)", "(toggle l2 l3)"]) == 2


def test_repeated_variables_and_constants(tmp_path: Path) -> None:
    domain = """\
(define (domain rep)
  (:constants c)
  (:predicates (rel ?x ?y) (mark ?x) (done ?x) (seen ?x ?y))
  (:action self :parameters (?x) :precondition (rel ?x ?x) :effect (done ?x))
  (:action pairup :parameters (?x ?y)
    :precondition (and (mark ?y) (seen ?x ?x)) :effect (done ?y))
  (:action grow :parameters (?x ?y) :precondition (rel ?x ?y) :effect (seen ?x ?y))
  (:action fix :parameters (?x) :precondition (seen ?x c) :effect (mark ?x))
  (:action never :parameters (?x) :precondition (seen c ?x) :effect (mark ?x))
  (:action dead :parameters (?x)
    :precondition (and (rel ?x ?x) (not (mark ?x))) :effect (done ?x)))
"""
    problem = """\
(define (problem rep1) (:domain rep)
  (:objects a b)
  (:init (rel a a) (rel a b) (rel b c) (mark a))
  (:goal (done b)))
"""
    dom = parse_domain(_write(tmp_path, "d.pddl", domain))
    task = ground(dom, parse_problem(_write(tmp_path, "p.pddl", problem)))
    assert [a.pddl for a in task.actions] == [
        "(fix b)",
        "(grow a a)",
        "(grow a b)",
        "(grow b c)",
        "(pairup a a)",
        "(pairup a b)",
        "(self a)",
    ]
    assert task.facts == (
        "(done a)",
        "(done b)",
        "(mark b)",
        "(seen a a)",
        "(seen a b)",
        "(seen b c)",
    )
    # (dead a) needs (mark a) false, but that is true forever.
    assert _names(task, task.init) == set()


def test_unreachable_goal_stays_unsolvable(tmp_path: Path) -> None:
    dom = parse_domain(_write(tmp_path, "d.pddl", TINY_DOMAIN))
    text = TINY_PROBLEM.replace("(in h1 hub)", "(in h1 c)").replace(
        "(not (holding r1 b1))", "(not (charged r1))"
    )
    task = ground(dom, parse_problem(_write(tmp_path, "p.pddl", text)))
    assert _names(task, task.goal_pos) == {"(in b1 hub)", "(in h1 c)"}
    assert _names(task, task.goal_neg) == {"(charged r1)"}
    assert "(charged r1)" in _names(task, task.init)
    assert _bfs(task) is None


def test_an_empty_goal_is_reached_by_the_empty_plan(tmp_path: Path) -> None:
    # It was refused as "this file has no 'goal:' (is it a pack? ...)".
    from click.testing import CliRunner

    from goap_engine.cli import main

    _write(tmp_path, "domain.pddl", TINY_DOMAIN)
    text = TINY_PROBLEM.replace(
        "(:goal (and (in b1 hub) (in h1 hub) (not (holding r1 b1))))", "(:goal (and))"
    )
    _write(tmp_path, "problem.pddl", text)
    args = ["plan", "--pddl", str(tmp_path / "domain.pddl")]
    result = CliRunner().invoke(main, [*args, str(tmp_path / "problem.pddl")])
    assert result.exit_code == 0, result.output
    assert "0 steps, cost 0 (optimal; astar + lmcut)" in result.stdout


def test_either_types_and_constants_in_problem(tmp_path: Path) -> None:
    domain = """\
(define (domain e)
  (:requirements :typing)
  (:types cat dog fish)
  (:constants rex - dog)
  (:predicates (fed ?p - (either cat dog)) (hungry ?p))
  (:action feed :parameters (?p - (either cat dog))
    :precondition (hungry ?p) :effect (and (fed ?p) (not (hungry ?p)))))
"""
    problem = """\
(define (problem e1) (:domain e)
  (:objects tom - cat nemo - fish)
  (:init (hungry tom) (hungry rex) (hungry nemo))
  (:goal (and (fed tom) (fed rex))))
"""
    dom = parse_domain(_write(tmp_path, "d.pddl", domain))
    task = ground(dom, parse_problem(_write(tmp_path, "p.pddl", problem)))
    assert [a.pddl for a in task.actions] == ["(feed rex)", "(feed tom)"]


# ---------------------------------------------------------------------------
# Errors

GOOD_DOMAIN = """\
(define (domain d)
  (:requirements :strips :typing)
  (:types block)
  (:constants table - block)
  (:predicates (on ?x ?y - block) (clear ?x - block))
  (:action move
    :parameters (?x ?y - block)
    :precondition (and (clear ?x) (clear ?y))
    :effect (and (on ?x ?y) (not (clear ?y)))))
"""

GOOD_PROBLEM = """\
(define (problem p) (:domain d)
  (:objects a b - block)
  (:init (clear a) (clear b))
  (:goal (and (on a b))))
"""


def _where(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """Return the 1-based line and column of an occurrence of ``needle``.

    ``nth`` counts occurrences from 0; -1 means the last one.
    """
    at = text.rindex(needle) if nth == -1 else -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


def _domain_error(tmp_path: Path, text: str) -> PddlError:
    path = _write(tmp_path, "domain.pddl", text)
    with pytest.raises(PddlError) as e:
        parse_domain(path)
    assert e.value.path == str(path)
    assert str(e.value).startswith(f"{path}:{e.value.line}:{e.value.col}: ")
    return e.value


def _problem_error(tmp_path: Path, text: str, domain: str = GOOD_DOMAIN) -> PddlError:
    dom = parse_domain(_write(tmp_path, "domain.pddl", domain))
    path = _write(tmp_path, "problem.pddl", text)
    prob = None
    with pytest.raises(PddlError) as e:
        prob = parse_problem(path)
        ground(dom, prob)
    assert e.value.path == str(path)
    return e.value


def test_good_inputs_parse(tmp_path: Path) -> None:
    dom = parse_domain(_write(tmp_path, "d.pddl", GOOD_DOMAIN))
    task = ground(dom, parse_problem(_write(tmp_path, "p.pddl", GOOD_PROBLEM), dom))
    assert "(move a b)" in {a.pddl for a in task.actions}
    assert "(move a table)" not in {a.pddl for a in task.actions}


UNSUPPORTED_DOMAIN = [
    # (replace this, with this, error points at, message contains)
    (
        "(not (clear ?y))",
        "(forall (?z - block) (not (clear ?z)))",
        "forall",
        "unsupported construct 'forall'",
    ),
    (
        "(not (clear ?y))",
        "(when (clear ?x) (not (clear ?y)))",
        "when",
        "unsupported construct 'when'",
    ),
    (
        "(clear ?y))\n",
        "(or (clear ?y) (on ?x ?y)))\n",
        "or (",
        "unsupported construct 'or'",
    ),
    (
        "(clear ?y))\n",
        "(exists (?z - block) (on ?z ?y)))\n",
        "exists",
        "unsupported construct 'exists'",
    ),
    (
        "(clear ?y))\n",
        "(not (or (clear ?y))))\n",
        "or (",
        "unsupported construct 'or'",
    ),
    (
        "(clear ?y))\n",
        "(> (height ?y) 2))\n",
        ">",
        "numeric conditions",
    ),
    (
        "(not (clear ?y))",
        "(increase (height ?y) 1)",
        "increase",
        "numeric fluents other than (total-cost)",
    ),
    (
        "(not (clear ?y))",
        "(decrease (total-cost) 1)",
        "decrease",
        "unsupported construct 'decrease'",
    ),
    (
        "(not (clear ?y))",
        "(assign (height ?y) 1)",
        "assign",
        "unsupported construct 'assign'",
    ),
    (":typing)", ":typing :fluents)", ":fluents", "unsupported requirement"),
    (":typing)", ":typing :durative-actions)", ":durative", "unsupported requirement"),
    (":typing)", ":typing :teleport)", ":teleport", "unknown requirement"),
    (
        "  (:action move",
        "  (:derived (above ?x ?y - block) (on ?x ?y))\n  (:action move",
        ":derived",
        "unsupported construct ':derived'",
    ),
    (
        "(:predicates",
        "(:functions (height ?b - block) - object)\n  (:predicates",
        "object)",
        "function type 'object'",
    ),
]


@pytest.mark.parametrize(("old", "new", "at", "message"), UNSUPPORTED_DOMAIN)
def test_unsupported_constructs(
    tmp_path: Path, old: str, new: str, at: str, message: str
) -> None:
    assert old in GOOD_DOMAIN
    text = GOOD_DOMAIN.replace(old, new, 1)
    err = _domain_error(tmp_path, text)
    assert (err.line, err.col) == _where(text, at)
    assert message in err.message


DOMAIN_ERRORS = [
    ("(clear ?y)))))", "(clear ?y))))))", ")", -1, "unexpected ')'"),
    ("(:types block)", "(:types block))", "(:constants", 0, "')' at 3:17"),
    ("(clear ?x - block))", "(clear ?x - block)", "(:predicates", 0, "unclosed"),
    ("(clear ?y)))))", "(clear ?y))))", "(define", 0, "unclosed '('"),
    ("(clear ?x) (clear ?y)", "(clear ?x) (free ?y)", "free", 0, "unknown predicate"),
    ("(clear ?x) (clear ?y)", "(clear ?x ?y)", "(clear ?x ?y)", 0, "takes 1 arg"),
    ("(not (clear ?y))", "(not (on ?y))", "(on ?y)", 0, "takes 2 arg"),
    ("(clear ?x) (clear ?y)", "(clear ?x) (clear ?z)", "?z", 0, "unknown variable"),
    ("(clear ?x) (clear ?y)", "(clear ?x) (clear floor)", "floor", 0, "constant"),
    ("(?x ?y - block)", "(?x - block ?y - pyramid)", "pyramid", 0, "unknown type"),
    ("(clear ?x - block)", "(clear ?x - blok)", "blok", 0, "unknown type 'blok'"),
    ("table - block", "table - tabel", "tabel", 0, "unknown type 'tabel'"),
    ("(clear ?x) (clear ?y)", "(clear ?x) (clear (f ?y))", "(f ?y)", 0, "nested"),
    ("(:types block)", "(:types block)\n  (:types pile)", ":types", 1, "duplicate"),
    ("(clear ?x - block))", "(clear ?x - block) (on ?a))", "on ?a", 0, "duplicate"),
    ("(domain d)", "(problem d)", "(problem d)", 0, "expected (domain NAME)"),
]


@pytest.mark.parametrize(("old", "new", "at", "nth", "message"), DOMAIN_ERRORS)
def test_domain_errors(
    tmp_path: Path, old: str, new: str, at: str, nth: int, message: str
) -> None:
    assert old in GOOD_DOMAIN
    text = GOOD_DOMAIN.replace(old, new, 1)
    err = _domain_error(tmp_path, text)
    assert (err.line, err.col) == _where(text, at, nth)
    assert message in err.message


PROBLEM_ERRORS = [
    ("(clear b))", "(clear c))", "c))", 0, "unknown object 'c'"),
    ("(on a b)", "(on a z)", "z)", 0, "unknown object 'z'"),
    ("(clear b))", "(clear a b))", "(clear a b)", 0, "takes 1 argument(s), found 2"),
    ("(clear b))", "(clr b))", "clr", 0, "unknown predicate 'clr'"),
    ("a b - block", "a b - boulder", "boulder", 0, "unknown type 'boulder'"),
    ("(:domain d)", "(:domain e)", "e)", 0, "not 'd'"),
    ("(on a b)", "(on a b) (= a b)", "=", 0, "'=' in :goal"),
    ("(on a b)", "(on a ?b)", "?b", 0, "unknown variable"),
    ("(clear b))", "(clear b) (not (clear a)))", "not", 0, "negative literals"),
    ("(on a b)))", "(on a b)))\n  (:metric maximize (total-cost))", "(:metric", 0, ""),
    ("(on a b)))", "(on a b))))", ")", -1, "unexpected ')'"),
    ("(clear b))", "(clear b)", "(:init", 0, "missing ')' before '(:goal'"),
    ("(:init", "(:init (at 10 (clear a))", "at 10", 0, "timed initial literals"),
    ("(on a b)", "(forall (?x - block) (clear ?x))", "forall", 0, "'forall'"),
]


@pytest.mark.parametrize(("old", "new", "at", "nth", "message"), PROBLEM_ERRORS)
def test_problem_errors(
    tmp_path: Path, old: str, new: str, at: str, nth: int, message: str
) -> None:
    assert old in GOOD_PROBLEM
    text = GOOD_PROBLEM.replace(old, new, 1)
    err = _problem_error(tmp_path, text)
    assert (err.line, err.col) == _where(text, at, nth)
    assert message in err.message


def test_missing_cost_value(tmp_path: Path) -> None:
    dom_path = _write(tmp_path, "domain.pddl", TINY_DOMAIN)
    dom = parse_domain(dom_path)
    text = TINY_PROBLEM.replace("(= (dist a b) 1)", "")
    prob = parse_problem(_write(tmp_path, "problem.pddl", text))
    with pytest.raises(PddlError, match=r"no value for \(dist a b\)") as e:
        ground(dom, prob)
    assert (e.value.path, e.value.line, e.value.col) == (
        str(dom_path),
        *_where(TINY_DOMAIN, "(dist ?from ?to)"),
    )


def test_error_string_and_reader_positions() -> None:
    err = PddlError("x.pddl", 3, 7, "bad thing")
    assert str(err) == "x.pddl:3:7: bad thing"
    assert (err.path, err.line, err.col, err.message) == ("x.pddl", 3, 7, "bad thing")
    exprs = read_sexprs("; c\n  (A\n\t(b C))", "s")
    assert len(exprs) == 1
    assert repr(exprs[0]).startswith("SList(items=(SAtom(text='a', line=2, col=4)")
    with pytest.raises(PddlError, match=r"^s:1:1: unclosed"):
        read_sexprs("(a (b)", "s")
    with pytest.raises(PddlError, match=r"^s:1:6: unexpected"):
        read_sexprs("(a b))", "s")
    with pytest.raises(PddlError, match=r"^s:1:1: empty file"):
        parse_domain_text("; nothing here\n", "s")


_PIECES = ["(", ")", " - ", "?x", "and", "(not ", "=", "either", ":action", "5", ""]


@settings(max_examples=200, deadline=None)
@given(
    st.booleans(),
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 6), st.sampled_from(_PIECES)),
        min_size=1,
        max_size=3,
    ),
)
def test_damaged_input_gives_located_errors(
    damage_domain: bool, edits: list[tuple[int, int, str]]
) -> None:
    text = TINY_DOMAIN if damage_domain else TINY_PROBLEM
    for at, length, piece in edits:
        at %= len(text)
        text = text[:at] + piece + text[at + length :]
    try:
        if damage_domain:
            dom = parse_domain_text(text, "d")
            prob = parse_problem_text(TINY_PROBLEM, "p")
        else:
            dom = parse_domain_text(TINY_DOMAIN, "d")
            prob = parse_problem_text(text, "p", dom)
        ground(dom, prob)
    except PddlError as e:
        lines = text.splitlines()
        if e.path == ("d" if damage_domain else "p"):
            assert 1 <= e.line <= len(lines)
            assert 1 <= e.col <= len(lines[e.line - 1]) + 1
