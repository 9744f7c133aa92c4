"""Streamable HTTP: only a client with the token gets in, Host and Origin are checked, and the key never leaks."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ListRootsResult, Root

from happyhorse_mcp.config import Settings
from happyhorse_mcp.server import select_tools
from happyhorse_mcp.server.options import Serving
from happyhorse_mcp.transport.http import BindError, HttpOptions, build_app, check_bind

from .. import media_factory
from ..fakefal import VALID_KEY, FakeFal, serve_app
from ..prices import CLIP_USD
from ..support import free_port, make_server, shared_tls, text_of

pytestmark = pytest.mark.anyio

TOKEN = "correct-horse-battery-staple"


@asynccontextmanager
async def http_server(settings: Settings, **options: object) -> AsyncIterator[tuple[str, HttpOptions]]:
    port = free_port()  # the server's options name its port (its Host header check)
    opts = HttpOptions(host="127.0.0.1", port=port, token=TOKEN, **options)  # type: ignore[arg-type]
    async with serve_app(build_app(make_server(settings, opts.serving), opts), port, lifespan=True) as url:
        yield url, opts


@asynccontextmanager
async def _client(url: str, token: str = TOKEN, mode: str = "legacy", **options: Any) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(verify=shared_tls(), headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode, **options) as client,
    ):
        yield client


async def _whole_disk(context: Any) -> ListRootsResult:
    return ListRootsResult(roots=[Root(uri="file:///", name="everything")])


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_over_http_a_client_s_roots_never_open_the_server_s_disk(
    settings: Settings, fake: FakeFal, tmp_path: Path, mode: str
) -> None:
    private = media_factory.image(tmp_path / "private.png")
    chosen = tmp_path / "chosen" / "clip.mp4"
    async with (
        http_server(settings) as (url, _),
        _client(url, mode=mode, list_roots_callback=_whole_disk) as client,
    ):
        read = await client.call_tool("image_to_video", {"image_url": str(private)})
        written = await client.call_tool("generate_video", {"prompt": "a horse", "save_to": str(chosen)})
    for result in (read, written):
        assert result.is_error
        assert "reached over HTTP" in text_of(result)
        assert "HAPPYHORSE_ALLOWED_DIRS" in text_of(result)
    assert (fake.submits, fake.uploads) == ([], {})
    assert not chosen.parent.exists()


async def test_over_http_only_the_operator_s_allowed_folders_count(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    allowed = tmp_path / "shared"
    allowed.mkdir()
    inside = media_factory.image(allowed / "horse.png")
    outside = media_factory.image(tmp_path / "private.png")
    operator = dataclasses.replace(settings, allowed_dirs=(allowed,))
    async with http_server(operator) as (url, _), _client(url, list_roots_callback=_whole_disk) as client:
        refused = await client.call_tool("image_to_video", {"image_url": str(outside)})
        made = await client.call_tool("image_to_video", {"image_url": str(inside)})
    assert refused.is_error
    assert "outside every allowed folder" in text_of(refused)
    assert not made.is_error, text_of(made)
    assert len(fake.submits) == 1
    assert next(iter(fake.uploads.values())) == inside.read_bytes()


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
@pytest.mark.parametrize("stateless", [False, True], ids=["sessions", "stateless"])
async def test_a_client_with_the_token_makes_a_video_over_http(
    settings: Settings, fake: FakeFal, mode: str, stateless: bool
) -> None:
    async with http_server(settings, stateless=stateless) as (url, _), _client(url, mode=mode) as client:
        estimate = await client.call_tool("estimate_cost", {"operation": "text-to-video"})
        made = await client.call_tool("generate_video", {"prompt": "a horse", "duration": 3})
    assert estimate.structured_content is not None
    assert estimate.structured_content["usd"] == CLIP_USD
    assert made.structured_content is not None
    assert made.structured_content["status"] == "completed"
    assert len(fake.submits) == 1


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x"])
async def test_a_request_without_the_right_token_is_refused_with_401(
    settings: Settings, fake: FakeFal, authorization: str | None
) -> None:
    headers = {**ACCEPT, **({"Authorization": authorization} if authorization else {})}
    async with http_server(settings) as (url, _), httpx.AsyncClient(verify=shared_tls()) as http:
        response = await http.post(f"{url}/mcp", json=INIT, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert 'realm="happyhorse-mcp"' in response.headers["www-authenticate"]


async def test_a_wrong_host_header_is_refused_with_421(settings: Settings) -> None:
    headers = {**ACCEPT, "Authorization": f"Bearer {TOKEN}", "Host": "evil.example:8000"}
    async with http_server(settings) as (url, _), httpx.AsyncClient(verify=shared_tls()) as http:
        response = await http.post(f"{url}/mcp", json=INIT, headers=headers)
    assert response.status_code == 421


async def test_a_wrong_origin_is_refused_with_403(settings: Settings) -> None:
    headers = {**ACCEPT, "Authorization": f"Bearer {TOKEN}", "Origin": "https://evil.example"}
    async with http_server(settings) as (url, _), httpx.AsyncClient(verify=shared_tls()) as http:
        response = await http.post(f"{url}/mcp", json=INIT, headers=headers)
    assert response.status_code == 403


async def test_extra_hosts_and_origins_can_be_allowed(settings: Settings) -> None:
    headers = {**ACCEPT, "Authorization": f"Bearer {TOKEN}", "Host": "mcp.example.com", "Origin": "https://app.example"}
    async with (
        http_server(settings, allowed_hosts=("mcp.example.com",), allowed_origins=("https://app.example",)) as (url, _),
        httpx.AsyncClient(verify=shared_tls()) as http,
    ):
        response = await http.post(f"{url}/mcp", json=INIT, headers=headers)
    assert response.status_code == 200


async def test_a_body_over_the_limit_is_refused(settings: Settings) -> None:
    headers = {**ACCEPT, "Authorization": f"Bearer {TOKEN}"}
    huge = {**INIT, "params": {**INIT["params"], "padding": "x" * (5 * 1024 * 1024)}}  # type: ignore[dict-item]
    async with http_server(settings) as (url, _), httpx.AsyncClient(verify=shared_tls()) as http:
        response = await http.post(f"{url}/mcp", json=huge, headers=headers)
    assert response.status_code == 413


async def test_the_health_check_needs_no_token_and_shows_no_secrets(settings: Settings) -> None:
    async with http_server(settings) as (url, _), httpx.AsyncClient(verify=shared_tls()) as http:
        response = await http.get(f"{url}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert VALID_KEY not in response.text
    assert TOKEN not in response.text


async def test_a_whole_http_session_never_shows_the_fal_key(
    settings: Settings, fake: FakeFal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.outcomes.append("content_policy")
    seen: list[str] = []
    async with http_server(settings) as (url, _), _client(url) as client:
        calls: list[tuple[str, dict[str, Any]]] = [
            ("generate_video", {"prompt": "a horse", "duration": 3}),
            ("generate_video", {"prompt": "a horse", "duration": 3}),
            ("get_job", {"job_id": "hh_nope"}),
            ("list_jobs", {}),
        ]
        for tool, args in calls:
            seen.append((await client.call_tool(tool, args)).model_dump_json())
        seen.append((await client.list_resources()).model_dump_json())
        seen.append(str((await client.read_resource("happyhorse://spend")).contents))
    everything = "\n".join(seen) + "\n".join(r.getMessage() for r in caplog.records)
    assert "fake-key-secret" not in everything
    assert VALID_KEY not in everything


def test_a_non_loopback_bind_without_a_token_is_refused() -> None:
    with pytest.raises(BindError, match="HAPPYHORSE_HTTP_TOKEN"):
        check_bind(HttpOptions(host="0.0.0.0", token=None))
    check_bind(HttpOptions(host="0.0.0.0", token=TOKEN))
    check_bind(HttpOptions(host="::1", token=None))


async def test_read_only_offers_only_the_read_only_tools(settings: Settings) -> None:
    read_only = ["estimate_cost", "get_job", "list_jobs", "review_video"]
    assert select_tools(make_server(settings), read_only=True) == read_only


async def test_tools_offers_just_those_named_and_refuses_unknown_names(settings: Settings) -> None:
    assert select_tools(make_server(settings), names=["estimate_cost", "generate_video"]) == [
        "estimate_cost",
        "generate_video",
    ]
    with pytest.raises(ValueError, match="unknown tool"):
        select_tools(make_server(settings), names=["estimate_cost", "delete_everything"])


async def test_sessions_past_the_cap_are_refused_and_room_returns_when_they_close(settings: Settings) -> None:
    async with http_server(settings, max_sessions=2, session_idle_seconds=90) as (url, _):
        async with (
            _client(url),
            _client(url),
            httpx.AsyncClient(verify=shared_tls(), headers={"Authorization": f"Bearer {TOKEN}", **ACCEPT}) as http,
        ):
            refused = await http.post(f"{url}/mcp", json=INIT)
        assert refused.status_code == 503
        async with _client(url) as client:  # room again once the first two closed
            assert (await client.call_tool("estimate_cost", {"operation": "text-to-video"})).structured_content


def test_http_options_carry_every_http_setting_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "HAPPYHORSE_HTTP_TOKEN": "t" * 32,
            "HAPPYHORSE_AUTH_ISSUER": "https://login.example.com",
            "HAPPYHORSE_RESOURCE_URL": "https://mcp.example.com/mcp",
            "HAPPYHORSE_AUTH_CLIENT_ID": "happyhorse",
            "HAPPYHORSE_AUTH_CLIENT_SECRET": "c" * 32,
            "HAPPYHORSE_ALLOWED_HOSTS": "mcp.example.com:443",
            "HAPPYHORSE_ALLOWED_ORIGINS": "https://app.example.com",
            "HAPPYHORSE_HTTP_MAX_SESSIONS": "7",
            "HAPPYHORSE_HTTP_SESSIONS_PER_CLIENT": "3",
            "HAPPYHORSE_HTTP_SESSION_IDLE_SECONDS": "120",
            "HAPPYHORSE_HTTP_STREAM_SECONDS": "60",
            "HAPPYHORSE_DATA_DIR": "/tmp/x",
        }
    )
    options = HttpOptions.from_settings(settings, host="127.0.0.1", port=1, stateless=False)
    assert (options.token, options.auth_issuer, options.resource_url) == (
        "t" * 32,
        "https://login.example.com",
        "https://mcp.example.com/mcp",
    )
    assert options.auth_client == ("happyhorse", "c" * 32)
    assert (options.allowed_hosts, options.allowed_origins) == (("mcp.example.com:443",), ("https://app.example.com",))
    assert (options.max_sessions, options.sessions_per_client) == (7, 3)
    assert (options.session_idle_seconds, options.stream_seconds) == (120, 60)
    assert {"t" * 32, "c" * 32} <= set(settings.secrets())
    assert "t" * 32 not in repr(options)
    assert "c" * 32 not in repr(settings)


def _from(address: str) -> httpx.AsyncClient:
    """A client whose connections come from `address` (another machine, as far as the server can tell)."""
    return httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(verify=shared_tls(), local_address=address),
        headers={"Authorization": f"Bearer {TOKEN}", **ACCEPT},
        timeout=10,
    )


async def _open_session(http: httpx.AsyncClient, url: str) -> httpx.Response:
    return await http.post(f"{url}/mcp", json=INIT)


async def test_one_client_holding_listening_streams_cannot_lock_other_clients_out(settings: Settings) -> None:
    async with (
        http_server(settings, sessions_per_client=3, max_sessions=4) as (url, _),
        _from("127.0.0.2") as hog,
        anyio.create_task_group() as tg,
    ):
        held = []
        for _ in range(3):
            opened = await _open_session(hog, url)
            assert opened.status_code == 200
            session = opened.headers["mcp-session-id"]
            listening = hog.build_request("GET", f"{url}/mcp", headers={"mcp-session-id": session})
            held.append(await hog.send(listening, stream=True))  # open, and never read
        refused = await _open_session(hog, url)
        assert refused.status_code == 429
        assert "HAPPYHORSE_HTTP_SESSIONS_PER_CLIENT" in refused.text
        async with _client(url) as other:  # from 127.0.0.1: another client
            assert (await other.call_tool("estimate_cost", {"operation": "text-to-video"})).structured_content
        for stream in held:
            await stream.aclose()
        tg.cancel_scope.cancel()


async def test_abandoned_initializes_from_one_client_make_room_for_its_next_and_leave_room_for_others(
    settings: Settings,
) -> None:
    async with http_server(settings, sessions_per_client=4, max_sessions=6) as (url, _), _from("127.0.0.3") as hog:
        opened = [await _open_session(hog, url) for _ in range(40)]
        assert {answer.status_code for answer in opened} == {200}, "its least recently used session made room"
        first = opened[0].headers["mcp-session-id"]
        gone = await hog.post(f"{url}/mcp", json=INIT | {"id": 2}, headers={"mcp-session-id": first})
        assert gone.status_code == 404
        async with _client(url) as other:
            assert (await other.call_tool("estimate_cost", {"operation": "text-to-video"})).structured_content


async def test_a_listening_stream_nobody_reads_is_closed_so_its_session_idles_out(settings: Settings) -> None:
    async with (
        # Long enough that the refused second session is asked for while the stream is surely still open.
        http_server(settings, sessions_per_client=1, stream_seconds=2) as (url, _),
        _from("127.0.0.4") as hog,
    ):
        opened = await _open_session(hog, url)
        session = opened.headers["mcp-session-id"]
        with anyio.fail_after(10):
            async with hog.stream("GET", f"{url}/mcp", headers={"mcp-session-id": session}) as listening:
                refused = await _open_session(hog, url)  # its one session is busy listening
                async for _ in listening.aiter_raw():  # the server ends the stream; a live client would reconnect
                    pass
        again = await _open_session(hog, url)  # the session is idle now, so it makes room
        assert (refused.status_code, again.status_code) == (429, 200)


async def test_a_client_whose_listening_stream_is_closed_goes_on_working(settings: Settings, fake: FakeFal) -> None:
    fake.hold = True
    async with http_server(settings, stream_seconds=0.2) as (url, _), _client(url) as client:
        started = await client.call_tool("generate_video", {"prompt": "a horse", "duration": 3, "wait_seconds": 0})
        assert started.structured_content is not None
        job_id = started.structured_content["job_id"]
        waited = await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 1})  # outlives the stream
        fake.complete(fake.submits[0].request_id)
        done = await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 30})
    assert waited.structured_content is not None
    assert waited.structured_content["status"] == "queued"
    assert done.structured_content is not None
    assert done.structured_content["status"] == "completed"


async def test_every_event_on_a_stream_carries_an_id_a_client_can_resume_from(settings: Settings) -> None:
    async with http_server(settings) as (url, _), httpx.AsyncClient(verify=shared_tls()) as http:
        answer = await http.post(f"{url}/mcp", json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {TOKEN}"})
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = [block for block in answer.text.split("\n\n") if block.strip()]
    assert events
    assert all(any(line.startswith("id:") for line in event.splitlines()) for event in events), answer.text


async def test_a_server_is_built_for_its_transport_and_one_built_for_stdio_is_not_served_over_http(
    settings: Settings,
) -> None:
    options = HttpOptions(host="127.0.0.1", port=free_port(), stateless=True)
    with pytest.raises(ValueError, match=r"serving=options\.serving"):
        build_app(make_server(settings), options)
    assert make_server(settings, options.serving).serving == Serving(over_http=True, stateless=True)
