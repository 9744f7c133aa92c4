"""Raw 2026-07-28 requests over HTTP, as the revision's text has them, for what already holds and must keep holding:
`server/discover` with serverInfo in `_meta`, no log message sent for a tool call by a client that set no level,
-32602 for an unknown resource, `ttlMs` and `cacheScope` on list and read results, a Mcp-Method header that
disagrees with its body refused (-32020)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from happyhorse_mcp.config import Settings
from happyhorse_mcp.transport.http import HttpOptions, build_app

from ..fakefal import FakeFal, serve_app
from ..support import free_port, make_server, shared_tls

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]

TOKEN = "raw-token-0123456789abcdef"
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw-http", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@pytest.fixture
async def http(settings: Settings, fake: FakeFal) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    options = HttpOptions(host="127.0.0.1", port=port, token=TOKEN)
    async with (
        serve_app(build_app(make_server(settings, options.serving), options), port, lifespan=True) as url,
        httpx.AsyncClient(verify=shared_tls(), base_url=url, timeout=30) as client,
    ):
        yield client


async def messages(http: httpx.AsyncClient, method: str, params: dict[str, Any], name: str | None = None) -> list[Any]:
    """Every JSON-RPC message the server sent back for one request (the SSE stream's events, or the one JSON)."""
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": method,
        **({"Mcp-Name": name} if name is not None else {}),
    }
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": {**params, "_meta": META}}
    response = await http.post("/mcp", json=body, headers=headers)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    return [response.json()]


async def answer(http: httpx.AsyncClient, method: str, params: dict[str, Any], name: str | None = None) -> Any:
    return next(m for m in await messages(http, method, params, name) if m.get("id") == 7)


async def test_server_discover_names_the_server_in_meta(http: httpx.AsyncClient) -> None:
    found = await answer(http, "server/discover", {})
    assert found["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "happyhorse-mcp"


async def test_a_tool_call_by_a_client_that_set_no_log_level_gets_no_log_messages(http: httpx.AsyncClient) -> None:
    sent = await messages(
        http, "tools/call", {"name": "estimate_cost", "arguments": {"operation": "text-to-video"}}, "estimate_cost"
    )
    assert [m for m in sent if m.get("method") == "notifications/message"] == []
    assert next(m for m in sent if m.get("id") == 7)["result"]["structuredContent"]["usd"] > 0


async def test_an_unknown_resource_is_an_invalid_params_error(http: httpx.AsyncClient) -> None:
    uri = "happyhorse://jobs/hh_0000000000000000"
    missing = await answer(http, "resources/read", {"uri": uri}, uri)
    assert missing["error"]["code"] == -32602


@pytest.mark.parametrize(
    ("method", "params", "name"),
    [
        ("tools/list", {}, None),
        ("resources/list", {}, None),
        ("resources/read", {"uri": "happyhorse://spend"}, "happyhorse://spend"),
    ],
)
async def test_list_and_read_results_say_how_long_they_keep_and_for_whom(
    http: httpx.AsyncClient, method: str, params: dict[str, Any], name: str | None
) -> None:
    result = (await answer(http, method, params, name))["result"]
    assert isinstance(result["ttlMs"], int)
    assert result["cacheScope"] in ("private", "public")


async def test_a_mcp_method_header_that_disagrees_with_the_body_is_refused(http: httpx.AsyncClient) -> None:
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/list",
    }
    body = {"jsonrpc": "2.0", "id": 7, "method": "resources/list", "params": {"_meta": META}}
    response = await http.post("/mcp", json=body, headers=headers)
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    assert json.loads(text)["error"]["code"] == -32020
