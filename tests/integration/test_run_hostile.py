"""Hooks that misbehave: racing exits, hidden leftovers, secrets in pieces,
threads that linger, hooks that are not plain functions."""

from __future__ import annotations

from pathlib import Path

SECRET = "supersecret123"


def test_parallel_failures_are_never_recorded_as_success(tmp_path: Path, h) -> None:
    count = 24
    lines = ["version: 1", "state:"]
    lines += [f"  v{i}: bool" for i in range(count)]
    lines.append("actions:")
    lines += [
        f'  a{i}: {{effects: {{v{i}: true}}, run: "exit 3"}}' for i in range(count)
    ]
    lines += [
        "policy: {max_replans: 0}",
        f"goal: [{', '.join(f'v{i}' for i in range(count))}]",
    ]
    goal = tmp_path / "goal.yaml"
    goal.write_text("\n".join(lines) + "\n")
    result = h.run("run", "--jobs", "12", goal, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    ends = [e for e in h.events(tmp_path) if e["event"] == "step_end"]
    assert ends, result.stderr
    assert {(e["status"], e["exit_code"]) for e in ends} == {("failed", 3)}


def test_leftovers_without_the_marker_are_ended_with_their_step(
    tmp_path: Path, h, reaper
) -> None:
    (tmp_path / "spawner.py").write_text(
        "import subprocess\n"
        "def hook(ctx):\n"
        "    proc = subprocess.Popen(\n"
        "        ['sh', '-c', 'sleep 300 & echo $! >> pids; sleep 301 & "
        "echo $! >> pids; wait'],\n"
        "        env={'PATH': '/usr/bin:/bin'}, start_new_session=True)\n"
        "    with open('pids', 'a') as f:\n"
        "        f.write(f'{proc.pid}\\n')\n"
        "    import time; time.sleep(0.3)\n"
        "    return True\n"
    )
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {shell: bool, python: bool, checked: bool}
        actions:
          shell:
            id: M1
            effects: {shell: true}
            run: >-
              env -u GOAP_STEP sh -c 'sleep 302 & echo $! >> pids; wait'
              >/dev/null 2>&1 & sleep 0.3
          python:
            id: M2
            pre: shell
            effects: {python: true}
            run: {python: "spawner:hook"}
          check:
            id: M3
            pre: python
            effects: {checked: true}
            run: >-
              sleep 0.5; for p in $(cat pids); do
              grep -qs "^State:.[^Z]" /proc/$p/status && echo "alive $p"; done; true
        goal: [checked]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path)
    pids = h.pids(tmp_path / "pids")
    reaper.extend(pids)
    assert result.returncode == 0, result.stderr
    assert len(pids) == 4
    assert "| alive" not in result.stderr
    assert not any(h.alive(p) for p in pids)


def test_secrets_in_pieces_are_still_redacted(tmp_path: Path, h) -> None:
    (tmp_path / "probe.py").write_text(
        "import os\nprint('x' * 500 + os.environ['MY_TOKEN'] + 'y' * 290)\n"
    )
    goal = h.goal(
        tmp_path,
        """
        version: 1
        secrets: [MY_TOKEN]
        state:
          slow: bool
          long: bool
          probe:
            type: int
            sense:
              shell: python3 probe.py
              from: stdout
        actions:
          slow:
            id: S1
            effects: {slow: true}
            run: >-
              printf 'token: %s' "$(printf %s "$MY_TOKEN" | head -c 3)"; sleep 0.8;
              printf '%s done\\n' "$(printf %s "$MY_TOKEN" | tail -c +4)"
          long:
            id: S2
            pre: slow
            effects: {long: true}
            run: >-
              printf '%s%s\\n' "$(head -c 65531 /dev/zero | tr '\\0' c)" "$MY_TOKEN"
          use:
            id: S3
            pre: long and probe > 0
            effects: {slow: false}
            run: "true"
        goal: [long]
        """,
    )
    env = h.env(MY_TOKEN=SECRET)
    result = h.run("run", goal, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    logs = sorted((h.files(tmp_path) / "runs").glob("*/*.log"))
    texts = [p.read_text() for p in logs]
    journal = (h.files(tmp_path) / "journal.jsonl").read_text()
    everything = "".join(texts) + result.stdout + result.stderr + journal
    for piece in (SECRET, "ersecret123", "secret123", "rsecret123"):
        assert piece not in everything, piece
    assert "token: " in texts[0] and "*** done" in texts[0]
    # The sensor's failure names the problem without the secret.
    sensed = [e for e in h.events(tmp_path) if e["event"] == "sensed"]
    assert any("probe" in e["errors"] for e in sensed)


def test_a_worker_whose_hook_left_a_thread_is_not_reused(tmp_path: Path, h) -> None:
    (tmp_path / "threads.py").write_text(
        "import threading, time\n"
        "def noisy(ctx):\n"
        "    def talk():\n"
        "        while True:\n"
        "            print('from the old thread', flush=True)\n"
        "            time.sleep(0.05)\n"
        "    threading.Thread(target=talk, daemon=True).start()\n"
        "    return True\n"
        "def quiet(ctx):\n"
        "    time.sleep(0.5)\n"
        "    print('quiet step')\n"
        "    return True\n"
    )
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {one: bool, two: bool}
        actions:
          one: {id: W1, effects: {one: true}, run: {python: "threads:noisy"}}
          two: {id: W2, pre: one, effects: {two: true}, run: {python: "threads:quiet"}}
        goal: [two]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    second = sorted((h.files(tmp_path) / "runs").glob("*/002-two.log"))[0]
    assert second.read_text() == "quiet step\n"


def test_hooks_beside_the_goal_import_and_generators_are_refused(
    tmp_path: Path, h
) -> None:
    (tmp_path / "local_hooks.py").write_text(
        "def fine(ctx):\n    return True\ndef gen(ctx):\n    yield 1\n"
    )
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {a: bool, b: bool}
        actions:
          a: {id: G1, effects: {a: true}, run: {python: "local_hooks:fine"}}
          b: {id: G2, pre: a, effects: {b: true}, run: {python: "local_hooks:gen"}}
        policy: {max_replans: 0}
        goal: [b]
        """,
    )
    env = h.env()
    env.pop("PYTHONPATH", None)
    result = h.run("run", goal, cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    ends = {e["step"]: e for e in h.events(tmp_path) if e["event"] == "step_end"}
    assert ends["G1: a"]["status"] == "ok"
    assert ends["G2: b"]["status"] == "failed"
    assert "generator or async function" in ends["G2: b"]["message"]


def test_python_hooks_after_a_parallel_replan_find_a_live_worker(
    tmp_path: Path, h
) -> None:
    (tmp_path / "flaky.py").write_text(
        "import os\n"
        "def ok(ctx):\n    return True\n"
        "def once(ctx):\n"
        "    if os.path.exists('tried'):\n        return True\n"
        "    open('tried', 'w').close()\n"
        "    return False\n"
    )
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {a: bool, b: bool, c: bool, tried: bool}
        actions:
          a: {id: A1, effects: {a: true}, run: {python: "flaky:ok"}}
          b:
            id: B1
            effects: {b: true}
            on_failure: {tried: true}
            run: {python: "flaky:once"}
          c: {id: C1, pre: a and b, effects: {c: true}, run: {python: "flaky:ok"}}
        goal: [c]
        """,
    )
    result = h.run("run", "--jobs", "2", goal, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    ends = [
        (e["step"], e["status"]) for e in h.events(tmp_path) if e["event"] == "step_end"
    ]
    assert ("B1: b", "failed") in ends and ends[-1] == ("C1: c", "ok")


def test_an_effect_whose_sensor_fails_is_not_a_success(tmp_path: Path, h) -> None:
    (tmp_path / "count").write_text("1\n")
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state:
          count: {type: int, sense: {shell: cat count, from: stdout}}
        actions:
          bump: {id: B1, effects: {count: count + 1}, run: rm count}
        policy: {max_replans: 0}
        goal: [count >= 2]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode != 0, result.stderr
    end = [e for e in h.events(tmp_path) if e["event"] == "step_end"][-1]
    assert end["status"] == "failed"
    assert "count could not be sensed" in end["message"]
    assert "goal reached" not in result.stderr


def test_a_hook_returning_its_own_object_is_a_success_not_a_crash(
    tmp_path: Path, h
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "objects.py").write_text(
        "class Result:\n    pass\ndef make(ctx):\n    return Result()\n"
    )
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {made: bool}
        actions:
          make:
            id: O1
            effects: {made: true}
            run: {python: "objects:make"}
            cwd: hooks
        goal: [made]
        """,
    )
    # Run from elsewhere: the engine itself could not import the class.
    elsewhere = tmp_path.parent / f"{tmp_path.name}-cwd"
    elsewhere.mkdir()
    result = h.run("run", goal, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "internal error" not in result.stderr
    end = [
        e
        for e in h.events(elsewhere.parent / tmp_path.name)
        if e["event"] == "step_end"
    ]
    assert [(e["step"], e["status"]) for e in end] == [("O1: make", "ok")]


def test_a_resume_after_kill_9_ends_what_the_killed_run_left_running(
    tmp_path: Path, h, engines, reaper
) -> None:
    import signal

    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {trained: bool}
        actions:
          train: {id: T1, effects: {trained: true}, run: echo $$ > hook.pid; sleep 300}
        goal: [trained]
        """,
    )
    proc = h.start("run", goal, cwd=tmp_path)
    engines.append(proc)
    h.wait_for(lambda: h.pids(tmp_path / "hook.pid"), message="the hook started")
    hook = h.pids(tmp_path / "hook.pid")[0]
    reaper.append(hook)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert h.alive(hook)  # nothing could end it: the engine died at once
    (tmp_path / "hook.pid").unlink()
    goal.write_text(goal.read_text().replace("sleep 300", "true"))
    resumed = h.run("run", "--resume", goal, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    # The shell and its sleep.
    assert "ended 2 process(es) the interrupted run" in resumed.stderr
    h.wait_for(lambda: not h.alive(hook), message=f"pid {hook} ended")


def test_hooks_that_break_their_output_or_imports_fail_alone(tmp_path: Path, h) -> None:
    (tmp_path / "rude.py").write_text(
        "import os\n"
        "def mute(ctx):\n"
        "    null = os.open(os.devnull, os.O_WRONLY)\n"
        "    os.dup2(null, 1)\n    os.dup2(null, 2)\n"
        "    return True\n"
        "def close(ctx):\n    os.close(1)\n    os.close(2)\n    return True\n"
        "def speak(ctx):\n    print('still heard')\n    return True\n"
    )
    (tmp_path / "broken.py").write_text("raise KeyError('at import')\n")
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state: {a: bool, b: bool, c: bool, d: bool}
        actions:
          a: {id: R1, effects: {a: true}, run: {python: "rude:mute"}}
          b: {id: R2, pre: a, effects: {b: true}, run: {python: "rude:close"}}
          c: {id: R3, pre: b, effects: {c: true}, run: {python: "rude:speak"}}
          d: {id: R4, pre: c, effects: {d: true}, run: {python: "broken:hook"}}
        policy: {max_replans: 0}
        goal: [d]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "[R3: c] | still heard" in result.stderr
    end = [e for e in h.events(tmp_path) if e["event"] == "step_end"][-1]
    assert end["step"] == "R4: d" and end["status"] == "failed"
    assert end["message"] == "cannot import 'broken': KeyError: 'at import'"
    assert "Traceback" in end["tail"]


def test_a_state_file_that_cannot_be_written_stops_the_run_with_its_name(
    tmp_path: Path, h
) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be\n")
    goal = h.goal(
        tmp_path,
        """
        version: 1
        state_file: blocker/state.json
        state: {done: bool}
        actions:
          step: {id: S1, effects: {done: true}, run: "true"}
        goal: [done]
        """,
    )
    result = h.run("run", goal, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "error: cannot write the state file" in result.stderr
    assert "blocker" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert h.events(tmp_path)[-1]["status"] == "error"
