"""Run ``goap-engine`` as a real process, the way the command-line tests need it.

Plain output (``NO_COLOR``), no stdin, a time limit, and none of the
``GOAP_VAR_*`` values of the environment the tests run in: each test gives
the environment it means with ``env``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def goap(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m goap_engine ARGS`` in ``cwd``; return the finished process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GOAP_VAR_")}
    return subprocess.run(
        [sys.executable, "-m", "goap_engine", *args],
        cwd=cwd,
        env={**clean, "NO_COLOR": "1", **env},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
