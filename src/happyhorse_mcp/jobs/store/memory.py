"""A job store in a dict, for unit tests of the runner and the spend guard. Not durable."""

from __future__ import annotations

from datetime import datetime

from ...domain.errors import BudgetExceededError
from ...domain.models import TERMINAL_STATUSES, Job
from .base import UNBILLED_STATUSES, Admission, Decide


class MemoryJobStore:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}

    async def admit(self, job: Job, decide: Decide, *, day_start: datetime) -> Admission:
        # No await between the look-ups and the insert: atomic on the event loop.
        if job.idempotency_key is not None and (earlier := self._by_key(job.idempotency_key)) is not None:
            return Admission(earlier, created=False)
        if (refusal := decide(self._spend_since(day_start))) is not None:
            raise BudgetExceededError(refusal)
        self.jobs[job.job_id] = job
        return Admission(job, created=True)

    async def put(self, job: Job) -> None:
        self.jobs[job.job_id] = job

    async def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    async def by_idempotency_key(self, key: str) -> Job | None:
        return self._by_key(key)

    async def spend_since(self, since: datetime | None) -> float:
        return self._spend_since(since)

    async def recent(self, limit: int = 50, status: str | None = None) -> list[Job]:
        jobs = sorted(self.jobs.values(), key=lambda job: job.created_at, reverse=True)
        return [job for job in jobs if status is None or job.status == status][:limit]

    async def unfinished(self) -> list[Job]:
        jobs = sorted(self.jobs.values(), key=lambda job: job.created_at)
        return [job for job in jobs if job.status not in TERMINAL_STATUSES]

    async def close(self) -> None:
        return None

    def _by_key(self, key: str) -> Job | None:
        return next((job for job in self.jobs.values() if job.idempotency_key == key), None)

    def _spend_since(self, since: datetime | None) -> float:
        return sum(
            job.cost_usd or 0.0
            for job in self.jobs.values()
            if (since is None or job.created_at >= since) and job.status not in UNBILLED_STATUSES
        )
