"""The one exception tree of goap-engine, and located diagnostics.

::

    GoapError                      every error the engine raises on purpose
    ├── InputError        exit 2   bad YAML, schema, expression or usage
    │   ├── FileError              a file that is no regular file, too large, unreadable
    │   └── WorkspaceError         a damaged .goap workspace, with how to repair it
    ├── SourceError       exit 2   a pack source cannot be parsed, fetched or trusted
    ├── NoPlanError       exit 3   the goal cannot be reached (carries an explanation)
    │   └── SearchLimitError       the search hit its node or time limit
    ├── LockedError       exit 4   another live run holds the state file's lock
    ├── ApprovalError     exit 2   steps need an approval nobody gave (1 if declined)
    ├── ExecutionError    exit 1   a run stopped before its goal was reached
    └── PlanInvalidError  exit 70  a plan failed verification: a bug in the engine

A failing hook is not an exception: hooks return an outcome the runner decides about.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_NO_PLAN = 3
EXIT_LOCKED = 4
EXIT_WAITING = 5  # a run stopped at a step that waits for an approval
EXIT_BUG = 70
EXIT_INTERRUPTED = 130
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: the reader of the output went away


@dataclass(frozen=True, slots=True)
class Location:
    """A position in a source file; line and column count from 1."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.path
        return f"{self.path}:{self.line}:{self.col}"

    @staticmethod
    def of(path: Path | str, line: int = 0, col: int = 0) -> Location:
        """Return a location whose path is shown relative to the working directory."""
        return Location(display_path(path), line, col)


def display_path(path: Path | str) -> str:
    """Return ``path`` relative to the current directory when it lies below it."""
    p = Path(path)
    try:
        # getcwd() has its links resolved already; resolving it again cost
        # as much as resolving the file, once per file read.
        return str(p.resolve().relative_to(os.getcwd()))
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a link loop
        return str(p)


# Every warning ``validate`` gives, by the code a goal or pack names in
# ``ignore:`` to silence it (docs/language.md lists them with examples).
WARNING_CODES: dict[str, str] = {
    "never-read": "a state variable no condition, effect or hook reads",
    "never-written": "a state variable that is read but no action writes "
    "and no sensor reads: it keeps its default",
    "unbounded": "an int variable an effect computes, without 'max'",
    "never-applicable": "an action whose precondition can never hold",
    "unquoted-template": "a shell command with 'quote: false' and template values",
    "value-run-as-code": "a template value handed to eval or sh -c",
    "shadowed-name": "a state variable of the project with the name of one in "
    "a pack from outside it: both become qualified",
    "executor-not-installed": "a step runs_on an executor whose package is not "
    "installed here",
    "executor-credentials": "a step runs_on an executor whose credentials are "
    "not set here",
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in the input, with where, what and (optionally) a code."""

    location: Location
    message: str
    entity: str = ""
    severity: Severity = "error"
    code: str = ""

    def __str__(self) -> str:
        entity = f"{self.entity}: " if self.entity else ""
        where = f"{self.location}: " if self.location.path else ""
        text = f"{where}{self.severity}: {entity}{self.message}"
        if self.severity == "warning" and self.code:
            text += f" [{self.code}]"  # what 'ignore:' takes to silence it
        # Lone surrogates (from YAML escapes) cannot be printed as UTF-8.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class GoapError(Exception):
    """Root of every error goap-engine raises on purpose."""

    exit_code = EXIT_FAILED


class InputError(GoapError):
    """The input (files, expressions, command line) is invalid."""

    exit_code = EXIT_INPUT

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str) -> None:
        if isinstance(diagnostics, str):
            # Usage errors have no file; their message names what is wrong.
            diagnostics = [Diagnostic(Location(""), diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))


class FileError(InputError):
    """A file that cannot be read: not a regular file, too large, not UTF-8 or JSON.

    ``path`` and ``reason`` stay apart so that a caller can report the problem
    where the file was named (a ``uses:`` entry) instead of at the file.
    """

    def __init__(self, path: Path | str, reason: str, line: int = 0, col: int = 0):
        self.path = Path(path)
        self.reason = reason
        self.line, self.col = line, col
        super().__init__(Diagnostic(Location.of(path, line, col), reason))


class WorkspaceError(InputError):
    """A damaged file of the ``.goap`` workspace; the message says how to repair it."""

    def __init__(self, diagnostic: Diagnostic, repair: str) -> None:
        self.repair = repair
        super().__init__(
            Diagnostic(diagnostic.location, f"{diagnostic.message}; {repair}")
        )


@dataclass
class Explanation:
    """Why a goal cannot be reached, as lines a person can read."""

    lines: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(self.lines)


class SourceError(GoapError):
    """A pack source cannot be parsed, fetched or trusted; the message says why."""

    exit_code = EXIT_INPUT


class NoPlanError(GoapError):
    """No sequence of actions reaches the goal from the start state."""

    exit_code = EXIT_NO_PLAN

    def __init__(self, message: str, *, explanation: Explanation | None = None) -> None:
        self.explanation = explanation or Explanation()
        super().__init__(message)


class SearchLimitError(NoPlanError):
    """The search stopped at its node or time limit before finding a plan."""


class LockedError(GoapError):
    """Another live run holds the lock of the state file."""

    exit_code = EXIT_LOCKED


class ApprovalError(GoapError):
    """Steps need an approval that was not given; none of them ran.

    Missing approval without a terminal is a usage problem (exit 2: pass
    ``--yes`` or ``--approve``); a person who answered no ended the run (exit 1).
    """

    def __init__(
        self, message: str, *, steps: list[str], declined: bool = False
    ) -> None:
        self.steps = steps
        self.declined = declined
        self.exit_code = EXIT_FAILED if declined else EXIT_INPUT
        super().__init__(message)


class ExecutionError(GoapError):
    """A run stopped before its goal was reached."""

    exit_code = EXIT_FAILED


class PlanInvalidError(GoapError):
    """A plan failed verification by simulation; this is a bug in the engine."""

    exit_code = EXIT_BUG
