"""Validation gates: thresholds on a metrics report and on file sizes.

::

    run:
      builtin: validation.gates
      with:
        report: validation_report.json
        gates: {metrics.accuracy: ">= 0.9", latency_ms.p95: "<= 12", passed: "== true"}
        files: {model.onnx: "<= 15MB"}

A key may take a list of conditions, all of which must hold.  Keys are
dotted paths into the JSON report (``layers.0.size`` indexes a list;
a key that itself contains dots is found too).  Sizes take B, KB, MB, GB or TB,
in powers of 1024 like ``du`` and ``ls -h`` (KiB, MiB, ... mean the same); a
folder's size is the total of the files in it.

A condition may compare with the champion instead of a fixed value:
``accuracy: ">= champion - 0.01"`` with ``champion: {model: cats}`` reads the
metric from the run behind the registered model's ``champion`` alias in MLflow
(see ``champion``); the report shows both values.

Called by an action, any failing gate raises one error listing every failing
gate with what was expected and what was found; called by a sensor, the
result is just ``True`` or ``False``.  A missing report, key or file counts as
a failing gate; a gate that cannot be read (bad operator, bad unit) is an error
either way.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..executor.hooks import HookContext
from . import IntegrationError, champion

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}

_CONDITION = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(.*?)\s*$")
_SIZE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?i?B)?$", re.IGNORECASE)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class GateFailure(Exception):
    """One gate did not hold; the message says what was expected and found."""


def _condition(name: str, condition: Any) -> tuple[str, str, Any]:
    """Return (operator, expected text, expected value); a bare value means ==."""
    if isinstance(condition, bool | int | float):
        return "==", _show(condition), condition
    if not isinstance(condition, str):
        raise IntegrationError(
            f"gate '{name}': condition must be a string such as '>= 0.9', "
            f"not {condition!r}"
        )
    match = _CONDITION.match(condition)
    assert match is not None
    op, text = match.group(1) or "==", match.group(2)
    if not text:
        raise IntegrationError(f"gate '{name}': '{condition}' has no value to compare")
    return op, text, _literal(text)


def _literal(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _NUMBER.match(text):
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(name: str, op: str, actual: Any, expected: Any, shown: str) -> None:
    """Raise ``GateFailure`` unless ``actual OP expected`` holds."""
    if op in ("==", "!=") and not (_is_number(actual) and _is_number(expected)):
        same = type(actual) is type(expected) and actual == expected
        if same == (op == "=="):
            return
        raise GateFailure(f"{name}: expected {op} {shown}, got {_show(actual)}")
    if not _is_number(expected):
        raise IntegrationError(f"gate '{name}': '{op} {shown}' needs a number")
    if isinstance(actual, str) and _NUMBER.match(actual.strip()):
        actual = float(actual)
    if not _is_number(actual):
        raise GateFailure(
            f"{name}: expected {op} {shown}, got {_show(actual)}, which is not a number"
        )
    if op == "==":
        holds = math.isclose(actual, expected, rel_tol=1e-9, abs_tol=0.0)
    elif op == "!=":
        holds = not math.isclose(actual, expected, rel_tol=1e-9, abs_tol=0.0)
    else:
        holds = OPERATORS[op](actual, expected)
    if not holds:
        raise GateFailure(f"{name}: expected {op} {shown}, got {_show(actual)}")


def _lookup(data: Any, key: str) -> Any:
    """Return the value at dotted ``key``, preferring the longest literal key."""
    parts = key.split(".")

    def walk(node: Any, rest: list[str]) -> Any:
        if not rest:
            return node
        if isinstance(node, Mapping):
            for size in range(len(rest), 0, -1):
                head = ".".join(rest[:size])
                if head in node:
                    return walk(node[head], rest[size:])
        elif isinstance(node, list) and rest[0].isdigit() and int(rest[0]) < len(node):
            return walk(node[int(rest[0])], rest[1:])
        raise KeyError(rest[0])

    try:
        return walk(data, parts)
    except KeyError as exc:
        raise GateFailure(f"{key}: not in the report (no '{exc.args[0]}')") from None


def _load_report(ctx: HookContext, report: Any) -> Any:
    if not report:
        raise IntegrationError("validation.gates needs 'report': the JSON report file")
    from ..errors import FileError
    from ..files import read_json

    # Read as the engine reads its own files: a FIFO or a device named by a
    # value would block the step or fill memory, a deep report would recurse.
    try:
        return read_json(ctx.workdir / str(report))
    except FileError as exc:
        if exc.reason == "file not found":
            raise GateFailure(f"report {report} not found") from None
        where = f"{report}:{exc.line}:{exc.col}" if exc.line else str(report)
        raise GateFailure(f"report {where}: {exc.reason}") from None


def _size_limit(name: str, condition: Any) -> tuple[str, int, str, str]:
    """Return (operator, limit in bytes, unit, limit as written) for a size gate."""
    if not isinstance(condition, str | int):
        raise IntegrationError(f"size gate '{name}': write a condition like '<= 15MB'")
    match = _CONDITION.match(str(condition))
    assert match is not None
    op, text = match.group(1) or "<=", match.group(2)
    size = _SIZE.match(text)
    if size is None:
        raise IntegrationError(
            f"size gate '{name}': '{condition}' is not a size such as '<= 15MB' "
            "(units: B, KB, MB, GB, TB)"
        )
    unit = (size.group(2) or "B").upper().replace("IB", "B")
    return op, int(float(size.group(1)) * UNITS[unit]), unit, text


def _size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _format_size(size: int, unit: str) -> str:
    if unit == "B":
        return f"{size} B"
    return f"{size / UNITS[unit]:.2f}{unit} ({size} B)"


def _check_key(
    data: Any, name: str, condition: Any, against: champion.Champion | None
) -> str:
    op, shown, expected = _condition(name, condition)
    actual = _lookup(data, name)
    how = champion.relative(shown) if against is not None else None
    if against is not None and how is None and champion.mentions(shown):
        raise IntegrationError(
            f"gate '{name}': '{shown}' is not 'champion', 'champion + N', "
            "'champion - N' or 'champion * N'"
        )
    if against is not None and how is not None:
        found = against.find()
        if found is None:
            missing = f"no champion ({against.named} is not set)"
            if against.if_missing == "fail":
                raise GateFailure(f"{name}: expected {op} {shown}, {missing}")
            return f"{name} = {_show(actual)} ({missing}: passes, first release)"
        if name not in found.metrics:
            raise GateFailure(
                f"{name}: expected {op} {shown}, but the champion's run has no "
                f"metric '{name}' ({found.label})"
            )
        best = found.metrics[name]
        expected = champion.apply(how, best)
        shown = f"{shown} = {expected:g}; champion {name} = {best:g}, {found.label}"
    _compare(name, op, actual, expected, shown)
    return f"{name} = {_show(actual)} ({op} {shown})"


def _check_file(ctx: HookContext, name: str, condition: Any) -> str:
    op, limit, unit, written = _size_limit(name, condition)
    path = ctx.workdir / name
    if not path.exists():
        raise GateFailure(f"{name}: file not found")
    size = _size_of(path)
    shown = f"{op} {written}"
    if not OPERATORS[op](size, limit):
        raise GateFailure(
            f"{name}: expected size {shown}, got {_format_size(size, unit)}"
        )
    return f"{name}: size {_format_size(size, unit)} {shown}"


def gates(ctx: HookContext) -> bool:
    """Check every gate on ``report`` and every size gate in ``files``."""
    key_gates = ctx.args.get("gates") or {}
    file_gates = ctx.args.get("files") or {}
    if not isinstance(key_gates, Mapping) or not isinstance(file_gates, Mapping):
        raise IntegrationError("'gates' and 'files' must be mappings")
    if not key_gates and not file_gates:
        raise IntegrationError("validation.gates needs 'gates' or 'files' to check")
    against = None
    conditions = [
        c
        for given in key_gates.values()
        for c in (given if isinstance(given, list) else [given])
    ]
    if any(champion.mentions(c) for c in conditions):
        against = champion.Champion(ctx, ctx.args.get("champion"))
    failures: list[str] = []
    passes = 0

    def record(check: Callable[..., str], *args: Any) -> None:
        nonlocal passes
        try:
            line = check(*args)
        except GateFailure as exc:
            failures.append(str(exc))
            ctx.log(f"FAIL {exc}")
        else:
            passes += 1
            ctx.log(f"pass {line}")

    if key_gates:
        try:
            data = _load_report(ctx, ctx.args.get("report"))
        except GateFailure as exc:
            failures.append(str(exc))
            ctx.log(f"FAIL {exc}")
        else:
            for name, given in key_gates.items():
                # A list: every condition must hold; an empty one (a template
                # var left unset) is no condition.
                listed = given if isinstance(given, list) else [given]
                for condition in listed:
                    if condition != "" or len(listed) == 1:
                        record(_check_key, data, str(name), condition, against)
    for name, condition in file_gates.items():
        record(_check_file, ctx, str(name), condition)
    if not failures:
        ctx.log(f"all {passes} gate(s) passed")
        return True
    if not ctx.action:
        return False
    listing = "\n".join(f"  - {failure}" for failure in failures)
    raise IntegrationError(f"{len(failures)} validation gate(s) failed:\n{listing}")
