"""The jobs this process follows and every write of theirs: made from the version last read, another process's
write kept and the change made again on top, a lease taken by another process noticed, a state the store refuses
kept in memory and written again until the store takes it (on top of another process's write meanwhile), and a
job's end told even when a racing call stopped following it first."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import pytest

from happyhorse_mcp.domain.catalog import Operation
from happyhorse_mcp.domain.errors import StoreError
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.jobs.changes import ChangeFeed
from happyhorse_mcp.jobs.leases import LeaseLost
from happyhorse_mcp.jobs.live import LiveJobs
from happyhorse_mcp.jobs.store.base import Lease
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

pytestmark = pytest.mark.anyio

OURS, THEIRS = Lease("here", 60.0), Lease("there", 60.0)


class FlakyStore(MemoryJobStore):
    """Refuses the next `failures` writes, as a full disk does; holds a job's last write, once taken, until told."""

    failures = 0
    taken: anyio.Event | None = None  # set at the next write the store takes
    # Set, a job's last write sets the first once the store has it, then waits for the second to return.
    end_held: tuple[anyio.Event, anyio.Event] | None = None

    async def update(self, job: Job, *, holder: str | None = None) -> Job | None:
        if self.failures:
            self.failures -= 1
            raise StoreError("disk full")
        written = await super().update(job, holder=holder)
        if written is not None and self.taken is not None:
            self.taken.set()
        if written is not None and written.finished and self.end_held is not None:
            in_store, go_on = self.end_held
            in_store.set()
            await go_on.wait()
        return written


@dataclass
class Live:
    jobs: LiveJobs
    store: FlakyStore
    changed: list[str]


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    store, changed = FlakyStore(), list[str]()

    async def on_status_change(job: Job) -> None:
        changed.append(job.status)

    async with anyio.create_task_group() as tg:
        feed = ChangeFeed(store, tg, retry_seconds=0.01, followed_here=list)
        jobs = LiveJobs(
            store, OURS, tg, store_retry=0.01, reclaim_wait=0.01, changes=feed, on_status_change=on_status_change
        )
        yield Live(jobs, store, changed)
        tg.cancel_scope.cancel()


async def _followed(live: Live) -> Job:
    job = Job(job_id="hh_1", operation=Operation.TEXT_TO_VIDEO, endpoint="e", arguments={}, cost_usd=0.7)
    admitted, _ = await live.store.admit(job, lambda _: None, day_start=job.created_at, lease=OURS)
    live.jobs.add(admitted)
    return admitted


async def _kept_then_cancelled_elsewhere(live: Live, **changes: object) -> None:
    """A followed job whose write of `changes` the store refuses (kept in memory), then another process's cancel."""
    job = await _followed(live)
    live.store.failures = 1
    await live.jobs.update("hh_1", **changes)
    elsewhere = await live.store.update(job.model_copy(update={"cancel_requested": True}))
    assert elsewhere is not None


async def test_a_write_wakes_its_waiters_and_tells_of_a_new_status(live: Live) -> None:
    await _followed(live)
    woken = live.jobs.changed("hh_1")
    assert woken is not None
    written = await live.jobs.update("hh_1", status="queued")
    assert woken.is_set()
    assert written.version == 1
    assert live.changed == ["queued"]


async def test_another_process_s_cancel_is_kept_and_the_change_made_on_top(live: Live) -> None:
    job = await _followed(live)
    elsewhere = await live.store.update(job.model_copy(update={"cancel_requested": True}))  # another process
    assert elsewhere is not None
    written = await live.jobs.update("hh_1", status="running")
    assert (written.status, written.cancel_requested) == ("running", True)


async def test_a_lease_another_process_took_ends_following_here(live: Live) -> None:
    job = await _followed(live)
    await live.store.release(OURS.holder)
    assert await live.store.claim("hh_1", THEIRS)
    taken = await live.store.update(job.model_copy(update={"status": "queued"}), holder=THEIRS.holder)
    assert taken is not None
    with pytest.raises(LeaseLost):
        await live.jobs.update("hh_1", status="running")


async def test_a_state_the_store_refuses_is_kept_in_memory_and_written_again_until_taken(live: Live) -> None:
    await _followed(live)
    live.store.failures, live.store.taken = 3, anyio.Event()
    kept = await live.jobs.update("hh_1", status="queued")
    assert kept.status == "queued"
    assert live.jobs.is_unsaved("hh_1")
    with anyio.fail_after(5):
        await live.store.taken.wait()  # the third retry is refused too; the fourth is taken
    assert not live.jobs.is_unsaved("hh_1")
    stored = await live.store.get("hh_1")
    assert stored is not None
    assert stored.status == "queued"


async def test_a_job_s_end_is_told_even_when_a_cancel_racing_it_stops_following_it_first(live: Live) -> None:
    await _followed(live)
    await live.jobs.update("hh_1", status="running")
    in_store, go_on = anyio.Event(), anyio.Event()
    live.store.end_held = (in_store, go_on)
    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(live.jobs.update, "hh_1", status="completed"))
        await in_store.wait()
        with pytest.raises(LeaseLost):  # the cancel finds the job ended: the runner stops following it
            await live.jobs.update("hh_1", cancel_requested=True)
        live.jobs.drop("hh_1")
        go_on.set()
    assert live.changed == ["running", "completed"]
    assert live.jobs.get("hh_1") is None


async def test_a_state_kept_in_memory_is_written_on_top_of_another_process_s_write_made_meanwhile(live: Live) -> None:
    # Another process's cancel reaches the store meanwhile (a lock held by that write can be why this one failed).
    await _kept_then_cancelled_elsewhere(live, status="queued")
    with anyio.fail_after(5):
        while live.jobs.is_unsaved("hh_1"):
            changed = live.jobs.changed("hh_1")
            assert changed is not None, "still followed here"
            await changed.wait()
    stored = await live.store.get("hh_1")
    assert stored is not None
    assert (stored.status, stored.cancel_requested) == ("queued", True)
    followed = live.jobs.get("hh_1")
    assert followed is not None, "still followed here"
    assert followed.cancel_requested


async def test_a_change_made_on_top_of_another_process_s_write_keeps_the_changes_still_unsaved(live: Live) -> None:
    await _kept_then_cancelled_elsewhere(live, status="queued")
    written = await live.jobs.update("hh_1", queue_position=3)
    assert (written.status, written.queue_position, written.cancel_requested) == ("queued", 3, True)
    assert not live.jobs.is_unsaved("hh_1")


async def test_a_kept_end_written_on_top_of_another_process_s_write_is_no_longer_held_in_memory(live: Live) -> None:
    await _kept_then_cancelled_elsewhere(live, status="completed")
    with anyio.fail_after(5):
        while live.jobs.get("hh_1") is not None:
            changed = live.jobs.changed("hh_1")
            assert changed is not None
            await changed.wait()
    stored = await live.store.get("hh_1")
    assert stored is not None
    assert (stored.status, stored.cancel_requested) == ("completed", True)
