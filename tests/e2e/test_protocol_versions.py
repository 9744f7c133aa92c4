"""Each protocol version a client may negotiate gets only what that version defines (server/versions.py): spoken as
raw JSON-RPC, as an old client's bytes would be, parsed and written as the stdio transport does, to a server on the
fake fal. (That real pipes carry it is tests/process/test_stdio.py's part.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
import pytest
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from mcp.shared.message import SessionMessage

from happyhorse_mcp.server import HappyHorseServer

pytestmark = pytest.mark.anyio


class Session:
    def __init__(self, send: ObjectSendStream[SessionMessage | Exception], receive: ObjectReceiveStream[Any]) -> None:
        self.send = send
        self.receive = receive
        self.next_id = 0

    async def ask(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.next_id += 1
        await self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}})
        while True:
            with anyio.fail_after(60):
                sent: SessionMessage = await self.receive.receive()
            # As stdio.py writes a message on the wire.
            answer = json.loads(sent.message.model_dump_json(by_alias=True, exclude_unset=True))
            if answer.get("id") == self.next_id:
                return answer  # type: ignore[no-any-return]

    async def tell(self, method: str) -> None:
        await self._send({"jsonrpc": "2.0", "method": method})

    async def _send(self, message: dict[str, Any]) -> None:
        # As stdio.py reads a line from the wire.
        line = json.dumps(message).encode()
        await self.send.send(SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False)))


@asynccontextmanager
async def raw_session(server: HappyHorseServer) -> AsyncIterator[Session]:
    to_server, from_client = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    to_client, from_server = anyio.create_memory_object_stream[SessionMessage](16)
    async with to_server, from_client, to_client, from_server, anyio.create_task_group() as tg:
        tg.start_soon(server.run_on, from_client, to_client)
        yield Session(to_server, from_server)
        tg.cancel_scope.cancel()


async def _speak(server: HappyHorseServer, version: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    async with raw_session(server) as session:
        hello = await session.ask(
            "initialize",
            {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}},
        )
        await session.tell("notifications/initialized")
        tools = await session.ask("tools/list")
        made = await session.ask(
            "tools/call",
            {"name": "generate_video", "arguments": {"prompt": "a horse", "duration": 3, "resolution": "720p"}},
        )
    return hello["result"], tools["result"], made["result"]


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26"])
async def test_a_client_before_2025_06_18_gets_its_video_as_text_and_nothing_its_version_lacks(
    version: str, server: HappyHorseServer
) -> None:
    hello, tools, made = await _speak(server, version)
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
    version: str, server: HappyHorseServer
) -> None:
    hello, tools, made = await _speak(server, version)
    assert hello["protocolVersion"] == version
    assert any("outputSchema" in tool for tool in tools["tools"])
    assert "resource_link" in {block["type"] for block in made["content"]}, made
    assert made["structuredContent"]["status"] == "completed"
    assert ("tasks" in hello["capabilities"]) == (version == "2025-11-25")
