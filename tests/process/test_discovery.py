"""Discovery before connecting: over HTTP the server card answers at `<MCP URL>/server-card` and
`/.well-known/ai-catalog.json` lists it, both without a token and readable from any page; the card validates against
the rules of the experimental Server Card schema (transcribed below: it cannot be fetched from here), names the MCP
URL a client reached, and that URL serves the tools; server.json says who the server is as the card does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import httpx2
import jsonschema
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from happyhorse_mcp import __version__
from happyhorse_mcp.config import Settings
from happyhorse_mcp.transport.http import HttpOptions, build_app

from ..fakefal import FakeFal, serve_app
from ..support import free_port, make_server, shared_tls

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "discovery-token-0123456789abcdef"

# The constraints of the experimental MCP Server Card schema (modelcontextprotocol/experimental-ext-server-card,
# `ServerCard`), restated: required fields, the name's and the schema URL's patterns, lengths, the remotes' shape.
SERVER_CARD = {
    "type": "object",
    "additionalProperties": False,
    "required": ["$schema", "description", "name", "version"],
    "properties": {
        "$schema": {"type": "string", "pattern": r"^https://static\.modelcontextprotocol\.io/schemas/v2/server-card\.schema\.json$"},
        "name": {"type": "string", "minLength": 3, "maxLength": 200, "pattern": r"^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$"},
        "version": {"type": "string", "maxLength": 255},
        "title": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": {"type": "string", "minLength": 1, "maxLength": 100},
        "websiteUrl": {"type": "string"},
        "repository": {
            "type": "object",
            "additionalProperties": False,
            "required": ["source", "url"],
            "properties": {k: {"type": "string"} for k in ("id", "source", "subfolder", "url")},
        },
        "remotes": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["type", "url"],
                "properties": {
                    "type": {"enum": ["sse", "streamable-http"]},
                    "url": {"type": "string", "pattern": r"^(https?://[^\s]+|\{[a-zA-Z_][a-zA-Z0-9_]*\}[^\s]*)$"},
                    "supportedProtocolVersions": {"type": "array", "items": {"type": "string"}},
                    "headers": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "description": {"type": "string"},
                                "isRequired": {"type": "boolean"},
                                "isSecret": {"type": "boolean"},
                            },
                        },
                    },
                    "variables": {"type": "object"},
                },
            },
        },
        "icons": {"type": "array"},
        "_meta": {"type": "object"},
    },
}  # fmt: skip


async def _discovered(url: str) -> tuple[httpx.Response, httpx.Response]:
    async with httpx.AsyncClient(verify=shared_tls()) as http:  # no token: discovery is public
        return await http.get(f"{url}/mcp/server-card"), await http.get(f"{url}/.well-known/ai-catalog.json")


async def test_the_server_card_and_catalog_answer_without_a_token_validate_and_lead_to_the_tools(
    settings: Settings, fake: FakeFal
) -> None:
    port = free_port()
    options = HttpOptions(host="127.0.0.1", port=port, token=TOKEN)
    async with serve_app(build_app(make_server(settings, options.serving), options), port, lifespan=True) as url:
        card, catalog = await _discovered(url)
        remote = card.json()["remotes"][0]
        async with (
            httpx2.AsyncClient(verify=shared_tls(), headers={"Authorization": f"Bearer {TOKEN}"}) as http,
            Client(streamable_http_client(remote["url"], http_client=http)) as client,
        ):
            tools = {tool.name for tool in (await client.list_tools()).tools}
        async with httpx.AsyncClient(verify=shared_tls()) as plain:
            guarded = await plain.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert card.status_code == 200
    jsonschema.validate(card.json(), SERVER_CARD)
    assert card.headers["access-control-allow-origin"] == "*"
    assert remote["url"] == f"{url}/mcp"
    assert "2026-07-28" in remote["supportedProtocolVersions"]
    assert remote["headers"] == [
        {
            "name": "Authorization",
            "description": "Bearer and the token this server's operator gave you",
            "isRequired": True,
            "isSecret": True,
        }
    ]
    assert TOKEN not in card.text
    assert "generate_video" in tools
    assert guarded.status_code == 401, "the card is open; the MCP endpoint is not"
    entry = catalog.json()["entries"][0]
    assert catalog.status_code == 200
    assert (entry["type"], entry["url"]) == ("application/mcp-server-card+json", f"{url}/mcp/server-card")


async def test_behind_a_provider_the_card_names_the_public_resource_url_and_no_header(
    settings: Settings, fake: FakeFal
) -> None:
    port = free_port()
    resource = "https://mcp.example.com/mcp"
    options = HttpOptions(host="127.0.0.1", port=port, auth_issuer="https://login.example.com", resource_url=resource)
    async with serve_app(build_app(make_server(settings, options.serving), options), port, lifespan=True) as url:
        card, catalog = await _discovered(url)
    jsonschema.validate(card.json(), SERVER_CARD)
    assert card.json()["remotes"] == [
        {"type": "streamable-http", "url": resource, "supportedProtocolVersions": card.json()["remotes"][0][
            "supportedProtocolVersions"]}
    ]  # fmt: skip
    assert catalog.json()["entries"][0]["url"] == "https://mcp.example.com/mcp/server-card"


def test_server_json_says_who_the_server_is_as_the_card_does() -> None:
    from happyhorse_mcp.transport import discovery

    registry: dict[str, Any] = json.loads((ROOT / "server.json").read_text())
    assert (registry["name"], registry["title"], registry["description"], registry["version"]) == (
        discovery.NAME,
        discovery.TITLE,
        discovery.DESCRIPTION,
        __version__,
    )
    assert registry["repository"]["url"] == discovery.REPOSITORY
