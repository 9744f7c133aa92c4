"""Waiting on a job: progress at once, again at each change of phase and every few seconds, the job back as soon as
it ends, or as it stands when the wait is up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.jobs import waiting
from happyhorse_mcp.jobs.drafts import JobDraft
from happyhorse_mcp.jobs.store.memory import MemoryJobStore
from happyhorse_mcp.jobs.waiting import wait_for

from ...fakefal import FakeFal
from ...support import Rig, runner_rig

pytestmark = pytest.mark.anyio


@pytest.fixture
async def rig(fake: FakeFal) -> AsyncIterator[Rig]:
    fake.hold = True
    async with runner_rig(fake, MemoryJobStore()) as made:
        yield made


async def _held_job(rig: Rig) -> Job:
    return await rig.runner.submit(
        JobDraft(rig.operation, "alibaba/happy-horse/text-to-video", {"prompt": "a horse"}, 0.7)
    )


async def test_progress_is_heard_at_once_and_at_each_new_phase_and_the_job_comes_back_when_it_ends(
    rig: Rig, fake: FakeFal
) -> None:
    job = await _held_job(rig)
    heard: list[str] = []
    phase_seen = anyio.Event()

    async def progress(seen: Job, elapsed: float) -> None:
        heard.append(seen.phase)
        phase_seen.set()

    async with anyio.create_task_group() as tg:

        async def finish_when_heard() -> None:
            await phase_seen.wait()
            (submitted,) = fake.submits
            fake.start(submitted.request_id)
            fake.complete(submitted.request_id)

        tg.start_soon(finish_when_heard)
        with anyio.fail_after(20):
            done = await wait_for(rig.runner, job.job_id, 60, progress)
    assert done.status == "completed"
    assert heard[0] == "Queued at fal (next in line)"


async def test_a_wait_that_runs_out_returns_the_job_as_it_stands_with_progress_every_interval(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(waiting, "PROGRESS_INTERVAL_SECONDS", 0.05)
    job = await _held_job(rig)
    heard: list[float] = []

    async def progress(seen: Job, elapsed: float) -> None:
        heard.append(elapsed)

    waited = await wait_for(rig.runner, job.job_id, 0.3, progress)
    assert not waited.finished
    assert len(heard) >= 3, "the same phase is reported again every interval"


async def test_a_finished_job_comes_back_at_once_without_progress(rig: Rig, fake: FakeFal) -> None:
    job = await _held_job(rig)
    (submitted,) = fake.submits
    fake.complete(submitted.request_id)
    done = await wait_for(rig.runner, job.job_id, 30)
    heard: list[str] = []

    async def progress(seen: Job, elapsed: float) -> None:
        heard.append(seen.phase)

    again = await wait_for(rig.runner, done.job_id, 30, progress)
    assert again.status == "completed"
    assert heard == []
