"""Jobs followed from submit to result in the background, whether or not a client is still waiting.

A tool call submits through `JobRunner.submit` and then waits with `JobRunner.wait`; the job itself lives in the
runner's task group, so a client that times out or cancels only stops waiting.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ..domain.catalog import SPECS, Operation
from ..domain.errors import (
    DASHBOARD_REQUESTS,
    HappyHorseError,
    IdempotencyConflictError,
    JobNotFoundError,
    ProtocolError,
    RateLimitedError,
    ResultExpiredError,
    SubmitUncertainError,
    UnknownJobError,
    UpstreamError,
    error_type,
)
from ..domain.models import Job, JobError, JobStatus, LocalCopy, utcnow
from ..domain.pricing import billed_cost
from ..fal.download import VideoDownloader
from ..fal.queue import FalQueue, QueueStatus
from .spend import SpendGuard
from .store import JobStore

logger = logging.getLogger(__name__)

# Failures worth waiting out while following a job; anything else ends it.
TRANSIENT = (UpstreamError, RateLimitedError, ProtocolError)
POLL_INTERVAL_SECONDS = 2.0
MAX_POLL_INTERVAL_SECONDS = 30.0
PROGRESS_INTERVAL_SECONDS = 4.0

ProgressFn = Callable[[Job, float], Awaitable[None]]


def new_job_id() -> str:
    return "hh_" + secrets.token_hex(8)


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
        poll_interval: float = POLL_INTERVAL_SECONDS,
        max_poll_interval: float = MAX_POLL_INTERVAL_SECONDS,
    ) -> None:
        self._fal = fal
        self._store = store
        self._tg = task_group
        self.poll_interval = poll_interval
        self._max_poll_interval = max_poll_interval
        self._guard = guard
        self._on_status_change = on_status_change
        self._downloader = downloader
        self._live: dict[str, Job] = {}
        self._changed: dict[str, anyio.Event] = {}

    async def submit(
        self,
        operation: Operation,
        endpoint: str,
        arguments: dict[str, Any],
        cost_usd: float,
        *,
        idempotency_key: str | None = None,
        max_cost_usd: float | None = None,
        save_to: Path | None = None,
    ) -> Job:
        """Check the budget, record the job, submit it once and follow it in the background.

        Returns once fal has answered the submit, or at once with the earlier job when `idempotency_key` was seen
        before. The submit runs in the runner's task group, so cancelling the caller cannot cut a submit in half.
        """
        job_id = new_job_id()
        if save_to is not None and save_to.suffix.lower() != ".mp4":
            save_to = save_to / f"{job_id}.mp4"
        draft = Job(
            job_id=job_id,
            operation=operation,
            endpoint=endpoint,
            arguments=arguments,
            cost_usd=cost_usd,
            idempotency_key=idempotency_key,
            save_path=str(save_to) if save_to else None,
        )
        job, created = await self._guard.admit(draft, max_cost_usd=max_cost_usd)
        if not created:
            if (job.endpoint, job.arguments) != (endpoint, arguments):
                raise IdempotencyConflictError(idempotency_key or "", job.job_id)
            logger.info("idempotency key matched job %s; not submitting again", job.job_id)
            return self._live.get(job.job_id, job)
        await self._saved(job)
        answered = anyio.Event()
        self._tg.start_soon(self._run, job.job_id, answered)
        await answered.wait()
        return self._live[job.job_id]

    async def resume(self) -> int:
        """Follow again every job a previous run left unfinished; returns how many."""
        count = 0
        for job in await self._store.unfinished():
            self._live[job.job_id] = job
            self._changed[job.job_id] = anyio.Event()
            if job.request_id is None:
                await self._update(
                    job.job_id,
                    status="unknown",
                    error=JobError(
                        type=SubmitUncertainError.type,
                        message="The server stopped while submitting this job, before fal's answer was recorded. "
                        f"It may have been billed: look for it at {DASHBOARD_REQUESTS}. It was not resubmitted.",
                    ),
                )
                continue
            self._tg.start_soon(self._follow, job.job_id)
            count += 1
        return count

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
        """Wait up to `wait_seconds` for the job to finish, reporting progress on every change and every few seconds."""
        started = time.monotonic()
        job = await self.get(job_id)
        while not job.finished:
            remaining = wait_seconds - (time.monotonic() - started)
            if remaining <= 0:
                break
            # Taken before reporting progress, so a change made meanwhile still wakes this wait.
            changed = self._changed.get(job_id)
            if progress is not None:
                await progress(job, time.monotonic() - started)
            if changed is None:  # not followed by this process: nothing will change
                break
            with anyio.move_on_after(min(remaining, PROGRESS_INTERVAL_SECONDS)):
                await changed.wait()
            job = await self.get(job_id)
        return job

    async def cancel(self, job_id: str) -> Job:
        job = await self.get(job_id)
        if job.finished:
            return job
        if job.request_id is None:
            await self._update(job_id, cancel_requested=True)
            return await self.get(job_id)
        await self._update(job_id, cancel_requested=True)
        outcome = await self._fal.cancel(job.endpoint, job.request_id)
        logger.info("cancel of %s at fal: %s", job_id, outcome)
        return await self.get(job_id)

    async def _run(self, job_id: str, answered: anyio.Event) -> None:
        job = self._live[job_id]
        try:
            try:
                receipt = await self._fal.submit(job.endpoint, job.arguments)
            except HappyHorseError as exc:
                await self._finish(job_id, "unknown" if isinstance(exc, SubmitUncertainError) else "failed", error=exc)
                return
            await self._update(
                job_id, status="queued", request_id=receipt.request_id, queue_position=receipt.queue_position
            )
            logger.info("job %s submitted to %s as %s", job_id, job.endpoint, receipt.request_id)
        finally:
            answered.set()
        if self._live[job_id].cancel_requested:
            try:
                await self._fal.cancel(job.endpoint, receipt.request_id)
            except HappyHorseError as exc:
                logger.warning("cancel of %s at fal failed: %s", job_id, exc.message)
        await self._follow(job_id)

    async def _follow(self, job_id: str) -> None:
        await self._guarded(job_id, self._until_completed(job_id), then=self._fetch_result)

    async def _guarded(
        self, job_id: str, work: Awaitable[Any], then: Callable[[str], Awaitable[None]] | None = None
    ) -> None:
        """Run a step of a background job; a failure ends that job, never the server."""
        try:
            await work
            if then is not None:
                await then(job_id)
        except HappyHorseError as exc:
            await self._finish(job_id, "failed", error=exc)
        except Exception as exc:  # a bug in one job must not take down the task group
            logger.exception("job %s failed unexpectedly", job_id)
            await self._finish(
                job_id, "failed", error=HappyHorseError(f"Internal error while following the job: {exc!r}")
            )

    async def _until_completed(self, job_id: str) -> None:
        job = self._live[job_id]
        assert job.request_id is not None
        try:
            async for status in self._fal.stream_status(job.endpoint, job.request_id):
                await self._apply(job_id, status)
                if status.status == "COMPLETED":
                    return
            logger.info("status stream for %s ended before completion; polling", job_id)
        except HappyHorseError as exc:
            # Whatever broke the stream, the status endpoint decides: polling retries or fails the job.
            logger.info("status stream for %s failed (%s); polling", job_id, exc.message)
        interval = self.poll_interval
        while True:
            try:
                status = await self._fal.status(job.endpoint, job.request_id)
            except TRANSIENT as exc:
                logger.warning("status of %s unavailable (%s); retrying in %.0f s", job_id, exc.message, interval)
                await anyio.sleep(interval)
                interval = min(interval * 2, self._max_poll_interval)
                continue
            await self._apply(job_id, status)
            if status.status == "COMPLETED":
                return
            await anyio.sleep(self.poll_interval)

    async def _fetch_result(self, job_id: str) -> None:
        job = self._live[job_id]
        assert job.request_id is not None
        interval = self.poll_interval
        while True:
            try:
                output = await self._fal.result(job.endpoint, job.request_id)
                break
            except TRANSIENT as exc:
                logger.warning("result of %s unavailable (%s); retrying in %.0f s", job_id, exc.message, interval)
                await anyio.sleep(interval)
                interval = min(interval * 2, self._max_poll_interval)
            except JobNotFoundError as exc:
                raise ResultExpiredError(
                    "fal no longer has this job's result (it keeps results 1 hour, 6 minutes when large) or does "
                    f"not know request {job.request_id}. Look for the video at {DASHBOARD_REQUESTS}."
                ) from exc
            except HappyHorseError as exc:
                if job.cancel_requested:
                    await self._finish(job_id, "cancelled")
                    return
                raise exc
        if not isinstance(output.get("video"), dict) or not output["video"].get("url"):
            raise ProtocolError(f"fal reported request {job.request_id} complete, but its result has no video URL.")
        saved: dict[str, Any] = {}
        if job.save_path and self._downloader is not None:
            try:
                copy = await self._downloader.save(output["video"]["url"], Path(job.save_path))
                saved["local_file"] = LocalCopy(path=str(copy.path), sha256=copy.sha256, size=copy.size)
            except (HappyHorseError, OSError) as exc:
                message = exc.message if isinstance(exc, HappyHorseError) else f"{type(exc).__name__}: {exc}"
                saved["download_error"] = f"The video was not saved to {job.save_path}: {message}"
                logger.warning("job %s: %s", job_id, saved["download_error"])
        await self._finish(job_id, "completed", output=output, **saved)

    async def _apply(self, job_id: str, status: QueueStatus) -> None:
        job = self._live[job_id]
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
        job = self._live[job_id]
        changes: dict[str, Any] = {"status": status, "finished_at": utcnow(), "queue_position": None, **extra}
        if error is not None:
            changes["error"] = JobError(type=error_type(error), message=error.message)
        if output is not None:
            changes["output"] = output
            changes["cost_usd"] = billed_cost(SPECS[job.operation], job.cost_usd, job.arguments, output)
        elif status in ("failed", "cancelled") and not isinstance(error, ResultExpiredError):
            changes["cost_usd"] = 0.0  # fal bills only runs that produce a result
        await self._update(job_id, **changes)
        logger.info("job %s %s", job_id, status)

    async def _update(self, job_id: str, **changes: Any) -> None:
        job = self._live[job_id].model_copy(update={**changes, "updated_at": utcnow()})
        await self._save(job)

    async def _save(self, job: Job) -> None:
        await self._store.put(job)
        await self._saved(job)

    async def _saved(self, job: Job) -> None:
        """Publish a job the store now holds: to waiting calls, and to subscribers when its status changed."""
        before = self._live.get(job.job_id)
        self._live[job.job_id] = job
        previous = self._changed.get(job.job_id)
        self._changed[job.job_id] = anyio.Event()
        if previous is not None:
            previous.set()
        if self._on_status_change is not None and before is not None and before.status != job.status:
            await self._on_status_change(job)
