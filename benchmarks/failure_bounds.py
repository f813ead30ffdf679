"""How long a down or silent service takes to fail a step, as a user sees it.

For each service built-in the engine calls, a one-variable goal senses it
through ``goap-engine plan`` (the real command, its worker process and the
service's real client library) against a port nobody listens on ("down")
and a socket that accepts and never answers ("silent"), and the wall time
until the command gives up is printed next to the bound the built-in
documents.  The silent runs use small bounds given in ``with:``
(``http_timeout: 2``, ``retries: 1``, ``max_wait: 2``; the Hub, which
always retries twice, without ``retries``; Modal's ``check_timeout: 2``)
so that the run stays short; the down runs use the defaults.  Nothing here
leaves 127.0.0.1.

    python benchmarks/failure_bounds.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMALL = {"http_timeout": 2, "retries": 1, "max_wait": 2}

CASES: dict[str, tuple[str, dict[str, object], dict[str, str], str]] = {
    # name: (builtin, with (the URL is filled in), environment, url argument)
    "github.ci_status": (
        "github.ci_status",
        {"repo": "acme/vision", "sha": "0" * 40},
        {"GITHUB_TOKEN": "bench-token"},
        "base_url",
    ),
    "hf.uploaded": (
        "hf.uploaded",
        {"repo_id": "acme/vision", "folder": "model"},
        {"HF_TOKEN": "bench-token"},
        "endpoint",
    ),
    "mlflow.logged": (
        "mlflow.logged",
        {"experiment": "bench", "run_name": "bench"},
        {},
        "tracking_uri",
    ),
    "modal.configured": (
        "modal.configured",
        {},
        {"MODAL_TOKEN_ID": "ak-bench", "MODAL_TOKEN_SECRET": "as-bench"},
        "",
    ),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _goal(builtin: str, args: dict[str, object]) -> str:
    import json

    return (
        "version: 1\n"
        "state:\n"
        f"  seen: {{type: bool, sense: {{builtin: {builtin}, "
        f"with: {json.dumps(args)}}}}}\n"
        "  done: bool\n"
        "actions:\n"
        "  act: {pre: seen, effects: {done: true}, run: 'true'}\n"
        "goal: [done]\n"
    )


def _time(name: str, url: str, small: bool) -> tuple[float, int, str]:
    builtin, args, env, url_arg = CASES[name]
    args = dict(args)
    if url_arg:
        args[url_arg] = url
    if small:
        if name == "modal.configured":
            args["check_timeout"] = 2
        elif name == "hf.uploaded":
            args.update(http_timeout=2, max_wait=2)  # the Hub retries twice
        else:
            args.update(SMALL)
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "model").mkdir()
        (project / "model" / "weights.bin").write_bytes(b"0" * 64)
        (project / "g.yaml").write_text(_goal(builtin, args), encoding="utf-8")
        extra = dict(env)
        if name == "modal.configured":
            extra["MODAL_SERVER_URL"] = url
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "goap_engine", "plan", "g.yaml", "--no-cache"],
            cwd=project,
            env={**os.environ, "NO_COLOR": "1", "HOME": folder, **extra},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        elapsed = time.monotonic() - began
    said = (done.stderr.strip().splitlines() or [""])[-1]
    return elapsed, done.returncode, said[:150]


def main() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    down_url = f"http://127.0.0.1:{_free_port()}"
    print("| built-in | server | bounds | wall time (s) | exit | last line |")
    print("|---|---|---|---:|---:|---|")
    try:
        for name in CASES:
            for server, url, small in (
                ("down", down_url, False),
                ("silent", silent_url, True),
            ):
                elapsed, code, said = _time(name, url, small)
                bounds = "small (2 s)" if small else "defaults"
                said = said.replace("|", "\\|")
                cells = [f"`{name}`", server, bounds, f"{elapsed:.1f}", str(code), said]
                print("| " + " | ".join(cells) + " |")
                sys.stdout.flush()
    finally:
        silent.close()


if __name__ == "__main__":
    main()
