"""Templates render within their limits, and checking one never evaluates it."""

from __future__ import annotations

import pytest

from goap_engine.templates import render, template_names


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ (9**(9**9)) % 7 }}", "the limit is 4,096 bits"),
        ("{{ ('a' * 10**10)|length }}", "the limit is 1,048,576"),
        ("{{ ([1] * 10**9)|length }}", "the limit is 1,048,576"),
        ("{{ 'a'|center(10**9) }}", "'center' with 1000000000"),
        ("{{ '%999999999d' % 1 }}", "the limit is 1,048,576"),
        ("{{ '{:999999999}'.format(1) }}", "the limit is 1,048,576"),
        ("{{ 'a'.ljust(10**9) }}", "'ljust' with 1000000000"),
        ("{{ ('a' * 1000)|replace('', 'b' * 2000) }}", "the replacement"),
        ("{{ ('x' * 1000)|join('y' * 2000) }}", "'join'"),
        ("{{ ('\n' * 100000)|indent(1000) }}", "'indent'"),
        (
            "{% set ns = namespace(s='a') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "the '~' concatenation",
        ),
        (
            "{% set ns = namespace(s='a') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "the concatenation",
        ),
        (
            "{% for a in 'x' * 1000 %}{% for b in 'y' * 1000 %}"
            "{% endfor %}{% endfor %}",
            "more than 100,000 iterations",
        ),
        ("{{ 'a' * 1000000 }}{{ 'a' * 1000000 }}", "longer than the limit of"),
        (
            "{% set ns = namespace(s=[1]) %}{% for i in range(40) %}"
            "{% set ns.s = [ns.s, ns.s] %}{% endfor %}{{ ns.s }}",
            "a list or mapping holds more than the limit",
        ),
        (
            "{% set ns = namespace(s={'a': 1}) %}{% for i in range(40) %}"
            "{% set ns.s = {'a': ns.s, 'b': ns.s} %}{% endfor %}{{ ns.s|tojson }}",
            "a list or mapping holds more than the limit",
        ),
        (
            "{% set ns = namespace(s=[1]) %}{% for i in range(40) %}"
            "{% set ns.s = [ns.s, ns.s] %}{% endfor %}{{ 'x' ~ ns.s }}",
            "a list or mapping holds more than the limit",
        ),
        (
            "{% set ns = namespace(s=[1]) %}{% for i in range(40) %}"
            "{% set ns.s = [ns.s, ns.s] %}{% endfor %}{{ '{}'.format(ns.s) }}",
            "the formatted string would hold about 1,048,580",
        ),
        (
            "{% set ns = namespace(s=[1]) %}{% for i in range(40) %}"
            "{% set ns.s = [ns.s, ns.s] %}{% endfor %}{{ ns }}",
            "a list or mapping holds more than the limit",
        ),
        ("{{ 1/0 }}", "ZeroDivisionError: division by zero"),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "too deep recursion"),
        ("{% include 'x' %}", "no loader"),
    ],
)
def test_a_render_past_a_limit_is_a_template_error(template: str, message: str) -> None:
    assert template_names(template) == set()
    for shell in (False, True):
        with pytest.raises(ValueError) as caught:
            render(template, {}, shell_quote=shell)
        assert message in str(caught.value)


def test_renders_within_the_limits_are_unchanged() -> None:
    template = "{% for c in s %}{{ c|upper }}{% endfor %} {{ n * 2 }} {{ 'a' ~ n }}"
    assert render(template, {"s": "ab", "n": 21}) == "AB 42 a21"
    assert render("{{ x }}", {"x": True}) == "true"
    assert render("{{ ('a' * 1000)|length }}", {}) == "1000"
