"""Following one job at fal, from its request id to its output: the status stream, polling, the result.

What can go wrong while following is bounded and ends a job honestly. fal finishes and bills a job whatever this
server sees, so an answer it cannot get or read (a key refused for a while, a state it does not know, a result
endpoint that keeps failing, a result without a video) ends the job `unknown` (may have been billed), never
`failed` at no cost. Only fal's own word that the run failed (a COMPLETED status with an error, a model or
validation error at the result) ends it `failed`, which fal does not bill.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from ..domain.errors import DASHBOARD_REQUESTS, HappyHorseError, OutcomeUnknownError
from ..domain.models import FalEnding, Job, LocalCopy
from ..fal.download import VideoDownloader
from ..fal.errors import model_failure, webhook_failure
from ..fal.queue import FalQueue, QueueStatus
from ..observability.tracing import span

logger = logging.getLogger(__name__)

CANCELLED_ERROR_TYPE = "request_cancelled"


@dataclass(frozen=True)
class FollowPolicy:
    """How patiently a job is followed. Counts are failed reads in a row, each waited out with backoff."""

    poll_interval: float = 2.0
    max_interval: float = 30.0
    refused_reads: int = 10  # 401/403 while following: a key rotated or an account lock lifted meanwhile
    unreadable_reads: int = 10  # answers this server cannot read (an unknown state, malformed JSON)
    result_reads: int = 10  # the result endpoint failing after COMPLETED
    store_retry: float = 5.0  # how often a job state the store refused (a full disk) is written again
    # A status stream can stay open without ever saying COMPLETED (keep-alives, one line growing slowly): while it
    # is open the status is also read this often, and after this long the stream is given up for polling.
    stream_check_seconds: float = 30.0
    stream_deadline_seconds: float = 600.0
    # A follower renews its lease every third of this; another process takes the job over once it lapses.
    lease_seconds: float = 6.0
    # With webhooks the job's end comes to the server; its status is read only this late (doubling up to the max),
    # as a backstop for a webhook that never comes: no stream held open per job.
    backstop_seconds: float = 60.0
    backstop_max_seconds: float = 300.0


@dataclass(frozen=True)
class Cancelled:
    """fal cancelled the request before it ran: nothing is billed."""


Outcome = dict[str, Any] | Cancelled

# What the runner gives a follower with webhooks: fal's word that the request ended, once it came; None at once when
# a cancel was asked that the follower has not yet looked at (argument: whether it has).
Heard = Callable[[bool], Awaitable[FalEnding | None]]


class _Patience:
    """Counts failed reads of one kind in a row; past the policy's bound the job's outcome is unknown."""

    def __init__(self, policy: FollowPolicy, job: Job) -> None:
        self._policy = policy
        self._job = job
        self._counts: dict[str, int] = {}
        self.interval = policy.poll_interval

    async def wait_out(self, exc: HappyHorseError, *, doing: str, result: bool = False) -> None:
        """Sleep before the next try, or raise when `exc` is not worth waiting out (its class says which) or has
        happened too often."""
        kind = exc.while_following
        match kind:
            case "refused":
                bound = self._policy.refused_reads
            case "unreadable":
                bound = self._policy.unreadable_reads
            case "outage":
                bound = self._policy.result_reads if result else 0  # status reads wait out any outage
            case "gone":
                raise OutcomeUnknownError(
                    f"fal no longer knows request {self._job.request_id} (it keeps requests about an hour). It may "
                    f"have finished and been billed: look for it at {DASHBOARD_REQUESTS}."
                ) from exc
            case _:
                raise exc
        count = self._counts[kind] = self._counts.get(kind, 0) + 1
        if bound and count >= bound:
            raise OutcomeUnknownError(
                f"fal kept failing while this server was {doing} ({count} tries: {exc.message}). fal may still "
                f"finish the job and bill it: look for request {self._job.request_id} at {DASHBOARD_REQUESTS}."
            ) from exc
        logger.warning(
            "job %s: %s failed (%s); retrying in %.1f s", self._job.job_id, doing, exc.message, self.interval
        )
        await anyio.sleep(self.interval)
        self.interval = min(self.interval * 2, self._policy.max_interval)

    def reset(self) -> None:
        self._counts.clear()
        self.interval = self._policy.poll_interval


async def follow(
    fal: FalQueue,
    job: Job,
    policy: FollowPolicy,
    on_status: Callable[[QueueStatus], Awaitable[None]],
    heard: Heard | None = None,
) -> Outcome:
    """fal's output for `job`, or Cancelled. Raises the error that ends the job otherwise. With `heard` (webhooks),
    the job's end is what fal posts, its status read only as a backstop; else the status stream tells it."""
    assert job.request_id is not None
    traced = {"resumed_from": job.trace, "fal_request_id": job.request_id, "endpoint": job.endpoint}
    with span("fal.wait", job.job_id, **traced):
        if heard is None:
            completed = await _until_completed(fal, job, policy, on_status)
        else:
            ending = await _until_heard(fal, job, policy, on_status, heard)
            if isinstance(ending, FalEnding):
                if (output := _ended_with(job, ending)) is not None:
                    return output
                completed = QueueStatus(status="COMPLETED")  # fal could not send the output: it is fetched
            else:
                completed = ending
    if completed.error_type == CANCELLED_ERROR_TYPE:
        return Cancelled()
    with span("fal.result", job.job_id, **traced):
        return await _result(fal, job, policy, completed)


async def _until_completed(
    fal: FalQueue, job: Job, policy: FollowPolicy, on_status: Callable[[QueueStatus], Awaitable[None]]
) -> QueueStatus:
    assert job.request_id is not None
    completed = await _stream_until_completed(fal, job, policy, on_status)
    if completed is not None:
        return completed
    reads = 0

    async def between_reads() -> None:
        nonlocal reads
        if reads:
            await anyio.sleep(policy.poll_interval)
        reads += 1

    return await _poll(fal, job, policy, on_status, between_reads)


async def _poll(
    fal: FalQueue,
    job: Job,
    policy: FollowPolicy,
    on_status: Callable[[QueueStatus], Awaitable[None]],
    pause: Callable[[], Awaitable[None]],
) -> QueueStatus:
    """The job's status, read after each `pause` until it says COMPLETED; a failed read is waited out (or ends the
    job) by the policy's patience."""
    assert job.request_id is not None
    patience = _Patience(policy, job)
    while True:
        await pause()
        try:
            status = await fal.status(job.endpoint, job.request_id)
        except HappyHorseError as exc:
            await patience.wait_out(exc, doing="reading the job's status")
            continue
        patience.reset()
        await on_status(status)
        if status.status == "COMPLETED":
            return status


async def _first_of(*racers: Callable[[anyio.CancelScope], Coroutine[Any, Any, None]]) -> None:
    """Run `racers` together until the first to finish cancels the rest (each is given the scope to cancel)."""
    async with anyio.create_task_group() as tg:
        for racer in racers:
            tg.start_soon(racer, tg.cancel_scope)


async def _until_heard(
    fal: FalQueue, job: Job, policy: FollowPolicy, on_status: Callable[[QueueStatus], Awaitable[None]], heard: Heard
) -> FalEnding | QueueStatus:
    """fal's webhook for the job, or a COMPLETED status read as a backstop (late, then rarer; at once after a
    cancel): whichever comes first."""
    found: FalEnding | QueueStatus | None = None
    look_now = anyio.Event()

    async def listen(scope: anyio.CancelScope) -> None:
        nonlocal found
        cancel_seen = job.cancel_requested
        while (ending := await heard(cancel_seen)) is None:
            cancel_seen = True
            look_now.set()
        found = ending
        scope.cancel()

    interval = policy.backstop_seconds

    async def late_then_rarer() -> None:
        nonlocal look_now, interval
        with anyio.move_on_after(interval):
            await look_now.wait()
        look_now = anyio.Event()
        interval = min(interval * 2, policy.backstop_max_seconds)

    async def backstop(scope: anyio.CancelScope) -> None:
        nonlocal found
        found = await _poll(fal, job, policy, on_status, late_then_rarer)
        logger.info("job %s: its end was read from its status before fal's webhook came", job.job_id)
        scope.cancel()

    await _first_of(listen, backstop)
    assert found is not None
    return found


def _ended_with(job: Job, ending: FalEnding) -> dict[str, Any] | None:
    """The output fal's webhook carried; None when it carried none (fal could not send it: it is fetched). Raises
    the error that ends the job when fal says the request failed, as its result would have."""
    if not ending.ok:
        raise webhook_failure(ending)
    if ending.payload is None:
        logger.info("job %s: fal's webhook came without its output (%s); fetching it", job.job_id, ending.payload_error)
        return None
    return _with_video(job, ending.payload)


def _with_video(job: Job, output: Any) -> dict[str, Any]:
    """fal's output for a job it reported complete; OutcomeUnknownError when it holds no video URL (fal may have
    billed the job all the same)."""
    video = output.get("video") if isinstance(output, dict) else None
    if not isinstance(video, dict) or not video.get("url"):
        raise OutcomeUnknownError(
            f"fal reported request {job.request_id} complete, but its result has no video URL. It may have been "
            f"billed: look for it at {DASHBOARD_REQUESTS}."
        )
    return dict(output)


async def _stream_until_completed(
    fal: FalQueue, job: Job, policy: FollowPolicy, on_status: Callable[[QueueStatus], Awaitable[None]]
) -> QueueStatus | None:
    """The COMPLETED status from the status stream, or None when the stream ends, fails or outlives its deadline
    without one. While it is open the status endpoint is read every `stream_check_seconds` too, so a stream that
    never says COMPLETED cannot hide a finished job."""
    assert job.request_id is not None
    request_id = job.request_id
    completed: QueueStatus | None = None

    async def watch(scope: anyio.CancelScope) -> None:
        nonlocal completed
        with anyio.move_on_after(policy.stream_deadline_seconds) as deadline:
            try:
                async for status in fal.stream_status(job.endpoint, request_id):
                    await on_status(status)
                    if status.status == "COMPLETED":
                        completed = status
                        break
                else:
                    logger.info("status stream for %s ended before completion; polling", job.job_id)
            except HappyHorseError as exc:
                # Whatever broke the stream, the status endpoint decides: polling retries or ends the job.
                logger.info("status stream for %s failed (%s); polling", job.job_id, exc.message)
        if deadline.cancelled_caught:
            logger.info(
                "status stream for %s open %.0f s without completion; polling",
                job.job_id,
                policy.stream_deadline_seconds,
            )
        scope.cancel()

    async def check(scope: anyio.CancelScope) -> None:
        nonlocal completed
        while True:
            await anyio.sleep(policy.stream_check_seconds)
            try:
                status = await fal.status(job.endpoint, request_id)
            except HappyHorseError:
                continue  # the stream may still say it; polling after the stream decides what a failure means
            if status.status == "COMPLETED":
                await on_status(status)
                completed = status
                scope.cancel()
                return

    await _first_of(watch, check)
    return completed


async def _result(fal: FalQueue, job: Job, policy: FollowPolicy, completed: QueueStatus) -> dict[str, Any]:
    assert job.request_id is not None
    patience = _Patience(policy, job)
    while True:
        try:
            output = await fal.result(job.endpoint, job.request_id)
            break
        except HappyHorseError as exc:
            if exc.while_following == "final":
                raise  # fal's word that the run failed: not billed
            if exc.while_following == "gone":
                if (recovered := await _recovered(fal, job)) is not None:
                    output = recovered
                    break
                raise OutcomeUnknownError(
                    "fal no longer has this job's result (it keeps results 1 hour, 6 minutes when large) or does not "
                    f"know request {job.request_id}. It may have been billed: look for the video at "
                    f"{DASHBOARD_REQUESTS}."
                ) from exc
            if completed.error:
                raise model_failure(completed.error_type, completed.error) from exc
            await patience.wait_out(exc, doing="fetching the job's result", result=True)
    return _with_video(job, output)


async def _recovered(fal: FalQueue, job: Job) -> dict[str, Any] | None:
    """The output of a job whose result fal's queue forgot (it keeps results an hour), from fal's platform record of
    the request, which looks back 90 days: the job settles as completed instead of unknown. None when the record has
    no video, or cannot be read (the job then ends unknown, as before)."""
    assert job.request_id is not None
    try:
        record = await fal.lookup(job.endpoint, job.request_id)
    except HappyHorseError as exc:
        logger.warning("job %s: fal's platform record could not be read (%s)", job.job_id, exc.message)
        return None
    output = record.get("json_output") if record is not None else None
    video = output.get("video") if isinstance(output, dict) else None
    if not isinstance(video, dict) or not video.get("url"):
        return None
    logger.info("job %s: its result, gone from fal's queue, was read from fal's platform record", job.job_id)
    return output


async def save_copy(downloader: VideoDownloader | None, job: Job, output: dict[str, Any]) -> dict[str, Any]:
    """Save the video where the call asked. A failure here is only ever noted: the job stays completed."""
    if not job.save_path or downloader is None:
        return {}
    wanted = Path(job.save_path)
    try:
        with span("media.download", job.job_id, resumed_from=job.trace) as downloading:
            copy = await downloader.save(output["video"]["url"], wanted)
            downloading.set_attribute("happyhorse.bytes", copy.size)
    except HappyHorseError as exc:
        note = exc.message
    except Exception as exc:
        logger.warning("job %s: download failed", job.job_id, exc_info=True)
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
    logger.warning("job %s: %s", job.job_id, message)
    return {"download_error": message}
