"""Spend limits are enforced before any submit; an idempotency key never pays twice for one video."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import anyio
import pytest
from mcp import Client
from mcp.types import TextResourceContents

from happyhorse_mcp.config import ConfigError, Settings
from happyhorse_mcp.domain.budget import DEFAULT_DAILY_BUDGET_USD, SpendLimits
from happyhorse_mcp.domain.catalog import MAX_EDIT_SOURCE_SECONDS

from ..fakefal import FakeFal
from ..prices import CLIP_USD, dollars, usd
from ..support import make_server

pytestmark = pytest.mark.anyio

CLIP = {"prompt": "a horse", "duration": 5, "resolution": "1080p"}  # CLIP_USD
# Tight limits: one clip fits a job, a clip twice as long does not; two clips fit a day, a third does not.
PER_JOB = round(1.5 * CLIP_USD, 2)
DAILY = round(2 * CLIP_USD + 0.20, 2)


def _text(result: object) -> str:
    return " ".join(getattr(c, "text", "") for c in getattr(result, "content", []))


@pytest.fixture
async def tight(settings: Settings) -> AsyncIterator[Client]:
    limits = SpendLimits(max_usd_per_job=PER_JOB, daily_budget_usd=DAILY)
    async with Client(make_server(dataclasses.replace(settings, limits=limits))) as client:
        yield client


async def test_a_job_above_the_per_job_limit_is_refused_and_not_submitted(tight: Client, fake: FakeFal) -> None:
    result = await tight.call_tool("generate_video", {**CLIP, "duration": 10})
    assert result.is_error
    text = _text(result)
    assert dollars(usd(duration=10)) in text
    assert f"HAPPYHORSE_MAX_USD_PER_JOB; {dollars(DAILY)} of today's budget is left" in text
    assert "Nothing was submitted" in text
    assert fake.requests == []


async def test_the_daily_budget_counts_earlier_jobs_and_says_what_is_left(tight: Client, fake: FakeFal) -> None:
    first = await tight.call_tool("generate_video", CLIP)
    second = await tight.call_tool("generate_video", CLIP)
    third = await tight.call_tool("generate_video", CLIP)

    assert not first.is_error
    assert not second.is_error
    assert third.is_error
    assert f"only {dollars(DAILY - 2 * CLIP_USD)} of today's budget of {dollars(DAILY)} is left" in _text(third)
    assert "HAPPYHORSE_DAILY_BUDGET_USD" in _text(third)
    assert len(fake.submits) == 2


async def test_failed_jobs_do_not_count_against_the_budget(tight: Client, fake: FakeFal) -> None:
    fake.outcomes.extend(["content_policy", "content_policy"])
    for _ in range(2):
        assert (await tight.call_tool("generate_video", CLIP)).is_error
    assert not (await tight.call_tool("generate_video", CLIP)).is_error


async def test_concurrent_calls_cannot_overspend_the_budget(tight: Client, fake: FakeFal) -> None:
    fake.hold = True
    results: list[bool] = []

    async def call() -> None:
        results.append((await tight.call_tool("generate_video", {**CLIP, "wait_seconds": 0})).is_error)

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(call)
    assert sorted(results) == [False, False, True, True]
    assert len(fake.submits) == 2


async def test_max_cost_usd_refuses_a_dearer_job(client: Client, fake: FakeFal) -> None:
    below = round(CLIP_USD - 0.01, 2)
    result = await client.call_tool("generate_video", {**CLIP, "max_cost_usd": below})
    assert result.is_error
    left = dollars(DEFAULT_DAILY_BUDGET_USD)
    assert f"above this call's max_cost_usd of {dollars(below)} ({left} of today's budget is left)" in _text(result)
    assert fake.requests == []
    assert not (await client.call_tool("generate_video", {**CLIP, "max_cost_usd": CLIP_USD})).is_error


async def test_an_edit_of_unknown_length_is_budgeted_at_the_longest_source(client: Client, fake: FakeFal) -> None:
    result = await client.call_tool("edit_video", {"video_url": "https://example.com/v.mp4", "prompt": "night"})
    assert result.is_error
    assert dollars(usd("edit_video", source_duration=MAX_EDIT_SOURCE_SECONDS)) in _text(result)
    assert "pass source_duration" in _text(result)
    assert fake.requests == []


async def test_the_same_idempotency_key_returns_the_first_job_without_paying_again(
    client: Client, fake: FakeFal
) -> None:
    first = await client.call_tool("generate_video", {**CLIP, "idempotency_key": "story-shot-1"})
    again = await client.call_tool("generate_video", {**CLIP, "idempotency_key": "story-shot-1"})
    other = await client.call_tool("generate_video", {**CLIP, "idempotency_key": "story-shot-2"})

    assert first.structured_content is not None
    assert again.structured_content is not None
    assert other.structured_content is not None
    assert again.structured_content["job_id"] == first.structured_content["job_id"]
    assert other.structured_content["job_id"] != first.structured_content["job_id"]
    assert len(fake.submits) == 2


async def test_an_idempotency_key_reused_for_other_arguments_is_refused(client: Client, fake: FakeFal) -> None:
    await client.call_tool("generate_video", {**CLIP, "idempotency_key": "k"})
    result = await client.call_tool("generate_video", {**CLIP, "prompt": "a zebra", "idempotency_key": "k"})
    assert result.is_error
    assert "already used for job" in _text(result)
    assert len(fake.submits) == 1


async def test_estimate_cost_reports_what_the_budget_leaves_today(tight: Client) -> None:
    await tight.call_tool("generate_video", CLIP)
    fits = await tight.call_tool("estimate_cost", {"operation": "text-to-video", "duration": 3, "resolution": "720p"})
    too_dear = await tight.call_tool("estimate_cost", {"operation": "text-to-video", "duration": 6})

    assert fits.structured_content is not None
    assert fits.structured_content["budget"] == {
        "allowed": True,
        "left_today_usd": round(DAILY - CLIP_USD, 2),
        "daily_budget_usd": DAILY,
        "max_usd_per_job": PER_JOB,
        "reason": None,
    }
    assert f"{dollars(DAILY - CLIP_USD)} of today's budget is left" in fits.structured_content["summary"]
    assert too_dear.structured_content is not None
    assert too_dear.structured_content["budget"]["allowed"] is False
    assert f"only {dollars(DAILY - CLIP_USD)}" in too_dear.structured_content["budget"]["reason"]


async def test_the_spend_resource_shows_today_month_total_and_limits(tight: Client) -> None:
    await tight.call_tool("generate_video", CLIP)
    read = await tight.read_resource("happyhorse://spend")
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    spend = json.loads(content.text)
    assert (spend["today_usd"], spend["month_usd"], spend["total_usd"]) == (CLIP_USD, CLIP_USD, CLIP_USD)
    left = round(DAILY - CLIP_USD, 2)
    assert (spend["daily_budget_usd"], spend["max_usd_per_job"], spend["left_today_usd"]) == (DAILY, PER_JOB, left)


async def test_list_jobs_filters_by_status_newest_first(client: Client, fake: FakeFal) -> None:
    fake.outcomes.append("content_policy")
    await client.call_tool("generate_video", {**CLIP, "prompt": "first"})
    await client.call_tool("generate_video", {**CLIP, "prompt": "second"})
    await client.call_tool("generate_video", {**CLIP, "prompt": "third"})

    everything = await client.call_tool("list_jobs", {})
    failed = await client.call_tool("list_jobs", {"status": "failed"})
    one = await client.call_tool("list_jobs", {"limit": 1})

    assert everything.structured_content is not None
    assert everything.structured_content["count"] == 3
    assert failed.structured_content is not None
    assert [j["status"] for j in failed.structured_content["jobs"]] == ["failed"]
    assert one.structured_content is not None
    assert one.structured_content["count"] == 1


@pytest.mark.parametrize("value", ["-1", "ten", "nan", "inf"])
def test_a_malformed_limit_stops_the_server_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="HAPPYHORSE_DAILY_BUDGET_USD"):
        Settings.from_env({"HAPPYHORSE_DAILY_BUDGET_USD": value, "HAPPYHORSE_DATA_DIR": "/tmp/x"})


def test_limits_have_safe_defaults_and_are_read_from_the_environment() -> None:
    assert Settings.from_env({"HAPPYHORSE_DATA_DIR": "/tmp/x"}).limits == SpendLimits(10.0, 30.0)
    env = {"HAPPYHORSE_MAX_USD_PER_JOB": "2.5", "HAPPYHORSE_DAILY_BUDGET_USD": "0", "HAPPYHORSE_DATA_DIR": "/tmp/x"}
    assert Settings.from_env(env).limits == SpendLimits(2.5, 0.0)


async def test_list_jobs_text_is_a_line_per_job(client: Client, fake: FakeFal) -> None:
    for n in range(3):
        await client.call_tool("generate_video", {"prompt": f"shot {n}", "duration": 3})
    listed = await client.call_tool("list_jobs", {})
    lines = listed.content[0].text.splitlines()  # type: ignore[union-attr]
    assert len(lines) == 3
    assert all(line.startswith("hh_") and "completed" in line for line in lines)
    assert listed.structured_content is not None
    assert listed.structured_content["count"] == 3
