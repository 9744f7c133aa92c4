"""The job player (an MCP App): linked from the tools whose results it shows, served as one self-contained HTML file
whose CSP names only where videos come from; hosts without Apps get exactly what they got before."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

import pytest
from mcp import Client
from mcp.types import TextResourceContents

from happyhorse_mcp.config import Settings
from happyhorse_mcp.domain.film import SPENDING_TOOLS
from happyhorse_mcp.server.player import PLAYER_URI, media_origins

from ..support import make_server

pytestmark = pytest.mark.anyio

SHOWN_BY_THE_PLAYER = {*SPENDING_TOOLS, "get_job"}
APP_MIME_TYPE = "text/html;profile=mcp-app"


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


async def _player(client: Client) -> TextResourceContents:
    (content,) = (await client.read_resource(PLAYER_URI)).contents
    assert isinstance(content, TextResourceContents)
    return content


async def test_the_tools_whose_results_it_shows_link_the_player_in_both_forms(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    linked = {name for name, tool in tools.items() if tool.meta}
    assert linked == SHOWN_BY_THE_PLAYER
    for name in SHOWN_BY_THE_PLAYER:
        assert tools[name].meta == {"ui": {"resourceUri": PLAYER_URI}, "ui/resourceUri": PLAYER_URI}


async def test_the_player_is_served_as_an_mcp_app_with_a_csp_naming_only_the_video_hosts(
    client: Client, settings: Settings
) -> None:
    content = await _player(client)

    assert content.mime_type == APP_MIME_TYPE
    assert content.meta == {
        "ui": {
            "csp": {"resourceDomains": ["https://fal.media", "https://*.fal.media", settings.cdn_url]},
            "prefersBorder": True,
        }
    }


def test_the_csp_adds_the_configured_cdn_and_download_hosts_once_and_never_a_path() -> None:
    settings = Settings(
        fal_key=None,
        cdn_url="https://cdn.example.com/files",
        download_hosts=("https://media.example.com/videos", "https://cdn.example.com", "https://v2.fal.media"),
    )

    assert media_origins(settings) == [
        "https://fal.media",
        "https://*.fal.media",
        "https://cdn.example.com",
        "https://media.example.com",
    ]
    assert media_origins(Settings(fal_key=None)) == ["https://fal.media", "https://*.fal.media"]


async def test_the_player_is_one_html_document_that_loads_nothing_from_elsewhere(client: Client) -> None:
    html = (await _player(client)).text
    elements = _Elements()
    elements.feed(html)
    elements.close()

    assert html.startswith("<!DOCTYPE html>")
    tags = [tag for tag, _ in elements.tags]
    assert tags[:2] == ["html", "head"]
    assert tags.count("script") == 1
    for tag, attributes in elements.tags:
        assert "src" not in attributes or tag == "video", f"<{tag}> loads {attributes.get('src')}"
        assert tag not in ("link", "iframe", "object", "embed", "base"), f"<{tag}> has no place in the player"
    assert not re.search(r"\b(import\s*\(|importScripts|@import|url\()", html)
    # The data-testid hooks the browser test and hosts' automation rely on.
    for hook in ("status", "progress", "video", "facts", "problem"):
        assert f'data-testid="{hook}"' in html


async def test_hosts_without_apps_get_the_same_result_as_before(client: Client) -> None:
    result = await client.call_tool("generate_video", {"prompt": "a horse", "duration": 3, "wait_seconds": 30})

    assert result.structured_content is not None
    assert result.structured_content["status"] == "completed"
    kinds = [content.type for content in result.content]
    assert kinds == ["text", "resource_link"]
    assert not set(result.meta or {}) & {"ui", "ui/resourceUri"}


async def test_the_player_is_offered_even_without_a_cdn_of_our_own(settings: Settings) -> None:
    server = make_server(dataclasses.replace(settings, cdn_url="https://v3.fal.media"))
    async with Client(server) as client:
        content = await _player(client)
    assert content.meta is not None
    assert content.meta["ui"]["csp"]["resourceDomains"] == ["https://fal.media", "https://*.fal.media"]
