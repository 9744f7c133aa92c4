"""The spend guard answers "may this run" from the store's record of what was spent today."""

from __future__ import annotations

from typing import Any

import pytest

from happyhorse_mcp.domain.budget import SpendLimits
from happyhorse_mcp.domain.catalog import Operation
from happyhorse_mcp.domain.errors import BudgetExceededError
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.jobs.spend import SpendGuard
from happyhorse_mcp.jobs.store.base import admission_of
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

pytestmark = pytest.mark.anyio


def job(job_id: str, cost: float, status: str = "running") -> Job:
    return Job(
        job_id=job_id,
        operation=Operation.TEXT_TO_VIDEO,
        endpoint="alibaba/happy-horse/text-to-video",
        arguments={},
        cost_usd=cost,
        status=status,
    )


async def guard_with(*jobs: Job) -> SpendGuard:
    store = MemoryJobStore()
    for each in jobs:
        await store.put(each)
    return SpendGuard(store, SpendLimits(max_usd_per_job=5.0, daily_budget_usd=10.0))


async def test_a_refusal_is_reported_with_today_s_spend_and_nothing_is_recorded() -> None:
    guard = await guard_with(job("hh_1", 8.0))
    refusal, spent = await guard.refusal(3.0)
    assert spent == 8.0
    assert refusal is not None
    assert refusal.kind == "daily_budget"


async def test_check_raises_with_the_hint_appended() -> None:
    guard = await guard_with()
    with pytest.raises(BudgetExceededError, match="pass source_duration"):
        await guard.check(6.0, hint=" pass source_duration.")


async def test_admission_records_the_job_only_when_it_fits() -> None:
    guard = await guard_with(job("hh_1", 8.0))
    _, created = await guard.admit(job("hh_2", 2.0, status="submitting"), max_cost_usd=None)
    assert created
    with pytest.raises(BudgetExceededError):
        await guard.admit(job("hh_3", 0.5, status="submitting"), max_cost_usd=None)
    assert (await guard.spent_today()) == 10.0


async def test_the_report_counts_unbilled_jobs_as_nothing() -> None:
    guard = await guard_with(job("hh_1", 2.0, "completed"), job("hh_2", 3.0, "failed"), job("hh_3", 1.0))
    report = await guard.report()
    assert (report.today_usd, report.month_usd, report.total_usd, report.left_today_usd) == (3.0, 3.0, 3.0, 7.0)


def test_the_admission_rule_every_store_applies_earlier_job_then_limits_then_record() -> None:
    new = Job(job_id="hh_new", operation=Operation.TEXT_TO_VIDEO, endpoint="e", arguments={}, cost_usd=1.0)
    earlier = new.model_copy(update={"job_id": "hh_earlier"})
    limits = SpendLimits(daily_budget_usd=2.0)

    def decide(spent: float) -> Any:
        return limits.refusal(1.0, spent_today=spent)

    assert admission_of(new, earlier, 99.0, decide) == (earlier, False), "a known key is answered, never refused"
    assert admission_of(new, None, 1.0, decide) == (new, True)
    with pytest.raises(BudgetExceededError):
        admission_of(new, None, 1.5, decide)
