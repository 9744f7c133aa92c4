"""What the runner needs from a job store. SQLite is the default; the in-memory store serves unit tests.

Admission (idempotency key, today's spend, the limits and the insert) is one store operation, so a backend can make
it one transaction and no two callers, threads or processes can overspend between the check and the insert.

Every job has an owner. A read given `owner` finds only that user's jobs, in the same query that finds the job, so
another user's job id reads exactly as an unknown one; `owner=None` is the server's own view (following, takeover).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import NamedTuple, Protocol

from ...domain.budget import Committed
from ...domain.errors import BudgetExceededError, Refusal
from ...domain.models import Job
from ...domain.principal import SealedKey

# Jobs that cost nothing: fal bills only runs that produce a result.
UNBILLED_STATUSES = ("failed", "cancelled")

# Given what has been committed since the start of the budget day, why the job may not run (None: it may).
Decide = Callable[[Committed], Refusal | None]


class Admission(NamedTuple):
    job: Job
    created: bool  # False: the idempotency key was known, and `job` is the earlier job


def admission_of(job: Job, earlier: Job | None, committed: Callable[[], Committed], decide: Decide) -> Admission:
    """The admission rule, which every store applies inside its own transaction: the earlier job of the same user's
    idempotency key is the answer (nothing new is paid for); else the limits decide on what has been committed since
    the day began (BudgetExceededError); else `job` is to be recorded (`created`). `committed` is read only when
    the limits are asked."""
    if earlier is not None:
        return Admission(earlier, created=False)
    if (refusal := decide(committed())) is not None:
        raise BudgetExceededError(refusal)
    return Admission(job, created=True)


class Lease(NamedTuple):
    """Who follows a job, and for how long without renewing: one follower per job across processes."""

    holder: str
    seconds: float


class JobStore(Protocol):
    async def admit(self, job: Job, decide: Decide, *, day_start: datetime, lease: Lease | None = None) -> Admission:
        """Return the job `job.owner` already recorded under `job.idempotency_key`, or, when `decide` allows it
        given what is committed since `day_start` (by everyone, and by `job.owner`), insert `job` (its lease held by
        `lease`); all as one atomic step. Raises BudgetExceededError on a refusal."""
        ...

    async def put(self, job: Job) -> None:
        """Write `job` whatever is stored (tests and tools; the runner uses `update`)."""
        ...

    async def update(self, job: Job, *, holder: str | None = None) -> Job | None:
        """Write `job` if the stored version is still `job.version` and, with `holder`, its lease is still
        `holder`'s; returns it at the next version, or None when someone else wrote first or the lease was lost. A
        finished job's lease is released."""
        ...

    async def claim(self, job_id: str, lease: Lease) -> bool:
        """Take (or keep) the job's lease if it is free, expired or already `lease.holder`'s."""
        ...

    async def renew(self, lease: Lease, job_ids: list[str]) -> set[str]:
        """Extend the holder's leases on these jobs; returns the ids whose lease it still holds."""
        ...

    async def release(self, holder: str) -> None:
        """Give up every lease `holder` has, so another process takes those jobs over at once (a clean shutdown)."""
        ...

    async def claimable(self) -> list[Job]:
        """Unfinished jobs whose lease is free or expired (their follower is gone), oldest first."""
        ...

    async def get(self, job_id: str, owner: str | None = None) -> Job | None: ...

    async def by_idempotency_key(self, key: str, owner: str) -> Job | None: ...

    async def committed(self, owner: str, *, day_start: datetime) -> Committed:
        """What is committed since `day_start` by everyone and by `owner`, and `owner`'s unfinished jobs: the one
        reading admission decides on (inside its transaction), and the spend guard reports."""
        ...

    async def spend_since(self, since: datetime | None, owner: str | None = None) -> float:
        """USD committed by jobs created since `since` (all time when None), by `owner` or by everyone: finished or
        still running."""
        ...

    async def recent(self, limit: int = 50, status: str | None = None, owner: str | None = None) -> list[Job]: ...

    async def unfinished(self) -> list[Job]: ...

    def changes(self) -> AsyncIterator[set[str] | None]:
        """Each time another process changes jobs: their ids, or None when the store cannot tell which (read again
        whatever is waited on). Runs until cancelled."""
        ...

    async def close(self) -> None: ...


class FalKeyStore(Protocol):
    """Where users' own fal keys are kept, sealed (jobs/accounts.py is the only reader). Each job store is one too,
    in its own table, but nothing that follows jobs needs these."""

    async def put_fal_key(self, owner: str, sealed: SealedKey) -> None:
        """Keep `owner`'s own fal key (sealed), replacing the one they had."""
        ...

    async def fal_key(self, owner: str) -> SealedKey | None: ...

    async def delete_fal_key(self, owner: str) -> bool:
        """Forget `owner`'s own fal key; False when there was none."""
        ...


class Store(JobStore, FalKeyStore, Protocol):
    """A store backend (SQLite, PostgreSQL, memory): the jobs, and users' own fal keys beside them."""
