"""A signed-in person's own fal key (HAPPYHORSE_USER_KEYS_SECRET): entered on a page this server serves, opened by
URL elicitation (or named in the error when the client cannot), kept sealed, used for that person's jobs only, and
gone once they delete it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitRequestParams, ElicitResult

from happyhorse_mcp.config import Settings
from happyhorse_mcp.config.tokens_file import read_tokens_file
from happyhorse_mcp.transport.http import HttpOptions, build_app

from ..fakefal import VALID_KEY, FakeFal, serve_app
from ..support import free_port, make_server, shared_tls, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]

ALICE, BOB = "alice-token-0123456789abcdef", "bob-token-0123456789abcdef"
ALICES_FAL_KEY = "alice-key-id:alice-key-secret-0123456789"
SECRET = "a-deployment-secret-of-32-characters-or-more"
CLIP = {"prompt": "a horse", "duration": 5, "wait_seconds": 30}


@asynccontextmanager
async def server(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    (tmp_path / "tokens").write_text(f"alice {ALICE}\nbob {BOB}\n")
    tokens = read_tokens_file("HAPPYHORSE_HTTP_TOKENS_FILE", str(tmp_path / "tokens"))
    keyed = dataclasses.replace(settings, user_keys_secrets=(SECRET,))
    options = HttpOptions(host="127.0.0.1", port=port, tokens=tokens)
    async with serve_app(build_app(make_server(keyed, options.serving), options), port, lifespan=True) as url:
        yield url


@asynccontextmanager
async def signed_in(url: str, token: str, **options: Any) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(verify=shared_tls(), headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy", **options) as client,
    ):
        yield client


def origin_of(page: str) -> str:
    parts = urlsplit(page)
    return f"{parts.scheme}://{parts.netloc}"


async def enter_on_page(page: str, fal_key: str) -> httpx.Response:
    """What a person's browser does: load the page (it keeps the cookie), post the form back to the same origin."""
    async with httpx.AsyncClient(verify=shared_tls()) as http:
        form = await http.get(page)
        assert form.status_code == 200
        assert form.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in form.headers["content-security-policy"]
        assert 'type="password"' in form.text
        return await http.post(
            page, data={"fal_key": fal_key, "form_token": form_token(form.text)}, headers={"Origin": origin_of(page)}
        )


def form_token(page: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


async def test_a_key_entered_on_the_page_opened_by_url_elicitation_is_used_for_its_owner_s_jobs_only(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    fake.keys.add(ALICES_FAL_KEY)
    opened: list[ElicitRequestParams] = []

    async def open_page(context: Any, params: ElicitRequestParams) -> ElicitResult:
        opened.append(params)
        saved = await enter_on_page(params.url, ALICES_FAL_KEY)  # type: ignore[union-attr]  # the person, in a browser
        assert saved.status_code == 200, saved.text
        return ElicitResult(action="accept")

    async with server(settings, tmp_path) as url:
        async with signed_in(url, ALICE, elicitation_callback=open_page) as alice:
            asked = await alice.call_tool("fal_key", {"action": "set"})
            status = await alice.call_tool("fal_key", {})
            alices = await alice.call_tool("generate_video", CLIP)
        sent_by_alice = list(fake.authorizations)
        async with signed_in(url, BOB) as bob:
            bobs = await bob.call_tool("generate_video", CLIP)
    assert not asked.is_error, text_of(asked)
    assert opened[0].mode == "url"
    assert opened[0].url.startswith(f"{url}/keys/")
    assert "your fal account" in text_of(status)
    assert alices.structured_content is not None
    assert alices.structured_content["status"] == "completed"
    assert bobs.structured_content is not None
    assert bobs.structured_content["status"] == "completed"
    assert set(sent_by_alice) == {f"Key {ALICES_FAL_KEY}"}, "alice's submit, status and result: her key"
    assert set(fake.authorizations[len(sent_by_alice) :]) == {f"Key {VALID_KEY}"}, "bob's: the server's"
    stored = b"".join(path.read_bytes() for path in (settings.data_dir).glob("jobs.sqlite3*"))
    assert ALICES_FAL_KEY.encode() not in stored
    assert b"alice-key-secret" not in stored
    assert ALICES_FAL_KEY not in text_of(asked) + text_of(status)


async def test_a_client_that_cannot_open_a_page_is_told_where_to_go_and_a_deleted_key_is_gone(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    fake.keys.add(ALICES_FAL_KEY)
    async with server(settings, tmp_path) as url, signed_in(url, ALICE) as alice:
        told = await alice.call_tool("fal_key", {"action": "set"})
        page = re.search(r"Open (\S+) in your browser", text_of(told))
        assert page is not None, text_of(told)
        assert (await enter_on_page(page.group(1), ALICES_FAL_KEY)).status_code == 200
        with_key = await alice.call_tool("generate_video", CLIP)
        deleted = await alice.call_tool("fal_key", {"action": "delete"})
        status = await alice.call_tool("fal_key", {"action": "status"})
        fake.authorizations.clear()
        without = await alice.call_tool("generate_video", {**CLIP, "prompt": "another horse"})
    assert told.is_error
    assert "never in this chat" in text_of(told)
    assert with_key.structured_content is not None
    assert with_key.structured_content["status"] == "completed"
    assert "deleted" in text_of(deleted)
    assert "no fal key of your own" in text_of(status)
    assert without.structured_content is not None
    assert without.structured_content["status"] == "completed"
    assert set(fake.authorizations) == {f"Key {VALID_KEY}"}


async def test_the_page_refuses_an_expired_or_forged_link_and_a_key_that_is_not_one(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    async with server(settings, tmp_path) as url, httpx.AsyncClient(verify=shared_tls()) as http:
        forged = await http.get(f"{url}/keys/not-a-link-this-server-made")
        async with signed_in(url, ALICE) as alice:
            told = await alice.call_tool("fal_key", {"action": "set"})
        page = re.search(r"Open (\S+) in your browser", text_of(told))
        assert page is not None
        junk = await enter_on_page(page.group(1), "hello")
    assert forged.status_code == 410
    assert junk.status_code == 400
    assert "That is not a fal key" in junk.text


async def test_the_tool_is_offered_only_where_users_keys_are_taken(settings: Settings) -> None:
    async with Client(make_server(settings)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "fal_key" not in names


async def link_for(url: str, token: str) -> str:
    async with signed_in(url, token) as person:
        told = await person.call_tool("fal_key", {"action": "set"})
    page = re.search(r"Open (\S+) in your browser", text_of(told))
    assert page is not None, text_of(told)
    return page.group(1)


async def test_a_link_works_once_and_not_after_its_owner_deleted_her_key(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    fake.keys.add(ALICES_FAL_KEY)
    async with server(settings, tmp_path) as url:
        link = await link_for(url, ALICE)
        first = await enter_on_page(link, ALICES_FAL_KEY)
        async with httpx.AsyncClient(verify=shared_tls()) as http:
            again = await http.get(link)
        second_link = await link_for(url, ALICE)
        async with signed_in(url, ALICE) as alice:
            await alice.call_tool("fal_key", {"action": "delete"})
        async with httpx.AsyncClient(verify=shared_tls()) as http:
            after_delete = await http.get(second_link)
    assert first.status_code == 200, first.text
    assert again.status_code == 410, "a link works once"
    assert after_delete.status_code == 410, "a link made before the key was deleted no longer works"


async def test_the_page_names_the_account_it_sets_the_key_for_before_anything_is_typed(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    async with server(settings, tmp_path) as url:
        link = await link_for(url, BOB)
        async with httpx.AsyncClient(verify=shared_tls()) as http:
            page = await http.get(link)
    assert "sets the fal key for <strong>bob</strong>" in page.text


@pytest.mark.parametrize("forgery", ["another site's origin", "no form token", "another browser"])
async def test_a_key_posted_from_another_site_or_without_the_page_s_form_token_is_refused(
    settings: Settings, fake: FakeFal, tmp_path: Path, forgery: str
) -> None:
    # Mallory's link, posted to from elsewhere with Alice's key, must not make Mallory's videos bill Alice's account.
    async with server(settings, tmp_path) as url:
        link = await link_for(url, BOB)
        async with httpx.AsyncClient(verify=shared_tls()) as browser, httpx.AsyncClient(verify=shared_tls()) as other:
            loaded = await browser.get(link)
            data = {"fal_key": ALICES_FAL_KEY, "form_token": form_token(loaded.text)}
            match forgery:
                case "another site's origin":
                    posted = await browser.post(link, data=data, headers={"Origin": "https://evil.example.net"})
                case "no form token":
                    posted = await browser.post(link, data={"fal_key": ALICES_FAL_KEY}, headers={"Origin": url})
                case _:
                    posted = await other.post(link, data=data, headers={"Origin": url})
        async with signed_in(url, BOB) as bob:
            status = await bob.call_tool("fal_key", {"action": "status"})
    assert posted.status_code == 403
    assert "no fal key of your own" in text_of(status)


async def test_the_key_page_checks_the_host_header_as_the_mcp_endpoint_does(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    async with server(settings, tmp_path) as url:
        link = await link_for(url, ALICE)
        async with httpx.AsyncClient(verify=shared_tls()) as http:
            rebound = await http.get(link, headers={"Host": "evil.example.net"})
            own = await http.get(link)
    assert rebound.status_code == 421
    assert own.status_code == 200


@pytest.mark.parametrize("key", ["alice-key-id:alicé-secret-0123456789", "alice-key-id:alice secret 0123456789"])
async def test_a_key_with_characters_no_key_has_is_refused_on_the_page_as_fal_key_is(
    settings: Settings, fake: FakeFal, tmp_path: Path, key: str
) -> None:
    async with server(settings, tmp_path) as url:
        refused = await enter_on_page(await link_for(url, ALICE), key)
        async with signed_in(url, ALICE) as alice:
            status = await alice.call_tool("fal_key", {"action": "status"})
    assert refused.status_code == 400
    assert "characters a key never has" in refused.text
    assert "no fal key of your own" in text_of(status)
