"""Templates that only name values are read without jinja2, as jinja2 reads them.

``templates`` answers ``template_names`` and ``shell_problems`` for the
common ``{{ name }}`` form itself (importing jinja2 costs more than the rest
of loading a project).  Each answer is compared with jinja2's own reading of
the same text, on hand-picked edge cases and on generated templates; and
``validate`` of a project whose templates only name values must not import
jinja2 at all.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goap_engine import jinja_templates, templates
from goap_engine.shell_quoting import REFUSED, scan
from goap_engine.templates import _SLOT, _simple_skeleton, _simple_values


def jinja_names(text: str) -> set[str] | str:
    try:
        return set(jinja_templates.parsed_names(text))
    except ValueError:
        return "error"


def fast_names(text: str) -> set[str] | str | None:
    if _simple_values(text) is None:
        return None
    return templates.template_names(text)


def jinja_problems(text: str) -> list[str] | None:
    shape = jinja_templates.skeleton(text)
    if shape is None:
        return None
    skeleton, lines, sources = shape
    return [
        f"{sources[s.index] if sources else ''} {lines[s.index]} {REFUSED[s.context]}"
        for s in scan(skeleton, _SLOT)
        if s.context in REFUSED
    ]


def fast_problems(text: str) -> list[str] | None:
    shape = _simple_skeleton(text)
    if shape is None:
        return None
    skeleton, lines, sources = shape
    return [
        f"{sources[s.index]} {lines[s.index]} {REFUSED[s.context]}"
        for s in scan(skeleton, _SLOT)
        if s.context in REFUSED
    ]


def agree(text: str) -> bool:
    """Assert the fast reading (where it answers) is jinja2's; True if it answered."""
    names = fast_names(text)
    if names is None:
        assert _simple_skeleton(text) is None
        return False
    assert names == jinja_names(text), text
    if isinstance(names, set):
        env_names = templates.template_env_names(text)
        assert env_names == set(jinja_templates.parsed_env_names(text)), text
    assert fast_problems(text) == jinja_problems(text), text
    assert jinja_templates.skeleton(text) == _simple_skeleton(text), text
    return True


@pytest.mark.parametrize(
    "text",
    [
        "{{ branch }}",
        "git push origin {{ branch }}",
        "{{a}}{{b}}",
        "{{\tenv.HOME\t}}/x",
        "{{ a.b.c }} and {{ d }}",
        "echo '{{ x }}' \"{{ y }}\" $(( {{ n }} + 1 ))",
        "echo `{{ x }}`",
        "cat <<EOF\n{{ body }}\nEOF\n",
        "line1\r\nline2 {{ x }}\rline3\n{{ y }} # {{ z }}",
        "echo ${HOME} {a,b} {{ x }}",
        "echo $'{{ x }}'",
        "x }} {{ y }} }}",
        "{{ x }}}",
        "{{ x }}\n",
        "a {{ _under_score9 }}",
        "{ {{ x }}",
    ],
)
def test_the_fast_reading_is_jinja2s(text: str) -> None:
    assert agree(text)


@pytest.mark.parametrize(
    "text",
    [
        "{{{ x }}",  # jinja2 reads '{ x }' as a set literal
        "{{ true }}",
        "{{ None }}",
        "{{ not }}",
        "{{ x|upper }}",
        "{{ x + 1 }}",
        "{{- x }}",
        "{{ x -}}",
        "{% if a %}{{ b }}{% endif %}",
        "{# note #}{{ x }}",
        "{{ x }} {{",
        "{{ x }} {%",
        "{{\nx }}",
        "{{ x['a'] }}",
        "{{ x.0 }}",
        "{{ café }}",
        # Names jinja2 resolves itself: none is read from the template's values.
        "{{ self }}",
        "{{ range }}",
        "{{ namespace }}",
        "{{ dict }} {{ x }}",
        "{{ cycler }}",
        "{{ joiner }}",
    ],
)
def test_anything_else_goes_to_jinja2(text: str) -> None:
    assert _simple_values(text) is None
    assert not agree(text)


_pieces = st.sampled_from(
    [
        "{{ a }}",
        "{{b.c}}",
        "{{\tenv.X }}",
        "{{ true }}",
        "{{",
        "}}",
        "{",
        "}",
        "{%",
        "%}",
        "{#",
        "#}",
        "-",
        " ",
        "\n",
        "\r\n",
        "\r",
        "'",
        '"',
        "`",
        "$(",
        ")",
        "$((",
        "))",
        "${",
        "<<EOF\n",
        "EOF",
        "#",
        "\\",
        "echo ",
        "x",
        "|upper",
        "not",
        ".",
        "{{ self }}",
        "{{ range }}",
        "{{ loop }}",
    ]
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_pieces, max_size=12).map("".join))
def test_generated_templates_read_the_same_both_ways(text: str) -> None:
    agree(text)


def test_validate_of_plain_templates_does_not_import_jinja2(tmp_path: Path) -> None:
    goal = tmp_path / "goal.yaml"
    goal.write_text(
        textwrap.dedent(
            """\
            version: 1
            vars: {name: world, branch: main}
            state:
              greeted: {type: bool, default: false}
            actions:
              greet:
                effects: {greeted: true}
                run: echo "hello {{ name }}" && git log {{ branch }} --oneline
            goal: [greeted]
            """
        )
    )
    probe = (
        "import sys\n"
        "from goap_engine.cli import main\n"
        "try:\n"
        f"    main(['validate', {str(goal)!r}, '--no-cache'])\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "print('jinja2' in sys.modules, code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split()[-2:] == ["False", "0"], result.stdout + result.stderr


@settings(max_examples=800, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["\x000;", "\x001;", " ", "'", '"', "(", ")", "((", "))", "[[", "]]"]
            + ["[", "]", "{", "}", ";", "|", "&", "\n", "if ", "case ", "in ", "x"]
            + ["`", "$", "<<", "#", "\\", "${", "$'", "$(", "$((", "EOF"]
        ),
        max_size=14,
    ).map("".join)
)
def test_no_value_is_refused_without_a_character_that_opens_a_refused_place(
    text: str,
) -> None:
    from goap_engine.templates import OPENS_REFUSED

    refused = [s for s in scan(text, _SLOT) if s.context in REFUSED]
    if not any(c in text for c in OPENS_REFUSED):
        assert refused == []


def test_every_name_jinja2_resolves_itself_goes_to_jinja2() -> None:
    """A global of the template environment is no value: the fast reading must not
    report it (validate would refuse '{{ range }}' as an unknown name)."""
    environment = jinja_templates._environment(False)
    for name in [*environment.globals, "self"]:
        text = f"echo {{{{ {name} }}}}"
        assert _simple_values(text) is None, name
        assert templates.template_names(text) == jinja_names(text) == set(), name


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("{{ env.HOME }}/x {{ branch }}", {"HOME"}),
        ("{{ env.A.b }}", {"A"}),
        ("{{ env['B'] }} {{ env.get('C', 'c') }}", {"B", "C"}),
        ("{% if env.D %}{{ env.E | upper }}{% endif %}", {"D", "E"}),
        ("{{ env[name] }} {{ env.items() }}", set()),  # not knowable, no variable
        ("{% set env = {'F': 1} %}{{ env.F }}", set()),  # its own env
        ("{{ envy.G }} {{ env }}", set()),
    ],
)
def test_environment_variables_a_template_reads(text: str, names: set[str]) -> None:
    assert templates.template_env_names(text) == names
