"""Operations are found by their name or their tool's, and an aspect ratio a version lacks is refused saying which
version has it."""

from __future__ import annotations

import pytest

from happyhorse_mcp.domain.catalog import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, check_aspect_ratio, parse_operation
from happyhorse_mcp.domain.errors import InvalidArgumentError


def test_an_operation_is_found_by_its_name_or_by_its_tool_s() -> None:
    assert parse_operation("text-to-video") is TEXT_TO_VIDEO
    assert parse_operation(" generate_video ") is TEXT_TO_VIDEO
    assert parse_operation("image_to_video") is IMAGE_TO_VIDEO
    with pytest.raises(InvalidArgumentError, match="use one of: text-to-video"):
        parse_operation("make_movie")


def test_an_aspect_ratio_only_version_1_1_offers_is_refused_on_1_0_naming_the_version() -> None:
    check_aspect_ratio("1.1", "21:9")
    with pytest.raises(InvalidArgumentError, match=r"need version 1\.1"):
        check_aspect_ratio("1.0", "21:9")


def test_each_model_version_is_described_once_and_the_version_type_names_exactly_those() -> None:
    from typing import get_args

    from happyhorse_mcp.domain.catalog import DEFAULT_VERSION, MODEL_VERSIONS, SPECS, VERSIONS, Version

    assert get_args(Version) == VERSIONS == tuple(version.name for version in MODEL_VERSIONS)
    assert all(DEFAULT_VERSION in spec.versions for spec in SPECS.values()), "every operation has the default"
