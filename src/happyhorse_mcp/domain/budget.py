"""Spend limits and the one decision "may this job run": per call (max_cost_usd), per job, per UTC day. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from pydantic import BaseModel, Field

from .errors import Refusal, RefusalKind
from .models import utcnow
from .principal import LOCAL_USER

DEFAULT_MAX_USD_PER_JOB = 10.0
DEFAULT_DAILY_BUDGET_USD = 30.0
DEFAULT_CONFIRM_ABOVE_USD = 3.0

# What spend figures count (the spend report says which): with an admin key, what fal billed where it is known.
NEEDS_ADMIN_KEY = "billed cost unavailable: needs an admin key"
BILLS_WHERE_READ = "what fal billed where read (FAL_ADMIN_KEY), the estimate until then"
ESTIMATES_ONLY = f"this server's estimates ({NEEDS_ADMIN_KEY})"


@dataclass(frozen=True)
class Committed:
    """What counts against the limits when a job asks to run: USD committed since the budget day began by the whole
    deployment and by the job's user (finished jobs and jobs still running), and the user's unfinished jobs."""

    deployment_usd: float = 0.0
    user_usd: float = 0.0
    user_in_flight: int = 0

    @classmethod
    def alone(cls, spent_today: float, in_flight: int = 0) -> Committed:
        """One user who is the whole deployment (stdio, a single token)."""
        return cls(deployment_usd=spent_today, user_usd=spent_today, user_in_flight=in_flight)


@dataclass(frozen=True)
class Spend:
    """What a call asks to spend, with everything the decision needs: the price (a film's whole price), whose money
    it is, the caller's own cap, and for a film its dearest shot (the per-job limit is on each job)."""

    usd: float
    owner: str = LOCAL_USER
    max_cost_usd: float | None = None
    largest_job_usd: float | None = None
    # A film's shot: paid for with its film, whose admission held its price; only its key is checked.
    within_film: bool = False


@dataclass(frozen=True)
class SpendLimits:
    max_usd_per_job: float = DEFAULT_MAX_USD_PER_JOB
    daily_budget_usd: float = DEFAULT_DAILY_BUDGET_USD
    confirm_above_usd: float = DEFAULT_CONFIRM_ABOVE_USD
    # Per user, on a deployment many people share: each one's own daily budget and unfinished jobs (fal queues
    # whatever it is sent, so nothing else stops one user's agent from queueing hundreds). None: no such limit.
    user_daily_budget_usd: float | None = None
    user_max_jobs_in_flight: int | None = None

    def left_today(self, committed: Committed) -> float:
        """What the caller may still commit today: the deployment's budget, and their own where one is set."""
        left = self.daily_budget_usd - committed.deployment_usd
        if self.user_daily_budget_usd is not None:
            left = min(left, self.user_daily_budget_usd - committed.user_usd)
        return round(max(0.0, left), 2)

    def refusal(self, spend: Spend, committed: Committed) -> Refusal | None:
        """Why the spend may not happen, naming the setting to change; None when it fits every limit. For a film the
        per-job limit is on its dearest shot, the rest on the whole film; a film's shot was decided with its film."""
        if spend.within_film:
            return None
        cost_usd, max_cost_usd, largest_job_usd = spend.usd, spend.max_cost_usd, spend.largest_job_usd
        left = self.left_today(committed)

        def refused(kind: RefusalKind, limit: float, problem: str, remedy: str) -> Refusal:
            return Refusal(
                kind=kind, cost_usd=cost_usd, limit_usd=limit, left_today_usd=left, problem=problem, remedy=remedy
            )

        if max_cost_usd is not None and cost_usd > max_cost_usd:
            return refused(
                "max_cost",
                max_cost_usd,
                f"This job is estimated at USD {cost_usd:.2f}, above this call's max_cost_usd of USD "
                f"{max_cost_usd:.2f} (USD {left:.2f} of today's budget is left).",
                "Raise max_cost_usd, or ask for fewer seconds or 720p.",
            )
        if (job_usd := cost_usd if largest_job_usd is None else largest_job_usd) > self.max_usd_per_job:
            what = "This job is" if largest_job_usd is None else "The film's dearest shot is"
            return refused(
                "per_job",
                self.max_usd_per_job,
                f"{what} estimated at USD {job_usd:.2f}, above the per-job limit of USD "
                f"{self.max_usd_per_job:.2f} (HAPPYHORSE_MAX_USD_PER_JOB; USD {left:.2f} of today's budget is left).",
                "Ask for fewer seconds or 720p, or have the server's operator raise HAPPYHORSE_MAX_USD_PER_JOB.",
            )
        cap = self.user_max_jobs_in_flight
        if cap is not None and committed.user_in_flight >= cap:
            return refused(
                "jobs_in_flight",
                float(cap),
                f"You already have {committed.user_in_flight} unfinished job(s), the most one user may have at once "
                f"here (HAPPYHORSE_USER_MAX_JOBS_IN_FLIGHT={cap}).",
                "Wait for one to finish (get_job, list_jobs), or cancel one with cancel_job.",
            )
        mine = self.user_daily_budget_usd
        if mine is not None and cost_usd > round(mine - committed.user_usd, 2):
            return refused(
                "user_daily_budget",
                mine,
                f"This job is estimated at USD {cost_usd:.2f}, but only USD {max(0.0, mine - committed.user_usd):.2f} "
                f"of your daily budget of USD {mine:.2f} is left (HAPPYHORSE_USER_DAILY_BUDGET_USD; USD "
                f"{committed.user_usd:.2f} spent or committed by you since midnight UTC).",
                "Wait for the next UTC day, make a cheaper video, or ask the server's operator to raise "
                "HAPPYHORSE_USER_DAILY_BUDGET_USD.",
            )
        spent = committed.deployment_usd
        if cost_usd > round(self.daily_budget_usd - spent, 2):
            whole = max(0.0, self.daily_budget_usd - spent)
            return refused(
                "daily_budget",
                self.daily_budget_usd,
                f"This job is estimated at USD {cost_usd:.2f}, but only USD {whole:.2f} "
                f"of today's budget of USD {self.daily_budget_usd:.2f} is left (HAPPYHORSE_DAILY_BUDGET_USD; USD "
                f"{spent:.2f} spent or committed since midnight UTC).",
                "Wait for the next UTC day, make a cheaper video, or have the server's operator raise "
                "HAPPYHORSE_DAILY_BUDGET_USD.",
            )
        return None


class SpendReport(BaseModel):
    """One user's spend (on stdio, the one local user's: every job), never another's."""

    today_usd: float = Field(description="Committed by you today (UTC): finished jobs and jobs still running.")
    month_usd: float = Field(description="Committed by you this calendar month (UTC).")
    total_usd: float = Field(description="Committed by every job of yours this server has recorded.")
    daily_budget_usd: float = Field(description="HAPPYHORSE_DAILY_BUDGET_USD, the whole server's.")
    left_today_usd: float = Field(description="What you may still commit today, within every budget.")
    max_usd_per_job: float = Field(description="HAPPYHORSE_MAX_USD_PER_JOB.")
    day_starts_at: datetime = Field(description="Start of the current budget day (midnight UTC).")
    user_daily_budget_usd: float | None = Field(default=None, description="HAPPYHORSE_USER_DAILY_BUDGET_USD, yours.")
    user_max_jobs_in_flight: int | None = Field(default=None, description="HAPPYHORSE_USER_MAX_JOBS_IN_FLIGHT.")
    counted: str = Field(
        default=ESTIMATES_ONLY, description="What the figures count: fal's bills where read, else the estimates."
    )


def start_of_day(now: datetime | None = None) -> datetime:
    now = now or utcnow()
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


def start_of_month(now: datetime | None = None) -> datetime:
    return start_of_day(now).replace(day=1)
