"""A page on an origin the operator allowed (HAPPYHORSE_ALLOWED_ORIGINS) can reach the server from a browser: its
preflights are answered without a token, and it can read the session id and the bearer challenge. Any other origin
gets no CORS headers, so a browser shows it nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from happyhorse_mcp.config import Settings
from happyhorse_mcp.transport.http import HttpOptions, build_app

from ..fakefal import serve_app
from ..support import free_port, make_server, shared_tls

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]

TOKEN = "correct-horse-battery-staple"
APP = "https://app.example.com"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "page", "version": "1"}},
}


@asynccontextmanager
async def server(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    options = HttpOptions(host="127.0.0.1", port=port, token=TOKEN, allowed_origins=(APP,))
    async with serve_app(build_app(make_server(settings, options.serving), options), port, lifespan=True) as url:
        yield url


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version, mcp-session-id",
    }


async def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token(settings: Settings) -> None:
    async with server(settings) as url, httpx.AsyncClient(verify=shared_tls()) as http:
        answer = await http.options(f"{url}/mcp", headers=_preflight(APP))
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP
    allowed = answer.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "mcp-protocol-version", "mcp-session-id"):
        assert header in allowed
    assert "POST" in answer.headers["access-control-allow-methods"]


async def test_a_page_on_an_allowed_origin_reads_the_session_id_and_the_bearer_challenge(settings: Settings) -> None:
    headers = {"Origin": APP, "Accept": "application/json, text/event-stream"}
    async with server(settings) as url, httpx.AsyncClient(verify=shared_tls()) as http:
        refused = await http.post(f"{url}/mcp", headers=headers, json=INITIALIZE)
        opened = await http.post(f"{url}/mcp", headers={**headers, "Authorization": f"Bearer {TOKEN}"}, json=INITIALIZE)
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == APP
    assert "www-authenticate" in refused.headers["access-control-expose-headers"].lower()
    assert opened.status_code == 200
    assert opened.headers["access-control-allow-origin"] == APP
    assert "mcp-session-id" in opened.headers["access-control-expose-headers"].lower()
    assert opened.headers["mcp-session-id"]


async def test_an_origin_not_configured_gets_no_cors_headers(settings: Settings) -> None:
    elsewhere = "https://evil.example"
    async with server(settings) as url, httpx.AsyncClient(verify=shared_tls()) as http:
        preflight = await http.options(f"{url}/mcp", headers=_preflight(elsewhere))
        call = await http.post(
            f"{url}/mcp",
            headers={"Origin": elsewhere, "Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
            json=INITIALIZE,
        )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in call.headers
    assert call.status_code == 403, "the SDK's Origin check refuses it too"
