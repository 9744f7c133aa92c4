"""Cost estimates and billed costs from the operation specs: pure functions, no I/O."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, Field

from .catalog import (
    MAX_EDIT_OUTPUT_SECONDS,
    MAX_EDIT_SOURCE_SECONDS,
    PRICES_AS_OF,
    Operation,
    OperationSpec,
    Resolution,
)
from .errors import InvalidArgumentError, UnsupportedVersionError

CENT = Decimal("0.01")
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
