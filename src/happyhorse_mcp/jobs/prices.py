"""fal's live prices, read at start and daily (`GET /v1/models/pricing`, the deployment's own key) and compared with
the dated table: where fal charges more per second than the table says, every estimate and budget from then on uses
fal's price and says so ("fal's live price"); where it charges the same or less, the table stands. Unread (offline,
fal down), the table stands too: the server never waits on this."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ..domain.errors import HappyHorseError
from ..domain.models import utcnow
from ..domain.pricing import LIVE, table_unit_prices
from ..fal.queue import FalQueue

logger = logging.getLogger(__name__)

PER_SECOND = frozenset({"second", "seconds", "s", "sec", "video second", "video seconds"})


def raised_prices(listed: list[dict[str, Any]], table: dict[str, Decimal]) -> dict[str, Decimal]:
    """By how much fal's listed per-second price is above the table's, for each endpoint where it is (USD only;
    other units and currencies are not compared)."""
    raised: dict[str, Decimal] = {}
    for price in listed:
        endpoint = price.get("endpoint_id")
        unit = str(price.get("unit", "")).strip().lower()
        if endpoint not in table or unit not in PER_SECOND or str(price.get("currency", "USD")).upper() != "USD":
            continue
        try:
            live = Decimal(str(price["unit_price"]))
        except (KeyError, InvalidOperation):
            continue
        if live > table[endpoint]:
            raised[endpoint] = live / table[endpoint]
    return raised


class LivePriceWatcher:
    def __init__(self, fal: FalQueue, task_group: TaskGroup, *, every_seconds: float = 24 * 3600) -> None:
        self._fal = fal
        self._tg = task_group
        self._every = every_seconds
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._tg.start_soon(self._keep_reading)

    async def _keep_reading(self) -> None:
        while True:
            await self.read_once()
            await anyio.sleep(self._every)

    async def read_once(self) -> bool:
        """Read fal's prices and apply those above the table; whether they could be read."""
        table = table_unit_prices()
        try:
            listed = await self._fal.unit_prices(sorted(table))
        except HappyHorseError as exc:
            logger.warning(
                "fal's live prices could not be read (%s); the price table (as of its date) stands", exc.message
            )
            return False
        raised = raised_prices(listed, table)
        LIVE.apply(raised, utcnow().date().isoformat())
        for endpoint, factor in sorted(raised.items()):
            logger.warning(
                "fal's live price for %s is %.4f USD/s, above the table's %.4f: estimates and budgets use fal's",
                endpoint,
                table[endpoint] * factor,
                table[endpoint],
            )
        return True
