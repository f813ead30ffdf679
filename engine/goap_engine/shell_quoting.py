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
* inside ``$((...))``, and bash's ``((...))``, ``$[...]`` and ``[[...]]``
  (which evaluate ``a[$(cmd)]`` in an operand as arithmetic, running ``cmd``
  whatever its quoting): only a number is accepted.

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
    "test",
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
# Reserved words after which the next word is a command (``if (( n > 1 ))``).
_COMMAND_WORDS = frozenset(
    {"if", "then", "else", "elif", "do", "while", "until", "!", "{"}
)
# Frames in which bash evaluates operands as arithmetic, quoted or not.
_NUMERIC = {"arith": "arith", "barith": "arith", "dtest": "test"}


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
    if context in ("arith", "test"):
        where = "$((...))" if context == "arith" else "[[ ... ]]"
        if isinstance(value, bool) or not isinstance(value, int | float):
            hint = " (use [ ... ], which compares text)" if context == "test" else ""
            raise ValueError(
                f"inside {where} only a number is accepted{hint}, found "
                f"{type(value).__name__} {_clip(value)}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"inside {where} found {value}, which is not a number")
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
        # Frames: [kind, nesting depth of parentheses, braces or brackets
        # inside it, open ``case`` commands, index where it starts].
        self.stack: list[list[Any]] = [["bare", 0, 0, 0]]
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
        kind = self.stack[-1][0]
        context = _CONTEXT_OF[kind]
        if kind in ("bare", "cmdsub", "arith", "double") and i and text[i - 1] == "$":
            context = "dollar" if not self.escaped(i - 1) else context
        context = self.numeric(context)
        end = self.slot_at(i, context)
        if end is not None:
            return end
        c = text[i]
        if kind == "single":
            if c == "'":
                self.stack.pop()
            return i + 1
        if kind in ("backtick", "parameter", "ansi", "psingle", "pdouble"):
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

    def push(self, kind: str, i: int) -> None:
        self.stack.append([kind, 0, 0, i])

    def numeric(self, context: Context) -> Context:
        """Return the numbers-only context when bash evaluates this as arithmetic.

        Quotes do not protect a value there: ``$(( 'a[$(cmd)]' ))`` runs cmd.
        """
        if context not in ("bare", "double", "single"):
            return context
        for frame in reversed(self.stack):
            if frame[0] in _NUMERIC:
                return _NUMERIC[frame[0]]  # type: ignore[return-value]
            if frame[0] in ("cmdsub", "backtick"):
                break
        return context

    def command_position(self, i: int) -> bool:
        """Return whether a word starting at ``i`` is in command position."""
        text = self.text
        j = i
        while j > self.stack[-1][3] and text[j - 1] in " \t":
            j -= 1
        if j == self.stack[-1][3] or text[j - 1] in ";&|(\n":
            return True
        start = j
        while start > 0 and text[start - 1] not in _WORD_BREAK:
            start -= 1
        return text[start:j] in _COMMAND_WORDS and (
            start == 0 or self.command_position(start)
        )

    def keyword(self, i: int, word: str) -> bool:
        end = i + len(word)
        return (
            self.text.startswith(word, i)
            and (end == len(self.text) or self.text[end] in _WORD_BREAK)
            and (i == 0 or self.text[i - 1] in _WORD_BREAK)
            and self.command_position(i)
        )

    def escaped(self, i: int) -> bool:
        """Return whether the character at ``i`` is escaped by backslashes."""
        count = 0
        while i - count - 1 >= 0 and self.text[i - count - 1] == "\\":
            count += 1
        return count % 2 == 1

    def opaque(self, i: int, c: str, kind: str) -> int:
        # Values are refused in these contexts, so only their end matters.
        frame = self.stack[-1]
        if kind == "psingle":
            if c == "'":
                self.stack.pop()
            return i + 1
        if c == "\\":
            if self.slot_at(i + 1, _CONTEXT_OF[kind]) is not None:
                return self.slots[-1].end
            return i + 2
        if (kind, c) in (("backtick", "`"), ("ansi", "'"), ("pdouble", '"')):
            self.stack.pop()
        elif kind == "parameter" and c in "'\"":
            # A quoted '}' does not end the expansion: ${x#"}"}.
            self.push("psingle" if c == "'" else "pdouble", i + 1)
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
            self.push("backtick", i + 1)
            return i + 1
        if c != "$":
            return i + 1
        if text.startswith("$((", i):
            self.push("arith", i + 3)
            return i + 3
        if text.startswith("$(", i):
            self.push("cmdsub", i + 2)
            return i + 2
        if text.startswith("${", i):
            self.push("parameter", i + 2)
            return i + 2
        if text.startswith("$[", i):
            self.push("barith", i + 2)
            return i + 2
        return i + 1

    def bare(self, i: int, c: str, kind: str) -> int:
        text = self.text
        frame = self.stack[-1]
        if c == "'":
            if kind != "arith" and i and text[i - 1] == "$" and not self.escaped(i - 1):
                self.push("ansi", i + 1)
            else:
                self.push("single", i + 1)
            return i + 1
        if c == '"':
            self.push("double", i + 1)
            return i + 1
        if kind == "barith" and c in "[]":
            if c == "[":
                frame[2] += 1
            elif frame[2]:
                frame[2] -= 1
            else:
                self.stack.pop()
            return i + 1
        if kind in ("bare", "cmdsub") and self.keyword(i, "case"):
            frame[2] += 1
            return i + 4
        if kind in ("bare", "cmdsub") and frame[2] and self.keyword(i, "esac"):
            frame[2] -= 1
            return i + 4
        if kind in ("bare", "cmdsub", "dtest") and c in "([":
            # bash: ((...)) as a command is arithmetic, [[...]] a test
            # whose -eq and friends evaluate their operands as arithmetic.
            if text.startswith("((", i) and self.command_position(i):
                self.push("arith", i + 2)
                return i + 2
            if self.keyword(i, "[["):
                self.push("dtest", i + 2)
                return i + 2
        if kind == "dtest" and self.keyword(i, "]]"):
            self.stack.pop()
            return i + 2
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
            if kind == "cmdsub" and not frame[2]:
                self.stack.pop()
            # Else a pattern's ')' in a case command: $(case x in a) ...
            return i + 1
        if kind in ("arith", "barith"):
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
            # A quoted delimiter may hold spaces: <<'END OF TEXT'.
            if text[i] in "'\"":
                close = text.find(text[i], i + 1)
                i = len(text) if close < 0 else close + 1
            else:
                i += 2 if text[i] == "\\" else 1
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
    "barith": "arith",
    "dtest": "bare",
    "backtick": "backtick",
    "parameter": "parameter",
    "psingle": "parameter",
    "pdouble": "parameter",
    "ansi": "ansi",
}
