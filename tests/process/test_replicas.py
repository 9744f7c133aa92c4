"""Server replicas over HTTP (`--stateless`) on one PostgreSQL: any client on any replica, global jobs, keys and
budget, and a killed replica's jobs completed by another with one submit each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from ..fakefal import VALID_KEY, FakeFal
from ..prices import usd
from ..support import free_port, http_server_process, postgres_schema, shared_tls

pytestmark = [pytest.mark.postgres, pytest.mark.anyio, pytest.mark.real_sockets]

TOKEN = "replica-token"


@contextmanager
def replica(
    fal_url: str, database_url: str, tmp_path: Path, name: str, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A replica's process; `settings` are environment variables set (or, empty, unset) for it."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "FAL_KEY": VALID_KEY,
        "HAPPYHORSE_FAL_QUEUE_URL": fal_url,
        "HAPPYHORSE_FAL_REST_URL": fal_url,
        "HAPPYHORSE_FAL_CDN_URL": fal_url,
        "HAPPYHORSE_DATA_DIR": str(tmp_path / name),
        "HAPPYHORSE_DATABASE_URL": database_url,
        "HAPPYHORSE_HTTP_TOKEN": TOKEN,
        "HAPPYHORSE_LEASE_SECONDS": "1",
        "HAPPYHORSE_DAILY_BUDGET_USD": str(usd(duration=15)),  # after a 5 s clip, a 5 s and a 10 s one do not both fit
        "HAPPYHORSE_CONFIRM_ABOVE_USD": "100",
    }
    env = {name: value for name, value in {**env, **settings}.items() if value}
    command = [sys.executable, "-m", "happyhorse_mcp", "--transport", "http", "--stateless", "--port", str(port)]
    with http_server_process(command, env, tmp_path / f"{name}.log") as server:
        yield f"http://127.0.0.1:{port}/mcp", server


@asynccontextmanager
async def client(url: str, mode: str = "legacy", token: str = TOKEN) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(verify=shared_tls(), headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as connected,
    ):
        yield connected


async def test_replicas_share_jobs_keys_and_budget_and_finish_the_jobs_of_a_killed_one(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    fake.hold = True
    async with postgres_schema() as database_url, AsyncExitStack() as stack:
        (a_url, a_process), (b_url, _), (c_url, _) = [
            stack.enter_context(replica(fal_url, database_url, tmp_path, name)) for name in "abc"
        ]
        a, b, c = [await stack.enter_async_context(client(url)) for url in (a_url, b_url, c_url)]
        listener = await stack.enter_async_context(client(c_url, mode="2026-07-28"))

        call = {"prompt": "a horse", "wait_seconds": 0, "idempotency_key": "shared"}
        on_a = (await a.call_tool("generate_video", call)).structured_content
        on_b = (await b.call_tool("generate_video", call)).structured_content
        assert on_a is not None
        assert on_b is not None
        assert on_b["job_id"] == on_a["job_id"], "one key, one job, on any replica"
        read_on_c = await c.call_tool("get_job", {"job_id": on_a["job_id"]})
        assert read_on_c.structured_content is not None
        assert read_on_c.structured_content["status"] in ("queued", "running")
        # A listener on C (stateless replicas serve 2026-07-28's subscriptions/listen) hears of a job A follows.
        on_c = await stack.enter_async_context(listener.listen(resource_subscriptions=[on_a["resource_uri"]]))
        fake.start(fake.submits[0].request_id)  # A records it running
        with anyio.fail_after(10):
            event = await on_c.__anext__()
        assert getattr(event, "uri", None) == on_a["resource_uri"], "a listener hears of a job another replica follows"

        results: list[Any] = []

        async def spend(replica_client: Client, duration: int) -> None:
            arguments = {"prompt": "x", "duration": duration, "wait_seconds": 0}
            results.append(await replica_client.call_tool("generate_video", arguments))

        async with anyio.create_task_group() as tg:  # a 5 s and a 10 s clip at once: the 10 s one's price is left
            tg.start_soon(spend, a, 5)
            tg.start_soon(spend, b, 10)
        admitted = [r.structured_content for r in results if not r.is_error]
        assert len(admitted) == 1, "the replicas together never pass the daily budget"

        a_process.send_signal(signal.SIGKILL)
        a_process.wait()
        for job in fake.submits:
            fake.complete(job.request_id)
        with anyio.fail_after(30):
            for job_id in {on_a["job_id"], *(job["job_id"] for job in admitted)}:
                final = await c.call_tool("get_job", {"job_id": job_id, "wait_seconds": 20})
                assert final.structured_content is not None
                assert final.structured_content["status"] == "completed"
        assert len(fake.submits) == 2, "each job submitted once"
        assert fake.calls("result") == 2, "each job followed to its result by one replica"
        listed = await b.call_tool("list_jobs", {})
        assert listed.structured_content is not None
        assert listed.structured_content["count"] == 2


ALICE, BOB = "alice-replica-token-0123456789", "bob-replica-token-0123456789"


async def test_two_users_on_three_replicas_see_only_their_own_jobs_and_neither_budget_is_overspent(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    fake.hold = True  # every admitted job stays running: all of it is committed
    clip = usd(duration=5)
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice {ALICE}\nbob {BOB}\n")
    team = {
        "HAPPYHORSE_HTTP_TOKEN": "",
        "HAPPYHORSE_HTTP_TOKENS_FILE": str(tokens),
        "HAPPYHORSE_USER_DAILY_BUDGET_USD": str(round(3 * clip, 2)),  # three clips each
        "HAPPYHORSE_DAILY_BUDGET_USD": str(round(5 * clip, 2)),  # five clips for both
    }
    async with postgres_schema() as database_url, AsyncExitStack() as stack:
        urls = [stack.enter_context(replica(fal_url, database_url, tmp_path, name, **team))[0] for name in "abc"]
        sessions = {
            (user, url): await stack.enter_async_context(client(url, token=token))
            for user, token in (("alice", ALICE), ("bob", BOB))
            for url in urls
        }
        admitted: dict[str, list[str]] = {"alice": [], "bob": []}
        refused: list[str] = []

        async def make(user: str, url: str) -> None:
            made = await sessions[user, url].call_tool("generate_video", {"prompt": user, "wait_seconds": 0})
            if made.is_error:
                refused.append(" ".join(getattr(c, "text", "") for c in made.content))
            else:
                assert made.structured_content is not None
                admitted[user].append(made.structured_content["job_id"])

        async with anyio.create_task_group() as tg:  # six calls each, two on every replica, all at once
            for user in ("alice", "bob"):
                for url in urls * 2:
                    tg.start_soon(make, user, url)

        alices_job = admitted["alice"][0]
        seen_by_bob = await sessions["bob", urls[2]].call_tool("get_job", {"job_id": alices_job})
        bobs_list = await sessions["bob", urls[1]].call_tool("list_jobs", {})

    assert len(admitted["alice"]) <= 3, "alice's own budget held"
    assert len(admitted["bob"]) <= 3, "bob's own budget held"
    assert len(admitted["alice"]) + len(admitted["bob"]) == 5, "the deployment's budget filled exactly"
    assert len(fake.submits) == 5
    assert all("budget" in reason for reason in refused)
    assert f"No job '{alices_job}' on this server" in " ".join(getattr(c, "text", "") for c in seen_by_bob.content)
    assert bobs_list.structured_content is not None
    assert {job["job_id"] for job in bobs_list.structured_content["jobs"]} == set(admitted["bob"])


async def test_a_film_whose_replica_is_killed_is_finished_by_another_and_any_replica_serves_and_reviews_it(
    fake: FakeFal, fal_url: str, tmp_path: Path
) -> None:
    fake.hold = True
    fake.real_clips = True
    shots = [{"prompt": "a mare at the water", "duration": 3}, {"prompt": "gulls over the waves", "duration": 3}]
    film = {"shots": shots, "resolution": "720p", "transition": "cut", "wait_seconds": 0}
    async with postgres_schema() as database_url, AsyncExitStack() as stack:
        (a_url, a_process), _, (c_url, _) = [
            stack.enter_context(replica(fal_url, database_url, tmp_path, name)) for name in "abc"
        ]
        a, c = [await stack.enter_async_context(client(url)) for url in (a_url, c_url)]
        started = (await a.call_tool("make_film", film)).structured_content
        assert started is not None
        with anyio.fail_after(30):
            while len(fake.submits) < 2:  # both shots wait on nothing: submitted at once, by A
                await c.call_tool("get_job", {"job_id": started["job_id"], "wait_seconds": 1})
        a_process.send_signal(signal.SIGKILL)
        a_process.wait()
        for job in fake.submits:
            fake.complete(job.request_id)
        with anyio.fail_after(60):
            final = await c.call_tool("get_job", {"job_id": started["job_id"], "wait_seconds": 50})
            while final.structured_content is not None and final.structured_content["status"] != "completed":
                final = await c.call_tool("get_job", {"job_id": started["job_id"], "wait_seconds": 50})
        made = final.structured_content
        assert made is not None
        # B or C finished it; whichever it was, C serves and reviews it from fal's storage, where it was uploaded.
        video = await c.read_resource(f"happyhorse://jobs/{made['job_id']}/video")
        reviewed = await c.call_tool("review_video", {"job_id": made["job_id"]})
    assert len(fake.submits) == 2, "no shot submitted twice"
    assert made["video"]["url"].startswith(fal_url)
    assert abs(made["video"]["duration"] - 6) <= 1 / 24
    assert video.contents
    assert reviewed.structured_content is not None
    assert reviewed.structured_content["joins"][0]["clean"]
