"""Spend limits and the one decision "may this job run": per call (max_cost_usd), per job, per UTC day. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from pydantic import BaseModel, Field

from .errors import Refusal
from .models import utcnow

DEFAULT_MAX_USD_PER_JOB = 10.0
DEFAULT_DAILY_BUDGET_USD = 30.0
DEFAULT_CONFIRM_ABOVE_USD = 3.0


@dataclass(frozen=True)
class SpendLimits:
    max_usd_per_job: float = DEFAULT_MAX_USD_PER_JOB
    daily_budget_usd: float = DEFAULT_DAILY_BUDGET_USD
    confirm_above_usd: float = DEFAULT_CONFIRM_ABOVE_USD

    def left_today(self, spent_today: float) -> float:
        return round(max(0.0, self.daily_budget_usd - spent_today), 2)

    def refusal(self, cost_usd: float, *, spent_today: float, max_cost_usd: float | None = None) -> Refusal | None:
        """Why the job may not run, naming the setting to change; None when it fits every limit."""
        left = self.left_today(spent_today)
        if max_cost_usd is not None and cost_usd > max_cost_usd:
            return Refusal(
                kind="max_cost",
                cost_usd=cost_usd,
                limit_usd=max_cost_usd,
                left_today_usd=left,
                problem=f"This job is estimated at USD {cost_usd:.2f}, above this call's max_cost_usd of USD "
                f"{max_cost_usd:.2f} (USD {left:.2f} of today's budget is left).",
                remedy="Raise max_cost_usd, or ask for fewer seconds or 720p.",
            )
        if cost_usd > self.max_usd_per_job:
            return Refusal(
                kind="per_job",
                cost_usd=cost_usd,
                limit_usd=self.max_usd_per_job,
                left_today_usd=left,
                problem=f"This job is estimated at USD {cost_usd:.2f}, above the per-job limit of USD "
                f"{self.max_usd_per_job:.2f} (HAPPYHORSE_MAX_USD_PER_JOB; USD {left:.2f} of today's budget is left).",
                remedy="Ask for fewer seconds or 720p, or have the server's operator raise HAPPYHORSE_MAX_USD_PER_JOB.",
            )
        if cost_usd > left:
            return Refusal(
                kind="daily_budget",
                cost_usd=cost_usd,
                limit_usd=self.daily_budget_usd,
                left_today_usd=left,
                problem=f"This job is estimated at USD {cost_usd:.2f}, but only USD {left:.2f} of today's budget of "
                f"USD {self.daily_budget_usd:.2f} is left (HAPPYHORSE_DAILY_BUDGET_USD; USD {spent_today:.2f} spent "
                "or committed since midnight UTC).",
                remedy="Wait for the next UTC day, make a cheaper video, or have the server's operator raise "
                "HAPPYHORSE_DAILY_BUDGET_USD.",
            )
        return None


class SpendReport(BaseModel):
    today_usd: float = Field(description="Committed today (UTC): finished jobs and jobs still running.")
    month_usd: float = Field(description="Committed this calendar month (UTC).")
    total_usd: float = Field(description="Committed by every job this server has recorded.")
    daily_budget_usd: float = Field(description="HAPPYHORSE_DAILY_BUDGET_USD.")
    left_today_usd: float
    max_usd_per_job: float = Field(description="HAPPYHORSE_MAX_USD_PER_JOB.")
    day_starts_at: datetime = Field(description="Start of the current budget day (midnight UTC).")


def start_of_day(now: datetime | None = None) -> datetime:
    now = now or utcnow()
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


def start_of_month(now: datetime | None = None) -> datetime:
    return start_of_day(now).replace(day=1)
