"""fal's own word on what each finished job cost: the billed USD read from fal's billing events and recorded beside
the estimate, so budgets count what was billed where it is known.

A job that ends `completed` or `failed` is handed here by the runner (fal may bill a 422 that used GPU time, never a
5xx: its billing events say which); requests are asked about in batches (up to 50 ids a call, those that finished
while a call was under way going together in the next), and a request fal has not billed yet is asked about again
later, a few times; at start, recent jobs that ended without their bill (their re-asks died with the process, or the
admin key is new) are asked about once. A billed cost more than USD 0.01 from the estimate is logged and shown. Jobs
sent with a user's own fal key are billed to that user's account, which the deployment's admin key cannot read: they
keep their estimate. Without an admin key nothing here runs; a key fal refuses is said once in the log, never to a
caller, and nothing fails.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import anyio
from anyio.abc import TaskGroup

from ..domain.errors import HappyHorseError
from ..domain.models import Job, utcnow
from ..domain.pricing import BILLED_DIFFERENCE_SHOWN_USD
from ..fal.billing import MAX_IDS_PER_CALL, AdminKeyRefused, FalBilling
from ..observability import metrics
from ..observability.tracing import span
from .store import JobStore

logger = logging.getLogger(__name__)

# fal records a bill shortly after a request ends: ask again after these many seconds, then give up (the job keeps
# its estimate, and says nothing was reported).
RETRY_AFTER_SECONDS = (5.0, 30.0, 120.0, 600.0)
_WRITE_ATTEMPTS = 5
# At start, the most recent jobs ended within this long without a bill are asked about once (fal keeps billing
# events far longer; a week bounds the work a start does).
LOOK_BACK = timedelta(days=7)
LOOK_BACK_JOBS = 1000


@dataclass(frozen=True)
class _Asked:
    job_id: str
    request_id: str
    attempt: int = 0


class BillingReconciler:
    def __init__(
        self,
        billing: FalBilling,
        store: JobStore,
        task_group: TaskGroup,
        *,
        retry_after: Sequence[float] = RETRY_AFTER_SECONDS,
        on_billed: Callable[[Job], Awaitable[None]] | None = None,
    ) -> None:
        self._billing = billing
        self._on_billed = on_billed  # the job's resource changed: its subscribers are told
        self._store = store
        self._tg = task_group
        self._retry_after = tuple(retry_after)
        self._send, self._receive = anyio.create_memory_object_stream[_Asked](max_buffer_size=10_000)
        self._refused = False
        task_group.start_soon(self._run)

    def finished(self, job: Job, *, attempt: int = 0) -> None:
        """`job` has just ended completed or failed: read what fal billed for it."""
        if job.request_id is None or job.own_fal_key or job.sandbox or self._refused:
            return
        try:
            self._send.send_nowait(_Asked(job.job_id, job.request_id, attempt))
        except anyio.WouldBlock:
            logger.warning("job %s: too many bills waiting to be read; it keeps its estimate", job.job_id)
        except anyio.ClosedResourceError:
            pass  # shutting down: the job keeps its estimate

    async def _run(self) -> None:
        async with self._send, self._receive:  # closed with the task group: nothing left to read bills into
            try:
                await self._look_back()
            except Exception:  # a store that cannot be read now: new jobs are still looked up
                logger.exception("jobs finished before this start could not be listed for their bills")
            async for first in self._receive:
                batch = [first]
                while len(batch) < MAX_IDS_PER_CALL:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except anyio.WouldBlock:
                        break
                try:
                    await self._settle(batch)
                except Exception:  # a store that fails, a bug: the jobs keep their estimates, the server runs on
                    logger.exception("bills for %d job(s) could not be recorded; they keep their estimates", len(batch))

    async def _look_back(self) -> None:
        """Jobs that ended without their bill within LOOK_BACK (their re-asks died with a restart, or the admin key
        is new): each asked about once more."""
        since = utcnow() - LOOK_BACK
        for job in await self._store.recent(limit=LOOK_BACK_JOBS):
            ended = job.finished_at is not None and job.finished_at >= since
            if ended and job.status in ("completed", "failed") and job.billed_usd is None:
                self.finished(job, attempt=len(self._retry_after))

    async def _settle(self, batch: list[_Asked]) -> None:
        try:
            billed = await self._billing.billed(list(dict.fromkeys(asked.request_id for asked in batch)))
        except AdminKeyRefused as exc:
            self._refused = True
            logger.warning("%s; jobs keep their estimates", exc)
            return
        except HappyHorseError as exc:
            logger.warning("fal's billing events could not be read (%s); asking again later", exc.message)
            billed = {}
        for asked in batch:
            if (usd := billed.get(asked.request_id)) is not None:
                await self._record(asked.job_id, usd)
            elif asked.attempt < len(self._retry_after):
                self._tg.start_soon(self._later, asked)
            else:
                logger.debug("job %s: fal reported no bill for request %s", asked.job_id, asked.request_id)

    async def _later(self, asked: _Asked) -> None:
        await anyio.sleep(self._retry_after[asked.attempt])
        if not self._refused:
            with contextlib.suppress(anyio.ClosedResourceError):
                await self._send.send(_Asked(asked.job_id, asked.request_id, asked.attempt + 1))

    async def _record(self, job_id: str, usd: float) -> None:
        for _ in range(_WRITE_ATTEMPTS):  # another writer went first: read it again and retry
            job = await self._store.get(job_id)
            if job is None or job.billed_usd is not None:
                return
            if (written := await self._store.update(job.model_copy(update={"billed_usd": usd}))) is not None:
                break
        else:
            logger.warning("job %s: its billed cost (USD %.2f) could not be recorded", job_id, usd)
            return
        # A span of its own in the job's trace: the bill comes long after the call that started the job ended.
        traced = {"fal_request_id": job.request_id, "estimated_usd": job.cost_usd, "billed_usd": usd}
        with span("fal.billed", job_id, resumed_from=job.trace, endpoint=job.endpoint, **traced):
            metrics.BILLED_USD.add(usd, {"happyhorse.endpoint": job.endpoint})
        if abs(usd - (job.cost_usd or 0.0)) > BILLED_DIFFERENCE_SHOWN_USD:
            logger.warning(
                "job %s: fal billed USD %.2f, estimated USD %.2f (request %s)",
                job_id,
                usd,
                job.cost_usd or 0.0,
                job.request_id,
            )
        if self._on_billed is not None:
            await self._on_billed(written)
        await self._bill_film_of(written)

    async def _bill_film_of(self, shot: Job) -> None:
        """A shot names its film in its idempotency key (`<film id>/shot-<n>`, jobs/film_maker.py)."""
        film_id, _, number = (shot.idempotency_key or "").rpartition("/shot-")
        if film_id and number.isdigit():
            await self.bill_film(film_id, shot.owner, billed_shot=shot.job_id)

    def film_ended(self, film: Job) -> None:
        """`film` has just ended: its bill is recorded if its shots' bills are all in already."""
        if not film.sandbox and not film.own_fal_key and not self._refused:
            self._tg.start_soon(self.bill_film, film.job_id, film.owner)

    async def bill_film(self, film_id: str, owner: str, *, billed_shot: str | None = None) -> None:
        """A film's bill is its shots' bills, recorded on the film once no shot is left to run and every shot that
        completed has its bill (a shot that failed or was cancelled adds its bill where fal billed it). The film must
        list `billed_shot`, so a caller's own idempotency key cannot point a bill at another job."""
        film = await self._store.get(film_id, owner)
        progress = film.film if film is not None else None
        if film is None or progress is None or film.billed_usd is not None:
            return
        shot_ids = [planned.job_id for planned in progress.shots if planned.job_id is not None]
        if billed_shot is not None and billed_shot not in shot_ids:
            return
        if not film.finished and len(shot_ids) < len(progress.shots):
            return  # shots still to be made
        shots = [await self._store.get(shot_id) for shot_id in shot_ids]
        if any(
            made is None or not made.finished or (made.status == "completed" and made.billed_usd is None)
            for made in shots
        ):
            return  # a shot still running, or a completed shot's bill still to come
        usd = round(sum(made.billed_usd or 0.0 for made in shots if made is not None), 6)
        for _ in range(_WRITE_ATTEMPTS):
            if (written := await self._store.update(film.model_copy(update={"billed_usd": usd}))) is not None:
                logger.info("film %s: fal billed USD %.2f for its shots", film_id, usd)
                if self._on_billed is not None:
                    await self._on_billed(written)
                return
            film = await self._store.get(film_id)
            if film is None or film.billed_usd is not None:
                return
