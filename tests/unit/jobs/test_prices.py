"""fal's live prices: where fal charges more than the dated table, estimates and budgets use fal's price and say so;
where it charges the same or less, or cannot be asked, the table stands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from happyhorse_mcp.domain.budget import SpendLimits
from happyhorse_mcp.domain.catalog import PRICES_AS_OF, TEXT_TO_VIDEO
from happyhorse_mcp.domain.errors import BudgetExceededError
from happyhorse_mcp.domain.pricing import LIVE_PRICE, TABLE, estimate
from happyhorse_mcp.jobs.generation import Generation, GenerationRequest, Places
from happyhorse_mcp.jobs.prices import LivePriceWatcher, raised_prices
from happyhorse_mcp.jobs.store.memory import MemoryJobStore

from ...fakefal import FakeFal
from ...support import Rig, runner_rig

pytestmark = pytest.mark.anyio

V10 = TEXT_TO_VIDEO.endpoints["1.0"]
V11 = TEXT_TO_VIDEO.endpoints["1.1"]


@pytest.fixture
async def rig(fake: FakeFal) -> AsyncIterator[Rig]:
    async with runner_rig(fake, MemoryJobStore(), SpendLimits(daily_budget_usd=30.0)) as made:
        yield made


def clip(version: str = "1.0", resolution: str = "1080p") -> tuple[float, str, str]:
    priced = estimate(TEXT_TO_VIDEO, duration=5, resolution=resolution, version=version)  # type: ignore[arg-type]
    return priced.usd, priced.price_source, priced.prices_as_of


async def test_where_fal_charges_more_the_estimate_uses_fal_s_price_and_says_so(rig: Rig, fake: FakeFal) -> None:
    table_usd = clip()[0]
    fake.unit_prices[V10] = 0.21  # the table's lowest 1.0 rate is USD 0.14/s: fal charges 1.5x

    assert await LivePriceWatcher(rig.fal, rig.tg).read_once()

    usd, source, as_of = clip()
    assert usd == pytest.approx(table_usd * 1.5)
    assert source == LIVE_PRICE
    assert as_of != PRICES_AS_OF, "dated by the day fal's prices were read"
    assert clip("1.1")[1] == TABLE, "another endpoint fal did not raise keeps the table"


async def test_where_fal_charges_less_or_the_same_the_table_stands(rig: Rig, fake: FakeFal) -> None:
    fake.unit_prices[V10] = 0.10
    table_usd = clip()[0]

    assert await LivePriceWatcher(rig.fal, rig.tg).read_once()

    assert clip() == (table_usd, TABLE, PRICES_AS_OF)


async def test_a_budget_refuses_by_fal_s_higher_price_what_the_table_would_have_let_through(
    fake: FakeFal,
) -> None:
    async with runner_rig(fake, MemoryJobStore(), SpendLimits(daily_budget_usd=1.00)) as rig:
        generation = Generation(runner=rig.runner, guard=rig.guard, storage=rig.storage)
        request = GenerationRequest.of(
            TEXT_TO_VIDEO, {"prompt": "a foal", "duration": 5, "resolution": "720p", "aspect_ratio": "16:9"}
        )
        assert (await generation.quote(request, Places())).cost.usd <= 1.00, "within the budget at the table's price"

        fake.unit_prices[V10] = 0.28  # twice the table
        await LivePriceWatcher(rig.fal, rig.tg).read_once()

        with pytest.raises(BudgetExceededError):
            await generation.quote(request, Places())
    assert fake.submits == []


async def test_prices_fal_cannot_give_leave_the_table(rig: Rig, fake: FakeFal) -> None:
    fake.keys.clear()  # every request refused
    table = clip()

    assert not await LivePriceWatcher(rig.fal, rig.tg).read_once()

    assert clip() == table


def test_only_usd_per_second_prices_are_compared() -> None:
    table = {V10: Decimal("0.14")}
    listed = [
        {"endpoint_id": V10, "unit_price": 9.0, "unit": "video", "currency": "USD"},
        {"endpoint_id": V10, "unit_price": 9.0, "unit": "second", "currency": "EUR"},
        {"endpoint_id": "someone/else", "unit_price": 9.0, "unit": "second", "currency": "USD"},
    ]
    assert raised_prices(listed, table) == {}
