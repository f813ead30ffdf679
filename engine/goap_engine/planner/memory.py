"""How much memory a search may take before it stops (exit 3, not the OOM killer).

A search keeps every state it generates.  With a thousand variables and two
thousand successors a state, blind search takes over a gigabyte every ten
seconds: within ``--timeout`` (300 s by default) it would take the machine.
So a search stops once the process holds more than it did when the search
began plus half the memory then available.
"""

from __future__ import annotations

import os
import sys

from ..errors import SearchLimitError

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None  # type: ignore[assignment]


def _available_kb() -> int | None:
    """Return the memory the system can still give (kB), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
    return pages * size // 1024 if pages > 0 and size > 0 else None


def peak_kb() -> int:
    """Return the most memory this process has held so far (kB), 0 if unknown."""
    if resource is None:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes there


class MemoryLimit:
    """Raise ``SearchLimitError`` when the process outgrows what it may hold."""

    def __init__(self) -> None:
        available = _available_kb()
        self.limit_kb = None if available is None else peak_kb() + available // 2

    def check(self, expanded: int) -> None:
        """Raise ``SearchLimitError`` if the limit is passed."""
        if self.limit_kb is not None and peak_kb() > self.limit_kb:
            raise SearchLimitError(
                f"search stopped after {expanded:,} nodes holding "
                f"{peak_kb() / 1024**2:.1f} GB (memory limit: half of the memory "
                "free when it began)"
            )
