"""A stateless server tells a 2025-11-25 client what it cannot do: no subscription offered or accepted; everything
else passes through, and a server with sessions is untouched."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from happyhorse_mcp.server.options import Serving
from happyhorse_mcp.server.stateless import STATELESS_NO_SUBSCRIBE, stateless_legacy, stateless_truth

pytestmark = pytest.mark.anyio


def _ctx(method: str, version: str = "2025-11-25", stateless: bool = True) -> Any:
    serving = Serving(over_http=True, stateless=stateless)
    return SimpleNamespace(method=method, protocol_version=version, mcp_server=SimpleNamespace(serving=serving))


async def _initialize_result(ctx: Any) -> dict[str, Any]:
    return {"capabilities": {"resources": {"subscribe": True, "listChanged": False}}}


async def test_initialize_on_a_stateless_server_offers_no_subscription() -> None:
    result = await stateless_truth(lambda: True)(_ctx("initialize"), _initialize_result)
    assert result["capabilities"]["resources"] == {"subscribe": False, "listChanged": False}
    untouched = await stateless_truth(lambda: False)(_ctx("initialize"), _initialize_result)
    assert untouched["capabilities"]["resources"]["subscribe"] is True


async def test_a_subscription_on_a_stateless_server_is_refused_saying_what_to_do_instead() -> None:
    with pytest.raises(MCPError) as refused:
        await stateless_truth(lambda: True)(_ctx("resources/subscribe"), _initialize_result)
    assert refused.value.error.message == STATELESS_NO_SUBSCRIBE


def test_only_a_2025_11_25_client_of_a_stateless_server_counts_as_one_that_cannot_be_asked() -> None:
    assert stateless_legacy(_ctx("tools/call"))
    assert not stateless_legacy(_ctx("tools/call", version="2026-07-28"))
    assert not stateless_legacy(_ctx("tools/call", stateless=False))
