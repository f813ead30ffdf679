"""Secrets never leave: real engine runs, every sink read back.

A secret reaches the engine from the environment (``secrets:``) or as the value
of a ``secret: true`` state variable (a sensor, ``--set``); whatever a hook
does with it, it must appear in no output, no file of the project and none of
its common encodings.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

TOKEN = "tok-Zq8/x+Wp3&Lm"
KEY = "key-Hv7+Rn2/Tc9=q"


def _forms(secret: str) -> list[str]:
    data = secret.encode()
    found = [
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        data.hex(),
        data.hex().upper(),
    ]
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for shift in (0, 1, 2):
            text = encode(b"\0" * shift + data).decode()
            found.append(text[-(-8 * shift // 6) : 8 * (shift + len(data)) // 6])
    return found


def _leaks(secret: str, folder: Path, *outputs: str) -> list[str]:
    """Return where any form of ``secret`` shows: an output or a file."""
    places = {f"output {i}": text for i, text in enumerate(outputs)}
    for path in folder.rglob("*"):
        if path.is_file():
            places[str(path.relative_to(folder))] = path.read_text(errors="replace")
    return sorted(
        f"{where}: {form!r}"
        for where, text in places.items()
        for form in _forms(secret)
        if form in text
    )


HOOKS = """
import base64, os, sys, time
from urllib.parse import quote_plus

def chatty(ctx):
    token = os.environ["MY_TOKEN"]
    print("plain", token)
    print("b64", base64.b64encode(("user:" + token).encode()).decode())
    print("url", "https://x.test/?t=" + quote_plus(token))
    print("hex", token.encode().hex())
    for i in range(0, len(token), 3):
        sys.stdout.write(token[i : i + 3])
        sys.stdout.flush()
        time.sleep(0.2)
    print(" split done")
    print("context", ctx)
    print("env", ctx.env)
    print("state", ctx.state)
    return True

def boom(ctx):
    raise RuntimeError("cannot log in with " + os.environ["MY_TOKEN"])

def read_key(ctx):
    key = os.environ["API_KEY_SOURCE"]
    print("the key is", key)
    return key

def use_key(ctx):
    key = ctx.state["api_key"]
    print("using", key, base64.b64encode(key.encode()))
    print(ctx)
    return True
"""


def _project(tmp_path: Path, h) -> Path:
    (tmp_path / "hooks.py").write_text(HOOKS)
    return h.goal(
        tmp_path,
        """
        version: 1
        secrets: [MY_TOKEN]
        state:
          talked: bool
          failed_once: bool
          used: bool
          api_key:
            type: str
            secret: true
            sense: {python: "hooks:read_key"}
          copied: {type: str, default: ""}
        actions:
          talk:
            id: T1
            effects: {talked: true}
            run: {python: "hooks:chatty"}
          fail:
            id: T2
            pre: talked
            effects: {failed_once: true}
            run: {python: "hooks:boom"}
            on_failure: {failed_once: true}
          use:
            id: T3
            pre: failed_once
            effects: {used: true, copied: {expr: api_key}}
            run: {python: "hooks:use_key"}
          shell_use:
            id: T4
            pre: used
            effects: {talked: false}
            run: echo "shell sees {{ api_key }}"
        policy: {max_replans: 2}
        goal: [used]
        """,
    )


def test_nothing_secret_reaches_output_logs_journal_or_state(tmp_path: Path, h) -> None:
    goal = _project(tmp_path, h)
    env = h.env(MY_TOKEN=TOKEN, API_KEY_SOURCE=KEY, PYTHONPATH=str(tmp_path))
    result = h.run("run", goal, "--format", "json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _leaks(TOKEN, tmp_path, result.stdout, result.stderr) == []
    assert _leaks(KEY, tmp_path, result.stdout, result.stderr) == []
    lines = [
        json.loads(line)["line"]
        for line in result.stdout.splitlines()
        if json.loads(line)["event"] == "output"
    ]
    # Each form is there, hidden: the hook ran and printed it.
    assert "plain ***" in lines
    assert "hex ***" in lines
    assert "url https://x.test/?t=***" in lines
    assert "*** split done" in lines
    assert any(line.startswith("b64 dXNlcj") and "***" in line for line in lines)
    context = next(line for line in lines if line.startswith("context "))
    assert "'MY_TOKEN': '***'" in context and "HookContext(action='talk'" in context
    assert any(line.startswith("env {") and "'***'" in line for line in lines)
    # The secret variable's sensor printed the key before the engine knew it.
    assert "the key is ***" in result.stdout + result.stderr
    assert "using *** b'***'" in lines
    assert any("'api_key': '***'" in line for line in lines)
    events = h.events(tmp_path)
    failed = next(
        e for e in events if e["event"] == "step_end" and e["step"] == "T2: fail"
    )
    assert failed["message"] == "RuntimeError: cannot log in with ***"
    sensed = [e["values"] for e in events if e["event"] == "sensed"]
    assert sensed and all(v["api_key"] == "<secret>" for v in sensed)
    state = h.state(tmp_path)
    assert "api_key" not in state["state"] and "api_key" not in state["origins"]
    # ``copied`` took the key's value: it cannot be stored faithfully, so it
    # is not stored at all, and the run says so.
    assert "copied" not in state["state"]
    warnings = [e["message"] for e in events if e["event"] == "warning"]
    assert warnings == [
        "state variable 'copied' holds a secret: not stored "
        "(a later run starts it from its default or sensor)"
    ]


def test_a_secret_variable_is_never_stored_and_shown_as_secret(
    tmp_path: Path, h
) -> None:
    goal = _project(tmp_path, h)
    env = h.env(MY_TOKEN=TOKEN, API_KEY_SOURCE=KEY, PYTHONPATH=str(tmp_path))
    refused = h.run("state", "set", goal, f"api_key={KEY}", env=env, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr == (
        "state set: error: state variable 'api_key': a secret variable is never "
        "stored; give it in each run with 'run --set api_key=...' or a sensor\n"
    )
    copied = h.run("state", "set", goal, f"copied=x{TOKEN}", env=env, cwd=tmp_path)
    assert copied.returncode == 2
    assert copied.stderr == (
        "state set: error: state variable 'copied': the value holds a secret "
        "(MY_TOKEN), and secrets are never stored; give it in each run with "
        "'run --set copied=...'\n"
    )
    assert (
        h.run("state", "set", goal, "talked=true", env=env, cwd=tmp_path).returncode
        == 0
    )
    shown = h.run("state", "show", goal, env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert (
        "api_key      <secret>  (secret: never stored; given in each run by its "
        "sensor or --set)" in shown.stdout
    )
    as_json = json.loads(
        h.run("state", "show", goal, "--format", "json", env=env, cwd=tmp_path).stdout
    )
    assert as_json["state"]["api_key"] == "<secret>"
    assert as_json["origins"]["api_key"] == {"kind": "secret"}
    planned = h.run(
        "plan",
        goal,
        "--set",
        f"api_key={KEY}x",
        "-o",
        "plan.json",
        env=env,
        cwd=tmp_path,
    )
    assert planned.returncode == 0, planned.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert "api_key" not in plan["start"] and plan["start"]["talked"] is True
    report = h.run("report", goal, "-o", "GOAP.md", env=env, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert _leaks(TOKEN, tmp_path, refused.stderr, copied.stderr, shown.stdout) == []
    assert _leaks(KEY, tmp_path, planned.stdout, planned.stderr) == []
    assert _leaks(KEY + "x", tmp_path, planned.stdout, planned.stderr) == []
    # The saved plan runs: the start it was made from leaves the secret out.
    ran = h.run(
        "run",
        goal,
        "--plan",
        "plan.json",
        "--set",
        f"api_key={KEY}x",
        env=env,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert _leaks(KEY + "x", tmp_path, ran.stdout, ran.stderr) == []


def test_a_rejected_set_never_repeats_the_value(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        secrets: [MY_TOKEN]
        state:
          count: int
          mode: {type: enum, values: [fast, slow]}
          done: bool
        actions:
          finish: {effects: {done: true}, run: "true"}
        goal: done
        """,
    )
    outputs = []
    for item in (f"count={TOKEN}", f"mode={TOKEN}", TOKEN, f"done={TOKEN}"):
        result = h.cli("plan", goal, "--set", item, MY_TOKEN=TOKEN)
        assert result.returncode == 2, result.stderr
        outputs += [result.stdout, result.stderr]
    assert outputs[1] == (
        "--set: error: state variable 'count': expected an integer "
        "(the value given is not shown)\n"
    )
    assert outputs[5] == "--set: error: expected NAME=VALUE, found no '='\n"
    assert _leaks(TOKEN, tmp_path, *outputs) == []


def test_the_secret_sensors_failure_does_not_show_its_output(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          api_key:
            type: str
            secret: true
            sense: {shell: 'printf "%s" "$API_KEY_SOURCE"; exit 3', from: stdout}
          done: bool
        actions:
          finish: {pre: 'api_key != ""', effects: {done: true}, run: "true"}
        goal: done
        """,
    )
    result = h.run("plan", goal, env=h.env(API_KEY_SOURCE=KEY), cwd=tmp_path)
    assert result.returncode == 2
    assert "sensor command failed (exit code 3)" in result.stderr
    assert _leaks(KEY, tmp_path, result.stdout, result.stderr) == []


def test_validate_refuses_a_secret_that_is_not_text(tmp_path: Path, h) -> None:
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          pin: {type: int, secret: true}
          word: {type: str, secret: true, remember: run}
        goal: 'pin == 1'
        """,
    )
    result = h.cli("validate", goal)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert errors == [
        f"{goal}:3:20: error: state variable 'pin': only a str variable can be "
        "secret, this one is int",
        f"{goal}:4:35: error: state variable 'word': a secret variable is never "
        "stored, so 'remember' does not apply (its value comes from its sensor "
        "or --set in each run)",
    ]


def test_the_leak_finder_finds_each_form(tmp_path: Path) -> None:
    # Without this, a test above could pass by looking in the wrong way.
    for i, form in enumerate(_forms(TOKEN)):
        (tmp_path / f"{i}.txt").write_text(f"around {form} it")
    found = _leaks(TOKEN, tmp_path)
    assert [f"{i}.txt" in "".join(found) for i in range(len(_forms(TOKEN)))] == [
        True
    ] * len(_forms(TOKEN))
    assert _leaks(TOKEN, tmp_path / "nothing", "ab" + quote_plus(TOKEN)) != []


def test_a_secret_sensed_again_keeps_its_value(tmp_path: Path, h) -> None:
    # Each step re-reads the sensors its templates need; the value a hook gets
    # must be the secret, not the '***' its redacted output would read as.
    (tmp_path / "keep.py").write_text(
        "def keep(ctx):\n"
        "    with open('python.txt', 'w') as f:\n"
        "        f.write(ctx.args['key'][::-1] + ' ' + ctx.state['api_key'][::-1])\n"
    )
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          api_key:
            type: str
            secret: true
            sense: {shell: 'printf "%s" "$API_KEY_SOURCE"', from: stdout}
          shell_done: bool
          python_done: bool
        actions:
          shell_step:
            effects: {shell_done: true}
            run: >-
              python3 -c 'import sys; open("shell.txt", "w").write(sys.argv[1][::-1])'
              "{{ api_key }}"
          python_step:
            pre: shell_done
            effects: {python_done: true}
            run: {python: "keep:keep", with: {key: "{{ api_key }}"}}
        goal: [python_done]
        """,
    )
    env = h.env(API_KEY_SOURCE=KEY, PYTHONPATH=str(tmp_path))
    result = h.run("run", goal, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("sensed: api_key='<secret>'") == 3
    assert (tmp_path / "shell.txt").read_text() == KEY[::-1]
    assert (tmp_path / "python.txt").read_text() == f"{KEY[::-1]} {KEY[::-1]}"
    assert _leaks(KEY, tmp_path, result.stdout, result.stderr) == []


def test_a_sensed_value_holding_a_secret_reaches_hooks_whole_and_is_not_stored(
    tmp_path: Path, h
) -> None:
    # A remote URL with a token in it: hooks need the URL as it is; written
    # anywhere, the token is hidden, and a value that could only be stored
    # redacted is not stored at all.
    goal = h.goal(
        tmp_path,
        """
        version: 1
        secrets: [MY_TOKEN]
        state:
          remote: {type: str, sense: 'printf "https://u:%s@git.test/r" "$MY_TOKEN"'}
          pushed: bool
        actions:
          push:
            effects: {pushed: true}
            run: >-
              python3 -c 'import sys; open("url.txt", "w").write(sys.argv[1][::-1])'
              "{{ remote }}"
        goal: [pushed]
        """,
    )
    result = h.run("run", goal, env=h.env(MY_TOKEN=TOKEN), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    url = f"https://u:{TOKEN}@git.test/r"
    assert (tmp_path / "url.txt").read_text() == url[::-1]
    (tmp_path / "url.txt").unlink()
    state = h.state(tmp_path)
    assert "remote" not in state["state"]
    assert state["state"]["pushed"] is True
    assert _leaks(TOKEN, tmp_path, result.stdout, result.stderr) == []
