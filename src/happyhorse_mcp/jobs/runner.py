"""Jobs followed from submit to result in the background, whether or not a client is still waiting.

A tool call submits through `JobRunner.submit` and then waits with `JobRunner.wait`; the job itself lives in the
runner's task group, so a client that times out or cancels only stops waiting. The store is the truth: each job has
one follower across every process on the store (a lease, renewed while following and taken over when it lapses),
every write is conditional on the version last read, and memory holds only the jobs this process follows.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from anyio.abc import TaskGroup

from ..domain.catalog import SPECS, Operation
from ..domain.errors import (
    DASHBOARD_REQUESTS,
    HappyHorseError,
    IdempotencyConflictError,
    OutcomeUnknownError,
    SubmitUncertainError,
    UnknownJobError,
    error_type,
)
from ..domain.film import FilmKind
from ..domain.models import Job, JobError, JobStatus, utcnow
from ..domain.pricing import billed_cost
from ..fal.download import VideoDownloader
from ..fal.queue import CancelOutcome, FalQueue, QueueStatus
from ..observability import metrics
from ..observability.tracing import current_traceparent, span
from .accounts import FalAccounts
from .billing import BillingReconciler
from .changes import ChangeFeed
from .drafts import JobDraft
from .follow import CANCELLED_ERROR_TYPE, Cancelled, FollowPolicy, follow, save_copy
from .leases import LeaseLost, Leases
from .live import RECLAIM_TRIES, LiveJobs
from .spend import SpendGuard
from .store import JobStore
from .store.base import Lease
from .waiting import ProgressFn, wait_for

if TYPE_CHECKING:
    from .prices import LivePriceWatcher
    from .settle import Settler
    from .webhooks import Webhooks

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CancelReport:
    """What a cancel did: the job as it is now, and whether this call asked fal (and fal's answer)."""

    job: Job
    fal_answer: CancelOutcome | None = None
    # fal's answer to the submit had not arrived: the submitter asks fal to cancel the moment it records it.
    deferred: bool = False
    # A film's unfinished shots this cancel asked to stop.
    shots: tuple[str, ...] = ()


class FilmDriver(Protocol):
    """What makes films (jobs/films.py): the runner follows their records like jobs', and hands them over here."""

    async def take_over(self, film: Job) -> bool: ...

    async def cancel(self, film: Job) -> CancelReport: ...


class JobRunner:
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
        accounts: FalAccounts | None = None,
        sandbox: bool = False,
    ) -> None:
        self._fal = fal
        self.sandbox = sandbox  # fal is the sandbox's stand-in: every job says so
        metrics.count_in_flight(self)
        self._accounts = accounts
        self.store = store
        self._tg = task_group
        self.policy = policy or FollowPolicy()
        self._guard = guard
        self._downloader = downloader
        self.lease = Lease(f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}", self.policy.lease_seconds)
        self.changes = ChangeFeed(
            store,
            task_group,
            retry_seconds=self.policy.store_retry,
            followed_here=lambda: self._jobs.ids(),
            on_change_elsewhere=on_change_elsewhere,
        )
        # Memory holds only the jobs this process follows, and the states of theirs the store has yet to take.
        self._jobs = LiveJobs(
            store,
            self.lease,
            task_group,
            store_retry=self.policy.store_retry,
            reclaim_wait=self.policy.poll_interval,
            changes=self.changes,
            on_status_change=on_status_change,
        )
        self.leases = Leases(
            store,
            self.lease,
            task_group,
            followed=self._jobs.ids,
            unsettled=self._jobs.unsettled_ids,
            lost=self._jobs.drop,
            take_over=self._take_over,
        )

    # Films are followed here too (leased, taken over, cancelled), but made by jobs/films.py, set once it exists.
    films: FilmDriver | None = None
    # Reads what fal billed for each completed job (jobs/billing.py), set when the deployment has an admin key.
    billing: BillingReconciler | None = None
    # Hears each job's end from fal's webhook (jobs/webhooks.py), set when HAPPYHORSE_WEBHOOK_URL is served.
    webhooks: Webhooks | None = None
    # Looks up jobs whose submit's answer was lost in fal's records (jobs/settle.py), set unless in the sandbox.
    settler: Settler | None = None
    # Reads fal's live prices at start and daily (jobs/prices.py), set unless in the sandbox.
    prices: LivePriceWatcher | None = None

    @property
    def live(self) -> LiveJobs:
        """The jobs (and films) this process follows, and every write of theirs."""
        return self._jobs

    async def resume(self) -> int:
        """Follow every unfinished job whose follower is gone (a previous run, a process that died); returns how
        many. Keeps doing so, renewing this process's leases and watching the store, for as long as it runs."""
        followed = await self.leases.take_over_orphans()
        self.leases.keep()
        self.changes.start()
        for watcher in (self.settler, self.prices):
            if watcher is not None:
                watcher.start()
        return followed

    async def _take_over(self, job: Job) -> bool:
        """A job whose follower is gone, now leased here: followed, or ended `unknown` when its submitter never
        recorded fal's answer (it is never resubmitted)."""
        self._jobs.add(job)
        if isinstance(job.operation, FilmKind) and self.films is not None:
            return await self.films.take_over(job)
        if job.request_id is None:
            with contextlib.suppress(LeaseLost):
                await self._finish(
                    job.job_id,
                    "unknown",
                    error=SubmitUncertainError(
                        "The server stopped while submitting this job, before fal's answer was recorded. "
                        f"It may have been billed: look for it at {DASHBOARD_REQUESTS}. It was not resubmitted."
                    ),
                )
            return False
        logger.info("following job %s, whose follower is gone", job.job_id)
        self._tg.start_soon(self._follow, job.job_id)
        return True

    def in_flight(self) -> int:
        """Jobs this process follows now (the in-flight gauge)."""
        return len(self._jobs)

    async def submit(self, draft: JobDraft) -> Job:
        """Check the budget, record the job as its owner's, submit it once and follow it in the background. Returns
        once fal has answered the submit, or at once with the earlier job for a known key. The submit runs in the
        runner's task group, so cancelling the caller cannot cut a submit in half."""
        self.leases.keep()
        record = draft.record()
        record = record.model_copy(
            update={
                "sandbox": self.sandbox,
                "trace": current_traceparent(),
                "webhook_token": self.webhooks.token_for(record.job_id) if self.webhooks else None,
            }
        )
        job, created = await self._guard.admit(record, draft.spend, lease=self.lease)
        if not created:
            # Records from before fingerprints compare their stored arguments.
            earlier = (job.endpoint, job.arguments)
            same = (
                job.fingerprint == record.fingerprint
                if job.fingerprint
                else earlier == (draft.endpoint, record.arguments)
            )
            if not same:
                raise IdempotencyConflictError(draft.idempotency_key or "", job.job_id)
            logger.info("idempotency key matched job %s; not submitting again", job.job_id)
            return self._jobs.get(job.job_id) or job
        metrics.ESTIMATED_USD.add(job.cost_usd or 0.0, {"happyhorse.endpoint": job.endpoint})
        await self._jobs.publish(job)
        answered = anyio.Event()
        self._tg.start_soon(self._run, job.job_id, draft.arguments, answered)
        await answered.wait()
        return await self.get(job.job_id)

    async def get(self, job_id: str, owner: str | None = None) -> Job:
        """The job, when it is `owner`'s (any job when None): another user's job is as unknown as no job at all."""
        live = self._jobs.get(job_id)
        job = live if live is not None and owner in (None, live.owner) else await self.store.get(job_id, owner)
        if job is None:
            raise UnknownJobError(job_id)
        return job

    async def by_idempotency_key(self, key: str, owner: str) -> Job | None:
        return await self.store.by_idempotency_key(key, owner)

    async def recent(self, limit: int = 50, status: str | None = None, owner: str | None = None) -> list[Job]:
        return await self.store.recent(limit, status, owner)

    async def wait(
        self, job_id: str, wait_seconds: float, progress: ProgressFn | None = None, *, owner: str | None = None
    ) -> Job:
        """Wait up to `wait_seconds` for the job to finish, reporting progress on every change and every few seconds
        (jobs/waiting.py)."""
        return await wait_for(self, job_id, wait_seconds, progress, owner=owner)

    async def cancel(self, job_id: str, owner: str | None = None) -> CancelReport:
        """Record the cancel, then ask fal when the written record holds fal's request id. The decision comes from
        the write itself, never from an earlier read: a submit whose answer lands meanwhile is either in the record
        written here (then fal is asked here) or reads the cancel when it records its request id (then its
        submitter asks fal)."""
        job = await self.get(job_id, owner)
        if job.finished:
            return CancelReport(job)
        if isinstance(job.operation, FilmKind) and self.films is not None:
            return await self.films.cancel(job)
        written = await self.record_cancel(job_id)
        if written.finished:
            return CancelReport(written)
        if written.request_id is None:
            return CancelReport(written, deferred=True)
        answer = await (await self.queue_for(written)).cancel(written.endpoint, written.request_id)
        logger.info("cancel of %s at fal: %s", job_id, answer)
        return CancelReport(await self.get(job_id), fal_answer=answer)

    async def record_cancel(self, job_id: str) -> Job:
        """Write the cancel on the job, as its follower when it is followed here; returns the job as written."""
        if self._jobs.get(job_id) is not None:
            try:
                return await self._jobs.update(job_id, cancel_requested=True)
            except LeaseLost:
                self._jobs.drop(job_id)
        # Another process follows it: it reads the cancel from the store.
        return await self.write_elsewhere(job_id, cancel_requested=True)

    async def queue_for(self, job: Job) -> FalQueue:
        """fal's queue signed for the account the job was sent with."""
        return await self._accounts.queue_for(job) if self._accounts is not None else self._fal

    async def reopen(self, job_id: str, **changes: Any) -> bool:
        """An `unknown` job fal has since said more about (its webhook, its platform record): made unfinished again
        with `changes` and followed to its end, here or by whichever process claims it first. False when it is no
        longer `unknown` (another process settled it first)."""
        for _ in range(RECLAIM_TRIES):
            fresh = await self.store.get(job_id)
            if fresh is None or fresh.status != "unknown":
                return False
            reopened = {"status": "queued", "error": None, "finished_at": None, "updated_at": utcnow(), **changes}
            written = await self.store.update(fresh.model_copy(update=reopened))
            if written is None:
                continue  # written meanwhile: read again
            if await self.store.claim(job_id, self.lease):
                self._jobs.add(written)
                self._tg.start_soon(self._follow, job_id)
            return True
        return False

    async def write_elsewhere(self, job_id: str, **changes: Any) -> Job:
        """Change a job another process follows: from the version read, again after a conflict."""
        while True:
            job = await self.get(job_id)
            if job.finished:
                return job
            written = await self.store.update(job.model_copy(update={**changes, "updated_at": utcnow()}))
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
            self._jobs.drop(job_id)
        finally:
            answered.set()

    async def _submit_once(self, job_id: str, arguments: dict[str, Any], answered: anyio.Event) -> bool:
        """Send the job to fal and record its answer; whether there is a request to follow."""
        job = self._jobs.followed(job_id)
        try:
            try:
                with span("fal.submit", job_id, endpoint=job.endpoint, estimated_usd=job.cost_usd) as submitting:
                    hook = self.webhooks.url_for(job) if self.webhooks is not None else None
                    receipt = await (await self.queue_for(job)).submit(job.endpoint, arguments, webhook_url=hook)
                    submitting.set_attribute("happyhorse.fal_request_id", receipt.request_id)
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
            recorded = await self._jobs.record_receipt(job_id, receipt)
            logger.info("job %s submitted to %s as %s", job_id, job.endpoint, receipt.request_id)
        finally:
            answered.set()
        if (self._jobs.get(job_id) or recorded).cancel_requested:
            try:
                await (await self.queue_for(job)).cancel(job.endpoint, receipt.request_id)
            except HappyHorseError as exc:
                logger.warning("cancel of %s at fal failed: %s", job_id, exc.message)
        return True

    async def _follow(self, job_id: str) -> None:
        try:
            await self._follow_to_end(job_id)
        except LeaseLost:
            self._jobs.drop(job_id)

    async def _follow_to_end(self, job_id: str) -> None:
        """Follow a submitted job to its end; whatever happens ends that job, never the server."""
        try:
            job = self._jobs.followed(job_id)
            heard = self.webhooks.heard(self, job_id) if self.webhooks is not None and job.webhook_token else None
            outcome = await follow(
                await self.queue_for(job), job, self.policy, lambda s: self._apply(job_id, s), heard=heard
            )
            if isinstance(outcome, Cancelled):
                await self._finish(job_id, "cancelled")
                return
            await self._jobs.update(job_id, output=outcome)  # kept before the download, which may take minutes
            saved = await save_copy(self._downloader, self._jobs.followed(job_id), outcome)
            await self._finish(job_id, "completed", output=outcome, **saved)
        except LeaseLost:
            raise
        except HappyHorseError as exc:
            cancelled = error_type(exc) == CANCELLED_ERROR_TYPE
            if exc.ends_job_as == "failed" and (cancelled or self._jobs.followed(job_id).cancel_requested):
                await self._finish(job_id, "cancelled")
            else:
                await self._finish(job_id, exc.ends_job_as, error=exc)
        except Exception as exc:  # a bug in one job must not take down the task group
            logger.exception("job %s: internal error while following it", job_id)
            request = self._jobs.followed(job_id).request_id
            await self._finish(
                job_id,
                "unknown",
                error=OutcomeUnknownError(
                    f"Internal error while following the job ({type(exc).__name__}; the server's log has details). "
                    f"It may have been billed: look for request {request} at {DASHBOARD_REQUESTS}."
                ),
            )

    async def _apply(self, job_id: str, status: QueueStatus) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            raise LeaseLost(job_id)
        if status.status == "IN_QUEUE" and (job.status != "queued" or job.queue_position != status.queue_position):
            await self._jobs.update(job_id, status="queued", queue_position=status.queue_position)
        elif status.status == "IN_PROGRESS" and job.status != "running":
            await self._jobs.update(job_id, status="running", queue_position=None)
            metrics.TIME_TO_START.record(_since(job.created_at), {"happyhorse.endpoint": job.endpoint})

    async def _finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        error: HappyHorseError | None = None,
        output: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            raise LeaseLost(job_id)
        changes: dict[str, Any] = {"status": status, "finished_at": utcnow(), "queue_position": None, **extra}
        if error is not None:
            changes["error"] = JobError(type=error_type(error), message=error.message)
        if output is not None:
            changes["output"] = output
            changes["cost_usd"] = billed_cost(SPECS[Operation(job.operation)], job.cost_usd, job.arguments, output)
        elif status in ("failed", "cancelled"):
            changes["cost_usd"] = 0.0  # fal bills only runs that produce a result
        await self._jobs.update(job_id, **changes)
        logger.info("job %s %s", job_id, status)
        metrics.TIME_TO_FINISH.record(_since(job.created_at), {"happyhorse.endpoint": job.endpoint, "status": status})
        if not self._jobs.is_unsaved(job_id):  # the store has it: memory keeps only live jobs
            self._jobs.drop(job_id)
        if status in ("completed", "failed") and self.billing is not None:
            self.billing.finished(job)  # what fal billed, read later (a 422 may be billed; a 5xx never is)


def _since(moment: datetime) -> float:
    return max(0.0, (utcnow() - moment).total_seconds())
