"""The resolvers made from an operation spec bind to the tool's own arguments, and a mismatch fails at once."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import pytest
from mcp.server import MCPServer
from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import InvalidSignature

from happyhorse_mcp.domain.catalog import IMAGE_TO_VIDEO, SPECS, VIDEO_EDIT
from happyhorse_mcp.jobs.generation import Quote, argument_names
from happyhorse_mcp.server.tools._generation import Confirmation, consent_resolver, quote_resolver


def test_the_quote_resolver_takes_every_argument_of_its_request_and_the_client_s_roots() -> None:
    parameters = list(inspect.signature(quote_resolver(VIDEO_EDIT)).parameters)
    assert parameters == ["ctx", "listed", *argument_names(VIDEO_EDIT)]
    assert "source_duration" in parameters


@pytest.mark.parametrize("spec", list(SPECS.values()), ids=lambda spec: spec.tool)
def test_each_operation_has_one_quote_and_one_consent_resolver(spec: Any) -> None:
    assert quote_resolver(spec) is quote_resolver(spec)
    assert consent_resolver(spec) is consent_resolver(spec)


def test_a_tool_without_an_argument_its_spec_needs_is_refused_at_registration() -> None:
    mcp: MCPServer[Any] = MCPServer("t")

    async def image_to_video(  # no `version`, although the spec has two versions
        image_url: str,
        quote: Annotated[Quote, Resolve(quote_resolver(IMAGE_TO_VIDEO))],
        consent: Annotated[Confirmation, Resolve(consent_resolver(IMAGE_TO_VIDEO))],
        ctx: Context[Any, Any],
        prompt: str | None = None,
        duration: int = 5,
        resolution: str = "1080p",
        seed: int | None = None,
        enable_safety_checker: bool = True,
        wait_seconds: int = 0,
        idempotency_key: str | None = None,
        max_cost_usd: float | None = None,
        save_to: str | None = None,
    ) -> str:
        return ""

    with pytest.raises(InvalidSignature, match="version"):
        mcp.add_tool(image_to_video)
