"""Template values reach a real shell as data, whatever quoting they stand in.

Random shell templates are built from the quoting contexts a command can put
a value in, filled with random hostile values, rendered, and run with
``/bin/sh -c`` (and ``bash -c``); the command prints every word it received
between NUL bytes, and each word must be exactly the text expected.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goap_engine.shell_quoting import scan
from goap_engine.templates import render, shell_problems

SHELLS = [s for s in ("/bin/sh", shutil.which("bash")) if s]

HOSTILE = st.sampled_from(
    [
        "$(touch pwned)",
        "`touch pwned`",
        "'; touch pwned; '",
        '"; touch pwned; "',
        "\\",
        "\\'",
        '\\"',
        "$HOME",
        "${HOME}",
        "$((1+1))",
        "a\nb",
        "\n",
        "",
        " ",
        "*",
        "~",
        "#x",
        "!!",
        "-n",
        "{a,b}",
        "é✓ 日本",
    ]
)
CHARACTERS = st.characters(
    codec="utf-8",
    exclude_characters="\x00",
)
SPECIAL = st.sampled_from(list("'\"$`\\()\n\t ;|&<>*?~#!{}[]=%"))
VALUE = st.one_of(
    HOSTILE,
    st.text(st.one_of(SPECIAL, CHARACTERS), max_size=12),
    st.lists(HOSTILE, min_size=1, max_size=3).map("".join),
)
LITERAL = st.text(st.sampled_from("abcXYZ019_.,:=+-/"), min_size=1, max_size=4)

# How a value is written into a word, and what the word then holds.  Command
# substitution drops trailing newlines; that is the shell, not the quoting.
CONTEXTS = {
    "bare": ("{{ %s }}", lambda v: v),
    "double": ('"{{ %s }}"', lambda v: v),
    "single": ("'{{ %s }}'", lambda v: v),
    "double-text": ('"<{{ %s }}>"', lambda v: f"<{v}>"),
    "single-text": ("'<{{ %s }}>'", lambda v: f"<{v}>"),
    "substitution": ('"$(printf %%s {{ %s }})"', lambda v: v.rstrip("\n")),
    "nested": ('"$(printf %%s "{{ %s }}")"', lambda v: v.rstrip("\n")),
    "nested-single": ("\"$(printf %%s '{{ %s }}')\"", lambda v: v.rstrip("\n")),
}


@st.composite
def commands(draw: st.DrawFn) -> tuple[str, dict[str, object], list[str]]:
    """Return a template, its values and the words the shell must receive."""
    values: dict[str, object] = {}
    words: list[str] = []
    expected: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        template = ""
        text = ""
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.booleans()):
                literal = draw(LITERAL)
                template += literal
                text += literal
            name = f"v{len(values)}"
            if draw(st.integers(0, 9)) == 0:
                number = draw(st.integers(-(10**6), 10**6))
                values[name] = number
                template += '"$(( {{ ' + name + ' }} + 0 ))"'
                text += str(number)
                continue
            value = draw(VALUE)
            values[name] = value
            form, received = CONTEXTS[draw(st.sampled_from(sorted(CONTEXTS)))]
            template += form % name
            text += received(value)
        words.append(template)
        expected.append(text)
    return "printf '%s\\0' " + " ".join(words), values, expected


@pytest.mark.parametrize("shell", SHELLS)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=commands())
def test_each_value_reaches_the_shell_as_its_own_text(
    shell: str, case: tuple[str, dict[str, object], list[str]]
) -> None:
    template, values, expected = case
    assert shell_problems(template) == []
    command = render(template, values, shell_quote=True)
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            [shell, "-c", command],
            cwd=folder,
            capture_output=True,
            check=False,
            timeout=30,
        )
        assert result.returncode == 0, (command, result.stderr)
        received = result.stdout.decode("utf-8").split("\0")
        assert received == [*expected, ""], command
        assert list(Path(folder).iterdir()) == [], command


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("echo `{{ x }}`", "inside backticks"),
        ('echo "`echo {{ x }}`"', "inside backticks"),
        ("echo ${X:-{{ x }}}", "inside ${...}"),
        ("echo $'{{ x }}'", "inside $'...'"),
        ("cat <<EOF\n{{ x }}\nEOF", "here-document"),
        ("cat <<-'E'\n\t<{{ x }}>\n\tE", "here-document"),
        ("echo ok # {{ x }}", "in a comment"),
        ("echo \\{{ x }}", "after a backslash"),
        ('echo "\\{{ x }}"', "after a backslash"),
        ("echo ${{ x }}", "after '$'"),
        ('echo "${{ x }}"', "after '$'"),
    ],
)
def test_contexts_without_sound_quoting_are_refused(
    template: str, problem: str
) -> None:
    found = shell_problems(template)
    assert len(found) == 1 and problem in found[0]
    with pytest.raises(ValueError, match="cannot be quoted|could end|would"):
        render(template, {"x": "$(touch pwned)"}, shell_quote=True)


@pytest.mark.parametrize(
    "template",
    [
        "cat <<EOF\nliteral\nEOF\necho {{ x }}",
        "echo '#' {{ x }}",
        "echo a#{{ x }}",
        'echo "`date`" {{ x }}',
        "echo $((1 << 2)) {{ x }}",
        "echo '$'{{ x }}",
        "echo \\\\{{ x }}",
    ],
)
def test_values_after_refused_contexts_are_quoted(template: str) -> None:
    assert shell_problems(template) == []
    command = render(template, {"x": "$(touch pwned)"}, shell_quote=True)
    assert command.endswith("'$(touch pwned)'")


def test_arithmetic_takes_only_numbers() -> None:
    assert render("echo $(( {{ n }} * 2 ))", {"n": 21}, shell_quote=True) == (
        "echo $(( 21 * 2 ))"
    )
    with pytest.raises(ValueError, match=r"only a number is accepted, found str"):
        render("echo $(( {{ n }} ))", {"n": "1); touch pwned; ((1"}, shell_quote=True)
    with pytest.raises(ValueError, match="found bool"):
        render("echo $(( {{ n }} ))", {"n": True}, shell_quote=True)


def test_a_nul_byte_fails_the_render() -> None:
    with pytest.raises(ValueError, match="NUL byte"):
        render("echo {{ x }}", {"x": "a\x00b"}, shell_quote=True)


def test_literal_template_text_is_trusted() -> None:
    template = '{% if x %}echo "$(date +%Y)"{% endif %} {{ x }}'
    assert render(template, {"x": "a b"}, shell_quote=True) == (
        "echo \"$(date +%Y)\" 'a b'"
    )


def test_values_that_look_like_placeholders_are_data() -> None:
    rendered = render(
        "echo {{ a }} {{ b }}", {"a": "\x00x:0;", "b": "y"}, shell_quote=False
    )
    assert rendered == "echo \x00x:0; y"
    with pytest.raises(ValueError, match="NUL byte"):
        render("echo {{ a }} {{ b }}", {"a": "\x00x:1;", "b": "y"}, shell_quote=True)


def test_a_macro_output_is_not_inserted_unquoted() -> None:
    template = "{% macro m() %}{{ x }}{% endmacro %}echo {{ m() }}"
    with pytest.raises(ValueError, match="another value's output"):
        render(template, {"x": "$(touch pwned)"}, shell_quote=True)


def test_the_lexer_reports_every_context() -> None:

    text = "a P0; \"P1;\" 'P2;' $(b P3;) `P4;` $((P5;))"
    slots = scan(text, re.compile(r"P(\d+);"))
    assert [(s.index, s.context) for s in slots] == [
        (0, "bare"),
        (1, "double"),
        (2, "single"),
        (3, "bare"),
        (4, "backtick"),
        (5, "arith"),
    ]


def test_a_refused_value_is_named_by_its_template() -> None:
    template = "echo {% raw %}{{ r }}{% endraw %} {{ a }} `echo {{ b|upper }}`"
    assert shell_problems(template) == [
        "{{ b|upper }} (value 2): inside backticks a value cannot be quoted "
        "safely: write $(...) instead of `...`"
    ]
    assert shell_problems("cat <<EOF\n{{ x }}\nEOF") == [
        "{{ x }} (value 1, line 2 of the command): inside a here-document a value "
        "cannot be quoted safely: pass it through 'env:' or as an argument "
        "(printf '%s\\n' {{ x }} | cmd)"
    ]


# Shapes where the lexer once lost track of the quoting: a value escaped for
# one context landed in another and ran as a command.
MISREAD = [
    'echo "$(case x in x) echo {{ x }};; esac)"',
    'echo "$(if true; then case x in x) echo {{ x }};; esac; fi)"',
    'echo "$(case x in a) echo 1;; esac) {{ x }}"',
    'echo ${x#"}"}{{ x }}',
    'echo "${x#"}"}{{ x }}"',
    "echo ${x:-'}'}{{ x }}",
    "cat <<'E OF'\nx\nE OF\necho \"{{ x }}\"",
    'echo "$(echo case) {{ x }}"',
]
PAYLOADS = [
    "$(touch pwned)",
    "`touch pwned`",
    "; touch pwned",
    '"; touch pwned; "',
    "'; touch pwned; '",
    "a[$(touch pwned)]",
]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("template", MISREAD)
def test_values_in_misread_shapes_run_nothing(shell: str, template: str) -> None:
    assert shell_problems(template) == []
    for payload in PAYLOADS:
        command = render(template, {"x": payload}, shell_quote=True)
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run(
                [shell, "-c", command],
                cwd=folder,
                capture_output=True,
                check=False,
                timeout=30,
            )
            assert list(Path(folder).iterdir()) == [], command


@pytest.mark.parametrize(
    ("template", "where"),
    [
        ("[[ {{ x }} -eq 1 ]]", "inside [[ ... ]]"),
        ('[[ "{{ x }}" -eq 1 ]]', "inside [[ ... ]]"),
        ("(( {{ x }} > 1 ))", "inside $((...))"),
        ("if (( {{ x }} )); then :; fi", "inside $((...))"),
        ("echo $[ {{ x }} ]", "inside $((...))"),
        ("echo $(( '{{ x }}' ))", "inside $((...))"),
        ('echo $(( "{{ x }}" ))', "inside $((...))"),
    ],
)
def test_bash_arithmetic_takes_only_numbers(template: str, where: str) -> None:
    # bash evaluates a[$(cmd)] in these operands whatever their quoting.
    with pytest.raises(ValueError, match=re.escape(f"{where} only a number")):
        render(template, {"x": "a[$(touch pwned)]"}, shell_quote=True)
    assert "7" in render(template, {"x": 7}, shell_quote=True)


@pytest.mark.parametrize(
    "template",
    ["( (echo {{ x }}) )", "(cd . && echo {{ x }})", "echo [[ {{ x }} ]]"],
)
def test_subshells_and_plain_brackets_stay_bare(template: str) -> None:
    assert "'a b'" in render(template, {"x": "a b"}, shell_quote=True)


@pytest.mark.parametrize(
    ("command", "warned"),
    [
        ('eval "echo {{ x }}"', "eval"),
        ("eval echo {{ x }}", "eval"),
        ("cd a && bash -c 'echo {{ x }}'", "bash -c"),
        ("sh -ec {{ x }}", "sh -ec"),
        (["/bin/bash", "-c", "echo {{ x }}"], "bash -c"),
        (["sh", "-ec", "echo {{ x }}"], "sh -c"),
        ('sh -c "echo $HOME" && echo {{ x }}', None),
        ('eval "$(ssh-agent)"; echo {{ x }}', None),
        ("echo {{ x }} | sh", None),
        (["bash", "script.sh", "{{ x }}"], None),
    ],
)
def test_validate_warns_where_a_value_is_run_as_code(
    command: str | list[str], warned: str | None
) -> None:
    from goap_engine.lint import _runs_code
    from goap_engine.model import Hook

    kind = "shell" if isinstance(command, str) else "argv"
    target = command if isinstance(command, str) else tuple(command)
    hook = Hook(kind=kind, target=target)  # type: ignore[arg-type]
    assert _runs_code(hook) == warned
