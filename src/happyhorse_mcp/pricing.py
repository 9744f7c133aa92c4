"""Cost estimates from the price table: pure functions, no I/O."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, Field

from .catalog import (
    MAX_EDIT_OUTPUT_SECONDS,
    PRICE_PER_SECOND,
    PRICES_AS_OF,
    Operation,
    Resolution,
    endpoint_for,
)

CENT = Decimal("0.01")


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


class CostEstimate(CostBreakdown):
    """The price of one job, and how it was computed."""

    usd: float = Field(description="Price in US dollars, exact to the cent.")


def estimate(
    operation: Operation,
    *,
    duration: int,
    resolution: Resolution,
    version: str,
    source_duration: float | None = None,
) -> CostEstimate:
    """Price a job. Video edit bills input plus output seconds, so it needs `source_duration`.

    Raises ValueError when the version has no such endpoint or a video edit lacks its source duration.
    """
    endpoint = endpoint_for(operation, version)
    rate = PRICE_PER_SECOND[(operation, version, resolution)]  # type: ignore[index]
    input_seconds: int | None = None
    if operation is Operation.VIDEO_EDIT:
        if source_duration is None:
            raise ValueError(
                "video-edit is billed per second of the source video plus per second of the output, "
                "so source_duration (the source video's length in seconds) is needed"
            )
        if source_duration <= 0:
            raise ValueError(f"source_duration must be positive, got {source_duration}")
        # Billed per started second: an estimate should never come out below the bill.
        input_seconds = math.ceil(source_duration)
        output_seconds = min(input_seconds, MAX_EDIT_OUTPUT_SECONDS)
    else:
        output_seconds = duration
    seconds = output_seconds + (input_seconds or 0)
    usd = (rate * seconds).quantize(CENT, rounding=ROUND_HALF_UP)
    return CostEstimate(
        usd=float(usd),
        operation=operation,
        endpoint=endpoint,
        resolution=resolution,
        version=version,
        rate_usd_per_second=float(rate),
        seconds_billed=seconds,
        output_seconds=output_seconds,
        input_seconds=input_seconds,
    )
