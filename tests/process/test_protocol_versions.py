"""Each protocol version a client may negotiate gets only what that version defines (server/versions.py): spoken as
raw JSON-RPC over stdio, as an old client's bytes would be, against the fake fal on loopback."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import anyio.to_thread
import pytest

from ..fakefal import VALID_KEY

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]


class Session:
    def __init__(self, server: subprocess.Popen[bytes]) -> None:
        self.server = server
        self.next_id = 0

    def ask(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.next_id += 1
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}})
        while True:
            answer = json.loads(_line_within(self.server.stdout, 60))  # type: ignore[arg-type]
            if answer.get("id") == self.next_id:
                return answer  # type: ignore[no-any-return]

    def tell(self, method: str) -> None:
        self._send({"jsonrpc": "2.0", "method": method})

    def _send(self, message: dict[str, Any]) -> None:
        assert self.server.stdin is not None
        self.server.stdin.write(json.dumps(message).encode() + b"\n")
        self.server.stdin.flush()


def _line_within(stream: IO[bytes], seconds: float) -> bytes:
    ready, _, _ = select.select([stream], [], [], seconds)
    assert ready, f"no answer within {seconds} s"
    return stream.readline()


def _speak(version: str, fal_url: str, data: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "FAL_KEY": VALID_KEY,
        "HAPPYHORSE_FAL_QUEUE_URL": fal_url,
        "HAPPYHORSE_FAL_REST_URL": fal_url,
        "HAPPYHORSE_FAL_CDN_URL": fal_url,
        "HAPPYHORSE_DATA_DIR": str(data),
    }
    with subprocess.Popen(
        [sys.executable, "-m", "happyhorse_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        bufsize=0,
    ) as server:
        try:
            session = Session(server)
            hello = session.ask(
                "initialize",
                {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}},
            )
            session.tell("notifications/initialized")
            tools = session.ask("tools/list")
            made = session.ask(
                "tools/call",
                {"name": "generate_video", "arguments": {"prompt": "a horse", "duration": 3, "resolution": "720p"}},
            )
        finally:
            server.kill()
    return hello["result"], tools["result"], made["result"]


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26"])
async def test_a_client_before_2025_06_18_gets_its_video_as_text_and_nothing_its_version_lacks(
    version: str, fal_url: str, tmp_path: Path
) -> None:
    # In a worker thread: the fake fal answers from this test's event loop meanwhile.
    hello, tools, made = await anyio.to_thread.run_sync(_speak, version, fal_url, tmp_path)
    assert hello["protocolVersion"] == version
    assert "tasks" not in hello["capabilities"]
    for tool in tools["tools"]:
        assert not {"outputSchema", "title", "execution", "_meta"} & set(tool), tool["name"]
    assert {block["type"] for block in made["content"]} == {"text"}
    assert "structuredContent" not in made
    assert "Video ready" in made["content"][0]["text"]
    assert "/output.mp4" in made["content"][0]["text"]


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
async def test_a_client_from_2025_06_18_still_gets_resource_links_and_structured_output(
    version: str, fal_url: str, tmp_path: Path
) -> None:
    # In a worker thread: the fake fal answers from this test's event loop meanwhile.
    hello, tools, made = await anyio.to_thread.run_sync(_speak, version, fal_url, tmp_path)
    assert hello["protocolVersion"] == version
    assert any("outputSchema" in tool for tool in tools["tools"])
    assert "resource_link" in {block["type"] for block in made["content"]}, made
    assert made["structuredContent"]["status"] == "completed"
    assert ("tasks" in hello["capabilities"]) == (version == "2025-11-25")
