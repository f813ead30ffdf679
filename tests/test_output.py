"""Hook output cut into lines: redaction survives every way a line is split."""

from __future__ import annotations

from pathlib import Path

from goap_engine.executor import output as output_module
from goap_engine.executor.journal import Redactor
from goap_engine.executor.output import MAX_LINE, Output

SECRET = "supersecret123"


def _lines(*chunks: bytes, idle_between: bool = False) -> list[str]:
    seen: list[str] = []
    out = Output(Redactor([SECRET]), on_line=seen.append)
    for chunk in chunks:
        out.feed(chunk)
        if idle_between:
            out._partial_since -= 10  # as if the line had waited long enough
            out.idle()
    out.close()
    return seen


def _leaks(lines: list[str]) -> list[str]:
    pieces = [SECRET[:n] for n in range(4, len(SECRET))]
    pieces += [SECRET[n:] for n in range(1, len(SECRET) - 3)]
    return [p for p in pieces if any(p in line for line in lines)]


def test_a_secret_straddling_the_line_cut_is_redacted() -> None:
    for offset in range(-len(SECRET), 2):
        line = b"c" * (MAX_LINE + offset) + SECRET.encode() + b"\n"
        lines = _lines(line)
        assert not _leaks(lines), offset
        assert len(lines) == 1


def test_a_secret_split_across_an_overlong_partial_line_is_not_shown() -> None:
    for offset in (-10, -3, 0, 5):
        head = b"d" * (MAX_LINE + 100 + offset) + SECRET[:6].encode()
        lines = _lines(head, SECRET[6:].encode() + b" tail\nnext\n")
        assert not _leaks(lines), offset
        assert lines[-1] == "next"


def test_an_unfinished_line_shown_early_holds_back_a_secrets_start() -> None:
    lines = _lines(b"token: sup", b"ersecret123 done\n", idle_between=True)
    assert lines == ["token: ", "*** done"]


def test_an_unfinished_line_without_secrets_is_shown_whole() -> None:
    lines = _lines(b"Password: ", b"ok\n", idle_between=True)
    assert lines == ["Password: ", "ok"]


def test_the_log_keeps_what_was_shown_and_stops_at_its_cap(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(output_module, "MAX_LOG", 100)
    log = tmp_path / "step.log"
    out = Output(Redactor([SECRET]), log_path=log)
    for i in range(50):
        out.feed(f"line {i} {SECRET}\n".encode())
    out.close()
    text = log.read_text()
    assert SECRET not in text
    assert text.startswith("line 0 ***\n")
    assert text.endswith(
        "[... log cut at its size limit; the rest was shown only ...]\n"
    )
    assert len(text) < 200


def test_a_progress_bar_keeps_its_last_state() -> None:
    lines = _lines(
        b"\r 10%|#   |", b"\r 50%|##  |", b"\r100%|####|\n", idle_between=False
    )
    assert lines == ["100%|####|"]
    shown = _lines(b"\r 10%|#   |\r 20%|#   |", b"\r100%|####|\n", idle_between=True)
    assert shown == [" 20%|#   |", "100%|####|"]
