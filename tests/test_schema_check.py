"""The compiled schema check accepts exactly what jsonschema accepts.

``check_schema`` trusts jsonschema_rs's "valid" without walking the document,
so these tests run both validators on every YAML document of the repository,
on damaged copies of them, and on values where the two regex dialects or the
YAML node types differ, and compare.
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goap_engine import documents, schema_check
from goap_engine.documents import check_schema, read_document
from goap_engine.schema_check import (
    PYTHON_SPACE,
    ecma_pattern,
    fast_validators,
    plain_json,
    schema_documents,
    surely_valid,
)

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("tests/data", "examples", "goals.d", "engine/goap_engine/packs")
NAMES = ("pack", "goal")


def repository_documents() -> list[documents.Document]:
    paths = sorted(
        path
        for folder in FOLDERS
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".yaml", ".yml") and path.is_file()
    )
    found = []
    for path in paths:
        doc, _ = read_document(path)
        if doc is not None:
            found.append(doc)
    return found


DOCUMENTS = repository_documents()


def jsonschema_accepts(data: Any, name: str) -> bool:
    return not any(True for _ in documents._validator(name).iter_errors(data))


def walked(doc: documents.Document, name: str) -> list[documents.Diagnostic]:
    """Return ``check_schema``'s answer with the fast check switched off."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(documents, "surely_valid", lambda data, name: False)
        return check_schema(doc, name)


def test_both_schemas_are_compiled() -> None:
    assert sorted(fast_validators()) == sorted(NAMES)


def test_every_repository_document_gets_the_same_verdict() -> None:
    verdicts = {True: 0, False: 0}
    differ = []
    for doc in DOCUMENTS:
        for name in NAMES:
            expected = jsonschema_accepts(doc.data, name)
            verdicts[expected] += 1
            if surely_valid(doc.data, name) != expected:
                differ.append((doc.shown, name, expected))
    assert differ == []
    # Both verdicts occur often, so the comparison means something.
    assert verdicts[True] >= 50
    assert verdicts[False] >= 50


def test_every_repository_document_gets_the_same_diagnostics() -> None:
    for doc in DOCUMENTS:
        for name in NAMES:
            assert check_schema(doc, name) == walked(doc, name), doc.shown


PACK = """\
version: 1
state:
  built: bool
  tries: {type: int, default: 0, max: 5}
actions:
  build:
    pre: [not built]
    effects: {built: true}
    cost: 1
    timeout: 5m
    run: make
"""

# Each replaces one line of PACK; the verdict is jsonschema's.
VARIANTS = {
    "version: true": ("version: 1", "version: true", False),
    "version 1.0": ("version: 1", "version: 1.0", True),
    "version 0x1": ("version: 1", "version: 0x1", True),
    "hex retries": ("    cost: 1", "    cost: 1\n    retries: 0x10", True),
    "float retries": ("    cost: 1", "    cost: 1\n    retries: 1e1", True),
    "huge cost": ("    cost: 1", "    cost: 100000000000000000000000000", False),
    "largest cost": ("    cost: 1", "    cost: 1000000000000000", True),
    "quoted cost": ("    cost: 1", '    cost: "built and 1"', True),
    "true as a name": ("  built: bool", "  built: bool\n  true: bool", False),
    "number as a name": ("  built: bool", "  built: bool\n  7: bool", False),
    "name with a newline": ("  built: bool", '  built: bool\n  "ok\\n": bool', True),
    "name with two newlines": (
        "  built: bool",
        '  built: bool\n  "ok\\n\\n": bool',
        False,
    ),
    "duration with a BOM": ("    timeout: 5m", '    timeout: "5m\\ufeff"', False),
    "duration with U+001C": ("    timeout: 5m", '    timeout: "5m\\x1c"', True),
    "duration with U+0085": ("    timeout: 5m", '    timeout: "5m\\N"', True),
    "duration with a no-break space": ("    timeout: 5m", '    timeout: "5m\\_"', True),
    "duration with a newline": ("    timeout: 5m", '    timeout: "5m\\n"', True),
    "lone surrogate": ("    run: make", '    run: "make \\ud800"', True),
    "anchored hook": ("    run: make", "    run: &h make\n    description: *h", True),
    "empty hook": ("    run: make", '    run: ""', False),
    "run as a number": ("    run: make", "    run: 7", False),
    "unknown key": ("    run: make", "    run: make\n    rn: make", False),
    "lifetime zero": (
        "  built: bool",
        "  built: bool\n  seen: {type: bool, remember: 0}",
        False,
    ),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_tricky_values_get_jsonschema_verdict(write, variant: str) -> None:
    old, new, valid = VARIANTS[variant]
    assert old in PACK
    doc, problems = read_document(write("p.yaml", PACK.replace(old, new, 1)))
    assert doc is not None, problems
    assert jsonschema_accepts(doc.data, "pack") is valid
    assert surely_valid(doc.data, "pack") is valid
    assert check_schema(doc, "pack") == walked(doc, "pack")
    assert (check_schema(doc, "pack") == []) is valid


def schema_patterns() -> list[str]:
    found: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    found.append(value)
                else:
                    collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(schema_documents())
    return sorted(set(found))


def test_python_space_is_what_re_calls_space() -> None:
    python = {chr(c) for c in range(0x110000) if re.fullmatch(r"\s", chr(c))}
    listed = {
        chr(c) for c in range(0x110000) if re.fullmatch(f"[{PYTHON_SPACE}]", chr(c))
    }
    assert listed == python


def test_translated_space_matches_like_python_in_every_plane_0_character() -> None:
    translated = ecma_pattern(r"^\s$")
    assert translated is not None
    validator = jsonschema_rs.Draft7Validator({"pattern": translated})
    differ = [
        hex(c)
        for c in range(0x10000)
        if not 0xD800 <= c < 0xE000
        and validator.is_valid(chr(c)) != bool(re.search(r"^\s$", chr(c)))
    ]
    assert differ == []


TRICKY = "\t\n\r \x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000\ufeff\u200b"
PATTERN_TEXT = st.text(
    alphabet=st.sampled_from(f"{TRICKY}aZ_9.5ms:-hd{chr(0x212A)}"), max_size=12
)


@pytest.mark.parametrize("pattern", schema_patterns())
@settings(max_examples=300, deadline=None)
@given(text=PATTERN_TEXT)
def test_every_schema_pattern_matches_like_python(pattern: str, text: str) -> None:
    translated = ecma_pattern(pattern)
    assert translated is not None
    validator = jsonschema_rs.Draft7Validator({"pattern": translated})
    assert validator.is_valid(text) == bool(re.search(pattern, text))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"^a$", r"^a\n?$"),
        (r"^a\$", r"^a\$"),
        (r"^a$|b", r"^a$|b"),
        (r"[$]", r"[$]"),
        (r"^\s+$", rf"^[{PYTHON_SPACE}]+\n?$"),
        (r"^[\sx]$", rf"^[{PYTHON_SPACE}x]\n?$"),
        (r"\\s", r"\\s"),
        (r"^\d$", None),
        (r"^\w+", None),
        (r"\bword", None),
    ],
)
def test_ecma_pattern(pattern: str, expected: str | None) -> None:
    assert ecma_pattern(pattern) == expected


def test_plain_json_refuses_what_json_cannot_hold() -> None:
    assert plain_json({"a": [1, 2.5, True, None, "x"]}) == {
        "a": [1, 2.5, True, None, "x"]
    }
    with pytest.raises(TypeError, match="mapping key 1 is not a string"):
        plain_json({"a": {1: "x"}})
    with pytest.raises(TypeError, match="tuple is not a JSON type"):
        plain_json({"a": (1, 2)})


def paths_of(node: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths_of(value, (*here, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths_of(value, (*here, i))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from(f"{TRICKY}ab_1.ms"), max_size=6)
    | st.sampled_from(["bool", "int", "enum", "5m", "git.push", "m:f", "always"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "run", "cost", "x", "shell", "expr", "git", "as"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=6,
)
PLAIN_DOCUMENTS = [plain_json(doc.data) for doc in DOCUMENTS[:40]]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_documents_get_the_same_verdict(data: st.DataObject) -> None:
    document = copy.deepcopy(data.draw(st.sampled_from(PLAIN_DOCUMENTS)))
    path = data.draw(st.sampled_from(list(paths_of(document))[1:]))
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = data.draw(JSON_VALUES)
    for name in NAMES:
        assert surely_valid(document, name) == jsonschema_accepts(document, name)


def test_without_the_compiled_library_every_document_is_walked(
    monkeypatch: pytest.MonkeyPatch, write
) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema_rs", None)
    fast_validators.cache_clear()
    try:
        assert fast_validators() == {}
        good, _ = read_document(write("good.yaml", PACK))
        bad, _ = read_document(write("bad.yaml", PACK.replace("cost: 1", "cost: -1")))
        assert good is not None and bad is not None
        assert not schema_check.surely_valid(good.data, "pack")
        assert check_schema(good, "pack") == []
        assert [str(d) for d in check_schema(bad, "pack")] == [
            f"{bad.shown}:9:11: error: action 'build' cost: -1 is less than "
            "the minimum of 0"
        ]
    finally:
        monkeypatch.undo()
        fast_validators.cache_clear()
    assert sorted(fast_validators()) == sorted(NAMES)


def test_the_schemas_name_the_planner_s_searches_and_heuristics() -> None:
    from goap_engine.planner.heuristics import HEURISTICS
    from goap_engine.planner.search import SEARCHES
    from goap_engine.schema_check import schema_documents

    policy = schema_documents()["goal"]["properties"]["policy"]["properties"]
    assert policy["search"]["enum"] == list(SEARCHES)
    assert policy["heuristic"]["enum"] == list(HEURISTICS)


def test_the_printed_goal_schema_works_alone() -> None:
    """A saved copy needs neither the pack schema nor the network."""
    import json

    import jsonschema
    import yaml

    from goap_engine.documents import schema_text

    text = schema_text("goal")
    assert "pack.schema.json" not in text
    validator = jsonschema.Draft7Validator(json.loads(text))
    root = Path(__file__).resolve().parents[1]
    goals = [root / "goals.d/production.yaml"]
    goals += sorted((root / "examples").glob("*/goals.d/*.yaml"))
    for goal in goals:
        assert list(validator.iter_errors(yaml.safe_load(goal.read_text()))) == []
    broken = {"version": 1, "goal": "x", "state": {"a": {"type": "nope"}}}
    assert list(validator.iter_errors(broken))
