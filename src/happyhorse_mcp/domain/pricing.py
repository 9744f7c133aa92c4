"""Cost estimates and billed costs from the operation specs: pure functions, no I/O, on the dated price table,
raised where fal's live prices (jobs/prices.py reads them) are higher."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, Field

from .catalog import (
    MAX_EDIT_OUTPUT_SECONDS,
    MAX_EDIT_SOURCE_SECONDS,
    PRICES_AS_OF,
    RESOLUTIONS,
    SPECS,
    Operation,
    OperationSpec,
    Resolution,
)
from .errors import InvalidArgumentError, UnsupportedVersionError

CENT = Decimal("0.01")
TABLE = "table"
LIVE_PRICE = "fal's live price"


def table_unit_prices() -> dict[str, Decimal]:
    """Each endpoint's lowest rate in the table (USD per second): what fal's pricing API's per-second unit price is
    compared with (fal lists one price an endpoint; its lowest resolution's, as its model pages do)."""
    return {
        spec.endpoints[version]: min(spec.rates[(version, resolution)] for resolution in RESOLUTIONS)
        for spec in SPECS.values()
        for version in spec.versions
    }


class LivePrices:
    """Where fal's live prices are higher than the table: by how much, per endpoint, and when that was read. One
    fal price list a process; lower live prices change nothing (budgets keep the table's margin)."""

    def __init__(self) -> None:
        self._raised: dict[str, Decimal] = {}
        self.read_on: str | None = None

    def factor(self, endpoint: str) -> Decimal | None:
        return self._raised.get(endpoint)

    def apply(self, raised: dict[str, Decimal], read_on: str) -> None:
        self._raised = dict(raised)
        self.read_on = read_on

    def clear(self) -> None:
        self._raised, self.read_on = {}, None


LIVE = LivePrices()
# A bill further than this from its estimate is logged and shown beside it (jobs/billing.py).
BILLED_DIFFERENCE_SHOWN_USD = 0.01


class CostBreakdown(BaseModel):
    """How a price was computed."""

    operation: Operation
    endpoint: str = Field(description="The fal endpoint id that would run the job.")
    resolution: Resolution
    version: str
    rate_usd_per_second: float
    seconds_billed: int = Field(description="Output seconds, plus input seconds for video edit.")
    output_seconds: int
    input_seconds: int | None = Field(default=None, description="Source video seconds billed (video edit only).")
    prices_as_of: str = PRICES_AS_OF
    price_source: str = Field(default=TABLE, description=f'"{TABLE}", or "{LIVE_PRICE}" where fal charges more.')


class CostEstimate(CostBreakdown):
    """The price of one job, and how it was computed."""

    usd: float = Field(description="Price in US dollars, exact to the cent.")

    @property
    def breakdown(self) -> CostBreakdown:
        return CostBreakdown(**self.model_dump(exclude={"usd"}))

    @property
    def how(self) -> str:
        if self.input_seconds is not None:
            return f"{self.input_seconds} s source + {self.output_seconds} s output"
        return f"{self.output_seconds} s"


def estimate(
    spec: OperationSpec,
    *,
    duration: int,
    resolution: Resolution,
    version: str,
    source_duration: float | None = None,
) -> CostEstimate:
    """Price a job. Video edit bills input plus output seconds, so it needs `source_duration`.

    Raises InvalidArgumentError when the version has no such endpoint or a video edit lacks its source duration.
    """
    try:
        endpoint = spec.endpoint(version)
    except UnsupportedVersionError as exc:
        raise InvalidArgumentError(f"Cannot estimate the cost: {exc.message}.") from None
    rate = spec.rate(version, resolution)
    source, as_of = TABLE, PRICES_AS_OF
    if (raised := LIVE.factor(endpoint)) is not None:
        rate, source, as_of = (rate * raised).quantize(Decimal("0.0001")), LIVE_PRICE, LIVE.read_on or PRICES_AS_OF
    input_seconds: int | None = None
    if spec.billing == "source_plus_output":
        if source_duration is None:
            raise InvalidArgumentError(
                "Cannot estimate the cost: video-edit is billed per second of the source video plus per second of "
                "the output, so source_duration (the source video's length in seconds) is needed."
            )
        if source_duration <= 0:
            raise InvalidArgumentError(
                f"Cannot estimate the cost: source_duration must be positive, got {source_duration}."
            )
        # Billed per started second: an estimate should never come out below the bill.
        input_seconds = math.ceil(source_duration)
        output_seconds = min(input_seconds, MAX_EDIT_OUTPUT_SECONDS)
    else:
        output_seconds = duration
    seconds = output_seconds + (input_seconds or 0)
    usd = (rate * seconds).quantize(CENT, rounding=ROUND_HALF_UP)
    return CostEstimate(
        usd=float(usd),
        operation=spec.operation,
        endpoint=endpoint,
        resolution=resolution,
        version=version,
        rate_usd_per_second=float(rate),
        seconds_billed=seconds,
        output_seconds=output_seconds,
        input_seconds=input_seconds,
        prices_as_of=as_of,
        price_source=source,
    )


def edit_estimate(spec: OperationSpec, resolution: Resolution, source_seconds: float | None) -> CostEstimate:
    """An edit priced on its source's length, or on the longest source fal takes when the length is unknown."""
    return estimate(
        spec,
        duration=0,
        resolution=resolution,
        version=spec.default_version,
        source_duration=source_seconds or MAX_EDIT_SOURCE_SECONDS,
    )


def billed_cost(
    spec: OperationSpec, estimated_usd: float | None, arguments: dict[str, Any], output: dict[str, Any]
) -> float | None:
    """The price of a finished job. Video edit bills source plus output seconds, known only from the output."""
    if spec.billing != "source_plus_output":
        return estimated_usd
    video = output.get("video") or {}
    seconds = video.get("duration") if isinstance(video, dict) else None
    if not isinstance(seconds, int | float) or seconds <= 0 or seconds >= MAX_EDIT_OUTPUT_SECONDS:
        return estimated_usd  # a capped output hides the source's length: keep the estimate
    return edit_estimate(spec, arguments.get("resolution", "1080p"), float(seconds)).usd
