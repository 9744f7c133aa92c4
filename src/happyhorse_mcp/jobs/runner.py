"""Jobs followed from submit to result in the background, whether or not a client is still waiting.

A tool call submits through `JobRunner.submit` and then waits with `JobRunner.wait`; the job itself lives in the
runner's task group, so a client that times out or cancels only stops waiting. The store is the truth: each job has
one follower across every process on the store (a lease, renewed while following and taken over when it lapses),
every write is conditional on the version last read, and memory holds only the jobs this process follows.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ..domain.catalog import SPECS, Operation
from ..domain.errors import (
    DASHBOARD_REQUESTS,
    HappyHorseError,
    IdempotencyConflictError,
    OutcomeUnknownError,
    StoreError,
    SubmitUncertainError,
    UnknownJobError,
    error_type,
)
from ..domain.models import Job, JobError, JobStatus, TaskHandle, utcnow
from ..domain.pricing import billed_cost
from ..fal.download import VideoDownloader
from ..fal.queue import CancelOutcome, FalQueue, QueueStatus, SubmitReceipt
from .arguments import fingerprint, redact_data_uris
from .follow import CANCELLED_ERROR_TYPE, Cancelled, FollowPolicy, follow, save_copy
from .keeping import Keeping, LeaseLost
from .spend import SpendGuard
from .store import JobStore
from .store.base import Lease

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECONDS = 4.0
# How often a submitter whose lease lapsed tries to write fal's answer before giving up (rare: a process paused).
RECLAIM_TRIES = 20

ProgressFn = Callable[[Job, float], Awaitable[None]]


@dataclass(frozen=True)
class CancelReport:
    """What a cancel did: the job as it is now, and whether this call asked fal (and fal's answer)."""

    job: Job
    fal_answer: CancelOutcome | None = None
    # fal's answer to the submit had not arrived: the submitter asks fal to cancel the moment it records it.
    deferred: bool = False


def new_job_id() -> str:
    return "hh_" + secrets.token_hex(8)


class JobRunner(Keeping):
    def __init__(
        self,
        fal: FalQueue,
        store: JobStore,
        guard: SpendGuard,
        task_group: TaskGroup,
        *,
        downloader: VideoDownloader | None = None,
        on_status_change: Callable[[Job], Awaitable[None]] | None = None,
        on_change_elsewhere: Callable[[str], Awaitable[None]] | None = None,
        policy: FollowPolicy | None = None,
    ) -> None:
        self._fal = fal
        self._store = store
        self._tg = task_group
        self.policy = policy or FollowPolicy()
        self._guard = guard
        self._on_status_change = on_status_change
        self._on_change_elsewhere = on_change_elsewhere
        self._downloader = downloader
        self._live: dict[str, Job] = {}
        self._changed: dict[str, anyio.Event] = {}
        self._unsaved: dict[str, Job] = {}
        self._flushing = False
        self.lease = Lease(f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}", self.policy.lease_seconds)
        self._keeping = False
        # Calls waiting on jobs another process follows, woken by the store's change feed.
        self._elsewhere: dict[str, set[anyio.Event]] = {}
        self._watching = False

    @property
    def live_jobs(self) -> int:
        return len(self._live)

    async def submit(
        self,
        operation: Operation,
        endpoint: str,
        arguments: dict[str, Any],
        cost_usd: float,
        *,
        sent_by_caller: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        max_cost_usd: float | None = None,
        save_to: Path | None = None,
        task: TaskHandle | None = None,
    ) -> Job:
        """Check the budget, record the job, submit it once and follow it in the background.

        `arguments` go to fal; `sent_by_caller` (default: the same) are what the call named, local paths and all,
        and identify a retry with the same `idempotency_key`. Returns once fal has answered the submit, or at once
        with the earlier job for a known key. The submit runs in the runner's task group, so cancelling the caller
        cannot cut a submit in half. The record keeps a digest of a data: URI, not its bytes.
        """
        job_id = new_job_id()
        if save_to is not None and save_to.suffix.lower() != ".mp4":
            save_to = save_to / f"{job_id}.mp4"
        identity = fingerprint(endpoint, sent_by_caller if sent_by_caller is not None else arguments)
        draft = Job(
            job_id=job_id,
            operation=operation,
            endpoint=endpoint,
            arguments=redact_data_uris(arguments),
            fingerprint=identity,
            cost_usd=cost_usd,
            idempotency_key=idempotency_key,
            save_path=str(save_to) if save_to else None,
            task=task,
        )
        self._keep_leases()
        job, created = await self._guard.admit(draft, max_cost_usd=max_cost_usd, lease=self.lease)
        if not created:
            # Records from before fingerprints compare their stored arguments.
            earlier = (job.endpoint, job.arguments)
            same = job.fingerprint == identity if job.fingerprint else earlier == (endpoint, draft.arguments)
            if not same:
                raise IdempotencyConflictError(idempotency_key or "", job.job_id)
            logger.info("idempotency key matched job %s; not submitting again", job.job_id)
            return self._live.get(job.job_id, job)
        await self._publish(job)
        answered = anyio.Event()
        self._tg.start_soon(self._run, job.job_id, arguments, answered)
        await answered.wait()
        return await self.get(job.job_id)

    async def get(self, job_id: str) -> Job:
        job = self._live.get(job_id) or await self._store.get(job_id)
        if job is None:
            raise UnknownJobError(job_id)
        return job

    async def by_idempotency_key(self, key: str) -> Job | None:
        return await self._store.by_idempotency_key(key)

    async def recent(self, limit: int = 50, status: str | None = None) -> list[Job]:
        return await self._store.recent(limit, status)

    async def wait(self, job_id: str, wait_seconds: float, progress: ProgressFn | None = None) -> Job:
        """Wait up to `wait_seconds` for the job to finish, reporting progress on every change and every few seconds.

        A job followed here wakes the wait the moment it changes; one followed by another process, when the store
        reports a change (PostgreSQL's NOTIFY, SQLite's data version)."""
        started = time.monotonic()
        job = await self.get(job_id)
        reported: tuple[str, int | None, float] | None = None
        while not job.finished:
            now = time.monotonic()
            remaining = wait_seconds - (now - started)
            if remaining <= 0:
                break
            # Taken before reporting progress, so a change made meanwhile still wakes this wait.
            changed = self._changed.get(job_id)
            due = reported is None or (job.status, job.queue_position) != reported[:2]
            if progress is not None and (due or now - reported[2] >= PROGRESS_INTERVAL_SECONDS):  # type: ignore[index]
                await progress(job, now - started)
                reported = (job.status, job.queue_position, now)
            if changed is None:  # followed by another process: its writes come through the store's change feed
                changed = anyio.Event()
                self._elsewhere.setdefault(job_id, set()).add(changed)
                self._watch_store()
            try:
                with anyio.move_on_after(min(remaining, PROGRESS_INTERVAL_SECONDS)):
                    await changed.wait()
            finally:
                self._elsewhere.get(job_id, set()).discard(changed)
            job = await self.get(job_id)
        return job

    async def cancel(self, job_id: str) -> CancelReport:
        """Record the cancel, then ask fal when the written record holds fal's request id. The decision comes from
        the write itself, never from an earlier read: a submit whose answer lands meanwhile is either in the record
        written here (then fal is asked here) or reads the cancel when it records its request id (then its
        submitter asks fal)."""
        job = await self.get(job_id)
        if job.finished:
            return CancelReport(job)
        written: Job | None = None
        if job_id in self._live:
            try:
                written = await self._update(job_id, cancel_requested=True)
            except LeaseLost:
                self._drop(job_id)
        if written is None:  # another process follows it: it reads the cancel from the store
            written = await self._write_elsewhere(job_id, cancel_requested=True)
        if written.finished:
            return CancelReport(written)
        if written.request_id is None:
            return CancelReport(written, deferred=True)
        answer = await self._fal.cancel(written.endpoint, written.request_id)
        logger.info("cancel of %s at fal: %s", job_id, answer)
        return CancelReport(await self.get(job_id), fal_answer=answer)

    async def _write_elsewhere(self, job_id: str, **changes: Any) -> Job:
        """Change a job another process follows: from the version read, again after a conflict."""
        while True:
            job = await self.get(job_id)
            if job.finished:
                return job
            written = await self._store.update(job.model_copy(update={**changes, "updated_at": utcnow()}))
            if written is not None:
                return written

    async def _run(self, job_id: str, arguments: dict[str, Any], answered: anyio.Event) -> None:
        try:
            submitted = await self._submit_once(job_id, arguments, answered)
            # fal has the arguments now: a job followed for minutes keeps none of their bytes (a data: URI can be
            # tens of MB), only the record's digest of them.
            del arguments
            if submitted:
                await self._follow_to_end(job_id)
        except LeaseLost:
            self._drop(job_id)
        finally:
            answered.set()

    async def _submit_once(self, job_id: str, arguments: dict[str, Any], answered: anyio.Event) -> bool:
        """Send the job to fal and record its answer; whether there is a request to follow."""
        job = self._live[job_id]
        try:
            try:
                receipt = await self._fal.submit(job.endpoint, arguments)
            except HappyHorseError as exc:
                await self._finish(job_id, exc.ends_job_as, error=exc)
                return False
            except Exception as exc:  # a bug must not take the server down; its text may quote a request
                logger.exception("job %s: internal error while submitting", job_id)
                await self._finish(
                    job_id,
                    "unknown",
                    error=SubmitUncertainError(
                        f"Internal error while submitting the job ({type(exc).__name__}; the server's log has "
                        f"details). It may have reached fal: look for it at {DASHBOARD_REQUESTS} before trying again."
                    ),
                )
                return False
            recorded = await self._record_receipt(job_id, receipt)
            logger.info("job %s submitted to %s as %s", job_id, job.endpoint, receipt.request_id)
        finally:
            answered.set()
        if self._live.get(job_id, recorded).cancel_requested:
            try:
                await self._fal.cancel(job.endpoint, receipt.request_id)
            except HappyHorseError as exc:
                logger.warning("cancel of %s at fal failed: %s", job_id, exc.message)
        return True

    async def _record_receipt(self, job_id: str, receipt: SubmitReceipt) -> Job:
        """Write fal's request id: the job's only link to its video, so it is always written, whoever holds the
        lease. A submitter paused past its lease (a laptop lid, a debugger) finds its job marked `unknown` by the
        process that took it over; the id makes it a followed job again, followed here."""
        recorded = {"status": "queued", "request_id": receipt.request_id, "queue_position": receipt.queue_position}
        try:
            return await self._update(job_id, **recorded)
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
                    self._changed.setdefault(job_id, anyio.Event())
                    await self._publish(written)
                    if self._on_status_change is not None and fresh.status != written.status:
                        await self._on_status_change(written)
                    return written
                if written is not None:
                    break  # another process took the reopened job over first: it follows it
                continue
            await anyio.sleep(self.policy.poll_interval)  # its taker is about to mark it unknown
        logger.error(
            "job %s: fal's request id %s could not be recorded; look for it at %s",
            job_id,
            receipt.request_id,
            DASHBOARD_REQUESTS,
        )
        raise LeaseLost(job_id)

    async def _follow(self, job_id: str) -> None:
        try:
            await self._follow_to_end(job_id)
        except LeaseLost:
            self._drop(job_id)

    async def _follow_to_end(self, job_id: str) -> None:
        """Follow a submitted job to its end; whatever happens ends that job, never the server."""
        try:
            outcome = await follow(self._fal, self._followed(job_id), self.policy, lambda s: self._apply(job_id, s))
            if isinstance(outcome, Cancelled):
                await self._finish(job_id, "cancelled")
                return
            await self._update(job_id, output=outcome)  # kept before the download, which may take minutes
            saved = await save_copy(self._downloader, self._followed(job_id), outcome)
            await self._finish(job_id, "completed", output=outcome, **saved)
        except LeaseLost:
            raise
        except HappyHorseError as exc:
            cancelled = error_type(exc) == CANCELLED_ERROR_TYPE
            if exc.ends_job_as == "failed" and (cancelled or self._followed(job_id).cancel_requested):
                await self._finish(job_id, "cancelled")
            else:
                await self._finish(job_id, exc.ends_job_as, error=exc)
        except Exception as exc:  # a bug in one job must not take down the task group
            logger.exception("job %s: internal error while following it", job_id)
            request = self._followed(job_id).request_id
            await self._finish(
                job_id,
                "unknown",
                error=OutcomeUnknownError(
                    f"Internal error while following the job ({type(exc).__name__}; the server's log has details). "
                    f"It may have been billed: look for request {request} at {DASHBOARD_REQUESTS}."
                ),
            )

    async def _apply(self, job_id: str, status: QueueStatus) -> None:
        job = self._live.get(job_id)
        if job is None:
            raise LeaseLost(job_id)
        if status.status == "IN_QUEUE" and (job.status != "queued" or job.queue_position != status.queue_position):
            await self._update(job_id, status="queued", queue_position=status.queue_position)
        elif status.status == "IN_PROGRESS" and job.status != "running":
            await self._update(job_id, status="running", queue_position=None)

    async def _finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        error: HappyHorseError | None = None,
        output: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        job = self._live.get(job_id)
        if job is None:
            raise LeaseLost(job_id)
        changes: dict[str, Any] = {"status": status, "finished_at": utcnow(), "queue_position": None, **extra}
        if error is not None:
            changes["error"] = JobError(type=error_type(error), message=error.message)
        if output is not None:
            changes["output"] = output
            changes["cost_usd"] = billed_cost(SPECS[job.operation], job.cost_usd, job.arguments, output)
        elif status in ("failed", "cancelled"):
            changes["cost_usd"] = 0.0  # fal bills only runs that produce a result
        await self._update(job_id, **changes)
        logger.info("job %s %s", job_id, status)
        if job_id not in self._unsaved:  # the store has it: memory keeps only live jobs
            self._drop(job_id)

    async def _update(self, job_id: str, **changes: Any) -> Job:
        """Write a change to a job followed here, from the version last read, and return the job as written.
        Another process's write (a cancel) is read and kept, the change made again on top; a lost lease raises
        LeaseLost."""
        job = self._live.get(job_id)
        if job is None:  # the lease was lost meanwhile
            raise LeaseLost(job_id)
        while True:
            proposed = job.model_copy(update={**changes, "updated_at": utcnow()})
            try:
                written = await self._store.update(proposed, holder=self.lease.holder)
            except StoreError as exc:
                # The job goes on in memory; its state is written again until the store takes it.
                logger.error("job %s: %s Retrying every %.0f s.", job_id, exc.message, self.policy.store_retry)
                self._unsaved[job_id] = proposed
                if not self._flushing:
                    self._flushing = True
                    self._tg.start_soon(self._flush_unsaved)
                await self._publish(proposed)
                return proposed
            if written is not None:
                break
            fresh = await self._store.get(job_id)
            if fresh is None or fresh.finished or not await self._store.claim(job_id, self.lease):
                raise LeaseLost(job_id)
            job = fresh
        self._unsaved.pop(job_id, None)
        await self._publish(written)
        return written

    def _followed(self, job_id: str) -> Job:
        if (job := self._live.get(job_id)) is None:
            raise LeaseLost(job_id)
        return job

    def _drop(self, job_id: str) -> None:
        """Stop holding a job in memory; a call waiting on it reads the store from now on."""
        self._live.pop(job_id, None)
        self._unsaved.pop(job_id, None)
        if (changed := self._changed.pop(job_id, None)) is not None:
            changed.set()

    async def _publish(self, job: Job) -> None:
        """Tell waiting calls about the job's new state, and subscribers when its status changed."""
        before = self._live.get(job.job_id)
        if before is not None and job.version < before.version:
            return  # a write that finished after a newer one: memory keeps the newer
        self._live[job.job_id] = job
        previous = self._changed.get(job.job_id)
        self._changed[job.job_id] = anyio.Event()
        if previous is not None:
            previous.set()
        for waiting in self._elsewhere.get(job.job_id, ()):  # a job this process took over from another
            waiting.set()
        if self._on_status_change is not None and before is not None and before.status != job.status:
            await self._on_status_change(job)
