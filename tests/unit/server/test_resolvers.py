"""The resolvers made from an operation spec bind to the tool's own arguments, and a mismatch fails at once."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import pytest
from mcp.server import MCPServer
from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import InvalidSignature

from happyhorse_mcp.domain.catalog import IMAGE_TO_VIDEO, VIDEO_EDIT
from happyhorse_mcp.server.tools._resolvers import Ticket, ticket_resolver


def test_the_ticket_resolver_asks_only_for_other_resolvers() -> None:
    parameters = inspect.signature(ticket_resolver(VIDEO_EDIT)).parameters
    assert list(parameters) == ["plan", "quote", "earlier", "confirmation"]


def test_a_tool_without_an_argument_its_spec_needs_is_refused_at_registration() -> None:
    mcp: MCPServer[Any] = MCPServer("t")

    async def image_to_video(  # no `version`, although the spec has two versions
        image_url: str,
        ticket: Annotated[Ticket, Resolve(ticket_resolver(IMAGE_TO_VIDEO))],
        ctx: Context[Any, Any],
        duration: int = 5,
        resolution: str = "1080p",
        idempotency_key: str | None = None,
        max_cost_usd: float | None = None,
        save_to: str | None = None,
    ) -> str:
        return ""

    with pytest.raises(InvalidSignature, match="version"):
        mcp.add_tool(image_to_video)
