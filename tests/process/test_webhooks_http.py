"""Webhooks over real sockets: a deployment with HAPPYHORSE_WEBHOOK_URL makes a video through MCP with fal's signed
post ending the job (fal reaches the server's own route, no token needed), and a stdio server, which nothing can
reach, ignores the setting."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from happyhorse_mcp.config import Settings
from happyhorse_mcp.transport.http import HttpOptions, build_app

from ..fakefal import FakeFal, serve_app
from ..support import free_port, make_server, shared_tls, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]

TOKEN = "correct-horse-battery-staple"


@asynccontextmanager
async def webhook_server(settings: Settings, fal_url: str) -> AsyncIterator[str]:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    settings = dataclasses.replace(settings, webhook_url=public, jwks_url=f"{fal_url}/.well-known/jwks.json")
    options = HttpOptions(host="127.0.0.1", port=port, token=TOKEN)
    async with serve_app(build_app(make_server(settings, options.serving), options), port, lifespan=True) as url:
        yield url


async def test_over_http_a_video_is_made_with_fal_s_signed_post_ending_the_job(
    settings: Settings, fal_url: str, fake: FakeFal
) -> None:
    async with (
        webhook_server(settings, fal_url) as url,
        httpx2.AsyncClient(verify=shared_tls(), headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        made = await client.call_tool("generate_video", {"prompt": "a horse", "wait_seconds": 20})

    assert not made.is_error, text_of(made)
    assert made.structured_content is not None
    assert made.structured_content["status"] == "completed"
    assert (fake.submits[0].webhook_url or "").startswith(f"{url}/fal/webhook/")
    assert fake.webhooks.attempts == [(fake.submits[0].request_id, 200)], "the post needed no bearer token"
    assert [route for route, _ in fake.requests] == ["submit"], "no status stream, no result fetch"
    assert fake.webhooks.jwks_reads == 1


async def test_a_stdio_server_ignores_the_webhook_url_and_follows_the_status_stream(
    settings: Settings, fake: FakeFal
) -> None:
    nobody = dataclasses.replace(settings, webhook_url="https://mcp.example.com")
    async with Client(make_server(nobody)) as client:
        made = await client.call_tool("generate_video", {"prompt": "a horse", "wait_seconds": 20})

    assert not made.is_error, text_of(made)
    assert fake.submits[0].webhook_url is None
    assert fake.calls("stream") == 1
