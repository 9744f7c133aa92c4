"""Settling the unknown: a job whose submit's answer was lost is looked up in fal's records by its input, followed to
its end when fal had it, released when fal never got it; never submitted twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import anyio
import pytest

from happyhorse_mcp.domain.budget import SpendLimits
from happyhorse_mcp.domain.catalog import TEXT_TO_VIDEO, Operation
from happyhorse_mcp.domain.models import Job, utcnow
from happyhorse_mcp.jobs.drafts import JobDraft
from happyhorse_mcp.jobs.settle import NEVER_REACHED, Settler
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

from ...fakefal import FakeFal, Fault
from ...support import Rig, runner_rig

pytestmark = pytest.mark.anyio

ENDPOINT = TEXT_TO_VIDEO.endpoints["1.0"]


@pytest.fixture
async def rig(fake: FakeFal) -> AsyncIterator[Rig]:
    async with runner_rig(fake, MemoryJobStore(), SpendLimits(daily_budget_usd=3.0)) as made:
        yield made


async def lost_submit(rig: Rig, fake: FakeFal, *, fal_took_it: bool, prompt: str = "a foal") -> Job:
    fake.fail_next("submit", Fault(kind="reset", accept=fal_took_it))
    job = await rig.runner.submit(JobDraft(Operation.TEXT_TO_VIDEO, ENDPOINT, {"prompt": prompt}, 1.4))
    assert (job.status, job.request_id) == ("unknown", None)
    return job


def settler(rig: Rig, minutes_later: float = 0) -> Settler:
    return Settler(rig.runner, rig.tg, clock=lambda: utcnow() + timedelta(minutes=minutes_later))


async def test_a_lost_submit_fal_took_is_found_by_its_input_and_completes_without_a_second_submit(
    rig: Rig, fake: FakeFal
) -> None:
    job = await lost_submit(rig, fake, fal_took_it=True)

    assert await settler(rig).settle_all() == {"found": 1}
    with anyio.fail_after(10):
        done = await rig.runner.wait(job.job_id, 30)

    assert (done.status, done.request_id, done.cost_usd) == ("completed", fake.submits[0].request_id, 1.4)
    assert done.video is not None
    assert done.error is None
    assert len(fake.submits) == 1


async def test_a_lost_submit_fal_never_got_is_released_once_fal_s_record_would_surely_show_it(
    rig: Rig, fake: FakeFal
) -> None:
    job = await lost_submit(rig, fake, fal_took_it=False)
    assert (await rig.guard.committed(job.owner)).deployment_usd == pytest.approx(1.4)

    assert await settler(rig, minutes_later=5).settle_all() == {"waiting": 1}
    assert (await rig.runner.get(job.job_id)).status == "unknown", "too soon to say it never reached fal"

    assert await settler(rig, minutes_later=31).settle_all() == {"released": 1}
    released = await rig.runner.get(job.job_id)
    assert (released.status, released.cost_usd) == ("failed", 0.0)
    assert released.error is not None
    assert released.error.type == NEVER_REACHED
    assert "nothing was billed" in released.error.message
    assert fake.submits == []
    assert (await rig.guard.committed(job.owner)).deployment_usd == 0.0, "what it held is released"


async def test_only_the_request_with_the_job_s_own_input_is_taken_for_it(rig: Rig, fake: FakeFal) -> None:
    await rig.runner.submit(JobDraft(Operation.TEXT_TO_VIDEO, ENDPOINT, {"prompt": "another foal"}, 1.4))
    job = await lost_submit(rig, fake, fal_took_it=True, prompt="this foal")

    await settler(rig).settle_all()
    with anyio.fail_after(10):
        done = await rig.runner.wait(job.job_id, 30)

    mine = next(sent for sent in fake.submits if sent.arguments["prompt"] == "this foal")
    assert done.request_id == mine.request_id
