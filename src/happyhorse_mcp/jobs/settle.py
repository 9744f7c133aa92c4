"""Settling jobs that ended `unknown` because their submit may have reached fal without its answer arriving (a
dropped connection, a server stopped mid-submit). Such a job holds its price against the budgets and was never sent
again, since that could pay twice. fal's platform API lists the requests made to the job's endpoint around its
submit, with their inputs: the one whose input is the job's is its request, and the job is followed again to its end
(completed with its video, or failed with fal's error). When fal's record, which shows a request within seconds, has
none long after the submit, the submit never reached fal: the job is recorded failed, nothing billed, and what it
held is released. The caller's own fal key reads its own requests; no admin key is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup

from ..domain.errors import HappyHorseError, StoreError, SubmitUncertainError
from ..domain.film import FilmKind
from ..domain.models import Job, JobError, utcnow
from .arguments import redact_data_uris

if TYPE_CHECKING:
    from .runner import JobRunner

logger = logging.getLogger(__name__)

# fal's record of a request is searched from a minute before the job was admitted to this long after.
SEARCH_AFTER = timedelta(minutes=15)
SEARCH_BEFORE = timedelta(minutes=1)
# Not found this long after its submit, a request never reached fal (its record shows one within seconds).
NEVER_REACHED_AFTER = timedelta(minutes=30)
NEVER_REACHED = "never_reached_fal"
UNKNOWN_LOOKED_AT = 200  # the latest `unknown` jobs each round looks at


class Settler:
    def __init__(
        self,
        runner: JobRunner,
        task_group: TaskGroup,
        *,
        every_seconds: float = 300.0,
        never_reached_after: timedelta = NEVER_REACHED_AFTER,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._runner = runner
        self._tg = task_group
        self._every = every_seconds
        self._never_reached_after = never_reached_after
        self._clock = clock
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._tg.start_soon(self._keep_settling)

    async def _keep_settling(self) -> None:
        while True:
            try:
                await self.settle_all()
            except StoreError as exc:
                logger.error("could not look for unknown jobs to settle: %s", exc.message)
            await anyio.sleep(self._every)

    async def settle_all(self) -> dict[str, int]:
        """Each `unknown` job whose submit's answer was lost, looked up at fal; how many were found, released, or
        are still too recent to tell."""
        said: dict[str, int] = {}
        for job in await self._runner.store.recent(UNKNOWN_LOOKED_AT, status="unknown"):
            if _submit_lost(job):
                outcome = await self.settle(job)
                said[outcome] = said.get(outcome, 0) + 1
        return said

    async def settle(self, job: Job) -> str:
        """`found` (followed again), `released` (never reached fal), `waiting` (too recent to tell, or fal could
        not be asked) or `ambiguous` (several of fal's requests have its input: left for a person)."""
        runner = self._runner
        try:
            queue = await runner.queue_for(job)
            start = job.created_at - SEARCH_BEFORE
            records = await queue.requests_between(job.endpoint, start, job.created_at + SEARCH_AFTER)
        except HappyHorseError as exc:
            logger.warning("job %s: fal's record of its submit could not be read (%s)", job.job_id, exc.message)
            return "waiting"
        matching = {
            str(record["request_id"])
            for record in records
            if record.get("request_id")
            and isinstance(record.get("json_input"), dict)
            and redact_data_uris(record["json_input"]) == job.arguments
        }
        if len(matching) == 1:
            (request_id,) = matching
            if await runner.reopen(job.job_id, request_id=request_id):
                logger.info("job %s: its lost submit was found at fal as %s; following it", job.job_id, request_id)
            return "found"
        if matching:
            logger.warning("job %s: %d of fal's requests have its input; left unknown", job.job_id, len(matching))
            return "ambiguous"
        if self._clock() - job.created_at < self._never_reached_after:
            return "waiting"
        return "released" if await self._release(job) else "waiting"

    async def _release(self, job: Job) -> bool:
        minutes = int(self._never_reached_after.total_seconds() // 60)
        error = JobError(
            type=NEVER_REACHED,
            message=f"fal has no record of this job's submit {minutes} minutes after it, so it never reached fal: "
            f"nothing was billed, and the USD {job.cost_usd or 0:.2f} held for it was released. Submit it again if "
            "you still want the video.",
        )
        released = job.model_copy(update={"status": "failed", "cost_usd": 0.0, "error": error, "updated_at": utcnow()})
        if await self._runner.store.update(released) is None:
            return False  # written meanwhile (settled by fal's webhook): looked at again next round
        logger.info("job %s: its submit never reached fal; USD %.2f released", job.job_id, job.cost_usd or 0)
        return True


def _submit_lost(job: Job) -> bool:
    return (
        job.request_id is None
        and not job.sandbox
        and not isinstance(job.operation, FilmKind)
        and job.error is not None
        and job.error.type == SubmitUncertainError.type
    )
