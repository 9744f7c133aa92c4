"""Real hosts sign a person in as they do with any new server: they find the authorization server through the
Protected Resource Metadata, register themselves (dynamic client registration) and run the authorization-code flow
with PKCE, the login and consent driven in headless Chromium. Each of the TypeScript SDK's OAuth client, the Python
SDK 2.3's `OAuthClientProvider` and `mcp-remote` (as a stdio bridge) signs in **once**, makes a video and lists its
jobs; a person the provider grants only read lists jobs and is offered no spending tool.

The provider is oidc-provider (npm), with a bare-origin issuer (`http://127.0.0.1:P`, no slash) and, for the Python
SDK, one under a path: clients compare it with the Protected Resource Metadata strictly."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.text import TextReceiveStream
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

from happyhorse_mcp.config import Settings

from ..fakefal import FakeFal
from ..support import free_port, text_of
from .test_oidc_sign_in import NODE, TOOLS, oidc_provider, signed_in_server

pytestmark = [pytest.mark.node, pytest.mark.browser, pytest.mark.anyio, pytest.mark.real_sockets]

TYPESCRIPT_HOST = TOOLS / "clients" / "oauth-sign-in.mjs"
MCP_REMOTE = TOOLS / "node_modules" / "mcp-remote" / "dist" / "proxy.js"
SPENDING = {"generate_video", "image_to_video", "reference_to_video", "edit_video", "make_film", "extend_video"}


@pytest.fixture
def bare_issuer(resource: str) -> Iterator[str]:
    yield from oidc_provider(resource)


@pytest.fixture
def path_issuer(resource: str) -> Iterator[str]:
    yield from oidc_provider(resource, "/tenant-a")


async def log_in(authorize: str, login: str, *, intercept: str | None = None) -> str:
    """Sign `login` in at the provider's pages in headless Chromium and consent; the URL the browser is sent back to.
    With `intercept`, a redirect to that origin is answered by the browser itself (no one listens there)."""
    from playwright.async_api import Route, async_playwright

    from ..browser.test_player import CHROMIUM

    landed: list[str] = []

    async def answer(route: Route) -> None:
        landed.append(route.request.url)
        await route.fulfill(body="Signed in; you may close this window.", content_type="text/plain")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            if intercept is not None:
                await page.route(f"{intercept}/**", answer)
            await page.goto(authorize)
            await page.fill("input[name=login]", login)
            await page.fill("input[name=password]", "any")
            await page.click("button[type=submit]")
            await page.click("button[type=submit]")  # consent: "Continue"
            await page.wait_for_url(lambda url: "code=" in url or "error=" in url)
            return landed[-1] if landed else page.url
        finally:
            await browser.close()


async def _line(lines: BufferedByteReceiveStream) -> str:
    with anyio.fail_after(60):
        return (await lines.receive_until(b"\n", 1 << 20)).decode()


async def run_typescript_host(resource: str, login: str) -> dict[str, Any]:
    host = await anyio.open_process([str(NODE), str(TYPESCRIPT_HOST), resource], stderr=subprocess.PIPE)
    async with host:
        assert host.stdout is not None
        lines = BufferedByteReceiveStream(host.stdout)
        authorize = json.loads(await _line(lines))["authorize"]
        await log_in(authorize, login)
        done: dict[str, Any] = json.loads(await _line(lines))
    return done


async def test_a_person_signs_in_once_from_the_typescript_sdk_and_makes_a_video(
    settings: Settings, fake: FakeFal, port: int, bare_issuer: str, resource: str
) -> None:
    async with signed_in_server(settings, port, bare_issuer, resource):
        done = await run_typescript_host(resource, "carol")
    assert done["made"] is not None, "generate_video was not offered after signing in"
    assert done["made"]["status"] == "completed", done["made"]
    assert [job["job_id"] for job in done["listed"]["jobs"]] == [done["made"]["job_id"]]
    assert set((done["scope"] or "").split()) >= {"happyhorse:read", "happyhorse:generate"}
    assert len(fake.submits) == 1


async def test_a_person_granted_only_read_lists_jobs_and_is_offered_no_spending_tool(
    settings: Settings, fake: FakeFal, port: int, bare_issuer: str, resource: str
) -> None:
    async with signed_in_server(settings, port, bare_issuer, resource):
        done = await run_typescript_host(resource, "reader-rita")
    assert done["listed"] == {"jobs": [], "count": 0}
    assert {"list_jobs", "get_job", "estimate_cost"} <= set(done["tools"])
    assert not SPENDING & set(done["tools"])
    assert done["made"] is None
    assert fake.requests == []


class _Memory:
    """The Python SDK's TokenStorage, in memory: what a host keeps between its requests."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def python_host(resource: str, login: str, signed_in: Callable[[], None]) -> OAuthClientProvider:
    callback = f"http://127.0.0.1:{free_port()}"
    authorize: list[str] = []

    async def redirect(url: str) -> None:
        authorize.append(url)

    async def come_back() -> AuthorizationCodeResult:
        signed_in()
        query = parse_qs(urlsplit(await log_in(authorize[-1], login, intercept=callback)).query)
        return AuthorizationCodeResult(
            code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0]
        )

    metadata = OAuthClientMetadata(
        client_name="happyhorse python test host",
        redirect_uris=[AnyUrl(f"{callback}/callback")],
        grant_types=["authorization_code"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(resource, metadata, _Memory(), redirect_handler=redirect, callback_handler=come_back)


@pytest.mark.parametrize("issuer_kind", ["bare origin", "with a path"])
async def test_a_person_signs_in_once_from_the_python_sdk_and_makes_a_video(
    settings: Settings,
    fake: FakeFal,
    port: int,
    resource: str,
    issuer_kind: str,
    request: pytest.FixtureRequest,
) -> None:
    issuer: str = request.getfixturevalue("bare_issuer" if issuer_kind == "bare origin" else "path_issuer")
    sign_ins: list[None] = []
    auth = python_host(resource, "dora", lambda: sign_ins.append(None))
    async with (
        signed_in_server(settings, port, issuer, resource),
        httpx2.AsyncClient(auth=auth, timeout=60) as http,
        Client(streamable_http_client(resource, http_client=http)) as client,
    ):
        offered = {tool.name for tool in (await client.list_tools()).tools}
        made = await client.call_tool("generate_video", {"prompt": "a horse", "duration": 3})
        listed = await client.call_tool("list_jobs", {})
    assert len(sign_ins) == 1, "one sign-in, then a video: no step-up"
    assert {"generate_video", "make_film"} <= offered
    assert made.structured_content is not None, text_of(made)
    assert made.structured_content["status"] == "completed"
    assert listed.structured_content is not None
    assert [job["job_id"] for job in listed.structured_content["jobs"]] == [made.structured_content["job_id"]]


async def test_a_person_signs_in_once_through_mcp_remote_and_makes_a_video(
    settings: Settings, fake: FakeFal, port: int, bare_issuer: str, resource: str, tmp_path: Path
) -> None:
    if not MCP_REMOTE.exists():
        pytest.fail("mcp-remote is missing: scripts/test --all installs .tools/ with npm")
    callback_port = free_port()
    environment = {
        **os.environ,
        "MCP_REMOTE_CONFIG_DIR": str(tmp_path / "mcp-auth"),  # not the person's own ~/.mcp-auth
        "BROWSER": "true",  # the test is the browser: xdg-open opens nothing
    }
    bridge = [str(NODE), str(MCP_REMOTE), resource, str(callback_port), "--host", "127.0.0.1"]
    async with signed_in_server(settings, port, bare_issuer, resource):
        process = await anyio.open_process(bridge, env=environment)
        async with process:
            assert process.stdin is not None
            assert process.stdout is not None
            assert process.stderr is not None
            said = TextReceiveStream(process.stderr)
            seen, marker = "", "Please authorize this client by visiting:\n"
            with anyio.fail_after(60):
                while marker not in seen or "\n" not in seen.split(marker, 1)[1]:
                    try:
                        seen += await said.receive()
                    except anyio.EndOfStream:
                        pytest.fail(f"mcp-remote ended before asking for a sign-in: {seen}")
            authorize = seen.split(marker, 1)[1].split("\n", 1)[0].strip()
            await log_in(authorize, "erin")
            answers = BufferedByteReceiveStream(process.stdout)

            async def ask(ident: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
                message = {"jsonrpc": "2.0", "id": ident, "method": method, "params": params}
                assert process.stdin is not None
                await process.stdin.send((json.dumps(message) + "\n").encode())
                while True:
                    answer: dict[str, Any] = json.loads(await _line(answers))
                    if answer.get("id") == ident:
                        return answer

            async def drain() -> None:
                async for _ in said:  # mcp-remote logs to stderr as it works; a full pipe would stall it
                    pass

            async with anyio.create_task_group() as tg:
                tg.start_soon(drain)
                await ask(
                    1,
                    "initialize",
                    {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
                )
                await process.stdin.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
                made = await ask(2, "tools/call", {"name": "generate_video", "arguments": {"prompt": "a horse"}})
                listed = await ask(3, "tools/call", {"name": "list_jobs", "arguments": {}})
                process.terminate()
                tg.cancel_scope.cancel()
    made_job = made["result"]["structuredContent"]
    assert made_job["status"] == "completed", made
    assert [job["job_id"] for job in listed["result"]["structuredContent"]["jobs"]] == [made_job["job_id"]]
    assert len(fake.submits) == 1
