"""Other processes' changes, as the store reports them: a call waiting on a job is woken when that job changes (or
when the store cannot tell which did), not by another job's change; the server hears of jobs it does not follow."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from happyhorse_mcp.jobs.changes import ChangeFeed
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

pytestmark = pytest.mark.anyio


class Reported(MemoryJobStore):
    """A store whose change feed the test writes to, as another process's commits would."""

    def __init__(self) -> None:
        super().__init__()
        self.send, self.receive = anyio.create_memory_object_stream[set[str] | None](10)

    async def changes(self) -> AsyncIterator[set[str] | None]:
        async for changed in self.receive:
            yield changed


async def test_a_waiter_wakes_for_its_job_or_an_unknown_change_and_not_for_another_job() -> None:
    store = Reported()
    async with store.send, store.receive, anyio.create_task_group() as tg:
        feed = ChangeFeed(store, tg, retry_seconds=0.01, followed_here=list)
        with feed.waiting_on("hh_1") as woken:
            await store.send.send({"hh_2"})
            await store.send.send({"hh_1"})
            with anyio.fail_after(5):
                await woken.wait()
        with feed.waiting_on("hh_1") as unknown:
            await store.send.send(None)  # SQLite's data version: something changed, it cannot say what
            with anyio.fail_after(5):
                await unknown.wait()
        with feed.waiting_on("hh_1") as untouched, feed.waiting_on("hh_9") as probe:
            await store.send.send({"hh_3"})
            await store.send.send({"hh_9"})  # read after the change before it: once it wakes, that one was read
            with anyio.fail_after(5):
                await probe.wait()
            assert not untouched.is_set()
        tg.cancel_scope.cancel()


async def test_the_server_hears_of_jobs_another_process_follows_but_not_of_its_own() -> None:
    store, heard, told = Reported(), list[str](), anyio.Event()

    async def elsewhere(job_id: str) -> None:
        heard.append(job_id)
        if job_id == "hh_theirs":
            told.set()

    async with store.send, store.receive, anyio.create_task_group() as tg:
        feed = ChangeFeed(
            store, tg, retry_seconds=0.01, followed_here=lambda: ["hh_mine"], on_change_elsewhere=elsewhere
        )
        feed.start()
        await store.send.send({"hh_mine", "hh_theirs"})
        with anyio.fail_after(5):
            await told.wait()
        tg.cancel_scope.cancel()
    assert heard == ["hh_theirs"]
