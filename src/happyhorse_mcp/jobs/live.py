"""The jobs this process follows, held in memory while it does, and every write of theirs to the store.

A write is made from the version last read and under this process's lease: another process's write (a cancel) is
read and kept, the change made again on top, and a lost lease raises LeaseLost. A state the store refuses (a full
disk, a lock held too long) stays in memory and is written again until the store takes it, its changes made on top of
any other process's write meanwhile. Calls waiting on a job wake on each change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import anyio
from anyio.abc import TaskGroup

from ..domain.errors import DASHBOARD_REQUESTS, StoreError
from ..domain.models import Job, utcnow
from ..fal.queue import SubmitReceipt
from .changes import ChangeFeed
from .leases import LeaseLost
from .store import JobStore
from .store.base import Lease

logger = logging.getLogger(__name__)

# How often a submitter whose lease lapsed tries to write fal's answer before giving up (rare: a process paused).
RECLAIM_TRIES = 20


class _Kept(NamedTuple):
    """A state the store refused, kept until it takes it, and the changes that made it (to make again on top of
    another process's write meanwhile)."""

    job: Job
    changes: dict[str, Any]


class LiveJobs:
    def __init__(
        self,
        store: JobStore,
        lease: Lease,
        task_group: TaskGroup,
        *,
        store_retry: float,
        reclaim_wait: float,
        changes: ChangeFeed,
        on_status_change: Callable[[Job], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self.lease = lease
        self._tg = task_group
        self._store_retry = store_retry
        self._reclaim_wait = reclaim_wait
        self._changes = changes
        self._on_status_change = on_status_change
        self._live: dict[str, Job] = {}
        self._changed: dict[str, anyio.Event] = {}
        self._unsaved: dict[str, _Kept] = {}
        self._writing: dict[str, int] = {}  # job id: writes of it under way here
        self._flushing = False

    def __len__(self) -> int:
        return len(self._live)

    def ids(self) -> list[str]:
        return list(self._live)

    def unsettled_ids(self) -> list[str]:
        """Jobs whose state here the store may not match yet: being written, or kept until the store takes it."""
        return [*self._unsaved, *self._writing]

    def get(self, job_id: str) -> Job | None:
        return self._live.get(job_id)

    def followed(self, job_id: str) -> Job:
        """The job as last written here; LeaseLost when this process no longer follows it."""
        if (job := self._live.get(job_id)) is None:
            raise LeaseLost(job_id)
        return job

    def changed(self, job_id: str) -> anyio.Event | None:
        """An event set at the job's next change, when it is followed here."""
        return self._changed.get(job_id)

    def add(self, job: Job) -> None:
        """Follow a job from now on (one just taken over)."""
        self._live[job.job_id] = job
        self._changed[job.job_id] = anyio.Event()

    async def update(self, job_id: str, **changes: Any) -> Job:
        """Write a change to a job followed here, from the version last read, and return the job as written.
        Another process's write (a cancel) is read and kept, the change made again on top; a lost lease raises
        LeaseLost."""
        self._writing[job_id] = self._writing.get(job_id, 0) + 1
        try:
            return await self._update(job_id, changes)
        finally:
            if (left := self._writing.pop(job_id) - 1) > 0:
                self._writing[job_id] = left

    async def _update(self, job_id: str, changes: dict[str, Any]) -> Job:
        job = self._live.get(job_id)
        if job is None:  # the lease was lost meanwhile
            raise LeaseLost(job_id)
        while True:
            proposed = job.model_copy(update={**changes, "updated_at": utcnow()})
            try:
                written = await self._store.update(proposed, holder=self.lease.holder)
            except StoreError as exc:
                # The job goes on in memory; its state is written again until the store takes it.
                logger.error("job %s: %s Retrying every %.0f s.", job_id, exc.message, self._store_retry)
                self._unsaved[job_id] = _Kept(proposed, {**self._kept_changes(job_id), **changes})
                if not self._flushing:
                    self._flushing = True
                    self._tg.start_soon(self._flush_unsaved)
                await self.publish(proposed)
                return proposed
            if written is not None:
                break
            fresh = await self._store.get(job_id)
            if fresh is None or fresh.finished or not await self._store.claim(job_id, self.lease):
                raise LeaseLost(job_id)
            # Made again on top of the other write: this change and those kept in memory until the store took them.
            job, changes = fresh, {**self._kept_changes(job_id), **changes}
        self._unsaved.pop(job_id, None)
        await self.publish(written, written_from=job)
        return written

    def drop(self, job_id: str) -> None:
        """Stop holding a job in memory; a call waiting on it reads the store from now on."""
        self._live.pop(job_id, None)
        self._unsaved.pop(job_id, None)
        if (changed := self._changed.pop(job_id, None)) is not None:
            changed.set()

    async def publish(self, job: Job, *, written_from: Job | None = None) -> None:
        """Tell waiting calls about the job's new state, and subscribers when its status changed. A job written here
        (`written_from` the state it was written from) that stopped being followed while the write was under way (a
        cancel found it ended) is not followed again, but its change is still told."""
        before = self._live.get(job.job_id)
        if before is not None and job.version < before.version:
            return  # a write that finished after a newer one: memory keeps the newer
        if before is not None or written_from is None:
            self._live[job.job_id] = job
            previous = self._changed.get(job.job_id)
            self._changed[job.job_id] = anyio.Event()
            if previous is not None:
                previous.set()
        self._changes.wake(job.job_id)  # a job this process took over from another
        was = before or written_from
        if self._on_status_change is not None and was is not None and was.status != job.status:
            await self._on_status_change(job)

    async def record_receipt(self, job_id: str, receipt: SubmitReceipt) -> Job:
        """Write fal's request id: the job's only link to its video, so it is always written, whoever holds the
        lease. A submitter paused past its lease (a laptop lid, a debugger) finds its job marked `unknown` by the
        process that took it over; the id makes it a followed job again, followed here."""
        recorded = {"status": "queued", "request_id": receipt.request_id, "queue_position": receipt.queue_position}
        try:
            return await self.update(job_id, **recorded)
        except LeaseLost:
            pass
        for _ in range(RECLAIM_TRIES):
            fresh = await self._store.get(job_id)
            if fresh is None or fresh.request_id is not None or fresh.status not in ("submitting", "unknown"):
                break  # nothing to restore: the job was written by someone who knew more
            if fresh.finished or await self._store.claim(job_id, self.lease):
                reopened = fresh.model_copy(
                    update={**recorded, "error": None, "finished_at": None, "updated_at": utcnow()}
                )
                held = None if fresh.finished else self.lease.holder
                written = await self._store.update(reopened, holder=held)
                if written is not None and (held or await self._store.claim(job_id, self.lease)):
                    logger.warning(
                        "job %s: fal's answer arrived after another process gave the submit up; following it again",
                        job_id,
                    )
                    await self.publish(written)
                    if self._on_status_change is not None and fresh.status != written.status:
                        await self._on_status_change(written)
                    return written
                if written is not None:
                    break  # another process took the reopened job over first: it follows it
                continue
            await anyio.sleep(self._reclaim_wait)  # its taker is about to mark it unknown
        logger.error(
            "job %s: fal's request id %s could not be recorded; look for it at %s",
            job_id,
            receipt.request_id,
            DASHBOARD_REQUESTS,
        )
        raise LeaseLost(job_id)

    def is_unsaved(self, job_id: str) -> bool:
        return job_id in self._unsaved

    def _kept_changes(self, job_id: str) -> dict[str, Any]:
        kept = self._unsaved.get(job_id)
        return kept.changes if kept is not None else {}

    async def _flush_unsaved(self) -> None:
        try:
            while self._unsaved:
                await anyio.sleep(self._store_retry)
                for job_id, kept in list(self._unsaved.items()):
                    try:
                        written = await self._store.update(kept.job, holder=self.lease.holder)
                    except StoreError:
                        break
                    if self._unsaved.get(job_id) is not kept:
                        continue
                    if written is None:  # another process wrote meanwhile (a cancel): the changes made on top
                        try:
                            written = await self.update(job_id)
                        except LeaseLost:
                            logger.warning("job %s: a state kept in memory was overtaken in the store", job_id)
                            self.drop(job_id)
                            continue
                        if written.finished and not self.is_unsaved(job_id):
                            self.drop(job_id)
                        continue
                    del self._unsaved[job_id]
                    logger.info("job %s written to the store again", job_id)
                    if written.finished:
                        self.drop(job_id)
                    else:
                        self._live[job_id] = written
        finally:
            self._flushing = False
