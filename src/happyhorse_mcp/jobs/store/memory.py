"""A job store in a dict, for unit tests of the runner and the spend guard. Not durable."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime

import anyio

from ...domain.budget import Committed
from ...domain.models import TERMINAL_STATUSES, Job
from ...domain.principal import SealedKey
from .base import UNBILLED_STATUSES, Admission, Decide, Lease, admission_of


class MemoryJobStore:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.leases: dict[str, tuple[str, float]] = {}  # job id: (holder, expires at, time.time())
        self.fal_keys: dict[str, SealedKey] = {}

    async def admit(self, job: Job, decide: Decide, *, day_start: datetime, lease: Lease | None = None) -> Admission:
        # No await between the look-ups and the insert: atomic on the event loop.
        earlier = self._by_key(job.idempotency_key, job.owner) if job.idempotency_key is not None else None
        admission = admission_of(job, earlier, lambda: self._committed(job.owner, day_start), decide)
        if admission.created:
            self.jobs[job.job_id] = job
            if lease is not None:
                self.leases[job.job_id] = (lease.holder, time.time() + lease.seconds)
        return admission

    async def put(self, job: Job) -> None:
        self.jobs[job.job_id] = job

    async def update(self, job: Job, *, holder: str | None = None) -> Job | None:
        stored = self.jobs.get(job.job_id)
        if stored is None or stored.version != job.version:
            return None
        if holder is not None and self.leases.get(job.job_id, ("", 0.0))[0] != holder:
            return None
        written = job.model_copy(update={"version": job.version + 1})
        self.jobs[job.job_id] = written
        if written.finished:
            self.leases.pop(job.job_id, None)
        return written

    async def claim(self, job_id: str, lease: Lease) -> bool:
        job = self.jobs.get(job_id)
        holder, expires = self.leases.get(job_id, (None, 0.0))
        if job is None or job.finished or (holder not in (None, lease.holder) and expires >= time.time()):
            return False
        self.leases[job_id] = (lease.holder, time.time() + lease.seconds)
        return True

    async def renew(self, lease: Lease, job_ids: list[str]) -> set[str]:
        held = {job_id for job_id in job_ids if self.leases.get(job_id, ("", 0.0))[0] == lease.holder}
        for job_id in held:
            self.leases[job_id] = (lease.holder, time.time() + lease.seconds)
        return held

    async def release(self, holder: str) -> None:
        for job_id in [job_id for job_id, (held_by, _) in self.leases.items() if held_by == holder]:
            del self.leases[job_id]

    async def claimable(self) -> list[Job]:
        now = time.time()
        return [
            job for job in await self.unfinished() if job.job_id not in self.leases or self.leases[job.job_id][1] < now
        ]

    async def get(self, job_id: str, owner: str | None = None) -> Job | None:
        job = self.jobs.get(job_id)
        return job if job is not None and owner in (None, job.owner) else None

    async def by_idempotency_key(self, key: str, owner: str) -> Job | None:
        return self._by_key(key, owner)

    async def spend_since(self, since: datetime | None, owner: str | None = None) -> float:
        return self._spend_since(since, owner)

    async def recent(self, limit: int = 50, status: str | None = None, owner: str | None = None) -> list[Job]:
        jobs = sorted(self.jobs.values(), key=lambda job: job.created_at, reverse=True)
        return [j for j in jobs if status in (None, j.status) and owner in (None, j.owner)][:limit]

    async def unfinished(self) -> list[Job]:
        jobs = sorted(self.jobs.values(), key=lambda job: job.created_at)
        return [job for job in jobs if job.status not in TERMINAL_STATUSES]

    async def put_fal_key(self, owner: str, sealed: SealedKey) -> None:
        self.fal_keys[owner] = sealed

    async def fal_key(self, owner: str) -> SealedKey | None:
        return self.fal_keys.get(owner)

    async def delete_fal_key(self, owner: str) -> bool:
        return self.fal_keys.pop(owner, None) is not None

    async def changes(self) -> AsyncIterator[set[str] | None]:
        await anyio.sleep_forever()  # one process: its own changes are published in memory
        yield None

    async def close(self) -> None:
        return None

    def _by_key(self, key: str, owner: str) -> Job | None:
        return next((j for j in self.jobs.values() if j.idempotency_key == key and j.owner == owner), None)

    async def committed(self, owner: str, *, day_start: datetime) -> Committed:
        return self._committed(owner, day_start)

    def _committed(self, owner: str, day_start: datetime) -> Committed:
        return Committed(
            deployment_usd=self._spend_since(day_start),
            user_usd=self._spend_since(day_start, owner),
            user_in_flight=sum(1 for j in self.jobs.values() if j.owner == owner and not j.finished),
        )

    def _spend_since(self, since: datetime | None, owner: str | None = None) -> float:
        return sum(
            job.committed_usd
            for job in self.jobs.values()
            if (since is None or job.created_at >= since)
            and job.status not in UNBILLED_STATUSES
            and owner in (None, job.owner)
        )
