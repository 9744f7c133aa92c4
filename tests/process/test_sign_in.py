"""Many people on one server, each signed in with a named token (HAPPYHORSE_HTTP_TOKENS_FILE): everyone sees,
waits on, cancels and spends on their own jobs only, and another user's job id answers exactly as an unknown one."""

from __future__ import annotations

import dataclasses
import hashlib
import json
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

from happyhorse_mcp.config import Settings
from happyhorse_mcp.config.tokens_file import read_tokens_file
from happyhorse_mcp.domain.budget import SpendLimits
from happyhorse_mcp.transport.http import HttpOptions, build_app

from .. import media_factory
from ..fakefal import FakeFal, serve_app
from ..prices import CLIP_USD, dollars
from ..support import free_port, make_server, shared_tls, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.real_sockets]

ALICE, BOB, READER = "alice-token-0123456789abcdef", "bob-token-0123456789abcdef", "reader-token-0123456789abcdef"
CLIP = {"prompt": "a horse", "duration": 5, "wait_seconds": 0}


def tokens_file(folder: Path) -> Path:
    path = folder / "tokens"
    reader_digest = hashlib.sha256(READER.encode()).hexdigest()
    path.write_text(f"# team\nalice {ALICE}\nbob   {BOB}\n\nreader sha256:{reader_digest} happyhorse:read\n")
    return path


@asynccontextmanager
async def team_server(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    tokens = read_tokens_file("HAPPYHORSE_HTTP_TOKENS_FILE", str(tokens_file(tmp_path)))
    options = HttpOptions(host="127.0.0.1", port=port, tokens=tokens)
    async with serve_app(build_app(make_server(settings, options.serving), options), port, lifespan=True) as url:
        yield url


@asynccontextmanager
async def signed_in(url: str, token: str, mode: str = "legacy") -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(verify=shared_tls(), headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


def _error_text(result: Any) -> str:
    assert result.is_error, result
    return text_of(result).replace("hh_", "").split("'")[0]  # the message up to the job id it names


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_another_user_s_job_answers_as_an_unknown_one_by_every_path(
    settings: Settings, fake: FakeFal, tmp_path: Path, mode: str
) -> None:
    fake.hold = True
    async with team_server(settings, tmp_path) as url:
        async with signed_in(url, ALICE, mode) as alice:
            made = await alice.call_tool("generate_video", CLIP)
            assert made.structured_content is not None, text_of(made)
            job_id = made.structured_content["job_id"]
            assert (await alice.call_tool("get_job", {"job_id": job_id})).structured_content is not None
        async with signed_in(url, BOB, mode) as bob:
            theirs = {
                "get_job": await bob.call_tool("get_job", {"job_id": job_id}),
                "cancel_job": await bob.call_tool("cancel_job", {"job_id": job_id}),
                "review_video": await bob.call_tool("review_video", {"job_id": job_id}),
            }
            unknown = await bob.call_tool("get_job", {"job_id": "hh_0000000000000000"})
            listed = await bob.call_tool("list_jobs", {})
            resources = [str(r.uri) for r in (await bob.list_resources()).resources]
            with pytest.raises(Exception) as read:  # noqa: PT011  # the SDK's error type differs by era
                await bob.read_resource(f"happyhorse://jobs/{job_id}")
    for tool, result in theirs.items():
        assert result.is_error, tool
        assert f"No job '{job_id}' on this server" in text_of(result), tool
    assert text_of(unknown).replace("hh_0000000000000000", job_id) == text_of(theirs["get_job"])
    assert listed.structured_content == {"jobs": [], "count": 0}
    assert not any(job_id in uri for uri in resources)
    assert job_id in str(read.value)
    assert fake.calls("cancel") == 0, "bob's cancel reached fal"
    assert len(fake.submits) == 1


async def test_one_idempotency_key_of_two_users_is_two_jobs_and_each_sees_only_their_spend(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    async with team_server(settings, tmp_path) as url, signed_in(url, ALICE) as alice, signed_in(url, BOB) as bob:
        a = await alice.call_tool("generate_video", {**CLIP, "idempotency_key": "shot-1"})
        b = await bob.call_tool("generate_video", {**CLIP, "idempotency_key": "shot-1"})
        again = await alice.call_tool("generate_video", {**CLIP, "idempotency_key": "shot-1"})
        spend_a = (await alice.read_resource("happyhorse://spend")).contents[0]
        listed_b = await bob.call_tool("list_jobs", {})
    assert a.structured_content is not None
    assert b.structured_content is not None
    assert again.structured_content
    assert a.structured_content["job_id"] != b.structured_content["job_id"]
    assert again.structured_content["job_id"] == a.structured_content["job_id"]
    assert len(fake.submits) == 2
    assert f'"today_usd": {CLIP_USD}' in getattr(spend_a, "text", "")
    assert listed_b.structured_content is not None
    assert [j["job_id"] for j in listed_b.structured_content["jobs"]] == [b.structured_content["job_id"]]


async def test_each_user_s_daily_budget_holds_while_others_still_spend(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    limits = SpendLimits(user_daily_budget_usd=CLIP_USD, confirm_above_usd=100)
    async with (
        team_server(dataclasses.replace(settings, limits=limits), tmp_path) as url,
        signed_in(url, ALICE) as alice,
        signed_in(url, BOB) as bob,
    ):
        first = await alice.call_tool("generate_video", CLIP)
        second = await alice.call_tool("generate_video", CLIP)
        bobs = await bob.call_tool("generate_video", CLIP)
    assert not first.is_error
    assert not bobs.is_error
    assert second.is_error
    assert f"only {dollars(0)} of your daily budget of {dollars(CLIP_USD)} is left" in text_of(second)
    assert "HAPPYHORSE_USER_DAILY_BUDGET_USD" in text_of(second)
    assert len(fake.submits) == 2


async def test_a_read_only_user_reads_and_estimates_is_offered_no_spending_tool_and_is_told_to_ask_the_operator(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    async with team_server(settings, tmp_path) as url:
        async with signed_in(url, READER) as reader:
            estimate = await reader.call_tool("estimate_cost", {"operation": "text-to-video"})
            listed = await reader.call_tool("list_jobs", {})
            offered = {tool.name for tool in (await reader.list_tools()).tools}
            refused = await reader.call_tool("generate_video", CLIP)
            film = await reader.call_tool("make_film", {"shots": [CLIP, CLIP]})
        async with signed_in(url, ALICE) as alice:
            offered_to_alice = {tool.name for tool in (await alice.list_tools()).tools}
    assert not estimate.is_error
    assert not listed.is_error
    assert {"estimate_cost", "list_jobs", "get_job"} <= offered
    assert not offered & {"generate_video", "image_to_video", "make_film", "extend_video", "edit_video"}
    assert {"generate_video", "make_film"} <= offered_to_alice
    for answer in (refused, film):
        # A named token cannot be widened by signing in again: a tool error that says whom to ask, not an HTTP 403.
        assert answer.is_error
        assert "lacks the scope happyhorse:generate" in text_of(answer)
        assert "ask the server's operator for happyhorse:generate" in text_of(answer)
        assert "Nothing was submitted or billed" in text_of(answer)
    assert fake.requests == []


@pytest.mark.parametrize(
    "authorization", [None, "Bearer not-a-token-of-anyone-here", f"Basic {ALICE}", "Bearer"], ids=str
)
async def test_a_request_without_a_known_token_is_refused_with_401_and_a_bearer_challenge(
    settings: Settings, fake: FakeFal, tmp_path: Path, authorization: str | None
) -> None:
    headers = {"Accept": "application/json, text/event-stream"}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with team_server(settings, tmp_path) as url, httpx.AsyncClient(verify=shared_tls()) as http:
        answer = await http.post(f"{url}/mcp", headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        slashed = await http.post(f"{url}/mcp/", headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        health = await http.get(f"{url}/healthz")
        metadata = await http.get(f"{url}/.well-known/oauth-protected-resource")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert slashed.status_code == 401, "no other spelling of the endpoint gets past the door"
    assert health.status_code == 200
    assert metadata.status_code == 404, "named tokens advertise no OAuth: clients would start an OAuth flow"


async def test_each_user_has_a_folder_of_their_own_and_cannot_read_or_write_another_s(
    settings: Settings, fake: FakeFal, tmp_path: Path, allowed: Path
) -> None:
    shared = dataclasses.replace(settings, allowed_dirs=(allowed,))
    async with team_server(shared, tmp_path) as url:
        async with signed_in(url, ALICE) as alice:
            saved = await alice.call_tool("generate_video", {**CLIP, "wait_seconds": 30, "save_to": "first.mp4"})
        alices = allowed / "users" / "alice"
        picture = media_factory.image(alices / "secret.png")
        async with signed_in(url, BOB) as bob:
            read = await bob.call_tool("image_to_video", {"image_url": str(picture), "prompt": "x", "wait_seconds": 0})
            write = await bob.call_tool("generate_video", {**CLIP, "save_to": str(alices / "planted.mp4")})
    assert saved.structured_content is not None, text_of(saved)
    assert saved.structured_content["local_file"]["path"] == str(alices / "first.mp4")
    assert read.is_error
    assert "allowed folder" in text_of(read)
    assert write.is_error
    assert "allowed folder" in text_of(write)
    assert not (alices / "planted.mp4").exists()
    assert len(fake.submits) == 1, "only alice's job was sent"


async def test_a_signed_in_person_s_film_is_shown_by_its_resource_and_url_never_by_the_server_s_path(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    fake.real_clips = True
    short = {"prompt": "a horse", "duration": 3}
    async with team_server(settings, tmp_path) as url, signed_in(url, ALICE) as alice:
        made = await alice.call_tool("make_film", {"shots": [short, short], "wait_seconds": 120, "max_cost_usd": 5})
        listed = await alice.call_tool("list_jobs", {})
        assert made.structured_content is not None, text_of(made)
        job_id = made.structured_content["job_id"]
        resource = await alice.read_resource(f"happyhorse://jobs/{job_id}")
        video = await alice.read_resource(f"happyhorse://jobs/{job_id}/video")
    assert made.structured_content["status"] == "completed", text_of(made)
    data_dir = str(settings.data_dir)
    shown = [text_of(made), json.dumps(made.structured_content), json.dumps(listed.structured_content)]
    shown += [getattr(part, "text", "") for part in resource.contents]
    assert not [said for said in shown if data_dir in said], "the server's own path reached a remote caller"
    assert made.structured_content["local_file"] is None
    assert made.structured_content["video"]["url"].startswith("http")
    assert video.contents, "the film's bytes are served as its video resource"


async def test_a_person_s_folder_under_an_allowed_folder_not_made_yet_is_made_on_first_use(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    missing = tmp_path / "not-yet" / "videos"
    shared = dataclasses.replace(settings, allowed_dirs=(missing,))
    async with team_server(shared, tmp_path) as url, signed_in(url, ALICE) as alice:
        saved = await alice.call_tool("generate_video", {**CLIP, "wait_seconds": 30, "save_to": "first.mp4"})
    assert not saved.is_error, text_of(saved)
    assert (missing / "users" / "alice" / "first.mp4").is_file()


class RawSession:
    """A 2025-11-25 session spoken as raw JSON-RPC over Streamable HTTP, for methods the SDK client wraps away."""

    def __init__(self, http: httpx.AsyncClient, url: str, token: str) -> None:
        self.http, self.url, self.number = http, f"{url}/mcp", 0
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}

    async def open(self) -> RawSession:
        hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
        answer = await self.http.post(self.url, headers=self.headers, json=self._message("initialize", hello))
        self.headers |= {"Mcp-Session-Id": answer.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-11-25"}
        await self.http.post(
            self.url, headers=self.headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
        )
        return self

    async def ask(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        answer = await self.http.post(self.url, headers=self.headers, json=self._message(method, params))
        data = [line[6:] for line in answer.text.splitlines() if line.startswith("data: ")] or [answer.text]
        return json.loads(data[-1])  # type: ignore[no-any-return]

    def _message(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.number += 1
        return {"jsonrpc": "2.0", "id": self.number, "method": method, "params": params}


async def test_another_user_s_task_and_job_resource_are_neither_read_cancelled_listed_nor_subscribed_to(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    fake.hold = True
    async with team_server(settings, tmp_path) as url, httpx.AsyncClient(verify=shared_tls(), timeout=30) as http:
        alice = await RawSession(http, url, ALICE).open()
        bob = await RawSession(http, url, BOB).open()
        started = await alice.ask("tools/call", {"name": "generate_video", "arguments": CLIP, "task": {"ttl": 60000}})
        task_id = started["result"]["task"]["taskId"]
        mine = await alice.ask("tasks/get", {"taskId": task_id})
        answers = {
            "tasks/get": await bob.ask("tasks/get", {"taskId": task_id}),
            "tasks/cancel": await bob.ask("tasks/cancel", {"taskId": task_id}),
            "resources/subscribe": await bob.ask("resources/subscribe", {"uri": f"happyhorse://jobs/{task_id}"}),
        }
        listed = await bob.ask("tasks/list", {})
        unknown = await bob.ask("tasks/get", {"taskId": "hh_0000000000000000"})
    assert mine["result"]["taskId"] == task_id
    for method, answer in answers.items():
        assert "error" in answer, method
    assert answers["tasks/get"]["error"]["message"].replace(task_id, "X") == unknown["error"]["message"].replace(
        "hh_0000000000000000", "X"
    )
    assert listed["result"]["tasks"] == []
    assert fake.calls("cancel") == 0


async def test_a_listener_of_the_2026_07_28_era_follows_only_its_own_jobs(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    fake.hold = True
    async with (
        team_server(settings, tmp_path) as url,
        signed_in(url, ALICE, "2026-07-28") as alice,
        signed_in(url, BOB, "2026-07-28") as bob,
    ):
        alices = await alice.call_tool("generate_video", CLIP)
        bobs = await bob.call_tool("generate_video", CLIP)
        assert alices.structured_content is not None
        assert bobs.structured_content is not None
        theirs, mine = alices.structured_content["resource_uri"], bobs.structured_content["resource_uri"]
        unknown = "happyhorse://jobs/hh_0000000000000000"
        async with bob.listen(resource_subscriptions=[theirs, unknown, mine]) as listening:
            for job in fake.submits:
                fake.complete(job.request_id)
            with anyio.fail_after(10):
                event = await listening.__anext__()
    assert listening.honored.resource_subscriptions == [mine], "another's job is left out as an unknown one is"
    assert getattr(event, "uri", None) == mine


async def test_a_session_opened_by_one_user_cannot_be_used_with_another_s_token(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    async with team_server(settings, tmp_path) as url, httpx.AsyncClient(verify=shared_tls(), timeout=30) as http:
        alice = await RawSession(http, url, ALICE).open()
        borrowed = {**alice.headers, "Authorization": f"Bearer {BOB}"}
        answer = await http.post(
            f"{url}/mcp",
            headers=borrowed,
            json={"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "list_jobs", "arguments": {}}},
        )
        still_hers = await alice.ask("tools/call", {"name": "list_jobs", "arguments": {}})
    assert answer.status_code in (403, 404), answer.text
    assert "result" in still_hers


@pytest.mark.parametrize("token", [READER, ALICE], ids=["reader", "spender"])
async def test_deeply_nested_json_gets_400_and_one_log_line_never_a_500(
    settings: Settings, fake: FakeFal, tmp_path: Path, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    async with team_server(settings, tmp_path) as url, httpx.AsyncClient(verify=shared_tls()) as http:
        answer = await http.post(f"{url}/mcp", headers=headers, content=nested)
        still = await http.get(f"{url}/healthz")
    assert answer.status_code == 400, answer.text
    assert still.status_code == 200
    assert not [record for record in caplog.records if record.exc_info], "no traceback in the log"


async def test_one_user_from_many_addresses_holds_only_their_share_of_sessions_and_others_still_get_in(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    # One named token from seven addresses filled the server's sessions when a client was a token from one address.
    port = free_port()
    tokens = read_tokens_file("HAPPYHORSE_HTTP_TOKENS_FILE", str(tokens_file(tmp_path)))
    options = HttpOptions(host="127.0.0.1", port=port, tokens=tokens, sessions_per_client=3, max_sessions=8)
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "hog", "version": "1"}},
    }
    headers = {"Authorization": f"Bearer {READER}", "Accept": "application/json, text/event-stream"}
    async with serve_app(build_app(make_server(settings, options.serving), options), port, lifespan=True) as url:
        opened = []
        for address in range(2, 9):
            transport = httpx.AsyncHTTPTransport(verify=shared_tls(), local_address=f"127.0.0.{address}")
            async with httpx.AsyncClient(transport=transport, headers=headers) as hog:
                opened += [(await hog.post(f"{url}/mcp", json=hello)).status_code for _ in range(3)]
        async with signed_in(url, ALICE) as alice:
            listed = await alice.call_tool("list_jobs", {})
    assert set(opened) == {200}, "the user's least recently used session makes room for their next"
    assert not listed.is_error, "another user still gets in"


async def test_a_tools_list_that_varies_by_caller_is_marked_private_for_2026_07_28_caches(
    settings: Settings, fake: FakeFal, tmp_path: Path
) -> None:
    # The list differs by who asks (no spending tool without happyhorse:generate): no cache may share it between
    # authorizations.
    async with team_server(settings, tmp_path) as url, signed_in(url, READER, mode="2026-07-28") as reader:
        listed = await reader.list_tools()
    assert listed.cache_scope == "private"
    assert "generate_video" not in {tool.name for tool in listed.tools}
