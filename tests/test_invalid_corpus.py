"""Every broken input in tests/data/invalid/ is refused with the error it names.

A case is a top-level ``*.yaml`` file, or a folder whose ``goal.yaml`` uses the
other files in it.  The first line of a case says what it must produce::

    # expect: 7:10: error: action 'push': precondition ...

The expectation is a substring of one error line, including its line:col, so
a case pins both what is reported and where.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from goap_engine.cli import main
from goap_engine.errors import EXIT_INPUT
from goap_engine.validate import validate_paths

CORPUS = Path(__file__).resolve().parent / "data" / "invalid"
EXPECT = "# expect:"

# A zero-byte file cannot carry its expectation in a comment.
EXPECT_WITHOUT_COMMENT = {
    "empty": "empty.yaml:1:1: error: empty file: expected a mapping",
}

# Engine defects found with this corpus.  Each case states the diagnostic the
# engine should give; until the defect is fixed the case is an expected
# failure, and strict so that a fix is noticed and the marker removed.
KNOWN_DEFECTS: dict[str, str] = {}

# Cases that must not run at all while their defect stands (they would hang).
NOT_RUN: set[str] = set()


def corpus_cases() -> list[Path]:
    files = sorted(CORPUS.glob("*.yaml"))
    folders = sorted(p / "goal.yaml" for p in CORPUS.iterdir() if p.is_dir())
    return files + folders


def case_id(path: Path) -> str:
    return path.parent.name if path.name == "goal.yaml" else path.stem


def expectation(path: Path) -> str | None:
    """Return the expected substring of ``path``, or None if it states none."""
    if case_id(path) in EXPECT_WITHOUT_COMMENT:
        return EXPECT_WITHOUT_COMMENT[case_id(path)]
    # Bytes, not text: one case is deliberately not valid UTF-8 after line 1.
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    if not first.startswith(EXPECT):
        return None
    return first[len(EXPECT) :].strip()


def corpus_params() -> list[object]:
    params = []
    for path in corpus_cases():
        name = case_id(path)
        marks = []
        if name in KNOWN_DEFECTS:
            marks.append(
                pytest.mark.xfail(
                    reason=KNOWN_DEFECTS[name], strict=True, run=name not in NOT_RUN
                )
            )
        params.append(pytest.param(path, id=name, marks=marks))
    return params


def test_corpus_is_large_enough() -> None:
    assert len(corpus_cases()) >= 40


def test_every_case_states_its_expectation() -> None:
    missing = [case_id(p) for p in corpus_cases() if not expectation(p)]
    assert missing == []


def test_defect_markers_name_existing_cases() -> None:
    # A renamed case would silently lose its marker and fail for the wrong reason.
    names = {case_id(p) for p in corpus_cases()}
    assert set(KNOWN_DEFECTS) - names == set()
    assert NOT_RUN - set(KNOWN_DEFECTS) == set()


@pytest.mark.parametrize("path", corpus_params())
def test_invalid_input_is_refused(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = expectation(path)
    assert expected
    # Diagnostics show paths relative to the working directory; from the case's
    # own folder they are short and the same on every machine.
    monkeypatch.chdir(path.parent)
    # With GOAP_DEBUG the CLI re-raises internal errors instead of reporting them.
    monkeypatch.delenv("GOAP_DEBUG", raising=False)

    diagnostics, _ = validate_paths([path])
    errors = [d for d in diagnostics if d.severity == "error"]
    shown = "\n".join(str(d) for d in diagnostics) or "(no diagnostics)"
    assert any(expected in str(d) for d in errors), shown
    # Every error must point into a file, not just name it.
    assert all(d.location.line > 0 for d in errors), shown

    result = CliRunner().invoke(main, ["validate", path.name])
    # CliRunner keeps an escaped exception instead of printing its traceback.
    escaped = not isinstance(result.exception, SystemExit | None)
    assert not escaped, repr(result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code == EXIT_INPUT, result.output
    assert expected in result.stderr
