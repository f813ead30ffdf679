"""Find where each template value stands in a POSIX shell command, and quote it so.

A shell command is rendered with a placeholder for every ``{{ ... }}`` value;
this module scans the result with a small lexer of POSIX ``sh`` quoting (a
stack of contexts: bare words, ``'...'``, ``"..."``, ``$(...)``, backticks,
``${...}``, ``$((...))``, ``$'...'``, comments and here-document bodies) and
tells, for each placeholder, the context it stands in.  Each value is then
escaped for exactly that context, so it reaches the command as data:

* bare (also inside ``$(...)``): ``shlex.quote``;
* inside ``"..."``: a backslash before ``\\ $ ` "``;
* inside ``'...'``: each ``'`` becomes ``'\\''``;
* inside ``$((...))``: only a number is accepted.

Where no escaping is sound the value is refused, with how to write it instead.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass
from typing import Any, Literal

Context = Literal[
    "bare",
    "double",
    "single",
    "arith",
    "backtick",
    "parameter",
    "ansi",
    "heredoc",
    "comment",
    "escaped",
    "dollar",
]

#: Contexts where no escaping keeps a value one piece of data, and what to do.
REFUSED: dict[str, str] = {
    "backtick": "inside backticks a value cannot be quoted safely: write $(...) "
    "instead of `...`",
    "parameter": "inside ${...} a value cannot be quoted safely: pass it through "
    "'env:' or as an argument and expand the variable",
    "ansi": "inside $'...' a value cannot be quoted safely: use '...' or \"...\"",
    "heredoc": "inside a here-document a value cannot be quoted safely: pass it "
    "through 'env:' or as an argument (printf '%s\\n' {{ x }} | cmd)",
    "comment": "a value in a comment could end the comment: remove it from the comment",
    "escaped": "a value right after a backslash would lose its quoting: remove "
    "the backslash",
    "dollar": "a value right after '$' would be expanded by the shell: remove the "
    "'$' or quote it ('$'{{ x }})",
}

_WORD_BREAK = frozenset(" \t\n;&|()<>")


@dataclass(frozen=True, slots=True)
class Slot:
    """One placeholder in the scanned text: where it is and what it stands in."""

    start: int
    end: int
    index: int
    context: Context


def scan(text: str, placeholder: re.Pattern[str]) -> list[Slot]:
    """Return every match of ``placeholder`` in ``text`` with its shell context.

    ``placeholder`` must capture the value's index in group 1.
    """
    return _Lexer(text, placeholder).run()


def escape(value: Any, context: Context) -> str:
    """Return ``value`` written for ``context``; raise ValueError where refused."""
    if context in REFUSED:
        raise ValueError(REFUSED[context])
    if context == "arith":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(
                "inside $((...)) only a number is accepted, found "
                f"{type(value).__name__} {_clip(value)}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"inside $((...)) found {value}, which is not a number")
        return repr(value)
    text = plain(value)
    if "\x00" in text:
        raise ValueError(f"the value {_clip(value)} contains a NUL byte")
    if context == "double":
        return re.sub(r'([\\$`"])', r"\\\1", text)
    if context == "single":
        return text.replace("'", "'\\''")
    return shlex.quote(text)


def plain(value: Any) -> str:
    """Return ``value`` as the text a command receives (booleans as in YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Lexer:
    """A stack machine over the quoting contexts of POSIX sh (and bash)."""

    def __init__(self, text: str, placeholder: re.Pattern[str]) -> None:
        self.text = text
        self.placeholder = placeholder
        self.slots: list[Slot] = []
        # Frames: (kind, nesting depth of parentheses or braces inside it).
        self.stack: list[list[Any]] = [["bare", 0]]
        self.heredocs: list[tuple[str, bool]] = []

    def run(self) -> list[Slot]:
        text = self.text
        i = 0
        while i < len(text):
            i = self.step(i)
        return self.slots

    def slot_at(self, i: int, context: Context) -> int | None:
        match = self.placeholder.match(self.text, i)
        if match is None:
            return None
        self.slots.append(Slot(i, match.end(), int(match.group(1)), context))
        return match.end()

    def step(self, i: int) -> int:
        text = self.text
        kind, _ = self.stack[-1]
        context = _CONTEXT_OF[kind]
        if kind in ("bare", "cmdsub", "arith", "double") and i and text[i - 1] == "$":
            context = "dollar" if not self.escaped(i - 1) else context
        end = self.slot_at(i, context)
        if end is not None:
            return end
        c = text[i]
        if kind == "single":
            if c == "'":
                self.stack.pop()
            return i + 1
        if kind in ("backtick", "parameter", "ansi"):
            return self.opaque(i, c, kind)
        if c == "\\":
            if self.slot_at(i + 1, "escaped") is not None:
                return self.slots[-1].end
            return i + 2
        if kind == "double":
            if c == '"':
                self.stack.pop()
                return i + 1
            return self.dollar_or_backtick(i, c)
        return self.bare(i, c, kind)

    def escaped(self, i: int) -> bool:
        """Return whether the character at ``i`` is escaped by backslashes."""
        count = 0
        while i - count - 1 >= 0 and self.text[i - count - 1] == "\\":
            count += 1
        return count % 2 == 1

    def opaque(self, i: int, c: str, kind: str) -> int:
        # Values are refused in these contexts, so only their end matters.
        frame = self.stack[-1]
        if c == "\\":
            if self.slot_at(i + 1, _CONTEXT_OF[kind]) is not None:
                return self.slots[-1].end
            return i + 2
        if kind == "backtick" and c == "`" or kind == "ansi" and c == "'":
            self.stack.pop()
        elif kind == "parameter" and c == "{":
            frame[1] += 1
        elif kind == "parameter" and c == "}":
            if frame[1]:
                frame[1] -= 1
            else:
                self.stack.pop()
        return i + 1

    def dollar_or_backtick(self, i: int, c: str) -> int:
        text = self.text
        if c == "`":
            self.stack.append(["backtick", 0])
            return i + 1
        if c != "$":
            return i + 1
        if text.startswith("$((", i):
            self.stack.append(["arith", 0])
            return i + 3
        if text.startswith("$(", i):
            self.stack.append(["cmdsub", 0])
            return i + 2
        if text.startswith("${", i):
            self.stack.append(["parameter", 0])
            return i + 2
        return i + 1

    def bare(self, i: int, c: str, kind: str) -> int:
        text = self.text
        frame = self.stack[-1]
        if c == "'":
            if kind != "arith" and i and text[i - 1] == "$" and not self.escaped(i - 1):
                self.stack.append(["ansi", 0])
            else:
                self.stack.append(["single", 0])
            return i + 1
        if c == '"':
            self.stack.append(["double", 0])
            return i + 1
        if c == "(":
            frame[1] += 1
            return i + 1
        if c == ")":
            if frame[1]:
                frame[1] -= 1
                return i + 1
            if kind == "arith" and text.startswith("))", i):
                self.stack.pop()
                return i + 2
            if kind == "cmdsub":
                self.stack.pop()
            return i + 1
        if kind == "arith":
            return self.dollar_or_backtick(i, c)
        if c == "#" and (i == 0 or text[i - 1] in _WORD_BREAK):
            return self.comment(i)
        if c == "<" and text.startswith("<<", i) and not text.startswith("<<<", i):
            return self.heredoc_word(i + 2)
        if c == "\n" and self.heredocs:
            return self.heredoc_bodies(i + 1)
        return self.dollar_or_backtick(i, c)

    def comment(self, i: int) -> int:
        end = self.text.find("\n", i)
        end = len(self.text) if end < 0 else end
        self.mark(i, end, "comment")
        return end

    def mark(self, start: int, end: int, context: Context) -> None:
        for match in self.placeholder.finditer(self.text, start, end):
            self.slots.append(
                Slot(match.start(), match.end(), int(match.group(1)), context)
            )

    def heredoc_word(self, i: int) -> int:
        text = self.text
        strip = text.startswith("-", i)
        i += int(strip)
        while i < len(text) and text[i] in " \t":
            i += 1
        start = i
        while i < len(text) and text[i] not in _WORD_BREAK:
            i += 1
        word = text[start:i]
        self.mark(start, i, "heredoc")
        self.heredocs.append((re.sub(r"[\\'\"]", "", word), strip))
        return i

    def heredoc_bodies(self, i: int) -> int:
        text = self.text
        for delimiter, strip in self.heredocs:
            while i < len(text):
                end = text.find("\n", i)
                end = len(text) if end < 0 else end
                line = text[i:end]
                if (line.lstrip("\t") if strip else line) == delimiter:
                    i = end + 1
                    break
                self.mark(i, end, "heredoc")
                i = end + 1
        self.heredocs.clear()
        return i


_CONTEXT_OF: dict[str, Context] = {
    "bare": "bare",
    "cmdsub": "bare",
    "double": "double",
    "single": "single",
    "arith": "arith",
    "backtick": "backtick",
    "parameter": "parameter",
    "ansi": "ansi",
}
