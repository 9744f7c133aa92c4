"""One follower per job across processes on one store: two runners on one SQLite file stand for two processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from happyhorse_mcp.domain.budget import SpendLimits, start_of_day
from happyhorse_mcp.domain.catalog import TEXT_TO_VIDEO, Operation
from happyhorse_mcp.domain.errors import BudgetExceededError
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.jobs.changes import ChangeFeed
from happyhorse_mcp.jobs.drafts import JobDraft
from happyhorse_mcp.jobs.follow import FollowPolicy
from happyhorse_mcp.jobs.leases import Leases
from happyhorse_mcp.jobs.live import LiveJobs
from happyhorse_mcp.jobs.store.base import Lease
from happyhorse_mcp.jobs.store.memory import MemoryJobStore
from happyhorse_mcp.jobs.store.sqlite import SqliteJobStore

from ...fakefal import FakeFal
from ...support import runner_rig

pytestmark = pytest.mark.anyio

ENDPOINT = TEXT_TO_VIDEO.endpoints["1.0"]
SHORT = FollowPolicy(poll_interval=0.01, max_interval=0.02, store_retry=0.01, lease_seconds=0.3)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.sqlite3"


@pytest.fixture
async def store_b(path: Path) -> AsyncIterator[SqliteJobStore]:
    store = SqliteJobStore(path)
    yield store
    await store.close()


async def submit(rig_runner: object, prompt: str = "a foal", cost: float = 1.4) -> Job:
    return await rig_runner.submit(JobDraft(Operation.TEXT_TO_VIDEO, ENDPOINT, {"prompt": prompt}, cost))  # type: ignore[attr-defined, no-any-return]


async def test_a_job_still_being_submitted_by_a_live_process_is_not_marked_unknown_by_another(
    fake: FakeFal, path: Path, store_b: SqliteJobStore
) -> None:
    store_a = SqliteJobStore(path)
    submitting = Job(job_id="hh_mid", operation=Operation.TEXT_TO_VIDEO, endpoint=ENDPOINT, arguments={}, cost_usd=1.4)
    await store_a.admit(submitting, lambda spent: None, day_start=start_of_day(), lease=Lease("process-a", 60.0))
    async with runner_rig(fake, store_b, policy=SHORT) as b:
        assert await b.runner.resume() == 0
        stored = await b.runner.get("hh_mid")
    assert stored.status == "submitting"
    await store_a.close()


async def test_a_job_whose_follower_died_is_taken_over_within_the_lease_and_completed_once(
    fake: FakeFal, path: Path, store_b: SqliteJobStore
) -> None:
    fake.hold = True
    store_a = SqliteJobStore(path)
    async with runner_rig(fake, store_a, policy=SHORT) as a:
        job = await submit(a.runner)
        a.tg.cancel_scope.cancel()  # the process dies: no clean release of its lease
    async with runner_rig(fake, store_b, policy=SHORT) as b:
        await b.runner.resume()
        assert job.request_id is not None
        fake.complete(job.request_id)
        with anyio.fail_after(5):
            done = await b.runner.wait(job.job_id, 30)
    assert done.status == "completed"
    assert (len(fake.submits), fake.calls("result")) == (1, 1)
    await store_a.close()


async def test_a_cancel_from_another_process_reaches_the_follower_and_is_not_lost(
    fake: FakeFal, path: Path, store_b: SqliteJobStore
) -> None:
    fake.hold = True
    store_a = SqliteJobStore(path)
    async with runner_rig(fake, store_a, policy=SHORT) as a, runner_rig(fake, store_b, policy=SHORT) as b:
        job = await submit(a.runner)
        cancelled = (await b.runner.cancel(job.job_id)).job
        assert cancelled.cancel_requested
        with anyio.fail_after(5):
            seen_by_b = await b.runner.wait(job.job_id, 30)
            # A's follower wrote it: B can read the store a moment before A's own call returns from that write.
            seen_by_a = await a.runner.wait(job.job_id, 30)
        assert (seen_by_b.status, seen_by_a.status) == ("cancelled", "cancelled")
        assert len(a.runner.live) == 0
    await store_a.close()


async def test_a_call_on_another_process_sees_the_job_complete(
    fake: FakeFal, path: Path, store_b: SqliteJobStore
) -> None:
    fake.hold = True
    store_a = SqliteJobStore(path)
    async with runner_rig(fake, store_a, policy=SHORT) as a, runner_rig(fake, store_b, policy=SHORT) as b:
        job = await submit(a.runner)
        assert job.request_id is not None
        fake.complete(job.request_id)
        with anyio.fail_after(5):
            done = await b.runner.wait(job.job_id, 30)
        assert done.status == "completed"
        assert len(b.runner.live) == 0, "B only read it: A follows it"
    await store_a.close()


async def test_two_processes_on_one_data_dir_never_overspend_the_daily_budget(
    fake: FakeFal, path: Path, store_b: SqliteJobStore
) -> None:
    store_a = SqliteJobStore(path)
    limits = SpendLimits(daily_budget_usd=3.0)
    admitted: list[float] = []
    async with runner_rig(fake, store_a, limits) as a, runner_rig(fake, store_b, limits) as b:

        async def one(runner: object, cost: float) -> None:
            try:
                await submit(runner, prompt=f"{cost}", cost=cost)
                admitted.append(cost)
            except BudgetExceededError:
                pass

        for _ in range(5):
            admitted.clear()
            async with anyio.create_task_group() as tg:
                tg.start_soon(one, a.runner, 1.4)
                tg.start_soon(one, b.runner, 2.8)
            assert sum(admitted) <= 3.0
            await store_a.release("nobody")  # a fresh day for the next round
            for job in await store_a.recent(100):
                await store_a.put(job.model_copy(update={"status": "failed", "cost_usd": 0.0}))
    await store_a.close()


class SlowRenewals(MemoryJobStore):
    """Holds each lease renewal until told to go on, to admit a job while one is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.renewing = anyio.Event()
        self.go_on = anyio.Event()

    async def renew(self, lease: Lease, job_ids: list[str]) -> set[str]:
        self.renewing.set()
        await self.go_on.wait()
        return await super().renew(lease, job_ids)


async def test_a_job_admitted_while_leases_are_being_renewed_is_not_taken_for_lost(fake: FakeFal) -> None:
    fake.hold = True
    store = SlowRenewals()
    async with runner_rig(fake, store, policy=SHORT) as rig:
        await submit(rig.runner, prompt="first")
        with anyio.fail_after(5):
            await store.renewing.wait()
        await submit(rig.runner, prompt="admitted meanwhile")
        store.renewing = anyio.Event()
        store.go_on.set()
        with anyio.fail_after(5):
            await store.renewing.wait()  # the renewal after has run its course
        assert len(rig.runner.live) == 2
        assert len(store.leases) == 2


async def test_a_submitter_paused_past_its_lease_still_records_fal_s_answer_and_the_job_completes_once(
    fake: FakeFal, path: Path, store_b: SqliteJobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_a = SqliteJobStore(path)
    async with runner_rig(fake, store_a, policy=SHORT) as a, runner_rig(fake, store_b, policy=SHORT) as b:
        entered, go_on = anyio.Event(), anyio.Event()
        real = a.fal.submit

        async def paused(endpoint: str, arguments: dict[str, object], **options: Any) -> object:
            entered.set()
            await go_on.wait()  # the laptop lid is shut while fal takes the job
            return await real(endpoint, arguments, **options)

        monkeypatch.setattr(a.fal, "submit", paused)
        a.tg.start_soon(submit, a.runner)
        await entered.wait()
        (job,) = await store_a.recent()
        await store_a.release(a.runner.lease.holder)  # A's lease lapses while it is paused
        await b.runner.resume()
        assert (await store_b.get(job.job_id)).status == "unknown"  # type: ignore[union-attr]
        go_on.set()
        with anyio.fail_after(5):
            done = await b.runner.wait(job.job_id, 30)
            while done.status == "unknown":  # B reads the store: A's write of fal's answer reopens the job
                done = await b.runner.wait(job.job_id, 0.05)
            done = await b.runner.wait(job.job_id, 30)
    assert (done.status, done.cost_usd) == ("completed", 1.4)
    assert done.video is not None
    assert (len(fake.submits), fake.calls("result")) == (1, 1)
    await store_a.close()


class EndsDuringRenewal(MemoryJobStore):
    """Lets a lease renewal run between a job's last write reaching the store (which frees its lease) and the writer
    hearing back, as a renewal on its own PostgreSQL connection can."""

    def __init__(self) -> None:
        super().__init__()
        self.end_written = anyio.Event()
        self.renewed_after = anyio.Event()

    async def update(self, job: Job, *, holder: str | None = None) -> Job | None:
        written = await super().update(job, holder=holder)
        if written is not None and written.finished:
            self.end_written.set()
            await self.renewed_after.wait()
        return written

    async def renew(self, lease: Lease, job_ids: list[str]) -> set[str]:
        held = await super().renew(lease, job_ids)
        if self.end_written.is_set():
            self.renewed_after.set()
        return held


@dataclass
class Keeper:
    store: MemoryJobStore
    jobs: LiveJobs
    leases: Leases
    told: list[str]  # the statuses subscribers were told of


@asynccontextmanager
async def keeper(store: MemoryJobStore) -> AsyncIterator[Keeper]:
    told = list[str]()

    async def on_status_change(job: Job) -> None:
        told.append(job.status)

    async def take_over(job: Job) -> bool:
        return False

    lease = Lease("here", 0.3)
    async with anyio.create_task_group() as tg:
        feed = ChangeFeed(store, tg, retry_seconds=0.01, followed_here=list)
        jobs = LiveJobs(
            store, lease, tg, store_retry=0.01, reclaim_wait=0.01, changes=feed, on_status_change=on_status_change
        )
        leases = Leases(
            store, lease, tg, followed=jobs.ids, unsettled=jobs.unsettled_ids, lost=jobs.drop, take_over=take_over
        )
        job = Job(job_id="hh_1", operation=Operation.TEXT_TO_VIDEO, endpoint=ENDPOINT, arguments={}, cost_usd=1.4)
        admitted, _ = await store.admit(job, lambda _: None, day_start=job.created_at, lease=lease)
        jobs.add(admitted)
        leases.keep()
        yield Keeper(store, jobs, leases, told)
        tg.cancel_scope.cancel()


async def test_a_job_that_ends_while_its_lease_is_renewed_is_not_taken_for_lost_and_its_end_is_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = EndsDuringRenewal()
    async with keeper(store) as rig:
        await rig.jobs.update("hh_1", status="running")
        with anyio.fail_after(5):
            await rig.jobs.update("hh_1", status="completed")
        rig.jobs.drop("hh_1")  # as the runner and the film maker do after a job's last write
    assert rig.told == ["running", "completed"]
    assert "lease lost" not in caplog.text


async def test_a_job_another_process_took_over_stops_being_followed_here_at_the_next_renewal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with keeper(MemoryJobStore()) as rig:
        await rig.store.release(rig.leases.lease.holder)  # this process was paused past its lease
        assert await rig.store.claim("hh_1", Lease("there", 60.0))
        dropped = rig.jobs.changed("hh_1")  # set when the job is dropped from here
        assert dropped is not None
        with anyio.fail_after(5):
            await dropped.wait()
        assert rig.jobs.ids() == []
    assert "job hh_1: lease lost; another process follows it now" in caplog.text
