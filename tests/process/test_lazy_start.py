"""A stdio start loads only what a start needs: HTTP serving, sign-in, the sandbox, PyAV and the film maker are
imported when used, never by a server that answers `initialize`, `tools/list` and a `list_jobs` (its job machinery
started) over stdio; beyond what the SDK itself imports (a bare one-tool MCPServer, the cold-start floor), none of them
is loaded. Read from the interpreter's own import log (`-X importtime`)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
LOADED_WHEN_USED = re.compile(
    r"^(happyhorse_mcp\.(transport\.(http|front_door|sessions|events|key_page|discovery)|auth|sandbox|media"
    r"|jobs\.film_maker|review\.reviewing)(\.|$)|av(\.|$)|jwt(\.|$)|psycopg(\.|$))"
)
HELLO = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "lazy", "version": "1"}}


async def _imported(command: list[str], env: dict[str, str], asks: list[dict[str, object]]) -> set[str]:
    """Every module `command` imported (its import log) by the time it answered each of `asks`."""
    process = await anyio.open_process(
        [sys.executable, "-X", "importtime", *command],
        env=env,
        stderr=-1,  # subprocess.PIPE
    )
    async with process:
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        answers = BufferedByteReceiveStream(process.stdout)
        log = bytearray()

        async def read_log() -> None:
            async for chunk in process.stderr:  # type: ignore[union-attr]
                log.extend(chunk)

        async with anyio.create_task_group() as tg:
            tg.start_soon(read_log)
            with anyio.fail_after(60):
                for ask in asks:
                    await process.stdin.send((json.dumps(ask) + "\n").encode())
                    if "id" in ask:
                        while json.loads(await answers.receive_until(b"\n", 1 << 24)).get("id") != ask["id"]:
                            pass
                await process.stdin.aclose()
                await process.wait()
    return {line.rsplit("|", 1)[1].strip() for line in log.decode().splitlines() if line.startswith("import time:")}


async def test_a_stdio_start_imports_nothing_that_http_sign_in_the_sandbox_pyav_or_films_need(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "HAPPYHORSE_DATA_DIR": str(tmp_path / "data"),
        "FAL_KEY": "lazy-key-id:lazy-key-secret",
    }
    asks: list[dict[str, object]] = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": HELLO},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_jobs", "arguments": {}}},
    ]
    ours = await _imported(["-m", "happyhorse_mcp"], env, asks)
    floor = await _imported([str(ROOT / "bench" / "floor_server.py")], env, asks[:3])
    assert "happyhorse_mcp.jobs.machinery" in ours, "the job machinery was started"
    loaded = sorted(name for name in ours - floor if LOADED_WHEN_USED.match(name))
    assert loaded == [], f"imported at a stdio start though only used later: {loaded}"
