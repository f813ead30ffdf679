"""A run's steps as a JUnit XML report (``run --junit FILE``) for CI systems.

The report is built from the run's events, the same redacted records the
journal keeps, so it shows exactly what the journal shows and no secret a step
printed.  One ``testsuite`` per run, one ``testcase`` per step in the order
the steps ended, and a last testcase for the goal itself: a run that found no
plan has no steps, and a report of zero tests reads as green in most CI
systems, so the goal's testcase carries why it was not reached.

Element and attribute names follow the JUnit XML that Jenkins, GitLab and the
GitHub test-report actions read: ``testsuites`` > ``testsuite`` (tests,
failures, errors, skipped, time, timestamp) > ``properties`` and
``testcase`` (name, classname, time) with at most one ``failure``, ``error``
or ``skipped`` child.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FileError, GoapError
from ..model import Ruleset

Record = dict[str, Any]

# ANSI escapes (colours from a hook) are noise in a CI page; the control
# characters left after them are not allowed in XML 1.0 at all, and one of
# them would make the whole report unreadable to its consumer.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Return ``text`` without terminal escapes and characters XML cannot hold."""
    return _NOT_XML.sub("\ufffd", _ESCAPE.sub("", text))


@dataclass
class Case:
    """One testcase: a step as it ended (or did not)."""

    name: str
    seconds: float = 0.0
    # "ok", "failure", "error" or "skipped"
    outcome: str = "ok"
    kind: str = ""
    message: str = ""
    text: str = ""


class JUnitReport:
    """Collect a run's events and write them as JUnit XML."""

    def __init__(self, ruleset: Ruleset, path: Path) -> None:
        self.path = path
        self.goal = _shown_path(ruleset.path)
        self.classname = ruleset.path.stem
        self.cases: list[Case] = []
        self.properties: dict[str, str] = {"goal": str(self.goal)}
        self.timestamp = ""
        self.seconds = 0.0
        # The current plan's steps that have not started: not reached if the
        # run ends now.
        self.pending: list[str] = []
        self.running: dict[str, Case] = {}
        self.end: Record = {}
        self.stopped = ""
        self.explanation: list[str] = []
        self.dry_run = False

    def listen(self, then: Callable[[Record], None]) -> Callable[[Record], None]:
        """Return an event listener that records each event, then passes it on."""

        def listener(record: Record) -> None:
            self.event(record)
            then(record)

        return listener

    def event(self, record: Record) -> None:
        kind = record.get("event")
        step = str(record.get("step", ""))
        if kind == "run_start":
            self.properties["run_id"] = str(record.get("run", ""))
            self.timestamp = str(record.get("ts", ""))
            if record.get("resume_of"):
                self.properties["resume_of"] = str(record["resume_of"])
        elif kind == "plan":
            self.properties["plan_cost"] = f"{record.get('cost', 0):g}"
            self.pending = [str(s) for s in record.get("steps", [])]
        elif kind == "step_start":
            self._started(step)
            self.running[step] = Case(step)
        elif kind == "step_skipped":
            self._started(step)
            reason = str(record.get("reason", "skipped"))
            self.cases.append(Case(step, outcome="skipped", message=reason))
        elif kind == "step_end":
            self._started(step)
            self.running.pop(step, None)
            self.cases.append(_ended(step, record))
        elif kind == "dry_run_step":
            self.dry_run = True
            self._started(step)
            self.cases.append(Case(step, outcome="skipped", message="dry run"))
        elif kind in ("no_plan", "needs_approval"):
            self.stopped = str(record.get("message", ""))
            self.explanation = [str(line) for line in record.get("explanation", [])]
        elif kind == "run_end":
            self.end = record
            self.seconds = float(record.get("seconds") or 0.0)
            self.properties["replans"] = str(record.get("replans", 0))
            self.properties["status"] = str(record.get("status", ""))

    def _started(self, step: str) -> None:
        if step in self.pending:
            self.pending.remove(step)

    def xml(
        self, redact: Callable[[str], str], error: BaseException | None = None
    ) -> str:
        """Return the report; ``error`` is what stopped the run, if it raised."""
        cases = list(self.cases)
        status = str(self.end.get("status", ""))
        interrupted = isinstance(error, KeyboardInterrupt) or status == "interrupted"
        for name in self.running:
            # A step the run left while it ran (interrupted; a step_end is
            # written for it, so this is only a crash of the engine itself).
            cases.append(Case(name, outcome="error", kind="interrupted"))
        why_not = "interrupted" if interrupted else "not reached"
        if self.stopped:
            why_not = f"not reached: {self.stopped}"
        cases += [Case(n, outcome="skipped", message=why_not) for n in self.pending]
        cases.append(self._goal_case(status, interrupted, error))
        return _render(self, cases, redact)

    def _goal_case(
        self, status: str, interrupted: bool, error: BaseException | None
    ) -> Case:
        case = Case(f"goal {self.goal.name}", seconds=self.seconds)
        if interrupted:
            case.outcome, case.kind = "error", "interrupted"
            case.message = "interrupted"
        elif error is not None:
            case.outcome, case.kind = "error", type(error).__name__
            case.message = str(error)
        elif self.dry_run:
            case.outcome, case.message = "skipped", "dry run: nothing ran"
        elif status != "reached":
            case.outcome, case.kind = "failure", status or "failed"
            case.message = str(self.end.get("reason") or "the goal was not reached")
            case.text = "\n".join(self.explanation)
        return case

    def write(self, redact: Callable[[str], str], error: BaseException | None) -> None:
        from ..store import atomic_write

        try:
            atomic_write(self.path, self.xml(redact, error))
        except OSError as exc:
            raise FileError(
                self.path, f"--junit: cannot write: {exc.strerror or exc}"
            ) from None

    @contextmanager
    def writing(self, redact: Callable[[str], str]) -> Iterator[None]:
        """Write the report when the run ends, however it ends."""
        try:
            yield
        except BaseException as exc:
            # The run's own error is the one to report; a report that cannot
            # be written at that point must not hide it.
            with suppress(GoapError):
                self.write(redact, exc)
            raise
        self.write(redact, None)


def _ended(step: str, record: Record) -> Case:
    status = str(record.get("status", ""))
    case = Case(step, seconds=float(record.get("seconds") or 0.0))
    tail = str(record.get("tail", ""))
    if record.get("log"):
        tail += f"\n(whole output: {record['log']})"
    if status == "ok":
        return case
    case.kind = status
    case.message = str(record.get("message") or status)
    case.text = tail.strip("\n")
    case.outcome = "error" if status == "interrupted" else "failure"
    return case


def _shown_path(path: Path) -> Path:
    """Return ``path`` as a person in the current folder would type it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _render(
    report: JUnitReport, cases: list[Case], redact: Callable[[str], str]
) -> str:
    def clean(text: str) -> str:
        return xml_text(redact(text))

    counts = {
        "tests": str(len(cases)),
        "failures": str(sum(c.outcome == "failure" for c in cases)),
        "errors": str(sum(c.outcome == "error" for c in cases)),
        "skipped": str(sum(c.outcome == "skipped" for c in cases)),
        "time": f"{report.seconds:.3f}",
    }
    name = f"goap-engine run {report.goal}"
    root = ET.Element("testsuites", {"name": clean(name), **counts})
    suite = ET.SubElement(root, "testsuite", {"name": clean(name), **counts})
    if report.timestamp:
        # JUnit's schema wants a local ISO time without a zone designator.
        suite.set("timestamp", report.timestamp.rstrip("Z"))
    properties = ET.SubElement(suite, "properties")
    for key, value in report.properties.items():
        ET.SubElement(properties, "property", {"name": key, "value": clean(value)})
    for case in cases:
        element = ET.SubElement(
            suite,
            "testcase",
            {
                "name": clean(case.name),
                "classname": clean(report.classname),
                "time": f"{case.seconds:.3f}",
            },
        )
        if case.outcome == "ok":
            continue
        child = ET.SubElement(element, case.outcome, {"message": clean(case.message)})
        if case.kind:
            child.set("type", clean(case.kind))
        if case.text:
            child.text = clean(case.text)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
