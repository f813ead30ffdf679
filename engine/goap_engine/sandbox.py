"""A jinja2 sandbox whose renders are bounded in time, size and work.

The stock sandbox keeps templates away from Python internals but not from
``{{ 9**9**9 }}``, ``{{ 'a' * 10**10 }}`` or two nested loops over a long
string.  This one:

* never folds constants at compile time (no optimizer, a context-passing
  ``finalize`` and intercepted operators), so parsing and checking a template
  evaluates nothing;
* refuses an operator, filter or call whose result would exceed the limits
  below *before* computing it;
* counts loop iterations (every ``{% for %}`` iterable is wrapped in a
  counting filter) and checks a deadline on every counted operation.

The limits hold per render; a render past one raises ``SecurityError`` naming it.
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Callable, Iterable, Iterator
from functools import update_wrapper
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

#: Characters a render may produce (and the longest string or list it may build).
MAX_OUTPUT = 1024 * 1024
#: Bits an integer result may have (2**4096 has 1,234 digits).
MAX_INT_BITS = 4096
#: Iterations of all ``{% for %}`` loops of one render together.
MAX_LOOP_ITERATIONS = 100_000
#: Seconds one render may take.
MAX_RENDER_SECONDS = 5.0

_LOOP_FILTER = "goap_counted"
_CONCAT_FILTER = "goap_concat"


class Budget:
    """What one render has used so far of its iterations and time."""

    __slots__ = ("deadline", "iterations")

    def __init__(self) -> None:
        self.iterations = 0
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise SecurityError(
                f"the template took longer than {MAX_RENDER_SECONDS:g} s to render"
            )


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "goap_template_budget", default=None
)


def start_budget() -> contextvars.Token[Budget | None]:
    """Give the renders of this thread a fresh budget; return the reset token."""
    return _budget.set(Budget())


def end_budget(token: contextvars.Token[Budget | None]) -> None:
    _budget.reset(token)


def _tick() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.tick()


def size(value: Any) -> int:
    """Return how many characters or items ``value`` holds (0 for scalars).

    Nested lists and mappings count all they hold, each time they are held:
    ``[x, x]`` doubled forty times costs nothing to build but prints as 2**40
    items in one call no deadline can stop.  The count stops past the limit.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset | dict | Namespace):
            if isinstance(item, Namespace):
                item = getattr(item, "_Namespace__attrs", {})
            total += len(item)
            if total > MAX_OUTPUT:
                break
            stack.extend(item)
            if isinstance(item, dict):
                stack.extend(item.values())
        if total > MAX_OUTPUT:
            break
    return total


def check_printable(value: Any) -> None:
    """Refuse a value whose text would exceed the output limit, before making it."""
    if not isinstance(value, str) and size(value) > MAX_OUTPUT:
        raise SecurityError(
            "a list or mapping holds more than the limit of "
            f"{MAX_OUTPUT:,} characters or items (nested, counted each time held)"
        )


def _too_long(what: str, estimate: int) -> None:
    if estimate > MAX_OUTPUT:
        raise SecurityError(
            f"{what} would hold about {estimate:,} characters or items; the limit "
            f"is {MAX_OUTPUT:,}"
        )


def _too_big(what: str, bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise SecurityError(
            f"{what} would be an integer of about {bits:,} bits; the limit is "
            f"{MAX_INT_BITS:,} bits"
        )


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left operator right`` when its result would exceed a limit."""
    ints = all(isinstance(v, int) for v in (left, right))
    if operator == "**" and ints and right > 0 and abs(left) > 1:
        _too_big(f"{left.bit_length()}-bit ** {right}", left.bit_length() * right)
    elif operator == "*" and ints:
        _too_big("the product", left.bit_length() + right.bit_length())
    elif operator == "*":
        count = right if isinstance(right, int) else left
        other = left if isinstance(right, int) else right
        if isinstance(count, int) and size(other):
            _too_long("the repetition", size(other) * max(count, 0))
    elif operator == "+" and not ints:
        _too_long("the concatenation", size(left) + size(right))
    elif operator == "%" and isinstance(left, str):
        _check_format(left, right)


_WIDTH = re.compile(r"\d+")


def _check_format(fmt: str, args: Any) -> None:
    """Refuse a format string whose field widths or arguments are too large."""
    widths = sum(int(w) for w in _WIDTH.findall(fmt) if len(w) <= 12) + sum(
        1 << 60 for w in _WIDTH.findall(fmt) if len(w) > 12
    )
    values = args if isinstance(args, tuple | list) else [args]
    if isinstance(args, dict):
        values = list(args.values())
    numbers = [abs(v) for v in values if isinstance(v, int)]
    extra = sum(size(v) for v in values) + sum(min(n, 1 << 60) for n in numbers)
    _too_long("the formatted string", len(fmt) + widths + extra)


def _check_arguments(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a filter or method call whose result could exceed a limit.

    Padding, indenting and replacing multiply the input by an argument: the
    product is checked before the call, not the result after it.
    """
    values = [*args, *kwargs.values()]
    subject = args[0] if args else None
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            _too_long(f"'{name or 'the call'}' with {value}", abs(value))
    ints = [abs(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]
    largest = max(ints, default=0)
    text = subject if isinstance(subject, str) else ""
    if name in ("replace",) and len(args) >= 3 and isinstance(text, str):
        old, new = str(args[1]), str(args[2])
        count = text.count(old) if old else len(text) + 1
        _too_long("the replacement", len(text) + count * len(new))
    elif name in ("indent", "wordwrap", "expandtabs"):
        lines = text.count("\n") + text.count("\t") + 1
        _too_long(f"'{name}'", len(text) + lines * max(largest, 8))
    elif name in ("center", "ljust", "rjust", "zfill", "truncate"):
        _too_long(f"'{name}'", len(text) + largest)
    elif name in ("format", "format_map") and isinstance(subject, str):
        _check_format(subject, list(args[1:]) + list(kwargs.values()))


def _join_checked(name: str, separator: str, items: Iterable[Any]) -> list[Any]:
    listed = []
    total = 0
    for item in items:
        _tick()
        listed.append(item)
        total += size(item) + len(separator) + (0 if isinstance(item, str) else 20)
        _too_long(f"'{name}'", total)
    return listed


def _wrap_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    passes = getattr(func, "jinja_pass_arg", None)

    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        # Context-passing filters take it first; the value comes after.
        own = args[1:] if passes is not None else args
        if name == "join" and own:
            separator = str(own[1]) if len(own) > 1 else str(kwargs.get("d", ""))
            listed = _join_checked(name, separator, own[0])
            args = (*args[: len(args) - len(own)], listed, *own[1:])
        else:
            _check_arguments(name, own, kwargs)
        for value in (*own, *kwargs.values()):
            check_printable(value)
        result = func(*args, **kwargs)
        _too_long(f"the result of '{name}'", size(result))
        return result

    return update_wrapper(bounded, func)


def _counted(items: Any) -> Iterator[Any]:
    budget = _budget.get()
    for item in items:
        if budget is not None:
            budget.iterations += 1
            if budget.iterations > MAX_LOOP_ITERATIONS:
                raise SecurityError(
                    f"the loops ran more than {MAX_LOOP_ITERATIONS:,} iterations"
                )
            budget.tick()
        yield item


def _concat(parts: list[Any]) -> str:
    for part in parts:
        check_printable(part)
    _too_long("the '~' concatenation", sum(len(str(p)) for p in parts))
    return "".join(str(p) for p in parts)


class _Undefined(StrictUndefined):
    """StrictUndefined that lets a mapping say in its own words what is missing."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        missing = getattr(self._undefined_obj, "missing", None)
        if self._undefined_hint is None and callable(missing):
            return str(missing(self._undefined_name))
        return str(super()._undefined_message)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox every template of the engine renders in."""

    intercepted_binops = frozenset({"**", "*", "%", "+", "//", "/"})

    def __init__(self, finalize: Callable[..., Any]) -> None:
        super().__init__(
            undefined=_Undefined,
            autoescape=False,
            keep_trailing_newline=True,
            finalize=finalize,
            optimized=False,
        )
        # Paragraphs of filler text are no use in a command and cost much.
        self.globals.pop("lipsum", None)
        self.filters = {
            name: _wrap_filter(name, func) for name, func in self.filters.items()
        }
        self.filters[_LOOP_FILTER] = _counted
        self.filters[_CONCAT_FILTER] = _concat

    def _parse(
        self, source: str, name: str | None, filename: str | None
    ) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(
                loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.lineno
            )
        for parent in list(tree.find_all(nodes.Node)):
            for field, child in parent.iter_fields():
                if isinstance(child, nodes.Concat):
                    setattr(parent, field, _bounded_concat(child))
                elif isinstance(child, list):
                    child[:] = [
                        _bounded_concat(c) if isinstance(c, nodes.Concat) else c
                        for c in child
                    ]
        tree.set_environment(self)
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def call(
        __self,  # noqa: N805 - the sandbox's own signature
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _tick()
        name = getattr(__obj, "__name__", "")
        subject = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if name == "join" and isinstance(subject, str) and args:
            args = (_join_checked(name, subject, args[0]), *args[1:])
        else:
            _check_arguments(name, (subject, *args), kwargs)
        for value in (*args, *kwargs.values()):
            check_printable(value)
        result = super().call(__context, __obj, *args, **kwargs)
        _too_long(f"the result of '{name or 'the call'}'", size(result))
        return result


def _bounded_concat(node: nodes.Concat) -> nodes.Expr:
    return nodes.Filter(
        nodes.List(node.nodes, lineno=node.lineno),
        _CONCAT_FILTER,
        [],
        [],
        None,
        None,
        lineno=node.lineno,
    )
