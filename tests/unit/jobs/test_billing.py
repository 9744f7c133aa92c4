"""What fal billed, read from its billing events with an admin key and recorded beside the estimate: shown and
logged when it differs, counted by the budgets, asked about in batches and again when fal has not billed yet; a
normal key in its place leaves every job with its estimate and fails nothing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence

import anyio
import pytest
from pydantic import SecretStr

from happyhorse_mcp.domain.budget import SpendLimits
from happyhorse_mcp.domain.catalog import TEXT_TO_VIDEO, Operation
from happyhorse_mcp.domain.errors import StoreError
from happyhorse_mcp.domain.models import Job, utcnow
from happyhorse_mcp.fal.billing import FalBilling
from happyhorse_mcp.jobs.billing import BillingReconciler
from happyhorse_mcp.jobs.drafts import JobDraft
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

from ...fakefal import ADMIN_KEY, VALID_KEY, FakeFal
from ...support import Rig, runner_rig

pytestmark = pytest.mark.anyio

ENDPOINT = TEXT_TO_VIDEO.endpoints["1.0"]
ESTIMATE = 1.4


@pytest.fixture
async def rig(fake: FakeFal) -> AsyncIterator[Rig]:
    async with runner_rig(fake, MemoryJobStore(), SpendLimits(daily_budget_usd=30.0)) as made:
        yield made


class Billed:
    """The reconciler's hook: each job as written with its bill."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self._arrived = anyio.Event()

    async def __call__(self, job: Job) -> None:
        self.jobs.append(job)
        self._arrived.set()
        self._arrived = anyio.Event()

    async def until(self, count: int) -> list[Job]:
        with anyio.fail_after(5):
            while len(self.jobs) < count:
                await self._arrived.wait()
        return self.jobs


def reconciler(rig: Rig, billed: Billed, *, key: str = ADMIN_KEY, retry_after: Sequence[float] = ()) -> None:
    assert rig.http is not None
    billing = FalBilling(rig.http, api_url="http://fal.test", admin_key=SecretStr(key))
    rig.runner.billing = BillingReconciler(billing, rig.store, rig.tg, retry_after=retry_after, on_billed=billed)


async def made(rig: Rig, prompt: str = "a foal") -> Job:
    job = await rig.runner.submit(JobDraft(Operation.TEXT_TO_VIDEO, ENDPOINT, {"prompt": prompt}, ESTIMATE))
    with anyio.fail_after(5):
        done = await rig.runner.wait(job.job_id, 30)
    assert done.status == "completed"
    return done


async def test_a_bill_equal_to_the_estimate_is_recorded_beside_it(rig: Rig, fake: FakeFal) -> None:
    fake.bill = ESTIMATE
    billed = Billed()
    reconciler(rig, billed)
    job = await made(rig)
    (recorded,) = await billed.until(1)
    assert (recorded.job_id, recorded.cost_usd, recorded.billed_usd) == (job.job_id, ESTIMATE, ESTIMATE)
    stored = await rig.store.get(job.job_id)
    assert stored is not None
    assert stored.billed_usd == ESTIMATE
    assert fake.billing_reads == [[job.request_id]]


async def test_a_bill_that_differs_is_logged_and_the_budgets_count_the_bill(
    rig: Rig, fake: FakeFal, caplog: pytest.LogCaptureFixture
) -> None:
    fake.bill = ESTIMATE + 0.05
    billed = Billed()
    reconciler(rig, billed)
    job = await made(rig)
    with caplog.at_level(logging.WARNING, logger="happyhorse_mcp.jobs.billing"):
        await billed.until(1)
    assert f"job {job.job_id}: fal billed USD 1.45, estimated USD 1.40" in caplog.text
    day_start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    committed = await rig.store.committed(job.owner, day_start=day_start)
    assert committed.deployment_usd == pytest.approx(1.45)
    assert (await rig.store.get(job.job_id)).result().billed_usd == pytest.approx(1.45)  # type: ignore[union-attr]


async def test_a_normal_key_leaves_jobs_with_their_estimates_and_fails_nothing(
    rig: Rig, fake: FakeFal, caplog: pytest.LogCaptureFixture
) -> None:
    fake.bill = ESTIMATE + 0.05
    reconciler(rig, Billed(), key=VALID_KEY)
    with caplog.at_level(logging.WARNING, logger="happyhorse_mcp.jobs.billing"):
        first = await made(rig)
        with anyio.fail_after(5):
            while "needs an admin key" not in caplog.text:
                await anyio.lowlevel.checkpoint()  # the reconciler's task runs on this event loop
        second = await made(rig, "another foal")
    assert "billed cost unavailable: needs an admin key (fal answered HTTP 403 to FAL_ADMIN_KEY)" in caplog.text
    for job in (first, second):
        stored = await rig.store.get(job.job_id)
        assert stored is not None
        assert (stored.status, stored.cost_usd, stored.billed_usd) == ("completed", ESTIMATE, None)
    assert caplog.text.count("needs an admin key") == 1  # said once; the second job is not asked about
    assert ADMIN_KEY not in caplog.text
    assert VALID_KEY not in caplog.text


async def test_jobs_finished_together_are_asked_about_in_one_call(rig: Rig, fake: FakeFal) -> None:
    fake.bill = ESTIMATE
    jobs = [await made(rig, f"foal {i}") for i in range(3)]
    billed = Billed()
    reconciler(rig, billed)  # at its start it finds the three ended without their bills: one call for them all
    await billed.until(3)
    (batch,) = fake.billing_reads
    assert sorted(batch) == sorted(job.request_id for job in jobs if job.request_id)
    assert {job.job_id for job in billed.jobs} == {job.job_id for job in jobs}


async def test_a_request_fal_has_not_billed_yet_is_asked_about_again(rig: Rig, fake: FakeFal) -> None:
    billed = Billed()
    reconciler(rig, billed, retry_after=(0.0,))
    reads = len(fake.billing_reads)

    async def bill_after_the_first_read() -> None:
        with anyio.fail_after(5):
            while len(fake.billing_reads) == reads:
                await anyio.lowlevel.checkpoint()
        fake.bill = ESTIMATE

    rig.tg.start_soon(bill_after_the_first_read)
    job = await made(rig)
    (recorded,) = await billed.until(1)
    assert recorded.billed_usd == ESTIMATE
    assert fake.billing_reads == [[job.request_id], [job.request_id]]


async def test_a_store_that_fails_while_recording_a_bill_stops_nothing_else(
    rig: Rig, fake: FakeFal, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.bill = ESTIMATE
    billed = Billed()
    reconciler(rig, billed)
    real_update = rig.store.update
    failures = 0

    async def failing_once(job: Job, *, holder: str | None = None) -> Job | None:
        nonlocal failures
        if job.billed_usd is not None and not failures:
            failures += 1
            raise StoreError("the disk is full")
        return await real_update(job, holder=holder)

    monkeypatch.setattr(rig.store, "update", failing_once)
    with caplog.at_level(logging.ERROR, logger="happyhorse_mcp.jobs.billing"):
        first = await made(rig)
        with anyio.fail_after(5):
            while "could not be recorded" not in caplog.text:
                await anyio.lowlevel.checkpoint()
    second = await made(rig, "another foal")  # the runner, and the reconciler, still work
    (recorded,) = await billed.until(1)
    assert recorded.job_id == second.job_id
    stored = await rig.store.get(first.job_id)
    assert stored is not None
    assert (stored.status, stored.billed_usd) == ("completed", None)


async def test_at_start_jobs_that_ended_without_their_bill_are_asked_about_once(rig: Rig, fake: FakeFal) -> None:
    fake.bill = ESTIMATE
    before = await made(rig)  # ended with no reconciler: a restart dropped its re-asks, or the admin key is new
    billed = Billed()
    reconciler(rig, billed)
    (recorded,) = await billed.until(1)
    assert (recorded.job_id, recorded.billed_usd) == (before.job_id, ESTIMATE)
