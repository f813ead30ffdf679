"""Values never become code, secrets never reach a file or a terminal, dry runs
touch nothing."""

from __future__ import annotations

import json
from pathlib import Path

SECRET = 's3cr3t-"line1"\nline2-value'


def test_values_are_quoted_not_executed(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        vars:
          v: "x; touch pwned"
          w: "$(touch pwned2)"
          q: "it's `touch pwned3` \\"quoted\\""
        state:
          said: bool
          label: {type: str, default: plain}
          labelled: bool
        actions:
          say:
            id: Q1
            effects: {said: true}
            run: echo {{ v }}; echo {{ w }}; echo {{ q }}
          tag:
            id: Q2
            effects: {labelled: true}
            run: echo "label=" {{ label }}
        goal: [said, labelled]
        """,
    )
    result = h.run("run", goal, "--set", "label=a'b; touch pwned4 #", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".goap", "goal.yaml"]
    out = result.stderr
    assert "[Q1: say] | x; touch pwned\n" in out
    assert "[Q1: say] | $(touch pwned2)\n" in out
    assert '[Q1: say] | it\'s `touch pwned3` "quoted"\n' in out
    assert "[Q2: tag] | label= a'b; touch pwned4 #\n" in out
    # The journal shows the command as it ran, quoted.
    starts = {
        e["step"]: e["command"]
        for e in h.events(tmp_path)
        if e["event"] == "step_start"
    }
    assert starts["Q1: say"].startswith("echo 'x; touch pwned'; echo '$(touch pwned2)'")


def test_secrets_are_redacted_everywhere(tmp_path: Path, h) -> None:
    (tmp_path / "hooks.py").write_text(
        "import os\n\n"
        "def shout(ctx):\n"
        "    ctx.log('python says ' + os.environ['MY_TOKEN'])\n"
        "    return True\n"
    )
    goal = h.goal(
        tmp_path,
        """
        version: 1
        secrets: [MY_TOKEN]
        state:
          plain: bool
          as_json: bool
          from_python: bool
          token_seen:
            type: str
            sense: {shell: 'printf "%s" "$MY_TOKEN"', from: stdout}
          claimed: {type: str, default: nothing}
          claim_made: bool
        actions:
          echo_plain:
            id: R1
            effects: {plain: true}
            run: >-
              printf '%s\\n' "$MY_TOKEN"; echo "$MY_TOKEN" >&2;
              echo {{ env.MY_TOKEN }}
          echo_json:
            id: R2
            effects: {as_json: true}
            run: python3 -c 'import json, os; print(json.dumps(os.environ["MY_TOKEN"]))'
          call_python:
            id: R3
            effects: {from_python: true}
            run: {python: "hooks:shout"}
          claim:
            id: R4
            effects: {claim_made: true}
            run: echo {{ token_seen }}; exit 3
            on_failure: {claimed: "failed"}
        policy: {max_replans: 0}
        goal: [plain, as_json, from_python, claim_made]
        """,
    )
    env = h.env(MY_TOKEN=SECRET, PYTHONPATH=str(tmp_path))
    result = h.run("run", goal, env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # R4 fails on purpose
    assert "[R1: echo_plain] | ***" in result.stderr
    assert '[R2: echo_json] | "***"' in result.stderr
    assert "python says ***" in result.stderr
    plan_file = tmp_path / "plan.json"
    planned = h.run(
        "plan",
        goal,
        "--state",
        h.files(tmp_path) / "state.json",
        "--format",
        "json",
        "-o",
        plan_file,
        env=env,
        cwd=tmp_path,
    )
    assert planned.returncode == 0, planned.stderr
    dry = h.cli("run", "--dry-run", "--fresh", goal, MY_TOKEN=SECRET)
    assert dry.returncode == 0, dry.stderr
    as_json = h.run("run", "--format", "json", "--resume", goal, env=env, cwd=tmp_path)
    assert as_json.returncode == 1

    state = h.state(tmp_path)
    # A sensed value holding a secret reaches hooks whole; stored redacted it
    # would come back wrong, so it is not stored at all.
    assert "token_seen" not in state["state"]
    places = {
        "run stdout": result.stdout,
        "run stderr": result.stderr,
        "plan stdout": planned.stdout,
        "plan stderr": planned.stderr,
        "dry-run stdout": dry.stdout,
        "dry-run stderr": dry.stderr,
        "json stdout": as_json.stdout,
        "json stderr": as_json.stderr,
        "state file": (h.files(tmp_path) / "state.json").read_text(),
        "journal": (h.files(tmp_path) / "journal.jsonl").read_text(),
        "plan file": plan_file.read_text(),
    }
    forms = [
        SECRET,
        json.dumps(SECRET)[1:-1],
        repr(SECRET)[1:-1],
        *SECRET.splitlines(),
    ]
    for where, text in places.items():
        for form in forms:
            assert form not in text, f"{form!r} leaked into the {where}"
    assert "***" in places["journal"]


def test_dry_run_prints_commands_and_changes_nothing(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        vars: {name: "my file"}
        state:
          made: {type: bool, sense: test -f made}
          copied: bool
        actions:
          make: {id: N1, effects: {made: true}, run: "touch made {{ name }}"}
          copy:
            id: N2
            pre: made
            effects: {copied: true}
            irreversible: true
            run: [cp, made, "{{ name }}.bak"]
        goal: [copied]
        """,
    )
    result = h.cli("run", "--dry-run", goal)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert (
        "[N1: make] would run: touch made 'my file' "
        "(if interrupted: skipped if done (effects sensed))"
    ) in lines
    assert (
        "[N2: copy] would run: cp made 'my file.bak' (irreversible, needs approval; "
        "if interrupted: needs a person (irreversible, not sensed))"
    ) in lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["goal.yaml"]
