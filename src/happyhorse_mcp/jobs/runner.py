"""Jobs followed from submit to result in the background, whether or not a client is still waiting.

A tool call submits through `JobRunner.submit` and then waits with `JobRunner.wait`; the job itself lives in the
runner's task group, so a client that times out or cancels only stops waiting. Memory holds only live jobs: a
finished one is read from the store.
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
    ModelRunError,
    OutcomeUnknownError,
    StoreError,
    SubmitUncertainError,
    UnknownJobError,
    error_type,
)
from ..domain.models import Job, JobError, JobStatus, LocalCopy, utcnow
from ..domain.pricing import billed_cost
from ..fal.download import VideoDownloader
from ..fal.queue import FalQueue, QueueStatus
from .arguments import fingerprint, redact_data_uris
from .follow import CANCELLED_ERROR_TYPE, Cancelled, FollowPolicy, follow
from .spend import SpendGuard
from .store import JobStore

logger = logging.getLogger(__name__)

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
        policy: FollowPolicy | None = None,
    ) -> None:
        self._fal = fal
        self._store = store
        self._tg = task_group
        self.policy = policy or FollowPolicy()
        self._guard = guard
        self._on_status_change = on_status_change
        self._downloader = downloader
        self._live: dict[str, Job] = {}
        self._changed: dict[str, anyio.Event] = {}
        self._unsaved: dict[str, Job] = {}
        self._flushing = False

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
        )
        job, created = await self._guard.admit(draft, max_cost_usd=max_cost_usd)
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

    async def resume(self) -> int:
        """Follow again every job a previous run left unfinished; returns how many."""
        count = 0
        for job in await self._store.unfinished():
            self._live[job.job_id] = job
            self._changed[job.job_id] = anyio.Event()
            if job.request_id is None:
                await self._finish(
                    job.job_id,
                    "unknown",
                    error=SubmitUncertainError(
                        "The server stopped while submitting this job, before fal's answer was recorded. "
                        f"It may have been billed: look for it at {DASHBOARD_REQUESTS}. It was not resubmitted."
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
        await self._update(job_id, cancel_requested=True)  # a job followed here learns it; fal is told in any case
        if job.request_id is not None:
            outcome = await self._fal.cancel(job.endpoint, job.request_id)
            logger.info("cancel of %s at fal: %s", job_id, outcome)
        return await self.get(job_id)

    async def _run(self, job_id: str, arguments: dict[str, Any], answered: anyio.Event) -> None:
        job = self._live[job_id]
        try:
            try:
                receipt = await self._fal.submit(job.endpoint, arguments)
            except HappyHorseError as exc:
                await self._finish(job_id, "unknown" if isinstance(exc, SubmitUncertainError) else "failed", error=exc)
                return
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
        """Follow a submitted job to its end; whatever happens ends that job, never the server."""
        try:
            outcome = await follow(self._fal, self._live[job_id], self.policy, lambda s: self._apply(job_id, s))
            if isinstance(outcome, Cancelled):
                await self._finish(job_id, "cancelled")
                return
            await self._update(job_id, output=outcome)  # kept before the download, which may take minutes
            await self._finish(job_id, "completed", output=outcome, **await self._download(job_id, outcome))
        except OutcomeUnknownError as exc:
            await self._finish(job_id, "unknown", error=exc)
        except HappyHorseError as exc:
            cancelled = isinstance(exc, ModelRunError) and exc.error_type == CANCELLED_ERROR_TYPE
            if cancelled or self._live[job_id].cancel_requested:
                await self._finish(job_id, "cancelled")
            else:
                await self._finish(job_id, "failed", error=exc)
        except Exception as exc:  # a bug in one job must not take down the task group
            logger.exception("job %s: internal error while following it", job_id)
            request = self._live[job_id].request_id
            await self._finish(
                job_id,
                "unknown",
                error=OutcomeUnknownError(
                    f"Internal error while following the job ({type(exc).__name__}; the server's log has details). "
                    f"It may have been billed: look for request {request} at {DASHBOARD_REQUESTS}."
                ),
            )

    async def _download(self, job_id: str, output: dict[str, Any]) -> dict[str, Any]:
        """Save the video where the call asked. A failure here is only ever noted: the job stays completed."""
        job = self._live[job_id]
        if not job.save_path or self._downloader is None:
            return {}
        wanted = Path(job.save_path)
        try:
            copy = await self._downloader.save(output["video"]["url"], wanted)
        except HappyHorseError as exc:
            note = exc.message
        except Exception as exc:
            logger.warning("job %s: download failed", job_id, exc_info=True)
            note = f"{type(exc).__name__} while downloading"
        else:
            renamed = None if copy.path == wanted else f"{wanted.name} already existed, so the video was saved as "
            local = LocalCopy(
                path=str(copy.path),
                sha256=copy.sha256,
                size=copy.size,
                note=f"{renamed}{copy.path.name}." if renamed else None,
            )
            return {"local_file": local, "saved_identity": (copy.device, copy.inode)}
        message = f"The video was not saved to {job.save_path}: {note} It is at {output['video']['url']}."
        logger.warning("job %s: %s", job_id, message)
        return {"download_error": message}

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
        elif status in ("failed", "cancelled"):
            changes["cost_usd"] = 0.0  # fal bills only runs that produce a result
        await self._update(job_id, **changes)
        logger.info("job %s %s", job_id, status)
        if job_id not in self._unsaved:  # the store has it: memory keeps only live jobs
            del self._live[job_id]
            self._changed.pop(job_id, None)

    async def _update(self, job_id: str, **changes: Any) -> None:
        if job_id not in self._live:  # it ended meanwhile
            return
        job = self._live[job_id].model_copy(update={**changes, "updated_at": utcnow()})
        try:
            await self._store.put(job)
        except StoreError as exc:
            # The job goes on in memory; its state is written again until the store takes it.
            logger.error("job %s: %s Retrying every %.0f s.", job_id, exc.message, self.policy.store_retry)
            self._unsaved[job_id] = job
            if not self._flushing:
                self._flushing = True
                self._tg.start_soon(self._flush_unsaved)
        else:
            self._unsaved.pop(job_id, None)
        await self._publish(job)

    async def _flush_unsaved(self) -> None:
        try:
            while self._unsaved:
                await anyio.sleep(self.policy.store_retry)
                for job_id, job in list(self._unsaved.items()):
                    try:
                        await self._store.put(job)
                    except StoreError:
                        break
                    if self._unsaved.get(job_id) is job:
                        del self._unsaved[job_id]
                        logger.info("job %s written to the store again", job_id)
                        if job.finished:
                            self._live.pop(job_id, None)
                            self._changed.pop(job_id, None)
        finally:
            self._flushing = False

    async def _publish(self, job: Job) -> None:
        """Tell waiting calls about the job's new state, and subscribers when its status changed."""
        before = self._live.get(job.job_id)
        self._live[job.job_id] = job
        previous = self._changed.get(job.job_id)
        self._changed[job.job_id] = anyio.Event()
        if previous is not None:
            previous.set()
        if self._on_status_change is not None and before is not None and before.status != job.status:
            await self._on_status_change(job)
