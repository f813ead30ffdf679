"""Where a hook's output goes while it runs: live lines, the step log, a tail.

Output arrives as bytes from a pipe, in whatever pieces the kernel hands over.
``Output`` cuts it into lines, redacts each line once, and sends it on at once
to the live view and to the step's log file, so a person sees a training step's
progress as it happens and the log keeps everything even when the run is
interrupted or killed.  A line still open when nothing more has come for a
moment is let out anyway: a prompt or a progress bar without a newline must not
sit invisible.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

TAIL_LINES = 20
# A tail line longer than this is cut: the journal keeps a tail, not a dump.
TAIL_WIDTH = 400
# Lines longer than this are cut: one runaway line must not fill memory.
MAX_LINE = 16 * 1024
# How long an unfinished line waits for its newline before it is shown.
PARTIAL_AFTER = 0.5
# What a sensor or a caller may read back as the whole output (stdout sensors).
MAX_CAPTURE = 64 * 1024
# A sensor's whole output is its value; more than this is not a value.
MAX_SENSED = 1024 * 1024
# A step log stops growing here; a hook printing without end must not fill
# the disk.
MAX_LOG = 64 * 1024 * 1024


class Output:
    """One hook's output: cut into redacted lines, shown live, logged, tailed."""

    def __init__(
        self,
        redact: Callable[[str], str] = lambda text: text,
        *,
        on_line: Callable[[str], None] | None = None,
        log_path: Path | None = None,
        capture: bool = False,
    ) -> None:
        self.redact = redact
        self.on_line = on_line
        self.log_path = log_path
        self.capture = capture
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.lines = 0
        self._captured: deque[str] = deque()
        self._captured_size = 0
        self._partial = b""
        self._partial_since = 0.0
        self._skipping = False
        self._fd: int | None = None
        self._logged = 0
        self._safe_cut: Callable[[str], int] = getattr(
            redact, "safe_cut", lambda text: len(text)
        )
        self._lock = threading.Lock()
        # Set once the hook printed more than it may; its process is then ended.
        self.over_limit = False

    def feed(self, data: bytes) -> None:
        """Take raw bytes from the hook; send on every complete line."""
        if not data:
            return
        with self._lock:
            if self._skipping:
                # The rest of a line already cut: dropped up to its end, so a
                # secret cut in two cannot show its second half.
                end = data.find(b"\n")
                if end < 0:
                    return
                self._skipping = False
                data = data[end + 1 :]
                if not data:
                    return
            if not self._partial:
                self._partial_since = time.monotonic()
            buffer = self._partial + data
            *complete, rest = buffer.split(b"\n")
            self._partial = rest
            if complete and rest:
                self._partial_since = time.monotonic()
            if complete:
                # Redacted as one text: one pass over a chunk of lines costs
                # far less than one per line, and a secret of several lines
                # printed whole is caught too.
                text = b"\n".join(complete).decode("utf-8", errors="replace")
                for line in self.redact(text).split("\n"):
                    self._emit_text(line, redact=False)
            if len(self._partial) > MAX_LINE:
                # Shown up to where a secret may begin (its end is not here
                # yet); the rest of the line is dropped.
                text = self._partial.decode("utf-8", errors="replace")
                self._emit(text[: self._safe_cut(text)].encode("utf-8"))
                self._partial = b""
                self._skipping = True

    def idle(self) -> None:
        """Let out an unfinished line that has waited long enough."""
        with self._lock:
            if (
                not self._partial
                or time.monotonic() - self._partial_since < PARTIAL_AFTER
            ):
                return
            text = self._partial.decode("utf-8", errors="replace")
            cut = self._safe_cut(text)
            if cut:
                self._emit(text[:cut].encode("utf-8"))
                self._partial = text[cut:].encode("utf-8")
                self._partial_since = time.monotonic()

    def line(self, text: str) -> None:
        """Add one whole line of text (a hook's ``ctx.log``)."""
        with self._lock:
            for part in text.splitlines() or [""]:
                self._emit(part.encode("utf-8", errors="replace"))

    def close(self) -> None:
        """Send on what is left and close the log file."""
        with self._lock:
            if self._partial:
                self._emit(self._partial)
                self._partial = b""
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def text(self) -> str:
        """Return the captured output (the last ``MAX_CAPTURE`` characters)."""
        return "".join(self._captured)

    def tail_text(self) -> str:
        return "\n".join(self.tail)

    def _emit(self, raw: bytes) -> None:
        self._emit_text(raw.decode("utf-8", errors="replace"))

    def _emit_text(self, text: str, *, redact: bool = True) -> None:
        text = text.rstrip("\r")
        if redact:
            # Redacted whole, then cut: a cut first could split a secret.
            text = self.redact(text)
        if "\r" in text:
            # A progress bar redraws its line with carriage returns; what a
            # terminal would show is the last state, and that is what is kept.
            text = text.rsplit("\r", 1)[1]
        if len(text) > MAX_LINE:
            text = text[:MAX_LINE] + " [... line cut ...]"
        self.lines += 1
        self.tail.append(
            text if len(text) <= TAIL_WIDTH else text[:TAIL_WIDTH] + " [...]"
        )
        if self.capture:
            self._captured.append(text + "\n")
            self._captured_size += len(text) + 1
            while self._captured_size > MAX_CAPTURE and len(self._captured) > 1:
                self._captured_size -= len(self._captured.popleft())
        if self.log_path is not None:
            self._write_log(text)
        if self.on_line is not None:
            self.on_line(text)

    def _write_log(self, text: str) -> None:
        try:
            self._append_log(text)
        except OSError as exc:
            # A full disk or an unwritable folder costs the log, not the
            # step: say so once in the live output and stop logging.
            self.log_path = None
            if self.on_line is not None:
                self.on_line(f"[cannot write the step log: {exc.strerror or exc}]")

    def _append_log(self, text: str) -> None:
        if self._fd is None:
            assert self.log_path is not None
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(
                self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600
            )
        if self._logged >= MAX_LOG:
            return
        encoded = (text + "\n").encode("utf-8", errors="replace")
        self._logged += len(encoded)
        if self._logged >= MAX_LOG:
            encoded += b"[... log cut at its size limit; the rest was shown only ...]\n"
        # One unbuffered write per line: whatever the hook printed before a
        # crash or kill -9 of the engine is in the file.
        data = memoryview(encoded)
        while data:
            data = data[os.write(self._fd, data) :]


class WholeOutput(Output):
    """A sensor's output: kept whole (not cut into lines), up to ``limit`` bytes.

    A value is not a log: cutting a long line or keeping only a tail would
    hand the sensor a different value than the command printed.  Output past
    the limit marks ``over_limit`` and the command is ended.
    """

    def __init__(
        self, redact: Callable[[str], str] = lambda text: text, limit: int = MAX_SENSED
    ) -> None:
        super().__init__(redact, capture=True)
        self.limit = limit
        self._data = bytearray()

    def feed(self, data: bytes) -> None:
        room = self.limit - len(self._data)
        if len(data) > room:
            self.over_limit = True
            data = data[: max(room, 0)]
        self._data += data

    def idle(self) -> None:
        return

    def line(self, text: str) -> None:
        self.feed((text + "\n").encode("utf-8", errors="replace"))

    def close(self) -> None:
        return

    def text(self) -> str:
        return self.redact(self._data.decode("utf-8", errors="replace"))
