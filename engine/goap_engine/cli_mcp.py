"""``goap-engine mcp``: serve the project to AI agents (Model Context Protocol)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .cli import _guard, _stderr, main
from .errors import InputError


@main.command("mcp")
@click.option("--http", is_flag=True, help="Serve streamable HTTP instead of stdio.")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="HTTP: a loopback address."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="HTTP: the port (0: any free one, printed at start).",
)
@click.option(
    "--read-only",
    is_flag=True,
    help="Leave out the tools that change the world (run, cancel, approve, state_set).",
)
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    help="The project folder (default: the current one).",
)
@_guard
def mcp_command(
    http: bool, host: str, port: int, read_only: bool, root: Path | None
) -> None:
    """Serve this project's goals to AI agents over MCP (stdio, or --http).

    Tools validate, plan, explain, run (in the background) and follow runs,
    approve, show and set state; resources are the goal and pack files, the
    last plan and run journals.  --http listens on loopback only and needs
    the bearer token from GOAP_MCP_TOKEN (else one is printed at start).
    """
    try:
        from .mcp_server import Project, build
    except ImportError as exc:
        raise InputError(
            f"goap-engine mcp needs the 'mcp' package ({exc}): "
            "pip install 'goap-engine[mcp]'"
        ) from None
    if root is not None:
        if not root.is_dir():
            raise InputError(f"--root {root}: not a folder")
        os.chdir(root)
    sock, key, made = None, "", False
    if http:
        from .mcp_http import listen, token

        sock = listen(host, port)  # refused before anything else is done
        key, made = token()
    server = build(Project(Path.cwd(), read_only=read_only))
    if sock is None:
        server.run()
        return
    from .mcp_http import PATH, TOKEN_ENV, serve

    where, bound = sock.getsockname()[:2]
    shown = f"[{where}]" if ":" in where else where
    _stderr(f"goap-engine mcp: serving {Path.cwd()} at http://{shown}:{bound}{PATH}")
    if made:
        _stderr(f"bearer token (shown once; set {TOKEN_ENV} to choose it): {key}")
    serve(server, sock, key)
