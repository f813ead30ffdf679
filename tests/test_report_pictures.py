"""The report draws the plan (Mermaid flowchart) and the last run (Mermaid Gantt)."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

from goap_cli import goap as cli

from goap_engine.progress import run_gantt

GOAL = textwrap.dedent(
    """\
    version: 1
    state: {built: bool, deployed: bool}
    actions:
      build: {id: A1, effects: {built: true}, run: "sleep 0.2", duration: 1s}
      deploy: {id: A2, pre: built, effects: {deployed: true}, run: exit 1, duration: 2s}
    goal: deployed
    """
)


def block(text: str, heading: str) -> list[str]:
    """Return the lines of the mermaid block under ``heading``."""
    found = re.search(rf"## {heading}\n\n```mermaid\n(.*?)```", text, re.S)
    assert found, text
    return found.group(1).splitlines()


def test_the_report_draws_the_plan_and_the_last_run(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "goals.d").mkdir()
    (tmp_path / "goals.d" / "g.yaml").write_text(GOAL)
    before = cli(tmp_path, "report").stdout
    assert "## Last run" not in before  # nothing ran yet
    assert block(before, "Plan")[0] == "flowchart TD"
    assert cli(tmp_path, "run", "--yes").returncode == 1
    report = cli(tmp_path, "report").stdout
    gantt = block(report, "Last run")
    assert gantt[0] == "gantt" and "  dateFormat x" in gantt
    tasks = [line for line in gantt if re.match(r"  \S.* :", line)]
    assert [t.split(" :")[0].strip() for t in tasks] == ["A1  build", "A2  deploy"] * 2
    spans = [
        tuple(int(n) for n in t.split(":")[1].replace("crit,", "").split(","))
        for t in tasks
    ]
    assert all(end > start for start, end in spans)
    estimated_build, actual_build = spans[0], spans[2]
    assert estimated_build[1] - estimated_build[0] == 1000  # duration: 1s
    assert 150 <= actual_build[1] - actual_build[0] < 1000  # sleep 0.2
    assert "crit" in tasks[3] and "crit" not in tasks[2]  # deploy failed


def test_names_that_would_break_the_chart_are_cleaned() -> None:
    chart = run_gantt(
        "r1",
        [
            {"step": "X1: a;b#c:d", "t": 100.0, "seconds": 1.0, "status": "ok"},
            {"step": "bad", "t": "soon", "seconds": 1.0, "status": "ok"},
        ],
    )
    tasks = [line for line in chart.splitlines() if " :" in line]
    assert tasks == ["  X1  a b c d :99000, 99001", "  X1  a b c d :99000, 100000"]
    assert run_gantt(None, []) == ""
