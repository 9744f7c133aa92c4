"""The serving recipes run as copied: the shell block of docs/hosts/sign-in.md's identity provider and of
docs/serving.md's replicas, with the example domains replaced by loopback addresses, the example port by a free one,
and `...` by test values; then a client makes a video through the server the recipe started."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from ..fakefal import VALID_KEY, FakeFal
from ..process.test_oidc_sign_in import access_token
from ..support import free_port, http_server_process, postgres_schema, shared_tls, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]

DOCS = Path(__file__).resolve().parents[2] / "docs"


def recipe(document: Path, heading: str) -> str:
    """The first ```sh block after `heading` in `document`."""
    text = document.read_text()
    after = text[text.index(heading) :]
    found = re.search(r"```sh\n(.*?)```", after, re.S)
    assert found is not None, f"no sh block after {heading!r} in {document.name}"
    return found.group(1)


@contextmanager
def run_recipe(script: str, env: dict[str, str], log: Path) -> Iterator[None]:
    """Run the recipe's commands in bash until the server it starts says it listens; stop it after."""
    bin_dir = str(Path(sys.executable).parent)  # happyhorse-mcp, as installed with the tests
    full = {**env, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    with http_server_process(["bash", "-euc", script], full, log, start_new_session=True):
        yield


def fal_env(fal_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "HOME": str(tmp_path),
        "HAPPYHORSE_FAL_QUEUE_URL": fal_url,
        "HAPPYHORSE_FAL_REST_URL": fal_url,
        "HAPPYHORSE_FAL_CDN_URL": fal_url,
        "HAPPYHORSE_DATA_DIR": str(tmp_path / "data"),
    }


async def make_a_video(url: str, token: str) -> tuple[str, list[str]]:
    async with (
        httpx2.AsyncClient(verify=shared_tls(), headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        made = await client.call_tool("generate_video", {"prompt": "a horse", "duration": 3})
        listed = await client.call_tool("list_jobs", {})
    assert made.structured_content is not None, text_of(made)
    assert listed.structured_content is not None, text_of(listed)
    return made.structured_content["status"], [job["job_id"] for job in listed.structured_content["jobs"]]


@pytest.mark.node
async def test_the_identity_provider_recipe_in_sign_in_md_runs_as_copied(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    from ..process.test_oidc_sign_in import oidc_provider

    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    for issuer in oidc_provider(resource):
        script = (
            recipe(DOCS / "hosts" / "sign-in.md", "## An identity provider")
            .replace("https://login.example.com/realms/team", issuer)
            .replace("https://mcp.example.com/mcp", resource)
            .replace("--port 8000", f"--port {port}")
            .replace("FAL_KEY=...", f"FAL_KEY={VALID_KEY}")
        )
        assert "example.com" not in script
        with run_recipe(script, fal_env(fal_url, tmp_path), tmp_path / "server.log"):
            token = await access_token(issuer, "alice", resource=resource)
            status, jobs = await make_a_video(resource, token)
    assert status == "completed"
    assert len(jobs) == 1
    assert len(fake.submits) == 1


@pytest.mark.postgres
async def test_the_replica_recipe_in_serving_md_runs_as_copied(fake: FakeFal, fal_url: str, tmp_path: Path) -> None:
    port = free_port()
    token = "recipe-token-0123456789abcdef"
    commands = recipe(DOCS / "serving.md", "## Running replicas")
    script = "\n".join(line for line in commands.splitlines() if not line.startswith("pip install"))
    async with postgres_schema() as database_url:
        script = (
            script.replace("postgresql://hh:secret@db.internal/happyhorse", database_url)
            .replace("mcp.example.com", f"127.0.0.1:{port}")
            .replace("--port 8000", f"--port {port}")
            .replace("HAPPYHORSE_HTTP_TOKEN=...", f"HAPPYHORSE_HTTP_TOKEN={token}")
            .replace("FAL_KEY=...", f"FAL_KEY={VALID_KEY}")
        )
        assert "example" not in script
        assert "db.internal" not in script
        with run_recipe(script, fal_env(fal_url, tmp_path), tmp_path / "server.log"):
            status, jobs = await make_a_video(f"http://127.0.0.1:{port}/mcp", token)
    assert status == "completed"
    assert len(jobs) == 1


def test_listening_on_every_interface_with_no_name_for_clients_warns_and_the_public_name_is_allowed() -> None:
    from happyhorse_mcp.transport.http import HttpOptions

    bare = HttpOptions(host="0.0.0.0", port=8000, token="t" * 32)
    named = HttpOptions(host="0.0.0.0", port=8000, token="t" * 32, allowed_hosts=("mcp.example.com",))
    public = HttpOptions(host="127.0.0.1", port=8000, resource_url="https://mcp.example.com/mcp", auth_issuer="x")
    assert "HAPPYHORSE_ALLOWED_HOSTS" in " ".join(bare.start_warnings())
    assert named.start_warnings() == []
    greedy = HttpOptions(sessions_per_client=60, max_sessions=100)
    assert "two clients could hold every session" in " ".join(greedy.start_warnings())
    assert public.host_allowed("mcp.example.com")
    assert public.host_allowed("mcp.example.com:443")
    assert not public.host_allowed("evil.example.net")
