"""Prices come from the operation specs: estimates to the cent, billed costs, and the sentences tools show."""

from __future__ import annotations

import pytest

from happyhorse_mcp.domain.catalog import (
    IMAGE_TO_VIDEO,
    RESOLUTIONS,
    SPECS,
    TEXT_TO_VIDEO,
    VIDEO_EDIT,
    media_sentence,
    price_sentence,
)
from happyhorse_mcp.domain.errors import InvalidArgumentError
from happyhorse_mcp.domain.pricing import billed_cost, edit_estimate, estimate


@pytest.mark.parametrize(
    ("version", "resolution", "duration", "usd"),
    [("1.0", "1080p", 5, 1.40), ("1.0", "720p", 15, 2.10), ("1.1", "1080p", 5, 0.90), ("1.1", "720p", 3, 0.42)],
)
def test_generation_is_billed_per_output_second(version: str, resolution: str, duration: int, usd: float) -> None:
    for spec in SPECS.values():
        if spec.billing == "output":
            cost = estimate(spec, duration=duration, resolution=resolution, version=version)  # type: ignore[arg-type]
            assert (cost.usd, cost.seconds_billed, cost.input_seconds) == (usd, duration, None)
            assert cost.endpoint == spec.endpoints[version]  # type: ignore[index]


def test_an_edit_bills_source_and_output_seconds_rounding_the_source_up() -> None:
    cost = estimate(VIDEO_EDIT, duration=0, resolution="1080p", version="1.0", source_duration=9.2)
    assert (cost.input_seconds, cost.output_seconds, cost.usd) == (10, 10, 5.60)
    assert cost.how == "10 s source + 10 s output"


def test_an_edit_of_unknown_length_is_priced_as_the_longest_source() -> None:
    assert edit_estimate(VIDEO_EDIT, "1080p", None).usd == pytest.approx((60 + 15) * 0.28)


def test_an_edit_without_a_source_length_or_on_a_version_without_edit_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="source_duration"):
        estimate(VIDEO_EDIT, duration=5, resolution="1080p", version="1.0")
    with pytest.raises(InvalidArgumentError, match=r"offered on: 1\.0"):
        estimate(VIDEO_EDIT, duration=5, resolution="1080p", version="1.1", source_duration=10)


def test_every_version_of_every_operation_has_a_price_at_every_resolution() -> None:
    for spec in SPECS.values():
        for version in spec.versions:
            for resolution in RESOLUTIONS:
                assert spec.rate(version, resolution) > 0


def test_a_finished_edit_is_billed_on_the_output_length_below_the_cap() -> None:
    output = {"video": {"url": "https://v3.fal.media/x.mp4", "duration": 8.0}}
    assert billed_cost(VIDEO_EDIT, 21.0, {"resolution": "1080p"}, output) == 4.48
    capped = {"video": {"url": "https://v3.fal.media/x.mp4", "duration": 15.0}}
    assert billed_cost(VIDEO_EDIT, 21.0, {"resolution": "1080p"}, capped) == 21.0
    assert billed_cost(TEXT_TO_VIDEO, 1.4, {}, output) == 1.4


def test_the_price_sentence_is_made_from_the_rates() -> None:
    assert price_sentence(TEXT_TO_VIDEO) == (
        "Price: USD 0.14/s at 720p; 1080p USD 0.28/s on 1.0, USD 0.18/s on 1.1 (5 s at 1080p on 1.0 = USD 1.40)."
    )
    assert "a 10 s source at 1080p costs USD 5.60" in price_sentence(VIDEO_EDIT)


def test_the_media_sentence_is_made_from_fal_s_rules() -> None:
    assert media_sentence(TEXT_TO_VIDEO) == ""
    assert "<= 10 MB (20 MB on 1.1)" in media_sentence(IMAGE_TO_VIDEO)
    assert "3-60 s" in media_sentence(VIDEO_EDIT)
