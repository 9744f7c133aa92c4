"""The job runner on the in-memory store, against the fake fal in-process: submit once, follow to the end."""

from __future__ import annotations

import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from happyhorse_mcp.domain.catalog import TEXT_TO_VIDEO, Operation
from happyhorse_mcp.domain.errors import BudgetExceededError, IdempotencyConflictError, UnknownJobError
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.fal.queue import SubmitReceipt
from happyhorse_mcp.jobs.drafts import JobDraft
from happyhorse_mcp.jobs.follow import FollowPolicy
from happyhorse_mcp.jobs.runner import JobRunner
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

from ...fakefal import FakeFal
from ...fakefal.app import Fault
from ...support import FAST_FOLLOW, Rig, runner_rig

pytestmark = pytest.mark.anyio

ENDPOINT = TEXT_TO_VIDEO.endpoints["1.0"]


@pytest.fixture
async def rig(fake: FakeFal) -> AsyncIterator[Rig]:
    store = MemoryJobStore()
    async with runner_rig(fake, store) as made:
        yield made


def store_of(rig: Rig) -> MemoryJobStore:
    assert isinstance(rig.store, MemoryJobStore)
    return rig.store


async def submit(rig: Rig, prompt: str = "a foal", cost: float = 1.4, key: str | None = None) -> Job:
    return await rig.runner.submit(
        JobDraft(Operation.TEXT_TO_VIDEO, ENDPOINT, {"prompt": prompt}, cost, idempotency_key=key)
    )


async def test_a_submitted_job_is_followed_to_its_result_and_stored(rig: Rig, fake: FakeFal) -> None:
    job = await submit(rig)
    assert job.request_id is not None
    with anyio.fail_after(5):
        done = await rig.runner.wait(job.job_id, 30)
    assert (done.status, done.cost_usd) == ("completed", 1.4)
    assert done.video is not None
    assert store_of(rig).jobs[job.job_id] == done
    assert fake.calls("result") == 1


async def test_the_same_idempotency_key_returns_the_first_job_and_submits_once(rig: Rig, fake: FakeFal) -> None:
    first = await submit(rig, key="k")
    again = await submit(rig, key="k")
    assert again.job_id == first.job_id
    assert len(fake.submits) == 1


async def test_the_same_idempotency_key_with_other_arguments_is_refused(rig: Rig, fake: FakeFal) -> None:
    await submit(rig, key="k")
    with pytest.raises(IdempotencyConflictError, match="other arguments"):
        await submit(rig, prompt="another", key="k")
    assert len(fake.submits) == 1


async def test_a_job_past_the_daily_budget_is_refused_before_any_submit(rig: Rig, fake: FakeFal) -> None:
    await submit(rig, cost=2.0)
    with pytest.raises(BudgetExceededError):
        await submit(rig, cost=1.5)
    assert len(fake.submits) == 1


async def test_a_model_failure_at_the_result_ends_the_job_failed_and_unbilled(rig: Rig, fake: FakeFal) -> None:
    fake.outcomes.append("infra_error")
    job = await submit(rig)
    with anyio.fail_after(5):
        done = await rig.runner.wait(job.job_id, 30)
    assert (done.status, done.cost_usd) == ("failed", 0.0)
    assert done.error is not None
    assert done.error.type == "request_timeout"


async def test_on_restart_a_job_cut_off_mid_submit_is_unknown_and_a_queued_one_is_followed(
    rig: Rig, fake: FakeFal
) -> None:
    fake.hold = True
    queued = await submit(rig)
    cut_off = Job(job_id="hh_cut", operation=Operation.TEXT_TO_VIDEO, endpoint=ENDPOINT, arguments={}, cost_usd=1.4)
    await store_of(rig).put(cut_off)
    restarted = JobRunner(rig.fal, rig.store, rig.guard, rig.tg, policy=FAST_FOLLOW)
    await rig.runner.leases.release()  # the first runner stops cleanly

    assert await restarted.resume() == 1
    assert (await restarted.get("hh_cut")).status == "unknown"
    assert queued.request_id is not None
    fake.complete(queued.request_id)
    with anyio.fail_after(5):
        assert (await restarted.wait(queued.job_id, 30)).status == "completed"
    assert len(fake.submits) == 1


async def test_an_unknown_job_id_says_what_ids_look_like(rig: Rig) -> None:
    with pytest.raises(UnknownJobError, match="hh_0123456789abcdef"):
        await rig.runner.get("nope")


@pytest.mark.parametrize("validate_at", ["result", "submit"])
async def test_fal_s_422_ends_the_job_failed_unbilled_naming_the_field_at_result_or_submit(
    rig: Rig, fake: FakeFal, validate_at: str
) -> None:
    fake.validate_at = validate_at  # type: ignore[assignment]
    job = await rig.runner.submit(
        JobDraft(Operation.TEXT_TO_VIDEO, ENDPOINT, {"prompt": "a foal", "duration": 20}, 2.8)
    )
    with anyio.fail_after(5):
        done = await rig.runner.wait(job.job_id, 30)
    assert (done.status, done.cost_usd) == ("failed", 0.0)
    assert done.error is not None
    assert done.error.type == "validation_error"
    assert "duration: Input should be 3..15" in done.error.message
    assert len(fake.submits) == (1 if validate_at == "result" else 0)


async def test_an_unexpected_error_while_submitting_keeps_its_text_out_of_the_job_record(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(endpoint: str, arguments: object, **options: object) -> object:
        raise UnicodeEncodeError("ascii", "Key id:\u201csecret", 7, 8, "ordinal not in range(128)")

    monkeypatch.setattr(rig.fal, "submit", broken)
    job = await submit(rig)
    stored = await rig.runner.get(job.job_id)
    assert stored.status == "unknown"
    assert stored.error is not None
    assert "secret" not in stored.model_dump_json()
    assert "UnicodeEncodeError" in stored.error.message


async def test_a_data_uri_reaches_fal_whole_but_the_record_keeps_only_its_digest_and_size(
    rig: Rig, fake: FakeFal
) -> None:
    payload = "A" * 300_000
    image = f"data:image/png;base64,{payload}"
    job = await rig.runner.submit(
        JobDraft(Operation.IMAGE_TO_VIDEO, "alibaba/happy-horse/image-to-video", {"image_url": image}, 1.4)
    )
    assert fake.submits[0].arguments["image_url"] == image
    stored = store_of(rig).jobs[job.job_id]
    assert payload not in stored.model_dump_json()
    assert stored.arguments["image_url"].startswith("data:image/png;base64;sha256=")
    assert stored.arguments["image_url"].endswith(f";bytes={len(payload)}")


async def test_finished_jobs_leave_memory_and_are_read_from_the_store(rig: Rig) -> None:
    jobs = [await submit(rig, prompt=f"foal {n}", cost=0.1) for n in range(5)]
    with anyio.fail_after(5):
        for job in jobs:
            assert (await rig.runner.wait(job.job_id, 30)).status == "completed"
    assert len(rig.runner.live) == 0
    assert (await rig.runner.get(jobs[0].job_id)).video is not None


TYPED_5XX = Fault(
    status=503,
    body=b'{"detail": "Runner unavailable", "error_type": "runner_scheduling_failure"}',
    headers={"X-Fal-Error-Type": "runner_scheduling_failure"},
)


async def test_status_reads_failing_with_a_typed_5xx_are_waited_out_and_the_job_completes_billed(
    rig: Rig, fake: FakeFal
) -> None:
    fake.fail_next("stream", TYPED_5XX)
    fake.fail_next("status", TYPED_5XX, times=7)  # more than one read's retries: the follower must read again
    job = await submit(rig)
    with anyio.fail_after(5):
        done = await rig.runner.wait(job.job_id, 30)
    assert (done.status, done.cost_usd) == ("completed", 1.4)
    assert done.video is not None


async def test_a_result_read_that_keeps_failing_with_a_typed_5xx_ends_unknown_with_its_estimate_counted(
    rig: Rig, fake: FakeFal
) -> None:
    fake.fail_next("result", TYPED_5XX, times=100)
    job = await submit(rig)
    with anyio.fail_after(5):
        done = await rig.runner.wait(job.job_id, 30)
    assert (done.status, done.cost_usd) == ("unknown", 1.4)
    assert done.error is not None
    assert "runner_scheduling_failure" in done.error.message
    assert await rig.store.spend_since(None) == 1.4


class _HeldSubmit:
    """fal's submit held until the test lets it go, so a cancel can land while it is in flight."""

    def __init__(self, rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = anyio.Event()
        self.release = anyio.Event()
        real = rig.fal.submit

        async def held(endpoint: str, arguments: dict[str, Any], **options: Any) -> SubmitReceipt:
            self.entered.set()
            await self.release.wait()
            return await real(endpoint, arguments, **options)

        monkeypatch.setattr(rig.fal, "submit", held)


class _ReceiptLandsFirst(MemoryJobStore):
    """fal's answer to the submit is recorded between the cancel's read of the job and its write."""

    def __init__(self) -> None:
        super().__init__()
        self.submit_released: anyio.Event | None = None
        self.receipt_written = anyio.Event()

    async def update(self, job: Job, *, holder: str | None = None) -> Job | None:
        if job.cancel_requested and self.submit_released is not None and not self.receipt_written.is_set():
            self.submit_released.set()
            await self.receipt_written.wait()
        written = await super().update(job, holder=holder)
        if written is not None and written.request_id is not None:
            self.receipt_written.set()
        return written


async def test_a_cancel_racing_fal_s_answer_to_the_submit_still_reaches_fal(
    fake: FakeFal, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.hold = True
    store = _ReceiptLandsFirst()
    async with runner_rig(fake, store) as rig:
        held = _HeldSubmit(rig, monkeypatch)
        store.submit_released = held.release
        rig.tg.start_soon(submit, rig)
        await held.entered.wait()
        (job_id,) = store.jobs
        report = await rig.runner.cancel(job_id)
        with anyio.fail_after(5):
            done = await rig.runner.wait(job_id, 2)
    assert fake.calls("cancel") == 1
    assert (done.status, done.cost_usd) == ("cancelled", 0.0)
    assert report.fal_answer == "cancellation_requested"


async def test_a_cancel_before_fal_answers_the_submit_is_sent_by_the_submitter_and_says_so(
    rig: Rig, fake: FakeFal, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.hold = True
    held = _HeldSubmit(rig, monkeypatch)
    rig.tg.start_soon(submit, rig)
    await held.entered.wait()
    (job_id,) = store_of(rig).jobs
    report = await rig.runner.cancel(job_id)
    assert (report.deferred, report.fal_answer) == (True, None)
    held.release.set()
    with anyio.fail_after(5):
        done = await rig.runner.wait(job_id, 30)
    assert fake.calls("cancel") == 1
    assert (done.status, done.cost_usd) == ("cancelled", 0.0)


@pytest.mark.parametrize("stall", ["silent", "slow_line"])
async def test_a_status_stream_that_never_says_completed_cannot_hide_a_finished_job(fake: FakeFal, stall: str) -> None:
    fake.fail_next("stream", Fault(kind=stall))  # type: ignore[arg-type]
    checked = FollowPolicy(poll_interval=0.01, max_interval=0.02, store_retry=0.01, stream_check_seconds=0.05)
    async with runner_rig(fake, MemoryJobStore(), policy=checked) as rig:
        job = await submit(rig)
        with anyio.fail_after(5):
            done = await rig.runner.wait(job.job_id, 30)
    assert (done.status, done.cost_usd) == ("completed", 1.4)
    assert fake.calls("result") == 1


async def test_a_status_stream_past_its_deadline_is_given_up_for_polling(fake: FakeFal) -> None:
    fake.fail_next("stream", Fault(kind="silent"))
    bounded = FollowPolicy(
        poll_interval=0.01, max_interval=0.02, store_retry=0.01, stream_check_seconds=60, stream_deadline_seconds=0.05
    )
    async with runner_rig(fake, MemoryJobStore(), policy=bounded) as rig:
        job = await submit(rig)
        with anyio.fail_after(5):
            done = await rig.runner.wait(job.job_id, 30)
    assert done.status == "completed"
    assert fake.calls("status") >= 1


class _Arguments(dict[str, Any]):
    """A call's arguments that a test can watch for being let go (a dict subclass takes weak references)."""


async def test_a_job_followed_after_its_submit_keeps_none_of_the_arguments_it_sent(rig: Rig, fake: FakeFal) -> None:
    fake.hold = True
    sent = _Arguments(image_url="data:image/png;base64," + "A" * 1_000_000)
    job = await rig.runner.submit(JobDraft(Operation.IMAGE_TO_VIDEO, "alibaba/happy-horse/image-to-video", sent, 1.4))
    watched = weakref.ref(sent)
    del sent
    gc.collect()
    assert (await rig.runner.get(job.job_id)).status == "queued"
    assert watched() is None, "a running job holds the data: URI it sent"


async def test_a_film_s_shot_made_after_midnight_counts_on_its_film_s_day_so_the_new_day_keeps_its_budget(
    fake: FakeFal,
) -> None:
    # With USD 2.00 a day: a USD 1.96 job at 00:00:00, then the third shot of a film admitted before midnight, took
    # the new day to USD 2.38 when the shot was counted on the day it was made.
    from datetime import timedelta

    from happyhorse_mcp.domain.budget import SpendLimits, start_of_day

    store = MemoryJobStore()
    async with runner_rig(fake, store, SpendLimits(daily_budget_usd=2.0)) as rig:
        film_admitted = start_of_day() - timedelta(minutes=1)
        await rig.runner.submit(JobDraft(Operation.TEXT_TO_VIDEO, ENDPOINT, {"prompt": "today's clip"}, 1.96))
        shot = await rig.runner.submit(
            JobDraft(
                Operation.TEXT_TO_VIDEO,
                ENDPOINT,
                {"prompt": "the film's third shot"},
                0.42,
                idempotency_key="hh_film/shot-3",
                film_admitted_at=film_admitted,
            )
        )
        today = await store.spend_since(start_of_day())
    assert shot.created_at == film_admitted, "dated by its film"
    assert today <= 2.0
