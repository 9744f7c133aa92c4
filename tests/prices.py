"""Prices the tests expect, asked of the server's own price rules (domain/pricing.py), not written as dollar figures:
when fal's prices change, tests/unit/domain/test_pricing.py and tests/e2e/test_estimate_cost.py change (they check
the rules against fal's published table), nothing else."""

from __future__ import annotations

from happyhorse_mcp.domain.catalog import parse_operation
from happyhorse_mcp.domain.pricing import estimate


def usd(
    tool: str = "generate_video",
    *,
    duration: int = 5,
    resolution: str = "1080p",
    version: str | None = None,
    source_duration: float | None = None,
) -> float:
    """What the server charges for a job of `tool` with these arguments."""
    spec = parse_operation(tool)
    return estimate(
        spec,
        duration=duration,
        resolution=resolution,  # type: ignore[arg-type]  # checked by the estimate itself
        version=version or spec.default_version,
        source_duration=source_duration,
    ).usd


def dollars(amount: float) -> str:
    """An amount as the server writes it in messages: `USD 1.40`."""
    return f"USD {amount:.2f}"


CLIP_USD = usd(duration=5)  # text to video, 5 s at 1080p: the tests' usual job
