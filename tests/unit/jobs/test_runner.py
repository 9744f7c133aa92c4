"""The job runner on the in-memory store, against the fake fal in-process: submit once, follow to the end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import pytest
from anyio.abc import TaskGroup
from pydantic import SecretStr

from happyhorse_mcp.domain.budget import SpendLimits
from happyhorse_mcp.domain.catalog import TEXT_TO_VIDEO, Operation
from happyhorse_mcp.domain.errors import BudgetExceededError, IdempotencyConflictError, UnknownJobError
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.fal.queue import FalQueue, default_http_client
from happyhorse_mcp.jobs.runner import JobRunner
from happyhorse_mcp.jobs.spend import SpendGuard
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

from ...fakefal import VALID_KEY, FakeFal
from ...support import NO_BACKOFF, InProcessTransport

pytestmark = pytest.mark.anyio

ENDPOINT = TEXT_TO_VIDEO.endpoints["1.0"]


@dataclass
class Rig:
    runner: JobRunner
    store: MemoryJobStore
    fake: FakeFal
    fal: FalQueue
    guard: SpendGuard
    tg: TaskGroup


@pytest.fixture
async def rig(fake: FakeFal) -> AsyncIterator[Rig]:
    store = MemoryJobStore()
    async with anyio.create_task_group() as tg:
        async with default_http_client(InProcessTransport(fake.app, tg)) as http:
            fal = FalQueue(http, queue_url="http://fal.test", key=SecretStr(VALID_KEY), retry=NO_BACKOFF)
            guard = SpendGuard(store, SpendLimits(daily_budget_usd=3.0))
            yield Rig(JobRunner(fal, store, guard, tg, poll_interval=0.01), store, fake, fal, guard, tg)
        tg.cancel_scope.cancel()


async def submit(rig: Rig, prompt: str = "a foal", cost: float = 1.4, key: str | None = None) -> Job:
    return await rig.runner.submit(Operation.TEXT_TO_VIDEO, ENDPOINT, {"prompt": prompt}, cost, idempotency_key=key)


async def test_a_submitted_job_is_followed_to_its_result_and_stored(rig: Rig) -> None:
    job = await submit(rig)
    assert job.request_id is not None
    with anyio.fail_after(5):
        done = await rig.runner.wait(job.job_id, 30)
    assert (done.status, done.cost_usd) == ("completed", 1.4)
    assert done.video is not None
    assert rig.store.jobs[job.job_id] == done
    assert rig.fake.calls("result") == 1


async def test_the_same_idempotency_key_returns_the_first_job_and_submits_once(rig: Rig) -> None:
    first = await submit(rig, key="k")
    again = await submit(rig, key="k")
    assert again.job_id == first.job_id
    assert len(rig.fake.submits) == 1


async def test_the_same_idempotency_key_with_other_arguments_is_refused(rig: Rig) -> None:
    await submit(rig, key="k")
    with pytest.raises(IdempotencyConflictError, match="other arguments"):
        await submit(rig, prompt="another", key="k")
    assert len(rig.fake.submits) == 1


async def test_a_job_past_the_daily_budget_is_refused_before_any_submit(rig: Rig) -> None:
    await submit(rig, cost=2.0)
    with pytest.raises(BudgetExceededError):
        await submit(rig, cost=1.5)
    assert len(rig.fake.submits) == 1


async def test_a_model_failure_at_the_result_ends_the_job_failed_and_unbilled(rig: Rig) -> None:
    rig.fake.outcomes.append("infra_error")
    job = await submit(rig)
    with anyio.fail_after(5):
        done = await rig.runner.wait(job.job_id, 30)
    assert (done.status, done.cost_usd) == ("failed", 0.0)
    assert done.error is not None
    assert done.error.type == "request_timeout"


async def test_on_restart_a_job_cut_off_mid_submit_is_unknown_and_a_queued_one_is_followed(rig: Rig) -> None:
    rig.fake.hold = True
    queued = await submit(rig)
    cut_off = Job(job_id="hh_cut", operation=Operation.TEXT_TO_VIDEO, endpoint=ENDPOINT, arguments={}, cost_usd=1.4)
    await rig.store.put(cut_off)
    restarted = JobRunner(rig.fal, rig.store, rig.guard, rig.tg, poll_interval=0.01)

    assert await restarted.resume() == 1
    assert (await restarted.get("hh_cut")).status == "unknown"
    assert queued.request_id is not None
    rig.fake.complete(queued.request_id)
    with anyio.fail_after(5):
        assert (await restarted.wait(queued.job_id, 30)).status == "completed"
    assert len(rig.fake.submits) == 1


async def test_an_unknown_job_id_says_what_ids_look_like(rig: Rig) -> None:
    with pytest.raises(UnknownJobError, match="hh_0123456789abcdef"):
        await rig.runner.get("nope")
