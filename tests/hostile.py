"""The hostile corpus: cases in tests/data/hostile/, their set-up and checks.

A case is a folder of project files plus ``case.yaml``::

    about: what is attacked and what must happen
    setup:                        # done in a temporary copy, before the steps
      - {fifo: state.json}
      - {symlink: packs/x.yaml, to: /dev/zero}
      - {nested_json: .goap/goals.d/g/state.json, depth: 200000}
      - {write: some/file, text: "content"}
      - {mkdir: .goap/lock}
    env: {HF_TOKEN: "s3cr3t-Value-42"}
    steps:
      - argv: [run, goals.d/g.yaml, --set, "name=$(touch pwned)", --yes]
        exit: 1
        stdout: ["substring"]
        stderr: ["substring"]
    absent: [pwned]               # must not exist afterwards
    secret: "s3cr3t-Value-42"     # in no output and no file, in no common encoding

Kept apart from the test module so that the sweep driver (tests/sweep.py),
which runs in its own process, sets cases up the same way.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import urllib.parse
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

HOSTILE = Path(__file__).resolve().parent / "data" / "hostile"
INVALID = Path(__file__).resolve().parent / "data" / "invalid"
SETUP_KINDS = {"fifo", "symlink", "nested_json", "write", "mkdir"}
CASE_KEYS = {"about", "setup", "env", "steps", "absent", "secret"}
STEP_KEYS = {"argv", "exit", "stdout", "stderr"}


def hostile_cases() -> list[Path]:
    if not HOSTILE.is_dir():
        return []
    return sorted(p for p in HOSTILE.iterdir() if (p / "case.yaml").is_file())


def load_case(folder: Path) -> dict[str, Any]:
    """Return the case of ``folder``; raise ValueError when it is malformed."""
    case = YAML(typ="safe").load((folder / "case.yaml").read_text())
    if not isinstance(case, dict) or set(case) - CASE_KEYS:
        raise ValueError(f"{folder.name}: keys must be among {sorted(CASE_KEYS)}")
    if not case.get("about") or not case.get("steps"):
        raise ValueError(f"{folder.name}: 'about' and 'steps' are required")
    for step in case["steps"]:
        if set(step) - STEP_KEYS or "argv" not in step or "exit" not in step:
            raise ValueError(f"{folder.name}: a step needs argv and exit: {step}")
    for item in case.get("setup") or []:
        if len(set(item) & SETUP_KINDS) != 1:
            raise ValueError(f"{folder.name}: unknown set-up {item}")
    return case


def prepare(folder: Path, into: Path) -> Path:
    """Copy the case ``folder`` to ``into``/case, do its set-up, return the copy."""
    case = load_case(folder)
    copy = into / "case"
    shutil.copytree(
        folder, copy, symlinks=True, ignore=shutil.ignore_patterns("case.yaml")
    )
    for item in case.get("setup") or []:
        kind = next(iter(set(item) & SETUP_KINDS))
        path = copy / item[kind]
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "symlink":
            os.symlink(item["to"], path)
        elif kind == "nested_json":
            depth = int(item["depth"])
            path.write_text("[" * depth + "]" * depth)
        elif kind == "write":
            path.write_text(item["text"])
        elif kind == "mkdir":
            path.mkdir(parents=True, exist_ok=True)
    return copy


def secret_forms(secret: str) -> set[str]:
    """Return the forms a leaked ``secret`` commonly takes in output or files."""
    raw = secret.encode()
    forms = {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        binascii.hexlify(raw).decode(),
        binascii.hexlify(raw).decode().upper(),
    }
    # Base64 of the secret after 0, 1 or 2 other bytes of a longer stream:
    # the characters whose six bits all come from the secret are the same
    # whatever surrounds it.
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * pad + raw + b"\0" * 3).decode()
            start, end = -(-8 * pad // 6), (8 * pad + 8 * len(raw)) // 6
            forms.add(encoded[start:end])
    return {f for f in forms if len(f) >= 6}


def files_holding(root: Path, needles: set[str]) -> list[str]:
    """Return the files under ``root`` (links not followed) holding a needle."""
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()[: 64 * 1024 * 1024].decode("utf-8", "replace")
            if any(n in data for n in needles):
                found.append(str(path.relative_to(root)))
    return found
