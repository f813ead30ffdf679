"""The YAML reader gives the values and positions the language has always had.

Until this reader, files were read with ruamel.yaml's round-trip loader; every
YAML file of the repository must still give the same values and the same
line:col for every key and value (ruamel.yaml stays installed for writing
YAML, so it serves as the reference here).
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from goap_engine.documents import Document, read_document
from goap_engine.yaml_reader import MAX_DEPTH, YamlError, parse

ROOT = Path(__file__).resolve().parents[1]
REPO_YAML = sorted(
    p
    for folder in ("goals.d", "examples", "tests/data", "engine")
    for p in (ROOT / folder).rglob("*.yaml")
)


def _reference(text: str) -> tuple[Any, dict[tuple[Any, ...], tuple[int, ...]]]:
    """Return ruamel.yaml's values of ``text`` and its key and value positions."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    data = yaml.load(text)
    marks: dict[tuple[Any, ...], tuple[int, ...]] = {}

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if len(marks) > 100_000:  # aliases can expand a small file enormously
            raise ValueError("too many values")
        if isinstance(node, CommentedMap):
            for key in node:
                if key in node.lc.data:
                    kl, kc, vl, vc = node.lc.data[key]
                    marks[(*path, key)] = (kl + 1, kc + 1, vl + 1, vc + 1)
                walk(node[key], (*path, key))
        elif isinstance(node, CommentedSeq):
            for i, item in enumerate(node):
                line, col = node.lc.data[i]
                marks[(*path, i)] = (line + 1, col + 1, line + 1, col + 1)
                walk(item, (*path, i))

    walk(data, ())
    return _plain(data), marks


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


REFUSED_AFTER_READING = (
    "numbers must be finite",
    "invalid YAML: unsupported tag",
    "invalid YAML: aliases expand",
    # New: ruamel.yaml read "{{ x }}" as a mapping with a mapping for a key.
    "invalid YAML: quote a value that starts with {{",
)


@pytest.mark.parametrize("path", REPO_YAML, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_reads_as_before(path: Path) -> None:
    text = path.read_text("utf-8", "replace")
    try:
        expected, marks = _reference(text)
    except Exception:
        # Broken on purpose (the invalid corpus has its own expectations): it
        # is refused with a located reason or read, never a crash.
        try:
            parse(text)
        except YamlError as exc:
            assert exc.line >= 1
        return
    try:
        parsed = parse(text)
    except YamlError as exc:
        # What the reference read but the engine refused right after reading.
        assert exc.reason.startswith(REFUSED_AFTER_READING), exc.reason
        return
    if expected is None:
        assert parsed is None or parsed.data is None
        return
    assert parsed is not None
    assert parsed.data == expected
    # ruamel.yaml kept no position for keys copied by a merge key ("<<").
    assert {p: m for p, m in parsed.marks.items() if p in marks} == marks
    assert all(p in parsed.marks for p in marks)


def test_the_comparison_covers_the_seed_goal_and_its_packs() -> None:
    names = {str(p.relative_to(ROOT)) for p in REPO_YAML}
    assert "goals.d/production.yaml" in names
    assert "engine/goap_engine/packs/git.yaml" in names
    assert len(names) > 300


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("tRue", "tRue"),
        ("~", None),
        ("null", None),
        ("", None),
        ("0o12", 10),
        ("012", 12),
        ("0x1F", 31),
        ("0b101", 5),
        ("-0x1A", -26),
        ("1_000", 1000),
        ("+12", 12),
        ("1,000", "1,000"),
        ("1e3", 1000.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("685_230.15", 685230.15),
        ("12:30", "12:30"),
        ("NaN", "NaN"),
        ("inf", "inf"),
        ("2024-01-02", datetime.date(2024, 1, 2)),
        ("=", "="),
        ("'1'", "1"),
        ('"true"', "true"),
        ("!!str 1", "1"),
        ("!!int '7'", 7),
        ("!!float 1", 1.0),
        ("!!bool yes", True),
        ("! 12", 12),
    ],
)
def test_scalars_follow_yaml_1_2_as_before(written: str, value: Any) -> None:
    parsed = parse(f"k: {written}\n")
    assert parsed is not None
    assert parsed.data == {"k": value}
    assert type(parsed.data["k"]) is type(value)


def test_a_timestamp_keeps_its_time_zone() -> None:
    parsed = parse("k: 2024-01-02T10:00:00Z\n")
    assert parsed is not None
    assert parsed.data["k"] == datetime.datetime(2024, 1, 2, 10, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("text", "line", "col", "reason"),
    [
        ("a:\n\tb: 1\n", 2, 1, "invalid YAML: tabs cannot indent YAML, use spaces"),
        ("a: 1\n\tb: 2\n", 2, 1, "invalid YAML: tabs cannot indent YAML, use spaces"),
        (
            "a:\n  - 1\n  -\t2\n",
            3,
            4,
            "invalid YAML: tabs cannot indent YAML, use spaces",
        ),
        (
            "a: 1\nrun: {{ cmd }}\n",
            2,
            6,
            "invalid YAML: quote a value that starts with {{: unquoted, YAML reads "
            "'{' as a mapping",
        ),
        (
            "run: {{ cmd }} --fast\n",
            1,
            6,
            "invalid YAML: quote a value that starts with {{: unquoted, YAML reads "
            "'{' as a mapping",
        ),
        (
            "a:\n  - {{ cmd }}\n",
            2,
            5,
            "invalid YAML: quote a value that starts with {{: unquoted, YAML reads "
            "'{' as a mapping",
        ),
        (
            'a: 1\nb: "open\nc: 2\n',
            2,
            4,
            "invalid YAML: while scanning a quoted scalar that is never closed",
        ),
        (
            "a: 1\nb: 'open\nc: 2\n",
            2,
            4,
            "invalid YAML: while scanning a quoted scalar that is never closed",
        ),
        (
            "a: [1, 2\nc: 2\n",
            1,
            4,
            "invalid YAML: the '[' opened here is never closed "
            "(did not find expected ',' or ']' at 2:2)",
        ),
        (
            "a: {x: 1\n",
            1,
            4,
            "invalid YAML: the '{' opened here is never closed "
            "(did not find expected ',' or '}' at 2:1)",
        ),
        ("a: 1\na: 2\n", 2, 1, "duplicate key: key 'a' appears twice in one mapping"),
        ("1: a\n01: b\n", 2, 1, "duplicate key: key '1' appears twice in one mapping"),
        ("a: !!python/none x\n", 1, 4, "invalid YAML: unsupported tag '!!python/none'"),
        ("a: !custom\n  b: 1\n", 1, 4, "invalid YAML: unsupported tag '!custom'"),
        ("a: !!binary aGk=\n", 1, 4, "invalid YAML: unsupported tag '!!binary'"),
        ("a: .inf\n", 1, 4, "numbers must be finite, found inf"),
        ("a: [1, -.inf]\n", 1, 8, "numbers must be finite, found -inf"),
        ("a: 1e999\n", 1, 4, "numbers must be finite, found inf"),
        ("a: *nope\n", 1, 4, "invalid YAML: found undefined alias 'nope'"),
        ("a: &x [*x]\n", 1, 4, "invalid YAML: an alias refers to the value it is in"),
        (
            "a: &x 1\nb: &x 2\n",
            2,
            4,
            "invalid YAML: anchor &x is defined twice (first at 1:4)",
        ),
        (
            "a: " + "[" * 200 + "]" * 200,
            1,
            4 + MAX_DEPTH - 1,
            f"invalid YAML: nested deeper than {MAX_DEPTH}",
        ),
        ("a: !!int x\n", 1, 4, "invalid YAML: 'x' is not an integer"),
        ("a: 2024-13-45\n", 1, 4, "invalid YAML: '2024-13-45': month must be in 1..12"),
        ("a: b\x07c\n", 1, 5, "invalid YAML: unacceptable character #x0007: "),
        ("m:\n  <<: 5\n", 2, 7, "invalid YAML: expected a mapping or list of mappings"),
        ("m:\n  <<: [1]\n", 2, 8, "invalid YAML: expected a mapping for merging"),
        ("a: 1\n---\nb: 2\n", 2, 1, "invalid YAML: but found another document"),
    ],
)
def test_unreadable_yaml_is_explained_where_the_fix_goes(
    text: str, line: int, col: int, reason: str
) -> None:
    with pytest.raises(YamlError) as caught:
        parse(text)
    assert (caught.value.line, caught.value.col) == (line, col)
    assert caught.value.reason.startswith(reason)


def test_a_template_in_a_block_or_quoted_scalar_is_no_unquoted_value() -> None:
    text = "run: |\n  {{ vars.x }}\nq: '{{ y }}'\nz: [1, 2\nw: 1\n"
    with pytest.raises(YamlError) as caught:
        parse(text)
    assert (caught.value.line, caught.value.col) == (4, 4)
    assert caught.value.reason.startswith("invalid YAML: the '[' opened here")


def test_aliases_that_expand_past_the_limit_are_refused() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, prev in zip("bcdef", "abcde", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(YamlError) as caught:
        parse("\n".join(lines) + "\n")
    assert caught.value.reason == (
        "invalid YAML: aliases expand the document beyond 100,000 values"
    )


def test_an_alias_repeats_its_values_and_their_positions() -> None:
    parsed = parse("a: &x {k: [1, 2]}\nb: *x\n")
    assert parsed is not None
    assert parsed.data == {"a": {"k": [1, 2]}, "b": {"k": [1, 2]}}
    assert parsed.marks[("b", "k", 1)] == (1, 15, 1, 15)


def test_merge_keys_add_what_the_mapping_lacks_the_first_source_winning() -> None:
    text = (
        "a: &a {x: 1, y: 1}\n"
        "b: &b {y: 2, z: 2}\n"
        "m:\n"
        "  <<: [*a, *b]\n"
        "  x: 3\n"
        "n:\n"
        "  '<<': {q: 1}\n"
    )
    parsed = parse(text)
    assert parsed is not None
    assert parsed.data["m"] == {"x": 3, "y": 1, "z": 2}
    assert list(parsed.data["m"]) == ["x", "y", "z"]
    # A quoted "<<" is an ordinary key.
    assert parsed.data["n"] == {"<<": {"q": 1}}
    # Own keys keep their place; merged ones point where they are written.
    assert parsed.marks[("m", "x")] == (5, 3, 5, 6)
    assert parsed.marks[("m", "z")] == (2, 14, 2, 17)


def test_a_second_merge_key_is_a_duplicate() -> None:
    with pytest.raises(YamlError) as caught:
        parse("a: &a {x: 1}\nm:\n  <<: *a\n  <<: *a\n")
    assert (caught.value.line, caught.value.col) == (4, 3)
    assert caught.value.reason == "duplicate key: key '<<' appears twice in one mapping"


def test_a_list_as_a_key_is_a_tuple_and_a_mapping_is_refused() -> None:
    parsed = parse("? [a, b]\n: 1\n")
    assert parsed is not None
    assert parsed.data == {("a", "b"): 1}
    with pytest.raises(YamlError, match="a mapping as a key"):
        parse("? {a: 1}\n: 1\n")


def test_a_missing_value_is_located_as_before() -> None:
    parsed = parse("a:\nb: {c: }\nd: # note\ne: 1\n")
    assert parsed is not None
    assert parsed.data == {"a": None, "b": {"c": None}, "d": None, "e": 1}
    assert parsed.marks[("a",)][2:] == (2, 1)
    assert parsed.marks[("b", "c")][2:] == (2, 7)
    assert parsed.marks[("d",)][2:] == (3, 3)


def test_an_escaped_lone_surrogate_is_read_for_later_checks() -> None:
    parsed = parse('a: 1\nb: "x\\ud800"\n')
    assert parsed is not None
    assert parsed.data == {"a": 1, "b": "x\ud800"}
    assert parsed.marks[("b",)] == (2, 1, 2, 4)


def test_an_empty_or_comment_only_file_has_no_document() -> None:
    assert parse("") is None
    assert parse("# nothing\n") is None
    empty = parse("~\n")
    assert empty is not None
    assert empty.data is None


def test_where_points_at_the_deepest_part_of_a_path_that_exists(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(
        "version: 1\nactions:\n  push:\n    pre: 'x > 1'\n    cost: 2\n",
        encoding="utf-8",
    )
    doc, problems = read_document(path)
    assert problems == []
    assert isinstance(doc, Document)
    where = doc.where(("actions", "push", "cost"))
    assert (where.line, where.col) == (5, 11)
    key = doc.where(("actions", "push", "cost"), key=True)
    assert (key.line, key.col) == (5, 5)
    missing = doc.where(("actions", "push", "nope", "deeper"))
    assert (missing.line, missing.col) == (4, 5)
    nowhere = doc.where(("state",))
    assert (nowhere.line, nowhere.col) == (1, 1)
    # Inside a quoted expression, columns count from after the quote.
    inside = doc.expr_where(("actions", "push", "pre"), 4)
    assert (inside.line, inside.col) == (4, 15)


def test_values_are_plain_python_types() -> None:
    parsed = parse("a: {b: [1, 2.5, x, 'y', true, ~]}\n")
    assert parsed is not None
    values = parsed.data["a"]["b"]
    assert type(parsed.data) is dict
    assert type(parsed.data["a"]["b"]) is list
    assert [type(v) for v in values] == [int, float, str, str, bool, type(None)]
    assert not any(isinstance(v, float) and math.isnan(v) for v in values)
