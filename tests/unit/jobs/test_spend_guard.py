"""The spend guard answers "may this run" from the store's record of what was spent today."""

from __future__ import annotations

from typing import Any

import pytest

from happyhorse_mcp.domain.budget import ESTIMATES_ONLY, Committed, Spend, SpendLimits
from happyhorse_mcp.domain.catalog import Operation
from happyhorse_mcp.domain.errors import BudgetExceededError
from happyhorse_mcp.domain.models import Job
from happyhorse_mcp.jobs.spend import SpendGuard
from happyhorse_mcp.jobs.store.base import admission_of
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

pytestmark = pytest.mark.anyio


def job(job_id: str, cost: float, status: str = "running", owner: str = "local") -> Job:
    return Job(
        job_id=job_id,
        owner=owner,
        operation=Operation.TEXT_TO_VIDEO,
        endpoint="alibaba/happy-horse/text-to-video",
        arguments={},
        cost_usd=cost,
        status=status,
    )


async def guard_with(*jobs: Job, limits: SpendLimits | None = None) -> SpendGuard:
    store = MemoryJobStore()
    for each in jobs:
        await store.put(each)
    return SpendGuard(store, limits or SpendLimits(max_usd_per_job=5.0, daily_budget_usd=10.0))


async def test_a_refusal_is_reported_with_today_s_spend_and_nothing_is_recorded() -> None:
    guard = await guard_with(job("hh_1", 8.0))
    refusal, committed = await guard.refusal(Spend(3.0))
    assert committed == Committed.alone(8.0, in_flight=1), "the same reading admission decides on"
    assert refusal is not None
    assert refusal.kind == "daily_budget"


async def test_check_raises_with_the_hint_appended() -> None:
    guard = await guard_with()
    with pytest.raises(BudgetExceededError, match="pass source_duration"):
        await guard.check(Spend(6.0), hint=" pass source_duration.")


async def test_admission_records_the_job_only_when_it_fits() -> None:
    guard = await guard_with(job("hh_1", 8.0))
    _, created = await guard.admit(job("hh_2", 2.0, status="submitting"), Spend(2.0))
    assert created
    with pytest.raises(BudgetExceededError):
        await guard.admit(job("hh_3", 0.5, status="submitting"), Spend(0.5))
    assert (await guard.committed("local")).deployment_usd == 10.0


async def test_the_report_counts_unbilled_jobs_as_nothing() -> None:
    guard = await guard_with(job("hh_1", 2.0, "completed"), job("hh_2", 3.0, "failed"), job("hh_3", 1.0))
    report = await guard.report("local")
    assert (report.today_usd, report.month_usd, report.total_usd, report.left_today_usd) == (3.0, 3.0, 3.0, 7.0)
    assert report.counted == ESTIMATES_ONLY  # no admin key: nothing read from fal's bills


async def test_a_bill_read_from_fal_counts_instead_of_the_estimate() -> None:
    billed = job("hh_1", 2.0, "completed").model_copy(update={"billed_usd": 2.05})
    guard = await guard_with(billed, job("hh_2", 1.0))
    assert (await guard.committed("local")).deployment_usd == pytest.approx(3.05)


SHARED = SpendLimits(max_usd_per_job=5.0, daily_budget_usd=10.0, user_daily_budget_usd=4.0, user_max_jobs_in_flight=2)


async def test_a_user_s_report_shows_their_own_spend_and_what_is_left_for_them() -> None:
    guard = await guard_with(job("hh_1", 3.0, "completed", owner="alice"), job("hh_2", 5.0, owner="bob"), limits=SHARED)
    alice, bob = await guard.report("alice"), await guard.report("bob")
    assert (alice.today_usd, alice.total_usd, alice.left_today_usd) == (3.0, 3.0, 1.0)
    assert (bob.today_usd, bob.total_usd, bob.left_today_usd) == (5.0, 5.0, 0.0)
    assert (alice.user_daily_budget_usd, alice.user_max_jobs_in_flight) == (4.0, 2)


async def test_admission_counts_the_user_s_own_spend_and_jobs_in_flight_and_everyone_s_for_the_deployment() -> None:
    guard = await guard_with(job("hh_1", 3.0, "completed", owner="alice"), job("hh_2", 0.1, owner="bob"), limits=SHARED)
    with pytest.raises(BudgetExceededError, match="HAPPYHORSE_USER_DAILY_BUDGET_USD"):
        await guard.admit(job("hh_3", 1.5, "submitting", owner="alice"), Spend(1.5, "alice"))
    assert (await guard.admit(job("hh_4", 1.5, "submitting", owner="bob"), Spend(1.5, "bob"))).created
    with pytest.raises(BudgetExceededError, match="HAPPYHORSE_USER_MAX_JOBS_IN_FLIGHT"):
        await guard.admit(job("hh_5", 0.1, "submitting", owner="bob"), Spend(0.1, "bob"))


def test_the_admission_rule_every_store_applies_earlier_job_then_limits_then_record() -> None:
    new = Job(job_id="hh_new", operation=Operation.TEXT_TO_VIDEO, endpoint="e", arguments={}, cost_usd=1.0)
    earlier = new.model_copy(update={"job_id": "hh_earlier"})
    limits = SpendLimits(daily_budget_usd=2.0)

    def decide(committed: Committed) -> Any:
        return limits.refusal(Spend(1.0), committed)

    def spent(usd: float) -> Any:
        return lambda: Committed.alone(usd)

    assert admission_of(new, earlier, spent(99.0), decide) == (earlier, False), "a known key is never refused"
    assert admission_of(new, None, spent(1.0), decide) == (new, True)
    with pytest.raises(BudgetExceededError):
        admission_of(new, None, spent(1.5), decide)
