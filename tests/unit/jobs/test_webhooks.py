"""Webhook-first completion: a job's end comes from fal's signed post, not from a status stream held open per job;
whatever goes wrong with the posts (spoiled, repeated, late, never, at another replica) changes nothing but latency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from happyhorse_mcp.domain.catalog import TEXT_TO_VIDEO, Operation
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.jobs.drafts import JobDraft
from happyhorse_mcp.jobs.follow import FollowPolicy
from happyhorse_mcp.jobs.store.memory import MemoryJobStore
from happyhorse_mcp.jobs.store.sqlite import SqliteJobStore

from ...fakefal import FakeFal, Fault
from ...fakefal.webhooks import event_body
from ...support import WEBHOOK_BASE, InProcessTransport, Rig, runner_rig

pytestmark = pytest.mark.anyio

ENDPOINT = TEXT_TO_VIDEO.endpoints["1.0"]
# A backstop that never fires within a test: only the webhook can end the job.
NO_BACKSTOP = FollowPolicy(poll_interval=0.01, max_interval=0.02, store_retry=0.01, backstop_seconds=3600)


@pytest.fixture
async def rig(fake: FakeFal) -> AsyncIterator[Rig]:
    async with runner_rig(fake, MemoryJobStore(), policy=NO_BACKSTOP, webhooks=True) as made:
        yield made


async def submit(rig: Rig, prompt: str = "a foal") -> Job:
    return await rig.runner.submit(JobDraft(Operation.TEXT_TO_VIDEO, ENDPOINT, {"prompt": prompt}, 1.4))


async def finished(rig: Rig, job: Job) -> Job:
    with anyio.fail_after(10):
        return await rig.runner.wait(job.job_id, 30)


async def post(rig: Rig, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=InProcessTransport(rig.receiver, rig.tg), base_url=WEBHOOK_BASE) as client:
        return await client.post(path, content=body, headers=headers)


async def test_a_job_ends_by_fal_s_signed_post_without_a_status_stream_or_a_result_fetch(
    rig: Rig, fake: FakeFal
) -> None:
    job = await submit(rig)

    done = await finished(rig, job)

    assert (done.status, done.cost_usd, done.video is not None) == ("completed", 1.4, True)
    submitted = fake.submits[0]
    assert submitted.webhook_url == f"{WEBHOOK_BASE}/fal/webhook/{job.webhook_token}"
    assert done.webhook is not None
    assert done.webhook.ok
    assert [route for route, _ in fake.requests] == ["submit"], "one request to fal for the whole job"


async def test_the_webhook_url_holds_nothing_secret_but_the_job_s_own_token(rig: Rig, fake: FakeFal) -> None:
    job = await submit(rig)
    await finished(rig, job)

    url = fake.submits[0].webhook_url or ""
    token = url.rsplit("/", 1)[1]
    assert url.startswith(f"{WEBHOOK_BASE}/fal/webhook/")
    assert "?" not in url
    assert token.startswith(f"{job.job_id}.")
    assert len(token.split(".", 1)[1]) >= 32
    assert (await submit(rig, "another")).webhook_token != job.webhook_token


async def test_a_delivery_repeated_by_fal_changes_nothing(rig: Rig, fake: FakeFal) -> None:
    fake.webhooks.duplicates = 2
    job = await submit(rig)
    done = await finished(rig, job)
    await fake.webhooks.until_taken(done.request_id or "", 3)

    again = await rig.runner.get(job.job_id)
    assert again.version == done.version
    assert again.status == "completed"
    assert fake.webhooks.taken(done.request_id or "") == 3, "each repeat answered 200, so fal stops"


async def test_a_spoiled_or_misplaced_delivery_is_refused_and_the_job_still_ends_by_the_real_one(
    rig: Rig, fake: FakeFal
) -> None:
    fake.hold = True
    job = await submit(rig)
    assert job.request_id is not None
    path = f"/fal/webhook/{job.webhook_token}"
    signer = fake.webhooks.signer
    good = event_body(job.request_id, 200, {"video": {"url": "https://v3.fal.media/files/forged.mp4"}})

    tampered = good.replace(b"forged", b"evil")
    assert (await post(rig, path, tampered, signer.headers(job.request_id, good))).status_code == 401
    assert (
        await post(rig, "/fal/webhook/hh_nosuchjob.secret", good, signer.headers(job.request_id, good))
    ).status_code == 404
    wrong_secret = f"/fal/webhook/{job.job_id}.not-its-secret"
    assert (await post(rig, wrong_secret, good, signer.headers(job.request_id, good))).status_code == 404
    another = event_body("another-request", 200, {"video": {"url": "https://v3.fal.media/x.mp4"}})
    assert (await post(rig, path, another, signer.headers("another-request", another))).status_code == 400
    assert (await rig.runner.get(job.job_id)).status == "queued", "nothing refused touched the job"

    fake.complete(job.request_id)
    done = await finished(rig, job)
    assert done.status == "completed"
    assert "forged" not in (done.video.url if done.video else "")


async def test_a_post_without_the_output_is_followed_by_one_fetch_of_the_result(rig: Rig, fake: FakeFal) -> None:
    fake.webhooks.payload_error = True
    job = await submit(rig)

    done = await finished(rig, job)

    assert done.status == "completed"
    assert done.video is not None
    assert done.webhook is not None
    assert done.webhook.payload_error
    assert fake.calls("result") == 1


async def test_fal_s_post_of_a_422_fails_the_job_without_a_second_fetch(rig: Rig, fake: FakeFal) -> None:
    fake.outcomes = ["content_policy"]
    job = await submit(rig)

    done = await finished(rig, job)

    assert done.status == "failed"
    assert done.error is not None
    assert done.error.type == "content_policy_violation"
    assert (fake.calls("result"), fake.calls("status"), fake.calls("stream")) == (0, 0, 0)


async def test_a_job_cancelled_while_queued_ends_cancelled_by_fal_s_post(rig: Rig, fake: FakeFal) -> None:
    fake.hold = True
    job = await submit(rig)

    await rig.runner.cancel(job.job_id)
    done = await finished(rig, job)

    assert (done.status, done.cost_usd) == ("cancelled", 0.0)


async def test_a_receiver_down_for_three_deliveries_is_completed_by_a_later_one(rig: Rig, fake: FakeFal) -> None:
    refused = 0
    receiver = rig.receiver

    async def down_at_first(scope: Any, receive: Any, send: Any) -> None:
        nonlocal refused
        if refused < 3:
            refused += 1
            await httpx_response(send, 503)
            return
        await receiver(scope, receive, send)

    fake.webhooks.client = lambda: httpx.AsyncClient(transport=InProcessTransport(down_at_first, rig.tg))
    job = await submit(rig)

    done = await finished(rig, job)

    assert done.status == "completed"
    assert [outcome for _, outcome in fake.webhooks.attempts] == [503, 503, 503, 200]


async def test_a_webhook_that_never_comes_costs_only_latency_the_status_is_read_as_a_backstop(
    fake: FakeFal,
) -> None:
    backstop = FollowPolicy(poll_interval=0.01, max_interval=0.02, store_retry=0.01, backstop_seconds=0.05)
    async with runner_rig(fake, MemoryJobStore(), policy=backstop, webhooks=True) as rig:
        fake.webhooks.client = lambda: httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(502)))
        job = await submit(rig)
        done = await finished(rig, job)
    assert done.status == "completed"
    assert done.webhook is None
    assert fake.calls("stream") == 0
    assert fake.calls("status") >= 1
    assert fake.calls("result") == 1


async def test_a_webhook_reaching_a_replica_that_does_not_follow_the_job_ends_it_on_the_one_that_does(
    fake: FakeFal, tmp_path: Path
) -> None:
    path = tmp_path / "jobs.sqlite3"
    store_a, store_b = SqliteJobStore(path), SqliteJobStore(path)
    fake.hold = True
    async with (
        runner_rig(fake, store_a, policy=NO_BACKSTOP, webhooks=True) as a,
        runner_rig(fake, store_b, policy=NO_BACKSTOP, webhooks=True) as b,
    ):
        fake.attach(a.tg)
        await b.runner.resume()
        job = await submit(a)  # followed by A
        # fal's posts reach B, the replica the load balancer picked
        fake.webhooks.client = lambda: httpx.AsyncClient(transport=InProcessTransport(b.receiver, b.tg))
        assert job.request_id is not None
        assert b.runner.live.get(job.job_id) is None
        fake.complete(job.request_id)
        done = await finished(a, job)
    assert done.status == "completed"
    assert done.webhook is not None
    assert [route for route, _ in fake.requests] == ["submit"]
    await store_a.close()
    await store_b.close()


async def test_a_job_whose_submit_answer_was_lost_is_settled_by_fal_s_post(rig: Rig, fake: FakeFal) -> None:
    fake.fail_next("submit", Fault(kind="reset", accept=True))
    job = await submit(rig)
    assert (job.status, job.request_id) == ("unknown", None)

    await fake.webhooks.until_taken(fake.submits[0].request_id)  # taken once the job is reopened
    settled = await finished(rig, job)

    assert settled.request_id == fake.submits[0].request_id
    assert settled.video is not None
    assert settled.error is None
    assert settled.cost_usd == 1.4
    assert len(fake.submits) == 1, "never submitted twice"


async def httpx_response(send: Any, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})
