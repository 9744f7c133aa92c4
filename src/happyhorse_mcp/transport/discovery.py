"""Discovery over HTTP, before any connection: the server card (the experimental MCP Server Card extension) at
`<MCP URL>/server-card`, and `/.well-known/ai-catalog.json` listing it, both public (no token: they hold no secret,
only who this server is and how to reach it) and readable from any page (CORS `*`). The card names the MCP URL as the
client reached it (or HAPPYHORSE_RESOURCE_URL), the protocol versions served, and the header a token goes in where
one is needed; a deployment signing people in through a provider names none (clients find it through the Protected
Resource Metadata)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp_types.version import SUPPORTED_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import __version__

if TYPE_CHECKING:
    from ..server import HappyHorseServer

# Who this server is, said once: server.json (the registry's file) says the same (tests/docs/test_registry_files.py).
NAME = "io.github.happyhorse-mcp/happyhorse-mcp"
TITLE = "HappyHorse video"
DESCRIPTION = "HappyHorse-1.0 video on fal: text, image and reference to video, edits, costs known and capped."
REPOSITORY = "https://github.com/happyhorse-mcp/happyhorse-mcp"
CARD_SCHEMA = "https://static.modelcontextprotocol.io/schemas/v2/server-card.schema.json"
CARD_TYPE = "application/mcp-server-card+json"
CATALOG_PATH = "/.well-known/ai-catalog.json"
OPEN = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=3600"}


def serve_discovery(mcp: HappyHorseServer, mcp_path: str, *, resource_url: str | None, token_header: bool) -> str:
    """Add the card and the catalog to `mcp`'s routes; the card's path (which the front door leaves open)."""
    card_path = f"{mcp_path}/server-card"

    def mcp_url(request: Request) -> str:
        return resource_url or f"{str(request.base_url).rstrip('/')}{mcp_path}"

    def card(request: Request) -> dict[str, Any]:
        remote: dict[str, Any] = {
            "type": "streamable-http",
            "url": mcp_url(request),
            "supportedProtocolVersions": list(SUPPORTED_PROTOCOL_VERSIONS),
        }
        if token_header:
            remote["headers"] = [
                {
                    "name": "Authorization",
                    "description": "Bearer and the token this server's operator gave you",
                    "isRequired": True,
                    "isSecret": True,
                }
            ]
        return {
            "$schema": CARD_SCHEMA,
            "name": NAME,
            "version": __version__,
            "title": TITLE,
            "description": DESCRIPTION,
            "websiteUrl": REPOSITORY,
            "repository": {"url": REPOSITORY, "source": "github"},
            "remotes": [remote],
        }

    async def server_card(request: Request) -> Response:
        return JSONResponse(card(request), headers=OPEN)

    async def ai_catalog(request: Request) -> Response:
        reached = urlsplit(mcp_url(request))
        return JSONResponse(
            {
                "specVersion": "1.0",
                "host": {"displayName": TITLE},
                "entries": [
                    {
                        "identifier": f"urn:air:{reached.hostname}:mcp:{NAME.rsplit('/', 1)[1]}",
                        "type": CARD_TYPE,
                        "url": f"{reached.scheme}://{reached.netloc}{card_path}",
                        "tags": ["mcp", "video"],
                    }
                ],
            },
            headers=OPEN,
        )

    mcp.custom_route(card_path, methods=["GET"], include_in_schema=False)(server_card)
    mcp.custom_route(CATALOG_PATH, methods=["GET"], include_in_schema=False)(ai_catalog)
    return card_path
