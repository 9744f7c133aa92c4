"""The generation flow without MCP: a request quoted (files, price, limits, the earlier job of a key, whether the
user must consent) and started (uploaded, admitted, submitted once, bound to a task), on the memory store against
the fake fal in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from happyhorse_mcp.domain.budget import SpendLimits
from happyhorse_mcp.domain.catalog import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, VIDEO_EDIT, OperationSpec
from happyhorse_mcp.domain.errors import (
    BudgetExceededError,
    InvalidMediaError,
    MissingKeyError,
    NotAllowedError,
    NotConfirmedError,
)
from happyhorse_mcp.domain.models import TaskHandle
from happyhorse_mcp.domain.pricing import estimate
from happyhorse_mcp.domain.principal import READ_SCOPE, Principal
from happyhorse_mcp.jobs.generation import Generation, GenerationRequest, Places, consented
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

from ... import media_factory
from ...fakefal import FakeFal
from ...support import Rig, runner_rig

pytestmark = pytest.mark.anyio

DEFAULTS: dict[str, Any] = {
    "duration": 5,
    "resolution": "1080p",
    "version": "1.0",
    "aspect_ratio": "16:9",
    "enable_safety_checker": True,
    "wait_seconds": 0,
}
FIVE_SECONDS = estimate(TEXT_TO_VIDEO, duration=5, resolution="1080p", version="1.0").usd
FIFTEEN_SECONDS = estimate(TEXT_TO_VIDEO, duration=15, resolution="1080p", version="1.0").usd
LIMITS = SpendLimits(max_usd_per_job=10.0, daily_budget_usd=FIVE_SECONDS * 3, confirm_above_usd=FIVE_SECONDS)


@pytest.fixture
async def rig(fake: FakeFal) -> AsyncIterator[Rig]:
    async with runner_rig(fake, MemoryJobStore(), LIMITS) as made:
        yield made


def _generation(rig: Rig, *, has_credentials: bool = True) -> Generation:
    return Generation(runner=rig.runner, guard=rig.guard, storage=rig.storage, has_credentials=has_credentials)


def _request(spec: OperationSpec = TEXT_TO_VIDEO, **arguments: Any) -> GenerationRequest:
    return GenerationRequest.of(spec, {**DEFAULTS, "prompt": "a grey horse on a beach", **arguments})


async def test_a_request_is_quoted_at_its_price_with_nothing_sent_to_fal(rig: Rig, fake: FakeFal) -> None:
    quote = await _generation(rig).quote(_request(), Places())
    assert quote.cost.usd == FIVE_SECONDS
    assert quote.earlier is None
    assert not quote.needs_consent(client_can_ask=True)
    assert fake.requests == []


async def test_above_the_threshold_the_user_is_asked_with_the_prompt_the_price_and_what_is_left(rig: Rig) -> None:
    quote = await _generation(rig).quote(_request(duration=15), Places())
    assert quote.needs_consent(client_can_ask=True)
    assert '"a grey horse on a beach"' in quote.question
    assert f"USD {FIFTEEN_SECONDS:.2f}" in quote.question
    assert f"USD {LIMITS.daily_budget_usd:.2f} of today's budget is left" in quote.question


async def test_a_client_that_cannot_ask_runs_only_what_max_cost_usd_already_covers(rig: Rig) -> None:
    generation = _generation(rig)
    unasked = await generation.quote(_request(duration=15), Places())
    with pytest.raises(NotConfirmedError, match=f"max_cost_usd={FIFTEEN_SECONDS:.2f}"):
        unasked.needs_consent(client_can_ask=False)
    preapproved = await generation.quote(_request(duration=15, max_cost_usd=FIFTEEN_SECONDS), Places())
    assert preapproved.preapproved
    assert not preapproved.needs_consent(client_can_ask=False)


def test_only_an_accepted_confirmation_goes_on_and_a_refusal_says_how_the_user_answered() -> None:
    consented("accept", True)
    for answer, said in [("accept", "answered no"), ("decline", "declined"), ("cancel", "dismissed the question")]:
        with pytest.raises(NotConfirmedError, match=said):
            consented(answer, answer != "accept")


async def test_a_job_past_the_daily_budget_is_refused_at_the_quote_before_anyone_is_asked(
    rig: Rig, fake: FakeFal
) -> None:
    with pytest.raises(BudgetExceededError):
        await _generation(rig).quote(_request(duration=15, max_cost_usd=1.0), Places())
    assert fake.requests == []


async def test_without_fal_credentials_the_quote_says_how_to_set_them(rig: Rig) -> None:
    with pytest.raises(MissingKeyError):
        await _generation(rig, has_credentials=False).quote(_request(), Places())


@pytest.mark.parametrize("who", ["a-user-without-the-generate-scope", "a-server-without-fal-credentials"])
async def test_a_caller_who_may_not_pay_is_refused_before_any_of_their_files_is_looked_at(
    rig: Rig, tmp_path: Path, who: str
) -> None:
    outside = _request(IMAGE_TO_VIDEO, image_url=str(tmp_path / "not-here.png"))  # a file error, were it looked at
    if who == "a-user-without-the-generate-scope":
        request = GenerationRequest(outside.spec, outside.arguments, Principal("reader", frozenset({READ_SCOPE})))
        with pytest.raises(NotAllowedError):
            await _generation(rig).quote(request, Places(allowed=(tmp_path / "elsewhere",)))
    else:
        with pytest.raises(MissingKeyError):
            await _generation(rig, has_credentials=False).quote(outside, Places(allowed=(tmp_path / "elsewhere",)))


async def test_a_started_job_is_admitted_and_submitted_once_and_bound_to_its_task(rig: Rig, fake: FakeFal) -> None:
    generation = _generation(rig)
    quote = await generation.quote(_request(), Places())
    job = await generation.start(quote, task=TaskHandle(ttl_ms=60_000))
    assert job.request_id is not None
    assert job.task == TaskHandle(ttl_ms=60_000)
    assert job.cost_usd == FIVE_SECONDS
    assert [submit.arguments["prompt"] for submit in fake.submits] == ["a grey horse on a beach"]


async def test_the_same_idempotency_key_is_quoted_as_the_first_job_and_started_without_paying_again(
    rig: Rig, fake: FakeFal
) -> None:
    generation = _generation(rig)
    first = await generation.start(await generation.quote(_request(idempotency_key="k1"), Places()))
    again = await generation.quote(_request(idempotency_key="k1"), Places())
    assert again.earlier is not None
    assert again.earlier.job_id == first.job_id
    assert not again.needs_consent(client_can_ask=True)
    assert (await generation.start(again)).job_id == first.job_id
    assert len(fake.submits) == 1


async def test_a_retry_by_its_key_returns_the_first_job_even_once_its_local_image_is_gone(
    rig: Rig, fake: FakeFal, tmp_path: Path
) -> None:
    picture = media_factory.image(tmp_path / "horse.png")
    request = _request(IMAGE_TO_VIDEO, image_url=str(picture), idempotency_key="k1")
    generation = _generation(rig)
    first = await generation.start(await generation.quote(request, Places(allowed=(tmp_path,))))
    picture.unlink()  # moved or cleaned up after the first call
    again = await generation.quote(request, Places(allowed=(tmp_path,)))
    assert again.earlier is not None
    assert (await generation.start(again)).job_id == first.job_id
    assert len(fake.submits) == 1


async def test_a_local_image_is_checked_at_the_quote_and_uploaded_only_at_the_start(
    rig: Rig, fake: FakeFal, tmp_path: Path
) -> None:
    picture = media_factory.image(tmp_path / "horse.png")
    generation = _generation(rig)
    quote = await generation.quote(_request(IMAGE_TO_VIDEO, image_url=str(picture)), Places(allowed=(tmp_path,)))
    assert fake.uploads == {}
    job = await generation.start(quote)
    assert fake.submits[0].arguments["image_url"].startswith("http://fal.test/files/")
    assert job.arguments["image_url"].startswith("http://fal.test/files/")
    assert picture.read_bytes() in fake.uploads.values()


async def test_a_local_file_outside_the_allowed_folders_is_refused_at_the_quote(rig: Rig, tmp_path: Path) -> None:
    picture = media_factory.image(tmp_path / "horse.png")
    with pytest.raises(InvalidMediaError, match="outside every allowed folder"):
        await _generation(rig).quote(
            _request(IMAGE_TO_VIDEO, image_url=str(picture)), Places(allowed=(tmp_path / "elsewhere",))
        )


async def test_over_http_a_local_path_without_allowed_folders_says_the_client_s_roots_do_not_count(
    rig: Rig, tmp_path: Path
) -> None:
    with pytest.raises(InvalidMediaError, match="reached over HTTP"):
        await _generation(rig).quote(_request(save_to=str(tmp_path / "clip.mp4")), Places(remote=True))


async def test_an_edit_of_a_url_without_its_length_is_priced_at_the_longest_source_and_says_so(rig: Rig) -> None:
    request = GenerationRequest.of(
        VIDEO_EDIT, {"video_url": "https://example.com/v.mp4", "prompt": "night", "resolution": "1080p"}
    )
    with pytest.raises(BudgetExceededError, match="60 s was assumed"):
        await _generation(rig).quote(request, Places())


async def test_the_video_goes_to_the_output_folder_when_no_save_to_is_given(rig: Rig, tmp_path: Path) -> None:
    quote = await _generation(rig).quote(_request(), Places(output_dir=tmp_path / "videos"))
    assert quote.plan.save_to == tmp_path / "videos"
    with anyio.fail_after(5):
        job = await _generation(rig).start(quote)
    assert job.save_path == str(tmp_path / "videos" / f"{job.job_id}.mp4")
