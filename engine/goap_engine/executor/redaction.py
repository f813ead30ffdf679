"""Hide secret values in text, in every form a secret commonly takes.

A secret leaves a process as itself, but also JSON-escaped, through ``repr()``,
one line of it at a time, URL-encoded (a token in a URL), hex-encoded (a
digest's look) and base64-encoded (an HTTP basic auth header, a Kubernetes
secret, a line of a larger base64 stream).  Each of those forms is a *needle*;
one compiled regular expression, shaped as a trie of all needles, finds them
in a single pass over the text however many secrets there are.

Values shorter than ``MIN_LENGTH`` are never redacted: "on" or "1" would
blank out every output.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "***"
MIN_LENGTH = 4
# From this length on, a substring search per needle (each at gigabytes a
# second) beats the regular expression engine, which steps through every
# position; below it, one pass of the expression beats a search per needle.
LONG_TEXT = 4096

# Every secret value any redactor of this process was given: the last line of
# defence (the command line's error handler) hides them in messages that did
# not pass through the redactor of the run that learnt them.
_SEEN: set[str] = set()


def forms(value: str) -> set[str]:
    """Return the texts that give ``value`` away: itself and its encodings."""
    if len(value) < MIN_LENGTH:
        return set()
    found = {value, json.dumps(value)[1:-1], repr(value)[1:-1]}
    # A template's |upper, tr or ${x^^} changes only the case.
    found.update({value.upper(), value.lower()})
    found.update(line for line in value.splitlines() if len(line.strip()) >= 4)
    found.update({quote(value), quote(value, safe=""), quote_plus(value)})
    data = value.encode("utf-8", errors="surrogatepass")
    found.update({data.hex(), data.hex().upper()})
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(data).decode("ascii")
        found.update({whole, whole.rstrip("=")})
        # Inside a longer stream the secret starts 0, 1 or 2 bytes into a
        # 3-byte group; only the characters made of its bits alone are its.
        for shift in (0, 1, 2):
            text = encode(b"\0" * shift + data).decode("ascii")
            first = -(-8 * shift // 6)
            last = 8 * (shift + len(data)) // 6
            core = text[first:last]
            if len(core) >= MIN_LENGTH:
                found.add(core)
    return {f for f in found if len(f) >= MIN_LENGTH}


def _trie(needles: Iterable[str]) -> dict[str, Any]:
    """Return the needles as nested dicts, one level per character ("" ends)."""
    root: dict[str, Any] = {}
    for needle in needles:
        node = root
        for char in needle:
            node = node.setdefault(char, {})
        node[""] = {}
    return root


def _pattern(node: dict[str, Any]) -> str:
    """Return a regular expression matching any needle of the trie, longest first.

    Shaped as the trie, so at each position the engine compares one character
    per level instead of trying every needle in turn.  A run of characters
    without a branch becomes one literal, so a long secret costs no recursion.
    """
    branches = []
    for char, child in node.items():
        if not char:
            continue
        run = [char]
        while len(child) == 1 and "" not in child:
            ((char, child),) = child.items()
            run.append(char)
        branches.append(re.escape("".join(run)) + _pattern(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    if "" in node:
        # Greedy: a longer needle wins over the one that ends here.
        return f"(?:{body})?"
    return body


class Redactor:
    """Replace every secret value, in each of its common forms, with ``***``.

    Secrets learnt while a run goes on (a secret state variable's value) are
    added with :meth:`add`; text redacted afterwards hides them too.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: tuple[str, ...] = ()
        self.needles: list[str] = []
        self.longest = 0
        self._trie: dict[str, Any] = {}
        self._pattern: re.Pattern[str] | None = None
        self._minimal: list[str] = []
        self._families: dict[frozenset[str], tuple[str, ...]] = {}
        self.add(*secrets)

    @classmethod
    def from_env(cls, names: Iterable[str]) -> Redactor:
        return cls(os.environ.get(name, "") for name in names)

    def add(self, *values: str) -> None:
        """Hide ``values`` (and their forms) from now on."""
        fresh = [
            v
            for v in values
            if isinstance(v, str) and len(v) >= MIN_LENGTH and v not in self.secrets
        ]
        if not fresh:
            return
        _SEEN.update(fresh)
        self.secrets += tuple(dict.fromkeys(fresh))
        needles = set(self.needles)
        for value in fresh:
            needles.update(forms(value))
        self.needles = sorted(needles, key=len, reverse=True)
        self.longest = len(self.needles[0])
        self._trie = _trie(self.needles)
        self._pattern = re.compile(_pattern(self._trie))
        # Each needle holds one of these: when none is in a text, no needle is.
        self._minimal = []
        for needle in reversed(self.needles):
            if not any(m in needle for m in self._minimal):
                self._minimal.append(needle)
        self._families = {}

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        if len(text) >= LONG_TEXT:
            return self._long(text)
        found = self._pattern.search(text)
        if found is None:
            return text
        parts = []
        done = 0
        while found is not None:
            start, end = found.span()
            # A needle starting inside this match may run past its end (two
            # secrets printed overlapping): both must disappear.
            at = start + 1
            while at < end:
                inner = self._pattern.match(text, at)
                if inner is not None and inner.end() > end:
                    end = inner.end()
                at += 1
            parts.append(text[done:start])
            parts.append(REDACTED)
            done = end
            found = self._pattern.search(text, end)
        parts.append(text[done:])
        return "".join(parts)

    def _long(self, text: str) -> str:
        """Redact a long text with substring searches (C speed) instead of the
        regular expression, which steps through every position in Python's
        engine: only the needles present are searched, and every place any of
        them covers is hidden, overlaps joined."""
        spans = []
        for needle in self._present(text):
            at = text.find(needle)
            while at >= 0:
                spans.append((at, at + len(needle)))
                at = text.find(needle, at + 1)
        if not spans:
            return text
        spans.sort()
        parts = []
        done = 0
        start, end = spans[0]
        for begin, finish in spans[1:]:
            if begin <= end:
                end = max(end, finish)
                continue
            parts += [text[done:start], REDACTED]
            done, start, end = end, begin, finish
        parts += [text[done:start], REDACTED, text[end:]]
        return "".join(parts)

    def _present(self, text: str) -> tuple[str, ...]:
        """Return the needles that may be in ``text``: those holding a minimal
        needle found in it (every needle holds at least one)."""
        present = frozenset(m for m in self._minimal if m in text)
        if not present:
            return ()
        family = self._families.get(present)
        if family is None:
            family = tuple(n for n in self.needles if any(m in n for m in present))
            if len(self._families) > 256:
                self._families.clear()
            self._families[present] = family
        return family

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def contains(self, text: str) -> bool:
        """Return whether ``text`` holds a secret in any of its forms."""
        if self._pattern is None:
            return False
        if len(text) >= LONG_TEXT:
            return bool(self._present(text))
        return self._pattern.search(text) is not None

    def safe_cut(self, text: str) -> int:
        """Return how much of an unfinished line can be shown now.

        The rest may be the start of a secret whose remainder has not been
        printed yet: shown now, that start would escape redaction.
        """
        for start in range(max(0, len(text) - self.longest + 1), len(text)):
            node = self._trie
            for char in text[start:]:
                node = node.get(char)  # type: ignore[assignment]
                if node is None:
                    break
            else:
                return start
        return len(text)

    def data(self, value: Any) -> Any:
        """Return ``value`` (JSON-like) with secrets redacted in every string."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def everything() -> Redactor:
    """Return a redactor of every secret this process has been given so far."""
    return Redactor(_SEEN)
