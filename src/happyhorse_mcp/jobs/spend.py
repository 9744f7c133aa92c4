"""The spend guard: the one place that knows what has been spent and whether a job may run.

`estimate_cost` asks it for a refusal to report, the confirmation resolver asks it before anyone is asked to pay,
and admission asks it inside the store's transaction, where the answer is binding. Every figure is for one user
(the local one on stdio), against their own limits and the deployment's.
"""

from __future__ import annotations

from ..domain.budget import (
    BILLS_WHERE_READ,
    ESTIMATES_ONLY,
    Committed,
    Spend,
    SpendLimits,
    SpendReport,
    start_of_day,
    start_of_month,
)
from ..domain.errors import BudgetExceededError, Refusal, StoreError
from ..domain.models import Job
from .store import Admission, JobStore
from .store.base import Lease


class SpendGuard:
    def __init__(self, store: JobStore, limits: SpendLimits, *, reads_bills: bool = False) -> None:
        self._store = store
        self.limits = limits
        self._counted = BILLS_WHERE_READ if reads_bills else ESTIMATES_ONLY  # jobs/billing.py records the bills

    async def committed(self, owner: str) -> Committed:
        """What `owner` and the whole deployment have committed since midnight UTC, and `owner`'s unfinished jobs:
        the store's one reading of it, the same admission makes (where it is binding)."""
        return await self._store.committed(owner, day_start=start_of_day())

    async def refusal(self, spend: Spend) -> tuple[Refusal | None, Committed]:
        """Why this spend would be refused now (None if it would run), and what is committed today."""
        committed = await self.committed(spend.owner)
        return self.limits.refusal(spend, committed), committed

    async def check(self, spend: Spend, *, hint: str = "") -> Committed:
        """Raise BudgetExceededError when the spend would be refused; returns what is committed today."""
        refusal, committed = await self.refusal(spend)
        if refusal is not None:
            raise BudgetExceededError(refusal, hint=hint)
        return committed

    async def admit(self, job: Job, spend: Spend, *, lease: Lease | None = None) -> Admission:
        """Record `job` if the limits allow `spend` (its price), atomically with its idempotency key and today's
        spend. A film's shot (`within_film`) was admitted with its film, whose record held its price until now:
        only its key is checked, and it is dated by its film (jobs/runner.py), so it counts on the budget day its
        film was admitted on, whichever day it is made: a film made across midnight never spends the new day's
        budget unchecked."""
        try:
            return await self._store.admit(
                job, lambda committed: self.limits.refusal(spend, committed), day_start=start_of_day(), lease=lease
            )
        except StoreError as exc:
            raise StoreError(f"{exc.message} Nothing was submitted.") from exc

    async def report(self, owner: str) -> SpendReport:
        """`owner`'s own spend, and what they may still commit today."""
        committed = await self.committed(owner)
        return SpendReport(
            today_usd=round(committed.user_usd, 2),
            month_usd=round(await self._store.spend_since(start_of_month(), owner), 2),
            total_usd=round(await self._store.spend_since(None, owner), 2),
            daily_budget_usd=self.limits.daily_budget_usd,
            left_today_usd=self.limits.left_today(committed),
            max_usd_per_job=self.limits.max_usd_per_job,
            day_starts_at=start_of_day(),
            user_daily_budget_usd=self.limits.user_daily_budget_usd,
            user_max_jobs_in_flight=self.limits.user_max_jobs_in_flight,
            counted=self._counted,
        )
