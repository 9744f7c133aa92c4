"""The one decision "may this job run": the call's cap first, then the per-job limit, then the user's jobs in flight
and daily budget (on a shared deployment), then the deployment's day budget."""

from __future__ import annotations

from datetime import UTC, datetime

from happyhorse_mcp.domain.budget import Committed, Spend, SpendLimits, start_of_day, start_of_month
from happyhorse_mcp.domain.errors import BudgetExceededError

LIMITS = SpendLimits(max_usd_per_job=5.0, daily_budget_usd=10.0, confirm_above_usd=3.0)


def test_a_job_within_every_limit_is_not_refused() -> None:
    assert LIMITS.refusal(Spend(4.0), Committed.alone(6.0)) is None


def test_the_call_s_max_cost_is_checked_first_and_says_to_raise_it() -> None:
    refusal = LIMITS.refusal(Spend(6.0, max_cost_usd=2.0), Committed.alone(9.0))
    assert refusal is not None
    assert (refusal.kind, refusal.limit_usd, refusal.left_today_usd) == ("max_cost", 2.0, 1.0)
    assert "Raise max_cost_usd" in refusal.reason


def test_the_per_job_limit_names_its_variable() -> None:
    refusal = LIMITS.refusal(Spend(6.0), Committed.alone(0.0))
    assert refusal is not None
    assert refusal.kind == "per_job"
    assert "HAPPYHORSE_MAX_USD_PER_JOB" in refusal.reason


def test_the_daily_budget_counts_what_is_left_today() -> None:
    refusal = LIMITS.refusal(Spend(4.0), Committed.alone(7.5))
    assert refusal is not None
    assert (refusal.kind, refusal.left_today_usd) == ("daily_budget", 2.5)
    assert "USD 7.50 spent or committed" in refusal.reason


def test_a_job_that_exactly_uses_up_the_budget_runs() -> None:
    assert LIMITS.refusal(Spend(2.5), Committed.alone(7.5)) is None


def test_the_refusal_error_says_nothing_was_submitted_and_the_report_does_not() -> None:
    refusal = LIMITS.refusal(Spend(6.0), Committed.alone(0.0))
    assert refusal is not None
    assert "Nothing was submitted." in BudgetExceededError(refusal).message
    assert "Nothing was submitted." not in refusal.reason


SHARED = SpendLimits(max_usd_per_job=5.0, daily_budget_usd=10.0, user_daily_budget_usd=4.0, user_max_jobs_in_flight=2)


def test_a_user_s_own_daily_budget_refuses_what_would_pass_the_deployment_s() -> None:
    refusal = SHARED.refusal(Spend(1.5), Committed(deployment_usd=3.0, user_usd=3.0))
    assert refusal is not None
    assert (refusal.kind, refusal.limit_usd, refusal.left_today_usd) == ("user_daily_budget", 4.0, 1.0)
    assert "HAPPYHORSE_USER_DAILY_BUDGET_USD" in refusal.reason
    assert SHARED.refusal(Spend(1.0), Committed(deployment_usd=3.0, user_usd=3.0)) is None


def test_what_others_spent_counts_against_the_deployment_budget_but_not_against_a_user_s_own() -> None:
    assert SHARED.refusal(Spend(3.5), Committed(deployment_usd=6.0, user_usd=0.0)) is None
    refusal = SHARED.refusal(Spend(3.5), Committed(deployment_usd=7.0, user_usd=0.0))
    assert refusal is not None
    assert (refusal.kind, refusal.left_today_usd) == ("daily_budget", 3.0)


def test_a_user_at_the_limit_of_jobs_in_flight_is_refused_whatever_the_price() -> None:
    refusal = SHARED.refusal(Spend(0.1), Committed(user_in_flight=2))
    assert refusal is not None
    assert refusal.kind == "jobs_in_flight"
    assert "HAPPYHORSE_USER_MAX_JOBS_IN_FLIGHT=2" in refusal.reason
    assert SHARED.refusal(Spend(0.1), Committed(user_in_flight=1)) is None


def test_what_is_left_today_is_the_smaller_of_the_user_s_and_the_deployment_s() -> None:
    assert SHARED.left_today(Committed(deployment_usd=9.0, user_usd=1.0)) == 1.0
    assert SHARED.left_today(Committed(deployment_usd=2.0, user_usd=1.0)) == 3.0
    assert LIMITS.left_today(Committed.alone(12.0)) == 0.0


def test_the_budget_day_and_month_start_at_midnight_utc() -> None:
    now = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)
    assert start_of_day(now) == datetime(2026, 11, 25, tzinfo=UTC)
    assert start_of_month(now) == datetime(2026, 11, 1, tzinfo=UTC)
