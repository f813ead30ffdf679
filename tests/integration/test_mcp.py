"""``goap-engine mcp`` as a subprocess, driven by the MCP SDK's own clients.

Over stdio (``mcp.client.stdio``) for the tools, resources and prompts, and
over streamable HTTP for the token and the loopback rule.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

from conftest import engine_env, journal_events, run_engine, wait_for  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402
from mcp.types import INVALID_PARAMS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-Mcp-Value-42"
TOOLS = {
    "validate",
    "plan",
    "explain",
    "propose",
    "run",
    "run_status",
    "cancel",
    "approve",
    "state_show",
    "state_set",
    "history",
    "builtins",
    "schema",
}
SHIP = """\
version: 1
secrets: [MCP_TEST_TOKEN]
state:
  built: {type: bool, sense: "test -f build.txt"}
  published: {type: bool, sense: "test -f published.txt"}
actions:
  build:
    id: B1
    effects: {built: true}
    run: "echo building with $MCP_TEST_TOKEN; echo ok > build.txt"
  publish:
    id: P1
    pre: built
    irreversible: true
    effects: {published: true}
    run: "echo publishing; echo ok > published.txt"
goal: [built, published]
"""


def _project(folder: Path, text: str = SHIP, name: str = "ship.yaml") -> Path:
    goal = folder / "goals.d" / name
    goal.parent.mkdir(parents=True, exist_ok=True)
    goal.write_text(textwrap.dedent(text))
    return goal


# Starts the server with SIGINT ignored, as a host that launches it in the
# background (or under nohup) does; its runs inherit that.
IGNORING_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-m', 'goap_engine', 'mcp', "
    "*sys.argv[1:]])"
)


@asynccontextmanager
async def _server(
    folder: Path, *args: str, sigint_ignored: bool = False
) -> AsyncIterator[Client]:
    env = engine_env(MCP_TEST_TOKEN=SECRET)
    start = ["-c", IGNORING_SIGINT] if sigint_ignored else ["-m", "goap_engine", "mcp"]
    params = StdioServerParameters(
        command=sys.executable, args=[*start, *args], cwd=folder, env=env
    )
    async with Client(params) as client:
        yield client


def _serve(
    folder: Path,
    test: Callable[[Client], Any],
    *args: str,
    sigint_ignored: bool = False,
) -> None:
    async def main() -> None:
        async with _server(folder, *args, sigint_ignored=sigint_ignored) as client:
            await test(client)

    anyio.run(main)


async def _call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def _error(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert result.structured_content is None
    text: str = result.content[0].text  # type: ignore[union-attr]
    return text


async def _follow(client: Client, run: str) -> list[dict[str, Any]]:
    """Return every event of a run up to its end, read cursor by cursor."""
    events: list[dict[str, Any]] = []
    cursor = 0
    with anyio.fail_after(60):
        while True:
            status = await _call(client, "run_status", run=run, cursor=cursor)
            events += status["events"]
            cursor = status["cursor"]
            if status["ended"] and not status["more"]:
                return [*events, {"event": "status", **status, "events": []}]
            await anyio.sleep(0.05)


def test_tools_validate_and_a_path_outside_the_project(tmp_path: Path) -> None:
    _project(tmp_path)
    bad = tmp_path / "goals.d" / "bad.yaml"
    bad.write_text(
        "version: 1\nstate:\n  built: bool\nactions:\n  build:\n"
        "    effects: {built: 3}\n    run: 'true'\ngoal: [built]\n"
    )

    async def test(client: Client) -> None:
        listed = await client.list_tools()
        assert {t.name for t in listed.tools} == TOOLS
        found = await _call(client, "validate", paths=["goals.d/bad.yaml"])
        assert found["errors"] == 2
        assert found["diagnostics"][0] == {
            "file": "goals.d/bad.yaml",
            "line": 6,
            "col": 22,
            "severity": "error",
            "entity": "action 'build'",
            "message": "effect 'built': expected a bool value, found int 3",
            "code": "",
        }
        assert found["diagnostics"][2]["code"] == "unreachable-goal"
        # Outside the project: refused, and the server goes on answering.
        message = await _error(client, "plan", goal="../elsewhere/goal.yaml")
        assert "goal '../elsewhere/goal.yaml': outside the project" in message
        assert "(exit code 2: bad input)" in message
        message = await _error(client, "validate", paths=["/etc/passwd"])
        assert "outside the project" in message
        (tmp_path / "escape.yaml").symlink_to("/etc/passwd")
        message = await _error(client, "validate", paths=["escape.yaml"])
        assert "path 'escape.yaml': outside the project" in message
        (tmp_path / "loop.yaml").symlink_to("loop.yaml")
        message = await _error(client, "plan", goal="loop.yaml")
        assert "goal 'loop.yaml': cannot be followed" in message
        # Two goals and none named: the CLI's message, as a tool error.
        message = await _error(client, "state_show")
        assert "no GOAL given and goals.d/ holds 2 goals" in message
        schema = await _call(client, "schema", kind="pack")
        assert schema["type"] == "object"
        record = await _call(client, "builtins", name="git.push")
        assert record["name"] == "git.push"
        message = await _error(client, "builtins", name="git.pushh")
        assert "git.pushh" in message and "exit code 2" in message
        # Arguments of the wrong type: the engine's words, not the value given.
        message = await _error(client, "plan", goal=["a"], sets=f"X={SECRET}")
        assert message == (
            "Error executing tool plan: "
            "error: plan: argument 'goal': input should be a valid string\n"
            "error: plan: argument 'sets': input should be a valid dictionary\n"
            "(exit code 2: bad input)"
        )
        message = await _error(client, "run_status", run="../x")
        assert "no run '../x' started by this server; give 'goal'" in message
        message = await _error(
            client,
            "propose",
            text="version: 1\n",
            goal="goals.d/ship.yaml",
            vars={"v": 1},
        )
        assert "--var v: unknown var 'v'; the goal's vars: none" in message
        # No command line carries a NUL or an argument past the system's bound.
        message = await _error(client, "state_set", values={"built": "a\0"})
        assert message == (
            "Error executing tool state_set: error: state_set: argument "
            "'values': a NUL character cannot be given\n(exit code 2: bad input)"
        )
        message = await _error(
            client, "run", goal="goals.d/ship.yaml", vars={"v": "x" * 200_000}
        )
        assert "run: the values given (vars, sets, targets, tags, approve) " in message
        assert "(exit code 2: bad input)" in message
        # A prompt's bad input is the protocol's invalid params, with the
        # engine's message; the server goes on.
        for prompt, arguments, expected in [
            ("add_action", {"description": "x", "goal": "/etc/passwd"}, "outside"),
            ("add_action", {}, "Missing required arguments: {'description'}"),
            ("why_unreachable", {"goal": "loop.yaml"}, "cannot be followed"),
        ]:
            with pytest.raises(MCPError) as failed:
                await client.get_prompt(prompt, arguments)
            assert failed.value.error.code == INVALID_PARAMS
            assert expected in failed.value.error.message
        assert (await client.list_tools()).tools

    _serve(tmp_path, test)


def test_a_goals_folder_above_the_root_is_outside_the_project(tmp_path: Path) -> None:
    _project(tmp_path)
    (tmp_path / "sub").mkdir()

    async def test(client: Client) -> None:
        message = await _error(client, "state_show")
        assert "goal '../goals.d/ship.yaml': outside the project" in message

    _serve(tmp_path, test, "--root", "sub")


def test_plan_of_the_seed_goal_is_the_plan_commands_json() -> None:
    goal = "goals.d/production.yaml"
    shown = run_engine("plan", goal, "--no-sense", "--format", "json", cwd=ROOT)
    assert shown.returncode == 0, shown.stderr
    expected = json.loads(shown.stdout)

    async def test(client: Client) -> None:
        planned = await _call(client, "plan", goal=goal, sense=False)
        assert planned["cost"] == expected["cost"]
        assert planned["guarantee"] == expected["guarantee"] == "optimal"
        assert [s["id"] for s in planned["steps"]] == [
            s["id"] for s in expected["steps"]
        ]
        assert planned["timeline"] == expected["timeline"]
        last = await client.read_resource(f"goap://plan/{goal}")
        assert json.loads(last.contents[0].text)["cost"] == expected["cost"]  # type: ignore[union-attr]
        resources = {str(r.uri) for r in (await client.list_resources()).resources}
        assert f"goap://goal/{goal}" in resources
        assert "goap://pack/actions.d/git.yaml" in resources
        text = await client.read_resource("goap://pack/actions.d/git.yaml")
        assert text.contents[0].text == (ROOT / "actions.d/git.yaml").read_text()  # type: ignore[union-attr]

    _serve(ROOT, test, "--read-only")


def test_explain_and_the_unreachable_goal_prompt(tmp_path: Path) -> None:
    _project(
        tmp_path,
        """\
        version: 1
        state:
          built: bool
          shipped: bool
        actions:
          build:
            effects: {built: true}
            run: "true"
        goal: [built, shipped]
        """,
    )
    shown = run_engine("explain", "--format", "json", cwd=tmp_path)
    assert shown.returncode == 3, shown.stderr

    async def test(client: Client) -> None:
        answer = await _call(client, "explain")
        assert answer == json.loads(shown.stdout)
        assert answer["reachable"] is False
        assert answer["subgoals"][0]["conditions"] == [
            {"condition": "built", "holds": False},
            {"condition": "shipped", "holds": False},
        ]
        assert any("shipped" in line for line in answer["why"])
        message = await _error(client, "plan")
        assert "(exit code 3: no plan)" in message
        prompt = await client.get_prompt("why_unreachable", {})
        text = prompt.messages[0].content.text  # type: ignore[union-attr]
        assert '"reachable": false' in text and answer["why"][0] in text
        prompt = await client.get_prompt("add_action", {"description": "ship it"})
        text = prompt.messages[0].content.text  # type: ignore[union-attr]
        assert "ship it" in text
        assert "- shipped: bool" in text and "- build effects [built=True]" in text

    _serve(tmp_path, test)


def test_a_run_waits_is_approved_and_resumed_with_its_output_redacted(
    tmp_path: Path,
) -> None:
    _project(tmp_path)

    async def test(client: Client) -> None:
        started = await _call(client, "run")
        run = started["run"]
        events = await _follow(client, run)
        status = events[-1]
        assert status["status"] == "waiting" and status["exit_code"] == 5
        assert status["pending_approval"]["steps"] == ["P1: publish"]
        lines = [e["line"] for e in events if e["event"] == "output"]
        assert "building with ***" in lines
        assert (tmp_path / "build.txt").exists()
        assert not (tmp_path / "published.txt").exists()
        history = await _call(client, "history")
        assert history["runs"][-1]["waiting_for"] == ["P1: publish"]
        given = await _call(client, "approve", steps=["P1"], by="agent-7")
        assert given["steps"] == ["P1: publish"] and given["by"] == "agent-7"
        resumed = await _call(client, "run", resume=True)
        events = await _follow(client, resumed["run"])
        status = events[-1]
        assert (status["status"], status["exit_code"]) == ("reached", 0)
        assert status["pending_approval"] is None
        assert "publishing" in [e["line"] for e in events if e["event"] == "output"]
        assert (tmp_path / "published.txt").exists()
        state = await _call(client, "state_show", names=["published"])
        assert state["state"] == {"published": True}
        journal = await client.read_resource("goap://journal/goals.d/ship.yaml")
        assert "approval_given" in journal.contents[0].text  # type: ignore[union-attr]
        everything = json.dumps(events) + json.dumps(started)
        assert SECRET not in everything and SECRET not in journal.model_dump_json()

    _serve(tmp_path, test)
    approvals = [e for e in journal_events(tmp_path, "goals.d/ship.yaml")]
    assert [e["by"] for e in approvals if e["event"] == "approval_given"] == ["agent-7"]


@pytest.mark.parametrize("sigint_ignored", [False, True])
def test_cancel_interrupts_a_run_and_status_outlives_the_server(
    tmp_path: Path, sigint_ignored: bool
) -> None:
    _project(
        tmp_path,
        """\
        version: 1
        state:
          slept: bool
        actions:
          nap:
            effects: {slept: true}
            run: "echo napping; sleep 60"
        goal: [slept]
        """,
    )
    seen: dict[str, Any] = {}

    async def test(client: Client) -> None:
        started = await _call(client, "run")
        with anyio.fail_after(30):
            while not any(
                e["event"] == "output"
                for e in (await _call(client, "run_status", run=started["run"]))[
                    "events"
                ]
            ):
                await anyio.sleep(0.05)
        message = await _error(
            client, "run_status", run=started["run"], goal="goals.d/other.yaml"
        )
        assert (
            f"run '{started['run']}' is a run of goals.d/ship.yaml, "
            "not of goals.d/other.yaml"
        ) in message
        stopped = await _call(client, "cancel", run=started["run"])
        assert stopped["ended"] and stopped["status"] == "interrupted"
        assert stopped["exit_code"] == 130
        seen["run"] = started["run"]
        state = await _call(client, "state_set", values={"slept": True})
        assert state["state"] == {"slept": True}

    _serve(tmp_path, test, sigint_ignored=sigint_ignored)

    async def later(client: Client) -> None:
        status = await _call(client, "run_status", run=seen["run"])
        assert status["output"] == "journal"
        assert (status["ended"], status["status"]) == (True, "interrupted")
        assert status["events"][0]["event"] == "run_start"
        message = await _error(client, "run_status", run="no-such-run")
        assert "no run 'no-such-run' in the journal of goals.d/ship.yaml" in message

    _serve(tmp_path, later)


def test_a_run_goes_on_when_the_client_and_the_server_have_gone(
    tmp_path: Path,
) -> None:
    _project(
        tmp_path,
        """\
        version: 1
        state:
          done: {type: bool, sense: "test -f done.txt"}
        actions:
          finish:
            effects: {done: true}
            run: "sleep 1; echo ok > done.txt"
        goal: [done]
        """,
    )
    seen: dict[str, Any] = {}

    async def test(client: Client) -> None:
        seen.update(await _call(client, "run"))

    _serve(tmp_path, test)
    wait_for(
        lambda: any(
            e["event"] == "run_end"
            for e in journal_events(tmp_path, "goals.d/ship.yaml")
        ),
        timeout=30,
        message="the run's end in its journal",
    )
    assert (tmp_path / "done.txt").read_text() == "ok\n"

    async def later(client: Client) -> None:
        status = await _call(client, "run_status", run=seen["run"])
        assert (status["ended"], status["status"]) == (True, "reached")

    _serve(tmp_path, later)


def test_a_hook_printing_without_end_is_kept_to_a_bound(tmp_path: Path) -> None:
    _project(
        tmp_path,
        """\
        version: 1
        state:
          done: {type: bool, sense: "test -f done.txt"}
        actions:
          chatter:
            id: C1
            effects: {done: true}
            run: "seq 1 10005; echo ok > done.txt"
        goal: [done]
        """,
    )

    async def test(client: Client) -> None:
        started = await _call(client, "run")
        events = await _follow(client, started["run"])
        lines = [e["line"] for e in events if e["event"] == "output"]
        assert lines == [str(n) for n in range(1, 10001)]
        [cut] = [e for e in events if e["event"] == "output_cut"]
        assert cut["step"] == "C1: chatter"
        assert "step_end event has the last lines" in cut["message"]
        [end] = [e for e in events if e["event"] == "step_end"]
        assert end["tail"].endswith("10004\n10005")
        assert events[-1]["status"] == "reached"

    _serve(tmp_path, test)


def test_read_only_leaves_out_and_refuses_what_changes_the_world(
    tmp_path: Path,
) -> None:
    _project(tmp_path)

    async def test(client: Client) -> None:
        listed = await client.list_tools()
        assert {t.name for t in listed.tools} == TOOLS - {
            "run",
            "cancel",
            "approve",
            "state_set",
        }
        for tool, arguments in [
            ("run", {}),
            ("state_set", {"values": {"built": True}}),
            ("approve", {}),
        ]:
            message = await _error(client, tool, **arguments)
            assert message.endswith(
                f"{tool}: refused: this server is read-only "
                "(goap-engine mcp --read-only)"
            )
        assert (await _call(client, "state_show"))["state"]["built"] is False

    _serve(tmp_path, test, "--read-only")
    assert not (tmp_path / "build.txt").exists()
    assert journal_events(tmp_path, "goals.d/ship.yaml") == []


def _start_http(
    folder: Path, host: str = "127.0.0.1", **env: str
) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "goap_engine", "mcp", "--http", "--port", "0"]
        + ["--host", host],
        cwd=folder,
        env=engine_env(**env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    first = server.stderr.readline()
    assert first.startswith(f"goap-engine mcp: serving {folder} at http://{host}:")
    return server, first.split(" at ")[1].strip()


def test_http_needs_the_token_and_listens_on_loopback_only(tmp_path: Path) -> None:
    _project(tmp_path)
    server, url = _start_http(tmp_path, GOAP_MCP_TOKEN="t0ken-for-the-test")
    try:
        request = urllib.request.Request(url, data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401
        request.add_header("Authorization", "Bearer wrong")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401

        async def main() -> None:
            import httpx2

            headers = {"Authorization": "Bearer t0ken-for-the-test"}
            async with (
                httpx2.AsyncClient(headers=headers) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                listed = await client.list_tools()
                assert {t.name for t in listed.tools} == TOOLS
                state = await _call(client, "state_show")
                assert state["state"]["built"] is False

        anyio.run(main)
    finally:
        server.terminate()
        server.communicate(timeout=30)
    made, _ = _start_http(tmp_path)
    try:
        assert made.stderr is not None
        line = made.stderr.readline()
        assert line.startswith("bearer token (shown once; set GOAP_MCP_TOKEN")
        assert len(line.rsplit(": ", 1)[1].strip()) >= 40
    finally:
        made.terminate()
        made.communicate(timeout=30)
    far = run_engine("mcp", "--http", "--host", "0.0.0.0", cwd=tmp_path)
    assert far.returncode == 2
    assert "--host 0.0.0.0: goap-engine mcp listens on loopback only" in far.stderr


def _initialize(url: str, **headers: str) -> int:
    """Return the HTTP status of an initialize request with ``headers``."""
    where = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        },
    }
    try:
        connection.request(
            "POST",
            where.path,
            body=json.dumps(body),
            headers={
                "Authorization": "Bearer t0ken-for-the-test",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                **headers,
            },
        )
        return connection.getresponse().status
    finally:
        connection.close()


def test_http_refuses_a_name_that_is_not_loopback_on_any_loopback_address(
    tmp_path: Path,
) -> None:
    # DNS rebinding: a web page's own name pointed at 127.0.0.x reaches the
    # port; the Host or Origin it sends is refused on 127.0.0.2 as on 127.0.0.1.
    _project(tmp_path)
    server, url = _start_http(
        tmp_path, "127.0.0.2", GOAP_MCP_TOKEN="t0ken-for-the-test"
    )
    try:
        port = urllib.parse.urlsplit(url).port
        assert _initialize(url) == 200
        assert _initialize(url, Host=f"localhost:{port}") == 200
        assert _initialize(url, Host=f"rebound.example:{port}") == 421
        assert _initialize(url, Origin="http://rebound.example") == 403
    finally:
        server.terminate()
        server.communicate(timeout=30)


UNREACHABLE = """\
version: 1
state:
  built: {type: bool, sense: "test -f build.txt"}
  shipped: bool
actions:
  build:
    id: B1
    effects: {built: true}
    run: "echo ok > build.txt"
goal: [built, shipped]
"""

SHIPPING = """\
version: 1
actions:
  ship:
    id: S1
    pre: built
    effects: {shipped: true}
    cost: 4
    run: "echo shipping"
"""


def test_a_proposal_makes_an_unreachable_goal_reachable_without_writing(
    tmp_path: Path,
) -> None:
    goal = _project(tmp_path, UNREACHABLE, "ship.yaml")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    async def test(client: Client) -> None:
        explained = await _call(client, "explain")
        assert explained["reachable"] is False
        broken = await _call(client, "propose", text=SHIPPING.replace("pre:", "pree:"))
        assert broken["valid"] is False
        [problem] = broken["diagnostics"]
        assert (problem["file"], problem["line"], problem["col"]) == (
            "goals.d/proposal.yaml",
            5,
            5,
        )
        assert problem["message"].startswith("unknown key 'pree' (did you mean 'pre'?")
        fixed = await _call(client, "propose", text=SHIPPING)
        assert fixed["valid"] is True
        assert fixed["current"]["reachable"] is False
        assert fixed["proposed"]["cost"] == 5
        assert fixed["proposed"]["guarantee"] == "optimal"
        assert fixed["verdict"] == "the goal becomes reachable, at cost 5"
        outside = await _error(client, "propose", text=SHIPPING, replaces="/etc/x.yaml")
        assert "outside the project" in outside

    _serve(tmp_path, test)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert goal.read_text() == textwrap.dedent(UNREACHABLE)
