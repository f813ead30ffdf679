"""Run docs/tutorial.md as a reader would and compare what it prints.

The tutorial is read in order:

* a fenced block marked ``console`` holds commands (lines starting with
  ``$ ``), each followed by the lines it prints (stdout and stderr together,
  as a terminal shows them). A ``...`` line matches any run of lines, even
  none. Times, durations and run ids are normalised on both sides. Every
  command must exit 0, except one followed by ``$ echo $?``, which prints its
  exit code (each command's shell starts with the previous exit status);
* a fenced block whose info string has ``title="PATH"`` (```` ```yaml
  title="goals.d/g.yaml" ````) is a file the reader creates: it is written,
  relative to the current folder, before the next command runs;
* ``cd`` works as in a shell: the folder a command ends in is the next one's.

Each command runs in ``bash`` in a fresh temporary folder with
``goap-engine`` (this checkout's package) and ``python`` on PATH, HOME and
GOAP_CACHE_DIR inside the temporary folder and ``NO_COLOR=1``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import goap_engine

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
FENCE = re.compile(r"^```(\S*)(.*)$")
TITLE = re.compile(r'title="([^"]+)"')
# Values that differ from one run to the next, replaced on both sides.
VARYING = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?"), "<timestamp>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d( UTC)?"), "<timestamp>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<run-id>"),
    (re.compile(r"\b\d+\.\d+s\b"), "<seconds>"),
    (re.compile(r"\(\d+s\)"), "(<s>)"),
    (re.compile(r"in \d+s\b"), "in <s>"),
    (re.compile(r"in \d+ ms\b"), "in <ms>"),
    (re.compile(r'time="[\d.]+"'), 'time="<seconds>"'),
]


@dataclass
class Step:
    """One thing the reader does: write a file or type a command."""

    line: int
    command: str = ""
    path: str = ""
    text: str = ""
    expected: list[str] = field(default_factory=list)


def parse(markdown: str) -> list[Step]:
    """Return the tutorial's files and commands in reading order."""
    steps: list[Step] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening or not opening.group(1):
            i += 1
            continue
        start = i
        body: list[str] = []
        i += 1
        while not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        title = TITLE.search(opening.group(2))
        if title:
            text = "\n".join(body) + "\n"
            steps.append(Step(start + 1, path=title.group(1), text=text))
        elif opening.group(1) == "console":
            for n, text in enumerate(body):
                if text.startswith("$ "):
                    steps.append(Step(start + 2 + n, command=text[2:]))
                else:
                    steps[-1].expected.append(text)
    return steps


def normalise(text: str) -> str:
    for pattern, replacement in VARYING:
        text = pattern.sub(replacement, text)
    return text.rstrip()


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether actual fits expected, where a '...' line matches any lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[k:]) for k in range(len(actual) + 1))
    return (
        bool(actual)
        and normalise(expected[0]) == normalise(actual[0])
        and matches(expected[1:], actual[1:])
    )


def test_parse_reads_files_commands_and_outputs() -> None:
    steps = parse(
        'text\n```yaml title="a/b.yaml"\nx: 1\n```\n'
        "```console\n$ cat a/b.yaml\nx: 1\n$ true\n```\n```sh\n$ not run\n```\n"
    )
    assert [(s.path, s.text, s.command, s.expected) for s in steps] == [
        ("a/b.yaml", "x: 1\n", "", []),
        ("", "", "cat a/b.yaml", ["x: 1"]),
        ("", "", "true", []),
    ]


def test_an_ellipsis_matches_any_run_of_lines_and_nothing_else_does() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "d"], ["a", "d"])
    assert not matches(["a", "...", "d"], ["a", "b"])
    assert not matches(["a"], ["a", "b"])
    assert matches(["run 0123456789ab ok (0s)"], ["run ba9876543210 ok (3s)"])


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    steps = parse(TUTORIAL.read_text(encoding="utf-8"))
    assert sum(1 for s in steps if s.command) >= 20
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "goap-engine"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m goap_engine "$@"\n')
    shim.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    package_root = str(Path(goap_engine.__file__).resolve().parent.parent)
    env = {
        "PATH": os.pathsep.join(
            [str(bin_dir), str(Path(sys.executable).parent), "/usr/bin", "/bin"]
        ),
        "HOME": str(home),
        "GOAP_CACHE_DIR": str(home / "cache"),
        "PYTHONPATH": package_root,
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
        "GIT_AUTHOR_NAME": "Reader",
        "GIT_AUTHOR_EMAIL": "reader@example.com",
        "GIT_COMMITTER_NAME": "Reader",
        "GIT_COMMITTER_EMAIL": "reader@example.com",
    }
    cwd = work
    where = tmp_path / "cwd"
    status = 0
    for index, step in enumerate(steps):
        if step.path:
            target = cwd / step.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.text, encoding="utf-8")
            continue
        script = (
            f"(exit {status}); {step.command}\n"
            f"__status=$?; pwd > '{where}'; exit $__status\n"
        )
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            check=False,
        )
        cwd = Path(where.read_text().strip())
        status = result.returncode
        printed = result.stdout.replace(str(work), "/path/to")
        actual = printed.splitlines()
        if os.environ.get("TUTORIAL_DUMP"):
            print(f"$ {step.command}\n{printed}", end="")
            continue
        assert matches(step.expected, actual), (
            f"docs/tutorial.md:{step.line}: $ {step.command}\n"
            "--- expected\n" + "\n".join(step.expected) + "\n--- printed\n" + printed
        )
        following = next((s for s in steps[index + 1 :] if s.command), None)
        if following is None or following.command != "echo $?":
            assert status == 0, (
                f"docs/tutorial.md:{step.line}: $ {step.command} exited {status}"
                "; show a non-zero exit with '$ echo $?'\n" + result.stdout
            )
