"""A server run with --stateless tells a 2025-11-25 client the truth: no subscription advertised or accepted (with
what to do instead), and a price it cannot confirm says why and how to pre-approve it; a 2026-07-28 client is asked
within the call as usual."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp.types import ElicitRequestParams, ElicitResult

from happyhorse_mcp.config import Settings

from ..fakefal import FakeFal
from ..prices import usd
from ..support import shared_tls, text_of
from .test_http import TOKEN, _client, http_server

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]

DEAR = {"prompt": "a horse race", "duration": 15, "wait_seconds": 0}  # above the default confirmation threshold
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json, text/event-stream"}


def _answering(asked: list[str]) -> Any:
    async def answer(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    return answer


async def _rpc(http: httpx.AsyncClient, url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    answer = await http.post(
        f"{url}/mcp",
        headers={**HEADERS, "Mcp-Protocol-Version": "2025-11-25"},
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
    )
    text = answer.text
    body = text.split("data: ", 1)[1].split("\n", 1)[0] if text.startswith(("event:", "data:")) else text
    return httpx.Response(200, content=body).json()  # type: ignore[no-any-return]


async def test_a_2025_11_25_client_is_offered_no_subscription_and_told_what_to_do_instead(settings: Settings) -> None:
    initialize = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    }
    async with http_server(settings, stateless=True) as (url, _), httpx.AsyncClient(verify=shared_tls()) as http:
        opened = await _rpc(http, url, "initialize", initialize)
        subscribed = await _rpc(http, url, "resources/subscribe", {"uri": "happyhorse://spend"})
    assert opened["result"]["capabilities"]["resources"]["subscribe"] is False
    assert "get_job(job_id, wait_seconds" in subscribed["error"]["message"]
    assert "subscriptions/listen" in subscribed["error"]["message"]


async def test_a_server_with_sessions_still_offers_subscriptions(settings: Settings) -> None:
    async with http_server(settings, stateless=False) as (url, _), _client(url, mode="legacy") as client:
        capabilities = client.server_capabilities
    assert capabilities is not None
    assert capabilities.resources is not None
    assert capabilities.resources.subscribe is True


async def test_a_price_a_2025_11_25_client_cannot_confirm_over_stateless_says_why_and_how_to_pre_approve(
    settings: Settings, fake: FakeFal
) -> None:
    asked: list[str] = []
    price = usd(duration=15)
    async with (
        http_server(settings, stateless=True) as (url, _),
        _client(url, mode="legacy", elicitation_callback=_answering(asked)) as client,
    ):
        refused = await client.call_tool("generate_video", DEAR)
        approved = await client.call_tool("generate_video", {**DEAR, "max_cost_usd": price})
    assert refused.is_error
    assert "runs stateless (--stateless)" in text_of(refused)
    assert f"max_cost_usd={price:.2f}" in text_of(refused)
    assert "2026-07-28" in text_of(refused)
    assert not approved.is_error
    assert asked == []
    assert len(fake.submits) == 1


async def test_a_2026_07_28_client_is_asked_the_price_within_the_call_over_stateless(
    settings: Settings, fake: FakeFal
) -> None:
    asked: list[str] = []
    async with (
        http_server(settings, stateless=True) as (url, _),
        _client(url, mode="2026-07-28", elicitation_callback=_answering(asked)) as client,
    ):
        made = await client.call_tool("generate_video", DEAR)
    assert not made.is_error, text_of(made)
    assert len(asked) == 1
    assert len(fake.submits) == 1
