"""The spend guard: the one place that knows what has been spent and whether a job may run.

`estimate_cost` asks it for a refusal to report, the confirmation resolver asks it before anyone is asked to pay,
and admission asks it inside the store's transaction, where the answer is binding.
"""

from __future__ import annotations

from ..domain.budget import SpendLimits, SpendReport, start_of_day, start_of_month
from ..domain.errors import BudgetExceededError, Refusal, StoreError
from ..domain.models import Job
from .store import Admission, JobStore
from .store.base import Lease


class SpendGuard:
    def __init__(self, store: JobStore, limits: SpendLimits) -> None:
        self._store = store
        self.limits = limits

    async def spent_today(self) -> float:
        """USD committed since midnight UTC: the one figure the limits need."""
        return await self._store.spend_since(start_of_day())

    async def refusal(self, cost_usd: float, *, max_cost_usd: float | None = None) -> tuple[Refusal | None, float]:
        """Why a job of this cost would be refused now (None if it would run), and today's spend."""
        spent = await self.spent_today()
        return self.limits.refusal(cost_usd, spent_today=spent, max_cost_usd=max_cost_usd), spent

    async def check(self, cost_usd: float, *, max_cost_usd: float | None = None, hint: str = "") -> float:
        """Raise BudgetExceededError when the job would be refused; returns today's spend."""
        refusal, spent = await self.refusal(cost_usd, max_cost_usd=max_cost_usd)
        if refusal is not None:
            raise BudgetExceededError(refusal, hint=hint)
        return spent

    async def admit(self, job: Job, *, max_cost_usd: float | None, lease: Lease | None = None) -> Admission:
        """Record `job` if the limits allow it, atomically with its idempotency key and today's spend."""
        cost = job.cost_usd or 0.0
        try:
            return await self._store.admit(
                job,
                lambda spent: self.limits.refusal(cost, spent_today=spent, max_cost_usd=max_cost_usd),
                day_start=start_of_day(),
                lease=lease,
            )
        except StoreError as exc:
            raise StoreError(f"{exc.message} Nothing was submitted.") from exc

    async def report(self) -> SpendReport:
        today = await self.spent_today()
        return SpendReport(
            today_usd=round(today, 2),
            month_usd=round(await self._store.spend_since(start_of_month()), 2),
            total_usd=round(await self._store.spend_since(None), 2),
            daily_budget_usd=self.limits.daily_budget_usd,
            left_today_usd=self.limits.left_today(today),
            max_usd_per_job=self.limits.max_usd_per_job,
            day_starts_at=start_of_day(),
        )
