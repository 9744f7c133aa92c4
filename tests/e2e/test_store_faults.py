"""A store that fails never takes the server down: a damaged file is named with what to do, a refused write is
retried until the store takes it, and admission that cannot be recorded submits nothing."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import anyio
import pytest
from mcp import Client

from happyhorse_mcp.config import Settings
from happyhorse_mcp.domain.catalog import TEXT_TO_VIDEO
from happyhorse_mcp.domain.errors import StoreError
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.jobs.drafts import JobDraft
from happyhorse_mcp.jobs.store import Admission, Decide
from happyhorse_mcp.jobs.store.base import Lease
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

from ..fakefal import FakeFal
from ..support import make_server, runner_rig, text_of

ENDPOINT = TEXT_TO_VIDEO.endpoints["1.0"]

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("damage", [b"this is not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 4000])
async def test_a_damaged_store_makes_every_tool_say_which_file_and_what_to_do(
    settings: Settings, fake: FakeFal, damage: bytes
) -> None:
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / "jobs.sqlite3").write_bytes(damage)
    async with Client(make_server(settings)) as client:
        for tool, arguments in [("list_jobs", {}), ("generate_video", {"prompt": "a horse"})]:
            result = await client.call_tool(tool, arguments)
            assert result.is_error
            assert "jobs.sqlite3" in text_of(result)
            assert "Move it aside" in text_of(result)
        assert (await client.call_tool("list_jobs", {})).is_error, "the server is still up and answering"
    assert fake.submits == []


async def test_a_store_from_this_version_still_opens_after_a_damaged_one_was_moved_aside(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True)
    damaged = settings.data_dir / "jobs.sqlite3"
    damaged.write_bytes(b"garbage" * 100)
    damaged.rename(damaged.with_suffix(".damaged"))
    async with Client(make_server(settings)) as client:
        assert not (await client.call_tool("list_jobs", {})).is_error
    with sqlite3.connect(damaged.with_suffix(".sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM jobs").fetchone() == (0,)


class FlakyStore(MemoryJobStore):
    """Refuses writes while `full` is set, as SQLite does on a full disk."""

    def __init__(self) -> None:
        super().__init__()
        self.full = False
        self.refused = 0
        self.finished_written = anyio.Event()

    async def update(self, job: Job, *, holder: str | None = None) -> Job | None:
        if self.full:
            self.refused += 1
            raise StoreError("The job store /tmp/jobs.sqlite3 could not be used (database or disk is full).")
        written = await super().update(job, holder=holder)
        if written is not None and written.finished:
            self.finished_written.set()
        return written


async def test_a_job_whose_state_the_store_refused_is_kept_and_written_again_once_it_can_be(fake: FakeFal) -> None:
    store = FlakyStore()
    async with runner_rig(fake, store) as rig:
        fake.hold = True
        job = await rig.runner.submit(JobDraft(rig.operation, ENDPOINT, {"prompt": "a foal"}, 1.4))
        store.full = True
        assert job.request_id is not None
        fake.complete(job.request_id)
        with anyio.fail_after(5):
            done = await rig.runner.wait(job.job_id, 30)
        assert done.status == "completed", "the job goes on in memory"
        assert store.refused >= 1
        assert store.jobs[job.job_id].status != "completed"
        store.full = False
        with anyio.fail_after(5):
            await store.finished_written.wait()
        assert store.jobs[job.job_id].status == "completed"
        assert len(rig.runner.live) == 0


async def test_admission_the_store_cannot_record_submits_nothing_and_says_so(fake: FakeFal) -> None:
    class FullStore(MemoryJobStore):
        async def admit(
            self, job: Job, decide: Decide, *, day_start: datetime, lease: Lease | None = None
        ) -> Admission:
            raise StoreError("The job store /tmp/jobs.sqlite3 could not be used (database or disk is full).")

    async with runner_rig(fake, FullStore()) as rig:
        with pytest.raises(StoreError, match="Nothing was submitted"):
            await rig.runner.submit(JobDraft(rig.operation, ENDPOINT, {"prompt": "a foal"}, 1.4))
    assert fake.submits == []
