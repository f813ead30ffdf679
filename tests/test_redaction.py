"""The redactor hides a secret in every form it commonly takes."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from goap_engine.executor.output import Output
from goap_engine.executor.redaction import LONG_TEXT, Redactor, forms

SECRET = "s3cr3t/Value+42?&"
PIECES = [SECRET[i : i + 4] for i in range(len(SECRET) - 3)]


def _encodings(value: str) -> dict[str, str]:
    data = value.encode()
    std, url = base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()
    return {
        "plain": value,
        "json": json.dumps(value),
        "repr": repr(value),
        "base64": std,
        "base64 unpadded": std.rstrip("="),
        "base64 url-safe": url,
        "base64 url-safe unpadded": url.rstrip("="),
        "quote": quote(value),
        "quote safe=''": quote(value, safe=""),
        "quote_plus": quote_plus(value),
        "hex": data.hex(),
        "HEX": data.hex().upper(),
        "upper case": value.upper(),
        "lower case": value.lower(),
    }


@pytest.mark.parametrize("form", sorted(_encodings(SECRET)))
def test_every_common_encoding_is_hidden(form: str) -> None:
    encoded = _encodings(SECRET)[form]
    text = Redactor([SECRET])(f"Authorization: Basic {encoded} (sent)")
    assert text == "Authorization: Basic *** (sent)" or (
        # json/repr keep their quotes around the hidden value
        text
        in ('Authorization: Basic "***" (sent)', "Authorization: Basic '***' (sent)")
    )


@pytest.mark.parametrize("before", ["", "x", "xy", "xyz", "user:", "ab:"])
@pytest.mark.parametrize("after", ["", "!", "!!", "@host"])
def test_base64_of_a_longer_text_holding_the_secret_is_hidden(
    before: str, after: str
) -> None:
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        stream = encode(f"{before}{SECRET}{after}".encode()).decode()
        shown = Redactor([SECRET])(stream)
        assert "***" in shown
        # Left: the neighbours' characters, one character each side mixing
        # their bits with the secret's, and the padding.
        left, _, right = shown.partition("***")
        assert len(left) <= len(encode(before.encode()).decode().rstrip("=")) + 1
        assert (
            len(right.rstrip("="))
            <= len(encode(after.encode()).decode().rstrip("=")) + 1
        )


def test_short_values_stay_and_other_text_is_untouched() -> None:
    redact = Redactor(["abc", SECRET])
    assert redact("abc and s3cr3t") == "abc and s3cr3t"
    assert forms("abc") == set()
    assert redact("nothing secret here") == "nothing secret here"


def test_overlapping_secrets_both_disappear() -> None:
    redact = Redactor(["alpha-beta", "beta-gamma"])
    assert redact("[alpha-beta-gamma]") == "[***]"
    assert redact("alpha-beta then beta-gamma") == "*** then ***"


def test_long_texts_take_the_substring_path_with_the_same_result() -> None:
    redact = Redactor([SECRET, "another-secret-value"])
    filler = "log line without anything\n" * (LONG_TEXT // 20)
    encoded = base64.b64encode(SECRET.encode()).decode()
    text = f"{filler}{SECRET}\n{filler}{encoded}\n{filler}another-secret-value\n"
    assert len(text) > LONG_TEXT
    shown = redact(text)
    assert shown == f"{filler}***\n{filler}***\n{filler}***\n"
    assert redact(filler * 2) == filler * 2


def test_secrets_added_later_are_hidden_from_then_on() -> None:
    redact = Redactor()
    assert not redact
    assert redact(SECRET) == SECRET
    redact.add(SECRET, "ab")
    assert redact.secrets == (SECRET,)
    assert redact(f"x{SECRET}x") == "x***x"
    assert redact.data({"k": [SECRET, 3], SECRET: True}) == {
        "k": ["***", 3],
        "***": True,
    }


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s,
        lambda s: base64.b64encode(s.encode()).decode(),
        lambda s: s.encode().hex(),
        quote_plus,
    ],
    ids=["plain", "base64", "hex", "quote_plus"],
)
def test_a_secret_written_in_pieces_without_newline_is_hidden(encode) -> None:
    seen: list[str] = []
    out = Output(Redactor([SECRET]), on_line=seen.append)
    text = encode(SECRET)
    for i in range(0, len(text), 3):
        out.feed(text[i : i + 3].encode())
        out._partial_since -= 10  # as if each piece had waited long enough
        out.idle()
    out.feed(b" done\n")
    out.close()
    joined = "".join(seen)
    assert joined == "*** done"
    assert not any(piece in joined for piece in PIECES)


def test_a_multi_line_secret_printed_whole_is_hidden() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----"
    seen: list[str] = []
    out = Output(Redactor([key]), on_line=seen.append)
    out.feed(f"key:\n{key}\nend\n".encode())
    out.close()
    assert seen == ["key:", "***", "end"]
    # Printed one line at a time, each line of it is hidden on its own.
    assert Redactor([key])("MIIEvQIBADANBgkq") == "***"
