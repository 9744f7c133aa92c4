"""estimate_cost prices every operation from the dated price table, without a key or the network."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from happyhorse_mcp.domain.catalog import SPECS, Operation
from happyhorse_mcp.domain.pricing import estimate

from ..fakefal import FakeFal

pytestmark = pytest.mark.anyio

PRICES: list[tuple[dict[str, Any], float, int, float]] = [
    ({"operation": "text-to-video"}, 1.40, 5, 0.28),
    ({"operation": "text-to-video", "duration": 15}, 4.20, 15, 0.28),
    ({"operation": "generate_video", "duration": 3, "resolution": "720p"}, 0.42, 3, 0.14),
    ({"operation": "image-to-video", "version": "1.1"}, 0.90, 5, 0.18),
    ({"operation": "image_to_video", "version": "1.1", "resolution": "720p", "duration": 7}, 0.98, 7, 0.14),
    ({"operation": "reference-to-video", "duration": 10}, 2.80, 10, 0.28),
    ({"operation": "reference_to_video", "version": "1.1", "duration": 15}, 2.70, 15, 0.18),
    ({"operation": "video-edit", "source_duration": 10}, 5.60, 20, 0.28),
    ({"operation": "edit_video", "source_duration": 60, "resolution": "720p"}, 10.50, 75, 0.14),
    ({"operation": "video-edit", "source_duration": 4.2}, 2.80, 10, 0.28),
]


@pytest.mark.parametrize(("arguments", "usd", "seconds", "rate"), PRICES)
async def test_estimate_cost_gives_the_price_to_the_cent_with_its_breakdown(
    client: Client, fake: FakeFal, arguments: dict[str, Any], usd: float, seconds: int, rate: float
) -> None:
    result = await client.call_tool("estimate_cost", arguments)

    assert not result.is_error, result.content
    out = result.structured_content
    assert out is not None
    assert out["usd"] == usd
    assert out["breakdown"]["seconds_billed"] == seconds
    assert out["breakdown"]["rate_usd_per_second"] == rate
    assert out["breakdown"]["endpoint"].startswith("alibaba/happy-horse/")
    assert f"USD {usd:.2f}" in out["summary"]
    assert fake.requests == []


async def test_video_edit_without_source_duration_says_it_is_needed(client: Client) -> None:
    result = await client.call_tool("estimate_cost", {"operation": "video-edit"})
    assert result.is_error
    assert "source_duration" in result.content[0].text  # type: ignore[union-attr]


async def test_video_edit_on_version_1_1_is_refused_naming_where_it_exists(client: Client) -> None:
    result = await client.call_tool(
        "estimate_cost", {"operation": "video-edit", "version": "1.1", "source_duration": 5}
    )
    assert result.is_error
    assert "offered on: 1.0" in result.content[0].text  # type: ignore[union-attr]


async def test_an_unknown_operation_lists_the_known_ones(client: Client) -> None:
    result = await client.call_tool("estimate_cost", {"operation": "image-to-image"})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "image-to-image" in text
    assert "reference-to-video" in text


def test_every_priced_operation_has_an_endpoint_and_every_endpoint_a_price() -> None:
    from happyhorse_mcp.domain.catalog import RESOLUTIONS

    for spec in SPECS.values():
        for version in spec.versions:
            for resolution in RESOLUTIONS:
                assert (version, resolution) in spec.rates


def test_edit_output_is_capped_at_fifteen_seconds_in_the_bill() -> None:
    cost = estimate(SPECS[Operation.VIDEO_EDIT], duration=5, resolution="1080p", version="1.0", source_duration=30)
    assert (cost.input_seconds, cost.output_seconds, cost.usd) == (30, 15, 12.60)


async def test_estimate_cost_takes_only_the_source_lengths_edit_video_takes(client: Client) -> None:
    for seconds in (2, 61):
        result = await client.call_tool("estimate_cost", {"operation": "video-edit", "source_duration": seconds})
        assert result.is_error
        assert "source_duration" in result.content[0].text  # type: ignore[union-attr]


async def test_the_estimate_s_text_is_a_sentence_and_its_figures_are_structured(client: Client) -> None:
    result = await client.call_tool("estimate_cost", {"operation": "text-to-video"})
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith("USD 1.40 for text-to-video")
    assert "\n" not in text
    assert result.structured_content is not None
    assert result.structured_content["usd"] == 1.40
