"""The film flow without MCP: a storyboard quoted whole (one price shot by shot, one question, the limits on the
whole film and the per-job limit on each shot), started (admitted once, bound to a task), retried by its key, and
resumed after a crash that came between a shot's admission and the film's record of it; on the memory store against
the fake fal in-process, with its real clips."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from happyhorse_mcp.domain.budget import SpendLimits
from happyhorse_mcp.domain.errors import BudgetExceededError, IdempotencyConflictError, NotConfirmedError
from happyhorse_mcp.domain.film import FilmKind, Storyboard, price_film
from happyhorse_mcp.domain.models import TaskHandle
from happyhorse_mcp.jobs.films import FilmRequest, Films
from happyhorse_mcp.jobs.generation import Places
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

from ... import media_factory
from ...fakefal import FakeFal
from ...support import Rig, runner_rig

pytestmark = pytest.mark.anyio

SHOTS = [
    {"prompt": "a mare at the water", "duration": 3},
    {"prompt": "she gallops", "duration": 3, "continue_from_previous": True},
    {"prompt": "gulls over the waves", "duration": 4},
]
BOARD: dict[str, Any] = {"shots": SHOTS, "resolution": "720p", "transition": "cut"}
PRICE = price_film(Storyboard.model_validate(BOARD))
LIMITS = SpendLimits(max_usd_per_job=10.0, daily_budget_usd=PRICE.usd * 2, confirm_above_usd=1.0)


@pytest.fixture
async def rig(fake: FakeFal, tmp_path: Path) -> AsyncIterator[Rig]:
    fake.real_clips = True
    async with runner_rig(fake, MemoryJobStore(), LIMITS, data_dir=tmp_path) as made:
        yield made


def _films(rig: Rig) -> Films:
    """The films of the rig's machinery (their work folder is under the rig's data folder)."""
    assert rig.films is not None
    return rig.films


def _request(**arguments: Any) -> FilmRequest:
    return FilmRequest.of(FilmKind.FILM, {**BOARD, "wait_seconds": 0, **arguments})


async def test_a_storyboard_is_quoted_whole_shot_by_shot_with_nothing_sent(
    rig: Rig, fake: FakeFal, tmp_path: Path
) -> None:
    quote = await _films(rig).quote(_request(), Places())
    assert quote.price.usd == PRICE.usd
    assert [cost.usd for cost in quote.price.shots] == [cost.usd for cost in PRICE.shots]
    assert quote.needs_consent(client_can_ask=True, why_not="")
    assert f"USD {PRICE.usd:.2f}" in quote.question
    assert "shot 3: 4 s" in quote.question
    assert "(3 new shots," in quote.question
    assert fake.requests == []


async def test_a_client_that_cannot_ask_makes_the_film_only_when_max_cost_usd_covers_all_of_it(
    rig: Rig, tmp_path: Path
) -> None:
    films = _films(rig)
    with pytest.raises(NotConfirmedError, match=f"max_cost_usd={PRICE.usd:.2f}"):
        (await films.quote(_request(), Places())).needs_consent(client_can_ask=False, why_not="it cannot ask")
    covered = await films.quote(_request(max_cost_usd=PRICE.usd), Places())
    assert not covered.needs_consent(client_can_ask=False, why_not="it cannot ask")
    with pytest.raises(BudgetExceededError, match="max_cost_usd"):
        await films.quote(_request(max_cost_usd=PRICE.usd - 0.01), Places())


async def test_the_per_job_limit_is_on_each_shot_and_the_daily_budget_on_the_whole_film(
    fake: FakeFal, tmp_path: Path
) -> None:
    dearest = max(cost.usd for cost in PRICE.shots)
    per_shot = SpendLimits(max_usd_per_job=dearest, daily_budget_usd=PRICE.usd)
    async with runner_rig(fake, MemoryJobStore(), per_shot) as rig:
        await _films(rig).quote(_request(), Places())  # each shot fits, and the whole fits the day
    over = SpendLimits(max_usd_per_job=dearest - 0.01, daily_budget_usd=100)
    async with runner_rig(fake, MemoryJobStore(), over) as rig:
        with pytest.raises(BudgetExceededError, match="dearest shot"):
            await _films(rig).quote(_request(), Places())
    short = SpendLimits(max_usd_per_job=10, daily_budget_usd=PRICE.usd - 0.01)
    async with runner_rig(fake, MemoryJobStore(), short) as rig:
        with pytest.raises(BudgetExceededError, match="today's budget"):
            await _films(rig).quote(_request(), Places())
    assert fake.submits == []


async def test_a_film_started_as_a_task_and_retried_by_its_key_is_one_film(
    rig: Rig, fake: FakeFal, tmp_path: Path
) -> None:
    films = _films(rig)
    request = _request(idempotency_key="ad-1")
    film = await films.start(await films.quote(request, Places()), task=TaskHandle(ttl_ms=60_000))
    assert film.task == TaskHandle(ttl_ms=60_000)
    made = await rig.runner.wait(film.job_id, 60)
    assert made.status == "completed", made.error
    again = await films.start(await films.quote(_request(idempotency_key="ad-1", wait_seconds=30), Places()))
    assert again.job_id == film.job_id
    assert len(fake.submits) == 3
    with pytest.raises(IdempotencyConflictError):
        await films.start(await films.quote(_request(idempotency_key="ad-1", style="other"), Places()))


async def test_a_retry_by_its_key_returns_the_first_film_even_once_a_shot_s_local_image_is_gone(
    rig: Rig, fake: FakeFal, tmp_path: Path
) -> None:
    mare = media_factory.image(tmp_path / "mare.png")
    shots = [{"prompt": "character1 at the water", "duration": 3, "reference_image_urls": [str(mare)]}, SHOTS[2]]
    request = _request(shots=shots, idempotency_key="ad-2")
    films = _films(rig)
    film = await films.start(await films.quote(request, Places(allowed=(tmp_path,))))
    mare.unlink()  # moved or cleaned up after the first call
    again = await films.quote(request, Places(allowed=(tmp_path,)))
    assert again.earlier is not None
    assert (await films.start(again)).job_id == film.job_id
    assert (await rig.runner.wait(film.job_id, 60)).status == "completed"
    assert len(fake.submits) == 2
